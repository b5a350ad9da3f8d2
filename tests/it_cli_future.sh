#!/bin/bash
# SPDX-License-Identifier: MIT
# it_cli_future.sh - futures with the pxfs command: "pxfs future" makes a
# pending placeholder, a reader started first (another process) blocks
# until "pxfs set" fulfils it and then gets the exact bytes; a reader that
# waits too long fails with one clear line; everything that is not a
# pending future is refused with the store unchanged.
. "$(dirname "$0")/lib.sh"

S=$T/store
D=$T/data
mkdir -p "$D/dir"
head -c 300000 /dev/urandom >"$D/payload"
printf 'plain\n' >"$D/plain.txt"
new_store "$S"
expect_ok "$PXFS" put "$S" "$D/plain.txt" "$D/dir"

# ---- a pending future ------------------------------------------------------
expect_ok "$PXFS" future "$S" f1 --timeout 30 --poll 20 --backoff 1.2 \
	--poll-max 200 --mode 0640
expect_ok "$PXFS" stat "$S" f1
printf '%s\n' "$OUT" | grep -Eq '^state: +pending$' || fail "stat text: $OUT"
[ "$(stat_field "$S" f1 state)" = pending ] || fail "state not pending"
[ "$(stat_field "$S" f1 pending)" = True ] || fail "pending not true"
[ "$(stat_field "$S" f1 size)" = 0 ] || fail "pending size"
[ "$(stat_field "$S" f1 mode)" = 0640 ] || fail "--mode not kept"
fsck_clean "$S"

# ---- the reader starts first and blocks; a producer sets it ---------------
"$PXFS" cat "$S" f1 >"$T/got1" 2>"$T/cat1.err" &
reader=$!
sleep 0.5
kill -0 "$reader" 2>/dev/null || fail "cat did not wait: $(cat "$T/cat1.err")"
[ ! -s "$T/got1" ] || fail "cat wrote before the future was set"
expect_ok "$PXFS" set "$S" f1 "$D/payload"
rc=0
wait "$reader" || rc=$?
[ "$rc" -eq 0 ] || fail "waiting cat exited $rc: $(cat "$T/cat1.err")"
cmp "$T/got1" "$D/payload" || fail "waiting cat got other bytes"
[ ! -s "$T/cat1.err" ] || fail "waiting cat wrote on stderr"
[ "$(stat_field "$S" f1 state)" = ready ] || fail "state after set"
[ "$(stat_field "$S" f1 size)" = 300000 ] || fail "size after set"
[ "$(stat_field "$S" f1 mode)" = 0640 ] || fail "mode lost by set"
fsck_clean "$S"

# get waits too, and set reads standard input
expect_ok "$PXFS" future "$S" dir/f2 --timeout 30 --poll 20
"$PXFS" get "$S" dir/f2 "$T/got2" 2>"$T/get2.err" &
reader=$!
sleep 0.5
kill -0 "$reader" 2>/dev/null || fail "get did not wait: $(cat "$T/get2.err")"
[ ! -e "$T/got2" ] || fail "get made DEST before the future was set"
printf 'from stdin\n' | "$PXFS" set "$S" /dir/f2 - >/dev/null ||
	fail "set from stdin"
rc=0
wait "$reader" || rc=$?
[ "$rc" -eq 0 ] || fail "waiting get exited $rc: $(cat "$T/get2.err")"
[ "$(cat "$T/got2")" = "from stdin" ] || fail "get got: $(cat "$T/got2")"
fsck_clean "$S"

# a future set to content the store holds already shares its object
expect_ok "$PXFS" future "$S" f3
expect_ok "$PXFS" set "$S" f3 "$D/plain.txt"
[ "$(key_of "$S" f3)" = "$(key_of "$S" plain.txt)" ] || fail "no dedupe"
[ "$(stat_field "$S" f3 refs)" = 2 ] || fail "refs after set"
fsck_clean "$S"

# ---- a reader that waits too long ------------------------------------------
expect_ok "$PXFS" future "$S" late --timeout 0.3 --poll 50
start=$(date +%s%N)
expect_fail "$PXFS" cat "$S" late
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_err "future '/late' .*was not set within 300 ms"
[ "$ms" -ge 300 ] || fail "cat gave up after $ms ms, before the timeout"
[ "$ms" -lt 5000 ] || fail "cat waited $ms ms for a 300 ms timeout"
expect_fail "$PXFS" get "$S" late "$T/late.out"
expect_err "was not set within 300 ms"
[ ! -e "$T/late.out" ] || fail "get left a DEST after a timeout"
[ -z "$(find "$T" -maxdepth 1 -name '.pxfs-get-*')" ] ||
	fail "get left a temporary file"
[ "$(stat_field "$S" late state)" = pending ] || fail "timeout changed it"
fsck_clean "$S"
# a pending future can be removed like any file
expect_ok "$PXFS" rm "$S" late
fsck_clean "$S"

# ---- refusals, each with the store unchanged --------------------------------
expect_ok "$PXFS" future "$S" pending
state=$(store_state "$S")
unchanged() {
	fsck_clean "$S"
	[ "$(store_state "$S")" = "$state" ] ||
		fail "the store changed: ${1:-}"
}

expect_fail "$PXFS" set "$S" plain.txt "$D/payload"
expect_err "cannot set '/plain.txt': not a pending future"
unchanged "set on a plain file"
expect_fail "$PXFS" set "$S" f1 "$D/payload"
expect_err "cannot set '/f1': not a pending future .*set already"
unchanged "set twice"
expect_fail "$PXFS" set "$S" dir "$D/payload"
expect_err "cannot set '/dir': is a directory"
unchanged "set on a directory"
expect_fail "$PXFS" set "$S" missing "$D/payload"
expect_err "'/missing'"
unchanged "set on a missing path"
expect_fail "$PXFS" set "$S" pending "$D/nonexistent"
expect_err "cannot read '$D/nonexistent'"
unchanged "set from a missing file"
expect_fail "$PXFS" set "$S" pending "$D/dir"
expect_err "cannot read '$D/dir': is a directory"
unchanged "set from a directory"
if ! is_root; then
	printf 'secret\n' >"$D/unreadable"
	chmod 000 "$D/unreadable"
	expect_fail "$PXFS" set "$S" pending "$D/unreadable"
	expect_err "cannot read '$D/unreadable'"
	unchanged "set from an unreadable file"
fi
expect_fail "$PXFS" set "$S" ../x "$D/payload"
expect_err "'\.\.' is not allowed"
unchanged "set with .."

expect_fail "$PXFS" future "$S" pending
expect_err "cannot create '/pending': it already exists"
expect_fail "$PXFS" future "$S" plain.txt
expect_err "already exists"
expect_fail "$PXFS" future "$S" nodir/f
expect_err "'/nodir'"
expect_fail "$PXFS" future "$S" plain.txt/f
expect_err "not a directory"
expect_fail "$PXFS" future "$S" /
unchanged "future over what exists"

for v in 0 0.0 -1 abc 1x '' inf nan 1e3 0x10 ' 1' 99999999999; do
	expect_fail "$PXFS" future "$S" bad --timeout "$v"
	expect_err "invalid timeout '$v'"
done
for v in 0 -5 x 1.5 '' 99999999999; do
	expect_fail "$PXFS" future "$S" bad --poll "$v"
	expect_err "invalid poll interval '$v'"
	expect_fail "$PXFS" future "$S" bad --poll-max "$v"
	expect_err "invalid poll maximum '$v'"
done
for v in 0 0.5 -2 101 abc '' nan; do
	expect_fail "$PXFS" future "$S" bad --backoff "$v"
	expect_err "invalid backoff '$v'"
done
for v in 8 9 -1 abc 17777 ''; do
	expect_fail "$PXFS" future "$S" bad --mode "$v"
	expect_err "invalid mode '$v'"
done
expect_fail "$PXFS" future "$S" bad --poll 500 --poll-max 100
expect_err "poll maximum 100 ms: less than the poll interval 500 ms"
for v in 0 20 x; do
	expect_fail "$PXFS" set --level "$v" "$S" pending "$D/payload"
	expect_err "invalid level '$v'"
done
expect_fail "$PXFS" set --chunk-size 3000 "$S" pending "$D/payload"
expect_err "invalid chunk size"
unchanged "bad option values"

expect_usage "$PXFS" future "$S"
expect_usage "$PXFS" future "$S" a b
expect_usage "$PXFS" future "$S" a --frob
expect_usage "$PXFS" future "$S" a --timeout
expect_usage "$PXFS" set "$S" pending
expect_usage "$PXFS" set "$S" pending "$D/payload" extra
unchanged "usage errors"

# the options are documented
expect_ok "$PXFS" help future
for o in --timeout --poll --backoff --poll-max --mode; do
	printf '%s\n' "$OUT" | grep -q -- "$o" || fail "help future lacks $o"
done
expect_ok "$PXFS" help set

# ---- the pending one is still settable after all that ------------------------
head -c 300000 /dev/urandom >"$D/payload2"
expect_ok "$PXFS" set --level 19 --chunk-size 4K "$S" pending "$D/payload2"
"$PXFS" cat "$S" pending | cmp - "$D/payload2" || fail "content after set"
[ "$(stat_field "$S" pending chunks)" = 74 ] || fail "--chunk-size ignored"
fsck_clean "$S"
exit 0
