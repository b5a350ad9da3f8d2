/* SPDX-License-Identifier: MIT */
/*
 * follow.c - `pxfs mount --follow REF`: keep a mount of a published
 * snapshot on the latest publication its tag points at.
 *
 * A thread asks the connector where the tag points every few seconds.
 * When it moved, the new snapshot is fetched and verified into its own
 * directory beside the current one (store_ref_open), and the store handle
 * is switched to it in one step (store_switch_index): a request sees the
 * old namespace or the new one, never a mix.  Files already open keep
 * reading what they opened, since objects are immutable and found by
 * key; the snapshot's change log lets the mount's watcher tell the
 * kernel which cached entries changed.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "follow.h"

struct fs_follow {
	struct store *st;		/* borrowed; thread-safe */
	struct store_ref ref;		/* the tag reference */
	char dir[PATH_MAX];		/* where snapshots are kept */
	char key[STORE_KEY_HEX + 1];	/* the snapshot served now */
	unsigned interval_ms;
	pthread_t thread;
	pthread_mutex_t lock;		/* guards stop */
	pthread_cond_t wake;
	bool stop;
	char last_err[256];		/* log a failure once, not every poll */
};

static void poll_once(struct fs_follow *f)
{
	struct store *tmp = NULL;
	char key[STORE_KEY_HEX + 1], sdir[PATH_MAX + STORE_KEY_HEX + 2];
	store_rc rc;

	rc = store_ref_resolve(&f->ref, key);
	if (rc == STORE_OK && strcmp(key, f->key) == 0) {
		f->last_err[0] = '\0';
		return;
	}
	if (rc == STORE_OK)
		rc = store_ref_open(&f->ref, key, f->dir, &tmp);
	store_close(tmp);
	if (rc == STORE_OK) {
		snprintf(sdir, sizeof(sdir), "%s/%s", f->dir, key);
		rc = store_switch_index(f->st, sdir);
	}
	if (rc != STORE_OK) {
		if (strcmp(f->last_err, store_last_error())) {
			snprintf(f->last_err, sizeof(f->last_err), "%s",
				 store_last_error());
			store_log(STORE_LOG_WARNING, "follow '%s': %s; still"
				  " serving snapshot %.12s", f->ref.id,
				  f->last_err, f->key);
		}
		return;
	}
	store_log(STORE_LOG_NOTICE, "follow '%s': now serving snapshot %s",
		  f->ref.id, key);
	memcpy(f->key, key, sizeof(f->key));
	f->last_err[0] = '\0';
}

static void *follow_main(void *arg)
{
	struct fs_follow *f = arg;
	struct timespec until;

	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += f->interval_ms / 1000;
		until.tv_nsec += (long)(f->interval_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		while (!f->stop &&
		       pthread_cond_timedwait(&f->wake, &f->lock, &until) == 0)
			;
		if (f->stop)
			break;
		pthread_mutex_unlock(&f->lock);
		poll_once(f);
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int fs_follow_start(struct store *st, const char *ref, unsigned interval_ms,
		    struct fs_follow **out)
{
	struct fs_follow *f;
	const char *path = store_path(st), *slash = strrchr(path, '/');
	size_t dlen;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f) {
		store_log(STORE_LOG_ERR, "out of memory");
		return -1;
	}
	if (store_ref_parse(ref, &f->ref) != STORE_OK ||
	    f->ref.kind != STORE_REF_TAG) {
		store_log(STORE_LOG_ERR, "--follow needs a tag reference: %s",
			  store_last_error());
		free(f);
		return -1;
	}
	/* the mount serves DIR/KEY, as store_ref_open() keeps it */
	dlen = slash ? (size_t)(slash - path) : 0;
	if (!slash || strlen(slash + 1) != STORE_KEY_HEX ||
	    !store_is_key(slash + 1) || dlen >= sizeof(f->dir)) {
		store_log(STORE_LOG_ERR, "--follow: '%s' is not a snapshot"
			  " kept by a reference", path);
		free(f);
		return -1;
	}
	memcpy(f->dir, path, dlen);
	f->dir[dlen] = '\0';
	memcpy(f->key, slash + 1, sizeof(f->key));
	f->st = st;
	f->interval_ms = interval_ms ? interval_ms : 2000;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	if (pthread_create(&f->thread, NULL, follow_main, f) != 0) {
		store_log(STORE_LOG_ERR, "cannot start the follow thread");
		pthread_cond_destroy(&f->wake);
		pthread_mutex_destroy(&f->lock);
		free(f);
		return -1;
	}
	*out = f;
	return 0;
}

void fs_follow_stop(struct fs_follow *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
