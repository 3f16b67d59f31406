#!/bin/bash
# tests/integration/hostile.sh — the hostile-image corpus (tests/hostile/build.sh, issue 8): for
# every case `strata index` must not crash (exit 0 or 2, never a signal, under 120 s), must give the
# case's one-line error, or index it and mount the safe interpretation (checks from the manifest,
# problems named in the problem table). Peak RSS is measured with /usr/bin/time. strace -f of every
# strata process: no file is created, written, renamed or removed outside the cache and --index dirs.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
export LC_ALL=C
H=${STRATA_HOSTILE:-$REPO/build/hostile}
if ! bash "$REPO/tests/hostile/build.sh" "$H" >"$T/build.log" 2>&1; then
	diag <"$T/build.log"; echo "Bail out! hostile corpus failed to build"; exit 1
fi
command -v /usr/bin/time >/dev/null || { echo "1..0 # SKIP no /usr/bin/time"; exit 77; }


# long_stat DIR PATH: stat -c %F of a path longer than PATH_MAX, reached by cd in pieces.
long_stat() (
	local p=$2 pre
	cd "$1" || exit 1
	while [ ${#p} -gt 2000 ]; do pre=${p:0:2000}; pre=${pre%/*}; cd "$pre" || exit 1; p=${p:${#pre}+1}; done
	stat -c %F -- "$p" 2>/dev/null
)
# writes_outside TRACE: prints the paths a strace log shows created, written, renamed or removed
# outside $T (the test's directory, which holds XDG_CACHE_HOME and the --index places). The one
# kernel setting a mount writes, its own FUSE device's read_ahead_kb (major 0), is not a file.
writes_outside() {
	grep -E '(open|openat|openat2)\(.*O_(WRONLY|RDWR|CREAT)|(creat|mkdir|mkdirat|rename|renameat|renameat2|link|linkat|symlink|symlinkat|unlink|unlinkat|truncate|rmdir)\(' "$1" |
		grep -v -e 'resumed>' -e '= -1 ' | sed -n 's/^[^"]*"\([^"]*\)".*/\1/p' |
		grep -v -e "^$T/" -e '^/dev/null$' -e '^/dev/fuse$' -e '^/dev/tty$' -e '^/proc/self/' |
		grep -v -x -E '/sys/class/bdi/0:[0-9]+/read_ahead_kb' | sort -u
}
# traced TRACEFILE: the strace -f prefix for a command (word-split; paths under $T have no blanks).
# LeakSanitizer cannot work under ptrace, so an ASan build (the SAN=1 pass of make check) runs
# untraced (empty prefix): that pass checks leaks, the other one writes.
TRACED=1
grep -q __asan_init "$STRATA" 2>/dev/null && TRACED=0
command -v strace >/dev/null || TRACED=0
traced() {
	[ "$TRACED" = 1 ] || return 0
	echo "strace -f -qq --seccomp-bpf -o $1 -e trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,symlink,symlinkat,unlink,unlinkat,truncate,rmdir"
}

# check NAME MNT IDX RSS CHECK: one manifest check against a mounted case.
check() {
	local name=$1 mnt=$2 idx=$3 rss=$4 c=$5 p v
	case "$c" in absent:*|present:*|type:*|cat:*|link:*|eio:*) # paths may hold \n, \0NNN escapes
		v=${c#*:}; v=$(printf '%b.' "$v"); c=${c%%:*}:${v%.} ;; esac
	case "$c" in
	absent:*) p=${c#absent:}; [ ! -e "$mnt/$p" ] && [ ! -L "$mnt/$p" ]; ok $? "$name: $p is not in the mount" ;;
	present:*) p=${c#present:}; [ -e "$mnt/$p" ] || [ -L "$mnt/$p" ]; ok $? "$name: $p is in the mount" ;;
	type:*) p=${c#type:}; v=${p##*=} p=${p%=*}
		[ "$(long_stat "$mnt" "$p" | cut -c1)" = "$(case $v in f) echo r;; d) echo d;; l) echo s;; c) echo c;; p) echo f;; esac)" ]
		ok $? "$name: ${p:0:60} is of type $v" ;;
	cat:*) p=${c#cat:}; v=${p#*=} p=${p%%=*}
		printf '%s' "$v" | cmp -s - "$mnt/$p"; ok $? "$name: $p reads '$v'" ;;
	link:*) p=${c#link:}; v=${p#*=} p=${p%%=*}
		[ "$(readlink "$mnt/$p")" = "$v" ]; ok $? "$name: $p is a symlink to $v (not followed)" ;;
	entries:*) v=$(find "$mnt" -mindepth 1 \( -path "$mnt/.audit" -o -path "$mnt/.layers" -o -path "$mnt/.history" \) -prune -o -print | wc -l)
		ok "$([ "$v" = "${c#entries:}" ]; echo $?)" "$name: the mount holds ${c#entries:} nodes ($v)" ;;
	problem:*) p=${c#problem:}
		"$STRATA" sql "$idx" "SELECT CAST(path AS TEXT) || ' ' || message FROM problem" >"$T/problems" 2>&1
		grep -qF -- "$p" "$T/problems"; ok $? "$name: the problem table names '$p'"
		grep -q . "$T/problems" || echo "(no problem rows)" | diag ;;
	eio:*) p=${c#eio:}; cat "$mnt/$p" >/dev/null 2>"$T/eio"; grep -q 'Input/output error' "$T/eio"
		ok $? "$name: reading $p fails with EIO"; mountpoint -q "$mnt"; ok $? "$name: the mount stays up" ;;
	mountopt:*) v=${c#mountopt:}; awk -v m="$mnt" '$2 == m { print $4 }' /proc/mounts | tr ',' '\n' | grep -qx "$v"
		ok $? "$name: mounted $v" ;;
	rss:*) ok "$([ "$rss" -lt $((${c#rss:} * 1024)) ]; echo $?)" "$name: peak RSS of strata index $((rss / 1024)) MB < ${c#rss:} MB" ;;
	*) fail "$name: unknown check $c" ;;
	esac
}

while IFS=$'\t' read -r name img args expect; do
	d=$T/case/$name idx=$T/case/$name/idx.db
	mkdir -p "$d"
	a=(); [ "$args" = - ] || read -ra a <<<"$args"
	rc=0 start=$(date +%s)
	timeout -s KILL 120 $(traced "$d/trace") /usr/bin/time -f %M -o "$d/rss" "$STRATA" index -q "$H/$img" --index "$idx" "${a[@]}" \
		>"$d/out" 2>"$d/err" </dev/null || rc=$?
	secs=$(($(date +%s) - start))
	rss=$(tail -1 "$d/rss" 2>/dev/null); case "$rss" in ''|*[!0-9]*) rss=0 ;; esac
	ok "$([ "$rc" = 0 ] || [ "$rc" = 2 ]; echo $?)" "$name: strata index exits 0 or 2, no signal, no hang (exit $rc, ${secs}s)"
	[ "$rc" = 0 ] || [ "$rc" = 2 ] || { diag <"$d/err"; head -3 "$d/rss" | diag; }
	case "$expect" in
	error:*)
		want=${expect#error:} rest=""
		case "$want" in *";"*) rest=${want#*;} want=${want%%;*} ;; esac
		if [ "$rc" = 2 ] && one_line_err "$d/err" && grep -qF -- "$want" "$d/err"; then
			pass "$name: one-line error naming '$want'"; diag <"$d/err"
		else fail "$name: one-line error naming '$want' (exit $rc)"; head -5 "$d/err" | diag; fi
		ok "$([ ! -e "$idx" ] && [ -z "$(ls -A "$d" | grep -v -e '^rss$' -e '^out$' -e '^err$' -e '^trace$')" ]; echo $?)" "$name: no index or temporary file left"
		[ -n "$rest" ] && check "$name" "" "" "$rss" "$rest"
		;;
	mount:*)
		if [ "$rc" != 0 ]; then fail "$name: indexed (exit $rc)"; head -3 "$d/err" | diag; continue; fi
		mnt=$d/mnt
		mkdir -p "$mnt"; MOUNTS+=("$mnt")
		# In the foreground under strace (strace -f would wait for a daemon); up within 20 s.
		$(traced "$d/mtrace") "$STRATA" mount -f --index "$idx" "${a[@]}" "$H/$img" "$mnt" 2>"$d/merr" </dev/null &
		spid=$!
		for _ in $(seq 200); do mountpoint -q "$mnt" && break; kill -0 $spid 2>/dev/null || break; sleep 0.1; done
		if ! mountpoint -q "$mnt"; then
			fail "$name: mounted"; diag <"$d/merr"; kill $spid 2>/dev/null; wait $spid; continue
		fi
		IFS=';' read -ra checks <<<"${expect#mount:}"
		for c in "${checks[@]}"; do check "$name" "$mnt" "$idx" "$rss" "$c"; done
		"$STRATA" umount "$mnt"; ok $? "$name: unmounted"
		wait $spid; ok $? "$name: the mount process exited cleanly"
		;;
	*) fail "$name: bad manifest line" ;;
	esac
	cat "$d/trace" "$d/mtrace" 2>/dev/null >>"$T/all-traces"
	rm -f "$d/trace" "$d/mtrace"
done <"$H/manifest"

# Nothing written outside the cache, the --index places and the mount points: every file-creating
# or -writing syscall of strata index and of the mount daemons, from strace.
if [ "$TRACED" = 1 ]; then
	writes_outside "$T/all-traces" >"$T/written"
	ok "$([ -s "$T/all-traces" ] && [ ! -s "$T/written" ]; echo $?)" "no file written outside the cache and the --index places (strace of every run)"
	head -20 "$T/written" | diag
else
	skip "no file written outside the cache (strace)" "ASan build (LeakSanitizer cannot run under ptrace) or no strace"
fi
tap_done
