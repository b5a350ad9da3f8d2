#!/bin/bash
# SPDX-License-Identifier: MIT
# it_proxystore_redis.sh - ProxyStore interop through a RedisConnector:
# the bare UUID as the key, the object (serializer id, newline, payload)
# as a plain string value, written here byte for byte with redis-cli.
# Linking reads EXISTS, STRLEN and a 3-byte GETRANGE only; the first read
# fetches; export writes a value a Python consumer's get() reads.  The
# test runs a redis-server of its own on a free loopback port and stops
# it by its pid however the test ends.
. "$(dirname "$0")/lib.sh"

command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
	skip "redis-server or redis-cli is not installed"

ps_port=
ps_pid=
for try in 1 2 3 4 5; do
	ps_port=$(python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')
	mkdir -p "$T/redis"
	redis-server --bind 127.0.0.1 --port "$ps_port" --save '' \
		--appendonly no --dir "$T/redis" --logfile "$T/redis/log" \
		>/dev/null 2>&1 </dev/null &
	ps_pid=$!
	at_exit "kill $ps_pid 2>/dev/null; wait $ps_pid 2>/dev/null"
	for i in $(seq 100); do
		[ "$(redis-cli -p "$ps_port" PING 2>/dev/null)" = PONG ] && break 2
		kill -0 "$ps_pid" 2>/dev/null || break
		sleep 0.05
	done
	kill "$ps_pid" 2>/dev/null
	wait "$ps_pid" 2>/dev/null
	ps_pid=
done
[ -n "$ps_pid" ] || fail "redis-server did not start: $(tail -n 2 "$T/redis/log")"
R=redis://127.0.0.1:$ps_port

rc() { redis-cli -p "$ps_port" "$@"; }

# ps_set UUID ID FILE [DB]: what ProxyStore's RedisConnector.put() stores
ps_set() {
	{ printf '%s\n' "$2"; cat "$3"; } |
		rc -n "${4:-0}" -x SET "$1" >/dev/null
}

uuid4() {
	cat /proc/sys/kernel/random/uuid
}

stat_json() {
	"$PXFS" stat --json "$1" "$2" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$3"
}

S=$T/store
new_store "$S"
head -c 3000000 /dev/urandom >"$T/bin"
printf 'a polars frame, say' >"$T/pl"

# ---- link and read ----------------------------------------------------------
U1=$(uuid4)
ps_set "$U1" BS "$T/bin"
expect_ok "$PXFS" link "$S" --proxystore "$R" "$U1" blob
[ "$(stat_json "$S" blob size)" = 3000000 ] || fail "size"
[ "$(stat_json "$S" blob state)" = external ] || fail "state"
case $(stat_json "$S" blob source) in
"proxystore-redis:$R/0/$U1") ;;
*) fail "source: $(stat_json "$S" blob source)" ;;
esac
"$PXFS" cat "$S" blob >"$T/out" || fail "cat"
cmp "$T/bin" "$T/out" || fail "cat differs"
[ "$(stat_json "$S" blob state)" = ready ] || fail "not ingested"
# ProxyStore's object is left as it was; the store has its own copy now
[ "$(rc STRLEN "$U1")" = 3000003 ] || fail "the Redis value changed"
rc DEL "$U1" >/dev/null
expect_ok "$PXFS" get "$S" blob "$T/got"
cmp "$T/bin" "$T/got" || fail "get after the key went"
fsck_clean "$S"

# another database, another serializer
U2=$(uuid4)
ps_set "$U2" PL "$T/pl" 3
expect_ok "$PXFS" link "$S" --proxystore "$R/3" "$U2" frame.arrow
[ "$(stat_json "$S" frame.arrow type)" = application/vnd.apache.arrow.file ] ||
	fail "polars type"
[ "$(stat_json "$S" frame.arrow size)" = 19 ] || fail "polars size"
[ "$("$PXFS" cat "$S" frame.arrow)" = "a polars frame, say" ] ||
	fail "cat from database 3"
fsck_clean "$S"

# ---- errors: one clear line, nothing changed -------------------------------
before=$(store_state "$S")
expect_fail "$PXFS" link "$S" --proxystore "$R" "$(uuid4)" x
expect_err "no ProxyStore object"
u=$(uuid4)
printf 'QQ\nxyz' | rc -x SET "$u" >/dev/null
expect_fail "$PXFS" link "$S" --proxystore "$R" "$u" x
expect_err "unknown serializer id 'QQ'"
printf 'B' | rc -x SET "$u" >/dev/null
expect_fail "$PXFS" link "$S" --proxystore "$R" "$u" x
expect_err "truncated"
rc DEL "$u" >/dev/null
rc RPUSH "$u" a >/dev/null
expect_fail "$PXFS" link "$S" --proxystore "$R" "$u" x
expect_err "not a string"
expect_fail "$PXFS" link "$S" --proxystore "redis://u:secret@127.0.0.1:$ps_port" \
	"$u" x
expect_err "no user or password"
case $ERR in *secret*) fail "the password was echoed: $ERR" ;; esac
expect_fail "$PXFS" link "$S" --proxystore "redis://127.0.0.1:1" "$(uuid4)" x
expect_err "cannot connect to redis at 'redis://127.0.0.1:1/0'"
after=$(store_state "$S")
[ "$before" = "$after" ] || fail "a failed link changed the store"

# changed after linking
U3=$(uuid4)
ps_set "$U3" US "$T/pl"
expect_ok "$PXFS" link "$S" --proxystore "$R" "$U3" text
printf 'US\nmore text than before' | rc -x SET "$U3" >/dev/null
expect_fail "$PXFS" cat "$S" text
expect_err "changed since it was linked"
expect_fail "$PXFS" fsck "$S"
expect_ok "$PXFS" rm "$S" text

# ---- export for a Python consumer ------------------------------------------
expect_ok "$PXFS" put "$S" "$T/bin" --to mine
expect_ok "$PXFS" export "$S" mine/bin --proxystore "$R/2"
key=$OUT
printf '%s\n' "$key" | grep -Eq '^[0-9a-f-]{36}$' || fail "export printed '$key'"
# what RedisConnector.get() returns, then the bytes deserializer
rc -n 2 --raw GET "$key" | head -c 3 | cmp - <(printf 'BS\n') ||
	fail "no BS header"
[ "$(rc -n 2 STRLEN "$key")" = 3000003 ] || fail "exported length"
rc -n 2 --raw GETRANGE "$key" 3 -1 | head -c 3000000 | cmp - "$T/bin" ||
	fail "exported bytes"
[ "$(rc -n 2 TTL "$key")" = -1 ] || fail "the exported key expires"
[ -z "$(rc -n 2 --scan --pattern 'pxfs-tmp:*')" ] || fail "a temporary key"
# and back
expect_ok "$PXFS" link "$S" --proxystore "$R/2" "$key" back
"$PXFS" cat "$S" back | cmp - "$T/bin" || fail "round trip"
fsck_clean "$S"

# ---- the server goes away ---------------------------------------------------
U4=$(uuid4)
ps_set "$U4" BS "$T/pl"
expect_ok "$PXFS" link "$S" --proxystore "$R" "$U4" late
kill "$ps_pid"
wait "$ps_pid" 2>/dev/null || true
expect_fail "$PXFS" cat "$S" late
expect_err "cannot connect to redis"
expect_ok "$PXFS" stat "$S" late
exit 0
