#!/bin/bash
# SPDX-License-Identifier: MIT
# it_cli_stats_prometheus.sh - "pxfs stats --prometheus MNT|STORE": the
# metrics in the Prometheus text exposition format (0.0.4), as
# node_exporter's textfile collector reads them: every line parses, each
# family is typed before its samples and kept together, no series twice,
# and the connector, cache and per-operation latency metrics are there
# with the traffic a read made.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"

need_fuse
S=$T/store
M=$T/mnt
mkdir -p "$M"
new_store "$S"
head -c 200000 /dev/urandom >"$T/f"
expect_ok "$PXFS" put "$S" "$T/f"

# validate FILE: check the exposition format; print "name{labels} value"
# lines for the caller to grep
validate() {
	python3 - "$1" <<'PY'
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
value = r'(?:[-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf)|NaN)'
sample = re.compile(r'^(' + name + r')(?:\{(' + label + r'(?:,' + label +
                    r')*)?\})? (' + value + r')(?: -?[0-9]+)?$')
comment = re.compile(r'^# (HELP|TYPE) (' + name + r') (.*)$')
types = {}
seen_series = set()
done_families = set()
current = None
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    if not line:
        continue
    m = comment.match(line)
    if m:
        if m.group(1) == "TYPE":
            assert m.group(3) in ("counter", "gauge", "summary",
                                  "histogram", "untyped"), line
            assert m.group(2) not in types, "TYPE twice: " + line
            types[m.group(2)] = m.group(3)
        continue
    assert not line.startswith("#"), "line %d: bad comment: %s" % (n, line)
    m = sample.match(line)
    assert m, "line %d does not parse: %r" % (n, line)
    metric = m.group(1)
    family = re.sub(r'_(count|sum|bucket)$', '', metric)
    if family not in types:
        family = metric
    assert family in types, "line %d: no TYPE for %s" % (n, metric)
    if types[family] == "counter":
        assert metric.endswith("_total"), metric
    if family != current:
        assert family not in done_families, \
            "line %d: %s samples are split" % (n, family)
        if current:
            done_families.add(current)
        current = family
    series = (metric, m.group(2))
    assert series not in seen_series, "line %d: series twice" % n
    seen_series.add(series)
    print("%s{%s} %s" % (metric, m.group(2) or "", m.group(3)))
PY
}

mount_bg "$S" "$M" --cache-dir "$T/cache"
cmp "$T/f" "$M/f" || fail "read through the mount"
ls -l "$M" >/dev/null
expect_ok "$PXFS" stats --prometheus "$M"
printf '%s\n' "$OUT" >"$T/prom"
validate "$T/prom" >"$T/samples" || fail "not the exposition format"
m="mount=\"$M\""
for want in \
	"^pxfs_connector_gets_total\{$m\} [1-9]" \
	"^pxfs_connector_get_bytes_total\{$m\} [1-9][0-9]*$" \
	"^pxfs_connector_errors_total\{$m\} 0$" \
	"^pxfs_cache_hits_total\{$m\} [0-9]" \
	"^pxfs_cache_misses_total\{$m\} [1-9]" \
	"^pxfs_cache_bytes\{$m\} [0-9]" \
	"^pxfs_cache_budget_bytes\{$m\} [1-9]" \
	"^pxfs_op_duration_seconds_count\{$m,op=\"lookup\"\} [1-9]" \
	"^pxfs_op_duration_seconds_sum\{$m,op=\"read\"\} [0-9.e-]+$" \
	"^pxfs_op_duration_max_seconds\{$m,op=\"open\"\} [0-9.e-]+$" \
	"^pxfs_uptime_seconds\{$m\} [0-9.]+$" \
	"^pxfs_info\{$m,pid=\"[0-9]+\",cache_dir=\"$T/cache\"\} 1$"; do
	grep -Eq "$want" "$T/samples" || fail "no sample like '$want'"
done
grep -q '^# TYPE pxfs_op_duration_seconds summary$' "$T/prom" ||
	fail "latency is not a summary"
# the counters follow the JSON document
gets=$(mstat "$M" 'd["connector"]["gets"]')
grep -Eq "^pxfs_connector_gets_total\{$m\} $gets$" "$T/samples" ||
	fail "gets disagree with the document ($gets)"
# a store: its totals
expect_ok "$PXFS" stats --prometheus "$S"
printf '%s\n' "$OUT" >"$T/prom2"
validate "$T/prom2" >"$T/samples2" || fail "store: not the exposition format"
grep -Eq "^pxfs_store_files\{store=\"$S\"\} 1$" "$T/samples2" ||
	fail "store files: $(cat "$T/samples2")"
expect_usage "$PXFS" stats --json --prometheus "$M"
unmount "$M"
exit 0
