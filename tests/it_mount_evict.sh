#!/bin/bash
# SPDX-License-Identifier: MIT
# it_mount_evict.sh - evict-on-read through mounts: an object put with
# --evict-on-read is removed from the connector once a mount has read it
# whole; that mount keeps serving its cached copy, another mount (its own
# cache) gets EIO and a log line saying the object was evicted after its
# first read; user.pxfs.state says "evicted"; pxfs fsck stays clean.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse

S=$T/store
A=$T/a
B=$T/b
D=$T/data
mkdir -p "$A" "$B" "$D"
new_store "$S" --chunk-size 64K
head -c 500000 /dev/urandom >"$D/once"
printf 'kept\n' >"$D/kept"
expect_ok "$PXFS" put "$S" "$D/once" --evict-on-read
expect_ok "$PXFS" put "$S" "$D/kept"
k=$(key_of "$S" /once)
mount_fg "$S" "$A" "$T/log.a" --cache-dir "$T/cache.a"
FG_A=$FG_PID
mount_fg "$S" "$B" "$T/log.b" --cache-dir "$T/cache.b"
FG_B=$FG_PID

[ "$(xattr "$A/once" user.pxfs.state)" = ready ] || fail "state before"
# a partial read is no complete resolve: nothing is evicted yet
head -c 1000 "$A/once" >/dev/null
blob_exists "$S" "$k" || fail "evicted after a partial read"
cmp "$A/once" "$D/once" || fail "first read"
gone() { ! blob_exists "$S" "$k"; }
wait_for 2 gone
[ "$(stat_field "$S" /once state)" = evicted ] || fail "store state"
# the mount that read it keeps its copy
cmp "$A/once" "$D/once" || fail "second read through the same mount"
[ "$(xattr "$A/once" user.pxfs.state)" = evicted ] || fail "xattr state"
# another mount: EIO and a log line saying why
_run cat "$B/once"
[ "$RC" -ne 0 ] && [ -z "$OUT" ] || fail "another mount read it"
expect_err "Input/output error"
grep -q "evicted after its first read" "$T/log.b" ||
	fail "no log line: $(cat "$T/log.b")"
[ "$(cat "$B/kept")" = kept ] || fail "other files"
fsck_clean "$S"
unmount "$A"
unmount "$B"
wait "$FG_A" || fail "mount a exited with $?"
wait "$FG_B" || fail "mount b exited with $?"
