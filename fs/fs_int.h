/* SPDX-License-Identifier: MIT */
/*
 * fs_int.h - what the modules of the daemon share: the state of one mount
 * and the session constructor.  Private to fs/.
 */
#ifndef FS_FS_INT_H
#define FS_FS_INT_H

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 14)

#include <fuse_lowlevel.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs.h"
#include "store.h"

/* Largest read request (-o max_read, and max_write sets max_pages). */
#define FS_MAX_READ	(1u << 20)

/*
 * What fi->fh of an open regular file points at: every handle struct
 * starts with an `unsigned kind` holding one of these, so that read and
 * release can tell a read-only open (struct fs_file, ops.c) from an open
 * for writing.
 */
enum fs_handle_kind {
	FS_HANDLE_READ = 1,
	FS_HANDLE_WRITE,
};

struct store;
struct fs_cache;
struct fs_inode_table;
struct fs_write;

/* The FUSE operations we time; names in ops.c. */
enum fs_op {
	FS_OP_LOOKUP,
	FS_OP_FORGET,
	FS_OP_GETATTR,
	FS_OP_READLINK,
	FS_OP_OPENDIR,
	FS_OP_READDIR,
	FS_OP_READDIRPLUS,
	FS_OP_RELEASEDIR,
	FS_OP_OPEN,
	FS_OP_READ,
	FS_OP_RELEASE,
	FS_OP_STATFS,
	FS_OP_GETXATTR,
	FS_OP_LISTXATTR,
	FS_OP_SETXATTR,
	FS_OP_REMOVEXATTR,
	FS_OP_SETATTR,
	FS_OP_CREATE,
	FS_OP_WRITE,
	FS_OP_FLUSH,
	FS_OP_FSYNC,
	FS_OP_FALLOCATE,
	FS_OP_MKNOD,
	FS_OP_MKDIR,
	FS_OP_UNLINK,
	FS_OP_RMDIR,
	FS_OP_SYMLINK,
	FS_OP_RENAME,
	FS_OP_LINK,
	FS_OP_MAX,
};

/* Latency of one operation; updated with relaxed atomics, read racily. */
struct fs_op_stat {
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t total_ns;
	atomic_uint_fast64_t max_ns;
};

/*
 * An open handle's place in a list of them: struct fs's read handles and
 * open directories (ops.c), struct fs_write's write handles (write.c).
 * A list is kept so that what the kernel never released can be freed at
 * stop; its owner's lock protects the links.
 */
struct fs_hlink {
	struct fs_hlink *prev, *next;
	bool dir;			/* ops.c: an open directory */
};

/* Put @l first in the list *@head (its lock held). */
static inline void fs_hlink_add(struct fs_hlink **head, struct fs_hlink *l)
{
	l->prev = NULL;
	l->next = *head;
	if (l->next)
		l->next->prev = l;
	*head = l;
}

/* Take @l out of the list *@head (its lock held). */
static inline void fs_hlink_del(struct fs_hlink **head, struct fs_hlink *l)
{
	if (l->prev)
		l->prev->next = l->next;
	else
		*head = l->next;
	if (l->next)
		l->next->prev = l->prev;
}

/* One mount.  Set up by fs_main() before the session loop starts;
 * the pointers are immutable while it runs. */
struct fs {
	struct store *st;		/* thread-safe */
	struct fs_cache *cache;		/* thread-safe */
	struct fs_inode_table *inodes;	/* thread-safe; freed in destroy */
	struct fs_write *write;		/* thread-safe; write.c */
	double timeout;			/* entry and attr timeout, seconds */
	int64_t start_ns;		/* CLOCK_MONOTONIC at mount */
	atomic_uint_fast64_t errors;	/* index failures seen by ops */
	struct fs_op_stat ops[FS_OP_MAX];
	pthread_mutex_t hlock;		/* initialized by fs_main() */
	struct fs_hlink *handles;	/* read files and directories open,
					   for fs_release_all(); hlock */
};

/**
 * Let go of every read handle and open directory the kernel did not
 * release (the mount stopped while they were open).  Call once the
 * session loop has ended, before fs->cache is closed.
 */
void fs_release_all(struct fs *fs);

/**
 * A low-level session serving @fs (borrowed; must outlive the session)
 * with the mount options in @args.  Returns NULL on failure (libfuse has
 * logged why).  Caller owns the result; free with fuse_session_destroy().
 */
struct fuse_session *fs_session_new(struct fuse_args *args, struct fs *fs);

/** CLOCK_MONOTONIC in nanoseconds. */
int64_t fs_now_ns(void);

/** Is @rc an answer the caller asked for (ENOENT, EEXIST, ...) rather
 * than a failure worth counting and logging (EIO, ENOSPC, ...)? */
bool fs_rc_expected(store_rc rc);

#endif /* FS_FS_INT_H */
