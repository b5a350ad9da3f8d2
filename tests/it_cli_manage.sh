#!/bin/bash
# SPDX-License-Identifier: MIT
# it_cli_manage.sh - managing a store with the pxfs command: dedupe, rm,
# mv, mkdir, link, gc, fsck and stats.
. "$(dirname "$0")/lib.sh"

S=$T/store
D=$T/data
mkdir -p "$D/dir/sub"
new_store "$S"
head -c 70000 /dev/urandom >"$D/r.bin"
cp "$D/r.bin" "$D/dir/copy.bin"
printf 'text\n' >"$D/dir/sub/t.txt"

# ---- dedupe: same content twice is one blob with two references -----------
expect_ok "$PXFS" put "$S" "$D/r.bin" "$D/dir"
key=$(key_of "$S" r.bin)
[ "$(key_of "$S" dir/copy.bin)" = "$key" ] || fail "copies differ in key"
[ "$(stat_field "$S" r.bin refs)" = 2 ] || fail "refs is not 2"
blob_exists "$S" "$key" || fail "no blob for two copies"
[ "$(blob_count "$S")" = 2 ] || fail "blob count: $(blob_count "$S")"

# ---- stats -------------------------------------------------------------------
expect_ok "$PXFS" stats "$S"
printf '%s\n' "$OUT" | grep -Eq '^files: +3$' || fail "stats files: $OUT"
printf '%s\n' "$OUT" | grep -Eq '^objects: +2$' || fail "stats objects: $OUT"
"$PXFS" stats --json "$S" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["files"] == 3 and d["dirs"] == 3 and d["objects"] == 2, d
assert d["logical_bytes"] == 2 * 70000 + 5, d
assert d["bytes"] == 70000 + 5, d
assert d["connector"] == sys.argv[1], d
assert "conn_gets" in d["metrics"], d
' "$CONNECTOR" || fail "stats --json"

# ---- mkdir -------------------------------------------------------------------
expect_ok "$PXFS" mkdir "$S" newdir
expect_ok "$PXFS" stat --json "$S" newdir
[ "$(stat_field "$S" newdir kind)" = directory ] || fail "mkdir kind"
expect_ok "$PXFS" mkdir -p "$S" /p/q/r
expect_ok "$PXFS" mkdir -p "$S" p/q/r
expect_ok "$PXFS" mkdir -p "$S" p/q/r/s
expect_ok "$PXFS" ls "$S" p/q/r
[ "$OUT" = s ] || fail "mkdir -p: $OUT"

# ---- mv ------------------------------------------------------------------------
expect_ok "$PXFS" mv "$S" r.bin renamed.bin
"$PXFS" cat "$S" renamed.bin | cmp - "$D/r.bin" || fail "mv rename"
expect_ok "$PXFS" mv "$S" renamed.bin newdir
"$PXFS" cat "$S" newdir/renamed.bin | cmp - "$D/r.bin" || fail "mv into dir"
expect_ok "$PXFS" mv "$S" /newdir/renamed.bin /p/q/moved.bin
expect_ok "$PXFS" mv "$S" p newdir
expect_ok "$PXFS" ls "$S" newdir/p/q
[ "$OUT" = "$(printf 'moved.bin\nr')" ] || fail "mv of a tree: $OUT"
expect_fail "$PXFS" mv "$S" newdir newdir/p
expect_fail "$PXFS" mv "$S" nothing-here x
expect_err "nothing-here"
fsck_clean "$S"

# ---- rm ------------------------------------------------------------------------
expect_fail "$PXFS" rm "$S" dir
expect_err "'dir'.*directory"
before=$(store_state "$S")
expect_fail "$PXFS" rm "$S" dir/sub/t.txt dir/missing
[ "$(store_state "$S")" = "$before" ] || fail "failed rm changed the store"
expect_ok "$PXFS" rm "$S" dir/sub/t.txt
expect_fail "$PXFS" stat "$S" dir/sub/t.txt
[ "$(stat_field "$S" dir/copy.bin refs)" = 2 ] || fail "refs before rm"
expect_ok "$PXFS" rm "$S" newdir/p/q/moved.bin
[ "$(stat_field "$S" dir/copy.bin refs)" = 1 ] || fail "refs after rm"
blob_exists "$S" "$key" || fail "rm removed a blob still in use"
expect_ok "$PXFS" rm -r "$S" dir
expect_fail "$PXFS" stat "$S" dir/copy.bin
! blob_exists "$S" "$key" || fail "the last rm kept the blob"
expect_fail "$PXFS" rm -r "$S" /
fsck_clean "$S"

# ---- link: an entry from a key the connector holds ----------------------------
S2=$T/store2
new_store "$S2"
expect_ok "$PXFS" put "$S2" "$D/r.bin"
blob_get "$S2" "$key" | blob_put "$S" "$key"
expect_fail "$PXFS" fsck "$S"			# an orphan blob now
expect_fail "$PXFS" link "$S" "$key" linked/r.bin
expect_err "linked"
expect_ok "$PXFS" link "$S" "$key" /linked.bin
"$PXFS" cat "$S" linked.bin | cmp - "$D/r.bin" || fail "linked content"
[ "$(stat_field "$S" linked.bin size)" = 70000 ] || fail "linked size"
case $(stat_field "$S" linked.bin type) in
application/octet-stream*) ;;
*) fail "linked type $(stat_field "$S" linked.bin type)" ;;
esac
fsck_clean "$S"
# a key the index knows already: one more reference
expect_ok "$PXFS" link --type application/x-x "$S" "$key" again.bin
[ "$(stat_field "$S" again.bin refs)" = 2 ] || fail "link refs"
[ "$(stat_field "$S" again.bin type)" = application/x-x ] || fail "link type"
expect_fail "$PXFS" link "$S" "$key" again.bin
expect_err "already exists"
expect_ok "$PXFS" link --force "$S" "$key" again.bin
fsck_clean "$S"

# ---- gc: orphan blobs and leftovers -----------------------------------------------
expect_ok "$PXFS" gc "$S"
printf '%s\n' "$OUT" | grep -q '^removed 0 items, freed 0 bytes' ||
	fail "gc of a clean store: $OUT"
head -c 5000 /dev/urandom >"$D/orphan.bin"
expect_ok "$PXFS" put "$S2" "$D/orphan.bin"
ok=$(key_of "$S2" orphan.bin)
blob_get "$S2" "$ok" | blob_put "$S" "$ok"
size=$(blob_size "$S" "$ok")
expect_fail "$PXFS" fsck "$S"
"$PXFS" fsck --json "$S" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["clean"] is False and d["orphans"] == 1, d
assert len(d["problems"]) == 1 and sys.argv[1] in d["problems"][0], d
' "$ok" || fail "fsck --json of an orphan"
expect_ok "$PXFS" gc "$S"
printf '%s\n' "$OUT" | grep -q "$ok" || fail "gc did not name the blob: $OUT"
printf '%s\n' "$OUT" | grep -q "freed $size bytes" || fail "gc freed: $OUT"
! blob_exists "$S" "$ok" || fail "gc left the orphan"
fsck_clean "$S"
"$PXFS" cat "$S" linked.bin | cmp - "$D/r.bin" || fail "gc broke a file"

# a temp file of an interrupted write
left=$(blob_leftover "$S")
expect_fail "$PXFS" fsck "$S"
"$PXFS" fsck "$S" 2>/dev/null | grep -qF "${left##*/}" ||
	fail "fsck does not name the leftover"
expect_ok "$PXFS" gc "$S"
printf '%s\n' "$OUT" | grep -q "freed 1234 bytes" || fail "gc leftover: $OUT"
expect_ok "$PXFS" fsck "$S"
printf '%s\n' "$OUT" | grep -qF "${left##*/}" && fail "gc kept the leftover"
fsck_clean "$S"
exit 0
