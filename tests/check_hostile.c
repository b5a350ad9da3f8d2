/* SPDX-License-Identifier: MIT */
/*
 * check_hostile.c - unit suite: a hostile index.db never gets a key that
 * is not 64 lowercase hex digits to the connector.
 *
 * The design trusts the index but keeps connector keys to [0-9a-f]{64}
 * so that no key can name a path outside the blob directory or a foreign
 * Redis key, and every connector checks again (check_conn_file and
 * check_conn_redis: test_conn_bad_keys, test_redis_bad_keys).  This suite
 * checks the layer above: a store whose index.db was rewritten to hold a
 * hostile key (a path, a glob, the wrong length or case) in objects,
 * nodes, chunks, publications and external_moved is opened with a spy
 * in front of its connector, and everything that reads or changes the
 * store is called on it (lookups, reads, exports, fsck, gc, unlink,
 * evictions, adopt, link, lifetimes).  Any call may fail; none may pass
 * the spy a bad key, and the file that a traversal key would name stays
 * as it was.
 */
#include <check.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "store.h"
#include "store_int.h"

static char dir[256];
static char spath[300];
static char canary[300];
static struct store *st;

/* ---- the spy ----------------------------------------------------------- */

static const struct store_conn_ops *real;
static struct store_conn_ops spy;
static int bad_calls;
static char first_bad[160];

static void seen(const char *op, const char *key)
{
	if (key && store_is_key(key))
		return;
	if (!bad_calls++)
		snprintf(first_bad, sizeof(first_bad), "%s('%.100s')", op,
			 key ? key : "(null)");
}

static store_rc spy_put_commit(struct store_conn_put *p, const char *key)
{
	seen("put_commit", key);
	return real->put_commit(p, key);
}

static store_rc spy_put_commit_nosync(struct store_conn_put *p,
				      const char *key)
{
	seen("put_commit_nosync", key);
	return real->put_commit_nosync(p, key);
}

static store_rc spy_get(struct store_conn *c, const char *key, uint64_t off,
			size_t len, void *buf)
{
	seen("get", key);
	return real->get(c, key, off, len, buf);
}

static store_rc spy_stat(struct store_conn *c, const char *key,
			 uint64_t *size)
{
	seen("stat", key);
	return real->stat(c, key, size);
}

static store_rc spy_evict(struct store_conn *c, const char *key)
{
	seen("evict", key);
	return real->evict(c, key);
}

static store_rc spy_tag_set(struct store_conn *c, const char *name,
			    const char *key)
{
	seen("tag_set", key);
	return real->tag_set(c, name, key);
}

static void spy_on(struct store *s)
{
	real = s->conn->ops;
	spy = *real;
	spy.put_commit = spy_put_commit;
	spy.put_commit_nosync = spy_put_commit_nosync;
	spy.get = spy_get;
	spy.stat = spy_stat;
	spy.evict = spy_evict;
	spy.tag_set = spy_tag_set;
	s->conn->ops = &spy;
}

/* ---- the hostile store ------------------------------------------------ */

static const char *const hostile[] = {
	"../config",			/* a path: the canary beside the store */
	"../../../../../../../../etc/passwd",
	"/etc/passwd",
	"*",				/* a Redis glob */
	"{x}y",				/* a Redis hash tag */
	"",
	"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n",
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab/../",
};
#define NHOSTILE	((int)(sizeof(hostile) / sizeof(hostile[0])))

static void rm_rf(const char *p)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", p);
}

static void put(struct store *s, const char *name, const char *content,
		char key[STORE_KEY_HEX + 1])
{
	struct store_attr a = { 0644, 0, 0, 0 };
	struct store_object o;
	char p[400];
	int fd;

	snprintf(p, sizeof(p), "%s/src", dir);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, strlen(content)),
			 (ssize_t)strlen(content));
	lseek(fd, 0, SEEK_SET);
	ck_assert_int_eq(store_begin(s), STORE_OK);
	ck_assert_int_eq(store_ingest_fd(s, fd, name, NULL, &o), STORE_OK);
	ck_assert_int_eq(store_mkfile(s, STORE_ROOT_INO, name, &a, o.key,
				      NULL, 0, NULL), STORE_OK);
	ck_assert_int_eq(store_commit(s), STORE_OK);
	close(fd);
	unlink(p);
	memcpy(key, o.key, STORE_KEY_HEX + 1);
}

static void exec_sql(sqlite3 *db, const char *sql, const char *a,
		     const char *b)
{
	sqlite3_stmt *s = NULL;

	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK,
		      "%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(s, 2, b, -1, SQLITE_STATIC);
	ck_assert_msg(sqlite3_step(s) == SQLITE_DONE, "%s: %s", sql,
		      sqlite3_errmsg(db));
	sqlite3_finalize(s);
}

/* Rewrite object @key as @bad everywhere the index names it. */
static void poison(const char *key, const char *bad, const char *other)
{
	char db_path[400];
	sqlite3 *db = NULL;

	snprintf(db_path, sizeof(db_path), "%s/index.db", spath);
	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	exec_sql(db, "UPDATE objects SET key = ?2 WHERE key = ?1", key, bad);
	exec_sql(db, "UPDATE chunks SET key = ?2 WHERE key = ?1", key, bad);
	exec_sql(db, "UPDATE nodes SET key = ?2 WHERE key = ?1", key, bad);
	/* a publication that keeps a hostile "snapshot" from gc, and a
	 * moved external object that points at one */
	exec_sql(db, "INSERT INTO publications(key, tag, created)"
		 " VALUES(?1, 't', 0)", bad, NULL);
	exec_sql(db, "INSERT INTO external_moved(key, to_key, moved)"
		 " VALUES(?1, ?2, 0)", other, bad);
	sqlite3_close(db);
}

static void setup(void)
{
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/check_hostile.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(spath, sizeof(spath), "%s/s", dir);
	/* what "../config" would name from the blob directory */
	snprintf(canary, sizeof(canary), "%s/config", dir);
	f = fopen(canary, "w");
	ck_assert_ptr_nonnull(f);
	fputs("canary\n", f);
	fclose(f);
	ck_assert_int_eq(store_create(spath, NULL), STORE_OK);
	bad_calls = 0;
	first_bad[0] = '\0';
}

static void teardown(void)
{
	store_close(st);
	st = NULL;
	rm_rf(dir);
}

static int count_child(void *arg, const struct store_node *n)
{
	(void)n;
	(*(int *)arg)++;
	return 0;
}

static int null_out(void)
{
	return open("/dev/null", O_WRONLY);
}

/* Every way to touch an object by what the index says its key is. */
static void exercise(const char *name, const char *other)
{
	struct store_attr a = { 0644, 0, 0, 0 };
	struct store_fsck_report r;
	struct store_object o;
	struct store_node n;
	struct store_ref ref;
	static char buf[STORE_CHUNK_DEFAULT];
	char target[64];
	size_t got;
	int fd, count = 0;

	(void)store_readdir(st, STORE_ROOT_INO, 0, count_child, &count);
	if (store_walk(st, name, &n) == STORE_OK) {
		(void)store_getattr(st, n.ino, &n);
		(void)store_object_info(st, n.key, &o);
		(void)store_read_chunk(st, n.key, 0, buf, sizeof(buf), &got,
				       name);
		(void)store_check_chunk(st, n.key, 0, "x", 1);
		fd = null_out();
		(void)store_export_fd(st, n.key, fd, name);
		close(fd);
		(void)store_is_evict_on_read(st, n.key);
		(void)store_set_evict_on_read(st, n.key);
		(void)store_evicted_after_read(st, n.key);
		(void)store_ref_make(st, STORE_REF_OBJECT, n.key, &ref);
		(void)store_adopt(st, n.key, &o);
		(void)store_mkfile(st, STORE_ROOT_INO, "copy", &a, n.key,
				   NULL, 0, NULL);
		(void)store_set_content(st, n.ino, n.key, NULL, 0, NULL);
		(void)store_readlink(st, n.ino, target, sizeof(target));
	}
	/* the other file reads normally, and may be moved to the key */
	if (store_walk(st, other, &n) == STORE_OK) {
		fd = null_out();
		(void)store_export_fd(st, n.key, fd, other);
		close(fd);
	}
	(void)store_fsck(st, false, NULL, NULL, &r);
	(void)store_fsck(st, true, NULL, NULL, &r);
	(void)store_gc(st, NULL, NULL, NULL, NULL);
	(void)store_set_lifetime(st, STORE_ROOT_INO + 1, "lt");
	(void)store_lifetime_end(st, "lt", NULL);
	(void)store_unlink(st, STORE_ROOT_INO, "copy");
	(void)store_unlink(st, STORE_ROOT_INO, name);
	(void)store_gc(st, NULL, NULL, NULL, NULL);
	(void)store_fsck(st, true, NULL, NULL, &r);
}

START_TEST(test_hostile_key_never_reaches_connector)
{
	const char *bad = hostile[_i];
	char key[STORE_KEY_HEX + 1], okey[STORE_KEY_HEX + 1], back[16];
	FILE *f;

	ck_assert_int_eq(store_open(spath, 0, &st), STORE_OK);
	put(st, "victim", "the hostile row's content\n", key);
	put(st, "other", "an honest file\n", okey);
	store_close(st);
	st = NULL;
	poison(key, bad, okey);

	/* refusing the index is fine too */
	if (store_open(spath, 0, &st) == STORE_OK) {
		spy_on(st);
		exercise("victim", "other");
		store_close(st);
		st = NULL;
	}
	ck_assert_msg(bad_calls == 0, "key '%s': %d connector calls with a"
		      " bad key, first %s", bad, bad_calls, first_bad);

	/* read-only, as a mount of a published snapshot opens it */
	if (store_open(spath, STORE_OPEN_RDONLY, &st) == STORE_OK) {
		spy_on(st);
		exercise("victim", "other");
		store_close(st);
		st = NULL;
	}
	ck_assert_msg(bad_calls == 0, "key '%s' (read-only): first %s", bad,
		      first_bad);

	f = fopen(canary, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(back, sizeof(back), f));
	fclose(f);
	ck_assert_str_eq(back, "canary\n");
}
END_TEST

static Suite *hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("keys");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_hostile_key_never_reaches_connector, 0,
			    NHOSTILE);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hostile_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
