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
# campaigns add up; --smoke uses a fresh copy instead.  A crash leaves its
# input in BUILD/artifacts/; once fixed, add it to regress/NAME.
# Prints executions per target and exits 1 when any target failed.
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
tmp=$(mktemp -d "$( [ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/pxfs-fuzz-run.XXXXXX")
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

failed=0
mkdir -p "$build/artifacts"
for n in "${names[@]}"; do
	bin=$bindir/fuzz_$n
	log=$tmp/$n.log
	if [ ! -x "$bin" ]; then
		echo "FAIL   $n: no $bin"
		failed=1
		continue
	fi

	regress=()
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
		failed=1
		continue
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
		failed=1
	else
		printf 'PASS   %-12s %10s runs in %ss, corpus %s, %s regression inputs\n' \
		       "$n" "${runs:-?}" "$elapsed" "$size" "${#regress[@]}"
	fi
done
exit $failed
