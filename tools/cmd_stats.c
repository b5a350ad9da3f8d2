/* SPDX-License-Identifier: MIT */
/*
 * cmd_stats.c - "pxfs stats [--json] STORE|MNT": counts and metrics.
 *
 * For a store: the namespace and object totals from the index, and the
 * handle's metrics.  For a mounted pxfs directory (its root answers the
 * xattr user.pxfs.stats): the mount's JSON document, printed as indented
 * "key: value" lines, or as is with --json.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

#define STATS_XATTR	"user.pxfs.stats"
#define STATS_MAX	(1u << 20)	/* a sane bound on the document */

enum { OPT_JSON = 256, OPT_PROMETHEUS };

static const struct option opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
	{ NULL, 0, NULL, 0 },
};

/* ---- the mount's document ------------------------------------------------ */

/*
 * A JSON reader just strong enough to reprint a document: it checks the
 * syntax as it goes, writes nothing until the whole document parsed (the
 * output goes to a memory stream), and gives up on anything odd so that
 * the caller can print the raw text instead.
 */
struct jp {
	const char *s;		/* next character */
	FILE *out;
	int depth;
};

static void skip_ws(struct jp *j)
{
	while (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' ||
	       *j->s == '\r')
		j->s++;
}

/* Copy a string token, without quotes and with simple escapes undone. */
static int put_string(struct jp *j)
{
	if (*j->s != '"')
		return -1;
	j->s++;
	while (*j->s && *j->s != '"') {
		if (*j->s == '\\') {
			j->s++;
			switch (*j->s) {
			case 'n': putc(' ', j->out); break;
			case 't': putc(' ', j->out); break;
			case 'u':
				/* Keep \uXXXX as written: display only. */
				fputs("\\u", j->out);
				break;
			case '\0': return -1;
			default: putc(*j->s, j->out); break;
			}
			j->s++;
			continue;
		}
		putc(*j->s, j->out);
		j->s++;
	}
	if (*j->s != '"')
		return -1;
	j->s++;
	return 0;
}

static int put_value(struct jp *j);

static void indent(struct jp *j)
{
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->out);
}

/* Copy a number, true, false or null; -1 if there is none. */
static int put_scalar(struct jp *j)
{
	const char *start = j->s;

	if (*j->s == '"')
		return put_string(j);
	while (*j->s && strchr("0123456789+-.eEtruefalsn", *j->s))
		j->s++;
	if (j->s == start)
		return -1;
	fprintf(j->out, "%.*s", (int)(j->s - start), start);
	return 0;
}

/*
 * Is the object at @s small and flat (at most 4 members, no object or
 * array inside)?  Such an object, a latency record for instance, reads
 * best on one line.
 */
static bool is_flat(const char *s)
{
	int members = 1;

	for (s++; *s && *s != '}'; s++) {
		if (*s == '{' || *s == '[')
			return false;
		if (*s == ',')
			members++;
		if (*s == '"') {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
			}
			if (!*s)
				return false;
		}
	}
	return *s == '}' && members <= 4;
}

/* Does the member named by the raw token at @key count bytes? */
static bool is_bytes_key(const char *key)
{
	const char *end = strchr(key + 1, '"');
	size_t n = end ? (size_t)(end - key - 1) : 0;

	return (n >= 5 && strncmp(end - 5, "bytes", 5) == 0) ||
	       (n == 6 && strncmp(key + 1, "budget", 6) == 0);
}

/* "name: a=1 b=2" for a flat object; j->s is at its '{'. */
static int put_flat(struct jp *j)
{
	j->s++;
	for (;;) {
		skip_ws(j);
		putc(' ', j->out);
		if (put_string(j) < 0)
			return -1;
		skip_ws(j);
		if (*j->s != ':')
			return -1;
		j->s++;
		putc('=', j->out);
		skip_ws(j);
		if (put_scalar(j) < 0)
			return -1;
		skip_ws(j);
		if (*j->s == ',') {
			j->s++;
			continue;
		}
		if (*j->s != '}')
			return -1;
		j->s++;
		putc('\n', j->out);
		return 0;
	}
}

static int put_object(struct jp *j)
{
	if (j->depth >= 2 && is_flat(j->s))
		return put_flat(j);
	j->s++;		/* '{' */
	skip_ws(j);
	if (*j->s == '}') {
		j->s++;
		fputs(" {}\n", j->out);
		return 0;
	}
	if (j->depth > 0)
		putc('\n', j->out);
	for (;;) {
		const char *key;

		skip_ws(j);
		indent(j);
		key = j->s;
		if (put_string(j) < 0)
			return -1;
		skip_ws(j);
		if (*j->s != ':')
			return -1;
		j->s++;
		putc(':', j->out);
		skip_ws(j);
		j->depth++;
		if (j->depth > 32)
			return -1;
		if (is_bytes_key(key) && *j->s >= '0' && *j->s <= '9') {
			char *end;
			unsigned long long v = strtoull(j->s, &end, 10);
			char h[32];

			j->s = end;
			fprintf(j->out, " %llu (%s)\n", v,
				human_size(v, h, sizeof(h)));
		} else if (put_value(j) < 0) {
			return -1;
		}
		j->depth--;
		skip_ws(j);
		if (*j->s == ',') {
			j->s++;
			continue;
		}
		if (*j->s != '}')
			return -1;
		j->s++;
		return 0;
	}
}

static int put_array(struct jp *j)
{
	j->s++;		/* '[' */
	skip_ws(j);
	if (*j->s == ']') {
		j->s++;
		fputs(" []\n", j->out);
		return 0;
	}
	putc('\n', j->out);
	for (;;) {
		skip_ws(j);
		indent(j);
		fputs("-", j->out);
		j->depth++;
		if (j->depth > 32 || put_value(j) < 0)
			return -1;
		j->depth--;
		skip_ws(j);
		if (*j->s == ',') {
			j->s++;
			continue;
		}
		if (*j->s != ']')
			return -1;
		j->s++;
		return 0;
	}
}

static int put_value(struct jp *j)
{
	skip_ws(j);
	if (*j->s == '{')
		return put_object(j);
	if (*j->s == '[')
		return put_array(j);
	putc(' ', j->out);
	if (put_scalar(j) < 0)
		return -1;
	putc('\n', j->out);
	return 0;
}

/* Print @doc readably; -1 (nothing printed) if it does not parse. */
static int print_doc(const char *doc)
{
	struct jp j = { .s = doc };
	char *buf = NULL;
	size_t len = 0;
	int ret;

	j.out = open_memstream(&buf, &len);
	if (!j.out)
		return -1;
	skip_ws(&j);
	ret = *j.s == '{' ? put_object(&j) : -1;
	skip_ws(&j);
	if (ret == 0 && *j.s != '\0')
		ret = -1;
	fclose(j.out);
	if (ret == 0)
		fwrite(buf, 1, len, stdout);
	free(buf);
	return ret;
}

/*
 * The mount's document, if @path is a mounted pxfs root: 1 and *out
 * (caller frees), 0 if it is not one, -1 after printing an error.
 */
static int mount_stats(const char *path, char **out)
{
	ssize_t n, size;
	char *buf;

	*out = NULL;
	size = getxattr(path, STATS_XATTR, NULL, 0);
	if (size < 0)
		return 0;	/* not a pxfs mount: try it as a store */
	for (int tries = 0; tries < 4; tries++) {
		if ((size_t)size > STATS_MAX)
			return errorf("stats", "cannot read statistics of "
				      "'%s': document too large", path), -1;
		buf = malloc((size_t)size + 1024 + 1);
		if (!buf)
			return errorf("stats", "out of memory"), -1;
		n = getxattr(path, STATS_XATTR, buf, (size_t)size + 1024);
		if (n >= 0) {
			buf[n] = '\0';
			*out = buf;
			return 1;
		}
		free(buf);
		if (errno != ERANGE)
			return errorf("stats", "cannot read statistics of "
				      "'%s': %s", path, strerror(errno)), -1;
		/* The document grew between the two calls. */
		size = getxattr(path, STATS_XATTR, NULL, 0);
		if (size < 0)
			break;
	}
	return errorf("stats", "cannot read statistics of '%s': %s", path,
		      strerror(errno)), -1;
}

/* ---- Prometheus text format ---------------------------------------------- */

/*
 * The mount's document as metrics for node_exporter's textfile collector
 * (text exposition format 0.0.4): every number becomes a sample named
 * pxfs_<path>, labelled with the mount, "ops" becomes the summary
 * pxfs_op_duration_seconds{op=...} (_count, _sum) and the gauge
 * pxfs_op_duration_max_seconds, and strings become labels of pxfs_info.
 * Names the daemon may add later still come out, as gauges.  The
 * document is parsed into a small tree first, so that each metric
 * family's samples come out together, as the format wants.
 */
struct jnode {
	char *key;		/* member name, NULL in an array */
	enum { J_NUM, J_STR, J_OBJ, J_OTHER } kind;
	double num;
	char *str;
	struct jnode *kids;	/* first member */
	struct jnode *next;	/* next sibling */
};

static void jnode_free(struct jnode *n)
{
	while (n) {
		struct jnode *next = n->next;

		jnode_free(n->kids);
		free(n->key);
		free(n->str);
		free(n);
		n = next;
	}
}

/* A JSON string at *s (after the quote) into a new C string. */
static char *jstring(const char **s)
{
	const char *p = *s;
	size_t n = 0;
	char *out = malloc(strlen(p) + 1);

	if (!out)
		return NULL;
	while (*p && *p != '"') {
		if (*p == '\\') {
			p++;
			switch (*p) {
			case 'n': out[n++] = '\n'; break;
			case 't': out[n++] = '\t'; break;
			case 'u': out[n++] = '?'; p += 4; break;
			case '\0': free(out); return NULL;
			default: out[n++] = *p; break;
			}
			if (*p)
				p++;
			continue;
		}
		out[n++] = *p++;
	}
	if (*p != '"') {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	*s = p + 1;
	return out;
}

static void jskip(const char **s)
{
	while (**s == ' ' || **s == '\t' || **s == '\n' || **s == '\r')
		(*s)++;
}

/* Parse one value at *s into @n; -1 on a syntax error. */
static int jvalue(const char **s, struct jnode *n, int depth)
{
	struct jnode **tail = &n->kids;
	char *end;

	jskip(s);
	if (depth > 32)
		return -1;
	if (**s == '"') {
		(*s)++;
		n->kind = J_STR;
		n->str = jstring(s);
		return n->str ? 0 : -1;
	}
	if (**s == '{' || **s == '[') {
		char close = **s == '{' ? '}' : ']';

		n->kind = close == '}' ? J_OBJ : J_OTHER;
		(*s)++;
		jskip(s);
		if (**s == close) {
			(*s)++;
			return 0;
		}
		for (;;) {
			struct jnode *k = calloc(1, sizeof(*k));

			if (!k)
				return -1;
			*tail = k;
			tail = &k->next;
			jskip(s);
			if (close == '}') {
				if (**s != '"')
					return -1;
				(*s)++;
				k->key = jstring(s);
				jskip(s);
				if (!k->key || **s != ':')
					return -1;
				(*s)++;
			}
			if (jvalue(s, k, depth + 1) < 0)
				return -1;
			jskip(s);
			if (**s == ',') {
				(*s)++;
				continue;
			}
			if (**s != close)
				return -1;
			(*s)++;
			return 0;
		}
	}
	n->num = strtod(*s, &end);
	if (end != *s) {
		n->kind = J_NUM;
		*s = end;
		return 0;
	}
	if (strncmp(*s, "true", 4) == 0 || strncmp(*s, "null", 4) == 0) {
		n->kind = J_OTHER;
		*s += 4;
		return 0;
	}
	if (strncmp(*s, "false", 5) == 0) {
		n->kind = J_OTHER;
		*s += 5;
		return 0;
	}
	return -1;
}

static struct jnode *jfind(const struct jnode *obj, const char *key)
{
	for (struct jnode *k = obj ? obj->kids : NULL; k; k = k->next) {
		if (k->key && strcmp(k->key, key) == 0)
			return k;
	}
	return NULL;
}

/* @s as a label value: backslash, quote and newline escaped. */
static void prom_label(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			printf("\\n");
		else
			putchar(*s);
	}
}

/* @s as part of a metric name: [a-zA-Z0-9_] only. */
static void prom_name(const char *s)
{
	for (; *s; s++)
		putchar((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') ? *s : '_');
}

/* Counters among the document's numbers (the rest are gauges). */
static const char *const counters[] = {
	"connector_gets", "connector_get_bytes", "connector_errors",
	"connector_corrupt", "connector_puts", "connector_put_bytes",
	"cache_hits", "cache_misses", "cache_waits", "cache_readahead",
	"cache_evictions", "cache_reused", "resolves", "errors",
};

static bool is_counter(const char *name)
{
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		if (strcmp(name, counters[i]) == 0)
			return true;
	}
	return false;
}

static void prom_sample(const char *name, const char *mnt, double v)
{
	bool counter = is_counter(name);
	/* the budget is bytes too; the other byte counts say so already */
	const char *unit = strcmp(name, "cache_budget") == 0 ? "_bytes" : "";

	printf("# TYPE pxfs_");
	prom_name(name);
	printf("%s%s %s\npxfs_", unit, counter ? "_total" : "",
	       counter ? "counter" : "gauge");
	prom_name(name);
	printf("%s%s{mount=\"", unit, counter ? "_total" : "");
	prom_label(mnt);
	printf("\"} %.17g\n", v);
}

/* Every number below @obj, named by the path to it. */
static void prom_walk(const struct jnode *obj, const char *prefix,
		      const char *mnt)
{
	char name[256];

	for (struct jnode *k = obj->kids; k; k = k->next) {
		if (!k->key)
			continue;
		snprintf(name, sizeof(name), "%s%s%s", prefix,
			 prefix[0] ? "_" : "", k->key);
		if (k->kind == J_NUM && strcmp(name, "pid") != 0 &&
		    strcmp(name, "uptime_us") != 0)
			prom_sample(name, mnt, k->num);
		else if (k->kind == J_OBJ && strcmp(name, "ops") != 0)
			prom_walk(k, name, mnt);
	}
}

/* pxfs_info: the document's strings, and the pid, as labels. */
static void prom_info(const struct jnode *root, const char *mnt)
{
	const struct jnode *pid = jfind(root, "pid");
	const struct jnode *cache = jfind(root, "cache");
	const struct jnode *dir = jfind(cache, "dir");

	printf("# HELP pxfs_info The mount's daemon.\n"
	       "# TYPE pxfs_info gauge\npxfs_info{mount=\"");
	prom_label(mnt);
	printf("\"");
	if (pid && pid->kind == J_NUM)
		printf(",pid=\"%.0f\"", pid->num);
	if (dir && dir->kind == J_STR) {
		printf(",cache_dir=\"");
		prom_label(dir->str);
		printf("\"");
	}
	printf("} 1\n");
}

/* ops: {"lookup": {"count", "total_us", "max_us"}, ...} */
static void prom_ops(const struct jnode *ops, const char *mnt)
{
	static const char *const part[] = { "count", "total_us", "max_us" };

	if (!ops || ops->kind != J_OBJ)
		return;
	printf("# HELP pxfs_op_duration_seconds Time the mount spent on "
	       "each FUSE operation.\n"
	       "# TYPE pxfs_op_duration_seconds summary\n");
	for (int i = 0; i < 3; i++) {
		if (i == 2)
			printf("# HELP pxfs_op_duration_max_seconds The "
			       "longest request of each FUSE operation.\n"
			       "# TYPE pxfs_op_duration_max_seconds gauge\n");
		for (struct jnode *op = ops->kids; op; op = op->next) {
			const struct jnode *v = jfind(op, part[i]);

			if (!op->key || !v || v->kind != J_NUM)
				continue;
			printf("pxfs_op_duration_%s{mount=\"",
			       i == 0 ? "seconds_count" :
			       i == 1 ? "seconds_sum" : "max_seconds");
			prom_label(mnt);
			printf("\",op=\"");
			prom_label(op->key);
			printf("\"} %.17g\n", i == 0 ? v->num : v->num / 1e6);
		}
	}
}

/* Print @doc (the mount's) in the Prometheus format; -1 if it does not
 * parse (nothing printed). */
static int print_prometheus(const char *doc, const char *mnt)
{
	struct jnode root = { 0 };
	const struct jnode *up;
	const char *s = doc;
	int ret = -1;

	if (jvalue(&s, &root, 0) < 0 || root.kind != J_OBJ)
		goto out;
	jskip(&s);
	if (*s != '\0')
		goto out;
	prom_info(&root, mnt);
	up = jfind(&root, "uptime_us");
	if (up && up->kind == J_NUM) {
		printf("# TYPE pxfs_uptime_seconds gauge\n"
		       "pxfs_uptime_seconds{mount=\"");
		prom_label(mnt);
		printf("\"} %.6f\n", up->num / 1e6);
	}
	prom_walk(&root, "", mnt);
	prom_ops(jfind(&root, "ops"), mnt);
	ret = 0;
out:
	jnode_free(root.kids);
	free(root.str);
	return ret;
}

static void print_store_prometheus(struct store *st,
				   const struct store_totals *t)
{
	static const char *const name[] = {
		"files", "dirs", "symlinks", "objects", "logical_bytes",
		"bytes", "stored_bytes",
	};
	const uint64_t v[] = {
		t->files, t->dirs, t->symlinks, t->objects, t->logical_bytes,
		t->bytes, t->stored_bytes,
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		printf("# TYPE pxfs_store_%s gauge\npxfs_store_%s{store=\"",
		       name[i], name[i]);
		prom_label(store_path(st));
		printf("\"} %" PRIu64 "\n", v[i]);
	}
}

/* ---- a store ------------------------------------------------------------- */

static void print_store_json(struct store *st, const struct store_totals *t,
			     const struct store_metrics *m)
{
	printf("{\n  \"store\": ");
	json_str(stdout, store_path(st));
	printf(",\n  \"connector\": ");
	json_str(stdout, store_connector_name(st));
	printf(",\n  \"files\": %" PRIu64 ",\n  \"dirs\": %" PRIu64 ",\n"
	       "  \"symlinks\": %" PRIu64 ",\n  \"objects\": %" PRIu64 ",\n"
	       "  \"logical_bytes\": %" PRIu64 ",\n  \"bytes\": %" PRIu64 ",\n"
	       "  \"stored_bytes\": %" PRIu64 ",\n", t->files, t->dirs,
	       t->symlinks, t->objects, t->logical_bytes, t->bytes,
	       t->stored_bytes);
	printf("  \"metrics\": {\n    \"conn_gets\": %" PRIu64 ",\n"
	       "    \"conn_get_bytes\": %" PRIu64 ",\n"
	       "    \"conn_puts\": %" PRIu64 ",\n"
	       "    \"conn_put_bytes\": %" PRIu64 ",\n"
	       "    \"conn_evicts\": %" PRIu64 ",\n"
	       "    \"conn_errors\": %" PRIu64 ",\n"
	       "    \"corrupt\": %" PRIu64 ",\n"
	       "    \"ingested\": %" PRIu64 ",\n"
	       "    \"deduped\": %" PRIu64 "\n  }\n}\n", m->conn_gets,
	       m->conn_get_bytes, m->conn_puts, m->conn_put_bytes,
	       m->conn_evicts, m->conn_errors, m->corrupt, m->ingested,
	       m->deduped);
}

static void print_store_text(struct store *st, const struct store_totals *t)
{
	char a[32];

	printf("store:          %s\n", store_path(st));
	printf("connector:      %s\n", store_connector_name(st));
	printf("files:          %" PRIu64 "\n", t->files);
	printf("directories:    %" PRIu64 "\n", t->dirs);
	printf("symlinks:       %" PRIu64 "\n", t->symlinks);
	printf("objects:        %" PRIu64 "\n", t->objects);
	printf("logical bytes:  %" PRIu64 " (%s)\n", t->logical_bytes,
	       human_size(t->logical_bytes, a, sizeof(a)));
	printf("unique bytes:   %" PRIu64 " (%s)\n", t->bytes,
	       human_size(t->bytes, a, sizeof(a)));
	printf("stored bytes:   %" PRIu64 " (%s)\n", t->stored_bytes,
	       human_size(t->stored_bytes, a, sizeof(a)));
	if (t->stored_bytes)
		printf("ratio:          %.2fx (logical / stored)\n",
		       (double)t->logical_bytes / (double)t->stored_bytes);
}

int cmd_stats(int argc, char **argv)
{
	struct store_metrics m;
	struct store_totals t;
	struct store *st = NULL;
	const char *path;
	char *doc = NULL;
	bool json = false, prom = false;
	store_rc rc;
	int ret = EXIT_OK;
	int c;

	while ((c = getopt_cmd(argc, argv, "", opts)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_PROMETHEUS:
			prom = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (json && prom)
		return usage_errorf("stats", "--json or --prometheus, not "
				    "both");
	if (argc - optind != 1)
		return usage_errorf("stats", argc - optind < 1 ?
				    "missing STORE or MNT" :
				    "too many arguments");
	path = argv[optind];
	ret = mount_stats(path, &doc);
	if (ret < 0)
		return EXIT_ERR;
	if (ret == 1 && prom) {
		char real[PATH_MAX];

		ret = EXIT_OK;
		if (!realpath(path, real))
			snprintf(real, sizeof(real), "%s", path);
		if (print_prometheus(doc, real) < 0)
			ret = errorf("stats", "cannot read statistics of '%s': "
				     "the document does not parse", path);
		free(doc);
		return ret;
	}
	if (ret == 1) {
		ret = EXIT_OK;
		if (json || print_doc(doc) < 0) {
			size_t n = strlen(doc);

			fputs(doc, stdout);
			if (n == 0 || doc[n - 1] != '\n')
				putchar('\n');
		}
		free(doc);
		return ret;
	}
	if (open_store("stats", path, STORE_OPEN_RDONLY, &st) < 0)
		return EXIT_ERR;
	rc = store_totals(st, &t);
	if (rc != STORE_OK) {
		ret = store_error("stats", rc);
		goto out;
	}
	store_metrics_get(st, &m);
	if (prom)
		print_store_prometheus(st, &t);
	else if (json)
		print_store_json(st, &t, &m);
	else
		print_store_text(st, &t);
out:
	store_close(st);
	return ret;
}
