/* SPDX-License-Identifier: MIT */
/*
 * cmds.h - the subcommands of the pxfs command.  Each cmd_<verb>() takes
 * the arguments after the verb (argv[0] is the verb) and returns the exit
 * status: 0 success, 1 error (one line on stderr already printed), 2 usage
 * error (the usage line already printed).
 */
#ifndef PXFS_CMDS_H
#define PXFS_CMDS_H

#include <stdbool.h>
#include <stddef.h>

int cmd_init(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_mv(int argc, char **argv);
int cmd_mkdir(int argc, char **argv);
int cmd_link(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_future(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_lifetime(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_ref(int argc, char **argv);
int cmd_help(int argc, char **argv);

/* tools/cmd_mount.c: the mount side (fs/) */
int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_resolve(int argc, char **argv);

/**
 * tools/ref_mount.c: when @arg (a mount's STORE operand) is a pxfs://
 * snapshot or tag reference, resolve a tag to its snapshot, fetch and
 * verify the snapshot once into the user's cache ($XDG_CACHE_HOME/pxfs/refs
 * or ~/.cache/pxfs/refs, else /var/tmp/pxfs-UID/refs) and write the
 * directory of that local read-only snapshot store into @store_dir (@cap
 * bytes).  Returns 0 then; 1 when @arg is not a reference (nothing done);
 * -1 after printing one error line for @verb (a bad or object reference,
 * an unreachable connector, a missing or corrupt snapshot).
 */
int ref_prepare_mount(const char *verb, const char *arg, char *store_dir,
		      size_t cap);

/*
 * tools/mount_helper.c: "pxfs STORE MNT [-o OPTS]", the command line
 * mount(8) (through mount.fuse3 or mount.fuse.pxfs) gives a helper for
 * type fuse.pxfs.  wanted: does @argv (pxfs's own) look like one (a
 * STORE with a slash, or a pxfs:// reference, and a MNT)?  mount_helper
 * takes the arguments after "pxfs" and returns the exit status.
 */
bool mount_helper_wanted(int argc, char **argv);
int mount_helper(int argc, char **argv);

#endif /* PXFS_CMDS_H */
