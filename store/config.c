/* SPDX-License-Identifier: MIT */
/*
 * config.c - the store's config file.
 *
 *	# pxfs store
 *	format = 1
 *	id = 0123456789abcdef0123456789abcdef
 *	connector = file
 *	chunk_size = 1048576
 *	level = 3
 *	file.dir = objects
 *
 * The file may have been edited by hand or by someone else, so it is parsed
 * strictly: an unknown key, a repeated key, or a value out of range is an
 * error naming the line, never silently ignored.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

enum {
	HAVE_FORMAT = 1 << 0,
	HAVE_ID = 1 << 1,
	HAVE_CONNECTOR = 1 << 2,
	HAVE_CHUNK = 1 << 3,
	HAVE_LEVEL = 1 << 4,
	HAVE_FILE_DIR = 1 << 5,
	HAVE_REDIS_URL = 1 << 6,
	HAVE_REDIS_PREFIX = 1 << 7,
	HAVE_REDIS_PWFILE = 1 << 8,
	HAVE_REDIS_CONNECT = 1 << 9,
	HAVE_REDIS_COMMAND = 1 << 10,
	HAVE_SNAPSHOT = 1 << 11,
};

/* A value that may be written back as one config line. */
static bool is_plain(const char *v, size_t cap)
{
	size_t n = strlen(v);

	if (n >= cap)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return false;
	return true;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool parse_u64(const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long x;

	if (*v < '0' || *v > '9')
		return false;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || x > max)
		return false;
	*out = x;
	return true;
}

static bool is_hex32(const char *v)
{
	size_t n = strlen(v);

	if (n != 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= '0' && v[i] <= '9') ||
		      (v[i] >= 'a' && v[i] <= 'f')))
			return false;
	return true;
}

/* A path with no ".." and no empty component: relative to the store, or
 * absolute (a snapshot's consumer naming a shared blob directory). */
static bool is_inner_path(const char *v)
{
	const char *p = v;

	if (!*v)
		return false;
	if (*v == '/' && v[1])
		p++;
	while (*p) {
		size_t n = strcspn(p, "/");

		if ((n == 2 && p[0] == '.' && p[1] == '.') || n == 0)
			return false;
		p += n;
		if (*p == '/')
			p++;
	}
	return true;
}

static store_rc set_key(struct store_config_file *c, unsigned *have,
			const char *k, const char *v, const char *name,
			unsigned line)
{
	uint64_t x;
	unsigned bit;

	if (!strcmp(k, "format")) {
		bit = HAVE_FORMAT;
		if (!parse_u64(v, 1, &x) || x != 1)
			goto bad;
		c->format = (unsigned)x;
	} else if (!strcmp(k, "id")) {
		bit = HAVE_ID;
		if (!is_hex32(v))
			goto bad;
		memcpy(c->id, v, 33);
	} else if (!strcmp(k, "connector")) {
		bit = HAVE_CONNECTOR;
		if (strcmp(v, "file") && strcmp(v, "redis"))
			goto bad;
		snprintf(c->connector, sizeof(c->connector), "%s", v);
	} else if (!strcmp(k, "chunk_size")) {
		bit = HAVE_CHUNK;
		if (!parse_u64(v, STORE_CHUNK_MAX, &x) || x < STORE_CHUNK_MIN ||
		    (x & (x - 1)))
			goto bad;
		c->chunk_size = (uint32_t)x;
	} else if (!strcmp(k, "level")) {
		bit = HAVE_LEVEL;
		if (!parse_u64(v, 19, &x) || x < 1)
			goto bad;
		c->level = (int)x;
	} else if (!strcmp(k, "file.dir")) {
		bit = HAVE_FILE_DIR;
		if (!is_inner_path(v) || strlen(v) >= sizeof(c->file_dir))
			goto bad;
		snprintf(c->file_dir, sizeof(c->file_dir), "%s", v);
	} else if (!strcmp(k, "snapshot")) {
		bit = HAVE_SNAPSHOT;
		if (strlen(v) != STORE_KEY_HEX || !store_is_key(v))
			goto bad;
		memcpy(c->snapshot, v, STORE_KEY_HEX + 1);
	} else if (!strcmp(k, "redis.url")) {
		bit = HAVE_REDIS_URL;
		if (!*v || !is_plain(v, sizeof(c->redis_url)))
			goto bad;
		snprintf(c->redis_url, sizeof(c->redis_url), "%s", v);
	} else if (!strcmp(k, "redis.prefix")) {
		bit = HAVE_REDIS_PREFIX;
		if (!is_plain(v, sizeof(c->redis_prefix)) || strchr(v, ' '))
			goto bad;
		snprintf(c->redis_prefix, sizeof(c->redis_prefix), "%s", v);
	} else if (!strcmp(k, "redis.password_file")) {
		bit = HAVE_REDIS_PWFILE;
		if (*v != '/' || !is_plain(v, sizeof(c->redis_password_file)))
			goto bad;
		snprintf(c->redis_password_file,
			 sizeof(c->redis_password_file), "%s", v);
	} else if (!strcmp(k, "redis.connect_timeout_ms")) {
		bit = HAVE_REDIS_CONNECT;
		if (!parse_u64(v, 3600000, &x) || x == 0)
			goto bad;
		c->redis_connect_ms = (uint32_t)x;
	} else if (!strcmp(k, "redis.command_timeout_ms")) {
		bit = HAVE_REDIS_COMMAND;
		if (!parse_u64(v, 3600000, &x) || x == 0)
			goto bad;
		c->redis_command_ms = (uint32_t)x;
	} else {
		return store_fail(STORE_CORRUPT, "config '%s' line %u: unknown"
				  " key '%s'", name, line, k);
	}
	if (*have & bit)
		return store_fail(STORE_CORRUPT, "config '%s' line %u: '%s'"
				  " given twice", name, line, k);
	*have |= bit;
	return STORE_OK;
bad:
	return store_fail(STORE_CORRUPT, "config '%s' line %u: bad value '%s'"
			  " for '%s'", name, line, v, k);
}

store_rc store_config_parse(const char *text, size_t len, const char *name,
			    struct store_config_file *out)
{
	struct store_config_file c;
	unsigned have = 0, line = 0;
	size_t pos = 0;
	store_rc rc;

	memset(&c, 0, sizeof(c));
	while (pos < len) {
		char buf[2048], *k, *v, *eq, *end;
		size_t n = 0;

		line++;
		while (pos + n < len && text[pos + n] != '\n')
			n++;
		if (n >= sizeof(buf) || memchr(text + pos, '\0', n))
			return store_fail(STORE_CORRUPT, "config '%s' line %u:"
					  " malformed", name, line);
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		pos += n + 1;

		k = buf;
		while (is_space(*k))
			k++;
		if (*k == '\0' || *k == '#')
			continue;
		eq = strchr(k, '=');
		if (!eq)
			return store_fail(STORE_CORRUPT, "config '%s' line %u:"
					  " expected 'key = value'", name,
					  line);
		end = eq;
		while (end > k && is_space(end[-1]))
			end--;
		*end = '\0';
		v = eq + 1;
		while (is_space(*v))
			v++;
		end = v + strlen(v);
		while (end > v && is_space(end[-1]))
			end--;
		*end = '\0';
		rc = set_key(&c, &have, k, v, name, line);
		if (rc != STORE_OK)
			return rc;
	}
	if ((have & (HAVE_FORMAT | HAVE_ID | HAVE_CONNECTOR)) !=
	    (HAVE_FORMAT | HAVE_ID | HAVE_CONNECTOR))
		return store_fail(STORE_CORRUPT, "config '%s': needs format,"
				  " id and connector", name);
	if (!(have & HAVE_CHUNK))
		c.chunk_size = STORE_CHUNK_DEFAULT;
	if (!(have & HAVE_LEVEL))
		c.level = STORE_LEVEL_DEFAULT;
	if (!(have & HAVE_FILE_DIR))
		snprintf(c.file_dir, sizeof(c.file_dir), "objects");
	if (!strcmp(c.connector, "redis") && !(have & HAVE_REDIS_URL))
		return store_fail(STORE_CORRUPT, "config '%s': the redis"
				  " connector needs redis.url", name);
	if (strcmp(c.connector, "redis") &&
	    (have & (HAVE_REDIS_URL | HAVE_REDIS_PREFIX | HAVE_REDIS_PWFILE |
		     HAVE_REDIS_CONNECT | HAVE_REDIS_COMMAND)))
		return store_fail(STORE_CORRUPT, "config '%s': redis.* keys"
				  " need connector = redis", name);
	*out = c;
	return STORE_OK;
}

/* Append a formatted line to @buf; false once it does not fit. */
static bool append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= cap)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return false;
	*len += (size_t)n;
	return true;
}

size_t store_config_format(const struct store_config_file *c, char *buf,
			   size_t cap)
{
	bool redis = !strcmp(c->connector, "redis");
	size_t len = 0;
	bool ok;

	ok = append(buf, cap, &len, "# pxfs store: see 'pxfs help init'\n"
		    "format = %u\nid = %s\nconnector = %s\n"
		    "chunk_size = %u\nlevel = %d\n", c->format, c->id,
		    c->connector, c->chunk_size, c->level);
	if (ok && !redis)
		ok = append(buf, cap, &len, "file.dir = %s\n", c->file_dir);
	if (ok && redis)
		ok = append(buf, cap, &len, "redis.url = %s\n"
			    "redis.prefix = %s\n", c->redis_url,
			    c->redis_prefix);
	if (ok && redis && c->redis_password_file[0])
		ok = append(buf, cap, &len, "redis.password_file = %s\n",
			    c->redis_password_file);
	if (ok && redis && c->redis_connect_ms)
		ok = append(buf, cap, &len, "redis.connect_timeout_ms = %u\n",
			    c->redis_connect_ms);
	if (ok && redis && c->redis_command_ms)
		ok = append(buf, cap, &len, "redis.command_timeout_ms = %u\n",
			    c->redis_command_ms);
	if (ok && c->snapshot[0])
		ok = append(buf, cap, &len, "snapshot = %s\n", c->snapshot);
	return ok ? len : 0;
}
