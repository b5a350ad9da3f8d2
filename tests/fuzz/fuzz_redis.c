/* SPDX-License-Identifier: MIT */
/*
 * fuzz_redis.c - Redis replies as the Redis connector (store/
 * conn_redis.c) parses them by hand: blob headers ("pxfs1 i SIZE",
 * "pxfs1 s SIZE SEG ID"), data records ("p|c TIME NSEG BYTES [KEY]"),
 * SCAN pages, CLUSTER SLOTS topologies, MOVED/ASK/TRYAGAIN redirections,
 * MULTI/EXEC results, tags, and the replies to every write.
 *
 * The parsers are static, so they are reached through the connector's
 * public entry points: store_conn_redis_open() and the vtable, talking
 * over a real socket to the fake server of fuzzlib_redis.c, which
 * answers each command with the next reply of the input's script.
 *
 * Input: a first line of option and operation letters, then the script
 * (see fuzzlib.h).  Options: c cluster (redis+cluster://), a password,
 * d database 3.  Operations, in order (at most 8): s/S stat the inline/
 * segmented blob, g/G read from them, l list, L leftovers, R leftovers
 * with removal, e/E evict, p/P put an inline/segmented blob, x put and
 * abort, t/T tag get/set.  Keys handed to callbacks must be keys.
 *
 * Seeds are recorded from a real redis-server (make fuzz-seeds starts
 * one) running the same operations, so that every header, record and
 * SCAN page in them is what Redis really holds; cluster and redirection
 * seeds are those with a topology or a redirection put in front.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "store_int.h"

#include "fuzzlib.h"

#define PREFIX		"fz:"
#define K16(c)		c c c c c c c c c c c c c c c c
#define KEY_INLINE	K16("1111")	/* 64 hex digits */
#define KEY_SEG		K16("2222")
#define KEY_PUT		K16("3333")
#define SEGMENT		"1024"	/* PXFS_REDIS_SEGMENT_SIZE */
#define INLINE_LEN	500
#define SEG_LEN		5000
#define MAX_OPS		8

static char text[SEG_LEN];	/* content of the blobs we put */

static int list_one(void *arg, const char *key, uint64_t size)
{
	(void)size;
	if (!key || !store_is_key(key))
		fz_die("list() handed over '%.80s', not a key",
		       key ? key : "(null)");
	return ++*(unsigned *)arg >= 100;
}

static void left_one(void *arg, const char *what, uint64_t size)
{
	(void)arg;
	(void)size;
	if (!what || !*what)
		fz_die("leftovers() handed over an empty name");
}

static void put(struct store_conn *c, size_t len, const char *key,
		bool commit)
{
	struct store_conn_put *p;

	if (c->ops->put_begin(c, &p) != STORE_OK)
		return;
	for (size_t off = 0; off < len; off += 1500) {
		size_t n = len - off < 1500 ? len - off : 1500;

		if (c->ops->put_write(p, text + off, n) != STORE_OK)
			break;
	}
	if (commit)
		c->ops->put_commit(p, key);
	else
		c->ops->put_abort(p);
}

static void run_op(struct store_conn *c, char op)
{
	char key[STORE_KEY_HEX + 1];
	uint8_t small[16], *big;
	uint64_t size;
	unsigned n = 0;

	switch (op) {
	case 's':
	case 'S':
		c->ops->stat(c, op == 's' ? KEY_INLINE : KEY_SEG, &size);
		break;
	case 'g':
		c->ops->get(c, KEY_INLINE, 0, sizeof(small), small);
		break;
	case 'G':
		/* exactly the bytes asked for: ASan sees a write past them */
		big = malloc(3000);
		if (!big)
			fz_die("out of memory");
		c->ops->get(c, KEY_SEG, 100, 3000, big);
		free(big);
		break;
	case 'l':
		c->ops->list(c, list_one, &n);
		break;
	case 'L':
	case 'R':
		c->ops->leftovers(c, op == 'R', op == 'R' ? 0 : 3600, left_one,
				  NULL);
		break;
	case 'e':
	case 'E':
		c->ops->evict(c, op == 'e' ? KEY_INLINE : KEY_SEG);
		break;
	case 'p':
		put(c, INLINE_LEN, KEY_PUT, true);
		break;
	case 'P':
		put(c, SEG_LEN, KEY_PUT, true);
		break;
	case 'x':
		put(c, SEG_LEN, KEY_PUT, false);
		break;
	case 't':
		if (c->ops->tag_get(c, "latest", key) == STORE_OK &&
		    !store_is_key(key))
			fz_die("tag_get() gave '%.80s', not a key", key);
		break;
	case 'T':
		c->ops->tag_set(c, "latest", KEY_INLINE);
		break;
	default:
		break;
	}
}

/* Open the connector as option letters @opts say, run the operation
 * letters, close it. */
static void session(const char *opts, size_t len)
{
	struct store_redis_opts o = { 0 };
	struct store_conn *c;
	bool cluster = memchr(opts, 'c', len) != NULL;
	bool db = memchr(opts, 'd', len) != NULL;
	int ops = 0;

	o.url = cluster ? "redis+cluster://n1:7001,n2:7002" :
		db ? "redis://fz:6379/3" : "redis://fz:6379";
	o.prefix = PREFIX;
	o.password = memchr(opts, 'a', len) ? "secret" : NULL;
	o.connect_timeout_ms = 1000;
	o.command_timeout_ms = fz_seeding() ? 2000 : 100;
	o.pool_size = 2;
	if (store_conn_redis_open(&o, &c) != STORE_OK)
		return;
	/* opening does not connect: the scripts start with the answer
	 * to check()'s PING (or CLUSTER SLOTS) */
	if (c->ops->check(c) != STORE_OK) {
		c->ops->close(c);
		return;
	}
	for (size_t i = 0; i < len && ops < MAX_OPS; i++) {
		if (strchr("sSgGlLReEpPxtT", opts[i])) {
			run_op(c, opts[i]);
			ops++;
		}
	}
	c->ops->close(c);
}

/* ---- seeds, recorded from a real redis-server ------------------------- */

static pid_t redis_pid;

static void stop_redis(void)
{
	if (redis_pid > 0) {
		kill(redis_pid, SIGTERM);
		waitpid(redis_pid, NULL, 0);
	}
}

static int free_port(void)
{
	struct sockaddr_in sin = { 0 };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) < 0)
		fz_die("cannot find a free port");
	p = ntohs(sin.sin_port);
	close(fd);
	return p;
}

/* Send raw RESP @cmd to the real server and wait for any reply. */
static void raw(int rport, const char *cmd)
{
	struct sockaddr_in sin = { 0 };
	char buf[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)rport);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) ||
	    read(fd, buf, sizeof(buf)) <= 0)
		fz_die("redis-server does not answer");
	close(fd);
}

static int start_redis(void)
{
	struct timespec ts = { 0, 50000000 };
	char port[16];
	int rport = free_port();

	snprintf(port, sizeof(port), "%d", rport);
	redis_pid = fork();
	if (redis_pid < 0)
		fz_die("fork: %s", strerror(errno));
	if (redis_pid == 0) {
		int nul = open("/dev/null", O_WRONLY);

		dup2(nul, 1);
		dup2(nul, 2);
		execlp("redis-server", "redis-server", "--port", port,
		       "--bind", "127.0.0.1", "--save", "", "--appendonly",
		       "no", (char *)NULL);
		_exit(127);
	}
	atexit(stop_redis);
	for (int i = 0; i < 100; i++) {
		struct sockaddr_in sin = { 0 };
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int ok;

		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)rport);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		close(fd);
		if (ok)
			return rport;
		nanosleep(&ts, NULL);
	}
	fz_die("redis-server did not start (is it installed?)");
}

/* The state every recorded scenario starts from: an inline and a
 * segmented blob, a tag, and (for leftovers) a put left half done. */
static void setup(int rport, bool pending)
{
	struct store_redis_opts o = { 0 };
	struct store_conn *c;
	struct store_conn_put *p;

	raw(rport, "*1\r\n$8\r\nFLUSHALL\r\n");
	fz_redis_record(rport);
	o.url = "redis://fz:6379";
	o.prefix = PREFIX;
	if (store_conn_redis_open(&o, &c) != STORE_OK)
		fz_die("cannot open the recording connector: %s",
		       store_last_error());
	put(c, INLINE_LEN, KEY_INLINE, true);
	put(c, SEG_LEN, KEY_SEG, true);
	c->ops->tag_set(c, "latest", KEY_INLINE);
	if (pending && c->ops->put_begin(c, &p) == STORE_OK) {
		/* two segments and a record "p ..." that nobody commits */
		c->ops->put_write(p, text, 2500);
		/* dropped without a word: what a writer that died leaves */
		free(p);
	}
	c->ops->close(c);
	free(fz_redis_recorded(&(size_t){ 0 }));
}

static void seed(const char *name, const char *opts, const char *head,
		 const char *script)
{
	size_t n = strlen(opts) + 1 + strlen(head) + strlen(script);
	char *s = malloc(n + 1);

	if (!s)
		fz_die("out of memory");
	snprintf(s, n + 1, "%s\n%s%s", opts, head, script);
	fz_seed(name, s, n);
	free(s);
}

static void make_seeds(void)
{
	static const char *const scenarios[] = {
		"s", "S", "g", "G", "sgSG", "l", "L", "R", "e", "E",
		"p", "P", "x", "t", "T", "as", "dS", "lR",
	};
	static const char topo[] =
		"*1\n*3\n:0\n:16383\n*2\n$127.0.0.1\n:7001\n";
	char name[64], head[256];
	int rport = start_redis();

	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]);
	     i++) {
		const char *ops = scenarios[i];
		size_t len;
		char *script, *rest;

		setup(rport, strchr(ops, 'L') || strchr(ops, 'R'));
		fz_redis_record(rport);
		session(ops, strlen(ops));
		script = fz_redis_recorded(&len);
		snprintf(name, sizeof(name), "ops-%s", ops);
		seed(name, ops, "", script);
		if (ops[0] == 'a' || ops[0] == 'd') {
			free(script);
			continue;
		}
		/* the same in a cluster: the topology instead of PONG */
		rest = strchr(script, '\n');
		rest = rest ? rest + 1 : script + len;
		snprintf(name, sizeof(name), "cluster-%s", ops);
		snprintf(head, sizeof(head), "c%s", ops);
		seed(name, head, topo, rest);
		if (strchr("sSgG", ops[0]) && !ops[1]) {
			snprintf(name, sizeof(name), "moved-%s", ops);
			seed(name, head, "*1\n*3\n:0\n:16383\n*2\n$127.0.0.1\n"
			     ":7001\n-MOVED 866 127.0.0.1:7002\n", rest);
			snprintf(name, sizeof(name), "ask-%s", ops);
			seed(name, head, "*1\n*3\n:0\n:16383\n*2\n$127.0.0.1\n"
			     ":7001\n-ASK 866 :7003\n+OK\n", rest);
			snprintf(name, sizeof(name), "tryagain-%s", ops);
			seed(name, head, "*1\n*3\n:0\n:16383\n*2\n$127.0.0.1\n"
			     ":7001\n-TRYAGAIN Multiple keys request\n", rest);
		}
		free(script);
	}
	/* a topology over three masters, one announced without a host */
	seed("cluster-three", "cs",
	     "*3\n*3\n:0\n:5460\n*3\n$127.0.0.1\n:7001\n$id1\n"
	     "*3\n:5461\n:10922\n*2\n$?\n:7002\n*4\n:10923\n:16383\n*2\n$\n"
	     ":7003\n*2\n$10.0.0.9\n:7004\n",
	     "$pxfs1 i 500" "                                                 "
	     "                                  \\n\n");
	stop_redis();
	redis_pid = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet();
	signal(SIGPIPE, SIG_IGN);
	setenv("PXFS_REDIS_SEGMENT_SIZE", SEGMENT, 1);
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = "pxfs redis fuzz "[i % 16];
	fz_redis_start();
	if (fz_seeding()) {
		make_seeds();
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *nl = memchr(p, '\n', size);
	size_t olen = nl ? (size_t)(nl - p) : size;

	if (olen > 64)
		return -1;
	fz_redis_script(nl ? nl + 1 : p + size, nl ? size - olen - 1 : 0);
	session(p, olen);
	return 0;
}
