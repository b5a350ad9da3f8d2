/* SPDX-License-Identifier: MIT */
/*
 * fuzzlib.h - what the libFuzzer targets in tests/fuzz/ share: a private
 * scratch directory per process, silent store logging, small file
 * helpers, seed making, (fuzzlib_store.c) a real store to open over a
 * hostile index and (fuzzlib_redis.c) an in-process fake Redis server.
 *
 * A target must be deterministic enough for libFuzzer to learn from it and
 * must never leave anything behind: every scratch file lives below
 * fz_scratch(), which is removed when the process exits.
 */
#ifndef FUZZLIB_H
#define FUZZLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points, which the targets define. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/**
 * The process's scratch directory (on /dev/shm when it exists, so that
 * SQLite and blob files cost no disk), made on first use and removed with
 * everything in it at exit.  Borrowed; never NULL (aborts on failure).
 */
const char *fz_scratch(void);

/** Make store_log() drop everything: hostile inputs log a lot. */
void fz_quiet(void);

/** Write @len bytes at @p to @path (created 0600 or truncated); aborts
 * on failure, which is the harness's fault, not the input's. */
void fz_write_file(const char *path, const void *p, size_t len);

/** Read all of @path into a malloc'd buffer (*len bytes); aborts on
 * failure.  Caller frees with free(). */
void *fz_read_file(const char *path, size_t *len);

/** Remove @path and, for a directory, everything below it; quiet when
 * it does not exist. */
void fz_rmrf(const char *path);

/*
 * Seed corpora are made by the targets themselves, with the same codec and
 * store code they fuzz: run a target with PXFS_FUZZ_SEEDS=DIR and its
 * LLVMFuzzerInitialize() writes its seeds into DIR and exits (make
 * fuzz-seeds).  fz_seeding() is that DIR, or NULL in a normal run.
 */
const char *fz_seeding(void);

/** Write seed @name (@len bytes) into fz_seeding()'s directory. */
void fz_seed(const char *name, const void *p, size_t len);

/** A real blob of @len bytes at @content in chunks of @chunk bytes, made
 * with the store's encoder (frames, then seek table); *blen bytes.  Caller
 * frees with free(). */
void *fz_make_blob(const void *content, size_t len, size_t chunk, int level,
		   size_t *blen);

/** @len bytes of test content: text that compresses (@noise false) or
 * xorshift noise that does not, from @seed.  Caller frees with free(). */
void *fz_make_content(size_t len, bool noise, uint64_t seed);

/** Abort with a message naming a broken invariant (a finding). */
void fz_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* ---- fuzzlib_store.c: a real store over a hostile index -------------- */

/**
 * The process's store (made on first use, with chunk size 4 KiB): files
 * of 0, 2 and 3 chunks, a duplicate, directories, a symlink, a future, a
 * lifetime and an evict-on-read object.  Returns its directory.
 */
const char *fz_store_base(void);

/** Its index.db's path, and the bytes it had when made. */
const char *fz_store_index_path(void);
const void *fz_store_base_index(size_t *len);

/** Make @db (@len bytes) the store's index.db, dropping any WAL. */
void fz_store_set_index(const void *db, size_t len);

/** Open the store over its index.db as it is now and run every read a
 * mount or the CLI does (bounded by the harness); errors are fine, a
 * crash or hang is a finding. */
void fz_store_exercise(void);

/* ---- fuzzlib_redis.c: a fake Redis server on 127.0.0.1 ---------------- */

/*
 * The server answers each command it receives, on any connection, with
 * the next reply of its script, in order; when the script is used up it
 * closes the connection that asked (so the client sees EOF at once, never
 * a hang).  A script line "!" closes the asking connection instead of
 * answering.  getaddrinfo() is replaced in fuzzers that link this file:
 * every host name resolves to the server, so any URL the connector
 * accepts reaches it and nothing leaves the machine.
 *
 * Script text, one reply per line (a bulk or an array may span lines):
 *	+TEXT		status			-TEXT	error
 *	:N		integer			_	nil
 *	$TEXT		bulk string; \n \r \t \\ \xHH and \0 are escapes
 *	*N		array of the next N replies (N <= 64, depth <= 6)
 *	!		close the connection instead of answering (a nil
 *			inside an array)
 * A line of any other kind is skipped.  PXFS_FUZZ_TRACE=1 logs every
 * command and what it got to stderr.
 */

/** Start the server (once per process); returns its port. */
int fz_redis_start(void);

/** Replace the script with @text (@len bytes).  Connections made under
 * the previous script are closed.  Returns the number of replies. */
size_t fz_redis_script(const char *text, size_t len);

/** Answer every command by its name instead of from a script: PING,
 * AUTH, SELECT, CLUSTER SLOTS (all slots on the server itself) and the
 * rest with +OK.  Cleared by fz_redis_script(). */
void fz_redis_auto(void);

/**
 * For making seeds: pass every command on to the real Redis server at
 * 127.0.0.1:@upstream_port and record its replies as script text, until
 * the next fz_redis_script() or fz_redis_auto().
 */
void fz_redis_record(int upstream_port);

/** The script recorded since the last call (NUL-terminated, *len bytes).
 * Caller frees with free(). */
char *fz_redis_recorded(size_t *len);

#endif /* FUZZLIB_H */
