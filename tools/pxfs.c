/* SPDX-License-Identifier: MIT */
/*
 * pxfs.c - main() of the pxfs command: finds the subcommand in a table and
 * runs it, and answers "pxfs help [CMD]", "pxfs CMD --help" and
 * "pxfs --version".  The table holds each command's usage line and help
 * text, so that usage errors, help and (later) the man page say the same.
 *
 * Exit status: 0 success, 1 error (one line on stderr), 2 usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "proxystore.h"
#include "store.h"
#include "util.h"

#ifndef PXFS_VERSION
#define PXFS_VERSION "0.1.0"
#endif

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;	/* after "pxfs " */
	const char *summary;	/* one line for "pxfs help" */
	const char *help;	/* the rest of "pxfs help CMD" */
};

static const struct cmd cmds[] = {
	{ "init", cmd_init,
	  "init [--json] STORE [--chunk-size BYTES] [--level N] "
	  "[--connector file|redis "
	  "--url URL [--prefix P] [--password-file F] [--connect-timeout MS] "
	  "[--command-timeout MS]]",
	  "create a new store",
	  "Create a store in directory STORE (created 0700 if missing; an\n"
	  "existing directory must be empty).  The defaults for later puts:\n"
	  "  --chunk-size BYTES  uncompressed bytes per zstd frame, a power of\n"
	  "                      two from 4K to 64M (suffixes K, M, G); 1M\n"
	  "  --level N           zstd level 1..19; 3\n"
	  "Where the blobs live (the index is always in STORE):\n"
	  "  --connector NAME    file (default: STORE/objects) or redis\n"
	  "  --url URL           redis://HOST[:PORT][/DB], or\n"
	  "                      redis+cluster://HOST:PORT,HOST:PORT,...\n"
	  "  --prefix P          prepended to every Redis key, so stores can\n"
	  "                      share one Redis\n"
	  "  --password-file F   absolute path of a 0600 file holding the\n"
	  "                      Redis password; $PXFS_REDIS_PASSWORD wins\n"
	  "                      over it.  A password is never taken from the\n"
	  "                      command line or written to the config.\n"
	  "  --connect-timeout MS, --command-timeout MS   Redis timeouts\n"
	  "init connects to Redis first: a bad URL, an unreachable server or\n"
	  "a wrong password fail here, and nothing is created.\n"
	  "  --json              {\"store\", \"id\", \"connector\",\n"
	  "                      \"chunk_size\", \"level\"}\n" },
	{ "put", cmd_put,
	  "put STORE SRC... [--to DIR] [--type TYPE] [--level N] "
	  "[--chunk-size BYTES] [--force] [--evict-on-read] "
	  "[--lifetime NAME [--lease SECONDS]] [--json]",
	  "store files and whole trees",
	  "Store files, directories (recursively) and symlinks, like cp -r:\n"
	  "'put S dir' creates /dir/..., and '--to a/b' puts them under /a/b\n"
	  "(created like mkdir -p).  Mode, mtime, uid and gid are kept.  The\n"
	  "whole command is one transaction: on any error nothing is changed.\n"
	  "  --to DIR            directory in the store to put into (/)\n"
	  "  --type TYPE         MIME type of every file (default: detected)\n"
	  "  --level N           zstd level 1..19 (default: the store's)\n"
	  "  --chunk-size BYTES  power of two from 4K to 64M\n"
	  "  --force             replace existing files and symlinks, merge\n"
	  "                      into existing directories (which take the\n"
	  "                      source's mode, owner and mtime)\n"
	  "  --evict-on-read     evict each object after its first complete\n"
	  "                      read (cat, get, a mount); later reads fail.\n"
	  "                      Refused for content the store already holds\n"
	  "                      for other entries, which would lose it\n"
	  "  --lifetime NAME     put the entries in lifetime NAME (created if\n"
	  "                      new): each entry the put makes directly in\n"
	  "                      --to or in a directory it merges into, so\n"
	  "                      'pxfs lifetime end' removes exactly what\n"
	  "                      was put (a directory with all below it);\n"
	  "                      --to directories it makes are not included\n"
	  "  --lease SECONDS     with --lifetime: a new lifetime ends by\n"
	  "                      itself that many seconds from now (an\n"
	  "                      existing one keeps its end)\n"
	  "  --json              {\"store\", \"to\", \"files\", \"dirs\",\n"
	  "                      \"symlinks\", \"bytes\", \"lifetime\" (name\n"
	  "                      or null), \"evict_on_read\"}\n"
	  "A progress line is shown on stderr when it is a terminal.\n" },
	{ "ls", cmd_ls,
	  "ls [-l] [--json] STORE [PATH]",
	  "list a directory",
	  "List the entries of directory PATH (the root by default), sorted\n"
	  "by name; a file or symlink PATH lists itself.\n"
	  "  -l      long format: mode, uid, gid, size, mtime, name, -> target\n"
	  "  --json  {\"path\": \"/d\", \"entries\": [{\"name\", \"kind\"\n"
	  "          (file|directory|symlink), \"mode\" (\"0644\"), \"uid\",\n"
	  "          \"gid\", \"size\", \"mtime\" (RFC 3339 UTC), \"mtime_ns\",\n"
	  "          \"ino\"; files add \"key\" and \"type\"; symlinks add\n"
	  "          \"target\"}]}\n" },
	{ "stat", cmd_stat,
	  "stat [--json] STORE PATH",
	  "show an entry and its object, without fetching",
	  "Show PATH's entry and, for a file, its object, from the index only:\n"
	  "path, kind, type, key, hash, size, stored size, chunk size, chunks,\n"
	  "refs, state, mode, uid, gid, mtime (and target for a symlink).\n"
	  "  --json  {\"path\", \"kind\", \"ino\", \"mode\" (\"0644\"), \"uid\",\n"
	  "          \"gid\", \"size\", \"mtime\", \"mtime_ns\", \"ctime_ns\";\n"
	  "          files add \"type\", \"key\", \"hash\", \"stored_size\",\n"
	  "          \"chunk_size\", \"chunks\", \"refs\", \"pending\",\n"
	  "          \"state\" (pending|ready|evicted|external),\n"
	  "          \"evict_on_read\", \"source\" (string or null);\n"
	  "          symlinks add \"target\"}\n"
	  "A file's state is pending (a future not set yet), ready, evicted\n"
	  "(an evict-on-read object after its first read), or external (a\n"
	  "ProxyStore object at its source, fetched on first read).\n" },
	{ "cat", cmd_cat,
	  "cat STORE PATH...",
	  "write files' content to stdout",
	  "Fetch, decompress and verify each file and write its content to\n"
	  "standard output.  A chunk that does not verify is never written.\n"
	  "A pending future is waited for as its 'pxfs future' options say;\n"
	  "when it is not set in time, cat fails.  An evict-on-read object\n"
	  "is evicted once it has been written out whole: reading it again\n"
	  "fails.  A progress line is shown on stderr when it is a terminal\n"
	  "and standard output is not.\n" },
	{ "get", cmd_get,
	  "get STORE PATH DEST",
	  "copy a file out of the store",
	  "Fetch, decompress and verify file PATH into DEST (a file name, or\n"
	  "an existing directory to write PATH's name in).  The content goes\n"
	  "to a temporary file beside DEST that is renamed over it only when\n"
	  "complete, so a failure leaves no partial file.  Mode and mtime are\n"
	  "kept.  A symlink PATH is recreated as a symlink.  A pending future\n"
	  "is waited for, and an evict-on-read object evicted once DEST is\n"
	  "complete, as for cat.  A progress line is shown on stderr when\n"
	  "it is a terminal.\n" },
	{ "rm", cmd_rm,
	  "rm [-r] STORE PATH...",
	  "remove entries",
	  "Remove files and symlinks; directories need -r, which removes\n"
	  "everything below them.  All PATHs go in one transaction.  Objects\n"
	  "no entry uses any more are removed with their blobs.\n"
	  "  -r, --recursive  remove directories and their contents\n" },
	{ "mv", cmd_mv,
	  "mv STORE SRC DST",
	  "move or rename an entry",
	  "Move SRC to DST; when DST is an existing directory, SRC moves\n"
	  "inside it.  A DST of the same kind (an empty directory, or a\n"
	  "non-directory) is replaced, as rename(2) does.\n" },
	{ "mkdir", cmd_mkdir,
	  "mkdir [-p] STORE PATH",
	  "create a directory",
	  "Create directory PATH.\n"
	  "  -p, --parents  create missing parents; no error if it exists\n" },
	{ "link", cmd_link,
	  "link STORE {KEY|REF|--proxystore LOC UUID} PATH [--type TYPE] "
	  "[--force]",
	  "make an entry for an object the connector already holds",
	  "Make file PATH a proxy for the object KEY (64 hex digits, the\n"
	  "SHA-256 of its content), which the store's connector already\n"
	  "holds (for example, written through another store sharing it).\n"
	  "Instead of KEY, a pxfs://CONNECTOR/object/KEY?... reference\n"
	  "printed by 'pxfs ref' may be given: it must name the same\n"
	  "connector as STORE (the same blob directory, or the same Redis\n"
	  "URL and prefix).  The blob is verified once before the entry is\n"
	  "made.\n"
	  "With --proxystore, PATH is a proxy for the object a Python\n"
	  "ProxyStore put under UUID at LOC instead: file:DIR (its\n"
	  "FileConnector's store_dir; the object needs its UUID.ready\n"
	  "marker) or redis://HOST[:PORT][/DB] (its RedisConnector).  Only\n"
	  "the 3-byte header and the length are read: the size is the\n"
	  "payload's and the type the serializer's (BS, 01: bytes; US, 02:\n"
	  "text; NP: numpy; PL: polars; PD, PK, CP, 03, 04: pickles).  The\n"
	  "first read fetches the payload (trust on first use).\n"
	  "  --proxystore LOC  link ProxyStore object UUID at LOC\n"
	  "  --type TYPE  MIME type (default: the reference's type, else the\n"
	  "               object's detected type, or the serializer's)\n"
	  "  --force      replace an existing file or symlink PATH\n" },
	{ "import", cmd_import,
	  "import [--json] STORE --proxystore file:DIR [--to DIR]",
	  "link every ready object of a ProxyStore directory",
	  "Make an entry named by its UUID for every object of ProxyStore\n"
	  "FileConnector directory DIR that has its .ready marker, as 'link\n"
	  "--proxystore' does: from headers and lengths alone, in one\n"
	  "transaction (a bad object changes nothing).  Objects without\n"
	  "their marker and names already taken are left alone.\n"
	  "  --proxystore file:DIR  the directory (required)\n"
	  "  --to DIR     directory in the store (made like mkdir -p; /)\n"
	  "  --json       {\"store\", \"to\", \"imported\": [{\"path\",\n"
	  "               \"uuid\", \"key\", \"size\", \"type\"}], \"bytes\",\n"
	  "               \"existing\", \"not_ready\"}\n" },
	{ "export", cmd_export,
	  "export [--json] STORE PATH --proxystore LOC",
	  "hand a file to Python ProxyStore; print its key",
	  "Write file PATH's content in ProxyStore's format (serializer id\n"
	  "BS, a newline, the bytes) under a new UUID at LOC and print the\n"
	  "UUID: a ProxyStore Store on LOC gets the bytes with\n"
	  "store.get(FileKey(filename=UUID)) or RedisKey(redis_key=UUID).\n"
	  "The object appears whole or not at all (a temporary renamed into\n"
	  "place, then UUID.ready; a temporary key renamed in one MULTI).\n"
	  "  --proxystore LOC  file:DIR or redis://HOST[:PORT][/DB]\n"
	  "  --json       {\"path\", \"key\", \"size\", \"uuid\",\n"
	  "               \"proxystore\"}\n" },
	{ "publish", cmd_publish,
	  "publish [--json] STORE [--tag NAME]",
	  "share the namespace: publish a snapshot, print its reference",
	  "Write a consistent snapshot of STORE's namespace (its index, zstd\n"
	  "compressed) as an object through the store's connector, keep it\n"
	  "and every object it names from gc, and print a reference to it:\n"
	  "pxfs://CONNECTOR/snapshot/KEY?... ('pxfs mount REF MNT' mounts\n"
	  "it read-only on any machine that reaches the connector).  The\n"
	  "reference names the connector, never a password.\n"
	  "  --tag NAME  also point tag NAME (1 to 64 of A-Z a-z 0-9 . _ -)\n"
	  "              at the snapshot and print the tag's reference,\n"
	  "              pxfs://CONNECTOR/tag/NAME?..., on a second line: it\n"
	  "              reaches whatever was published last under NAME\n"
	  "  --json      {\"store\", \"key\", \"snapshot\" (reference),\n"
	  "              \"tag\" (name or null), \"tag_ref\" (reference or\n"
	  "              null)}\n"
	  "A progress line is shown on stderr when it is a terminal.\n" },
	{ "ref", cmd_ref,
	  "ref [--json] STORE PATH",
	  "print a reference to one file's object",
	  "Print a pxfs://CONNECTOR/object/KEY?...&size=N&type=T reference to\n"
	  "the object of file PATH, from the index only.  'pxfs link' makes\n"
	  "an entry from it in any store on the same connector.  It stays\n"
	  "valid while some store keeps the object.  A ProxyStore object\n"
	  "linked but not read yet has no reference: its bytes are not in\n"
	  "the connector.\n"
	  "  --json  {\"path\", \"key\", \"size\", \"type\", \"ref\"}\n" },
	{ "future", cmd_future,
	  "future [--json] STORE PATH [--timeout S] [--poll MS] "
	  "[--backoff F] [--poll-max MS] [--mode M]",
	  "make a placeholder file for content set later",
	  "Create file PATH as a future: a placeholder for content a producer\n"
	  "sets later with 'pxfs set' (or by writing the file in a mount).\n"
	  "Until then its state is pending, and readers (cat, get, a mount)\n"
	  "block: they check every poll interval, which grows by the backoff\n"
	  "factor up to the maximum, and fail when the timeout has passed.\n"
	  "The policy is recorded with the future, for every reader.  The\n"
	  "parent directory must exist; PATH must not.\n"
	  "  --timeout S    seconds to wait, fractions allowed (60)\n"
	  "  --poll MS      first poll interval, milliseconds (100)\n"
	  "  --backoff F    interval growth factor, 1 to 100 (1.5)\n"
	  "  --poll-max MS  longest poll interval, milliseconds (2000)\n"
	  "  --mode M       octal permissions (0666 less the umask)\n"
	  "  --json         {\"path\", \"key\" (the future's random key),\n"
	  "                 \"state\": \"pending\"}\n" },
	{ "set", cmd_set,
	  "set [--json] STORE PATH FILE [--level N] [--chunk-size BYTES]",
	  "set a future's content",
	  "Fulfil future PATH with the content of FILE ('-' for standard\n"
	  "input), in one transaction: readers waiting for it get the whole\n"
	  "content.  Refused, with the store unchanged, when PATH is not a\n"
	  "pending future (also when it was set already).\n"
	  "  --level N           zstd level 1..19 (default: the store's)\n"
	  "  --chunk-size BYTES  power of two from 4K to 64M\n"
	  "  --json              {\"path\", \"key\", \"size\"}\n" },
	{ "lifetime", cmd_lifetime,
	  "lifetime [--json] {end STORE NAME | extend STORE NAME SECONDS | "
	  "ls STORE}",
	  "end, extend or list lifetimes",
	  "A lifetime is a named group of entries that end together (see\n"
	  "'put --lifetime').  A lease (put --lease) ends by itself at its\n"
	  "time: the next command that changes the store, or a mount, ends\n"
	  "it.\n"
	  "  end STORE NAME      remove the lifetime's entries (directories\n"
	  "                      with all below them) and evict the objects\n"
	  "                      no other entry uses; print how many went\n"
	  "  extend STORE NAME SECONDS\n"
	  "                      make NAME end SECONDS from now (also gives\n"
	  "                      a lifetime without a lease one)\n"
	  "  ls STORE            name, entries and end (RFC 3339 UTC, or\n"
	  "                      never) of each lifetime\n"
	  "  --json  ls: {\"lifetimes\": [{\"name\", \"entries\",\n"
	  "          \"expires\" (RFC 3339 UTC, null for never),\n"
	  "          \"expires_ns\" (0 for never)}]}; end: {\"lifetime\",\n"
	  "          \"removed\", \"evicted\"}; extend: {\"lifetime\",\n"
	  "          \"expires\", \"expires_ns\"}\n" },
	{ "fsck", cmd_fsck,
	  "fsck [--deep] [--json] STORE",
	  "check a store",
	  "Check the index against the connector: missing blobs, blobs no\n"
	  "object names, unreferenced objects, wrong reference counts, file\n"
	  "entries without an object, temp leftovers.  Prints one line per\n"
	  "problem and a summary; exit 1 when anything is wrong.\n"
	  "  --deep  also read and verify every blob\n"
	  "  --json  {\"clean\": bool, \"problems\": [\"...\"], \"nodes\",\n"
	  "          \"objects\", \"blobs\", \"missing\", \"corrupt\",\n"
	  "          \"orphans\", \"unreferenced\", \"bad_refs\", \"dangling\",\n"
	  "          \"leftovers\"}\n" },
	{ "gc", cmd_gc,
	  "gc [--json] STORE",
	  "remove unreferenced objects, orphan blobs and leftovers",
	  "Remove object rows no entry uses, blobs no object names and temp\n"
	  "files of interrupted writes; print each removal and the bytes\n"
	  "freed.\n"
	  "  --json  {\"actions\": [\"...\"], \"removed\",\n"
	  "          \"freed_bytes\"}\n" },
	{ "stats", cmd_stats,
	  "stats [--json|--prometheus] STORE|MNT",
	  "show counts and metrics of a store or a mount",
	  "For a store: entries, objects, bytes (logical, deduplicated and\n"
	  "stored) and the compression ratio.  For a mounted pxfs directory:\n"
	  "the mount's live metrics (the root's user.pxfs.stats document).\n"
	  "  --json  for a store: {\"store\", \"connector\", \"files\",\n"
	  "          \"dirs\", \"symlinks\", \"objects\", \"logical_bytes\",\n"
	  "          \"bytes\", \"stored_bytes\", \"metrics\": {\"conn_gets\",\n"
	  "          \"conn_get_bytes\", \"conn_puts\", \"conn_put_bytes\",\n"
	  "          \"conn_evicts\", \"conn_errors\", \"corrupt\", \"ingested\",\n"
	  "          \"deduped\"}}; for a mount, its document as is\n"
	  "  --prometheus  the same as metrics in the Prometheus text\n"
	  "          format, for node_exporter's textfile collector: a\n"
	  "          mount's pxfs_connector_*, pxfs_cache_*, pxfs_resolves,\n"
	  "          pxfs_errors, pxfs_op_duration_seconds{op} (summary)\n"
	  "          and _max_seconds, labelled mount=\"MNT\"; a store's\n"
	  "          pxfs_store_* gauges, labelled store=\"STORE\"\n" },
	{ "mount", cmd_mount,
	  "mount STORE|REF MNT [-f] [-o ro] [--cache-dir DIR] "
	  "[--cache-size BYTES] [--cache-mode disk|memory] [--allow-other] "
	  "[--follow] [--debug]",
	  "mount a store as a filesystem",
	  "Mount STORE on directory MNT; returns once the mount is ready.\n"
	  "REF, a pxfs:// snapshot or tag reference (see 'pxfs help\n"
	  "publish'), mounts that publication read-only from any machine\n"
	  "that reaches its connector; objects are fetched lazily.\n"
	  "  -f                  stay in the foreground, logging to stderr\n"
	  "  -o ro               read-only\n"
	  "  --cache-dir DIR     where resolved objects are kept (default:\n"
	  "                      $XDG_CACHE_HOME or ~/.cache, else\n"
	  "                      /var/tmp/pxfs-UID, + /pxfs/STORE-ID)\n"
	  "  --cache-size BYTES  cache budget, LRU eviction of objects not\n"
	  "                      open (default: a quarter of the free space,\n"
	  "                      256M to 16G)\n"
	  "  --cache-mode MODE   disk (default): what is read is also\n"
	  "                      written to the cache directory; memory:\n"
	  "                      kept in memory only and fetched again when\n"
	  "                      dropped (for a store on a local disk;\n"
	  "                      resolve still writes the cache)\n"
	  "  --allow-other       let other users see the mount\n"
	  "  --follow            REF is a tag: switch to each new publication\n"
	  "                      (files already open keep their version)\n"
	  "  --debug             log every request\n" },
	{ "umount", cmd_umount,
	  "umount MNT",
	  "unmount a pxfs mount",
	  "Unmount MNT, also when its daemon died.\n" },
	{ "resolve", cmd_resolve,
	  "resolve [--wait] PATH...",
	  "fetch objects into a mount's cache in the background",
	  "Make the mount holding each PATH (a file, or every file below a\n"
	  "directory) materialize its object without reading it, in the\n"
	  "background; afterwards user.pxfs.resolved is 1.  A file named\n"
	  "twice is resolved once.\n"
	  "  --wait  return only once every object is in the cache (a\n"
	  "          progress line on stderr when it is a terminal; with -v\n"
	  "          a line per file, at once for one already resolved).\n"
	  "          When none of the files has been resolved for 2 s, each\n"
	  "          one left is read through the mount (the mount only\n"
	  "          logs a failed background fetch); exit 1 naming each\n"
	  "          file that failed, with the error it gave\n" },
	{ "help", cmd_help,
	  "help [COMMAND]",
	  "show help for pxfs or a command",
	  "Without COMMAND, list the commands; with it, show its usage,\n"
	  "options and --json schema.\n" },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static const struct cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++) {
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	}
	return NULL;
}

const char *cmd_usage_line(const char *verb)
{
	const struct cmd *c = verb ? find_cmd(verb) : NULL;

	return c ? c->usage : NULL;
}

static void print_overview(FILE *f)
{
	fprintf(f, "usage: pxfs [-q|-v] COMMAND [ARGS...]\n"
		"       pxfs help COMMAND | pxfs COMMAND --help | "
		"pxfs --version\n"
		"       pxfs STORE MNT [-o OPTIONS]   (as mount(8) runs it)\n\n"
		"pxfs keeps files as compressed, content-addressed objects in "
		"a store\nand shows them as a filesystem.\n\ncommands:\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nGlobal options: -q, --quiet: no progress or status "
		"lines, errors only;\n-v, --verbose: more log lines (-vv: "
		"debug).\n");
	fprintf(f, "\nExit status: 0 success, 1 error (one line on stderr), "
		"2 usage error.\nPaths inside a store are written a/b or "
		"/a/b; '.' and '..' are refused.\n");
}

static void print_help(const struct cmd *c)
{
	printf("usage: pxfs %s\n\n%s", c->usage, c->help);
}

int cmd_help(int argc, char **argv)
{
	const struct cmd *c;

	if (argc == 1) {
		print_overview(stdout);
		return EXIT_OK;
	}
	if (argc > 2)
		return usage_errorf("help", "too many arguments");
	c = find_cmd(argv[1]);
	if (!c)
		return usage_errorf("help", "unknown command '%s'", argv[1]);
	print_help(c);
	return EXIT_OK;
}

/* Does argv ask for help ("--help" before a "--")? */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	const struct cmd *c;
	int level = VERBOSITY_NORMAL;
	int rc;

	/* global options, before the command */
	while (argc > 1 && argv[1][0] == '-') {
		if (strcmp(argv[1], "-q") == 0 ||
		    strcmp(argv[1], "--quiet") == 0)
			level = VERBOSITY_QUIET;
		else if (strcmp(argv[1], "-v") == 0 ||
			 strcmp(argv[1], "--verbose") == 0)
			level = level < VERBOSITY_NORMAL ? VERBOSITY_VERBOSE :
				level + 1;
		else if (strcmp(argv[1], "-vv") == 0)
			level = VERBOSITY_DEBUG;
		else
			break;
		argc--;
		argv++;
	}
	set_verbosity(level);
	if (argc < 2) {
		print_overview(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("pxfs %s\n", PXFS_VERSION);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_overview(stdout);
		return EXIT_OK;
	}
	if (argv[1][0] == '-') {
		errorf(NULL, "unknown option '%s'", argv[1]);
		fprintf(stderr, "usage: pxfs [-q|-v] COMMAND [ARGS...] "
			"(see 'pxfs help')\n");
		return EXIT_USAGE;
	}
	c = find_cmd(argv[1]);
	if (!c && mount_helper_wanted(argc, argv))
		return mount_helper(argc - 1, argv + 1);
	if (!c) {
		errorf(NULL, "unknown command '%s'", argv[1]);
		fprintf(stderr, "usage: pxfs [-q|-v] COMMAND [ARGS...] "
			"(see 'pxfs help')\n");
		return EXIT_USAGE;
	}
	if (wants_help(argc - 1, argv + 1)) {
		print_help(c);
		return EXIT_OK;
	}
	rc = c->fn(argc - 1, argv + 1);
	/* Data on stdout that did not reach its file is an error too
	 * ("pxfs ls S > /dev/full"). */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (rc == EXIT_OK)
			rc = errorf(c->name, "cannot write to standard "
				    "output: %s", strerror(errno));
	}
	return rc;
}
