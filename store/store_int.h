/* SPDX-License-Identifier: MIT */
/*
 * store_int.h - what the modules of libstore share and nothing outside
 * store/ may see: the error recorder and small helpers.
 */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "store.h"

/**
 * Record @rc's description for store_last_error() on this thread and
 * return @rc, so that the origin of a failure can write
 *	return store_fail(STORE_IO, "cannot open '%s': %s", p, strerror(e));
 * Thread-safe (the buffer is thread-local).
 */
store_rc store_fail(store_rc rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** store_fail() for a failed syscall: maps @err (an errno) to a code
 * (ENOSPC to STORE_NOSPC, ENOENT to STORE_NOTFOUND, ...) and appends
 * strerror(@err) to the message. */
store_rc store_fail_errno(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Forget the recorded failure (store_last_error() becomes ""). */
void store_clear_error(void);

/** Current wall-clock time in nanoseconds since the epoch. */
int64_t store_now_ns(void);

/** Write all @len bytes to @fd (retrying short writes and EINTR); on
 * failure returns -1 with errno set. */
int store_write_all(int fd, const void *buf, size_t len);

/** Read up to @len bytes from @fd, stopping only at EOF; returns the count
 * (less than @len only at EOF) or -1 with errno set. */
ssize_t store_read_full(int fd, void *buf, size_t len);

/** pread() exactly @len bytes at @off; -1 with errno set (EIO for a short
 * file). */
int store_pread_all(int fd, void *buf, size_t len, uint64_t off);

#endif /* STORE_INT_H */
