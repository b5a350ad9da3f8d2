#!/bin/bash
# SPDX-License-Identifier: MIT
# it_man.sh - the manual page and "pxfs help" say the same: every command
# has a subsection in pxfs.1 (and no subsection names a command pxfs does
# not have), and each subsection documents (one .TP each) exactly the
# options "pxfs help CMD" lists, in its usage line and its option lines,
# and its heading names the same operands (STORE, PATH...) in the same
# order as the usage line.
# Also: the page renders without groff warnings, and documents the global
# options, the exit statuses and the xattrs.  MAN=path checks another
# copy (an installed one).
. "$(dirname "$0")/lib.sh"

MAN=${MAN:-$(cd "$(dirname "$0")/.." && pwd)/tools/pxfs.1}
[ -f "$MAN" ] || fail "no manual page at '$MAN'"

expect_ok "$PXFS" help
printf '%s\n' "$OUT" >"$T/overview"
for c in $(awk '/^commands:/ { on = 1; next }
		on && /^  [a-z]/ { print $1 } on && /^$/ { exit }' \
		"$T/overview"); do
	"$PXFS" help "$c" >"$T/help.$c" || fail "help $c"
	printf '%s\n' "$c" >>"$T/commands"
done
[ "$(wc -l <"$T/commands")" -ge 20 ] || fail "too few commands listed"

python3 - "$MAN" "$T" <<'PY' || fail "pxfs.1 and pxfs help disagree"
import os, re, sys
man, tmp = sys.argv[1], sys.argv[2]
opt = re.compile(r'(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])')

def plain(roff):
    s = roff.replace('\\-', '-').replace('\\(dq', '"')
    s = re.sub(r'\\f[BIRP]', '', s)
    s = re.sub(r'^\.[A-Z]{1,2} ?', '', s)
    return s

def help_options(text):
    lines = text.splitlines()
    found = set(opt.findall(lines[0]))           # the usage line
    for line in lines[1:]:
        m = re.match(r'^\s+(-.*?)(?:\s{2,}|$)', line)
        if m:                                    # an option line
            found |= set(opt.findall(m.group(1)))
    return found

commands = open(os.path.join(tmp, "commands")).read().split()
src = open(man).read().splitlines()
# the COMMANDS section, split by .SS "pxfs CMD ..."
sections, heads, cur, on = {}, {}, None, False
for i, line in enumerate(src):
    if line.startswith('.SH'):
        on = line.strip() == '.SH COMMANDS'
        cur = None
        continue
    if not on:
        continue
    m = re.match(r'^\.SS "pxfs ([a-z]+)(.*)"', line)
    if m:
        cur = m.group(1)
        assert cur not in sections, "two sections for " + cur
        sections[cur] = set()
        heads[cur] = plain(m.group(2))
        continue
    if cur and line.startswith('.TP') and i + 1 < len(src):
        sections[cur] |= set(opt.findall(plain(src[i + 1])))
bad = []
for c in commands:
    if c not in sections:
        bad.append("%s: no section in the manual page" % c)
        continue
    text = open(os.path.join(tmp, "help." + c)).read()
    # the same operands, in the same order, as the usage line
    def words(u):
        u = re.sub(r'--?[a-zA-Z][\w-]*(?:[ =][A-Z][\w|.:/]*)?', '', u)
        return re.findall(r'\b[A-Z][A-Z0-9_]+\b(?:\.\.\.)?', u)
    usage = text.splitlines()[0]
    if words(usage) != words(heads[c]):
        bad.append("%s: usage has %s, the manual page %s" %
                   (c, words(usage), words(heads[c])))
    h = help_options(text)
    if h != sections[c]:
        bad.append("%s: help has %s, the manual page %s" %
                   (c, sorted(h - sections[c]), sorted(sections[c] - h)))
for c in sections:
    if c not in commands:
        bad.append("%s: in the manual page, not a command" % c)
text = "\n".join(src)
for need in (r'\.SH "?EXIT STATUS', r'\.SH "?EXTENDED ATTRIBUTES',
             r'\.SH "?JSON OUTPUT', r'\.SH "?CONSISTENCY',
             r'\.SH "?PROXYSTORE', r'close-to-open',
             r'user\.pxfs\.stats', r'user\.pxfs\.resolved',
             r'\\-\\-quiet', r'\\-\\-verbose', r'fuse\.pxfs'):
    if not re.search(need, text):
        bad.append("the manual page lacks " + need)
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

grep -q -- '-q, --quiet' "$T/overview" || fail "help lacks the global options"
if command -v groff >/dev/null; then
	LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$MAN" 2>"$T/groff"
	[ ! -s "$T/groff" ] || fail "groff warns: $(head -n 5 "$T/groff")"
fi
if command -v man >/dev/null; then
	MANWIDTH=80 man -l "$MAN" >"$T/rendered" 2>/dev/null ||
		fail "man cannot render '$MAN'"
	grep -q 'pxfs stats' "$T/rendered" || fail "rendered page lacks stats"
fi
exit 0
