/* SPDX-License-Identifier: MIT */
/*
 * cmd_ls.c - "pxfs ls [-l] [--json] STORE [PATH]": list a directory of the
 * namespace, from the index only.
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

struct entry {
	struct store_node n;
	char *target;		/* symlink target (owned) or NULL */
};

struct list {
	struct entry *v;
	size_t n, cap;
	bool nomem;
};

enum { OPT_JSON = 256 };

static const struct option opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

/* store_readdir callback: runs with the store locked, so only copy. */
static int collect(void *arg, const struct store_node *n)
{
	struct list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct entry *v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->nomem = true;
			return 1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].n = *n;
	l->v[l->n].target = NULL;
	l->n++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return strcmp(x->n.name, y->n.name);
}

/* Read symlink targets, now that the store is not locked by readdir. */
static int read_targets(struct store *st, struct list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct entry *e = &l->v[i];
		size_t len = (size_t)e->n.size + 1;
		store_rc rc;

		if (!S_ISLNK(e->n.mode))
			continue;
		e->target = malloc(len);
		if (!e->target)
			return errorf("ls", "out of memory");
		rc = store_readlink(st, e->n.ino, e->target, len);
		if (rc != STORE_OK)
			return store_error("ls", rc);
	}
	return 0;
}

static void print_long(const struct entry *e, int wsize)
{
	char mode[12], when[32];

	printf("%s %5" PRIu32 " %5" PRIu32 " %*" PRIu64 " %s ",
	       mode_string(e->n.mode, mode, sizeof(mode)), e->n.uid, e->n.gid,
	       wsize, e->n.size, time_local(e->n.mtime_ns, when, sizeof(when)));
	name_out(stdout, e->n.name);
	if (e->target) {
		fputs(" -> ", stdout);
		name_out(stdout, e->target);
	}
	putchar('\n');
}

static void print_json_entry(const struct entry *e)
{
	char when[48];

	printf("{\"name\": ");
	json_str(stdout, e->n.name);
	printf(", \"kind\": \"%s\", \"ino\": %" PRIu64 ", \"mode\": \"%04o\", "
	       "\"uid\": %" PRIu32 ", \"gid\": %" PRIu32 ", \"size\": %" PRIu64
	       ", \"mtime\": \"%s\", \"mtime_ns\": %" PRId64,
	       mode_kind(e->n.mode), e->n.ino, (unsigned)(e->n.mode & 07777),
	       e->n.uid, e->n.gid, e->n.size,
	       time_utc(e->n.mtime_ns, when, sizeof(when)), e->n.mtime_ns);
	if (S_ISREG(e->n.mode)) {
		printf(", \"key\": ");
		json_str(stdout, e->n.key);
		printf(", \"type\": ");
		json_str(stdout, e->n.type);
	}
	if (e->target) {
		printf(", \"target\": ");
		json_str(stdout, e->target);
	}
	putchar('}');
}

static void print_list(const struct list *l, const char *path, bool lng,
		       bool json)
{
	int wsize = 1;

	if (json) {
		printf("{\"path\": ");
		json_str(stdout, path);
		printf(", \"entries\": [");
		for (size_t i = 0; i < l->n; i++) {
			printf(i ? ",\n  " : "\n  ");
			print_json_entry(&l->v[i]);
		}
		printf("%s]}\n", l->n ? "\n" : "");
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		char num[24];
		int w = snprintf(num, sizeof(num), "%" PRIu64, l->v[i].n.size);

		if (w > wsize)
			wsize = w;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (lng)
			print_long(&l->v[i], wsize);
		else {
			name_out(stdout, l->v[i].n.name);
			putchar('\n');
		}
	}
}

int cmd_ls(int argc, char **argv)
{
	struct list l = { 0 };
	struct store *st = NULL;
	struct store_node n;
	char path[SPATH_MAX];
	bool lng = false, json = false;
	store_rc rc;
	int ret = EXIT_OK;
	int c;

	while ((c = getopt_cmd(argc, argv, "l", opts)) != -1) {
		switch (c) {
		case 'l':
			lng = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind < 1)
		return usage_errorf("ls", "missing STORE");
	if (argc - optind > 2)
		return usage_errorf("ls", "too many arguments");
	if (spath_norm("ls", argc - optind == 2 ? argv[optind + 1] : "/",
		       path, sizeof(path)) < 0)
		return EXIT_ERR;
	if (open_store("ls", argv[optind], STORE_OPEN_RDONLY, &st) < 0)
		return EXIT_ERR;
	rc = store_walk(st, path, &n);
	if (rc != STORE_OK) {
		ret = store_error("ls", rc);
		goto out;
	}
	if (S_ISDIR(n.mode)) {
		rc = store_readdir(st, n.ino, 0, collect, &l);
		if (rc != STORE_OK) {
			ret = store_error("ls", rc);
			goto out;
		}
		if (l.nomem) {
			ret = errorf("ls", "out of memory");
			goto out;
		}
		if (l.n > 1)
			qsort(l.v, l.n, sizeof(*l.v), by_name);
	} else if (collect(&l, &n) != 0) {
		ret = errorf("ls", "out of memory");
		goto out;
	}
	ret = read_targets(st, &l);
	if (ret != 0)
		goto out;
	print_list(&l, path, lng, json);
out:
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].target);
	free(l.v);
	store_close(st);
	return ret;
}
