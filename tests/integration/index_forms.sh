#!/bin/bash
# tests/integration/index_forms.sh — `strata index` of every fixture form against the tree that
# umoci (after skopeo for docker archives) unpacks from the same image: listing, file contents,
# random reads in a 50 MB file, security.capability, device numbers, hard links, index reuse.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
need_strata
need_fixtures
export LC_ALL=C

# check_form NAME IMAGE REFERENCE ARGS: TAP lines (numbered locally; merged in order at the end).
check_form() {
	local name=$1 image=$2 ref=$3 args=$4
	local img=$FIX/$image refdir=$FIX/$ref db=$T/$name.db
	local T=$T/$name
	mkdir -p "$T"
	# shellcheck disable=SC2086 # args are words
	if "$STRATA" index "$img" --index "$db" -q $args >"$T/out" 2>"$T/err"; then
		pass "$name: strata index"
	else
		fail "$name: strata index"; diag <"$T/err"; return
	fi

	ref_list "$refdir" >"$T/want"
	"$STRATA" ls "$db" >"$T/got" 2>"$T/err"
	same_output "$name: strata ls equals umoci's rootfs" "$T/want" "$T/got"

	# Every regular file, read through one strata cat of them all in sorted order: with the sizes
	# already equal (strata ls above), equal concatenations mean equal files. Only when they differ
	# is each file read on its own, to name the ones that differ.
	local files=()
	mapfile -d '' files < <(cd "$refdir" && find . -type f -printf '%P\0' | sort -z)
	local want got
	if [ "${#files[@]}" = 0 ]; then
		fail "$name: every regular file via strata cat: the reference has no regular file"
		return
	fi
	want=$(cd "$refdir" && cat -- "${files[@]}" | sha256sum)
	got=$("$STRATA" cat "$db" -- "${files[@]}" 2>"$T/caterr" | sha256sum)
	if [ "$want" = "$got" ] && [ ! -s "$T/caterr" ]; then
		pass "$name: every regular file via strata cat (${#files[@]} files)"
	else
		(cd "$refdir" && sha256sum -- "${files[@]}") >"$T/want"
		: >"$T/got"
		for p in "${files[@]}"; do
			"$STRATA" cat "$db" -- "$p" >"$T/file" 2>>"$T/caterr" || echo "strata cat $db '$p': exit $?" >>"$T/caterr"
			printf '%s  %s\n' "$(sha256sum <"$T/file" | cut -d' ' -f1)" "$p" >>"$T/got"
		done
		same_output "$name: every regular file via strata cat (${#files[@]} files)" "$T/want" "$T/got"
		head -5 "$T/caterr" | diag
	fi

	big=$refdir/data/big.bin
	if [ -f "$big" ]; then
		size=$(stat -c %s "$big") bad=0
		RANDOM=42
		for i in $(seq 1 20); do
			off=$(((RANDOM * 32768 + RANDOM) % size))
			len=$((RANDOM * 4 % 300000))
			case $i in 1) off=0 len=1 ;; 2) off=$((size - 10)) len=10 ;; 3) off=$((size - 5)) len=100 ;; esac
			tail -c +$((off + 1)) "$big" | head -c "$len" >"$T/rwant"
			"$STRATA" cat --offset "$off" --length "$len" "$db" data/big.bin >"$T/rgot" 2>"$T/err"
			rc=$?
			cmp -s "$T/rwant" "$T/rgot" || {
				bad=1
				echo "strata cat --offset $off --length $len $db data/big.bin: exit $rc, $(wc -c <"$T/rgot") bytes, differs" | diag
				head -3 "$T/err" | diag
			}
		done
		ok $bad "$name: 20 random reads in the 50 MB file"

		getfattr -e hex -n security.capability "$refdir/bin/ping" 2>/dev/null |
			sed -n 's/^security.capability=0x//p' | tr a-f A-F >"$T/want"
		if [ ! -s "$T/want" ]; then
			# umoci did not keep it: GNU tar's extraction of the layer is the reference then.
			mkdir -p "$T/x" && tar --xattrs --xattrs-include='*' -C "$T/x" -xf "$FIX/layers/L1.tar" bin/ping &&
				getfattr -e hex -n security.capability "$T/x/bin/ping" 2>/dev/null |
				sed -n 's/^security.capability=0x//p' | tr a-f A-F >"$T/want"
		fi
		"$STRATA" sql "$db" "SELECT hex(x.value) FROM node n JOIN xattr x ON x.entry = n.data_entry
			WHERE n.view = (SELECT max(id) FROM view WHERE kind = 'merged') AND n.path = 'bin/ping'
			AND x.name = 'security.capability'" >"$T/got" 2>>"$T/err"
		same_output "$name: security.capability of bin/ping" "$T/want" "$T/got"

		for d in dev/null dev/loop0; do stat -c '%n %t %T' "$refdir/$d" | sed "s|^$refdir/||"; done >"$T/want"
		"$STRATA" sql "$db" "SELECT n.path, printf('%x', e.devmajor), printf('%x', e.devminor)
			FROM node n JOIN entry e ON e.id = n.data_entry
			WHERE n.view = (SELECT max(id) FROM view WHERE kind = 'merged') AND n.path IN ('dev/null', 'dev/loop0')
			ORDER BY n.path DESC" 2>>"$T/err" | tr '\t' ' ' >"$T/got"
		same_output "$name: device numbers" "$T/want" "$T/got"

		[ "$(stat -c %i "$refdir/data/hl-a")" = "$(stat -c %i "$refdir/data/hl-b")" ] || echo "reference lost the hard link" | diag
		n=$("$STRATA" sql "$db" "SELECT count(DISTINCT ino) || ' ' || count(*) FROM node
			WHERE view = (SELECT max(id) FROM view WHERE kind = 'merged') AND path IN ('data/hl-a', 'data/hl-b')" 2>>"$T/err")
		ok "$([ "$n" = "1 2" ]; echo $?)" "$name: hard links share an inode ($n)"
	fi

	before=$(stat -c '%i %y' "$db")
	# shellcheck disable=SC2086
	"$STRATA" index "$img" --index "$db" $args >"$T/out" 2>"$T/err"
	rc=$?
	after=$(stat -c '%i %y' "$db")
	ok "$([ $rc = 0 ] && grep -q reused "$T/out" && [ "$before" = "$after" ]; echo $?)" \
		"$name: a second strata index reuses the index"
	[ -s "$T/err" ] && diag <"$T/err"
	rm -f "$db"
}

# Forms are checked three at a time (most of the time goes into starting strata processes).
jobs=()
while IFS=$'\t' read -r name image ref args; do
	[[ "$name" =~ ${STRATA_FORMS:-.} ]] || continue
	check_form "$name" "$image" "$ref" "$args" >"$T/tap.$name" 2>&1 &
	jobs+=("$T/tap.$name")
	while [ "$(jobs -rp | wc -l)" -ge 3 ]; do wait -n || true; done
done <"$FIX/forms.list"
wait
tap_merge "${jobs[@]}"

tap_done
