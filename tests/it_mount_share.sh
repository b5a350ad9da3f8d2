#!/bin/bash
# SPDX-License-Identifier: MIT
# it_mount_share.sh - several processes, one store, one node: two mounts of
# the same store (each with its own cache directory) and the CLI see each
# other's changes within a second, although the kernel keeps entries and
# attributes for an hour (the mounts' change watchers invalidate them):
# new files, overwrites, renames, unlinks, chmod, `pxfs put`, `pxfs rm`
# and `pxfs lifetime end`.  Then 8 processes write files concurrently,
# through both mounts, with no "database is locked", every file whole, and
# pxfs fsck clean.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse

S=$T/store
A=$T/a
B=$T/b
D=$T/data
mkdir -p "$A" "$B" "$D"
new_store "$S"
printf 'v1\n' >"$D/f"
expect_ok "$PXFS" put "$S" "$D/f"
mount_fg "$S" "$A" "$T/log.a" --cache-dir "$T/cache.a"
FG_A=$FG_PID
mount_fg "$S" "$B" "$T/log.b" --cache-dir "$T/cache.b"
FG_B=$FG_PID

is() {	# is FILE TEXT: FILE holds TEXT (one line)
	[ "$(cat "$1" 2>/dev/null)" = "$2" ]
}
absent() { [ ! -e "$1" ]; }
mode_is() { [ "$(stat -c %a "$1" 2>/dev/null)" = "$2" ]; }

# both mounts look first: the kernel caches entry, attributes and pages
is "$A/f" v1 || fail "a: f"
is "$B/f" v1 || fail "b: f"
stat "$A/f" "$B/f" >/dev/null

# ---- a write through one mount, seen through the other -----------------
printf 'version two, longer\n' >"$A/f"
wait_for 1 is "$B/f" "version two, longer"
printf 'new\n' >"$B/new"
wait_for 1 is "$A/new" new
mkdir "$A/dir"
mv "$A/new" "$A/dir/moved"
wait_for 1 absent "$B/new"
wait_for 1 is "$B/dir/moved" new
chmod 600 "$B/dir/moved"
wait_for 1 mode_is "$A/dir/moved" 600
rm "$B/dir/moved"
wait_for 1 absent "$A/dir/moved"

# ---- the CLI while mounted ------------------------------------------------
printf 'from the cli\n' >"$D/cli"
expect_ok "$PXFS" put "$S" "$D/cli" --to dir
wait_for 1 is "$A/dir/cli" "from the cli"
wait_for 1 is "$B/dir/cli" "from the cli"
printf 'put again\n' >"$D/cli"
expect_ok "$PXFS" put --force "$S" "$D/cli" --to dir
wait_for 1 is "$A/dir/cli" "put again"
wait_for 1 is "$B/dir/cli" "put again"
expect_ok "$PXFS" rm "$S" dir/cli
wait_for 1 absent "$A/dir/cli"
wait_for 1 absent "$B/dir/cli"

# ---- a lifetime ended while mounted: its entries vanish -------------------
mkdir -p "$D/job"
printf 'tmp1\n' >"$D/job/t1"
printf 'tmp2\n' >"$D/job/t2"
expect_ok "$PXFS" put "$S" "$D/job" --lifetime job1
is "$A/job/t1" tmp1 && is "$B/job/t2" tmp2 || fail "lifetime entries"
expect_ok "$PXFS" lifetime end "$S" job1
wait_for 1 absent "$A/job"
wait_for 1 absent "$B/job/t2"
# a lease ends by itself: the mounts end it (every few seconds)
cp -a "$D/job" "$D/leased"
expect_ok "$PXFS" put "$S" "$D/leased" --lifetime lease1 --lease 1
is "$A/leased/t1" tmp1 || fail "leased entry"
wait_for 6 absent "$A/leased"
wait_for 1 absent "$B/leased"
fsck_clean "$S"

# ---- 8 concurrent writers, through both mounts -----------------------------
head -c 200000 /dev/urandom >"$D/blob"
mkdir "$A/w"
writer() {	# writer N MOUNT
	local n=$1 m=$2 i
	mkdir "$m/w/$n" || return 1
	for i in $(seq 25); do
		{ printf '%s %s\n' "$n" "$i"; head -c $((i * 1000)) "$D/blob"; } \
			>"$m/w/$n/f$i" || return 1
	done
	cp "$D/blob" "$m/w/$n/blob" || return 1
	mv "$m/w/$n/f1" "$m/w/$n/first" || return 1
	rm "$m/w/$n/f2" || return 1
}
pids=
for n in 1 2 3 4 5 6 7 8; do
	if [ $((n % 2)) = 0 ]; then m=$A; else m=$B; fi
	writer "$n" "$m" 2>"$T/writer.$n" &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p" || fail "a writer failed: $(cat "$T"/writer.*)"
done
check_tree() {	# check_tree MOUNT
	local m=$1 n i
	for n in 1 2 3 4 5 6 7 8; do
		[ ! -e "$m/w/$n/f2" ] && [ -e "$m/w/$n/first" ] || return 1
		cmp -s "$m/w/$n/blob" "$D/blob" || return 1
		for i in $(seq 3 25); do
			{ printf '%s %s\n' "$n" "$i"; head -c $((i * 1000)) \
				"$D/blob"; } | cmp -s - "$m/w/$n/f$i" || return 1
		done
	done
}
wait_for 2 check_tree "$A"
wait_for 2 check_tree "$B"
[ "$("$PXFS" ls "$S" w | wc -l)" = 8 ] || fail "ls of w"
! grep -i "locked\|cannot" "$T/log.a" "$T/log.b" "$T"/writer.* ||
	fail "the index was locked"
# an unlink while another process held the store may leave its blob for
# gc (the store says so in the log): collect, then all must be clean
expect_ok "$PXFS" gc "$S"
fsck_clean "$S"

unmount "$A"
unmount "$B"
wait "$FG_A" || fail "mount a exited with $?"
wait "$FG_B" || fail "mount b exited with $?"
grep -hv "^pxfs: serving\|unused blobs left for 'pxfs gc'\|lease '.*' ended" \
	"$T/log.a" "$T/log.b" && fail "unexpected log lines"
exit 0
