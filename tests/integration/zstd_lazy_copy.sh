#!/bin/bash
# tests/integration/zstd_lazy_copy.sh — the seekable copy of a single-frame zstd layer (made by the
# real `zstd`) is built on first random access, not by the index pass: `strata index` writes no
# copy; the first read through a mount builds it and gives the bytes `tar -x` gives (whole files
# and dd at random offsets of a big file); eight concurrent first readers in a fresh mount get the
# right bytes and leave one copy and no temporary; a truncated copy is rebuilt; a leftover
# temporary is never used (a dead build's is removed); an image file named like a copy is never
# removed; a copy damaged inside is removed (EIO once, rebuilt by the next mount);
# a blob replaced by other bytes of the same size after indexing gives EIO and one stderr line
# naming image and blob, the mount stays up. A pzstd (multi-frame) layer whose frames are within
# two spans gets no copy.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
command -v zstd >/dev/null || { echo "1..0 # SKIP no zstd"; exit 77; }
export LC_ALL=C
MK=$REPO/tools/mkimage.sh
SPAN=1048576

# Layer 1: a 24 MiB file of mixed random/text content plus small files; layer 2: text.
mkdir -p "$T/src1/d" "$T/src2/etc"
{ for i in $(seq 1 6); do head -c 2000000 /dev/urandom; seq $((i * 100000)) $((i * 100000 + 250000)); done; } >"$T/src1/big"
for i in $(seq 1 40); do printf 'small file %d\n' "$i" >"$T/src1/d/f$i"; done
seq 1 1500000 >"$T/src2/etc/numbers"
tar -C "$T/src1" --owner=0 --group=0 --mtime=@0 -cf "$T/L1.tar" .
tar -C "$T/src2" --owner=0 --group=0 --mtime=@0 -cf "$T/L2.tar" .
bash "$MK" --form oci-dir --layer-compress zstd -o "$T/img" "$T/L1.tar" "$T/L2.tar" >/dev/null 2>&1
bash "$MK" --form oci-dir --layer-compress zstd-multi -o "$T/imgm" "$T/L1.tar" "$T/L2.tar" >/dev/null 2>&1
mkdir -p "$T/ref" && tar -C "$T/ref" -xf "$T/L1.tar" && tar -C "$T/ref" -xf "$T/L2.tar"

copies() { find "$XDG_CACHE_HOME" -path '*/seekable/*' -type f ! -name '*.tmp.*' 2>/dev/null | sort; }
temps() { find "$XDG_CACHE_HOME" -name '*.tmp.*' 2>/dev/null | wc -l; }

"$STRATA" index -q "$T/img" --index "$T/i.db" --span $SPAN >/dev/null 2>"$T/err"; ok $? "index of a single-frame zstd image"
ok "$([ -z "$(copies)" ]; echo $?)" "the index pass writes no seekable copy"
n=$("$STRATA" sql "$T/i.db" "SELECT count(*) FROM source WHERE kind = 'decomp' AND path LIKE '%/seekable/%.zst'" 2>/dev/null)
ok "$([ "$n" = 2 ]; echo $?)" "both layers record where their copy will go ($n)"
"$STRATA" index -q "$T/imgm" --index "$T/im.db" --span $((8 * SPAN)) >/dev/null 2>&1
"$STRATA" cat --index "$T/im.db" "$T/imgm" /big | cmp -s - "$T/src1/big"; ok $? "multi-frame zstd layer reads right"
ok "$([ -z "$(copies)" ]; echo $?)" "a multi-frame (pzstd) layer whose frames are within two spans gets no copy"

# `strata cat` is a reader too: random offsets of the big file, then the copy exists.
bad=0
for off in 0 1 4095 1048575 1048576 7340033 $((24000000 - 5000)); do
	"$STRATA" cat --index "$T/i.db" --offset $off --length 70000 "$T/img" /big 2>/dev/null >"$T/part"
	cmp -s "$T/part" <(tail -c +$((off + 1)) "$T/src1/big" | head -c 70000) || { bad=1; echo "# offset $off differs"; }
done
ok $bad "strata cat at random offsets of the big file gives tar -x's bytes"
ok "$([ "$(copies | wc -l)" = 1 ] && [ "$(temps)" = 0 ]; echo $?)" "after reading layer 1: one copy, no temporary"
zstd -dc "$(copies)" | cmp -s - "$T/L1.tar"; ok $? "the copy is an ordinary zstd file of the layer (zstd -dc)"

# A rootfs tar.zst (no digest to name the copy by) rewritten in place with other bytes of the same
# sizes: the copy is named by the blob's sha256, so the new index never reads the old copy.
mkdir -p "$T/rf"
for v in a b; do
	tr '\0' "$v" </dev/zero | head -c 12000000 >"$T/rf/file"
	tar -C "$T/rf" --owner=0 --group=0 --mtime=@0 -cf - file | zstd -q -c >"$T/rootfs.tar.zst"
	"$STRATA" index -q "$T/rootfs.tar.zst" --span $SPAN >/dev/null 2>&1
	"$STRATA" cat "$T/rootfs.tar.zst" /file 2>/dev/null | cmp -s - "$T/rf/file"; r=$?
	[ "$v" = a ] && ra=$r
done
ok "$([ "$ra" = 0 ] && [ "$r" = 0 ]; echo $?)" "a rootfs tar.zst rewritten with other bytes reads its new content"

# An image file that merely looks like a copy (…/seekable/<name>.zst) and is damaged after indexing
# is the image's problem: the index is marked stale and the file is never removed.
mkdir -p "$T/rt/seekable"
seq 1 3000000 >"$T/rf/nums"
tar -C "$T/rf" --owner=0 --group=0 --mtime=@0 -cf - nums | zstd -q -c >"$T/rt/seekable/root.tar.zst"
"$STRATA" index -q "$T/rt/seekable/root.tar.zst" --index "$T/rt/idx.db" --span $SPAN >/dev/null 2>&1
half=$(($(stat -c %s "$T/rt/seekable/root.tar.zst") / 2))
printf 'XXXXXXXX' | dd of="$T/rt/seekable/root.tar.zst" bs=1 seek=$half conv=notrunc 2>/dev/null
"$STRATA" cat "$T/rt/idx.db" /nums >/dev/null 2>"$T/rt/err"; r=$?
ok "$([ $r != 0 ] && [ -f "$T/rt/seekable/root.tar.zst" ] && [ -f "$T/rt/idx.db.stale" ]; echo $?)" \
	"a damaged image file named like a copy: read fails, the index is marked stale, the file stays"

if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
	skip "mount tests" "no FUSE"
	tap_done; exit
fi

# A fresh cache: 8 concurrent first readers through a mount.
export XDG_CACHE_HOME=$T/cache2
"$STRATA" index -q "$T/img" --index "$T/i2.db" --span $SPAN >/dev/null 2>&1
smount "$T/img" "$T/mnt" --index "$T/i2.db" 2>"$T/m.err"; ok $? "mount the image"
ok "$([ -z "$(copies)" ]; echo $?)" "mounting writes no copy"
pids=()
for i in 1 2 3 4; do cat "$T/mnt/big" >"$T/r$i" & pids+=($!); done
for i in 5 6; do cat "$T/mnt/etc/numbers" >"$T/r$i" & pids+=($!); done
cat "$T/mnt/d/f7" >"$T/r7" & pids+=($!)
dd if="$T/mnt/big" of="$T/r8" bs=65536 skip=200 count=20 status=none & pids+=($!)
wait "${pids[@]}"
bad=0
for i in 1 2 3 4; do cmp -s "$T/r$i" "$T/src1/big" || bad=1; done
for i in 5 6; do cmp -s "$T/r$i" "$T/src2/etc/numbers" || bad=1; done
cmp -s "$T/r7" "$T/src1/d/f7" || bad=1
cmp -s "$T/r8" <(dd if="$T/src1/big" bs=65536 skip=200 count=20 status=none) || bad=1
ok $bad "8 concurrent first readers read tar -x's bytes"
ok "$([ "$(copies | wc -l)" = 2 ] && [ "$(temps)" = 0 ]; echo $?)" "one copy per layer, no temporary ($(copies | wc -l) copies)"
bad=0
for i in $(seq 1 30); do
	off=$(( (RANDOM * 32768 + RANDOM) % 24000000 ))
	cmp -s <(dd if="$T/mnt/big" bs=1 skip=$off count=3000 iflag=skip_bytes,count_bytes status=none) \
		<(tail -c +$((off + 1)) "$T/src1/big" | head -c 3000) || { bad=1; echo "# offset $off differs"; }
done
ok $bad "dd at 30 random offsets of the big file through the mount"
file_hashes "$T/mnt" | awk '$2 !~ /^\./' >"$T/got.sums"
file_hashes "$T/ref" >"$T/want.sums"
same_output "every file through the mount equals tar -x" "$T/want.sums" "$T/got.sums"
sumount "$T/mnt"; ok $? "umount"

# A truncated copy (a crash, a full disk) is not trusted: the next mount rebuilds it.
c1=$(copies | head -1)
size=$(stat -c %s "$c1")
truncate -s $((size / 2)) "$c1"
smount "$T/img" "$T/mnt" --index "$T/i2.db" 2>"$T/m.err"
cmp -s "$T/mnt/big" "$T/src1/big" && cmp -s "$T/mnt/etc/numbers" "$T/src2/etc/numbers"; ok $? "reads are right with a truncated copy in the cache"
ok "$([ "$(stat -c %s "$c1")" = "$size" ]; echo $?)" "the truncated copy was rebuilt ($(stat -c %s "$c1") of $size bytes)"
sumount "$T/mnt"

# A leftover temporary of a dead build (a complete copy of the other layer, named as a build of
# this one would be) is never used.
for c in $(copies); do rm -f "$c"; done
smount "$T/img" "$T/mnt" --index "$T/i2.db" 2>"$T/m.err"
cat "$T/mnt/etc/numbers" >/dev/null
c2=$(copies | head -1)
man=$T/img/blobs/sha256/$(jq -r '.manifests[0].digest' "$T/img/index.json" | cut -d: -f2)
want1=$XDG_CACHE_HOME/strata/seekable/$(jq -r '.layers[0].digest' "$man" | cut -d: -f2).zst
cp "$c2" "$want1.tmp.1.1.built"
cp "$c2" "$want1.tmp.999999.1"
cmp -s "$T/mnt/big" "$T/src1/big"; ok $? "with leftover temporaries beside it, the copy is built and reads right"
ok "$([ -f "$want1" ] && zstd -dc "$want1" | cmp -s - "$T/L1.tar"; echo $?)" "the copy built is the layer's, not the leftover"
ok "$([ ! -e "$want1.tmp.999999.1" ] && [ -e "$want1.tmp.1.1.built" ]; echo $?)" \
	"the build removed the temporary of a dead process and kept the live one's"
rm -f "$want1.tmp.1.1.built"
sumount "$T/mnt"
rm -f "$want1".tmp.*

# A copy damaged inside (its seek table intact, a frame's bytes not): EIO, one line saying so, the
# copy removed (the index is not stale: the blob is fine); the next mount rebuilds it.
csize=$(stat -c %s "$want1")
dd if=/dev/urandom of="$want1" bs=65536 seek=$((csize / 2 / 65536)) count=1 conv=notrunc status=none
mkdir -p "$T/mnt4"; MOUNTS+=("$T/mnt4")
"$STRATA" mount -f --index "$T/i2.db" "$T/img" "$T/mnt4" 2>"$T/fg4.err" </dev/null &
for i in $(seq 1 100); do mountpoint -q "$T/mnt4" && break; sleep 0.1; done
cat "$T/mnt4/big" >/dev/null 2>"$T/eio4"; rc=$?
ok "$([ $rc != 0 ] && grep -q 'Input/output error' "$T/eio4"; echo $?)" "a copy damaged inside: EIO"
n=$(grep -c "seekable copy .* is damaged" "$T/fg4.err")
ok "$([ "$n" = 1 ] && [ ! -f "$want1" ] && [ ! -f "$T/i2.db.stale" ]; echo $?)" \
	"one stderr line ($n), the damaged copy removed, the index not marked stale"
grep "damaged" "$T/fg4.err" | diag
sumount "$T/mnt4" || fusermount3 -u "$T/mnt4"
smount "$T/img" "$T/mnt" --index "$T/i2.db" 2>"$T/m.err"
cmp -s "$T/mnt/big" "$T/src1/big" && zstd -dc "$want1" | cmp -s - "$T/L1.tar"; ok $? "the next mount rebuilds the copy and reads right"
sumount "$T/mnt"

# A blob replaced by other bytes of the same size after indexing: EIO, one stderr line.
export XDG_CACHE_HOME=$T/cache3
cp -r "$T/img" "$T/img3"
"$STRATA" index -q "$T/img3" --index "$T/i3.db" --span $SPAN >/dev/null 2>&1
man=$T/img3/blobs/sha256/$(jq -r '.manifests[0].digest' "$T/img3/index.json" | cut -d: -f2)
blob=$T/img3/blobs/sha256/$(jq -r '.layers[0].digest' "$man" | cut -d: -f2)
size=$(stat -c %s "$blob")
dd if=/dev/urandom of="$blob" bs=4096 seek=$((size / 8192)) count=4 conv=notrunc status=none
ok "$([ "$(stat -c %s "$blob")" = "$size" ]; echo $?)" "the blob has other bytes, same size"
mkdir -p "$T/mnt3"; MOUNTS+=("$T/mnt3")
"$STRATA" mount -f --index "$T/i3.db" "$T/img3" "$T/mnt3" 2>"$T/fg.err" </dev/null &
for i in $(seq 1 100); do mountpoint -q "$T/mnt3" && break; sleep 0.1; done
mountpoint -q "$T/mnt3"; ok $? "mount the image with the changed blob"
cat "$T/mnt3/big" >/dev/null 2>"$T/eio"; rc=$?
ok "$([ $rc != 0 ] && grep -q 'Input/output error' "$T/eio"; echo $?)" "reading a file of the changed layer fails with EIO"
cat "$T/mnt3/d/f3" >/dev/null 2>&1 # a second failing read: still one message
mountpoint -q "$T/mnt3"; ok $? "the mount stays up"
cmp -s "$T/mnt3/etc/numbers" "$T/src2/etc/numbers"; ok $? "the other layer still reads"
n=$(grep -c "changed after indexing" "$T/fg.err")
[ "$n" = 1 ] && grep "changed after indexing" "$T/fg.err" | grep -qF "$(realpath "$T/img3")" &&
	grep "changed after indexing" "$T/fg.err" | grep -qF "$blob"
ok $? "one stderr line names the image and the blob ($n)"
grep "changed after indexing" "$T/fg.err" | diag
ok "$([ -z "$(copies | grep -F "$(basename "$blob")")" ] && [ "$(temps)" = 0 ]; echo $?)" "no copy and no temporary for the changed blob"
ok "$([ -f "$T/i3.db.stale" ]; echo $?)" "the index is marked stale"
sumount "$T/mnt3" || fusermount3 -u "$T/mnt3"
tap_done
