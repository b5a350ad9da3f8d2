#!/bin/bash
# SPDX-License-Identifier: MIT
# it_mount_future.sh - futures through mounts: a reader that starts first,
# in another process with its own mount and cache directory, blocks in
# open while user.pxfs.state reads "pending" and user.pxfs.resolved "0",
# and gets the bytes once `pxfs set` -- or a write through a second mount
# -- fulfils the future; a future nobody sets times out with ETIMEDOUT and
# a log line.  A file being written through one mount is such a
# placeholder for the others until its close.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse

S=$T/store
W=$T/writer
R=$T/reader
D=$T/data
mkdir -p "$W" "$R" "$D"
new_store "$S"
head -c 400000 /dev/urandom >"$D/payload"
head -c 250000 /dev/urandom >"$D/payload2"
expect_ok "$PXFS" future "$S" f1 --timeout 20 --poll 50
expect_ok "$PXFS" future "$S" f2 --timeout 20 --poll 50
expect_ok "$PXFS" future "$S" late --timeout 1 --poll 50
mount_fg "$S" "$W" "$T/log.w" --cache-dir "$T/cache.w"
FG_W=$FG_PID
mount_fg "$S" "$R" "$T/log.r" --cache-dir "$T/cache.r"
FG_R=$FG_PID

[ "$(xattr "$R/f1" user.pxfs.state)" = pending ] || fail "state not pending"
[ "$(xattr "$R/f1" user.pxfs.resolved)" = 0 ] || fail "resolved not 0"
[ "$(stat -c %s "$R/f1")" = 0 ] || fail "size of a pending future"

# ---- the reader first; pxfs set fulfils --------------------------------
cat "$R/f1" >"$T/got1" 2>"$T/err1" &
reader=$!
sleep 1
kill -0 $reader 2>/dev/null || fail "the reader did not wait: $(cat "$T/err1")"
[ "$(xattr "$W/f1" user.pxfs.state)" = pending ] || fail "pending meanwhile"
[ "$(xattr "$W/f1" user.pxfs.resolved)" = 0 ] || fail "resolved meanwhile"
expect_ok "$PXFS" set "$S" f1 "$D/payload"
wait $reader || fail "reader failed: $(cat "$T/err1")"
cmp "$T/got1" "$D/payload" || fail "reader got other bytes"
wait_for 1 test "$(xattr "$R/f1" user.pxfs.state)" = ready
[ "$(xattr "$R/f1" user.pxfs.resolved)" = 1 ] || fail "resolved after read"

# ---- the reader first; a write through the other mount fulfils ----------
cat "$R/f2" >"$T/got2" 2>"$T/err2" &
reader=$!
sleep 1
kill -0 $reader 2>/dev/null || fail "the reader did not wait: $(cat "$T/err2")"
cp "$D/payload2" "$W/f2"
wait $reader || fail "reader failed: $(cat "$T/err2")"
cmp "$T/got2" "$D/payload2" || fail "reader got other bytes (write)"
[ "$(stat_field "$S" /f2 state)" = ready ] || fail "f2 not ready"
expect_fail "$PXFS" set "$S" f2 "$D/payload"
expect_err "not a pending future"

# ---- nobody sets it: ETIMEDOUT and a log line -----------------------------
_run cat "$R/late"
[ "$RC" -ne 0 ] && printf '%s' "$ERR" | grep -q 'timed out' ||
	fail "late: $RC $ERR"
grep -q "future '/late' .*was not set within 1000 ms" "$T/log.r" ||
	fail "no log line: $(cat "$T/log.r")"
[ "$(stat_field "$S" /late state)" = pending ] || fail "timeout changed it"

# ---- a file being written here is a placeholder for the other mount ------
# (the reader is no child of the writer: a child closing an inherited copy
# of the descriptor is a close, which stores the file)
( for i in $(seq 200); do [ -e "$R/inflight" ] && break; sleep 0.05; done
  cat "$R/inflight" >"$T/got3" ) 2>"$T/err3" &
reader=$!
python3 - "$W/inflight" <<'EOF' || fail "writer"
import sys, time
w = open(sys.argv[1], "wb")
w.write(b"part one, ")
w.flush()
time.sleep(1.5)		# the reader has opened it by now, and waits
w.write(b"part two")
w.close()
EOF
wait $reader || fail "reader failed: $(cat "$T/err3")"
[ "$(cat "$T/got3")" = "part one, part two" ] ||
	fail "the reader did not wait for the close: '$(cat "$T/got3")'"
fsck_clean "$S"
unmount "$R"
unmount "$W"
wait "$FG_R" || fail "reader mount exited with $?"
wait "$FG_W" || fail "writer mount exited with $?"
