#!/bin/bash
# SPDX-License-Identifier: MIT
# it_cli_evict.sh - "pxfs put --evict-on-read": the first complete, verified
# read (cat or get) removes the object's blob, and every later read fails
# with one line saying the object was evicted after reading; a read that
# stops early evicts nothing; content other entries share is refused.
. "$(dirname "$0")/lib.sh"

S=$T/store
D=$T/data
mkdir -p "$D/tree/sub"
head -c 3000000 /dev/urandom >"$D/big.bin"
printf 'read me once\n' >"$D/once.txt"
printf 'get me once\n' >"$D/get.txt"
printf 'twin\n' >"$D/tree/a"
printf 'twin\n' >"$D/tree/sub/b"
printf 'kept\n' >"$D/kept.txt"
new_store "$S"
expect_ok "$PXFS" put "$S" "$D/kept.txt"
expect_ok "$PXFS" put --evict-on-read "$S" "$D/once.txt" "$D/get.txt" \
	"$D/big.bin" "$D/tree"
fsck_clean "$S"

key=$(key_of "$S" once.txt)
[ "$(stat_field "$S" once.txt evict_on_read)" = True ] || fail "not marked"
[ "$(stat_field "$S" once.txt state)" = ready ] || fail "state before read"
expect_ok "$PXFS" stat "$S" once.txt
printf '%s\n' "$OUT" | grep -Eq '^state: +ready \(evict on read' ||
	fail "stat text: $OUT"
[ "$(stat_field "$S" kept.txt evict_on_read)" = False ] ||
	fail "an earlier put was marked"
blob_exists "$S" "$key" || fail "no blob before the first read"

# ---- cat: the first read gets the bytes, then the blob is gone -------------
"$PXFS" cat "$S" once.txt >"$T/once.out" || fail "first cat failed"
cmp "$T/once.out" "$D/once.txt" || fail "first cat: wrong bytes"
! blob_exists "$S" "$key" || fail "blob still there after the first read"
[ "$(stat_field "$S" once.txt state)" = evicted ] || fail "state after read"
fsck_clean "$S"
expect_fail "$PXFS" cat "$S" once.txt
expect_err "cannot read '/once.txt' \(key $key\): the object was \
evicted after its first read"
[ -z "$OUT" ] || fail "second cat wrote: $OUT"
expect_fail "$PXFS" get "$S" once.txt "$T/once.get"
expect_err "evicted after its first read"
[ ! -e "$T/once.get" ] || fail "get of an evicted object made DEST"
fsck_clean "$S"

# ---- get: the same, once DEST is complete ----------------------------------
key=$(key_of "$S" get.txt)
expect_ok "$PXFS" get "$S" get.txt "$T/get.out"
cmp "$T/get.out" "$D/get.txt" || fail "first get: wrong bytes"
! blob_exists "$S" "$key" || fail "get did not evict"
expect_fail "$PXFS" get "$S" get.txt "$T/get2.out"
expect_err "cannot read '/get.txt' .*evicted after its first read"
[ ! -e "$T/get2.out" ] || fail "second get made DEST"
expect_fail "$PXFS" cat "$S" get.txt
expect_err "evicted after its first read"
fsck_clean "$S"

# ---- a read that stops early is not a read: nothing is evicted ---------------
key=$(key_of "$S" big.bin)
"$PXFS" cat "$S" big.bin 2>/dev/null | head -c 10 >/dev/null || true
blob_exists "$S" "$key" || fail "a partial read evicted the object"
[ "$(stat_field "$S" big.bin state)" = ready ] || fail "partial read state"
"$PXFS" cat "$S" big.bin >/dev/full 2>/dev/null && fail "cat to /dev/full"
blob_exists "$S" "$key" || fail "a failed write evicted the object"
"$PXFS" cat "$S" big.bin | cmp - "$D/big.bin" || fail "big: wrong bytes"
! blob_exists "$S" "$key" || fail "complete read did not evict"
fsck_clean "$S"

# ---- one object for two entries of the put: the first read takes it --------
[ "$(key_of "$S" tree/a)" = "$(key_of "$S" tree/sub/b)" ] || fail "no dedupe"
[ "$(stat_field "$S" tree/a refs)" = 2 ] || fail "refs of the twins"
[ "$(stat_field "$S" tree/sub/b evict_on_read)" = True ] || fail "twin mark"
expect_ok "$PXFS" cat "$S" tree/sub/b
expect_fail "$PXFS" cat "$S" tree/a
expect_err "'/tree/a'.*evicted after its first read"
# the entries stay until removed; removing them leaves a clean store
expect_ok "$PXFS" rm -r "$S" tree once.txt
fsck_clean "$S"

# ---- content other entries use is refused, the store unchanged --------------
state=$(store_state "$S")
cp "$D/kept.txt" "$D/kept-copy.txt"
expect_fail "$PXFS" put --evict-on-read "$S" "$D/kept-copy.txt"
expect_err "cannot put '$D/kept-copy.txt' as /kept-copy.txt with \
--evict-on-read: the same content is stored for 1 other entry"
fsck_clean "$S"
[ "$(store_state "$S")" = "$state" ] || fail "refused put changed the store"
[ "$(stat_field "$S" kept.txt evict_on_read)" = False ] || fail "kept marked"
# -v lists a file as it goes in, and says so when the command then fails
printf 'fresh\n' >"$D/fresh.txt"
_run "$PXFS" -v put --evict-on-read "$S" "$D/fresh.txt" "$D/kept-copy.txt"
[ "$RC" = 1 ] || fail "put -v of a refused file exited $RC"
[ "$(printf '%s\n' "$ERR" | sed -n '$p')" = "pxfs: put: nothing stored: \
the command's changes are rolled back" ] || fail "put -v after a failure: $ERR"
fsck_clean "$S"
[ "$(store_state "$S")" = "$state" ] || fail "refused put -v changed the store"
# ...but replacing the only entry that uses it is fine
expect_ok "$PXFS" put --force --evict-on-read "$S" "$D/kept.txt"
[ "$(stat_field "$S" kept.txt evict_on_read)" = True ] || fail "re-put mark"
[ "$(stat_field "$S" kept.txt refs)" = 1 ] || fail "re-put refs"
fsck_clean "$S"

# ---- putting evicted content again brings it back, without the mark ---------
expect_ok "$PXFS" put --to again "$S" "$D/get.txt"
"$PXFS" cat "$S" again/get.txt | cmp - "$D/get.txt" || fail "re-put content"
[ "$(stat_field "$S" again/get.txt evict_on_read)" = False ] ||
	fail "the mark outlived the eviction"
fsck_clean "$S"

expect_ok "$PXFS" help put
printf '%s\n' "$OUT" | grep -q -- --evict-on-read || fail "help put"
exit 0
