/* SPDX-License-Identifier: MIT */
/*
 * conn_file.c - the file connector: blobs as files below one directory.
 *
 * Layout: DIR/<k0k1>/<key> for a blob (256 buckets keep directories
 * small), DIR/tmp/put-XXXXXX for writes in progress.  A put is made
 * visible the classic way: write the temp, fsync it, rename it into its
 * bucket, fsync the bucket (and, for a new bucket, DIR), so that after a
 * crash a key names either a whole blob or nothing.  Temps live on the
 * same filesystem as the blobs so the rename is atomic, and in a directory
 * of their own so that list() never sees them and leftovers() finds them
 * all.
 *
 * The directory may be shared with other hosts and users, so nothing read
 * from it is trusted: names that are not keys are skipped, blobs are not
 * followed through symlinks, and a short blob is STORE_CORRUPT.  Keys are
 * checked here again whatever the caller did, so that no key can name a
 * path outside DIR.  The only state is DIR's name, set once at open: every
 * entry point is thread-safe.
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "crash.h"
#include "store_int.h"

#define TMP_PREFIX	"put-"
#define TMP_TEMPLATE	"/tmp/" TMP_PREFIX "XXXXXX"
/* what is appended to DIR for the longest path we build */
#define BLOB_SUFFIX_LEN	(sizeof("/00/") - 1 + STORE_KEY_HEX)
#define DIRECT_MIN	(64u << 10)	/* reads this large may bypass the
					   page cache */
#define DIRECT_ALIGN	4096u		/* O_DIRECT buffer, offset, size */
#define PUT_DIRECT_MIN	(8u << 20)	/* blobs this large are written
					   around the page cache */
#define PUT_STAGE	(4u << 20)	/* one O_DIRECT write of a put */

struct conn_file {
	struct store_conn conn;	/* first: callers hold &conn */
	size_t dirlen;		/* strlen(dir) */
	char dir[];		/* blob root, as given; never changes */
};

struct store_conn_put {
	struct conn_file *fc;	/* the connector; outlives the put */
	int fd;			/* the open temp */
	bool failed;		/* a write failed: the temp is incomplete */
	bool tried_direct;	/* O_DIRECT was tried (see put_write) */
	bool direct;		/* @fd is O_DIRECT, written via @stage */
	uint64_t off;		/* bytes in @fd */
	char *stage;		/* PUT_STAGE bytes, aligned, or NULL */
	size_t fill;		/* bytes in @stage, due at @off */
	char path[];		/* DIR/tmp/put-XXXXXX */
};

static struct conn_file *to_file(struct store_conn *c)
{
	return (struct conn_file *)c;
}

/* Exactly 64 lowercase hex digits (store_is_key() lives in store.c). */
static bool is_key(const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; i < STORE_KEY_HEX; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[STORE_KEY_HEX] == '\0';
}

static store_rc bad_key(const char *key)
{
	return store_fail(STORE_INVAL, "bad blob key '%.80s'",
			  key ? key : "");
}

/* DIR/<k0k1>, or with @key_too DIR/<k0k1>/<key>, into @buf of PATH_MAX. */
static void key_path(const struct conn_file *fc, const char *key,
		     bool key_too, char *buf)
{
	int n;

	if (key_too)
		n = snprintf(buf, PATH_MAX, "%s/%.2s/%s", fc->dir, key, key);
	else
		n = snprintf(buf, PATH_MAX, "%s/%.2s", fc->dir, key);
	/* open() refused a DIR too long for this */
	assert(n > 0 && n < PATH_MAX);
	(void)n;
}

static store_rc sync_dir(const char *path)
{
	int fd, saverr;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		saverr = errno;
		if (fd >= 0)
			close(fd);
		return store_fail_errno(saverr, "cannot sync directory '%s'",
					path);
	}
	close(fd);
	return STORE_OK;
}

/* ---- writing ---------------------------------------------------------- */

static store_rc file_put_begin(struct store_conn *c,
			       struct store_conn_put **out)
{
	struct conn_file *fc = to_file(c);
	struct store_conn_put *p;
	size_t size = fc->dirlen + sizeof(TMP_TEMPLATE);
	store_rc rc;
	int saverr;

	*out = NULL;
	p = malloc(sizeof(*p) + size);
	if (!p)
		return store_fail(STORE_NOMEM, "cannot allocate a blob put");
	memset(p, 0, sizeof(*p));
	p->fc = fc;
	snprintf(p->path, size, "%s" TMP_TEMPLATE, fc->dir);
	/* mkostemp creates 0600, and O_CLOEXEC keeps it from children */
	p->fd = mkostemp(p->path, O_CLOEXEC);
	if (p->fd < 0) {
		saverr = errno;
		rc = store_fail_errno(saverr,
				      "cannot create blob temp in '%s/tmp'",
				      fc->dir);
		free(p);
		return rc;
	}
	*out = p;
	return STORE_OK;
}

/*
 * A large blob is written around the page cache (O_DIRECT), in aligned
 * writes of PUT_STAGE bytes staged here: a put's blob is not read again
 * soon (a mount reads it O_DIRECT when it is not cached, and keeps what it
 * decompressed), so copying it into fresh page-cache pages only cost CPU
 * -- on the VMs we measure, writing 500 MB costs 0.15-1.2 s of system
 * time buffered, 0.04 s direct -- and the final fsync then had it all
 * still to write.  The first PUT_DIRECT_MIN bytes, and the tail, go
 * through the page cache as before (a small blob stays cheap, and a
 * batch of them is synced with one syncfs).  Only local block
 * filesystems: on a network filesystem an O_DIRECT write is a round trip.
 * Durability is unchanged: put_commit still fsyncs.
 *
 * put_go_direct() switches @p to O_DIRECT writes; at an aligned offset,
 * or nothing.
 */
static void put_go_direct(struct store_conn_put *p)
{
	void *stage = NULL;
	int fl;

	p->tried_direct = true;
	if (p->off % DIRECT_ALIGN || !store_is_direct_fs(p->fd))
		return;
	fl = fcntl(p->fd, F_GETFL);
	if (fl < 0 || posix_memalign(&stage, DIRECT_ALIGN, PUT_STAGE) != 0)
		return;
	if (fcntl(p->fd, F_SETFL, fl | O_DIRECT) < 0) {
		free(stage);
		return;
	}
	p->stage = stage;
	p->direct = true;
}

/* Back to buffered writes (the tail, or a filesystem that refused). */
static int put_go_buffered(struct store_conn_put *p)
{
	int fl = fcntl(p->fd, F_GETFL);

	p->direct = false;
	if (fl < 0 || fcntl(p->fd, F_SETFL, fl & ~O_DIRECT) < 0)
		return -1;
	return 0;
}

static int put_buffered(struct store_conn_put *p, const void *buf,
			size_t len)
{
	if (store_write_all(p->fd, buf, len) < 0)
		return -1;
	p->off += len;
	return 0;
}

/* Write the @p->fill staged bytes: O_DIRECT when they are a whole stage,
 * else (the tail) or when the filesystem refuses, through the cache. */
static int put_flush(struct store_conn_put *p)
{
	size_t done = 0;
	ssize_t n;

	while (p->direct && p->fill == PUT_STAGE && done < p->fill) {
		n = write(p->fd, p->stage + done, p->fill - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EINVAL)
			return -1;
		/* refused (EINVAL), or short of a whole block: the rest
		 * goes through the page cache */
		if (n <= 0 || (done + (size_t)n) % DIRECT_ALIGN) {
			if (n > 0)
				done += (size_t)n;
			break;
		}
		done += (size_t)n;
	}
	p->off += done;
	if (done < p->fill) {
		if (p->direct && put_go_buffered(p) < 0)
			return -1;
		if (put_buffered(p, p->stage + done, p->fill - done) < 0)
			return -1;
	}
	p->fill = 0;
	return 0;
}

static int put_write(struct store_conn_put *p, const char *b, size_t len)
{
	if (!p->tried_direct && p->off + len >= PUT_DIRECT_MIN) {
		/* reach an aligned offset through the cache first */
		size_t pad = (size_t)(-p->off % DIRECT_ALIGN);

		if (pad > len)
			pad = len;
		if (put_buffered(p, b, pad) < 0)
			return -1;
		b += pad;
		len -= pad;
		if (p->off % DIRECT_ALIGN == 0)
			put_go_direct(p);
	}
	if (!p->direct)
		return put_buffered(p, b, len);
	while (len) {
		size_t n = PUT_STAGE - p->fill;

		if (n > len)
			n = len;
		memcpy(p->stage + p->fill, b, n);
		p->fill += n;
		b += n;
		len -= n;
		if (p->fill == PUT_STAGE && put_flush(p) < 0)
			return -1;
	}
	return 0;
}

static store_rc file_put_write(struct store_conn_put *p, const void *buf,
			       size_t len)
{
	int saverr;

	if (put_write(p, buf, len) < 0) {
		saverr = errno;
		/* part of buf may be in the file: it must never be committed */
		p->failed = true;
		return store_fail_errno(saverr, "cannot write blob temp '%s'",
					p->path);
	}
	return STORE_OK;
}

static void put_free(struct store_conn_put *p)
{
	free(p->stage);
	free(p);
}

/* With @durable, fsync the blob and its directories (a crash leaves it
 * whole or absent); without, file_sync() does that for many at once. */
static store_rc commit(struct store_conn_put *p, const char *key,
		       bool durable)
{
	struct conn_file *fc = p->fc;
	char bucket[PATH_MAX], path[PATH_MAX];
	bool renamed = false;
	store_rc rc = STORE_OK;
	int saverr;

	if (!is_key(key)) {
		rc = bad_key(key);
		goto out;
	}
	if (!p->failed && p->fill && put_flush(p) < 0) {
		saverr = errno;
		p->failed = true;
		rc = store_fail_errno(saverr, "cannot write blob temp '%s'",
				      p->path);
		goto out;
	}
	if (p->failed) {
		rc = store_fail(STORE_IO,
				"blob temp '%s' lost a write; not committing",
				p->path);
		goto out;
	}
	if (durable && fsync(p->fd) < 0) {
		saverr = errno;
		rc = store_fail_errno(saverr, "cannot sync blob temp '%s'",
				      p->path);
		goto out;
	}

	key_path(fc, key, false, bucket);
	if (mkdir(bucket, 0700) == 0) {
		/* a new bucket must survive a crash before a blob in it */
		rc = durable ? sync_dir(fc->dir) : STORE_OK;
		if (rc != STORE_OK)
			goto out;
	} else if (errno != EEXIST) {
		saverr = errno;
		rc = store_fail_errno(saverr,
				      "cannot create blob directory '%s'",
				      bucket);
		goto out;
	}

	key_path(fc, key, true, path);
	store_crash_point("blob-temp");
	if (rename(p->path, path) < 0) {
		saverr = errno;
		rc = store_fail_errno(saverr, "cannot rename '%s' to '%s'",
				      p->path, path);
		goto out;
	}
	renamed = true;
	store_crash_point("blob-renamed");
	/*
	 * Should this fail, the blob stays: the same key may just have been
	 * committed by another writer whose index relies on it, and the
	 * content is the same.  The caller records nothing, so at worst the
	 * blob is an orphan for gc.
	 */
	if (durable)
		rc = sync_dir(bucket);
out:
	/* fsync has reported any write-back error: close cannot lose data */
	close(p->fd);
	if (!renamed)
		unlink(p->path);
	put_free(p);
	return rc;
}

static void file_put_abort(struct store_conn_put *p)
{
	if (!p)
		return;
	close(p->fd);
	unlink(p->path);
	put_free(p);
}

/* ---- reading ---------------------------------------------------------- */

static store_rc short_blob(const char *path, uint64_t off, size_t len)
{
	return store_fail(STORE_CORRUPT,
			  "blob '%s' is shorter than %llu + %zu bytes", path,
			  (unsigned long long)off, len);
}

/*
 * Reads of blobs that are not in the page cache go around it (O_DIRECT):
 * a mount reads each frame once and keeps what it decompressed in its
 * own cache, so copying the frame through fresh page-cache pages only
 * cost CPU (a third of a cold read's, more than verifying it) and pushed
 * out pages worth keeping.  A blob that is cached (just written by a put,
 * or read by someone else) is read from the cache as before; the kernel
 * says which through cachestat(2).  The O_DIRECT read lands in a bounce
 * buffer of the thread's, aligned, and is copied from there while it is
 * hot.
 */
struct bounce {
	void *buf;
	size_t cap;
};

static pthread_key_t bounce_key;
static pthread_once_t bounce_once = PTHREAD_ONCE_INIT;
static bool bounce_ok;

static void bounce_free(void *p)
{
	struct bounce *b = p;

	free(b->buf);
	free(b);
}

static void bounce_init(void)
{
	bounce_ok = pthread_key_create(&bounce_key, bounce_free) == 0;
}

/* This thread's bounce buffer of at least @need bytes, or NULL. */
static void *bounce_get(size_t need)
{
	struct bounce *b;
	void *p;

	pthread_once(&bounce_once, bounce_init);
	if (!bounce_ok)
		return NULL;
	b = pthread_getspecific(bounce_key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		if (pthread_setspecific(bounce_key, b) != 0) {
			free(b);
			return NULL;
		}
	}
	if (b->cap < need) {
		free(b->buf);
		b->buf = NULL;
		b->cap = 0;
		if (posix_memalign(&p, DIRECT_ALIGN, need) != 0)
			return NULL;
		b->buf = p;
		b->cap = need;
	}
	return b->buf;
}

/* Are all pages of [@off, @off + @len) of @fd in the page cache?  When
 * the kernel cannot say (before Linux 6.5), yes: read as before. */
static bool is_cached(int fd, uint64_t off, size_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	int64_t n;

	if (pg <= 0 || (n = store_cached_pages(fd, off, len)) < 0)
		return true;
	return (uint64_t)n >= (off + len + (uint64_t)pg - 1) / (uint64_t)pg -
			      off / (uint64_t)pg;
}

/*
 * Read [@off, @off + @len) of @fd (ours alone) around the page cache:
 * into @abuf (aligned, @acap bytes) when it has room, *out pointing at the
 * bytes in it, else through the thread's bounce buffer into @buf (*out =
 * @buf).  Returns 1 when done, 0 when the caller should read through the
 * page cache instead (the filesystem has no O_DIRECT, no memory), -1 with
 * errno set on a read error; a blob shorter than asked is EIO, as
 * store_pread_all() says it.
 */
static int pread_direct(int fd, void *buf, size_t len, uint64_t off,
			void *abuf, size_t acap, const void **out)
{
	uint64_t a0 = off & ~(uint64_t)(DIRECT_ALIGN - 1);
	uint64_t a1 = (off + len + DIRECT_ALIGN - 1) &
		      ~(uint64_t)(DIRECT_ALIGN - 1);
	size_t alen = (size_t)(a1 - a0), got = 0;
	char *b = abuf && acap >= alen ? abuf : bounce_get(alen);
	int fl = fcntl(fd, F_GETFL);

	if (!b || fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT) < 0)
		return 0;
	while (got < alen) {
		ssize_t n = pread(fd, b + got, alen - got,
				  (off_t)(a0 + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL && got == 0) {
			/* no O_DIRECT here after all */
			return fcntl(fd, F_SETFL, fl) == 0 ? 0 : -1;
		}
		if (n < 0)
			return -1;
		if (n == 0)
			break;		/* the end of the blob */
		got += (size_t)n;
		/* a read short of a whole block met the end of the file */
		if (got % DIRECT_ALIGN)
			break;
	}
	if (got < (size_t)(off + len - a0)) {
		errno = EIO;
		return -1;
	}
	if (b == abuf) {
		*out = b + (off - a0);
	} else {
		memcpy(buf, b + (off - a0), len);
		*out = buf;
	}
	return 1;
}

/* get() and get_into(): with @abuf, the bytes may land anywhere in it. */
static store_rc file_read(struct store_conn *c, const char *key,
			  uint64_t off, size_t len, void *buf, void *abuf,
			  size_t acap, const void **out)
{
	char path[PATH_MAX];
	struct stat st;
	store_rc rc = STORE_OK;
	uint64_t roff = off;
	size_t rlen = len;
	void *rbuf = buf;
	char byte;
	int fd = -1, saverr, r;

	if (!is_key(key))
		return bad_key(key);
	key_path(to_file(c), key, true, path);
	/* a symlink planted in a shared directory is not a blob */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		saverr = errno;
		return store_fail_errno(saverr, "cannot open blob '%s'", path);
	}
	if (len > INT64_MAX || off > (uint64_t)INT64_MAX - len) {
		rc = short_blob(path, off, len);
		goto out;
	}
	if (len == 0) {
		if (off == 0)
			goto out;
		/* an empty range must still lie in the blob: read the byte
		 * before it */
		rbuf = &byte;
		rlen = 1;
		roff = off - 1;
	}
	r = 0;
	*out = buf;
	if (!is_cached(fd, roff, rlen)) {
		/* on a network filesystem an O_DIRECT read is a round trip
		 * the client's readahead would have saved */
		if (rlen >= DIRECT_MIN && store_is_direct_fs(fd))
			r = pread_direct(fd, rbuf, rlen, roff, abuf, acap,
					 out);
		/* a small read brings in only its own pages: the device's
		 * readahead (8 MiB on some) would fill the page cache with
		 * the frames after it, which the next reads would then take
		 * from there, copy after copy, rather than around it */
		if (r == 0)
			posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	}
	if (r < 0 || (r == 0 && store_pread_all(fd, rbuf, rlen, roff) < 0)) {
		saverr = errno;
		/* store_pread_all() says EIO for a short file */
		if (saverr == EIO && fstat(fd, &st) == 0 &&
		    (uint64_t)st.st_size < roff + rlen)
			rc = short_blob(path, off, len);
		else
			rc = store_fail_errno(saverr, "cannot read blob '%s'",
					      path);
	}
out:
	close(fd);
	return rc;
}

static store_rc file_get(struct store_conn *c, const char *key, uint64_t off,
			 size_t len, void *buf)
{
	const void *p;

	return file_read(c, key, off, len, buf, NULL, 0, &p);
}

static store_rc file_get_into(struct store_conn *c, const char *key,
			      uint64_t off, size_t len, void *buf, size_t cap,
			      const void **out)
{
	return file_read(c, key, off, len, buf, buf, cap, out);
}

static store_rc file_stat(struct store_conn *c, const char *key,
			  uint64_t *size)
{
	char path[PATH_MAX];
	struct stat st;
	int saverr;

	*size = 0;
	if (!is_key(key))
		return bad_key(key);
	key_path(to_file(c), key, true, path);
	if (lstat(path, &st) < 0) {
		saverr = errno;
		return store_fail_errno(saverr, "cannot stat blob '%s'", path);
	}
	if (!S_ISREG(st.st_mode))
		return store_fail(STORE_CORRUPT,
				  "blob '%s' is not a regular file", path);
	*size = (uint64_t)st.st_size;
	return STORE_OK;
}

static store_rc file_evict(struct store_conn *c, const char *key)
{
	char path[PATH_MAX];
	int saverr;

	if (!is_key(key))
		return bad_key(key);
	key_path(to_file(c), key, true, path);
	if (unlink(path) < 0 && errno != ENOENT) {
		saverr = errno;
		return store_fail_errno(saverr, "cannot remove blob '%s'",
					path);
	}
	return STORE_OK;
}

/* ---- walking ---------------------------------------------------------- */

/* List bucket @name (two hex digits) at @path; *stop when @fn says so. */
static store_rc list_bucket(const char *path, const char *name,
			    store_conn_list_fn fn, void *arg, bool *stop)
{
	struct dirent *de;
	struct stat st;
	store_rc rc = STORE_OK;
	DIR *d;
	int saverr;

	d = opendir(path);
	if (!d) {
		saverr = errno;
		if (saverr == ENOENT)
			return STORE_OK;
		return store_fail_errno(saverr,
					"cannot open blob directory '%s'",
					path);
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			saverr = errno;
			if (saverr)
				rc = store_fail_errno(saverr,
						      "cannot read blob directory '%s'",
						      path);
			break;
		}
		/* anyone may drop files here: only keys in their bucket */
		if (!is_key(de->d_name) || memcmp(de->d_name, name, 2) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) < 0) {
			saverr = errno;
			if (saverr == ENOENT)	/* evicted meanwhile */
				continue;
			rc = store_fail_errno(saverr,
					      "cannot stat blob '%s/%s'", path,
					      de->d_name);
			break;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (fn(arg, de->d_name, (uint64_t)st.st_size) != 0) {
			*stop = true;
			break;
		}
	}
	closedir(d);
	return rc;
}

static store_rc file_list(struct store_conn *c, store_conn_list_fn fn,
			  void *arg)
{
	struct conn_file *fc = to_file(c);
	char path[PATH_MAX], name[3];
	bool stop = false;
	store_rc rc;
	unsigned b;

	for (b = 0; b < 256; b++) {
		snprintf(name, sizeof(name), "%02x", b);
		key_path(fc, name, false, path);
		rc = list_bucket(path, name, fn, arg, &stop);
		if (rc != STORE_OK || stop)
			return rc;
	}
	return STORE_OK;
}

static store_rc file_leftovers(struct store_conn *c, bool remove,
			       unsigned min_age_s, store_conn_left_fn fn,
			       void *arg)
{
	struct conn_file *fc = to_file(c);
	char tmp[PATH_MAX], path[PATH_MAX + NAME_MAX + 2];
	struct dirent *de;
	struct stat st;
	store_rc rc = STORE_OK;
	time_t now;
	DIR *d;
	int saverr;

	snprintf(tmp, sizeof(tmp), "%s/tmp", fc->dir);
	d = opendir(tmp);
	if (!d) {
		saverr = errno;
		if (saverr == ENOENT)
			return STORE_OK;
		return store_fail_errno(saverr,
					"cannot open temp directory '%s'", tmp);
	}
	now = time(NULL);
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			saverr = errno;
			if (saverr)
				rc = store_fail_errno(saverr,
						      "cannot read temp directory '%s'",
						      tmp);
			break;
		}
		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) < 0) {
			saverr = errno;
			if (saverr == ENOENT)	/* committed meanwhile */
				continue;
			rc = store_fail_errno(saverr,
					      "cannot stat blob temp '%s/%s'",
					      tmp, de->d_name);
			break;
		}
		/* a write in progress keeps its mtime fresh.  An age of 0
		 * takes everything: a file's mtime may be a few ms ahead
		 * of time(), whose clock is coarser (multigrain
		 * timestamps), and then a second ahead at a boundary */
		if (!S_ISREG(st.st_mode) ||
		    (min_age_s > 0 && (long long)now -
		     (long long)st.st_mtime < (long long)min_age_s))
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmp, de->d_name);
		if (remove && unlinkat(dirfd(d), de->d_name, 0) < 0 &&
		    errno != ENOENT) {
			saverr = errno;
			rc = store_fail_errno(saverr,
					      "cannot remove blob temp '%s'",
					      path);
			break;
		}
		if (fn)
			fn(arg, path, (uint64_t)st.st_size);
	}
	closedir(d);
	return rc;
}

static void file_close(struct store_conn *c)
{
	free(to_file(c));
}

/* ---- tags: DIR/tags/NAME holds a key and a newline ---------------------- */

static store_rc file_tag_set(struct store_conn *c, const char *name,
			     const char *key)
{
	struct conn_file *fc = to_file(c);
	char dir[PATH_MAX], tmp[PATH_MAX], final[PATH_MAX], line[80];
	store_rc rc = STORE_OK;
	int fd = -1, saverr;

	if (!is_key(key))
		return bad_key(key);
	if (!store_is_tag_name(name))
		return store_fail(STORE_INVAL, "'%s' is not a tag name", name);
	if (snprintf(dir, sizeof(dir), "%s/tags", fc->dir) >=
	    (int)sizeof(dir) - 80)
		return store_fail(STORE_NAMETOOLONG, "tag path too long");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return store_fail_errno(errno, "cannot create '%s'", dir);
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >=
	    (int)sizeof(tmp) ||
	    snprintf(final, sizeof(final), "%s/%s", dir, name) >=
	    (int)sizeof(final))
		return store_fail(STORE_NAMETOOLONG, "tag path too long");
	fd = mkstemp(tmp);
	if (fd < 0)
		return store_fail_errno(errno, "cannot create tag temp in '%s'",
					dir);
	snprintf(line, sizeof(line), "%s\n", key);
	if (store_write_all(fd, line, strlen(line)) < 0 || fsync(fd) < 0 ||
	    rename(tmp, final) < 0) {
		saverr = errno;
		rc = store_fail_errno(saverr, "cannot write tag '%s'", final);
		unlink(tmp);
	}
	close(fd);
	return rc;
}

static store_rc file_tag_get(struct store_conn *c, const char *name,
			     char key[STORE_KEY_HEX + 1])
{
	struct conn_file *fc = to_file(c);
	char path[PATH_MAX], line[STORE_KEY_HEX + 2];
	ssize_t n;
	int fd, saverr;

	key[0] = '\0';
	if (!store_is_tag_name(name))
		return store_fail(STORE_INVAL, "'%s' is not a tag name", name);
	if (snprintf(path, sizeof(path), "%s/tags/%s", fc->dir, name) >=
	    (int)sizeof(path))
		return store_fail(STORE_NAMETOOLONG, "tag path too long");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		saverr = errno;
		if (saverr == ENOENT)
			return store_fail(STORE_NOTFOUND, "no tag '%s'", name);
		return store_fail_errno(saverr, "cannot open tag '%s'", path);
	}
	n = store_read_full(fd, line, sizeof(line));
	saverr = errno;
	close(fd);
	if (n < 0)
		return store_fail_errno(saverr, "cannot read tag '%s'", path);
	if (n != STORE_KEY_HEX + 1 || line[STORE_KEY_HEX] != '\n')
		return store_fail(STORE_CORRUPT, "tag '%s' is corrupt", path);
	line[STORE_KEY_HEX] = '\0';
	if (!is_key(line))
		return store_fail(STORE_CORRUPT, "tag '%s' is corrupt", path);
	memcpy(key, line, STORE_KEY_HEX + 1);
	return STORE_OK;
}

static store_rc file_put_commit(struct store_conn_put *p, const char *key)
{
	return commit(p, key, true);
}

static store_rc file_put_commit_nosync(struct store_conn_put *p,
				       const char *key)
{
	return commit(p, key, false);
}

/* One syncfs(2) makes every blob written so far durable, with their
 * directory entries: far cheaper than an fsync per blob and directory. */
static store_rc file_sync(struct store_conn *c)
{
	struct conn_file *fc = to_file(c);
	store_rc rc = STORE_OK;
	int fd, saverr;

	fd = open(fc->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return store_fail_errno(errno, "cannot open '%s'", fc->dir);
	if (syncfs(fd) < 0) {
		saverr = errno;
		rc = store_fail_errno(saverr, "cannot sync '%s'", fc->dir);
	}
	close(fd);
	return rc;
}

/* ---- claims: a file connector belongs to one writable store --------- */

static store_rc file_claim(struct store_conn *c, const char *key,
			   const char *owner)
{
	(void)c;
	(void)owner;
	return is_key(key) ? STORE_OK : bad_key(key);
}

static store_rc file_unclaim(struct store_conn *c, const char *key,
			     const char *owner, uint64_t *others)
{
	(void)c;
	(void)owner;
	*others = 0;
	return is_key(key) ? STORE_OK : bad_key(key);
}

static store_rc file_claims(struct store_conn *c, const char *key,
			    uint64_t *n)
{
	(void)c;
	*n = 0;
	return is_key(key) ? STORE_OK : bad_key(key);
}

static const struct store_conn_ops file_ops = {
	.name = "file",
	.put_begin = file_put_begin,
	.put_write = file_put_write,
	.put_commit = file_put_commit,
	.put_commit_nosync = file_put_commit_nosync,
	.sync = file_sync,
	.put_abort = file_put_abort,
	.get = file_get,
	.get_into = file_get_into,
	.stat = file_stat,
	.evict = file_evict,
	.list = file_list,
	.leftovers = file_leftovers,
	.close = file_close,
	.claim = file_claim,
	.unclaim = file_unclaim,
	.claims = file_claims,
	.tag_set = file_tag_set,
	.tag_get = file_tag_get,
};

/* ---- opening ---------------------------------------------------------- */

/* @path must be a directory; with @create, make it (0700) if missing. */
static store_rc check_dir(const char *path, bool create)
{
	struct stat st;
	int saverr;

	if (create && mkdir(path, 0700) < 0 && errno != EEXIST) {
		saverr = errno;
		return store_fail_errno(saverr,
					"cannot create blob directory '%s'",
					path);
	}
	if (stat(path, &st) < 0) {
		saverr = errno;
		return store_fail_errno(saverr,
					"cannot open blob directory '%s'",
					path);
	}
	if (!S_ISDIR(st.st_mode))
		return store_fail(STORE_NOTDIR,
				  "blob directory '%s' is not a directory",
				  path);
	return STORE_OK;
}

store_rc store_conn_file_open(const char *dir, bool create,
			      struct store_conn **out)
{
	struct conn_file *fc;
	char tmp[PATH_MAX];
	size_t len;
	store_rc rc;

	*out = NULL;
	if (!dir || !*dir)
		return store_fail(STORE_INVAL,
				  "the file connector needs a directory");
	len = strlen(dir);
	/* every path we build then fits PATH_MAX, unchecked */
	if (len + BLOB_SUFFIX_LEN >= PATH_MAX)
		return store_fail(STORE_NAMETOOLONG,
				  "blob directory name '%.64s...' is too long",
				  dir);
	rc = check_dir(dir, create);
	if (rc != STORE_OK)
		return rc;
	if (create) {
		snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
		rc = check_dir(tmp, true);
		if (rc != STORE_OK)
			return rc;
	}

	fc = malloc(sizeof(*fc) + len + 1);
	if (!fc)
		return store_fail(STORE_NOMEM,
				  "cannot allocate the file connector");
	fc->conn.ops = &file_ops;
	fc->dirlen = len;
	memcpy(fc->dir, dir, len + 1);
	*out = &fc->conn;
	return STORE_OK;
}
