#!/bin/bash
# tests/integration/mount_forms.sh — `strata mount` of every fixture form, compared with the tree
# umoci unpacks from the same image: find listing (path, type, mode, owner, size, link target),
# hard links sharing an inode, sha256 of every regular file read through the mount, and the
# security.capability xattr; then unmount and check no process is left.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
need_fixtures
export LC_ALL=C

while IFS=$'\t' read -r name image ref args; do
	img=$FIX/$image refdir=$FIX/$ref mnt=$T/mnt-$name
	# shellcheck disable=SC2086 # args are words
	if smount "$img" "$mnt" --index "$T/$name.db" -o hide_meta $args 2>"$T/err" </dev/null; then
		pass "$name: strata mount"
	else
		fail "$name: strata mount"; diag <"$T/err"; continue
	fi
	ref_list "$refdir" >"$T/want"
	ref_list "$mnt" >"$T/got"
	same_output "$name: find listing equals umoci's rootfs" "$T/want" "$T/got"
	hardlink_groups "$refdir" >"$T/want"
	hardlink_groups "$mnt" >"$T/got"
	if [ -s "$T/want" ]; then
		same_output "$name: hard links share an inode (stat %i)" "$T/want" "$T/got"
	fi
	file_hashes "$refdir" >"$T/want"
	file_hashes "$mnt" >"$T/got" 2>"$T/err"
	same_output "$name: sha256 of every regular file read through the mount" "$T/want" "$T/got"
	if [ -e "$refdir/bin/ping" ]; then
		getfattr -h -e hex -n security.capability "$refdir/bin/ping" 2>/dev/null | grep = >"$T/want"
		getfattr -h -e hex -n security.capability "$mnt/bin/ping" 2>/dev/null | grep = >"$T/got"
		if [ -s "$T/want" ]; then
			same_output "$name: security.capability of bin/ping" "$T/want" "$T/got"
		else
			[ -s "$T/got" ]; ok $? "$name: security.capability of bin/ping present (umoci's copy lacks it)"
		fi
	fi
	sumount "$mnt"; ok $? "$name: strata umount leaves no process"
done <"$FIX/forms.list"
tap_done
