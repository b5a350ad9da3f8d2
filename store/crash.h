/* SPDX-License-Identifier: MIT */
/*
 * crash.h - a test hook that kills the process at a named point, so that
 * crash-consistency tests (tests/it_crash.sh) can stop a put, a commit or
 * an eviction exactly where the order of writes matters.  Private to
 * store/.
 *
 * With PXFS_CRASH_AT=NAME:N in the environment, the Nth call (counted
 * from 1, over all threads) of store_crash_point(NAME) sends SIGKILL to
 * the process.  Unset, or naming another point, a call costs one
 * pthread_once and a string compare.  The points are:
 *
 *	blob-temp	a blob's temp file is written, not yet renamed
 *	blob-renamed	a blob is in place, no index row names it yet
 *	index-commit	a change is about to be committed to the index
 *	index-committed	it is committed; blobs it freed are not evicted
 */
#ifndef STORE_CRASH_H
#define STORE_CRASH_H

/** Die by SIGKILL if PXFS_CRASH_AT says this is the call.  Thread-safe. */
void store_crash_point(const char *name);

#endif /* STORE_CRASH_H */
