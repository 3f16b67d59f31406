#!/bin/bash
# tests/integration/audit_checks.sh — issue 5's retrieved files and file/account/config checks:
# /.audit/findings/checks.json through `strata report IMAGE findings/checks.json`, and the
# retrieved_file table through `strata sql`. Images from tools/mkimage.sh with real tar layers:
#   "bad": passwd/shadow with every account problem (a $6$ hash for a /bin/bash user, a uid-0
#     toor, empty passwords, a duplicate uid) beside accounts that must not fire ('!' locked,
#     nologin); setuid, world-writable, device-node and unowned files beside sticky /tmp and
#     /dev/null; sshd_config whose Include brings PermitRootLogin yes; a cron file a later layer
#     deletes; a 300 KiB nginx file (truncated copy); config without User or Healthcheck.
#   "good": clean accounts, "PermitRootLogin no" before the Include that says yes, Match-only
#     PermitEmptyPasswords yes, config User 1000 with a Healthcheck and an exposed port.
# Also: the demo image shows its planted problems; no planted hash in any output or the index;
# the policy's passwd_file gate reads the retrieved copy (works with the image gone); the
# --secret-rules option reaches the scanners from mount and audit; the mount serves checks.json.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
command -v jq >/dev/null || { echo "1..0 # SKIP needs jq"; exit 77; }
MK=$REPO/tools/mkimage.sh
HASH='$6$plantedSALT$Qw3rTyPlantedHashForAliceStrataTest0123456789abcdefghijklmnopqrstuvwxyzABCDEFG'
HASH2='$6$otherSALT$PlantedHashForBobWhoHasNologinStrataTest0123456789abcdefghij'
HASH3='$y$j9T$lockedCarolPlantedHash$abcdefghijklmnopqrstuvwxyz0123456789'

# ---- image "bad" ----------------------------------------------------------------------------
B=$T/bad; mkdir -p "$B/1/etc/ssh/sshd_config.d" "$B/1/usr/bin" "$B/1/srv/drop" "$B/1/tmp" "$B/1/dev" \
	"$B/1/etc/cron.d" "$B/1/etc/nginx/conf.d" "$B/2/etc/cron.d" "$B/3/home"
cat >"$B/1/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
alice:x:1000:1000:Alice:/home/alice:/bin/bash
bob:x:1001:1001:Bob:/home/bob:/usr/sbin/nologin
carol:x:1002:1002:Carol:/home/carol:/bin/bash
dave::1003:1003:Dave:/home/dave:/bin/sh
eve:x:1004:1004:Eve:/home/eve:/bin/bash
mallory:x:1004:1004:Mallory:/home/mallory:/bin/false
toor:x:0:0:second root:/root:/bin/sh
EOF
printf 'root:*:19000:0:99999:7:::\nalice:%s:19000:0:99999:7:::\nbob:%s:19000:0:99999:7:::\ncarol:!%s:19000:0:99999:7:::\ndave:*:19000::::::\neve::19000:0:99999:7:::\nmallory:*:19000::::::\ntoor:*:19000::::::\n' \
	"$HASH" "$HASH2" "$HASH3" >"$B/1/etc/shadow"
chmod 0640 "$B/1/etc/shadow"
printf '# Debian 12 style\nInclude /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\nPermitEmptyPasswords yes\n' >"$B/1/etc/ssh/sshd_config"
printf 'PermitRootLogin yes\n' >"$B/1/etc/ssh/sshd_config.d/10-root.conf"
printf 'PermitRootLogin no\n' >"$B/1/etc/ssh/sshd_config.d/README" # not *.conf: not included
printf 'x\n' >"$B/1/usr/bin/su"; chmod 4755 "$B/1/usr/bin/su"
printf 'x\n' >"$B/1/usr/bin/plain"; chmod 0755 "$B/1/usr/bin/plain"
chmod 0777 "$B/1/srv/drop"; chmod 1777 "$B/1/tmp"
mknod "$B/1/srv/null" c 1 3 && mknod "$B/1/dev/null" c 1 3 || { echo "1..0 # SKIP mknod needs root"; exit 77; }
head -c 300000 /dev/zero | tr '\0' '#' >"$B/1/etc/nginx/conf.d/big.conf"
tar --owner=0 --group=0 --mtime=@0 -C "$B/1" -cf "$B/L1.tar" .
printf '* * * * * root /usr/local/bin/job\n' >"$B/2/etc/cron.d/job"
tar --owner=0 --group=0 --mtime=@0 -C "$B/2" -cf "$B/L2.tar" .
: >"$B/3/home/ghost"
tar --owner=4242 --group=4242 --mtime=@0 -C "$B/3" -cf "$B/L3.tar" ./home/ghost
mkdir -p "$B/4/etc/cron.d" && : >"$B/4/etc/cron.d/.wh.job"
tar --owner=0 --group=0 --mtime=@0 -C "$B/4" -cf "$B/L4.tar" .
"$MK" --form docker -o "$T/bad.tar" "$B/L1.tar" "$B/L2.tar" "$B/L3.tar" "$B/L4.tar" 2>"$T/mk.err" ||
	{ diag <"$T/mk.err"; echo "Bail out! mkimage"; exit 1; }

# ---- image "good" ---------------------------------------------------------------------------
G=$T/good; mkdir -p "$G/1/etc/ssh/sshd_config.d" "$G/1/tmp" "$G/1/home/app"
printf 'root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/bin/bash\nsvc:x:999:999::/nonexistent:/usr/sbin/nologin\n' >"$G/1/etc/passwd"
printf 'root:*:19000:0:99999:7:::\napp:!:19000:0:99999:7:::\nsvc:%s:19000:0:99999:7:::\n' "$HASH" >"$G/1/etc/shadow"
printf 'PermitRootLogin no\nInclude sshd_config.d/*.conf\nMatch User app\n\tPermitEmptyPasswords yes\n\tPasswordAuthentication yes\n' >"$G/1/etc/ssh/sshd_config"
printf 'PermitRootLogin yes\n' >"$G/1/etc/ssh/sshd_config.d/50-cloud.conf"
printf 'PasswordAuthentication no\n' >"$G/1/etc/ssh/sshd_config.d/a.conf" # read before a.conf.conf
printf 'PasswordAuthentication yes\n' >"$G/1/etc/ssh/sshd_config.d/a.conf.conf"
chmod 1777 "$G/1/tmp"
tar --owner=0 --group=0 --mtime=@0 -C "$G/1" -cf "$G/L1.tar" ./etc ./tmp
tar --owner=1000 --group=1000 --mtime=@0 -C "$G/1" -cf "$G/L2.tar" ./home
"$MK" --form oci-dir -o "$T/good" "$G/L1.tar" "$G/L2.tar" 2>"$T/mk.err" || { diag <"$T/mk.err"; echo "Bail out! mkimage"; exit 1; }
# Config User "1000", port 8080 exposed, a Healthcheck: rewrite config, manifest and index digests.
blob() { echo "$T/good/blobs/sha256/${1#sha256:}"; }
put() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" "$T/good/blobs/sha256/$d"; echo "sha256:$d $(stat -c %s "$T/good/blobs/sha256/$d")"; }
mdig=$(jq -r '.manifests[0].digest' "$T/good/index.json")
cdig=$(jq -r '.config.digest' "$(blob "$mdig")")
jq -c '.config.User = "1000" | .config.ExposedPorts = {"8080/tcp": {}} | .config.Healthcheck = {Test: ["CMD", "true"]}' \
	"$(blob "$cdig")" >"$T/cfg.json"
read -r nc ncs < <(put "$T/cfg.json")
jq -c --arg d "$nc" --argjson s "$ncs" '.config.digest = $d | .config.size = $s' "$(blob "$mdig")" >"$T/man.json"
read -r nm nms < <(put "$T/man.json")
jq -c --arg d "$nm" --argjson s "$nms" '.manifests[0].digest = $d | .manifests[0].size = $s' "$T/good/index.json" >"$T/i.json"
mv "$T/i.json" "$T/good/index.json"

for i in bad good; do
	img=$T/$i.tar; [ -d "$T/$i" ] && [ "$i" = good ] && img=$T/good
	"$STRATA" index -q --index "$T/$i.db" "$img" >/dev/null 2>"$T/idx.err" || { diag <"$T/idx.err"; echo "Bail out! index $i"; exit 1; }
	"$STRATA" report "$T/$i.db" findings/checks.json >"$T/$i.json" 2>"$T/rep.err" || { diag <"$T/rep.err"; echo "Bail out! report $i"; exit 1; }
done
jq -e 'type == "array" and all(.[]; has("check") and has("severity") and has("path") and has("layer") and has("detail"))' \
	"$T/bad.json" >/dev/null; ok $? "checks.json: an array of {check, severity, path, layer, detail}"

# fires IMG CHECK PATH DETAIL-SUBSTRING: a finding of CHECK on PATH whose detail has the text.
fires() { jq -e --arg c "$2" --arg p "$3" --arg d "$4" 'any(.[]; .check == $c and (.path // "") == $p and (.detail | contains($d)))' "$T/$1.json" >/dev/null; }
count() { jq --arg c "$2" '[.[] | select(.check == $c)] | length' "$T/$1.json"; }
both() { # CHECK FIRING-DESCRIPTION PATH DETAIL — fires on bad, not on good
	fires bad "$1" "$3" "$4"; ok $? "$1 fires: $2"
	[ "$(count good "$1")" = 0 ]; ok $? "$1 does not fire on the clean image" || jq -c --arg c "$1" '.[] | select(.check == $c)' "$T/good.json" | diag
}
both setuid_setgid "setuid /usr/bin/su (layer 1)" /usr/bin/su "setuid file, mode 4755"
jq -e 'any(.[]; .check == "setuid_setgid" and .path == "/usr/bin/su" and .layer == 1)' "$T/bad.json" >/dev/null; ok $? "setuid_setgid names layer 1"
[ "$(count bad setuid_setgid)" = 1 ]; ok $? "setuid_setgid: not for the plain 0755 file"
both world_writable "/srv/drop 0777" /srv/drop "mode 0777"
! fires bad world_writable /tmp ""; ok $? "world_writable: not for sticky /tmp (1777)"
both device_outside_dev "/srv/null" /srv/null "character device 1:3"
! fires bad device_outside_dev /dev/null ""; ok $? "device_outside_dev: not for /dev/null"
both unowned_uid "/home/ghost owned by uid 4242" /home/ghost "uid 4242"
[ "$(count bad unowned_uid)" = 1 ]; ok $? "unowned_uid: only /home/ghost (other files are root's)"
both uid0_besides_root "toor" /etc/passwd "account toor has uid 0"
both login_with_password "alice: \$6\$ hash and /bin/bash" /etc/shadow "account alice has a login shell (/bin/bash) and a usable password hash"
! fires bad login_with_password /etc/shadow "bob"; ok $? "login_with_password: not for bob (hash but nologin)"
! fires bad login_with_password /etc/shadow "carol"; ok $? "login_with_password: not for carol ('!' locked hash)"
both empty_password "dave (empty passwd field)" /etc/passwd "account dave has an empty password"
fires bad empty_password /etc/shadow "account eve has an empty password"; ok $? "empty_password fires: eve (empty shadow field)"
[ "$(count bad empty_password)" = 2 ]; ok $? "empty_password: only dave and eve"
both duplicate_uid "uid 1004 (eve, mallory)" /etc/passwd "uid 1004 is shared by 2 accounts: eve, mallory"
fires bad duplicate_uid /etc/passwd "uid 0 is shared by 2 accounts: root, toor"; ok $? "duplicate_uid fires: uid 0 (root, toor)"
both sshd_permit_root_login "only in the Include'd sshd_config.d/10-root.conf" /etc/ssh/sshd_config.d/10-root.conf "PermitRootLogin yes (line 1 of /etc/ssh/sshd_config.d/10-root.conf)"
both sshd_permit_empty_passwords "in the main file" /etc/ssh/sshd_config "PermitEmptyPasswords yes (line 4"
[ "$(count bad sshd_password_authentication)" = 0 ]; ok $? "sshd_password_authentication: 'no' does not fire"
[ "$(count good sshd_password_authentication)" = 0 ]; ok $? "sshd: values inside a Match block do not fire; of two Include'd files the first in glob order wins"
both runs_as_root "config without User" "" "sets no User"
both no_healthcheck "config without Healthcheck" "" "no Healthcheck"
fires good exposed_port "" "port 8080/tcp exposed"; ok $? "exposed_port fires: 8080/tcp"
[ "$(count bad exposed_port)" = 0 ]; ok $? "exposed_port does not fire without ExposedPorts"

# ---- retrieved_file -------------------------------------------------------------------------
q() { "$STRATA" sql "$T/$1.db" "$2"; }
[ "$(q bad "SELECT layer || ' ' || (entry >> 32) || ' ' || size || ' ' || truncated || ' ' || rtrim(CAST(content AS TEXT), char(10)) FROM retrieved_file WHERE path = '/etc/cron.d/job'")" = \
	"2 2 34 0 * * * * * root /usr/local/bin/job" ]; ok $? "retrieved_file holds /etc/cron.d/job of layer 2 although layer 4 deletes it"
[ "$(q bad "SELECT count(*) FROM node WHERE view = 4 AND path = 'etc/cron.d/job'")" = 0 ]; ok $? "… and the image does not show it"
[ "$(q bad "SELECT size || ' ' || truncated || ' ' || length(content) FROM retrieved_file WHERE path = '/etc/nginx/conf.d/big.conf'")" = "300000 1 262144" ]
ok $? "a 300000-byte nginx file: full size kept, truncated, 256 KiB of content"
[ "$(q bad "SELECT count(*) FROM retrieved_file WHERE path IN ('/etc/passwd', '/etc/shadow', '/etc/ssh/sshd_config', '/etc/ssh/sshd_config.d/10-root.conf', '/etc/ssh/sshd_config.d/README')")" = 5 ]
ok $? "retrieved_file holds passwd, shadow, sshd_config and sshd_config.d/*"
[ "$(q bad "SELECT count(*) FROM retrieved_file WHERE path IN ('/usr/bin/su', '/home/ghost')")" = 0 ]; ok $? "files outside the list are not retrieved"
[ "$(q bad "SELECT rtrim(CAST(content AS TEXT), char(10)) FROM retrieved_file WHERE path = '/etc/shadow'" | cut -d: -f1,2 | tr '\n' ' ')" = \
	"root:* alice:<hash> bob:<hash> carol:!<hash> dave:* eve: mallory:* toor:* " ]
ok $? "the stored /etc/shadow has '<hash>' for each hash (lock marks kept), never the hash"

# ---- no planted hash anywhere ---------------------------------------------------------------
leak=0
for h in "$HASH" "$HASH2" "$HASH3" plantedSALT otherSALT lockedCarol; do
	for f in "$T/bad.json" "$T/good.json" "$T/bad.db" "$T/good.db"; do
		if grep -qaF -- "$h" "$f"; then leak=1; echo "$h in $f" | diag; fi
	done
done
[ "$leak" = 0 ]; ok $? "no planted hash (nor its salt) in checks.json or in the index file"
"$STRATA" audit -q --format json "$T/bad.db" >"$T/audit.json" 2>&1
"$STRATA" report "$T/bad.db" findings/secrets.json >"$T/sec.json" 2>&1
! grep -qaF -e plantedSALT -e otherSALT -e lockedCarol "$T/audit.json" "$T/sec.json"; ok $? "no planted hash in strata audit's output or secrets.json"

# ---- the policy's passwd_file gate reads the retrieved copy --------------------------------
cat >"$T/p.json" <<'P'
{"id": "t", "version": "1_0", "policies": [{"id": "p", "version": "1_0", "rules": [
 {"id": "uid0", "gate": "passwd_file", "trigger": "uid0_besides_root", "action": "STOP", "params": []}]}],
 "whitelists": []}
P
mv "$T/bad.tar" "$T/bad-moved.tar"
"$STRATA" audit -q --policy "$T/p.json" --format json "$T/bad.db" >"$T/p.out" 2>"$T/p.err"; rc=$?
[ "$rc" = 1 ] && grep -qF 'Account toor in /etc/passwd has uid 0' "$T/p.out"
ok $? "passwd_file gate finds toor from the retrieved copy with the image file gone (exit $rc)" || diag <"$T/p.err"
mv "$T/bad-moved.tar" "$T/bad.tar"

# ---- --secret-rules / --secret-max-size on mount and audit --------------------------------
"$STRATA" audit -q --secret-rules "$T/no-such-rules.json" "$T/bad.tar" >/dev/null 2>"$T/e1"; rc=$?
[ "$rc" = 2 ] && grep -q "no-such-rules.json" "$T/e1"; ok $? "strata audit --secret-rules FILE reaches the scanner (a missing file: exit 2, named)" || diag <"$T/e1"
mkdir -p "$T/mnt"
"$STRATA" mount --secret-rules "+$T/no-such-rules.json" "$T/bad.tar" "$T/mnt" >/dev/null 2>"$T/e2"; rc=$?
[ "$rc" = 2 ] && grep -q "no-such-rules.json" "$T/e2"; ok $? "strata mount --secret-rules +FILE reaches the scanner (exit 2, named)" || diag <"$T/e2"
"$STRATA" mount --secret-max-size x "$T/bad.tar" "$T/mnt" >/dev/null 2>"$T/e3"; rc=$?
[ "$rc" = 2 ] && grep -q "secret-max-size" "$T/e3"; ok $? "strata mount --secret-max-size x: refused (exit 2)" || diag <"$T/e3"
"$STRATA" audit -q --secret-max-size 0 "$T/bad.tar" >/dev/null 2>"$T/e4"; rc=$?
[ "$rc" = 2 ] && grep -q "secret-max-size" "$T/e4"; ok $? "strata audit --secret-max-size 0: refused (exit 2)" || diag <"$T/e4"

# ---- the mount serves it ----------------------------------------------------------------------
if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null && smount "$T/bad.tar" "$T/mnt2" --index "$T/bad.db" 2>"$T/em"; then
	same_output "the mount's /.audit/findings/checks.json is strata report's" "$T/bad.json" "$T/mnt2/.audit/findings/checks.json"
	sumount "$T/mnt2" 2>>"$T/em" || diag <"$T/em"
else
	skip "checks.json through the mount" "no FUSE"
fi

# ---- the demo image -------------------------------------------------------------------------
DEMO=$REPO/build/demo/demo.tar
if [ -f "$DEMO" ] || (cd "$REPO" && sh tools/demoimage.sh build/demo/demo.tar >"$T/demo.log" 2>&1); then
	"$STRATA" index -q --index "$T/demo.db" "$DEMO" >/dev/null
	"$STRATA" report "$T/demo.db" findings/checks.json >"$T/demo.json"
	fires demo sshd_permit_root_login /etc/ssh/sshd_config "PermitRootLogin yes (line 3"; ok $? "demo: PermitRootLogin yes"
	fires demo uid0_besides_root /etc/passwd "account toor has uid 0"; ok $? "demo: toor has uid 0"
	fires demo setuid_setgid /opt/demo/bin/hello "setuid file"; ok $? "demo: setuid /opt/demo/bin/hello"
	fires demo world_writable /opt/demo/cache "world-writable directory"; ok $? "demo: world-writable /opt/demo/cache"
	fires demo runs_as_root "" "root"; ok $? "demo: runs as root"
else
	skip "demo image" "cannot build it (no network?)"
fi
tap_done
