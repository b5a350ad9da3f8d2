/* SPDX-License-Identifier: MIT */
/*
 * fuzz_redis_url.c - Redis URLs through store_conn_redis_open() (the URL
 * parser of store/conn_redis.c: redis://HOST[:PORT][/DB] and
 * redis+cluster://H1:P1,H2:P2,..., IPv6 brackets, ports, databases).
 * A URL comes from a config file, a pxfs:// reference or a command line.
 *
 * Every host name resolves to the fake server of fuzzlib_redis.c, which
 * answers PING, AUTH, SELECT and CLUSTER SLOTS, so a URL that parses is
 * also connected to: nothing leaves the machine, nothing is looked up.
 * A URL the connector accepts must also survive the store's config file,
 * where store_create() writes it and store_open() reads it back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "store_int.h"

#include "fuzzlib.h"

#define URL_MAX	4096

static const char *const seeds[][2] = {
	{ "plain", "redis://127.0.0.1:6379" },
	{ "host", "redis://redis.example.org" },
	{ "db", "redis://localhost:6380/15" },
	{ "db-empty", "redis://h/" },
	{ "ipv6", "redis://[::1]:7000/2" },
	{ "cluster", "redis+cluster://a:7000,b.example:7001,[fe80::1]:7002" },
	{ "cluster-one", "redis+cluster://node-1_x:1" },
	{ "userinfo", "redis://user:pw@h:1" },
	{ "tls", "rediss://h:6379" },
	{ "port-zero", "redis://h:0" },
	{ "query", "redis://h:1/0?timeout=1" },
	{ "cluster-long",
	  "redis+cluster://redis-node-01.cluster.example.org:7001,"
	  "redis-node-02.cluster.example.org:7002,"
	  "redis-node-03.cluster.example.org:7003,"
	  "redis-node-04.cluster.example.org:7004,"
	  "redis-node-05.cluster.example.org:7005,"
	  "redis-node-06.cluster.example.org:7006,"
	  "redis-node-07.cluster.example.org:7007,"
	  "redis-node-08.cluster.example.org:7008,"
	  "redis-node-09.cluster.example.org:7009,"
	  "redis-node-10.cluster.example.org:7010,"
	  "redis-node-11.cluster.example.org:7011,"
	  "redis-node-12.cluster.example.org:7012" },
};

/* A URL the connector took must come back from the config unchanged. */
static void check_config(const char *url)
{
	static char text[16384];
	struct store_config_file c, back;
	size_t n;

	memset(&c, 0, sizeof(c));
	c.format = 1;
	memcpy(c.id, "0123456789abcdef0123456789abcdef", 33);
	snprintf(c.connector, sizeof(c.connector), "redis");
	c.chunk_size = STORE_CHUNK_DEFAULT;
	c.level = STORE_LEVEL_DEFAULT;
	if (strlen(url) >= sizeof(c.redis_url))
		return;	/* store_create() refuses it first */
	snprintf(c.redis_url, sizeof(c.redis_url), "%s", url);
	n = store_config_format(&c, text, sizeof(text));
	if (n == 0)
		fz_die("a config with url '%s' does not format", url);
	if (store_config_parse(text, n, "fuzz", &back) != STORE_OK)
		fz_die("a config with url '%s' does not read back: %s", url,
		       store_last_error());
	if (strcmp(back.redis_url, url))
		fz_die("url '%s' reads back as '%s'", url, back.redis_url);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char name[64];

	(void)argc;
	(void)argv;
	fz_quiet();
	if (fz_seeding()) {
		for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
			snprintf(name, sizeof(name), "%s.url", seeds[i][0]);
			fz_seed(name, seeds[i][1], strlen(seeds[i][1]));
		}
		exit(0);
	}
	fz_redis_start();
	fz_redis_auto();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_redis_opts o = { 0 };
	struct store_conn *c;
	char *url;

	if (size > URL_MAX || memchr(data, '\0', size))
		return -1;
	url = malloc(size + 1);
	if (!url)
		fz_die("out of memory");
	memcpy(url, data, size);
	url[size] = '\0';
	o.url = url;
	o.prefix = "fz:";
	o.connect_timeout_ms = 1000;
	o.command_timeout_ms = 1000;
	o.pool_size = 1;
	if (store_conn_redis_open(&o, &c) == STORE_OK) {
		/* opening does not connect: check() does */
		c->ops->check(c);
		c->ops->close(c);
		check_config(url);
	}
	free(url);
	return 0;
}
