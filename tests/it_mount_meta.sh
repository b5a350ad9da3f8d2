#!/bin/bash
# SPDX-License-Identifier: MIT
# it_mount_meta.sh - a mounted store's metadata, from the index alone: ls -lR,
# stat, find -size, du --apparent-size and getfattr -d over many placeholders
# cause zero connector reads (proven by the mount's own metrics); sizes,
# modes, owners, times and symlinks are as put; the xattrs and the stats
# document; ls -l costs no lookup per file (readdirplus); writes on a -o ro
# mount get EROFS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse

S=$T/store
D=$T/data
M=$T/mnt
mkdir -p "$D" "$M"

# ---- a tree of many placeholders -------------------------------------------
python3 - "$D" <<'EOF'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(7)
for d in range(20):
    dd = os.path.join(root, "dir%02d" % d, "sub")
    os.makedirs(dd)
    for f in range(60):
        p = os.path.join(root, "dir%02d" % d, "f%03d.dat" % f)
        n = rnd.choice([0, 1, 100, 4096, 5000, 20000, 70000])
        with open(p, "wb") as fh:
            fh.write(bytes(rnd.getrandbits(8) for _ in range(n)))
        os.chmod(p, rnd.choice([0o644, 0o600, 0o755, 0o444]))
        t = 1500000000 + rnd.randrange(10**8) + rnd.randrange(10**9) / 1e9
        os.utime(p, (t, t))
    with open(os.path.join(dd, "deep.txt"), "w") as fh:
        fh.write("deep %d\n" % d)
    os.symlink("../f000.dat", os.path.join(dd, "link"))
os.symlink("dir00/f001.dat", os.path.join(root, "top-link"))
os.symlink("/nonexistent/target", os.path.join(root, "dangling"))
EOF
if is_root; then
	chown 1234:5678 "$D/dir00/f000.dat"
	chown -h 4321:8765 "$D/top-link"
fi
new_store "$S"
expect_ok "$PXFS" put "$S" "$D"/*
nfiles=$(find "$D" -type f | wc -l)
[ "$nfiles" -ge 1200 ] || fail "only $nfiles files"

mount_bg "$S" "$M" --cache-dir "$T/cache"

gets0=$(mstat "$M" 'd["connector"]["gets"]')
bytes0=$(mstat "$M" 'd["connector"]["get_bytes"]')
[ "$gets0" = 0 ] && [ "$bytes0" = 0 ] || fail "gets at mount: $gets0"

# ---- readdirplus: ls -l of a fresh directory needs no lookup per file -----
lk0=$(mstat "$M" 'd["ops"]["lookup"]["count"] + d["ops"]["getattr"]["count"]')
ls -l "$M/dir05" >/dev/null
lk1=$(mstat "$M" 'd["ops"]["lookup"]["count"] + d["ops"]["getattr"]["count"]')
[ $((lk1 - lk0)) -le 3 ] ||
	fail "ls -l of 60 files cost $((lk1 - lk0)) lookups/getattrs"

# ---- every metadata tool over every placeholder ----------------------------
ls -lR "$M" >/dev/null
find "$M" -exec stat {} + >/dev/null
find "$M" -size +10k >/dev/null
du --apparent-size -s "$M" >/dev/null
getfattr -R -P -h -d "$M" >/dev/null
getfattr -R -P -h -d -m - "$M" >/dev/null
stat -f "$M" >/dev/null

gets1=$(mstat "$M" 'd["connector"]["gets"]')
bytes1=$(mstat "$M" 'd["connector"]["get_bytes"]')
[ "$gets1" = "$gets0" ] || fail "metadata caused $((gets1 - gets0)) gets"
[ "$bytes1" = "$bytes0" ] || fail "metadata fetched $((bytes1 - bytes0)) bytes"
[ "$(mstat "$M" 'd["cache"]["misses"] + d["cache"]["hits"]')" = 0 ] ||
	fail "metadata opened objects"

# ---- ... and what they show is what was put -------------------------------
meta() {
	(cd "$1" && find . -mindepth 1 ! -type d \
		-printf '%P|%y|%s|%m|%U|%G|%T@|%l\n' | LC_ALL=C sort)
}
meta "$D" >"$T/want"
meta "$M" >"$T/got"
diff "$T/want" "$T/got" >"$T/diff" || fail "metadata differs: $(head "$T/diff")"
dirs() {
	(cd "$1" && find . -mindepth 1 -type d -printf '%P|%m|%U|%G\n' |
	 LC_ALL=C sort)
}
[ "$(dirs "$D")" = "$(dirs "$M")" ] || fail "directories differ"
[ "$(find "$M" -size +10k | wc -l)" = "$(find "$D" -size +10k | wc -l)" ] ||
	fail "find -size counts differ"
want=$(find "$D" ! -type d -printf '%s\n' | awk '{ s += $1 } END { print s }')
got=$(du --apparent-size -sb "$M" | cut -f1)
[ "$got" = "$want" ] || fail "du --apparent-size: $got, want $want"
[ "$(readlink "$M/top-link")" = dir00/f001.dat ] || fail "top-link"
[ "$(readlink "$M/dangling")" = /nonexistent/target ] || fail "dangling"
[ "$(cat "$M/dir03/sub/link" | wc -c)" = "$(wc -c <"$D/dir03/f000.dat")" ] ||
	fail "reading through a symlink"
[ "$(stat -c %h "$M/dir00/f001.dat")" = 1 ] || fail "file nlink"

# ---- lookup counting: the kernel's forgets drop what it held --------------
n=$(mstat "$M" 'd["inodes"]')
[ "$n" -ge "$nfiles" ] || fail "$n inodes held after ls -lR of $nfiles files"
if is_root; then
	sync
	echo 2 >/proc/sys/vm/drop_caches
	wait_for 10 test "$(mstat "$M" 'd["inodes"]')" -lt 100
	[ "$(mstat "$M" 'd["ops"]["forget"]["count"]')" -gt 0 ] || fail "forget"
	# forgotten by the kernel, still in the attribute cache: the
	# lookups of a path are answered without the index
	h0=$(mstat "$M" 'd["attrs"]["hits"]')
	[ "$(stat -c %s "$M/dir03/f000.dat")" = \
	  "$(stat -c %s "$D/dir03/f000.dat")" ] || fail "size after forget"
	h1=$(mstat "$M" 'd["attrs"]["hits"]')
	[ $((h1 - h0)) -ge 2 ] || fail "lookups after forget: $((h1 - h0)) hits"
	ls -lR "$M" >/dev/null
	[ "$(mstat "$M" 'd["inodes"]')" = "$n" ] || fail "inodes after relisting"
fi

# ---- xattrs ------------------------------------------------------------------
f=$M/dir02/f010.dat
key=$(key_of "$S" /dir02/f010.dat)
[ "$(xattr "$f" user.pxfs.key)" = "$key" ] || fail "user.pxfs.key"
[ "$(xattr "$f" user.pxfs.hash)" = "$(sha256sum <"$D/dir02/f010.dat" |
	cut -c1-64)" ] || fail "user.pxfs.hash"
[ "$(xattr "$f" user.pxfs.size)" = "$(stat -c %s "$D/dir02/f010.dat")" ] ||
	fail "user.pxfs.size"
[ "$(xattr "$f" user.pxfs.stored_size)" = \
  "$(stat_field "$S" /dir02/f010.dat stored_size)" ] || fail "stored_size"
[ "$(xattr "$f" user.pxfs.type)" = "$(stat_field "$S" /dir02/f010.dat type)" ] ||
	fail "user.pxfs.type"
[ "$(xattr "$f" user.pxfs.resolved)" = 0 ] || fail "resolved before a read"
names=$(getfattr --absolute-names -d "$f" | grep -o '^user[^=]*' | sort |
	tr '\n' ' ')
[ "$names" = "user.pxfs.hash user.pxfs.key user.pxfs.resolved user.pxfs.size user.pxfs.state user.pxfs.stored_size user.pxfs.type " ] ||
	fail "getfattr -d lists '$names'"
# names we do not serve: ENODATA in user.*, EOPNOTSUPP in the namespaces we
# do not serve at all (so that ls -l stops asking them for every file)
for p in "$f" "$M/dir02" "$M"; do
	for n in user.other user.pxfs.nope user.pxfs.stats.x; do
		_run getfattr --absolute-names -n "$n" "$p"
		[ "$RC" -ne 0 ] && printf '%s' "$ERR" | grep -q 'No such attribute' ||
			fail "getfattr -n $n $p: $ERR"
	done
	for n in security.selinux system.posix_acl_access trusted.x; do
		_run getfattr --absolute-names -n "$n" "$p"
		[ "$RC" -ne 0 ] &&
		printf '%s' "$ERR" | grep -q 'Operation not supported' ||
			fail "getfattr -n $n $p: $ERR"
	done
done
# ls -l: at most a few xattr round trips for a whole directory
x0=$(mstat "$M" 'd["ops"]["getxattr"]["count"]')
ls -l "$M/dir07" >/dev/null
x1=$(mstat "$M" 'd["ops"]["getxattr"]["count"]')
[ $((x1 - x0)) -le 4 ] || fail "ls -l of 60 files asked $((x1 - x0)) xattrs"
[ -z "$(getfattr --absolute-names -d "$M/dir02")" ] ||
	fail "a directory has xattrs"
[ "$(getfattr --absolute-names -d "$M" | grep -c '^user')" = 1 ] ||
	fail "the root lists more than user.pxfs.stats"
cat "$f" >/dev/null
[ "$(xattr "$f" user.pxfs.resolved)" = 1 ] || fail "resolved after a read"

# ---- the stats document -----------------------------------------------------
mstat "$M" '",".join(sorted(d))' >"$T/keys"
[ "$(cat "$T/keys")" = "attrs,cache,connector,errors,inodes,ops,pid,resolve_queued,resolves,uptime_us" ] ||
	fail "stats keys: $(cat "$T/keys")"
[ "$(mstat "$M" 'sorted(d["cache"]) == sorted(["hits", "misses", "waits",
	"readahead", "evictions", "bytes", "budget", "objects", "open", "reused",
	"dir"])')" = True ] ||
	fail "cache keys: $(mstat "$M" 'sorted(d["cache"])')"
[ "$(mstat "$M" 'all(sorted(v) == ["count", "max_us", "total_us"]
	for v in d["ops"].values())')" = True ] || fail "ops entries"
[ "$(mstat "$M" 'd["ops"]["lookup"]["count"] > 0 and
	d["ops"]["readdirplus"]["count"] > 0 and
	d["ops"]["getxattr"]["max_us"] <= d["ops"]["getxattr"]["total_us"]')" = True ] ||
	fail "op latencies are not counted"
# two objects read so far: through dir03/sub/link, and $f
[ "$(mstat "$M" 'd["connector"]["gets"] > 0 and d["cache"]["misses"] == 2 and
	d["resolves"] == 2 and d["errors"] == 0')" = True ] ||
	fail "counters after two reads: $(mstat "$M" 'd')"
[ "$(mstat "$M" 'd["cache"]["dir"]')" = "$T/cache" ] || fail "cache dir"
expect_ok "$PXFS" stats "$M"
printf '%s\n' "$OUT" | grep -q gets || fail "pxfs stats MNT: $OUT"

# ---- -o ro: EROFS, not ENOSYS, and nothing changes -------------------------
unmount "$M"
mount_bg "$S" "$M" -o ro --cache-dir "$T/cache"
# (a fresh daemon, few getxattrs yet) the stats document grows with its
# counters: when getxattr's own count goes from 999 to 1000 between the
# size probe and the read, a buffer of the probed size must be enough
python3 - "$M" <<'PY' || fail "user.pxfs.stats: a read of the probed size failed"
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
path, name = os.fsencode(sys.argv[1]), b"user.pxfs.stats"
big = ctypes.create_string_buffer(1 << 20)
while True:
    r = libc.getxattr(path, name, big, len(big))
    assert r > 0, os.strerror(ctypes.get_errno())
    seen = json.loads(big.raw[:r])["ops"]["getxattr"]["count"] + 1
    if seen > 999:
        sys.exit("the count passed 999 before the test: %d" % seen)
    if seen == 999:		# the probe says 999, the read 1000
        n = libc.getxattr(path, name, None, 0)
        buf = ctypes.create_string_buffer(n)
        r = libc.getxattr(path, name, buf, n)
        if r < 0:
            sys.exit("probe said %d, read: %s"
                     % (n, os.strerror(ctypes.get_errno())))
        json.loads(buf.raw[:r])
        break
PY
erofs() {
	_run "$@"
	[ "$RC" -ne 0 ] || fail "'$*' succeeded"
	printf '%s' "$ERR" | grep -q 'Read-only file system' ||
		fail "'$*': $ERR"
}
erofs touch "$M/new"
erofs sh -c "echo x >'$M/new'"
erofs sh -c "echo x >>'$M/dir00/f001.dat'"
erofs sh -c "echo x >'$M/dir00/f001.dat'"
erofs mkdir "$M/newdir"
erofs rm "$M/dir00/f001.dat"
erofs rmdir "$M/dir00/sub"
erofs mv "$M/dir00/f001.dat" "$M/dir00/moved"
erofs ln -s x "$M/sl"
erofs ln "$M/dir00/f001.dat" "$M/hard"
erofs chmod 600 "$M/dir00/f002.dat"
erofs touch -d 2001-01-01 "$M/dir00/f002.dat"
erofs truncate -s 0 "$M/dir00/f002.dat"
erofs mkfifo "$M/fifo"
erofs setfattr -n user.foo -v bar "$M/dir00/f002.dat"
erofs setfattr -x user.pxfs.key "$M/dir00/f002.dat"
erofs python3 -c 'import os, sys; os.open(sys.argv[1], os.O_RDWR)' \
	"$M/dir00/f002.dat"
[ "$(meta "$M" | wc -l)" = "$(wc -l <"$T/want")" ] || fail "tree changed"

unmount "$M"
