/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ref.c - pxfs:// references through store_ref_parse (store/ref.c).
 * A reference comes from another process, a job script or a user.
 *
 * Besides memory safety: what parses must be a valid reference, and
 * store_ref_format() must write it back (in STORE_REF_MAX bytes, as
 * store.h promises) as text that parses to the same reference and
 * formats to the same text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#include "fuzzlib.h"

#define K64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char *const seeds[][2] = {
	{ "file-snapshot",
	  "pxfs://file/snapshot/" K64 "?dir=/data/store/objects" },
	{ "file-tag", "pxfs://file/tag/nightly-2024.01_a?dir=/shared/blobs" },
	{ "file-object", "pxfs://file/object/" K64 "?dir=/x%20y/objects"
	  "&size=1048576&type=text%2Fplain%3B%20charset%3Dutf-8" },
	{ "redis-snapshot", "pxfs://redis/snapshot/" K64
	  "?url=redis%3A%2F%2F127.0.0.1%3A6379%2F2&prefix=pxfs%3A" },
	{ "redis-tag", "pxfs://redis/tag/latest?url=redis%2Bcluster%3A%2F%2F"
	  "a%3A7000%2Cb%3A7001&prefix=" },
	{ "redis-object", "pxfs://redis/object/" K64
	  "?url=redis://h:1&prefix=p+q&size=0&type=" },
	{ "bad-kind", "pxfs://file/blob/" K64 "?dir=/x" },
	{ "bad-percent", "pxfs://file/snapshot/" K64 "?dir=/x%2" },
};

static bool same(const struct store_ref *a, const struct store_ref *b)
{
	return a->kind == b->kind && !strcmp(a->connector, b->connector) &&
	       !strcmp(a->id, b->id) && !strcmp(a->dir, b->dir) &&
	       !strcmp(a->url, b->url) && !strcmp(a->prefix, b->prefix) &&
	       a->has_size == b->has_size && a->size == b->size &&
	       !strcmp(a->type, b->type);
}

static void check(const struct store_ref *r)
{
	if (r->kind < STORE_REF_SNAPSHOT || r->kind > STORE_REF_OBJECT)
		fz_die("kind %d accepted", (int)r->kind);
	if (!memchr(r->connector, '\0', sizeof(r->connector)) ||
	    !memchr(r->id, '\0', sizeof(r->id)) ||
	    !memchr(r->dir, '\0', sizeof(r->dir)) ||
	    !memchr(r->url, '\0', sizeof(r->url)) ||
	    !memchr(r->prefix, '\0', sizeof(r->prefix)) ||
	    !memchr(r->type, '\0', sizeof(r->type)))
		fz_die("an unterminated string was accepted");
	if (r->kind == STORE_REF_TAG ? !store_is_tag_name(r->id) :
				       !store_is_key(r->id))
		fz_die("id '%s' accepted", r->id);
	if (strcmp(r->connector, "file") && strcmp(r->connector, "redis"))
		fz_die("connector '%s' accepted", r->connector);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char name[64];

	(void)argc;
	(void)argv;
	fz_quiet();
	if (fz_seeding()) {
		for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
			snprintf(name, sizeof(name), "%s.ref", seeds[i][0]);
			fz_seed(name, seeds[i][1], strlen(seeds[i][1]));
		}
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char t1[STORE_REF_MAX], t2[STORE_REF_MAX];
	struct store_ref a, b;
	char *text;

	if (size > 2 * STORE_REF_MAX || memchr(data, '\0', size))
		return -1;
	text = malloc(size + 1);
	if (!text)
		fz_die("out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	if (store_ref_parse(text, &a) != STORE_OK) {
		free(text);
		return 0;
	}
	free(text);
	check(&a);
	if (store_ref_format(&a, t1, sizeof(t1)) != STORE_OK)
		fz_die("a reference that parsed does not format in %d bytes:"
		       " %s", STORE_REF_MAX, store_last_error());
	if (store_ref_parse(t1, &b) != STORE_OK)
		fz_die("a formatted reference does not parse: %s\n%s",
		       store_last_error(), t1);
	if (!same(&a, &b))
		fz_die("a reference changes when written and read back: %s",
		       t1);
	if (store_ref_format(&b, t2, sizeof(t2)) != STORE_OK ||
	    strcmp(t1, t2))
		fz_die("a reference formats two ways:\n%s\n%s", t1, t2);
	return 0;
}
