#!/bin/bash
# tests/integration/catalog_changes.sh — package_change (issue 4): each layer's added, removed,
# upgraded and downgraded packages, with upgrades told from downgrades by the package type's own
# version order, checked against the real tools:
#  1. rpm: packages built with `rpmbuild` and installed into real rpm databases with `rpm --root`:
#     layer 2 upgrades one with `rpm -U` from 1.0.a to 1.0.1 (an upgrade for rpmvercmp, a
#     downgrade in Debian's order), downgrades one with `rpm -U --oldpackage` from 1.10 to 1.9
#     (string order says upgrade) and installs a third; layer 3 removes one with `rpm -e`. Each
#     row's direction equals what `rpm --eval '%{lua: print(rpm.vercmp(old, new))}'` says, and
#     old/new versions equal `rpm -q --qf '%{EPOCH}:%{VERSION}-%{RELEASE}'` before and after.
#  2. npm: node_modules/*/package.json whose version goes 1.0.0-rc.1 → 1.0.0 and 2.0.0 →
#     2.0.0-beta.2: directions equal node's semver.compare (npm's own semver module).
#  3. Python: a dist-info going 2.0rc1 → 2.0 (the old one whited out) and 3.0.post1 → 3.0:
#     directions equal packaging.version (python3-packaging, what pip uses).
#  4. apk: an installed database whose package goes 1.2_rc1-r0 → 1.2-r0 (apk-tools: the
#     pre-release sorts first; Debian's order would say downgrade) and 3.10-r0 → 3.9-r0.
. "$(dirname "$0")/lib/common.sh"
need_strata

q() { "$STRATA" sql "$@"; }
# changes DB LAYER: "type name change old new" lines of that layer, sorted.
changes() {
	q "$1" "SELECT type, name, change, ifnull(old_version, '-'), ifnull(new_version, '-') FROM package_change
		WHERE layer = $2" | tr '\t' ' ' | LC_ALL=C sort
}
# direction CMP: upgraded for a negative rpm.vercmp/semver.compare of (old, new), downgraded for
# a positive one.
direction() { case "$1" in -*) echo upgraded ;; 0) echo same ;; *) echo downgraded ;; esac; }

# ---- 1. rpm -------------------------------------------------------------------------------------
if ! command -v rpmbuild >/dev/null || ! command -v rpm >/dev/null; then
	for t in "rpm: layer 2 changes" "rpm: layer 3 removal" "rpm: direction as rpm.vercmp"; do
		skip "$t" "rpm/rpmbuild not installed (apt-get install rpm)"
	done
else
	R=$T/rpm
	mkdir -p "$R"
	spec() { # NAME VERSION
		cat <<EOF
Name: $1
Version: $2
Release: 1
Summary: strata package_change test package
License: MIT
BuildArch: noarch
%description
A package for the strata package_change test.
%install
mkdir -p %{buildroot}/usr/share/$1
echo "$1 $2" > %{buildroot}/usr/share/$1/version.txt
%files
/usr/share/$1
EOF
	}
	for nv in "up-pkg 1.0.a" "up-pkg 1.0.1" "down-pkg 1.10" "down-pkg 1.9" "new-pkg 2.0"; do
		set -- $nv
		spec "$1" "$2" >"$R/$1-$2.spec"
		rpmbuild --quiet --define "_topdir $R/top" --define "_build_id_links none" -bb "$R/$1-$2.spec" \
			>"$R/build.log" 2>&1 || diag <"$R/build.log"
	done
	rpmf() { find "$R/top/RPMS" -name "$1-$2-1.noarch.rpm"; }
	rpmq() { rpm --root "$1" --dbpath /var/lib/rpm "${@:2}" 2>/dev/null; }
	evr() { rpmq "$1" -q --qf '%{EPOCH}:%{VERSION}-%{RELEASE}' "$2" | sed 's/^(none)://'; }
	clean_db() { rm -f "$1/var/lib/rpm/.rpm.lock" "$1/var/lib/rpm/rpmdb.sqlite-shm" "$1/var/lib/rpm/rpmdb.sqlite-wal"; }
	mkdir -p "$R/t1/etc"
	printf 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=39\n' >"$R/t1/etc/os-release"
	rpm --root "$R/t1" --dbpath /var/lib/rpm -i --nodeps --noscripts "$(rpmf up-pkg 1.0.a)" \
		"$(rpmf down-pkg 1.10)" 2>"$R/install.err"
	clean_db "$R/t1"
	cp -a "$R/t1" "$R/t2"
	rpm --root "$R/t2" --dbpath /var/lib/rpm -U --nodeps --noscripts "$(rpmf up-pkg 1.0.1)" 2>>"$R/install.err"
	rpm --root "$R/t2" --dbpath /var/lib/rpm -U --oldpackage --nodeps --noscripts "$(rpmf down-pkg 1.9)" 2>>"$R/install.err"
	rpm --root "$R/t2" --dbpath /var/lib/rpm -i --nodeps --noscripts "$(rpmf new-pkg 2.0)" 2>>"$R/install.err"
	clean_db "$R/t2"
	cp -a "$R/t2" "$R/t3"
	rpm --root "$R/t3" --dbpath /var/lib/rpm -e --nodeps --noscripts up-pkg 2>>"$R/install.err"
	clean_db "$R/t3"
	tar -C "$R/t1" -cf "$R/l1.tar" .
	tar -C "$R/t2" -cf "$R/l2.tar" .
	tar -C "$R/t3" -cf "$R/l3.tar" var/lib/rpm
	bash "$REPO/tools/mkimage.sh" --form oci-tar -o "$R/img.tar" "$R/l1.tar" "$R/l2.tar" "$R/l3.tar" >/dev/null
	"$STRATA" index -q --index "$R/img.db" "$R/img.tar" >/dev/null

	# Reference rows: versions from rpm -q on each tree, directions from rpm.vercmp.
	ref2=$T/rpm_ref2.txt
	: >"$ref2"
	for n in up-pkg down-pkg; do
		old=$(evr "$R/t1" $n) new=$(evr "$R/t2" $n)
		c=$(rpm --eval "%{lua: print(rpm.vercmp('$old', '$new'))}")
		echo "rpm $n $(direction "$c") $old $new" >>"$ref2"
		echo "# rpm.vercmp($old, $new) = $c"
	done
	echo "rpm new-pkg added - $(evr "$R/t2" new-pkg)" >>"$ref2"
	LC_ALL=C sort -o "$ref2" "$ref2"
	changes "$R/img.db" 2 >"$T/rpm_ours2.txt"
	if grep -q "up-pkg upgraded 1.0.a-1 1.0.1-1" "$ref2" && grep -q "down-pkg downgraded 1.10-1 1.9-1" "$ref2"; then
		same_output "rpm: layer 2 upgraded (1.0.a → 1.0.1), downgraded (1.10 → 1.9) and added as rpm says" \
			"$ref2" "$T/rpm_ours2.txt"
	else
		fail "rpm: reference rows not as expected (install failed?)"
		diag <"$ref2"
		diag <"$R/install.err"
	fi
	rpmq "$R/t3" -q up-pkg >/dev/null && removed=no || removed=yes
	got3=$(changes "$R/img.db" 3)
	[ "$removed" = yes ] && [ "$got3" = "rpm up-pkg removed $(evr "$R/t2" up-pkg) -" ]
	ok $? "rpm: layer 3 removed up-pkg after rpm -e ($got3)"
	# Debian's order disagrees on the upgrade, so the type's own order was used.
	dpkg_says=$(dpkg --compare-versions 1.0.a-1 lt 1.0.1-1 && echo upgraded || echo downgraded)
	[ "$dpkg_says" = downgraded ] && grep -q "up-pkg upgraded" "$T/rpm_ours2.txt"
	ok $? "rpm: rpmvercmp, not Debian's order (dpkg would say $dpkg_says for 1.0.a-1 → 1.0.1-1)"
fi

# ---- 2, 3 and 4. npm, Python and apk -----------------------------------------------------------------------
L=$T/lang
npmpkg() { # LAYERDIR NAME VERSION
	mkdir -p "$1/usr/lib/node_modules/$2"
	printf '{\n  "name": "%s",\n  "version": "%s",\n  "license": "MIT"\n}\n' "$2" "$3" \
		>"$1/usr/lib/node_modules/$2/package.json"
}
apkdb() { # LAYERDIR PKG VERSION PKG VERSION
	mkdir -p "$1/lib/apk/db"
	printf 'P:%s\nV:%s\nA:x86_64\nL:MIT\n\nP:%s\nV:%s\nA:x86_64\nL:MIT\n\n' "$2" "$3" "$4" "$5" >"$1/lib/apk/db/installed"
}
mkdir -p "$L/l1/etc" "$L/l2"
printf 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n' >"$L/l1/etc/os-release"
npmpkg "$L/l1" rc-pkg 1.0.0-rc.1
npmpkg "$L/l1" beta-pkg 2.0.0
npmpkg "$L/l2" rc-pkg 1.0.0
npmpkg "$L/l2" beta-pkg 2.0.0-beta.2
pydist() { # LAYERDIR NAME VERSION [OLD VERSION TO WHITE OUT]
	local sp=$1/usr/lib/python3/dist-packages
	mkdir -p "$sp/$2-$3.dist-info"
	printf 'Metadata-Version: 2.1\nName: %s\nVersion: %s\n' "$2" "$3" >"$sp/$2-$3.dist-info/METADATA"
	[ -z "${4:-}" ] || : >"$sp/.wh.$2-$4.dist-info"
}
pydist "$L/l1" rcpy 2.0rc1
pydist "$L/l1" postpy 3.0.post1
pydist "$L/l2" rcpy 2.0 2.0rc1
pydist "$L/l2" postpy 3.0 3.0.post1
apkdb "$L/l1" pre-apk 1.2_rc1-r0 ten-apk 3.10-r0
apkdb "$L/l2" pre-apk 1.2-r0 ten-apk 3.9-r0
tar -C "$L/l1" -cf "$L/l1.tar" .
tar -C "$L/l2" -cf "$L/l2.tar" .
bash "$REPO/tools/mkimage.sh" --form oci-tar -o "$L/img.tar" "$L/l1.tar" "$L/l2.tar" >/dev/null
"$STRATA" index -q --index "$L/img.db" "$L/img.tar" >/dev/null
changes "$L/img.db" 2 >"$T/lang2.txt"

# npm's own semver module (nodejs ships npm), else Debian's node-semver.
export NODE_PATH="$(npm root -g 2>/dev/null)/npm/node_modules:/usr/share/nodejs"
if ! command -v node >/dev/null || ! node -e 'require("semver")' >/dev/null 2>&1; then
	skip "npm: directions as semver.compare" "node or npm's semver module not installed"
else
	: >"$T/npm_ref.txt"
	for ov in "rc-pkg 1.0.0-rc.1 1.0.0" "beta-pkg 2.0.0 2.0.0-beta.2"; do
		set -- $ov
		c=$(node -e 'console.log(require("semver").compare(process.argv[1], process.argv[2]))' -- "$2" "$3")
		echo "npm $1 $(direction "$c") $2 $3" >>"$T/npm_ref.txt"
	done
	LC_ALL=C sort -o "$T/npm_ref.txt" "$T/npm_ref.txt"
	grep '^npm ' "$T/lang2.txt" >"$T/npm_ours.txt"
	same_output "npm: 1.0.0-rc.1 → 1.0.0 and 2.0.0 → 2.0.0-beta.2 as node's semver.compare says" \
		"$T/npm_ref.txt" "$T/npm_ours.txt"
fi

if [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import packaging.version' 2>/dev/null; then
	skip "python: directions as packaging.version" "apt-get install python3-packaging"
else
	: >"$T/py_ref.txt"
	for ov in "rcpy 2.0rc1 2.0" "postpy 3.0.post1 3.0"; do
		set -- $ov
		c=$(/usr/bin/python3 -c 'import sys; from packaging.version import Version as V; a, b = V(sys.argv[1]), V(sys.argv[2]); print((a > b) - (a < b))' "$2" "$3")
		echo "python $1 $(direction "$c") $2 $3" >>"$T/py_ref.txt"
	done
	LC_ALL=C sort -o "$T/py_ref.txt" "$T/py_ref.txt"
	grep '^python ' "$T/lang2.txt" >"$T/py_ours.txt"
	same_output "python: 2.0rc1 → 2.0 and 3.0.post1 → 3.0 as packaging.version says" "$T/py_ref.txt" "$T/py_ours.txt"
fi

# apk-tools is not packaged for Debian: the expected directions are apk's documented order
# (a _rc pre-release sorts before its release; numbers compare numerically).
printf '%s\n' "apk pre-apk upgraded 1.2_rc1-r0 1.2-r0" "apk ten-apk downgraded 3.10-r0 3.9-r0" >"$T/apk_ref.txt"
grep '^apk ' "$T/lang2.txt" >"$T/apk_ours.txt"
same_output "apk: 1.2_rc1 → 1.2 upgraded, 3.10 → 3.9 downgraded (apk-tools' order)" "$T/apk_ref.txt" "$T/apk_ours.txt"

tap_done
