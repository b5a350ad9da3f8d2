/* SPDX-License-Identifier: MIT */
/*
 * cmd_gc.c - "pxfs gc STORE": remove what no entry needs (object rows
 * with no references, blobs no row names, temp leftovers), printing each
 * removal and the bytes freed.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

static const struct option no_opts[] = { { NULL, 0, NULL, 0 } };

static void on_removed(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

int cmd_gc(int argc, char **argv)
{
	struct store *st = NULL;
	uint64_t removed = 0, freed = 0;
	char sz[32];
	store_rc rc;
	int ret = EXIT_OK;

	if (getopt_cmd(argc, argv, "", no_opts) != -1)
		return EXIT_USAGE;
	if (argc - optind != 1)
		return usage_errorf("gc", argc - optind < 1 ?
				    "missing STORE" : "too many arguments");
	if (open_store("gc", argv[optind], 0, &st) < 0)
		return EXIT_ERR;
	rc = store_gc(st, on_removed, NULL, &removed, &freed);
	if (rc != STORE_OK) {
		ret = store_error("gc", rc);
		goto out;
	}
	printf("removed %" PRIu64 " item%s, freed %" PRIu64 " bytes (%s)\n",
	       removed, removed == 1 ? "" : "s", freed,
	       human_size(freed, sz, sizeof(sz)));
out:
	store_close(st);
	return ret;
}
