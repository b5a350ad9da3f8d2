/* SPDX-License-Identifier: MIT */
/*
 * cmd_future.c - "pxfs future STORE PATH": make file PATH a *future*, a
 * placeholder for content that a producer will set later ("pxfs set", or
 * a write through a mount).  Readers block on it, polling as the options
 * say (ProxyStore's Store.future), and the policy is recorded with the
 * future so that every reader, in any process, waits the same way.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

enum {
	OPT_TIMEOUT = 256, OPT_POLL, OPT_BACKOFF, OPT_POLL_MAX, OPT_MODE,
	OPT_JSON,
};

static const struct option opts[] = {
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "poll", required_argument, NULL, OPT_POLL },
	{ "backoff", required_argument, NULL, OPT_BACKOFF },
	{ "poll-max", required_argument, NULL, OPT_POLL_MAX },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

/*
 * A plain decimal number ("1", "2.5"): strtod alone would also take
 * " 1", "+1", "0x10", "1e3", "inf" and "nan".
 */
static int parse_decimal(const char *s, double *out)
{
	char *end;
	double v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	if (strspn(s, "0123456789.") != strlen(s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* --timeout S: seconds (fractions allowed), at least 1 ms, fits in ms. */
static int opt_timeout(const char *s, uint32_t *ms)
{
	double v;

	if (parse_decimal(s, &v) < 0 || v * 1000.0 < 1.0 ||
	    v * 1000.0 > (double)UINT32_MAX - 1.0) {
		errorf("future", "invalid timeout '%s': must be a number of "
		       "seconds from 0.001 to %u", s, UINT32_MAX / 1000);
		return -1;
	}
	*ms = (uint32_t)(v * 1000.0 + 0.5);
	return 0;
}

/* --poll MS, --poll-max MS: whole milliseconds, at least 1. */
static int opt_ms(const char *name, const char *s, uint32_t *ms)
{
	long v;

	if (parse_int(s, 1, (long)UINT32_MAX, &v) < 0) {
		errorf("future", "invalid %s '%s': must be whole "
		       "milliseconds from 1 to %u", name, s, UINT32_MAX);
		return -1;
	}
	*ms = (uint32_t)v;
	return 0;
}

/* --backoff F: the factor each poll interval grows by, 1 to 100. */
static int opt_backoff(const char *s, double *f)
{
	double v;

	if (parse_decimal(s, &v) < 0 || v < 1.0 || v > 100.0) {
		errorf("future", "invalid backoff '%s': must be a number "
		       "from 1 to 100", s);
		return -1;
	}
	*f = v;
	return 0;
}

/* --mode M: octal permission bits, as chmod takes them. */
static int opt_mode(const char *s, uint32_t *mode)
{
	unsigned long v;
	char *end;

	if (s[0] < '0' || s[0] > '7')
		goto bad;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno != 0 || *end != '\0' || v > 07777)
		goto bad;
	*mode = (uint32_t)v;
	return 0;
bad:
	errorf("future", "invalid mode '%s': must be octal permission bits "
	       "from 0 to 7777", s);
	return -1;
}

int cmd_future(int argc, char **argv)
{
	bool json = false;
	struct store_wait w = { 0, 0, 0, 0 };
	struct store_attr a = { 0 };
	struct store *st = NULL;
	const char *parent, *name;
	char path[SPATH_MAX], full[SPATH_MAX];
	struct store_node dir, n;
	bool have_mode = false;
	uint32_t mode = 0;
	mode_t mask;
	store_rc rc;
	int ret = EXIT_OK;
	int c;

	while ((c = getopt_cmd(argc, argv, "", opts)) != -1) {
		switch (c) {
		case OPT_TIMEOUT:
			if (opt_timeout(optarg, &w.timeout_ms) < 0)
				return EXIT_ERR;
			break;
		case OPT_POLL:
			if (opt_ms("poll interval", optarg, &w.poll_ms) < 0)
				return EXIT_ERR;
			break;
		case OPT_BACKOFF:
			if (opt_backoff(optarg, &w.backoff) < 0)
				return EXIT_ERR;
			break;
		case OPT_POLL_MAX:
			if (opt_ms("poll maximum", optarg,
				   &w.poll_max_ms) < 0)
				return EXIT_ERR;
			break;
		case OPT_MODE:
			if (opt_mode(optarg, &mode) < 0)
				return EXIT_ERR;
			have_mode = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return usage_errorf("future", argc - optind < 2 ?
				    "missing STORE or PATH" :
				    "too many arguments");
	if (w.poll_ms && w.poll_max_ms && w.poll_max_ms < w.poll_ms)
		return errorf("future", "invalid poll maximum %u ms: less "
			      "than the poll interval %u ms", w.poll_max_ms,
			      w.poll_ms);
	if (spath_norm("future", argv[optind + 1], path, sizeof(path)) < 0)
		return EXIT_ERR;
	snprintf(full, sizeof(full), "%s", path);
	if (spath_split("future", path, &parent, &name) < 0)
		return EXIT_ERR;
	mask = umask(0);
	umask(mask);
	a.mode = S_IFREG | (have_mode ? mode : (0666 & ~mask));
	a.uid = (uint32_t)getuid();
	a.gid = (uint32_t)getgid();
	if (open_store("future", argv[optind], 0, &st) < 0)
		return EXIT_ERR;
	rc = store_walk(st, parent, &dir);
	if (rc != STORE_OK) {
		ret = store_error("future", rc);
		goto out;
	}
	if (!S_ISDIR(dir.mode)) {
		ret = errorf("future", "cannot create '%s': '%s' is not a "
			     "directory", full, parent);
		goto out;
	}
	rc = store_lookup(st, dir.ino, name, &n);
	if (rc == STORE_OK) {
		ret = errorf("future", "cannot create '%s': it already "
			     "exists", full);
		goto out;
	}
	if (rc != STORE_NOTFOUND) {
		ret = store_error("future", rc);
		goto out;
	}
	rc = store_future(st, dir.ino, name, &a, &w, &n);
	if (rc != STORE_OK) {
		ret = store_error("future", rc);
		goto out;
	}
	if (json) {
		printf("{\"path\": ");
		json_str(stdout, full);
		printf(", \"key\": \"%s\", \"state\": \"pending\"}\n",
		       n.key);
	} else if (verbosity() > VERBOSITY_QUIET) {
		printf("future %s is pending\n", full);
	}
out:
	store_close(st);
	return ret;
}
