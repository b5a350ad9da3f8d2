#!/bin/bash
# SPDX-License-Identifier: MIT
# it_cli_share.sh - sharing from the command line: "pxfs publish" prints
# snapshot and tag references, "pxfs ref" a one-object reference, "pxfs
# link" makes an entry from one on the same connector and refuses one for
# another connector; every refusal is one line and changes nothing.
. "$(dirname "$0")/lib.sh"

S=$T/store
D=$T/data
mkdir -p "$D/tree/sub"
printf 'shared text\n' >"$D/tree/a.txt"
head -c 150000 /dev/urandom >"$D/tree/sub/b.bin"
ln -s a.txt "$D/tree/ln"
new_store "$S"
expect_ok "$PXFS" put "$S" "$D/tree"
expect_ok "$PXFS" mkdir "$S" empty

# ---- usage -----------------------------------------------------------------
expect_usage "$PXFS" publish
expect_usage "$PXFS" publish "$S" extra
expect_usage "$PXFS" publish "$S" --tag
expect_usage "$PXFS" ref "$S"
expect_usage "$PXFS" ref "$S" a b
expect_usage "$PXFS" ref --bogus "$S" a
expect_usage "$PXFS" link "$S" pxfs://x
expect_ok "$PXFS" help publish
printf '%s\n' "$OUT" | grep -q -- '"tag_ref"' || fail "help publish: $OUT"
expect_ok "$PXFS" help ref
printf '%s\n' "$OUT" | grep -q -- '"ref"' || fail "help ref: $OUT"
expect_ok "$PXFS" help link
printf '%s\n' "$OUT" | grep -q 'KEY|REF' || fail "help link: $OUT"

# ---- publish ------------------------------------------------------------------
refre="^pxfs://$CONNECTOR"
expect_ok "$PXFS" publish "$S"
[ "$(printf '%s\n' "$OUT" | wc -l)" = 1 ] || fail "publish printed: $OUT"
printf '%s\n' "$OUT" | grep -Eq "$refre/snapshot/[0-9a-f]{64}\?" ||
	fail "publish printed: $OUT"
snap1=$OUT
case $snap1 in *password*|*PASSWORD*) fail "a password in '$snap1'" ;; esac
expect_ok "$PXFS" publish "$S" --tag nightly-1.0
[ "$(printf '%s\n' "$OUT" | wc -l)" = 2 ] || fail "publish --tag: $OUT"
printf '%s\n' "$OUT" | sed -n 1p | grep -Eq "$refre/snapshot/[0-9a-f]{64}\?" ||
	fail "publish --tag, line 1: $OUT"
printf '%s\n' "$OUT" | sed -n 2p | grep -Eq "$refre/tag/nightly-1\.0\?" ||
	fail "publish --tag, line 2: $OUT"
"$PXFS" publish --json "$S" --tag nightly-1.0 | python3 -c '
import json, re, sys
d = json.load(sys.stdin)
assert d["store"] == sys.argv[1], d
assert re.fullmatch("[0-9a-f]{64}", d["key"]), d
assert d["snapshot"].startswith("pxfs://%s/snapshot/%s?" % (sys.argv[2],
                                                           d["key"])), d
assert d["tag"] == "nightly-1.0", d
assert d["tag_ref"].startswith("pxfs://%s/tag/nightly-1.0?" % sys.argv[2]), d
' "$S" "$CONNECTOR" || fail "publish --json"
"$PXFS" publish --json "$S" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["tag"] is None and d["tag_ref"] is None, d
' || fail "publish --json without a tag"
# a snapshot is an object of the store: kept by gc, fsck clean
skey=$(printf '%s\n' "$snap1" | sed 's|.*/snapshot/\([0-9a-f]*\)?.*|\1|')
blob_exists "$S" "$skey" || fail "no blob for snapshot $skey"
expect_ok "$PXFS" gc "$S"
blob_exists "$S" "$skey" || fail "gc removed snapshot $skey"
fsck_clean "$S"

# bad tags and stores: one line, nothing changed
state=$(store_state "$S")
for tag in '' .hidden 'a b' 'a/b' "$(printf 'x%.0s' $(seq 65))" 'caf\xc3\xa9'; do
	expect_fail "$PXFS" publish "$S" --tag "$tag"
	expect_err "invalid tag"
done
expect_fail "$PXFS" publish "$T/nope"
expect_err "no such store '$T/nope'"
fsck_clean "$S"
[ "$(store_state "$S")" = "$state" ] || fail "a refused publish changed it"

# ---- ref ----------------------------------------------------------------------
key=$(key_of "$S" tree/sub/b.bin)
expect_ok "$PXFS" ref "$S" tree/sub/b.bin
ref=$OUT
printf '%s\n' "$ref" |
	grep -Eq "$refre/object/$key\?.*size=150000(&|$)" || fail "ref: $ref"
# the type is whatever put detected (libmagic sees random bytes as anything)
python3 -c '
import sys, urllib.parse as up
q = up.parse_qs(up.urlsplit(sys.argv[1]).query)
assert q["type"] == [sys.argv[2]], (q, sys.argv[2])
' "$ref" "$(stat_field "$S" tree/sub/b.bin type)" || fail "ref type: $ref"
"$PXFS" ref --json "$S" /tree/a.txt | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["path"] == "/tree/a.txt" and d["size"] == 12, d
assert d["type"].startswith("text/plain"), d
assert d["ref"].startswith("pxfs://%s/object/%s?" % (sys.argv[1],
                                                     d["key"])), d
' "$CONNECTOR" || fail "ref --json"
expect_fail "$PXFS" ref "$S" tree
expect_err "'/tree' is a directory"
expect_fail "$PXFS" ref "$S" tree/ln
expect_err "'/tree/ln' is a symlink"
expect_fail "$PXFS" ref "$S" tree/none
expect_err "none"
expect_fail "$PXFS" ref "$S" ../x
expect_err "invalid path"
expect_ok "$PXFS" future "$S" fut
expect_fail "$PXFS" ref "$S" fut
expect_err "'/fut' is a future that was not set yet"
printf 'once\n' >"$D/once.txt"
expect_ok "$PXFS" put --evict-on-read "$S" "$D/once.txt"
expect_ok "$PXFS" cat "$S" once.txt
expect_fail "$PXFS" ref "$S" once.txt
expect_err "'/once.txt'.*evicted after its first read"
expect_ok "$PXFS" rm "$S" fut once.txt
fsck_clean "$S"

# ---- link by reference ------------------------------------------------------------
# the same connector: the store itself
expect_ok "$PXFS" link "$S" "$ref" /copy.bin
"$PXFS" cat "$S" copy.bin | cmp - "$D/tree/sub/b.bin" || fail "linked content"
[ "$(stat_field "$S" copy.bin refs)" = 2 ] || fail "linked refs"
# the type comes from the reference unless --type says otherwise
aref=$("$PXFS" ref "$S" tree/a.txt)
expect_ok "$PXFS" link "$S" "$aref" /a-again
[ "$(stat_field "$S" a-again type)" = "$(stat_field "$S" tree/a.txt type)" ] ||
	fail "linked type: $(stat_field "$S" a-again type)"
expect_ok "$PXFS" link --type application/x-mine "$S" "$aref" /a-typed
[ "$(stat_field "$S" a-typed type)" = application/x-mine ] ||
	fail "--type over a reference"
expect_ok "$PXFS" link --force "$S" "$aref" /a-typed
expect_fail "$PXFS" link "$S" "$aref" /a-typed
expect_err "already exists"
fsck_clean "$S"

# refusals: one line, the store unchanged
state=$(store_state "$S")
S2=$T/other
new_store "$S2"
expect_ok "$PXFS" put "$S2" "$D/tree/a.txt"
oref=$("$PXFS" ref "$S2" a.txt)
expect_fail "$PXFS" link "$S" "$oref" /from-other
expect_err "^pxfs: link: reference '.*' is for another connector$"
expect_fail "$PXFS" link "$S2" "$ref" /from-other
expect_err "reference '.*' is for another connector"
expect_fail "$PXFS" link "$S" "$snap1" /snap
expect_err "names a snapshot, not an object"
tref=$(printf '%s\n' "$snap1" |
       sed 's|/snapshot/[0-9a-f]*?|/tag/nightly-1.0?|')
expect_fail "$PXFS" link "$S" "$tref" /tag
expect_err "names a tag, not an object"
for bad in "pxfs://" "pxfs://ftp/object/$key?dir=/x" \
	   "pxfs://file/object/$key" "pxfs://file/object/${key}0?dir=/x" \
	   "pxfs://file/object/$key?dir=/x&size=12abc" \
	   "pxfs://file/object/$key?dir=/x&bogus=1" \
	   "pxfs://redis/object/$key?dir=/x" "pxfs://file/thing/$key?dir=/x"; do
	expect_fail "$PXFS" link "$S" "$bad" /bad
	expect_err "'pxfs://.*': not a pxfs reference: "
done
# a well-formed reference to an object the connector does not hold
unknown=$(printf 'nobody has this\n' | sha256sum | cut -c1-64)
uref=${ref/$key/$unknown}
expect_fail "$PXFS" link "$S" "$uref" /unknown
expect_err "unknown key '$unknown'"
fsck_clean "$S"
fsck_clean "$S2"
[ "$(store_state "$S")" = "$state" ] || fail "a refused link changed the store"
exit 0
