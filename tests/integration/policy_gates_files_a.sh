#!/bin/bash
# tests/integration/policy_gates_files_a.sh — the retrieved_files and passwd_file gates through
# `strata audit --policy FILE --format json`: each trigger fires on one image and not on another.
# Images: tools/mkimage.sh from real tar layers. "bad": sshd_config with an indented
# "PermitRootLogin yes" line (the regex applies per line), a second uid-0 account; a later layer
# replaces nothing. "good": PermitRootLogin no, only root with uid 0, no /etc/motd.
. "$(dirname "$0")/lib/common.sh"
need_strata
command -v jq >/dev/null || { echo "1..0 # SKIP needs jq"; exit 77; }
MK=$REPO/tools/mkimage.sh
mkimg() { # NAME SSHD PASSWD
	mkdir -p "$T/$1/etc/ssh"
	printf '%b' "$2" >"$T/$1/etc/ssh/sshd_config"
	printf '%b' "$3" >"$T/$1/etc/passwd"
	tar --owner=0 --group=0 --mtime=@0 -C "$T/$1" -cf "$T/$1.tar" .
	"$MK" --form docker -o "$T/$1-img.tar" "$T/$1.tar" 2>"$T/mk.err" || { diag <"$T/mk.err"; echo "Bail out! mkimage"; exit 1; }
}
mkimg bad '# sshd\nPort 22\n   PermitRootLogin yes\n' 'root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\nbin:x:2:2::/bin:/usr/sbin/nologin\n'
mkimg good '# sshd\nPermitRootLogin no\n# PermitRootLogin yes (commented)\n' 'root:x:0:0:root:/root:/bin/bash\nbin:x:2:2::/bin:/usr/sbin/nologin\n'
cat >"$T/p.json" <<'P'
{"id": "t", "version": "1_0", "policies": [{"id": "p", "version": "1_0", "rules": [
 {"id": "root-login", "gate": "retrieved_files", "trigger": "content_regex", "action": "STOP",
  "params": [{"name": "path", "value": "/etc/ssh/sshd_config"}, {"name": "check", "value": "match"},
             {"name": "regex", "value": "^\\s*PermitRootLogin\\s+yes"}]},
 {"id": "no-explicit-no", "gate": "retrieved_files", "trigger": "content_regex", "action": "WARN",
  "params": [{"name": "path", "value": "/etc/ssh/sshd_config"}, {"name": "check", "value": "no_match"},
             {"name": "regex", "value": "^PermitRootLogin\\s+no$"}]},
 {"id": "motd", "gate": "retrieved_files", "trigger": "content_not_available", "action": "WARN",
  "params": [{"name": "path", "value": "/etc/motd"}]},
 {"id": "uid0", "gate": "passwd_file", "trigger": "uid0_besides_root", "action": "STOP", "params": []},
 {"id": "nopw", "gate": "passwd_file", "trigger": "content_not_available", "action": "WARN", "params": []}
]}], "whitelists": []}
P
for img in bad good; do "$STRATA" index -q "$T/$img-img.tar" >/dev/null; done
"$STRATA" audit -q --policy "$T/p.json" --format json "$T/bad-img.tar" >"$T/bad.json"; rc=$?
[ "$rc" = 1 ]; ok $? "bad image: verdict fail, exit 1 (got $rc)"
"$STRATA" audit -q --policy "$T/p.json" --format json "$T/good-img.tar" >"$T/good.json"; rc=$?
[ "$rc" = 0 ]; ok $? "good image: exit 0 (warnings only: /etc/motd missing) (got $rc)"
# Rows in Anchore's shape: find each rule's rows by the message text / trigger id.
has() { grep -qF -- "$2" "$T/$1.json"; }
has bad 'root-login+file:///etc/ssh/sshd_config'; ok $? "content_regex match fires on an indented PermitRootLogin yes line, trigger id <rule id>+file://<path>"
! has good 'root-login+file:///etc/ssh/sshd_config'; ok $? "content_regex match does not fire on 'PermitRootLogin no' and a commented line"
has bad 'no-explicit-no+file:///etc/ssh/sshd_config'; ok $? "content_regex no_match fires when no line says PermitRootLogin no"
! has good 'no-explicit-no+file:///etc/ssh/sshd_config'; ok $? "content_regex no_match does not fire when a line matches"
has bad 'Cannot locate file in the image analysis'; ok $? "content_not_available fires for a missing file"
has bad 'Account toor in /etc/passwd has uid 0'; ok $? "uid0_besides_root fires for toor"
! has good 'has uid 0'; ok $? "uid0_besides_root does not fire for root alone"
! has bad "Cannot locate /etc/passwd"; ok $? "passwd_file content_not_available does not fire when /etc/passwd exists"
mkdir -p "$T/empty/srv" && tar --owner=0 --group=0 --mtime=@0 -C "$T/empty" -cf "$T/empty.tar" . && "$MK" --form docker -o "$T/empty-img.tar" "$T/empty.tar" 2>/dev/null
"$STRATA" audit -q --policy "$T/p.json" --format json "$T/empty-img.tar" >"$T/empty.json"
has empty "Cannot locate /etc/passwd"; ok $? "passwd_file content_not_available fires without /etc/passwd"
printf '{"id":"x","version":"1_0","policies":[{"id":"p","version":"1_0","rules":[{"id":"r","gate":"retrieved_files","trigger":"content_regex","action":"STOP","params":[{"name":"path","value":"etc/x"},{"name":"check","value":"maybe"},{"name":"regex","value":"("}]}]}]}' >"$T/bad-p.json"
"$STRATA" audit --policy "$T/bad-p.json" "$T/good-img.tar" >/dev/null 2>"$T/err"; rc=$?
[ "$rc" = 2 ] && grep -q "'check'" "$T/err" && grep -q "'regex'" "$T/err"; ok $? "a bad check and a bad regex are refused (exit 2, each named)" || diag <"$T/err"
printf '{"id":"x","version":"1_0","policies":[{"id":"p","version":"1_0","rules":[{"id":"r","gate":"retrieved_files","trigger":"content_not_available","action":"STOP","params":[{"name":"path","value":"etc/x"}]}]}]}' >"$T/bad-p2.json"
"$STRATA" audit --policy "$T/bad-p2.json" "$T/good-img.tar" >/dev/null 2>"$T/err"; rc=$?
[ "$rc" = 2 ] && grep -q "absolute" "$T/err"; ok $? "a relative path is refused (exit 2)" || diag <"$T/err"
tap_done
