/* SPDX-License-Identifier: MIT */
/*
 * mount_helper.c - "pxfs STORE MNT [-o OPTS]" (no verb): the command line
 * mount(8) gives a filesystem helper, so that "mount -t fuse.pxfs" and
 * /etc/fstab lines work.
 *
 * How it is reached.  For type fuse.pxfs, mount(8) runs
 * /sbin/mount.fuse.pxfs if it exists (make install puts mount.pxfs and
 * mount.fuse.pxfs in sbin: a script that runs this), else
 * /sbin/mount.fuse (fuse3's mount.fuse3), which runs "pxfs STORE MNT -o
 * OPTS" through /bin/sh.  mount(8) drops the userspace options (defaults,
 * _netdev, noauto, nofail, user, x-*) before that, runs the helper with
 * no PATH (so sh looks in /usr/local/bin, /usr/bin, /bin...), and may add
 * rw, dev, suid, exec and the like, which mean nothing to a FUSE daemon
 * that always mounts nodev,nosuid.
 *
 * The options are translated into "pxfs mount" ones: cache_size=BYTES,
 * cache_dir=DIR, cache_mode=MODE, ro, rw, allow_other and debug; the VFS flags and the
 * userspace ones above are accepted and ignored; anything else is one
 * clear error and nothing is mounted (or ignored with -s, sloppy, as
 * mount(8) asks).  -f (fake) checks everything and mounts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "util.h"

#define MAX_ARGS	32

/* Options mount(8), mount.fuse3 or an fstab line may pass that do not
 * change what pxfs does. */
static const char *const ignored[] = {
	"defaults", "_netdev", "auto", "noauto", "user", "nouser", "users",
	"owner", "group", "nofail", "dev", "nodev", "suid", "nosuid", "exec",
	"noexec", "atime", "noatime", "relatime", "norelatime", "strictatime",
	"nostrictatime", "lazytime", "nolazytime", "diratime", "nodiratime",
	"async", "silent", "loud", "default_permissions",
};

static bool is_ignored(const char *tok)
{
	if (strncmp(tok, "x-", 2) == 0 || strncmp(tok, "comment=", 8) == 0)
		return true;
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		if (strcmp(tok, ignored[i]) == 0)
			return true;
	}
	return false;
}

struct margs {
	char *v[MAX_ARGS + 1];
	int n;
	char buf[4096];		/* the values, copied */
	size_t used;
};

static int add(struct margs *m, const char *s)
{
	size_t len = strlen(s) + 1;

	if (m->n >= MAX_ARGS || m->used + len > sizeof(m->buf))
		return errorf("mount", "too many mount options"), -1;
	memcpy(m->buf + m->used, s, len);
	m->v[m->n++] = m->buf + m->used;
	m->used += len;
	return 0;
}

/* Translate one -o list into "pxfs mount" arguments. */
static int translate(struct margs *m, const char *list, bool sloppy)
{
	char buf[2048], *save = NULL, *tok;
	int rc = 0;

	if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf))
		return errorf("mount", "mount options too long"), -1;
	for (tok = strtok_r(buf, ",", &save); tok && rc == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "cache_size=", 11) == 0) {
			rc = add(m, "--cache-size");
			if (rc == 0)
				rc = add(m, tok + 11);
		} else if (strncmp(tok, "cache_dir=", 10) == 0) {
			rc = add(m, "--cache-dir");
			if (rc == 0)
				rc = add(m, tok + 10);
		} else if (strncmp(tok, "cache_mode=", 11) == 0) {
			rc = add(m, "--cache-mode");
			if (rc == 0)
				rc = add(m, tok + 11);
		} else if (strcmp(tok, "ro") == 0) {
			rc = add(m, "-o");
			if (rc == 0)
				rc = add(m, "ro");
		} else if (strcmp(tok, "allow_other") == 0) {
			rc = add(m, "--allow-other");
		} else if (strcmp(tok, "debug") == 0) {
			rc = add(m, "--debug");
		} else if (strcmp(tok, "rw") == 0 || is_ignored(tok)) {
			continue;
		} else if (!sloppy) {
			errorf("mount", "unknown mount option '%s' (pxfs "
			       "knows cache_size=BYTES, cache_dir=DIR, "
			       "cache_mode=disk|memory, ro, rw, allow_other, "
			       "debug)", tok);
			return -1;
		}
	}
	return rc;
}

bool mount_helper_wanted(int argc, char **argv)
{
	/* fstab and mount(8) give an absolute STORE (or a reference);
	 * a mistyped verb has no slash */
	return argc >= 3 && argv[1][0] != '-' &&
	       (strchr(argv[1], '/') != NULL ||
		strncmp(argv[1], "pxfs://", 7) == 0);
}

int mount_helper(int argc, char **argv)
{
	const char *store = NULL, *mnt = NULL;
	const char *lists[8];
	int nlists = 0;
	bool sloppy = false, fake = false;
	struct margs m = { .n = 0 };

	/* mount.<type> SPEC DIR [-sfnv] [-N NS] [-o OPTS] [-t TYPE] */
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-o") == 0 || strcmp(a, "-t") == 0 ||
		    strcmp(a, "-N") == 0) {
			if (i + 1 >= argc)
				return errorf("mount", "option '%s' requires a "
					      "value", a), EXIT_USAGE;
			if (a[1] == 'o' && nlists < 8)
				lists[nlists++] = argv[i + 1];
			else if (a[1] == 'o')
				return errorf("mount", "too many -o "
					      "options"), EXIT_USAGE;
			else if (a[1] == 'N')
				return errorf("mount", "mount namespaces (-N) "
					      "are not supported"), EXIT_USAGE;
			else if (strcmp(argv[i + 1], "fuse.pxfs") != 0 &&
				 strcmp(argv[i + 1], "pxfs") != 0)
				return errorf("mount", "cannot mount type '%s'",
					      argv[i + 1]), EXIT_USAGE;
			i++;
		} else if (a[0] == '-' && a[1] != '\0' &&
			   strspn(a + 1, "sfnvi") == strlen(a + 1)) {
			sloppy = sloppy || strchr(a, 's');
			fake = fake || strchr(a, 'f');
		} else if (a[0] == '-') {
			return errorf("mount", "unknown option '%s'", a),
			       EXIT_USAGE;
		} else if (!store) {
			store = a;
		} else if (!mnt) {
			mnt = a;
		} else {
			return errorf("mount", "too many arguments: '%s'", a),
			       EXIT_USAGE;
		}
	}
	if (!store || !mnt)
		return errorf("mount", "need STORE and MNT"), EXIT_USAGE;
	if (add(&m, "mount") < 0)
		return EXIT_USAGE;
	for (int i = 0; i < nlists; i++) {
		if (translate(&m, lists[i], sloppy) < 0)
			return EXIT_USAGE;
	}
	if (fake)
		return EXIT_OK;
	if (add(&m, store) < 0 || add(&m, mnt) < 0)
		return EXIT_USAGE;
	m.v[m.n] = NULL;
	return cmd_mount(m.n, m.v);
}
