#!/bin/bash
# SPDX-License-Identifier: MIT
# it_jobscript.sh - the batch job of README.md ("A batch job") runs as
# written: the script is cut out of the README and run with a stand-in
# for srun, the test's own connector and directories, and stand-ins for
# the two steps.  Step 2 starts first and waits on the future until step 1
# has written the file through the mount; the job's lifetime removes
# everything at the end, and the mount goes with the trap.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"

need_fuse
root=$(cd "$(dirname "$0")/.." && pwd)
W=$T/job
mkdir -p "$W/inputs" "$W/tmp" "$W/home/metrics" "$T/local" "$T/tmpdir"
cd "$W"

# the script as the README has it, its paths moved into $T
awk '/^    #!\/bin\/bash$/ { on = 1 }
     on && /^$/ && seen { exit }
     on { sub(/^    /, ""); print; if (/lifetime end/) seen = 1 }' \
	"$root/README.md" >"$W/job.sh"
grep -q 'pxfs lifetime end' "$W/job.sh" || fail "no job script in README.md"
sed -i -e "s|/local/\$USER|$T/local|g" -e "s|/tmp/\$USER|$T/tmpdir|g" \
	"$W/job.sh"

printf 'input one\n' >"$W/inputs/a.dat"
printf 'input two\n' >"$W/inputs/b.dat"
# step 1: read the inputs, write the outputs and, last, the statistics
cat >"$W/simulate" <<'EOF'
#!/bin/bash
set -eu
while [ $# -gt 0 ]; do
	case $1 in
	--in) in=$2 ;; --out) out=$2 ;; --stats) stats=$2 ;;
	esac
	shift 2
done
sleep 1
mkdir -p "$out"
cat "$in"/*.dat >"$out/all.dat"
printf 'n,bytes\n2,%s\n' "$(stat -c %s "$out/all.dat")" >"$stats"
EOF
chmod +x "$W/simulate"
# step 2: read the statistics (its open() waits for the future)
cat >"$W/analyse.py" <<'EOF'
import sys
print("report:", open(sys.argv[1]).read().splitlines()[1])
EOF

# srun: drop its options, run the command here; pxfs: the binary under
# test, with a store on the connector under test
srun() {
	while [ $# -gt 0 ] && [[ $1 == -* ]]; do
		case $1 in -n | -N | -w) shift 2 ;; *) shift ;; esac
	done
	"$@"
}
# (arrays do not export: pxfs rebuilds INIT_OPTS from a string)
init_opts
export PXFS INIT_OPTS_STR="${INIT_OPTS[*]}"
pxfs() {
	local a=("$@") opts
	read -r -a opts <<<"$INIT_OPTS_STR"
	if [ "${a[0]}" = -q ] && [ "${a[1]}" = init ]; then
		"$PXFS" -q init "${a[2]}" "${opts[@]}"
		return
	fi
	"$PXFS" "$@"
}
export -f srun pxfs

STORE=$T/local/pxstore
MNT=$T/tmpdir/px.4242
at_exit "_force_unmount '$MNT'"
USER=tester SLURM_JOB_ID=4242 TMPDIR=$W/tmp HOME=$W/home \
	timeout 120 bash "$W/job.sh" >"$T/job.out" 2>"$T/job.err" ||
	fail "the job failed: $(tail -n 5 "$T/job.err")"

[ "$(cat "$W/report.txt")" = "report: 2,20" ] ||
	fail "step 2 read: $(cat "$W/report.txt")"
grep -q '"state": "pending"' "$T/job.out" || fail "no future: $(cat "$T/job.out")"
grep -q '"lifetime": "job4242", "removed": 1' "$T/job.out" ||
	fail "lifetime end: $(cat "$T/job.out")"
grep -q '^pxfs_connector_gets_total' "$W/home/metrics/4242.prom" ||
	fail "no metrics written"
! is_mounted "$MNT" || fail "the trap did not unmount"
expect_ok "$PXFS" ls "$STORE"
[ -z "$OUT" ] || fail "the job left: $OUT"
fsck_clean "$STORE"
exit 0
