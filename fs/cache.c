/* SPDX-License-Identifier: MIT */
/*
 * cache.c - objects cached chunk by chunk in sparse files: single flight
 * per chunk, readahead and resolves on worker threads, a byte budget with
 * LRU eviction of whole objects, and reuse across restarts.
 *
 * Every object the cache knows is an entry in a hash table keyed by the
 * object key.  An entry learns its shape (size, chunk size, chunk count)
 * from the index on first use and then keeps one state byte per chunk:
 *
 *   ABSENT  not in the cache file;
 *   DISK    in the file according to a map (or a whole file) found at
 *           start, not checked yet in this run;
 *   BUSY    one thread is fetching it (or checking a DISK chunk); the
 *           others that want it sleep on c->done;
 *   MEM     fetched and verified, in memory (a dirty hot chunk) and
 *           queued for a writer thread to put in the file -- or, for an
 *           object kept in memory only, a clean hot chunk, ABSENT again
 *           when memory lets it go;
 *   READY   in the file and verified in this run.
 *
 * A chunk goes READY only after its bytes were written to the file, so a
 * reader that finds READY chunks covering its range may reply from the fd
 * at once.  READY chunks never go back while the entry is held, which is
 * what lets readers splice from the fd without holding anything else.  A
 * MEM chunk is served from memory only, by a reader that pins it in the
 * same hold of the lock where it found it MEM (the write pins it too, so
 * it cannot go while dirty); readers that need the file wait for READY.
 * Writing behind the readers takes the disk write -- which costs a cold
 * read as much time as fetching the blob -- off their path: the fetch
 * of the next chunks and the replies go on while the disk catches up, up
 * to DIRTY_MAX_BYTES behind.  A failed write makes the chunk ABSENT
 * again, and only the presence of chunks on the disk is ever saved in a
 * map.
 *
 * refs counts the holders: open files, waiters, worker jobs.  While refs >
 * 0 an entry has an open fd and is never evicted; at refs 0 it sits on the
 * LRU list (its map saved), and eviction takes from the list's head until
 * the bytes held fit the budget.  The bytes of a fetch are reserved (and
 * room made) before it starts, so concurrent fetches cannot overshoot
 * together.  The fetch itself runs without the lock: the BUSY state keeps
 * the others away from the chunk.
 *
 * Files: <key> for a complete object, <key>.part (sparse) plus <key>.map
 * for a partial one.  The map is written (temp, rename; no fsync) when an
 * entry goes idle and at close; since every chunk a map claims is checked
 * against the index's digest before it is served, a stale or torn map
 * after a crash costs a fetch, never a wrong byte.  Temporaries (".tmp.")
 * left by a crash are removed at start, which is safe because the
 * directory is locked (flock on ".lock") by one daemon.
 *
 * Memory only (fs_cache_set_memory()): for a store on a local disk a
 * second, decompressed copy of an object on the same disk buys nothing --
 * fetching a chunk again from the blob costs less disk time than reading
 * it back, and writing the copy costs a cold read about 40% of its time.
 * Such a mount keeps what it fetches in memory only, where the replies
 * come from; the kernel's page cache (keep_cache) serves the reads after
 * that, and a chunk the kernel dropped is fetched again.  An object still
 * gets a disk copy where it needs one: evict-on-read (its blob goes after
 * the first read), a `pxfs resolve` (asked for), one already cached, an
 * object unlinked while open (to_disk()).
 *
 * Workers take chunks from a queue of jobs (a range of chunks of a held
 * object): readahead for sequential readers goes first, resolves
 * (fs_cache_resolve_async) after.  Two workers on one job fetch and
 * decompress two chunks at once, which is how a cold sequential read uses
 * every core while the reader is served.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "cache.h"
#include "inode.h"

#define NWORKERS_MIN	4		/* worker threads, at least */
#define NWORKERS_MAX	16
#define NWORKERS_CPU	2		/* per CPU: a fetch waits for I/O
					   about half of the time */
#define HASH_MIN	256		/* buckets; a power of two */
#define PATH_LABEL	1024		/* room for a node's path in messages */
#define RA_MIN		2		/* chunks ahead at the first sequential
					   read */
#define RA_MAX_BYTES	(32u << 20)	/* at most this far ahead */
#define RA_SLACK_BYTES	(8u << 20)	/* reads this far from where the
					   last one ended still count as
					   sequential: the kernel has several
					   in flight, which come out of order */
#define BUFS_KEPT	12		/* idle chunk buffers kept */
#define DIO_ALIGN	4096		/* O_DIRECT buffer, offset and size */
#define HOT_MAX_BYTES	(64u << 20)	/* chunks kept in memory after a
					   fetch, for the readers to come */
#define DIRTY_MAX_BYTES	(128u << 20)	/* fetched chunks waiting to be
					   written; fetches wait above */
#define NWRITERS	4		/* threads writing fetched chunks: the
					   disk writes faster with several in
					   flight */
#define MAP_MAGIC	"PXFSMAP1"
#define MAP_HDR		24		/* magic, u64 size, u32 chunk, u32 n */
#define MAP_MAX_CHUNKS	(1u << 27)	/* zstd's frame limit */

enum chunk_state {
	CH_ABSENT = 0,
	CH_DISK,
	CH_BUSY,
	CH_READY,
	CH_MEM,
};

struct fs_cache_obj {
	struct fs_cache_obj *hnext;	/* hash chain; protected by c->lock */
	struct fs_cache_obj *prev;	/* LRU links, on the list iff refs == 0;
					   protected by c->lock */
	struct fs_cache_obj *next;
	char key[STORE_KEY_HEX + 1];	/* immutable */
	/* the rest is protected by c->lock */
	unsigned refs;			/* holders */
	bool checked;			/* shape checked against the index */
	bool shaping;			/* a thread is asking the index */
	bool whole;			/* the file is <key>, not <key>.part */
	bool map_dirty;			/* presence changed since the map */
	bool fetched;			/* this run fetched some of it */
	bool hooked;			/* the complete hook was called */
	bool reused;			/* counted in stats.reused */
	bool bad_logged;		/* "cached copy is bad" said once */
	bool nospc;			/* a cache write failed: drop when idle */
	bool err_logged;		/* a failed fetch was said; the next
					   are not, until the object is idle */
	bool mem;			/* memory only (see fs_cache_set_memory):
					   CH_MEM is a clean hot chunk, the
					   file is not used */
	bool ra_on;			/* memory only: a reader has chunks
					   ahead of it; counted in c->nra */
	uint64_t size;			/* content bytes (from the index once
					   checked; before, from the files) */
	uint32_t chunk_size;
	uint32_t nchunks;
	uint8_t *cs;			/* chunk states, nchunks of them; NULL
					   while the shape is unknown */
	uint32_t npresent;		/* chunks DISK or READY (or BUSY being
					   checked) */
	uint32_t nmem;			/* chunks MEM: writes pending */
	uint64_t bytes;			/* bytes in c->stats.bytes */
	int fd;				/* the file, while refs > 0, else -1 */
	int wfd;			/* the same with O_DIRECT, for writing
					   chunks, or -1 (same rule) */
	struct hot *hot;		/* chunks in memory, while refs > 0 */
	int err;			/* errno of the last failed fetch */
	uint64_t fails;			/* failed fetches, for waiters */
	int64_t mtime;			/* file time at start, for LRU order */
	char *label;			/* a node's path, for messages */
};

/* A range of chunks of a held object for the workers. */
struct job {
	struct job *next;
	struct fs_cache_obj *o;		/* held by the job; NULL for a resolve
					   not started yet */
	char key[STORE_KEY_HEX + 1];	/* a resolve not started: the object */
	uint64_t size;
	uint64_t ino;			/* names the object in messages */
	uint32_t next_chunk;		/* next chunk to take */
	uint32_t end;			/* chunks below this */
	unsigned users;			/* workers on a chunk of it */
	bool queued;			/* still on the queue */
	bool ahead;			/* readahead (else a resolve) */
};

/* An idle chunk buffer: this header, then at DIO_ALIGN cap bytes. */
struct buf {
	struct buf *next;
	size_t cap;
};

/*
 * A READY chunk still in memory after its fetch.  Chunks are written to
 * the file with O_DIRECT (see ensure_fd), so the page cache does not
 * have them: the readers that come soon after (the one that asked, and
 * those that readahead ran for) are served from here instead of reading
 * the chunk back from the disk.
 */
struct hot {
	struct hot *next;		/* the object's list */
	struct hot *lprev, *lnext;	/* the cache's list, oldest first */
	struct hot *wnext;		/* the write queue, while queued */
	struct fs_cache_obj *o;		/* NULL: idle now, freed at unpin */
	uint32_t idx;
	uint32_t len;
	unsigned pins;			/* replies in progress, and the write
					   while dirty */
	bool dirty;			/* CH_MEM: not on the disk yet */
	bool unread;			/* memory only: fetched ahead, and no
					   reader was served its end yet */
	uint64_t ino;			/* names the object, for the hook */
	void *buf;			/* from buf_get() */
};

static size_t dio_round(size_t n)
{
	return (n + DIO_ALIGN - 1) & ~(size_t)(DIO_ALIGN - 1);
}

struct fs_cache {
	char *dir;			/* absolute; immutable */
	int dirfd;			/* immutable */
	int lockfd;			/* holds the flock; immutable */
	struct store *st;		/* set once by fs_cache_start() */
	uint64_t budget;		/* immutable */
	bool memory;			/* set before start: objects that need
					   no disk copy get none */
	fs_cache_complete_fn hook;	/* set before start */
	void *hook_arg;

	pthread_mutex_t lock;
	pthread_cond_t done;		/* a BUSY chunk or a shaping entry
					   changed state */
	struct fs_cache_obj **buckets;	/* protected by lock */
	size_t nbuckets;		/* protected by lock */
	uint64_t nobjs;			/* entries; protected by lock */
	uint64_t nheld;			/* entries with refs > 0; ditto */
	struct fs_cache_obj lru;	/* sentinel: next is the oldest;
					   protected by lock */
	struct fs_cache_stats stats;	/* protected by lock */

	pthread_cond_t work;		/* jobs queued or stopping */
	struct job *jobs;		/* readahead first; protected by lock */
	struct job *jobs_ahead_tail;	/* last readahead job, or NULL */
	struct job *jobs_tail;		/* protected by lock */
	bool stopping;			/* protected by lock */
	pthread_t workers[NWORKERS_MAX];
	int nworkers;

	pthread_mutex_t buflock;
	struct buf *bufs;		/* protected by buflock */
	unsigned nbufs;			/* protected by buflock */

	struct hot hot;			/* sentinel of the hot list; protected
					   by lock */
	uint64_t hot_bytes;		/* protected by lock */
	uint64_t dirty_bytes;		/* of those, dirty; protected by lock */
	uint32_t nra;			/* memory-only objects read ahead
					   (ra_on); protected by lock */

	pthread_cond_t wwork;		/* writes queued or stopping */
	pthread_cond_t wdone;		/* a write finished */
	struct hot *wq, *wq_tail;	/* dirty chunks to write, oldest
					   first; protected by lock */
	bool wstopping;			/* protected by lock */
	pthread_t writers[NWRITERS];
	int nwriters;
};

static uint32_t chunk_len(const struct fs_cache_obj *o, uint32_t i)
{
	uint64_t off = (uint64_t)i * o->chunk_size;

	return o->size - off < o->chunk_size ? (uint32_t)(o->size - off) :
	       o->chunk_size;
}

static bool is_complete(const struct fs_cache_obj *o)
{
	return o->whole || (o->checked && o->nchunks == 0);
}

/* ---- chunk buffers ------------------------------------------------------ */

/* A buffer of at least @need bytes, aligned for O_DIRECT. */
static void *buf_get(struct fs_cache *c, size_t need)
{
	struct buf **pp, *b = NULL;
	void *p;

	pthread_mutex_lock(&c->buflock);
	for (pp = &c->bufs; *pp; pp = &(*pp)->next) {
		if ((*pp)->cap >= need) {
			b = *pp;
			*pp = b->next;
			c->nbufs--;
			break;
		}
	}
	pthread_mutex_unlock(&c->buflock);
	if (!b) {
		need = dio_round(need);
		if (posix_memalign(&p, DIO_ALIGN, DIO_ALIGN + need) != 0)
			return NULL;
		b = p;
		b->cap = need;
	}
	return (char *)b + DIO_ALIGN;
}

static void buf_put(struct fs_cache *c, void *p)
{
	struct buf *b;

	if (!p)
		return;
	b = (struct buf *)(void *)((char *)p - DIO_ALIGN);
	pthread_mutex_lock(&c->buflock);
	if (c->nbufs < BUFS_KEPT) {
		b->next = c->bufs;
		c->bufs = b;
		c->nbufs++;
		b = NULL;
	}
	pthread_mutex_unlock(&c->buflock);
	free(b);
}

/* ---- hot chunks (all with c->lock held) -------------------------------- */

/* Hot chunk @h is let go: for an object kept in memory only, so is the
 * chunk. */
static void hot_gone(struct hot *h)
{
	struct fs_cache_obj *o = h->o;

	if (o && o->mem && o->cs[h->idx] == CH_MEM)
		o->cs[h->idx] = CH_ABSENT;
}

static void hot_unlink(struct fs_cache *c, struct hot *h)
{
	struct hot **pp;

	hot_gone(h);
	if (h->o) {
		pp = &h->o->hot;
		while (*pp != h)
			pp = &(*pp)->next;
		*pp = h->next;
	}
	h->lprev->lnext = h->lnext;
	h->lnext->lprev = h->lprev;
	c->hot_bytes -= h->len;
}

/* Bytes of clean hot chunks, which HOT_MAX_BYTES bounds. */
static uint64_t hot_clean(const struct fs_cache *c)
{
	return c->hot_bytes - c->dirty_bytes;
}

/* Keep at most HOT_MAX_BYTES of clean chunks in memory; replies in
 * progress and dirty chunks (pinned by their write) stay.  Unread chunks
 * go last: the reader they were fetched for would fetch them again (see
 * ra_share()). */
static void hot_trim(struct fs_cache *c)
{
	struct hot *h, *next;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		for (h = c->hot.lnext; h != &c->hot &&
		     hot_clean(c) > HOT_MAX_BYTES; h = next) {
			next = h->lnext;
			if (h->pins || (h->unread && pass == 0))
				continue;
			hot_unlink(c, h);
			buf_put(c, h->buf);
			free(h);
		}
	}
}

/* Keep chunk @i of @o (@len bytes at @buf, taken over) in memory;
 * @dirty: not on the disk yet (pinned by its write). */
static struct hot *hot_add(struct fs_cache *c, struct fs_cache_obj *o,
			   uint32_t i, uint32_t len, void *buf, bool dirty)
{
	struct hot *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	/* room first: the new chunk is what its fetcher is about to serve */
	hot_trim(c);
	if (dirty) {
		h->dirty = true;
		h->pins = 1;
		c->dirty_bytes += len;
	}
	h->o = o;
	h->idx = i;
	h->len = len;
	h->buf = buf;
	h->next = o->hot;
	o->hot = h;
	h->lprev = c->hot.lprev;
	h->lnext = &c->hot;
	c->hot.lprev->lnext = h;
	c->hot.lprev = h;
	c->hot_bytes += len;
	return h;
}

/* Forget hot chunk @h of its object now (freed at once, or by the last
 * unpin). */
static void hot_detach(struct fs_cache *c, struct hot *h)
{
	struct hot **pp;

	if (h->o) {
		hot_gone(h);
		pp = &h->o->hot;
		while (*pp != h)
			pp = &(*pp)->next;
		*pp = h->next;
		h->o = NULL;
	}
	if (h->pins)
		return;
	hot_unlink(c, h);
	buf_put(c, h->buf);
	free(h);
}

/*
 * Forget @o's hot chunks (it went idle).  The kernel may release a file
 * as soon as it has the reply to its last read, before that reply's
 * thread unpins: such a chunk is left to fs_cache_unpin(), detached.
 */
static void hot_drop(struct fs_cache *c, struct fs_cache_obj *o)
{
	while (o->hot) {
		struct hot *h = o->hot;

		if (h->pins) {
			hot_gone(h);
			o->hot = h->next;
			h->o = NULL;
			continue;
		}
		hot_unlink(c, h);
		buf_put(c, h->buf);
		free(h);
	}
}

/* ---- table and LRU (all with c->lock held) ---------------------------- */

static size_t key_hash(const char *key, size_t nbuckets)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */

	while (*key)
		h = (h ^ (unsigned char)*key++) * 0x100000001b3ull;
	return (size_t)(h & (nbuckets - 1));
}

static struct fs_cache_obj **find_slot(struct fs_cache *c, const char *key)
{
	struct fs_cache_obj **pp = &c->buckets[key_hash(key, c->nbuckets)];

	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->hnext;
	return pp;
}

static void grow(struct fs_cache *c)
{
	size_t n = c->nbuckets * 2, i;
	struct fs_cache_obj **b = calloc(n, sizeof(*b));

	if (!b)
		return;		/* longer chains, still correct */
	for (i = 0; i < c->nbuckets; i++) {
		struct fs_cache_obj *o = c->buckets[i];

		while (o) {
			struct fs_cache_obj *next = o->hnext;
			size_t k = key_hash(o->key, n);

			o->hnext = b[k];
			b[k] = o;
			o = next;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
}

static struct fs_cache_obj *obj_new(struct fs_cache *c, const char *key)
{
	struct fs_cache_obj *o = calloc(1, sizeof(*o));
	struct fs_cache_obj **pp;

	if (!o)
		return NULL;
	snprintf(o->key, sizeof(o->key), "%s", key);
	o->fd = -1;
	o->wfd = -1;
	pp = &c->buckets[key_hash(key, c->nbuckets)];
	o->hnext = *pp;
	*pp = o;
	if (++c->nobjs > c->nbuckets)
		grow(c);
	return o;
}

static void obj_free(struct fs_cache *c, struct fs_cache_obj *o)
{
	struct fs_cache_obj **pp = find_slot(c, o->key);

	assert(*pp == o && o->refs == 0 && o->fd < 0);
	*pp = o->hnext;
	c->nobjs--;
	free(o->cs);
	free(o->label);
	free(o);
}

static bool on_lru(const struct fs_cache_obj *o)
{
	return o->next != NULL;
}

static void lru_remove(struct fs_cache_obj *o)
{
	o->prev->next = o->next;
	o->next->prev = o->prev;
	o->prev = o->next = NULL;
}

static void lru_append(struct fs_cache *c, struct fs_cache_obj *o)
{
	o->prev = c->lru.prev;
	o->next = &c->lru;
	c->lru.prev->next = o;
	c->lru.prev = o;
}

static void unlink_name(struct fs_cache *c, const char *key, const char *ext)
{
	char name[STORE_KEY_HEX + 8];

	snprintf(name, sizeof(name), "%s%s", key, ext);
	if (unlinkat(c->dirfd, name, 0) < 0 && errno != ENOENT)
		store_log(STORE_LOG_WARNING, "cannot remove '%s/%s': %s",
			  c->dir, name, strerror(errno));
}

/* Remove @o's files and forget what they held (its chunks go ABSENT). */
static void drop_files(struct fs_cache *c, struct fs_cache_obj *o)
{
	unlink_name(c, o->key, "");
	unlink_name(c, o->key, ".part");
	unlink_name(c, o->key, ".map");
	c->stats.bytes -= o->bytes;
	o->bytes = 0;
	o->whole = false;
	o->npresent = 0;
	o->map_dirty = false;
	if (o->cs)
		memset(o->cs, CH_ABSENT, o->nchunks);
}

/* Remove the oldest idle object from disk and from the table. */
static bool evict_oldest(struct fs_cache *c)
{
	struct fs_cache_obj *o = c->lru.next;

	if (o == &c->lru)
		return false;
	assert(o->refs == 0);
	lru_remove(o);
	drop_files(c, o);
	c->stats.evictions++;
	obj_free(c, o);
	return true;
}

/* Evict until @need more bytes fit the budget (or nothing idle is left). */
static void make_room(struct fs_cache *c, uint64_t need)
{
	while (c->stats.bytes + need > c->budget && evict_oldest(c))
		;
}

static void hold(struct fs_cache *c, struct fs_cache_obj *o)
{
	if (o->refs++ == 0)
		c->nheld++;
	if (on_lru(o))
		lru_remove(o);
}

/* Save @o's presence map (with c->lock held; @o idle or held). */
static void map_save(struct fs_cache *c, struct fs_cache_obj *o)
{
	char tmp[STORE_KEY_HEX + 16], name[STORE_KEY_HEX + 8];
	size_t nb = ((size_t)o->nchunks + 7) / 8, len = MAP_HDR + nb, i;
	unsigned char *m;
	int fd;

	if (!o->map_dirty || o->whole || !o->cs)
		return;
	m = calloc(1, len);
	if (!m)
		return;		/* the chunks are fetched again next run */
	memcpy(m, MAP_MAGIC, 8);
	for (i = 0; i < 8; i++)
		m[8 + i] = (unsigned char)(o->size >> (8 * i));
	for (i = 0; i < 4; i++) {
		m[16 + i] = (unsigned char)(o->chunk_size >> (8 * i));
		m[20 + i] = (unsigned char)(o->nchunks >> (8 * i));
	}
	for (i = 0; i < o->nchunks; i++)
		if (o->cs[i] == CH_DISK || o->cs[i] == CH_READY)
			m[MAP_HDR + i / 8] |= (unsigned char)(1u << (i % 8));
	snprintf(tmp, sizeof(tmp), ".tmp.%s.map", o->key);
	snprintf(name, sizeof(name), "%s.map", o->key);
	fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
	if (fd >= 0 && write(fd, m, len) == (ssize_t)len && close(fd) == 0) {
		fd = -1;
		if (renameat(c->dirfd, tmp, c->dirfd, name) == 0)
			o->map_dirty = false;
	}
	if (fd >= 0)
		close(fd);
	if (o->map_dirty) {
		store_log(STORE_LOG_WARNING, "cannot save the chunk map of key "
			  "%s in '%s': %s", o->key, c->dir, strerror(errno));
		unlinkat(c->dirfd, tmp, 0);
	}
	free(m);
}

/* Drop one hold; at zero, park the object on the LRU list (closing its
 * fd: idle objects cost no descriptor) or forget it if nothing of it is
 * cached. */
static void unhold(struct fs_cache *c, struct fs_cache_obj *o)
{
	assert(o->refs > 0);
	if (--o->refs > 0)
		return;
	c->nheld--;
	o->err_logged = false;
	if (o->ra_on) {
		o->ra_on = false;
		c->nra--;
	}
	hot_drop(c, o);
	if (o->fd >= 0) {
		close(o->fd);
		o->fd = -1;
	}
	if (o->wfd >= 0) {
		close(o->wfd);
		o->wfd = -1;
	}
	if (o->nospc) {
		/* the disk filled up under it: leave nothing partial */
		o->nospc = false;
		drop_files(c, o);
	}
	if (o->cs && o->npresent == 0 && !is_complete(o)) {
		if (!o->mem)
			drop_files(c, o);
		obj_free(c, o);
		return;
	}
	map_save(c, o);
	lru_append(c, o);
	make_room(c, 0);
}

/* ---- opening the directory -------------------------------------------- */

static int mkdirs(const char *dir)
{
	char *p = strdup(dir), *s;
	int rc = 0;

	if (!p)
		return ENOMEM;
	for (s = p + 1; ; s++) {
		char ch = *s;

		if (ch != '/' && ch != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			rc = errno;
			break;
		}
		*s = ch;
		if (ch == '\0')
			break;
	}
	free(p);
	return rc;
}

static int cmp_mtime(const void *a, const void *b)
{
	const struct fs_cache_obj *x = *(struct fs_cache_obj *const *)a;
	const struct fs_cache_obj *y = *(struct fs_cache_obj *const *)b;

	return (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

static bool valid_shape(uint64_t size, uint32_t chunk, uint64_t n)
{
	if (chunk < STORE_CHUNK_MIN || chunk > STORE_CHUNK_MAX ||
	    (chunk & (chunk - 1)))
		return false;
	return n <= MAP_MAX_CHUNKS && n == (size + chunk - 1) / chunk;
}

static uint64_t le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | p[n];
	return v;
}

/* Load <key>.map into partial entry @o (shape and DISK chunks). */
static bool map_load(struct fs_cache *c, struct fs_cache_obj *o)
{
	char name[STORE_KEY_HEX + 8];
	unsigned char hdr[MAP_HDR], *bits = NULL;
	uint64_t size, n;
	uint32_t chunk, i;
	size_t nb;
	bool ok = false;
	int fd;

	snprintf(name, sizeof(name), "%s.map", o->key);
	fd = openat(c->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	if (read(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
	    memcmp(hdr, MAP_MAGIC, 8) != 0)
		goto out;
	size = le(hdr + 8, 8);
	chunk = (uint32_t)le(hdr + 16, 4);
	n = le(hdr + 20, 4);
	if (!valid_shape(size, chunk, n) || n == 0)
		goto out;
	nb = ((size_t)n + 7) / 8;
	bits = malloc(nb);
	o->cs = calloc(n, 1);
	if (!bits || !o->cs ||
	    pread(fd, bits, nb, MAP_HDR) != (ssize_t)nb)
		goto out;
	o->size = size;
	o->chunk_size = chunk;
	o->nchunks = (uint32_t)n;
	for (i = 0; i < o->nchunks; i++) {
		if (bits[i / 8] & (1u << (i % 8))) {
			o->cs[i] = CH_DISK;
			o->npresent++;
			o->bytes += chunk_len(o, i);
		}
	}
	ok = o->npresent > 0;
out:
	if (!ok) {
		free(o->cs);
		o->cs = NULL;
		o->npresent = 0;
		o->bytes = 0;
	}
	free(bits);
	close(fd);
	return ok;
}

/* What a name in the directory is: 0 a whole object, 1 a partial one's
 * data, 2 its map, -1 something else.  *key gets the key. */
static int name_kind(const char *name, char key[STORE_KEY_HEX + 1])
{
	size_t n = strlen(name);

	if (n < STORE_KEY_HEX)
		return -1;
	memcpy(key, name, STORE_KEY_HEX);
	key[STORE_KEY_HEX] = '\0';
	if (!store_is_key(key))
		return -1;
	if (n == STORE_KEY_HEX)
		return 0;
	if (strcmp(name + STORE_KEY_HEX, ".part") == 0)
		return 1;
	if (strcmp(name + STORE_KEY_HEX, ".map") == 0)
		return 2;
	return -1;
}

static int scan_pass(struct fs_cache *c, int pass,
		     struct fs_cache_obj ***found, size_t *nfound,
		     size_t *cap)
{
	char key[STORE_KEY_HEX + 1];
	struct dirent *d;
	DIR *dp;
	int fd, rc = 0;

	fd = dup(c->dirfd);
	if (fd < 0)
		return errno;
	dp = fdopendir(fd);
	if (!dp) {
		rc = errno;
		close(fd);
		return rc;
	}
	rewinddir(dp);
	while (rc == 0 && (d = readdir(dp))) {
		struct fs_cache_obj *o;
		struct stat sb;
		int kind;

		if (pass == 0 && strncmp(d->d_name, ".tmp.", 5) == 0) {
			/* a write cut short by a crash: never whole */
			unlinkat(c->dirfd, d->d_name, 0);
			continue;
		}
		kind = name_kind(d->d_name, key);
		if (kind < 0)
			continue;
		if (fstatat(c->dirfd, d->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0
		    || !S_ISREG(sb.st_mode))
			continue;
		o = *find_slot(c, key);
		if (pass == 2) {
			/* maps: only a partial object's own is kept */
			if (kind == 2 && (!o || o->whole))
				unlinkat(c->dirfd, d->d_name, 0);
			continue;
		}
		if ((pass == 0 && kind != 0) || (pass == 1 && kind != 1))
			continue;
		if (pass == 1 && o) {
			/* whole already: the partial is a leftover */
			unlinkat(c->dirfd, d->d_name, 0);
			continue;
		}
		if (*nfound == *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			void *n = realloc(*found, ncap * sizeof(**found));

			if (!n) {
				rc = ENOMEM;
				break;
			}
			*found = n;
			*cap = ncap;
		}
		o = obj_new(c, key);
		if (!o) {
			rc = ENOMEM;
			break;
		}
		o->mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
			   sb.st_mtim.tv_nsec;
		if (pass == 0) {
			o->whole = true;
			o->size = (uint64_t)sb.st_size;
			o->bytes = o->size;
		} else if (!map_load(c, o)) {
			/* no usable map: nothing known to be in it */
			unlinkat(c->dirfd, d->d_name, 0);
			obj_free(c, o);
			continue;
		}
		c->stats.bytes += o->bytes;
		(*found)[(*nfound)++] = o;
	}
	closedir(dp);
	return rc;
}

/* Take stock of the files of an earlier run, oldest first on the LRU. */
static int scan(struct fs_cache *c)
{
	struct fs_cache_obj **found = NULL;
	size_t nfound = 0, cap = 0, i;
	int rc, pass;

	for (pass = 0, rc = 0; pass < 3 && rc == 0; pass++)
		rc = scan_pass(c, pass, &found, &nfound, &cap);
	if (nfound > 1)
		qsort(found, nfound, sizeof(*found), cmp_mtime);
	for (i = 0; i < nfound; i++)
		lru_append(c, found[i]);
	free(found);
	if (rc == 0)
		make_room(c, 0);	/* the budget may have shrunk */
	return rc;
}

int fs_cache_open(const char *dir, uint64_t budget, struct fs_cache **out)
{
	struct fs_cache *c;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->dirfd = c->lockfd = -1;
	c->budget = budget;
	c->lru.next = c->lru.prev = &c->lru;
	c->hot.lnext = c->hot.lprev = &c->hot;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->buflock, NULL);
	pthread_cond_init(&c->done, NULL);
	pthread_cond_init(&c->work, NULL);
	pthread_cond_init(&c->wwork, NULL);
	pthread_cond_init(&c->wdone, NULL);
	c->dir = strdup(dir);
	c->buckets = calloc(HASH_MIN, sizeof(*c->buckets));
	if (!c->dir || !c->buckets) {
		rc = ENOMEM;
		goto fail;
	}
	c->nbuckets = HASH_MIN;
	rc = mkdirs(dir);
	if (rc) {
		store_log(STORE_LOG_ERR, "cannot create cache directory '%s': %s",
			  dir, strerror(rc));
		goto fail;
	}
	c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0) {
		rc = errno;
		store_log(STORE_LOG_ERR, "cannot open cache directory '%s': %s",
			  dir, strerror(rc));
		goto fail;
	}
	c->lockfd = openat(c->dirfd, ".lock",
			   O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (c->lockfd < 0) {
		rc = errno;
		store_log(STORE_LOG_ERR, "cannot lock cache directory '%s': %s",
			  dir, strerror(rc));
		goto fail;
	}
	if (flock(c->lockfd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno;
		if (rc == EWOULDBLOCK)
			store_log(STORE_LOG_ERR, "cache directory '%s' is in "
				  "use by another pxfs mount (use --cache-dir)",
				  dir);
		else
			store_log(STORE_LOG_ERR, "cannot lock cache directory "
				  "'%s': %s", dir, strerror(rc));
		goto fail;
	}
	rc = scan(c);
	if (rc) {
		store_log(STORE_LOG_ERR, "cannot read cache directory '%s': %s",
			  dir, strerror(rc));
		goto fail;
	}
	c->stats.budget = budget;
	*out = c;
	return 0;
fail:
	fs_cache_close(c);
	return rc;
}

void fs_cache_set_memory(struct fs_cache *c, bool on)
{
	assert(!c->st);
	c->memory = on;
}

void fs_cache_set_complete_hook(struct fs_cache *c, fs_cache_complete_fn fn,
				void *arg)
{
	assert(!c->st);
	c->hook = fn;
	c->hook_arg = arg;
}

/* ---- shape and file --------------------------------------------------- */

/*
 * Learn @o's shape from the index's row @info (with c->lock held).  Files
 * of an earlier run that do not fit it are dropped.
 */
static int shape(struct fs_cache *c, struct fs_cache_obj *o,
		 const struct store_object *info, uint64_t ino)
{
	char label[PATH_LABEL];
	bool fits;

	if (info->size > 0 ? !valid_shape(info->size, info->chunk_size,
					  info->nchunks) :
	    info->nchunks != 0) {
		fs_inode_path(c->st, ino, label, sizeof(label));
		store_log(STORE_LOG_ERR, "cannot read '%s' (key %s): the index"
			  " gives it a bad chunk table", label, o->key);
		return EIO;
	}
	if (o->cs)		/* a partial file from its map */
		fits = o->size == info->size &&
		       o->chunk_size == info->chunk_size &&
		       o->nchunks == info->nchunks;
	else			/* a whole file, or nothing */
		fits = !o->whole || o->size == info->size;
	if (!fits) {
		store_log(STORE_LOG_WARNING, "cached copy of key %s in '%s' "
			  "does not fit the index: fetching it again", o->key,
			  c->dir);
		drop_files(c, o);
		free(o->cs);
		o->cs = NULL;
	}
	o->size = info->size;
	o->chunk_size = info->chunk_size;
	o->nchunks = info->nchunks;
	/* what has its blob elsewhere, or will lose it, or is cached
	 * already keeps its disk copy */
	o->mem = c->memory && !o->cs && !o->whole && !info->external &&
		 !info->evict_on_read && !info->pending;
	if (!o->cs) {
		o->cs = calloc(o->nchunks ? o->nchunks : 1, 1);
		if (!o->cs)
			return ENOMEM;
		if (o->whole) {
			memset(o->cs, CH_DISK, o->nchunks);
			o->npresent = o->nchunks;
		}
	}
	o->checked = true;
	return 0;
}

/*
 * Open @o's file if it is not (with c->lock held).  A whole file that
 * vanished behind our back is forgotten: its chunks are fetched again.
 *
 * Chunks are written through a second, O_DIRECT descriptor when the
 * filesystem has it: a fetched chunk then goes to the disk without being
 * copied into fresh page-cache pages first, a copy that cost about as
 * much CPU as verifying the chunk.  The readers that come right after a
 * fetch are served from the chunk kept in memory (struct hot), later
 * ones from the file through the page cache, as ever.
 */
static int ensure_fd(struct fs_cache *c, struct fs_cache_obj *o)
{
	char name[STORE_KEY_HEX + 8];
	int err;

	if (o->fd >= 0 || o->mem)
		return 0;
	snprintf(name, sizeof(name), "%s", o->key);
	if (o->whole) {
		o->fd = openat(c->dirfd, name, O_RDWR | O_CLOEXEC |
			       O_NOFOLLOW);
		if (o->fd >= 0)
			goto direct;
		if (errno != ENOENT)
			goto fail;
		drop_files(c, o);
	}
	snprintf(name, sizeof(name), "%s.part", o->key);
	o->fd = openat(c->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC |
		       O_NOFOLLOW, 0600);
	if (o->fd < 0)
		goto fail;
direct:
	o->wfd = openat(c->dirfd, name, O_WRONLY | O_DIRECT | O_CLOEXEC |
			O_NOFOLLOW);
	return 0;
fail:
	err = errno;
	store_log(STORE_LOG_ERR, "cannot open '%s/%s%s': %s", c->dir, o->key,
		  o->whole ? "" : ".part", strerror(err));
	return err;
}

/* All chunks present: the partial file becomes <key> (c->lock held). */
static void complete(struct fs_cache *c, struct fs_cache_obj *o)
{
	char name[STORE_KEY_HEX + 8];

	snprintf(name, sizeof(name), "%s.part", o->key);
	if (renameat(c->dirfd, name, c->dirfd, o->key) < 0) {
		store_log(STORE_LOG_ERR, "cannot rename '%s/%s': %s", c->dir,
			  name, strerror(errno));
		return;		/* served from the .part all the same */
	}
	unlink_name(c, o->key, ".map");
	o->whole = true;
	o->map_dirty = false;
	c->stats.resolves++;
}

/* A chunk of a whole file went missing: it is partial again (c->lock
 * held). */
static void demote(struct fs_cache *c, struct fs_cache_obj *o)
{
	char name[STORE_KEY_HEX + 8];

	snprintf(name, sizeof(name), "%s.part", o->key);
	if (renameat(c->dirfd, o->key, c->dirfd, name) < 0) {
		/* cannot say what it holds: nothing, then */
		store_log(STORE_LOG_WARNING, "cannot rename '%s/%s': %s",
			  c->dir, o->key, strerror(errno));
		drop_files(c, o);
		return;
	}
	o->whole = false;
	o->map_dirty = true;
}

/* ---- chunks ----------------------------------------------------------- */

/* The first node path we learn names the object in messages. */
static const char *obj_label(struct fs_cache *c, struct fs_cache_obj *o,
			     uint64_t ino)
{
	char label[PATH_LABEL];
	char *dup;

	pthread_mutex_lock(&c->lock);
	dup = o->label;
	pthread_mutex_unlock(&c->lock);
	if (dup)
		return dup;
	fs_inode_path(c->st, ino, label, sizeof(label));
	dup = strdup(label);
	pthread_mutex_lock(&c->lock);
	if (!o->label)
		o->label = dup;
	else
		free(dup);
	dup = o->label;
	pthread_mutex_unlock(&c->lock);
	return dup ? dup : o->key;
}

/* Is DISK chunk @i of @o (in @buf now) what the index says?  Lock not
 * held; @o's label is set. */
static bool check_disk(struct fs_cache *c, struct fs_cache_obj *o,
		       uint32_t i, int fd, void *buf, uint32_t len)
{
	uint64_t off = (uint64_t)i * o->chunk_size;
	const char *why = NULL;
	ssize_t n;
	bool say;

	n = pread(fd, buf, len, (off_t)off);
	if (n != (ssize_t)len)
		why = "short file";
	else if (store_check_chunk(c->st, o->key, i, buf, len) != STORE_OK)
		why = store_last_error();
	if (!why)
		return true;
	pthread_mutex_lock(&c->lock);
	say = !o->bad_logged;
	o->bad_logged = true;
	pthread_mutex_unlock(&c->lock);
	if (say)
		store_log(STORE_LOG_WARNING, "cached copy of '%s' (key %s) in "
			  "'%s' is bad (%s): fetching it again", o->label,
			  o->key, c->dir, why);
	return false;
}

/* Should this failure be logged?  Readers and readahead meeting one
 * broken object say so once, until nobody holds it any more. */
static bool say_once(struct fs_cache *c, struct fs_cache_obj *o)
{
	bool say;

	pthread_mutex_lock(&c->lock);
	say = !o->err_logged;
	o->err_logged = true;
	pthread_mutex_unlock(&c->lock);
	return say;
}

/*
 * Claim the disk blocks of chunk @i before fetching it: a full disk
 * fails before any fetch, and writing into allocated blocks is an
 * overwrite, which ext4 does many times faster than a write that must
 * allocate (delayed allocation).  On ENOSPC, idle objects go first.
 */
static int claim(struct fs_cache *c, int fd, uint64_t off, uint32_t len)
{
	bool retried = false;

	for (;;) {
		if (fallocate(fd, 0, (off_t)off, (off_t)len) == 0)
			return 0;
		if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINTR)
			return 0;	/* the write will say */
		if ((errno != ENOSPC && errno != EDQUOT) || retried)
			return errno;
		/* the disk is full: give it what we hold idle, once */
		retried = true;
		pthread_mutex_lock(&c->lock);
		while (evict_oldest(c))
			;
		pthread_mutex_unlock(&c->lock);
	}
}

/* Say that chunk writes of @o fail with @err (once) and drop its files
 * when it goes idle if the disk is full.  Lock not held. */
static int write_failed(struct fs_cache *c, struct fs_cache_obj *o, int err)
{
	if (say_once(c, o))
		store_log(STORE_LOG_ERR, "cannot cache '%s' (key %s) in '%s': "
			  "%s", o->label, o->key, c->dir, strerror(err));
	pthread_mutex_lock(&c->lock);
	o->nospc = err == ENOSPC || err == EDQUOT;
	pthread_mutex_unlock(&c->lock);
	return err;
}

/*
 * Fetch chunk @i of @o into @buf (verified), after claiming its blocks in
 * @fd.  With @wfd (O_DIRECT), the bytes after @len up to the next
 * DIO_ALIGN are zeroed for write_chunk().  Lock not held.
 */
static int fetch(struct fs_cache *c, struct fs_cache_obj *o, uint32_t i,
		 int fd, int wfd, void *buf, uint32_t len)
{
	uint64_t off = (uint64_t)i * o->chunk_size;
	size_t got = 0, wlen = wfd >= 0 ? dio_round(len) : len;
	store_rc rc;
	int err;

	err = fd >= 0 ? claim(c, fd, off, (uint32_t)wlen) : 0;
	if (err)
		return write_failed(c, o, err);
	rc = store_read_chunk(c->st, o->key, i, buf, len, &got, o->label);
	if (rc == STORE_OK && got != len)
		rc = STORE_CORRUPT;	/* the index disagrees with itself */
	if (rc != STORE_OK) {
		if (say_once(c, o))
			store_log(STORE_LOG_ERR, "%s", store_last_error());
		return rc == STORE_NOMEM ? ENOMEM : EIO;
	}
	/* a short last chunk goes out padded (cut back by write_chunk) */
	memset((char *)buf + len, 0, wlen - len);
	return 0;
}

/* Write fetched chunk @i of @o (@len bytes at @buf, prepared by fetch())
 * to its place in @fd.  Lock not held. */
static int write_chunk(struct fs_cache *c, struct fs_cache_obj *o,
		       uint32_t i, int fd, int wfd, const void *buf,
		       uint32_t len)
{
	uint64_t off = (uint64_t)i * o->chunk_size;
	size_t wlen = wfd >= 0 ? dio_round(len) : len;
	ssize_t n;

	if (wfd >= 0) {
		n = pwrite(wfd, buf, wlen, (off_t)off);
		if (n < 0 && errno == EINVAL)	/* O_DIRECT refused after
						   all: the page cache */
			n = pwrite(fd, buf, len, (off_t)off) == (ssize_t)len ?
			    (ssize_t)wlen : -1;
	} else {
		n = pwrite(fd, buf, len, (off_t)off);
	}
	if (n == (ssize_t)wlen && wlen != len &&
	    ftruncate(fd, (off_t)o->size) < 0)
		n = -1;
	if (n == (ssize_t)wlen)
		return 0;
	return write_failed(c, o, n < 0 ? errno : ENOSPC);
}

/*
 * Chunk @i of @o was just written (@err 0) or failed to (c->lock held):
 * count it and, when it was the last, complete the object.  Returns
 * whether the complete hook is to be called (with the lock dropped).
 */
static bool chunk_done(struct fs_cache *c, struct fs_cache_obj *o,
		       uint32_t i, bool from_disk, bool fetched, int err)
{
	uint32_t len = chunk_len(o, i);
	bool hook = false;

	if (!err) {
		o->cs[i] = CH_READY;
		if (!from_disk)
			o->npresent++;
		if (from_disk && !fetched && !o->reused) {
			o->reused = true;
			c->stats.reused++;
		}
	} else {
		o->cs[i] = CH_ABSENT;
		if (from_disk)
			o->npresent--;
		o->bytes -= len;
		c->stats.bytes -= len;
		if (o->whole)
			demote(c, o);
		o->err = err;
		o->fails++;
		c->stats.errors++;
	}
	if (fetched && !err) {
		o->fetched = true;
		o->map_dirty = true;
	}
	if (!err && o->npresent == o->nchunks && !o->whole) {
		complete(c, o);
		hook = o->whole && o->fetched && !o->hooked && c->hook;
		if (hook)
			o->hooked = true;
	}
	pthread_cond_broadcast(&c->done);
	return hook;
}

/* Queue dirty hot chunk @h of @o for the writers (c->lock held); the
 * write holds @o. */
static void queue_write(struct fs_cache *c, struct fs_cache_obj *o,
			struct hot *h, uint64_t ino)
{
	h->ino = ino;
	hold(c, o);
	o->nmem++;
	if (c->wq_tail)
		c->wq_tail->wnext = h;
	else
		c->wq = h;
	c->wq_tail = h;
}

/*
 * Hand fetched chunk @i of @o (in @buf) to the writers: it goes CH_MEM,
 * served from memory at once, and READY once on the disk (c->lock held).
 * Returns false (nothing done) without memory for it.
 */
static bool write_behind(struct fs_cache *c, struct fs_cache_obj *o,
			 uint32_t i, uint64_t ino, void *buf)
{
	uint32_t len = chunk_len(o, i);
	struct hot *h;

	if (c->nwriters == 0)
		return false;
	h = hot_add(c, o, i, len, buf, true);
	if (!h)
		return false;
	o->cs[i] = CH_MEM;
	queue_write(c, o, h, ino);
	pthread_cond_signal(&c->wwork);
	pthread_cond_broadcast(&c->done);
	return true;
}

/*
 * Make ABSENT or DISK chunk @i of held @o present: this thread claims it,
 * and fetches it (or checks it, then fetches it if it is bad).  A fetched
 * chunk goes CH_MEM and a writer puts it on the disk; a checked one goes
 * READY.  Called and returns with c->lock held; drops it while working.
 * @ahead: for a worker (counted as readahead).
 */
static int chunk_loaded(struct fs_cache *c, struct fs_cache_obj *o,
			uint32_t i, uint64_t ino, bool ahead, bool from_disk,
			bool done_now, int err, void *buf, int fd, int wfd);

static int chunk_load(struct fs_cache *c, struct fs_cache_obj *o, uint32_t i,
		      uint64_t ino, bool ahead)
{
	uint32_t len = chunk_len(o, i);
	bool from_disk, ok = false, done_now = false;
	void *buf = NULL;
	int err, fd, wfd;

	err = ensure_fd(c, o);
	if (err)
		return err;
	from_disk = o->cs[i] == CH_DISK;
	assert(from_disk || o->cs[i] == CH_ABSENT);
	o->cs[i] = CH_BUSY;
	if (!from_disk && !o->mem) {
		make_room(c, len);
		o->bytes += len;
		c->stats.bytes += len;
		/* the writers are behind: do not run further ahead of the
		 * disk than DIRTY_MAX_BYTES of memory */
		while (c->dirty_bytes + len > DIRTY_MAX_BYTES &&
		       c->dirty_bytes > 0)
			pthread_cond_wait(&c->wdone, &c->lock);
	}
	fd = o->fd;
	wfd = o->wfd;
	pthread_mutex_unlock(&c->lock);

	obj_label(c, o, ino);
	buf = buf_get(c, len ? len : 1);
	if (!buf) {
		err = ENOMEM;
	} else if (from_disk && check_disk(c, o, i, fd, buf, len)) {
		ok = true;
	} else {
		err = fetch(c, o, i, fd, wfd, buf, len);
		ok = err == 0;
		done_now = true;
	}
	pthread_mutex_lock(&c->lock);
	return chunk_loaded(c, o, i, ino, ahead, from_disk, done_now,
			    ok ? 0 : err, buf, fd, wfd);
}

/* chunk_loaded() for an object kept in memory only: the fetched chunk
 * becomes a (clean) hot chunk. */
static int mem_loaded(struct fs_cache *c, struct fs_cache_obj *o,
		      uint32_t i, bool ahead, int err, void *buf)
{
	struct hot *h = NULL;

	if (!err) {
		h = hot_add(c, o, i, chunk_len(o, i), buf, false);
		if (!h)
			err = ENOMEM;
		else
			h->unread = ahead;
	}
	if (err) {
		buf_put(c, buf);
		o->cs[i] = CH_ABSENT;
		o->err = err;
		o->fails++;
		c->stats.errors++;
	} else {
		o->cs[i] = CH_MEM;
		o->fetched = true;
	}
	pthread_cond_broadcast(&c->done);
	return err;
}

/*
 * Chunk @i of @o, BUSY since chunk_load(), was checked (@done_now false)
 * or fetched into @buf, with failure @err (0: none): make it MEM or
 * READY, or ABSENT again.  Called and returns with c->lock held; may
 * drop it.
 */
static int chunk_loaded(struct fs_cache *c, struct fs_cache_obj *o,
			uint32_t i, uint64_t ino, bool ahead, bool from_disk,
			bool done_now, int err, void *buf, int fd, int wfd)
{
	uint32_t len = chunk_len(o, i);
	bool ok = err == 0, hook;

	if (done_now) {
		c->stats.misses++;
		if (ahead)
			c->stats.readahead++;
	}
	if (o->mem)
		return mem_loaded(c, o, i, ahead, err, buf);
	if (fd < 0) {		/* fetched for memory, then to_disk() */
		fd = o->fd;
		wfd = o->wfd;
	}
	if (ok && done_now && from_disk) {
		/* the bad copy a map claimed is no chunk present: the
		 * write of the good one counts it again */
		o->npresent--;
		from_disk = false;
	}
	if (ok && done_now && write_behind(c, o, i, ino, buf))
		return 0;
	if (ok && done_now) {
		/* no writer (or no memory for it): write it now */
		pthread_mutex_unlock(&c->lock);
		err = write_chunk(c, o, i, fd, wfd, buf, len);
		ok = err == 0;
		pthread_mutex_lock(&c->lock);
	}
	/* the readers about to come get it from memory */
	if (!ok || !hot_add(c, o, i, len, buf, false))
		buf_put(c, buf);
	hook = chunk_done(c, o, i, from_disk, done_now, ok ? 0 : err);
	if (hook) {
		pthread_mutex_unlock(&c->lock);
		c->hook(c->hook_arg, o->key, ino);
		pthread_mutex_lock(&c->lock);
	}
	return ok ? 0 : err;
}

/*
 * May a worker on a job of chunks below @end take chunks @i and @i + 1 of
 * @o together (c->lock held)?  Readahead comes in jobs of a chunk or two
 * as a reader moves on, so the second may be the first of the next job
 * (which then finds it taken), as long as it fits the budget.
 */
static bool is_pair(const struct fs_cache *c, const struct fs_cache_obj *o,
		    uint32_t i, uint32_t end)
{
	if (i + 1 >= o->nchunks || o->cs[i] != CH_ABSENT ||
	    o->cs[i + 1] != CH_ABSENT || chunk_len(o, i + 1) != o->chunk_size)
		return false;
	return i + 1 < end || o->mem ||
	       c->stats.bytes + 2 * (uint64_t)o->chunk_size <= c->budget;
}

/*
 * chunk_load() of ABSENT chunks @i and @i + 1 of held @o, both chunk_size
 * long, for a worker: fetched together (store_read_chunk2()), which
 * verifies two chunks for little more than the price of one.
 */
static int chunk_load2(struct fs_cache *c, struct fs_cache_obj *o,
		       uint32_t i, uint64_t ino)
{
	uint32_t len = o->chunk_size;
	uint64_t off = (uint64_t)i * len;
	size_t wlen = dio_round(len);
	void *b[2] = { NULL, NULL };
	store_rc rc[2];
	int err, e[2], k, fd, wfd;

	err = ensure_fd(c, o);
	if (err)
		return err;
	assert(is_pair(c, o, i, o->nchunks));
	o->cs[i] = o->cs[i + 1] = CH_BUSY;
	if (!o->mem) {
		make_room(c, 2 * (uint64_t)len);
		o->bytes += 2 * (uint64_t)len;
		c->stats.bytes += 2 * (uint64_t)len;
		while (c->dirty_bytes + 2 * (uint64_t)len > DIRTY_MAX_BYTES &&
		       c->dirty_bytes > 0)
			pthread_cond_wait(&c->wdone, &c->lock);
	}
	fd = o->fd;
	wfd = o->wfd;
	pthread_mutex_unlock(&c->lock);

	obj_label(c, o, ino);
	b[0] = buf_get(c, len);
	b[1] = buf_get(c, len);
	e[0] = e[1] = 0;
	if (!b[0] || !b[1]) {
		e[0] = e[1] = ENOMEM;
	} else if (fd >= 0) {
		err = claim(c, fd, off, 2 * (uint32_t)(wfd >= 0 ? wlen : len));
		if (err)
			e[0] = e[1] = write_failed(c, o, err);
	}
	if (!e[0]) {
		store_read_chunk2(c->st, o->key, i, b[0], b[1], len, rc,
				  o->label);
		for (k = 0; k < 2; k++) {
			if (rc[k] == STORE_OK) {
				if (wfd >= 0)	/* see fetch() */
					memset((char *)b[k] + len, 0,
					       wlen - len);
				continue;
			}
			if (say_once(c, o))
				store_log(STORE_LOG_ERR, "%s",
					  store_last_error());
			e[k] = rc[k] == STORE_NOMEM ? ENOMEM : EIO;
		}
	}
	pthread_mutex_lock(&c->lock);
	e[0] = chunk_loaded(c, o, i, ino, true, false, true, e[0], b[0], fd,
			    wfd);
	e[1] = chunk_loaded(c, o, i + 1, ino, true, false, true, e[1], b[1],
			    fd, wfd);
	return e[0] ? e[0] : e[1];
}

/* Put the dirty chunks on the disk, oldest first. */
static void *writer(void *arg)
{
	struct fs_cache *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct fs_cache_obj *o;
		struct hot *h;
		uint64_t ino;
		bool hook;
		int err;

		while (!c->wq && !c->wstopping)
			pthread_cond_wait(&c->wwork, &c->lock);
		h = c->wq;
		if (!h)
			break;		/* stopping, and nothing left */
		c->wq = h->wnext;
		if (!c->wq)
			c->wq_tail = NULL;
		h->wnext = NULL;
		o = h->o;
		ino = h->ino;
		assert(o && h->dirty && o->cs[h->idx] == CH_MEM);
		pthread_mutex_unlock(&c->lock);
		/* o is held by this write: its fds stay open */
		err = write_chunk(c, o, h->idx, o->fd, o->wfd, h->buf, h->len);
		pthread_mutex_lock(&c->lock);
		h->dirty = false;
		c->dirty_bytes -= h->len;
		h->pins--;
		o->nmem--;
		hook = chunk_done(c, o, h->idx, false, true, err);
		if (err)
			hot_detach(c, h);	/* the disk does not have it */
		else if (hot_clean(c) > HOT_MAX_BYTES)
			hot_trim(c);
		pthread_cond_broadcast(&c->wdone);
		if (hook) {
			pthread_mutex_unlock(&c->lock);
			c->hook(c->hook_arg, o->key, ino);
			pthread_mutex_lock(&c->lock);
		}
		unhold(c, o);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/*
 * Make chunk @i of held @o READY (c->lock held), or with @mem_ok, READY
 * or in memory (CH_MEM, on its way to the disk).  With @wait, a chunk
 * another thread is busy with is waited for, sharing its failure;
 * without, it is left to that thread.
 */
static int chunk_ensure(struct fs_cache *c, struct fs_cache_obj *o,
			uint32_t i, uint64_t ino, bool wait, bool ahead,
			bool mem_ok)
{
	bool waited = false;
	int err;

	for (;;) {
		uint64_t fails;

		switch ((enum chunk_state)o->cs[i]) {
		case CH_READY:
			if (wait && !waited)
				c->stats.hits++;
			return 0;
		case CH_MEM:
			if (mem_ok || !wait) {
				if (wait && !waited)
					c->stats.hits++;
				return 0;
			}
			/* fall through - the disk does not have it yet */
		case CH_BUSY:
			if (!wait)
				return 0;
			if (!waited)
				c->stats.waits++;
			waited = true;
			fails = o->fails;
			while (o->cs[i] == CH_BUSY ||
			       (o->cs[i] == CH_MEM && !mem_ok))
				pthread_cond_wait(&c->done, &c->lock);
			if (o->cs[i] != CH_READY && o->cs[i] != CH_MEM &&
			    o->fails != fails)
				return o->err;
			continue;
		case CH_ABSENT:
		case CH_DISK:
			err = chunk_load(c, o, i, ino, ahead);
			if (err || !wait)
				return err;
			/* ours now (a miss, not a hit or a wait); go on
			 * if it is only in memory and the file is wanted */
			waited = true;
			continue;
		}
	}
}

/*
 * Give memory-only @o a disk copy after all (c->lock held): from now on
 * it is cached like any other object, and the chunks it has in memory go
 * to the writers.  Chunks being fetched for memory meanwhile are counted
 * here; their fetchers find @o on the disk path when they are done.
 */
static int to_disk(struct fs_cache *c, struct fs_cache_obj *o, uint64_t ino)
{
	uint64_t need = 0;
	struct hot *h;
	uint32_t i;
	int err;

	if (!o->mem)
		return 0;
	o->mem = false;
	err = ensure_fd(c, o);
	if (err) {
		o->mem = true;
		return err;
	}
	for (i = 0; i < o->nchunks; i++)
		if (o->cs[i] == CH_BUSY || o->cs[i] == CH_MEM)
			need += chunk_len(o, i);
	make_room(c, need);
	o->bytes += need;
	c->stats.bytes += need;
	assert(c->nwriters > 0);
	for (h = o->hot; h; h = h->next) {
		if (h->dirty || o->cs[h->idx] != CH_MEM)
			continue;
		h->dirty = true;
		h->pins++;	/* the write's */
		c->dirty_bytes += h->len;
		queue_write(c, o, h, ino);
	}
	pthread_cond_broadcast(&c->wwork);
	return 0;
}

/* ---- the workers ------------------------------------------------------ */

static void job_unqueue(struct fs_cache *c, struct job *j)
{
	struct job **pp = &c->jobs, *prev = NULL;

	while (*pp != j) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	*pp = j->next;
	if (c->jobs_tail == j)
		c->jobs_tail = prev;
	if (c->jobs_ahead_tail == j)
		c->jobs_ahead_tail = prev && prev->ahead ? prev : NULL;
	j->next = NULL;
	j->queued = false;
}

/* Queue @j: readahead before every resolve, each kind in order. */
static void job_queue(struct fs_cache *c, struct job *j)
{
	j->queued = true;
	if (j->ahead) {
		struct job **pp = c->jobs_ahead_tail ?
				  &c->jobs_ahead_tail->next : &c->jobs;

		j->next = *pp;
		*pp = j;
		c->jobs_ahead_tail = j;
		if (!j->next)
			c->jobs_tail = j;
	} else {
		j->next = NULL;
		if (c->jobs_tail)
			c->jobs_tail->next = j;
		else
			c->jobs = j;
		c->jobs_tail = j;
	}
	pthread_cond_signal(&c->work);
}

static void job_free(struct fs_cache *c, struct job *j)
{
	if (j->o)
		unhold(c, j->o);
	free(j);
}

static void *worker(void *arg)
{
	struct fs_cache *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct fs_cache_obj *o;
		struct job *j;
		uint32_t i;
		int err;

		while (!c->stopping && !c->jobs)
			pthread_cond_wait(&c->work, &c->lock);
		if (c->stopping)
			break;
		j = c->jobs;
		if (!j->o) {
			/* a resolve: hold the object, then share it out */
			job_unqueue(c, j);
			pthread_mutex_unlock(&c->lock);
			/* a failure is logged by fs_cache_get() */
			err = fs_cache_get(c, j->key, j->size, j->ino, &o);
			pthread_mutex_lock(&c->lock);
			if (err) {
				free(j);
				continue;
			}
			/* resolving is materializing: it gets a disk copy
			 * (to_disk() logs a failure; memory it is then) */
			to_disk(c, o, j->ino);
			j->o = o;
			j->next_chunk = 0;
			j->end = o->nchunks;
			job_queue(c, j);
			continue;
		}
		if (j->next_chunk >= j->end) {
			job_unqueue(c, j);
			if (j->users == 0)
				job_free(c, j);
			continue;
		}
		i = j->next_chunk++;
		j->users++;
		if (is_pair(c, j->o, i, j->end)) {
			j->next_chunk++;
			err = chunk_load2(c, j->o, i, j->ino);
		} else {
			err = chunk_ensure(c, j->o, i, j->ino, false, true,
					   false);
		}
		if (err)	/* logged; do not repeat it for every chunk */
			j->next_chunk = j->end;
		j->users--;
		if (!j->queued && j->users == 0)
			job_free(c, j);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int fs_cache_start(struct fs_cache *c, struct store *st)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int i, n, rc;

	assert(!c->st && c->nworkers == 0);
	c->st = st;
	for (i = 0; i < NWRITERS; i++) {
		rc = pthread_create(&c->writers[i], NULL, writer, c);
		if (rc) {
			store_log(STORE_LOG_ERR, "cannot start cache writer: "
				  "%s", strerror(rc));
			return rc;
		}
		c->nwriters++;
	}
	n = ncpu > 0 ? (int)ncpu * NWORKERS_CPU : NWORKERS_MIN;
	n = n < NWORKERS_MIN ? NWORKERS_MIN : n > NWORKERS_MAX ? NWORKERS_MAX : n;
	for (i = 0; i < n; i++) {
		rc = pthread_create(&c->workers[i], NULL, worker, c);
		if (rc) {
			store_log(STORE_LOG_ERR, "cannot start cache worker: "
				  "%s", strerror(rc));
			return rc;
		}
		c->nworkers++;
	}
	return 0;
}

/*
 * The most chunks of memory-only @o to read ahead (c->lock held), @on:
 * whether a reader of @o has chunks ahead of it now.  Such chunks are
 * kept nowhere but in the hot chunks, at most HOT_MAX_BYTES for all
 * objects, oldest first out.  If the windows of several readers together
 * were more than that, the chunks nearest each reader -- fetched first --
 * would be let go before it reads them; it would fetch them again itself,
 * and ra->until keeps them from being planned again: every chunk fetched
 * twice, for nothing.  So the objects read ahead share half of the hot
 * chunks, and hot_trim() lets the other half, what was read already, go
 * first: a lone reader keeps its whole RA_MAX_BYTES, and each of n gets
 * 1/n of the half, RA_MIN chunks at least.  (A pin on every unread chunk
 * instead would hold up to RA_MAX_BYTES per reader, with no bound.)
 * Counted per object, not per reader: readers of one object mostly want
 * the same chunks, and the cache does not see a reader go, only its
 * object.
 */
static uint32_t ra_share(struct fs_cache *c, struct fs_cache_obj *o,
			 bool on, uint32_t max)
{
	uint64_t share;

	if (on != o->ra_on) {
		o->ra_on = on;
		if (on)
			c->nra++;
		else
			c->nra--;
	}
	if (!on)
		return max;
	share = HOT_MAX_BYTES / 2 / (c->nra ? c->nra : 1) / o->chunk_size;
	return share < max ? (uint32_t)share : max;
}

/*
 * Readahead for reader @ra reading [@off, @off + @len), chunks up to
 * @last (c->lock held): a reader that goes on where it stopped gets a
 * window of chunks fetched ahead, doubling up to RA_MAX_BYTES (less in
 * memory only with several readers, see ra_share()); any other read
 * stops it.
 */
static void plan_readahead(struct fs_cache *c, struct fs_cache_obj *o,
		      struct fs_cache_ra *ra, uint64_t off, uint64_t len,
		      uint32_t last, uint64_t ino)
{
	uint32_t max = RA_MAX_BYTES / o->chunk_size, start, end;
	struct job *j;
	bool seq;

	/* the kernel's own readahead comes out of order, several requests
	 * at a time; a first read is sequential only at the start */
	if (ra->next)
		seq = off + RA_SLACK_BYTES >= ra->next &&
		      off <= ra->next + RA_SLACK_BYTES;
	else
		seq = off == 0;
	if (o->mem || o->ra_on)	/* ra_on: to_disk() came meanwhile */
		max = ra_share(c, o, o->mem && seq && last + 1 < o->nchunks,
			       max);
	if (max < RA_MIN)
		max = RA_MIN;
	if (seq) {
		ra->window = ra->window ? ra->window * 2 : RA_MIN;
		if (ra->window > max)
			ra->window = max;
		if (off + len > ra->next)
			ra->next = off + len;
	} else {
		ra->window = 0;
		ra->until = 0;
		ra->next = off + len;
	}
	if (!ra->window)
		return;
	start = last + 1 > ra->until ? last + 1 : ra->until;
	end = o->nchunks - last - 1 > ra->window ? last + 1 + ra->window :
	      o->nchunks;
	if (start >= end)
		return;
	/* never push out what others cached just to read ahead */
	if (!o->mem && c->stats.bytes + (uint64_t)(end - start) *
	    o->chunk_size > c->budget)
		return;
	ra->until = end;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;		/* the reader fetches them itself */
	hold(c, o);
	j->o = o;
	j->ino = ino;
	j->next_chunk = start;
	j->end = end;
	j->ahead = true;
	job_queue(c, j);
}

/* ---- the calls -------------------------------------------------------- */

int fs_cache_get(struct fs_cache *c, const char *key, uint64_t size,
		 uint64_t ino, struct fs_cache_obj **out)
{
	struct store_object info;
	struct fs_cache_obj *o;
	char label[PATH_LABEL];
	store_rc rc;
	int err = 0;

	(void)size;	/* the index's row is what counts */
	*out = NULL;
	assert(c->st);
	pthread_mutex_lock(&c->lock);
	o = *find_slot(c, key);
	if (!o) {
		o = obj_new(c, key);
		if (!o) {
			pthread_mutex_unlock(&c->lock);
			return ENOMEM;
		}
	}
	hold(c, o);
	while (!o->checked && !err) {
		if (o->shaping) {
			pthread_cond_wait(&c->done, &c->lock);
			continue;
		}
		o->shaping = true;
		pthread_mutex_unlock(&c->lock);
		rc = store_object_info(c->st, key, &info);
		if (rc != STORE_OK) {
			fs_inode_path(c->st, ino, label, sizeof(label));
			store_log(STORE_LOG_ERR, "cannot read '%s' (key %s): "
				  "%s", label, key, store_last_error());
		}
		pthread_mutex_lock(&c->lock);
		o->shaping = false;
		pthread_cond_broadcast(&c->done);
		if (rc != STORE_OK) {
			err = rc == STORE_NOMEM ? ENOMEM : EIO;
			c->stats.errors++;
		} else {
			err = shape(c, o, &info, ino);
		}
	}
	if (!err && o->nchunks == 0 && !o->hooked && c->hook) {
		/* nothing to fetch: complete at first sight */
		o->hooked = true;
		pthread_mutex_unlock(&c->lock);
		c->hook(c->hook_arg, o->key, ino);
		pthread_mutex_lock(&c->lock);
	}
	if (err)
		unhold(c, o);
	else
		*out = o;
	pthread_mutex_unlock(&c->lock);
	/* named now, while the node is there: a fetch may come after
	 * another process removed it */
	if (!err)
		obj_label(c, o, ino);
	return err;
}

/*
 * A read of memory-only @o across chunks (c->lock held): copied chunk by
 * chunk into a buffer of its own, which @pin hands to the reply.  The
 * object may get a disk copy meanwhile (to_disk()): a chunk READY then
 * is read from the file, which it cannot leave while @o is held.
 */
static int mem_copy(struct fs_cache *c, struct fs_cache_obj *o,
		    uint64_t off, uint64_t len, uint64_t ino,
		    struct fs_cache_pin *pin)
{
	uint64_t at = off, end = off + len;
	char *dst = malloc(len);
	int err = 0;

	if (!dst)
		return ENOMEM;
	while (at < end && !err) {
		uint32_t i = (uint32_t)(at / o->chunk_size);
		uint64_t base = (uint64_t)i * o->chunk_size;
		uint64_t n = base + chunk_len(o, i) - at;
		struct hot *h;

		if (n > end - at)
			n = end - at;
		err = chunk_ensure(c, o, i, ino, true, false, true);
		if (err)
			break;
		for (h = o->hot; h; h = h->next)
			if (h->idx == i)
				break;
		if (h) {
			if (at + n == base + h->len)
				h->unread = false;
			memcpy(dst + (at - off), (char *)h->buf + (at - base),
			       n);
		} else {
			int fd = o->fd;
			ssize_t got;

			assert(o->cs[i] == CH_READY && fd >= 0);
			pthread_mutex_unlock(&c->lock);
			got = pread(fd, dst + (at - off), n, (off_t)at);
			pthread_mutex_lock(&c->lock);
			if (got != (ssize_t)n)
				err = got < 0 ? errno : EIO;
		}
		at += n;
	}
	if (err) {
		free(dst);
		return err;
	}
	pin->own = dst;
	pin->mem = dst;
	return 0;
}

/* fs_cache_read() and, with @pin, fs_cache_read_pin(). */
static int cache_read(struct fs_cache *c, struct fs_cache_obj *o,
		      struct fs_cache_ra *ra, uint64_t off, uint64_t len,
		      uint64_t ino, struct fs_cache_pin *pin)
{
	uint32_t first, last, i;
	struct hot *h;
	int err;

	pthread_mutex_lock(&c->lock);
	assert(o->refs > 0 && o->checked);
	if (len == 0 || off >= o->size) {
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	if (len > o->size - off)
		len = o->size - off;
	first = (uint32_t)(off / o->chunk_size);
	last = (uint32_t)((off + len - 1) / o->chunk_size);
	err = ensure_fd(c, o);
	if (!err && !pin)	/* the caller wants the file */
		err = to_disk(c, o, ino);
	if (!err && ra)
		plan_readahead(c, o, ra, off, len, last, ino);
	if (!err && o->mem && first != last) {
		err = mem_copy(c, o, off, len, ino, pin);
		pthread_mutex_unlock(&c->lock);
		return err;
	}
	/* a chunk in memory serves a read within it before the disk has
	 * it: the pin taken below, under the same lock, keeps it */
	for (i = first; i <= last && !err; i++)
		err = chunk_ensure(c, o, i, ino, true, false,
				   pin && first == last);
	if (!err && pin && first == last) {
		for (h = o->hot; h; h = h->next)
			if (h->idx == first)
				break;
		assert(h || o->cs[first] == CH_READY);
		if (h) {
			/* the kernel reads a chunk in several requests */
			if (off + len == (uint64_t)first * o->chunk_size +
			    h->len)
				h->unread = false;
			h->pins++;
			pin->h = h;
			pin->mem = (const char *)h->buf +
				   (off - (uint64_t)first * o->chunk_size);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return err;
}

int fs_cache_read(struct fs_cache *c, struct fs_cache_obj *o,
		  struct fs_cache_ra *ra, uint64_t off, uint64_t len,
		  uint64_t ino)
{
	return cache_read(c, o, ra, off, len, ino, NULL);
}

int fs_cache_read_pin(struct fs_cache *c, struct fs_cache_obj *o,
		      struct fs_cache_ra *ra, uint64_t off, uint64_t len,
		      uint64_t ino, struct fs_cache_pin *pin)
{
	pin->h = NULL;
	pin->mem = NULL;
	pin->own = NULL;
	return cache_read(c, o, ra, off, len, ino, pin);
}

int fs_cache_obj_fd(struct fs_cache_obj *o)
{
	return o->fd;
}

void fs_cache_unpin(struct fs_cache *c, struct fs_cache_pin *pin)
{
	struct hot *h = pin->h;

	free(pin->own);
	pin->own = NULL;
	if (!h) {
		pin->mem = NULL;
		return;
	}
	pthread_mutex_lock(&c->lock);
	assert(h->pins > 0);
	if (--h->pins == 0 && !h->o) {
		hot_unlink(c, h);	/* its object went idle meanwhile */
		buf_put(c, h->buf);
		free(h);
	} else if (hot_clean(c) > HOT_MAX_BYTES) {
		hot_trim(c);
	}
	pthread_mutex_unlock(&c->lock);
	pin->h = NULL;
	pin->mem = NULL;
}

void fs_cache_put(struct fs_cache *c, struct fs_cache_obj *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&c->lock);
	unhold(c, o);
	pthread_mutex_unlock(&c->lock);
}

bool fs_cache_has(struct fs_cache *c, const char *key)
{
	struct fs_cache_obj *o;
	bool has;

	pthread_mutex_lock(&c->lock);
	/* chunks on their way to the disk: it takes a moment, and a reader
	 * that got them expects the object complete */
	for (;;) {
		o = *find_slot(c, key);
		if (!o || o->nmem == 0)
			break;
		pthread_cond_wait(&c->wdone, &c->lock);
	}
	has = o && is_complete(o);
	pthread_mutex_unlock(&c->lock);
	return has;
}

int fs_cache_resolve_async(struct fs_cache *c, const char *key,
			   uint64_t size, uint64_t ino)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return ENOMEM;
	snprintf(j->key, sizeof(j->key), "%s", key);
	j->size = size;
	j->ino = ino;
	pthread_mutex_lock(&c->lock);
	job_queue(c, j);
	c->stats.queued++;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* ---- the rest --------------------------------------------------------- */

void fs_cache_get_stats(struct fs_cache *c, struct fs_cache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	out->objects = c->nobjs;
	out->open = c->nheld;
	pthread_mutex_unlock(&c->lock);
}

const char *fs_cache_dir(const struct fs_cache *c)
{
	return c->dir;
}

void fs_cache_close(struct fs_cache *c)
{
	size_t i;
	int w;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_broadcast(&c->work);
	pthread_mutex_unlock(&c->lock);
	for (w = 0; w < c->nworkers; w++)
		pthread_join(c->workers[w], NULL);
	pthread_mutex_lock(&c->lock);
	while (c->jobs) {
		struct job *j = c->jobs;

		job_unqueue(c, j);
		job_free(c, j);
	}
	/* the writers finish what is queued, then go */
	c->wstopping = true;
	pthread_cond_broadcast(&c->wwork);
	pthread_mutex_unlock(&c->lock);
	for (w = 0; w < c->nwriters; w++)
		pthread_join(c->writers[w], NULL);
	for (i = 0; c->buckets && i < c->nbuckets; i++) {
		struct fs_cache_obj *o = c->buckets[i];

		while (o) {
			struct fs_cache_obj *next = o->hnext;

			assert(o->refs == 0);
			map_save(c, o);
			hot_drop(c, o);
			if (o->fd >= 0)
				close(o->fd);
			if (o->wfd >= 0)
				close(o->wfd);
			free(o->cs);
			free(o->label);
			free(o);
			o = next;
		}
	}
	free(c->buckets);
	while (c->bufs) {
		struct buf *b = c->bufs;

		c->bufs = b->next;
		free(b);
	}
	if (c->lockfd >= 0)
		close(c->lockfd);	/* releases the flock */
	if (c->dirfd >= 0)
		close(c->dirfd);
	pthread_cond_destroy(&c->wdone);
	pthread_cond_destroy(&c->wwork);
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->done);
	pthread_mutex_destroy(&c->buflock);
	pthread_mutex_destroy(&c->lock);
	free(c->dir);
	free(c);
}
