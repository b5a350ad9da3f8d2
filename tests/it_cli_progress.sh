#!/bin/bash
# SPDX-License-Identifier: MIT
# it_cli_progress.sh - the progress line of put, get, cat and publish
# (bytes, rate, ETA) on a terminal, faked with script(1), and silence
# otherwise: when stderr is not a terminal, with -q, and for cat when
# stdout is the terminal.  An error or a -v line erases the progress line
# and stands on a line of its own.  Also the global options -q and -v
# (resolve --wait: it_cli_resolve.sh).
. "$(dirname "$0")/lib.sh"

command -v script >/dev/null || skip "script (util-linux) is not installed"
S=$T/store
new_store "$S"
head -c 20000000 /dev/urandom >"$T/f"
export PXFS_PROGRESS_MS=10

# on_tty CMD: run the shell command CMD with a terminal for its stdin,
# stdout and stderr; what the terminal showed goes to $T/tty, one line
# per redraw
on_tty() {
	script -qec "$1" /dev/null </dev/null | tr '\r' '\n' |
		sed 's/\x1b\[K//g' >"$T/tty"
}

# ---- put --------------------------------------------------------------------
on_tty "'$PXFS' put '$S' '$T/f'"
grep -Eq '^put: [0-9.]+ [KM]?i?B / 19\.1 MiB +[0-9]+%  [0-9.]+ [KM]?i?B/s' \
	"$T/tty" || fail "put drew no progress line: $(head -c 600 "$T/tty")"
grep -q 'put 1 file' "$T/tty" || fail "put's summary is missing"

# ---- cat: a slow reader, so the line is drawn and an ETA shown -------------
on_tty "'$PXFS' cat '$S' f | (sleep 1; cat >'$T/out')"
cmp "$T/f" "$T/out" || fail "cat through the progress pipe differs"
grep -Eq '^cat: [0-9.]+ [KM]?i?B / 19\.1 MiB +[0-9]+%  [0-9.]+ [KM]?i?B/s  ETA [0-9]+:[0-9]{2}:[0-9]{2}' \
	"$T/tty" || fail "cat drew no progress line: $(head -c 600 "$T/tty")"
# cat to the terminal itself: no line over the content
seq 1 400000 >"$T/lines"
expect_ok "$PXFS" put "$S" "$T/lines"
on_tty "'$PXFS' cat '$S' lines"
grep -q '^400000' "$T/tty" || fail "cat to the terminal: $(tail -c 300 "$T/tty")"
grep -q 'cat:' "$T/tty" && fail "cat drew a line over its output"
# a reader that goes away: no hang, no line left behind
on_tty "'$PXFS' cat '$S' f | head -c 1000 >/dev/null; echo done"
grep -q 'done' "$T/tty" || fail "cat into a closed pipe hung"

# ---- get --------------------------------------------------------------------
on_tty "'$PXFS' get '$S' f '$T/got'"
cmp "$T/f" "$T/got" || fail "get differs"
grep -Eq '^get: [0-9.]+ [KM]?i?B / 19\.1 MiB' "$T/tty" ||
	fail "get drew no progress line: $(head -c 600 "$T/tty")"

# ---- publish: the snapshot as it is stored --------------------------------
# a slow level, so that storing the snapshot lasts several redraws
P=$T/pub
new_store "$P" --level 19
mkdir -p "$T/many"
for i in $(seq 3000); do
	printf '%s\n' "$i" >"$T/many/file-with-a-longer-name-$i"
done
expect_ok "$PXFS" put "$P" "$T/many"
on_tty "'$PXFS' -v publish '$P'"
snap=$(sed -n 's/^pxfs: publish: snapshot [0-9a-f]\{64\}: \([0-9.]* [KM]\?i\?B\), .* stored$/\1/p' \
	"$T/tty")
[ -n "$snap" ] || fail "publish -v: no snapshot line: $(head -c 600 "$T/tty")"
grep -Eq "^publish: [0-9.]+ [KM]?i?B / $snap +[0-9]+%  [0-9.]+ [KMG]?i?B/s" \
	"$T/tty" || fail "publish drew no progress line: $(head -c 600 "$T/tty")"
# the store's own figures (store_set_progress): they reach the whole
grep -Eq "^publish: $snap / $snap +100%" "$T/tty" ||
	fail "publish's line never reached 100%: $(tail -c 600 "$T/tty")"
grep -q '^pxfs://.*/snapshot/' "$T/tty" || fail "publish printed no reference"
"$PXFS" publish "$P" >/dev/null 2>"$T/err" || fail "publish"
[ ! -s "$T/err" ] || fail "publish wrote to a stderr that is not a terminal"

# ---- an error while the line is shown: on a line of its own ---------------
key=$(key_of "$S" f)
blob_get "$S" "$key" >"$T/f.blob"
blob_corrupt "$S" "$key" -2000000
on_tty "'$PXFS' cat '$S' f | (sleep 1; cat >/dev/null)"
grep -q "^pxfs: cat: cannot read '/f' (key $key): " "$T/tty" ||
	fail "the error is not on a line of its own: $(head -c 900 "$T/tty")"
grep -Eq '^cat: [0-9.]+ [KM]?i?B / 19\.1 MiB' "$T/tty" ||
	fail "cat drew no progress line before the error"
blob_remove "$S" "$key"
blob_put "$S" "$key" <"$T/f.blob"

# ---- -v: one line per file, on lines of their own -------------------------
on_tty "'$PXFS' -v put '$S' '$T/f' --to verbose; '$PXFS' -v get '$S' verbose/f '$T/got-v'; '$PXFS' -v cat '$S' verbose/f | cat >/dev/null"
grep -q "^pxfs: put: '$T/f' -> '/verbose/f': 19\.1 MiB, application/octet-stream[^,]*, key $key$" \
	"$T/tty" || fail "put -v: $(grep pxfs: "$T/tty")"
grep -q "^pxfs: get: '/verbose/f' -> '$T/got-v': 19\.1 MiB, key $key$" \
	"$T/tty" || fail "get -v: $(grep pxfs: "$T/tty")"
grep -q "^pxfs: cat: '/verbose/f': 19\.1 MiB, key $key$" "$T/tty" ||
	fail "cat -v: $(grep pxfs: "$T/tty")"
expect_ok "$PXFS" put "$S" "$T/lines" --to not-verbose
[ -z "$ERR" ] || fail "put without -v wrote '$ERR'"
fsck_clean "$S"

# ---- silent: not a terminal, or -q -----------------------------------------
"$PXFS" cat "$S" f 2>"$T/err" | cat >/dev/null
[ ! -s "$T/err" ] || fail "cat wrote to a stderr that is not a terminal"
"$PXFS" put "$S" "$T/f" --to quiet >/dev/null 2>"$T/err"
[ ! -s "$T/err" ] || fail "put wrote to a stderr that is not a terminal"
on_tty "'$PXFS' -q cat '$S' f | cat >/dev/null; '$PXFS' -q get '$S' f '$T/got2'; '$PXFS' --quiet put '$S' '$T/f' --to q2"
grep -Eq '^(cat|get|put):' "$T/tty" && fail "-q drew progress: $(head -c 600 "$T/tty")"
cmp "$T/f" "$T/got2" || fail "get -q differs"

# -q: no status lines either; data and --json still come out
expect_ok "$PXFS" -q put "$S" "$T/lines" --to q3
[ -z "$OUT" ] || fail "put -q printed '$OUT'"
expect_ok "$PXFS" -q put --json "$S" "$T/lines" --to q4
case $OUT in '{"store"'*) ;; *) fail "put -q --json printed '$OUT'" ;; esac
expect_ok "$PXFS" -q ls "$S" q3
[ "$OUT" = lines ] || fail "ls -q printed '$OUT'"

# ---- global options ---------------------------------------------------------
expect_ok "$PXFS" -v ls "$S"
expect_ok "$PXFS" -q -v ls "$S"
expect_ok "$PXFS" --verbose --quiet help
expect_usage "$PXFS" -x ls "$S"
expect_err "unknown option '-x'"
expect_usage "$PXFS" -q
expect_ok "$PXFS" help
printf '%s\n' "$OUT" | grep -q -- '-q, --quiet' || fail "help lacks -q"
exit 0
