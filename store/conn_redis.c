/* SPDX-License-Identifier: MIT */
/*
 * conn_redis.c - the Redis connector: blobs in one Redis server or in a
 * Redis Cluster, through hiredis (Debian's libhiredis, 0.14 API: blocking
 * contexts, redisAppendCommandArgv/redisGetReply for pipelines).
 *
 * Key layout.  P is the store's prefix, K a blob's 64-hex key, I a random
 * 32-hex data id chosen by each put:
 *
 *	P K		the header; the blob exists iff this key does.  Its
 *			first HDR_LEN (96) bytes are a space-padded text line,
 *			"pxfs1 i SIZE" for an inline blob, whose bytes follow
 *			the header in the same value, or "pxfs1 s SIZE SEG I"
 *			for a segmented one.
 *	P{I}		the data record of a segmented put: "p TIME NSEG BYTES"
 *			while it is written (with a TTL), "c TIME NSEG BYTES K"
 *			once claimed by a commit (persistent).
 *	P{I}N		segment N (decimal, from 0) of a segmented blob: bytes
 *			N*SEG .. (N+1)*SEG-1, the last one shorter.
 *
 * A blob no bigger than one segment (8 MiB unless PXFS_REDIS_SEGMENT_SIZE
 * says otherwise) is written inline, by one SET of its header key: it
 * becomes visible atomically, in one round trip, and costs no other key.
 * A bigger one streams out segment by segment under a fresh data id: each
 * SET carries an EXPIRE (PXFS_REDIS_PUT_TTL, 1 h; refreshed while the put
 * runs), so a writer that dies leaves nothing that lasts.  The commit then
 * claims the data record (SET ... XX, which fails if a leftovers sweep
 * removed it), PERSISTs every segment, and finally sets the header: a
 * reader sees the whole blob or nothing.  Last, it checks that its data
 * record is still its own; if a concurrent leftovers sweep took it after
 * the claim, the commit takes its header back and fails, so that no header
 * ever points at removed data.  The sweep does the mirror image: it
 * deletes the record first, then looks at the header again, and gives the
 * record back if the header now points at it.
 *
 * The hash tag {I} keeps a blob's record and segments in one slot, so a
 * put or a get talks to one node and may pipeline (or MULTI) freely; the
 * header lives in K's own slot.  Nothing spans two slots, so nothing is
 * refused as CROSSSLOT.  A get reads the header and, speculatively, the
 * inline bytes it wants in one round trip; a segmented blob costs one more
 * round trip of GETRANGEs, of exactly the bytes asked for.  A segment
 * found short means the blob was replaced or evicted meanwhile: the header
 * is read again and the get retried, or reported missing, or corrupt.
 *
 * Connections: opening the connector checks the url and options but
 * talks to no server, so that a store whose Redis is down still answers
 * from its index; check() is the explicit test, for init and mount.
 * Each node has a small pool of idle blocking contexts.  A command takes
 * one (or connects, within the connect timeout, with AUTH and SELECT),
 * uses it, and gives it back; a context that failed is freed.  Threads
 * that all find the pool empty (the first use, or after an outage) each
 * connect on their own, and a failure is each one's clear error.  A
 * server that wants a password we lack answers NOAUTH to the command
 * itself, which run() turns into STORE_PERM.  The pool bounds what is
 * kept, not what is open: a thread never waits for another's connection,
 * so list() callbacks may call back into the connector.  A pooled
 * connection that turns out dead (the server restarted) empties its node's
 * pool and the batch is sent once more on a fresh one, which is how a
 * restarted server is picked up without reopening.  Every socket has the
 * command timeout as SO_RCVTIMEO/SO_SNDTIMEO, so a silent server is
 * STORE_IO after that long, never a hang; SIGPIPE is blocked in the
 * calling thread around I/O (hiredis 0.14 uses write(2)).
 *
 * Cluster: the slot map comes from CLUSTER SLOTS, asked of any known node
 * at first use (or check()) and again (rate-limited) after a MOVED or a
 * connection failure.  One thread refreshes at a time; one that needs the
 * map meanwhile waits for that refresh and shares its outcome.
 * Commands go to their slot's master.  MOVED updates the map and resends;
 * ASK resends to the importing node after ASKING (once before MULTI for a
 * transaction, where the flag lasts until EXEC); TRYAGAIN, CLUSTERDOWN
 * and LOADING are retried with a backoff for up to the command timeout.
 * list() and leftovers() SCAN every master with a MATCH pattern that only
 * headers (P + 64 hex) or data records (P{32 hex}) fit, and read what they
 * found a page (up to SCAN_COUNT keys) at a time.  So a blob removed while
 * its page is walked may still be reported, and SCAN may report a key
 * twice while Redis rehashes: callers must tolerate both.
 *
 * Nothing read from Redis is trusted: headers and records are parsed
 * strictly and bounded, and keys built from them are checked.  The
 * password is only ever an AUTH argument: it is never formatted into a
 * message, and URLs with user information are refused without being
 * echoed.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis.h>

#include "conn.h"
#include "crash.h"
#include "store_int.h"

#define HDR_LEN		96		/* header bytes at the start of P K */
#define ID_HEX		32		/* data id: 128 random bits */
#define SEG_DEFAULT	(8u << 20)
#define SEG_MIN		1024u		/* PXFS_REDIS_SEGMENT_SIZE bounds */
#define SEG_MAX		(64u << 20)
#define MAX_SEGS	(1u << 20)	/* segments of one blob */
#define BLOB_MAX	((uint64_t)SEG_MAX * MAX_SEGS)
#define PREFIX_MAX	128
#define KEY_MAX		(PREFIX_MAX + STORE_KEY_HEX + 8)
#define VAL_MAX		128		/* a data record's text */
#define RCMD_ARGS	7
#define PUT_TTL_DEFAULT	3600		/* s: pending segments live this long */
#define PUT_TTL_MAX	(7 * 86400)
#define CONNECT_MS_DEFAULT 1000
#define COMMAND_MS_DEFAULT 5000
#define TIMEOUT_MS_MAX	3600000
#define POOL_DEFAULT	4
#define POOL_MAX	256
#define MAX_NODES	256		/* cluster nodes ever known */
#define MAX_SEEDS	64
#define HOST_MAX	255
#define NSLOTS		16384
#define NO_NODE		0xffff
#define BATCH_MAX	1024		/* commands in one round trip */
#define FETCH_MAX	(64u << 20)	/* get bytes in one round trip */
#define MAX_ROUNDS	8		/* redirections of one batch */
#define GET_TRIES	3		/* a blob replaced while read */
#define REFRESH_MIN_NS	200000000LL	/* topology refreshes at most 5/s */
#define SCAN_COUNT	"1000"

struct node {
	char *host;		/* as given by the url or CLUSTER SLOTS */
	int port;
	char *name;		/* "host:port", for messages */
	redisContext **idle;	/* pool_size slots; protected by r->lock */
	unsigned nidle;		/* protected by r->lock */
};

struct conn_redis {
	struct store_conn conn;	/* first: callers hold &conn */
	char *url;		/* as given; holds no password */
	char *prefix;		/* key prefix, checked at open */
	size_t plen;		/* strlen(prefix) */
	char *password;		/* NULL: none; zeroed at close */
	char *pat_hdr;		/* SCAN MATCH for headers */
	char *pat_rec;		/* SCAN MATCH for data records */
	bool cluster;		/* redis+cluster:// */
	unsigned db;		/* SELECT (standalone only) */
	unsigned connect_ms, command_ms;
	unsigned pool_size;	/* idle connections kept per node */
	size_t seg;		/* segment size of our puts */
	unsigned put_ttl;	/* s */
	char ttl_str[16];	/* put_ttl in decimal */

	pthread_mutex_t lock;	/* guards the fields below and node pools */
	struct node *nodes[MAX_NODES];	/* never removed before close */
	unsigned nnodes;
	uint16_t slots[NSLOTS];	/* index in nodes[] per slot, or NO_NODE */
	int64_t refreshed_ns;	/* last topology refresh (monotonic) */
	bool refreshing;	/* a thread is refreshing the map */
	pthread_cond_t refresh_done;	/* broadcast when a refresh ends */
	uint64_t refresh_gen;	/* refreshes ended so far */
	store_rc refresh_rc;	/* how the last one ended */
	char refresh_err[512];	/* and why, for the threads that waited */
};

struct store_conn_put {
	struct conn_redis *r;	/* the connector; outlives the put */
	char id[ID_HEX + 1];	/* the data id, for segmented blobs */
	uint64_t size;		/* bytes written so far */
	uint32_t nseg;		/* segments sent */
	bool has_rec;		/* the data record exists */
	bool failed;		/* a write failed: never commit */
	int64_t touched_ns;	/* sent segments' TTLs last refreshed */
	uint8_t *buf;		/* HDR_LEN reserved, then pending bytes */
	size_t cap;		/* allocated bytes after HDR_LEN */
	size_t fill;		/* pending bytes after HDR_LEN */
};

/* One command, with room for the small arguments it builds. */
struct rcmd {
	int argc;
	const char *argv[RCMD_ARGS];
	size_t len[RCMD_ARGS];
	char key[KEY_MAX];	/* the key it names */
	char num[2][24];	/* numbers */
	char val[VAL_MAX];	/* a small value */
};

/* Commands sent in one round trip, all to one slot or to one node. */
struct batch {
	struct rcmd *cmd;
	redisReply **rep;	/* a reply per command, after run() */
	size_t *todo;		/* scratch: commands still to answer */
	size_t n;
	int slot;		/* every key's slot; -1: use node */
	struct node *node;	/* with slot -1: where to send */
	bool txn;		/* MULTI..EXEC: redirected as a whole */
};

/* A parsed header. */
struct hdr {
	bool is_inline;
	uint64_t size;
	uint64_t seg;		/* segmented only */
	uint32_t nseg;
	char id[ID_HEX + 1];
};

/* A parsed data record. */
struct rec {
	bool committed;
	uint64_t t;		/* s since the epoch */
	uint32_t nseg;
	uint64_t bytes;
	char key[STORE_KEY_HEX + 1];	/* committed only */
};

static struct conn_redis *to_redis(struct store_conn *c)
{
	return (struct conn_redis *)c;
}

/* ---- small helpers ---------------------------------------------------- */

static bool is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

/* Exactly 64 lowercase hex digits (store_is_key() lives in store.c). */
static bool is_key(const char *s)
{
	return s && strnlen(s, STORE_KEY_HEX + 1) == STORE_KEY_HEX &&
	       is_hex(s, STORE_KEY_HEX);
}

static store_rc bad_key(const char *key)
{
	return store_fail(STORE_INVAL, "bad blob key '%.80s'",
			  key ? key : "");
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static struct timeval ms_tv(unsigned ms)
{
	struct timeval tv = { ms / 1000, (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

/* Decimal digits only, no sign, no leading zero, at most @max. */
static bool parse_u64(const char *s, size_t len, uint64_t max,
		      uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Split @s (NUL-terminated, printable) at single spaces, ignoring
 * trailing ones; returns the field count or -1 if malformed. */
static int split(char *s, char **f, int max)
{
	size_t n = strlen(s);
	int nf = 0;
	char *p;

	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
	for (p = s; *p; p++) {
		if (*p < 0x20 || *p > 0x7e)
			return -1;
	}
	p = s;
	while (*p) {
		if (*p == ' ' || nf == max)
			return -1;
		f[nf++] = p;
		p = strchr(p, ' ');
		if (!p)
			break;
		*p++ = '\0';
	}
	return nf;
}

/* A server's error text, made printable and bounded, into @buf. */
static const char *errtext(const redisReply *rep, char *buf, size_t cap)
{
	size_t i, n;

	if (!rep || rep->type != REDIS_REPLY_ERROR || !rep->str)
		return "unexpected reply";
	n = rep->len < cap - 1 ? rep->len : cap - 1;
	for (i = 0; i < n; i++)
		buf[i] = rep->str[i] >= 0x20 && rep->str[i] < 0x7f ?
			 rep->str[i] : '?';
	buf[n] = '\0';
	return buf;
}

static bool is_error(const redisReply *rep, const char *prefix)
{
	size_t n = strlen(prefix);

	return rep && rep->type == REDIS_REPLY_ERROR && rep->len >= n &&
	       memcmp(rep->str, prefix, n) == 0;
}

static bool is_status(const redisReply *rep, const char *s)
{
	return rep && rep->type == REDIS_REPLY_STATUS &&
	       rep->len == strlen(s) && memcmp(rep->str, s, rep->len) == 0;
}

/* The code a failed write reply stands for: a full Redis is a full disk. */
static store_rc reply_fail(const struct conn_redis *r, const char *what,
			   const redisReply *rep)
{
	char e[200];

	if (is_error(rep, "OOM"))
		return store_fail(STORE_NOSPC, "redis '%s' is full: %s",
				  r->url, errtext(rep, e, sizeof(e)));
	return store_fail(STORE_IO, "redis '%s' refused %s: %s", r->url,
			  what, errtext(rep, e, sizeof(e)));
}

/* Keep the thread's recorded failure across best-effort cleanup. */
struct saved_error {
	char text[1024];
};

static void error_save(struct saved_error *s)
{
	snprintf(s->text, sizeof(s->text), "%s", store_last_error());
}

static void error_restore(const struct saved_error *s)
{
	store_fail(STORE_OK, "%s", s->text);
}

/* ---- hash slots ------------------------------------------------------- */

/* CRC16-CCITT (XMODEM), as in the Redis Cluster specification. */
static uint16_t crc16(const char *p, size_t len)
{
	uint16_t crc = 0;
	size_t i;
	int b;

	for (i = 0; i < len; i++) {
		crc ^= (uint16_t)((uint8_t)p[i] << 8);
		for (b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (uint16_t)(crc << 1) ^ 0x1021 :
			      (uint16_t)(crc << 1);
	}
	return crc;
}

/* The slot of key @k: a non-empty {tag} hashes alone. */
static int key_slot(const char *k, size_t len)
{
	size_t s, e;

	for (s = 0; s < len && k[s] != '{'; s++)
		;
	if (s < len) {
		for (e = s + 1; e < len && k[e] != '}'; e++)
			;
		if (e < len && e > s + 1)
			return crc16(k + s + 1, e - s - 1) & (NSLOTS - 1);
	}
	return crc16(k, len) & (NSLOTS - 1);
}

static int hdr_slot(const struct conn_redis *r, const char *key)
{
	char k[KEY_MAX];
	int n = snprintf(k, sizeof(k), "%s%s", r->prefix, key);

	return key_slot(k, (size_t)n);
}

static int id_slot(const char *id)
{
	return crc16(id, ID_HEX) & (NSLOTS - 1);
}

/* ---- SIGPIPE ---------------------------------------------------------- */

/*
 * hiredis writes with write(2): a peer that went away would raise SIGPIPE
 * and kill the daemon.  Block it in this thread for the exchange and
 * swallow one we caused (libpq's pq_block_sigpipe).
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

/* ---- nodes and their pools -------------------------------------------- */

static void node_free(struct node *n)
{
	unsigned i;

	if (!n)
		return;
	for (i = 0; n->idle && i < n->nidle; i++)
		redisFree(n->idle[i]);
	free(n->idle);
	free(n->name);
	free(n->host);
	free(n);
}

static struct node *node_new(const char *host, size_t hlen, int port,
			     unsigned pool_size)
{
	struct node *n = calloc(1, sizeof(*n));
	size_t cap = hlen + 16;
	bool v6 = memchr(host, ':', hlen) != NULL;

	if (!n)
		return NULL;
	n->port = port;
	n->host = strndup(host, hlen);
	n->name = malloc(cap);
	n->idle = calloc(pool_size, sizeof(*n->idle));
	if (!n->host || !n->name || !n->idle) {
		node_free(n);
		return NULL;
	}
	snprintf(n->name, cap, v6 ? "[%s]:%d" : "%s:%d", n->host, port);
	return n;
}

/* The index of node @host:@port, added if new; -1 (failure recorded). */
static int node_index(struct conn_redis *r, const char *host, size_t hlen,
		      int port)
{
	struct node *n;
	bool full;
	unsigned i;
	int idx = -1;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->nnodes; i++) {
		n = r->nodes[i];
		if (n->port == port && strlen(n->host) == hlen &&
		    memcmp(n->host, host, hlen) == 0) {
			idx = (int)i;
			break;
		}
	}
	if (idx < 0 && r->nnodes < MAX_NODES) {
		n = node_new(host, hlen, port, r->pool_size);
		if (n) {
			idx = (int)r->nnodes;
			r->nodes[r->nnodes++] = n;
		}
	}
	full = r->nnodes >= MAX_NODES;
	pthread_mutex_unlock(&r->lock);
	if (idx < 0)
		store_fail(full ? STORE_IO : STORE_NOMEM, "cannot add redis "
			   "node '%.*s:%d'%s",
			   (int)(hlen > HOST_MAX ? HOST_MAX : hlen), host,
			   port, full ? ": too many nodes" : "");
	return idx;
}

static struct node *route(struct conn_redis *r, int slot)
{
	struct node *n = NULL;

	if (!r->cluster)
		return r->nodes[0];
	pthread_mutex_lock(&r->lock);
	if (r->slots[slot] != NO_NODE)
		n = r->nodes[r->slots[slot]];
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* Say why context @c failed, talking to @n; @saverr is errno then. */
static store_rc io_fail(const struct conn_redis *r, const struct node *n,
			const redisContext *c, int saverr)
{
	if (c->err == REDIS_ERR_OOM)
		return store_fail(STORE_NOMEM, "out of memory talking to "
				  "redis at '%s'", n->name);
	if (c->err == REDIS_ERR_IO &&
	    (saverr == EAGAIN || saverr == EWOULDBLOCK))
		return store_fail(STORE_IO, "redis at '%s' did not answer "
				  "within %u ms", n->name, r->command_ms);
	if (c->err == REDIS_ERR_EOF)
		return store_fail(STORE_IO, "redis at '%s' closed the "
				  "connection", n->name);
	return store_fail(STORE_IO, "redis at '%s': %s", n->name,
			  c->errstr[0] ? c->errstr : "connection failed");
}

/* One command on a fresh context, for the connection's setup. */
static store_rc setup_cmd(const struct conn_redis *r, const struct node *n,
			  redisContext *c, int argc, const char **argv,
			  const size_t *len, redisReply **out)
{
	void *rp;
	int saverr;

	rp = redisCommandArgv(c, argc, argv, len);
	saverr = errno;
	*out = rp;
	if (!rp)
		return io_fail(r, n, c, saverr);
	return STORE_OK;
}

/* Connect to @n, authenticate and select the database. */
static store_rc node_connect(struct conn_redis *r, struct node *n,
			     redisContext **out)
{
	const char *argv[2];
	size_t len[2];
	redisReply *rep = NULL;
	redisContext *c;
	char e[200], db[16];
	store_rc rc = STORE_OK;

	*out = NULL;
	c = redisConnectWithTimeout(n->host, n->port, ms_tv(r->connect_ms));
	if (!c)
		return store_fail(STORE_NOMEM, "cannot allocate a redis "
				  "connection");
	if (c->err) {
		rc = store_fail(STORE_IO, "cannot connect to redis at "
				"'%s': %s", n->name, c->errstr);
		goto out;
	}
	if (redisSetTimeout(c, ms_tv(r->command_ms)) != REDIS_OK) {
		rc = io_fail(r, n, c, errno);
		goto out;
	}
	redisEnableKeepAlive(c);
	if (r->password) {
		argv[0] = "AUTH";
		argv[1] = r->password;
		len[0] = 4;
		len[1] = strlen(r->password);
		rc = setup_cmd(r, n, c, 2, argv, len, &rep);
		if (rc != STORE_OK)
			goto out;
		if (rep->type == REDIS_REPLY_ERROR &&
		    (strstr(rep->str, "without any password configured") ||
		     strstr(rep->str, "no password is set"))) {
			store_log(STORE_LOG_WARNING, "redis at '%s' has no "
				  "password, but one was given", n->name);
		} else if (rep->type == REDIS_REPLY_ERROR) {
			rc = store_fail(STORE_PERM, "redis at '%s' refused "
					"the password: %s", n->name,
					errtext(rep, e, sizeof(e)));
			goto out;
		}
		freeReplyObject(rep);
		rep = NULL;
	}
	if (r->db != 0) {
		argv[0] = "SELECT";
		argv[1] = db;
		len[0] = 6;
		len[1] = (size_t)snprintf(db, sizeof(db), "%u", r->db);
		rc = setup_cmd(r, n, c, 2, argv, len, &rep);
		if (rc != STORE_OK)
			goto out;
		if (is_error(rep, "NOAUTH")) {
			rc = store_fail(STORE_PERM, "redis at '%s' requires "
					"a password", n->name);
			goto out;
		}
		if (rep->type == REDIS_REPLY_ERROR) {
			rc = store_fail(STORE_INVAL, "redis at '%s' has no "
					"database %u: %s", n->name, r->db,
					errtext(rep, e, sizeof(e)));
			goto out;
		}
	}
out:
	freeReplyObject(rep);
	if (rc != STORE_OK)
		redisFree(c);
	else
		*out = c;
	return rc;
}

/* An idle connection to @n, or a new one; *reused says which. */
static store_rc pool_take(struct conn_redis *r, struct node *n,
			  redisContext **out, bool *reused)
{
	*out = NULL;
	pthread_mutex_lock(&r->lock);
	if (n->nidle > 0)
		*out = n->idle[--n->nidle];
	pthread_mutex_unlock(&r->lock);
	*reused = *out != NULL;
	if (*out)
		return STORE_OK;
	return node_connect(r, n, out);
}

/* Give @c back to @n's pool; a failed one (@ok false) is dropped. */
static void pool_give(struct conn_redis *r, struct node *n,
		      redisContext *c, bool ok)
{
	if (ok && !c->err) {
		pthread_mutex_lock(&r->lock);
		if (n->nidle < r->pool_size) {
			n->idle[n->nidle++] = c;
			c = NULL;
		}
		pthread_mutex_unlock(&r->lock);
	}
	redisFree(c);
}

/* Drop @n's idle connections: the server behind them went away. */
static void pool_flush(struct conn_redis *r, struct node *n)
{
	redisContext *old[POOL_MAX];
	unsigned i, k;

	pthread_mutex_lock(&r->lock);
	k = n->nidle;
	memcpy(old, n->idle, k * sizeof(*old));
	n->nidle = 0;
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < k; i++)
		redisFree(old[i]);
}

/* ---- commands and batches --------------------------------------------- */

static void cmd_arg(struct rcmd *c, const void *p, size_t len)
{
	assert(c->argc < RCMD_ARGS);
	c->argv[c->argc] = p;
	c->len[c->argc++] = len;
}

static void cmd_str(struct rcmd *c, const char *s)
{
	cmd_arg(c, s, strlen(s));
}

/* @name followed by the key built from @fmt. */
static void cmd_key(struct rcmd *c, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cmd_key(struct rcmd *c, const char *name, const char *fmt, ...)
{
	va_list ap;
	int n;

	c->argc = 0;
	cmd_str(c, name);
	va_start(ap, fmt);
	n = vsnprintf(c->key, sizeof(c->key), fmt, ap);
	va_end(ap);
	assert(n > 0 && (size_t)n < sizeof(c->key));
	cmd_arg(c, c->key, (size_t)n);
}

static void cmd_num(struct rcmd *c, int i, unsigned long long v)
{
	int n = snprintf(c->num[i], sizeof(c->num[i]), "%llu", v);

	cmd_arg(c, c->num[i], (size_t)n);
}

static void cmd_plain(struct rcmd *c, const char *name)
{
	c->argc = 0;
	cmd_str(c, name);
}

/* Keys of blob @key, data record @id and its segment @n. */
static void cmd_hdr(struct rcmd *c, const struct conn_redis *r,
		    const char *name, const char *key)
{
	cmd_key(c, name, "%s%s", r->prefix, key);
}

static void cmd_rec(struct rcmd *c, const struct conn_redis *r,
		    const char *name, const char *id)
{
	cmd_key(c, name, "%s{%s}", r->prefix, id);
}

static void cmd_seg(struct rcmd *c, const struct conn_redis *r,
		    const char *name, const char *id, uint32_t n)
{
	cmd_key(c, name, "%s{%s}%u", r->prefix, id, n);
}

static void batch_free(struct batch *b)
{
	size_t i;

	if (!b)
		return;
	for (i = 0; b->rep && i < b->n; i++)
		freeReplyObject(b->rep[i]);
	free(b->todo);
	free(b->rep);
	free(b->cmd);
	free(b);
}

/* A batch of @n commands for @slot (or, with -1, for @node). */
static struct batch *batch_new(size_t n, int slot, struct node *node)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (!b)
		goto fail;
	b->n = n;
	b->slot = slot;
	b->node = node;
	b->cmd = calloc(n, sizeof(*b->cmd));
	b->rep = calloc(n, sizeof(*b->rep));
	b->todo = calloc(n, sizeof(*b->todo));
	if (!b->cmd || !b->rep || !b->todo)
		goto fail;
	return b;
fail:
	batch_free(b);
	store_fail(STORE_NOMEM, "cannot allocate a redis batch");
	return NULL;
}

/* Send the first @ntodo commands of b->todo to @n, read their replies. */
static store_rc exchange(struct conn_redis *r, struct node *n,
			 struct batch *b, size_t ntodo, bool asking)
{
	const char *ask_argv[] = { "ASKING" };
	const size_t ask_len[] = { 6 };
	struct sigpipe sp;
	redisContext *c;
	struct rcmd *cmd;
	bool reused, retried = false, dead;
	size_t k, got;
	store_rc rc;
	void *rp;
	int saverr;

again:
	rc = pool_take(r, n, &c, &reused);
	if (rc != STORE_OK)
		return rc;
	got = 0;
	sigpipe_block(&sp);
	for (k = 0; k < ntodo; k++) {
		cmd = &b->cmd[b->todo[k]];
		if (asking && (!b->txn || k == 0) &&
		    redisAppendCommandArgv(c, 1, ask_argv, ask_len) !=
		    REDIS_OK)
			goto io;
		if (redisAppendCommandArgv(c, cmd->argc, cmd->argv,
					   cmd->len) != REDIS_OK)
			goto io;
	}
	for (k = 0; k < ntodo; k++) {
		if (asking && (!b->txn || k == 0)) {
			if (redisGetReply(c, &rp) != REDIS_OK)
				goto io;
			freeReplyObject(rp);
		}
		if (redisGetReply(c, &rp) != REDIS_OK)
			goto io;
		b->rep[b->todo[k]] = rp;
		got++;
	}
	sigpipe_restore(&sp);
	pool_give(r, n, c, true);
	return STORE_OK;
io:
	saverr = errno;
	sigpipe_restore(&sp);
	for (k = 0; k < got; k++) {
		freeReplyObject(b->rep[b->todo[k]]);
		b->rep[b->todo[k]] = NULL;
	}
	/* a pooled connection the server dropped (restart, idle timeout) */
	dead = c->err == REDIS_ERR_EOF ||
	       (c->err == REDIS_ERR_IO &&
		(saverr == ECONNRESET || saverr == EPIPE));
	rc = io_fail(r, n, c, saverr);
	pool_give(r, n, c, false);
	if (dead && reused && got == 0 && !retried) {
		retried = true;
		pool_flush(r, n);
		store_log(STORE_LOG_INFO, "redis: connection to '%s' was "
			  "lost; reconnecting", n->name);
		goto again;
	}
	return rc;
}

static store_rc refresh(struct conn_redis *r, bool force);

enum redirect { RD_NONE, RD_MOVED, RD_ASK, RD_WAIT };

/* What reply @rep asks of us; with MOVED/ASK, *to is the node named. */
static enum redirect redirect_of(struct conn_redis *r, const redisReply *rep,
				 const struct node *from, struct node **to,
				 int *slot)
{
	const char *p, *colon, *end;
	uint64_t s, port;
	bool moved;
	int idx;

	*to = NULL;
	if (!rep || rep->type != REDIS_REPLY_ERROR)
		return RD_NONE;
	if (is_error(rep, "TRYAGAIN") || is_error(rep, "CLUSTERDOWN") ||
	    is_error(rep, "LOADING"))
		return RD_WAIT;
	moved = is_error(rep, "MOVED ");
	if (!moved && !is_error(rep, "ASK "))
		return RD_NONE;
	/* "MOVED 3999 127.0.0.1:6381"; an empty host is @from's */
	p = rep->str + (moved ? 6 : 4);
	end = rep->str + rep->len;
	colon = memchr(p, ' ', (size_t)(end - p));
	if (!colon || !parse_u64(p, (size_t)(colon - p), NSLOTS - 1, &s))
		return RD_NONE;
	p = colon + 1;
	for (colon = end; colon > p && colon[-1] != ':'; colon--)
		;
	if (colon == p || !parse_u64(colon, (size_t)(end - colon), 65535,
				     &port) || port == 0 ||
	    (size_t)(colon - 1 - p) > HOST_MAX)
		return RD_NONE;
	if (colon - 1 == p)
		idx = node_index(r, from->host, strlen(from->host),
				 (int)port);
	else
		idx = node_index(r, p, (size_t)(colon - 1 - p), (int)port);
	if (idx < 0)
		return RD_NONE;
	pthread_mutex_lock(&r->lock);
	*to = r->nodes[idx];
	if (moved)
		r->slots[s] = (uint16_t)idx;
	pthread_mutex_unlock(&r->lock);
	*slot = (int)s;
	return moved ? RD_MOVED : RD_ASK;
}

/*
 * Run batch @b: send it to its slot's master and follow redirections
 * until every command has an answer (which may be an error reply).
 * STORE_IO when a node cannot be reached or does not answer in time.
 */
static store_rc run(struct conn_redis *r, struct batch *b)
{
	int64_t deadline = mono_ns() + (int64_t)r->command_ms * 1000000;
	struct node *n, *ask = NULL, *to;
	unsigned rounds = 0, wait_ms = 5;
	bool refreshed = false, wait, moved;
	struct saved_error se;
	size_t k, i, ntodo = b->n, next;
	enum redirect rd;
	redisReply *waitrep = NULL;	/* the last "not ready" reply */
	char e[200];
	store_rc rc = STORE_OK;
	int slot;

	for (k = 0; k < b->n; k++)
		b->todo[k] = k;
	while (ntodo > 0) {
		if (++rounds > MAX_ROUNDS) {
			rc = store_fail(STORE_IO, "redis '%s': too many "
					"redirections for hash slot %d",
					r->url, b->slot);
			goto out;
		}
		n = ask ? ask : b->slot < 0 ? b->node : route(r, b->slot);
		if (!n) {
			if (!refreshed) {
				/* the map is loaded at first use: a cluster
				 * that cannot be reached fails here */
				refreshed = true;
				rc = refresh(r, true);
				if (rc != STORE_OK)
					goto out;
				continue;
			}
			rc = store_fail(STORE_IO, "no node of redis '%s' "
					"serves hash slot %d", r->url,
					b->slot);
			goto out;
		}
		rc = exchange(r, n, b, ntodo, ask != NULL);
		if (rc != STORE_OK) {
			/* a failed-over master: learn its successor once */
			if (r->cluster && b->slot >= 0 && !ask &&
			    !refreshed) {
				refreshed = true;
				error_save(&se);
				refresh(r, true);
				error_restore(&se);
				to = route(r, b->slot);
				if (to && to != n)
					continue;
			}
			goto out;
		}
		ask = NULL;
		wait = moved = false;
		next = 0;
		/* connections are made lazily: this is where a server that
		 * wants a password we do not have tells us */
		for (k = 0; k < ntodo; k++) {
			if (is_error(b->rep[b->todo[k]], "NOAUTH")) {
				rc = store_fail(STORE_PERM, "redis at '%s' "
						"requires a password",
						n->name);
				goto out;
			}
		}
		for (k = 0; k < ntodo; k++) {
			i = b->todo[k];
			rd = redirect_of(r, b->rep[i], n, &to, &slot);
			if (rd == RD_NONE ||
			    (b->slot < 0 && rd != RD_WAIT))
				continue;
			if (!r->cluster && rd != RD_WAIT) {
				rc = store_fail(STORE_IO, "redis at '%s' is a"
						" cluster node; use a "
						"redis+cluster:// url",
						n->name);
				goto out;
			}
			if (rd == RD_MOVED) {
				moved = true;
				store_log(STORE_LOG_DEBUG, "redis: slot %d "
					  "moved to '%s'", slot, to->name);
			} else if (rd == RD_ASK) {
				ask = to;
			} else {
				wait = true;
				freeReplyObject(waitrep);
				waitrep = b->rep[i];
				b->rep[i] = NULL;
			}
			freeReplyObject(b->rep[i]);
			b->rep[i] = NULL;
			b->todo[next++] = i;
		}
		if (next > 0 && b->txn) {
			/* a transaction is resent whole, ASKING once */
			for (i = 0; i < b->n; i++) {
				freeReplyObject(b->rep[i]);
				b->rep[i] = NULL;
				b->todo[i] = i;
			}
			next = b->n;
		}
		if (moved) {
			error_save(&se);
			refresh(r, false);
			error_restore(&se);
		}
		if (wait) {
			if (mono_ns() + (int64_t)wait_ms * 1000000 >
			    deadline) {
				rc = store_fail(STORE_IO, "redis at '%s' is "
						"not ready: %s", n->name,
						errtext(waitrep, e,
							sizeof(e)));
				goto out;
			}
			sleep_ms(wait_ms);
			wait_ms = wait_ms * 2 > 200 ? 200 : wait_ms * 2;
			/* waiting is not redirecting */
			rounds--;
		}
		ntodo = next;
	}
out:
	/* every way out, also a failure after a wait, drops the reply */
	freeReplyObject(waitrep);
	return rc;
}

/* Run the one-command batch @b; its reply is b->rep[0]. */
static store_rc run1(struct conn_redis *r, struct batch *b)
{
	assert(b->n == 1);
	return run(r, b);
}

/* ---- topology --------------------------------------------------------- */

/* Fill @map from CLUSTER SLOTS asked of @n. */
static store_rc ask_slots(struct conn_redis *r, struct node *n,
			  uint16_t *map)
{
	const redisReply *rep, *e, *h;
	struct batch *b;
	size_t i, hlen;
	const char *host;
	store_rc rc = STORE_OK;
	char t[200];
	int idx;

	b = batch_new(1, -1, n);
	if (!b)
		return STORE_NOMEM;
	cmd_plain(&b->cmd[0], "CLUSTER");
	cmd_str(&b->cmd[0], "SLOTS");
	rc = run1(r, b);
	if (rc != STORE_OK)
		goto out;
	rep = b->rep[0];
	if (rep->type == REDIS_REPLY_ERROR) {
		rc = store_fail(strstr(rep->str, "cluster support disabled") ?
				STORE_INVAL : STORE_IO,
				"redis at '%s' gives no cluster topology: %s",
				n->name, errtext(rep, t, sizeof(t)));
		goto out;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
		rc = store_fail(STORE_IO, "redis cluster at '%s' serves no "
				"hash slots", n->name);
		goto out;
	}
	for (i = 0; i < NSLOTS; i++)
		map[i] = NO_NODE;
	for (i = 0; i < rep->elements; i++) {
		e = rep->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    e->element[0]->type != REDIS_REPLY_INTEGER ||
		    e->element[1]->type != REDIS_REPLY_INTEGER ||
		    e->element[0]->integer < 0 ||
		    e->element[0]->integer > e->element[1]->integer ||
		    e->element[1]->integer >= NSLOTS)
			goto bad;
		h = e->element[2];
		if (h->type != REDIS_REPLY_ARRAY || h->elements < 2 ||
		    h->element[0]->type != REDIS_REPLY_STRING ||
		    h->element[1]->type != REDIS_REPLY_INTEGER ||
		    h->element[1]->integer <= 0 ||
		    h->element[1]->integer > 65535 ||
		    h->element[0]->len > HOST_MAX)
			goto bad;
		host = h->element[0]->str;
		hlen = h->element[0]->len;
		/* no announced address: the one we asked */
		if (hlen == 0 || (hlen == 1 && host[0] == '?')) {
			host = n->host;
			hlen = strlen(host);
		}
		if (memchr(host, '\0', hlen))
			goto bad;
		idx = node_index(r, host, hlen,
				 (int)h->element[1]->integer);
		if (idx < 0) {
			rc = STORE_NOMEM;
			goto out;
		}
		for (long long s = e->element[0]->integer;
		     s <= e->element[1]->integer; s++)
			map[s] = (uint16_t)idx;
	}
	goto out;
bad:
	rc = store_fail(STORE_IO, "redis at '%s' gave a malformed cluster "
			"topology", n->name);
out:
	batch_free(b);
	return rc;
}

/*
 * Reload the slot map from the first node that answers, one thread at a
 * time.  Unless @force, at most every REFRESH_MIN_NS, and a thread that
 * finds another refreshing goes on with the map it has.  With @force it
 * needs the map (the first command after open, which loads it lazily,
 * or a node that failed): it waits for the refresh under way and takes
 * its outcome, so that threads racing to first use load the map once.
 */
static store_rc refresh(struct conn_redis *r, bool force)
{
	struct node *cand[MAX_NODES];
	char why[sizeof(r->refresh_err)];
	unsigned i, ncand;
	uint16_t *map;
	uint64_t gen;
	store_rc rc = STORE_IO;

	if (!r->cluster)
		return STORE_OK;
	pthread_mutex_lock(&r->lock);
	if (r->refreshing && force) {
		gen = r->refresh_gen;
		while (r->refresh_gen == gen)
			pthread_cond_wait(&r->refresh_done, &r->lock);
		rc = r->refresh_rc;
		snprintf(why, sizeof(why), "%s", r->refresh_err);
		pthread_mutex_unlock(&r->lock);
		if (rc != STORE_OK)
			store_fail(rc, "%s", why);
		return rc;
	}
	if (r->refreshing ||
	    (!force && mono_ns() - r->refreshed_ns < REFRESH_MIN_NS)) {
		pthread_mutex_unlock(&r->lock);
		return STORE_OK;
	}
	r->refreshing = true;
	ncand = r->nnodes;
	memcpy(cand, r->nodes, ncand * sizeof(*cand));
	pthread_mutex_unlock(&r->lock);

	map = malloc(NSLOTS * sizeof(*map));
	if (!map) {
		rc = store_fail(STORE_NOMEM, "cannot allocate a slot map");
	} else {
		for (i = 0; i < ncand; i++) {
			rc = ask_slots(r, cand[i], map);
			if (rc == STORE_OK || rc == STORE_INVAL ||
			    rc == STORE_PERM)
				break;
		}
	}
	pthread_mutex_lock(&r->lock);
	if (rc == STORE_OK) {
		memcpy(r->slots, map, NSLOTS * sizeof(*map));
		store_log(STORE_LOG_DEBUG, "redis: slot map of '%s' "
			  "refreshed", r->url);
	}
	r->refreshed_ns = mono_ns();
	r->refreshing = false;
	r->refresh_rc = rc;
	snprintf(r->refresh_err, sizeof(r->refresh_err), "%s",
		 rc == STORE_OK ? "" : store_last_error());
	r->refresh_gen++;
	pthread_cond_broadcast(&r->refresh_done);
	pthread_mutex_unlock(&r->lock);
	free(map);
	return rc;
}

/* The masters: every node that serves a slot.  Returns the count. */
static unsigned masters(struct conn_redis *r, struct node **out)
{
	bool seen[MAX_NODES] = { false };
	unsigned i, k = 0;

	if (!r->cluster) {
		out[0] = r->nodes[0];
		return 1;
	}
	pthread_mutex_lock(&r->lock);
	for (i = 0; i < NSLOTS; i++) {
		if (r->slots[i] != NO_NODE && !seen[r->slots[i]]) {
			seen[r->slots[i]] = true;
			out[k++] = r->nodes[r->slots[i]];
		}
	}
	pthread_mutex_unlock(&r->lock);
	return k;
}

/* ---- headers and data records ----------------------------------------- */

static void hdr_format(char *out, const struct hdr *h)
{
	char text[HDR_LEN];
	int n;

	if (h->is_inline)
		n = snprintf(text, sizeof(text), "pxfs1 i %llu",
			     (unsigned long long)h->size);
	else
		n = snprintf(text, sizeof(text), "pxfs1 s %llu %llu %s",
			     (unsigned long long)h->size,
			     (unsigned long long)h->seg, h->id);
	assert(n > 0 && n < HDR_LEN);
	memset(out, ' ', HDR_LEN);
	memcpy(out, text, (size_t)n);
	out[HDR_LEN - 1] = '\n';
}

/* Parse the HDR_LEN bytes at @p (untrusted). */
static bool hdr_parse(const char *p, size_t len, struct hdr *h)
{
	char text[HDR_LEN], *f[6];
	uint64_t v;
	int nf;

	memset(h, 0, sizeof(*h));
	if (len != HDR_LEN || p[HDR_LEN - 1] != '\n' ||
	    memchr(p, '\0', HDR_LEN))
		return false;
	memcpy(text, p, HDR_LEN - 1);
	text[HDR_LEN - 1] = '\0';
	nf = split(text, f, 6);
	if (nf < 3 || strcmp(f[0], "pxfs1") != 0)
		return false;
	if (strcmp(f[1], "i") == 0 && nf == 3) {
		h->is_inline = true;
		return parse_u64(f[2], strlen(f[2]), SEG_MAX, &h->size);
	}
	if (strcmp(f[1], "s") != 0 || nf != 5 ||
	    !parse_u64(f[2], strlen(f[2]), BLOB_MAX, &h->size) ||
	    !parse_u64(f[3], strlen(f[3]), SEG_MAX, &h->seg) ||
	    h->seg < SEG_MIN || strlen(f[4]) != ID_HEX ||
	    !is_hex(f[4], ID_HEX))
		return false;
	v = (h->size + h->seg - 1) / h->seg;
	if (v > MAX_SEGS)
		return false;
	h->nseg = (uint32_t)v;
	memcpy(h->id, f[4], ID_HEX + 1);
	return true;
}

static bool hdr_same(const struct hdr *a, const struct hdr *b)
{
	return a->is_inline == b->is_inline && a->size == b->size &&
	       a->seg == b->seg && strcmp(a->id, b->id) == 0;
}

static int rec_format(char *out, size_t cap, const struct rec *d)
{
	if (d->committed)
		return snprintf(out, cap, "c %llu %u %llu %s",
				(unsigned long long)d->t, d->nseg,
				(unsigned long long)d->bytes, d->key);
	return snprintf(out, cap, "p %llu %u %llu",
			(unsigned long long)d->t, d->nseg,
			(unsigned long long)d->bytes);
}

static bool rec_parse(const char *p, size_t len, struct rec *d)
{
	char text[VAL_MAX], *f[6];
	uint64_t v;
	int nf;

	memset(d, 0, sizeof(*d));
	if (len >= sizeof(text) || memchr(p, '\0', len))
		return false;
	memcpy(text, p, len);
	text[len] = '\0';
	nf = split(text, f, 6);
	if (nf < 4 || strlen(f[0]) != 1 ||
	    !parse_u64(f[1], strlen(f[1]), UINT32_MAX * 1000ULL, &d->t) ||
	    !parse_u64(f[2], strlen(f[2]), MAX_SEGS, &v) ||
	    !parse_u64(f[3], strlen(f[3]), BLOB_MAX, &d->bytes))
		return false;
	d->nseg = (uint32_t)v;
	if (f[0][0] == 'p')
		return nf == 4;
	if (f[0][0] != 'c' || nf != 5 || !is_key(f[4]))
		return false;
	d->committed = true;
	memcpy(d->key, f[4], STORE_KEY_HEX + 1);
	return true;
}

/* Read the header of @key into @h; STORE_NOTFOUND if there is none. */
static store_rc read_hdr(struct conn_redis *r, const char *key,
			 struct hdr *h)
{
	struct batch *b;
	const redisReply *rep;
	char e[200];
	store_rc rc;

	b = batch_new(1, hdr_slot(r, key), NULL);
	if (!b)
		return STORE_NOMEM;
	cmd_hdr(&b->cmd[0], r, "GETRANGE", key);
	cmd_num(&b->cmd[0], 0, 0);
	cmd_num(&b->cmd[0], 1, HDR_LEN - 1);
	rc = run1(r, b);
	if (rc != STORE_OK)
		goto out;
	rep = b->rep[0];
	if (rep->type == REDIS_REPLY_STRING && rep->len == 0)
		rc = store_fail(STORE_NOTFOUND, "no blob '%s' in redis '%s'",
				key, r->url);
	else if (rep->type == REDIS_REPLY_ERROR &&
		 !is_error(rep, "WRONGTYPE"))
		rc = store_fail(STORE_IO, "redis '%s' cannot read blob "
				"'%s': %s", r->url, key,
				errtext(rep, e, sizeof(e)));
	else if (rep->type != REDIS_REPLY_STRING ||
		 !hdr_parse(rep->str, rep->len, h))
		rc = store_fail(STORE_CORRUPT, "blob '%s' in redis '%s' has "
				"a corrupt header", key, r->url);
out:
	batch_free(b);
	return rc;
}

/* Remove segments [0, @nseg) of data id @id, then (with @rec) its data
 * record: a record left behind still leads leftovers() to the rest. */
static store_rc drop_data(struct conn_redis *r, const char *id,
			  uint32_t nseg, bool rec)
{
	struct batch *b = NULL;
	uint32_t i, k, n;
	store_rc rc = STORE_OK;

	for (i = 0; i < nseg && rc == STORE_OK; i += n) {
		n = nseg - i < BATCH_MAX ? nseg - i : BATCH_MAX;
		b = batch_new(n, id_slot(id), NULL);
		if (!b)
			return STORE_NOMEM;
		for (k = 0; k < n; k++)
			cmd_seg(&b->cmd[k], r, "UNLINK", id, i + k);
		rc = run(r, b);
		for (k = 0; rc == STORE_OK && k < n; k++) {
			if (b->rep[k]->type == REDIS_REPLY_ERROR)
				rc = reply_fail(r, "a segment removal",
						b->rep[k]);
		}
		batch_free(b);
	}
	if (rc != STORE_OK || !rec)
		return rc;
	b = batch_new(1, id_slot(id), NULL);
	if (!b)
		return STORE_NOMEM;
	cmd_rec(&b->cmd[0], r, "UNLINK", id);
	rc = run1(r, b);
	if (rc == STORE_OK && b->rep[0]->type == REDIS_REPLY_ERROR)
		rc = reply_fail(r, "a data record removal", b->rep[0]);
	batch_free(b);
	return rc;
}

/* After header @old of a blob was replaced or removed: drop its data,
 * best effort (leftovers() finds what stays). */
static void drop_old(struct conn_redis *r, const struct hdr *old,
		     const char *new_id)
{
	struct saved_error se;

	if (old->is_inline || (new_id && strcmp(old->id, new_id) == 0))
		return;
	error_save(&se);
	drop_data(r, old->id, old->nseg, true);
	error_restore(&se);
}

/* ---- writing ---------------------------------------------------------- */

static store_rc new_id(char id[ID_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[ID_HEX / 2];
	size_t got = 0;
	ssize_t n;
	int i;

	while (got < sizeof(raw)) {
		n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return store_fail_errno(errno, "cannot draw a random "
						"data id");
		got += (size_t)n;
	}
	for (i = 0; i < ID_HEX / 2; i++) {
		id[2 * i] = hex[raw[i] >> 4];
		id[2 * i + 1] = hex[raw[i] & 15];
	}
	id[ID_HEX] = '\0';
	return STORE_OK;
}

static store_rc redis_put_begin(struct store_conn *c,
				struct store_conn_put **out)
{
	struct store_conn_put *p;
	store_rc rc;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return store_fail(STORE_NOMEM, "cannot allocate a blob put");
	p->r = to_redis(c);
	rc = new_id(p->id);
	if (rc != STORE_OK) {
		free(p);
		return rc;
	}
	/* nothing is sent before a segment fills: small blobs go inline */
	*out = p;
	return STORE_OK;
}

/* Push back the expiry of segments [0, p->nseg): the put is alive. */
static store_rc touch_segments(struct store_conn_put *p)
{
	struct conn_redis *r = p->r;
	struct batch *b;
	uint32_t i, k, n;
	store_rc rc = STORE_OK;

	for (i = 0; i < p->nseg && rc == STORE_OK; i += n) {
		n = p->nseg - i < BATCH_MAX ? p->nseg - i : BATCH_MAX;
		b = batch_new(n, id_slot(p->id), NULL);
		if (!b)
			return STORE_NOMEM;
		for (k = 0; k < n; k++) {
			cmd_seg(&b->cmd[k], r, "EXPIRE", p->id, i + k);
			cmd_str(&b->cmd[k], r->ttl_str);
		}
		rc = run(r, b);
		for (k = 0; rc == STORE_OK && k < n; k++) {
			if (b->rep[k]->type != REDIS_REPLY_INTEGER)
				rc = reply_fail(r, "an expiry", b->rep[k]);
			else if (b->rep[k]->integer != 1)
				rc = store_fail(STORE_IO, "segment %u of a "
						"blob being written to redis "
						"'%s' vanished", i + k,
						r->url);
		}
		batch_free(b);
	}
	p->touched_ns = mono_ns();
	return rc;
}

/* Send the pending bytes as segment p->nseg, with its data record. */
static store_rc flush_segment(struct store_conn_put *p)
{
	struct conn_redis *r = p->r;
	struct rec d = { 0 };
	struct batch *b;
	const redisReply *rep;
	store_rc rc;
	int n, i;

	if (p->nseg >= MAX_SEGS)
		return store_fail(STORE_INVAL, "blob too large for redis "
				  "'%s' (over %u segments)", r->url,
				  MAX_SEGS);
	if (p->nseg > 0 && mono_ns() - p->touched_ns >
	    (int64_t)r->put_ttl * 1000000000 / 3) {
		rc = touch_segments(p);
		if (rc != STORE_OK)
			return rc;
	}
	if (p->nseg == 0)
		p->touched_ns = mono_ns();
	b = batch_new(2, id_slot(p->id), NULL);
	if (!b)
		return STORE_NOMEM;
	/* the record first: it must cover every segment that may exist */
	d.t = (uint64_t)time(NULL);
	d.nseg = p->nseg + 1;
	d.bytes = p->size;
	n = rec_format(b->cmd[0].val, sizeof(b->cmd[0].val), &d);
	cmd_rec(&b->cmd[0], r, "SET", p->id);
	cmd_arg(&b->cmd[0], b->cmd[0].val, (size_t)n);
	cmd_str(&b->cmd[0], "EX");
	cmd_str(&b->cmd[0], r->ttl_str);
	cmd_str(&b->cmd[0], p->has_rec ? "XX" : "NX");
	cmd_seg(&b->cmd[1], r, "SET", p->id, p->nseg);
	cmd_arg(&b->cmd[1], p->buf + HDR_LEN, p->fill);
	cmd_str(&b->cmd[1], "EX");
	cmd_str(&b->cmd[1], r->ttl_str);
	rc = run(r, b);
	for (i = 0; rc == STORE_OK && i < 2; i++) {
		rep = b->rep[i];
		if (rep->type == REDIS_REPLY_NIL)
			rc = store_fail(STORE_IO, "a blob being written to "
					"redis '%s' was removed as a "
					"leftover", r->url);
		else if (!is_status(rep, "OK"))
			rc = reply_fail(r, "a segment", rep);
	}
	batch_free(b);
	if (rc != STORE_OK)
		return rc;
	p->has_rec = true;
	p->nseg++;
	p->fill = 0;
	return STORE_OK;
}

static store_rc redis_put_write(struct store_conn_put *p, const void *buf,
				size_t len)
{
	const uint8_t *src = buf;
	size_t seg = p->r->seg, room, want, ncap;
	uint8_t *nbuf;
	store_rc rc;

	if (p->failed)
		return store_fail(STORE_IO, "blob put to redis '%s' already "
				  "failed", p->r->url);
	while (len > 0) {
		/* a full segment goes out only once more bytes follow, so a
		 * blob of exactly one segment stays inline */
		if (p->fill == seg) {
			rc = flush_segment(p);
			if (rc != STORE_OK) {
				p->failed = true;
				return rc;
			}
		}
		room = seg - p->fill;
		want = len < room ? len : room;
		if (p->fill + want > p->cap) {
			ncap = p->cap ? p->cap : 65536;
			while (ncap < p->fill + want)
				ncap *= 2;
			if (ncap > seg)
				ncap = seg;
			nbuf = realloc(p->buf, HDR_LEN + ncap);
			if (!nbuf) {
				p->failed = true;
				return store_fail(STORE_NOMEM, "cannot buffer "
						  "a blob segment");
			}
			p->buf = nbuf;
			p->cap = ncap;
		}
		memcpy(p->buf + HDR_LEN + p->fill, src, want);
		p->fill += want;
		p->size += want;
		src += want;
		len -= want;
	}
	return STORE_OK;
}

/* Commit a blob that fits one segment: one SET of header and bytes. */
static store_rc commit_inline(struct store_conn_put *p, const char *key)
{
	struct conn_redis *r = p->r;
	struct hdr h = { .is_inline = true, .size = p->size }, old;
	char hbuf[HDR_LEN];
	const redisReply *x;
	struct batch *b;
	store_rc rc;
	size_t i;

	if (!p->buf) {
		p->buf = malloc(HDR_LEN);
		if (!p->buf)
			return store_fail(STORE_NOMEM, "cannot allocate a "
					  "blob header");
	}
	hdr_format((char *)p->buf, &h);
	b = batch_new(4, hdr_slot(r, key), NULL);
	if (!b)
		return STORE_NOMEM;
	b->txn = true;
	cmd_plain(&b->cmd[0], "MULTI");
	cmd_hdr(&b->cmd[1], r, "GETRANGE", key);
	cmd_num(&b->cmd[1], 0, 0);
	cmd_num(&b->cmd[1], 1, HDR_LEN - 1);
	cmd_hdr(&b->cmd[2], r, "SET", key);
	cmd_arg(&b->cmd[2], p->buf, HDR_LEN + p->fill);
	cmd_plain(&b->cmd[3], "EXEC");
	rc = run(r, b);
	if (rc != STORE_OK)
		goto out;
	x = b->rep[3];
	if (x->type != REDIS_REPLY_ARRAY || x->elements != 2 ||
	    !is_status(x->element[1], "OK")) {
		/* EXECABORT: the reason is in a queued command's reply */
		for (i = 1; i < 3 && b->rep[i]->type != REDIS_REPLY_ERROR;
		     i++)
			;
		rc = reply_fail(r, "a blob", i < 3 ? b->rep[i] :
				x->type == REDIS_REPLY_ARRAY &&
				x->elements == 2 ? x->element[1] : x);
		goto out;
	}
	/* the blob it replaced may have had segments */
	x = x->element[0];
	if (x->type == REDIS_REPLY_STRING && x->len == HDR_LEN) {
		memcpy(hbuf, x->str, HDR_LEN);
		if (hdr_parse(hbuf, HDR_LEN, &old))
			drop_old(r, &old, NULL);
	}
out:
	batch_free(b);
	return rc;
}

/* Claim data record p->id for @key: fails if a sweep removed it. */
static store_rc claim(struct store_conn_put *p, const char *key,
		      char *val, size_t cap)
{
	struct conn_redis *r = p->r;
	struct rec d = { .committed = true };
	struct batch *b;
	store_rc rc;
	int n;

	d.t = (uint64_t)time(NULL);
	d.nseg = p->nseg;
	d.bytes = p->size;
	memcpy(d.key, key, STORE_KEY_HEX + 1);
	n = rec_format(val, cap, &d);
	b = batch_new(1, id_slot(p->id), NULL);
	if (!b)
		return STORE_NOMEM;
	cmd_rec(&b->cmd[0], r, "SET", p->id);
	cmd_arg(&b->cmd[0], val, (size_t)n);
	cmd_str(&b->cmd[0], "XX");
	rc = run1(r, b);
	if (rc == STORE_OK && b->rep[0]->type == REDIS_REPLY_NIL)
		rc = store_fail(STORE_IO, "blob '%s' was removed from redis "
				"'%s' as a leftover before its commit", key,
				r->url);
	else if (rc == STORE_OK && !is_status(b->rep[0], "OK"))
		rc = reply_fail(r, "a blob commit", b->rep[0]);
	batch_free(b);
	return rc;
}

/* Make every segment persistent; all must still be there. */
static store_rc persist(struct store_conn_put *p, const char *key)
{
	struct conn_redis *r = p->r;
	struct batch *b, *t;
	uint32_t i, k, n;
	store_rc rc = STORE_OK;

	for (i = 0; i < p->nseg && rc == STORE_OK; i += n) {
		n = p->nseg - i < BATCH_MAX ? p->nseg - i : BATCH_MAX;
		b = batch_new(n, id_slot(p->id), NULL);
		if (!b)
			return STORE_NOMEM;
		for (k = 0; k < n; k++)
			cmd_seg(&b->cmd[k], r, "PERSIST", p->id, i + k);
		rc = run(r, b);
		for (k = 0; rc == STORE_OK && k < n; k++) {
			if (b->rep[k]->type != REDIS_REPLY_INTEGER) {
				rc = reply_fail(r, "a blob commit",
						b->rep[k]);
				break;
			}
			if (b->rep[k]->integer == 1)
				continue;
			/* 0: gone, or persistent already (a resent batch) */
			t = batch_new(1, id_slot(p->id), NULL);
			if (!t) {
				rc = STORE_NOMEM;
				break;
			}
			cmd_seg(&t->cmd[0], r, "TTL", p->id, i + k);
			rc = run1(r, t);
			if (rc == STORE_OK &&
			    (t->rep[0]->type != REDIS_REPLY_INTEGER ||
			     t->rep[0]->integer != -1))
				rc = store_fail(STORE_IO, "segment %u of blob "
						"'%s' vanished from redis '%s' "
						"before its commit", i + k,
						key, r->url);
			batch_free(t);
		}
		batch_free(b);
	}
	return rc;
}

/* Set header @h of @key; *old gets the one it replaced (or none). */
static store_rc set_hdr(struct conn_redis *r, const char *key,
			const struct hdr *h, struct hdr *old, bool *had)
{
	const redisReply *x;
	struct batch *b;
	store_rc rc;
	size_t i;

	*had = false;
	b = batch_new(4, hdr_slot(r, key), NULL);
	if (!b)
		return STORE_NOMEM;
	b->txn = true;
	cmd_plain(&b->cmd[0], "MULTI");
	cmd_hdr(&b->cmd[1], r, "GETRANGE", key);
	cmd_num(&b->cmd[1], 0, 0);
	cmd_num(&b->cmd[1], 1, HDR_LEN - 1);
	hdr_format(b->cmd[2].val, h);
	cmd_hdr(&b->cmd[2], r, "SET", key);
	cmd_arg(&b->cmd[2], b->cmd[2].val, HDR_LEN);
	cmd_plain(&b->cmd[3], "EXEC");
	rc = run(r, b);
	if (rc != STORE_OK)
		goto out;
	x = b->rep[3];
	if (x->type != REDIS_REPLY_ARRAY || x->elements != 2 ||
	    !is_status(x->element[1], "OK")) {
		for (i = 1; i < 3 && b->rep[i]->type != REDIS_REPLY_ERROR;
		     i++)
			;
		rc = reply_fail(r, "a blob header", i < 3 ? b->rep[i] :
				x->type == REDIS_REPLY_ARRAY &&
				x->elements == 2 ? x->element[1] : x);
		goto out;
	}
	x = x->element[0];
	if (x->type == REDIS_REPLY_STRING)
		*had = hdr_parse(x->str, x->len, old);
out:
	batch_free(b);
	return rc;
}

/* Is data record @id still @val?  (Asked after setting the header.) */
static store_rc rec_is(struct conn_redis *r, const char *id,
		       const char *val, bool *same)
{
	const redisReply *rep;
	struct batch *b;
	store_rc rc;

	*same = false;
	b = batch_new(1, id_slot(id), NULL);
	if (!b)
		return STORE_NOMEM;
	cmd_rec(&b->cmd[0], r, "GET", id);
	rc = run1(r, b);
	rep = b->rep[0];
	if (rc == STORE_OK && rep->type == REDIS_REPLY_STRING)
		*same = rep->len == strlen(val) &&
			memcmp(rep->str, val, rep->len) == 0;
	else if (rc == STORE_OK && rep->type != REDIS_REPLY_NIL)
		rc = reply_fail(r, "a data record read", rep);
	batch_free(b);
	return rc;
}

/* Delete header @key if it still is @h (atomically, in a script). */
static void unset_hdr(struct conn_redis *r, const char *key,
		      const struct hdr *h)
{
	static const char script[] =
		"if redis.call('GETRANGE', KEYS[1], 0, 95) == ARGV[1] then "
		"return redis.call('DEL', KEYS[1]) end return 0";
	struct saved_error se;
	struct batch *b;

	error_save(&se);
	b = batch_new(1, hdr_slot(r, key), NULL);
	if (b) {
		hdr_format(b->cmd[0].val, h);
		cmd_plain(&b->cmd[0], "EVAL");
		cmd_str(&b->cmd[0], script);
		cmd_str(&b->cmd[0], "1");
		snprintf(b->cmd[0].key, sizeof(b->cmd[0].key), "%s%s",
			 r->prefix, key);
		cmd_str(&b->cmd[0], b->cmd[0].key);
		cmd_arg(&b->cmd[0], b->cmd[0].val, HDR_LEN);
		run1(r, b);
	}
	batch_free(b);
	error_restore(&se);
}

/* Commit a segmented blob: last segment, claim, persist, header. */
static store_rc commit_segments(struct store_conn_put *p, const char *key,
				bool *unsure)
{
	struct conn_redis *r = p->r;
	struct hdr h = { 0 }, old;
	char val[VAL_MAX];
	bool had, same;
	store_rc rc;

	*unsure = false;
	if (p->fill > 0) {
		rc = flush_segment(p);
		if (rc != STORE_OK)
			return rc;
	}
	rc = claim(p, key, val, sizeof(val));
	if (rc != STORE_OK)
		return rc;
	rc = persist(p, key);
	if (rc != STORE_OK)
		return rc;
	h.size = p->size;
	h.seg = r->seg;
	h.nseg = p->nseg;
	memcpy(h.id, p->id, sizeof(h.id));
	rc = set_hdr(r, key, &h, &old, &had);
	if (rc == STORE_IO) {
		/* the header may be set: its data must stay */
		*unsure = true;
		return rc;
	}
	if (rc != STORE_OK)
		return rc;
	/* a sweep that took the record after the claim takes the data too */
	rc = rec_is(r, p->id, val, &same);
	if (rc == STORE_OK && !same) {
		unset_hdr(r, key, &h);
		rc = store_fail(STORE_IO, "blob '%s' was removed from redis "
				"'%s' as a leftover during its commit", key,
				r->url);
	} else if (rc != STORE_OK) {
		*unsure = true;
		return rc;
	}
	if (rc == STORE_OK && had)
		drop_old(r, &old, p->id);
	return rc;
}

static void put_free(struct store_conn_put *p)
{
	free(p->buf);
	free(p);
}

/* Remove what put @p sent, best effort: expiry takes what stays. */
static void put_drop(struct store_conn_put *p)
{
	struct saved_error se;

	if (!p->has_rec)
		return;
	error_save(&se);
	drop_data(p->r, p->id, p->nseg + 1, true);
	error_restore(&se);
}

static store_rc redis_put_commit(struct store_conn_put *p, const char *key)
{
	bool unsure = false;
	store_rc rc;

	store_crash_point("blob-temp");
	if (!is_key(key)) {
		rc = bad_key(key);
	} else if (p->failed) {
		rc = store_fail(STORE_IO, "blob put to redis '%s' lost a "
				"write; not committing", p->r->url);
	} else if (p->nseg == 0) {
		rc = commit_inline(p, key);
	} else {
		rc = commit_segments(p, key, &unsure);
	}
	if (rc != STORE_OK && !unsure)
		put_drop(p);
	put_free(p);
	if (rc == STORE_OK)
		store_crash_point("blob-renamed");
	return rc;
}

static void redis_put_abort(struct store_conn_put *p)
{
	if (!p)
		return;
	put_drop(p);
	put_free(p);
}

/* ---- reading ---------------------------------------------------------- */

static store_rc short_blob(const struct conn_redis *r, const char *key,
			   uint64_t off, size_t len)
{
	return store_fail(STORE_CORRUPT, "blob '%s' in redis '%s' is shorter "
			  "than %llu + %zu bytes", key, r->url,
			  (unsigned long long)off, len);
}

/*
 * Read [off, off+len) of segmented blob @h into @buf.  *changed when a
 * segment came back short: the blob may have been replaced meanwhile.
 */
static store_rc get_segments(struct conn_redis *r, const struct hdr *h,
			     uint64_t off, size_t len, uint8_t *buf,
			     bool *changed)
{
	uint64_t pos = off, end = off + len, s, e;
	const redisReply *rep;
	struct batch *b;
	uint32_t i;
	size_t k, n;
	store_rc rc = STORE_OK;

	*changed = false;
	while (pos < end && rc == STORE_OK) {
		/* up to FETCH_MAX bytes (at least a segment) per trip */
		n = 0;
		for (s = pos; s < end && n < BATCH_MAX &&
		     (n == 0 || s - pos < FETCH_MAX); n++)
			s = (s / h->seg + 1) * h->seg;
		b = batch_new(n, id_slot(h->id), NULL);
		if (!b)
			return STORE_NOMEM;
		for (k = 0, s = pos; k < n; k++) {
			i = (uint32_t)(s / h->seg);
			e = ((uint64_t)i + 1) * h->seg;
			if (e > end)
				e = end;
			cmd_seg(&b->cmd[k], r, "GETRANGE", h->id, i);
			cmd_num(&b->cmd[k], 0, s - (uint64_t)i * h->seg);
			cmd_num(&b->cmd[k], 1, e - (uint64_t)i * h->seg - 1);
			s = e;
		}
		rc = run(r, b);
		for (k = 0, s = pos; rc == STORE_OK && k < n; k++) {
			i = (uint32_t)(s / h->seg);
			e = ((uint64_t)i + 1) * h->seg;
			if (e > end)
				e = end;
			rep = b->rep[k];
			if (rep->type != REDIS_REPLY_STRING &&
			    !is_error(rep, "WRONGTYPE")) {
				rc = reply_fail(r, "a segment read", rep);
			} else if (rep->type != REDIS_REPLY_STRING ||
				   rep->len != e - s) {
				*changed = true;
				rc = STORE_CORRUPT;
			} else {
				memcpy(buf + (s - off), rep->str, rep->len);
			}
			s = e;
		}
		batch_free(b);
		pos = s;
	}
	return rc;
}

/*
 * Read the header of @key and, in the same round trip, the bytes an
 * inline blob would hold at [off, off+len).  *done unless the blob is
 * segmented and bytes are wanted.
 */
static store_rc get_head(struct conn_redis *r, const char *key, uint64_t off,
			 size_t len, void *buf, struct hdr *h, bool *done)
{
	const redisReply *rep;
	struct batch *b;
	char e[200];
	store_rc rc;

	*done = true;
	b = batch_new(len > 0 ? 2 : 1, hdr_slot(r, key), NULL);
	if (!b)
		return STORE_NOMEM;
	cmd_hdr(&b->cmd[0], r, "GETRANGE", key);
	cmd_num(&b->cmd[0], 0, 0);
	cmd_num(&b->cmd[0], 1, HDR_LEN - 1);
	if (len > 0) {
		cmd_hdr(&b->cmd[1], r, "GETRANGE", key);
		cmd_num(&b->cmd[1], 0, HDR_LEN + off);
		cmd_num(&b->cmd[1], 1, HDR_LEN + off + len - 1);
	}
	rc = run(r, b);
	if (rc != STORE_OK)
		goto out;
	rep = b->rep[0];
	if (rep->type == REDIS_REPLY_STRING && rep->len == 0)
		rc = store_fail(STORE_NOTFOUND, "no blob '%s' in redis '%s'",
				key, r->url);
	else if (rep->type == REDIS_REPLY_ERROR &&
		 !is_error(rep, "WRONGTYPE"))
		rc = store_fail(STORE_IO, "redis '%s' cannot read blob "
				"'%s': %s", r->url, key,
				errtext(rep, e, sizeof(e)));
	else if (rep->type != REDIS_REPLY_STRING ||
		 !hdr_parse(rep->str, rep->len, h))
		rc = store_fail(STORE_CORRUPT, "blob '%s' in redis '%s' has "
				"a corrupt header", key, r->url);
	else if (off + len > h->size)
		rc = short_blob(r, key, off, len);
	if (rc != STORE_OK || len == 0)
		goto out;
	if (!h->is_inline) {
		*done = false;
		goto out;
	}
	rep = b->rep[1];
	if (rep->type == REDIS_REPLY_STRING && rep->len == len)
		memcpy(buf, rep->str, len);
	else
		rc = store_fail(STORE_CORRUPT, "blob '%s' in redis '%s' is "
				"cut short", key, r->url);
out:
	batch_free(b);
	return rc;
}

static store_rc redis_get(struct store_conn *c, const char *key,
			  uint64_t off, size_t len, void *buf)
{
	struct conn_redis *r = to_redis(c);
	struct hdr h, prev;
	bool done, changed;
	store_rc rc;
	int tries;

	if (!is_key(key))
		return bad_key(key);
	if (len > BLOB_MAX || off > BLOB_MAX - len)
		return short_blob(r, key, off, len);
	for (tries = 0; tries < GET_TRIES; tries++) {
		rc = get_head(r, key, off, len, buf, &h, &done);
		if (rc != STORE_OK || done)
			return rc;
		/* a segment short twice under one header is damage */
		if (tries > 0 && hdr_same(&h, &prev))
			break;
		rc = get_segments(r, &h, off, len, buf, &changed);
		if (!changed)
			return rc;
		/* replaced or evicted under us: look again */
		prev = h;
	}
	return store_fail(STORE_CORRUPT, "blob '%s' in redis '%s' has "
			  "missing or short segments", key, r->url);
}

static store_rc redis_stat(struct store_conn *c, const char *key,
			   uint64_t *size)
{
	struct conn_redis *r = to_redis(c);
	struct hdr h;
	store_rc rc;

	*size = 0;
	if (!is_key(key))
		return bad_key(key);
	rc = read_hdr(r, key, &h);
	if (rc == STORE_OK)
		*size = h.size;
	return rc;
}

static store_rc redis_evict(struct store_conn *c, const char *key)
{
	struct conn_redis *r = to_redis(c);
	const redisReply *x;
	struct batch *b;
	struct hdr h;
	store_rc rc;

	if (!is_key(key))
		return bad_key(key);
	b = batch_new(4, hdr_slot(r, key), NULL);
	if (!b)
		return STORE_NOMEM;
	b->txn = true;
	cmd_plain(&b->cmd[0], "MULTI");
	cmd_hdr(&b->cmd[1], r, "GETRANGE", key);
	cmd_num(&b->cmd[1], 0, 0);
	cmd_num(&b->cmd[1], 1, HDR_LEN - 1);
	cmd_hdr(&b->cmd[2], r, "DEL", key);
	cmd_plain(&b->cmd[3], "EXEC");
	rc = run(r, b);
	if (rc != STORE_OK)
		goto out;
	x = b->rep[3];
	if (x->type != REDIS_REPLY_ARRAY || x->elements != 2) {
		rc = reply_fail(r, "a blob removal",
				b->rep[1]->type == REDIS_REPLY_ERROR ?
				b->rep[1] : b->rep[2]->type ==
				REDIS_REPLY_ERROR ? b->rep[2] : x);
		goto out;
	}
	x = x->element[0];
	if (x->type == REDIS_REPLY_STRING &&
	    hdr_parse(x->str, x->len, &h) && !h.is_inline)
		rc = drop_data(r, h.id, h.nseg, true);
out:
	batch_free(b);
	return rc;
}

/* ---- walking ---------------------------------------------------------- */

/* One SCAN step on @n: *cursor advances, keys of the page in *keys. */
static store_rc scan_page(struct conn_redis *r, struct node *n,
			  const char *pattern, char *cursor, size_t cap,
			  struct batch **out)
{
	const redisReply *rep, *ks;
	struct batch *b;
	uint64_t v;
	store_rc rc;
	size_t i;
	char e[200];

	*out = NULL;
	b = batch_new(1, -1, n);
	if (!b)
		return STORE_NOMEM;
	cmd_plain(&b->cmd[0], "SCAN");
	cmd_str(&b->cmd[0], cursor);
	cmd_str(&b->cmd[0], "MATCH");
	cmd_str(&b->cmd[0], pattern);
	cmd_str(&b->cmd[0], "COUNT");
	cmd_str(&b->cmd[0], SCAN_COUNT);
	rc = run1(r, b);
	if (rc != STORE_OK)
		goto fail;
	rep = b->rep[0];
	if (rep->type == REDIS_REPLY_ERROR) {
		rc = store_fail(STORE_IO, "redis at '%s' cannot list keys: "
				"%s", n->name, errtext(rep, e, sizeof(e)));
		goto fail;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    !parse_u64(rep->element[0]->str, rep->element[0]->len,
		       UINT64_MAX, &v) || rep->element[0]->len >= cap ||
	    rep->element[1]->type != REDIS_REPLY_ARRAY)
		goto bad;
	ks = rep->element[1];
	for (i = 0; i < ks->elements; i++) {
		if (ks->element[i]->type != REDIS_REPLY_STRING)
			goto bad;
	}
	memcpy(cursor, rep->element[0]->str, rep->element[0]->len);
	cursor[rep->element[0]->len] = '\0';
	*out = b;
	return STORE_OK;
bad:
	rc = store_fail(STORE_IO, "redis at '%s' gave a malformed SCAN "
			"reply", n->name);
fail:
	batch_free(b);
	return rc;
}

/* Does Redis key @k (@len bytes) name a header?  Then copy its key. */
static bool is_hdr_key(const struct conn_redis *r, const char *k,
		       size_t len, char out[STORE_KEY_HEX + 1])
{
	if (len != r->plen + STORE_KEY_HEX ||
	    memcmp(k, r->prefix, r->plen) != 0 ||
	    !is_hex(k + r->plen, STORE_KEY_HEX))
		return false;
	memcpy(out, k + r->plen, STORE_KEY_HEX);
	out[STORE_KEY_HEX] = '\0';
	return true;
}

/* Does Redis key @k name a data record?  Then copy its id. */
static bool is_rec_key(const struct conn_redis *r, const char *k,
		       size_t len, char out[ID_HEX + 1])
{
	if (len != r->plen + ID_HEX + 2 ||
	    memcmp(k, r->prefix, r->plen) != 0 || k[r->plen] != '{' ||
	    !is_hex(k + r->plen + 1, ID_HEX) || k[len - 1] != '}')
		return false;
	memcpy(out, k + r->plen + 1, ID_HEX);
	out[ID_HEX] = '\0';
	return true;
}

/* Names found on one SCAN page. */
struct names {
	char (*v)[STORE_KEY_HEX + 1];
	size_t n;
};

/*
 * For each name, run the read that @build makes on node @n (where SCAN
 * found it) in one round trip; a key that moved meanwhile is read
 * through its slot instead.  Replies land in (*out)->rep[].
 */
static store_rc read_names(struct conn_redis *r, struct node *n,
			   const struct names *nm,
			   void (*build)(struct rcmd *, const struct conn_redis *,
					 const char *),
			   int (*slot)(const struct conn_redis *,
				       const char *),
			   struct batch **out)
{
	struct batch *b, *one;
	store_rc rc;
	size_t i;

	*out = NULL;
	if (nm->n == 0)
		return STORE_OK;
	b = batch_new(nm->n, -1, n);
	if (!b)
		return STORE_NOMEM;
	for (i = 0; i < nm->n; i++)
		build(&b->cmd[i], r, nm->v[i]);
	rc = run(r, b);
	for (i = 0; rc == STORE_OK && i < nm->n; i++) {
		if (!is_error(b->rep[i], "MOVED ") &&
		    !is_error(b->rep[i], "ASK "))
			continue;
		one = batch_new(1, slot(r, nm->v[i]), NULL);
		if (!one) {
			rc = STORE_NOMEM;
			break;
		}
		build(&one->cmd[0], r, nm->v[i]);
		rc = run1(r, one);
		if (rc == STORE_OK) {
			freeReplyObject(b->rep[i]);
			b->rep[i] = one->rep[0];
			one->rep[0] = NULL;
		}
		batch_free(one);
	}
	if (rc != STORE_OK)
		batch_free(b);
	else
		*out = b;
	return rc;
}

static void build_hdr_read(struct rcmd *c, const struct conn_redis *r,
			   const char *key)
{
	cmd_hdr(c, r, "GETRANGE", key);
	cmd_num(c, 0, 0);
	cmd_num(c, 1, HDR_LEN - 1);
}

static int slot_of_hdr(const struct conn_redis *r, const char *key)
{
	return hdr_slot(r, key);
}

static void build_rec_read(struct rcmd *c, const struct conn_redis *r,
			   const char *id)
{
	cmd_rec(c, r, "GET", id);
}

static int slot_of_rec(const struct conn_redis *r, const char *id)
{
	(void)r;
	return id_slot(id);
}

/* Collect from SCAN page @page the names @match accepts. */
static store_rc page_names(const struct conn_redis *r,
			   const struct batch *page,
			   bool (*match)(const struct conn_redis *,
					 const char *, size_t, char *),
			   struct names *nm)
{
	const redisReply *ks = page->rep[0]->element[1];
	size_t i;

	nm->n = 0;
	nm->v = calloc(ks->elements ? ks->elements : 1, sizeof(*nm->v));
	if (!nm->v)
		return store_fail(STORE_NOMEM, "cannot allocate key names");
	for (i = 0; i < ks->elements; i++) {
		if (match(r, ks->element[i]->str, ks->element[i]->len,
			  nm->v[nm->n]))
			nm->n++;
	}
	return STORE_OK;
}

static store_rc redis_list(struct store_conn *c, store_conn_list_fn fn,
			   void *arg)
{
	struct conn_redis *r = to_redis(c);
	struct node *m[MAX_NODES];
	struct batch *page = NULL, *hb = NULL;
	struct names nm = { NULL, 0 };
	const redisReply *rep;
	char cursor[24];
	unsigned nm_count, j;
	store_rc rc = STORE_OK;
	struct hdr h;
	size_t i;
	bool stop = false;

	nm_count = masters(r, m);
	for (j = 0; j < nm_count && !stop && rc == STORE_OK; j++) {
		snprintf(cursor, sizeof(cursor), "0");
		do {
			rc = scan_page(r, m[j], r->pat_hdr, cursor,
				       sizeof(cursor), &page);
			if (rc == STORE_OK)
				rc = page_names(r, page, is_hdr_key, &nm);
			if (rc == STORE_OK)
				rc = read_names(r, m[j], &nm, build_hdr_read,
						slot_of_hdr, &hb);
			for (i = 0; rc == STORE_OK && !stop && i < nm.n;
			     i++) {
				rep = hb->rep[i];
				/* evicted meanwhile, or not ours to judge */
				if (rep->type != REDIS_REPLY_STRING ||
				    !hdr_parse(rep->str, rep->len, &h))
					continue;
				if (fn(arg, nm.v[i], h.size) != 0)
					stop = true;
			}
			batch_free(hb);
			batch_free(page);
			hb = page = NULL;
			free(nm.v);
			nm.v = NULL;
		} while (rc == STORE_OK && !stop && strcmp(cursor, "0"));
	}
	return rc;
}

/*
 * Judge data record @id (value @rep): a leftover is a record still being
 * written that is older than @min_age_s, or a claimed one that no header
 * points at.  With @remove, take it away: the record first (whoever
 * deletes it owns the removal), then, for a claimed one, a second look at
 * the header (a commit may have just set it: then give the record back),
 * then the segments.  *left says whether it was (or is) a leftover.
 */
static store_rc judge(struct conn_redis *r, const char *id,
		      const redisReply *rep, bool remove, unsigned min_age_s,
		      bool *left, uint64_t *bytes)
{
	struct batch *b = NULL;
	struct rec d;
	struct hdr h;
	uint64_t now = (uint64_t)time(NULL);
	char val[VAL_MAX];
	store_rc rc;
	int n;

	*left = false;
	if (rep->type != REDIS_REPLY_STRING ||
	    !rec_parse(rep->str, rep->len, &d))
		return STORE_OK;
	*bytes = d.bytes;
	if (d.t + min_age_s > now)
		return STORE_OK;
	if (d.committed) {
		rc = read_hdr(r, d.key, &h);
		if (rc == STORE_OK && !h.is_inline && strcmp(h.id, id) == 0)
			return STORE_OK;
		if (rc != STORE_OK && rc != STORE_NOTFOUND &&
		    rc != STORE_CORRUPT)
			return rc;
	}
	*left = true;
	if (!remove)
		return STORE_OK;

	b = batch_new(1, id_slot(id), NULL);
	if (!b)
		return STORE_NOMEM;
	cmd_rec(&b->cmd[0], r, "DEL", id);
	rc = run1(r, b);
	if (rc == STORE_OK && b->rep[0]->type != REDIS_REPLY_INTEGER)
		rc = reply_fail(r, "a leftover removal", b->rep[0]);
	if (rc != STORE_OK || b->rep[0]->integer != 1) {
		/* someone else removed or committed it meanwhile */
		*left = false;
		goto out;
	}
	if (d.committed) {
		rc = read_hdr(r, d.key, &h);
		if (rc == STORE_OK && !h.is_inline &&
		    strcmp(h.id, id) == 0) {
			/* its commit won the race: the blob is live */
			*left = false;
			batch_free(b);
			b = batch_new(1, id_slot(id), NULL);
			if (!b)
				return STORE_NOMEM;
			n = rec_format(val, sizeof(val), &d);
			cmd_rec(&b->cmd[0], r, "SET", id);
			cmd_arg(&b->cmd[0], val, (size_t)n);
			cmd_str(&b->cmd[0], "NX");
			rc = run1(r, b);
			goto out;
		}
		if (rc != STORE_OK && rc != STORE_NOTFOUND &&
		    rc != STORE_CORRUPT)
			goto out;
	}
	rc = drop_data(r, id, d.nseg, false);
out:
	batch_free(b);
	return rc;
}

static store_rc redis_leftovers(struct store_conn *c, bool remove,
				unsigned min_age_s, store_conn_left_fn fn,
				void *arg)
{
	struct conn_redis *r = to_redis(c);
	struct node *m[MAX_NODES];
	struct batch *page = NULL, *rb = NULL;
	struct names nm = { NULL, 0 };
	char cursor[24], what[KEY_MAX + 16];
	unsigned nm_count, j;
	store_rc rc = STORE_OK;
	uint64_t bytes = 0;
	bool left;
	size_t i;

	nm_count = masters(r, m);
	for (j = 0; j < nm_count && rc == STORE_OK; j++) {
		snprintf(cursor, sizeof(cursor), "0");
		do {
			rc = scan_page(r, m[j], r->pat_rec, cursor,
				       sizeof(cursor), &page);
			if (rc == STORE_OK)
				rc = page_names(r, page, is_rec_key, &nm);
			if (rc == STORE_OK)
				rc = read_names(r, m[j], &nm, build_rec_read,
						slot_of_rec, &rb);
			for (i = 0; rc == STORE_OK && i < nm.n; i++) {
				rc = judge(r, nm.v[i], rb->rep[i], remove,
					   min_age_s, &left, &bytes);
				if (rc != STORE_OK || !left || !fn)
					continue;
				snprintf(what, sizeof(what), "%s{%s}",
					 r->prefix, nm.v[i]);
				fn(arg, what, bytes);
			}
			batch_free(rb);
			batch_free(page);
			rb = page = NULL;
			free(nm.v);
			nm.v = NULL;
		} while (rc == STORE_OK && strcmp(cursor, "0"));
	}
	return rc;
}

static void redis_close(struct store_conn *c)
{
	struct conn_redis *r = to_redis(c);
	unsigned i;

	if (!r)
		return;
	for (i = 0; i < r->nnodes; i++)
		node_free(r->nodes[i]);
	pthread_cond_destroy(&r->refresh_done);
	pthread_mutex_destroy(&r->lock);
	if (r->password) {
		explicit_bzero(r->password, strlen(r->password));
		free(r->password);
	}
	free(r->pat_rec);
	free(r->pat_hdr);
	free(r->prefix);
	free(r->url);
	free(r);
}

/* ---- claims: P "claims:" K is the set of store ids naming blob K ------ */

static bool is_owner(const char *s)
{
	return s && strlen(s) == ID_HEX && is_hex(s, ID_HEX);
}

static store_rc redis_claim(struct store_conn *c, const char *key,
			    const char *owner)
{
	struct conn_redis *r = to_redis(c);
	struct batch *b;
	char k[KEY_MAX + 16];
	store_rc rc;
	int n;

	if (!is_key(key))
		return bad_key(key);
	if (!is_owner(owner))
		return store_fail(STORE_INVAL, "bad store id for a claim");
	n = snprintf(k, sizeof(k), "%sclaims:%s", r->prefix, key);
	b = batch_new(1, key_slot(k, (size_t)n), NULL);
	if (!b)
		return STORE_NOMEM;
	cmd_key(&b->cmd[0], "SADD", "%s", k);
	cmd_arg(&b->cmd[0], owner, ID_HEX);
	rc = run1(r, b);
	if (rc == STORE_OK && b->rep[0]->type != REDIS_REPLY_INTEGER)
		rc = reply_fail(r, "a claim", b->rep[0]);
	batch_free(b);
	return rc;
}

/* SREM @owner (unless NULL) then SCARD, in one round trip. */
static store_rc claims_left(struct conn_redis *r, const char *key,
			    const char *owner, uint64_t *left)
{
	struct batch *b;
	char k[KEY_MAX + 16];
	size_t i = 0;
	store_rc rc;
	int n;

	*left = 0;
	if (!is_key(key))
		return bad_key(key);
	if (owner && !is_owner(owner))
		return store_fail(STORE_INVAL, "bad store id for a claim");
	n = snprintf(k, sizeof(k), "%sclaims:%s", r->prefix, key);
	b = batch_new(owner ? 2 : 1, key_slot(k, (size_t)n), NULL);
	if (!b)
		return STORE_NOMEM;
	if (owner) {
		cmd_key(&b->cmd[i], "SREM", "%s", k);
		cmd_arg(&b->cmd[i++], owner, ID_HEX);
	}
	cmd_key(&b->cmd[i], "SCARD", "%s", k);
	rc = run(r, b);
	if (rc == STORE_OK && b->rep[i]->type != REDIS_REPLY_INTEGER)
		rc = reply_fail(r, "a claim count", b->rep[i]);
	if (rc == STORE_OK)
		*left = b->rep[i]->integer > 0 ?
			(uint64_t)b->rep[i]->integer : 0;
	batch_free(b);
	return rc;
}

static store_rc redis_unclaim(struct store_conn *c, const char *key,
			      const char *owner, uint64_t *others)
{
	return claims_left(to_redis(c), key, owner, others);
}

static store_rc redis_claims(struct store_conn *c, const char *key,
			     uint64_t *n)
{
	return claims_left(to_redis(c), key, NULL, n);
}

/* ---- tags: P "tag:" NAME holds a key -------------------------------- */

static store_rc redis_tag_set(struct store_conn *c, const char *name,
			      const char *key)
{
	struct conn_redis *r = to_redis(c);
	struct batch *b;
	char k[KEY_MAX + 80];
	store_rc rc;
	int n;

	if (!is_key(key))
		return bad_key(key);
	if (!store_is_tag_name(name))
		return store_fail(STORE_INVAL, "'%s' is not a tag name", name);
	n = snprintf(k, sizeof(k), "%stag:%s", r->prefix, name);
	b = batch_new(1, key_slot(k, (size_t)n), NULL);
	if (!b)
		return STORE_NOMEM;
	cmd_key(&b->cmd[0], "SET", "%s", k);
	cmd_arg(&b->cmd[0], key, STORE_KEY_HEX);
	rc = run1(r, b);
	if (rc == STORE_OK && !is_status(b->rep[0], "OK"))
		rc = reply_fail(r, "a tag", b->rep[0]);
	batch_free(b);
	return rc;
}

static store_rc redis_tag_get(struct store_conn *c, const char *name,
			      char key[STORE_KEY_HEX + 1])
{
	struct conn_redis *r = to_redis(c);
	const redisReply *rep;
	struct batch *b;
	char k[KEY_MAX + 80];
	store_rc rc;
	int n;

	key[0] = '\0';
	if (!store_is_tag_name(name))
		return store_fail(STORE_INVAL, "'%s' is not a tag name", name);
	n = snprintf(k, sizeof(k), "%stag:%s", r->prefix, name);
	b = batch_new(1, key_slot(k, (size_t)n), NULL);
	if (!b)
		return STORE_NOMEM;
	cmd_key(&b->cmd[0], "GET", "%s", k);
	rc = run1(r, b);
	if (rc != STORE_OK)
		goto out;
	rep = b->rep[0];
	if (rep->type == REDIS_REPLY_NIL) {
		rc = store_fail(STORE_NOTFOUND, "no tag '%s' in redis '%s'",
				name, r->url);
	} else if (rep->type == REDIS_REPLY_ERROR) {
		rc = reply_fail(r, "a tag", rep);
	} else if (rep->type != REDIS_REPLY_STRING ||
		   rep->len != STORE_KEY_HEX ||
		   !is_hex(rep->str, STORE_KEY_HEX)) {
		rc = store_fail(STORE_CORRUPT, "tag '%s' in redis '%s' is"
				" corrupt", name, r->url);
	} else {
		memcpy(key, rep->str, STORE_KEY_HEX);
		key[STORE_KEY_HEX] = '\0';
	}
out:
	batch_free(b);
	return rc;
}

/* Redis makes a write durable as its own persistence says: there is
 * nothing to add for many puts at once. */
static store_rc redis_sync(struct store_conn *c)
{
	(void)c;
	return STORE_OK;
}

/* Standalone: connect (AUTH, SELECT) and PING; cluster: load the slot
 * map, which also says whether the url names a cluster at all. */
static store_rc redis_check(struct store_conn *c)
{
	struct conn_redis *r = to_redis(c);
	struct batch *b;
	char e[200];
	store_rc rc;

	if (r->cluster)
		return refresh(r, true);
	b = batch_new(1, -1, r->nodes[0]);
	if (!b)
		return STORE_NOMEM;
	cmd_plain(&b->cmd[0], "PING");
	rc = run1(r, b);
	if (rc == STORE_OK && !is_status(b->rep[0], "PONG"))
		rc = store_fail(STORE_IO, "redis at '%s' does not answer "
				"PING: %s", r->nodes[0]->name,
				errtext(b->rep[0], e, sizeof(e)));
	batch_free(b);
	return rc;
}

static const struct store_conn_ops redis_ops = {
	.name = "redis",
	.put_begin = redis_put_begin,
	.put_write = redis_put_write,
	.put_commit = redis_put_commit,
	.put_commit_nosync = redis_put_commit,
	.sync = redis_sync,
	.put_abort = redis_put_abort,
	.get = redis_get,
	.stat = redis_stat,
	.evict = redis_evict,
	.list = redis_list,
	.leftovers = redis_leftovers,
	.close = redis_close,
	.claim = redis_claim,
	.unclaim = redis_unclaim,
	.claims = redis_claims,
	.tag_set = redis_tag_set,
	.tag_get = redis_tag_get,
	.check = redis_check,
};

/* ---- opening ---------------------------------------------------------- */

static store_rc bad_url(const char *url, const char *why)
{
	return store_fail(STORE_INVAL, "bad redis url '%.200s': %s", url,
			  why);
}

/* Parse "HOST[:PORT]" or "[V6]:PORT" (@s, @len bytes) and add the node. */
static store_rc parse_hostport(struct conn_redis *r, const char *url,
			       const char *s, size_t len)
{
	const char *host = s, *colon = NULL;
	size_t hlen, i;
	uint64_t port = 6379;

	if (len == 0)
		return bad_url(url, "no host");
	if (s[0] == '[') {
		colon = memchr(s, ']', len);
		if (!colon || colon == s + 1)
			return bad_url(url, "bad IPv6 address");
		host = s + 1;
		hlen = (size_t)(colon - host);
		for (i = 0; i < hlen; i++) {
			if (!strchr("0123456789abcdefABCDEF:.", host[i]))
				return bad_url(url, "bad IPv6 address");
		}
		colon++;
		if (colon < s + len && *colon != ':')
			return bad_url(url, "junk after the IPv6 address");
		if (colon == s + len)
			colon = NULL;
	} else {
		colon = memchr(s, ':', len);
		hlen = colon ? (size_t)(colon - s) : len;
		for (i = 0; i < hlen; i++) {
			if (!((s[i] >= 'a' && s[i] <= 'z') ||
			      (s[i] >= 'A' && s[i] <= 'Z') ||
			      (s[i] >= '0' && s[i] <= '9') ||
			      s[i] == '.' || s[i] == '-' || s[i] == '_'))
				return bad_url(url, "bad character in the "
					       "host name");
		}
		if (hlen == 0)
			return bad_url(url, "no host");
		if (s[0] == '-' || s[0] == '.')
			return bad_url(url, "bad host name");
	}
	if (hlen > HOST_MAX)
		return bad_url(url, "host name too long");
	if (colon && (!parse_u64(colon + 1, (size_t)(s + len - colon - 1),
				 65535, &port) || port == 0))
		return bad_url(url, "the port must be a number from 1 to "
			       "65535");
	if (r->nnodes >= MAX_SEEDS)
		return bad_url(url, "too many nodes");
	if (node_index(r, host, hlen, (int)port) < 0)
		return STORE_NOMEM;
	return STORE_OK;
}

/* redis://HOST[:PORT][/DB] or redis+cluster://H1:P1,H2:P2,... */
static store_rc parse_url(struct conn_redis *r, const char *url)
{
	static const char plain[] = "redis://";
	static const char clus[] = "redis+cluster://";
	const char *p, *end, *slash, *comma;
	uint64_t db = 0;
	store_rc rc;

	/* a password here would end up in configs and messages */
	if (strchr(url, '@'))
		return store_fail(STORE_INVAL, "bad redis url: user "
				  "information ('...@') is not accepted; "
				  "give the password separately");
	for (p = url; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7f)
			return bad_url(url, "blank or non-ASCII character");
	}
	if (strncmp(url, plain, sizeof(plain) - 1) == 0) {
		p = url + sizeof(plain) - 1;
	} else if (strncmp(url, clus, sizeof(clus) - 1) == 0) {
		p = url + sizeof(clus) - 1;
		r->cluster = true;
	} else if (strncmp(url, "rediss://", 9) == 0) {
		return bad_url(url, "TLS is not supported");
	} else {
		return bad_url(url, "it must start with redis:// or "
			       "redis+cluster://");
	}
	if (strpbrk(p, "?#"))
		return bad_url(url, "no query or fragment is accepted");
	end = p + strlen(p);
	slash = strchr(p, '/');
	if (slash) {
		if (r->cluster)
			return bad_url(url, "a cluster has no database "
				       "number");
		if (slash[1] != '\0' &&
		    !parse_u64(slash + 1, (size_t)(end - slash - 1),
			       INT_MAX, &db))
			return bad_url(url, "the database must be a number");
		r->db = (unsigned)db;
		end = slash;
	}
	if (!r->cluster)
		return parse_hostport(r, url, p, (size_t)(end - p));
	for (;;) {
		comma = memchr(p, ',', (size_t)(end - p));
		rc = parse_hostport(r, url, p, comma ? (size_t)(comma - p) :
				    (size_t)(end - p));
		if (rc != STORE_OK || !comma)
			return rc;
		p = comma + 1;
	}
}

/* The prefix is printable, brace-free (it must not set a hash tag). */
static store_rc check_prefix(const char *prefix)
{
	const char *p;

	if (strlen(prefix) > PREFIX_MAX)
		return store_fail(STORE_INVAL, "redis key prefix '%.32s...' "
				  "is longer than %d bytes", prefix,
				  PREFIX_MAX);
	for (p = prefix; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7f || *p == '{' || *p == '}')
			return store_fail(STORE_INVAL, "bad redis key prefix "
					  "'%.*s': only printable characters "
					  "other than blanks and braces",
					  PREFIX_MAX, prefix);
	}
	return STORE_OK;
}

/* SCAN MATCH pattern: the prefix, glob-escaped, then @tail. */
static char *make_pattern(const char *prefix, const char *head,
			  unsigned nhex, const char *tail)
{
	size_t cap = 2 * strlen(prefix) + strlen(head) + nhex * 8 +
		     strlen(tail) + 1, n = 0;
	const char *p;
	char *s = malloc(cap);
	unsigned i;

	if (!s)
		return NULL;
	for (p = prefix; *p; p++) {
		if (strchr("*?[]\\", *p))
			s[n++] = '\\';
		s[n++] = *p;
	}
	n += (size_t)snprintf(s + n, cap - n, "%s", head);
	for (i = 0; i < nhex; i++)
		n += (size_t)snprintf(s + n, cap - n, "[0-9a-f]");
	snprintf(s + n, cap - n, "%s", tail);
	return s;
}

/* Read environment knob @name into *out, within [@min, @max]. */
static store_rc env_knob(const char *name, uint64_t min, uint64_t max,
			 uint64_t *out)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return STORE_OK;
	if (!parse_u64(v, strlen(v), max, out) || *out < min)
		return store_fail(STORE_INVAL, "%s must be a number from "
				  "%llu to %llu", name,
				  (unsigned long long)min,
				  (unsigned long long)max);
	return STORE_OK;
}


store_rc store_conn_redis_open(const struct store_redis_opts *o,
			       struct store_conn **out)
{
	struct conn_redis *r;
	uint64_t seg = SEG_DEFAULT, ttl = PUT_TTL_DEFAULT;
	store_rc rc;

	*out = NULL;
	if (!o || !o->url || !*o->url)
		return store_fail(STORE_INVAL, "the redis connector needs a "
				  "url");
	rc = check_prefix(o->prefix ? o->prefix : "");
	if (rc != STORE_OK)
		return rc;
	if (o->connect_timeout_ms > TIMEOUT_MS_MAX ||
	    o->command_timeout_ms > TIMEOUT_MS_MAX)
		return store_fail(STORE_INVAL, "redis timeouts must be at "
				  "most %d ms", TIMEOUT_MS_MAX);
	if (o->pool_size > POOL_MAX)
		return store_fail(STORE_INVAL, "redis pool size must be at "
				  "most %d", POOL_MAX);
	rc = env_knob("PXFS_REDIS_SEGMENT_SIZE", SEG_MIN, SEG_MAX, &seg);
	if (rc == STORE_OK)
		rc = env_knob("PXFS_REDIS_PUT_TTL", 1, PUT_TTL_MAX, &ttl);
	if (rc != STORE_OK)
		return rc;

	r = calloc(1, sizeof(*r));
	if (!r)
		return store_fail(STORE_NOMEM, "cannot allocate the redis "
				  "connector");
	r->conn.ops = &redis_ops;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->refresh_done, NULL);
	memset(r->slots, 0xff, sizeof(r->slots));
	r->connect_ms = o->connect_timeout_ms ? o->connect_timeout_ms :
			CONNECT_MS_DEFAULT;
	r->command_ms = o->command_timeout_ms ? o->command_timeout_ms :
			COMMAND_MS_DEFAULT;
	r->pool_size = o->pool_size ? o->pool_size : POOL_DEFAULT;
	r->seg = (size_t)seg;
	r->put_ttl = (unsigned)ttl;
	snprintf(r->ttl_str, sizeof(r->ttl_str), "%u", r->put_ttl);
	r->url = strdup(o->url);
	r->prefix = strdup(o->prefix ? o->prefix : "");
	if (o->password && *o->password)
		r->password = strdup(o->password);
	if (!r->url || !r->prefix || (o->password && *o->password &&
				      !r->password)) {
		rc = store_fail(STORE_NOMEM, "cannot allocate the redis "
				"connector");
		goto fail;
	}
	r->plen = strlen(r->prefix);
	r->pat_hdr = make_pattern(r->prefix, "", STORE_KEY_HEX, "");
	r->pat_rec = make_pattern(r->prefix, "{", ID_HEX, "}");
	if (!r->pat_hdr || !r->pat_rec) {
		rc = store_fail(STORE_NOMEM, "cannot allocate the redis "
				"connector");
		goto fail;
	}
	/* no connection yet: the first command makes one */
	rc = parse_url(r, o->url);
	if (rc != STORE_OK)
		goto fail;
	*out = &r->conn;
	return STORE_OK;
fail:
	redis_close(&r->conn);
	return rc;
}
