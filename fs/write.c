/* SPDX-License-Identifier: MIT */
/*
 * write.c - the writable side of a mount.
 *
 * Objects are immutable, so a file being written lives outside the store
 * until it is done: its bytes are *staged* in a file of <cache>/staging/
 * (0600, on local disk), and when the last writer closes it the staged
 * file is ingested (hashed, compressed, put) and the node pointed at the
 * new object, keeping its ino, in one store batch:
 *
 *	store_begin; store_ingest_fd(staged); store_set_content; store_commit
 *
 * The batch holds the store's gc lock, so no gc can take the new object
 * between its put and the row that claims it, and a failure anywhere rolls
 * the whole of it back: nothing is ever half-committed.  A failed ingest
 * is the error of close(2) (the kernel passes flush's error on), so `cp`
 * fails loudly; the staged file then stays where the log line says.
 *
 * Per inode being written there is one fs_wnode, shared by every handle
 * open on it through this mount.  Opening for writing without O_TRUNC
 * stages lazily: the current object is copied into the staging file (from
 * the cache when it holds the object, else exported from the store) on the
 * first read, write or truncate, so `touch` or an open that writes nothing
 * costs nothing.  Each handle notes whether it wrote since its last flush;
 * a flush (close(2)) stores the file if its handle wrote and no other
 * handle still has writes to add (its own flush will), which makes one
 * object when several writers overlap and reports a failed store to the
 * close that wrote.  Creating a file, or truncating a stored one, counts
 * as a write (a close that returns 0 means stored).  Opening a pending
 * future with O_TRUNC does not: the shell's `cmd > f` closes a descriptor
 * before writing through its dup, and that must not fulfil the future
 * with nothing.  The release stores what is left (a late mmap
 * write-back).  fsync stores at once.  A mount that stops while files are
 * open for writing removes the placeholders of those its creates made and
 * no close stored (abandon()); their bytes stay staged, unless a write to
 * them failed (such bytes are never stored).
 *
 * Changes of the namespace (create, mkdir, rename, ...) and ingests go
 * through a second store handle, one batch at a time under wlock: a long
 * ingest then holds neither the mutex of the handle that lookups, getattr
 * and the cache use (SQLite's WAL lets them read meanwhile), nor makes
 * this mount's writers wait in SQLite's busy handler.  Each batch notes
 * the change numbers it made (store_change_seq() inside the batch, where
 * nobody else can write), so the watcher can tell them from others'.
 *
 * Sharing is close-to-open, as in NFS: the kernel keeps entries and
 * attributes for a long time, and the watcher thread polls the store's
 * change log every WATCH_MS and tells the kernel which entries and inodes
 * other processes changed (fuse_lowlevel_notify_inval_*, from its own
 * thread, holding nothing a request handler may wait for).  A second,
 * janitor, thread ends due leases, trims the change log and retries the
 * evictions the store deferred while another process held its gc lock
 * (store_evict_pending(); closing the write handle makes a last try).
 *
 * Locks, in the order they are taken: a stripe of w->gates (one at a
 * time), wn->lock (one at a time), w->wlock, then w->lock (the table;
 * held briefly, never around a store call) and w->own_lock.  The main
 * store handle's mutex may be held around w->lock (fs_write_fix_attr from
 * a readdir callback), never the reverse.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
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

#define STAGING_DIR	"staging"
#define NBUCKETS	256		/* files being written: few */
#define NGATES		64		/* stripes of w->gates */
#define NGONE		64		/* w->gone: files unlinked lately */
#define WATCH_MS	200		/* change log poll interval */
#define WATCH_BATCH	4096		/* changes handled per poll */
#define EXPIRE_MS	2000		/* lease check interval */
#define EVICT_MS	250		/* deferred eviction retry interval */
#define TRIM_MS		60000		/* change log trim interval */
#define TRIM_KEEP	100000		/* changes kept for lagging mounts */
#define LABEL_MAX	1024		/* a node's path in messages */
/* how readers elsewhere wait for a file being written here: like a
 * future, until its close (or this long: its writer may have died) */
#define NEWFILE_TIMEOUT_MS	600000
#define NEWFILE_POLL_MS		50
#define NEWFILE_POLL_MAX_MS	1000

/* sha256("") */
#define EMPTY_KEY \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A file being written through this mount. */
struct fs_wnode {
	struct fs_wnode *next;		/* hash chain; protected by w->lock */
	uint64_t ino;			/* immutable */
	unsigned refs;			/* handles and callers; w->lock */
	unsigned writers;		/* open writable handles; w->lock */
	unsigned unflushed;		/* handles that wrote since their last
					   flush; w->lock */
	bool ov;			/* report ov_size/ov_mtime_ns; w->lock */
	uint64_t ov_size;		/* w->lock */
	int64_t ov_mtime_ns;		/* w->lock */

	pthread_mutex_t lock;		/* the content: held for every read,
					   write, truncate and store of it */
	int fd;				/* staging file, -1 until staged; lock */
	char *path;			/* its name; lock */
	char key[STORE_KEY_HEX + 1];	/* object the staged bytes equal while
					   !dirty, "" if unknown; lock */
	uint64_t size;			/* staged bytes; lock */
	bool dirty;			/* staged bytes not stored; lock */
	bool gone;			/* unlinked or replaced: never store;
					   lock */
	struct store_node *last;	/* the node as it was when it went
					   (gone only), for getattr; w->lock */
	bool failed;			/* the last store failed, no change
					   since; lock */
	int broken;			/* errno of a failed write: never store
					   what is staged; lock */
	int64_t mtime_ns;		/* mtime set explicitly since the last
					   write (0: none); lock */
	int64_t wtime_ns;		/* realtime of the last change; lock */
	bool created;			/* its placeholder was made by a create
					   here and never stored; lock */
};

/* An open file of the write side (fi->fh).  kind comes first, as in
 * struct fs_file, so that read and release can tell them apart. */
struct fs_whandle {
	unsigned kind;			/* FS_HANDLE_WRITE */
	struct fs_wnode *wn;		/* held until release */
	bool writable;			/* opened for writing */
	bool append;			/* O_APPEND */
	bool wrote;			/* wrote since the last flush; w->lock */
	atomic_uint done;		/* requests finished with the handle */
	struct fs_hlink link;		/* in w->handles; w->lock */
};

/* Read-only opens (struct fs_file, ops.c) of one inode, and what it was
 * once it went while open. */
struct fs_ropen {
	struct fs_ropen *next;		/* hash chain; w->lock */
	uint64_t ino;
	unsigned n;			/* open read handles; w->lock */
	bool gone;			/* last is valid; w->lock */
	struct store_node last;		/* the node when it went; w->lock */
	struct fs_wnode *wn;		/* once written here, the handles read
					   its staged bytes (a reference);
					   w->lock */
};

/* Change numbers this mount made: [lo, hi]. */
struct own_range {
	uint64_t lo, hi;
};

/* One change read from the log by the watcher. */
struct change {
	uint64_t ino, parent;
	char name[STORE_NAME_MAX + 1];
};

struct fs_write {
	struct fs *fs;			/* immutable */
	struct fuse_session *se;	/* immutable */
	struct store *wst;		/* changes; NULL when read-only; used
					   under wlock only */
	char *staging;			/* <cache>/staging; immutable */

	pthread_mutex_t wlock;		/* one batch at a time on wst */

	pthread_mutex_t lock;		/* the table */
	struct fs_wnode *buckets[NBUCKETS];	/* protected by lock */
	atomic_uint nodes;		/* entries; written under lock */
	struct fs_ropen *ropen[NBUCKETS];	/* protected by lock */
	atomic_uint redirects;		/* ropen entries with a wn */
	struct fs_hlink *handles;	/* open ones, for a stop before their
					   release; protected by lock */

	/* Opens of an ino against its unlink or replacement here, in
	 * stripes: an open registers (note_read, or a wnode for a write
	 * handle) under its stripe before it reads the node, and the
	 * unlink holds the victim's stripe from its look for open handles
	 * until its commit (which evicts the object), so every open either
	 * is seen (and its object kept whole in the cache, or staged) or
	 * reads the node after the commit (and finds it gone). */
	pthread_mutex_t gates[NGATES];
	/* The last files this mount unlinked or replaced, as they were: an
	 * open the kernel began before (it found the name first) opens
	 * what it found while the cache holds all of it. */
	struct store_node gone[NGONE];	/* protected by lock */
	unsigned ngone;			/* entries made; protected by lock */

	pthread_mutex_t own_lock;
	struct own_range *own;		/* protected by own_lock */
	size_t nown, capown;		/* protected by own_lock */

	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;	/* CLOCK_MONOTONIC */
	bool stopping;			/* protected by stop_lock */
	pthread_t watcher, janitor;
	bool watching, cleaning;	/* the threads run; main thread only */
};

/* ---- helpers ---------------------------------------------------------- */

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void handle_done(atomic_uint *done)
{
	atomic_fetch_add_explicit(done, 1, memory_order_release);
}

static struct fs_whandle *whandle_of(const struct fuse_file_info *fi)
{
	struct fs_whandle *h = (struct fs_whandle *)(uintptr_t)fi->fh;

	assert(h && h->kind == FS_HANDLE_WRITE);
	return h;
}

static pthread_mutex_t *gate_of(struct fs_write *w, uint64_t ino)
{
	return &w->gates[ino % NGATES];
}

/* @h is open (fi->fh) until fs_do_write_release() unlinks it. */
static void handle_link(struct fs_write *w, struct fs_whandle *h)
{
	pthread_mutex_lock(&w->lock);
	fs_hlink_add(&w->handles, &h->link);
	pthread_mutex_unlock(&w->lock);
}

static void handle_unlink(struct fs_write *w, struct fs_whandle *h)
{
	pthread_mutex_lock(&w->lock);
	fs_hlink_del(&w->handles, &h->link);
	pthread_mutex_unlock(&w->lock);
}

/* @h changed its file: its next flush stores it. */
static void mark_wrote(struct fs_write *w, struct fs_whandle *h)
{
	pthread_mutex_lock(&w->lock);
	if (!h->wrote) {
		h->wrote = true;
		h->wn->unflushed++;
	}
	pthread_mutex_unlock(&w->lock);
}

static void label_of(struct fs_write *w, uint64_t ino, char *buf, size_t len)
{
	fs_inode_path(w->fs->st, ino, buf, len);
}

/*
 * The errno for a store failure.  Expected outcomes pass quietly; the
 * rest are logged here, once, with @what and the store's message.
 */
static int fail(struct fs_write *w, store_rc rc, const char *what,
		uint64_t ino)
{
	char label[LABEL_MAX];

	if (rc == STORE_OK)
		return 0;
	if (fs_rc_expected(rc))
		return store_rc_to_errno(rc);
	atomic_fetch_add_explicit(&w->fs->errors, 1, memory_order_relaxed);
	label_of(w, ino, label, sizeof(label));
	store_log(STORE_LOG_ERR, "cannot %s '%s': %s", what, label,
		  store_last_error()[0] ? store_last_error() :
		  store_rc_str(rc));
	return store_rc_to_errno(rc);
}

/* ---- batches on the write handle --------------------------------------- */

static void own_add(struct fs_write *w, uint64_t lo, uint64_t hi)
{
	pthread_mutex_lock(&w->own_lock);
	if (w->nown && w->own[w->nown - 1].hi + 1 == lo) {
		w->own[w->nown - 1].hi = hi;
	} else {
		if (w->nown == w->capown) {
			size_t cap = w->capown ? w->capown * 2 : 64;
			void *p = realloc(w->own, cap * sizeof(*w->own));

			if (!p) {
				/* the watcher then invalidates our own
				 * changes too: harmless */
				pthread_mutex_unlock(&w->own_lock);
				return;
			}
			w->own = p;
			w->capown = cap;
		}
		w->own[w->nown].lo = lo;
		w->own[w->nown].hi = hi;
		w->nown++;
	}
	pthread_mutex_unlock(&w->own_lock);
}

/* Start a batch on w->wst; *seq0 is the newest change number before it. */
static store_rc batch_begin(struct fs_write *w, uint64_t *seq0)
{
	store_rc rc;

	pthread_mutex_lock(&w->wlock);
	rc = store_begin(w->wst);
	if (rc != STORE_OK) {
		pthread_mutex_unlock(&w->wlock);
		return rc;
	}
	rc = store_change_seq(w->wst, seq0);
	if (rc != STORE_OK) {
		store_rollback(w->wst);
		pthread_mutex_unlock(&w->wlock);
	}
	return rc;
}

/* store_changes() callback: runs with the store locked; the inode
 * table's attribute cache takes only its own lock. */
static int inval_own(void *arg, uint64_t ino, uint64_t parent,
		     const char *name)
{
	struct fs_write *w = arg;

	fs_inode_attr_inval(w->fs->inodes, ino, parent, name);
	return 0;
}

/*
 * Our batch, changes (@seq0, @seq1], is committed: drop what it changed
 * from the attribute cache before the request that made it replies (the
 * kernel then asks again, and must not get the old rows), listed by the
 * index's change log so that no path can forget a row.  Changes others
 * made meanwhile may come too: dropping them is harmless.
 */
static void inval_batch(struct fs_write *w, uint64_t seq0, uint64_t seq1)
{
	uint64_t last;

	if (seq1 <= seq0)
		return;
	if (store_changes(w->wst, seq0, inval_own, w, &last) != STORE_OK ||
	    last < seq1)
		fs_inode_attr_clear(w->fs->inodes);
}

/*
 * Commit the batch if @rc is STORE_OK, else roll it back; returns the
 * outcome.  The rollback may clear the store's message: callers that log
 * one take it before.
 */
static store_rc batch_end(struct fs_write *w, uint64_t seq0, store_rc rc)
{
	uint64_t seq1 = 0;

	if (rc == STORE_OK)
		rc = store_change_seq(w->wst, &seq1);
	if (rc == STORE_OK)
		rc = store_commit(w->wst);	/* rolls back on failure */
	else
		store_rollback(w->wst);
	if (rc == STORE_OK && seq1 > seq0) {
		inval_batch(w, seq0, seq1);
		own_add(w, seq0 + 1, seq1);
	}
	pthread_mutex_unlock(&w->wlock);
	return rc;
}

/* ---- the table of files being written ---------------------------------- */

static struct fs_wnode **slot(struct fs_write *w, uint64_t ino)
{
	struct fs_wnode **pp =
		&w->buckets[(ino * 0x9e3779b97f4a7c15ull >> 32) % NBUCKETS];

	while (*pp && (*pp)->ino != ino)
		pp = &(*pp)->next;
	return pp;
}

/* Read-only handles open on @wn's inode (w->lock held) read what is
 * written here from now on: they hold @wn until the last one closes. */
static void link_readers(struct fs_write *w, struct fs_wnode *wn)
{
	for (struct fs_ropen *r = w->ropen[wn->ino % NBUCKETS]; r;
	     r = r->next) {
		if (r->ino == wn->ino && !r->wn) {
			r->wn = wn;
			wn->refs++;
			atomic_fetch_add(&w->redirects, 1);
		}
	}
}

/* Take a reference to @ino's wnode, making it if @make.  NULL when there
 * is none (or no memory). */
static struct fs_wnode *wnode_get(struct fs_write *w, uint64_t ino, bool make)
{
	struct fs_wnode **pp, *wn;

	pthread_mutex_lock(&w->lock);
	pp = slot(w, ino);
	wn = *pp;
	if (!wn && make) {
		wn = calloc(1, sizeof(*wn));
		if (wn) {
			wn->ino = ino;
			wn->fd = -1;
			pthread_mutex_init(&wn->lock, NULL);
			*pp = wn;
			atomic_fetch_add(&w->nodes, 1);
			link_readers(w, wn);
		}
	}
	if (wn)
		wn->refs++;
	pthread_mutex_unlock(&w->lock);
	return wn;
}

/* Forget the staged bytes (they may be stale, or stored). */
static void unstage(struct fs_wnode *wn)
{
	if (wn->fd < 0)
		return;
	close(wn->fd);
	wn->fd = -1;
	if (unlink(wn->path) < 0 && errno != ENOENT)
		store_log(STORE_LOG_WARNING, "cannot remove staged file '%s': "
			  "%s", wn->path, strerror(errno));
	free(wn->path);
	wn->path = NULL;
	wn->key[0] = '\0';
	wn->size = 0;
}

/* Drop a reference; the last one frees the wnode and its staged file,
 * unless that holds bytes that could not be stored. */
static void wnode_put(struct fs_write *w, struct fs_wnode *wn)
{
	char label[LABEL_MAX];
	struct fs_wnode **pp;
	bool last;

	pthread_mutex_lock(&w->lock);
	assert(wn->refs > 0);
	last = --wn->refs == 0;
	if (last) {
		pp = slot(w, wn->ino);
		assert(*pp == wn);
		*pp = wn->next;
		atomic_fetch_sub(&w->nodes, 1);
	}
	pthread_mutex_unlock(&w->lock);
	if (!last)
		return;
	/* unreachable now: no lock needed, but TSan wants the order */
	pthread_mutex_lock(&wn->lock);
	if (wn->fd >= 0 && wn->dirty && !wn->gone && !wn->broken) {
		label_of(w, wn->ino, label, sizeof(label));
		store_log(STORE_LOG_ERR, "the bytes written to '%s' were not "
			  "stored; they stay in '%s'", label, wn->path);
		close(wn->fd);
		free(wn->path);
	} else {
		if (wn->fd >= 0 && wn->broken && !wn->gone) {
			label_of(w, wn->ino, label, sizeof(label));
			store_log(STORE_LOG_NOTICE, "discarded what was written "
				  "to '%s': a write failed (%s)", label,
				  strerror(wn->broken));
		}
		unstage(wn);
	}
	pthread_mutex_unlock(&wn->lock);
	pthread_mutex_destroy(&wn->lock);
	free(wn->last);
	free(wn);
}

/* The size and mtime lookups report while @wn (lock held) is unstored. */
static void overlay(struct fs_write *w, struct fs_wnode *wn)
{
	pthread_mutex_lock(&w->lock);
	/* an unlinked file's handles see what they wrote */
	wn->ov = wn->dirty || (wn->gone && wn->fd >= 0);
	wn->ov_size = wn->size;
	wn->ov_mtime_ns = wn->mtime_ns ? wn->mtime_ns : wn->wtime_ns;
	pthread_mutex_unlock(&w->lock);
}

/* @wn's staged bytes changed (lock held). */
static void changed(struct fs_write *w, struct fs_wnode *wn)
{
	wn->dirty = true;
	wn->failed = false;
	wn->key[0] = '\0';
	wn->mtime_ns = 0;
	wn->wtime_ns = realtime_ns();
	overlay(w, wn);
}

bool fs_write_orphan(struct fs *fs, uint64_t ino, struct store_node *out)
{
	struct fs_write *w = fs->write;
	struct fs_wnode *wn;
	bool found = false;

	/* only asked when the index has no such node: no fast path */
	if (!w)
		return false;
	pthread_mutex_lock(&w->lock);
	wn = *slot(w, ino);
	if (wn && wn->last) {
		*out = *wn->last;
		found = true;
	}
	for (struct fs_ropen *r = w->ropen[ino % NBUCKETS]; r && !found;
	     r = r->next) {
		if (r->ino == ino && r->gone) {
			*out = r->last;
			found = true;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return found;
}

bool fs_write_lately_gone(struct fs *fs, uint64_t ino, struct store_node *out)
{
	struct fs_write *w = fs->write;
	bool found = false;

	if (!w)
		return false;
	pthread_mutex_lock(&w->lock);
	for (unsigned i = 0; i < NGONE && i < w->ngone && !found; i++) {
		if (w->gone[i].ino == ino) {
			*out = w->gone[i];
			found = true;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return found;
}

void fs_write_note_read(struct fs *fs, uint64_t ino, bool open)
{
	struct fs_write *w = fs->write;
	struct fs_wnode *drop = NULL, *wn;
	struct fs_ropen **pp, *r;

	if (!w)
		return;
	if (open)
		pthread_mutex_lock(gate_of(w, ino));
	pthread_mutex_lock(&w->lock);
	pp = &w->ropen[ino % NBUCKETS];
	while (*pp && (*pp)->ino != ino)
		pp = &(*pp)->next;
	r = *pp;
	if (open) {
		if (!r) {
			r = calloc(1, sizeof(*r));
			if (r) {
				r->ino = ino;
				*pp = r;
				wn = *slot(w, ino);
				if (wn)
					link_readers(w, wn);
			}
		}
		if (r)
			r->n++;
	} else if (r && --r->n == 0) {
		*pp = r->next;
		drop = r->wn;
		if (drop)
			atomic_fetch_sub(&w->redirects, 1);
		free(r);
	}
	pthread_mutex_unlock(&w->lock);
	if (open)
		pthread_mutex_unlock(gate_of(w, ino));
	if (drop)
		wnode_put(w, drop);
}

static int stage(struct fs_write *w, struct fs_wnode *wn, bool copy);

/* Read up to @size bytes at @off of @wn's staged copy (made now if need
 * be) into @buf; *@got says how many.  Takes wn->lock. */
static int read_staged(struct fs_write *w, struct fs_wnode *wn, char *buf,
		       size_t size, off_t off, size_t *got)
{
	int err;

	pthread_mutex_lock(&wn->lock);
	err = stage(w, wn, true);
	while (!err && *got < size) {
		ssize_t n = pread(wn->fd, buf + *got, size - *got,
				  off + (off_t)*got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = errno;
		if (n <= 0)
			break;
		*got += (size_t)n;
	}
	pthread_mutex_unlock(&wn->lock);
	return err;
}

bool fs_write_redirects(struct fs *fs)
{
	struct fs_write *w = fs->write;

	return w && atomic_load_explicit(&w->redirects,
					 memory_order_relaxed) > 0;
}

int fs_do_write_read_ino(struct fs *fs, uint64_t ino, char *buf, size_t size,
			 off_t off, size_t *got)
{
	struct fs_write *w = fs->write;
	struct fs_wnode *wn = NULL;
	int err;

	*got = 0;
	if (!w || atomic_load_explicit(&w->redirects, memory_order_relaxed)
	    == 0)
		return -1;
	pthread_mutex_lock(&w->lock);
	for (struct fs_ropen *r = w->ropen[ino % NBUCKETS]; r; r = r->next) {
		if (r->ino == ino && r->wn) {
			wn = r->wn;
			wn->refs++;
		}
	}
	pthread_mutex_unlock(&w->lock);
	if (!wn)
		return -1;
	if (off < 0) {
		wnode_put(w, wn);
		return EINVAL;
	}
	err = read_staged(w, wn, buf, size, off, got);
	wnode_put(w, wn);
	return err;
}

/* Is @ino open for reading here?  Then, should it go, keep @n for its
 * handles' getattr. */
static bool read_open_keep(struct fs_write *w, const struct store_node *n)
{
	struct fs_ropen *r;
	bool open = false;

	pthread_mutex_lock(&w->lock);
	for (r = w->ropen[n->ino % NBUCKETS]; r; r = r->next) {
		if (r->ino == n->ino) {
			open = true;
			r->last = *n;
			break;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return open;
}

static void read_open_gone(struct fs_write *w, uint64_t ino)
{
	pthread_mutex_lock(&w->lock);
	for (struct fs_ropen *r = w->ropen[ino % NBUCKETS]; r; r = r->next)
		if (r->ino == ino)
			r->gone = true;
	pthread_mutex_unlock(&w->lock);
}

void fs_write_fix_attr(struct fs *fs, struct stat *st)
{
	struct fs_write *w = fs->write;
	struct fs_wnode *wn;

	if (!w || atomic_load_explicit(&w->nodes, memory_order_relaxed) == 0)
		return;
	pthread_mutex_lock(&w->lock);
	wn = *slot(w, st->st_ino);
	if (wn && wn->ov) {
		st->st_size = (off_t)wn->ov_size;
		st->st_blocks = (blkcnt_t)((wn->ov_size + 511) / 512);
		st->st_mtim.tv_sec = (time_t)(wn->ov_mtime_ns / 1000000000);
		st->st_mtim.tv_nsec = (long)(wn->ov_mtime_ns % 1000000000);
		st->st_ctim = st->st_mtim;
	}
	pthread_mutex_unlock(&w->lock);
}

/* ---- staging ---------------------------------------------------------- */

/* A new, empty staging file for @ino: its fd and (heap) name. */
static int make_staging(struct fs_write *w, uint64_t ino, int *fd,
			char **path)
{
	size_t len = strlen(w->staging) + 48;
	char *p = malloc(len);
	int err;

	*fd = -1;
	*path = NULL;
	if (!p)
		return ENOMEM;
	snprintf(p, len, "%s/%" PRIu64 ".XXXXXX", w->staging, ino);
	/* mkostemp makes it 0600 */
	*fd = mkostemp(p, O_CLOEXEC);
	if (*fd < 0 && errno == ENOENT) {
		if (mkdir(w->staging, 0700) < 0 && errno != EEXIST) {
			err = errno;
			store_log(STORE_LOG_ERR, "cannot create staging "
				  "directory '%s': %s", w->staging,
				  strerror(err));
			free(p);
			return err;
		}
		snprintf(p, len, "%s/%" PRIu64 ".XXXXXX", w->staging, ino);
		*fd = mkostemp(p, O_CLOEXEC);
	}
	if (*fd < 0) {
		err = errno;
		store_log(STORE_LOG_ERR, "cannot create a staging file in "
			  "'%s': %s", w->staging, strerror(err));
		free(p);
		return err;
	}
	*path = p;
	return 0;
}

/* Copy stored file @n's content into @fd (copy-on-write), verified chunk
 * by chunk as any read is. */
static int copy_object(struct fs_write *w, const struct store_node *n, int fd)
{
	char label[LABEL_MAX];
	struct stat sb;
	store_rc rc;

	label_of(w, n->ino, label, sizeof(label));
	rc = store_export_fd(w->fs->st, n->key, fd, label);
	if (rc != STORE_OK) {
		atomic_fetch_add_explicit(&w->fs->errors, 1,
					  memory_order_relaxed);
		store_log(STORE_LOG_ERR, "cannot stage '%s' (key %s) for "
			  "writing: %s", label, n->key, store_last_error());
		return rc == STORE_NOSPC ? ENOSPC : rc == STORE_NOMEM ?
		       ENOMEM : EIO;
	}
	if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size != n->size) {
		store_log(STORE_LOG_ERR, "cannot stage '%s' (key %s) for "
			  "writing: got %lld bytes, the index says %" PRIu64,
			  label, n->key, (long long)sb.st_size, n->size);
		return EIO;
	}
	return 0;
}

/*
 * Give @wn (lock held) its staging file; with @copy it holds the file's
 * stored content first (nothing for a pending future).
 */
static int stage(struct fs_write *w, struct fs_wnode *wn, bool copy)
{
	struct store_node n;
	char *path = NULL;
	uint64_t size = 0;
	store_rc rc;
	int fd, err;

	if (wn->fd >= 0)
		return 0;
	err = make_staging(w, wn->ino, &fd, &path);
	if (err)
		return err;
	wn->key[0] = '\0';
	if (copy) {
		rc = store_getattr(w->fs->st, wn->ino, &n);
		if (rc != STORE_OK)
			err = fail(w, rc, "stage", wn->ino);
		else if (!S_ISREG(n.mode))
			err = EINVAL;
		else if (!(n.flags & STORE_NODE_PENDING) && n.size > 0)
			err = copy_object(w, &n, fd);
		if (!err && !(n.flags & STORE_NODE_PENDING)) {
			size = n.size;
			snprintf(wn->key, sizeof(wn->key), "%s", n.key);
		}
	}
	if (err) {
		unlink(path);
		close(fd);
		free(path);
		return err;
	}
	wn->fd = fd;
	wn->path = path;
	wn->size = size;
	return 0;
}

/* Cut or extend @wn's (lock held) staged bytes to @size. */
static int truncate_locked(struct fs_write *w, struct fs_wnode *wn,
			   uint64_t size)
{
	int err;

	/* to zero, the old bytes are not needed */
	err = stage(w, wn, size > 0);
	if (err)
		return err;
	if (ftruncate(wn->fd, (off_t)size) < 0) {
		err = errno;
		store_log(STORE_LOG_ERR, "cannot truncate staged file '%s': %s",
			  wn->path, strerror(err));
		return err;
	}
	wn->size = size;
	if (size == 0)
		wn->broken = 0;		/* a fresh start */
	changed(w, wn);
	return 0;
}

/*
 * Store @wn's (lock held) staged bytes as a new object of its node, in one
 * batch.  A node that left the namespace takes nothing (its writes vanish,
 * as an unlinked file's do).  Failures are logged here with the staged
 * file's name.
 */
static int commit_locked(struct fs_write *w, struct fs_wnode *wn)
{
	char label[LABEL_MAX], why[1024];
	struct store_object obj;
	struct store_node n;
	uint64_t seq0 = 0;
	store_rc rc;
	int err;

	if (wn->broken)
		return wn->broken;
	if (!wn->dirty)
		return 0;
	if (wn->gone || wn->fd < 0) {
		wn->dirty = false;
		overlay(w, wn);
		return 0;
	}
	label_of(w, wn->ino, label, sizeof(label));
	why[0] = '\0';
	if (lseek(wn->fd, 0, SEEK_SET) < 0) {
		err = errno;
		store_log(STORE_LOG_ERR, "cannot store '%s': cannot read '%s': "
			  "%s", label, wn->path, strerror(err));
		wn->failed = true;
		return err;
	}
	rc = batch_begin(w, &seq0);
	if (rc != STORE_OK) {
		snprintf(why, sizeof(why), "%s", store_last_error());
		goto out;
	}
	rc = store_getattr(w->wst, wn->ino, &n);
	if (rc == STORE_NOTFOUND) {
		/* removed by someone else meanwhile */
		batch_end(w, seq0, rc);
		wn->gone = true;
		wn->dirty = false;
		overlay(w, wn);
		store_log(STORE_LOG_INFO, "'%s' was removed while open: what "
			  "was written to it is dropped", label);
		return 0;
	}
	if (rc == STORE_OK)
		rc = store_ingest_fd(w->wst, wn->fd, label, NULL, &obj);
	/* a pending future is fulfilled by this (store_future_set) */
	if (rc == STORE_OK)
		rc = store_set_content(w->wst, wn->ino, obj.key, NULL,
				       wn->mtime_ns ? wn->mtime_ns :
				       wn->wtime_ns, &n);
	if (rc != STORE_OK)
		snprintf(why, sizeof(why), "%s", store_last_error());
	rc = batch_end(w, seq0, rc);
	if (rc != STORE_OK && !why[0])
		snprintf(why, sizeof(why), "%s", store_last_error()[0] ?
			 store_last_error() : store_rc_str(rc));
out:
	if (rc != STORE_OK) {
		wn->failed = true;
		atomic_fetch_add_explicit(&w->fs->errors, 1,
					  memory_order_relaxed);
		store_log(STORE_LOG_ERR, "cannot store '%s': %s; what was "
			  "written stays in '%s'", label, why, wn->path);
		return rc == STORE_NOSPC ? ENOSPC : rc == STORE_NOMEM ?
		       ENOMEM : rc == STORE_ROFS ? EROFS : EIO;
	}
	wn->dirty = false;
	wn->failed = false;
	wn->created = false;
	wn->mtime_ns = 0;
	snprintf(wn->key, sizeof(wn->key), "%s", obj.key);
	overlay(w, wn);
	return 0;
}

/* ---- opening ---------------------------------------------------------- */

bool fs_write_wants_open(struct fs *fs, fuse_ino_t ino, int flags)
{
	struct fs_write *w = fs->write;
	struct fs_wnode *wn;
	bool busy;

	if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_APPEND)))
		return true;
	if (!w || atomic_load_explicit(&w->nodes, memory_order_relaxed) == 0)
		return false;
	pthread_mutex_lock(&w->lock);
	wn = *slot(w, ino);
	/* a reader must see what this mount's writers staged */
	busy = wn && (wn->writers > 0 || wn->ov);
	pthread_mutex_unlock(&w->lock);
	return busy;
}

/* Open a write handle on node @n into @fi. */
static int open_node(struct fs_write *w, const struct store_node *n,
		     struct fuse_file_info *fi)
{
	bool writable = (fi->flags & O_ACCMODE) != O_RDONLY;
	bool trunc = (fi->flags & O_TRUNC) != 0;
	struct fs_whandle *h;
	struct fs_wnode *wn;
	unsigned writers;
	int err = 0;

	if ((writable || trunc) && !w->wst)
		return EROFS;
	h = calloc(1, sizeof(*h));
	if (!h)
		return ENOMEM;
	wn = wnode_get(w, n->ino, true);
	if (!wn) {
		free(h);
		return ENOMEM;
	}
	h->kind = FS_HANDLE_WRITE;
	h->wn = wn;
	h->writable = writable;
	h->append = (fi->flags & O_APPEND) != 0;
	pthread_mutex_lock(&w->lock);
	writers = wn->writers;
	if (writable)
		wn->writers++;
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_lock(&wn->lock);
	/* close-to-open: bytes staged from an object since replaced by
	 * another mount are stale */
	if (wn->fd >= 0 && !wn->dirty && writers == 0 &&
	    strcmp(wn->key, n->key) != 0)
		unstage(wn);
	if (trunc)
		err = truncate_locked(w, wn, 0);
	/* O_RDONLY|O_TRUNC: no flush will store it */
	if (!err && trunc && !writable)
		err = commit_locked(w, wn);
	pthread_mutex_unlock(&wn->lock);
	if (err) {
		pthread_mutex_lock(&w->lock);
		if (writable)
			wn->writers--;
		pthread_mutex_unlock(&w->lock);
		wnode_put(w, wn);
		free(h);
		return err;
	}
	/* truncating a stored file is a change the close stores; a pending
	 * one waits for real content (the shell's `>` closes once early) */
	if (trunc && writable && !(n->flags & STORE_NODE_PENDING))
		mark_wrote(w, h);
	handle_link(w, h);
	fi->fh = (uintptr_t)h;
	fi->keep_cache = 0;
	fi->direct_io = 0;
	fi->noflush = !writable;
	return 0;
}

/*
 * Open node @ino, which is no longer in the index.  If this mount has just
 * unlinked or replaced it, the kernel may have found its name before: it
 * opens what it found, an unlinked file, as on a local disk (what is
 * written to it goes nowhere), when its bytes are staged here or O_TRUNC
 * needs none.  Else ESTALE: a write handle reads only staged bytes, and
 * staging copies from the store, which has lost the node (and, with its
 * last reference, the object), so it could not read or write; the file's
 * read-only handles, which read it from the cache, are left alone.  The
 * kernel then looks the name up again, which must not find the old row in
 * the attribute cache.
 */
static int open_gone(struct fs_write *w, uint64_t ino,
		     struct fuse_file_info *fi)
{
	struct store_node n, *copy;
	struct fs_wnode *wn = NULL;
	bool found, staged = false;
	int err;

	/* open here while it went: its bytes may be staged */
	found = fs_write_orphan(w->fs, ino, &n);
	if (found) {
		wn = wnode_get(w, ino, false);
		if (wn) {
			pthread_mutex_lock(&wn->lock);
			staged = wn->fd >= 0;
			pthread_mutex_unlock(&wn->lock);
		}
	} else {
		found = fs_write_lately_gone(w->fs, ino, &n);
	}
	if (!found || !S_ISREG(n.mode) || (n.flags & STORE_NODE_PENDING) ||
	    !(staged || (fi->flags & O_TRUNC))) {
		if (wn)
			wnode_put(w, wn);
		fs_inode_attr_inval(w->fs->inodes, ino, 0, NULL);
		return ESTALE;
	}
	if (!wn)
		wn = wnode_get(w, ino, true);
	if (!wn)
		return ENOMEM;
	copy = malloc(sizeof(*copy));
	pthread_mutex_lock(&wn->lock);
	pthread_mutex_lock(&w->lock);
	if (!wn->last && copy) {
		*copy = n;
		wn->last = copy;
		copy = NULL;
	}
	pthread_mutex_unlock(&w->lock);
	wn->gone = true;
	overlay(w, wn);
	pthread_mutex_unlock(&wn->lock);
	free(copy);
	err = open_node(w, &n, fi);
	wnode_put(w, wn);
	return err;
}

int fs_do_write_open(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_write *w = fs->write;
	struct store_node n;
	store_rc rc;

	struct fs_wnode *wn = NULL;
	int err;

	if (((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) &&
	    !w->wst)
		return EROFS;
	/* the node and its wnode under the ino's gate: an unlink here then
	 * either stages the object for this handle or comes first */
	pthread_mutex_lock(gate_of(w, ino));
	rc = store_getattr(fs->st, ino, &n);
	if (rc == STORE_OK && S_ISREG(n.mode))
		wn = wnode_get(w, ino, true);
	pthread_mutex_unlock(gate_of(w, ino));
	/* gone since the kernel looked it up (unlinked or replaced, here or
	 * elsewhere) */
	if (rc == STORE_NOTFOUND)
		return open_gone(w, ino, fi);
	if (rc != STORE_OK)
		return fail(w, rc, "open", ino);
	if (S_ISDIR(n.mode))
		return EISDIR;
	if (!S_ISREG(n.mode))
		return EINVAL;
	if (!wn)
		return ENOMEM;
	err = open_node(w, &n, fi);
	wnode_put(w, wn);
	return err;
}

/* The caller's attributes for a new node in @parent: a setgid directory
 * passes its group on (and, to directories, its setgid bit). */
static store_rc new_attr(struct fs_write *w, const struct fuse_ctx *ctx,
			 uint64_t parent, mode_t mode, bool dir,
			 struct store_attr *a)
{
	struct store_node p;
	store_rc rc;

	rc = store_getattr(w->wst, parent, &p);
	if (rc != STORE_OK)
		return rc;
	if (!S_ISDIR(p.mode))
		return STORE_NOTDIR;
	memset(a, 0, sizeof(*a));
	a->mode = mode & 07777;
	a->uid = ctx->uid;
	a->gid = ctx->gid;
	if (p.mode & S_ISGID) {
		a->gid = p.gid;
		if (dir)
			a->mode |= S_ISGID;
	}
	/* as the kernel does: no setgid file for a group we are not in
	 * (supplementary groups are not checked: the bit just goes) */
	if (!dir && (a->mode & S_ISGID) && ctx->uid != 0 &&
	    a->gid != ctx->gid)
		a->mode &= ~(mode_t)S_ISGID;
	return STORE_OK;
}

/* Make empty file @name in @parent, inside a batch; @fd is an empty file
 * to ingest should the empty object not be in the index. */
static store_rc make_empty(struct fs_write *w, uint64_t parent,
			   const char *name, const struct store_attr *a,
			   int fd, struct store_node *out)
{
	struct store_object o;
	store_rc rc;

	rc = store_object_info(w->wst, EMPTY_KEY, &o);
	if (rc != STORE_OK || o.pending || o.evicted || o.evict_on_read) {
		rc = store_ingest_fd(w->wst, fd, name, NULL, &o);
		if (rc != STORE_OK)
			return rc;
	}
	return store_mkfile(w->wst, parent, name, a, o.key, NULL, 0, out);
}

static bool name_too_long(const char *name)
{
	return strlen(name) > STORE_NAME_MAX;
}

int fs_do_create(struct fs *fs, const struct fuse_ctx *ctx, fuse_ino_t parent,
		 const char *name, mode_t mode, struct fuse_file_info *fi,
		 struct store_node *out)
{
	struct fs_write *w = fs->write;
	struct store_wait wait = {
		.timeout_ms = NEWFILE_TIMEOUT_MS,
		.poll_ms = NEWFILE_POLL_MS,
		.poll_max_ms = NEWFILE_POLL_MAX_MS,
		.backoff = 1.5,
	};
	struct store_attr a;
	struct fs_whandle *h = NULL;
	struct fs_wnode *wn = NULL;
	char *path = NULL;
	uint64_t seq0 = 0;
	store_rc rc;
	int fd = -1, err = 0;

	if (!w->wst)
		return EROFS;
	if (name_too_long(name))
		return ENAMETOOLONG;
	/* the staging file first: a full disk fails before any change */
	err = make_staging(w, parent, &fd, &path);
	if (err)
		return err;
	h = calloc(1, sizeof(*h));
	if (!h) {
		err = ENOMEM;
		goto out;
	}
	/*
	 * A new file is a pending placeholder (a future) until its close
	 * stores it: no object, no blob yet, and a reader through another
	 * mount waits for the close instead of reading it half written.
	 */
	rc = batch_begin(w, &seq0);
	if (rc == STORE_OK) {
		rc = new_attr(w, ctx, parent, mode, false, &a);
		if (rc == STORE_OK)
			rc = store_future(w->wst, parent, name, &a, &wait, out);
		if (rc != STORE_OK)
			err = fail(w, rc, "create in", parent);
		rc = batch_end(w, seq0, rc);
	}
	if (!err && rc != STORE_OK)
		err = fail(w, rc, "create in", parent);
	if (err == EEXIST && !(fi->flags & O_EXCL)) {
		/* made by someone else since the kernel looked: open it */
		free(h);
		h = NULL;
		rc = store_lookup(fs->st, parent, name, out);
		if (rc != STORE_OK)
			err = fail(w, rc, "open", parent);
		else if (S_ISDIR(out->mode))
			err = EISDIR;
		else if (!S_ISREG(out->mode))
			err = EEXIST;
		else
			err = open_node(w, out, fi);
		goto out;
	}
	if (err)
		goto out;
	wn = wnode_get(w, out->ino, true);
	if (!wn) {
		/* the placeholder stays: pxfs rm or a write fulfils it */
		err = ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&wn->lock);
	if (wn->fd < 0) {
		wn->fd = fd;
		wn->path = path;
		wn->size = 0;
		fd = -1;
		path = NULL;
	}
	wn->created = true;
	/* even if nothing is written, the close stores an empty file */
	changed(w, wn);
	pthread_mutex_unlock(&wn->lock);
	pthread_mutex_lock(&w->lock);
	wn->writers++;
	pthread_mutex_unlock(&w->lock);
	h->kind = FS_HANDLE_WRITE;
	h->wn = wn;
	h->writable = true;
	h->append = (fi->flags & O_APPEND) != 0;
	/* a close that returns 0 means the file is stored, also empty */
	mark_wrote(w, h);
	handle_link(w, h);
	fi->fh = (uintptr_t)h;
	fi->keep_cache = 0;
	fi->direct_io = 0;
	fi->noflush = 0;
	h = NULL;
out:
	free(h);
	if (fd >= 0) {
		unlink(path);
		close(fd);
	}
	free(path);
	return err;
}

/* ---- reading and writing ---------------------------------------------- */

int fs_do_write_read(struct fs *fs, struct fuse_file_info *fi, char *buf,
		     size_t size, off_t off, size_t *got)
{
	struct fs_write *w = fs->write;
	struct fs_whandle *h = whandle_of(fi);
	struct fs_wnode *wn = h->wn;
	int err;

	*got = 0;
	if (off < 0)
		return EINVAL;
	err = read_staged(w, wn, buf, size, off, got);
	handle_done(&h->done);
	return err;
}

int fs_do_write(struct fs *fs, struct fuse_file_info *fi, const char *buf,
		size_t size, off_t off)
{
	struct fs_write *w = fs->write;
	struct fs_whandle *h = whandle_of(fi);
	struct fs_wnode *wn = h->wn;
	char label[LABEL_MAX];
	size_t done = 0;
	int err;

	if (!h->writable) {
		handle_done(&h->done);
		return EBADF;
	}
	if (off < 0) {
		handle_done(&h->done);
		return EINVAL;
	}
	pthread_mutex_lock(&wn->lock);
	err = stage(w, wn, true);
	/* the kernel's offset comes from its idea of the size: ours wins */
	if (!err && h->append)
		off = (off_t)wn->size;
	while (!err && done < size) {
		ssize_t n = pwrite(wn->fd, buf + done, size - done,
				   off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			if (!wn->broken) {
				label_of(w, wn->ino, label, sizeof(label));
				store_log(STORE_LOG_ERR, "cannot write to '%s':"
					  " staging file '%s': %s", label,
					  wn->path, strerror(err));
			}
			/* never store a file with a hole we made */
			wn->broken = err;
			break;
		}
		done += (size_t)n;
	}
	if (!err) {
		if ((uint64_t)off + size > wn->size)
			wn->size = (uint64_t)off + size;
		changed(w, wn);
		mark_wrote(w, h);
	}
	pthread_mutex_unlock(&wn->lock);
	handle_done(&h->done);
	return err;
}

int fs_do_flush(struct fs *fs, struct fuse_file_info *fi)
{
	struct fs_write *w = fs->write;
	struct fs_whandle *h = whandle_of(fi);
	struct fs_wnode *wn = h->wn;
	unsigned others;
	bool mine;
	int err = 0;

	if (h->writable) {
		pthread_mutex_lock(&w->lock);
		mine = h->wrote;
		if (h->wrote) {
			h->wrote = false;
			wn->unflushed--;
		}
		others = wn->unflushed;
		pthread_mutex_unlock(&w->lock);
		/*
		 * Store what this descriptor wrote, unless another handle has
		 * writes to add (its flush stores).  A close that wrote
		 * nothing (the shell's `>`: open, dup2, close, then write)
		 * stores nothing yet: the release does, if need be.
		 */
		pthread_mutex_lock(&wn->lock);
		if (others == 0 && (mine || wn->broken))
			err = commit_locked(w, wn);
		pthread_mutex_unlock(&wn->lock);
	}
	handle_done(&h->done);
	return err;
}

int fs_do_fsync(struct fs *fs, struct fuse_file_info *fi)
{
	struct fs_write *w = fs->write;
	struct fs_whandle *h = whandle_of(fi);
	struct fs_wnode *wn = h->wn;
	int err;

	pthread_mutex_lock(&wn->lock);
	err = commit_locked(w, wn);
	pthread_mutex_unlock(&wn->lock);
	handle_done(&h->done);
	return err;
}

int fs_do_fallocate(struct fs *fs, struct fuse_file_info *fi, int mode,
		    off_t off, off_t len)
{
	struct fs_write *w = fs->write;
	struct fs_whandle *h = whandle_of(fi);
	struct fs_wnode *wn = h->wn;
	int err;

	if (mode & ~FALLOC_FL_KEEP_SIZE) {
		handle_done(&h->done);
		return EOPNOTSUPP;
	}
	if (!h->writable) {
		handle_done(&h->done);
		return EBADF;
	}
	if (off < 0 || len <= 0) {
		handle_done(&h->done);
		return EINVAL;
	}
	pthread_mutex_lock(&wn->lock);
	err = stage(w, wn, true);
	if (!err && fallocate(wn->fd, mode, off, len) < 0)
		err = errno;
	if (!err && !(mode & FALLOC_FL_KEEP_SIZE) &&
	    (uint64_t)off + (uint64_t)len > wn->size) {
		wn->size = (uint64_t)off + (uint64_t)len;
		changed(w, wn);
		mark_wrote(w, h);
	}
	pthread_mutex_unlock(&wn->lock);
	handle_done(&h->done);
	return err;
}

void fs_do_write_release(struct fs *fs, struct fuse_file_info *fi)
{
	struct fs_write *w = fs->write;
	struct fs_whandle *h = whandle_of(fi);
	struct fs_wnode *wn = h->wn;
	unsigned others;

	/* every request on the handle was answered before release */
	(void)atomic_load_explicit(&h->done, memory_order_acquire);
	pthread_mutex_lock(&w->lock);
	if (h->wrote)
		wn->unflushed--;
	if (h->writable)
		wn->writers--;
	others = wn->unflushed;
	pthread_mutex_unlock(&w->lock);
	/* writes after the last flush (mmap write-back): nobody hears an
	 * error now, it is logged; a failed flush is not retried */
	if (h->writable && others == 0) {
		pthread_mutex_lock(&wn->lock);
		if (!wn->failed)
			(void)commit_locked(w, wn);
		pthread_mutex_unlock(&wn->lock);
	}
	wnode_put(w, wn);
	handle_unlink(w, h);
	free(h);
}

/* ---- attributes ------------------------------------------------------- */

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* Apply @mask of @a to the kept copy of orphan @ino (no index row). */
static void orphan_setattr(struct fs_write *w, uint64_t ino, unsigned mask,
			   const struct store_attr *a)
{
	struct store_node *n = NULL;
	struct fs_wnode *wn;

	pthread_mutex_lock(&w->lock);
	wn = *slot(w, ino);
	if (wn && wn->last)
		n = wn->last;
	for (struct fs_ropen *r = w->ropen[ino % NBUCKETS]; r && !n;
	     r = r->next)
		if (r->ino == ino && r->gone)
			n = &r->last;
	if (n) {
		if (mask & STORE_SET_MODE)
			n->mode = (n->mode & S_IFMT) | (a->mode & 07777);
		if (mask & STORE_SET_UID)
			n->uid = a->uid;
		if (mask & STORE_SET_GID)
			n->gid = a->gid;
		if (mask & STORE_SET_MTIME)
			n->mtime_ns = a->mtime_ns;
		n->ctime_ns = realtime_ns();
	}
	pthread_mutex_unlock(&w->lock);
}

/* truncate(2) of @ino, open here or not. */
static int do_truncate(struct fs_write *w, uint64_t ino, uint64_t size)
{
	struct fs_wnode *wn;
	unsigned writers;
	int err;

	wn = wnode_get(w, ino, true);
	if (!wn)
		return ENOMEM;
	pthread_mutex_lock(&wn->lock);
	err = truncate_locked(w, wn, size);
	pthread_mutex_lock(&w->lock);
	writers = wn->writers;
	pthread_mutex_unlock(&w->lock);
	/* nobody has it open for writing: no close will store it */
	if (!err && writers == 0)
		err = commit_locked(w, wn);
	pthread_mutex_unlock(&wn->lock);
	wnode_put(w, wn);
	return err;
}

int fs_do_setattr(struct fs *fs, const struct fuse_ctx *ctx, fuse_ino_t ino,
		  const struct stat *attr, int to_set,
		  struct fuse_file_info *fi, struct store_node *out)
{
	struct fs_write *w = fs->write;
	struct store_attr a;
	struct store_node n;
	struct fs_wnode *wn;
	unsigned mask = 0;
	uint64_t seq0 = 0;
	bool orphan = false;
	store_rc rc;
	int err;

	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
		      FUSE_SET_ATTR_GID | FUSE_SET_ATTR_SIZE |
		      FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		if (!w->wst)
			return EROFS;
	}
	rc = store_getattr(fs->st, ino, &n);
	/* unlinked while open here: its handles may still change it */
	if (rc == STORE_NOTFOUND && fs_write_orphan(fs, ino, &n)) {
		orphan = true;
		rc = STORE_OK;
	}
	if (rc != STORE_OK)
		return fail(w, rc, "setattr", ino);
	memset(&a, 0, sizeof(a));
	if (to_set & FUSE_SET_ATTR_MODE) {
		mask |= STORE_SET_MODE;
		a.mode = attr->st_mode & 07777;
	}
	/* default_permissions has the kernel check the rest */
	if (to_set & FUSE_SET_ATTR_UID) {
		if (ctx->uid != 0 && attr->st_uid != n.uid)
			return EPERM;
		mask |= STORE_SET_UID;
		a.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		if (ctx->uid != 0 && ctx->uid != n.uid)
			return EPERM;
		mask |= STORE_SET_GID;
		a.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		mask |= STORE_SET_MTIME;
		a.mtime_ns = realtime_ns();
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		mask |= STORE_SET_MTIME;
		a.mtime_ns = ts_ns(&attr->st_mtim);
		if (a.mtime_ns == 0)
			a.mtime_ns = 1;	/* 0 would mean now */
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (S_ISDIR(n.mode))
			return EISDIR;
		if (!S_ISREG(n.mode))
			return EINVAL;
		if (attr->st_size < 0)
			return EINVAL;
		err = do_truncate(w, ino, (uint64_t)attr->st_size);
		if (err)
			return err;
		/* ftruncate(2): the handle's close stores it */
		if (fi && whandle_of(fi)->writable)
			mark_wrote(w, whandle_of(fi));
	}
	if (mask && orphan) {
		orphan_setattr(w, ino, mask, &a);
		mask = 0;
	}
	if (mask) {
		rc = batch_begin(w, &seq0);
		if (rc == STORE_OK) {
			rc = store_setattr(w->wst, ino, mask, &a, NULL);
			err = fail(w, rc, "change attributes of", ino);
			rc = batch_end(w, seq0, rc);
		}
		if (rc != STORE_OK)
			return err ? err : fail(w, rc, "change attributes of",
						ino);
		/* an explicit mtime outlives the store at close */
		if (mask & STORE_SET_MTIME) {
			wn = wnode_get(w, ino, false);
			if (wn) {
				pthread_mutex_lock(&wn->lock);
				wn->mtime_ns = a.mtime_ns;
				overlay(w, wn);
				pthread_mutex_unlock(&wn->lock);
				wnode_put(w, wn);
			}
		}
	}
	if (orphan && fs_write_orphan(fs, ino, out))
		return 0;
	rc = store_getattr(fs->st, ino, out);
	if (rc != STORE_OK)
		return fail(w, rc, "setattr", ino);
	return 0;
}

/* ---- the namespace ---------------------------------------------------- */

int fs_do_mkdir(struct fs *fs, const struct fuse_ctx *ctx, fuse_ino_t parent,
		const char *name, mode_t mode, struct store_node *out)
{
	struct fs_write *w = fs->write;
	struct store_attr a;
	uint64_t seq0 = 0;
	store_rc rc;
	int err = 0;

	if (!w->wst)
		return EROFS;
	if (name_too_long(name))
		return ENAMETOOLONG;
	rc = batch_begin(w, &seq0);
	if (rc == STORE_OK) {
		rc = new_attr(w, ctx, parent, mode, true, &a);
		if (rc == STORE_OK)
			rc = store_mkdir(w->wst, parent, name, &a, 0, out);
		err = fail(w, rc, "mkdir in", parent);
		rc = batch_end(w, seq0, rc);
	}
	if (!err && rc != STORE_OK)
		err = fail(w, rc, "mkdir in", parent);
	return err;
}

int fs_do_mknod(struct fs *fs, const struct fuse_ctx *ctx, fuse_ino_t parent,
		const char *name, mode_t mode, struct store_node *out)
{
	struct fs_write *w = fs->write;
	struct store_attr a;
	char *path = NULL;
	uint64_t seq0 = 0;
	store_rc rc;
	int fd = -1, err = 0;

	if (!w->wst)
		return EROFS;
	/* the store keeps files, directories and symlinks only */
	if (!S_ISREG(mode))
		return EPERM;
	if (name_too_long(name))
		return ENAMETOOLONG;
	err = make_staging(w, parent, &fd, &path);
	if (err)
		return err;
	rc = batch_begin(w, &seq0);
	if (rc == STORE_OK) {
		rc = new_attr(w, ctx, parent, mode, false, &a);
		if (rc == STORE_OK)
			rc = make_empty(w, parent, name, &a, fd, out);
		err = fail(w, rc, "create in", parent);
		rc = batch_end(w, seq0, rc);
	}
	if (!err && rc != STORE_OK)
		err = fail(w, rc, "create in", parent);
	unlink(path);
	close(fd);
	free(path);
	return err;
}

int fs_do_symlink(struct fs *fs, const struct fuse_ctx *ctx,
		  const char *target, fuse_ino_t parent, const char *name,
		  struct store_node *out)
{
	struct fs_write *w = fs->write;
	struct store_attr a;
	uint64_t seq0 = 0;
	store_rc rc;
	int err = 0;

	if (!w->wst)
		return EROFS;
	if (name_too_long(name))
		return ENAMETOOLONG;
	if (strlen(target) >= PATH_MAX)
		return ENAMETOOLONG;
	rc = batch_begin(w, &seq0);
	if (rc == STORE_OK) {
		rc = new_attr(w, ctx, parent, 0777, false, &a);
		if (rc == STORE_OK)
			rc = store_symlink(w->wst, parent, name, target, &a, 0,
					   out);
		err = fail(w, rc, "symlink in", parent);
		rc = batch_end(w, seq0, rc);
	}
	if (!err && rc != STORE_OK)
		err = fail(w, rc, "symlink in", parent);
	return err;
}

/* Is @ino open for reading here? */
static bool is_read_open(struct fs_write *w, uint64_t ino)
{
	bool open = false;

	pthread_mutex_lock(&w->lock);
	for (struct fs_ropen *r = w->ropen[ino % NBUCKETS]; r && !open;
	     r = r->next)
		open = r->ino == ino;
	pthread_mutex_unlock(&w->lock);
	return open;
}

/* Does node @n (open for reading) need its object fetched into the cache
 * before it goes? */
static bool needs_fetch(struct fs_write *w, const struct store_node *n)
{
	return !(n->flags & STORE_NODE_PENDING) && n->size > 0 &&
	       !fs_cache_has(w->fs->cache, n->key);
}

/* Take all of @n's object into the cache, for its open handles. */
static void fetch_whole(struct fs_write *w, const struct store_node *n,
			const char *name)
{
	struct fs_cache_obj *o = NULL;

	if (fs_cache_get(w->fs->cache, n->key, n->size, n->ino, &o) != 0 ||
	    fs_cache_read(w->fs->cache, o, NULL, 0, n->size, n->ino) != 0)
		store_log(STORE_LOG_WARNING, "'%s' is open and goes away: its "
			  "open handles may fail", name);
	fs_cache_put(w->fs->cache, o);
}

/*
 * @name in @parent is about to go (unlink, or replaced by a rename): if
 * this mount is writing it, stage its bytes now, while its object is still
 * there, so that open handles keep working.  Returns the wnode (locked,
 * referenced; hand it to victim_done()) or NULL.
 */
static struct fs_wnode *victim_get(struct fs_write *w, uint64_t parent,
				   const char *name, uint64_t *ino,
				   struct store_node *vn)
{
	struct store_node n;
	struct fs_wnode *wn;

	if (store_lookup(w->fs->st, parent, name, &n) != STORE_OK ||
	    !S_ISREG(n.mode))
		return NULL;
	/*
	 * Open for reading here: its object goes with the last reference,
	 * so the cache (which the handles hold it in) takes all of it now.
	 * A big object takes long, and the gate is shared by every ino of
	 * its stripe: fetch it before taking the gate, then look again
	 * under it (a reader may have come meanwhile), a few times, and
	 * only then fetch under the gate.
	 */
	for (unsigned tries = 0;; tries++) {
		if (is_read_open(w, n.ino) && needs_fetch(w, &n))
			fetch_whole(w, &n, name);
		/* held until victim_done(), after the commit: see w->gates */
		pthread_mutex_lock(gate_of(w, n.ino));
		*ino = n.ino;
		/* an open that came first may have read the node before
		 * the lookup above (a name cached): look again under the
		 * gate */
		if (store_getattr(w->fs->st, n.ino, &n) != STORE_OK)
			return NULL;
		*vn = n;
		if (!read_open_keep(w, &n) || !needs_fetch(w, &n))
			break;
		if (tries == 2) {
			fetch_whole(w, &n, name);
			break;
		}
		pthread_mutex_unlock(gate_of(w, n.ino));
		*ino = 0;
	}
	if (atomic_load_explicit(&w->nodes, memory_order_relaxed) == 0)
		return NULL;
	wn = wnode_get(w, n.ino, false);
	if (!wn)
		return NULL;
	pthread_mutex_lock(&wn->lock);
	if (!wn->last) {
		struct store_node *copy = malloc(sizeof(*copy));

		if (copy)
			*copy = n;
		pthread_mutex_lock(&w->lock);
		wn->last = copy;
		pthread_mutex_unlock(&w->lock);
	}
	if (stage(w, wn, true) != 0)
		store_log(STORE_LOG_WARNING, "'%s' is open and goes away: its "
			  "open handles may fail", name);
	return wn;
}

static void victim_release(struct fs_write *w, struct fs_wnode *wn, bool gone)
{
	if (gone) {
		wn->gone = true;
		wn->dirty = false;
		overlay(w, wn);
	} else {
		pthread_mutex_lock(&w->lock);
		free(wn->last);
		wn->last = NULL;
		pthread_mutex_unlock(&w->lock);
	}
	pthread_mutex_unlock(&wn->lock);
	wnode_put(w, wn);
}

static void victim_done(struct fs_write *w, struct fs_wnode *wn, uint64_t ino,
			const struct store_node *vn, bool gone)
{
	if (gone && ino) {
		read_open_gone(w, ino);
		if (vn->ino == ino) {
			pthread_mutex_lock(&w->lock);
			w->gone[w->ngone++ % NGONE] = *vn;
			pthread_mutex_unlock(&w->lock);
		}
	}
	if (wn)
		victim_release(w, wn, gone);
	if (ino)
		pthread_mutex_unlock(gate_of(w, ino));
}

int fs_do_unlink(struct fs *fs, fuse_ino_t parent, const char *name)
{
	struct fs_write *w = fs->write;
	struct store_node vn = { 0 };
	uint64_t victim = 0;
	struct fs_wnode *wn;
	uint64_t seq0 = 0;
	store_rc rc;
	int err = 0;

	if (!w->wst)
		return EROFS;
	if (name_too_long(name))
		return ENAMETOOLONG;
	wn = victim_get(w, parent, name, &victim, &vn);
	rc = batch_begin(w, &seq0);
	if (rc == STORE_OK) {
		rc = store_unlink(w->wst, parent, name);
		err = fail(w, rc, "unlink in", parent);
		rc = batch_end(w, seq0, rc);
	}
	if (!err && rc != STORE_OK)
		err = fail(w, rc, "unlink in", parent);
	victim_done(w, wn, victim, &vn, !err);
	return err;
}

int fs_do_rmdir(struct fs *fs, fuse_ino_t parent, const char *name)
{
	struct fs_write *w = fs->write;
	uint64_t seq0 = 0;
	store_rc rc;
	int err = 0;

	if (!w->wst)
		return EROFS;
	if (name_too_long(name))
		return ENAMETOOLONG;
	rc = batch_begin(w, &seq0);
	if (rc == STORE_OK) {
		rc = store_rmdir(w->wst, parent, name);
		err = fail(w, rc, "rmdir in", parent);
		rc = batch_end(w, seq0, rc);
	}
	if (!err && rc != STORE_OK)
		err = fail(w, rc, "rmdir in", parent);
	return err;
}

int fs_do_rename(struct fs *fs, fuse_ino_t parent, const char *name,
		 fuse_ino_t newparent, const char *newname, unsigned flags)
{
	struct fs_write *w = fs->write;
	struct store_node src, dst, vn = { 0 };
	struct fs_wnode *wn = NULL;
	uint64_t victim = 0;
	bool replaces = false;
	uint64_t seq0 = 0;
	store_rc rc;
	int err = 0;

	if (!w->wst)
		return EROFS;
	/* RENAME_EXCHANGE and RENAME_WHITEOUT are not supported */
	if (flags & ~(unsigned)RENAME_NOREPLACE)
		return EINVAL;
	if (name_too_long(name) || name_too_long(newname))
		return ENAMETOOLONG;
	if (store_lookup(fs->st, parent, name, &src) == STORE_OK &&
	    store_lookup(fs->st, newparent, newname, &dst) == STORE_OK &&
	    dst.ino != src.ino && !(flags & RENAME_NOREPLACE)) {
		replaces = true;
		wn = victim_get(w, newparent, newname, &victim, &vn);
	}
	rc = batch_begin(w, &seq0);
	if (rc == STORE_OK) {
		if (flags & RENAME_NOREPLACE) {
			rc = store_lookup(w->wst, newparent, newname, &dst);
			if (rc == STORE_OK)
				rc = STORE_EXISTS;
			else if (rc == STORE_NOTFOUND)
				rc = STORE_OK;
		}
		if (rc == STORE_OK)
			rc = store_rename(w->wst, parent, name, newparent,
					  newname);
		err = fail(w, rc, "rename in", parent);
		rc = batch_end(w, seq0, rc);
	}
	if (!err && rc != STORE_OK)
		err = fail(w, rc, "rename in", parent);
	victim_done(w, wn, victim, &vn, replaces && !err);
	return err;
}

int fs_do_statfs(struct fs *fs, struct statvfs *sv)
{
	struct fs_write *w = fs->write;
	struct store_totals t;
	struct statvfs cv;
	store_rc rc;

	rc = store_totals(fs->st, &t);
	if (rc != STORE_OK)
		return fail(w, rc, "statfs of", FUSE_ROOT_ID);
	memset(sv, 0, sizeof(*sv));
	/* written files wait in the staging area: its room is ours */
	if (statvfs(fs_cache_dir(fs->cache), &cv) == 0) {
		sv->f_bsize = cv.f_bsize;
		sv->f_frsize = cv.f_frsize;
		sv->f_blocks = cv.f_blocks;
		sv->f_bfree = cv.f_bfree;
		sv->f_bavail = cv.f_bavail;
		sv->f_ffree = cv.f_ffree;
		sv->f_favail = cv.f_favail;
	} else {
		sv->f_bsize = sv->f_frsize = 4096;
		sv->f_blocks = (t.logical_bytes + 4095) / 4096;
	}
	if (w->wst == NULL)
		sv->f_bfree = sv->f_bavail = 0;
	sv->f_files = t.files + t.dirs + t.symlinks + sv->f_ffree;
	sv->f_namemax = STORE_NAME_MAX;
	return 0;
}

/* ---- futures and evict-on-read ---------------------------------------- */

int fs_write_wait_future(struct fs *fs, struct store_node *n)
{
	char label[LABEL_MAX];
	store_rc rc;

	fs_inode_path(fs->st, n->ino, label, sizeof(label));
	/* sleeps between polls without holding the store */
	rc = store_wait_node(fs->st, n->ino, NULL, label, n);
	if (rc == STORE_OK)
		return 0;
	if (rc == STORE_TIMEDOUT) {
		store_log(STORE_LOG_NOTICE, "open: %s", store_last_error());
		return ETIMEDOUT;
	}
	return fail(fs->write, rc, "wait for", n->ino);
}

void fs_write_object_complete(void *arg, const char *key, uint64_t ino)
{
	struct fs *fs = arg;
	char label[LABEL_MAX];
	store_rc rc;

	if (!store_is_evict_on_read(fs->st, key))
		return;
	fs_inode_path(fs->st, ino, label, sizeof(label));
	/* a second call (the object was fetched again) finds it evicted
	 * and does nothing */
	rc = store_evicted_after_read(fs->st, key);
	if (rc == STORE_OK)
		store_log(STORE_LOG_INFO, "'%s' (key %s) evicted from the "
			  "store after its first read (evict-on-read); this "
			  "mount keeps its copy", label, key);
	else
		store_log(STORE_LOG_WARNING, "cannot evict '%s' (key %s) after"
			  " its first read: %s", label, key,
			  store_last_error());
}

/* ---- the watcher ------------------------------------------------------ */

/* Sleep @ms or until stopping; returns true when stopping. */
static bool nap(struct fs_write *w, unsigned ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->stop_lock);
	while (!w->stopping &&
	       pthread_cond_timedwait(&w->stop_cond, &w->stop_lock, &ts) == 0)
		;
	stop = w->stopping;
	pthread_mutex_unlock(&w->stop_lock);
	return stop;
}

struct collect {
	struct change *c;
	size_t n, cap;
};

/* store_changes() callback: runs with the store locked, so it only copies. */
static int collect_one(void *arg, uint64_t ino, uint64_t parent,
		       const char *name)
{
	struct collect *k = arg;
	struct change *c = &k->c[k->n++];

	c->ino = ino;
	c->parent = parent;
	snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
	return k->n == k->cap;
}

/* Was change @seq made by this mount?  Forgets ranges at or below @upto. */
static bool is_own(struct fs_write *w, uint64_t seq)
{
	bool own = false;

	pthread_mutex_lock(&w->own_lock);
	for (size_t i = 0; i < w->nown && !own; i++)
		own = seq >= w->own[i].lo && seq <= w->own[i].hi;
	pthread_mutex_unlock(&w->own_lock);
	return own;
}

static void own_prune(struct fs_write *w, uint64_t upto)
{
	size_t i = 0, j = 0;

	pthread_mutex_lock(&w->own_lock);
	for (; i < w->nown; i++)
		if (w->own[i].hi > upto)
			w->own[j++] = w->own[i];
	w->nown = j;
	pthread_mutex_unlock(&w->own_lock);
}

static void inval(struct fs_write *w, uint64_t ino, uint64_t parent,
		  const char *name)
{
	struct store_node n;

	/* first our cache: the kernel asks again as soon as it is told */
	fs_inode_attr_inval(w->fs->inodes, ino, parent, name);
	/* ENOENT (the kernel does not know it) is the common answer */
	if (parent && name[0])
		(void)fuse_lowlevel_notify_inval_entry(w->se, parent, name,
						       strlen(name));
	/* a node that is gone keeps its attributes in the kernel: files
	 * still open on it go on reading (no getattr that would fail) */
	if (store_getattr(w->fs->st, ino, &n) == STORE_OK)
		(void)fuse_lowlevel_notify_inval_inode(w->se, ino, 0, 0);
}

/* Changes were trimmed before we saw them: whatever the kernel holds may
 * be stale. */
static void inval_everything(struct fs_write *w)
{
	struct store_node n;
	uint64_t *inos = NULL;
	size_t count = 0;

	fs_inode_attr_clear(w->fs->inodes);
	if (fs_inode_snapshot(w->fs->inodes, &inos, &count) != 0)
		return;
	store_log(STORE_LOG_NOTICE, "lost track of the store's changes: "
		  "invalidating the %zu inodes the kernel holds", count);
	for (size_t i = 0; i < count; i++) {
		if (store_getattr(w->fs->st, inos[i], &n) == STORE_OK)
			inval(w, n.ino, n.parent, n.name);
		else
			inval(w, inos[i], 0, "");
	}
	(void)fuse_lowlevel_notify_inval_inode(w->se, FUSE_ROOT_ID, 0, 0);
	free(inos);
}

static void *watcher(void *arg)
{
	struct fs_write *w = arg;
	struct collect k = { NULL, 0, WATCH_BATCH };
	uint64_t seen = 0, last;
	bool quick = false;
	store_rc rc;

	k.c = malloc(WATCH_BATCH * sizeof(*k.c));
	if (!k.c) {
		store_log(STORE_LOG_ERR, "change watcher: out of memory");
		return NULL;
	}
	if (store_change_seq(w->fs->st, &seen) != STORE_OK)
		store_log(STORE_LOG_WARNING, "change watcher: %s",
			  store_last_error());
	while (!nap(w, quick ? 0 : WATCH_MS)) {
		k.n = 0;
		rc = store_changes(w->fs->st, seen, collect_one, &k, &last);
		if (rc == STORE_NOTFOUND) {
			inval_everything(w);
			if (store_change_seq(w->fs->st, &seen) != STORE_OK)
				seen = 0;
			own_prune(w, seen);
			quick = false;
			continue;
		}
		if (rc != STORE_OK) {
			store_log(STORE_LOG_WARNING, "change watcher: %s",
				  store_last_error());
			quick = false;
			continue;
		}
		/* numbers are consecutive; if not, ours cannot be told
		 * apart: invalidate them all */
		bool exact = last == seen + k.n;

		const struct change *prev = NULL;

		for (size_t i = 0; i < k.n; i++) {
			const struct change *c = &k.c[i];

			if (exact && is_own(w, seen + 1 + i))
				continue;
			/* the same again right after: once is enough */
			if (prev && c->ino == prev->ino &&
			    c->parent == prev->parent &&
			    !strcmp(c->name, prev->name))
				continue;
			inval(w, c->ino, c->parent, c->name);
			prev = c;
		}
		seen = last;
		own_prune(w, seen);
		quick = k.n == k.cap;	/* more are waiting */
	}
	free(k.c);
	return NULL;
}

/* Ends due leases, evicts what the gc lock deferred (another process was
 * writing as this mount dropped an object) and trims the change log, on
 * the write handle. */
static void *janitor(void *arg)
{
	struct fs_write *w = arg;
	unsigned since_expire = 0, since_trim = 0;
	uint64_t ended = 0;

	while (!nap(w, EVICT_MS)) {
		pthread_mutex_lock(&w->wlock);
		/* busy again: the next tick tries again */
		store_evict_pending(w->wst, 0);
		since_expire += EVICT_MS;
		if (since_expire >= EXPIRE_MS) {
			since_expire = 0;
			if (store_lifetime_expire(w->wst, &ended) != STORE_OK)
				store_log(STORE_LOG_WARNING, "cannot end due "
					  "leases: %s", store_last_error());
			since_trim += EXPIRE_MS;
		}
		if (since_trim >= TRIM_MS) {
			since_trim = 0;
			if (store_changes_trim(w->wst, TRIM_KEEP) != STORE_OK)
				store_log(STORE_LOG_WARNING, "cannot trim the "
					  "change log: %s", store_last_error());
		}
		pthread_mutex_unlock(&w->wlock);
	}
	return NULL;
}

/* ---- life ------------------------------------------------------------- */

/* Staged files of an earlier run: said once, kept (they are data). */
static void note_leftovers(const char *dir)
{
	struct dirent *d;
	long n = 0;
	DIR *dp;

	dp = opendir(dir);
	if (!dp)
		return;
	while ((d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			n++;
	closedir(dp);
	if (n > 0)
		store_log(STORE_LOG_NOTICE, "staging directory '%s' holds %ld "
			  "file(s) of earlier writes that were not stored",
			  dir, n);
}

int fs_write_start(struct fs *fs, struct fuse_session *se, const char *store,
		   bool read_only)
{
	struct fs_write *w;
	pthread_condattr_t ca;
	size_t len;
	store_rc rc;
	int err;

	assert(!fs->write);
	w = calloc(1, sizeof(*w));
	if (!w) {
		store_log(STORE_LOG_ERR, "out of memory");
		return 1;
	}
	w->fs = fs;
	w->se = se;
	pthread_mutex_init(&w->wlock, NULL);
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->own_lock, NULL);
	pthread_mutex_init(&w->stop_lock, NULL);
	for (size_t i = 0; i < NGATES; i++)
		pthread_mutex_init(&w->gates[i], NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->stop_cond, &ca);
	pthread_condattr_destroy(&ca);
	fs->write = w;
	len = strlen(fs_cache_dir(fs->cache)) + sizeof(STAGING_DIR) + 1;
	w->staging = malloc(len);
	if (!w->staging) {
		store_log(STORE_LOG_ERR, "out of memory");
		return 1;
	}
	snprintf(w->staging, len, "%s/%s", fs_cache_dir(fs->cache),
		 STAGING_DIR);
	note_leftovers(w->staging);
	if (!read_only) {
		rc = store_open(store, 0, &w->wst);
		if (rc != STORE_OK) {
			store_log(STORE_LOG_NOTICE, "cannot open store '%s' for "
				  "writing (%s): serving it read-only", store,
				  store_last_error());
			w->wst = NULL;
		}
	}
	err = pthread_create(&w->watcher, NULL, watcher, w);
	if (err) {
		store_log(STORE_LOG_ERR, "cannot start the change watcher: %s",
			  strerror(err));
		return 1;
	}
	w->watching = true;
	if (w->wst) {
		err = pthread_create(&w->janitor, NULL, janitor, w);
		if (err) {
			store_log(STORE_LOG_ERR, "cannot start the lease "
				  "janitor: %s", strerror(err));
			return 1;
		}
		w->cleaning = true;
	}
	return 0;
}

/*
 * The mount stops (SIGTERM, or the kernel went) with @wn still open for
 * writing.  A file a create here made and no close stored is no stored
 * file: remove its placeholder, which a reader elsewhere would otherwise
 * wait for until its timeout, and keep what was written in the staging
 * directory, named in the log; unless a write to it failed: such bytes are
 * never stored, so they go too.  Anything else is left to wnode_put(),
 * which keeps and names the staged bytes and leaves the stored object.
 */
static void abandon(struct fs_write *w, struct fs_wnode *wn)
{
	char label[LABEL_MAX], why[1024] = "";
	struct store_node n;
	uint64_t seq0;
	store_rc rc;

	pthread_mutex_lock(&wn->lock);
	if (!wn->created || !(wn->dirty || wn->broken) || wn->gone ||
	    wn->fd < 0 || !w->wst)
		goto out;
	label_of(w, wn->ino, label, sizeof(label));
	rc = batch_begin(w, &seq0);
	if (rc == STORE_OK) {
		rc = store_getattr(w->wst, wn->ino, &n);
		/* fulfilled meanwhile (pxfs set): not ours to remove */
		if (rc == STORE_OK && !(n.flags & STORE_NODE_PENDING))
			rc = STORE_NOTFOUND;
		if (rc == STORE_OK)
			rc = store_unlink(w->wst, n.parent, n.name);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			snprintf(why, sizeof(why), "%s", store_last_error());
		rc = batch_end(w, seq0, rc);
	}
	/* not removed here: wnode_put() says where the bytes are */
	if (rc == STORE_NOTFOUND)
		goto out;
	if (rc != STORE_OK) {
		store_log(STORE_LOG_ERR, "cannot remove the placeholder of "
			  "'%s': %s", label, why[0] ? why :
			  store_last_error()[0] ? store_last_error() :
			  store_rc_str(rc));
		goto out;
	}
	if (wn->broken) {
		store_log(STORE_LOG_WARNING, "'%s' was open for writing when "
			  "the mount stopped: it is not stored, because a "
			  "write failed (%s)", label, strerror(wn->broken));
		unstage(wn);
		wn->dirty = false;
		wn->created = false;
		goto out;
	}
	store_log(STORE_LOG_WARNING, "'%s' was open for writing when the mount "
		  "stopped: it is not stored, and the %llu bytes written to it "
		  "stay in '%s'", label, (unsigned long long)wn->size,
		  wn->path);
	/* kept, not unstaged: wnode_put() sees nothing left to do */
	close(wn->fd);
	wn->fd = -1;
	free(wn->path);
	wn->path = NULL;
	wn->dirty = false;
	wn->created = false;
out:
	pthread_mutex_unlock(&wn->lock);
}

/* abandon() every file still open for writing; nothing else runs. */
static void abandon_all(struct fs_write *w)
{
	struct fs_wnode **list;
	size_t n = 0, cap;

	pthread_mutex_lock(&w->lock);
	cap = atomic_load(&w->nodes);
	list = cap ? calloc(cap, sizeof(*list)) : NULL;
	for (size_t i = 0; list && i < NBUCKETS; i++)
		for (struct fs_wnode *wn = w->buckets[i]; wn && n < cap;
		     wn = wn->next) {
			wn->refs++;
			list[n++] = wn;
		}
	pthread_mutex_unlock(&w->lock);
	if (cap && !list)
		store_log(STORE_LOG_ERR, "out of memory: files open for "
			  "writing keep their placeholders");
	for (size_t i = 0; i < n; i++) {
		abandon(w, list[i]);
		wnode_put(w, list[i]);
	}
	free(list);
}

void fs_write_stop(struct fs *fs)
{
	struct fs_write *w = fs->write;

	if (!w)
		return;
	pthread_mutex_lock(&w->stop_lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->stop_cond);
	pthread_mutex_unlock(&w->stop_lock);
	if (w->watching)
		pthread_join(w->watcher, NULL);
	if (w->cleaning)
		pthread_join(w->janitor, NULL);
	w->watching = w->cleaning = false;
	abandon_all(w);
}

void fs_write_free(struct fs_write *w)
{
	if (!w)
		return;
	assert(!w->watching && !w->cleaning);
	/* handles the kernel never released (it went away): what is not
	 * stored stays staged, and the log says where */
	for (size_t i = 0; i < NBUCKETS; i++) {
		while (w->buckets[i]) {
			struct fs_wnode *wn = w->buckets[i];

			wn->refs = 1;
			wnode_put(w, wn);
		}
	}
	while (w->handles) {
		struct fs_hlink *l = w->handles;

		w->handles = l->next;
		free((char *)l - offsetof(struct fs_whandle, link));
	}
	for (size_t i = 0; i < NBUCKETS; i++) {
		while (w->ropen[i]) {
			struct fs_ropen *r = w->ropen[i];

			w->ropen[i] = r->next;
			free(r);
		}
	}
	store_close(w->wst);
	free(w->own);
	free(w->staging);
	pthread_cond_destroy(&w->stop_cond);
	pthread_mutex_destroy(&w->stop_lock);
	pthread_mutex_destroy(&w->own_lock);
	for (size_t i = 0; i < NGATES; i++)
		pthread_mutex_destroy(&w->gates[i]);
	pthread_mutex_destroy(&w->lock);
	pthread_mutex_destroy(&w->wlock);
	free(w);
}
