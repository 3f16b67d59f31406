#!/bin/sh
# Module boundaries (STYLE.md 2–3): a module includes other modules only through their public
# header, never a *_int.h of another folder, and only modules below it in the tree:
#   overlay ← index ← audit ← policy ← fs, tools on top.
set -u
fail=0
allowed() {
	case "$1" in
	overlay) echo "" ;;
	index) echo "overlay" ;;
	audit) echo "overlay index" ;;
	policy) echo "overlay index audit" ;;
	fs) echo "overlay index audit policy" ;;
	*) echo "overlay index audit policy fs" ;;
	esac
}
for f in overlay/*.[ch] index/*.[ch] audit/*.[ch] policy/*.[ch] fs/*.[ch] tools/*.c tests/unit/*.c tests/fuzz/*.c; do
	[ -f "$f" ] || continue
	mod=${f%%/*}
	[ "$mod" = tests ] && mod=tests
	grep -o '#include "[^"]*"' "$f" | sed 's/#include "//;s/"$//' | while read -r inc; do
		case "$inc" in
		../*/*)
			other=$(echo "$inc" | cut -d/ -f2)
			hdr=$(basename "$inc")
			if [ "$hdr" != "$other.h" ] && [ "$mod" != tests ]; then
				echo "check_deps: $f includes $inc (only $other/$other.h is public)"; exit 1
			fi
			if [ "$mod" != tests ] && ! echo " $(allowed "$mod") " | grep -q " $other "; then
				echo "check_deps: $f ($mod) may not depend on $other"; exit 1
			fi ;;
		esac
	done || fail=1
done
exit $fail
