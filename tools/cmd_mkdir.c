/* SPDX-License-Identifier: MIT */
/*
 * cmd_mkdir.c - "pxfs mkdir [-p] STORE PATH": create a directory (and,
 * with -p, its missing parents), owned by the caller, mode 0777 less the
 * umask, as mkdir(1) does.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

static const struct option opts[] = {
	{ "parents", no_argument, NULL, 'p' },
	{ NULL, 0, NULL, 0 },
};

/* Create every component of @path (normalised) under the root. */
static int mkdir_p(struct store *st, const char *path,
		   const struct store_attr *a)
{
	char name[STORE_NAME_MAX + 1];
	uint64_t dir = STORE_ROOT_INO;
	struct store_node n;
	const char *p = path;
	store_rc rc;

	while (*p) {
		const char *s;
		size_t len;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		s = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - s);
		memcpy(name, s, len);
		name[len] = '\0';
		rc = store_lookup(st, dir, name, &n);
		if (rc == STORE_NOTFOUND)
			rc = store_mkdir(st, dir, name, a, 0, &n);
		if (rc != STORE_OK)
			return store_error("mkdir", rc);
		if (!S_ISDIR(n.mode))
			return errorf("mkdir", "cannot create '%s': '%.*s' "
				      "is not a directory", path,
				      (int)(p - path), path);
		dir = n.ino;
	}
	return 0;
}

static int mkdir_one(struct store *st, char *path,
		     const struct store_attr *a)
{
	const char *parent, *name;
	struct store_node dir;
	store_rc rc;

	if (spath_split("mkdir", path, &parent, &name) < 0)
		return EXIT_ERR;
	rc = store_walk(st, parent, &dir);
	if (rc == STORE_OK && !S_ISDIR(dir.mode))
		return errorf("mkdir", "cannot create '%s/%s': '%s' is not a "
			      "directory", parent, name, parent);
	if (rc == STORE_OK)
		rc = store_mkdir(st, dir.ino, name, a, 0, NULL);
	if (rc != STORE_OK)
		return store_error("mkdir", rc);
	return 0;
}

int cmd_mkdir(int argc, char **argv)
{
	struct store_attr a = { 0 };
	struct store *st = NULL;
	char path[SPATH_MAX];
	bool parents = false;
	mode_t mask;
	store_rc rc;
	int ret;
	int c;

	while ((c = getopt_cmd(argc, argv, "p", opts)) != -1) {
		switch (c) {
		case 'p':
			parents = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return usage_errorf("mkdir", argc - optind < 2 ?
				    "missing STORE or PATH" :
				    "too many arguments");
	if (spath_norm("mkdir", argv[optind + 1], path, sizeof(path)) < 0)
		return EXIT_ERR;
	if (!parents && strcmp(path, "/") == 0)
		return errorf("mkdir", "cannot create '/': already exists");
	mask = umask(0);
	umask(mask);
	a.mode = S_IFDIR | (0777 & ~mask);
	a.uid = (uint32_t)getuid();
	a.gid = (uint32_t)getgid();
	if (open_store("mkdir", argv[optind], 0, &st) < 0)
		return EXIT_ERR;
	rc = store_begin(st);
	if (rc != STORE_OK) {
		ret = store_error("mkdir", rc);
		goto out;
	}
	if (parents)
		ret = mkdir_p(st, path, &a);
	else
		ret = mkdir_one(st, path, &a);
	if (ret == 0) {
		rc = store_commit(st);
		if (rc != STORE_OK)
			ret = store_error("mkdir", rc);
	}
	if (ret != 0) {
		store_rollback(st);
		ret = EXIT_ERR;
	}
out:
	store_close(st);
	return ret;
}
