/* SPDX-License-Identifier: MIT */
/*
 * cache.h - the factory's local cache: whole objects materialized as files.
 *
 * An object is materialized on first use: store_export_fd() writes its
 * verified content into a temporary file of the cache directory, which is
 * then renamed to <dir>/<key>, so a file under a key is always whole.
 * Any number of concurrent users of one cold object cause one fetch (the
 * first does it, the others wait and share the result).  A byte budget is
 * kept by evicting, least recently used first, objects nobody holds; an
 * object larger than the budget is served while held and evicted when
 * released.  A file found in the directory at start is reused after its
 * size and SHA-256 are checked, on first use.  A background queue
 * materializes objects asked for with fs_cache_resolve_async().
 *
 * The cache knows nothing of FUSE: the op layer holds an object for each
 * open file and reads from its fd.  (A later chunk-level sparse cache can
 * replace whole-object materialization behind the same calls.)
 */
#ifndef FS_CACHE_H
#define FS_CACHE_H

#include <stdbool.h>
#include <stdint.h>

struct store;
struct fs_cache;
struct fs_cache_obj;

struct fs_cache_stats {
	uint64_t hits;		/* gets served by a materialized object */
	uint64_t misses;	/* gets that fetched */
	uint64_t waits;		/* gets that waited for another's fetch */
	uint64_t evictions;	/* objects removed to keep the budget */
	uint64_t bytes;		/* bytes held (and reserved by fetches) */
	uint64_t budget;	/* the byte budget */
	uint64_t objects;	/* objects materialized or being fetched */
	uint64_t open;		/* objects held by someone */
	uint64_t reused;	/* files of an earlier run checked and reused */
	uint64_t resolves;	/* objects materialized by this run */
	uint64_t queued;	/* fs_cache_resolve_async() requests */
	uint64_t errors;	/* failed fetches and checks */
};

/**
 * Prepare cache directory @dir (created 0700 with its parents if missing):
 * lock it (one daemon per directory), remove temporaries left by a crash,
 * and take stock of the objects already there.  Call before forking: it
 * starts no thread.  Errors print one line through store_log().
 * Returns: 0 with *out set (caller owns it; close with fs_cache_close()),
 * or a positive errno with *out NULL.
 */
int fs_cache_open(const char *dir, uint64_t budget, struct fs_cache **out);

/**
 * Serve objects of @st (borrowed; must outlive the cache) and start the
 * resolve workers.  Call once, after forking.  Returns 0 or an errno.
 */
int fs_cache_start(struct fs_cache *c, struct store *st);

/** Stop the workers and free @c; materialized files stay for the next
 * run.  Nothing may be held.  NULL is a harmless no-op. */
void fs_cache_close(struct fs_cache *c);

/**
 * Hold object @key of @size bytes, materializing it first if needed
 * (blocking; a fetch or a check of a reused file may take long).  @ino
 * names a node of the object, for messages.  A failure is logged once,
 * with the node's path and the key.
 * Returns: 0 with *out held (release with fs_cache_put()), or EIO (the
 * object is missing or corrupt), ENOSPC (the cache directory is full),
 * ENOMEM; *out is NULL then.  Thread-safe.
 */
int fs_cache_get(struct fs_cache *c, const char *key, uint64_t size,
		 uint64_t ino, struct fs_cache_obj **out);

/** Read-only fd on held object @o's content (for pread and splice).
 * Borrowed; valid until @o is released. */
int fs_cache_obj_fd(const struct fs_cache_obj *o);

/** Release a hold taken by fs_cache_get().  Thread-safe. */
void fs_cache_put(struct fs_cache *c, struct fs_cache_obj *o);

/** Is object @key materialized (whole in the directory)?  Never fetches
 * nor blocks on a fetch.  Thread-safe. */
bool fs_cache_has(struct fs_cache *c, const char *key);

/**
 * Queue the materialization of object @key (@size bytes, named by node
 * @ino) on a worker thread and return at once.  Returns 0 or ENOMEM.
 * Thread-safe.
 */
int fs_cache_resolve_async(struct fs_cache *c, const char *key,
			   uint64_t size, uint64_t ino);

/** Snapshot of @c's counters.  Thread-safe. */
void fs_cache_get_stats(struct fs_cache *c, struct fs_cache_stats *out);

/** The cache directory.  Borrowed; valid until fs_cache_close(). */
const char *fs_cache_dir(const struct fs_cache *c);

#endif /* FS_CACHE_H */
