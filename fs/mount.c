/* SPDX-License-Identifier: MIT */
/*
 * mount.c - unmounting from outside the daemon (pxfs umount): umount2()
 * as root, the setuid fusermount3 for an ordinary user, whose one-line
 * complaint becomes the reason we report.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs_int.h"

#define FUSERMOUNT	"fusermount3"

extern char **environ;

/*
 * Run fusermount3 with @args (NULL-terminated, after the program name).
 * Returns its exit status, or -1 if it could not run, and the last line
 * it wrote on stderr (without its "fusermount3: " prefix) in @msg.
 */
static int run_fusermount(char *const args[], char *msg, size_t len)
{
	char *argv[8], name[] = FUSERMOUNT, buf[2048], *line, *nl;
	posix_spawn_file_actions_t fa;
	int pfd[2], status = 0, i, rc;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	msg[0] = '\0';
	argv[0] = name;
	for (i = 0; args[i] && i < 6; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(msg, len, "%s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], STDERR_FILENO);
	rc = posix_spawnp(&pid, FUSERMOUNT, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		snprintf(msg, len, "cannot run %s: %s", FUSERMOUNT,
			 strerror(rc));
		return -1;
	}
	for (;;) {
		n = read(pfd[0], buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf) - 1)
			got = 0;	/* keep the tail: the last line counts */
	}
	buf[got] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	while (got > 0 && buf[got - 1] == '\n')
		buf[--got] = '\0';
	line = buf;
	while ((nl = strchr(line, '\n')))
		line = nl + 1;
	if (strncmp(line, FUSERMOUNT ": ", strlen(FUSERMOUNT) + 2) == 0)
		line += strlen(FUSERMOUNT) + 2;
	snprintf(msg, len, "%s", line);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int fs_unmount(const char *mnt, bool lazy, char *msg, size_t len)
{
	char uflag[] = "-u", zflag[] = "-z", dashes[] = "--", *args[5];
	char *m;
	int n = 0, rc;

	msg[0] = '\0';
	if (geteuid() == 0) {
		if (umount2(mnt, lazy ? MNT_DETACH : 0) == 0)
			return 0;
		snprintf(msg, len, "%s", strerror(errno));
		return -1;
	}
	m = strdup(mnt);
	if (!m) {
		snprintf(msg, len, "%s", strerror(ENOMEM));
		return -1;
	}
	args[n++] = uflag;
	if (lazy)
		args[n++] = zflag;
	args[n++] = dashes;
	args[n++] = m;
	args[n] = NULL;
	rc = run_fusermount(args, msg, len);
	free(m);
	if (rc == 0)
		return 0;
	if (!msg[0])
		snprintf(msg, len, "%s failed", FUSERMOUNT);
	return -1;
}
