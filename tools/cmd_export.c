/* SPDX-License-Identifier: MIT */
/*
 * cmd_export.c - "pxfs export STORE PATH --proxystore file:DIR|redis://..":
 * hand a file's content to a Python consumer.  The object is written in
 * ProxyStore's format (the "BS" bytes serializer, a newline, the content)
 * under a new UUID, which is printed: it is the key a ProxyStore Store's
 * get() takes (FileKey(filename=UUID), RedisKey(redis_key=UUID)).  Every
 * chunk is verified before it is written, and the object appears whole
 * or not at all (see store_ps_write).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "proxystore.h"
#include "store.h"
#include "util.h"

enum { OPT_PROXYSTORE = 256, OPT_JSON };

static const struct option opts[] = {
	{ "proxystore", required_argument, NULL, OPT_PROXYSTORE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

int cmd_export(int argc, char **argv)
{
	char path[SPATH_MAX], uuid[STORE_PS_UUID_LEN + 1], loc[1200];
	const char *spec = NULL;
	struct store *st = NULL;
	struct store_node n;
	struct store_ps ps;
	bool json = false;
	store_rc rc;
	int ret = EXIT_OK;
	int c;

	while ((c = getopt_cmd(argc, argv, "", opts)) != -1) {
		switch (c) {
		case OPT_PROXYSTORE:
			spec = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return usage_errorf("export", argc - optind < 2 ?
				    "missing STORE or PATH" :
				    "too many arguments");
	if (!spec)
		return usage_errorf("export", "missing --proxystore "
				    "file:DIR|redis://HOST:PORT");
	if (proxystore_opt("export", spec, &ps) < 0)
		return EXIT_ERR;
	if (spath_norm("export", argv[optind + 1], path, sizeof(path)) < 0)
		return EXIT_ERR;
	if (open_store("export", argv[optind], STORE_OPEN_RDONLY, &st) < 0)
		return EXIT_ERR;
	rc = store_walk(st, path, &n);
	if (rc != STORE_OK) {
		ret = store_error("export", rc);
		goto out;
	}
	if (!S_ISREG(n.mode)) {
		ret = errorf("export", "cannot export '%s': %s", path,
			     S_ISDIR(n.mode) ? "is a directory" :
			     "is a symlink");
		goto out;
	}
	ret = wait_ready("export", st, path, &n);
	if (ret != 0)
		goto out;
	rc = store_ps_write(st, n.key, &ps, path, uuid);
	if (rc != STORE_OK) {
		ret = store_error("export", rc);
		goto out;
	}
	ret = evict_if_read_once("export", st, n.key);
	if (ret != 0)
		goto out;
	store_ps_format(&ps, loc, sizeof(loc));
	if (json) {
		printf("{\"path\": ");
		json_str(stdout, path);
		printf(", \"key\": \"%s\", \"size\": %" PRIu64 ", \"uuid\": "
		       "\"%s\", \"proxystore\": ", n.key, n.size, uuid);
		json_str(stdout, loc);
		printf("}\n");
	} else {
		printf("%s\n", uuid);
	}
out:
	store_close(st);
	return ret;
}
