#!/bin/bash
# SPDX-License-Identifier: MIT
# it_mount_memory.sh - `pxfs mount --cache-mode memory`: what a read fetches
# is served from memory and never written to the cache directory; reads
# that cross chunks (4 KiB chunks) come out right; a chunk the kernel let
# go is fetched again; one fetch per chunk for concurrent readers; several
# sequential readers of big objects at once fetch each chunk once (their
# readahead fits in memory); and an object still gets its disk copy where
# it needs one: `pxfs resolve`, evict-on-read, unlinked while open.  A bad
# --cache-mode is a usage error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse

S=$T/store
D=$T/data
M=$T/mnt
C=$T/cache
MiB=$((1 << 20))
mkdir -p "$D/small" "$M"
{
	(yes 'memory mode keeps no copy on the disk 0123456789' |
		head -c $((12 * MiB))) || true
	head -c $((12 * MiB + 123)) /dev/urandom
} >"$D/big"
head -c $((6 * MiB + 5)) /dev/urandom >"$D/conc"
head -c $((3 * MiB + 77)) /dev/urandom >"$D/resolve"
head -c $((2 * MiB + 1)) /dev/urandom >"$D/unlinked"
head -c $((300 * 1024 + 7)) /dev/urandom >"$D/small/tiny"
head -c $((2 * MiB + 9)) /dev/urandom >"$D/evict"
NSEQ=4
for i in $(seq "$NSEQ"); do
	head -c $((48 * MiB + i)) /dev/urandom >"$D/seq$i"
done
new_store "$S" --chunk-size 1M
expect_ok "$PXFS" put "$S" "$D/big" "$D/conc" "$D/resolve" "$D/unlinked"
for i in $(seq "$NSEQ"); do
	expect_ok "$PXFS" put "$S" "$D/seq$i"
done
expect_ok "$PXFS" put "$S" --chunk-size 4K "$D/small/tiny"
expect_ok "$PXFS" put "$S" --evict-on-read "$D/evict"

expect_usage "$PXFS" mount "$S" "$M" --cache-mode sometimes
is_mounted "$M" && fail "a bad --cache-mode mounted"
expect_err "bad --cache-mode 'sometimes'"

mount_fg "$S" "$M" "$T/log" --cache-dir "$C" --cache-mode memory
st() { mstat "$M" "$1"; }
# the cache directory holds no object file: names are keys
no_copies() {
	! ls "$C" | grep -Eq '^[0-9a-f]{64}' ||
		fail "$1: object files in the cache: $(ls "$C")"
}

# ---- a sequential read: right bytes, nothing on the disk -----------------
g0=$(st 'd["connector"]["gets"]')
cmp "$M/big" "$D/big" || fail "big read through the mount"
[ $(($(st 'd["connector"]["gets"]') - g0)) = 25 ] ||
	fail "big: $(($(st 'd["connector"]["gets"]') - g0)) gets for 25 chunks"
[ "$(st 'd["cache"]["readahead"] > 0')" = True ] || fail "no readahead"
[ "$(st 'd["cache"]["bytes"]')" = 0 ] || fail "cache bytes: $(st 'd["cache"]')"
[ "$(xattr "$M/big" user.pxfs.resolved)" = 0 ] || fail "big resolved"
no_copies "sequential read"

# ---- reads across 4 KiB chunks, at odd offsets and sizes ------------------
python3 - "$M/tiny" "$D/small/tiny" <<'EOF' || fail "reads across chunks"
import os, random, sys
m = os.open(sys.argv[1], os.O_RDONLY)
want = open(sys.argv[2], "rb").read()
# the first read is cold: the kernel asks for many chunks at once
assert os.pread(m, len(want) + 10, 0) == want, "whole file"
rnd = random.Random(3)
for _ in range(200):
    off = rnd.randrange(len(want))
    n = rnd.choice([1, 4095, 4097, 12289, 65536 + 3, 200000])
    os.posix_fadvise(m, 0, 0, os.POSIX_FADV_DONTNEED)
    assert os.pread(m, n, off) == want[off:off + n], (off, n)
EOF
no_copies "reads across chunks"

# ---- a chunk the kernel dropped is fetched again, from the blob ---------
g0=$(st 'd["connector"]["gets"]')
python3 - "$M/big" "$D/big" <<'EOF' || fail "reading again after DONTNEED"
import os, sys
m = os.open(sys.argv[1], os.O_RDONLY)
d = open(sys.argv[2], "rb")
os.posix_fadvise(m, 0, 0, os.POSIX_FADV_DONTNEED)
off = 20 * (1 << 20) + 4321
d.seek(off)
assert os.pread(m, 8192, off) == d.read(8192)
EOF
[ "$(st 'd["connector"]["gets"] > '"$g0")" = True ] ||
	fail "a dropped chunk was not fetched again"
no_copies "fetching again"

# ---- concurrent cold readers: one fetch per chunk ------------------------
m0=$(st 'd["cache"]["misses"]')
readers 8 "$M/conc" "$D/conc"
[ $(($(st 'd["cache"]["misses"]') - m0)) = 7 ] ||
	fail "8 readers: $(($(st 'd["cache"]["misses"]') - m0)) fetches of 7"
no_copies "concurrent readers"

# ---- sequential readers of several objects: each chunk fetched once ------
# Readers that take longer over a chunk than its fetch (as a program that
# works on what it reads) let readahead fill their windows, which together
# are more than the chunks memory keeps: what was fetched ahead for one
# must not be let go before it is read, and fetched again.
b0=$(st 'd["connector"]["get_bytes"]')
stored=0
pids=
for i in $(seq "$NSEQ"); do
	stored=$((stored + $(stat_field "$S" "/seq$i" stored_size)))
	python3 - "$M/seq$i" "$D/seq$i" <<'PY' &
import sys, time
m = open(sys.argv[1], "rb", buffering=0)
d = open(sys.argv[2], "rb")
while True:
    b = m.read(1 << 20)
    assert b == d.read(len(b))
    if not b:
        break
    time.sleep(0.02)
PY
	pids="$pids $!"
done
for p in $pids; do
	wait "$p" || fail "a sequential reader of $NSEQ read wrong bytes"
done
got=$(($(st 'd["connector"]["get_bytes"]') - b0))
[ $((got * 100)) -le $((stored * 105)) ] ||
	fail "$NSEQ sequential readers fetched $got bytes of $stored stored"
no_copies "sequential readers"

# ---- pxfs resolve materializes on the disk --------------------------------
kres=$(key_of "$S" /resolve)
expect_ok "$PXFS" resolve "$M/resolve"
resolved() { [ "$(xattr "$M/$1" user.pxfs.resolved)" = 1 ]; }
wait_for 30 resolved resolve
[ "$(sha256sum <"$C/$kres" | cut -c1-64)" = "$kres" ] ||
	fail "the resolved cache file is not the object"
cmp "$M/resolve" "$D/resolve" || fail "resolve read"

# ---- evict-on-read: the disk copy keeps serving ---------------------------
kev=$(key_of "$S" /evict)
cmp "$M/evict" "$D/evict" || fail "evict-on-read read"
gone() { ! blob_exists "$S" "$kev"; }
wait_for 10 gone
[ "$(sha256sum <"$C/$kev" | cut -c1-64)" = "$kev" ] ||
	fail "no disk copy of the evict-on-read object: $(ls "$C")"
python3 - "$M/evict" "$D/evict" <<'EOF' || fail "evict-on-read after DONTNEED"
import os, sys
m = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(m, 0, 0, os.POSIX_FADV_DONTNEED)
assert os.pread(m, 1 << 30, 0) == open(sys.argv[2], "rb").read()
EOF

# ---- unlinked while open: the open handle reads it all -------------------
python3 - "$M/unlinked" "$D/unlinked" <<'EOF' || fail "read after unlink"
import os, sys
m = os.open(sys.argv[1], os.O_RDONLY)
want = open(sys.argv[2], "rb").read()
assert os.pread(m, 4096, 0) == want[:4096]
os.unlink(sys.argv[1])
os.posix_fadvise(m, 0, 0, os.POSIX_FADV_DONTNEED)
assert os.pread(m, len(want), 0) == want, "bytes after unlink"
EOF
[ "$(st 'd["errors"]')" = 0 ] || fail "errors: $(st 'd')"
unmount "$M"
wait "$FG_PID" || fail "mount -f exited $?"
fsck_clean "$S"

# ---- a remount in memory mode fetches again, never from a stale dir -----
mount_fg "$S" "$M" "$T/log2" --cache-dir "$C" --cache-mode memory
g0=$(st 'd["connector"]["gets"]')
cmp "$M/big" "$D/big" || fail "big after a remount"
[ $(($(st 'd["connector"]["gets"]') - g0)) = 25 ] || fail "remount gets"
# what was materialized before is used, not fetched
g0=$(st 'd["connector"]["gets"]')
cmp "$M/resolve" "$D/resolve" || fail "resolve after a remount"
[ "$(st 'd["connector"]["gets"]')" = "$g0" ] || fail "a cached object fetched"
unmount "$M"
wait "$FG_PID" || fail "mount -f exited $?"

# ---- as mount(8) runs it: -o cache_mode=memory ----------------------------
rm -rf "$C"
_run "$PXFS" "$S" "$M" -o cache_mode=sometimes,cache_dir="$C"
[ "$RC" = 2 ] || fail "a bad cache_mode= exited $RC, not 2 (usage)"
expect_err "bad --cache-mode 'sometimes'"
is_mounted "$M" && fail "a bad cache_mode= mounted"
at_exit "_force_unmount '$M'"
expect_ok "$PXFS" "$S" "$M" -o cache_mode=memory,cache_dir="$C"
is_mounted "$M" || fail "mount(8)'s form did not mount"
cmp "$M/big" "$D/big" || fail "big through mount(8)'s form"
no_copies "mount(8)'s form"
unmount "$M"
echo "memory mode: no disk copy, cross-chunk reads, refetch, resolve ok"
