/* SPDX-License-Identifier: MIT */
/*
 * cache.c - whole objects materialized in a local directory, single
 * flight, byte budget with LRU eviction, reuse across restarts, and a
 * background resolve queue.
 *
 * Every object the cache knows is an entry in a hash table keyed by the
 * object key, in one of three states:
 *
 *   COLD   nothing on disk (an entry exists only while someone holds it,
 *          e.g. right after a failed fetch, until its waiters have seen it);
 *   BUSY   one thread (the one that moved it out of COLD or READY) is
 *          fetching it, or checking a file found at start; the others
 *          that want it sleep on c->done until the state changes;
 *   READY  <dir>/<key> is whole; if !verified it is a file of an earlier
 *          run that is checked (size, SHA-256) by its first user.
 *
 * refs counts the holders: open files, waiters, resolve workers.  While
 * refs > 0 a READY entry has an open fd and is never evicted; at refs 0 it
 * sits on the LRU list, and eviction takes from the list's head until the
 * bytes held fit the budget.  The bytes of a fetch are reserved (and room
 * made) before it starts, so concurrent fetches cannot overshoot together.
 *
 * The fetch itself runs without the lock: the BUSY state is what keeps
 * others away from the entry's fd and size.  A fetch writes to a temporary
 * ".tmp.<key>.XXXXXX" and renames it only when store_export_fd() has
 * verified every chunk and the whole SHA-256, so a file under a key is
 * never partial; temporaries left by a crash are removed at start, which
 * is safe because the directory is locked (flock on ".lock") by one daemon.
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

#include <openssl/evp.h>

#include "store.h"
#include "cache.h"
#include "inode.h"

#define NWORKERS	2		/* resolve queue threads */
#define HASH_MIN	256		/* buckets; a power of two */
#define PATH_LABEL	1024		/* room for a node's path in messages */
#define CHECK_BUF	(1u << 20)	/* read size when checking a file */

enum obj_state {
	OBJ_COLD,
	OBJ_BUSY,
	OBJ_READY,
};

struct fs_cache_obj {
	struct fs_cache_obj *hnext;	/* hash chain; protected by c->lock */
	struct fs_cache_obj *prev;	/* LRU links, on the list iff READY and
					   refs == 0; protected by c->lock */
	struct fs_cache_obj *next;
	char key[STORE_KEY_HEX + 1];	/* immutable */
	enum obj_state state;		/* protected by c->lock */
	bool verified;			/* content checked in this run;
					   protected by c->lock */
	unsigned refs;			/* holders; protected by c->lock */
	uint64_t size;			/* bytes held or reserved on disk; owned
					   by the BUSY thread, else c->lock */
	int fd;				/* content, while READY and refs > 0,
					   else -1; same rule as size */
	int err;			/* errno of the last failed fetch */
	uint64_t seq;			/* fetches finished, for waiters */
	int64_t mtime;			/* file time at start, for LRU order */
};

struct job {
	struct job *next;
	char key[STORE_KEY_HEX + 1];
	uint64_t size;
	uint64_t ino;
};

struct fs_cache {
	char *dir;			/* absolute; immutable */
	int dirfd;			/* immutable */
	int lockfd;			/* holds the flock; immutable */
	struct store *st;		/* set once by fs_cache_start() */
	uint64_t budget;		/* immutable */

	pthread_mutex_t lock;
	pthread_cond_t done;		/* a BUSY entry changed state */
	struct fs_cache_obj **buckets;	/* protected by lock */
	size_t nbuckets;		/* protected by lock */
	uint64_t nobjs;			/* entries; protected by lock */
	uint64_t nheld;			/* entries with refs > 0; ditto */
	struct fs_cache_obj lru;	/* sentinel: next is the oldest;
					   protected by lock */
	struct fs_cache_stats stats;	/* protected by lock */

	pthread_cond_t work;		/* jobs queued or stopping */
	struct job *jobs, *jobs_tail;	/* protected by lock */
	bool stopping;			/* protected by lock */
	pthread_t workers[NWORKERS];
	int nworkers;
};

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
	o->state = OBJ_COLD;
	o->fd = -1;
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

/* Remove the oldest idle object from disk and from the table. */
static bool evict_oldest(struct fs_cache *c)
{
	struct fs_cache_obj *o = c->lru.next;

	if (o == &c->lru)
		return false;
	assert(o->state == OBJ_READY && o->refs == 0);
	lru_remove(o);
	if (unlinkat(c->dirfd, o->key, 0) < 0 && errno != ENOENT)
		store_log(STORE_LOG_WARNING, "cannot evict '%s/%s': %s",
			  c->dir, o->key, strerror(errno));
	c->stats.bytes -= o->size;
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

/* Drop one hold; at zero, park a ready object on the LRU list (closing
 * its fd: idle objects cost no descriptor) or forget a cold one. */
static void unhold(struct fs_cache *c, struct fs_cache_obj *o)
{
	assert(o->refs > 0);
	if (--o->refs > 0)
		return;
	c->nheld--;
	if (o->fd >= 0) {
		close(o->fd);
		o->fd = -1;
	}
	if (o->state == OBJ_READY) {
		lru_append(c, o);
		make_room(c, 0);
	} else {
		assert(o->state == OBJ_COLD);
		obj_free(c, o);
	}
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

static bool is_key_name(const char *s)
{
	return store_is_key(s);
}

static int cmp_mtime(const void *a, const void *b)
{
	const struct fs_cache_obj *x = *(struct fs_cache_obj *const *)a;
	const struct fs_cache_obj *y = *(struct fs_cache_obj *const *)b;

	return (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

/* Take stock of the files of an earlier run, oldest first on the LRU. */
static int scan(struct fs_cache *c)
{
	struct fs_cache_obj **found = NULL;
	size_t nfound = 0, cap = 0, i;
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
	while ((d = readdir(dp))) {
		struct fs_cache_obj *o;
		struct stat sb;

		if (strncmp(d->d_name, ".tmp.", 5) == 0) {
			/* a fetch cut short by a crash: never whole */
			unlinkat(c->dirfd, d->d_name, 0);
			continue;
		}
		if (!is_key_name(d->d_name))
			continue;
		if (fstatat(c->dirfd, d->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0
		    || !S_ISREG(sb.st_mode))
			continue;
		if (nfound == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			void *n = realloc(found, ncap * sizeof(*found));

			if (!n) {
				rc = ENOMEM;
				break;
			}
			found = n;
			cap = ncap;
		}
		o = obj_new(c, d->d_name);
		if (!o) {
			rc = ENOMEM;
			break;
		}
		o->state = OBJ_READY;
		o->size = (uint64_t)sb.st_size;
		o->mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
			   sb.st_mtim.tv_nsec;
		c->stats.bytes += o->size;
		found[nfound++] = o;
	}
	closedir(dp);
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
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->done, NULL);
	pthread_cond_init(&c->work, NULL);
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

/* ---- materializing ---------------------------------------------------- */

static void label_of(struct fs_cache *c, uint64_t ino, char *buf, size_t len)
{
	fs_inode_path(c->st, ino, buf, len);
}

/*
 * Fetch @o into a temporary and rename it into place.  On success o->fd
 * is open on the content.  The failure is logged here, once.
 */
static int fetch(struct fs_cache *c, struct fs_cache_obj *o, uint64_t ino)
{
	char tmp[PATH_MAX], label[PATH_LABEL];
	const char *tmpname, *why;
	struct stat sb;
	int fd, err = 0;
	store_rc rc;

	label_of(c, ino, label, sizeof(label));
	if (snprintf(tmp, sizeof(tmp), "%s/.tmp.%s.XXXXXX", c->dir,
		     o->key) >= (int)sizeof(tmp)) {
		store_log(STORE_LOG_ERR, "cannot resolve '%s' (key %s): cache "
			  "directory name too long", label, o->key);
		return ENAMETOOLONG;
	}
	tmpname = tmp + strlen(c->dir) + 1;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		store_log(STORE_LOG_ERR, "cannot resolve '%s' (key %s): cannot "
			  "create '%s': %s", label, o->key, tmp, strerror(err));
		return err;
	}
	/* claim the space first: a full disk fails before any fetch */
	if (o->size > 0 && fallocate(fd, FALLOC_FL_KEEP_SIZE, 0,
				     (off_t)o->size) < 0 &&
	    (errno == ENOSPC || errno == EDQUOT)) {
		err = errno;
		store_log(STORE_LOG_ERR, "cannot resolve '%s' (key %s): cache "
			  "directory '%s': %s", label, o->key, c->dir,
			  strerror(err));
		goto fail;
	}
	rc = store_export_fd(c->st, o->key, fd, label);
	if (rc != STORE_OK) {
		err = rc == STORE_NOSPC ? ENOSPC :
		      rc == STORE_NOMEM ? ENOMEM : EIO;
		why = store_last_error();
		/* name the path and the key once, not twice */
		if (strstr(why, label) && strstr(why, o->key))
			store_log(STORE_LOG_ERR, "cannot resolve: %s", why);
		else
			store_log(STORE_LOG_ERR, "cannot resolve '%s' (key %s): "
				  "%s", label, o->key, why);
		goto fail;
	}
	if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size != o->size) {
		err = EIO;
		store_log(STORE_LOG_ERR, "cannot resolve '%s' (key %s): got "
			  "%lld bytes, the index says %llu", label, o->key,
			  (long long)sb.st_size, (unsigned long long)o->size);
		goto fail;
	}
	if (renameat(c->dirfd, tmpname, c->dirfd, o->key) < 0) {
		err = errno;
		store_log(STORE_LOG_ERR, "cannot resolve '%s' (key %s): cannot "
			  "rename '%s': %s", label, o->key, tmp,
			  strerror(err));
		goto fail;
	}
	o->fd = fd;
	return 0;
fail:
	unlinkat(c->dirfd, tmpname, 0);
	close(fd);
	return err;
}

/* SHA-256 of @fd's @size bytes, as 64 hex digits into @hex. */
static int sha256_fd(int fd, uint64_t size, char hex[STORE_KEY_HEX + 1])
{
	unsigned char md[32];
	unsigned int mdlen = 0, i;
	uint64_t off = 0;
	EVP_MD_CTX *ctx = NULL;
	char *buf = NULL;
	int rc = EIO;

	buf = malloc(CHECK_BUF);
	ctx = EVP_MD_CTX_new();
	if (!buf || !ctx) {
		rc = ENOMEM;
		goto out;
	}
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while (off < size) {
		size_t want = size - off < CHECK_BUF ? (size_t)(size - off) :
			      CHECK_BUF;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			goto out;
		off += (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		goto out;
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

/*
 * Check a file found at start: its size must be @size and its content
 * must hash to its key.  On success o->fd is open on it; otherwise it is
 * removed (it will be fetched again) and the reason logged.
 */
static bool check_reused(struct fs_cache *c, struct fs_cache_obj *o,
			 uint64_t size, uint64_t ino)
{
	char hex[STORE_KEY_HEX + 1], label[PATH_LABEL];
	const char *why = NULL;
	struct stat sb;
	int fd;

	fd = openat(c->dirfd, o->key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;	/* gone meanwhile: just fetch it */
	if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size != size)
		why = "wrong size";
	else if (sha256_fd(fd, size, hex) != 0)
		why = "unreadable";
	else if (strcmp(hex, o->key) != 0)
		why = "content does not match its key";
	if (!why) {
		o->fd = fd;
		return true;
	}
	label_of(c, ino, label, sizeof(label));
	store_log(STORE_LOG_WARNING, "cached copy of '%s' (key %s) in '%s' is "
		  "bad (%s): fetching it again", label, o->key, c->dir, why);
	close(fd);
	unlinkat(c->dirfd, o->key, 0);
	return false;
}

/*
 * Make BUSY entry @o (owned by this thread, lock not held) whole on disk.
 * @reused: a file of an earlier run is there to check first.
 */
static int materialize(struct fs_cache *c, struct fs_cache_obj *o,
		       uint64_t size, uint64_t ino, bool reused)
{
	bool retried = false;
	int err;

	if (reused && check_reused(c, o, size, ino)) {
		pthread_mutex_lock(&c->lock);
		c->stats.reused++;
		c->stats.hits++;
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	pthread_mutex_lock(&c->lock);
	c->stats.bytes -= o->size;	/* the bad or missing file, if any */
	make_room(c, size);
	c->stats.bytes += size;		/* reserved for the fetch */
	o->size = size;
	c->stats.misses++;
	pthread_mutex_unlock(&c->lock);
	for (;;) {
		err = fetch(c, o, ino);
		if (err != ENOSPC || retried)
			break;
		/* the disk is full: give it what we hold idle, once */
		retried = true;
		pthread_mutex_lock(&c->lock);
		if (c->lru.next == &c->lru) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		while (evict_oldest(c))
			;
		pthread_mutex_unlock(&c->lock);
		store_log(STORE_LOG_NOTICE, "cache directory '%s' full: evicted "
			  "idle objects, retrying key %s", c->dir, o->key);
	}
	return err;
}

int fs_cache_get(struct fs_cache *c, const char *key, uint64_t size,
		 uint64_t ino, struct fs_cache_obj **out)
{
	struct fs_cache_obj *o;
	bool waited = false;
	int err = 0;

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
	for (;;) {
		bool reused;

		if (o->state == OBJ_BUSY) {
			uint64_t seq = o->seq;

			if (!waited)
				c->stats.waits++;
			waited = true;
			while (o->state == OBJ_BUSY)
				pthread_cond_wait(&c->done, &c->lock);
			/* share the failure of the fetch we waited for */
			if (o->state == OBJ_COLD && o->seq != seq) {
				err = o->err;
				break;
			}
			continue;
		}
		if (o->state == OBJ_READY && o->verified) {
			if (o->fd < 0) {
				o->fd = openat(c->dirfd, o->key,
					       O_RDONLY | O_CLOEXEC);
				if (o->fd < 0 && errno == ENOENT) {
					/* removed behind our back */
					c->stats.bytes -= o->size;
					o->size = 0;
					o->state = OBJ_COLD;
					continue;
				}
				if (o->fd < 0) {
					err = errno;
					store_log(STORE_LOG_ERR, "cannot open "
						  "'%s/%s': %s", c->dir,
						  o->key, strerror(err));
					break;
				}
			}
			if (!waited)
				c->stats.hits++;
			break;
		}
		/* COLD, or a file of an earlier run: this thread does it */
		reused = o->state == OBJ_READY;
		o->state = OBJ_BUSY;
		pthread_mutex_unlock(&c->lock);
		err = materialize(c, o, size, ino, reused);
		pthread_mutex_lock(&c->lock);
		if (err) {
			c->stats.bytes -= o->size;
			o->size = 0;
			o->state = OBJ_COLD;
			o->err = err;
			c->stats.errors++;
		} else {
			o->state = OBJ_READY;
			o->verified = true;
			if (!reused)
				c->stats.resolves++;
		}
		o->seq++;
		pthread_cond_broadcast(&c->done);
		break;
	}
	if (err)
		unhold(c, o);
	else
		*out = o;
	pthread_mutex_unlock(&c->lock);
	return err;
}

int fs_cache_obj_fd(const struct fs_cache_obj *o)
{
	return o->fd;
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
	o = *find_slot(c, key);
	has = o && o->state == OBJ_READY;
	pthread_mutex_unlock(&c->lock);
	return has;
}

/* ---- the resolve queue ------------------------------------------------ */

static void *worker(void *arg)
{
	struct fs_cache *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct fs_cache_obj *o;
		struct job *j;

		while (!c->stopping && !c->jobs)
			pthread_cond_wait(&c->work, &c->lock);
		if (c->stopping)
			break;
		j = c->jobs;
		c->jobs = j->next;
		if (!c->jobs)
			c->jobs_tail = NULL;
		pthread_mutex_unlock(&c->lock);
		/* a failure is logged and counted by fs_cache_get() */
		if (fs_cache_get(c, j->key, j->size, j->ino, &o) == 0)
			fs_cache_put(c, o);
		free(j);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int fs_cache_start(struct fs_cache *c, struct store *st)
{
	int i, rc;

	assert(!c->st && c->nworkers == 0);
	c->st = st;
	for (i = 0; i < NWORKERS; i++) {
		rc = pthread_create(&c->workers[i], NULL, worker, c);
		if (rc) {
			store_log(STORE_LOG_ERR, "cannot start resolve worker: "
				  "%s", strerror(rc));
			return rc;
		}
		c->nworkers++;
	}
	return 0;
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
	if (c->jobs_tail)
		c->jobs_tail->next = j;
	else
		c->jobs = j;
	c->jobs_tail = j;
	c->stats.queued++;
	pthread_cond_signal(&c->work);
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
	while (c->jobs) {
		struct job *j = c->jobs;

		c->jobs = j->next;
		free(j);
	}
	for (i = 0; c->buckets && i < c->nbuckets; i++) {
		struct fs_cache_obj *o = c->buckets[i];

		while (o) {
			struct fs_cache_obj *next = o->hnext;

			assert(o->refs == 0);
			if (o->fd >= 0)
				close(o->fd);
			free(o);
			o = next;
		}
	}
	free(c->buckets);
	if (c->lockfd >= 0)
		close(c->lockfd);	/* releases the flock */
	if (c->dirfd >= 0)
		close(c->dirfd);
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->done);
	pthread_mutex_destroy(&c->lock);
	free(c->dir);
	free(c);
}
