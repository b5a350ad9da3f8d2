/* SPDX-License-Identifier: MIT */
/*
 * mkindex.c - make a store with a large namespace quickly, for the
 * metadata-at-scale benchmark: NDIRS directories d0000.. of NFILES files
 * f0000.. each, every file a proxy for one small object (the namespace is
 * what is measured, not the objects), through the store API in batches.
 *
 *	mkindex STORE NDIRS NFILES
 *
 * STORE must exist (pxfs init).  Prints the number of entries made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store.h"

#define BATCH	50000	/* entries per transaction */

static unsigned long arg(const char *s, const char *what)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v == 0 || v > 100000000) {
		fprintf(stderr, "mkindex: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static void die(const char *what)
{
	fprintf(stderr, "mkindex: %s: %s\n", what, store_last_error());
	exit(1);
}

int main(int argc, char **argv)
{
	struct store_attr da = { .mode = 040755 }, fa = { .mode = 0100644 };
	struct store_object obj;
	struct store_node dir;
	struct store *st = NULL;
	unsigned long ndirs, nfiles, d, f, n = 0;
	char name[32];
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: mkindex STORE NDIRS NFILES\n");
		return 2;
	}
	ndirs = arg(argv[2], "NDIRS");
	nfiles = arg(argv[3], "NFILES");
	if (store_open(argv[1], 0, &st) != STORE_OK)
		die("cannot open the store");
	da.uid = fa.uid = getuid();
	da.gid = fa.gid = getgid();
	fd = memfd_create("mkindex", 0);
	if (fd < 0 || write(fd, "mkindex\n", 8) != 8 ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		perror("mkindex: memfd");
		return 1;
	}
	if (store_begin(st) != STORE_OK ||
	    store_ingest_fd(st, fd, "seed", NULL, &obj) != STORE_OK)
		die("cannot store the seed object");
	close(fd);
	for (d = 0; d < ndirs; d++) {
		snprintf(name, sizeof(name), "d%04lu", d);
		if (store_mkdir(st, STORE_ROOT_INO, name, &da, 0, &dir) !=
		    STORE_OK)
			die("mkdir");
		for (f = 0; f < nfiles; f++) {
			snprintf(name, sizeof(name), "f%04lu", f);
			if (store_mkfile(st, dir.ino, name, &fa, obj.key, NULL,
					 0, NULL) != STORE_OK)
				die("mkfile");
			if (++n % BATCH == 0 &&
			    (store_commit(st) != STORE_OK ||
			     store_begin(st) != STORE_OK))
				die("commit");
		}
	}
	if (store_commit(st) != STORE_OK)
		die("commit");
	store_close(st);
	printf("%lu\n", n + ndirs);
	return 0;
}
