#!/bin/bash
# SPDX-License-Identifier: MIT
# it_cli_json.sh - --json on every command that prints data: each output
# is one JSON document with the fields pxfs(1) and "pxfs help CMD" give
# (and no member the schema there does not name), and the commands that
# print nothing print nothing.
. "$(dirname "$0")/lib.sh"

S=$T/store
D=$T/data
mkdir -p "$D/dir" "$T/ps"
printf 'one\n' >"$D/dir/a.txt"
head -c 5000 /dev/urandom >"$D/dir/b.bin"
ln -s a.txt "$D/dir/link"

# check CMD... -- PY: run the command, parse stdout as JSON into d and
# assert the Python expression PY
check() {
	local py=${*: -1} n=$(($# - 2))
	"${@:1:$n}" >"$T/json" 2>"$T/err" ||
		fail "'${*:1:$n}' exited $?: $(cat "$T/err")"
	"$PXFS" help "$2" >"$T/help"
	python3 - "$T/json" "$py" "$T/help" <<'EOF' || fail "'${*:1:$n}': $(cat "$T/json")"
import json, re, sys
d = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print("assertion failed: " + sys.argv[2], file=sys.stderr)
    sys.exit(1)
# every member is one the schema in "pxfs help CMD" names
block, on = [], False
for line in open(sys.argv[3]).read().splitlines():
    if re.match(r'^\s+--json\b', line):
        on = True
    elif on and (re.match(r'^\s+-', line) or re.match(r'^\S', line)):
        break
    if on:
        block.append(line)
doc = set(re.findall(r'"([a-z_]+)"', "\n".join(block)))
def members(v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            out.add(k)
            members(x, out)
    elif isinstance(v, list):
        for x in v:
            members(x, out)
    return out
extra = members(d, set()) - doc
if extra:
    print("not in the documented schema: %s" % sorted(extra),
          file=sys.stderr)
    sys.exit(1)
EOF
}

init_opts
check "$PXFS" init --json "$S" "${INIT_OPTS[@]}" -- \
	'd["store"].endswith("/store") and len(d["id"]) == 32 and d["connector"] in ("file", "redis") and d["chunk_size"] == 1048576 and d["level"] == 3'
at_exit "'$PXFS' lifetime end '$S' never-made >/dev/null 2>&1"
check "$PXFS" put --json "$S" "$D/dir" --to top --lifetime job -- \
	'd["to"] == "/top" and d["files"] == 2 and d["dirs"] == 1 and d["symlinks"] == 1 and d["bytes"] == 5004 and d["lifetime"] == "job" and d["evict_on_read"] is False'
check "$PXFS" ls --json "$S" top/dir -- \
	'[e["name"] for e in d["entries"]] == ["a.txt", "b.bin", "link"] and d["entries"][2]["target"] == "a.txt"'
check "$PXFS" stat --json "$S" top/dir/a.txt -- \
	'd["kind"] == "file" and d["size"] == 4 and d["state"] == "ready" and d["source"] is None and len(d["hash"]) == 64'
check "$PXFS" future --json "$S" top/later -- \
	'd["path"] == "/top/later" and len(d["key"]) == 64 and d["state"] == "pending"'
check "$PXFS" set --json "$S" top/later "$D/dir/a.txt" -- \
	'd["path"] == "/top/later" and d["size"] == 4 and len(d["key"]) == 64'
check "$PXFS" lifetime --json extend "$S" job 3600 -- \
	'd["lifetime"] == "job" and d["expires"].endswith("Z") and d["expires_ns"] > 0'
check "$PXFS" lifetime ls --json "$S" -- \
	'd["lifetimes"][0]["name"] == "job" and d["lifetimes"][0]["entries"] == 1'
check "$PXFS" fsck --json "$S" -- 'd["clean"] is True and d["problems"] == []'
check "$PXFS" stats --json "$S" -- \
	'd["files"] == 3 and d["symlinks"] == 1 and "conn_gets" in d["metrics"]'
check "$PXFS" ref --json "$S" top/dir/a.txt -- \
	'd["ref"].startswith("pxfs://") and d["size"] == 4'
check "$PXFS" publish --json "$S" -- \
	'd["snapshot"].startswith("pxfs://") and d["tag"] is None'
check "$PXFS" export --json "$S" top/dir/a.txt --proxystore "file:$T/ps" -- \
	'd["size"] == 4 and len(d["uuid"]) == 36 and d["proxystore"].startswith("file:/")'
check "$PXFS" import --json "$S" --proxystore "file:$T/ps" --to ps -- \
	'd["to"] == "/ps" and len(d["imported"]) == 1 and d["imported"][0]["size"] == 4'
check "$PXFS" lifetime end --json "$S" job -- \
	'd["lifetime"] == "job" and d["removed"] == 1'
check "$PXFS" gc --json "$S" -- \
	'isinstance(d["actions"], list) and d["removed"] >= 0 and d["freed_bytes"] >= 0'

# data commands without --json print nothing on success
expect_ok "$PXFS" mkdir "$S" quiet
[ -z "$OUT" ] || fail "mkdir printed '$OUT'"
expect_ok "$PXFS" mv "$S" quiet quieter
[ -z "$OUT" ] || fail "mv printed '$OUT'"
expect_ok "$PXFS" rm -r "$S" quieter
[ -z "$OUT" ] || fail "rm printed '$OUT'"

# every command's help that lists --json gives a schema ({...})
expect_ok "$PXFS" help
for c in $(printf '%s\n' "$OUT" | awk '/^commands:/ { on = 1; next }
	on && /^  [a-z]/ { print $1 } on && /^$/ { exit }'); do
	h=$("$PXFS" help "$c")
	printf '%s\n' "$h" | grep -Eq -- '^ +--json' || continue
	printf '%s\n' "$h" | grep -Eq -- '^ +--json .*\{' ||
		fail "help $c lists --json without a schema"
done
exit 0
