# tests/integration/lib/common.sh — sourced by the integration tests (bash): TAP output, the
# strata binary, the fixtures, a private temporary directory cleaned up on exit, and listings
# of reference trees in the format of `strata ls`.
set -u

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
STRATA=${STRATA:-$REPO/build/strata}
FIX=${STRATA_FIXTURES:-$REPO/build/fixtures}
OUTSIDE=$REPO/../shared/fixtures/outside

tap_n=0 tap_failed=0
ok() { # COND-STATUS DESCRIPTION
	tap_n=$((tap_n + 1))
	if [ "$1" = 0 ]; then echo "ok $tap_n - $2"; else echo "not ok $tap_n - $2"; tap_failed=$((tap_failed + 1)); fi
}
pass() { ok 0 "$1"; }
fail() { ok 1 "$1"; }
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # SKIP ${2:-}"; }
diag() { sed 's/^/# /'; }
tap_done() { echo "1..$tap_n"; [ "$tap_failed" = 0 ]; }

T=$(mktemp -d "${TMPDIR:-/tmp}/strata-it.XXXXXX")
trap 'rm -rf "$T"' EXIT
# Seekable copies and default indexes go to the temporary directory, not the user's cache.
export XDG_CACHE_HOME=$T/cache

# need_strata: bail out (skip the whole test) without a binary.
need_strata() {
	if [ ! -x "$STRATA" ]; then echo "1..0 # SKIP no strata binary at $STRATA"; exit 77; fi
	# A private copy: a `make` in the shared tree may relink the binary while the test runs.
	cp "$STRATA" "$T/strata" && STRATA=$T/strata
}
# need_fixtures: builds (or reuses) the fixtures; skips the test when they cannot be built.
need_fixtures() {
	local rc=0
	bash "$REPO/tests/fixtures/build.sh" "$FIX" >"$T/fixtures.log" 2>&1 || rc=$?
	if [ "$rc" = 77 ]; then echo "1..0 # SKIP fixtures need root"; exit 77; fi
	if [ "$rc" != 0 ]; then diag <"$T/fixtures.log"; echo "Bail out! fixtures failed to build"; exit 1; fi
}

# ref_list DIR: `strata ls` format of a reference tree (sizes of dirs/devices/fifos/sockets → 0).
ref_list() {
	(cd "$1" && find . -mindepth 1 -printf '%P\t%y\t%m\t%U\t%G\t%s\t%l\n') |
		awk -F'\t' 'BEGIN { OFS = "\t" } $2 ~ /^[dbcps]$/ { $6 = 0 } { print }' | LC_ALL=C sort
}

# same_output NAME FILE_A FILE_B: ok when equal, else the first lines of the diff as diagnostics.
same_output() {
	if cmp -s "$2" "$3"; then pass "$1"; else
		fail "$1"
		diff "$2" "$3" | head -20 | diag
	fi
}

# one_line_err FILE: status 0 when FILE holds exactly one line.
one_line_err() { [ "$(wc -l <"$1")" = 1 ] && [ "$(wc -c <"$1")" -gt 1 ]; }

# tap_merge FILE...: prints TAP lines made in subshells (parallel jobs) renumbered in sequence,
# and folds their results into this shell's counters.
tap_merge() {
	local f line
	for f in "$@"; do
		while IFS= read -r line; do
			case "$line" in
			"ok "[0-9]*) tap_n=$((tap_n + 1)); echo "ok $tap_n ${line#ok +([0-9]) }" ;;
			"not ok "[0-9]*) tap_n=$((tap_n + 1)) tap_failed=$((tap_failed + 1)); echo "not ok $tap_n ${line#not ok +([0-9]) }" ;;
			*) echo "$line" ;;
			esac
		done <"$f"
	done
}
shopt -s extglob
