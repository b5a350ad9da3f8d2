/* SPDX-License-Identifier: MIT */
/*
 * zcomp.c - the blob format: zstd's seekable format on libzstd's stable
 * API only (no ZSTD_STATIC_LINKING_ONLY, no contrib/seekable_format).
 *
 * The encoder compresses each chunk as one independent frame with its
 * content size and checksum in the frame, and keeps a (csize, dsize,
 * checksum) entry per frame until the caller asks for the seek table.  The
 * checksum entry is the frame's own trailing XXH64-low-32, so there is no
 * second hash over the content.
 *
 * The decoder side never trusts a byte it is given: the seek table is
 * checked against the blob's size (frames must tile the blob exactly up
 * to the table) before anything is allocated from its counts, and a frame
 * is decompressed only into the exact size the index holds for it, so a
 * hostile blob can neither inflate past that size nor make us allocate
 * more than its own length justifies.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "store_int.h"
#include "zcomp.h"

#define SKIP_HEADER_SIZE	8	/* skippable magic + payload length */
#define DESC_CHECKSUM		0x80	/* entries carry a checksum */
#define DESC_RESERVED		0x7C	/* must be 0; 0x03 are unused */
#define ENTRY_SIZE_NOCHECK	8
#define MIN_TABLE_SIZE	(SKIP_HEADER_SIZE + STORE_ZCOMP_FOOTER_SIZE)

_Static_assert(STORE_ZCOMP_MAX_FRAMES % 64 == 0 &&
	       (STORE_ZCOMP_MAX_FRAMES & (STORE_ZCOMP_MAX_FRAMES - 1)) == 0,
	       "the entries grow by doubling from 64 up to the frame limit");

/* A seek-table entry of the blob being encoded. */
struct zent {
	uint32_t csize;		/* compressed bytes of the frame */
	uint32_t dsize;		/* content bytes of the frame */
	uint32_t checksum;	/* the frame's trailing checksum */
};

struct store_zenc {
	ZSTD_CCtx *cctx;	/* holds level and flags across frames */
	size_t chunk_size;	/* most content one frame may hold */
	uint8_t *frame;		/* the last frame written */
	size_t frame_cap;	/* ZSTD_compressBound(chunk_size) */
	struct zent *ents;	/* frames of the blob being encoded */
	uint32_t nents;		/* entries used */
	uint32_t ents_cap;	/* entries allocated */
	uint8_t *tab;		/* the last seek table written */
	size_t tab_cap;		/* bytes allocated at tab */
};

struct store_zdec {
	ZSTD_DCtx *dctx;	/* reused for every frame */
};

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static size_t entry_size(uint8_t desc)
{
	return (desc & DESC_CHECKSUM) ? STORE_ZCOMP_ENTRY_SIZE :
					ENTRY_SIZE_NOCHECK;
}

/* ---- encoder ---------------------------------------------------------- */

store_rc store_zenc_new(int level, size_t chunk_size, struct store_zenc **out)
{
	struct store_zenc *e = NULL;
	store_rc rc = STORE_OK;

	*out = NULL;
	if (level < 1 || level > 19)
		return store_fail(STORE_INVAL,
				  "zstd level %d is not in 1..19", level);
	if (chunk_size < 1 || chunk_size > STORE_CHUNK_MAX)
		return store_fail(STORE_INVAL,
				  "chunk size %zu is not in 1..%u",
				  chunk_size, STORE_CHUNK_MAX);

	e = calloc(1, sizeof(*e));
	if (!e)
		return store_fail(STORE_NOMEM, "cannot allocate zstd encoder");
	e->chunk_size = chunk_size;
	/* at most 64 MiB + 256 KiB: a frame's size always fits its u32 */
	e->frame_cap = ZSTD_compressBound(chunk_size);
	e->cctx = ZSTD_createCCtx();
	e->frame = malloc(e->frame_cap);
	if (!e->cctx || !e->frame) {
		rc = store_fail(STORE_NOMEM, "cannot allocate zstd encoder");
		goto out;
	}
	/* cannot fail for a level in 1..19; checked all the same */
	if (ZSTD_isError(ZSTD_CCtx_setParameter(e->cctx,
			ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(e->cctx,
			ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(e->cctx,
			ZSTD_c_contentSizeFlag, 1))) {
		rc = store_fail(STORE_INVAL,
				"zstd refuses level %d with checksums", level);
		goto out;
	}
	*out = e;
	e = NULL;
out:
	store_zenc_free(e);
	return rc;
}

void store_zenc_free(struct store_zenc *e)
{
	if (!e)
		return;
	free(e->tab);
	free(e->ents);
	free(e->frame);
	ZSTD_freeCCtx(e->cctx);
	free(e);
}

/* Room for one more entry. */
static store_rc grow_entries(struct store_zenc *e)
{
	struct zent *n;
	uint32_t cap;

	if (e->nents < e->ents_cap)
		return STORE_OK;
	if (e->nents >= STORE_ZCOMP_MAX_FRAMES)
		return store_fail(STORE_INVAL,
				  "a blob cannot hold more than %u frames",
				  STORE_ZCOMP_MAX_FRAMES);
	/* doubling from 64 reaches STORE_ZCOMP_MAX_FRAMES exactly */
	cap = e->ents_cap ? e->ents_cap * 2 : 64;
	n = realloc(e->ents, (size_t)cap * sizeof(*n));
	if (!n)
		return store_fail(STORE_NOMEM,
				  "cannot allocate a seek table of %u entries",
				  cap);
	e->ents = n;
	e->ents_cap = cap;
	return STORE_OK;
}

store_rc store_zenc_frame(struct store_zenc *e, const void *src, size_t len,
			  const void **dst, size_t *dlen)
{
	struct zent *ent;
	store_rc rc;
	size_t r;

	*dst = NULL;
	*dlen = 0;
	if (len < 1 || len > e->chunk_size)
		return store_fail(STORE_INVAL,
				  "chunk of %zu bytes is not in 1..%zu",
				  len, e->chunk_size);
	/* before compressing, so that a failure leaves the entries whole */
	rc = grow_entries(e);
	if (rc != STORE_OK)
		return rc;

	r = ZSTD_compress2(e->cctx, e->frame, e->frame_cap, src, len);
	if (ZSTD_isError(r)) {
		/* the bound fits any input: only memory can run out */
		return store_fail(ZSTD_getErrorCode(r) ==
				  ZSTD_error_memory_allocation ?
				  STORE_NOMEM : STORE_IO,
				  "cannot compress chunk: %s",
				  ZSTD_getErrorName(r));
	}
	assert(r >= 4 && r <= e->frame_cap && r <= UINT32_MAX);

	ent = &e->ents[e->nents++];
	ent->csize = (uint32_t)r;
	ent->dsize = (uint32_t)len;
	ent->checksum = get_le32(e->frame + r - 4);
	*dst = e->frame;
	*dlen = r;
	return STORE_OK;
}

store_rc store_zenc_compress(struct store_zenc *e, const void *src,
			     size_t len, void *dst, size_t cap, size_t *dlen)
{
	size_t r;

	*dlen = 0;
	if (len < 1 || len > e->chunk_size)
		return store_fail(STORE_INVAL,
				  "chunk of %zu bytes is not in 1..%zu",
				  len, e->chunk_size);
	if (cap < e->frame_cap)
		return store_fail(STORE_INVAL, "frame buffer of %zu bytes is"
				  " below the bound %zu", cap, e->frame_cap);
	r = ZSTD_compress2(e->cctx, dst, cap, src, len);
	if (ZSTD_isError(r))
		return store_fail(ZSTD_getErrorCode(r) ==
				  ZSTD_error_memory_allocation ?
				  STORE_NOMEM : STORE_IO,
				  "cannot compress chunk: %s",
				  ZSTD_getErrorName(r));
	assert(r >= 4 && r <= cap && r <= UINT32_MAX);
	*dlen = r;
	return STORE_OK;
}

store_rc store_zenc_note(struct store_zenc *e, const void *frame,
			 size_t flen, size_t dsize)
{
	struct zent *ent;
	store_rc rc;

	if (flen < 4 || flen > UINT32_MAX || dsize < 1 ||
	    dsize > e->chunk_size)
		return store_fail(STORE_INVAL, "frame of %zu bytes for %zu"
				  " content bytes cannot be noted", flen,
				  dsize);
	rc = grow_entries(e);
	if (rc != STORE_OK)
		return rc;
	ent = &e->ents[e->nents++];
	ent->csize = (uint32_t)flen;
	ent->dsize = (uint32_t)dsize;
	ent->checksum = get_le32((const uint8_t *)frame + flen - 4);
	return STORE_OK;
}

size_t store_zenc_bound(const struct store_zenc *e)
{
	return e->frame_cap;
}

store_rc store_zenc_seektable(struct store_zenc *e, const void **dst,
			      size_t *dlen)
{
	size_t need;
	uint8_t *p;
	uint32_t i;

	*dst = NULL;
	*dlen = 0;
	/* nents <= STORE_ZCOMP_MAX_FRAMES: no overflow even in 32 bits */
	need = MIN_TABLE_SIZE + (size_t)e->nents * STORE_ZCOMP_ENTRY_SIZE;
	if (need > e->tab_cap) {
		p = realloc(e->tab, need);
		if (!p)
			return store_fail(STORE_NOMEM,
					  "cannot allocate a seek table of %zu bytes",
					  need);
		e->tab = p;
		e->tab_cap = need;
	}

	p = e->tab;
	put_le32(p, STORE_ZCOMP_SKIPPABLE_MAGIC);
	/* the footer is part of the skippable frame, so zstd -d skips it */
	put_le32(p + 4, (uint32_t)(need - SKIP_HEADER_SIZE));
	p += SKIP_HEADER_SIZE;
	for (i = 0; i < e->nents; i++) {
		put_le32(p, e->ents[i].csize);
		put_le32(p + 4, e->ents[i].dsize);
		put_le32(p + 8, e->ents[i].checksum);
		p += STORE_ZCOMP_ENTRY_SIZE;
	}
	put_le32(p, e->nents);
	p[4] = DESC_CHECKSUM;
	put_le32(p + 5, STORE_ZCOMP_SEEKABLE_MAGIC);
	assert(p + STORE_ZCOMP_FOOTER_SIZE == e->tab + need);

	e->nents = 0;
	*dst = e->tab;
	*dlen = need;
	return STORE_OK;
}

/* ---- decoder ---------------------------------------------------------- */

struct store_zdec *store_zdec_new(void)
{
	struct store_zdec *d;

	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->dctx = ZSTD_createDCtx();
	if (!d->dctx) {
		free(d);
		return NULL;
	}
	return d;
}

void store_zdec_free(struct store_zdec *d)
{
	if (!d)
		return;
	ZSTD_freeDCtx(d->dctx);
	free(d);
}

store_rc store_zdec_frame(struct store_zdec *d, const void *src, size_t slen,
			  void *dst, size_t dsize)
{
	unsigned long long fcs;
	size_t n;

	/* only a zstd frame: not a skippable frame, not a legacy format */
	if (slen < 4 || get_le32(src) != ZSTD_MAGICNUMBER)
		return store_fail(STORE_CORRUPT, "chunk is not a zstd frame");
	n = ZSTD_findFrameCompressedSize(src, slen);
	if (ZSTD_isError(n))
		return store_fail(STORE_CORRUPT, "bad zstd frame: %s",
				  ZSTD_getErrorName(n));
	if (n != slen)
		return store_fail(STORE_CORRUPT,
				  "%zu bytes follow the zstd frame", slen - n);
	fcs = ZSTD_getFrameContentSize(src, slen);
	if (fcs == ZSTD_CONTENTSIZE_UNKNOWN || fcs == ZSTD_CONTENTSIZE_ERROR)
		return store_fail(STORE_CORRUPT,
				  "zstd frame does not hold its content size");
	if (fcs != dsize)
		return store_fail(STORE_CORRUPT,
				  "zstd frame holds %llu bytes, not %zu",
				  fcs, dsize);

	/*
	 * dst has exactly dsize bytes and zstd checks the content size and
	 * the checksum against what it decoded, so any mismatch is an error.
	 */
	n = ZSTD_decompressDCtx(d->dctx, dst, dsize, src, slen);
	if (ZSTD_isError(n) || n != dsize)
		return store_fail(STORE_CORRUPT,
				  "cannot decompress zstd frame: %s",
				  ZSTD_isError(n) ? ZSTD_getErrorName(n) :
				  "short content");
	return STORE_OK;
}

/* ---- seek table ------------------------------------------------------- */

store_rc store_zseek_size(const void *footer, uint64_t blob_size,
			  size_t *table_size)
{
	const uint8_t *f = footer;
	uint64_t size;
	uint32_t n;

	*table_size = 0;
	if (get_le32(f + 5) != STORE_ZCOMP_SEEKABLE_MAGIC)
		return store_fail(STORE_CORRUPT,
				  "no seek table: bad footer magic 0x%08" PRIx32,
				  get_le32(f + 5));
	if (f[4] & DESC_RESERVED)
		return store_fail(STORE_CORRUPT,
				  "reserved bits set in seek table descriptor 0x%02x",
				  f[4]);
	n = get_le32(f);
	if (n > STORE_ZCOMP_MAX_FRAMES)
		return store_fail(STORE_CORRUPT,
				  "seek table claims %" PRIu32 " frames, more than %u",
				  n, STORE_ZCOMP_MAX_FRAMES);
	/* n is bounded above, so this fits 64 bits and (2 GiB) a size_t */
	size = MIN_TABLE_SIZE + (uint64_t)n * entry_size(f[4]);
	if (size > blob_size)
		return store_fail(STORE_CORRUPT,
				  "seek table of %" PRIu64
				  " bytes is larger than its blob of %" PRIu64,
				  size, blob_size);
	*table_size = (size_t)size;
	return STORE_OK;
}

store_rc store_zseek_parse(const void *tab, size_t len, uint64_t blob_size,
			   struct store_zframe **frames, uint32_t *nframes)
{
	const uint8_t *t = tab;
	const uint8_t *p;
	struct store_zframe *fr = NULL;
	uint64_t off = 0;
	size_t esize, size;
	store_rc rc;
	uint32_t n, i;

	*frames = NULL;
	*nframes = 0;
	if (len < MIN_TABLE_SIZE)
		return store_fail(STORE_CORRUPT,
				  "seek table of %zu bytes is too short", len);
	rc = store_zseek_size(t + len - STORE_ZCOMP_FOOTER_SIZE, blob_size,
			      &size);
	if (rc != STORE_OK)
		return rc;
	if (size != len)
		return store_fail(STORE_CORRUPT,
				  "seek table is %zu bytes but its footer says %zu",
				  len, size);
	if (get_le32(t) != STORE_ZCOMP_SKIPPABLE_MAGIC)
		return store_fail(STORE_CORRUPT,
				  "bad seek table magic 0x%08" PRIx32,
				  get_le32(t));
	if (get_le32(t + 4) != len - SKIP_HEADER_SIZE)
		return store_fail(STORE_CORRUPT,
				  "seek table frame says %" PRIu32
				  " bytes, not %zu",
				  get_le32(t + 4), len - SKIP_HEADER_SIZE);

	n = get_le32(t + len - STORE_ZCOMP_FOOTER_SIZE);
	esize = entry_size(t[len - STORE_ZCOMP_FOOTER_SIZE + 4]);
	if (n > 0) {
		/* the table holds n entries, so n is bounded by its length */
		fr = calloc(n, sizeof(*fr));
		if (!fr)
			return store_fail(STORE_NOMEM,
					  "cannot allocate %" PRIu32 " frames",
					  n);
	}
	p = t + SKIP_HEADER_SIZE;
	for (i = 0; i < n; i++) {
		fr[i].coff = off;
		fr[i].csize = get_le32(p);
		fr[i].dsize = get_le32(p + 4);
		if (esize == STORE_ZCOMP_ENTRY_SIZE)
			fr[i].checksum = get_le32(p + 8);
		/* at most 2^27 frames of < 2^32 bytes: off cannot wrap */
		off += fr[i].csize;
		p += esize;
	}
	/* len <= blob_size was checked by store_zseek_size() */
	if (off != blob_size - len) {
		free(fr);
		return store_fail(STORE_CORRUPT,
				  "seek table frames cover %" PRIu64
				  " bytes, the blob has %" PRIu64
				  " before its table",
				  off, blob_size - len);
	}
	*frames = fr;
	*nframes = n;
	return STORE_OK;
}
