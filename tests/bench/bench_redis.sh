# SPDX-License-Identifier: MIT
# bench_redis.sh - the Redis connector's figures, sourced by run.sh (which
# gives MIX, SIZE_MB, BENCH_DIR, REPS, PXFS, time_cmd and row), each as a
# ratio against redis-cli or redis-benchmark on the same redis-server,
# started here on a free loopback port and stopped by pid:
#   put of the ${SIZE_MB}M mix          vs redis-cli -x SET of the same bytes
#   cold cat of it                      vs redis-cli --raw GET of the same
#                                          bytes
#   cold cat of a 256 MiB object        vs one GET of those 256 MiB, by
#                                          redis-cli and on a raw socket
#   10k small puts (objects/s)          vs redis-benchmark -P 16 -t set -d SIZE
# A Redis string holds at most 512 MB, so the references keep the mix as
# 256 MiB strings (pxfs cuts its blobs into 8 MiB segments by itself);
# the per-256 MiB rows compare one object with one string, random bytes
# (the mix's last part), which pxfs cannot make smaller.
#
#   BENCH_SMALL_FILES (10000)  BENCH_SMALL_SIZE (1024 bytes)

rb_dir=$BENCH_DIR/redis
mkdir -p "$rb_dir"
rb_port=$(python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')
redis-server --bind 127.0.0.1 --port "$rb_port" --save '' --appendonly no \
	--dir "$rb_dir" --logfile "$rb_dir/log" >/dev/null 2>&1 </dev/null &
rb_pid=$!
rb_stop() {
	kill "$rb_pid" 2>/dev/null || true
	wait "$rb_pid" 2>/dev/null || true
}
trap 'rb_stop; cleanup' EXIT
for _ in $(seq 100); do
	[ "$(redis-cli -p "$rb_port" PING 2>/dev/null)" = PONG ] && break
	sleep 0.05
done
rcli() { redis-cli -p "$rb_port" "$@"; }
RURL=redis://127.0.0.1:$rb_port
rb_n=0

# a store of its own (a fresh prefix: nothing deduplicated across runs)
rb_new_store() {
	rb_n=$((rb_n + 1))
	RSTORE=$BENCH_DIR/rstore$rb_n
	"$PXFS" init "$RSTORE" --connector redis --url "$RURL" \
		--prefix "b$rb_n:" >/dev/null
}

echo "bench: Redis at $RURL"
# the mix as 256 MiB parts, for the redis-cli references
part_mb=256
[ "$SIZE_MB" -ge "$part_mb" ] || part_mb=$SIZE_MB
nparts=$(( (SIZE_MB + part_mb - 1) / part_mb ))
split -b $((part_mb << 20)) -d -a 2 "$MIX" "$rb_dir/part."

rb_put() { rb_new_store && "$PXFS" put "$RSTORE" "$MIX"; }
ref_set() {
	local f i=0
	for f in "$rb_dir"/part.*; do
		rcli -x SET "part$i" <"$f" >/dev/null
		i=$((i + 1))
	done
}
time_cmd t_rput rb_put
time_cmd t_rset ref_set
row "redis put ${SIZE_MB}M mix" "$t_rput" "redis-cli -x SET ($nparts strings)" \
	"$t_rset"

# cold reads: the CLI keeps no cache, every cat fetches and verifies
ref_get() {
	local i
	for i in $(seq 0 $((nparts - 1))); do
		rcli --raw GET "part$i"
	done
}
time_cmd t_rcat "$PXFS" cat "$RSTORE" mix.bin
time_cmd t_rget ref_get
row "redis cold cat ${SIZE_MB}M mix" "$t_rcat" "redis-cli --raw GET" "$t_rget"
# one object against one string: the last part, random in the mix, so
# that pxfs moves as many bytes as Redis does
last=$((nparts - 1))
lastf=$rb_dir/part.$(printf %02d "$last")
"$PXFS" put "$RSTORE" "$lastf" >/dev/null
time_cmd t_rcat1 "$PXFS" cat "$RSTORE" "${lastf##*/}"
time_cmd t_rget1 rcli --raw GET "part$last"
row "redis cold cat ${part_mb}M object" "$t_rcat1" "redis-cli GET ${part_mb}M" \
	"$t_rget1"
# redis-cli is slow with big replies: the floor is one GET read straight
# off a socket
raw_get() {
	python3 - "$rb_port" "part$last" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
k = sys.argv[2].encode()
s.sendall(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k))
hdr = b""
while not hdr.endswith(b"\r\n"):
    hdr += s.recv(1)
n = int(hdr[1:-2]) + 2
buf = bytearray(n)
mv = memoryview(buf)
got = 0
while got < n:
    r = s.recv_into(mv[got:], n - got)
    if not r:
        sys.exit("short reply")
    got += r
sys.stdout.buffer.write(mv[:n - 2])
PY
}
time_cmd t_raw1 raw_get
row "redis cold cat ${part_mb}M object" "$t_rcat1" "GET on a raw socket" \
	"$t_raw1"
for i in $(seq 0 $((nparts - 1))); do rcli DEL "part$i" >/dev/null; done

# many small objects: one put of a tree (one transaction, pipelined
# puts) against redis-benchmark's pipelined SETs of the same size
RB_NSMALL=${BENCH_SMALL_FILES:-10000}
RB_SSIZE=${BENCH_SMALL_SIZE:-1024}
python3 - "$rb_dir/small" "$RB_NSMALL" "$RB_SSIZE" <<'PY'
import os, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    sub = os.path.join(d, "%03d" % (i // 1000))
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "o%05d" % i), "wb") as f:
        f.write(os.urandom(size))
PY
rb_small() { rb_new_store && "$PXFS" put "$RSTORE" "$rb_dir/small"; }
time_cmd t_rsmall rb_small
rps=$(redis-benchmark -p "$rb_port" -P 16 -t set -d "$RB_SSIZE" -n "$RB_NSMALL" \
	-r 100000000 -q 2>/dev/null | tr '\r' '\n' |
	sed -n 's/^SET: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1)
t_rbench=$(echo "$RB_NSMALL / $rps" | bc -l)
row "redis put ${RB_NSMALL} x ${RB_SSIZE}B" "$t_rsmall" \
	"redis-benchmark -P 16 -t set" "$t_rbench"
printf 'bench: %d small puts: pxfs %.0f objects/s, redis-benchmark %.0f SET/s\n' \
	"$RB_NSMALL" "$(echo "$RB_NSMALL / $t_rsmall" | bc -l)" "$rps"
rb_stop
trap cleanup EXIT
