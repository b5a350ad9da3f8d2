/* SPDX-License-Identifier: MIT */
/*
 * ops.c - the FUSE low-level operations of a pxfs mount.
 *
 * Inode numbers are the store's node ids (the root is 1 on both sides), so
 * every metadata request is one point query on the index and never touches
 * the connector.  Objects are immutable, hence the long entry and attribute
 * timeouts, keep_cache on open and readdirplus: after the first `ls -l` the
 * kernel answers by itself.  Lookups that find nothing are not cached, so
 * entries added to the store by another process show up.
 *
 * Opening a file holds its object in the cache (materializing it on first
 * use: the factory); reads are spliced from the cache file.  Each fs_op_*
 * calls exactly one fuse_reply_*, and the fs_do_* helpers return a
 * positive errno.  Everything that changes the namespace or a file's
 * bytes, and opens of files this mount is writing, is done by write.c's
 * fs_do_* functions; the handlers here reply for them.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "fs_int.h"
#include "cache.h"
#include "inode.h"
#include "write.h"

#define XATTR_PREFIX	"user.pxfs."
#define XATTR_STATS	"user.pxfs.stats"
#define STATS_SLACK	512	/* bytes a size probe of it adds */
#define XATTR_RESOLVE	"user.pxfs.resolve"
#define FS_BLKSIZE	4096

static const char *const op_names[FS_OP_MAX] = {
	[FS_OP_LOOKUP] = "lookup",
	[FS_OP_FORGET] = "forget",
	[FS_OP_GETATTR] = "getattr",
	[FS_OP_READLINK] = "readlink",
	[FS_OP_OPENDIR] = "opendir",
	[FS_OP_READDIR] = "readdir",
	[FS_OP_READDIRPLUS] = "readdirplus",
	[FS_OP_RELEASEDIR] = "releasedir",
	[FS_OP_OPEN] = "open",
	[FS_OP_READ] = "read",
	[FS_OP_RELEASE] = "release",
	[FS_OP_STATFS] = "statfs",
	[FS_OP_GETXATTR] = "getxattr",
	[FS_OP_LISTXATTR] = "listxattr",
	[FS_OP_SETXATTR] = "setxattr",
	[FS_OP_REMOVEXATTR] = "removexattr",
	[FS_OP_SETATTR] = "setattr",
	[FS_OP_CREATE] = "create",
	[FS_OP_WRITE] = "write",
	[FS_OP_FLUSH] = "flush",
	[FS_OP_FSYNC] = "fsync",
	[FS_OP_FALLOCATE] = "fallocate",
	[FS_OP_MKNOD] = "mknod",
	[FS_OP_MKDIR] = "mkdir",
	[FS_OP_UNLINK] = "unlink",
	[FS_OP_RMDIR] = "rmdir",
	[FS_OP_SYMLINK] = "symlink",
	[FS_OP_RENAME] = "rename",
	[FS_OP_LINK] = "link",
};

/* The xattrs of a regular file, as listxattr returns them. */
static const char file_xattrs[] =
	"user.pxfs.key\0user.pxfs.hash\0user.pxfs.type\0user.pxfs.size\0"
	"user.pxfs.stored_size\0user.pxfs.resolved\0user.pxfs.state";
static const char root_xattrs[] = XATTR_STATS;

/*
 * Per-open state (fi->fh).  The kernel sends release only after every
 * request on the file has been answered, so its thread may free what a
 * read or readdir thread used; that order goes through /dev/fuse, where
 * TSan cannot see it, and the "done" counter (release-add when a request
 * is finished with the handle, acquire-load before the free) states it.
 */

/* An open regular file, read-only. */
struct fs_file {
	unsigned kind;			/* FS_HANDLE_READ: first, see fs_int.h */
	struct fs_cache_obj *obj;	/* held until release */
	uint64_t ino;			/* names the object in messages */
	uint64_t size;			/* object bytes */
	struct fs_cache_ra ra;		/* this reader's readahead */
	atomic_uint done;		/* reads finished with the handle */
	struct fs_hlink link;		/* in fs->handles until release */
};

/* An open directory. */
struct fs_dir {
	uint64_t ino;
	uint64_t parent;		/* for ".." */
	atomic_uint done;		/* readdirs finished with the handle */
	struct fs_hlink link;		/* in fs->handles until release */
};

static void handle_done(atomic_uint *done)
{
	atomic_fetch_add_explicit(done, 1, memory_order_release);
}

static void handle_free(atomic_uint *done)
{
	(void)atomic_load_explicit(done, memory_order_acquire);
}

/* @l is open: linked before the reply, so that its release finds it. */
static void hlink(struct fs *fs, struct fs_hlink *l, bool dir)
{
	pthread_mutex_lock(&fs->hlock);
	l->dir = dir;
	fs_hlink_add(&fs->handles, l);
	pthread_mutex_unlock(&fs->hlock);
}

static void hunlink(struct fs *fs, struct fs_hlink *l)
{
	pthread_mutex_lock(&fs->hlock);
	fs_hlink_del(&fs->handles, l);
	pthread_mutex_unlock(&fs->hlock);
}

int64_t fs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void op_done(struct fs *fs, enum fs_op op, int64_t t0)
{
	struct fs_op_stat *s = &fs->ops[op];
	uint64_t dt = (uint64_t)(fs_now_ns() - t0);
	uint_fast64_t max;

	atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->total_ns, dt, memory_order_relaxed);
	max = atomic_load_explicit(&s->max_ns, memory_order_relaxed);
	while (dt > max &&
	       !atomic_compare_exchange_weak_explicit(&s->max_ns, &max, dt,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

bool fs_rc_expected(store_rc rc)
{
	switch (rc) {
	case STORE_NOTFOUND:
	case STORE_NOTDIR:
	case STORE_ISDIR:
	case STORE_NAMETOOLONG:
	case STORE_INVAL:
	case STORE_EXISTS:
	case STORE_NOTEMPTY:
	case STORE_ROFS:
	case STORE_PERM:
		return true;
	case STORE_OK:
	case STORE_NOMEM:
	case STORE_IO:
	case STORE_CORRUPT:
	case STORE_BUSY:
	case STORE_NOSPC:
	case STORE_TIMEDOUT:
	case STORE_EVICTED:
		break;
	}
	return false;
}

/*
 * Map a store failure to an errno.  Expected outcomes (no such name, not
 * a directory, ...) pass quietly; anything else is an index failure,
 * logged here once and counted.
 */
static int store_errno(struct fs *fs, store_rc rc, const char *what,
		       uint64_t ino)
{
	if (rc == STORE_OK)
		return 0;
	if (fs_rc_expected(rc))
		return store_rc_to_errno(rc);
	atomic_fetch_add_explicit(&fs->errors, 1, memory_order_relaxed);
	store_log(STORE_LOG_ERR, "%s (ino %" PRIu64 "): %s", what, ino,
		  store_last_error());
	return store_rc_to_errno(rc);
}

static struct timespec ns_to_ts(int64_t ns)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += 1000000000;
	}
	return ts;
}

static void fill_stat(const struct store_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = n->mode;
	st->st_nlink = S_ISDIR(n->mode) ? 2 : 1;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_size = (off_t)n->size;
	st->st_blksize = FS_BLKSIZE;
	st->st_blocks = (blkcnt_t)((n->size + 511) / 512);
	st->st_mtim = ns_to_ts(n->mtime_ns);
	st->st_atim = st->st_mtim;
	st->st_ctim = ns_to_ts(n->ctime_ns);
}

static void fill_entry(struct fs *fs, const struct store_node *n,
		       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = n->ino;
	e->generation = 0;	/* ids are never reused (AUTOINCREMENT) */
	fill_stat(n, &e->attr);
	fs_write_fix_attr(fs, &e->attr);
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
}

/*
 * Node @ino as the index has it, from the inode table's attribute cache
 * when it holds the row (a kernel round trip costs 25 us, a SQLite point
 * query 1-4 us behind the store's one mutex, the cache well under 1 us).
 * The cache is invalidated by every change (see inode.h), so what it
 * answers is no staler than the kernel's own caches.
 */
static store_rc node_get(struct fs *fs, uint64_t ino, struct store_node *n)
{
	uint64_t gen;
	store_rc rc;

	if (fs_inode_attr_get(fs->inodes, ino, n))
		return STORE_OK;
	gen = fs_inode_attr_gen(fs->inodes);
	rc = store_getattr(fs->st, ino, n);
	if (rc == STORE_OK)
		fs_inode_attr_put(fs->inodes, n, gen);
	return rc;
}

/* Node @ino read from the index now, refreshing the cache with it: for
 * what the kernel does not cache either (open's close-to-open check,
 * xattrs), so that it sees changes the watcher has not seen yet. */
static store_rc node_get_fresh(struct fs *fs, uint64_t ino,
			       struct store_node *n)
{
	uint64_t gen = fs_inode_attr_gen(fs->inodes);
	store_rc rc;

	rc = store_getattr(fs->st, ino, n);
	if (rc == STORE_OK)
		fs_inode_attr_put(fs->inodes, n, gen);
	return rc;
}

/* Child @name of @parent, as node_get(). */
static store_rc node_lookup(struct fs *fs, uint64_t parent, const char *name,
			    struct store_node *n)
{
	uint64_t gen;
	store_rc rc;

	if (fs_inode_attr_lookup(fs->inodes, parent, name, n))
		return STORE_OK;
	gen = fs_inode_attr_gen(fs->inodes);
	rc = store_lookup(fs->st, parent, name, n);
	if (rc == STORE_OK)
		fs_inode_attr_put(fs->inodes, n, gen);
	return rc;
}

/* ---- session ---------------------------------------------------------- */

static void fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* reads of up to 1 MiB per request: max_read must match the mount
	 * option, and the kernel's max_pages follows max_write */
	conn->max_read = FS_MAX_READ;
	conn->max_write = FS_MAX_READ;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	/* every listing is a readdirplus: `ls -l` costs no lookups */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* open(O_TRUNC) in one request, not open then setattr */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->time_gran = 1;
}

static void fs_op_destroy(void *userdata)
{
	struct fs *fs = userdata;

	/* the kernel is gone: whatever it still held goes too */
	fs_inode_table_free(fs->inodes);
	fs->inodes = NULL;
}

/* ---- names ------------------------------------------------------------ */

static int fs_do_lookup(struct fs *fs, fuse_ino_t parent, const char *name,
			struct fuse_entry_param *e)
{
	struct store_node n;
	store_rc rc;
	int err;

	rc = node_lookup(fs, parent, name, &n);
	if (rc != STORE_OK)
		return store_errno(fs, rc, "lookup", parent);
	fill_entry(fs, &n, e);
	err = fs_inode_ref(fs->inodes, n.ino);
	return err;
}

static void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	struct fuse_entry_param e;
	int err;

	err = fs_do_lookup(fs, parent, name, &e);
	if (err)
		fuse_reply_err(req, err);
	else if (fuse_reply_entry(req, &e) != 0)
		fs_inode_forget(fs->inodes, e.ino, 1);	/* never got there */
	op_done(fs, FS_OP_LOOKUP, t0);
}

static void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();

	fs_inode_forget(fs->inodes, ino, nlookup);
	fuse_reply_none(req);
	op_done(fs, FS_OP_FORGET, t0);
}

static void fs_op_forget_multi(fuse_req_t req, size_t count,
			       struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	size_t i;

	for (i = 0; i < count; i++)
		fs_inode_forget(fs->inodes, forgets[i].ino,
				forgets[i].nlookup);
	fuse_reply_none(req);
	op_done(fs, FS_OP_FORGET, t0);
}

static void fs_op_getattr(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	struct store_node n;
	struct stat st;
	store_rc rc;

	(void)fi;
	rc = node_get(fs, ino, &n);
	/* unlinked while open for writing here: its handles still ask */
	if (rc == STORE_NOTFOUND && fs_write_orphan(fs, ino, &n))
		rc = STORE_OK;
	if (rc != STORE_OK) {
		fuse_reply_err(req, store_errno(fs, rc, "getattr", ino));
	} else {
		fill_stat(&n, &st);
		fs_write_fix_attr(fs, &st);
		fuse_reply_attr(req, &st, fs->timeout);
	}
	op_done(fs, FS_OP_GETATTR, t0);
}

static void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	char buf[PATH_MAX + 1];
	store_rc rc;

	rc = store_readlink(fs->st, ino, buf, sizeof(buf));
	if (rc != STORE_OK)
		fuse_reply_err(req, store_errno(fs, rc, "readlink", ino));
	else
		fuse_reply_readlink(req, buf);
	op_done(fs, FS_OP_READLINK, t0);
}

/* ---- directories ------------------------------------------------------ */

static int fs_do_opendir(struct fs *fs, fuse_ino_t ino, struct fs_dir **out)
{
	struct store_node n;
	struct fs_dir *d;
	store_rc rc;

	rc = node_get(fs, ino, &n);
	if (rc != STORE_OK)
		return store_errno(fs, rc, "opendir", ino);
	if (!S_ISDIR(n.mode))
		return ENOTDIR;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->ino = n.ino;
	d->parent = n.parent ? n.parent : n.ino;
	*out = d;
	return 0;
}

static void fs_op_opendir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	struct fs_dir *d = NULL;
	int err;

	err = fs_do_opendir(fs, ino, &d);
	if (err) {
		fuse_reply_err(req, err);
	} else {
		fi->fh = (uintptr_t)d;
		hlink(fs, &d->link, true);
		if (fuse_reply_open(req, fi) != 0) {
			/* interrupted: no releasedir comes */
			hunlink(fs, &d->link);
			free(d);
		}
	}
	op_done(fs, FS_OP_OPENDIR, t0);
}

static void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			     struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;

	(void)ino;
	handle_free(&d->done);
	hunlink(fs, &d->link);
	free(d);
	fuse_reply_err(req, 0);
	op_done(fs, FS_OP_RELEASEDIR, t0);
}

/*
 * Offsets (cookies): "." is 1, ".." is 2, a child is its ino + 2.  Node ids
 * only grow and store_readdir() lists them in order, so a listing resumed
 * at any cookie neither repeats nor skips an entry that stayed.
 */
#define COOKIE_DOT	1
#define COOKIE_DOTDOT	2
#define COOKIE_BASE	2

struct readdir_ctx {
	fuse_req_t req;
	struct fs *fs;
	bool plus;
	char *buf;
	size_t size;		/* room in buf */
	size_t pos;		/* bytes used */
	uint64_t *counted;	/* plus: inos whose lookup we counted */
	size_t ncounted, maxcounted;
	uint64_t gen;		/* plus: attribute cache generation */
	int err;		/* why the listing stopped early */
};

/* Add one entry; returns non-zero when it did not fit (stop). */
static int readdir_add(struct readdir_ctx *c, const char *name,
		       const struct store_node *n, off_t cookie, bool dot)
{
	size_t room = c->size - c->pos, need;

	if (c->plus) {
		struct fuse_entry_param e;

		if (!dot && c->ncounted == c->maxcounted)
			return 1;
		fill_entry(c->fs, n, &e);
		need = fuse_add_direntry_plus(c->req, c->buf + c->pos, room,
					      name, &e, cookie);
		if (need > room)
			return 1;
		if (!dot) {
			/* counted before the reply: a forget may race it */
			c->err = fs_inode_ref(c->fs->inodes, n->ino);
			if (c->err)
				return 1;	/* entry dropped: pos unmoved */
			c->counted[c->ncounted++] = n->ino;
			/* the kernel may forget it and look it up again */
			fs_inode_attr_offer(c->fs->inodes, n, c->gen);
		}
	} else {
		struct stat st;

		fill_stat(n, &st);
		need = fuse_add_direntry(c->req, c->buf + c->pos, room, name,
					 &st, cookie);
		if (need > room)
			return 1;
	}
	c->pos += need;
	return 0;
}

/* store_readdir() callback: runs with the store locked, so no store calls
 * (fs_inode_ref() takes only the inode table's lock). */
static int readdir_child(void *arg, const struct store_node *n)
{
	struct readdir_ctx *c = arg;

	return readdir_add(c, n->name, n, (off_t)(n->ino + COOKIE_BASE),
			   false);
}

static int fs_do_readdir(struct fs *fs, struct readdir_ctx *c,
			 const struct fs_dir *d, off_t off)
{
	struct store_node n;
	store_rc rc;

	memset(&n, 0, sizeof(n));
	n.mode = S_IFDIR | 0755;
	if (c->plus)
		c->gen = fs_inode_attr_gen(fs->inodes);
	if (off < COOKIE_DOT) {
		n.ino = d->ino;
		if (readdir_add(c, ".", &n, COOKIE_DOT, true))
			return 0;
	}
	if (off < COOKIE_DOTDOT) {
		n.ino = d->parent;
		if (readdir_add(c, "..", &n, COOKIE_DOTDOT, true))
			return 0;
	}
	rc = store_readdir(fs->st, d->ino,
			   off > COOKIE_BASE ? (uint64_t)off - COOKIE_BASE : 0,
			   readdir_child, c);
	if (rc != STORE_OK)
		return store_errno(fs, rc, "readdir", d->ino);
	return 0;
}

static void readdir_common(fuse_req_t req, size_t size, off_t off,
			   struct fuse_file_info *fi, bool plus)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	struct readdir_ctx c;
	size_t i;
	int err;

	memset(&c, 0, sizeof(c));
	c.req = req;
	c.fs = fs;
	c.plus = plus;
	c.size = size;
	c.buf = malloc(size ? size : 1);
	/* an entry takes more than 64 bytes; this bounds the count */
	c.maxcounted = size / 64 + 1;
	if (plus)
		c.counted = malloc(c.maxcounted * sizeof(*c.counted));
	if (!c.buf || (plus && !c.counted)) {
		err = ENOMEM;
	} else {
		err = fs_do_readdir(fs, &c, d, off);
		handle_done(&d->done);
		/* a partial listing is fine; fail only if nothing fit */
		if (!err && c.pos == 0 && c.err)
			err = c.err;
	}
	if (err) {
		for (i = 0; i < c.ncounted; i++)
			fs_inode_forget(fs->inodes, c.counted[i], 1);
		fuse_reply_err(req, err);
	} else if (fuse_reply_buf(req, c.buf, c.pos) != 0) {
		for (i = 0; i < c.ncounted; i++)
			fs_inode_forget(fs->inodes, c.counted[i], 1);
	}
	free(c.counted);
	free(c.buf);
	op_done(fs, plus ? FS_OP_READDIRPLUS : FS_OP_READDIR, t0);
}

static void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	readdir_common(req, size, off, fi, false);
}

static void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			      off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	readdir_common(req, size, off, fi, true);
}

/* ---- files ------------------------------------------------------------ */

static int fs_do_open(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi,
		      struct fs_file **out)
{
	struct store_node n;
	struct fs_file *f;
	store_rc rc;
	int err;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return EROFS;
	/* close-to-open: an open sees the newest object, even one that a
	 * change the watcher has not seen yet brought */
	rc = node_get_fresh(fs, ino, &n);
	/* unlinked or replaced through this mount once this open had begun
	 * (fs_op_open noted it first: its object was taken whole into the
	 * cache for it), or just before (the kernel had found the name): it
	 * opens what it found, as on a local disk, if the cache has it */
	if (rc == STORE_NOTFOUND && (fs_write_orphan(fs, ino, &n) ||
				     fs_write_lately_gone(fs, ino, &n)) &&
	    S_ISREG(n.mode) && !(n.flags & STORE_NODE_PENDING) &&
	    (n.size == 0 || fs_cache_has(fs->cache, n.key)))
		rc = STORE_OK;
	/* else gone since the kernel looked it up (here or elsewhere):
	 * ESTALE makes the kernel look the name up again, which must not
	 * find the row of the old node in the attribute cache */
	if (rc == STORE_NOTFOUND) {
		fs_inode_attr_inval(fs->inodes, ino, 0, NULL);
		return ESTALE;
	}
	if (rc != STORE_OK)
		return store_errno(fs, rc, "open", ino);
	if (S_ISDIR(n.mode))
		return EISDIR;
	if (!S_ISREG(n.mode))
		return EINVAL;
	/* a future, or a file being written elsewhere: wait until it is
	 * set (or its timeout); the kernel's idea of its size is stale */
	if (n.flags & STORE_NODE_PENDING) {
		uint64_t gen = fs_inode_attr_gen(fs->inodes);

		err = fs_write_wait_future(fs, &n);
		if (err)
			return err;
		fs_inode_attr_put(fs->inodes, &n, gen);	/* set now */
		fi->direct_io = 1;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return ENOMEM;
	f->kind = FS_HANDLE_READ;
	/* the factory runs chunk by chunk as reads come (fs_op_read) */
	err = fs_cache_get(fs->cache, n.key, n.size, n.ino, &f->obj);
	if (err) {
		free(f);
		return err;
	}
	f->ino = n.ino;
	f->size = n.size;
	fi->keep_cache = fs_inode_note_open(fs->inodes, n.ino, n.key);
	fi->noflush = 1;
	*out = f;
	return 0;
}

static void fs_op_open(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	struct fs_file *f = NULL;
	int err;

	/* opens for writing, and of files this mount is writing */
	if (fs_write_wants_open(fs, ino, fi->flags)) {
		err = fs_do_write_open(fs, ino, fi);
		if (err)
			fuse_reply_err(req, err);
		else if (fuse_reply_open(req, fi) != 0)
			fs_do_write_release(fs, fi);	/* interrupted */
		op_done(fs, FS_OP_OPEN, t0);
		return;
	}
	/* an unlink through this mount must keep it readable: said before
	 * the node is read, so that the unlink sees it (see write.c) */
	fs_write_note_read(fs, ino, true);
	err = fs_do_open(fs, ino, fi, &f);
	if (err) {
		fs_write_note_read(fs, ino, false);
		fuse_reply_err(req, err);
	} else {
		fi->fh = (uintptr_t)f;
		hlink(fs, &f->link, false);
		if (fuse_reply_open(req, fi) != 0) {
			/* interrupted: no release will come */
			hunlink(fs, &f->link);
			fs_write_note_read(fs, ino, false);
			fs_cache_put(fs->cache, f->obj);
			free(f);
		}
	}
	op_done(fs, FS_OP_OPEN, t0);
}

static bool write_read(fuse_req_t req, struct fs *fs, fuse_ino_t ino,
		       size_t size, off_t off, struct fuse_file_info *fi);

static void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();

	/* a write handle is no struct fs_file: tell them apart first; a
	 * file written here since this handle opened reads as written */
	if ((fs_handle_kind(fi) == FS_HANDLE_WRITE ||
	     fs_write_redirects(fs)) &&
	    write_read(req, fs, ino, size, off, fi)) {
		op_done(fs, FS_OP_READ, t0);
		return;
	}
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(0);
	struct fs_cache_pin pin = { 0 };
	uint64_t fsize = f->size;
	int err = 0;

	(void)ino;
	if (off < 0)
		err = EINVAL;
	else if ((uint64_t)off < fsize && size > fsize - (uint64_t)off)
		size = (size_t)(fsize - (uint64_t)off);
	/* the chunks under [off, off + size): fetched now if they are not
	 * cached yet, then served from memory while a chunk is there since
	 * its fetch (it goes to the disk directly, behind the reply, not
	 * through the page cache), else straight from the cache file, which
	 * libfuse splices when it can */
	if (!err && (uint64_t)off < fsize)
		err = fs_cache_read_pin(fs->cache, f->obj, &f->ra,
					(uint64_t)off, size, f->ino, &pin);
	if (err || (uint64_t)off >= fsize || !pin.mem) {
		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = err ? -1 : fs_cache_obj_fd(f->obj);
	}
	handle_done(&f->done);
	if (err) {
		fuse_reply_err(req, err);
	} else if ((uint64_t)off >= fsize) {
		fuse_reply_buf(req, NULL, 0);
	} else if (pin.mem) {
		/* one copy by write(): cheaper than vmsplice for memory */
		fuse_reply_buf(req, pin.mem, size);
	} else {
		bv.buf[0].size = size;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
	}
	fs_cache_unpin(fs->cache, &pin);
	op_done(fs, FS_OP_READ, t0);
}

static void fs_op_release(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;

	(void)ino;
	if (fs_handle_kind(fi) == FS_HANDLE_WRITE) {
		fs_do_write_release(fs, fi);
		fuse_reply_err(req, 0);
		op_done(fs, FS_OP_RELEASE, t0);
		return;
	}
	handle_free(&f->done);
	hunlink(fs, &f->link);
	fs_write_note_read(fs, ino, false);
	fs_cache_put(fs->cache, f->obj);
	free(f);
	fuse_reply_err(req, 0);
	op_done(fs, FS_OP_RELEASE, t0);
}

void fs_release_all(struct fs *fs)
{
	struct fs_hlink *l;

	pthread_mutex_lock(&fs->hlock);
	while ((l = fs->handles)) {
		fs->handles = l->next;
		if (l->dir) {
			free((char *)l - offsetof(struct fs_dir, link));
		} else {
			struct fs_file *f = (struct fs_file *)(void *)
				((char *)l - offsetof(struct fs_file, link));

			fs_cache_put(fs->cache, f->obj);
			free(f);
		}
	}
	pthread_mutex_unlock(&fs->hlock);
}

static void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	struct statvfs sv;
	int err;

	(void)ino;
	err = fs_do_statfs(fs, &sv);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_statfs(req, &sv);
	op_done(fs, FS_OP_STATFS, t0);
}

/* ---- xattrs ----------------------------------------------------------- */

/* A growable string for the stats document. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		room = b->cap ? b->cap * 2 : 4096;
		while (room < b->len + (size_t)n + 1)
			room *= 2;
		char *np = realloc(b->p, room);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = room;
	}
}

/* JSON string body: the cache dir is a path, so escape it. */
static void sb_json_str(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			sb_printf(b, "\\%c", ch);
		else if (ch < 0x20)
			sb_printf(b, "\\u%04x", ch);
		else
			sb_printf(b, "%c", ch);
	}
}

static int build_stats(struct fs *fs, struct sbuf *b)
{
	struct fs_inode_attr_stats as = { 0 };
	struct store_metrics m;
	struct fs_cache_stats cs;
	int i;

	store_metrics_get(fs->st, &m);
	fs_cache_get_stats(fs->cache, &cs);
	sb_printf(b, "{\"pid\":%ld,\"uptime_us\":%" PRId64 ",",
		  (long)getpid(), (fs_now_ns() - fs->start_ns) / 1000);
	sb_printf(b, "\"connector\":{\"gets\":%" PRIu64 ",\"get_bytes\":%"
		  PRIu64 ",\"errors\":%" PRIu64 ",\"corrupt\":%" PRIu64 "},",
		  m.conn_gets, m.conn_get_bytes, m.conn_errors, m.corrupt);
	sb_printf(b, "\"cache\":{\"hits\":%" PRIu64 ",\"misses\":%" PRIu64
		  ",\"waits\":%" PRIu64 ",\"readahead\":%" PRIu64
		  ",\"evictions\":%" PRIu64
		  ",\"bytes\":%" PRIu64 ",\"budget\":%" PRIu64
		  ",\"objects\":%" PRIu64 ",\"open\":%" PRIu64
		  ",\"reused\":%" PRIu64 ",\"dir\":\"",
		  cs.hits, cs.misses, cs.waits, cs.readahead, cs.evictions,
		  cs.bytes,
		  cs.budget, cs.objects, cs.open, cs.reused);
	sb_json_str(b, fs_cache_dir(fs->cache));
	sb_printf(b, "\"},\"resolves\":%" PRIu64 ",\"resolve_queued\":%"
		  PRIu64 ",\"errors\":%" PRIu64 ",\"inodes\":%" PRIu64
		  ",", cs.resolves, cs.queued,
		  cs.errors + (uint64_t)atomic_load(&fs->errors),
		  fs->inodes ? fs_inode_count(fs->inodes) : 0);
	if (fs->inodes)
		fs_inode_attr_get_stats(fs->inodes, &as);
	sb_printf(b, "\"attrs\":{\"hits\":%" PRIu64 ",\"misses\":%" PRIu64
		  ",\"evictions\":%" PRIu64 ",\"invals\":%" PRIu64
		  ",\"entries\":%" PRIu64 ",\"max\":%" PRIu64 "},",
		  as.hits, as.misses, as.evictions, as.invals, as.entries,
		  as.max);
	sb_printf(b, "\"ops\":{");
	for (i = 0; i < FS_OP_MAX; i++) {
		const struct fs_op_stat *s = &fs->ops[i];

		sb_printf(b, "%s\"%s\":{\"count\":%" PRIu64 ",\"total_us\":%"
			  PRIu64 ",\"max_us\":%" PRIu64 "}", i ? "," : "",
			  op_names[i], (uint64_t)atomic_load(&s->count),
			  (uint64_t)atomic_load(&s->total_ns) / 1000,
			  (uint64_t)atomic_load(&s->max_ns) / 1000);
	}
	sb_printf(b, "}}");
	return b->oom ? ENOMEM : 0;
}

/* Is @name one of file_xattrs?  Answers the names we do not serve
 * without asking the index. */
static bool is_file_xattr(const char *name)
{
	const char *p = file_xattrs, *end = file_xattrs + sizeof(file_xattrs);

	for (; p < end; p += strlen(p) + 1)
		if (strcmp(p, name) == 0)
			return true;
	return false;
}

/* Reply @len bytes of @val as getxattr wants: the size, or the bytes. */
static void reply_xattr(fuse_req_t req, size_t size, const char *val,
			size_t len)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, len);
}

static int fs_do_file_xattr(struct fs *fs, fuse_ino_t ino, const char *name,
			    char *val, size_t len)
{
	const char *attr = name + strlen(XATTR_PREFIX);
	struct store_object obj;
	struct store_node n;
	store_rc rc;

	/* the kernel keeps no xattrs: they are read fresh, always */
	rc = node_get_fresh(fs, ino, &n);
	if (rc != STORE_OK)
		return store_errno(fs, rc, "getxattr", ino);
	if (!S_ISREG(n.mode))
		return ENODATA;
	if (strcmp(attr, "key") == 0) {
		snprintf(val, len, "%s", n.key);
	} else if (strcmp(attr, "type") == 0) {
		snprintf(val, len, "%s", n.type);
	} else if (strcmp(attr, "size") == 0) {
		snprintf(val, len, "%" PRIu64, n.size);
	} else if (strcmp(attr, "state") == 0) {
		/* pending (a future), ready, or evicted after its first read */
		if (n.flags & STORE_NODE_PENDING) {
			snprintf(val, len, "pending");
		} else {
			rc = store_object_info(fs->st, n.key, &obj);
			if (rc != STORE_OK)
				return store_errno(fs, rc, "getxattr", ino);
			snprintf(val, len, "%s", obj.evicted ? "evicted" :
				 "ready");
		}
	} else if (strcmp(attr, "resolved") == 0) {
		/* ProxyStore's is_resolved: asking never resolves */
		snprintf(val, len, "%d", fs_cache_has(fs->cache, n.key));
	} else if (strcmp(attr, "hash") == 0 ||
		   strcmp(attr, "stored_size") == 0) {
		rc = store_object_info(fs->st, n.key, &obj);
		if (rc != STORE_OK)
			return store_errno(fs, rc, "getxattr", ino);
		if (attr[0] == 'h')
			snprintf(val, len, "%s", obj.hash);
		else
			snprintf(val, len, "%" PRIu64, obj.stored_size);
	} else {
		return ENODATA;
	}
	return 0;
}

static void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			   size_t size)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	char val[STORE_TYPE_MAX + STORE_KEY_HEX + 2];
	struct sbuf b = { 0 };
	int err;

	/*
	 * ls -l asks security.selinux and system.posix_acl_access of every
	 * file.  A namespace we do not serve at all gets EOPNOTSUPP, as the
	 * VFS answers for a prefix without a handler: ls (and libacl,
	 * libselinux users) then stop asking for the rest of the device,
	 * which saves two round trips per file.  Other user.* names: ENODATA.
	 */
	if (strncmp(name, "user.", 5) != 0) {
		fuse_reply_err(req, EOPNOTSUPP);
	} else if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) != 0) {
		fuse_reply_err(req, ENODATA);
	} else if (ino == FUSE_ROOT_ID) {
		if (strcmp(name, XATTR_STATS) != 0)
			err = ENODATA;
		else
			err = build_stats(fs, &b);
		if (err)
			fuse_reply_err(req, err);
		else if (size == 0)
			/* the counters in it grow between this probe and
			 * the read it sizes (getfattr: ERANGE): leave room */
			fuse_reply_xattr(req, b.len + STATS_SLACK);
		else
			reply_xattr(req, size, b.p, b.len);
	} else if (!is_file_xattr(name)) {
		fuse_reply_err(req, ENODATA);
	} else {
		err = fs_do_file_xattr(fs, ino, name, val, sizeof(val));
		if (err)
			fuse_reply_err(req, err);
		else
			reply_xattr(req, size, val, strlen(val));
	}
	free(b.p);
	op_done(fs, FS_OP_GETXATTR, t0);
}

static void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	struct store_node n;
	store_rc rc;

	if (ino == FUSE_ROOT_ID) {
		reply_xattr(req, size, root_xattrs, sizeof(root_xattrs));
		goto out;
	}
	rc = node_get(fs, ino, &n);
	if (rc != STORE_OK)
		fuse_reply_err(req, store_errno(fs, rc, "listxattr", ino));
	else if (S_ISREG(n.mode))
		reply_xattr(req, size, file_xattrs, sizeof(file_xattrs));
	else
		reply_xattr(req, size, NULL, 0);
out:
	op_done(fs, FS_OP_LISTXATTR, t0);
}

/* setxattr(path, "user.pxfs.resolve", ...): materialize in the background
 * (ProxyStore's resolve_async).  Any other change is refused. */
static int fs_do_setxattr(struct fs *fs, fuse_ino_t ino, const char *name)
{
	struct store_node n;
	store_rc rc;

	/* no other xattrs are kept (a read-only mount: the kernel has
	 * answered EROFS already) */
	if (strcmp(name, XATTR_RESOLVE) != 0)
		return ENOTSUP;
	rc = store_getattr(fs->st, ino, &n);
	if (rc != STORE_OK)
		return store_errno(fs, rc, "resolve", ino);
	if (S_ISDIR(n.mode))
		return EISDIR;
	if (!S_ISREG(n.mode))
		return EINVAL;
	if (n.flags & STORE_NODE_PENDING)
		return EAGAIN;
	return fs_cache_resolve_async(fs->cache, n.key, n.size, n.ino);
}

static void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			   const char *value, size_t size, int flags)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();

	(void)value;
	(void)size;
	(void)flags;
	fuse_reply_err(req, fs_do_setxattr(fs, ino, name));
	op_done(fs, FS_OP_SETXATTR, t0);
}

/* ---- writes: replies for write.c's fs_do_* ----------------------------- */

/* Reply new node @n (or @err), counting the kernel's lookup of it. */
static void reply_new_entry(fuse_req_t req, struct fs *fs, int err,
			    const struct store_node *n)
{
	struct fuse_entry_param e;

	if (!err) {
		fill_entry(fs, n, &e);
		err = fs_inode_ref(fs->inodes, e.ino);
	}
	if (err)
		fuse_reply_err(req, err);
	else if (fuse_reply_entry(req, &e) != 0)
		fs_inode_forget(fs->inodes, e.ino, 1);	/* never got there */
}

/*
 * A read from the staged bytes: through a write handle, or through a
 * read-only handle of a file written here since it was opened.  Returns
 * false (nothing replied) when the latter is not the case.
 */
static bool write_read(fuse_req_t req, struct fs *fs, fuse_ino_t ino,
		       size_t size, off_t off, struct fuse_file_info *fi)
{
	char *buf = malloc(size ? size : 1);
	size_t got = 0;
	int err;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return true;
	}
	if (fs_handle_kind(fi) == FS_HANDLE_WRITE)
		err = fs_do_write_read(fs, fi, buf, size, off, &got);
	else
		err = fs_do_write_read_ino(fs, ino, buf, size, off, &got);
	if (err < 0) {
		free(buf);
		return false;
	}
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, got);
	free(buf);
	return true;
}

static void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			  int to_set, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	struct store_node n;
	struct stat st;
	int err;

	if (fi && fs_handle_kind(fi) != FS_HANDLE_WRITE)
		fi = NULL;
	err = fs_do_setattr(fs, fuse_req_ctx(req), ino, attr, to_set, fi, &n);
	if (err) {
		fuse_reply_err(req, err);
	} else {
		fill_stat(&n, &st);
		fs_write_fix_attr(fs, &st);
		fuse_reply_attr(req, &st, fs->timeout);
	}
	op_done(fs, FS_OP_SETATTR, t0);
}

static void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	struct fuse_entry_param e;
	struct store_node n;
	int err;

	err = fs_do_create(fs, fuse_req_ctx(req), parent, name, mode, fi, &n);
	if (!err) {
		fill_entry(fs, &n, &e);
		err = fs_inode_ref(fs->inodes, e.ino);
		if (err)
			fs_do_write_release(fs, fi);
	}
	if (err) {
		fuse_reply_err(req, err);
	} else if (fuse_reply_create(req, &e, fi) != 0) {
		/* interrupted: no release will come */
		fs_inode_forget(fs->inodes, e.ino, 1);
		fs_do_write_release(fs, fi);
	}
	op_done(fs, FS_OP_CREATE, t0);
}

static void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	int err = EBADF;

	(void)ino;
	if (fs_handle_kind(fi) == FS_HANDLE_WRITE)
		err = fs_do_write(fs, fi, buf, size, off);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_write(req, size);
	op_done(fs, FS_OP_WRITE, t0);
}

/* close(2): its error is this reply's (a failed store fails `cp`). */
static void fs_op_flush(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	int err = 0;

	(void)ino;
	if (fs_handle_kind(fi) == FS_HANDLE_WRITE)
		err = fs_do_flush(fs, fi);
	fuse_reply_err(req, err);
	op_done(fs, FS_OP_FLUSH, t0);
}

static void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	int err = 0;

	(void)ino;
	(void)datasync;
	if (fs_handle_kind(fi) == FS_HANDLE_WRITE)
		err = fs_do_fsync(fs, fi);
	fuse_reply_err(req, err);
	op_done(fs, FS_OP_FSYNC, t0);
}

static void fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			    off_t offset, off_t length,
			    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	int err = EBADF;

	(void)ino;
	if (fs_handle_kind(fi) == FS_HANDLE_WRITE)
		err = fs_do_fallocate(fs, fi, mode, offset, length);
	fuse_reply_err(req, err);
	op_done(fs, FS_OP_FALLOCATE, t0);
}

static void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, dev_t rdev)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	struct store_node n;
	int err;

	(void)rdev;
	err = fs_do_mknod(fs, fuse_req_ctx(req), parent, name, mode, &n);
	reply_new_entry(req, fs, err, &n);
	op_done(fs, FS_OP_MKNOD, t0);
}

static void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	struct store_node n;
	int err;

	err = fs_do_mkdir(fs, fuse_req_ctx(req), parent, name, mode, &n);
	reply_new_entry(req, fs, err, &n);
	op_done(fs, FS_OP_MKDIR, t0);
}

static void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			  const char *name)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();
	struct store_node n;
	int err;

	err = fs_do_symlink(fs, fuse_req_ctx(req), link, parent, name, &n);
	reply_new_entry(req, fs, err, &n);
	op_done(fs, FS_OP_SYMLINK, t0);
}

static void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();

	fuse_reply_err(req, fs_do_unlink(fs, parent, name));
	op_done(fs, FS_OP_UNLINK, t0);
}

static void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();

	fuse_reply_err(req, fs_do_rmdir(fs, parent, name));
	op_done(fs, FS_OP_RMDIR, t0);
}

static void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname,
			 unsigned int flags)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();

	fuse_reply_err(req, fs_do_rename(fs, parent, name, newparent, newname,
					 flags));
	op_done(fs, FS_OP_RENAME, t0);
}

/* A node has one name: no hard links.  EPERM is what link(2) documents
 * for "the filesystem does not support hard links" (tar and git then
 * copy instead). */
static void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		       const char *newname)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();

	(void)ino;
	(void)newparent;
	(void)newname;
	fuse_reply_err(req, EPERM);
	op_done(fs, FS_OP_LINK, t0);
}

/* The user.pxfs.* xattrs are computed, nothing else is kept. */
static void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino,
			      const char *name)
{
	struct fs *fs = fs_of(req);
	int64_t t0 = fs_now_ns();

	(void)ino;
	(void)name;
	fuse_reply_err(req, ENOTSUP);
	op_done(fs, FS_OP_REMOVEXATTR, t0);
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_op_init,
	.destroy = fs_op_destroy,
	.lookup = fs_op_lookup,
	.forget = fs_op_forget,
	.forget_multi = fs_op_forget_multi,
	.getattr = fs_op_getattr,
	.readlink = fs_op_readlink,
	.opendir = fs_op_opendir,
	.readdir = fs_op_readdir,
	.readdirplus = fs_op_readdirplus,
	.releasedir = fs_op_releasedir,
	.open = fs_op_open,
	.read = fs_op_read,
	.release = fs_op_release,
	.statfs = fs_op_statfs,
	.getxattr = fs_op_getxattr,
	.listxattr = fs_op_listxattr,
	.setxattr = fs_op_setxattr,
	.setattr = fs_op_setattr,
	.mknod = fs_op_mknod,
	.mkdir = fs_op_mkdir,
	.unlink = fs_op_unlink,
	.rmdir = fs_op_rmdir,
	.symlink = fs_op_symlink,
	.rename = fs_op_rename,
	.link = fs_op_link,
	.create = fs_op_create,
	.write = fs_op_write,
	.flush = fs_op_flush,
	.fsync = fs_op_fsync,
	.removexattr = fs_op_removexattr,
	.fallocate = fs_op_fallocate,
};

struct fuse_session *fs_session_new(struct fuse_args *args, struct fs *fs)
{
	return fuse_session_new(args, &fs_ops, sizeof(fs_ops), fs);
}
