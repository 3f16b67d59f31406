#!/bin/bash
# tools/mkimage.sh — assembles a container image from layer tarballs with real tools only
# (tar, gzip, zstd, pzstd, sha256sum, printf for JSON). Used by the test fixtures and benchmarks.
#
#   tools/mkimage.sh --form docker|docker-blobs|oci-dir|oci-tar|rootfs
#                    [--layer-compress none|gzip|zstd|zstd-multi] [--outer none|gzip|zstd]
#                    [--tag NAME:TAG] [--arch ARCH[/VARIANT]] [--created-by TEXT]...
#                    [--append] -o OUT LAYER.tar...
#
# Forms:
#   docker        legacy `docker save`: <id>/layer.tar, <id>/json, <id>/VERSION, <hex>.json
#                 config, manifest.json (Config/RepoTags/Layers), repositories.
#   docker-blobs  Docker 25+ `docker save`: an OCI layout (blobs/sha256, index.json, oci-layout)
#                 plus a manifest.json whose paths point into blobs/.
#   oci-dir       an OCI image layout directory (OUT is a directory). With --append an existing
#                 layout at OUT gets this image added to its index.json (multi-arch layouts).
#   oci-tar       a tar of an OCI image layout.
#   rootfs        the single layer tar itself (one LAYER only), compressed by --layer-compress
#                 (or --outer; not both).
# The config has architecture/os/rootfs.diff_ids (sha256 of each uncompressed layer)/history, one
# history entry per layer (created_by from the --created-by options in order, else a default).
# Layer compression: gzip -n; zstd (one frame); zstd-multi (pzstd -p 2: several frames plus
# pzstd's skippable frames; a layer too small for pzstd to split is cut into 4 pieces compressed
# as separate frames, so every zstd-multi layer has at least 2 frames). --outer compresses the
# whole archive file. Output is deterministic: fixed mtimes, owners and order.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail

die() { echo "mkimage: $*" >&2; exit 2; }
usage() { sed -n '4,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

form="" lcomp=none outer=none tag="" arch=amd64 out="" append=0
created_by=() layers=()
while [ $# -gt 0 ]; do
	case "$1" in
	--form) form=${2:?}; shift 2 ;;
	--layer-compress) lcomp=${2:?}; shift 2 ;;
	--outer) outer=${2:?}; shift 2 ;;
	--tag) tag=${2:?}; shift 2 ;;
	--arch) arch=${2:?}; shift 2 ;;
	--created-by) created_by+=("${2?}"); shift 2 ;;
	--append) append=1; shift ;;
	-o) out=${2:?}; shift 2 ;;
	-h|--help) usage ;;
	--) shift; layers+=("$@"); break ;;
	-*) die "unknown option $1" ;;
	*) layers+=("$1"); shift ;;
	esac
done
case "$form" in docker|docker-blobs|oci-dir|oci-tar|rootfs) ;; *) usage ;; esac
case "$lcomp" in none|gzip|zstd|zstd-multi) ;; *) die "bad --layer-compress $lcomp" ;; esac
case "$outer" in none|gzip|zstd) ;; *) die "bad --outer $outer" ;; esac
[ -n "$out" ] || die "-o OUT is required"
[ "$form" = oci-dir ] && [ "$outer" != none ] && die "--outer makes no sense for an oci-dir"
[ "$append" = 1 ] && [ "$form" != oci-dir ] && die "--append is for oci-dir only"
[ "$form" = rootfs ] && [ ${#layers[@]} -ne 1 ] && die "rootfs takes exactly one layer"
for l in "${layers[@]}"; do [ -f "$l" ] || die "$l: not a file"; done
[ -n "$tag" ] || tag="strata/test:latest"
case "$tag" in *:*) ;; *) tag="$tag:latest" ;; esac
name=${tag%:*} tagonly=${tag##*:}
variant=""
case "$arch" in */*) variant=${arch#*/}; arch=${arch%%/*} ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkimage.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

sha() { sha256sum "$1" | cut -d' ' -f1; }
fsize() { stat -c %s "$1"; }
linkcp() { ln -f "$1" "$2" 2>/dev/null || cp "$1" "$2"; }
jstr() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g'; }

# compress_file METHOD IN OUT
compress_file() {
	case "$1" in
	# A private copy, never a hard link to the caller's file: parallel builds linking the same
	# input change its ctime while tar reads it ("file changed as we read it").
	none) cp --reflink=auto "$2" "$3" ;;
	gzip) gzip -n -6 -c "$2" >"$3" ;;
	zstd) zstd -q -3 --single-thread -c "$2" >"$3" ;;
	zstd-multi)
		pzstd -q -p 2 -3 -c "$2" >"$3"
		if [ "$(zstd_frames "$3")" -lt 2 ]; then
			local sz piece d
			sz=$(fsize "$2")
			piece=$(((sz + 3) / 4))
			[ "$piece" -ge 1 ] || piece=1
			d=$(mktemp -d "$tmp/split.XXXXXX")
			split -b "$piece" -a 3 -d "$2" "$d/p."
			: >"$3"
			for p in "$d"/p.*; do zstd -q -3 --single-thread -c "$p" >>"$3"; done
			rm -rf "$d"
			[ "$sz" -lt 2 ] || [ "$(zstd_frames "$3")" -ge 2 ] || die "zstd-multi: could not make several frames"
		fi ;;
	esac
}
zstd_frames() { zstd -lv "$1" 2>/dev/null | sed -n 's/^# Zstandard Frames: *//p' | head -1; }

media_layer() {
	case "$1" in
	none) echo application/vnd.oci.image.layer.v1.tar ;;
	gzip) echo application/vnd.oci.image.layer.v1.tar+gzip ;;
	zstd|zstd-multi) echo application/vnd.oci.image.layer.v1.tar+zstd ;;
	esac
}

# Deterministic tar of the contents of directory $1 into file $2 (names without ./).
tar_dir() {
	(cd "$1" && find . -mindepth 1 -print0 | sed -z 's,^\./,,' | LC_ALL=C sort -z) >"$tmp/list"
	tar --format=pax --pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime' \
		--mtime=@0 --owner=0 --group=0 --numeric-owner --no-recursion --null \
		-C "$1" -T "$tmp/list" -cf "$2"
}

# apply_outer FILE DEST
apply_outer() {
	case "$outer" in
	none) mv "$1" "$2" ;;
	gzip) gzip -n -6 -c "$1" >"$2"; rm -f "$1" ;;
	zstd) zstd -q -3 --single-thread -c "$1" >"$2"; rm -f "$1" ;;
	esac
}

# Writes the output through a temporary next to it, renamed into place when complete.
finish_file() {
	local t="$out.tmp.$$"
	apply_outer "$1" "$t"
	mv -f "$t" "$out"
}

if [ "$form" = rootfs ]; then
	[ "$lcomp" != none ] && [ "$outer" != none ] && die "rootfs: give --layer-compress or --outer, not both"
	[ "$outer" = none ] && outer=$lcomp
	[ "$outer" = zstd-multi ] && { compress_file zstd-multi "${layers[0]}" "$tmp/r"; mv -f "$tmp/r" "$out"; exit 0; }
	cp "${layers[0]}" "$tmp/r"
	finish_file "$tmp/r"
	exit 0
fi

# ---- layers: diff_ids, blobs -------------------------------------------------------------
n=${#layers[@]}
diff_ids=() blob_digests=() blob_sizes=() blob_files=()
mkdir -p "$tmp/blobs"
for i in "${!layers[@]}"; do
	diff_ids[i]=$(sha "${layers[i]}")
	compress_file "$lcomp" "${layers[i]}" "$tmp/blobs/layer$i"
	blob_digests[i]=$(sha "$tmp/blobs/layer$i")
	blob_sizes[i]=$(fsize "$tmp/blobs/layer$i")
	blob_files[i]="$tmp/blobs/layer$i"
done

# ---- config -------------------------------------------------------------------------------
{
	printf '{"architecture":"%s",' "$(jstr "$arch")"
	[ -n "$variant" ] && printf '"variant":"%s",' "$(jstr "$variant")"
	printf '"os":"linux","created":"1970-01-01T00:00:00Z",'
	printf '"config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"]},'
	printf '"rootfs":{"type":"layers","diff_ids":['
	for i in "${!diff_ids[@]}"; do
		[ "$i" = 0 ] || printf ','
		printf '"sha256:%s"' "${diff_ids[i]}"
	done
	printf ']},"history":['
	for ((i = 0; i < n; i++)); do
		[ "$i" = 0 ] || printf ','
		cb="${created_by[i]:-mkimage: layer $((i + 1)) from $(basename "${layers[i]}")}"
		printf '{"created":"1970-01-01T00:00:00Z","created_by":"%s"}' "$(jstr "$cb")"
	done
	printf ']}'
} >"$tmp/config.json"
config_digest=$(sha "$tmp/config.json")
config_size=$(fsize "$tmp/config.json")

# ---- OCI manifest and layout --------------------------------------------------------------
{
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
	printf '"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},' \
		"$config_digest" "$config_size"
	printf '"layers":['
	for i in "${!blob_digests[@]}"; do
		[ "$i" = 0 ] || printf ','
		printf '{"mediaType":"%s","digest":"sha256:%s","size":%s}' "$(media_layer "$lcomp")" \
			"${blob_digests[i]}" "${blob_sizes[i]}"
	done
	printf ']}'
} >"$tmp/manifest.json"
manifest_digest=$(sha "$tmp/manifest.json")
manifest_size=$(fsize "$tmp/manifest.json")

# manifest_descriptor WITH_PLATFORM
manifest_descriptor() {
	printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,' \
		"$manifest_digest" "$manifest_size"
	if [ "$1" = 1 ]; then
		printf '"platform":{"architecture":"%s","os":"linux"' "$(jstr "$arch")"
		[ -n "$variant" ] && printf ',"variant":"%s"' "$(jstr "$variant")"
		printf '},'
	fi
	printf '"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}' \
		"$(jstr "$name:$tagonly")" "$(jstr "$tagonly")"
}

# write_layout DIR WITH_PLATFORM: blobs, oci-layout, index.json (appending when asked).
write_layout() {
	local d=$1 old=""
	mkdir -p "$d/blobs/sha256"
	# Hard links only inside our staging area: an oci-dir output gets its own copies.
	for i in "${!blob_files[@]}"; do
		if [ "$d" = "$tmp/stage" ]; then linkcp "${blob_files[i]}" "$d/blobs/sha256/${blob_digests[i]}"
		else cp "${blob_files[i]}" "$d/blobs/sha256/${blob_digests[i]}"; fi
	done
	cp "$tmp/config.json" "$d/blobs/sha256/$config_digest"
	cp "$tmp/manifest.json" "$d/blobs/sha256/$manifest_digest"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
	if [ "$append" = 1 ] && [ -f "$d/index.json" ]; then
		# The existing manifests array, without its brackets (index.json is written by us).
		old=$(sed -n 's/.*"manifests":\[\(.*\)\]}$/\1/p' "$d/index.json")
		[ -n "$old" ] || die "$d/index.json: not an index written by mkimage"
		old="$old,"
	fi
	{
		printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s' "$old"
		manifest_descriptor "$2"
		printf ']}'
	} >"$d/index.json.tmp"
	mv -f "$d/index.json.tmp" "$d/index.json"
}

case "$form" in
oci-dir)
	if [ "$append" = 0 ]; then
		[ -e "$out" ] && { [ -d "$out" ] || die "$out exists and is not a directory"; rm -rf "$out"; }
	fi
	mkdir -p "$out"
	write_layout "$out" 1
	;;
oci-tar)
	mkdir -p "$tmp/stage"
	write_layout "$tmp/stage" 1
	tar_dir "$tmp/stage" "$tmp/out.tar"
	finish_file "$tmp/out.tar"
	;;
docker-blobs)
	mkdir -p "$tmp/stage"
	write_layout "$tmp/stage" 0
	{
		printf '[{"Config":"blobs/sha256/%s","RepoTags":["%s"],"Layers":[' "$config_digest" "$(jstr "$tag")"
		for i in "${!blob_digests[@]}"; do
			[ "$i" = 0 ] || printf ','
			printf '"blobs/sha256/%s"' "${blob_digests[i]}"
		done
		printf ']}]'
	} >"$tmp/stage/manifest.json"
	printf '{"%s":{"%s":"%s"}}' "$(jstr "$name")" "$(jstr "$tagonly")" "${blob_digests[n - 1]:-$config_digest}" \
		>"$tmp/stage/repositories"
	tar_dir "$tmp/stage" "$tmp/out.tar"
	finish_file "$tmp/out.tar"
	;;
docker)
	mkdir -p "$tmp/stage"
	parent="" ids=()
	case "$lcomp" in none) lname=layer.tar ;; gzip) lname=layer.tar.gz ;; *) lname=layer.tar.zst ;; esac
	for i in "${!blob_files[@]}"; do
		id=$(printf '%s\n%s\n' "$parent" "${diff_ids[i]}" | sha256sum | cut -d' ' -f1)
		ids[i]=$id
		mkdir -p "$tmp/stage/$id"
		linkcp "${blob_files[i]}" "$tmp/stage/$id/$lname"
		printf '1.0' >"$tmp/stage/$id/VERSION"
		{
			printf '{"id":"%s",' "$id"
			[ -n "$parent" ] && printf '"parent":"%s",' "$parent"
			printf '"created":"1970-01-01T00:00:00Z","container_config":{"Cmd":null},"os":"linux","architecture":"%s"}' \
				"$(jstr "$arch")"
		} >"$tmp/stage/$id/json"
		parent=$id
	done
	cp "$tmp/config.json" "$tmp/stage/$config_digest.json"
	{
		printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":[' "$config_digest" "$(jstr "$tag")"
		for i in "${!ids[@]}"; do
			[ "$i" = 0 ] || printf ','
			printf '"%s/%s"' "${ids[i]}" "$lname"
		done
		printf ']}]'
	} >"$tmp/stage/manifest.json"
	if [ "$n" -gt 0 ]; then
		printf '{"%s":{"%s":"%s"}}' "$(jstr "$name")" "$(jstr "$tagonly")" "${ids[n - 1]}" >"$tmp/stage/repositories"
	fi
	tar_dir "$tmp/stage" "$tmp/out.tar"
	finish_file "$tmp/out.tar"
	;;
esac
