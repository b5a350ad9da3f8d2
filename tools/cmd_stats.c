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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

#define STATS_XATTR	"user.pxfs.stats"
#define STATS_MAX	(1u << 20)	/* a sane bound on the document */

enum { OPT_JSON = 256 };

static const struct option opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
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
	bool json = false;
	store_rc rc;
	int ret = EXIT_OK;
	int c;

	while ((c = getopt_cmd(argc, argv, "", opts)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return usage_errorf("stats", argc - optind < 1 ?
				    "missing STORE or MNT" :
				    "too many arguments");
	path = argv[optind];
	ret = mount_stats(path, &doc);
	if (ret < 0)
		return EXIT_ERR;
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
	if (json)
		print_store_json(st, &t, &m);
	else
		print_store_text(st, &t);
out:
	store_close(st);
	return ret;
}
