#!/bin/bash
# tests/integration/mount_bigread.sh — large READs and a span cache under pressure. A strata
# mount raises its read-ahead (the bdi's read_ahead_kb) to 1 MiB, so the kernel sends READs of
# up to 1 MiB: read_ahead_kb reads back as 1024 right after `strata mount` returns, `strata
# mount -d` shows READ replies larger than 256 KiB (the most the default 128 KiB read-ahead
# gives), and the bytes are still those `tar -x` gives. Two layers of
# ~25 MiB each in 256 KiB spans stream more than the 32 MiB span budget through the cache while
# a tar reads the layers interleaved (the budget's buffers are recycled), and two readers walk
# the tree in opposite orders. Without root (or a writable /sys) the read-ahead checks skip.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
export LC_ALL=C

# Layer 1: big random and text files, small files between; layer 2: more of both in the same
# directories (so a tar of the merged view reads both layers by turns) and one replaced file.
src=$T/src
for l in 1 2; do
	mkdir -p "$src/l$l/d/a" "$src/l$l/d/b"
	head -c $((9 << 20)) /dev/urandom >"$src/l$l/d/a/big$l.bin"
	seq 1 900000 | sed "s/\$/ layer $l text/" >"$src/l$l/d/b/big$l.txt"
	for i in $(seq 1 60); do
		head -c $((i * 1531)) /dev/urandom >"$src/l$l/d/a/r$l-$i"
		seq "$i" $((i * 250)) >"$src/l$l/d/b/t$l-$i"
	done
done
head -c 3000000 /dev/urandom >"$src/l2/d/a/r1-7"
tar -C "$src/l1" --sort=name --owner=0 --group=0 -cf "$T/l1.tar" d
tar -C "$src/l2" --sort=name --owner=0 --group=0 -cf "$T/l2.tar" d
ref=$T/ref
mkdir -p "$ref"
tar -C "$ref" -xf "$T/l1.tar" && tar -C "$ref" -xf "$T/l2.tar"
ok $? "reference tree: tar -x of both layers"
file_hashes "$ref" >"$T/ref.sums"

# the reference for the concurrent readers' sums (sorted by path, as theirs are)
(cd "$ref" && find . -type f -print0 | xargs -0 sha256sum -- | sort -k2) >"$T/ref2.sums"
for form in gzip zstd-multi; do
	img=$T/img-$form.tar
	bash "$REPO/tools/mkimage.sh" --form docker --layer-compress "$form" -o "$img" "$T/l1.tar" "$T/l2.tar" \
		>"$T/mk.log" 2>&1
	ok $? "$form: image built"
	"$STRATA" index -q --span 262144 --index "$T/$form.db" "$img" >/dev/null 2>"$T/err"
	ok $? "$form: indexed with 256 KiB spans"
	mnt=$T/mnt-$form
	smount "$img" "$mnt" --index "$T/$form.db" -o hide_meta 2>"$T/err" </dev/null
	ok $? "$form: mount"
	bdi=/sys/class/bdi/$(stat -c '%Hd:%Ld' "$mnt")/read_ahead_kb
	if [ "$(id -u)" = 0 ] && [ -w "$bdi" ]; then
		[ "$(cat "$bdi")" = 1024 ]
		ok $? "$form: the mount's read_ahead_kb is 1024 once strata mount returns ($(cat "$bdi"))"
	else
		skip "$form: the mount's read_ahead_kb is 1024" "$bdi is not writable here"
	fi
	file_hashes "$mnt" >"$T/seq.sums"
	same_output "$form: every file read through the mount equals tar -x" "$T/ref.sums" "$T/seq.sums"
	(cd "$mnt" && tar -cf - d) | tar -C "$T" -xf - --one-top-level=fromtar-$form
	diff -r "$ref/d" "$T/fromtar-$form/d" >"$T/diff" 2>&1
	ok $? "$form: tar -c of the mount extracts to the reference tree"
	sumount "$mnt"
	ok $? "$form: umount"
	# A fresh mount (empty cache), two readers at once in opposite orders.
	smount "$img" "$mnt" --index "$T/$form.db" -o hide_meta 2>"$T/err" </dev/null
	(cd "$mnt" && find . -type f -print0 | sort -z | xargs -0 sha256sum -- | sort -k2) >"$T/fw.sums" &
	(cd "$mnt" && find . -type f -print0 | sort -rz | xargs -0 sha256sum -- | sort -k2) >"$T/bw.sums" &
	wait
	cmp -s "$T/ref2.sums" "$T/fw.sums" && cmp -s "$T/ref2.sums" "$T/bw.sums"
	ok $? "$form: two concurrent readers (forwards and backwards) equal tar -x"
	sumount "$mnt"
	ok $? "$form: umount after the concurrent readers"
done

# READ sizes, as `strata mount -d` prints them (one "outsize" line per reply, 16 header bytes).
img=$T/img-gzip.tar
mnt=$T/mnt-debug
mkdir -p "$mnt"
MOUNTS+=("$mnt")
"$STRATA" mount -d --index "$T/gzip.db" "$img" "$mnt" >/dev/null 2>"$T/debug.log" &
dpid=$!
for i in $(seq 1 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
bdi=/sys/class/bdi/$(stat -c '%Hd:%Ld' "$mnt")/read_ahead_kb
raised=no
[ "$(id -u)" = 0 ] && [ -w "$bdi" ] && raised=yes
cat "$mnt/d/a/big1.bin" "$mnt/d/b/big2.txt" | sha256sum >"$T/dbg.sum"
cat "$ref/d/a/big1.bin" "$ref/d/b/big2.txt" | sha256sum >"$T/ref.sum"
same_output "strata mount -d: big files read through the mount equal tar -x" "$T/ref.sum" "$T/dbg.sum"
fusermount3 -u "$mnt"
wait "$dpid"
ok $? "strata mount -d: exits 0 after fusermount3 -u"
sizes=$(grep -A1 'opcode: READ ' "$T/debug.log" | grep -o 'outsize: [0-9]*' | awk '{ print $2 - 16 }' | sort -n)
max=$(echo "$sizes" | tail -1)
# (No check that READs stay within 1 MiB: the kernel never sends more than the max_pages libfuse
# negotiates, so such a check could not fail.)
[ -n "$max" ]
ok $? "strata mount -d logs the READ replies (largest: ${max:-none} bytes)"
if [ "$raised" = yes ]; then
	[ "$(echo "$sizes" | awk '$1 > 262144' | wc -l)" -gt 0 ]
	ok $? "READs larger than 256 KiB (twice the default read-ahead) reach the mount ($(echo "$sizes" | awk '$1 > 262144' | wc -l) of $(echo "$sizes" | wc -l))"
else
	skip "READs larger than 256 KiB (twice the default read-ahead) reach the mount" "read_ahead_kb is not writable here"
fi
tap_done
