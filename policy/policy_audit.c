/* policy/policy_audit.c — the public entry points `strata audit` uses (policy/policy.h): the
 * default bundle's text, validation of a bundle file with every problem reported, and one
 * evaluation rendered in the requested format. */
#include "policy_int.h"

#include <string.h>

const char *policy_default_bundle_text(size_t *len)
{
	return policy_bundle_default_text(len);
}

static struct policy_bundle *audit_bundle_open(const char *path, struct strata_err **err)
{
	return path ? policy_bundle_load(path, err) : policy_bundle_default(err);
}

int policy_bundle_check_file(const char *path, void (*problem)(void *ctx, const char *line), void *ctx,
			     struct strata_err **err)
{
	struct policy_bundle *b = audit_bundle_open(path, err);
	if (!b)
		return -1;
	for (size_t i = 0; i < b->nproblems; i++)
		problem(ctx, b->problems[i]);
	int n = (int)b->nproblems;
	policy_bundle_free(b);
	return n;
}

int policy_audit_run(struct index_db *db, const char *path, const char *tag, const char *format, char **out,
		     size_t *len, struct strata_err **err)
{
	struct policy_bundle *b = audit_bundle_open(path, err);
	if (!b)
		return -1;
	if (b->nproblems) {
		strata_err_set(err, STRATA_EFORMAT, "%s: %s", path ? path : "default policy", b->problems[0]);
		policy_bundle_free(b);
		return -1;
	}
	struct policy_result *r = NULL;
	if (policy_evaluate(b, db, tag, &r, err) < 0) {
		policy_bundle_free(b);
		return -1;
	}
	if (!strcmp(format, "json"))
		*out = policy_out_json(r, len);
	else if (!strcmp(format, "sarif"))
		*out = policy_out_sarif(r, len);
	else if (!strcmp(format, "junit"))
		*out = policy_out_junit(r, len);
	else if (!strcmp(format, "verdict"))
		*out = policy_out_verdict(r, len);
	else
		*out = policy_out_text(r, len);
	int action = (int)r->final_action;
	policy_result_free(r);
	policy_bundle_free(b);
	return action;
}
