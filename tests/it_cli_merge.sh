#!/bin/bash
# SPDX-License-Identifier: MIT
# it_cli_merge.sh - "put --force" of a tree over one already stored: the
# directories merged into take the source's mode, mtime (and, as root,
# owner), as cp -a would leave them; what is in them and not in the
# source stays.
. "$(dirname "$0")/lib.sh"

S=$T/store
D=$T/data
mkdir -p "$D/tree/sub"
printf 'one\n' >"$D/tree/one"
printf 'two\n' >"$D/tree/sub/two"
new_store "$S"
expect_ok "$PXFS" put "$S" "$D/tree"
expect_ok "$PXFS" mkdir "$S" tree/sub/extra
[ "$(stat_field "$S" tree mode)" = "$(stat -c %04a "$D/tree")" ] ||
	fail "mode of a new directory"

chmod 0750 "$D/tree"
chmod 0700 "$D/tree/sub"
touch -d '2011-02-03 04:05:06 UTC' "$D/tree/sub"
touch -d '2010-01-01 00:00:00 UTC' "$D/tree"
if is_root; then
	chown 1234:5678 "$D/tree/sub"
fi
expect_ok "$PXFS" put --force "$S" "$D/tree"
[ "$(stat_field "$S" tree mode)" = 0750 ] || fail "merged mode"
[ "$(stat_field "$S" tree mtime_ns)" = 1262304000000000000 ] ||
	fail "merged mtime: $(stat_field "$S" tree mtime_ns)"
[ "$(stat_field "$S" tree/sub mode)" = 0700 ] || fail "nested merged mode"
[ "$(stat_field "$S" tree/sub mtime_ns)" = 1296705906000000000 ] ||
	fail "nested merged mtime: $(stat_field "$S" tree/sub mtime_ns)"
if is_root; then
	[ "$(stat_field "$S" tree/sub uid)" = 1234 ] || fail "merged uid"
	[ "$(stat_field "$S" tree/sub gid)" = 5678 ] || fail "merged gid"
fi
# the merge keeps what the source does not have
expect_ok "$PXFS" ls "$S" tree/sub
[ "$OUT" = "$(printf 'extra\ntwo')" ] || fail "merge lost entries: $OUT"
fsck_clean "$S"

# a refused put --force changes no directory's attributes either
state=$(store_state "$S")
chmod 0755 "$D/tree"
printf 'x\n' >"$D/tree/extra"
mkdir "$D/tree/extra.d"
rm -rf "$D/tree/sub"
printf 'file now\n' >"$D/tree/sub"
expect_fail "$PXFS" put --force "$S" "$D/tree"
expect_err "cannot overwrite directory '/tree/sub'"
fsck_clean "$S"
[ "$(store_state "$S")" = "$state" ] || fail "refused merge changed the store"
exit 0
