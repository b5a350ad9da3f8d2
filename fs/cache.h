/* SPDX-License-Identifier: MIT */
/*
 * cache.h - the factory's local cache: objects kept chunk by chunk in
 * sparse files.
 *
 * An object is cut into the chunks of its blob (chunk_size bytes each, the
 * last one shorter).  A read of bytes [a, b) makes present only the chunks
 * that cover them: each is fetched from the connector, decompressed and
 * verified against the index's digest of it (store_read_chunk()), served
 * from memory at once, and written behind the reader at its place in a
 * sparse file of the cache directory, <dir>/<key>.part, whose presence
 * map (one bit per chunk, set once the chunk is on the disk) is kept in
 * <dir>/<key>.map.  Once every chunk is present the file is renamed to
 * <dir>/<key> and the map removed.  Readers are then served from the
 * file's fd (and the kernel's page cache).
 *
 * Any number of concurrent readers of one chunk cause one fetch (the first
 * claims it, the others wait and share the result).  A reader that moves
 * forward through an object makes the cache fetch the chunks after it in
 * the background (readahead), on worker threads, so that decompression of
 * the upcoming chunks runs on the other cores while the current one is
 * served.  fs_cache_resolve_async() fetches every chunk of an object.
 *
 * A byte budget is kept by evicting whole objects that nobody holds, least
 * recently used first; an object held open may outgrow it and is then
 * evicted when released.  Files and maps found in the directory at start
 * are reused: each chunk they claim is checked against its digest on first
 * use (a chunk that fails is fetched again), so a map written before a
 * crash can be wrong without harm.
 *
 * The cache knows nothing of FUSE: the op layer holds an object for each
 * open file, asks fs_cache_read() for the bytes of each read request and
 * replies from the object's fd.
 */
#ifndef FS_CACHE_H
#define FS_CACHE_H

#include <stdbool.h>
#include <stdint.h>

struct store;
struct fs_cache;
struct fs_cache_obj;

struct fs_cache_stats {
	uint64_t hits;		/* chunks a read found present */
	uint64_t misses;	/* chunks fetched from the connector */
	uint64_t waits;		/* chunks a read waited for (another's fetch) */
	uint64_t readahead;	/* of the misses, fetched ahead of a reader or
				   by a resolve */
	uint64_t evictions;	/* objects removed to keep the budget */
	uint64_t bytes;		/* bytes held (and reserved by fetches) */
	uint64_t budget;	/* the byte budget */
	uint64_t objects;	/* objects cached (whole or in part) or held */
	uint64_t open;		/* objects held by someone */
	uint64_t reused;	/* objects of an earlier run found and reused */
	uint64_t resolves;	/* objects made complete by this run */
	uint64_t queued;	/* fs_cache_resolve_async() requests */
	uint64_t errors;	/* failed fetches and cache writes */
};

/*
 * A reader's position, for readahead: one per open file, zeroed when the
 * file is opened, passed to every fs_cache_read() of that file.  Only the
 * cache touches it (under its lock).
 */
struct fs_cache_ra {
	uint64_t next;		/* where a sequential read would go on */
	uint32_t window;	/* chunks to keep fetched ahead; 0: none */
	uint32_t until;		/* chunks below this were asked for */
};

/*
 * Called when object @key (named by node @ino) became complete in the
 * cache -- every chunk present and verified -- and this run fetched at
 * least part of it: the point where an object's first complete resolve
 * finishes (evict-on-read hangs on it).  It runs on the thread that
 * fetched the last chunk, with no cache lock held, so it may block and may
 * call the store.  Called once per object while the cache keeps it (so
 * again only if the object was evicted and fetched anew): make it
 * idempotent.
 */
typedef void (*fs_cache_complete_fn)(void *arg, const char *key,
				     uint64_t ino);

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
 * Keep fetched chunks in memory only, with no copy in the cache
 * directory, for the objects that can be fetched again at any time (not
 * evict-on-read, not external, not cached already); `pxfs resolve` and
 * fs_cache_read() still give an object its disk copy.  For a store whose
 * blobs are on a local disk, where the copy costs more than it saves.
 * Call before fs_cache_start().  Not thread-safe.
 */
void fs_cache_set_memory(struct fs_cache *c, bool on);

/**
 * Call @fn (with @arg) whenever an object becomes complete; see
 * fs_cache_complete_fn.  Call before fs_cache_start().  Not thread-safe.
 */
void fs_cache_set_complete_hook(struct fs_cache *c, fs_cache_complete_fn fn,
				void *arg);

/**
 * Serve objects of @st (borrowed; must outlive the cache) and start the
 * worker threads (readahead and resolves).  Call once, after forking.
 * Returns 0 or an errno.
 */
int fs_cache_start(struct fs_cache *c, struct store *st);

/** Stop the workers, save the presence maps and free @c; cached files
 * stay for the next run.  Nothing may be held.  NULL is a harmless
 * no-op. */
void fs_cache_close(struct fs_cache *c);

/**
 * Hold object @key of @size bytes for reading.  Fetches nothing: it only
 * learns the object's chunk layout from the index (once per object).
 * @ino names a node of the object, for messages.
 * Returns: 0 with *out held (release with fs_cache_put()), or EIO (the
 * index has no such object, or it is corrupt), ENOMEM; *out is NULL then.
 * Thread-safe.
 */
int fs_cache_get(struct fs_cache *c, const char *key, uint64_t size,
		 uint64_t ino, struct fs_cache_obj **out);

/**
 * Make bytes [@off, @off + @len) of held object @o present in its cache
 * file, fetching the chunks that are not (and waiting for those another
 * thread is fetching, or writing), and start the readahead that reader
 * @ra's pattern calls for (@ra may be NULL: none).  Blocks while
 * fetching.  A failure is logged once, with the node's path (@ino) and
 * the key.
 * Returns: 0, then fs_cache_obj_fd() holds those bytes; EIO (missing or
 * corrupt blob, connector down), ENOSPC (cache directory full), ENOMEM.
 * Thread-safe.
 */
int fs_cache_read(struct fs_cache *c, struct fs_cache_obj *o,
		  struct fs_cache_ra *ra, uint64_t off, uint64_t len,
		  uint64_t ino);

/* Bytes of a chunk still in memory after its fetch, pinned for a reply. */
struct fs_cache_pin {
	const void *mem;	/* the bytes asked for */
	void *h;		/* private */
	void *own;		/* private */
};

/**
 * fs_cache_read() for a reply: when bytes [@off, @off + @len) lie in one
 * chunk that is in memory since its fetch, that chunk is pinned and
 * @pin->mem points at them -- the reply goes from there, without waiting
 * for the chunk to reach the disk, and without reading it back (a chunk
 * just fetched went to the disk directly, not through the page cache).
 * An object kept in memory only (fs_cache_set_memory()) always answers
 * in @pin->mem: bytes across chunks are copied into a buffer of the pin.
 * Otherwise @pin->mem is NULL and, as after fs_cache_read(),
 * fs_cache_obj_fd() holds the bytes.  Release with fs_cache_unpin() once
 * replied (also after a failure: a harmless no-op then).
 * Returns: as fs_cache_read().  Thread-safe.
 */
int fs_cache_read_pin(struct fs_cache *c, struct fs_cache_obj *o,
		      struct fs_cache_ra *ra, uint64_t off, uint64_t len,
		      uint64_t ino, struct fs_cache_pin *pin);

/** Read-only use fd on held object @o's cache file (for pread and
 * splice), valid after a successful fs_cache_read() of the bytes to read.
 * Borrowed; valid until @o is released.  Thread-safe. */
int fs_cache_obj_fd(struct fs_cache_obj *o);

/** Release a pin taken by fs_cache_read_pin() (a harmless no-op if it
 * took none).  Thread-safe. */
void fs_cache_unpin(struct fs_cache *c, struct fs_cache_pin *pin);

/** Release a hold taken by fs_cache_get().  Thread-safe. */
void fs_cache_put(struct fs_cache *c, struct fs_cache_obj *o);

/** Is object @key complete in the cache (every chunk present)?  Never
 * fetches nor blocks on a fetch; waits for the chunks of @key fetched
 * already to reach the disk.  Thread-safe. */
bool fs_cache_has(struct fs_cache *c, const char *key);

/**
 * Queue the fetch of every chunk of object @key (@size bytes, named by
 * node @ino) not yet present, on the worker threads, and return at once.
 * Returns 0 or ENOMEM.  Thread-safe.
 */
int fs_cache_resolve_async(struct fs_cache *c, const char *key,
			   uint64_t size, uint64_t ino);

/** Snapshot of @c's counters.  Thread-safe. */
void fs_cache_get_stats(struct fs_cache *c, struct fs_cache_stats *out);

/** The cache directory.  Borrowed; valid until fs_cache_close(). */
const char *fs_cache_dir(const struct fs_cache *c);

#endif /* FS_CACHE_H */
