/* SPDX-License-Identifier: MIT */
/*
 * cmd_link.c - "pxfs link STORE KEY|REF PATH": make file PATH a proxy for
 * an object the store's connector already holds (ProxyStore's
 * proxy_from_key), named by its key or by a pxfs:// object reference from
 * "pxfs ref" in another store on the same connector.  The blob is
 * verified once, by store_adopt(), before the entry is made.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "proxystore.h"
#include "store.h"
#include "util.h"

enum { OPT_TYPE = 256, OPT_FORCE };

static const struct option opts[] = {
	{ "type", required_argument, NULL, OPT_TYPE },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ NULL, 0, NULL, 0 },
};

/* Link @key (from reference @ref, or NULL) as @path. */
static int link_key(struct store *st, const char *key,
		    const struct store_ref *ref, char *path, const char *type,
		    bool force)
{
	struct store_object obj;
	struct store_node dir;
	const char *name;
	store_rc rc;
	int ret;

	ret = link_slot(st, path, force, &dir, &name);
	if (ret != 0)
		return ret;
	rc = store_adopt(st, key, &obj);
	if (rc == STORE_NOTFOUND)
		return errorf("link", "unknown key '%s': the store's "
			      "connector has no such object", key);
	if (rc != STORE_OK)
		return store_error("link", rc);
	if (ref && ref->has_size && ref->size != obj.size)
		return errorf("link", "object '%s' has %llu bytes, not the "
			      "%llu its reference says", key,
			      (unsigned long long)obj.size,
			      (unsigned long long)ref->size);
	if (!type)
		type = ref && ref->type[0] ? ref->type : obj.type;
	return link_make(st, &dir, name, obj.key, type, force);
}

/* Parse @text, a reference that must name one object, into @r.  Returns
 * 0, or -1 after the message. */
static int parse_object_ref(const char *text, struct store_ref *r)
{
	store_rc rc;

	rc = store_ref_parse(text, r);
	if (rc != STORE_OK) {
		errorf("link", "'%s': %s", text, store_last_error());
		return -1;
	}
	if (r->kind != STORE_REF_OBJECT) {
		errorf("link", "reference '%s' names a %s, not an object: "
		       "mount it with 'pxfs mount'", text,
		       r->kind == STORE_REF_TAG ? "tag" : "snapshot");
		return -1;
	}
	return 0;
}

int cmd_link(int argc, char **argv)
{
	struct store_ref ref, *refp = NULL;
	struct store *st = NULL;
	const char *type = NULL;
	char path[SPATH_MAX];
	bool force = false;
	const char *key;
	store_rc rc;
	int ret;
	int c;

	if (proxystore_wanted(argc, argv))
		return proxystore_link(argc, argv);
	while ((c = getopt_cmd(argc, argv, "", opts)) != -1) {
		switch (c) {
		case OPT_TYPE:
			if (optarg[0] == '\0' ||
			    strlen(optarg) > STORE_TYPE_MAX)
				return errorf("link", "invalid type '%s': "
					      "must be 1 to %d bytes", optarg,
					      STORE_TYPE_MAX);
			type = optarg;
			break;
		case OPT_FORCE:
			force = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 3)
		return usage_errorf("link", argc - optind < 3 ?
				    "missing STORE, KEY or PATH" :
				    "too many arguments");
	key = argv[optind + 1];
	if (strncmp(key, "pxfs://", 7) == 0) {
		if (parse_object_ref(key, &ref) < 0)
			return EXIT_ERR;
		refp = &ref;
		key = ref.id;
	} else if (!store_is_key(key)) {
		return errorf("link", "invalid key '%s': a key is 64 "
			      "lowercase hex digits", key);
	}
	if (spath_norm("link", argv[optind + 2], path, sizeof(path)) < 0)
		return EXIT_ERR;
	if (open_store("link", argv[optind], 0, &st) < 0)
		return EXIT_ERR;
	if (refp && !store_ref_same_connector(st, refp)) {
		ret = errorf("link", "reference '%s' is for another "
			     "connector", argv[optind + 1]);
		goto out;
	}
	rc = store_begin(st);
	if (rc != STORE_OK) {
		ret = store_error("link", rc);
		goto out;
	}
	ret = link_key(st, key, refp, path, type, force);
	if (ret == 0) {
		rc = store_commit(st);
		if (rc != STORE_OK)
			ret = store_error("link", rc);
	}
	if (ret != 0) {
		store_rollback(st);
		ret = EXIT_ERR;
	}
out:
	store_close(st);
	return ret;
}
