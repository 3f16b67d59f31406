#!/bin/bash
# tests/integration/sparse_files.sh — sparse tar entries (issue 3) served as `tar -x` makes them.
# Sparse files (a leading hole, a trailing hole, several data pieces at odd offsets, all hole, and
# one over 4 MiB with its data at the end) are archived by GNU tar -S in --format=gnu and pax with
# --sparse-version 0.0, 0.1 and 1.0, one layer per format, in images with raw, gzip and zstd
# layers. Through a real mount: stat size, sha256sum and cmp against GNU tar -x of the same layer,
# dd reads straddling hole/data boundaries and at random offsets, user.strata.sha256, /.layers/N;
# and the index's sha256 column against sha256sum. Hostile: a GNU tar archive of a 1 TiB sparse
# file of 4 bytes indexes at once, its size and content are served, and (over the pass's budget of
# hashed holes) it has no sha256 and a problem row saying so.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
export LC_ALL=C
MK=$REPO/tools/mkimage.sh

# ---- the sparse files (made with seek/truncate so the file system holds real holes) ------------
F=$T/files
mkdir -p "$F"
# put FILE OFFSET LENGTH: LENGTH random bytes written at OFFSET (the file grows, holes stay holes).
put() { head -c "$3" /dev/urandom | dd of="$1" bs="$3" seek="$2" oflag=seek_bytes iflag=fullblock conv=notrunc status=none; }
put "$F/lead.bin" 1048576 5000                                                   # leading hole
put "$F/trail.bin" 0 10000 && truncate -s 3000000 "$F/trail.bin"                 # trailing hole
for off in 0 65536 200000 1048699; do put "$F/multi.bin" $off 4096; done          # several pieces
truncate -s 2097157 "$F/multi.bin"
truncate -s 1048576 "$F/allhole.bin"                                             # all hole
put "$F/big.bin" 5242880 70000                                                   # > 4 MiB, data at the end
printf 'plain file\n' >"$F/plain.txt"
files=(lead.bin trail.bin multi.bin allhole.bin big.bin plain.txt)

# ---- one layer per tar format, extracted by GNU tar as the reference ---------------------------
fmts=(gnu pax00 pax01 pax10)
declare -A fmtargs=([gnu]="--format=gnu" [pax00]="--format=pax --sparse-version=0.0"
	[pax01]="--format=pax --sparse-version=0.1" [pax10]="--format=pax --sparse-version=1.0")
layers=()
mkdir -p "$T/ref"
for f in "${fmts[@]}"; do
	# shellcheck disable=SC2086 # format options are words
	tar -C "$F" -S ${fmtargs[$f]} --owner=0 --group=0 --transform="s,^,$f/," -cf "$T/$f.tar" "${files[@]}"
	tar -C "$T/ref" -xf "$T/$f.tar"
	layers+=("$T/$f.tar")
done

# dd_at FILE OFF LEN: LEN bytes at OFF.
dd_at() { dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=65536 status=none; }
# reads straddling holes and data: "file offset length"
reads=("lead.bin 1048570 20" "lead.bin 1053570 10" "lead.bin 0 70000" "trail.bin 9990 30" "trail.bin 2999990 100"
	"multi.bin 4090 12" "multi.bin 65530 4200" "multi.bin 199999 4098" "multi.bin 1048690 5000"
	"multi.bin 2097150 10" "allhole.bin 1040000 9000" "big.bin 5242876 8" "big.bin 4194000 300000"
	"big.bin 5312876 10")
for i in 1 2 3 4; do
	reads+=("big.bin $(((RANDOM * 32768 + RANDOM) % 5312880)) $((RANDOM % 200000 + 1))"
		"multi.bin $(((RANDOM * 32768 + RANDOM) % 2097157)) $((RANDOM % 70000 + 1))")
done

for comp in none gzip zstd; do
	img=$T/img-$comp mnt=$T/mnt-$comp db=$T/$comp.db
	bash "$MK" --form oci-dir --layer-compress "$comp" -o "$img" "${layers[@]}" >/dev/null
	if smount "$img" "$mnt" --index "$db" 2>"$T/err" </dev/null; then
		pass "$comp: strata mount"
	else
		fail "$comp: strata mount"; diag <"$T/err"; continue
	fi
	n=$("$STRATA" sql "$db" "SELECT count(*) FROM entry WHERE sparse = 1" | tr -d '[:space:]')
	[ "$n" -ge $((4 * 5)) ]; ok $? "$comp: GNU tar stored 5 sparse files in each of the 4 formats (index: $n)"
	(cd "$T/ref" && find . -type f -printf '%P %s\n' | sort) >"$T/want"
	(cd "$mnt" && find "${fmts[@]}" -type f -printf '%p %s\n' | sort) >"$T/got"
	same_output "$comp: stat sizes equal tar -x's" "$T/want" "$T/got"
	(cd "$T/ref" && find . -type f -printf '%P\0' | sort -z | xargs -0 sha256sum --) >"$T/want"
	(cd "$mnt" && find "${fmts[@]}" -type f -print0 | sort -z | xargs -0 sha256sum --) >"$T/got"
	same_output "$comp: sha256sum through the mount equals tar -x's" "$T/want" "$T/got"
	bad=0
	for f in "${fmts[@]}"; do
		for x in "${files[@]}"; do cmp -s "$T/ref/$f/$x" "$mnt/$f/$x" || { echo "$f/$x differs" | diag; bad=1; }; done
	done
	ok $bad "$comp: cmp of every file against tar -x"
	bad=0
	for f in gnu pax10; do # the other two formats: covered by cmp and sha256sum above
		for r in "${reads[@]}"; do
			set -- $r
			if ! cmp -s <(dd_at "$T/ref/$f/$1" "$2" "$3") <(dd_at "$mnt/$f/$1" "$2" "$3"); then
				echo "$f/$1 at $2 length $3 differs" | diag; bad=1
			fi
		done
	done
	ok $bad "$comp: ${#reads[@]} dd reads each of gnu and pax 1.0 across holes and data (random ones included)"
	(cd "$T/ref" && find . -type f -printf '%P\0' | sort -z | xargs -0 sha256sum -- | awk '{ print $2 "\t" $1 }') >"$T/want"
	"$STRATA" sql "$db" "SELECT path, sha256 FROM entry WHERE type = 'file' ORDER BY path" >"$T/got"
	same_output "$comp: the index's sha256 column equals sha256sum of tar -x's files" "$T/want" "$T/got"
	bad=0
	for x in multi.bin big.bin allhole.bin lead.bin; do
		want=$(sha256sum <"$T/ref/pax10/$x" | cut -d' ' -f1)
		got=$(getfattr --only-values -n user.strata.sha256 "$mnt/pax10/$x" 2>/dev/null)
		[ "$want" = "$got" ] || { echo "pax10/$x: xattr '$got', sha256sum $want" | diag; bad=1; }
	done
	ok $bad "$comp: user.strata.sha256 of sparse files equals sha256sum"
	bad=0
	for i in 1 2 3 4; do
		f=${fmts[$((i - 1))]}
		for x in multi.bin big.bin; do cmp -s "$T/ref/$f/$x" "$mnt/.layers/$i/$f/$x" || { echo ".layers/$i/$f/$x differs" | diag; bad=1; }; done
	done
	ok $bad "$comp: /.layers/N serves the same bytes"
	sumount "$mnt"; ok $? "$comp: strata umount"
done

# ---- an image archive whose members were archived sparse (tar -S of an OCI layout) --------------
bash "$MK" --form oci-dir -o "$T/lay" "$T/gnu.tar" >/dev/null
holes=0
for b in "$T"/lay/blobs/sha256/*; do
	fallocate -d "$b" 2>/dev/null # zero runs become holes: tar -S then stores the blob sparse
	[ $(($(stat -c '%b * %B' "$b"))) -lt "$(stat -c %s "$b")" ] && holes=1
done
if [ $holes = 1 ]; then
	tar -C "$T/lay" -S --format=pax -cf "$T/lay-sparse.tar" .
	"$STRATA" index --index "$T/lay.db" -q "$T/lay-sparse.tar" >/dev/null 2>"$T/err"
	rc=$?
	[ $rc = 2 ] && one_line_err "$T/err" && grep -q "sparse file (tar -S): not supported" "$T/err"
	ok $? "an OCI tar whose blob member is stored sparse: one-line error, exit 2 (exit $rc)"
	[ $rc = 2 ] || diag <"$T/err"
else
	skip "an OCI tar whose blob member is stored sparse" "fallocate -d made no hole here"
fi

# ---- hostile: a 1 TiB sparse file holding 4 bytes ------------------------------------------------
H=$T/huge
mkdir -p "$H"
truncate -s 1T "$H/huge" && printf data | dd of="$H/huge" conv=notrunc status=none
tar -C "$H" -S --format=gnu -cf "$T/huge.tar" huge
rm -f "$H/huge"
start=$(date +%s%N)
"$STRATA" index --index "$T/huge.db" -q "$T/huge.tar" >/dev/null 2>"$T/err"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
# Hashing 1 TiB of zeros takes about ten minutes here: a minute is a generous bound.
[ $rc = 0 ] && [ $ms -lt 60000 ]; ok $? "1 TiB sparse file: indexed in ${ms} ms (exit $rc)"
"$STRATA" sql "$T/huge.db" "SELECT size, sparse, coalesce(sha256, 'NULL') FROM entry WHERE path = 'huge'" >"$T/got"
printf '1099511627776\t1\tNULL\n' >"$T/want"
same_output "1 TiB sparse file: real size, flagged sparse, no sha256 (holes over the hashing budget)" "$T/want" "$T/got"
"$STRATA" sql "$T/huge.db" "SELECT message FROM problem WHERE kind = 'sparse'" >"$T/got"
grep -q "no sha256" "$T/got"; ok $? "1 TiB sparse file: a problem row says why there is no sha256"
# A package file replaced by a 1 TiB sparse file in a later layer: the package check reports it
# without reading it (md5 of 1 TiB of zeros would take about half an hour).
P=$T/pkg1
mkdir -p "$P/usr/bin" "$P/var/lib/dpkg/info"
printf 'original\n' >"$P/usr/bin/x"
printf 'Package: p\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\nMaintainer: m <m@example.org>\nDescription: d\n\n' \
	>"$P/var/lib/dpkg/status"
printf '/.\n/usr\n/usr/bin\n/usr/bin/x\n' >"$P/var/lib/dpkg/info/p.list"
(cd "$P" && md5sum usr/bin/x) >"$P/var/lib/dpkg/info/p.md5sums"
tar -C "$P" -cf "$T/pkg1.tar" .
mkdir -p "$T/pkg2/usr/bin"
truncate -s 1T "$T/pkg2/usr/bin/x" && printf data | dd of="$T/pkg2/usr/bin/x" conv=notrunc status=none
tar -C "$T/pkg2" -S --format=gnu -cf "$T/pkg2.tar" ./usr/bin/x
rm -f "$T/pkg2/usr/bin/x"
bash "$MK" --form docker -o "$T/pkgimg.tar" "$T/pkg1.tar" "$T/pkg2.tar" >/dev/null
start=$(date +%s%N)
timeout 300 "$STRATA" report "$T/pkgimg.tar" integrity.json >"$T/integ.json" 2>"$T/err"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
[ $rc = 0 ] && [ $ms -lt 60000 ] && grep -q 'usr/bin/x' "$T/integ.json" && grep -q 'not-hashed' "$T/integ.json"
ok $? "a package file replaced by a 1 TiB sparse file: integrity.json names it not-hashed, unread (${ms} ms, exit $rc)" ||
	{ head -c 800 "$T/integ.json"; cat "$T/err"; } | diag
if smount "$T/huge.tar" "$T/mnt-huge" --index "$T/huge.db" 2>"$T/err" </dev/null; then
	[ "$(stat -c %s "$T/mnt-huge/huge")" = 1099511627776 ]; ok $? "1 TiB sparse file: stat size through the mount"
	[ "$(head -c 4 "$T/mnt-huge/huge")" = data ]; ok $? "1 TiB sparse file: its 4 bytes of data"
	dd_at "$T/mnt-huge/huge" $((1099511627776 - 65536)) 70000 | cmp -s - <(head -c 65536 /dev/zero)
	ok $? "1 TiB sparse file: its last 64 KiB are zeros, and the read ends at the size"
	getfattr -n user.strata.sha256 "$T/mnt-huge/huge" >/dev/null 2>&1
	[ $? != 0 ]; ok $? "1 TiB sparse file: no user.strata.sha256"
	sumount "$T/mnt-huge"; ok $? "1 TiB sparse file: strata umount"
else
	fail "1 TiB sparse file: strata mount"; diag <"$T/err"
fi
tap_done
