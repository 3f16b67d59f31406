# tests/integration/lib/policy.sh — one-rule policy runs for the gate tests (source after common.sh).

# one_rule_audit DB GATE TRIGGER [NAME=VALUE]...: writes a bundle with that one rule (action WARN,
# mapped to every image) to $T/bundle.json and runs `strata audit --format json` on DB: the result
# in $T/audit.json, stderr in $T/audit.err, the exit status in $T/rc.
one_rule_audit() {
	local db=$1 gate=$2 trig=$3 params='[]' kv
	shift 3
	for kv in "$@"; do
		params=$(jq -c --arg n "${kv%%=*}" --arg v "${kv#*=}" '. + [{name: $n, value: $v}]' <<<"$params")
	done
	jq -n --arg g "$gate" --arg t "$trig" --argjson p "$params" '{id: "t", version: "1_0",
		policies: [{id: "p", version: "1_0", rules: [{id: "r", gate: $g, trigger: $t, action: "WARN", params: $p}]}],
		mappings: [{id: "m", name: "all", registry: "*", repository: "*", image: {type: "tag", value: "*"}, policy_ids: ["p"]}]}' >"$T/bundle.json"
	"$STRATA" audit --policy "$T/bundle.json" --format json "$db" >"$T/audit.json" 2>"$T/audit.err"
	echo $? >"$T/rc"
}
