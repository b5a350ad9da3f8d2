#!/bin/bash
# SPDX-License-Identifier: MIT
# it_cli_basic.sh - the pxfs command end to end: help, init, put, ls, stat,
# cat and get round trips, byte for byte, and blobs that plain zstd reads.
. "$(dirname "$0")/lib.sh"

S=$T/store
D=$T/data
mkdir -p "$D"

# ---- help, version, usage ---------------------------------------------------
expect_ok "$PXFS" --version
case $OUT in "pxfs "[0-9]*) ;; *) fail "--version printed '$OUT'" ;; esac
expect_ok "$PXFS" help
for c in init put ls stat cat get rm mv mkdir link publish ref fsck gc \
	 stats mount umount resolve help; do
	printf '%s\n' "$OUT" | grep -q "^  $c " || fail "help does not list $c"
done
expect_ok "$PXFS" help put
printf '%s\n' "$OUT" | grep -q '^usage: pxfs put STORE SRC' ||
	fail "help put: $OUT"
expect_ok "$PXFS" put --help
printf '%s\n' "$OUT" | grep -q -- '--chunk-size' || fail "put --help: $OUT"
expect_ok "$PXFS" help ls
printf '%s\n' "$OUT" | grep -q '"entries"' || fail "help ls lacks the schema"
expect_usage "$PXFS"
expect_usage "$PXFS" frobnicate
expect_usage "$PXFS" help frobnicate
expect_usage "$PXFS" ls
expect_usage "$PXFS" ls --bogus "$S"
expect_usage "$PXFS" stat "$S"
expect_usage "$PXFS" put "$S"
expect_usage "$PXFS" put "$S" "$D" --to
expect_usage "$PXFS" get "$S" x
expect_usage "$PXFS" init
expect_usage "$PXFS" init a b

# ---- init --------------------------------------------------------------------
new_store "$S"
[ -f "$S/index.db" ] && [ -f "$S/config" ] || fail "init made no store"
[ "$(stat -c %a "$S")" = 700 ] || fail "store dir is $(stat -c %a "$S")"
bad=$(find "$S" -type f ! -perm 0600 | head -n 1)
[ -z "$bad" ] || fail "'$bad' is $(stat -c %a "$bad"), not 600"
bad=$(find "$S" -type d ! -perm 0700 | head -n 1)
[ -z "$bad" ] || fail "'$bad' is $(stat -c %a "$bad"), not 700"
fsck_clean "$S"
expect_ok "$PXFS" ls "$S"
[ -z "$OUT" ] || fail "new store lists '$OUT'"

# ---- single files: empty, small, random, multi-chunk ----------------------
: >"$D/empty"
printf 'hello, pxfs\n' >"$D/small.txt"
head -c 300000 /dev/urandom >"$D/random.bin"
python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(6000):
        f.write("line %05d of a compressible file\n" % i)
' "$D/multi.txt"
[ "$(stat -c %s "$D/multi.txt")" -gt 100000 ] || fail "multi.txt too small"

expect_ok "$PXFS" put "$S" "$D/empty" "$D/small.txt" "$D/random.bin"
expect_ok "$PXFS" put --chunk-size 4K "$S" "$D/multi.txt"
expect_ok "$PXFS" ls "$S"
[ "$OUT" = "$(printf 'empty\nmulti.txt\nrandom.bin\nsmall.txt')" ] ||
	fail "ls printed: $OUT"

for f in empty small.txt random.bin multi.txt; do
	"$PXFS" cat "$S" "$f" >"$T/cat.out" || fail "cat $f"
	cmp "$D/$f" "$T/cat.out" || fail "cat $f differs"
	expect_ok "$PXFS" get "$S" "/$f" "$T/got"
	cmp "$D/$f" "$T/got" || fail "get $f differs"
	rm -f "$T/got"
done
# cat of several paths concatenates them
"$PXFS" cat "$S" small.txt /empty small.txt >"$T/cat2"
cat "$D/small.txt" "$D/small.txt" | cmp - "$T/cat2" || fail "cat of three"

# the multi-chunk file really has several chunks of 4 KiB
[ "$(stat_field "$S" multi.txt chunk_size)" = 4096 ] || fail "chunk size"
n=$(stat_field "$S" multi.txt chunks)
want=$(( ($(stat -c %s "$D/multi.txt") + 4095) / 4096 ))
[ "$n" = "$want" ] || fail "multi.txt has $n chunks, not $want"
[ "$(stat_field "$S" empty size)" = 0 ] || fail "empty size"

# ---- stat: from the index, key = sha256 ---------------------------------------
expect_ok "$PXFS" stat "$S" random.bin
for f in path kind type key hash size 'stored size' 'chunk size' chunks \
	 refs mode uid gid mtime; do
	printf '%s\n' "$OUT" | grep -q "^$f: " || fail "stat lacks '$f': $OUT"
done
sum=$(sha256sum <"$D/random.bin" | cut -c1-64)
[ "$(key_of "$S" random.bin)" = "$sum" ] || fail "key is not the sha256"
[ "$(stat_field "$S" random.bin hash)" = "$sum" ] || fail "hash"
[ "$(stat_field "$S" random.bin size)" = 300000 ] || fail "size"
[ "$(stat_field "$S" small.txt type)" = "text/plain; charset=us-ascii" ] ||
	fail "small.txt type: $(stat_field "$S" small.txt type)"
"$PXFS" stat --json "$S" random.bin | python3 -m json.tool >/dev/null ||
	fail "stat --json does not parse"

# ---- blobs are plain zstd, private to the owner ------------------------------
for f in small.txt random.bin multi.txt empty; do
	k=$(key_of "$S" "$f")
	blob_exists "$S" "$k" || fail "no blob '$k' for $f"
	if [ "$CONNECTOR" = file ]; then
		b=$(blob_of "$S" "$k")
		[ "$(stat -c %a "$b")" = 600 ] ||
			fail "blob $f mode $(stat -c %a "$b")"
	fi
	blob_get "$S" "$k" | zstd -dc | cmp - "$D/$f" ||
		fail "zstd -d of $f's blob differs"
done
[ "$(stat_field "$S" random.bin stored_size)" = \
  "$(blob_size "$S" "$(key_of "$S" random.bin)")" ] ||
	fail "stored size is not the blob's size"

# ---- trees: subdirs, symlinks, modes, mtimes, uid/gid ----------------------
W=$D/tree
mkdir -p "$W/a/b/c" "$W/empty-dir"
printf 'one\n' >"$W/one.txt"
printf '#!/bin/sh\necho hi\n' >"$W/a/run.sh"
head -c 50000 /dev/urandom >"$W/a/b/c/deep.bin"
printf 'private\n' >"$W/a/b/secret"
ln -s one.txt "$W/link-to-one"
ln -s ../../one.txt "$W/a/b/up"
ln -s /nonexistent/target "$W/dangling"
chmod 0755 "$W/a/run.sh"
chmod 0600 "$W/a/b/secret"
chmod 0750 "$W/a/b"
chmod 1777 "$W/empty-dir"
touch -h -d '2001-02-03 04:05:06.123456789' "$W/link-to-one"
touch -d '2002-03-04 05:06:07.5' "$W/a/run.sh"
touch -d '2003-04-05 06:07:08' "$W/a/b/c" "$W/a/b" "$W/a" "$W"
if is_root; then
	chown 1234:5678 "$W/one.txt"
	chown -h 4321:8765 "$W/dangling"
fi

expect_ok "$PXFS" put "$S" "$W" --to /trees/first
expect_ok "$PXFS" ls "$S" trees/first/tree
[ "$OUT" = "$(printf 'a\ndangling\nempty-dir\nlink-to-one\none.txt')" ] ||
	fail "tree lists: $OUT"

# compare every entry's kind, mode, mtime, size (and owner as root)
check_tree() {
	local src=$1 dst=$2 rel kind mode mt size owner js
	(cd "$src" && find . -mindepth 1) | LC_ALL=C sort | while read -r rel; do
		rel=${rel#./}
		js=$("$PXFS" stat --json "$S" "$dst/$rel") ||
			fail "stat $dst/$rel"
		read -r kind mode mt size owner <<<"$(printf '%s' "$js" |
			python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["kind"], d["mode"], d["mtime_ns"], d["size"],
      "%d:%d" % (d["uid"], d["gid"]))')"
		case $kind in
		file)	[ -f "$src/$rel" ] && [ ! -L "$src/$rel" ] ||
				fail "$rel is not a file" ;;
		directory) [ -d "$src/$rel" ] && [ ! -L "$src/$rel" ] ||
				fail "$rel is not a directory" ;;
		symlink) [ -L "$src/$rel" ] || fail "$rel is not a symlink" ;;
		esac
		[ "$mode" = "$(stat -c %04a "$src/$rel")" ] ||
			fail "$rel: mode $mode, source $(stat -c %04a "$src/$rel")"
		[ "$mt" = "$(stat -c %.9Y "$src/$rel" | tr -d .)" ] ||
			fail "$rel: mtime_ns $mt, source $(stat -c %.9Y "$src/$rel")"
		[ "$owner" = "$(stat -c %u:%g "$src/$rel")" ] ||
			fail "$rel: owner $owner"
		if [ "$kind" = file ]; then
			[ "$size" = "$(stat -c %s "$src/$rel")" ] ||
				fail "$rel: size $size"
			"$PXFS" cat "$S" "$dst/$rel" | cmp - "$src/$rel" ||
				fail "$rel: content differs"
		fi
		if [ "$kind" = symlink ]; then
			[ "$("$PXFS" stat --json "$S" "$dst/$rel" |
			     python3 -c 'import json,sys; print(json.load(sys.stdin)["target"])')" \
			  = "$(readlink "$src/$rel")" ] || fail "$rel: target"
		fi
	done
}
check_tree "$W" trees/first/tree

# ls -l: mode string, owner, size, mtime, name, -> target
expect_ok "$PXFS" ls -l "$S" trees/first/tree
printf '%s\n' "$OUT" | grep -Eq '^l[rwx-]{9} .* link-to-one -> one\.txt$' ||
	fail "ls -l symlink line: $OUT"
printf '%s\n' "$OUT" | grep -Eq '^drwxrwxrwt .* empty-dir$' ||
	fail "ls -l sticky dir: $OUT"
printf '%s\n' "$OUT" | grep -Eq '^-rw-r--r-- .* 4 [0-9-]+ [0-9:]+ one\.txt$' ||
	fail "ls -l file line: $OUT"
# a file PATH lists itself
expect_ok "$PXFS" ls "$S" /trees/first/tree/one.txt
[ "$OUT" = one.txt ] || fail "ls of a file: $OUT"
"$PXFS" ls --json "$S" trees/first/tree | python3 -m json.tool >/dev/null ||
	fail "ls --json does not parse"
"$PXFS" ls -l --json "$S" trees/first/tree/a/b | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["path"] == "/trees/first/tree/a/b", d
names = [e["name"] for e in d["entries"]]
assert names == ["c", "secret", "up"], names
e = d["entries"][2]
assert e["kind"] == "symlink" and e["target"] == "../../one.txt", e
e = d["entries"][1]
assert e["mode"] == "0600" and e["kind"] == "file" and len(e["key"]) == 64, e
' || fail "ls --json content"

# get keeps mode and mtime; into an existing directory keeps the name
mkdir "$T/out"
expect_ok "$PXFS" get "$S" trees/first/tree/a/run.sh "$T/out"
cmp "$W/a/run.sh" "$T/out/run.sh" || fail "get into dir differs"
[ "$(stat -c %a "$T/out/run.sh")" = 755 ] || fail "get lost the mode"
[ "$(stat -c %.9Y "$T/out/run.sh")" = "$(stat -c %.9Y "$W/a/run.sh")" ] ||
	fail "get lost the mtime"
expect_ok "$PXFS" get "$S" trees/first/tree/link-to-one "$T/out/ln"
[ "$(readlink "$T/out/ln")" = one.txt ] || fail "get of a symlink"
# get over an existing file replaces it
printf 'old\n' >"$T/out/replace-me"
expect_ok "$PXFS" get "$S" small.txt "$T/out/replace-me"
cmp "$D/small.txt" "$T/out/replace-me" || fail "get did not replace"
[ -z "$(find "$T/out" -name '.pxfs-get-*')" ] || fail "get left a temp"

# ---- put variants: a file into --to, ".", trailing slash ---------------------
expect_ok "$PXFS" put "$S" "$D/small.txt" --to x/y/z
"$PXFS" cat "$S" x/y/z/small.txt | cmp - "$D/small.txt" || fail "--to x/y/z"
(cd "$W/a" && "$PXFS" put "$S" . --to dot >/dev/null) || fail "put ."
expect_ok "$PXFS" ls "$S" dot
[ "$OUT" = a ] || fail "put . named it '$OUT'"
expect_ok "$PXFS" put "$S" "$W/a/" --to slash
expect_ok "$PXFS" ls "$S" slash
[ "$OUT" = a ] || fail "put dir/ named it '$OUT'"
expect_ok "$PXFS" put --type application/x-test "$S" "$D/small.txt" --to typed
[ "$(stat_field "$S" typed/small.txt type)" = application/x-test ] ||
	fail "--type not kept"
head -c 200000 /dev/urandom >"$D/random2.bin"
expect_ok "$PXFS" put --level 19 --chunk-size 64K "$S" "$D/random2.bin" --to lv
"$PXFS" cat "$S" lv/random2.bin | cmp - "$D/random2.bin" || fail "--level 19"
[ "$(stat_field "$S" lv/random2.bin chunk_size)" = 65536 ] ||
	fail "--chunk-size 64K"
[ "$(stat_field "$S" lv/random2.bin chunks)" = 4 ] || fail "64K chunks"

# ---- --force: replace files, merge directories ----------------------------
printf 'new content\n' >"$T/one.txt"
mkdir -p "$T/f/tree/a"
printf 'new content\n' >"$T/f/tree/one.txt"
printf 'added\n' >"$T/f/tree/a/added"
expect_ok "$PXFS" put --force "$S" "$T/f/tree" --to trees/first
"$PXFS" cat "$S" trees/first/tree/one.txt | cmp - "$T/one.txt" ||
	fail "--force did not replace"
"$PXFS" cat "$S" trees/first/tree/a/added >/dev/null || fail "--force merge"
"$PXFS" cat "$S" trees/first/tree/a/b/c/deep.bin | cmp - "$W/a/b/c/deep.bin" ||
	fail "--force merge lost a file"

# ---- odd names: quotes, newlines, spaces, UTF-8 and bytes that are not ------
N=$T/names
mkdir -p "$N"
python3 - "$N" <<'PY'
import os, sys
d = os.fsencode(sys.argv[1])
for n in [b'with space', b'quote"back\\slash', b'new\nline', b'tab\there',
          'caf\u00e9-\u65e5\u672c'.encode(), b'latin1-\xe9\xff', b'-dash']:
    with open(os.path.join(d, n), 'wb') as f:
        f.write(n)
PY
expect_ok "$PXFS" put "$S" "$N"
"$PXFS" ls --json "$S" names | python3 -c '
import json, os, sys
d = json.load(sys.stdin)
got = sorted(os.fsencode(e["name"]) for e in d["entries"])
want = sorted(os.listdir(os.fsencode(sys.argv[1])))
assert got == want, (got, want)
' "$N" || fail "ls --json of odd names"
for f in "$N"/*; do
	"$PXFS" cat "$S" "names/${f##*/}" | cmp - "$f" || fail "cat of '$f'"
done
# a listing line per name: control bytes, '"' and '\' come out C-quoted
expect_ok "$PXFS" ls "$S" names
[ "$(printf '%s\n' "$OUT" | wc -l)" = 7 ] || fail "ls of odd names: $OUT"
for want in '"quote\"back\\slash"' '"new\nline"' '"tab\there"' 'with space' \
	    "$(printf 'caf\303\251-\346\227\245\346\234\254')" -dash; do
	printf '%s\n' "$OUT" | grep -qxF -- "$want" ||
		fail "ls does not print '$want': $OUT"
done
expect_ok "$PXFS" ls -l "$S" names
[ "$(printf '%s\n' "$OUT" | wc -l)" = 7 ] || fail "ls -l of odd names: $OUT"
printf '%s\n' "$OUT" | grep -q ' "new\\nline"$' || fail "ls -l: $OUT"
expect_ok "$PXFS" stat "$S" "names/$(printf 'new\nline')"
printf '%s\n' "$OUT" | grep -qx 'path: *"/names/new\\nline"' ||
	fail "stat path: $OUT"

fsck_clean "$S"
"$PXFS" fsck --json "$S" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["clean"] is True and d["problems"] == [], d
' || fail "fsck --json"
expect_ok "$PXFS" fsck --deep "$S"
printf '%s\n' "$OUT" | grep -q clean || fail "fsck --deep: $OUT"
exit 0
