/* SPDX-License-Identifier: MIT */
/*
 * conn.h - connectors: the byte-level object stores that hold blobs.
 *
 * A connector maps a key (exactly 64 lowercase hex digits, checked by the
 * caller with store_is_key() and again by every connector, so nothing else
 * can ever name a path or a foreign Redis key) to immutable bytes.  Writes
 * are streamed into a temporary (put_begin/put_write) and become visible
 * under their key only at put_commit, atomically and durably (temp, fsync,
 * rename): a reader sees the whole blob or nothing.  Nothing read from a
 * connector is trusted: callers verify against the index.
 *
 * Every connector is thread-safe: the daemon calls it from many threads.
 * Each backend is one file, conn_<name>.c, exporting only its open
 * function; backends never include each other.  Private to store/.
 */
#ifndef STORE_CONN_H
#define STORE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct store_conn;
struct store_conn_put;		/* one blob being written */

/* Called for each stored blob; non-zero stops the walk. */
typedef int (*store_conn_list_fn)(void *arg, const char *key, uint64_t size);
/* Called for each leftover of an interrupted write. */
typedef void (*store_conn_left_fn)(void *arg, const char *what,
				   uint64_t size);

struct store_conn_ops {
	const char *name;	/* "file", "redis" */

	/** Start writing a blob whose key is not known yet.  *out is owned
	 * by the caller until put_commit or put_abort frees it. */
	store_rc (*put_begin)(struct store_conn *c,
			      struct store_conn_put **out);
	/** Append @len bytes.  STORE_NOSPC when the device is full. */
	store_rc (*put_write)(struct store_conn_put *p, const void *buf,
			      size_t len);
	/** Make the blob durable and visible under @key, replacing a blob
	 * that is already there (same key, same content).  Frees @p, also
	 * on failure (when nothing is left visible). */
	store_rc (*put_commit)(struct store_conn_put *p, const char *key);
	/** put_commit without making the blob durable (no fsync): many
	 * puts then pay for one sync() before the index commit that names
	 * them.  Visible and atomic as put_commit; durable only after
	 * sync().  Frees @p. */
	store_rc (*put_commit_nosync)(struct store_conn_put *p,
				      const char *key);
	/** Make every blob committed so far durable. */
	store_rc (*sync)(struct store_conn *c);
	/** Drop the blob being written; frees @p.  NULL is a no-op. */
	void (*put_abort)(struct store_conn_put *p);

	/** Read exactly @len bytes at @off of blob @key into @buf.
	 * STORE_NOTFOUND when there is no such blob, STORE_CORRUPT when it
	 * is shorter than @off + @len, STORE_IO when the backend fails. */
	store_rc (*get)(struct store_conn *c, const char *key, uint64_t off,
			size_t len, void *buf);
	/** Size of blob @key; STORE_NOTFOUND if there is none. */
	store_rc (*stat)(struct store_conn *c, const char *key,
			 uint64_t *size);
	/** Remove blob @key.  STORE_OK also when there was none. */
	store_rc (*evict)(struct store_conn *c, const char *key);
	/** Call @fn for every blob held (any order). */
	store_rc (*list)(struct store_conn *c, store_conn_list_fn fn,
			 void *arg);
	/** Report (and with @remove, delete) leftovers of interrupted writes
	 * older than @min_age_s seconds: temp files, partial uploads. */
	store_rc (*leftovers)(struct store_conn *c, bool remove,
			      unsigned min_age_s, store_conn_left_fn fn,
			      void *arg);
	/** Release the connector.  NULL is a no-op. */
	void (*close)(struct store_conn *c);

	/** Record that the store whose id is @owner (32 hex) names blob
	 * @key in its index.  Several stores may share one connector (one
	 * Redis URL and prefix): a blob goes only when no store claims it.
	 * The file connector is never shared by writable stores and keeps
	 * no claims. */
	store_rc (*claim)(struct store_conn *c, const char *key,
			  const char *owner);
	/** Drop @owner's claim on @key; *others gets the claims left. */
	store_rc (*unclaim)(struct store_conn *c, const char *key,
			    const char *owner, uint64_t *others);
	/** How many stores claim @key. */
	store_rc (*claims)(struct store_conn *c, const char *key,
			   uint64_t *n);

	/** Point tag @name (store_is_tag_name()) at blob @key, replacing
	 * what it pointed at atomically: a named pointer to the latest
	 * publication of a namespace. */
	store_rc (*tag_set)(struct store_conn *c, const char *name,
			    const char *key);
	/** The key tag @name points at; STORE_NOTFOUND if there is none,
	 * STORE_CORRUPT if what is stored is not a key. */
	store_rc (*tag_get)(struct store_conn *c, const char *name,
			    char key[STORE_KEY_HEX + 1]);

	/** Check now that the backend can be reached and accepts us
	 * (connect, authenticate, learn a cluster's topology): STORE_OK,
	 * or one clear error naming where and why.  Opening a connector
	 * talks to no backend, so that what needs none (the index) keeps
	 * working while it is down; this is for the commands where a user
	 * expects the check (init, mount).  NULL: nothing to check. */
	store_rc (*check)(struct store_conn *c);

	/** Optional (NULL: use get).  get() into @buf of @cap bytes, aligned
	 * to STORE_CONN_ALIGN, with room for at least @len + 2 *
	 * STORE_CONN_ALIGN bytes; the @len bytes may start anywhere in it,
	 * and *out says where.  Lets a backend read around the page cache
	 * (O_DIRECT) straight into @buf, without a bounce copy. */
	store_rc (*get_into)(struct store_conn *c, const char *key,
			     uint64_t off, size_t len, void *buf, size_t cap,
			     const void **out);
};

/* Alignment of the buffer get_into() is given. */
#define STORE_CONN_ALIGN	4096u

/* Every backend's handle starts with this. */
struct store_conn {
	const struct store_conn_ops *ops;
};

/**
 * Open the file connector holding its blobs below @dir (created 0700 by
 * @create).  Layout: @dir/<k0k1>/<key> for a blob, where k0k1 are the
 * key's first two hex digits, and @dir/tmp/ for writes in progress
 * (names starting "put-").  Blobs are 0600.
 * *out is NULL on failure.
 */
store_rc store_conn_file_open(const char *dir, bool create,
			      struct store_conn **out);

/* Options of the Redis connector (conn_redis.c). */
struct store_redis_opts {
	const char *url;	/* redis://HOST:PORT[/DB] or
				   redis+cluster://H1:P1,H2:P2,... */
	const char *prefix;	/* prepended to every Redis key ("" ok) */
	const char *password;	/* NULL: none; never logged */
	unsigned connect_timeout_ms;	/* 0: default */
	unsigned command_timeout_ms;	/* 0: default */
	unsigned pool_size;	/* connections per node; 0: default */
};

/**
 * Open the Redis connector.  Checks the URL and the options, so that bad
 * input is one clear error here, but does not connect: the first command
 * that needs Redis connects (within the connect timeout, with AUTH and
 * SELECT) and fails, if it cannot, with one clear error naming the server
 * and the reason; ops->check() does the same on demand.  Copies what it
 * keeps of @o.  *out is NULL on failure.
 */
store_rc store_conn_redis_open(const struct store_redis_opts *o,
			       struct store_conn **out);

#endif /* STORE_CONN_H */
