#!/bin/bash
# tests/integration/catalog.sh — the package catalog (issue 4) against real references.
#  1. The demo image (real Debian 12 packages from `apt-get download`, tools/demoimage.sh): the
#     layers are unpacked with tar; the catalog's deb packages equal
#     `dpkg-query --admindir=TREE/var/lib/dpkg -W` on the unpacked tree, every path of the tree
#     is attributed to the packages `dpkg-query -S` names, the packages each layer added equal
#     those of that layer's own status file, and the os row equals the tree's os-release.
#  2. A hand-made image in the real formats: an apk installed database (Alpine's format), a
#     Python dist-info tree (METADATA + RECORD) and npm packages under node_modules, with a
#     second layer that upgrades an apk package and deletes a Python distribution: the final
#     packages, their files, licenses, purls and the per-layer changes.
#  3. The reports packages.tsv and licenses.tsv (one row per package / license row), and in the
#     mount, the user.strata.package xattr of sampled files equals what dpkg-query -S says.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata

# ---- 1. Debian image ------------------------------------------------------------------------
demo=$REPO/build/demo/demo.tar
if ! (cd "$REPO" && sh tools/demoimage.sh "$demo" >"$T/demoimage.log" 2>&1); then
	skip "demo image: dpkg package list equals dpkg-query -W" "demo image could not be built (network?)"
	skip "demo image: file ownership equals dpkg-query -S"
	skip "demo image: packages added per layer equal each layer's status file"
	skip "demo image: os row"
else
	mkdir -p "$T/img" "$T/root"
	tar -xf "$demo" -C "$T/img"
	n=0
	for l in $(jq -r '.[0].Layers[]' "$T/img/manifest.json"); do
		n=$((n + 1))
		mkdir -p "$T/layer$n"
		tar -xzf "$T/img/$l" -C "$T/layer$n"
		tar -xzf "$T/img/$l" -C "$T/root"
		# whiteouts of this layer remove what lower layers had
		(cd "$T/root" && tar -tzf "$T/img/$l" | grep '\.wh\.' | while read -r w; do
			d=$(dirname "$w") b=$(basename "$w")
			rm -rf "./$d/${b#.wh.}" "./$w"
		done)
	done
	nlayers=$n
	# tools/debtree.sh writes no info/format; every real dpkg database since multiarch has "1"
	# there, without which dpkg-query ignores the pkg:arch.list files. Add it to the copies.
	for d in "$T"/root "$T"/layer*; do
		[ -d "$d/var/lib/dpkg/info" ] && [ ! -e "$d/var/lib/dpkg/info/format" ] && echo 1 >"$d/var/lib/dpkg/info/format"
	done
	"$STRATA" index -q --index "$T/demo.db" "$demo" >/dev/null
	"$STRATA" sql "$T/demo.db" "SELECT name, version FROM package WHERE type = 'deb'" | LC_ALL=C sort >"$T/ours.txt"
	dpkg-query --admindir="$T/root/var/lib/dpkg" -W -f '${db:Status-Status}\t${Package}\t${Version}\n' |
		awk -F'\t' '$1 == "installed" { print $2 "\t" $3 }' | LC_ALL=C sort >"$T/dpkg.txt"
	echo "# demo image: $(wc -l <"$T/ours.txt") deb packages in the catalog, $(wc -l <"$T/dpkg.txt") per dpkg-query" | cat
	if [ -s "$T/dpkg.txt" ]; then same_output "demo image: dpkg package list equals dpkg-query -W" "$T/dpkg.txt" "$T/ours.txt"; else fail "demo image: dpkg-query found no packages"; fi

	# Ownership of every path of the unpacked tree, as dpkg -S attributes it.
	(cd "$T/root" && find . -mindepth 1 \( -type f -o -type l -o -type d \) -printf '/%P\n') | LC_ALL=C sort >"$T/paths.txt"
	# "path<TAB>pkg" lines sorted, joined into "path<TAB>pkg1,pkg2" (names sorted).
	join_owners() { LC_ALL=C sort -u | awk -F'\t' '$1 == prev { s = s "," $2; next }
		{ if (NR > 1) print prev "\t" s; prev = $1; s = $2 } END { if (NR) print prev "\t" s }'; }
	xargs -d '\n' dpkg-query --admindir="$T/root/var/lib/dpkg" -S <"$T/paths.txt" 2>/dev/null |
		grep -v '^diversion by' |
		awk '{ i = index($0, ": /"); n = split(substr($0, 1, i - 1), p, ", ");
			for (k = 1; k <= n; k++) { sub(/:[a-z0-9]+$/, "", p[k]); print substr($0, i + 2) "\t" p[k] } }' |
		join_owners >"$T/dpkg_S.txt"
	"$STRATA" sql "$T/demo.db" "SELECT f.path, p.name FROM package_file f JOIN package p ON p.id = f.package" |
		awk -F'\t' 'NR == FNR { want[$1] = 1; next } ($1 in want)' "$T/paths.txt" - | join_owners >"$T/ours_S.txt"
	echo "# demo image: dpkg -S attributes $(wc -l <"$T/dpkg_S.txt") of $(wc -l <"$T/paths.txt") paths" | cat
	if [ -s "$T/dpkg_S.txt" ]; then same_output "demo image: file ownership of every path equals dpkg-query -S" "$T/dpkg_S.txt" "$T/ours_S.txt"
	else fail "demo image: dpkg-query -S attributed nothing"; fi

	# Per layer: the packages a layer added are those its own status file adds to the lower ones.
	: >"$T/ref_added.txt"
	: >"$T/prev.txt"
	for i in $(seq 1 "$nlayers"); do
		if [ -f "$T/layer$i/var/lib/dpkg/status" ]; then
			dpkg-query --admindir="$T/layer$i/var/lib/dpkg" -W -f '${db:Status-Status}\t${Package}\n' |
				awk -F'\t' '$1 == "installed" { print $2 }' | LC_ALL=C sort >"$T/cur.txt"
			LC_ALL=C comm -13 "$T/prev.txt" "$T/cur.txt" | sed "s/^/$i\t/" >>"$T/ref_added.txt"
			cp "$T/cur.txt" "$T/prev.txt"
		fi
	done
	"$STRATA" sql "$T/demo.db" "SELECT layer, name FROM package_change WHERE change = 'added' AND type = 'deb'" |
		LC_ALL=C sort >"$T/ours_added.txt"
	LC_ALL=C sort "$T/ref_added.txt" -o "$T/ref_added.txt"
	same_output "demo image: packages added per layer equal each layer's status file" "$T/ref_added.txt" "$T/ours_added.txt"

	osr=$T/root/etc/os-release
	[ -f "$osr" ] || osr=$T/root/usr/lib/os-release
	ref_os=$(. "$osr" && printf '%s\t%s\t%s' "$ID" "$VERSION_ID" "$PRETTY_NAME")
	ours_os=$("$STRATA" sql "$T/demo.db" "SELECT id, version_id, pretty_name FROM os")
	[ "$ref_os" = "$ours_os" ]; ok $? "demo image: os row equals os-release ($ours_os)"
	json_os=$("$STRATA" report "$T/demo.db" image.json | jq -r '.os | [.id, .version_id, .pretty_name] | @tsv')
	[ "$ref_os" = "$json_os" ]; ok $? "demo image: image.json's os equals os-release ($json_os)"

	# Every deb package with a copyright file has a license row, each an SPDX expression or a LicenseRef.
	with_cr=$(cd "$T/root/usr/share/doc" && for d in *; do [ -f "$d/copyright" ] && [ ! -L "$d" ] && echo "$d"; done | LC_ALL=C sort)
	ours_cr=$("$STRATA" sql "$T/demo.db" "SELECT DISTINCT p.name FROM license l JOIN package p ON p.id = l.package" | LC_ALL=C sort)
	pkgs=$(cut -f1 "$T/ours.txt")
	expect_cr=$(LC_ALL=C comm -12 <(echo "$with_cr") <(echo "$pkgs"))
	[ -n "$expect_cr" ] && [ "$expect_cr" = "$ours_cr" ]; ok $? "demo image: a license row for each of the $(echo "$expect_cr" | wc -l) packages with a copyright file"
	nspdx=$("$STRATA" sql "$T/demo.db" "SELECT count(DISTINCT package) FROM license WHERE spdx NOT LIKE '%LicenseRef-%'")
	echo "# demo image: $nspdx packages with an SPDX license (no LicenseRef)" | cat

	# Reports: one row per package / license row, after a header line.
	"$STRATA" report "$T/demo.db" packages.tsv >"$T/packages.tsv" 2>"$T/rep.err"
	np=$("$STRATA" sql "$T/demo.db" "SELECT count(*) FROM package")
	[ "$(head -1 "$T/packages.tsv" | cut -f1-3)" = "$(printf 'type\tname\tversion')" ] && [ "$(($(wc -l <"$T/packages.tsv") - 1))" = "$np" ]
	ok $? "packages.tsv: header and $np rows"
	"$STRATA" report "$T/demo.db" licenses.tsv >"$T/licenses.tsv" 2>>"$T/rep.err"
	nl=$("$STRATA" sql "$T/demo.db" "SELECT count(*) FROM license")
	[ "$(($(wc -l <"$T/licenses.tsv") - 1))" = "$nl" ]; ok $? "licenses.tsv: header and $nl rows"

	# The mount: user.strata.package on a sample of paths equals dpkg -S (every 25th owned path).
	if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null && command -v getfattr >/dev/null &&
		smount "$demo" "$T/mnt" --index "$T/demo.db" 2>"$T/mount.err"; then
		awk -F'\t' 'NR % 25 == 1' "$T/dpkg_S.txt" | while IFS=$'\t' read -r p owners; do
			# user.* xattrs exist on files and directories only (the kernel refuses them on symlinks)
			[ ! -L "$T/root$p" ] && { [ -d "$T/root$p" ] || [ -f "$T/root$p" ]; } || continue
			printf '%s\t%s\n' "$p" "$(getfattr -h --only-values -n user.strata.package "$T/mnt$p" 2>/dev/null | sed 's/, /,/g')"
		done >"$T/xattr.txt"
		awk -F'\t' 'NR % 25 == 1' "$T/dpkg_S.txt" | while IFS=$'\t' read -r p owners; do
			# user.* xattrs exist on files and directories only (the kernel refuses them on symlinks)
			[ ! -L "$T/root$p" ] && { [ -d "$T/root$p" ] || [ -f "$T/root$p" ]; } || continue
			printf '%s\t%s\n' "$p" "$owners"
		done >"$T/xattr_ref.txt"
		echo "# user.strata.package checked on $(wc -l <"$T/xattr_ref.txt") paths" | cat
		same_output "mount: user.strata.package equals dpkg-query -S on sampled paths" "$T/xattr_ref.txt" "$T/xattr.txt"
		sumount "$T/mnt" || true
	else
		skip "mount: user.strata.package equals dpkg-query -S on sampled paths" "no FUSE or getfattr"
	fi
fi

# ---- 2. apk, Python, npm ----------------------------------------------------------------------
l1=$T/h1 l2=$T/h2
mkdir -p "$l1/lib/apk/db" "$l1/etc" "$l1/usr/bin" "$l1/usr/lib/python3.11/site-packages/requests-2.31.0.dist-info" \
	"$l1/usr/lib/python3.11/site-packages/requests" "$l1/usr/lib/python3.11/site-packages/idna-3.4.dist-info" \
	"$l1/app/node_modules/left-pad" "$l1/app/node_modules/@babel/core" "$l2/lib/apk/db" \
	"$l2/usr/lib/python3.11/site-packages"
cat >"$l1/etc/os-release" <<'EOF'
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
EOF
apkdb() { # ZLIB_VERSION
	cat <<EOF
C:Q1Uf1wTwjoB2CYyLtMqaTkhiJykBk=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1705581480
c:5e2cb1e8d4be8a5f4b4ba2e93bb5e0d4e8df2a4f
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1jWH6e5Rmsso0A1Hl1EvX9TpqQWc=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

P:zlib
V:$1
A:x86_64
L:Zlib
o:zlib
F:lib
R:libz.so.1
Z:Q1UXzrZ6dvUVXxZyVmvbVnmCc5xBE=
F:usr/share/doc/zlib
R:README

P:busybox
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox
F:bin
R:busybox
Z:Q1C3Mmvm3GeqDsvPb7FGVY5rpxe84=

EOF
}
apkdb 1.3.1-r0 >"$l1/lib/apk/db/installed"
apkdb 1.3.1-r1 >"$l2/lib/apk/db/installed"
sp=$l1/usr/lib/python3.11/site-packages
printf 'Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nSummary: Python HTTP for Humans.\nLicense: Apache 2.0\nClassifier: License :: OSI Approved :: Apache Software License\n\nlong description\n' \
	>"$sp/requests-2.31.0.dist-info/METADATA"
printf 'x = 1\n' >"$sp/requests/__init__.py"
printf 'requests/__init__.py,sha256=%s,6\nrequests-2.31.0.dist-info/METADATA,,\nrequests-2.31.0.dist-info/RECORD,,\n../../../bin/requests-cli,,\n' \
	"$(sha256sum <"$sp/requests/__init__.py" | cut -d' ' -f1)" >"$sp/requests-2.31.0.dist-info/RECORD"
printf 'Metadata-Version: 2.1\nName: idna\nVersion: 3.4\nClassifier: License :: OSI Approved :: BSD License\n\n' \
	>"$sp/idna-3.4.dist-info/METADATA"
printf '{"name": "left-pad", "version": "1.3.0", "license": "WTFPL"}\n' >"$l1/app/node_modules/left-pad/package.json"
printf '{"name": "@babel/core", "version": "7.23.9", "license": "MIT"}\n' >"$l1/app/node_modules/@babel/core/package.json"
: >"$l2/usr/lib/python3.11/site-packages/.wh.idna-3.4.dist-info"
tar -C "$l1" -cf "$T/h1.tar" .
tar -C "$l2" -cf "$T/h2.tar" .
bash "$REPO/tools/mkimage.sh" --form oci-tar --layer-compress gzip -o "$T/hand.tar" "$T/h1.tar" "$T/h2.tar" >/dev/null
"$STRATA" index -q --index "$T/hand.db" "$T/hand.tar" >/dev/null
got=$("$STRATA" sql "$T/hand.db" "SELECT type, name, version, layer FROM package ORDER BY type, name" | tr '\t\n' ' ;')
# Reference: the apk database read with awk (P/V lines of the final layer's copy), Python and npm by hand.
ref_apk=$(awk -F: '/^P:/ { p = $2 } /^V:/ { print "apk " p " " $2 }' "$l2/lib/apk/db/installed" | LC_ALL=C sort)
want="$(echo "$ref_apk" | awk '{ print $0 " " ($2 == "zlib" ? 2 : 1) }' | tr '\n' ';')npm @babel/core 7.23.9 1;npm left-pad 1.3.0 1;python requests 2.31.0 1;"
[ "$got" = "$want" ]; ok $? "apk/python/npm packages of the final view with the layer of their version"
[ "$got" = "$want" ] || echo "got:  $got
want: $want" | diag
chg=$("$STRATA" sql "$T/hand.db" "SELECT layer, type, name, change, ifnull(old_version, ''), ifnull(new_version, '') FROM package_change WHERE layer = 2 ORDER BY name" | tr '\t\n' ' ;')
[ "$chg" = "2 python idna removed 3.4 ;2 apk zlib upgraded 1.3.1-r0 1.3.1-r1;" ]; ok $? "layer 2: zlib upgraded, idna removed ($chg)"
files=$("$STRATA" sql "$T/hand.db" "SELECT f.path FROM package_file f JOIN package p ON p.id = f.package WHERE p.name IN ('musl', 'requests') ORDER BY f.path" | tr '\n' ' ')
[ "$files" = "/lib/ld-musl-x86_64.so.1 /lib/libc.musl-x86_64.so.1 /usr/bin/requests-cli /usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA /usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/RECORD /usr/lib/python3.11/site-packages/requests/__init__.py " ]
ok $? "apk F/R and Python RECORD files (../ resolved)"
lic=$("$STRATA" sql "$T/hand.db" "SELECT p.name, l.spdx FROM license l JOIN package p ON p.id = l.package ORDER BY p.name" | tr '\t\n' ' ;')
[ "$lic" = "@babel/core MIT;busybox GPL-2.0-only;left-pad WTFPL;musl MIT;requests Apache-2.0;zlib Zlib;" ]; ok $? "licenses from apk L:, PyPI License, npm license ($lic)"
purls=$("$STRATA" sql "$T/hand.db" "SELECT purl FROM package WHERE name IN ('zlib', '@babel/core', 'requests') ORDER BY purl" | tr '\n' ' ')
[ "$purls" = "pkg:apk/alpine/zlib@1.3.1-r1?arch=x86_64&distro=alpine-3.19.1 pkg:npm/%40babel/core@7.23.9 pkg:pypi/requests@2.31.0 " ]
ok $? "purls ($purls)"

tap_done
