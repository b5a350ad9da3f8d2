/* SPDX-License-Identifier: MIT */
/*
 * main.c - the life of a mount: check, mount, daemonize, serve, unmount.
 *
 * Everything that can fail for a reason the user must hear about (no such
 * store, not a store, cache directory unusable) is checked before the
 * kernel mount, while stderr is still the terminal.  SQLite handles must
 * not cross fork(), so the store is opened once to check it, closed, and
 * opened again for serving only after fuse_daemonize().  The cache
 * directory is prepared (and locked) before the fork; its flock belongs to
 * the open file, which the child inherits.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <unistd.h>

#include "store.h"
#include "fs_int.h"
#include "cache.h"
#include "inode.h"
#include "follow.h"
#include "write.h"

#define FS_TIMEOUT	3600.0		/* entry/attr timeout, seconds */
#define FS_MAX_THREADS	128		/* opens block while fetching */

/* Where log lines go: set before any thread starts, then read only.
 * Until the mount is ready a line is the command's error, and says so. */
static bool log_to_syslog;
static int log_max = LOG_NOTICE;
static const char *log_prefix = "pxfs: mount: ";

static void log_line(int level, const char *fmt, va_list ap)
{
	char line[2048];
	size_t n;

	if (level > log_max)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (log_to_syslog)
		syslog(level, "%s", line);
	else	/* one write(2) per line keeps lines whole across threads */
		dprintf(STDERR_FILENO, "%s%s\n", log_prefix, line);
}

static void store_sink(enum store_log_level level, const char *fmt,
		       va_list ap)
{
	log_line((int)level, fmt, ap);
}

static void fuse_sink(enum fuse_log_level level, const char *fmt, va_list ap)
{
	log_line((int)level, fmt, ap);
}

/* mkdir -p, 0700 for what is created. */
static int make_dirs(const char *path)
{
	char buf[PATH_MAX], *s;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return ENAMETOOLONG;
	for (s = buf + 1; ; s++) {
		char ch = *s;

		if (ch != '/' && ch != '\0')
			continue;
		*s = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return errno;
		*s = ch;
		if (ch == '\0')
			return 0;
	}
}

/* Can @dir be created (or is it there) and written by us? */
static bool usable_dir(const char *dir)
{
	return make_dirs(dir) == 0 && access(dir, W_OK | X_OK) == 0;
}

/*
 * The default cache directory of store @id: $XDG_CACHE_HOME/pxfs/<id>,
 * else $HOME/.cache/pxfs/<id>, else /var/tmp/pxfs-<uid>/<id>.  /var/tmp
 * is shared by all users, hence the per-user directory, which must be a
 * real directory of ours (not somebody's symlink).
 */
static int default_cache_dir(const char *id, char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	char base[PATH_MAX];
	struct stat sb;

	if (xdg && xdg[0] == '/') {
		snprintf(buf, len, "%s/pxfs/%s", xdg, id);
		if (usable_dir(buf))
			return 0;
	}
	if (home && home[0] == '/') {
		snprintf(buf, len, "%s/.cache/pxfs/%s", home, id);
		if (usable_dir(buf))
			return 0;
	}
	snprintf(base, sizeof(base), "/var/tmp/pxfs-%lu",
		 (unsigned long)getuid());
	if (mkdir(base, 0700) < 0 && errno != EEXIST)
		return errno;
	if (lstat(base, &sb) < 0)
		return errno;
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != getuid() ||
	    (sb.st_mode & 0077))
		return EPERM;
	if (snprintf(buf, len, "%s/%s", base, id) >= (int)len)
		return ENAMETOOLONG;
	return 0;
}

/* A quarter of the free space, within [FS_CACHE_SIZE_MIN, _MAX]. */
static uint64_t default_budget(const char *dir)
{
	struct statvfs sv;
	uint64_t b;

	if (statvfs(dir, &sv) < 0)
		return FS_CACHE_SIZE_MIN;
	b = (uint64_t)sv.f_bavail * sv.f_frsize / 4;
	if (b < FS_CACHE_SIZE_MIN)
		b = FS_CACHE_SIZE_MIN;
	if (b > FS_CACHE_SIZE_MAX)
		b = FS_CACHE_SIZE_MAX;
	return b;
}

/* Append @s to @buf with ',' and '\' escaped for a -o option list. */
static void opt_escape(char *buf, size_t len, const char *s)
{
	size_t n = strlen(buf);

	for (; *s && n + 2 < len; s++) {
		if (*s == ',' || *s == '\\')
			buf[n++] = '\\';
		buf[n++] = *s;
	}
	buf[n] = '\0';
}

static void raise_nofile(void)
{
	struct rlimit rl;

	/* one descriptor per open object: take what we may */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Open and close the store: its errors come out before the mount. */
static int check_store(const char *path, char **id)
{
	struct store *st = NULL;
	store_rc rc;

	rc = store_open(path, STORE_OPEN_RDONLY, &st);
	if (rc != STORE_OK) {
		store_log(STORE_LOG_ERR, "cannot open store '%s': %s", path,
			  store_last_error()[0] ? store_last_error() :
			  store_rc_str(rc));
		return 1;
	}
	*id = strdup(store_id(st));
	store_close(st);
	if (!*id) {
		store_log(STORE_LOG_ERR, "out of memory");
		return 1;
	}
	return 0;
}

static int serve(struct fuse_session *se, struct fs *fs, const char *store,
		 const struct fs_opts *o)
{
	struct fuse_loop_config *cfg;
	struct fs_follow *follow = NULL;
	bool read_only = o->read_only;
	store_rc rc;
	int ret;

	rc = store_open(store, read_only ? STORE_OPEN_RDONLY : 0, &fs->st);
	if (rc != STORE_OK && !read_only) {
		/* a store we may not change (its directory is not ours):
		 * serve it read-only */
		read_only = true;
		rc = store_open(store, STORE_OPEN_RDONLY, &fs->st);
	}
	if (rc != STORE_OK) {
		store_log(STORE_LOG_ERR, "cannot open store '%s': %s", store,
			  store_last_error());
		return 1;
	}
	/* evict-on-read objects go once this mount has all of them */
	fs_cache_set_complete_hook(fs->cache, fs_write_object_complete, fs);
	/* the first cold read would pay for the first use of each library */
	store_warm(fs->st);
	if (fs_cache_start(fs->cache, fs->st) != 0)
		return 1;
	/* writes, and the watcher that follows others' changes */
	if (fs_write_start(fs, se, store, read_only) != 0) {
		fs_write_stop(fs);
		return 1;
	}
	if (o->follow && fs_follow_start(fs->st, o->follow, 0, &follow) != 0) {
		fs_write_stop(fs);
		return 1;
	}
	cfg = fuse_loop_cfg_create();
	if (!cfg) {
		store_log(STORE_LOG_ERR, "out of memory");
		fs_follow_stop(follow);
		fs_write_stop(fs);
		return 1;
	}
	fuse_loop_cfg_set_max_threads(cfg, FS_MAX_THREADS);
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	store_log(STORE_LOG_NOTICE, "serving '%s' (cache '%s')", store,
		  fs_cache_dir(fs->cache));
	/* 0 when unmounted, the signal's number after SIGTERM and the like
	 * (both clean), a negative errno when the connection failed */
	ret = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	fs_follow_stop(follow);
	fs_write_stop(fs);
	return ret < 0 ? 1 : 0;
}

int fs_main(const struct fs_opts *o)
{
	char store[PATH_MAX], mnt[PATH_MAX], cdir[PATH_MAX], opts[3 * PATH_MAX];
	char a_prog[] = "pxfs", a_opt[] = "-o", a_debug[] = "-d";
	char *argv[4], *id = NULL;
	struct fuse_args args;
	struct fuse_session *se = NULL;
	struct fs fs;
	uint64_t budget;
	int ret = 1, rc;

	memset(&fs, 0, sizeof(fs));
	pthread_mutex_init(&fs.hlock, NULL);
	log_max = o->debug ? LOG_DEBUG : LOG_INFO;
	store_set_log(store_sink, o->debug ? STORE_LOG_DEBUG : STORE_LOG_INFO);
	fuse_set_log_func(fuse_sink);

	/* fuse_daemonize() moves to "/": every path must be absolute */
	if (!realpath(o->store, store)) {
		store_log(STORE_LOG_ERR, "cannot open store '%s': %s",
			  o->store, strerror(errno));
		return 1;
	}
	if (!realpath(o->mountpoint, mnt)) {
		store_log(STORE_LOG_ERR, "cannot use mountpoint '%s': %s",
			  o->mountpoint, strerror(errno));
		return 1;
	}
	if (check_store(store, &id) != 0)
		return 1;
	if (o->cache_dir && o->cache_dir[0] == '/') {
		snprintf(cdir, sizeof(cdir), "%s", o->cache_dir);
	} else if (o->cache_dir) {
		if (!getcwd(cdir, sizeof(cdir))) {
			store_log(STORE_LOG_ERR, "cannot use cache directory "
				  "'%s': %s", o->cache_dir, strerror(errno));
			goto out;
		}
		snprintf(cdir + strlen(cdir), sizeof(cdir) - strlen(cdir),
			 "/%s", o->cache_dir);
	} else {
		rc = default_cache_dir(id, cdir, sizeof(cdir));
		if (rc) {
			store_log(STORE_LOG_ERR, "no usable cache directory "
				  "(tried $XDG_CACHE_HOME, $HOME/.cache, "
				  "/var/tmp): %s; use --cache-dir",
				  strerror(rc));
			goto out;
		}
	}
	/* for statvfs; a failure is reported by fs_cache_open() */
	(void)make_dirs(cdir);
	budget = o->cache_size ? o->cache_size : default_budget(cdir);
	if (fs_cache_open(cdir, budget, &fs.cache) != 0)
		goto out;
	fs_cache_set_memory(fs.cache, o->cache_memory);
	fs.inodes = fs_inode_table_new();
	if (!fs.inodes) {
		store_log(STORE_LOG_ERR, "out of memory");
		goto out;
	}
	fs.timeout = FS_TIMEOUT;
	fs.start_ns = fs_now_ns();
	raise_nofile();

	snprintf(opts, sizeof(opts), "default_permissions,subtype=pxfs,"
		 "max_read=%u,fsname=pxfs:", FS_MAX_READ);
	opt_escape(opts, sizeof(opts), store);
	if (o->allow_other)
		strncat(opts, ",allow_other", sizeof(opts) - strlen(opts) - 1);
	if (o->read_only)
		strncat(opts, ",ro", sizeof(opts) - strlen(opts) - 1);
	argv[0] = a_prog;
	argv[1] = a_opt;
	argv[2] = opts;
	argv[3] = a_debug;
	args.argc = o->debug ? 4 : 3;
	args.argv = argv;
	args.allocated = 0;
	se = fs_session_new(&args, &fs);
	fuse_opt_free_args(&args);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	if (fuse_session_mount(se, mnt) != 0) {
		store_log(STORE_LOG_ERR, "cannot mount '%s' on '%s'", store,
			  mnt);
		goto out_signals;
	}
	if (fuse_daemonize(o->foreground) != 0)
		goto out_unmount;
	/* only the serving process gets here when daemonized */
	log_prefix = "pxfs: ";
	if (!o->foreground) {
		openlog("pxfs", LOG_PID, LOG_DAEMON);
		log_to_syslog = true;
	}
	ret = serve(se, &fs, store, o);
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);	/* calls destroy: frees fs.inodes */
out:
	fs_release_all(&fs);		/* the kernel's open files: gone */
	fs_write_free(fs.write);	/* after destroy: no request is left */
	fs_inode_table_free(fs.inodes);
	fs_cache_close(fs.cache);
	store_close(fs.st);
	pthread_mutex_destroy(&fs.hlock);
	free(id);
	if (log_to_syslog)
		closelog();
	return ret;
}
