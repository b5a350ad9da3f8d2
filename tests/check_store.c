/* SPDX-License-Identifier: MIT */
/*
 * check_store.c - unit suite for the store facade (store/store.c,
 * index.c, config.c): lifecycle, namespace, objects, batches, fsck, gc.
 * Each test gets a fresh store in a temp dir from the fixture.
 */
#include <check.h>
#include <sqlite3.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

static char dir[256];
static char spath[300];
static struct store *st;

static void rm_rf(const char *p)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", p);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(spath, sizeof(spath), "%s/s", dir);
	ck_assert_int_eq(store_create(spath, NULL), STORE_OK);
	ck_assert_int_eq(store_open(spath, 0, &st), STORE_OK);
}

static void teardown(void)
{
	store_close(st);
	st = NULL;
	rm_rf(dir);
}

/* A temp file holding @len bytes of a pattern seeded by @seed. */
static int make_fd(size_t len, unsigned seed, bool random_bytes)
{
	char path[300];
	char *buf = malloc(len ? len : 1);
	int fd;

	ck_assert_ptr_nonnull(buf);
	srand(seed);
	for (size_t i = 0; i < len; i++)
		buf[i] = random_bytes ? (char)rand() : (char)('a' + i % 7);
	snprintf(path, sizeof(path), "%s/src.XXXXXX", dir);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	lseek(fd, 0, SEEK_SET);
	free(buf);
	return fd;
}

static struct store_attr file_attr(void)
{
	struct store_attr a = { 0644, 0, 0, 0 };

	return a;
}

/* Put @len bytes as /@name; returns the key in @key. */
static void put(const char *name, size_t len, unsigned seed, char *key)
{
	struct store_attr a = file_attr();
	struct store_object o;
	int fd = make_fd(len, seed, true);

	ck_assert_int_eq(store_begin(st), STORE_OK);
	ck_assert_int_eq(store_ingest_fd(st, fd, name, NULL, &o), STORE_OK);
	ck_assert_int_eq(store_mkfile(st, STORE_ROOT_INO, name, &a, o.key,
				      NULL, 0, NULL), STORE_OK);
	ck_assert_int_eq(store_commit(st), STORE_OK);
	close(fd);
	if (key)
		memcpy(key, o.key, STORE_KEY_HEX + 1);
}

static void blob_path(const char *key, char *out, size_t cap)
{
	snprintf(out, cap, "%s/objects/%.2s/%s", spath, key, key);
}

static struct store_fsck_report fsck(void)
{
	struct store_fsck_report r;

	ck_assert_int_eq(store_fsck(st, true, NULL, NULL, &r), STORE_OK);
	return r;
}

static bool fsck_clean(void)
{
	struct store_fsck_report r = fsck();

	return !r.missing && !r.corrupt && !r.orphans && !r.unreferenced &&
	       !r.bad_refs && !r.dangling && !r.leftovers;
}

/* ---- lifecycle ---- */

START_TEST(test_store_create_refuses_existing)
{
	char p[320];
	int fd;

	ck_assert_int_eq(store_create(spath, NULL), STORE_EXISTS);
	snprintf(p, sizeof(p), "%s/full", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/full/x", dir);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/full", dir);
	ck_assert_int_eq(store_create(p, NULL), STORE_INVAL);
	/* nothing was added to the non-store directory */
	snprintf(p, sizeof(p), "%s/full/config", dir);
	ck_assert_int_ne(access(p, F_OK), 0);
}
END_TEST

START_TEST(test_store_create_bad_options)
{
	struct store_create_opts o = { .chunk_size = 3000 };
	char p[320];

	snprintf(p, sizeof(p), "%s/new", dir);
	ck_assert_int_eq(store_create(p, &o), STORE_INVAL);
	o.chunk_size = 0;
	o.level = 20;
	ck_assert_int_eq(store_create(p, &o), STORE_INVAL);
	o.level = 0;
	o.connector = "ftp";
	ck_assert_int_eq(store_create(p, &o), STORE_INVAL);
	ck_assert_int_ne(access(p, F_OK), 0);
	ck_assert_str_ne(store_last_error(), "");
}
END_TEST

START_TEST(test_store_create_modes)
{
	struct stat sb;
	char p[320];

	ck_assert_int_eq(stat(spath, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0700);
	snprintf(p, sizeof(p), "%s/index.db", spath);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	snprintf(p, sizeof(p), "%s/config", spath);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(strlen(store_id(st)), 32);
	ck_assert_str_eq(store_connector_name(st), "file");
	ck_assert_uint_eq(store_chunk_size(st), STORE_CHUNK_DEFAULT);
}
END_TEST

START_TEST(test_store_open_errors)
{
	struct store *x = (struct store *)1;
	char p[320];
	int fd;

	snprintf(p, sizeof(p), "%s/nope", dir);
	ck_assert_int_eq(store_open(p, 0, &x), STORE_NOTFOUND);
	ck_assert_ptr_null(x);
	ck_assert_int_eq(store_open(dir, 0, &x), STORE_INVAL);
	ck_assert_ptr_null(x);
	ck_assert_ptr_nonnull(strstr(store_last_error(), "not a pxfs store"));
	/* a config with an unknown key */
	snprintf(p, sizeof(p), "%s/bad", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/bad/config", dir);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "format = 1\nbogus = 2\n", 21), 21);
	close(fd);
	snprintf(p, sizeof(p), "%s/bad", dir);
	ck_assert_int_eq(store_open(p, 0, &x), STORE_CORRUPT);
	ck_assert_ptr_null(x);
	ck_assert_ptr_nonnull(strstr(store_last_error(), "bogus"));
	store_close(NULL);
}
END_TEST

START_TEST(test_store_open_bad_index)
{
	struct store *x = NULL;
	char p[320];
	int fd;

	store_close(st);
	st = NULL;
	snprintf(p, sizeof(p), "%s/index.db", spath);
	unlink(p);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "this is not sqlite, not at all....", 34),
			 34);
	close(fd);
	ck_assert_int_eq(store_open(spath, 0, &x), STORE_CORRUPT);
	ck_assert_ptr_null(x);
}
END_TEST

/* ---- namespace ---- */

START_TEST(test_store_namespace_tree)
{
	struct store_attr a = { 0755, 1, 2, 0 };
	struct store_node d, n, l;
	char target[64];

	ck_assert_int_eq(store_mkdir(st, STORE_ROOT_INO, "d", &a, 0, &d),
			 STORE_OK);
	ck_assert(S_ISDIR(d.mode));
	ck_assert_int_eq(store_mkdir(st, STORE_ROOT_INO, "d", &a, 0, NULL),
			 STORE_EXISTS);
	ck_assert_int_eq(store_mkdir(st, STORE_ROOT_INO, "d", &a,
				     STORE_REPLACE, &n), STORE_OK);
	ck_assert_uint_eq(n.ino, d.ino);
	ck_assert_int_eq(store_symlink(st, d.ino, "l", "../x", &a, 0, &l),
			 STORE_OK);
	ck_assert_int_eq(store_readlink(st, l.ino, target, sizeof(target)),
			 STORE_OK);
	ck_assert_str_eq(target, "../x");
	ck_assert_int_eq(store_readlink(st, l.ino, target, 2), STORE_INVAL);
	ck_assert_int_eq(store_readlink(st, d.ino, target, 64), STORE_INVAL);
	ck_assert_int_eq(store_walk(st, "/d//l", &n), STORE_OK);
	ck_assert_uint_eq(n.ino, l.ino);
	ck_assert_int_eq(store_walk(st, "d/./l", &n), STORE_OK);
	ck_assert_int_eq(store_walk(st, "d/../d", &n), STORE_INVAL);
	ck_assert_int_eq(store_walk(st, "d/l/x", &n), STORE_NOTDIR);
	ck_assert_int_eq(store_walk(st, "d/nope", &n), STORE_NOTFOUND);
	ck_assert_int_eq(store_walk(st, "/", &n), STORE_OK);
	ck_assert_uint_eq(n.ino, STORE_ROOT_INO);
	ck_assert_int_eq(store_lookup(st, STORE_ROOT_INO, "..", &n),
			 STORE_INVAL);
	ck_assert_int_eq(store_lookup(st, STORE_ROOT_INO, "a/b", &n),
			 STORE_INVAL);
	ck_assert_int_eq(store_rmdir(st, STORE_ROOT_INO, "d"),
			 STORE_NOTEMPTY);
	ck_assert_int_eq(store_unlink(st, STORE_ROOT_INO, "d"), STORE_ISDIR);
	ck_assert_int_eq(store_unlink(st, d.ino, "l"), STORE_OK);
	ck_assert_int_eq(store_rmdir(st, STORE_ROOT_INO, "d"), STORE_OK);
	ck_assert_int_eq(store_getattr(st, d.ino, &n), STORE_NOTFOUND);
}
END_TEST

START_TEST(test_store_name_limits)
{
	struct store_attr a = { 0755, 0, 0, 0 };
	char name[300];

	memset(name, 'x', 256);
	name[256] = '\0';
	ck_assert_int_eq(store_mkdir(st, STORE_ROOT_INO, name, &a, 0, NULL),
			 STORE_NAMETOOLONG);
	name[255] = '\0';
	ck_assert_int_eq(store_mkdir(st, STORE_ROOT_INO, name, &a, 0, NULL),
			 STORE_OK);
	ck_assert_int_eq(store_mkdir(st, STORE_ROOT_INO, "", &a, 0, NULL),
			 STORE_INVAL);
	ck_assert_int_eq(store_mkdir(st, STORE_ROOT_INO, ".", &a, 0, NULL),
			 STORE_INVAL);
	ck_assert_int_eq(store_mkdir(st, 999, "x", &a, 0, NULL),
			 STORE_NOTFOUND);
}
END_TEST

static int collect(void *arg, const struct store_node *n)
{
	int *count = arg;

	(void)n;
	return ++*count >= 3;
}

START_TEST(test_store_readdir_cookies)
{
	struct store_attr a = { 0755, 0, 0, 0 };
	struct store_node n;
	int count = 0;
	char name[16];

	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "e%d", i);
		ck_assert_int_eq(store_mkdir(st, STORE_ROOT_INO, name, &a, 0,
					     &n), STORE_OK);
	}
	ck_assert_int_eq(store_readdir(st, STORE_ROOT_INO, 0, collect,
				       &count), STORE_OK);
	ck_assert_int_eq(count, 3);	/* stopped early */
	count = 0;
	ck_assert_int_eq(store_readdir(st, STORE_ROOT_INO, n.ino - 1, collect,
				       &count), STORE_OK);
	ck_assert_int_eq(count, 1);
	ck_assert_int_eq(store_readdir(st, n.ino - 1 + 1, 0, collect, &count),
			 STORE_OK);
	ck_assert_int_eq(store_readdir(st, 4242, 0, collect, &count),
			 STORE_NOTFOUND);
}
END_TEST

START_TEST(test_store_rename_rules)
{
	struct store_attr a = { 0755, 0, 0, 0 };
	struct store_node d1, d2, sub, n;
	char k1[65], k2[65];
	struct store_object o;

	put("f1", 1000, 1, k1);
	put("f2", 2000, 2, k2);
	ck_assert_int_eq(store_mkdir(st, STORE_ROOT_INO, "d1", &a, 0, &d1),
			 STORE_OK);
	ck_assert_int_eq(store_mkdir(st, STORE_ROOT_INO, "d2", &a, 0, &d2),
			 STORE_OK);
	ck_assert_int_eq(store_mkdir(st, d1.ino, "sub", &a, 0, &sub),
			 STORE_OK);
	/* a directory cannot go below itself */
	ck_assert_int_eq(store_rename(st, STORE_ROOT_INO, "d1", sub.ino, "x"),
			 STORE_INVAL);
	/* file over directory, directory over file */
	ck_assert_int_eq(store_rename(st, STORE_ROOT_INO, "f1", STORE_ROOT_INO,
				      "d2"), STORE_ISDIR);
	ck_assert_int_eq(store_rename(st, STORE_ROOT_INO, "d2", STORE_ROOT_INO,
				      "f1"), STORE_NOTDIR);
	/* over a non-empty directory */
	ck_assert_int_eq(store_rename(st, STORE_ROOT_INO, "d2", STORE_ROOT_INO,
				      "d1"), STORE_NOTEMPTY);
	/* over an empty one */
	ck_assert_int_eq(store_rename(st, d1.ino, "sub", STORE_ROOT_INO, "d2"),
			 STORE_OK);
	ck_assert_int_eq(store_walk(st, "d2", &n), STORE_OK);
	ck_assert_uint_eq(n.ino, sub.ino);
	/* file over file drops the old object */
	ck_assert_int_eq(store_rename(st, STORE_ROOT_INO, "f1", STORE_ROOT_INO,
				      "f2"), STORE_OK);
	ck_assert_int_eq(store_object_info(st, k2, &o), STORE_NOTFOUND);
	ck_assert_int_eq(store_object_info(st, k1, &o), STORE_OK);
	ck_assert_uint_eq(o.refs, 1);
	/* onto itself: nothing */
	ck_assert_int_eq(store_rename(st, STORE_ROOT_INO, "f2", STORE_ROOT_INO,
				      "f2"), STORE_OK);
	ck_assert_int_eq(store_rename(st, STORE_ROOT_INO, "nope",
				      STORE_ROOT_INO, "x"), STORE_NOTFOUND);
	ck_assert(fsck_clean());
}
END_TEST

/* ---- objects ---- */

START_TEST(test_store_object_roundtrip)
{
	static const size_t sizes[] = { 0, 1, 4096, 3 * 4096, 3 * 4096 + 1 };
	struct store_put_opts po = { 4096, 1 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct store_object o;
		char out[300];
		int in = make_fd(sizes[i], (unsigned)i, i % 2);
		int fd;
		struct stat sa, sb;
		char cmd[700];

		ck_assert_int_eq(store_ingest_fd(st, in, "in", &po, &o),
				 STORE_OK);
		ck_assert_uint_eq(o.size, sizes[i]);
		ck_assert_uint_eq(o.nchunks, (sizes[i] + 4095) / 4096);
		snprintf(out, sizeof(out), "%s/out", dir);
		fd = open(out, O_CREAT | O_TRUNC | O_WRONLY, 0600);
		ck_assert_int_eq(store_export_fd(st, o.key, fd, "x"),
				 STORE_OK);
		close(fd);
		ck_assert_int_eq(stat(out, &sb), 0);
		ck_assert_int_eq(fstat(in, &sa), 0);
		ck_assert_int_eq(sa.st_size, sb.st_size);
		snprintf(cmd, sizeof(cmd), "cmp -s /proc/%d/fd/%d '%s'",
			 (int)getpid(), in, out);
		lseek(in, 0, SEEK_SET);
		ck_assert_int_eq(system(cmd), 0);
		close(in);
	}
}
END_TEST

/* Export @key and compare it with what @in holds from offset @from. */
static void assert_export_is(const char *key, int in, off_t from)
{
	char out[300], cmd[800];
	int fd;

	snprintf(out, sizeof(out), "%s/out", dir);
	fd = open(out, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(store_export_fd(st, key, fd, "x"), STORE_OK);
	close(fd);
	snprintf(cmd, sizeof(cmd), "tail -c +%lld /proc/%d/fd/%d | "
		 "cmp -s - '%s'", (long long)from + 1, (int)getpid(), in, out);
	ck_assert_int_eq(system(cmd), 0);
}

/*
 * Inputs of many chunks through the threads: uncached (read around the
 * page cache), cached, from an offset (aligned or not), with small
 * chunks; every one exports back to the same bytes (which checks every
 * chunk digest and the key), and leaves the caller's offset at the end.
 */
START_TEST(test_store_ingest_large)
{
	size_t len = (9u << 20) + 3 * 4096 + 123;
	static const off_t from[] = { 0, 0, 4096, 100, 8192 };
	int in = make_fd(len, 11, true);

	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		uint32_t chunk = i == 4 ? 65536 : 1u << 20;
		struct store_put_opts po = { chunk, 0 };
		struct store_object o;
		char cmd[100];

		ck_assert_int_eq(fsync(in), 0);
		posix_fadvise(in, 0, 0, POSIX_FADV_DONTNEED);
		if (i == 1) {
			snprintf(cmd, sizeof(cmd), "cat /proc/%d/fd/%d >/dev/null",
				 (int)getpid(), in);
			ck_assert_int_eq(system(cmd), 0);
		}
		lseek(in, from[i], SEEK_SET);
		ck_assert_int_eq(store_ingest_fd(st, in, "big", &po, &o),
				 STORE_OK);
		ck_assert_uint_eq(o.size, len - (size_t)from[i]);
		ck_assert_uint_eq(o.chunk_size, chunk);
		ck_assert_int_eq(lseek(in, 0, SEEK_CUR), (off_t)len);
		assert_export_is(o.key, in, from[i]);
	}
	close(in);
	/* no entry names them, so unreferenced: but whole and verified */
	{
		struct store_fsck_report r = fsck();

		ck_assert(!r.missing && !r.corrupt && !r.leftovers);
	}
}
END_TEST

START_TEST(test_store_dedupe_and_refs)
{
	struct store_attr a = file_attr();
	struct store_object o, o2;
	struct store_metrics m;
	int fd;

	put("a", 5000, 7, NULL);
	fd = make_fd(5000, 7, true);
	ck_assert_int_eq(store_begin(st), STORE_OK);
	ck_assert_int_eq(store_ingest_fd(st, fd, "b", NULL, &o), STORE_OK);
	ck_assert_int_eq(store_mkfile(st, STORE_ROOT_INO, "b", &a, o.key,
				      "text/x-test", 0, NULL), STORE_OK);
	ck_assert_int_eq(store_commit(st), STORE_OK);
	close(fd);
	store_metrics_get(st, &m);
	ck_assert_uint_eq(m.deduped, 1);
	ck_assert_int_eq(store_object_info(st, o.key, &o2), STORE_OK);
	ck_assert_uint_eq(o2.refs, 2);
	/* same name again: EXISTS, replace works */
	ck_assert_int_eq(store_mkfile(st, STORE_ROOT_INO, "b", &a, o.key, NULL,
				      0, NULL), STORE_EXISTS);
	ck_assert_int_eq(store_mkfile(st, STORE_ROOT_INO, "b", &a, o.key, NULL,
				      STORE_REPLACE, NULL), STORE_OK);
	ck_assert_int_eq(store_object_info(st, o.key, &o2), STORE_OK);
	ck_assert_uint_eq(o2.refs, 2);
	/* replacing a file by itself when it holds the only reference */
	ck_assert_int_eq(store_unlink(st, STORE_ROOT_INO, "a"), STORE_OK);
	ck_assert_int_eq(store_mkfile(st, STORE_ROOT_INO, "b", &a, o.key, NULL,
				      STORE_REPLACE, NULL), STORE_OK);
	ck_assert_int_eq(store_object_info(st, o.key, &o2), STORE_OK);
	ck_assert_uint_eq(o2.refs, 1);
	ck_assert_int_eq(store_mkfile(st, STORE_ROOT_INO, "a", &a, o.key, NULL,
				      0, NULL), STORE_OK);
	ck_assert_int_eq(store_unlink(st, STORE_ROOT_INO, "a"), STORE_OK);
	ck_assert_int_eq(store_unlink(st, STORE_ROOT_INO, "b"), STORE_OK);
	/* the last reference went: row and blob are gone */
	ck_assert_int_eq(store_object_info(st, o.key, &o2), STORE_NOTFOUND);
	{
		char p[400];

		blob_path(o.key, p, sizeof(p));
		ck_assert_int_ne(access(p, F_OK), 0);
	}
	ck_assert(fsck_clean());
}
END_TEST

START_TEST(test_store_mkfile_unknown_key)
{
	struct store_attr a = file_attr();
	const char *k = "0000000000000000000000000000000000000000000000000000000000000000";

	ck_assert_int_eq(store_mkfile(st, STORE_ROOT_INO, "x", &a, k, NULL, 0,
				      NULL), STORE_NOTFOUND);
	ck_assert_int_eq(store_mkfile(st, STORE_ROOT_INO, "x", &a, "../etc",
				      NULL, 0, NULL), STORE_INVAL);
	ck_assert(!store_is_key("ABCD"));
	ck_assert(!store_is_key(NULL));
}
END_TEST

START_TEST(test_store_corrupt_blob)
{
	char key[65], p[400], out[300];
	unsigned char b;
	struct store_metrics m;
	int fd, bf;

	put("c", 300000, 3, key);
	blob_path(key, p, sizeof(p));
	bf = open(p, O_RDWR);
	ck_assert_int_ge(bf, 0);
	ck_assert_int_eq(pread(bf, &b, 1, 100), 1);
	b ^= 0x55;
	ck_assert_int_eq(pwrite(bf, &b, 1, 100), 1);
	close(bf);
	snprintf(out, sizeof(out), "%s/out", dir);
	fd = open(out, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	ck_assert_int_eq(store_export_fd(st, key, fd, "c"), STORE_CORRUPT);
	close(fd);
	ck_assert_ptr_nonnull(strstr(store_last_error(), key));
	ck_assert_ptr_nonnull(strstr(store_last_error(), "'c'"));
	store_metrics_get(st, &m);
	ck_assert_uint_ge(m.corrupt, 1);
	ck_assert(!fsck_clean());
	/* a missing blob */
	unlink(p);
	fd = open(out, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	ck_assert_int_eq(store_export_fd(st, key, fd, "c"), STORE_IO);
	close(fd);
	ck_assert_ptr_nonnull(strstr(store_last_error(), "missing"));
	ck_assert_uint_eq(fsck().missing, 1);
}
END_TEST

START_TEST(test_store_read_chunk)
{
	struct store_put_opts po = { 4096, 3 };
	struct store_object o;
	char *buf = malloc(4096), *all = malloc(10000);
	size_t got;
	int fd = make_fd(10000, 9, true);

	ck_assert_int_eq(store_ingest_fd(st, fd, "r", &po, &o), STORE_OK);
	ck_assert_int_eq(pread(fd, all, 10000, 0), 10000);
	ck_assert_int_eq(store_read_chunk(st, o.key, 2, buf, 4096, &got, "r"),
			 STORE_OK);
	ck_assert_uint_eq(got, 10000 - 8192);
	ck_assert(!memcmp(buf, all + 8192, got));
	ck_assert_int_eq(store_read_chunk(st, o.key, 3, buf, 4096, &got, "r"),
			 STORE_INVAL);
	ck_assert_int_eq(store_read_chunk(st, o.key, 0, buf, 100, &got, "r"),
			 STORE_INVAL);
	close(fd);
	free(buf);
	free(all);
}
END_TEST

/* Warming the read path fetches nothing, changes nothing, and leaves
 * reads (from this thread and another) as they were. */
static void *read_chunk0(void *arg)
{
	const char *key = arg;
	char *buf = malloc(4096);
	size_t got = 0;
	store_rc rc = store_read_chunk(st, key, 0, buf, 4096, &got, "w");

	free(buf);
	return (void *)(intptr_t)(rc == STORE_OK && got == 4096);
}

START_TEST(test_store_warm)
{
	struct store_put_opts po = { 4096, 3 };
	struct store_metrics m0, m1;
	struct store_fsck_report r0, r1;
	struct store_object o;
	char *buf = malloc(4096), *all = malloc(10000);
	pthread_t t;
	void *ok;
	size_t got;
	int fd = make_fd(10000, 5, true);

	ck_assert_int_eq(store_ingest_fd(st, fd, "w", &po, &o), STORE_OK);
	ck_assert_int_eq(pread(fd, all, 10000, 0), 10000);
	r0 = fsck();
	store_metrics_get(st, &m0);
	store_warm(st);
	store_warm(st);
	store_metrics_get(st, &m1);
	ck_assert_uint_eq(m1.conn_gets, m0.conn_gets);
	ck_assert_uint_eq(m1.conn_get_bytes, m0.conn_get_bytes);
	ck_assert_uint_eq(m1.conn_puts, m0.conn_puts);
	r1 = fsck();
	ck_assert(!memcmp(&r0, &r1, sizeof(r0)));
	ck_assert_int_eq(store_read_chunk(st, o.key, 1, buf, 4096, &got, "w"),
			 STORE_OK);
	ck_assert_uint_eq(got, 4096);
	ck_assert(!memcmp(buf, all + 4096, got));
	ck_assert_int_eq(pthread_create(&t, NULL, read_chunk0, o.key), 0);
	ck_assert_int_eq(pthread_join(t, &ok), 0);
	ck_assert(ok);
	close(fd);
	free(buf);
	free(all);
}
END_TEST

/* Two chunks at once: the same bytes as one by one, and each its own
 * result: a short chunk, one past the end, one corrupt in the blob. */
START_TEST(test_store_read_chunk2)
{
	struct store_put_opts po = { 4096, 3 };
	struct store_object o;
	size_t len = 4 * 4096 + 1000;
	char *b0 = malloc(4096), *b1 = malloc(4096), *all = malloc(len);
	char p[400];
	unsigned char x;
	store_rc rc[2];
	int fd = make_fd(len, 11, true), bf;

	ck_assert_int_eq(store_ingest_fd(st, fd, "r2", &po, &o), STORE_OK);
	ck_assert_int_eq(pread(fd, all, len, 0), (ssize_t)len);
	ck_assert_int_eq(store_read_chunk2(st, o.key, 0, b0, b1, 4096, rc,
					   "r2"), STORE_OK);
	ck_assert(rc[0] == STORE_OK && rc[1] == STORE_OK);
	ck_assert(!memcmp(b0, all, 4096) && !memcmp(b1, all + 4096, 4096));
	ck_assert_int_eq(store_read_chunk2(st, o.key, 2, b0, b1, 4096, rc,
					   "r2"), STORE_OK);
	ck_assert(!memcmp(b0, all + 8192, 4096) &&
		  !memcmp(b1, all + 12288, 4096));
	/* the last chunk is short, and none follows it */
	ck_assert_int_eq(store_read_chunk2(st, o.key, 3, b0, b1, 4096, rc,
					   "r2"), STORE_CORRUPT);
	ck_assert(rc[0] == STORE_OK && rc[1] == STORE_CORRUPT);
	ck_assert(!memcmp(b0, all + 12288, 4096));
	ck_assert_int_eq(store_read_chunk2(st, o.key, 4, b0, b1, 4096, rc,
					   "r2"), STORE_CORRUPT);
	ck_assert(rc[0] == STORE_CORRUPT && rc[1] == STORE_INVAL);
	/* a flipped byte in the blob's fourth frame fails that chunk only */
	blob_path(o.key, p, sizeof(p));
	bf = open(p, O_RDWR);
	ck_assert_int_ge(bf, 0);
	ck_assert_int_eq(pread(bf, &x, 1, 3 * 4110 + 2000), 1);
	x ^= 0x55;
	ck_assert_int_eq(pwrite(bf, &x, 1, 3 * 4110 + 2000), 1);
	close(bf);
	ck_assert_int_eq(store_read_chunk2(st, o.key, 2, b0, b1, 4096, rc,
					   "r2"), STORE_CORRUPT);
	ck_assert(rc[0] == STORE_OK && rc[1] == STORE_CORRUPT);
	ck_assert(!memcmp(b0, all + 8192, 4096));
	ck_assert_ptr_nonnull(strstr(store_last_error(), "chunk 3"));
	close(fd);
	free(b0);
	free(b1);
	free(all);
}
END_TEST

START_TEST(test_store_check_chunk)
{
	struct store_put_opts po = { 4096, 3 };
	struct store_object o;
	char *all = malloc(10000);
	int fd = make_fd(10000, 9, true);

	ck_assert_int_eq(store_ingest_fd(st, fd, "r", &po, &o), STORE_OK);
	ck_assert_int_eq(pread(fd, all, 10000, 0), 10000);
	ck_assert_int_eq(store_check_chunk(st, o.key, 0, all, 4096), STORE_OK);
	ck_assert_int_eq(store_check_chunk(st, o.key, 2, all + 8192,
					   10000 - 8192), STORE_OK);
	/* wrong length, wrong place, a flipped bit: never accepted */
	ck_assert_int_eq(store_check_chunk(st, o.key, 2, all + 8192, 4096),
			 STORE_CORRUPT);
	ck_assert_int_eq(store_check_chunk(st, o.key, 1, all, 4096),
			 STORE_CORRUPT);
	all[4096 + 7] ^= 1;
	ck_assert_int_eq(store_check_chunk(st, o.key, 1, all + 4096, 4096),
			 STORE_CORRUPT);
	ck_assert_ptr_nonnull(strstr(store_last_error(), "chunk 1"));
	ck_assert_int_eq(store_check_chunk(st, o.key, 3, all, 4096),
			 STORE_INVAL);
	ck_assert_int_eq(store_check_chunk(st, "nokey", 0, all, 4096),
			 STORE_INVAL);
	ck_assert_int_eq(store_check_chunk(st, "0000000000000000000000000000"
					   "000000000000000000000000000000000000",
					   0, all, 4096), STORE_NOTFOUND);
	close(fd);
	free(all);
}
END_TEST

START_TEST(test_store_ingest_bad_options)
{
	struct store_put_opts po = { 3000, 3 };
	struct store_object o;
	int fd = make_fd(10, 1, false);

	ck_assert_int_eq(store_ingest_fd(st, fd, "x", &po, &o), STORE_INVAL);
	po.chunk_size = 0;
	po.level = 42;
	ck_assert_int_eq(store_ingest_fd(st, fd, "x", &po, &o), STORE_INVAL);
	ck_assert_int_eq(store_ingest_fd(st, -1, "x", NULL, &o), STORE_IO);
	ck_assert(fsck_clean());
	close(fd);
}
END_TEST

START_TEST(test_store_adopt)
{
	struct store *other = NULL;
	struct store_object o;
	char key[65], p[320], q[400], cmd[2048];

	put("a", 70000, 4, key);
	/* a second store gets the blob by copying the connector dir */
	snprintf(p, sizeof(p), "%s/s2", dir);
	ck_assert_int_eq(store_create(p, NULL), STORE_OK);
	ck_assert_int_eq(store_open(p, 0, &other), STORE_OK);
	ck_assert_int_eq(store_adopt(other, key, &o), STORE_NOTFOUND);
	snprintf(q, sizeof(q), "%s/objects/%.2s", p, key);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp '%s/objects/%.2s/%s'"
		 " '%s/'", q, spath, key, key, q);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(store_adopt(other, key, &o), STORE_OK);
	ck_assert_uint_eq(o.size, 70000);
	ck_assert_int_eq(store_object_info(other, key, &o), STORE_OK);
	ck_assert_uint_eq(o.refs, 0);
	ck_assert_uint_eq(o.nchunks, 1);
	/* a blob under the wrong key does not verify */
	snprintf(cmd, sizeof(cmd), "cp '%s/%s' '%s/%.62sff'", q, key, q, key);
	ck_assert_int_eq(system(cmd), 0);
	{
		char bad[65];

		snprintf(bad, sizeof(bad), "%.62sff", key);
		if (strcmp(bad, key))
			ck_assert_int_eq(store_adopt(other, bad, &o),
					 STORE_CORRUPT);
	}
	ck_assert_int_eq(store_adopt(other, "xyz", &o), STORE_INVAL);
	store_close(other);
}
END_TEST

/* ---- batches ---- */

START_TEST(test_store_rollback_leaves_nothing)
{
	struct store_attr a = file_attr();
	struct store_object o;
	struct store_totals t;
	int fd = make_fd(100000, 5, true);

	ck_assert_int_eq(store_begin(st), STORE_OK);
	ck_assert_int_eq(store_begin(st), STORE_INVAL);
	ck_assert_int_eq(store_ingest_fd(st, fd, "x", NULL, &o), STORE_OK);
	ck_assert_int_eq(store_mkfile(st, STORE_ROOT_INO, "x", &a, o.key, NULL,
				      0, NULL), STORE_OK);
	ck_assert_int_eq(store_mkfile(st, STORE_ROOT_INO, "x", &a, o.key, NULL,
				      0, NULL), STORE_EXISTS);
	store_rollback(st);
	ck_assert_int_eq(store_commit(st), STORE_INVAL);
	ck_assert_int_eq(store_totals(st, &t), STORE_OK);
	ck_assert_uint_eq(t.files, 0);
	ck_assert_uint_eq(t.objects, 0);
	ck_assert(fsck_clean());
	close(fd);
}
END_TEST

static bool blob_exists(const char *key)
{
	char p[400];

	blob_path(key, p, sizeof(p));
	return access(p, F_OK) == 0;
}

/* The gc lock held shared, as another process's writer holds it from its
 * blob's put to its commit. */
static int hold_gc_lock(void)
{
	char p[400];
	int fd;

	snprintf(p, sizeof(p), "%s/lock", spath);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_SH), 0);
	return fd;
}

/* The last line logged, for the tests that check what is said. */
static char logged[1024];

static void log_keep(enum store_log_level level, const char *fmt,
		     va_list ap)
{
	(void)level;
	vsnprintf(logged, sizeof(logged), fmt, ap);
}

static void *release_later(void *arg)
{
	usleep(200000);
	close(*(int *)arg);
	return NULL;
}

START_TEST(test_store_evict_deferred)
{
	struct store_attr a = file_attr();
	struct store *st2 = NULL;
	struct store_object o;
	char ka[STORE_KEY_HEX + 1], kb[STORE_KEY_HEX + 1];
	char kc[STORE_KEY_HEX + 1];
	pthread_t t;
	int lockfd, fd;

	put("a", 3000, 21, ka);
	put("b", 3000, 22, kb);
	put("c", 3000, 23, kc);
	ck_assert_int_eq(store_open(spath, 0, &st2), STORE_OK);
	/* another writer is between its put and its commit: the last
	 * references go, the blobs stay (deferred, not dropped) */
	lockfd = hold_gc_lock();
	ck_assert_int_eq(store_unlink(st, STORE_ROOT_INO, "a"), STORE_OK);
	ck_assert_int_eq(store_unlink(st, STORE_ROOT_INO, "b"), STORE_OK);
	ck_assert(blob_exists(ka) && blob_exists(kb));
	ck_assert_int_eq(store_evict_pending(st, 0), STORE_BUSY);
	ck_assert_int_eq(store_evict_pending(st, 50), STORE_BUSY);
	ck_assert(blob_exists(ka) && blob_exists(kb));
	/* inside a batch of its own handle: refused, the keys kept */
	ck_assert_int_eq(store_begin(st), STORE_OK);
	ck_assert_int_eq(store_evict_pending(st, 0), STORE_BUSY);
	ck_assert(strstr(store_last_error(), "a batch is open"));
	store_rollback(st);
	ck_assert(blob_exists(ka) && blob_exists(kb));
	/* meanwhile the other handle stores b's content again */
	fd = make_fd(3000, 22, true);
	ck_assert_int_eq(store_begin(st2), STORE_OK);
	ck_assert_int_eq(store_ingest_fd(st2, fd, "b2", NULL, &o), STORE_OK);
	ck_assert_str_eq(o.key, kb);
	ck_assert_int_eq(store_mkfile(st2, STORE_ROOT_INO, "b2", &a, o.key,
				      NULL, 0, NULL), STORE_OK);
	ck_assert_int_eq(store_commit(st2), STORE_OK);
	close(fd);
	/* the writer commits: a's blob goes, b's (named again) stays */
	close(lockfd);
	ck_assert_int_eq(store_evict_pending(st, 0), STORE_OK);
	ck_assert(!blob_exists(ka));
	ck_assert(blob_exists(kb));
	ck_assert_int_eq(store_evict_pending(st, 0), STORE_OK);
	ck_assert(fsck_clean());
	/* a short-lived handle: its close waits a little for the lock */
	lockfd = hold_gc_lock();
	ck_assert_int_eq(store_unlink(st2, STORE_ROOT_INO, "c"), STORE_OK);
	ck_assert(blob_exists(kc));
	ck_assert_int_eq(pthread_create(&t, NULL, release_later, &lockfd), 0);
	store_close(st2);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert(!blob_exists(kc));
	ck_assert(fsck_clean());
}
END_TEST

/* store_close() cannot evict: the blob stays for gc, and the log says
 * why, busy or not. */
START_TEST(test_store_close_leaves_for_gc)
{
	char ka[STORE_KEY_HEX + 1], kb[STORE_KEY_HEX + 1];
	char lock[400], moved[400];
	struct store *st2 = NULL;
	uint64_t removed = 0;
	int lockfd;

	put("a", 3000, 31, ka);
	put("b", 3000, 32, kb);
	store_set_log(log_keep, STORE_LOG_DEBUG);
	/* held for longer than the close waits (2 s) */
	ck_assert_int_eq(store_open(spath, 0, &st2), STORE_OK);
	lockfd = hold_gc_lock();
	ck_assert_int_eq(store_unlink(st2, STORE_ROOT_INO, "a"), STORE_OK);
	logged[0] = '\0';
	store_close(st2);
	ck_assert_msg(strstr(logged, "busy: 1 unused blobs left for 'pxfs gc'"),
		      "logged: %s", logged);
	ck_assert(blob_exists(ka));
	close(lockfd);
	/* a lock that cannot be opened at all: its reason is said */
	snprintf(lock, sizeof(lock), "%s/lock", spath);
	snprintf(moved, sizeof(moved), "%s/lock.moved", spath);
	ck_assert_int_eq(store_open(spath, 0, &st2), STORE_OK);
	lockfd = hold_gc_lock();
	ck_assert_int_eq(store_unlink(st2, STORE_ROOT_INO, "b"), STORE_OK);
	ck_assert_int_eq(rename(lock, moved), 0);
	ck_assert_int_eq(mkdir(lock, 0700), 0);
	logged[0] = '\0';
	store_close(st2);
	ck_assert_msg(strstr(logged, "1 unused blobs of store") &&
		      strstr(logged, "cannot open lock"), "logged: %s", logged);
	ck_assert(blob_exists(kb));
	ck_assert_int_eq(rmdir(lock), 0);
	ck_assert_int_eq(rename(moved, lock), 0);
	close(lockfd);
	store_set_log(NULL, STORE_LOG_INFO);
	/* what was left is gc's, and gc takes it */
	ck_assert_int_eq(store_gc(st, NULL, NULL, &removed, NULL), STORE_OK);
	ck_assert_uint_eq(removed, 2);
	ck_assert(!blob_exists(ka) && !blob_exists(kb));
	ck_assert(fsck_clean());
}
END_TEST

START_TEST(test_store_readonly)
{
	struct store *ro = NULL;
	struct store_attr a = { 0755, 0, 0, 0 };

	ck_assert_int_eq(store_open(spath, STORE_OPEN_RDONLY, &ro), STORE_OK);
	ck_assert_int_eq(store_mkdir(ro, STORE_ROOT_INO, "x", &a, 0, NULL),
			 STORE_ROFS);
	ck_assert_int_eq(store_begin(ro), STORE_ROFS);
	ck_assert_int_eq(store_gc(ro, NULL, NULL, NULL, NULL), STORE_ROFS);
	store_close(ro);
}
END_TEST

/* ---- fsck and gc ---- */

START_TEST(test_store_fsck_gc)
{
	struct store_object o;
	char p[400], key[65];
	uint64_t removed = 0, freed = 0;
	struct store_fsck_report r;
	int fd;

	put("keep", 1234, 11, NULL);
	/* an object nobody claims, an orphan blob, a temp leftover */
	fd = make_fd(777, 12, true);
	ck_assert_int_eq(store_ingest_fd(st, fd, "u", NULL, &o), STORE_OK);
	close(fd);
	put("gone", 4321, 13, key);
	snprintf(p, sizeof(p), "%s/index.db", spath);
	{
		struct store *x = NULL;

		/* drop the row behind the store's back: blob is an orphan */
		ck_assert_int_eq(store_open(spath, 0, &x), STORE_OK);
		ck_assert_int_eq(store_unlink(x, STORE_ROOT_INO, "keep"),
				 STORE_OK);
		store_close(x);
	}
	snprintf(p, sizeof(p), "%s/objects/tmp/put-leftover", spath);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
	r = fsck();
	ck_assert_uint_eq(r.unreferenced, 1);
	ck_assert_uint_eq(r.leftovers, 1);
	ck_assert_int_eq(store_gc(st, NULL, NULL, &removed, &freed), STORE_OK);
	ck_assert_uint_ge(removed, 2);
	ck_assert_uint_gt(freed, 0);
	ck_assert(fsck_clean());
	/* what was in use survived */
	{
		struct store_node n;

		ck_assert_int_eq(store_walk(st, "gone", &n), STORE_OK);
		ck_assert_str_eq(n.key, key);
	}
}
END_TEST

START_TEST(test_store_rc_text)
{
	for (int rc = STORE_OK; rc <= STORE_EVICTED; rc++) {
		ck_assert_ptr_nonnull(store_rc_str((store_rc)rc));
		ck_assert_int_ge(store_rc_to_errno((store_rc)rc), 0);
	}
	ck_assert_int_eq(store_rc_to_errno(STORE_NOTFOUND), ENOENT);
	ck_assert_int_eq(store_rc_to_errno(STORE_CORRUPT), EIO);
	ck_assert_str_eq(store_rc_str((store_rc)999), "unknown error");
}
END_TEST


/* ---- attributes, content, futures, evict-on-read, lifetimes ---- */

START_TEST(test_store_setattr)
{
	struct store_attr a = { 0600, 7, 8, 1000000000 };
	struct store_node n;
	char key[65];

	put("f", 10, 1, key);
	ck_assert_int_eq(store_walk(st, "f", &n), STORE_OK);
	ck_assert_int_eq(store_setattr(st, n.ino, STORE_SET_MODE |
				       STORE_SET_UID | STORE_SET_GID |
				       STORE_SET_MTIME, &a, &n), STORE_OK);
	ck_assert_uint_eq(n.mode, S_IFREG | 0600);
	ck_assert_uint_eq(n.uid, 7);
	ck_assert_uint_eq(n.gid, 8);
	ck_assert_int_eq(n.mtime_ns, 1000000000);
	ck_assert_int_eq(store_setattr(st, n.ino, 0x100, &a, &n), STORE_INVAL);
	ck_assert_int_eq(store_setattr(st, 4242, STORE_SET_MODE, &a, &n),
			 STORE_NOTFOUND);
}
END_TEST

START_TEST(test_store_set_content)
{
	struct store_object o;
	struct store_node n, d;
	struct store_attr a = { 0755, 0, 0, 0 };
	char k1[65], k2[65];

	put("f", 1000, 1, k1);
	put("g", 2000, 2, k2);
	ck_assert_int_eq(store_walk(st, "f", &n), STORE_OK);
	ck_assert_int_eq(store_set_content(st, n.ino, k2, NULL, 0, &n),
			 STORE_OK);
	ck_assert_str_eq(n.key, k2);
	ck_assert_uint_eq(n.size, 2000);
	ck_assert_int_eq(store_object_info(st, k2, &o), STORE_OK);
	ck_assert_uint_eq(o.refs, 2);
	ck_assert_int_eq(store_object_info(st, k1, &o), STORE_NOTFOUND);
	ck_assert_int_eq(store_mkdir(st, STORE_ROOT_INO, "d", &a, 0, &d),
			 STORE_OK);
	ck_assert_int_eq(store_set_content(st, d.ino, k2, NULL, 0, NULL),
			 STORE_ISDIR);
	ck_assert_int_eq(store_set_content(st, n.ino, "nokey", NULL, 0, NULL),
			 STORE_INVAL);
	ck_assert(fsck_clean());
}
END_TEST

START_TEST(test_store_future)
{
	struct store_wait w = { 300, 10, 50, 2.0 };
	struct store_attr a = file_attr();
	struct store_node f, n;
	int fd;

	ck_assert_int_eq(store_future(st, STORE_ROOT_INO, "fut", &a, &w, &f),
			 STORE_OK);
	ck_assert(f.flags & STORE_NODE_PENDING);
	ck_assert(store_is_key(f.key));
	ck_assert(fsck_clean());
	/* nobody sets it: the reader times out */
	ck_assert_int_eq(store_wait_node(st, f.ino, NULL, "fut", &n),
			 STORE_TIMEDOUT);
	ck_assert_ptr_nonnull(strstr(store_last_error(), "fut"));
	fd = make_fd(5000, 3, true);
	ck_assert_int_eq(store_future_set(st, f.ino, fd, "fut", NULL, &n),
			 STORE_OK);
	ck_assert(!(n.flags & STORE_NODE_PENDING));
	ck_assert_uint_eq(n.size, 5000);
	ck_assert_uint_eq(n.ino, f.ino);
	ck_assert_int_eq(store_wait_node(st, f.ino, NULL, "fut", &n),
			 STORE_OK);
	/* set twice, or on a file that is no future */
	lseek(fd, 0, SEEK_SET);
	ck_assert_int_eq(store_future_set(st, f.ino, fd, "fut", NULL, NULL),
			 STORE_INVAL);
	close(fd);
	ck_assert(fsck_clean());
	w.backoff = 0.5;
	ck_assert_int_eq(store_future(st, STORE_ROOT_INO, "g", &a, &w, &f),
			 STORE_INVAL);
	ck_assert_int_eq(store_future(st, STORE_ROOT_INO, "fut", &a, NULL, &f),
			 STORE_EXISTS);
}
END_TEST

START_TEST(test_store_evict_on_read)
{
	struct store_object o;
	char key[65], out[300];
	int fd;

	put("e", 3000, 4, key);
	ck_assert(!store_is_evict_on_read(st, key));
	ck_assert_int_eq(store_evicted_after_read(st, key), STORE_INVAL);
	ck_assert_int_eq(store_set_evict_on_read(st, key), STORE_OK);
	ck_assert(store_is_evict_on_read(st, key));
	ck_assert_int_eq(store_evicted_after_read(st, key), STORE_OK);
	ck_assert_int_eq(store_object_info(st, key, &o), STORE_OK);
	ck_assert(o.evicted);
	snprintf(out, sizeof(out), "%s/out", dir);
	fd = open(out, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	ck_assert_int_eq(store_export_fd(st, key, fd, "e"), STORE_EVICTED);
	close(fd);
	ck_assert_ptr_nonnull(strstr(store_last_error(), "evicted"));
	ck_assert(fsck_clean());
	ck_assert_int_eq(store_set_evict_on_read(st,
		"0000000000000000000000000000000000000000000000000000000000000000"),
		STORE_NOTFOUND);
}
END_TEST

static int count_lifetimes(void *arg, const char *name, uint64_t entries,
			   int64_t expires_ns)
{
	int *n = arg;

	(void)name;
	(void)entries;
	(void)expires_ns;
	++*n;
	return 0;
}

START_TEST(test_store_lifetimes)
{
	struct store_attr a = { 0755, 0, 0, 0 };
	struct store_node f, d;
	uint64_t removed = 0, ended = 0;
	char k1[65];
	int n = 0;

	put("f", 1000, 1, k1);
	ck_assert_int_eq(store_walk(st, "f", &f), STORE_OK);
	ck_assert_int_eq(store_mkdir(st, STORE_ROOT_INO, "d", &a, 0, &d),
			 STORE_OK);
	ck_assert_int_eq(store_mkdir(st, d.ino, "sub", &a, 0, NULL), STORE_OK);
	ck_assert_int_eq(store_set_lifetime(st, f.ino, "job1"), STORE_OK);
	ck_assert_int_eq(store_set_lifetime(st, d.ino, "job1"), STORE_OK);
	ck_assert_int_eq(store_set_lifetime(st, STORE_ROOT_INO, "job1"),
			 STORE_INVAL);
	ck_assert_int_eq(store_lifetime_create(st, "job1", 0), STORE_EXISTS);
	ck_assert_int_eq(store_lifetime_create(st, "", 0), STORE_INVAL);
	ck_assert_int_eq(store_lifetime_list(st, count_lifetimes, &n),
			 STORE_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(store_lifetime_end(st, "nope", &removed),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_lifetime_end(st, "job1", &removed), STORE_OK);
	ck_assert_uint_eq(removed, 2);
	ck_assert_int_eq(store_walk(st, "f", &f), STORE_NOTFOUND);
	ck_assert_int_eq(store_walk(st, "d/sub", &f), STORE_NOTFOUND);
	ck_assert(fsck_clean());
	/* a lease that has already run out */
	put("g", 1000, 2, NULL);
	ck_assert_int_eq(store_walk(st, "g", &f), STORE_OK);
	ck_assert_int_eq(store_lifetime_create(st, "lease", 1), STORE_OK);
	ck_assert_int_eq(store_set_lifetime(st, f.ino, "lease"), STORE_OK);
	ck_assert_int_eq(store_lifetime_expire(st, &ended), STORE_OK);
	ck_assert_uint_eq(ended, 0);
	ck_assert_int_eq(store_lifetime_extend(st, "lease", 1), STORE_OK);
	ck_assert_int_eq(store_lifetime_extend(st, "nope", 1), STORE_NOTFOUND);
	sleep(2);
	ck_assert_int_eq(store_lifetime_expire(st, &ended), STORE_OK);
	ck_assert_uint_eq(ended, 1);
	ck_assert_int_eq(store_walk(st, "g", &f), STORE_NOTFOUND);
	ck_assert(fsck_clean());
}
END_TEST

START_TEST(test_store_fsck_deep_whole_hash)
{
	struct store_fsck_report r;
	sqlite3 *db = NULL;
	char key[65], p[400], sql[300];

	put("h", 9000, 6, key);
	/* an index whose hash disagrees with chunk digests that verify */
	snprintf(p, sizeof(p), "%s/index.db", spath);
	ck_assert_int_eq(sqlite3_open(p, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "UPDATE objects SET hash = '%064d' WHERE"
		 " key = '%s'", 0, key);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_eq(store_fsck(st, false, NULL, NULL, &r), STORE_OK);
	ck_assert_uint_eq(r.corrupt, 0);
	ck_assert_int_eq(store_fsck(st, true, NULL, NULL, &r), STORE_OK);
	ck_assert_uint_eq(r.corrupt, 1);
}
END_TEST

/* Run @sql on the store's index behind the store's back. */
static void index_exec(const char *sql)
{
	sqlite3 *db = NULL;
	char p[400];

	snprintf(p, sizeof(p), "%s/index.db", spath);
	ck_assert_int_eq(sqlite3_open(p, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int count_fds(void)
{
	char p[64];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		n += access(p, F_OK) == 0;
	}
	return n;
}

/* Sizes no ingest makes (found by tests/fuzz/fuzz_index_sql): totals
 * are clamped, never a double converted out of range. */
START_TEST(test_store_totals_hostile_sizes)
{
	struct store_totals t;

	put("a", 100, 1, NULL);
	put("b", 200, 2, NULL);
	index_exec("UPDATE objects SET size = -1, stored_size = -5;"
		   "UPDATE nodes SET size = -1 WHERE key IS NOT NULL");
	ck_assert_int_eq(store_totals(st, &t), STORE_OK);
	ck_assert_uint_eq(t.files, 2);
	ck_assert_uint_eq(t.bytes, 0);
	ck_assert_uint_eq(t.stored_bytes, 0);
	ck_assert_uint_eq(t.logical_bytes, 0);
	index_exec("UPDATE objects SET size = 9223372036854775807");
	ck_assert_int_eq(store_totals(st, &t), STORE_OK);
	ck_assert_uint_eq(t.bytes, UINT64_MAX);
}
END_TEST

/* Totals are kept while the index is unchanged, and follow every change:
 * this handle's, and another handle's (another process's). */
START_TEST(test_store_totals_follow_changes)
{
	struct store_totals t;
	struct store *other = NULL;
	struct store_attr da = { 040755, 0, 0, 0 };

	put("a", 100, 1, NULL);
	ck_assert_int_eq(store_totals(st, &t), STORE_OK);
	ck_assert_uint_eq(t.files, 1);
	ck_assert_int_eq(store_totals(st, &t), STORE_OK);
	ck_assert_uint_eq(t.files, 1);
	put("b", 200, 2, NULL);
	ck_assert_int_eq(store_totals(st, &t), STORE_OK);
	ck_assert_uint_eq(t.files, 2);
	ck_assert_uint_eq(t.logical_bytes, 300);
	ck_assert_int_eq(store_open(spath, 0, &other), STORE_OK);
	ck_assert_int_eq(store_mkdir(other, STORE_ROOT_INO, "d", &da, 0, NULL),
			 STORE_OK);
	ck_assert_int_eq(store_unlink(other, STORE_ROOT_INO, "a"), STORE_OK);
	ck_assert_int_eq(store_totals(st, &t), STORE_OK);
	ck_assert_uint_eq(t.files, 1);
	ck_assert_uint_eq(t.dirs, 2);
	ck_assert_uint_eq(t.logical_bytes, 200);
	store_close(other);
}
END_TEST

/* An index whose reads fail half way (found by tests/fuzz/fuzz_index):
 * fsck says so and leaves nothing open behind it. */
START_TEST(test_store_fsck_failed_step)
{
	static const char junk[64] = "not a b-tree page";
	struct store_fsck_report r;
	sqlite3_stmt *s = NULL;
	sqlite3 *db = NULL;
	int64_t roots[8];
	int n = 0, page, before, fd;
	char p[400];

	put("a", 100, 1, NULL);
	store_close(st);
	st = NULL;
	/* break the pages of nodes and of its indexes: the schema, and so
	 * every prepare, still reads; every step on them fails */
	snprintf(p, sizeof(p), "%s/index.db", spath);
	ck_assert_int_eq(sqlite3_open(p, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &s,
					    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	page = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT rootpage FROM"
					    " sqlite_master WHERE tbl_name ="
					    " 'nodes' AND rootpage > 1", -1,
					    &s, NULL), SQLITE_OK);
	while (n < 8 && sqlite3_step(s) == SQLITE_ROW)
		roots[n++] = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	ck_assert_int_gt(n, 0);
	fd = open(p, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(pwrite(fd, junk, sizeof(junk),
					(off_t)(roots[i] - 1) * page),
				 (ssize_t)sizeof(junk));
	close(fd);

	before = count_fds();
	ck_assert_int_eq(store_open(spath, 0, &st), STORE_OK);
	ck_assert_int_eq(store_fsck(st, false, NULL, NULL, &r),
			 STORE_CORRUPT);
	store_close(st);
	st = NULL;
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

START_TEST(test_store_object_many_batches)
{
	struct store_put_opts po = { 4096, 1 };
	struct store_object o;
	struct stat sb;
	char out[300], cmd[700], p[400];
	size_t len = 70 * 4096 + 5;
	unsigned char b;
	int in = make_fd(len, 21, true), fd, bf;

	/* more chunks than one batch holds, so batches overlap */
	ck_assert_int_eq(store_ingest_fd(st, in, "in", &po, &o), STORE_OK);
	ck_assert_uint_eq(o.nchunks, 71);
	snprintf(out, sizeof(out), "%s/out", dir);
	fd = open(out, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	ck_assert_int_eq(store_export_fd(st, o.key, fd, "x"), STORE_OK);
	close(fd);
	snprintf(cmd, sizeof(cmd), "cmp -s /proc/%d/fd/%d '%s'",
		 (int)getpid(), in, out);
	lseek(in, 0, SEEK_SET);
	ck_assert_int_eq(system(cmd), 0);
	close(in);
	/* a bad chunk in the middle: what came before it is written, the
	 * bad chunk and everything after it is not */
	snprintf(p, sizeof(p), "%s/objects/%.2s/%s", spath, o.key, o.key);
	bf = open(p, O_RDWR);
	ck_assert_int_ge(bf, 0);
	{
		/* incompressible 4 KiB chunks at level 1 are stored raw:
		 * frame 40 starts after 40 equal frames */
		off_t at = (off_t)(o.stored_size / 71) * 40 + 100;

		ck_assert_int_eq(pread(bf, &b, 1, at), 1);
		b ^= 0xff;
		ck_assert_int_eq(pwrite(bf, &b, 1, at), 1);
	}
	close(bf);
	fd = open(out, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	ck_assert_int_eq(store_export_fd(st, o.key, fd, "x"), STORE_CORRUPT);
	close(fd);
	ck_assert_int_eq(stat(out, &sb), 0);
	ck_assert_int_lt(sb.st_size, 41 * 4096);
	ck_assert_int_eq(sb.st_size % 4096, 0);
}
END_TEST

struct seen_changes {
	int n;
	uint64_t inos[16];
};

static int on_change(void *arg, uint64_t ino, uint64_t parent,
		     const char *name)
{
	struct seen_changes *c = arg;

	(void)parent;
	(void)name;
	if (c->n < 16)
		c->inos[c->n] = ino;
	c->n++;
	return 0;
}

START_TEST(test_store_changes)
{
	struct store_attr a = { 0755, 0, 0, 0 };
	struct seen_changes c = { 0, { 0 } };
	struct store_node d;
	uint64_t seq0, last, seq;

	ck_assert_int_eq(store_change_seq(st, &seq0), STORE_OK);
	ck_assert_int_eq(store_mkdir(st, STORE_ROOT_INO, "d", &a, 0, &d),
			 STORE_OK);
	ck_assert_int_eq(store_rename(st, STORE_ROOT_INO, "d", STORE_ROOT_INO,
				      "e"), STORE_OK);
	ck_assert_int_eq(store_changes(st, seq0, on_change, &c, &last),
			 STORE_OK);
	ck_assert_int_eq(c.n, 3);	/* created; left "d"; became "e" */
	ck_assert_uint_eq(c.inos[0], d.ino);
	ck_assert_int_eq(store_change_seq(st, &seq), STORE_OK);
	ck_assert_uint_eq(seq, last);
	c.n = 0;
	ck_assert_int_eq(store_changes(st, last, on_change, &c, &last),
			 STORE_OK);
	ck_assert_int_eq(c.n, 0);
	/* trimmed away: a watcher that lagged is told */
	ck_assert_int_eq(store_rmdir(st, STORE_ROOT_INO, "e"), STORE_OK);
	ck_assert_int_eq(store_changes_trim(st, 0), STORE_OK);
	ck_assert_int_eq(store_changes(st, seq0, on_change, &c, &last),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_change_seq(st, &seq), STORE_OK);
	ck_assert_uint_eq(seq, seq0 + 4);
	ck_assert_int_eq(store_changes(st, seq, on_change, &c, &last),
			 STORE_OK);
}
END_TEST

/* ---- progress ---- */

/* What a store_set_progress() hook saw. */
struct progress_log {
	pthread_t caller;		/* the thread that calls the store */
	int calls;
	uint64_t first_total;		/* the first call's total */
	uint64_t done, total;		/* the last call's figures */
	bool bad;			/* a call broke the promises */
};

static void on_progress(void *arg, uint64_t done, uint64_t total)
{
	struct progress_log *l = arg;

	/* on the calling thread; done never above total; the first call
	 * at 0; then rising, never the same figures twice */
	if (!pthread_equal(pthread_self(), l->caller) || done > total ||
	    (l->calls == 0 && done != 0) ||
	    (l->calls > 0 && (done < l->done ||
			      (done == l->done && total == l->total))))
		l->bad = true;
	if (l->calls == 0)
		l->first_total = total;
	l->calls++;
	l->done = done;
	l->total = total;
}

static void progress_log_init(struct progress_log *l)
{
	memset(l, 0, sizeof(*l));
	l->caller = pthread_self();
}

#define FEED_PIECES	8

/* Write FEED_PIECES pieces of 4096 bytes to the pipe *arg, a pause
 * before each, then close it: the ingest stores each before the next. */
static void *feed_slowly(void *arg)
{
	static char piece[4096];
	int fd = *(int *)arg;

	memset(piece, 'p', sizeof(piece));
	for (int i = 0; i < FEED_PIECES; i++) {
		usleep(30000);
		if (write(fd, piece, sizeof(piece)) != (ssize_t)sizeof(piece))
			break;
	}
	close(fd);
	return NULL;
}

/*
 * Ingests report through the hook: from the calling thread, from 0 of
 * the input's size up to all of it, for many chunks (on the pool's
 * threads), from the input's offset, for an input of unknown size (a
 * pipe), as it comes in, and for an empty one; and no longer once it is
 * unset.
 */
START_TEST(test_store_progress_ingest)
{
	struct store_put_opts po = { 4096, 1 };
	size_t len = 70 * 4096 + 5;
	struct progress_log l;
	struct store_object o;
	int in = make_fd(len, 31, true), pfd[2], calls;
	pthread_t feeder;

	progress_log_init(&l);
	store_set_progress(st, on_progress, &l);
	ck_assert_int_eq(store_ingest_fd(st, in, "in", &po, &o), STORE_OK);
	ck_assert(!l.bad);
	ck_assert_int_ge(l.calls, 2);
	ck_assert_uint_eq(l.first_total, len);
	ck_assert_uint_eq(l.done, len);
	ck_assert_uint_eq(l.total, len);

	/* from the offset on */
	progress_log_init(&l);
	lseek(in, 5000, SEEK_SET);
	ck_assert_int_eq(store_ingest_fd(st, in, "in", &po, &o), STORE_OK);
	ck_assert(!l.bad);
	ck_assert_uint_eq(l.first_total, len - 5000);
	ck_assert_uint_eq(l.done, len - 5000);
	ck_assert_uint_eq(l.total, len - 5000);
	close(in);

	/* a pipe: no size at first, the real one at the end */
	progress_log_init(&l);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(write(pfd[1], "0123456789", 10), 10);
	close(pfd[1]);
	ck_assert_int_eq(store_ingest_fd(st, pfd[0], "pipe", &po, &o),
			 STORE_OK);
	close(pfd[0]);
	ck_assert(!l.bad);
	ck_assert_uint_eq(l.first_total, 0);
	ck_assert_int_eq(l.calls, 2);
	ck_assert_uint_eq(l.done, 10);
	ck_assert_uint_eq(l.total, 10);

	/* a slow pipe: each piece is reported while the rest is awaited */
	progress_log_init(&l);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(pthread_create(&feeder, NULL, feed_slowly, &pfd[1]),
			 0);
	ck_assert_int_eq(store_ingest_fd(st, pfd[0], "pipe", &po, &o),
			 STORE_OK);
	pthread_join(feeder, NULL);
	close(pfd[0]);
	ck_assert(!l.bad);
	ck_assert_int_ge(l.calls, FEED_PIECES / 2);
	ck_assert_uint_eq(l.done, FEED_PIECES * 4096);
	ck_assert_uint_eq(l.total, FEED_PIECES * 4096);

	/* empty: the one call says it all */
	progress_log_init(&l);
	in = make_fd(0, 1, false);
	ck_assert_int_eq(store_ingest_fd(st, in, "empty", NULL, &o),
			 STORE_OK);
	ck_assert(!l.bad);
	ck_assert_int_eq(l.calls, 1);
	ck_assert_uint_eq(l.done, 0);
	ck_assert_uint_eq(l.total, 0);
	close(in);

	/* unset: not called */
	store_set_progress(st, NULL, NULL);
	calls = l.calls;
	in = make_fd(len, 32, true);
	ck_assert_int_eq(store_ingest_fd(st, in, "in", &po, &o), STORE_OK);
	close(in);
	ck_assert_int_eq(l.calls, calls);
}
END_TEST

/* store_publish() reports the snapshot it stores: its size is the total,
 * and the last call has it all; without the hook, nothing. */
START_TEST(test_store_progress_publish)
{
	char key[STORE_KEY_HEX + 1];
	struct progress_log l;
	struct store_object o;

	for (int i = 0; i < 20; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%d", i);
		put(name, 1000, (unsigned)i, NULL);
	}
	progress_log_init(&l);
	store_set_progress(st, on_progress, &l);
	ck_assert_int_eq(store_publish(st, NULL, key), STORE_OK);
	ck_assert(!l.bad);
	ck_assert_int_ge(l.calls, 2);
	ck_assert_int_eq(store_object_info(st, key, &o), STORE_OK);
	ck_assert_uint_gt(o.size, 0);
	ck_assert_uint_eq(l.first_total, o.size);
	ck_assert_uint_eq(l.done, o.size);
	ck_assert_uint_eq(l.total, o.size);

	store_set_progress(st, NULL, NULL);
	progress_log_init(&l);
	ck_assert_int_eq(store_publish(st, "t", key), STORE_OK);
	ck_assert_int_eq(l.calls, 0);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("lifecycle");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_store_create_refuses_existing);
	tcase_add_test(tc, test_store_create_bad_options);
	tcase_add_test(tc, test_store_create_modes);
	tcase_add_test(tc, test_store_open_errors);
	tcase_add_test(tc, test_store_open_bad_index);
	tcase_add_test(tc, test_store_readonly);
	tcase_add_test(tc, test_store_rc_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("namespace");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_store_namespace_tree);
	tcase_add_test(tc, test_store_name_limits);
	tcase_add_test(tc, test_store_readdir_cookies);
	tcase_add_test(tc, test_store_rename_rules);
	suite_add_tcase(s, tc);

	tc = tcase_create("objects");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_store_object_roundtrip);
	tcase_add_test(tc, test_store_object_many_batches);
	tcase_add_test(tc, test_store_ingest_large);
	tcase_add_test(tc, test_store_dedupe_and_refs);
	tcase_add_test(tc, test_store_mkfile_unknown_key);
	tcase_add_test(tc, test_store_read_chunk);
	tcase_add_test(tc, test_store_warm);
	tcase_add_test(tc, test_store_read_chunk2);
	tcase_add_test(tc, test_store_check_chunk);
	tcase_add_test(tc, test_store_ingest_bad_options);
	tcase_add_test(tc, test_store_adopt);
	suite_add_tcase(s, tc);

	tc = tcase_create("corrupt");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_store_corrupt_blob);
	tcase_add_test(tc, test_store_fsck_deep_whole_hash);
	tcase_add_test(tc, test_store_totals_hostile_sizes);
	tcase_add_test(tc, test_store_totals_follow_changes);
	tcase_add_test(tc, test_store_fsck_failed_step);
	suite_add_tcase(s, tc);

	tc = tcase_create("batches");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_store_rollback_leaves_nothing);
	tcase_add_test(tc, test_store_fsck_gc);
	tcase_add_test(tc, test_store_evict_deferred);
	tcase_add_test(tc, test_store_close_leaves_for_gc);
	suite_add_tcase(s, tc);

	tc = tcase_create("writable");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_store_setattr);
	tcase_add_test(tc, test_store_set_content);
	tcase_add_test(tc, test_store_future);
	tcase_add_test(tc, test_store_evict_on_read);
	tcase_add_test(tc, test_store_lifetimes);
	tcase_add_test(tc, test_store_changes);
	suite_add_tcase(s, tc);

	tc = tcase_create("progress");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_store_progress_ingest);
	tcase_add_test(tc, test_store_progress_publish);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
