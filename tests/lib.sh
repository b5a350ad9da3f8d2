# SPDX-License-Identifier: MIT
# lib.sh - shared helpers of the integration tests (tests/it_*.sh).
#
# Source it first thing:  . "$(dirname "$0")/lib.sh"
#
# It sets -eu, checks $PXFS (the binary under test, exported by the
# Makefile), makes a per-test directory $T (removed, with anything
# registered by at_exit, when the script exits however it exits), and
# gives:
#   fail MSG...            print "FAIL: file:line: MSG" and exit 1
#   skip MSG...            print "SKIP: MSG" and exit 77
#   expect_ok CMD...       run CMD; on a non-zero status fail, showing stderr
#   expect_fail CMD...     CMD must exit 1 with exactly one line on stderr;
#                          that line is left in $ERR, stdout in $OUT
#   expect_usage CMD...    CMD must exit 2 (a usage error); stderr in $ERR
#   expect_err PATTERN     $ERR must match the grep -E PATTERN
#   fsck_clean STORE       "pxfs fsck STORE" must report a clean store
#   store_state STORE      print the index (SQL dump) and the blob list (the
#                          files, or the Redis keys): two calls that print
#                          the same mean an unchanged store
#   at_exit CMD            run CMD (a string) at exit, before $T goes
#   is_root                true when running as root
#
# Every test runs against the connector named by PXFS_TEST_CONNECTOR: file
# (the default) or redis, with PXFS_TEST_REDIS_URL naming the server that
# tests/run_it.sh started.  Tests make their stores, and touch blobs
# behind pxfs's back, only through these helpers, so that one script
# checks both connectors:
#   new_store DIR [OPTS...]  "pxfs init DIR OPTS..." on the connector under
#                          test (redis: --connector redis --url ... and a
#                          --prefix of its own, removed at exit); fails
#                          the test if init fails
#   init_opts              set the array INIT_OPTS to the init options of
#                          a new store (for "pxfs init" run otherwise)
#   file_connector_only WHY  skip (77) under redis, saying WHY
#   need_redis             skip unless the connector under test is redis
#   rcli ARGS...           redis-cli against the test server
#   blob_exists STORE KEY  true when STORE's connector holds blob KEY
#   blob_remove STORE KEY  remove blob KEY
#   blob_get STORE KEY     write blob KEY's bytes (the zstd stream) to stdout
#   blob_put STORE KEY     store stdin as blob KEY (a copy from blob_get)
#   blob_size STORE KEY    print blob KEY's size in bytes
#   blob_corrupt STORE KEY OFF  flip the bits of the blob's byte OFF (from
#                          the end when negative)
#   blob_count STORE       print the number of blobs STORE's connector has
#   blob_leftover STORE    make a 1234-byte leftover of an interrupted put
#                          and print the name fsck gives it
# Redis servers of a test's own (stopped by pid at exit however it exits):
#   free_port              print a loopback TCP port nothing listens on
#   redis_start [OPTS...]  start redis-server (options as its command line;
#                          --port P to restart on P, else a free port)
#                          with its data in $T/redis-PORT; sets REDIS_PORT
#                          and REDIS_PID; fails the test if it does not
#                          answer PING within 5 s
#   redis_stop PID         stop that server (SIGKILL after 5 s)
# shellcheck shell=bash

set -eu

if [ -z "${PXFS:-}" ]; then
	echo "lib.sh: PXFS must name the pxfs binary (make integration)" >&2
	exit 1
fi
case $PXFS in
/*) ;;
*) PXFS=$(cd "$(dirname "$PXFS")" && pwd)/$(basename "$PXFS") ;;
esac
export PXFS
[ -x "$PXFS" ] || { echo "lib.sh: '$PXFS' is not executable" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/pxfs-it.XXXXXX")
OUT=
ERR=
_exit_cmds=

at_exit() {
	_exit_cmds="$1
$_exit_cmds"
}

_cleanup() {
	local rc=$? line
	set +e
	while IFS= read -r line; do
		[ -n "$line" ] && eval "$line"
	done <<<"$_exit_cmds"
	# A test may have made things unreadable; take them back first.
	chmod -R u+rwX "$T" 2>/dev/null
	rm -rf "$T"
	exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM HUP

fail() {
	echo "FAIL: ${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: ${BASH_SOURCE[1]##*/}: $*" >&2
	exit 77
}

is_root() {
	[ "$(id -u)" -eq 0 ]
}

# Run "$@" with stdout in $OUT and stderr in $ERR; its status in $RC.
_run() {
	local o="$T/.out" e="$T/.err"
	set +e
	"$@" >"$o" 2>"$e"
	RC=$?
	set -e
	OUT=$(cat "$o")
	ERR=$(cat "$e")
}

expect_ok() {
	_run "$@"
	if [ "$RC" -ne 0 ]; then
		echo "FAIL: ${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}:" \
		     "'$*' exited $RC: $ERR" >&2
		exit 1
	fi
}

expect_fail() {
	local lines
	_run "$@"
	lines=$(printf '%s' "$ERR" | awk 'END { print NR }')
	if [ "$RC" -ne 1 ]; then
		echo "FAIL: ${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}:" \
		     "'$*' exited $RC, not 1; stderr: $ERR" >&2
		exit 1
	fi
	if [ "$lines" -ne 1 ]; then
		echo "FAIL: ${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}:" \
		     "'$*' wrote $lines lines on stderr, not 1:" >&2
		printf '%s\n' "$ERR" >&2
		exit 1
	fi
	case $ERR in
	"pxfs: "*) ;;
	*)	echo "FAIL: ${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}:" \
		     "'$*': stderr does not start with 'pxfs: ': $ERR" >&2
		exit 1 ;;
	esac
}

expect_usage() {
	_run "$@"
	if [ "$RC" -ne 2 ]; then
		echo "FAIL: ${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}:" \
		     "'$*' exited $RC, not 2; stderr: $ERR" >&2
		exit 1
	fi
	case $ERR in
	*"usage: pxfs "*) ;;
	*)	echo "FAIL: ${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}:" \
		     "'$*': no usage line on stderr: $ERR" >&2
		exit 1 ;;
	esac
}

expect_err() {
	if ! printf '%s\n' "$ERR" | grep -Eq -- "$1"; then
		echo "FAIL: ${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}:" \
		     "stderr does not match '$1': $ERR" >&2
		exit 1
	fi
}

fsck_clean() {
	local out
	if ! out=$("$PXFS" fsck "$1" 2>&1); then
		echo "FAIL: ${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}:" \
		     "store '$1' is not clean:" >&2
		printf '%s\n' "$out" >&2
		exit 1
	fi
}

store_state() {
	local p k
	sqlite3 "$1/index.db" .dump
	(cd "$1" && find . -path ./index.db\* -prune -o -type f -print |
	 LC_ALL=C sort | while IFS= read -r f; do
		printf '%s %s\n' "$f" "$(sha256sum <"$f" | cut -c1-64)"
	 done)
	_is_redis_store "$1" || return 0
	p=$(_config "$1" 'redis\.prefix')
	_scli "$1" --scan --pattern "$p*" | LC_ALL=C sort |
	while IFS= read -r k; do
		printf '%s %s\n' "$k" \
		       "$(_scli "$1" --raw GET "$k" | sha256sum | cut -c1-64)"
	done
}

# Key of store file PATH, from "pxfs stat --json".
key_of() {
	"$PXFS" stat --json "$1" "$2" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])'
}

# Field FIELD of "pxfs stat --json STORE PATH".
stat_field() {
	"$PXFS" stat --json "$1" "$2" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$3"
}

# The blob file of KEY in file-connector store STORE.
blob_of() {
	printf '%s/objects/%s/%s\n' "$1" "$(printf %s "$2" | cut -c1-2)" "$2"
}

# ---- the connector under test ------------------------------------------------

CONNECTOR=${PXFS_TEST_CONNECTOR:-file}
case $CONNECTOR in
file) ;;
redis)	if [ -z "${PXFS_TEST_REDIS_URL:-}" ]; then
		echo "lib.sh: PXFS_TEST_CONNECTOR=redis needs" \
		     "PXFS_TEST_REDIS_URL (tests/run_it.sh sets it)" >&2
		exit 1
	fi ;;
*)	echo "lib.sh: PXFS_TEST_CONNECTOR is '$CONNECTOR', not file or redis" >&2
	exit 1 ;;
esac
export PXFS_TEST_CONNECTOR=$CONNECTOR

file_connector_only() {
	[ "$CONNECTOR" = file ] && return 0
	echo "SKIP: ${BASH_SOURCE[1]##*/}: file connector only: $*" >&2
	exit 77
}

need_redis() {
	local why=
	[ "$CONNECTOR" = redis ] ||
		why="a Redis test: runs under PXFS_TEST_CONNECTOR=redis"
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
		why="redis-server and redis-cli are not installed"
	[ -z "$why" ] && return 0
	echo "SKIP: ${BASH_SOURCE[1]##*/}: $why" >&2
	exit 77
}

# "redis://H[:P][/DB]" -> "-h H -p P [-n DB]"; the first node of a cluster
# URL, in cluster mode (-c).
_redis_cli_args() {
	local url=$1 rest hp db= c=
	case $url in
	redis+cluster://*) rest=${url#redis+cluster://}; rest=${rest%%,*}
			   c=-c ;;
	redis://*)	rest=${url#redis://} ;;
	*)		fail "cannot parse redis url '$url'" ;;
	esac
	case $rest in */*) db=${rest#*/}; rest=${rest%%/*} ;; esac
	hp=$rest
	case $hp in *:*) ;; *) hp=$hp:6379 ;; esac
	printf '%s\n' $c -h "${hp%:*}" -p "${hp##*:}"
	[ -z "$db" ] || printf '%s\n' -n "$db"
}

rcli() {
	local a
	mapfile -t a < <(_redis_cli_args "$PXFS_TEST_REDIS_URL")
	redis-cli "${a[@]}" "$@"
}

# A prefix per test script and store: run_it.sh's one server outlives us.
_prefix_base="pxfs-it-${T##*.}-"
_nstores=0
_redis_cleanup_set=

# Remove every key this script made on the test server.
_redis_cleanup() {
	rcli --scan --pattern "${_prefix_base}*" 2>/dev/null |
		while IFS= read -r k; do printf '%s\n' "$k"; done |
		xargs -r -d '\n' -n 100 redis-cli \
			$(_redis_cli_args "$PXFS_TEST_REDIS_URL") DEL \
			>/dev/null 2>&1
	return 0
}

init_opts() {
	INIT_OPTS=()
	[ "$CONNECTOR" = redis ] || return 0
	_nstores=$((_nstores + 1))
	if [ -z "$_redis_cleanup_set" ]; then
		_redis_cleanup_set=1
		at_exit _redis_cleanup
	fi
	INIT_OPTS=(--connector redis --url "$PXFS_TEST_REDIS_URL"
		   --prefix "${_prefix_base}${_nstores}:")
}

new_store() {
	local dir=$1 e
	shift
	init_opts
	if ! e=$("$PXFS" init "$dir" "${INIT_OPTS[@]}" "$@" 2>&1 >/dev/null)
	then
		echo "FAIL: ${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}:" \
		     "new_store '$dir': $e" >&2
		exit 1
	fi
}

# Value of config key @2 of store @1.
_config() {
	sed -n "s/^$2 = //p" "$1/config"
}

# redis-cli for store @1's connector, with its password if it has one.
_scli() {
	local s=$1 a pw= pwf
	shift
	mapfile -t a < <(_redis_cli_args "$(_config "$s" 'redis\.url')")
	pwf=$(_config "$s" 'redis\.password_file')
	if [ -n "${PXFS_REDIS_PASSWORD:-}" ]; then
		pw=$PXFS_REDIS_PASSWORD
	elif [ -n "$pwf" ]; then
		pw=$(cat "$pwf")
	fi
	if [ -n "$pw" ]; then
		REDISCLI_AUTH=$pw redis-cli "${a[@]}" "$@"
	else
		redis-cli "${a[@]}" "$@"
	fi
}

_is_redis_store() {
	[ "$(_config "$1" connector)" = redis ]
}

# The header of redis blob @2 of store @1 as "KIND SIZE [SEG ID]".
_rhdr() {
	local h
	h=$(_scli "$1" --raw GETRANGE "$(_config "$1" 'redis\.prefix')$2" 0 95)
	read -r -a h <<<"$h"
	[ "${h[0]:-}" = pxfs1 ] || return 1
	echo "${h[@]:1}"
}

blob_exists() {
	if _is_redis_store "$1"; then
		[ "$(_scli "$1" EXISTS "$(_config "$1" 'redis\.prefix')$2")" = 1 ]
	else
		[ -f "$(blob_of "$1" "$2")" ]
	fi
}

blob_remove() {
	local p h n i keys
	if ! _is_redis_store "$1"; then
		rm -f "$(blob_of "$1" "$2")"
		return 0
	fi
	p=$(_config "$1" 'redis\.prefix')
	keys=("$p$2")
	if h=$(_rhdr "$1" "$2"); then
		read -r -a h <<<"$h"
		if [ "${h[0]}" = s ]; then
			n=$(( (h[1] + h[2] - 1) / h[2] ))
			keys+=("$p{${h[3]}}")
			for ((i = 0; i < n; i++)); do
				keys+=("$p{${h[3]}}$i")
			done
		fi
	fi
	_scli "$1" DEL "${keys[@]}" >/dev/null
}

blob_get() {
	local p h n i
	if ! _is_redis_store "$1"; then
		cat "$(blob_of "$1" "$2")"
		return
	fi
	p=$(_config "$1" 'redis\.prefix')
	h=$(_rhdr "$1" "$2") || fail "no redis blob $2"
	read -r -a h <<<"$h"
	if [ "${h[0]}" = i ]; then
		_scli "$1" --raw GETRANGE "$p$2" 96 -1 | head -c -1
		return
	fi
	n=$(( (h[1] + h[2] - 1) / h[2] ))
	for ((i = 0; i < n; i++)); do
		_scli "$1" --raw GET "$p{${h[3]}}$i" | head -c -1
	done
}

blob_put() {
	local b tmp
	tmp=$(mktemp "$T/.blob.XXXXXX")
	cat >"$tmp"
	if ! _is_redis_store "$1"; then
		b=$(blob_of "$1" "$2")
		mkdir -p "$(dirname "$b")"
		chmod 0600 "$tmp"
		mv "$tmp" "$b"
		return 0
	fi
	# an inline blob: the 96-byte header line, then the bytes
	{ printf '%-95s\n' "pxfs1 i $(stat -c %s "$tmp")"; cat "$tmp"; } |
		_scli "$1" -x SET "$(_config "$1" 'redis\.prefix')$2" >/dev/null
	rm -f "$tmp"
}

blob_size() {
	local h
	if ! _is_redis_store "$1"; then
		stat -c %s "$(blob_of "$1" "$2")"
		return
	fi
	h=$(_rhdr "$1" "$2") || fail "no redis blob $2"
	read -r -a h <<<"$h"
	echo "${h[1]}"
}

blob_corrupt() {
	local s=$1 key=$2 off=$3 size p h k byte
	size=$(blob_size "$s" "$key")
	[ "$off" -ge 0 ] || off=$((size + off))
	[ "$off" -ge 0 ] && [ "$off" -lt "$size" ] ||
		fail "blob_corrupt: offset $3 outside blob $key ($size bytes)"
	if ! _is_redis_store "$s"; then
		python3 -c '
import sys
p, off = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0xff]))
' "$(blob_of "$s" "$key")" "$off"
		return 0
	fi
	p=$(_config "$s" 'redis\.prefix')
	read -r -a h <<<"$(_rhdr "$s" "$key")"
	if [ "${h[0]}" = i ]; then
		k=$p$key
		off=$((off + 96))
	else
		k="$p{${h[3]}}$((off / h[2]))"
		off=$((off % h[2]))
	fi
	byte=$(_scli "$s" --raw GETRANGE "$k" "$off" "$off" | od -An -tu1 |
	       awk '{ print $1; exit }')
	printf "\\$(printf %03o $((byte ^ 255)))" |
		_scli "$s" -x SETRANGE "$k" "$off" >/dev/null
}

blob_count() {
	local p
	if ! _is_redis_store "$1"; then
		find "$1/objects" -type f -regextype egrep \
		     -regex '.*/[0-9a-f]{2}/[0-9a-f]{64}' | wc -l
		return
	fi
	p=$(_config "$1" 'redis\.prefix')
	_scli "$1" --scan --pattern "$p*" |
		grep -cxE "$(printf '%s' "$p" | sed 's/[].[^$*\\/]/\\&/g')[0-9a-f]{64}" ||
		true
}

blob_leftover() {
	local id p
	if ! _is_redis_store "$1"; then
		mkdir -p "$1/objects/tmp"
		head -c 1234 /dev/urandom >"$1/objects/tmp/put-AbC123"
		echo "objects/tmp/put-AbC123"
		return
	fi
	# a segmented put that died two hours ago: its data record, still
	# "p"ending, and its one segment
	id=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	p=$(_config "$1" 'redis\.prefix')
	_scli "$1" SET "$p{$id}" "p $(( $(date +%s) - 7200 )) 1 1234" >/dev/null
	head -c 1234 /dev/urandom | _scli "$1" -x SET "$p{$id}0" >/dev/null
	echo "$p{$id}"
}

# ---- Redis servers of a test's own ----------------------------------------

free_port() {
	python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

redis_stop() {
	local pid=$1 i
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null || true
		return 0
	fi
	# it may exit between any two of these: never a failure (set -e)
	kill -CONT "$pid" 2>/dev/null || true
	kill "$pid" 2>/dev/null || true
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

redis_start() {
	local port= prev= a try i d auth=() pw=
	for a in "$@"; do
		[ "$prev" = --port ] && port=$a
		[ "$prev" = --requirepass ] && pw=$a
		prev=$a
	done
	[ -z "$pw" ] || auth=(--no-auth-warning -a "$pw")
	for try in 1 2 3 4 5; do
		a=${port:-$(free_port)}
		d=$T/redis-$a
		mkdir -p "$d"
		redis-server --bind 127.0.0.1 --port "$a" --save '' \
			--appendonly no --dir "$d" --logfile "$d/log" "$@" \
			>/dev/null 2>&1 </dev/null &
		REDIS_PID=$!
		at_exit "redis_stop $REDIS_PID"
		for i in $(seq 100); do
			if [ "$(redis-cli -p "$a" "${auth[@]}" PING 2>/dev/null)" \
			     = PONG ]; then
				REDIS_PORT=$a
				return 0
			fi
			kill -0 "$REDIS_PID" 2>/dev/null || break
			sleep 0.05
		done
		redis_stop "$REDIS_PID"
		[ -z "$port" ] || break	# a given port: no other to try
	done
	fail "redis-server did not start: $(tail -n 2 "$d/log" 2>/dev/null)"
}

# ---- a put that fails (it_mount_write) ---------------------------------------
#   put_block STORE KEY    make STORE's connector refuse to store blob KEY,
#                          failing as a broken backend does (not as a full
#                          one): file, a directory where the blob must go;
#                          redis, the server keeps serving reads but
#                          refuses every write (NOPERM, for every client of
#                          that server) until put_unblock or the exit;
#                          one block at a time
#   put_unblock STORE KEY  undo put_block

# The key permissions of Redis user "default" of store @1, as ACL LIST
# shows them ("~*" on a server nobody configured).
_put_block_keys() {
	_scli "$1" ACL LIST | awk '$1 == "user" && $2 == "default" {
		for (i = 3; i <= NF; i++)
			if ($i ~ /^(~|%)/)
				printf "%s\n", $i
	}'
}

put_block() {
	local b r keys
	if ! _is_redis_store "$1"; then
		b=$(blob_of "$1" "$2")
		mkdir -p "$b/in-the-way"
		return 0
	fi
	mapfile -t keys < <(_put_block_keys "$1")
	[ "${#keys[@]}" -gt 0 ] || fail "put_block: no key permissions to keep"
	_put_block_saved=("${keys[@]}")
	at_exit "_put_unblock '$1'"
	r=$(_scli "$1" ACL SETUSER default resetkeys '%R~*' 2>&1)
	[ "$r" = OK ] || fail "put_block: redis refused the ACL change: $r"
}

# Give Redis user "default" of store @1 its keys back; no fail: at_exit
# runs it too.
_put_unblock() {
	local r
	[ -n "${_put_block_saved+x}" ] || return 0
	r=$(_scli "$1" ACL SETUSER default resetkeys "${_put_block_saved[@]}" \
		2>&1)
	if [ "$r" != OK ]; then
		echo "put_unblock: redis refused the ACL change: $r" >&2
		return 1
	fi
	unset _put_block_saved
}

put_unblock() {
	if ! _is_redis_store "$1"; then
		rm -rf "$(blob_of "$1" "$2")"
		return 0
	fi
	_put_unblock "$1" || fail "put_unblock '$1' '$2'"
}
