/* SPDX-License-Identifier: MIT */
/*
 * check_index.c - unit suite for store/index.c on indexes it did not
 * write: a published snapshot comes from someone else, so an index.db
 * with a view where a table should be is refused at open (found by
 * tests/fuzz/fuzz_index_sql: a view over an endless recursive query hung
 * every read).
 */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

static char dir[256];
static char spath[300];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_index.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(spath, sizeof(spath), "%s/s", dir);
	ck_assert_int_eq(store_create(spath, NULL), STORE_OK);
}

static void teardown(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Run @sql on the store's index.db, as someone else could have. */
static void index_exec(const char *sql)
{
	sqlite3 *db = NULL;
	char p[400];

	snprintf(p, sizeof(p), "%s/index.db", spath);
	ck_assert_int_eq(sqlite3_open(p, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK,
		      "%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static const char *const hostile[] = {
	/* every read of nodes would never end */
	"ALTER TABLE nodes RENAME TO n0;"
	"CREATE VIEW nodes AS WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL"
	" SELECT i + 1 FROM c) SELECT n0.* FROM n0, c",
	/* nor would the first read of all, the schema version */
	"ALTER TABLE meta RENAME TO m0;"
	"CREATE VIEW meta AS WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL"
	" SELECT i + 1 FROM c) SELECT m0.* FROM m0, c",
	/* a view of its own: none belongs in an index */
	"CREATE VIEW v AS SELECT 1",
};

START_TEST(test_index_hostile_schema)
{
	struct store *st = NULL;

	index_exec(hostile[_i]);
	ck_assert_int_eq(store_open(spath, 0, &st), STORE_CORRUPT);
	ck_assert_ptr_null(st);
	ck_assert_msg(strstr(store_last_error(), "holds a view"),
		      "%s", store_last_error());
	ck_assert_int_eq(store_open(spath, STORE_OPEN_RDONLY, &st),
			 STORE_CORRUPT);
}
END_TEST

/* What the store makes itself (its triggers included) still opens. */
START_TEST(test_index_own_schema)
{
	struct store_attr a = { 0755, 0, 0, 0 };
	struct store_node n;
	struct store *st = NULL;

	ck_assert_int_eq(store_open(spath, 0, &st), STORE_OK);
	ck_assert_int_eq(store_mkdir(st, STORE_ROOT_INO, "d", &a, 0, &n),
			 STORE_OK);
	store_close(st);
	index_exec("CREATE INDEX extra ON nodes(mtime)");
	ck_assert_int_eq(store_open(spath, STORE_OPEN_RDONLY, &st), STORE_OK);
	ck_assert_int_eq(store_walk(st, "d", &n), STORE_OK);
	store_close(st);
}
END_TEST

static Suite *index_suite(void)
{
	Suite *s = suite_create("index");
	TCase *tc;

	tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_index_hostile_schema, 0,
			    sizeof(hostile) / sizeof(hostile[0]));
	tcase_add_test(tc, test_index_own_schema);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(index_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
