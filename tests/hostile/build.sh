#!/bin/bash
# tests/hostile/build.sh OUTDIR — builds the hostile-image corpus (issue 8) with real tools only:
# GNU tar, gzip, zstd, printf/dd/awk (tests/hostile/tarw.awk writes the raw tar headers GNU tar
# refuses to make) and tools/mkimage.sh to wrap layers into images.
#
# OUTDIR/manifest lists one case a line, tab-separated:
#   NAME  IMAGE (relative to OUTDIR)  STRATA-INDEX-ARGS ("-" for none)  EXPECT
# EXPECT is "error:SUBSTRING" (strata index exits 2 with one line on stderr holding SUBSTRING)
# or "mount:CHECK;CHECK…" (index succeeds, the image is mounted and each CHECK holds):
#   absent:P  present:P  type:P=f|d|l|c|p  cat:P=TEXT  link:P=TARGET  entries:N (nodes under /
#   without the reserved dot-trees)  problem:SUBSTRING (a row of the problem table, message or
#   path)  noproblem  eio:P  mountopt:OPT  rss:MB (peak RSS of strata index)
# Paths in checks are relative to the mount root. Environment: HOSTILE_BOMB_GB (default 1),
# HOSTILE_FILES (default 20000) size the two slow cases.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
export LC_ALL=C
O=${1:?usage: build.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
MK=$HERE/../../tools/mkimage.sh
BOMB_GB=${HOSTILE_BOMB_GB:-2}
NFILES=${HOSTILE_FILES:-20000}
stamp="v3 bomb=$BOMB_GB files=$NFILES $(cat "$0" "$HERE/tarw.awk" "$MK" | sha256sum | cut -c1-16)"
[ -f "$O/manifest" ] && [ "$(cat "$O/.stamp" 2>/dev/null)" = "$stamp" ] && exit 0
# One builder at a time (make check runs the plain and the sanitizer passes side by side).
mkdir -p "$(dirname "$O")"
exec 9>"$O.lock"
flock 9
[ -f "$O/manifest" ] && [ "$(cat "$O/.stamp" 2>/dev/null)" = "$stamp" ] && exit 0
rm -rf "$O" && mkdir -p "$O/layers" "$O/img"
M=$O/manifest.tmp
: >"$M"

# rawtar NAME: the spec on stdin (see tarw.awk) → layers/NAME.tar
rawtar() { awk -f "$HERE/tarw.awk" | tr '\001\002\003' '\000\000\n' >"$O/layers/$1.tar"; }
# img NAME [mkimage options] LAYER-NAMES… → img/NAME (an OCI layout unless --form says otherwise)
img() {
	local name=$1 opts=() ls=()
	shift
	while [ $# -gt 0 ]; do case "$1" in --*) opts+=("$1" "$2"); shift 2 ;; *) ls+=("$O/layers/$1.tar"); shift ;; esac; done
	bash "$MK" --form oci-dir "${opts[@]}" -o "$O/img/$name" "${ls[@]}" >/dev/null
}
# case_ NAME IMAGE ARGS EXPECT
case_() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$M"; }
# manifest_of LAYOUT / layer_blob LAYOUT N / config_of LAYOUT
manifest_of() { echo "$1/blobs/sha256/$(jq -r '.manifests[0].digest' "$1/index.json" | cut -d: -f2)"; }
layer_blob() { echo "$1/blobs/sha256/$(jq -r ".layers[$(($2 - 1))].digest" "$(manifest_of "$1")" | cut -d: -f2)"; }
# put_manifest LAYOUT FILE: stores FILE as the layout's manifest blob and points index.json at it.
put_manifest() {
	local d s
	d=$(sha256sum "$2" | cut -d' ' -f1) s=$(stat -c %s "$2")
	cp "$2" "$1/blobs/sha256/$d"
	jq -c --arg d "sha256:$d" --argjson s "$s" '.manifests[0].digest = $d | .manifests[0].size = $s' \
		"$1/index.json" >"$O/i.json" && mv "$O/i.json" "$1/index.json"
}
# put_config LAYOUT JQ-FILTER: rewrites the config blob with the filter (manifest updated).
put_config() {
	local m c d
	m=$(manifest_of "$1") c=$1/blobs/sha256/$(jq -r '.config.digest' "$(manifest_of "$1")" | cut -d: -f2)
	jq -c "$2" "$c" >"$O/c.json"
	d=$(sha256sum "$O/c.json" | cut -d' ' -f1)
	cp "$O/c.json" "$1/blobs/sha256/$d"
	jq -c --arg d "sha256:$d" --argjson s "$(stat -c %s "$O/c.json")" '.config.digest = $d | .config.size = $s' "$m" >"$O/m2.json"
	put_manifest "$1" "$O/m2.json"
	rm -f "$O/c.json" "$O/m2.json"
}
base() { printf '5\tetc/\n0\tetc/passwd\t\troot:x:0:0:image:/root:/bin/sh\\n\n0\tok\t\tfine\\n\n'; }

# ---- paths ------------------------------------------------------------------------------------
{ base; printf '0\t../etc/passwd\t\tescaped\\n\n0\ta/../../../x\t\tescaped\\n\nEND\n'; } | rawtar dotdot
img dotdot dotdot
case_ dotdot img/dotdot - 'mount:cat:etc/passwd=root:x:0:0:image:/root:/bin/sh\n;absent:x;problem:../etc/passwd;problem:a/../../../x;entries:3'
{ printf '0\t/etc/abs\t\tabsolute\\n\n0\t///abs2\t\tabs2\\n\nEND\n'; } | rawtar absolute
img absolute absolute
case_ absolute img/absolute - 'mount:cat:etc/abs=absolute\n;cat:abs2=abs2\n;type:etc=d'
{ printf '2\ta\t/etc\n0\ta/passwd\t\tthrough the link\\n\nEND\n'; } | rawtar symdir
img symdir symdir
case_ symlink-dir img/symdir - 'mount:link:a=/etc;problem:a/passwd;entries:1'
{ printf '2\ta\t/etc\nEND\n'; } | rawtar symdir-l1
{ printf '0\ta/passwd\t\tthrough the lower link\\n\nEND\n'; } | rawtar symdir-l2
img symdir-layers symdir-l1 symdir-l2
case_ symlink-dir-lower img/symdir-layers - 'mount:link:a=/etc;problem:a/passwd;entries:1'
{ base; printf '2\tloop1\tloop2\n2\tloop2\tloop1\n2\tself\tself\nEND\n'; } | rawtar symloop
img symloop symloop
case_ symlink-loop img/symloop - 'mount:link:loop1=loop2;link:self=self;type:loop2=l'
{ base; printf '1\tout\t../../etc/shadow\nEND\n'; } | rawtar hl-outside
img hl-outside hl-outside
case_ hardlink-outside img/hl-outside - 'mount:absent:out;problem:out'
{ base; printf '1\tmissing\tnot/there\nEND\n'; } | rawtar hl-missing
img hl-missing hl-missing
case_ hardlink-missing img/hl-missing - 'mount:absent:missing;problem:missing'
{ base; printf '1\tdirlink\tetc\nEND\n'; } | rawtar hl-dir
img hl-dir hl-dir
case_ hardlink-to-dir img/hl-dir - 'mount:absent:dirlink;problem:dirlink;type:etc=d'
{ base; printf '1\tme\tme\nEND\n'; } | rawtar hl-self
img hl-self hl-self
case_ hardlink-self img/hl-self - 'mount:absent:me;problem:me'
{ base; printf '1\tc1\tc2\n1\tc2\tc1\nEND\n'; } | rawtar hl-cycle
img hl-cycle hl-cycle
case_ hardlink-cycle img/hl-cycle - 'mount:absent:c1;absent:c2;problem:c1'
{ printf '0\tlower\t\tfrom layer one\\n\nEND\n'; } | rawtar hl-lower1
{ printf '1\tupper\tlower\nEND\n'; } | rawtar hl-lower2
img hl-lower hl-lower1 hl-lower2
case_ hardlink-to-lower-layer img/hl-lower - 'mount:cat:lower=from layer one\n'
{ base; printf '0\tdup\t\tfirst\\n\n0\tdup\t\tsecond\\n\n5\tdd/\n0\tdd\t\tnow a file\\n\nEND\n'; } | rawtar dup
img dup dup
case_ duplicate-paths img/dup - 'mount:cat:dup=second\n;type:dd=f'
deep=$(printf 'd/%.0s' $(seq 2045))
{ printf 'x\tpath=%s\n5\tdeep\n' "${deep%/}"; printf 'x\tpath=%sleaf\n0\tleaf\t\tbottom\\n\n' "$deep"; echo END; } | rawtar deep2045
img deep2045 deep2045
case_ deep-2045 img/deep2045 - "mount:type:${deep}leaf=f"
deep=$(printf 'd/%.0s' $(seq 10000))
{ printf 'x\tpath=%sleaf\n0\tleaf\t\tbottom\\n\n' "$deep"; base; echo END; } | rawtar deep10000
img deep10000 deep10000
case_ deep-10000 img/deep10000 - 'mount:absent:d;problem:over 4096;cat:ok=fine\n'
awk -v n="$NFILES" 'BEGIN { for (i = 0; i < n; i++) printf "0\tm/%07d\n", i; print "END" }' | rawtar many
img many --layer-compress gzip many
case_ "many-files-$NFILES" img/many - "mount:present:m/0000000;present:m/$(printf %07d $((NFILES - 1)));entries:$((NFILES + 1))"

# ---- whiteouts --------------------------------------------------------------------------------
{ base; echo END; } | rawtar wh-lower
{ printf '0\t.wh.\t\t\n0\t.wh..\t\t\n0\tetc/.wh..\t\t\n0\tetc/.wh...\t\t\nEND\n'; } | rawtar wh-root
img wh-root wh-lower wh-root
case_ whiteout-root-and-dotdot img/wh-root - 'mount:cat:ok=fine\n;cat:etc/passwd=root:x:0:0:image:/root:/bin/sh\n;problem:.wh.'
{ printf '1\t.wh.ok\tetc/passwd\n5\tetc/.wh..wh..opq/\n5\t.wh.nope/\nEND\n'; } | rawtar wh-odd
img wh-odd wh-lower wh-odd
# Whiteout and opaque names act by name whatever their type (as containerd applies them).
case_ whiteout-as-hardlink-and-dir img/wh-odd - 'mount:absent:.wh.ok;absent:ok;absent:.wh.nope;absent:etc/passwd;type:etc=d;absent:etc/.wh..wh..opq'
{ printf '1\tetc/.wh..wh..opq\tok\nEND\n'; } | rawtar opq-hl
img opq-hl wh-lower opq-hl
case_ opaque-as-hardlink img/opq-hl - 'mount:absent:etc/.wh..wh..opq;cat:ok=fine\n'

# ---- names ------------------------------------------------------------------------------------
{ base; printf 'x\tpath=nul\002hidden\n0\tnul\t\tnul name\\n\n0\tnew\003line\t\tnewline\\n\n0\tbad\377\376utf8\t\tlatin\\n\nEND\n'; } | rawtar names
img names names
case_ names-nul-newline-utf8 img/names - 'mount:cat:new\nline=newline\n;cat:bad\0377\0376utf8=latin\n;cat:ok=fine\n;present:nul'
{ base; printf '0\tsl/\t\tslash\\n\nEND\n'; } | rawtar slash
img slash slash
case_ regular-file-with-trailing-slash img/slash - 'error:layer 1'

# ---- tar framing ------------------------------------------------------------------------------
{ base; printf 'x\tsize=1099511627776\n0\thuge\t\tsmall\\n\nEND\n'; } | rawtar pax-1tb
img pax-1tb pax-1tb
case_ pax-size-1tb img/pax-1tb - 'error:layer 1'
{ base; printf '0\tbig\t\t%s\n' "$(head -c 3000 /dev/zero | tr '\0' x)"; } | rawtar trunc-full
head -c 2600 "$O/layers/trunc-full.tar" >"$O/layers/trunc.tar"
img trunc trunc
case_ truncated-tar img/trunc - 'error:layer 1'
{ base; printf 'RAW\t\t\t%s\n' "$(head -c 512 /dev/zero | tr '\0' z)"; echo END; } | rawtar badhdr
img badhdr badhdr
case_ garbage-header img/badhdr - 'error:layer 1'
{ printf 'L\t%s\n0\tshort\t\tlong gnu name\\n\nEND\n' "$(printf 'n%.0s' $(seq 3000))"; } | rawtar gnulong
img gnulong gnulong
case_ gnu-longname-over-255 img/gnulong - 'mount:entries:0;problem:255'
{ printf '3\tdisk\t8:0\t\t4095\n0\tsuid\t\t#!/bin/sh\\n\t6755\nEND\n'; } | rawtar devsuid
img devsuid devsuid
case_ device-and-suid img/devsuid - 'mount:type:disk=c;mountopt:nosuid;mountopt:nodev'

# ---- compression ------------------------------------------------------------------------------
# The bomb: a tar of one file of BOMB_GB GiB of zeros, gzip members concatenated (header member,
# BOMB_GB members of 1 GiB of zeros each, padding+end member): a few MB on disk.
# The size goes in a pax record (over 8 GiB it no longer fits the 11 octal digits of ustar).
{ printf 'x\tsize=%s\n0\tzeros\t\t\t\t0\n' $((BOMB_GB << 30)); } | rawtar bomb-hdr
head -c $((1 << 30)) /dev/zero | gzip -1 -n >"$O/zero1g.gz"
{ gzip -n -c "$O/layers/bomb-hdr.tar"; for _ in $(seq "$BOMB_GB"); do cat "$O/zero1g.gz"; done; head -c 1024 /dev/zero | gzip -n; } >"$O/bomb.tar.gz"
rm -f "$O/zero1g.gz"
bash "$MK" --form rootfs -o "$O/img/bomb.tar.gz" "$O/bomb.tar.gz" >/dev/null 2>&1 || cp "$O/bomb.tar.gz" "$O/img/bomb.tar.gz"
rm -f "$O/bomb.tar.gz"
case_ "gzip-bomb-${BOMB_GB}g" img/bomb.tar.gz - "mount:type:zeros=f;rss:200"
# zstd frame whose window descriptor claims 2^41 bytes (exponent 31, mantissa 0: 0xF8).
mkdir -p "$O/zw" && { base; echo END; } | rawtar zwin-l && bash "$MK" --form rootfs --layer-compress zstd -o "$O/img/zwin.tar.zst" "$O/layers/zwin-l.tar" >/dev/null
printf '\x28\xb5\x2f\xfd\x00\xf8\x01\x00\x00' >"$O/img/zwin-huge.tar.zst"
case_ zstd-window-2tb img/zwin-huge.tar.zst - 'error:zstd'
head -c 1000 /dev/zero | tr '\0' a >"$O/a.txt"
tar --format=ustar -C "$O" -cf "$O/layers/zw31.tar" a.txt
zstd -q --long=31 -c <"$O/layers/zw31.tar" >"$O/img/zwin31.tar.zst"
case_ zstd-window-2g-long31 img/zwin31.tar.zst - 'error:zstd'
cp "$O/layers/wh-lower.tar" "$O/layers/gz.tar"
img gzcrc --layer-compress gzip gz
b=$(layer_blob "$O/img/gzcrc" 1); s=$(stat -c %s "$b")
printf '\xde\xad\xbe\xef' | dd of="$b" bs=1 seek=$((s - 8)) conv=notrunc status=none
case_ gzip-bad-crc img/gzcrc --allow-digest-mismatch 'error:layer 1'

# ---- blobs and manifests ----------------------------------------------------------------------
img digest wh-lower
b=$(layer_blob "$O/img/digest" 1)
off=$(grep -abo 'fine' "$b" | head -1 | cut -d: -f1)
printf 'FINE' | dd of="$b" bs=1 seek="$off" conv=notrunc status=none
case_ digest-mismatch img/digest - 'error:digest'
img short wh-lower
b=$(layer_blob "$O/img/short" 1); head -c 1024 "$b" >"$O/x" && cat "$O/x" >"$b"
case_ blob-shorter-than-descriptor img/short --allow-digest-mismatch 'error:layer 1'
img escape wh-lower
jq -c '.manifests[0].digest = "sha256:../../../../etc/passwd"' "$O/img/escape/index.json" >"$O/x" && mv "$O/x" "$O/img/escape/index.json"
case_ manifest-digest-dotdot img/escape - 'error:digest'
img escape2 wh-lower
m=$(manifest_of "$O/img/escape2")
jq -c '.layers[0].digest = "sha256:../../../../../../etc/hostname"' "$m" >"$O/m.json" && put_manifest "$O/img/escape2" "$O/m.json"
case_ layer-digest-dotdot img/escape2 - 'error:digest'
img nest wh-lower
{ printf '%.0s[' $(seq 100000); } >"$O/img/nest/index.json"
case_ json-nested-100000 img/nest - 'error:index.json'
img nest2 wh-lower
m=$(manifest_of "$O/img/nest2")
{ printf '{"schemaVersion":2,"x":'; printf '%.0s{"a":' $(seq 100000); } >"$O/m.json" && put_manifest "$O/img/nest2" "$O/m.json"
case_ manifest-nested-100000 img/nest2 - 'error:invalid JSON'
img bigcfg wh-lower
m=$(manifest_of "$O/img/bigcfg")
truncate -s 1G "$O/cfg" && printf '{"architecture":"amd64","os":"linux"}' | dd of="$O/cfg" conv=notrunc status=none
d=$(sha256sum "$O/cfg" | cut -d' ' -f1)
mv "$O/cfg" "$O/img/bigcfg/blobs/sha256/$d"
jq -c --arg d "sha256:$d" '.config.digest = $d | .config.size = 1073741824' "$m" >"$O/m.json" && put_manifest "$O/img/bigcfg" "$O/m.json"
case_ config-1g img/bigcfg - 'error:config;rss:200'
img twice wh-lower
m=$(manifest_of "$O/img/twice")
put_config "$O/img/twice" '.rootfs.diff_ids = [.rootfs.diff_ids[0], .rootfs.diff_ids[0]]'
jq -c '.layers = [.layers[0], .layers[0]]' "$(manifest_of "$O/img/twice")" >"$O/m.json" && put_manifest "$O/img/twice" "$O/m.json"
case_ layer-listed-twice img/twice - 'mount:cat:ok=fine\n;present:.history/2/etc/passwd'
img zero wh-lower
m=$(manifest_of "$O/img/zero")
put_config "$O/img/zero" '.rootfs.diff_ids = [] | .history = []'
jq -c '.layers = []' "$(manifest_of "$O/img/zero")" >"$O/m.json" && put_manifest "$O/img/zero" "$O/m.json"
case_ zero-layers img/zero - 'mount:entries:0'
img negsize wh-lower
m=$(manifest_of "$O/img/negsize")
jq -c '.layers[0].size = -5' "$m" >"$O/m.json" && put_manifest "$O/img/negsize" "$O/m.json"
case_ negative-layer-size img/negsize - 'error:size'
img nomanifests wh-lower
printf '{"schemaVersion":2,"manifests":[]}' >"$O/img/nomanifests/index.json"
case_ no-manifests img/nomanifests - 'error:manifest'
bash "$MK" --form docker -o "$O/img/docker-escape.tar" "$O/layers/wh-lower.tar" >/dev/null
mkdir -p "$O/de" && tar -C "$O/de" -xf "$O/img/docker-escape.tar"
jq -c '.[0].Layers[0] = "../../../../etc/hostname"' "$O/de/manifest.json" >"$O/x" && mv "$O/x" "$O/de/manifest.json"
tar -C "$O/de" -cf "$O/img/docker-escape.tar" . && rm -rf "$O/de"
case_ docker-layer-path-dotdot img/docker-escape.tar - 'error:etc/hostname'

rm -f "$O/x" "$O/m.json" "$O/a.txt"; rm -rf "$O/zw"
mv "$M" "$O/manifest"
echo "$stamp" >"$O/.stamp"
echo "hostile corpus: $(wc -l <"$O/manifest") cases in $O"
