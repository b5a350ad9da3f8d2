/* SPDX-License-Identifier: MIT */
/*
 * store.c - the store facade: ties the index, the connector, the codec and
 * the hashes into the operations of store.h.
 *
 * Order of durability.  A blob is written to a connector temporary, made
 * durable and renamed under its key *before* the index row naming it is
 * committed, so the index never points at a blob that is not whole.  A blob
 * whose last reference goes away is evicted only *after* the commit that
 * dropped it.  A crash between the two leaves a blob no row names: fsck
 * reports it, gc removes it.
 *
 * The gc lock.  gc must not remove a blob that a writer has renamed into
 * place but not yet committed a row for.  Writers hold a shared flock on
 * STORE/lock from before they write a blob until their commit; gc takes it
 * exclusively.  Evicting after a commit re-checks, under a non-blocking
 * exclusive lock, that no row names the key (another writer may have
 * stored the same content meanwhile).  When the lock is busy (another
 * process, or another handle, is writing) the keys wait on st->pending:
 * the next eviction that gets the lock takes them too, and so do
 * store_evict_pending() (a mount's janitor calls it) and store_close()
 * (which waits a little for the lock).  Only what is still pending when
 * the handle closes, or falls off the bounded list, is left for gc.
 *
 * Threads.  st->lock (recursive) serialises SQLite and the batch state.
 * Compressing, hashing and connector traffic run outside it, so one slow
 * read or put does not stall metadata calls.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "conn.h"
#include "crash.h"
#include "hash.h"
#include "store_int.h"
#include "zcomp.h"

#define CONFIG_NAME	"config"
#define INDEX_NAME	"index.db"
#define LOCK_NAME	"lock"
#define TYPE_SNIFF	16384		/* bytes libmagic looks at */
#define TYPE_DEFAULT	"application/octet-stream"
#define BATCH_FSYNC_MAX	4		/* blobs a batch syncs one by one */
#define PENDING_MAX	16384		/* deferred evictions kept (1 MiB) */
#define PENDING_POLL_MS	10		/* store_evict_pending() retry step */
#define CLOSE_WAIT_MS	2000		/* store_close()'s last try, at most */

/* ---- small helpers ----------------------------------------------------- */

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);

	if (!p)
		return NULL;
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

bool store_is_key(const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; i < STORE_KEY_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

bool store_is_tag_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 64 || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static store_rc check_name(const char *name)
{
	size_t n;

	if (!name)
		return store_fail(STORE_INVAL, "missing name");
	n = strlen(name);
	if (n == 0 || !strcmp(name, ".") || !strcmp(name, "..") ||
	    strchr(name, '/'))
		return store_fail(STORE_INVAL, "invalid name '%s'", name);
	if (n > STORE_NAME_MAX)
		return store_fail(STORE_NAMETOOLONG, "name '%.40s...' is"
				  " longer than %d bytes", name,
				  STORE_NAME_MAX);
	return STORE_OK;
}

static bool keylist_has(const struct store_keylist *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->keys[i], key))
			return true;
	return false;
}

static store_rc keylist_add(struct store_keylist *l, const char *key)
{
	if (keylist_has(l, key))
		return STORE_OK;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *p = realloc(l->keys, cap * sizeof(*l->keys));

		if (!p)
			return store_fail(STORE_NOMEM, "out of memory");
		l->keys = p;
		l->cap = cap;
	}
	memcpy(l->keys[l->n++], key, STORE_KEY_HEX + 1);
	return STORE_OK;
}

static void keylist_release(struct store_keylist *l)
{
	free(l->keys);
	l->keys = NULL;
	l->n = l->cap = 0;
}

static void count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Open STORE/lock and flock it @how into *@fd (-1 on failure, recorded:
 * STORE_BUSY when LOCK_NB found it held). */
static store_rc gc_lock_try(struct store *st, int how, int *fd)
{
	char *p = join(st->path, LOCK_NAME);
	store_rc rc = STORE_OK;
	int saverr;

	*fd = -1;
	if (!p)
		return store_fail(STORE_NOMEM, "out of memory");
	*fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0) {
		saverr = errno;
		rc = store_fail_errno(saverr, "cannot open lock '%s'", p);
		free(p);
		return rc;
	}
	while (flock(*fd, how) < 0) {
		saverr = errno;
		if (saverr == EINTR)
			continue;
		if (saverr != EWOULDBLOCK)
			rc = store_fail_errno(saverr, "cannot lock '%s'", p);
		else
			rc = store_fail(STORE_BUSY, "store '%s' is busy",
					st->path);
		close(*fd);
		*fd = -1;
		break;
	}
	free(p);
	return rc;
}

/* gc_lock_try() for callers that need only the descriptor. */
static int gc_lock(struct store *st, int how)
{
	int fd;

	gc_lock_try(st, how, &fd);
	return fd;
}

static void gc_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* drops the flock */
}

/* ---- create, open, close ----------------------------------------------- */

store_rc store_write_file(const char *final, const void *text, size_t len)
{
	size_t n = strlen(final) + 5;
	char *tmp = malloc(n);
	store_rc rc = STORE_OK;
	int fd = -1;

	if (tmp)
		snprintf(tmp, n, "%s.tmp", final);
	if (!tmp) {
		rc = store_fail(STORE_NOMEM, "out of memory");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = store_fail_errno(errno, "cannot create '%s'", tmp);
		goto out;
	}
	if (store_write_all(fd, text, len) < 0 || fsync(fd) < 0) {
		rc = store_fail_errno(errno, "cannot write '%s'", tmp);
		goto out;
	}
	if (rename(tmp, final) < 0) {
		rc = store_fail_errno(errno, "cannot rename '%s'", tmp);
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	if (rc != STORE_OK && tmp)
		unlink(tmp);
	free(tmp);
	return rc;
}

static store_rc write_config(const char *path, const char *text, size_t len)
{
	char *final = join(path, CONFIG_NAME);
	store_rc rc;

	if (!final)
		return store_fail(STORE_NOMEM, "out of memory");
	rc = store_write_file(final, text, len);
	free(final);
	return rc;
}

/* Is @path a directory holding a store (config present), and if not, is
 * it empty?  Missing is fine: *exists false. */
static store_rc probe_dir(const char *path, bool *exists, bool *is_store,
			  bool *empty)
{
	struct stat sb;
	struct dirent *de;
	char *cfg;
	DIR *d;

	*exists = *is_store = false;
	*empty = true;
	if (stat(path, &sb) < 0) {
		if (errno == ENOENT)
			return STORE_OK;
		return store_fail_errno(errno, "cannot use '%s'", path);
	}
	if (!S_ISDIR(sb.st_mode))
		return store_fail(STORE_NOTDIR, "'%s' is not a directory",
				  path);
	*exists = true;
	cfg = join(path, CONFIG_NAME);
	if (!cfg)
		return store_fail(STORE_NOMEM, "out of memory");
	*is_store = stat(cfg, &sb) == 0;
	free(cfg);
	d = opendir(path);
	if (!d)
		return store_fail_errno(errno, "cannot read '%s'", path);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			*empty = false;
			break;
		}
	}
	closedir(d);
	return STORE_OK;
}

static void remove_created(const char *path, bool made_dir)
{
	static const char *const names[] = {
		CONFIG_NAME, CONFIG_NAME ".tmp", INDEX_NAME,
		INDEX_NAME "-wal", INDEX_NAME "-shm", LOCK_NAME,
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = join(path, names[i]);

		if (p)
			unlink(p);
		free(p);
	}
	/* the connector's empty layout */
	{
		char *objs = join(path, "objects");
		char *tmp = objs ? join(objs, "tmp") : NULL;

		if (tmp)
			rmdir(tmp);
		if (objs)
			rmdir(objs);
		free(tmp);
		free(objs);
	}
	if (made_dir)
		rmdir(path);
}

/* Read the Redis password: $PXFS_REDIS_PASSWORD, else the first line of
 * @file, which must be a regular file of ours that no one else may read. */
static store_rc redis_password(const char *file, char *out, size_t cap)
{
	const char *env = getenv("PXFS_REDIS_PASSWORD");
	struct stat sb;
	ssize_t n;
	store_rc rc = STORE_OK;
	int fd;

	out[0] = '\0';
	if (env && *env) {
		if (strlen(env) >= cap)
			return store_fail(STORE_INVAL, "PXFS_REDIS_PASSWORD is"
					  " too long");
		snprintf(out, cap, "%s", env);
		return STORE_OK;
	}
	if (!file || !*file)
		return STORE_OK;
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return store_fail_errno(errno, "cannot open password file"
					" '%s'", file);
	if (fstat(fd, &sb) < 0) {
		rc = store_fail_errno(errno, "cannot stat password file '%s'",
				      file);
	} else if (!S_ISREG(sb.st_mode) || (sb.st_mode & 077) ||
		   sb.st_uid != geteuid()) {
		rc = store_fail(STORE_PERM, "password file '%s' must be a"
				" regular file of yours with mode 0600", file);
	} else {
		n = store_read_full(fd, out, cap - 1);
		if (n < 0) {
			rc = store_fail_errno(errno, "cannot read password"
					      " file '%s'", file);
			n = 0;
		}
		out[n] = '\0';
		out[strcspn(out, "\r\n")] = '\0';
	}
	close(fd);
	return rc;
}

store_rc store_conn_from_config(const char *path,
				const struct store_config_file *cfg,
				bool create, struct store_conn **out)
{
	struct store_redis_opts ro;
	char password[512];
	char *p;
	store_rc rc;

	*out = NULL;
	if (!strcmp(cfg->connector, "redis")) {
		rc = redis_password(cfg->redis_password_file, password,
				    sizeof(password));
		if (rc != STORE_OK)
			return rc;
		memset(&ro, 0, sizeof(ro));
		ro.url = cfg->redis_url;
		ro.prefix = cfg->redis_prefix;
		ro.password = password[0] ? password : NULL;
		ro.connect_timeout_ms = cfg->redis_connect_ms;
		ro.command_timeout_ms = cfg->redis_command_ms;
		rc = store_conn_redis_open(&ro, out);
		explicit_bzero(password, sizeof(password));
		return rc;
	}
	/* relative to the store, or (a snapshot's copy) absolute */
	p = cfg->file_dir[0] == '/' ? strdup(cfg->file_dir) :
	    join(path, cfg->file_dir);
	if (!p)
		return store_fail(STORE_NOMEM, "out of memory");
	rc = store_conn_file_open(p, create, out);
	free(p);
	return rc;
}

store_rc store_create(const char *path, const struct store_create_opts *o)
{
	struct store_config_file cfg;
	struct store_create_opts def = { 0 };
	struct store tmp;
	struct store_conn *conn = NULL;
	bool exists, is_store, empty, made_dir = false;
	uint8_t rnd[16];
	char text[1024], *p = NULL;
	size_t len;
	store_rc rc;
	int fd;

	if (!path || !*path)
		return store_fail(STORE_INVAL, "missing store path");
	if (!o)
		o = &def;
	memset(&cfg, 0, sizeof(cfg));
	cfg.format = 1;
	snprintf(cfg.connector, sizeof(cfg.connector), "%s",
		 o->connector ? o->connector : "file");
	if (strcmp(cfg.connector, "file") && strcmp(cfg.connector, "redis"))
		return store_fail(STORE_INVAL, "unknown connector '%s' (file"
				  " or redis)", o->connector);
	if (!strcmp(cfg.connector, "redis")) {
		if (!o->url || !*o->url)
			return store_fail(STORE_INVAL, "the redis connector"
					  " needs a URL");
		if (strlen(o->url) >= sizeof(cfg.redis_url) ||
		    strpbrk(o->url, " \t\r\n"))
			return store_fail(STORE_INVAL, "bad redis URL");
		snprintf(cfg.redis_url, sizeof(cfg.redis_url), "%s", o->url);
		if (o->prefix && (strlen(o->prefix) >=
				  sizeof(cfg.redis_prefix) ||
				  strpbrk(o->prefix, " \t\r\n")))
			return store_fail(STORE_INVAL, "bad redis prefix '%s'",
					  o->prefix);
		snprintf(cfg.redis_prefix, sizeof(cfg.redis_prefix), "%s",
			 o->prefix ? o->prefix : "");
		if (o->password_file && (*o->password_file != '/' ||
					 strlen(o->password_file) >=
					 sizeof(cfg.redis_password_file)))
			return store_fail(STORE_INVAL, "password file '%s'"
					  " must be an absolute path",
					  o->password_file);
		snprintf(cfg.redis_password_file,
			 sizeof(cfg.redis_password_file), "%s",
			 o->password_file ? o->password_file : "");
		cfg.redis_connect_ms = o->connect_timeout_ms;
		cfg.redis_command_ms = o->command_timeout_ms;
	} else if (o->url || o->prefix || o->password_file) {
		return store_fail(STORE_INVAL, "URL, prefix and password file"
				  " are for the redis connector");
	}
	cfg.chunk_size = o->chunk_size ? o->chunk_size : STORE_CHUNK_DEFAULT;
	if (cfg.chunk_size < STORE_CHUNK_MIN ||
	    cfg.chunk_size > STORE_CHUNK_MAX ||
	    (cfg.chunk_size & (cfg.chunk_size - 1)))
		return store_fail(STORE_INVAL, "chunk size %u is not a power"
				  " of two from %u to %u", cfg.chunk_size,
				  STORE_CHUNK_MIN, STORE_CHUNK_MAX);
	cfg.level = o->level ? o->level : STORE_LEVEL_DEFAULT;
	if (cfg.level < 1 || cfg.level > 19)
		return store_fail(STORE_INVAL, "level %d is not from 1 to 19",
				  cfg.level);
	snprintf(cfg.file_dir, sizeof(cfg.file_dir), "objects");
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return store_fail_errno(errno, "cannot draw a store id");
	store_hex(rnd, sizeof(rnd), cfg.id);

	rc = probe_dir(path, &exists, &is_store, &empty);
	if (rc != STORE_OK)
		return rc;
	if (is_store)
		return store_fail(STORE_EXISTS, "'%s' is already a store",
				  path);
	if (exists && !empty)
		return store_fail(STORE_INVAL, "'%s' is not empty and not a"
				  " store", path);
	if (!exists) {
		if (mkdir(path, 0700) < 0)
			return store_fail_errno(errno, "cannot create '%s'",
						path);
		made_dir = true;
	} else if (chmod(path, 0700) < 0) {
		return store_fail_errno(errno, "cannot chmod '%s'", path);
	}

	/* the connector first: a Redis that cannot be reached or refuses
	 * the password fails the init before anything is written */
	rc = store_conn_from_config(path, &cfg, true, &conn);
	if (rc == STORE_OK && conn->ops->check)
		rc = conn->ops->check(conn);
	if (conn)
		conn->ops->close(conn);
	if (rc != STORE_OK)
		goto fail;

	p = join(path, LOCK_NAME);
	if (!p) {
		rc = store_fail(STORE_NOMEM, "out of memory");
		goto fail;
	}
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = store_fail_errno(errno, "cannot create '%s'", p);
		goto fail;
	}
	close(fd);
	free(p);

	p = join(path, INDEX_NAME);
	if (!p) {
		rc = store_fail(STORE_NOMEM, "out of memory");
		goto fail;
	}
	memset(&tmp, 0, sizeof(tmp));
	tmp.path = (char *)(uintptr_t)path;
	rc = store_index_open(&tmp, p, true);
	if (rc != STORE_OK)
		goto fail;
	store_index_close(&tmp);

	/* The config goes last: its presence is what makes a store. */
	len = store_config_format(&cfg, text, sizeof(text));
	if (!len) {
		rc = store_fail(STORE_INVAL, "config does not fit");
		goto fail;
	}
	rc = write_config(path, text, len);
	if (rc != STORE_OK)
		goto fail;
	free(p);
	return STORE_OK;
fail:
	free(p);
	remove_created(path, made_dir);
	return rc;
}

static store_rc read_config(const char *path, struct store_config_file *cfg)
{
	char *p = join(path, CONFIG_NAME);
	char text[8192];
	ssize_t n;
	store_rc rc;
	int fd = -1;

	if (!p)
		return store_fail(STORE_NOMEM, "out of memory");
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int saverr = errno;

		if (saverr == ENOENT)
			rc = store_fail(STORE_INVAL, "'%s' is not a pxfs store"
					" (no config)", path);
		else
			rc = store_fail_errno(saverr, "cannot open '%s'", p);
		goto out;
	}
	n = store_read_full(fd, text, sizeof(text));
	if (n < 0) {
		rc = store_fail_errno(errno, "cannot read '%s'", p);
		goto out;
	}
	if ((size_t)n == sizeof(text)) {
		rc = store_fail(STORE_CORRUPT, "config '%s' is too large", p);
		goto out;
	}
	rc = store_config_parse(text, (size_t)n, p, cfg);
out:
	if (fd >= 0)
		close(fd);
	free(p);
	return rc;
}

store_rc store_open(const char *path, unsigned flags, struct store **out)
{
	struct store_config_file cfg;
	pthread_mutexattr_t ma;
	struct store *st = NULL;
	struct stat sb;
	char *p = NULL;
	store_rc rc;

	if (!out)
		return store_fail(STORE_INVAL, "missing result pointer");
	*out = NULL;
	if (!path || !*path)
		return store_fail(STORE_INVAL, "missing store path");
	if (stat(path, &sb) < 0)
		return store_fail_errno(errno, "cannot open store '%s'", path);
	if (!S_ISDIR(sb.st_mode))
		return store_fail(STORE_INVAL, "'%s' is not a pxfs store (not"
				  " a directory)", path);
	rc = read_config(path, &cfg);
	if (rc != STORE_OK)
		return rc;

	st = calloc(1, sizeof(*st));
	if (!st)
		return store_fail(STORE_NOMEM, "out of memory");
	st->batch_lockfd = -1;
	st->cfg = cfg;
	/* a published snapshot's local copy is never changed */
	st->flags = flags | (cfg.snapshot[0] ? STORE_OPEN_RDONLY : 0);
	st->chunk_size = cfg.chunk_size;
	st->level = cfg.level;
	memcpy(st->id, cfg.id, sizeof(st->id));
	memcpy(st->connector, cfg.connector, sizeof(st->connector));
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&st->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	st->path = strdup(path);
	if (!st->path) {
		rc = store_fail(STORE_NOMEM, "out of memory");
		goto fail;
	}
	p = join(path, INDEX_NAME);
	if (!p) {
		rc = store_fail(STORE_NOMEM, "out of memory");
		goto fail;
	}
	if (access(p, F_OK) < 0) {
		rc = store_fail(STORE_CORRUPT, "store '%s' has no index", path);
		goto fail;
	}
	rc = store_index_open(st, p, false);
	if (rc != STORE_OK)
		goto fail;
	free(p);
	p = NULL;
	rc = store_conn_from_config(path, &cfg, false, &st->conn);
	if (rc != STORE_OK)
		goto fail;
	*out = st;
	return STORE_OK;
fail:
	free(p);
	store_close(st);
	return rc;
}

static void rollback_locked(struct store *st);

void store_close(struct store *st)
{
	store_rc rc = STORE_OK;

	if (!st)
		return;
	if (st->in_batch) {
		rollback_locked(st);
		pthread_mutex_unlock(&st->lock);
	}
	/* a short-lived handle (a CLI command) cleans up after itself even
	 * when another process was writing as it dropped an object */
	if (st->pending.n)
		rc = store_evict_pending(st, CLOSE_WAIT_MS);
	if (rc != STORE_OK && rc != STORE_BUSY)
		store_log(STORE_LOG_WARNING, "%zu unused blobs of store '%s' "
			  "left for 'pxfs gc': %s", st->pending.n +
			  st->pending_lost, st->path, store_last_error());
	else if (st->pending.n + st->pending_lost > 0)
		store_log(STORE_LOG_INFO, "store '%s' busy: %zu unused blobs"
			  " left for 'pxfs gc'", st->path,
			  st->pending.n + st->pending_lost);
	if (st->conn)
		st->conn->ops->close(st->conn);
	store_index_close(st);
	if (st->magic)
		magic_close(st->magic);
	keylist_release(&st->evict);
	keylist_release(&st->fresh);
	keylist_release(&st->pending);
	pthread_mutex_destroy(&st->lock);
	free(st->path);
	free(st);
}

const char *store_path(const struct store *st)
{
	return st->path;
}

uint32_t store_chunk_size(const struct store *st)
{
	return st->chunk_size;
}

int store_level(const struct store *st)
{
	return st->level;
}

const char *store_connector_name(const struct store *st)
{
	return st->connector;
}

store_rc store_check_connector(struct store *st)
{
	if (!st->conn->ops->check)
		return STORE_OK;
	return st->conn->ops->check(st->conn);
}

const char *store_id(const struct store *st)
{
	return st->id;
}

void store_set_progress(struct store *st, store_progress_fn fn, void *arg)
{
	pthread_mutex_lock(&st->lock);
	st->progress = fn;
	st->progress_arg = arg;
	pthread_mutex_unlock(&st->lock);
}

void store_metrics_get(struct store *st, struct store_metrics *m)
{
	m->conn_gets = atomic_load(&st->m.conn_gets);
	m->conn_get_bytes = atomic_load(&st->m.conn_get_bytes);
	m->conn_puts = atomic_load(&st->m.conn_puts);
	m->conn_put_bytes = atomic_load(&st->m.conn_put_bytes);
	m->conn_evicts = atomic_load(&st->m.conn_evicts);
	m->conn_errors = atomic_load(&st->m.conn_errors);
	m->corrupt = atomic_load(&st->m.corrupt);
	m->ingested = atomic_load(&st->m.ingested);
	m->deduped = atomic_load(&st->m.deduped);
}

/* ---- reading the namespace --------------------------------------------- */

static store_rc node_get(struct store *st, uint64_t ino, struct store_node *out)
{
	sqlite3_stmt *s = store_index_stmt(st, SQL_NODE_BY_INO);
	store_rc rc;

	if (!s)
		return STORE_IO;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	rc = store_index_step_row(st, s);
	if (rc == STORE_OK)
		store_index_row_node(s, out);
	else if (rc == STORE_NOTFOUND)
		store_fail(rc, "no node %llu", (unsigned long long)ino);
	sqlite3_reset(s);
	return rc;
}

static store_rc node_lookup(struct store *st, uint64_t parent,
			    const char *name, struct store_node *out)
{
	sqlite3_stmt *s = store_index_stmt(st, SQL_NODE_LOOKUP);
	store_rc rc;

	if (!s)
		return STORE_IO;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)parent);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	rc = store_index_step_row(st, s);
	if (rc == STORE_OK)
		store_index_row_node(s, out);
	else if (rc == STORE_NOTFOUND)
		store_fail(rc, "'%s': no such entry", name);
	sqlite3_reset(s);
	return rc;
}

/* The directory @ino, or STORE_NOTDIR / STORE_NOTFOUND. */
static store_rc dir_get(struct store *st, uint64_t ino, struct store_node *out)
{
	store_rc rc = node_get(st, ino, out);

	if (rc == STORE_OK && !S_ISDIR(out->mode))
		rc = store_fail(STORE_NOTDIR, "'%s' is not a directory",
				out->name);
	return rc;
}

store_rc store_getattr(struct store *st, uint64_t ino, struct store_node *out)
{
	store_rc rc;

	pthread_mutex_lock(&st->lock);
	rc = node_get(st, ino, out);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

store_rc store_lookup(struct store *st, uint64_t parent, const char *name,
		      struct store_node *out)
{
	store_rc rc = check_name(name);

	if (rc != STORE_OK)
		return rc;
	pthread_mutex_lock(&st->lock);
	rc = node_lookup(st, parent, name, out);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

store_rc store_walk(struct store *st, const char *path, struct store_node *out)
{
	struct store_node n;
	char name[STORE_NAME_MAX + 1];
	const char *p = path ? path : "";
	store_rc rc;

	pthread_mutex_lock(&st->lock);
	rc = node_get(st, STORE_ROOT_INO, &n);
	while (rc == STORE_OK) {
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		len = strcspn(p, "/");
		if (len == 1 && p[0] == '.') {
			p += len;
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			rc = store_fail(STORE_INVAL, "path '%s' leaves the"
					" namespace ('..')", path);
			break;
		}
		if (len > STORE_NAME_MAX) {
			rc = store_fail(STORE_NAMETOOLONG, "a name in '%s' is"
					" longer than %d bytes", path,
					STORE_NAME_MAX);
			break;
		}
		if (!S_ISDIR(n.mode)) {
			rc = store_fail(STORE_NOTDIR, "'%s': '%s' is not a"
					" directory", path, n.name);
			break;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		rc = node_lookup(st, n.ino, name, &n);
		if (rc == STORE_NOTFOUND)
			store_fail(rc, "'%s': no such file or directory",
				   path);
		p += len;
	}
	if (rc == STORE_OK)
		*out = n;
	pthread_mutex_unlock(&st->lock);
	return rc;
}

store_rc store_readdir(struct store *st, uint64_t dir, uint64_t after,
		       int (*fn)(void *arg, const struct store_node *n),
		       void *arg)
{
	struct store_node n;
	sqlite3_stmt *s;
	store_rc rc;
	int r;

	pthread_mutex_lock(&st->lock);
	rc = dir_get(st, dir, &n);
	if (rc != STORE_OK)
		goto out;
	s = store_index_stmt(st, SQL_NODE_CHILDREN);
	if (!s) {
		rc = STORE_IO;
		goto out;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)dir);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)after);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		store_index_row_node(s, &n);
		if (fn(arg, &n))
			break;
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = store_index_fail(st, "read directory");
	sqlite3_reset(s);
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

store_rc store_readlink(struct store *st, uint64_t ino, char *buf, size_t len)
{
	sqlite3_stmt *s;
	store_rc rc;

	pthread_mutex_lock(&st->lock);
	s = store_index_stmt(st, SQL_NODE_TARGET);
	if (!s) {
		rc = STORE_IO;
		goto out;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	rc = store_index_step_row(st, s);
	if (rc == STORE_NOTFOUND) {
		store_fail(rc, "no node %llu", (unsigned long long)ino);
	} else if (rc == STORE_OK) {
		size_t n = (size_t)sqlite3_column_bytes(s, 0);
		const unsigned char *t = sqlite3_column_text(s, 0);

		if (!S_ISLNK((mode_t)sqlite3_column_int64(s, 1)) || !t)
			rc = store_fail(STORE_INVAL, "node %llu is not a"
					" symlink", (unsigned long long)ino);
		else if (n + 1 > len)
			rc = store_fail(STORE_INVAL, "symlink target too"
					" long for the buffer");
		else
			memcpy(buf, t, n + 1);
	}
	sqlite3_reset(s);
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static store_rc object_get(struct store *st, const char *key,
			   struct store_object *out)
{
	sqlite3_stmt *s = store_index_stmt(st, SQL_OBJ_GET);
	store_rc rc;

	if (!s)
		return STORE_IO;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = store_index_step_row(st, s);
	if (rc == STORE_OK)
		store_index_row_object(s, out);
	else if (rc == STORE_NOTFOUND)
		store_fail(rc, "no object with key '%s'", key);
	sqlite3_reset(s);
	return rc;
}

store_rc store_object_info(struct store *st, const char *key,
			   struct store_object *out)
{
	store_rc rc;

	if (!store_is_key(key))
		return store_fail(STORE_INVAL, "'%s' is not a key (64 lowercase"
				  " hex digits)", key ? key : "");
	pthread_mutex_lock(&st->lock);
	rc = object_get(st, key, out);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* ---- batches and write transactions ----------------------------------- */

/*
 * Every change runs between wr_begin() and wr_end().  Outside a batch that
 * is its own BEGIN IMMEDIATE .. COMMIT; inside one it is a savepoint, so a
 * failed change leaves the batch as it was before that change.
 */
static void evict_unnamed(struct store *st, struct store_keylist *l);

static store_rc wr_begin(struct store *st)
{
	store_rc rc;

	pthread_mutex_lock(&st->lock);
	if (st->flags & STORE_OPEN_RDONLY) {
		pthread_mutex_unlock(&st->lock);
		return store_fail(STORE_ROFS, "store '%s' is open read-only",
				  st->path);
	}
	if (st->in_batch)
		rc = store_index_exec(st, "SAVEPOINT op");
	else
		rc = store_index_exec(st, "BEGIN IMMEDIATE");
	if (rc != STORE_OK)
		pthread_mutex_unlock(&st->lock);
	return rc;
}

static store_rc wr_end(struct store *st, store_rc rc)
{
	if (st->in_batch) {
		if (rc != STORE_OK)
			sqlite3_exec(st->db, "ROLLBACK TO op", NULL, NULL,
				     NULL);
		sqlite3_exec(st->db, "RELEASE op", NULL, NULL, NULL);
		pthread_mutex_unlock(&st->lock);
		return rc;
	}
	if (rc == STORE_OK) {
		store_crash_point("index-commit");
		rc = store_index_exec(st, "COMMIT");
	}
	if (rc != STORE_OK) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		st->evict.n = 0;
	} else {
		store_crash_point("index-committed");
	}
	evict_unnamed(st, &st->evict);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

store_rc store_begin(struct store *st)
{
	store_rc rc;
	int fd;

	pthread_mutex_lock(&st->lock);
	if (st->in_batch) {
		pthread_mutex_unlock(&st->lock);
		return store_fail(STORE_INVAL, "a batch is already open");
	}
	if (st->flags & STORE_OPEN_RDONLY) {
		pthread_mutex_unlock(&st->lock);
		return store_fail(STORE_ROFS, "store '%s' is open read-only",
				  st->path);
	}
	fd = gc_lock(st, LOCK_SH);
	if (fd < 0) {
		pthread_mutex_unlock(&st->lock);
		return STORE_IO;
	}
	rc = store_index_exec(st, "BEGIN IMMEDIATE");
	if (rc != STORE_OK) {
		gc_unlock(fd);
		pthread_mutex_unlock(&st->lock);
		return rc;
	}
	st->batch_lockfd = fd;
	st->in_batch = true;
	/* the mutex stays held until commit or rollback */
	return STORE_OK;
}

static void end_batch(struct store *st)
{
	st->in_batch = false;
	st->batch_puts = 0;
	gc_unlock(st->batch_lockfd);
	st->batch_lockfd = -1;
}

store_rc store_commit(struct store *st)
{
	store_rc rc;

	pthread_mutex_lock(&st->lock);
	if (!st->in_batch) {
		pthread_mutex_unlock(&st->lock);
		return store_fail(STORE_INVAL, "no batch is open");
	}
	/* blobs become durable before the rows that name them */
	rc = STORE_OK;
	if (st->need_sync)
		rc = st->conn->ops->sync(st->conn);
	if (rc == STORE_OK) {
		st->need_sync = false;
		store_crash_point("index-commit");
		rc = store_index_exec(st, "COMMIT");
	}
	if (rc != STORE_OK) {
		rollback_locked(st);
		pthread_mutex_unlock(&st->lock);	/* ours */
		pthread_mutex_unlock(&st->lock);	/* the batch's */
		return rc;
	}
	end_batch(st);
	st->fresh.n = 0;
	store_crash_point("index-committed");
	evict_unnamed(st, &st->evict);
	pthread_mutex_unlock(&st->lock);
	pthread_mutex_unlock(&st->lock);
	return STORE_OK;
}

/* Undo the batch; called with the lock held (twice: the batch's and the
 * caller's, or once from store_close()). */
static void rollback_locked(struct store *st)
{
	st->need_sync = false;
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	end_batch(st);
	st->evict.n = 0;
	/* blobs this batch wrote for objects that are now unknown */
	evict_unnamed(st, &st->fresh);
}

void store_rollback(struct store *st)
{
	pthread_mutex_lock(&st->lock);
	if (!st->in_batch) {
		pthread_mutex_unlock(&st->lock);
		return;
	}
	rollback_locked(st);
	pthread_mutex_unlock(&st->lock);
	pthread_mutex_unlock(&st->lock);
}

/* Evict the blobs in @l that no object row names.  The caller holds
 * st->lock and the gc lock exclusively, so no writer can be between
 * putting a blob and committing the row that names it. */
static void evict_locked(struct store *st, const struct store_keylist *l)
{
	struct store_object o;
	uint64_t others = 0;

	for (size_t i = 0; i < l->n; i++) {
		store_rc rc;

		/* a hostile index's row: no blob a connector may name */
		if (!store_is_key(l->keys[i]))
			continue;
		rc = object_get(st, l->keys[i], &o);
		if (rc != STORE_NOTFOUND)
			continue;
		/* another store on the same connector may still name it */
		rc = st->conn->ops->unclaim(st->conn, l->keys[i], st->id,
					    &others);
		if (rc != STORE_OK || others > 0) {
			if (rc != STORE_OK)
				store_log(STORE_LOG_WARNING, "%s",
					  store_last_error());
			continue;
		}
		rc = st->conn->ops->evict(st->conn, l->keys[i]);
		if (rc == STORE_OK)
			count(&st->m.conn_evicts, 1);
		else
			store_log(STORE_LOG_WARNING, "%s", store_last_error());
	}
}

/* Keep @l's keys on st->pending for a later try; past PENDING_MAX they
 * are only counted (gc finds them).  Called with st->lock held. */
static void defer(struct store *st, const struct store_keylist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (keylist_has(&st->pending, l->keys[i]))
			continue;
		if (st->pending.n >= PENDING_MAX ||
		    keylist_add(&st->pending, l->keys[i]) != STORE_OK)
			st->pending_lost++;
	}
}

/* Evict the blobs in @l, and those pending, that no object row names,
 * then empty @l.  Under a non-blocking exclusive gc lock: a writer that
 * holds it shared may be about to commit a row for the same content;
 * then they all wait on st->pending. */
static void evict_unnamed(struct store *st, struct store_keylist *l)
{
	int fd;

	if (!l->n && !st->pending.n)
		return;
	fd = gc_lock(st, LOCK_EX | LOCK_NB);
	if (fd < 0) {
		defer(st, l);
	} else {
		evict_locked(st, l);
		evict_locked(st, &st->pending);
		st->pending.n = 0;
		gc_unlock(fd);
	}
	l->n = 0;
	store_clear_error();
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

store_rc store_evict_pending(struct store *st, int wait_ms)
{
	int64_t until = mono_ms() + (wait_ms > 0 ? wait_ms : 0);
	store_rc rc;
	int fd;

	for (;;) {
		pthread_mutex_lock(&st->lock);
		if (!st->pending.n) {
			pthread_mutex_unlock(&st->lock);
			return STORE_OK;
		}
		if (st->in_batch) {
			/* ours (it holds st->lock): it holds the gc lock
			 * shared, and its commit tries again */
			pthread_mutex_unlock(&st->lock);
			return store_fail(STORE_BUSY, "a batch is open on"
					  " store '%s'", st->path);
		}
		rc = gc_lock_try(st, LOCK_EX | LOCK_NB, &fd);
		if (rc == STORE_OK) {
			evict_locked(st, &st->pending);
			st->pending.n = 0;
			gc_unlock(fd);
			pthread_mutex_unlock(&st->lock);
			store_clear_error();
			return STORE_OK;
		}
		pthread_mutex_unlock(&st->lock);
		if (rc != STORE_BUSY || mono_ms() >= until)
			return rc;
		/* st->lock is not held while waiting: this handle's
		 * writers go on meanwhile */
		nanosleep(&(struct timespec){ .tv_nsec =
			  PENDING_POLL_MS * 1000000L }, NULL);
	}
}

/* Add @delta to @key's refs; at zero the object leaves the index and its
 * blob is queued for eviction after the commit. */
static store_rc ref_add(struct store *st, const char *key, int delta)
{
	sqlite3_stmt *s = store_index_stmt(st, SQL_OBJ_REF);
	int64_t refs;
	store_rc rc;

	if (!s)
		return STORE_IO;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, delta);
	rc = store_index_step_row(st, s);
	if (rc == STORE_NOTFOUND) {
		sqlite3_reset(s);
		return store_fail(rc, "no object with key '%s'", key);
	}
	if (rc != STORE_OK)
		return rc;
	refs = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (refs > 0)
		return STORE_OK;
	s = store_index_stmt(st, SQL_OBJ_DELETE);
	if (!s)
		return STORE_IO;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = store_index_step_done(st, s);
	if (rc != STORE_OK)
		return rc;
	s = store_index_stmt(st, SQL_CHUNK_DELETE);
	if (!s)
		return STORE_IO;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = store_index_step_done(st, s);
	if (rc != STORE_OK)
		return rc;
	return keylist_add(&st->evict, key);
}

/* ---- changing the namespace ------------------------------------------- */

static store_rc node_insert(struct store *st, uint64_t parent,
			    const char *name, const struct store_attr *a,
			    uint64_t size, const char *key, const char *type,
			    const char *target, uint32_t flags,
			    struct store_node *out)
{
	sqlite3_stmt *s = store_index_stmt(st, SQL_NODE_INSERT);
	int64_t now = store_now_ns();
	store_rc rc;

	if (!s)
		return STORE_IO;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)parent);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, a->mode);
	sqlite3_bind_int64(s, 4, a->uid);
	sqlite3_bind_int64(s, 5, a->gid);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)size);
	sqlite3_bind_int64(s, 7, a->mtime_ns ? a->mtime_ns : now);
	sqlite3_bind_int64(s, 8, now);
	if (key)
		sqlite3_bind_text(s, 9, key, -1, SQLITE_STATIC);
	if (type)
		sqlite3_bind_text(s, 10, type, -1, SQLITE_STATIC);
	if (target)
		sqlite3_bind_text(s, 11, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 12, flags);
	rc = store_index_step_done(st, s);
	if (rc == STORE_EXISTS)
		rc = store_fail(STORE_EXISTS, "'%s' already exists", name);
	if (rc != STORE_OK || !out)
		return rc;
	return node_get(st, (uint64_t)sqlite3_last_insert_rowid(st->db), out);
}

static store_rc node_delete(struct store *st, const struct store_node *n)
{
	sqlite3_stmt *s = store_index_stmt(st, SQL_NODE_DELETE);
	store_rc rc;

	if (!s)
		return STORE_IO;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)n->ino);
	rc = store_index_step_done(st, s);
	if (rc == STORE_OK && S_ISREG(n->mode) && n->key[0])
		rc = ref_add(st, n->key, -1);
	return rc;
}

static store_rc has_children(struct store *st, uint64_t ino, bool *yes)
{
	sqlite3_stmt *s = store_index_stmt(st, SQL_NODE_HAS_CHILD);
	store_rc rc;

	if (!s)
		return STORE_IO;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	rc = store_index_step_row(st, s);
	sqlite3_reset(s);
	*yes = rc == STORE_OK;
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/*
 * Make room for a new non-directory @name in @parent: fine if free; with
 * STORE_REPLACE an existing non-directory goes (dropping its reference).
 */
static store_rc clear_slot(struct store *st, uint64_t parent,
			   const char *name, unsigned flags)
{
	struct store_node old;
	store_rc rc = node_lookup(st, parent, name, &old);

	if (rc == STORE_NOTFOUND) {
		store_clear_error();
		return STORE_OK;
	}
	if (rc != STORE_OK)
		return rc;
	if (!(flags & STORE_REPLACE))
		return store_fail(STORE_EXISTS, "'%s' already exists", name);
	if (S_ISDIR(old.mode))
		return store_fail(STORE_ISDIR, "'%s' is a directory", name);
	return node_delete(st, &old);
}

store_rc store_mkfile(struct store *st, uint64_t parent, const char *name,
		      const struct store_attr *a, const char *key,
		      const char *type, unsigned flags, struct store_node *out)
{
	struct store_attr attr = *a;
	struct store_object o;
	struct store_node dir;
	store_rc rc = check_name(name);

	if (rc != STORE_OK)
		return rc;
	if (!store_is_key(key))
		return store_fail(STORE_INVAL, "'%s' is not a key",
				  key ? key : "");
	if (type && strlen(type) > STORE_TYPE_MAX)
		return store_fail(STORE_INVAL, "type '%s' is longer than %d"
				  " bytes", type, STORE_TYPE_MAX);
	attr.mode = S_IFREG | (a->mode & 07777);
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = dir_get(st, parent, &dir);
	if (rc == STORE_OK)
		rc = object_get(st, key, &o);
	/* claim first: replacing a file by itself must not drop the
	 * object's last reference on the way */
	if (rc == STORE_OK)
		rc = ref_add(st, key, +1);
	if (rc == STORE_OK)
		rc = clear_slot(st, parent, name, flags);
	if (rc == STORE_OK)
		rc = node_insert(st, parent, name, &attr, o.size, key,
				 type && *type ? type : (o.type[0] ? o.type :
							 TYPE_DEFAULT),
				 NULL, o.pending ? STORE_NODE_PENDING : 0,
				 out);
	return wr_end(st, rc);
}

store_rc store_mkdir(struct store *st, uint64_t parent, const char *name,
		     const struct store_attr *a, unsigned flags,
		     struct store_node *out)
{
	struct store_attr attr = *a;
	struct store_node dir, old;
	store_rc rc = check_name(name);

	if (rc != STORE_OK)
		return rc;
	attr.mode = S_IFDIR | (a->mode & 07777);
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = dir_get(st, parent, &dir);
	if (rc == STORE_OK) {
		rc = node_lookup(st, parent, name, &old);
		if (rc == STORE_OK) {
			if (!(flags & STORE_REPLACE))
				rc = store_fail(STORE_EXISTS, "'%s' already"
						" exists", name);
			else if (!S_ISDIR(old.mode))
				rc = store_fail(STORE_NOTDIR, "'%s' exists"
						" and is not a directory",
						name);
			else if (out)
				*out = old;
		} else if (rc == STORE_NOTFOUND) {
			rc = node_insert(st, parent, name, &attr, 0, NULL,
					 NULL, NULL, 0, out);
		}
	}
	return wr_end(st, rc);
}

store_rc store_symlink(struct store *st, uint64_t parent, const char *name,
		       const char *target, const struct store_attr *a,
		       unsigned flags, struct store_node *out)
{
	struct store_attr attr = *a;
	struct store_node dir;
	store_rc rc = check_name(name);

	if (rc != STORE_OK)
		return rc;
	if (!target || !*target || strlen(target) >= 4096)
		return store_fail(STORE_INVAL, "bad symlink target for '%s'",
				  name);
	attr.mode = S_IFLNK | 0777;
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = dir_get(st, parent, &dir);
	if (rc == STORE_OK)
		rc = clear_slot(st, parent, name, flags);
	if (rc == STORE_OK)
		rc = node_insert(st, parent, name, &attr, strlen(target),
				 NULL, NULL, target, 0, out);
	return wr_end(st, rc);
}

store_rc store_unlink(struct store *st, uint64_t parent, const char *name)
{
	struct store_node n;
	store_rc rc = check_name(name);

	if (rc != STORE_OK)
		return rc;
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = node_lookup(st, parent, name, &n);
	if (rc == STORE_OK && S_ISDIR(n.mode))
		rc = store_fail(STORE_ISDIR, "'%s' is a directory", name);
	if (rc == STORE_OK)
		rc = node_delete(st, &n);
	return wr_end(st, rc);
}

store_rc store_rmdir(struct store *st, uint64_t parent, const char *name)
{
	struct store_node n;
	bool busy = false;
	store_rc rc = check_name(name);

	if (rc != STORE_OK)
		return rc;
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = node_lookup(st, parent, name, &n);
	if (rc == STORE_OK && !S_ISDIR(n.mode))
		rc = store_fail(STORE_NOTDIR, "'%s' is not a directory", name);
	if (rc == STORE_OK)
		rc = has_children(st, n.ino, &busy);
	if (rc == STORE_OK && busy)
		rc = store_fail(STORE_NOTEMPTY, "directory '%s' is not empty",
				name);
	if (rc == STORE_OK)
		rc = node_delete(st, &n);
	return wr_end(st, rc);
}

/* Delete @n and everything below it, depth first. */
static store_rc delete_tree(struct store *st, const struct store_node *n,
			    unsigned depth)
{
	struct store_node child;
	store_rc rc;

	if (depth > 4096)
		return store_fail(STORE_CORRUPT, "directory tree too deep");
	if (S_ISDIR(n->mode)) {
		for (;;) {
			sqlite3_stmt *s = store_index_stmt(st,
							   SQL_NODE_CHILDREN);

			if (!s)
				return STORE_IO;
			sqlite3_bind_int64(s, 1, (sqlite3_int64)n->ino);
			sqlite3_bind_int64(s, 2, 0);
			rc = store_index_step_row(st, s);
			if (rc == STORE_OK)
				store_index_row_node(s, &child);
			sqlite3_reset(s);
			if (rc == STORE_NOTFOUND)
				break;
			if (rc != STORE_OK)
				return rc;
			rc = delete_tree(st, &child, depth + 1);
			if (rc != STORE_OK)
				return rc;
		}
	}
	return node_delete(st, n);
}

store_rc store_remove_tree(struct store *st, uint64_t parent,
			   const char *name)
{
	struct store_node n;
	store_rc rc = check_name(name);

	if (rc != STORE_OK)
		return rc;
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = node_lookup(st, parent, name, &n);
	if (rc == STORE_OK)
		rc = delete_tree(st, &n, 0);
	return wr_end(st, rc);
}

/* Is @ino equal to or below directory @top? */
static store_rc is_below(struct store *st, uint64_t ino, uint64_t top,
			 bool *yes)
{
	struct store_node n;
	unsigned depth = 0;

	*yes = false;
	while (ino != 0) {
		store_rc rc;

		if (ino == top) {
			*yes = true;
			return STORE_OK;
		}
		if (++depth > 4096)
			return store_fail(STORE_CORRUPT, "directory loop");
		rc = node_get(st, ino, &n);
		if (rc != STORE_OK)
			return rc;
		ino = n.parent;
	}
	return STORE_OK;
}

store_rc store_rename(struct store *st, uint64_t parent, const char *name,
		      uint64_t newparent, const char *newname)
{
	struct store_node src, dst, dir;
	bool below = false, busy = false;
	sqlite3_stmt *s;
	store_rc rc = check_name(name);

	if (rc == STORE_OK)
		rc = check_name(newname);
	if (rc != STORE_OK)
		return rc;
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = node_lookup(st, parent, name, &src);
	if (rc != STORE_OK)
		goto out;
	rc = dir_get(st, newparent, &dir);
	if (rc != STORE_OK)
		goto out;
	if (S_ISDIR(src.mode)) {
		rc = is_below(st, newparent, src.ino, &below);
		if (rc != STORE_OK)
			goto out;
		if (below) {
			rc = store_fail(STORE_INVAL, "cannot move '%s' below"
					" itself", name);
			goto out;
		}
	}
	rc = node_lookup(st, newparent, newname, &dst);
	if (rc == STORE_OK) {
		if (dst.ino == src.ino)
			goto out;	/* rename(2): same file, nothing */
		if (S_ISDIR(src.mode) && !S_ISDIR(dst.mode)) {
			rc = store_fail(STORE_NOTDIR, "'%s' is not a"
					" directory", newname);
		} else if (!S_ISDIR(src.mode) && S_ISDIR(dst.mode)) {
			rc = store_fail(STORE_ISDIR, "'%s' is a directory",
					newname);
		} else if (S_ISDIR(dst.mode)) {
			rc = has_children(st, dst.ino, &busy);
			if (rc == STORE_OK && busy)
				rc = store_fail(STORE_NOTEMPTY, "directory"
						" '%s' is not empty", newname);
		}
		if (rc == STORE_OK)
			rc = node_delete(st, &dst);
		if (rc != STORE_OK)
			goto out;
	} else if (rc == STORE_NOTFOUND) {
		store_clear_error();
		rc = STORE_OK;
	} else {
		goto out;
	}
	s = store_index_stmt(st, SQL_NODE_MOVE);
	if (!s) {
		rc = STORE_IO;
		goto out;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)src.ino);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)newparent);
	sqlite3_bind_text(s, 3, newname, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, store_now_ns());
	rc = store_index_step_done(st, s);
out:
	return wr_end(st, rc);
}

/* ---- objects: ingest, adopt, export ----------------------------------- */

/* MIME type of @len bytes at @buf, from libmagic; falls back to
 * application/octet-stream.  Called with st->lock held (a magic cookie is
 * not thread-safe). */
static void detect_type(struct store *st, const void *buf, size_t len,
			char out[STORE_TYPE_MAX + 1])
{
	const char *t = NULL;

	if (!st->magic) {
		magic_t m = magic_open(MAGIC_MIME | MAGIC_NO_CHECK_COMPRESS |
				       MAGIC_ERROR);

		if (m && magic_load(m, NULL) == 0)
			st->magic = m;
		else if (m)
			magic_close(m);
	}
	if (st->magic && len)
		t = magic_buffer(st->magic, buf, len);
	if (!len)
		t = "application/x-empty";
	snprintf(out, STORE_TYPE_MAX + 1, "%s", t ? t : TYPE_DEFAULT);
}

/* Run @sql with ?1 bound to @key, to completion. */
static store_rc exec_key(struct store *st, const char *sql, const char *key)
{
	sqlite3_stmt *s = NULL;
	store_rc rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_index_fail(st, "prepare");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = store_index_step_done(st, s);
	sqlite3_finalize(s);
	return rc;
}

/* Record object @o and its @n chunks (inside a write transaction). */
static store_rc object_insert(struct store *st, const struct store_object *o,
			      const struct store_chunk *c, uint32_t n)
{
	sqlite3_stmt *s = store_index_stmt(st, SQL_OBJ_INSERT);
	store_rc rc;

	if (!s)
		return STORE_IO;
	sqlite3_bind_text(s, 1, o->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, o->hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)o->size);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)o->stored_size);
	sqlite3_bind_int64(s, 5, o->chunk_size);
	sqlite3_bind_int64(s, 6, o->nchunks);
	sqlite3_bind_text(s, 7, o->type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, o->created_ns);
	rc = store_index_step_done(st, s);
	for (uint32_t i = 0; rc == STORE_OK && i < n; i++) {
		s = store_index_stmt(st, SQL_CHUNK_INSERT);
		if (!s)
			return STORE_IO;
		sqlite3_bind_text(s, 1, o->key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, i);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)c[i].coff);
		sqlite3_bind_int64(s, 4, c[i].csize);
		sqlite3_bind_int64(s, 5, c[i].dsize);
		sqlite3_bind_blob(s, 6, c[i].sha256, STORE_SHA256_LEN,
				  SQLITE_STATIC);
		rc = store_index_step_done(st, s);
	}
	return rc;
}

static bool valid_chunk_size(uint64_t c)
{
	return c >= STORE_CHUNK_MIN && c <= STORE_CHUNK_MAX && !(c & (c - 1));
}

static store_rc grow_chunks(struct store_chunk **c, uint32_t *cap, uint32_t n)
{
	if (n < *cap)
		return STORE_OK;
	if (n >= STORE_ZCOMP_MAX_FRAMES)
		return store_fail(STORE_INVAL, "object has too many chunks");
	{
		uint32_t ncap = *cap ? *cap * 2 : 64;
		void *p = realloc(*c, (size_t)ncap * sizeof(**c));

		if (!p)
			return store_fail(STORE_NOMEM, "out of memory");
		*c = p;
		*cap = ncap;
	}
	return STORE_OK;
}

/*
 * Chunks in flight.  Both ingest and export work in batches of a few
 * chunks: worker threads compress (or fetch, decompress and verify) the
 * chunks of one batch in parallel while the calling thread does the
 * sequential part of the neighbouring batch (reading and hashing the
 * whole input, or writing the output in order).  Two batches of
 * BATCH_BYTES at most are alive at a time, so memory stays a few chunks
 * whatever the object's size.
 */
#define BATCH_BYTES	(8u << 20)
#define BATCH_MAX	16

struct zjob {
	char *in;			/* content, chunk_size bytes */
	size_t len;			/* content bytes in @in */
	char *out;			/* frame, bound bytes */
	size_t olen;			/* frame bytes in @out */
	uint8_t sha256[STORE_SHA256_LEN];
	uint32_t idx;			/* chunk index in the object */
	store_rc rc;
	char err[256];			/* the worker's store_last_error() */
};

struct zbatch {
	struct zjob *jobs;
	unsigned n;			/* jobs in use */
};

struct zwork {
	struct store *st;
	unsigned cap;			/* jobs per batch */
	size_t chunk, bound;
	struct zbatch b[2];
	struct store_pool *pool;
	unsigned nthreads;
	struct store_zenc **encs;	/* ingest: one per thread */
	struct store_zdec **decs;	/* export: one per thread */
	char **zbufs;			/* export: frame buffer per thread */
	/* export */
	const struct store_object *o;
	const struct store_chunk *c;
	const char *label;
	atomic_bool failed;		/* a chunk failed: fetch no more */
	store_rc fail_rc;		/* the first failure, set once by */
	char fail_err[256];		/* whoever set @failed */
};

static unsigned batch_cap(size_t chunk, uint64_t nchunks)
{
	unsigned cap = (unsigned)(BATCH_BYTES / chunk);

	if (cap < 1)
		cap = 1;
	if (cap > BATCH_MAX)
		cap = BATCH_MAX;
	if (nchunks && cap > nchunks)
		cap = (unsigned)nchunks;
	return cap;
}

static void zwork_release(struct zwork *w)
{
	store_pool_free(w->pool);
	for (unsigned t = 0; t < w->nthreads; t++) {
		if (w->encs)
			store_zenc_free(w->encs[t]);
		if (w->decs)
			store_zdec_free(w->decs[t]);
		if (w->zbufs)
			free(w->zbufs[t]);
	}
	free(w->encs);
	free(w->decs);
	free(w->zbufs);
	for (int k = 0; k < 2; k++) {
		for (unsigned i = 0; w->b[k].jobs && i < w->cap; i++) {
			free(w->b[k].jobs[i].in);
			free(w->b[k].jobs[i].out);
		}
		free(w->b[k].jobs);
	}
	memset(w, 0, sizeof(*w));
}

/* Set up batches and threads; @nchunks 0 means unknown (ingest). */
static store_rc zwork_init(struct zwork *w, struct store *st, size_t chunk,
			   uint64_t nchunks, size_t bound, bool ingest,
			   int level)
{
	unsigned want = store_pool_default_threads();
	store_rc rc = STORE_OK;

	memset(w, 0, sizeof(*w));
	w->st = st;
	w->chunk = chunk;
	w->bound = bound;
	w->cap = batch_cap(chunk, nchunks);
	if (nchunks && nchunks < 2)
		want = 0;	/* one chunk: no thread is worth starting */
	if (want) {
		w->pool = store_pool_new(want);	/* NULL: run inline */
	}
	w->nthreads = store_pool_threads(w->pool);
	for (int k = 0; k < 2; k++) {
		w->b[k].jobs = calloc(w->cap, sizeof(struct zjob));
		if (!w->b[k].jobs)
			goto nomem;
		for (unsigned i = 0; i < w->cap; i++) {
			w->b[k].jobs[i].in = malloc(chunk);
			w->b[k].jobs[i].out = ingest ? malloc(bound) : NULL;
			if (!w->b[k].jobs[i].in ||
			    (ingest && !w->b[k].jobs[i].out))
				goto nomem;
		}
	}
	if (ingest) {
		w->encs = calloc(w->nthreads, sizeof(*w->encs));
		if (!w->encs)
			goto nomem;
		for (unsigned t = 0; t < w->nthreads && rc == STORE_OK; t++)
			rc = store_zenc_new(level, chunk, &w->encs[t]);
	} else {
		w->decs = calloc(w->nthreads, sizeof(*w->decs));
		w->zbufs = calloc(w->nthreads, sizeof(*w->zbufs));
		if (!w->decs || !w->zbufs)
			goto nomem;
		for (unsigned t = 0; t < w->nthreads; t++) {
			w->decs[t] = store_zdec_new();
			w->zbufs[t] = malloc(bound);
			if (!w->decs[t] || !w->zbufs[t])
				goto nomem;
		}
	}
	if (rc != STORE_OK)
		zwork_release(w);
	return rc;
nomem:
	zwork_release(w);
	return store_fail(STORE_NOMEM, "out of memory");
}

static void job_fail(struct zjob *j, store_rc rc)
{
	j->rc = rc;
	snprintf(j->err, sizeof(j->err), "%s", store_last_error());
}

/*
 * The ingest pipeline.  Every chunk goes through five steps: read it (in
 * order), add it to the whole-content SHA-256 that becomes the key (in
 * order), compress it and take its own digest (any order, in parallel;
 * the digest mostly in the key's own pass, see pipe_pick()), write its
 * frame to the connector (in order).  The two hashes are
 * independent, so they run at the same time on different threads, and
 * none of the ordered steps waits for a batch of others: each thread,
 * caller included, takes whatever step is ready (I/O first, so that the
 * disk and the connector stay busy; then the key's hash, the one chain
 * that cannot be split; then compression), so every core stays busy until
 * the last chunk.  A chunk's slot is reused once it is both hashed and
 * written: nslots chunks are in memory at most, whatever the input's size.
 *
 * Progress (store_set_progress()) is reported by the caller's thread
 * alone, between its steps: the bytes written so far, counted under the
 * lock.  So the caller always runs a part of its own rather than only
 * joining the pool's loop, where the workers may have taken every item.
 */
#define PIPE_BYTES	(16u << 20)	/* input held in flight */
#define PIPE_SLOTS_MAX	16
#define PIPE_READ_MAX	4		/* chunks one O_DIRECT read fills */
#define PIPE_CHAIN_LAG	2		/* chunks the key's chain may trail the
					   reads by before others digest */
#define PIPE_ALIGN	4096u		/* O_DIRECT buffer, offset, size */
#define PIPE_DIRECT_MIN	(8u << 20)	/* inputs this large may be read
					   around the page cache */
#define PIPE_IO_THREADS	1		/* a thread beyond the cores, so that
					   one blocked in an O_DIRECT read or
					   write leaves every core busy */

enum pipe_step { STEP_WAIT, STEP_DONE, STEP_READ, STEP_HASH, STEP_SNIFF,
		 STEP_DIGEST, STEP_COMPRESS, STEP_WRITE };

struct pipe_slot {
	char *in;			/* content, chunk bytes */
	size_t len;			/* content bytes in @in */
	char *out;			/* frame, bound bytes */
	size_t olen;			/* frame bytes in @out */
	uint8_t sha256[STORE_SHA256_LEN];
	bool dtaken;			/* @sha256 is handed out */
	bool digested;			/* @sha256 is ready */
	bool compressed;		/* @out is ready */
};

struct pipe {
	struct store *st;
	int fd;
	int dfd;			/* @fd reopened O_DIRECT, or -1 */
	uint64_t doff;			/* offset of the next read on @dfd */
	const char *label;
	size_t chunk, bound;
	unsigned nthreads;
	unsigned caller;		/* the caller's thread index */
	struct store_zenc **encs;	/* one per thread */
	struct store_zenc *enc;		/* notes the frames, in order */
	struct store_sha256_chain *h;	/* the whole content */
	struct store_conn_put *put;
	struct pipe_slot *slots;
	unsigned nslots;
	/* protected by lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* a step finished */
	uint64_t nread;			/* chunks read */
	uint64_t nhashed;		/* chunks in @h */
	uint64_t ncompress;		/* chunks handed to compress */
	uint64_t nwritten;		/* chunks written */
	bool eof;			/* nread is every chunk */
	bool reading, hashing, writing;	/* the ordered steps under way */
	bool sniffed;			/* @type is set */
	bool failed;
	store_rc rc;			/* the first failure, with */
	char err[256];			/* its store_last_error() */
	uint64_t done;			/* content bytes written */
	/* only the caller's thread */
	store_progress_fn progress;	/* the hook, or NULL */
	void *progress_arg;
	uint64_t total;			/* input size, 0: unknown */
	uint64_t shown;			/* @done last reported */
	/* only the thread that reads, resp. writes */
	char *sniff;			/* the first TYPE_SNIFF bytes */
	size_t sniff_len;
	struct store_chunk *c;		/* the chunk table */
	uint32_t n, cap;
	uint64_t coff, size;
	char type[STORE_TYPE_MAX + 1];	/* the caller sets it */
};

static struct pipe_slot *pipe_slot(struct pipe *p, uint64_t k)
{
	return &p->slots[k % p->nslots];
}

/*
 * The next step for thread @t, under p->lock: *k is its chunk (a read
 * takes *kn chunks from there; a digest of two takes *k and *k2).
 *
 * Chunk digests.  The key's chain takes the digest of the chunk it adds
 * in the same pass when no one has taken it yet (*kn 1): with SHA-NI two
 * interleaved streams cost less than one after the other.  That makes the
 * chain the longest run of work; when it falls behind the reads, the
 * other threads, once they have nothing to compress, take the digests of
 * the chunks it is furthest from, two at a time (store_sha256_x2()), and
 * the chain then hashes those alone, faster, until it catches up.
 */
static enum pipe_step pipe_pick(struct pipe *p, unsigned t, uint64_t *k,
				uint64_t *k2, unsigned *kn)
{
	uint64_t oldest = p->nwritten < p->nhashed ? p->nwritten : p->nhashed;

	if (p->failed)
		return STEP_DONE;
	if (p->eof && oldest == p->nread)
		return STEP_DONE;
	if (!p->writing && p->nwritten < p->nread &&
	    pipe_slot(p, p->nwritten)->compressed &&
	    pipe_slot(p, p->nwritten)->digested) {
		p->writing = true;
		*k = p->nwritten;
		return STEP_WRITE;
	}
	if (!p->reading && !p->eof && p->nread - oldest < p->nslots) {
		uint64_t free = p->nslots - (p->nread - oldest);

		p->reading = true;
		*k = p->nread;
		*kn = p->dfd >= 0 && free > PIPE_READ_MAX ? PIPE_READ_MAX :
		      p->dfd >= 0 ? (unsigned)free : 1;
		return STEP_READ;
	}
	if (!p->hashing && p->nhashed < p->nread) {
		struct pipe_slot *s = pipe_slot(p, p->nhashed);

		p->hashing = true;
		*k = p->nhashed;
		*kn = !s->dtaken;
		s->dtaken = true;
		return STEP_HASH;
	}
	/* libmagic runs under st->lock, which a batch holds in the caller */
	if (t == p->caller && !p->sniffed && p->nread > 0) {
		p->sniffed = true;
		return STEP_SNIFF;
	}
	if (p->ncompress < p->nread) {
		*k = p->ncompress++;
		return STEP_COMPRESS;
	}
	/* the chain is behind: digests it is furthest from, newest first
	 * (the chunk it adds next stays its own) */
	if (p->nread - p->nhashed > PIPE_CHAIN_LAG) {
		struct pipe_slot *a = NULL;

		for (uint64_t j = p->nread; j-- > p->nhashed + 1;) {
			struct pipe_slot *s = pipe_slot(p, j);

			if (s->dtaken)
				continue;
			if (!a) {
				a = s;
				*k = j;
				*kn = 1;
			} else if (s->len == a->len) {
				*k2 = j;
				*kn = 2;
				s->dtaken = true;
				break;
			}
		}
		if (a) {
			a->dtaken = true;
			return STEP_DIGEST;
		}
	}
	return STEP_WAIT;
}

/*
 * Read chunks @k.. (@kn of them at most) around the page cache: one
 * request for them all, straight into the slots.  *got is the bytes read;
 * fewer than asked means the end of the input.  -1 with errno set on a
 * read error; 0 with *got 0 when this filesystem refuses O_DIRECT after
 * all (the caller then reads through the cache from here on).
 */
static int read_direct(struct pipe *p, uint64_t k, unsigned kn, size_t *got)
{
	struct iovec iov[PIPE_READ_MAX];
	size_t want = (size_t)kn * p->chunk, done = 0;
	ssize_t n;

	*got = 0;
	while (done < want) {
		unsigned first = (unsigned)(done / p->chunk), cnt = 0;

		for (unsigned j = first; j < kn; j++) {
			size_t skip = j == first ? done % p->chunk : 0;

			iov[cnt].iov_base = pipe_slot(p, k + j)->in + skip;
			iov[cnt].iov_len = p->chunk - skip;
			cnt++;
		}
		n = preadv(p->dfd, iov, (int)cnt, (off_t)(p->doff + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL && done == 0)
			return 0;
		if (n < 0)
			return -1;
		done += (size_t)n;
		/* a read short of a whole block met the end of the file */
		if (n == 0 || done % PIPE_ALIGN)
			break;
	}
	*got = done;
	return 1;
}

static store_rc pipe_read(struct pipe *p, uint64_t k, unsigned kn,
			  unsigned *nfull, bool *eof)
{
	size_t got = 0;
	ssize_t n;
	int r = 0;

	if (p->dfd >= 0) {
		r = read_direct(p, k, kn, &got);
		if (r < 0)
			return store_fail_errno(errno, "cannot read '%s'",
						p->label);
		if (r == 0) {
			/* no O_DIRECT here: back to the page cache */
			close(p->dfd);
			p->dfd = -1;
			kn = 1;
		} else {
			p->doff += got;
			/* the caller's descriptor follows, as if it had been
			 * read (progress bars watch its offset) */
			lseek(p->fd, (off_t)p->doff, SEEK_SET);
		}
	}
	if (r == 0) {
		n = store_read_full(p->fd, pipe_slot(p, k)->in, p->chunk);
		if (n < 0)
			return store_fail_errno(errno, "cannot read '%s'",
						p->label);
		got = (size_t)n;
	}
	*eof = got < (size_t)kn * p->chunk;
	*nfull = 0;
	for (unsigned j = 0; j < kn && got > (size_t)j * p->chunk; j++) {
		struct pipe_slot *s = pipe_slot(p, k + j);
		size_t left = got - (size_t)j * p->chunk;

		s->len = left < p->chunk ? left : p->chunk;
		s->dtaken = false;
		s->digested = false;
		s->compressed = false;
		(*nfull)++;
	}
	if (k == 0) {
		struct pipe_slot *s = pipe_slot(p, 0);

		p->sniff_len = *nfull == 0 ? 0 :
			       s->len < TYPE_SNIFF ? s->len : TYPE_SNIFF;
		memcpy(p->sniff, s->in, p->sniff_len);
	}
	return STORE_OK;
}

static store_rc pipe_compress(struct pipe *p, unsigned t, uint64_t k)
{
	struct pipe_slot *s = pipe_slot(p, k);

	return store_zenc_compress(p->encs[t], s->in, s->len, s->out,
				   p->bound, &s->olen);
}

static store_rc pipe_digest(struct pipe *p, uint64_t k, uint64_t k2,
			    unsigned kn)
{
	struct pipe_slot *a = pipe_slot(p, k), *b;

	if (kn == 1)
		return store_sha256(a->in, a->len, a->sha256);
	b = pipe_slot(p, k2);
	return store_sha256_x2(a->in, b->in, a->len, a->sha256, b->sha256);
}

static store_rc pipe_write(struct pipe *p, uint64_t k)
{
	struct pipe_slot *s = pipe_slot(p, k);
	struct store *st = p->st;
	store_rc rc;

	rc = grow_chunks(&p->c, &p->cap, p->n);
	if (rc == STORE_OK)
		rc = st->conn->ops->put_write(p->put, s->out, s->olen);
	if (rc == STORE_OK)
		rc = store_zenc_note(p->enc, s->out, s->olen, s->len);
	if (rc != STORE_OK)
		return rc;
	memcpy(p->c[p->n].sha256, s->sha256, STORE_SHA256_LEN);
	p->c[p->n].coff = p->coff;
	p->c[p->n].csize = (uint32_t)s->olen;
	p->c[p->n].dsize = (uint32_t)s->len;
	p->coff += s->olen;
	p->size += s->len;
	p->n++;
	return STORE_OK;
}

/* Report @done bytes to the hook, from the caller's thread. */
static void pipe_report(struct pipe *p, uint64_t done)
{
	p->shown = done;
	p->progress(p->progress_arg, done, done > p->total ? done : p->total);
}

/* One thread's part: take steps until the input is all written. */
static void pipe_run(void *ctx, unsigned t, unsigned i)
{
	struct pipe *p = ctx;
	struct pipe_slot *s;
	enum pipe_step step;
	uint64_t k = 0, k2 = 0;
	unsigned kn = 1, nfull = 0;
	store_rc rc = STORE_OK;
	bool eof = false;

	(void)i;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		if (t == p->caller && p->progress && p->done > p->shown) {
			uint64_t done = p->done;

			pthread_mutex_unlock(&p->lock);
			pipe_report(p, done);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		step = pipe_pick(p, t, &k, &k2, &kn);
		if (step == STEP_DONE)
			break;
		if (step == STEP_WAIT) {
			pthread_cond_wait(&p->cond, &p->lock);
			continue;
		}
		pthread_mutex_unlock(&p->lock);
		switch (step) {
		case STEP_READ:
			rc = pipe_read(p, k, kn, &nfull, &eof);
			break;
		case STEP_HASH:
			s = pipe_slot(p, k);
			rc = store_sha256_chain_update(p->h, s->in, s->len,
						       kn ? s->sha256 : NULL);
			break;
		case STEP_SNIFF:
			pthread_mutex_lock(&p->st->lock);
			detect_type(p->st, p->sniff, p->sniff_len, p->type);
			pthread_mutex_unlock(&p->st->lock);
			break;
		case STEP_DIGEST:
			rc = pipe_digest(p, k, k2, kn);
			break;
		case STEP_COMPRESS:
			rc = pipe_compress(p, t, k);
			break;
		case STEP_WRITE:
			rc = pipe_write(p, k);
			break;
		case STEP_WAIT:
		case STEP_DONE:
			break;
		}
		pthread_mutex_lock(&p->lock);
		switch (step) {
		case STEP_READ:
			p->reading = false;
			if (rc == STORE_OK)
				p->nread += nfull;
			if (eof)
				p->eof = true;
			break;
		case STEP_HASH:
			p->hashing = false;
			p->nhashed++;
			if (kn)
				pipe_slot(p, k)->digested = true;
			break;
		case STEP_DIGEST:
			pipe_slot(p, k)->digested = true;
			if (kn == 2)
				pipe_slot(p, k2)->digested = true;
			break;
		case STEP_COMPRESS:
			pipe_slot(p, k)->compressed = true;
			break;
		case STEP_WRITE:
			p->writing = false;
			p->nwritten++;
			if (rc == STORE_OK)
				p->done += pipe_slot(p, k)->len;
			break;
		case STEP_SNIFF:
		case STEP_WAIT:
		case STEP_DONE:
			break;
		}
		if (rc != STORE_OK && !p->failed) {
			p->failed = true;
			p->rc = rc;
			snprintf(p->err, sizeof(p->err), "%s",
				 store_last_error());
		}
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
}

static void pipe_release(struct pipe *p)
{
	if (p->dfd >= 0)
		close(p->dfd);
	for (unsigned t = 0; p->encs && t < p->nthreads; t++)
		store_zenc_free(p->encs[t]);
	free(p->encs);
	for (unsigned i = 0; p->slots && i < p->nslots; i++) {
		free(p->slots[i].in);
		free(p->slots[i].out);
	}
	free(p->slots);
	store_zenc_free(p->enc);
	store_sha256_chain_free(p->h);
	free(p->sniff);
	free(p->c);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

/* Set up @p for @nthreads threads; a regular file of @hint chunks (0:
 * unknown) needs no more slots than it has chunks. */
static store_rc pipe_init(struct pipe *p, struct store *st, int fd,
			  const char *label, size_t chunk, int level,
			  unsigned nthreads, uint64_t hint)
{
	store_rc rc;

	memset(p, 0, sizeof(*p));
	p->dfd = -1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->st = st;
	p->fd = fd;
	p->label = label;
	p->chunk = chunk;
	p->nthreads = nthreads;
	p->caller = nthreads - 1;
	p->nslots = (unsigned)(PIPE_BYTES / chunk);
	if (p->nslots > PIPE_SLOTS_MAX)
		p->nslots = PIPE_SLOTS_MAX;
	if (p->nslots < 2 * nthreads)
		p->nslots = 2 * nthreads;
	if (hint && p->nslots > hint)
		p->nslots = (unsigned)hint;
	rc = store_zenc_new(level, chunk, &p->enc);
	if (rc != STORE_OK)
		return rc;
	p->bound = store_zenc_bound(p->enc);
	p->h = store_sha256_chain_new();
	p->sniff = malloc(TYPE_SNIFF);
	p->encs = calloc(nthreads, sizeof(*p->encs));
	p->slots = calloc(p->nslots, sizeof(*p->slots));
	if (!p->h || !p->sniff || !p->encs || !p->slots)
		return store_fail(STORE_NOMEM, "out of memory");
	for (unsigned i = 0; i < p->nslots; i++) {
		void *in = NULL;

		/* aligned for O_DIRECT reads */
		if (posix_memalign(&in, PIPE_ALIGN, chunk) != 0)
			in = NULL;
		p->slots[i].in = in;
		p->slots[i].out = malloc(p->bound);
		if (!p->slots[i].in || !p->slots[i].out)
			return store_fail(STORE_NOMEM, "out of memory");
	}
	for (unsigned t = 0; t < nthreads; t++) {
		rc = store_zenc_new(level, chunk, &p->encs[t]);
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

/* Is less than half of [@off, @off + @len) of @fd in the page cache?
 * When the kernel cannot say (before Linux 6.5), no. */
static bool is_uncached(int fd, uint64_t off, uint64_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	int64_t n;

	if (pg <= 0 || (n = store_cached_pages(fd, off, len)) < 0)
		return false;
	return (uint64_t)n < len / (uint64_t)pg / 2;
}

/*
 * A large regular file that is not in the page cache is read around it:
 * copying it through fresh page-cache pages costs more CPU than hashing
 * it (0.5-0.9 s of system time per GiB on the VMs we measure, against
 * 0.05 s O_DIRECT), and the pages would only push out others: a put
 * reads its input once.  Cached input (just written, say), and input on
 * other than a local block filesystem, is read as before.  @fd itself is left as it is (it is the caller's, and may be
 * shared): the file is opened again, and @fd's offset kept up with it.
 * Returns the new descriptor, or -1 to read @fd as usual.
 */
static int open_direct(int fd, const struct stat *sb, uint64_t *off)
{
	struct stat ds;
	char path[64];
	off_t pos;
	int dfd;

	if (!S_ISREG(sb->st_mode) || sb->st_size < PIPE_DIRECT_MIN)
		return -1;
	pos = lseek(fd, 0, SEEK_CUR);
	if (pos < 0 || pos % PIPE_ALIGN || pos >= sb->st_size ||
	    !store_is_direct_fs(fd) ||
	    !is_uncached(fd, (uint64_t)pos, (uint64_t)(sb->st_size - pos)))
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC | O_NOCTTY);
	if (dfd < 0)
		return -1;
	if (fstat(dfd, &ds) < 0 || ds.st_dev != sb->st_dev ||
	    ds.st_ino != sb->st_ino) {
		close(dfd);
		return -1;
	}
	*off = (uint64_t)pos;
	return dfd;
}

/* Writes a blob from @fd to the connector; on success the blob is still
 * uncommitted in *putp, @o/@chunks describe it and @o's type is set. */
static store_rc compress_fd(struct store *st, int fd, const char *label,
			    uint32_t chunk, int level,
			    struct store_conn_put **putp,
			    struct store_object *o, struct store_chunk **chunks)
{
	struct store_pool *pool = NULL;
	struct pipe p;
	uint8_t digest[STORE_SHA256_LEN];
	unsigned want = store_pool_default_threads();
	uint64_t hint = 0;
	uint64_t total = 0;
	struct stat sb;
	const void *z;
	size_t zlen = 0;
	store_rc rc;

	*putp = NULL;
	*chunks = NULL;
	/* a regular file says how many chunks to expect: a small one needs
	 * no thread (it may still grow: the pipeline takes what comes) */
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		off_t pos = lseek(fd, 0, SEEK_CUR);

		hint = (uint64_t)sb.st_size / chunk + 1;
		if (pos >= 0 && pos < sb.st_size)
			total = (uint64_t)(sb.st_size - pos);
	}
	if (hint == 1)
		want = 0;
	if (want)
		want += PIPE_IO_THREADS;
	if (want)
		pool = store_pool_new(want);	/* NULL: run inline */
	rc = pipe_init(&p, st, fd, label, chunk, level,
		       store_pool_threads(pool), hint);
	if (rc == STORE_OK && hint > 1)
		p.dfd = open_direct(fd, &sb, &p.doff);
	if (rc == STORE_OK)
		rc = st->conn->ops->put_begin(st->conn, &p.put);
	if (rc != STORE_OK)
		goto out;
	pthread_mutex_lock(&st->lock);
	p.progress = st->progress;
	p.progress_arg = st->progress_arg;
	pthread_mutex_unlock(&st->lock);
	p.total = total;
	if (p.progress)
		pipe_report(&p, 0);
	/* one item per worker and the caller's own part: each runs the
	 * pipeline until it is done */
	store_pool_start(pool, p.nthreads - 1, pipe_run, &p);
	pipe_run(&p, p.caller, 0);
	store_pool_wait(pool, p.nthreads - 1, pipe_run, &p);
	if (p.failed) {
		rc = store_fail(p.rc, "%s", p.err);
		goto out;
	}
	if (p.progress && (p.done > p.shown || p.total > p.done)) {
		/* the last call: the input's real size is known now */
		p.total = p.done;
		pipe_report(&p, p.done);
	}
	if (!p.sniffed) {
		pthread_mutex_lock(&st->lock);
		detect_type(st, p.sniff, p.sniff_len, p.type);
		pthread_mutex_unlock(&st->lock);
	}
	rc = store_zenc_seektable(p.enc, &z, &zlen);
	if (rc == STORE_OK)
		rc = st->conn->ops->put_write(p.put, z, zlen);
	if (rc == STORE_OK)
		rc = store_sha256_chain_final(p.h, digest);
	if (rc != STORE_OK)
		goto out;
	memset(o, 0, sizeof(*o));
	store_hex(digest, sizeof(digest), o->key);
	memcpy(o->hash, o->key, sizeof(o->hash));
	memcpy(o->type, p.type, sizeof(o->type));
	o->size = p.size;
	o->stored_size = p.coff + zlen;
	o->chunk_size = chunk;
	o->nchunks = p.n;
	o->created_ns = store_now_ns();
	*putp = p.put;
	p.put = NULL;
	*chunks = p.c;
	p.c = NULL;
out:
	if (p.put)
		st->conn->ops->put_abort(p.put);
	store_pool_free(pool);
	pipe_release(&p);
	return rc;
}

store_rc store_ingest_fd(struct store *st, int fd, const char *label,
			 const struct store_put_opts *opts,
			 struct store_object *out)
{
	struct store_put_opts def = { 0 };
	struct store_conn_put *put = NULL;
	struct store_chunk *c = NULL;
	struct store_object o, have;
	uint64_t blob_size;
	uint32_t chunk;
	int level, lockfd = -1;
	bool held;
	store_rc rc;

	if (!opts)
		opts = &def;
	if (!label)
		label = "input";
	chunk = opts->chunk_size ? opts->chunk_size : st->chunk_size;
	level = opts->level ? opts->level : st->level;
	if (!valid_chunk_size(chunk))
		return store_fail(STORE_INVAL, "chunk size %u is not a power"
				  " of two from %u to %u", chunk,
				  STORE_CHUNK_MIN, STORE_CHUNK_MAX);
	if (level < 1 || level > 19)
		return store_fail(STORE_INVAL, "level %d is not from 1 to 19",
				  level);
	if (st->flags & STORE_OPEN_RDONLY)
		return store_fail(STORE_ROFS, "store '%s' is open read-only",
				  st->path);
	/* A batch already holds the gc lock for us; otherwise hold it until
	 * the row is in. */
	pthread_mutex_lock(&st->lock);
	held = st->in_batch;
	pthread_mutex_unlock(&st->lock);
	if (!held) {
		lockfd = gc_lock(st, LOCK_SH);
		if (lockfd < 0)
			return STORE_IO;
	}
	rc = compress_fd(st, fd, label, chunk, level, &put, &o, &c);
	if (rc != STORE_OK)
		goto out;

	rc = wr_begin(st);
	if (rc != STORE_OK)
		goto out;
	memset(&have, 0, sizeof(have));
	rc = object_get(st, o.key, &have);
	if (rc == STORE_OK && !have.pending &&
	    st->conn->ops->stat(st->conn, o.key, &blob_size) == STORE_OK &&
	    blob_size == have.stored_size) {
		/* deduplicated: the stored blob stays, ours goes */
		st->conn->ops->put_abort(put);
		put = NULL;
		count(&st->m.deduped, 1);
		o = have;
		rc = wr_end(st, STORE_OK);
		goto done;
	}
	store_clear_error();
	/* A batch's first few blobs are synced one by one (a mount's close
	 * puts one file: syncfs would flush the whole filesystem, staging
	 * and all); past that, one sync before the commit covers the rest,
	 * which is what makes putting a tree of small files fast. */
	if (st->in_batch && ++st->batch_puts > BATCH_FSYNC_MAX) {
		rc = st->conn->ops->put_commit_nosync(put, o.key);
		st->need_sync = true;
	} else {
		rc = st->conn->ops->put_commit(put, o.key);
	}
	put = NULL;
	if (rc == STORE_OK) {
		count(&st->m.conn_puts, 1);
		count(&st->m.conn_put_bytes, o.stored_size);
		if (have.key[0] == '\0' || strcmp(have.key, o.key)) {
			rc = object_insert(st, &o, c, o.nchunks);
			if (rc == STORE_OK)
				rc = st->conn->ops->claim(st->conn, o.key,
							  st->id);
			if (rc == STORE_OK && st->in_batch)
				rc = keylist_add(&st->fresh, o.key);
		} else {
			/* healed a missing or evicted blob */
			o.refs = have.refs;
			if (have.evicted)
				rc = exec_key(st, "UPDATE objects SET state ="
					      " 0, flags = 0 WHERE key = ?1",
					      o.key);
		}
	} else {
		count(&st->m.conn_errors, 1);
	}
	rc = wr_end(st, rc);
done:
	if (rc == STORE_OK) {
		count(&st->m.ingested, 1);
		if (out)
			*out = o;
	}
out:
	if (put)
		st->conn->ops->put_abort(put);
	gc_unlock(lockfd);
	free(c);
	return rc;
}

/* Load object @key's row and chunk table; *c is the caller's to free. */
static store_rc load_chunks(struct store *st, const char *key,
			    struct store_object *o, struct store_chunk **c)
{
	sqlite3_stmt *s;
	uint32_t n = 0;
	store_rc rc;
	int r;

	*c = NULL;
	rc = object_get(st, key, o);
	if (rc != STORE_OK)
		return rc;
	if (o->nchunks == 0 || o->external)
		return STORE_OK;
	if (o->nchunks >= STORE_ZCOMP_MAX_FRAMES)
		return store_fail(STORE_CORRUPT, "object '%s' has a bad chunk"
				  " count", key);
	*c = calloc(o->nchunks, sizeof(**c));
	if (!*c)
		return store_fail(STORE_NOMEM, "out of memory");
	s = store_index_stmt(st, SQL_CHUNK_ALL);
	if (!s) {
		rc = STORE_IO;
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(s)) == SQLITE_ROW && n < o->nchunks) {
		struct store_chunk *x = &(*c)[n++];

		x->coff = (uint64_t)sqlite3_column_int64(s, 0);
		x->csize = (uint32_t)sqlite3_column_int64(s, 1);
		x->dsize = (uint32_t)sqlite3_column_int64(s, 2);
		if (sqlite3_column_bytes(s, 3) != STORE_SHA256_LEN) {
			rc = store_fail(STORE_CORRUPT, "object '%s': bad chunk"
					" digest in the index", key);
			break;
		}
		memcpy(x->sha256, sqlite3_column_blob(s, 3), STORE_SHA256_LEN);
	}
	if (rc == STORE_OK && r != SQLITE_ROW && r != SQLITE_DONE)
		rc = store_index_fail(st, "read chunk table");
	if (rc == STORE_OK && n != o->nchunks)
		rc = store_fail(STORE_CORRUPT, "object '%s': chunk table has"
				" %u of %u chunks", key, n, o->nchunks);
	sqlite3_reset(s);
out:
	if (rc != STORE_OK) {
		free(*c);
		*c = NULL;
	}
	return rc;
}

/* Check that chunk @i of @o is plausible before fetching it: the index is
 * trusted, but a mistake there must not become a huge allocation. */
static store_rc check_chunk(const struct store_object *o,
			    const struct store_chunk *c, uint32_t i)
{
	uint64_t want = i + 1 < o->nchunks ? o->chunk_size :
			o->size - (uint64_t)i * o->chunk_size;

	if (!valid_chunk_size(o->chunk_size) || c->dsize != want ||
	    c->csize > ZSTD_compressBound(o->chunk_size) ||
	    c->coff + c->csize > o->stored_size)
		return store_fail(STORE_CORRUPT, "object '%s': chunk %u does"
				  " not fit the object", o->key, i);
	return STORE_OK;
}

/* Bytes [@off, @off + @len) of blob @key into @zbuf, or with @zcap (then
 * @zbuf is aligned, with room for @len + 2 * STORE_CONN_ALIGN), anywhere
 * in it where the connector can read them without a copy; *p says where. */
static store_rc conn_read(struct store *st, const char *key, uint64_t off,
			  size_t len, void *zbuf, size_t zcap, const void **p)
{
	if (zcap && st->conn->ops->get_into)
		return st->conn->ops->get_into(st->conn, key, off, len, zbuf,
					       zcap, p);
	*p = zbuf;
	return st->conn->ops->get(st->conn, key, off, len, zbuf);
}

/* Fetch, decompress and verify one chunk into @dst (c->dsize bytes);
 * @zbuf holds at least c->csize bytes (see conn_read() for @zcap). */
static store_rc fetch_chunk(struct store *st, struct store_zdec *d,
			    const struct store_object *o,
			    const struct store_chunk *c, uint32_t i,
			    void *zbuf, size_t zcap, void *dst,
			    const char *label)
{
	uint8_t digest[STORE_SHA256_LEN];
	const void *src;
	store_rc rc;

	rc = conn_read(st, o->key, c->coff, c->csize, zbuf, zcap, &src);
	count(&st->m.conn_gets, 1);
	if (rc != STORE_OK) {
		count(&st->m.conn_errors, 1);
		if (rc == STORE_NOTFOUND)
			return store_fail(STORE_IO, "cannot read '%s' (key %s):"
					  " blob missing from the connector",
					  label, o->key);
		if (rc == STORE_CORRUPT)
			count(&st->m.corrupt, 1);
		return store_fail(rc == STORE_CORRUPT ? STORE_CORRUPT :
				  STORE_IO, "cannot read '%s' (key %s): %s",
				  label, o->key, store_last_error());
	}
	count(&st->m.conn_get_bytes, c->csize);
	rc = store_zdec_frame(d, src, c->csize, dst, c->dsize);
	if (rc == STORE_OK)
		rc = store_sha256(dst, c->dsize, digest);
	if (rc == STORE_OK && memcmp(digest, c->sha256, sizeof(digest)))
		rc = STORE_CORRUPT;
	if (rc != STORE_OK) {
		count(&st->m.corrupt, 1);
		return store_fail(STORE_CORRUPT, "cannot read '%s' (key %s):"
				  " chunk %u is corrupt in the connector",
				  label, o->key, i);
	}
	return STORE_OK;
}

static void fetch_item(void *ctx, unsigned t, unsigned i)
{
	struct zwork *w = ctx;
	struct zjob *j = &w->b[0].jobs[i];
	store_rc rc;

	/* after a failure the read is lost anyway: do not wait for more
	 * timeouts of a connector that is down */
	if (atomic_load(&w->failed)) {
		j->rc = STORE_IO;
		snprintf(j->err, sizeof(j->err), "an earlier chunk failed");
		return;
	}
	rc = check_chunk(w->o, &w->c[j->idx], j->idx);
	if (rc == STORE_OK)
		rc = fetch_chunk(w->st, w->decs[t], w->o, &w->c[j->idx],
				 j->idx, w->zbufs[t], 0, j->in, w->label);
	j->rc = rc;
	if (rc != STORE_OK) {
		job_fail(j, rc);
		if (!atomic_exchange(&w->failed, true)) {
			w->fail_rc = rc;
			memcpy(w->fail_err, j->err, sizeof(w->fail_err));
		}
	}
}

/* Fill batch @b with the next chunks from *next on. */
static void plan_batch(struct zwork *w, struct zbatch *b, uint32_t *next)
{
	b->n = 0;
	while (b->n < w->cap && *next < w->o->nchunks) {
		b->jobs[b->n].idx = (*next)++;
		b->jobs[b->n].rc = STORE_OK;
		b->n++;
	}
}

/*
 * Write @key's content to @fd.  Every chunk is checked against its digest
 * in the (trusted) index before it is written, which covers every byte;
 * with @whole the content is also hashed against the key (fsck --deep),
 * which costs a second SHA-256 pass.
 */
static store_rc export(struct store *st, const char *key, int fd,
		       const char *label, bool whole)
{
	struct store_sha256 *h = NULL;
	struct store_chunk *c = NULL;
	struct store_object o;
	struct zwork w;
	uint8_t digest[STORE_SHA256_LEN];
	char hex[STORE_KEY_HEX + 1], to[STORE_KEY_HEX + 1];
	uint32_t next = 0;
	bool started = false;
	store_rc rc;

	memset(&w, 0, sizeof(w));
	if (!label)
		label = key;
	if (!store_is_key(key))
		return store_fail(STORE_INVAL, "'%s' is not a key",
				  key ? key : "");
	pthread_mutex_lock(&st->lock);
	rc = load_chunks(st, key, &o, &c);
	pthread_mutex_unlock(&st->lock);
	/* an external object, or one ingested meanwhile (external.c) */
	if (rc == STORE_NOTFOUND && store_external_moved(st, key, to) ==
	    STORE_OK)
		return export(st, to, fd, label, whole);
	if (rc != STORE_OK)
		return rc;
	if (o.external)
		return store_external_export(st, &o, fd, label);
	if (o.pending) {
		rc = store_fail(STORE_NOTFOUND, "'%s' is a future that was not"
				" set yet", label);
		goto out;
	}
	if (o.evicted) {
		rc = store_fail(STORE_EVICTED, "cannot read '%s' (key %s): the"
				" object was evicted after its first read",
				label, key);
		goto out;
	}
	if (!valid_chunk_size(o.chunk_size)) {
		rc = store_fail(STORE_CORRUPT, "object '%s' has a bad chunk"
				" size", key);
		goto out;
	}
	if (whole) {
		h = store_sha256_new();
		if (!h) {
			rc = store_fail(STORE_NOMEM, "out of memory");
			goto out;
		}
	}
	if (o.nchunks) {
		rc = zwork_init(&w, st, o.chunk_size, o.nchunks,
				ZSTD_compressBound(o.chunk_size), false, 0);
		if (rc != STORE_OK)
			goto out;
	}
	w.o = &o;
	w.c = c;
	w.label = label;
	if (o.nchunks) {
		plan_batch(&w, &w.b[0], &next);
		store_pool_start(w.pool, w.b[0].n, fetch_item, &w);
		started = true;
	}
	while (started) {
		struct zbatch done;

		store_pool_wait(w.pool, w.b[0].n, fetch_item, &w);
		started = false;
		/* swap, start the next batch, then write this one */
		done = w.b[0];
		w.b[0] = w.b[1];
		w.b[1] = done;
		plan_batch(&w, &w.b[0], &next);
		if (w.b[0].n) {
			store_pool_start(w.pool, w.b[0].n, fetch_item, &w);
			started = true;
		}
		for (unsigned i = 0; i < done.n; i++) {
			struct zjob *j = &done.jobs[i];

			if (j->rc != STORE_OK) {
				/* the failure that stopped the others */
				rc = store_fail(w.fail_rc, "%s", w.fail_err);
				break;
			}
			if (h)
				rc = store_sha256_update(h, j->in,
							 c[j->idx].dsize);
			if (rc != STORE_OK)
				break;
			if (store_write_all(fd, j->in, c[j->idx].dsize) < 0) {
				rc = store_fail_errno(errno, "cannot write"
						      " '%s'", label);
				break;
			}
		}
		if (rc != STORE_OK) {
			if (started)
				store_pool_wait(w.pool, w.b[0].n, fetch_item,
						&w);
			goto out;
		}
	}
	if (!h)
		goto out;
	rc = store_sha256_final(h, digest);
	if (rc != STORE_OK)
		goto out;
	store_hex(digest, sizeof(digest), hex);
	if (strcmp(hex, o.hash)) {
		count(&st->m.corrupt, 1);
		rc = store_fail(STORE_CORRUPT, "cannot read '%s' (key %s):"
				" content does not hash to its key", label,
				key);
	}
out:
	zwork_release(&w);
	store_sha256_free(h);
	free(c);
	return rc;
}

store_rc store_export_fd(struct store *st, const char *key, int fd,
			 const char *label)
{
	return export(st, key, fd, label, false);
}

/* Object @key's row and its chunk @idx's entry, checked for plausibility
 * (an evicted object gives STORE_EVICTED naming @label). */
static store_rc chunk_get(struct store *st, const char *key, uint32_t idx,
			  const char *label, bool fetch, struct store_object *o,
			  struct store_chunk *c)
{
	sqlite3_stmt *s;
	store_rc rc;

	if (!store_is_key(key))
		return store_fail(STORE_INVAL, "'%s' is not a key",
				  key ? key : "");
	pthread_mutex_lock(&st->lock);
	rc = object_get(st, key, o);
	if (rc == STORE_NOTFOUND)
		store_fail(rc, "cannot read '%s' (key %s): the object left the"
			   " store (removed since it was opened)", label, key);
	if (rc == STORE_OK && fetch && o->evicted)
		rc = store_fail(STORE_EVICTED, "cannot read '%s' (key %s): the"
				" object was evicted after its first read",
				label, key);
	if (rc == STORE_OK && idx >= o->nchunks)
		rc = store_fail(STORE_INVAL, "object '%s' has no chunk %u",
				key, idx);
	if (rc != STORE_OK)
		goto out;
	s = store_index_stmt(st, SQL_CHUNK_GET);
	if (!s) {
		rc = STORE_IO;
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, idx);
	rc = store_index_step_row(st, s);
	if (rc == STORE_OK) {
		c->coff = (uint64_t)sqlite3_column_int64(s, 0);
		c->csize = (uint32_t)sqlite3_column_int64(s, 1);
		c->dsize = (uint32_t)sqlite3_column_int64(s, 2);
		if (sqlite3_column_bytes(s, 3) != STORE_SHA256_LEN)
			rc = store_fail(STORE_CORRUPT, "object '%s': bad chunk"
					" digest", key);
		else
			memcpy(c->sha256, sqlite3_column_blob(s, 3),
			       STORE_SHA256_LEN);
	} else if (rc == STORE_NOTFOUND) {
		rc = store_fail(STORE_CORRUPT, "object '%s': chunk %u missing"
				" from the index", key, idx);
	}
	sqlite3_reset(s);
out:
	pthread_mutex_unlock(&st->lock);
	if (rc == STORE_OK)
		rc = check_chunk(o, c, idx);
	return rc;
}

/*
 * Scratch of store_read_chunk(), one per thread and kept: a mount calls
 * it for every chunk it fetches, from many threads, and a new decoder
 * and a new frame buffer (a fresh mmap at a chunk's size) each time cost
 * page faults that show on a 4 KiB read's latency.
 */
struct chunk_scratch {
	struct store_zdec *d;
	void *zbuf;		/* aligned to STORE_CONN_ALIGN */
	size_t cap;		/* bytes at zbuf */
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_ok;

static void scratch_free(void *p)
{
	struct chunk_scratch *s = p;

	store_zdec_free(s->d);
	free(s->zbuf);
	free(s);
}

static void scratch_init(void)
{
	scratch_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

/* This thread's scratch with room for @need frame bytes, and the slack
 * conn_read() wants around them, or NULL. */
static struct chunk_scratch *scratch_get(size_t need)
{
	struct chunk_scratch *s;
	void *p;

	pthread_once(&scratch_once, scratch_init);
	if (!scratch_ok)
		return NULL;
	s = pthread_getspecific(scratch_key);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		s->d = store_zdec_new();
		if (!s->d || pthread_setspecific(scratch_key, s) != 0) {
			scratch_free(s);
			return NULL;
		}
	}
	need += 2 * STORE_CONN_ALIGN;
	if (s->cap < need) {
		free(s->zbuf);
		s->zbuf = NULL;
		s->cap = 0;
		if (posix_memalign(&p, STORE_CONN_ALIGN, need) != 0)
			return NULL;
		s->zbuf = p;
		s->cap = need;
	}
	return s;
}

/*
 * Run the read path once on a few bytes of our own.  Each part costs a
 * cold read milliseconds the first time it runs in a process: libcrypto
 * loads its configuration and providers at its first digest, libzstd's
 * decoder and this code are faulted in from the disk, and the lookups'
 * statements are compiled.  Nothing here can fail in a way a read would
 * not meet again, and report, so failures are ignored.
 */
void store_warm(struct store *st)
{
	static const char text[] = "pxfs: warm the read path";
	uint8_t a[STORE_SHA256_LEN], b[STORE_SHA256_LEN];
	struct store_zenc *e = NULL;
	struct store_zdec *d;
	const void *frame;
	size_t flen;
	char out[sizeof(text)];

	(void)store_sha256(text, sizeof(text), a);
	(void)store_sha256_x2(text, text, sizeof(text), a, b);
	d = store_zdec_new();
	if (d && store_zenc_new(STORE_LEVEL_DEFAULT, STORE_CHUNK_MIN, &e) ==
	    STORE_OK && store_zenc_frame(e, text, sizeof(text), &frame,
					 &flen) == STORE_OK)
		(void)store_zdec_frame(d, frame, flen, out, sizeof(out));
	store_zenc_free(e);
	store_zdec_free(d);
	pthread_mutex_lock(&st->lock);
	(void)store_index_stmt(st, SQL_OBJ_GET);
	(void)store_index_stmt(st, SQL_CHUNK_GET);
	pthread_mutex_unlock(&st->lock);
}

store_rc store_read_chunk(struct store *st, const char *key, uint32_t idx,
			  void *buf, size_t len, size_t *got,
			  const char *label)
{
	struct chunk_scratch *s;
	struct store_object o;
	struct store_chunk c;
	char to[STORE_KEY_HEX + 1];
	store_rc rc;

	if (!label)
		label = key;
	o.external = false;
	rc = chunk_get(st, key, idx, label, true, &o, &c);
	/* an external object has no chunk table, and one ingested meanwhile
	 * no row (external.c) */
	if (rc == STORE_NOTFOUND && store_external_moved(st, key, to) ==
	    STORE_OK)
		return store_read_chunk(st, to, idx, buf, len, got, label);
	if (rc == STORE_CORRUPT && o.external)
		return store_external_read_chunk(st, &o, idx, buf, len, got,
						 label);
	if (rc != STORE_OK)
		return rc;
	if (len < c.dsize)
		return store_fail(STORE_INVAL, "buffer too small for a chunk");
	s = scratch_get(c.csize ? c.csize : 1);
	if (!s)
		return store_fail(STORE_NOMEM, "out of memory");
	rc = fetch_chunk(st, s->d, &o, &c, idx, s->zbuf, s->cap, buf, label);
	if (rc == STORE_OK)
		*got = c.dsize;
	return rc;
}

/*
 * Chunks @idx and @idx + 1 at once, for a reader's readahead: their
 * frames lie side by side in the blob, so one connector get brings both,
 * and SHA-NI verifies two chunks of one length together faster than one
 * after the other (store_sha256_x2()), which is most of what a cold read
 * costs.  Anything out of the ordinary -- an external object, frames of
 * different lengths or not adjacent, a failed get -- goes chunk by chunk
 * through store_read_chunk(), which says what is wrong.
 */
store_rc store_read_chunk2(struct store *st, const char *key, uint32_t idx,
			   void *buf0, void *buf1, size_t len,
			   store_rc rc[2], const char *label)
{
	uint8_t d0[STORE_SHA256_LEN], d1[STORE_SHA256_LEN];
	struct store_chunk c0, c1;
	struct chunk_scratch *s;
	struct store_object o;
	const void *src;
	size_t got, zlen;
	store_rc r;

	if (!label)
		label = key;
	if (idx == UINT32_MAX)
		goto single;
	o.external = false;
	if (chunk_get(st, key, idx, label, true, &o, &c0) != STORE_OK ||
	    chunk_get(st, key, idx + 1, label, true, &o, &c1) != STORE_OK ||
	    c0.dsize != c1.dsize || len < c0.dsize ||
	    c0.coff + c0.csize != c1.coff)
		goto single;
	zlen = (size_t)c0.csize + c1.csize;
	s = scratch_get(zlen ? zlen : 1);
	if (!s)
		goto single;
	if (conn_read(st, o.key, c0.coff, zlen, s->zbuf, s->cap, &src) !=
	    STORE_OK)
		goto single;
	count(&st->m.conn_gets, 2);	/* a get per chunk, as ever */
	count(&st->m.conn_get_bytes, zlen);
	rc[0] = store_zdec_frame(s->d, src, c0.csize, buf0, c0.dsize);
	rc[1] = store_zdec_frame(s->d, (const char *)src + c0.csize,
				 c1.csize, buf1, c1.dsize);
	if (rc[0] == STORE_OK && rc[1] == STORE_OK) {
		r = store_sha256_x2(buf0, buf1, c0.dsize, d0, d1);
		rc[0] = rc[1] = r;
	} else {
		if (rc[0] == STORE_OK)
			rc[0] = store_sha256(buf0, c0.dsize, d0);
		if (rc[1] == STORE_OK)
			rc[1] = store_sha256(buf1, c1.dsize, d1);
	}
	if (rc[0] == STORE_OK && memcmp(d0, c0.sha256, sizeof(d0)))
		rc[0] = STORE_CORRUPT;
	if (rc[1] == STORE_OK && memcmp(d1, c1.sha256, sizeof(d1)))
		rc[1] = STORE_CORRUPT;
	/* the second's message last: the one a caller sees */
	if (rc[0] != STORE_OK) {
		count(&st->m.corrupt, 1);
		rc[0] = store_fail(STORE_CORRUPT, "cannot read '%s' (key %s):"
				   " chunk %u is corrupt in the connector",
				   label, o.key, idx);
	}
	if (rc[1] != STORE_OK) {
		count(&st->m.corrupt, 1);
		rc[1] = store_fail(STORE_CORRUPT, "cannot read '%s' (key %s):"
				   " chunk %u is corrupt in the connector",
				   label, o.key, idx + 1);
	}
	return rc[0] != STORE_OK ? rc[0] : rc[1];
single:
	rc[0] = store_read_chunk(st, key, idx, buf0, len, &got, label);
	if (rc[0] == STORE_OK && got != len)
		rc[0] = store_fail(STORE_CORRUPT, "object '%s': chunk %u has "
				   "%zu bytes, not %zu", key, idx, got, len);
	rc[1] = idx == UINT32_MAX ? STORE_INVAL :
		store_read_chunk(st, key, idx + 1, buf1, len, &got, label);
	if (rc[1] == STORE_OK && got != len)
		rc[1] = store_fail(STORE_CORRUPT, "object '%s': chunk %u has "
				   "%zu bytes, not %zu", key, idx + 1, got, len);
	return rc[0] != STORE_OK ? rc[0] : rc[1];
}

store_rc store_check_chunk(struct store *st, const char *key, uint32_t idx,
			   const void *buf, size_t len)
{
	uint8_t digest[STORE_SHA256_LEN];
	char to[STORE_KEY_HEX + 1];
	struct store_object o;
	struct store_chunk c;
	store_rc rc;

	rc = chunk_get(st, key, idx, key, false, &o, &c);
	/* an external object ingested since (external.c); one not yet
	 * ingested has no digests, so its bytes are fetched again */
	if (rc == STORE_NOTFOUND && store_external_moved(st, key, to) ==
	    STORE_OK)
		return store_check_chunk(st, to, idx, buf, len);
	if (rc != STORE_OK)
		return rc;
	if (len != c.dsize)
		return store_fail(STORE_CORRUPT, "object '%s': chunk %u has"
				  " %u bytes, not %zu", key, idx, c.dsize, len);
	rc = store_sha256(buf, len, digest);
	if (rc != STORE_OK)
		return rc;
	if (memcmp(digest, c.sha256, sizeof(digest)) != 0)
		return store_fail(STORE_CORRUPT, "object '%s': chunk %u does"
				  " not match its digest", key, idx);
	return STORE_OK;
}

/* Read the seek table of blob @key (@size bytes) from @conn. */
static store_rc fetch_seektable(struct store_conn *conn, const char *key,
				uint64_t size, struct store_zframe **frames,
				uint32_t *n, uint64_t *got)
{
	uint8_t footer[STORE_ZCOMP_FOOTER_SIZE];
	size_t tsize;
	void *tab = NULL;
	store_rc rc;

	*frames = NULL;
	if (size < STORE_ZCOMP_FOOTER_SIZE)
		return store_fail(STORE_CORRUPT, "blob '%s' is too short", key);
	rc = conn->ops->get(conn, key, size - sizeof(footer), sizeof(footer),
			    footer);
	if (rc != STORE_OK)
		return rc;
	*got += sizeof(footer);
	rc = store_zseek_size(footer, size, &tsize);
	if (rc != STORE_OK)
		return store_fail(rc, "blob '%s': %s", key, store_last_error());
	tab = malloc(tsize);
	if (!tab)
		return store_fail(STORE_NOMEM, "out of memory");
	rc = conn->ops->get(conn, key, size - tsize, tsize, tab);
	if (rc == STORE_OK) {
		*got += tsize;
		rc = store_zseek_parse(tab, tsize, size, frames, n);
		if (rc != STORE_OK)
			rc = store_fail(rc, "blob '%s': %s", key,
					store_last_error());
	}
	free(tab);
	return rc;
}

store_rc store_blob_walk(struct store_conn *conn, const char *key,
			 store_blob_fn fn, void *arg,
			 struct store_blob_info *info)
{
	struct store_zframe *f = NULL;
	struct store_sha256 *h = NULL;
	struct store_zdec *d = NULL;
	uint8_t digest[STORE_SHA256_LEN];
	char hex[STORE_KEY_HEX + 1];
	void *zbuf = NULL, *buf = NULL;
	uint32_t chunk;
	store_rc rc;

	memset(info, 0, sizeof(*info));
	rc = conn->ops->stat(conn, key, &info->stored_size);
	if (rc == STORE_NOTFOUND)
		return store_fail(rc, "no blob with key '%s' in the connector",
				  key);
	if (rc != STORE_OK)
		return rc;
	rc = fetch_seektable(conn, key, info->stored_size, &f,
			     &info->nchunks, &info->fetched);
	if (rc != STORE_OK)
		goto out;
	chunk = info->nchunks ? f[0].dsize : STORE_CHUNK_DEFAULT;
	if (info->nchunks == 1 && !valid_chunk_size(chunk)) {
		/* one short frame: any chunk size at least as large fits */
		chunk = STORE_CHUNK_MIN;
		while (chunk < f[0].dsize && chunk < STORE_CHUNK_MAX)
			chunk <<= 1;
	}
	if (!valid_chunk_size(chunk)) {
		rc = store_fail(STORE_CORRUPT, "blob '%s': frames of %u bytes"
				" are not a chunk size", key, chunk);
		goto out;
	}
	info->chunk_size = chunk;
	h = store_sha256_new();
	d = store_zdec_new();
	zbuf = malloc(ZSTD_compressBound(chunk));
	buf = malloc(chunk);
	if (!h || !d || !zbuf || !buf) {
		rc = store_fail(STORE_NOMEM, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < info->nchunks; i++) {
		if (f[i].dsize == 0 || f[i].dsize > chunk ||
		    (i + 1 < info->nchunks && f[i].dsize != chunk) ||
		    f[i].csize > ZSTD_compressBound(chunk)) {
			rc = store_fail(STORE_CORRUPT, "blob '%s': frame %u"
					" has a bad size", key, i);
			goto out;
		}
		rc = conn->ops->get(conn, key, f[i].coff, f[i].csize, zbuf);
		if (rc != STORE_OK)
			goto out;
		info->fetched += f[i].csize;
		rc = store_zdec_frame(d, zbuf, f[i].csize, buf, f[i].dsize);
		if (rc == STORE_OK)
			rc = store_sha256_update(h, buf, f[i].dsize);
		if (rc != STORE_OK) {
			rc = store_fail(STORE_CORRUPT, "blob '%s': frame %u:"
					" %s", key, i, store_last_error());
			goto out;
		}
		info->size += f[i].dsize;
		rc = fn(arg, i, &f[i], buf);
		if (rc != STORE_OK)
			goto out;
	}
	rc = store_sha256_final(h, digest);
	if (rc != STORE_OK)
		goto out;
	store_hex(digest, sizeof(digest), hex);
	if (strcmp(hex, key))
		rc = store_fail(STORE_CORRUPT, "blob under key '%s' does not"
				" hash to its key", key);
out:
	free(f);
	store_sha256_free(h);
	store_zdec_free(d);
	free(zbuf);
	free(buf);
	return rc;
}

struct adopt_ctx {
	struct store *st;
	struct store_object *o;
	struct store_chunk *c;
	uint32_t cap;
};

static store_rc adopt_chunk(void *arg, uint32_t i, const struct store_zframe *f,
			    const void *data)
{
	struct adopt_ctx *x = arg;
	store_rc rc = grow_chunks(&x->c, &x->cap, i);

	if (rc != STORE_OK)
		return rc;
	x->c[i].coff = f->coff;
	x->c[i].csize = f->csize;
	x->c[i].dsize = f->dsize;
	if (i == 0) {
		pthread_mutex_lock(&x->st->lock);
		detect_type(x->st, data, f->dsize < TYPE_SNIFF ? f->dsize :
			    TYPE_SNIFF, x->o->type);
		pthread_mutex_unlock(&x->st->lock);
	}
	return store_sha256(data, f->dsize, x->c[i].sha256);
}

store_rc store_adopt(struct store *st, const char *key,
		     struct store_object *out)
{
	struct store_blob_info info;
	struct store_object o;
	struct adopt_ctx x;
	uint64_t size;
	store_rc rc;
	int lockfd = -1;

	if (!store_is_key(key))
		return store_fail(STORE_INVAL, "'%s' is not a key (64 lowercase"
				  " hex digits)", key ? key : "");
	pthread_mutex_lock(&st->lock);
	rc = object_get(st, key, &o);
	pthread_mutex_unlock(&st->lock);
	if (rc == STORE_OK) {
		if (out)
			*out = o;
		return STORE_OK;
	}
	if (rc != STORE_NOTFOUND)
		return rc;
	if (st->flags & STORE_OPEN_RDONLY)
		return store_fail(STORE_ROFS, "store '%s' is open read-only",
				  st->path);
	rc = st->conn->ops->stat(st->conn, key, &size);
	if (rc == STORE_NOTFOUND)
		return store_fail(rc, "no object with key '%s' in the index or"
				  " the connector", key);
	if (rc != STORE_OK)
		return rc;
	memset(&o, 0, sizeof(o));
	memset(&x, 0, sizeof(x));
	x.st = st;
	x.o = &o;
	rc = store_blob_walk(st->conn, key, adopt_chunk, &x, &info);
	count(&st->m.conn_gets, 1);
	count(&st->m.conn_get_bytes, info.fetched);
	if (rc == STORE_CORRUPT)
		count(&st->m.corrupt, 1);
	if (rc != STORE_OK)
		goto out;
	memcpy(o.key, key, sizeof(o.key));
	memcpy(o.hash, key, sizeof(o.hash));
	o.size = info.size;
	o.stored_size = info.stored_size;
	o.chunk_size = info.chunk_size;
	o.nchunks = info.nchunks;
	o.created_ns = store_now_ns();
	if (info.nchunks == 0)
		snprintf(o.type, sizeof(o.type), "application/x-empty");
	/* The blob exists already: hold the gc lock until the row is in,
	 * so gc does not take it for an orphan meanwhile. */
	pthread_mutex_lock(&st->lock);
	if (!st->in_batch)
		lockfd = gc_lock(st, LOCK_SH);
	pthread_mutex_unlock(&st->lock);
	rc = wr_begin(st);
	if (rc != STORE_OK)
		goto out;
	rc = object_insert(st, &o, x.c, info.nchunks);
	if (rc == STORE_OK)
		rc = st->conn->ops->claim(st->conn, key, st->id);
	rc = wr_end(st, rc);
	if (rc == STORE_OK && out)
		*out = o;
out:
	gc_unlock(lockfd);
	free(x.c);
	return rc;
}

/* ---- fsck, gc, totals ------------------------------------------------- */

/*
 * How old a temp must be before fsck calls it a leftover and gc removes it.
 * Writers to this store's file connector hold the gc lock, so under it any
 * temp is a leftover.  A Redis may be shared by writers on other nodes
 * that this lock does not reach: their puts in progress are younger than
 * an hour (the connector refreshes their expiry while they run).
 */
static unsigned leftover_age(const struct store *st)
{
	return strcmp(st->connector, "redis") ? 0 : 3600;
}

struct fsck_ctx {
	struct store *st;
	void (*fn)(void *arg, const char *line);
	void *arg;
	struct store_fsck_report *rep;
	store_rc rc;
};

static void say(struct fsck_ctx *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct fsck_ctx *x, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!x->fn)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	x->fn(x->arg, line);
}

/* A blob no object row names is an orphan. */
static int fsck_blob(void *arg, const char *key, uint64_t size)
{
	struct fsck_ctx *x = arg;
	struct store_object o;
	store_rc rc;

	x->rep->blobs++;
	pthread_mutex_lock(&x->st->lock);
	rc = object_get(x->st, key, &o);
	pthread_mutex_unlock(&x->st->lock);
	if (rc == STORE_NOTFOUND) {
		uint64_t n = 0;

		/* another store sharing the connector names it */
		rc = x->st->conn->ops->claims(x->st->conn, key, &n);
		if (rc != STORE_OK) {
			x->rc = rc;
			return 1;
		}
		if (n > 0)
			return 0;
		x->rep->orphans++;
		say(x, "orphan blob %s (%llu bytes): no object row names it",
		    key, (unsigned long long)size);
	} else if (rc != STORE_OK) {
		x->rc = rc;
		return 1;
	}
	return 0;
}

static void fsck_left(void *arg, const char *what, uint64_t size)
{
	struct fsck_ctx *x = arg;

	x->rep->leftovers++;
	say(x, "leftover %s (%llu bytes) of an interrupted write", what,
	    (unsigned long long)size);
}

/* Does external object row @s (key, .., source, size, type) still
 * have its bytes where they were linked from? */
static void fsck_external(struct fsck_ctx *x, sqlite3_stmt *s)
{
	const unsigned char *key = sqlite3_column_text(s, 0);
	const unsigned char *src = sqlite3_column_text(s, 5);
	const unsigned char *type = sqlite3_column_text(s, 7);
	struct store_object o;
	store_rc rc;

	memset(&o, 0, sizeof(o));
	snprintf(o.key, sizeof(o.key), "%s", key ? (const char *)key : "");
	snprintf(o.source, sizeof(o.source), "%s", src ? (const char *)src :
		 "");
	snprintf(o.type, sizeof(o.type), "%s", type ? (const char *)type :
		 "");
	o.size = (uint64_t)sqlite3_column_int64(s, 6);
	rc = store_external_check(&o);
	if (rc == STORE_OK)
		return;
	if (rc == STORE_CORRUPT)
		x->rep->corrupt++;
	else
		x->rep->missing++;
	say(x, "external object %s (%s): %s", o.key, o.source,
	    store_last_error());
}

static int null_fd(void)
{
	return open("/dev/null", O_WRONLY | O_CLOEXEC);
}

store_rc store_fsck(struct store *st, bool deep,
		    void (*fn)(void *arg, const char *line), void *arg,
		    struct store_fsck_report *rep)
{
	struct fsck_ctx x = { st, fn, arg, rep, STORE_OK };
	struct store_keylist keys = { 0 };
	sqlite3_stmt *s = NULL;
	store_rc rc = STORE_OK;
	int r, lockfd;

	memset(rep, 0, sizeof(*rep));
	/* As a writer does: others then leave the blobs they free to gc
	 * instead of evicting one between our reading its row and looking
	 * for it, which would be reported missing.  Best effort: a store
	 * we may not lock is checked all the same. */
	lockfd = gc_lock(st, LOCK_SH);
	store_clear_error();
	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM nodes", -1, &s,
			       NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		rc = store_index_fail(st, "count nodes");
		goto unlock;
	}
	rep->nodes = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	/* file nodes whose object row is missing */
	if (sqlite3_prepare_v2(st->db, "SELECT n.ino, n.name, n.key FROM nodes"
			       " n LEFT JOIN objects o ON o.key = n.key"
			       " WHERE n.key IS NOT NULL AND o.key IS NULL",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = store_index_fail(st, "check nodes");
		goto unlock;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		rep->dangling++;
		say(&x, "node %lld '%s' names object %s, which the index does"
		    " not have", sqlite3_column_int64(s, 0),
		    (const char *)sqlite3_column_text(s, 1),
		    (const char *)sqlite3_column_text(s, 2));
	}
	if (r != SQLITE_DONE) {
		/* a damaged index must not pass for a clean one */
		rc = store_index_fail(st, "check nodes");
		goto unlock;
	}
	sqlite3_finalize(s);
	/* refcounts against the nodes */
	if (sqlite3_prepare_v2(st->db, "SELECT o.key, o.refs, o.stored_size,"
			       " (SELECT count(*) FROM nodes n WHERE n.key ="
			       " o.key) + (SELECT count(*) FROM publications p"
			       " WHERE p.key = o.key), o.state, o.source,"
			       " o.size, o.type FROM objects o"
			       " ORDER BY o.key", -1, &s, NULL) != SQLITE_OK) {
		rc = store_index_fail(st, "check objects");
		goto unlock;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(s, 0);
		int64_t refs = sqlite3_column_int64(s, 1);
		int64_t real = sqlite3_column_int64(s, 3);
		uint64_t want = (uint64_t)sqlite3_column_int64(s, 2), have;

		rep->objects++;
		if (refs != real) {
			rep->bad_refs++;
			say(&x, "object %s has refs %lld but %lld nodes and"
			    " publications name it", key, (long long)refs,
			    (long long)real);
		}
		if (real == 0) {
			rep->unreferenced++;
			say(&x, "object %s is not referenced by any node",
			    key);
		}
		if (sqlite3_column_int64(s, 4) == STORE_OBJ_EXTERNAL) {
			fsck_external(&x, s);
			continue;	/* no blob: its bytes are elsewhere */
		}
		if (sqlite3_column_int64(s, 4) != STORE_OBJ_READY)
			continue;	/* a future, or evicted after reading */
		if (!key || !store_is_key(key)) {
			/* never for a connector: it could name anything */
			rep->corrupt++;
			say(&x, "an object row's key is not 64 lowercase hex"
			    " digits");
			continue;
		}
		rc = st->conn->ops->stat(st->conn, key, &have);
		if (rc == STORE_NOTFOUND) {
			rep->missing++;
			say(&x, "object %s: blob missing from the connector",
			    key);
		} else if (rc == STORE_OK && have != want) {
			rep->corrupt++;
			say(&x, "object %s: blob has %llu bytes, the index says"
			    " %llu", key, (unsigned long long)have,
			    (unsigned long long)want);
		} else if (rc == STORE_OK && deep) {
			rc = keylist_add(&keys, key);
		}
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			break;
		rc = STORE_OK;
	}
	if (rc == STORE_OK && r != SQLITE_DONE)
		rc = store_index_fail(st, "check objects");
	sqlite3_finalize(s);
	s = NULL;
unlock:
	/* a step that failed leaves its statement prepared, and a statement
	 * left unfinalized makes store_close() leak the whole connection */
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	if (rc != STORE_OK)
		goto out;
	for (size_t i = 0; i < keys.n; i++) {
		int fd = null_fd();

		if (fd < 0) {
			rc = store_fail_errno(errno, "cannot open /dev/null");
			goto out;
		}
		rc = export(st, keys.keys[i], fd, keys.keys[i], true);
		close(fd);
		if (rc == STORE_CORRUPT || rc == STORE_IO) {
			rep->corrupt++;
			say(&x, "object %s does not verify: %s", keys.keys[i],
			    store_last_error());
			rc = STORE_OK;
		} else if (rc != STORE_OK) {
			goto out;
		}
	}
	rc = st->conn->ops->list(st->conn, fsck_blob, &x);
	if (rc == STORE_OK)
		rc = x.rc;
	if (rc == STORE_OK)
		rc = st->conn->ops->leftovers(st->conn, false, leftover_age(st),
					      fsck_left,
					      &x);
	store_clear_error();
out:
	gc_unlock(lockfd);
	keylist_release(&keys);
	return rc;
}

struct gc_ctx {
	struct store *st;
	void (*fn)(void *arg, const char *line);
	void *arg;
	struct store_keylist orphans;
	uint64_t removed, bytes;
	store_rc rc;
};

static int gc_blob(void *arg, const char *key, uint64_t size)
{
	struct gc_ctx *x = arg;
	struct store_object o;
	uint64_t others = 0;
	store_rc rc = object_get(x->st, key, &o);

	if (rc == STORE_NOTFOUND) {
		/* not ours (any more): another store may name it */
		rc = x->st->conn->ops->unclaim(x->st->conn, key, x->st->id,
					       &others);
		if (rc != STORE_OK) {
			x->rc = rc;
			return 1;
		}
		if (others > 0)
			return 0;
		x->bytes += size;
		x->rc = keylist_add(&x->orphans, key);
		return x->rc != STORE_OK;
	}
	if (rc != STORE_OK) {
		x->rc = rc;
		return 1;
	}
	return 0;
}

static void gc_left(void *arg, const char *what, uint64_t size)
{
	struct gc_ctx *x = arg;
	char line[512];

	x->removed++;
	x->bytes += size;
	if (x->fn) {
		snprintf(line, sizeof(line), "removed leftover %s", what);
		x->fn(x->arg, line);
	}
}

store_rc store_gc(struct store *st, void (*fn)(void *arg, const char *line),
		  void *arg, uint64_t *removed, uint64_t *freed_bytes)
{
	struct gc_ctx x = { st, fn, arg, { 0 }, 0, 0, STORE_OK };
	char line[512];
	store_rc rc;
	int fd;

	if (st->flags & STORE_OPEN_RDONLY)
		return store_fail(STORE_ROFS, "store '%s' is open read-only",
				  st->path);
	fd = gc_lock(st, LOCK_EX);
	if (fd < 0)
		return STORE_IO;
	/* rows nobody references; their blobs become orphans below */
	rc = wr_begin(st);
	if (rc == STORE_OK) {
		rc = store_index_exec(st, "DELETE FROM chunks WHERE key IN"
				      " (SELECT key FROM objects o WHERE NOT"
				      " EXISTS (SELECT 1 FROM nodes n WHERE"
				      " n.key = o.key) AND NOT EXISTS (SELECT"
				      " 1 FROM publications p WHERE p.key ="
				      " o.key));"
				      "DELETE FROM objects WHERE NOT EXISTS"
				      " (SELECT 1 FROM nodes n WHERE n.key ="
				      " objects.key) AND NOT EXISTS (SELECT 1"
				      " FROM publications p WHERE p.key ="
				      " objects.key);"
				      "DELETE FROM external_moved WHERE NOT"
				      " EXISTS (SELECT 1 FROM objects o WHERE"
				      " o.key = external_moved.to_key)");
		if (rc == STORE_OK && fn && sqlite3_changes(st->db) > 0) {
			snprintf(line, sizeof(line), "removed %d unreferenced"
				 " object rows", sqlite3_changes(st->db));
			fn(arg, line);
		}
		rc = wr_end(st, rc);
	}
	if (rc != STORE_OK)
		goto out;
	pthread_mutex_lock(&st->lock);
	rc = st->conn->ops->list(st->conn, gc_blob, &x);
	pthread_mutex_unlock(&st->lock);
	if (rc == STORE_OK)
		rc = x.rc;
	for (size_t i = 0; rc == STORE_OK && i < x.orphans.n; i++) {
		rc = st->conn->ops->evict(st->conn, x.orphans.keys[i]);
		if (rc == STORE_OK) {
			x.removed++;
			count(&st->m.conn_evicts, 1);
			if (fn) {
				snprintf(line, sizeof(line), "removed orphan"
					 " blob %s", x.orphans.keys[i]);
				fn(arg, line);
			}
		}
	}
	if (rc == STORE_OK)
		rc = st->conn->ops->leftovers(st->conn, true, leftover_age(st),
					      gc_left, &x);
out:
	gc_unlock(fd);
	keylist_release(&x.orphans);
	if (removed)
		*removed = x.removed;
	if (freed_bytes)
		*freed_bytes = x.bytes;
	return rc;
}

/* A sum from SQLite's total() as a count.  Hostile rows can make it
 * negative, or larger than any uint64_t, and converting such a double is
 * undefined. */
static uint64_t total_u64(double d)
{
	if (!(d > 0))
		return 0;
	if (d >= 18446744073709551616.0)
		return UINT64_MAX;
	return (uint64_t)d;
}

/* PRAGMA data_version: it changes when another connection commits. */
static int64_t data_version(struct store *st)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA data_version", -1, &s,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

store_rc store_totals(struct store *st, struct store_totals *out)
{
	sqlite3_stmt *s = NULL;
	store_rc rc = STORE_OK;
	int64_t version, changes;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->lock);
	/* the counts scan the whole index: an index that nobody changed
	 * since (not this handle, not another) gives the same answer */
	version = data_version(st);
	changes = sqlite3_total_changes64(st->db);
	if (st->totals_ok && version >= 0 && version == st->totals_version &&
	    changes == st->totals_changes) {
		*out = st->totals;
		goto out;
	}
	if (sqlite3_prepare_v2(st->db, "SELECT"
			       " (SELECT count(*) FROM nodes WHERE mode & ?1"
			       " = ?2),"
			       " (SELECT count(*) FROM nodes WHERE mode & ?1"
			       " = ?3),"
			       " (SELECT count(*) FROM nodes WHERE mode & ?1"
			       " = ?4),"
			       " (SELECT count(*) FROM objects),"
			       " (SELECT total(size) FROM objects),"
			       " (SELECT total(stored_size) FROM objects),"
			       " (SELECT total(size) FROM nodes WHERE mode &"
			       " ?1 = ?2)", -1, &s, NULL) != SQLITE_OK) {
		rc = store_index_fail(st, "count");
		goto out;
	}
	sqlite3_bind_int64(s, 1, S_IFMT);
	sqlite3_bind_int64(s, 2, S_IFREG);
	sqlite3_bind_int64(s, 3, S_IFDIR);
	sqlite3_bind_int64(s, 4, S_IFLNK);
	rc = store_index_step_row(st, s);
	if (rc != STORE_OK)
		goto out;
	out->files = (uint64_t)sqlite3_column_int64(s, 0);
	out->dirs = (uint64_t)sqlite3_column_int64(s, 1);
	out->symlinks = (uint64_t)sqlite3_column_int64(s, 2);
	out->objects = (uint64_t)sqlite3_column_int64(s, 3);
	out->bytes = total_u64(sqlite3_column_double(s, 4));
	out->stored_bytes = total_u64(sqlite3_column_double(s, 5));
	out->logical_bytes = total_u64(sqlite3_column_double(s, 6));
	st->totals = *out;
	st->totals_version = version;
	st->totals_changes = changes;
	st->totals_ok = version >= 0;
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* ---- attributes, content, futures ------------------------------------- */

store_rc store_setattr(struct store *st, uint64_t ino, unsigned mask,
		       const struct store_attr *a, struct store_node *out)
{
	struct store_node n;
	sqlite3_stmt *s = NULL;
	store_rc rc;

	if (mask & ~(unsigned)(STORE_SET_MODE | STORE_SET_UID | STORE_SET_GID |
			       STORE_SET_MTIME))
		return store_fail(STORE_INVAL, "unknown attribute mask 0x%x",
				  mask);
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = node_get(st, ino, &n);
	if (rc != STORE_OK)
		goto out;
	if (mask & STORE_SET_MODE)
		n.mode = (n.mode & S_IFMT) | (a->mode & 07777);
	if (mask & STORE_SET_UID)
		n.uid = a->uid;
	if (mask & STORE_SET_GID)
		n.gid = a->gid;
	if (mask & STORE_SET_MTIME)
		n.mtime_ns = a->mtime_ns ? a->mtime_ns : store_now_ns();
	if (sqlite3_prepare_v2(st->db, "UPDATE nodes SET mode = ?2, uid = ?3,"
			       " gid = ?4, mtime = ?5, ctime = ?6 WHERE ino ="
			       " ?1", -1, &s, NULL) != SQLITE_OK) {
		rc = store_index_fail(st, "prepare setattr");
		goto out;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	sqlite3_bind_int64(s, 2, n.mode);
	sqlite3_bind_int64(s, 3, n.uid);
	sqlite3_bind_int64(s, 4, n.gid);
	sqlite3_bind_int64(s, 5, n.mtime_ns);
	sqlite3_bind_int64(s, 6, store_now_ns());
	rc = store_index_step_done(st, s);
	if (rc == STORE_OK && out)
		rc = node_get(st, ino, out);
out:
	sqlite3_finalize(s);
	return wr_end(st, rc);
}

store_rc store_set_content(struct store *st, uint64_t ino, const char *key,
			   const char *type, int64_t mtime_ns,
			   struct store_node *out)
{
	struct store_object o;
	struct store_node n;
	sqlite3_stmt *s = NULL;
	int64_t now = store_now_ns();
	store_rc rc;

	if (!store_is_key(key))
		return store_fail(STORE_INVAL, "'%s' is not a key",
				  key ? key : "");
	if (type && strlen(type) > STORE_TYPE_MAX)
		return store_fail(STORE_INVAL, "type '%s' is longer than %d"
				  " bytes", type, STORE_TYPE_MAX);
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = node_get(st, ino, &n);
	if (rc == STORE_OK && S_ISDIR(n.mode))
		rc = store_fail(STORE_ISDIR, "'%s' is a directory", n.name);
	else if (rc == STORE_OK && !S_ISREG(n.mode))
		rc = store_fail(STORE_INVAL, "'%s' is not a regular file",
				n.name);
	if (rc == STORE_OK)
		rc = object_get(st, key, &o);
	if (rc != STORE_OK)
		goto out;
	if (strcmp(n.key, key)) {
		rc = ref_add(st, key, +1);
		if (rc == STORE_OK && n.key[0])
			rc = ref_add(st, n.key, -1);
		if (rc != STORE_OK)
			goto out;
	}
	if (sqlite3_prepare_v2(st->db, "UPDATE nodes SET key = ?2, size = ?3,"
			       " type = ?4, mtime = ?5, ctime = ?6, flags ="
			       " (flags & ~?7) | ?8 WHERE ino = ?1", -1, &s,
			       NULL) != SQLITE_OK) {
		rc = store_index_fail(st, "prepare set content");
		goto out;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ino);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)o.size);
	sqlite3_bind_text(s, 4, type && *type ? type :
			  (o.type[0] ? o.type : TYPE_DEFAULT), -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, mtime_ns ? mtime_ns : now);
	sqlite3_bind_int64(s, 6, now);
	sqlite3_bind_int64(s, 7, STORE_NODE_PENDING);
	sqlite3_bind_int64(s, 8, o.pending ? STORE_NODE_PENDING : 0);
	rc = store_index_step_done(st, s);
	if (rc == STORE_OK && out)
		rc = node_get(st, ino, out);
out:
	sqlite3_finalize(s);
	return wr_end(st, rc);
}

static void wait_defaults(struct store_wait *w)
{
	if (!w->timeout_ms)
		w->timeout_ms = 60000;
	if (!w->poll_ms)
		w->poll_ms = 100;
	if (!w->poll_max_ms)
		w->poll_max_ms = 2000;
	if (w->poll_max_ms < w->poll_ms)
		w->poll_max_ms = w->poll_ms;
	if (!(w->backoff >= 1.0))
		w->backoff = 1.5;
}

store_rc store_future(struct store *st, uint64_t parent, const char *name,
		      const struct store_attr *a, const struct store_wait *w,
		      struct store_node *out)
{
	struct store_wait pol = { 0, 0, 0, 0 };
	struct store_attr attr = *a;
	struct store_object o;
	struct store_node dir;
	sqlite3_stmt *s = NULL;
	uint8_t rnd[STORE_SHA256_LEN];
	store_rc rc = check_name(name);

	if (rc != STORE_OK)
		return rc;
	if (w)
		pol = *w;
	if (w && w->backoff != 0 && !(w->backoff >= 1.0 &&
				       w->backoff <= 100.0))
		return store_fail(STORE_INVAL, "backoff %g is not from 1 to"
				  " 100", w->backoff);
	wait_defaults(&pol);
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return store_fail_errno(errno, "cannot draw a future key");
	memset(&o, 0, sizeof(o));
	store_hex(rnd, sizeof(rnd), o.key);
	o.chunk_size = st->chunk_size;
	o.created_ns = store_now_ns();
	attr.mode = S_IFREG | (a->mode & 07777);
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = dir_get(st, parent, &dir);
	if (rc == STORE_OK)
		rc = clear_slot(st, parent, name, 0);
	if (rc != STORE_OK)
		goto out;
	if (sqlite3_prepare_v2(st->db, "INSERT INTO objects(key, size,"
			       " stored_size, chunk_size, nchunks, refs, state,"
			       " created, wait_timeout, wait_poll, wait_max,"
			       " wait_backoff) VALUES(?1, 0, 0, ?2, 0, 1, ?3,"
			       " ?4, ?5, ?6, ?7, ?8)", -1, &s,
			       NULL) != SQLITE_OK) {
		rc = store_index_fail(st, "prepare future");
		goto out;
	}
	sqlite3_bind_text(s, 1, o.key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, o.chunk_size);
	sqlite3_bind_int64(s, 3, STORE_OBJ_PENDING);
	sqlite3_bind_int64(s, 4, o.created_ns);
	sqlite3_bind_int64(s, 5, pol.timeout_ms);
	sqlite3_bind_int64(s, 6, pol.poll_ms);
	sqlite3_bind_int64(s, 7, pol.poll_max_ms);
	sqlite3_bind_double(s, 8, pol.backoff);
	rc = store_index_step_done(st, s);
	if (rc == STORE_OK)
		rc = node_insert(st, parent, name, &attr, 0, o.key,
				 TYPE_DEFAULT, NULL, STORE_NODE_PENDING, out);
out:
	sqlite3_finalize(s);
	return wr_end(st, rc);
}

store_rc store_future_set(struct store *st, uint64_t ino, int fd,
			  const char *label, const struct store_put_opts *o,
			  struct store_node *out)
{
	struct store_object obj;
	struct store_node n;
	bool own;
	store_rc rc;

	rc = store_getattr(st, ino, &n);
	if (rc != STORE_OK)
		return rc;
	if (!S_ISREG(n.mode) || !(n.flags & STORE_NODE_PENDING))
		return store_fail(STORE_INVAL, "'%s' is not a pending future",
				  label ? label : n.name);
	pthread_mutex_lock(&st->lock);
	own = !st->in_batch;
	pthread_mutex_unlock(&st->lock);
	if (own) {
		rc = store_begin(st);
		if (rc != STORE_OK)
			return rc;
	}
	rc = store_ingest_fd(st, fd, label, o, &obj);
	if (rc == STORE_OK) {
		/* re-check inside the batch: someone may have set it */
		rc = store_getattr(st, ino, &n);
		if (rc == STORE_OK && !(n.flags & STORE_NODE_PENDING))
			rc = store_fail(STORE_INVAL, "'%s' is not a pending"
					" future (set meanwhile)",
					label ? label : n.name);
	}
	if (rc == STORE_OK)
		rc = store_set_content(st, ino, obj.key, NULL, 0, out);
	if (own) {
		if (rc == STORE_OK)
			rc = store_commit(st);
		else
			store_rollback(st);
	}
	return rc;
}

/* The waiting policy recorded with future @key (defaults if gone). */
static void wait_policy(struct store *st, const char *key,
			struct store_wait *w)
{
	sqlite3_stmt *s = NULL;

	memset(w, 0, sizeof(*w));
	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db, "SELECT wait_timeout, wait_poll,"
			       " wait_max, wait_backoff FROM objects WHERE"
			       " key = ?1", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW) {
			w->timeout_ms = (uint32_t)sqlite3_column_int64(s, 0);
			w->poll_ms = (uint32_t)sqlite3_column_int64(s, 1);
			w->poll_max_ms = (uint32_t)sqlite3_column_int64(s, 2);
			w->backoff = sqlite3_column_double(s, 3);
		}
	}
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	wait_defaults(w);
}

store_rc store_wait_node(struct store *st, uint64_t ino,
			 const struct store_wait *w, const char *label,
			 struct store_node *out)
{
	struct store_wait pol;
	struct store_node n;
	int64_t deadline;
	double sleep_ms;
	store_rc rc;

	rc = store_getattr(st, ino, &n);
	if (rc != STORE_OK || !(n.flags & STORE_NODE_PENDING)) {
		if (rc == STORE_OK && out)
			*out = n;
		return rc;
	}
	if (w) {
		pol = *w;
		wait_defaults(&pol);
	} else {
		wait_policy(st, n.key, &pol);
	}
	deadline = store_now_ns() + (int64_t)pol.timeout_ms * 1000000;
	sleep_ms = pol.poll_ms;
	for (;;) {
		int64_t left = deadline - store_now_ns();
		struct timespec ts;

		if (left <= 0)
			return store_fail(STORE_TIMEDOUT, "future '%s' (key %s)"
					  " was not set within %u ms",
					  label ? label : n.name, n.key,
					  pol.timeout_ms);
		if (sleep_ms * 1e6 > (double)left)
			sleep_ms = (double)left / 1e6;
		ts.tv_sec = (time_t)(sleep_ms / 1000);
		ts.tv_nsec = (long)((sleep_ms - (double)ts.tv_sec * 1000) *
				    1e6);
		nanosleep(&ts, NULL);
		rc = store_getattr(st, ino, &n);
		if (rc != STORE_OK)
			return rc;
		if (!(n.flags & STORE_NODE_PENDING))
			break;
		sleep_ms *= pol.backoff;
		if (sleep_ms > pol.poll_max_ms)
			sleep_ms = pol.poll_max_ms;
	}
	if (out)
		*out = n;
	return STORE_OK;
}

/* ---- evict-on-read ---------------------------------------------------- */

store_rc store_set_evict_on_read(struct store *st, const char *key)
{
	store_rc rc;

	if (!store_is_key(key))
		return store_fail(STORE_INVAL, "'%s' is not a key",
				  key ? key : "");
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = exec_key(st, "UPDATE objects SET flags = flags | 1 WHERE key ="
		      " ?1", key);
	if (rc == STORE_OK && sqlite3_changes(st->db) == 0)
		rc = store_fail(STORE_NOTFOUND, "no object with key '%s'", key);
	return wr_end(st, rc);
}

bool store_is_evict_on_read(struct store *st, const char *key)
{
	struct store_object o;

	return store_object_info(st, key, &o) == STORE_OK && o.evict_on_read;
}

store_rc store_evicted_after_read(struct store *st, const char *key)
{
	struct store_object o;
	store_rc rc;

	if (!store_is_key(key))
		return store_fail(STORE_INVAL, "'%s' is not a key",
				  key ? key : "");
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = object_get(st, key, &o);
	if (rc == STORE_OK && !o.evict_on_read)
		rc = store_fail(STORE_INVAL, "object '%s' is not evict-on-read",
				key);
	if (rc == STORE_OK && !o.evicted)
		rc = exec_key(st, "UPDATE objects SET state = 2 WHERE key = ?1",
			      key);
	rc = wr_end(st, rc);
	if (rc == STORE_OK && !o.evicted) {
		/* after the commit, as for any eviction */
		rc = st->conn->ops->evict(st->conn, key);
		if (rc == STORE_OK)
			count(&st->m.conn_evicts, 1);
	}
	return rc;
}

/* ---- lifetimes -------------------------------------------------------- */

static store_rc check_lifetime_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > STORE_NAME_MAX)
		return store_fail(STORE_INVAL, "bad lifetime name '%s'",
				  name ? name : "");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return store_fail(STORE_INVAL, "bad lifetime name:"
					  " control characters");
	return STORE_OK;
}

static store_rc exec_name(struct store *st, const char *sql, const char *name,
			  int64_t x, int64_t y)
{
	sqlite3_stmt *s = NULL;
	store_rc rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_index_fail(st, "prepare");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, x);
	sqlite3_bind_int64(s, 3, y);
	rc = store_index_step_done(st, s);
	sqlite3_finalize(s);
	return rc;
}

store_rc store_lifetime_create(struct store *st, const char *name,
			       uint32_t lease_s)
{
	int64_t now = store_now_ns();
	store_rc rc = check_lifetime_name(name);

	if (rc != STORE_OK)
		return rc;
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = exec_name(st, "INSERT INTO lifetimes(name, expires, created)"
		       " VALUES(?1, ?2, ?3)", name,
		       lease_s ? now + (int64_t)lease_s * 1000000000 : 0, now);
	if (rc == STORE_EXISTS)
		rc = store_fail(rc, "lifetime '%s' already exists", name);
	return wr_end(st, rc);
}

store_rc store_lifetime_extend(struct store *st, const char *name,
			       uint32_t seconds)
{
	store_rc rc = check_lifetime_name(name);

	if (rc != STORE_OK)
		return rc;
	if (seconds == 0)
		return store_fail(STORE_INVAL, "extend by 0 seconds");
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = exec_name(st, "UPDATE lifetimes SET expires = ?2 WHERE name = ?1",
		       name, store_now_ns() + (int64_t)seconds * 1000000000,
		       0);
	if (rc == STORE_OK && sqlite3_changes(st->db) == 0)
		rc = store_fail(STORE_NOTFOUND, "no lifetime '%s'", name);
	return wr_end(st, rc);
}

store_rc store_set_lifetime(struct store *st, uint64_t ino, const char *name)
{
	struct store_node n;
	store_rc rc = check_lifetime_name(name);

	if (rc != STORE_OK)
		return rc;
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = node_get(st, ino, &n);
	if (rc == STORE_OK && ino == STORE_ROOT_INO)
		rc = store_fail(STORE_INVAL, "the root has no lifetime");
	if (rc == STORE_OK)
		rc = exec_name(st, "INSERT OR IGNORE INTO lifetimes(name,"
			       " expires, created) VALUES(?1, 0, ?2)", name,
			       store_now_ns(), 0);
	if (rc == STORE_OK)
		rc = exec_name(st, "UPDATE nodes SET lifetime = ?1 WHERE ino ="
			       " ?2", name, (int64_t)ino, 0);
	return wr_end(st, rc);
}

/* End lifetime @name inside a write transaction. */
static store_rc end_lifetime(struct store *st, const char *name,
			     uint64_t *removed)
{
	sqlite3_stmt *s = NULL;
	struct store_node n;
	store_rc rc;

	for (;;) {
		if (sqlite3_prepare_v2(st->db, "SELECT ino FROM nodes"
				       " WHERE lifetime = ?1 LIMIT 1", -1, &s,
				       NULL) != SQLITE_OK)
			return store_index_fail(st, "prepare lifetime");
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		rc = store_index_step_row(st, s);
		if (rc == STORE_OK)
			rc = node_get(st, (uint64_t)sqlite3_column_int64(s, 0),
				      &n);
		sqlite3_finalize(s);
		if (rc == STORE_NOTFOUND)
			break;
		if (rc == STORE_OK)
			rc = delete_tree(st, &n, 0);
		if (rc != STORE_OK)
			return rc;
		if (removed)
			(*removed)++;
	}
	store_clear_error();
	return exec_name(st, "DELETE FROM lifetimes WHERE name = ?1", name, 0,
			 0);
}

store_rc store_lifetime_end(struct store *st, const char *name,
			    uint64_t *removed)
{
	sqlite3_stmt *s = NULL;
	store_rc rc = check_lifetime_name(name);

	if (removed)
		*removed = 0;
	if (rc != STORE_OK)
		return rc;
	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM lifetimes WHERE name ="
			       " ?1", -1, &s, NULL) != SQLITE_OK) {
		rc = store_index_fail(st, "prepare lifetime");
	} else {
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		rc = store_index_step_row(st, s);
		if (rc == STORE_NOTFOUND)
			rc = store_fail(rc, "no lifetime '%s'", name);
	}
	sqlite3_finalize(s);
	if (rc == STORE_OK)
		rc = end_lifetime(st, name, removed);
	return wr_end(st, rc);
}

store_rc store_lifetime_list(struct store *st,
			     int (*fn)(void *arg, const char *name,
				       uint64_t entries, int64_t expires_ns),
			     void *arg)
{
	sqlite3_stmt *s = NULL;
	store_rc rc = STORE_OK;
	int r;

	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db, "SELECT l.name, (SELECT count(*) FROM"
			       " nodes n WHERE n.lifetime = l.name), l.expires"
			       " FROM lifetimes l ORDER BY l.name", -1, &s,
			       NULL) != SQLITE_OK) {
		rc = store_index_fail(st, "list lifetimes");
		goto out;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(arg, (const char *)sqlite3_column_text(s, 0),
		       (uint64_t)sqlite3_column_int64(s, 1),
		       sqlite3_column_int64(s, 2)))
			break;
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = store_index_fail(st, "list lifetimes");
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

store_rc store_lifetime_expire(struct store *st, uint64_t *ended)
{
	sqlite3_stmt *s = NULL;
	int64_t now = store_now_ns();
	store_rc rc = STORE_OK;
	char name[STORE_NAME_MAX + 1];

	if (ended)
		*ended = 0;
	if (st->flags & STORE_OPEN_RDONLY)
		return STORE_OK;
	for (;;) {
		pthread_mutex_lock(&st->lock);
		if (sqlite3_prepare_v2(st->db, "SELECT name FROM lifetimes"
				       " WHERE expires > 0 AND expires <= ?1"
				       " LIMIT 1", -1, &s, NULL) != SQLITE_OK) {
			rc = store_index_fail(st, "expire lifetimes");
			pthread_mutex_unlock(&st->lock);
			break;
		}
		sqlite3_bind_int64(s, 1, now);
		rc = store_index_step_row(st, s);
		if (rc == STORE_OK)
			snprintf(name, sizeof(name), "%s",
				 (const char *)sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
		pthread_mutex_unlock(&st->lock);
		if (rc == STORE_NOTFOUND) {
			store_clear_error();
			rc = STORE_OK;
			break;
		}
		if (rc != STORE_OK)
			break;
		rc = store_lifetime_end(st, name, NULL);
		if (rc == STORE_NOTFOUND)	/* ended by someone else */
			rc = STORE_OK;
		if (rc != STORE_OK)
			break;
		store_log(STORE_LOG_INFO, "lease '%s' of store '%s' ended",
			  name, st->path);
		if (ended)
			(*ended)++;
	}
	return rc;
}

/* ---- change notification ---------------------------------------------- */

store_rc store_change_seq(struct store *st, uint64_t *seq)
{
	sqlite3_stmt *s = NULL;
	store_rc rc;

	*seq = 0;
	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db, "SELECT coalesce((SELECT seq FROM"
			       " sqlite_sequence WHERE name = 'changes'), 0)",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = store_index_fail(st, "read changes");
	} else {
		rc = store_index_step_row(st, s);
		if (rc == STORE_OK)
			*seq = (uint64_t)sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

store_rc store_changes(struct store *st, uint64_t after,
		       int (*fn)(void *arg, uint64_t ino, uint64_t parent,
				 const char *name),
		       void *arg, uint64_t *last)
{
	sqlite3_stmt *s = NULL;
	store_rc rc = STORE_OK;
	int r;

	*last = after;
	pthread_mutex_lock(&st->lock);
	/* a gap: the change right after @after is gone */
	if (after > 0) {
		/* the oldest kept, or past the newest ever when all went */
		if (sqlite3_prepare_v2(st->db, "SELECT coalesce(min(seq),"
				       " (SELECT seq + 1 FROM sqlite_sequence"
				       " WHERE name = 'changes'), 0) FROM"
				       " changes", -1, &s, NULL) !=
		    SQLITE_OK) {
			rc = store_index_fail(st, "read changes");
			goto out;
		}
		rc = store_index_step_row(st, s);
		if (rc == STORE_OK) {
			uint64_t min = (uint64_t)sqlite3_column_int64(s, 0);

			if (min > after + 1)
				rc = store_fail(STORE_NOTFOUND, "changes after"
						" %llu were trimmed",
						(unsigned long long)after);
		}
		sqlite3_finalize(s);
		s = NULL;
		if (rc != STORE_OK)
			goto out;
	}
	if (sqlite3_prepare_v2(st->db, "SELECT seq, ino, parent, name FROM"
			       " changes WHERE seq > ?1 ORDER BY seq", -1, &s,
			       NULL) != SQLITE_OK) {
		rc = store_index_fail(st, "read changes");
		goto out;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)after);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		*last = (uint64_t)sqlite3_column_int64(s, 0);
		if (fn(arg, (uint64_t)sqlite3_column_int64(s, 1),
		       (uint64_t)sqlite3_column_int64(s, 2),
		       (const char *)sqlite3_column_text(s, 3)))
			break;
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = store_index_fail(st, "read changes");
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

store_rc store_changes_trim(struct store *st, uint64_t keep)
{
	sqlite3_stmt *s = NULL;
	store_rc rc;

	rc = wr_begin(st);
	if (rc != STORE_OK)
		return rc;
	if (sqlite3_prepare_v2(st->db, "DELETE FROM changes WHERE seq <="
			       " (SELECT max(seq) FROM changes) - ?1", -1, &s,
			       NULL) != SQLITE_OK) {
		rc = store_index_fail(st, "trim changes");
	} else {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)keep);
		rc = store_index_step_done(st, s);
	}
	sqlite3_finalize(s);
	return wr_end(st, rc);
}

/* ---- following publications ------------------------------------------ */

store_rc store_switch_index(struct store *st, const char *dir)
{
	struct store_config_file cfg;
	struct store tmp;
	char *p = NULL;
	store_rc rc;

	if (!st->cfg.snapshot[0])
		return store_fail(STORE_INVAL, "store '%s' is not a snapshot",
				  st->path);
	rc = read_config(dir, &cfg);
	if (rc != STORE_OK)
		return rc;
	if (!cfg.snapshot[0] || strcmp(cfg.id, st->cfg.id) ||
	    strcmp(cfg.connector, st->cfg.connector))
		return store_fail(STORE_INVAL, "'%s' is not a snapshot of the"
				  " same store", dir);
	p = join(dir, INDEX_NAME);
	if (!p)
		return store_fail(STORE_NOMEM, "out of memory");
	/* open the new index beside the old one, then swap under the lock */
	memset(&tmp, 0, sizeof(tmp));
	tmp.path = (char *)(uintptr_t)dir;
	rc = store_index_open(&tmp, p, false);
	free(p);
	if (rc != STORE_OK)
		return rc;
	/* st->path stays: other threads may be quoting it right now */
	pthread_mutex_lock(&st->lock);
	store_index_close(st);
	st->db = tmp.db;
	memcpy(st->cfg.snapshot, cfg.snapshot, sizeof(cfg.snapshot));
	pthread_mutex_unlock(&st->lock);
	return STORE_OK;
}

/* ---- for external.c ---------------------------------------------------- */

store_rc store_txn_begin(struct store *st)
{
	return wr_begin(st);
}

store_rc store_txn_end(struct store *st, store_rc rc)
{
	return wr_end(st, rc);
}

int store_gc_lock_shared(struct store *st)
{
	return gc_lock(st, LOCK_SH);
}

void store_gc_unlock(int fd)
{
	gc_unlock(fd);
}
