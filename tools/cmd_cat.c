/* SPDX-License-Identifier: MIT */
/*
 * cmd_cat.c - "pxfs cat STORE PATH...": write files' content to stdout.
 * The store checks every chunk before it writes it, so a corrupt or
 * missing blob stops the output without a wrong byte.  A pending future
 * is waited for; an evict-on-read object is evicted once it has been
 * written out whole.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

static const struct option no_opts[] = { { NULL, 0, NULL, 0 } };

/*
 * Finish the progress pipe.  When the reader of stdout went away, leave
 * as cat(1) does, by SIGPIPE and without a message, but with the progress
 * line erased.  Otherwise 0, or -1 with errno set.
 */
static int end_stream(struct store *st)
{
	if (progress_stream_end() == 0)
		return 0;
	if (errno == EPIPE) {
		progress_end();
		store_close(st);
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	return -1;
}

int cmd_cat(int argc, char **argv)
{
	struct store *st = NULL;
	char path[SPATH_MAX], h[32];
	struct store_node n;
	uint64_t total = 0;
	store_rc rc;
	int ret = EXIT_OK;
	int out = -1;

	if (getopt_cmd(argc, argv, "", no_opts) != -1)
		return EXIT_USAGE;
	if (argc - optind < 2)
		return usage_errorf("cat", argc - optind < 1 ?
				    "missing STORE" : "missing PATH");
	/* Check every path before writing anything. */
	for (int i = optind + 1; i < argc; i++) {
		if (spath_norm("cat", argv[i], path, sizeof(path)) < 0)
			return EXIT_ERR;
	}
	if (open_store("cat", argv[optind], STORE_OPEN_RDONLY, &st) < 0)
		return EXIT_ERR;
	/* the progress line's total, when stdout is not the terminal */
	for (int i = optind + 1; i < argc; i++) {
		spath_norm("cat", argv[i], path, sizeof(path));
		if (store_walk(st, path, &n) == STORE_OK && S_ISREG(n.mode))
			total += n.size;
	}
	if (!isatty(STDOUT_FILENO))
		progress_start("cat", total);
	out = progress_stream(STDOUT_FILENO);
	if (out < 0) {
		ret = errorf("cat", "cannot write to standard output: %s",
			     strerror(errno));
		goto out;
	}
	for (int i = optind + 1; i < argc; i++) {
		spath_norm("cat", argv[i], path, sizeof(path));
		rc = store_walk(st, path, &n);
		if (rc != STORE_OK) {
			ret = store_error("cat", rc);
			goto out;
		}
		if (!S_ISREG(n.mode)) {
			ret = errorf("cat", "cannot read '%s': %s", path,
				     S_ISDIR(n.mode) ? "is a directory" :
				     "is a symlink");
			goto out;
		}
		ret = wait_ready("cat", st, path, &n);
		if (ret != 0)
			goto out;
		fflush(stdout);
		rc = export_node(st, &n, out, path);
		if (rc != STORE_OK) {
			if (out != STDOUT_FILENO)
				end_stream(st);
			ret = store_error("cat", rc);
			goto out;
		}
		ret = evict_if_read_once("cat", st, n.key);
		if (ret != 0)
			goto out;
		infof("cat", "'%s': %s, key %s", path,
		      human_size(n.size, h, sizeof(h)), n.key);
	}
out:
	if (out >= 0 && out != STDOUT_FILENO && end_stream(st) < 0 &&
	    ret == EXIT_OK)
		ret = errorf("cat", "cannot write to standard output: %s",
			     strerror(errno));
	progress_end();
	store_close(st);
	return ret;
}
