#!/bin/bash
# SPDX-License-Identifier: MIT
# it_cli_lifetime.sh - lifetimes with the pxfs command: "put --lifetime"
# groups what a put makes; "lifetime end" removes exactly those entries and
# evicts the objects nobody else uses (a deduplicated object referenced
# from outside stays); a lease ends by itself at the next command that
# changes the store; extend and ls; unknown lifetimes and bad values are
# refused with the store unchanged.
. "$(dirname "$0")/lib.sh"

S=$T/store
D=$T/data
mkdir -p "$D/job/sub" "$D/other"
printf 'shared\n' >"$D/other/shared.txt"
cp "$D/other/shared.txt" "$D/job/shared-copy.txt"
printf 'only in job\n' >"$D/job/only.txt"
head -c 200000 /dev/urandom >"$D/job/sub/data.bin"
ln -s only.txt "$D/job/link"
printf 'loose\n' >"$D/loose.txt"
new_store "$S"
expect_ok "$PXFS" put "$S" "$D/other"
expect_ok "$PXFS" put --lifetime job1 "$S" "$D/job" "$D/loose.txt"
printf '%s\n' "$OUT" | grep -q "in lifetime 'job1'" || fail "put output: $OUT"
# --to directories the put makes are not part of the lifetime
expect_ok "$PXFS" put --lifetime job1 --to results/step1 "$S" "$D/job/only.txt"
fsck_clean "$S"

shared_key=$(key_of "$S" other/shared.txt)
[ "$(key_of "$S" job/shared-copy.txt)" = "$shared_key" ] || fail "no dedupe"
only_key=$(key_of "$S" job/only.txt)
data_key=$(key_of "$S" job/sub/data.bin)
loose_key=$(key_of "$S" loose.txt)

# ---- ls --------------------------------------------------------------------
expect_ok "$PXFS" lifetime ls "$S"
printf '%s\n' "$OUT" | grep -Eq '^job1 +3 +never$' || fail "lifetime ls: $OUT"
"$PXFS" lifetime ls --json "$S" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d == {"lifetimes": [{"name": "job1", "entries": 3, "expires": None,
                            "expires_ns": 0}]}, d
' || fail "lifetime ls --json"

# ---- end: exactly the lifetime's entries go --------------------------------
expect_ok "$PXFS" lifetime end "$S" job1
[ "$OUT" = "ended lifetime 'job1': removed 3 entries, evicted 3 objects" ] ||
	fail "lifetime end said: $OUT"
expect_ok "$PXFS" ls "$S"
[ "$OUT" = "$(printf 'other\nresults')" ] || fail "left in the root: $OUT"
expect_ok "$PXFS" ls "$S" results/step1
[ -z "$OUT" ] || fail "the --to directory kept: $OUT"
# the object referenced from outside stays, the others are gone
"$PXFS" cat "$S" other/shared.txt | cmp - "$D/other/shared.txt" ||
	fail "shared content lost"
blob_exists "$S" "$shared_key" || fail "shared blob evicted"
[ "$(stat_field "$S" other/shared.txt refs)" = 1 ] || fail "shared refs"
for k in "$only_key" "$data_key" "$loose_key"; do
	! blob_exists "$S" "$k" || fail "blob $k kept"
done
expect_ok "$PXFS" lifetime ls "$S"
[ -z "$OUT" ] || fail "ended lifetime still listed: $OUT"
fsck_clean "$S"

# ---- refusals, the store unchanged -----------------------------------------
state=$(store_state "$S")
unchanged() {
	fsck_clean "$S"
	[ "$(store_state "$S")" = "$state" ] ||
		fail "the store changed: ${1:-}"
}
expect_fail "$PXFS" lifetime end "$S" job1
expect_err "cannot end lifetime 'job1': no such lifetime"
expect_fail "$PXFS" lifetime end "$S" never-was
expect_err "cannot end lifetime 'never-was': no such lifetime"
expect_fail "$PXFS" lifetime extend "$S" never-was 10
expect_err "cannot extend lifetime 'never-was': no such lifetime"
unchanged "unknown lifetimes"
for v in 0 -1 abc 1.5 '' 99999999999; do
	if [ "$v" = -1 ]; then
		# an operand that starts with '-' is an unknown option
		expect_usage "$PXFS" lifetime extend "$S" x "$v"
	else
		expect_fail "$PXFS" lifetime extend "$S" x "$v"
		expect_err "invalid lease '$v'"
	fi
	expect_fail "$PXFS" put --lifetime x --lease "$v" "$S" "$D/loose.txt"
	expect_err "invalid lease '$v'"
done
expect_fail "$PXFS" put --lifetime '' "$S" "$D/loose.txt"
expect_err "invalid lifetime name ''"
expect_fail "$PXFS" put --lifetime "$(printf 'a\tb')" "$S" "$D/loose.txt"
expect_err "invalid lifetime name"
expect_fail "$PXFS" lifetime end "$S" ''
expect_err "invalid lifetime name"
expect_usage "$PXFS" put --lease 10 "$S" "$D/loose.txt"
expect_err "--lease needs --lifetime"
expect_usage "$PXFS" lifetime
expect_usage "$PXFS" lifetime frob "$S"
expect_usage "$PXFS" lifetime end "$S"
expect_usage "$PXFS" lifetime end "$S" a b
expect_usage "$PXFS" lifetime extend "$S" a
expect_usage "$PXFS" lifetime ls
expect_usage "$PXFS" lifetime end --json "$S"
expect_usage "$PXFS" lifetime ls --frob "$S"
# a failed put does not leave its lifetime behind
expect_fail "$PXFS" put --lifetime half --lease 100 "$S" "$D/other"
expect_err "already exists"
unchanged "refused commands"
expect_fail "$PXFS" lifetime ls "$T/nope"
expect_err "no such store"

# ---- a lease ends by itself, at the next command that changes the store ----
expect_ok "$PXFS" put --lifetime lease1 --lease 1 "$S" "$D/loose.txt"
expect_ok "$PXFS" lifetime ls "$S"
printf '%s\n' "$OUT" | grep -Eq '^lease1 +1 +[0-9-]+T[0-9:]+Z$' ||
	fail "lease in ls: $OUT"
sleep 1.2
expect_ok "$PXFS" mkdir "$S" after-lease
expect_fail "$PXFS" stat "$S" loose.txt
! blob_exists "$S" "$loose_key" || fail "lease ended, blob kept"
expect_ok "$PXFS" lifetime ls "$S"
[ -z "$OUT" ] || fail "ended lease still listed: $OUT"
fsck_clean "$S"

# ending a lease whose time has come, by name, still says what went
expect_ok "$PXFS" put --lifetime lease2 --lease 1 "$S" "$D/loose.txt"
sleep 1.2
expect_ok "$PXFS" lifetime end "$S" lease2
[ "$OUT" = "ended lifetime 'lease2': removed 1 entry, evicted 1 object" ] ||
	fail "end of a due lease: $OUT"
fsck_clean "$S"

# ---- extend ----------------------------------------------------------------
expect_ok "$PXFS" put --lifetime lease3 --lease 2 "$S" "$D/loose.txt"
expect_ok "$PXFS" lifetime extend "$S" lease3 3600
printf '%s\n' "$OUT" |
	grep -Eq "^lifetime 'lease3' ends at [0-9-]+T[0-9:]+Z$" ||
	fail "extend said: $OUT"
sleep 2.2
expect_ok "$PXFS" mkdir "$S" after-extend
expect_ok "$PXFS" stat "$S" loose.txt
"$PXFS" lifetime ls --json "$S" | python3 -c '
import json, sys, time
d = json.load(sys.stdin)["lifetimes"]
assert len(d) == 1 and d[0]["name"] == "lease3" and d[0]["entries"] == 1, d
left = d[0]["expires_ns"] / 1e9 - time.time()
assert 3500 < left <= 3600, left
assert d[0]["expires"].endswith("Z"), d
' || fail "extended lease"
# a put into an existing lifetime keeps its end, and adds to it
expect_ok "$PXFS" put --lifetime lease3 --lease 1 --to more "$S" "$D/other"
sleep 1.2
expect_ok "$PXFS" mkdir "$S" after-more
expect_ok "$PXFS" stat "$S" more/other/shared.txt
expect_ok "$PXFS" lifetime ls "$S"
printf '%s\n' "$OUT" | grep -Eq '^lease3 +2 ' || fail "lease3 entries: $OUT"
# extend gives a lifetime without a lease one
expect_ok "$PXFS" put --lifetime forever --to f "$S" "$D/loose.txt"
expect_ok "$PXFS" lifetime extend "$S" forever 1
sleep 1.2
expect_ok "$PXFS" lifetime ls "$S"
printf '%s\n' "$OUT" | grep -q forever && fail "extended lifetime kept: $OUT"
expect_fail "$PXFS" stat "$S" f/loose.txt
expect_ok "$PXFS" lifetime end "$S" lease3
[ "$OUT" = "ended lifetime 'lease3': removed 2 entries, evicted 1 object" ] ||
	fail "end of lease3: $OUT"
# the deduplicated shared.txt under more/ went; the original stays
"$PXFS" cat "$S" other/shared.txt | cmp - "$D/other/shared.txt" ||
	fail "shared content lost"
[ "$(stat_field "$S" other/shared.txt refs)" = 1 ] || fail "refs at the end"
fsck_clean "$S"

expect_ok "$PXFS" help lifetime
for w in end extend ls --json; do
	printf '%s\n' "$OUT" | grep -q -- "$w" || fail "help lifetime lacks $w"
done
exit 0
