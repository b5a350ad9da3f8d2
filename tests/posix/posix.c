/* SPDX-License-Identifier: MIT */
/*
 * posix.c - a POSIX conformance suite for a pxfs mount, in the manner of
 * pjdfstest: every syscall the mount supports is called on a real mount
 * and both its result and its errno are checked against what POSIX and
 * Linux say, case by case.  tests/it_posix.sh prepares a store, mounts it
 * and runs this.
 *
 *   posix [-v] [--ro] [--fixture NAME] [--outside DIR]
 *         [--user UID | --no-user] MNT
 *
 * MNT/NAME (default "fx") is a fixture tree put into the store by the
 * caller (see it_posix.sh: "hello", "empty", "dir/inner", "link" ->
 * "hello", "abs" -> "/etc/passwd", and the "perm" tree of files owned by
 * root and by UID).  Sections:
 *
 *   reads     what every mount serves: stat, lstat, open, read, pread,
 *             mmap, readlink, readdir, access, statfs, xattrs, and the
 *             errors of lookups (ENOENT, ENOTDIR, ENAMETOOLONG, EXDEV)
 *   writes    on a writable mount, in a fresh directory MNT/posix-w:
 *             mkdir, rmdir, open/creat, write, pwrite, O_APPEND, O_TRUNC,
 *             truncate, ftruncate, fallocate, unlink, rename (with its
 *             replace rules and RENAME_NOREPLACE), symlink, link, chmod,
 *             chown, utimensat, mknod, fsync, setxattr, with their errors
 *             (EEXIST, ENOENT, ENOTDIR, EISDIR, ENOTEMPTY, EINVAL, EPERM,
 *             ENAMETOOLONG, EXDEV); with --ro every one of them is EROFS
 *   user      as UID (a forked child that drops root; skipped unless run
 *             as root; the mount must allow other users): EACCES and
 *             EPERM under default_permissions, the sticky bit, and that
 *             new nodes belong to their creator
 *
 * A mount that answers EROFS without being mounted read-only fails the
 * write section (it used to skip it, before the mount took writes).
 * Prints one line per failed case (every case with -v) and "posix: P/T
 * cases passed, S skipped"; exits 1 if any case failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define FUSE_SUPER_MAGIC	0x65735546
#define HELLO			"hello, world\n"
#define INNER			"inner\n"

static const char *mnt;
static const char *fixture = "fx";
static const char *outside;	/* a directory on another filesystem */
static bool verbose, ro, no_user;
static uid_t user_uid = 65534;
static int passed, failed, skipped;
static bool writable;		/* the mount takes writes */
static const char *section = "";

/* ---- reporting ------------------------------------------------------- */

static void result(bool ok, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void result(bool ok, const char *what, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		passed++;
	else
		failed++;
	if (ok && !verbose)
		return;
	printf("%s %d %s: %s", ok ? "ok" : "not ok", passed + failed, section,
	       what);
	if (!ok && fmt) {
		printf(": ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	fflush(stdout);
}

static void skip(const char *what, const char *why)
{
	skipped++;
	if (verbose)
		printf("skip %s: %s: %s\n", section, what, why);
}

static const char *ename(int e)
{
	static const struct { int e; const char *n; } t[] = {
		{ 0, "success" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" },
		{ EIO, "EIO" }, { EBADF, "EBADF" }, { EACCES, "EACCES" },
		{ EEXIST, "EEXIST" }, { EXDEV, "EXDEV" },
		{ ENOTDIR, "ENOTDIR" }, { EISDIR, "EISDIR" },
		{ EINVAL, "EINVAL" }, { EFBIG, "EFBIG" }, { ENOSPC, "ENOSPC" },
		{ EROFS, "EROFS" }, { EMLINK, "EMLINK" },
		{ ENAMETOOLONG, "ENAMETOOLONG" }, { ENOTEMPTY, "ENOTEMPTY" },
		{ ELOOP, "ELOOP" }, { ENODATA, "ENODATA" },
		{ EOPNOTSUPP, "EOPNOTSUPP" }, { ENOSYS, "ENOSYS" },
		{ EBUSY, "EBUSY" }, { ERANGE, "ERANGE" }, { ENXIO, "ENXIO" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].e == e)
			return t[i].n;
	return strerror(e);
}

/* The errno of a call returning < 0 on failure, or 0. */
#define ERR(call)	((call) < 0 ? errno : 0)

/* @got (an errno or 0) must be @want. */
static void expect(const char *what, int got, int want)
{
	result(got == want, what, "got %s, want %s", ename(got), ename(want));
}

/* @got must be one of @a and @b (POSIX allows either). */
static void expect2(const char *what, int got, int a, int b)
{
	result(got == a || got == b, what, "got %s, want %s or %s",
	       ename(got), ename(a), ename(b));
}

static void expect_eq(const char *what, long long got, long long want)
{
	result(got == want, what, "got %lld, want %lld", got, want);
}

static void expect_str(const char *what, const char *got, const char *want)
{
	result(strcmp(got, want) == 0, what, "got '%s', want '%s'", got,
	       want);
}

/* A write case: with --ro it must be EROFS; on a mount that refuses all
 * writes it is skipped; else @got must be @want. */
static void wexpect(const char *what, int got, int want)
{
	if (ro)
		expect(what, got, EROFS);
	else if (!writable)
		skip(what, "the mount answers EROFS");
	else
		expect(what, got, want);
}

/* ---- paths ----------------------------------------------------------- */

/* A path below the mount, printf-style; 8 rotating buffers, so a call may
 * take several. */
static const char *P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *P(const char *fmt, ...)
{
	static char buf[8][PATH_MAX + 64];
	static unsigned next;
	char *b = buf[next++ % 8];
	va_list ap;
	int n;

	n = snprintf(b, sizeof(buf[0]), "%s/", mnt);
	va_start(ap, fmt);
	vsnprintf(b + n, sizeof(buf[0]) - (size_t)n, fmt, ap);
	va_end(ap);
	return b;
}

static const char *F(const char *name)
{
	return P("%s/%s", fixture, name);
}

/* A name of @n 'x's (static; one at a time). */
static const char *long_name(size_t n)
{
	static char b[NAME_MAX * 4 + 2];

	if (n >= sizeof(b))
		n = sizeof(b) - 1;
	memset(b, 'x', n);
	b[n] = '\0';
	return b;
}

static int read_file(const char *path, char *buf, size_t cap, ssize_t *len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n, tot = 0;

	if (fd < 0)
		return errno;
	while ((size_t)tot < cap) {
		n = read(fd, buf + tot, cap - (size_t)tot);
		if (n < 0) {
			int e = errno;

			close(fd);
			return e;
		}
		if (n == 0)
			break;
		tot += n;
	}
	close(fd);
	*len = tot;
	return 0;
}

/* Does @path read as exactly @want? */
static bool reads_as(const char *path, const char *want, size_t len)
{
	char buf[65536];
	ssize_t n = -1;

	if (len > sizeof(buf) || read_file(path, buf, sizeof(buf), &n))
		return false;
	return (size_t)n == len && memcmp(buf, want, len) == 0;
}

static int write_file(const char *path, const char *data, size_t len,
		      mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	int e = 0;

	if (fd < 0)
		return errno;
	if (write(fd, data, len) != (ssize_t)len)
		e = errno ? errno : EIO;
	if (close(fd) < 0 && !e)
		e = errno;
	return e;
}

static bool is_mode(const char *path, mode_t type, bool follow)
{
	struct stat sb;
	int rc = follow ? stat(path, &sb) : lstat(path, &sb);

	return rc == 0 && (sb.st_mode & S_IFMT) == type;
}

static bool exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/* The names in directory @path, sorted, joined with ','. */
static int list_dir(const char *path, char *out, size_t cap, bool *types_ok)
{
	struct dirent *de;
	char *names[256];
	size_t n = 0, len = 0;
	DIR *d = opendir(path);

	*out = '\0';
	if (!d)
		return errno;
	*types_ok = true;
	while ((de = readdir(d)) && n < 256) {
		char full[PATH_MAX + NAME_MAX + 2];
		struct stat sb;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
		if (de->d_type != DT_UNKNOWN && lstat(full, &sb) == 0 &&
		    (mode_t)DTTOIF(de->d_type) != (sb.st_mode & S_IFMT))
			*types_ok = false;
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0;
		     j--) {
			char *t = names[j];

			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		len += (size_t)snprintf(out + len, cap - len, "%s%s",
					i ? "," : "", names[i]);
		if (len >= cap)
			len = cap - 1;
		free(names[i]);
	}
	return 0;
}

/* ---- reads ------------------------------------------------------------ */

static void test_reads(void)
{
	char buf[256], list[1024], lpath[PATH_MAX + 2];
	struct statfs sfs;
	struct stat sb;
	ssize_t n = -1;
	bool types_ok = false;
	int fd, e;

	section = "reads";
	/* stat and lstat */
	e = ERR(stat(F("hello"), &sb));
	expect("stat of a file", e, 0);
	result(S_ISREG(sb.st_mode), "stat: a regular file", "mode %o",
	       sb.st_mode);
	expect_eq("stat: size", sb.st_size, (long long)strlen(HELLO));
	expect_eq("stat: permission bits", sb.st_mode & 07777, 0644);
	result(sb.st_nlink >= 1, "stat: nlink", "%lu",
	       (unsigned long)sb.st_nlink);
	result(sb.st_blksize > 0, "stat: blksize", "%ld",
	       (long)sb.st_blksize);
	result(sb.st_ino != 0, "stat: ino", "0");
	{
		struct stat again;

		e = ERR(stat(F("hello"), &again));
		result(!e && again.st_ino == sb.st_ino &&
		       again.st_mtim.tv_sec == sb.st_mtim.tv_sec,
		       "stat twice: same ino and mtime", NULL);
	}
	e = ERR(stat(F("dir"), &sb));
	result(!e && S_ISDIR(sb.st_mode), "stat of a directory", "%s",
	       ename(e));
	result(!e && sb.st_nlink >= 2, "stat of a directory: nlink", "%lu",
	       (unsigned long)sb.st_nlink);
	e = ERR(lstat(F("link"), &sb));
	result(!e && S_ISLNK(sb.st_mode), "lstat of a symlink", "%s",
	       ename(e));
	expect_eq("lstat of a symlink: size is the target's length",
		  sb.st_size, 5);
	e = ERR(stat(F("link"), &sb));
	result(!e && S_ISREG(sb.st_mode) &&
	       sb.st_size == (off_t)strlen(HELLO),
	       "stat follows a symlink", "%s", ename(e));
	expect("stat of a missing name", ERR(stat(F("nope"), &sb)), ENOENT);
	expect("stat below a file", ERR(stat(F("hello/x"), &sb)), ENOTDIR);
	expect("stat below a missing directory",
	       ERR(stat(F("nope/x"), &sb)), ENOENT);
	expect("stat of a 256-byte name",
	       ERR(stat(F(long_name(NAME_MAX + 1)), &sb)), ENAMETOOLONG);
	expect("stat of a 255-byte name that does not exist",
	       ERR(stat(F(long_name(NAME_MAX)), &sb)), ENOENT);
	{
		/* a path longer than PATH_MAX */
		char *p = malloc(PATH_MAX + 16);
		size_t len = 0;

		len = (size_t)snprintf(p, PATH_MAX + 16, "%s", F(""));
		for (; len < PATH_MAX + 8; len++)
			p[len] = len % 2 ? '/' : 'a';
		p[len] = '\0';
		expect("stat of a path over PATH_MAX", ERR(stat(p, &sb)),
		       ENAMETOOLONG);
		free(p);
	}

	/* readlink */
	n = readlink(F("link"), buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	expect_str("readlink", buf, "hello");
	n = readlink(F("abs"), buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	expect_str("readlink of an absolute target, kept as is", buf,
		   "/etc/passwd");
	n = readlink(F("link"), buf, 2);
	expect_eq("readlink into a short buffer truncates", n, 2);
	expect("readlink of a file", ERR(readlink(F("hello"), buf, 10)),
	       EINVAL);
	expect("readlink of a directory", ERR(readlink(F("dir"), buf, 10)),
	       EINVAL);
	expect("readlink of a missing name",
	       ERR(readlink(F("nope"), buf, 10)), ENOENT);

	/* open and read */
	result(reads_as(F("hello"), HELLO, strlen(HELLO)), "read a file", NULL);
	result(reads_as(F("link"), HELLO, strlen(HELLO)),
	       "read through a symlink", NULL);
	result(reads_as(F("dir/inner"), INNER, strlen(INNER)),
	       "read a file in a directory", NULL);
	result(reads_as(F("empty"), "", 0), "read an empty file", NULL);
	fd = open(F("hello"), O_RDONLY);
	expect("open O_RDONLY", fd < 0 ? errno : 0, 0);
	if (fd >= 0) {
		n = pread(fd, buf, 5, 7);
		result(n == 5 && memcmp(buf, "world", 5) == 0,
		       "pread in the middle", "%zd", n);
		n = pread(fd, buf, 100, 10);
		expect_eq("pread over the end is short", n, 3);
		n = pread(fd, buf, 10, 13);
		expect_eq("pread at the end reads 0", n, 0);
		n = pread(fd, buf, 10, 1 << 20);
		expect_eq("pread past the end reads 0", n, 0);
		expect_eq("lseek SEEK_END", lseek(fd, 0, SEEK_END), 13);
		expect("lseek before 0", ERR(lseek(fd, -1, SEEK_SET)),
		       EINVAL);
		{
			void *m = mmap(NULL, 13, PROT_READ, MAP_PRIVATE, fd,
				       0);

			result(m != MAP_FAILED &&
			       memcmp(m, HELLO, strlen(HELLO)) == 0,
			       "mmap read", "%s", ename(errno));
			if (m != MAP_FAILED)
				munmap(m, 13);
		}
		expect("write on an O_RDONLY descriptor",
		       ERR(write(fd, "x", 1)), EBADF);
		expect("fstat", ERR(fstat(fd, &sb)), 0);
		close(fd);
	}
	expect("open of a missing name", ERR(open(F("nope"), O_RDONLY)),
	       ENOENT);
	expect("open O_DIRECTORY of a file",
	       ERR(open(F("hello"), O_RDONLY | O_DIRECTORY)), ENOTDIR);
	expect("open below a file", ERR(open(F("hello/x"), O_RDONLY)),
	       ENOTDIR);
	expect("open O_NOFOLLOW of a symlink",
	       ERR(open(F("link"), O_RDONLY | O_NOFOLLOW)), ELOOP);
	fd = open(F("dir"), O_RDONLY | O_DIRECTORY);
	expect("open O_DIRECTORY of a directory", fd < 0 ? errno : 0, 0);
	if (fd >= 0) {
		expect("read on a directory", ERR(read(fd, buf, 10)), EISDIR);
		close(fd);
	}
	expect("open a directory for writing",
	       ERR(open(F("dir"), O_WRONLY)), EISDIR);

	/* readdir */
	e = list_dir(F(""), list, sizeof(list), &types_ok);
	expect("readdir", e, 0);
	expect_str("readdir: the names", list,
		   "abs,dir,empty,hello,link,perm");
	result(types_ok, "readdir: d_type agrees with lstat", NULL);
	e = list_dir(F("dir"), list, sizeof(list), &types_ok);
	expect_str("readdir of a subdirectory", list, "inner");
	expect("opendir of a file", list_dir(F("hello"), list, sizeof(list),
					     &types_ok), ENOTDIR);

	/* access */
	expect("access R_OK", ERR(access(F("hello"), R_OK)), 0);
	expect("access F_OK of a missing name",
	       ERR(access(F("nope"), F_OK)), ENOENT);
	if (ro)
		expect("access W_OK on a read-only mount",
		       ERR(access(F("hello"), W_OK)), EROFS);

	/* statfs */
	e = ERR(statfs(F(""), &sfs));
	expect("statfs", e, 0);
	expect_eq("statfs: f_type is FUSE's", sfs.f_type, FUSE_SUPER_MAGIC);
	expect_eq("statfs: f_namelen", sfs.f_namelen, NAME_MAX);

	/* xattrs */
	n = getxattr(F("hello"), "user.pxfs.size", buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	expect_str("getxattr user.pxfs.size", buf, "13");
	n = getxattr(F("hello"), "user.pxfs.key", buf, sizeof(buf) - 1);
	expect_eq("getxattr user.pxfs.key: 64 hex digits", n, 64);
	expect("getxattr into a short buffer",
	       ERR(getxattr(F("hello"), "user.pxfs.key", buf, 10)), ERANGE);
	expect("getxattr of a missing name",
	       ERR(getxattr(F("hello"), "user.nope", buf, sizeof(buf))),
	       ENODATA);
	/* ls -l asks these two of every file: no such attribute, or no
	 * such namespace, are both right */
	expect2("getxattr security.selinux",
		ERR(getxattr(F("hello"), "security.selinux", buf,
			     sizeof(buf))), ENODATA, EOPNOTSUPP);
	expect2("getxattr system.posix_acl_access",
		ERR(getxattr(F("hello"), "system.posix_acl_access", buf,
			     sizeof(buf))), ENODATA, EOPNOTSUPP);
	expect("getxattr user.pxfs.key of a directory",
	       ERR(getxattr(F("dir"), "user.pxfs.key", buf, sizeof(buf))),
	       ENODATA);
	n = listxattr(F("hello"), list, sizeof(list));
	{
		bool found = false;

		for (ssize_t i = 0; n > 0 && i < n;
		     i += (ssize_t)strlen(list + i) + 1)
			if (strcmp(list + i, "user.pxfs.key") == 0)
				found = true;
		result(found, "listxattr lists user.pxfs.key", "%zd", n);
	}
	n = listxattr(F("hello"), NULL, 0);
	result(n > 0, "listxattr size query", "%zd", n);
	n = lgetxattr(F("link"), "user.pxfs.key", buf, sizeof(buf));
	expect("lgetxattr user.pxfs.key of a symlink", n < 0 ? errno : 0,
	       ENODATA);

	/* across filesystems */
	if (outside) {
		snprintf(lpath, sizeof(lpath), "%s/moved", outside);
		expect("rename to another filesystem",
		       ERR(rename(F("hello"), lpath)), EXDEV);
		expect("link to another filesystem",
		       ERR(link(F("hello"), lpath)), EXDEV);
		result(reads_as(F("hello"), HELLO, strlen(HELLO)),
		       "the file stays after EXDEV", NULL);
	} else {
		skip("rename to another filesystem", "no --outside");
	}
}

/* ---- writes ----------------------------------------------------------- */

/* With --ro, each write syscall on the fixture: EROFS. */
static void test_ro_writes(void)
{
	struct timespec ts[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };

	section = "ro";
	expect("mkdir", ERR(mkdir(F("newdir"), 0755)), EROFS);
	expect("creat", ERR(open(F("new"), O_WRONLY | O_CREAT, 0644)),
	       EROFS);
	expect("open O_WRONLY", ERR(open(F("hello"), O_WRONLY)), EROFS);
	expect("open O_RDWR", ERR(open(F("hello"), O_RDWR)), EROFS);
	expect("open O_TRUNC", ERR(open(F("hello"), O_WRONLY | O_TRUNC)),
	       EROFS);
	expect("unlink", ERR(unlink(F("hello"))), EROFS);
	expect("rmdir", ERR(rmdir(F("dir"))), EROFS);
	expect("rename", ERR(rename(F("hello"), F("hello2"))), EROFS);
	expect("symlink", ERR(symlink("hello", F("sl"))), EROFS);
	expect("link", ERR(link(F("hello"), F("hl"))), EROFS);
	expect("chmod", ERR(chmod(F("hello"), 0600)), EROFS);
	expect("chown", ERR(chown(F("hello"), 1, 1)), EROFS);
	expect("utimensat", ERR(utimensat(AT_FDCWD, F("hello"), ts, 0)),
	       EROFS);
	expect("truncate", ERR(truncate(F("hello"), 0)), EROFS);
	expect("setxattr", ERR(setxattr(F("hello"), "user.x", "1", 1, 0)),
	       EROFS);
	expect("removexattr", ERR(removexattr(F("hello"), "user.pxfs.key")),
	       EROFS);
	expect("mknod", ERR(mknod(F("fifo"), S_IFIFO | 0644, 0)), EROFS);
	result(reads_as(F("hello"), HELLO, strlen(HELLO)),
	       "nothing changed", NULL);
}

/* The directory the write cases work in (made by test_writes). */
#define W(...)	P("posix-w/" __VA_ARGS__)

static void test_namespace(void)
{
	char list[1024];
	struct stat sb;
	bool types_ok;
	int fd;

	/* mkdir */
	wexpect("mkdir", ERR(mkdir(W("d"), 0750)), 0);
	if (writable) {
		result(is_mode(W("d"), S_IFDIR, false), "mkdir makes a dir",
		       NULL);
		expect("stat of a new directory", ERR(stat(W("d"), &sb)), 0);
		expect_eq("mkdir: mode less umask", sb.st_mode & 07777,
			  0750 & ~022);
		expect_eq("mkdir: owner is the caller", sb.st_uid, getuid());
		expect_eq("mkdir: group is the caller's", sb.st_gid,
			  getgid());
	}
	wexpect("mkdir of an existing name", ERR(mkdir(W("d"), 0755)),
		EEXIST);
	wexpect("mkdir over a file", ERR(mkdir(W("f0"), 0755)), EEXIST);
	wexpect("mkdir in a missing directory", ERR(mkdir(W("no/d"), 0755)),
		ENOENT);
	wexpect("mkdir below a file", ERR(mkdir(W("f0/d"), 0755)), ENOTDIR);
	wexpect("mkdir of a 256-byte name",
		ERR(mkdir(W("%s", long_name(NAME_MAX + 1)), 0755)),
		ENAMETOOLONG);
	wexpect("mkdir of a 255-byte name",
		ERR(mkdir(W("%s", long_name(NAME_MAX)), 0755)), 0);
	wexpect("rmdir of a 255-byte name",
		ERR(rmdir(W("%s", long_name(NAME_MAX)))), 0);
	wexpect("mkdir d/e", ERR(mkdir(W("d/e"), 0755)), 0);

	/* rmdir */
	wexpect("rmdir of a non-empty directory", ERR(rmdir(W("d"))),
		ENOTEMPTY);
	wexpect("rmdir of a file", ERR(rmdir(W("f0"))), ENOTDIR);
	wexpect("rmdir of a missing name", ERR(rmdir(W("nope"))), ENOENT);
	wexpect("rmdir of '.'", ERR(rmdir(W("d/."))), EINVAL);
	wexpect("rmdir of a symlink to a directory",
		ERR(rmdir(W("dlink"))), ENOTDIR);
	wexpect("rmdir d/e", ERR(rmdir(W("d/e"))), 0);
	if (writable)
		expect("rmdir: gone", ERR(stat(W("d/e"), &sb)), ENOENT);

	/* unlink */
	wexpect("creat f1", write_file(W("f1"), "one", 3, 0644), 0);
	wexpect("unlink", ERR(unlink(W("f1"))), 0);
	if (writable)
		expect("unlink: gone", ERR(stat(W("f1"), &sb)), ENOENT);
	wexpect("unlink of a missing name", ERR(unlink(W("f1"))), ENOENT);
	wexpect("unlink of a directory", ERR(unlink(W("d"))), EISDIR);
	wexpect("unlink below a file", ERR(unlink(W("f0/x"))), ENOTDIR);
	wexpect("unlink of a 256-byte name",
		ERR(unlink(W("%s", long_name(NAME_MAX + 1)))), ENAMETOOLONG);
	wexpect("unlink of a symlink, not its target",
		ERR(unlink(W("flink"))), 0);
	if (writable)
		result(exists(W("f0")), "unlink of a symlink: target stays",
		       NULL);
	/* an open file that is unlinked stays readable (POSIX) */
	wexpect("creat f2", write_file(W("f2"), "two!", 4, 0644), 0);
	fd = writable ? open(W("f2"), O_RDONLY) : -1;
	wexpect("unlink of an open file", ERR(unlink(W("f2"))), 0);
	if (fd >= 0) {
		char b[8] = "";

		result(pread(fd, b, 8, 0) == 4 && memcmp(b, "two!", 4) == 0,
		       "an unlinked open file still reads", "%s", b);
		expect("fstat of an unlinked open file", ERR(fstat(fd, &sb)),
		       0);
		close(fd);
	}

	/* symlink */
	wexpect("symlink", ERR(symlink("f0", W("s"))), 0);
	if (writable) {
		char b[64];
		ssize_t n = readlink(W("s"), b, sizeof(b) - 1);

		b[n > 0 ? n : 0] = '\0';
		expect_str("symlink: readlink", b, "f0");
		expect("lstat of a new symlink", ERR(lstat(W("s"), &sb)), 0);
		expect_eq("symlink: size", sb.st_size, 2);
		expect_eq("symlink: owner", sb.st_uid, getuid());
		result(reads_as(W("s"), "zero", 4), "read through a new symlink",
		       NULL);
	}
	wexpect("symlink over an existing name", ERR(symlink("x", W("s"))),
		EEXIST);
	wexpect("symlink with a dangling target",
		ERR(symlink("no/where", W("dangling"))), 0);
	if (writable)
		expect("stat of a dangling symlink",
		       ERR(stat(W("dangling"), &sb)), ENOENT);
	wexpect("symlink in a missing directory",
		ERR(symlink("x", W("no/s"))), ENOENT);
	wexpect("symlink of a 256-byte name",
		ERR(symlink("x", W("%s", long_name(NAME_MAX + 1)))),
		ENAMETOOLONG);
	{
		char *t = malloc(PATH_MAX + 2);

		memset(t, 'a', PATH_MAX + 1);
		t[PATH_MAX + 1] = '\0';
		wexpect("symlink with a target over PATH_MAX",
			ERR(symlink(t, W("longtarget"))), ENAMETOOLONG);
		free(t);
	}

	/* link: hard links are not supported */
	wexpect("link (hard links are not supported)",
		ERR(link(W("f0"), W("hard"))), EPERM);
	if (writable)
		expect("link: nothing made", ERR(lstat(W("hard"), &sb)),
		       ENOENT);

	/* mknod: regular files only */
	wexpect("mknod of a regular file",
		ERR(mknod(W("node"), S_IFREG | 0600, 0)), 0);
	if (writable)
		result(is_mode(W("node"), S_IFREG, false),
		       "mknod made a regular file", NULL);
	wexpect("mknod of a fifo", ERR(mknod(W("fifo"), S_IFIFO | 0600, 0)),
		EPERM);
	wexpect("mknod of an existing name",
		ERR(mknod(W("node"), S_IFREG | 0600, 0)), EEXIST);

	/* readdir sees exactly what is there */
	if (writable) {
		expect("readdir of the work directory",
		       list_dir(W(""), list, sizeof(list), &types_ok), 0);
		expect_str("readdir: the names", list,
			   "d,dangling,dlink,f0,node,s");
		result(types_ok, "readdir: d_type agrees", NULL);
	}
}

static void test_rename(void)
{
	struct stat sb, sb2;

	wexpect("creat r1", write_file(W("r1"), "first", 5, 0644), 0);
	wexpect("creat r2", write_file(W("r2"), "second", 6, 0644), 0);
	if (writable)
		stat(W("r1"), &sb);
	wexpect("rename a file", ERR(rename(W("r1"), W("r3"))), 0);
	if (writable) {
		expect("rename: the old name is gone",
		       ERR(stat(W("r1"), &sb2)), ENOENT);
		expect("rename: the new name", ERR(stat(W("r3"), &sb2)), 0);
		expect_eq("rename keeps the inode", sb2.st_ino, sb.st_ino);
	}
	wexpect("rename over a file", ERR(rename(W("r3"), W("r2"))), 0);
	if (writable) {
		result(reads_as(W("r2"), "first", 5),
		       "rename over a file replaces it", NULL);
		expect("rename over a file: source gone",
		       ERR(stat(W("r3"), &sb2)), ENOENT);
	}
	wexpect("rename to itself", ERR(rename(W("r2"), W("r2"))), 0);
	if (writable)
		result(reads_as(W("r2"), "first", 5), "rename to itself: kept",
		       NULL);
	wexpect("rename of a missing name", ERR(rename(W("nope"), W("x"))),
		ENOENT);
	wexpect("rename into a missing directory",
		ERR(rename(W("r2"), W("no/x"))), ENOENT);
	wexpect("rename below a file", ERR(rename(W("r2"), W("f0/x"))),
		ENOTDIR);
	wexpect("mkdir rd1", ERR(mkdir(W("rd1"), 0755)), 0);
	wexpect("mkdir rd1/sub", ERR(mkdir(W("rd1/sub"), 0755)), 0);
	wexpect("mkdir rd2", ERR(mkdir(W("rd2"), 0755)), 0);
	wexpect("rename a file over a directory",
		ERR(rename(W("r2"), W("rd2"))), EISDIR);
	wexpect("rename a directory over a file",
		ERR(rename(W("rd2"), W("r2"))), ENOTDIR);
	wexpect("rename a directory over a non-empty one",
		ERR(rename(W("rd2"), W("rd1"))), ENOTEMPTY);
	wexpect("rename a directory below itself",
		ERR(rename(W("rd1"), W("rd1/sub/x"))), EINVAL);
	wexpect("rename a directory over an empty one",
		ERR(rename(W("rd1"), W("rd2"))), 0);
	if (writable) {
		result(is_mode(W("rd2/sub"), S_IFDIR, false),
		       "rename of a directory moves what is below it", NULL);
		expect("the old directory is gone", ERR(stat(W("rd1"), &sb2)),
		       ENOENT);
	}
	wexpect("rename into a subdirectory",
		ERR(rename(W("r2"), W("rd2/sub/r2"))), 0);
	if (writable)
		result(reads_as(W("rd2/sub/r2"), "first", 5),
		       "rename into a subdirectory: content", NULL);
	wexpect("rename to a 256-byte name",
		ERR(rename(W("rd2/sub/r2"), W("%s",
					      long_name(NAME_MAX + 1)))),
		ENAMETOOLONG);
	wexpect("rename of '.'", ERR(rename(W("rd2/."), W("x"))), EBUSY);
	/* renameat2 */
	wexpect("creat n1", write_file(W("n1"), "n1", 2, 0644), 0);
	wexpect("creat n2", write_file(W("n2"), "n2", 2, 0644), 0);
	wexpect("RENAME_NOREPLACE over an existing name",
		ERR(syscall(SYS_renameat2, AT_FDCWD, W("n1"), AT_FDCWD,
			    W("n2"), RENAME_NOREPLACE)), EEXIST);
	wexpect("RENAME_NOREPLACE to a new name",
		ERR(syscall(SYS_renameat2, AT_FDCWD, W("n1"), AT_FDCWD,
			    W("n3"), RENAME_NOREPLACE)), 0);
	if (writable)
		result(reads_as(W("n2"), "n2", 2) && reads_as(W("n3"), "n1", 2),
		       "RENAME_NOREPLACE: contents", NULL);
	if (outside) {
		char p[PATH_MAX + 16];

		snprintf(p, sizeof(p), "%s/x", outside);
		wexpect("rename of a new file to another filesystem",
			ERR(rename(W("n2"), p)), EXDEV);
	}
}

static void test_files(void)
{
	char buf[8192];
	struct stat sb;
	int fd, fd2, e;
	ssize_t n;

	/* open and creat errors */
	wexpect("creat with O_EXCL", ERR(fd = open(W("c1"),
		O_WRONLY | O_CREAT | O_EXCL, 0640)), 0);
	if (writable && fd >= 0) {
		expect("fstat of a new file", ERR(fstat(fd, &sb)), 0);
		expect_eq("creat: mode less umask", sb.st_mode & 07777,
			  0640 & ~022);
		expect_eq("creat: owner is the caller", sb.st_uid, getuid());
		expect_eq("creat: size 0", sb.st_size, 0);
		close(fd);
	}
	wexpect("O_CREAT|O_EXCL of an existing name",
		ERR(open(W("c1"), O_WRONLY | O_CREAT | O_EXCL, 0644)), EEXIST);
	wexpect("O_CREAT|O_EXCL of a symlink",
		ERR(open(W("s"), O_WRONLY | O_CREAT | O_EXCL, 0644)), EEXIST);
	wexpect("O_CREAT in a missing directory",
		ERR(open(W("no/c"), O_WRONLY | O_CREAT, 0644)), ENOENT);
	wexpect("O_CREAT below a file",
		ERR(open(W("f0/c"), O_WRONLY | O_CREAT, 0644)), ENOTDIR);
	wexpect("O_CREAT of a directory's name",
		ERR(open(W("d"), O_WRONLY | O_CREAT, 0644)), EISDIR);
	wexpect("O_CREAT of a 256-byte name",
		ERR(open(W("%s", long_name(NAME_MAX + 1)),
			 O_WRONLY | O_CREAT, 0644)), ENAMETOOLONG);
	wexpect("O_CREAT of a 255-byte name",
		write_file(W("%s", long_name(NAME_MAX)), "x", 1, 0644), 0);
	if (writable)
		result(reads_as(W("%s", long_name(NAME_MAX)), "x", 1),
		       "a 255-byte name reads back", NULL);
	wexpect("open O_WRONLY of a directory", ERR(open(W("d"), O_WRONLY)),
		EISDIR);
	wexpect("open O_RDWR of a directory", ERR(open(W("d"), O_RDWR)),
		EISDIR);
	if (!writable)
		return;

	/* write, read back, close, read again */
	fd = open(W("w1"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	expect("open O_RDWR|O_CREAT", fd < 0 ? errno : 0, 0);
	if (fd < 0)
		return;
	expect_eq("write", write(fd, "hello world", 11), 11);
	expect("fstat after a write", ERR(fstat(fd, &sb)), 0);
	expect_eq("fstat: size after a write", sb.st_size, 11);
	n = pread(fd, buf, sizeof(buf), 0);
	result(n == 11 && memcmp(buf, "hello world", 11) == 0,
	       "read back before close", "%zd", n);
	expect_eq("pwrite in the middle", pwrite(fd, "W", 1, 6), 1);
	expect_eq("pwrite past the end", pwrite(fd, "end", 3, 20), 3);
	n = pread(fd, buf, sizeof(buf), 0);
	result(n == 23 && memcmp(buf, "hello World\0\0\0\0\0\0\0\0\0end",
				 23) == 0,
	       "a hole reads as zeros", "%zd", n);
	expect_eq("lseek SEEK_END", lseek(fd, 0, SEEK_END), 23);
	expect("fsync", ERR(fsync(fd)), 0);
	expect("fdatasync", ERR(fdatasync(fd)), 0);
	expect("close", ERR(close(fd)), 0);
	result(reads_as(W("w1"), "hello World\0\0\0\0\0\0\0\0\0end", 23),
	       "read back after close", NULL);
	expect("stat after close", ERR(stat(W("w1"), &sb)), 0);
	expect_eq("stat: size after close", sb.st_size, 23);

	/* O_APPEND */
	fd = open(W("w1"), O_WRONLY | O_APPEND);
	expect("open O_APPEND", fd < 0 ? errno : 0, 0);
	if (fd >= 0) {
		lseek(fd, 0, SEEK_SET);
		expect_eq("write O_APPEND", write(fd, "++", 2), 2);
		expect("close O_APPEND", ERR(close(fd)), 0);
	}
	expect("stat after O_APPEND", ERR(stat(W("w1"), &sb)), 0);
	expect_eq("O_APPEND writes at the end", sb.st_size, 25);

	/* O_TRUNC */
	fd = open(W("w1"), O_WRONLY | O_TRUNC);
	expect("open O_TRUNC", fd < 0 ? errno : 0, 0);
	if (fd >= 0) {
		expect("fstat after O_TRUNC", ERR(fstat(fd, &sb)), 0);
		expect_eq("O_TRUNC empties the file", sb.st_size, 0);
		expect_eq("write after O_TRUNC", write(fd, "new", 3), 3);
		expect("close after O_TRUNC", ERR(close(fd)), 0);
	}
	result(reads_as(W("w1"), "new", 3), "O_TRUNC then write", NULL);

	/* two descriptors on one file see each other's writes */
	fd = open(W("w2"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	fd2 = open(W("w2"), O_RDWR);
	result(fd >= 0 && fd2 >= 0, "two descriptors on one file", "%s",
	       ename(errno));
	if (fd >= 0 && fd2 >= 0) {
		expect_eq("write through the first", write(fd, "abc", 3), 3);
		n = pread(fd2, buf, 10, 0);
		result(n == 3 && memcmp(buf, "abc", 3) == 0,
		       "the second descriptor reads it", "%zd", n);
		expect_eq("write through the second",
			  pwrite(fd2, "XY", 2, 1), 2);
		expect("close the first", ERR(close(fd)), 0);
		fd = -1;
		result(reads_as(W("w2"), "aXY", 3),
		       "a third open sees both writes", NULL);
		expect("close the second", ERR(close(fd2)), 0);
		fd2 = -1;
	}
	if (fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);
	result(reads_as(W("w2"), "aXY", 3), "both writes after close", NULL);

	/* truncate and ftruncate */
	expect("truncate shrinks", ERR(truncate(W("w2"), 1)), 0);
	result(reads_as(W("w2"), "a", 1), "truncate: content", NULL);
	expect("truncate grows", ERR(truncate(W("w2"), 5)), 0);
	result(reads_as(W("w2"), "a\0\0\0\0", 5), "truncate grows with zeros",
	       NULL);
	expect("truncate of a directory", ERR(truncate(W("d"), 0)), EISDIR);
	expect("truncate of a missing name", ERR(truncate(W("nope"), 0)),
	       ENOENT);
	expect("truncate to a negative size", ERR(truncate(W("w2"), -1)),
	       EINVAL);
	fd = open(W("w2"), O_RDWR);
	if (fd >= 0) {
		expect("ftruncate", ERR(ftruncate(fd, 2)), 0);
		expect("fstat after ftruncate", ERR(fstat(fd, &sb)), 0);
		expect_eq("ftruncate: size", sb.st_size, 2);
		close(fd);
	}
	fd = open(W("w2"), O_RDONLY);
	if (fd >= 0) {
		expect2("ftruncate of an O_RDONLY descriptor",
			ERR(ftruncate(fd, 0)), EINVAL, EBADF);
		close(fd);
	}
	result(reads_as(W("w2"), "a\0", 2), "after ftruncate", NULL);
	expect("truncate through a symlink", ERR(truncate(W("s"), 1)), 0);
	result(reads_as(W("f0"), "z", 1), "truncate follows the symlink",
	       NULL);

	/* fallocate */
	fd = open(W("w3"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		expect("posix_fallocate", posix_fallocate(fd, 0, 100), 0);
		expect("fstat after fallocate", ERR(fstat(fd, &sb)), 0);
		expect_eq("fallocate extends the size", sb.st_size, 100);
		expect("fallocate KEEP_SIZE",
		       ERR(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 200)), 0);
		expect("fstat after KEEP_SIZE", ERR(fstat(fd, &sb)), 0);
		expect_eq("KEEP_SIZE keeps the size", sb.st_size, 100);
		expect("fallocate PUNCH_HOLE is not supported",
		       ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE |
				     FALLOC_FL_KEEP_SIZE, 0, 10)),
		       EOPNOTSUPP);
		close(fd);
	}

	/* a big file across chunks, read back */
	{
		size_t len = 3 * 1024 * 1024 + 123, off = 0;
		char *big = malloc(len);

		for (size_t i = 0; i < len; i++)
			big[i] = (char)(i * 7 + i / 4099);
		fd = open(W("big"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		e = fd < 0 ? errno : 0;
		while (!e && off < len) {
			n = write(fd, big + off, len - off > 65536 ? 65536 :
				  len - off);
			if (n <= 0)
				e = n < 0 ? errno : EIO;
			else
				off += (size_t)n;
		}
		if (fd >= 0 && close(fd) < 0 && !e)
			e = errno;
		expect("write 3 MiB", e, 0);
		fd = open(W("big"), O_RDONLY);
		e = fd < 0;
		for (off = 0; !e && off < len; off += 65536) {
			size_t want = len - off > 65536 ? 65536 : len - off;

			n = read(fd, buf, sizeof(buf) < want ? sizeof(buf) :
				 want);
			if (n <= 0 || memcmp(buf, big + off, (size_t)n) != 0)
				e = 1;
			else if (lseek(fd, (off_t)(off + 65536), SEEK_SET) < 0)
				e = 1;
		}
		result(!e, "a 3 MiB file reads back", NULL);
		if (fd >= 0)
			close(fd);
		free(big);
	}

	/* the bytes written survive the kernel's caches: read with
	 * O_DIRECT, which goes to the daemon */
	fd = open(W("w1"), O_RDONLY | O_DIRECT);
	if (fd >= 0) {
		void *al = NULL;

		if (posix_memalign(&al, 4096, 4096) == 0) {
			n = pread(fd, al, 4096, 0);
			result(n == 3 && memcmp(al, "new", 3) == 0,
			       "O_DIRECT read", "%zd", n);
			free(al);
		}
		close(fd);
	} else {
		skip("O_DIRECT read", strerror(errno));
	}
}

static void test_attrs(void)
{
	struct timespec ts[2];
	struct stat sb;
	char buf[64];
	int fd;

	if (!writable) {
		wexpect("chmod", ERR(chmod(W("f0"), 0600)), 0);
		return;
	}
	expect("chmod", ERR(chmod(W("f0"), 0600)), 0);
	expect("stat after chmod", ERR(stat(W("f0"), &sb)), 0);
	expect_eq("chmod: mode", sb.st_mode & 07777, 0600);
	expect("chmod through a symlink", ERR(chmod(W("s"), 0640)), 0);
	expect("stat after chmod through a symlink", ERR(stat(W("f0"), &sb)),
	       0);
	expect_eq("chmod follows the symlink", sb.st_mode & 07777, 0640);
	expect("chmod of a directory", ERR(chmod(W("d"), 0700)), 0);
	expect("stat of the directory", ERR(stat(W("d"), &sb)), 0);
	expect_eq("chmod of a directory: mode", sb.st_mode & 07777, 0700);
	expect("chmod of a missing name", ERR(chmod(W("nope"), 0600)),
	       ENOENT);
	fd = open(W("f0"), O_RDONLY);
	if (fd >= 0) {
		expect("fchmod", ERR(fchmod(fd, 0644)), 0);
		close(fd);
	}
	expect("stat after fchmod", ERR(stat(W("f0"), &sb)), 0);
	expect_eq("fchmod: mode", sb.st_mode & 07777, 0644);
	/* ctime moves on a change */
	{
		struct stat before;

		stat(W("f0"), &before);
		usleep(20000);
		chmod(W("f0"), 0664);
		stat(W("f0"), &sb);
		result(sb.st_ctim.tv_sec > before.st_ctim.tv_sec ||
		       (sb.st_ctim.tv_sec == before.st_ctim.tv_sec &&
			sb.st_ctim.tv_nsec > before.st_ctim.tv_nsec),
		       "chmod moves ctime", NULL);
	}

	if (getuid() == 0) {
		expect("chown by root", ERR(chown(W("f0"), 65534, 65534)), 0);
		expect("stat after chown", ERR(stat(W("f0"), &sb)), 0);
		result(sb.st_uid == 65534 && sb.st_gid == 65534,
		       "chown: owner and group", "%u:%u", sb.st_uid,
		       sb.st_gid);
		expect("chown -1 keeps", ERR(chown(W("f0"), (uid_t)-1, 0)),
		       0);
		stat(W("f0"), &sb);
		result(sb.st_uid == 65534 && sb.st_gid == 0,
		       "chown -1: owner kept", "%u:%u", sb.st_uid, sb.st_gid);
		expect("lchown of a symlink", ERR(lchown(W("s"), 65534, 0)),
		       0);
		lstat(W("s"), &sb);
		expect_eq("lchown: the symlink's owner", sb.st_uid, 65534);
		expect("chown back", ERR(chown(W("f0"), 0, 0)), 0);
	}

	/* utimensat */
	ts[0].tv_sec = 1000000000;
	ts[0].tv_nsec = 5;
	ts[1].tv_sec = 1234567890;
	ts[1].tv_nsec = 123456789;
	expect("utimensat", ERR(utimensat(AT_FDCWD, W("f0"), ts, 0)), 0);
	expect("stat after utimensat", ERR(stat(W("f0"), &sb)), 0);
	result(sb.st_mtim.tv_sec == ts[1].tv_sec &&
	       sb.st_mtim.tv_nsec == ts[1].tv_nsec, "utimensat: mtime",
	       "%ld.%09ld", (long)sb.st_mtim.tv_sec,
	       (long)sb.st_mtim.tv_nsec);
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_OMIT;
	expect("utimensat UTIME_OMIT", ERR(utimensat(AT_FDCWD, W("f0"), ts,
						    0)), 0);
	stat(W("f0"), &sb);
	expect_eq("UTIME_OMIT keeps mtime", sb.st_mtim.tv_sec, 1234567890);
	expect("utimensat NULL (now)", ERR(utimensat(AT_FDCWD, W("f0"), NULL,
						    0)), 0);
	stat(W("f0"), &sb);
	result(sb.st_mtim.tv_sec > time(NULL) - 60, "utimensat NULL: now",
	       "%ld", (long)sb.st_mtim.tv_sec);
	expect("utimensat of a missing name",
	       ERR(utimensat(AT_FDCWD, W("nope"), NULL, 0)), ENOENT);
	/* a write moves mtime */
	ts[0].tv_sec = ts[1].tv_sec = 1000;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	utimensat(AT_FDCWD, W("w1"), ts, 0);
	fd = open(W("w1"), O_WRONLY | O_APPEND);
	if (fd >= 0) {
		if (write(fd, "x", 1) != 1)
			perror("write");
		close(fd);
	}
	stat(W("w1"), &sb);
	result(sb.st_mtim.tv_sec > 1000, "a write moves mtime", "%ld",
	       (long)sb.st_mtim.tv_sec);

	/* xattrs: only pxfs's, read-only */
	expect2("setxattr of a user xattr",
		ERR(setxattr(W("f0"), "user.x", "1", 1, 0)), EOPNOTSUPP,
		EPERM);
	expect2("removexattr", ERR(removexattr(W("f0"), "user.pxfs.key")),
		EOPNOTSUPP, EPERM);
	expect_eq("getxattr user.pxfs.size of a written file",
		  getxattr(W("w2"), "user.pxfs.size", buf, sizeof(buf)), 1);
}

static void test_writes(void)
{
	int e;

	section = "writes";
	e = ERR(mkdir(P("posix-w"), 0755));
	if (e == EROFS && !ro) {
		/* the mount takes writes: EROFS here is a failure, not a
		 * reason to skip every write case */
		result(false, "mkdir of the work directory", "EROFS on a"
		       " read-write mount");
		return;
	} else if (e && e != EROFS) {
		result(false, "mkdir of the work directory", "%s", ename(e));
		return;
	} else {
		writable = !ro;
	}
	if (ro) {
		test_ro_writes();
		return;
	}
	section = "writes";
	if (writable) {
		expect("creat f0", write_file(W("f0"), "zero", 4, 0644), 0);
		expect("symlink flink", ERR(symlink("f0", W("flink"))), 0);
		expect("symlink dlink", ERR(symlink("d", W("dlink"))), 0);
	}
	test_namespace();
	section = "rename";
	test_rename();
	section = "files";
	test_files();
	section = "attrs";
	test_attrs();
}

/* ---- another user ----------------------------------------------------- */

/*
 * The perm fixture (owner root unless said):
 *	perm/secret	0600	"secret\n"
 *	perm/public	0644	"public\n"
 *	perm/closed/	0700	with f
 *	perm/rodir/	0755	with f
 *	perm/sticky/	1777	with rootf (0666)
 *	perm/userdir/	0755	owned by UID
 *	perm/userfile	0644	owned by UID, "mine\n"
 */
static void test_user_child(void)
{
	struct timespec ts[2] = { { 1, 0 }, { 1, 0 } };
	char buf[64], list[256];
	struct stat sb;
	bool types_ok;
	int fd;

	section = "user";
	expect("read a 0644 file of root's",
	       reads_as(F("perm/public"), "public\n", 7) ? 0 : EIO, 0);
	expect("open a 0600 file of root's", ERR(open(F("perm/secret"),
						      O_RDONLY)), EACCES);
	expect("stat in a 0700 directory of root's",
	       ERR(stat(F("perm/closed/f"), &sb)), EACCES);
	expect("readdir of a 0700 directory of root's",
	       list_dir(F("perm/closed"), list, sizeof(list), &types_ok),
	       EACCES);
	expect("stat of the 0700 directory itself",
	       ERR(stat(F("perm/closed"), &sb)), 0);
	expect("access W_OK to root's file",
	       ERR(access(F("perm/public"), W_OK)), ro ? EROFS : EACCES);
	expect("getxattr of a file it cannot read",
	       ERR(getxattr(F("perm/secret"), "user.pxfs.size", buf,
			    sizeof(buf))), EACCES);

	if (ro) {
		expect("open its own file for writing",
		       ERR(open(F("perm/userfile"), O_WRONLY)), EROFS);
		return;
	}
	/* the kernel refuses these before the daemon sees them */
	expect("open root's 0644 file for writing",
	       ERR(open(F("perm/public"), O_WRONLY)), EACCES);
	expect("truncate root's file", ERR(truncate(F("perm/public"), 0)),
	       EACCES);
	expect("creat in root's 0755 directory",
	       ERR(open(F("perm/rodir/new"), O_WRONLY | O_CREAT, 0644)),
	       EACCES);
	expect("mkdir in root's 0755 directory",
	       ERR(mkdir(F("perm/rodir/new"), 0755)), EACCES);
	expect("unlink in root's 0755 directory",
	       ERR(unlink(F("perm/rodir/f"))), EACCES);
	expect("rename out of root's 0755 directory",
	       ERR(rename(F("perm/rodir/f"), F("perm/userdir/f"))), EACCES);
	expect("symlink in root's 0755 directory",
	       ERR(symlink("x", F("perm/rodir/sl"))), EACCES);
	expect("chmod of root's file", ERR(chmod(F("perm/public"), 0666)),
	       EPERM);
	expect("chown of root's file", ERR(chown(F("perm/public"), user_uid,
						 user_uid)), EPERM);
	expect("chown of its own file to root",
	       ERR(chown(F("perm/userfile"), 0, (gid_t)-1)), EPERM);
	expect("chgrp of its own file to a group it is not in",
	       ERR(chown(F("perm/userfile"), (uid_t)-1, 0)), EPERM);
	expect("utimensat to a given time on root's file",
	       ERR(utimensat(AT_FDCWD, F("perm/public"), ts, 0)), EPERM);
	expect("utimensat to now on root's file it cannot write",
	       ERR(utimensat(AT_FDCWD, F("perm/public"), NULL, 0)), EACCES);
	expect("unlink of root's file in a sticky directory",
	       ERR(unlink(F("perm/sticky/rootf"))), EPERM);
	expect("rename of root's file in a sticky directory",
	       ERR(rename(F("perm/sticky/rootf"), F("perm/sticky/x"))),
	       EPERM);
	if (!writable) {
		skip("user writes", "the mount answers EROFS");
		return;
	}
	/* what it may do */
	expect("chmod of its own file", ERR(chmod(F("perm/userfile"), 0600)),
	       0);
	expect("utimensat of its own file",
	       ERR(utimensat(AT_FDCWD, F("perm/userfile"), ts, 0)), 0);
	fd = open(F("perm/userdir/new"), O_WRONLY | O_CREAT | O_EXCL, 0644);
	expect("creat in its own directory", fd < 0 ? errno : 0, 0);
	if (fd >= 0) {
		expect_eq("write", write(fd, "u", 1), 1);
		expect("close", ERR(close(fd)), 0);
	}
	expect("stat of its new file", ERR(stat(F("perm/userdir/new"), &sb)),
	       0);
	result(sb.st_uid == user_uid && sb.st_gid == user_uid,
	       "a new file belongs to its creator", "%u:%u", sb.st_uid,
	       sb.st_gid);
	expect("mkdir in its own directory",
	       ERR(mkdir(F("perm/userdir/sub"), 0755)), 0);
	expect("stat of its new directory",
	       ERR(stat(F("perm/userdir/sub"), &sb)), 0);
	expect_eq("a new directory belongs to its creator", sb.st_uid,
		  user_uid);
	expect("symlink in its own directory",
	       ERR(symlink("new", F("perm/userdir/sl"))), 0);
	expect("lstat of its new symlink",
	       ERR(lstat(F("perm/userdir/sl"), &sb)), 0);
	expect_eq("a new symlink belongs to its creator", sb.st_uid,
		  user_uid);
	fd = open(F("perm/sticky/mine"), O_WRONLY | O_CREAT | O_EXCL, 0644);
	expect("creat in a sticky directory", fd < 0 ? errno : 0, 0);
	if (fd >= 0)
		close(fd);
	expect("unlink of its own file in a sticky directory",
	       ERR(unlink(F("perm/sticky/mine"))), 0);
	expect("write to root's 0666 file in a sticky directory",
	       write_file(F("perm/sticky/rootf"), "w", 1, 0644), 0);
	expect("unlink in its own directory",
	       ERR(unlink(F("perm/userdir/new"))), 0);
}

static void test_user(void)
{
	pid_t pid;
	int status, fds[2];
	int counts[3];

	section = "user";
	if (getuid() != 0 || no_user) {
		skip("user cases", no_user ? "--no-user" : "not root");
		return;
	}
	if (pipe(fds) < 0) {
		result(false, "pipe", "%s", strerror(errno));
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		passed = failed = skipped = 0;
		if (setgroups(0, NULL) < 0 || setgid(user_uid) < 0 ||
		    setuid(user_uid) < 0) {
			result(false, "drop root", "%s", strerror(errno));
		} else {
			umask(022);
			test_user_child();
		}
		counts[0] = passed;
		counts[1] = failed;
		counts[2] = skipped;
		if (write(fds[1], counts, sizeof(counts)) < 0)
			_exit(2);
		fflush(stdout);
		_exit(0);
	}
	close(fds[1]);
	if (pid < 0 || read(fds[0], counts, sizeof(counts)) !=
	    (ssize_t)sizeof(counts)) {
		result(false, "the user's child", "no result");
	} else {
		passed += counts[0];
		failed += counts[1];
		skipped += counts[2];
	}
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
}

/* ---- main ------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: posix [-v] [--ro] [--fixture NAME]"
		" [--outside DIR] [--user UID | --no-user] MNT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-v") == 0)
			verbose = true;
		else if (strcmp(argv[i], "--ro") == 0)
			ro = true;
		else if (strcmp(argv[i], "--no-user") == 0)
			no_user = true;
		else if (strcmp(argv[i], "--fixture") == 0 && i + 1 < argc)
			fixture = argv[++i];
		else if (strcmp(argv[i], "--outside") == 0 && i + 1 < argc)
			outside = argv[++i];
		else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			user_uid = (uid_t)strtoul(argv[++i], NULL, 10);
		else
			usage();
	}
	if (i + 1 != argc)
		usage();
	mnt = argv[i];
	umask(022);
	setvbuf(stdout, NULL, _IOLBF, 0);

	test_reads();
	test_writes();
	test_user();
	printf("posix: %d/%d cases passed, %d skipped%s\n", passed,
	       passed + failed, skipped, ro ? " (read-only mount)" : "");
	return failed ? 1 : 0;
}
