#!/bin/bash
# tests/integration/mount_concurrent.sh — eight concurrent readers of the whole tree (tar of the
# mount root, through gzip and zstd layers) get identical archives, and the mount survives them.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
need_fixtures
export LC_ALL=C

for form in oci-gzip oci-zstd; do
	mnt=$T/mnt-$form
	smount "$FIX/images/$form" "$mnt" --index "$T/$form.db" -o hide_meta 2>"$T/err" </dev/null
	ok $? "$form: mount"
	for i in 1 2 3 4 5 6 7 8; do
		(cd "$mnt" && tar --sort=name -cf - . 2>"$T/tar$i.err" | sha256sum >"$T/sum$i") &
	done
	wait
	sort -u "$T"/sum? >"$T/sums"
	[ "$(wc -l <"$T/sums")" = 1 ] && ! grep -q . "$T"/tar?.err
	ok $? "$form: 8 concurrent tar | sha256sum agree"
	cat "$T"/tar?.err | head -5 | diag
	(cd "$mnt" && tar --sort=name -cf - . | sha256sum) >"$T/again"
	cmp -s "$T/again" "$T/sum1"; ok $? "$form: the mount still answers the same afterwards"
	sumount "$mnt"; ok $? "$form: umount"
done
tap_done
