#!/bin/sh
# tests/unit/overlay_image_fixtures.sh DIR — builds small images with real tools (tar, gzip, zstd,
# sha256sum) for test_overlay_image: an OCI dir and the same as a tar, a legacy docker-archive and
# that archive gzipped and zstd-compressed as a whole, plain rootfs tars (raw, gzip, zstd), and
# broken variants. Prints nothing; exits non-zero when a tool fails.
set -eu
cd "$1"
umask 022

sha() { sha256sum "$1" | cut -c1-64; }
size() { stat -c %s "$1"; }
# blob FILE LAYOUT → copies FILE into LAYOUT/blobs/sha256/<hex>, prints hex
blob() { h=$(sha "$1"); mkdir -p "$2/blobs/sha256"; cp "$1" "$2/blobs/sha256/$h"; echo "$h"; }

mkdir -p root/etc root/bin root2/etc
printf 'hello from layer one\n' > root/etc/hello
printf '#!/bin/sh\necho hi\n' > root/bin/hi
chmod 755 root/bin/hi
printf 'second layer\n' > root2/etc/second
tar --format=pax -C root -cf layer1.tar .
tar --format=pax -C root2 -cf layer2.tar .
gzip -9 -n -c layer1.tar > layer1.tar.gz
zstd -q -c layer2.tar > layer2.tar.zst
d1=$(sha layer1.tar) d2=$(sha layer2.tar)

# ---- OCI layout: layer 1 gzip, layer 2 zstd --------------------------------------------------
# oci_build DIR LAYER_MEDIA_TYPE_2 → DIR holds a one-image layout
oci_build() {
	out=$1 mt2=$2
	rm -rf "$out"; mkdir -p "$out"
	printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]}}' \
		"$d1" "$d2" > cfg.json
	c=$(blob cfg.json "$out") l1=$(blob layer1.tar.gz "$out") l2=$(blob layer2.tar.zst "$out")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s},{"mediaType":"%s","digest":"sha256:%s","size":%s}]}' \
		"$c" "$(size cfg.json)" "$l1" "$(size layer1.tar.gz)" "$mt2" "$l2" "$(size layer2.tar.zst)" > man.json
	m=$(blob man.json "$out")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"mine:1"}}]}' \
		"$m" "$(size man.json)" > "$out/index.json"
	printf '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"
	echo "sha256:$m" > "$out.digest"
	echo "sha256:$c" > "$out.config"
}
oci_build oci application/vnd.oci.image.layer.v1.tar+zstd
tar -C oci -cf oci.tar .
oci_build oci-badmt application/x-unknown-layer
oci_build oci-missing application/vnd.oci.image.layer.v1.tar+zstd
rm "oci-missing/blobs/sha256/$(sha layer2.tar.zst)"
oci_build oci-badcfg application/vnd.oci.image.layer.v1.tar+zstd
# same size, other bytes: only the digest tells
sed -i 's/amd64/arm64/' "oci-badcfg/blobs/sha256/$(cut -c8- oci-badcfg.config)"
# a descriptor trying to leave the layout
oci_build oci-escape application/vnd.oci.image.layer.v1.tar+zstd
sed -i 's#"digest":"sha256:[0-9a-f]*"#"digest":"sha256:../../../etc/passwd"#' oci-escape/index.json

# ---- docker-archive, legacy form -------------------------------------------------------------
rm -rf dk; mkdir -p "dk/$d1" "dk/$d2"
cp layer1.tar "dk/$d1/layer.tar"; cp layer2.tar "dk/$d2/layer.tar"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]}}' \
	"$d1" "$d2" > cfg.json
c=$(sha cfg.json); cp cfg.json "dk/$c.json"
printf '[{"Config":"%s.json","RepoTags":["mine:1"],"Layers":["%s/layer.tar","%s/layer.tar"]}]' "$c" "$d1" "$d2" \
	> dk/manifest.json
echo "sha256:$c" > docker.config
tar -C dk -cf docker.tar .
gzip -n -c docker.tar > docker.tar.gz
zstd -q -c docker.tar > docker.tar.zst

# ---- docker-archive, Docker 25+ form: blobs/sha256 plus an OCI index -------------------------
rm -rf d25; mkdir -p d25
oci_build d25 application/vnd.oci.image.layer.v1.tar+zstd
c=$(cut -c8- d25.config)
printf '[{"Config":"blobs/sha256/%s","RepoTags":["mine:25"],"Layers":["blobs/sha256/%s","blobs/sha256/%s"]}]' \
	"$c" "$(sha layer1.tar.gz)" "$(sha layer2.tar.zst)" > d25/manifest.json
tar -C d25 -cf docker25.tar .
sed -i 's/amd64/arm64/' "d25/blobs/sha256/$c"
tar -C d25 -cf docker25-badcfg.tar .

# broken docker archives
rm -rf dkbad; cp -r dk dkbad; printf '[{"Config": ' > dkbad/manifest.json; tar -C dkbad -cf docker-badjson.tar .
rm -rf dkbad; cp -r dk dkbad; printf ' ' >> "dkbad/$c.json"; tar -C dkbad -cf docker-badcfg.tar .
rm -rf dkbad; cp -r dk dkbad; rm "dkbad/$d2/layer.tar"; tar -C dkbad -cf docker-missing.tar .

# ---- plain rootfs tars -----------------------------------------------------------------------
cp layer1.tar rootfs.tar
cp layer1.tar.gz rootfs.tar.gz
zstd -q -c layer1.tar > rootfs.tar.zst

# ---- not images ------------------------------------------------------------------------------
head -c 4096 /dev/urandom > random.bin
: > empty.bin
