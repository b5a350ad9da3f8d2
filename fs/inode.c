/* SPDX-License-Identifier: MIT */
/*
 * inode.c - the kernel's lookup counts, in a chained hash table keyed by
 * ino under one mutex.  Entries are small (no attributes: the index has
 * them) and live exactly as long as the kernel holds the inode.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "inode.h"

#define TABLE_MIN	1024	/* buckets; a power of two */

struct fs_inode {
	struct fs_inode *next;		/* hash chain */
	uint64_t ino;			/* store node id */
	uint64_t nlookup;		/* kernel lookups not yet forgotten */
	bool opened;			/* key is valid */
	unsigned char key[32];		/* object of the last open, raw */
};

struct fs_inode_table {
	pthread_mutex_t lock;
	struct fs_inode **buckets;	/* protected by lock */
	size_t nbuckets;		/* power of two; protected by lock */
	uint64_t count;			/* inodes held; protected by lock */
};

static size_t bucket_of(uint64_t ino, size_t nbuckets)
{
	/* Fibonacci hashing: inos are dense, spread them */
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 17) & (nbuckets - 1);
}

struct fs_inode_table *fs_inode_table_new(void)
{
	struct fs_inode_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->buckets = calloc(TABLE_MIN, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	t->nbuckets = TABLE_MIN;
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void fs_inode_table_free(struct fs_inode_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nbuckets; i++) {
		struct fs_inode *n = t->buckets[i];

		while (n) {
			struct fs_inode *next = n->next;

			free(n);
			n = next;
		}
	}
	free(t->buckets);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static struct fs_inode **find_slot(struct fs_inode_table *t, uint64_t ino)
{
	struct fs_inode **pp = &t->buckets[bucket_of(ino, t->nbuckets)];

	while (*pp && (*pp)->ino != ino)
		pp = &(*pp)->next;
	return pp;
}

/* Double the buckets; on ENOMEM keep the longer chains. */
static void grow(struct fs_inode_table *t)
{
	size_t n = t->nbuckets * 2, i;
	struct fs_inode **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (i = 0; i < t->nbuckets; i++) {
		struct fs_inode *e = t->buckets[i];

		while (e) {
			struct fs_inode *next = e->next;
			size_t k = bucket_of(e->ino, n);

			e->next = b[k];
			b[k] = e;
			e = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

int fs_inode_ref(struct fs_inode_table *t, uint64_t ino)
{
	struct fs_inode **pp;
	int rc = 0;

	if (ino == STORE_ROOT_INO)
		return 0;
	pthread_mutex_lock(&t->lock);
	pp = find_slot(t, ino);
	if (*pp) {
		(*pp)->nlookup++;
		goto out;
	}
	*pp = calloc(1, sizeof(**pp));
	if (!*pp) {
		rc = ENOMEM;
		goto out;
	}
	(*pp)->ino = ino;
	(*pp)->nlookup = 1;
	if (++t->count > t->nbuckets)
		grow(t);
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void fs_inode_forget(struct fs_inode_table *t, uint64_t ino,
		     uint64_t nlookup)
{
	struct fs_inode **pp, *n;

	if (ino == STORE_ROOT_INO)
		return;
	pthread_mutex_lock(&t->lock);
	pp = find_slot(t, ino);
	n = *pp;
	if (!n)
		goto out;
	if (nlookup < n->nlookup) {
		n->nlookup -= nlookup;
		goto out;
	}
	/* at zero (or the kernel says more than we counted): drop it */
	*pp = n->next;
	t->count--;
	free(n);
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
	struct fs_inode *n;
	bool keep = true;

	if (!key_to_raw(key, raw))
		return false;
	pthread_mutex_lock(&t->lock);
	n = *find_slot(t, ino);
	if (n) {
		if (n->opened && memcmp(n->key, raw, sizeof(raw)) != 0)
			keep = false;
		memcpy(n->key, raw, sizeof(raw));
		n->opened = true;
	}
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
