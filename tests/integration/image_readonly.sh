#!/bin/bash
# tests/integration/image_readonly.sh — issue 8: the image is never written. For a docker archive
# (gzip layers) and an OCI layout directory (zstd layers, so a seekable copy is made in the
# cache), the sha256 of every image file is recorded, then `strata index`, `strata mount` + find
# and cat of everything + every /.audit file, `strata audit` and `strata umount` run under
# `strace -f`; the sha256s are unchanged and no traced syscall opened an image path with
# O_WRONLY/O_RDWR/O_CREAT/O_TRUNC, created, truncated, renamed or unlinked one.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
command -v strace >/dev/null || { echo "1..0 # SKIP no strace"; exit 77; }
export LC_ALL=C
MK=$REPO/tools/mkimage.sh

for l in 1 2; do
	mkdir -p "$T/src$l/etc" "$T/src$l/d$l"
	for i in $(seq 0 199); do printf 'layer %d file %d\n' "$l" "$i" >"$T/src$l/d$l/f$i"; done
	head -c $((1 << 20)) /dev/urandom >"$T/src$l/big$l"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$T/src$l/etc/passwd"
	tar -C "$T/src$l" --owner=0 --group=0 --mtime=@0 -cf "$T/L$l.tar" .
done
bash "$MK" --form docker --layer-compress gzip -o "$T/image-docker.tar" "$T/L1.tar" "$T/L2.tar" >/dev/null
bash "$MK" --form oci-dir --layer-compress zstd -o "$T/image-oci" "$T/L1.tar" "$T/L2.tar" >/dev/null

# sums IMAGE: sha256 of every file of the image (one line for a tar), sorted by path.
sums() { find "$1" -type f -print0 | sort -z | xargs -0 sha256sum --; }

for form in docker oci; do
	img=$T/image-$form
	[ "$form" = docker ] && img=$T/image-docker.tar
	sums "$img" >"$T/before.$form"
	mnt=$T/mnt-$form
	mkdir -p "$mnt"
	MOUNTS+=("$mnt")
	cat >"$T/run.$form.sh" <<EOF
set -u
cd /
# LeakSanitizer cannot run under ptrace: an ASan build keeps its memory checks, leaks are
# checked by the untraced tests.
export ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0"
"$STRATA" index -q "$img" --index "$T/$form.db" >/dev/null || echo "FAILED index"
"$STRATA" mount --index "$T/$form.db" "$img" "$mnt" </dev/null || echo "FAILED mount"
find "$mnt" -printf '%p %s %m\n' >/dev/null || echo "FAILED find"
find "$mnt" -path "$mnt/.audit/index.db" -prune -o -type f -print0 | xargs -0 cat >/dev/null || echo "FAILED cat"
"$STRATA" audit -q --index "$T/$form.db" "$img" >/dev/null 2>&1; [ \$? -le 1 ] || echo "FAILED audit"
"$STRATA" umount "$mnt" || echo "FAILED umount"
EOF
	# strace waits for the daemonised server too: it ends once umount has stopped it.
	timeout 120 strace -f -qq -s 4096 -o "$T/trace.$form" \
		-e trace=open,openat,openat2,creat,truncate,rename,renameat,renameat2,unlink,unlinkat \
		bash "$T/run.$form.sh" >"$T/out.$form" 2>&1
	rc=$?
	! grep -q FAILED "$T/out.$form" && [ "$rc" = 0 ]
	ok $? "$form: index, mount, find, cat, /.audit reads, audit, umount under strace (exit $rc)"
	diag <"$T/out.$form"
	grep -c "\"$mnt/.audit/" "$T/trace.$form" | grep -qv '^0$'; ok $? "$form: /.audit files were read"
	grep -q "\"$img[/\"]" "$T/trace.$form"; ok $? "$form: the trace shows the image being opened"
	sums "$img" >"$T/after.$form"
	same_output "$form: sha256 of every image file unchanged ($(wc -l <"$T/before.$form") files)" \
		"$T/before.$form" "$T/after.$form"
	# Every traced syscall naming an image path: opens must be read-only, nothing else allowed.
	grep -F "\"$img" "$T/trace.$form" | grep -E "\"$img[/\"]" >"$T/img.$form" || true
	awk '/(openat2?|open)\(/ && !/O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/ { next } { print }' "$T/img.$form" >"$T/bad.$form"
	[ ! -s "$T/bad.$form" ]; ok $? "$form: no syscall wrote, created, truncated, renamed or unlinked an image path ($(wc -l <"$T/img.$form") calls on it)"
	head -5 "$T/bad.$form" | diag
done
tap_done
