#!/bin/bash
# SPDX-License-Identifier: MIT
# it_cli_errors.sh - every error of the pxfs command: exit 1, one clear line
# on stderr naming the thing and the reason, and the store as it was
# (fsck clean, index and blobs unchanged).
. "$(dirname "$0")/lib.sh"

S=$T/store
D=$T/data
mkdir -p "$D/tree/sub"
new_store "$S"
printf 'small\n' >"$D/small.txt"
printf 'in tree\n' >"$D/tree/sub/f"
head -c 100000 /dev/urandom >"$D/multi.bin"
expect_ok "$PXFS" put "$S" "$D/small.txt" "$D/tree"
expect_ok "$PXFS" put --chunk-size 4K "$S" "$D/multi.bin"
fsck_clean "$S"
state=$(store_state "$S")

# The store must be exactly as it was before the failed command.
unchanged() {
	fsck_clean "$S"
	[ "$(store_state "$S")" = "$state" ] ||
		fail "the store changed: ${1:-}"
}

# ---- no such store / not a store ---------------------------------------------
mkdir "$T/plain"
printf 'x\n' >"$T/plain/file"
for st in "$T/nope" "$T/plain" "$T/plain/file"; do
	for cmd in "ls" "stat PATH" "cat PATH" "get PATH $T/dest" \
		   "put $D/small.txt" "rm PATH" "mv PATH PATH2" \
		   "mkdir PATH" "fsck" "gc" "stats" \
		   "link 0000000000000000000000000000000000000000000000000000000000000000 PATH"; do
		read -r -a words <<<"$cmd"
		expect_fail "$PXFS" "${words[0]}" "$st" "${words[@]:1}"
		case $st in
		*/nope)	expect_err "no such store '$st'" ;;
		*)	expect_err "'$st' is not a pxfs store" ;;
		esac
	done
done
[ ! -e "$T/nope" ] || fail "a command created the missing store"
[ "$(ls "$T/plain")" = file ] || fail "a command wrote into a non-store"
[ ! -e "$T/dest" ] || fail "get wrote a DEST"

# ---- init ---------------------------------------------------------------------
init_opts
expect_fail "$PXFS" init "${INIT_OPTS[@]}" "$S"
expect_err "'$S'.*already"
unchanged "init over a store"
expect_fail "$PXFS" init "${INIT_OPTS[@]}" "$T/plain"
expect_err "'$T/plain'.*not empty"
[ "$(ls -A "$T/plain")" = file ] || fail "init wrote into a non-empty dir"
expect_fail "$PXFS" init "${INIT_OPTS[@]}" "$T/plain/file"
[ ! -e "$T/plain/file/index.db" ] || fail "init over a file"

# ---- bad option values ------------------------------------------------------------
for cs in 0 3000 1K 2048 128M 3M abc -4096 4096x ''; do
	expect_fail "$PXFS" init "${INIT_OPTS[@]}" --chunk-size "$cs" \
		"$T/bad-init"
	expect_err "invalid chunk size '$cs'"
	[ ! -e "$T/bad-init" ] || fail "init --chunk-size $cs made a store"
	expect_fail "$PXFS" put --chunk-size "$cs" "$S" "$D/small.txt" --to cs
	expect_err "invalid chunk size '$cs'"
done
for lv in 0 20 -1 x 3.5 ''; do
	expect_fail "$PXFS" init "${INIT_OPTS[@]}" --level "$lv" "$T/bad-init"
	expect_err "invalid level '$lv'"
	[ ! -e "$T/bad-init" ] || fail "init --level $lv made a store"
	expect_fail "$PXFS" put --level "$lv" "$S" "$D/small.txt" --to lv
	expect_err "invalid level '$lv'"
done
# the bounds themselves are fine
new_store "$T/ok1" --chunk-size 4K --level 1
new_store "$T/ok2" --chunk-size 64M --level 19
expect_fail "$PXFS" put --type '' "$S" "$D/small.txt" --to ty
unchanged "bad option values"

# ---- usage errors exit 2 ---------------------------------------------------------
expect_usage "$PXFS" put "$S" "$D/small.txt" --frob
expect_usage "$PXFS" ls -z "$S"
expect_usage "$PXFS" cat "$S"
expect_usage "$PXFS" mv "$S" a
expect_usage "$PXFS" link "$S" a
expect_usage "$PXFS" rm "$S"
expect_usage "$PXFS" fsck
expect_usage "$PXFS" gc "$S" extra
expect_usage "$PXFS" stats
unchanged "usage errors"

# ---- sources: missing, unreadable, special files -----------------------------
expect_fail "$PXFS" put "$S" "$D/absent"
expect_err "cannot read '$D/absent': No such file or directory"
mkfifo "$D/fifo"
expect_fail "$PXFS" put "$S" "$D/fifo"
expect_err "'$D/fifo'.*fifo"
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
	"$D/sock"
expect_fail "$PXFS" put "$S" "$D/sock"
expect_err "'$D/sock'.*socket"
expect_fail "$PXFS" put "$S" /dev/null
expect_err "'/dev/null'.*character device"
# a special file deep in a tree fails the whole put
mkdir -p "$D/spec/a"
printf 'fine\n' >"$D/spec/fine"
mkfifo "$D/spec/a/pipe"
expect_fail "$PXFS" put "$S" "$D/spec"
expect_err "'$D/spec/a/pipe'.*fifo"
unchanged "special files"
# the store itself, or a tree holding it
expect_fail "$PXFS" put "$S" "$S"
expect_err "cannot put the store '$S' into itself"
mkdir -p "$T/wrap/dir"
printf 'x\n' >"$T/wrap/dir/f"
new_store "$T/wrap/inner"
expect_fail "$PXFS" put "$T/wrap/inner" "$T/wrap"
expect_err "cannot put the store '$T/wrap/inner' into itself"
unchanged "the store into itself"

# Unreadable files and directories.  Root reads anything, so as root run
# the put as nobody with a store nobody owns.
U=$T/nobody
mkdir -p "$U/src/dir"
printf 'secret\n' >"$U/src/secret"
printf 'open\n' >"$U/src/open"
printf 'hidden\n' >"$U/src/dir/x"
chmod 000 "$U/src/secret"
as_user=
if is_root; then
	if command -v setpriv >/dev/null; then
		chmod 0711 "$T"
		chown -R 65534:65534 "$U"
		as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
	fi
fi
if [ -n "$as_user" ] || ! is_root; then
	init_opts
	$as_user "$PXFS" init "$U/store" "${INIT_OPTS[@]}" >/dev/null ||
		fail "init as nobody"
	ustate=$(store_state "$U/store")
	expect_fail $as_user "$PXFS" put "$U/store" "$U/src/secret"
	expect_err "cannot read '$U/src/secret': Permission denied"
	expect_fail $as_user "$PXFS" put "$U/store" "$U/src"
	expect_err "cannot read '$U/src/secret': Permission denied"
	chmod 644 "$U/src/secret"
	chmod 000 "$U/src/dir"
	expect_fail $as_user "$PXFS" put "$U/store" "$U/src"
	expect_err "'$U/src/dir'.*Permission denied"
	chmod 755 "$U/src/dir"
	[ "$(store_state "$U/store")" = "$ustate" ] ||
		fail "an unreadable source changed the store"
	$as_user "$PXFS" fsck "$U/store" >/dev/null || fail "fsck as nobody"
	$as_user "$PXFS" put "$U/store" "$U/src" >/dev/null ||
		fail "put as nobody once readable"
else
	echo "note: unreadable-source checks skipped (root without setpriv)" >&2
fi

# ---- targets that exist ---------------------------------------------------------------
expect_fail "$PXFS" put "$S" "$D/small.txt"
expect_err "'/small.txt' already exists \(use --force\)"
expect_fail "$PXFS" put "$S" "$D/tree"
expect_err "'/tree' already exists"
mkdir -p "$D/other"
printf 'x\n' >"$D/other/small.txt"
expect_fail "$PXFS" put "$S" "$D/other/small.txt" "$D/small.txt" --to new
expect_err "would both be '/new/small.txt'"
# --force never swaps a directory and a non-directory
mkdir -p "$D/swap/small.txt"
expect_fail "$PXFS" put --force "$S" "$D/swap/small.txt"
expect_err "non-directory '/small.txt'"
printf 'x\n' >"$D/swap/tree"
expect_fail "$PXFS" put --force "$S" "$D/swap/tree"
expect_err "directory '/tree'"
# --to through a file
expect_fail "$PXFS" put "$S" "$D/other" --to small.txt/x
expect_err "'/small.txt'.*not a directory"
expect_fail "$PXFS" mkdir "$S" tree
expect_err "tree"
expect_fail "$PXFS" mkdir "$S" nodir/x
expect_fail "$PXFS" mkdir -p "$S" small.txt/x
expect_err "not a directory"
unchanged "existing targets"

# ---- paths that leave the namespace -------------------------------------------------
for p in .. ../x a/../b /tree/.. tree/./sub ./x; do
	expect_fail "$PXFS" ls "$S" "$p"
	expect_err "invalid path '$p'"
	expect_fail "$PXFS" stat "$S" "$p"
	expect_fail "$PXFS" cat "$S" "$p"
	expect_fail "$PXFS" get "$S" "$p" "$T/dest"
	expect_fail "$PXFS" rm -r "$S" "$p"
	expect_fail "$PXFS" mv "$S" small.txt "$p"
	expect_fail "$PXFS" mv "$S" "$p" x
	expect_fail "$PXFS" mkdir -p "$S" "$p"
	expect_fail "$PXFS" put "$S" "$D/small.txt" --to "$p"
	expect_err "invalid path '$p'"
	expect_fail "$PXFS" link "$S" "$(key_of "$S" small.txt)" "$p"
done
long=$(printf 'n%.0s' $(seq 256))
expect_fail "$PXFS" mkdir "$S" "$long"
expect_err "longer than 255"
expect_fail "$PXFS" put "$S" "$D/small.txt" --to "$long"
expect_fail "$PXFS" rm "$S" /
expect_fail "$PXFS" stat "$S" no/such/entry
expect_err "no/such|such"
unchanged "bad paths"

# ---- link: unknown and malformed keys --------------------------------------------------
unknown=$(printf 'unknown content\n' | sha256sum | cut -c1-64)
expect_fail "$PXFS" link "$S" "$unknown" /k
expect_err "unknown key '$unknown'"
for k in 123 "$(printf '%s' "$unknown" | tr a-f A-F)" "../../../../etc/passwd" \
	 "${unknown}0"; do
	expect_fail "$PXFS" link "$S" "$k" /k
	expect_err "invalid key"
done
unchanged "link"

# ---- blob missing or corrupt on cat / get ------------------------------------------------
key=$(key_of "$S" multi.bin)
blob_get "$S" "$key" >"$T/blob.bak"
printf 'keep me\n' >"$T/old-dest"

# missing
blob_remove "$S" "$key"
"$PXFS" cat "$S" multi.bin >"$T/cat.out" 2>"$T/cat.err" && fail "cat of a missing blob"
[ "$(wc -l <"$T/cat.err")" = 1 ] || fail "cat: $(cat "$T/cat.err")"
grep -q "/multi.bin" "$T/cat.err" && grep -q "$key" "$T/cat.err" ||
	fail "cat error does not name path and key: $(cat "$T/cat.err")"
[ ! -s "$T/cat.out" ] || fail "cat of a missing blob wrote bytes"
expect_fail "$PXFS" get "$S" multi.bin "$T/dest"
expect_err "/multi.bin.*$key|$key.*/multi.bin"
[ ! -e "$T/dest" ] || fail "get of a missing blob left DEST"
expect_fail "$PXFS" get "$S" multi.bin "$T/old-dest"
[ "$(cat "$T/old-dest")" = "keep me" ] || fail "failed get replaced DEST"
[ -z "$(find "$T" -maxdepth 1 -name '.pxfs-get-*')" ] || fail "get left a temp"
blob_put "$S" "$key" <"$T/blob.bak"
unchanged "missing blob"

# corrupt: a byte flipped in a late chunk (before the seek table, which
# is not trusted anyway) and in the first one
for off in -2000 20; do
	blob_put "$S" "$key" <"$T/blob.bak"
	blob_corrupt "$S" "$key" "$off"
	"$PXFS" cat "$S" multi.bin >"$T/cat.out" 2>"$T/cat.err" &&
		fail "cat of a corrupt blob succeeded"
	[ "$(wc -l <"$T/cat.err")" = 1 ] || fail "cat: $(cat "$T/cat.err")"
	grep -q "/multi.bin" "$T/cat.err" && grep -q "$key" "$T/cat.err" ||
		fail "cat error does not name path and key: $(cat "$T/cat.err")"
	# whatever cat wrote is a verified prefix of the content
	n=$(stat -c %s "$T/cat.out")
	[ "$n" -lt 100000 ] || fail "cat wrote all of a corrupt blob"
	cmp -n "$n" "$T/cat.out" "$D/multi.bin" || fail "cat wrote wrong bytes"
	expect_fail "$PXFS" get "$S" multi.bin "$T/dest"
	expect_err "$key"
	[ ! -e "$T/dest" ] || fail "get of a corrupt blob left DEST"
	expect_fail "$PXFS" get "$S" multi.bin "$T"
	[ ! -e "$T/multi.bin" ] || fail "get into a dir left DEST"
	[ -z "$(find "$T" -maxdepth 1 -name '.pxfs-get-*')" ] ||
		fail "get left a temp"
done
blob_put "$S" "$key" <"$T/blob.bak"
unchanged "corrupt blob"
"$PXFS" cat "$S" multi.bin | cmp - "$D/multi.bin" || fail "restored blob"

# ---- reading what is not a file ----------------------------------------------------------
expect_fail "$PXFS" cat "$S" tree
expect_err "'/tree'.*directory"
expect_fail "$PXFS" get "$S" tree "$T/dest"
expect_err "'/tree'.*directory"
unchanged "not a file"
exit 0
