/* SPDX-License-Identifier: MIT */
/*
 * proxystore.h - the pxfs command's side of ProxyStore interop: "link
 * --proxystore", "import" and "export" (tools/proxystore.c,
 * tools/cmd_import.c, tools/cmd_export.c).  The format and the lazy fetch
 * live in the store (store/external.c); this is option handling and
 * messages.
 */
#ifndef PXFS_PROXYSTORE_H
#define PXFS_PROXYSTORE_H

#include <stdbool.h>

#include "store.h"

/** Does @argv (a subcommand's, argv[0] the verb) give --proxystore before
 * a "--"? */
bool proxystore_wanted(int argc, char **argv);

/**
 * "pxfs link STORE --proxystore LOC UUID PATH [--type T] [--force]":
 * make file PATH a proxy for ProxyStore object UUID at LOC (file:DIR or
 * redis://HOST:PORT[/DB]), from its header and length alone.  Returns the
 * exit status.
 */
int proxystore_link(int argc, char **argv);

/** Parse --proxystore @spec into @out, printing the error for @verb.
 * Returns 0 or -1. */
int proxystore_opt(const char *verb, const char *spec, struct store_ps *out);

/**
 * Create every directory of @path (normalised, from spath_norm) that is
 * missing, owned by the caller, and put its ino in *ino.  Prints the
 * error for @verb and returns -1 when a component is not a directory.
 */
int proxystore_mkdirs(const char *verb, struct store *st, const char *path,
		      uint64_t *ino);

int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif /* PXFS_PROXYSTORE_H */
