/* SPDX-License-Identifier: MIT */
/*
 * hash.h - SHA-256 (OpenSSL libcrypto's EVP, the fastest one on Debian)
 * and hex helpers.  Private to store/.
 */
#ifndef STORE_HASH_H
#define STORE_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_SHA256_LEN	32

/* An incremental SHA-256.  One thread at a time per object. */
struct store_sha256;

/** New digest, or NULL when out of memory. */
struct store_sha256 *store_sha256_new(void);
void store_sha256_free(struct store_sha256 *h);

/** Add @len bytes.  STORE_IO if libcrypto fails. */
store_rc store_sha256_update(struct store_sha256 *h, const void *p,
			     size_t len);

/** Write the digest of everything added to @out, then start afresh. */
store_rc store_sha256_final(struct store_sha256 *h,
			    uint8_t out[STORE_SHA256_LEN]);

/** One-shot digest of @len bytes at @p.  Thread-safe. */
store_rc store_sha256(const void *p, size_t len,
		      uint8_t out[STORE_SHA256_LEN]);

/**
 * One-shot digests of two messages of the same length, @a and @b, into
 * @out_a and @out_b: faster than two store_sha256() calls where the CPU
 * can interleave them (SHA-NI), the same otherwise.  Thread-safe.
 */
store_rc store_sha256_x2(const void *a, const void *b, size_t len,
			 uint8_t out_a[STORE_SHA256_LEN],
			 uint8_t out_b[STORE_SHA256_LEN]);

/*
 * The whole content's SHA-256 (the key) taking, where asked, each
 * chunk's own digest in the same pass: faster than store_sha256_update()
 * plus store_sha256() where the CPU can interleave them (SHA-NI).  One
 * thread at a time per object.
 */
struct store_sha256_chain;

/** New chain, or NULL when out of memory. */
struct store_sha256_chain *store_sha256_chain_new(void);
void store_sha256_chain_free(struct store_sha256_chain *c);

/** Add @len bytes at @p; with @out non-NULL, also write the digest of
 * those @len bytes alone there.  STORE_IO if libcrypto fails. */
store_rc store_sha256_chain_update(struct store_sha256_chain *c,
				   const void *p, size_t len,
				   uint8_t out[STORE_SHA256_LEN]);

/** Write the digest of everything added to @out, then start afresh. */
store_rc store_sha256_chain_final(struct store_sha256_chain *c,
				  uint8_t out[STORE_SHA256_LEN]);

/** Lowercase hex of @n bytes at @bin into @out (2n+1 bytes, NUL-ended). */
void store_hex(const uint8_t *bin, size_t n, char *out);

/** Parse 2n hex digits at @hex into @n bytes at @out; false if not hex. */
bool store_unhex(const char *hex, size_t n, uint8_t *out);

#endif /* STORE_HASH_H */
