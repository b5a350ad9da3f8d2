/* SPDX-License-Identifier: MIT */
/*
 * check_config.c - unit suite for the store config parser
 * (store/config.c): what it accepts, what it refuses, round trips.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static store_rc parse(const char *text, struct store_config_file *c)
{
	return store_config_parse(text, strlen(text), "cfg", c);
}

#define GOOD "format = 1\nid = 0123456789abcdef0123456789abcdef\n" \
	"connector = file\n"

START_TEST(test_config_defaults)
{
	struct store_config_file c;

	ck_assert_int_eq(parse("# comment\n\n" GOOD, &c), STORE_OK);
	ck_assert_uint_eq(c.chunk_size, STORE_CHUNK_DEFAULT);
	ck_assert_int_eq(c.level, STORE_LEVEL_DEFAULT);
	ck_assert_str_eq(c.file_dir, "objects");
	ck_assert_str_eq(c.connector, "file");
}
END_TEST

START_TEST(test_config_roundtrip)
{
	struct store_config_file c, d;
	char buf[1024];
	size_t n;

	ck_assert_int_eq(parse(GOOD "chunk_size = 65536\nlevel = 9\n"
			       "file.dir = blobs/x\n", &c), STORE_OK);
	n = store_config_format(&c, buf, sizeof(buf));
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(store_config_parse(buf, n, "cfg", &d), STORE_OK);
	ck_assert_uint_eq(d.chunk_size, 65536);
	ck_assert_int_eq(d.level, 9);
	ck_assert_str_eq(d.file_dir, "blobs/x");
	ck_assert_int_eq(parse(GOOD "file.dir = /shared/objects\nsnapshot = "
			       "0123456789abcdef0123456789abcdef0123456789abcdef"
			       "0123456789abcdef\n", &c), STORE_OK);
	ck_assert_str_eq(c.file_dir, "/shared/objects");
	n = store_config_format(&c, buf, sizeof(buf));
	ck_assert_int_eq(store_config_parse(buf, n, "cfg", &d), STORE_OK);
	ck_assert_str_eq(d.snapshot, c.snapshot);
	ck_assert_uint_eq(store_config_format(&c, buf, 10), 0);
}
END_TEST

START_TEST(test_config_refusals)
{
	static const char *const bad[] = {
		"",					/* nothing */
		"format = 1\n",				/* missing keys */
		GOOD "bogus = 1\n",			/* unknown key */
		GOOD "format = 1\n",			/* repeated */
		GOOD "level = 0\n",
		GOOD "level = 20\n",
		GOOD "level = -1\n",
		GOOD "level = 3x\n",
		GOOD "chunk_size = 3000\n",		/* not a power of 2 */
		GOOD "chunk_size = 1024\n",		/* too small */
		GOOD "chunk_size = 134217728\n",	/* too large */
		GOOD "chunk_size = 99999999999999999999999\n",
		GOOD "file.dir = ../escape\n",
		GOOD "file.dir = /\n",
		GOOD "file.dir = /abs/../x\n",
		GOOD "snapshot = 12\n",
		GOOD "file.dir = a//b\n",
		GOOD "just words\n",
		"format = 2\nid = 0123456789abcdef0123456789abcdef\n"
		"connector = file\n",
		"format = 1\nid = XYZ\nconnector = file\n",
		"format = 1\nid = 0123456789abcdef0123456789abcdef\n"
		"connector = ftp\n",
	};
	struct store_config_file c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		store_clear_error();
		ck_assert_msg(parse(bad[i], &c) == STORE_CORRUPT,
			      "accepted: %s", bad[i]);
		ck_assert_str_ne(store_last_error(), "");
	}
}
END_TEST

START_TEST(test_config_nul_and_long_lines)
{
	struct store_config_file c;
	char text[2048];

	ck_assert_int_eq(store_config_parse("format = 1\0x\n", 13, "cfg", &c),
			 STORE_CORRUPT);
	memset(text, 'a', sizeof(text));
	ck_assert_int_eq(store_config_parse(text, sizeof(text), "cfg", &c),
			 STORE_CORRUPT);
}
END_TEST

START_TEST(test_config_redis)
{
	struct store_config_file c, d;
	char buf[2048];
	size_t n;

	ck_assert_int_eq(parse("format = 1\nid = 0123456789abcdef0123456789abcdef\n"
			       "connector = redis\nredis.url = redis://h:1/2\n"
			       "redis.prefix = p:\n"
			       "redis.password_file = /etc/pw\n"
			       "redis.connect_timeout_ms = 500\n"
			       "redis.command_timeout_ms = 900\n", &c),
			 STORE_OK);
	ck_assert_str_eq(c.redis_url, "redis://h:1/2");
	ck_assert_str_eq(c.redis_prefix, "p:");
	ck_assert_uint_eq(c.redis_command_ms, 900);
	n = store_config_format(&c, buf, sizeof(buf));
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(store_config_parse(buf, n, "cfg", &d), STORE_OK);
	ck_assert_str_eq(d.redis_password_file, "/etc/pw");
	ck_assert_uint_eq(d.redis_connect_ms, 500);
	/* redis without a URL, redis keys on a file store, bad values */
	ck_assert_int_eq(parse("format = 1\nid = 0123456789abcdef0123456789abcdef\n"
			       "connector = redis\n", &c), STORE_CORRUPT);
	ck_assert_int_eq(parse(GOOD "redis.url = redis://h:1\n", &c),
			 STORE_CORRUPT);
	ck_assert_int_eq(parse("format = 1\nid = 0123456789abcdef0123456789abcdef\n"
			       "connector = redis\nredis.url = x\n"
			       "redis.password_file = relative\n", &c),
			 STORE_CORRUPT);
	ck_assert_int_eq(parse("format = 1\nid = 0123456789abcdef0123456789abcdef\n"
			       "connector = redis\nredis.url = x\n"
			       "redis.command_timeout_ms = 0\n", &c),
			 STORE_CORRUPT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_config_defaults);
	tcase_add_test(tc, test_config_roundtrip);
	tcase_add_test(tc, test_config_refusals);
	tcase_add_test(tc, test_config_nul_and_long_lines);
	tcase_add_test(tc, test_config_redis);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
