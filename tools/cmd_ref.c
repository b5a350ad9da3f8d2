/* SPDX-License-Identifier: MIT */
/*
 * cmd_ref.c - "pxfs ref [--json] STORE PATH": print a pxfs:// reference to
 * the object of file PATH (connector, key, size and type: ProxyStore's "a
 * serialized proxy is its factory"), which "pxfs link" turns into an entry
 * of any store on the same connector.  Reads the index only.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

enum { OPT_JSON = 256 };

static const struct option opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

int cmd_ref(int argc, char **argv)
{
	static char text[STORE_REF_MAX];
	struct store *st = NULL;
	struct store_object o;
	struct store_node n;
	struct store_ref r;
	char path[SPATH_MAX];
	bool json = false;
	store_rc rc;
	int ret = EXIT_OK;
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
	if (argc - optind != 2)
		return usage_errorf("ref", argc - optind < 2 ?
				    "missing STORE or PATH" :
				    "too many arguments");
	if (spath_norm("ref", argv[optind + 1], path, sizeof(path)) < 0)
		return EXIT_ERR;
	if (open_store("ref", argv[optind], STORE_OPEN_RDONLY, &st) < 0)
		return EXIT_ERR;
	rc = store_walk(st, path, &n);
	if (rc != STORE_OK) {
		ret = store_error("ref", rc);
		goto out;
	}
	if (!S_ISREG(n.mode)) {
		ret = errorf("ref", "'%s' is a %s: a reference names the "
			     "object of one file", path, mode_kind(n.mode));
		goto out;
	}
	rc = store_object_info(st, n.key, &o);
	if (rc != STORE_OK) {
		ret = store_error("ref", rc);
		goto out;
	}
	if (o.pending) {
		ret = errorf("ref", "'%s' is a future that was not set yet",
			     path);
		goto out;
	}
	if (o.evicted) {
		ret = errorf("ref", "'%s' (key %s): the object was evicted "
			     "after its first read", path, n.key);
		goto out;
	}
	if (o.external) {
		/* its key is a random name for bytes still at the source:
		 * no other store could resolve a reference to it */
		ret = errorf("ref", "'%s' is a ProxyStore object (%s) not "
			     "read yet: its bytes are not in the connector; "
			     "read it once through a mount, then ref it",
			     path, o.source);
		goto out;
	}
	rc = store_ref_make(st, STORE_REF_OBJECT, n.key, &r);
	if (rc != STORE_OK) {
		ret = store_error("ref", rc);
		goto out;
	}
	/* the entry's type, which may differ from the detected one */
	snprintf(r.type, sizeof(r.type), "%s", n.type);
	rc = store_ref_format(&r, text, sizeof(text));
	if (rc != STORE_OK) {
		ret = store_error("ref", rc);
		goto out;
	}
	if (json) {
		printf("{\n  \"path\": ");
		json_str(stdout, path);
		printf(",\n  \"key\": ");
		json_str(stdout, n.key);
		printf(",\n  \"size\": %" PRIu64 ",\n  \"type\": ", n.size);
		json_str(stdout, n.type);
		printf(",\n  \"ref\": ");
		json_str(stdout, text);
		printf("\n}\n");
	} else {
		printf("%s\n", text);
	}
out:
	store_close(st);
	return ret;
}
