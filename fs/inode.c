/* SPDX-License-Identifier: MIT */
/*
 * inode.c - the kernel's lookup counts, in an open-addressing hash table
 * keyed by ino under one mutex.
 *
 * A `find` over a million entries makes the kernel hold a million inodes,
 * so the table is what bounds the daemon's memory on a large namespace:
 * each inode costs one 16-byte slot (ino and lookup count, nothing else;
 * the index has the attributes), in an array kept between 1/4 and 3/4
 * full, with linear probing and backward-shift deletion (no tombstones).
 * The object key of the last open, needed only for inodes that were
 * opened, lives in a small chained side table.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "inode.h"

#define SLOTS_MIN	1024	/* a power of two */
#define OPENED_MIN	64	/* side table buckets; a power of two */

/* One inode the kernel holds; ino 0 marks a free slot. */
struct slot {
	uint64_t ino;			/* store node id */
	uint32_t nlookup;		/* kernel lookups not yet forgotten
					   (saturates: then dropped early,
					   which only forgets its key) */
	uint32_t opened;		/* it has an entry in the side table */
};

/* The object of an inode's last open. */
struct opened {
	struct opened *next;		/* hash chain */
	uint64_t ino;
	unsigned char key[32];		/* raw */
};

struct fs_inode_table {
	pthread_mutex_t lock;
	struct slot *slots;		/* protected by lock */
	size_t nslots;			/* power of two; protected by lock */
	uint64_t count;			/* inodes held; protected by lock */
	struct opened **obuckets;	/* protected by lock */
	size_t nobuckets;		/* power of two; protected by lock */
	size_t nopened;			/* protected by lock */
};

static size_t hash(uint64_t ino)
{
	/* Fibonacci hashing: inos are dense, spread them */
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 20);
}

struct fs_inode_table *fs_inode_table_new(void)
{
	struct fs_inode_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->slots = calloc(SLOTS_MIN, sizeof(*t->slots));
	t->obuckets = calloc(OPENED_MIN, sizeof(*t->obuckets));
	if (!t->slots || !t->obuckets) {
		free(t->slots);
		free(t->obuckets);
		free(t);
		return NULL;
	}
	t->nslots = SLOTS_MIN;
	t->nobuckets = OPENED_MIN;
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void fs_inode_table_free(struct fs_inode_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nobuckets; i++) {
		struct opened *o = t->obuckets[i];

		while (o) {
			struct opened *next = o->next;

			free(o);
			o = next;
		}
	}
	free(t->obuckets);
	free(t->slots);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* The slot of @ino, or the free slot where it would go. */
static struct slot *find(struct fs_inode_table *t, uint64_t ino)
{
	size_t mask = t->nslots - 1, i = hash(ino) & mask;

	while (t->slots[i].ino && t->slots[i].ino != ino)
		i = (i + 1) & mask;
	return &t->slots[i];
}

/* Rehash into @n slots; on ENOMEM keep the table as it is. */
static void resize(struct fs_inode_table *t, size_t n)
{
	struct slot *old = t->slots, *s = calloc(n, sizeof(*s));
	size_t i, oldn = t->nslots;

	if (!s)
		return;		/* fuller, or emptier, but correct */
	t->slots = s;
	t->nslots = n;
	for (i = 0; i < oldn; i++)
		if (old[i].ino)
			*find(t, old[i].ino) = old[i];
	free(old);
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

/* Remove slot @s: shift back the run after it (no tombstones). */
static void remove_slot(struct fs_inode_table *t, struct slot *s)
{
	size_t mask = t->nslots - 1, i = (size_t)(s - t->slots), j = i;

	if (s->opened) {
		struct opened **pp = opened_slot(t, s->ino), *o = *pp;

		if (o) {
			*pp = o->next;
			free(o);
			t->nopened--;
		}
	}
	for (;;) {
		size_t k;

		t->slots[i].ino = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (!t->slots[j].ino)
				return;
			k = hash(t->slots[j].ino) & mask;
			/* may the entry at j move to the hole at i? */
			if (i <= j ? (k <= i || k > j) : (k <= i && k > j))
				break;
		}
		t->slots[i] = t->slots[j];
		i = j;
	}
}

int fs_inode_ref(struct fs_inode_table *t, uint64_t ino)
{
	struct slot *s;

	if (ino == STORE_ROOT_INO || ino == 0)
		return 0;
	pthread_mutex_lock(&t->lock);
	s = find(t, ino);
	if (s->ino) {
		if (s->nlookup < UINT32_MAX)
			s->nlookup++;
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	if ((t->count + 1) * 4 > t->nslots * 3) {
		resize(t, t->nslots * 2);
		s = find(t, ino);
		if ((t->count + 1) * 8 > t->nslots * 7) {
			/* could not grow and nearly full: refuse */
			pthread_mutex_unlock(&t->lock);
			return ENOMEM;
		}
	}
	s->ino = ino;
	s->nlookup = 1;
	s->opened = 0;
	t->count++;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void fs_inode_forget(struct fs_inode_table *t, uint64_t ino,
		     uint64_t nlookup)
{
	struct slot *s;

	if (ino == STORE_ROOT_INO || ino == 0)
		return;
	pthread_mutex_lock(&t->lock);
	s = find(t, ino);
	if (!s->ino)
		goto out;
	if (nlookup < s->nlookup) {
		s->nlookup -= (uint32_t)nlookup;
		goto out;
	}
	/* at zero (or the kernel says more than we counted): drop it */
	remove_slot(t, s);
	t->count--;
	if (t->nslots > SLOTS_MIN && t->count * 8 < t->nslots)
		resize(t, t->nslots / 2);
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
	struct slot *s;
	bool keep = true;

	if (!key_to_raw(key, raw))
		return false;
	pthread_mutex_lock(&t->lock);
	s = find(t, ino);
	if (!s->ino)
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
		s->opened = 1;
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
	size_t n = 0, i;

	*inos = NULL;
	*count = 0;
	pthread_mutex_lock(&t->lock);
	a = malloc((t->count ? t->count : 1) * sizeof(*a));
	if (!a) {
		pthread_mutex_unlock(&t->lock);
		return ENOMEM;
	}
	for (i = 0; i < t->nslots; i++)
		if (t->slots[i].ino)
			a[n++] = t->slots[i].ino;
	pthread_mutex_unlock(&t->lock);
	*inos = a;
	*count = n;
	return 0;
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
