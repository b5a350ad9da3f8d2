/* SPDX-License-Identifier: MIT */
/*
 * inode.c - the kernel's lookup counts, in an open-addressing hash table
 * keyed by ino under one mutex.
 *
 * A `find` over a million entries makes the kernel hold a million inodes,
 * so the table is what bounds the daemon's memory on a large namespace:
 * each inode costs one 8-byte slot (ino and lookup count packed, nothing
 * else; the index has the attributes), in arrays kept between 1/8 and 3/4
 * full, with linear probing and backward-shift deletion (no tombstones).
 * The table is cut into SHARDS arrays by the ino's hash, each grown and
 * shrunk by itself, so that a resize holds two copies of one shard, not
 * of everything (one array of 16-byte slots peaked at 48 MiB for a
 * million inodes; these take 16 MiB).  An ino too big to pack (2^40 and
 * up: never seen, but possible) goes to a chained overflow list.  The
 * object key of the last open, needed only for inodes that were opened,
 * lives in a small chained side table.
 *
 * The attribute cache is a second, bounded structure beside it, under its
 * own mutex (alock; the two locks are never held together, and neither
 * is held around a store call, so store_readdir() callbacks may take
 * them): a fixed array of 128-byte rows (FS_INODE_ATTR_MAX of them, 4 MiB,
 * whatever the namespace's size: a `find` over a million entries keeps
 * its memory flat), chained into two hash tables of row numbers, by ino
 * and by (parent, name).  Names up to 23 bytes live in the row; the few
 * longer ones are allocated.  MIME types are interned (a namespace has a
 * handful).  Rows are replaced by CLOCK: a hit sets the row's reference
 * bit, the hand clears it and takes the first row found clear; a new row
 * starts clear, so that a scan replaces only rows that were not used
 * again, not the hot ones.  Listings (readdirplus) only *offer* rows:
 * taken while there are free ones, never replacing any, so that a `find`
 * over a million entries costs one relaxed load per entry once the cache
 * is full, instead of a replacement (measured: +50% daemon time).
 *
 * Correctness under change rests on invalidation (see inode.h) and on
 * one generation counter: every invalidation bumps it, and a fill that
 * began (took the counter) before the last invalidation is dropped, as
 * its row may predate the change.  Fills lost that way only cost a later
 * miss.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "inode.h"

#define SHARD_BITS	6
#define SHARDS		(1u << SHARD_BITS)
#define SHARD_MIN	16	/* slots per shard; a power of two */
#define CNT_BITS	24	/* a slot: ino << CNT_BITS | nlookup */
#define CNT_MAX		((1u << CNT_BITS) - 1)	/* lookups saturate here:
					   then dropped early, which only
					   forgets the key of its last open */
#define INO_PACKED	(1ull << (64 - CNT_BITS))	/* inos below fit */
#define OPENED_MIN	64	/* side table buckets; a power of two */
#define ATTR_NAME_IN	24	/* names shorter than this live in the row */
#define ATTR_TYPES	255	/* distinct MIME types interned */
#define ATTR_MAX_CAP	(1u << 24)

/* The inodes the kernel holds whose hash falls here. */
struct shard {
	uint64_t *slots;		/* ino << CNT_BITS | nlookup; 0: free */
	uint32_t nslots;		/* power of two */
	uint32_t count;			/* slots used */
};

/* An inode held whose ino does not fit a slot. */
struct bigino {
	struct bigino *next;
	uint64_t ino;
	uint64_t nlookup;
};

/* The object of an inode's last open. */
struct opened {
	struct opened *next;		/* hash chain */
	uint64_t ino;
	unsigned char key[32];		/* raw */
};

/* One cached index row; ino 0 marks a free row. */
struct arow {
	uint64_t ino;
	uint64_t parent;
	uint64_t size;
	int64_t mtime_ns;
	int64_t ctime_ns;
	uint32_t mode, uid, gid, flags;
	uint32_t next_ino;		/* by_ino chain: row + 1, 0 ends it;
					   free rows: the free list */
	uint32_t next_name;		/* by_name chain: row + 1, 0 ends it */
	uint32_t name_hash;		/* hash of (parent, name) */
	uint8_t name_len;		/* bytes, without the NUL */
	uint8_t type;			/* 0: "", else types[type - 1] */
	uint8_t has_key;		/* key holds the object's key */
	uint8_t ref;			/* used since the hand last passed */
	unsigned char key[32];		/* raw */
	union {
		char in[ATTR_NAME_IN];	/* name_len < ATTR_NAME_IN */
		char *out;		/* longer: allocated */
	} name;
};

struct fs_inode_table {
	pthread_mutex_t lock;
	struct shard shards[SHARDS];	/* protected by lock */
	struct bigino *big;		/* protected by lock */
	uint64_t count;			/* inodes held; protected by lock */
	struct opened **obuckets;	/* protected by lock */
	size_t nobuckets;		/* power of two; protected by lock */
	size_t nopened;			/* protected by lock */

	pthread_mutex_t alock;		/* the attribute cache */
	struct arow *rows;		/* [max]; protected by alock */
	uint32_t max;			/* rows; immutable (0: no cache) */
	uint32_t nused;			/* rows ever handed out; alock */
	uint32_t free_head;		/* freed rows (row + 1); alock */
	uint32_t hand;			/* the clock; alock */
	uint32_t *by_ino, *by_name;	/* [nabuckets] row + 1; alock */
	uint32_t nabuckets;		/* power of two; immutable */
	uint64_t agen;			/* invalidations; alock */
	char *types[ATTR_TYPES];	/* interned; alock */
	unsigned ntypes;		/* alock */
	struct fs_inode_attr_stats astats;	/* alock */
	atomic_bool afull;		/* no free row: written under alock,
					   read without by offers */
};

static size_t hash(uint64_t ino)
{
	/* Fibonacci hashing: inos are dense, spread them */
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 20);
}

struct fs_inode_table *fs_inode_table_new(void)
{
	return fs_inode_table_new_max(FS_INODE_ATTR_MAX);
}

struct fs_inode_table *fs_inode_table_new_max(size_t max_attrs)
{
	struct fs_inode_table *t = calloc(1, sizeof(*t));
	bool nomem = false;
	uint32_t nb = 1;
	unsigned i;

	if (!t)
		return NULL;
	if (max_attrs > ATTR_MAX_CAP)
		max_attrs = ATTR_MAX_CAP;
	while (nb < max_attrs)
		nb *= 2;
	for (i = 0; i < SHARDS; i++) {
		t->shards[i].slots = calloc(SHARD_MIN, sizeof(uint64_t));
		t->shards[i].nslots = SHARD_MIN;
		nomem |= !t->shards[i].slots;
	}
	t->obuckets = calloc(OPENED_MIN, sizeof(*t->obuckets));
	if (max_attrs) {
		/* calloc'd pages cost nothing until a row is used */
		t->rows = calloc(max_attrs, sizeof(*t->rows));
		t->by_ino = calloc(nb, sizeof(*t->by_ino));
		t->by_name = calloc(nb, sizeof(*t->by_name));
	}
	if (nomem || !t->obuckets ||
	    (max_attrs && (!t->rows || !t->by_ino || !t->by_name))) {
		for (i = 0; i < SHARDS; i++)
			free(t->shards[i].slots);
		free(t->obuckets);
		free(t->rows);
		free(t->by_ino);
		free(t->by_name);
		free(t);
		return NULL;
	}
	t->nobuckets = OPENED_MIN;
	t->max = (uint32_t)max_attrs;
	t->nabuckets = nb;
	t->astats.max = max_attrs;
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->alock, NULL);
	return t;
}

static void rows_free_names(struct fs_inode_table *t)
{
	for (uint32_t i = 0; i < t->nused; i++)
		if (t->rows[i].ino && t->rows[i].name_len >= ATTR_NAME_IN)
			free(t->rows[i].name.out);
}

void fs_inode_table_free(struct fs_inode_table *t)
{
	size_t i;

	if (!t)
		return;
	rows_free_names(t);
	for (i = 0; i < t->ntypes; i++)
		free(t->types[i]);
	free(t->rows);
	free(t->by_ino);
	free(t->by_name);
	pthread_mutex_destroy(&t->alock);
	for (i = 0; i < t->nobuckets; i++) {
		struct opened *o = t->obuckets[i];

		while (o) {
			struct opened *next = o->next;

			free(o);
			o = next;
		}
	}
	free(t->obuckets);
	for (i = 0; i < SHARDS; i++)
		free(t->shards[i].slots);
	while (t->big) {
		struct bigino *b = t->big;

		t->big = b->next;
		free(b);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static struct shard *shard_of(struct fs_inode_table *t, uint64_t ino)
{
	return &t->shards[(ino * 0x9e3779b97f4a7c15ull) >> (64 - SHARD_BITS)];
}

static uint64_t slot_ino(uint64_t v)
{
	return v >> CNT_BITS;
}

/* The slot of @ino in @sh, or the free slot where it would go. */
static uint64_t *find(struct shard *sh, uint64_t ino)
{
	size_t mask = sh->nslots - 1, i = hash(ino) & mask;

	while (sh->slots[i] && slot_ino(sh->slots[i]) != ino)
		i = (i + 1) & mask;
	return &sh->slots[i];
}

/* Rehash @sh into @n slots; on ENOMEM keep it as it is. */
static void resize(struct shard *sh, uint32_t n)
{
	uint64_t *old = sh->slots, *s = calloc(n, sizeof(*s));
	uint32_t i, oldn = sh->nslots;

	if (!s)
		return;		/* fuller, or emptier, but correct */
	sh->slots = s;
	sh->nslots = n;
	for (i = 0; i < oldn; i++)
		if (old[i])
			*find(sh, slot_ino(old[i])) = old[i];
	free(old);
}

static struct bigino **big_slot(struct fs_inode_table *t, uint64_t ino)
{
	struct bigino **pp = &t->big;

	while (*pp && (*pp)->ino != ino)
		pp = &(*pp)->next;
	return pp;
}

static struct opened **opened_slot(struct fs_inode_table *t, uint64_t ino)
{
	struct opened **pp = &t->obuckets[hash(ino) & (t->nobuckets - 1)];

	while (*pp && (*pp)->ino != ino)
		pp = &(*pp)->next;
	return pp;
}

static void opened_grow(struct fs_inode_table *t)
{
	size_t n = t->nobuckets * 2, i;
	struct opened **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (i = 0; i < t->nobuckets; i++) {
		struct opened *o = t->obuckets[i];

		while (o) {
			struct opened *next = o->next;
			size_t k = hash(o->ino) & (n - 1);

			o->next = b[k];
			b[k] = o;
			o = next;
		}
	}
	free(t->obuckets);
	t->obuckets = b;
	t->nobuckets = n;
}

/* @ino is no longer held: forget the key of its last open. */
static void opened_drop(struct fs_inode_table *t, uint64_t ino)
{
	struct opened **pp, *o;

	if (!t->nopened)
		return;
	pp = opened_slot(t, ino);
	o = *pp;
	if (o) {
		*pp = o->next;
		free(o);
		t->nopened--;
	}
}

/* Remove slot @s of @sh: shift back the run after it (no tombstones). */
static void remove_slot(struct shard *sh, uint64_t *s)
{
	size_t mask = sh->nslots - 1, i = (size_t)(s - sh->slots), j = i;

	for (;;) {
		size_t k;

		sh->slots[i] = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (!sh->slots[j])
				return;
			k = hash(slot_ino(sh->slots[j])) & mask;
			/* may the entry at j move to the hole at i? */
			if (i <= j ? (k <= i || k > j) : (k <= i && k > j))
				break;
		}
		sh->slots[i] = sh->slots[j];
		i = j;
	}
}

/* Is @ino held?  lock held. */
static bool is_held(struct fs_inode_table *t, uint64_t ino)
{
	if (ino >= INO_PACKED)
		return *big_slot(t, ino) != NULL;
	return *find(shard_of(t, ino), ino) != 0;
}

static int ref_big(struct fs_inode_table *t, uint64_t ino)
{
	struct bigino **pp = big_slot(t, ino), *b = *pp;

	if (b) {
		b->nlookup++;
		return 0;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return ENOMEM;
	b->ino = ino;
	b->nlookup = 1;
	*pp = b;
	t->count++;
	return 0;
}

int fs_inode_ref(struct fs_inode_table *t, uint64_t ino)
{
	struct shard *sh;
	uint64_t *s;
	int err = 0;

	if (ino == STORE_ROOT_INO || ino == 0)
		return 0;
	pthread_mutex_lock(&t->lock);
	if (ino >= INO_PACKED) {
		err = ref_big(t, ino);
		goto out;
	}
	sh = shard_of(t, ino);
	s = find(sh, ino);
	if (*s) {
		if ((*s & CNT_MAX) < CNT_MAX)
			(*s)++;
		goto out;
	}
	if ((sh->count + 1) * 4 > sh->nslots * 3) {
		resize(sh, sh->nslots * 2);
		s = find(sh, ino);
		if ((sh->count + 1) * 8 > sh->nslots * 7) {
			err = ENOMEM;	/* could not grow, nearly full */
			goto out;
		}
	}
	*s = ino << CNT_BITS | 1;
	sh->count++;
	t->count++;
out:
	pthread_mutex_unlock(&t->lock);
	return err;
}

static void forget_big(struct fs_inode_table *t, uint64_t ino,
		       uint64_t nlookup)
{
	struct bigino **pp = big_slot(t, ino), *b = *pp;

	if (!b)
		return;
	if (nlookup < b->nlookup) {
		b->nlookup -= nlookup;
		return;
	}
	*pp = b->next;
	free(b);
	t->count--;
	opened_drop(t, ino);
}

void fs_inode_forget(struct fs_inode_table *t, uint64_t ino,
		     uint64_t nlookup)
{
	struct shard *sh;
	uint64_t *s;

	if (ino == STORE_ROOT_INO || ino == 0)
		return;
	pthread_mutex_lock(&t->lock);
	if (ino >= INO_PACKED) {
		forget_big(t, ino, nlookup);
		goto out;
	}
	sh = shard_of(t, ino);
	s = find(sh, ino);
	if (!*s)
		goto out;
	if (nlookup < (*s & CNT_MAX)) {
		*s -= nlookup;
		goto out;
	}
	/* at zero (or the kernel says more than we counted): drop it */
	remove_slot(sh, s);
	sh->count--;
	t->count--;
	opened_drop(t, ino);
	if (sh->nslots > SHARD_MIN && sh->count * 8 < sh->nslots)
		resize(sh, sh->nslots / 2);
out:
	pthread_mutex_unlock(&t->lock);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Keys come from the index (64 lowercase hex); anything else is "no key". */
static bool key_to_raw(const char *key, unsigned char raw[32])
{
	int i;

	for (i = 0; i < 32; i++) {
		int hi = hexval(key[2 * i]), lo;

		if (hi < 0)
			return false;
		lo = hexval(key[2 * i + 1]);
		if (lo < 0)
			return false;
		raw[i] = (unsigned char)(hi << 4 | lo);
	}
	return key[64] == '\0';
}

bool fs_inode_note_open(struct fs_inode_table *t, uint64_t ino,
			const char *key)
{
	unsigned char raw[32];
	struct opened **pp, *o;
	bool keep = true;

	if (!key_to_raw(key, raw))
		return false;
	pthread_mutex_lock(&t->lock);
	if (!is_held(t, ino))
		goto out;
	pp = opened_slot(t, ino);
	o = *pp;
	if (o) {
		keep = memcmp(o->key, raw, sizeof(raw)) == 0;
	} else {
		o = calloc(1, sizeof(*o));
		if (!o)
			goto out;	/* cannot tell next time: fine */
		o->ino = ino;
		*pp = o;
		if (++t->nopened > t->nobuckets)
			opened_grow(t);
	}
	memcpy(o->key, raw, sizeof(raw));
out:
	pthread_mutex_unlock(&t->lock);
	return keep;
}

uint64_t fs_inode_count(struct fs_inode_table *t)
{
	uint64_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}

int fs_inode_snapshot(struct fs_inode_table *t, uint64_t **inos,
		      size_t *count)
{
	uint64_t *a;
	size_t n = 0;

	*inos = NULL;
	*count = 0;
	pthread_mutex_lock(&t->lock);
	a = malloc((t->count ? t->count : 1) * sizeof(*a));
	if (!a) {
		pthread_mutex_unlock(&t->lock);
		return ENOMEM;
	}
	for (unsigned k = 0; k < SHARDS; k++) {
		const struct shard *sh = &t->shards[k];

		for (uint32_t i = 0; i < sh->nslots; i++)
			if (sh->slots[i])
				a[n++] = slot_ino(sh->slots[i]);
	}
	for (const struct bigino *b = t->big; b; b = b->next)
		a[n++] = b->ino;
	assert(n == t->count);
	pthread_mutex_unlock(&t->lock);
	*inos = a;
	*count = n;
	return 0;
}

/* ---- the attribute cache ----------------------------------------------- */

static uint32_t name_hash(uint64_t parent, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ parent;	/* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ull;
	}
	return (uint32_t)((h * 0x9e3779b97f4a7c15ull) >> 32);
}

static const char *row_name(const struct arow *r)
{
	return r->name_len < ATTR_NAME_IN ? r->name.in : r->name.out;
}

/* Row of @ino + 1, or 0.  alock held. */
static uint32_t row_by_ino(struct fs_inode_table *t, uint64_t ino)
{
	uint32_t i = t->by_ino[hash(ino) & (t->nabuckets - 1)];

	while (i && t->rows[i - 1].ino != ino)
		i = t->rows[i - 1].next_ino;
	return i;
}

/* Row of child @name (@len bytes, hash @h) of @parent + 1, or 0. */
static uint32_t row_by_name(struct fs_inode_table *t, uint64_t parent,
			    const char *name, size_t len, uint32_t h)
{
	uint32_t i = t->by_name[h & (t->nabuckets - 1)];

	while (i) {
		const struct arow *r = &t->rows[i - 1];

		if (r->name_hash == h && r->parent == parent &&
		    r->name_len == len && memcmp(row_name(r), name, len) == 0)
			break;
		i = r->next_name;
	}
	return i;
}

/* Unchain row @i + 1 from @head's chain linked through @field. */
static void unchain(struct fs_inode_table *t, uint32_t *head, uint32_t i,
		    size_t field)
{
	uint32_t *pp = head;

	while (*pp != i) {
		assert(*pp);
		pp = (uint32_t *)((char *)&t->rows[*pp - 1] + field);
	}
	*pp = *(uint32_t *)((char *)&t->rows[i - 1] + field);
}

/* Take row @i + 1 out of both tables; it is then no one's (its caller
 * reuses it or frees it).  alock held. */
static void row_drop(struct fs_inode_table *t, uint32_t i)
{
	struct arow *r = &t->rows[i - 1];

	unchain(t, &t->by_ino[hash(r->ino) & (t->nabuckets - 1)], i,
		offsetof(struct arow, next_ino));
	if (r->parent)
		unchain(t, &t->by_name[r->name_hash & (t->nabuckets - 1)], i,
			offsetof(struct arow, next_name));
	if (r->name_len >= ATTR_NAME_IN)
		free(r->name.out);
	r->ino = 0;
	t->astats.entries--;
}

/* Drop row @i + 1 and put it on the free list. */
static void row_free(struct fs_inode_table *t, uint32_t i)
{
	row_drop(t, i);
	t->rows[i - 1].next_ino = t->free_head;
	t->free_head = i;
	atomic_store_explicit(&t->afull, false, memory_order_relaxed);
}

/* A row to fill (row + 1): a free one, a never used one, or the one the
 * clock hand finds unused since it last passed. */
static uint32_t row_alloc(struct fs_inode_table *t)
{
	uint32_t i;

	if (t->free_head) {
		i = t->free_head;
		t->free_head = t->rows[i - 1].next_ino;
		return i;
	}
	if (t->nused < t->max)
		return ++t->nused;
	atomic_store_explicit(&t->afull, true, memory_order_relaxed);
	/* every row is in use: at most two turns (the first clears) */
	for (;;) {
		struct arow *r = &t->rows[t->hand];

		i = t->hand + 1;
		t->hand = t->hand + 1 == t->max ? 0 : t->hand + 1;
		if (r->ref) {
			r->ref = 0;
			continue;
		}
		row_drop(t, i);
		t->astats.evictions++;
		return i;
	}
}

/* The number of MIME type @type (1-based; 0 for ""), interning it; -1
 * when too many are known already (or no memory).  alock held. */
static int type_id(struct fs_inode_table *t, const char *type)
{
	unsigned i;

	if (!type[0])
		return 0;
	for (i = 0; i < t->ntypes; i++)
		if (strcmp(t->types[i], type) == 0)
			return (int)i + 1;
	if (t->ntypes == ATTR_TYPES)
		return -1;
	t->types[t->ntypes] = strdup(type);
	if (!t->types[t->ntypes])
		return -1;
	return (int)++t->ntypes;
}

uint64_t fs_inode_attr_gen(struct fs_inode_table *t)
{
	uint64_t g;

	if (!t->max)
		return 0;
	pthread_mutex_lock(&t->alock);
	g = t->agen;
	pthread_mutex_unlock(&t->alock);
	return g;
}

static void put(struct fs_inode_table *t, const struct store_node *n,
		uint64_t gen, bool offer);

void fs_inode_attr_put(struct fs_inode_table *t, const struct store_node *n,
		       uint64_t gen)
{
	put(t, n, gen, false);
}

void fs_inode_attr_offer(struct fs_inode_table *t, const struct store_node *n,
			 uint64_t gen)
{
	/* the common case of a long listing: full, nothing to do */
	if (atomic_load_explicit(&t->afull, memory_order_relaxed))
		return;
	put(t, n, gen, true);
}

static void put(struct fs_inode_table *t, const struct store_node *n,
		uint64_t gen, bool offer)
{
	size_t len = strnlen(n->name, sizeof(n->name));
	unsigned char raw[32];
	bool has_key = n->key[0] != '\0';
	uint32_t h, i;
	uint8_t ref = 0;
	struct arow *r;
	int type;

	if (!t->max || n->ino == 0 || len > STORE_NAME_MAX ||
	    (has_key && !key_to_raw(n->key, raw)))
		return;
	h = name_hash(n->parent, n->name, len);
	pthread_mutex_lock(&t->alock);
	if (gen != t->agen)
		goto out;	/* something changed since @n was read */
	if (offer && !t->free_head && t->nused == t->max)
		goto out;	/* only into a free row */
	type = type_id(t, n->type);
	if (type < 0)
		goto out;
	i = row_by_ino(t, n->ino);
	if (i) {
		ref = t->rows[i - 1].ref;
		row_free(t, i);
	}
	/* the name is @n's now: whoever had it went */
	if (n->parent) {
		i = row_by_name(t, n->parent, n->name, len, h);
		if (i)
			row_free(t, i);
	}
	i = row_alloc(t);
	r = &t->rows[i - 1];
	if (len >= ATTR_NAME_IN) {
		r->name.out = malloc(len + 1);
		if (!r->name.out) {
			r->ino = 0;
			r->next_ino = t->free_head;
			t->free_head = i;
			atomic_store_explicit(&t->afull, false,
					      memory_order_relaxed);
			goto out;
		}
		memcpy(r->name.out, n->name, len + 1);
	} else {
		memcpy(r->name.in, n->name, len + 1);
	}
	r->ino = n->ino;
	r->parent = n->parent;
	r->size = n->size;
	r->mtime_ns = n->mtime_ns;
	r->ctime_ns = n->ctime_ns;
	r->mode = n->mode;
	r->uid = n->uid;
	r->gid = n->gid;
	r->flags = n->flags;
	r->name_hash = h;
	r->name_len = (uint8_t)len;
	r->type = (uint8_t)type;
	r->has_key = has_key;
	r->ref = ref;
	if (has_key)
		memcpy(r->key, raw, sizeof(raw));
	r->next_ino = t->by_ino[hash(n->ino) & (t->nabuckets - 1)];
	t->by_ino[hash(n->ino) & (t->nabuckets - 1)] = i;
	if (n->parent) {
		r->next_name = t->by_name[h & (t->nabuckets - 1)];
		t->by_name[h & (t->nabuckets - 1)] = i;
	}
	t->astats.entries++;
out:
	pthread_mutex_unlock(&t->alock);
}

/* Copy row @r out as the index would have filled @out.  alock held. */
static void row_copy(struct fs_inode_table *t, struct arow *r,
		     struct store_node *out)
{
	static const char hex[] = "0123456789abcdef";

	r->ref = 1;
	out->ino = r->ino;
	out->parent = r->parent;
	out->mode = r->mode;
	out->uid = r->uid;
	out->gid = r->gid;
	out->size = r->size;
	out->mtime_ns = r->mtime_ns;
	out->ctime_ns = r->ctime_ns;
	out->flags = r->flags;
	memcpy(out->name, row_name(r), r->name_len + 1u);
	if (r->has_key) {
		for (int k = 0; k < 32; k++) {
			out->key[2 * k] = hex[r->key[k] >> 4];
			out->key[2 * k + 1] = hex[r->key[k] & 15];
		}
		out->key[64] = '\0';
	} else {
		out->key[0] = '\0';
	}
	if (r->type)
		snprintf(out->type, sizeof(out->type), "%s",
			 t->types[r->type - 1]);
	else
		out->type[0] = '\0';
}

bool fs_inode_attr_get(struct fs_inode_table *t, uint64_t ino,
		       struct store_node *out)
{
	uint32_t i;

	if (!t->max)
		return false;
	pthread_mutex_lock(&t->alock);
	i = row_by_ino(t, ino);
	if (i) {
		row_copy(t, &t->rows[i - 1], out);
		t->astats.hits++;
	} else {
		t->astats.misses++;
	}
	pthread_mutex_unlock(&t->alock);
	return i != 0;
}

bool fs_inode_attr_lookup(struct fs_inode_table *t, uint64_t parent,
			  const char *name, struct store_node *out)
{
	size_t len = strlen(name);
	uint32_t h, i = 0;

	if (!t->max)
		return false;
	h = name_hash(parent, name, len);
	pthread_mutex_lock(&t->alock);
	if (parent && len <= STORE_NAME_MAX)
		i = row_by_name(t, parent, name, len, h);
	if (i) {
		row_copy(t, &t->rows[i - 1], out);
		t->astats.hits++;
	} else {
		t->astats.misses++;
	}
	pthread_mutex_unlock(&t->alock);
	return i != 0;
}

void fs_inode_attr_inval(struct fs_inode_table *t, uint64_t ino,
			 uint64_t parent, const char *name)
{
	size_t len = name ? strlen(name) : 0;
	uint32_t h = 0, i;

	if (!t->max)
		return;
	if (parent && len && len <= STORE_NAME_MAX)
		h = name_hash(parent, name, len);
	pthread_mutex_lock(&t->alock);
	t->agen++;
	i = ino ? row_by_ino(t, ino) : 0;
	if (i) {
		row_free(t, i);
		t->astats.invals++;
	}
	i = h ? row_by_name(t, parent, name, len, h) : 0;
	if (i) {
		row_free(t, i);
		t->astats.invals++;
	}
	pthread_mutex_unlock(&t->alock);
}

void fs_inode_attr_clear(struct fs_inode_table *t)
{
	if (!t->max)
		return;
	pthread_mutex_lock(&t->alock);
	t->agen++;
	rows_free_names(t);
	t->astats.invals += t->astats.entries;
	t->astats.entries = 0;
	memset(t->rows, 0, t->nused * sizeof(*t->rows));
	memset(t->by_ino, 0, t->nabuckets * sizeof(*t->by_ino));
	memset(t->by_name, 0, t->nabuckets * sizeof(*t->by_name));
	t->nused = 0;
	t->free_head = 0;
	t->hand = 0;
	atomic_store_explicit(&t->afull, false, memory_order_relaxed);
	pthread_mutex_unlock(&t->alock);
}

void fs_inode_attr_get_stats(struct fs_inode_table *t,
			     struct fs_inode_attr_stats *out)
{
	pthread_mutex_lock(&t->alock);
	*out = t->astats;
	pthread_mutex_unlock(&t->alock);
}

void fs_inode_path(struct store *st, uint64_t ino, char *buf, size_t len)
{
	struct store_node n;
	size_t pos = len - 1;	/* build right to left */
	uint64_t cur = ino;
	int depth = 0;

	assert(len > 1);
	buf[pos] = '\0';
	if (ino == STORE_ROOT_INO) {
		snprintf(buf, len, "/");
		return;
	}
	while (cur != STORE_ROOT_INO) {
		size_t nl;

		/* a cycle would be index corruption: give up, do not spin */
		if (++depth > 4096 || store_getattr(st, cur, &n) != STORE_OK)
			goto unknown;
		nl = strlen(n.name);
		if (nl + 1 > pos) {
			/* too long: keep the tail, mark the cut */
			if (pos >= 3) {
				pos -= 3;
				memcpy(buf + pos, "...", 3);
			}
			memmove(buf, buf + pos, len - pos);
			return;
		}
		pos -= nl;
		memcpy(buf + pos, n.name, nl);
		buf[--pos] = '/';
		cur = n.parent;
	}
	memmove(buf, buf + pos, len - pos);
	return;
unknown:
	snprintf(buf, len, "<ino %llu>", (unsigned long long)ino);
}
