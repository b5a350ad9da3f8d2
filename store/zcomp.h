/* SPDX-License-Identifier: MIT */
/*
 * zcomp.h - the blob format: zstd's seekable format, written and read
 * without zstd's contrib code.
 *
 * A blob is a run of independent zstd frames, one per chunk of chunk_size
 * uncompressed bytes (the last may be shorter; an empty object has no
 * frame), followed by the seek table: a skippable frame (magic 0x184D2A5E,
 * little-endian u32 length) holding one entry per frame -- u32 compressed
 * size, u32 decompressed size, u32 checksum (the low 32 bits of the XXH64
 * of the chunk, which is what zstd's own frame checksum is, so we copy it
 * out of each frame's last four bytes) -- and the 9-byte seekable footer:
 * u32 number of frames, a descriptor byte (0x80: checksums present), u32
 * magic 0x8F92EAB1.  `zstd -d` restores the content with no pxfs code.
 *
 * Private to store/.
 */
#ifndef STORE_ZCOMP_H
#define STORE_ZCOMP_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_ZCOMP_SKIPPABLE_MAGIC	0x184D2A5EU
#define STORE_ZCOMP_SEEKABLE_MAGIC	0x8F92EAB1U
#define STORE_ZCOMP_FOOTER_SIZE		9
#define STORE_ZCOMP_ENTRY_SIZE		12	/* with checksums */
#define STORE_ZCOMP_MAX_FRAMES		0x8000000U	/* zstd's limit */

/* One frame of a blob, as the seek table describes it. */
struct store_zframe {
	uint64_t coff;		/* offset of the frame in the blob */
	uint32_t csize;		/* compressed bytes */
	uint32_t dsize;		/* decompressed bytes */
	uint32_t checksum;	/* low 32 bits of XXH64(content) */
};

/* ---- encoder: one per thread (it owns a ZSTD_CCtx) ---- */
struct store_zenc;

/**
 * New encoder for frames of at most @chunk_size bytes at zstd @level
 * (1..19).  STORE_INVAL for a bad level or chunk size, STORE_NOMEM.
 * *out is NULL on failure; free with store_zenc_free().
 */
store_rc store_zenc_new(int level, size_t chunk_size, struct store_zenc **out);
void store_zenc_free(struct store_zenc *e);

/**
 * Compress @len (1..chunk_size) bytes at @src as the next frame, with
 * content size and checksum in the frame header, and remember its entry.
 * @dst, @dlen: the frame; borrowed, valid until the next call on @e.
 */
store_rc store_zenc_frame(struct store_zenc *e, const void *src, size_t len,
			  const void **dst, size_t *dlen);

/**
 * Compress @len (1..chunk_size) bytes at @src as one frame into @dst of
 * @cap bytes (at least store_zenc_bound()), *without* remembering it: for
 * worker threads, each with its own encoder, whose frames one encoder
 * then notes in order with store_zenc_note().
 */
store_rc store_zenc_compress(struct store_zenc *e, const void *src,
			     size_t len, void *dst, size_t cap, size_t *dlen);

/** Remember frame @frame (@flen bytes, holding @dsize content bytes, made
 * by store_zenc_compress with the same settings) as the next entry. */
store_rc store_zenc_note(struct store_zenc *e, const void *frame,
			 size_t flen, size_t dsize);

/** Bytes one frame of @e may need: ZSTD_compressBound(chunk_size). */
size_t store_zenc_bound(const struct store_zenc *e);

/**
 * The seek table (skippable frame + footer) for all frames so far.
 * Borrowed, valid until the next call on @e.  Frames counted so far are
 * forgotten afterwards so that @e may encode the next blob.
 */
store_rc store_zenc_seektable(struct store_zenc *e, const void **dst,
			      size_t *dlen);

/* ---- decoder: one per thread (it owns a ZSTD_DCtx) ---- */
struct store_zdec;

/** New decoder, or NULL when out of memory.  Free with store_zdec_free(). */
struct store_zdec *store_zdec_new(void);
void store_zdec_free(struct store_zdec *d);

/**
 * Decompress the single frame at @src (@slen bytes) into @dst, which must
 * come out at exactly @dsize bytes: more, fewer, a second frame, or a bad
 * frame give STORE_CORRUPT and leave @dst unspecified.  Never writes more
 * than @dsize bytes (a hostile frame cannot inflate past the index's size).
 */
store_rc store_zdec_frame(struct store_zdec *d, const void *src, size_t slen,
			  void *dst, size_t dsize);

/**
 * How many bytes at the end of a blob of @blob_size bytes hold its seek
 * table, read from the footer's 9 bytes at @footer.  STORE_CORRUPT for a
 * bad magic, reserved descriptor bits, or a table larger than the blob.
 */
store_rc store_zseek_size(const void *footer, uint64_t blob_size,
			  size_t *table_size);

/**
 * Parse the seek table @tab (@len bytes, the blob's last @len bytes, as
 * store_zseek_size() said) of a blob of @blob_size bytes.  Checks that the
 * frames tile the blob exactly up to the table.  On success *frames is an
 * array of *nframes entries (caller frees with free()); on failure
 * STORE_CORRUPT (or STORE_NOMEM) and *frames is NULL.
 */
store_rc store_zseek_parse(const void *tab, size_t len, uint64_t blob_size,
			   struct store_zframe **frames, uint32_t *nframes);

#endif /* STORE_ZCOMP_H */
