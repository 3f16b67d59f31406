#!/bin/bash
# tests/integration/policy_gates_more.sh — issue 6's passwd_file denylist triggers (and their
# blacklist_* aliases) and trigger ids pinned against Anchore's message templates, end to end with
# `strata audit --policy FILE --format json`: an image made by tools/mkimage.sh from a real tar
# layer (an /etc/passwd, a setuid file). Expected trigger ids are computed here with md5sum over
# gate + Anchore's trigger name + the message written from Anchore's template by hand.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/policy.sh"
need_strata
command -v jq >/dev/null || { echo "1..0 # SKIP needs jq"; exit 77; }

mkdir -p "$T/l1/etc" "$T/l1/usr/bin"
printf 'root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\n  svc:*:998:55:Service:/srv:/usr/sbin/nologin  \n' >"$T/l1/etc/passwd"
printf 'x\n' >"$T/l1/usr/bin/su"; chmod 4755 "$T/l1/usr/bin/su"
tar --owner=0 --group=0 --mtime=@0 -C "$T/l1" -cf "$T/L1.tar" .
bash "$REPO/tools/mkimage.sh" --form docker -o "$T/img.tar" "$T/L1.tar" >/dev/null 2>"$T/mk.err" ||
	{ diag <"$T/mk.err"; echo "Bail out! mkimage"; exit 1; }
"$STRATA" index -q --index "$T/img.db" "$T/img.tar" >/dev/null || { echo "Bail out! indexing failed"; exit 1; }

# audit GATE TRIGGER [NAME=VALUE]...: "trigger_id<TAB>message" of that rule's findings, sorted.
audit() {
	# (in a pipeline or redirection the queue cannot run here: its TAP lines would go there)
	[ ${#BATCH_CHECKS[@]} = 0 ] || { echo "Bail out! batch_flush missing before audit $*"; exit 1; }
	one_rule_audit "$T/img.db" "$@"
	jq -r '.. | objects | select(has("rows")) | .rows[] | "\(.[2])\t\(.[5])"' "$T/audit.json" 2>/dev/null | LC_ALL=C sort
}
# messages and pinned are batched (lib/policy.sh batch_check: one strata audit for consecutive
# checks on $T/img.db; the queue runs before any other TAP line, before audit and before the
# index is rebuilt), each checked in order by messages_check or pinned_check.
# messages NAME EXPECTED GATE TRIGGER PARAMS...: ok when the findings' messages are exactly EXPECTED.
messages() {
	local name=$1 want=$2
	shift 2
	batch_check messages_check "$name" "$want" -- "$T/img.db" "$@"
}
messages_check() { # NAME EXPECTED
	cut -f3 "$BATCH_FOUND" | LC_ALL=C sort >"$T/got.txt"
	if [ "$(cat "$T/got.txt")" = "$2" ] && [ "$BATCH_RC" != 2 ]; then pass "$1"; else
		fail "$1 (exit $BATCH_RC)"
		cat "$T/got.txt" "$T/audit.err" | head -8 | diag
	fi
}
# pinned NAME GATE ANCHORE_TRIGGER MESSAGE TRIGGER PARAMS...: the one finding has MESSAGE and
# trigger id md5(GATE ANCHORE_TRIGGER MESSAGE).
pinned() {
	local name=$1 gate=$2 atrig=$3 msg=$4 id
	shift 4
	id=$(printf '%s%s%s' "$gate" "$atrig" "$msg" | md5sum | cut -d' ' -f1)
	batch_check pinned_check "$name" "$id" "$msg" -- "$T/img.db" "$gate" "$@"
}
pinned_check() { # NAME ID MESSAGE
	cut -f2- "$BATCH_FOUND" | LC_ALL=C sort >"$T/got.txt"
	if [ "$(cat "$T/got.txt")" = "$(printf '%s\t%s' "$2" "$3")" ]; then pass "$1 (trigger id $2)"; else
		fail "$1: want $2"
		cat "$T/got.txt" "$T/audit.err" | head -8 | diag
	fi
}
batch_hook_tap

APP='app:x:1000:1000::/home/app:/bin/sh'
SVC='svc:*:998:55:Service:/srv:/usr/sbin/nologin'
messages "denylist_usernames fires for a listed user" \
	"Blacklisted user 'app' found in image's /etc/passwd: pentry=$APP" passwd_file denylist_usernames user_names=app,ftp
messages "denylist_usernames does not fire for users not in /etc/passwd" "" passwd_file denylist_usernames user_names=ftp,games
messages "blacklist_usernames (alias) with usernameblacklist (alias) fires the same" \
	"Blacklisted user 'svc' found in image's /etc/passwd: pentry=$SVC" passwd_file blacklist_usernames usernameblacklist=svc
messages "denylist_userids fires for uid 1000" \
	"Blacklisted uid '1000' found in image's /etc/passwd: pentry=$APP" passwd_file denylist_userids user_ids=1000,4242
messages "denylist_userids does not fire for absent uids" "" passwd_file denylist_userids user_ids=4242
messages "denylist_groupids fires for gid 55 (a stripped, indented line)" \
	"Blacklisted gid '55' found in image's /etc/passwd: pentry=$SVC" passwd_file denylist_groupids group_ids=55
messages "denylist_groupids does not fire for absent gids" "" passwd_file denylist_groupids group_ids=1001
messages "denylist_shells fires for each user with the shell" \
	"Blacklisted shell '/bin/bash' found in image's /etc/passwd: pentry=root:x:0:0:root:/root:/bin/bash
Blacklisted shell '/bin/sh' found in image's /etc/passwd: pentry=$APP" passwd_file denylist_shells shells=/bin/sh,/bin/bash
messages "denylist_shells does not fire for an unused shell" "" passwd_file denylist_shells shells=/bin/zsh
messages "denylist_full_entry fires for the whole entry" \
	"Blacklisted pentry '$APP' found in image's /etc/passwd: pentry=$APP" passwd_file denylist_full_entry "entry= $APP "
messages "denylist_full_entry does not fire for a different entry" "" passwd_file denylist_full_entry \
	"entry=app:x:1000:1000::/home/app:/bin/bash"
batch_flush
audit passwd_file denylist_userids user_ids=root >/dev/null
[ "$(cat "$T/rc")" = 2 ]; ok $? "denylist_userids refuses a non-numeric id (exit 2)"
messages "content_not_available does not fire when /etc/passwd exists" "" passwd_file content_not_available

# Trigger ids: Anchore's md5 of gate + anchore-engine's trigger name + message.
pinned "passwd_file denylist_usernames: id hashes anchore-engine's name blacklist_usernames" passwd_file \
	blacklist_usernames "Blacklisted user 'app' found in image's /etc/passwd: pentry=$APP" denylist_usernames user_names=app
pinned "passwd_file blacklist_shells" passwd_file blacklist_shells \
	"Blacklisted shell '/usr/sbin/nologin' found in image's /etc/passwd: pentry=$SVC" blacklist_shells shells=/usr/sbin/nologin
pinned "retrieved_files content_not_available (Anchore's text names no path)" retrieved_files content_not_available \
	"Cannot locate file in the image analysis" content_not_available path=/etc/motd
pinned "files suid_or_guid_set (oct of the whole st_mode)" files suid_or_guid_set \
	"SUID or SGID found set on file /usr/bin/su. Mode: 0o104755" suid_or_guid_set
pinned "files name_match" files name_match \
	"Application of regex matched file found in container: file=/usr/bin/su regexp=.*/su\$" name_match 'regex=.*/su$'
pinned "dockerfile effective_user" dockerfile effective_user \
	"User root found as effective user, which is explicity not allowed" effective_user users=root type=blacklist
pinned "dockerfile no_dockerfile_provided" dockerfile no_dockerfile_provided \
	"Image was not analyzed with an actual Dockerfile" no_dockerfile_provided
pinned "metadata attribute" metadata attribute \
	"Attribute check for attribute: 'layer_count' check: '=' check_value: '1' matched image value: '1'" attribute \
	attribute=layer_count check== value=1
pinned "always" always always "Unconditional trigger match" always

# metadata attribute size with Anchore's units (kb mb gb tb, powers of 1024, any case): the message
# prints the value converted to bytes; the image's size is its layer tar's bytes (stat).
SIZE=$(stat -c %s "$T/L1.tar")
msize() { printf "Attribute check for attribute: 'size' check: '%s' check_value: '%s' matched image value: '%s'" "$1" "$2" "$SIZE"; }
messages "metadata size < 1gb fires, printing 1073741824" "$(msize '<' 1073741824)" metadata attribute \
	attribute=size 'check=<' value=1gb
messages "metadata size > 10MB (upper case unit) does not fire" "" metadata attribute attribute=size 'check=>' value=10MB
messages "metadata size >= 1kb fires, printing 1024" "$(msize '>=' 1024)" metadata attribute attribute=size \
	'check=>=' value=1kb
messages "metadata size = the tar's bytes (no unit) fires" "$(msize '=' "$SIZE")" metadata attribute attribute=size \
	check== "value=$SIZE"
messages "metadata size = 1kb does not fire" "" metadata attribute attribute=size check== value=1kb
pinned "metadata size < 1tb (trigger id over the converted value)" metadata attribute "$(msize '<' 1099511627776)" \
	attribute attribute=size 'check=<' value=1TB
for bad in 512k 1pb 1.5gb kb 99999999999tb; do
	batch_flush
	audit metadata attribute attribute=size 'check=>' "value=$bad" >/dev/null
	[ "$(cat "$T/rc")" = 2 ] && grep -q 'kb, mb, gb or tb' "$T/audit.err"
	ok $? "metadata size value '$bad' is refused (exit 2, names the units)"
done

# passwd_file denylist_shells under Anchore's other alias shellmatch (its trigger name stays blacklist_shells).
messages "shellmatch (alias of denylist_shells) fires" \
	"Blacklisted shell '/usr/sbin/nologin' found in image's /etc/passwd: pentry=$SVC" passwd_file shellmatch \
	shells=/usr/sbin/nologin
messages "shellmatch does not fire for an unused shell" "" passwd_file shellmatch shells=/bin/zsh
pinned "passwd_file shellmatch: id hashes anchore-engine's name blacklist_shells" passwd_file blacklist_shells \
	"Blacklisted shell '/bin/sh' found in image's /etc/passwd: pentry=$APP" SHELLMATCH shells=/bin/sh

# files attribute_match: sha256 from sha256sum of the file put in the layer, modes as Anchore prints them.
SU=$(sha256sum <"$T/l1/usr/bin/su" | cut -d' ' -f1)
messages "attribute_match checksum equals fires" \
	"filename=/usr/bin/su and checksum=$SU op=equals specified_checksum=$SU" files attribute_match \
	filename=/usr/bin/su checksum_algorithm=sha256 "checksum=$SU" checksum_match=equals
messages "attribute_match checksum not_equals does not fire on the same sum" "" files attribute_match \
	filename=/usr/bin/su "checksum=$SU" checksum_match=not_equals
messages "attribute_match checksum and mode (both must hold) fires" \
	"filename=/usr/bin/su and checksum=$SU op=equals specified_checksum=$SU and mode=0o4755 op=equals specified_mode=0o4755" \
	files attribute_match filename=/usr/bin/su "checksum=$SU" mode=04755 mode_op=equals
messages "attribute_match mode not_equals fires on another mode" \
	"filename=/etc/passwd and mode=0o644 op=not_equals specified_mode=0o600" files attribute_match \
	filename=/etc/passwd mode=0600 mode_op=not_equals
messages "attribute_match mode equals does not fire on another mode" "" files attribute_match filename=/etc/passwd mode=0600
messages "attribute_match on a missing file does not fire (skip_missing defaults to true)" "" files attribute_match \
	filename=/etc/shadow mode=0600
messages "attribute_match on a missing file with skip_missing=false fires" \
	"filename=/etc/shadow and skip_missing=False" files attribute_match filename=/etc/shadow skip_missing=false

# files content_regex_match: regex_name is the regex (strata has no analyzer config), per line.
messages "content_regex_match fires for the file with a matching line (^ is a line start)" \
	"File content analyzer found regexp match in container: file=/etc/passwd regexp=^app:" files \
	content_regex_match 'regex_name=^app:'
messages "content_regex_match with path_regex limits the files" "" files content_regex_match 'regex_name=^app:' \
	'path_regex=^/usr/'
messages "content_regex_match does not fire without a matching line" "" files content_regex_match 'regex_name=^ftp:'

# dockerfile instruction over the Dockerfile guessed from the history (mkimage --created-by writes
# each layer's history line): a classic-builder #(nop) line, a classic RUN, a BuildKit line.
bash "$REPO/tools/mkimage.sh" --form docker --created-by '/bin/sh -c #(nop)  USER app' \
	--created-by '/bin/sh -c apt-get update' --created-by 'WORKDIR /srv # buildkit' \
	-o "$T/hist.tar" "$T/L1.tar" "$T/L1.tar" "$T/L1.tar" >/dev/null 2>"$T/mk.err" ||
	{ diag <"$T/mk.err"; echo "Bail out! mkimage"; exit 1; }
batch_flush
"$STRATA" index -q --index "$T/img.db" "$T/hist.tar" >/dev/null || { echo "Bail out! indexing failed"; exit 1; }
messages "instruction USER = app fires for the #(nop) line" \
	"Dockerfile directive 'USER' check '=' matched against 'app' for line 'app'" dockerfile instruction \
	instruction=USER check== value=app
messages "instruction USER = root does not fire" "" dockerfile instruction instruction=USER check== value=root
messages "instruction RUN like apt-get fires for the classic RUN line" \
	"Dockerfile directive 'RUN' check 'like' matched against 'apt-get' for line '/bin/sh -c apt-get update'" \
	dockerfile instruction instruction=RUN check=like value=apt-get
messages "instruction WORKDIR exists fires for the BuildKit line" \
	"Dockerfile directive 'WORKDIR' check 'exists' matched against '' for line '/srv'" dockerfile instruction \
	instruction=WORKDIR check=exists
messages "instruction HEALTHCHECK not_exists fires once" \
	"Dockerfile directive 'HEALTHCHECK' not found, matching condition 'not_exists' check" dockerfile instruction \
	instruction=HEALTHCHECK check=not_exists
messages "instruction USER not_exists does not fire" "" dockerfile instruction instruction=USER check=not_exists
messages "instruction with actual_dockerfile_only=true never fires (strata has no Dockerfile)" "" dockerfile \
	instruction instruction=USER check=exists actual_dockerfile_only=true

# licenses on SPDX expressions (npm package.json licenses, as the catalog reads them): OR is the
# user's choice (fires only when every alternative is denied), AND and WITH parts all apply.
mkdir -p "$T/n/usr/lib/node_modules/"{dual,both,alt,exc}
nm() { printf '{"name":"%s","version":"1.0.0","license":"%s"}\n' "$1" "$2" >"$T/n/usr/lib/node_modules/$1/package.json"; }
nm dual '(BSD-3-Clause OR GPL-2.0-only)'
nm both 'MIT AND GPL-2.0-only'
nm alt 'GPL-2.0-only OR AGPL-3.0-only'
nm exc 'MIT WITH Classpath-exception-2.0'
tar --owner=0 --group=0 --mtime=@0 -C "$T/n" -cf "$T/N.tar" .
bash "$REPO/tools/mkimage.sh" --form docker -o "$T/npm.tar" "$T/N.tar" >/dev/null 2>"$T/mk.err" ||
	{ diag <"$T/mk.err"; echo "Bail out! mkimage"; exit 1; }
batch_flush
"$STRATA" index -q --index "$T/img.db" "$T/npm.tar" >/dev/null || { echo "Bail out! indexing failed"; exit 1; }
messages "exact GPL-2.0-only: the AND expression fires, the OR with BSD-3-Clause (allowed) does not" \
	"LICFULLMATCH Packages are installed that have blacklisted licenses: both(MIT AND GPL-2.0-only)" \
	licenses denylist_exact_match licenses=GPL-2.0-only
messages "exact GPL-2.0-only and AGPL-3.0-only: the OR of two denied alternatives fires" \
	"LICFULLMATCH Packages are installed that have blacklisted licenses: alt(GPL-2.0-only OR AGPL-3.0-only), both(MIT AND GPL-2.0-only)" \
	licenses denylist_exact_match licenses=GPL-2.0-only,AGPL-3.0-only
messages "exact on a WITH exception fires" \
	"LICFULLMATCH Packages are installed that have blacklisted licenses: exc(MIT WITH Classpath-exception-2.0)" \
	licenses blacklist_exact_match licenses=Classpath-exception-2.0
messages "exact: the whole OR expression listed fires" \
	"LICFULLMATCH Packages are installed that have blacklisted licenses: dual((BSD-3-Clause OR GPL-2.0-only))" \
	licenses denylist_exact_match "licenses=(BSD-3-Clause OR GPL-2.0-only)"
messages "partial GPL: alt (both alternatives GPL) and both (AND) fire, dual (BSD choice) does not" \
	"LICSUBMATCH Packages are installed that have blacklisted licenses: alt(GPL-2.0-only OR AGPL-3.0-only), both(MIT AND GPL-2.0-only)" \
	licenses denylist_partial_match licenses=GPL
messages "partial Apache fires for nothing" "" licenses denylist_partial_match licenses=Apache
tap_done
