#!/bin/bash
# SPDX-License-Identifier: MIT
# bench_mount.sh - the mount's figures, each as a ratio against a reference
# measured in the same run on the same data:
#   cold sequential read of a compressible object   vs zstd -dc BLOB
#   warm read (page cache and cache file)            vs cat from tmpfs
#   ls -lR and stat of many placeholders             vs the tree on tmpfs
#   time to first byte of 4 KiB objects (cold, warm) vs tmpfs
#
#   PXFS=build/pxfs tests/bench/bench_mount.sh
#   BENCH_SIZE_MB (1024)  BENCH_FILES (100000)  BENCH_REPS (3)
#   BENCH_DIR (a temp dir on /var/tmp)  BENCH_TMPFS (/dev/shm)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PXFS=${PXFS:-$here/../../build/pxfs}
SIZE_MB=${BENCH_SIZE_MB:-1024}
NFILES=${BENCH_FILES:-100000}
REPS=${BENCH_REPS:-3}
B=${BENCH_DIR:-$(mktemp -d /var/tmp/pxfs-bench-mount.XXXXXX)}
R=$(mktemp -d "${BENCH_TMPFS:-/dev/shm}/pxfs-bench-ref.XXXXXX")
M=$B/mnt
mkdir -p "$M"

cleanup() {
	if awk -v m="$M" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; then
		"$PXFS" umount "$M" 2>/dev/null || fusermount3 -uz "$M"
	fi
	rm -rf "$B" "$R"
}
trap cleanup EXIT

drop() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
# best SECONDS of $REPS runs of "$@" (stdout discarded); PRE runs first
best() {
	local b= t0 t1 dt
	for _ in $(seq "$REPS"); do
		${PRE:-true}
		t0=$(date +%s.%N)
		"$@" >/dev/null
		t1=$(date +%s.%N)
		dt=$(echo "$t1 - $t0" | bc -l)
		if [ -z "$b" ] || [ "$(echo "$dt < $b" | bc -l)" = 1 ]; then
			b=$dt
		fi
	done
	echo "$b"
}
row() {	# case pxfs_s reference ref_s
	printf '%-30s %9.4f s  %-26s %9.4f s  %6.2fx slower\n' "$1" "$2" "$3" \
		"$4" "$(echo "$2 / $4" | bc -l)"
}
mnt() { "$PXFS" mount "$1" "$M" --cache-dir "$2" --cache-size 4G; }
umnt() { "$PXFS" umount "$M"; }

# ---- one big compressible object ----------------------------------------
echo "bench: ${SIZE_MB} MiB (half text, half random), $NFILES small files"
half=$((SIZE_MB / 2))
{
	(yes 'pxfs bench line: the quick brown fox jumps over the lazy dog 0123456789' |
		head -c $((half << 20))) || true
	head -c $(((SIZE_MB - half) << 20)) /dev/urandom
} >"$R/big"
"$PXFS" init "$B/s1" >/dev/null
"$PXFS" put "$B/s1" "$R/big" >/dev/null
key=$("$PXFS" stat --json "$B/s1" big |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
blob=$B/s1/objects/${key:0:2}/$key

cold_read() {
	rm -rf "$B/c1"
	mnt "$B/s1" "$B/c1"
	cat "$M/big"
	umnt
}
t_cold=$(PRE=drop best cold_read)
t_zstd=$(PRE=drop best zstd -q -dc "$blob")
row "cold read ${SIZE_MB}M" "$t_cold" "zstd -dc BLOB" "$t_zstd"
mnt "$B/s1" "$B/c1"
cat "$M/big" >/dev/null
t_warm=$(best cat "$M/big")
t_tmpfs=$(best cat "$R/big")
row "warm read ${SIZE_MB}M" "$t_warm" "cat from tmpfs" "$t_tmpfs"
umnt
rm -f "$R/big"

# ---- many placeholders ---------------------------------------------------
python3 - "$R/tree" "$NFILES" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = 1000
for i in range(n):
    d = os.path.join(root, "d%04d" % (i // per))
    if i % per == 0:
        os.makedirs(d)
    with open(os.path.join(d, "f%04d" % (i % per)), "w") as f:
        f.write("%d\n" % i)
EOF
"$PXFS" init "$B/s2" >/dev/null
"$PXFS" put "$B/s2" "$R/tree" >/dev/null
# a fresh mount each time: nothing in the kernel's caches
ls_cold() { mnt "$B/s2" "$B/c2"; ls -lR "$M/tree"; umnt; }
t_ls=$(best ls_cold)
t_lsref=$(PRE=drop best ls -lR "$R/tree")
row "ls -lR $NFILES (cold mount)" "$t_ls" "ls -lR on tmpfs" "$t_lsref"
stat_cold() { mnt "$B/s2" "$B/c2"; find "$M/tree" -exec stat {} +; umnt; }
t_st=$(best stat_cold)
t_stref=$(best find "$R/tree" -exec stat {} +)
row "stat $NFILES (cold mount)" "$t_st" "stat on tmpfs" "$t_stref"

# ---- time to first byte of 4 KiB objects --------------------------------
mkdir "$R/small"
for i in $(seq 200); do
	head -c 4096 /dev/urandom >"$R/small/f$i"
done
"$PXFS" init "$B/s3" >/dev/null
"$PXFS" put "$B/s3" "$R/small" >/dev/null
mnt "$B/s3" "$B/c3"
python3 - "$M/small" "$R/small" <<'EOF'
import os, statistics, sys, time
def ttfb(path):
    t0 = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    os.read(fd, 1)
    t1 = time.perf_counter()
    os.close(fd)
    return (t1 - t0) * 1e6
for label, d in (("pxfs", sys.argv[1]), ("tmpfs", sys.argv[2])):
    os.listdir(d)
    cold = [ttfb("%s/f%d" % (d, i)) for i in range(1, 201)]
    warm = [ttfb("%s/f%d" % (d, i)) for i in range(1, 201)]
    print("%-30s cold median %7.1f us  p90 %7.1f us   warm median %6.1f us"
          % ("ttfb 4 KiB (%s)" % label, statistics.median(cold),
             sorted(cold)[179], statistics.median(warm)))
EOF
umnt
