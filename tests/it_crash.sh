#!/bin/bash
# SPDX-License-Identifier: MIT
# it_crash.sh - crash consistency: SIGKILL at random points of puts, rms,
# mvs, links and gcs from the command line, of a mount's daemon while
# programs read through it, and while they write, overwrite, rename and
# unlink through it.  Each iteration kills one of them, either at a crash
# point of the store (PXFS_CRASH_AT=NAME:N, see
# store/crash.h: a blob's temp written, a blob renamed into place, an index
# commit about to happen, one just done) or after a random delay.  After
# every kill:
#   - fsck finds nothing worse than what gc removes (leftovers, orphan
#     blobs, unreferenced objects): never a missing or corrupt blob, a
#     dangling entry or a wrong reference count;
#   - after gc, fsck is clean;
#   - the killed change happened entirely or not at all;
#   - every file whose put (or close() through the mount) returned 0
#     before the kill reads back intact, and nothing else is there.
# Every few iterations, and at the end, the store is mounted again and the
# whole namespace is compared with the model through the mount.
#
#   CRASH_ITERS=50 (iterations)  CRASH_SEED=1 (the seed of $RANDOM)
#   CRASH_VERBOSE=1 (one line per iteration)
# make check runs the default; make crash runs more iterations with a
# random seed, printed so that a failure can be replayed (the delays of
# the kills are not replayed: they race by nature).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mount_lib.sh"

ITERS=${CRASH_ITERS:-50}
SEED=${CRASH_SEED:-1}
VERBOSE=${CRASH_VERBOSE:-0}
# Only $((RANDOM ...)) in this shell: a subshell draws from a new seed.
RANDOM=$SEED
echo "it_crash: $ITERS iterations, seed $SEED ($CONNECTOR connector)"

S=$T/store
M=$T/mnt
W=$T/work
mkdir -p "$M" "$W/src" "$W/pool"
new_store "$S" --chunk-size 16K

have_fuse=1
( [ -c /dev/fuse ] && exec 3<>/dev/fuse ) 2>/dev/null || have_fuse=0
writable=0		# probed below: does the mount take writes?

# ---- the model: path -> sha256 of what must read back ------------------------
declare -A MODEL=()	# "/c/i3/f1" -> sha256
declare -A KEYS=()	# path -> key (for link)
declare -A STATS=()	# what happened, for the summary
iter=0
what=
RC=0

note() {
	STATS[$1]=$(( ${STATS[$1]:-0} + 1 ))
}

sha() {
	sha256sum | cut -c1-64
}

# ifail MSG: fail, naming the iteration
ifail() {
	echo "FAIL: it_crash: iteration $iter ($what, seed $SEED): $*" >&2
	exit 1
}

# Some content: often shared (dedupe) or empty, sometimes over a chunk.
make_content() {
	local f=$1
	case $((RANDOM % 8)) in
	0)	: >"$f" ;;
	1|2)	cp "$W/pool/p$((RANDOM % 4))" "$f" ;;
	3)	head -c $((16384 * 3 + RANDOM % 9000)) /dev/urandom >"$f" ;;
	*)	head -c $((RANDOM % 6000 + 1)) /dev/urandom >"$f" ;;
	esac
}
for i in 0 1 2 3; do
	head -c $((i * 7000 + 100)) /dev/urandom >"$W/pool/p$i"
done

exists() {
	"$PXFS" stat "$S" "$1" >/dev/null 2>&1
}

keyof() {
	"$PXFS" stat --json "$S" "$1" |
		sed -n 's/^ *"key": "\([0-9a-f]*\)",*$/\1/p'
}

# check_file PATH: reads back as the model says
check_file() {
	local got
	got=$("$PXFS" cat "$S" "$1" 2>"$W/cat.err" | sha)
	[ -s "$W/cat.err" ] && ifail "cat $1: $(cat "$W/cat.err")"
	[ "$got" = "${MODEL[$1]}" ] || ifail "$1 does not read back intact"
	return 0
}

check_all() {
	local p
	for p in "${!MODEL[@]}"; do check_file "$p"; done
}

# fsck must show nothing but what gc removes; then gc, and fsck must be
# clean.
check_store() {
	local k v
	"$PXFS" fsck --json "$S" >"$W/fsck.json" 2>/dev/null || true
	for k in missing corrupt bad_refs dangling orphans unreferenced \
		 leftovers; do
		v=$(sed -n "s/^ *\"$k\": \([0-9]*\),*\$/\\1/p" "$W/fsck.json")
		[ -n "$v" ] || ifail "fsck --json: no $k: $(cat "$W/fsck.json")"
		[ "$v" = 0 ] && continue
		case $k in
		orphans|unreferenced|leftovers) note "gc:$k" ;;
		*) ifail "fsck after the kill: $k $v: $(cat "$W/fsck.json")" ;;
		esac
	done
	"$PXFS" gc "$S" >"$W/gc.out" 2>&1 || ifail "gc: $(cat "$W/gc.out")"
	"$PXFS" fsck "$S" >"$W/fsck.out" 2>&1 ||
		ifail "fsck after gc: $(cat "$W/fsck.out")"
}

# run_killed CMD...: run CMD, killed as $SPEC says: "at:NAME:N" (a crash
# point), "after:SECONDS" or "none"; sets RC (137 when killed).
run_killed() {
	local pid
	case $SPEC in
	at:*)	set +e
		{ PXFS_CRASH_AT=${SPEC#at:} "$@" >"$W/cmd.out" 2>&1; } \
			2>/dev/null
		RC=$?
		set -e ;;
	after:*)
		"$@" >"$W/cmd.out" 2>&1 &
		pid=$!
		sleep "${SPEC#after:}"
		kill -9 "$pid" 2>/dev/null || true
		set +e
		{ wait "$pid"; } 2>/dev/null
		RC=$?
		set -e ;;
	none)	set +e
		"$@" >"$W/cmd.out" 2>&1
		RC=$?
		set -e ;;
	esac
	if [ "$RC" -ne 0 ] && [ "$RC" -ne 137 ]; then
		ifail "'$*' exited $RC: $(tail -n 3 "$W/cmd.out")"
	fi
	if [ "$RC" -eq 137 ]; then note killed; else note survived; fi
}

# Set SPEC to a kill for a command that passes N times through the blob
# points (and takes about 10 ms: the delays stay below that).
kill_spec() {
	local n=$1 k=$((RANDOM % 8))
	[ "$n" -gt 0 ] || [ "$k" -gt 1 ] || k=$((k + 2))
	case $k in
	0)	SPEC=at:blob-temp:$((RANDOM % n + 1)) ;;
	1)	SPEC=at:blob-renamed:$((RANDOM % n + 1)) ;;
	2)	SPEC=at:index-commit:1 ;;
	3)	SPEC=at:index-committed:1 ;;
	4)	SPEC=none ;;
	*)	SPEC=$(printf 'after:0.%03d' $((RANDOM % 14))) ;;
	esac
}

# Set PICK to a random path of the model, or "" when it is empty.
pick() {
	local a=("${!MODEL[@]}")
	PICK=
	[ ${#a[@]} -gt 0 ] && PICK=${a[$((RANDOM % ${#a[@]}))]}
	return 0
}

# ---- the command line ---------------------------------------------------------

op_put() {
	local d=$W/src/i$iter n=$((RANDOM % 4 + 1)) j p
	local -A want=()
	mkdir -p "$d"
	for ((j = 0; j < n; j++)); do
		make_content "$d/f$j"
		want[/c/i$iter/f$j]=$(sha <"$d/f$j")
	done
	kill_spec "$n"
	what="put of $n files, kill $SPEC"
	run_killed "$PXFS" put "$S" "$d" --to c
	check_store
	if exists "/c/i$iter"; then
		for p in "${!want[@]}"; do
			MODEL[$p]=${want[$p]}
			check_file "$p"
			KEYS[$p]=$(keyof "$p")
		done
		note put:done
	else
		[ "$RC" -eq 0 ] && ifail "put returned 0 but made nothing"
		for p in "${!want[@]}"; do
			exists "$p" && ifail "$p exists without its directory"
		done
		note put:undone
	fi
	rm -rf "$d"
}

op_rm() {
	local p
	pick
	p=$PICK
	[ -n "$p" ] || { op_put; return; }
	kill_spec 0
	what="rm $p, kill $SPEC"
	run_killed "$PXFS" rm "$S" "$p"
	check_store
	if exists "$p"; then
		[ "$RC" -eq 0 ] && ifail "rm returned 0 but $p is there"
		check_file "$p"
		note rm:undone
	else
		unset "MODEL[$p]" "KEYS[$p]"
		note rm:done
	fi
}

op_mv() {
	local p q=/c/m$iter a=0 b=0
	pick
	p=$PICK
	[ -n "$p" ] || { op_put; return; }
	kill_spec 0
	what="mv $p $q, kill $SPEC"
	run_killed "$PXFS" mv "$S" "$p" "$q"
	check_store
	exists "$p" && a=1
	exists "$q" && b=1
	[ $((a + b)) -eq 1 ] || ifail "after mv: source $a, target $b"
	if [ $b -eq 1 ]; then
		MODEL[$q]=${MODEL[$p]}
		KEYS[$q]=${KEYS[$p]}
		unset "MODEL[$p]" "KEYS[$p]"
		check_file "$q"
		note mv:done
	else
		[ "$RC" -eq 0 ] && ifail "mv returned 0 but did nothing"
		check_file "$p"
		note mv:undone
	fi
}

# The content the link ops adopt: its blob kept aside, its entry removed.
setup_adopt() {
	head -c 40000 /dev/urandom >"$W/adopt"
	ADOPT_SHA=$(sha <"$W/adopt")
	"$PXFS" put "$S" "$W/adopt" --to tmp >/dev/null
	ADOPT_KEY=$(keyof /tmp/adopt)
	blob_get "$S" "$ADOPT_KEY" >"$W/adopt.blob"
	"$PXFS" rm -r "$S" /tmp >/dev/null
}

op_link() {
	local q=/c/l$iter key sum
	pick
	if [ $((RANDOM % 2)) = 0 ] || [ -z "$PICK" ]; then
		# a blob the connector holds but the index may not know
		key=$ADOPT_KEY
		sum=$ADOPT_SHA
		blob_exists "$S" "$key" ||
			blob_put "$S" "$key" <"$W/adopt.blob"
	else
		key=${KEYS[$PICK]}
		sum=${MODEL[$PICK]}
	fi
	kill_spec 0
	what="link $key $q, kill $SPEC"
	run_killed "$PXFS" link "$S" "$key" "$q"
	check_store
	if exists "$q"; then
		MODEL[$q]=$sum
		KEYS[$q]=$key
		check_file "$q"
		note link:done
	else
		[ "$RC" -eq 0 ] && ifail "link returned 0 but made nothing"
		note link:undone
	fi
}

op_gc() {
	# garbage for gc to collect: a put killed after its blobs
	{ PXFS_CRASH_AT=index-commit:1 "$PXFS" put "$S" "$W/pool" \
		--to "g$iter" >/dev/null 2>&1; } 2>/dev/null || true
	SPEC=$(printf 'after:0.%03d' $((RANDOM % 6)))
	what="gc, kill $SPEC"
	run_killed "$PXFS" gc "$S"
	check_store
	note gc
}

# ---- the mount -----------------------------------------------------------------

DPID=

# Mount in the foreground (the environment, PXFS_CRASH_AT included,
# reaches the daemon); DPID is its pid.
mount_d() {
	"$PXFS" mount -f "$S" "$M" --cache-dir "$W/cache" \
		2>>"$W/daemon.log" &
	DPID=$!
	# when killed it is not to be reported as a job: we reap it ourselves
	disown "$DPID"
	for _ in $(seq 1000); do
		is_mounted "$M" && return 0
		kill -0 "$DPID" 2>/dev/null ||
			ifail "mount: $(tail -n 3 "$W/daemon.log")"
		sleep 0.01
	done
	ifail "mount did not come up"
}

umount_d() {
	"$PXFS" umount "$M" >"$W/umount.out" 2>&1 ||
		ifail "umount: $(cat "$W/umount.out")"
	is_mounted "$M" && ifail "still mounted"
	wait_gone "$DPID" || ifail "the daemon did not exit"
	DPID=
}

# The dead daemon's mount: pxfs umount cleans it up.
cleanup_dead() {
	wait_gone "$DPID" || ifail "the killed daemon did not exit"
	DPID=
	"$PXFS" umount "$M" >"$W/umount.out" 2>&1 ||
		ifail "umount of a dead mount: $(cat "$W/umount.out")"
	is_mounted "$M" && ifail "dead mount still there"
	return 0
}

# Unmount, or clean up after the daemon when it was killed.
umount_or_cleanup() {
	if kill -0 "$DPID" 2>/dev/null; then
		umount_d
	else
		cleanup_dead
		note daemon-killed
	fi
}

at_exit '[ -z "$DPID" ] || _force_unmount "$M" "$DPID"'

# Mount again and compare the whole namespace with the model.
verify_mount() {
	local p
	mount_d
	(cd "$M" && find . -type f | sed 's/^\.//' | LC_ALL=C sort) \
		>"$W/have" || ifail "find through the mount"
	printf '%s\n' "${!MODEL[@]}" | sed '/^$/d' | LC_ALL=C sort >"$W/want"
	cmp -s "$W/have" "$W/want" ||
		ifail "the mount's files are not the model's:" \
		      "$(diff "$W/want" "$W/have" | head -n 5)"
	for p in "${!MODEL[@]}"; do
		[ "$(sha <"$M$p")" = "${MODEL[$p]}" ] ||
			ifail "$p does not read back intact through the mount"
	done
	umount_d
	note verified
}

# Read through the mount while its daemon is killed, then mount again:
# the cache it was filling must not serve anything wrong.
op_kill_reader() {
	local r d pids=()
	[ ${#MODEL[@]} -gt 0 ] || { op_put; return; }
	# cold objects for the readers, now and then
	[ $((RANDOM % 2)) = 0 ] && rm -rf "$W/cache"
	mount_d
	for r in 1 2 3 4; do
		(for p in "${!MODEL[@]}"; do
			cat "$M$p" >/dev/null 2>&1 || exit 0
		 done) &
		pids+=($!)
	done
	d=$(printf '0.%03d' $((RANDOM % 60)))
	what="reads through the mount, daemon killed after ${d}s"
	sleep "$d"
	kill -9 "$DPID"
	{ wait "${pids[@]}"; } 2>/dev/null || true
	cleanup_dead
	note daemon-killed
	check_store
	verify_mount
}

# The mount takes writes (it must: the writer iterations need it).
probe_writable() {
	mount_d
	(echo x >"$M/.probe") 2>"$W/probe.err" ||
		ifail "the mount takes no writes: $(cat "$W/probe.err")"
	writable=1
	rm -f "$M/.probe"
	umount_d
}

# Write files, rename one and unlink another through the mount while its
# daemon is killed (at a crash point of the store or after a delay):
# every file whose close() returned 0 reads back intact afterwards, a
# rename or an unlink happened entirely or not at all.
op_kill_writer() {
	local d=$W/wsrc/i$iter n=$((RANDOM % 4 + 2)) j p mvp= rmp= pids=()
	local ovp= ovsha= got
	local -A want=()
	mkdir -p "$d"
	for ((j = 0; j < n; j++)); do
		make_content "$d/f$j"
		want[/c/w$iter/f$j]=$(sha <"$d/f$j")
	done
	# each file is a create, writes and a close: a few commits each
	case $((RANDOM % 6)) in
	0)	SPEC=at:blob-temp:$((RANDOM % n + 1)) ;;
	1)	SPEC=at:blob-renamed:$((RANDOM % n + 1)) ;;
	2)	SPEC=at:index-commit:$((RANDOM % (3 * n) + 1)) ;;
	3)	SPEC=at:index-committed:$((RANDOM % (3 * n) + 1)) ;;
	*)	SPEC=$(printf 'after:0.%03d' $((RANDOM % 40))) ;;
	esac
	what="writes through the mount, daemon kill $SPEC"
	"$PXFS" mkdir "$S" "/c/w$iter" >/dev/null
	case $SPEC in
	at:*)	PXFS_CRASH_AT=${SPEC#at:} mount_d ;;
	*)	mount_d ;;
	esac
	pick
	[ $((RANDOM % 2)) = 0 ] && mvp=$PICK
	pick
	[ "$PICK" != "$mvp" ] && [ $((RANDOM % 2)) = 0 ] && rmp=$PICK
	# an overwrite (O_TRUNC, write, close) of a file already there: the
	# old bytes or the new ones afterwards, the new ones if close()
	# returned 0, and the old object's reference dropped at most once
	pick
	if [ -n "$PICK" ] && [ "$PICK" != "$mvp" ] && [ "$PICK" != "$rmp" ] &&
	   [ $((RANDOM % 2)) = 0 ]; then
		ovp=$PICK
		make_content "$d/ov"
		ovsha=$(sha <"$d/ov")
	fi
	# one writer per file; each says when its close() returned 0
	for ((j = 0; j < n; j++)); do
		(cp "$d/f$j" "$M/c/w$iter/f$j" 2>/dev/null &&
		 : >"$d/ok$j") &
		pids+=($!)
	done
	if [ -n "$mvp" ]; then
		(mv "$M$mvp" "$M/c/r$iter" 2>/dev/null && : >"$d/mv") &
		pids+=($!)
	fi
	if [ -n "$rmp" ]; then
		(rm "$M$rmp" 2>/dev/null && : >"$d/rm") &
		pids+=($!)
	fi
	if [ -n "$ovp" ]; then
		(cp "$d/ov" "$M$ovp" 2>/dev/null && : >"$d/ovok") &
		pids+=($!)
	fi
	case $SPEC in
	after:*) sleep "${SPEC#after:}"
		 kill -9 "$DPID" 2>/dev/null || true ;;
	esac
	{ wait "${pids[@]}"; } 2>/dev/null || true
	umount_or_cleanup
	check_store
	for ((j = 0; j < n; j++)); do
		p=/c/w$iter/f$j
		if [ -e "$d/ok$j" ]; then
			MODEL[$p]=${want[$p]}
			check_file "$p"
			KEYS[$p]=$(keyof "$p")
			note write:closed
		elif exists "$p"; then
			# not acknowledged: whatever it holds, it is no longer
			# the model's business
			"$PXFS" rm "$S" "$p" >/dev/null 2>&1 ||
				ifail "rm of unacknowledged $p"
			note write:unacked
		fi
	done
	if [ -n "$mvp" ]; then
		if exists "/c/r$iter"; then
			exists "$mvp" && ifail "$mvp renamed and still there"
			MODEL[/c/r$iter]=${MODEL[$mvp]}
			KEYS[/c/r$iter]=${KEYS[$mvp]}
			unset "MODEL[$mvp]" "KEYS[$mvp]"
			check_file "/c/r$iter"
			note rename:done
		else
			[ -e "$d/mv" ] && ifail "mv returned 0, did nothing"
			note rename:undone
		fi
	fi
	if [ -n "$rmp" ]; then
		if exists "$rmp"; then
			[ -e "$d/rm" ] && ifail "rm returned 0, $rmp is there"
			check_file "$rmp"
			note unlink:undone
		else
			unset "MODEL[$rmp]" "KEYS[$rmp]"
			note unlink:done
		fi
	fi
	if [ -n "$ovp" ]; then
		exists "$ovp" || ifail "$ovp gone after an overwrite"
		got=$("$PXFS" cat "$S" "$ovp" 2>"$W/cat.err" | sha)
		[ -s "$W/cat.err" ] && ifail "cat $ovp: $(cat "$W/cat.err")"
		if [ -e "$d/ovok" ]; then
			[ "$got" = "$ovsha" ] ||
				ifail "overwrite of $ovp returned 0, not stored"
			note overwrite:closed
		elif [ "$got" = "$ovsha" ]; then
			note overwrite:unacked-new
		else
			[ "$got" = "${MODEL[$ovp]}" ] ||
				ifail "$ovp is neither its old nor its new bytes"
			note overwrite:old
		fi
		MODEL[$ovp]=$got
		KEYS[$ovp]=$(keyof "$ovp")
	fi
	rm -rf "$d"
}

# ---- run ---------------------------------------------------------------------

setup_adopt
"$PXFS" mkdir -p "$S" c >/dev/null
if [ $have_fuse = 1 ]; then
	probe_writable
elif [ "${CRASH_NO_FUSE:-0}" = 1 ]; then
	echo "it_crash: no usable /dev/fuse: the daemon is not tested"
else
	fail "no usable /dev/fuse: the daemon cannot be tested" \
	     "(CRASH_NO_FUSE=1 runs the command line's iterations only)"
fi

for ((iter = 1; iter <= ITERS; iter++)); do
	k=$((RANDOM % 20))
	if [ $have_fuse = 1 ] && [ $writable = 1 ] && [ $k -ge 16 ]; then
		op_kill_writer
	elif [ $have_fuse = 1 ] && [ $k -ge 15 ]; then
		op_kill_reader
	elif [ $k -lt 7 ]; then
		op_put
	elif [ $k -lt 10 ]; then
		op_rm
	elif [ $k -lt 12 ]; then
		op_mv
	elif [ $k -lt 14 ]; then
		op_link
	else
		op_gc
	fi
	[ "$VERBOSE" = 1 ] && echo "  $iter: $what (rc $RC, ${#MODEL[@]} files)"
	if [ $((iter % 10)) = 0 ]; then
		check_all
		[ $have_fuse = 0 ] || verify_mount
	fi
done
iter=end
what="final check"
check_all
[ $have_fuse = 0 ] || verify_mount
fsck_clean "$S"

summary=$(for k in "${!STATS[@]}"; do echo "$k=${STATS[$k]}"; done |
	  LC_ALL=C sort | tr '\n' ' ')
echo "it_crash: $ITERS iterations survived (seed $SEED), ${#MODEL[@]}" \
     "files intact; $summary"
