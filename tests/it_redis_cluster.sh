#!/bin/bash
# SPDX-License-Identifier: MIT
# it_redis_cluster.sh - a store on a Redis Cluster of three masters started
# on loopback ports (redis-server --cluster-enabled yes + redis-cli
# --cluster create): blobs spread over every master, round trips byte for
# byte (small inline blobs and a segmented one), publish and tags, fsck
# --deep; then a master is killed: the keys on the other two still read,
# those on the dead one fail with one line, and metadata keeps working.
. "$(dirname "$0")/lib.sh"
need_redis

ports=() pids=()
for i in 1 2 3; do
	redis_start --cluster-enabled yes --cluster-config-file nodes.conf \
		--cluster-node-timeout 1000 \
		--cluster-require-full-coverage no
	ports+=("$REDIS_PORT")
	pids+=("$REDIS_PID")
done
redis-cli --cluster create "127.0.0.1:${ports[0]}" "127.0.0.1:${ports[1]}" \
	"127.0.0.1:${ports[2]}" --cluster-yes >"$T/create.log" 2>&1 ||
	fail "cluster create: $(tail -n 3 "$T/create.log")"
cluster_ok() {
	local p
	for p in "${ports[@]}"; do
		redis-cli -p "$p" CLUSTER INFO | grep -q '^cluster_state:ok' ||
			return 1
	done
}
wait_ok() {
	local i
	for i in $(seq 200); do
		cluster_ok && return 0
		sleep 0.05
	done
	fail "the cluster is not ok after 10 s"
}
wait_ok
URL="redis+cluster://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"

S=$T/store
D=$T/data
mkdir -p "$D/many"
expect_ok "$PXFS" init "$S" --connector redis --url "$URL" --prefix cl: \
	--connect-timeout 300 --command-timeout 1000
for i in $(seq 30); do
	printf 'file %d of many\n' "$i" >"$D/many/f$i"
done
head -c $((20 << 20)) /dev/urandom >"$D/big.bin"
expect_ok "$PXFS" put "$S" "$D/many" "$D/big.bin"

# every master holds some of the blobs
for p in "${ports[@]}"; do
	n=$(redis-cli -p "$p" DBSIZE)
	[ "$n" -gt 0 ] || fail "master $p holds no key"
done
# round trips
for i in $(seq 30); do
	"$PXFS" cat "$S" "many/f$i" | cmp -s - "$D/many/f$i" ||
		fail "cat many/f$i"
done
"$PXFS" cat "$S" big.bin | cmp - "$D/big.bin" || fail "cat big.bin"
expect_ok "$PXFS" fsck --deep "$S"
# sharing on a cluster: a tag, and a reference linked by a second store
expect_ok "$PXFS" publish "$S" --tag cl-latest
printf '%s\n' "$OUT" | grep -q '^pxfs://redis/tag/cl-latest?url=redis%2Bcluster' ||
	fail "publish on a cluster: $OUT"
S2=$T/store2
expect_ok "$PXFS" init "$S2" --connector redis --url "$URL" --prefix cl:
expect_ok "$PXFS" link "$S2" "$("$PXFS" ref "$S" big.bin)" big.bin
"$PXFS" cat "$S2" big.bin | cmp - "$D/big.bin" || fail "cat of a link"

# ---- a master dies ----------------------------------------------------------------
# which small files have their blob (an inline header key) on master 3
dead=${ports[2]}
redis-cli -p "$dead" --scan --pattern 'cl:*' >"$T/dead-keys"
on_dead=() on_live=()
for i in $(seq 30); do
	k=$(key_of "$S" "many/f$i")
	if grep -qx "cl:$k" "$T/dead-keys"; then
		on_dead+=("$i")
	else
		on_live+=("$i")
	fi
done
[ "${#on_dead[@]}" -gt 0 ] && [ "${#on_live[@]}" -gt 0 ] ||
	fail "30 keys did not spread: ${#on_dead[@]} on master 3"
kill -9 "${pids[2]}"
wait "${pids[2]}" 2>/dev/null || true

for i in "${on_live[@]}"; do
	"$PXFS" cat "$S" "many/f$i" >"$T/out" 2>"$T/err" ||
		fail "many/f$i, on a live master: $(cat "$T/err")"
	cmp -s "$T/out" "$D/many/f$i" || fail "many/f$i differs"
done
t0=$(date +%s%N)
for i in "${on_dead[@]}"; do
	expect_fail "$PXFS" cat "$S" "many/f$i"
	expect_err "cannot read '/many/f$i' \(key $(key_of "$S" "many/f$i")\)"
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "note: ${#on_live[@]} files read from the live masters;" \
     "${#on_dead[@]} on the dead one failed in $ms ms in all" >&2
# metadata is the index
expect_ok "$PXFS" ls "$S" many
[ "$(printf '%s\n' "$OUT" | wc -l)" = 30 ] || fail "ls many: $OUT"
expect_ok "$PXFS" stat "$S" big.bin
exit 0
