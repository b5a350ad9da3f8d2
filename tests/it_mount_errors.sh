#!/bin/bash
# SPDX-License-Identifier: MIT
# it_mount_errors.sh - every error case of the mount: bad store or
# mountpoint (one clear line, nothing mounted); a missing blob and a
# flipped byte (EIO, a log line naming path and key, the error counted,
# never wrong bytes, every other file still served); a full cache
# directory (EIO/ENOSPC, nothing partial left, success once space is
# freed); a daemon killed (pxfs umount cleans up) or sent SIGTERM (it
# unmounts itself, and a file left open for writing is not stored: its
# bytes stay staged, named in the log); -o ro.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse

S=$T/store
D=$T/data
M=$T/mnt
mkdir -p "$D" "$M"
printf 'good\n' >"$D/good"
printf 'gone\n' >"$D/gone"
head -c 300000 /dev/urandom >"$D/flipped"
head -c 2000000 /dev/urandom >"$D/big"
new_store "$S" --chunk-size 64K
expect_ok "$PXFS" put "$S" "$D"/*

nothing_mounted() {
	! is_mounted "$M" || fail "something got mounted on '$M'"
}

# ---- before mounting: one clear line, exit 1, nothing mounted -----------
expect_fail "$PXFS" mount "$T/nostore" "$M"
expect_err "no such store"
nothing_mounted
mkdir "$T/notastore"
printf 'x\n' >"$T/notastore/junk"
expect_fail "$PXFS" mount "$T/notastore" "$M"
expect_err "not a pxfs store"
expect_fail "$PXFS" mount "$D/good" "$M"
expect_err "not a pxfs store"
nothing_mounted
expect_fail "$PXFS" mount "$S" "$T/nomnt"
expect_err "mountpoint '.*nomnt' does not exist"
expect_fail "$PXFS" mount "$S" "$D/good"
expect_err "not a directory"
expect_fail "$PXFS" mount "$S" "$D"
expect_err "not empty"
expect_fail "$PXFS" mount "$S" "$M" --cache-dir "$D/good/sub"
expect_err "^pxfs: mount: cannot create cache directory '$D/good/sub': Not a directory$"
expect_fail "$PXFS" mount "$S" "$M" --cache-dir "$D/good"
expect_err "^pxfs: mount: cannot open cache directory '$D/good': Not a directory$"
nothing_mounted
expect_usage "$PXFS" mount "$S"
expect_usage "$PXFS" mount "$S" "$M" extra
expect_usage "$PXFS" mount "$S" "$M" -o frob
expect_usage "$PXFS" mount "$S" "$M" --cache-size lots
expect_usage "$PXFS" mount "$S" "$M" --bogus
expect_fail "$PXFS" umount "$M"
expect_err "not mounted"
expect_fail "$PXFS" umount "$T/nomnt"
expect_usage "$PXFS" umount
nothing_mounted

# ---- a missing blob and a flipped byte: EIO, logged, counted --------------
# Reads are served chunk by chunk: the chunks before a corrupt one are
# good and are served; the corrupt one (and so every read that covers
# it) fails with EIO, and no byte of it is ever served.
kgone=$(key_of "$S" /gone)
kflip=$(key_of "$S" /flipped)
blob_get "$S" "$kgone" >"$T/saved-blob"
blob_remove "$S" "$kgone"
! blob_exists "$S" "$kgone" || fail "the blob of /gone is still there"
# the middle byte: inside frame 2 (of 5), not the seek table
blob_corrupt "$S" "$kflip" $(($(blob_size "$S" "$kflip") / 2))
mount_fg "$S" "$M" "$T/log" --cache-dir "$T/cache"
_run cat "$M/gone"
[ "$RC" -ne 0 ] && [ -z "$OUT" ] || fail "read a missing blob: '$OUT'"
expect_err "Input/output error"
grep -q "'/gone'.*$kgone\|$kgone.*'/gone'" "$T/log" ||
	fail "no log line naming /gone and its key: $(cat "$T/log")"
_run sh -c "cat '$M/flipped' >'$T/flipped.out'"
[ "$RC" -ne 0 ] || fail "read a corrupt blob to its end"
expect_err "Input/output error"
[ "$(stat -c %s "$T/flipped.out")" -lt $((2 * 65536 + 1)) ] ||
	fail "served bytes of the corrupt chunk"
cmp -s -n "$(stat -c %s "$T/flipped.out")" "$T/flipped.out" "$D/flipped" ||
	fail "served wrong bytes before the corrupt chunk"
grep -q "'/flipped'.*$kflip\|$kflip.*'/flipped'" "$T/log" ||
	fail "no log line naming /flipped and its key"
_run dd if="$M/flipped" bs=1000 skip=140 count=1 status=none
[ "$RC" -ne 0 ] && [ -z "$OUT" ] || fail "dd served a corrupt chunk"
# the good chunks are served, byte for byte
[ "$(dd if="$M/flipped" bs=1 skip=5 count=10 status=none | od -An -tx1)" = \
  "$(dd if="$D/flipped" bs=1 skip=5 count=10 status=none | od -An -tx1)" ] ||
	fail "a good chunk of the flipped blob"
[ "$(xattr "$M/flipped" user.pxfs.resolved)" = 0 ] || fail "resolved=1"
[ "$(mstat "$M" 'd["errors"] >= 3 and d["connector"]["corrupt"] >= 1')" = \
  True ] || fail "errors not counted: $(mstat "$M" 'd')"
# the daemon keeps serving everything else, metadata included
[ "$(cat "$M/good")" = good ] || fail "good after errors"
cmp "$M/big" "$D/big" || fail "big after errors"
[ "$(stat -c %s "$M/gone")" = 5 ] || fail "metadata of a missing blob"
[ -z "$(find "$T/cache" -name '.tmp.*')" ] || fail "partial files left"
[ ! -e "$T/cache/$kgone" ] && [ ! -e "$T/cache/$kflip" ] ||
	fail "a bad object is complete in the cache"
# once the blob is back, the same mount serves it
blob_put "$S" "$kgone" <"$T/saved-blob"
[ "$(cat "$M/gone")" = gone ] || fail "gone after its blob came back"
# removed by another process while open here, before a byte was read
# (no open handle in this mount keeps it: EIO, as NFS's ESTALE, with a
# line naming the path and key)
head -c 2000000 /dev/urandom >"$T/late"
expect_ok "$PXFS" put "$S" "$T/late"
klate=$(key_of "$S" /late)
wait_for 5 test -e "$M/late"
python3 - "$M/late" "$PXFS" "$S" <<'EOF' || fail "read after rm elsewhere"
import errno, os, subprocess, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
subprocess.run([sys.argv[2], "rm", sys.argv[3], "/late"], check=True)
try:
    os.pread(fd, 4096, 1500000)
except OSError as e:
    assert e.errno == errno.EIO, e
else:
    raise AssertionError("read a removed object")
EOF
grep -q "'/late'.*$klate.*removed\|$klate.*'/late'.*removed" "$T/log" ||
	fail "no log line naming the removed /late: $(tail -n 3 "$T/log")"
unmount "$M"
wait "$FG_PID" || fail "mount -f exited with $?"
grep -q "serving" "$T/log" || fail "no log: $(cat "$T/log")"

# ---- a daemon that died: pxfs umount cleans up ---------------------------
mount_bg "$S" "$M" --cache-dir "$T/cache"
pid=$(mstat "$M" 'd["pid"]')
kill -9 "$pid"
wait_gone "$pid" || fail "daemon $pid did not die"
# the leader can be a zombie while its other threads still exit, the
# /dev/fuse descriptor still open: until it closes, a request may get
# ECONNABORTED rather than ENOTCONN
dead() {
	_run ls "$M"
	printf '%s' "$ERR" | grep -q "Transport endpoint is not connected"
}
wait_for 10 dead
expect_fail "$PXFS" mount "$S" "$M" --cache-dir "$T/cache"
expect_err "daemon died"
expect_ok "$PXFS" umount "$M"
nothing_mounted
[ -z "$(ls -A "$M")" ] || fail "mountpoint not empty after cleanup"

# ---- SIGTERM: the daemon unmounts and exits ------------------------------
mount_bg "$S" "$M" --cache-dir "$T/cache"
pid=$(mstat "$M" 'd["pid"]')
kill -TERM "$pid"
wait_gone "$pid" || fail "daemon $pid still running after SIGTERM"
nothing_mounted
# (a background job ignores SIGINT: libfuse leaves an ignored signal be)
mount_fg "$S" "$M" "$T/log2" --cache-dir "$T/cache"
kill -TERM "$FG_PID"
wait "$FG_PID" || fail "mount -f exited $? after SIGTERM"
nothing_mounted

# ---- SIGTERM while files are open for writing ----------------------------
# SIGTERM the daemon of mount_fg while process @1 holds files open in it.
term_with_writer() {
	kill -TERM "$FG_PID"
	wait "$FG_PID" || fail "mount -f exited $? after SIGTERM with files open"
	kill "$1"
	wait "$1" 2>/dev/null || :
	nothing_mounted
}

# A new file whose writer never closed it is not a stored file: its
# placeholder goes (no reader elsewhere waits for it), and the bytes
# written stay in the staging directory, named in the log.  A stored file
# being overwritten keeps its stored content, one that `pxfs set`
# fulfilled meanwhile keeps what set put, and one `pxfs rm` removed stays
# removed.
printf 'old\n' >"$D/kept"
expect_ok "$PXFS" put "$S" "$D/kept"
mount_fg "$S" "$M" "$T/log3" --cache-dir "$T/cache"
# (one process holds them open, and a file and a directory open for
# reading: a shell's `>&7` would close a dup, and a close stores)
python3 -c 'import os, sys, time
for name, data in (("half", b"half written\n"), ("kept", b"new\n"),
                   ("set", b"mine\n"), ("removed", b"dropped\n")):
    fd = os.open(sys.argv[1] + "/" + name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.write(fd, data)
rfd = os.open(sys.argv[1] + "/good", os.O_RDONLY)
os.read(rfd, 2)
dfd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
open(sys.argv[2], "w").close()
time.sleep(60)' "$M" "$T/writing" &
wpid=$!
at_exit "kill $wpid 2>/dev/null"
wait_for 10 test -e "$T/writing"
# fulfilled by someone else while open here: it stays as they set it
printf 'theirs\n' >"$D/theirs"
expect_ok "$PXFS" set "$S" set "$D/theirs"
# removed by someone else while open here: it stays removed
expect_ok "$PXFS" rm "$S" removed
term_with_writer "$wpid"
_run "$PXFS" stat "$S" half
[ "$RC" = 1 ] || fail "the placeholder of 'half' is left: $OUT"
[ "$("$PXFS" cat "$S" kept)" = old ] || fail "'kept' lost its content"
[ "$("$PXFS" cat "$S" set)" = theirs ] || fail "'set' lost what pxfs set put"
_run "$PXFS" stat "$S" removed
[ "$RC" = 1 ] || fail "'removed' came back: $OUT"
staged=$(sed -n "s|.*'/half' was open for writing when the mount stopped.* stay in '\(.*\)'.*|\1|p" "$T/log3")
[ -n "$staged" ] || fail "no log line names where 'half' is: $(cat "$T/log3")"
[ "$(cat "$staged")" = "half written" ] || fail "staged bytes of 'half'"
grep -q "'/kept'.* not stored; they stay in '" "$T/log3" ||
	fail "no log line names where 'kept' is: $(cat "$T/log3")"
fsck_clean "$S"
rm -rf "$T/cache/staging"

# ---- a mountpoint already mounted: one clear line, nothing changes -------
mount_bg "$S" "$M" --cache-dir "$T/cache"
expect_fail "$PXFS" mount "$S" "$M" --cache-dir "$T/cache-other"
expect_err "mountpoint '.*mnt' is already a pxfs mount"
[ "$(awk -v m="$M" '$2 == m' /proc/mounts | wc -l)" = 1 ] ||
	fail "a second mount on '$M'"
[ "$(cat "$M/good")" = good ] || fail "the first mount after the refusal"
unmount "$M"

# ---- -o ro ---------------------------------------------------------------
mount_bg "$S" "$M" -o ro --cache-dir "$T/cache"
awk -v m="$M" '$2 == m { print $4 }' /proc/mounts | grep -q '^ro,' ||
	fail "-o ro did not mount read-only"
[ "$(cat "$M/good")" = good ] || fail "read with -o ro"
unmount "$M"

# ---- a full cache directory: EIO/ENOSPC, nothing left, then success -----
# The chunks that fit are served; the first that does not fails the read,
# once, in the log; the partial file goes when the object is released.
if is_root; then
	F=$T/small
	small_tmpfs "$F" 2m
	mkdir "$F/cache"
	mount_fg "$S" "$M" "$T/log3" --cache-dir "$F/cache"
	head -c 1500000 /dev/zero >"$F/filler"
	_run sh -c "cat '$M/big' >'$T/big.out'"
	[ "$RC" -ne 0 ] || fail "big read from a full cache"
	[ "$(stat -c %s "$T/big.out")" -lt 2000000 ] &&
	cmp -s -n "$(stat -c %s "$T/big.out")" "$T/big.out" "$D/big" ||
		fail "wrong bytes served from a full cache"
	printf '%s\n' "$ERR" | grep -Eq 'Input/output error|No space left' ||
		fail "full cache: $ERR"
	grep -q "No space left" "$T/log3" || fail "no log line: $(cat "$T/log3")"
	[ "$(grep -c "No space left" "$T/log3")" = 1 ] ||
		fail "a full cache logged more than once: $(cat "$T/log3")"
	left() { [ "$(ls -A "$F/cache")" = .lock ]; }
	wait_for 10 left
	[ "$(cat "$M/good")" = good ] || fail "small file with a full cache"
	rm "$F/filler"
	cmp "$M/big" "$D/big" || fail "big once space was freed"
	unmount "$M"
	wait "$FG_PID" || fail "mount -f exited with $?"
	umount "$F"
fi

# ---- SIGTERM with a new file whose write failed (ENOSPC) -----------------
# It cannot be stored (a write failed), so its placeholder goes too, and
# its bytes with it: one log line says why it is not stored.
if is_root; then
	F=$T/tiny
	small_tmpfs "$F" 1m
	mount_fg "$S" "$M" "$T/log4" --cache-dir "$F/cache"
	python3 -c 'import errno, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
err = 0
try:
    for i in range(48):
        os.write(fd, b"x" * 65536)
    os.fsync(fd)
except OSError as e:
    err = e.errno
assert err == errno.ENOSPC, "the write to a full staging area: %d" % err
open(sys.argv[2], "w").close()
time.sleep(60)' "$M/nospace" "$T/failed" &
	wpid=$!
	at_exit "kill $wpid 2>/dev/null"
	wait_for 10 test -e "$T/failed"
	term_with_writer "$wpid"
	_run "$PXFS" stat "$S" nospace
	[ "$RC" = 1 ] || fail "the placeholder of 'nospace' is left: $OUT"
	grep -q "'/nospace'.*not stored.*a write failed" "$T/log4" ||
		fail "no log line says why 'nospace' is not stored: $(cat "$T/log4")"
	[ -z "$(ls -A "$F/cache/staging")" ] || fail "staged bytes kept"
	fsck_clean "$S"
	umount "$F"
fi
