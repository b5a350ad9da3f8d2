/* SPDX-License-Identifier: MIT */
/*
 * fuzz_index_sql.c - a hostile index.db made with SQL.
 *
 * fuzz_index mutates index.db's bytes, which mostly gives SQLite a
 * malformed file; a hostile index is more often a well-formed one with
 * values nobody expected: names with '/' or 300 bytes, parents that make
 * a cycle, keys that are not hex, chunk tables that disagree with their
 * objects, sizes near 2^63, views and triggers standing in for tables.
 * Here the input is SQL, run against the store's real index (made once
 * per process) before the store is opened over it and read every way a
 * mount or the CLI reads it (fz_store_exercise).
 *
 * The SQL may change anything inside index.db and nothing outside it:
 * ATTACH, VACUUM and file-naming pragmas are refused, and a statement
 * runs at most a bounded number of VM steps.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"

#include "fuzzlib.h"

#define SQL_MAX		8192
#define STEPS_MAX	2000000	/* VM instructions of the input's SQL */

static const void *base_db;
static size_t base_len;

static const char *const seeds[][2] = {
	{ "noop", "SELECT 1;" },
	{ "name-slash", "UPDATE nodes SET name = 'x/y' WHERE name = 'a.txt';" },
	{ "name-long", "UPDATE nodes SET name = printf('%.300c', 'n');" },
	{ "name-dots", "UPDATE nodes SET name = '..' WHERE name = 'd';" },
	{ "name-null-byte",
	  "UPDATE nodes SET name = CAST(x'61006200' AS TEXT);" },
	{ "name-blob", "UPDATE nodes SET name = randomblob(40);" },
	{ "cycle", "UPDATE nodes SET parent = ino WHERE name = 'd';" },
	{ "cycle-2", "UPDATE nodes SET parent = (SELECT ino FROM nodes"
	  " WHERE name = 'e') WHERE name = 'd';" },
	{ "root-parent", "UPDATE nodes SET parent = 1 WHERE ino = 1;" },
	{ "root-file", "UPDATE nodes SET mode = 33188, key = (SELECT key"
	  " FROM objects LIMIT 1) WHERE ino = 1;" },
	{ "no-root", "DELETE FROM nodes WHERE ino = 1;" },
	{ "key-null", "UPDATE nodes SET key = NULL;" },
	{ "key-path", "UPDATE nodes SET key = '../../../../etc/passwd'"
	  " WHERE key IS NOT NULL;" },
	{ "key-upper", "UPDATE nodes SET key = upper(key);"
	  "UPDATE objects SET key = upper(key), hash = upper(hash);" },
	{ "key-long", "UPDATE nodes SET key = key || key;" },
	{ "type-long", "UPDATE nodes SET type = printf('%.500c', 't');"
	  "UPDATE objects SET type = printf('%.500c', 't');" },
	{ "mode-zero", "UPDATE nodes SET mode = 0;" },
	{ "mode-link-no-target", "UPDATE nodes SET mode = 41471, target ="
	  " NULL;" },
	{ "mode-dir-file", "UPDATE nodes SET mode = 16877 WHERE key IS NOT"
	  " NULL;" },
	{ "mode-huge", "UPDATE nodes SET mode = -1, uid = -1, gid ="
	  " 4294967296, mtime = 9223372036854775807, ctime = -1;" },
	{ "target-long", "UPDATE nodes SET target = printf('%.5000c', 'l')"
	  " WHERE target IS NOT NULL;" },
	{ "size-huge", "UPDATE nodes SET size = 9223372036854775807;"
	  "UPDATE objects SET size = -1, stored_size ="
	  " 9223372036854775807;" },
	{ "chunk-size-zero", "UPDATE objects SET chunk_size = 0;" },
	{ "chunk-size-odd", "UPDATE objects SET chunk_size = 4097;" },
	{ "chunk-size-huge", "UPDATE objects SET chunk_size = 2147483648;" },
	{ "chunk-size-neg", "UPDATE objects SET chunk_size = -4096;" },
	{ "nchunks-huge", "UPDATE objects SET nchunks = 4294967295;" },
	{ "nchunks-more", "UPDATE objects SET nchunks = nchunks + 1;" },
	{ "nchunks-less", "UPDATE objects SET nchunks = nchunks - 1;" },
	{ "chunk-missing", "DELETE FROM chunks WHERE idx = 1;" },
	{ "chunk-extra", "INSERT INTO chunks SELECT key, idx + 100, coff,"
	  " csize, dsize, sha256 FROM chunks;" },
	{ "chunk-csize-huge", "UPDATE chunks SET csize = 4294967295;" },
	{ "chunk-csize-zero", "UPDATE chunks SET csize = 0;" },
	{ "chunk-dsize-huge", "UPDATE chunks SET dsize = 2147483647;" },
	{ "chunk-dsize-zero", "UPDATE chunks SET dsize = 0;" },
	{ "chunk-coff-neg", "UPDATE chunks SET coff = -5;" },
	{ "chunk-coff-huge", "UPDATE chunks SET coff = 9223372036854775807;" },
	{ "chunk-swap", "UPDATE chunks SET idx = 1 - idx WHERE idx < 2;" },
	{ "chunk-sha-short", "UPDATE chunks SET sha256 = x'00';" },
	{ "chunk-sha-text", "UPDATE chunks SET sha256 = 'abc';" },
	{ "chunk-sha-null", "UPDATE chunks SET sha256 = NULL;" },
	{ "object-pending", "UPDATE objects SET state = 1;"
	  " UPDATE nodes SET flags = 1;" },
	{ "object-evicted", "UPDATE objects SET state = 2, flags = 1;" },
	{ "object-missing", "DELETE FROM objects;" },
	{ "object-refs", "UPDATE objects SET refs = -1;" },
	{ "wait-huge", "UPDATE objects SET wait_timeout ="
	  " 9223372036854775807, wait_poll = -1, wait_max = 0,"
	  " wait_backoff = 1e308;" },
	{ "lifetime-null", "UPDATE nodes SET lifetime = NULL;"
	  " UPDATE lifetimes SET name = printf('%.400c', 'j');" },
	{ "lifetime-expired", "UPDATE lifetimes SET expires = 1;" },
	{ "meta-version", "UPDATE meta SET value = '2';" },
	{ "meta-gone", "DELETE FROM meta;" },
	{ "no-chunks", "DROP TABLE chunks;" },
	{ "nodes-view", "ALTER TABLE nodes RENAME TO n0;"
	  " CREATE VIEW nodes AS SELECT * FROM n0;" },
	{ "wide-dir", "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT"
	  " i + 1 FROM c WHERE i < 300) INSERT INTO nodes(parent, name, mode,"
	  " uid, gid, mtime, ctime) SELECT 1, 'f' || i, 16877, 0, 0, 0, 0"
	  " FROM c;" },
	{ "deep-dir", "WITH RECURSIVE c(i) AS (SELECT 100 UNION ALL SELECT"
	  " i + 1 FROM c WHERE i < 200) INSERT INTO nodes(ino, parent, name,"
	  " mode, uid, gid, mtime, ctime) SELECT i, CASE WHEN i = 100 THEN 1"
	  " ELSE i - 1 END, 'x', 16877, 0, 0, 0, 0 FROM c;" },
	{ "publication", "INSERT INTO publications SELECT key, 'tag', 0 FROM"
	  " objects;" },
	{ "external-file", "UPDATE objects SET state = 3, source ="
	  " 'proxystore-file:/nonexistent/12345678-1234-4234-8234-"
	  "123456789abc', source_off = 3 WHERE size > 0;" },
	{ "external-redis", "UPDATE objects SET state = 3, source ="
	  " 'proxystore-redis:redis://h:6379/0/12345678-1234-4234-8234-"
	  "123456789abc', source_off = 3 WHERE size > 0;" },
	{ "external-path", "UPDATE objects SET state = 3, source ="
	  " 'proxystore-file:/etc/passwd', source_off = -1;" },
	{ "external-moved", "INSERT INTO external_moved SELECT key, key, 0"
	  " FROM objects;" },
};

static bool is_word_at(const char *s, const char *w)
{
	for (; *w; s++, w++)
		if (tolower((unsigned char)*s) != *w)
			return false;
	return true;
}

/* Refuse what could reach outside index.db. */
static bool is_allowed(const char *sql)
{
	for (const char *p = sql; *p; p++) {
		if (is_word_at(p, "attach") || is_word_at(p, "vacuum") ||
		    is_word_at(p, "load_extension"))
			return false;
	}
	return true;
}

static int authorize(void *arg, int action, const char *a, const char *b,
		     const char *c, const char *d)
{
	(void)arg;
	(void)b;
	(void)c;
	(void)d;
	switch (action) {
	case SQLITE_ATTACH:
	case SQLITE_DETACH:
		return SQLITE_DENY;
	case SQLITE_PRAGMA:
		/* only those that stay inside the file's own pages */
		if (a && (!strcmp(a, "writable_schema") ||
			  !strcmp(a, "user_version") ||
			  !strcmp(a, "application_id") ||
			  !strcmp(a, "foreign_keys") ||
			  !strcmp(a, "recursive_triggers")))
			return SQLITE_OK;
		return SQLITE_DENY;
	default:
		return SQLITE_OK;
	}
}

static int progress(void *arg)
{
	return ++*(unsigned *)arg > STEPS_MAX / 1000;
}

static void run_sql(const char *sql)
{
	sqlite3 *db = NULL;
	unsigned steps = 0;

	if (sqlite3_open_v2(fz_store_index_path(), &db, SQLITE_OPEN_READWRITE,
			    NULL) != SQLITE_OK)
		fz_die("cannot open the index: %s", sqlite3_errmsg(db));
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1 << 20);
	sqlite3_set_authorizer(db, authorize, NULL);
	sqlite3_progress_handler(db, 1000, progress, &steps);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (sqlite3_close(db) != SQLITE_OK)
		fz_die("cannot close the index");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir;
	char name[64];

	(void)argc;
	(void)argv;
	fz_quiet();
	fz_store_base();
	base_db = fz_store_base_index(&base_len);
	dir = fz_seeding();
	if (dir) {
		for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
			snprintf(name, sizeof(name), "%s.sql", seeds[i][0]);
			fz_seed(name, seeds[i][1], strlen(seeds[i][1]));
		}
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *sql;

	if (size > SQL_MAX || memchr(data, '\0', size))
		return -1;
	sql = malloc(size + 1);
	if (!sql)
		fz_die("out of memory");
	memcpy(sql, data, size);
	sql[size] = '\0';
	if (!is_allowed(sql)) {
		free(sql);
		return -1;
	}
	fz_store_set_index(base_db, base_len);
	run_sql(sql);
	free(sql);
	fz_store_exercise();
	return 0;
}
