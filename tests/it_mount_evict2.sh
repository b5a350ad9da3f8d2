#!/bin/bash
# SPDX-License-Identifier: MIT
# it_mount_evict2.sh - an object whose last reference goes is evicted from
# the connector even when another process holds the store at that moment.
# One store mounted twice; 6 writers overwrite, rename over and unlink
# files through both mounts for a few seconds, so that nearly every
# eviction meets the other mount's gc lock.  Once they stop, the mounts'
# janitors retry what was deferred: without any `pxfs gc`, fsck is clean
# and the connector holds exactly the blobs the index names.  Then a
# `pxfs rm` while a put holds the store still evicts its blob by the time
# the command exits.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse

S=$T/store
A=$T/a
B=$T/b
mkdir -p "$A" "$B"
new_store "$S"
mount_fg "$S" "$A" "$T/log.a" --cache-dir "$T/cache.a"
FG_A=$FG_PID
mount_fg "$S" "$B" "$T/log.b" --cache-dir "$T/cache.b"
FG_B=$FG_PID

# blobs the index names (every object here is a plain stored one)
named() {
	sqlite3 "$S/index.db" "SELECT count(*) FROM objects WHERE state = 0"
}
settled() {
	"$PXFS" fsck "$S" >/dev/null 2>&1 && [ "$(blob_count "$S")" = "$(named)" ]
}
settle() {	# settle SECS: wait until settled; false after SECS
	local i
	for i in $(seq $(($1 * 10))); do
		settled && return 0
		sleep 0.1
	done
	return 1
}
orphans() { echo $(( $(blob_count "$S") - $(named) )); }

mkdir "$A/w"
writer() {	# writer N MOUNT SECONDS: churn until SECONDS have passed
	local n=$1 m=$2 end=$((SECONDS + $3)) i=0
	mkdir "$m/w/$n" || return 1
	while [ "$SECONDS" -lt "$end" ]; do
		i=$((i + 1))
		printf '%s %s overwrite\n' "$n" "$i" >"$m/w/$n/f" || return 1
		printf '%s %s renamed\n' "$n" "$i" >"$m/w/$n/tmp" || return 1
		mv "$m/w/$n/tmp" "$m/w/$n/g" || return 1
		printf '%s %s gone\n' "$n" "$i" >"$m/w/$n/h" || return 1
		rm "$m/w/$n/h" || return 1
	done
	echo "$i" >"$T/rounds.$n"
}
pids=
for n in 1 2 3 4 5 6; do
	if [ $((n % 2)) = 0 ]; then m=$A; else m=$B; fi
	writer "$n" "$m" 4 2>"$T/writer.$n" &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p" || fail "a writer failed: $(cat "$T"/writer.*)"
done
rounds=$(awk '{ s += $1 } END { print s + 0 }' "$T"/rounds.*)
[ "$rounds" -gt 0 ] || fail "no writer made a round"

# the janitors retry every few hundred ms; no gc
settle 5 || fail "$(orphans) orphans after $rounds rounds, without gc"

# the CLI: `pxfs rm` while another process writes evicts before it exits
printf 'cli object\n' >"$T/one"
expect_ok "$PXFS" put "$S" "$T/one" --to w
wait_for 1 test -e "$A/w/one"
holder() {	# writers through a mount keep taking the gc lock shared
	local end=$((SECONDS + 3)) i=0
	while [ "$SECONDS" -lt "$end" ]; do
		i=$((i + 1))
		printf 'holder %s\n' "$i" >"$B/w/hold" || return 1
	done
}
holder 2>"$T/holder" &
hpid=$!
sleep 0.3
expect_ok "$PXFS" rm "$S" w/one
wait "$hpid" || fail "the holder failed: $(cat "$T/holder")"
settle 5 || fail "rm left $(orphans) orphan(s)"

unmount "$A"
unmount "$B"
wait "$FG_A" || fail "mount a exited with $?"
wait "$FG_B" || fail "mount b exited with $?"
settled || fail "$(orphans) orphans after unmount"
grep -hv "^pxfs: serving\|lease '.*' ended" "$T/log.a" "$T/log.b" &&
	fail "unexpected log lines"
echo "$rounds rounds through two mounts, no orphan without gc," \
	"$(blob_count "$S") blobs"
exit 0
