/* SPDX-License-Identifier: MIT */
/*
 * cmd_get.c - "pxfs get STORE PATH DEST": copy a file out of the store.
 *
 * The content goes to a temporary file in DEST's directory, which is
 * fsynced and renamed over DEST only once the store has verified every
 * byte: a failure (or a signal) leaves neither a partial DEST nor the
 * temporary file.  A pending future is waited for; an evict-on-read
 * object is evicted once DEST is in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

static const struct option no_opts[] = { { NULL, 0, NULL, 0 } };

/* The temporary file to remove if a signal ends us (empty: none). */
static char tmp_path[SPATH_MAX + 64];
static volatile sig_atomic_t tmp_live;

static void on_signal(int sig)
{
	if (tmp_live)
		unlink(tmp_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void trap_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
}

/*
 * The final name: DEST itself, or DEST/NAME when DEST is a directory.
 * @dir gets the directory the file lands in, for the temporary.
 */
static int dest_name(const char *dest, const char *name, char *out,
		     size_t len, char *dir, size_t dlen)
{
	struct stat sb;
	const char *slash;
	int n;

	if (stat(dest, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		n = snprintf(out, len, "%s%s%s", dest,
			     dest[strlen(dest) - 1] == '/' ? "" : "/", name);
		if (n < 0 || (size_t)n >= len)
			return errorf("get", "destination '%s/%s' is too "
				      "long", dest, name);
		snprintf(dir, dlen, "%s", dest);
		return 0;
	}
	n = snprintf(out, len, "%s", dest);
	if (n < 0 || (size_t)n >= len)
		return errorf("get", "destination '%s' is too long", dest);
	slash = strrchr(dest, '/');
	if (!slash)
		snprintf(dir, dlen, ".");
	else if (slash == dest)
		snprintf(dir, dlen, "/");
	else
		snprintf(dir, dlen, "%.*s", (int)(slash - dest), dest);
	return 0;
}

static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);	/* the rename's durability; best effort */
		close(fd);
	}
}

/* A temporary name in @dir: "@dir/.pxfs-get-XXXXXX", made by mkstemp. */
static int make_temp(const char *dir, const char *final)
{
	int n = snprintf(tmp_path, sizeof(tmp_path), "%s/.pxfs-get-XXXXXX",
			 dir);
	int fd;

	if (n < 0 || (size_t)n >= sizeof(tmp_path)) {
		errorf("get", "destination '%s' is too long", final);
		return -1;
	}
	fd = mkstemp(tmp_path);
	if (fd < 0) {
		errorf("get", "cannot write '%s': %s", final,
		       strerror(errno));
		return -1;
	}
	tmp_live = 1;
	return fd;
}

static void drop_temp(void)
{
	if (tmp_live) {
		unlink(tmp_path);
		tmp_live = 0;
	}
}

static int get_file(struct store *st, const char *path,
		    const struct store_node *n, const char *final,
		    const char *dir)
{
	struct timespec ts[2] = {
		{ .tv_nsec = UTIME_OMIT },
		{ .tv_sec = n->mtime_ns / 1000000000,
		  .tv_nsec = n->mtime_ns % 1000000000 },
	};
	char h[32];
	store_rc rc;
	int ret = 0;
	int fd;

	if (ts[1].tv_nsec < 0) {
		ts[1].tv_nsec += 1000000000;
		ts[1].tv_sec--;
	}
	fd = make_temp(dir, final);
	if (fd < 0)
		return EXIT_ERR;
	progress_start("get", n->size);
	progress_fd(fd, 0);
	rc = export_node(st, n, fd, path);
	progress_end();
	if (rc != STORE_OK) {
		ret = store_error("get", rc);
		goto out;
	}
	if (fchmod(fd, n->mode & 07777) < 0 || futimens(fd, ts) < 0 ||
	    fsync(fd) < 0) {
		ret = errorf("get", "cannot write '%s': %s", final,
			     strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = errorf("get", "cannot write '%s': %s", final,
			     strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp_path, final) < 0) {
		ret = errorf("get", "cannot write '%s': %s", final,
			     strerror(errno));
		goto out;
	}
	tmp_live = 0;
	sync_dir(dir);
	/* said once DEST is in place: a failure above says otherwise */
	infof("get", "'%s' -> '%s': %s, key %s", path, final,
	      human_size(n->size, h, sizeof(h)), n->key);
out:
	if (fd >= 0)
		close(fd);
	drop_temp();
	return ret;
}

static int get_symlink(struct store *st, const struct store_node *n,
		       const char *final, const char *dir)
{
	struct timespec ts[2] = {
		{ .tv_nsec = UTIME_OMIT },
		{ .tv_sec = n->mtime_ns / 1000000000,
		  .tv_nsec = n->mtime_ns % 1000000000 },
	};
	char *target = malloc((size_t)n->size + 1);
	store_rc rc;
	int ret = 0;
	int fd;

	if (!target)
		return errorf("get", "out of memory");
	if (ts[1].tv_nsec < 0) {
		ts[1].tv_nsec += 1000000000;
		ts[1].tv_sec--;
	}
	rc = store_readlink(st, n->ino, target, (size_t)n->size + 1);
	if (rc != STORE_OK) {
		ret = store_error("get", rc);
		goto out;
	}
	/* mkstemp reserves a fresh name; the symlink takes its place. */
	fd = make_temp(dir, final);
	if (fd < 0) {
		ret = EXIT_ERR;
		goto out;
	}
	close(fd);
	if (unlink(tmp_path) < 0 || symlink(target, tmp_path) < 0) {
		ret = errorf("get", "cannot write '%s': %s", final,
			     strerror(errno));
		goto out;
	}
	utimensat(AT_FDCWD, tmp_path, ts, AT_SYMLINK_NOFOLLOW);
	if (rename(tmp_path, final) < 0) {
		ret = errorf("get", "cannot write '%s': %s", final,
			     strerror(errno));
		goto out;
	}
	tmp_live = 0;
	sync_dir(dir);
out:
	drop_temp();
	free(target);
	return ret;
}

int cmd_get(int argc, char **argv)
{
	char path[SPATH_MAX], final[SPATH_MAX], dir[SPATH_MAX];
	struct store *st = NULL;
	struct store_node n;
	struct stat sb;
	store_rc rc;
	int ret;

	if (getopt_cmd(argc, argv, "", no_opts) != -1)
		return EXIT_USAGE;
	if (argc - optind != 3)
		return usage_errorf("get", argc - optind < 3 ?
				    "missing STORE, PATH or DEST" :
				    "too many arguments");
	if (spath_norm("get", argv[optind + 1], path, sizeof(path)) < 0)
		return EXIT_ERR;
	if (open_store("get", argv[optind], STORE_OPEN_RDONLY, &st) < 0)
		return EXIT_ERR;
	rc = store_walk(st, path, &n);
	if (rc != STORE_OK) {
		ret = store_error("get", rc);
		goto out;
	}
	if (S_ISDIR(n.mode)) {
		ret = errorf("get", "cannot get '%s': is a directory", path);
		goto out;
	}
	ret = dest_name(argv[optind + 2], n.name, final, sizeof(final), dir,
			sizeof(dir));
	if (ret != 0)
		goto out;
	if (lstat(final, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		ret = errorf("get", "cannot overwrite directory '%s'", final);
		goto out;
	}
	/* DEST is checked first: waiting may take a while. */
	ret = wait_ready("get", st, path, &n);
	if (ret != 0)
		goto out;
	trap_signals();
	if (S_ISLNK(n.mode)) {
		ret = get_symlink(st, &n, final, dir);
	} else {
		ret = get_file(st, path, &n, final, dir);
		if (ret == 0)
			ret = evict_if_read_once("get", st, n.key);
	}
out:
	store_close(st);
	return ret;
}
