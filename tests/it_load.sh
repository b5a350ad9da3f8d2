#!/bin/bash
# SPDX-License-Identifier: MIT
# it_load.sh - load: 64 reader threads over a read set of many small files
# (every byte checked) and 8 writers, for a while, against one mount;
# writers write, read back, rename and unlink through the mount.  It must
# end with no errors (no EIO), no stall (no operation may take 20 s: a
# deadlock), the daemon's RSS bounded, its descriptors back to where they
# were, no "database is locked" anywhere, and every unreferenced blob
# evicted (fsck clean before any gc).  Prints ops, errors, RSS start/end and fds start/end.
#
#   LOAD_SECONDS=5 LOAD_FILES=3000 (make check)
#   make load: LOAD_SECONDS=60 LOAD_FILES=10000
#   LOAD_READERS=64 LOAD_WRITERS=8 LOAD_RSS_MAX_MB=512
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse

L=$(dirname "$PXFS")/tests/posix/load
[ -x "$L" ] || fail "$L is not built (make all)"
SECS=${LOAD_SECONDS:-5}
NFILES=${LOAD_FILES:-3000}
READERS=${LOAD_READERS:-64}
WRITERS=${LOAD_WRITERS:-8}
RSS_MAX=${LOAD_RSS_MAX_MB:-512}

S=$T/store
M=$T/mnt
mkdir -p "$M"
new_store "$S"
"$L" -g "$NFILES" "$T/data" || fail "cannot make the read set"
expect_ok "$PXFS" put "$S" "$T/data"
rm -rf "$T/data"

mount_fg "$S" "$M" "$T/daemon.log" --cache-dir "$T/cache"
pid=$FG_PID

rss() {
	awk '/^VmRSS:/ { print int($2 / 1024) }' "/proc/$pid/status"
}
nfds() {
	find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}
# Descriptors other than pipes and sockets, which are pools: libfuse
# gives each worker thread a pipe pair for splice, kept while the thread
# idles (up to FS_MAX_THREADS), so pipes are counted against the threads;
# the Redis connector keeps a few idle connections per store handle.
nfiles() {
	find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' \
		2>/dev/null | grep -vc '^pipe:\|^socket:' || true
}
nsockets() {
	find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' \
		2>/dev/null | grep -c '^socket:' || true
}
npipes() {
	find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' \
		2>/dev/null | grep -c '^pipe:' || true
}
nthreads() {
	awk '/^Threads:/ { print $2 }' "/proc/$pid/status"
}

# what the daemon holds when idle, after one look at the read set
ls "$M/data/d00" >/dev/null
fds0=$(nfds)
files0=$(nfiles)
rss0=$(rss)

how="through the mount"
wargs=("$M/w")
mkdir "$M/w" 2>"$T/mkdir.err" ||
	fail "mkdir through the mount: $(cat "$T/mkdir.err")"

set +e
"$L" -r "$READERS" -w "$WRITERS" -t "$SECS" -n "$NFILES" "$M/data" \
	"${wargs[@]}" >"$T/load.out" 2>&1
rc=$?
set -e
grep -v '^load: [0-9]*s ' "$T/load.out" || true
[ $rc -ne 3 ] || fail "the load stalled: a deadlock?"
[ $rc -eq 0 ] || fail "load: errors (exit $rc)"

# every release reaches the daemon a little after close()
for _ in $(seq 100); do
	[ "$(nfiles)" -le "$files0" ] && break
	sleep 0.1
done
fds1=$(nfds)
files1=$(nfiles)
pipes1=$(npipes)
sockets1=$(nsockets)
threads1=$(nthreads)
rss1=$(rss)
kill -0 "$pid" || fail "the daemon died"
[ "$files1" -le "$files0" ] ||
	fail "the daemon holds $files1 descriptors (not pipes), $files0" \
	     "before the load: $(find "/proc/$pid/fd" -mindepth 1 \
		-printf '%l\n' | grep -v '^pipe:\|^socket:' | sort | uniq -c |
		sort -rn | head -n 5)"
[ "$pipes1" -le $((2 * threads1)) ] ||
	fail "the daemon holds $pipes1 pipes for $threads1 threads"
# two store handles (reads, writes), a pool of 4 idle connections each
[ "$sockets1" -le 16 ] || fail "the daemon holds $sockets1 sockets"
[ "$rss1" -le "$RSS_MAX" ] ||
	fail "the daemon's RSS is $rss1 MiB (at most $RSS_MAX)"
if grep -qi "database is locked\|busy" "$T/daemon.log" 2>/dev/null; then
	fail "locked: $(grep -hi "database is locked\|busy" "$T/daemon.log" |
		head -n 3)"
fi
grep -i "error" "$T/daemon.log" && fail "the daemon logged errors"

# the mount still answers, the store is whole
timeout 10 ls "$M/data/d01" >/dev/null || fail "the mount does not answer"
unmount "$M"
fsck_clean "$S"

ops=$(sed -n 's/.*: \([0-9]*\) ops.*/\1/p' "$T/load.out")
errs=$(sed -n 's/.*, \([0-9]*\) errors$/\1/p' "$T/load.out")
echo "it_load: $SECS s, $READERS readers over $NFILES files, $WRITERS" \
     "writers $how: ops $ops, errors $errs," \
     "RSS start/end $rss0/$rss1 MiB, fds start/end $fds0/$fds1" \
     "($files0/$files1 not counting the $pipes1 splice pipes of" \
     "$threads1 threads and $sockets1 pooled connections)"
