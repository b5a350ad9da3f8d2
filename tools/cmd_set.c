/* SPDX-License-Identifier: MIT */
/*
 * cmd_set.c - "pxfs set STORE PATH FILE": fulfil future PATH with the
 * content of FILE (or of standard input for "-").  The content is ingested
 * and the future pointed at it in one batch, so readers blocked on the
 * future see either nothing or the whole object; anything that is not a
 * pending future is refused before the store is changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

enum { OPT_LEVEL = 256, OPT_CHUNK, OPT_JSON };

static const struct option opts[] = {
	{ "level", required_argument, NULL, OPT_LEVEL },
	{ "chunk-size", required_argument, NULL, OPT_CHUNK },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

/* Open FILE ("-": standard input) for reading; -1 after the message. */
static int open_source(const char *file)
{
	struct stat sb;
	int fd;

	if (strcmp(file, "-") == 0)
		fd = dup(STDIN_FILENO);
	else
		fd = open(file, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		errorf("set", "cannot read '%s': %s", file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0) {
		errorf("set", "cannot read '%s': %s", file, strerror(errno));
		close(fd);
		return -1;
	}
	if (S_ISDIR(sb.st_mode)) {
		errorf("set", "cannot read '%s': is a directory", file);
		close(fd);
		return -1;
	}
	return fd;
}

int cmd_set(int argc, char **argv)
{
	struct store_put_opts popts = { 0 };
	struct store *st = NULL;
	struct store_node n;
	char path[SPATH_MAX];
	const char *file, *label;
	char sz[32];
	bool json = false;
	store_rc rc;
	int ret = EXIT_OK;
	int fd = -1;
	int c;

	while ((c = getopt_cmd(argc, argv, "", opts)) != -1) {
		switch (c) {
		case OPT_LEVEL:
			if (opt_level("set", optarg, &popts.level) < 0)
				return EXIT_ERR;
			break;
		case OPT_CHUNK:
			if (opt_chunk_size("set", optarg,
					   &popts.chunk_size) < 0)
				return EXIT_ERR;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 3)
		return usage_errorf("set", argc - optind < 3 ?
				    "missing STORE, PATH or FILE" :
				    "too many arguments");
	if (spath_norm("set", argv[optind + 1], path, sizeof(path)) < 0)
		return EXIT_ERR;
	file = argv[optind + 2];
	label = strcmp(file, "-") == 0 ? "standard input" : file;
	fd = open_source(file);
	if (fd < 0)
		return EXIT_ERR;
	if (open_store("set", argv[optind], 0, &st) < 0) {
		ret = EXIT_ERR;
		goto out;
	}
	rc = store_walk(st, path, &n);
	if (rc != STORE_OK) {
		ret = store_error("set", rc);
		goto out;
	}
	if (S_ISDIR(n.mode)) {
		ret = errorf("set", "cannot set '%s': is a directory", path);
		goto out;
	}
	if (!S_ISREG(n.mode) || !(n.flags & STORE_NODE_PENDING)) {
		ret = errorf("set", "cannot set '%s': not a pending future "
			     "(it never was one, or it was set already)",
			     path);
		goto out;
	}
	rc = store_future_set(st, n.ino, fd, label, &popts, &n);
	if (rc == STORE_INVAL) {
		/* our check passed, so another producer came first */
		ret = errorf("set", "cannot set '%s': it was set meanwhile",
			     path);
		goto out;
	}
	if (rc != STORE_OK) {
		ret = store_error("set", rc);
		goto out;
	}
	if (json) {
		printf("{\"path\": ");
		json_str(stdout, path);
		printf(", \"key\": \"%s\", \"size\": %" PRIu64 "}\n", n.key,
		       n.size);
	} else if (verbosity() > VERBOSITY_QUIET) {
		printf("set %s: %" PRIu64 " bytes (%s)\n", path, n.size,
		       human_size(n.size, sz, sizeof(sz)));
	}
out:
	if (fd >= 0)
		close(fd);
	store_close(st);
	return ret;
}
