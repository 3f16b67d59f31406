#!/bin/bash
# tests/integration/policy_gates_pkg.sh — the package-side policy gates (issue 6) end to end
# through `strata audit --policy FILE --format json`, every trigger with a firing and a
# non-firing case, expectations from real tools where one exists:
#   image "app"   = the demo image's three layers (real Debian 12 packages, tools/demoimage.sh;
#                   a GitHub token deleted by layer 3; the same tars: same diff_ids) plus a
#                   fourth made with tar: /bin/sed replaced (a changed package file), an AWS key id in
#                   /srv/app.env (visible);
#   a merged-/usr copy of app's tree, an apk image and an rpm image (rpmbuild) for the
#   per-distribution parts.
# packages/verify is compared with `dpkg --verify` on app's layers unpacked with tar; version
# thresholds with `dpkg --compare-versions`; ancestry ChainIDs with sha256sum; licenses with the
# index's own license rows (the catalog's tests check those against the packages).
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/policy.sh"
need_strata
command -v jq >/dev/null || { echo "1..0 # SKIP needs jq"; exit 77; }

demo=$REPO/build/demo/demo.tar
if ! (cd "$REPO" && sh tools/demoimage.sh "$demo" >"$T/demoimage.log" 2>&1); then
	echo "1..0 # SKIP demo image could not be built (network?)"
	exit 77
fi

# ---- images ---------------------------------------------------------------------------------
mkdir -p "$T/img" "$T/root" "$T/l4/bin" "$T/l4/srv"
tar -xf "$demo" -C "$T/img"
layers=()
n=0
for l in $(jq -r '.[0].Layers[]' "$T/img/manifest.json"); do
	n=$((n + 1))
	gzip -dc "$T/img/$l" >"$T/layer$n.tar"
	layers+=("$T/layer$n.tar")
	tar -xf "$T/layer$n.tar" -C "$T/root"
	(cd "$T/root" && tar -tf "$T/layer$n.tar" | grep '\.wh\.' | while read -r w; do
		d=$(dirname "$w") b=$(basename "$w")
		rm -rf "./$d/${b#.wh.}" "./$w"
	done)
done
printf '#!/bin/sh\necho not the real sed\n' >"$T/l4/bin/sed"
chmod 755 "$T/l4/bin/sed"
key=AKIA$(head -c 400 /dev/urandom | tr -dc 'A-Z2-7' | head -c 16)
printf 'APP_MODE=prod\nAWS_ACCESS_KEY_ID=%s\n' "$key" >"$T/l4/srv/app.env"
tar --sort=name --owner=0 --group=0 --mtime=@1700000000 -cf "$T/layer4.tar" -C "$T/l4" bin srv
tar -xf "$T/layer4.tar" -C "$T/root"
# Uncompressed layers: no check here is about layer compression (the index tests cover that), and
# gzip -6 of the demo's layers cost seconds (twice: app and its merged-/usr copy).
bash "$REPO/tools/mkimage.sh" --form oci-tar --layer-compress none --tag app:1 -o "$T/app.tar" "${layers[@]}" "$T/layer4.tar" >/dev/null
bash "$REPO/tools/mkimage.sh" --form oci-tar --layer-compress none --tag other:1 -o "$T/other.tar" "$T/layer2.tar" >/dev/null
"$STRATA" index -q --index "$T/app.db" "$T/app.tar" >/dev/null || { echo "Bail out! indexing app.tar failed"; exit 1; }

# audit DB GATE TRIGGER [NAME=VALUE]...: the Check_Output lines of that gate/trigger's findings
# (a one-rule bundle, action WARN), sorted; the exit status of strata audit in $T/rc.
audit() {
	# (in a pipeline or redirection the queue cannot run here: its TAP lines would go there)
	[ ${#BATCH_CHECKS[@]} = 0 ] || { echo "Bail out! batch_flush missing before audit $*"; exit 1; }
	one_rule_audit "$@"
	jq -r '.. | objects | select(has("rows")) | .rows[] | select(.[3] != "always") | .[5]' "$T/audit.json" 2>/dev/null | LC_ALL=C sort
}
# fires NAME EXPECTED_COUNT DB GATE TRIGGER PARAMS...: ok when exactly that many findings. Runs
# of checks are batched (lib/policy.sh batch_check: one strata audit for consecutive checks on
# one index); the queue runs before any other TAP line and before out.txt or audit.json is read,
# so the TAP lines keep their order and has_line sees the last check's findings.
fires() {
	local name=$1 want=$2
	shift 2
	batch_check fires_check "$name" "$want" -- "$@"
}
fires_check() { # NAME EXPECTED_COUNT, from batch_flush: the findings' Check_Output in out.txt, sorted
	local got
	awk -F'\t' '$1 != "always" { sub(/^[^\t]*\t[^\t]*\t/, ""); print }' "$BATCH_FOUND" | LC_ALL=C sort >"$T/out.txt"
	got=$(wc -l <"$T/out.txt")
	if [ "$got" = "$2" ] && [ "$BATCH_RC" != 2 ]; then pass "$1"; else
		fail "$1 (want $2 findings, got $got, exit $BATCH_RC)"
		head -5 "$T/out.txt" "$T/audit.err" | diag
	fi
}
batch_hook_tap
has_line() { batch_flush; grep -qxF -- "$1" "$T/out.txt"; }

# ---- packages: required_package -------------------------------------------------------------
bashv=$(dpkg-query --admindir="$T/root/var/lib/dpkg" -W -f '${Version}' bash)
up=${bashv%%-*}
higher="${up%.*}.$(( ${up##*.} + 1 ))"
dpkg --compare-versions "$higher" gt "$bashv" || echo "# threshold $higher is not above $bashv per dpkg"
lower="${up%%.*}.0"
dpkg --compare-versions "$lower" lt "$bashv" || echo "# threshold $lower is not below $bashv per dpkg"
fires "required_package: bash present" 0 "$T/app.db" packages required_package name=bash
fires "required_package: a missing package fires" 1 "$T/app.db" packages required_package name=nginx
has_line "Required input package (nginx) is not present in container image"; ok $? "required_package: Anchore's message"
fires "required_package: exact installed version ($bashv)" 0 "$T/app.db" packages required_package name=bash "version=$bashv"
fires "required_package: exact other version fires" 1 "$T/app.db" packages required_package name=bash "version=$up"
fires "required_package: minimum $lower (below, per dpkg) passes" 0 "$T/app.db" packages required_package name=bash "version=$lower" version_match_type=minimum
fires "required_package: minimum $higher (above, per dpkg) fires" 1 "$T/app.db" packages required_package name=bash "version=$higher" version_match_type=minimum
has_line "Required min-version input package (bash) is present ($bashv), but is lower version than what is specified in policy ($higher)"
ok $? "required_package: minimum message names installed and required versions"
# The tilde rule: ~ sorts before the release, so $bashv~rc1 is below what is installed.
fires "required_package: minimum $bashv~1 (tilde: below) passes" 0 "$T/app.db" packages required_package name=bash "version=${bashv}~1" version_match_type=minimum

# ---- packages: denylist / blacklist ---------------------------------------------------------
fires "denylist: an installed package fires" 1 "$T/app.db" packages denylist name=bash
fires "denylist: alias blacklist" 1 "$T/app.db" packages blacklist name=bash
fires "denylist: absent package does not fire" 0 "$T/app.db" packages denylist name=python2.7
nlib=$(dpkg-query --admindir="$T/root/var/lib/dpkg" -W -f '${db:Status-Status} ${Package}\n' 'lib*' | grep -c '^installed ')
fires "denylist: glob lib* matches every installed lib* package ($nlib per dpkg-query)" "$nlib" \
	"$T/app.db" packages denylist 'name=lib*'
fires "denylist: exact version fires" 1 "$T/app.db" packages denylist name=bash "version=$bashv"
fires "denylist: other exact version does not" 0 "$T/app.db" packages denylist name=bash "version=$lower"
fires "denylist: minimum $lower (installed is later) fires" 1 "$T/app.db" packages denylist name=bash "version=$lower" version_match_type=minimum
fires "denylist: minimum $higher does not" 0 "$T/app.db" packages denylist name=bash "version=$higher" version_match_type=minimum

# ---- packages: verify against dpkg --verify -------------------------------------------------
echo 1 >"$T/root/var/lib/dpkg/info/format"
# dpkg checks directories too; the package databases' digests cover files: compare those.
cat "$T"/root/var/lib/dpkg/info/*.md5sums | awk '{ $1 = ""; sub(/^ +/, ""); print "/" $0 }' | LC_ALL=C sort -u >"$T/md5paths.txt"
dpkg --verify --root="$T/root" --admindir="$T/root/var/lib/dpkg" 2>/dev/null |
	awk '$2 != "c" { st = ($1 == "missing") ? "missing" : ($1 ~ /5/ ? "changed" : ""); if (st != "") print $NF "\t" st }' |
	awk -F'\t' 'NR == FNR { want[$1] = 1; next } ($1 in want)' "$T/md5paths.txt" - | LC_ALL=C sort >"$T/dpkg_verify.txt"
batch_flush
audit "$T/app.db" packages verify |
	sed -n "s/^VERIFY check against package db for package '[^']*' failed on entry '\(.*\)' with status: '\(.*\)'$/\1\t\2/p" |
	LC_ALL=C sort >"$T/ours_verify.txt"
echo "# dpkg --verify: $(grep -c changed "$T/dpkg_verify.txt") changed, $(grep -c missing "$T/dpkg_verify.txt") missing"
grep -qx "/bin/sed	changed" "$T/dpkg_verify.txt"; ok $? "dpkg --verify sees the replaced /bin/sed"
same_output "verify: changed and missing files equal dpkg --verify's" "$T/dpkg_verify.txt" "$T/ours_verify.txt"
# Merged /usr (how Debian 12 images are laid out): /bin is a symlink to usr/bin; dpkg --verify
# finds /bin/sed through it, and so must the gate.
cp -a "$T/root" "$T/merged"
mkdir -p "$T/merged/usr/bin" && cp -a "$T/merged/bin/." "$T/merged/usr/bin/" && rm -rf "$T/merged/bin" && ln -s usr/bin "$T/merged/bin"
tar --sort=name --owner=0 --group=0 -cf "$T/merged.tar" -C "$T/merged" .
bash "$REPO/tools/mkimage.sh" --form oci-tar --layer-compress none --tag merged:1 -o "$T/merged-img.tar" "$T/merged.tar" >/dev/null
"$STRATA" index -q --index "$T/merged.db" "$T/merged-img.tar" >/dev/null
dpkg --verify --root="$T/merged" --admindir="$T/merged/var/lib/dpkg" 2>/dev/null |
	awk '$2 != "c" { st = ($1 == "missing") ? "missing" : ($1 ~ /5/ ? "changed" : ""); if (st != "") print $NF "\t" st }' |
	awk -F'\t' 'NR == FNR { want[$1] = 1; next } ($1 in want)' "$T/md5paths.txt" - | LC_ALL=C sort >"$T/dpkg_verify_m.txt"
batch_flush
audit "$T/merged.db" packages verify |
	sed -n "s/^VERIFY check against package db for package '[^']*' failed on entry '\(.*\)' with status: '\(.*\)'$/\1\t\2/p" |
	LC_ALL=C sort >"$T/ours_verify_m.txt"
grep -qx "/bin/sed	changed" "$T/ours_verify_m.txt"; ok $? "verify, merged /usr: /bin/sed found through the /bin symlink (changed)"
same_output "verify, merged /usr: findings equal dpkg --verify's" "$T/dpkg_verify_m.txt" "$T/ours_verify_m.txt"
fires "verify: only_packages=sed check=changed fires for /bin/sed" 1 "$T/app.db" packages verify only_packages=sed check=changed
fires "verify: grep's files are intact" 0 "$T/app.db" packages verify only_packages=grep check=changed
fires "verify: only_directories=/usr/bin check=missing" 0 "$T/app.db" packages verify only_directories=/usr/bin check=missing

# ---- packages: metadata and allowlist -------------------------------------------------------
nglibc=$(dpkg-query --admindir="$T/root/var/lib/dpkg" -W -f '${Maintainer}\n' | grep -c 'debian-glibc@')
fires "metadata: maintainer regex (glibc team: $nglibc per dpkg-query)" "$nglibc" "$T/app.db" packages metadata 'maintainer=debian-glibc@'
fires "metadata: name and version patterns together" 1 "$T/app.db" packages metadata 'name=^bash$' "version=^${bashv//+/\\+}$"
fires "metadata: no package matches" 0 "$T/app.db" packages metadata 'name=^nginx'
fires "metadata: origin is the distro (no Origin field)" "$(dpkg-query --admindir="$T/root/var/lib/dpkg" -W -f '${Package}\n' | wc -l)" \
	"$T/app.db" packages metadata 'origin=^debian$'
fires "allowlist: origin debian allows every package" 0 "$T/app.db" packages allowlist origins=debian
nnotdeb=$(dpkg-query --admindir="$T/root/var/lib/dpkg" -W -f '${Maintainer}\n' | grep -vc '@lists\.debian\.org>')
fires "allowlist: maintainers at lists.debian.org only ($nnotdeb others per dpkg-query)" "$nnotdeb" "$T/app.db" packages allowlist 'maintainer_regex=@lists\.debian\.org>$'
fires "allowlist: a name pattern covering all" 0 "$T/app.db" packages allowlist 'name_regex=.'

# ---- licenses -------------------------------------------------------------------------------
isc=$("$STRATA" sql "$T/app.db" "SELECT count(DISTINCT p.name) FROM license l JOIN package p ON p.id = l.package WHERE (' ' || replace(replace(l.spdx, '(', ' '), ')', ' ') || ' ') LIKE '% ISC %'")
fires "licenses: ISC as an SPDX term ($isc packages) fires once" 1 "$T/app.db" licenses denylist_exact_match licenses=ISC
batch_flush
got=$(grep -o '[a-z0-9.+-]*(' "$T/out.txt" | sort -u | wc -l)
[ "$got" = "$isc" ]; ok $? "licenses: the finding lists the $isc packages whose expression has the term ISC (got $got)"
grep -q 'OR' "$T/out.txt"; ok $? "licenses: a term inside an OR expression matches"
fires "licenses: alias blacklist_exact_match" 1 "$T/app.db" licenses blacklist_exact_match licenses=ISC
fires "licenses: exact does not match a part of a term" 0 "$T/app.db" licenses denylist_exact_match licenses=GPL-3.0
fires "licenses: partial matches a part" 1 "$T/app.db" licenses denylist_partial_match licenses=GPL-3.0
fires "licenses: partial, nothing contains it" 0 "$T/app.db" licenses blacklist_partial_match licenses=AGPL
fires "licenses: per package type (rpm: none here)" 0 "$T/app.db" licenses denylist_exact_match licenses=ISC package_type=rpm

# ---- distro ---------------------------------------------------------------------------------
. "$T/root/usr/lib/os-release"
fires "distro: deny $ID" 1 "$T/app.db" distro deny "distro=$ID"
fires "distro: deny alpine does not" 0 "$T/app.db" distro deny distro=alpine
fires "distro: $ID < $((VERSION_ID + 1)) fires" 1 "$T/app.db" distro deny "distro=$ID" "version=$((VERSION_ID + 1))" 'check=<'
fires "distro: $ID < $VERSION_ID does not" 0 "$T/app.db" distro deny "distro=$ID" "version=$VERSION_ID" 'check=<'

# ---- metadata attribute ---------------------------------------------------------------------
size=$(for f in "${layers[@]}" "$T/layer4.tar"; do stat -c %s "$f"; done | awk '{ s += $1 } END { print s }')
arch=$(jq -r '.[0].Config' "$T/img/manifest.json" | xargs -I{} jq -r .architecture "$T/img/{}")
fires "metadata: layer_count = 4" 1 "$T/app.db" metadata attribute attribute=layer_count check== value=4
fires "metadata: layer_count > 4 does not" 0 "$T/app.db" metadata attribute attribute=layer_count 'check=>' value=4
fires "metadata: size >= the layer tars' bytes ($size)" 1 "$T/app.db" metadata attribute attribute=size 'check=>=' "value=$size"
fires "metadata: size > that does not" 0 "$T/app.db" metadata attribute attribute=size 'check=>' "value=$size"
fires "metadata: architecture in ($arch)" 1 "$T/app.db" metadata attribute attribute=architecture check=in "value=s390x,$arch"
fires "metadata: distro_version not_like ^$VERSION_ID does not" 0 "$T/app.db" metadata attribute attribute=distro_version check=not_like "value=^$VERSION_ID"
fires "metadata: like_distro not_exists (Debian has no ID_LIKE)" 1 "$T/app.db" metadata attribute attribute=like_distro check=not_exists

# ---- ancestry -------------------------------------------------------------------------------
d1=$(sha256sum "$T/layer1.tar" | cut -d' ' -f1) d2=$(sha256sum "$T/layer2.tar" | cut -d' ' -f1)
chain2=$(printf 'sha256:%s sha256:%s' "$d1" "$d2" | sha256sum | cut -d' ' -f1)
fires "ancestry: built on the demo image (image file)" 0 "$T/app.db" ancestry not_approved_base "base_images=$demo"
fires "ancestry: not built on other.tar" 1 "$T/app.db" ancestry not_approved_base "base_images=$T/other.tar"
fires "ancestry: ChainID of layers 1-2 (sha256sum) approves" 0 "$T/app.db" ancestry not_approved_base "base_digests=sha256:$chain2"
fires "ancestry: layer 2's diff_id alone is not a base" 1 "$T/app.db" ancestry not_approved_base "base_digests=sha256:$d2"
fires "ancestry: layer 1's diff_id is a one-layer base" 0 "$T/app.db" ancestry not_approved_base "base_digests=sha256:$d1"

# ---- secret_scans ---------------------------------------------------------------------------
fires "secret_scans: the visible AWS key fires" 1 "$T/app.db" secret_scans content_regex_checks content_regex_name=aws-access-key-id
has_line "Secret content search analyzer found regexp match in container: file=/srv/app.env regexp=aws-access-key-id"; ok $? "secret_scans: Anchore's message with rule and path"
batch_flush
! grep -q "$key" "$T/audit.json"; ok $? "secret_scans: the key is nowhere in the audit output"
fires "secret_scans: the deleted token is not visible" 0 "$T/app.db" secret_scans content_regex_checks content_regex_name=github-pat
fires "secret_scans: scope=deleted finds it" 1 "$T/app.db" secret_scans content_regex_checks content_regex_name=github-pat scope=deleted
fires "secret_scans: filename_regex excludes" 0 "$T/app.db" secret_scans content_regex_checks 'filename_regex=^/etc/' scope=visible
fires "secret_scans: notfound fires when nothing matches" 1 "$T/app.db" secret_scans content_regex_checks content_regex_name=slack-bot-token match_type=notfound
fires "secret_scans: notfound quiet when found" 0 "$T/app.db" secret_scans content_regex_checks content_regex_name=aws-access-key-id match_type=notfound

# ---- validation: bad parameters are refused before anything runs (exit 2, one line naming it) --
invalid() { # NAME EXPECTED_TEXT GATE TRIGGER PARAMS...
	local name=$1 want=$2
	shift 2
	batch_flush
	audit "$T/app.db" "$@" >/dev/null
	if [ "$(cat "$T/rc")" = 2 ] && grep -q -- "$want" "$T/audit.err"; then pass "$name"; else
		fail "$name (exit $(cat "$T/rc"))"
		diag <"$T/audit.err"
	fi
}
invalid "invalid: version_match_type must be exact or minimum" version_match_type packages required_package name=bash version=1 version_match_type=newest
invalid "invalid: metadata needs a pattern" "at least one of" packages metadata
invalid "invalid: metadata regex must compile" "maintainer" packages metadata 'maintainer=(unclosed'
invalid "invalid: allowlist needs a criterion" "at least one of" packages allowlist
invalid "invalid: ancestry needs a base" "base_digests or base_images" ancestry not_approved_base
invalid "invalid: metadata attribute name" attribute metadata attribute attribute=colour check== value=red
invalid "invalid: secret_scans scope" scope secret_scans content_regex_checks scope=everywhere
invalid "invalid: distro check without a version" "needs a version" distro deny distro=debian 'check=<'
invalid "invalid: licenses list required" licenses licenses denylist_exact_match

# ---- an apk image: apk version order, apk maintainers, Q1 digests ---------------------------
# lib/apk/db/installed written in apk's format; Z: is "Q1" + base64 of the file's sha1
# (openssl dgst -sha1 -binary | base64, the way apk computes it).
q1() { printf 'Q1%s' "$(openssl dgst -sha1 -binary "$1" | base64)"; }
mkdir -p "$T/a1/bin" "$T/a1/usr/bin" "$T/a1/etc" "$T/a1/lib/apk/db" "$T/a2/usr/bin"
printf 'busybox stand-in\n' >"$T/a1/bin/busybox"
printf 'openssl stand-in\n' >"$T/a1/usr/bin/openssl"
printf 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n' >"$T/a1/etc/os-release"
cat >"$T/a1/lib/apk/db/installed" <<APK
P:busybox
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
F:bin
R:busybox
Z:$(q1 "$T/a1/bin/busybox")

P:openssl
V:3.1.4_rc1-r0
A:x86_64
L:Apache-2.0
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>
F:usr/bin
R:openssl
Z:$(q1 "$T/a1/usr/bin/openssl")

APK
printf 'not openssl\n' >"$T/a2/usr/bin/openssl"
tar --sort=name --owner=0 --group=0 --mtime=@1700000000 -cf "$T/a1.tar" -C "$T/a1" bin etc lib usr
tar --sort=name --owner=0 --group=0 --mtime=@1700000000 -cf "$T/a2.tar" -C "$T/a2" usr
bash "$REPO/tools/mkimage.sh" --form oci-tar --layer-compress gzip --tag alp:1 -o "$T/alp.tar" "$T/a1.tar" "$T/a2.tar" >/dev/null
"$STRATA" index -q --index "$T/alp.db" "$T/alp.tar" >/dev/null
fires "apk: required_package minimum 1.36.1 (installed 1.36.1-r15) passes" 0 "$T/alp.db" packages required_package name=busybox version=1.36.1 version_match_type=minimum
fires "apk: required_package minimum 3.1.4 fires for 3.1.4_rc1-r0 (_rc is a pre-release in apk order)" 1 "$T/alp.db" packages required_package name=openssl version=3.1.4 version_match_type=minimum
fires "apk: required_package minimum 3.1.3 passes" 0 "$T/alp.db" packages required_package name=openssl version=3.1.3 version_match_type=minimum
fires "apk: denylist minimum 3.1.4_alpha1 (below _rc1) fires" 1 "$T/alp.db" packages denylist name=openssl version=3.1.4_alpha1 version_match_type=minimum
fires "apk: metadata maintainer from the m: line" 1 "$T/alp.db" packages metadata 'maintainer=dereferenced\.org'
fires "apk: allowlist origins=alpine (the OS id) allows all" 0 "$T/alp.db" packages allowlist origins=alpine
fires "apk: allowlist by maintainer leaves one" 1 "$T/alp.db" packages allowlist 'maintainer_regex=^Sören'
batch_flush
audit "$T/alp.db" packages verify >"$T/out.txt"
[ "$(cat "$T/out.txt")" = "VERIFY check against package db for package 'openssl' failed on entry '/usr/bin/openssl' with status: 'changed'" ]
ok $? "apk: verify finds the replaced /usr/bin/openssl by its Q1 sha1 and only it"
fires "apk: distro alpine > 3.18 fires" 1 "$T/alp.db" distro deny distro=alpine version=3.18 'check=>'
fires "apk: distro alpine >= 3.20 does not" 0 "$T/alp.db" distro deny distro=alpine version=3.20 'check=>='

# ---- an rpm image: rpm version order, rpm digests against rpm -V ----------------------------
if ! command -v rpmbuild >/dev/null || ! command -v rpm >/dev/null; then
	for t in "rpm: minimum in rpm order" "rpm: minimum above" "rpm: verify equals rpm -V" "rpm: verify changed"; do
		skip "$t" "rpm/rpmbuild not installed (apt-get install rpm)"
	done
else
	R=$T/rpm
	mkdir -p "$R/root/etc"
	cat >"$R/p.spec" <<'SPEC'
Name: gate-probe
Version: 1.0.1
Release: 2.fc39
Summary: strata policy gate test package
License: MIT
BuildArch: noarch
%description
A package for the strata policy gate test.
%install
mkdir -p %{buildroot}/usr/share/gate-probe %{buildroot}/usr/bin %{buildroot}/etc
echo data > %{buildroot}/usr/share/gate-probe/data.txt
echo more > %{buildroot}/usr/share/gate-probe/gone.txt
printf '#!/bin/sh\necho probe\n' > %{buildroot}/usr/bin/gate-probe
echo setting=1 > %{buildroot}/etc/gate-probe.conf
%files
/usr/share/gate-probe
/usr/bin/gate-probe
%config(noreplace) /etc/gate-probe.conf
SPEC
	rpmbuild --quiet --define "_topdir $R/top" --define "_build_id_links none" -bb "$R/p.spec" >"$R/build.log" 2>&1 || diag <"$R/build.log"
	printf 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=39\n' >"$R/root/etc/os-release"
	rpm --root "$R/root" --dbpath /var/lib/rpm -i --nodeps --noscripts "$(find "$R/top/RPMS" -name 'gate-probe-*.rpm')" 2>"$R/install.err"
	rm -f "$R/root/var/lib/rpm/.rpm.lock" "$R/root/var/lib/rpm/rpmdb.sqlite-shm" "$R/root/var/lib/rpm/rpmdb.sqlite-wal"
	echo tampered >"$R/root/usr/share/gate-probe/data.txt"
	rm "$R/root/usr/share/gate-probe/gone.txt"
	echo setting=2 >"$R/root/etc/gate-probe.conf"
	tar -C "$R/root" --owner=0 --group=0 -cf "$R/l1.tar" .
	bash "$REPO/tools/mkimage.sh" --form oci-tar --layer-compress gzip -o "$R/img.tar" "$R/l1.tar" >/dev/null
	"$STRATA" index -q --index "$R/img.db" "$R/img.tar" >/dev/null
	# rpm says 1.0.1 and 1.0_1 are equal (separators are all alike); dpkg's order would put 1.0.1 lower.
	[ "$(rpm --eval '%{lua: print(rpm.vercmp("1.0.1", "1.0_1"))}')" = 0 ]; ok $? "rpm.vercmp: 1.0.1 = 1.0_1"
	fires "rpm: required_package minimum 1.0_1 passes (rpm order)" 0 "$R/img.db" packages required_package name=gate-probe version=1.0_1 version_match_type=minimum
	fires "rpm: required_package minimum 1.0.1-3 fires (release 2.fc39 is lower)" 1 "$R/img.db" packages required_package name=gate-probe version=1.0.1-3 version_match_type=minimum
	# rpm -V: "missing" or a flags column with 5 (digest); config files (c) left out.
	rpm -V --root "$R/root" --dbpath /var/lib/rpm gate-probe 2>/dev/null |
		awk '$2 != "c" { st = ($1 == "missing") ? "missing" : (substr($1, 3, 1) == "5" ? "changed" : ""); if (st != "") print $NF "\t" st }' |
		LC_ALL=C sort >"$R/rpm_V.txt"
	batch_flush
	audit "$R/img.db" packages verify |
		sed -n "s/^VERIFY check against package db for package '[^']*' failed on entry '\(.*\)' with status: '\(.*\)'$/\1\t\2/p" |
		LC_ALL=C sort >"$R/ours_V.txt"
	[ "$(wc -l <"$R/rpm_V.txt")" = 2 ]; ok $? "rpm -V reports the tampered and the deleted file"
	same_output "rpm: verify findings equal rpm -V's" "$R/rpm_V.txt" "$R/ours_V.txt"
fi

tap_done
