#!/bin/bash
# tests/integration/mount_log.sh — the log of a daemonised mount (-o log=PATH): a layer blob made
# shorter after indexing, then a file of that layer read twice with cat: both reads fail with EIO,
# the log names the file's read error once (not once per READ the kernel sends), and the index's
# "blob changed after indexing" message, which the modules below fs/ write to stderr, reaches the
# log too (a daemon's stderr is /dev/null).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
export LC_ALL=C

for l in 1 2; do
	mkdir -p "$T/src$l"
	printf 'layer %d\n' "$l" >"$T/src$l/small$l"
	head -c $((3 << 20)) /dev/urandom >"$T/src$l/big$l"
	tar -C "$T/src$l" --owner=0 --group=0 --mtime=@0 -cf "$T/L$l.tar" .
done
bash "$REPO/tools/mkimage.sh" --form oci-dir --layer-compress gzip -o "$T/img" "$T/L1.tar" "$T/L2.tar" >"$T/mk.log" 2>&1
ok $? "image of 2 gzip layers"; diag <"$T/mk.log"
"$STRATA" index -q "$T/img" --index "$T/idx.db" --span 1048576 >/dev/null 2>"$T/err"; ok $? "index"; diag <"$T/err"

mnt=$T/mnt
smount "$T/img" "$mnt" --index "$T/idx.db" -o "log=$T/mount.log" 2>"$T/err" </dev/null; ok $? "mount -o log=PATH"
diag <"$T/err"
man=$T/img/blobs/sha256/$(jq -r '.manifests[0].digest' "$T/img/index.json" | cut -d: -f2)
blob=$T/img/blobs/sha256/$(jq -r '.layers[1].digest' "$man" | cut -d: -f2)
truncate -s $(($(stat -c %s "$blob") / 3)) "$blob"
cat "$mnt/big2" >/dev/null 2>"$T/eio1"; r1=$?
cat "$mnt/big2" >/dev/null 2>"$T/eio2"; r2=$?
ok "$([ $r1 != 0 ] && [ $r2 != 0 ] && grep -q 'Input/output error' "$T/eio1"; echo $?)" \
	"reading big2 from the shortened blob fails with EIO, twice"
cmp -s "$T/src1/big1" "$mnt/big1"; ok $? "big1 (the other layer) still reads"
sumount "$mnt"; ok $? "umount"
diag <"$T/mount.log"
n=$(grep -c '/big2: read: ' "$T/mount.log")
[ "$n" = 1 ]; ok $? "the log names big2's read error once ($n lines)"
m=$(grep -c 'changed after indexing' "$T/mount.log")
[ "$m" = 1 ] && grep 'changed after indexing' "$T/mount.log" | grep -qF "$(basename "$blob")"
ok $? "the 'blob changed after indexing' message reaches the log, once, naming the blob ($m lines)"
[ "$(sort "$T/mount.log" | uniq -d | wc -l)" = 0 ]; ok $? "no line of the log is repeated"
tap_done
