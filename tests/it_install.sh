#!/bin/bash
# SPDX-License-Identifier: MIT
# it_install.sh - "make install DESTDIR=... PREFIX=/usr/local" installs the
# command, the manual page, the bash completion and the mount(8) helper,
# and a real "mount -t fuse.pxfs" and an fstab line (mount -T FILE) mount
# a store through them: both ways mount(8) finds pxfs, mount.fuse.pxfs in
# /sbin and fuse3's mount.fuse running pxfs from /usr/local/bin.  mount(8)
# only looks in /sbin and runs helpers without PATH, so the real mounts
# run in a mount namespace of their own (unshare -m) where the DESTDIR
# install is bound over /usr/sbin and /usr/local/bin: nothing outside the
# test sees them, and every mount is undone when the namespace goes.
. "$(dirname "$0")/lib.sh"

root=$(cd "$(dirname "$0")/.." && pwd)
O=$(dirname "$PXFS")
DEST=$T/dest
P=/usr/local

# ---- make install -----------------------------------------------------------
# -o: the binary under test is installed as it is, never rebuilt
make -s -C "$root" O="$O" -o "$O/pxfs" install DESTDIR="$DEST" PREFIX=$P \
	>"$T/make.log" 2>&1 || fail "make install: $(tail -n 5 "$T/make.log")"
for f in bin/pxfs sbin/mount.pxfs; do
	[ -x "$DEST$P/$f" ] || fail "no executable $P/$f"
done
[ "$(readlink "$DEST$P/sbin/mount.fuse.pxfs")" = mount.pxfs ] ||
	fail "mount.fuse.pxfs is not a link to mount.pxfs"
cmp "$root/tools/pxfs.1" "$DEST$P/share/man/man1/pxfs.1" ||
	fail "installed manual page differs"
[ -f "$DEST$P/share/bash-completion/completions/pxfs" ] ||
	fail "no bash completion"
[ "$(stat -c %a "$DEST$P/share/man/man1/pxfs.1")" = 644 ] ||
	fail "manual page mode"
cmp "$PXFS" "$DEST$P/bin/pxfs" || fail "installed pxfs is not the one built"
IPXFS=$DEST$P/bin/pxfs

# the installed manual page matches the installed command
MAN=$DEST$P/share/man/man1/pxfs.1 PXFS=$IPXFS \
	bash "$root/tests/it_man.sh" >"$T/man.log" 2>&1 ||
	fail "installed manual page: $(tail -n 3 "$T/man.log")"

# ---- bash completion: every command, every option ---------------------------
cat >"$T/complete.sh" <<'EOF'
# complete WORD...: the completions of the last word after "pxfs WORD..."
source "$COMPLETION"
complete_words() {
	COMP_WORDS=(pxfs "$@")
	COMP_CWORD=$#
	COMPREPLY=()
	_pxfs
	printf '%s\n' "${COMPREPLY[@]}"
}
EOF
comp() {
	COMPLETION="$DEST$P/share/bash-completion/completions/pxfs" \
	PATH="$DEST$P/bin:$PATH" bash -c ". '$T/complete.sh'; complete_words \"\$@\"" \
		complete "$@"
}
comp "" | sort >"$T/verbs"
"$IPXFS" help | awk '/^commands:/ { on = 1; next }
	on && /^  [a-z]/ { print $1 } on && /^$/ { exit }' | sort >"$T/want"
cmp "$T/want" "$T/verbs" || fail "completion of commands: $(cat "$T/verbs")"
comp ex | grep -qx export || fail "no completion of 'ex'"
comp -- | grep -qx -- --verbose || fail "no global options"
while read -r v; do
	comp "$v" - | sort >"$T/opts"
	"$IPXFS" help "$v" | python3 -c '
import re, sys
opt = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])")
lines = sys.stdin.read().splitlines()
found = set(opt.findall(lines[0]))
for line in lines[1:]:
    m = re.match(r"^\s+(-.*?)(?:\s{2,}|$)", line)
    if m:
        found |= set(opt.findall(m.group(1)))
print("\n".join(sorted(found)))' | sed '/^$/d' >"$T/wantopts"
	missing=$(comm -23 "$T/wantopts" "$T/opts")
	[ -z "$missing" ] || fail "completion of '$v -' lacks: $missing"
done <"$T/want"
comp lifetime "" | sort | tr '\n' ' ' | grep -q '^end extend ls $' ||
	fail "lifetime subcommands: $(comp lifetime "")"
comp init --connector "" | grep -qx redis || fail "--connector values"
comp help mo | grep -qx mount || fail "help CMD completion"

# ---- the helper's command line ----------------------------------------------
S=$T/store
M=$T/mnt
mkdir -p "$M"
new_store "$S"
printf 'through mount(8)\n' >"$T/f.txt"
expect_ok "$PXFS" put "$S" "$T/f.txt"
# -f: fake, everything checked and nothing mounted
expect_ok "$DEST$P/sbin/mount.fuse.pxfs" "$S" "$M" -f \
	-o rw,cache_size=1M,_netdev,dev,suid -t fuse.pxfs
grep -q " $M " /proc/mounts && fail "mount -f mounted"
_run "$DEST$P/sbin/mount.pxfs" "$S" "$M" -o cache_size=1M,bogus
[ "$RC" -ne 0 ] || fail "a bad option was accepted"
expect_err "unknown mount option 'bogus'"
_run "$DEST$P/sbin/mount.pxfs" "$S" "$M" -o ro -t ext4
[ "$RC" -ne 0 ] || fail "type ext4 was accepted"

# ---- real mounts through mount(8), in a mount namespace ---------------------
[ -c /dev/fuse ] || skip "no /dev/fuse"
is_root || skip "mount(8) with a helper in /sbin needs root"
command -v unshare >/dev/null || skip "no unshare (util-linux)"
unshare -m --propagation private true 2>/dev/null ||
	skip "cannot make a mount namespace"

cat >"$T/ns.sh" <<'EOF'
# run in a private mount namespace: T DEST P S M
set -eu
T=$1 DEST=$2 P=$3 S=$4 M=$5
fail() { echo "FAIL: ns: $*" >&2; exit 1; }
mounted() { awk -v m="$M" '$2 == m && $3 == "fuse.pxfs" { f = 1 }
	END { exit !f }' /proc/self/mounts; }
cleanup() {
	if mounted; then umount "$M" 2>/dev/null || umount -l "$M"; fi
}
trap cleanup EXIT
# /usr/sbin: the real one, plus our helper; /usr/local/bin: as needed
mkdir -p "$T/orig-sbin" "$T/sbin" "$T/lbin"
mount --bind /usr/sbin "$T/orig-sbin"
for f in "$T"/orig-sbin/*; do ln -s "$f" "$T/sbin/"; done
mount --bind "$T/sbin" /usr/sbin
mount --bind "$T/lbin" /usr/local/bin
export PATH="$DEST$P/bin:$PATH"

# 1. mount -t fuse.pxfs through /sbin/mount.fuse.pxfs (nothing in
#    /usr/local/bin: mount.fuse could not find pxfs)
ln -s "$DEST$P/sbin/mount.fuse.pxfs" "$T/sbin/mount.fuse.pxfs"
mount -t fuse.pxfs "$S" "$M" -o cache_size=64M,cache_dir="$T/c1" ||
	fail "mount -t fuse.pxfs"
mounted || fail "not mounted"
[ "$(cat "$M/f.txt")" = "through mount(8)" ] || fail "read"
[ -d "$T/c1" ] || fail "cache_dir= was not used"
umount "$M" || fail "umount"
mounted && fail "still mounted"

# 2. a bad option: one clear error, nothing mounted
if mount -t fuse.pxfs "$S" "$M" -o cache_size=1M,bogus 2>"$T/bad.err"; then
	fail "a bad option mounted"
fi
grep -q "unknown mount option 'bogus'" "$T/bad.err" ||
	fail "bad option: $(cat "$T/bad.err")"
mounted && fail "a bad option left a mount"

# 3. an fstab line, from a temporary fstab
printf '%s %s fuse.pxfs defaults,_netdev,cache_dir=%s 0 0\n' \
	"$S" "$M" "$T/c2" >"$T/fstab"
mount -T "$T/fstab" "$M" || fail "mount -T fstab"
mounted || fail "fstab: not mounted"
[ "$(cat "$M/f.txt")" = "through mount(8)" ] || fail "fstab: read"
umount "$M" || fail "fstab: umount"

# 4. fuse3's mount.fuse, which runs pxfs from /usr/local/bin
rm "$T/sbin/mount.fuse.pxfs"
ln -s "$DEST$P/bin/pxfs" "$T/lbin/pxfs"
mount -t fuse.pxfs "$S" "$M" -o ro,cache_size=32M,cache_dir="$T/c3" ||
	fail "mount -t fuse.pxfs through mount.fuse"
mounted || fail "mount.fuse: not mounted"
awk -v m="$M" '$2 == m { print $4 }' /proc/self/mounts | grep -q '^ro' ||
	fail "mount.fuse: not read-only"
[ "$(cat "$M/f.txt")" = "through mount(8)" ] || fail "mount.fuse: read"
umount "$M" || fail "mount.fuse: umount"
echo ns-ok
EOF
unshare -m --propagation private bash "$T/ns.sh" "$T" "$DEST" "$P" "$S" \
	"$M" >"$T/ns.out" 2>&1 || fail "$(tail -n 5 "$T/ns.out")"
grep -q ns-ok "$T/ns.out" || fail "namespace run: $(cat "$T/ns.out")"
grep -q " $M " /proc/mounts && fail "a mount leaked out of the namespace"
exit 0
