#!/bin/bash
# tests/integration/secret_rules.sh — issue 5's secret options on `strata index`: a rules file with
# one custom rule finds a custom token (and, replacing the built-in rules, nothing else); +FILE
# extends the built-in rules; the rules file changes the index's rules hash (rebuilt, then reused);
# a bad rules file or a bad --secret-max-size is one clear error line and exit 2; a file over
# --secret-max-size is not scanned. Image built with real tar and tools/mkimage.sh.
. "$(dirname "$0")/lib/common.sh"
need_strata
command -v sqlite3 >/dev/null || { echo "1..0 # SKIP needs sqlite3"; exit 77; }
rnd() { tr -dc "$1" </dev/urandom | head -c "$2"; }
tok="ACMEX-$(rnd 0-9a-f 20)"
gh="gh""p_$(rnd A-Za-z0-9 36)"
mkdir -p "$T/root/app"
printf 'token = %s\n' "$tok" >"$T/root/app/conf.txt"
printf 'GITHUB_TOKEN=%s\n' "$gh" >"$T/root/app/env.txt"
tar -C "$T/root" -cf "$T/l1.tar" app
bash "$REPO/tools/mkimage.sh" --form docker -o "$T/img.tar" "$T/l1.tar" >/dev/null
cat >"$T/rules.json" <<'R'
{"rules":[{"id":"acme-token","description":"ACME token","keywords":["ACMEX-"],"pattern":"(?<secret>ACMEX-[0-9a-f]{20})"}]}
R
rules() { sqlite3 "$1" 'SELECT rule || " " || path FROM secret ORDER BY rule, path'; }
built() { grep -q "^index .*(built)" "$1"; }

"$STRATA" index -q -i "$T/a.db" "$T/img.tar" >"$T/o1"
! rules "$T/a.db" | grep -q '^acme-token'; ok $? "built-in rules do not know the custom token"
"$STRATA" index -q --secret-rules "$T/rules.json" -i "$T/a.db" "$T/img.tar" >"$T/o2"
ok $? "--secret-rules FILE: index exits 0"
built "$T/o2"; ok $? "a rules file changes the rules hash: the index is rebuilt"
[ "$(rules "$T/a.db")" = "acme-token /app/conf.txt" ]; ok $? "replacing rules: only the custom token is found"
"$STRATA" index -q --secret-rules "+$T/rules.json" -i "$T/a.db" "$T/img.tar" >"$T/o3"
r=$(rules "$T/a.db")
echo "$r" | grep -q '^acme-token /app/conf.txt$' && echo "$r" | grep -q ' /app/env.txt$'
ok $? "--secret-rules +FILE extends the built-in rules (custom and built-in finding)"
"$STRATA" index -q --secret-rules "+$T/rules.json" -i "$T/a.db" "$T/img.tar" >"$T/o4"
built "$T/o4" && fail "same rules: the index is reused" || pass "same rules: the index is reused"
echo '{' >"$T/bad.json"
"$STRATA" index -q --secret-rules "$T/bad.json" -i "$T/b.db" "$T/img.tar" >/dev/null 2>"$T/e1"
[ $? = 2 ] && one_line_err "$T/e1" && grep -q bad.json "$T/e1"
ok $? "bad rules file: one error line naming it, exit 2"
"$STRATA" index -q --secret-max-size abc -i "$T/c.db" "$T/img.tar" >/dev/null 2>"$T/e2"
[ $? = 2 ] && one_line_err "$T/e2"; ok $? "bad --secret-max-size: one error line, exit 2"
"$STRATA" index -q --secret-rules "$T/rules.json" --secret-max-size 16 -i "$T/d.db" "$T/img.tar" >/dev/null
[ -z "$(rules "$T/d.db")" ]; ok $? "--secret-max-size 16: the 35-byte file is not scanned"
tap_done
