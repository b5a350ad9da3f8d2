/* SPDX-License-Identifier: MIT */
/*
 * fs.h - the pxfs FUSE daemon: mounts a store's namespace read-only.
 *
 * Every regular file in the mount is a proxy for an immutable object of the
 * store.  Metadata (lookup, getattr, readdir, xattrs) is answered from the
 * store's index alone; reads run the file's factory chunk by chunk: the
 * chunks that cover a read are fetched from the connector, verified
 * against the index's digest of each and kept in a sparse file of a local
 * cache directory, from which that read and every later one is served
 * (and from the kernel page cache).
 *
 * The root of the mount answers the xattr user.pxfs.stats with one line of
 * JSON (the metrics of the running daemon):
 *
 *	{"pid":N,"uptime_us":N,
 *	 "connector":{"gets":N,"get_bytes":N,"errors":N,"corrupt":N},
 *	 "cache":{"hits":N,"misses":N,"waits":N,"readahead":N,
 *		  "evictions":N,"bytes":N,
 *		  "budget":N,"objects":N,"open":N,"reused":N,"dir":"..."},
 *	 "resolves":N,"resolve_queued":N,"errors":N,"inodes":N,
 *	 "attrs":{"hits":N,"misses":N,"evictions":N,"invals":N,
 *		  "entries":N,"max":N},
 *	 "ops":{"lookup":{"count":N,"total_us":N,"max_us":N},...}}
 *
 * connector: the store's connector traffic since the daemon opened it;
 * cache.hits: chunks a read found cached, misses: chunks fetched, waits:
 * chunks a read waited for (another thread's fetch), readahead: the
 * misses fetched ahead of a reader or by a resolve; resolves: objects
 * made complete; errors: failed fetches and index failures; attrs: the
 * cache of index rows that lookup and getattr answer from (hits, misses,
 * rows dropped for room and because they changed, rows held, the bound:
 * see inode.h); ops: latency
 * of each FUSE operation, in microseconds.
 */
#ifndef FS_FS_H
#define FS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Default cache budget when fs_opts.cache_size is 0: a quarter of the space
 * free on the cache directory's filesystem at mount time, clamped to
 * [FS_CACHE_SIZE_MIN, FS_CACHE_SIZE_MAX].  A quarter leaves room for the
 * rest of the machine; the cap keeps one mount from hoarding a big disk.
 */
#define FS_CACHE_SIZE_MIN	(256ull << 20)		/* 256 MiB */
#define FS_CACHE_SIZE_MAX	(16ull << 30)		/* 16 GiB */

/* Options of one mount.  Strings are borrowed for the call of fs_main(). */
struct fs_opts {
	const char *store;	/* store directory */
	const char *mountpoint;	/* an empty directory */
	/*
	 * Cache directory; NULL for the default: $XDG_CACHE_HOME/pxfs/<id>,
	 * else $HOME/.cache/pxfs/<id>, else /var/tmp/pxfs-<uid>/<id>, where
	 * <id> is store_id() (the first of these that can be created).  It
	 * is created 0700 if missing and locked: one daemon per directory.
	 */
	const char *cache_dir;
	uint64_t cache_size;	/* byte budget of the cache; 0: default */
	bool cache_memory;	/* --cache-mode memory: no disk copy of what
				   can be fetched again (fs_cache_set_memory) */
	bool foreground;	/* stay in the foreground, log to stderr */
	bool read_only;		/* also mount read-only in the kernel (-o ro) */
	bool allow_other;	/* let other users in (-o allow_other) */
	bool debug;		/* log debug lines and every FUSE request */
	/* a pxfs:// tag reference whose publications the mount follows,
	 * @store being its current snapshot (ref_prepare_mount); or NULL */
	const char *follow;
};

/**
 * Mount @o->store on @o->mountpoint and serve it until it is unmounted or
 * the daemon gets SIGTERM, SIGINT or SIGHUP (which unmount it).
 *
 * The store is opened and checked, and the cache directory prepared,
 * before anything is mounted: such errors print one line on stderr and
 * return 1 with nothing mounted.  Unless @o->foreground, the process then
 * forks: the parent exits 0 once the mount is ready and the child serves,
 * logging to syslog; with @o->foreground, it serves in this process,
 * logging to stderr, and returns when unmounted.
 *
 * Returns: 0 after a clean unmount, 1 on error.  Not thread-safe: call once
 * per process, before starting threads.
 */
int fs_main(const struct fs_opts *o);

/**
 * Unmount the FUSE mount on @mnt (an absolute path): umount2() as root,
 * fusermount3 -u otherwise; with @lazy, detach it even if busy or if its
 * daemon died.  On failure, the reason (one line) is left in @msg of
 * @len bytes.  Returns: 0 or -1.  Thread-safe.
 */
int fs_unmount(const char *mnt, bool lazy, char *msg, size_t len);

#endif /* FS_FS_H */
