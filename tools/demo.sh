#!/bin/bash
# demo.sh - the README's main job: a store on the embedded file connector,
# some sample data put into it, shown through the CLI and then through a
# real FUSE mount that unmodified programs read.
#
# PXFS names the binary (the Makefile sets it).  DEMO_DIR (default
# /tmp/pxfs-demo) holds the store, the sample data and the mountpoint; it
# is made afresh each run and left for you to explore, unmounted.
set -euo pipefail

PXFS=${PXFS:-$(dirname "$0")/../build/pxfs}
DEMO_DIR=${DEMO_DIR:-/tmp/pxfs-demo}
STORE=$DEMO_DIR/store
DATA=$DEMO_DIR/data
MNT=$DEMO_DIR/mnt

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { step "$*"; "$@"; }

cleanup() {
	if mountpoint -q "$MNT" 2>/dev/null; then
		"$PXFS" umount "$MNT" || fusermount3 -uz "$MNT" || true
	fi
}
trap cleanup EXIT

if mountpoint -q "$MNT" 2>/dev/null; then
	"$PXFS" umount "$MNT"
fi
rm -rf "$DEMO_DIR"
mkdir -p "$DATA/results/run1" "$DATA/results/run2" "$MNT"

# Sample data: text, a CSV, a SQLite database, random bytes, a symlink.
python3 - "$DATA" <<'PY'
import os, random, sqlite3, sys
d = sys.argv[1]
random.seed(42)
with open(f"{d}/README.txt", "w") as f:
    f.write("Objects in this store are proxies: nothing is fetched until read.\n")
for run in ("run1", "run2"):
    with open(f"{d}/results/{run}/metrics.csv", "w") as f:
        f.write("step,loss,accuracy\n")
        for i in range(20000):
            f.write(f"{i},{1/(i+1):.6f},{min(0.99, i/20000):.4f}\n")
with open(f"{d}/results/run1/weights.bin", "wb") as f:
    f.write(random.randbytes(3 << 20))
db = sqlite3.connect(f"{d}/catalog.sqlite")
db.execute("CREATE TABLE runs(name TEXT, steps INTEGER, best REAL)")
db.executemany("INSERT INTO runs VALUES(?,?,?)",
               [("run1", 20000, 0.99), ("run2", 20000, 0.98)])
db.commit()
db.close()
PY
ln -s results/run1/metrics.csv "$DATA/latest.csv"
# the same content twice: one blob, two references
cp "$DATA/results/run1/metrics.csv" "$DATA/results/run2/metrics.csv"

run "$PXFS" init "$STORE"
run "$PXFS" put "$STORE" "$DATA"/README.txt "$DATA"/catalog.sqlite \
	"$DATA"/latest.csv "$DATA"/results
run "$PXFS" ls -l "$STORE"
run "$PXFS" ls -l "$STORE" results/run1
run "$PXFS" stat "$STORE" results/run1/weights.bin
run "$PXFS" cat "$STORE" README.txt
run "$PXFS" stats "$STORE"

step "$PXFS mount $STORE $MNT --cache-dir $DEMO_DIR/cache"
"$PXFS" mount "$STORE" "$MNT" --cache-dir "$DEMO_DIR/cache"
run ls -lR "$MNT"
step "getfattr -d $MNT/results/run1/weights.bin   # answered from the index"
getfattr -d "$MNT/results/run1/weights.bin"
step "cmp $DATA/results/run1/weights.bin $MNT/results/run1/weights.bin"
cmp "$DATA/results/run1/weights.bin" "$MNT/results/run1/weights.bin" &&
	echo "identical"
step "sqlite3 'file:$MNT/catalog.sqlite?immutable=1' 'SELECT * FROM runs'"
sqlite3 "file:$MNT/catalog.sqlite?immutable=1" 'SELECT * FROM runs'
run head -3 "$MNT/latest.csv"
run "$PXFS" stats "$MNT"
run "$PXFS" umount "$MNT"
run "$PXFS" fsck "$STORE"
printf '\nThe demo store is in %s; mount it again with:\n  %s mount %s %s\n' \
	"$STORE" "$PXFS" "$STORE" "$MNT"
