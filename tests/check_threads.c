/* SPDX-License-Identifier: MIT */
/*
 * check_threads.c - unit suite for what threads share in libstore: the
 * worker pool (store/pool.c), one struct store used by many threads at
 * once (as the mount's request threads use it: ingests, exports, range
 * reads, metadata and metrics interleaved), and two handles on one store
 * (a mount and a command) committing batches at the same time.  The
 * results are checked here; the data races are TSan's to find (make
 * tsan-smoke runs this suite under -fsanitize=thread).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "store_int.h"

#define NTHREADS	4
#define ROUNDS		12

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
	struct store_create_opts o = { 0 };

	snprintf(dir, sizeof(dir), "/tmp/check_threads.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(spath, sizeof(spath), "%s/s", dir);
	o.chunk_size = 4096;	/* many chunks: the pool has work */
	ck_assert_int_eq(store_create(spath, &o), STORE_OK);
	ck_assert_int_eq(store_open(spath, 0, &st), STORE_OK);
}

static void teardown(void)
{
	store_close(st);
	st = NULL;
	rm_rf(dir);
}

/* Deterministic content @len bytes long for (@seed): a cheap generator,
 * so that threads can make and check it without sharing anything. */
static void fill(unsigned char *buf, size_t len, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		/* compressible in part: every other 1 KiB is a run */
		buf[i] = (i >> 10) & 1 ? (unsigned char)seed : (unsigned char)x;
	}
}

/* An unlinked temp file holding fill(@len, @seed), at offset 0. */
static int make_fd(size_t len, unsigned seed)
{
	char path[300];
	unsigned char *buf = malloc(len ? len : 1);
	int fd;

	ck_assert_ptr_nonnull(buf);
	fill(buf, len, seed);
	snprintf(path, sizeof(path), "%s/src.XXXXXX", dir);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	lseek(fd, 0, SEEK_SET);
	free(buf);
	return fd;
}

/* Does what @fd holds from offset 0 equal fill(@len, @seed)? */
static bool fd_is(int fd, size_t len, unsigned seed)
{
	unsigned char *want = malloc(len + 1), *got = malloc(len + 1);
	struct stat sb;
	bool ok;

	ck_assert_ptr_nonnull(want);
	ck_assert_ptr_nonnull(got);
	fill(want, len, seed);
	ok = fstat(fd, &sb) == 0 && (size_t)sb.st_size == len &&
	     pread(fd, got, len, 0) == (ssize_t)len &&
	     memcmp(want, got, len) == 0;
	free(want);
	free(got);
	return ok;
}

static int tmp_fd(void)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/out.XXXXXX", dir);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	return fd;
}

/* ---- pool ---- */

struct sum {
	_Atomic uint64_t total;
	_Atomic unsigned hits[512];
	unsigned nworkers;
	_Atomic unsigned bad_worker;
};

static void add_item(void *ctx, unsigned worker, unsigned i)
{
	struct sum *s = ctx;

	if (worker >= s->nworkers)
		atomic_fetch_add(&s->bad_worker, 1);
	atomic_fetch_add(&s->hits[i], 1);
	atomic_fetch_add(&s->total, i);
}

START_TEST(test_threads_pool_loops)
{
	unsigned sizes[] = { 0, 1, 2, 7, 64, 511 };
	unsigned threads[] = { 0, 1, 3, 6 };

	for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		struct store_pool *p = store_pool_new(threads[t]);

		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq(store_pool_threads(p), threads[t] + 1);
		/* many loops back to back: each starts while workers may
		 * still be leaving the previous one */
		for (unsigned r = 0; r < 50; r++) {
			unsigned n = sizes[r % 6];
			struct sum *s = calloc(1, sizeof(*s));

			ck_assert_ptr_nonnull(s);
			s->nworkers = store_pool_threads(p);
			store_pool_start(p, n, add_item, s);
			store_pool_wait(p, n, add_item, s);
			ck_assert_uint_eq(atomic_load(&s->total),
					  n ? (uint64_t)n * (n - 1) / 2 : 0);
			for (unsigned i = 0; i < n; i++)
				ck_assert_uint_eq(atomic_load(&s->hits[i]), 1);
			ck_assert_uint_eq(atomic_load(&s->bad_worker), 0);
			free(s);
		}
		store_pool_free(p);
	}
	/* no pool: the caller runs it all */
	{
		struct sum *s = calloc(1, sizeof(*s));

		ck_assert_ptr_nonnull(s);
		s->nworkers = 1;
		store_pool_wait(NULL, 100, add_item, s);
		ck_assert_uint_eq(atomic_load(&s->total), 4950);
		free(s);
	}
	store_pool_free(NULL);
}
END_TEST

/* ---- one handle, many threads ---- */

struct worker {
	struct store *st;
	unsigned id;
	_Atomic bool *stop;
	int failures;
	char msg[256];
};

static void wfail(struct worker *w, const char *what)
{
	if (!w->failures++)
		snprintf(w->msg, sizeof(w->msg), "thread %u: %s: %s", w->id,
			 what, store_last_error());
}

/*
 * Put a file of its own and one shared by all threads (dedupe races),
 * read both back whole and by chunk, look them up, then remove its own.
 */
static void *put_get_loop(void *arg)
{
	struct worker *w = arg;
	struct store_attr a = { 0644, 0, 0, 0 };
	unsigned char *buf = malloc(STORE_CHUNK_DEFAULT);

	if (!buf) {
		wfail(w, "malloc");
		return NULL;
	}
	for (unsigned r = 0; r < ROUNDS; r++) {
		unsigned seed = w->id * 1000 + r, shared = 77 + r % 3;
		size_t len = 4096 * (r % 5) + 100 * w->id + 3;
		struct store_object o, so;
		struct store_node n;
		char name[64];
		size_t got;
		int in = make_fd(len, seed), sin = make_fd(40000, shared);
		int out = tmp_fd();

		snprintf(name, sizeof(name), "t%u-%u", w->id, r);
		if (store_begin(w->st) != STORE_OK) {
			wfail(w, "begin");
			goto next;
		}
		if (store_ingest_fd(w->st, in, name, NULL, &o) != STORE_OK ||
		    store_ingest_fd(w->st, sin, name, NULL, &so) !=
			    STORE_OK ||
		    store_mkfile(w->st, STORE_ROOT_INO, name, &a, o.key, NULL,
				 0, NULL) != STORE_OK) {
			wfail(w, "put");
			store_rollback(w->st);
			goto next;
		}
		snprintf(name + strlen(name), sizeof(name) - strlen(name),
			 ".s");
		if (store_mkfile(w->st, STORE_ROOT_INO, name, &a, so.key, NULL,
				 0, NULL) != STORE_OK) {
			wfail(w, "mkfile shared");
			store_rollback(w->st);
			goto next;
		}
		if (store_commit(w->st) != STORE_OK) {
			wfail(w, "commit");
			goto next;
		}
		if (store_export_fd(w->st, o.key, out, name) != STORE_OK ||
		    !fd_is(out, len, seed))
			wfail(w, "export");
		if (store_read_chunk(w->st, so.key, so.nchunks - 1, buf,
				     STORE_CHUNK_DEFAULT, &got, name) !=
			    STORE_OK ||
		    store_check_chunk(w->st, so.key, so.nchunks - 1, buf,
				      got) != STORE_OK)
			wfail(w, "read chunk");
		if (store_lookup(w->st, STORE_ROOT_INO, name, &n) != STORE_OK ||
		    strcmp(n.key, so.key) != 0)
			wfail(w, "lookup");
		name[strlen(name) - 2] = '\0';
		if (store_unlink(w->st, STORE_ROOT_INO, name) != STORE_OK)
			wfail(w, "unlink");
next:
		close(in);
		close(sin);
		close(out);
	}
	free(buf);
	return NULL;
}

static int count_child(void *arg, const struct store_node *n)
{
	(void)n;
	(*(unsigned *)arg)++;
	return 0;
}

/* Metadata and metrics while the others write: what a mount's lookup,
 * getattr, readdir and stats requests do. */
static void *meta_loop(void *arg)
{
	struct worker *w = arg;
	struct store_metrics m;
	struct store_totals t;
	struct store_node n;
	unsigned count;

	while (!atomic_load(w->stop)) {
		count = 0;
		if (store_readdir(w->st, STORE_ROOT_INO, 0, count_child,
				  &count) != STORE_OK)
			wfail(w, "readdir");
		if (store_getattr(w->st, STORE_ROOT_INO, &n) != STORE_OK)
			wfail(w, "getattr");
		if (store_totals(w->st, &t) != STORE_OK)
			wfail(w, "totals");
		store_metrics_get(w->st, &m);
		(void)store_lookup(w->st, STORE_ROOT_INO, "t0-0", &n);
	}
	return NULL;
}

static void run_workers(struct store *a, struct store *b)
{
	struct worker w[NTHREADS + 1];
	pthread_t th[NTHREADS + 1];
	_Atomic bool stop = false;
	struct store_fsck_report r;

	for (unsigned i = 0; i <= NTHREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].st = i % 2 ? b : a;
		w[i].id = i;
		w[i].stop = &stop;
		ck_assert_int_eq(pthread_create(&th[i], NULL,
						i == NTHREADS ? meta_loop :
						put_get_loop, &w[i]), 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	atomic_store(&stop, true);
	pthread_join(th[NTHREADS], NULL);
	for (unsigned i = 0; i <= NTHREADS; i++)
		ck_assert_msg(w[i].failures == 0, "%d failures, first: %s",
			      w[i].failures, w[i].msg);

	/* each thread left ROUNDS shared entries and no file of its own */
	{
		unsigned count = 0;

		ck_assert_int_eq(store_readdir(a, STORE_ROOT_INO, 0,
					       count_child, &count), STORE_OK);
		ck_assert_uint_eq(count, NTHREADS * ROUNDS);
	}
	/* a blob freed while the other handle held the gc lock is left to
	 * gc (evict_unnamed); nothing else may be wrong */
	ck_assert_int_eq(store_fsck(a, true, NULL, NULL, &r), STORE_OK);
	ck_assert_uint_eq(r.missing + r.corrupt + r.bad_refs + r.dangling +
			  r.leftovers + r.unreferenced, 0);
	if (a == b)
		ck_assert_uint_eq(r.orphans, 0);
	ck_assert_int_eq(store_gc(a, NULL, NULL, NULL, NULL), STORE_OK);
	ck_assert_int_eq(store_fsck(a, true, NULL, NULL, &r), STORE_OK);
	ck_assert_uint_eq(r.missing + r.corrupt + r.orphans + r.bad_refs +
			  r.dangling + r.leftovers + r.unreferenced, 0);
	ck_assert_uint_eq(r.objects, 3);	/* the shared contents */
}

START_TEST(test_threads_one_handle)
{
	run_workers(st, st);
}
END_TEST

/* Two handles on one store, as a mount and a command have: SQLite and
 * the gc lock serialize them; no change may fail as busy. */
START_TEST(test_threads_two_handles)
{
	struct store *st2 = NULL;

	ck_assert_int_eq(store_open(spath, 0, &st2), STORE_OK);
	run_workers(st, st2);
	store_close(st2);
}
END_TEST

/* gc and fsck from a second handle while the first one puts: gc waits
 * for writers, so nothing a batch wrote is taken from under it. */
static void first_line(void *arg, const char *line)
{
	char *first = arg;

	if (!first[0])
		snprintf(first, 200, "%s", line);
}

static void *gc_loop(void *arg)
{
	struct worker *w = arg;
	struct store_fsck_report r;
	char first[200];

	while (!atomic_load(w->stop)) {
		if (store_gc(w->st, NULL, NULL, NULL, NULL) != STORE_OK)
			wfail(w, "gc");
		first[0] = '\0';
		if (store_fsck(w->st, false, first_line, first, &r) !=
		    STORE_OK) {
			wfail(w, "fsck");
		} else if (r.missing || r.dangling || r.bad_refs ||
			   r.corrupt) {
			wfail(w, "fsck found damage");
			snprintf(w->msg, sizeof(w->msg), "fsck found damage:"
				 " %s", first);
		}
	}
	return NULL;
}

START_TEST(test_threads_gc_while_putting)
{
	struct store *st2 = NULL;
	struct worker w[2];
	pthread_t th[2];
	_Atomic bool stop = false;

	ck_assert_int_eq(store_open(spath, 0, &st2), STORE_OK);
	memset(w, 0, sizeof(w));
	w[0].st = st;
	w[0].stop = &stop;
	w[1].st = st2;
	w[1].id = 1;
	w[1].stop = &stop;
	ck_assert_int_eq(pthread_create(&th[1], NULL, gc_loop, &w[1]), 0);
	ck_assert_int_eq(pthread_create(&th[0], NULL, put_get_loop, &w[0]),
			 0);
	pthread_join(th[0], NULL);
	atomic_store(&stop, true);
	pthread_join(th[1], NULL);
	ck_assert_msg(w[0].failures == 0, "%s", w[0].msg);
	ck_assert_msg(w[1].failures == 0, "%s", w[1].msg);
	store_close(st2);
}
END_TEST

static Suite *threads_suite(void)
{
	Suite *s = suite_create("threads");
	TCase *tc;

	tc = tcase_create("pool");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_threads_pool_loops);
	suite_add_tcase(s, tc);

	tc = tcase_create("shared");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_threads_one_handle);
	tcase_add_test(tc, test_threads_two_handles);
	tcase_add_test(tc, test_threads_gc_while_putting);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(threads_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
