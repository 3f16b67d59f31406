#!/bin/bash
# tests/integration/index_outside.sh — images made by other projects (../shared/fixtures/outside):
# the facts their own tests publish, and skopeo+umoci's unpack of the same archives.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
need_strata
export LC_ALL=C
if [ ! -d "$OUTSIDE" ]; then echo "1..0 # SKIP no outside fixtures at $OUTSIDE"; exit 77; fi
O=$(cd "$OUTSIDE" && pwd)

# index NAME IMAGE ARGS...: indexes into $T/NAME.db, one TAP line.
index() {
	local name=$1 img=$2
	shift 2
	if "$STRATA" index "$img" --index "$T/$name.db" -q "$@" >/dev/null 2>"$T/err"; then pass "$name: strata index"
	else fail "$name: strata index"; diag <"$T/err"; return 1; fi
}
# files NAME: paths of the non-directories of the merged view, one per line.
files() { "$STRATA" ls "$T/$1.db" 2>/dev/null | awk -F'\t' '$2 != "d" { print $1 }'; }
# umoci_ref SRC DEST: skopeo copies SRC (a transport:ref) to an OCI layout, umoci unpacks it.
umoci_ref() {
	rm -rf "$T/sk" "$T/bundle"
	skopeo copy -q "$1" "oci:$T/sk:r" >/dev/null 2>"$T/skerr" && umoci unpack --image "$T/sk:r" "$T/bundle" >/dev/null 2>>"$T/skerr" &&
		rm -rf "$2" && mv "$T/bundle/rootfs" "$2"
}
# compare_umoci NAME SRC: strata ls against skopeo+umoci's rootfs.
compare_umoci() {
	if umoci_ref "$2" "$T/ref-$1"; then
		ref_list "$T/ref-$1" >"$T/want"
		"$STRATA" ls "$T/$1.db" >"$T/got" 2>&1
		same_output "$1: strata ls equals skopeo+umoci's rootfs" "$T/want" "$T/got"
	else
		skip "$1: strata ls equals skopeo+umoci's rootfs" "skopeo/umoci cannot read it: $(head -1 "$T/skerr")"
	fi
}

# dive: eight images holding README.md alone; the same bytes in every form.
sums=""
for f in test-gzip-image test-zstd-image test-estargz-image test-uncompressed-image \
	test-oci-gzip-image test-oci-zstd-image test-oci-estargz-image test-oci-uncompressed-image; do
	index "dive-$f" "$O/dive/$f.tar" || continue
	ok "$([ "$(files "dive-$f")" = README.md ]; echo $?)" "dive-$f: the merged view holds README.md alone"
	s=$("$STRATA" cat "$T/dive-$f.db" README.md 2>/dev/null | sha256sum | cut -d' ' -f1)
	sums="$sums$s $f"$'\n'
done
mkdir -p "$T/oci-unc" && tar -C "$T/oci-unc" -xf "$O/dive/test-oci-uncompressed-image.tar"
want=$(umoci_ref "oci:$T/oci-unc:$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"] // empty' "$T/oci-unc/index.json")" \
	"$T/ref-readme" 2>/dev/null && sha256sum <"$T/ref-readme/README.md" | cut -d' ' -f1)
[ -n "$want" ] || want=$(for b in "$T/oci-unc"/blobs/sha256/*; do tar -xOf "$b" README.md 2>/dev/null; done | sha256sum | cut -d' ' -f1)
n=$(printf '%s' "$sums" | cut -d' ' -f1 | sort -u)
ok "$([ "$n" = "$want" ]; echo $?)" "dive: README.md has the same sha256 in all eight forms, equal to the unpacked layer's"
[ "$n" = "$want" ] || { echo "want $want"; printf '%s' "$sums"; } | diag
for f in test-docker-image test-kaniko-image; do
	index "dive-$f" "$O/dive/$f.tar" && compare_umoci "dive-$f" "docker-archive:$O/dive/$f.tar"
done

# go-containerregistry
G=$O/go-containerregistry
index whiteout_dir "$G/whiteout_dir.tar" &&
	ok "$([ "$(files whiteout_dir | tr '\n' ' ')" = "a/baz b/bar " ]; echo $?)" "whiteout_dir: a/baz and b/bar only" &&
	compare_umoci whiteout_dir "docker-archive:$G/whiteout_dir.tar"
index whiteout_image "$G/whiteout_image.tar" &&
	ok "$([ "$(files whiteout_image)" = bar.txt ]; echo $?)" "whiteout_image: bar.txt only" &&
	compare_umoci whiteout_image "docker-archive:$G/whiteout_image.tar"
index overwritten_file "$G/overwritten_file.tar" &&
	ok "$("$STRATA" ls "$T/overwritten_file.db" | awk -F'\t' '$1 == "foo.txt" && $2 == "l" { f = 1 } END { exit !f }'; echo $?)" \
		"overwritten_file: the symlink wins" &&
	compare_umoci overwritten_file "docker-archive:$G/overwritten_file.tar"
index hello-world-v25 "$G/hello-world-v25.tar" &&
	ok "$([ "$(files hello-world-v25)" = hello ]; echo $?)" "hello-world-v25: one hello binary" &&
	compare_umoci hello-world-v25 "docker-archive:$G/hello-world-v25.tar"

rc=0
"$STRATA" index "$G/test_bundle.tar" --index "$T/bundle.db" >/dev/null 2>"$T/err" || rc=$?
ok "$([ $rc != 0 ] && one_line_err "$T/err" && grep -q test_image_1 "$T/err" && grep -q test_image_2 "$T/err" && [ ! -e "$T/bundle.db" ]; echo $?)" \
	"test_bundle: without --ref, a one-line error listing the tags"
diag <"$T/err"
for r in test_image_1 test_image_2; do
	# skopeo names an image of a multi-image archive by its position (@N) in manifest.json.
	at=$(tar -xOf "$G/test_bundle.tar" manifest.json | jq --arg r "$r" 'map(.RepoTags | index($r) != null) | index(true)')
	index "bundle-$r" "$G/test_bundle.tar" --ref "$r" && compare_umoci "bundle-$r" "docker-archive:$G/test_bundle.tar:@$at"
done
for f in no_manifest null_manifest; do
	rc=0
	"$STRATA" index "$G/$f.tar" --index "$T/$f.db" >/dev/null 2>"$T/err" || rc=$?
	ok "$([ $rc != 0 ] && one_line_err "$T/err" && grep -qF "$G/$f.tar" "$T/err" && [ ! -e "$T/$f.db" ]; echo $?)" \
		"$f: exits non-zero with a one-line error naming the image"
	diag <"$T/err"
done

# regclient/testrepo: --ref picks one image of many; referrers are not layers.
R=$O/regclient/testrepo
# Refs that name artifacts (an SBOM, a mirror), not images: a one-line error, no index.
for r in a1 mirror; do
	rc=0
	"$STRATA" index "$R" --ref "$r" --index "$T/art.db" >/dev/null 2>"$T/err" || rc=$?
	ok "$([ $rc != 0 ] && one_line_err "$T/err" && [ ! -e "$T/art.db" ]; echo $?)" "testrepo --ref $r (an artifact): a one-line error"
	diag <"$T/err"
done
rc=0
"$STRATA" index "$R" --index "$T/repo.db" >/dev/null 2>"$T/err" || rc=$?
ok "$([ $rc != 0 ] && one_line_err "$T/err" && [ ! -e "$T/repo.db" ]; echo $?)" "testrepo: without --ref, a one-line error"
diag <"$T/err"
# Multi-platform refs: --ref and --platform choose one manifest, as skopeo's --override-* do.
for rp in v1:linux/amd64 v3:linux/arm/v7 b2:linux/arm64; do
	r=${rp%%:*} p=${rp#*:} name=testrepo-$r-${p//\//-}
	index "$name" "$R" --ref "$r" --platform "$p" || continue
	os=$(echo "$p" | cut -d/ -f1) arch=$(echo "$p" | cut -d/ -f2) var=$(echo "$p" | cut -d/ -f3)
	rm -rf "$T/skv"
	if skopeo copy -q --override-os "$os" --override-arch "$arch" ${var:+--override-variant "$var"} \
		"oci:$R:$r" "oci:$T/skv:r" >/dev/null 2>&1; then
		compare_umoci "$name" "oci:$T/skv:r"
		m=$(jq -r '.manifests[0].digest' "$T/skv/index.json" | cut -d: -f2)
		got=$("$STRATA" sql "$T/$name.db" 'SELECT count(*) FROM layer' 2>&1)
		ok "$([ "$(jq '.layers | length' "$T/skv/blobs/sha256/$m")" = "$got" ]; echo $?)" \
			"$name: the $p manifest's layers only, no referrers ($got)"
		d=$("$STRATA" sql "$T/$name.db" 'SELECT digest FROM image' 2>&1)
		ok "$([ "$d" = "sha256:$m" ]; echo $?)" "$name: the image digest is the $p manifest's ($d)"
	else
		skip "$name: compare with skopeo" "skopeo cannot copy it"
	fi
done

tap_done
