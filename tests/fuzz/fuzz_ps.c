/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ps.c - ProxyStore locations through store_ps_parse (store/
 * external.c): "file:DIR" or "redis://HOST[:PORT][/DB]", from a command
 * line or a job script.
 *
 * Besides memory safety: a location that parses must be written back by
 * store_ps_format() as text that parses to the same location (the index
 * keeps external objects' sources in that form).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#include "fuzzlib.h"

#define SPEC_MAX	4096

static const char *const seeds[][2] = {
	{ "file-tmp", "file:/tmp" },
	{ "file-dots", "file:/tmp/../tmp/./" },
	{ "file-root", "file:/" },
	{ "file-missing", "file:/nonexistent/ps" },
	{ "redis", "redis://localhost" },
	{ "redis-port-db", "redis://127.0.0.1:6380/3" },
	{ "redis-db-slash", "redis://h:1/15/" },
	{ "redis-ipv6", "redis://[::1]:7000/2" },
	{ "redis-userinfo", "redis://u:p@h:1" },
	{ "redis-bad-port", "redis://h:65536" },
};

static void check(const struct store_ps *ps)
{
	if (ps->kind == STORE_PS_FILE) {
		if (!memchr(ps->dir, '\0', sizeof(ps->dir)) ||
		    ps->dir[0] != '/')
			fz_die("directory '%.64s' accepted", ps->dir);
	} else if (ps->kind == STORE_PS_REDIS) {
		if (!memchr(ps->host, '\0', sizeof(ps->host)) ||
		    !ps->host[0] || ps->port < 1 || ps->port > 65535)
			fz_die("redis %.64s:%u accepted", ps->host, ps->port);
	} else {
		fz_die("kind %d accepted", (int)ps->kind);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char name[64];

	(void)argc;
	(void)argv;
	fz_quiet();
	if (fz_seeding()) {
		for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
			snprintf(name, sizeof(name), "%s.ps", seeds[i][0]);
			fz_seed(name, seeds[i][1], strlen(seeds[i][1]));
		}
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[2 * SPEC_MAX];
	struct store_ps a, b;
	char *spec;

	if (size > SPEC_MAX || memchr(data, '\0', size))
		return -1;
	spec = malloc(size + 1);
	if (!spec)
		fz_die("out of memory");
	memcpy(spec, data, size);
	spec[size] = '\0';
	if (store_ps_parse(spec, &a) != STORE_OK) {
		free(spec);
		return 0;
	}
	free(spec);
	check(&a);
	store_ps_format(&a, text, sizeof(text));
	if (store_ps_parse(text, &b) != STORE_OK)
		fz_die("location written as '%s' does not parse: %s", text,
		       store_last_error());
	if (a.kind != b.kind || strcmp(a.dir, b.dir) ||
	    strcmp(a.host, b.host) || a.port != b.port || a.db != b.db)
		fz_die("location '%s' reads back differently", text);
	return 0;
}
