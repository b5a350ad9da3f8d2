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
 */
#ifndef FS_INODE_H
#define FS_INODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct fs_inode_table;

/**
 * A new, empty table.  Returns NULL when out of memory.  Caller owns the
 * result; free with fs_inode_table_free().
 */
struct fs_inode_table *fs_inode_table_new(void);

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

/**
 * Write the path of node @ino below the mount root ("/a/b") into @buf of
 * @len bytes, for messages, from the store's index.  If the node or one
 * of its parents cannot be found, writes "<ino N>".  Always NUL-terminates
 * (truncating from the left).  Thread-safe.
 */
void fs_inode_path(struct store *st, uint64_t ino, char *buf, size_t len);

#endif /* FS_INODE_H */
