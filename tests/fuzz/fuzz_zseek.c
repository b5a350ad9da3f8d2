/* SPDX-License-Identifier: MIT */
/*
 * fuzz_zseek.c - the blob's seek table (store_zseek_size and
 * store_zseek_parse in store/zcomp.c) and, through it, the frames it
 * describes (store_zdec_frame).
 *
 * The input is a whole blob, as a connector would hand it over.  What a
 * parse accepts must be self-consistent (entries tile the blob up to the
 * table, offsets are the running sum), and when every frame it names
 * decodes to the size the table gives, plain zstd decoding of the whole
 * blob must give the same bytes: the table may not make pxfs read a
 * blob differently from `zstd -d`.
 *
 * The same input is also read as the *tail* of a larger blob (the
 * store reads only the footer and the table first): its first 8 bytes
 * are then how many bytes come before the rest.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "store_int.h"
#include "zcomp.h"

#include "fuzzlib.h"

#define DECODE_MAX	(4u << 20)	/* content decoded per input */

static struct store_zdec *dec;

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* What a successful parse promises about @fr. */
static void check_frames(const struct store_zframe *fr, uint32_t n,
			 size_t tsize, uint64_t blob_size)
{
	uint64_t off = 0;

	if (n > STORE_ZCOMP_MAX_FRAMES)
		fz_die("%" PRIu32 " frames accepted", n);
	if ((n == 0) != (fr == NULL))
		fz_die("%" PRIu32 " frames but frames %s", n,
		       fr ? "set" : "NULL");
	if (tsize < 17 || tsize > blob_size)
		fz_die("table of %zu bytes in a blob of %" PRIu64, tsize,
		       blob_size);
	if (tsize != 17 + (uint64_t)n * 12 && tsize != 17 + (uint64_t)n * 8)
		fz_die("table of %zu bytes holds %" PRIu32 " entries", tsize,
		       n);
	for (uint32_t i = 0; i < n; i++) {
		if (fr[i].coff != off)
			fz_die("frame %" PRIu32 " at %" PRIu64 ", not %" PRIu64,
			       i, fr[i].coff, off);
		off += fr[i].csize;
	}
	if (off != blob_size - tsize)
		fz_die("frames cover %" PRIu64 " of %" PRIu64 " bytes", off,
		       blob_size - tsize);
}

/* Decode every frame of blob @b (@len bytes) as the store would; if all
 * decode, plain zstd must agree byte for byte. */
static void decode(const uint8_t *b, size_t len,
		   const struct store_zframe *fr, uint32_t n)
{
	uint8_t *all = NULL, *ref = NULL;
	uint64_t total = 0;
	size_t got;

	for (uint32_t i = 0; i < n; i++)
		total += fr[i].dsize;
	if (total > DECODE_MAX)
		return;
	all = malloc(total + 1);
	if (!all)
		fz_die("out of memory");
	total = 0;
	for (uint32_t i = 0; i < n; i++) {
		/* exactly dsize bytes: ASan sees a write past them */
		uint8_t *dst = malloc(fr[i].dsize ? fr[i].dsize : 1);

		if (!dst)
			fz_die("out of memory");
		if (store_zdec_frame(dec, b + fr[i].coff, fr[i].csize, dst,
				     fr[i].dsize) != STORE_OK) {
			free(dst);
			goto out;
		}
		memcpy(all + total, dst, fr[i].dsize);
		total += fr[i].dsize;
		free(dst);
	}
	ref = malloc(total + 1);
	if (!ref)
		fz_die("out of memory");
	got = ZSTD_decompress(ref, total + 1, b, len);
	if (ZSTD_isError(got))
		fz_die("frames decode but zstd refuses the blob: %s",
		       ZSTD_getErrorName(got));
	if (got != total || memcmp(ref, all, total))
		fz_die("zstd reads %zu bytes where the seek table gives %"
		       PRIu64, got, total);
out:
	free(ref);
	free(all);
}

/* Parse the table at the end of @tail (@len bytes) of a blob of
 * @blob_size bytes; decode the frames when @tail is the whole blob. */
static void parse(const uint8_t *tail, size_t len, uint64_t blob_size)
{
	struct store_zframe *fr;
	uint32_t n;
	size_t tsize;

	if (len < STORE_ZCOMP_FOOTER_SIZE)
		return;
	if (store_zseek_size(tail + len - STORE_ZCOMP_FOOTER_SIZE, blob_size,
			     &tsize) != STORE_OK)
		return;
	if (tsize > blob_size)
		fz_die("table of %zu bytes in a blob of %" PRIu64, tsize,
		       blob_size);
	if (tsize > len)
		return;	/* the store would fetch more than the input */
	if (store_zseek_parse(tail + len - tsize, tsize, blob_size, &fr,
			      &n) != STORE_OK) {
		if (fr || n)
			fz_die("a failed parse left %" PRIu32 " frames", n);
		return;
	}
	check_frames(fr, n, tsize, blob_size);
	if (blob_size == len)
		decode(tail, len, fr, n);
	free(fr);
}

static void make_seeds(void)
{
	static const size_t sizes[] = { 0, 1, 4096, 4097, 12288, 70000 };
	char name[64];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int noise = 0; noise < (sizes[i] ? 2 : 1); noise++) {
			void *c = fz_make_content(sizes[i], noise, i + 1);
			size_t blen;
			void *b = fz_make_blob(c, sizes[i], 4096, 3, &blen);

			snprintf(name, sizeof(name), "blob-%zu-%s", sizes[i],
				 noise ? "noise" : "text");
			fz_seed(name, b, blen);
			free(b);
			free(c);
		}
	}
	/* a table without checksums (descriptor 0), one 1-byte frame */
	{
		void *c = fz_make_content(1, false, 9);
		size_t blen;
		uint8_t *b = fz_make_blob(c, 1, 4096, 1, &blen);
		uint8_t t[8 + 8 + 9];
		size_t flen = blen - (8 + 12 + 9);

		memcpy(t, "\x5e\x2a\x4d\x18\x11\x00\x00\x00", 8);
		memcpy(t + 8, b + flen + 8, 8);
		memcpy(t + 16, "\x01\x00\x00\x00\x00\xb1\xea\x92\x8f", 9);
		memcpy(b + flen, t, sizeof(t));
		fz_seed("blob-nocheck", b, flen + sizeof(t));
		free(b);
		free(c);
	}
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
	parse(data, size, size);
	if (size >= 8 + STORE_ZCOMP_FOOTER_SIZE) {
		uint64_t before = get_le64(data);

		if (before <= UINT64_MAX - (size - 8))
			parse(data + 8, size - 8, before + (size - 8));
	}
	return 0;
}
