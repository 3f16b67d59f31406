#!/bin/bash
# tests/integration/forensics_integrity.sh — issue 7, integrity.json blobs part (the package-file
# and unowned-executable parts: forensics_packages.sh): digests found equal sha256sum of the blob and
# of the gunzipped tar; a blob altered by one byte, indexed with --allow-digest-mismatch, shows
# found != expected.
. "$(dirname "$0")/lib/common.sh"
need_strata
mkdir -p "$T/r/usr/bin" && printf 'hello\n' >"$T/r/usr/bin/hi" && chmod 755 "$T/r/usr/bin/hi"
tar -C "$T/r" --owner=0 --group=0 -cf "$T/L1.tar" usr
"$REPO/tools/mkimage.sh" --form oci-dir --layer-compress gzip -o "$T/img" "$T/L1.tar" 2>"$T/mk.err" || diag <"$T/mk.err"
"$STRATA" report "$T/img" integrity.json >"$T/i.json" 2>"$T/r.err"; ok $? "integrity.json renders" || diag <"$T/r.err"
blob=$(jq -r '.blobs[0].digest_expected' "$T/i.json"); f=$T/img/blobs/sha256/${blob#sha256:}
[ "$(jq -r '.blobs[0].digest_found' "$T/i.json")" = "sha256:$(sha256sum <"$f" | cut -c1-64)" ] &&
	[ "$(jq -r '.blobs[0].digest_ok' "$T/i.json")" = true ]
ok $? "digest_found = sha256sum of the blob, digest_ok"
[ "$(jq -r '.blobs[0].diff_id_found' "$T/i.json")" = "sha256:$(gunzip -c "$f" | sha256sum | cut -c1-64)" ] &&
	[ "$(jq -r '.blobs[0].diff_id_expected' "$T/i.json")" = "$(jq -r '.blobs[0].diff_id_found' "$T/i.json")" ]
ok $? "diff_id found = sha256sum of the gunzipped layer = expected"
# One byte of the gzip header's MTIME field (gzip -n wrote 0): the blob digest changes, the
# decompressed layer (diff_id) does not.
cp -r "$T/img" "$T/bad"; chmod -R u+w "$T/bad"; g=$T/bad/blobs/sha256/${blob#sha256:}
printf '\x01' | dd of="$g" bs=1 seek=4 conv=notrunc status=none
"$STRATA" index --allow-digest-mismatch "$T/bad" >/dev/null 2>"$T/b.err"
"$STRATA" report "$T/bad" integrity.json >"$T/b.json" 2>>"$T/b.err"
[ "$(jq -r '.blobs[0].digest_ok' "$T/b.json")" = false ] &&
	[ "$(jq -r '.blobs[0].digest_found' "$T/b.json")" = "sha256:$(sha256sum <"$g" | cut -c1-64)" ] &&
	[ "$(jq -r '.blobs[0].digest_found' "$T/b.json")" != "$blob" ] &&
	[ "$(jq -r '.blobs[0].diff_id_ok' "$T/b.json")" = true ]
ok $? "a blob altered by one byte: digest_found != expected, = sha256sum" || { diag <"$T/b.err"; diag <"$T/b.json"; }
tap_done
