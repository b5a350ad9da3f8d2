#!/bin/bash
# SPDX-License-Identifier: MIT
# it_cli_stats_mount.sh - "pxfs stats MNT" on a mounted store: the root's
# user.pxfs.stats document, readable or as is with --json.
. "$(dirname "$0")/lib.sh"

[ -c /dev/fuse ] || skip "no /dev/fuse"
( exec 3<>/dev/fuse ) 2>/dev/null || skip "cannot open /dev/fuse"
S=$T/store
M=$T/mnt
mkdir "$M"
new_store "$S"
printf 'mounted\n' >"$T/f.txt"
expect_ok "$PXFS" put "$S" "$T/f.txt"
"$PXFS" mount "$S" "$M" --cache-dir "$T/cache" 2>"$T/mount.err" ||
	fail "mount: $(head -n 3 "$T/mount.err")"
at_exit "'$PXFS' umount '$M' 2>/dev/null || umount -l '$M' 2>/dev/null"
[ "$(cat "$M/f.txt")" = mounted ] || fail "read through the mount"

expect_ok "$PXFS" stats "$M"
printf '%s\n' "$OUT" | grep -q '^connector:' || fail "stats MNT: $OUT"
printf '%s\n' "$OUT" | grep -q '{' && fail "stats MNT printed raw JSON: $OUT"
"$PXFS" stats --json "$M" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert "connector" in d and "cache" in d, d
' || fail "stats --json MNT does not parse"
# a plain directory is neither a mount nor a store
mkdir -p "$T/plain"
expect_fail "$PXFS" stats "$T/plain"
expect_err "not a pxfs store"
expect_ok "$PXFS" umount "$M"
exit 0
