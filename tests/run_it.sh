#!/bin/bash
# SPDX-License-Identifier: MIT
# run_it.sh - run every tests/it_*.sh once per connector: first with the
# file connector, then with Redis (PXFS_TEST_CONNECTOR=file|redis, see
# lib.sh), each in its own bash with a time limit.  For the Redis run one
# redis-server is started on a free loopback port for the whole run
# (PXFS_TEST_REDIS_URL) and stopped, by its pid, however the run ends.
# Exit 0 is a pass, 77 a skip, anything else a failure (its output tail
# is shown).  Ends with "N passed, N failed, N skipped" over both runs and
# exits 1 when anything failed.
#
#   PXFS=build/pxfs tests/run_it.sh [it_name...]
#   IT_TIMEOUT=300 (seconds per script)
#   IT_VERBOSE=1 (show the last line a passing script printed: its figures)
#   IT_CONNECTORS="file redis" (the runs to make)
#
# A script that has nothing to test under one connector says so itself
# (lib.sh's file_connector_only, need_redis) and is counted as a skip.
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${PXFS:?PXFS must name the pxfs binary}"
export PXFS
timeout=${IT_TIMEOUT:-300}
connectors=${IT_CONNECTORS:-file redis}

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
work=$(mktemp -d "${TMPDIR:-/tmp}/pxfs-run-it.XXXXXX")
log=$work/log
redis_pid=
redis_note=

cleanup() {
	if [ -n "$redis_pid" ]; then
		kill "$redis_pid" 2>/dev/null
		wait "$redis_pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# A port nothing listens on now (another process may take it before
# redis-server does: the caller retries).
free_port() {
	python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Start the run's redis-server; sets redis_pid and PXFS_TEST_REDIS_URL, or
# redis_note saying why there is none.
start_redis() {
	local port try i
	if ! command -v redis-server >/dev/null ||
	   ! command -v redis-cli >/dev/null; then
		redis_note="redis-server or redis-cli is not installed"
		return 1
	fi
	for try in 1 2 3 4 5; do
		port=$(free_port) || break
		mkdir -p "$work/redis"
		redis-server --bind 127.0.0.1 --port "$port" --save '' \
			--appendonly no --dir "$work/redis" \
			--logfile "$work/redis/log" >/dev/null 2>&1 </dev/null &
		redis_pid=$!
		for i in $(seq 100); do
			if [ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ]
			then
				export PXFS_TEST_REDIS_URL=redis://127.0.0.1:$port
				return 0
			fi
			kill -0 "$redis_pid" 2>/dev/null || break
			sleep 0.05
		done
		kill "$redis_pid" 2>/dev/null
		wait "$redis_pid" 2>/dev/null
		redis_pid=
	done
	redis_note="redis-server did not start: $(tail -n 1 \
		"$work/redis/log" 2>/dev/null)"
	return 1
}

# run_one SCRIPT CONNECTOR
run_one() {
	local s=$1 conn=$2 name start rc secs
	name="$(basename "$s" .sh) [$conn]"
	start=$(date +%s)
	PXFS_TEST_CONNECTOR=$conn timeout --kill-after=10 "$timeout" \
		bash "$s" >"$log" 2>&1 </dev/null
	rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0)	pass=$((pass + 1))
		printf 'PASS  %s (%ss)\n' "$name" "$secs"
		[ "${IT_VERBOSE:-0}" = 0 ] ||
			tail -n 1 "$log" | sed 's/^/    | /' ;;
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
}

skip_one() {
	skipped=$((skipped + 1))
	printf 'SKIP  %s [%s]: %s\n' "$(basename "$1" .sh)" "$2" "$3"
}

for conn in $connectors; do
	case $conn in
	file)	;;
	redis)	[ -n "$redis_pid" ] || start_redis ;;
	*)	echo "run_it: unknown connector '$conn'" >&2
		exit 2 ;;
	esac
	for s in "${scripts[@]}"; do
		[ -e "$s" ] || continue
		if [ "$conn" = redis ] && [ -z "$redis_pid" ]; then
			skip_one "$s" redis "$redis_note"
			continue
		fi
		run_one "$s" "$conn"
		# what one script left must not reach the next
		if [ "$conn" = redis ]; then
			redis-cli -u "$PXFS_TEST_REDIS_URL" FLUSHALL \
				>/dev/null 2>&1
		fi
	done
done

echo "$pass passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
