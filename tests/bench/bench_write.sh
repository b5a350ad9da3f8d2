#!/bin/bash
# SPDX-License-Identifier: MIT
# bench_write.sh - writing through the mount, each figure against a
# reference measured in the same run on the same data:
#   cp of a big file into the mount (stored at close)  vs pxfs put of it
#   creating many small files through the mount        vs the same on tmpfs
#
#   PXFS=build/pxfs tests/bench/bench_write.sh
#   BENCH_WRITE_MB (1024)  BENCH_WRITE_FILES (10000)  BENCH_REPS (3)
#   BENCH_DIR (a temp dir on /var/tmp)  BENCH_TMPFS (/dev/shm)
#
# The big file is half text, half random bytes.  Each pxfs figure uses a
# fresh store (no dedupe against an earlier run); times are the best of
# BENCH_REPS runs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PXFS=${PXFS:-$here/../../build/pxfs}
SIZE_MB=${BENCH_WRITE_MB:-1024}
NFILES=${BENCH_WRITE_FILES:-10000}
REPS=${BENCH_REPS:-3}
B=${BENCH_DIR:-$(mktemp -d /var/tmp/pxfs-bench-write.XXXXXX)}
R=$(mktemp -d "${BENCH_TMPFS:-/dev/shm}/pxfs-bench-wref.XXXXXX")
M=$B/mnt
mkdir -p "$M"

mounted() { awk -v m="$M" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }
cleanup() {
	if mounted; then
		"$PXFS" umount "$M" 2>/dev/null || fusermount3 -uz "$M"
	fi
	rm -rf "$B" "$R"
}
trap cleanup EXIT

now() { date +%s.%N; }
fresh() {	# a new, empty store in $B/store, mounted on $M
	if mounted; then "$PXFS" umount "$M"; fi
	rm -rf "$B/store" "$B/cache"
	"$PXFS" init "$B/store" >/dev/null
}
mnt() { "$PXFS" mount "$B/store" "$M" --cache-dir "$B/cache"; }
# best SECONDS of $REPS runs of "$@"; SETUP runs before each (untimed)
best() {
	local b= t0 t1 dt
	for _ in $(seq "$REPS"); do
		${SETUP:-true}
		sync
		t0=$(now)
		"$@" >/dev/null
		t1=$(now)
		dt=$(echo "$t1 - $t0" | bc -l)
		if [ -z "$b" ] || [ "$(echo "$dt < $b" | bc -l)" = 1 ]; then
			b=$dt
		fi
	done
	echo "$b"
}
row() {	# case pxfs reference ref unit: figures as time (s) or rate
	printf '%-34s %12s  %-26s %12s  %6.2fx\n' "$1" "$2" "$3" "$4" "$5"
}

echo "bench_write: ${SIZE_MB} MiB file (half text, half random), $NFILES small files"
half=$((SIZE_MB / 2))
{
	(yes 'pxfs bench line: the quick brown fox jumps over the lazy dog 0123456789' ||
	 true) | head -c $((half << 20))
	head -c $(((SIZE_MB - half) << 20)) /dev/urandom
} >"$B/big"

printf '%-34s %12s  %-26s %12s  %7s\n' case pxfs reference reference "ratio"

# ---- one big file: cp into the mount vs pxfs put -------------------------
cp_in() { cp "$B/big" "$M/big"; }
SETUP="fresh_mounted" 
fresh_mounted() { fresh; mnt; }
t_cp=$(best cp_in)
fresh_put() { if mounted; then "$PXFS" umount "$M"; fi
	rm -rf "$B/store"; "$PXFS" init "$B/store" >/dev/null; }
SETUP=fresh_put
t_put=$(best "$PXFS" put "$B/store" "$B/big")
SETUP=
row "cp ${SIZE_MB} MiB into the mount (s)" "$(printf %.3f "$t_cp")" \
	"pxfs put (s)" "$(printf %.3f "$t_put")" \
	"$(echo "$t_put / $t_cp" | bc -l)"
mb_cp=$(echo "$SIZE_MB / $t_cp" | bc -l)
mb_put=$(echo "$SIZE_MB / $t_put" | bc -l)
row "  as MiB/s" "$(printf %.1f "$mb_cp")" "  as MiB/s" \
	"$(printf %.1f "$mb_put")" "$(echo "$mb_cp / $mb_put" | bc -l)"

# ---- many small files: through the mount vs tmpfs ------------------------
small() {	# small DIR: $NFILES files of 100-1000 bytes in 100 directories
	local d=$1
	mkdir -p "$d"
	python3 - "$d" "$NFILES" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
payload = os.urandom(1000)
for i in range(n):
    sub = os.path.join(d, "d%02d" % (i % 100))
    if i < 100:
        os.mkdir(sub)
    with open(os.path.join(sub, "f%05d" % i), "wb") as f:
        f.write(payload[: 100 + i % 900])
EOF
}
SETUP=fresh_mounted
t_small=$(best small "$M/small")
clean_ref() { rm -rf "$R/small"; mkdir "$R/small"; }
SETUP=clean_ref
t_ref=$(best small "$R/small")
SETUP=
fps=$(echo "$NFILES / $t_small" | bc -l)
fps_ref=$(echo "$NFILES / $t_ref" | bc -l)
row "create $NFILES files (files/s)" "$(printf %.0f "$fps")" \
	"tmpfs (files/s)" "$(printf %.0f "$fps_ref")" \
	"$(echo "$fps / $fps_ref" | bc -l)"
if mounted; then "$PXFS" umount "$M"; fi
echo "(ratio: pxfs relative to the reference; above 1 pxfs is faster)"
