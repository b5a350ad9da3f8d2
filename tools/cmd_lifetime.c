/* SPDX-License-Identifier: MIT */
/*
 * cmd_lifetime.c - "pxfs lifetime end|extend|ls": manage lifetimes, the
 * named groups of entries that end together (ProxyStore's lifetimes and
 * leases).  Entries join a lifetime with "pxfs put --lifetime NAME"; a
 * lifetime made with --lease ends by itself at its time, which the next
 * command that changes the store (or a mount) acts on.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

enum { OPT_JSON = 256 };

static const struct option opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

/* One row of "lifetime ls". */
struct lt_row {
	char *name;		/* owned */
	uint64_t entries;
	int64_t expires_ns;	/* 0: never */
};

struct lt_list {
	struct lt_row *v;
	size_t n, cap;
	bool nomem;
};

static int collect(void *arg, const char *name, uint64_t entries,
		   int64_t expires_ns)
{
	struct lt_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct lt_row *v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->nomem = true;
			return 1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].name = strdup(name);
	if (!l->v[l->n].name) {
		l->nomem = true;
		return 1;
	}
	l->v[l->n].entries = entries;
	l->v[l->n].expires_ns = expires_ns;
	l->n++;
	return 0;
}

static void lt_list_release(struct lt_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
}

/* All lifetimes of @st, by name, into @l; EXIT_ERR after the message. */
static int list_all(struct store *st, struct lt_list *l)
{
	store_rc rc = store_lifetime_list(st, collect, l);

	if (rc != STORE_OK)
		return store_error("lifetime", rc);
	if (l->nomem)
		return errorf("lifetime", "out of memory");
	return 0;
}

/* "never", or the end to the second (--json has the nanoseconds). */
static const char *expiry(int64_t ns, char *buf, size_t len)
{
	if (ns == 0) {
		snprintf(buf, len, "never");
		return buf;
	}
	return time_utc(ns - ns % 1000000000, buf, len);
}

static int lt_end(struct store *st, const char *name, bool json)
{
	struct store_metrics m0, m1;
	uint64_t removed = 0;
	store_rc rc;

	store_metrics_get(st, &m0);
	rc = store_lifetime_end(st, name, &removed);
	if (rc == STORE_NOTFOUND)
		return errorf("lifetime", "cannot end lifetime '%s': no such "
			      "lifetime", name);
	if (rc != STORE_OK)
		return store_error("lifetime", rc);
	store_metrics_get(st, &m1);
	if (json) {
		printf("{\"lifetime\": ");
		json_str(stdout, name);
		printf(", \"removed\": %" PRIu64 ", \"evicted\": %" PRIu64
		       "}\n", removed, m1.conn_evicts - m0.conn_evicts);
	} else if (verbosity() > VERBOSITY_QUIET) {
		printf("ended lifetime '%s': removed %" PRIu64 " entr%s, "
		       "evicted %" PRIu64 " object%s\n", name, removed,
		       removed == 1 ? "y" : "ies",
		       m1.conn_evicts - m0.conn_evicts,
		       m1.conn_evicts - m0.conn_evicts == 1 ? "" : "s");
	}
	/* Now that the asked one is done, the leases whose time came. */
	rc = store_lifetime_expire(st, NULL);
	if (rc != STORE_OK)
		return store_error("lifetime", rc);
	return 0;
}

static int lt_extend(struct store *st, const char *name, uint32_t seconds,
		     bool json)
{
	struct lt_list l = { 0 };
	char buf[48];
	store_rc rc;
	int ret;

	rc = store_lifetime_extend(st, name, seconds);
	if (rc == STORE_NOTFOUND)
		return errorf("lifetime", "cannot extend lifetime '%s': no "
			      "such lifetime (a lease that has ended is "
			      "gone)", name);
	if (rc != STORE_OK)
		return store_error("lifetime", rc);
	ret = list_all(st, &l);
	for (size_t i = 0; ret == 0 && i < l.n; i++) {
		if (strcmp(l.v[i].name, name) != 0)
			continue;
		if (json) {
			printf("{\"lifetime\": ");
			json_str(stdout, name);
			printf(", \"expires\": ");
			if (l.v[i].expires_ns)
				json_str(stdout, expiry(l.v[i].expires_ns, buf,
							sizeof(buf)));
			else
				printf("null");
			printf(", \"expires_ns\": %" PRId64 "}\n",
			       l.v[i].expires_ns);
		} else if (verbosity() > VERBOSITY_QUIET) {
			printf("lifetime '%s' ends at %s\n", name,
			       expiry(l.v[i].expires_ns, buf, sizeof(buf)));
		}
	}
	lt_list_release(&l);
	return ret;
}

static int lt_ls(struct store *st, bool json)
{
	struct lt_list l = { 0 };
	size_t width = strlen("LIFETIME");
	char buf[48];
	int ret;

	ret = list_all(st, &l);
	if (ret != 0)
		goto out;
	if (json) {
		printf("{\"lifetimes\": [");
		for (size_t i = 0; i < l.n; i++) {
			printf("%s\n  {\"name\": ", i ? "," : "");
			json_str(stdout, l.v[i].name);
			printf(", \"entries\": %" PRIu64 ", \"expires\": ",
			       l.v[i].entries);
			if (l.v[i].expires_ns)
				json_str(stdout, expiry(l.v[i].expires_ns,
							buf, sizeof(buf)));
			else
				printf("null");
			printf(", \"expires_ns\": %" PRId64 "}",
			       l.v[i].expires_ns);
		}
		printf("%s]}\n", l.n ? "\n" : "");
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		if (strlen(l.v[i].name) > width)
			width = strlen(l.v[i].name);
	}
	if (l.n)
		printf("%-*s  %8s  %s\n", (int)width, "LIFETIME", "ENTRIES",
		       "EXPIRES");
	for (size_t i = 0; i < l.n; i++)
		printf("%-*s  %8" PRIu64 "  %s\n", (int)width, l.v[i].name,
		       l.v[i].entries,
		       expiry(l.v[i].expires_ns, buf, sizeof(buf)));
out:
	lt_list_release(&l);
	return ret;
}

int cmd_lifetime(int argc, char **argv)
{
	struct store *st = NULL;
	const char *sub;
	uint32_t seconds = 0;
	unsigned flags = 0;
	bool json = false;
	int nargs;
	int ret;
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
	if (optind >= argc)
		return usage_errorf("lifetime", "missing end, extend or ls");
	sub = argv[optind];
	nargs = argc - optind - 1;
	if (strcmp(sub, "end") == 0) {
		if (nargs != 2)
			return usage_errorf("lifetime", nargs < 2 ?
					    "end: missing STORE or NAME" :
					    "end: too many arguments");
		/* End the one asked for before any lease: ending it must
		 * not fail because its own lease ended it a moment ago. */
		flags = OPEN_KEEP_LEASES;
	} else if (strcmp(sub, "extend") == 0) {
		if (nargs != 3)
			return usage_errorf("lifetime", nargs < 3 ?
					    "extend: missing STORE, NAME or "
					    "SECONDS" :
					    "extend: too many arguments");
		if (opt_lease("lifetime", argv[optind + 3], &seconds) < 0)
			return EXIT_ERR;
	} else if (strcmp(sub, "ls") == 0) {
		if (nargs != 1)
			return usage_errorf("lifetime", nargs < 1 ?
					    "ls: missing STORE" :
					    "ls: too many arguments");
	} else {
		return usage_errorf("lifetime", "unknown subcommand '%s'",
				    sub);
	}
	if (nargs >= 2 && opt_lifetime("lifetime", argv[optind + 2]) < 0)
		return EXIT_ERR;
	if (open_store("lifetime", argv[optind + 1], flags, &st) < 0)
		return EXIT_ERR;
	if (strcmp(sub, "end") == 0)
		ret = lt_end(st, argv[optind + 2], json);
	else if (strcmp(sub, "extend") == 0)
		ret = lt_extend(st, argv[optind + 2], seconds, json);
	else
		ret = lt_ls(st, json);
	store_close(st);
	return ret;
}
