/* SPDX-License-Identifier: MIT */
/*
 * hash.c - SHA-256 through OpenSSL's EVP interface, and hex.
 *
 * libcrypto rather than a bundled SHA-256: its assembly (SHA-NI, AVX2) is
 * the fastest SHA-256 on Debian, and every byte a store puts or serves is
 * hashed.  The incremental object keeps one EVP_MD_CTX and re-initialises
 * it with the digest it already holds, which skips OpenSSL 3's implicit
 * fetch on every object.
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "hash.h"
#include "store_int.h"

struct store_sha256 {
	EVP_MD_CTX *ctx;	/* initialised for SHA-256 between calls */
};

/* Record libcrypto's reason for a failure of @what. */
static store_rc crypto_fail(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "unknown error");
	ERR_clear_error();
	return store_fail(STORE_IO, "sha-256 %s failed: %s", what, buf);
}

struct store_sha256 *store_sha256_new(void)
{
	struct store_sha256 *h;

	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		ERR_clear_error();
		EVP_MD_CTX_free(h->ctx);
		free(h);
		return NULL;
	}
	return h;
}

void store_sha256_free(struct store_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

store_rc store_sha256_update(struct store_sha256 *h, const void *p,
			     size_t len)
{
	if (EVP_DigestUpdate(h->ctx, p, len) != 1)
		return crypto_fail("update");
	return STORE_OK;
}

store_rc store_sha256_final(struct store_sha256 *h,
			    uint8_t out[STORE_SHA256_LEN])
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1)
		return crypto_fail("final");
	/* NULL keeps the digest the context holds: no new fetch */
	if (EVP_DigestInit_ex(h->ctx, NULL, NULL) != 1)
		return crypto_fail("init");
	return STORE_OK;
}

store_rc store_sha256(const void *p, size_t len,
		      uint8_t out[STORE_SHA256_LEN])
{
	if (EVP_Digest(p, len, out, NULL, EVP_sha256(), NULL) != 1)
		return crypto_fail("digest");
	return STORE_OK;
}

void store_hex(const uint8_t *bin, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool store_unhex(const char *hex, size_t n, uint8_t *out)
{
	size_t i;

	/* stops at the first non-hex character, so never reads past a NUL */
	for (i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]);
		int lo;

		if (hi < 0)
			return false;
		lo = hexval(hex[2 * i + 1]);
		if (lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}
