/* SPDX-License-Identifier: MIT */
/*
 * write.h - the writable side of a mount: namespace changes, the staging
 * of written files and their ingest when the last writer closes, futures,
 * and the watcher that keeps the kernel's caches in step with changes made
 * by other mounts and commands.  Private to fs/.
 *
 * The fs_do_*() functions do the work of one FUSE request and return 0 or
 * a positive errno; the fs_op_*() handlers in ops.c reply (exactly once),
 * count lookups and time the operation.  Every function here is
 * thread-safe unless it says otherwise.
 */
#ifndef FS_WRITE_H
#define FS_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "fs_int.h"

struct fs_write;
struct store_node;

/** The kind of open file @fi is (FS_HANDLE_READ or FS_HANDLE_WRITE): the
 * first member of every handle struct. */
static inline unsigned fs_handle_kind(const struct fuse_file_info *fi)
{
	return *(const unsigned *)(uintptr_t)fi->fh;
}

/**
 * Set up writing for @fs (whose store and cache are open) and start the
 * change watcher, which sends invalidations through @se (borrowed; must
 * outlive fs_write_stop()).  @store is the store's directory: a second
 * handle on it carries every change this mount makes.  With @read_only
 * nothing is changed (EROFS), but the watcher still runs.  Call once,
 * after forking, before the session loop.  Errors are logged.
 * Returns: 0 (fs->write set), or 1.  Not thread-safe.
 */
int fs_write_start(struct fs *fs, struct fuse_session *se, const char *store,
		   bool read_only);

/** Stop the watcher thread (before the session is unmounted).  Safe to
 * call when fs_write_start() failed or never ran.  Not thread-safe. */
void fs_write_stop(struct fs *fs);

/** Free @w: staged files still open are kept on disk (and logged), the
 * write handle on the store is closed.  NULL is a harmless no-op.  Not
 * thread-safe: after the session is destroyed. */
void fs_write_free(struct fs_write *w);

/* ---- files ------------------------------------------------------------ */

/**
 * Does an open of @ino with open(2) @flags belong to the write side?
 * Opens for writing do, and so do opens of a file this mount is writing
 * (they must see the staged bytes, not the stored object).
 */
bool fs_write_wants_open(struct fs *fs, fuse_ino_t ino, int flags);

/** Open @ino (a regular file) for fs_write_wants_open(): a write handle
 * in fi->fh (kind FS_HANDLE_WRITE), released by fs_do_write_release(). */
int fs_do_write_open(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi);

/**
 * Create regular file @name in @parent for the caller @ctx and open it:
 * the new node goes to @out, the handle to fi->fh.
 */
int fs_do_create(struct fs *fs, const struct fuse_ctx *ctx, fuse_ino_t parent,
		 const char *name, mode_t mode, struct fuse_file_info *fi,
		 struct store_node *out);

/** Read up to @size bytes at @off through write handle @fi into @buf;
 * *got is the count (0 at the end). */
int fs_do_write_read(struct fs *fs, struct fuse_file_info *fi, char *buf,
		     size_t size, off_t off, size_t *got);

/** Write @size bytes of @buf at @off (at the end for O_APPEND). */
int fs_do_write(struct fs *fs, struct fuse_file_info *fi, const char *buf,
		size_t size, off_t off);

/** close(2) of a descriptor of @fi: store the file if no other handle
 * still has writes to add.  The error is what close() returns. */
int fs_do_flush(struct fs *fs, struct fuse_file_info *fi);

/** fsync(2): store the file now. */
int fs_do_fsync(struct fs *fs, struct fuse_file_info *fi);

/** posix_fallocate(3) (mode 0 or FALLOC_FL_KEEP_SIZE). */
int fs_do_fallocate(struct fs *fs, struct fuse_file_info *fi, int mode,
		    off_t off, off_t len);

/** The last reference to write handle @fi is gone: store what is still
 * unstored (errors can only be logged now) and free the handle. */
void fs_do_write_release(struct fs *fs, struct fuse_file_info *fi);

/**
 * The stored attributes in @st are those of the index; while this mount
 * writes the file, its size and mtime are the staged ones.  Cheap when
 * nothing is being written.  Calls nothing in the store (callable from a
 * store_readdir() callback).
 */
void fs_write_fix_attr(struct fs *fs, struct stat *st);

/**
 * Node @ino is not in the index: if it was unlinked (or replaced) through
 * this mount while open for writing, fill @out with it as it was, so that
 * its open handles can still get its attributes (fix them with
 * fs_write_fix_attr()).  Returns whether it did.
 */
bool fs_write_orphan(struct fs *fs, uint64_t ino, struct store_node *out);

/**
 * Node @ino is not in the index: if this mount unlinked or replaced it
 * lately (one of the last few), fill @out with it as it was and return
 * true.  For an open that the kernel began before that (it had found the
 * name): it may open what it found, if the cache holds all of it.
 */
bool fs_write_lately_gone(struct fs *fs, uint64_t ino, struct store_node *out);

/**
 * A read-only open of @ino (ops.c's own) was made (@open) or released.
 * When this mount unlinks or replaces a file open for reading, its object
 * is first taken whole into the cache, where the handles hold it, and its
 * attributes kept for their getattr: POSIX's open-unlinked file.
 */
void fs_write_note_read(struct fs *fs, uint64_t ino, bool open);

/**
 * A read through a read-only handle of @ino: if the file was written
 * through this mount since the handle was opened, read the bytes staged
 * here (what a local filesystem would show) into @buf and return 0 or an
 * errno; otherwise return -1 (read the handle's object).  Cheap when no
 * such file exists.
 */
int fs_do_write_read_ino(struct fs *fs, uint64_t ino, char *buf, size_t size,
			 off_t off, size_t *got);

/** Might fs_do_write_read_ino() take over a read?  A relaxed load: false
 * means no file open for reading here was written here. */
bool fs_write_redirects(struct fs *fs);

/* ---- the namespace ---------------------------------------------------- */

/** setattr(2) family: @to_set is FUSE_SET_ATTR_*; @fi may be NULL.  The
 * node afterwards goes to @out (fix its attributes with
 * fs_write_fix_attr()). */
int fs_do_setattr(struct fs *fs, const struct fuse_ctx *ctx, fuse_ino_t ino,
		  const struct stat *attr, int to_set,
		  struct fuse_file_info *fi, struct store_node *out);

/** mkdir, mknod (regular files only: EPERM for the rest) and symlink,
 * owned by the caller @ctx: the new node goes to @out. */
int fs_do_mkdir(struct fs *fs, const struct fuse_ctx *ctx, fuse_ino_t parent,
		const char *name, mode_t mode, struct store_node *out);
int fs_do_mknod(struct fs *fs, const struct fuse_ctx *ctx, fuse_ino_t parent,
		const char *name, mode_t mode, struct store_node *out);
int fs_do_symlink(struct fs *fs, const struct fuse_ctx *ctx,
		  const char *target, fuse_ino_t parent, const char *name,
		  struct store_node *out);

int fs_do_unlink(struct fs *fs, fuse_ino_t parent, const char *name);
int fs_do_rmdir(struct fs *fs, fuse_ino_t parent, const char *name);
int fs_do_rename(struct fs *fs, fuse_ino_t parent, const char *name,
		 fuse_ino_t newparent, const char *newname, unsigned flags);

/** statfs(2): space from the staging filesystem, counts from the index. */
int fs_do_statfs(struct fs *fs, struct statvfs *sv);

/* ---- futures ---------------------------------------------------------- */

/**
 * @n is a pending future being opened: wait (polling the index with the
 * future's recorded policy, holding nothing) until it is set, and refill
 * @n.  On timeout, logs one line and returns ETIMEDOUT.
 */
int fs_write_wait_future(struct fs *fs, struct store_node *n);

/* ---- evict-on-read ---------------------------------------------------- */

/**
 * The cache's completion hook (fs_cache_complete_fn, @arg the struct fs):
 * object @key, read through node @ino, is now whole in this mount's
 * cache.  An evict-on-read object is then evicted from the store
 * (store_evicted_after_read): this mount keeps serving its copy, other
 * readers get EIO and a log line saying why.  Idempotent.
 */
void fs_write_object_complete(void *arg, const char *key, uint64_t ino);

#endif /* FS_WRITE_H */
