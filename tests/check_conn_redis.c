/* SPDX-License-Identifier: MIT */
/*
 * check_conn_redis.c - unit tests of store/conn_redis.c, the Redis
 * connector, against real redis-server processes the suite starts on free
 * loopback ports: round trips (inline and segmented blobs, ranges across
 * segment boundaries), keys that must never reach Redis, stores sharing
 * one server, leftovers of interrupted writes, a password, a server that
 * stops answering or restarts, a full server, many threads, and a
 * three-master cluster with MOVED and ASK redirections and a killed
 * master.
 *
 * Servers are started with fork/exec, stopped by pid (SIGTERM, then
 * waitpid) in the fixtures, and carry PR_SET_PDEATHSIG so that a test
 * process that dies takes its servers along.  Without redis-server only
 * the tests that need no server run.  A small segment size
 * (PXFS_REDIS_SEGMENT_SIZE) makes a few hundred KiB span many segments.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>

#include "conn.h"
#include "hash.h"
#include "store_int.h"

#include "failmalloc.h"

#define SEG		4096		/* segment size of the tests' puts */
#define TIMEOUT_MS	2000		/* command timeout, most tests */
#define NCLUSTER	3

struct server {
	pid_t pid;			/* 0: not running */
	int port;
	bool cluster;
	const char *pass;		/* requirepass, or NULL */
	char dir[PATH_MAX];		/* --dir: dump and logs */
};

static char base[PATH_MAX / 2];		/* the suite's scratch directory */
static struct server solo;		/* shared by the "blobs" case */
static struct server own;		/* one per test of "faults" */
static struct server nodes[NCLUSTER];	/* the cluster */
static char solo_url[64], own_url[64], cluster_url[128];
static struct store_conn *conn;		/* the fixture's connector */
static char prefix[32];			/* this test's key prefix */

/* ---- helpers ---------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void msleep(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static bool have_program(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

/* A loopback port nobody listens on right now, in 20000-40000. */
static int free_port(void)
{
	struct sockaddr_in a;
	int fd, port, i;

	for (i = 0; i < 100; i++) {
		port = 20000 + (int)((unsigned)rand() % 20000);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(fd, 0);
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_port = htons((uint16_t)port);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			close(fd);
			return port;
		}
		close(fd);
	}
	ck_abort_msg("no free port");
	return -1;
}

/* A direct connection to @s, for the tests' own commands. */
static redisContext *admin_connect(const struct server *s)
{
	struct timeval tv = { 2, 0 };
	redisContext *c;
	redisReply *rep;

	c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
	ck_assert_ptr_nonnull(c);
	ck_assert_msg(!c->err, "connect %d: %s", s->port, c->errstr);
	redisSetTimeout(c, tv);
	if (s->pass) {
		rep = redisCommand(c, "AUTH %s", s->pass);
		ck_assert_ptr_nonnull(rep);
		freeReplyObject(rep);
	}
	return c;
}

/* Run a command on @s; the caller frees the reply. */
static redisReply *admin(const struct server *s, const char *fmt, ...)
{
	redisContext *c = admin_connect(s);
	redisReply *rep;
	va_list ap;

	va_start(ap, fmt);
	rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	ck_assert_msg(rep != NULL, "admin command on %d: %s", s->port,
		      c->errstr);
	redisFree(c);
	return rep;
}

static void admin_ok(const struct server *s, const char *fmt, ...)
{
	redisContext *c = admin_connect(s);
	redisReply *rep;
	va_list ap;

	va_start(ap, fmt);
	rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	ck_assert_ptr_nonnull(rep);
	ck_assert_msg(rep->type != REDIS_REPLY_ERROR, "'%s' on %d: %s", fmt,
		      s->port, rep->str);
	freeReplyObject(rep);
	redisFree(c);
}

/* Does @s answer PING (or NOAUTH, which is an answer too)? */
static bool answers(const struct server *s)
{
	struct timeval tv = { 0, 200000 };
	redisContext *c;
	redisReply *rep;
	bool ok;

	c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
	if (!c || c->err) {
		redisFree(c);
		return false;
	}
	redisSetTimeout(c, tv);
	rep = redisCommand(c, "PING");
	ok = rep && (rep->type == REDIS_REPLY_STATUS ||
		     (rep->type == REDIS_REPLY_ERROR &&
		      strncmp(rep->str, "NOAUTH", 6) == 0));
	freeReplyObject(rep);
	redisFree(c);
	return ok;
}

static pid_t spawn(const char *const argv[], const char *log)
{
	pid_t pid = fork();
	char *v[32];
	int fd, i;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* our death (a failed test exits at once) takes it along */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		/* exec wants char *: copies, in the child */
		for (i = 0; argv[i] && i < 31; i++)
			v[i] = strdup(argv[i]);
		v[i] = NULL;
		execvp(v[0], v);
		_exit(127);
	}
	return pid;
}

/* Start (or with s->port set, restart) @s, and wait until it answers. */
static void server_start(struct server *s)
{
	char port[16], conf[PATH_MAX + 32], log[PATH_MAX + 32];
	const char *argv[32];
	int tries, i, n, st;
	bool fixed = s->port != 0;

	if (!s->dir[0]) {
		snprintf(s->dir, sizeof(s->dir), "%s/r-XXXXXX", base);
		ck_assert_ptr_nonnull(mkdtemp(s->dir));
	}
	for (tries = 0; tries < 10; tries++) {
		if (!fixed)
			s->port = free_port();
		snprintf(port, sizeof(port), "%d", s->port);
		snprintf(log, sizeof(log), "%s/redis-%d.log", s->dir,
			 s->port);
		n = 0;
		argv[n++] = "redis-server";
		argv[n++] = "--port";
		argv[n++] = port;
		argv[n++] = "--bind";
		argv[n++] = "127.0.0.1";
		argv[n++] = "--save";
		argv[n++] = "";
		argv[n++] = "--appendonly";
		argv[n++] = "no";
		argv[n++] = "--daemonize";
		argv[n++] = "no";
		argv[n++] = "--dir";
		argv[n++] = s->dir;
		argv[n++] = "--dbfilename";
		argv[n++] = "dump.rdb";
		if (s->pass) {
			argv[n++] = "--requirepass";
			argv[n++] = s->pass;
		}
		if (s->cluster) {
			snprintf(conf, sizeof(conf), "%s/nodes-%d.conf",
				 s->dir, s->port);
			argv[n++] = "--cluster-enabled";
			argv[n++] = "yes";
			argv[n++] = "--cluster-config-file";
			argv[n++] = conf;
			/* the masters left serve their slots */
			argv[n++] = "--cluster-require-full-coverage";
			argv[n++] = "no";
		}
		argv[n] = NULL;
		s->pid = spawn(argv, log);
		for (i = 0; i < 500; i++) {
			if (answers(s))
				return;
			if (waitpid(s->pid, &st, WNOHANG) == s->pid)
				break;		/* port taken: try another */
			msleep(10);
		}
		if (i == 500) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
		}
		s->pid = 0;
		if (fixed)
			msleep(100);
	}
	ck_abort_msg("cannot start redis-server (see %s)", s->dir);
}

/* Stop @s by pid and reap it; the port and directory stay. */
static void server_stop(struct server *s)
{
	int st, i;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	kill(s->pid, SIGCONT);		/* a stopped one must see it */
	for (i = 0; i < 500; i++) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid)
			break;
		msleep(10);
	}
	if (i == 500) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &st, 0);
	}
	s->pid = 0;
}

static void make_url(char *buf, size_t cap, const struct server *s)
{
	snprintf(buf, cap, "redis://127.0.0.1:%d", s->port);
}

static store_rc open_with(const char *url, const char *pfx,
			  const char *pass, unsigned timeout_ms,
			  unsigned pool, struct store_conn **out)
{
	struct store_redis_opts o = {
		.url = url,
		.prefix = pfx,
		.password = pass,
		.connect_timeout_ms = timeout_ms,
		.command_timeout_ms = timeout_ms,
		.pool_size = pool,
	};

	*out = (struct store_conn *)&o;
	return store_conn_redis_open(&o, out);
}

static struct store_conn *open_ok(const char *url, const char *pfx)
{
	struct store_conn *c = NULL;

	ck_assert_msg(open_with(url, pfx, NULL, TIMEOUT_MS, 0, &c) ==
		      STORE_OK, "open %s: %s", url, store_last_error());
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->ops->name, "redis");
	return c;
}

/* Deterministic bytes: @n of stream @seed. */
static uint8_t *make_data(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n ? n : 1);
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	return p;
}

static void key_of(const void *p, size_t len, char key[STORE_KEY_HEX + 1])
{
	uint8_t d[STORE_SHA256_LEN];

	ck_assert_int_eq(store_sha256(p, len, d), STORE_OK);
	store_hex(d, sizeof(d), key);
}

/* A made-up key: @i in hex, zero-padded. */
static void key_num(unsigned i, char key[STORE_KEY_HEX + 1])
{
	snprintf(key, STORE_KEY_HEX + 1, "%064x", i);
}

/* Put @len bytes at @p under @key, in writes of at most @step bytes. */
static store_rc put_steps(struct store_conn *c, const char *key,
			  const void *p, size_t len, size_t step)
{
	struct store_conn_put *wp = NULL;
	const uint8_t *b = p;
	size_t n;
	store_rc rc;

	rc = c->ops->put_begin(c, &wp);
	if (rc != STORE_OK) {
		ck_assert_ptr_null(wp);
		return rc;
	}
	while (len > 0) {
		n = len < step ? len : step;
		rc = c->ops->put_write(wp, b, n);
		if (rc != STORE_OK) {
			c->ops->put_abort(wp);
			return rc;
		}
		b += n;
		len -= n;
	}
	return c->ops->put_commit(wp, key);
}

static store_rc put(struct store_conn *c, const char *key, const void *p,
		    size_t len)
{
	return put_steps(c, key, p, len, len ? len : 1);
}

/* Put @n bytes of stream @seed under their own key, into @key. */
static uint8_t *put_data(struct store_conn *c, size_t n, unsigned seed,
			 char key[STORE_KEY_HEX + 1])
{
	uint8_t *p = make_data(n, seed);

	key_of(p, n, key);
	ck_assert_msg(put_steps(c, key, p, n, 1000) == STORE_OK, "put: %s",
		      store_last_error());
	return p;
}

/* Redis keys on @s matching @pattern. */
static long count_keys(const struct server *s, const char *pattern)
{
	redisReply *rep = admin(s, "KEYS %s", pattern);
	long n;

	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	n = (long)rep->elements;
	freeReplyObject(rep);
	return n;
}

/* Keys of this test's prefix on @s. */
static long our_keys(const struct server *s)
{
	char pat[64];

	snprintf(pat, sizeof(pat), "%s*", prefix);
	return count_keys(s, pat);
}

/* An INFO field of @s as a number (e.g. cmdstat_getrange calls). */
static long long info_num(const struct server *s, const char *section,
			  const char *field)
{
	redisReply *rep = admin(s, "INFO %s", section);
	const char *p;
	long long v = 0;

	ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
	p = strstr(rep->str, field);
	if (p)
		v = strtoll(p + strlen(field), NULL, 10);
	freeReplyObject(rep);
	return v;
}

struct seen {
	int n;
	int stop_after;
	char keys[64][STORE_KEY_HEX + 1];
	uint64_t sizes[64];
};

static int on_blob(void *arg, const char *key, uint64_t size)
{
	struct seen *s = arg;
	int i;

	for (i = 0; i < s->n && i < 64; i++) {
		if (strcmp(s->keys[i], key) == 0)
			return 0;	/* SCAN may repeat a key */
	}
	if (s->n < 64) {
		snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
		s->sizes[s->n] = size;
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static bool seen_has(const struct seen *s, const char *key, uint64_t size)
{
	int i;

	for (i = 0; i < s->n && i < 64; i++) {
		if (strcmp(s->keys[i], key) == 0)
			return s->sizes[i] == size;
	}
	return false;
}

struct left {
	int n;
	uint64_t bytes;
	char last[256];
};

static void on_left(void *arg, const char *what, uint64_t size)
{
	struct left *l = arg;

	l->n++;
	l->bytes += size;
	snprintf(l->last, sizeof(l->last), "%s", what);
}

/* Log lines naming a MOVED redirection, from the connector's debug log. */
static int moved_lines;

static void count_log(enum store_log_level level, const char *fmt,
		      va_list ap)
{
	char line[512];

	(void)level;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (strstr(line, "moved to"))
		__atomic_add_fetch(&moved_lines, 1, __ATOMIC_SEQ_CST);
}

/* ---- fixtures --------------------------------------------------------- */

static void base_setup(void)
{
	snprintf(prefix, sizeof(prefix), "t%d:", (int)getpid());
	setenv("PXFS_REDIS_SEGMENT_SIZE", "4096", 1);
	unsetenv("PXFS_REDIS_PUT_TTL");
	conn = NULL;
	moved_lines = 0;
	store_set_log(count_log, STORE_LOG_DEBUG);
}

static void conn_teardown(void)
{
	if (conn)
		conn->ops->close(conn);
	conn = NULL;
}

/* "blobs": one server for the case, a connector per test. */
static void solo_start(void)
{
	memset(&solo, 0, sizeof(solo));
	server_start(&solo);
	make_url(solo_url, sizeof(solo_url), &solo);
}

static void solo_stop(void)
{
	server_stop(&solo);
}

static void solo_setup(void)
{
	base_setup();
	conn = open_ok(solo_url, prefix);
}

/* "faults": a server of the test's own. */
static void own_setup(void)
{
	base_setup();
	memset(&own, 0, sizeof(own));
	server_start(&own);
	make_url(own_url, sizeof(own_url), &own);
}

static void own_teardown(void)
{
	conn_teardown();
	server_stop(&own);
}

/* "cluster": three masters for the case. */
static void cluster_start(void)
{
	const char *argv[16];
	char addr[NCLUSTER][32], log[PATH_MAX + 16];
	redisReply *rep;
	int i, k, n, st, ok;
	pid_t pid;

	for (i = 0; i < NCLUSTER; i++) {
		memset(&nodes[i], 0, sizeof(nodes[i]));
		nodes[i].cluster = true;
		server_start(&nodes[i]);
	}
	n = 0;
	argv[n++] = "redis-cli";
	argv[n++] = "--cluster";
	argv[n++] = "create";
	for (i = 0; i < NCLUSTER; i++) {
		snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d",
			 nodes[i].port);
		argv[n++] = addr[i];
	}
	argv[n++] = "--cluster-replicas";
	argv[n++] = "0";
	argv[n++] = "--cluster-yes";
	argv[n] = NULL;
	snprintf(log, sizeof(log), "%s/create.log", nodes[0].dir);
	pid = spawn(argv, log);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "redis-cli --cluster create failed (see %s)", log);
	/* every node must know every slot's master */
	for (k = 0; k < 1000; k++) {
		ok = 0;
		for (i = 0; i < NCLUSTER; i++) {
			rep = admin(&nodes[i], "CLUSTER INFO");
			if (rep->type == REDIS_REPLY_STRING &&
			    strstr(rep->str, "cluster_state:ok"))
				ok++;
			freeReplyObject(rep);
		}
		if (ok == NCLUSTER)
			break;
		msleep(20);
	}
	ck_assert_int_eq(ok, NCLUSTER);
	snprintf(cluster_url, sizeof(cluster_url),
		 "redis+cluster://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d",
		 nodes[0].port, nodes[1].port, nodes[2].port);
}

static void cluster_stop(void)
{
	int i;

	for (i = 0; i < NCLUSTER; i++)
		server_stop(&nodes[i]);
}

static void cluster_setup(void)
{
	base_setup();
	conn = open_ok(cluster_url, prefix);
}

/* ---- opening ---------------------------------------------------------- */

START_TEST(test_redis_open_bad_args)
{
	struct store_redis_opts o = { .url = "redis://127.0.0.1:1" };
	struct store_conn *c = (struct store_conn *)&c;
	char longp[200];

	base_setup();
	ck_assert_int_eq(store_conn_redis_open(NULL, &c), STORE_INVAL);
	ck_assert_ptr_null(c);
	o.url = NULL;
	c = (struct store_conn *)&c;
	ck_assert_int_eq(store_conn_redis_open(&o, &c), STORE_INVAL);
	ck_assert_ptr_null(c);
	o.url = "";
	ck_assert_int_eq(store_conn_redis_open(&o, &c), STORE_INVAL);
	ck_assert(strstr(store_last_error(), "url"));

	o.url = "redis://127.0.0.1:1";
	o.prefix = "a{b";
	ck_assert_int_eq(store_conn_redis_open(&o, &c), STORE_INVAL);
	ck_assert(strstr(store_last_error(), "prefix"));
	o.prefix = "a b";
	ck_assert_int_eq(store_conn_redis_open(&o, &c), STORE_INVAL);
	memset(longp, 'p', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	o.prefix = longp;
	ck_assert_int_eq(store_conn_redis_open(&o, &c), STORE_INVAL);
	o.prefix = "ok";
	o.command_timeout_ms = 4000000;
	ck_assert_int_eq(store_conn_redis_open(&o, &c), STORE_INVAL);
	ck_assert(strstr(store_last_error(), "timeout"));
	o.command_timeout_ms = 0;
	o.pool_size = 100000;
	ck_assert_int_eq(store_conn_redis_open(&o, &c), STORE_INVAL);
	o.pool_size = 0;
	setenv("PXFS_REDIS_SEGMENT_SIZE", "12", 1);
	ck_assert_int_eq(store_conn_redis_open(&o, &c), STORE_INVAL);
	ck_assert(strstr(store_last_error(), "PXFS_REDIS_SEGMENT_SIZE"));
	setenv("PXFS_REDIS_SEGMENT_SIZE", "4096", 1);
	setenv("PXFS_REDIS_PUT_TTL", "x", 1);
	ck_assert_int_eq(store_conn_redis_open(&o, &c), STORE_INVAL);
	ck_assert(strstr(store_last_error(), "PXFS_REDIS_PUT_TTL"));
	ck_assert_ptr_null(c);
}
END_TEST

static const char *const bad_urls[] = {
	"http://127.0.0.1:6379",
	"redis:/127.0.0.1:6379",
	"redis://",
	"redis://:6379",
	"redis://127.0.0.1:",
	"redis://127.0.0.1:0",
	"redis://127.0.0.1:65536",
	"redis://127.0.0.1:63x9",
	"redis://127.0.0.1:+6379",
	"redis://127.0.0.1:6379/x",
	"redis://127.0.0.1:6379/-1",
	"redis://127.0.0.1:6379/99999999999",
	"redis://127.0.0.1:6379/1/2",
	"redis://127.0.0.1:6379?db=1",
	"redis://127.0.0.1:6379#x",
	"redis://ho st:6379",
	"redis://host!:6379",
	"redis://-host:6379",
	"redis://[::1:6379",
	"redis://[]:6379",
	"rediss://127.0.0.1:6379",
	"redis+cluster://",
	"redis+cluster://127.0.0.1:7000,",
	"redis+cluster://,127.0.0.1:7000",
	"redis+cluster://127.0.0.1:7000/0",
	"redis+cluster://127.0.0.1:7000,127.0.0.1:x",
	"redis://user:s3cr3t@127.0.0.1:6379",
	"redis://:s3cr3t@127.0.0.1:6379",
};

#define NBAD_URLS	((int)(sizeof(bad_urls) / sizeof(bad_urls[0])))

START_TEST(test_redis_open_bad_url)
{
	struct store_conn *c = NULL;
	const char *e;

	base_setup();
	store_clear_error();
	ck_assert_int_eq(open_with(bad_urls[_i], "", NULL, 200, 0, &c),
			 STORE_INVAL);
	ck_assert_ptr_null(c);
	e = store_last_error();
	ck_assert_msg(strstr(e, "redis url"), "%s: %s", bad_urls[_i], e);
	/* a password in the url is never echoed */
	ck_assert_ptr_null(strstr(e, "s3cr3t"));
}
END_TEST

/* Is the recorded failure about @what, and about @where? */
static void assert_error(const char *what, const char *where)
{
	const char *e = store_last_error();

	ck_assert_msg(strstr(e, what) && (!where || strstr(e, where)),
		      "wanted '%s' (at '%s'): %s", what, where ? where : "",
		      e);
}

/* Nobody listens: open does not notice (it does not connect); check()
 * and the first command each fail with one clear error, at once. */
START_TEST(test_redis_open_unreachable)
{
	struct store_conn *c = NULL;
	char url[128], where[32], key[STORE_KEY_HEX + 1], buf[4];
	int port = free_port();
	uint64_t size;
	double t0;

	base_setup();
	key_num(1, key);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
	snprintf(where, sizeof(where), "127.0.0.1:%d", port);
	t0 = now_s();
	ck_assert_int_eq(open_with(url, "", NULL, 300, 0, &c), STORE_OK);
	ck_assert_int_eq(c->ops->check(c), STORE_IO);
	assert_error("cannot connect to redis at", where);
	store_clear_error();
	ck_assert_int_eq(c->ops->get(c, key, 0, 1, buf), STORE_IO);
	assert_error("cannot connect to redis at", where);
	c->ops->close(c);
	/* a cluster: the slot map cannot be loaded, and says why */
	snprintf(url, sizeof(url), "redis+cluster://127.0.0.1:%d,"
		 "localhost:%d", port, port);
	ck_assert_int_eq(open_with(url, "", NULL, 300, 0, &c), STORE_OK);
	ck_assert_int_eq(c->ops->check(c), STORE_IO);
	assert_error("cannot connect to redis at", NULL);
	store_clear_error();
	ck_assert_int_eq(c->ops->stat(c, key, &size), STORE_IO);
	assert_error("cannot connect to redis at", NULL);
	c->ops->close(c);
	ck_assert(now_s() - t0 < 2.0);
}
END_TEST

/* Something listens but never answers: STORE_IO within the timeout. */
START_TEST(test_redis_open_silent)
{
	struct sockaddr_in a;
	struct store_conn *c = NULL;
	socklen_t alen = sizeof(a);
	char url[64], key[STORE_KEY_HEX + 1], buf[4];
	double t0, dt;
	int fd;

	base_setup();
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d",
		 ntohs(a.sin_port));
	ck_assert_int_eq(open_with(url, "", NULL, 300, 0, &c), STORE_OK);
	t0 = now_s();
	ck_assert_int_eq(c->ops->check(c), STORE_IO);
	dt = now_s() - t0;
	assert_error("did not answer within 300 ms", NULL);
	ck_assert_msg(dt >= 0.25 && dt < 1.5, "took %.2f s", dt);
	t0 = now_s();
	ck_assert_int_eq(c->ops->get(c, (key_num(1, key), key), 0, 1, buf),
			 STORE_IO);
	dt = now_s() - t0;
	assert_error("did not answer within 300 ms", NULL);
	ck_assert_msg(dt >= 0.25 && dt < 1.5, "took %.2f s", dt);
	c->ops->close(c);
	close(fd);
}
END_TEST

/*
 * A scripted server: on the first connection it waits for each of
 * @steps[2i] in turn and answers @steps[2i + 1]; a NULL answer closes
 * the connection at once, else it is read to its end.  Later
 * connections are closed as soon as they come, until lfd is shut down.
 */
struct scripted {
	int lfd;
	const char *const *steps;
	size_t nsteps;		/* pairs */
};

static bool read_until(int fd, char *buf, size_t cap, const char *what)
{
	size_t n = 0;
	ssize_t k;

	while (n < cap - 1) {
		k = read(fd, buf + n, cap - 1 - n);
		if (k <= 0)
			return false;
		n += (size_t)k;
		buf[n] = '\0';
		if (memmem(buf, n, what, strlen(what)))
			return true;
	}
	return false;
}

static void *scripted_serve(void *arg)
{
	struct scripted *s = arg;
	const char *say = "";
	char buf[4096];
	int fd = accept(s->lfd, NULL, NULL);

	for (size_t i = 0; fd >= 0 && i < s->nsteps && say; i++) {
		say = s->steps[2 * i + 1];
		if (!read_until(fd, buf, sizeof(buf), s->steps[2 * i]) ||
		    (say && write(fd, say, strlen(say)) !=
			    (ssize_t)strlen(say)))
			break;
	}
	while (fd >= 0 && say && read(fd, buf, sizeof(buf)) > 0)
		;
	if (fd >= 0)
		close(fd);
	while ((fd = accept(s->lfd, NULL, NULL)) >= 0)
		close(fd);
	return NULL;
}

/* Start @s on a free port; its port. */
static int scripted_start(struct scripted *s, pthread_t *t)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);

	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s->lfd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s->lfd, 8), 0);
	ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&a, &alen),
			 0);
	ck_assert_int_eq(pthread_create(t, NULL, scripted_serve, s), 0);
	return ntohs(a.sin_port);
}

static void scripted_stop(struct scripted *s, pthread_t t)
{
	shutdown(s->lfd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(s->lfd);
}

/* EXEC answered with an array of the wrong length (found by
 * tests/fuzz/fuzz_redis): the commit fails, it does not read past it. */
START_TEST(test_redis_exec_short)
{
	static const char *const tails[] = {
		"+OK\r\n+QUEUED\r\n+QUEUED\r\n*0\r\n",
		"+OK\r\n+QUEUED\r\n+QUEUED\r\n*1\r\n$-1\r\n",
	};
	char key[STORE_KEY_HEX + 1], url[64];

	base_setup();
	memset(key, 'a', STORE_KEY_HEX);
	key[STORE_KEY_HEX] = '\0';
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		const char *steps[] = { "PING\r\n", "+PONG\r\n",
					"EXEC\r\n", tails[i] };
		struct scripted s = { -1, steps, 2 };
		struct store_conn_put *p = NULL;
		struct store_conn *c = NULL;
		pthread_t t;

		snprintf(url, sizeof(url), "redis://127.0.0.1:%d",
			 scripted_start(&s, &t));
		ck_assert_int_eq(open_with(url, "", NULL, 2000, 1, &c),
				 STORE_OK);
		ck_assert_int_eq(c->ops->check(c), STORE_OK);
		ck_assert_int_eq(c->ops->put_begin(c, &p), STORE_OK);
		ck_assert_int_eq(c->ops->put_write(p, "x", 1), STORE_OK);
		ck_assert_int_eq(c->ops->put_commit(p, key), STORE_IO);
		c->ops->close(c);
		scripted_stop(&s, t);
	}
}
END_TEST

/* A server that answers PING with something else: check() says so. */
START_TEST(test_redis_check_no_pong)
{
	const char *steps[] = { "PING\r\n", "-ERR unknown command\r\n" };
	struct scripted s = { -1, steps, 1 };
	struct store_conn *c = NULL;
	char url[64];
	pthread_t t;

	base_setup();
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d",
		 scripted_start(&s, &t));
	ck_assert_int_eq(open_with(url, "", NULL, 2000, 1, &c), STORE_OK);
	ck_assert_int_eq(c->ops->check(c), STORE_IO);
	assert_error("does not answer PING: ERR unknown command", NULL);
	c->ops->close(c);
	scripted_stop(&s, t);
}
END_TEST

/*
 * Threads that all use a fresh connector at once: each does one get (or,
 * with a NULL data, one stat) of its own key, started together through a
 * barrier, and keeps its result and message for the test to judge.
 */
#define NFIRST	8

struct first_use {
	struct store_conn *c;
	pthread_barrier_t *go;
	const char *key;
	const uint8_t *data;	/* expected bytes, NULL: stat only */
	size_t len;
	store_rc rc;
	bool same;		/* the bytes read were data's */
	char msg[256];
};

static void *first_use(void *arg)
{
	struct first_use *f = arg;
	uint8_t *got = malloc(f->len + 1);
	uint64_t size;

	pthread_barrier_wait(f->go);
	if (f->data) {
		f->rc = f->c->ops->get(f->c, f->key, 0, f->len, got);
		f->same = f->rc == STORE_OK &&
			  memcmp(got, f->data, f->len) == 0;
	} else {
		f->rc = f->c->ops->stat(f->c, f->key, &size);
	}
	snprintf(f->msg, sizeof(f->msg), "%s", store_last_error());
	free(got);
	return NULL;
}

/* Start NFIRST first_use threads on @f and let them go together. */
static void first_use_start(struct first_use *f, pthread_t *t,
			    pthread_barrier_t *go)
{
	int i;

	ck_assert_int_eq(pthread_barrier_init(go, NULL, NFIRST + 1), 0);
	for (i = 0; i < NFIRST; i++) {
		f[i].go = go;
		ck_assert_int_eq(pthread_create(&t[i], NULL, first_use, &f[i]),
				 0);
	}
	pthread_barrier_wait(go);
}

static void first_use_join(pthread_t *t, pthread_barrier_t *go)
{
	int i;

	for (i = 0; i < NFIRST; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(go);
}

/*
 * A cluster whose seed accepts connections but never answers, used by
 * many threads at once: one of them asks for the slot map, the others
 * wait for that one answer, and every one fails with its reason (the
 * waiters with the reason the asker recorded), within the timeout.
 */
START_TEST(test_redis_cluster_first_use_silent)
{
	struct first_use f[NFIRST];
	struct sockaddr_in a;
	struct store_conn *c = NULL;
	socklen_t alen = sizeof(a);
	pthread_barrier_t go;
	pthread_t t[NFIRST];
	char url[64], keys[NFIRST][STORE_KEY_HEX + 1];
	int fd, cfd, accepted = 0, i;
	double t0, dt;

	base_setup();
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 64), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(url, sizeof(url), "redis+cluster://127.0.0.1:%d",
		 ntohs(a.sin_port));
	ck_assert_int_eq(open_with(url, "", NULL, 1000, 0, &c), STORE_OK);
	memset(f, 0, sizeof(f));
	for (i = 0; i < NFIRST; i++) {
		key_num((unsigned)i + 1, keys[i]);
		f[i].c = c;
		f[i].key = keys[i];
	}
	t0 = now_s();
	first_use_start(f, t, &go);
	first_use_join(t, &go);
	dt = now_s() - t0;
	for (i = 0; i < NFIRST; i++) {
		ck_assert_int_eq(f[i].rc, STORE_IO);
		ck_assert_msg(strstr(f[i].msg, "did not answer within "
				     "1000 ms"), "thread %d: %s", i,
			      f[i].msg);
	}
	/* one refresh for all, not one after another */
	ck_assert_msg(dt < 1.9, "took %.2f s", dt);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	while ((cfd = accept(fd, NULL, NULL)) >= 0) {
		accepted++;
		close(cfd);
	}
	ck_assert_int_eq(accepted, 1);
	c->ops->close(c);
	close(fd);
}
END_TEST

/* A cluster node that says TRYAGAIN and then goes away (found by
 * tests/fuzz/fuzz_redis): STORE_IO, and under ASan no leaked reply. */
START_TEST(test_redis_tryagain_then_gone)
{
	char key[STORE_KEY_HEX + 1], url[64], topo[128];
	const char *steps[] = {
		"SLOTS\r\n", topo,
		"GETRANGE", "-TRYAGAIN slot is being migrated\r\n",
		"GETRANGE", NULL,
	};
	struct scripted s = { -1, steps, 3 };
	struct store_conn *c = NULL;
	uint64_t size;
	pthread_t t;
	int port;

	base_setup();
	memset(key, 'a', STORE_KEY_HEX);
	key[STORE_KEY_HEX] = '\0';
	port = scripted_start(&s, &t);
	snprintf(topo, sizeof(topo), "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n"
		 "$9\r\n127.0.0.1\r\n:%d\r\n", port);
	snprintf(url, sizeof(url), "redis+cluster://127.0.0.1:%d", port);
	ck_assert_int_eq(open_with(url, "", NULL, 2000, 1, &c), STORE_OK);
	ck_assert_int_eq(c->ops->stat(c, key, &size), STORE_IO);
	c->ops->close(c);
	scripted_stop(&s, t);
}
END_TEST

/* ---- blobs ------------------------------------------------------------ */

START_TEST(test_redis_roundtrip)
{
	const struct store_conn_ops *o = conn->ops;
	struct store_conn_put *wp = NULL;
	char k0[STORE_KEY_HEX + 1], k1[STORE_KEY_HEX + 1];
	char k2[STORE_KEY_HEX + 1], k3[STORE_KEY_HEX + 1], pat[80];
	struct seen s = { 0 };
	uint8_t *one, *big, *got;
	uint64_t size;
	size_t i;

	got = malloc(100000);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(put(conn, (key_of("", 0, k0), k0), "", 0),
			 STORE_OK);
	ck_assert_int_eq(put(conn, (key_of("x", 1, k1), k1), "x", 1),
			 STORE_OK);
	/* exactly one segment: still one key */
	one = put_data(conn, SEG, 1, k3);
	/* 100000 bytes: 25 segments, streamed in uneven writes */
	big = make_data(100000, 2);
	key_of(big, 100000, k2);
	ck_assert_int_eq(o->put_begin(conn, &wp), STORE_OK);
	ck_assert_int_eq(o->put_write(wp, big, 1), STORE_OK);
	ck_assert_int_eq(o->put_write(wp, big + 1, 0), STORE_OK);
	ck_assert_int_eq(o->put_write(wp, big + 1, 65535), STORE_OK);
	ck_assert_int_eq(o->put_write(wp, big + 65536, 100000 - 65536),
			 STORE_OK);
	/* segments are out, but the blob is not visible before commit */
	ck_assert_int_eq(o->stat(conn, k2, &size), STORE_NOTFOUND);
	ck_assert_int_eq(o->get(conn, k2, 0, 1, got), STORE_NOTFOUND);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(o->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 3);
	ck_assert_int_eq(o->put_commit(wp, k2), STORE_OK);
	/* three inline headers; header, data record and 25 segments */
	ck_assert_int_eq(our_keys(&solo), 3 + 1 + 1 + 25);
	snprintf(pat, sizeof(pat), "%s{*", prefix);
	ck_assert_int_eq(count_keys(&solo, pat), 26);

	ck_assert_int_eq(o->stat(conn, k0, &size), STORE_OK);
	ck_assert_uint_eq(size, 0);
	ck_assert_int_eq(o->stat(conn, k1, &size), STORE_OK);
	ck_assert_uint_eq(size, 1);
	ck_assert_int_eq(o->stat(conn, k2, &size), STORE_OK);
	ck_assert_uint_eq(size, 100000);
	ck_assert_int_eq(o->stat(conn, k3, &size), STORE_OK);
	ck_assert_uint_eq(size, SEG);

	ck_assert_int_eq(o->get(conn, k0, 0, 0, got), STORE_OK);
	ck_assert_int_eq(o->get(conn, k1, 0, 1, got), STORE_OK);
	ck_assert_uint_eq(got[0], 'x');
	ck_assert_int_eq(o->get(conn, k3, 0, SEG, got), STORE_OK);
	ck_assert(memcmp(got, one, SEG) == 0);
	ck_assert_int_eq(o->get(conn, k2, 0, 100000, got), STORE_OK);
	ck_assert(memcmp(got, big, 100000) == 0);
	ck_assert_int_eq(o->get(conn, k2, 77777, 22223, got), STORE_OK);
	ck_assert(memcmp(got, big + 77777, 22223) == 0);
	ck_assert_int_eq(o->get(conn, k2, 100000, 0, got), STORE_OK);

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(o->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 4);
	ck_assert(seen_has(&s, k0, 0));
	ck_assert(seen_has(&s, k1, 1));
	ck_assert(seen_has(&s, k2, 100000));
	ck_assert(seen_has(&s, k3, SEG));

	ck_assert_int_eq(o->evict(conn, k1), STORE_OK);
	ck_assert_int_eq(o->stat(conn, k1, &size), STORE_NOTFOUND);
	ck_assert_int_eq(o->get(conn, k1, 0, 1, got), STORE_NOTFOUND);
	ck_assert_int_eq(o->evict(conn, k1), STORE_OK);
	/* a segmented blob goes with all its keys */
	ck_assert_int_eq(o->evict(conn, k2), STORE_OK);
	ck_assert_int_eq(count_keys(&solo, pat), 0);
	ck_assert_int_eq(our_keys(&solo), 2);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(o->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 2);
	for (i = 0; i < 2; i++)
		ck_assert(strcmp(s.keys[i], k1) && strcmp(s.keys[i], k2));
	/* destroyers take NULL */
	conn->ops->put_abort(NULL);
	conn->ops->close(NULL);
	free(one);
	free(big);
	free(got);
}
END_TEST

/* Ranges across segment boundaries fetch only what they need. */
START_TEST(test_redis_ranges)
{
	static const struct { uint64_t off; size_t len; } r[] = {
		{ 0, 1 }, { 0, SEG }, { SEG - 1, 2 }, { SEG, SEG },
		{ SEG - 10, SEG + 20 }, { 3 * SEG + 5, 7 }, { 1, 5 * SEG - 101 },
		{ 4 * SEG, SEG - 100 }, { 5 * SEG - 101, 1 }, { 2 * SEG, 0 },
		{ 5 * SEG - 100, 0 },
	};
	const size_t size = 5 * SEG - 100;
	char key[STORE_KEY_HEX + 1];
	long long calls, bytes;
	uint8_t *data, *got;
	size_t i;

	data = put_data(conn, size, 3, key);
	got = malloc(size);
	ck_assert_ptr_nonnull(got);
	for (i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		memset(got, 0, size);
		ck_assert_msg(conn->ops->get(conn, key, r[i].off, r[i].len,
					     got) == STORE_OK, "%llu+%zu: %s",
			      (unsigned long long)r[i].off, r[i].len,
			      store_last_error());
		ck_assert(memcmp(got, data + r[i].off, r[i].len) == 0);
	}
	ck_assert_int_eq(conn->ops->get(conn, key, size - 1, 2, got),
			 STORE_CORRUPT);
	ck_assert(strstr(store_last_error(), "shorter"));
	ck_assert_int_eq(conn->ops->get(conn, key, size + 1, 0, got),
			 STORE_CORRUPT);
	ck_assert_int_eq(conn->ops->get(conn, key, UINT64_MAX, 1, got),
			 STORE_CORRUPT);
	ck_assert_int_eq(conn->ops->get(conn, key, 0, SIZE_MAX, got),
			 STORE_CORRUPT);

	/* 10 bytes of segment 3: the header (and the speculative inline
	 * read) then one GETRANGE, and hardly more bytes than asked */
	calls = info_num(&solo, "commandstats", "cmdstat_getrange:calls=");
	bytes = info_num(&solo, "stats", "total_net_output_bytes:");
	ck_assert_int_eq(conn->ops->get(conn, key, 3 * SEG + 100, 10, got),
			 STORE_OK);
	ck_assert(memcmp(got, data + 3 * SEG + 100, 10) == 0);
	ck_assert_int_eq(info_num(&solo, "commandstats",
				  "cmdstat_getrange:calls=") - calls, 3);
	/* the INFO replies themselves are counted too: stay generous */
	ck_assert_int_lt(info_num(&solo, "stats", "total_net_output_bytes:") -
			 bytes, 8000);
	free(data);
	free(got);
}
END_TEST

/* Several MiB at a bigger segment size: pipelined, many segments. */
START_TEST(test_redis_big)
{
	const size_t size = (3u << 20) + 12345;
	char key[STORE_KEY_HEX + 1], pat[80];
	struct store_conn *c;
	uint8_t *data, *got;
	uint64_t st;

	setenv("PXFS_REDIS_SEGMENT_SIZE", "262144", 1);
	c = open_ok(solo_url, prefix);
	data = make_data(size, 4);
	key_of(data, size, key);
	ck_assert_int_eq(put_steps(c, key, data, size, 1 << 20), STORE_OK);
	snprintf(pat, sizeof(pat), "%s{*", prefix);
	ck_assert_int_eq(count_keys(&solo, pat), 1 + 13);
	ck_assert_int_eq(c->ops->stat(c, key, &st), STORE_OK);
	ck_assert_uint_eq(st, size);
	got = malloc(size);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(c->ops->get(c, key, 0, size, got), STORE_OK);
	ck_assert(memcmp(got, data, size) == 0);
	ck_assert_int_eq(c->ops->get(c, key, 262144 - 3, 262144 * 2 + 6,
				     got), STORE_OK);
	ck_assert(memcmp(got, data + 262144 - 3, 262144 * 2 + 6) == 0);
	/* a reader with another segment size follows the header's */
	ck_assert_int_eq(conn->ops->get(conn, key, 1000000, 5000, got),
			 STORE_OK);
	ck_assert(memcmp(got, data + 1000000, 5000) == 0);
	ck_assert_int_eq(c->ops->evict(c, key), STORE_OK);
	ck_assert_int_eq(our_keys(&solo), 0);
	c->ops->close(c);
	free(data);
	free(got);
}
END_TEST

START_TEST(test_redis_missing)
{
	char key[STORE_KEY_HEX + 1], buf[4];
	struct seen s = { 0 };
	struct left l = { 0 };
	uint64_t size = 9;

	key_num(77, key);
	store_clear_error();
	ck_assert_int_eq(conn->ops->get(conn, key, 0, 4, buf),
			 STORE_NOTFOUND);
	ck_assert(strstr(store_last_error(), key));
	ck_assert_int_eq(conn->ops->get(conn, key, 0, 0, buf),
			 STORE_NOTFOUND);
	ck_assert_int_eq(conn->ops->stat(conn, key, &size), STORE_NOTFOUND);
	ck_assert_uint_eq(size, 0);
	ck_assert_int_eq(conn->ops->evict(conn, key), STORE_OK);
	ck_assert_int_eq(conn->ops->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 0);
	ck_assert_int_eq(conn->ops->leftovers(conn, true, 0, on_left, &l),
			 STORE_OK);
	ck_assert_int_eq(l.n, 0);
}
END_TEST

/* Committing a key that is there replaces it, whatever the shapes. */
START_TEST(test_redis_replace)
{
	char key[STORE_KEY_HEX + 1], pat[80];
	uint8_t *a, *b, got[3 * SEG];

	snprintf(pat, sizeof(pat), "%s{*", prefix);
	key_num(1, key);
	ck_assert_int_eq(put(conn, key, "one", 3), STORE_OK);
	ck_assert_int_eq(put(conn, key, "two", 3), STORE_OK);
	ck_assert_int_eq(conn->ops->get(conn, key, 0, 3, got), STORE_OK);
	ck_assert(memcmp(got, "two", 3) == 0);
	/* inline by segmented by segmented by inline */
	a = make_data(3 * SEG, 5);
	b = make_data(2 * SEG + 1, 6);
	ck_assert_int_eq(put_steps(conn, key, a, 3 * SEG, 999), STORE_OK);
	ck_assert_int_eq(count_keys(&solo, pat), 4);
	ck_assert_int_eq(put_steps(conn, key, b, 2 * SEG + 1, 999),
			 STORE_OK);
	/* the old data went with the old header */
	ck_assert_int_eq(count_keys(&solo, pat), 4);
	ck_assert_int_eq(conn->ops->get(conn, key, 0, 2 * SEG + 1, got),
			 STORE_OK);
	ck_assert(memcmp(got, b, 2 * SEG + 1) == 0);
	ck_assert_int_eq(put(conn, key, "three", 5), STORE_OK);
	ck_assert_int_eq(count_keys(&solo, pat), 0);
	ck_assert_int_eq(conn->ops->get(conn, key, 0, 5, got), STORE_OK);
	ck_assert(memcmp(got, "three", 5) == 0);
	ck_assert_int_eq(our_keys(&solo), 1);
	free(a);
	free(b);
}
END_TEST

static const char *const bad_keys[] = {
	"../etc/passwd",
	"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
	"{3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85}",
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85*",
	"",
	NULL,
};

#define NBAD_KEYS	((int)(sizeof(bad_keys) / sizeof(bad_keys[0])))

START_TEST(test_redis_bad_keys)
{
	const struct store_conn_ops *o = conn->ops;
	const char *key = bad_keys[_i];
	struct store_conn_put *wp = NULL;
	uint8_t *data;
	uint64_t size = 5;
	char buf[4];

	ck_assert_int_eq(o->get(conn, key, 0, 1, buf), STORE_INVAL);
	ck_assert_int_eq(o->stat(conn, key, &size), STORE_INVAL);
	ck_assert_uint_eq(size, 0);
	ck_assert_int_eq(o->evict(conn, key), STORE_INVAL);
	ck_assert_int_eq(o->put_begin(conn, &wp), STORE_OK);
	ck_assert_int_eq(o->put_write(wp, "data", 4), STORE_OK);
	store_clear_error();
	ck_assert_int_eq(o->put_commit(wp, key), STORE_INVAL);
	ck_assert(strstr(store_last_error(), "bad blob key"));
	/* a segmented put with a bad key leaves nothing either */
	data = make_data(3 * SEG, 7);
	ck_assert_int_eq(put_steps(conn, key, data, 3 * SEG, SEG),
			 STORE_INVAL);
	ck_assert_int_eq(our_keys(&solo), 0);
	free(data);
}
END_TEST

START_TEST(test_redis_put_abort)
{
	struct store_conn_put *wp = NULL;
	struct seen s = { 0 };
	struct left l = { 0 };
	uint8_t *data = make_data(5 * SEG, 8);

	/* inline: nothing was ever sent */
	ck_assert_int_eq(conn->ops->put_begin(conn, &wp), STORE_OK);
	ck_assert_int_eq(conn->ops->put_write(wp, "abandoned", 9), STORE_OK);
	conn->ops->put_abort(wp);
	ck_assert_int_eq(our_keys(&solo), 0);
	/* segmented: the segments sent go */
	ck_assert_int_eq(conn->ops->put_begin(conn, &wp), STORE_OK);
	ck_assert_int_eq(conn->ops->put_write(wp, data, 5 * SEG), STORE_OK);
	ck_assert_int_eq(our_keys(&solo), 1 + 4);
	conn->ops->put_abort(wp);
	ck_assert_int_eq(our_keys(&solo), 0);
	ck_assert_int_eq(conn->ops->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 0);
	ck_assert_int_eq(conn->ops->leftovers(conn, false, 0, on_left, &l),
			 STORE_OK);
	ck_assert_int_eq(l.n, 0);
	free(data);
}
END_TEST

/* A writer that dies mid-put, in a child that exits without a word. */
static void crashed_writer(const char *pfx, size_t len)
{
	struct store_conn_put *wp = NULL;
	struct store_conn *c;
	uint8_t *data;
	pid_t pid;
	int st;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		data = make_data(len, 9);
		if (open_with(solo_url, pfx, NULL, TIMEOUT_MS, 0, &c) ||
		    c->ops->put_begin(c, &wp) ||
		    c->ops->put_write(wp, data, len))
			_exit(1);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

START_TEST(test_redis_leftovers)
{
	const struct store_conn_ops *o = conn->ops;
	struct store_conn_put *a = NULL, *b = NULL;
	char key[STORE_KEY_HEX + 1], live[STORE_KEY_HEX + 1], hk[200];
	struct left l = { 0 };
	uint8_t *data, *keep;
	redisReply *rep;
	uint64_t size;

	keep = put_data(conn, 3 * SEG, 10, live);	/* not a leftover */
	crashed_writer(prefix, 4 * SEG + 10);
	ck_assert_int_eq(our_keys(&solo), 1 + 4 + 1 + 4);
	ck_assert_int_eq(o->leftovers(conn, false, 0, on_left, &l), STORE_OK);
	ck_assert_int_eq(l.n, 1);
	ck_assert_uint_eq(l.bytes, 4 * SEG);
	ck_assert(strncmp(l.last, prefix, strlen(prefix)) == 0);
	ck_assert(strchr(l.last, '{'));
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(o->leftovers(conn, true, 3600, on_left, &l),
			 STORE_OK);
	ck_assert_int_eq(l.n, 0);
	ck_assert_int_eq(o->leftovers(conn, true, 0, on_left, &l), STORE_OK);
	ck_assert_int_eq(l.n, 1);
	ck_assert_int_eq(our_keys(&solo), 1 + 4);

	/* writers in progress: removed, they find out and leave nothing */
	data = make_data(3 * SEG, 11);
	key_of(data, 3 * SEG, key);
	ck_assert_int_eq(o->put_begin(conn, &a), STORE_OK);
	ck_assert_int_eq(o->put_write(a, data, 2 * SEG + 1), STORE_OK);
	ck_assert_int_eq(o->put_begin(conn, &b), STORE_OK);
	ck_assert_int_eq(o->put_write(b, data, 3 * SEG), STORE_OK);
	ck_assert_int_eq(o->put_write(b, "x", 1), STORE_OK);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(o->leftovers(conn, true, 0, NULL, NULL), STORE_OK);
	ck_assert_int_eq(our_keys(&solo), 1 + 4);
	ck_assert_int_ne(o->put_write(a, data, 2 * SEG), STORE_OK);
	ck_assert(strstr(store_last_error(), "leftover"));
	o->put_abort(a);
	store_clear_error();
	ck_assert_int_eq(o->put_commit(b, key), STORE_IO);
	ck_assert(strstr(store_last_error(), "leftover"));
	ck_assert_int_eq(o->stat(conn, key, &size), STORE_NOTFOUND);
	ck_assert_int_eq(our_keys(&solo), 1 + 4);

	/* claimed data no header points at (a commit that died, or a
	 * header replaced from elsewhere) */
	snprintf(hk, sizeof(hk), "%s%s", prefix, live);
	rep = admin(&solo, "DEL %s", hk);
	freeReplyObject(rep);
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(o->leftovers(conn, false, 0, on_left, &l), STORE_OK);
	ck_assert_int_eq(l.n, 1);
	ck_assert_uint_eq(l.bytes, 3 * SEG);
	ck_assert_int_eq(o->leftovers(conn, true, 0, NULL, NULL), STORE_OK);
	ck_assert_int_eq(our_keys(&solo), 0);
	free(data);
	free(keep);
}
END_TEST

/* A dead writer's segments expire by themselves. */
START_TEST(test_redis_expiry)
{
	int i;

	setenv("PXFS_REDIS_PUT_TTL", "1", 1);
	crashed_writer(prefix, 3 * SEG + 1);
	ck_assert_int_eq(our_keys(&solo), 1 + 3);
	for (i = 0; i < 40 && our_keys(&solo) > 0; i++)
		msleep(100);
	ck_assert_int_eq(our_keys(&solo), 0);
}
END_TEST

/* Stores with other prefixes, or another database, see nothing of ours. */
START_TEST(test_redis_prefixes)
{
	static const char *const pfx[] = { "", "p:", "p:x", "g*[?]\\", "gX" };
	struct store_conn *c[5];
	char key[STORE_KEY_HEX + 1], url[80];
	struct seen s;
	struct left l;
	uint64_t size;
	uint8_t *data;
	int i, j;

	for (i = 0; i < 5; i++)
		c[i] = open_ok(solo_url, pfx[i]);
	data = make_data(2 * SEG, 12);
	key_of(data, 2 * SEG, key);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(put(c[i], key, data, (size_t)(i + 1) * 100),
				 STORE_OK);
		/* and one unfinished write */
		crashed_writer(pfx[i], 2 * SEG + 1 + (size_t)i);
	}
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(c[i]->ops->stat(c[i], key, &size),
				 STORE_OK);
		ck_assert_uint_eq(size, (uint64_t)(i + 1) * 100);
		memset(&s, 0, sizeof(s));
		ck_assert_int_eq(c[i]->ops->list(c[i], on_blob, &s),
				 STORE_OK);
		ck_assert_msg(s.n == 1, "prefix '%s' lists %d", pfx[i], s.n);
		memset(&l, 0, sizeof(l));
		ck_assert_int_eq(c[i]->ops->leftovers(c[i], false, 0,
						      on_left, &l), STORE_OK);
		ck_assert_int_eq(l.n, 1);
		ck_assert_uint_eq(l.bytes, 2 * SEG);
	}
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(c[i]->ops->evict(c[i], key), STORE_OK);
		ck_assert_int_eq(c[i]->ops->leftovers(c[i], true, 0, NULL,
						      NULL), STORE_OK);
		for (j = i + 1; j < 5; j++) {
			ck_assert_int_eq(c[j]->ops->stat(c[j], key, &size),
					 STORE_OK);
			memset(&l, 0, sizeof(l));
			ck_assert_int_eq(c[j]->ops->leftovers(c[j], false, 0,
							      on_left, &l),
					 STORE_OK);
			ck_assert_int_eq(l.n, 1);
		}
	}
	for (i = 0; i < 5; i++)
		c[i]->ops->close(c[i]);

	/* database 3 is another keyspace */
	snprintf(url, sizeof(url), "%s/3", solo_url);
	c[0] = open_ok(url, prefix);
	ck_assert_int_eq(put(c[0], key, "db3", 3), STORE_OK);
	ck_assert_int_eq(conn->ops->stat(conn, key, &size), STORE_NOTFOUND);
	ck_assert_int_eq(our_keys(&solo), 0);
	ck_assert_int_eq(c[0]->ops->stat(c[0], key, &size), STORE_OK);
	ck_assert_int_eq(c[0]->ops->evict(c[0], key), STORE_OK);
	c[0]->ops->close(c[0]);
	snprintf(url, sizeof(url), "%s/100000", solo_url);
	ck_assert_int_eq(open_with(url, "", NULL, TIMEOUT_MS, 0, &c[0]),
			 STORE_OK);
	ck_assert_int_eq(c[0]->ops->check(c[0]), STORE_INVAL);
	assert_error("database 100000", NULL);
	store_clear_error();
	ck_assert_int_eq(c[0]->ops->stat(c[0], key, &size), STORE_INVAL);
	assert_error("database 100000", NULL);
	c[0]->ops->close(c[0]);
	free(data);
}
END_TEST

static int evict_others(void *arg, const char *key, uint64_t size)
{
	int *calls = arg;
	char k[STORE_KEY_HEX + 1];
	unsigned i;

	(void)key;
	(void)size;
	(*calls)++;
	for (i = 0; i < 3; i++) {
		key_num(100 + i, k);
		ck_assert_int_eq(conn->ops->evict(conn, k), STORE_OK);
	}
	return 0;
}

START_TEST(test_redis_list_walks)
{
	char key[STORE_KEY_HEX + 1];
	struct seen s = { 0 };
	unsigned i;
	int calls = 0;

	for (i = 0; i < 4; i++) {
		key_num(i, key);
		ck_assert_int_eq(put(conn, key, "b", 1), STORE_OK);
	}
	s.stop_after = 1;
	ck_assert_int_eq(conn->ops->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 1);
	memset(&s, 0, sizeof(s));
	s.stop_after = 3;
	ck_assert_int_eq(conn->ops->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 3);
	for (i = 0; i < 4; i++) {
		key_num(i, key);
		ck_assert_int_eq(conn->ops->evict(conn, key), STORE_OK);
	}
	/*
	 * Blobs evicted while the walk runs (from its callback): headers
	 * are read a SCAN page at a time, so those of the page being
	 * walked may still be reported; the walk goes on without error.
	 */
	for (i = 0; i < 3; i++) {
		key_num(100 + i, key);
		ck_assert_int_eq(put(conn, key, "b", 1), STORE_OK);
	}
	ck_assert_int_eq(conn->ops->list(conn, evict_others, &calls),
			 STORE_OK);
	ck_assert(calls >= 1 && calls <= 3);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(conn->ops->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 0);
}
END_TEST

/* Whatever else lives under the prefix is not a blob; damage is
 * STORE_CORRUPT, never garbage served. */
START_TEST(test_redis_untrusted)
{
	const struct store_conn_ops *o = conn->ops;
	char key[STORE_KEY_HEX + 1], k2[STORE_KEY_HEX + 1], id[40];
	char hk[200], buf[3 * SEG];
	struct seen s = { 0 };
	struct left l = { 0 };
	redisReply *rep;
	uint8_t *data;
	uint64_t size;

	key_num(5, key);
	ck_assert_int_eq(put(conn, key, "blob", 4), STORE_OK);
	admin_ok(&solo, "SET %sjunk x", prefix);
	admin_ok(&solo, "SET %s%064X x", prefix, 1);
	admin_ok(&solo, "SET %s{%032x}junk x", prefix, 1);
	admin_ok(&solo, "SET %s{%032x} garbage", prefix, 2);
	admin_ok(&solo, "SET %s{%032X} garbage", prefix, 3);

	/* garbage headers */
	key_num(6, k2);
	admin_ok(&solo, "SET %s%s garbage", prefix, k2);
	ck_assert_int_eq(o->stat(conn, k2, &size), STORE_CORRUPT);
	ck_assert(strstr(store_last_error(), "corrupt header"));
	ck_assert_int_eq(o->get(conn, k2, 0, 1, buf), STORE_CORRUPT);
	admin_ok(&solo, "SET %s%s %b", prefix, k2,
		 "pxfs1 i 99999999999999999999999                          "
		 "                                      \n", (size_t)96);
	ck_assert_int_eq(o->stat(conn, k2, &size), STORE_CORRUPT);
	admin_ok(&solo, "DEL %s%s", prefix, k2);
	admin_ok(&solo, "LPUSH %s%s x", prefix, k2);
	ck_assert_int_eq(o->stat(conn, k2, &size), STORE_CORRUPT);
	ck_assert_int_eq(o->get(conn, k2, 0, 1, buf), STORE_CORRUPT);
	/* an inline header claiming more than the value holds */
	admin_ok(&solo, "DEL %s%s", prefix, k2);
	admin_ok(&solo, "SET %s%s %b", prefix, k2,
		 "pxfs1 i 10                                               "
		 "                                      \nabc", (size_t)99);
	ck_assert_int_eq(o->stat(conn, k2, &size), STORE_OK);
	ck_assert_uint_eq(size, 10);
	ck_assert_int_eq(o->get(conn, k2, 0, 3, buf), STORE_OK);
	ck_assert_int_eq(o->get(conn, k2, 0, 10, buf), STORE_CORRUPT);
	ck_assert(strstr(store_last_error(), "cut short"));

	ck_assert_int_eq(o->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, 2);
	ck_assert(seen_has(&s, key, 4));
	ck_assert(seen_has(&s, k2, 10));
	ck_assert_int_eq(o->leftovers(conn, true, 0, on_left, &l), STORE_OK);
	ck_assert_int_eq(l.n, 0);

	/* a segmented blob that lost a segment */
	data = put_data(conn, 3 * SEG, 13, key);
	snprintf(hk, sizeof(hk), "%s%s", prefix, key);
	rep = admin(&solo, "GETRANGE %s 0 95", hk);
	ck_assert_int_eq(sscanf(rep->str, "pxfs1 s %*u %*u %32s", id), 1);
	freeReplyObject(rep);
	ck_assert_int_eq(o->get(conn, key, 0, 3 * SEG, buf), STORE_OK);
	admin_ok(&solo, "DEL %s{%s}1", prefix, id);
	ck_assert_int_eq(o->get(conn, key, 0, SEG, buf), STORE_OK);
	store_clear_error();
	ck_assert_int_eq(o->get(conn, key, SEG - 1, 2, buf), STORE_CORRUPT);
	ck_assert(strstr(store_last_error(), "missing or short"));
	admin_ok(&solo, "SET %s{%s}1 short", prefix, id);
	ck_assert_int_eq(o->get(conn, key, 0, 3 * SEG, buf), STORE_CORRUPT);
	/* evicted all the same */
	ck_assert_int_eq(o->evict(conn, key), STORE_OK);
	ck_assert_int_eq(o->get(conn, key, 0, 1, buf), STORE_NOTFOUND);
	free(data);
}
END_TEST

/* Many threads on one connector with a pool smaller than they are. */
struct worker {
	struct store_conn *c;
	unsigned id;
	int failures;
	char msg[256];
};

static void *work(void *arg)
{
	struct worker *w = arg;
	char key[STORE_KEY_HEX + 1];
	uint8_t *data, *got;
	uint64_t size;
	size_t n, off, len;
	unsigned i;

	for (i = 0; i < 20; i++) {
		n = (w->id * 7919 + i * 104729) % (6 * SEG);
		data = make_data(n, w->id * 100 + i);
		got = malloc(n + 1);
		key_of(data, n, key);
		if (put_steps(w->c, key, data, n, 3000) != STORE_OK ||
		    w->c->ops->stat(w->c, key, &size) != STORE_OK ||
		    size != n)
			goto fail;
		off = n ? (i * 31) % n : 0;
		len = n - off;
		if (w->c->ops->get(w->c, key, off, len, got) != STORE_OK ||
		    memcmp(got, data + off, len) != 0)
			goto fail;
		if (i % 3 == 0 &&
		    w->c->ops->evict(w->c, key) != STORE_OK)
			goto fail;
		free(data);
		free(got);
		continue;
fail:
		w->failures++;
		snprintf(w->msg, sizeof(w->msg), "%s", store_last_error());
		free(data);
		free(got);
	}
	return NULL;
}

START_TEST(test_redis_threads)
{
	struct worker w[6];
	pthread_t t[6];
	struct store_conn *c;
	struct store_redis_opts o = {
		.url = solo_url, .prefix = prefix, .pool_size = 2,
		.command_timeout_ms = 5000,
	};
	int i;

	ck_assert_int_eq(store_conn_redis_open(&o, &c), STORE_OK);
	for (i = 0; i < 6; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].c = c;
		w[i].id = (unsigned)i + 1;
		ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (i = 0; i < 6; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_msg(w[i].failures == 0, "thread %d: %d failures, "
			      "last: %s", i, w[i].failures, w[i].msg);
	}
	c->ops->close(c);
}
END_TEST

/* ---- faults ----------------------------------------------------------- */

START_TEST(test_redis_password)
{
	char key[STORE_KEY_HEX + 1], buf[8];
	struct store_conn *c = NULL;

	server_stop(&own);
	own.pass = "pw-right";
	own.port = 0;
	server_start(&own);
	make_url(own_url, sizeof(own_url), &own);

	key_num(3, key);
	/* none: the server answers the command itself with NOAUTH */
	ck_assert_int_eq(open_with(own_url, prefix, NULL, TIMEOUT_MS, 0, &c),
			 STORE_OK);
	ck_assert_int_eq(c->ops->check(c), STORE_PERM);
	assert_error("requires a password", NULL);
	store_clear_error();
	ck_assert_int_eq(c->ops->get(c, key, 0, 6, buf), STORE_PERM);
	assert_error("requires a password", NULL);
	ck_assert_int_eq(put(c, key, "secret", 6), STORE_PERM);
	assert_error("requires a password", NULL);
	c->ops->close(c);
	/* a wrong one: AUTH fails as the connection is made */
	ck_assert_int_eq(open_with(own_url, prefix, "pw-wrong", TIMEOUT_MS, 0,
				   &c), STORE_OK);
	ck_assert_int_eq(c->ops->check(c), STORE_PERM);
	assert_error("refused the password", NULL);
	ck_assert_ptr_null(strstr(store_last_error(), "pw-wrong"));
	store_clear_error();
	ck_assert_int_eq(c->ops->get(c, key, 0, 6, buf), STORE_PERM);
	assert_error("refused the password", NULL);
	ck_assert_ptr_null(strstr(store_last_error(), "pw-wrong"));
	c->ops->close(c);
	ck_assert_int_eq(open_with(own_url, prefix, "pw-right", TIMEOUT_MS, 0,
				   &c), STORE_OK);
	ck_assert_int_eq(c->ops->check(c), STORE_OK);
	ck_assert_int_eq(put(c, key, "secret", 6), STORE_OK);
	ck_assert_int_eq(c->ops->get(c, key, 0, 6, buf), STORE_OK);
	ck_assert(memcmp(buf, "secret", 6) == 0);
	ck_assert_ptr_null(strstr(store_last_error(), "pw-right"));
	c->ops->close(c);
	/* with a database too: AUTH comes before SELECT */
	snprintf(own_url + strlen(own_url), sizeof(own_url) - strlen(own_url),
		 "/2");
	ck_assert_int_eq(open_with(own_url, prefix, "pw-right", TIMEOUT_MS, 0,
				   &c), STORE_OK);
	ck_assert_int_eq(c->ops->get(c, key, 0, 6, buf), STORE_NOTFOUND);
	c->ops->close(c);
	/* SELECT without AUTH */
	ck_assert_int_eq(open_with(own_url, prefix, NULL, TIMEOUT_MS, 0, &c),
			 STORE_OK);
	ck_assert_int_eq(c->ops->get(c, key, 0, 6, buf), STORE_PERM);
	assert_error("requires a password", NULL);
	c->ops->close(c);
}
END_TEST

/*
 * A server that stops answering: STORE_IO within the timeout, then the
 * same connector works again when it answers, after a restart too.
 */
START_TEST(test_redis_server_stops)
{
	char key[STORE_KEY_HEX + 1], k2[STORE_KEY_HEX + 1];
	uint8_t *data, *got;
	double t0, dt;
	uint64_t size;

	ck_assert_int_eq(open_with(own_url, prefix, NULL, 300, 2, &conn),
			 STORE_OK);
	data = put_data(conn, 3 * SEG, 14, key);
	got = malloc(3 * SEG);
	ck_assert_int_eq(conn->ops->get(conn, key, 0, 3 * SEG, got),
			 STORE_OK);

	/* hung: every command waits for the timeout, no longer */
	kill(own.pid, SIGSTOP);
	t0 = now_s();
	store_clear_error();
	ck_assert_int_eq(conn->ops->get(conn, key, 0, 3 * SEG, got),
			 STORE_IO);
	dt = now_s() - t0;
	ck_assert_msg(strstr(store_last_error(), "did not answer within "
			     "300 ms"), "%s", store_last_error());
	ck_assert_msg(dt >= 0.25 && dt < 1.5, "took %.2f s", dt);
	ck_assert_int_eq(conn->ops->stat(conn, key, &size), STORE_IO);
	kill(own.pid, SIGCONT);
	ck_assert_int_eq(conn->ops->get(conn, key, 0, 3 * SEG, got),
			 STORE_OK);
	ck_assert(memcmp(got, data, 3 * SEG) == 0);

	/* gone: refused at once */
	admin_ok(&own, "SAVE");
	server_stop(&own);
	t0 = now_s();
	store_clear_error();
	ck_assert_int_eq(conn->ops->get(conn, key, 0, 3 * SEG, got),
			 STORE_IO);
	ck_assert_msg(strstr(store_last_error(), "cannot connect"), "%s",
		      store_last_error());
	ck_assert_int_eq(put(conn, key, data, 10), STORE_IO);
	ck_assert(now_s() - t0 < 1.0);

	/* back on the same port, with its data: no reopening */
	server_start(&own);
	memset(got, 0, 3 * SEG);
	ck_assert_msg(conn->ops->get(conn, key, 0, 3 * SEG, got) == STORE_OK,
		      "%s", store_last_error());
	ck_assert(memcmp(got, data, 3 * SEG) == 0);
	free(data);
	data = put_data(conn, 2 * SEG + 3, 15, k2);
	ck_assert_int_eq(conn->ops->stat(conn, k2, &size), STORE_OK);
	ck_assert_uint_eq(size, 2 * SEG + 3);
	free(data);
	free(got);
}
END_TEST

/* A full server is a full disk: STORE_NOSPC, and nothing is left. */
START_TEST(test_redis_full)
{
	char key[STORE_KEY_HEX + 1];
	struct left l = { 0 };
	uint8_t *data;
	uint64_t size;
	size_t n = 3u << 20;

	ck_assert_int_eq(open_with(own_url, prefix, NULL, TIMEOUT_MS, 0,
				   &conn), STORE_OK);
	admin_ok(&own, "CONFIG SET maxmemory %d", 2 << 20);
	data = make_data(n, 16);
	key_of(data, n, key);
	store_clear_error();
	ck_assert_int_eq(put_steps(conn, key, data, n, 65536), STORE_NOSPC);
	ck_assert_msg(strstr(store_last_error(), "is full"), "%s",
		      store_last_error());
	ck_assert_int_eq(conn->ops->stat(conn, key, &size), STORE_NOTFOUND);
	ck_assert_int_eq(our_keys(&own), 0);
	/* inline too */
	ck_assert_int_eq(put(conn, key, data, SEG), STORE_OK);
	admin_ok(&own, "CONFIG SET maxmemory 1");
	ck_assert_int_eq(put(conn, key, data, SEG), STORE_NOSPC);
	admin_ok(&own, "CONFIG SET maxmemory 0");
	ck_assert_int_eq(conn->ops->leftovers(conn, false, 0, on_left, &l),
			 STORE_OK);
	ck_assert_int_eq(l.n, 0);
	ck_assert_int_eq(put_steps(conn, key, data, n, 65536), STORE_OK);
	ck_assert_int_eq(conn->ops->stat(conn, key, &size), STORE_OK);
	ck_assert_uint_eq(size, n);
	free(data);
}
END_TEST

/*
 * Redis down when the connector is opened: the open succeeds (it does
 * not connect), the first get fails with one clear error naming the
 * server, and once the server is back the next get just works.
 */
START_TEST(test_redis_open_while_down)
{
	char key[STORE_KEY_HEX + 1], where[32];
	struct store_conn *c = NULL;
	uint8_t *data, got[2 * SEG];
	double t0;

	ck_assert_int_eq(open_with(own_url, prefix, NULL, 300, 0, &conn),
			 STORE_OK);
	data = put_data(conn, 2 * SEG, 17, key);
	admin_ok(&own, "SAVE");
	server_stop(&own);
	snprintf(where, sizeof(where), "'127.0.0.1:%d'", own.port);

	ck_assert_int_eq(open_with(own_url, prefix, NULL, 300, 0, &c),
			 STORE_OK);
	t0 = now_s();
	store_clear_error();
	ck_assert_int_eq(c->ops->get(c, key, 0, 2 * SEG, got), STORE_IO);
	assert_error("cannot connect to redis at", where);
	ck_assert(now_s() - t0 < 1.0);
	ck_assert_int_eq(c->ops->check(c), STORE_IO);
	assert_error("cannot connect to redis at", where);

	server_start(&own);
	memset(got, 0, sizeof(got));
	ck_assert_msg(c->ops->get(c, key, 0, 2 * SEG, got) == STORE_OK, "%s",
		      store_last_error());
	ck_assert(memcmp(got, data, 2 * SEG) == 0);
	ck_assert_int_eq(c->ops->check(c), STORE_OK);
	c->ops->close(c);
	free(data);
}
END_TEST

/*
 * Many threads on a connector that has never connected: with the server
 * down each fails on its own with a clear error; once it is up, each
 * connects (the pool, of 2, keeps what it can) and reads its blob.
 */
START_TEST(test_redis_threads_first_use)
{
	char keys[NFIRST][STORE_KEY_HEX + 1];
	struct first_use f[NFIRST];
	uint8_t *data[NFIRST];
	struct store_conn *c = NULL;
	pthread_barrier_t go;
	pthread_t t[NFIRST];
	int i;

	ck_assert_int_eq(open_with(own_url, prefix, NULL, TIMEOUT_MS, 0,
				   &conn), STORE_OK);
	for (i = 0; i < NFIRST; i++)
		data[i] = put_data(conn, (size_t)(i % 2 ? 3 * SEG : 100 + i),
				   60 + (unsigned)i, keys[i]);
	admin_ok(&own, "SAVE");
	server_stop(&own);

	ck_assert_int_eq(open_with(own_url, prefix, NULL, TIMEOUT_MS, 2, &c),
			 STORE_OK);
	memset(f, 0, sizeof(f));
	for (i = 0; i < NFIRST; i++) {
		f[i].c = c;
		f[i].key = keys[i];
		f[i].data = data[i];
		f[i].len = i % 2 ? 3 * SEG : 100 + (size_t)i;
	}
	first_use_start(f, t, &go);
	first_use_join(t, &go);
	for (i = 0; i < NFIRST; i++) {
		ck_assert_int_eq(f[i].rc, STORE_IO);
		ck_assert_msg(strstr(f[i].msg, "cannot connect to redis at"),
			      "thread %d: %s", i, f[i].msg);
	}

	server_start(&own);
	first_use_start(f, t, &go);
	first_use_join(t, &go);
	for (i = 0; i < NFIRST; i++) {
		ck_assert_msg(f[i].rc == STORE_OK && f[i].same,
			      "thread %d: %s", i, f[i].msg);
		free(data[i]);
	}
	c->ops->close(c);
}
END_TEST

/* The wrong kind of url for the server. */
START_TEST(test_redis_not_a_cluster)
{
	struct store_conn *c = NULL;
	char url[80], key[STORE_KEY_HEX + 1];
	uint64_t size;

	snprintf(url, sizeof(url), "redis+cluster://127.0.0.1:%d", own.port);
	ck_assert_int_eq(open_with(url, prefix, NULL, TIMEOUT_MS, 0, &c),
			 STORE_OK);
	ck_assert_int_eq(c->ops->check(c), STORE_INVAL);
	assert_error("gives no cluster topology", NULL);
	/* at first use, the same */
	store_clear_error();
	ck_assert_int_eq(c->ops->stat(c, (key_num(1, key), key), &size),
			 STORE_INVAL);
	assert_error("gives no cluster topology", NULL);
	c->ops->close(c);
}
END_TEST

/* ---- cluster ---------------------------------------------------------- */

/* The master of @slot, from @via's CLUSTER SLOTS. */
static int owner_of(const struct server *via, long slot)
{
	redisReply *rep = admin(via, "CLUSTER SLOTS"), *e;
	int port = -1, i;
	size_t k;

	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	for (k = 0; k < rep->elements; k++) {
		e = rep->element[k];
		if (slot >= e->element[0]->integer &&
		    slot <= e->element[1]->integer)
			port = (int)e->element[2]->element[1]->integer;
	}
	freeReplyObject(rep);
	for (i = 0; i < NCLUSTER; i++) {
		if (nodes[i].port == port)
			return i;
	}
	return -1;
}

static long slot_of(const struct server *via, const char *k)
{
	redisReply *rep = admin(via, "CLUSTER KEYSLOT %s", k);
	long s;

	ck_assert_int_eq(rep->type, REDIS_REPLY_INTEGER);
	s = (long)rep->integer;
	freeReplyObject(rep);
	return s;
}

/* Which masters hold blob @key's header and data. */
static void blob_nodes(const struct server *via, const char *key,
		       int *hdr_node, int *data_node)
{
	char hk[200], id[40];
	redisReply *rep;
	int n;

	snprintf(hk, sizeof(hk), "%s%s", prefix, key);
	*hdr_node = n = owner_of(via, slot_of(via, hk));
	ck_assert_int_ge(n, 0);
	rep = admin(&nodes[n], "GETRANGE %s 0 95", hk);
	ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
	if (sscanf(rep->str, "pxfs1 s %*u %*u %32s", id) == 1) {
		snprintf(hk, sizeof(hk), "%s{%s}", prefix, id);
		*data_node = owner_of(via, slot_of(via, hk));
	} else {
		*data_node = *hdr_node;
	}
	freeReplyObject(rep);
}

static long cluster_keys(void)
{
	long n = 0;
	int i;

	for (i = 0; i < NCLUSTER; i++)
		n += our_keys(&nodes[i]);
	return n;
}

#define NBLOBS	24

START_TEST(test_redis_cluster_roundtrip)
{
	char keys[NBLOBS][STORE_KEY_HEX + 1];
	uint8_t *data[NBLOBS], *got;
	int per_node[NCLUSTER] = { 0 }, h, d, i;
	struct seen s = { 0 };
	struct left l = { 0 };
	uint64_t size;

	got = malloc(4 * SEG);
	for (i = 0; i < NBLOBS; i++) {
		/* every other one segmented */
		data[i] = put_data(conn, i % 2 ? 3 * SEG + (size_t)i :
				   (size_t)i * 50, 20 + (unsigned)i, keys[i]);
		blob_nodes(&nodes[0], keys[i], &h, &d);
		per_node[h]++;
	}
	for (i = 0; i < NCLUSTER; i++)
		ck_assert_msg(per_node[i] > 0, "no header on node %d", i);
	for (i = 0; i < NBLOBS; i++) {
		size = i % 2 ? 3 * SEG + (size_t)i : (size_t)i * 50;
		ck_assert_int_eq(conn->ops->get(conn, keys[i], 0, size, got),
				 STORE_OK);
		ck_assert(memcmp(got, data[i], size) == 0);
		if (i % 2) {
			ck_assert_int_eq(conn->ops->get(conn, keys[i],
							SEG - 2, SEG + 4,
							got), STORE_OK);
			ck_assert(memcmp(got, data[i] + SEG - 2,
					 SEG + 4) == 0);
		}
	}
	/* hash slots computed right: no node had to redirect us */
	ck_assert_int_eq(moved_lines, 0);
	ck_assert_int_eq(conn->ops->list(conn, on_blob, &s), STORE_OK);
	ck_assert_int_eq(s.n, NBLOBS);
	ck_assert_int_eq(conn->ops->leftovers(conn, false, 0, on_left, &l),
			 STORE_OK);
	ck_assert_int_eq(l.n, 0);
	for (i = 0; i < NBLOBS; i++) {
		ck_assert_int_eq(conn->ops->evict(conn, keys[i]), STORE_OK);
		free(data[i]);
	}
	ck_assert_int_eq(cluster_keys(), 0);
	free(got);
}
END_TEST

/* One seed is enough; a plain url to a cluster node says what is wrong. */
START_TEST(test_redis_cluster_seeds)
{
	char url[80], key[STORE_KEY_HEX + 1];
	struct store_conn *c;
	uint8_t *data;
	store_rc rc = STORE_OK;
	int i;

	snprintf(url, sizeof(url), "redis+cluster://localhost:%d",
		 nodes[2].port);
	c = open_ok(url, prefix);
	data = put_data(c, 5 * SEG, 30, key);
	ck_assert_int_eq(conn->ops->get(conn, key, 0, 5 * SEG, data),
			 STORE_OK);
	ck_assert_int_eq(c->ops->evict(c, key), STORE_OK);
	c->ops->close(c);
	free(data);

	make_url(url, sizeof(url), &nodes[0]);
	c = open_ok(url, prefix);
	for (i = 0; i < 20 && rc == STORE_OK; i++) {
		key_num((unsigned)i, key);
		rc = put(c, key, "x", 1);
	}
	ck_assert_int_eq(rc, STORE_IO);
	ck_assert(strstr(store_last_error(), "redis+cluster://"));
	c->ops->close(c);
}
END_TEST

static char *node_id(const struct server *s)
{
	redisReply *rep = admin(s, "CLUSTER MYID");
	char *id;

	ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
	id = strdup(rep->str);
	freeReplyObject(rep);
	return id;
}

/* Move @slot from master @a to @b, keys and all (unless @keep_open, which
 * stops half-way: migrating on @a, importing on @b). */
static void move_slot(long slot, int a, int b, bool keep_open)
{
	char *ida = node_id(&nodes[a]), *idb = node_id(&nodes[b]);
	redisReply *rep;
	size_t k;
	int i;

	admin_ok(&nodes[b], "CLUSTER SETSLOT %ld IMPORTING %s", slot, ida);
	admin_ok(&nodes[a], "CLUSTER SETSLOT %ld MIGRATING %s", slot, idb);
	if (!keep_open) {
		rep = admin(&nodes[a], "CLUSTER GETKEYSINSLOT %ld 1000", slot);
		for (k = 0; k < rep->elements; k++)
			admin_ok(&nodes[a], "MIGRATE 127.0.0.1 %d %s 0 5000",
				 nodes[b].port, rep->element[k]->str);
		freeReplyObject(rep);
		admin_ok(&nodes[b], "CLUSTER SETSLOT %ld NODE %s", slot, idb);
		admin_ok(&nodes[a], "CLUSTER SETSLOT %ld NODE %s", slot, idb);
		for (i = 0; i < NCLUSTER; i++) {
			if (i != a && i != b)
				admin_ok(&nodes[i], "CLUSTER SETSLOT %ld NODE "
					 "%s", slot, idb);
		}
	}
	free(ida);
	free(idb);
}

/* A slot resharded under a connector's feet: MOVED, then ASK. */
START_TEST(test_redis_cluster_redirects)
{
	char key[STORE_KEY_HEX + 1], k2[STORE_KEY_HEX + 1], hk[200];
	uint8_t got[3 * SEG], *big;
	int a, b, before;
	long slot;

	/* MOVED: the header's slot moved to another master */
	ck_assert_int_eq(put(conn, (key_num(11, key), key), "moving", 6),
			 STORE_OK);
	snprintf(hk, sizeof(hk), "%s%s", prefix, key);
	slot = slot_of(&nodes[0], hk);
	a = owner_of(&nodes[0], slot);
	b = (a + 1) % NCLUSTER;
	move_slot(slot, a, b, false);
	ck_assert_int_eq(owner_of(&nodes[a], slot), b);
	ck_assert_int_eq(conn->ops->get(conn, key, 0, 6, got), STORE_OK);
	ck_assert(memcmp(got, "moving", 6) == 0);
	ck_assert_int_ge(moved_lines, 1);
	before = moved_lines;
	ck_assert_int_eq(conn->ops->get(conn, key, 0, 6, got), STORE_OK);
	ck_assert_int_eq(moved_lines, before);
	ck_assert_int_eq(conn->ops->evict(conn, key), STORE_OK);

	/* ASK: new headers land on the importing master mid-migration,
	 * through a MULTI (the inline put) and plain reads */
	key_num(12, k2);
	snprintf(hk, sizeof(hk), "%s%s", prefix, k2);
	slot = slot_of(&nodes[0], hk);
	a = owner_of(&nodes[0], slot);
	b = (a + 2) % NCLUSTER;
	move_slot(slot, a, b, true);
	ck_assert_msg(put(conn, k2, "asked", 5) == STORE_OK, "%s",
		      store_last_error());
	ck_assert_int_eq(our_keys(&nodes[b]), 1);
	ck_assert_int_eq(conn->ops->get(conn, k2, 0, 5, got), STORE_OK);
	ck_assert(memcmp(got, "asked", 5) == 0);
	big = make_data(3 * SEG, 31);
	ck_assert_int_eq(put(conn, k2, big, 3 * SEG), STORE_OK);
	ck_assert_int_eq(conn->ops->get(conn, k2, 0, 3 * SEG, got),
			 STORE_OK);
	ck_assert(memcmp(got, big, 3 * SEG) == 0);
	/* finish the migration: the old owner now says MOVED */
	move_slot(slot, a, b, false);
	before = moved_lines;
	ck_assert_int_eq(conn->ops->get(conn, k2, 0, 3 * SEG, got),
			 STORE_OK);
	ck_assert(memcmp(got, big, 3 * SEG) == 0);
	ck_assert_int_gt(moved_lines, before);
	ck_assert_int_eq(conn->ops->evict(conn, k2), STORE_OK);
	ck_assert_int_eq(cluster_keys(), 0);
	free(big);
}
END_TEST

/* CLUSTER SLOTS calls the masters have answered so far. */
static long long slots_calls(void)
{
	long long n = 0;
	int i;

	for (i = 0; i < NCLUSTER; i++)
		n += info_num(&nodes[i], "commandstats",
			      "cmdstat_cluster|slots:calls=");
	return n;
}

/*
 * A fresh connector used by many threads at once loads the slot map once:
 * the masters are stopped while the threads start, so that all of them
 * need the map while the first one's CLUSTER SLOTS is unanswered; then
 * every thread reads its blob.
 */
START_TEST(test_redis_cluster_first_use)
{
	char keys[NFIRST][STORE_KEY_HEX + 1];
	struct first_use f[NFIRST];
	uint8_t *data[NFIRST];
	struct store_conn *c;
	pthread_barrier_t go;
	pthread_t t[NFIRST];
	long long before;
	int i;

	for (i = 0; i < NFIRST; i++)
		data[i] = put_data(conn, (size_t)(i % 2 ? 3 * SEG : 50 + i),
				   70 + (unsigned)i, keys[i]);
	c = open_ok(cluster_url, prefix);
	before = slots_calls();
	memset(f, 0, sizeof(f));
	for (i = 0; i < NFIRST; i++) {
		f[i].c = c;
		f[i].key = keys[i];
		f[i].data = data[i];
		f[i].len = i % 2 ? 3 * SEG : 50 + (size_t)i;
	}
	for (i = 0; i < NCLUSTER; i++)
		kill(nodes[i].pid, SIGSTOP);
	first_use_start(f, t, &go);
	msleep(500);
	for (i = 0; i < NCLUSTER; i++)
		kill(nodes[i].pid, SIGCONT);
	first_use_join(t, &go);
	for (i = 0; i < NFIRST; i++) {
		ck_assert_msg(f[i].rc == STORE_OK && f[i].same,
			      "thread %d: %s", i, f[i].msg);
		ck_assert_int_eq(conn->ops->evict(conn, keys[i]), STORE_OK);
		free(data[i]);
	}
	ck_assert_int_eq(slots_calls() - before, 1);
	c->ops->close(c);
}
END_TEST

/* Kill a master: what lives on the others still reads.  Runs last. */
START_TEST(test_redis_cluster_master_down)
{
	char keys[NBLOBS][STORE_KEY_HEX + 1];
	int hn[NBLOBS], dn[NBLOBS], i, ok = 0, down = 0;
	uint8_t *data[NBLOBS], got[4 * SEG];
	const int victim = 0;
	size_t n;
	double t0;

	for (i = 0; i < NBLOBS; i++) {
		n = i % 2 ? 3 * SEG + (size_t)i : (size_t)i * 40;
		data[i] = put_data(conn, n, 40 + (unsigned)i, keys[i]);
		blob_nodes(&nodes[1], keys[i], &hn[i], &dn[i]);
	}
	server_stop(&nodes[victim]);
	for (i = 0; i < NBLOBS; i++) {
		n = i % 2 ? 3 * SEG + (size_t)i : (size_t)i * 40;
		t0 = now_s();
		if (hn[i] != victim && dn[i] != victim) {
			ck_assert_msg(conn->ops->get(conn, keys[i], 0, n,
						     got) == STORE_OK,
				      "blob %d: %s", i, store_last_error());
			ck_assert(memcmp(got, data[i], n) == 0);
			ok++;
		} else {
			ck_assert_int_eq(conn->ops->get(conn, keys[i], 0, n,
							got), STORE_IO);
			ck_assert(strstr(store_last_error(), "redis"));
			down++;
		}
		ck_assert(now_s() - t0 < 1.5);
		free(data[i]);
	}
	ck_assert_int_gt(ok, 0);
	ck_assert_int_gt(down, 0);
	/* a new connector, seeded with the dead node first, still opens */
	conn_teardown();
	conn = open_ok(cluster_url, prefix);
	ck_assert_int_eq(conn->ops->get(conn, keys[1], 0, 1, got),
			 hn[1] != victim && dn[1] != victim ? STORE_OK :
			 STORE_IO);
}
END_TEST

/* ---- allocation failures ---------------------------------------------- */
#if FAILMALLOC

/*
 * hiredis 0.14 aborts when its own allocations fail (its sds strings), so
 * only the connector's allocations outside hiredis are tortured: a put up
 * to its first segment makes no call into hiredis.
 */
START_TEST(test_redis_nomem)
{
	const size_t len = SEG - 10;
	struct store_conn_put *wp;
	uint8_t *data = make_data(len, 50);
	long n, live;
	store_rc rc;

	for (n = 1;; n++) {
		live = failmalloc_blocks();
		wp = (struct store_conn_put *)&wp;
		failmalloc_arm(n);
		rc = conn->ops->put_begin(conn, &wp);
		if (rc == STORE_OK) {
			rc = conn->ops->put_write(wp, data, 100);
			if (rc == STORE_OK)
				rc = conn->ops->put_write(wp, data + 100,
							  len - 100);
			if (rc != STORE_OK)
				conn->ops->put_abort(wp);
		} else {
			ck_assert_ptr_null(wp);
		}
		if (!failmalloc_disarm())
			break;
		ck_assert_int_eq(rc, STORE_NOMEM);
		ck_assert_int_eq(failmalloc_blocks(), live);
	}
	ck_assert_int_eq(rc, STORE_OK);
	conn->ops->put_abort(wp);
	ck_assert_int_eq(our_keys(&solo), 0);
	free(data);
}
END_TEST

#endif /* FAILMALLOC */

static Suite *conn_redis_suite(bool servers, bool cluster)
{
	Suite *s = suite_create("conn_redis");
	TCase *tc;

	tc = tcase_create("open");
	tcase_add_test(tc, test_redis_open_bad_args);
	tcase_add_loop_test(tc, test_redis_open_bad_url, 0, NBAD_URLS);
	tcase_add_test(tc, test_redis_open_unreachable);
	tcase_add_test(tc, test_redis_open_silent);
	tcase_add_test(tc, test_redis_exec_short);
	tcase_add_test(tc, test_redis_tryagain_then_gone);
	tcase_add_test(tc, test_redis_check_no_pong);
	tcase_add_test(tc, test_redis_cluster_first_use_silent);
	suite_add_tcase(s, tc);
	if (!servers)
		return s;

	tc = tcase_create("blobs");
	tcase_set_timeout(tc, 30);
	tcase_add_unchecked_fixture(tc, solo_start, solo_stop);
	tcase_add_checked_fixture(tc, solo_setup, conn_teardown);
	tcase_add_test(tc, test_redis_roundtrip);
	tcase_add_test(tc, test_redis_ranges);
	tcase_add_test(tc, test_redis_big);
	tcase_add_test(tc, test_redis_missing);
	tcase_add_test(tc, test_redis_replace);
	tcase_add_loop_test(tc, test_redis_bad_keys, 0, NBAD_KEYS);
	tcase_add_test(tc, test_redis_put_abort);
	tcase_add_test(tc, test_redis_leftovers);
	tcase_add_test(tc, test_redis_expiry);
	tcase_add_test(tc, test_redis_prefixes);
	tcase_add_test(tc, test_redis_list_walks);
	tcase_add_test(tc, test_redis_untrusted);
	tcase_add_test(tc, test_redis_threads);
#if FAILMALLOC
	tcase_add_test(tc, test_redis_nomem);
#endif
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, own_setup, own_teardown);
	tcase_add_test(tc, test_redis_password);
	tcase_add_test(tc, test_redis_server_stops);
	tcase_add_test(tc, test_redis_full);
	tcase_add_test(tc, test_redis_not_a_cluster);
	tcase_add_test(tc, test_redis_open_while_down);
	tcase_add_test(tc, test_redis_threads_first_use);
	suite_add_tcase(s, tc);
	if (!cluster)
		return s;

	tc = tcase_create("cluster");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, cluster_start, cluster_stop);
	tcase_add_checked_fixture(tc, cluster_setup, conn_teardown);
	tcase_add_test(tc, test_redis_cluster_roundtrip);
	tcase_add_test(tc, test_redis_cluster_seeds);
	tcase_add_test(tc, test_redis_cluster_redirects);
	tcase_add_test(tc, test_redis_cluster_first_use);
	tcase_add_test(tc, test_redis_cluster_master_down);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	bool servers = have_program("redis-server");
	bool cluster = servers && have_program("redis-cli");
	SRunner *sr;
	int failed;

	if (!servers)
		fprintf(stderr, "check_conn_redis: redis-server is not "
			"installed; only the tests without a server run\n");
	else if (!cluster)
		fprintf(stderr, "check_conn_redis: redis-cli is not "
			"installed; cluster tests skipped\n");
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	snprintf(base, sizeof(base), "%s/check_conn_redis-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(base)) {
		perror("check_conn_redis: mkdtemp");
		return EXIT_FAILURE;
	}
	sr = srunner_create(conn_redis_suite(servers, cluster));
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
