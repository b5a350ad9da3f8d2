/* SPDX-License-Identifier: MIT */
/*
 * ref.c - sharing a namespace: publications (snapshots of the index kept
 * as objects), tags (named pointers to the latest publication) and the
 * pxfs:// references that name them, or one object, across job steps and
 * nodes.
 *
 * A reference is parsed strictly: it comes from another process, a job
 * script or a user, so every part is checked and a wrong one is an error
 * naming what is wrong.  Opening a snapshot fetches its blob once,
 * verifies it against its key, and keeps it as a small read-only store
 * (config + index.db) under a directory of the caller's, one per key:
 * never over one that a mount may still have open.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "store_int.h"
#include "zcomp.h"

#define REF_SCHEME	"pxfs://"

/* ---- percent-encoding -------------------------------------------------- */

static bool is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~' || c == '/';
}

/* Append @s percent-encoded; false once @cap is reached. */
static bool put_enc(char *buf, size_t cap, size_t *len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		size_t need = is_unreserved(c) ? 1 : 3;

		if (*len + need >= cap)
			return false;
		if (need == 1) {
			buf[(*len)++] = (char)c;
		} else {
			buf[(*len)++] = '%';
			buf[(*len)++] = hex[c >> 4];
			buf[(*len)++] = hex[c & 15];
		}
	}
	buf[*len] = '\0';
	return true;
}

static bool put_raw(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + n >= cap)
		return false;
	memcpy(buf + *len, s, n + 1);
	*len += n;
	return true;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode @n bytes at @s into @out (@cap bytes); no NUL or control
 * characters may come out. */
static bool get_dec(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return false;
			hi = unhex(s[i + 1]);
			lo = unhex(s[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c < 0x20 || c == 0x7f || o + 1 >= cap)
			return false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return true;
}

/* ---- parsing and formatting ------------------------------------------- */

static store_rc bad_ref(const char *why)
{
	return store_fail(STORE_INVAL, "not a pxfs reference: %s", why);
}

store_rc store_ref_parse(const char *text, struct store_ref *out)
{
	struct store_ref r;
	const char *p, *q, *end;
	char canon[STORE_REF_MAX];
	size_t n;
	bool seen_dir = false, seen_url = false, seen_prefix = false;
	bool seen_type = false;

	memset(&r, 0, sizeof(r));
	if (!text)
		return bad_ref("empty");
	n = strlen(text);
	if (n >= STORE_REF_MAX)
		return bad_ref("too long");
	if (strncmp(text, REF_SCHEME, strlen(REF_SCHEME)))
		return bad_ref("it does not start with pxfs://");
	p = text + strlen(REF_SCHEME);
	end = text + n;

	/* CONNECTOR/ */
	q = strchr(p, '/');
	if (!q || (size_t)(q - p) >= sizeof(r.connector))
		return bad_ref("no connector");
	memcpy(r.connector, p, (size_t)(q - p));
	if (strcmp(r.connector, "file") && strcmp(r.connector, "redis"))
		return bad_ref("the connector is neither file nor redis");
	p = q + 1;
	/* KIND/ */
	q = strchr(p, '/');
	if (!q)
		return bad_ref("no kind (snapshot, tag or object)");
	if ((size_t)(q - p) == 8 && !strncmp(p, "snapshot", 8))
		r.kind = STORE_REF_SNAPSHOT;
	else if ((size_t)(q - p) == 3 && !strncmp(p, "tag", 3))
		r.kind = STORE_REF_TAG;
	else if ((size_t)(q - p) == 6 && !strncmp(p, "object", 6))
		r.kind = STORE_REF_OBJECT;
	else
		return bad_ref("the kind is not snapshot, tag or object");
	p = q + 1;
	/* ID */
	q = strchr(p, '?');
	if (!q)
		q = end;
	if ((size_t)(q - p) >= sizeof(r.id))
		return bad_ref("the key or tag is too long");
	memcpy(r.id, p, (size_t)(q - p));
	if (r.kind == STORE_REF_TAG ? !store_is_tag_name(r.id) :
				      !store_is_key(r.id))
		return bad_ref(r.kind == STORE_REF_TAG ? "bad tag name" :
			       "the key is not 64 lowercase hex digits");
	/* ?PARAMS */
	p = q;
	while (p < end) {
		const char *k = p + 1, *eq, *amp;
		char *dst;
		size_t cap;
		bool *seen;

		amp = memchr(k, '&', (size_t)(end - k));
		if (!amp)
			amp = end;
		eq = memchr(k, '=', (size_t)(amp - k));
		if (!eq)
			return bad_ref("a parameter has no value");
		if ((size_t)(eq - k) == 3 && !strncmp(k, "dir", 3)) {
			dst = r.dir, cap = sizeof(r.dir), seen = &seen_dir;
		} else if ((size_t)(eq - k) == 3 && !strncmp(k, "url", 3)) {
			dst = r.url, cap = sizeof(r.url), seen = &seen_url;
		} else if ((size_t)(eq - k) == 6 &&
			   !strncmp(k, "prefix", 6)) {
			dst = r.prefix, cap = sizeof(r.prefix);
			seen = &seen_prefix;
		} else if ((size_t)(eq - k) == 4 && !strncmp(k, "type", 4)) {
			dst = r.type, cap = sizeof(r.type), seen = &seen_type;
		} else if ((size_t)(eq - k) == 4 && !strncmp(k, "size", 4)) {
			char num[24], *e;
			unsigned long long v;

			if (r.has_size || !get_dec(eq + 1,
						   (size_t)(amp - eq - 1), num,
						   sizeof(num)) ||
			    num[0] < '0' || num[0] > '9')
				return bad_ref("bad size");
			errno = 0;
			v = strtoull(num, &e, 10);
			if (errno || *e)
				return bad_ref("bad size");
			r.size = v;
			r.has_size = true;
			p = amp;
			continue;
		} else {
			return bad_ref("unknown parameter");
		}
		if (*seen)
			return bad_ref("a parameter is given twice");
		*seen = true;
		if (!get_dec(eq + 1, (size_t)(amp - eq - 1), dst, cap))
			return bad_ref("a parameter has a bad value");
		p = amp;
	}
	if (!strcmp(r.connector, "file")) {
		if (!seen_dir || r.dir[0] != '/')
			return bad_ref("a file reference needs an absolute"
				       " dir=");
		if (seen_url || seen_prefix)
			return bad_ref("url= and prefix= are for redis");
	} else {
		if (!seen_url || !r.url[0])
			return bad_ref("a redis reference needs url=");
		if (seen_dir)
			return bad_ref("dir= is for file references");
	}
	if (r.kind != STORE_REF_OBJECT && (r.has_size || seen_type))
		return bad_ref("size= and type= are for object references");
	/* what parses must print again in STORE_REF_MAX bytes, but a value
	 * given raw may take three times its length once percent-encoded */
	if (store_ref_format(&r, canon, sizeof(canon)) != STORE_OK)
		return bad_ref("too long once written out");
	*out = r;
	return STORE_OK;
}

store_rc store_ref_format(const struct store_ref *r, char *buf, size_t cap)
{
	static const char *const kinds[] = {
		[STORE_REF_SNAPSHOT] = "snapshot",
		[STORE_REF_TAG] = "tag",
		[STORE_REF_OBJECT] = "object",
	};
	size_t len = 0;
	bool ok, file = !strcmp(r->connector, "file");
	char num[32];

	if (r->kind < STORE_REF_SNAPSHOT || r->kind > STORE_REF_OBJECT ||
	    (!file && strcmp(r->connector, "redis")) || cap == 0)
		return store_fail(STORE_INVAL, "not a valid reference");
	buf[0] = '\0';
	ok = put_raw(buf, cap, &len, REF_SCHEME) &&
	     put_raw(buf, cap, &len, r->connector) &&
	     put_raw(buf, cap, &len, "/") &&
	     put_raw(buf, cap, &len, kinds[r->kind]) &&
	     put_raw(buf, cap, &len, "/") &&
	     put_raw(buf, cap, &len, r->id);
	if (ok && file)
		ok = put_raw(buf, cap, &len, "?dir=") &&
		     put_enc(buf, cap, &len, r->dir);
	if (ok && !file)
		ok = put_raw(buf, cap, &len, "?url=") &&
		     put_enc(buf, cap, &len, r->url) &&
		     put_raw(buf, cap, &len, "&prefix=") &&
		     put_enc(buf, cap, &len, r->prefix);
	if (ok && r->kind == STORE_REF_OBJECT && r->has_size) {
		snprintf(num, sizeof(num), "%llu",
			 (unsigned long long)r->size);
		ok = put_raw(buf, cap, &len, "&size=") &&
		     put_raw(buf, cap, &len, num);
	}
	if (ok && r->kind == STORE_REF_OBJECT && r->type[0])
		ok = put_raw(buf, cap, &len, "&type=") &&
		     put_enc(buf, cap, &len, r->type);
	if (!ok)
		return store_fail(STORE_INVAL, "reference too long");
	return STORE_OK;
}

/* ---- references of a store ------------------------------------------- */

/* @st's connector as a reference (kind and id left empty). */
static store_rc ref_base(struct store *st, struct store_ref *r)
{
	char *dir, real[PATH_MAX];

	memset(r, 0, sizeof(*r));
	snprintf(r->connector, sizeof(r->connector), "%s", st->cfg.connector);
	if (!strcmp(st->cfg.connector, "redis")) {
		snprintf(r->url, sizeof(r->url), "%s", st->cfg.redis_url);
		snprintf(r->prefix, sizeof(r->prefix), "%s",
			 st->cfg.redis_prefix);
		return STORE_OK;
	}
	if (st->cfg.file_dir[0] == '/') {
		dir = strdup(st->cfg.file_dir);
	} else {
		size_t n = strlen(st->path) + strlen(st->cfg.file_dir) + 2;

		dir = malloc(n);
		if (dir)
			snprintf(dir, n, "%s/%s", st->path, st->cfg.file_dir);
	}
	if (!dir)
		return store_fail(STORE_NOMEM, "out of memory");
	if (!realpath(dir, real)) {
		int saverr = errno;

		free(dir);
		return store_fail_errno(saverr, "cannot resolve the blob"
					" directory of '%s'", st->path);
	}
	free(dir);
	if (snprintf(r->dir, sizeof(r->dir), "%s", real) >=
	    (int)sizeof(r->dir))
		return store_fail(STORE_NAMETOOLONG, "blob directory path too"
				  " long");
	return STORE_OK;
}

store_rc store_ref_make(struct store *st, enum store_ref_kind kind,
			const char *id, struct store_ref *out)
{
	struct store_object o;
	store_rc rc;

	if (kind == STORE_REF_TAG ? !store_is_tag_name(id) : !store_is_key(id))
		return store_fail(STORE_INVAL, "'%s' is not a %s", id ? id : "",
				  kind == STORE_REF_TAG ? "tag name" : "key");
	rc = ref_base(st, out);
	if (rc != STORE_OK)
		return rc;
	out->kind = kind;
	snprintf(out->id, sizeof(out->id), "%s", id);
	if (kind == STORE_REF_OBJECT) {
		rc = store_object_info(st, id, &o);
		if (rc != STORE_OK)
			return rc;
		if (o.pending)
			return store_fail(STORE_INVAL, "object '%s' is a"
					  " future that was not set yet", id);
		out->has_size = true;
		out->size = o.size;
		snprintf(out->type, sizeof(out->type), "%s", o.type);
	}
	return STORE_OK;
}

bool store_ref_same_connector(struct store *st, const struct store_ref *r)
{
	struct store_ref mine;

	if (ref_base(st, &mine) != STORE_OK) {
		store_clear_error();
		return false;
	}
	if (strcmp(mine.connector, r->connector))
		return false;
	if (!strcmp(mine.connector, "file")) {
		char real[PATH_MAX];

		return realpath(r->dir, real) && !strcmp(real, mine.dir);
	}
	return !strcmp(mine.url, r->url) && !strcmp(mine.prefix, r->prefix);
}

/* ---- publishing -------------------------------------------------------- */

/* Mark the snapshot at @path with where it came from. */
static store_rc stamp_snapshot(struct store *st, const char *path,
			       const char *tag)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char now[32];
	store_rc rc = STORE_OK;

	snprintf(now, sizeof(now), "%lld", (long long)store_now_ns());
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=DELETE", NULL, NULL,
			 NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta VALUES"
			       " ('source_id', ?1), ('published', ?2),"
			       " ('tag', ?3)", -1, &s, NULL) != SQLITE_OK) {
		rc = store_fail(STORE_IO, "cannot stamp snapshot of '%s': %s",
				st->path, db ? sqlite3_errmsg(db) :
				"out of memory");
		goto out;
	}
	sqlite3_bind_text(s, 1, st->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, tag ? tag : "", -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = store_fail(STORE_IO, "cannot stamp snapshot of '%s': %s",
				st->path, sqlite3_errmsg(db));
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

store_rc store_publish(struct store *st, const char *tag,
		       char key[STORE_KEY_HEX + 1])
{
	struct store_object o;
	sqlite3_stmt *s = NULL;
	char *tmp = NULL;
	size_t n;
	store_rc rc;
	int fd = -1;

	if (tag && !store_is_tag_name(tag))
		return store_fail(STORE_INVAL, "'%s' is not a tag name (1 to"
				  " 64 of A-Z a-z 0-9 . _ -)", tag);
	if (st->flags & STORE_OPEN_RDONLY)
		return store_fail(STORE_ROFS, "store '%s' is open read-only",
				  st->path);
	n = strlen(st->path) + 32;
	tmp = malloc(n);
	if (!tmp)
		return store_fail(STORE_NOMEM, "out of memory");
	snprintf(tmp, n, "%s/.publish-%d.db", st->path, (int)getpid());
	unlink(tmp);
	/* a consistent copy without the WAL, even while others write */
	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db, "VACUUM INTO ?1", -1, &s, NULL) !=
	    SQLITE_OK) {
		rc = store_index_fail(st, "snapshot");
	} else {
		sqlite3_bind_text(s, 1, tmp, -1, SQLITE_STATIC);
		rc = store_index_step_done(st, s);
	}
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	if (rc == STORE_OK)
		rc = stamp_snapshot(st, tmp, tag);
	if (rc != STORE_OK)
		goto out;
	fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = store_fail_errno(errno, "cannot open snapshot '%s'", tmp);
		goto out;
	}
	rc = store_begin(st);
	if (rc != STORE_OK)
		goto out;
	rc = store_ingest_fd(st, fd, "snapshot", NULL, &o);
	if (rc == STORE_OK) {
		/* the snapshot names every object: keep them all, and it */
		pthread_mutex_lock(&st->lock);
		if (sqlite3_prepare_v2(st->db, "INSERT INTO publications(key,"
				       " tag, created) VALUES(?1, ?2, ?3)", -1,
				       &s, NULL) != SQLITE_OK) {
			rc = store_index_fail(st, "record publication");
		} else {
			sqlite3_bind_text(s, 1, o.key, -1, SQLITE_STATIC);
			if (tag)
				sqlite3_bind_text(s, 2, tag, -1,
						  SQLITE_STATIC);
			sqlite3_bind_int64(s, 3, store_now_ns());
			rc = store_index_step_done(st, s);
		}
		sqlite3_finalize(s);
		s = NULL;
		if (rc == STORE_OK) {
			sqlite3_stmt *r = store_index_stmt(st, SQL_OBJ_REF);

			if (!r) {
				rc = STORE_IO;
			} else {
				sqlite3_bind_text(r, 1, o.key, -1,
						  SQLITE_STATIC);
				sqlite3_bind_int64(r, 2, 1);
				rc = store_index_step_done(st, r);
			}
		}
		pthread_mutex_unlock(&st->lock);
	}
	if (rc == STORE_OK)
		rc = store_commit(st);
	else
		store_rollback(st);
	/* the tag moves only once the snapshot is safely in */
	if (rc == STORE_OK && tag)
		rc = st->conn->ops->tag_set(st->conn, tag, o.key);
	if (rc == STORE_OK)
		memcpy(key, o.key, STORE_KEY_HEX + 1);
out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return rc;
}

/* ---- opening a reference ---------------------------------------------- */

/* The config of a store reaching @r's connector. */
static store_rc ref_config(const struct store_ref *r,
			   struct store_config_file *c)
{
	memset(c, 0, sizeof(*c));
	if (strlen(r->dir) >= sizeof(c->file_dir) ||
	    strlen(r->url) >= sizeof(c->redis_url) ||
	    strlen(r->prefix) >= sizeof(c->redis_prefix))
		return store_fail(STORE_NAMETOOLONG, "reference parameters"
				  " too long");
	c->format = 1;
	snprintf(c->connector, sizeof(c->connector), "%s", r->connector);
	c->chunk_size = STORE_CHUNK_DEFAULT;
	c->level = STORE_LEVEL_DEFAULT;
	snprintf(c->file_dir, sizeof(c->file_dir), "%s",
		 r->dir[0] ? r->dir : "objects");
	snprintf(c->redis_url, sizeof(c->redis_url), "%s", r->url);
	snprintf(c->redis_prefix, sizeof(c->redis_prefix), "%s", r->prefix);
	return STORE_OK;
}

store_rc store_ref_resolve(const struct store_ref *r,
			   char key[STORE_KEY_HEX + 1])
{
	struct store_config_file c;
	struct store_conn *conn = NULL;
	store_rc rc;

	if (r->kind != STORE_REF_TAG) {
		memcpy(key, r->id, STORE_KEY_HEX + 1);
		return STORE_OK;
	}
	rc = ref_config(r, &c);
	if (rc == STORE_OK)
		rc = store_conn_from_config(NULL, &c, false, &conn);
	if (rc != STORE_OK)
		return rc;
	rc = conn->ops->tag_get(conn, r->id, key);
	conn->ops->close(conn);
	return rc;
}

struct write_ctx {
	int fd;
	const char *path;
};

static store_rc write_frame(void *arg, uint32_t i,
			    const struct store_zframe *f, const void *data)
{
	struct write_ctx *x = arg;

	(void)i;
	if (store_write_all(x->fd, data, f->dsize) < 0)
		return store_fail_errno(errno, "cannot write '%s'", x->path);
	return STORE_OK;
}

/* The source store id recorded in snapshot @path ("" if none). */
static void snapshot_source(const char *path, char id[33])
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	id[0] = '\0';
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE name ="
			       " 'source_id'", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(s, 0);

		if (v && strlen(v) == 32)
			snprintf(id, 33, "%s", v);
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
}

store_rc store_ref_open(const struct store_ref *r, const char *key,
			const char *dir, struct store **out)
{
	struct store_config_file c;
	struct store_conn *conn = NULL;
	struct store_blob_info info;
	struct write_ctx x = { -1, NULL };
	char sdir[PATH_MAX], cfgp[PATH_MAX], ix[PATH_MAX], tmp[PATH_MAX];
	char text[4096];
	size_t len;
	store_rc rc;
	int fd;

	*out = NULL;
	if (!store_is_key(key))
		return store_fail(STORE_INVAL, "'%s' is not a snapshot key",
				  key ? key : "");
	if (snprintf(sdir, sizeof(sdir), "%s/%s", dir, key) >=
	    (int)sizeof(sdir) - 32)
		return store_fail(STORE_NAMETOOLONG, "'%s' is too long", dir);
	if (snprintf(cfgp, sizeof(cfgp), "%s/config", sdir) >=
	    (int)sizeof(cfgp) ||
	    snprintf(ix, sizeof(ix), "%s/index.db", sdir) >= (int)sizeof(ix) ||
	    snprintf(tmp, sizeof(tmp), "%s/index.db.tmp", sdir) >=
	    (int)sizeof(tmp))
		return store_fail(STORE_NAMETOOLONG, "'%s' is too long", dir);
	/* fetched before: the config is written last */
	if (access(cfgp, F_OK) == 0 && access(ix, F_OK) == 0)
		return store_open(sdir, STORE_OPEN_RDONLY, out);
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(sdir, 0700) < 0 && errno != EEXIST))
		return store_fail_errno(errno, "cannot create '%s'", sdir);
	rc = ref_config(r, &c);
	if (rc == STORE_OK)
		rc = store_conn_from_config(NULL, &c, false, &conn);
	if (rc != STORE_OK)
		return rc;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = store_fail_errno(errno, "cannot create '%s'", tmp);
		goto out;
	}
	x.fd = fd;
	x.path = tmp;
	rc = store_blob_walk(conn, key, write_frame, &x, &info);
	if (rc == STORE_NOTFOUND)
		rc = store_fail(STORE_NOTFOUND, "no snapshot '%s' in the"
				" connector", key);
	else if (rc == STORE_CORRUPT)
		rc = store_fail(STORE_CORRUPT, "snapshot '%s' is corrupt: %s",
				key, store_last_error());
	if (rc == STORE_OK && fsync(fd) < 0)
		rc = store_fail_errno(errno, "cannot write '%s'", tmp);
	close(fd);
	if (rc != STORE_OK)
		goto out;
	snapshot_source(tmp, c.id);
	if (!c.id[0])
		memcpy(c.id, key, 32);	/* not from pxfs publish: any id */
	memcpy(c.snapshot, key, sizeof(c.snapshot));
	len = store_config_format(&c, text, sizeof(text));
	if (!len) {
		rc = store_fail(STORE_INVAL, "config does not fit");
		goto out;
	}
	if (rename(tmp, ix) < 0) {
		rc = store_fail_errno(errno, "cannot rename '%s'", tmp);
		goto out;
	}
	rc = store_write_file(cfgp, text, len);
	if (rc == STORE_OK)
		rc = store_open(sdir, STORE_OPEN_RDONLY, out);
	if (rc == STORE_CORRUPT)
		rc = store_fail(STORE_CORRUPT, "snapshot '%s' is not a pxfs"
				" index: %s", key, store_last_error());
out:
	unlink(tmp);
	if (conn)
		conn->ops->close(conn);
	return rc;
}
