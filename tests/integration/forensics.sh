#!/bin/bash
# tests/integration/forensics.sh — issue 7: efficiency.json against dive's published figures,
# ghosts.tsv against the outside fixtures and against tar -t of the layers vs umoci's final rootfs,
# bodyfile parsed by The Sleuth Kit's mactime, strata verify on an intact and a one-byte-altered copy.
. "$(dirname "$0")/lib/common.sh"
need_strata
D=$OUTSIDE/dive/test-docker-image.tar
if [ -f "$D" ]; then
	"$STRATA" report "$D" efficiency.json >"$T/eff.json"
	got=$(jq -r '[.efficiency, .size_bytes, .user_size_bytes, .wasted_bytes, .wasted_user_percent] | map(tostring) | join(" ")' "$T/eff.json")
	want="0.9844212134184309 1220598 66237 32025 0.4834911001404049"
	[ "$got" = "$want" ]; ok $? "dive test image: efficiency, size, user size, wasted, user wasted exactly as dive ($got)"
else skip "dive efficiency" "no outside fixtures"; fi
W=$OUTSIDE/go-containerregistry/whiteout_dir.tar
if [ -f "$W" ]; then
	"$STRATA" report "$W" ghosts.tsv >"$T/g.tsv"
	awk -F'\t' '$1=="a/foo" && $2==1 && $3==3 && $4=="whiteout"' "$T/g.tsv" | grep -q .; ok $? "whiteout_dir: a/foo added in layer 1, deleted by the whiteout in layer 3"
else skip "whiteout_dir ghosts" "no outside fixtures"; fi
R=$OUTSIDE/regclient/layer-wh.tar
if [ -f "$R" ]; then
	[ "$("$STRATA" report "$R" ghosts.tsv | wc -l)" = 1 ]; ok $? "regclient layer-wh: whiteouts of one layer hide nothing of it (no ghosts)"
else skip "layer-wh" "no outside fixtures"; fi

need_fixtures
IMG=$FIX/images/docker.tar
# Reference: every non-directory path some layer's tar lists (whiteout markers aside) that the final
# rootfs lacks or holds as something else (other content, type or mode).
final=$FIX/refs/docker
export LC_ALL=C # non-UTF-8 names are bytes
: >"$T/want"
# A layer's version of a path is what tar -x of that layer alone writes there; a hard link to a file
# of a lower layer cannot be extracted alone, so its version is taken from layers 1..i extracted
# onto one tree ($T/c), where layer i has just written it.
mkdir -p "$T/c"
for i in 1 2 3 4; do
	mkdir -p "$T/x$i" && tar -C "$T/x$i" -xf "$FIX/layers/L$i.tar" 2>/dev/null
	tar -C "$T/c" -xf "$FIX/layers/L$i.tar" 2>/dev/null
	tar --quoting-style=literal -tf "$FIX/layers/L$i.tar" | sed 's,/$,,' | grep -av '/\?\.wh\.' | while IFS= read -r p; do
		if [ ! -e "$final/$p" ] && [ ! -L "$final/$p" ]; then echo "$p"; continue; fi
		x=$T/x$i/$p
		[ -e "$x" ] || [ -L "$x" ] || x=$T/c/$p
		[ -d "$x" ] && [ ! -L "$x" ] && [ -d "$final/$p" ] && continue
		a=$(stat -c '%F %a' "$x"); b=$(stat -c '%F %a' "$final/$p")
		if [ "$a" != "$b" ] || { [ -f "$final/$p" ] && ! cmp -s "$x" "$final/$p"; }; then echo "$p"; fi
	done >>"$T/want"
done
LC_ALL=C sort -u "$T/want" >"$T/want.s"
"$STRATA" report "$IMG" ghosts.tsv | tail -n +2 | cut -f1 | LC_ALL=C sort -u >"$T/got.s"
same_output "fixture: ghosts.tsv lists exactly the paths of earlier layers the final rootfs lacks or changed" "$T/want.s" "$T/got.s"
"$STRATA" report "$IMG" bodyfile >"$T/body"
mactime -b "$T/body" >"$T/mt" 2>"$T/mt.err"; rc=$?
[ $rc = 0 ] && [ ! -s "$T/mt.err" ] && [ "$(grep -c . "$T/mt")" -ge "$(wc -l <"$T/body")" ]; ok $? "mactime -b parses every bodyfile line"
"$STRATA" verify "$IMG" >"$T/v.out"; ok $? "strata verify passes on the intact image"
cp -r "$FIX/images/oci-gzip" "$T/oci"
"$STRATA" index -q "$T/oci" >/dev/null
m=$(jq -r '.manifests[0].digest' "$T/oci/index.json" | cut -d: -f2)
l=$(jq -r '.layers[1].digest' "$T/oci/blobs/sha256/$m" | cut -d: -f2)
f=$T/oci/blobs/sha256/$l; sz=$(stat -c %s "$f")
printf '\125' | dd of="$f" bs=1 seek=$((sz / 2)) conv=notrunc 2>/dev/null
"$STRATA" verify "$T/oci" >"$T/v2.out"; rc=$?
[ $rc = 1 ] && grep -q "MISMATCH layer 2 blob sha256:$l" "$T/v2.out"; ok $? "strata verify fails naming the altered blob"
# A secret added in one layer and deleted in the next: ghosts.tsv names both layers and the rule,
# and the copy is readable at /.history/1 (never the secret itself in ghosts.tsv).
rnd() { tr -dc "$1" </dev/urandom | head -c "$2"; }
tok="gh""p_$(rnd A-Za-z0-9 36)"
mkdir -p "$T/s1/app" "$T/s2/app"
printf 'token: %s\n' "$tok" >"$T/s1/app/deploy.yml"
touch "$T/s2/app/.wh.deploy.yml"
for i in 1 2; do tar --owner=0 --group=0 --mtime=@0 -C "$T/s$i" -cf "$T/S$i.tar" .; done
"$REPO/tools/mkimage.sh" --form docker -o "$T/sec.tar" "$T/S1.tar" "$T/S2.tar" 2>"$T/mk.err" || diag <"$T/mk.err"
"$STRATA" report "$T/sec.tar" ghosts.tsv >"$T/sg.tsv"
awk -F'\t' '$1=="app/deploy.yml" && $2==1 && $3==2 && $4=="whiteout" && $8 ~ /github-pat/' "$T/sg.tsv" | grep -q .
ok $? "a secret deleted by the next layer: ghosts.tsv row with added 1, hidden 2, whiteout, rule github-pat" || diag <"$T/sg.tsv"
! grep -qF "$tok" "$T/sg.tsv"; ok $? "ghosts.tsv does not contain the secret"
tap_done
