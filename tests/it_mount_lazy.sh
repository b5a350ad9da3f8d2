#!/bin/bash
# SPDX-License-Identifier: MIT
# it_mount_lazy.sh - chunk-level lazy reads: a 4 KiB read at a random offset
# of a cold 256 MiB object fetches at most 2 of its 1 MiB chunks (proven by
# the mount's metrics: chunks fetched and connector bytes); 32 concurrent
# cold readers of one object fetch each chunk once; a sequential reader
# gets readahead; a restarted mount reuses the chunks its predecessor
# cached (after checking each: a bad one is fetched again, and said so);
# pxfs resolve still fetches everything.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse

S=$T/store
D=$T/data
M=$T/mnt
C=$T/cache
MiB=$((1 << 20))
mkdir -p "$D" "$M"
# 256 MiB: half of it compressible, so that frames differ in size
{
	(yes 'lazy reads fetch only the chunks they need 0123456789' |
		head -c $((128 * MiB))) || true
	head -c $((128 * MiB)) /dev/urandom
} >"$D/huge"
head -c $((32 * MiB)) /dev/urandom >"$D/shared"
head -c $((24 * MiB + 123)) /dev/urandom >"$D/seq"
new_store "$S" --chunk-size 1M
expect_ok "$PXFS" put "$S" "$D"/*
khuge=$(key_of "$S" /huge)

mount_fg "$S" "$M" "$T/log" --cache-dir "$C" --cache-size 1G
st() { mstat "$M" "$1"; }

# ---- random 4 KiB reads: at most 2 chunks each, never the whole object ---
# (each read is in a chunk of its own, far from the others and not at the
# start, so no readahead applies; the kernel's own readahead may cross one
# chunk boundary, hence 2)
python3 - "$M/huge" "$D/huge" "$M" "$T/offsets" >"$T/random" <<'EOF' ||
import json, os, random, subprocess, sys, time
mnt_file, src_file, mnt, offsets = sys.argv[1:5]
def stats():
    out = subprocess.run(["getfattr", "--absolute-names", "--only-values",
                          "-n", "user.pxfs.stats", mnt],
                         capture_output=True, check=True).stdout
    d = json.loads(out)
    return d["cache"]["misses"], d["connector"]["get_bytes"]
rnd = random.Random(6)
src = open(src_file, "rb")
size = os.fstat(src.fileno()).st_size
chunks = size >> 20
worst = 0
offs = open(offsets, "w")
for k in range(24):
    # chunk 8k+1 .. : spread out, never chunk 0
    c = 1 + k * (chunks - 2) // 24
    off = (c << 20) + rnd.randrange(1 << 20)
    m0, b0 = stats()
    t0 = time.perf_counter()
    fd = os.open(mnt_file, os.O_RDONLY)
    got = os.pread(fd, 4096, off)
    t1 = time.perf_counter()
    os.close(fd)
    m1, b1 = stats()
    src.seek(off)
    assert got == src.read(4096), ("wrong bytes at", off)
    assert 1 <= m1 - m0 <= 2, ("read at %d fetched %d chunks" % (off, m1 - m0))
    assert b1 - b0 <= 2 * ((1 << 20) + 4096), ("read at %d fetched %d bytes" %
                                               (off, b1 - b0))
    worst = max(worst, t1 - t0)
    offs.write("%d\n" % off)
print("worst %.1f ms" % (worst * 1e3))
EOF
	fail "random reads: $(cat "$T/random")"
[ "$(st 'd["cache"]["readahead"]')" = 0 ] || fail "random reads read ahead"
[ "$(st 'd["connector"]["get_bytes"] < 64 * 2**20')" = True ] ||
	fail "random reads fetched $(st 'd["connector"]["get_bytes"]') bytes"
[ "$(xattr "$M/huge" user.pxfs.resolved)" = 0 ] || fail "huge resolved"
[ -f "$C/$khuge.part" ] && [ ! -e "$C/$khuge" ] || fail "no partial file"
# the cache file is sparse: it holds what was fetched, not 256 MiB
[ "$(du -k "$C/$khuge.part" | cut -f1)" -lt $((64 * 1024)) ] ||
	fail "the partial file is not sparse: $(du -k "$C/$khuge.part")"

# ---- 32 concurrent cold readers: one fetch per chunk ----------------------
m0=$(st 'd["cache"]["misses"]')
g0=$(st 'd["connector"]["gets"]')
b0=$(st 'd["connector"]["get_bytes"]')
stored=$(xattr "$M/shared" user.pxfs.stored_size)
readers 32 "$M/shared" "$D/shared"
[ $(($(st 'd["cache"]["misses"]') - m0)) = 32 ] ||
	fail "32 readers: $(($(st 'd["cache"]["misses"]') - m0)) fetches of 32"
[ $(($(st 'd["connector"]["gets"]') - g0)) = 32 ] ||
	fail "32 readers: $(($(st 'd["connector"]["gets"]') - g0)) gets"
[ $(($(st 'd["connector"]["get_bytes"]') - b0)) -le "$stored" ] ||
	fail "32 readers fetched more than the blob"
[ "$(xattr "$M/shared" user.pxfs.resolved)" = 1 ] || fail "shared resolved"

# ---- a sequential reader gets readahead -----------------------------------
cmp "$M/seq" "$D/seq" || fail "sequential read"
[ "$(st 'd["cache"]["readahead"] > 0')" = True ] || fail "no readahead"
[ "$(xattr "$M/seq" user.pxfs.resolved)" = 1 ] || fail "seq resolved"
[ -f "$C/$(key_of "$S" /seq)" ] || fail "complete object not renamed"
[ "$(st 'd["errors"]')" = 0 ] || fail "errors: $(st 'd')"

# ---- restart: the chunks cached before are reused after a check --------
cached=$(st 'd["cache"]["bytes"]')
unmount "$M"
wait "$FG_PID" || fail "mount -f exited $?"
[ -f "$C/$khuge.map" ] || fail "no chunk map saved: $(ls "$C")"
# a chunk of the partial file goes bad behind the daemon's back (the first
# random read was in chunk 1)
python3 - "$C/$khuge.part" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek((1 << 20) + 777)
    b = f.read(1)
    f.seek((1 << 20) + 777)
    f.write(bytes([b[0] ^ 0x20]))
EOF
mount_fg "$S" "$M" "$T/log2" --cache-dir "$C" --cache-size 1G
[ "$(st 'd["cache"]["bytes"]')" = "$cached" ] || fail "bytes after restart"
python3 - "$M/huge" "$D/huge" "$T/offsets" <<'EOF' ||
import os, sys
m = os.open(sys.argv[1], os.O_RDONLY)
d = os.open(sys.argv[2], os.O_RDONLY)
for line in open(sys.argv[3]):
    off = int(line)
    assert os.pread(m, 4096, off) == os.pread(d, 4096, off), off
EOF
	fail "re-reading the chunks cached"
[ "$(st 'd["cache"]["reused"]')" = 1 ] || fail "reused: $(st 'd["cache"]')"
# only the bad chunk was fetched again (the kernel's readahead may reach
# a chunk or two that the first reads did not)
[ "$(st 'd["cache"]["misses"] >= 1 and d["cache"]["misses"] <= 3')" = True ] ||
	fail "fetched $(st 'd["cache"]["misses"]') chunks after a restart"
grep -q "key $khuge.*bad" "$T/log2" || fail "no log line for the bad chunk"
[ "$(st 'd["errors"]')" = 0 ] || fail "errors after restart: $(st 'd')"

# ---- pxfs resolve still fetches everything ---------------------------------
expect_ok "$PXFS" resolve "$M/huge"
resolved() { [ "$(xattr "$M/$1" user.pxfs.resolved)" = 1 ]; }
wait_for 60 resolved huge
[ -f "$C/$khuge" ] && [ ! -e "$C/$khuge.part" ] && [ ! -e "$C/$khuge.map" ] ||
	fail "resolved object files: $(ls "$C")"
[ "$(sha256sum <"$C/$khuge" | cut -c1-64)" = "$khuge" ] ||
	fail "the resolved cache file is not the object"
g1=$(st 'd["connector"]["gets"]')
cmp "$M/huge" "$D/huge" || fail "huge after resolve"
[ "$(st 'd["connector"]["gets"]')" = "$g1" ] || fail "a resolved object fetched"
unmount "$M"
wait "$FG_PID" || fail "mount -f exited $?"
