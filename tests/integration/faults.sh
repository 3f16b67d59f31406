#!/bin/bash
# tests/integration/faults.sh — faults (issue 8): `strata index` killed with SIGKILL at random
# points (20 runs) never leaves a half index: the next run rebuilds or reuses a complete one (same
# nodes as a clean build) and no *.tmp.* file accumulates next to the index or in the cache. A
# layer blob that becomes shorter after indexing: reads through the mount fail with EIO, the mount
# stays up and still serves the other files, the index is marked stale (the sidecar <index>.stale,
# one stderr line naming the image and the blob) and the next `strata index` rebuilds instead of
# reusing; a blob shortened with no mount in between is not reused either.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
export LC_ALL=C
MK=$REPO/tools/mkimage.sh

# A small but non-trivial image: 3 gzip layers, a few thousand files, 1 MiB spans.
for l in 1 2 3; do
	mkdir -p "$T/src$l/d$l"
	for i in $(seq 0 999); do printf 'layer %d file %d\n' "$l" "$i" >"$T/src$l/d$l/f$i"; done
	head -c $((3 << 20)) /dev/urandom >"$T/src$l/big$l"
	tar -C "$T/src$l" --owner=0 --group=0 --mtime=@0 -cf "$T/L$l.tar" .
done
bash "$MK" --form oci-dir --layer-compress gzip -o "$T/img" "$T/L1.tar" "$T/L2.tar" "$T/L3.tar" >/dev/null
"$STRATA" index -q "$T/img" --index "$T/ref.db" --span 1048576 >/dev/null 2>&1; ok $? "clean build of the reference index"
q="SELECT count(*) || ' ' || sum(ino) FROM node"
want=$("$STRATA" sql "$T/ref.db" "$q" 2>&1)

d=$T/idx
mkdir -p "$d"
bad=0 killed=0
for run in $(seq 1 20); do
	"$STRATA" index -q "$T/img" --index "$d/idx.db" --span 1048576 --force >/dev/null 2>&1 &
	pid=$!
	sleep "0.$(printf '%03d' $((RANDOM % 150)))" # a clean build takes about 0.15 s
	kill -KILL $pid 2>/dev/null
	wait $pid 2>/dev/null; [ $? = 137 ] && killed=$((killed + 1))
	rc=0
	"$STRATA" index -q "$T/img" --index "$d/idx.db" --span 1048576 >"$T/out" 2>"$T/err" || rc=$?
	got=$("$STRATA" sql "$d/idx.db" "$q" 2>&1)
	if [ "$rc" != 0 ] || [ "$got" != "$want" ]; then
		bad=$((bad + 1)); echo "run $run: exit $rc, nodes '$got' want '$want'" | diag; diag <"$T/err"
	fi
done
ok $bad "20 runs killed at random points ($killed while running): the next run gives a complete index"
stray=$(find "$d" "$XDG_CACHE_HOME" -name '*.tmp.*' 2>/dev/null | wc -l)
ok "$([ "$stray" = 0 ]; echo $?)" "no *.tmp.* files left after 20 kills ($stray)"
find "$d" "$XDG_CACHE_HOME" -name '*.tmp.*' 2>/dev/null | head -5 | diag

# A blob shorter after indexing (big3 is never read before, so no cache holds it).
if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
	skip "EIO on a shortened blob" "no FUSE"
	tap_done; exit
fi
cp -r "$T/img" "$T/img2"
"$STRATA" index -q "$T/img2" --index "$T/i2.db" --span 1048576 >/dev/null 2>&1
# In the foreground, so the serving process's stderr (the stale message) is ours to read.
mkdir -p "$T/mnt"; MOUNTS+=("$T/mnt")
"$STRATA" mount -f --index "$T/i2.db" "$T/img2" "$T/mnt" 2>"$T/fg.err" </dev/null &
for i in $(seq 1 100); do mountpoint -q "$T/mnt" && break; sleep 0.1; done
mountpoint -q "$T/mnt"; ok $? "mount the image"
diag <"$T/fg.err"
cmp -s "$T/src1/big1" "$T/mnt/big1"; ok $? "big1 reads back before the blob changes"
man=$T/img2/blobs/sha256/$(jq -r '.manifests[0].digest' "$T/img2/index.json" | cut -d: -f2)
blob=$T/img2/blobs/sha256/$(jq -r '.layers[2].digest' "$man" | cut -d: -f2)
truncate -s $(($(stat -c %s "$blob") / 3)) "$blob"
sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
cat "$T/mnt/big3" >/dev/null 2>"$T/eio"; rc=$?
ok "$([ $rc != 0 ] && grep -q 'Input/output error' "$T/eio"; echo $?)" "reading big3 from the shortened blob fails with EIO"
diag <"$T/eio"
mountpoint -q "$T/mnt"; ok $? "the mount stays up"
cmp -s "$T/src1/d1/f5" "$T/mnt/d1/f5" && cmp -s "$T/src1/big1" "$T/mnt/big1"; ok $? "files of the other layers still read"
cat "$T/mnt/big3" >/dev/null 2>&1 # a second failing read: still one message
[ -f "$T/i2.db.stale" ] && grep -qF "$blob" "$T/i2.db.stale"; ok $? "the index is marked stale (i2.db.stale names the blob)"
n=$(grep -c "changed after indexing" "$T/fg.err")
[ "$n" = 1 ] && grep "changed after indexing" "$T/fg.err" | grep -qF "$(realpath "$T/img2")" &&
	grep "changed after indexing" "$T/fg.err" | grep -qF "$blob"
ok $? "one stderr line names the image and the blob ($n lines)"
diag <"$T/fg.err"
"$STRATA" umount "$T/mnt"; ok $? "unmounted"
wait
"$STRATA" index "$T/img2" --index "$T/i2.db" --span 1048576 >"$T/out" 2>"$T/err"; rc=$?
ok "$([ $rc != 0 ] && grep -q 'big3\|layer\|blob\|truncat' "$T/err" && [ -f "$T/i2.db.stale" ]; echo $?)" \
	"the next index of the stale image rebuilds (and fails on the short blob) instead of reusing"
diag <"$T/err"
cp "$T/img/blobs/sha256/$(basename "$blob")" "$blob"
"$STRATA" index "$T/img2" --index "$T/i2.db" --span 1048576 >"$T/out" 2>&1
grep -q '(built)' "$T/out" && [ ! -e "$T/i2.db.stale" ]; ok $? "blob restored: rebuilt, the stale mark removed"
"$STRATA" index "$T/img2" --index "$T/i2.db" --span 1048576 >"$T/out" 2>&1
grep -q '(reused)' "$T/out"; ok $? "then reused"
truncate -s -100 "$blob"
"$STRATA" index "$T/img2" --index "$T/i2.db" --span 1048576 >"$T/out" 2>&1
! grep -q '(reused)' "$T/out"; ok $? "a blob shortened with no mount in between: not reused"
tap_done
