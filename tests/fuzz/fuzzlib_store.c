/* SPDX-License-Identifier: MIT */
/*
 * fuzzlib_store.c - a real store to fuzz against (see fuzzlib.h): made
 * once per process with the public API, then reopened over whatever
 * index.db a target writes beside its config and blobs.
 *
 * fz_store_exercise() is every read a mount or the CLI does on an index
 * it did not write: walks, readdir over the whole tree, getattr, lookup,
 * readlink, object info, chunk reads, export, fsck (shallow and deep),
 * totals and lifetimes.  Everything is bounded by the harness (nodes
 * visited, directory depth) so that a hang is the store's, never ours.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

#include "fuzzlib.h"

#define MAX_DIRS	64	/* directories read per input */
#define MAX_NODES	256	/* nodes looked at per input */
#define MAX_CHUNKS	3	/* chunks read per object */
#define CHUNK_MAX	(1u << 20)	/* largest chunk buffer we give */

static char base[4096];		/* the store's directory */
static char base_index[4200];	/* its index.db */
static void *base_db;		/* bytes of the index as made */
static size_t base_db_len;
static int null_fd = -1;

static void join(char *out, size_t cap, const char *a, const char *b)
{
	if ((size_t)snprintf(out, cap, "%s/%s", a, b) >= cap)
		fz_die("path too long");
}

/* Ingest @len bytes of content through a pipe-free temp file. */
static void put_file(struct store *st, uint64_t parent, const char *name,
		     const void *content, size_t len, struct store_node *out)
{
	struct store_attr a = { S_IFREG | 0644, getuid(), getgid(), 0 };
	struct store_object o;
	char path[4200];
	int fd;

	join(path, sizeof(path), fz_scratch(), "content");
	fz_write_file(path, content, len);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fz_die("cannot open '%s'", path);
	if (store_ingest_fd(st, fd, name, NULL, &o) != STORE_OK ||
	    store_mkfile(st, parent, name, &a, o.key, NULL, 0, out) !=
	    STORE_OK)
		fz_die("cannot put '%s': %s", name, store_last_error());
	close(fd);
	unlink(path);
}

/* The tree every target starts from: files of 0, 1 and several chunks,
 * the same content twice, a directory chain, a symlink, a future, a
 * lifetime and an evict-on-read object. */
static void fill(struct store *st)
{
	struct store_attr da = { S_IFDIR | 0755, getuid(), getgid(), 0 };
	struct store_attr la = { S_IFLNK | 0777, getuid(), getgid(), 0 };
	struct store_attr fa = { S_IFREG | 0640, getuid(), getgid(), 0 };
	struct store_wait w = { 1000, 10, 100, 2.0 };
	struct store_node d, e, n;
	void *text = fz_make_content(10000, false, 1);
	void *noise = fz_make_content(5000, true, 2);

	if (store_begin(st) != STORE_OK)
		fz_die("store_begin: %s", store_last_error());
	put_file(st, STORE_ROOT_INO, "a.txt", text, 10000, &n);
	put_file(st, STORE_ROOT_INO, "empty", "", 0, &n);
	if (store_mkdir(st, STORE_ROOT_INO, "d", &da, 0, &d) != STORE_OK ||
	    store_mkdir(st, d.ino, "e", &da, 0, &e) != STORE_OK)
		fz_die("store_mkdir: %s", store_last_error());
	put_file(st, d.ino, "b.bin", noise, 5000, &n);
	if (store_set_evict_on_read(st, n.key) != STORE_OK)
		fz_die("store_set_evict_on_read: %s", store_last_error());
	put_file(st, e.ino, "dup", text, 10000, &n);
	if (store_symlink(st, STORE_ROOT_INO, "link", "d/e/dup", &la, 0,
			  &n) != STORE_OK ||
	    store_future(st, d.ino, "fut", &fa, &w, &n) != STORE_OK)
		fz_die("store_symlink/future: %s", store_last_error());
	if (store_lifetime_create(st, "job", 3600) != STORE_OK ||
	    store_set_lifetime(st, e.ino, "job") != STORE_OK)
		fz_die("lifetime: %s", store_last_error());
	if (store_commit(st) != STORE_OK)
		fz_die("store_commit: %s", store_last_error());
	free(text);
	free(noise);
}

const char *fz_store_base(void)
{
	struct store_create_opts o = { .chunk_size = 4096, .level = 3 };
	struct store *st;

	if (base[0])
		return base;
	/* a hostile row may name a Redis (an external object's source):
	 * every host is the fake server, so nothing leaves the machine */
	fz_redis_start();
	fz_redis_auto();
	join(base, sizeof(base), fz_scratch(), "store");
	join(base_index, sizeof(base_index), base, "index.db");
	if (store_create(base, &o) != STORE_OK ||
	    store_open(base, 0, &st) != STORE_OK)
		fz_die("cannot make a store: %s", store_last_error());
	fill(st);
	store_close(st);
	base_db = fz_read_file(base_index, &base_db_len);
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd < 0)
		fz_die("cannot open /dev/null");
	return base;
}

const char *fz_store_index_path(void)
{
	fz_store_base();
	return base_index;
}

const void *fz_store_base_index(size_t *len)
{
	fz_store_base();
	*len = base_db_len;
	return base_db;
}

void fz_store_set_index(const void *db, size_t len)
{
	char p[4300];

	fz_store_base();
	/* a WAL left by the last input would be replayed over this one */
	snprintf(p, sizeof(p), "%s-wal", base_index);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", base_index);
	unlink(p);
	fz_write_file(base_index, db, len);
}

/* Strings filled by the store end inside their arrays. */
static void check_node(const struct store_node *n)
{
	if (!memchr(n->name, '\0', sizeof(n->name)) ||
	    !memchr(n->key, '\0', sizeof(n->key)) ||
	    !memchr(n->type, '\0', sizeof(n->type)))
		fz_die("node %llu has an unterminated string",
		       (unsigned long long)n->ino);
}

struct walk {
	struct store_node *nodes;	/* MAX_NODES */
	size_t n;
	uint64_t dirs[MAX_DIRS];
	size_t ndirs;
};

static int collect(void *arg, const struct store_node *n)
{
	struct walk *w = arg;

	check_node(n);
	if (w->n >= MAX_NODES)
		return 1;
	w->nodes[w->n++] = *n;
	if (S_ISDIR(n->mode) && w->ndirs < MAX_DIRS)
		w->dirs[w->ndirs++] = n->ino;
	return 0;
}

static int count_one(void *arg, const struct store_node *n)
{
	(void)n;
	return ++*(unsigned *)arg >= 2;
}

static int lifetime_one(void *arg, const char *name, uint64_t entries,
			int64_t expires_ns)
{
	(void)entries;
	(void)expires_ns;
	if (!name)
		fz_die("a lifetime without a name");
	return ++*(unsigned *)arg >= 16;
}

static void say(void *arg, const char *line)
{
	(void)arg;
	if (!line)
		fz_die("fsck reported a NULL line");
}

static void object(struct store *st, const struct store_node *n)
{
	struct store_object o;
	size_t got, cap;
	uint8_t *buf;

	if (store_object_info(st, n->key, &o) != STORE_OK)
		return;
	if (!memchr(o.key, '\0', sizeof(o.key)) ||
	    !memchr(o.hash, '\0', sizeof(o.hash)) ||
	    !memchr(o.type, '\0', sizeof(o.type)))
		fz_die("object %s has an unterminated string", n->key);
	store_is_evict_on_read(st, n->key);
	/* a buffer of exactly the object's chunk size: ASan sees more */
	cap = o.chunk_size && o.chunk_size <= CHUNK_MAX ? o.chunk_size :
	      4096;
	buf = malloc(cap);
	if (!buf)
		fz_die("out of memory");
	for (uint32_t i = 0; i <= o.nchunks && i < MAX_CHUNKS; i++) {
		if (store_read_chunk(st, n->key, i, buf, cap, &got,
				     n->name) == STORE_OK && got > cap)
			fz_die("chunk %u of %s: %zu bytes in %zu", i, n->key,
			       got, cap);
	}
	free(buf);
	store_export_fd(st, n->key, null_fd, n->name);
}

void fz_store_exercise(void)
{
	static const char *const paths[] = {
		"", "/", "a.txt", "d/b.bin", "d/e/dup", "/d//e/", "link",
		"d/fut", "nope/x", "d/e/../x", "a.txt/x",
	};
	struct store_wait w = { 1, 1, 1, 1.0 };
	struct store_fsck_report rep;
	struct store_totals tot;
	struct store_metrics m;
	struct store_node n;
	struct walk wk;
	struct store *st;
	char target[4096];
	unsigned k;

	fz_store_base();
	if (store_open(base, 0, &st) != STORE_OK)
		return;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (store_walk(st, paths[i], &n) == STORE_OK)
			check_node(&n);

	memset(&wk, 0, sizeof(wk));
	wk.nodes = calloc(MAX_NODES, sizeof(*wk.nodes));
	if (!wk.nodes)
		fz_die("out of memory");
	wk.dirs[wk.ndirs++] = STORE_ROOT_INO;
	for (size_t d = 0; d < wk.ndirs && wk.n < MAX_NODES; d++)
		store_readdir(st, wk.dirs[d], 0, collect, &wk);
	k = 0;
	store_readdir(st, STORE_ROOT_INO, 2, count_one, &k);

	for (size_t i = 0; i < wk.n; i++) {
		const struct store_node *c = &wk.nodes[i];

		if (store_getattr(st, c->ino, &n) == STORE_OK)
			check_node(&n);
		if (store_lookup(st, c->parent, c->name, &n) == STORE_OK)
			check_node(&n);
		if (S_ISLNK(c->mode)) {
			if (store_readlink(st, c->ino, target,
					   sizeof(target)) == STORE_OK &&
			    !memchr(target, '\0', sizeof(target)))
				fz_die("unterminated symlink target");
			store_readlink(st, c->ino, target, 4);
		}
		if (c->flags & STORE_NODE_PENDING)
			store_wait_node(st, c->ino, &w, c->name, &n);
		if (S_ISREG(c->mode) && c->key[0])
			object(st, c);
	}
	free(wk.nodes);

	store_fsck(st, false, say, NULL, &rep);
	store_fsck(st, true, say, NULL, &rep);
	store_totals(st, &tot);
	k = 0;
	store_lifetime_list(st, lifetime_one, &k);
	store_metrics_get(st, &m);
	store_close(st);
}
