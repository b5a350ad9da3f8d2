/* SPDX-License-Identifier: MIT */
/*
 * crash.c - PXFS_CRASH_AT, the crash-point hook of crash.h.  The variable
 * is read once; a malformed value is ignored (with one log line) rather
 * than refused, since it only ever matters to tests.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash.h"
#include "store_int.h"

#define CRASH_ENV	"PXFS_CRASH_AT"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char point[64];			/* "" when disarmed; set once */
static unsigned long at;		/* the call that kills */
static atomic_ulong calls;		/* calls of point so far */

static void arm(void)
{
	const char *v = getenv(CRASH_ENV), *colon;
	unsigned long n;
	char *end;

	if (!v || !*v)
		return;
	colon = strrchr(v, ':');
	if (!colon || colon == v || (size_t)(colon - v) >= sizeof(point))
		goto bad;
	n = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || n == 0)
		goto bad;
	memcpy(point, v, (size_t)(colon - v));
	point[colon - v] = '\0';
	at = n;
	return;
bad:
	store_log(STORE_LOG_WARNING, "ignoring %s='%s': not NAME:N", CRASH_ENV,
		  v);
}

void store_crash_point(const char *name)
{
	pthread_once(&once, arm);
	if (point[0] == '\0' || strcmp(name, point) != 0)
		return;
	if (atomic_fetch_add(&calls, 1) + 1 == at)
		raise(SIGKILL);
}
