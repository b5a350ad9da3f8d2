/* SPDX-License-Identifier: MIT */
/*
 * cmd_fsck.c - "pxfs fsck [--deep] [--json] STORE": check a store.  Each
 * problem is one line on stdout, then a summary; the exit status is 1
 * (with one line on stderr) when anything is wrong.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

enum { OPT_DEEP = 256, OPT_JSON };

static const struct option opts[] = {
	{ "deep", no_argument, NULL, OPT_DEEP },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

struct lines {
	bool json;		/* collect instead of printing */
	char **v;
	size_t n, cap;
	bool nomem;
};

static void on_problem(void *arg, const char *line)
{
	struct lines *l = arg;
	char *copy;

	if (!l->json) {
		printf("%s\n", line);
		return;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->nomem = true;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	copy = strdup(line);
	if (!copy) {
		l->nomem = true;
		return;
	}
	l->v[l->n++] = copy;
}

static uint64_t problems(const struct store_fsck_report *r)
{
	return r->missing + r->corrupt + r->orphans + r->unreferenced +
	       r->bad_refs + r->dangling + r->leftovers;
}

static void print_json(const struct lines *l,
		       const struct store_fsck_report *r)
{
	printf("{\n  \"clean\": %s,\n  \"problems\": [",
	       problems(r) ? "false" : "true");
	for (size_t i = 0; i < l->n; i++) {
		printf(i ? ",\n    " : "\n    ");
		json_str(stdout, l->v[i]);
	}
	printf("%s],\n", l->n ? "\n  " : "");
	printf("  \"nodes\": %" PRIu64 ",\n  \"objects\": %" PRIu64 ",\n"
	       "  \"blobs\": %" PRIu64 ",\n  \"missing\": %" PRIu64 ",\n"
	       "  \"corrupt\": %" PRIu64 ",\n  \"orphans\": %" PRIu64 ",\n"
	       "  \"unreferenced\": %" PRIu64 ",\n"
	       "  \"bad_refs\": %" PRIu64 ",\n  \"dangling\": %" PRIu64 ",\n"
	       "  \"leftovers\": %" PRIu64 "\n}\n", r->nodes, r->objects,
	       r->blobs, r->missing, r->corrupt, r->orphans, r->unreferenced,
	       r->bad_refs, r->dangling, r->leftovers);
}

static void print_summary(const struct store_fsck_report *r, bool deep)
{
	printf("checked %" PRIu64 " nodes, %" PRIu64 " objects, %" PRIu64
	       " blobs%s: ", r->nodes, r->objects, r->blobs,
	       deep ? " (deep)" : "");
	if (!problems(r)) {
		printf("clean\n");
		return;
	}
	printf("%" PRIu64 " missing, %" PRIu64 " corrupt, %" PRIu64
	       " orphan blobs, %" PRIu64 " unreferenced, %" PRIu64
	       " bad refs, %" PRIu64 " dangling, %" PRIu64 " leftovers\n",
	       r->missing, r->corrupt, r->orphans, r->unreferenced,
	       r->bad_refs, r->dangling, r->leftovers);
}

int cmd_fsck(int argc, char **argv)
{
	struct store_fsck_report rep = { 0 };
	struct lines l = { 0 };
	struct store *st = NULL;
	bool deep = false;
	store_rc rc;
	int ret = EXIT_OK;
	int c;

	while ((c = getopt_cmd(argc, argv, "", opts)) != -1) {
		switch (c) {
		case OPT_DEEP:
			deep = true;
			break;
		case OPT_JSON:
			l.json = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return usage_errorf("fsck", argc - optind < 1 ?
				    "missing STORE" : "too many arguments");
	if (open_store("fsck", argv[optind], STORE_OPEN_RDONLY, &st) < 0)
		return EXIT_ERR;
	rc = store_fsck(st, deep, on_problem, &l, &rep);
	if (rc != STORE_OK) {
		ret = store_error("fsck", rc);
		goto out;
	}
	if (l.nomem) {
		ret = errorf("fsck", "out of memory");
		goto out;
	}
	if (l.json)
		print_json(&l, &rep);
	else
		print_summary(&rep, deep);
	if (problems(&rep))
		ret = errorf("fsck", "store '%s' has %" PRIu64 " problem%s",
			     argv[optind], problems(&rep),
			     problems(&rep) == 1 ? "" : "s");
out:
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	store_close(st);
	return ret;
}
