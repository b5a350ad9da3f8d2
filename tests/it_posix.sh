#!/bin/bash
# SPDX-License-Identifier: MIT
# it_posix.sh - POSIX conformance on a real mount: the C suite
# tests/posix/posix.c (results and errno of every syscall the mount
# supports, as root and as uid 65534 under default_permissions) on a
# read-write mount and on a -o ro mount, then the fsx-style random tester
# tests/posix/fsx.c, which runs thousands of mixed operations on the mount
# and on a tmpfs directory and compares every result and every byte.
#
#   FSX_OPS=3000 (operations)  FSX_SEED=1
# The binaries are built by the Makefile next to $PXFS (build/tests/posix).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse

B=$(dirname "$PXFS")/tests/posix
[ -x "$B/posix" ] && [ -x "$B/fsx" ] ||
	fail "$B/posix and $B/fsx are not built (make all)"
OPS=${FSX_OPS:-3000}
SEED=${FSX_SEED:-1}
U=65534

S=$T/store
M=$T/mnt
X=$T/fx
mkdir -p "$M" "$X/dir" "$T/outside"
new_store "$S"

# ---- the fixture: see posix.c --------------------------------------------------
printf 'hello, world\n' >"$X/hello"
: >"$X/empty"
printf 'inner\n' >"$X/dir/inner"
ln -s hello "$X/link"
ln -s /etc/passwd "$X/abs"
mkdir -p "$X/perm/closed" "$X/perm/rodir" "$X/perm/sticky" "$X/perm/userdir"
printf 'secret\n' >"$X/perm/secret"
printf 'public\n' >"$X/perm/public"
printf 'f\n' >"$X/perm/closed/f"
printf 'f\n' >"$X/perm/rodir/f"
printf 'rootf\n' >"$X/perm/sticky/rootf"
printf 'mine\n' >"$X/perm/userfile"
chmod 0644 "$X/hello" "$X/empty" "$X/dir/inner" "$X/perm/public" \
	"$X/perm/closed/f" "$X/perm/rodir/f" "$X/perm/userfile"
chmod 0755 "$X" "$X/dir" "$X/perm" "$X/perm/rodir" "$X/perm/userdir"
chmod 0600 "$X/perm/secret"
chmod 0700 "$X/perm/closed"
chmod 1777 "$X/perm/sticky"
chmod 0666 "$X/perm/sticky/rootf"
if is_root; then
	chown -R 0:0 "$X"
	chown $U:$U "$X/perm/userdir" "$X/perm/userfile"
fi
expect_ok "$PXFS" put "$S" "$X"

# the other user must reach the mount: the path to it, and the binary
chmod 0755 "$T"
user_ok=1
d=$T
while [ "$d" != / ]; do
	d=$(dirname "$d")
	[ -x "$d" ] || user_ok=0
done

uopt=(--user $U)
[ $user_ok = 1 ] || uopt=(--no-user)
results=()
run_posix() {
	local log=$T/posix.log rc
	set +e
	"$B/posix" "$@" >"$log" 2>&1
	rc=$?
	set -e
	grep -v '^ok ' "$log" | grep -v '^skip ' || true
	[ $rc -eq 0 ] || fail "posix $*: failed cases above"
	# a skipped case is a missing one (only a run without the other
	# user may skip, and only that section)
	if [ ${#uopt[@]} = 2 ]; then
		tail -n 1 "$log" | grep -q ', 0 skipped' ||
			fail "posix $*: $(tail -n 1 "$log")"
	fi
	results+=("$(tail -n 1 "$log")")
}

# ---- read-write -----------------------------------------------------------------
mount_bg "$S" "$M" --cache-dir "$T/cache" --allow-other
run_posix --fixture fx --outside "$T/outside" "${uopt[@]}" "$M"
unmount "$M"
fsck_clean "$S"
# the write cases' work directory: the read-only pass expects the name free
expect_ok "$PXFS" rm -r "$S" posix-w

# ---- read-only ------------------------------------------------------------------
mount_bg "$S" "$M" --cache-dir "$T/cache" --allow-other -o ro
run_posix --ro --fixture fx --outside "$T/outside" "${uopt[@]}" "$M"
unmount "$M"

# ---- fsx against tmpfs ------------------------------------------------------------
R=
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ]
then
	R=$(mktemp -d /dev/shm/pxfs-fsx.XXXXXX)
	at_exit "rm -rf '$R'"
else
	R=$T/ref
	mkdir -p "$R"
	if is_root && mount -t tmpfs -o size=256m tmpfs "$R" 2>/dev/null; then
		at_exit "umount '$R'"
	fi
fi
mount_bg "$S" "$M" --cache-dir "$T/cache"
mkdir "$M/fsx" 2>"$T/mkdir.err" ||
	fail "mkdir through the mount: $(cat "$T/mkdir.err")"
set +e
"$B/fsx" -s "$SEED" -n "$OPS" "$M/fsx" "$R" >"$T/fsx.log" 2>&1
rc=$?
set -e
[ $rc -eq 0 ] || { tail -n 30 "$T/fsx.log" >&2; fail "fsx failed"; }
results+=("$(tail -n 1 "$T/fsx.log")")
unmount "$M"
fsck_clean "$S"
printf '%s\n' "${results[@]}"
# one line of figures (the last: run_it.sh's IT_VERBOSE shows it)
echo "it_posix: read-write mount $(sed -n 's/^posix: \([0-9/]*\) .*/\1/p' \
	<<<"${results[0]}"), read-only mount $(sed -n \
	's/^posix: \([0-9/]*\) .*/\1/p' <<<"${results[1]}") cases passed;" \
	"$(sed 's/ (seed \([0-9]*\)):.*all equal/ (seed \1) all equal/' \
	<<<"${results[2]}")"
