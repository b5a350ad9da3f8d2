/* SPDX-License-Identifier: MIT */
/*
 * cmd_publish.c - "pxfs publish [--json] STORE [--tag NAME]": write a
 * snapshot of the store's namespace as an object in its connector and
 * print the pxfs:// references that reach it from any node: the snapshot
 * itself and, with --tag, the tag that now points at it.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

enum { OPT_JSON = 256, OPT_TAG };

static const struct option opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "tag", required_argument, NULL, OPT_TAG },
	{ NULL, 0, NULL, 0 },
};

/* Format a reference of @kind to @id through @st's connector into @buf. */
static int make_ref(struct store *st, enum store_ref_kind kind,
		    const char *id, char *buf, size_t cap)
{
	struct store_ref r;
	store_rc rc;

	rc = store_ref_make(st, kind, id, &r);
	if (rc == STORE_OK)
		rc = store_ref_format(&r, buf, cap);
	if (rc != STORE_OK)
		return store_error("publish", rc);
	return 0;
}

int cmd_publish(int argc, char **argv)
{
	static char snap[STORE_REF_MAX], tagref[STORE_REF_MAX];
	static char verb[] = "publish";	/* the progress line's */
	char key[STORE_KEY_HEX + 1];
	struct store_object obj;
	struct store *st = NULL;
	const char *tag = NULL;
	bool json = false;
	store_rc rc;
	int ret = EXIT_OK;
	int c;

	while ((c = getopt_cmd(argc, argv, "", opts)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_TAG:
			tag = optarg;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return usage_errorf("publish", argc - optind < 1 ?
				    "missing STORE" : "too many arguments");
	/* checked before anything is written */
	if (tag && !store_is_tag_name(tag))
		return errorf("publish", "invalid tag '%s': 1 to 64 of A-Z "
			      "a-z 0-9 . _ -, not starting with '.'", tag);
	if (open_store("publish", argv[optind], 0, &st) < 0)
		return EXIT_ERR;
	/* the line shows the snapshot as the store stores it */
	store_set_progress(st, progress_store, verb);
	rc = store_publish(st, tag, key);
	progress_end();
	if (rc != STORE_OK) {
		ret = store_error("publish", rc);
		goto out;
	}
	if (verbosity() >= VERBOSITY_VERBOSE &&
	    store_object_info(st, key, &obj) == STORE_OK) {
		char a[32], b[32];

		infof("publish", "snapshot %s: %s, %s stored", key,
		      human_size(obj.size, a, sizeof(a)),
		      human_size(obj.stored_size, b, sizeof(b)));
	}
	if (make_ref(st, STORE_REF_SNAPSHOT, key, snap, sizeof(snap)) < 0 ||
	    (tag && make_ref(st, STORE_REF_TAG, tag, tagref,
			     sizeof(tagref)) < 0)) {
		ret = EXIT_ERR;
		goto out;
	}
	if (json) {
		printf("{\n  \"store\": ");
		json_str(stdout, argv[optind]);
		printf(",\n  \"key\": ");
		json_str(stdout, key);
		printf(",\n  \"snapshot\": ");
		json_str(stdout, snap);
		printf(",\n  \"tag\": ");
		if (tag)
			json_str(stdout, tag);
		else
			printf("null");
		printf(",\n  \"tag_ref\": ");
		if (tag)
			json_str(stdout, tagref);
		else
			printf("null");
		printf("\n}\n");
	} else {
		printf("%s\n", snap);
		if (tag)
			printf("%s\n", tagref);
	}
out:
	store_close(st);
	return ret;
}
