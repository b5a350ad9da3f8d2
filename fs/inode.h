/* SPDX-License-Identifier: MIT */
/*
 * inode.h - the inodes the kernel knows: lookup counts and per-inode state.
 *
 * The store's index is the source of truth for every attribute; this table
 * only remembers what the kernel holds.  Each fuse_reply_entry (lookup) and
 * each readdirplus entry other than "." and ".." adds one to the inode's
 * lookup count, forget and forget_multi take away what the kernel says, and
 * an inode is dropped when its count reaches zero.  The root (FUSE_ROOT_ID)
 * is never looked up nor forgotten and is not kept here.
 *
 * Per inode we keep the object key of the last open, so that an open that
 * finds a different object behind the same ino (the namespace was changed
 * by another process) makes the kernel drop its cached pages instead of
 * keeping them.
 *
 * The same table keeps a bounded cache of index rows (struct store_node:
 * attributes, name, key, type, flags) of the inodes used last, found by
 * ino and by (parent, name), so that lookup, getattr and the xattrs are
 * answered without SQLite.  It is separate from the lookup counts: an
 * inode the kernel forgot may stay cached, one the kernel holds may not
 * be.  It holds what the index said, never more recent than it, and is
 * kept correct by invalidation: every change the index's change log
 * lists (this mount's own ones as soon as they are committed, others'
 * when the watcher sees them, before it tells the kernel) drops the
 * rows it names.  A reader that fills it takes fs_inode_attr_gen()
 * before it reads the index, so that a row read before an invalidation
 * is never put in after it.
 */
#ifndef FS_INODE_H
#define FS_INODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_node;
struct fs_inode_table;

/**
 * A new, empty table.  Returns NULL when out of memory.  Caller owns the
 * result; free with fs_inode_table_free().
 */
struct fs_inode_table *fs_inode_table_new(void);

/* Rows the attribute cache keeps by default: about 128 bytes each. */
#define FS_INODE_ATTR_MAX	32768

/**
 * Like fs_inode_table_new(), with an attribute cache of at most
 * @max_attrs rows (0: none at all; clamped to 2^24).  Returns NULL when
 * out of memory.  Caller owns the result; free with fs_inode_table_free().
 */
struct fs_inode_table *fs_inode_table_new_max(size_t max_attrs);

/** Free @t and every inode still in it (the kernel is gone: destroy).
 * NULL is a harmless no-op.  Not thread-safe. */
void fs_inode_table_free(struct fs_inode_table *t);

/**
 * Count one kernel lookup of @ino (call before the reply that hands it to
 * the kernel).  Returns 0, or ENOMEM with nothing counted.  Thread-safe.
 */
int fs_inode_ref(struct fs_inode_table *t, uint64_t ino);

/**
 * The kernel forgets @nlookup lookups of @ino (also used to take back a
 * count whose reply never reached the kernel).  Drops the inode at zero.
 * An unknown ino or a count above the inode's is ignored.  Thread-safe.
 */
void fs_inode_forget(struct fs_inode_table *t, uint64_t ino,
		     uint64_t nlookup);

/**
 * Record that @ino is being opened on object @key.  Returns true when the
 * kernel may keep the pages it cached for @ino (first open, or the same
 * object as before), false when the object changed.  Thread-safe.
 */
bool fs_inode_note_open(struct fs_inode_table *t, uint64_t ino,
			const char *key);

/** Number of inodes the kernel holds (not counting the root).
 * Thread-safe. */
uint64_t fs_inode_count(struct fs_inode_table *t);

/**
 * The inos the kernel holds now (not the root), for invalidating them
 * all.  Returns 0 with *inos (caller owns it; free with free()) and
 * *count set, or ENOMEM.  Thread-safe.
 */
int fs_inode_snapshot(struct fs_inode_table *t, uint64_t **inos,
		      size_t *count);

/* ---- the attribute cache ----------------------------------------------- */

/** Counters of the attribute cache (read racily). */
struct fs_inode_attr_stats {
	uint64_t hits;		/* gets and lookups answered */
	uint64_t misses;	/* gets and lookups that must ask the index */
	uint64_t evictions;	/* rows dropped to make room */
	uint64_t invals;	/* rows dropped because they changed */
	uint64_t entries;	/* rows held now */
	uint64_t max;		/* rows it may hold */
};

/**
 * The invalidation generation: take it before reading a row from the
 * index, and pass it to fs_inode_attr_put() with the row.  Thread-safe.
 */
uint64_t fs_inode_attr_gen(struct fs_inode_table *t);

/**
 * Remember index row @n, read after fs_inode_attr_gen() returned @gen;
 * dropped if anything was invalidated since (the row may be stale), or
 * if it cannot be kept (a key that is not 64 hex digits, or a MIME
 * type when the table already knows too many distinct ones).  A row already held for the same ino, or
 * for the same (parent, name), is replaced.  Copied; @n may be freed
 * after the call.  Thread-safe.
 */
void fs_inode_attr_put(struct fs_inode_table *t, const struct store_node *n,
		       uint64_t gen);

/**
 * Like fs_inode_attr_put(), but only into a free row: for the rows of a
 * listing, which the kernel has just been given (it asks for them again
 * only after forgetting them), so that a long listing neither replaces
 * the rows lookups use nor pays for replacing.  Thread-safe.
 */
void fs_inode_attr_offer(struct fs_inode_table *t, const struct store_node *n,
			 uint64_t gen);

/** Fill @out with the row of @ino, if held.  Returns whether it was.
 * Thread-safe. */
bool fs_inode_attr_get(struct fs_inode_table *t, uint64_t ino,
		       struct store_node *out);

/** Fill @out with the row of child @name of @parent, if held.  Returns
 * whether it was.  Thread-safe. */
bool fs_inode_attr_lookup(struct fs_inode_table *t, uint64_t parent,
			  const char *name, struct store_node *out);

/**
 * Node @ino, and whatever node is called @name in @parent (@name may be
 * NULL or "": no name), changed: drop their rows and make fills begun
 * before this call fail.  Call after the change is committed, before
 * telling the kernel.  Thread-safe.
 */
void fs_inode_attr_inval(struct fs_inode_table *t, uint64_t ino,
			 uint64_t parent, const char *name);

/** Drop every row (the changes were lost track of).  Thread-safe. */
void fs_inode_attr_clear(struct fs_inode_table *t);

/** The counters now.  Thread-safe. */
void fs_inode_attr_get_stats(struct fs_inode_table *t,
			     struct fs_inode_attr_stats *out);

/**
 * Write the path of node @ino below the mount root ("/a/b") into @buf of
 * @len bytes, for messages, from the store's index.  If the node or one
 * of its parents cannot be found, writes "<ino N>".  Always NUL-terminates
 * (truncating from the left).  Thread-safe.
 */
void fs_inode_path(struct store *st, uint64_t ino, char *buf, size_t len);

#endif /* FS_INODE_H */
