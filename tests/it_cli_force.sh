#!/bin/bash
# SPDX-License-Identifier: MIT
# it_cli_force.sh - "put --force" over what is there: the same content
# again (the object must survive losing its only reference to the entry
# that replaces it), new attributes, new content, merged directories.
. "$(dirname "$0")/lib.sh"

S=$T/store
D=$T/data
mkdir -p "$D/tree/sub"
printf 'one\n' >"$D/tree/one"
printf 'two\n' >"$D/tree/sub/two"
ln -s one "$D/tree/ln"
new_store "$S"
expect_ok "$PXFS" put "$S" "$D/tree"
key=$(key_of "$S" tree/one)

# the very same tree again: each object's only reference is replaced by
# a reference to the same object
expect_ok "$PXFS" put --force "$S" "$D/tree"
[ "$(key_of "$S" tree/one)" = "$key" ] || fail "key changed"
[ "$(stat_field "$S" tree/one refs)" = 1 ] || fail "refs after re-put"
blob_exists "$S" "$key" || fail "re-put evicted the blob"
"$PXFS" cat "$S" tree/one | cmp - "$D/tree/one" || fail "content after re-put"
fsck_clean "$S"

# same content, new mode and mtime: the entry takes them
chmod 0600 "$D/tree/one"
touch -d '2010-01-01 00:00:00' "$D/tree/one"
expect_ok "$PXFS" put --force "$S" "$D/tree"
[ "$(stat_field "$S" tree/one mode)" = 0600 ] || fail "mode not replaced"
[ "$(stat_field "$S" tree/one mtime_ns)" = 1262304000000000000 ] ||
	fail "mtime not replaced: $(stat_field "$S" tree/one mtime_ns)"
fsck_clean "$S"

# new content: the old object goes when nothing else uses it
printf 'ONE\n' >"$D/tree/one"
expect_ok "$PXFS" put --force "$S" "$D/tree"
"$PXFS" cat "$S" tree/one | cmp - "$D/tree/one" || fail "new content"
! blob_exists "$S" "$key" || fail "old blob kept"
fsck_clean "$S"

# a symlink replaced by a file and back
rm "$D/tree/ln"
printf 'now a file\n' >"$D/tree/ln"
expect_ok "$PXFS" put --force "$S" "$D/tree"
[ "$(stat_field "$S" tree/ln kind)" = file ] || fail "symlink not replaced"
rm "$D/tree/ln"
ln -s sub "$D/tree/ln"
expect_ok "$PXFS" put --force "$S" "$D/tree"
[ "$(stat_field "$S" tree/ln kind)" = symlink ] || fail "file not replaced"
fsck_clean "$S"
exit 0
