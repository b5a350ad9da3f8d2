/* SPDX-License-Identifier: MIT */
/*
 * fuzz_index.c - a malformed or hostile index.db.
 *
 * The input is written as STORE/index.db beside the valid config and
 * blobs of a store made once per process, and the store is opened over
 * it and read every way a mount or the CLI reads it (fz_store_exercise:
 * walk, readdir, getattr, lookup, readlink, object info, chunk reads,
 * export, fsck).  Any error is fine; a crash, a hang or a read out of
 * bounds is not.  The seeds are real indexes, so mutations land in real
 * SQLite pages: records whose values change under a still-valid b-tree
 * are how a hostile snapshot looks.  fuzz_index_sql reaches the same
 * code with SQL-level changes.
 */
#include <stdio.h>
#include <stdlib.h>

#include "store.h"

#include "fuzzlib.h"

static void make_seeds(void)
{
	struct store_create_opts o = { 0 };
	char dir[4200], db[4300];
	const void *p;
	size_t len;
	void *e;

	p = fz_store_base_index(&len);
	fz_seed("index-tree", p, len);
	/* a store just made: the root only, default chunk size */
	snprintf(dir, sizeof(dir), "%s/empty", fz_scratch());
	snprintf(db, sizeof(db), "%s/index.db", dir);
	if (store_create(dir, &o) != STORE_OK)
		fz_die("store_create: %s", store_last_error());
	e = fz_read_file(db, &len);
	fz_seed("index-empty", e, len);
	free(e);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	fz_store_base();
	if (fz_seeding()) {
		make_seeds();
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_store_set_index(data, size);
	fz_store_exercise();
	return 0;
}
