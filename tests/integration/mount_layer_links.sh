#!/bin/bash
# tests/integration/mount_layer_links.sh — /.layers/N shows every entry of layer N's tar, hard
# links whose target is a file of a lower layer included: such a link is a file backed by what its
# target shows after layers 1..N, as `tar -x` of layers 1..N onto one tree gives for that path;
# links of the layer to the same lower file (or to such a link) share one inode. The layers are
# written with python's tarfile (GNU tar cannot archive a link to a file it does not archive).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
command -v python3 >/dev/null || { echo "1..0 # SKIP no python3"; exit 77; }
export LC_ALL=C

python3 - "$T" <<'PY' || { echo "Bail out! python tarfile"; exit 1; }
import io, sys, tarfile
d = sys.argv[1]
def layer(name, items):
    with tarfile.open(f"{d}/{name}", "w", format=tarfile.PAX_FORMAT) as t:
        for path, kind, arg, mode in items:
            ti = tarfile.TarInfo(path)
            ti.mtime, ti.mode, ti.uid, ti.gid = 1700000000, mode, 1000, 1000
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            elif kind == "link":
                ti.type, ti.linkname = tarfile.LNKTYPE, arg
                t.addfile(ti)
            else:
                ti.size = len(arg)
                t.addfile(ti, io.BytesIO(arg))
layer("L1.tar", [("a", "file", b"a from layer 1\n", 0o640), ("dir", "dir", None, 0o755),
                 ("dir/x", "file", b"x from layer 1\n", 0o600), ("lone", "file", b"lone\n", 0o644)])
layer("L2.tar", [("b", "link", "a", 0), ("dir", "dir", None, 0o750), ("dir/y", "link", "dir/x", 0),
                 ("c", "file", b"c from layer 2\n", 0o644), ("c2", "link", "c", 0),
                 ("b2", "link", "b", 0), ("e", "link", "a", 0)])
layer("L3.tar", [("a", "file", b"a rewritten in layer 3\n", 0o644), ("f", "link", "dir/x", 0),
                 ("g", "link", "b", 0)])
PY
bash "$REPO/tools/mkimage.sh" --form docker -o "$T/img.tar" "$T/L1.tar" "$T/L2.tar" "$T/L3.tar" 2>"$T/err"
ok $? "image of 3 layers with hard links to lower layers"; diag <"$T/err"

mnt=$T/mnt
smount "$T/img.tar" "$mnt" --index "$T/idx.db" 2>"$T/err" </dev/null; ok $? "mount"; diag <"$T/err"
for n in 1 2 3; do
	mkdir -p "$T/x$n"
	for k in $(seq 1 $n); do tar -C "$T/x$n" -xf "$T/L$k.tar"; done
	tar --quoting-style=literal -tf "$T/L$n.tar" | sed 's|/$||' | sort -u >"$T/want"
	(cd "$mnt/.layers/$n" && find . -mindepth 1 -printf '%P\n') | sort >"$T/got"
	same_output "/.layers/$n lists layer $n's tar (tar -t)" "$T/want" "$T/got"
	(cd "$T/x$n" && while read -r p; do [ -f "$p" ] && stat -c '%n %s %a %u %g' "$p" && sha256sum <"$p"; done <"$T/want") >"$T/want.st"
	(cd "$mnt/.layers/$n" && while read -r p; do [ -f "$p" ] && stat -c '%n %s %a %u %g' "$p" && sha256sum <"$p"; done <"$T/want") >"$T/got.st"
	same_output "/.layers/$n: files and hard links have the size, mode, owner and content tar -x of layers 1..$n gives" \
		"$T/want.st" "$T/got.st"
done
ino() { stat -c %i "$mnt/.layers/$1"; }
[ "$(ino 2/b)" = "$(ino 2/e)" ] && [ "$(ino 2/b)" = "$(ino 2/b2)" ] && [ "$(ino 2/c)" = "$(ino 2/c2)" ] &&
	[ "$(ino 2/b)" != "$(ino 2/c)" ] && [ "$(stat -c %h "$mnt/.layers/2/b")" = 3 ]
ok $? "/.layers/2: links to the same lower file share an inode (b, b2, e: 3 links), apart from c/c2"
[ "$(cat "$mnt/.layers/3/g")" = "a from layer 1" ] && [ "$(cat "$mnt/a")" = "a rewritten in layer 3" ]
ok $? "/.layers/3/g (link to b) keeps layer 1's a after a is rewritten, as in the image"
[ "$("$STRATA" sql "$T/idx.db" 'SELECT count(*) FROM problem' 2>&1)" = 0 ]
ok $? "no merge problem recorded"
sumount "$mnt"; ok $? "umount"
tap_done
