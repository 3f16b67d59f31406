# tests/integration/lib/policy.sh — one-rule policy runs for the gate tests (source after common.sh).

# one_rule_audit DB GATE TRIGGER [NAME=VALUE]...: writes a bundle with that one rule (action WARN,
# mapped to every image) to $T/bundle.json and runs `strata audit --format json` on DB: the result
# in $T/audit.json, stderr in $T/audit.err, the exit status in $T/rc.
one_rule_audit() {
	local db=$1 gate=$2 trig=$3
	shift 3
	# One jq: the params from the NAME=VALUE words (split at the first "=")
	jq -n --arg g "$gate" --arg t "$trig" '($ARGS.positional | map(index("=") as $i |
		if $i then {name: .[:$i], value: .[$i + 1:]} else {name: ., value: .} end)) as $p | {id: "t", version: "1_0",
		policies: [{id: "p", version: "1_0", rules: [{id: "r", gate: $g, trigger: $t, action: "WARN", params: $p}]}],
		mappings: [{id: "m", name: "all", registry: "*", repository: "*", image: {type: "tag", value: "*"}, policy_ids: ["p"]}]}' \
		--args "$@" >"$T/bundle.json"
	"$STRATA" audit --policy "$T/bundle.json" --format json "$db" >"$T/audit.json" 2>"$T/audit.err"
	echo $? >"$T/rc"
}

# Batched one-rule checks. Every `strata audit` process costs ~0.3 s under ASan+LeakSanitizer, so
# consecutive checks on one index run as one audit: each rule in a policy of its own (p1, p2, …,
# all mapped to every image), each rule's findings are the rows of its Policy_Id.
# batch_check CHECK [ARG]... -- DB GATE TRIGGER [NAME=VALUE]...: queues the rule (a rule on another
# DB runs the queue first). batch_flush: runs the queue as one strata audit, then each CHECK ARG...
# in order, with $BATCH_FOUND a file of that rule's findings, one "gate<TAB>trigger_id<TAB>
# Check_Output" line each, and $BATCH_RC the status of strata audit ($T/audit.json, audit.err and
# rc are left as one_rule_audit leaves them). The queue must run before anything prints a TAP line
# or reads those files, and not inside a pipeline or a redirection (its TAP lines go to stdout and
# the queue lives in this shell): see policy_gates_pkg.sh.
BATCH_DB="" BATCH_CHECKS=() BATCH_ARGS=()
batch_check() {
	local check=()
	while [ "$1" != -- ]; do check+=("$1"); shift; done
	shift
	[ -n "$BATCH_DB" ] && [ "$BATCH_DB" != "$1" ] && batch_flush
	BATCH_DB=$1
	shift
	BATCH_CHECKS+=("$(printf '%q ' "${check[@]}")")
	BATCH_ARGS+=("$@" $'\1') # the rule's gate, trigger and params; \1 ends them
}
batch_flush() {
	[ ${#BATCH_CHECKS[@]} = 0 ] && return 0
	local db=$BATCH_DB checks=("${BATCH_CHECKS[@]}") args=("${BATCH_ARGS[@]}") k
	BATCH_DB="" BATCH_CHECKS=() BATCH_ARGS=()
	jq -n '[foreach ($ARGS.positional[], "\u0001") as $a ({cur: [], out: null};
			if $a == "\u0001" then {cur: [], out: .cur} else {cur: (.cur + [$a]), out: null} end;
			.out // empty)] | map(select(length > 0)) | to_entries | map(.value as $r | {id: "p\(.key + 1)", version: "1_0",
			rules: [{id: "r\(.key + 1)", gate: $r[0], trigger: $r[1], action: "WARN", params: ($r[2:] | map(index("=") as $i |
				if $i then {name: .[:$i], value: .[$i + 1:]} else {name: ., value: .} end))}]}) | {id: "t", version: "1_0",
		policies: ., mappings: [{id: "m", name: "all", registry: "*", repository: "*", image: {type: "tag", value: "*"},
			policy_ids: map(.id)}]}' --args "${args[@]}" >"$T/bundle.json"
	"$STRATA" audit --policy "$T/bundle.json" --format json "$db" >"$T/audit.json" 2>"$T/audit.err"
	echo $? >"$T/rc"
	# shellcheck disable=SC2034 # read by the CHECK functions
	BATCH_RC=$(cat "$T/rc")
	rm -rf "$T/batch" && mkdir -p "$T/batch"
	for k in "${!checks[@]}"; do : >"$T/batch/$((k + 1))"; done
	jq -r '.. | objects | select(has("rows")) | (.header | index("Policy_Id")) as $p | .rows[] |
		"\(.[$p] | ltrimstr("p"))\t\(.[3])\t\(.[2])\t\(.[5])"' "$T/audit.json" 2>/dev/null |
		awk -F'\t' -v d="$T/batch" '{ f = d "/" $1; sub(/^[^\t]*\t/, ""); print >>f; close(f) }'
	for k in "${!checks[@]}"; do
		# shellcheck disable=SC2034 # read by the CHECK function
		BATCH_FOUND=$T/batch/$((k + 1))
		eval "${checks[$k]}"
	done
}
# batch_hook_tap: ok, skip and tap_done run the queue first (so TAP lines keep their order).
batch_hook_tap() {
	eval "batch_tap_ok() $(declare -f ok | sed 1d)"
	eval "batch_tap_skip() $(declare -f skip | sed 1d)"
	eval "batch_tap_done() $(declare -f tap_done | sed 1d)"
	ok() { batch_flush; batch_tap_ok "$@"; }
	skip() { batch_flush; batch_tap_skip "$@"; }
	tap_done() { batch_flush; batch_tap_done; }
}
