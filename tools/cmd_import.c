/* SPDX-License-Identifier: MIT */
/*
 * cmd_import.c - "pxfs import STORE --proxystore file:DIR [--to DIR]":
 * an entry for every object of a ProxyStore FileConnector directory that
 * has its .ready marker, named by its UUID, from headers and lengths
 * alone (see store/external.c).  One transaction: a bad object anywhere
 * (an unknown serializer id, a truncated header) changes nothing.
 * Objects still being written (no marker) and names already taken are
 * left alone, and counted.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxystore.h"
#include "store.h"
#include "util.h"

enum { OPT_TO = 256, OPT_PROXYSTORE, OPT_JSON };

static const struct option opts[] = {
	{ "to", required_argument, NULL, OPT_TO },
	{ "proxystore", required_argument, NULL, OPT_PROXYSTORE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

struct imported {
	char uuid[STORE_PS_UUID_LEN + 1];
	char key[STORE_KEY_HEX + 1];
	uint64_t size;
	char type[STORE_TYPE_MAX + 1];
};

struct import {
	struct store *st;
	const struct store_ps *ps;
	uint64_t dir;		/* where the entries go */
	struct store_attr a;
	struct imported *v;	/* made, in UUID order */
	size_t n, cap;
	uint64_t existing;	/* names already taken */
	uint64_t not_ready;	/* no .ready marker yet */
	uint64_t bytes;
	int ret;		/* EXIT_ERR once something failed */
};

static int import_one(void *arg, const char *uuid, bool ready)
{
	struct import *im = arg;
	struct store_object o;
	struct store_node n;
	store_rc rc;

	if (!ready) {
		im->not_ready++;
		return 0;
	}
	rc = store_lookup(im->st, im->dir, uuid, &n);
	if (rc == STORE_OK) {
		im->existing++;
		return 0;
	}
	if (rc != STORE_NOTFOUND)
		goto fail;
	if (im->n == im->cap) {
		size_t cap = im->cap ? im->cap * 2 : 64;
		void *p = realloc(im->v, cap * sizeof(*im->v));

		if (!p) {
			im->ret = errorf("import", "out of memory");
			return 1;
		}
		im->v = p;
		im->cap = cap;
	}
	rc = store_external_add(im->st, im->ps, uuid, &o);
	if (rc == STORE_OK)
		rc = store_mkfile(im->st, im->dir, uuid, &im->a, o.key, NULL,
				  0, NULL);
	if (rc != STORE_OK)
		goto fail;
	memcpy(im->v[im->n].uuid, uuid, sizeof(im->v[0].uuid));
	memcpy(im->v[im->n].key, o.key, sizeof(o.key));
	memcpy(im->v[im->n].type, o.type, sizeof(o.type));
	im->v[im->n].size = o.size;
	im->bytes += o.size;
	im->n++;
	return 0;
fail:
	im->ret = store_error("import", rc);
	return 1;
}

static void print_json(const char *store, const char *to,
		       const struct import *im)
{
	char path[SPATH_MAX];

	printf("{\n  \"store\": ");
	json_str(stdout, store);
	printf(",\n  \"to\": ");
	json_str(stdout, to);
	printf(",\n  \"imported\": [");
	for (size_t i = 0; i < im->n; i++) {
		spath_join(path, sizeof(path), to, im->v[i].uuid);
		printf("%s\n    {\"path\": ", i ? "," : "");
		json_str(stdout, path);
		printf(", \"uuid\": \"%s\", \"key\": \"%s\", \"size\": %"
		       PRIu64 ", \"type\": ", im->v[i].uuid, im->v[i].key,
		       im->v[i].size);
		json_str(stdout, im->v[i].type);
		putchar('}');
	}
	printf("%s],\n  \"bytes\": %" PRIu64 ",\n  \"existing\": %" PRIu64
	       ",\n  \"not_ready\": %" PRIu64 "\n}\n", im->n ? "\n  " : "",
	       im->bytes, im->existing, im->not_ready);
}

int cmd_import(int argc, char **argv)
{
	const char *spec = NULL, *to_arg = "/";
	struct import im;
	struct store_ps ps;
	char to[SPATH_MAX], h[32];
	bool json = false;
	mode_t mask;
	store_rc rc;
	int c;

	memset(&im, 0, sizeof(im));
	while ((c = getopt_cmd(argc, argv, "", opts)) != -1) {
		switch (c) {
		case OPT_TO:
			to_arg = optarg;
			break;
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
	if (argc - optind != 1)
		return usage_errorf("import", argc - optind < 1 ?
				    "missing STORE" : "too many arguments");
	if (!spec)
		return usage_errorf("import", "missing --proxystore file:DIR");
	if (strncmp(spec, "redis://", 8) == 0)
		return usage_errorf("import", "a Redis has no list of ready "
				    "objects: link its keys one by one with "
				    "'pxfs link STORE --proxystore %s UUID "
				    "PATH'", spec);
	if (proxystore_opt("import", spec, &ps) < 0)
		return EXIT_ERR;
	if (spath_norm("import", to_arg, to, sizeof(to)) < 0)
		return EXIT_ERR;
	if (open_store("import", argv[optind], 0, &im.st) < 0)
		return EXIT_ERR;
	im.ps = &ps;
	mask = umask(0);
	umask(mask);
	im.a.mode = S_IFREG | (0666 & ~mask);
	im.a.uid = (uint32_t)getuid();
	im.a.gid = (uint32_t)getgid();
	rc = store_begin(im.st);
	if (rc != STORE_OK) {
		im.ret = store_error("import", rc);
		goto out;
	}
	if (proxystore_mkdirs("import", im.st, to, &im.dir) < 0) {
		im.ret = EXIT_ERR;
	} else {
		rc = store_ps_list(&ps, import_one, &im);
		if (rc != STORE_OK && im.ret == 0)
			im.ret = store_error("import", rc);
	}
	if (im.ret == 0) {
		rc = store_commit(im.st);
		if (rc != STORE_OK)
			im.ret = store_error("import", rc);
	} else {
		store_rollback(im.st);
	}
	if (im.ret != 0)
		goto out;
	if (json) {
		print_json(store_path(im.st), to, &im);
	} else if (verbosity() > VERBOSITY_QUIET) {
		printf("imported %zu object%s (%s) into %s", im.n,
		       im.n == 1 ? "" : "s", human_size(im.bytes, h, sizeof(h)),
		       to);
		if (im.existing)
			printf(", %" PRIu64 " already there", im.existing);
		if (im.not_ready)
			printf(", %" PRIu64 " not ready", im.not_ready);
		putchar('\n');
	}
out:
	free(im.v);
	store_close(im.st);
	return im.ret ? EXIT_ERR : EXIT_OK;
}
