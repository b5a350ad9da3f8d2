#!/bin/bash
# SPDX-License-Identifier: MIT
# it_mount_cache.sh - the factory's cache: a byte budget with LRU eviction of
# objects nobody holds, transparent re-resolve of an evicted object, an
# object larger than the budget served while open, pxfs resolve in the
# background, reuse of the cache directory by a restarted mount (a bad
# cached file is fetched again), and one mount per cache directory.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse

S=$T/store
D=$T/data
M=$T/mnt
C=$T/cache
mkdir -p "$D/dir" "$M"
MiB=$((1 << 20))
for n in a b c d; do
	head -c $((3 * MiB)) /dev/urandom >"$D/$n"
done
head -c $((9 * MiB)) /dev/urandom >"$D/huge"
for i in 1 2 3; do
	printf 'small %d\n' "$i" >"$D/dir/s$i"
done
new_store "$S"
expect_ok "$PXFS" put "$S" "$D"/*

key() { key_of "$S" "/$1"; }
resolved() { [ "$(xattr "$M/$1" user.pxfs.resolved)" = "$2" ]; }
cached() { [ -f "$C/$(key "$1")" ]; }
gets() { mstat "$M" 'd["connector"]["get_bytes"]'; }
no_temps() {
	[ -z "$(find "$C" -name '.tmp.*')" ] || fail "temporaries left in $C"
}

# ---- the budget: 7 MiB holds two of the 3 MiB objects ----------------------
mount_bg "$S" "$M" --cache-dir "$C" --cache-size 7M
[ "$(mstat "$M" 'd["cache"]["budget"]')" = $((7 * MiB)) ] || fail "budget"
cmp "$M/a" "$D/a" || fail "a"
cmp "$M/b" "$D/b" || fail "b"
resolved a 1 && resolved b 1 || fail "a and b not resolved"
cmp "$M/c" "$D/c" || fail "c"		# evicts a, the least recently used
resolved a 0 && resolved b 1 && resolved c 1 || fail "LRU order"
! cached a && cached b && cached c || fail "cache dir: $(ls "$C")"
[ "$(mstat "$M" 'd["cache"]["evictions"]')" = 1 ] || fail "evictions"
[ "$(mstat "$M" 'd["cache"]["bytes"]')" = $((6 * MiB)) ] || fail "bytes"
cat "$M/b" >/dev/null			# b is now more recent than c
g0=$(gets)
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
cmp "$M/a" "$D/a" || fail "re-resolved a"	# transparently, evicting c
[ "$(gets)" -gt "$g0" ] || fail "a was not fetched again"
resolved a 1 && resolved b 1 && resolved c 0 || fail "LRU after re-resolve"
[ "$(mstat "$M" 'd["cache"]["evictions"]')" = 2 ] || fail "evictions"

# ---- objects in use are never evicted; a huge one is served while open ----
exec 7<"$M/c"				# hold c open
cmp "$M/d" "$D/d" || fail "d"
cmp "$M/huge" "$D/huge" || fail "huge"	# 9 MiB > budget: served anyway
cmp /dev/fd/7 "$D/c" || fail "c while held"
resolved c 1 || fail "an open object was evicted"
! cached huge || fail "huge stayed in the cache after its last close"
exec 7<&-
[ "$(mstat "$M" 'd["cache"]["bytes"] <= 7 * 2**20 and
	d["cache"]["open"] == 0')" = True ] ||
	fail "over budget when idle: $(mstat "$M" 'd["cache"]')"
python3 - "$M/huge" "$D/huge" <<'EOF' || fail "huge read in pieces while open"
import sys
with open(sys.argv[1], "rb") as m, open(sys.argv[2], "rb") as d:
    while True:
        a, b = m.read(777777), d.read(777777)
        assert a == b
        if not a:
            break
EOF
no_temps

# ---- pxfs resolve: materialize in the background -------------------------
resolved d 1 && cat "$M/a" "$M/c" >/dev/null	# push d out
resolved d 0 || fail "d still resolved"
g0=$(gets)
q0=$(mstat "$M" 'd["resolve_queued"]')
expect_ok "$PXFS" resolve "$M/d"
[ -z "$OUT$ERR" ] || fail "resolve printed '$OUT$ERR'"
wait_for 10 resolved d 1
[ "$(mstat "$M" 'd["resolve_queued"]')" = $((q0 + 1)) ] || fail "queued"
g1=$(gets)
[ "$g1" -gt "$g0" ] || fail "resolve fetched nothing"
cmp "$M/d" "$D/d" || fail "d after resolve"
[ "$(gets)" = "$g1" ] || fail "reading a resolved object fetched again"
expect_ok "$PXFS" resolve "$M/dir"		# a directory: all below
for i in 1 2 3; do
	wait_for 10 resolved "dir/s$i" 1
done
expect_ok "$PXFS" resolve "$M/dir/s1" "$M/a"	# already there: fine
printf 'x\n' >"$T/plain"
expect_fail "$PXFS" resolve "$T/plain"
expect_err "not in a pxfs mount"
expect_fail "$PXFS" resolve "$T/nonexistent"
expect_usage "$PXFS" resolve

# ---- one daemon per cache directory ------------------------------------
mkdir "$T/mnt2"
expect_fail "$PXFS" mount "$S" "$T/mnt2" --cache-dir "$C"
expect_err "in use by another pxfs mount"
! is_mounted "$T/mnt2" || fail "mounted twice on one cache"

# ---- restart: the cache directory is reused after checking ----------------
cat "$M/a" "$M/b" >/dev/null		# a and b are the ones cached
unmount "$M"
ka=$(key a)
kb=$(key b)
[ -f "$C/$ka" ] && [ -f "$C/$kb" ] || fail "cache after unmount: $(ls "$C")"
# a crash's leftover, and a cached copy that went bad
head -c 1000 /dev/urandom >"$C/.tmp.$ka.AbCdEf"
python3 - "$C/$kb" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(12345)
    b = f.read(1)
    f.seek(12345)
    f.write(bytes([b[0] ^ 0x01]))
EOF
mount_fg "$S" "$M" "$T/log" --cache-dir "$C" --cache-size 7M
no_temps
cmp "$M/a" "$D/a" || fail "a after restart"
[ "$(gets)" = 0 ] || fail "a reused cache file was fetched"
[ "$(mstat "$M" 'd["cache"]["reused"]')" = 1 ] || fail "reused"
cmp "$M/b" "$D/b" || fail "a bad cached copy was served"
[ "$(gets)" -gt 0 ] || fail "the bad copy of b was not fetched again"
grep -q "key $kb.*bad" "$T/log" || fail "no log line for the bad copy"
[ "$(sha256sum <"$C/$kb" | cut -c1-64)" = "$kb" ] || fail "b not replaced"
unmount "$M"
wait "$FG_PID" || fail "mount -f exited $?"
