#!/bin/bash
# SPDX-License-Identifier: MIT
# it_redis_down.sh - Redis going away in the middle of reads: a cold "pxfs
# cat" fails with exit 1 and one line naming the path and key within the
# configured command timeout, having written only verified bytes; the
# command line's metadata (ls, ls -l, stat, stats) and a mount made before
# keep answering from the index, and the mount fails cold reads with EIO;
# a new mount is refused with one clear line; once Redis is back
# (resumed, or restarted from its dump) the same commands and the same
# mount read again, byte for byte.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_redis

TIMEOUT_MS=1000
redis_start --dbfilename dump.rdb
PORT=$REDIS_PORT
RPID=$REDIS_PID
S=$T/store
D=$T/data
M=$T/mnt
mkdir -p "$D" "$M"
expect_ok "$PXFS" init "$S" --connector redis --url "redis://127.0.0.1:$PORT" \
	--prefix down: --connect-timeout 300 --command-timeout "$TIMEOUT_MS"
# 1 MiB chunks, 8 MiB Redis segments: a cold read is many round trips
head -c $((24 << 20)) /dev/urandom >"$D/big.bin"
printf 'small and cold\n' >"$D/small.txt"
printf 'second small\n' >"$D/small2.txt"
expect_ok "$PXFS" put "$S" "$D/big.bin" "$D/small.txt" "$D/small2.txt"
key=$(key_of "$S" big.bin)
redis-cli -p "$PORT" SAVE >/dev/null
have_fuse=
if [ -c /dev/fuse ] && ( exec 3<>/dev/fuse ) 2>/dev/null &&
   command -v getfattr >/dev/null; then
	have_fuse=1
	mount_bg "$S" "$M" --cache-dir "$T/cache"
fi

cat >"$T/reader.py" <<'PY'
import os, sys, time
out, ready, go = sys.argv[1:4]
got = 0
with open(out, "wb") as f:
    while got < (2 << 20):
        b = sys.stdin.buffer.read1(1 << 16)
        if not b:
            break
        f.write(b)
        got += len(b)
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.01)
    while True:
        b = sys.stdin.buffer.read1(1 << 16)
        if not b:
            break
        f.write(b)
PY

# cat_stalled SIGNAL: a cold "pxfs cat big.bin" into a reader that takes
# 2 MiB and then waits; Redis gets SIGNAL while cat is blocked mid-object,
# then the reader drains.  Sets CAT_RC, CAT_MS (from the signal to cat's
# exit) and leaves the bytes in $T/cat.out and stderr in $T/cat.err.
cat_stalled() {
	local sig=$1 catpid rdpid t0
	rm -f "$T/pipe" "$T/ready" "$T/go"
	mkfifo "$T/pipe"
	"$PXFS" cat "$S" big.bin >"$T/pipe" 2>"$T/cat.err" &
	catpid=$!
	python3 "$T/reader.py" "$T/cat.out" "$T/ready" "$T/go" <"$T/pipe" &
	rdpid=$!
	wait_for 10 test -e "$T/ready"
	kill "-$sig" "$RPID"
	t0=$(date +%s%N)
	touch "$T/go"
	set +e
	wait "$catpid"
	CAT_RC=$?
	set -e
	CAT_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
	wait "$rdpid"
}

# A failure @1 ms after Redis went away must come within the command
# timeout: one try and one retry on a fresh connection, each bounded, and
# a batch of chunk fetches stops at its first failure (store/store.c
# export()), so no more than three timeouts and a second of slack.
bounded() {
	local ms=$1 what=$2
	[ "$ms" -le $((3 * TIMEOUT_MS + 1000)) ] ||
		fail "$what took $ms ms with a $TIMEOUT_MS ms command timeout"
}

# The command line's metadata is the index's: with Redis @1 (stopped or
# dead) it answers as fast as ever, since opening a store does not talk
# to its connector.  Each command must finish before a command timeout
# could have passed (a stopped Redis accepts connections, then never
# answers): far more than an index lookup needs, even under ASan.
quick() {
	local t0 ms
	t0=$(date +%s%N)
	expect_ok timeout 10 "$PXFS" "$@"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$ms" -lt "$TIMEOUT_MS" ] ||
		fail "'pxfs $*' took $ms ms: did it wait for Redis?"
}

cli_metadata() {
	local what=$1
	quick ls "$S"
	grep -qx 'big.bin' <<<"$OUT" || fail "ls, Redis $what: $OUT"
	quick ls -l "$S"
	grep -q " $((24 << 20)) .* big.bin\$" <<<"$OUT" ||
		fail "ls -l, Redis $what: $OUT"
	quick stat "$S" big.bin
	grep -q "^key: *$key\$" <<<"$OUT" || fail "stat, Redis $what: $OUT"
	quick stats "$S"
	grep -q '^files: *3$' <<<"$OUT" || fail "stats, Redis $what: $OUT"
}

# A mount while Redis is @1 is refused, within the timeouts, with one
# clear line (every read would fail), and nothing is mounted.
mkdir -p "$T/mnt2"
at_exit "_force_unmount '$T/mnt2'"
mount_refused() {
	local what=$1 pattern=$2 t0
	t0=$(date +%s%N)
	expect_fail timeout 10 "$PXFS" mount "$S" "$T/mnt2" \
		--cache-dir "$T/cache2"
	bounded $(( ($(date +%s%N) - t0) / 1000000 )) \
		"a mount with Redis $what"
	expect_err "^pxfs: mount: $pattern"
	! is_mounted "$T/mnt2" || fail "mounted with Redis $what"
}

# what cat wrote is a verified prefix of the object, and not all of it
check_failed_cat() {
	local n
	[ "$CAT_RC" = 1 ] || fail "cat exited $CAT_RC: $(cat "$T/cat.err")"
	[ "$(wc -l <"$T/cat.err")" = 1 ] ||
		fail "cat wrote more than one line: $(cat "$T/cat.err")"
	grep -q "^pxfs: cat: .*'/big.bin'.*$key" "$T/cat.err" ||
		fail "cat error does not name path and key: $(cat "$T/cat.err")"
	n=$(stat -c %s "$T/cat.out")
	[ "$n" -lt $((24 << 20)) ] || fail "cat wrote the whole object"
	cmp -n "$n" "$T/cat.out" "$D/big.bin" || fail "cat wrote wrong bytes"
}

# ---- a silent server (stopped): the command timeout bounds the wait -----
cat_stalled STOP
check_failed_cat
echo "note: cat failed $CAT_MS ms after Redis stopped answering" \
     "(command timeout $TIMEOUT_MS ms): $(cat "$T/cat.err")" >&2
bounded "$CAT_MS" "a cold cat with Redis stopped"

if [ -n "$have_fuse" ]; then
	# the mount's metadata is the index: no Redis needed
	timeout 5 ls -l "$M" >"$T/ls.out" || fail "ls -l of the mount"
	grep -q 'big.bin$' "$T/ls.out" || fail "ls -l: $(cat "$T/ls.out")"
	[ "$(timeout 5 stat -c %s "$M/big.bin")" = $((24 << 20)) ] ||
		fail "stat through the mount"
	[ "$(xattr "$M/big.bin" user.pxfs.key)" = "$key" ] || fail "xattr"
	# a cold read fails with EIO, bounded by the timeout
	t0=$(date +%s%N)
	timeout 20 cat "$M/small.txt" >/dev/null 2>"$T/mcat.err" &&
		fail "a cold read through the mount succeeded with Redis stopped"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	grep -q 'Input/output error' "$T/mcat.err" ||
		fail "mount read error: $(cat "$T/mcat.err")"
	bounded "$ms" "a cold mount read with Redis stopped"
	echo "note: a cold mount read failed after $ms ms" >&2
fi
cli_metadata stopped
mount_refused stopped "redis at '127.0.0.1:$PORT' did not answer within"

# Redis answers again: the same commands and the same mount just work
kill -CONT "$RPID"
"$PXFS" cat "$S" big.bin | cmp - "$D/big.bin" || fail "cat after resuming"
if [ -n "$have_fuse" ]; then
	cmp "$M/small.txt" "$D/small.txt" || fail "mount read after resuming"
fi

# ---- a dead server: refused at once; a restart from its dump heals ------
cat_stalled KILL
wait "$RPID" 2>/dev/null || true
check_failed_cat
grep -q 'redis' "$T/cat.err" || fail "cat error: $(cat "$T/cat.err")"
echo "note: cat failed $CAT_MS ms after Redis died: $(cat "$T/cat.err")" >&2
bounded "$CAT_MS" "a cold cat with Redis dead"
expect_fail "$PXFS" cat "$S" small2.txt
expect_err "^pxfs: cat: cannot read '/small2.txt' .*cannot connect to redis at '127.0.0.1:$PORT'"
cli_metadata dead
mount_refused dead "cannot connect to redis at '127.0.0.1:$PORT'"
if [ -n "$have_fuse" ]; then
	timeout 5 ls -l "$M" >/dev/null || fail "ls -l of the mount, Redis dead"
	timeout 20 cat "$M/small2.txt" >/dev/null 2>&1 &&
		fail "a cold mount read succeeded with Redis dead"
fi
redis_start --port "$PORT" --dbfilename dump.rdb
RPID=$REDIS_PID
"$PXFS" cat "$S" big.bin | cmp - "$D/big.bin" || fail "cat after a restart"
expect_ok "$PXFS" cat "$S" small2.txt
if [ -n "$have_fuse" ]; then
	cmp "$M/small2.txt" "$D/small2.txt" ||
		fail "mount read after a restart, without remounting"
	cmp "$M/big.bin" "$D/big.bin" || fail "mount big read after a restart"
	unmount "$M"
	# and a new mount is no longer refused
	mount_bg "$S" "$T/mnt2" --cache-dir "$T/cache2"
	cmp "$T/mnt2/small.txt" "$D/small.txt" || fail "read of a new mount"
	unmount "$T/mnt2"
fi
fsck_clean "$S"
exit 0
