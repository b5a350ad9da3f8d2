/* SPDX-License-Identifier: MIT */
/*
 * fuzzlib_redis.c - a fake Redis server in the fuzzer's own process (see
 * fuzzlib.h), so that the Redis connector's hand-written reply parsing
 * is fuzzed through its public entry points, over real sockets and
 * hiredis, with nothing leaving the machine.
 *
 * One thread accepts connections on 127.0.0.1 and answers each command,
 * whichever connection sends it, with the next reply of the script the
 * fuzz input gave.  Replies are always well-formed RESP (the script is
 * text that this file serializes), because hiredis's own parser is not
 * what we fuzz: what the connector does with a well-formed reply it did
 * not expect is.  When the script runs out the asking connection is
 * closed, so a client never waits for an answer that will not come.
 *
 * getaddrinfo() and freeaddrinfo() are replaced for the whole process:
 * every name resolves to the server, so any host a URL or a cluster
 * topology names is reached, and nothing is ever looked up.  A fuzzer
 * gets them only if it links this file (it is in libfuzzlib.a).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis.h>

#include "fuzzlib.h"

#define MAX_CONNS	64
#define MAX_DEPTH	6	/* hiredis 0.14 nests replies 7 deep */
#define MAX_ELEMS	64
#define IN_MAX		(8u << 20)	/* a command we are sent */

struct out {
	char *p;
	size_t len, cap;
};

struct reply {
	char *data;		/* RESP bytes; NULL: close instead */
	size_t len;
};

struct conn {
	int fd;			/* -1: slot free */
	unsigned gen;		/* script it was accepted under */
	char *in;		/* bytes received, not yet a command */
	size_t len, cap;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct reply *script;	/* protected by lock */
static size_t nscript, next;	/* protected by lock */
static unsigned gen;		/* protected by lock */
static bool automatic;		/* protected by lock */
/* recording (protected by lock): a real server, its replies, the script */
static int upstream = -1;
static redisReader *reader;
static struct out *recorded;
static int port;		/* set once before the thread starts */
static bool trace;		/* $PXFS_FUZZ_TRACE: log every command */
static int lfd = -1;
static struct conn conns[MAX_CONNS];	/* the server thread's own */

/* ---- getaddrinfo: every name is the server --------------------------- */

struct fake_ai {
	struct addrinfo ai;
	struct sockaddr_in sin;
};

int getaddrinfo(const char *node, const char *service,
		const struct addrinfo *hints, struct addrinfo **res)
{
	struct fake_ai *f;

	(void)node;
	(void)service;
	*res = NULL;
	if (port == 0)
		return EAI_NONAME;
	if (hints && hints->ai_family != AF_UNSPEC &&
	    hints->ai_family != AF_INET)
		return EAI_FAMILY;
	f = calloc(1, sizeof(*f));
	if (!f)
		return EAI_MEMORY;
	f->sin.sin_family = AF_INET;
	f->sin.sin_port = htons((uint16_t)port);
	f->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->ai.ai_family = AF_INET;
	f->ai.ai_socktype = SOCK_STREAM;
	f->ai.ai_protocol = IPPROTO_TCP;
	f->ai.ai_addrlen = sizeof(f->sin);
	f->ai.ai_addr = (struct sockaddr *)&f->sin;
	*res = &f->ai;
	return 0;
}

void freeaddrinfo(struct addrinfo *res)
{
	/* ai is the first member: the pointer getaddrinfo() allocated */
	free(res);
}

/* ---- script text to RESP --------------------------------------------- */

static void out_add(struct out *o, const void *p, size_t len)
{
	if (o->len + len > o->cap) {
		size_t cap = o->cap ? o->cap : 256;

		while (cap < o->len + len)
			cap *= 2;
		o->p = realloc(o->p, cap);
		if (!o->p)
			fz_die("out of memory");
		o->cap = cap;
	}
	memcpy(o->p + o->len, p, len);
	o->len += len;
}

static void out_fmt(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void out_fmt(struct out *o, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	out_add(o, buf, (size_t)n);
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

/* Decode the escapes of @s (@n bytes) in place; returns the new length. */
static size_t unescape(char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\\' && i + 1 < n) {
			char e = s[++i];

			if (e == 'n')
				c = '\n';
			else if (e == 'r')
				c = '\r';
			else if (e == 't')
				c = '\t';
			else if (e == '0')
				c = '\0';
			else if (e == 'x' && i + 2 < n &&
				 unhex(s[i + 1]) >= 0 && unhex(s[i + 2]) >= 0) {
				c = (char)(unhex(s[i + 1]) << 4 |
					   unhex(s[i + 2]));
				i += 2;
			} else
				c = e;
		}
		s[o++] = c;
	}
	return o;
}

struct lines {
	char *text;		/* a private copy of the script */
	size_t len, pos;
};

/* The next line (without its '\n'), or NULL at the end. */
static char *next_line(struct lines *l, size_t *n)
{
	char *s, *nl;

	if (l->pos >= l->len)
		return NULL;
	s = l->text + l->pos;
	nl = memchr(s, '\n', l->len - l->pos);
	*n = nl ? (size_t)(nl - s) : l->len - l->pos;
	l->pos += *n + 1;
	return s;
}

/* Serialize the reply starting at the next line into @o; false at the
 * end of the script or for a close marker (at the top). */
static bool one_reply(struct lines *l, struct out *o, int depth,
		      bool *close_it)
{
	size_t n;
	char *s;

	for (;;) {
		s = next_line(l, &n);
		if (!s)
			return false;
		if (n > 0 && strchr("+-:$_*!", s[0]))
			break;
	}
	switch (s[0]) {
	case '+':
	case '-':
		/* a status or error is one line: no CR or LF inside */
		out_add(o, s, 1);
		for (size_t i = 1; i < n; i++)
			if (s[i] != '\r')
				out_add(o, &s[i], 1);
		out_add(o, "\r\n", 2);
		return true;
	case ':': {
		char num[32];
		size_t k = n - 1 < sizeof(num) - 1 ? n - 1 : sizeof(num) - 1;

		memcpy(num, s + 1, k);
		num[k] = '\0';
		out_fmt(o, ":%lld\r\n", strtoll(num, NULL, 10));
		return true;
	}
	case '$':
		n = unescape(s + 1, n - 1);
		out_fmt(o, "$%zu\r\n", n);
		out_add(o, s + 1, n);
		out_add(o, "\r\n", 2);
		return true;
	case '_':
		out_add(o, "$-1\r\n", 5);
		return true;
	case '*': {
		long k = strtol(s + 1, NULL, 10);

		if (k < 0 || depth >= MAX_DEPTH)
			k = 0;
		if (k > MAX_ELEMS)
			k = MAX_ELEMS;
		out_fmt(o, "*%ld\r\n", k);
		for (long i = 0; i < k; i++) {
			bool cl = false;

			/* missing elements become nil */
			if (!one_reply(l, o, depth + 1, &cl))
				out_add(o, "$-1\r\n", 5);
		}
		return true;
	}
	default:	/* '!': inside an array, a nil */
		if (depth > 0)
			out_add(o, "$-1\r\n", 5);
		else
			*close_it = true;
		return true;
	}
}

/* The caller holds lock. */
static void stop_recording(void)
{
	if (upstream >= 0)
		close(upstream);
	upstream = -1;
}

size_t fz_redis_script(const char *text, size_t len)
{
	struct lines l = { NULL, len, 0 };
	struct reply *s = NULL;
	size_t n = 0, cap = 0;

	l.text = malloc(len + 1);
	if (!l.text)
		fz_die("out of memory");
	memcpy(l.text, text, len);
	for (;;) {
		struct out o = { NULL, 0, 0 };
		bool close_it = false;

		if (!one_reply(&l, &o, 0, &close_it))
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			s = realloc(s, cap * sizeof(*s));
			if (!s)
				fz_die("out of memory");
		}
		if (close_it) {
			free(o.p);
			o.p = NULL;
			o.len = 0;
		}
		s[n].data = o.p;
		s[n].len = o.len;
		n++;
	}
	free(l.text);

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nscript; i++)
		free(script[i].data);
	free(script);
	script = s;
	nscript = n;
	next = 0;
	gen++;
	automatic = false;
	stop_recording();
	pthread_mutex_unlock(&lock);
	return n;
}

void fz_redis_auto(void)
{
	pthread_mutex_lock(&lock);
	automatic = true;
	stop_recording();
	gen++;
	pthread_mutex_unlock(&lock);
}

/* ---- recording a real server's replies as a script ------------------- */

static bool write_all_fd(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void to_resp(const redisReply *r, struct out *o)
{
	switch (r->type) {
	case REDIS_REPLY_STATUS:
	case REDIS_REPLY_ERROR:
		out_add(o, r->type == REDIS_REPLY_STATUS ? "+" : "-", 1);
		out_add(o, r->str, r->len);
		out_add(o, "\r\n", 2);
		break;
	case REDIS_REPLY_INTEGER:
		out_fmt(o, ":%lld\r\n", r->integer);
		break;
	case REDIS_REPLY_STRING:
		out_fmt(o, "$%zu\r\n", r->len);
		out_add(o, r->str, r->len);
		out_add(o, "\r\n", 2);
		break;
	case REDIS_REPLY_ARRAY:
		out_fmt(o, "*%zu\r\n", r->elements);
		for (size_t i = 0; i < r->elements; i++)
			to_resp(r->element[i], o);
		break;
	default:
		out_add(o, "$-1\r\n", 5);
		break;
	}
}

static void to_script(const redisReply *r, struct out *o)
{
	switch (r->type) {
	case REDIS_REPLY_STATUS:
	case REDIS_REPLY_ERROR:
		out_add(o, r->type == REDIS_REPLY_STATUS ? "+" : "-", 1);
		out_add(o, r->str, r->len);
		break;
	case REDIS_REPLY_INTEGER:
		out_fmt(o, ":%lld", r->integer);
		break;
	case REDIS_REPLY_STRING:
		out_add(o, "$", 1);
		for (size_t i = 0; i < r->len; i++) {
			unsigned char c = (unsigned char)r->str[i];

			if (c == '\\')
				out_add(o, "\\\\", 2);
			else if (c == '\n')
				out_add(o, "\\n", 2);
			else if (c == '\r')
				out_add(o, "\\r", 2);
			else if (c == '\0')
				out_add(o, "\\0", 2);
			else if (c < 0x20 || c >= 0x7f)
				out_fmt(o, "\\x%02x", c);
			else
				out_add(o, &r->str[i], 1);
		}
		break;
	case REDIS_REPLY_ARRAY:
		out_fmt(o, "*%zu\n", r->elements);
		for (size_t i = 0; i < r->elements; i++)
			to_script(r->element[i], o);
		return;
	default:
		out_add(o, "_", 1);
		break;
	}
	out_add(o, "\n", 1);
}

void fz_redis_record(int upstream_port)
{
	struct sockaddr_in sin = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)upstream_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		fz_die("cannot reach redis on port %d", upstream_port);
	pthread_mutex_lock(&lock);
	if (upstream >= 0)
		close(upstream);
	upstream = fd;
	if (reader)
		redisReaderFree(reader);
	reader = redisReaderCreate();
	if (!recorded)
		recorded = calloc(1, sizeof(*recorded));
	if (!reader || !recorded)
		fz_die("out of memory");
	recorded->len = 0;
	automatic = false;
	gen++;
	pthread_mutex_unlock(&lock);
}

char *fz_redis_recorded(size_t *len)
{
	char *p;

	pthread_mutex_lock(&lock);
	p = malloc(recorded->len + 1);
	if (!p)
		fz_die("out of memory");
	memcpy(p, recorded->p, recorded->len);
	p[recorded->len] = '\0';
	*len = recorded->len;
	recorded->len = 0;
	pthread_mutex_unlock(&lock);
	return p;
}

/* Send command @cmd (@len bytes) upstream and answer with its reply,
 * noting it in the recorded script.  The caller holds lock. */
static void forward(const char *cmd, size_t len, struct out *o)
{
	void *rep = NULL;
	char buf[65536];

	if (!write_all_fd(upstream, cmd, len))
		fz_die("redis went away while recording");
	while (redisReaderGetReply(reader, &rep) == REDIS_OK && !rep) {
		ssize_t n = recv(upstream, buf, sizeof(buf), 0);

		if (n <= 0)
			fz_die("redis went away while recording");
		redisReaderFeed(reader, buf, (size_t)n);
	}
	if (!rep)
		fz_die("redis sent what hiredis cannot read");
	to_resp(rep, o);
	to_script(rep, recorded);
	freeReplyObject(rep);
}

/* ---- the server ------------------------------------------------------- */

/*
 * One command at the start of @c->in: 1 with its size in *used and its
 * first two arguments (lowercase, truncated) in @a0/@a1, 0 when more
 * bytes are needed, -1 when it is not RESP (hiredis always sends an
 * array of bulk strings).
 */
static int parse_command(const struct conn *c, size_t *used, char *a0,
			 char *a1, size_t cap)
{
	const char *p = c->in, *end = c->in + c->len, *nl;
	long argc, i;

	a0[0] = a1[0] = '\0';
	nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return c->len > 32 ? -1 : 0;
	if (p[0] != '*')
		return -1;
	argc = strtol(p + 1, NULL, 10);
	if (argc < 1 || argc > 1 << 20)
		return -1;
	p = nl + 1;
	for (i = 0; i < argc; i++) {
		long n;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return 0;
		if (p[0] != '$')
			return -1;
		n = strtol(p + 1, NULL, 10);
		if (n < 0 || (size_t)n > IN_MAX)
			return -1;
		p = nl + 1;
		if ((size_t)(end - p) < (size_t)n + 2)
			return 0;
		if (i < 2) {
			char *a = i == 0 ? a0 : a1;
			size_t k = (size_t)n < cap - 1 ? (size_t)n : cap - 1;

			for (size_t j = 0; j < k; j++)
				a[j] = (char)((p[j] >= 'A' && p[j] <= 'Z') ?
					      p[j] - 'A' + 'a' : p[j]);
			a[k] = '\0';
		}
		p += n + 2;
	}
	*used = (size_t)(p - c->in);
	return 1;
}

/* What fz_redis_auto() answers. */
static void auto_reply(const char *a0, const char *a1, struct out *o)
{
	if (!strcmp(a0, "ping"))
		out_add(o, "+PONG\r\n", 7);
	else if (!strcmp(a0, "cluster") && !strcmp(a1, "slots"))
		out_fmt(o, "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n"
			"$9\r\n127.0.0.1\r\n:%d\r\n", port);
	else
		out_add(o, "+OK\r\n", 5);
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

/* Answer every whole command @c has sent; false once @c is closed. */
static bool serve(struct conn *c)
{
	char a0[32], a1[32];
	size_t used;
	int r;

	while ((r = parse_command(c, &used, a0, a1, sizeof(a0))) == 1) {
		struct out o = { NULL, 0, 0 };
		bool ok;

		pthread_mutex_lock(&lock);
		if (c->gen != gen) {
			ok = false;	/* a previous input's connection */
		} else if (upstream >= 0) {
			forward(c->in, used, &o);
			ok = true;
		} else if (automatic) {
			auto_reply(a0, a1, &o);
			ok = true;
		} else if (next < nscript && script[next].data) {
			out_add(&o, script[next].data, script[next].len);
			next++;
			ok = true;
		} else {
			if (next < nscript)
				next++;	/* a close marker */
			ok = false;
		}
		pthread_mutex_unlock(&lock);
		if (trace)
			fprintf(stderr, "fake redis: %s %s -> %.*s\n", a0, a1,
				ok ? (int)(o.len < 100 ? o.len : 100) : 5,
				ok ? o.p : "close");
		memmove(c->in, c->in + used, c->len - used);
		c->len -= used;
		if (ok)
			ok = write_all_fd(c->fd, o.p, o.len);
		free(o.p);
		if (!ok) {
			conn_close(c);
			return false;
		}
	}
	if (r < 0) {
		conn_close(c);
		return false;
	}
	return true;
}

static void serve_read(struct conn *c)
{
	ssize_t n;

	if (c->cap - c->len < 65536) {
		size_t cap = c->cap ? c->cap * 2 : 65536;

		if (cap > IN_MAX + 65536) {
			conn_close(c);
			return;
		}
		c->in = realloc(c->in, cap);
		if (!c->in)
			fz_die("out of memory");
		c->cap = cap;
	}
	n = recv(c->fd, c->in + c->len, c->cap - c->len, 0);
	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	serve(c);
}

static void *server(void *arg)
{
	struct pollfd pfd[MAX_CONNS + 1];
	int idx[MAX_CONNS + 1];

	(void)arg;
	for (;;) {
		int n = 0;

		pfd[n].fd = lfd;
		pfd[n].events = POLLIN;
		idx[n++] = -1;
		for (int i = 0; i < MAX_CONNS; i++) {
			if (conns[i].fd < 0)
				continue;
			pfd[n].fd = conns[i].fd;
			pfd[n].events = POLLIN;
			idx[n++] = i;
		}
		if (poll(pfd, (nfds_t)n, -1) < 0)
			continue;
		for (int k = 1; k < n; k++)
			if (pfd[k].revents)
				serve_read(&conns[idx[k]]);
		if (pfd[0].revents & POLLIN) {
			int fd = accept(lfd, NULL, NULL);
			int slot = -1;

			if (fd < 0)
				continue;
			for (int i = 0; i < MAX_CONNS && slot < 0; i++)
				if (conns[i].fd < 0)
					slot = i;
			if (slot < 0) {
				close(fd);	/* the client sees EOF */
				continue;
			}
			/* as Redis does: no Nagle delay between replies */
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
				   sizeof(int));
			conns[slot].fd = fd;
			conns[slot].len = 0;
			pthread_mutex_lock(&lock);
			conns[slot].gen = gen;
			pthread_mutex_unlock(&lock);
		}
	}
	return NULL;
}

int fz_redis_start(void)
{
	struct sockaddr_in sin = { 0 };
	socklen_t sl = sizeof(sin);
	pthread_t t;

	if (port)
		return port;
	trace = getenv("PXFS_FUZZ_TRACE") != NULL;
	for (int i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 64) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl) < 0)
		fz_die("cannot start the fake redis: %s", strerror(errno));
	port = ntohs(sin.sin_port);
	if (pthread_create(&t, NULL, server, NULL) != 0)
		fz_die("cannot start the fake redis thread");
	pthread_detach(t);
	return port;
}
