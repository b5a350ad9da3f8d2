/* SPDX-License-Identifier: MIT */
/*
 * util.c - helpers shared by the subcommands of the pxfs command: messages,
 * option values, opening a store, store paths, JSON and the progress line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

static bool progress_hold(void);
static void progress_release(bool held);

static void vmsg(const char *verb, const char *fmt, va_list ap)
{
	char line[2048];
	bool held;

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One line, whatever the message holds. */
	for (char *p = line; *p; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
	fflush(stdout);
	/* never after a progress line's text: on a line of its own */
	held = progress_hold();
	if (verb)
		fprintf(stderr, "pxfs: %s: %s\n", verb, line);
	else
		fprintf(stderr, "pxfs: %s\n", line);
	progress_release(held);
}

int errorf(const char *verb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(verb, fmt, ap);
	va_end(ap);
	return EXIT_ERR;
}

void infof(const char *verb, const char *fmt, ...)
{
	va_list ap;

	if (verbosity() < VERBOSITY_VERBOSE)
		return;
	va_start(ap, fmt);
	vmsg(verb, fmt, ap);
	va_end(ap);
}

int store_error(const char *verb, store_rc rc)
{
	const char *e = store_last_error();

	if (e[0] == '\0')
		e = store_rc_str(rc);
	return errorf(verb, "%s", e);
}

int usage(const char *verb)
{
	const char *u = cmd_usage_line(verb);

	if (u)
		fprintf(stderr, "usage: pxfs %s\n", u);
	else
		fprintf(stderr, "usage: pxfs COMMAND [ARGS...]\n");
	return EXIT_USAGE;
}

int usage_errorf(const char *verb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(verb, fmt, ap);
	va_end(ap);
	return usage(verb);
}

int getopt_cmd(int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	static char **last_argv;
	char spec[64];
	int c;

	if (argv != last_argv) {
		last_argv = argv;
		optind = 0;	/* full reinitialisation (glibc) */
	}
	/* Leading ':' so that a missing argument is told apart. */
	snprintf(spec, sizeof(spec), ":%s", shortopts);
	opterr = 0;
	c = getopt_long(argc, argv, spec, longopts, NULL);
	if (c == ':') {
		usage_errorf(argv[0], "option '%s' requires a value",
			     argv[optind - 1]);
		return '?';
	}
	if (c == '?') {
		if (optopt)
			usage_errorf(argv[0], "unknown option '-%c'", optopt);
		else
			usage_errorf(argv[0], "unknown option '%s'",
				     argv[optind - 1]);
		return '?';
	}
	return c;
}

/* ---- option values ------------------------------------------------------ */

int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
		end += strlen(end);
	else if (!shift && strcmp(end, "B") == 0)
		end++;
	if (*end != '\0')
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int opt_chunk_size(const char *verb, const char *s, uint32_t *out)
{
	uint64_t v;

	if (parse_size(s, &v) < 0 || v < STORE_CHUNK_MIN ||
	    v > STORE_CHUNK_MAX || (v & (v - 1)) != 0) {
		errorf(verb, "invalid chunk size '%s': must be a power of two "
		       "from %uK to %uM", s, STORE_CHUNK_MIN >> 10,
		       STORE_CHUNK_MAX >> 20);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

int opt_level(const char *verb, const char *s, int *out)
{
	long v;

	if (parse_int(s, 1, 19, &v) < 0) {
		errorf(verb, "invalid level '%s': must be from 1 to 19", s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int opt_lifetime(const char *verb, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > STORE_NAME_MAX) {
		errorf(verb, "invalid lifetime name '%s': must be 1 to %d "
		       "bytes", s, STORE_NAME_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f) {
			errorf(verb, "invalid lifetime name '%s': control "
			       "characters are not allowed", s);
			return -1;
		}
	}
	return 0;
}

int opt_lease(const char *verb, const char *s, uint32_t *out)
{
	long v;

	if (parse_int(s, 1, (long)UINT32_MAX, &v) < 0) {
		errorf(verb, "invalid lease '%s': must be whole seconds from "
		       "1 to %u", s, UINT32_MAX);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* ---- opening a store ---------------------------------------------------- */

int open_store(const char *verb, const char *path, unsigned flags,
	       struct store **out)
{
	struct stat sb;
	store_rc rc;

	*out = NULL;
	/* Say what is wrong with the directory itself before the store
	 * explains what it could not read inside it. */
	if (stat(path, &sb) < 0) {
		if (errno == ENOENT)
			return errorf(verb, "no such store '%s'", path), -1;
		return errorf(verb, "cannot open store '%s': %s", path,
			      strerror(errno)), -1;
	}
	if (!S_ISDIR(sb.st_mode))
		return errorf(verb, "'%s' is not a pxfs store (not a "
			      "directory)", path), -1;
	rc = store_open(path, flags & ~OPEN_KEEP_LEASES, out);
	if (rc == STORE_NOTFOUND) {
		errorf(verb, "no such store '%s'", path);
		return -1;
	}
	if (rc == STORE_INVAL) {
		errorf(verb, "'%s' is not a pxfs store", path);
		return -1;
	}
	if (rc != STORE_OK) {
		store_error(verb, rc);
		return -1;
	}
	/* A lease ends at its time whether or not a mount is running:
	 * whoever changes the store next ends it first. */
	if (!(flags & (STORE_OPEN_RDONLY | OPEN_KEEP_LEASES))) {
		rc = store_lifetime_expire(*out, NULL);
		if (rc != STORE_OK) {
			store_error(verb, rc);
			store_close(*out);
			*out = NULL;
			return -1;
		}
	}
	return 0;
}

/* ---- reading objects ---------------------------------------------------- */

int wait_ready(const char *verb, struct store *st, const char *path,
	       struct store_node *n)
{
	store_rc rc;

	if (!S_ISREG(n->mode) || !(n->flags & STORE_NODE_PENDING))
		return 0;
	rc = store_wait_node(st, n->ino, NULL, path, n);
	if (rc != STORE_OK)
		return store_error(verb, rc);
	return 0;
}

int evict_if_read_once(const char *verb, struct store *st, const char *key)
{
	struct store_object o;
	struct store *rw = NULL;
	store_rc rc;

	rc = store_object_info(st, key, &o);
	/* gone: an external object that this read ingested under its
	 * content key, or one removed meanwhile; nothing to evict */
	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc != STORE_OK)
		return store_error(verb, rc);
	if (!o.evict_on_read || o.evicted)
		return 0;
	/* Reading needs no write access; only this does. */
	if (open_store(verb, store_path(st), OPEN_KEEP_LEASES, &rw) < 0)
		return EXIT_ERR;
	rc = store_evicted_after_read(rw, key);
	store_close(rw);
	if (rc != STORE_OK)
		return store_error(verb, rc);
	return 0;
}

store_rc export_node(struct store *st, const struct store_node *n, int fd,
		     const char *path)
{
	struct store_object o;
	struct store *rw = NULL;
	store_rc rc;

	rc = store_object_info(st, n->key, &o);
	if (rc != STORE_OK || !o.external)
		return store_export_fd(st, n->key, fd, path);
	/* A store we may not write (a snapshot, another user's) streams
	 * from the source instead: no harm, just no record. */
	if (store_open(store_path(st), 0, &rw) != STORE_OK)
		return store_export_fd(st, n->key, fd, path);
	rc = store_export_fd(rw, n->key, fd, path);
	store_close(rw);
	return rc;
}

/* ---- store paths -------------------------------------------------------- */

bool is_valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > STORE_NAME_MAX)
		return false;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	return strchr(name, '/') == NULL;
}

int spath_norm(const char *verb, const char *path, char *buf, size_t len)
{
	const char *p = path;
	size_t o = 0;

	if (len < 2)
		return errorf(verb, "invalid path '%s': too long", path), -1;
	while (*p) {
		const char *s;
		size_t n;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		s = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - s);
		if ((n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.')) {
			/* A lone "." names the root, as store_walk has it. */
			if (n == 1 && o == 0 && strspn(p, "/") == strlen(p))
				break;
			return errorf(verb, "invalid path '%s': '%.*s' is not "
				      "allowed in a store path", path, (int)n,
				      s), -1;
		}
		if (n > STORE_NAME_MAX)
			return errorf(verb, "invalid path '%s': a name is "
				      "longer than %d bytes", path,
				      STORE_NAME_MAX), -1;
		if (o + 1 + n + 1 > len)
			return errorf(verb, "invalid path '%s': too long",
				      path), -1;
		buf[o++] = '/';
		memcpy(buf + o, s, n);
		o += n;
	}
	if (o == 0)
		buf[o++] = '/';
	buf[o] = '\0';
	return 0;
}

int spath_split(const char *verb, char *buf, const char **parent,
		const char **name)
{
	char *slash;

	if (strcmp(buf, "/") == 0)
		return errorf(verb, "the root '/' cannot be used here"), -1;
	slash = strrchr(buf, '/');
	*name = slash + 1;
	if (slash == buf) {
		*parent = "/";
	} else {
		*slash = '\0';
		*parent = buf;
	}
	return 0;
}

int spath_join(char *buf, size_t len, const char *dir, const char *name)
{
	int n;

	if (strcmp(dir, "/") == 0 || dir[0] == '\0')
		n = snprintf(buf, len, "/%s", name);
	else if (dir[0] == '/')
		n = snprintf(buf, len, "%s/%s", dir, name);
	else
		n = snprintf(buf, len, "/%s/%s", dir, name);
	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

/* ---- output ------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at @p (1 to 4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n;
	uint32_t c;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	/* no overlong forms, no surrogates, nothing past U+10FFFF */
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return n;
}

/*
 * Names are bytes, JSON is Unicode: a byte that is not part of valid
 * UTF-8 is written as the lone surrogate U+DC00+byte, Python's
 * "surrogateescape", so that a consumer can still get the exact bytes.
 */
void name_out(FILE *f, const char *s)
{
	static const char esc[] = "\a\b\t\n\v\f\r";
	static const char letter[] = "abtnvfr";
	const unsigned char *p = (const unsigned char *)s;

	if (!s[strcspn(s, "\"\\\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"
		       "\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16"
		       "\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f")]) {
		fputs(s, f);
		return;
	}
	putc('"', f);
	for (; *p; p++) {
		const char *e = strchr(esc, *p);	/* *p is not NUL */

		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (e)
			fprintf(f, "\\%c", letter[e - esc]);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\%03o", *p);
		else
			putc(*p, f);
	}
	putc('"', f);
}

void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putc('"', f);
	while (*p) {
		size_t n = utf8_len(p);

		if (n == 0) {
			fprintf(f, "\\u%04x", 0xdc00u | *p);
			p++;
			continue;
		}
		if (n > 1) {
			fwrite(p, 1, n, f);
			p += n;
			continue;
		}
		switch (*p) {
		case '"':  fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				putc(*p, f);
		}
		p++;
	}
	putc('"', f);
}

const char *human_size(uint64_t n, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB",
					    "PiB", "EiB" };
	double v = (double)n;
	unsigned u = 0;

	if (n < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)n);
		return buf;
	}
	while (v >= 1024.0 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

const char *mode_string(uint32_t mode, char *buf, size_t len)
{
	char s[11];

	if (S_ISDIR(mode))
		s[0] = 'd';
	else if (S_ISLNK(mode))
		s[0] = 'l';
	else if (S_ISREG(mode))
		s[0] = '-';
	else
		s[0] = '?';
	s[1] = (mode & S_IRUSR) ? 'r' : '-';
	s[2] = (mode & S_IWUSR) ? 'w' : '-';
	s[3] = (mode & S_ISUID) ? ((mode & S_IXUSR) ? 's' : 'S')
				: ((mode & S_IXUSR) ? 'x' : '-');
	s[4] = (mode & S_IRGRP) ? 'r' : '-';
	s[5] = (mode & S_IWGRP) ? 'w' : '-';
	s[6] = (mode & S_ISGID) ? ((mode & S_IXGRP) ? 's' : 'S')
				: ((mode & S_IXGRP) ? 'x' : '-');
	s[7] = (mode & S_IROTH) ? 'r' : '-';
	s[8] = (mode & S_IWOTH) ? 'w' : '-';
	s[9] = (mode & S_ISVTX) ? ((mode & S_IXOTH) ? 't' : 'T')
				: ((mode & S_IXOTH) ? 'x' : '-');
	s[10] = '\0';
	snprintf(buf, len, "%s", s);
	return buf;
}

const char *mode_kind(uint32_t mode)
{
	if (S_ISREG(mode))
		return "file";
	if (S_ISDIR(mode))
		return "directory";
	if (S_ISLNK(mode))
		return "symlink";
	return "other";
}

const char *time_local(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (ns < 0 && ns % 1000000000 != 0)
		t--;
	if (!localtime_r(&t, &tm) ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "?");
	return buf;
}

const char *time_utc(int64_t ns, char *buf, size_t len)
{
	int64_t frac = ns % 1000000000;
	time_t t = (time_t)(ns / 1000000000);
	char base[32];
	struct tm tm;

	if (frac < 0) {
		frac += 1000000000;
		t--;
	}
	if (!gmtime_r(&t, &tm) ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(buf, len, "?");
		return buf;
	}
	if (frac)
		snprintf(buf, len, "%s.%09lldZ", base, (long long)frac);
	else
		snprintf(buf, len, "%sZ", base);
	return buf;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- verbosity ---------------------------------------------------------- */

static int verbosity_level = VERBOSITY_NORMAL;

void set_verbosity(int level)
{
	enum store_log_level max = STORE_LOG_NOTICE;

	verbosity_level = level;
	if (level <= VERBOSITY_QUIET)
		max = STORE_LOG_ERR;
	else if (level == VERBOSITY_VERBOSE)
		max = STORE_LOG_INFO;
	else if (level >= VERBOSITY_DEBUG)
		max = STORE_LOG_DEBUG;
	store_set_log(NULL, max);
}

int verbosity(void)
{
	return verbosity_level;
}

/* ---- progress ----------------------------------------------------------- */

/*
 * The thread reads the offset of the descriptor being ingested: the store
 * reads it sequentially with read(2), so the shared file offset is how far
 * it got.  A stale descriptor number only yields a wrong figure for one
 * redraw, never harm: lseek on a closed descriptor fails with EBADF.
 */
static struct {
	bool on;			/* thread running */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;			/* protected by lock */
	const char *verb;
	uint64_t total;
	struct timespec start;
	atomic_int fd;			/* being read, or -1 */
	atomic_uint_fast64_t done;	/* bytes before fd */
	long interval_ns;		/* between redraws */
} prog = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static double elapsed(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) +
	       (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void progress_draw(void)
{
	char a[32], b[32], r[32], eta[32] = "", line[200];
	uint64_t done = atomic_load(&prog.done);
	int fd = atomic_load(&prog.fd);
	double secs = elapsed(&prog.start);
	unsigned pct = 100;

	if (fd >= 0) {
		off_t off = lseek(fd, 0, SEEK_CUR);

		if (off > 0)
			done += (uint64_t)off;
	}
	if (prog.total == 0) {
		/* how much there is to do is not known yet */
		human_size(done, a, sizeof(a));
		human_size(secs > 0.01 ? (uint64_t)((double)done / secs) : 0,
			   r, sizeof(r));
		snprintf(line, sizeof(line), "\r%s: %s  %s/s\033[K",
			 prog.verb, a, r);
		fputs(line, stderr);
		fflush(stderr);
		return;
	}
	if (done > prog.total)
		done = prog.total;
	pct = (unsigned)(done * 100 / prog.total);
	human_size(done, a, sizeof(a));
	human_size(prog.total, b, sizeof(b));
	human_size(secs > 0.01 ? (uint64_t)((double)done / secs) : 0, r,
		   sizeof(r));
	if (done > 0 && done < prog.total && secs > 0.1) {
		double left = (double)(prog.total - done) * secs /
			      (double)done;

		if (left < 360000.0)
			snprintf(eta, sizeof(eta), "  ETA %u:%02u:%02u",
				 (unsigned)left / 3600,
				 (unsigned)left / 60 % 60,
				 (unsigned)left % 60);
	}
	snprintf(line, sizeof(line), "\r%s: %s / %s  %3u%%  %s/s%s\033[K",
		 prog.verb, a, b, pct, r, eta);
	fputs(line, stderr);
	fflush(stderr);
}

static void *progress_main(void *arg)
{
	struct timespec until;

	(void)arg;
	pthread_mutex_lock(&prog.lock);
	while (!prog.stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += prog.interval_ns;
		while (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&prog.cond, &prog.lock, &until);
		if (!prog.stop)
			progress_draw();
	}
	pthread_mutex_unlock(&prog.lock);
	return NULL;
}

void progress_start(const char *verb, uint64_t total)
{
	long ms;

	if (prog.on || verbosity_level <= VERBOSITY_QUIET ||
	    !isatty(STDERR_FILENO))
		return;
	/* PXFS_PROGRESS_MS: redraw interval (tests make it short) */
	prog.interval_ns = 250000000;
	if (getenv("PXFS_PROGRESS_MS") &&
	    parse_int(getenv("PXFS_PROGRESS_MS"), 10, 10000, &ms) == 0)
		prog.interval_ns = ms * 1000000;
	prog.verb = verb;
	prog.total = total;
	prog.stop = false;
	atomic_store(&prog.fd, -1);
	atomic_store(&prog.done, 0);
	clock_gettime(CLOCK_MONOTONIC, &prog.start);
	if (pthread_create(&prog.thread, NULL, progress_main, NULL) == 0)
		prog.on = true;
}

void progress_set(uint64_t done, uint64_t total)
{
	if (!prog.on)
		return;
	pthread_mutex_lock(&prog.lock);
	prog.total = total;
	atomic_store(&prog.fd, -1);
	atomic_store(&prog.done, done);
	pthread_mutex_unlock(&prog.lock);
}

void progress_store(void *verb, uint64_t done, uint64_t total)
{
	/* the store's first call: the line, with its rate and ETA, counts
	 * from when the work it shows begins */
	if (!prog.on)
		progress_start(verb, total);
	progress_set(done, total);
}

/* Take the terminal line from the progress thread (and erase it) for a
 * message; true when it was taken. */
static bool progress_hold(void)
{
	if (!prog.on)
		return false;
	pthread_mutex_lock(&prog.lock);
	fputs("\r\033[K", stderr);
	return true;
}

static void progress_release(bool held)
{
	if (!held)
		return;
	fflush(stderr);
	pthread_mutex_unlock(&prog.lock);
}

void progress_fd(int fd, uint64_t done)
{
	atomic_store(&prog.done, done);
	atomic_store(&prog.fd, fd);
}

void progress_end(void)
{
	if (!prog.on)
		return;
	pthread_mutex_lock(&prog.lock);
	prog.stop = true;
	pthread_cond_signal(&prog.cond);
	pthread_mutex_unlock(&prog.lock);
	pthread_join(prog.thread, NULL);
	prog.on = false;
	/* the last state, also when the thread never got a CPU to draw on:
	 * anything that ran a whole interval shows at least once */
	if (elapsed(&prog.start) * 1e9 >= (double)prog.interval_ns)
		progress_draw();
	fputs("\r\033[K", stderr);
	fflush(stderr);
}

/*
 * The copy thread of progress_stream(): what the store writes into the
 * pipe goes on to the real output, and counts as done.  When the output
 * fails, the pipe is closed, so the writer fails too (EPIPE) instead of
 * blocking on a pipe nobody reads.
 */
static struct {
	bool on;
	pthread_t thread;
	int rfd, wfd;		/* the pipe */
	int out;		/* the real output */
	int err;		/* errno of a failed copy; read after join */
	struct sigaction old_pipe;	/* SIGPIPE ignored while streaming */
} stream = { .rfd = -1, .wfd = -1 };

static void *stream_main(void *arg)
{
	static char buf[1 << 16];

	(void)arg;
	for (;;) {
		ssize_t n = read(stream.rfd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (write_all(stream.out, buf, (size_t)n) < 0) {
			stream.err = errno;
			break;
		}
		atomic_fetch_add(&prog.done, (uint_fast64_t)n);
	}
	close(stream.rfd);
	stream.rfd = -1;
	return NULL;
}

int progress_stream(int fd)
{
	struct sigaction sa;
	struct stat sb;
	int p[2];

	if (!prog.on || stream.on)
		return fd;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		progress_fd(fd, 0);
		return fd;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	stream.rfd = p[0];
	stream.wfd = p[1];
	stream.out = fd;
	stream.err = 0;
	progress_fd(-1, 0);
	/* a reader that goes away is EPIPE, for the caller to handle */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, &stream.old_pipe);
	if (pthread_create(&stream.thread, NULL, stream_main, NULL) != 0) {
		sigaction(SIGPIPE, &stream.old_pipe, NULL);
		close(p[0]);
		close(p[1]);
		stream.rfd = stream.wfd = -1;
		return fd;	/* no progress, but the output works */
	}
	stream.on = true;
	return p[1];
}

int progress_stream_end(void)
{
	if (!stream.on)
		return 0;
	close(stream.wfd);
	stream.wfd = -1;
	pthread_join(stream.thread, NULL);
	sigaction(SIGPIPE, &stream.old_pipe, NULL);
	stream.on = false;
	if (stream.err) {
		errno = stream.err;
		return -1;
	}
	return 0;
}

/* ---- "pxfs link" and "pxfs link --proxystore" ---------------------- */

int link_slot(struct store *st, char *path, bool force,
	      struct store_node *dir, const char **name)
{
	struct store_node n;
	const char *parent;
	char full[SPATH_MAX];
	store_rc rc;

	snprintf(full, sizeof(full), "%s", path);
	if (spath_split("link", path, &parent, name) < 0)
		return EXIT_ERR;
	rc = store_walk(st, parent, dir);
	if (rc != STORE_OK)
		return store_error("link", rc);
	if (!S_ISDIR(dir->mode))
		return errorf("link", "cannot create '%s': '%s' is not a "
			      "directory", full, parent);
	rc = store_lookup(st, dir->ino, *name, &n);
	if (rc == STORE_OK) {
		if (!force)
			return errorf("link", "'%s' already exists (use "
				      "--force)", full);
		if (S_ISDIR(n.mode))
			return errorf("link", "cannot overwrite directory "
				      "'%s'", full);
	} else if (rc != STORE_NOTFOUND) {
		return store_error("link", rc);
	}
	return 0;
}

int link_make(struct store *st, const struct store_node *dir,
	      const char *name, const char *key, const char *type,
	      bool force)
{
	struct store_attr a = { 0 };
	mode_t mask;
	store_rc rc;

	mask = umask(0);
	umask(mask);
	a.mode = S_IFREG | (0666 & ~mask);
	a.uid = (uint32_t)getuid();
	a.gid = (uint32_t)getgid();
	rc = store_mkfile(st, dir->ino, name, &a, key, type,
			  force ? STORE_REPLACE : 0, NULL);
	if (rc != STORE_OK)
		return store_error("link", rc);
	return 0;
}
