/* SPDX-License-Identifier: MIT */
/*
 * fuzz_adopt.c - a hostile blob read with no index row to trust:
 * store_adopt() (`pxfs link`), which walks the blob through its own seek
 * table (store_blob_walk in store/store.c, also what opening a published
 * snapshot does), decodes every frame and checks the content against the
 * key.
 *
 * The input is the blob, put where the file connector of the process's
 * store keeps blob KEY.  KEY is the SHA-256 of what plain zstd decodes
 * from the input when it can (so that a well-formed blob is adopted for
 * real and its chunk table recorded), else a fixed key that nothing
 * hashes to.  An adopted blob must describe the content zstd gave; the
 * row is then collected again so that every input starts from the same
 * index.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "hash.h"
#include "store_int.h"

#include "fuzzlib.h"

#define CONTENT_MAX	(4u << 20)	/* content zstd may decode */

static struct store *st;
static int null_fd = -1;
static uint8_t *content;

/* What `zstd -d` makes of @blob: its length, or -1 if it refuses. */
static long long zstd_decode(const uint8_t *blob, size_t len)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer in = { blob, len, 0 };
	ZSTD_outBuffer out = { content, CONTENT_MAX, 0 };
	size_t r = 1;

	if (!d)
		fz_die("out of memory");
	while (in.pos < in.size) {
		r = ZSTD_decompressStream(d, &out, &in);
		if (ZSTD_isError(r) || out.pos == out.size)
			break;
		if (r != 0 && in.pos == in.size)
			break;	/* truncated */
	}
	ZSTD_freeDCtx(d);
	if (ZSTD_isError(r) || r != 0 || out.pos == out.size)
		return -1;
	return (long long)out.pos;
}

static void make_seeds(void)
{
	static const size_t sizes[] = { 0, 1, 4096, 10000, 70000 };
	char name[64];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *c = fz_make_content(sizes[i], i % 2, i + 1);
		size_t blen;
		void *b = fz_make_blob(c, sizes[i], 4096, 3, &blen);

		snprintf(name, sizeof(name), "blob-%zu", sizes[i]);
		fz_seed(name, b, blen);
		free(b);
		free(c);
	}
	/* one short frame: its chunk size is the next power of two */
	{
		void *c = fz_make_content(5000, false, 7);
		size_t blen;
		void *b = fz_make_blob(c, 5000, 8192, 3, &blen);

		fz_seed("blob-5000-one-frame", b, blen);
		free(b);
		free(c);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	if (fz_seeding()) {
		make_seeds();
		exit(0);
	}
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	content = malloc(CONTENT_MAX);
	if (!content || null_fd < 0)
		fz_die("out of memory");
	if (store_open(fz_store_base(), 0, &st) != STORE_OK)
		fz_die("store_open: %s", store_last_error());
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t digest[STORE_SHA256_LEN];
	char key[STORE_KEY_HEX + 1], dir[4300], path[4400];
	struct store_object o;
	long long n = zstd_decode(data, size);
	store_rc rc;

	if (n >= 0) {
		if (store_sha256(content, (size_t)n, digest) != STORE_OK)
			fz_die("store_sha256: %s", store_last_error());
		store_hex(digest, sizeof(digest), key);
	} else {
		memset(key, 'f', STORE_KEY_HEX);
		key[STORE_KEY_HEX] = '\0';
	}
	snprintf(dir, sizeof(dir), "%s/objects/%.2s", fz_store_base(), key);
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if (access(path, F_OK) == 0)
		return -1;	/* one of the store's own blobs */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		fz_die("cannot make '%s'", dir);
	fz_write_file(path, data, size);

	rc = store_adopt(st, key, &o);
	if (rc == STORE_OK) {
		if (n < 0)
			fz_die("adopted a blob zstd cannot decode");
		if (o.size != (uint64_t)n || o.stored_size != size ||
		    strcmp(o.key, key))
			fz_die("adopted %llu bytes (%llu stored) where zstd"
			       " decodes %lld of %zu",
			       (unsigned long long)o.size,
			       (unsigned long long)o.stored_size, n, size);
		/* what was verified once must read back through the
		 * chunk table adopt recorded */
		if (store_export_fd(st, key, null_fd, "fuzz") != STORE_OK)
			fz_die("an adopted blob does not export: %s",
			       store_last_error());
	}
	unlink(path);
	rmdir(dir);
	if (rc == STORE_OK &&
	    store_gc(st, NULL, NULL, NULL, NULL) != STORE_OK)
		fz_die("store_gc: %s", store_last_error());
	return 0;
}
