/* SPDX-License-Identifier: MIT */
/*
 * cmds.h - the subcommands of the pxfs command.  Each cmd_<verb>() takes
 * the arguments after the verb (argv[0] is the verb) and returns the exit
 * status: 0 success, 1 error (one line on stderr already printed), 2 usage
 * error (the usage line already printed).
 */
#ifndef PXFS_CMDS_H
#define PXFS_CMDS_H

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


#endif /* PXFS_CMDS_H */
