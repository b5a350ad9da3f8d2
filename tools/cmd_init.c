/* SPDX-License-Identifier: MIT */
/*
 * cmd_init.c - "pxfs init STORE": create a new store.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

enum {
	OPT_CHUNK = 256, OPT_LEVEL, OPT_CONNECTOR, OPT_URL, OPT_PREFIX,
	OPT_PWFILE, OPT_CONNECT_TIMEOUT, OPT_COMMAND_TIMEOUT, OPT_JSON,
	OPT_PASSWORD,
};

static const struct option opts[] = {
	{ "chunk-size", required_argument, NULL, OPT_CHUNK },
	{ "level", required_argument, NULL, OPT_LEVEL },
	{ "connector", required_argument, NULL, OPT_CONNECTOR },
	{ "url", required_argument, NULL, OPT_URL },
	{ "prefix", required_argument, NULL, OPT_PREFIX },
	{ "password-file", required_argument, NULL, OPT_PWFILE },
	/* an exact name, so that getopt does not take "--password SECRET"
	 * for an abbreviation of --password-file and quote the secret */
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "command-timeout", required_argument, NULL, OPT_COMMAND_TIMEOUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

/* A timeout in milliseconds, 1 ms to 1 hour. */
static int opt_ms(const char *s, const char *what, uint32_t *out)
{
	long v;

	if (parse_int(s, 1, 3600000, &v) < 0) {
		errorf("init", "invalid %s '%s': milliseconds from 1 to "
		       "3600000", what, s);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

int cmd_init(int argc, char **argv)
{
	struct store_create_opts o = { .connector = "file" };
	struct store *st = NULL;
	const char *path;
	bool json = false;
	store_rc rc;
	int c;

	while ((c = getopt_cmd(argc, argv, "", opts)) != -1) {
		switch (c) {
		case OPT_CHUNK:
			if (opt_chunk_size("init", optarg, &o.chunk_size) < 0)
				return EXIT_ERR;
			break;
		case OPT_LEVEL:
			if (opt_level("init", optarg, &o.level) < 0)
				return EXIT_ERR;
			break;
		case OPT_CONNECTOR:
			if (strcmp(optarg, "file") && strcmp(optarg, "redis"))
				return usage_errorf("init", "unknown connector"
						    " '%s' (file or redis)",
						    optarg);
			o.connector = optarg;
			break;
		case OPT_URL:
			o.url = optarg;
			break;
		case OPT_PREFIX:
			o.prefix = optarg;
			break;
		case OPT_PWFILE:
			o.password_file = optarg;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (opt_ms(optarg, "connect timeout",
				   &o.connect_timeout_ms) < 0)
				return EXIT_ERR;
			break;
		case OPT_COMMAND_TIMEOUT:
			if (opt_ms(optarg, "command timeout",
				   &o.command_timeout_ms) < 0)
				return EXIT_ERR;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_PASSWORD:
			return usage_errorf("init", "a password is never taken"
					    " from the command line: use"
					    " $PXFS_REDIS_PASSWORD or"
					    " --password-file");
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return usage_errorf("init", argc - optind < 1 ?
				    "missing STORE" : "too many arguments");
	path = argv[optind];
	if (!strcmp(o.connector, "redis") && !o.url)
		return usage_errorf("init", "--connector redis needs --url");
	if (strcmp(o.connector, "redis") &&
	    (o.url || o.prefix || o.password_file || o.connect_timeout_ms ||
	     o.command_timeout_ms))
		return usage_errorf("init", "--url, --prefix, --password-file"
				    " and the timeouts need --connector redis");
	rc = store_create(path, &o);
	if (rc != STORE_OK)
		return store_error("init", rc);
	if (!json) {
		if (verbosity() > VERBOSITY_QUIET)
			printf("created store '%s'\n", path);
		return EXIT_OK;
	}
	if (open_store("init", path, STORE_OPEN_RDONLY, &st) < 0)
		return EXIT_ERR;
	printf("{\"store\": ");
	json_str(stdout, path);
	printf(", \"id\": \"%s\", \"connector\": ", store_id(st));
	json_str(stdout, store_connector_name(st));
	printf(", \"chunk_size\": %u, \"level\": %d}\n",
	       (unsigned)store_chunk_size(st), store_level(st));
	store_close(st);
	return EXIT_OK;
}
