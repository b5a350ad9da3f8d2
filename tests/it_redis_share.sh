#!/bin/bash
# SPDX-License-Identifier: MIT
# it_redis_share.sh - two stores sharing one Redis (their own index each,
# the same URL and prefix): "pxfs ref" in one and "pxfs link" in the other
# hand objects over without copying them, and a published snapshot is
# mounted by reference ("pxfs mount REF"; without FUSE, checked as an
# object).  References for another prefix, another Redis or a
# file store are refused with one line, changing nothing.
. "$(dirname "$0")/lib.sh"
need_redis

D=$T/data
mkdir -p "$D/tree/sub"
printf 'alpha\n' >"$D/tree/a.txt"
head -c 300000 /dev/urandom >"$D/tree/sub/r.bin"
head -c $((12 << 20)) /dev/urandom >"$D/tree/big.bin"	# segmented
ln -s a.txt "$D/tree/ln"

# producer and consumer: one URL and prefix, two indexes
init_opts
P=$T/producer
C=$T/consumer
expect_ok "$PXFS" init "$P" "${INIT_OPTS[@]}"
expect_ok "$PXFS" init "$C" "${INIT_OPTS[@]}"
expect_ok "$PXFS" put "$P" "$D/tree"

# ---- one object at a time: ref + link ------------------------------------------
expect_ok "$PXFS" mkdir "$C" got
for f in a.txt sub/r.bin big.bin; do
	expect_ok "$PXFS" link "$C" "$("$PXFS" ref "$P" "tree/$f")" \
		"/got/${f##*/}"
	"$PXFS" cat "$C" "got/${f##*/}" | cmp - "$D/tree/$f" ||
		fail "consumer reads got/${f##*/} wrong"
	[ "$(key_of "$C" "got/${f##*/}")" = "$(key_of "$P" "tree/$f")" ] ||
		fail "the link has another key"
	[ "$(stat_field "$C" "got/${f##*/}" type)" = \
	  "$(stat_field "$P" "tree/$f" type)" ] || fail "the link lost the type"
done
# nothing was copied: the blob count is the producer's
[ "$(blob_count "$P")" = 3 ] || fail "blobs after linking: $(blob_count "$P")"

# ---- a published snapshot, opened by the consumer side -------------------------
expect_ok "$PXFS" publish "$P" --tag share-test
snap=$(printf '%s\n' "$OUT" | sed -n 1p)
tag=$(printf '%s\n' "$OUT" | sed -n 2p)
if [ -c /dev/fuse ] && ( exec 3<>/dev/fuse ) 2>/dev/null; then
	. "$(dirname "$0")/mount_lib.sh"
	for r in "$snap" "$tag"; do
		M=$T/mnt-$RANDOM
		mkdir -p "$M"
		XDG_CACHE_HOME=$T/xdg mount_bg "$r" "$M" --cache-dir "$T/cache"
		for f in a.txt sub/r.bin big.bin; do
			cmp "$M/tree/$f" "$D/tree/$f" || fail "mount of $r: $f"
		done
		[ "$(readlink "$M/tree/ln")" = a.txt ] || fail "mount: symlink"
		touch "$M/new" 2>/dev/null && fail "a snapshot mount is writable"
		unmount "$M"
	done
	# references that cannot be mounted: one line, nothing mounted
	M=$T/mnt-bad
	mkdir -p "$M"
	base=${snap#*\?}
	skey=$(printf '%s\n' "$snap" | sed 's|.*/snapshot/\([0-9a-f]*\)?.*|\1|')
	unknown=$(printf 'no snapshot\n' | sha256sum | cut -c1-64)
	XDG_CACHE_HOME=$T/xdg2 expect_fail "$PXFS" mount \
		"pxfs://redis/tag/no-such-tag?$base" "$M"
	expect_err "no tag 'no-such-tag'"
	XDG_CACHE_HOME=$T/xdg2 expect_fail "$PXFS" mount \
		"pxfs://redis/snapshot/$unknown?$base" "$M"
	expect_err "no snapshot '$unknown'"
	XDG_CACHE_HOME=$T/xdg2 expect_fail "$PXFS" mount \
		"$("$PXFS" ref "$P" tree/a.txt)" "$M"
	expect_err "names one object, not a snapshot or a tag"
	XDG_CACHE_HOME=$T/xdg2 expect_fail "$PXFS" mount \
		"pxfs://redis/snapshot/$skey" "$M"
	expect_err "not a pxfs reference: a redis reference needs url="
	blob_get "$P" "$skey" >"$T/snap.bak"
	blob_corrupt "$P" "$skey" 20
	XDG_CACHE_HOME=$T/xdg2 expect_fail "$PXFS" mount "$snap" "$M"
	expect_err "snapshot '$skey' is corrupt"
	! is_mounted "$M" || fail "a bad reference was mounted"
	[ -z "$(find "$T/xdg2" -type f 2>/dev/null)" ] ||
		fail "a failed mount left files: $(find "$T/xdg2" -type f)"
	blob_put "$P" "$skey" <"$T/snap.bak"
	XDG_CACHE_HOME=$T/xdg2 mount_bg "$snap" "$M" --cache-dir "$T/cache"
	cmp "$M/tree/big.bin" "$D/tree/big.bin" || fail "mount after repair"
	unmount "$M"
else
	# the snapshot is an object like any other: link it and check it
	# is the producer's index
	skey=$(printf '%s\n' "$snap" | sed 's|.*/snapshot/\([0-9a-f]*\)?.*|\1|')
	expect_ok "$PXFS" link "$C" "$skey" /snapshot.db
	"$PXFS" cat "$C" snapshot.db >"$T/snapshot.db"
	[ "$(sqlite3 "$T/snapshot.db" "SELECT count(*) FROM nodes")" -ge 6 ] ||
		fail "the snapshot is not the producer's index"
	echo "note: no FUSE here: the snapshot was checked as an object" >&2
fi

# ---- refusals -------------------------------------------------------------------
ref=$("$PXFS" ref "$P" tree/a.txt)
state=$(store_state "$C")
# another prefix on the same Redis
new_store "$T/other-prefix"
expect_fail "$PXFS" link "$T/other-prefix" "$ref" /x
expect_err "reference '.*' is for another connector"
# another Redis (the same prefix)
redis_start
expect_ok "$PXFS" init "$T/other-redis" --connector redis \
	--url "redis://127.0.0.1:$REDIS_PORT" "${INIT_OPTS[@]:4}"
expect_fail "$PXFS" link "$T/other-redis" "$ref" /x
expect_err "reference '.*' is for another connector"
# a file store, and a file reference into a Redis store
expect_ok "$PXFS" init "$T/file1"
expect_fail "$PXFS" link "$T/file1" "$ref" /x
expect_err "reference '.*' is for another connector"
expect_ok "$PXFS" put "$T/file1" "$D/tree/a.txt"
fref=$("$PXFS" ref "$T/file1" a.txt)
expect_ok "$PXFS" init "$T/file2"
expect_fail "$PXFS" link "$T/file2" "$fref" /x
expect_err "reference '.*' is for another connector"
expect_fail "$PXFS" link "$C" "$fref" /x
expect_err "reference '.*' is for another connector"
[ "$(store_state "$C")" = "$state" ] || fail "a refused link changed it"
fsck_clean "$T/file1"
fsck_clean "$T/file2"
fsck_clean "$T/other-prefix"
fsck_clean "$T/other-redis"
fsck_clean "$P"
# The consumer shares the producer's blobs: each store claims what its
# index names, so neither takes the other's blobs for orphans, and a blob
# goes only when no store names it any more.
fsck_clean "$C"
bkey=$(key_of "$P" tree/big.bin)
expect_ok "$PXFS" rm -r "$P" tree
expect_ok "$PXFS" gc "$P"
expect_ok "$PXFS" gc "$C"
fsck_clean "$P"
fsck_clean "$C"
"$PXFS" cat "$C" got/big.bin | cmp - "$D/tree/big.bin" ||
	fail "the producer's rm or gc took a blob the consumer names"
blob_exists "$C" "$bkey" || fail "a shared blob went while still named"
expect_ok "$PXFS" rm -r "$C" got
blob_exists "$C" "$bkey" && fail "a blob no store names stayed"
fsck_clean "$C"
exit 0
