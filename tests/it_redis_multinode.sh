#!/bin/bash
# SPDX-License-Identifier: MIT
# it_redis_multinode.sh - a producer and two consumers on three "nodes":
# the producer on the host, each consumer in a network namespace of its
# own (ip netns, a veth pair to the host) with its own cache directory,
# sharing first one Redis and then a three-master Redis Cluster that
# listen on the host's veth addresses.  The producer puts and publishes;
# each consumer opens the reference and reads byte-identical data,
# fetching only what it reads (Redis's own byte counters say so).
#
# Consumers mount the reference ("pxfs mount REF", the daemon in their
# namespace); without FUSE each links the objects it wants into a store of
# its own on the same Redis, from "pxfs ref" references, and cats them.
. "$(dirname "$0")/lib.sh"
need_redis
is_root || skip "network namespaces need root"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"
command -v nsenter >/dev/null || skip "nsenter (util-linux) is not installed"

# ---- three nodes: the host and two namespaces ------------------------------
tag=$$
NA=pxfs-a-$tag NB=pxfs-b-$tag
ip netns add "$NA" 2>/dev/null || skip "cannot create a network namespace"
at_exit "ip netns del '$NA' 2>/dev/null"
ip netns add "$NB" || fail "ip netns add $NB"
at_exit "ip netns del '$NB' 2>/dev/null"
net=10.$((200 + RANDOM % 50)).$((RANDOM % 250))
HOST=$net.1
# host end .1/30 + namespace end .2/30 for A; .5/.6 for B
setup_ns() {	# NS HOSTIF NSIF HOSTADDR NSADDR
	ip link add "$2" type veth peer name "$3" || fail "veth $2"
	at_exit "ip link del '$2' 2>/dev/null"
	ip link set "$3" netns "$1"
	ip addr add "$4/30" dev "$2"
	ip link set "$2" up
	ip netns exec "$1" ip addr add "$5/30" dev "$3"
	ip netns exec "$1" ip link set "$3" up
	ip netns exec "$1" ip link set lo up
	ip netns exec "$1" ip route add default via "$4"
}
setup_ns "$NA" "pxh-a$tag" "pxn-a$tag" "$net.1" "$net.2"
setup_ns "$NB" "pxh-b$tag" "pxn-b$tag" "$net.5" "$net.6"
on() {	# NS CMD...: run CMD on that node (its network only)
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

D=$T/data
mkdir -p "$D/tree/sub"
head -c $((16 << 20)) /dev/urandom >"$D/tree/big.bin"
head -c $((3 << 20)) /dev/urandom >"$D/tree/sub/mid.bin"
printf 'small and shared\n' >"$D/tree/small.txt"
for i in $(seq 20); do printf 'file %d\n' "$i" >"$D/tree/sub/f$i"; done

can_mount_ref=
if [ -c /dev/fuse ] && ( exec 3<>/dev/fuse ) 2>/dev/null &&
   command -v getfattr >/dev/null; then
	. "$(dirname "$0")/mount_lib.sh"
	can_mount_ref=1
fi

# Bytes the Redis nodes of PORTS sent since their last CONFIG RESETSTAT.
sent() {
	local p n=0
	for p in "${PORTS[@]}"; do
		n=$((n + $(redis-cli -h "$HOST" -p "$p" INFO stats |
			   tr -d '\r' | sed -n 's/^total_net_output_bytes://p')))
	done
	echo "$n"
}
reset_stats() {
	local p
	for p in "${PORTS[@]}"; do
		redis-cli -h "$HOST" -p "$p" CONFIG RESETSTAT >/dev/null
	done
}

# consume LABEL URL PRODUCER REF NS FILE...: node NS opens REF (or links
# FILEs from PRODUCER) with a cache of its own, reads the FILEs
# byte-identical, and Redis (the nodes in PORTS) sends about what they
# take to store, not the rest of the namespace.
consume() {
	local label=$1 url=$2 prod=$3 ref=$4 ns=$5 c want=0 got f
	shift 5
	c=$T/$label-$ns
	for f in "$@"; do
		want=$((want + $(stat_field "$prod" "$f" stored_size)))
	done
	if [ -n "$can_mount_ref" ]; then
		mkdir -p "$c/mnt"
		reset_stats
		XDG_CACHE_HOME=$c/xdg on "$ns" "$PXFS" mount "$ref" "$c/mnt" \
			--cache-dir "$c/cache" 2>"$c/err" ||
			fail "$ns: mount $ref: $(cat "$c/err")"
		at_exit "_force_unmount '$c/mnt'"
		for f in "$@"; do
			cmp "$c/mnt/$f" "$D/$f" || fail "$ns ($label): $f differs"
		done
		got=$(mstat "$c/mnt" 'd["connector"]["get_bytes"]')
		[ "$got" -le "$want" ] ||
			fail "$ns ($label): the mount fetched $got bytes for $want"
		unmount "$c/mnt"
	else
		on "$ns" "$PXFS" init "$c" --connector redis --url "$url" \
			--prefix "mn-$label:" >/dev/null || fail "$ns: init"
		for f in "$@"; do
			on "$ns" "$PXFS" link "$c" "$("$PXFS" ref "$prod" "$f")" \
				"/${f##*/}" || fail "$ns: link $f"
		done
		reset_stats
		for f in "$@"; do
			on "$ns" "$PXFS" cat "$c" "${f##*/}" | cmp - "$D/$f" ||
				fail "$ns ($label): $f differs"
		done
	fi
	got=$(sent)
	# what it read, plus command replies and INFO itself
	[ "$got" -ge "$want" ] ||
		fail "$ns ($label): Redis sent $got bytes for $want"
	[ "$got" -le $((want + want / 50 + 65536)) ] ||
		fail "$ns ($label): Redis sent $got bytes, it read $want"
	echo "note: $label, $ns read $*: Redis sent $got bytes for" \
	     "$want stored" >&2
}

# scenario LABEL URL: the producer puts and publishes; node A reads
# big.bin, node B small.txt and sub/mid.bin.
scenario() {
	local label=$1 url=$2 P ref
	P=$T/$label-producer
	expect_ok "$PXFS" init "$P" --connector redis --url "$url" \
		--prefix "mn-$label:"
	expect_ok "$PXFS" put "$P" "$D/tree"
	expect_ok "$PXFS" publish "$P" --tag "mn-$label"
	ref=$(printf '%s\n' "$OUT" | sed -n 2p)
	# the consumers reach Redis only through their veth
	on "$NA" redis-cli -h 127.0.0.1 -p "${PORTS[0]}" PING >/dev/null 2>&1 &&
		fail "$NA reaches the host's loopback"
	consume "$label" "$url" "$P" "$ref" "$NA" tree/big.bin
	consume "$label" "$url" "$P" "$ref" "$NB" tree/small.txt \
		tree/sub/mid.bin
	fsck_clean "$P"
}

# ---- one Redis --------------------------------------------------------------
redis_start --bind "127.0.0.1 $net.1 $net.5" --protected-mode no
PORTS=("$REDIS_PORT")
scenario single "redis://$HOST:$REDIS_PORT"

# ---- one cluster --------------------------------------------------------------
cports=()
for i in 1 2 3; do
	redis_start --bind "127.0.0.1 $net.1 $net.5" --protected-mode no \
		--cluster-enabled yes --cluster-config-file nodes.conf \
		--cluster-node-timeout 1000 --cluster-announce-ip "$HOST"
	cports+=("$REDIS_PORT")
done
redis-cli --cluster create "$HOST:${cports[0]}" "$HOST:${cports[1]}" \
	"$HOST:${cports[2]}" --cluster-yes >"$T/create.log" 2>&1 ||
	fail "cluster create: $(tail -n 3 "$T/create.log")"
for i in $(seq 200); do
	ok=0
	for p in "${cports[@]}"; do
		redis-cli -p "$p" CLUSTER INFO | grep -q '^cluster_state:ok' &&
			ok=$((ok + 1))
	done
	[ "$ok" = 3 ] && break
	sleep 0.05
done
[ "$ok" = 3 ] || fail "the cluster is not ok after 10 s"
PORTS=("${cports[@]}")
scenario cluster \
	"redis+cluster://$HOST:${cports[0]},$HOST:${cports[1]},$HOST:${cports[2]}"
[ -n "$can_mount_ref" ] ||
	echo "note: no FUSE here: consumers linked objects and used cat" >&2
exit 0
