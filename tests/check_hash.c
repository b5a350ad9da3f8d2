/* SPDX-License-Identifier: MIT */
/*
 * check_hash.c - unit tests of store/hash.c: SHA-256 against the FIPS
 * 180-2 vectors, incremental against one-shot, and hex both ways.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "store_int.h"

#include "failmalloc.h"

struct vector {
	const char *msg;
	const char *hex;
};

static const struct vector vectors[] = {
	{ "",
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc",
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
};

#define NVECTORS	((int)(sizeof(vectors) / sizeof(vectors[0])))

static void digest_hex(const uint8_t d[STORE_SHA256_LEN], char *hex)
{
	store_hex(d, STORE_SHA256_LEN, hex);
}

START_TEST(test_sha256_vectors)
{
	const struct vector *v = &vectors[_i];
	struct store_sha256 *h;
	uint8_t d[STORE_SHA256_LEN];
	char hex[2 * STORE_SHA256_LEN + 1];
	size_t i, len = strlen(v->msg);

	ck_assert_int_eq(store_sha256(v->msg, len, d), STORE_OK);
	digest_hex(d, hex);
	ck_assert_str_eq(hex, v->hex);

	/* incrementally, a byte at a time */
	h = store_sha256_new();
	ck_assert_ptr_nonnull(h);
	for (i = 0; i < len; i++)
		ck_assert_int_eq(store_sha256_update(h, v->msg + i, 1),
				 STORE_OK);
	ck_assert_int_eq(store_sha256_final(h, d), STORE_OK);
	digest_hex(d, hex);
	ck_assert_str_eq(hex, v->hex);
	store_sha256_free(h);
}
END_TEST

/* A million 'a', fed in uneven pieces. */
START_TEST(test_sha256_million)
{
	struct store_sha256 *h = store_sha256_new();
	char *a = malloc(1000000);
	uint8_t d[STORE_SHA256_LEN];
	char hex[2 * STORE_SHA256_LEN + 1];
	size_t off, n;

	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_nonnull(a);
	memset(a, 'a', 1000000);
	for (off = 0, n = 1; off < 1000000; off += n, n = n * 3 + 1) {
		if (n > 1000000 - off)
			n = 1000000 - off;
		ck_assert_int_eq(store_sha256_update(h, a + off, n), STORE_OK);
	}
	ck_assert_int_eq(store_sha256_final(h, d), STORE_OK);
	digest_hex(d, hex);
	ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67"
			      "f1809a48a497200e046d39ccc7112cd0");
	ck_assert_int_eq(store_sha256(a, 1000000, d), STORE_OK);
	digest_hex(d, hex);
	ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67"
			      "f1809a48a497200e046d39ccc7112cd0");
	store_sha256_free(h);
	free(a);
}
END_TEST

/* final() starts afresh: the object hashes the next message alone. */
START_TEST(test_sha256_reuse)
{
	struct store_sha256 *h = store_sha256_new();
	uint8_t d[STORE_SHA256_LEN];
	char hex[2 * STORE_SHA256_LEN + 1];
	int i;

	ck_assert_ptr_nonnull(h);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(store_sha256_update(h, "abc", 3), STORE_OK);
		ck_assert_int_eq(store_sha256_final(h, d), STORE_OK);
		digest_hex(d, hex);
		ck_assert_str_eq(hex, vectors[1].hex);
	}
	ck_assert_int_eq(store_sha256_final(h, d), STORE_OK);
	digest_hex(d, hex);
	ck_assert_str_eq(hex, vectors[0].hex);
	/* an empty update changes nothing */
	ck_assert_int_eq(store_sha256_update(h, "", 0), STORE_OK);
	ck_assert_int_eq(store_sha256_final(h, d), STORE_OK);
	digest_hex(d, hex);
	ck_assert_str_eq(hex, vectors[0].hex);
	store_sha256_free(h);
}
END_TEST

/*
 * Two at once against one at a time, for every length up to a few blocks
 * past each padding edge (55, 56, 64 bytes) and a few large ones, the two
 * messages different so that a mixed-up stream shows.
 */
START_TEST(test_sha256_x2)
{
	static const size_t big[] = { 1000, 4096, 65535, 65536, 1048576,
				      1048576 + 55, 1048576 + 56 };
	size_t max = 1048576 + 64;
	uint8_t *a = malloc(max), *b = malloc(max);
	uint8_t da[STORE_SHA256_LEN], db[STORE_SHA256_LEN];
	uint8_t ea[STORE_SHA256_LEN], eb[STORE_SHA256_LEN];
	size_t i, len;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	for (i = 0; i < max; i++) {
		a[i] = (uint8_t)(i * 7 + 3);
		b[i] = (uint8_t)(i * 13 + (i >> 8));
	}
	for (i = 0; i < 300 + sizeof(big) / sizeof(big[0]); i++) {
		len = i < 300 ? i : big[i - 300];
		ck_assert_int_eq(store_sha256_x2(a, b, len, da, db), STORE_OK);
		ck_assert_int_eq(store_sha256(a, len, ea), STORE_OK);
		ck_assert_int_eq(store_sha256(b, len, eb), STORE_OK);
		ck_assert_mem_eq(da, ea, STORE_SHA256_LEN);
		ck_assert_mem_eq(db, eb, STORE_SHA256_LEN);
	}
	/* the same message twice, and the FIPS vectors */
	ck_assert_int_eq(store_sha256_x2(a, a, 1000, da, db), STORE_OK);
	ck_assert_mem_eq(da, db, STORE_SHA256_LEN);
	for (i = 0; i < NVECTORS; i++) {
		char hex[2 * STORE_SHA256_LEN + 1];

		len = strlen(vectors[i].msg);
		ck_assert_int_eq(store_sha256_x2(vectors[i].msg,
						 vectors[i].msg, len, da, db),
				 STORE_OK);
		digest_hex(db, hex);
		ck_assert_str_eq(hex, vectors[i].hex);
	}
	free(a);
	free(b);
}
END_TEST

/*
 * The chain against libcrypto: pieces of every awkward size, some with
 * their own digest and some without, block-aligned or not, twice (final
 * starts afresh).
 */
START_TEST(test_sha256_chain)
{
	static const size_t sizes[] = { 4096, 65536, 64, 0, 1048576, 4096,
					100, 4096, 63, 1, 128, 65536, 5000 };
	size_t total = 0, i;
	uint8_t *buf, d[STORE_SHA256_LEN], e[STORE_SHA256_LEN];
	struct store_sha256_chain *c = store_sha256_chain_new();
	struct store_sha256 *h = store_sha256_new();

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		total += sizes[i];
	buf = malloc(total);
	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(h);
	for (i = 0; i < total; i++)
		buf[i] = (uint8_t)(i * 31 + (i >> 9));
	for (int round = 0; round < 2; round++) {
		size_t off = 0;

		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			bool own = (i + (size_t)round) % 3 != 2;

			ck_assert_int_eq(store_sha256_chain_update(c,
					 buf + off, sizes[i], own ? d : NULL),
					 STORE_OK);
			ck_assert_int_eq(store_sha256_update(h, buf + off,
							     sizes[i]),
					 STORE_OK);
			if (own) {
				ck_assert_int_eq(store_sha256(buf + off,
							      sizes[i], e),
						 STORE_OK);
				ck_assert_mem_eq(d, e, STORE_SHA256_LEN);
			}
			off += sizes[i];
		}
		ck_assert_int_eq(store_sha256_chain_final(c, d), STORE_OK);
		ck_assert_int_eq(store_sha256_final(h, e), STORE_OK);
		ck_assert_mem_eq(d, e, STORE_SHA256_LEN);
	}
	/* nothing at all */
	ck_assert_int_eq(store_sha256_chain_final(c, d), STORE_OK);
	store_hex(d, STORE_SHA256_LEN, (char *)buf);
	ck_assert_str_eq((char *)buf, vectors[0].hex);
	store_sha256_chain_free(c);
	store_sha256_chain_free(NULL);
	store_sha256_free(h);
	free(buf);
}
END_TEST

START_TEST(test_sha256_free_null)
{
	store_sha256_free(NULL);
}
END_TEST

/* ---- hex -------------------------------------------------------------- */

START_TEST(test_hex_roundtrip)
{
	uint8_t bin[256], back[256];
	char hex[2 * 256 + 1];
	int i;

	for (i = 0; i < 256; i++)
		bin[i] = (uint8_t)i;
	store_hex(bin, 256, hex);
	ck_assert_uint_eq(strlen(hex), 512);
	ck_assert(strncmp(hex, "000102", 6) == 0);
	ck_assert_str_eq(hex + 500, "fafbfcfdfeff");
	ck_assert(store_unhex(hex, 256, back));
	ck_assert(memcmp(bin, back, 256) == 0);

	store_hex(bin, 0, hex);
	ck_assert_str_eq(hex, "");
	ck_assert(store_unhex("", 0, back));
}
END_TEST

START_TEST(test_unhex)
{
	uint8_t out[4] = { 0 };

	ck_assert(store_unhex("DEADbeef", 4, out));
	ck_assert_uint_eq(out[0], 0xde);
	ck_assert_uint_eq(out[3], 0xef);
	/* reads only 2n digits */
	ck_assert(store_unhex("0a0bzz", 2, out));
	ck_assert_uint_eq(out[1], 0x0b);

	ck_assert(!store_unhex("0g", 1, out));		/* low digit */
	ck_assert(!store_unhex("g0", 1, out));		/* high digit */
	ck_assert(!store_unhex("0a0", 2, out));		/* short */
	ck_assert(!store_unhex("", 1, out));
	ck_assert(!store_unhex("0a:b", 2, out));
	ck_assert(!store_unhex("0a b", 2, out));
	ck_assert(!store_unhex("@`", 1, out));
	ck_assert(!store_unhex("/0", 1, out));
}
END_TEST

/* ---- allocation failures ---------------------------------------------- */
#if FAILMALLOC

START_TEST(test_sha256_new_nomem)
{
	struct store_sha256 *h;
	uint8_t d[STORE_SHA256_LEN], abc[STORE_SHA256_LEN];
	long n, nulls = 0;

	/*
	 * libcrypto 3.0 crashes later when its one-time initialisation runs
	 * out of memory: get that done first, as any real program has.
	 */
	ck_assert_int_eq(store_sha256("abc", 3, abc), STORE_OK);
	for (n = 1;; n++) {
		failmalloc_arm(n);
		h = store_sha256_new();
		if (!failmalloc_disarm())
			break;
		/* libcrypto shrugs off some failures: then h must work */
		if (h) {
			ck_assert_int_eq(store_sha256_update(h, "abc", 3),
					 STORE_OK);
			ck_assert_int_eq(store_sha256_final(h, d), STORE_OK);
			ck_assert(memcmp(d, abc, sizeof(d)) == 0);
		} else {
			nulls++;
		}
		store_sha256_free(h);
	}
	ck_assert_ptr_nonnull(h);
	ck_assert_int_ge(nulls, 2);
	store_sha256_free(h);
}
END_TEST

/*
 * libcrypto may allocate while restarting a digest or hashing in one go:
 * a failure there is reported, never a wrong digest.
 */
START_TEST(test_sha256_crypto_fail)
{
	struct store_sha256 *h;
	uint8_t d[STORE_SHA256_LEN];
	char hex[2 * STORE_SHA256_LEN + 1];
	long n, fails = 0;
	store_rc rc;

	for (n = 1;; n++) {
		h = store_sha256_new();
		ck_assert_ptr_nonnull(h);
		ck_assert_int_eq(store_sha256_update(h, "abc", 3), STORE_OK);
		failmalloc_arm(n);
		rc = store_sha256_final(h, d);
		if (!failmalloc_disarm()) {
			store_sha256_free(h);
			break;
		}
		if (rc != STORE_OK) {
			ck_assert_int_eq(rc, STORE_IO);
			ck_assert(strstr(store_last_error(), "sha-256"));
			fails++;
		}
		store_sha256_free(h);
	}
	ck_assert_int_eq(rc, STORE_OK);
	digest_hex(d, hex);
	ck_assert_str_eq(hex, vectors[1].hex);

	for (n = 1;; n++) {
		failmalloc_arm(n);
		rc = store_sha256("abc", 3, d);
		if (!failmalloc_disarm())
			break;
		if (rc != STORE_OK) {
			ck_assert_int_eq(rc, STORE_IO);
			fails++;
		} else {
			digest_hex(d, hex);
			ck_assert_str_eq(hex, vectors[1].hex);
		}
	}
	ck_assert_int_eq(rc, STORE_OK);
	ck_assert_int_gt(fails, 0);
}
END_TEST

#endif /* FAILMALLOC */

static Suite *hash_suite(void)
{
	Suite *s = suite_create("hash");
	TCase *tc;

	tc = tcase_create("sha256");
	tcase_add_loop_test(tc, test_sha256_vectors, 0, NVECTORS);
	tcase_add_test(tc, test_sha256_million);
	tcase_add_test(tc, test_sha256_reuse);
	tcase_add_test(tc, test_sha256_x2);
	tcase_add_test(tc, test_sha256_chain);
	tcase_add_test(tc, test_sha256_free_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("hex");
	tcase_add_test(tc, test_hex_roundtrip);
	tcase_add_test(tc, test_unhex);
	suite_add_tcase(s, tc);

#if FAILMALLOC
	tc = tcase_create("nomem");
	tcase_add_test(tc, test_sha256_new_nomem);
	tcase_add_test(tc, test_sha256_crypto_fail);
	suite_add_tcase(s, tc);
#endif
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hash_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
