#!/bin/bash
# SPDX-License-Identifier: MIT
# it_redis_init.sh - "pxfs init --connector redis" against servers of its
# own: a wrong or missing password, an unreachable or silent server and
# bad URLs each give one clear line and create nothing; the password comes
# from $PXFS_REDIS_PASSWORD or a 0600 --password-file (a 0644 one is
# refused) and is never on a command line, in the config, in an error or
# in "pxfs stats".
. "$(dirname "$0")/lib.sh"
need_redis

PW=pxfs-s3cret-$$
redis_start --requirepass "$PW"
URL=redis://127.0.0.1:$REDIS_PORT
AUTH_PID=$REDIS_PID
S=$T/store
printf 'hello, redis\n' >"$T/f.txt"

# init must leave nothing behind: no directory, no key on the server
nothing_made() {
	[ ! -e "$S" ] || fail "init left '$S' behind: $1"
	[ "$(redis-cli -p "$REDIS_PORT" --no-auth-warning -a "$PW" DBSIZE)" = 0 ] ||
		fail "init left keys on the server: $1"
}

# ---- the password ----------------------------------------------------------------
expect_fail "$PXFS" init "$S" --connector redis --url "$URL"
expect_err "^pxfs: init: redis at '127.0.0.1:$REDIS_PORT' requires a password$"
nothing_made "no password"
PXFS_REDIS_PASSWORD=not-$PW expect_fail "$PXFS" init "$S" --connector redis \
	--url "$URL"
expect_err "refused the password"
case $ERR in *not-$PW*) fail "the wrong password is in the message" ;; esac
nothing_made "a wrong password"
# there is no option for the password itself (getopt takes --password
# for --password-file, which fails)
"$PXFS" init "$S" --connector redis --url "$URL" --password "$PW" \
	>/dev/null 2>&1 && fail "init took --password"
nothing_made "--password"

# from the environment
PXFS_REDIS_PASSWORD=$PW expect_ok "$PXFS" init "$S" --connector redis \
	--url "$URL" --prefix env:
PXFS_REDIS_PASSWORD=$PW expect_ok "$PXFS" put "$S" "$T/f.txt"
PXFS_REDIS_PASSWORD=$PW expect_ok "$PXFS" cat "$S" f.txt
[ "$OUT" = "hello, redis" ] || fail "cat with the password: $OUT"
# without it (or with a wrong one) nothing is read
expect_fail "$PXFS" cat "$S" f.txt
expect_err "requires a password"
PXFS_REDIS_PASSWORD=bad expect_fail "$PXFS" cat "$S" f.txt
expect_err "refused the password"
export PXFS_REDIS_PASSWORD=$PW
no_password() {
	expect_ok "$PXFS" "$@"
	case $OUT$ERR in *"$PW"*) fail "the password is in '$*': $OUT" ;; esac
}
no_password stats "$S"
no_password stats --json "$S"
no_password ref "$S" f.txt
no_password publish --json "$S" --tag t
no_password fsck --json "$S"
unset PXFS_REDIS_PASSWORD
! grep -rqF "$PW" "$S" || fail "the password is stored in '$S'"
PXFS_REDIS_PASSWORD=$PW fsck_clean "$S"
rm -rf "$S"
redis-cli -p "$REDIS_PORT" --no-auth-warning -a "$PW" FLUSHALL >/dev/null

# from a 0600 file, named by absolute path, recorded by path only
printf '%s\n' "$PW" >"$T/pw"
chmod 0644 "$T/pw"
expect_fail "$PXFS" init "$S" --connector redis --url "$URL" \
	--password-file "$T/pw"
expect_err "password file '$T/pw' must be .*0600"
nothing_made "a 0644 password file"
chmod 0600 "$T/pw"
expect_fail "$PXFS" init "$S" --connector redis --url "$URL" \
	--password-file pw
expect_err "password file 'pw' must be an absolute path"
expect_fail "$PXFS" init "$S" --connector redis --url "$URL" \
	--password-file "$T/none"
expect_err "$T/none"
nothing_made "bad password files"
expect_ok "$PXFS" init "$S" --connector redis --url "$URL" --prefix file: \
	--password-file "$T/pw"
grep -qx "redis.password_file = $T/pw" "$S/config" ||
	fail "config: $(cat "$S/config")"
! grep -rqF "$PW" "$S" || fail "the password is stored in '$S'"
expect_ok "$PXFS" put "$S" "$T/f.txt"
expect_ok "$PXFS" cat "$S" f.txt
[ "$OUT" = "hello, redis" ] || fail "cat with the password file: $OUT"
# the environment wins over the file
PXFS_REDIS_PASSWORD=bad expect_fail "$PXFS" cat "$S" f.txt
expect_err "refused the password"
# a file that became readable by others is refused from then on
chmod 0640 "$T/pw"
expect_fail "$PXFS" cat "$S" f.txt
expect_err "password file '$T/pw' must be .*0600"
chmod 0600 "$T/pw"
expect_ok "$PXFS" stats --json "$S"
case $OUT in *"$PW"*) fail "the password is in stats: $OUT" ;; esac
fsck_clean "$S"
rm -rf "$S"
redis-cli -p "$REDIS_PORT" --no-auth-warning -a "$PW" FLUSHALL >/dev/null

# ---- servers that cannot be reached ------------------------------------------------
closed=$(free_port)
for url in "redis://127.0.0.1:$closed" "redis://no-such-host.invalid:6379" \
	   "redis+cluster://127.0.0.1:$closed"; do
	expect_fail "$PXFS" init "$S" --connector redis --url "$url" \
		--connect-timeout 500
	expect_err "cannot connect to redis at"
	[ ! -e "$S" ] || fail "init of '$url' left '$S'"
done
# a server that accepts but never answers: the timeouts bound the wait
kill -STOP "$AUTH_PID"
start=$(date +%s%N)
PXFS_REDIS_PASSWORD=$PW expect_fail "$PXFS" init "$S" --connector redis \
	--url "$URL" --connect-timeout 300 --command-timeout 700
ms=$(( ($(date +%s%N) - start) / 1000000 ))
kill -CONT "$AUTH_PID"
[ ! -e "$S" ] || fail "init of a silent server left '$S'"
expect_err "127.0.0.1:$REDIS_PORT"
[ "$ms" -lt 3000 ] || fail "init of a silent server took $ms ms"
echo "note: init against a silent server failed after $ms ms" >&2

# ---- bad URLs and options ----------------------------------------------------------
for url in "http://127.0.0.1:$REDIS_PORT" "redis://" "redis://h:99999" \
	   "redis://h:0" "redis://h:1/abc" "redis+cluster://" "redis:/h" \
	   "redis://127.0.0.1:$REDIS_PORT/x1"; do
	expect_fail "$PXFS" init "$S" --connector redis --url "$url"
	case $ERR in
	*"bad redis url '$url'"*) ;;
	*) fail "init --url '$url': $ERR" ;;
	esac
	[ ! -e "$S" ] || fail "init of '$url' left '$S'"
done
# user information in a URL is refused without being echoed
expect_fail "$PXFS" init "$S" --connector redis \
	--url "redis://user:$PW@127.0.0.1:$REDIS_PORT"
expect_err "bad redis url"
case $ERR in *"$PW"*) fail "the password in a URL was echoed: $ERR" ;; esac
PXFS_REDIS_PASSWORD=$PW expect_fail "$PXFS" init "$S" --connector redis \
	--url "$URL/99"
expect_err "no database 99"
expect_fail "$PXFS" init "$S" --connector redis --url "$URL" \
	--prefix 'a{b}'
expect_err "prefix"
expect_usage "$PXFS" init "$S" --connector redis
expect_usage "$PXFS" init "$S" --url "$URL"
expect_usage "$PXFS" init "$S" --connector memcached --url "$URL"
expect_fail "$PXFS" init "$S" --connector redis --url "$URL" \
	--command-timeout 0
expect_err "invalid command timeout '0'"
[ ! -e "$S" ] || fail "a bad init left '$S'"
nothing_made "bad urls"
exit 0
