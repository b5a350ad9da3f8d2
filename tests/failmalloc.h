/* SPDX-License-Identifier: MIT */
/*
 * failmalloc.h - allocation-failure injection for the Check suites.
 *
 * Include it once, from a suite's only source file.  It replaces malloc,
 * calloc, realloc and free for the whole test program (glibc supports
 * replacing them: libc and every shared library then call ours) and
 * forwards to glibc's own allocator, so a test can make the Nth
 * allocation from now fail and loop an operation over every allocation it
 * makes (curl's torture tests, SQLite's malloc tests) without a hook in
 * libstore.  It also counts live blocks, so a failed operation can be
 * checked for leaks without ASan.
 *
 * Sanitizers bring their own allocator: under them FAILMALLOC is 0, none
 * of this is compiled, and suites leave their torture cases out.
 */
#ifndef TESTS_FAILMALLOC_H
#define TESTS_FAILMALLOC_H

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FAILMALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#define FAILMALLOC 0
#endif
#endif
#ifndef FAILMALLOC
#define FAILMALLOC 1
#endif

#if FAILMALLOC
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

/* glibc's allocator under its internal names. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static long failmalloc_countdown;	/* fail when it drops to 0; 0: off */
static bool failmalloc_fired;		/* the armed failure happened */
static long failmalloc_live;		/* blocks allocated, not freed */

static bool failmalloc_now(void)
{
	if (failmalloc_countdown == 0 || --failmalloc_countdown > 0)
		return false;
	failmalloc_fired = true;
	errno = ENOMEM;
	return true;
}

void *malloc(size_t n)
{
	void *p;

	if (failmalloc_now())
		return NULL;
	p = __libc_malloc(n);
	if (p)
		failmalloc_live++;
	return p;
}

void *calloc(size_t n, size_t size)
{
	void *p;

	if (failmalloc_now())
		return NULL;
	p = __libc_calloc(n, size);
	if (p)
		failmalloc_live++;
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p;

	if (failmalloc_now())
		return NULL;
	p = __libc_realloc(old, n);
	if (!old && p)
		failmalloc_live++;
	else if (old && n == 0 && !p)	/* glibc frees for size 0 */
		failmalloc_live--;
	return p;
}

void free(void *p)
{
	if (p)
		failmalloc_live--;
	__libc_free(p);
}

/* Make the @n-th allocation from now fail (1: the next one). */
static inline void failmalloc_arm(long n)
{
	failmalloc_fired = false;
	failmalloc_countdown = n;
}

/* Stop failing; true if the armed allocation did fail. */
static inline bool failmalloc_disarm(void)
{
	failmalloc_countdown = 0;
	return failmalloc_fired;
}

/* Blocks live now: equal before and after an operation means no leak. */
static inline long failmalloc_blocks(void)
{
	return failmalloc_live;
}
#endif /* FAILMALLOC */

#endif /* TESTS_FAILMALLOC_H */
