#!/bin/bash
# tests/integration/fuzz_replay.sh — replays every seed corpus in tests/fuzz/corpus/<name>/ through
# its fuzz target (build/tests/fuzz_<name>: the libFuzzer entry point linked with
# tests/fuzz/replay.c, built by `make check-one`; under ASan+UBSan in the SAN=1 pass). Each target
# must exit 0 after one "ok" per corpus file: a crash, an abort on a broken invariant, a sanitizer
# report or a leak fails it. Crashes found by `make fuzz` are added to the corpora, so this is
# their regression test.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
B=$REPO/${BUILD:-build}
case "${BUILD:-build}" in /*) B=$BUILD ;; esac
n=0
for src in "$REPO"/tests/fuzz/*.c; do
	name=$(basename "$src" .c)
	[ "$name" = replay ] && continue
	bin=$B/tests/fuzz_$name corpus=$REPO/tests/fuzz/corpus/$name
	if [ ! -x "$bin" ]; then skip "fuzz_$name replays its corpus" "not built (make $B/tests/fuzz_$name)"; continue; fi
	files=$(find "$corpus" -maxdepth 1 -type f ! -name '.*' ! -name README | wc -l)
	ok "$([ "$files" -gt 0 ]; echo $?)" "fuzz_$name has a seed corpus ($files files)"
	rc=0
	(cd "$T" && timeout 120 "$bin" "$corpus") >"$T/$name.tap" 2>"$T/$name.err" || rc=$?
	sed "s|$REPO/||" "$T/$name.tap" | grep -v '^1\.\.' >"$T/$name.tap2"
	tap_merge "$T/$name.tap2"
	got=$(grep -c '^ok ' "$T/$name.tap")
	ok "$([ "$rc" = 0 ] && [ "$got" = "$files" ]; echo $?)" "fuzz_$name: all $files inputs replayed, exit $rc"
	[ "$rc" = 0 ] || tail -30 "$T/$name.err" | diag
	n=$((n + 1))
done
ok "$([ "$n" -ge 5 ]; echo $?)" "at least 5 fuzz targets replayed ($n)"
tap_done
