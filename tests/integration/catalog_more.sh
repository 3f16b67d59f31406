#!/bin/bash
# tests/integration/catalog_more.sh — the rpm, Java, Go and Ruby catalogers (issue 4) against
# real tools:
#  1. rpm: two noarch packages built with `rpmbuild` from a spec, installed with
#     `rpm --root TREE -i --justdb`-like installs (files and an sqlite rpmdb), a second layer
#     upgrading one of them with `rpm -U`: the package list equals `rpm -qa`, every file `rpm -qal`
#     lists is attributed as `rpm -qf` says, config files as `rpm -qac`, digests as sha256sum of
#     the installed files, licenses as %{LICENSE}, the per-layer upgrade, the purl, the mount's
#     user.strata.package as `rpm -qf`; a Python
#     dist-info and a jar shipped inside an rpm are the rpm's (not reported twice).
#  2. Berkeley DB: the same headers loaded into a real hash database with db5.3_load (512-byte
#     pages: headers on overflow pages; 16 KiB pages: headers on the hash pages), checked by
#     db5.3_verify: the package list equals `rpm -qa` (rpm's bdb_ro backend when it can read
#     the file, else the sqlite database the headers came from).
#  3. Java: jars and a war built with `jar`: pom.properties coordinates and manifest fields as
#     `unzip -p` reads them, nested jars, shaded artifacts, purls.
#  4. Go: fzf from Debian (apt-get download): once installed with dpkg (the deb's, not reported)
#     and once copied to /opt (reported: its main package path and toolchain as `go version -m`
#     prints them, or as `strings` finds them without go); with go installed, a module-mode binary
#     with a replaced dependency: every mod/dep line of `go version -m`.
#  5. Ruby: rainbow's gemspec from Debian's ruby-rainbow (copied, reported: name and version of
#     its RubyGems stub line, licenses) and rake installed with dpkg (the deb's, not reported).
#  6. The SBOM reports carry every purl and pass the validators of tests/integration/sbom_schema.sh
#     (CycloneDX 1.5 schema with ajv, SPDX 2.3 constraints).
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
. "$REPO/tools/debtree.sh"

# same_nonempty NAME REF OURS: same_output, and the reference is not empty.
same_nonempty() { if [ -s "$2" ]; then same_output "$@"; else fail "$1 (empty reference)"; fi; }
rpmq() { rpm --root "$1" --dbpath /var/lib/rpm "${@:2}" 2>/dev/null; }
q() { "$STRATA" sql "$@"; }

# ---- 1. rpm (sqlite) ----------------------------------------------------------------------------
if ! command -v rpmbuild >/dev/null || ! command -v rpm >/dev/null; then
	for t in "rpm: package list equals rpm -qa" "rpm: file ownership equals rpm -qf" "rpm: config files" \
		"rpm: digests" "rpm: licenses" "rpm: layer 2 upgrade" "rpm: purl" "rpm: not reported twice" \
		"bdb: package list"; do skip "$t" "rpm/rpmbuild not installed (apt-get install rpm)"; done
else
	R=$T/rpm
	mkdir -p "$R/src"
	# The files the packages ship, made before rpmbuild so %install only copies them.
	printf 'Metadata-Version: 2.1\nName: hello-strata\nVersion: 1.2\n\n' >"$R/src/METADATA"
	mkdir -p "$R/jar/META-INF/maven/org.example/bundled"
	printf 'groupId=org.example\nartifactId=bundled\nversion=7.0\n' >"$R/jar/META-INF/maven/org.example/bundled/pom.properties"
	(cd "$R/jar" && jar cf "$R/src/bundled-7.0.jar" META-INF) 2>/dev/null || (cd "$R/jar" && zip -qr "$R/src/bundled-7.0.jar" META-INF)
	spec() { # NAME VERSION RELEASE EPOCH LICENSE VENDOR
		cat <<EOF
Name: $1
Version: $2
Release: $3
${4:+Epoch: $4}
Summary: strata catalog test package
License: $5
Vendor: $6
BuildArch: noarch
%description
A package for the strata catalog test.
%install
mkdir -p %{buildroot}/usr/share/$1 %{buildroot}/etc %{buildroot}/usr/bin
echo "$1 $2" > %{buildroot}/usr/share/$1/data.txt
echo "setting=1" > %{buildroot}/etc/$1.conf
printf '#!/bin/sh\necho $1\n' > %{buildroot}/usr/bin/$1
ln -s $1 %{buildroot}/usr/bin/$1-link
mkdir -p %{buildroot}/usr/lib/python3.12/site-packages/hello_strata-1.2.dist-info %{buildroot}/usr/share/java
cp $R/src/METADATA %{buildroot}/usr/lib/python3.12/site-packages/hello_strata-1.2.dist-info/METADATA
cp $R/src/bundled-7.0.jar %{buildroot}/usr/share/java/$1-bundled.jar
%files
/usr/share/$1
%config(noreplace) /etc/$1.conf
/usr/bin/$1
/usr/bin/$1-link
/usr/lib/python3.12/site-packages/hello_strata-1.2.dist-info
/usr/share/java/$1-bundled.jar
EOF
	}
	spec hello-strata 1.2 3.fc39 2 "MIT OR Apache-2.0" "Fedora Project" >"$R/hello1.spec"
	spec hello-strata 1.3 1.fc39 2 "MIT OR Apache-2.0" "Fedora Project" >"$R/hello2.spec"
	spec tiny-tool 0.9 1 "" "GPL-2.0-or-later" "Red Hat, Inc." | sed '/python3.12\|java/d' >"$R/tiny.spec"
	for s in hello1 hello2 tiny; do
		rpmbuild --quiet --define "_topdir $R/top" --define "_build_id_links none" -bb "$R/$s.spec" >"$R/$s.log" 2>&1 ||
			diag <"$R/$s.log"
	done
	rpms() { find "$R/top/RPMS" -name "$1-[0-9]*.rpm" | sort; }
	h1=$(rpms hello-strata | grep 1.2-3) h2=$(rpms hello-strata | grep 1.3-1) t1=$(rpms tiny-tool)
	mkdir -p "$R/t1/etc"
	printf 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=39\nPRETTY_NAME="Fedora Linux 39"\n' >"$R/t1/etc/os-release"
	rpm --root "$R/t1" --dbpath /var/lib/rpm -i --nodeps --noscripts "$h1" "$t1" 2>"$R/install.err"
	rm -f "$R/t1/var/lib/rpm/.rpm.lock" "$R/t1/var/lib/rpm/rpmdb.sqlite-shm" "$R/t1/var/lib/rpm/rpmdb.sqlite-wal"
	tar -C "$R/t1" -cf "$R/l1.tar" .
	# Layer 2: `rpm -U` on a copy of the tree; the layer holds what changed (same file list).
	cp -a "$R/t1" "$R/t2"
	rpm --root "$R/t2" --dbpath /var/lib/rpm -U --nodeps --noscripts "$h2" 2>>"$R/install.err"
	rm -f "$R/t2/var/lib/rpm/.rpm.lock" "$R/t2/var/lib/rpm/rpmdb.sqlite-shm" "$R/t2/var/lib/rpm/rpmdb.sqlite-wal"
	(cd "$R/t2" && tar -cf "$R/l2.tar" var/lib/rpm usr/share/hello-strata etc/hello-strata.conf usr/bin/hello-strata)
	bash "$REPO/tools/mkimage.sh" --form oci-tar --layer-compress gzip -o "$R/img.tar" "$R/l1.tar" "$R/l2.tar" >/dev/null
	"$STRATA" index -q --index "$R/img.db" "$R/img.tar" >/dev/null

	rpmq "$R/t2" -qa --qf '%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE} %{ARCH}\n' | LC_ALL=C sort >"$R/ref_qa.txt"
	q "$R/img.db" "SELECT name || ' ' || CASE WHEN instr(version, ':') THEN version ELSE '(none):' || version END
		|| ' ' || ifnull(arch, '(none)') FROM package WHERE type = 'rpm'" | LC_ALL=C sort >"$R/ours_qa.txt"
	echo "# rpm -qa: $(wc -l <"$R/ref_qa.txt") packages" | cat
	if [ -s "$R/ref_qa.txt" ]; then same_output "rpm: package list equals rpm -qa" "$R/ref_qa.txt" "$R/ours_qa.txt"
	else fail "rpm: rpm -qa found nothing"; diag <"$R/install.err"; fi

	rpmq "$R/t2" -qal | LC_ALL=C sort -u >"$R/paths.txt"
	while read -r p; do
		printf '%s\t%s\n' "$p" "$(rpmq "$R/t2" -qf --qf '%{NAME}\n' "$p" | LC_ALL=C sort -u | paste -sd,)"
	done <"$R/paths.txt" >"$R/ref_qf.txt"
	q "$R/img.db" "SELECT f.path, p.name FROM package_file f JOIN package p ON p.id = f.package" | LC_ALL=C sort |
		awk -F'\t' '$1 == prev { s = s "," $2; next } { if (NR > 1) print prev "\t" s; prev = $1; s = $2 } END { if (NR) print prev "\t" s }' >"$R/ours_qf.txt"
	echo "# rpm -qf: $(wc -l <"$R/ref_qf.txt") paths" | cat
	same_nonempty "rpm: file ownership of every rpm -qal path equals rpm -qf" "$R/ref_qf.txt" "$R/ours_qf.txt"

	rpmq "$R/t2" -qac | LC_ALL=C sort >"$R/ref_conf.txt"
	q "$R/img.db" "SELECT path FROM package_file WHERE kind = 'conffile'" | LC_ALL=C sort >"$R/ours_conf.txt"
	same_nonempty "rpm: config files equal rpm -qac" "$R/ref_conf.txt" "$R/ours_conf.txt"

	(cd "$R/t2" && find usr/share/hello-strata usr/bin -type f -exec sha256sum {} + | awk '{ print "/" $2 "\tsha256:" $1 }') |
		LC_ALL=C sort >"$R/ref_dig.txt"
	q "$R/img.db" "SELECT path, digest FROM package_file WHERE path LIKE '/usr/share/hello-strata/%' OR path LIKE '/usr/bin/%'" |
		awk -F'\t' '$2 != ""' | LC_ALL=C sort >"$R/ours_dig.txt"
	same_nonempty "rpm: file digests equal sha256sum of the installed files" "$R/ref_dig.txt" "$R/ours_dig.txt"

	rpmq "$R/t2" -qa --qf '%{NAME}\t%{LICENSE}\t%{SOURCERPM}\n' | LC_ALL=C sort >"$R/ref_lic.txt"
	q "$R/img.db" "SELECT p.name, l.spdx, p.source || '-' || p.source_version || '.src.rpm' FROM package p
		JOIN license l ON l.package = p.id WHERE p.type = 'rpm'" | LC_ALL=C sort >"$R/ours_lic.txt"
	same_nonempty "rpm: licenses and source rpms equal %{LICENSE} and %{SOURCERPM}" "$R/ref_lic.txt" "$R/ours_lic.txt"

	old=$(rpm -qp --qf '%{EPOCH}:%{VERSION}-%{RELEASE}' "$h1" 2>/dev/null) new=$(rpm -qp --qf '%{EPOCH}:%{VERSION}-%{RELEASE}' "$h2" 2>/dev/null)
	chg=$(q "$R/img.db" "SELECT layer, type, name, change, old_version, new_version FROM package_change WHERE layer = 2" | tr '\t' ' ')
	[ "$chg" = "2 rpm hello-strata upgraded $old $new" ]; ok $? "rpm: layer 2 upgraded hello-strata $old → $new ($chg)"

	want=$(rpmq "$R/t2" -q --qf 'pkg:rpm/fedora/%{NAME}@%{VERSION}-%{RELEASE}?arch=%{ARCH}&epoch=%{EPOCH}&distro=fedora-39' hello-strata)
	got=$(q "$R/img.db" "SELECT purl FROM package WHERE name = 'hello-strata'")
	[ -n "$got" ] && [ "$got" = "$want" ]; ok $? "rpm: purl $got"

	# The mount: user.strata.package of every regular file rpm -qal lists equals rpm -qf.
	if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null && command -v getfattr >/dev/null &&
		smount "$R/img.tar" "$R/mnt" --index "$R/img.db" 2>"$R/mount.err"; then
		: >"$R/ref_x.txt"
		: >"$R/ours_x.txt"
		while IFS=$'\t' read -r p owners; do
			[ -f "$R/t2$p" ] && [ ! -L "$R/t2$p" ] || continue
			printf '%s\t%s\n' "$p" "$owners" >>"$R/ref_x.txt"
			printf '%s\t%s\n' "$p" "$(getfattr --only-values -n user.strata.package "$R/mnt$p" 2>/dev/null | sed 's/, /,/g')" >>"$R/ours_x.txt"
		done <"$R/ref_qf.txt"
		same_nonempty "rpm: user.strata.package in the mount equals rpm -qf ($(wc -l <"$R/ref_x.txt") files)" "$R/ref_x.txt" "$R/ours_x.txt"
		sumount "$R/mnt" || true
	else
		skip "rpm: user.strata.package in the mount equals rpm -qf" "no FUSE or getfattr"
	fi

	others=$(q "$R/img.db" "SELECT count(*) FROM package WHERE type <> 'rpm'")
	[ "$others" = 0 ]; ok $? "rpm: the dist-info and the jar an rpm ships are the rpm's (other packages: $others)"

	# ---- 2. Berkeley DB ---------------------------------------------------------------------
	if ! command -v db5.3_load >/dev/null; then
		skip "bdb: package list equals rpm -qa" "db5.3_load not installed (apt-get install db5.3-util)"
	else
		for ps in 512 16384; do
			B=$R/bdb$ps
			mkdir -p "$B/var/lib/rpm"
			# db_dump's bytevalue format: key = the header number (native order), value = the blob.
			{
				printf 'VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=%s\nHEADER=END\n' "$ps"
				sqlite3 "$R/t2/var/lib/rpm/rpmdb.sqlite" "SELECT hnum, lower(hex(blob)) FROM Packages ORDER BY hnum" |
					while IFS='|' read -r n hex; do
						printf ' %02x%02x%02x%02x\n %s\n' $((n & 255)) $((n >> 8 & 255)) $((n >> 16 & 255)) $((n >> 24 & 255)) "$hex"
					done
				echo DATA=END
			} >"$B/dump.txt"
			db5.3_load -f "$B/dump.txt" "$B/var/lib/rpm/Packages"
			db5.3_verify -q "$B/var/lib/rpm/Packages"; ok $? "bdb ($ps-byte pages): db5.3_verify accepts the database"
			ref=$B/ref.txt
			if rpm --define '_db_backend bdb_ro' --define '_keyring fs' --dbpath "$B/var/lib/rpm" -qa \
				--qf '%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE} %{ARCH}\n' 2>/dev/null | LC_ALL=C sort >"$ref" && [ -s "$ref" ]; then
				what="rpm -qa (bdb_ro)"
			else
				cp "$R/ref_qa.txt" "$ref"
				what="rpm -qa of the sqlite database the headers came from (rpm's bdb_ro cannot read db5.3_load's file)"
			fi
			(cd "$B" && tar -cf "$B/l.tar" var)
			bash "$REPO/tools/mkimage.sh" --form oci-tar -o "$B/img.tar" "$B/l.tar" >/dev/null
			"$STRATA" index -q --index "$B/img.db" "$B/img.tar" >/dev/null
			q "$B/img.db" "SELECT name || ' ' || CASE WHEN instr(version, ':') THEN version ELSE '(none):' || version END
				|| ' ' || ifnull(arch, '(none)') FROM package WHERE type = 'rpm'" | LC_ALL=C sort >"$B/ours.txt"
			same_nonempty "bdb ($ps-byte pages): package list equals $what" "$ref" "$B/ours.txt"
			nf=$(q "$B/img.db" "SELECT count(*) FROM package_file")
			[ "$nf" = "$(wc -l <"$R/ref_qf.txt")" ]; ok $? "bdb ($ps-byte pages): $nf files, as rpm -qal"
		done
	fi
fi

# ---- 3, 4, 5: Java, Go, Ruby in one image ---------------------------------------------------------
L=$T/lang
mkdir -p "$L/l1/srv" "$L/l1/opt/lib" "$L/j"
# Java archives built with jar (zip when jar is missing).
mkjar() { # OUT DIR
	(cd "$2" && if command -v jar >/dev/null; then jar cfm "$1" META-INF/MANIFEST.MF $(ls -A | grep -v '^META-INF$') META-INF
	else zip -qr "$1" META-INF $(ls -A | grep -v '^META-INF$'); fi) 2>/dev/null
}
manifest() { mkdir -p "$1/META-INF"; { echo "Manifest-Version: 1.0"; shift; printf '%s\n' "$@"; } >"$1/META-INF/MANIFEST.MF"; }
pom() { mkdir -p "$1/META-INF/maven/$2/$3"; printf 'groupId=%s\nartifactId=%s\nversion=%s\n' "$2" "$3" "$4" >"$1/META-INF/maven/$2/$3/pom.properties"; }
d=$L/j/demo; manifest "$d" "Implementation-Title: demo" "Implementation-Version: 1.0" "Implementation-Vendor: Example Corp"
pom "$d" org.example demo 1.0; echo x >"$d/A.class"; mkjar "$L/l1/opt/lib/demo-1.0.jar" "$d"
d=$L/j/plain; manifest "$d" "Bundle-SymbolicName: org.plain.lib;singleton:=true" "Bundle-Version: 2.3.0" "Bundle-License: Apache-2.0"
echo x >"$d/B.class"; mkjar "$L/l1/opt/lib/plain-lib-2.3.jar" "$d"
d=$L/j/inner; manifest "$d" "Implementation-Title: inner"; pom "$d" com.acme inner 0.9; echo x >"$d/C.class"; mkjar "$L/j/inner-0.9.jar" "$d"
d=$L/j/fat; manifest "$d" "Implementation-Title: fat"; pom "$d" org.example fat 3.0; pom "$d" com.google shaded-dep 1.1
echo x >"$d/D.class"; mkjar "$L/l1/opt/lib/fat-3.0.jar" "$d"
d=$L/j/war; manifest "$d" "Implementation-Title: webapp" "Implementation-Version: 5"; mkdir -p "$d/WEB-INF/lib"
cp "$L/j/inner-0.9.jar" "$d/WEB-INF/lib/"; echo '<web-app/>' >"$d/WEB-INF/web.xml"; mkjar "$L/l1/srv/app.war" "$d"
# The reference: what unzip reads from each archive (pom.properties first, else the manifest).
for a in "$L"/l1/opt/lib/*.jar "$L"/l1/srv/app.war; do
	rel=${a#"$L/l1"}
	poms=$(unzip -Z1 "$a" | grep '^META-INF/maven/.*/pom.properties$' || true)
	if [ -n "$poms" ]; then
		for p in $poms; do
			unzip -p "$a" "$p" | awk -F= '{ v[$1] = $2 } END { print "java\t" v["groupId"] ":" v["artifactId"] "\t" v["version"] }'
		done
	else
		unzip -p "$a" META-INF/MANIFEST.MF | tr -d '\r' | awk -F': ' '{ v[$1] = $2 }
			END { n = v["Implementation-Title"]; if (n == "") { n = v["Bundle-SymbolicName"]; sub(/;.*/, "", n) }
			      ver = v["Implementation-Version"]; if (ver == "") ver = v["Bundle-Version"]; print "java\t" n "\t" ver }'
	fi
	for n in $(unzip -Z1 "$a" | grep '\.jar$' || true); do
		unzip -p "$a" "$n" >"$L/nested.jar"
		for p in $(unzip -Z1 "$L/nested.jar" | grep '^META-INF/maven/.*/pom.properties$'); do
			unzip -p "$L/nested.jar" "$p" | awk -F= '{ v[$1] = $2 } END { print "java\t" v["groupId"] ":" v["artifactId"] "\t" v["version"] }'
		done
	done
	: "$rel"
done | LC_ALL=C sort >"$L/ref_java.txt"

# Go and Ruby from Debian packages: fzf and rake installed with dpkg (tools/debtree.sh), a copy of
# fzf in /opt and rainbow's gemspec where `gem install` puts specifications.
debs=$REPO/build/debs-catalog
have_debs=0
if deb_fetch "$debs" fzf rake ruby-rainbow >"$L/fetch.log" 2>&1; then
	have_debs=1
	deb_install "$L/l1" "$L/st" "$(deb_file "$debs" fzf)"
	deb_install "$L/l1" "$L/st" "$(deb_file "$debs" rake)"
	deb_write_status "$L/l1" "$L/st"
	mkdir -p "$L/l1/opt/fzf" "$L/rb" "$L/l1/var/lib/gems/3.1.0/specifications"
	cp "$L/l1/usr/bin/fzf" "$L/l1/opt/fzf/fzf"
	dpkg-deb -x "$(deb_file "$debs" ruby-rainbow)" "$L/rb"
	cp "$L"/rb/usr/share/rubygems-integration/all/specifications/rainbow-*.gemspec "$L/l1/var/lib/gems/3.1.0/specifications/"
fi
# A module-mode Go binary with a replaced dependency, when go is installed (offline: no proxy).
have_go=0
if command -v go >/dev/null; then
	G=$L/go
	mkdir -p "$G/dep" "$G/app" "$L/l1/usr/local/bin"
	printf 'module example.com/greet\n\ngo 1.19\n' >"$G/dep/go.mod"
	printf 'package greet\n\nfunc Hello() string { return "hello" }\n' >"$G/dep/greet.go"
	printf 'module example.com/strata-app\n\ngo 1.19\n\nrequire example.com/greet v1.4.2\n\nreplace example.com/greet v1.4.2 => ../dep\n' >"$G/app/go.mod"
	printf 'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/greet"\n)\n\nfunc main() { fmt.Println(greet.Hello()) }\n' >"$G/app/main.go"
	if (cd "$G/app" && GOCACHE=$G/cache GOPATH=$G/gopath GOPROXY=off GOFLAGS=-mod=mod go build -o "$L/l1/usr/local/bin/strata-app" .) >"$G/build.log" 2>&1; then
		have_go=1
	else
		diag <"$G/build.log"
	fi
fi
tar -C "$L/l1" -cf "$L/l1.tar" .
bash "$REPO/tools/mkimage.sh" --form oci-tar --layer-compress gzip -o "$L/img.tar" "$L/l1.tar" >/dev/null
"$STRATA" index -q --index "$L/img.db" "$L/img.tar" >/dev/null

q "$L/img.db" "SELECT type, name, ifnull(version, '') FROM package WHERE type = 'java'" | LC_ALL=C sort >"$L/ours_java.txt"
same_nonempty "java: packages equal the pom.properties / manifests unzip reads (nested and shaded too)" "$L/ref_java.txt" "$L/ours_java.txt"
jp=$(q "$L/img.db" "SELECT name || ' ' || path || ' ' || purl FROM package WHERE type = 'java' AND name IN ('com.acme:inner', 'com.google:shaded-dep', 'org.example:demo') ORDER BY name" | tr '\n' ';')
[ "$jp" = "com.acme:inner /srv/app.war!/WEB-INF/lib/inner-0.9.jar pkg:maven/com.acme/inner@0.9;com.google:shaded-dep /opt/lib/fat-3.0.jar!/META-INF/maven/com.google/shaded-dep/pom.properties pkg:maven/com.google/shaded-dep@1.1;org.example:demo /opt/lib/demo-1.0.jar pkg:maven/org.example/demo@1.0;" ]
ok $? "java: evidence paths (nested: archive!/entry) and purls ($jp)"
own=$(q "$L/img.db" "SELECT f.path || ' ' || p.name FROM package_file f JOIN package p ON p.id = f.package WHERE p.type = 'java' ORDER BY f.path" | tr '\n' ';')
[ "$own" = "/opt/lib/demo-1.0.jar org.example:demo;/opt/lib/fat-3.0.jar org.example:fat;/opt/lib/plain-lib-2.3.jar org.plain.lib;/srv/app.war webapp;" ]
ok $? "java: each archive file is owned by its own package, not by nested or shaded ones ($own)"
jl=$(q "$L/img.db" "SELECT p.name, l.spdx FROM license l JOIN package p ON p.id = l.package WHERE p.type = 'java'" | tr '\t' ' ')
[ "$jl" = "org.plain.lib Apache-2.0" ]; ok $? "java: Bundle-License ($jl)"

if [ "$have_debs" = 1 ]; then
	# fzf: the copy in /opt is reported, the dpkg-installed one is the deb's.
	if command -v go >/dev/null; then
		refpath=$(go version -m "$L/l1/opt/fzf/fzf" | awk -F'\t' '$2 == "path" { print $3 }')
		refgo=$(go version -m "$L/l1/opt/fzf/fzf" | head -1 | sed 's/.*: go//')
		how="go version -m"
	else
		refpath=$(strings -n 6 "$L/l1/opt/fzf/fzf" | awk -F'\t' '$1 == "path" { print $2; exit }')
		refgo=$(strings -n 6 "$L/l1/opt/fzf/fzf" | grep -o '^go1\.[0-9.]*$' | head -1 | sed 's/^go//')
		how="strings"
	fi
	got=$(q "$L/img.db" "SELECT name || ' ' || ifnull(version, '') FROM package WHERE type = 'golang' AND path = '/opt/fzf/fzf' ORDER BY name" | tr '\n' ';')
	[ -n "$refpath" ] && [ "$got" = "$refpath ;stdlib $refgo;" ]; ok $? "go: /opt/fzf/fzf is $refpath built with go$refgo, as $how says ($got)"
	owned=$(q "$L/img.db" "SELECT count(*) FROM package WHERE type = 'golang' AND path = '/usr/bin/fzf'")
	debfzf=$(q "$L/img.db" "SELECT count(*) FROM package WHERE type = 'deb' AND name = 'fzf'")
	[ "$owned" = 0 ] && [ "$debfzf" = 1 ]; ok $? "go: /usr/bin/fzf is the fzf deb's, not reported twice"
	own=$(q "$L/img.db" "SELECT p.name FROM package_file f JOIN package p ON p.id = f.package WHERE f.path = '/opt/fzf/fzf'")
	[ "$own" = "$refpath" ]; ok $? "go: /opt/fzf/fzf is owned by its main package ($own)"
	purl=$(q "$L/img.db" "SELECT purl FROM package WHERE type = 'golang' AND path = '/opt/fzf/fzf' AND name <> 'stdlib'")
	[ "$purl" = "pkg:golang/$refpath" ]; ok $? "go: purl $purl"

	spec=$(ls "$L"/l1/var/lib/gems/3.1.0/specifications/rainbow-*.gemspec)
	refgem=$(sed -n 's/^# stub: \([^ ]*\) \([^ ]*\) .*/\1 \2/p' "$spec")
	reflic=$(sed -n 's/.*\.licenses = \[\(.*\)\]/\1/p' "$spec" | grep -o '"[^"]*"' | tr -d '"' | paste -sd' ')
	got=$(q "$L/img.db" "SELECT p.name || ' ' || p.version || '|' || ifnull(group_concat(l.spdx), '') || '|' || p.purl FROM package p LEFT JOIN license l ON l.package = p.id WHERE p.type = 'gem' GROUP BY p.id")
	[ -n "$refgem" ] && [ "$got" = "$refgem|$reflic|pkg:gem/${refgem% *}@${refgem#* }" ]; ok $? "ruby: $got (stub line: $refgem, licenses $reflic; rake is the rake deb's)"
else
	diag <"$L/fetch.log"
	skip "go: Debian's fzf reported by its build info" "apt-get download failed (network?)"
	skip "go: /usr/bin/fzf is the fzf deb's"
	skip "go: purl"
	skip "ruby: rainbow's gemspec" "apt-get download failed (network?)"
fi

if [ "$have_go" = 1 ]; then
	go version -m "$L/l1/usr/local/bin/strata-app" | awk -F'\t' '
		$2 == "mod" || $2 == "dep" { if (n) print n "\t" v; n = $3; v = $4 }
		$2 == "=>" { v = ($3 ~ /^[.\/]/) ? "(devel)" : $4; if ($3 !~ /^[.\/]/) n = $3 }
		END { if (n) print n "\t" v }' | LC_ALL=C sort >"$L/ref_go.txt"
	echo "stdlib	$(go version -m "$L/l1/usr/local/bin/strata-app" | head -1 | sed 's/.*: go//')" >>"$L/ref_go.txt"
	LC_ALL=C sort "$L/ref_go.txt" -o "$L/ref_go.txt"
	q "$L/img.db" "SELECT name, version FROM package WHERE type = 'golang' AND path = '/usr/local/bin/strata-app'" | LC_ALL=C sort >"$L/ours_go.txt"
	same_nonempty "go: module binary: main module, deps (local replacement: (devel)) and stdlib as go version -m" "$L/ref_go.txt" "$L/ours_go.txt"
else
	skip "go: module binary compared with go version -m" "go not installed (apt-get install golang-go)"
fi
# Only the Go binaries hold a build info: no other ELF file of the image became a package.
gobins=$(q "$L/img.db" "SELECT DISTINCT path FROM package WHERE type = 'golang' ORDER BY path" | tr '\n' ' ')
want=""
[ "$have_debs" = 1 ] && want="/opt/fzf/fzf "
[ "$have_go" = 1 ] && want="$want/usr/local/bin/strata-app "
[ "$gobins" = "$want" ]; ok $? "go: packages only from the Go binaries (${gobins:-none})"

# ---- 6. SBOMs ------------------------------------------------------------------------------------
"$STRATA" report "$L/img.db" sbom.cdx.json >"$L/cdx.json" 2>"$L/rep.err"
"$STRATA" report "$L/img.db" sbom.spdx.json >"$L/spdx.json" 2>>"$L/rep.err"
q "$L/img.db" "SELECT purl FROM package WHERE purl IS NOT NULL" | LC_ALL=C sort >"$L/purls.txt"
jq -r '.components[].purl // empty' "$L/cdx.json" | LC_ALL=C sort >"$L/cdx_purls.txt"
jq -r '.packages[].externalRefs[]? | select(.referenceType == "purl") | .referenceLocator' "$L/spdx.json" | LC_ALL=C sort >"$L/spdx_purls.txt"
same_nonempty "sbom.cdx.json carries every purl" "$L/purls.txt" "$L/cdx_purls.txt"
same_nonempty "sbom.spdx.json carries every purl" "$L/purls.txt" "$L/spdx_purls.txt"
# The same validators as tests/integration/sbom_schema.sh: ajv with the official CycloneDX 1.5
# schema (tools/deps.sh installs it), the SPDX 2.3 constraints checker.
NPM_DIR=${STRATA_TEST_NPM:-/var/cache/strata-test}
AJV=$NPM_DIR/node_modules/.bin/ajv S=$NPM_DIR/schemas
if [ -x "$AJV" ] && [ -f "$S/bom-1.5.schema.json" ]; then
	(cd "$NPM_DIR" && "$AJV" validate --spec=draft7 --strict=false -c ajv-formats -s "$S/bom-1.5.schema.json" \
		-r "$S/spdx.schema.json" -r "$S/jsf-0.82.schema.json" -d "$L/cdx.json") >"$L/ajv.out" 2>&1
	ok $? "sbom.cdx.json of the Java/Go/Ruby/deb image is valid CycloneDX 1.5 (ajv)" || diag <"$L/ajv.out"
else
	skip "sbom.cdx.json against the CycloneDX 1.5 schema" "no ajv/schemas under $NPM_DIR"
fi
IDS=/usr/share/nodejs/spdx-license-ids
python3 "$REPO/tests/integration/lib/spdx23_check.py" "$L/spdx.json" "$IDS/index.json" "$IDS/deprecated.json" >"$L/spdx.out" 2>&1
ok $? "sbom.spdx.json meets SPDX 2.3's constraints" || diag <"$L/spdx.out"
if [ -n "${R:-}" ] && [ -f "$R/img.db" ]; then
	"$STRATA" report "$R/img.db" sbom.spdx.json >"$R/spdx.json" 2>/dev/null
	python3 "$REPO/tests/integration/lib/spdx23_check.py" "$R/spdx.json" "$IDS/index.json" "$IDS/deprecated.json" >"$R/spdx.out" 2>&1
	ok $? "rpm image: sbom.spdx.json meets SPDX 2.3's constraints" || diag <"$R/spdx.out"
	if [ -x "$AJV" ] && [ -f "$S/bom-1.5.schema.json" ]; then
		"$STRATA" report "$R/img.db" sbom.cdx.json >"$R/cdx.json" 2>/dev/null
		(cd "$NPM_DIR" && "$AJV" validate --spec=draft7 --strict=false -c ajv-formats -s "$S/bom-1.5.schema.json" \
			-r "$S/spdx.schema.json" -r "$S/jsf-0.82.schema.json" -d "$R/cdx.json") >"$R/ajv.out" 2>&1
		ok $? "rpm image: sbom.cdx.json is valid CycloneDX 1.5 (ajv)" || diag <"$R/ajv.out"
	fi
fi

tap_done
