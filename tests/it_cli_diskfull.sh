#!/bin/bash
# SPDX-License-Identifier: MIT
# it_cli_diskfull.sh - a put that fills the disk fails cleanly: exit 1, one
# line, no index row, no blob or temp left, fsck clean.  Needs root to
# mount a small tmpfs.
. "$(dirname "$0")/lib.sh"

file_connector_only "a full disk is a full tmpfs under the store's blobs"
is_root || skip "needs root to mount a tmpfs"
M=$T/small
mkdir "$M"
mount -t tmpfs -o size=1m,mode=0755 tmpfs "$M" 2>/dev/null ||
	skip "cannot mount a tmpfs here"
at_exit "umount '$M'"

S=$M/store
D=$T/data
mkdir -p "$D/two"
new_store "$S"
head -c 4194304 /dev/urandom >"$D/big.bin"
printf 'small\n' >"$D/two/a-small.txt"
cp "$D/big.bin" "$D/two/b-big.bin"
state=$(store_state "$S")

no_trace() {
	fsck_clean "$S"
	[ "$(store_state "$S")" = "$state" ] || fail "the store changed: $1"
	[ -z "$(find "$S/objects" -type f)" ] ||
		fail "files left in objects/: $(find "$S/objects" -type f)"
	expect_ok "$PXFS" ls "$S"
	[ -z "$OUT" ] || fail "entries left: $OUT"
	[ "$("$PXFS" stats --json "$S" |
	     python3 -c 'import json,sys; print(json.load(sys.stdin)["objects"])')" \
	  = 0 ] || fail "object rows left"
}

expect_fail "$PXFS" put "$S" "$D/big.bin"
expect_err "[Nn]o space left"
no_trace "one big file"

# a small file first, whose blob fits, then the big one: all or nothing
expect_fail "$PXFS" put "$S" "$D/two"
expect_err "[Nn]o space left"
no_trace "a tree"

# space is there again for what fits
expect_ok "$PXFS" put "$S" "$D/two/a-small.txt"
"$PXFS" cat "$S" a-small.txt | cmp - "$D/two/a-small.txt" ||
	fail "put after a full disk"
fsck_clean "$S"
exit 0
