#!/bin/bash
# SPDX-License-Identifier: MIT
# it_mount_read.sh - the factory: unmodified programs read proxied objects
# byte for byte (cat, cmp, sha256sum, dd at odd offsets and sizes, Python
# read and mmap, sqlite3 on an immutable database, tar -tf, grep -r), and 32
# processes opening one cold object at once cause exactly one fetch.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"
need_fuse
command -v sqlite3 >/dev/null || fail "sqlite3 is required"

S=$T/store
D=$T/data
M=$T/mnt
mkdir -p "$D/tree" "$M"

# ---- data: odd sizes, chunk boundaries, real formats ----------------------
: >"$D/empty"
printf 'x' >"$D/one"
head -c $((1 << 20)) /dev/urandom >"$D/mib"		# exactly one chunk
head -c $((3 * (1 << 20) + 17)) /dev/urandom >"$D/random"
python3 - "$D/text" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(200000):
        f.write("line %06d: the quick brown fox %d\n" % (i, i * 7919 % 1000))
EOF
sqlite3 "$D/db.sqlite" <<'EOF'
PRAGMA page_size = 4096;
CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, v REAL);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000)
INSERT INTO t SELECT i, 'name-' || i, i * 0.5 FROM c;
CREATE INDEX t_name ON t(name);
EOF
for i in $(seq 30); do
	mkdir -p "$D/tree/d$((i % 4))"
	printf 'file %d\nneedle-%d here\nnothing\n' "$i" "$((i % 7))" \
		>"$D/tree/d$((i % 4))/f$i.txt"
done
tar -cf "$D/archive.tar" -C "$D" tree text
new_store "$S" --chunk-size 64K
expect_ok "$PXFS" put "$S" "$D"/*
mkdir "$T/cold"
head -c $((2 * (1 << 20) + 5)) /dev/urandom >"$T/cold/random"
expect_ok "$PXFS" put "$S" "$T/cold"		# for single flight
mount_bg "$S" "$M" --cache-dir "$T/cache"

# ---- cat, cmp, sha256sum -----------------------------------------------------
for f in empty one mib random text db.sqlite archive.tar; do
	cmp "$D/$f" "$M/$f" || fail "cmp $f"
	[ "$(cat "$M/$f" | sha256sum)" = "$(sha256sum <"$D/$f")" ] ||
		fail "cat | sha256sum $f"
	[ "$(sha256sum <"$M/$f")" = "$(sha256sum <"$D/$f")" ] ||
		fail "sha256sum $f"
done
(cd "$D" && find tree -type f -exec sha256sum {} + | sort) >"$T/want"
(cd "$M" && find tree -type f -exec sha256sum {} + | sort) >"$T/got"
cmp "$T/want" "$T/got" || fail "tree contents differ"

# ---- dd at odd offsets and sizes, over chunk boundaries -------------------
size=$(stat -c %s "$D/random")
for spec in 0:1 1:1 4095:2 65535:3 65536:65536 65537:131071 \
	    1048575:1048577 3000001:70000 $((size - 1)):1 $((size - 5)):100 \
	    $size:10 $((size + 4096)):10; do
	off=${spec%%:*}
	n=${spec##*:}
	for bs in 1 4096 65537 1048576; do
		[ "$bs" = 1 ] && [ "$n" -gt 5000 ] && continue
		a=$(dd if="$D/random" iflag=skip_bytes,count_bytes skip="$off" \
			count="$n" bs="$bs" status=none | sha256sum)
		b=$(dd if="$M/random" iflag=skip_bytes,count_bytes skip="$off" \
			count="$n" bs="$bs" status=none | sha256sum)
		[ "$a" = "$b" ] || fail "dd skip=$off count=$n bs=$bs"
	done
done

# ---- Python: read(), odd seeks, mmap ----------------------------------------
python3 - "$D" "$M" <<'EOF' || fail "python reads differ"
import mmap, os, random, sys
d, m = sys.argv[1], sys.argv[2]
rnd = random.Random(11)
for name in ("one", "mib", "random", "text", "db.sqlite"):
    want = open(os.path.join(d, name), "rb").read()
    with open(os.path.join(m, name), "rb") as f:
        assert f.read() == want, name
        for _ in range(200):
            off = rnd.randrange(len(want) + 10)
            n = rnd.randrange(1, 200000)
            f.seek(off)
            assert f.read(n) == want[off:off + n], (name, off, n)
    with open(os.path.join(m, name), "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        assert len(mm) == len(want)
        assert mm[:] == want, name
        for _ in range(200):
            off = rnd.randrange(len(want))
            n = rnd.randrange(1, 100000)
            assert mm[off:off + n] == want[off:off + n], (name, off, n)
        mm.close()
with open(os.path.join(m, "text"), "r") as f:
    assert f.readlines()[123456] == "line 123456: the quick brown fox %d\n" % (
        123456 * 7919 % 1000)
EOF

# ---- sqlite3, tar, grep -r ------------------------------------------------
q='SELECT count(*), sum(v), max(name) FROM t WHERE name LIKE "name-1%";'
want=$(sqlite3 "file:$D/db.sqlite?immutable=1" "$q")
got=$(sqlite3 "file:$M/db.sqlite?immutable=1" "$q")
[ -n "$want" ] && [ "$got" = "$want" ] || fail "sqlite3: '$got' != '$want'"
got=$(sqlite3 "file:$M/db.sqlite?immutable=1" 'PRAGMA integrity_check;')
[ "$got" = ok ] || fail "integrity_check: $got"
[ "$(tar -tf "$M/archive.tar")" = "$(tar -tf "$D/archive.tar")" ] ||
	fail "tar -tf"
mkdir "$T/x"
tar -xf "$M/archive.tar" -C "$T/x"
cmp "$T/x/text" "$D/text" || fail "tar -x of the stored archive"
want=$(cd "$D" && grep -r 'needle-3' tree | sort)
got=$(cd "$M" && grep -r 'needle-3' tree | sort)
[ -n "$want" ] && [ "$got" = "$want" ] || fail "grep -r: '$got'"
[ "$(cd "$M" && grep -rc . tree | sort)" = "$(cd "$D" && grep -rc . tree |
	sort)" ] || fail "grep -rc"

# ---- single flight: 32 cold readers, one fetch per chunk -------------------
# The connector counts a get per chunk: one fetch per chunk is as many
# cache misses and gets as the object has chunks, and at most one
# object's worth of stored bytes fetched.
[ "$(xattr "$M/cold/random" user.pxfs.resolved)" = 0 ] || fail "cold is warm"
stored=$(xattr "$M/cold/random" user.pxfs.stored_size)
b0=$(mstat "$M" 'd["connector"]["get_bytes"]')
m0=$(mstat "$M" 'd["cache"]["misses"]')
readers 32 "$M/cold/random" "$T/cold/random"
b1=$(mstat "$M" 'd["connector"]["get_bytes"]')
m1=$(mstat "$M" 'd["cache"]["misses"]')
nchunks=$(( ($(stat -c %s "$T/cold/random") + 65535) / 65536 ))
[ $((m1 - m0)) = "$nchunks" ] ||
	fail "32 readers caused $((m1 - m0)) fetches of $nchunks chunks"
[ $((b1 - b0)) -gt 0 ] && [ $((b1 - b0)) -le "$stored" ] ||
	fail "32 readers fetched $((b1 - b0)) bytes of a $stored-byte blob"
# warm now: re-reading costs nothing
cat "$M/cold/random" >/dev/null
[ "$(mstat "$M" 'd["connector"]["get_bytes"]')" = "$b1" ] ||
	fail "a warm read fetched"
[ "$(mstat "$M" 'd["errors"]')" = 0 ] || fail "errors counted"

unmount "$M"
