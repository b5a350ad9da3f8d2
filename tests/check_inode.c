/* SPDX-License-Identifier: MIT */
/*
 * check_inode.c - unit tests of fs/inode.c: the kernel's lookup counts and
 * the attribute cache beside them (rows by ino and by (parent, name), the
 * bound and CLOCK replacement, invalidation and its generation, interned
 * types), against a model of the index under random changes, from several
 * threads, and under allocation failures.
 */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"
#include "inode.h"

#include "failmalloc.h"

#define KEY_A "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define KEY_B "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static struct store_node mk(uint64_t ino, uint64_t parent, const char *name,
			    uint64_t size)
{
	struct store_node n;

	memset(&n, 0, sizeof(n));
	n.ino = ino;
	n.parent = parent;
	n.mode = S_IFREG | 0644;
	n.uid = 1000;
	n.gid = 100;
	n.size = size;
	n.mtime_ns = 1700000000123456789ll;
	n.ctime_ns = 1700000001000000001ll;
	n.flags = STORE_NODE_EVICT_READ;
	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.key, sizeof(n.key), "%s", KEY_A);
	snprintf(n.type, sizeof(n.type), "text/plain");
	return n;
}

static void same_node(const struct store_node *a, const struct store_node *b)
{
	ck_assert_uint_eq(a->ino, b->ino);
	ck_assert_uint_eq(a->parent, b->parent);
	ck_assert_uint_eq(a->mode, b->mode);
	ck_assert_uint_eq(a->uid, b->uid);
	ck_assert_uint_eq(a->gid, b->gid);
	ck_assert_uint_eq(a->size, b->size);
	ck_assert_int_eq(a->mtime_ns, b->mtime_ns);
	ck_assert_int_eq(a->ctime_ns, b->ctime_ns);
	ck_assert_uint_eq(a->flags, b->flags);
	ck_assert_str_eq(a->name, b->name);
	ck_assert_str_eq(a->key, b->key);
	ck_assert_str_eq(a->type, b->type);
}

static uint64_t entries(struct fs_inode_table *t)
{
	struct fs_inode_attr_stats s;

	fs_inode_attr_get_stats(t, &s);
	return s.entries;
}

/* ---- lifecycle and lookup counts ------------------------------------- */

START_TEST(test_inode_lifecycle)
{
	struct fs_inode_table *t = fs_inode_table_new();
	struct store_node n = mk(5, 1, "a", 1), out;

	fs_inode_table_free(NULL);
	ck_assert_ptr_nonnull(t);
	fs_inode_attr_put(t, &n, fs_inode_attr_gen(t));
	fs_inode_table_free(t);		/* with rows in it: no leak */

	/* no cache at all: everything misses, nothing fails */
	t = fs_inode_table_new_max(0);
	ck_assert_ptr_nonnull(t);
	fs_inode_attr_put(t, &n, fs_inode_attr_gen(t));
	ck_assert(!fs_inode_attr_get(t, 5, &out));
	ck_assert(!fs_inode_attr_lookup(t, 1, "a", &out));
	fs_inode_attr_inval(t, 5, 1, "a");
	fs_inode_attr_clear(t);
	fs_inode_table_free(t);
}
END_TEST

START_TEST(test_inode_counts)
{
	struct fs_inode_table *t = fs_inode_table_new();
	uint64_t *inos;
	size_t count;

	ck_assert_int_eq(fs_inode_ref(t, STORE_ROOT_INO), 0);
	ck_assert_uint_eq(fs_inode_count(t), 0);
	for (uint64_t i = 2; i < 5000; i++)
		ck_assert_int_eq(fs_inode_ref(t, i), 0);
	ck_assert_int_eq(fs_inode_ref(t, 7), 0);
	ck_assert_uint_eq(fs_inode_count(t), 4998);
	fs_inode_forget(t, 7, 1);
	ck_assert_uint_eq(fs_inode_count(t), 4998);
	fs_inode_forget(t, 7, 1);
	ck_assert_uint_eq(fs_inode_count(t), 4997);
	fs_inode_forget(t, 7, 1);	/* unknown: ignored */
	ck_assert_int_eq(fs_inode_snapshot(t, &inos, &count), 0);
	ck_assert_uint_eq(count, 4997);
	free(inos);
	for (uint64_t i = 2; i < 5000; i++)
		fs_inode_forget(t, i, 100);
	ck_assert_uint_eq(fs_inode_count(t), 0);
	fs_inode_table_free(t);
}
END_TEST

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Random lookups and forgets of inos small and too big to pack, against
 * a model: the shards grow, shrink and shift their runs back. */
START_TEST(test_inode_counts_model)
{
	enum { N = 30000 };
	struct fs_inode_table *t = fs_inode_table_new_max(0);
	uint32_t *want = calloc(N, sizeof(*want));
	uint64_t *inos, *model = calloc(N, sizeof(*model)), held = 0;
	unsigned r = 99;
	size_t count, k;

	ck_assert_ptr_nonnull(want);
	ck_assert_ptr_nonnull(model);
	for (unsigned step = 0; step < 400000; step++) {
		unsigned i = ((r = r * 1103515245u + 12345u) >> 8) % N;
		/* a few inos at and above 2^40 */
		uint64_t ino = i % 1000 == 7 ? (1ull << 40) + i : 2 + i;

		if (step < 200000 || (r >> 30) == 0) {
			ck_assert_int_eq(fs_inode_ref(t, ino), 0);
			held += want[i]++ == 0;
		} else if (want[i]) {
			uint32_t n = 1 + (r >> 20) % (want[i] + 1);

			fs_inode_forget(t, ino, n);
			want[i] = n >= want[i] ? 0 : want[i] - n;
			held -= want[i] == 0;
		}
		if (step % 50000 == 0)
			ck_assert_uint_eq(fs_inode_count(t), held);
	}
	ck_assert_uint_eq(fs_inode_count(t), held);
	ck_assert_int_eq(fs_inode_snapshot(t, &inos, &count), 0);
	ck_assert_uint_eq(count, held);
	for (k = 0, count = 0; k < N; k++)
		if (want[k])
			model[count++] = k % 1000 == 7 ? (1ull << 40) + k : 2 + k;
	qsort(inos, count, sizeof(*inos), cmp_u64);
	qsort(model, count, sizeof(*model), cmp_u64);
	ck_assert_mem_eq(inos, model, count * sizeof(*inos));
	free(inos);
	/* all forgotten: everything shrinks back */
	for (k = 0; k < N; k++)
		fs_inode_forget(t, k % 1000 == 7 ? (1ull << 40) + k : 2 + k,
				UINT32_MAX);
	ck_assert_uint_eq(fs_inode_count(t), 0);
	ck_assert(fs_inode_note_open(t, (1ull << 40) + 7, KEY_A));
	free(want);
	free(model);
	fs_inode_table_free(t);
}
END_TEST

START_TEST(test_inode_note_open)
{
	struct fs_inode_table *t = fs_inode_table_new();

	ck_assert_int_eq(fs_inode_ref(t, 9), 0);
	ck_assert(fs_inode_note_open(t, 9, KEY_A));	/* first */
	ck_assert(fs_inode_note_open(t, 9, KEY_A));	/* same object */
	ck_assert(!fs_inode_note_open(t, 9, KEY_B));	/* changed */
	ck_assert(fs_inode_note_open(t, 9, KEY_B));
	ck_assert(!fs_inode_note_open(t, 9, "nothex"));
	fs_inode_forget(t, 9, 1);
	/* forgotten, then held again: the old key went with it */
	ck_assert_int_eq(fs_inode_ref(t, 9), 0);
	ck_assert(fs_inode_note_open(t, 9, KEY_A));
	fs_inode_forget(t, 9, 1);
	ck_assert_int_eq(fs_inode_ref(t, 1ull << 41), 0);
	ck_assert(fs_inode_note_open(t, 1ull << 41, KEY_A));
	ck_assert(!fs_inode_note_open(t, 1ull << 41, KEY_B));
	fs_inode_table_free(t);
}
END_TEST

/* ---- the attribute cache ---------------------------------------------- */

START_TEST(test_attr_roundtrip)
{
	struct fs_inode_table *t = fs_inode_table_new_max(16);
	struct store_node f = mk(5, 2, "a", 42), out;
	struct store_node l = mk(6, 2, "", 7), d = mk(2, 1, "dir", 0);
	struct store_node root = mk(1, 0, "", 0);

	/* a name too long to live in the row, one exactly at the limit */
	memset(l.name, 'x', STORE_NAME_MAX);
	l.name[STORE_NAME_MAX] = '\0';
	d.mode = S_IFDIR | 0755;
	d.key[0] = d.type[0] = '\0';
	root.mode = S_IFDIR | 0755;
	root.key[0] = root.type[0] = '\0';
	fs_inode_attr_put(t, &f, fs_inode_attr_gen(t));
	fs_inode_attr_put(t, &l, fs_inode_attr_gen(t));
	fs_inode_attr_put(t, &d, fs_inode_attr_gen(t));
	fs_inode_attr_put(t, &root, fs_inode_attr_gen(t));
	ck_assert_uint_eq(entries(t), 4);

	memset(&out, 0x5a, sizeof(out));
	ck_assert(fs_inode_attr_get(t, 5, &out));
	same_node(&out, &f);
	ck_assert(fs_inode_attr_lookup(t, 2, "a", &out));
	same_node(&out, &f);
	ck_assert(fs_inode_attr_get(t, 6, &out));
	same_node(&out, &l);
	ck_assert(fs_inode_attr_lookup(t, 2, l.name, &out));
	same_node(&out, &l);
	ck_assert(fs_inode_attr_lookup(t, 1, "dir", &out));
	same_node(&out, &d);
	ck_assert(fs_inode_attr_get(t, 1, &out));
	same_node(&out, &root);

	/* no such names: a different parent, a prefix, the root's "" */
	ck_assert(!fs_inode_attr_lookup(t, 3, "a", &out));
	ck_assert(!fs_inode_attr_lookup(t, 2, "ab", &out));
	ck_assert(!fs_inode_attr_lookup(t, 0, "", &out));
	ck_assert(!fs_inode_attr_get(t, 99, &out));
	fs_inode_table_free(t);
}
END_TEST

START_TEST(test_attr_replace)
{
	struct fs_inode_table *t = fs_inode_table_new_max(16);
	struct store_node a = mk(5, 2, "a", 1), out;
	struct store_node b = mk(5, 3, "b", 2), c = mk(6, 3, "b", 3);

	/* renamed: the old name is gone with the old row */
	fs_inode_attr_put(t, &a, fs_inode_attr_gen(t));
	fs_inode_attr_put(t, &b, fs_inode_attr_gen(t));
	ck_assert(!fs_inode_attr_lookup(t, 2, "a", &out));
	ck_assert(fs_inode_attr_lookup(t, 3, "b", &out));
	ck_assert_uint_eq(out.size, 2);
	ck_assert_uint_eq(entries(t), 1);

	/* the name now belongs to another node: the first went */
	fs_inode_attr_put(t, &c, fs_inode_attr_gen(t));
	ck_assert(!fs_inode_attr_get(t, 5, &out));
	ck_assert(fs_inode_attr_lookup(t, 3, "b", &out));
	ck_assert_uint_eq(out.ino, 6);
	ck_assert_uint_eq(entries(t), 1);
	fs_inode_table_free(t);
}
END_TEST

START_TEST(test_attr_inval)
{
	struct fs_inode_table *t = fs_inode_table_new_max(16);
	struct store_node a = mk(5, 2, "a", 1), b = mk(6, 2, "b", 1), out;
	struct fs_inode_attr_stats s;
	uint64_t gen;

	fs_inode_attr_put(t, &a, fs_inode_attr_gen(t));
	fs_inode_attr_put(t, &b, fs_inode_attr_gen(t));
	/* by ino: its name goes too */
	fs_inode_attr_inval(t, 5, 0, NULL);
	ck_assert(!fs_inode_attr_get(t, 5, &out));
	ck_assert(!fs_inode_attr_lookup(t, 2, "a", &out));
	/* by name: its ino goes too */
	fs_inode_attr_inval(t, 77, 2, "b");
	ck_assert(!fs_inode_attr_get(t, 6, &out));
	ck_assert_uint_eq(entries(t), 0);

	/* a fill that began before an invalidation is dropped */
	gen = fs_inode_attr_gen(t);
	fs_inode_attr_inval(t, 1000, 0, "");	/* of anything */
	fs_inode_attr_put(t, &a, gen);
	ck_assert(!fs_inode_attr_get(t, 5, &out));
	gen = fs_inode_attr_gen(t);
	fs_inode_attr_put(t, &a, gen);
	ck_assert(fs_inode_attr_get(t, 5, &out));

	fs_inode_attr_put(t, &b, fs_inode_attr_gen(t));
	gen = fs_inode_attr_gen(t);
	fs_inode_attr_clear(t);
	ck_assert(!fs_inode_attr_get(t, 5, &out));
	ck_assert(!fs_inode_attr_lookup(t, 2, "b", &out));
	fs_inode_attr_put(t, &b, gen);
	ck_assert(!fs_inode_attr_get(t, 6, &out));
	ck_assert_uint_eq(entries(t), 0);
	fs_inode_attr_get_stats(t, &s);
	ck_assert_uint_eq(s.invals, 4);
	fs_inode_table_free(t);
}
END_TEST

START_TEST(test_attr_refused)
{
	struct fs_inode_table *t = fs_inode_table_new_max(1024);
	struct store_node n = mk(5, 2, "a", 1), out;
	char type[32];

	/* a key that is not 64 hex digits is not kept */
	memcpy(n.key, "Z" KEY_A, 64);
	n.key[64] = '\0';
	fs_inode_attr_put(t, &n, fs_inode_attr_gen(t));
	ck_assert(!fs_inode_attr_get(t, 5, &out));
	n.ino = 0;	/* nor ino 0 */
	snprintf(n.key, sizeof(n.key), "%s", KEY_A);
	fs_inode_attr_put(t, &n, fs_inode_attr_gen(t));
	ck_assert_uint_eq(entries(t), 0);

	/* types are interned, up to 255 distinct ones */
	for (uint64_t i = 0; i < 300; i++) {
		n = mk(10 + i, 2, "", 1);
		snprintf(n.name, sizeof(n.name), "f%" PRIu64, i);
		snprintf(n.type, sizeof(n.type), "type/%" PRIu64, i);
		fs_inode_attr_put(t, &n, fs_inode_attr_gen(t));
	}
	ck_assert_uint_eq(entries(t), 255);
	ck_assert(fs_inode_attr_get(t, 10 + 254, &out));
	ck_assert_str_eq(out.type, "type/254");
	ck_assert(!fs_inode_attr_get(t, 10 + 255, &out));
	n = mk(400, 2, "known", 1);
	snprintf(type, sizeof(type), "type/%d", 17);
	snprintf(n.type, sizeof(n.type), "%s", type);
	fs_inode_attr_put(t, &n, fs_inode_attr_gen(t));
	ck_assert(fs_inode_attr_get(t, 400, &out));
	ck_assert_str_eq(out.type, type);
	fs_inode_table_free(t);
}
END_TEST

START_TEST(test_attr_bound)
{
	struct fs_inode_table *t = fs_inode_table_new_max(64);
	struct fs_inode_attr_stats s;
	struct store_node n, out;
	unsigned held = 0;

	/* a million-entry walk through a 64-row cache; half the names
	 * are long (allocated), so leaks would show */
	for (uint64_t i = 2; i < 20000; i++) {
		n = mk(i, i / 1000 + 1, "", i);
		snprintf(n.name, sizeof(n.name), i % 2 ? "f%" PRIu64 :
			 "a-rather-long-file-name-%" PRIu64, i);
		fs_inode_attr_put(t, &n, fs_inode_attr_gen(t));
		ck_assert_uint_le(entries(t), 64);
	}
	fs_inode_attr_get_stats(t, &s);
	ck_assert_uint_eq(s.entries, 64);
	ck_assert_uint_eq(s.evictions, 20000 - 2 - 64);
	ck_assert_uint_eq(s.max, 64);
	/* what is held is right */
	for (uint64_t i = 2; i < 20000; i++) {
		if (!fs_inode_attr_get(t, i, &out))
			continue;
		held++;
		ck_assert_uint_eq(out.size, i);
		ck_assert(fs_inode_attr_lookup(t, out.parent, out.name, &out));
		ck_assert_uint_eq(out.ino, i);
	}
	ck_assert_uint_eq(held, 64);
	fs_inode_table_free(t);
}
END_TEST

START_TEST(test_attr_offer)
{
	struct fs_inode_table *t = fs_inode_table_new_max(8);
	struct store_node n, out;

	for (uint64_t i = 10; i < 30; i++) {
		n = mk(i, 2, "", i);
		snprintf(n.name, sizeof(n.name), "f%" PRIu64, i);
		fs_inode_attr_offer(t, &n, fs_inode_attr_gen(t));
	}
	/* the first 8 were taken, the rest did not push them out */
	ck_assert_uint_eq(entries(t), 8);
	ck_assert(fs_inode_attr_get(t, 10, &out));
	ck_assert(fs_inode_attr_get(t, 17, &out));
	ck_assert(!fs_inode_attr_get(t, 18, &out));
	/* a freed row takes an offer again; a put still replaces */
	fs_inode_attr_inval(t, 10, 0, NULL);
	n = mk(40, 2, "g", 1);
	fs_inode_attr_offer(t, &n, fs_inode_attr_gen(t));
	ck_assert(fs_inode_attr_get(t, 40, &out));
	n = mk(41, 2, "h", 1);
	fs_inode_attr_offer(t, &n, fs_inode_attr_gen(t));
	ck_assert(!fs_inode_attr_get(t, 41, &out));
	fs_inode_attr_put(t, &n, fs_inode_attr_gen(t));
	ck_assert(fs_inode_attr_get(t, 41, &out));
	ck_assert_uint_eq(entries(t), 8);
	fs_inode_attr_clear(t);
	fs_inode_attr_offer(t, &n, fs_inode_attr_gen(t));
	ck_assert(fs_inode_attr_get(t, 41, &out));
	fs_inode_table_free(t);
}
END_TEST

START_TEST(test_attr_clock)
{
	struct fs_inode_table *t = fs_inode_table_new_max(8);
	struct store_node n, out;

	for (uint64_t i = 10; i < 18; i++) {
		n = mk(i, 2, "", i);
		snprintf(n.name, sizeof(n.name), "f%" PRIu64, i);
		fs_inode_attr_put(t, &n, fs_inode_attr_gen(t));
	}
	/* 12 is hot; a scan of 100 new rows passes it by */
	for (uint64_t i = 100; i < 200; i++) {
		ck_assert(fs_inode_attr_get(t, 12, &out));
		n = mk(i, 3, "", i);
		snprintf(n.name, sizeof(n.name), "g%" PRIu64, i);
		fs_inode_attr_put(t, &n, fs_inode_attr_gen(t));
	}
	ck_assert(fs_inode_attr_lookup(t, 2, "f12", &out));
	ck_assert(!fs_inode_attr_get(t, 11, &out));
	ck_assert(fs_inode_attr_get(t, 199, &out));
	fs_inode_table_free(t);
}
END_TEST

/*
 * The index as a model: NODES nodes that change at random (rename, size,
 * replace), each change followed by the invalidation the change log
 * brings (old and new names), interleaved with fills as ops.c does them
 * (generation, read the model, put) where some fills read the model
 * *before* a change and put *after* its invalidation.  Every answer of
 * the cache must be the model's current row.
 */
#define NODES	200
#define NAMES	50

struct model {
	struct store_node n[NODES];	/* index: ino = 2 + i */
};

static void model_name(struct store_node *n, unsigned v)
{
	snprintf(n->name, sizeof(n->name), v % 3 ? "n%u" :
		 "long-enough-to-be-allocated-%u", v);
}

static void check_model(struct fs_inode_table *t, const struct model *m,
			unsigned seed)
{
	struct store_node out;

	for (unsigned i = 0; i < NODES; i++)
		if (fs_inode_attr_get(t, m->n[i].ino, &out))
			same_node(&out, &m->n[i]);
	for (unsigned p = 2; p < 5; p++) {
		for (unsigned v = 0; v < NAMES; v++) {
			struct store_node tmp;

			model_name(&tmp, v);
			if (!fs_inode_attr_lookup(t, p, tmp.name, &out))
				continue;
			ck_assert_msg(out.ino >= 2 && out.ino < 2 + NODES,
				      "seed %u", seed);
			same_node(&out, &m->n[out.ino - 2]);
		}
	}
}

START_TEST(test_attr_model)
{
	struct fs_inode_table *t = fs_inode_table_new_max(64);
	struct model *m = calloc(1, sizeof(*m));
	unsigned seed = 1234u + (unsigned)_i, r = seed;

	ck_assert_ptr_nonnull(m);
	/* distinct (parent, name) per node, as UNIQUE(parent, name) */
	for (unsigned i = 0; i < NODES; i++) {
		m->n[i] = mk(2 + i, 2 + i % 3, "", i);
		model_name(&m->n[i], 1000 + i);
	}
	for (unsigned step = 0; step < 20000; step++) {
		unsigned i = (r = r * 1103515245u + 12345u) >> 8;
		unsigned op = i % 8;
		struct store_node *n = &m->n[(i >> 4) % NODES], before, old;
		uint64_t gen;

		switch (op) {
		case 0:	/* a change: size or key */
			old = *n;
			n->size++;
			snprintf(n->key, sizeof(n->key), "%s",
				 n->size % 2 ? KEY_A : KEY_B);
			fs_inode_attr_inval(t, n->ino, old.parent, old.name);
			break;
		case 1: {	/* a rename onto a free name */
			struct store_node tmp = *n;
			bool taken = false;

			model_name(&tmp, (i >> 12) % NAMES);
			tmp.parent = 2 + (i >> 20) % 3;
			for (unsigned k = 0; k < NODES; k++)
				taken |= m->n[k].parent == tmp.parent &&
					!strcmp(m->n[k].name, tmp.name);
			if (taken)
				break;
			old = *n;
			*n = tmp;
			fs_inode_attr_inval(t, n->ino, old.parent, old.name);
			fs_inode_attr_inval(t, n->ino, n->parent, n->name);
			break;
		}
		case 2:	/* a fill that raced a change: read, change, put */
			gen = fs_inode_attr_gen(t);
			before = *n;
			old = *n;
			n->mtime_ns++;
			fs_inode_attr_inval(t, n->ino, old.parent, old.name);
			fs_inode_attr_put(t, &before, gen);
			break;
		default:	/* ordinary fills: lookup and getattr */
			gen = fs_inode_attr_gen(t);
			before = *n;
			fs_inode_attr_put(t, &before, gen);
			break;
		}
		if (step % 97 == 0)
			check_model(t, m, seed);
		ck_assert_uint_le(entries(t), 64);
	}
	check_model(t, m, seed);
	free(m);
	fs_inode_table_free(t);
}
END_TEST

/* Several threads fill, read and invalidate one small table (for TSan
 * and ASan): every answer must be a row of the node asked for. */
struct thr {
	struct fs_inode_table *t;
	unsigned seed;
};

static void *hammer(void *arg)
{
	struct thr *a = arg;
	unsigned r = a->seed;
	struct store_node n, out;

	for (unsigned k = 0; k < 50000; k++) {
		uint64_t ino = 2 + ((r = r * 1103515245u + 12345u) >> 8) % 500;
		char name[32];

		snprintf(name, sizeof(name), ino % 2 ? "n%" PRIu64 :
			 "a-long-name-for-node-%" PRIu64, ino);
		switch ((r >> 20) % 4) {
		case 0:
			n = mk(ino, 2 + ino % 7, name, ino * 3);
			if (r & 1)
				fs_inode_attr_put(a->t, &n,
						  fs_inode_attr_gen(a->t));
			else
				fs_inode_attr_offer(a->t, &n,
						    fs_inode_attr_gen(a->t));
			break;
		case 1:
			if (fs_inode_attr_get(a->t, ino, &out)) {
				ck_assert_uint_eq(out.ino, ino);
				ck_assert_uint_eq(out.size, ino * 3);
				ck_assert_str_eq(out.name, name);
			}
			break;
		case 2:
			if (fs_inode_attr_lookup(a->t, 2 + ino % 7, name,
						 &out))
				ck_assert_uint_eq(out.ino, ino);
			break;
		default:
			fs_inode_attr_inval(a->t, ino, 2 + ino % 7, name);
			if (k % 5000 == 0)
				fs_inode_attr_clear(a->t);
			break;
		}
		if (k % 64 == 0) {
			(void)fs_inode_ref(a->t, ino);
			fs_inode_forget(a->t, ino, 1);
		}
	}
	return NULL;
}

START_TEST(test_attr_threads)
{
	struct fs_inode_table *t = fs_inode_table_new_max(128);
	pthread_t th[4];
	struct thr a[4];

	for (int i = 0; i < 4; i++) {
		a[i].t = t;
		a[i].seed = 77u + (unsigned)i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, &a[i]),
				 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	ck_assert_uint_le(entries(t), 128);
	fs_inode_table_free(t);
}
END_TEST

#if FAILMALLOC
/* Every allocation of a fill (a long name, a new type) failing leaves
 * a table that answers right, and leaks nothing. */
START_TEST(test_attr_nomem)
{
	struct fs_inode_table *t = fs_inode_table_new_max(8);
	struct store_node n = mk(5, 2, "", 1), out;
	long before;

	memset(n.name, 'y', 100);
	n.name[100] = '\0';
	snprintf(n.type, sizeof(n.type), "application/x-fresh");
	before = failmalloc_blocks();
	for (long k = 1; ; k++) {
		bool fired;

		failmalloc_arm(k);
		fs_inode_attr_put(t, &n, fs_inode_attr_gen(t));
		fired = failmalloc_disarm();
		if (fs_inode_attr_get(t, 5, &out))
			same_node(&out, &n);
		if (!fired)
			break;
		ck_assert(!fs_inode_attr_lookup(t, 2, n.name, &out));
	}
	ck_assert(fs_inode_attr_lookup(t, 2, n.name, &out));
	fs_inode_attr_clear(t);
	ck_assert_int_le(failmalloc_blocks(), before + 1);	/* the type */
	fs_inode_table_free(t);

	for (long k = 1; k < 8; k++) {
		failmalloc_arm(k);
		t = fs_inode_table_new_max(8);
		failmalloc_disarm();
		fs_inode_table_free(t);
	}
}
END_TEST
#endif

static Suite *inode_suite(void)
{
	Suite *s = suite_create("inode");
	TCase *tc;

	tc = tcase_create("counts");
	tcase_add_test(tc, test_inode_lifecycle);
	tcase_add_test(tc, test_inode_counts);
	tcase_add_test(tc, test_inode_counts_model);
	tcase_add_test(tc, test_inode_note_open);
	suite_add_tcase(s, tc);

	tc = tcase_create("attrs");
	tcase_add_test(tc, test_attr_roundtrip);
	tcase_add_test(tc, test_attr_replace);
	tcase_add_test(tc, test_attr_inval);
	tcase_add_test(tc, test_attr_refused);
	tcase_add_test(tc, test_attr_bound);
	tcase_add_test(tc, test_attr_offer);
	tcase_add_test(tc, test_attr_clock);
	tcase_add_loop_test(tc, test_attr_model, 0, 4);
#if FAILMALLOC
	tcase_add_test(tc, test_attr_nomem);
#endif
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_attr_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(inode_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
