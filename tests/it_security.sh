#!/bin/bash
# SPDX-License-Identifier: MIT
# it_security.sh - the security review's checks, on real stores and mounts:
#   1. another user (uid 65534) cannot read a mount made without
#      allow_other, nor, with allow_other, a file or directory whose mode
#      forbids it (default_permissions); the other direction, root kept
#      out of a user's mount, is it_mount_user.sh's;
#   2. everything pxfs creates is private whatever the umask: the store
#      directory and its directories 0700, its files 0600 (config, lock,
#      index.db and its -wal and -shm, blobs, tags, temps), the cache
#      directory and its files likewise, a snapshot's local copy too;
#   3. only [0-9a-f]{64} keys reach a connector: the connectors refuse
#      anything else themselves (check_conn_file, check_conn_redis:
#      test_conn_bad_keys, test_redis_bad_keys), and a hostile index
#      never gets one to them (check_hostile); here, end to end, a store
#      whose index.db names a blob "../../victim" reads, mounts, fscks and
#      gcs without touching that file;
#   4. hostile names in a tree being put (a newline, a leading '-',
#      '...', escapes, symlinks to '/', '/etc/passwd' and '../../..') land
#      inside the namespace as they are, nothing is followed out of it,
#      and no command takes a '..' path;
#   5. a Redis password (PXFS_REDIS_PASSWORD, a requirepass server of our
#      own) never shows in argv (ps), the config, the daemon's log (with
#      --debug), `pxfs stats --json`, the mount's stats xattr, references
#      or error messages.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse
file_connector_only "makes its own stores and its own Redis"

U=65534
S=$T/store
M=$T/mnt
D=$T/data
mkdir -p "$M" "$D"
chmod 0755 "$T"
user_ok=1
is_root || user_ok=0
command -v setpriv >/dev/null || user_ok=0
d=$T
while [ "$d" != / ]; do
	d=$(dirname "$d")
	[ -x "$d" ] || user_ok=0
done
as_user() {
	setpriv --reuid=$U --regid=$U --clear-groups env HOME=/nonexistent \
		"$@"
}
# no pxfs directory, file or socket may grant group or other anything
private() {
	local what=$1 bad
	shift
	bad=$(find "$@" \( -type d ! -perm 0700 \) -o \
		\( ! -type d ! -type l ! -perm 0600 \) 2>/dev/null |
		head -n 5)
	[ -z "$bad" ] || fail "$what: not private: $(for f in $bad; do
		stat -c '%a %n' "$f"; done)"
}

# ---- 1. other users ---------------------------------------------------------
printf 'public\n' >"$D/public"
printf 'secret\n' >"$D/secret"
mkdir -p "$D/closed"
printf 'inner\n' >"$D/closed/f"
chmod 0644 "$D/public"
chmod 0600 "$D/secret"
chmod 0700 "$D/closed"
chmod 0755 "$D"
expect_ok "$PXFS" init "$S"
expect_ok "$PXFS" put "$S" "$D"
if [ $user_ok = 1 ]; then
	mount_bg "$S" "$M" --cache-dir "$T/cache"
	[ "$(cat "$M/data/public")" = public ] || fail "root read"
	as_user cat "$M/data/public" >/dev/null 2>&1 &&
		fail "uid $U read a mount made without allow_other"
	as_user ls "$M" >/dev/null 2>&1 &&
		fail "uid $U listed a mount made without allow_other"
	as_user stat "$M/data" >/dev/null 2>&1 &&
		fail "uid $U stat'ed into a mount made without allow_other"
	unmount "$M"
	mount_bg "$S" "$M" --cache-dir "$T/cache" --allow-other
	[ "$(as_user cat "$M/data/public")" = public ] ||
		fail "uid $U cannot read a 0644 file with allow_other"
	as_user cat "$M/data/secret" >/dev/null 2>&1 &&
		fail "uid $U read a 0600 file of root's"
	as_user cat "$M/data/closed/f" >/dev/null 2>&1 &&
		fail "uid $U read below a 0700 directory of root's"
	as_user getfattr -n user.pxfs.key "$M/data/secret" >/dev/null 2>&1 &&
		fail "uid $U read an xattr of a 0600 file of root's"
	# the resolve hook may not fetch for someone who cannot read
	as_user setfattr -n user.pxfs.resolve -v 1 "$M/data/secret" \
		>/dev/null 2>&1 && fail "uid $U resolved a 0600 file"
	unmount "$M"
else
	echo "it_security: not root (or setpriv missing): other users'" \
	     "access not tested"
fi

# ---- 2. private files whatever the umask -----------------------------------
P=$T/private
mkdir -p "$P/d"
head -c 300000 /dev/urandom >"$P/d/big"
printf 'x\n' >"$P/d/small"
umask 000
"$PXFS" init "$P/s" --chunk-size 64K >/dev/null
"$PXFS" put "$P/s" "$P/d" >/dev/null
"$PXFS" publish "$P/s" --tag t1 >"$P/refs"
mount_bg "$P/s" "$M" --cache-dir "$P/cache"
cat "$M/d/big" >/dev/null
# a file being written through the mount is staged (when writes exist)
if (: >"$M/d/new") 2>/dev/null; then
	(exec 7>"$M/d/new"; printf 'staged\n' >&7; sleep 1) &
	sleep 0.5
	private "a file being written" "$P/s" "$P/cache"
	wait $!
fi
unmount "$M"
# a leftover of an interrupted put, then gc
{ PXFS_CRASH_AT=blob-temp:1 "$PXFS" put "$P/s" "$P/d/big" --to x \
	>/dev/null 2>&1; } 2>/dev/null || true
private "a leftover" "$P/s"
"$PXFS" gc "$P/s" >/dev/null
# the snapshot of a reference, kept for mounting
ref=$(tail -n 1 "$P/refs")
mount_bg "$ref" "$M" --cache-dir "$P/refcache"
cat "$M/d/small" >/dev/null
unmount "$M"
umask 022
[ -e "$P/s/index.db" ] || fail "no index"
private "the store" "$P/s"
private "the cache" "$P/cache"
private "a reference's cache" "$P/refcache"
[ -n "$(find "$P/s/objects" -type f -name '[0-9a-f]*' | head -n 1)" ] ||
	fail "no blobs to check"
[ -n "$(find "$P/s/objects" -path '*/tags/*' -type f)" ] || fail "no tag"

# ---- 3. a hostile key in the index -------------------------------------------
H=$T/hostile
mkdir -p "$H"
printf 'victim\n' >"$T/victim"
chmod 0644 "$T/victim"
expect_ok "$PXFS" init "$H/s"
printf 'content\n' >"$H/f"
expect_ok "$PXFS" put "$H/s" "$H/f"
key=$(key_of "$H/s" f)
# the blob path of key "../../victim", $H/s/objects/../../../victim (its
# first two characters name the bucket), is $T/victim
bad=../../victim
sqlite3 "$H/s/index.db" "UPDATE objects SET key = '$bad' WHERE key = '$key';
	UPDATE chunks SET key = '$bad' WHERE key = '$key';
	UPDATE nodes SET key = '$bad' WHERE key = '$key';"
_run "$PXFS" cat "$H/s" f
[ "$RC" -ne 0 ] || fail "cat of a hostile key succeeded: $OUT"
case $OUT in *victim*) fail "cat served the victim file" ;; esac
mount_bg "$H/s" "$M" --cache-dir "$H/cache"
cat "$M/f" >"$H/out" 2>/dev/null && fail "a hostile key read through the mount"
grep -q victim "$H/out" && fail "the mount served the victim file"
unmount "$M"
_run "$PXFS" fsck "$H/s"
[ "$RC" -eq 1 ] || fail "fsck of a hostile key: exit $RC: $ERR"
printf '%s\n' "$OUT" | grep -q "not 64 lowercase hex" ||
	fail "fsck does not report the hostile key: $OUT"
"$PXFS" gc "$H/s" >/dev/null 2>&1 || true
"$PXFS" rm "$H/s" f >/dev/null 2>&1 || true
"$PXFS" gc "$H/s" >/dev/null 2>&1 || true
[ "$(cat "$T/victim" 2>/dev/null)" = victim ] ||
	fail "the file a hostile key names was changed or removed"

# ---- 4. hostile names in a tree being put ---------------------------------------
N=$T/names
mkdir -p "$N/tree/sub" "$T/outside"
printf 'nl\n' >"$N/tree/a
b"
printf 'dash\n' >"$N/tree/-rf"
printf 'dots\n' >"$N/tree/..."
printf 'esc\n' >"$N/tree/x$(printf '\033')[31m"
printf 'back\n' >"$N/tree/back\\slash"
ln -s /etc/passwd "$N/tree/abs"
ln -s / "$N/tree/root"
ln -s ../../../.. "$N/tree/up"
ln -s "$T/outside" "$N/tree/out"
printf 'sub\n' >"$N/tree/sub/f"
expect_ok "$PXFS" init "$N/s"
before=$(find "$T" -path "$N" -prune -o -print | LC_ALL=C sort | md5sum)
expect_ok "$PXFS" put "$N/s" "$N/tree"
# exactly the tree: the symlinks are symlinks, nothing below them came in
n=$("$PXFS" stats --json "$N/s" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["files"], d["dirs"], d["symlinks"])')
[ "$n" = "6 3 4" ] || fail "put of hostile names: files dirs symlinks $n"
[ "$("$PXFS" cat "$N/s" "tree/a
b")" = nl ] || fail "a name with a newline"
[ "$("$PXFS" cat "$N/s" "tree/-rf")" = dash ] || fail "a name with a dash"
[ "$("$PXFS" cat "$N/s" "tree/...")" = dots ] || fail "'...'"
"$PXFS" ls --json "$N/s" tree | python3 -c '
import json, sys
names = sorted(e["name"] for e in json.load(sys.stdin)["entries"])
want = sorted(["a\nb", "-rf", "...", "x\x1b[31m", "back\\slash", "abs",
               "root", "up", "out", "sub"])
assert names == want, names' || fail "ls --json of hostile names"
[ "$("$PXFS" stat --json "$N/s" tree/root | python3 -c '
import json, sys; print(json.load(sys.stdin)["target"])')" = / ] ||
	fail "the symlink to / is not kept as is"
expect_fail "$PXFS" cat "$N/s" tree/abs
# nothing goes through a symlink of the store, or up with '..'
expect_fail "$PXFS" put "$N/s" "$N/tree/sub/f" --to tree/up
expect_fail "$PXFS" put "$N/s" "$N/tree/sub/f" --to tree/out
expect_fail "$PXFS" put "$N/s" "$N/tree/sub/f" --to ../x
expect_fail "$PXFS" put "$N/s" "$N/tree/sub/f" --to tree/../..
expect_fail "$PXFS" mv "$N/s" tree/-rf ../x
expect_fail "$PXFS" mv "$N/s" tree/-rf tree/up/x
expect_fail "$PXFS" mkdir "$N/s" ../x
expect_fail "$PXFS" mkdir -p "$N/s" tree/out/x
expect_fail "$PXFS" link "$N/s" "$(key_of "$N/s" tree/sub/f)" ../x
expect_fail "$PXFS" rm "$N/s" ../x
expect_fail "$PXFS" get "$N/s" ../x "$T/outside"
after=$(find "$T" -path "$N" -prune -o -print | LC_ALL=C sort | md5sum)
[ "$before" = "$after" ] || fail "something was written outside the store"
[ -z "$(ls -A "$T/outside")" ] || fail "written through a symlink"
# through a mount, names come back as they went in
mount_bg "$N/s" "$M" --cache-dir "$N/cache"
[ "$(cat "$M/tree/a
b")" = nl ] || fail "a name with a newline through the mount"
[ "$(readlink "$M/tree/root")" = / ] || fail "readlink through the mount"
unmount "$M"
fsck_clean "$N/s"

# ---- 5. secrets ---------------------------------------------------------------
command -v redis-server >/dev/null ||
	fail "redis-server is required for the secrets' checks (tools/deps.sh)"
PW="pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
redis_start --requirepass "$PW"
R=$T/rstore
export PXFS_REDIS_PASSWORD=$PW
expect_ok "$PXFS" init "$R" --connector redis \
	--url "redis://127.0.0.1:$REDIS_PORT" --prefix sec:
expect_ok "$PXFS" put "$R" "$D/public"
# a password in the URL is refused, and not repeated
expect_fail "$PXFS" init "$T/r2" --connector redis \
	--url "redis://:$PW@127.0.0.1:$REDIS_PORT"
case $ERR in *"$PW"*) fail "an error message repeats the password" ;; esac
# a password file must be private; the config names it, never its content
printf '%s\n' "$PW" >"$T/pwfile"
chmod 0644 "$T/pwfile"
expect_fail env -u PXFS_REDIS_PASSWORD "$PXFS" init "$T/r3" \
	--connector redis --url "redis://127.0.0.1:$REDIS_PORT" --prefix r3: \
	--password-file "$T/pwfile"
chmod 0600 "$T/pwfile"
expect_ok env -u PXFS_REDIS_PASSWORD "$PXFS" init "$T/r3" \
	--connector redis --url "redis://127.0.0.1:$REDIS_PORT" --prefix r3: \
	--password-file "$T/pwfile"
expect_ok env -u PXFS_REDIS_PASSWORD "$PXFS" put "$T/r3" "$D/public"
grep -q -- "$PW" "$T/r3/config" && fail "the password is in the config"
LOG=$T/daemon.log
mount_fg "$R" "$M" "$LOG" --cache-dir "$T/rcache" --debug
cat "$M/public" >/dev/null || fail "read through a Redis mount"
getfattr --absolute-names --only-values -n user.pxfs.stats "$M" \
	>"$T/xattr.json" || fail "stats xattr"
ps -eo args >"$T/ps" 2>/dev/null || ps aux >"$T/ps"
cat "/proc/$FG_PID/cmdline" | tr '\0' ' ' >"$T/cmdline"
"$PXFS" stats --json "$R" >"$T/stats.json" || fail "stats --json"
"$PXFS" stats --json "$M" >"$T/mstats.json" 2>&1 || true
"$PXFS" publish "$R" --tag s1 >"$T/refs" || fail "publish"
"$PXFS" ref "$R" public >>"$T/refs" || fail "ref"
"$PXFS" fsck --json "$R" >"$T/fsck.json" || fail "fsck"
# a wrong password, and a server that went away: what do errors say?
PXFS_REDIS_PASSWORD="$PW-wrong" "$PXFS" cat "$R" public >/dev/null \
	2>"$T/wrong.err" && fail "a wrong password was accepted"
unmount "$M"
redis_stop "$REDIS_PID"
"$PXFS" cat "$R" public >/dev/null 2>"$T/down.err" &&
	fail "read with the server down"
unset PXFS_REDIS_PASSWORD
"$PXFS" cat "$R" public >/dev/null 2>"$T/nopw.err" || true
for f in "$R/config" "$T/ps" "$T/cmdline" "$LOG" "$T/xattr.json" \
	 "$T/stats.json" "$T/mstats.json" "$T/refs" "$T/fsck.json" \
	 "$T/wrong.err" "$T/down.err" "$T/nopw.err"; do
	[ -s "$f" ] || [ "$f" = "$T/mstats.json" ] ||
		fail "nothing in '$f' to look at"
	! grep -q -- "$PW" "$f" || fail "the password is in $(basename "$f")"
done
grep -rq -- "$PW" "$R" "$T/r3" && fail "the password is in a store"
grep -q "debug\|lookup\|LOOKUP\|unique" "$LOG" ||
	fail "the daemon's debug log is empty: $(head -n 3 "$LOG")"
echo "it_security: private modes, other users, hostile keys and names," \
     "and secrets checked"
