/* SPDX-License-Identifier: MIT */
/*
 * fuzz_zframe.c - one frame of a blob through store_zdec_frame (store/
 * zcomp.c), the only place a chunk's compressed bytes from a connector
 * are decoded.
 *
 * The input is the frame.  It is decoded into a buffer of exactly the
 * size the index would give (the frame's own content size when it has a
 * small one, else a size taken from the input), so ASan sees any write
 * past it, and also with one byte less and one byte more, which must both
 * fail.  What decodes must be what plain zstd decodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "store_int.h"
#include "zcomp.h"

#include "fuzzlib.h"

#define DSIZE_MAX	(1u << 20)

static struct store_zdec *dec;

/* Decode @src into exactly @dsize fresh bytes; the result code. */
static store_rc decode(const uint8_t *src, size_t slen, size_t dsize,
		       uint8_t **out)
{
	uint8_t *dst = malloc(dsize ? dsize : 1);
	store_rc rc;

	if (!dst)
		fz_die("out of memory");
	rc = store_zdec_frame(dec, src, slen, dst, dsize);
	if (rc != STORE_OK && rc != STORE_CORRUPT)
		fz_die("store_zdec_frame gave %s", store_rc_str(rc));
	*out = dst;
	return rc;
}

static void make_seeds(void)
{
	static const struct {
		const char *name;
		size_t len;
		bool noise;
		int level;
	} s[] = {
		{ "one-byte", 1, false, 3 },
		{ "text-5000", 5000, false, 3 },
		{ "text-5000-l19", 5000, false, 19 },
		{ "noise-5000", 5000, true, 1 },
		{ "text-65536", 65536, false, 3 },
	};
	uint8_t zeros[4096] = { 0 };
	size_t blen;
	uint8_t *b;

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		void *c = fz_make_content(s[i].len, s[i].noise, i + 1);

		b = fz_make_blob(c, s[i].len, s[i].len, s[i].level, &blen);
		/* one frame: the blob less its table (8 + 12 + 9 bytes) */
		fz_seed(s[i].name, b, blen - 29);
		free(b);
		free(c);
	}
	b = fz_make_blob(zeros, sizeof(zeros), sizeof(zeros), 3, &blen);
	fz_seed("zeros-4096", b, blen - 29);
	free(b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	dec = store_zdec_new();
	if (!dec)
		fz_die("out of memory");
	if (fz_seeding()) {
		make_seeds();
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long long fcs = ZSTD_getFrameContentSize(data, size);
	uint8_t *dst, *ref, *other = NULL;
	size_t dsize, got;

	if (fcs <= DSIZE_MAX)
		dsize = (size_t)fcs;
	else if (size >= 3)
		dsize = ((size_t)data[size - 1] << 8 | data[size - 2]) * 16;
	else
		dsize = size;

	if (decode(data, size, dsize, &dst) == STORE_OK) {
		ref = malloc(dsize + 1);
		if (!ref)
			fz_die("out of memory");
		got = ZSTD_decompress(ref, dsize + 1, data, size);
		if (ZSTD_isError(got) || got != dsize ||
		    memcmp(ref, dst, dsize))
			fz_die("store_zdec_frame and zstd disagree on a frame"
			       " of %zu bytes", dsize);
		free(ref);
		/* a frame holds exactly one size */
		if (dsize > 0 && decode(data, size, dsize - 1, &other) ==
				 STORE_OK)
			fz_die("a frame of %zu bytes decodes into %zu", dsize,
			       dsize - 1);
		free(other);
		other = NULL;
		if (decode(data, size, dsize + 1, &other) == STORE_OK)
			fz_die("a frame of %zu bytes decodes into %zu", dsize,
			       dsize + 1);
		free(other);
	}
	free(dst);
	return 0;
}
