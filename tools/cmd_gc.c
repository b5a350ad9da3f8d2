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

enum { OPT_JSON = 256 };

static const struct option opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

/* One removal: a line, or with --json (@arg non-NULL, the count of
 * lines so far) an element of the "actions" array. */
static void on_removed(void *arg, const char *line)
{
	unsigned *n = arg;

	if (!n) {
		if (verbosity() > VERBOSITY_QUIET)
			printf("%s\n", line);
		return;
	}
	printf("%s\n    ", (*n)++ ? "," : "");
	json_str(stdout, line);
}

int cmd_gc(int argc, char **argv)
{
	struct store *st = NULL;
	uint64_t removed = 0, freed = 0;
	unsigned nactions = 0;
	bool json = false;
	char sz[32];
	store_rc rc;
	int ret = EXIT_OK;
	int c;

	while ((c = getopt_cmd(argc, argv, "", opts)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return usage_errorf("gc", argc - optind < 1 ?
				    "missing STORE" : "too many arguments");
	if (open_store("gc", argv[optind], 0, &st) < 0)
		return EXIT_ERR;
	if (json)
		printf("{\"actions\": [");
	rc = store_gc(st, on_removed, json ? &nactions : NULL, &removed,
		      &freed);
	if (rc != STORE_OK) {
		if (json)
			printf("\n");
		ret = store_error("gc", rc);
		goto out;
	}
	if (json) {
		printf("%s], \"removed\": %" PRIu64 ", \"freed_bytes\": %"
		       PRIu64 "}\n", nactions ? "\n  " : "", removed, freed);
		goto out;
	}
	if (verbosity() > VERBOSITY_QUIET)
		printf("removed %" PRIu64 " item%s, freed %" PRIu64 " bytes "
		       "(%s)\n", removed, removed == 1 ? "" : "s", freed,
		       human_size(freed, sz, sizeof(sz)));
out:
	store_close(st);
	return ret;
}
