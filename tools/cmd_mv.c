/* SPDX-License-Identifier: MIT */
/*
 * cmd_mv.c - "pxfs mv STORE SRC DST": move or rename an entry.  A DST
 * that is an existing directory receives SRC under SRC's name, as mv(1)
 * does; otherwise SRC takes the name DST.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

static const struct option no_opts[] = { { NULL, 0, NULL, 0 } };

static int mv(struct store *st, char *src, char *dst)
{
	const char *sparent, *sname, *dparent, *dname;
	struct store_node sdir, ddir, n;
	char srcpath[SPATH_MAX];
	store_rc rc;

	snprintf(srcpath, sizeof(srcpath), "%s", src);
	if (spath_split("mv", src, &sparent, &sname) < 0)
		return EXIT_ERR;
	rc = store_walk(st, sparent, &sdir);
	if (rc == STORE_OK)
		rc = store_lookup(st, sdir.ino, sname, &n);
	if (rc != STORE_OK)
		return store_error("mv", rc);

	rc = store_walk(st, dst, &ddir);
	if (rc == STORE_OK && S_ISDIR(ddir.mode)) {
		/* Into an existing directory, keeping the name. */
		dname = sname;
		if (ddir.ino == n.ino)
			return errorf("mv", "cannot move '%s' into itself",
				      srcpath);
	} else if (rc == STORE_OK || rc == STORE_NOTFOUND) {
		if (spath_split("mv", dst, &dparent, &dname) < 0)
			return EXIT_ERR;
		rc = store_walk(st, dparent, &ddir);
		if (rc != STORE_OK)
			return store_error("mv", rc);
		if (!S_ISDIR(ddir.mode))
			return errorf("mv", "cannot move '%s' to '%s/%s': "
				      "'%s' is not a directory", srcpath,
				      dparent, dname, dparent);
	} else {
		return store_error("mv", rc);
	}
	rc = store_rename(st, sdir.ino, sname, ddir.ino, dname);
	if (rc != STORE_OK)
		return store_error("mv", rc);
	return 0;
}

int cmd_mv(int argc, char **argv)
{
	char src[SPATH_MAX], dst[SPATH_MAX];
	struct store *st = NULL;
	store_rc rc;
	int ret;

	if (getopt_cmd(argc, argv, "", no_opts) != -1)
		return EXIT_USAGE;
	if (argc - optind != 3)
		return usage_errorf("mv", argc - optind < 3 ?
				    "missing STORE, SRC or DST" :
				    "too many arguments");
	if (spath_norm("mv", argv[optind + 1], src, sizeof(src)) < 0 ||
	    spath_norm("mv", argv[optind + 2], dst, sizeof(dst)) < 0)
		return EXIT_ERR;
	if (open_store("mv", argv[optind], 0, &st) < 0)
		return EXIT_ERR;
	rc = store_begin(st);
	if (rc != STORE_OK) {
		ret = store_error("mv", rc);
		goto out;
	}
	ret = mv(st, src, dst);
	if (ret == 0) {
		rc = store_commit(st);
		if (rc != STORE_OK)
			ret = store_error("mv", rc);
	}
	if (ret != 0) {
		store_rollback(st);
		ret = EXIT_ERR;
	}
out:
	store_close(st);
	return ret;
}
