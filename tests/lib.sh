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
#   store_state STORE      print the index (SQL dump) and the blob list: two
#                          calls that print the same mean an unchanged store
#   at_exit CMD            run CMD (a string) at exit, before $T goes
#   is_root                true when running as root
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
	sqlite3 "$1/index.db" .dump
	(cd "$1" && find . -path ./index.db\* -prune -o -type f -print |
	 LC_ALL=C sort | while IFS= read -r f; do
		printf '%s %s\n' "$f" "$(sha256sum <"$f" | cut -c1-64)"
	 done)
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
