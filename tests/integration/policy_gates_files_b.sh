#!/bin/bash
# tests/integration/policy_gates_files_b.sh — issue 6's files and dockerfile gates through
# `strata audit --policy FILE --format json`: an image made by tools/mkimage.sh from a real tar
# layer (setuid and setgid files, a world-writable directory and file, a sticky /tmp and a
# world-writable symlink that must not fire), its config given User "" / "1000" with jq (digests
# redone with sha256sum); every trigger fires and does not fire.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/policy.sh"
need_strata
command -v jq >/dev/null || { echo "1..0 # SKIP needs jq"; exit 77; }

mkdir -p "$T/l1/usr/bin" "$T/l1/srv/drop" "$T/l1/tmp" "$T/l1/etc"
printf 'x\n' >"$T/l1/usr/bin/su"; chmod 4755 "$T/l1/usr/bin/su"
printf 'x\n' >"$T/l1/usr/bin/wall"; chmod 2755 "$T/l1/usr/bin/wall"
printf 'x\n' >"$T/l1/usr/bin/plain"; chmod 0755 "$T/l1/usr/bin/plain"
printf 'x\n' >"$T/l1/etc/open.conf"; chmod 0666 "$T/l1/etc/open.conf"
chmod 0777 "$T/l1/srv/drop"; chmod 1777 "$T/l1/tmp"
ln -s /usr/bin/plain "$T/l1/usr/bin/link" # symlinks are 0777: never world_writable findings
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' >"$T/l1/etc/passwd"
tar --owner=0 --group=0 --mtime=@0 -C "$T/l1" -cf "$T/L1.tar" .
# Layer 2: a device node in /srv and one in /dev (as root: mknod), a file owned by uid 4242.
mkdir -p "$T/l2/srv" "$T/l2/dev" "$T/l3/home"
mknod "$T/l2/srv/null" c 1 3 && mknod "$T/l2/dev/null" c 1 3 || { echo "1..0 # SKIP mknod needs root"; exit 77; }
tar --owner=0 --group=0 --mtime=@0 -C "$T/l2" -cf "$T/L2.tar" .
printf 'x\n' >"$T/l3/home/ghost"; chmod 0644 "$T/l3/home/ghost"
tar --owner=4242 --group=4242 --mtime=@0 -C "$T/l3" -cf "$T/L3.tar" ./home/ghost
bash "$REPO/tools/mkimage.sh" --form oci-dir -o "$T/img" "$T/L1.tar" "$T/L2.tar" "$T/L3.tar" >/dev/null 2>"$T/mk.err" ||
	{ diag <"$T/mk.err"; echo "Bail out! mkimage"; exit 1; }
"$STRATA" index -q --index "$T/root.db" "$T/img" >/dev/null || { echo "Bail out! indexing failed"; exit 1; }

# The same image with config User "1000", ports 22 and 8080 exposed and a Healthcheck: rewrite config, manifest and index digests.
blob() { echo "$T/img/blobs/sha256/${1#sha256:}"; }
put() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$T/img/blobs/sha256/$d"; echo "sha256:$d $(stat -c %s "$T/img/blobs/sha256/$d")"; }
mdig=$(jq -r '.manifests[0].digest' "$T/img/index.json")
cdig=$(jq -r '.config.digest' "$(blob "$mdig")")
jq -c '.config.User = "1000" | .config.ExposedPorts = {"22/tcp": {}, "8080/tcp": {}} |
	.config.Healthcheck = {Test: ["CMD", "true"]}' "$(blob "$cdig")" >"$T/cfg.json"
read -r nc ncs < <(put "$T/cfg.json")
jq -c --arg d "$nc" --argjson s "$ncs" '.config.digest = $d | .config.size = $s' "$(blob "$mdig")" >"$T/man.json"
read -r nm nms < <(put "$T/man.json")
jq -c --arg d "$nm" --argjson s "$nms" '.manifests[0].digest = $d | .manifests[0].size = $s' "$T/img/index.json" >"$T/index.json"
mv "$T/index.json" "$T/img/index.json"
"$STRATA" index -q --index "$T/u1000.db" "$T/img" >/dev/null || { echo "Bail out! indexing failed"; exit 1; }

# expect NAME EXPECTED_FILE_CONTENT DB GATE TRIGGER PARAMS...: ok when the messages are exactly these.
# Batched (lib/policy.sh batch_check: one strata audit for consecutive checks on one index; the
# queue runs before any other TAP line), each checked in order by expect_check.
expect() {
	local name=$1 want=$2
	shift 2
	batch_check expect_check "$name" "$want" -- "$@"
}
expect_check() { # NAME EXPECTED
	awk -F'\t' '$1 != "always" { sub(/^[^\t]*\t[^\t]*\t/, ""); print }' "$BATCH_FOUND" | LC_ALL=C sort >"$T/got.txt"
	if [ "$(cat "$T/got.txt")" = "$2" ] && [ "$BATCH_RC" != 2 ]; then pass "$1"; else
		fail "$1 (exit $BATCH_RC)"
		cat "$T/got.txt" "$T/audit.err" | head -8 | diag
	fi
}
batch_hook_tap

expect "suid_or_guid_set fires for the setuid and the setgid file only (mode with the file type bits, as Anchore prints it)" \
"SUID or SGID found set on file /usr/bin/su. Mode: 0o104755
SUID or SGID found set on file /usr/bin/wall. Mode: 0o102755" "$T/root.db" files suid_or_guid_set
expect "world_writable fires for /srv/drop and /etc/open.conf, not sticky /tmp or the symlink" \
"World-writable file or directory found: /etc/open.conf. Mode: 0o666
World-writable file or directory found: /srv/drop. Mode: 0o777" "$T/root.db" files world_writable
expect "name_match fires for the matching path" \
"Application of regex matched file found in container: file=/usr/bin/su regexp=/su\$" \
	"$T/root.db" files name_match 'regex=/su$'
expect "name_match does not fire without a matching path" "" "$T/root.db" files name_match 'regex=xmrig$'
expect "effective_user denylist root fires on an empty User (root)" \
"User root found as effective user, which is explicity not allowed" \
	"$T/root.db" dockerfile effective_user users=root type=denylist
expect "effective_user denylist root does not fire on User 1000" "" "$T/u1000.db" dockerfile effective_user \
	users=root type=denylist
expect "effective_user allowlist 1000 does not fire on User 1000" "" "$T/u1000.db" dockerfile effective_user \
	users=1000,app type=allowlist
expect "effective_user allowlist 1000 fires on root" \
"User root found as effective user, which is not on the allowed list" \
	"$T/root.db" dockerfile effective_user users=1000 type=allowlist
expect "device_outside_dev fires for /srv/null, not /dev/null" \
	"Device node found outside /dev: /srv/null. Mode: 0o644" "$T/root.db" files device_outside_dev
expect "unowned_uid fires for the uid-4242 file only (root and the rest are uid 0)" \
	"File /home/ghost is owned by uid 4242, which has no account in /etc/passwd" "$T/root.db" files unowned_uid
expect "exposed_ports denylist 22 fires on the image exposing 22/tcp" \
"Dockerfile exposes port (22/tcp) which is in policy file DENIEDPORTS list" \
	"$T/u1000.db" dockerfile exposed_ports ports=22,23 type=denylist
expect "exposed_ports denylist 22 does not fire on the image exposing nothing" "" \
	"$T/root.db" dockerfile exposed_ports ports=22 type=denylist
expect "exposed_ports allowlist 8080 fires for 22 only" \
"Dockerfile exposes port (22/tcp) which is not in policy file ALLOWEDPORTS list" \
	"$T/u1000.db" dockerfile exposed_ports ports=8080 type=allowlist
expect "no_healthcheck fires without a Healthcheck" "Image config has no HEALTHCHECK" \
	"$T/root.db" dockerfile no_healthcheck
expect "no_healthcheck does not fire with a Healthcheck" "" "$T/u1000.db" dockerfile no_healthcheck
expect "no_dockerfile_provided always fires (strata never has the Dockerfile)" \
	"Image was not analyzed with an actual Dockerfile" "$T/u1000.db" dockerfile no_dockerfile_provided
tap_done
