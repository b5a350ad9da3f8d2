/* SPDX-License-Identifier: MIT */
/*
 * util.c - result codes, the thread-local error description, logging and
 * the I/O loops every module needs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"

static _Thread_local char errbuf[1024];

static store_log_fn log_fn;
static enum store_log_level log_max = STORE_LOG_NOTICE;

const char *store_rc_str(store_rc rc)
{
	switch (rc) {
	case STORE_OK:		return "ok";
	case STORE_NOTFOUND:	return "not found";
	case STORE_NOMEM:	return "out of memory";
	case STORE_IO:		return "input/output error";
	case STORE_CORRUPT:	return "corrupt data";
	case STORE_BUSY:	return "store is busy";
	case STORE_INVAL:	return "invalid argument";
	case STORE_EXISTS:	return "already exists";
	case STORE_NOTDIR:	return "not a directory";
	case STORE_ISDIR:	return "is a directory";
	case STORE_NOTEMPTY:	return "directory not empty";
	case STORE_NOSPC:	return "no space left on device";
	case STORE_NAMETOOLONG:	return "name too long";
	case STORE_ROFS:	return "store is read-only";
	case STORE_TIMEDOUT:	return "timed out";
	case STORE_PERM:	return "operation not permitted";
	case STORE_EVICTED:	return "object was evicted after reading";
	}
	return "unknown error";
}

int store_rc_to_errno(store_rc rc)
{
	switch (rc) {
	case STORE_OK:		return 0;
	case STORE_NOTFOUND:	return ENOENT;
	case STORE_NOMEM:	return ENOMEM;
	case STORE_IO:		return EIO;
	case STORE_CORRUPT:	return EIO;
	case STORE_BUSY:	return EBUSY;
	case STORE_INVAL:	return EINVAL;
	case STORE_EXISTS:	return EEXIST;
	case STORE_NOTDIR:	return ENOTDIR;
	case STORE_ISDIR:	return EISDIR;
	case STORE_NOTEMPTY:	return ENOTEMPTY;
	case STORE_NOSPC:	return ENOSPC;
	case STORE_NAMETOOLONG:	return ENAMETOOLONG;
	case STORE_ROFS:	return EROFS;
	case STORE_TIMEDOUT:	return ETIMEDOUT;
	case STORE_PERM:	return EPERM;
	case STORE_EVICTED:	return EIO;
	}
	return EIO;
}

const char *store_last_error(void)
{
	return errbuf;
}

void store_clear_error(void)
{
	errbuf[0] = '\0';
}

store_rc store_fail(store_rc rc, const char *fmt, ...)
{
	char line[sizeof(errbuf)];
	va_list ap;

	/* via a copy: callers may pass store_last_error() as an argument */
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	memcpy(errbuf, line, sizeof(errbuf));
	return rc;
}

static store_rc errno_rc(int err)
{
	switch (err) {
	case ENOENT:		return STORE_NOTFOUND;
	case ENOMEM:		return STORE_NOMEM;
	case ENOSPC:		/* fall through */
	case EDQUOT:		return STORE_NOSPC;
	case EEXIST:		return STORE_EXISTS;
	case ENOTDIR:		return STORE_NOTDIR;
	case EISDIR:		return STORE_ISDIR;
	case ENOTEMPTY:		return STORE_NOTEMPTY;
	case ENAMETOOLONG:	return STORE_NAMETOOLONG;
	case EROFS:		return STORE_ROFS;
	case EPERM:		/* fall through */
	case EACCES:		return STORE_PERM;
	default:		return STORE_IO;
	}
}

store_rc store_fail_errno(int err, const char *fmt, ...)
{
	char line[sizeof(errbuf)];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
	memcpy(errbuf, line, sizeof(errbuf));
	return errno_rc(err);
}

static void default_sink(enum store_log_level level, const char *fmt,
			 va_list ap)
{
	char line[2048];

	(void)level;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* one write(2) per line keeps lines whole across threads */
	dprintf(STDERR_FILENO, "pxfs: %s\n", line);
}

void store_set_log(store_log_fn fn, enum store_log_level max_level)
{
	log_fn = fn;
	log_max = max_level;
}

void store_log(enum store_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	if (log_fn)
		log_fn(level, fmt, ap);
	else
		default_sink(level, fmt, ap);
	va_end(ap);
}

int64_t store_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int store_write_all(int fd, const void *buf, size_t len)
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

ssize_t store_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int store_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

bool store_is_direct_fs(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return false;
	switch ((unsigned long)sf.f_type) {
	case 0xEF53UL:		/* ext2/3/4 */
	case 0x58465342UL:	/* xfs */
	case 0x9123683EUL:	/* btrfs */
	case 0xF2F52010UL:	/* f2fs */
		return true;
	default:
		return false;
	}
}

#ifndef __NR_cachestat
#define __NR_cachestat	451		/* the same number on every arch */
#endif

int64_t store_cached_pages(int fd, uint64_t off, uint64_t len)
{
	struct {
		uint64_t off, len;
	} range = { off, len };
	struct {
		uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted,
			 nr_recently_evicted;
	} cs;

	if (syscall(__NR_cachestat, fd, &range, &cs, 0) != 0)
		return -1;
	return (int64_t)cs.nr_cache;
}
