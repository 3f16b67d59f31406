#!/bin/bash
# tests/integration/mount_views.sh — the reserved trees of a mount of the 4-layer OCI fixture:
# /.history/N equals umoci's unpack of the first N layers, /.layers/N lists layer N's tar as
# `tar -t` does (whiteouts included), /.audit/image.json and index.db, the user.strata.* xattrs,
# hide_meta and meta=NAME.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
need_fixtures
export LC_ALL=C

img=$FIX/images/oci-gzip mnt=$T/mnt
smount "$img" "$mnt" --index "$T/idx.db" 2>"$T/err" </dev/null; ok $? "mount the 4-layer oci-gzip image"
diag <"$T/err"
ls -A "$mnt" >"$T/root"
grep -qx .audit "$T/root" && grep -qx .layers "$T/root" && grep -qx .history "$T/root"
ok $? "readdir / shows .audit, .layers, .history"
[ "$(ls "$mnt/.history" | tr '\n' ' ')" = "1 2 3 4 " ] && [ "$(ls "$mnt/.layers" | tr '\n' ' ')" = "1 2 3 4 " ]
ok $? "/.history and /.layers hold 1..4"

for n in 1 2 3 4; do
	ref_list "$FIX/views/$n/rootfs" >"$T/want"
	ref_list "$mnt/.history/$n" >"$T/got"
	same_output "/.history/$n listing equals umoci's unpack of the first $n layers" "$T/want" "$T/got"
	file_hashes "$FIX/views/$n/rootfs" >"$T/want"
	file_hashes "$mnt/.history/$n" >"$T/got"
	same_output "/.history/$n file contents" "$T/want" "$T/got"

	tar --quoting-style=literal -tf "$FIX/layers/L$n.tar" | sed 's|^\./||; s|/$||' | grep -v '^\.\?$' | sort -u >"$T/want"
	(cd "$mnt/.layers/$n" && find . -mindepth 1 -printf '%P\n') | sort >"$T/got"
	same_output "/.layers/$n lists layer $n's tar (tar -t)" "$T/want" "$T/got"
done
wh=$( (cd "$mnt/.layers/2" && find . -name '.wh.*') | head -1)
[ -n "$wh" ] && [ -f "$mnt/.layers/2/$wh" ]; ok $? "whiteouts are visible as files in /.layers/2 ($wh)"

python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert len(j["layers"]) == 4, j["layers"]
assert all(l["digest"].startswith("sha256:") and l["digest_verified"] is True for l in j["layers"])
assert j["manifest"]["schemaVersion"] == 2 and "rootfs" in j["config"]
' "$mnt/.audit/image.json" 2>"$T/err"
ok $? "/.audit/image.json: manifest, config, 4 verified layers"; diag <"$T/err"
cmp -s "$mnt/.audit/index.db" "$T/idx.db"; ok $? "/.audit/index.db is the index file"
[ "$(sqlite3 "file:$mnt/.audit/index.db?immutable=1" 'SELECT count(*) FROM layer')" = 4 ] 2>/dev/null
ok $? "/.audit/index.db opens with sqlite3"

f=$(cd "$mnt" && find . -type f -size +0 ! -path './.*' | head -1)
want=$(sha256sum <"$mnt/$f" | cut -d' ' -f1)
got=$(getfattr --only-values -n user.strata.sha256 "$mnt/$f" 2>/dev/null)
[ "$want" = "$got" ]; ok $? "user.strata.sha256 of $f equals sha256sum"
lay=$(getfattr --only-values -n user.strata.layer "$mnt/$f" 2>/dev/null)
echo "$lay" | grep -Eq '^[1-4] sha256:[0-9a-f]{64}$'; ok $? "user.strata.layer of $f: '$lay'"
getfattr -d -m - "$mnt/$f" 2>/dev/null | grep -q '^user.strata.layer='; ok $? "listxattr names the virtual xattrs"
touch "$mnt/.audit/x" 2>/dev/null; [ $? != 0 ]; ok $? "the reserved trees are read-only too"
sumount "$mnt"; ok $? "umount"

smount "$img" "$mnt" --index "$T/idx.db" -o hide_meta 2>"$T/err" </dev/null
! ls -A "$mnt" | grep -q '^\.\(audit\|layers\|history\)$' && [ -f "$mnt/.audit/image.json" ]
ok $? "-o hide_meta: not in readdir of /, still reachable"
sumount "$mnt"
smount "$img" "$mnt" --index "$T/idx.db" -o meta=_strata 2>"$T/err" </dev/null
[ -d "$mnt/_strata/.history/4" ] && [ -f "$mnt/_strata/.audit/image.json" ] && [ ! -e "$mnt/.audit" ]
ok $? "-o meta=_strata moves the reserved trees under /_strata/"
sumount "$mnt"
tap_done
