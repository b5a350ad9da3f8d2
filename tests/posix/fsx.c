/* SPDX-License-Identifier: MIT */
/*
 * fsx.c - a seeded random-operation tester in the manner of fsx: the same
 * random sequence of opens, reads, writes, truncates, renames, unlinks,
 * closes, fsyncs and stats runs on a directory of the mount under test
 * and on a reference directory (tmpfs), and every result is compared:
 * return values, errno, sizes, and every byte read.  A few names (two of
 * them in a subdirectory) and a few open descriptors per side keep the
 * operations colliding: reads of a file another descriptor is writing,
 * renames and unlinks of open files, truncates under a writer.
 *
 *   fsx [-v] [-s SEED] [-n OPS] [-m MAXLEN] TESTDIR REFDIR
 *
 * TESTDIR and REFDIR must exist and be empty.  On the first difference
 * fsx prints the seed, the operation number, what differed and the last
 * operations, and exits 1.  At the end every file is read back whole on
 * both sides and the directories are listed and compared; then it prints
 * "fsx: N operations (seed S): ... all equal".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NSLOTS		5
#define MAXIO		(64 * 1024)
#define HISTORY		40

static const char *const names[] = {
	"a", "b", "c", "e", "d/a", "d/b",
};
#define NNAMES	(sizeof(names) / sizeof(names[0]))

struct slot {
	bool open;
	int fd[2];		/* test, reference */
	int flags;
	unsigned name;		/* what it was opened as (may move since) */
};

static const char *dirs[2];
static struct slot slots[NSLOTS];
static uint64_t rng;
static unsigned long op, seed;
static size_t maxlen = 2 * 1024 * 1024;
static bool verbose;
static char history[HISTORY][160];
static unsigned long nread_bytes, nwrite_bytes, ncompared;
static unsigned long counts[16];
static unsigned char *wbuf, *rbuf[2];

static uint64_t next(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static uint64_t below(uint64_t n)
{
	return n ? next() % n : 0;
}

static void logop(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logop(const char *fmt, ...)
{
	char *h = history[op % HISTORY];
	va_list ap;
	int n;

	n = snprintf(h, sizeof(history[0]), "%6lu ", op);
	va_start(ap, fmt);
	vsnprintf(h + n, sizeof(history[0]) - (size_t)n, fmt, ap);
	va_end(ap);
	if (verbose)
		printf("%s\n", h);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						      noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	printf("fsx: seed %lu, operation %lu: ", seed, op);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\nfsx: the last operations:\n");
	for (unsigned long i = op >= HISTORY ? op - HISTORY + 1 : 0; i <= op;
	     i++)
		printf("  %s\n", history[i % HISTORY]);
	fflush(stdout);
	exit(1);
}

static void path(int side, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", dirs[side], name);
}

static const char *ename(int e)
{
	return e ? strerror(e) : "success";
}

/* Both sides returned @r[i] with errno @e[i]: they must agree. */
static void same(const char *what, long long r0, int e0, long long r1, int e1)
{
	if (r0 != r1 || (r0 < 0 && e0 != e1))
		die("%s: test returned %lld (%s), reference %lld (%s)", what,
		    r0, r0 < 0 ? ename(e0) : "", r1, r1 < 0 ? ename(e1) : "");
}

static int pick_open_slot(void)
{
	unsigned start = (unsigned)below(NSLOTS);

	for (unsigned i = 0; i < NSLOTS; i++)
		if (slots[(start + i) % NSLOTS].open)
			return (int)((start + i) % NSLOTS);
	return -1;
}

static void do_close(int s)
{
	int r[2], e[2];

	logop("close slot %d (%s)", s, names[slots[s].name]);
	for (int i = 0; i < 2; i++) {
		r[i] = close(slots[s].fd[i]);
		e[i] = errno;
	}
	slots[s].open = false;
	same("close", r[0], e[0], r[1], e[1]);
	counts[0]++;
}

static void do_open(void)
{
	static const int acc[] = { O_RDONLY, O_WRONLY, O_RDWR, O_RDWR };
	char p[2][PATH_MAX];
	unsigned n = (unsigned)below(NNAMES);
	int flags = acc[below(4)], s = -1, fd[2], e[2];

	if (below(2))
		flags |= O_CREAT;
	if (flags & O_CREAT && below(6) == 0)
		flags |= O_EXCL;
	/* O_TRUNC with O_RDONLY is unspecified by POSIX */
	if ((flags & O_ACCMODE) != O_RDONLY && below(5) == 0)
		flags |= O_TRUNC;
	if ((flags & O_ACCMODE) != O_RDONLY && below(6) == 0)
		flags |= O_APPEND;
	for (int i = 0; i < NSLOTS; i++)
		if (!slots[i].open)
			s = i;
	if (s < 0) {
		s = (int)below(NSLOTS);
		do_close(s);
	}
	logop("open %s flags %#o into slot %d", names[n], flags, s);
	for (int i = 0; i < 2; i++) {
		path(i, names[n], p[i], sizeof(p[i]));
		fd[i] = open(p[i], flags, 0644);
		e[i] = errno;
	}
	if ((fd[0] < 0) != (fd[1] < 0) || (fd[0] < 0 && e[0] != e[1]))
		die("open %s %#o: test %s, reference %s", names[n], flags,
		    fd[0] < 0 ? ename(e[0]) : "opened",
		    fd[1] < 0 ? ename(e[1]) : "opened");
	if (fd[0] < 0)
		return;
	slots[s].open = true;
	slots[s].fd[0] = fd[0];
	slots[s].fd[1] = fd[1];
	slots[s].flags = flags;
	slots[s].name = n;
	counts[1]++;
}

static void compare_bytes(const char *what, size_t n, uint64_t off)
{
	if (memcmp(rbuf[0], rbuf[1], n) == 0) {
		ncompared++;
		nread_bytes += n;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (rbuf[0][i] != rbuf[1][i])
			die("%s: byte %" PRIu64 " differs: test %#x, reference"
			    " %#x", what, off + i, rbuf[0][i], rbuf[1][i]);
}

static void do_read(int s)
{
	uint64_t off = below(maxlen + 4096);
	size_t len = (size_t)below(MAXIO) + 1;
	ssize_t r[2];
	int e[2];

	if (below(4) == 0)
		off = below(4096);
	logop("pread slot %d (%s) %zu at %" PRIu64, s, names[slots[s].name],
	      len, off);
	for (int i = 0; i < 2; i++) {
		r[i] = pread(slots[s].fd[i], rbuf[i], len, (off_t)off);
		e[i] = errno;
	}
	same("pread", r[0], e[0], r[1], e[1]);
	if (r[0] > 0)
		compare_bytes("pread", (size_t)r[0], off);
	counts[2]++;
}

static void do_write(int s)
{
	uint64_t off = below(maxlen);
	size_t len = (size_t)below(MAXIO) + 1;
	bool seq = below(3) == 0;
	ssize_t r[2];
	int e[2];

	if (below(3) == 0)
		len = (size_t)below(64) + 1;	/* small writes too */
	for (size_t i = 0; i < len; i++)
		wbuf[i] = (unsigned char)next();
	logop("%s slot %d (%s) %zu at %" PRIu64, seq ? "write" : "pwrite", s,
	      names[slots[s].name], len, seq ? 0 : off);
	for (int i = 0; i < 2; i++) {
		if (seq)
			r[i] = write(slots[s].fd[i], wbuf, len);
		else
			r[i] = pwrite(slots[s].fd[i], wbuf, len, (off_t)off);
		e[i] = errno;
	}
	same(seq ? "write" : "pwrite", r[0], e[0], r[1], e[1]);
	if (r[0] > 0)
		nwrite_bytes += (size_t)r[0];
	counts[3]++;
}

static void do_ftruncate(int s)
{
	uint64_t len = below(maxlen);
	int r[2], e[2];

	if (below(3) == 0)
		len = below(8192);
	logop("ftruncate slot %d (%s) to %" PRIu64, s, names[slots[s].name],
	      len);
	for (int i = 0; i < 2; i++) {
		r[i] = ftruncate(slots[s].fd[i], (off_t)len);
		e[i] = errno;
	}
	same("ftruncate", r[0], e[0], r[1], e[1]);
	counts[4]++;
}

static void do_fstat(int s)
{
	struct stat sb[2];
	int r[2], e[2];

	logop("fstat slot %d (%s)", s, names[slots[s].name]);
	for (int i = 0; i < 2; i++) {
		r[i] = fstat(slots[s].fd[i], &sb[i]);
		e[i] = errno;
	}
	same("fstat", r[0], e[0], r[1], e[1]);
	if (r[0] == 0 && sb[0].st_size != sb[1].st_size)
		die("fstat %s: size %lld, reference %lld", names[slots[s].name],
		    (long long)sb[0].st_size, (long long)sb[1].st_size);
	counts[5]++;
}

static void do_fsync(int s)
{
	int r[2], e[2];

	logop("fsync slot %d (%s)", s, names[slots[s].name]);
	for (int i = 0; i < 2; i++) {
		r[i] = fsync(slots[s].fd[i]);
		e[i] = errno;
	}
	same("fsync", r[0], e[0], r[1], e[1]);
	counts[6]++;
}

static void do_lseek_read(int s)
{
	off_t where = (off_t)below(maxlen);
	off_t o[2];
	ssize_t r[2];
	size_t len = (size_t)below(8192) + 1;
	int e[2];

	logop("lseek+read slot %d (%s) %zu at %lld", s, names[slots[s].name],
	      len, (long long)where);
	for (int i = 0; i < 2; i++) {
		o[i] = lseek(slots[s].fd[i], where, SEEK_SET);
		r[i] = read(slots[s].fd[i], rbuf[i], len);
		e[i] = errno;
	}
	same("lseek", o[0], e[0], o[1], e[1]);
	same("read", r[0], e[0], r[1], e[1]);
	if (r[0] > 0)
		compare_bytes("read", (size_t)r[0], (uint64_t)where);
	counts[2]++;
}

static void do_stat(void)
{
	unsigned n = (unsigned)below(NNAMES);
	char p[2][PATH_MAX];
	struct stat sb[2];
	int r[2], e[2];

	logop("stat %s", names[n]);
	for (int i = 0; i < 2; i++) {
		path(i, names[n], p[i], sizeof(p[i]));
		r[i] = stat(p[i], &sb[i]);
		e[i] = errno;
	}
	same("stat", r[0], e[0], r[1], e[1]);
	if (r[0] == 0 && (sb[0].st_size != sb[1].st_size ||
			  (sb[0].st_mode & S_IFMT) !=
			  (sb[1].st_mode & S_IFMT) ||
			  (sb[0].st_mode & 07777) != (sb[1].st_mode & 07777)))
		die("stat %s: size %lld mode %o, reference size %lld mode %o",
		    names[n], (long long)sb[0].st_size, sb[0].st_mode,
		    (long long)sb[1].st_size, sb[1].st_mode);
	counts[7]++;
}

static void do_truncate(void)
{
	unsigned n = (unsigned)below(NNAMES);
	uint64_t len = below(maxlen);
	char p[2][PATH_MAX];
	int r[2], e[2];

	logop("truncate %s to %" PRIu64, names[n], len);
	for (int i = 0; i < 2; i++) {
		path(i, names[n], p[i], sizeof(p[i]));
		r[i] = truncate(p[i], (off_t)len);
		e[i] = errno;
	}
	same("truncate", r[0], e[0], r[1], e[1]);
	counts[8]++;
}

static void do_rename(void)
{
	unsigned a = (unsigned)below(NNAMES), b = (unsigned)below(NNAMES);
	char p[2][PATH_MAX], q[2][PATH_MAX];
	int r[2], e[2];

	logop("rename %s %s", names[a], names[b]);
	for (int i = 0; i < 2; i++) {
		path(i, names[a], p[i], sizeof(p[i]));
		path(i, names[b], q[i], sizeof(q[i]));
		r[i] = rename(p[i], q[i]);
		e[i] = errno;
	}
	same("rename", r[0], e[0], r[1], e[1]);
	counts[9]++;
}

static void do_unlink(void)
{
	unsigned n = (unsigned)below(NNAMES);
	char p[2][PATH_MAX];
	int r[2], e[2];

	logop("unlink %s", names[n]);
	for (int i = 0; i < 2; i++) {
		path(i, names[n], p[i], sizeof(p[i]));
		r[i] = unlink(p[i]);
		e[i] = errno;
	}
	same("unlink", r[0], e[0], r[1], e[1]);
	counts[10]++;
}

/* Open @name afresh on both sides and compare all of it. */
static void compare_file(const char *name)
{
	char p[2][PATH_MAX];
	int fd[2], e[2];
	uint64_t off = 0;

	for (int i = 0; i < 2; i++) {
		path(i, name, p[i], sizeof(p[i]));
		fd[i] = open(p[i], O_RDONLY);
		e[i] = errno;
	}
	if ((fd[0] < 0) != (fd[1] < 0) || (fd[0] < 0 && e[0] != e[1]))
		die("open %s to compare: test %s, reference %s", name,
		    fd[0] < 0 ? ename(e[0]) : "opened",
		    fd[1] < 0 ? ename(e[1]) : "opened");
	if (fd[0] < 0)
		return;
	for (;;) {
		ssize_t r[2];

		for (int i = 0; i < 2; i++) {
			r[i] = read(fd[i], rbuf[i], MAXIO);
			e[i] = errno;
		}
		same("read to compare", r[0], e[0], r[1], e[1]);
		if (r[0] <= 0)
			break;
		compare_bytes(name, (size_t)r[0], off);
		off += (uint64_t)r[0];
	}
	close(fd[0]);
	close(fd[1]);
}

static void do_compare(void)
{
	unsigned n = (unsigned)below(NNAMES);

	logop("read %s whole", names[n]);
	compare_file(names[n]);
	counts[11]++;
}

static void list(int side, const char *sub, char *out, size_t cap)
{
	char p[PATH_MAX], *v[64];
	struct dirent *de;
	size_t n = 0, len = 0;
	DIR *d;

	snprintf(p, sizeof(p), "%s/%s", dirs[side], sub);
	*out = '\0';
	d = opendir(p);
	if (!d)
		die("opendir %s: %s", p, strerror(errno));
	while ((de = readdir(d)) && n < 64)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			v[n++] = strdup(de->d_name);
	closedir(d);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			char *t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		len += (size_t)snprintf(out + len, len < cap ? cap - len : 0,
					"%s ", v[i]);
		free(v[i]);
	}
}

static void do_readdir(void)
{
	char a[1024], b[1024];
	const char *sub = below(2) ? "" : "d";

	logop("readdir '%s'", sub);
	list(0, sub, a, sizeof(a));
	list(1, sub, b, sizeof(b));
	if (strcmp(a, b))
		die("readdir '%s': test [%s], reference [%s]", sub, a, b);
	counts[12]++;
}

static void usage(void)
{
	fprintf(stderr, "usage: fsx [-v] [-s SEED] [-n OPS] [-m MAXLEN]"
		" TESTDIR REFDIR\n");
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
	unsigned long nops = 3000;
	char p[PATH_MAX];
	int c;

	seed = 1;
	while ((c = getopt(argc, argv, "vs:n:m:")) != -1) {
		switch (c) {
		case 'v': verbose = true; break;
		case 's': seed = num(optarg); break;
		case 'n': nops = num(optarg); break;
		case 'm': maxlen = num(optarg); break;
		default: usage();
		}
	}
	if (optind + 2 != argc || maxlen < 4096)
		usage();
	dirs[0] = argv[optind];
	dirs[1] = argv[optind + 1];
	rng = seed * 0x9e3779b97f4a7c15ull + 1;
	umask(022);
	wbuf = malloc(MAXIO);
	rbuf[0] = malloc(MAXIO);
	rbuf[1] = malloc(MAXIO);
	if (!wbuf || !rbuf[0] || !rbuf[1])
		return 2;
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/d", dirs[i]);
		if (mkdir(p, 0755) < 0) {
			fprintf(stderr, "fsx: cannot make %s: %s\n", p,
				strerror(errno));
			return 2;
		}
	}

	for (op = 1; op <= nops; op++) {
		unsigned k = (unsigned)below(100);
		int s = pick_open_slot();

		if (s < 0 && k < 60)
			k = 0;	/* nothing open: open something */
		if (k < 10)
			do_open();
		else if (k < 16)
			do_close(s);
		else if (k < 30)
			do_read(s);
		else if (k < 50)
			do_write(s);
		else if (k < 54)
			do_ftruncate(s);
		else if (k < 57)
			do_fstat(s);
		else if (k < 58)
			do_fsync(s);
		else if (k < 60)
			do_lseek_read(s);
		else if (k < 68)
			do_stat();
		else if (k < 72)
			do_truncate();
		else if (k < 79)
			do_rename();
		else if (k < 84)
			do_unlink();
		else if (k < 96)
			do_compare();
		else
			do_readdir();
	}
	op = nops + 1;
	for (int s = 0; s < NSLOTS; s++)
		if (slots[s].open)
			do_close(s);
	logop("final comparison");
	for (unsigned n = 0; n < NNAMES; n++)
		compare_file(names[n]);
	do_readdir();
	printf("fsx: %lu operations (seed %lu): %lu opens, %lu closes, %lu"
	       " reads, %lu writes (%lu bytes), %lu truncates, %lu renames,"
	       " %lu unlinks, %lu stats, %lu whole-file compares; %lu reads"
	       " (%lu bytes) compared, all equal\n", nops, seed, counts[1],
	       counts[0], counts[2], counts[3], nwrite_bytes,
	       counts[4] + counts[8], counts[9], counts[10],
	       counts[5] + counts[7], counts[11], ncompared, nread_bytes);
	return 0;
}
