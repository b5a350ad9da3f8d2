/* SPDX-License-Identifier: MIT */
/*
 * index.c - the SQLite index: schema, migrations, prepared statements and
 * the row <-> struct mapping.
 *
 * The index is the trusted half of a store.  It runs in WAL mode so that
 * readers (every mount and CLI of the node) never wait for a writer, with
 * synchronous=NORMAL (a power cut may lose the last commits but never
 * corrupts, and blobs are made durable before the rows that name them).
 * Writers take the write lock up front (BEGIN IMMEDIATE): a deferred
 * transaction that later upgrades can fail with SQLITE_BUSY without the
 * busy handler ever running.
 *
 * Statements are prepared once per handle and reused; the caller holds
 * st->lock for as long as it uses one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"

#define SCHEMA_VERSION	1
#define BUSY_TIMEOUT_MS	30000

static const char *const schema_v1 =
	"CREATE TABLE meta(name TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE objects("
	" key TEXT PRIMARY KEY,"
	" hash TEXT NOT NULL DEFAULT '',"
	" size INTEGER NOT NULL,"
	" stored_size INTEGER NOT NULL,"
	" chunk_size INTEGER NOT NULL,"
	" nchunks INTEGER NOT NULL,"
	" refs INTEGER NOT NULL DEFAULT 0,"
	" state INTEGER NOT NULL DEFAULT 0,"
	" type TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL,"
	" flags INTEGER NOT NULL DEFAULT 0,"
	" wait_timeout INTEGER NOT NULL DEFAULT 0,"
	" wait_poll INTEGER NOT NULL DEFAULT 0,"
	" wait_max INTEGER NOT NULL DEFAULT 0,"
	" wait_backoff REAL NOT NULL DEFAULT 0,"
	/* an external object (state 3): where its bytes are, and the offset
	 * of its content there (see external.c) */
	" source TEXT,"
	" source_off INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX objects_by_source ON objects(source)"
	" WHERE source IS NOT NULL;"
	/* external objects ingested on first read: readers that still hold
	 * the old key follow it to the content key */
	"CREATE TABLE external_moved(key TEXT PRIMARY KEY,"
	" to_key TEXT NOT NULL, moved INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE chunks("
	" key TEXT NOT NULL,"
	" idx INTEGER NOT NULL,"
	" coff INTEGER NOT NULL,"
	" csize INTEGER NOT NULL,"
	" dsize INTEGER NOT NULL,"
	" sha256 BLOB NOT NULL,"
	" PRIMARY KEY(key, idx)) WITHOUT ROWID;"
	"CREATE TABLE nodes("
	" ino INTEGER PRIMARY KEY AUTOINCREMENT,"
	" parent INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" mode INTEGER NOT NULL,"
	" uid INTEGER NOT NULL,"
	" gid INTEGER NOT NULL,"
	" size INTEGER NOT NULL DEFAULT 0,"
	" mtime INTEGER NOT NULL,"
	" ctime INTEGER NOT NULL,"
	" key TEXT,"
	" type TEXT,"
	" target TEXT,"
	" flags INTEGER NOT NULL DEFAULT 0,"
	" lifetime TEXT,"
	" UNIQUE(parent, name));"
	"CREATE INDEX nodes_by_parent ON nodes(parent, ino);"
	"CREATE INDEX nodes_by_key ON nodes(key) WHERE key IS NOT NULL;"
	"CREATE INDEX nodes_by_lifetime ON nodes(lifetime)"
	" WHERE lifetime IS NOT NULL;"
	/* every change to a node, so that mounts can tell the kernel
	 * which cached entries went stale (see store_changes) */
	"CREATE TABLE changes(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" ino INTEGER NOT NULL, parent INTEGER NOT NULL,"
	" name TEXT NOT NULL);"
	"CREATE TRIGGER nodes_changed_ins AFTER INSERT ON nodes BEGIN"
	" INSERT INTO changes(ino, parent, name)"
	" VALUES(NEW.ino, NEW.parent, NEW.name); END;"
	"CREATE TRIGGER nodes_changed_del AFTER DELETE ON nodes BEGIN"
	" INSERT INTO changes(ino, parent, name)"
	" VALUES(OLD.ino, OLD.parent, OLD.name); END;"
	"CREATE TRIGGER nodes_changed_upd AFTER UPDATE ON nodes BEGIN"
	" INSERT INTO changes(ino, parent, name)"
	" VALUES(OLD.ino, OLD.parent, OLD.name);"
	" INSERT INTO changes(ino, parent, name)"
	" SELECT NEW.ino, NEW.parent, NEW.name"
	" WHERE NEW.parent != OLD.parent OR NEW.name != OLD.name; END;"
	"CREATE TABLE publications(key TEXT NOT NULL, tag TEXT,"
	" created INTEGER NOT NULL);"
	"CREATE INDEX publications_by_key ON publications(key);"
	"CREATE TABLE lifetimes(name TEXT PRIMARY KEY,"
	" expires INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL);";

#define NODE_COLS "ino, parent, mode, uid, gid, size, mtime, ctime, flags, " \
	"name, key, type"

static const char *const sql_text[SQL__COUNT] = {
	[SQL_NODE_BY_INO] = "SELECT " NODE_COLS " FROM nodes WHERE ino = ?1",
	[SQL_NODE_LOOKUP] = "SELECT " NODE_COLS
		" FROM nodes WHERE parent = ?1 AND name = ?2",
	[SQL_NODE_CHILDREN] = "SELECT " NODE_COLS
		" FROM nodes WHERE parent = ?1 AND ino > ?2 ORDER BY ino",
	[SQL_NODE_TARGET] = "SELECT target, mode FROM nodes WHERE ino = ?1",
	[SQL_NODE_INSERT] = "INSERT INTO nodes(parent, name, mode, uid, gid,"
		" size, mtime, ctime, key, type, target, flags)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[SQL_NODE_DELETE] = "DELETE FROM nodes WHERE ino = ?1",
	[SQL_NODE_MOVE] = "UPDATE nodes SET parent = ?2, name = ?3,"
		" ctime = ?4 WHERE ino = ?1",
	[SQL_NODE_HAS_CHILD] = "SELECT 1 FROM nodes WHERE parent = ?1 LIMIT 1",
	[SQL_OBJ_GET] = "SELECT key, hash, size, stored_size, chunk_size,"
		" nchunks, refs, created, state, type, flags, source"
		" FROM objects"
		" WHERE key = ?1",
	[SQL_OBJ_INSERT] = "INSERT OR IGNORE INTO objects(key, hash, size,"
		" stored_size, chunk_size, nchunks, refs, state, type, created)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, 0, 0, ?7, ?8)",
	[SQL_OBJ_REF] = "UPDATE objects SET refs = refs + ?2 WHERE key = ?1"
		" RETURNING refs",
	[SQL_OBJ_DELETE] = "DELETE FROM objects WHERE key = ?1",
	[SQL_CHUNK_INSERT] = "INSERT OR REPLACE INTO chunks(key, idx, coff,"
		" csize, dsize, sha256) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[SQL_CHUNK_GET] = "SELECT coff, csize, dsize, sha256 FROM chunks"
		" WHERE key = ?1 AND idx = ?2",
	[SQL_CHUNK_ALL] = "SELECT coff, csize, dsize, sha256 FROM chunks"
		" WHERE key = ?1 ORDER BY idx",
	[SQL_CHUNK_DELETE] = "DELETE FROM chunks WHERE key = ?1",
};

store_rc store_index_fail(struct store *st, const char *what)
{
	int code = sqlite3_errcode(st->db);
	store_rc rc = STORE_IO;

	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		rc = STORE_BUSY;
	else if (code == SQLITE_FULL)
		rc = STORE_NOSPC;
	else if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
		rc = STORE_CORRUPT;
	else if (code == SQLITE_NOMEM)
		rc = STORE_NOMEM;
	else if (code == SQLITE_CONSTRAINT)
		rc = STORE_EXISTS;
	return store_fail(rc, "index of '%s': %s: %s", st->path, what,
			  sqlite3_errmsg(st->db));
}

store_rc store_index_exec(struct store *st, const char *sql)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_index_fail(st, sql);
	return STORE_OK;
}

sqlite3_stmt *store_index_stmt(struct store *st, enum store_sql id)
{
	sqlite3_stmt *s = st->sql[id];

	if (!s) {
		if (sqlite3_prepare_v3(st->db, sql_text[id], -1,
				       SQLITE_PREPARE_PERSISTENT, &s,
				       NULL) != SQLITE_OK) {
			store_index_fail(st, "prepare");
			return NULL;
		}
		st->sql[id] = s;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	size_t n = (size_t)sqlite3_column_bytes(s, col);

	if (!t)
		n = 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, t, n);
	dst[n] = '\0';
}

void store_index_row_node(sqlite3_stmt *s, struct store_node *n)
{
	n->ino = (uint64_t)sqlite3_column_int64(s, 0);
	n->parent = (uint64_t)sqlite3_column_int64(s, 1);
	n->mode = (uint32_t)sqlite3_column_int64(s, 2);
	n->uid = (uint32_t)sqlite3_column_int64(s, 3);
	n->gid = (uint32_t)sqlite3_column_int64(s, 4);
	n->size = (uint64_t)sqlite3_column_int64(s, 5);
	n->mtime_ns = sqlite3_column_int64(s, 6);
	n->ctime_ns = sqlite3_column_int64(s, 7);
	n->flags = (uint32_t)sqlite3_column_int64(s, 8);
	copy_text(n->name, sizeof(n->name), s, 9);
	copy_text(n->key, sizeof(n->key), s, 10);
	copy_text(n->type, sizeof(n->type), s, 11);
}

void store_index_row_object(sqlite3_stmt *s, struct store_object *o)
{
	copy_text(o->key, sizeof(o->key), s, 0);
	copy_text(o->hash, sizeof(o->hash), s, 1);
	o->size = (uint64_t)sqlite3_column_int64(s, 2);
	o->stored_size = (uint64_t)sqlite3_column_int64(s, 3);
	o->chunk_size = (uint32_t)sqlite3_column_int64(s, 4);
	o->nchunks = (uint32_t)sqlite3_column_int64(s, 5);
	o->refs = (uint64_t)sqlite3_column_int64(s, 6);
	o->created_ns = sqlite3_column_int64(s, 7);
	o->pending = sqlite3_column_int64(s, 8) == STORE_OBJ_PENDING;
	o->evicted = sqlite3_column_int64(s, 8) == STORE_OBJ_EVICTED;
	copy_text(o->type, sizeof(o->type), s, 9);
	o->evict_on_read = (sqlite3_column_int64(s, 10) &
			    STORE_OBJ_EVICT_READ) != 0;
	o->external = sqlite3_column_int64(s, 8) == STORE_OBJ_EXTERNAL;
	copy_text(o->source, sizeof(o->source), s, 11);
}

/* Run a one-row query; STORE_NOTFOUND when it yields none. */
store_rc store_index_step_row(struct store *st, sqlite3_stmt *s)
{
	int r = sqlite3_step(s);

	if (r == SQLITE_ROW)
		return STORE_OK;
	if (r == SQLITE_DONE)
		return STORE_NOTFOUND;
	return store_index_fail(st, "query");
}

store_rc store_index_step_done(struct store *st, sqlite3_stmt *s)
{
	int r = sqlite3_step(s);

	while (r == SQLITE_ROW)
		r = sqlite3_step(s);
	if (r == SQLITE_DONE)
		return STORE_OK;
	return store_index_fail(st, "update");
}

static store_rc get_version(struct store *st, int *version)
{
	sqlite3_stmt *s = NULL;
	store_rc rc;
	const char *q = "SELECT value FROM meta WHERE name = 'schema_version'";

	if (sqlite3_prepare_v2(st->db, q, -1, &s, NULL) != SQLITE_OK) {
		rc = store_index_fail(st, "read schema version");
		if (rc == STORE_IO)
			rc = STORE_CORRUPT;
		goto out;
	}
	rc = store_index_step_row(st, s);
	if (rc == STORE_NOTFOUND)
		rc = store_fail(STORE_CORRUPT,
				"index of '%s' has no schema version",
				st->path);
	if (rc == STORE_OK)
		*version = sqlite3_column_int(s, 0);
out:
	sqlite3_finalize(s);
	return rc;
}

static store_rc create_schema(struct store *st)
{
	sqlite3_stmt *s = NULL;
	store_rc rc;
	int64_t now = store_now_ns();

	rc = store_index_exec(st, "BEGIN IMMEDIATE");
	if (rc != STORE_OK)
		return rc;
	rc = store_index_exec(st, schema_v1);
	if (rc != STORE_OK)
		goto out;
	rc = store_index_exec(st, "INSERT INTO meta VALUES('schema_version',"
			      " '1')");
	if (rc != STORE_OK)
		goto out;
	if (sqlite3_prepare_v2(st->db, "INSERT INTO nodes(ino, parent, name,"
			       " mode, uid, gid, mtime, ctime)"
			       " VALUES(1, 0, '', ?1, ?2, ?3, ?4, ?4)",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = store_index_fail(st, "create root");
		goto out;
	}
	sqlite3_bind_int64(s, 1, S_IFDIR | 0755);
	sqlite3_bind_int64(s, 2, getuid());
	sqlite3_bind_int64(s, 3, getgid());
	sqlite3_bind_int64(s, 4, now);
	rc = store_index_step_done(st, s);
	if (rc != STORE_OK)
		goto out;
	rc = store_index_exec(st, "COMMIT");
out:
	sqlite3_finalize(s);
	if (rc != STORE_OK)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/*
 * An index may come from someone else (a published snapshot).  Our reads
 * run on its tables, and a view in place of one could make them run any
 * query, one that never ends included; create_schema() makes no views,
 * so an index holding one is refused before anything is read.  (Its
 * triggers run only on writes, which a snapshot never gets.)
 */
static store_rc check_schema(struct store *st)
{
	sqlite3_stmt *s = NULL;
	store_rc rc;
	const char *q = "SELECT 1 FROM sqlite_master WHERE type = 'view'"
			" LIMIT 1";

	if (sqlite3_prepare_v2(st->db, q, -1, &s, NULL) != SQLITE_OK) {
		rc = store_index_fail(st, "read schema");
		if (rc == STORE_IO)
			rc = STORE_CORRUPT;
		goto out;
	}
	rc = store_index_step_row(st, s);
	if (rc == STORE_OK)
		rc = store_fail(STORE_CORRUPT, "index of '%s' holds a view:"
				" only its tables are read", st->path);
	else if (rc == STORE_NOTFOUND)
		rc = STORE_OK;
out:
	sqlite3_finalize(s);
	return rc;
}

store_rc store_index_open(struct store *st, const char *dbpath, bool create)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	int version = 0;
	store_rc rc;

	if (create) {
		/* SQLite would make the file 0644; its -wal and -shm files
		 * copy the main file's mode, so 0600 here covers them too. */
		int fd = open(dbpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			      0600);

		if (fd < 0)
			return store_fail_errno(errno,
						"cannot create index '%s'",
						dbpath);
		close(fd);
	}
	if (sqlite3_open_v2(dbpath, &st->db, flags, NULL) != SQLITE_OK) {
		rc = store_fail(STORE_IO, "cannot open index '%s': %s",
				dbpath, st->db ? sqlite3_errmsg(st->db) :
				"out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(st->db, 0);
	rc = store_index_exec(st, "PRAGMA journal_mode=WAL");
	if (rc != STORE_OK) {
		if (rc == STORE_IO)
			rc = STORE_CORRUPT;
		goto fail;
	}
	rc = store_index_exec(st, "PRAGMA synchronous=NORMAL;"
			      "PRAGMA foreign_keys=OFF;"
			      "PRAGMA temp_store=MEMORY");
	if (rc != STORE_OK)
		goto fail;
	if (create) {
		rc = create_schema(st);
		if (rc != STORE_OK)
			goto fail;
	}
	rc = check_schema(st);
	if (rc != STORE_OK)
		goto fail;
	rc = get_version(st, &version);
	if (rc != STORE_OK)
		goto fail;
	/* Forward migrations go here as the schema grows. */
	if (version != SCHEMA_VERSION) {
		rc = store_fail(STORE_CORRUPT, "index '%s' has schema version"
				" %d; this pxfs reads version %d", dbpath,
				version, SCHEMA_VERSION);
		goto fail;
	}
	return STORE_OK;
fail:
	store_index_close(st);
	return rc;
}

void store_index_close(struct store *st)
{
	for (int i = 0; i < SQL__COUNT; i++) {
		sqlite3_finalize(st->sql[i]);
		st->sql[i] = NULL;
	}
	sqlite3_close(st->db);
	st->db = NULL;
}
