/* SPDX-License-Identifier: MIT */
/*
 * ref_mount.c - what "pxfs mount REF MNT" does before mounting: turn a
 * pxfs:// snapshot or tag reference into a local, read-only snapshot store
 * that the mount then serves like any other store.
 *
 * A tag is resolved to the snapshot it points at now (one connector round
 * trip), and the snapshot is fetched once, verified against its key, and
 * kept under a per-user cache directory, one store per snapshot key.  A
 * snapshot never changes, so a second mount of the same key costs nothing
 * and never replaces files a running mount has open.  The cache is the
 * user's own: $XDG_CACHE_HOME/pxfs/refs, else ~/.cache/pxfs/refs, else
 * /var/tmp/pxfs-UID/refs (a directory made 0700 by its owner, so no other
 * user can plant a snapshot there).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

#define REF_PREFIX	"pxfs://"

/* mkdir -p @path (a writable copy), each new directory 0700. */
static int mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Is @dir a directory of ours that nobody else may write? */
static bool is_private_dir(const char *dir)
{
	struct stat sb;

	return lstat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) &&
	       sb.st_uid == geteuid() && (sb.st_mode & 022) == 0;
}

/* The snapshot cache of this user, created, into @buf. */
static int cache_base(const char *verb, char *buf, size_t cap)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	char shared[64];
	int n;

	if (xdg && xdg[0] == '/') {
		n = snprintf(buf, cap, "%s/pxfs/refs", xdg);
	} else if (home && home[0] == '/') {
		n = snprintf(buf, cap, "%s/.cache/pxfs/refs", home);
	} else {
		/* /var/tmp is everyone's: a directory of our own in it */
		snprintf(shared, sizeof(shared), "/var/tmp/pxfs-%u",
			 (unsigned)geteuid());
		if (mkdir(shared, 0700) < 0 && errno != EEXIST)
			return errorf(verb, "cannot create '%s': %s", shared,
				      strerror(errno));
		if (!is_private_dir(shared))
			return errorf(verb, "'%s' is not a private directory "
				      "of this user", shared);
		n = snprintf(buf, cap, "%s/refs", shared);
	}
	if (n < 0 || (size_t)n >= cap)
		return errorf(verb, "cache directory path too long");
	if (mkdirs(buf) < 0)
		return errorf(verb, "cannot create '%s': %s", buf,
			      strerror(errno));
	return 0;
}

int ref_prepare_mount(const char *verb, const char *arg, char *store_dir,
		      size_t cap)
{
	char key[STORE_KEY_HEX + 1];
	static char base[4096];
	struct store *st = NULL;
	struct store_ref r;
	store_rc rc;
	int n;

	if (strncmp(arg, REF_PREFIX, strlen(REF_PREFIX)) != 0)
		return 1;
	rc = store_ref_parse(arg, &r);
	if (rc != STORE_OK) {
		errorf(verb, "'%s': %s", arg, store_last_error());
		return -1;
	}
	if (r.kind == STORE_REF_OBJECT) {
		errorf(verb, "reference '%s' names one object, not a snapshot "
		       "or a tag: link it into a store with 'pxfs link'", arg);
		return -1;
	}
	rc = store_ref_resolve(&r, key);
	if (rc != STORE_OK) {
		store_error(verb, rc);
		return -1;
	}
	if (cache_base(verb, base, sizeof(base)) != 0)
		return -1;
	rc = store_ref_open(&r, key, base, &st);
	if (rc != STORE_OK) {
		store_error(verb, rc);
		return -1;
	}
	store_close(st);
	n = snprintf(store_dir, cap, "%s/%s", base, key);
	if (n < 0 || (size_t)n >= cap) {
		errorf(verb, "snapshot directory path too long");
		return -1;
	}
	return 0;
}
