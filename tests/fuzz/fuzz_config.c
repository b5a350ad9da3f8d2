/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c - the store's config file through store_config_parse
 * (store/config.c).  A config may have been edited by hand or by someone
 * else, so the parser is the first thing store_open() runs on bytes it
 * did not write.
 *
 * Besides memory safety: what parses must hold values in range, and must
 * survive store_config_format(): the formatted text parses again and
 * formats to the same text (a store must be able to reread a config it
 * wrote).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#include "fuzzlib.h"

#define CONFIG_MAX	8191	/* what store_open() reads */

static const char *const seeds[][2] = {
	{ "file",
	  "# pxfs store: see 'pxfs help init'\nformat = 1\n"
	  "id = 0123456789abcdef0123456789abcdef\nconnector = file\n"
	  "chunk_size = 1048576\nlevel = 3\nfile.dir = objects\n" },
	{ "file-minimal",
	  "format=1\nid=0123456789abcdef0123456789abcdef\nconnector=file" },
	{ "file-crlf",
	  "format = 1\r\nid = 0123456789abcdef0123456789abcdef\r\n"
	  "connector = file\r\nchunk_size = 4096\r\nlevel = 19\r\n"
	  "\t# comment\r\n\r\nfile.dir = a/b/c\r\n" },
	{ "file-absolute",
	  "format = 1\nid = 0123456789abcdef0123456789abcdef\n"
	  "connector = file\nchunk_size = 67108864\nlevel = 1\n"
	  "file.dir = /shared/blobs\n" },
	{ "redis",
	  "format = 1\nid = 00000000000000000000000000000000\n"
	  "connector = redis\nchunk_size = 1048576\nlevel = 3\n"
	  "redis.url = redis://127.0.0.1:6379/2\nredis.prefix = pxfs:\n"
	  "redis.password_file = /etc/pxfs/redis.pw\n"
	  "redis.connect_timeout_ms = 1000\n"
	  "redis.command_timeout_ms = 5000\n" },
	{ "redis-cluster",
	  "format = 1\nid = ffffffffffffffffffffffffffffffff\n"
	  "connector = redis\n"
	  "redis.url = redis+cluster://a:7000,b:7001,[::1]:7002\n"
	  "redis.prefix = \n" },
	{ "snapshot",
	  "format = 1\nid = 0123456789abcdef0123456789abcdef\n"
	  "connector = file\nfile.dir = /shared/blobs\nsnapshot = "
	  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	  "\n" },
	{ "bad-twice",
	  "format = 1\nformat = 1\nid = 0123456789abcdef0123456789abcdef\n"
	  "connector = file\n" },
	{ "bad-range",
	  "format = 1\nid = 0123456789abcdef0123456789abcdef\n"
	  "connector = file\nchunk_size = 4095\nlevel = 20\n" },
};

static bool is_terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

/* What a successful parse promises. */
static void check(const struct store_config_file *c)
{
	if (c->format != 1)
		fz_die("format %u accepted", c->format);
	if (strlen(c->id) != 32 || strspn(c->id, "0123456789abcdef") != 32)
		fz_die("id '%.40s' accepted", c->id);
	if (strcmp(c->connector, "file") && strcmp(c->connector, "redis"))
		fz_die("connector '%.16s' accepted", c->connector);
	if (c->chunk_size < STORE_CHUNK_MIN ||
	    c->chunk_size > STORE_CHUNK_MAX ||
	    (c->chunk_size & (c->chunk_size - 1)))
		fz_die("chunk size %u accepted", c->chunk_size);
	if (c->level < 1 || c->level > 19)
		fz_die("level %d accepted", c->level);
	if (!is_terminated(c->file_dir, sizeof(c->file_dir)) ||
	    !is_terminated(c->redis_url, sizeof(c->redis_url)) ||
	    !is_terminated(c->redis_prefix, sizeof(c->redis_prefix)) ||
	    !is_terminated(c->redis_password_file,
			   sizeof(c->redis_password_file)) ||
	    !is_terminated(c->snapshot, sizeof(c->snapshot)))
		fz_die("an unterminated string was accepted");
	if (!strcmp(c->connector, "redis") && !c->redis_url[0])
		fz_die("a redis config without a url was accepted");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char name[64];

	(void)argc;
	(void)argv;
	fz_quiet();
	if (fz_seeding()) {
		for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
			snprintf(name, sizeof(name), "%s.conf", seeds[i][0]);
			fz_seed(name, seeds[i][1], strlen(seeds[i][1]));
		}
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char t1[16384], t2[16384];
	struct store_config_file a, b;
	size_t n1, n2;

	if (size > CONFIG_MAX)
		return -1;
	if (store_config_parse((const char *)data, size, "fuzz", &a) !=
	    STORE_OK)
		return 0;
	check(&a);
	n1 = store_config_format(&a, t1, sizeof(t1));
	if (n1 == 0)
		fz_die("a config that parsed does not format");
	if (store_config_parse(t1, n1, "fuzz", &b) != STORE_OK)
		fz_die("a formatted config does not parse: %s\n%s",
		       store_last_error(), t1);
	check(&b);
	n2 = store_config_format(&b, t2, sizeof(t2));
	if (n1 != n2 || memcmp(t1, t2, n1))
		fz_die("a config changes when written and read back:\n%s\n"
		       "--\n%s", t1, t2);
	return 0;
}
