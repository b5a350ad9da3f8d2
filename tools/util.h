/* SPDX-License-Identifier: MIT */
/*
 * util.h - what the subcommands of the pxfs command share: error and usage
 * messages in one format, option values (sizes, levels), opening a store
 * with a message a user understands, store paths, JSON output, human sizes
 * and the progress line.
 *
 * Messages.  Every error is one line on stderr, "pxfs: VERB: what: why",
 * lowercase, with the subject quoted.  A failed store call is reported with
 * store_last_error(), which the store fills at the origin.
 *
 * Not thread-safe except where said: the pxfs command runs one subcommand
 * on one thread (plus the progress thread, which touches only its own
 * state).
 */
#ifndef PXFS_UTIL_H
#define PXFS_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "store.h"

/* Exit statuses of every subcommand. */
#define EXIT_OK		0
#define EXIT_ERR	1
#define EXIT_USAGE	2

/** Print "pxfs: @verb: <message>" on stderr.  Returns EXIT_ERR. */
int errorf(const char *verb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** With -v (or -vv): print "pxfs: @verb: <message>" on stderr, else
 * nothing.  For what a verbose run reports as it goes. */
void infof(const char *verb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * Report a failed store call: "pxfs: @verb: " + store_last_error(), or
 * the text of @rc when the store recorded nothing.  Returns EXIT_ERR.
 */
int store_error(const char *verb, store_rc rc);

/**
 * Print "pxfs: @verb: <message>" and then @verb's usage line on stderr.
 * Returns EXIT_USAGE.
 */
int usage_errorf(const char *verb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Print @verb's usage line on stderr.  Returns EXIT_USAGE. */
int usage(const char *verb);

/**
 * The usage line of @verb without the "usage: " prefix ("put STORE SRC..."),
 * or NULL for an unknown verb.  Defined with the command table in pxfs.c.
 */
const char *cmd_usage_line(const char *verb);

/**
 * Run getopt_long() for a subcommand with a common treatment of errors:
 * returns the option character, -1 at the end of the options, or '?'
 * after printing "unknown option" / "option requires an argument" and the
 * usage line (the caller then returns EXIT_USAGE).  Options may follow
 * operands (GNU permutation).  Resets the parser on the first call for
 * an argv.
 */
struct option;
int getopt_cmd(int argc, char **argv, const char *shortopts,
	       const struct option *longopts);

/* ---- option values ------------------------------------------------------ */

/**
 * Parse a byte count: decimal digits with an optional binary suffix
 * K, M, G, T (also k, KB, KiB...).  Returns 0, or -1 for anything else
 * (empty, sign, junk, overflow).
 */
int parse_size(const char *s, uint64_t *out);

/** Parse a decimal integer in [@min, @max] with nothing after it. */
int parse_int(const char *s, long min, long max, long *out);

/**
 * Parse --chunk-size: a power of two in [STORE_CHUNK_MIN, STORE_CHUNK_MAX].
 * Prints the error for @verb and returns -1 when it is not.
 */
int opt_chunk_size(const char *verb, const char *s, uint32_t *out);

/** Parse --level: 1..19.  Prints the error and returns -1 otherwise. */
int opt_level(const char *verb, const char *s, int *out);

/**
 * Check a lifetime name (--lifetime, "pxfs lifetime"): 1 to
 * STORE_NAME_MAX bytes, no control characters.  Prints the error for
 * @verb and returns -1 when it is not one.
 */
int opt_lifetime(const char *verb, const char *s);

/** Parse a lease (--lease, "lifetime extend"): whole seconds from 1 to
 * UINT32_MAX.  Prints the error and returns -1 otherwise. */
int opt_lease(const char *verb, const char *s, uint32_t *out);

/* ---- opening a store ---------------------------------------------------- */

/* open_store() flag of the pxfs command alone (never passed to the store;
 * far above the STORE_OPEN_* bits): do not end expired leases. */
#define OPEN_KEEP_LEASES	0x10000u

/**
 * Open the store at @path, printing one clear line for @verb on failure
 * ("no such store 'x'", "'x' is not a pxfs store").  A read-write open
 * (no STORE_OPEN_RDONLY) first ends every lease whose time has come
 * (store_lifetime_expire), so that leases end even when no mount runs,
 * unless @flags has OPEN_KEEP_LEASES.  Returns 0 and the handle in *out
 * (caller closes it with store_close()), or -1.
 */
int open_store(const char *verb, const char *path, unsigned flags,
	       struct store **out);

/* ---- reading objects ---------------------------------------------------- */

/**
 * If file @n (at @path) is a pending future, wait for it as its recorded
 * policy says (store_wait_node) and refresh @n; nothing to do otherwise.
 * Returns 0, or EXIT_ERR after the message (the store's, on a timeout).
 */
int wait_ready(const char *verb, struct store *st, const char *path,
	       struct store_node *n);

/**
 * Call after the first complete, verified export of object @key: if it is
 * evict-on-read, evict it now (store_evicted_after_read), through a
 * read-write handle of its own, so that @st may be read-only.  Returns 0,
 * or EXIT_ERR after the message.
 */
int evict_if_read_once(const char *verb, struct store *st, const char *key);

/**
 * Write file @n's object (at @path) to @fd, as store_export_fd() does.
 * An external object (a ProxyStore one, not read yet) is read through a
 * read-write handle of its own when the store allows one, so that this
 * first read ingests it and every later read is verified (trust on first
 * use); otherwise, as through @st, it is streamed from its source.
 * Returns the store's code; the message is left for store_error().
 */
store_rc export_node(struct store *st, const struct store_node *n, int fd,
		     const char *path);

/* ---- store paths -------------------------------------------------------- */

#define SPATH_MAX	4096	/* longest store path we accept */

/**
 * Check and normalise a path inside the store ("a/b", "/a//b/") into
 * @buf as "/a/b" ("/" for the root).  Refuses "." and ".." components
 * (no path may leave or loop in the namespace) and names over
 * STORE_NAME_MAX bytes.  Prints the error for @verb and returns -1.
 */
int spath_norm(const char *verb, const char *path, char *buf, size_t len);

/**
 * Split a normalised path (from spath_norm) into its parent and its last
 * name, both pointing into @buf, which is modified.  Fails with -1
 * (printing "cannot use the root" for @verb) when @buf is "/".
 */
int spath_split(const char *verb, char *buf, const char **parent,
		const char **name);

/** Is @name usable as one name in the store (not empty, ".", "..", no '/',
 * at most STORE_NAME_MAX bytes)? */
bool is_valid_name(const char *name);

/** "/" + @dir + "/" + @name into @buf, without doubling the slash. */
int spath_join(char *buf, size_t len, const char *dir, const char *name);

/* ---- output ------------------------------------------------------------- */

/** Write @s as a JSON string (quoted, escaped) to @f.  Bytes that are not
 * valid UTF-8 become U+DC80..U+DCFF (Python's surrogateescape). */
void json_str(FILE *f, const char *s);

/**
 * Write name or path @s to @f for a line-oriented listing: as is, unless
 * it holds a control byte, '"' or '\\'; then in double quotes with C
 * escapes (\\n, \\t, \\", \\\\, \\ooo), as git quotes paths, so that a name
 * can never fake a line or a field of its own.  UTF-8 and other bytes
 * of 0x80 and above go out as they are.
 */
void name_out(FILE *f, const char *s);

/** Format @n bytes as "1.5 MiB" (or "512 B") into @buf. */
const char *human_size(uint64_t n, char *buf, size_t len);

/** "-rw-r--r--" for @mode into @buf (11 bytes at least). */
const char *mode_string(uint32_t mode, char *buf, size_t len);

/** "file", "directory", "symlink" or "other" for @mode. */
const char *mode_kind(uint32_t mode);

/** @ns as "2024-05-01 12:34:56" in local time (ls -l) into @buf. */
const char *time_local(int64_t ns, char *buf, size_t len);

/** @ns as RFC 3339 UTC with nanoseconds ("2024-05-01T12:34:56.5Z"). */
const char *time_utc(int64_t ns, char *buf, size_t len);

/** Write all of @buf to @fd; 0 or -1 with errno set. */
int write_all(int fd, const void *buf, size_t len);

/* ---- verbosity ---------------------------------------------------------- */

/* pxfs -q (quiet): no progress line, no status lines on stdout ("put 3
 * files ...", "created store ..."; data and --json still come out), only
 * errors logged.  pxfs -v (verbose): the store's informational log lines
 * too; -vv: debug lines. */
#define VERBOSITY_QUIET		(-1)
#define VERBOSITY_NORMAL	0
#define VERBOSITY_VERBOSE	1
#define VERBOSITY_DEBUG		2

/** Set the verbosity of this run (and the store's log level). */
void set_verbosity(int level);
int verbosity(void);

/* ---- progress ----------------------------------------------------------- */

/**
 * A progress line on stderr ("put: 12.0 MiB / 40.0 MiB  30%  95.1 MiB/s"),
 * redrawn a few times a second by a thread, and only when stderr is a
 * terminal; otherwise every call is a cheap no-op.  The bytes done are
 * the sum of the completed files plus the current file offset of the
 * descriptor being read (progress_fd), so no cooperation is needed from
 * the code reading it.
 */
void progress_start(const char *verb, uint64_t total);
/** The descriptor now being read (-1 for none); @done bytes before it. */
void progress_fd(int fd, uint64_t done);
/** Set the figures directly (for work no descriptor shows): @done of
 * @total bytes, 0 for a total not known yet. */
void progress_set(uint64_t done, uint64_t total);
/**
 * A store_progress_fn for store_set_progress(), @verb being the line's
 * verb (a string that outlives the line): the store's first call starts
 * the line (progress_start), so that its rate and ETA count from when
 * the store begins the work; every call sets its figures (progress_set).
 * The store calls it on the thread that called the store.  End the line
 * with progress_end().
 */
void progress_store(void *verb, uint64_t done, uint64_t total);
/** Erase the line and stop the thread.  Safe to call when not started. */
void progress_end(void);

/**
 * For output to @fd that progress cannot follow by its offset (a pipe, a
 * terminal): when a progress line is shown, a pipe whose other end a
 * thread copies to @fd, counting the bytes as done; returns the
 * descriptor to write to instead of @fd.  When no line is shown (stderr
 * is not a terminal, -q) or @fd is a regular file, returns @fd itself
 * and progress_fd(@fd) follows its offset.  -1 on failure, errno set.
 */
int progress_stream(int fd);
/** Close the descriptor progress_stream() returned and wait until the
 * copy is done.  Returns 0, or -1 with errno set when the copy to @fd
 * failed (EPIPE: the reader went away).  A no-op without a stream. */
int progress_stream_end(void);

/* ---- "pxfs link" and "pxfs link --proxystore" ---------------------- */

/**
 * Where "link" makes store path @path (split in place): its directory in
 * @dir and its name in *name.  An existing entry is refused unless
 * @force, a directory always.  Returns 0, or an exit status after the
 * message.
 */
int link_slot(struct store *st, char *path, bool force,
	      struct store_node *dir, const char **name);

/** Make @name in @dir a file standing for object @key of MIME @type,
 * mode 0666 less the umask, owned by the caller.  Returns 0 or an exit
 * status after the message. */
int link_make(struct store *st, const struct store_node *dir,
	      const char *name, const char *key, const char *type,
	      bool force);

#endif /* PXFS_UTIL_H */
