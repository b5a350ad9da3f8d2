#!/bin/bash
# SPDX-License-Identifier: MIT
# run.sh - `make bench`: pxfs against what a user would do instead, each
# figure with its reference measured in the same run on the same data,
# reported as a ratio (the machines are shared and noisy: never trust an
# absolute time from another run).
#
#   PXFS=build/pxfs tests/bench/run.sh
#
#   BENCH_SIZE_MB (1024)     the compressible mix and the random file
#   BENCH_HUGE_MB (4096)     the object of the random 4 KiB reads
#   BENCH_CONC_MB (256)      the object of the 32 concurrent readers
#   BENCH_FILES (100000)     small files in the tree (ls -lR, find)
#   BENCH_SMALL (10000)      of those, opened+read+closed
#   BENCH_INDEX (1000000)    entries of the namespace-at-scale case
#   BENCH_RANDOM_READS (100) random 4 KiB reads
#   BENCH_REPS (3)           runs per timing (the best is kept)
#   BENCH_CASES (all)        comma list of: put cold cat ttfb warm meta
#                            small random conc write scale redis
#   BENCH_DIR                scratch (default: a temp dir on /var/tmp)
# Cold reads are timed twice: with the default cache mode (a decompressed
# copy written to the cache directory) and with --cache-mode memory (no
# copy, as squashfuse: the case the squashfuse target is about).
#   RESULTS                  where the tables go (tests/bench/results)
#
# Every row: case, the pxfs figure, the reference and its figure, and
# ratio = reference / pxfs.  For times that is pxfs's speed relative to
# the reference (above 1: pxfs is faster); for a limit (a target such as
# "5 ms" or "64 MB") above 1 means within it.  The target column says
# what the issue asks of the ratio; "ok" whether this run met it.
# Cold means: a fresh mount and cache directory, and the kernel's page
# cache dropped (root only; otherwise the figures say "warm disk").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PXFS=${PXFS:-$here/../../build/pxfs}
MKINDEX=${MKINDEX:-$(dirname "$PXFS")/tests/bench/mkindex}
SIZE_MB=${BENCH_SIZE_MB:-1024}
HUGE_MB=${BENCH_HUGE_MB:-4096}
CONC_MB=${BENCH_CONC_MB:-256}
NFILES=${BENCH_FILES:-100000}
NSMALL=${BENCH_SMALL:-10000}
NINDEX=${BENCH_INDEX:-1000000}
NRAND=${BENCH_RANDOM_READS:-100}
REPS=${BENCH_REPS:-3}
CASES=,${BENCH_CASES:-all},
RESULTS=${RESULTS:-$here/results}
BENCH_DIR=${BENCH_DIR:-$(mktemp -d /var/tmp/pxfs-bench.XXXXXX)}
REF=$(mktemp -d /dev/shm/pxfs-bench-ref.XXXXXX)	# tmpfs: the reference
MNT=$BENCH_DIR/mnt
SQM=$BENCH_DIR/sqmnt
mkdir -p "$RESULTS" "$MNT" "$SQM"
[ "$NSMALL" -le "$NFILES" ] || NSMALL=$NFILES

is_mnt() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }
umnt() {
	if is_mnt "$1"; then
		fusermount3 -u "$1" 2>/dev/null || umount -l "$1" 2>/dev/null ||
			true
	fi
}
cleanup() {
	umnt "$MNT"
	umnt "$SQM"
	rm -rf "$BENCH_DIR" "$REF"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

want() { [ "$CASES" = ,all, ] || [[ $CASES == *,$1,* ]]; }

COLD=cold
if [ "$(id -u)" -eq 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
	drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
else
	COLD="warm disk"
	drop() { sync; }
	echo "bench: not root: page caches cannot be dropped, so the" \
	     "cold figures read the blobs from memory" >&2
fi
SQFUSE=$(command -v squashfuse_ll || command -v squashfuse || true)
if ! command -v mksquashfs >/dev/null || [ -z "$SQFUSE" ]; then
	SQFUSE=
	echo "bench: squashfs-tools or squashfuse missing: no squashfuse" \
	     "rows" >&2
fi

now() { date +%s.%N; }
# time_once VAR PRE CMD...: run function PRE untimed, then CMD (stdout
# discarded), timed; VAR keeps the fewest seconds it has been given
# (empty VAR: none yet)
time_once() {
	local _var=$1 _pre=$2 _t0 _t1 _dt
	shift 2
	$_pre
	_t0=$(now)
	"$@" >/dev/null
	_t1=$(now)
	_dt=$(echo "$_t1 - $_t0" | bc -l)
	if [ -z "${!_var}" ] || [ "$(echo "$_dt < ${!_var}" | bc -l)" = 1 ]; then
		printf -v "$_var" '%s' "$_dt"
	fi
}
# time_cmd VAR CMD...: best seconds of $REPS runs of CMD; the function
# named by $PRE, if any, runs untimed before each run
time_cmd() {
	printf -v "$1" '%s' ''
	for _ in $(seq "$REPS"); do
		time_once "$1" "${PRE:-true}" "${@:2}"
	done
}

csv=$RESULTS/bench.csv
md=$RESULTS/bench.md
echo "case,pxfs,unit,reference,reference_value,ratio,target,ok" >"$csv"
{
	echo "| case | pxfs | reference | ref | ratio | target | ok |"
	echo "| --- | ---: | --- | ---: | ---: | --- | --- |"
} >"$md"
printf '%-40s %11s  %-34s %11s %8s  %s\n' case pxfs reference ref ratio \
	target
# row CASE PXFS REFNAME REF [UNIT [TARGET]]: ratio = REF / PXFS, and
# TARGET is the least ratio the issue asks for (empty: informational)
row() {
	local c=$1 p=$2 rn=$3 r=$4 u=${5:-s} t=${6:-} ratio ok=
	ratio=$(echo "scale=4; if ($p > 0) $r / $p else 0" | bc -l)
	ratio=$(printf '%.3f' "$ratio")
	if [ -n "$t" ]; then
		if [ "$(echo "$ratio >= $t" | bc -l)" = 1 ]; then
			ok=yes
		else
			ok=MISSED
		fi
	fi
	printf '%-40s %9.4g %-2s %-34s %9.4g %-2s %6.2fx  %s %s\n' "$c" "$p" \
		"$u" "$rn" "$r" "$u" "$ratio" "${t:+>= ${t}x}" "$ok"
	echo "$c,$p,$u,$rn,$r,$ratio,${t:+>=$t},$ok" >>"$csv"
	echo "| $c | $p $u | $rn | $r $u | ${ratio}x | ${t:+≥ ${t}x} | $ok |" \
		>>"$md"
}

# A pxfs mount of store $1 with a fresh cache directory (or $2).
pxmount() {
	umnt "$MNT"
	[ -n "${2:-}" ] || rm -rf "$BENCH_DIR/cache"
	"$PXFS" mount "$1" "$MNT" --cache-dir "${2:-$BENCH_DIR/cache}" \
		--cache-size $(((HUGE_MB + SIZE_MB * 2 + 1024) << 20)) \
		${PXOPTS:-}
}
sqmount() { umnt "$SQM"; "$SQFUSE" "$1" "$SQM"; }
stats() {
	getfattr --absolute-names --only-values -n user.pxfs.stats "$MNT" |
	python3 -c 'import json, sys
d = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}
keyof() {
	"$PXFS" stat --json "$1" "$2" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])'
}

# ---- data -------------------------------------------------------------------
echo "bench: data in $BENCH_DIR: ${SIZE_MB} MiB mix and random," \
     "${HUGE_MB} MiB object, $NFILES small files, $NINDEX entries"
D=$BENCH_DIR/data
mkdir -p "$D"
MIX=$D/mix.bin
half=$((SIZE_MB / 2))
{
	# yes dies of SIGPIPE when head has enough: not a failure
	(yes 'pxfs bench line: the quick brown fox jumps over the lazy dog 0123456789' |
		head -c $((half << 20))) || true
	head -c $(((SIZE_MB - half) << 20)) /dev/urandom
} >"$MIX"
head -c $((SIZE_MB << 20)) /dev/urandom >"$D/random.bin"
S1=$BENCH_DIR/s1
"$PXFS" init "$S1" >/dev/null
"$PXFS" put "$S1" "$MIX" "$D/random.bin" >/dev/null
BLOB=$S1/objects/$(keyof "$S1" mix.bin | cut -c1-2)/$(keyof "$S1" mix.bin)

# ---- put ----------------------------------------------------------------------
if want put; then
	S0=$BENCH_DIR/s0
	# an empty store, made untimed: removing the last run's blob is
	# not part of a put (the references write nothing at all)
	fresh_store() { rm -rf "$S0" && "$PXFS" init "$S0" >/dev/null && drop; }
	ref_put_t0() { zstd -q -T0 -3 -c "$MIX" >/dev/null; }
	# (openssl, not sha256sum: coreutils' SHA-256 is 4x slower here)
	ref_put_1() { zstd -q -3 -c "$MIX" >/dev/null &&
		openssl dgst -sha256 "$MIX"; }
	# pxfs and its references take turns, round after round: on a
	# shared machine the others' load drifts over minutes, and runs
	# made minutes apart would compare two different machines
	t_put= t_ref0= t_ref1=
	for _ in $(seq "$REPS"); do
		time_once t_put fresh_store "$PXFS" put "$S0" "$MIX"
		time_once t_ref0 drop ref_put_t0
		time_once t_ref1 drop ref_put_1
	done
	row "put ${SIZE_MB}M mix" "$t_put" "zstd -T0 -3" "$t_ref0" s 0.7
	row "put ${SIZE_MB}M mix" "$t_put" "zstd -3 + openssl dgst" "$t_ref1" s
	rm -rf "$S0"
fi

# ---- cold sequential reads ------------------------------------------------
if [ -n "$SQFUSE" ] && { want cold || want warm; }; then
	mkdir -p "$BENCH_DIR/sqsrc"
	ln "$MIX" "$D/random.bin" "$BENCH_DIR/sqsrc/"
	mksquashfs "$BENCH_DIR/sqsrc" "$BENCH_DIR/data.sqfs" -comp zstd \
		-Xcompression-level 3 -noappend -quiet -no-progress >/dev/null
fi
if want cold; then
	# the default keeps a decompressed copy in the cache directory;
	# --cache-mode memory keeps none, like squashfuse (a store on a
	# local disk gains nothing from a second copy on the same disk)
	cold_px() { pxmount "$S1" && drop; }
	cold_pm() { PXOPTS="--cache-mode memory" pxmount "$S1" && drop; }
	cold_sq() { sqmount "$BENCH_DIR/data.sqfs" && drop; }
	for f in mix random; do
		# taking turns, as for put
		t_px= t_pm= t_sq= t_zdc=
		for _ in $(seq "$REPS"); do
			time_once t_px cold_px cat "$MNT/$f.bin"
			time_once t_pm cold_pm cat "$MNT/$f.bin"
			[ -z "$SQFUSE" ] ||
				time_once t_sq cold_sq cat "$SQM/$f.bin"
			[ "$f" != mix ] ||
				time_once t_zdc drop zstd -q -dc "$BLOB"
		done
		if [ "$f" = mix ]; then
			row "$COLD read ${SIZE_MB}M mix" "$t_px" "zstd -dc BLOB" \
				"$t_zdc" s
			row "$COLD read ${SIZE_MB}M mix, memory" "$t_pm" \
				"zstd -dc BLOB" "$t_zdc" s
		fi
		if [ -n "$SQFUSE" ]; then
			row "$COLD read ${SIZE_MB}M $f" "$t_px" \
				"$(basename "$SQFUSE") (zstd sqfs)" "$t_sq" s
			row "$COLD read ${SIZE_MB}M $f, memory" "$t_pm" \
				"$(basename "$SQFUSE") (zstd sqfs)" "$t_sq" s \
				"$([ $f = mix ] && echo 1.0)"
			umnt "$SQM"
		fi
	done
	umnt "$MNT"
fi

# ---- pxfs cat, no mount: fetch, decompress, verify ------------------------
if want cat; then
	t_px= t_zdc=
	for _ in $(seq "$REPS"); do
		time_once t_px drop "$PXFS" cat "$S1" mix.bin
		time_once t_zdc drop zstd -q -dc "$BLOB"
	done
	row "pxfs cat ${SIZE_MB}M mix (cold)" "$t_px" "zstd -dc BLOB" "$t_zdc" s
fi

# ---- time to the first byte of a cold 4 KiB object ------------------------
# (the reference: the same bytes in a plain file on the same disk, cold;
# python times open + read of each, so no process start is counted)
if want ttfb; then
	mkdir -p "$D/k4" "$BENCH_DIR/k4ref"
	for i in $(seq 20); do
		head -c 4096 /dev/urandom >"$D/k4/f$i"
	done
	cp "$D"/k4/* "$BENCH_DIR/k4ref/"
	S7=$BENCH_DIR/s7
	"$PXFS" init "$S7" >/dev/null
	"$PXFS" put "$S7" "$D/k4" >/dev/null
	pxmount "$S7"
	ls -l "$MNT/k4" >/dev/null	# the lookups are not what is timed
	ttfb() {
		python3 - "$1" <<'EOF'
import os, statistics, sys, time
d = sys.argv[1]
ts = []
for i in range(1, 21):
    t0 = time.perf_counter()
    fd = os.open(os.path.join(d, "f%d" % i), os.O_RDONLY)
    b = os.read(fd, 1)
    ts.append(time.perf_counter() - t0)
    os.close(fd)
    assert len(b) == 1
print("%.6f" % statistics.median(ts))
EOF
	}
	drop
	t_px=$(ttfb "$MNT/k4")
	drop
	t_ref=$(ttfb "$BENCH_DIR/k4ref")
	row "first byte of a 4K object, median" "$(echo "$t_px * 1000" | bc -l)" \
		"the same file on disk, cold" "$(echo "$t_ref * 1000" | bc -l)" ms
	umnt "$MNT"
	rm -rf "$S7" "$D/k4" "$BENCH_DIR/k4ref"
fi

# ---- warm reads -------------------------------------------------------------
if want warm; then
	pxmount "$S1"
	cat "$MNT/mix.bin" >/dev/null
	cp "$MIX" "$REF/mix.bin"
	cat "$REF/mix.bin" >/dev/null
	time_cmd t_px cat "$MNT/mix.bin"
	time_cmd t_tmp cat "$REF/mix.bin"
	row "warm read ${SIZE_MB}M mix" "$t_px" "cat from tmpfs" "$t_tmp" s 0.8
	rm -f "$REF/mix.bin"
	umnt "$MNT"
fi

# ---- the small-file tree: ls -lR, find, open+read+close -----------------
if want meta || want small; then
	python3 - "$REF/tree" "$NFILES" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = 1000
for i in range(n):
    d = os.path.join(root, "d%04d" % (i // per))
    if i % per == 0:
        os.makedirs(d)
    with open(os.path.join(d, "f%04d" % (i % per)), "w") as f:
        f.write("small file %d\n" % i)
EOF
	S2=$BENCH_DIR/s2
	"$PXFS" init "$S2" >/dev/null
	"$PXFS" put "$S2" "$REF/tree" >/dev/null
	[ -z "$SQFUSE" ] || mksquashfs "$REF/tree" "$BENCH_DIR/tree.sqfs" \
		-comp zstd -Xcompression-level 3 -noappend -quiet -no-progress \
		>/dev/null
fi
if want meta; then
	cold_px2() { pxmount "$S2" && drop; }
	cold_sq2() { sqmount "$BENCH_DIR/tree.sqfs" && drop; }
	ls -lR "$REF/tree" >/dev/null
	PRE=cold_px2 time_cmd t_px ls -lR "$MNT/tree"
	time_cmd t_tmp ls -lR "$REF/tree"
	row "ls -lR $NFILES ($COLD mount)" "$t_px" "ls -lR on tmpfs" "$t_tmp" \
		s 0.125
	getattrs=$(stats 'd["ops"]["getattr"]["count"] + d["ops"]["lookup"]["count"] + d["ops"]["getxattr"]["count"]')
	if [ -n "$SQFUSE" ]; then
		PRE=cold_sq2 time_cmd t_sq ls -lR "$SQM"
		row "ls -lR $NFILES ($COLD mount)" "$t_px" \
			"$(basename "$SQFUSE") (zstd sqfs)" "$t_sq" s
	fi
	PRE=cold_px2 time_cmd t_px find "$MNT/tree" -printf '%s\n'
	time_cmd t_tmp find "$REF/tree" -printf '%s\n'
	row "find -printf %s $NFILES ($COLD mount)" "$t_px" "find on tmpfs" \
		"$t_tmp" s
	if [ -n "$SQFUSE" ]; then
		PRE=cold_sq2 time_cmd t_sq find "$SQM" -printf '%s\n'
		row "find -printf %s $NFILES ($COLD mount)" "$t_px" \
			"$(basename "$SQFUSE") (zstd sqfs)" "$t_sq" s
		umnt "$SQM"
	fi
	stat_all() { find "$1" -type f -print0 | xargs -0 stat >/dev/null; }
	PRE=cold_px2 time_cmd t_px stat_all "$MNT/tree"
	time_cmd t_tmp stat_all "$REF/tree"
	row "stat of $NFILES files ($COLD mount)" "$t_px" "stat on tmpfs" \
		"$t_tmp" s
	echo "bench: ls -lR of $NFILES entries cost $getattrs lookups," \
	     "getattrs and getxattrs in all (readdirplus does the rest)"
	umnt "$MNT"
fi
if want small; then
	# (awk, not head: head would leave sort a SIGPIPE, pipefail)
	(cd "$REF" && find tree -type f | sort | awk -v n="$NSMALL" 'NR <= n') \
		>"$BENCH_DIR/small.list"
	pxmount "$S2"
	# cached: fetched once into the cache and the page cache
	(cd "$MNT" && xargs -a "$BENCH_DIR/small.list" cat >/dev/null)
	(cd "$REF" && xargs -a "$BENCH_DIR/small.list" cat >/dev/null)
	orc() { (cd "$1" && xargs -a "$BENCH_DIR/small.list" cat); }
	time_cmd t_px orc "$MNT"
	time_cmd t_tmp orc "$REF"
	row "open+read+close $NSMALL cached files" "$t_px" "tmpfs" "$t_tmp" s
	umnt "$MNT"
fi
rm -rf "$REF/tree"

# ---- random 4 KiB reads of a huge cold object --------------------------
if want random; then
	python3 - "$MIX" "$D/huge.bin" "$HUGE_MB" <<'EOF'
import sys
src, dst, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
buf = open(src, "rb").read()
left = mb << 20
with open(dst, "wb") as f:
    while left > 0:
        n = min(left, len(buf))
        f.write(buf[:n])
        left -= n
EOF
	S3=$BENCH_DIR/s3
	"$PXFS" init "$S3" >/dev/null
	"$PXFS" put "$S3" "$D/huge.bin" >/dev/null
	rm -f "$D/huge.bin"
	pxmount "$S3"
	drop
	python3 - "$MNT" "$NRAND" >"$BENCH_DIR/random.out" <<'EOF'
import json, os, random, statistics, subprocess, sys, time
mnt, n = sys.argv[1], int(sys.argv[2])
path = os.path.join(mnt, "huge.bin")
def stats():
    out = subprocess.run(["getfattr", "--absolute-names", "--only-values",
                          "-n", "user.pxfs.stats", mnt],
                         capture_output=True, check=True).stdout
    d = json.loads(out)
    return d["cache"]["misses"], d["connector"]["get_bytes"]
size = os.stat(path).st_size
chunk = 1 << 20
rnd = random.Random(42)
picks = rnd.sample(range(1, size // chunk), min(n, size // chunk - 1))
lat, chunks, fetched = [], [], []
for c in picks:
    off = c * chunk + rnd.randrange(chunk - 4096)
    m0, b0 = stats()
    t0 = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    data = os.pread(fd, 4096, off)
    t1 = time.perf_counter()
    os.close(fd)
    assert len(data) == 4096
    m1, b1 = stats()
    lat.append((t1 - t0) * 1e3)
    chunks.append(m1 - m0)
    fetched.append(b1 - b0)
lat.sort()
print(statistics.median(lat), lat[int(len(lat) * 0.9)], lat[-1],
      max(chunks), statistics.mean(fetched), max(fetched), size)
EOF
	read -r med p90 worst maxc meanb maxb hsize <"$BENCH_DIR/random.out"
	row "random 4K cold read, median" "$med" "limit" 5 ms 1.0
	row "random 4K cold read, p90" "$p90" "limit" 5 ms
	row "random 4K cold read, worst" "$worst" "limit" 5 ms
	row "random 4K: chunks fetched per read (max)" "$maxc" "limit" 2 \
		chunks 1.0
	row "random 4K: bytes fetched per read (mean)" "$meanb" \
		"whole object (${HUGE_MB}M)" "$hsize" B
	umnt "$MNT"
	rm -rf "$S3"
fi

# ---- 32 concurrent cold readers of one object ---------------------------
if want conc; then
	head -c $((CONC_MB << 20)) /dev/urandom >"$D/conc.bin"
	S4=$BENCH_DIR/s4
	"$PXFS" init "$S4" >/dev/null
	"$PXFS" put "$S4" "$D/conc.bin" >/dev/null
	readers() {
		local i pids=
		for i in $(seq "$1"); do
			cat "$MNT/conc.bin" >/dev/null &
			pids="$pids $!"
		done
		# shellcheck disable=SC2086
		wait $pids
	}
	cold_px4() { pxmount "$S4" && drop; }
	PRE=cold_px4 time_cmd t_1 readers 1
	PRE=cold_px4 time_cmd t_32 readers 32
	fetches=$(stats 'd["cache"]["misses"]')
	nchunks=$(( ((CONC_MB << 20) + (1 << 20) - 1) >> 20 ))
	row "32 cold readers of ${CONC_MB}M, wall" "$t_32" "1 cold reader" \
		"$t_1" s
	row "32 cold readers: fetches per chunk" \
		"$(echo "scale=3; $fetches / $nchunks" | bc -l)" "limit" 1 \
		fetch 1.0
	umnt "$MNT"
	rm -rf "$S4" "$D/conc.bin"
fi

# ---- writing through the mount --------------------------------------------
# cp of the mix into a fresh mount (stored at close) vs pxfs put of it;
# BENCH_SMALL small files created through the mount vs on tmpfs
if want write; then
	SW=$BENCH_DIR/sw
	fresh_sw() { umnt "$MNT"; rm -rf "$SW" "$BENCH_DIR/cache";
		"$PXFS" init "$SW" >/dev/null; }
	fresh_sw_mounted() { fresh_sw && pxmount "$SW" && drop; }
	fresh_sw_put() { fresh_sw && drop; }
	PRE=fresh_sw_mounted time_cmd t_cp cp "$MIX" "$MNT/mix.bin"
	PRE=fresh_sw_put time_cmd t_put "$PXFS" put "$SW" "$MIX"
	row "cp ${SIZE_MB}M mix into the mount" "$t_cp" "pxfs put" "$t_put" s
	mksmall() {
		python3 - "$1" "$NSMALL" <<'EOF'
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
	fresh_ref() { rm -rf "$REF/w" && mkdir "$REF/w"; }
	fresh_mnt_w() { fresh_sw && pxmount "$SW" && mkdir "$MNT/w"; }
	PRE=fresh_mnt_w time_cmd t_px mksmall "$MNT/w"
	PRE=fresh_ref time_cmd t_tmp mksmall "$REF/w"
	row "create $NSMALL files through the mount" "$t_px" "tmpfs" "$t_tmp" s
	echo "bench: $(echo "$NSMALL / $t_px" | bc) files/s through the" \
	     "mount, $(echo "$NSMALL / $t_tmp" | bc) on tmpfs"
	umnt "$MNT"
	rm -rf "$SW" "$REF/w"
fi

# ---- a namespace of a million entries ---------------------------------
if want scale; then
	if [ ! -x "$MKINDEX" ]; then
		echo "bench: $MKINDEX missing (make bench builds it)" >&2
		exit 1
	fi
	per=1000
	[ "$NINDEX" -ge $per ] || per=$NINDEX
	S5=$BENCH_DIR/s5
	S6=$BENCH_DIR/s6
	"$PXFS" init "$S5" >/dev/null
	"$PXFS" init "$S6" >/dev/null
	echo "bench: making a namespace of $NINDEX entries"
	"$MKINDEX" "$S5" $((NINDEX / per)) "$per" >/dev/null
	"$MKINDEX" "$S6" 1 1000 >/dev/null
	# timed: the mount and the stat; not the unmount and dropped caches
	unmount_drop() { umnt "$MNT"; drop; }
	mount_stat() {
		"$PXFS" mount "$1" "$MNT" --cache-dir "$BENCH_DIR/cache" &&
			stat "$MNT/d0000/f0000"
	}
	PRE=unmount_drop time_cmd t_big mount_stat "$S5"
	PRE=unmount_drop time_cmd t_small mount_stat "$S6"
	row "mount + first stat, $NINDEX entries" "$t_big" "limit" 0.1 s 1.0
	row "mount + first stat, $NINDEX entries" "$t_big" \
		"the same, 1000 entries" "$t_small" s
	unmount_drop
	mount_stat "$S5" >/dev/null
	pid=$(stats 'd["pid"]')
	time_cmd t_find find "$MNT" -printf '%s\n'
	rss=$(awk '/^VmHWM/ { print $2 / 1024 }' "/proc/$pid/status")
	row "daemon peak RSS, find over $NINDEX" "$rss" "limit" 64 MB 1.0
	echo "bench: find -printf %s over $NINDEX entries took $t_find s"
	umnt "$MNT"
	rm -rf "$S5" "$S6"
fi

# Redis: put and cold read of the mix, and many small puts, against
# redis-cli and redis-benchmark on a redis-server of our own.
if want redis && [ -f "$here/bench_redis.sh" ] &&
   command -v redis-server >/dev/null &&
   command -v redis-benchmark >/dev/null; then
	STORE=$S1
	. "$here/bench_redis.sh"
fi

echo "bench: results in $csv and $md"
