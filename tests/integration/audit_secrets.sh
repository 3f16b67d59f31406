#!/bin/bash
# tests/integration/audit_secrets.sh — issue 5's secret scanner: an image made by tools/mkimage.sh
# (OCI layout; its config then given a planted Env entry, digests redone with sha256sum) with
# secrets planted in a visible file, in a file a later layer deletes, in Env and in a build-arg
# history line. findings/secrets.json (strata report, and /.audit in a mount) lists each with the
# right rule, layer, line, status, sha256 fingerprint (checked with sha256sum) and preview; a
# binary file and a file over 16 MiB are skipped and counted; the planted values appear nowhere:
# not in the reports, not in `sqlite3 INDEX .dump`, not on stderr.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
command -v jq >/dev/null && command -v sqlite3 >/dev/null || { echo "1..0 # SKIP needs jq and sqlite3"; exit 77; }
MK=$REPO/tools/mkimage.sh

# Planted values, assembled at run time from pieces and random characters.
rnd() { tr -dc "$1" </dev/urandom | head -c "$2"; }
gh="gh""p_$(rnd A-Za-z0-9 36)"
gh2="gh""s_$(rnd A-Za-z0-9 36)"
aws="AK""IA$(rnd A-Z2-7 16)"
awss=$(rnd A-Za-z0-9 40)
pw="S3c$(rnd A-Za-z0-9 13)"
mkdir -p "$T/l1/etc" "$T/l2/app" "$T/l2/data" "$T/l3/app"
printf '# app\nlisten = 8080\ngithub_token: %s\n' "$gh" >"$T/l1/etc/app.conf"
printf 'A=1\nB=2\nAWS_ACCESS_KEY_ID=%s\nDB=postgres://app:%s@db.internal/app\n' "$aws" "$pw" >"$T/l2/app/creds.env"
{ printf 'bin\0ary '; printf '%s\n' "$gh"; } >"$T/l2/data/blob.bin"
{ printf '%s\n' "$gh"; head -c $((17 << 20)) /dev/zero | tr '\0' 'x'; } >"$T/l2/data/huge.txt"
touch "$T/l3/app/.wh.creds.env"
for i in 1 2 3; do tar --owner=0 --group=0 --mtime=@0 -C "$T/l$i" -cf "$T/L$i.tar" .; done
"$MK" --form oci-dir --created-by "COPY app.conf /etc/" --created-by "RUN GITHUB_TOKEN=$gh2 make" \
	--created-by "RUN rm /app/creds.env" -o "$T/img" "$T/L1.tar" "$T/L2.tar" "$T/L3.tar" 2>"$T/mk.err" ||
	{ diag <"$T/mk.err"; echo "Bail out! mkimage"; exit 1; }

# Plant AWS_SECRET_ACCESS_KEY in the config's Env; rewrite the config, manifest and index digests.
blob() { echo "$T/img/blobs/sha256/${1#sha256:}"; }
put() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$T/img/blobs/sha256/$d"; echo "sha256:$d $(stat -c %s "$T/img/blobs/sha256/$d")"; }
mdig=$(jq -r '.manifests[0].digest' "$T/img/index.json")
cdig=$(jq -r '.config.digest' "$(blob "$mdig")")
jq -c --arg v "AWS_SECRET_ACCESS_KEY=$awss" '.config.Env += [$v]' "$(blob "$cdig")" >"$T/cfg.json"
read -r nc ncs < <(put "$T/cfg.json")
jq -c --arg d "$nc" --argjson s "$ncs" '.config.digest = $d | .config.size = $s' "$(blob "$mdig")" >"$T/man.json"
read -r nm nms < <(put "$T/man.json")
jq -c --arg d "$nm" --argjson s "$nms" '.manifests[0].digest = $d | .manifests[0].size = $s' "$T/img/index.json" >"$T/index.json"
mv "$T/index.json" "$T/img/index.json"

"$STRATA" index --index "$T/img.db" -q "$T/img" >"$T/out1" 2>"$T/err1"; ok $? "index built with the secret scanner"
diag <"$T/err1"
"$STRATA" report "$T/img.db" findings/secrets.json >"$T/s.json" 2>"$T/err2"; ok $? "strata report findings/secrets.json"
jq -e 'type == "array"' "$T/s.json" >/dev/null; ok $? "the report is a JSON array"

row() { jq -c --arg r "$1" --arg p "$2" '[.[] | select(.rule == $r and .path == $p)]' "$T/s.json"; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
r=$(row github-pat /etc/app.conf)
[ "$(jq -r 'length' <<<"$r")" = 1 ] && [ "$(jq -r '.[0] | "\(.layer) \(.line) \(.column) \(.status)"' <<<"$r")" = "1 3 15 visible" ]
ok $? "GitHub token in /etc/app.conf: layer 1, line 3, column 15, visible"
[ "$(jq -r '.[0].fingerprint' <<<"$r")" = "$(sha "$gh")" ]; ok $? "its fingerprint is sha256sum of the token"
[ "$(jq -r '.[0].preview' <<<"$r")" = "${gh:0:4}…" ]; ok $? "its preview is the first 4 characters and an ellipsis"
r=$(row aws-access-key-id /app/creds.env)
[ "$(jq -r '.[0] | "\(.layer) \(.line) \(.status) \(.fingerprint)"' <<<"$r")" = "2 3 deleted in layer 3 $(sha "$aws")" ]
ok $? "AWS key id in /app/creds.env: layer 2, line 3, deleted in layer 3"
r=$(row url-credentials /app/creds.env)
[ "$(jq -r '.[0] | "\(.line) \(.status) \(.fingerprint)"' <<<"$r")" = "4 deleted in layer 3 $(sha "$pw")" ]
ok $? "password in a URL: line 4, deleted in layer 3, fingerprint of the password alone"
r=$(row aws-secret-access-key image-config:Env)
[ "$(jq -r '.[0] | "\(.layer) \(.status) \(.fingerprint)"' <<<"$r")" = "null image config $(sha "$awss")" ]
ok $? "AWS secret key in the config's Env: status image config, fingerprint of the key"
r=$(row github-server-to-server image-config:history)
[ "$(jq -r '.[0] | "\(.line) \(.status) \(.fingerprint)"' <<<"$r")" = "2 image config $(sha "$gh2")" ]
ok $? "build-arg token in history line 2 found"
[ "$(jq '[.[] | select(.path | startswith("/data/"))] | length' "$T/s.json")" = 0 ]
ok $? "nothing reported from the binary file or the file over 16 MiB"
[ "$(sqlite3 "$T/img.db" 'SELECT sum(binary), sum(too_large) FROM secret_stats')" = "1|1" ]
ok $? "secret_stats counts one binary file and one file over 16 MiB skipped"
# Both limits are options: --secret-scan-binary scans the binary file, a larger
# --secret-max-size the huge one (the same token, planted in both).
"$STRATA" index -q --force --index "$T/bin.db" --secret-scan-binary --secret-max-size $((64 << 20)) "$T/img" >/dev/null 2>&1
[ "$(sqlite3 "$T/bin.db" "SELECT group_concat(path, ' ') FROM (SELECT path FROM secret WHERE path LIKE '/data/%' ORDER BY path)")" = "/data/blob.bin /data/huge.txt" ] &&
	[ "$(sqlite3 "$T/bin.db" 'SELECT sum(binary), sum(too_large) FROM secret_stats')" = "0|0" ]
ok $? "--secret-scan-binary and --secret-max-size 64 MiB: both files scanned, the token found in each"

sqlite3 "$T/img.db" .dump >"$T/dump.sql"
"$STRATA" report "$T/img" findings/secrets.json >"$T/s2.json" 2>"$T/err3"
cmp -s "$T/s.json" "$T/s2.json"; ok $? "strata report IMAGE gives the same document"
outs=("$T/s.json" "$T/s2.json" "$T/dump.sql" "$T/out1" "$T/err1" "$T/err2" "$T/err3")
if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null && smount "$T/img" "$T/mnt" --index "$T/img.db" 2>"$T/err4"; then
	cp "$T/mnt/.audit/findings/secrets.json" "$T/s4.json"
	cmp -s "$T/s.json" "$T/s4.json"; ok $? "/.audit/findings/secrets.json in the mount is the same document"
	sumount "$T/mnt" 2>>"$T/err4" || true
	outs+=("$T/s4.json" "$T/err4")
else
	skip "/.audit/findings/secrets.json in the mount" "no FUSE, or the mount failed: $(head -c 200 "$T/err4" 2>/dev/null)"
fi
leak=0
for v in "$gh" "$gh2" "$aws" "$awss" "$pw"; do
	for f in "${outs[@]}"; do
		if grep -aqF -- "$v" "$f"; then leak=1; echo "# planted value found in ${f##*/}"; fi
	done
	[ "$(grep -acF -- "$v" "$T/dump.sql")" = 0 ] || leak=1
done
ok $leak "no planted value in the reports, in sqlite3 .dump of the index, or on stderr"

# The same layers zstd-compressed in several frames inside an OCI tar: the same file findings.
"$MK" --form oci-tar --layer-compress zstd-multi -o "$T/img2.tar" "$T/L1.tar" "$T/L2.tar" "$T/L3.tar" 2>"$T/mk.err"
"$STRATA" report "$T/img2.tar" findings/secrets.json >"$T/s3.json" 2>/dev/null
files() { jq -S '[.[] | select(.layer != null)]' "$1"; }
cmp -s <(files "$T/s.json") <(files "$T/s3.json"); ok $? "oci-tar with multi-frame zstd layers: the same file findings"

# Issue 8: nothing strata leaves behind holds a planted value in clear: the raw index files (free
# pages and any journal included, not only the rows), the cache (default index, and the seekable
# copy made of a single-frame zstd layer), strata's temporary files (TMPDIR), every /.audit file of
# a mount, and the outputs of strata audit in every format. img3 has the planted files but not the
# planted config; the first image's config secrets are checked below (the index keeps the config
# with every secret found in it masked: image.config, /.audit/image.json, layers.tsv).
mkdir -p "$T/tmp" "$T/audit3"
export XDG_CACHE_HOME=$T/cache3 # its own cache: the first image's default index is in $T/cache
"$MK" --form oci-dir --layer-compress zstd -o "$T/img3" "$T/L1.tar" "$T/L2.tar" "$T/L3.tar" 2>"$T/mk.err"
TMPDIR=$T/tmp "$STRATA" index "$T/img3" >"$T/out5" 2>"$T/err5"; ok $? "zstd image indexed into the cache"
! find "$T/cache3" -path '*/seekable/*' -type f | grep -q .; ok $? "no seekable copy after the index pass (built on first random read)"
"$STRATA" cat "$T/img3" /data/huge.txt >/dev/null 2>>"$T/err5"
find "$T/cache3" -path '*/seekable/*' -type f | grep -q .; ok $? "a seekable copy is in the cache after the first read"
outs3=("$T/out5" "$T/err5")
for fmt in text json sarif junit; do
	TMPDIR=$T/tmp "$STRATA" audit --format $fmt "$T/img3" >"$T/audit.$fmt" 2>"$T/audit.$fmt.err"
	outs3+=("$T/audit.$fmt" "$T/audit.$fmt.err")
done
if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null && TMPDIR=$T/tmp smount "$T/img3" "$T/mnt3" 2>"$T/err7"; then
	(cd "$T/mnt3/.audit" && find . -type f -print0 | xargs -0 cp --parents -t "$T/audit3")
	find "$T/mnt3" -path "$T/mnt3/.audit" -prune -o -type f -print0 | xargs -0 cat >/dev/null 2>&1
	sumount "$T/mnt3" 2>>"$T/err7" || true
	find "$T/audit3" -type f | grep -q secrets.json; ok $? "every /.audit file of the mount copied ($(find "$T/audit3" -type f | wc -l) files)"
else
	skip "/.audit files of a mount" "no FUSE, or the mount failed: $(head -c 200 "$T/err7" 2>/dev/null)"
fi
outs3+=("$T/err7")
# Every text/blob column of every table of the index (not only .dump's text, which shows blobs in
# hex): no row holds a planted value, the config's included (image.config is stored masked).
cells() { # DB VALUE...: "table.column" of every cell holding one of the VALUEs (alphanumeric)
	local db=$1 vals sql
	shift
	vals=$(printf "(''%s'')," "$@") # quotes doubled: inside the generator's string
	# One sqlite3 run: the first query writes one statement per column of every table (a cell of
	# that column holding a value → its name), the second sqlite3 runs them all.
	sql=$(sqlite3 "$db" "SELECT 'WITH planted(val) AS (VALUES ${vals%,}) SELECT ' || quote(m.name || '.' || p.name) ||
		' WHERE EXISTS (SELECT 1 FROM \"' || replace(m.name, '\"', '\"\"') || '\" AS t, planted WHERE instr(CAST(t.\"' ||
		replace(p.name, '\"', '\"\"') || '\" AS BLOB), CAST(planted.val AS BLOB)) > 0);'
		FROM sqlite_master AS m, pragma_table_info(m.name) AS p WHERE m.type = 'table'") &&
		[ -n "$sql" ] && sqlite3 "$db" "$sql" || echo "(sqlite3 failed)"
}
where=$(cells "$T/img.db" "$gh" "$aws" "$pw" | sort -u | tr '\n' ' ')
[ -z "$where" ]; ok $? "no planted file value in any cell of any table of the index (${where:-none})"
where=$(cells "$T/img.db" "$gh2" "$awss" | sort -u | tr '\n' ' ')
[ -z "$where" ]; ok $? "no planted config value in any cell of any table of the index (${where:-none})"
"$STRATA" report "$T/img.db" image.json >"$T/image.json" 2>&1
"$STRATA" report "$T/img.db" layers.tsv >"$T/layers.tsv" 2>&1
jq -e --arg p "AWS_SECRET_ACCESS_KEY=${awss:0:4}" '.config.config.Env | map(select(startswith($p) and endswith("****"))) | length == 1' \
	"$T/image.json" >/dev/null; ok $? "image.json shows the config's Env secret masked (first 4 characters, then *)"
grep -qF "${gh2:0:4}****" "$T/layers.tsv"; ok $? "layers.tsv shows the build-arg secret of a history line masked"
leak=0
for v in "$gh" "$gh2" "$aws" "$awss" "$pw"; do
	for f in "$T"/img.db* "$T/image.json" "$T/layers.tsv"; do
		if grep -aqF -- "$v" "$f"; then leak=1; echo "# planted value found in ${f##*/}"; fi
	done
done
ok $leak "no planted value anywhere in the raw index file (free pages, journal), image.json or layers.tsv"
leak=0
for v in "$gh" "$gh2" "$aws" "$awss" "$pw"; do
	for f in "${outs3[@]}"; do
		if grep -aqF -- "$v" "$f"; then leak=1; echo "# planted value found in ${f##*/}"; fi
	done
	for d in "$T/cache3" "$T/tmp" "$T/audit3"; do
		grep -rlaF -- "$v" "$d" | sed 's/^/# planted value found in /'
		! grep -rqaF -- "$v" "$d" || leak=1
	done
done
ok $leak "image without config secrets: no planted value in the cache (raw index, seekable copy), TMPDIR, /.audit or audit outputs"
tap_done
