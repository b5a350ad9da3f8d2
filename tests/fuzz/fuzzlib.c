/* SPDX-License-Identifier: MIT */
/*
 * fuzzlib.c - scratch directory, quiet logging and file helpers for the
 * fuzz targets (see fuzzlib.h).
 *
 * The scratch directory goes below $PXFS_FUZZ_TMP when set (the runner
 * points it at a directory it removes afterwards, so that even a crashing
 * target leaves nothing), else /dev/shm, else $TMPDIR or /tmp.  tmpfs
 * matters: SQLite fsyncs the index on every checkpoint.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"
#include "zcomp.h"

#include "fuzzlib.h"

static char scratch[4096];

void fz_die(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static int rm_one(const char *path, const struct stat *sb, int type,
		  struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void fz_rmrf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void scratch_remove(void)
{
	if (scratch[0])
		fz_rmrf(scratch);
}

static const char *scratch_parent(void)
{
	const char *p = getenv("PXFS_FUZZ_TMP");

	if (p && *p)
		return p;
	if (access("/dev/shm", W_OK) == 0)
		return "/dev/shm";
	p = getenv("TMPDIR");
	return p && *p ? p : "/tmp";
}

const char *fz_scratch(void)
{
	if (scratch[0])
		return scratch;
	if ((size_t)snprintf(scratch, sizeof(scratch), "%s/pxfs-fuzz.XXXXXX",
			     scratch_parent()) >= sizeof(scratch))
		fz_die("scratch path too long");
	if (!mkdtemp(scratch))
		fz_die("cannot make a scratch directory '%s': %s", scratch,
		       strerror(errno));
	atexit(scratch_remove);
	return scratch;
}

static void drop_log(enum store_log_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
}

void fz_quiet(void)
{
	store_set_log(drop_log, STORE_LOG_ERR);
}

void fz_write_file(const char *path, const void *p, size_t len)
{
	const char *b = p;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		fz_die("cannot create '%s': %s", path, strerror(errno));
	while (len > 0) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fz_die("cannot write '%s': %s", path, strerror(errno));
		b += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0)
		fz_die("cannot write '%s': %s", path, strerror(errno));
}

void *fz_read_file(const char *path, size_t *len)
{
	struct stat sb;
	char *p;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) < 0)
		fz_die("cannot open '%s': %s", path, strerror(errno));
	p = malloc((size_t)sb.st_size + 1);
	if (!p)
		fz_die("out of memory reading '%s'", path);
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, p + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fz_die("cannot read '%s'", path);
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return p;
}

const char *fz_seeding(void)
{
	const char *d = getenv("PXFS_FUZZ_SEEDS");

	return d && *d ? d : NULL;
}

void fz_seed(const char *name, const void *p, size_t len)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", fz_seeding(),
			     name) >= sizeof(path))
		fz_die("seed path too long");
	fz_write_file(path, p, len);
}

void *fz_make_content(size_t len, bool noise, uint64_t seed)
{
	static const char words[] = "proxy store lazy chunk frame seek ";
	uint8_t *p = malloc(len ? len : 1);
	uint64_t x = seed | 1;

	if (!p)
		fz_die("out of memory");
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = noise ? (uint8_t)x :
		       (uint8_t)words[(i + (x % 3 == 0)) % (sizeof(words) - 1)];
	}
	return p;
}

void *fz_make_blob(const void *content, size_t len, size_t chunk, int level,
		   size_t *blen)
{
	const uint8_t *c = content;
	struct store_zenc *e;
	const void *out;
	uint8_t *blob = NULL;
	size_t n = 0, olen;

	if (store_zenc_new(level, chunk, &e) != STORE_OK)
		fz_die("store_zenc_new: %s", store_last_error());
	for (size_t off = 0; off < len; off += chunk) {
		size_t k = len - off < chunk ? len - off : chunk;

		if (store_zenc_frame(e, c + off, k, &out, &olen) != STORE_OK)
			fz_die("store_zenc_frame: %s", store_last_error());
		blob = realloc(blob, n + olen);
		if (!blob)
			fz_die("out of memory");
		memcpy(blob + n, out, olen);
		n += olen;
	}
	if (store_zenc_seektable(e, &out, &olen) != STORE_OK)
		fz_die("store_zenc_seektable: %s", store_last_error());
	blob = realloc(blob, n + olen);
	if (!blob)
		fz_die("out of memory");
	memcpy(blob + n, out, olen);
	*blen = n + olen;
	store_zenc_free(e);
	return blob;
}
