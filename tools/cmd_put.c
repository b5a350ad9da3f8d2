/* SPDX-License-Identifier: MIT */
/*
 * cmd_put.c - "pxfs put STORE SRC...": store files and whole trees.
 *
 * A put runs in three passes so that bad input changes nothing:
 *
 *  1. scan: walk every SRC with lstat (symlinks are kept as symlinks, as
 *     cp -r does) into a flat plan in preorder, checking what can be
 *     checked without the store: the kind of every entry (no fifos,
 *     sockets or devices), that every file and directory can be read,
 *     that every name fits.
 *  2. check, inside the batch: the --to directory and every target in the
 *     store; a target that exists is an error unless --force, and even
 *     then a directory and a non-directory never replace each other.
 *  3. write: make the --to directories, then every entry in plan order
 *     (a directory before its children), ingesting each file, marking
 *     its object evict-on-read and putting the entry in its lifetime as
 *     asked.  A directory merged into (--force) takes the source's mode,
 *     owner and mtime.
 *
 * Everything after store_begin() is one transaction: on any failure the
 * batch is rolled back, which also evicts the blobs it wrote for objects
 * that are now unknown, so the store is as it was and fsck is clean.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "store.h"
#include "util.h"

#define NO_PARENT	SIZE_MAX

/* One entry to create: a source file, directory or symlink. */
struct item {
	char *src;		/* local path (owned) */
	const char *name;	/* name in the store: points into src or
				   into the top-level name buffer */
	char *top_name;		/* owned name of a top-level item, or NULL */
	size_t parent;		/* index of the parent item or NO_PARENT
				   (directly under --to) */
	struct stat sb;		/* from the scan */
	char *target;		/* symlink target (owned) */
	uint64_t ino;		/* store ino of a directory once made, or
				   of the directory it merges into */
	bool exists;		/* the target exists (--force) */
};

struct plan {
	struct item *v;		/* items in preorder */
	size_t n, cap;
	uint64_t bytes;		/* sum of regular file sizes */
	uint64_t files, dirs, symlinks;
	dev_t store_dev;	/* the store directory, which must not be */
	ino_t store_ino;	/* put into itself */
};

struct put_args {
	const char *store;
	const char *to;		/* NULL: the root */
	const char *type;	/* NULL: detected */
	struct store_put_opts popts;
	bool force;
	bool evict;		/* mark every object evict-on-read */
	const char *lifetime;	/* NULL: none */
	uint32_t lease;		/* seconds of a new lifetime; 0: none */
	bool json;		/* the summary as JSON */
};

enum {
	OPT_TO = 256, OPT_TYPE, OPT_LEVEL, OPT_CHUNK, OPT_FORCE, OPT_EVICT,
	OPT_LIFETIME, OPT_LEASE, OPT_JSON,
};

static const struct option opts[] = {
	{ "to", required_argument, NULL, OPT_TO },
	{ "type", required_argument, NULL, OPT_TYPE },
	{ "level", required_argument, NULL, OPT_LEVEL },
	{ "chunk-size", required_argument, NULL, OPT_CHUNK },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "evict-on-read", no_argument, NULL, OPT_EVICT },
	{ "lifetime", required_argument, NULL, OPT_LIFETIME },
	{ "lease", required_argument, NULL, OPT_LEASE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].src);
		free(p->v[i].top_name);
		free(p->v[i].target);
	}
	free(p->v);
}

/* Append an item for @src (taking ownership of it); -1 on ENOMEM. */
static int plan_add(struct plan *p, char *src, size_t parent, size_t *idx)
{
	struct item *it;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct item *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return -1;
		p->v = v;
		p->cap = cap;
	}
	it = &p->v[p->n];
	memset(it, 0, sizeof(*it));
	it->src = src;
	it->parent = parent;
	*idx = p->n++;
	return 0;
}

static const char *special_kind(mode_t m)
{
	if (S_ISFIFO(m))
		return "a fifo";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "not a regular file, directory or symlink";
}

static int skip_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

/* Byte order, not the locale's: the store lists by bytes too. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + 1 + strlen(name) + 1;
	bool slash = dir[0] && dir[strlen(dir) - 1] == '/';
	char *s = malloc(n);

	if (s)
		snprintf(s, n, slash ? "%s%s" : "%s/%s", dir, name);
	return s;
}

static int scan(struct plan *p, char *src, size_t parent, const char *name,
		char *top_name);

/* Add the children of directory item @idx, sorted by name. */
static int scan_dir(struct plan *p, size_t idx)
{
	struct dirent **list = NULL;
	const char *dir = p->v[idx].src;
	int n, ret = 0;
	int i = 0;

	n = scandir(dir, &list, skip_dots, by_name);
	if (n < 0)
		return errorf("put", "cannot read directory '%s': %s", dir,
			      strerror(errno));
	for (; i < n; i++) {
		char *child = path_join(p->v[idx].src, list[i]->d_name);

		if (!child) {
			ret = errorf("put", "out of memory");
			break;
		}
		/* p->v may move: the name lives in the child's own path. */
		ret = scan(p, child, idx, NULL, NULL);
		if (ret != 0)
			break;
	}
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return ret;
}

/*
 * Add @src (owned) and, for a directory, everything below it.  @name is
 * the store name (NULL: the last component of @src); @top_name is its
 * owned buffer for a top-level item.
 */
static int scan(struct plan *p, char *src, size_t parent, const char *name,
		char *top_name)
{
	struct item *it;
	size_t idx;
	int fd;

	if (plan_add(p, src, parent, &idx) < 0) {
		free(src);
		free(top_name);
		return errorf("put", "out of memory");
	}
	it = &p->v[idx];
	it->top_name = top_name;
	it->name = name ? name : strrchr(src, '/') + 1;
	if (!is_valid_name(it->name))
		return errorf("put", "invalid name '%s' in '%s'", it->name,
			      src);
	if (lstat(src, &it->sb) < 0)
		return errorf("put", "cannot read '%s': %s", src,
			      strerror(errno));
	if (S_ISREG(it->sb.st_mode)) {
		fd = open(src, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			return errorf("put", "cannot read '%s': %s", src,
				      strerror(errno));
		close(fd);
		p->bytes += (uint64_t)it->sb.st_size;
		p->files++;
		return 0;
	}
	if (S_ISLNK(it->sb.st_mode)) {
		size_t len = (size_t)it->sb.st_size + 1;
		ssize_t n;

		if (len < 2 || len > PATH_MAX)
			len = PATH_MAX;
		it->target = malloc(len + 1);
		if (!it->target)
			return errorf("put", "out of memory");
		n = readlink(src, it->target, len + 1);
		if (n < 0)
			return errorf("put", "cannot read symlink '%s': %s",
				      src, strerror(errno));
		if ((size_t)n > len || n == 0)
			return errorf("put", "cannot read symlink '%s': "
				      "target changed while reading", src);
		it->target[n] = '\0';
		p->symlinks++;
		return 0;
	}
	if (S_ISDIR(it->sb.st_mode)) {
		if (it->sb.st_dev == p->store_dev &&
		    it->sb.st_ino == p->store_ino)
			return errorf("put", "cannot put the store '%s' into "
				      "itself", src);
		p->dirs++;
		return scan_dir(p, idx);
	}
	return errorf("put", "cannot put '%s': it is %s", src,
		      special_kind(it->sb.st_mode));
}

/*
 * The store name of a top-level SRC, as cp -r names its copy: the last
 * component, trailing slashes ignored; "." and ".." take the name of the
 * directory they stand for.  Caller frees *out.
 */
static int top_name(const char *src, char **out)
{
	char *copy = strdup(src);
	char *real = NULL;
	char *end, *base;
	int ret = 0;

	*out = NULL;
	if (!copy)
		return errorf("put", "out of memory");
	end = copy + strlen(copy);
	while (end > copy + 1 && end[-1] == '/')
		*--end = '\0';
	base = strrchr(copy, '/');
	base = base ? base + 1 : copy;
	if (base[0] == '\0' || strcmp(base, ".") == 0 ||
	    strcmp(base, "..") == 0) {
		real = realpath(src, NULL);
		if (!real) {
			ret = errorf("put", "cannot read '%s': %s", src,
				     strerror(errno));
			goto out;
		}
		base = strrchr(real, '/') + 1;
		if (base[0] == '\0') {
			ret = errorf("put", "cannot put '%s': the root "
				     "directory has no name to store it "
				     "under", src);
			goto out;
		}
	}
	*out = strdup(base);
	if (!*out)
		ret = errorf("put", "out of memory");
out:
	free(real);
	free(copy);
	return ret;
}

static int parse_args(int argc, char **argv, struct put_args *a)
{
	int c;

	while ((c = getopt_cmd(argc, argv, "", opts)) != -1) {
		switch (c) {
		case OPT_TO:
			a->to = optarg;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_TYPE: {
			size_t n = strlen(optarg);

			if (n == 0 || n > STORE_TYPE_MAX) {
				errorf("put", "invalid type '%s': must be 1 "
				       "to %d bytes", optarg, STORE_TYPE_MAX);
				return EXIT_ERR;
			}
			for (size_t i = 0; i < n; i++) {
				unsigned char ch = (unsigned char)optarg[i];

				if (ch < 0x20 || ch >= 0x7f) {
					errorf("put", "invalid type '%s': "
					       "only printable ASCII is "
					       "allowed", optarg);
					return EXIT_ERR;
				}
			}
			a->type = optarg;
			break;
		}
		case OPT_LEVEL:
			if (opt_level("put", optarg, &a->popts.level) < 0)
				return EXIT_ERR;
			break;
		case OPT_CHUNK:
			if (opt_chunk_size("put", optarg,
					   &a->popts.chunk_size) < 0)
				return EXIT_ERR;
			break;
		case OPT_FORCE:
			a->force = true;
			break;
		case OPT_EVICT:
			a->evict = true;
			break;
		case OPT_LIFETIME:
			if (opt_lifetime("put", optarg) < 0)
				return EXIT_ERR;
			a->lifetime = optarg;
			break;
		case OPT_LEASE:
			if (opt_lease("put", optarg, &a->lease) < 0)
				return EXIT_ERR;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind < 2)
		return usage_errorf("put", argc - optind < 1 ?
				    "missing STORE" : "missing SRC");
	if (a->lease && !a->lifetime)
		return usage_errorf("put", "--lease needs --lifetime");
	a->store = argv[optind];
	return EXIT_OK;
}

/*
 * "/to/a/b" of item @i, for messages, into @buf (built from the end, as
 * the chain of parents gives the names; a path too long for @buf keeps
 * its tail).
 */
static const char *target_path(const struct plan *p, size_t i,
			       const char *to, char *buf, size_t len)
{
	size_t end = len - 1;
	size_t n;

	buf[end] = '\0';
	for (size_t j = i; j != NO_PARENT; j = p->v[j].parent) {
		n = strlen(p->v[j].name);
		if (n + 1 > end)
			goto out;
		end -= n;
		memcpy(buf + end, p->v[j].name, n);
		buf[--end] = '/';
	}
	n = strcmp(to, "/") == 0 ? 0 : strlen(to);
	if (n <= end) {
		end -= n;
		memcpy(buf + end, to, n);
	}
out:
	memmove(buf, buf + end, len - end);
	return buf;
}

/*
 * Find the --to directory, if it exists, walking @to component by
 * component: *ino is the deepest existing directory and *missing the
 * offset in @to of the first component to create (strlen(@to) if none).
 */
static int find_to(struct store *st, const char *to, uint64_t *ino,
		   size_t *missing)
{
	struct store_node n;
	const char *p = to;
	char name[STORE_NAME_MAX + 1];
	store_rc rc;

	*ino = STORE_ROOT_INO;
	*missing = strlen(to);
	while (*p) {
		const char *s;
		size_t len;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		s = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - s);
		memcpy(name, s, len);
		name[len] = '\0';
		rc = store_lookup(st, *ino, name, &n);
		if (rc == STORE_NOTFOUND) {
			*missing = (size_t)(s - to);
			return 0;
		}
		if (rc != STORE_OK)
			return store_error("put", rc);
		if (!S_ISDIR(n.mode))
			return errorf("put", "cannot put into '%.*s': not a "
				      "directory", (int)(p - to), to);
		*ino = n.ino;
	}
	return 0;
}

/* Pass 2: compare every item with what the store holds. */
static int check_targets(struct store *st, struct plan *p,
			 const struct put_args *a, const char *to,
			 uint64_t to_ino, bool to_exists)
{
	char path[SPATH_MAX];
	struct store_node n;
	store_rc rc;

	/* Two SRCs of one name would collide with each other. */
	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i].parent != NO_PARENT)
			continue;
		for (size_t j = 0; j < i; j++) {
			if (p->v[j].parent == NO_PARENT &&
			    strcmp(p->v[i].name, p->v[j].name) == 0)
				return errorf("put", "'%s' and '%s' would "
					      "both be '%s'", p->v[j].src,
					      p->v[i].src,
					      target_path(p, i, to, path,
							  sizeof(path)));
		}
	}
	for (size_t i = 0; i < p->n; i++) {
		struct item *it = &p->v[i];
		uint64_t dir;

		if (it->parent == NO_PARENT) {
			if (!to_exists)
				continue;
			dir = to_ino;
		} else {
			/* Below a new directory nothing can exist. */
			if (!p->v[it->parent].exists)
				continue;
			dir = p->v[it->parent].ino;
		}
		rc = store_lookup(st, dir, it->name, &n);
		if (rc == STORE_NOTFOUND)
			continue;
		if (rc != STORE_OK)
			return store_error("put", rc);
		target_path(p, i, to, path, sizeof(path));
		if (!a->force)
			return errorf("put", "'%s' already exists (use "
				      "--force)", path);
		if (S_ISDIR(it->sb.st_mode) && !S_ISDIR(n.mode))
			return errorf("put", "cannot overwrite non-directory "
				      "'%s' with directory '%s'", path,
				      it->src);
		if (!S_ISDIR(it->sb.st_mode) && S_ISDIR(n.mode))
			return errorf("put", "cannot overwrite directory "
				      "'%s' with non-directory '%s'", path,
				      it->src);
		it->exists = true;
		it->ino = n.ino;
	}
	return 0;
}

/* Make the missing components of @to from offset @from, like mkdir -p. */
static int make_to(struct store *st, const char *to, size_t from,
		   uint64_t *ino)
{
	struct store_attr attr = { 0 };
	struct store_node n;
	const char *p = to + from;
	char name[STORE_NAME_MAX + 1];
	mode_t mask = umask(0);
	store_rc rc;

	umask(mask);
	attr.mode = S_IFDIR | (0777 & ~mask);
	attr.uid = (uint32_t)getuid();
	attr.gid = (uint32_t)getgid();
	while (*p) {
		const char *s;
		size_t len;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		s = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - s);
		memcpy(name, s, len);
		name[len] = '\0';
		rc = store_mkdir(st, *ino, name, &attr, 0, &n);
		if (rc != STORE_OK)
			return store_error("put", rc);
		*ino = n.ino;
	}
	return 0;
}

static void attr_of(const struct stat *sb, struct store_attr *a)
{
	a->mode = (uint32_t)sb->st_mode;
	a->uid = (uint32_t)sb->st_uid;
	a->gid = (uint32_t)sb->st_gid;
	a->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 +
		      sb->st_mtim.tv_nsec;
}

/*
 * With --evict-on-read, the first read of an object removes it for every
 * entry that shares it.  Content addressing makes an object shared by all
 * entries of the same bytes, so marking one that entries outside this put
 * already use would take their content away after someone else's read:
 * refuse that.  The entry a --force put replaces does not count.
 */
static int check_evict(struct store *st, const struct item *it,
		       uint64_t dir, const struct store_object *obj,
		       const char *path)
{
	uint64_t others = obj->refs;
	struct store_node old;
	store_rc rc;

	if (obj->evict_on_read || others == 0)
		return 0;
	if (it->exists) {
		rc = store_lookup(st, dir, it->name, &old);
		if (rc != STORE_OK)
			return store_error("put", rc);
		if (S_ISREG(old.mode) && strcmp(old.key, obj->key) == 0)
			others--;
	}
	if (others == 0)
		return 0;
	return errorf("put", "cannot put '%s' as %s with --evict-on-read: "
		      "the same content is stored for %llu other entr%s, "
		      "which would lose it after the first read", it->src,
		      path, (unsigned long long)others,
		      others == 1 ? "y" : "ies");
}

/* Ingest one regular file and make its entry under @dir. */
static int put_file(struct store *st, struct item *it, uint64_t dir,
		    const struct put_args *a, unsigned flags, uint64_t *done,
		    const char *path, struct store_node *out)
{
	struct store_object obj;
	struct store_attr attr;
	struct stat sb;
	store_rc rc;
	int ret = 0;
	int fd;

	fd = open(it->src, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errorf("put", "cannot read '%s': %s", it->src,
			      strerror(errno));
	if (fstat(fd, &sb) < 0) {
		ret = errorf("put", "cannot read '%s': %s", it->src,
			     strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		ret = errorf("put", "cannot put '%s': it changed while "
			     "putting", it->src);
		goto out;
	}
	progress_fd(fd, *done);
	rc = store_ingest_fd(st, fd, it->src, &a->popts, &obj);
	progress_fd(-1, *done);
	if (rc != STORE_OK) {
		ret = store_error("put", rc);
		goto out;
	}
	*done += obj.size;
	if (a->evict) {
		ret = check_evict(st, it, dir, &obj, path);
		if (ret != 0)
			goto out;
	}
	attr_of(&sb, &attr);
	rc = store_mkfile(st, dir, it->name, &attr, obj.key,
			  a->type ? a->type : obj.type, flags, out);
	if (rc == STORE_OK && a->evict && !obj.evict_on_read)
		rc = store_set_evict_on_read(st, obj.key);
	if (rc != STORE_OK) {
		ret = store_error("put", rc);
	} else {
		char h[32];

		infof("put", "'%s' -> '%s': %s, %s, key %s", it->src, path,
		      human_size(obj.size, h, sizeof(h)),
		      a->type ? a->type : obj.type, obj.key);
	}
out:
	close(fd);
	return ret;
}

/*
 * --lifetime: create the lifetime first when a --lease is given (an
 * existing lifetime keeps its own end; "lifetime extend" moves it).
 * Without a lease, store_set_lifetime() creates it with the first entry.
 */
static int start_lifetime(struct store *st, const struct put_args *a)
{
	store_rc rc;

	if (!a->lifetime || !a->lease)
		return 0;
	rc = store_lifetime_create(st, a->lifetime, a->lease);
	if (rc != STORE_OK && rc != STORE_EXISTS)
		return store_error("put", rc);
	return 0;
}

/*
 * Pass 3: make every entry, parents first.  The lifetime goes on each
 * entry the put makes whose parent it did not make (the --to directory,
 * or a directory merged into): ending the lifetime removes such an entry
 * with everything below it, so that is exactly what the put made, and
 * nothing that was there before.
 */
static int write_plan(struct store *st, struct plan *p,
		      const struct put_args *a, const char *to,
		      uint64_t to_ino)
{
	unsigned flags = a->force ? STORE_REPLACE : 0;
	char path[SPATH_MAX];
	struct store_attr attr;
	struct store_node n;
	uint64_t done = 0;
	store_rc rc;
	int ret;

	for (size_t i = 0; i < p->n; i++) {
		struct item *it = &p->v[i];
		uint64_t dir = it->parent == NO_PARENT ? to_ino :
			       p->v[it->parent].ino;
		bool top = it->parent == NO_PARENT || p->v[it->parent].exists;

		attr_of(&it->sb, &attr);
		if (S_ISDIR(it->sb.st_mode) && it->exists) {
			/* merge into it, taking the source's attributes */
			rc = store_setattr(st, it->ino, STORE_SET_MODE |
					   STORE_SET_UID | STORE_SET_GID |
					   STORE_SET_MTIME, &attr, NULL);
			if (rc != STORE_OK)
				return store_error("put", rc);
			continue;
		}
		if (S_ISDIR(it->sb.st_mode)) {
			rc = store_mkdir(st, dir, it->name, &attr, flags, &n);
			if (rc != STORE_OK)
				return store_error("put", rc);
			it->ino = n.ino;
		} else if (S_ISLNK(it->sb.st_mode)) {
			rc = store_symlink(st, dir, it->name, it->target,
					   &attr, flags, &n);
			if (rc != STORE_OK)
				return store_error("put", rc);
		} else {
			target_path(p, i, to, path, sizeof(path));
			ret = put_file(st, it, dir, a, flags, &done, path, &n);
			if (ret != 0)
				return ret;
		}
		if (a->lifetime && top) {
			rc = store_set_lifetime(st, n.ino, a->lifetime);
			if (rc != STORE_OK)
				return store_error("put", rc);
		}
	}
	return 0;
}

int cmd_put(int argc, char **argv)
{
	struct put_args a = { 0 };
	struct plan p = { 0 };
	struct store *st = NULL;
	char to[SPATH_MAX];
	char sz[32];
	uint64_t to_ino;
	struct stat sb;
	size_t missing;
	store_rc rc;
	int ret;

	ret = parse_args(argc, argv, &a);
	if (ret != EXIT_OK)
		return ret;
	if (spath_norm("put", a.to ? a.to : "/", to, sizeof(to)) < 0)
		return EXIT_ERR;

	/* Pass 1, before the store is touched. */
	if (stat(a.store, &sb) == 0) {
		p.store_dev = sb.st_dev;
		p.store_ino = sb.st_ino;
	}
	for (int i = optind + 1; i < argc; i++) {
		char *src = strdup(argv[i]);
		char *name = NULL;

		if (!src) {
			ret = errorf("put", "out of memory");
			goto out;
		}
		ret = top_name(argv[i], &name);
		if (ret != 0) {
			free(src);
			goto out;
		}
		ret = scan(&p, src, NO_PARENT, name, name);
		if (ret != 0)
			goto out;
	}

	if (open_store("put", a.store, 0, &st) < 0) {
		ret = EXIT_ERR;
		goto out;
	}
	rc = store_begin(st);
	if (rc != STORE_OK) {
		ret = store_error("put", rc);
		goto out;
	}
	ret = find_to(st, to, &to_ino, &missing);
	if (ret == 0)
		ret = check_targets(st, &p, &a, to, to_ino,
				    missing == strlen(to));
	if (ret == 0)
		ret = make_to(st, to, missing, &to_ino);
	if (ret == 0)
		ret = start_lifetime(st, &a);
	if (ret == 0) {
		progress_start("put", p.bytes);
		ret = write_plan(st, &p, &a, to, to_ino);
		progress_end();
	}
	if (ret == 0) {
		rc = store_commit(st);
		if (rc != STORE_OK)
			ret = store_error("put", rc);
	}
	if (ret != 0) {
		store_rollback(st);
		/* -v listed files as they went in: none of them stays */
		infof("put", "nothing stored: the command's changes are "
		      "rolled back");
		ret = EXIT_ERR;
		goto out;
	}
	if (a.json) {
		printf("{\"store\": ");
		json_str(stdout, a.store);
		printf(", \"to\": ");
		json_str(stdout, to);
		printf(", \"files\": %llu, \"dirs\": %llu, \"symlinks\": "
		       "%llu, \"bytes\": %llu, \"lifetime\": ",
		       (unsigned long long)p.files, (unsigned long long)p.dirs,
		       (unsigned long long)p.symlinks,
		       (unsigned long long)p.bytes);
		if (a.lifetime)
			json_str(stdout, a.lifetime);
		else
			printf("null");
		printf(", \"evict_on_read\": %s}\n",
		       a.evict ? "true" : "false");
		goto out;
	}
	if (verbosity() <= VERBOSITY_QUIET)
		goto out;
	printf("put %llu file%s (%s), %llu director%s, %llu symlink%s "
	       "into %s", (unsigned long long)p.files,
	       p.files == 1 ? "" : "s", human_size(p.bytes, sz, sizeof(sz)),
	       (unsigned long long)p.dirs, p.dirs == 1 ? "y" : "ies",
	       (unsigned long long)p.symlinks, p.symlinks == 1 ? "" : "s",
	       to);
	if (a.lifetime)
		printf(" in lifetime '%s'", a.lifetime);
	printf("%s\n", a.evict ? ", evict-on-read" : "");
out:
	store_close(st);
	plan_free(&p);
	return ret;
}
