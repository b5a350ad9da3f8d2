/* SPDX-License-Identifier: MIT */
/*
 * cmd_mount.c - the mount side of the pxfs command: "pxfs mount",
 * "pxfs umount" and "pxfs resolve".
 *
 * mount checks what a user can get wrong (the store, the mountpoint)
 * before anything is mounted, then hands over to fs_main(), which returns
 * in the parent once the mount is ready.  umount unmounts with umount2()
 * as root and fusermount3 otherwise, lazily for a mount whose daemon died,
 * and waits for the daemon to finish.  resolve asks a mount, through the
 * xattr user.pxfs.resolve, to materialize objects in the background, and
 * with --wait watches until they are.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "fs.h"
#include "store.h"
#include "util.h"

#define FUSE_MAGIC	0x65735546	/* statfs f_type of every FUSE fs */
#define XATTR_STATS	"user.pxfs.stats"
#define XATTR_RESOLVE	"user.pxfs.resolve"
#define DAEMON_WAIT_MS	30000	/* how long umount waits for the daemon */

/* ---- mount ------------------------------------------------------------- */

enum {
	OPT_CACHE_DIR = 256,
	OPT_CACHE_SIZE,
	OPT_CACHE_MODE,
	OPT_ALLOW_OTHER,
	OPT_DEBUG,
	OPT_FOLLOW,
};

static const struct option mount_longopts[] = {
	{ "foreground", no_argument, NULL, 'f' },
	{ "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
	{ "cache-size", required_argument, NULL, OPT_CACHE_SIZE },
	{ "cache-mode", required_argument, NULL, OPT_CACHE_MODE },
	{ "allow-other", no_argument, NULL, OPT_ALLOW_OTHER },
	{ "debug", no_argument, NULL, OPT_DEBUG },
	{ "follow", no_argument, NULL, OPT_FOLLOW },
	{ NULL, 0, NULL, 0 },
};

/* -o LIST: the mount options we know. */
static int parse_o(const char *list, struct fs_opts *o)
{
	char buf[256], *save = NULL, *tok;

	if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf))
		return usage_errorf("mount", "mount options too long");
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "ro") == 0)
			o->read_only = true;
		else if (strcmp(tok, "rw") == 0)
			o->read_only = false;
		else if (strcmp(tok, "allow_other") == 0)
			o->allow_other = true;
		else
			return usage_errorf("mount", "unknown mount option "
					    "'%s'", tok);
	}
	return 0;
}

/* The mountpoint must be an empty directory we can see. */
static int mounted_type(const char *mnt, char *type, size_t len);

static int check_mountpoint(const char *mnt)
{
	char real[PATH_MAX], type[256];
	struct dirent *d;
	struct stat sb;
	DIR *dp;
	int rc = 0;

	if (stat(mnt, &sb) < 0) {
		if (errno == ENOENT)
			return errorf("mount", "mountpoint '%s' does not "
				      "exist", mnt);
		if (errno == ENOTCONN)
			return errorf("mount", "mountpoint '%s' is a mount "
				      "whose daemon died (run 'pxfs umount "
				      "%s')", mnt, mnt);
		return errorf("mount", "cannot use mountpoint '%s': %s", mnt,
			      strerror(errno));
	}
	if (!S_ISDIR(sb.st_mode))
		return errorf("mount", "mountpoint '%s' is not a directory",
			      mnt);
	dp = opendir(mnt);
	if (!dp && errno == ENOTCONN)
		return errorf("mount", "mountpoint '%s' is a mount whose "
			      "daemon died (run 'pxfs umount %s')", mnt, mnt);
	if (!dp)
		return errorf("mount", "cannot read mountpoint '%s': %s", mnt,
			      strerror(errno));
	/* a live mount there: say so, rather than that it is not empty */
	if (realpath(mnt, real) &&
	    mounted_type(real, type, sizeof(type)) == 0 &&
	    strcmp(type, "fuse.pxfs") == 0) {
		closedir(dp);
		return errorf("mount", "mountpoint '%s' is already a pxfs "
			      "mount (run 'pxfs umount %s' first)", mnt, mnt);
	}
	while ((d = readdir(dp))) {
		if (strcmp(d->d_name, ".") != 0 &&
		    strcmp(d->d_name, "..") != 0) {
			rc = errorf("mount", "mountpoint '%s' is not empty",
				    mnt);
			break;
		}
	}
	closedir(dp);
	return rc;
}

/* Does /etc/fuse.conf let users ask for allow_other? */
static bool has_user_allow_other(void)
{
	char line[512], word[64];
	bool yes = false;
	FILE *f;

	f = fopen("/etc/fuse.conf", "re");
	if (!f)
		return false;
	while (!yes && fgets(line, sizeof(line), f))
		yes = sscanf(line, " %63s", word) == 1 &&
		      strcmp(word, "user_allow_other") == 0;
	fclose(f);
	return yes;
}

/*
 * What only the mount itself would find out, in two lines of libfuse's
 * and fusermount3's: /dev/fuse closed to the caller, and allow_other
 * asked for by a user where /etc/fuse.conf does not allow it.
 */
static int check_fuse(bool allow_other)
{
	int fd;

	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errorf("mount", "cannot open /dev/fuse: %s",
			      strerror(errno));
	close(fd);
	if (allow_other && geteuid() != 0 && !has_user_allow_other())
		return errorf("mount", "--allow-other needs 'user_allow_other'"
			      " in /etc/fuse.conf (or root)");
	return 0;
}

int cmd_mount(int argc, char **argv)
{
	struct fs_opts o;
	struct store *st = NULL;
	char snapdir[PATH_MAX];
	struct store_ref ref;
	bool follow = false;
	store_rc rc;
	int c, r;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_cmd(argc, argv, "fo:", mount_longopts)) != -1) {
		switch (c) {
		case 'f':
			o.foreground = true;
			break;
		case 'o':
			if (parse_o(optarg, &o) != 0)
				return EXIT_USAGE;
			break;
		case OPT_CACHE_DIR:
			if (optarg[0] == '\0')
				return usage_errorf("mount", "empty "
						    "--cache-dir");
			o.cache_dir = optarg;
			break;
		case OPT_CACHE_SIZE:
			if (parse_size(optarg, &o.cache_size) != 0 ||
			    o.cache_size == 0)
				return usage_errorf("mount", "bad --cache-size "
						    "'%s' (bytes, suffixes K, "
						    "M, G, T)", optarg);
			break;
		case OPT_CACHE_MODE:
			if (strcmp(optarg, "disk") == 0)
				o.cache_memory = false;
			else if (strcmp(optarg, "memory") == 0)
				o.cache_memory = true;
			else
				return usage_errorf("mount", "bad --cache-mode "
						    "'%s' (disk or memory)",
						    optarg);
			break;
		case OPT_ALLOW_OTHER:
			o.allow_other = true;
			break;
		case OPT_DEBUG:
			o.debug = true;
			break;
		case OPT_FOLLOW:
			follow = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return usage_errorf("mount", "need STORE and MNT");
	/* a pxfs:// snapshot or tag reference: fetch it once into a local
	 * read-only store and mount that */
	r = ref_prepare_mount("mount", argv[optind], snapdir,
			      sizeof(snapdir));
	if (r < 0)
		return EXIT_ERR;
	if (follow && (r != 0 || store_ref_parse(argv[optind], &ref) !=
		       STORE_OK || ref.kind != STORE_REF_TAG))
		return usage_errorf("mount", "--follow needs a tag reference"
				    " (pxfs://CONNECTOR/tag/NAME?...)");
	o.store = r == 0 ? snapdir : argv[optind];
	if (r == 0)
		o.read_only = true;
	if (follow)
		o.follow = argv[optind];
	o.mountpoint = argv[optind + 1];

	/* everything a user can get wrong, before anything is mounted:
	 * opening talks to no connector, so ask it (a mount whose every
	 * read would fail is refused; one made before an outage goes on
	 * answering from the index) */
	if (open_store("mount", o.store, STORE_OPEN_RDONLY, &st) != 0)
		return EXIT_ERR;
	rc = store_check_connector(st);
	if (rc != STORE_OK)
		store_error("mount", rc);
	store_close(st);
	if (rc != STORE_OK)
		return EXIT_ERR;
	if (check_mountpoint(o.mountpoint) != 0)
		return EXIT_ERR;
	if (check_fuse(o.allow_other) != 0)
		return EXIT_ERR;
	fflush(stdout);
	return fs_main(&o) == 0 ? EXIT_OK : EXIT_ERR;
}

/* ---- umount ------------------------------------------------------------ */

/*
 * @path made canonical without following its last component, which may
 * be a mount whose daemon died (where even stat() can fail): the parent
 * goes through realpath(), the name is kept.
 */
static int canonical(const char *path, char *buf, size_t len)
{
	char tmp[PATH_MAX], dir[PATH_MAX], *slash, *name;
	size_t n;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	n = strlen(tmp);
	while (n > 1 && tmp[n - 1] == '/')
		tmp[--n] = '\0';
	slash = strrchr(tmp, '/');
	if (!slash) {
		name = tmp;
		snprintf(dir, sizeof(dir), ".");
	} else {
		*slash = '\0';
		name = slash + 1;
		snprintf(dir, sizeof(dir), "%s", slash == tmp ? "/" : tmp);
	}
	if (name[0] == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		if (!realpath(path, dir))
			return -1;
		snprintf(buf, len, "%s", dir);
		return 0;
	}
	if (!realpath(dir, buf))
		return -1;
	n = strlen(buf);
	if (snprintf(buf + n, len - n, "%s%s", n > 1 ? "/" : "", name) >=
	    (int)(len - n)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Undo mountinfo's octal escapes ("\040" for a space) in place. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

/*
 * The filesystem type of the (top) mount on @mnt, from mountinfo, into
 * @type.  Returns 0, or -1 when nothing is mounted there.
 */
static int mounted_type(const char *mnt, char *type, size_t len)
{
	char line[8192], point[PATH_MAX], fstype[256], *sep;
	int found = -1;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* id parent MAJ:MIN root mnt opts [tags] - fstype src opts */
		if (sscanf(line, "%*u %*u %*u:%*u %*s %4095s", point) != 1)
			continue;
		unescape(point);
		sep = strstr(line, " - ");
		if (strcmp(point, mnt) != 0 || !sep ||
		    sscanf(sep + 3, "%255s", fstype) != 1)
			continue;
		snprintf(type, len, "%s", fstype);
		found = 0;
	}
	fclose(f);
	return found;
}

static int do_unmount(const char *mnt, bool lazy)
{
	char msg[1024];

	if (fs_unmount(mnt, lazy, msg, sizeof(msg)) == 0)
		return 0;
	return errorf("umount", "cannot unmount '%s': %s", mnt, msg);
}

/* The daemon's pid, from the root's stats document: 0 if unknown, -1 if
 * the daemon is dead ("Transport endpoint is not connected"). */
static pid_t daemon_pid(const char *mnt)
{
	char doc[16384], *p;
	ssize_t n;
	long pid;

	n = getxattr(mnt, XATTR_STATS, doc, sizeof(doc) - 1);
	if (n < 0)
		return errno == ENOTCONN ? -1 : 0;
	doc[n] = '\0';
	p = strstr(doc, "\"pid\":");
	if (!p)
		return 0;
	pid = strtol(p + 6, NULL, 10);
	return pid > 0 ? (pid_t)pid : 0;
}

/* Is @pid gone (or a zombie nobody reaped yet)? */
static bool is_gone(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	bool gone = false;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	if (fgets(buf, sizeof(buf), f)) {
		p = strrchr(buf, ')');
		gone = p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
	}
	fclose(f);
	return gone;
}

/* Wait until the daemon has let go of its cache (a new mount may want it). */
static void wait_daemon(pid_t pid)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int ms;

	for (ms = 0; ms < DAEMON_WAIT_MS && !is_gone(pid); ms += 10)
		nanosleep(&ts, NULL);
}

int cmd_umount(int argc, char **argv)
{
	char mnt[PATH_MAX], type[256];
	pid_t pid;
	int c;

	while ((c = getopt_cmd(argc, argv, "", NULL)) != -1)
		return EXIT_USAGE;
	if (argc - optind != 1)
		return usage_errorf("umount", "need MNT");
	if (canonical(argv[optind], mnt, sizeof(mnt)) != 0)
		return errorf("umount", "cannot use '%s': %s", argv[optind],
			      strerror(errno));
	if (mounted_type(mnt, type, sizeof(type)) != 0)
		return errorf("umount", "'%s' is not mounted", argv[optind]);
	if (strcmp(type, "fuse.pxfs") != 0)
		return errorf("umount", "'%s' is not a pxfs mount (%s)",
			      argv[optind], type);
	pid = daemon_pid(mnt);
	if (pid < 0)	/* the daemon died: detach what is left */
		return do_unmount(mnt, true) ? EXIT_ERR : EXIT_OK;
	if (do_unmount(mnt, false) != 0)
		return EXIT_ERR;
	if (pid > 0)
		wait_daemon(pid);
	return EXIT_OK;
}

/* ---- resolve ----------------------------------------------------------- */

/*
 * Is the filesystem of device @dev a pxfs mount (fuse.pxfs in mountinfo)?
 * Its mount point goes to @root (@len bytes; may be NULL).
 */
static bool is_pxfs_dev(dev_t dev, char *root, size_t len)
{
	char line[8192], mnt[4096], *sep;
	unsigned maj, min;
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		/* id parent MAJ:MIN root mnt opts [tags] - fstype src opts */
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min,
			   mnt) != 3 || makedev(maj, min) != dev)
			continue;
		sep = strstr(line, " - ");
		found = sep && strncmp(sep + 3, "fuse.pxfs ", 10) == 0;
		if (found && root) {
			unescape(mnt);
			snprintf(root, len, "%s", mnt);
		}
	}
	fclose(f);
	return found;
}

/*
 * resolve: the files of every PATH are gathered first, so that a file
 * named twice (or also below a directory named) is queued and reported
 * once.
 *
 * --wait: until each file queued is in its mount's cache.  A resolve runs
 * in the daemon; the command watches user.pxfs.resolved of each file.  A
 * fetch that failed is only logged by the daemon, so when none of our
 * files has settled for STALL_MS (or an object was resolved and evicted
 * again between two looks), each file still waiting is read through the
 * mount instead: a read of a file being fetched joins that fetch, so it
 * costs nothing more, and it either fails with an errno or leaves the
 * object there.  Only our files restart that clock: the mount's counters
 * move with whatever else uses it, and a busy mount would keep a failed
 * file waiting forever.  They only feed the progress line, an estimate
 * until the files are read.
 */
#define POLL_MS		100
#define STALL_MS	2000
#define MAX_MOUNTS	16

struct rfile {
	char *path;
	uint64_t size;
	dev_t dev;
	ino_t ino;
	size_t seq;		/* its place in the order found */
	bool queued;		/* the mount took the request */
	bool waiting;		/* queued, not seen resolved yet */
};

struct rmount {
	dev_t dev;
	char root[PATH_MAX];
	uint64_t base;		/* cache bytes when the wait began */
};

static struct {
	bool wait;		/* --wait */
	int failed;		/* files that could not be resolved */
	struct rfile *v;	/* the files found, each once */
	size_t n, cap;
	struct rmount m[MAX_MOUNTS];
	size_t nm;
} res;

/* user.pxfs.resolved of @path: 1, 0, or -1 with errno set. */
static int is_resolved(const char *path)
{
	char v[8];
	ssize_t n = getxattr(path, "user.pxfs.resolved", v, sizeof(v) - 1);

	if (n < 0)
		return -1;
	v[n] = '\0';
	return strcmp(v, "1") == 0;
}

/* Number @name in the stats document @doc after @after ("" for the
 * start), 0 when absent. */
static uint64_t stats_num(const char *doc, const char *after,
			  const char *name)
{
	const char *p = strstr(doc, after);

	p = p ? strstr(p, name) : NULL;
	return p ? strtoull(p + strlen(name), NULL, 10) : 0;
}

/* The cache bytes of mount @m (whoever made them). */
static uint64_t mount_cache_bytes(const struct rmount *m)
{
	static char doc[1 << 16];
	ssize_t n = getxattr(m->root, XATTR_STATS, doc, sizeof(doc) - 1);

	if (n < 0)
		return 0;
	doc[n] = '\0';
	return stats_num(doc, "\"cache\":", "\"bytes\":");
}

/* Read @path to its end through its mount, the progress line following
 * it after @done bytes: 0 or -1 with errno set. */
static int read_through(const char *path, uint64_t done)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int saverr;

	if (fd < 0)
		return -1;
	progress_fd(fd, done);
	do {
		n = read(fd, buf, sizeof(buf));
	} while (n > 0 || (n < 0 && errno == EINTR));
	saverr = errno;
	progress_fd(-1, done);
	close(fd);
	errno = saverr;
	return n < 0 ? -1 : 0;
}

static int remember(const char *path, const struct stat *sb)
{
	struct rfile *f;
	size_t i;

	if (res.n == res.cap) {
		size_t cap = res.cap ? res.cap * 2 : 64;

		f = realloc(res.v, cap * sizeof(*f));
		if (!f)
			return errorf("resolve", "out of memory");
		res.v = f;
		res.cap = cap;
	}
	f = &res.v[res.n];
	f->path = strdup(path);
	if (!f->path)
		return errorf("resolve", "out of memory");
	f->size = (uint64_t)sb->st_size;
	f->dev = sb->st_dev;
	f->ino = sb->st_ino;
	f->seq = res.n;
	f->queued = false;
	f->waiting = false;
	res.n++;
	for (i = 0; i < res.nm; i++) {
		if (res.m[i].dev == sb->st_dev)
			return 0;
	}
	if (res.nm < MAX_MOUNTS &&
	    is_pxfs_dev(sb->st_dev, res.m[res.nm].root, PATH_MAX)) {
		res.m[res.nm].dev = sb->st_dev;
		res.nm++;
	}
	return 0;
}

static int by_file(const void *a, const void *b)
{
	const struct rfile *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int by_seq(const void *a, const void *b)
{
	const struct rfile *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Keep the first of the names of each file, in the order found. */
static void drop_duplicates(void)
{
	size_t i, n = 0;

	if (res.n < 2)
		return;
	qsort(res.v, res.n, sizeof(*res.v), by_file);
	for (i = 0; i < res.n; i++) {
		if (n > 0 && res.v[n - 1].dev == res.v[i].dev &&
		    res.v[n - 1].ino == res.v[i].ino)
			free(res.v[i].path);
		else
			res.v[n++] = res.v[i];
	}
	res.n = n;
	qsort(res.v, res.n, sizeof(*res.v), by_seq);
}

static void report_resolved(const struct rfile *f)
{
	char h[32];

	infof("resolve", "resolved '%s' (%s)", f->path,
	      human_size(f->size, h, sizeof(h)));
}

/* File @f is resolved (@err 0) or cannot be (@err an errno). */
static void settle(struct rfile *f, int err, uint64_t *done)
{
	f->waiting = false;
	if (err == EIO) {
		/* the daemon logged the cause; a read only gets EIO */
		res.failed += errorf("resolve", "cannot resolve '%s': %s "
				     "(the mount's log says why)", f->path,
				     strerror(err));
	} else if (err) {
		res.failed += errorf("resolve", "cannot resolve '%s': %s",
				     f->path, strerror(err));
	} else {
		*done += f->size;
		report_resolved(f);
	}
}

/* Our cache bytes as far as the mounts show them, for the progress line:
 * what they gained, bounded by what we wait for. */
static uint64_t estimate(uint64_t done, uint64_t total)
{
	uint64_t gained = 0, b;
	size_t i;

	for (i = 0; i < res.nm; i++) {
		b = mount_cache_bytes(&res.m[i]);
		if (b > res.m[i].base)
			gained += b - res.m[i].base;
	}
	if (gained > total)
		gained = total;
	return gained > done ? gained : done;
}

static void wait_all(void)
{
	struct timespec tick = { 0, POLL_MS * 1000000L };
	uint64_t total = 0, done = 0;
	size_t i, waiting = 0;
	int still = 0;

	for (i = 0; i < res.n; i++) {
		if (res.v[i].waiting) {
			total += res.v[i].size;
			waiting++;
		} else if (res.v[i].queued) {
			report_resolved(&res.v[i]);
		}
	}
	for (i = 0; i < res.nm; i++)
		res.m[i].base = mount_cache_bytes(&res.m[i]);
	progress_start("resolve", total);
	while (waiting > 0) {
		bool settled = false;

		nanosleep(&tick, NULL);
		for (i = 0; i < res.n; i++) {
			struct rfile *f = &res.v[i];
			int r;

			if (!f->waiting)
				continue;
			r = is_resolved(f->path);
			if (r == 0)
				continue;
			settle(f, r < 0 ? errno : 0, &done);
			waiting--;
			settled = true;
		}
		progress_set(estimate(done, total), total);
		if (settled) {
			still = 0;
			continue;
		}
		if (++still * POLL_MS < STALL_MS)
			continue;
		/* none of ours moves: see for ourselves */
		for (i = 0; i < res.n; i++) {
			struct rfile *f = &res.v[i];

			if (!f->waiting)
				continue;
			settle(f, read_through(f->path, done) < 0 ? errno : 0,
			       &done);
			waiting--;
		}
	}
	progress_end();
}

/* Ask the mount holding file @f to materialize it. */
static void queue(struct rfile *f)
{
	char h[32];

	if (setxattr(f->path, XATTR_RESOLVE, "1", 1, 0) < 0) {
		res.failed += errorf("resolve", "cannot resolve '%s': %s",
				     f->path, strerror(errno));
		return;
	}
	f->queued = true;
	if (res.wait)
		f->waiting = is_resolved(f->path) != 1;
	else
		infof("resolve", "queued '%s' (%s)", f->path,
		      human_size(f->size, h, sizeof(h)));
}

static int walk_fn(const char *path, const struct stat *sb, int type,
		   struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_F && S_ISREG(sb->st_mode) && remember(path, sb) != 0)
		res.failed++;
	else if (type == FTW_DNR || type == FTW_NS)
		res.failed += errorf("resolve", "cannot read '%s'", path);
	return 0;
}

enum { OPT_WAIT = 256 };

static const struct option resolve_opts[] = {
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ NULL, 0, NULL, 0 },
};

int cmd_resolve(int argc, char **argv)
{
	struct stat sb;
	size_t k;
	int c, i;

	memset(&res, 0, sizeof(res));
	while ((c = getopt_cmd(argc, argv, "", resolve_opts)) != -1) {
		if (c != OPT_WAIT)
			return EXIT_USAGE;
		res.wait = true;
	}
	if (argc - optind < 1)
		return usage_errorf("resolve", "need at least one PATH");
	for (i = optind; i < argc; i++) {
		const char *p = argv[i];

		if (stat(p, &sb) < 0) {
			res.failed += errorf("resolve", "cannot resolve "
					     "'%s': %s", p, strerror(errno));
		} else if (!is_pxfs_dev(sb.st_dev, NULL, 0)) {
			res.failed += errorf("resolve", "'%s' is not in a "
					     "pxfs mount", p);
		} else if (S_ISDIR(sb.st_mode)) {
			/* a directory: every file below it, in this mount */
			if (nftw(p, walk_fn, 64, FTW_PHYS | FTW_MOUNT) != 0)
				res.failed += errorf("resolve", "cannot "
						     "walk '%s': %s", p,
						     strerror(errno));
		} else if (!S_ISREG(sb.st_mode)) {
			res.failed += errorf("resolve", "'%s' is not a "
					     "file", p);
		} else if (remember(p, &sb) != 0) {
			res.failed++;
		}
	}
	drop_duplicates();
	for (k = 0; k < res.n; k++)
		queue(&res.v[k]);
	if (res.wait)
		wait_all();
	for (k = 0; k < res.n; k++)
		free(res.v[k].path);
	free(res.v);
	return res.failed ? EXIT_ERR : EXIT_OK;
}
