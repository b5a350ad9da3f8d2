#!/bin/bash
# SPDX-License-Identifier: MIT
# tsan_smoke.sh - run the concurrency tests on a ThreadSanitizer build
# (make tsan-smoke builds it in build-tsan/ and calls this):
#   - the unit suites whose threads share things: check_threads (the pool,
#     one store used by many threads, two handles committing at once, gc
#     while putting), check_store (parallel ingest and export),
#     check_inode (the attribute table and lookup counts hammered by
#     threads) and check_conn_redis (the pool, a cluster's slot map
#     loaded once by concurrent first users);
#   - the mount tests with many request threads: it_mount_read (32
#     readers racing for one cold object: single flight), it_mount_cache
#     (eviction while reading), it_mount_write (writers, and readers
#     racing unlinks and renames), it_mount_memory, it_mount_share (8
#     concurrent writers through two mounts), it_mount_errors (a mount
#     stopping while files are open) and it_load (readers and writers at
#     once, smaller), file connector only.
# Every process, the daemons included (which have no stderr), writes its
# reports to files under a log directory (TSAN_OPTIONS log_path): any
# file there fails the run, and its reports are shown.
#
# Some kernels give mmap more random bits than TSan's shadow layout
# allows ("FATAL: ThreadSanitizer: unexpected memory mapping"): then
# everything runs under setarch -R (no address randomization), which
# children and daemons inherit.
#
#   tests/tsan_smoke.sh BUILD_DIR [TEST...]
set -u

b=${1:?usage: tsan_smoke.sh BUILD_DIR [TEST...]}
shift
b=$(cd "$b" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -gt 0 ]; then
	tests=("$@")
else
	# it_load runs smaller here (16 readers, 8 writers, 3 s): 72
	# processes against a daemon TSan slows tenfold once stalled past
	# its 20 s watchdog on a loaded 2-core machine
	tests=(check_threads check_store check_inode check_conn_redis
	       it_mount_read it_mount_cache it_mount_write it_mount_memory
	       it_mount_share it_mount_errors it_load)
fi

logs=$(mktemp -d "${TMPDIR:-/tmp}/pxfs-tsan.XXXXXX")
trap 'rm -rf "$logs"' EXIT
trap 'exit 130' INT TERM HUP

run=()
if ! TSAN_OPTIONS= "$b/pxfs" help >/dev/null 2>"$logs/probe"; then
	if grep -q "unexpected memory mapping" "$logs/probe" &&
	   setarch "$(uname -m)" -R true 2>/dev/null; then
		run=(setarch "$(uname -m)" -R)
		echo "tsan_smoke: address randomization off (setarch -R)"
	else
		echo "tsan_smoke: the TSan build does not run:" >&2
		head -n 5 "$logs/probe" >&2
		exit 1
	fi
fi
rm -f "$logs/probe"

export TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1
log_path=$logs/tsan"
TSAN_OPTIONS=${TSAN_OPTIONS//$'\n'/ }
failed=0
its=()
for t in "${tests[@]}"; do
	case $t in
	check_*)
		if [ ! -x "$b/tests/$t" ]; then
			echo "SKIP  $t: not built"
			continue
		fi
		echo "== $t (tsan)"
		"${run[@]}" "$b/tests/$t" || failed=1 ;;
	it_*)	[ -e "$here/$t.sh" ] && its+=("$t") ;;
	*)	echo "tsan_smoke: unknown test '$t'" >&2
		exit 2 ;;
	esac
done
if [ ${#its[@]} -gt 0 ]; then
	IT_CONNECTORS=file LOAD_SECONDS=${LOAD_SECONDS:-3} \
	LOAD_FILES=${LOAD_FILES:-500} LOAD_READERS=${LOAD_READERS:-16} \
	PXFS="$b/pxfs" "${run[@]}" "$here/run_it.sh" "${its[@]}" || failed=1
fi

n=$(find "$logs" -name 'tsan*' -type f | wc -l)
if [ "$n" -gt 0 ]; then
	echo "tsan_smoke: $n process(es) reported data races or other" \
	     "errors:" >&2
	for f in "$logs"/tsan*; do
		echo "---- $(basename "$f")" >&2
		head -n 60 "$f" >&2
	done
	exit 1
fi
[ $failed = 0 ] || { echo "tsan_smoke: a test failed" >&2; exit 1; }
echo "tsan_smoke: clean (${tests[*]})"
