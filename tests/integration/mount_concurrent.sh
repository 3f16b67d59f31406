#!/bin/bash
# tests/integration/mount_concurrent.sh — eight concurrent readers of the whole tree (tar of the
# mount root, through gzip and zstd layers) get identical archives, and the mount survives them;
# then 16 readers mixing find, cat, getfattr and /.audit reads each get what a lone reader got.
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
# 16 readers mixing traversal, content, xattrs and /.audit reports on one mount (meta visible):
# each kind's output equals what a single reader got alone before.
form=oci-zstd mnt=$T/mnt-mix
smount "$FIX/images/$form" "$mnt" --index "$T/$form.db" 2>"$T/err" </dev/null
ok $? "$form: mount with /.audit visible"
reader() { # KIND
	case $1 in
	find) cd "$mnt" && find . -path ./.audit -prune -o -printf '%p %s %m %n %U %G %y\n' | sort ;;
	cat) cd "$mnt" && find . \( -path ./.audit -o -path ./.layers -o -path ./.history \) -prune -o -type f -print0 |
		sort -z | xargs -0 cat | sha256sum ;;
	xattr) cd "$mnt" && find . \( -path ./.audit -o -path ./.layers -o -path ./.history \) -prune -o -print0 |
		sort -z | xargs -0 getfattr -h -d -m - --absolute-names 2>&1 ;;
	audit) cd "$mnt/.audit" && for f in $(find . -type f ! -name index.db | sort); do echo "$f"; cat "$f"; done | sha256sum ;;
	esac
}
for k in find cat xattr audit; do (reader $k) >"$T/ref.$k" 2>&1; done
for i in 1 2 3 4; do
	for k in find cat xattr audit; do (reader $k) >"$T/par.$k.$i" 2>&1 & done
done
wait
for k in find cat xattr audit; do
	bad=0
	for i in 1 2 3 4; do cmp -s "$T/ref.$k" "$T/par.$k.$i" || bad=1; done
	[ "$bad" = 0 ] && [ -s "$T/ref.$k" ]; ok $? "$form: 4 concurrent '$k' readers (among 16) match a single reader ($(wc -l <"$T/ref.$k") lines)"
done
grep -q 'user.strata.layer' "$T/ref.xattr"; ok $? "$form: the xattr reader saw user.strata.* attributes"
sumount "$mnt"; ok $? "$form: umount after the mixed readers"
tap_done
