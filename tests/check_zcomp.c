/* SPDX-License-Identifier: MIT */
/*
 * check_zcomp.c - unit tests of store/zcomp.c, the seekable-format codec:
 * round trips at both ends of the chunk-size range, blobs that the real
 * zstd CLI must decompress, and hostile frames and seek tables that must
 * give STORE_CORRUPT without writing past the sizes they were given.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "store_int.h"
#include "zcomp.h"

#include "failmalloc.h"

#define KIB		1024u
#define MIB		(1024u * 1024u)
#define GUARD		64	/* bytes after a decode buffer to watch */
#define GUARD_BYTE	0xA5

/* A growable byte buffer. */
struct buf {
	uint8_t *p;
	size_t len;
};

static void buf_add(struct buf *b, const void *p, size_t len)
{
	uint8_t *n = realloc(b->p, b->len + len + 1);

	ck_assert_ptr_nonnull(n);
	b->p = n;
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* @len bytes of test data: xorshift noise, or text zstd squeezes. */
static uint8_t *make_data(size_t len, bool random, uint64_t seed)
{
	static const char words[] = "proxy store lazy chunk frame seek ";
	uint8_t *p = malloc(len + 1);
	uint64_t x = seed * 2654435761u + 1;
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (random)
			p[i] = (uint8_t)x;
		else
			p[i] = (x & 0xff) < 8 ? (uint8_t)x :
			       (uint8_t)words[i % (sizeof(words) - 1)];
	}
	return p;
}

/* The blob of @len bytes at @src in frames of @chunk bytes. */
static void encode(int level, size_t chunk, const uint8_t *src, size_t len,
		   struct buf *out)
{
	struct store_zenc *e = NULL;
	const void *f;
	size_t flen, off, n;

	out->p = NULL;
	out->len = 0;
	ck_assert_int_eq(store_zenc_new(level, chunk, &e), STORE_OK);
	ck_assert_ptr_nonnull(e);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		ck_assert_int_eq(store_zenc_frame(e, src + off, n, &f, &flen),
				 STORE_OK);
		ck_assert_uint_le(flen, ZSTD_compressBound(n));
		buf_add(out, f, flen);
	}
	ck_assert_int_eq(store_zenc_seektable(e, &f, &flen), STORE_OK);
	buf_add(out, f, flen);
	store_zenc_free(e);
}

/*
 * Decode a whole blob the way a reader does: footer, table, frames.  The
 * content goes to *out (*olen bytes).  Returns the first failure.
 */
static store_rc decode(const struct buf *b, uint8_t **out, size_t *olen,
		       uint32_t *nframes)
{
	struct store_zframe *fr = NULL;
	struct store_zdec *d = NULL;
	uint64_t total = 0;
	size_t tsize = 0, pos = 0;
	uint8_t *content = NULL;
	store_rc rc;
	uint32_t n = 0, i;

	*out = NULL;
	*olen = 0;
	ck_assert_uint_ge(b->len, STORE_ZCOMP_FOOTER_SIZE);
	rc = store_zseek_size(b->p + b->len - STORE_ZCOMP_FOOTER_SIZE, b->len,
			      &tsize);
	if (rc != STORE_OK)
		return rc;
	rc = store_zseek_parse(b->p + b->len - tsize, tsize, b->len, &fr, &n);
	if (rc != STORE_OK)
		return rc;
	for (i = 0; i < n; i++)
		total += fr[i].dsize;
	content = malloc(total + 1);
	ck_assert_ptr_nonnull(content);
	d = store_zdec_new();
	ck_assert_ptr_nonnull(d);
	for (i = 0; i < n; i++) {
		ck_assert_uint_le(fr[i].coff + fr[i].csize, b->len - tsize);
		/* the entry's checksum is the frame's own */
		ck_assert_uint_eq(fr[i].checksum,
				  le32(b->p + fr[i].coff + fr[i].csize - 4));
		rc = store_zdec_frame(d, b->p + fr[i].coff, fr[i].csize,
				      content + pos, fr[i].dsize);
		if (rc != STORE_OK)
			break;
		pos += fr[i].dsize;
	}
	store_zdec_free(d);
	free(fr);
	if (rc != STORE_OK) {
		free(content);
		return rc;
	}
	*out = content;
	*olen = pos;
	*nframes = n;
	return STORE_OK;
}

/* ---- round trips ------------------------------------------------------ */

struct rt_case {
	size_t chunk;
	size_t len;
	bool random;
};

static const struct rt_case rt_cases[] = {
	{ 4 * KIB, 0, false },			/* empty: zero frames */
	{ 4 * KIB, 1, false },
	{ 4 * KIB, 5 * 4 * KIB, false },		/* exactly N chunks */
	{ 4 * KIB, 5 * 4 * KIB + 1, false },	/* N chunks + 1 byte */
	{ 4 * KIB, 5 * 4 * KIB + 1, true },	/* incompressible */
	{ 1 * MIB, 0, true },
	{ 1 * MIB, 1, true },
	{ 1 * MIB, 3 * MIB, false },
	{ 1 * MIB, 3 * MIB + 1, true },
	{ 1 * MIB, 2 * MIB + 1, false },
};

START_TEST(test_zcomp_roundtrip)
{
	const struct rt_case *c = &rt_cases[_i];
	uint8_t *src = make_data(c->len, c->random, (uint64_t)_i);
	uint8_t *out = NULL;
	struct buf b;
	size_t olen;
	uint32_t n = 0;

	encode(STORE_LEVEL_DEFAULT, c->chunk, src, c->len, &b);
	if (c->random)	/* stored raw, with little framing */
		ck_assert_uint_le(b.len, c->len + c->len / 64 + 64 * KIB);
	else if (c->len > 4 * KIB)
		ck_assert_uint_lt(b.len, c->len / 2);
	ck_assert_int_eq(decode(&b, &out, &olen, &n), STORE_OK);
	ck_assert_uint_eq(n, (c->len + c->chunk - 1) / c->chunk);
	ck_assert_uint_eq(olen, c->len);
	ck_assert(memcmp(out, src, c->len) == 0);
	free(out);
	free(b.p);
	free(src);
}
END_TEST

/* A blob is a plain .zst stream: the zstd CLI restores the content. */
START_TEST(test_zcomp_zstd_cli)
{
	const struct rt_case *c = &rt_cases[_i];
	uint8_t *src = make_data(c->len, c->random, (uint64_t)_i);
	char zpath[] = "/tmp/check_zcomp-XXXXXX";
	char opath[] = "/tmp/check_zcomp-XXXXXX";
	char cmd[256];
	uint8_t *got;
	struct buf b;
	FILE *f;
	size_t n;
	int fd, drc, trc;

	if (system("command -v zstd >/dev/null 2>&1") != 0) {
		fprintf(stderr, "check_zcomp: no zstd command, skipped\n");
		free(src);
		return;
	}
	encode(STORE_LEVEL_DEFAULT, c->chunk, src, c->len, &b);
	fd = mkstemp(zpath);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(store_write_all(fd, b.p, b.len), 0);
	close(fd);
	fd = mkstemp(opath);
	ck_assert_int_ge(fd, 0);
	close(fd);

	snprintf(cmd, sizeof(cmd), "zstd -dcq -- '%s' > '%s'", zpath, opath);
	drc = system(cmd);
	/* zstd -t verifies every frame's checksum too */
	snprintf(cmd, sizeof(cmd), "zstd -tq -- '%s'", zpath);
	trc = system(cmd);
	got = malloc(c->len + 2);
	ck_assert_ptr_nonnull(got);
	f = fopen(opath, "rb");
	ck_assert_ptr_nonnull(f);
	n = fread(got, 1, c->len + 1, f);
	fclose(f);
	/* nothing left behind, whatever the outcome */
	unlink(zpath);
	unlink(opath);

	ck_assert_int_eq(drc, 0);
	ck_assert_int_eq(trc, 0);
	ck_assert_uint_eq(n, c->len);
	ck_assert(memcmp(got, src, c->len) == 0);
	free(got);
	free(b.p);
	free(src);
}
END_TEST

START_TEST(test_zcomp_levels)
{
	static const int levels[] = { 1, 19 };
	uint8_t *src = make_data(9 * KIB, false, 7);
	uint8_t *out;
	struct buf b;
	size_t olen;
	uint32_t n;
	unsigned i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		encode(levels[i], 4 * KIB, src, 9 * KIB, &b);
		ck_assert_int_eq(decode(&b, &out, &olen, &n), STORE_OK);
		ck_assert_uint_eq(n, 3);
		ck_assert_uint_eq(olen, 9 * KIB);
		ck_assert(memcmp(out, src, olen) == 0);
		free(out);
		free(b.p);
	}
	free(src);
}
END_TEST

/* After a seek table the encoder starts a new blob from no frames. */
START_TEST(test_zenc_reuse)
{
	struct store_zenc *e = NULL;
	uint8_t *src = make_data(3 * KIB, true, 3);
	const void *f;
	size_t flen;
	int i;

	ck_assert_int_eq(store_zenc_new(3, 1 * KIB, &e), STORE_OK);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(store_zenc_frame(e, src + i * KIB, KIB, &f,
						  &flen), STORE_OK);
	ck_assert_int_eq(store_zenc_seektable(e, &f, &flen), STORE_OK);
	ck_assert_uint_eq(flen, 8 + 3 * STORE_ZCOMP_ENTRY_SIZE + 9);
	ck_assert_uint_eq(le32((const uint8_t *)f + flen - 9), 3);

	ck_assert_int_eq(store_zenc_frame(e, src, 10, &f, &flen), STORE_OK);
	ck_assert_int_eq(store_zenc_seektable(e, &f, &flen), STORE_OK);
	ck_assert_uint_eq(flen, 8 + STORE_ZCOMP_ENTRY_SIZE + 9);
	ck_assert_uint_eq(le32((const uint8_t *)f + flen - 9), 1);
	ck_assert_uint_eq(le32((const uint8_t *)f + 12), 10);	/* dsize */

	ck_assert_int_eq(store_zenc_seektable(e, &f, &flen), STORE_OK);
	ck_assert_uint_eq(flen, 17);
	store_zenc_free(e);
	free(src);
}
END_TEST

/* More frames than the first allocation of entries holds. */
START_TEST(test_zenc_many_frames)
{
	uint8_t *src = make_data(1000, false, 5);
	uint8_t *out;
	struct buf b;
	size_t olen;
	uint32_t n;

	encode(1, 1, src, 1000, &b);
	ck_assert_int_eq(decode(&b, &out, &olen, &n), STORE_OK);
	ck_assert_uint_eq(n, 1000);
	ck_assert_uint_eq(olen, 1000);
	ck_assert(memcmp(out, src, olen) == 0);
	free(out);
	free(b.p);
	free(src);
}
END_TEST

/* ---- arguments -------------------------------------------------------- */

START_TEST(test_zenc_new_bad_args)
{
	static const int levels[] = { 0, 20, -1, 22 };
	struct store_zenc *e;
	unsigned i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		e = (struct store_zenc *)&e;
		store_clear_error();
		ck_assert_int_eq(store_zenc_new(levels[i], 4 * KIB, &e),
				 STORE_INVAL);
		ck_assert_ptr_null(e);
		ck_assert_str_ne(store_last_error(), "");
	}
	e = (struct store_zenc *)&e;
	ck_assert_int_eq(store_zenc_new(3, 0, &e), STORE_INVAL);
	ck_assert_ptr_null(e);
	e = (struct store_zenc *)&e;
	ck_assert_int_eq(store_zenc_new(3, STORE_CHUNK_MAX + 1, &e),
			 STORE_INVAL);
	ck_assert_ptr_null(e);
	ck_assert_int_eq(store_zenc_new(3, STORE_CHUNK_MAX, &e), STORE_OK);
	store_zenc_free(e);
}
END_TEST

START_TEST(test_zenc_frame_bad_len)
{
	struct store_zenc *e = NULL;
	uint8_t src[4 * KIB + 1] = { 0 };
	const void *f = src;
	size_t flen = 1;

	ck_assert_int_eq(store_zenc_new(3, 4 * KIB, &e), STORE_OK);
	ck_assert_int_eq(store_zenc_frame(e, src, 0, &f, &flen), STORE_INVAL);
	ck_assert_ptr_null(f);
	ck_assert_uint_eq(flen, 0);
	ck_assert_int_eq(store_zenc_frame(e, src, sizeof(src), &f, &flen),
			 STORE_INVAL);
	/* nothing was counted */
	ck_assert_int_eq(store_zenc_seektable(e, &f, &flen), STORE_OK);
	ck_assert_uint_eq(flen, 17);
	store_zenc_free(e);
}
END_TEST

START_TEST(test_zcomp_free_null)
{
	store_zenc_free(NULL);
	store_zdec_free(NULL);
}
END_TEST

/* ---- corrupt frames --------------------------------------------------- */

/* One frame of @len bytes of data. */
static void one_frame(const uint8_t *src, size_t len, struct buf *out)
{
	struct store_zenc *e = NULL;
	const void *f;
	size_t flen;

	out->p = NULL;
	out->len = 0;
	ck_assert_int_eq(store_zenc_new(3, len, &e), STORE_OK);
	ck_assert_int_eq(store_zenc_frame(e, src, len, &f, &flen), STORE_OK);
	buf_add(out, f, flen);
	store_zenc_free(e);
}

/* Decode @slen bytes at @src into @dsize bytes; the guard must survive. */
static store_rc dec(const void *src, size_t slen, size_t dsize)
{
	struct store_zdec *d = store_zdec_new();
	uint8_t *dst = malloc(dsize + GUARD);
	store_rc rc;
	size_t i;

	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(dst);
	memset(dst, GUARD_BYTE, dsize + GUARD);
	store_clear_error();
	rc = store_zdec_frame(d, src, slen, dst, dsize);
	for (i = dsize; i < dsize + GUARD; i++)
		ck_assert_uint_eq(dst[i], GUARD_BYTE);
	if (rc != STORE_OK)
		ck_assert_str_ne(store_last_error(), "");
	free(dst);
	store_zdec_free(d);
	return rc;
}

START_TEST(test_zdec_ok)
{
	uint8_t *src = make_data(5000, false, 1);
	struct buf f;

	one_frame(src, 5000, &f);
	ck_assert_int_eq(dec(f.p, f.len, 5000), STORE_OK);
	free(f.p);
	free(src);
}
END_TEST

START_TEST(test_zdec_truncated)
{
	uint8_t *src = make_data(5000, true, 2);
	struct buf f;

	one_frame(src, 5000, &f);
	ck_assert_int_eq(dec(f.p, f.len - 1, 5000), STORE_CORRUPT);
	ck_assert_int_eq(dec(f.p, f.len - 4, 5000), STORE_CORRUPT);
	ck_assert_int_eq(dec(f.p, 6, 5000), STORE_CORRUPT);
	ck_assert_int_eq(dec(f.p, 4, 5000), STORE_CORRUPT);
	ck_assert_int_eq(dec(f.p, 3, 5000), STORE_CORRUPT);
	ck_assert_int_eq(dec(f.p, 0, 0), STORE_CORRUPT);
	free(f.p);
	free(src);
}
END_TEST

START_TEST(test_zdec_wrong_size)
{
	uint8_t *src = make_data(5000, false, 3);
	struct buf f;

	one_frame(src, 5000, &f);
	ck_assert_int_eq(dec(f.p, f.len, 4999), STORE_CORRUPT);
	ck_assert_int_eq(dec(f.p, f.len, 5001), STORE_CORRUPT);
	ck_assert_int_eq(dec(f.p, f.len, 0), STORE_CORRUPT);
	free(f.p);
	free(src);
}
END_TEST

START_TEST(test_zdec_two_frames)
{
	uint8_t *src = make_data(3000, false, 4);
	struct buf f, g;

	one_frame(src, 1000, &f);
	one_frame(src + 1000, 2000, &g);
	buf_add(&f, g.p, g.len);
	ck_assert_int_eq(dec(f.p, f.len, 1000), STORE_CORRUPT);
	ck_assert_int_eq(dec(f.p, f.len, 3000), STORE_CORRUPT);
	/* trailing garbage is a second "frame" too */
	ck_assert_int_eq(dec(f.p, f.len - g.len + 1, 1000), STORE_CORRUPT);
	free(g.p);
	free(f.p);
	free(src);
}
END_TEST

START_TEST(test_zdec_garbage)
{
	uint8_t *junk = make_data(4096, true, 5);
	uint8_t skip[8];

	junk[0] = 0;	/* not the zstd magic */
	ck_assert_int_eq(dec(junk, 4096, 4096), STORE_CORRUPT);
	ck_assert_int_eq(dec("abc", 3, 3), STORE_CORRUPT);
	/* the magic and then noise */
	put32(junk, ZSTD_MAGICNUMBER);
	ck_assert_int_eq(dec(junk, 4096, 4096), STORE_CORRUPT);
	/* a skippable frame holds no content */
	put32(skip, 0x184D2A50);
	put32(skip + 4, 0);
	ck_assert_int_eq(dec(skip, sizeof(skip), 0), STORE_CORRUPT);
	free(junk);
}
END_TEST

/* Flipped bits in the body or the checksum are caught by the checksum. */
START_TEST(test_zdec_bad_checksum)
{
	uint8_t *src = make_data(5000, true, 6);
	struct buf f;

	one_frame(src, 5000, &f);
	f.p[f.len - 1] ^= 0x01;
	ck_assert_int_eq(dec(f.p, f.len, 5000), STORE_CORRUPT);
	f.p[f.len - 1] ^= 0x01;
	f.p[f.len / 2] ^= 0x10;		/* inside the raw block */
	ck_assert_int_eq(dec(f.p, f.len, 5000), STORE_CORRUPT);
	free(f.p);
	free(src);
}
END_TEST

/* A frame that does not say its content size cannot be bounded. */
START_TEST(test_zdec_no_content_size)
{
	uint8_t *src = make_data(5000, false, 7);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t cap = ZSTD_compressBound(5000);
	uint8_t *dst = malloc(cap);
	size_t n;

	ck_assert_ptr_nonnull(cc);
	ck_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(cc,
			ZSTD_c_contentSizeFlag, 0)));
	n = ZSTD_compress2(cc, dst, cap, src, 5000);
	ck_assert(!ZSTD_isError(n));
	ck_assert(ZSTD_getFrameContentSize(dst, n) == ZSTD_CONTENTSIZE_UNKNOWN);
	ck_assert_int_eq(dec(dst, n, 5000), STORE_CORRUPT);
	ZSTD_freeCCtx(cc);
	free(dst);
	free(src);
}
END_TEST

/* ---- corrupt seek tables ---------------------------------------------- */

/* A 3-frame blob of 4 KiB chunks; its table is the last *tlen bytes. */
static void three_frames(struct buf *b, size_t *tlen)
{
	uint8_t *src = make_data(3 * 4 * KIB, true, 8);

	encode(3, 4 * KIB, src, 3 * 4 * KIB, b);
	*tlen = 8 + 3 * STORE_ZCOMP_ENTRY_SIZE + STORE_ZCOMP_FOOTER_SIZE;
	free(src);
}

/* Parse the last @len bytes of @b as a table of a @bsize-byte blob. */
static store_rc parse(const struct buf *b, size_t len, uint64_t bsize)
{
	struct store_zframe sentinel, *fr = &sentinel;
	uint32_t n = 77;
	store_rc rc;

	store_clear_error();
	rc = store_zseek_parse(b->p + b->len - len, len, bsize, &fr, &n);
	if (rc != STORE_OK) {
		ck_assert_ptr_null(fr);
		ck_assert_uint_eq(n, 0);
		ck_assert_str_ne(store_last_error(), "");
	}
	free(fr);
	return rc;
}

static store_rc seek_size(const struct buf *b, uint64_t bsize)
{
	size_t t = 77;
	store_rc rc;

	rc = store_zseek_size(b->p + b->len - STORE_ZCOMP_FOOTER_SIZE, bsize,
			      &t);
	if (rc != STORE_OK)
		ck_assert_uint_eq(t, 0);
	return rc;
}

START_TEST(test_zseek_ok)
{
	struct store_zframe *fr = NULL;
	struct buf b;
	size_t tlen, t = 0;
	uint32_t n = 0;

	three_frames(&b, &tlen);
	ck_assert_int_eq(store_zseek_size(b.p + b.len - 9, b.len, &t),
			 STORE_OK);
	ck_assert_uint_eq(t, tlen);
	ck_assert_int_eq(store_zseek_parse(b.p + b.len - t, t, b.len, &fr,
					   &n), STORE_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(fr[0].coff, 0);
	ck_assert_uint_eq(fr[1].coff, fr[0].csize);
	ck_assert_uint_eq(fr[2].coff, fr[0].csize + fr[1].csize);
	ck_assert_uint_eq(fr[2].coff + fr[2].csize, b.len - t);
	ck_assert_uint_eq(fr[2].dsize, 4 * KIB);
	free(fr);
	free(b.p);
}
END_TEST

START_TEST(test_zseek_empty)
{
	struct store_zframe *fr = (struct store_zframe *)&fr;
	struct buf b;
	uint32_t n = 5;

	encode(3, 4 * KIB, NULL, 0, &b);
	ck_assert_uint_eq(b.len, 17);
	ck_assert_int_eq(seek_size(&b, b.len), STORE_OK);
	ck_assert_int_eq(store_zseek_parse(b.p, b.len, b.len, &fr, &n),
			 STORE_OK);
	ck_assert_ptr_null(fr);
	ck_assert_uint_eq(n, 0);
	free(b.p);
}
END_TEST

START_TEST(test_zseek_bad_magic)
{
	struct buf b;
	size_t tlen;

	three_frames(&b, &tlen);
	b.p[b.len - 1] ^= 0x40;		/* footer magic */
	ck_assert_int_eq(seek_size(&b, b.len), STORE_CORRUPT);
	ck_assert_int_eq(parse(&b, tlen, b.len), STORE_CORRUPT);
	b.p[b.len - 1] ^= 0x40;
	ck_assert_int_eq(parse(&b, tlen, b.len), STORE_OK);

	/* the skippable frame's magic, even another skippable one */
	put32(b.p + b.len - tlen, 0x184D2A50);
	ck_assert_int_eq(seek_size(&b, b.len), STORE_OK);
	ck_assert_int_eq(parse(&b, tlen, b.len), STORE_CORRUPT);
	put32(b.p + b.len - tlen, STORE_ZCOMP_SKIPPABLE_MAGIC);

	/* the skippable frame's length */
	put32(b.p + b.len - tlen + 4, (uint32_t)tlen);
	ck_assert_int_eq(parse(&b, tlen, b.len), STORE_CORRUPT);
	free(b.p);
}
END_TEST

START_TEST(test_zseek_bad_descriptor)
{
	static const uint8_t bad[] = { 0x84, 0x88, 0x90, 0xA0, 0xC0, 0xFC,
				       0x04 };
	uint8_t *desc;
	struct buf b;
	size_t tlen;
	unsigned i;

	three_frames(&b, &tlen);
	desc = b.p + b.len - 5;
	ck_assert_uint_eq(*desc, 0x80);
	for (i = 0; i < sizeof(bad); i++) {
		*desc = bad[i];
		ck_assert_int_eq(seek_size(&b, b.len), STORE_CORRUPT);
		ck_assert_int_eq(parse(&b, tlen, b.len), STORE_CORRUPT);
	}
	/* the two low bits are unused, not reserved */
	*desc = 0x83;
	ck_assert_int_eq(parse(&b, tlen, b.len), STORE_OK);
	/* without the checksum flag entries are 8 bytes: sizes disagree */
	*desc = 0x00;
	ck_assert_int_eq(parse(&b, tlen, b.len), STORE_CORRUPT);
	free(b.p);
}
END_TEST

START_TEST(test_zseek_too_many_frames)
{
	uint8_t *nf;
	struct buf b;
	size_t tlen;

	three_frames(&b, &tlen);
	nf = b.p + b.len - 9;
	put32(nf, STORE_ZCOMP_MAX_FRAMES + 1);
	ck_assert_int_eq(seek_size(&b, UINT64_MAX), STORE_CORRUPT);
	ck_assert_int_eq(parse(&b, tlen, b.len), STORE_CORRUPT);
	put32(nf, UINT32_MAX);
	ck_assert_int_eq(seek_size(&b, UINT64_MAX), STORE_CORRUPT);
	/* the most frames there may be, in a blob far too small for them */
	put32(nf, STORE_ZCOMP_MAX_FRAMES);
	ck_assert_int_eq(seek_size(&b, b.len), STORE_CORRUPT);
	ck_assert_int_eq(seek_size(&b, UINT64_MAX), STORE_OK);
	ck_assert_int_eq(parse(&b, tlen, b.len), STORE_CORRUPT);
	/* one frame more than the table holds */
	put32(nf, 4);
	ck_assert_int_eq(seek_size(&b, b.len), STORE_OK);
	ck_assert_int_eq(parse(&b, tlen, b.len), STORE_CORRUPT);
	ck_assert_int_eq(parse(&b, tlen + 12, b.len), STORE_CORRUPT);
	free(b.p);
}
END_TEST

START_TEST(test_zseek_not_tiling)
{
	uint8_t *ent;
	struct buf b;
	size_t tlen;

	three_frames(&b, &tlen);
	ck_assert_int_eq(parse(&b, tlen, b.len + 1), STORE_CORRUPT);
	ck_assert_int_eq(parse(&b, tlen, b.len - 1), STORE_CORRUPT);
	ck_assert_int_eq(parse(&b, tlen, UINT64_MAX), STORE_CORRUPT);
	ent = b.p + b.len - tlen + 8 + STORE_ZCOMP_ENTRY_SIZE;
	put32(ent, le32(ent) + 1);	/* frame 1's csize */
	ck_assert_int_eq(parse(&b, tlen, b.len), STORE_CORRUPT);
	put32(ent, le32(ent) - 2);
	ck_assert_int_eq(parse(&b, tlen, b.len), STORE_CORRUPT);
	put32(ent, le32(ent) + 1);
	ck_assert_int_eq(parse(&b, tlen, b.len), STORE_OK);
	put32(ent, UINT32_MAX);
	ck_assert_int_eq(parse(&b, tlen, b.len), STORE_CORRUPT);
	free(b.p);
}
END_TEST

START_TEST(test_zseek_larger_than_blob)
{
	struct buf b;
	size_t tlen;

	three_frames(&b, &tlen);
	ck_assert_int_eq(seek_size(&b, tlen - 1), STORE_CORRUPT);
	ck_assert_int_eq(seek_size(&b, 9), STORE_CORRUPT);
	ck_assert_int_eq(seek_size(&b, 0), STORE_CORRUPT);
	ck_assert_int_eq(seek_size(&b, tlen), STORE_OK);
	ck_assert_int_eq(parse(&b, tlen, tlen - 1), STORE_CORRUPT);
	/* too short to be a table at all */
	ck_assert_int_eq(parse(&b, 16, b.len), STORE_CORRUPT);
	ck_assert_int_eq(parse(&b, 9, b.len), STORE_CORRUPT);
	ck_assert_int_eq(parse(&b, 0, b.len), STORE_CORRUPT);
	free(b.p);
}
END_TEST

/* The seekable format without checksums is read too. */
START_TEST(test_zseek_no_checksums)
{
	struct store_zframe *fr = NULL, *want = NULL;
	struct buf b, nb = { NULL, 0 };
	size_t tlen, i;
	uint8_t tab[8 + 3 * 8 + 9];
	uint32_t n = 0;

	three_frames(&b, &tlen);
	ck_assert_int_eq(store_zseek_parse(b.p + b.len - tlen, tlen, b.len,
					   &want, &n), STORE_OK);
	put32(tab, STORE_ZCOMP_SKIPPABLE_MAGIC);
	put32(tab + 4, sizeof(tab) - 8);
	for (i = 0; i < 3; i++) {
		put32(tab + 8 + 8 * i, want[i].csize);
		put32(tab + 12 + 8 * i, want[i].dsize);
	}
	put32(tab + 32, 3);
	tab[36] = 0;
	put32(tab + 37, STORE_ZCOMP_SEEKABLE_MAGIC);
	buf_add(&nb, b.p, b.len - tlen);
	buf_add(&nb, tab, sizeof(tab));

	ck_assert_int_eq(seek_size(&nb, nb.len), STORE_OK);
	ck_assert_int_eq(store_zseek_parse(tab, sizeof(tab), nb.len, &fr, &n),
			 STORE_OK);
	ck_assert_uint_eq(n, 3);
	for (i = 0; i < 3; i++) {
		ck_assert_uint_eq(fr[i].coff, want[i].coff);
		ck_assert_uint_eq(fr[i].csize, want[i].csize);
		ck_assert_uint_eq(fr[i].dsize, want[i].dsize);
		ck_assert_uint_eq(fr[i].checksum, 0);
	}
	free(fr);
	free(want);
	free(nb.p);
	free(b.p);
}
END_TEST

/* ---- allocation failures ---------------------------------------------- */
#if FAILMALLOC

START_TEST(test_zenc_new_nomem)
{
	struct store_zenc *e;
	long n, live;
	store_rc rc;

	for (n = 1;; n++) {
		live = failmalloc_blocks();
		e = (struct store_zenc *)&e;
		failmalloc_arm(n);
		rc = store_zenc_new(3, 4 * KIB, &e);
		if (!failmalloc_disarm())
			break;
		ck_assert_int_eq(rc, STORE_NOMEM);
		ck_assert_ptr_null(e);
		ck_assert_int_eq(failmalloc_blocks(), live);
	}
	ck_assert_int_eq(rc, STORE_OK);
	ck_assert_int_gt(n, 3);
	store_zenc_free(e);
}
END_TEST

/* A failed frame or table leaves the encoder usable and whole. */
START_TEST(test_zenc_frame_nomem)
{
	uint8_t *src = make_data(100 * 64, false, 9);
	struct store_zenc *e = NULL;
	uint8_t *out;
	struct buf b = { NULL, 0 };
	const void *f;
	size_t flen, olen;
	long n, fails = 0;
	uint32_t nf;
	store_rc rc;
	int i;

	ck_assert_int_eq(store_zenc_new(3, 64, &e), STORE_OK);
	/* 100 frames: the first compression and a growth of the entries */
	for (i = 0; i < 100; i++) {
		for (n = 1;; n++) {
			failmalloc_arm(n);
			rc = store_zenc_frame(e, src + i * 64, 64, &f, &flen);
			if (!failmalloc_disarm())
				break;
			ck_assert_int_eq(rc, STORE_NOMEM);
			ck_assert_ptr_null(f);
			fails++;
		}
		ck_assert_int_eq(rc, STORE_OK);
		buf_add(&b, f, flen);
	}
	ck_assert_int_ge(fails, 2);
	for (n = 1;; n++) {
		failmalloc_arm(n);
		rc = store_zenc_seektable(e, &f, &flen);
		if (!failmalloc_disarm())
			break;
		ck_assert_int_eq(rc, STORE_NOMEM);
		ck_assert_ptr_null(f);
	}
	ck_assert_int_eq(rc, STORE_OK);
	ck_assert_int_eq(n, 2);
	buf_add(&b, f, flen);
	ck_assert_int_eq(decode(&b, &out, &olen, &nf), STORE_OK);
	ck_assert_uint_eq(nf, 100);
	ck_assert(memcmp(out, src, olen) == 0);
	free(out);
	free(b.p);
	store_zenc_free(e);
	free(src);
}
END_TEST

START_TEST(test_zdec_new_nomem)
{
	struct store_zdec *d;
	long n, live;

	for (n = 1;; n++) {
		live = failmalloc_blocks();
		failmalloc_arm(n);
		d = store_zdec_new();
		if (!failmalloc_disarm())
			break;
		ck_assert_ptr_null(d);
		ck_assert_int_eq(failmalloc_blocks(), live);
	}
	ck_assert_ptr_nonnull(d);
	ck_assert_int_ge(n, 3);
	store_zdec_free(d);
}
END_TEST

START_TEST(test_zseek_parse_nomem)
{
	struct store_zframe *fr;
	struct buf b;
	size_t tlen;
	uint32_t nf;
	long live;
	store_rc rc;

	three_frames(&b, &tlen);
	live = failmalloc_blocks();
	fr = (struct store_zframe *)&fr;
	failmalloc_arm(1);
	rc = store_zseek_parse(b.p + b.len - tlen, tlen, b.len, &fr, &nf);
	ck_assert(failmalloc_disarm());
	ck_assert_int_eq(rc, STORE_NOMEM);
	ck_assert_ptr_null(fr);
	ck_assert_int_eq(failmalloc_blocks(), live);
	free(b.p);
}
END_TEST

#endif /* FAILMALLOC */

static Suite *zcomp_suite(void)
{
	Suite *s = suite_create("zcomp");
	TCase *tc;
	int ncases = (int)(sizeof(rt_cases) / sizeof(rt_cases[0]));

	tc = tcase_create("roundtrip");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_zcomp_roundtrip, 0, ncases);
	tcase_add_test(tc, test_zcomp_levels);
	tcase_add_test(tc, test_zenc_reuse);
	tcase_add_test(tc, test_zenc_many_frames);
	suite_add_tcase(s, tc);

	tc = tcase_create("zstd-cli");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_zcomp_zstd_cli, 0, ncases);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_zenc_new_bad_args);
	tcase_add_test(tc, test_zenc_frame_bad_len);
	tcase_add_test(tc, test_zcomp_free_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("corrupt-frame");
	tcase_add_test(tc, test_zdec_ok);
	tcase_add_test(tc, test_zdec_truncated);
	tcase_add_test(tc, test_zdec_wrong_size);
	tcase_add_test(tc, test_zdec_two_frames);
	tcase_add_test(tc, test_zdec_garbage);
	tcase_add_test(tc, test_zdec_bad_checksum);
	tcase_add_test(tc, test_zdec_no_content_size);
	suite_add_tcase(s, tc);

	tc = tcase_create("corrupt-table");
	tcase_add_test(tc, test_zseek_ok);
	tcase_add_test(tc, test_zseek_empty);
	tcase_add_test(tc, test_zseek_bad_magic);
	tcase_add_test(tc, test_zseek_bad_descriptor);
	tcase_add_test(tc, test_zseek_too_many_frames);
	tcase_add_test(tc, test_zseek_not_tiling);
	tcase_add_test(tc, test_zseek_larger_than_blob);
	tcase_add_test(tc, test_zseek_no_checksums);
	suite_add_tcase(s, tc);

#if FAILMALLOC
	tc = tcase_create("nomem");
	tcase_add_test(tc, test_zenc_new_nomem);
	tcase_add_test(tc, test_zenc_frame_nomem);
	tcase_add_test(tc, test_zdec_new_nomem);
	tcase_add_test(tc, test_zseek_parse_nomem);
	suite_add_tcase(s, tc);
#endif
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(zcomp_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
