#!/bin/bash
# tests/integration/mount_index_gone.sh — a live mount does not depend on its index's path:
#   1. another image's index renamed over the mount's index, then 40 concurrent readers (each
#      cat of a 300 kB file and a one-line file in its own directory) and getfattr: every byte is
#      what `tar -x` of the mounted image gives (no mixing of two indexes);
#   2. on a fresh mount, the index's directory removed (rm -rf), then the same: no "No such file",
#      no EIO, and a file read again afterwards still reads (no cached negative entry);
#   3. xattrs: user.strata.layer of a plain rootfs tar's layer is "1" (no trailing space),
#      user.strata.sha256 equals sha256sum, names that are not ours answer "No such attribute";
#   4. user.strata.package of a directory owned by 60 packages (a hand-written dpkg status and
#      info/*.list files) holds every owner `dpkg-query -S` names;
#   5. `ls -l` of a directory in the mount prints what `ls -l` of the tar -x tree prints (less the
#      "total" line: st_blocks is the file system's allocation, not the file's).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
command -v getfattr >/dev/null || { echo "1..0 # SKIP needs getfattr"; exit 77; }
export LC_ALL=C
# check STATUS DESCRIPTION: ok, and STATUS again (so that `|| diag` runs on failure).
check() { ok "$1" "$2"; [ "$1" = 0 ]; }

# mktree DIR FSIZE [EXTRA]: d1..d40, each with f (FSIZE random bytes), g (one line) and h (4 kB
# random), and when EXTRA is set a first file "e" (so that inode numbers, entry ids and data
# offsets differ from a tree without it).
mktree() {
	local i
	for i in $(seq 1 40); do
		mkdir -p "$1/d$i"
		[ -n "${3:-}" ] && echo "extra" >"$1/d$i/e"
		head -c "$2" /dev/urandom >"$1/d$i/f"
		echo "line of d$i in $(basename "$1")" >"$1/d$i/g"
		head -c 4096 /dev/urandom >"$1/d$i/h"
	done
}
mktree "$T/a" 307200
mktree "$T/b" 200000 extra
tar -C "$T/a" -czf "$T/a.tgz" .
tar -C "$T/b" -czf "$T/b.tgz" .
mkdir -p "$T/ref" && tar -C "$T/ref" -xzf "$T/a.tgz"

# readers MNT NAME...: 40 concurrent readers, reader i reads d$i/NAME for each NAME (sha256sum
# through the mount); "$T/out.i" gets the sums (paths relative to the image), "$T/err.i" stderr.
readers() {
	local mnt=$1 i n
	shift
	for i in $(seq 1 40); do
		(cd "$mnt" && for n in "$@"; do printf 'd%s/%s\0' "$i" "$n"; done | xargs -0 sha256sum >"$T/out.$i" 2>"$T/err.$i") &
	done
	wait
}
# readers_ok NAME...: the readers' sums equal the reference tree's and nothing went to stderr.
readers_ok() {
	local i n
	(cd "$T/ref" && for i in $(seq 1 40); do for n in "$@"; do printf 'd%s/%s\0' "$i" "$n"; done; done |
		xargs -0 sha256sum) >"$T/want"
	for i in $(seq 1 40); do cat "$T/out.$i"; done >"$T/got"
	cat "$T"/err.* >"$T/errs" 2>/dev/null
	cmp -s "$T/want" "$T/got" && [ ! -s "$T/errs" ]
}

# 1. Another index renamed over the mount's index.
mkdir -p "$T/idx1"
smount "$T/a.tgz" "$T/m1" --index "$T/idx1/a.db" 2>"$T/mount1.err" </dev/null
check $? "mount a.tgz" || diag <"$T/mount1.err"
"$STRATA" index -q "$T/b.tgz" --index "$T/b.db" >/dev/null 2>"$T/index_b.err"
check $? "index b.tgz (the same paths, other sizes, inodes and bytes)" || diag <"$T/index_b.err"
cp "$T/idx1/a.db" "$T/a1.db"
mv "$T/b.db" "$T/idx1/a.db"
readers "$T/m1" f g
readers_ok f g
check $? "index renamed over: 40 concurrent readers of d*/f and d*/g read the mounted image's bytes" ||
	{ diff "$T/want" "$T/got" | head -5; head -5 "$T/errs"; } | diag
v=$(getfattr -h --only-values -n user.strata.sha256 "$T/m1/d7/h" 2>"$T/gf.err")
[ "$v" = "$(sha256sum <"$T/ref/d7/h" | cut -c1-64)" ]
check $? "index renamed over: getfattr user.strata.sha256 equals sha256sum" || diag <"$T/gf.err"
cmp -s "$T/m1/.audit/index.db" "$T/a1.db"
check $? "index renamed over: /.audit/index.db is still the index the mount uses"
# Reports are rendered at their first read, after the rename: they must describe the mounted image.
want_sha=$(sha256sum <"$T/a.tgz" | cut -c1-64)
grep -q "$want_sha" "$T/m1/.audit/custody.json" 2>"$T/cu.err" && ! grep -q "b.tgz" "$T/m1/.audit/custody.json"
check $? "index renamed over: /.audit/custody.json names the mounted image a.tgz and its sha256" ||
	{ head -c 600 "$T/m1/.audit/custody.json"; cat "$T/cu.err"; } | diag
[ -n "$(cat "$T/m1/.audit/verdict" 2>"$T/vd.err")" ] && "$STRATA" report "$T/a1.db" verdict >"$T/vd.want" 2>>"$T/vd.err" &&
	cmp -s "$T/m1/.audit/verdict" "$T/vd.want"
check $? "index renamed over: /.audit/verdict is the one of the mounted image's index" || diag <"$T/vd.err"
sumount "$T/m1"; check $? "umount"

# 2. The index's directory removed under a fresh mount.
mkdir -p "$T/idx2"
smount "$T/a.tgz" "$T/m2" --index "$T/idx2/a.db" 2>"$T/mount2.err" </dev/null
check $? "mount a.tgz again" || diag <"$T/mount2.err"
rm -rf "$T/idx2"
readers "$T/m2" f g
readers_ok f g
check $? "index removed: 40 concurrent readers of d*/f and d*/g succeed with the right bytes" ||
	{ diff "$T/want" "$T/got" | head -5; head -5 "$T/errs"; } | diag
readers "$T/m2" h g
readers_ok h g
check $? "index removed: files never looked up before (d*/h) and d*/g again read right" ||
	{ diff "$T/want" "$T/got" | head -5; head -5 "$T/errs"; } | diag
cmp -s "$T/m2/d2/g" "$T/ref/d2/g"; check $? "index removed: cat d2/g still reads"
for x in layer sha256 added findings; do
	getfattr -h -n user.strata.$x "$T/m2/d3/f" >/dev/null 2>"$T/gf.err"
	check $? "index removed: getfattr user.strata.$x succeeds" || diag <"$T/gf.err"
done

# 3. Values and absent names.
v=$(getfattr -h --only-values -n user.strata.layer "$T/m2/d1/f" 2>"$T/gf.err"; echo x)
[ "$v" = "1x" ]; check $? "user.strata.layer of a plain tar's layer is exactly \"1\" (got \"${v%x}\")"
getfattr -h -n security.selinux "$T/m2/d1/f" >/dev/null 2>"$T/gf.err"
[ $? != 0 ] && grep -q "No such attribute" "$T/gf.err"
check $? "a name that is not ours nor stored: No such attribute" || diag <"$T/gf.err"
getfattr -h -d -m - "$T/m2/d1/g" 2>"$T/gf.err" | grep '^user\.strata\.' | cut -d= -f1 | sort >"$T/names"
printf '%s\n' user.strata.added user.strata.findings user.strata.layer user.strata.sha256 >"$T/names_ref"
same_output "listxattr names of a file without a package" "$T/names_ref" "$T/names"

# 5. ls -l equals ls -l of the tar -x tree.
(cd "$T/ref" && ls -l --time-style=full-iso d5 | tail -n +2) >"$T/ls_ref"
(cd "$T/m2" && ls -l --time-style=full-iso d5 2>&1 | tail -n +2) >"$T/ls_got"
same_output "ls -l of a directory equals ls -l of tar -x's tree" "$T/ls_ref" "$T/ls_got"
sumount "$T/m2"; check $? "umount"

# 4. A directory with 60 owners.
if command -v dpkg-query >/dev/null; then
	p=$T/p
	mkdir -p "$p/var/lib/dpkg/info" "$p/usr/bin"
	: >"$p/var/lib/dpkg/status"
	for i in $(seq -w 1 60); do
		name=package-number-$i
		printf 'Package: %s\nStatus: install ok installed\nPriority: optional\nSection: misc\nMaintainer: T <t@example.org>\nArchitecture: amd64\nVersion: 1.0-%s\nDescription: owner %s\n\n' \
			"$name" "$i" "$i" >>"$p/var/lib/dpkg/status"
		printf '/.\n/usr\n/usr/bin\n/usr/bin/tool-%s\n' "$i" >"$p/var/lib/dpkg/info/$name.list"
		printf '#!/bin/sh\necho %s\n' "$i" >"$p/usr/bin/tool-$i" && chmod 755 "$p/usr/bin/tool-$i"
	done
	tar -C "$p" -cf "$T/p.tar" .
	dpkg-query --admindir="$p/var/lib/dpkg" -S /usr/bin 2>/dev/null | sed 's/: \/usr\/bin$//' | tr ',' '\n' |
		sed 's/^ *//' | sort >"$T/owners_ref"
	smount "$T/p.tar" "$T/m3" --index "$T/p.db" 2>"$T/mount3.err" </dev/null
	check $? "mount the dpkg image" || diag <"$T/mount3.err"
	getfattr -h --only-values -n user.strata.package "$T/m3/usr/bin" 2>"$T/gf.err" | sed 's/, /\n/g' | sort >"$T/owners"
	[ "$(wc -l <"$T/owners_ref")" = 60 ] && cmp -s "$T/owners_ref" "$T/owners"
	check $? "user.strata.package of /usr/bin holds all $(wc -l <"$T/owners_ref") owners dpkg-query -S names" ||
		{ diff "$T/owners_ref" "$T/owners" | head -5; cat "$T/gf.err"; } | diag
	v=$(getfattr -h --only-values -n user.strata.package "$T/m3/usr/bin/tool-33" 2>"$T/gf.err")
	[ "$v" = package-number-33 ]; check $? "user.strata.package of /usr/bin/tool-33 is its one owner ($v)"
	v=$(getfattr -h --only-values -n user.strata.layer "$T/m3/usr/bin/tool-01" 2>"$T/gf.err"; echo x)
	[ "$v" = "1x" ]; check $? "fresh mount of a plain tar: user.strata.layer is exactly \"1\" (got \"${v%x}\")"
	mkdir -p "$T/pref" && tar -C "$T/pref" -xf "$T/p.tar"
	(cd "$T/pref" && ls -l --time-style=full-iso usr/bin | tail -n +2) >"$T/ls_ref"
	(cd "$T/m3" && ls -l --time-style=full-iso usr/bin 2>&1 | tail -n +2) >"$T/ls_got"
	same_output "ls -l of /usr/bin (60 scripts) equals ls -l of tar -x's tree" "$T/ls_ref" "$T/ls_got"
	sumount "$T/m3"; check $? "umount"
else
	skip "user.strata.package of a directory with 60 owners" "no dpkg-query"
fi
tap_done
