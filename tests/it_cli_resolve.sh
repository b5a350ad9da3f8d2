#!/bin/bash
# SPDX-License-Identifier: MIT
# it_cli_resolve.sh - "pxfs resolve" on a real mount: without --wait it
# queues and returns; with --wait it returns only once every object is in
# the cache (user.pxfs.resolved 1 at once), draws a progress line (bytes,
# total, rate) when stderr is a terminal (faked with script(1)) and is
# silent otherwise or with -q; -v says what it queued and resolved; an
# object that cannot be fetched fails it with one line naming the file,
# after the others are resolved, also while other files of the mount are
# read all the time; a file named twice is resolved and reported once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"

need_fuse
command -v script >/dev/null || skip "script (util-linux) is not installed"
S=$T/store
M=$T/mnt
D=$T/data
mkdir -p "$M" "$D/dir/sub"
new_store "$S"
head -c 67108864 /dev/urandom >"$D/big"
head -c 3000000 /dev/urandom >"$D/dir/a"
printf 'small\n' >"$D/dir/sub/b"
expect_ok "$PXFS" put "$S" "$D/big" "$D/dir"
export PXFS_PROGRESS_MS=10

# on_tty CMD: run the shell command CMD with a terminal for its stdin,
# stdout and stderr; what the terminal showed goes to $T/tty, one line
# per redraw, without the erase-line sequences
on_tty() {
	script -qec "$1" /dev/null </dev/null | tr '\r' '\n' |
		sed 's/\x1b\[K//g' >"$T/tty"
}

mount_bg "$S" "$M" --cache-dir "$T/cache1"

# ---- --wait: every object is there when it returns -----------------------
[ "$(xattr "$M/big" user.pxfs.resolved)" = 0 ] || fail "resolved at mount"
expect_ok "$PXFS" resolve --wait "$M/big" "$M/dir"
[ -z "$OUT$ERR" ] || fail "resolve --wait printed '$OUT' '$ERR'"
for f in big dir/a dir/sub/b; do
	[ "$(xattr "$M/$f" user.pxfs.resolved)" = 1 ] ||
		fail "$f was not resolved when resolve --wait returned"
done
unmount "$M"

# ---- the progress line on a terminal, and -v ----------------------------
mount_bg "$S" "$M" --cache-dir "$T/cache2"
on_tty "'$PXFS' -v resolve --wait '$M'; echo rc=\$?"
grep -q '^rc=0' "$T/tty" || fail "resolve --wait on a tty: $(cat "$T/tty")"
grep -Eq '^resolve: [0-9.]+ [KM]?i?B / 66\.9 MiB +[0-9]+%  [0-9.]+ [KMG]?i?B/s' \
	"$T/tty" || fail "no progress line: $(head -c 600 "$T/tty")"
# -v lines stand on lines of their own, never after the progress text
grep -q "^pxfs: resolve: resolved '$M/big' (64.0 MiB)$" "$T/tty" ||
	fail "no -v line for big: $(head -c 600 "$T/tty")"
grep -q "^pxfs: resolve: resolved '$M/dir/sub/b' (6 B)$" "$T/tty" ||
	fail "no -v line for dir/sub/b: $(head -c 600 "$T/tty")"
grep -q 'B/s.*pxfs:' "$T/tty" && fail "a message after the progress line"
[ "$(xattr "$M/big" user.pxfs.resolved)" = 1 ] || fail "big on a tty"
unmount "$M"

# -q: no line; without --wait: nothing to show, returns at once
mount_bg "$S" "$M" --cache-dir "$T/cache3"
on_tty "'$PXFS' -q resolve --wait '$M/big'; echo rc=\$?"
grep -q '^rc=0' "$T/tty" || fail "resolve -q: $(cat "$T/tty")"
grep -q '^resolve:' "$T/tty" && fail "-q drew progress: $(head -c 300 "$T/tty")"
expect_ok "$PXFS" -v resolve "$M/dir"
grep -q "^pxfs: resolve: queued '$M/dir/a' (2.9 MiB)$" <<<"$ERR" ||
	fail "resolve -v: '$ERR'"
is_resolved() { [ "$(xattr "$1" user.pxfs.resolved)" = 1 ]; }
wait_for 10 is_resolved "$M/dir/a"
unmount "$M"

# ---- an object that cannot be fetched ------------------------------------
key=$(key_of "$S" dir/a)
blob_get "$S" "$key" >"$T/a.blob"
blob_remove "$S" "$key"
mount_bg "$S" "$M" --cache-dir "$T/cache4"
expect_fail timeout 60 "$PXFS" resolve --wait "$M"
expect_err "^pxfs: resolve: cannot resolve '$M/dir/a': "
for f in big dir/sub/b; do
	[ "$(xattr "$M/$f" user.pxfs.resolved)" = 1 ] ||
		fail "$f not resolved beside a failed one"
done
[ "$(xattr "$M/dir/a" user.pxfs.resolved)" = 0 ] || fail "a resolved?"
# a PATH given twice (or also below a directory given) is one file: one
# line for it, however it ends
expect_fail timeout 60 "$PXFS" resolve --wait "$M/dir/a" "$M/dir/a" "$M/dir"
expect_err "^pxfs: resolve: cannot resolve '$M/dir/a': "
unmount "$M"

# ---- a busy mount: other files read meanwhile do not keep it waiting ----
# Each read below fetches a file not read before, so the mount's counters
# move all the time; resolve --wait must still give up on a on its own.
mkdir "$D/many"
for i in $(seq 400); do echo "$i" >"$D/many/$i"; done
expect_ok "$PXFS" put "$S" "$D/many"
mount_bg "$S" "$M" --cache-dir "$T/cache5"
(
	i=0
	while [ ! -e "$T/stop" ]; do
		i=$((i % 400 + 1))
		cat "$M/many/$i" >/dev/null 2>&1
		sleep 0.05
	done
) &
busy=$!
at_exit "kill $busy 2>/dev/null; wait $busy 2>/dev/null"
expect_fail timeout 20 "$PXFS" resolve --wait "$M/dir/a"
why="Input/output error \\(the mount's log says why\\)"
expect_err "^pxfs: resolve: cannot resolve '$M/dir/a': $why$"
touch "$T/stop"
wait "$busy"
blob_put "$S" "$key" <"$T/a.blob"
expect_ok "$PXFS" resolve --wait "$M/dir/a"
[ "$(xattr "$M/dir/a" user.pxfs.resolved)" = 1 ] || fail "a once back"
unmount "$M"

# a PATH given twice, resolved: one -v line
mount_bg "$S" "$M" --cache-dir "$T/cache6"
expect_ok "$PXFS" -v resolve --wait "$M/dir/sub/b" "$M/dir/sub/b"
[ "$ERR" = "pxfs: resolve: resolved '$M/dir/sub/b' (6 B)" ] ||
	fail "b given twice: '$ERR'"
unmount "$M"

# ---- usage and paths outside a mount -------------------------------------
expect_usage "$PXFS" resolve --wait
expect_usage "$PXFS" resolve --frob "$M"
expect_fail "$PXFS" resolve --wait "$T/nowhere"
expect_err "cannot resolve '$T/nowhere': No such file or directory"
expect_fail "$PXFS" resolve --wait "$D/big"
expect_err "'$D/big' is not in a pxfs mount"
fsck_clean "$S"
exit 0
