#!/bin/bash
# tests/integration/mount_readahead.sh — file data through many small gzip and zstd spans
# (--span 65536), where sequential readers trigger the background span readahead: a sequential
# tar of the mount, readers walking the files forwards and backwards at the same time, and dd
# reads at odd offsets and block sizes all return the bytes `tar -x` of the same layers gives.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
export LC_ALL=C

# Two layers of about 6 MiB: text-like (compressible) and random (incompressible) files, one
# file of several MiB crossing many spans, small files between; layer 2 replaces some files.
src=$T/src
mkdir -p "$src/l1/data/small" "$src/l2/data/small"
head -c 3145728 /dev/urandom >"$src/l1/data/big.bin"
seq 1 400000 | sed 's/$/ strata readahead line/' >"$src/l1/data/big.txt"
for i in $(seq 1 120); do
	head -c $((i * 997)) /dev/urandom >"$src/l1/data/small/r$i"
	seq "$i" $((i * 300)) >"$src/l1/data/small/t$i"
done
for i in $(seq 1 120 | awk 'NR % 3 == 0'); do seq $((i * 7)) $((i * 400)) >"$src/l2/data/small/t$i"; done
head -c 1048577 /dev/urandom >"$src/l2/data/mid.bin"
tar -C "$src/l1" --sort=name --owner=0 --group=0 -cf "$T/l1.tar" data
tar -C "$src/l2" --sort=name --owner=0 --group=0 -cf "$T/l2.tar" data
ref=$T/ref
mkdir -p "$ref"
tar -C "$ref" -xf "$T/l1.tar" && tar -C "$ref" -xf "$T/l2.tar"
ok $? "reference tree: tar -x of both layers"
(cd "$ref" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$T/ref.sums"

for form in gzip zstd-multi; do
	img=$T/img-$form.tar
	bash "$REPO/tools/mkimage.sh" --form docker --layer-compress "$form" -o "$img" "$T/l1.tar" "$T/l2.tar" \
		>"$T/mk.log" 2>&1
	ok $? "$form: image built"
	"$STRATA" index -q --span 65536 --index "$T/$form.db" "$img" >/dev/null 2>"$T/err"
	ok $? "$form: indexed with 64 KiB spans"
	mnt=$T/mnt-$form
	smount "$img" "$mnt" --index "$T/$form.db" -o hide_meta 2>"$T/err" </dev/null
	ok $? "$form: mount"
	(cd "$mnt" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$T/seq.sums"
	same_output "$form: every file read in order equals tar -x" "$T/ref.sums" "$T/seq.sums"
	sumount "$mnt"
	# A fresh mount (empty span cache): four readers at once, two forwards, two backwards.
	smount "$img" "$mnt" --index "$T/$form.db" -o hide_meta 2>"$T/err" </dev/null
	for i in 1 2 3 4; do
		case $i in 1 | 3) order=sort ;; *) order="sort -r" ;; esac
		(cd "$mnt" && find . -type f -print0 | $order -z | xargs -0 sha256sum | sort -k2) >"$T/par$i.sums" &
	done
	wait
	for i in 1 2 3 4; do cmp -s "$T/ref.sums" "$T/par$i.sums" || break; done
	ok $? "$form: 4 concurrent readers (forwards and backwards) equal tar -x"
	# Odd offsets and block sizes inside the big files, each checked against the reference.
	bad=0
	for spec in "1 4095 0" "3 65537 5" "100 1000 1003" "7 262144 2" "1 1048576 1"; do
		set -- $spec
		for f in data/big.bin data/big.txt; do
			dd if="$mnt/$f" bs="$2" skip="$3" count="$1" status=none >"$T/a" 2>/dev/null
			dd if="$ref/$f" bs="$2" skip="$3" count="$1" status=none >"$T/b"
			cmp -s "$T/a" "$T/b" || { bad=1; echo "$form $f bs=$2 skip=$3 count=$1 differs" | diag; }
		done
	done
	ok $bad "$form: dd reads at odd offsets and sizes equal the reference"
	sumount "$mnt"; ok $? "$form: umount"
done
tap_done
