/* SPDX-License-Identifier: MIT */
/*
 * store_int.h - what the modules of libstore share and nothing outside
 * store/ may see: the error recorder and small helpers.
 */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

/* ---- config.c ---- */

/* The store's config file, "key = value" lines and # comments. */
struct store_config_file {
	unsigned format;		/* 1 */
	char id[33];			/* 32 hex */
	char connector[16];		/* "file" */
	uint32_t chunk_size;
	int level;
	char file_dir[1024];		/* file connector: blob directory */
	char redis_url[1024];		/* redis connector */
	char redis_prefix[256];
	char redis_password_file[1024];	/* "" if none */
	uint32_t redis_connect_ms;	/* 0: the connector's default */
	uint32_t redis_command_ms;
	char snapshot[STORE_KEY_HEX + 1];	/* a published snapshot's
						   local copy: read-only */
};

/** Parse @len bytes of config text at @text (untrusted: every value is
 * checked).  @name names the file in messages.  STORE_CORRUPT on a bad
 * line, unknown key, missing key or a value out of range. */
store_rc store_config_parse(const char *text, size_t len, const char *name,
			    struct store_config_file *out);

/** Write @c as text into @buf of @cap bytes; returns the length, or 0 if
 * it does not fit. */
size_t store_config_format(const struct store_config_file *c, char *buf,
			   size_t cap);

struct store_conn;
struct store_chunk;

/* Prepared statements, made on first use and kept for the handle's life
 * (index.c owns the SQL text). */
enum store_sql {
	SQL_NODE_BY_INO,
	SQL_NODE_LOOKUP,
	SQL_NODE_CHILDREN,
	SQL_NODE_TARGET,
	SQL_NODE_INSERT,
	SQL_NODE_DELETE,
	SQL_NODE_MOVE,
	SQL_NODE_HAS_CHILD,
	SQL_OBJ_GET,
	SQL_OBJ_INSERT,
	SQL_OBJ_REF,
	SQL_OBJ_DELETE,
	SQL_CHUNK_INSERT,
	SQL_CHUNK_GET,
	SQL_CHUNK_ALL,
	SQL_CHUNK_DELETE,
	SQL__COUNT
};

/* Keys to evict from the connector once no index row names them. */
struct store_keylist {
	char (*keys)[STORE_KEY_HEX + 1];
	size_t n, cap;
};

struct store {
	char *path;			/* store directory, as opened */
	unsigned flags;			/* STORE_OPEN_* */
	struct store_config_file cfg;	/* as read at open */
	char id[33];			/* from config */
	char connector[16];		/* from config */
	uint32_t chunk_size;		/* config default */
	int level;			/* config default */

	pthread_mutex_t lock;		/* recursive; guards all below */
	sqlite3 *db;
	sqlite3_stmt *sql[SQL__COUNT];
	void *magic;			/* libmagic cookie, made on first use */
	bool in_batch;			/* store_begin() .. commit/rollback */
	bool in_txn;			/* a SQLite write transaction is open */
	int batch_lockfd;		/* shared gc lock held by the batch */
	bool need_sync;			/* the batch wrote blobs not yet
					   durable: conn->sync before COMMIT */
	unsigned batch_puts;		/* blobs this batch wrote */
	struct store_keylist evict;	/* evict after commit */
	struct store_keylist fresh;	/* blobs this batch wrote */
	struct store_keylist pending;	/* evictions the gc lock deferred:
					   retried by the next eviction,
					   store_evict_pending(), close */
	size_t pending_lost;		/* deferred past PENDING_MAX: gc's */
	store_progress_fn progress;	/* store_set_progress(), or NULL */
	void *progress_arg;
	/* store_totals() of an unchanged index, kept: it scans every node,
	 * and statfs asks it (find calls statfs per directory) */
	bool totals_ok;			/* totals below are valid */
	int64_t totals_version;		/* PRAGMA data_version then */
	int64_t totals_changes;		/* sqlite3_total_changes64() then */
	struct store_totals totals;

	struct store_conn *conn;	/* thread-safe itself */

	struct {			/* store_metrics, updated atomically */
		_Atomic uint64_t conn_gets, conn_get_bytes, conn_puts,
			conn_put_bytes, conn_evicts, conn_errors, corrupt,
			ingested, deduped;
	} m;
};

/* objects.state */
#define STORE_OBJ_READY		0
#define STORE_OBJ_PENDING	1	/* a future not set yet */
#define STORE_OBJ_EVICTED	2	/* evicted after its first read */
#define STORE_OBJ_EXTERNAL	3	/* bytes outside the store (external.c) */

/* objects.flags */
#define STORE_OBJ_EVICT_READ	0x1

/* One chunk of an object, as the index's chunk table has it. */
struct store_chunk {
	uint64_t coff;			/* frame offset in the blob */
	uint32_t csize, dsize;
	uint8_t sha256[32];
};

/**
 * Record @rc's description for store_last_error() on this thread and
 * return @rc, so that the origin of a failure can write
 *	return store_fail(STORE_IO, "cannot open '%s': %s", p, strerror(e));
 * Thread-safe (the buffer is thread-local).
 */
store_rc store_fail(store_rc rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** store_fail() for a failed syscall: maps @err (an errno) to a code
 * (ENOSPC to STORE_NOSPC, ENOENT to STORE_NOTFOUND, ...) and appends
 * strerror(@err) to the message. */
store_rc store_fail_errno(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Forget the recorded failure (store_last_error() becomes ""). */
void store_clear_error(void);

/** Write @len bytes to @path durably and atomically: a temp beside it,
 * fsync, rename.  Nothing is left behind on failure. */
store_rc store_write_file(const char *path, const void *text, size_t len);

struct store_conn;
struct store_config_file;

/** Open the connector @cfg names; a relative file.dir is taken below
 * store directory @path (which may be NULL when it is absolute). */
store_rc store_conn_from_config(const char *path,
				const struct store_config_file *cfg,
				bool create, struct store_conn **out);

/** Current wall-clock time in nanoseconds since the epoch. */
int64_t store_now_ns(void);

/** Write all @len bytes to @fd (retrying short writes and EINTR); on
 * failure returns -1 with errno set. */
int store_write_all(int fd, const void *buf, size_t len);

/** Read up to @len bytes from @fd, stopping only at EOF; returns the count
 * (less than @len only at EOF) or -1 with errno set. */
ssize_t store_read_full(int fd, void *buf, size_t len);

/** pread() exactly @len bytes at @off; -1 with errno set (EIO for a short
 * file). */
int store_pread_all(int fd, void *buf, size_t len, uint64_t off);

/** Is @fd on a local block filesystem (ext2/3/4, xfs, btrfs, f2fs), where
 * O_DIRECT is worth it?  On a network filesystem an O_DIRECT read or
 * write is a synchronous round trip. */
bool store_is_direct_fs(int fd);

/** How many pages of [@off, @off + @len) of @fd are in the page cache
 * (cachestat(2)); -1 when the kernel cannot say (before Linux 6.5). */
int64_t store_cached_pages(int fd, uint64_t off, uint64_t len);

/* ---- reading a blob with no index row (adopt, snapshots) ---- */

struct store_zframe;

struct store_blob_info {
	uint64_t size;			/* content bytes */
	uint64_t stored_size;		/* blob bytes */
	uint32_t chunk_size;
	uint32_t nchunks;
	uint64_t fetched;		/* bytes read from the connector */
};

/* Called for each frame's verified-to-decompress content, in order. */
typedef store_rc (*store_blob_fn)(void *arg, uint32_t i,
				  const struct store_zframe *f,
				  const void *data);

/**
 * Fetch blob @key from @conn frame by frame through its own seek table
 * (nothing about it is trusted: sizes are bounded, every frame must
 * decompress to its stated size) and hand each frame's content to @fn;
 * at the end the whole content must hash to @key, else STORE_CORRUPT --
 * so @fn must not act on what it got until this returns STORE_OK.
 */
store_rc store_blob_walk(struct store_conn *conn, const char *key,
			 store_blob_fn fn, void *arg,
			 struct store_blob_info *info);

/* ---- pool.c: worker threads for one parallel loop at a time ---- */

/* One item of a loop: @worker is the running thread's index, from 0 to
 * store_pool_threads() - 1 (the caller is the last). */
typedef void (*store_pool_fn)(void *ctx, unsigned worker, unsigned i);
struct store_pool;

/** Workers worth starting on this machine: online CPUs - 1, at most 7. */
unsigned store_pool_default_threads(void);
/** A pool of @nthreads workers (0 is fine: the caller does it all), or
 * NULL when out of memory or threads.  Free with store_pool_free(). */
struct store_pool *store_pool_new(unsigned nthreads);
void store_pool_free(struct store_pool *p);
/** Threads taking part in a loop: the workers and the caller. */
unsigned store_pool_threads(const struct store_pool *p);
/** Start running @fn for items 0..@n-1 on the workers; returns at once.
 * One loop at a time: the caller must store_pool_wait() before the next. */
void store_pool_start(struct store_pool *p, unsigned n, store_pool_fn fn,
		      void *ctx);
/** Take part in the loop started with the same arguments until every item
 * is done.  With @p NULL, runs the whole loop in the caller. */
void store_pool_wait(struct store_pool *p, unsigned n, store_pool_fn fn,
		     void *ctx);

/* ---- index.c: the caller holds st->lock ---- */

/** Open (with @create: create, schema and root) the index at @dbpath into
 * st->db.  On failure st->db is NULL and the failure recorded. */
store_rc store_index_open(struct store *st, const char *dbpath, bool create);
void store_index_close(struct store *st);
/** The prepared statement @id, reset with bindings cleared; NULL (failure
 * recorded) if it cannot be prepared.  Borrowed. */
sqlite3_stmt *store_index_stmt(struct store *st, enum store_sql id);
/** Record SQLite's last error as a failure of @what, mapped to a code. */
store_rc store_index_fail(struct store *st, const char *what);
store_rc store_index_exec(struct store *st, const char *sql);
/** Step a query expected to give one row: STORE_OK on a row,
 * STORE_NOTFOUND on none. */
store_rc store_index_step_row(struct store *st, sqlite3_stmt *s);
/** Step an update to completion. */
store_rc store_index_step_done(struct store *st, sqlite3_stmt *s);
/** Fill a node / object from the current row of a NODE_* / OBJ_GET
 * statement. */
void store_index_row_node(sqlite3_stmt *s, struct store_node *n);
void store_index_row_object(sqlite3_stmt *s, struct store_object *o);

/* ---- external.c: external objects (ProxyStore); st->lock not held ---- */

/** Write external object @o's content to @fd: ingested first and then
 * exported as an ordinary object through a writable handle, streamed
 * from its source through a read-only one. */
store_rc store_external_export(struct store *st, const struct store_object *o,
			       int fd, const char *label);
/** store_read_chunk() for external object @o. */
store_rc store_external_read_chunk(struct store *st,
				   const struct store_object *o, uint32_t idx,
				   void *buf, size_t len, size_t *got,
				   const char *label);
/** The content key external object @key was ingested as (an existing
 * ordinary object), or STORE_NOTFOUND (nothing recorded as failure). */
store_rc store_external_moved(struct store *st, const char *key,
			      char to[STORE_KEY_HEX + 1]);
/** fsck: does @o's source still hold what was linked?  STORE_NOTFOUND
 * when it is gone, STORE_CORRUPT when it changed, STORE_IO when it cannot
 * be reached; the reason recorded. */
store_rc store_external_check(const struct store_object *o);

/* ---- store.c, for external.c ---- */

/** A write transaction as every change in store.c runs one: its own
 * BEGIN IMMEDIATE .. COMMIT, or a savepoint inside a batch.  Holds
 * st->lock from begin to end; end commits @rc == STORE_OK, else undoes,
 * and returns the outcome. */
store_rc store_txn_begin(struct store *st);
store_rc store_txn_end(struct store *st, store_rc rc);
/** Hold the gc lock shared (a writer's): a descriptor to give to
 * store_gc_unlock(), or -1 with the failure recorded. */
int store_gc_lock_shared(struct store *st);
void store_gc_unlock(int fd);

#endif /* STORE_INT_H */
