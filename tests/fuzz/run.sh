#!/bin/bash
# SPDX-License-Identifier: MIT
# run.sh - run the libFuzzer targets built in BUILD/tests/fuzz.
#
#   tests/fuzz/run.sh BUILD SECONDS [name...]           fuzz (make fuzz)
#   tests/fuzz/run.sh --smoke BUILD SECONDS [name...]   replay + short fuzz
#   tests/fuzz/run.sh --seeds BUILD [name...]           remake seed corpora
#
# Each target fuzz_NAME first replays every input in regress/NAME (crashes
# found before, which must stay fixed), then fuzzes for SECONDS on a copy
# of corpus/NAME: BUILD/corpus/NAME, kept between runs so that longer
# campaigns add up; --smoke uses a fresh copy instead.  FUZZ_JOBS targets
# run at once (default: one per CPU).  A crash leaves its input in
# BUILD/artifacts/; once fixed, add it to regress/NAME.  Prints
# executions per target and exits 1 when any target failed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
mode=fuzz
case ${1:-} in
--smoke) mode=smoke; shift ;;
--seeds) mode=seeds; shift ;;
esac
build=${1:?usage: run.sh [--smoke|--seeds] BUILD [SECONDS] [name...]}
shift
secs=0
if [ "$mode" != seeds ]; then
	secs=${1:?usage: run.sh [--smoke] BUILD SECONDS [name...]}
	shift
fi
bindir=$build/tests/fuzz

if [ $# -gt 0 ]; then
	names=("$@")
else
	names=()
	for b in "$bindir"/fuzz_*; do
		[ -x "$b" ] && [ "${b%.*}" = "$b" ] || continue
		names+=("${b##*/fuzz_}")
	done
fi
[ ${#names[@]} -gt 0 ] || { echo "fuzz: no targets in $bindir" >&2; exit 1; }

# Per-target knobs: the largest input worth trying.
max_len() {
	case $1 in
	index) echo 262144 ;;
	zseek|zframe|adopt) echo 131072 ;;
	config) echo 8192 ;;
	*) echo 16384 ;;
	esac
}

# Scratch files of the targets go here (tmpfs when there is one) and are
# removed even when a target crashes.
parent=${TMPDIR:-/tmp}
[ -w /dev/shm ] && parent=/dev/shm
tmp=$(mktemp -d "$parent/pxfs-fuzz-run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export PXFS_FUZZ_TMP=$tmp

if [ "$mode" = seeds ]; then
	for n in "${names[@]}"; do
		dir=$here/corpus/$n
		rm -rf "$dir"
		mkdir -p "$dir"
		ASAN_OPTIONS=detect_leaks=0 PXFS_FUZZ_SEEDS=$dir \
			"$bindir/fuzz_$n" >/dev/null 2>&1 || {
			echo "fuzz: fuzz_$n cannot make its seeds" >&2
			exit 1
		}
		echo "seeds  $n: $(ls "$dir" | wc -l) files"
	done
	exit 0
fi

# One target: replay its regressions, then fuzz.  Prints one result (and
# on failure the log's tail); exits non-zero on failure.
run_one() {
	local n=$1 bin=$bindir/fuzz_$1 log=$tmp/$1.log corpus f rc runs
	local start elapsed size
	local regress=() opts=()

	if [ ! -x "$bin" ]; then
		echo "FAIL   $n: no $bin"
		return 1
	fi
	if [ -d "$here/regress/$n" ]; then
		for f in "$here/regress/$n"/*; do
			[ -f "$f" ] && regress+=("$f")
		done
	fi
	if [ ${#regress[@]} -gt 0 ] &&
	   ! "$bin" -timeout=30 "${regress[@]}" >"$log" 2>&1; then
		echo "FAIL   $n: a regression input fails again"
		grep -E 'ERROR|SUMMARY|fuzz:|Running:' "$log" | tail -n 8 |
			sed 's/^/    | /'
		return 1
	fi

	if [ "$mode" = smoke ]; then
		corpus=$tmp/corpus-$n
		rm -rf "$corpus"
	else
		corpus=$build/corpus/$n
	fi
	mkdir -p "$corpus"
	cp -n "$here/corpus/$n"/* "$corpus"/ 2>/dev/null
	opts=(-max_total_time="$secs" -timeout=20 -rss_limit_mb=2048
	      -max_len="$(max_len "$n")" -print_final_stats=1
	      -artifact_prefix="$build/artifacts/$n-")
	[ -f "$here/dict/$n.dict" ] && opts+=(-dict="$here/dict/$n.dict")
	start=$(date +%s)
	"$bin" "${opts[@]}" "$corpus" >"$log" 2>&1
	rc=$?
	elapsed=$(( $(date +%s) - start ))
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	       tail -n 1)
	size=$(ls "$corpus" | wc -l)
	if [ $rc -ne 0 ]; then
		echo "FAIL   $n after ${runs:-?} runs (${elapsed}s):"
		grep -E 'ERROR|SUMMARY|fuzz:|Test unit written|^#' "$log" |
			tail -n 12 | sed 's/^/    | /'
		return 1
	fi
	printf 'PASS   %-10s %10s runs in %ss, corpus %s, %s %s\n' \
	       "$n" "${runs:-?}" "$elapsed" "$size" "${#regress[@]}" \
	       "regression inputs"
}

# FUZZ_JOBS targets at a time (one per CPU by default), results printed
# in order.
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
mkdir -p "$build/artifacts"
pids=()
for n in "${names[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	run_one "$n" >"$tmp/$n.result" 2>&1 &
	pids+=($!)
done
failed=0
for k in "${!names[@]}"; do
	wait "${pids[$k]}" || failed=1
	cat "$tmp/${names[$k]}.result"
done
exit $failed
