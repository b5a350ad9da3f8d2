/* SPDX-License-Identifier: MIT */
/*
 * cmd_stat.c - "pxfs stat [--json] STORE PATH": an entry and its object,
 * from the index only (nothing is fetched from the connector).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

enum { OPT_JSON = 256 };

static const struct option opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

/* "pending" (a future not set yet), "evicted" (after its first read),
 * "external" (in a ProxyStore, fetched on first read) or "ready". */
static const char *object_state(const struct store_object *o)
{
	if (o->external)
		return "external";
	if (o->pending)
		return "pending";
	if (o->evicted)
		return "evicted";
	return "ready";
}

static void json_field(const char *k, const char *v, bool first)
{
	printf("%s\n  \"%s\": ", first ? "" : ",", k);
	json_str(stdout, v);
}

static void json_num(const char *k, uint64_t v)
{
	printf(",\n  \"%s\": %" PRIu64, k, v);
}

static void print_json(const char *path, const struct store_node *n,
		       const struct store_object *o, const char *target)
{
	char buf[48];

	putchar('{');
	json_field("path", path, true);
	json_field("kind", mode_kind(n->mode), false);
	json_num("ino", n->ino);
	snprintf(buf, sizeof(buf), "%04o", (unsigned)(n->mode & 07777));
	json_field("mode", buf, false);
	json_num("uid", n->uid);
	json_num("gid", n->gid);
	json_num("size", n->size);
	json_field("mtime", time_utc(n->mtime_ns, buf, sizeof(buf)), false);
	printf(",\n  \"mtime_ns\": %" PRId64, n->mtime_ns);
	printf(",\n  \"ctime_ns\": %" PRId64, n->ctime_ns);
	if (o) {
		json_field("type", n->type, false);
		json_field("key", n->key, false);
		json_field("hash", o->hash, false);
		json_num("stored_size", o->stored_size);
		json_num("chunk_size", o->chunk_size);
		json_num("chunks", o->nchunks);
		json_num("refs", o->refs);
		printf(",\n  \"pending\": %s", o->pending ? "true" : "false");
		json_field("state", object_state(o), false);
		printf(",\n  \"evict_on_read\": %s",
		       o->evict_on_read ? "true" : "false");
		printf(",\n  \"source\": ");
		if (o->external)
			json_str(stdout, o->source);
		else
			printf("null");
	}
	if (target)
		json_field("target", target, false);
	printf("\n}\n");
}

static void print_text(const char *path, const struct store_node *n,
		       const struct store_object *o, const char *target)
{
	char a[32], b[48];

	fputs("path:        ", stdout);
	name_out(stdout, path);
	printf("\nkind:        %s\n", mode_kind(n->mode));
	if (target) {
		fputs("target:      ", stdout);
		name_out(stdout, target);
		putchar('\n');
	}
	if (o) {
		printf("type:        %s\n", n->type);
		printf("key:         %s\n", n->key);
		printf("hash:        %s\n", o->pending ? "(pending)" :
		       o->external ? "(taken at the first read)" : o->hash);
		if (o->external)
			printf("source:      %s\n", o->source);
	}
	printf("size:        %" PRIu64 " (%s)\n", n->size,
	       human_size(n->size, a, sizeof(a)));
	if (o) {
		printf("stored size: %" PRIu64 " (%s)\n", o->stored_size,
		       human_size(o->stored_size, a, sizeof(a)));
		printf("chunk size:  %" PRIu32 " (%s)\n", o->chunk_size,
		       human_size(o->chunk_size, a, sizeof(a)));
		printf("chunks:      %" PRIu32 "\n", o->nchunks);
		printf("refs:        %" PRIu64 "\n", o->refs);
		printf("state:       %s%s\n", object_state(o),
		       o->evicted ? " (after its first read)" :
		       o->evict_on_read ? " (evict on read: goes after its "
		       "first read)" :
		       "");
	}
	printf("mode:        %04o (%s)\n", (unsigned)(n->mode & 07777),
	       mode_string(n->mode, a, sizeof(a)));
	printf("uid:         %" PRIu32 "\n", n->uid);
	printf("gid:         %" PRIu32 "\n", n->gid);
	printf("mtime:       %s (%s)\n", time_local(n->mtime_ns, a, sizeof(a)),
	       time_utc(n->mtime_ns, b, sizeof(b)));
	printf("ino:         %" PRIu64 "\n", n->ino);
}

int cmd_stat(int argc, char **argv)
{
	struct store_object o = { 0 };
	struct store *st = NULL;
	struct store_node n;
	char path[SPATH_MAX];
	char *target = NULL;
	bool json = false;
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
	if (argc - optind != 2)
		return usage_errorf("stat", argc - optind < 2 ?
				    "missing STORE or PATH" :
				    "too many arguments");
	if (spath_norm("stat", argv[optind + 1], path, sizeof(path)) < 0)
		return EXIT_ERR;
	if (open_store("stat", argv[optind], STORE_OPEN_RDONLY, &st) < 0)
		return EXIT_ERR;
	rc = store_walk(st, path, &n);
	if (rc != STORE_OK) {
		ret = store_error("stat", rc);
		goto out;
	}
	if (S_ISREG(n.mode)) {
		rc = store_object_info(st, n.key, &o);
		if (rc != STORE_OK) {
			ret = store_error("stat", rc);
			goto out;
		}
	}
	if (S_ISLNK(n.mode)) {
		target = malloc((size_t)n.size + 1);
		if (!target) {
			ret = errorf("stat", "out of memory");
			goto out;
		}
		rc = store_readlink(st, n.ino, target, (size_t)n.size + 1);
		if (rc != STORE_OK) {
			ret = store_error("stat", rc);
			goto out;
		}
	}
	if (json)
		print_json(path, &n, S_ISREG(n.mode) ? &o : NULL, target);
	else
		print_text(path, &n, S_ISREG(n.mode) ? &o : NULL, target);
out:
	free(target);
	store_close(st);
	return ret;
}
