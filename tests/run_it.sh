#!/bin/bash
# SPDX-License-Identifier: MIT
# run_it.sh - run every tests/it_*.sh, each in its own bash with a time
# limit.  Exit 0 is a pass, 77 a skip, anything else a failure (its output
# tail is shown).  Ends with "N passed, N failed, N skipped" and exits 1
# when anything failed.
#
#   PXFS=build/pxfs tests/run_it.sh [it_name...]
#   IT_TIMEOUT=300 (seconds per script)
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${PXFS:?PXFS must name the pxfs binary}"
export PXFS
timeout=${IT_TIMEOUT:-300}

if [ $# -gt 0 ]; then
	scripts=()
	for n in "$@"; do
		n=${n##*/}
		scripts+=("$here/${n%.sh}.sh")
	done
else
	scripts=("$here"/it_*.sh)
fi

pass=0 failed=0 skipped=0
log=$(mktemp "${TMPDIR:-/tmp}/pxfs-run-it.XXXXXX")
trap 'rm -f "$log"' EXIT

for s in "${scripts[@]}"; do
	[ -e "$s" ] || continue
	name=$(basename "$s" .sh)
	start=$(date +%s)
	timeout --kill-after=10 "$timeout" bash "$s" >"$log" 2>&1 </dev/null
	rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0)	pass=$((pass + 1))
		printf 'PASS  %s (%ss)\n' "$name" "$secs" ;;
	77)	skipped=$((skipped + 1))
		printf 'SKIP  %s: %s\n' "$name" "$(tail -n 1 "$log")" ;;
	*)	failed=$((failed + 1))
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			printf 'FAIL  %s (timed out after %ss)\n' "$name" \
			       "$timeout"
		else
			printf 'FAIL  %s (exit %s, %ss)\n' "$name" "$rc" \
			       "$secs"
		fi
		tail -n 25 "$log" | sed 's/^/    | /' ;;
	esac
done

echo "$pass passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
