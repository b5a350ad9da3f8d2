/* SPDX-License-Identifier: MIT */
/*
 * store.h - the public API of libstore, the pxfs object store.
 *
 * A store is a directory holding index.db (SQLite, WAL), a config file and,
 * for the file connector, the blobs.  The index holds a namespace of nodes
 * (directories, regular files, symlinks); a regular file is a *proxy* for
 * an object: immutable bytes, kept zstd-compressed in the seekable format by
 * a connector under the SHA-256 hex of the uncompressed content (the key).
 * Metadata calls answer from the index alone; reading an object fetches its
 * chunks from the connector and checks every chunk against a digest held in
 * the index before handing out a byte.
 *
 * This is the only store header fs/ and tools/ include.
 *
 * Errors.  Every function that can fail returns a store_rc.  A failure that
 * needs explaining (a path, a key, an OS or SQLite message) leaves a one-line
 * description in a thread-local buffer read by store_last_error(); the
 * caller prints or logs it once.  Functions never print errors themselves.
 * Expected outcomes (a lookup that finds nothing) also set the message, so
 * a caller may always print store_last_error() after a failure.
 *
 * Threads.  A struct store serialises its own use of SQLite and the
 * connector with an internal recursive mutex: every function taking a
 * struct store is thread-safe unless it says otherwise.  store_begin()
 * holds that mutex until store_commit() or store_rollback(), so a batch of
 * changes made by one thread is never interleaved with another thread's.
 *
 * Ownership.  Structs filled by the API (struct store_node, struct
 * store_object) are plain values owned by the caller; nothing in them needs
 * freeing.  Strings passed in are copied; they may be freed after the call.
 */
#ifndef STORE_H
#define STORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Result codes: append only, never renumber. */
typedef enum store_rc {
	STORE_OK = 0,
	STORE_NOTFOUND,		/* no such entry, key, object or store */
	STORE_NOMEM,
	STORE_IO,		/* OS, SQLite or connector failure */
	STORE_CORRUPT,		/* bytes do not match the index, bad format */
	STORE_BUSY,		/* index locked for longer than the timeout */
	STORE_INVAL,		/* bad argument or option value */
	STORE_EXISTS,		/* the name is taken */
	STORE_NOTDIR,		/* a path component is not a directory */
	STORE_ISDIR,		/* a directory where a file was required */
	STORE_NOTEMPTY,		/* directory not empty */
	STORE_NOSPC,		/* no space left on a device */
	STORE_NAMETOOLONG,	/* a name over STORE_NAME_MAX bytes */
	STORE_ROFS,		/* store opened read-only */
	STORE_TIMEDOUT,		/* a future was not set in time */
	STORE_PERM,		/* operation not permitted */
	STORE_EVICTED,		/* object evicted after its first read */
} store_rc;

/** Static text for @rc, never NULL. */
const char *store_rc_str(store_rc rc);

/** Positive errno for @rc (ENOENT, EIO, ...), for fuse_reply_err(). */
int store_rc_to_errno(store_rc rc);

/**
 * The description of the last failure of a store function on the calling
 * thread ("cannot open index '/s/index.db': unable to open database file").
 * Borrowed; valid until the next store call on this thread.  Never NULL
 * (empty when no failure was recorded).
 */
const char *store_last_error(void);

/* ---- logging ---------------------------------------------------------- */

/* Levels, numbered as syslog and enum fuse_log_level. */
enum store_log_level {
	STORE_LOG_ERR = 3,
	STORE_LOG_WARNING = 4,
	STORE_LOG_NOTICE = 5,
	STORE_LOG_INFO = 6,
	STORE_LOG_DEBUG = 7,
};

typedef void (*store_log_fn)(enum store_log_level level, const char *fmt,
			     va_list ap);

/**
 * Send log lines to @fn (NULL restores the default: "pxfs: " + line on
 * stderr) and drop those above @max_level.  Not thread-safe: call before
 * starting threads.  The sink itself must be thread-safe.
 */
void store_set_log(store_log_fn fn, enum store_log_level max_level);

/** Log one line (no trailing newline needed).  Thread-safe. */
void store_log(enum store_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- creating and opening a store ------------------------------------- */

#define STORE_CHUNK_DEFAULT	(1u << 20)	/* 1 MiB */
#define STORE_CHUNK_MIN		(4u << 10)	/* 4 KiB */
#define STORE_CHUNK_MAX		(64u << 20)	/* 64 MiB */
#define STORE_LEVEL_DEFAULT	3
#define STORE_NAME_MAX		255
#define STORE_KEY_HEX		64		/* a key is 64 lowercase hex */
#define STORE_TYPE_MAX		127		/* longest MIME type kept */
#define STORE_ROOT_INO		1
#define STORE_SOURCE_MAX	1279		/* longest external source */

/* Options for store_create(); zero/NULL fields take the defaults. */
struct store_create_opts {
	const char *connector;	/* "file" (default) or "redis" */
	uint32_t chunk_size;	/* power of two in [CHUNK_MIN, CHUNK_MAX] */
	int level;		/* zstd level 1..19, 0 = default */
	/* redis: where the blobs live (the password never goes in here:
	 * it comes from $PXFS_REDIS_PASSWORD or a 0600 password file) */
	const char *url;	/* redis://H:P[/DB], redis+cluster://H:P,.. */
	const char *prefix;	/* prepended to every Redis key */
	const char *password_file;	/* absolute path, mode 0600 */
	uint32_t connect_timeout_ms;	/* 0: default */
	uint32_t command_timeout_ms;	/* 0: default */
};

/**
 * Create a new store in directory @path (created 0700 if missing; an
 * existing one must be empty).  Writes config and index.db (0600) and the
 * connector's own layout; a Redis connector is connected to (and its
 * password checked) first, so a bad URL, an unreachable host or a wrong
 * password fails here.  Refuses (STORE_EXISTS) a directory that already
 * holds a store and (STORE_INVAL) a non-empty one that does not.  On
 * failure nothing is left behind that was not there before.
 */
store_rc store_create(const char *path, const struct store_create_opts *o);

struct store;

#define STORE_OPEN_RDONLY	0x1	/* no changes: STORE_ROFS */

/**
 * Open the store at @path.  Returns STORE_NOTFOUND if @path does not exist,
 * STORE_INVAL if it is not a store, STORE_CORRUPT if its config or index
 * cannot be read.  On success *out is the handle (caller owns it; close with
 * store_close()); on failure *out is NULL.  The connector's settings are
 * checked (a Redis URL, its password file) but it is not talked to: the
 * first command that needs it connects, so that the index answers while
 * the connector is down (see store_check_connector()).
 */
store_rc store_open(const char *path, unsigned flags, struct store **out);

/** Close @st.  NULL is a harmless no-op.  Rolls back an open batch, and
 * waits up to 2 s for the gc lock to evict what store_evict_pending()
 * would. */
void store_close(struct store *st);

/** The store's directory as given to store_open().  Borrowed. */
const char *store_path(const struct store *st);

/** Default chunk size and level from the store's config. */
uint32_t store_chunk_size(const struct store *st);
int store_level(const struct store *st);

/** Name of the store's connector ("file").  Borrowed. */
const char *store_connector_name(const struct store *st);

/**
 * Check that the store's connector can be reached now: connect to Redis
 * (authenticating, loading a cluster's topology).  store_open() does not,
 * so that the index answers while the connector is down; call this where
 * the user expects the check (mount).  STORE_OK at once for the file
 * connector; otherwise the reason is recorded.  Thread-safe.
 */
store_rc store_check_connector(struct store *st);

/** The store's identity: 32 hex digits drawn at store_create(), the same
 * for every handle on the store (names its caches).  Borrowed. */
const char *store_id(const struct store *st);

/* ---- namespace -------------------------------------------------------- */

/* A row of the namespace.  For S_ISREG nodes, key/type/size describe the
 * object; for symlinks, size is the target's length. */
struct store_node {
	uint64_t ino;			/* index id; root is STORE_ROOT_INO */
	uint64_t parent;		/* 0 for the root */
	uint32_t mode;			/* S_IFMT bits + permissions */
	uint32_t uid, gid;
	uint64_t size;			/* uncompressed bytes */
	int64_t mtime_ns;		/* nanoseconds since the epoch */
	int64_t ctime_ns;
	uint32_t flags;			/* STORE_NODE_* */
	char name[STORE_NAME_MAX + 1];	/* "" for the root */
	char key[STORE_KEY_HEX + 1];	/* "" unless S_ISREG */
	char type[STORE_TYPE_MAX + 1];	/* MIME type, "" unless S_ISREG */
};

#define STORE_NODE_PENDING	0x1	/* a future: object not set yet */
#define STORE_NODE_EVICT_READ	0x2	/* evict object after first read */

/** Fill @out with node @ino.  STORE_NOTFOUND if there is none. */
store_rc store_getattr(struct store *st, uint64_t ino, struct store_node *out);

/** Fill @out with the child @name of directory @parent. */
store_rc store_lookup(struct store *st, uint64_t parent, const char *name,
		      struct store_node *out);

/**
 * Resolve a slash-separated @path relative to the root ("", "/" and "."
 * are the root; "a//b/" is "a/b").  ".." is refused with STORE_INVAL: no
 * path may leave the namespace.  Symlinks are not followed.
 */
store_rc store_walk(struct store *st, const char *path, struct store_node *out);

/**
 * Call @fn for each child of directory @dir whose ino is greater than
 * @after, in ino order (an ino is a stable readdir cookie).  Stops early,
 * returning STORE_OK, when @fn returns non-zero.  @fn runs with the store
 * locked: it must not call back into the store.  The node it gets is
 * borrowed for the call.
 */
store_rc store_readdir(struct store *st, uint64_t dir, uint64_t after,
		       int (*fn)(void *arg, const struct store_node *n),
		       void *arg);

/** Copy symlink @ino's target, NUL-terminated, into @buf of @len bytes.
 * STORE_INVAL if it is not a symlink or @buf is too small. */
store_rc store_readlink(struct store *st, uint64_t ino, char *buf, size_t len);

/* ---- objects ---------------------------------------------------------- */

struct store_object {
	char key[STORE_KEY_HEX + 1];
	char hash[STORE_KEY_HEX + 1];	/* sha256 of content; "" if pending */
	uint64_t size;			/* uncompressed bytes */
	uint64_t stored_size;		/* bytes held by the connector */
	uint32_t chunk_size;
	uint32_t nchunks;
	uint64_t refs;			/* nodes that point at it */
	int64_t created_ns;
	bool pending;			/* a future not set yet */
	bool evicted;			/* evicted after its first read */
	bool evict_on_read;		/* will be, after its first read */
	char type[STORE_TYPE_MAX + 1];	/* MIME type libmagic gave the
					   content's first bytes at ingest */
	bool external;			/* bytes outside the store, fetched
					   on first read (see below) */
	char source[STORE_SOURCE_MAX + 1];	/* external: where, as
					   "proxystore-file:/DIR/UUID" or
					   "proxystore-redis:redis://H:P/DB/UUID";
					   "" otherwise */
};

/** Is @s exactly 64 lowercase hex digits? */
bool store_is_key(const char *s);

/** Is @s a tag name: 1 to 64 of [A-Za-z0-9._-], not starting with '.'? */
bool store_is_tag_name(const char *s);

/** Fill @out with the index's row for @key.  STORE_NOTFOUND if none. */
store_rc store_object_info(struct store *st, const char *key,
			   struct store_object *out);

/* Options for store_ingest_fd(); zero fields take the store's defaults. */
struct store_put_opts {
	uint32_t chunk_size;
	int level;
};

/**
 * Read @fd to its end and store the bytes as an object: hash, compress
 * chunk by chunk (memory is a few chunks whatever the size), write the blob
 * to the connector (temp, fsync, rename) and record the object and its
 * chunk table in the index with refs unchanged (a new object starts at 0:
 * a node must claim it).  Content already stored is deduplicated.  @label
 * names the source in error messages.  On success @out describes the
 * object.  Call inside store_begin() so that the row is committed together
 * with the node that claims it; an object left at refs 0 is collected by
 * store_gc().
 */
store_rc store_ingest_fd(struct store *st, int fd, const char *label,
			 const struct store_put_opts *o,
			 struct store_object *out);

/**
 * How far an ingest has got: @done of @total content bytes are stored.
 * @total is the input's size when it is known when the ingest starts (a
 * regular file, from its offset then), else 0; it never falls below
 * @done (an input that grows raises it), so the last call, once the
 * whole input is in, has @done == @total.
 */
typedef void (*store_progress_fn)(void *arg, uint64_t done, uint64_t total);

/**
 * Have every ingest through @st report its progress to @fn (NULL: no
 * reports), for a progress bar: store_ingest_fd() and what ingests on
 * the way (store_publish() storing its snapshot, store_future_set(), the
 * first read of an external object).  One ingest calls @fn once at its
 * start with @done 0, then with @done rising as chunks are stored, in
 * content order, and last with @done == @total; no call repeats the
 * figures of the one before.  Calls stop where an ingest fails.
 *
 * @fn runs on the thread that called the ingesting function, never on
 * the store's worker threads, and maybe while that thread holds @st (in
 * a batch, see store_begin()): it must not use @st, and should return
 * quickly, as the calling thread also does its share of the ingest.
 * When several threads ingest through @st at once, each calls @fn for
 * its own ingest, so @fn must then be thread-safe.  @arg is borrowed: it
 * must stay valid until @fn is unset or @st is closed.
 *
 * Thread-safe; an ingest under way keeps the hook it started with.
 */
void store_set_progress(struct store *st, store_progress_fn fn, void *arg);

/**
 * Make an object known to this index from the blob that the connector
 * already holds under @key (ProxyStore's proxy_from_key across stores
 * sharing a connector): fetches it once, verifies that it decompresses to
 * content hashing to @key, and records its chunk table.  STORE_NOTFOUND if
 * the connector has no such blob, STORE_CORRUPT if it does not verify.  A
 * key already in the index succeeds at once.
 */
store_rc store_adopt(struct store *st, const char *key,
		     struct store_object *out);

/**
 * Write object @key's content to @fd, from the start, in order.  Every
 * chunk is checked against the index's SHA-256 of it before it is
 * written (so every byte is verified; the chunk digests were taken from
 * the same bytes as the key); on a mismatch nothing of that chunk is
 * written and STORE_CORRUPT is returned.  @label (a path)
 * names the object in messages.  Counts connector traffic in the metrics.
 */
store_rc store_export_fd(struct store *st, const char *key, int fd,
			 const char *label);

/**
 * Get the read path of @st ready before the first read comes: without
 * this, the first chunk a process reads pays several milliseconds for
 * libcrypto's and libzstd's first use and the lookups' statements.  For
 * a mount, before it serves.  Never fails (what goes wrong here, the
 * first read meets and reports).  Thread-safe.
 */
void store_warm(struct store *st);

/**
 * Read chunk @idx of object @key (verified) into @buf of @len bytes, at
 * least the object's chunk_size; *got is the chunk's length.  For
 * range reads.
 */
store_rc store_read_chunk(struct store *st, const char *key, uint32_t idx,
			  void *buf, size_t len, size_t *got, const char *label);

/**
 * Read chunks @idx and @idx + 1 of object @key (verified), which must
 * both be @len bytes long (the caller knows the object's shape), into
 * @buf0 and @buf1 of @len bytes each: store_read_chunk() twice, but with
 * one connector get and the two digests taken together where it can.
 * rc[0] and rc[1] get each chunk's result (a chunk that is not @len bytes
 * is STORE_CORRUPT); the last error names the second failure.
 * Returns: STORE_OK when both are, else the first failure.  Thread-safe.
 */
store_rc store_read_chunk2(struct store *st, const char *key, uint32_t idx,
			   void *buf0, void *buf1, size_t len,
			   store_rc rc[2], const char *label);

/**
 * Check that the @len bytes at @buf are chunk @idx of object @key: its
 * length and SHA-256 are the index's.  For bytes kept outside the store
 * (a local cache of an earlier run) before they are served again.  Reads
 * the index only, never the connector, so it works also for an object
 * evicted after its first read (its digests stay).  Returns STORE_OK,
 * STORE_CORRUPT when they are not (the message names the chunk), or the
 * index's error.
 */
store_rc store_check_chunk(struct store *st, const char *key, uint32_t idx,
			   const void *buf, size_t len);

/* ---- external objects: ProxyStore interop (external.c) ------------- */

/*
 * An *external* object is one whose bytes live outside the store, where
 * a Python ProxyStore put them: a FileConnector directory (DIR/UUID, with
 * an empty DIR/UUID.ready written after it) or a RedisConnector (the bare
 * UUID as the key).  Either holds a 2-character serializer id, a newline,
 * then the payload.  Linking one reads only the 3-byte header and the
 * length, so the entry's size and type are right before anything is
 * fetched; the object row records the source and a random key.
 *
 * The first read fetches the payload.  When the store is open read-write
 * it is ingested as an ordinary object on the way (hashed, compressed,
 * written to the connector) and every entry that named the external
 * object is pointed at it, so that every later read is verified against
 * the digests taken then: trust on first use.  A read-only handle streams
 * the payload from its source each time, checking only its header and
 * length.  A source whose header or length changed since it was linked
 * is STORE_CORRUPT; one that is gone is STORE_IO.
 */

#define STORE_PS_UUID_LEN	36	/* 8-4-4-4-12 lowercase hex */

enum store_ps_kind {
	STORE_PS_FILE = 1,		/* a FileConnector's store_dir */
	STORE_PS_REDIS,			/* a RedisConnector's server */
};

/* Where ProxyStore objects live, as parsed by store_ps_parse(). */
struct store_ps {
	enum store_ps_kind kind;
	char dir[1024];			/* file: absolute, canonical */
	char host[256];			/* redis: host name or address */
	unsigned port;			/* redis: 6379 unless given */
	unsigned db;			/* redis: database number */
};

/* What the header and the length of one ProxyStore object say. */
struct store_ps_object {
	char id[3];			/* serializer id: "BS", "US", "01"... */
	uint64_t size;			/* payload bytes (without the header) */
	char type[STORE_TYPE_MAX + 1];	/* MIME type the id stands for */
};

/**
 * Parse "file:DIR" (an existing directory, made absolute and canonical)
 * or "redis://HOST[:PORT][/DB]" (no user or password: a Redis password
 * comes from $PXFS_PROXYSTORE_PASSWORD).  STORE_INVAL, with the reason
 * recorded, for anything else.
 */
store_rc store_ps_parse(const char *spec, struct store_ps *out);

/** Write @ps back as "file:DIR" or "redis://HOST:PORT/DB" into @buf. */
void store_ps_format(const struct store_ps *ps, char *buf, size_t cap);

/** Is @s a UUID as ProxyStore writes them (str(uuid.uuid4()))? */
bool store_ps_is_uuid(const char *s);

/**
 * Read the header and the length of object @uuid (stat and a 3-byte read;
 * STRLEN and a 3-byte GETRANGE), never its payload.  STORE_NOTFOUND for
 * no such object, or a file without its .ready marker; STORE_CORRUPT for
 * an object shorter than its header or with an unknown serializer id;
 * STORE_IO when the directory or Redis cannot be reached.
 */
store_rc store_ps_stat(const struct store_ps *ps, const char *uuid,
		       struct store_ps_object *out);

/**
 * Call @fn for each object of FileConnector directory @ps in UUID order,
 * with @ready false for those without their .ready marker (still being
 * written).  Names that are not UUIDs are not ProxyStore's and are left
 * out.  Stops early, returning STORE_OK, when @fn returns non-zero.
 * STORE_INVAL for a Redis @ps.
 */
store_rc store_ps_list(const struct store_ps *ps,
		       int (*fn)(void *arg, const char *uuid, bool ready),
		       void *arg);

/**
 * Record ProxyStore object @uuid of @ps as an external object of @st
 * (store_ps_stat first: nothing of the payload is read) and fill @out;
 * its refs start at 0, so claim it with store_mkfile() in the same batch.
 * An external object already recorded for the same source is reused.
 */
store_rc store_external_add(struct store *st, const struct store_ps *ps,
			    const char *uuid, struct store_object *out);

/**
 * Write object @key's content to @ps in ProxyStore's format (the "BS"
 * bytes serializer id, a newline, the content) under a new UUID, which
 * is copied to @uuid: through a temporary name, renamed into place and
 * then marked ready (DIR/UUID.ready) for a directory; through a
 * temporary key renamed in one MULTI for Redis, so that a consumer sees
 * the whole object or nothing.  Every chunk is verified before it is
 * written.  @label names the object in messages.
 */
store_rc store_ps_write(struct store *st, const char *key,
			const struct store_ps *ps, const char *label,
			char uuid[STORE_PS_UUID_LEN + 1]);

/* ---- changing the namespace ------------------------------------------ */

/**
 * Start a batch: every change until store_commit() is one SQLite
 * transaction.  The calling thread holds the store until then.  Changes
 * made outside a batch commit one by one.  Batches do not nest
 * (STORE_INVAL).
 */
store_rc store_begin(struct store *st);
store_rc store_commit(struct store *st);
/** Undo the batch.  Blobs it wrote for objects no row names any more are
 * evicted (or, if a writer holds the store, deferred as for
 * store_evict_pending()). */
void store_rollback(struct store *st);

/**
 * Evict the blobs whose eviction was deferred.  A blob whose last
 * reference went is evicted after the commit, under the store's gc lock
 * taken exclusively without waiting; when another writer (another
 * process, or another handle) holds it, the key is kept on @st's list
 * (deduplicated; past 16384 keys it is left for store_gc()) and retried
 * by the next eviction on @st, by this call and by store_close().  Keys
 * that an index row names again by then are not evicted.
 *
 * Tries the lock without waiting when @wait_ms <= 0, else polls it for
 * up to @wait_ms ms without holding @st meanwhile.  Call it now and then
 * on a handle that stays open while others write (a mount's janitor
 * does, every few hundred ms); store_close() makes a last try of up to
 * 2 s and logs, at INFO, how many blobs it leaves for store_gc().
 *
 * Returns STORE_OK when nothing is left pending, STORE_BUSY when the lock
 * stayed held (or the calling thread has a batch open: its commit tries
 * again), another code when the lock cannot be taken at all.
 * Thread-safe; a no-op on a read-only handle.
 */
store_rc store_evict_pending(struct store *st, int wait_ms);

/* Attributes for a new node.  mtime_ns 0 means now. */
struct store_attr {
	uint32_t mode;		/* S_IFMT bits + permissions */
	uint32_t uid, gid;
	int64_t mtime_ns;
};

#define STORE_REPLACE	0x1	/* replace an existing non-directory */

/**
 * Create file @name in @parent as a proxy for object @key (which must be in
 * the index, see store_ingest_fd and store_adopt) with MIME @type (NULL or
 * "" for application/octet-stream); the object's refs go up by one.  With
 * STORE_REPLACE an existing file or symlink of that name is replaced (its
 * object's refs go down); otherwise STORE_EXISTS.  @out (may be NULL)
 * receives the new node.
 */
store_rc store_mkfile(struct store *st, uint64_t parent, const char *name,
		      const struct store_attr *a, const char *key,
		      const char *type, unsigned flags, struct store_node *out);

/** Create directory @name in @parent.  STORE_EXISTS if the name is taken
 * (with STORE_REPLACE an existing directory is returned in @out instead). */
store_rc store_mkdir(struct store *st, uint64_t parent, const char *name,
		     const struct store_attr *a, unsigned flags,
		     struct store_node *out);

/** Create symlink @name -> @target in @parent. */
store_rc store_symlink(struct store *st, uint64_t parent, const char *name,
		       const char *target, const struct store_attr *a,
		       unsigned flags, struct store_node *out);

/**
 * Remove non-directory @name from @parent (STORE_ISDIR for a directory).
 * Drops the object's reference; an object left with none is removed from
 * the index and its blob evicted from the connector after the commit.
 */
store_rc store_unlink(struct store *st, uint64_t parent, const char *name);

/** Remove empty directory @name (STORE_NOTEMPTY, STORE_NOTDIR). */
store_rc store_rmdir(struct store *st, uint64_t parent, const char *name);

/** Remove @name and, for a directory, everything below it. */
store_rc store_remove_tree(struct store *st, uint64_t parent,
			   const char *name);

/**
 * Move @name in @parent to @newname in @newparent, replacing a target of
 * the same kind (an empty directory, or a non-directory) as rename(2)
 * does.  STORE_INVAL for moving a directory below itself.
 */
store_rc store_rename(struct store *st, uint64_t parent, const char *name,
		      uint64_t newparent, const char *newname);

/* What store_setattr() changes. */
#define STORE_SET_MODE	0x1	/* permission bits of a->mode */
#define STORE_SET_UID	0x2
#define STORE_SET_GID	0x4
#define STORE_SET_MTIME	0x8	/* a->mtime_ns; 0 means now */

/**
 * Change @ino's attributes as @mask says (ctime becomes now).  @out (may
 * be NULL) receives the node as it is afterwards.
 */
store_rc store_setattr(struct store *st, uint64_t ino, unsigned mask,
		       const struct store_attr *a, struct store_node *out);

/**
 * Point regular file @ino at object @key (in the index, e.g. just
 * ingested) with MIME @type (NULL: the object's detected type) and mtime
 * @mtime_ns (0: now), keeping its ino, mode and owner: what closing a
 * written file does.  The old object's reference is dropped (evicted at
 * zero after the commit); a future that was pending is fulfilled.
 * STORE_ISDIR / STORE_INVAL if @ino is not a regular file.
 */
store_rc store_set_content(struct store *st, uint64_t ino, const char *key,
			   const char *type, int64_t mtime_ns,
			   struct store_node *out);

/* ---- futures, evict-on-read, lifetimes ------------------------------ */

/* How a reader waits for a future (ProxyStore's polling of a key):
 * first sleep poll_ms, then multiply by backoff up to poll_max_ms, until
 * timeout_ms has passed.  Zero fields take the defaults below. */
struct store_wait {
	uint32_t timeout_ms;	/* default 60000 */
	uint32_t poll_ms;	/* default 100 */
	uint32_t poll_max_ms;	/* default 2000 */
	double backoff;		/* default 1.5; at least 1 */
};

/**
 * Create file @name in @parent as a *future*: a placeholder for an object
 * that does not exist yet.  It gets a random key; its object is pending
 * (size 0, STORE_NODE_PENDING) until store_future_set() or a write through
 * a mount fulfils it, and the waiting policy @w is recorded with it.
 */
store_rc store_future(struct store *st, uint64_t parent, const char *name,
		      const struct store_attr *a, const struct store_wait *w,
		      struct store_node *out);

/**
 * Fulfil future @ino with the content of @fd: ingest it and point the node
 * at it (store_ingest_fd + store_set_content in one batch).  STORE_INVAL
 * if @ino is not a pending future.
 */
store_rc store_future_set(struct store *st, uint64_t ino, int fd,
			  const char *label, const struct store_put_opts *o,
			  struct store_node *out);

/**
 * Wait until node @ino is no longer a pending future, polling the index as
 * its future's recorded policy says (or @w when not NULL), then fill @out
 * with the node as it is now.  STORE_OK at once for a node that is not
 * pending; STORE_TIMEDOUT when the timeout passed (the message names
 * @label).  Never holds the store while sleeping.
 */
store_rc store_wait_node(struct store *st, uint64_t ino,
			 const struct store_wait *w, const char *label,
			 struct store_node *out);

/**
 * Mark object @key evict-on-read (ProxyStore's evict=True): after its
 * first complete read, store_evicted_after_read() removes its blob.
 */
store_rc store_set_evict_on_read(struct store *st, const char *key);

/** Is @key marked evict-on-read? */
bool store_is_evict_on_read(struct store *st, const char *key);

/**
 * The first complete read of evict-on-read object @key has happened:
 * evict its blob from the connector and remember why, so that later reads
 * elsewhere fail with STORE_EVICTED (EIO) and a clear message.
 */
store_rc store_evicted_after_read(struct store *st, const char *key);

/**
 * Put node @ino (a file, symlink or directory) into lifetime @name,
 * creating the lifetime if it is new.  A lifetime groups entries whose
 * objects end together (ProxyStore's lifetimes).
 */
store_rc store_set_lifetime(struct store *st, uint64_t ino, const char *name);

/**
 * Create lifetime @name if it does not exist; with @lease_s > 0 it ends by
 * itself that many seconds from now (a lease).  STORE_EXISTS if it exists.
 */
store_rc store_lifetime_create(struct store *st, const char *name,
			       uint32_t lease_s);

/** Push lease @name's end to @seconds from now.  STORE_NOTFOUND if there
 * is no such lifetime. */
store_rc store_lifetime_extend(struct store *st, const char *name,
			       uint32_t seconds);

/**
 * End lifetime @name: remove its entries (directories with what is below
 * them) and drop their objects, evicting those left unreferenced.
 * *removed (may be NULL) counts the entries removed.  STORE_NOTFOUND if
 * there is no such lifetime.
 */
store_rc store_lifetime_end(struct store *st, const char *name,
			    uint64_t *removed);

/** Call @fn for each lifetime: name, entries, expiry (0: none). */
store_rc store_lifetime_list(struct store *st,
			     int (*fn)(void *arg, const char *name,
				       uint64_t entries, int64_t expires_ns),
			     void *arg);

/** End every lease whose time has come; *ended (may be NULL) counts
 * them.  Cheap when none has: mounts call it now and then. */
store_rc store_lifetime_expire(struct store *st, uint64_t *ended);

/* ---- checking and collecting ----------------------------------------- */

struct store_fsck_report {
	uint64_t nodes, objects, blobs;	/* what was examined */
	uint64_t missing;	/* object rows whose blob is missing */
	uint64_t corrupt;	/* blobs that do not verify (deep only) */
	uint64_t orphans;	/* blobs no object row has */
	uint64_t unreferenced;	/* object rows with refs 0 */
	uint64_t bad_refs;	/* refs that disagree with the nodes */
	uint64_t dangling;	/* file nodes whose object row is missing */
	uint64_t leftovers;	/* temp files of interrupted writes */
};

/**
 * Check the store: every problem is passed to @fn (may be NULL) as one line
 * and counted in @rep.  With @deep, every blob is read and verified.
 * Changes nothing.  STORE_OK even when problems were found: look at @rep.
 */
store_rc store_fsck(struct store *st, bool deep,
		    void (*fn)(void *arg, const char *line), void *arg,
		    struct store_fsck_report *rep);

/**
 * Remove what no one needs: object rows with refs 0, blobs no row names,
 * temp leftovers.  Waits for writers holding the store.  @fn (may be NULL)
 * gets one line per removal; @freed_bytes (may be NULL) the bytes freed.
 */
store_rc store_gc(struct store *st, void (*fn)(void *arg, const char *line),
		  void *arg, uint64_t *removed, uint64_t *freed_bytes);

/* ---- sharing: publications and references ---------------------------- */

/*
 * A reference names a connector and something in it, as a URL that can be
 * handed from one job step or node to another:
 *
 *	pxfs://CONNECTOR/KIND/ID?PARAMS
 *
 * CONNECTOR is file or redis; KIND is snapshot (ID a key: a published
 * index), tag (ID a tag name: whatever publication it points at now) or
 * object (ID a key: one object, ProxyStore's serialized proxy).  PARAMS,
 * percent-encoded: dir=ABSOLUTE_BLOB_DIR for file; url=REDIS_URL and
 * prefix=PREFIX for redis; an object adds size=BYTES and type=MIME.  A
 * reference never holds a password.
 */
#define STORE_REF_MAX	4096

enum store_ref_kind {
	STORE_REF_SNAPSHOT = 1,
	STORE_REF_TAG,
	STORE_REF_OBJECT,
};

struct store_ref {
	enum store_ref_kind kind;
	char connector[16];		/* "file" or "redis" */
	char id[STORE_KEY_HEX + 1];	/* a key, or a tag name */
	char dir[1024];			/* file: the blob directory */
	char url[1024];			/* redis */
	char prefix[256];		/* redis */
	bool has_size;
	uint64_t size;			/* object: content bytes */
	char type[STORE_TYPE_MAX + 1];	/* object: MIME type, or "" */
};

/** Parse reference @text strictly.  STORE_INVAL (with a message saying
 * what is wrong) for anything that is not one. */
store_rc store_ref_parse(const char *text, struct store_ref *out);

/** Write @r as a URL into @buf of @cap bytes (STORE_REF_MAX is enough);
 * STORE_INVAL if it does not fit or @r is not valid. */
store_rc store_ref_format(const struct store_ref *r, char *buf, size_t cap);

/** A reference of @kind to @id through @st's connector (an object's
 * size and type are filled in from the index for STORE_REF_OBJECT). */
store_rc store_ref_make(struct store *st, enum store_ref_kind kind,
			const char *id, struct store_ref *out);

/** Does @r name the connector @st uses (same directory, or same Redis
 * and prefix)? */
bool store_ref_same_connector(struct store *st, const struct store_ref *r);

/**
 * Publish @st's namespace: write a compact, consistent copy of its index
 * (SQLite's VACUUM INTO) as an object through the store's connector, keep
 * it (and so every object it names) from gc, and with @tag (may be NULL)
 * point that tag at it.  *key gets the snapshot's key.  Storing the
 * snapshot is an ingest: a store_set_progress() hook sees it, with
 * @total the snapshot's size (copying the index before it is not shown).
 */
store_rc store_publish(struct store *st, const char *tag,
		       char key[STORE_KEY_HEX + 1]);

/** The snapshot key a tag reference @r points at now (one connector
 * round trip), or @r's own key for a snapshot reference. */
store_rc store_ref_resolve(const struct store_ref *r,
			   char key[STORE_KEY_HEX + 1]);

/**
 * Open the snapshot @key reached through @r's connector as a read-only
 * store: fetched once, verified against @key, and kept in @dir/@key/
 * (created 0700) so that opening it again costs nothing.  *out is the
 * handle (close with store_close), NULL on failure.
 */
store_rc store_ref_open(const struct store_ref *r, const char *key,
			const char *dir, struct store **out);

/**
 * Make snapshot store @st (opened from a reference) serve the index of
 * another snapshot of the same store, kept in directory @dir by
 * store_ref_open(): what `pxfs mount --follow` does when its tag moves.
 * Objects are content-addressed, so whatever was being read stays valid;
 * the index's change log tells watchers which entries changed.  Thread-
 * safe: calls in other threads see the old index or the new one.
 */
store_rc store_switch_index(struct store *st, const char *dir);

/* ---- change notification -------------------------------------------- */

/*
 * Every change to a node (made through any handle, in any process on the
 * node) is numbered in the index, so that a mount can keep long kernel
 * cache timeouts and still tell the kernel exactly which entries went
 * stale: poll store_changes() with the last number seen.
 */

/** Call @fn for each change numbered above @after, in order: the node
 * @ino and the name it had (or got) in @parent.  *last gets the newest
 * number seen (@after if none).  STORE_NOTFOUND when changes after
 * @after were already trimmed away: the caller must treat everything as
 * stale.  @fn runs with the store locked and must not call back. */
store_rc store_changes(struct store *st, uint64_t after,
		       int (*fn)(void *arg, uint64_t ino, uint64_t parent,
				 const char *name),
		       void *arg, uint64_t *last);

/** The newest change number (0 if none): where to start watching. */
store_rc store_change_seq(struct store *st, uint64_t *seq);

/** Forget all but the newest @keep changes.  Cheap; mounts call it now
 * and then. */
store_rc store_changes_trim(struct store *st, uint64_t keep);

/* ---- metrics ---------------------------------------------------------- */

struct store_metrics {
	uint64_t conn_gets;		/* connector get calls */
	uint64_t conn_get_bytes;	/* bytes fetched from the connector */
	uint64_t conn_puts;		/* blobs written */
	uint64_t conn_put_bytes;
	uint64_t conn_evicts;
	uint64_t conn_errors;		/* connector failures */
	uint64_t corrupt;		/* chunks or objects that failed checks */
	uint64_t ingested;		/* objects ingested (incl. dedupe) */
	uint64_t deduped;		/* ingests that found the object stored */
};

/** Snapshot of @st's counters since it was opened.  Thread-safe. */
void store_metrics_get(struct store *st, struct store_metrics *out);

struct store_totals {
	uint64_t files, dirs, symlinks;
	uint64_t objects;
	uint64_t bytes;		/* sum of object sizes (deduplicated) */
	uint64_t stored_bytes;	/* sum of stored sizes */
	uint64_t logical_bytes;	/* sum of file sizes (with duplicates) */
};

/** Count the namespace and the objects from the index. */
store_rc store_totals(struct store *st, struct store_totals *out);

#endif /* STORE_H */
