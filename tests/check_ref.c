/* SPDX-License-Identifier: MIT */
/*
 * check_ref.c - unit suite for references, publications and snapshots
 * (store/ref.c) on the file connector.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

#define K64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char dir[256], spath[300];
static struct store *st;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_ref.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(spath, sizeof(spath), "%s/s", dir);
	ck_assert_int_eq(store_create(spath, NULL), STORE_OK);
	ck_assert_int_eq(store_open(spath, 0, &st), STORE_OK);
}

static void teardown(void)
{
	char cmd[400];

	store_close(st);
	st = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void put(const char *name, const char *text, char *key)
{
	struct store_attr a = { 0644, 0, 0, 0 };
	struct store_object o;
	char p[320];
	int fd;

	snprintf(p, sizeof(p), "%s/src", dir);
	fd = open(p, O_CREAT | O_TRUNC | O_RDWR, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	lseek(fd, 0, SEEK_SET);
	ck_assert_int_eq(store_begin(st), STORE_OK);
	ck_assert_int_eq(store_ingest_fd(st, fd, name, NULL, &o), STORE_OK);
	ck_assert_int_eq(store_mkfile(st, STORE_ROOT_INO, name, &a, o.key,
				      NULL, 0, NULL), STORE_OK);
	ck_assert_int_eq(store_commit(st), STORE_OK);
	close(fd);
	if (key)
		memcpy(key, o.key, STORE_KEY_HEX + 1);
}

START_TEST(test_ref_roundtrip)
{
	struct store_ref r, q;
	char buf[STORE_REF_MAX];

	ck_assert_int_eq(store_ref_parse("pxfs://redis/object/" K64
					 "?url=redis%3A%2F%2Fh%3A1%2F2"
					 "&prefix=a%20b%3A&size=12&type=text"
					 "%2Fplain%3B%20charset%3Dutf-8", &r),
			 STORE_OK);
	ck_assert_int_eq(r.kind, STORE_REF_OBJECT);
	ck_assert_str_eq(r.url, "redis://h:1/2");
	ck_assert_str_eq(r.prefix, "a b:");
	ck_assert_str_eq(r.type, "text/plain; charset=utf-8");
	ck_assert(r.has_size);
	ck_assert_uint_eq(r.size, 12);
	ck_assert_int_eq(store_ref_format(&r, buf, sizeof(buf)), STORE_OK);
	ck_assert_int_eq(store_ref_parse(buf, &q), STORE_OK);
	ck_assert_str_eq(q.url, r.url);
	ck_assert_str_eq(q.prefix, r.prefix);
	ck_assert_str_eq(q.type, r.type);
	ck_assert_int_eq(store_ref_format(&r, buf, 20), STORE_INVAL);
	ck_assert_int_eq(store_ref_parse("pxfs://file/tag/nightly-1.x"
					 "?dir=/a/b", &r), STORE_OK);
	ck_assert_int_eq(r.kind, STORE_REF_TAG);
	ck_assert_str_eq(r.id, "nightly-1.x");
}
END_TEST

START_TEST(test_ref_refusals)
{
	static const char *const bad[] = {
		"",
		"http://file/snapshot/" K64 "?dir=/x",
		"pxfs://",
		"pxfs://ftp/snapshot/" K64 "?dir=/x",
		"pxfs://file/thing/" K64 "?dir=/x",
		"pxfs://file/snapshot/abc?dir=/x",
		"pxfs://file/snapshot/" K64,
		"pxfs://file/snapshot/" K64 "?dir=relative",
		"pxfs://file/snapshot/" K64 "?dir=/x&dir=/y",
		"pxfs://file/snapshot/" K64 "?dir=/x&bogus=1",
		"pxfs://file/snapshot/" K64 "?dir",
		"pxfs://file/snapshot/" K64 "?dir=/x%0a",
		"pxfs://file/snapshot/" K64 "?dir=/x%",
		"pxfs://file/snapshot/" K64 "?dir=/x%zz",
		"pxfs://file/snapshot/" K64 "?dir=/x%00y",
		"pxfs://file/snapshot/" K64 "?dir=/x&size=3",
		"pxfs://file/snapshot/" K64 "?dir=/x&url=redis%3A%2F%2Fh",
		"pxfs://redis/snapshot/" K64 "?prefix=p",
		"pxfs://redis/snapshot/" K64 "?url=&prefix=p",
		"pxfs://redis/snapshot/" K64 "?url=u&dir=/x",
		"pxfs://redis/object/" K64 "?url=u&size=-1",
		"pxfs://redis/object/" K64 "?url=u&size=1x",
		"pxfs://redis/object/" K64 "?url=u&size=99999999999999999999999",
		"pxfs://file/tag/.hidden?dir=/x",
		"pxfs://file/tag/a/b?dir=/x",
	};
	struct store_ref r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(store_ref_parse(bad[i], &r) == STORE_INVAL,
			      "accepted: %s", bad[i]);
	ck_assert_int_eq(store_ref_parse(NULL, &r), STORE_INVAL);
	ck_assert(!store_is_tag_name(""));
	ck_assert(!store_is_tag_name("a b"));
	ck_assert(store_is_tag_name("A.b_c-9"));
}
END_TEST

/* Raw bytes take three each once percent-encoded (found by
 * tests/fuzz/fuzz_ref): a reference that parses also prints, in
 * STORE_REF_MAX bytes; one that could not is refused. */
START_TEST(test_ref_long)
{
	char text[STORE_REF_MAX], buf[STORE_REF_MAX];
	struct store_ref r, q;
	size_t n;

	n = (size_t)snprintf(text, sizeof(text), "pxfs://redis/object/" K64
			     "?url=redis://h:1/");
	memset(text + n, ':', 1000);
	n += 1000;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "&prefix=");
	memset(text + n, '!', 250);
	n += 250;
	text[n] = '\0';
	ck_assert_int_eq(store_ref_parse(text, &r), STORE_OK);
	ck_assert_int_eq(store_ref_format(&r, buf, sizeof(buf)), STORE_OK);
	ck_assert_int_eq(store_ref_parse(buf, &q), STORE_OK);
	ck_assert_str_eq(q.url, r.url);
	ck_assert_str_eq(q.prefix, r.prefix);
	/* 1.6 KiB of text, more than STORE_REF_MAX written out */
	n += (size_t)snprintf(text + n, sizeof(text) - n, "&type=");
	memset(text + n, '!', 120);
	n += 120;
	n += (size_t)snprintf(text + n, sizeof(text) - n,
			      "&size=18446744073709551615");
	ck_assert_uint_lt(n, 1700);
	ck_assert_int_eq(store_ref_parse(text, &r), STORE_INVAL);
	ck_assert_msg(strstr(store_last_error(), "too long"), "%s",
		      store_last_error());
}
END_TEST

START_TEST(test_ref_object_and_link)
{
	struct store_ref r;
	struct store *other = NULL;
	struct store_object o;
	char key[65], buf[STORE_REF_MAX], p[320];

	put("a", "hello references\n", key);
	ck_assert_int_eq(store_ref_make(st, STORE_REF_OBJECT, key, &r),
			 STORE_OK);
	ck_assert_uint_eq(r.size, 17);
	ck_assert_ptr_nonnull(strstr(r.type, "text/plain"));
	ck_assert_int_eq(store_ref_format(&r, buf, sizeof(buf)), STORE_OK);
	ck_assert(store_ref_same_connector(st, &r));
	ck_assert_int_eq(store_ref_make(st, STORE_REF_OBJECT, K64, &r),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_ref_make(st, STORE_REF_TAG, "no tag!", &r),
			 STORE_INVAL);
	snprintf(p, sizeof(p), "%s/o", dir);
	ck_assert_int_eq(store_create(p, NULL), STORE_OK);
	ck_assert_int_eq(store_open(p, 0, &other), STORE_OK);
	ck_assert_int_eq(store_ref_parse(buf, &r), STORE_OK);
	ck_assert(!store_ref_same_connector(other, &r));
	store_close(other);
	(void)o;
}
END_TEST

START_TEST(test_ref_publish_and_open)
{
	struct store_fsck_report rep;
	struct store_ref r;
	struct store *snap = NULL, *again = NULL;
	struct store_node n;
	struct store_object o;
	char key[65], skey[65], tkey[65], cache[320], out[320];
	int fd;

	put("a", "first file\n", key);
	ck_assert_int_eq(store_publish(st, "latest", skey), STORE_OK);
	ck_assert_int_eq(store_publish(st, "bad tag", skey), STORE_INVAL);
	/* the snapshot and what it names survive gc; fsck stays clean */
	ck_assert_int_eq(store_gc(st, NULL, NULL, NULL, NULL), STORE_OK);
	ck_assert_int_eq(store_object_info(st, skey, &o), STORE_OK);
	ck_assert_uint_eq(o.refs, 1);
	ck_assert_int_eq(store_fsck(st, true, NULL, NULL, &rep), STORE_OK);
	ck_assert_uint_eq(rep.bad_refs + rep.unreferenced + rep.orphans, 0);
	/* a tag resolves to it */
	ck_assert_int_eq(store_ref_make(st, STORE_REF_TAG, "latest", &r),
			 STORE_OK);
	ck_assert_int_eq(store_ref_resolve(&r, tkey), STORE_OK);
	ck_assert_str_eq(tkey, skey);
	/* open it as a read-only store elsewhere */
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	ck_assert_int_eq(store_ref_open(&r, skey, cache, &snap), STORE_OK);
	ck_assert_int_eq(store_walk(snap, "a", &n), STORE_OK);
	ck_assert_str_eq(n.key, key);
	ck_assert_str_eq(store_id(snap), store_id(st));
	snprintf(out, sizeof(out), "%s/out", dir);
	fd = open(out, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	ck_assert_int_eq(store_export_fd(snap, key, fd, "a"), STORE_OK);
	close(fd);
	{
		struct store_attr a = { 0755, 0, 0, 0 };

		ck_assert_int_eq(store_mkdir(snap, STORE_ROOT_INO, "x", &a, 0,
					     NULL), STORE_ROFS);
	}
	/* a second open reuses the copy */
	ck_assert_int_eq(store_ref_open(&r, skey, cache, &again), STORE_OK);
	store_close(again);
	store_close(snap);
	/* later changes are not in the old snapshot, but in a new one */
	put("b", "second file\n", NULL);
	ck_assert_int_eq(store_publish(st, "latest", tkey), STORE_OK);
	ck_assert_str_ne(tkey, skey);
	ck_assert_int_eq(store_ref_resolve(&r, skey), STORE_OK);
	ck_assert_str_eq(tkey, skey);
	ck_assert_int_eq(store_ref_open(&r, skey, cache, &snap), STORE_OK);
	ck_assert_int_eq(store_walk(snap, "b", &n), STORE_OK);
	store_close(snap);
}
END_TEST

START_TEST(test_ref_open_errors)
{
	struct store_ref r;
	struct store *snap = (struct store *)1;
	char skey[65], cache[320], blob[400], cmd[900];

	put("a", "x", NULL);
	ck_assert_int_eq(store_publish(st, NULL, skey), STORE_OK);
	ck_assert_int_eq(store_ref_make(st, STORE_REF_SNAPSHOT, skey, &r),
			 STORE_OK);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	/* missing snapshot */
	ck_assert_int_eq(store_ref_open(&r, K64, cache, &snap),
			 STORE_NOTFOUND);
	ck_assert_ptr_null(snap);
	/* an unknown tag */
	{
		struct store_ref t = r;

		t.kind = STORE_REF_TAG;
		snprintf(t.id, sizeof(t.id), "none");
		char k[65];

		ck_assert_int_eq(store_ref_resolve(&t, k), STORE_NOTFOUND);
	}
	/* a corrupt snapshot: flip a byte of its blob */
	snprintf(blob, sizeof(blob), "%s/objects/%.2s/%s", spath, r.id, r.id);
	snprintf(cmd, sizeof(cmd), "printf 'XXXX' | dd of='%s' bs=1 seek=20"
		 " conv=notrunc status=none", blob);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(store_ref_open(&r, r.id, cache, &snap),
			 STORE_CORRUPT);
	ck_assert_ptr_null(snap);
	ck_assert_ptr_nonnull(strstr(store_last_error(), "snapshot"));
}
END_TEST

START_TEST(test_ref_switch)
{
	struct store_ref r;
	struct store *snap = NULL, *next = NULL;
	struct store_node n;
	char k1[65], k2[65], cache[320], d2[400];

	put("a", "one\n", NULL);
	ck_assert_int_eq(store_publish(st, "t", k1), STORE_OK);
	put("b", "two\n", NULL);
	ck_assert_int_eq(store_publish(st, "t", k2), STORE_OK);
	ck_assert_int_eq(store_ref_make(st, STORE_REF_TAG, "t", &r), STORE_OK);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	ck_assert_int_eq(store_ref_open(&r, k1, cache, &snap), STORE_OK);
	ck_assert_int_eq(store_walk(snap, "b", &n), STORE_NOTFOUND);
	ck_assert_int_eq(store_ref_open(&r, k2, cache, &next), STORE_OK);
	store_close(next);
	snprintf(d2, sizeof(d2), "%s/%s", cache, k2);
	ck_assert_int_eq(store_switch_index(snap, d2), STORE_OK);
	ck_assert_int_eq(store_walk(snap, "b", &n), STORE_OK);
	/* not a snapshot, or a snapshot of another store */
	ck_assert_int_eq(store_switch_index(st, d2), STORE_INVAL);
	ck_assert_int_eq(store_switch_index(snap, spath), STORE_INVAL);
	store_close(snap);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ref");
	TCase *tc;
	SRunner *sr;
	int failed;

	tc = tcase_create("parse");
	tcase_add_test(tc, test_ref_roundtrip);
	tcase_add_test(tc, test_ref_refusals);
	tcase_add_test(tc, test_ref_long);
	suite_add_tcase(s, tc);
	tc = tcase_create("share");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ref_object_and_link);
	tcase_add_test(tc, test_ref_publish_and_open);
	tcase_add_test(tc, test_ref_open_errors);
	tcase_add_test(tc, test_ref_switch);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
