#!/bin/bash
# tests/integration/index_errors.sh — broken images: `strata index` exits non-zero with exactly
# one line on stderr naming the image, and leaves neither an index nor temporary files at the
# --index place. A digest mismatch is accepted with --allow-digest-mismatch and recorded.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
need_strata
need_fixtures
export LC_ALL=C
MK=$REPO/tools/mkimage.sh
small=("$FIX/layers/L2.tar" "$FIX/layers/L4.tar")

# manifest_of LAYOUT: path of the (single) manifest blob.
manifest_of() { echo "$1/blobs/sha256/$(jq -r '.manifests[0].digest' "$1/index.json" | cut -d: -f2)"; }
# layer_blob LAYOUT N: path of layer N's blob (1-based).
layer_blob() { echo "$1/blobs/sha256/$(jq -r ".layers[$(($2 - 1))].digest" "$(manifest_of "$1")" | cut -d: -f2)"; }

# expect_failure NAME IMAGE: the error contract.
expect_failure() {
	local name=$1 img=$2 d=$T/idx-$1 rc=0
	mkdir -p "$d"
	"$STRATA" index "$img" --index "$d/index.db" >"$T/out" 2>"$T/err" || rc=$?
	ok "$([ $rc != 0 ]; echo $?)" "$name: strata index exits non-zero (exit $rc)"
	if one_line_err "$T/err" && grep -qF -- "$img" "$T/err"; then pass "$name: one line on stderr naming the image"; [ -n "${VERBOSE:-}" ] && diag <"$T/err"
	else fail "$name: one line on stderr naming the image"; diag <"$T/err"; fi
	ok "$([ -z "$(ls -A "$d")" ]; echo $?)" "$name: nothing left at the --index place"
	ls -A "$d" | diag
}

# Not an image: random bytes.
head -c 65536 /dev/urandom >"$T/random.bin"
expect_failure random "$T/random.bin"

# An empty file; a path that does not exist.
: >"$T/empty.tar"
expect_failure empty-file "$T/empty.tar"
expect_failure nonexistent "$T/no/such/image.tar"

# A missing layer blob.
bash "$MK" --form oci-dir --layer-compress gzip -o "$T/missing" "${small[@]}"
rm -f "$(layer_blob "$T/missing" 2)"
expect_failure missing-blob "$T/missing"

# A truncated gzip layer.
bash "$MK" --form oci-dir --layer-compress gzip -o "$T/trunc" "${small[@]}"
b=$(layer_blob "$T/trunc" 1)
head -c $(($(stat -c %s "$b") / 2)) "$b" >"$T/half" && cat "$T/half" >"$b"
gzip -t "$b" 2>/dev/null && echo "gzip -t accepts the truncated layer?" | diag
expect_failure truncated-gzip "$T/trunc"

# The same where no descriptor gives the size away: a truncated gzip rootfs, and a docker archive
# (no blob sizes in its manifest) whose gzip layer is truncated.
bash "$MK" --form rootfs --layer-compress gzip -o "$T/rootfs.tar.gz" "$FIX/layers/L2.tar"
head -c $(($(stat -c %s "$T/rootfs.tar.gz") / 2)) "$T/rootfs.tar.gz" >"$T/half" && cat "$T/half" >"$T/rootfs.tar.gz"
expect_failure truncated-gzip-rootfs "$T/rootfs.tar.gz"
bash "$MK" --form docker --layer-compress gzip -o "$T/dgz.tar" "${small[@]}"
mkdir -p "$T/dgz" && tar -C "$T/dgz" -xf "$T/dgz.tar"
b=$(find "$T/dgz" -name layer.tar.gz | head -1)
head -c $(($(stat -c %s "$b") / 2)) "$b" >"$T/half" && cat "$T/half" >"$b"
tar -C "$T/dgz" -cf "$T/dgz-trunc.tar" .
expect_failure truncated-gzip-docker "$T/dgz-trunc.tar"

# A corrupt zstd layer (bytes in the middle of the frame overwritten).
bash "$MK" --form oci-dir --layer-compress zstd -o "$T/zcorrupt" "${small[@]}"
b=$(layer_blob "$T/zcorrupt" 1)
printf 'CORRUPTCORRUPT' | dd of="$b" bs=1 seek=$(($(stat -c %s "$b") / 2)) conv=notrunc status=none
zstd -t -q "$b" 2>/dev/null && echo "zstd -t accepts the corrupt layer?" | diag
expect_failure corrupt-zstd "$T/zcorrupt"

# Invalid JSON in index.json.
bash "$MK" --form oci-dir -o "$T/badjson" "${small[@]}"
printf '{"schemaVersion":2,"manifests":[{"mediaType":' >"$T/badjson/index.json"
expect_failure invalid-json "$T/badjson"

# An unknown layer media type (manifest rewritten, index.json pointed at it).
bash "$MK" --form oci-dir -o "$T/mediatype" "${small[@]}"
m=$(manifest_of "$T/mediatype")
sed 's|application/vnd.oci.image.layer.v1.tar"|application/vnd.example.unknown.layer"|' "$m" >"$T/m.json"
nd=$(sha256sum "$T/m.json" | cut -d' ' -f1)
cp "$T/m.json" "$T/mediatype/blobs/sha256/$nd"
jq -c --arg d "sha256:$nd" --argjson s "$(stat -c %s "$T/m.json")" '.manifests[0].digest = $d | .manifests[0].size = $s' \
	"$T/mediatype/index.json" >"$T/i.json" && cp "$T/i.json" "$T/mediatype/index.json"
expect_failure unknown-media-type "$T/mediatype"

# A digest mismatch: one byte of file content changed in an uncompressed layer (the tar stays valid).
bash "$MK" --form oci-dir -o "$T/digest" "${small[@]}"
b=$(layer_blob "$T/digest" 1)
off=$(grep -abo 'v2 modified' "$b" | head -1 | cut -d: -f1)
printf 'w' | dd of="$b" bs=1 seek="$off" conv=notrunc status=none
expect_failure digest-mismatch "$T/digest"
rc=0
"$STRATA" index "$T/digest" --index "$T/digest.db" --allow-digest-mismatch >"$T/out" 2>"$T/err" || rc=$?
ok $rc "digest-mismatch: --allow-digest-mismatch indexes it"
diag <"$T/err"
v=$("$STRATA" sql "$T/digest.db" "SELECT position || ':' || ifnull(digest_ok, 'NULL') FROM layer ORDER BY position" 2>&1 | tr '\n' ' ')
ok "$([ "$v" = "1:0 2:1 " ]; echo $?)" "digest-mismatch: layer.digest_ok is 0 for the edited layer only ($v)"
"$STRATA" cat "$T/digest.db" mod.txt >"$T/got" 2>/dev/null
printf 'w2 modified\n' | cmp -s - "$T/got"
ok $? "digest-mismatch: the edited bytes are what strata cat reads"

tap_done
