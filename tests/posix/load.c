/* SPDX-License-Identifier: MIT */
/*
 * load.c - the load driver of tests/it_load.sh: many reader threads and a
 * few writer threads on a mount for a given time, every byte checked.
 *
 *   load -g N DIR
 *	write the N files of the read set into DIR (DIR/dNN/fNNNNN, 100
 *	directories); file i's content is a function of i alone, so that a
 *	reader can check what it reads without a table
 *   load [-r READERS] [-w WRITERS] [-t SECONDS] [-n N] [-s SEED]
 *	  DATA [WDIR]
 *	READERS threads (64) open, read whole and check random files of
 *	the read set DATA (as -g made it) until SECONDS (10) have passed;
 *	WRITERS threads (8) each create files in WDIR/wK (made here),
 *	write them in pieces, close (checking close's result), read them
 *	back, rename and unlink them, keeping a few.  Without WDIR there are
 *	no writer threads.
 *
 * Every second a line of progress; if no operation completes for 20 s
 * the run is declared stalled (a deadlock) and exits 3 at once.  Ends with
 * "load: S s, R readers, W writers: N ops (X reads, Y writes), E errors"
 * and the first few errors; exits 1 if there were errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NDIRS		100
#define MAXFILE		(64 * 1024)
#define WMAX		(256 * 1024)
#define KEEP		6		/* files a writer keeps */
#define STALL_S		20

static const char *data, *wdir;
static unsigned nfiles = 10000, nreaders = 64, nwriters = 8, seconds = 10;
static unsigned long seed0 = 1;
static atomic_bool stop;
static atomic_ulong reads, writes, errors, read_bytes, write_bytes;
static atomic_ulong last_progress;
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned nerr_shown;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Size and bytes of read-set file @i. */
static size_t file_size(unsigned i)
{
	uint64_t h = mix(i + 1);

	/* mostly small, some over one 64 KiB page of reads, a few empty */
	if (h % 50 == 0)
		return 0;
	return (size_t)(h % 7 == 0 ? h % MAXFILE : h % 4096 + 1);
}

static void fill(unsigned char *buf, size_t len, uint64_t key)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = mix(key ^ (i / 8) * 0x9e3779b97f4a7c15ull);

		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

static void file_path(unsigned i, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/d%02u/f%05u", data, i % NDIRS, i);
}

static unsigned long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000 +
	       (unsigned long)ts.tv_nsec / 1000000;
}

static void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void error(const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&errors, 1);
	pthread_mutex_lock(&err_lock);
	if (nerr_shown++ < 10) {
		printf("load: error: ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
		fflush(stdout);
	}
	pthread_mutex_unlock(&err_lock);
}

static void progress(void)
{
	atomic_store(&last_progress, now_ms());
}

/* Read @path whole into @buf (cap @cap); *len gets the length. */
static int read_whole(const char *path, unsigned char *buf, size_t cap,
		      size_t *len)
{
	int fd = open(path, O_RDONLY);
	size_t got = 0;
	ssize_t n;
	int e;

	if (fd < 0)
		return errno;
	for (;;) {
		n = read(fd, buf + got, cap - got);
		if (n < 0) {
			e = errno;
			close(fd);
			return e;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == cap)
			break;
	}
	*len = got;
	return close(fd) < 0 ? errno : 0;
}

static void *reader(void *arg)
{
	uint64_t r = mix((uintptr_t)arg + seed0 * 1000003);
	unsigned char *buf = malloc(MAXFILE + 1), *want = malloc(MAXFILE);
	char path[4096];

	while (buf && want && !atomic_load(&stop)) {
		unsigned i = (unsigned)((r = mix(r)) % nfiles);
		size_t len = 0, size = file_size(i);
		int e;

		file_path(i, path, sizeof(path));
		e = read_whole(path, buf, MAXFILE + 1, &len);
		if (e) {
			error("read %s: %s", path, strerror(e));
		} else if (len != size) {
			error("read %s: %zu bytes, not %zu", path, len, size);
		} else {
			fill(want, size, i);
			if (memcmp(buf, want, size) != 0)
				error("read %s: wrong bytes", path);
		}
		atomic_fetch_add(&reads, 1);
		atomic_fetch_add(&read_bytes, len);
		progress();
	}
	free(buf);
	free(want);
	return NULL;
}

static void *writer(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	uint64_t r = mix(id + 77 + seed0 * 7919);
	unsigned char *buf = malloc(WMAX), *back = malloc(WMAX + 1);
	char dir[4096], path[4200], moved[4300];
	unsigned long k = 0;

	snprintf(dir, sizeof(dir), "%s/w%u", wdir, id);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		error("mkdir %s: %s", dir, strerror(errno));
		free(buf);
		free(back);
		return NULL;
	}
	while (buf && back && !atomic_load(&stop)) {
		size_t len = (size_t)((r = mix(r)) % WMAX) + 1, off = 0, got;
		uint64_t key = mix(((uint64_t)id << 32) | k);
		int fd, e = 0;

		fill(buf, len, key);
		snprintf(path, sizeof(path), "%s/f%lu", dir, k);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0) {
			error("create %s: %s", path, strerror(errno));
			k++;
			continue;
		}
		/* in pieces, as cp does */
		while (!e && off < len) {
			size_t piece = len - off < 32768 ? len - off : 32768;
			ssize_t n = write(fd, buf + off, piece);

			if (n < 0)
				e = errno;
			else
				off += (size_t)n;
		}
		if (close(fd) < 0 && !e)
			e = errno;
		if (e) {
			error("write %s: %s", path, strerror(e));
		} else if ((e = read_whole(path, back, WMAX + 1, &got))) {
			error("read back %s: %s", path, strerror(e));
		} else if (got != len || memcmp(back, buf, len) != 0) {
			error("read back %s: %zu bytes, not the %zu written",
			      path, got, len);
		}
		atomic_fetch_add(&writes, 1);
		atomic_fetch_add(&write_bytes, len);
		/* rename every other file; drop the oldest beyond KEEP */
		if (k % 2 == 0) {
			snprintf(moved, sizeof(moved), "%s/f%lu.r", dir, k);
			if (rename(path, moved) < 0)
				error("rename %s: %s", path, strerror(errno));
		}
		if (k >= KEEP) {
			unsigned long old = k - KEEP;

			if (old % 2 == 0)
				snprintf(moved, sizeof(moved), "%s/f%lu.r",
					 dir, old);
			else
				snprintf(moved, sizeof(moved), "%s/f%lu", dir,
					 old);
			if (unlink(moved) < 0)
				error("unlink %s: %s", moved,
				      strerror(errno));
		}
		k++;
		progress();
	}
	free(buf);
	free(back);
	return NULL;
}

static int generate(const char *dir, unsigned n)
{
	unsigned char *buf = malloc(MAXFILE);
	char path[4096];

	data = dir;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	for (unsigned d = 0; d < NDIRS; d++) {
		snprintf(path, sizeof(path), "%s/d%02u", dir, d);
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			perror(path);
			return 1;
		}
	}
	for (unsigned i = 0; buf && i < n; i++) {
		size_t len = file_size(i);
		FILE *f;

		file_path(i, path, sizeof(path));
		fill(buf, len, i);
		f = fopen(path, "w");
		if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
			perror(path);
			return 1;
		}
	}
	free(buf);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: load -g N DIR\n"
		"       load [-r READERS] [-w WRITERS] [-t SECONDS] [-n N]"
		" [-s SEED] DATA [WDIR]\n");
	exit(2);
}

static unsigned long num(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0')
		usage();
	return v;
}

int main(int argc, char **argv)
{
	pthread_t *th;
	unsigned long start, last_ops = 0;
	unsigned gen = 0, nth;
	int c;

	while ((c = getopt(argc, argv, "g:r:w:t:n:s:")) != -1) {
		switch (c) {
		case 'g': gen = (unsigned)num(optarg); break;
		case 'r': nreaders = (unsigned)num(optarg); break;
		case 'w': nwriters = (unsigned)num(optarg); break;
		case 't': seconds = (unsigned)num(optarg); break;
		case 'n': nfiles = (unsigned)num(optarg); break;
		case 's': seed0 = num(optarg); break;
		default: usage();
		}
	}
	if (gen) {
		if (optind + 1 != argc)
			usage();
		return generate(argv[optind], gen);
	}
	if (optind + 1 != argc && optind + 2 != argc)
		usage();
	if (nfiles == 0)
		usage();
	data = argv[optind];
	wdir = optind + 1 < argc ? argv[optind + 1] : NULL;
	if (!wdir)
		nwriters = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	nth = nreaders + nwriters;
	th = calloc(nth, sizeof(*th));
	if (!th)
		return 2;
	progress();
	start = now_ms();
	for (unsigned i = 0; i < nth; i++) {
		void *(*fn)(void *) = i < nreaders ? reader : writer;
		void *arg = (void *)(uintptr_t)(i < nreaders ? i :
						 i - nreaders);

		if (pthread_create(&th[i], NULL, fn, arg) != 0) {
			fprintf(stderr, "load: cannot start threads\n");
			return 2;
		}
	}
	while (now_ms() - start < (unsigned long)seconds * 1000) {
		unsigned long ops;

		sleep(1);
		ops = atomic_load(&reads) + atomic_load(&writes);
		printf("load: %lus %lu reads %lu writes %lu errors (+%lu)\n",
		       (now_ms() - start) / 1000, atomic_load(&reads),
		       atomic_load(&writes), atomic_load(&errors),
		       ops - last_ops);
		last_ops = ops;
		if (now_ms() - atomic_load(&last_progress) > STALL_S * 1000) {
			printf("load: STALLED: no operation completed for"
			       " %d s\n", STALL_S);
			fflush(stdout);
			_exit(3);
		}
	}
	atomic_store(&stop, true);
	/* the threads finish their operation in hand; one stuck in it is a
	 * deadlock too */
	for (unsigned i = 0; i < nth; i++) {
		struct timespec dl;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += STALL_S;
		if (pthread_timedjoin_np(th[i], NULL, &dl) != 0) {
			printf("load: STALLED: a thread did not finish its"
			       " operation in %d s\n", STALL_S);
			fflush(stdout);
			_exit(3);
		}
	}
	printf("load: %.1f s, %u readers, %u writers: %lu ops (%lu reads of"
	       " %lu bytes, %lu writes of %lu bytes), %lu errors\n",
	       (double)(now_ms() - start) / 1000, nreaders, nwriters,
	       atomic_load(&reads) + atomic_load(&writes),
	       atomic_load(&reads), atomic_load(&read_bytes),
	       atomic_load(&writes), atomic_load(&write_bytes),
	       atomic_load(&errors));
	free(th);
	return atomic_load(&errors) ? 1 : 0;
}
