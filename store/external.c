/* SPDX-License-Identifier: MIT */
/*
 * external.c - external objects: bytes that live outside the store, where
 * a Python ProxyStore put them, linked by their header and length alone
 * and fetched on first read.  Also the way back: writing an object in
 * ProxyStore's format for a Python consumer.
 *
 * ProxyStore's format.  An object is a 2-character serializer id, a
 * newline, then the payload.  Its FileConnector keeps DIR/UUID and writes
 * an empty DIR/UUID.ready after the data; its RedisConnector keeps the
 * bare UUID as the key and the object as a plain string value.  The UUID
 * is str(uuid.uuid4()): nothing else is accepted, so that an external
 * source can never name another file or another Redis key.
 *
 * Linking.  store_external_add() reads the header and the length (stat and
 * a 3-byte pread; EXISTS, STRLEN and a 3-byte GETRANGE in one round trip)
 * and records an objects row in state STORE_OBJ_EXTERNAL under a random
 * key, with the source ("proxystore-file:/DIR/UUID" or
 * "proxystore-redis:redis://HOST:PORT/DB/UUID"), the payload's offset in
 * it (3), its size and the type its id stands for.  Its chunk size and
 * count are those the object will have once ingested, so a range reader
 * can plan its reads before anything is fetched.
 *
 * Reading.  export() and store_read_chunk() in store.c hand external rows
 * to this file.  Read-write, the first read ingests the payload as an
 * ordinary object (a file source straight from its descriptor, a Redis
 * source through an unlinked temporary beside the index, so that a failed
 * fetch leaves no row behind) and then, in one transaction, points every
 * node that named the external key at the content key, drops the
 * external row and records the move in external_moved: a reader that
 * still holds the old key (a mount's open file, another process) follows
 * it there.  From then on every read is verified against the digests
 * taken at that first read -- trust on first use.  Read-only handles (a
 * read-only CLI, a snapshot) cannot record anything and stream the
 * payload from its source on every read, checking only that its header
 * and length are still what was linked.
 *
 * Two readers may ingest the same external object at once: the content is
 * deduplicated, and the second to repoint finds the row gone and follows
 * the move the first recorded.  The gc lock is held shared from the
 * ingest until the repoint commits, so gc cannot take the new object,
 * which has no reference in between, for unused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>

#include "hash.h"
#include "store_int.h"
#include "zcomp.h"

#define PS_HDR		3		/* "BS\n" */
#define PFX_FILE	"proxystore-file:"
#define PFX_REDIS	"proxystore-redis:"
#define IO_BUF		(1u << 20)
#define CONNECT_MS	5000
#define COMMAND_MS	60000
#define TMP_TTL_S	3600		/* a Redis temporary outlives a
					   crash by this long at most */
#define REDIS_DB_MAX	65535
#define PASSWORD_ENV	"PXFS_PROXYSTORE_PASSWORD"

/* ---- the format --------------------------------------------------------- */

static const struct {
	char id[3];
	const char *type;
} serializers[] = {
	{ "BS", "application/octet-stream" },
	{ "US", "text/plain; charset=utf-8" },
	{ "NP", "application/x-npy" },
	{ "PD", "application/x-python-pickle" },	/* pandas, pickled */
	{ "PL", "application/vnd.apache.arrow.file" },	/* polars, IPC */
	{ "PK", "application/x-python-pickle" },
	{ "CP", "application/x-python-pickle" },	/* cloudpickle */
	/* ProxyStore <= 0.6.5 */
	{ "01", "application/octet-stream" },
	{ "02", "text/plain; charset=utf-8" },
	{ "03", "application/x-python-pickle" },
	{ "04", "application/x-python-pickle" },
};

#define NSERIALIZERS (sizeof(serializers) / sizeof(serializers[0]))

bool store_ps_is_uuid(const char *s)
{
	if (!s)
		return false;
	for (int i = 0; i < STORE_PS_UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' :
		    !((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[STORE_PS_UUID_LEN] == '\0';
}

/* @c as itself when printable, else as \xNN, into @buf (5 bytes). */
static const char *printable(unsigned char c, char *buf)
{
	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, 5, "%c", c);
	else
		snprintf(buf, 5, "\\x%02x", c);
	return buf;
}

/*
 * Check the @n bytes at @hdr that start an object of @total bytes, named
 * @what in messages, and fill @out.
 */
static store_rc parse_header(const char *hdr, size_t n, uint64_t total,
			     const char *what, struct store_ps_object *out)
{
	char a[5], b[5];

	memset(out, 0, sizeof(*out));
	if (total < PS_HDR || n < PS_HDR)
		return store_fail(STORE_CORRUPT, "ProxyStore object '%s' is"
				  " truncated: %llu bytes, shorter than its"
				  " %d-byte header", what,
				  (unsigned long long)total, PS_HDR);
	if (hdr[2] != '\n')
		return store_fail(STORE_CORRUPT, "'%s' is not a ProxyStore"
				  " object: it does not start with a"
				  " serializer id and a newline", what);
	for (size_t i = 0; i < NSERIALIZERS; i++) {
		if (hdr[0] == serializers[i].id[0] &&
		    hdr[1] == serializers[i].id[1]) {
			memcpy(out->id, serializers[i].id, 3);
			snprintf(out->type, sizeof(out->type), "%s",
				 serializers[i].type);
			out->size = total - PS_HDR;
			return STORE_OK;
		}
	}
	return store_fail(STORE_CORRUPT, "ProxyStore object '%s' has an"
			  " unknown serializer id '%s%s'", what,
			  printable((unsigned char)hdr[0], a),
			  printable((unsigned char)hdr[1], b));
}

/* ---- where objects live ------------------------------------------------- */

static bool is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

/* Parse a decimal in [@min, @max] from @s up to @end (exclusive). */
static bool parse_num(const char *s, const char *end, unsigned min,
		      unsigned max, unsigned *out)
{
	unsigned long v = 0;

	if (s == end || end - s > 10)
		return false;
	for (const char *p = s; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < min || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

/* "redis://HOST[:PORT][/DB]" into @out. */
static store_rc parse_redis(const char *spec, struct store_ps *out)
{
	const char *p = spec + strlen("redis://"), *h, *he, *end;
	size_t hl;

	if (strchr(p, '@'))
		return store_fail(STORE_INVAL, "a ProxyStore Redis URL takes"
				  " no user or password (the password comes"
				  " from $%s)", PASSWORD_ENV);
	if (*p == '[') {
		h = ++p;
		while (*p && *p != ']') {
			if (!((*p >= '0' && *p <= '9') ||
			      (*p >= 'a' && *p <= 'f') ||
			      (*p >= 'A' && *p <= 'F') || *p == ':' ||
			      *p == '.'))
				break;
			p++;
		}
		if (*p != ']')
			goto bad;
		he = p++;
	} else {
		h = p;
		while (is_host_char(*p))
			p++;
		he = p;
	}
	hl = (size_t)(he - h);
	if (hl == 0 || hl >= sizeof(out->host))
		goto bad;
	memcpy(out->host, h, hl);
	out->host[hl] = '\0';
	out->port = 6379;
	out->db = 0;
	if (*p == ':') {
		end = p + 1 + strcspn(p + 1, "/");
		if (!parse_num(p + 1, end, 1, 65535, &out->port))
			goto bad;
		p = end;
	}
	if (*p == '/') {
		p++;
		end = p + strlen(p);
		if (end > p && end[-1] == '/')
			end--;
		if (end > p && !parse_num(p, end, 0, REDIS_DB_MAX, &out->db))
			goto bad;
		p += strlen(p);
	}
	if (*p != '\0')
		goto bad;
	out->kind = STORE_PS_REDIS;
	return STORE_OK;
bad:
	return store_fail(STORE_INVAL, "invalid ProxyStore Redis URL '%s':"
			  " expected redis://HOST[:PORT][/DB]", spec);
}

store_rc store_ps_parse(const char *spec, struct store_ps *out)
{
	char real[PATH_MAX];
	struct stat sb;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (!spec)
		return store_fail(STORE_INVAL, "missing ProxyStore location");
	if (strncmp(spec, "redis://", 8) == 0)
		return parse_redis(spec, out);
	if (strncmp(spec, "file:", 5) != 0 || spec[5] == '\0')
		return store_fail(STORE_INVAL, "invalid ProxyStore location"
				  " '%s': expected file:DIR or"
				  " redis://HOST[:PORT][/DB]", spec);
	if (!realpath(spec + 5, real))
		return store_fail_errno(errno, "cannot use ProxyStore"
					" directory '%s'", spec + 5);
	if (stat(real, &sb) < 0)
		return store_fail_errno(errno, "cannot use ProxyStore"
					" directory '%s'", spec + 5);
	if (!S_ISDIR(sb.st_mode))
		return store_fail(STORE_NOTDIR, "ProxyStore directory '%s' is"
				  " not a directory", spec + 5);
	len = strlen(real);
	if (len >= sizeof(out->dir) - STORE_PS_UUID_LEN - 16)
		return store_fail(STORE_NAMETOOLONG, "ProxyStore directory"
				  " '%s' has too long a name", spec + 5);
	memcpy(out->dir, real, len + 1);
	out->kind = STORE_PS_FILE;
	return STORE_OK;
}

void store_ps_format(const struct store_ps *ps, char *buf, size_t cap)
{
	if (ps->kind == STORE_PS_FILE)
		snprintf(buf, cap, "file:%s", ps->dir);
	else if (strchr(ps->host, ':'))
		snprintf(buf, cap, "redis://[%s]:%u/%u", ps->host, ps->port,
			 ps->db);
	else
		snprintf(buf, cap, "redis://%s:%u/%u", ps->host, ps->port,
			 ps->db);
}

/* The source string of @uuid in @ps, as the index keeps it. */
static store_rc make_source(const struct store_ps *ps, const char *uuid,
			    char *buf, size_t cap)
{
	char loc[1100];
	int n;

	if (ps->kind == STORE_PS_FILE) {
		n = snprintf(buf, cap, PFX_FILE "%s/%s",
			     strcmp(ps->dir, "/") ? ps->dir : "", uuid);
	} else {
		store_ps_format(ps, loc, sizeof(loc));
		n = snprintf(buf, cap, PFX_REDIS "%s/%s", loc, uuid);
	}
	if (n < 0 || (size_t)n >= cap)
		return store_fail(STORE_NAMETOOLONG, "ProxyStore location of"
				  " '%s' is too long", uuid);
	return STORE_OK;
}

/*
 * Parse a source string from the index back into @ps and @uuid.  The
 * index is trusted, but a published snapshot comes from another node:
 * only the exact shapes make_source() writes are accepted, so a source
 * can name nothing but a UUID-named object in some directory or Redis.
 */
static store_rc parse_source(const char *src, struct store_ps *ps,
			     char uuid[STORE_PS_UUID_LEN + 1])
{
	const char *slash = strrchr(src, '/');
	char loc[1100];
	size_t n;

	memset(ps, 0, sizeof(*ps));
	if (!slash || !store_ps_is_uuid(slash + 1))
		goto bad;
	memcpy(uuid, slash + 1, STORE_PS_UUID_LEN + 1);
	if (strncmp(src, PFX_FILE, strlen(PFX_FILE)) == 0) {
		const char *d = src + strlen(PFX_FILE);

		n = (size_t)(slash - d);
		if (d[0] != '/' || n >= sizeof(ps->dir))
			goto bad;
		memcpy(ps->dir, d, n);
		ps->dir[n] = '\0';
		if (n == 0)
			snprintf(ps->dir, sizeof(ps->dir), "/");
		/* canonical: no empty, "." or ".." components */
		if (strstr(ps->dir, "//") || strstr(ps->dir, "/./") ||
		    strstr(ps->dir, "/../") ||
		    (n >= 2 && strcmp(ps->dir + n - 2, "/.") == 0) ||
		    (n >= 3 && strcmp(ps->dir + n - 3, "/..") == 0))
			goto bad;
		ps->kind = STORE_PS_FILE;
		return STORE_OK;
	}
	if (strncmp(src, PFX_REDIS, strlen(PFX_REDIS)) == 0) {
		const char *u = src + strlen(PFX_REDIS);

		n = (size_t)(slash - u);
		if (n >= sizeof(loc) || strncmp(u, "redis://", 8) != 0)
			goto bad;
		memcpy(loc, u, n);
		loc[n] = '\0';
		if (parse_redis(loc, ps) != STORE_OK)
			goto bad;
		return STORE_OK;
	}
bad:
	return store_fail(STORE_CORRUPT, "bad external source '%.200s' in"
			  " the index", src);
}

/* ---- Redis -------------------------------------------------------------- */

/*
 * hiredis writes with write(2): a server that went away would raise
 * SIGPIPE.  Block it around each exchange and swallow one we caused.
 */
struct sigpipe {
	sigset_t old;
	bool was_pending;
};

static void sigpipe_block(struct sigpipe *s)
{
	sigset_t set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &s->old);
	sigemptyset(&pend);
	sigpending(&pend);
	s->was_pending = sigismember(&pend, SIGPIPE) == 1;
}

static void sigpipe_restore(const struct sigpipe *s)
{
	struct timespec zero = { 0, 0 };
	sigset_t set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigemptyset(&pend);
	if (!s->was_pending && sigpending(&pend) == 0 &&
	    sigismember(&pend, SIGPIPE) == 1) {
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &s->old, NULL);
}

static struct timeval ms_tv(unsigned ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
			      (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

/* A connection to @ps's server, and the name messages give it. */
struct rconn {
	redisContext *c;
	char name[300];
};

static void rconn_close(struct rconn *r)
{
	if (r->c)
		redisFree(r->c);
	r->c = NULL;
}

static store_rc rconn_fail(struct rconn *r, const char *what)
{
	store_rc rc = store_fail(STORE_IO, "redis at '%s': %s: %s", r->name,
				 what, r->c->errstr[0] ? r->c->errstr :
				 "connection lost");

	rconn_close(r);
	return rc;
}

/* Send @n commands (argv arrays) and read their @n replies into @rep. */
static store_rc rconn_run(struct rconn *r, int n, const int *argc,
			  const char **const *argv, const size_t *const *len,
			  redisReply **rep)
{
	struct sigpipe sp;
	store_rc rc = STORE_OK;
	int i;

	for (i = 0; i < n; i++)
		rep[i] = NULL;
	if (!r->c)
		return store_fail(STORE_IO, "redis at '%s': not connected",
				  r->name);
	for (i = 0; i < n; i++) {
		if (redisAppendCommandArgv(r->c, argc[i], argv[i],
					   len[i]) != REDIS_OK)
			return rconn_fail(r, "cannot send");
	}
	sigpipe_block(&sp);
	for (i = 0; i < n; i++) {
		void *p = NULL;

		if (redisGetReply(r->c, &p) != REDIS_OK || !p) {
			rc = STORE_IO;
			break;
		}
		rep[i] = p;
	}
	sigpipe_restore(&sp);
	if (rc != STORE_OK) {
		for (int j = 0; j < i; j++) {
			freeReplyObject(rep[j]);
			rep[j] = NULL;
		}
		return rconn_fail(r, "no reply");
	}
	return STORE_OK;
}

/* One command; the reply is the caller's to free. */
static store_rc rconn_cmd(struct rconn *r, int argc, const char **argv,
			  const size_t *len, redisReply **rep)
{
	return rconn_run(r, 1, &argc, &argv, &len, rep);
}

static store_rc reply_error(struct rconn *r, const redisReply *rep,
			    const char *what)
{
	if (rep->type == REDIS_REPLY_ERROR &&
	    strncmp(rep->str, "NOAUTH", 6) == 0)
		return store_fail(STORE_PERM, "redis at '%s' requires a"
				  " password (set $%s)", r->name,
				  PASSWORD_ENV);
	return store_fail(STORE_IO, "redis at '%s': %s: %.200s", r->name,
			  what, rep->type == REDIS_REPLY_ERROR ? rep->str :
			  "unexpected reply");
}

static store_rc rconn_open(const struct store_ps *ps, struct rconn *r)
{
	const char *pw = getenv(PASSWORD_ENV);
	const char *argv[2];
	size_t len[2];
	char db[16];
	redisReply *rep = NULL;
	store_rc rc = STORE_OK;

	memset(r, 0, sizeof(*r));
	store_ps_format(ps, r->name, sizeof(r->name));
	r->c = redisConnectWithTimeout(ps->host, (int)ps->port,
				       ms_tv(CONNECT_MS));
	if (!r->c)
		return store_fail(STORE_NOMEM, "out of memory");
	if (r->c->err) {
		rc = store_fail(STORE_IO, "cannot connect to redis at '%s':"
				" %s", r->name, r->c->errstr);
		rconn_close(r);
		return rc;
	}
	if (redisSetTimeout(r->c, ms_tv(COMMAND_MS)) != REDIS_OK)
		return rconn_fail(r, "cannot set a timeout");
	if (pw && *pw) {
		argv[0] = "AUTH";
		argv[1] = pw;
		len[0] = 4;
		len[1] = strlen(pw);
		rc = rconn_cmd(r, 2, argv, len, &rep);
		if (rc != STORE_OK)
			return rc;
		if (rep->type == REDIS_REPLY_ERROR &&
		    !strstr(rep->str, "no password is set") &&
		    !strstr(rep->str, "without any password configured"))
			rc = store_fail(STORE_PERM, "redis at '%s' refused"
					" the password", r->name);
		freeReplyObject(rep);
		rep = NULL;
	}
	if (rc == STORE_OK && ps->db != 0) {
		argv[0] = "SELECT";
		argv[1] = db;
		len[0] = 6;
		len[1] = (size_t)snprintf(db, sizeof(db), "%u", ps->db);
		rc = rconn_cmd(r, 2, argv, len, &rep);
		if (rc == STORE_OK && rep->type == REDIS_REPLY_ERROR)
			rc = reply_error(r, rep, "cannot select the database");
		freeReplyObject(rep);
	}
	if (rc != STORE_OK)
		rconn_close(r);
	return rc;
}

/* ---- an open source ----------------------------------------------------- */

struct src {
	struct store_ps ps;
	char uuid[STORE_PS_UUID_LEN + 1];
	char name[1100];		/* for messages */
	int fd;				/* file */
	struct rconn r;			/* redis */
};

static void src_close(struct src *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	rconn_close(&s->r);
}

/* Open @s on @ps/@uuid and read its header and length into @info.
 * With @need_ready, a file without its .ready marker is STORE_NOTFOUND. */
static store_rc src_open(struct src *s, const struct store_ps *ps,
			 const char *uuid, bool need_ready,
			 struct store_ps_object *info)
{
	static const size_t l3[3] = { 6, STORE_PS_UUID_LEN, 0 };
	char path[1200], hdr[PS_HDR];
	const char *a_exists[2], *a_strlen[2], *a_range[4];
	const char **argv[3];
	const size_t *len[3];
	size_t l_range[4] = { 8, STORE_PS_UUID_LEN, 1, 1 };
	int argc[3] = { 2, 2, 4 };
	redisReply *rep[3] = { NULL, NULL, NULL };
	struct stat sb;
	store_rc rc;
	ssize_t n;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->ps = *ps;
	memcpy(s->uuid, uuid, sizeof(s->uuid));
	if (ps->kind == STORE_PS_FILE) {
		snprintf(s->name, sizeof(s->name), "%s/%s",
			 strcmp(ps->dir, "/") ? ps->dir : "", uuid);
		/* no symlink: the name must be the object itself */
		s->fd = open(s->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (s->fd < 0 && (errno == ENOENT || errno == ELOOP)) {
			return store_fail(STORE_NOTFOUND, "no ProxyStore"
					  " object '%s' in '%s'", uuid,
					  ps->dir);
		}
		if (s->fd < 0)
			return store_fail_errno(errno, "cannot open ProxyStore"
						" object '%s'", s->name);
		if (fstat(s->fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			rc = store_fail(STORE_CORRUPT, "ProxyStore object '%s'"
					" is not a regular file", s->name);
			goto fail;
		}
		if (need_ready) {
			snprintf(path, sizeof(path), "%s.ready", s->name);
			if (access(path, F_OK) < 0) {
				rc = store_fail(STORE_NOTFOUND, "ProxyStore"
						" object '%s' is not ready:"
						" '%s' is missing", s->name,
						path);
				goto fail;
			}
		}
		n = pread(s->fd, hdr, sizeof(hdr), 0);
		if (n < 0) {
			rc = store_fail_errno(errno, "cannot read ProxyStore"
					      " object '%s'", s->name);
			goto fail;
		}
		rc = parse_header(hdr, (size_t)n, (uint64_t)sb.st_size,
				  s->name, info);
		if (rc != STORE_OK)
			goto fail;
		return STORE_OK;
	}
	rc = rconn_open(ps, &s->r);
	if (rc != STORE_OK)
		return rc;
	snprintf(s->name, sizeof(s->name), "%s %s", s->r.name, uuid);
	a_exists[0] = "EXISTS";
	a_exists[1] = uuid;
	a_strlen[0] = "STRLEN";
	a_strlen[1] = uuid;
	a_range[0] = "GETRANGE";
	a_range[1] = uuid;
	a_range[2] = "0";
	a_range[3] = "2";
	argv[0] = a_exists;
	argv[1] = a_strlen;
	argv[2] = a_range;
	len[0] = l3;
	len[1] = l3;
	len[2] = l_range;
	rc = rconn_run(&s->r, 3, argc, argv, len, rep);
	if (rc != STORE_OK)
		goto fail;
	if (rep[0]->type != REDIS_REPLY_INTEGER) {
		rc = reply_error(&s->r, rep[0], "EXISTS");
	} else if (rep[0]->integer == 0) {
		rc = store_fail(STORE_NOTFOUND, "no ProxyStore object '%s' in"
				" redis at '%s'", uuid, s->r.name);
	} else if (rep[1]->type == REDIS_REPLY_ERROR &&
		   strncmp(rep[1]->str, "WRONGTYPE", 9) == 0) {
		rc = store_fail(STORE_CORRUPT, "Redis key '%s' at '%s' is not"
				" a ProxyStore object (not a string)", uuid,
				s->r.name);
	} else if (rep[1]->type != REDIS_REPLY_INTEGER ||
		   rep[1]->integer < 0) {
		rc = reply_error(&s->r, rep[1], "STRLEN");
	} else if (rep[2]->type != REDIS_REPLY_STRING) {
		rc = reply_error(&s->r, rep[2], "GETRANGE");
	} else {
		rc = parse_header(rep[2]->str, rep[2]->len,
				  (uint64_t)rep[1]->integer, s->name, info);
	}
	for (int i = 0; i < 3; i++)
		freeReplyObject(rep[i]);
	if (rc == STORE_OK)
		return STORE_OK;
fail:
	src_close(s);
	return rc;
}

/* Read @len payload bytes at payload offset @off into @buf, exactly. */
static store_rc src_read(struct src *s, uint64_t off, void *buf, size_t len)
{
	char a[24], b[24];
	const char *argv[4] = { "GETRANGE", s->uuid, a, b };
	size_t l[4] = { 8, STORE_PS_UUID_LEN, 0, 0 };
	redisReply *rep = NULL;
	store_rc rc;

	if (len == 0)
		return STORE_OK;
	if (s->ps.kind == STORE_PS_FILE) {
		if (store_pread_all(s->fd, buf, len, off + PS_HDR) < 0) {
			if (errno == EIO)
				return store_fail(STORE_CORRUPT, "ProxyStore"
						  " object '%s' got shorter"
						  " while it was read",
						  s->name);
			return store_fail_errno(errno, "cannot read ProxyStore"
						" object '%s'", s->name);
		}
		return STORE_OK;
	}
	l[2] = (size_t)snprintf(a, sizeof(a), "%llu",
				(unsigned long long)(off + PS_HDR));
	l[3] = (size_t)snprintf(b, sizeof(b), "%llu",
				(unsigned long long)(off + PS_HDR + len - 1));
	rc = rconn_cmd(&s->r, 4, argv, l, &rep);
	if (rc != STORE_OK)
		return rc;
	if (rep->type != REDIS_REPLY_STRING)
		rc = reply_error(&s->r, rep, "GETRANGE");
	else if (rep->len != len)
		rc = store_fail(STORE_CORRUPT, "ProxyStore object '%s' got"
				" shorter while it was read", s->name);
	else
		memcpy(buf, rep->str, len);
	freeReplyObject(rep);
	return rc;
}

/*
 * Open the source of external object @o for reading and check that it is
 * what was linked.  A source that is gone or changed is a failed read of
 * @label (STORE_IO, STORE_CORRUPT), never "no such entry".
 */
static store_rc src_open_object(struct src *s, const struct store_object *o,
				const char *label)
{
	struct store_ps_object info;
	char uuid[STORE_PS_UUID_LEN + 1];
	struct store_ps ps;
	store_rc rc;

	rc = parse_source(o->source, &ps, uuid);
	if (rc != STORE_OK)
		return rc;
	rc = src_open(s, &ps, uuid, false, &info);
	if (rc == STORE_NOTFOUND)
		return store_fail(STORE_IO, "cannot read '%s' (key %s): its"
				  " ProxyStore source is gone: %s", label,
				  o->key, store_last_error());
	if (rc != STORE_OK)
		return store_fail(rc == STORE_CORRUPT ? STORE_CORRUPT :
				  STORE_IO, "cannot read '%s' (key %s): %s",
				  label, o->key, store_last_error());
	if (info.size != o->size || strcmp(info.type, o->type) != 0) {
		rc = store_fail(STORE_CORRUPT, "cannot read '%s' (key %s): its"
				" ProxyStore source '%s' changed since it was"
				" linked (%llu bytes of %s, was %llu bytes of"
				" %s)", label, o->key, s->name,
				(unsigned long long)info.size, info.type,
				(unsigned long long)o->size, o->type);
		src_close(s);
	}
	return rc;
}

static void count_get(struct store *st, uint64_t bytes)
{
	atomic_fetch_add_explicit(&st->m.conn_gets, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->m.conn_get_bytes, bytes,
				  memory_order_relaxed);
}

static void count_error(struct store *st, store_rc rc)
{
	atomic_fetch_add_explicit(&st->m.conn_errors, 1, memory_order_relaxed);
	if (rc == STORE_CORRUPT)
		atomic_fetch_add_explicit(&st->m.corrupt, 1,
					  memory_order_relaxed);
}

/* ---- public: looking at ProxyStore -------------------------------------- */

store_rc store_ps_stat(const struct store_ps *ps, const char *uuid,
		       struct store_ps_object *out)
{
	struct src s;
	store_rc rc;

	if (!store_ps_is_uuid(uuid))
		return store_fail(STORE_INVAL, "invalid ProxyStore key '%s':"
				  " expected a UUID like"
				  " 0b7e1f0c-3f6e-4c1a-9d2e-5a4b3c2d1e0f",
				  uuid ? uuid : "");
	rc = src_open(&s, ps, uuid, true, out);
	if (rc == STORE_OK)
		src_close(&s);
	return rc;
}

static int cmp_uuid(const void *a, const void *b)
{
	return strcmp(a, b);
}

store_rc store_ps_list(const struct store_ps *ps,
		       int (*fn)(void *arg, const char *uuid, bool ready),
		       void *arg)
{
	char (*v)[STORE_PS_UUID_LEN + 1] = NULL;
	char ready[STORE_PS_UUID_LEN + 8];
	size_t n = 0, cap = 0;
	struct dirent *d;
	store_rc rc = STORE_OK;
	DIR *dp;
	int dfd;

	if (ps->kind != STORE_PS_FILE)
		return store_fail(STORE_INVAL, "only a ProxyStore directory"
				  " can be listed");
	dp = opendir(ps->dir);
	if (!dp)
		return store_fail_errno(errno, "cannot read ProxyStore"
					" directory '%s'", ps->dir);
	errno = 0;
	while ((d = readdir(dp))) {
		if (!store_ps_is_uuid(d->d_name))
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 64;
			void *p = realloc(v, c * sizeof(*v));

			if (!p) {
				rc = store_fail(STORE_NOMEM, "out of memory");
				goto out;
			}
			v = p;
			cap = c;
		}
		memcpy(v[n++], d->d_name, STORE_PS_UUID_LEN + 1);
		errno = 0;
	}
	if (errno) {
		rc = store_fail_errno(errno, "cannot read ProxyStore"
				      " directory '%s'", ps->dir);
		goto out;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_uuid);
	dfd = dirfd(dp);
	for (size_t i = 0; i < n; i++) {
		snprintf(ready, sizeof(ready), "%s.ready", v[i]);
		if (fn(arg, v[i], faccessat(dfd, ready, F_OK, 0) == 0))
			break;
	}
out:
	closedir(dp);
	free(v);
	return rc;
}

/* ---- public: linking ---------------------------------------------------- */

store_rc store_external_add(struct store *st, const struct store_ps *ps,
			    const char *uuid, struct store_object *out)
{
	char source[STORE_SOURCE_MAX + 1], key[STORE_KEY_HEX + 1];
	uint8_t rnd[32];
	struct store_ps_object info;
	sqlite3_stmt *s = NULL;
	uint64_t nchunks, chunk = st->chunk_size;
	store_rc rc;

	if (st->flags & STORE_OPEN_RDONLY)
		return store_fail(STORE_ROFS, "store '%s' is open read-only",
				  st->path);
	rc = store_ps_stat(ps, uuid, &info);
	if (rc != STORE_OK)
		return rc;
	rc = make_source(ps, uuid, source, sizeof(source));
	if (rc != STORE_OK)
		return rc;
	nchunks = (info.size + chunk - 1) / chunk;
	if (nchunks >= STORE_ZCOMP_MAX_FRAMES)
		return store_fail(STORE_INVAL, "ProxyStore object '%s' is too"
				  " large for chunks of %llu bytes", uuid,
				  (unsigned long long)chunk);
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return store_fail_errno(errno, "cannot draw a key");
	store_hex(rnd, sizeof(rnd), key);
	rc = store_txn_begin(st);
	if (rc != STORE_OK)
		return rc;
	/* the same source linked again: the same object */
	if (sqlite3_prepare_v2(st->db, "SELECT key FROM objects WHERE"
			       " source = ?1 AND state = ?2 AND size = ?3"
			       " AND type = ?4 LIMIT 1", -1, &s,
			       NULL) != SQLITE_OK) {
		rc = store_index_fail(st, "prepare");
		goto out;
	}
	sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, STORE_OBJ_EXTERNAL);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)info.size);
	sqlite3_bind_text(s, 4, info.type, -1, SQLITE_STATIC);
	rc = store_index_step_row(st, s);
	if (rc == STORE_OK) {
		const unsigned char *k = sqlite3_column_text(s, 0);

		if (!k || !store_is_key((const char *)k)) {
			rc = store_fail(STORE_CORRUPT, "bad key in the index");
			goto out;
		}
		memcpy(key, k, sizeof(key));
		goto out;
	}
	if (rc != STORE_NOTFOUND)
		goto out;
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(st->db, "INSERT INTO objects(key, hash, size,"
			       " stored_size, chunk_size, nchunks, refs,"
			       " state, type, created, source, source_off)"
			       " VALUES(?1, '', ?2, 0, ?3, ?4, 0, ?5, ?6, ?7,"
			       " ?8, ?9)", -1, &s, NULL) != SQLITE_OK) {
		s = NULL;
		rc = store_index_fail(st, "prepare");
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)info.size);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)chunk);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)nchunks);
	sqlite3_bind_int(s, 5, STORE_OBJ_EXTERNAL);
	sqlite3_bind_text(s, 6, info.type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, store_now_ns());
	sqlite3_bind_text(s, 8, source, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 9, PS_HDR);
	rc = store_index_step_done(st, s);
out:
	sqlite3_finalize(s);
	rc = store_txn_end(st, rc);
	if (rc == STORE_OK && out)
		rc = store_object_info(st, key, out);
	return rc;
}

/* ---- reading ------------------------------------------------------------ */

store_rc store_external_moved(struct store *st, const char *key,
			      char to[STORE_KEY_HEX + 1])
{
	sqlite3_stmt *s = NULL;
	const unsigned char *t;
	store_rc rc;

	pthread_mutex_lock(&st->lock);
	/* only to an ordinary object that exists: never a chain or a loop */
	if (sqlite3_prepare_v2(st->db, "SELECT m.to_key FROM external_moved m"
			       " JOIN objects o ON o.key = m.to_key WHERE"
			       " m.key = ?1 AND o.state != ?2", -1, &s,
			       NULL) != SQLITE_OK) {
		rc = STORE_IO;	/* an old index: nothing moved */
		goto out;
	}
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, STORE_OBJ_EXTERNAL);
	if (sqlite3_step(s) != SQLITE_ROW) {
		rc = STORE_NOTFOUND;
		goto out;
	}
	t = sqlite3_column_text(s, 0);
	if (!t || !store_is_key((const char *)t) ||
	    strcmp((const char *)t, key) == 0) {
		rc = STORE_NOTFOUND;
		goto out;
	}
	memcpy(to, t, STORE_KEY_HEX + 1);
	rc = STORE_OK;
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Run @sql with ?1 = @a and ?2 = @b (either may be NULL). */
static store_rc exec2(struct store *st, const char *sql, const char *a,
		      const char *b, int *changes)
{
	sqlite3_stmt *s = NULL;
	store_rc rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_index_fail(st, "prepare");
	if (a)
		sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(s, 2, b, -1, SQLITE_STATIC);
	rc = store_index_step_done(st, s);
	if (changes)
		*changes = sqlite3_changes(st->db);
	sqlite3_finalize(s);
	return rc;
}

/*
 * Point every node naming external object @from at ingested object @to,
 * drop @from's row and remember the move.  If another reader did it first
 * (@from is gone), *out is where it went; else it is @to.
 */
static store_rc repoint(struct store *st, const char *from, const char *to,
			char out[STORE_KEY_HEX + 1])
{
	sqlite3_stmt *s = NULL;
	struct store_object o;
	char n[24];
	int changes = 0;
	store_rc rc;

	rc = store_txn_begin(st);
	if (rc != STORE_OK)
		return rc;
	rc = store_object_info(st, from, &o);
	if (rc == STORE_NOTFOUND) {
		rc = store_external_moved(st, from, out);
		if (rc != STORE_OK)
			rc = store_fail(STORE_IO, "external object '%s' went"
					" away while it was read", from);
		goto out;
	}
	if (rc != STORE_OK)
		goto out;
	if (!o.external) {
		rc = store_fail(STORE_CORRUPT, "object '%s' is not external",
				from);
		goto out;
	}
	rc = exec2(st, "UPDATE nodes SET key = ?2 WHERE key = ?1", from, to,
		   &changes);
	if (rc != STORE_OK)
		goto out;
	snprintf(n, sizeof(n), "%d", changes);
	rc = exec2(st, "UPDATE objects SET refs = refs + CAST(?2 AS INTEGER)"
		   " WHERE key = ?1", to, n, NULL);
	if (rc == STORE_OK)
		rc = exec2(st, "DELETE FROM objects WHERE key = ?1", from,
			   NULL, NULL);
	if (rc != STORE_OK)
		goto out;
	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO"
			       " external_moved(key, to_key, moved)"
			       " VALUES(?1, ?2, ?3)", -1, &s,
			       NULL) != SQLITE_OK) {
		s = NULL;
		rc = store_index_fail(st, "prepare");
		goto out;
	}
	sqlite3_bind_text(s, 1, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, to, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, store_now_ns());
	rc = store_index_step_done(st, s);
	if (rc == STORE_OK)
		memcpy(out, to, STORE_KEY_HEX + 1);
out:
	sqlite3_finalize(s);
	return store_txn_end(st, rc);
}

/* An unlinked temporary file beside the index, for a Redis payload. */
static int temp_fd(struct store *st)
{
	char path[PATH_MAX];
	int fd;

	fd = open(st->path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR &&
			errno != EINVAL))
		return fd;
	snprintf(path, sizeof(path), "%s/.external-XXXXXX", st->path);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

/* Copy @o's payload from @s to @fd; the bytes count as connector gets. */
static store_rc copy_payload(struct store *st, struct src *s,
			     const struct store_object *o, int fd,
			     const char *label)
{
	uint64_t off = 0;
	store_rc rc = STORE_OK;
	char *buf = malloc(IO_BUF);

	if (!buf)
		return store_fail(STORE_NOMEM, "out of memory");
	while (off < o->size) {
		size_t n = o->size - off < IO_BUF ? (size_t)(o->size - off) :
			   IO_BUF;

		rc = src_read(s, off, buf, n);
		if (rc != STORE_OK) {
			count_error(st, rc);
			rc = store_fail(rc == STORE_CORRUPT ? STORE_CORRUPT :
					STORE_IO, "cannot read '%s' (key %s):"
					" %s", label, o->key,
					store_last_error());
			break;
		}
		count_get(st, n);
		if (store_write_all(fd, buf, n) < 0) {
			rc = store_fail_errno(errno, "cannot write '%s'",
					      label);
			break;
		}
		off += n;
	}
	free(buf);
	return rc;
}

/*
 * The first read of external object @o through a writable handle: ingest
 * its payload and point its nodes at the result, whose key goes to @to.
 */
static store_rc ingest(struct store *st, const struct store_object *o,
		       const char *label, char to[STORE_KEY_HEX + 1])
{
	struct store_put_opts po = { o->chunk_size, 0 };
	struct store_object got;
	struct src s;
	store_rc rc;
	int lockfd = -1, tfd = -1, in;

	if (store_external_moved(st, o->key, to) == STORE_OK)
		return STORE_OK;	/* someone just did it */
	lockfd = store_gc_lock_shared(st);
	if (lockfd < 0)
		return STORE_IO;
	rc = src_open_object(&s, o, label);
	if (rc != STORE_OK) {
		count_error(st, rc);
		goto out;
	}
	if (s.ps.kind == STORE_PS_FILE) {
		in = s.fd;
		if (lseek(in, PS_HDR, SEEK_SET) < 0) {
			rc = store_fail_errno(errno, "cannot read '%s'",
					      s.name);
			goto out_src;
		}
		count_get(st, o->size);
	} else {
		tfd = temp_fd(st);
		if (tfd < 0) {
			rc = store_fail_errno(errno, "cannot make a temporary"
					      " file in '%s'", st->path);
			goto out_src;
		}
		rc = copy_payload(st, &s, o, tfd, label);
		if (rc == STORE_OK && lseek(tfd, 0, SEEK_SET) < 0)
			rc = store_fail_errno(errno, "cannot read back '%s'",
					      label);
		if (rc != STORE_OK)
			goto out_src;
		in = tfd;
	}
	rc = store_ingest_fd(st, in, label, &po, &got);
	if (rc != STORE_OK)
		goto out_src;
	if (got.size != o->size) {
		/* the row just made is left for gc: no node names it */
		rc = store_fail(STORE_CORRUPT, "cannot read '%s' (key %s): its"
				" ProxyStore source '%s' changed while it was"
				" read", label, o->key, s.name);
		count_error(st, rc);
		goto out_src;
	}
	rc = repoint(st, o->key, got.key, to);
out_src:
	src_close(&s);
out:
	if (tfd >= 0)
		close(tfd);
	store_gc_unlock(lockfd);
	return rc;
}

store_rc store_external_export(struct store *st, const struct store_object *o,
			       int fd, const char *label)
{
	char to[STORE_KEY_HEX + 1];
	struct src s;
	store_rc rc;

	if (!(st->flags & STORE_OPEN_RDONLY)) {
		rc = ingest(st, o, label, to);
		if (rc != STORE_OK)
			return rc;
		return store_export_fd(st, to, fd, label);
	}
	rc = src_open_object(&s, o, label);
	if (rc != STORE_OK) {
		count_error(st, rc);
		return rc;
	}
	rc = copy_payload(st, &s, o, fd, label);
	src_close(&s);
	return rc;
}

store_rc store_external_read_chunk(struct store *st,
				   const struct store_object *o, uint32_t idx,
				   void *buf, size_t len, size_t *got,
				   const char *label)
{
	char to[STORE_KEY_HEX + 1];
	uint64_t off, n;
	struct src s;
	store_rc rc;

	if (idx >= o->nchunks || o->chunk_size == 0)
		return store_fail(STORE_INVAL, "object '%s' has no chunk %u",
				  o->key, idx);
	if (!(st->flags & STORE_OPEN_RDONLY)) {
		rc = ingest(st, o, label, to);
		if (rc != STORE_OK)
			return rc;
		return store_read_chunk(st, to, idx, buf, len, got, label);
	}
	off = (uint64_t)idx * o->chunk_size;
	if (off >= o->size)
		return store_fail(STORE_CORRUPT, "object '%s': chunk %u does"
				  " not fit the object", o->key, idx);
	n = o->size - off < o->chunk_size ? o->size - off : o->chunk_size;
	if (len < n)
		return store_fail(STORE_INVAL, "buffer too small for a chunk");
	rc = src_open_object(&s, o, label);
	if (rc == STORE_OK) {
		rc = src_read(&s, off, buf, (size_t)n);
		if (rc == STORE_OK)
			count_get(st, n);
		else
			rc = store_fail(rc == STORE_CORRUPT ? STORE_CORRUPT :
					STORE_IO, "cannot read '%s' (key %s):"
					" %s", label, o->key,
					store_last_error());
		src_close(&s);
	}
	if (rc != STORE_OK) {
		count_error(st, rc);
		return rc;
	}
	*got = (size_t)n;
	return STORE_OK;
}

store_rc store_external_check(const struct store_object *o)
{
	struct store_ps_object info;
	char uuid[STORE_PS_UUID_LEN + 1];
	struct store_ps ps;
	struct src s;
	store_rc rc;

	rc = parse_source(o->source, &ps, uuid);
	if (rc != STORE_OK)
		return rc;
	rc = src_open(&s, &ps, uuid, false, &info);
	if (rc != STORE_OK)
		return rc;
	src_close(&s);
	if (info.size != o->size || strcmp(info.type, o->type) != 0)
		return store_fail(STORE_CORRUPT, "its source changed since it"
				  " was linked (%llu bytes of %s, was %llu"
				  " bytes of %s)",
				  (unsigned long long)info.size, info.type,
				  (unsigned long long)o->size, o->type);
	return STORE_OK;
}

/* ---- writing for a Python consumer -------------------------------------- */

static store_rc new_uuid(char out[STORE_PS_UUID_LEN + 1])
{
	uint8_t b[16];
	char hex[33];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return store_fail_errno(errno, "cannot draw a UUID");
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);	/* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	store_hex(b, sizeof(b), hex);
	snprintf(out, STORE_PS_UUID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s",
		 hex, hex + 8, hex + 12, hex + 16, hex + 20);
	return STORE_OK;
}

static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static store_rc write_file(struct store *st, const char *key,
			   const struct store_ps *ps, const char *label,
			   const char *uuid)
{
	char tmp[1200], final[1200], ready[1200];
	const char *d = strcmp(ps->dir, "/") ? ps->dir : "";
	store_rc rc;
	int fd, rfd;

	snprintf(tmp, sizeof(tmp), "%s/.pxfs-%s.tmp", d, uuid);
	snprintf(final, sizeof(final), "%s/%s", d, uuid);
	snprintf(ready, sizeof(ready), "%s/%s.ready", d, uuid);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return store_fail_errno(errno, "cannot write '%s'", tmp);
	if (store_write_all(fd, "BS\n", PS_HDR) < 0) {
		rc = store_fail_errno(errno, "cannot write '%s'", tmp);
		goto fail;
	}
	rc = store_export_fd(st, key, fd, label);
	if (rc != STORE_OK)
		goto fail;
	if (fsync(fd) < 0) {
		rc = store_fail_errno(errno, "cannot write '%s'", tmp);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = store_fail_errno(errno, "cannot write '%s'", tmp);
		goto fail;
	}
	fd = -1;
	/* no overwrite, however unlikely a UUID collision is */
	if (link(tmp, final) < 0) {
		rc = store_fail_errno(errno, "cannot write '%s'", final);
		goto fail;
	}
	unlink(tmp);
	/* the marker after the data, as ProxyStore's FileConnector does */
	rfd = open(ready, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (rfd < 0) {
		rc = store_fail_errno(errno, "cannot write '%s'", ready);
		unlink(final);
		return rc;
	}
	close(rfd);
	sync_dir(ps->dir);
	return STORE_OK;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

static store_rc write_redis(struct store *st, const char *key,
			    const struct store_ps *ps, const char *label,
			    const char *uuid)
{
	char tmpkey[64], ttl[16];
	struct store_object o;
	struct rconn r;
	redisReply *rep = NULL;
	void *buf = NULL;
	size_t got, tl;
	store_rc rc;

	rc = store_object_info(st, key, &o);
	if (rc != STORE_OK)
		return rc;
	if (o.chunk_size == 0 || o.chunk_size > STORE_CHUNK_MAX)
		return store_fail(STORE_CORRUPT, "object '%s' has a bad chunk"
				  " size", key);
	buf = malloc(o.chunk_size);
	if (!buf)
		return store_fail(STORE_NOMEM, "out of memory");
	rc = rconn_open(ps, &r);
	if (rc != STORE_OK)
		goto out_free;
	tl = (size_t)snprintf(tmpkey, sizeof(tmpkey), "pxfs-tmp:%s", uuid);
	snprintf(ttl, sizeof(ttl), "%d", TMP_TTL_S);
	{
		const char *argv[5] = { "SET", tmpkey, "BS\n", "EX", ttl };
		size_t l[5] = { 3, tl, PS_HDR, 2, strlen(ttl) };

		rc = rconn_cmd(&r, 5, argv, l, &rep);
		if (rc == STORE_OK && rep->type == REDIS_REPLY_ERROR)
			rc = reply_error(&r, rep, "SET");
		freeReplyObject(rep);
		rep = NULL;
	}
	/* chunk by chunk, each verified; the TTL renewed with each */
	for (uint32_t i = 0; rc == STORE_OK && i < o.nchunks; i++) {
		const char *a1[3] = { "APPEND", tmpkey, buf };
		const char *a2[3] = { "EXPIRE", tmpkey, ttl };
		size_t l1[3] = { 6, tl, 0 }, l2[3] = { 6, tl, strlen(ttl) };
		const char **argv[2] = { a1, a2 };
		const size_t *lens[2] = { l1, l2 };
		int argc[2] = { 3, 3 };
		redisReply *reps[2];

		rc = store_read_chunk(st, key, i, buf, o.chunk_size, &got,
				      label);
		if (rc != STORE_OK)
			break;
		l1[2] = got;
		rc = rconn_run(&r, 2, argc, argv, lens, reps);
		if (rc != STORE_OK)
			break;
		if (reps[0]->type != REDIS_REPLY_INTEGER)
			rc = reply_error(&r, reps[0], "APPEND");
		freeReplyObject(reps[0]);
		freeReplyObject(reps[1]);
	}
	if (rc == STORE_OK) {
		const char *a0[1] = { "MULTI" };
		const char *a1[3] = { "RENAMENX", tmpkey, uuid };
		const char *a2[2] = { "PERSIST", uuid };
		const char *a3[1] = { "EXEC" };
		size_t l0[1] = { 5 }, l1[3] = { 8, tl, STORE_PS_UUID_LEN };
		size_t l2[2] = { 7, STORE_PS_UUID_LEN }, l3[1] = { 4 };
		const char **argv[4] = { a0, a1, a2, a3 };
		const size_t *lens[4] = { l0, l1, l2, l3 };
		int argc[4] = { 1, 3, 2, 1 };
		redisReply *reps[4];

		rc = rconn_run(&r, 4, argc, argv, lens, reps);
		if (rc == STORE_OK) {
			redisReply *e = reps[3];

			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
			    e->element[0]->type != REDIS_REPLY_INTEGER)
				rc = reply_error(&r, e, "cannot rename the"
						 " temporary key");
			else if (e->element[0]->integer != 1)
				rc = store_fail(STORE_EXISTS, "Redis key '%s'"
						" at '%s' exists already",
						uuid, r.name);
			for (int i = 0; i < 4; i++)
				freeReplyObject(reps[i]);
		}
	}
	if (rc != STORE_OK && r.c) {
		const char *argv[2] = { "DEL", tmpkey };
		size_t l[2] = { 3, tl };

		if (rconn_cmd(&r, 2, argv, l, &rep) == STORE_OK)
			freeReplyObject(rep);
	}
	rconn_close(&r);
out_free:
	free(buf);
	return rc;
}

store_rc store_ps_write(struct store *st, const char *key,
			const struct store_ps *ps, const char *label,
			char uuid[STORE_PS_UUID_LEN + 1])
{
	store_rc rc;

	if (!store_is_key(key))
		return store_fail(STORE_INVAL, "'%s' is not a key",
				  key ? key : "");
	if (!label)
		label = key;
	rc = new_uuid(uuid);
	if (rc != STORE_OK)
		return rc;
	if (ps->kind == STORE_PS_FILE)
		return write_file(st, key, ps, label, uuid);
	return write_redis(st, key, ps, label, uuid);
}
