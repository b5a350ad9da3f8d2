/* SPDX-License-Identifier: MIT */
/*
 * cmd_init.c - "pxfs init STORE": create a new store.
 */
#include <getopt.h>
#include <stdio.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

enum { OPT_CHUNK = 256, OPT_LEVEL };

static const struct option opts[] = {
	{ "chunk-size", required_argument, NULL, OPT_CHUNK },
	{ "level", required_argument, NULL, OPT_LEVEL },
	{ NULL, 0, NULL, 0 },
};

int cmd_init(int argc, char **argv)
{
	struct store_create_opts o = { .connector = "file" };
	const char *path;
	store_rc rc;
	int c;

	while ((c = getopt_cmd(argc, argv, "", opts)) != -1) {
		switch (c) {
		case OPT_CHUNK:
			if (opt_chunk_size("init", optarg, &o.chunk_size) < 0)
				return EXIT_ERR;
			break;
		case OPT_LEVEL:
			if (opt_level("init", optarg, &o.level) < 0)
				return EXIT_ERR;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return usage_errorf("init", argc - optind < 1 ?
				    "missing STORE" : "too many arguments");
	path = argv[optind];
	rc = store_create(path, &o);
	if (rc != STORE_OK)
		return store_error("init", rc);
	printf("created store '%s'\n", path);
	return EXIT_OK;
}
