#!/bin/sh
# Runs unit test binaries and integration scripts; each prints TAP ("ok N", "not ok N",
# "ok N # SKIP"). Exit 77 from a whole test means skipped. Prints one closing line:
#   N passed, N failed, N skipped
set -u
passed=0 failed=0 skipped=0
logdir=${BUILD:-build}/test-logs
mkdir -p "$logdir"
for t in "$@"; do
	name=$(basename "$t")
	log="$logdir/$name.log"
	case "$t" in
	*.sh) bash "$t" >"$log" 2>&1 ;;
	*) "$t" >"$log" 2>&1 ;;
	esac
	rc=$?
	p=$(grep -c '^ok ' "$log" | tr -d ' ')
	s=$(grep -c '^ok .*# SKIP' "$log" | tr -d ' ')
	f=$(grep -c '^not ok ' "$log" | tr -d ' ')
	p=$((p - s))
	if [ "$rc" = 77 ]; then
		echo "SKIP $name"; skipped=$((skipped + 1)); continue
	fi
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	if [ "$f" != 0 ]; then
		echo "FAIL $name ($p passed, $f failed) — log: $log"
		grep -E '^not ok|^#' "$log" | head -40 | sed 's/^/    /'
		tail -5 "$log" | sed 's/^/    | /'
	else
		echo "PASS $name ($p passed, $s skipped)"
	fi
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
