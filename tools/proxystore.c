/* SPDX-License-Identifier: MIT */
/*
 * proxystore.c - "pxfs link STORE --proxystore LOC UUID PATH" and what
 * import and export share: the --proxystore option and making the
 * directories an entry goes in.
 *
 * A ProxyStore object is linked from its header and length alone (see
 * store/external.c): the entry's size is the payload's and its type the
 * one the serializer id stands for, and nothing of the payload is read
 * until the entry is.  cmd_link.c hands the command here when it sees
 * --proxystore, so that the two kinds of link keep their own option
 * handling.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxystore.h"
#include "store.h"
#include "util.h"

bool proxystore_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--proxystore") == 0 ||
		    strncmp(argv[i], "--proxystore=", 13) == 0)
			return true;
	}
	return false;
}

int proxystore_opt(const char *verb, const char *spec, struct store_ps *out)
{
	if (store_ps_parse(spec, out) != STORE_OK) {
		errorf(verb, "%s", store_last_error());
		return -1;
	}
	return 0;
}

int proxystore_mkdirs(const char *verb, struct store *st, const char *path,
		      uint64_t *ino)
{
	struct store_attr a = { 0 };
	char name[STORE_NAME_MAX + 1];
	struct store_node n;
	const char *p = path;
	mode_t mask;
	store_rc rc;

	mask = umask(0);
	umask(mask);
	a.mode = S_IFDIR | (0777 & ~mask);
	a.uid = (uint32_t)getuid();
	a.gid = (uint32_t)getgid();
	*ino = STORE_ROOT_INO;
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
		rc = store_lookup(st, *ino, name, &n);
		if (rc == STORE_NOTFOUND)
			rc = store_mkdir(st, *ino, name, &a, 0, &n);
		if (rc != STORE_OK) {
			store_error(verb, rc);
			return -1;
		}
		if (!S_ISDIR(n.mode)) {
			errorf(verb, "cannot create '%s': '%.*s' is not a "
			       "directory", path, (int)(p - path), path);
			return -1;
		}
		*ino = n.ino;
	}
	return 0;
}

/* ---- link --------------------------------------------------------------- */

enum { OPT_TYPE = 256, OPT_FORCE, OPT_PROXYSTORE };

static const struct option link_opts[] = {
	{ "type", required_argument, NULL, OPT_TYPE },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "proxystore", required_argument, NULL, OPT_PROXYSTORE },
	{ NULL, 0, NULL, 0 },
};

/* Make @path (normalised; modified) a proxy for @uuid in @ps. */
static int link_one(struct store *st, const struct store_ps *ps,
		    const char *uuid, char *path, const char *type,
		    bool force)
{
	struct store_object obj;
	struct store_node dir;
	const char *name;
	store_rc rc;
	int ret;

	ret = link_slot(st, path, force, &dir, &name);
	if (ret != 0)
		return ret;
	rc = store_external_add(st, ps, uuid, &obj);
	if (rc != STORE_OK)
		return store_error("link", rc);
	return link_make(st, &dir, name, obj.key, type, force);
}

int proxystore_link(int argc, char **argv)
{
	const char *type = NULL, *spec = NULL, *uuid;
	struct store *st = NULL;
	char path[SPATH_MAX];
	struct store_ps ps;
	bool force = false;
	store_rc rc;
	int ret, c;

	while ((c = getopt_cmd(argc, argv, "", link_opts)) != -1) {
		switch (c) {
		case OPT_TYPE:
			if (optarg[0] == '\0' ||
			    strlen(optarg) > STORE_TYPE_MAX)
				return errorf("link", "invalid type '%s': "
					      "must be 1 to %d bytes", optarg,
					      STORE_TYPE_MAX);
			type = optarg;
			break;
		case OPT_FORCE:
			force = true;
			break;
		case OPT_PROXYSTORE:
			spec = optarg;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 3)
		return usage_errorf("link", argc - optind < 3 ?
				    "missing STORE, UUID or PATH" :
				    "too many arguments");
	uuid = argv[optind + 1];
	if (!store_ps_is_uuid(uuid))
		return errorf("link", "invalid ProxyStore key '%s': expected "
			      "a UUID as ProxyStore makes them (8-4-4-4-12 "
			      "lowercase hex digits)", uuid);
	if (proxystore_opt("link", spec, &ps) < 0)
		return EXIT_ERR;
	if (spath_norm("link", argv[optind + 2], path, sizeof(path)) < 0)
		return EXIT_ERR;
	if (open_store("link", argv[optind], 0, &st) < 0)
		return EXIT_ERR;
	rc = store_begin(st);
	if (rc != STORE_OK) {
		ret = store_error("link", rc);
		goto out;
	}
	ret = link_one(st, &ps, uuid, path, type, force);
	if (ret == 0) {
		rc = store_commit(st);
		if (rc != STORE_OK)
			ret = store_error("link", rc);
	}
	if (ret != 0) {
		store_rollback(st);
		ret = EXIT_ERR;
	}
out:
	store_close(st);
	return ret;
}
