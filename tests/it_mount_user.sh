#!/bin/bash
# SPDX-License-Identifier: MIT
# it_mount_user.sh - an ordinary user (uid 65534) mounts a store it made
# (on the connector under test) and owns,
# reads and writes through it (new nodes are its own, chown is refused),
# resolves, and unmounts through fusermount3; its default
# cache directory is under its $HOME; SIGTERM and a killed daemon are
# cleaned up as for root; /dev/fuse closed to it, or --allow-other without
# user_allow_other in /etc/fuse.conf, is one clear line.  Needs root to
# become that user.  Where /dev/fuse is closed to other users (mode 0600
# without udev's 0666), the test checks that error, then opens it to all
# for its duration and puts the old mode back at exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse
is_root || skip "needs root to run as another user"
command -v setpriv >/dev/null || skip "no setpriv"
command -v fusermount3 >/dev/null || fail "fusermount3 is required"

U=65534
as_user() {
	setpriv --reuid=$U --regid=$U --clear-groups \
		env HOME="$T/u/home" XDG_CACHE_HOME= "$@"
}
# everything the user touches is below $T: let it in
chmod 755 "$T"
d=$T
while [ "$d" != / ]; do
	d=$(dirname "$d")
	[ -x "$d" ] || skip "'$d' is closed to other users"
done
as_user test -x "$PXFS" || skip "'$PXFS' cannot be run by uid $U"
if ! as_user sh -c 'exec 3<>/dev/fuse' 2>/dev/null; then
	# closed to the user: one clear line before anything is done (its
	# own store and mountpoint, made for the check)
	mkdir -p "$T/closed/mnt"
	chown -R $U:$U "$T/closed"
	init_opts
	expect_ok as_user "$PXFS" init "$T/closed/s" "${INIT_OPTS[@]}"
	expect_fail as_user "$PXFS" mount "$T/closed/s" "$T/closed/mnt"
	expect_err "^pxfs: mount: cannot open /dev/fuse: Permission denied$"
	! is_mounted "$T/closed/mnt" || fail "mounted without /dev/fuse"
	mode=$(stat -c %a /dev/fuse)
	chmod 0666 /dev/fuse
	at_exit "chmod $mode /dev/fuse"
else
	echo "it_mount_user: /dev/fuse is open to all users: the error of" \
	     "a closed one is not tested here"
fi

# the user's own directory: its store, mountpoint, home and data
W=$T/u
S=$W/store
M=$W/mnt
mkdir "$W" "$W/home" "$M"
printf 'mine\n' >"$W/f.txt"
head -c 500000 /dev/urandom >"$W/r.bin"
chown -R $U:$U "$W"
init_opts
expect_ok as_user "$PXFS" init "$S" "${INIT_OPTS[@]}"
[ "$(sed -n 's/^connector = //p' "$S/config")" = "$CONNECTOR" ] ||
	fail "the store is not on the $CONNECTOR connector"
expect_ok as_user "$PXFS" put "$S" "$W/f.txt" "$W/r.bin"
[ "$(blob_count "$S")" = 2 ] ||
	fail "blobs after the user's put: $(blob_count "$S")"

at_exit "_force_unmount '$M'"
# --allow-other: only where /etc/fuse.conf has user_allow_other
if grep -qx '[[:space:]]*user_allow_other[[:space:]]*' /etc/fuse.conf \
	2>/dev/null; then
	expect_ok as_user "$PXFS" mount "$S" "$M" --allow-other
	expect_ok as_user "$PXFS" umount "$M"
else
	expect_fail as_user "$PXFS" mount "$S" "$M" --allow-other
	expect_err "--allow-other needs 'user_allow_other' in /etc/fuse.conf"
	! is_mounted "$M" || fail "mounted with --allow-other"
fi
expect_ok as_user "$PXFS" mount "$S" "$M"
is_mounted "$M" || fail "not mounted"
awk -v m="$M" '$2 == m { print $4 }' /proc/mounts |
	grep -q "user_id=$U" || fail "not the user's mount"
[ "$(as_user cat "$M/f.txt")" = mine ] || fail "user read"
as_user cmp "$M/r.bin" "$W/r.bin" || fail "user cmp"
# without allow_other, other users (root included) are kept out
_run cat "$M/f.txt"
[ "$RC" -ne 0 ] || fail "root read a mount without allow_other"
id=$(as_user getfattr --absolute-names --only-values -n user.pxfs.stats "$M" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["cache"]["dir"])')
case $id in
"$W/home/.cache/pxfs/"*) ;;
*) fail "default cache dir '$id'" ;;
esac
[ "$(stat -c %U:%a "$id")" = nobody:700 ] || fail "cache dir $(stat -c %U:%a "$id")"
# the user writes its own store: new files are the user's, chown is root's
expect_ok as_user sh -c "echo new >'$M/new' && mkdir '$M/d' && ln -s new '$M/l'"
[ "$(as_user stat -c %u:%g "$M/new" "$M/d" "$M/l" | sort -u)" = "$U:$U" ] ||
	fail "new nodes: $(as_user stat -c %n:%u:%g "$M/new" "$M/d" "$M/l")"
[ "$(as_user cat "$M/new")" = new ] || fail "user read back"
[ "$(blob_count "$S")" = 3 ] ||
	fail "blobs after the user's write: $(blob_count "$S")"
_run as_user chown 0 "$M/new"
[ "$RC" -ne 0 ] && printf '%s' "$ERR" | grep -q 'not permitted' ||
	fail "user chown to root: $RC $ERR"
expect_ok as_user "$PXFS" resolve "$M/r.bin"
expect_ok as_user "$PXFS" umount "$M"
! is_mounted "$M" || fail "still mounted"

# SIGTERM from the user
expect_ok as_user "$PXFS" mount "$S" "$M"
pid=$(as_user getfattr --absolute-names --only-values -n user.pxfs.stats "$M" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
as_user kill -TERM "$pid"
wait_gone "$pid" || fail "daemon still running after SIGTERM"
! is_mounted "$M" || fail "still mounted after SIGTERM"

# a killed daemon: the user cleans up with pxfs umount (fusermount3 -u -z)
expect_ok as_user "$PXFS" mount "$S" "$M"
pid=$(pgrep -u $U -f "pxfs mount $S $M" | head -n 1)
[ -n "$pid" ] || fail "no daemon"
kill -9 "$pid"
wait_gone "$pid" || fail "daemon did not die"
expect_ok as_user "$PXFS" umount "$M"
! is_mounted "$M" || fail "dead mount not cleaned up"
