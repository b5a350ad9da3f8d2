/* SPDX-License-Identifier: MIT */
/*
 * pool.c - a few worker threads that run one parallel loop at a time, so
 * that compressing, decompressing and hashing the chunks of one object use
 * every core while the caller streams the results in order.
 *
 * A loop is started with store_pool_start(), which returns at once: the
 * caller may do sequential work of its own (hash the whole object, write
 * the previous batch) and then joins the loop in store_pool_wait(), taking
 * items itself until none is left.  Items are handed out with an atomic
 * counter; each call of fn gets the index of the thread running it, so a
 * loop can keep per-thread scratch (a ZSTD context) without locking.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "store_int.h"

struct store_pool {
	unsigned nthreads;		/* workers, not counting the caller */
	pthread_t *threads;
	pthread_mutex_t lock;
	pthread_cond_t start;		/* a loop began, or shutdown */
	pthread_cond_t done;		/* a worker finished its part */
	/* the current loop; protected by lock except the counters */
	store_pool_fn fn;
	void *ctx;
	unsigned n;
	_Atomic unsigned next;		/* next item to hand out */
	unsigned generation;		/* bumped per loop */
	unsigned busy;			/* workers still in the loop */
	bool quit;
};

struct worker_arg {
	struct store_pool *p;
	unsigned id;
};

/* Take items until none is left. */
static void drain(struct store_pool *p, store_pool_fn fn, void *ctx,
		  unsigned n, unsigned id)
{
	for (;;) {
		unsigned i = atomic_fetch_add(&p->next, 1);

		if (i >= n)
			break;
		fn(ctx, id, i);
	}
}

static void *worker(void *arg)
{
	struct worker_arg *wa = arg;
	struct store_pool *p = wa->p;
	unsigned id = wa->id, seen = 0;

	free(wa);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->quit && p->generation == seen)
			pthread_cond_wait(&p->start, &p->lock);
		if (p->quit)
			break;
		seen = p->generation;
		{
			store_pool_fn fn = p->fn;
			void *ctx = p->ctx;
			unsigned n = p->n;

			pthread_mutex_unlock(&p->lock);
			drain(p, fn, ctx, n, id);
			pthread_mutex_lock(&p->lock);
		}
		if (--p->busy == 0)
			pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

unsigned store_pool_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	if (n > 8)
		n = 8;
	return (unsigned)n - 1;		/* the caller is the last one */
}

struct store_pool *store_pool_new(unsigned nthreads)
{
	struct store_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->start, NULL);
	pthread_cond_init(&p->done, NULL);
	if (nthreads) {
		p->threads = calloc(nthreads, sizeof(*p->threads));
		if (!p->threads)
			goto fail;
	}
	for (unsigned i = 0; i < nthreads; i++) {
		struct worker_arg *wa = malloc(sizeof(*wa));

		if (!wa)
			goto fail;
		wa->p = p;
		wa->id = i;
		if (pthread_create(&p->threads[i], NULL, worker, wa) != 0) {
			free(wa);
			goto fail;
		}
		p->nthreads++;
	}
	return p;
fail:
	store_pool_free(p);
	return NULL;
}

void store_pool_free(struct store_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->start);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
}

unsigned store_pool_threads(const struct store_pool *p)
{
	return p ? p->nthreads + 1 : 1;
}

void store_pool_start(struct store_pool *p, unsigned n, store_pool_fn fn,
		      void *ctx)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->fn = fn;
	p->ctx = ctx;
	p->n = n;
	atomic_store(&p->next, 0);
	p->busy = p->nthreads;
	p->generation++;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->lock);
}

void store_pool_wait(struct store_pool *p, unsigned n, store_pool_fn fn,
		     void *ctx)
{
	if (!p) {
		for (unsigned i = 0; i < n; i++)
			fn(ctx, 0, i);
		return;
	}
	drain(p, fn, ctx, n, p->nthreads);
	pthread_mutex_lock(&p->lock);
	while (p->busy > 0)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
}
