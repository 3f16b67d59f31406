/* policy/gate_always.c — Anchore's `always` gate: trigger `always` fires once, unconditionally
 * (for image deny/allow lists by mapping and for testing mappings and allowlists). */
#include "policy_int.h"

static int always_eval(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	(void)err;
	const struct policy_match m = {.message = "Unconditional trigger match", .visible = -1};
	policy_eval_fire(ev, r, &m);
	return 0;
}

static const struct policy_param_def always_params[] = {{NULL, POLICY_PARAM_STRING, false, NULL, NULL}};

static const struct policy_trigger_def always_triggers[] = {
    {"always", NULL,
     "Fires if present in a policy being evaluated: for deny-listing images or testing mappings and "
     "allowlists",
     always_params, NULL, always_eval},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct policy_gate_def policy_gate_always = {"always", "Triggers that fire unconditionally",
						   always_triggers};
