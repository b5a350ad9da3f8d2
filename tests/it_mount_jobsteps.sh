#!/bin/bash
# SPDX-License-Identifier: MIT
# it_mount_jobsteps.sh - the README's two job steps: step 1 writes its
# results through its own mount and unmounts; step 2, another process
# with its own mount and its own cache directory (as on another node
# sharing the store directory), lists them without fetching anything and
# reads them lazily: only the file it reads is fetched.  Then the other
# order: step 2 starts first and waits on a future that step 1 fulfils by
# writing the file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse

S=$T/shared/store
M1=$T/step1
M2=$T/step2
mkdir -p "$T/shared" "$M1" "$M2"
new_store "$S"

# ---- step 1: a producer writes through its mount -------------------------
mount_bg "$S" "$M1" --cache-dir "$T/step1-cache"
mkdir -p "$M1/run42"
python3 - "$M1/run42" <<'EOF' || fail "step 1"
import os, random, sys
out = sys.argv[1]
random.seed(42)
with open(os.path.join(out, "summary.csv"), "w") as f:
    f.write("step,value\n")
    for i in range(1000):
        f.write("%d,%.6f\n" % (i, random.random()))
for k in range(5):
    with open(os.path.join(out, "field%d.bin" % k), "wb") as f:
        f.write(os.urandom(300000))
EOF
cp "$M1/run42/summary.csv" "$T/want.csv"
unmount "$M1"

# ---- step 2: a consumer with its own mount and cache reads lazily --------
mount_bg "$S" "$M2" --cache-dir "$T/step2-cache"
[ "$(ls "$M2/run42" | wc -l)" = 6 ] || fail "step 2 sees $(ls "$M2/run42")"
ls -l "$M2/run42" >/dev/null
[ "$(stat -c %s "$M2/run42/field3.bin")" = 300000 ] || fail "size"
[ "$(mstat "$M2" 'd["connector"]["gets"]')" = 0 ] ||
	fail "listing fetched: $(mstat "$M2" 'd["connector"]')"
[ "$(xattr "$M2/run42/summary.csv" user.pxfs.resolved)" = 0 ] ||
	fail "resolved before reading"
python3 - "$M2/run42/summary.csv" <<'EOF' || fail "step 2 analysis"
import sys
rows = open(sys.argv[1]).read().splitlines()[1:]
assert len(rows) == 1000, len(rows)
print(sum(float(r.split(",")[1]) for r in rows) / len(rows))
EOF
cmp "$M2/run42/summary.csv" "$T/want.csv" || fail "summary differs"
[ "$(xattr "$M2/run42/summary.csv" user.pxfs.resolved)" = 1 ] ||
	fail "not resolved after reading"
for k in 0 1 2 3 4; do
	[ "$(xattr "$M2/run42/field$k.bin" user.pxfs.resolved)" = 0 ] ||
		fail "field$k.bin was fetched"
done
[ "$(mstat "$M2" 'd["connector"]["gets"] > 0')" = True ] || fail "no fetch"
[ -z "$(ls -A "$T/step2-cache/staging" 2>/dev/null)" ] || fail "staging"
unmount "$M2"

# ---- the other order: step 2 first, waiting on a future -------------------
expect_ok "$PXFS" future "$S" run42/late.csv --timeout 30 --poll 50
mount_bg "$S" "$M2" --cache-dir "$T/step2-cache"
cat "$M2/run42/late.csv" >"$T/late.got" 2>"$T/late.err" &
consumer=$!
sleep 1
kill -0 $consumer 2>/dev/null || fail "step 2 did not wait: $(cat "$T/late.err")"
mount_bg "$S" "$M1" --cache-dir "$T/step1-cache"
printf 'late,1\n' >"$M1/run42/late.csv"
wait $consumer || fail "step 2 failed: $(cat "$T/late.err")"
[ "$(cat "$T/late.got")" = "late,1" ] || fail "step 2 got '$(cat "$T/late.got")'"
unmount "$M1"
unmount "$M2"
fsck_clean "$S"
