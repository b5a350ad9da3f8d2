#!/bin/bash
# SPDX-License-Identifier: MIT
# it_proxystore.sh - ProxyStore interop through a FileConnector directory:
# objects written here byte for byte as ProxyStore writes them (a 2-byte
# serializer id, a newline, the payload; DIR/UUID and an empty
# DIR/UUID.ready after it) are linked and imported from their headers and
# lengths alone, read lazily (cat, get, a mount), and pxfs objects are
# exported back in the same format.  Every error case changes nothing.
. "$(dirname "$0")/lib.sh"

S=$T/store
P=$T/ps
mkdir -p "$P"
new_store "$S"

# ps_put UUID ID [PAYLOAD_FILE] [noready]: a ProxyStore object
ps_put() {
	local u=$1 id=$2 src=${3:-/dev/null}
	{ printf '%s\n' "$id"; cat "$src"; } >"$P/$u"
	[ "${4:-}" = noready ] || : >"$P/$u.ready"
}

# a UUID as Python's str(uuid.uuid4()) prints it
uuid4() {
	cat /proc/sys/kernel/random/uuid
}

# stat_json STORE PATH FIELD
stat_json() {
	"$PXFS" stat --json "$1" "$2" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$3"
}

head -c 300000 /dev/urandom >"$T/bin"
printf 'hello from python\n' >"$T/text"

# ---- link: header and length only ------------------------------------------
U1=$(uuid4)
ps_put "$U1" BS "$T/bin"
expect_fail "$PXFS" link "$S" --proxystore "file:$P" "$U1" /nodir/x
expect_ok "$PXFS" mkdir "$S" data
expect_ok "$PXFS" link "$S" --proxystore "file:$P" "$U1" data/blob.bin
[ -z "$OUT" ] || fail "link printed '$OUT'"
[ "$(stat_json "$S" data/blob.bin size)" = 300000 ] || fail "size"
[ "$(stat_json "$S" data/blob.bin type)" = application/octet-stream ] ||
	fail "type: $(stat_json "$S" data/blob.bin type)"
[ "$(stat_json "$S" data/blob.bin state)" = external ] || fail "state"
# a reference to bytes still at the source could not be resolved elsewhere
state=$(store_state "$S")
expect_fail "$PXFS" ref "$S" data/blob.bin
expect_err "'/data/blob.bin' is a ProxyStore object \(proxystore-file:$P/$U1\) not read yet"
[ "$(store_state "$S")" = "$state" ] || fail "a refused ref changed the store"
case $(stat_json "$S" data/blob.bin source) in
*"$U1") ;;
*) fail "source: $(stat_json "$S" data/blob.bin source)" ;;
esac
expect_ok "$PXFS" ls -l "$S" data
printf '%s\n' "$OUT" | grep -q ' 300000 .*blob.bin$' || fail "ls -l: $OUT"
expect_usage "$PXFS" link "$S" --proxystore "file:$P" "$U1"
expect_fail "$PXFS" link "$S" --proxystore "file:$P" "$U1" data/blob.bin
expect_err "already exists"

# a huge sparse object links at once: the payload is never read
U2=$(uuid4)
ps_put "$U2" PK "$T/text"
truncate -s 1T "$P/$U2"
expect_ok "$PXFS" link "$S" --proxystore "file:$P" "$U2" huge.pkl
[ "$(stat_json "$S" huge.pkl size)" = $((1024 ** 4 - 3)) ] || fail "1T"
[ "$(stat_json "$S" huge.pkl type)" = application/x-python-pickle ] ||
	fail "pickle type"
expect_ok "$PXFS" rm "$S" huge.pkl
rm -f "$P/$U2" "$P/$U2.ready"
fsck_clean "$S"

# ---- the first read ingests, later reads are verified ---------------------
"$PXFS" cat "$S" data/blob.bin >"$T/out" || fail "cat"
cmp "$T/bin" "$T/out" || fail "cat differs"
[ "$(stat_json "$S" data/blob.bin state)" = ready ] || fail "not ingested"
[ "$(stat_json "$S" data/blob.bin key)" = "$(sha256sum <"$T/bin" |
	cut -c1-64)" ] || fail "key is not the payload's SHA-256"
[ "$(stat_json "$S" data/blob.bin type)" = application/octet-stream ] ||
	fail "type changed"
fsck_clean "$S"
# the store keeps its own copy: ProxyStore may evict its object now
rm -f "$P/$U1" "$P/$U1.ready"
expect_ok "$PXFS" get "$S" data/blob.bin "$T/got"
cmp "$T/bin" "$T/got" || fail "get after eviction"

# get also reads an external object, and fails cleanly when it changed
U3=$(uuid4)
ps_put "$U3" US "$T/text"
expect_ok "$PXFS" link "$S" --proxystore "file:$P" "$U3" greet.txt
[ "$(stat_json "$S" greet.txt type)" = "text/plain; charset=utf-8" ] ||
	fail "text type"
printf 'US\nhello from python, changed\n' >"$P/$U3"
expect_fail "$PXFS" cat "$S" greet.txt
expect_err "changed since it was linked"
expect_fail "$PXFS" fsck "$S"
ps_put "$U3" US "$T/text"
expect_ok "$PXFS" get "$S" greet.txt "$T/greet"
cmp "$T/text" "$T/greet" || fail "get greet.txt"
# gone before the first read: an I/O error naming the path
U4=$(uuid4)
ps_put "$U4" BS "$T/text"
expect_ok "$PXFS" link "$S" --proxystore "file:$P" "$U4" gone
rm -f "$P/$U4"
expect_fail "$PXFS" cat "$S" gone
expect_err "'/gone'.*gone"
"$PXFS" fsck --json "$S" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert not d["clean"] and d["missing"] == 1, d' || fail "fsck of a gone source"
expect_ok "$PXFS" rm "$S" gone
fsck_clean "$S"

# ---- every serializer id ---------------------------------------------------
I=$T/imp
mkdir -p "$I"
declare -A want=(
	[BS]=application/octet-stream [01]=application/octet-stream
	[US]="text/plain; charset=utf-8" [02]="text/plain; charset=utf-8"
	[NP]=application/x-npy [PL]=application/vnd.apache.arrow.file
	[PD]=application/x-python-pickle [PK]=application/x-python-pickle
	[CP]=application/x-python-pickle [03]=application/x-python-pickle
	[04]=application/x-python-pickle
)
declare -A uid_of
for id in "${!want[@]}"; do
	u=$(uuid4)
	uid_of[$id]=$u
	printf '%s\n%s payload' "$id" "$id" >"$I/$u"
	: >"$I/$u.ready"
done
nr=$(uuid4)
printf 'BS\nstill being written' >"$I/$nr"
printf 'not a ProxyStore object' >"$I/notes.txt"
expect_ok "$PXFS" import "$S" --proxystore "file:$I" --to from/python
printf '%s\n' "$OUT" | grep -q '^imported 11 objects .* into /from/python, 1 not ready$' ||
	fail "import said: $OUT"
for id in "${!want[@]}"; do
	u=${uid_of[$id]}
	[ "$(stat_json "$S" "from/python/$u" type)" = "${want[$id]}" ] ||
		fail "$id: type $(stat_json "$S" "from/python/$u" type)"
	[ "$(stat_json "$S" "from/python/$u" size)" = 10 ] || fail "$id: size"
	[ "$("$PXFS" cat "$S" "from/python/$u")" = "$id payload" ] ||
		fail "$id: content"
done
expect_fail "$PXFS" stat "$S" "from/python/$nr"
# again: what is there stays, the late one comes in
: >"$I/$nr.ready"
"$PXFS" import --json "$S" --proxystore "file:$I" --to from/python >"$T/j" ||
	fail "import --json"
python3 - "$T/j" "$nr" <<'EOF' || fail "import --json: $(cat "$T/j")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["to"] == "/from/python", d
assert d["existing"] == 11 and d["not_ready"] == 0, d
assert [e["uuid"] for e in d["imported"]] == [sys.argv[2]], d
e = d["imported"][0]
assert e["path"] == "/from/python/" + sys.argv[2] and e["size"] == 19, e
assert len(e["key"]) == 64 and e["type"] == "application/octet-stream", e
EOF
fsck_clean "$S"

# ---- errors: one clear line, nothing changed -------------------------------
E=$T/bad
mkdir -p "$E"
ok=$(uuid4)
ps_put "$ok" BS "$T/text"
before=$(store_state "$S")
u=$(uuid4)
ps_put "$u" BS "$T/text" noready
expect_fail "$PXFS" link "$S" --proxystore "file:$P" "$u" x
expect_err "not ready"
printf 'ZZ\npayload' >"$P/$u"; : >"$P/$u.ready"
expect_fail "$PXFS" link "$S" --proxystore "file:$P" "$u" x
expect_err "unknown serializer id 'ZZ'"
printf 'BS' >"$P/$u"
expect_fail "$PXFS" link "$S" --proxystore "file:$P" "$u" x
expect_err "truncated"
printf 'no header at all' >"$P/$u"
expect_fail "$PXFS" link "$S" --proxystore "file:$P" "$u" x
expect_err "not a ProxyStore object"
expect_fail "$PXFS" link "$S" --proxystore "file:$P" "$(uuid4)" x
expect_err "no ProxyStore object"
expect_fail "$PXFS" link "$S" --proxystore "file:$P" ../../etc/passwd x
expect_err "invalid ProxyStore key"
expect_fail "$PXFS" link "$S" --proxystore "file:$T/nowhere" "$ok" x
expect_err "nowhere"
expect_fail "$PXFS" link "$S" --proxystore "ftp://x" "$ok" x
expect_err "expected file:DIR or redis://"
# a symlink named like an object is not one
u=$(uuid4)
ln -s "$P/$ok" "$P/$u"
: >"$P/$u.ready"
expect_fail "$PXFS" link "$S" --proxystore "file:$P" "$u" x
expect_err "no ProxyStore object"
# one bad object fails the whole import
cp "$P/$ok" "$E/$ok"; : >"$E/$ok.ready"
b=$(uuid4)
printf 'X' >"$E/$b"; : >"$E/$b.ready"
expect_fail "$PXFS" import "$S" --proxystore "file:$E" --to e
expect_err "$b.*truncated"
expect_usage "$PXFS" import "$S"
expect_usage "$PXFS" import "$S" --proxystore redis://127.0.0.1:1
after=$(store_state "$S")
[ "$before" = "$after" ] || fail "a failed link or import changed the store"

# ---- export: hand an object back to Python ---------------------------------
X=$T/out-ps
mkdir -p "$X"
expect_ok "$PXFS" put "$S" "$T/bin" --to mine
expect_ok "$PXFS" export "$S" mine/bin --proxystore "file:$X"
key=$OUT
printf '%s\n' "$key" | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' ||
	fail "export printed '$key'"
[ -e "$X/$key.ready" ] || fail "no ready marker"
# what ProxyStore's FileConnector.get() and the bytes deserializer do
python3 - "$X" "$key" "$T/bin" <<'EOF' || fail "a Python consumer cannot read it"
import os, sys
d, key, orig = sys.argv[1:]
with open(os.path.join(d, key), "rb") as f:
    data = f.read()
assert data[:3] == b"BS\n", data[:3]
assert data[3:] == open(orig, "rb").read()
EOF
ls -A "$X" | grep -q tmp && fail "export left a temporary: $(ls -A "$X")"
"$PXFS" export --json "$S" mine/bin --proxystore "file:$X" >"$T/j"
python3 - "$T/j" "$X" <<'EOF' || fail "export --json: $(cat "$T/j")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["path"] == "/mine/bin" and d["size"] == 300000, d
assert d["proxystore"] == "file:" + sys.argv[2], d
assert len(d["uuid"]) == 36 and len(d["key"]) == 64, d
EOF
# round trip: what was exported links back as the same bytes
expect_ok "$PXFS" link "$S" --proxystore "file:$X" "$key" back.bin
"$PXFS" cat "$S" back.bin | cmp - "$T/bin" || fail "round trip"
expect_fail "$PXFS" export "$S" mine --proxystore "file:$X"
expect_err "is a directory"
expect_usage "$PXFS" export "$S" mine/bin
fsck_clean "$S"

# ---- through a mount: lazy, like any proxy ---------------------------------
if [ -c /dev/fuse ] && ( exec 3<>/dev/fuse ) 2>/dev/null &&
   command -v getfattr >/dev/null; then
	. "$(dirname "$0")/mount_lib.sh"
	M=$T/mnt
	mkdir -p "$M"
	U5=$(uuid4)
	head -c 2500000 /dev/urandom >"$T/big"
	ps_put "$U5" NP "$T/big"
	expect_ok "$PXFS" link "$S" --proxystore "file:$P" "$U5" arr.npy
	mount_bg "$S" "$M" --cache-dir "$T/cache"
	[ "$(stat -c %s "$M/arr.npy")" = 2500000 ] || fail "size in the mount"
	[ "$(xattr "$M/arr.npy" user.pxfs.type)" = application/x-npy ] ||
		fail "type xattr"
	[ "$(mstat "$M" 'd["connector"]["gets"]')" = 0 ] ||
		fail "metadata fetched something"
	cmp "$T/big" "$M/arr.npy" || fail "read through the mount"
	[ "$(mstat "$M" 'd["connector"]["get_bytes"] >= 2500000')" = True ] ||
		fail "the read was not counted"
	unmount "$M"
fi
exit 0
