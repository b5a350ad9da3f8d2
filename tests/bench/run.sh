#!/bin/bash
# run.sh - `make bench`: pxfs against references measured in the same run
# on the same data, reported as ratios (never as absolute pass/fail times:
# the machines are shared and noisy).
#
#   BENCH_SIZE_MB   size of the mixed file (default 1024)
#   BENCH_DIR       scratch directory (default: a temp dir on /var/tmp)
#   RESULTS         where the table goes (default tests/bench/results)
#
# Prints a table of case, pxfs, reference, ratio (>1 means pxfs is faster
# when the figure is a rate) and writes it as CSV and markdown.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PXFS=${PXFS:-$here/../../build/pxfs}
SIZE_MB=${BENCH_SIZE_MB:-1024}
RESULTS=${RESULTS:-$here/results}
BENCH_DIR=${BENCH_DIR:-$(mktemp -d /var/tmp/pxfs-bench.XXXXXX)}
MNT=$BENCH_DIR/mnt
mkdir -p "$RESULTS" "$MNT"

cleanup() {
	if mountpoint -q "$MNT" 2>/dev/null; then
		"$PXFS" umount "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"
	fi
	rm -rf "$BENCH_DIR"
}
trap cleanup EXIT

now() { date +%s.%N; }
# time_cmd VAR CMD...: seconds the command took, best of $REPS runs
REPS=${BENCH_REPS:-3}
time_cmd() {
	local var=$1 best= t0 t1 dt
	shift
	for _ in $(seq "$REPS"); do
		sync
		t0=$(now)
		"$@" >/dev/null
		t1=$(now)
		dt=$(echo "$t1 - $t0" | bc -l)
		if [ -z "$best" ] || [ "$(echo "$dt < $best" | bc -l)" = 1 ]; then
			best=$dt
		fi
	done
	printf -v "$var" '%s' "$best"
}
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

csv=$RESULTS/bench.csv
md=$RESULTS/bench.md
echo "case,pxfs_s,reference,reference_s,speed_ratio" > "$csv"
{
	echo "| case | pxfs (s) | reference | ref (s) | speed vs ref |"
	echo "| --- | ---: | --- | ---: | ---: |"
} > "$md"
row() {	# case pxfs_s refname ref_s
	local ratio
	ratio=$(echo "scale=3; $4 / $2" | bc -l)
	printf '%-34s %9.3f s  %-30s %9.3f s  %6.2fx\n' "$1" "$2" "$3" "$4" \
		"$ratio"
	echo "$1,$2,$3,$4,$ratio" >> "$csv"
	echo "| $1 | $2 | $3 | $4 | ${ratio}x |" >> "$md"
}

echo "bench: generating ${SIZE_MB} MiB mixed data (half text, half random)"
MIX=$BENCH_DIR/mix.bin
half=$((SIZE_MB / 2))
{
	# yes dies of SIGPIPE when head has enough: not a failure
	(yes 'pxfs bench line: the quick brown fox jumps over the lazy dog 0123456789' |
		head -c $((half << 20))) || true
	head -c $(((SIZE_MB - half) << 20)) /dev/urandom
} > "$MIX"

STORE=$BENCH_DIR/store
"$PXFS" init "$STORE" >/dev/null

# put vs zstd -3 + openssl sha256 (what a user would run by hand)
put_once() {
	rm -rf "$STORE" && "$PXFS" init "$STORE" >/dev/null &&
		"$PXFS" put "$STORE" "$MIX" >/dev/null
}
ref_put() { zstd -q -3 -c "$MIX" >/dev/null && openssl dgst -sha256 "$MIX"; }
ref_put_t0() { zstd -q -T0 -3 -c "$MIX" >/dev/null; }
time_cmd t_put put_once
time_cmd t_ref ref_put
row "put ${SIZE_MB}M mix" "$t_put" "zstd -3 + openssl sha256" "$t_ref"
time_cmd t_ref0 ref_put_t0
row "put ${SIZE_MB}M mix" "$t_put" "zstd -T0 -3" "$t_ref0"

key=$("$PXFS" stat --json "$STORE" mix.bin |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
BLOB=$STORE/objects/${key:0:2}/$key

# cat (fetch + decompress + verify) vs zstd -dc of the same blob
time_cmd t_cat "$PXFS" cat "$STORE" mix.bin
time_cmd t_zdc zstd -q -dc "$BLOB"
row "cat ${SIZE_MB}M mix" "$t_cat" "zstd -dc BLOB" "$t_zdc"

# The mount: cold read (a fresh cache each time) vs zstd -dc, warm read vs
# the same bytes from tmpfs.
if [ -e /dev/fuse ] && "$PXFS" help mount >/dev/null 2>&1; then
	cold_read() {
		"$PXFS" umount "$MNT" 2>/dev/null || true
		rm -rf "$BENCH_DIR/cache"
		"$PXFS" mount "$STORE" "$MNT" --cache-dir "$BENCH_DIR/cache" \
			--cache-size $(((SIZE_MB + 64) << 20))
		cat "$MNT/mix.bin"
	}
	time_cmd t_cold cold_read
	row "mount cold read ${SIZE_MB}M" "$t_cold" "zstd -dc BLOB" "$t_zdc"
	cat "$MNT/mix.bin" >/dev/null
	TMPFS=$BENCH_DIR/tmpfs
	mkdir -p "$TMPFS"
	if mount -t tmpfs -o size=$(((SIZE_MB + 64) << 20)) tmpfs "$TMPFS" \
	    2>/dev/null; then
		cp "$MIX" "$TMPFS/mix.bin"
		time_cmd t_warm cat "$MNT/mix.bin"
		time_cmd t_tmpfs cat "$TMPFS/mix.bin"
		row "mount warm read ${SIZE_MB}M" "$t_warm" "cat from tmpfs" \
			"$t_tmpfs"
		umount "$TMPFS"
	fi
	"$PXFS" umount "$MNT"
fi

echo "bench: results in $csv and $md"
