# SPDX-License-Identifier: MIT
# mount_lib.sh - helpers of the mount tests (tests/it_mount_*.sh); source it
# after lib.sh.  Every mount made through these helpers is unmounted, and
# its daemon gone, when the script exits however it exits.
#
#   need_fuse                  skip (77) when /dev/fuse is missing or cannot
#                              be opened
#   mount_bg STORE MNT ARGS... pxfs mount (daemonized); fails the test if it
#                              does not mount
#   mount_fg STORE MNT LOG ARGS...
#                              pxfs mount -f in the background, stderr in
#                              LOG; returns once mounted, its pid in FG_PID
#   unmount MNT                pxfs umount MNT, which must succeed and leave
#                              nothing mounted on MNT
#   is_mounted MNT             true when a pxfs mount is on MNT
#   mstat MNT EXPR             print the Python expression EXPR over the
#                              mount's stats document d (user.pxfs.stats)
#   xattr PATH NAME            print xattr NAME of PATH
#   wait_for SECS CMD...       retry CMD every 50 ms until it succeeds;
#                              fail after SECS seconds
#   wait_gone PID              wait (10 s at most) until process PID exits
#   readers N FILE SRC         N processes read FILE at once; fails unless
#                              each got exactly SRC's bytes
#   small_tmpfs DIR SIZE       make DIR a tmpfs of SIZE (root only), for a
#                              full disk; unmounted when the script exits
# shellcheck shell=bash

need_fuse() {
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	( exec 3<>/dev/fuse ) 2>/dev/null || skip "cannot open /dev/fuse"
	command -v getfattr >/dev/null || fail "getfattr (attr) is required"
}

is_mounted() {
	awk -v m="$1" '$2 == m && $3 == "fuse.pxfs" { f = 1 } END { exit !f }' \
		/proc/mounts
}

# Unmount @1 whatever state it is in, and stop its daemon: for at_exit.
_force_unmount() {
	local m=$1 pid=${2:-}
	if is_mounted "$m"; then
		"$PXFS" umount "$m" >/dev/null 2>&1 ||
			umount -l "$m" 2>/dev/null ||
			fusermount3 -u -z "$m" 2>/dev/null
	fi
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	return 0
}

mount_bg() {
	local s=$1 m=$2
	shift 2
	at_exit "_force_unmount '$m'"
	if ! "$PXFS" mount "$s" "$m" "$@" 2>"$T/.mount.err"; then
		echo "FAIL: ${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}:" \
		     "mount: $(head -n 3 "$T/.mount.err")" >&2
		exit 1
	fi
	is_mounted "$m" || fail "mount returned before '$m' was mounted"
}

mount_fg() {
	local s=$1 m=$2 log=$3 i
	shift 3
	"$PXFS" mount -f "$s" "$m" "$@" 2>"$log" &
	FG_PID=$!
	at_exit "_force_unmount '$m' $FG_PID"
	for i in $(seq 200); do
		is_mounted "$m" && return 0
		kill -0 "$FG_PID" 2>/dev/null ||
			fail "mount -f exited: $(head -n 3 "$log")"
		sleep 0.05
	done
	fail "mount -f did not mount '$m' in 10 s"
}

unmount() {
	expect_ok "$PXFS" umount "$1"
	! is_mounted "$1" || fail "'$1' still mounted after pxfs umount"
}

mstat() {
	getfattr --absolute-names --only-values -n user.pxfs.stats "$1" |
	python3 -c 'import json, sys
d = json.load(sys.stdin)
print(eval("(" + sys.argv[1] + ")"))' "$2"
}

xattr() {
	getfattr --absolute-names --only-values -n "$2" "$1"
}

wait_for() {
	local secs=$1 i
	shift
	for i in $(seq $((secs * 20))); do
		"$@" && return 0
		sleep 0.05
	done
	echo "FAIL: ${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}:" \
	     "'$*' not true after ${secs}s" >&2
	exit 1
}

wait_gone() {
	local i
	for i in $(seq 200); do
		# a zombie is gone too: its parent may be slow to reap it
		[ -e "/proc/$1" ] || return 0
		case $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) in
		Z|X|"") return 0 ;;
		esac
		sleep 0.05
	done
	return 1
}

small_tmpfs() {
	mkdir "$1"
	mount -t tmpfs -o size="$2" tmpfs "$1" || fail "cannot mount a tmpfs"
	at_exit "umount -l '$1'"
}

readers() {
	local n=$1 f=$2 want i p pids=
	want=$(sha256sum <"$3" | cut -c1-64)
	for i in $(seq "$n"); do
		(sha256sum <"$f" | cut -c1-64 >"$T/.reader.$i") &
		pids="$pids $!"
	done
	for p in $pids; do
		wait "$p" || fail "a concurrent reader of '$f' failed"
	done
	for i in $(seq "$n"); do
		[ "$(cat "$T/.reader.$i")" = "$want" ] ||
			fail "reader $i of '$f' read wrong bytes"
	done
}
