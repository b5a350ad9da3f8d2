#!/bin/bash
# it_mount_follow.sh - mount a published namespace by reference, and follow
# a tag: new publications appear in the mount, files already open keep
# reading the version they opened, bad references fail before mounting;
# on the connector under test.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse
# snapshots fetched for references are kept per user: ours, not root's
export XDG_CACHE_HOME=$T/xdg

S=$T/store
M=$T/mnt
F=$T/follow
mkdir -p "$T/data/d" "$M" "$F"
echo one > "$T/data/d/a"
head -c 300000 /dev/urandom > "$T/data/d/big"
new_store "$S"
expect_ok "$PXFS" put "$S" "$T/data/d"
expect_ok "$PXFS" publish "$S" --tag nightly
SNAP=$(printf '%s\n' "$OUT" | grep -m1 '/snapshot/')
TAG=$(printf '%s\n' "$OUT" | grep -m1 '/tag/')
[ -n "$SNAP" ] && [ -n "$TAG" ] || fail "publish printed no references: $OUT"
case $SNAP,$TAG in
"pxfs://$CONNECTOR/snapshot/"*",pxfs://$CONNECTOR/tag/nightly?"*) ;;
*) fail "references not for the $CONNECTOR connector: $SNAP $TAG" ;;
esac

# a snapshot reference mounts read-only, with its own cache
mount_bg "$SNAP" "$M" --cache-dir "$T/c1"
cmp "$T/data/d/big" "$M/d/big" || fail "snapshot mount reads wrong bytes"
touch "$M/d/new" 2>/dev/null && fail "a snapshot mount is writable"
unmount "$M"

# a followed tag: a new publication shows up, an open file keeps its bytes
mount_bg "$TAG" "$F" --follow --cache-dir "$T/c2"
exec 3<"$F/d/a"
echo two > "$T/data/d/b"
expect_ok "$PXFS" put "$S" "$T/data/d/b" --to d
expect_ok "$PXFS" publish "$S" --tag nightly
wait_for 10 test -e "$F/d/b"
[ "$(cat "$F/d/b")" = two ] || fail "followed mount reads wrong bytes"
[ "$(cat <&3)" = one ] || fail "an open file lost its version"
exec 3<&-
unmount "$F"

# refusals: nothing is mounted
expect_usage "$PXFS" mount --follow "$SNAP" "$M"
expect_usage "$PXFS" mount --follow "$S" "$M"
# the store's own reference, naming a snapshot it does not have
zeros=$(printf '0%.0s' $(seq 64))
expect_fail "$PXFS" mount "pxfs://$CONNECTOR/snapshot/$zeros?${SNAP#*\?}" "$M"
expect_err "no snapshot"
expect_fail "$PXFS" mount "pxfs://nope" "$M"
expect_err "not a pxfs reference"
is_mounted "$M" && fail "something was mounted"
exit 0
