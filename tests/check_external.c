/* SPDX-License-Identifier: MIT */
/*
 * check_external.c - unit suite for external objects (store/external.c):
 * ProxyStore locations and headers, linking by header and length alone,
 * the first read (streamed read-only, ingested and repointed read-write),
 * sources that changed or went away, fsck, and writing objects back in
 * ProxyStore's format.  The Redis side is covered by it_proxystore.sh,
 * which runs a server of its own.  Each test gets a fresh store and a
 * ProxyStore directory in a temp dir.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "failmalloc.h"
#include "store.h"

#define U1 "0b7e1f0c-3f6e-4c1a-9d2e-5a4b3c2d1e0f"
#define U2 "1c8f2a1d-4a7f-4d2b-8e3f-6b5c4d3e2f10"
#define U3 "2d903b2e-5b80-4e3c-af40-7c6d5e4f3a21"

static char dir[256];
static char spath[300];
static char psdir[300];
static struct store *st;

static void rm_rf(const char *p)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", p);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_external.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(spath, sizeof(spath), "%s/s", dir);
	snprintf(psdir, sizeof(psdir), "%s/ps", dir);
	ck_assert_int_eq(mkdir(psdir, 0700), 0);
	ck_assert_int_eq(store_create(spath, NULL), STORE_OK);
	ck_assert_int_eq(store_open(spath, 0, &st), STORE_OK);
}

static void teardown(void)
{
	store_close(st);
	st = NULL;
	rm_rf(dir);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* A ProxyStore object @uuid: @id, a newline, @len bytes of @payload;
 * with @ready, its marker too. */
static void ps_put(const char *uuid, const char *id, const void *payload,
		   size_t len, bool ready)
{
	char path[400];
	char *buf = malloc(len + 3);

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, id, 2);
	buf[2] = '\n';
	if (len)
		memcpy(buf + 3, payload, len);
	snprintf(path, sizeof(path), "%s/%s", psdir, uuid);
	write_file(path, buf, len + 3);
	free(buf);
	if (ready) {
		snprintf(path, sizeof(path), "%s/%s.ready", psdir, uuid);
		write_file(path, "", 0);
	}
}

static struct store_ps ps_of_dir(void)
{
	char spec[320];
	struct store_ps ps;

	snprintf(spec, sizeof(spec), "file:%s", psdir);
	ck_assert_int_eq(store_ps_parse(spec, &ps), STORE_OK);
	return ps;
}

/* Link @uuid as /@name; the node in @n (may be NULL). */
static void link_one(const char *uuid, const char *name,
		     struct store_node *n)
{
	struct store_attr a = { 0644, 0, 0, 0 };
	struct store_ps ps = ps_of_dir();
	struct store_object o;

	ck_assert_int_eq(store_begin(st), STORE_OK);
	ck_assert_int_eq(store_external_add(st, &ps, uuid, &o), STORE_OK);
	ck_assert(o.external);
	ck_assert_int_eq(store_mkfile(st, STORE_ROOT_INO, name, &a, o.key,
				      NULL, 0, n), STORE_OK);
	ck_assert_int_eq(store_commit(st), STORE_OK);
}

/* Export @key through @s into memory; returns the bytes (caller frees). */
static char *export_mem(struct store *s, const char *key, size_t *len,
			store_rc *rc)
{
	char path[400];
	struct stat sb;
	char *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/out.XXXXXX", dir);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	*rc = store_export_fd(s, key, fd, "x");
	ck_assert_int_eq(fstat(fd, &sb), 0);
	buf = malloc((size_t)sb.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(fd, buf, (size_t)sb.st_size, 0), sb.st_size);
	close(fd);
	*len = (size_t)sb.st_size;
	return buf;
}

static bool fsck_clean(struct store_fsck_report *r)
{
	ck_assert_int_eq(store_fsck(st, true, NULL, NULL, r), STORE_OK);
	return !r->missing && !r->corrupt && !r->orphans &&
	       !r->unreferenced && !r->bad_refs && !r->dangling &&
	       !r->leftovers;
}

/* ---- locations and headers ---- */

START_TEST(test_ps_parse)
{
	struct store_ps ps;
	char buf[1200], spec[320];

	snprintf(spec, sizeof(spec), "file:%s/../ps/", psdir);
	ck_assert_int_eq(store_ps_parse(spec, &ps), STORE_OK);
	ck_assert_int_eq(ps.kind, STORE_PS_FILE);
	ck_assert_ptr_null(strstr(ps.dir, ".."));
	ck_assert_int_eq(ps.dir[0], '/');
	store_ps_format(&ps, buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "file:/", 6), 0);

	ck_assert_int_eq(store_ps_parse("redis://localhost", &ps), STORE_OK);
	ck_assert_int_eq(ps.kind, STORE_PS_REDIS);
	ck_assert_str_eq(ps.host, "localhost");
	ck_assert_uint_eq(ps.port, 6379);
	ck_assert_uint_eq(ps.db, 0);
	ck_assert_int_eq(store_ps_parse("redis://10.0.0.1:7000/3", &ps),
			 STORE_OK);
	ck_assert_str_eq(ps.host, "10.0.0.1");
	ck_assert_uint_eq(ps.port, 7000);
	ck_assert_uint_eq(ps.db, 3);
	store_ps_format(&ps, buf, sizeof(buf));
	ck_assert_str_eq(buf, "redis://10.0.0.1:7000/3");
	ck_assert_int_eq(store_ps_parse("redis://[::1]:7000", &ps), STORE_OK);
	ck_assert_str_eq(ps.host, "::1");
	store_ps_format(&ps, buf, sizeof(buf));
	ck_assert_str_eq(buf, "redis://[::1]:7000/0");
}
END_TEST

START_TEST(test_ps_parse_errors)
{
	static const char *const bad[] = {
		"", "file:", "dir", "http://x", "redis://", "redis://:1",
		"redis://h:0", "redis://h:65536", "redis://h:p", "redis://h/x",
		"redis://h:1/2/3", "redis://a b", "redis://u:pw@h:1",
		"redis://[::1", "file:/no/such/dir/here",
	};
	char spec[320];
	struct store_ps ps;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		store_rc rc = store_ps_parse(bad[i], &ps);

		ck_assert_msg(rc != STORE_OK, "'%s' parsed", bad[i]);
		ck_assert(store_last_error()[0] != '\0');
	}
	/* a password is never echoed */
	store_ps_parse("redis://u:secret@h:1", &ps);
	ck_assert_ptr_null(strstr(store_last_error(), "secret"));
	/* a file is not a directory */
	snprintf(spec, sizeof(spec), "file:%s/f", dir);
	write_file(spec + 5, "x", 1);
	ck_assert_int_eq(store_ps_parse(spec, &ps), STORE_NOTDIR);
	ck_assert_int_eq(store_ps_parse(NULL, &ps), STORE_INVAL);
}
END_TEST

START_TEST(test_ps_is_uuid)
{
	ck_assert(store_ps_is_uuid(U1));
	ck_assert(!store_ps_is_uuid(NULL));
	ck_assert(!store_ps_is_uuid(""));
	ck_assert(!store_ps_is_uuid("0B7E1F0C-3F6E-4C1A-9D2E-5A4B3C2D1E0F"));
	ck_assert(!store_ps_is_uuid(U1 "0"));
	ck_assert(!store_ps_is_uuid("0b7e1f0c3f6e4c1a9d2e5a4b3c2d1e0f"));
	ck_assert(!store_ps_is_uuid("../../../../../../etc/passwd"));
	ck_assert(!store_ps_is_uuid("0b7e1f0c-3f6e-4c1a-9d2e-5a4b3c2d1e0/"));
}
END_TEST

START_TEST(test_ps_stat_types)
{
	static const struct {
		const char *id, *type;
	} t[] = {
		{ "BS", "application/octet-stream" },
		{ "US", "text/plain; charset=utf-8" },
		{ "NP", "application/x-npy" },
		{ "PD", "application/x-python-pickle" },
		{ "PL", "application/vnd.apache.arrow.file" },
		{ "PK", "application/x-python-pickle" },
		{ "CP", "application/x-python-pickle" },
		{ "01", "application/octet-stream" },
		{ "02", "text/plain; charset=utf-8" },
		{ "03", "application/x-python-pickle" },
		{ "04", "application/x-python-pickle" },
	};
	struct store_ps ps = ps_of_dir();
	struct store_ps_object o;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ps_put(U1, t[i].id, "hello", 5, true);
		ck_assert_int_eq(store_ps_stat(&ps, U1, &o), STORE_OK);
		ck_assert_str_eq(o.id, t[i].id);
		ck_assert_str_eq(o.type, t[i].type);
		ck_assert_uint_eq(o.size, 5);
	}
	/* an empty payload is an object too */
	ps_put(U1, "BS", "", 0, true);
	ck_assert_int_eq(store_ps_stat(&ps, U1, &o), STORE_OK);
	ck_assert_uint_eq(o.size, 0);
}
END_TEST

START_TEST(test_ps_stat_errors)
{
	struct store_ps ps = ps_of_dir();
	struct store_ps_object o;
	char path[400], target[400];

	/* no such object, no marker */
	ck_assert_int_eq(store_ps_stat(&ps, U1, &o), STORE_NOTFOUND);
	ps_put(U1, "BS", "abc", 3, false);
	ck_assert_int_eq(store_ps_stat(&ps, U1, &o), STORE_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(store_last_error(), "not ready"));
	/* unknown id, no newline, truncated */
	ps_put(U2, "ZZ", "abc", 3, true);
	ck_assert_int_eq(store_ps_stat(&ps, U2, &o), STORE_CORRUPT);
	ck_assert_ptr_nonnull(strstr(store_last_error(), "'ZZ'"));
	snprintf(path, sizeof(path), "%s/%s", psdir, U2);
	write_file(path, "BSxpayload", 10);
	ck_assert_int_eq(store_ps_stat(&ps, U2, &o), STORE_CORRUPT);
	write_file(path, "BS", 2);
	ck_assert_int_eq(store_ps_stat(&ps, U2, &o), STORE_CORRUPT);
	ck_assert_ptr_nonnull(strstr(store_last_error(), "truncated"));
	write_file(path, "", 0);
	ck_assert_int_eq(store_ps_stat(&ps, U2, &o), STORE_CORRUPT);
	/* not a UUID: never looked up */
	ck_assert_int_eq(store_ps_stat(&ps, "../s/config", &o), STORE_INVAL);
	/* a symlink named like an object is not one */
	snprintf(target, sizeof(target), "%s/s/config", dir);
	snprintf(path, sizeof(path), "%s/%s", psdir, U3);
	ck_assert_int_eq(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/%s.ready", psdir, U3);
	write_file(path, "", 0);
	ck_assert_int_eq(store_ps_stat(&ps, U3, &o), STORE_NOTFOUND);
}
END_TEST

struct seen {
	char v[8][40];
	bool ready[8];
	int n;
};

static int collect(void *arg, const char *uuid, bool ready)
{
	struct seen *s = arg;

	ck_assert_int_lt(s->n, 8);
	snprintf(s->v[s->n], sizeof(s->v[0]), "%s", uuid);
	s->ready[s->n++] = ready;
	return 0;
}

START_TEST(test_ps_list)
{
	struct store_ps ps = ps_of_dir(), rps;
	struct seen s = { .n = 0 };
	char path[400];

	ps_put(U3, "BS", "c", 1, true);
	ps_put(U1, "BS", "a", 1, true);
	ps_put(U2, "BS", "b", 1, false);
	snprintf(path, sizeof(path), "%s/notes.txt", psdir);
	write_file(path, "x", 1);
	ck_assert_int_eq(store_ps_list(&ps, collect, &s), STORE_OK);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.v[0], U1);
	ck_assert_str_eq(s.v[1], U2);
	ck_assert_str_eq(s.v[2], U3);
	ck_assert(s.ready[0] && !s.ready[1] && s.ready[2]);
	ck_assert_int_eq(store_ps_parse("redis://h", &rps), STORE_OK);
	ck_assert_int_eq(store_ps_list(&rps, collect, &s), STORE_INVAL);
}
END_TEST

/* ---- linking and reading ---- */

START_TEST(test_external_link_metadata)
{
	struct store_object o, again;
	struct store_ps ps = ps_of_dir();
	struct store_node n;

	ps_put(U1, "US", "hello, python\n", 14, true);
	link_one(U1, "greeting", &n);
	ck_assert_uint_eq(n.size, 14);
	ck_assert_str_eq(n.type, "text/plain; charset=utf-8");
	ck_assert_int_eq(store_object_info(st, n.key, &o), STORE_OK);
	ck_assert(o.external);
	ck_assert_uint_eq(o.refs, 1);
	ck_assert_uint_eq(o.stored_size, 0);
	ck_assert_str_eq(o.hash, "");
	ck_assert_uint_eq(o.nchunks, 1);
	ck_assert_ptr_nonnull(strstr(o.source, "proxystore-file:"));
	ck_assert_ptr_nonnull(strstr(o.source, U1));
	/* linked again: the same object */
	ck_assert_int_eq(store_external_add(st, &ps, U1, &again), STORE_OK);
	ck_assert_str_eq(again.key, o.key);
}
END_TEST

START_TEST(test_external_link_reads_no_payload)
{
	struct store_ps ps = ps_of_dir();
	struct store_object o;
	char path[400];

	ps_put(U1, "BS", "secret payload", 14, true);
	/* without read permission on the payload's bytes the header would
	 * fail too, so check instead that a truncated payload region is
	 * never looked at: make the file sparse and huge */
	snprintf(path, sizeof(path), "%s/%s", psdir, U1);
	ck_assert_int_eq(truncate(path, (off_t)1 << 40), 0);
	ck_assert_int_eq(store_external_add(st, &ps, U1, &o), STORE_OK);
	ck_assert_uint_eq(o.size, ((uint64_t)1 << 40) - 3);
}
END_TEST

START_TEST(test_external_read_only_streams)
{
	static const char payload[] = "payload bytes \x00\x01\x02 and more";
	struct store *ro = NULL;
	struct store_object o;
	struct store_node n;
	store_rc rc;
	size_t len;
	char *got;

	ps_put(U1, "BS", payload, sizeof(payload), true);
	link_one(U1, "p", &n);
	ck_assert_int_eq(store_open(spath, STORE_OPEN_RDONLY, &ro), STORE_OK);
	got = export_mem(ro, n.key, &len, &rc);
	ck_assert_int_eq(rc, STORE_OK);
	ck_assert_uint_eq(len, sizeof(payload));
	ck_assert_mem_eq(got, payload, len);
	free(got);
	/* nothing was recorded: still external */
	ck_assert_int_eq(store_object_info(ro, n.key, &o), STORE_OK);
	ck_assert(o.external);
	store_close(ro);
}
END_TEST

START_TEST(test_external_first_read_ingests)
{
	struct store_fsck_report r;
	struct store_object o;
	struct store_node n, after;
	char old[STORE_KEY_HEX + 1];
	char *payload, *got;
	size_t len = 3 * 1024 * 1024 + 17;	/* several chunks */
	store_rc rc;

	payload = malloc(len);
	ck_assert_ptr_nonnull(payload);
	for (size_t i = 0; i < len; i++)
		payload[i] = (char)(i * 7 + i / 1000);
	ps_put(U1, "NP", payload, len, true);
	link_one(U1, "array.npy", &n);
	memcpy(old, n.key, sizeof(old));
	ck_assert_uint_eq(n.size, len);
	got = export_mem(st, n.key, &len, &rc);
	ck_assert_int_eq(rc, STORE_OK);
	ck_assert_mem_eq(got, payload, len);
	free(got);
	/* the entry now names an ordinary, verified object */
	ck_assert_int_eq(store_lookup(st, STORE_ROOT_INO, "array.npy", &after),
			 STORE_OK);
	ck_assert_str_ne(after.key, old);
	ck_assert_str_eq(after.type, "application/x-npy");
	ck_assert_uint_eq(after.ino, n.ino);
	ck_assert_int_eq(store_object_info(st, after.key, &o), STORE_OK);
	ck_assert(!o.external);
	ck_assert_str_eq(o.hash, after.key);
	ck_assert_uint_eq(o.refs, 1);
	ck_assert_uint_eq(o.nchunks, 4);
	ck_assert_int_eq(store_object_info(st, old, &o), STORE_NOTFOUND);
	/* a reader holding the old key follows the move */
	got = export_mem(st, old, &len, &rc);
	ck_assert_int_eq(rc, STORE_OK);
	ck_assert_mem_eq(got, payload, len);
	free(got);
	ck_assert(fsck_clean(&r));
	ck_assert_uint_eq(r.objects, 1);
	/* the source may go now: the store has its own copy */
	{
		char path[400];

		snprintf(path, sizeof(path), "%s/%s", psdir, U1);
		ck_assert_int_eq(unlink(path), 0);
	}
	got = export_mem(st, after.key, &len, &rc);
	ck_assert_int_eq(rc, STORE_OK);
	free(got);
	free(payload);
}
END_TEST

START_TEST(test_external_read_chunk)
{
	struct store *ro = NULL;
	struct store_node n, after;
	char *payload, *buf;
	size_t len = (1u << 20) + 100, got = 0;

	payload = malloc(len);
	buf = malloc(1u << 20);
	ck_assert_ptr_nonnull(payload);
	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < len; i++)
		payload[i] = (char)(i % 251);
	ps_put(U1, "BS", payload, len, true);
	link_one(U1, "big", &n);
	/* read-only: straight from the source */
	ck_assert_int_eq(store_open(spath, STORE_OPEN_RDONLY, &ro), STORE_OK);
	ck_assert_int_eq(store_read_chunk(ro, n.key, 1, buf, 1u << 20, &got,
					  "big"), STORE_OK);
	ck_assert_uint_eq(got, 100);
	ck_assert_mem_eq(buf, payload + (1u << 20), 100);
	ck_assert_int_eq(store_read_chunk(ro, n.key, 2, buf, 1u << 20, &got,
					  "big"), STORE_INVAL);
	/* read-write: ingested first, then the chunk is verified */
	ck_assert_int_eq(store_read_chunk(st, n.key, 0, buf, 1u << 20, &got,
					  "big"), STORE_OK);
	ck_assert_uint_eq(got, 1u << 20);
	ck_assert_mem_eq(buf, payload, got);
	ck_assert_int_eq(store_lookup(st, STORE_ROOT_INO, "big", &after),
			 STORE_OK);
	ck_assert_str_ne(after.key, n.key);
	/* the read-only handle that still holds the old key follows */
	ck_assert_int_eq(store_read_chunk(ro, n.key, 1, buf, 1u << 20, &got,
					  "big"), STORE_OK);
	ck_assert_uint_eq(got, 100);
	store_close(ro);
	free(buf);
	free(payload);
}
END_TEST

START_TEST(test_external_source_changed_or_gone)
{
	struct store_fsck_report r;
	struct store_node n1, n2;
	char path[400];
	store_rc rc;
	size_t len;
	char *got;

	ps_put(U1, "BS", "abcdef", 6, true);
	ps_put(U2, "US", "text", 4, true);
	link_one(U1, "one", &n1);
	link_one(U2, "two", &n2);
	ck_assert(fsck_clean(&r));
	/* longer now, and another serializer */
	ps_put(U1, "BS", "abcdefgh", 8, true);
	ps_put(U2, "PK", "text", 4, true);
	got = export_mem(st, n1.key, &len, &rc);
	ck_assert_int_eq(rc, STORE_CORRUPT);
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_nonnull(strstr(store_last_error(), "changed"));
	free(got);
	got = export_mem(st, n2.key, &len, &rc);
	ck_assert_int_eq(rc, STORE_CORRUPT);
	free(got);
	ck_assert(!fsck_clean(&r));
	ck_assert_uint_eq(r.corrupt, 2);
	/* gone */
	snprintf(path, sizeof(path), "%s/%s", psdir, U1);
	ck_assert_int_eq(unlink(path), 0);
	got = export_mem(st, n1.key, &len, &rc);
	ck_assert_int_eq(rc, STORE_IO);
	ck_assert_ptr_nonnull(strstr(store_last_error(), "gone"));
	ck_assert_ptr_nonnull(strstr(store_last_error(), n1.key));
	free(got);
	ck_assert(!fsck_clean(&r));
	ck_assert_uint_eq(r.missing, 1);
	ck_assert_uint_eq(r.corrupt, 1);
	/* the entries are unchanged, still external */
	ck_assert_int_eq(store_lookup(st, STORE_ROOT_INO, "one", &n2),
			 STORE_OK);
	ck_assert_str_eq(n2.key, n1.key);
}
END_TEST

START_TEST(test_external_unlink_and_gc)
{
	struct store_fsck_report r;
	struct store_totals t;
	struct store_object o;
	struct store_node n;
	uint64_t removed = 0;

	ps_put(U1, "BS", "abc", 3, true);
	link_one(U1, "x", &n);
	ck_assert_int_eq(store_totals(st, &t), STORE_OK);
	ck_assert_uint_eq(t.objects, 1);
	ck_assert_uint_eq(t.bytes, 3);
	ck_assert_uint_eq(t.stored_bytes, 0);
	ck_assert_int_eq(store_unlink(st, STORE_ROOT_INO, "x"), STORE_OK);
	ck_assert_int_eq(store_object_info(st, n.key, &o), STORE_NOTFOUND);
	ck_assert(fsck_clean(&r));
	ck_assert_int_eq(store_gc(st, NULL, NULL, &removed, NULL), STORE_OK);
	ck_assert_uint_eq(removed, 0);
	/* the source is ProxyStore's: never touched */
	{
		char path[400];

		snprintf(path, sizeof(path), "%s/%s", psdir, U1);
		ck_assert_int_eq(access(path, F_OK), 0);
	}
}
END_TEST

START_TEST(test_external_add_errors)
{
	struct store_ps ps = ps_of_dir();
	struct store *ro = NULL;
	struct store_object o;

	ck_assert_int_eq(store_external_add(st, &ps, U1, &o), STORE_NOTFOUND);
	ck_assert_int_eq(store_external_add(st, &ps, "nope", &o),
			 STORE_INVAL);
	ps_put(U1, "??", "x", 1, true);
	ck_assert_int_eq(store_external_add(st, &ps, U1, &o), STORE_CORRUPT);
	ps_put(U1, "BS", "x", 1, true);
	ck_assert_int_eq(store_open(spath, STORE_OPEN_RDONLY, &ro), STORE_OK);
	ck_assert_int_eq(store_external_add(ro, &ps, U1, &o), STORE_ROFS);
	store_close(ro);
}
END_TEST

/* ---- writing for Python ---- */

START_TEST(test_ps_write_file)
{
	struct store_attr a = { 0644, 0, 0, 0 };
	struct store_ps ps = ps_of_dir();
	struct store_ps_object info;
	char uuid[STORE_PS_UUID_LEN + 1], uuid2[STORE_PS_UUID_LEN + 1];
	char path[400], *buf;
	struct store_object o;
	struct stat sb;
	size_t len = 200000;
	int fd;

	/* put an ordinary object first */
	buf = malloc(len + 3);
	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(i % 13 + 'a');
	snprintf(path, sizeof(path), "%s/src", dir);
	write_file(path, buf, len);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(store_begin(st), STORE_OK);
	ck_assert_int_eq(store_ingest_fd(st, fd, "src", NULL, &o), STORE_OK);
	ck_assert_int_eq(store_mkfile(st, STORE_ROOT_INO, "src", &a, o.key,
				      NULL, 0, NULL), STORE_OK);
	ck_assert_int_eq(store_commit(st), STORE_OK);
	close(fd);

	ck_assert_int_eq(store_ps_write(st, o.key, &ps, "src", uuid),
			 STORE_OK);
	ck_assert(store_ps_is_uuid(uuid));
	ck_assert_int_eq(uuid[14], '4');	/* version 4 */
	ck_assert(strchr("89ab", uuid[19]) != NULL);
	ck_assert_int_eq(store_ps_stat(&ps, uuid, &info), STORE_OK);
	ck_assert_str_eq(info.id, "BS");
	ck_assert_uint_eq(info.size, len);
	snprintf(path, sizeof(path), "%s/%s", psdir, uuid);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, (off_t)len + 3);
	{
		char *file = malloc(len + 3);

		fd = open(path, O_RDONLY);
		ck_assert_int_eq(read(fd, file, len + 3), (ssize_t)len + 3);
		close(fd);
		ck_assert_mem_eq(file, "BS\n", 3);
		ck_assert_mem_eq(file + 3, buf, len);
		free(file);
	}
	/* a second export gets a new UUID; no temporaries are left */
	ck_assert_int_eq(store_ps_write(st, o.key, &ps, "src", uuid2),
			 STORE_OK);
	ck_assert_str_ne(uuid, uuid2);
	{
		struct seen s = { .n = 0 };

		ck_assert_int_eq(store_ps_list(&ps, collect, &s), STORE_OK);
		ck_assert_int_eq(s.n, 2);
		ck_assert(s.ready[0] && s.ready[1]);
	}
	snprintf(path, sizeof(path), "ls -A '%s' | grep -q tmp", psdir);
	ck_assert_int_ne(system(path), 0);
	ck_assert_int_eq(store_ps_write(st, "zz", &ps, "x", uuid),
			 STORE_INVAL);
	free(buf);
}
END_TEST

START_TEST(test_ps_write_external_round_trip)
{
	struct store_ps ps = ps_of_dir();
	struct store_ps_object info;
	char uuid[STORE_PS_UUID_LEN + 1], path[400], file[32];
	struct store_node n;
	int fd;

	/* an object linked from ProxyStore goes back as bytes ("BS") */
	ps_put(U1, "US", "hi there", 8, true);
	link_one(U1, "t", &n);
	ck_assert_int_eq(store_ps_write(st, n.key, &ps, "t", uuid), STORE_OK);
	ck_assert_int_eq(store_ps_stat(&ps, uuid, &info), STORE_OK);
	ck_assert_str_eq(info.id, "BS");
	snprintf(path, sizeof(path), "%s/%s", psdir, uuid);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(read(fd, file, sizeof(file)), 11);
	close(fd);
	ck_assert_mem_eq(file, "BS\nhi there", 11);
}
END_TEST

/* ---- allocation failures ---- */

#if FAILMALLOC
static int count_cb(void *arg, const char *uuid, bool ready)
{
	(void)uuid;
	(void)ready;
	(*(int *)arg)++;
	return 0;
}

/* Every allocation of listing, stat and linking fails once: a clean
 * error and nothing leaked, or success; never a crash or a half row. */
START_TEST(test_external_torture)
{
	struct store_ps ps = ps_of_dir();
	struct store_ps_object info;
	struct store_object o;
	struct store_fsck_report r;
	long n, before;
	store_rc rc;
	int seen;

	ps_put(U1, "BS", "abc", 3, true);
	ps_put(U2, "US", "text", 4, true);
	for (n = 1;; n++) {
		seen = 0;
		before = failmalloc_blocks();
		failmalloc_arm(n);
		rc = store_ps_list(&ps, count_cb, &seen);
		if (!failmalloc_disarm())
			break;
		ck_assert_int_eq(failmalloc_blocks(), before);
		if (rc == STORE_OK)
			ck_assert_int_eq(seen, 2);
		else
			ck_assert_int_eq(rc, STORE_NOMEM);
	}
	ck_assert_int_eq(seen, 2);
	for (n = 1;; n++) {
		before = failmalloc_blocks();
		failmalloc_arm(n);
		rc = store_ps_stat(&ps, U1, &info);
		if (!failmalloc_disarm())
			break;
		ck_assert_int_eq(failmalloc_blocks(), before);
		ck_assert_int_ne(rc, STORE_CORRUPT);
	}
	ck_assert_int_eq(rc, STORE_OK);
	/* SQLite may shrug some off: then the row is whole */
	for (n = 1;; n++) {
		failmalloc_arm(n);
		rc = store_external_add(st, &ps, U2, &o);
		if (!failmalloc_disarm())
			break;
		if (rc == STORE_OK)
			ck_assert(o.external && o.size == 4);
	}
	ck_assert_int_eq(rc, STORE_OK);
	ck_assert_int_eq(store_fsck(st, false, NULL, NULL, &r), STORE_OK);
	ck_assert_uint_eq(r.objects, 1);
}
END_TEST
#endif

static Suite *external_suite(void)
{
	Suite *s = suite_create("external");
	TCase *tc;

	tc = tcase_create("proxystore");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ps_parse);
	tcase_add_test(tc, test_ps_parse_errors);
	tcase_add_test(tc, test_ps_is_uuid);
	tcase_add_test(tc, test_ps_stat_types);
	tcase_add_test(tc, test_ps_stat_errors);
	tcase_add_test(tc, test_ps_list);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_external_link_metadata);
	tcase_add_test(tc, test_external_link_reads_no_payload);
	tcase_add_test(tc, test_external_read_only_streams);
	tcase_add_test(tc, test_external_first_read_ingests);
	tcase_add_test(tc, test_external_read_chunk);
	tcase_add_test(tc, test_external_unlink_and_gc);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_external_source_changed_or_gone);
	tcase_add_test(tc, test_external_add_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("write");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ps_write_file);
	tcase_add_test(tc, test_ps_write_external_round_trip);
	suite_add_tcase(s, tc);

#if FAILMALLOC
	tc = tcase_create("torture");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_external_torture);
	suite_add_tcase(s, tc);
#endif
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(external_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
