#!/bin/bash
# tests/integration/mount_prefetch.sh — the pages the mount pushes ahead into the kernel's page
# cache (fs/prefetch.c: after a read at offset 0, the next small files of the directory) hold the
# right bytes: a directory of many small files (smaller than a page, exactly a page, up to the
# 128 KiB limit and one byte over it, empty ones) read by `tar -cf -` through the mount, then
# unpacked, equals `tar -x` of the image's layers file by file (sha256), for gzip and zstd; the
# same after a `find` (the kernel then lists from its own cache) and with readers in parallel;
# and unmounting while pushes are queued is clean.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
export LC_ALL=C

src=$T/src
mkdir -p "$src/l1/d/many" "$src/l1/d/sub" "$src/l2/d/many"
sizes="1 100 4095 4096 4097 8192 65536 131071 131072 131073 300000"
for n in $(seq 1 150); do
	s=$(echo $sizes | awk -v k=$((n % 11 + 1)) '{ print $k }')
	head -c "$s" /dev/urandom >"$src/l1/d/many/f$(printf %03d "$n")"
done
: >"$src/l1/d/many/empty"
for n in $(seq 1 40); do seq "$n" $((n * 50)) >"$src/l1/d/sub/t$n"; done
# layer 2 replaces some files with other sizes: the pushed data must be the upper layer's
for n in $(seq 5 7 150); do head -c $((n * 37)) /dev/urandom >"$src/l2/d/many/f$(printf %03d "$n")"; done
tar -C "$src/l1" --owner=0 --group=0 -cf "$T/l1.tar" d
tar -C "$src/l2" --owner=0 --group=0 -cf "$T/l2.tar" d
ref=$T/ref
mkdir -p "$ref"
tar -C "$ref" -xf "$T/l1.tar" && tar -C "$ref" -xf "$T/l2.tar"
ok $? "reference tree: tar -x of both layers"
file_hashes "$ref" >"$T/ref.sums"

for form in gzip zstd-multi; do
	img=$T/img-$form.tar
	bash "$REPO/tools/mkimage.sh" --form docker --layer-compress "$form" -o "$img" "$T/l1.tar" "$T/l2.tar" \
		>"$T/mk.log" 2>&1
	ok $? "$form: image built"
	"$STRATA" index -q --span 65536 --index "$T/$form.db" "$img" >/dev/null 2>"$T/err"
	ok $? "$form: indexed"
	mnt=$T/mnt-$form
	for pass in plain after-find; do
		smount "$img" "$mnt" --index "$T/$form.db" -o hide_meta 2>"$T/err" </dev/null
		ok $? "$form $pass: mount"
		[ $pass = after-find ] && (cd "$mnt" && find . -printf '%p %s\n' >/dev/null)
		rm -rf "$T/out" && mkdir -p "$T/out"
		(cd "$mnt" && tar -cf - .) | tar -C "$T/out" -xf -
		ok $? "$form $pass: tar -cf - through the mount"
		file_hashes "$T/out" >"$T/out.sums"
		same_output "$form $pass: every file equals tar -x of the layers (sha256)" "$T/ref.sums" "$T/out.sums"
		# again, from the page cache the first tar left
		(cd "$mnt" && tar -cf - .) | tar -C "$T/out" -xf - && file_hashes "$T/out" >"$T/out.sums"
		same_output "$form $pass: a second tar (page cache) is the same" "$T/ref.sums" "$T/out.sums"
		sumount "$mnt"; ok $? "$form $pass: umount"
	done
	# The push itself: after one small file is read, the next ones of its listing get resident
	# pages (fincore) without being read.
	smount "$img" "$mnt" --index "$T/$form.db" -o hide_meta 2>"$T/err" </dev/null
	if command -v fincore >/dev/null; then
		first=$(cd "$mnt/d/many" && ls -f | grep '^f' | head -1)
		cat "$mnt/d/many/$first" >/dev/null
		res=0
		for try in $(seq 1 50); do
			res=$(cd "$mnt/d/many" && ls -f | grep '^f' | sed -n 2,4p | xargs fincore -n -b -o RES |
				awk '{ s += $1 } END { print s + 0 }')
			[ "$res" -gt 0 ] && break
			sleep 0.1
		done
		[ "$res" -gt 0 ]
		ok $? "$form: reading $first put its next siblings in the page cache ($res bytes)"
	else
		skip "$form: next siblings in the page cache" "no fincore"
	fi
	sumount "$mnt"
	# Parallel readers of the same directory, then unmount at once with pushes still queued.
	smount "$img" "$mnt" --index "$T/$form.db" -o hide_meta 2>"$T/err" </dev/null
	for r in 1 2 3; do
		(mkdir -p "$T/par$r/d" && cd "$mnt" && tar -cf - d/many | tar -C "$T/par$r" -xf - &&
			file_hashes "$T/par$r" >"$T/par$r.sums") &
	done
	wait
	grep '  d/many/' "$T/ref.sums" >"$T/many.sums"
	bad=0
	for r in 1 2 3; do cmp -s "$T/many.sums" "$T/par$r.sums" || bad=1; done
	ok $bad "$form: three tars of the same directory at once equal tar -x of the layers"
	rm -rf "$T/par1" "$T/par2" "$T/par3"
	(cd "$mnt" && head -c 1 d/many/f001 >/dev/null)
	sumount "$mnt"; ok $? "$form: umount right after a read that queued pushes"
done
tap_done
