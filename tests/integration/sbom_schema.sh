#!/bin/bash
# tests/integration/sbom_schema.sh — issue 4's SBOMs checked by validators strata did not write:
# sbom.cdx.json against the official CycloneDX 1.5 JSON schema (with its SPDX-id and JSF
# companions) using ajv, and sbom.spdx.json against the SPDX 2.3 specification's constraints
# (lib/spdx23_check.py, with the exception ids of Debian's node-spdx-exceptions) and every license
# expression of both SBOMs through spdx-expression-parse (Debian's node-spdx-expression-parse, the
# parser npm itself uses). The official SPDX 2.3 JSON schema (spdx-spec's schemas/spdx-schema.json)
# is in no Debian package nor in any npm package we found: @cyclonedx/cdxgen ships the SPDX 3.0.1
# schema (data/spdx-export.schema.json) and CycloneDX's license-id enum (data/spdx.schema.json)
# only; @cyclonedx/cyclonedx-library, @cyclonedx/cyclonedx-npm, @datadog/datadog-ci-plugin-sbom,
# @mongodb-js/sbom-tools and sbom ship none; Debian has only the node-spdx-* id lists (README).
# Images: the demo image (real Debian packages) and an image with apk, Python and npm
# evidence, licenses with exceptions among them. The validator and schemas come from tools/deps.sh (npm, under /var/cache/strata-test);
# without them the CycloneDX checks skip. Each validator is also shown a broken document and
# must reject it, so a validator that accepts anything fails the test.
. "$(dirname "$0")/lib/common.sh"
need_strata
NPM_DIR=${STRATA_TEST_NPM:-/var/cache/strata-test}
AJV=$NPM_DIR/node_modules/.bin/ajv S=$NPM_DIR/schemas
IDS=/usr/share/nodejs/spdx-license-ids
EXC=/usr/share/nodejs/spdx-exceptions/index.json
command -v jq >/dev/null && command -v python3 >/dev/null || { echo "1..0 # SKIP needs jq and python3"; exit 77; }

cdx_valid() { # FILE
	(cd "$NPM_DIR" && "$AJV" validate --spec=draft7 --strict=false -c ajv-formats -s "$S/bom-1.5.schema.json" \
		-r "$S/spdx.schema.json" -r "$S/jsf-0.82.schema.json" -d "$1") >"$T/ajv.out" 2>&1
}
spdx_valid() {
	python3 "$REPO/tests/integration/lib/spdx23_check.py" "$1" "$IDS/index.json" "$IDS/deprecated.json" \
		${EXC:+"exceptions=$EXC"} >"$T/spdx.out" 2>&1
}
[ -f "$EXC" ] || EXC=""
# exprs_parse FILE: every line of FILE (a license expression) parses with spdx-expression-parse.
have_parser() { command -v node >/dev/null && NODE_PATH=/usr/share/nodejs node -e 'require("spdx-expression-parse")' 2>/dev/null; }
exprs_parse() {
	NODE_PATH=/usr/share/nodejs node -e 'const p = require("spdx-expression-parse"); let bad = 0;
		for (const e of require("fs").readFileSync(process.argv[1], "utf8").split("\n")) {
			if (!e || e === "NOASSERTION" || e === "NONE") continue;
			try { p(e) } catch (x) { bad++; console.log("rejected: " + e) } }
		process.exit(bad ? 1 : 0)' -- "$1" >"$T/parse.out" 2>&1
}

check_image() { # NAME IMAGE
	local name=$1 img=$2
	"$STRATA" report "$img" sbom.cdx.json >"$T/$name.cdx.json" 2>"$T/err" && "$STRATA" report "$img" sbom.spdx.json >"$T/$name.spdx.json" 2>>"$T/err"
	ok $? "$name: strata report writes both SBOMs" || diag <"$T/err"
	local n
	n=$(jq '.components | length' "$T/$name.cdx.json")
	if [ -x "$AJV" ] && [ -f "$S/bom-1.5.schema.json" ]; then
		cdx_valid "$T/$name.cdx.json"; ok $? "$name: sbom.cdx.json ($n components) is valid CycloneDX 1.5 (ajv, official schema)" || diag <"$T/ajv.out"
	else
		skip "$name: sbom.cdx.json against the CycloneDX 1.5 schema" "no ajv/schemas under $NPM_DIR (tools/deps.sh needs npm)"
	fi
	spdx_valid "$T/$name.spdx.json"; ok $? "$name: sbom.spdx.json ($(jq '.packages | length' "$T/$name.spdx.json") packages) meets SPDX 2.3's constraints" || diag <"$T/spdx.out"
	[ "$(jq '.packages | length' "$T/$name.spdx.json")" = "$n" ] && [ "$n" -gt 0 ]
	ok $? "$name: both SBOMs list the same number of packages ($n)"
	if have_parser; then
		{ jq -r '.packages[] | .licenseDeclared, .licenseConcluded | select(. != null)' "$T/$name.spdx.json"
		  jq -r '.components[] | .licenses[]? | .expression | select(. != null)' "$T/$name.cdx.json"; } >"$T/$name.exprs"
		exprs_parse "$T/$name.exprs"
		ok $? "$name: all $(sort -u "$T/$name.exprs" | wc -l) distinct license expressions of both SBOMs parse with spdx-expression-parse" ||
			diag <"$T/parse.out"
	else
		skip "$name: license expressions with spdx-expression-parse" "apt-get install node-spdx-expression-parse"
	fi
}

demo=$REPO/build/demo/demo.tar
if (cd "$REPO" && sh tools/demoimage.sh "$demo" >"$T/demoimage.log" 2>&1); then
	check_image demo "$demo"
else
	skip "demo: SBOMs" "demo image could not be built (network?)"
fi

# apk + Python + npm evidence, hand-written in the formats those tools write.
r=$T/lang
mkdir -p "$r/lib/apk/db" "$r/usr/lib/python3/site-packages/requests-2.31.0.dist-info" "$r/app/node_modules/left-pad" "$r/etc"
printf 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.0\nPRETTY_NAME="Alpine Linux v3.19"\n' >"$r/etc/os-release"
printf 'C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\n\nP:busybox\nV:1.36.1-r15\nA:x86_64\nL:GPL-2.0-only\no:busybox\nF:bin\nR:busybox\n\n' >"$r/lib/apk/db/installed"
printf 'Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\n' >"$r/usr/lib/python3/site-packages/requests-2.31.0.dist-info/METADATA"
printf 'requests/__init__.py,,\n' >"$r/usr/lib/python3/site-packages/requests-2.31.0.dist-info/RECORD"
printf '{"name":"left-pad","version":"1.3.0","license":"WTFPL"}\n' >"$r/app/node_modules/left-pad/package.json"
# Licenses with exceptions: an rpm-style unnamed one and an SPDX-named one.
mkdir -p "$r/usr/lib/python3/site-packages/pyjni-0.9.dist-info" "$r/app/node_modules/jvm-bridge"
printf 'Metadata-Version: 2.1\nName: pyjni\nVersion: 0.9\nLicense: GPLv2+ with exceptions\n' \
	>"$r/usr/lib/python3/site-packages/pyjni-0.9.dist-info/METADATA"
printf '{"name":"jvm-bridge","version":"2.0.1","license":"(MIT OR GPL-2.0-or-later WITH Classpath-exception-2.0)"}\n' \
	>"$r/app/node_modules/jvm-bridge/package.json"
tar --owner=0 --group=0 --mtime=@0 -C "$r" -cf "$T/lang.tar" .
"$REPO/tools/mkimage.sh" --form oci-tar -o "$T/lang-img.tar" "$T/lang.tar" 2>"$T/mk.err" || { diag <"$T/mk.err"; echo "Bail out! mkimage"; exit 1; }
check_image lang "$T/lang-img.tar"
got=$(jq -r '.packages[] | select(.name == "pyjni" or .name == "jvm-bridge") | .name + "=" + .licenseDeclared' "$T/lang.spdx.json" | sort | paste -sd' ')
case "$got" in "jvm-bridge="*"MIT OR GPL-2.0-or-later WITH Classpath-exception-2.0"*" pyjni=GPL-2.0-or-later") true ;; *) false ;; esac
ok $? "lang: exceptions: rpm-style 'GPLv2+ with exceptions' → GPL-2.0-or-later, a listed one kept ($got)"
for t in apk pypi npm; do
	jq -e --arg t "$t" '[.components[] | select(.purl | startswith("pkg:" + $t + "/"))] | length > 0' "$T/lang.cdx.json" >/dev/null
	ok $? "lang: the CycloneDX BOM has a pkg:$t component"
done

# The validators reject broken documents.
if [ -x "$AJV" ] && [ -f "$S/bom-1.5.schema.json" ]; then
	jq '.components[0].type = "no-such-type" | .components[0].licenses = [{"license": {"id": "Not-A-License"}}]' "$T/lang.cdx.json" >"$T/bad.cdx.json"
	! cdx_valid "$T/bad.cdx.json"; ok $? "ajv rejects a BOM with a bad component type and a license id outside the SPDX list"
fi
jq '.packages[0].filesAnalyzed = true | .packages[0].licenseDeclared = "MIT AND"' "$T/lang.spdx.json" >"$T/bad.spdx.json"
! spdx_valid "$T/bad.spdx.json"; ok $? "the SPDX checker rejects filesAnalyzed without a verification code and a broken expression"
if [ -n "$EXC" ]; then
	jq '.packages[0].licenseDeclared = "GPL-2.0-or-later WITH exceptions"' "$T/lang.spdx.json" >"$T/bad2.spdx.json"
	! spdx_valid "$T/bad2.spdx.json"; ok $? "the SPDX checker rejects an exception outside the SPDX exceptions list"
fi
if have_parser; then
	printf 'GPL-2.0-or-later WITH exceptions\n' >"$T/bad.exprs"
	! exprs_parse "$T/bad.exprs"; ok $? "spdx-expression-parse rejects GPL-2.0-or-later WITH exceptions"
fi
tap_done
