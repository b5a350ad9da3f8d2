/* SPDX-License-Identifier: MIT */
/*
 * check_conn_file.c - unit tests of store/conn_file.c, the file
 * connector: round trips, keys that must never become paths, what a
 * shared directory may contain, leftovers of interrupted writes, and the
 * failures a disk brings (a full tmpfs, a read-only mount, a failing
 * fsync) -- after each of which nothing half-written may be visible.
 *
 * The tmpfs and read-only tests need root (mount(2)) and say so when
 * skipped.  fsync() is replaced below so that a test can make one fail.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "hash.h"
#include "store_int.h"

#include "failmalloc.h"

static char base[PATH_MAX];	/* the suite's scratch directory */
static char tdir[PATH_MAX];	/* this test's directory, below base */
static char sdir[PATH_MAX];	/* the connector's directory, below tdir */
static struct store_conn *conn;	/* opened on sdir by the fixture */

/* ---- fsync that fails on demand --------------------------------------- */

static int fsync_fail_at;	/* fail the Nth fsync from now; 0: never */
static int fsync_calls;		/* fsyncs so far */

int fsync(int fd)
{
	fsync_calls++;
	if (fsync_fail_at > 0 && --fsync_fail_at == 0) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fsync, fd);
}

/* ---- helpers ---------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* snprintf into @buf of PATH_MAX bytes, which must not truncate. */
static void pathf(char *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void pathf(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	ck_assert(n > 0 && n < PATH_MAX);
}

/* @fmt gets sdir, then @a. */
static void path_of(char *buf, const char *fmt, const char *a)
{
	pathf(buf, fmt, sdir, a);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(store_write_all(fd, text, strlen(text)), 0);
	close(fd);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Entries in @dir other than . and .. */
static int count_entries(const char *dir)
{
	char cmd[PATH_MAX + 64];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", &n), 1);
	pclose(f);
	return n;
}

static int tmp_entries(void)
{
	char p[PATH_MAX];

	path_of(p, "%s/tmp%s", "");
	return count_entries(p);
}

/* The key of @len bytes at @p. */
static void key_of(const void *p, size_t len, char key[STORE_KEY_HEX + 1])
{
	uint8_t d[STORE_SHA256_LEN];

	ck_assert_int_eq(store_sha256(p, len, d), STORE_OK);
	store_hex(d, sizeof(d), key);
}

/* A made-up key starting with the two hex digits @b. */
static void key_in(const char *b, unsigned i, char key[STORE_KEY_HEX + 1])
{
	snprintf(key, STORE_KEY_HEX + 1, "%.2s%062x", b, i);
	ck_assert_uint_eq(strlen(key), STORE_KEY_HEX);
}

static store_rc put(struct store_conn *c, const char *key, const void *p,
		    size_t len)
{
	struct store_conn_put *wp = NULL;
	store_rc rc;

	rc = c->ops->put_begin(c, &wp);
	if (rc != STORE_OK) {
		ck_assert_ptr_null(wp);
		return rc;
	}
	rc = c->ops->put_write(wp, p, len);
	if (rc != STORE_OK) {
		c->ops->put_abort(wp);
		return rc;
	}
	return c->ops->put_commit(wp, key);
}

/* Put @text under its own key, which goes to @key. */
static void put_text(const char *text, char key[STORE_KEY_HEX + 1])
{
	key_of(text, strlen(text), key);
	ck_assert_int_eq(put(conn, key, text, strlen(text)), STORE_OK);
}

struct seen {
	int n;				/* calls */
	int stop_after;			/* non-zero: stop after this many */
	char keys[8][STORE_KEY_HEX + 1];
	uint64_t sizes[8];
};

static int on_blob(void *arg, const char *key, uint64_t size)
{
	struct seen *s = arg;

	if (s->n < 8) {
		snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
		s->sizes[s->n] = size;
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static int seen_size(const struct seen *s, const char *key, uint64_t *size)
{
	int i, hits = 0;

	for (i = 0; i < s->n && i < 8; i++) {
		if (strcmp(s->keys[i], key) == 0) {
			*size = s->sizes[i];
			hits++;
		}
	}
	return hits;
}

static bool need_root(const char *what)
{
	if (geteuid() == 0)
		return true;
	fprintf(stderr, "check_conn_file: %s skipped: needs root\n", what);
	return false;
}

/* ---- fixture ---------------------------------------------------------- */

static void setup(void)
{
	pathf(tdir, "%s/t-XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	pathf(sdir, "%s/s", tdir);
	umask(022);
	fsync_fail_at = 0;
	conn = NULL;
	ck_assert_int_eq(store_conn_file_open(sdir, true, &conn), STORE_OK);
	ck_assert_ptr_nonnull(conn);
}

static void teardown(void)
{
	if (conn)
		conn->ops->close(conn);
	conn = NULL;
	rm_rf(tdir);
}

/* ---- opening ---------------------------------------------------------- */

START_TEST(test_conn_open_bad_args)
{
	struct store_conn *c = (struct store_conn *)&c;
	char *longdir;

	ck_assert_int_eq(store_conn_file_open(NULL, true, &c), STORE_INVAL);
	ck_assert_ptr_null(c);
	c = (struct store_conn *)&c;
	ck_assert_int_eq(store_conn_file_open("", false, &c), STORE_INVAL);
	ck_assert_ptr_null(c);

	longdir = malloc(PATH_MAX);
	ck_assert_ptr_nonnull(longdir);
	memset(longdir, 'a', PATH_MAX - 64);
	longdir[0] = '/';
	longdir[PATH_MAX - 64] = '\0';
	c = (struct store_conn *)&c;
	ck_assert_int_eq(store_conn_file_open(longdir, true, &c),
			 STORE_NAMETOOLONG);
	ck_assert_ptr_null(c);
	ck_assert_str_ne(store_last_error(), "");
	free(longdir);
}
END_TEST

START_TEST(test_conn_open_missing)
{
	struct store_conn *c = (struct store_conn *)&c;
	char p[PATH_MAX];

	/* without create, the directory must be there */
	path_of(p, "%s/nothere%s", "");
	ck_assert_int_eq(store_conn_file_open(p, false, &c), STORE_NOTFOUND);
	ck_assert_ptr_null(c);
	ck_assert(!exists(p));
	/* with create, only the last component is made */
	path_of(p, "%s/no/there%s", "");
	c = (struct store_conn *)&c;
	ck_assert_int_eq(store_conn_file_open(p, true, &c), STORE_NOTFOUND);
	ck_assert_ptr_null(c);
	ck_assert(strstr(store_last_error(), "cannot create"));
}
END_TEST

START_TEST(test_conn_open_not_dir)
{
	struct store_conn *c = (struct store_conn *)&c;
	char p[PATH_MAX], q[PATH_MAX];

	path_of(p, "%s/file%s", "");
	write_file(p, "x");
	ck_assert_int_eq(store_conn_file_open(p, false, &c), STORE_NOTDIR);
	ck_assert_ptr_null(c);
	c = (struct store_conn *)&c;
	ck_assert_int_eq(store_conn_file_open(p, true, &c), STORE_NOTDIR);
	ck_assert_ptr_null(c);

	/* a tmp that is not a directory */
	path_of(p, "%s/d%s", "");
	ck_assert_int_eq(mkdir(p, 0700), 0);
	path_of(q, "%s/d/tmp%s", "");
	write_file(q, "x");
	c = (struct store_conn *)&c;
	ck_assert_int_eq(store_conn_file_open(p, true, &c), STORE_NOTDIR);
	ck_assert_ptr_null(c);
	/* without create, tmp is not needed (a reader of a shared dir) */
	ck_assert_int_eq(store_conn_file_open(p, false, &c), STORE_OK);
	c->ops->close(c);
}
END_TEST

START_TEST(test_conn_open_existing)
{
	struct store_conn *c = NULL;
	char key[STORE_KEY_HEX + 1];
	char buf[5];

	put_text("hello", key);
	ck_assert_str_eq(conn->ops->name, "file");
	/* reopened, with or without create, it holds the same blobs */
	ck_assert_int_eq(store_conn_file_open(sdir, true, &c), STORE_OK);
	ck_assert_int_eq(c->ops->get(c, key, 0, 5, buf), STORE_OK);
	ck_assert(memcmp(buf, "hello", 5) == 0);
	c->ops->close(c);
	ck_assert_int_eq(store_conn_file_open(sdir, false, &c), STORE_OK);
	ck_assert_int_eq(c->ops->get(c, key, 0, 5, buf), STORE_OK);
	c->ops->close(c);
	/* destroyers take NULL */
	conn->ops->close(NULL);
	conn->ops->put_abort(NULL);
}
END_TEST

START_TEST(test_conn_modes)
{
	char key[STORE_KEY_HEX + 1], p[PATH_MAX];
	struct stat st;

	umask(0);
	put_text("modes", key);
	ck_assert_int_eq(stat(sdir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	path_of(p, "%s/tmp%s", "");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	pathf(p, "%s/%.2s", sdir, key);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	pathf(p, "%s/%.2s/%s", sdir, key, key);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
}
END_TEST

/* ---- blobs ------------------------------------------------------------ */

START_TEST(test_conn_roundtrip)
{
	const struct store_conn_ops *o = conn->ops;
	struct store_conn_put *wp = NULL;
	char k0[STORE_KEY_HEX + 1], k1[STORE_KEY_HEX + 1];
	char k2[STORE_KEY_HEX + 1];
	struct seen s = { 0 };
	uint8_t *big, *got;
	uint64_t size;
	size_t i;

	big = malloc(100000);
	got = malloc(100000);
	ck_assert_ptr_nonnull(big);
	ck_assert_ptr_nonnull(got);
	for (i = 0; i < 100000; i++)
		big[i] = (uint8_t)(i * 7 + i / 1000);

	put_text("", k0);
	put_text("x", k1);
	/* streamed in uneven writes */
	key_of(big, 100000, k2);
	ck_assert_int_eq(o->put_begin(conn, &wp), STORE_OK);
	ck_assert_int_eq(tmp_entries(), 1);
	ck_assert_int_eq(o->put_write(wp, big, 1), STORE_OK);
	ck_assert_int_eq(o->put_write(wp, big + 1, 0), STORE_OK);
	ck_assert_int_eq(o->put_write(wp, big + 1, 65535), STORE_OK);
	ck_assert_int_eq(o->put_write(wp, big + 65536, 100000 - 65536),
			 STORE_OK);
	/* not visible before the commit */
	ck_assert_int_eq(o->stat(conn, k2, &size), STORE_NOTFOUND);
	ck_assert_int_eq(o->put_commit(wp, k2), STORE_OK);
	ck_assert_int_eq(tmp_entries(), 0);

	ck_assert_int_eq(o->stat(conn, k0, &size), STORE_OK);
	ck_assert_uint_eq(size, 0);
	ck_assert_int_eq(o->stat(conn, k1, &size), STORE_OK);
	ck_assert_uint_eq(size, 1);
	ck_assert_int_eq(o->stat(conn, k2, &size), STORE_OK);
	ck_assert_uint_eq(size, 100000);

	ck_assert_int_eq(o->get(conn, k0, 0, 0, got), STORE_OK);
	ck_assert_int_eq(o->get(conn, k1, 0, 1, got), STORE_OK);
	ck_assert_uint_eq(got[0], 'x');
	ck_assert_int_eq(o->get(conn, k2, 0, 100000, got), STORE_OK);
	ck_assert(memcmp(got, big, 100000) == 0);
	ck_assert_int_eq(o->get(conn, k2, 77777, 22223, got), STORE_OK);
	ck_assert(memcmp(got, big + 77777, 22223) == 0);
	ck_assert_int_eq(o->get(conn, k2, 100000, 0, got), STORE_OK);

	ck_assert_int_eq(o->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 3);
	ck_assert_int_eq(seen_size(&s, k0, &size), 1);
	ck_assert_uint_eq(size, 0);
	ck_assert_int_eq(seen_size(&s, k1, &size), 1);
	ck_assert_uint_eq(size, 1);
	ck_assert_int_eq(seen_size(&s, k2, &size), 1);
	ck_assert_uint_eq(size, 100000);

	ck_assert_int_eq(o->evict(conn, k1), STORE_OK);
	ck_assert_int_eq(o->stat(conn, k1, &size), STORE_NOTFOUND);
	ck_assert_uint_eq(size, 0);
	ck_assert_int_eq(o->get(conn, k1, 0, 1, got), STORE_NOTFOUND);
	ck_assert_int_eq(o->evict(conn, k1), STORE_OK);	/* gone: fine */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(o->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 2);
	ck_assert_int_eq(seen_size(&s, k1, &size), 0);
	free(got);
	free(big);
}
END_TEST

START_TEST(test_conn_nosync_and_tags)
{
	struct store_conn_put *wp = NULL;
	char key[STORE_KEY_HEX + 1], got[STORE_KEY_HEX + 1], buf[8];
	const char *text = "lazy";

	key_of(text, strlen(text), key);
	ck_assert_int_eq(conn->ops->put_begin(conn, &wp), STORE_OK);
	ck_assert_int_eq(conn->ops->put_write(wp, text, 4), STORE_OK);
	ck_assert_int_eq(conn->ops->put_commit_nosync(wp, key), STORE_OK);
	ck_assert_int_eq(conn->ops->sync(conn), STORE_OK);
	ck_assert_int_eq(conn->ops->get(conn, key, 0, 4, buf), STORE_OK);
	ck_assert(!memcmp(buf, text, 4));
	/* tags: set, replace, get; bad names and keys refused */
	ck_assert_int_eq(conn->ops->tag_get(conn, "t", got), STORE_NOTFOUND);
	ck_assert_int_eq(conn->ops->tag_set(conn, "t", key), STORE_OK);
	ck_assert_int_eq(conn->ops->tag_get(conn, "t", got), STORE_OK);
	ck_assert_str_eq(got, key);
	ck_assert_int_eq(conn->ops->tag_set(conn, "../x", key), STORE_INVAL);
	ck_assert_int_eq(conn->ops->tag_set(conn, "t", "nokey"), STORE_INVAL);
	ck_assert_int_eq(conn->ops->tag_get(conn, "a/b", got), STORE_INVAL);
	{
		char p[PATH_MAX];
		FILE *f;

		pathf(p, "%s/tags/bad", sdir);
		f = fopen(p, "w");
		ck_assert_ptr_nonnull(f);
		fputs("not a key\n", f);
		fclose(f);
		ck_assert_int_eq(conn->ops->tag_get(conn, "bad", got),
				 STORE_CORRUPT);
	}
}
END_TEST

START_TEST(test_conn_missing)
{
	char key[STORE_KEY_HEX + 1], buf[4];
	uint64_t size = 9;
	struct seen s = { 0 };

	key_in("ab", 1, key);
	store_clear_error();
	ck_assert_int_eq(conn->ops->get(conn, key, 0, 4, buf), STORE_NOTFOUND);
	ck_assert(strstr(store_last_error(), key));
	ck_assert_int_eq(conn->ops->stat(conn, key, &size), STORE_NOTFOUND);
	ck_assert_uint_eq(size, 0);
	ck_assert_int_eq(conn->ops->evict(conn, key), STORE_OK);
	ck_assert_int_eq(conn->ops->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 0);
}
END_TEST

START_TEST(test_conn_get_beyond_end)
{
	const struct store_conn_ops *o = conn->ops;
	char key[STORE_KEY_HEX + 1], p[PATH_MAX];
	char text[101], buf[128];

	memset(text, 'q', 100);
	text[100] = '\0';
	put_text(text, key);
	ck_assert_int_eq(o->get(conn, key, 90, 10, buf), STORE_OK);
	store_clear_error();
	ck_assert_int_eq(o->get(conn, key, 90, 11, buf), STORE_CORRUPT);
	ck_assert(strstr(store_last_error(), "shorter"));
	ck_assert_int_eq(o->get(conn, key, 0, 101, buf), STORE_CORRUPT);
	ck_assert_int_eq(o->get(conn, key, 100, 1, buf), STORE_CORRUPT);
	ck_assert_int_eq(o->get(conn, key, 1000, 1, buf), STORE_CORRUPT);
	/* an empty range must lie in the blob too */
	ck_assert_int_eq(o->get(conn, key, 100, 0, buf), STORE_OK);
	ck_assert_int_eq(o->get(conn, key, 101, 0, buf), STORE_CORRUPT);
	/* ranges no file can have */
	ck_assert_int_eq(o->get(conn, key, UINT64_MAX, 1, buf),
			 STORE_CORRUPT);
	ck_assert_int_eq(o->get(conn, key, (uint64_t)INT64_MAX, 1, buf),
			 STORE_CORRUPT);
	ck_assert_int_eq(o->get(conn, key, 0, SIZE_MAX, buf), STORE_CORRUPT);
	ck_assert_int_eq(o->get(conn, key, UINT64_MAX, 0, buf),
			 STORE_CORRUPT);

	/* a blob cut short by someone else */
	pathf(p, "%s/%.2s/%s", sdir, key, key);
	ck_assert_int_eq(truncate(p, 50), 0);
	ck_assert_int_eq(o->get(conn, key, 40, 20, buf), STORE_CORRUPT);
	ck_assert_int_eq(o->get(conn, key, 40, 10, buf), STORE_OK);
}
END_TEST

/* Large reads of a blob out of the page cache go around it (O_DIRECT,
 * at any offset) and give the same bytes and the same errors. */
START_TEST(test_conn_get_uncached)
{
	const struct store_conn_ops *o = conn->ops;
	size_t len = (1u << 20) + 12345, i;
	size_t acap = 300000 + 2 * STORE_CONN_ALIGN;
	char key[STORE_KEY_HEX + 1], p[PATH_MAX];
	unsigned char *blob = malloc(len), *buf = malloc(len);
	void *abuf = NULL;
	int fd;

	ck_assert_ptr_nonnull(blob);
	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < len; i++)
		blob[i] = (unsigned char)(i * 7 + i / 4093);
	key_of(blob, len, key);
	ck_assert_int_eq(put(conn, key, blob, len), STORE_OK);
	pathf(p, "%s/%.2s/%s", sdir, key, key);
	fd = open(p, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	for (i = 0; i < 2; i++) {
		/* out of the page cache (where the filesystem lets us) */
		ck_assert_int_eq(fdatasync(fd), 0);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		memset(buf, 0, len);
		ck_assert_int_eq(o->get(conn, key, 4097, 300000, buf),
				 STORE_OK);
		ck_assert_mem_eq(buf, blob + 4097, 300000);
		ck_assert_int_eq(o->get(conn, key, 0, len, buf), STORE_OK);
		ck_assert_mem_eq(buf, blob, len);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		ck_assert_int_eq(o->get(conn, key, len - 70000, 70000, buf),
				 STORE_OK);
		ck_assert_mem_eq(buf, blob + len - 70000, 70000);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		store_clear_error();
		ck_assert_int_eq(o->get(conn, key, len - 70000, 70001, buf),
				 STORE_CORRUPT);
		ck_assert(strstr(store_last_error(), "shorter"));
	}
	/* get_into: the bytes anywhere in an aligned buffer, uncached or
	 * cached, large or small */
	ck_assert_ptr_nonnull(o->get_into);
	ck_assert_int_eq(posix_memalign(&abuf, STORE_CONN_ALIGN, acap), 0);
	for (i = 0; i < 2; i++) {
		const void *at = NULL;

		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		ck_assert_int_eq(o->get_into(conn, key, 4097, 300000, abuf,
					     acap, &at), STORE_OK);
		ck_assert_ptr_nonnull(at);
		ck_assert_mem_eq(at, blob + 4097, 300000);
		ck_assert_int_eq(o->get_into(conn, key, 123, 1000, abuf, acap,
					     &at), STORE_OK);
		ck_assert_mem_eq(at, blob + 123, 1000);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		ck_assert_int_eq(o->get_into(conn, key, len - 70000, 70001,
					     abuf, acap, &at), STORE_CORRUPT);
	}
	free(abuf);
	close(fd);
	free(blob);
	free(buf);
}
END_TEST

/*
 * A blob large enough to be written around the page cache, in pieces of
 * every awkward size (the staging of O_DIRECT writes, the switch at an
 * aligned offset, the tail through the cache), comes back whole; and an
 * abort in the middle of one leaves nothing.
 */
START_TEST(test_conn_put_large)
{
	const struct store_conn_ops *o = conn->ops;
	static const size_t pieces[] = { 1, 4095, 100000, 3u << 20, 4096,
					 (5u << 20) + 3, 77, 1u << 20 };
	size_t len = (20u << 20) + 777, off = 0, i;
	char key[STORE_KEY_HEX + 1];
	unsigned char *blob = malloc(len), *buf = malloc(len);
	struct store_conn_put *wp = NULL;
	uint64_t size = 0;

	ck_assert_ptr_nonnull(blob);
	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < len; i++)
		blob[i] = (unsigned char)(i * 13 + i / 4099);
	key_of(blob, len, key);
	ck_assert_int_eq(o->put_begin(conn, &wp), STORE_OK);
	for (i = 0; off < len; i++) {
		size_t n = pieces[i % (sizeof(pieces) / sizeof(pieces[0]))];

		if (n > len - off)
			n = len - off;
		ck_assert_int_eq(o->put_write(wp, blob + off, n), STORE_OK);
		off += n;
	}
	ck_assert_int_eq(o->put_commit(wp, key), STORE_OK);
	ck_assert_int_eq(o->stat(conn, key, &size), STORE_OK);
	ck_assert_uint_eq(size, len);
	ck_assert_int_eq(o->get(conn, key, 0, len, buf), STORE_OK);
	ck_assert_mem_eq(buf, blob, len);
	ck_assert_int_eq(tmp_entries(), 0);

	ck_assert_int_eq(o->put_begin(conn, &wp), STORE_OK);
	ck_assert_int_eq(o->put_write(wp, blob, 13u << 20), STORE_OK);
	o->put_abort(wp);
	ck_assert_int_eq(tmp_entries(), 0);
	free(blob);
	free(buf);
}
END_TEST

/* Committing a key that is already there replaces it. */
START_TEST(test_conn_replace)
{
	char key[STORE_KEY_HEX + 1], buf[3];
	uint64_t size;

	key_in("00", 0, key);
	ck_assert_int_eq(put(conn, key, "one", 3), STORE_OK);
	ck_assert_int_eq(put(conn, key, "two", 3), STORE_OK);
	ck_assert_int_eq(conn->ops->get(conn, key, 0, 3, buf), STORE_OK);
	ck_assert(memcmp(buf, "two", 3) == 0);
	ck_assert_int_eq(conn->ops->stat(conn, key, &size), STORE_OK);
	ck_assert_uint_eq(size, 3);
	ck_assert_int_eq(tmp_entries(), 0);
}
END_TEST

static const char *const bad_keys[] = {
	"../etc/passwd",
	"../../../../../../../../../../../../../../../../../../etc/passwd",
	"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
	"e3/0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"..b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"",
	NULL,
};

#define NBAD_KEYS	((int)(sizeof(bad_keys) / sizeof(bad_keys[0])))

START_TEST(test_conn_bad_keys)
{
	const struct store_conn_ops *o = conn->ops;
	const char *key = bad_keys[_i];
	struct store_conn_put *wp = NULL;
	struct seen s = { 0 };
	uint64_t size = 5;
	char buf[4];

	ck_assert_int_eq(o->get(conn, key, 0, 1, buf), STORE_INVAL);
	ck_assert_int_eq(o->stat(conn, key, &size), STORE_INVAL);
	ck_assert_uint_eq(size, 0);
	ck_assert_int_eq(o->evict(conn, key), STORE_INVAL);
	ck_assert_int_eq(o->put_begin(conn, &wp), STORE_OK);
	ck_assert_int_eq(o->put_write(wp, "data", 4), STORE_OK);
	store_clear_error();
	ck_assert_int_eq(o->put_commit(wp, key), STORE_INVAL);
	ck_assert(strstr(store_last_error(), "bad blob key"));
	/* the temp is gone and nothing was made anywhere */
	ck_assert_int_eq(tmp_entries(), 0);
	ck_assert_int_eq(count_entries(sdir), 1);	/* tmp */
	ck_assert_int_eq(count_entries(tdir), 1);	/* s */
	ck_assert_int_eq(o->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 0);
}
END_TEST

START_TEST(test_conn_put_abort)
{
	struct store_conn_put *wp = NULL;
	struct seen s = { 0 };

	ck_assert_int_eq(conn->ops->put_begin(conn, &wp), STORE_OK);
	ck_assert_int_eq(conn->ops->put_write(wp, "abandoned", 9), STORE_OK);
	ck_assert_int_eq(tmp_entries(), 1);
	conn->ops->put_abort(wp);
	ck_assert_int_eq(tmp_entries(), 0);
	ck_assert_int_eq(count_entries(sdir), 1);
	ck_assert_int_eq(conn->ops->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 0);
}
END_TEST

/* Whatever else lies in a shared directory is not a blob. */
START_TEST(test_conn_list_skips)
{
	char key[STORE_KEY_HEX + 1], other[STORE_KEY_HEX + 1];
	char p[PATH_MAX], name[PATH_MAX];
	struct seen s = { 0 };
	uint64_t size;
	unsigned i;

	key_in("ab", 1, key);
	ck_assert_int_eq(put(conn, key, "blob", 4), STORE_OK);

	path_of(p, "%s/ab/junk%s", "");
	write_file(p, "j");
	key_in("cd", 2, other);		/* a key in the wrong bucket */
	path_of(p, "%s/ab/%s", other);
	write_file(p, "j");
	/* uppercase */
	for (i = 0; i < STORE_KEY_HEX; i++)
		name[i] = "AB0123456789ABCDEF"[i % 18];
	name[STORE_KEY_HEX] = '\0';
	path_of(p, "%s/ab/%s", name);
	write_file(p, "j");
	key_in("ab", 3, other);		/* a directory */
	path_of(p, "%s/ab/%s", other);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	key_in("ab", 4, other);		/* a symlink */
	path_of(p, "%s/ab/%s", other);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	path_of(p, "%s/zz%s", "");		/* not a bucket */
	ck_assert_int_eq(mkdir(p, 0700), 0);
	key_in("zz", 5, other);
	path_of(p, "%s/zz/%s", other);
	write_file(p, "j");
	key_in("ab", 6, other);		/* a temp with a key's name */
	path_of(p, "%s/tmp/%s", other);
	write_file(p, "j");
	path_of(p, "%s/AB%s", "");		/* uppercase bucket */
	ck_assert_int_eq(mkdir(p, 0700), 0);

	ck_assert_int_eq(conn->ops->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 1);
	ck_assert_int_eq(seen_size(&s, key, &size), 1);
	ck_assert_uint_eq(size, 4);
}
END_TEST

START_TEST(test_conn_list_stop)
{
	char key[STORE_KEY_HEX + 1];
	struct seen s = { 0 };
	unsigned i;

	for (i = 0; i < 4; i++) {
		key_in(i < 2 ? "11" : "22", i, key);
		ck_assert_int_eq(put(conn, key, "b", 1), STORE_OK);
	}
	s.stop_after = 1;
	ck_assert_int_eq(conn->ops->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 1);
	memset(&s, 0, sizeof(s));
	s.stop_after = 3;
	ck_assert_int_eq(conn->ops->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 3);
}
END_TEST

static int evict_all(void *arg, const char *key, uint64_t size)
{
	int *calls = arg;
	char k[STORE_KEY_HEX + 1];
	unsigned i;

	(void)key;
	(void)size;
	(*calls)++;
	for (i = 0; i < 3; i++) {
		key_in("ee", i, k);
		ck_assert_int_eq(conn->ops->evict(conn, k), STORE_OK);
	}
	return 0;
}

/* Blobs evicted while the walk runs are passed over, not errors. */
START_TEST(test_conn_list_evicted_meanwhile)
{
	char key[STORE_KEY_HEX + 1];
	unsigned i;
	int calls = 0;

	for (i = 0; i < 3; i++) {
		key_in("ee", i, key);
		ck_assert_int_eq(put(conn, key, "b", 1), STORE_OK);
	}
	ck_assert_int_eq(conn->ops->list(conn, evict_all, &calls), STORE_OK);
	ck_assert_int_eq(calls, 1);
}
END_TEST

/* A bucket that is not a directory: list and put say so. */
START_TEST(test_conn_bad_bucket)
{
	char key[STORE_KEY_HEX + 1], p[PATH_MAX];
	struct seen s = { 0 };

	path_of(p, "%s/ab%s", "");
	write_file(p, "not a directory");
	ck_assert_int_eq(conn->ops->list(conn, on_blob, &s), STORE_NOTDIR);
	key_in("ab", 7, key);
	store_clear_error();
	ck_assert_int_eq(put(conn, key, "b", 1), STORE_NOTDIR);
	ck_assert(strstr(store_last_error(), "cannot rename"));
	ck_assert_int_eq(tmp_entries(), 0);
}
END_TEST

START_TEST(test_conn_not_regular)
{
	const struct store_conn_ops *o = conn->ops;
	char dkey[STORE_KEY_HEX + 1], lkey[STORE_KEY_HEX + 1];
	char p[PATH_MAX], buf[8];
	uint64_t size;

	key_in("ab", 8, dkey);
	key_in("ab", 9, lkey);
	/* makes ab/ */
	ck_assert_int_eq(put(conn, lkey, "b", 1), STORE_OK);
	path_of(p, "%s/ab/%s", dkey);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	path_of(p, "%s/ab/%s", lkey);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);

	ck_assert_int_eq(o->stat(conn, dkey, &size), STORE_CORRUPT);
	ck_assert_int_eq(o->stat(conn, lkey, &size), STORE_CORRUPT);
	store_clear_error();
	ck_assert_int_ne(o->get(conn, dkey, 0, 1, buf), STORE_OK);
	ck_assert(strstr(store_last_error(), "cannot read blob"));
	store_clear_error();
	ck_assert_int_eq(o->get(conn, lkey, 0, 1, buf), STORE_IO);
	ck_assert(strstr(store_last_error(), "cannot open blob"));
	store_clear_error();
	ck_assert_int_ne(o->evict(conn, dkey), STORE_OK);
	ck_assert(strstr(store_last_error(), "cannot remove blob"));
	ck_assert_int_eq(o->evict(conn, lkey), STORE_OK);
	ck_assert(!exists(p));
}
END_TEST

/* ---- leftovers -------------------------------------------------------- */

struct left {
	int n;
	uint64_t bytes;
	char last[PATH_MAX];
};

static void on_left(void *arg, const char *what, uint64_t size)
{
	struct left *l = arg;

	l->n++;
	l->bytes += size;
	snprintf(l->last, sizeof(l->last), "%s", what);
}

static void age(const char *path, time_t secs)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - secs;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/*
 * Entries of someone else's that cannot be examined (a bucket that can be
 * read but not searched): the walks report them rather than skip.
 */
START_TEST(test_conn_unsearchable)
{
	char key[STORE_KEY_HEX + 1], p[PATH_MAX];
	struct seen s = { 0 };
	struct left l = { 0 };

	key_in("ab", 1, key);
	ck_assert_int_eq(put(conn, key, "b", 1), STORE_OK);
	path_of(p, "%s/tmp/put-x%s", "");
	write_file(p, "x");
	if (!need_root("permission test"))
		return;
	/* root passes every check: become nobody (this is a forked child) */
	path_of(p, "%s/ab%s", "");
	ck_assert_int_eq(chmod(p, 0444), 0);
	path_of(p, "%s/tmp%s", "");
	ck_assert_int_eq(chmod(p, 0444), 0);
	ck_assert_int_eq(chmod(sdir, 0711), 0);
	ck_assert_int_eq(chmod(tdir, 0711), 0);
	ck_assert_int_eq(chmod(base, 0711), 0);
	ck_assert_int_eq(setgroups(0, NULL), 0);
	ck_assert_int_eq(setresgid(65534, 65534, 65534), 0);
	ck_assert_int_eq(setresuid(65534, 65534, 65534), 0);

	store_clear_error();
	ck_assert_int_eq(conn->ops->list(conn, on_blob, &s), STORE_PERM);
	ck_assert(strstr(store_last_error(), "cannot stat blob"));
	ck_assert_int_eq(s.n, 0);
	store_clear_error();
	ck_assert_int_eq(conn->ops->leftovers(conn, false, 0, on_left, &l),
			 STORE_PERM);
	ck_assert(strstr(store_last_error(), "cannot stat blob temp"));
	ck_assert_int_eq(l.n, 0);
}
END_TEST

START_TEST(test_conn_leftovers)
{
	const struct store_conn_ops *o = conn->ops;
	struct store_conn_put *a = NULL, *b = NULL;
	struct left l = { 0 };
	char p[PATH_MAX], old[PATH_MAX];

	ck_assert_int_eq(o->put_begin(conn, &a), STORE_OK);
	ck_assert_int_eq(o->put_write(a, "12345", 5), STORE_OK);
	ck_assert_int_eq(o->put_begin(conn, &b), STORE_OK);
	ck_assert_int_eq(o->put_write(b, "123", 3), STORE_OK);
	/* not ours: other names, a directory */
	path_of(p, "%s/tmp/other%s", "");
	write_file(p, "x");
	age(p, 7200);
	path_of(p, "%s/tmp/put-dir%s", "");
	ck_assert_int_eq(mkdir(p, 0700), 0);
	age(p, 7200);

	ck_assert_int_eq(o->leftovers(conn, false, 0, on_left, &l), STORE_OK);
	ck_assert_int_eq(l.n, 2);
	ck_assert_uint_eq(l.bytes, 8);
	ck_assert(strstr(l.last, "/tmp/put-"));
	ck_assert_int_eq(tmp_entries(), 4);

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(o->leftovers(conn, true, 3600, on_left, &l),
			 STORE_OK);
	ck_assert_int_eq(l.n, 0);
	ck_assert_int_eq(tmp_entries(), 4);

	/* one of them is old: found, then removed */
	ck_assert_int_eq(o->leftovers(conn, false, 0, on_left, &l), STORE_OK);
	pathf(old, "%s", l.last);
	age(old, 7200);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(o->leftovers(conn, false, 3600, on_left, &l),
			 STORE_OK);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.last, old);
	ck_assert(exists(old));
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(o->leftovers(conn, true, 3600, on_left, &l),
			 STORE_OK);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.last, old);
	ck_assert(!exists(old));
	ck_assert_int_eq(tmp_entries(), 3);

	/* age 0 takes all, also an mtime ahead of time() (a fine-grained
	 * file time just past a second the coarse clock has not reached) */
	path_of(p, "%s/tmp/put-ahead%s", "");
	write_file(p, "x");
	age(p, -1);
	ck_assert_int_eq(tmp_entries(), 4);
	/* no callback is fine too */
	ck_assert_int_eq(o->leftovers(conn, true, 0, NULL, NULL), STORE_OK);
	ck_assert_int_eq(tmp_entries(), 2);
	/* their writers find out at commit time, and leave nothing */
	o->put_abort(a);
	ck_assert_int_ne(o->put_commit(b, "00000000000000000000000000000000"
					"00000000000000000000000000000000"),
			 STORE_OK);
	ck_assert_int_eq(tmp_entries(), 2);
}
END_TEST

START_TEST(test_conn_leftovers_no_tmp)
{
	struct store_conn_put *wp = (struct store_conn_put *)&wp;
	struct left l = { 0 };
	char p[PATH_MAX];

	path_of(p, "%s/tmp%s", "");
	ck_assert_int_eq(rmdir(p), 0);
	ck_assert_int_eq(conn->ops->leftovers(conn, true, 0, on_left, &l),
			 STORE_OK);
	ck_assert_int_eq(l.n, 0);
	store_clear_error();
	ck_assert_int_eq(conn->ops->put_begin(conn, &wp), STORE_NOTFOUND);
	ck_assert_ptr_null(wp);
	ck_assert(strstr(store_last_error(), "cannot create blob temp"));

	write_file(p, "not a directory");
	ck_assert_int_eq(conn->ops->leftovers(conn, true, 0, on_left, &l),
			 STORE_NOTDIR);
	ck_assert_int_eq(l.n, 0);
}
END_TEST

static void unlink_other_temps(void *arg, const char *what, uint64_t size)
{
	struct left *l = arg;
	char p[PATH_MAX];
	int i;

	(void)size;
	l->n++;
	for (i = 0; i < 3; i++) {
		pathf(p, "%s/tmp/put-%d", sdir, i);
		if (strcmp(p, what) != 0)
			unlink(p);
	}
}

/* Temps committed or removed while the walk runs are passed over. */
START_TEST(test_conn_leftovers_raced)
{
	struct left l = { 0 };
	char p[PATH_MAX];
	int i;

	for (i = 0; i < 3; i++) {
		pathf(p, "%s/tmp/put-%d", sdir, i);
		write_file(p, "x");
	}
	ck_assert_int_eq(conn->ops->leftovers(conn, false, 0,
					      unlink_other_temps, &l),
			 STORE_OK);
	ck_assert_int_eq(l.n, 1);
	ck_assert_int_eq(tmp_entries(), 1);
}
END_TEST

/* ---- a failing disk --------------------------------------------------- */

/* Nothing of a failed put is visible: no blob, no temp. */
static void assert_nothing(const char *key)
{
	uint64_t size;

	ck_assert_int_eq(conn->ops->stat(conn, key, &size), STORE_NOTFOUND);
	ck_assert_int_eq(tmp_entries(), 0);
}

START_TEST(test_conn_fsync_fails)
{
	char key[STORE_KEY_HEX + 1], p[PATH_MAX];
	uint64_t size;
	int before;

	/* the temp's fsync */
	key_in("a1", 1, key);
	fsync_fail_at = 1;
	store_clear_error();
	ck_assert_int_eq(put(conn, key, "data", 4), STORE_IO);
	ck_assert(strstr(store_last_error(), "cannot sync blob temp"));
	assert_nothing(key);

	/* a new bucket's entry in the top directory */
	fsync_fail_at = 2;
	store_clear_error();
	ck_assert_int_eq(put(conn, key, "data", 4), STORE_IO);
	ck_assert(strstr(store_last_error(), "cannot sync directory"));
	assert_nothing(key);

	/*
	 * The bucket, after the rename: the blob stays (another writer may
	 * have committed the same key), but the caller hears of it.
	 */
	key_in("a2", 2, key);
	fsync_fail_at = 3;
	ck_assert_int_eq(put(conn, key, "data", 4), STORE_IO);
	ck_assert_int_eq(tmp_entries(), 0);
	ck_assert_int_eq(conn->ops->stat(conn, key, &size), STORE_OK);
	ck_assert_uint_eq(size, 4);

	/* an existing bucket costs two fsyncs, a new one three */
	before = fsync_calls;
	ck_assert_int_eq(put(conn, key, "data", 4), STORE_OK);
	ck_assert_int_eq(fsync_calls - before, 2);
	before = fsync_calls;
	key_in("a3", 3, key);
	ck_assert_int_eq(put(conn, key, "data", 4), STORE_OK);
	ck_assert_int_eq(fsync_calls - before, 3);
	pathf(p, "%s/a3/%s", sdir, key);
	ck_assert(exists(p));
}
END_TEST

/* Mount a tmpfs with @opts on @dir (below tdir); false if not root. */
static bool mount_tmpfs(const char *dir, const char *opts)
{
	if (!need_root("tmpfs test"))
		return false;
	if (mkdir(dir, 0700) < 0)
		ck_assert_int_eq(errno, EEXIST);
	ck_assert_msg(mount("tmpfs", dir, "tmpfs", 0, opts) == 0,
		      "mount tmpfs on %s: %s", dir, strerror(errno));
	return true;
}

START_TEST(test_conn_nospc_write)
{
	const struct store_conn_ops *o;
	struct store_conn_put *wp = NULL;
	struct store_conn *c = NULL;
	char mnt[PATH_MAX], tmpd[PATH_MAX], key[STORE_KEY_HEX + 1];
	uint8_t *big;
	uint64_t size;
	store_rc rc;

	pathf(mnt, "%s/full", tdir);
	if (!mount_tmpfs(mnt, "size=64k"))
		return;
	ck_assert_int_eq(store_conn_file_open(mnt, true, &c), STORE_OK);
	o = c->ops;
	big = calloc(1, 1 << 20);
	ck_assert_ptr_nonnull(big);
	key_of(big, 1 << 20, key);

	ck_assert_int_eq(o->put_begin(c, &wp), STORE_OK);
	store_clear_error();
	rc = o->put_write(wp, big, 1 << 20);
	ck_assert_int_eq(rc, STORE_NOSPC);
	ck_assert(strstr(store_last_error(), "cannot write blob temp"));
	/* a commit after a failed write refuses, and cleans up */
	store_clear_error();
	ck_assert_int_eq(o->put_commit(wp, key), STORE_IO);
	ck_assert(strstr(store_last_error(), "lost a write"));
	ck_assert_int_eq(o->stat(c, key, &size), STORE_NOTFOUND);
	pathf(tmpd, "%s/tmp", mnt);
	ck_assert_int_eq(count_entries(tmpd), 0);

	/* the space came back */
	key_of("small", 5, key);
	ck_assert_int_eq(put(c, key, "small", 5), STORE_OK);
	ck_assert_int_eq(o->stat(c, key, &size), STORE_OK);
	c->ops->close(c);
	free(big);
	ck_assert_int_eq(umount(mnt), 0);
}
END_TEST

/* Out of inodes: no temp, or no bucket for the blob. */
START_TEST(test_conn_nospc_inodes)
{
	struct store_conn_put *wp = (struct store_conn_put *)&wp;
	struct store_conn *c = NULL;
	char mnt[PATH_MAX], key[STORE_KEY_HEX + 1], p[PATH_MAX];
	uint64_t size;

	pathf(mnt, "%s/full", tdir);
	/* the root, tmp/ and one more */
	if (!mount_tmpfs(mnt, "size=64k,nr_inodes=3"))
		return;
	ck_assert_int_eq(store_conn_file_open(mnt, true, &c), STORE_OK);

	key_in("b0", 0, key);
	store_clear_error();
	ck_assert_int_eq(put(c, key, "x", 1), STORE_NOSPC);
	ck_assert(strstr(store_last_error(), "cannot create blob directory"));
	ck_assert_int_eq(c->ops->stat(c, key, &size), STORE_NOTFOUND);
	pathf(p, "%s/tmp", mnt);
	ck_assert_int_eq(count_entries(p), 0);

	pathf(p, "%s/filler", mnt);
	write_file(p, "");
	store_clear_error();
	ck_assert_int_eq(c->ops->put_begin(c, &wp), STORE_NOSPC);
	ck_assert_ptr_null(wp);
	ck_assert(strstr(store_last_error(), "cannot create blob temp"));
	c->ops->close(c);
	ck_assert_int_eq(umount(mnt), 0);
}
END_TEST

/* A read-only store: nothing can be written or removed. */
START_TEST(test_conn_readonly)
{
	const struct store_conn_ops *o = conn->ops;
	struct store_conn_put *wp = NULL;
	char key[STORE_KEY_HEX + 1], p[PATH_MAX], buf[2];
	struct left l = { 0 };

	put_text("ro", key);
	path_of(p, "%s/tmp/put-old%s", "");
	write_file(p, "x");
	if (!need_root("read-only test"))
		return;
	ck_assert_int_eq(mount(sdir, sdir, NULL, MS_BIND, NULL), 0);
	ck_assert_int_eq(mount(NULL, sdir, NULL,
			       MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0);

	ck_assert_int_eq(o->get(conn, key, 0, 2, buf), STORE_OK);
	ck_assert_int_eq(o->put_begin(conn, &wp), STORE_ROFS);
	ck_assert_int_eq(o->evict(conn, key), STORE_ROFS);
	ck_assert_int_eq(o->leftovers(conn, false, 0, on_left, &l), STORE_OK);
	ck_assert_int_eq(l.n, 1);
	memset(&l, 0, sizeof(l));
	store_clear_error();
	ck_assert_int_eq(o->leftovers(conn, true, 0, on_left, &l),
			 STORE_ROFS);
	ck_assert(strstr(store_last_error(), "cannot remove blob temp"));
	ck_assert_int_eq(l.n, 0);
	ck_assert_int_eq(umount(sdir), 0);
}
END_TEST

/* ---- allocation failures ---------------------------------------------- */
#if FAILMALLOC

START_TEST(test_conn_nomem)
{
	struct store_conn_put *wp;
	struct store_conn *c;
	long n, live;
	store_rc rc;

	for (n = 1;; n++) {
		live = failmalloc_blocks();
		c = (struct store_conn *)&c;
		failmalloc_arm(n);
		rc = store_conn_file_open(sdir, true, &c);
		if (!failmalloc_disarm())
			break;
		ck_assert_int_eq(rc, STORE_NOMEM);
		ck_assert_ptr_null(c);
		ck_assert_int_eq(failmalloc_blocks(), live);
	}
	ck_assert_int_eq(rc, STORE_OK);
	c->ops->close(c);

	for (n = 1;; n++) {
		live = failmalloc_blocks();
		wp = (struct store_conn_put *)&wp;
		failmalloc_arm(n);
		rc = conn->ops->put_begin(conn, &wp);
		if (!failmalloc_disarm())
			break;
		ck_assert_int_eq(rc, STORE_NOMEM);
		ck_assert_ptr_null(wp);
		ck_assert_int_eq(failmalloc_blocks(), live);
		ck_assert_int_eq(tmp_entries(), 0);
	}
	ck_assert_int_eq(rc, STORE_OK);
	conn->ops->put_abort(wp);
}
END_TEST

#endif /* FAILMALLOC */

static Suite *conn_file_suite(void)
{
	Suite *s = suite_create("conn_file");
	TCase *tc;

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_conn_open_bad_args);
	tcase_add_test(tc, test_conn_open_missing);
	tcase_add_test(tc, test_conn_open_not_dir);
	tcase_add_test(tc, test_conn_open_existing);
	tcase_add_test(tc, test_conn_modes);
	suite_add_tcase(s, tc);

	tc = tcase_create("blobs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_conn_roundtrip);
	tcase_add_test(tc, test_conn_nosync_and_tags);
	tcase_add_test(tc, test_conn_missing);
	tcase_add_test(tc, test_conn_get_beyond_end);
	tcase_add_test(tc, test_conn_get_uncached);
	tcase_add_test(tc, test_conn_put_large);
	tcase_add_test(tc, test_conn_replace);
	tcase_add_loop_test(tc, test_conn_bad_keys, 0, NBAD_KEYS);
	tcase_add_test(tc, test_conn_put_abort);
	suite_add_tcase(s, tc);

	tc = tcase_create("shared-dir");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_conn_list_skips);
	tcase_add_test(tc, test_conn_list_stop);
	tcase_add_test(tc, test_conn_list_evicted_meanwhile);
	tcase_add_test(tc, test_conn_bad_bucket);
	tcase_add_test(tc, test_conn_not_regular);
	tcase_add_test(tc, test_conn_unsearchable);
	suite_add_tcase(s, tc);

	tc = tcase_create("leftovers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_conn_leftovers);
	tcase_add_test(tc, test_conn_leftovers_no_tmp);
	tcase_add_test(tc, test_conn_leftovers_raced);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_conn_fsync_fails);
	tcase_add_test(tc, test_conn_nospc_write);
	tcase_add_test(tc, test_conn_nospc_inodes);
	tcase_add_test(tc, test_conn_readonly);
	suite_add_tcase(s, tc);

#if FAILMALLOC
	tc = tcase_create("nomem");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_conn_nomem);
	suite_add_tcase(s, tc);
#endif
	return s;
}

/* Undo the mounts of tests that failed before their umount. */
static void umount_leftovers(void)
{
	char line[2 * PATH_MAX], dev[PATH_MAX], mnt[PATH_MAX];
	size_t blen = strlen(base);
	bool again = true;
	FILE *f;

	while (again) {
		again = false;
		f = fopen("/proc/self/mounts", "r");
		if (!f)
			return;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%4095s %4095s", dev, mnt) == 2 &&
			    strncmp(mnt, base, blen) == 0 &&
			    umount2(mnt, MNT_DETACH) == 0)
				again = true;
		}
		fclose(f);
	}
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	SRunner *sr;
	int failed;

	snprintf(base, sizeof(base), "%s/check_conn_file-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(base)) {
		perror("check_conn_file: mkdtemp");
		return EXIT_FAILURE;
	}
	sr = srunner_create(conn_file_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	umount_leftovers();
	rm_rf(base);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
