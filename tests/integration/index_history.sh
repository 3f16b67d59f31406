#!/bin/bash
# tests/integration/index_history.sh — the views of an image's history: `strata ls --view N`
# equals umoci's unpack of an image made of the first N layers, and `strata ls --layer N` lists
# exactly the paths `tar -tf` lists in layer N (whiteouts included, no ./, no trailing /).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
need_strata
need_fixtures
export LC_ALL=C

for image in images/docker.tar images/oci-zstd-multi images/oci-gzip.tar.gz; do
	db=$T/$(basename "$image").db
	if "$STRATA" index "$FIX/$image" --index "$db" -q >/dev/null 2>"$T/err"; then
		pass "$image: strata index"
	else
		fail "$image: strata index"; diag <"$T/err"; continue
	fi
	for n in 1 2 3 4; do
		ref_list "$FIX/views/$n/rootfs" >"$T/want"
		"$STRATA" ls --view "$n" "$db" >"$T/got" 2>"$T/err"
		same_output "$image: strata ls --view $n equals umoci's unpack of layers 1..$n" "$T/want" "$T/got"
		head -3 "$T/err" | diag

		tar --quoting-style=literal -tf "$FIX/layers/L$n.tar" | sed -e 's,^\./,,' -e 's,/$,,' |
			grep -v '^$' | sort -u >"$T/want"
		"$STRATA" ls --layer "$n" "$db" 2>"$T/err" | cut -f1 >"$T/got"
		same_output "$image: strata ls --layer $n equals tar -tf of layer $n" "$T/want" "$T/got"
		head -3 "$T/err" | diag
	done
	# --null: the same records, NUL-terminated.
	"$STRATA" ls --view 4 "$db" >"$T/nl" 2>/dev/null
	"$STRATA" ls --null --view 4 "$db" 2>/dev/null | tr '\0' '\n' >"$T/nul"
	same_output "$image: strata ls --null ends records with NUL" "$T/nl" "$T/nul"
done

tap_done
