/* SPDX-License-Identifier: MIT */
/*
 * cmd_rm.c - "pxfs rm [-r] STORE PATH...": remove entries, all in one
 * batch so that a bad PATH leaves every other one in place.
 */
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

static const struct option opts[] = {
	{ "recursive", no_argument, NULL, 'r' },
	{ NULL, 0, NULL, 0 },
};

static int rm_one(struct store *st, const char *arg, bool recursive)
{
	char path[SPATH_MAX];
	const char *parent, *name;
	struct store_node dir, n;
	store_rc rc;

	if (spath_norm("rm", arg, path, sizeof(path)) < 0)
		return EXIT_ERR;
	if (spath_split("rm", path, &parent, &name) < 0)
		return EXIT_ERR;
	rc = store_walk(st, parent, &dir);
	if (rc == STORE_OK)
		rc = store_lookup(st, dir.ino, name, &n);
	if (rc != STORE_OK)
		return store_error("rm", rc);
	if (S_ISDIR(n.mode)) {
		if (!recursive)
			return errorf("rm", "cannot remove '%s': is a "
				      "directory (use -r)", arg);
		rc = store_remove_tree(st, dir.ino, name);
	} else {
		rc = store_unlink(st, dir.ino, name);
	}
	if (rc != STORE_OK)
		return store_error("rm", rc);
	return 0;
}

int cmd_rm(int argc, char **argv)
{
	struct store *st = NULL;
	bool recursive = false;
	store_rc rc;
	int ret = 0;
	int c;

	while ((c = getopt_cmd(argc, argv, "rR", opts)) != -1) {
		switch (c) {
		case 'r':
		case 'R':
			recursive = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind < 2)
		return usage_errorf("rm", argc - optind < 1 ?
				    "missing STORE" : "missing PATH");
	if (open_store("rm", argv[optind], 0, &st) < 0)
		return EXIT_ERR;
	rc = store_begin(st);
	if (rc != STORE_OK) {
		ret = store_error("rm", rc);
		goto out;
	}
	for (int i = optind + 1; i < argc && ret == 0; i++)
		ret = rm_one(st, argv[i], recursive);
	if (ret == 0) {
		rc = store_commit(st);
		if (rc != STORE_OK)
			ret = store_error("rm", rc);
	}
	if (ret != 0) {
		store_rollback(st);
		ret = EXIT_ERR;
	}
out:
	store_close(st);
	return ret;
}
