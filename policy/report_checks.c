/* policy/report_checks.c — findings/checks.json (issue 5): the file, account and configuration
 * checks of audit/checks.c as a JSON array of {check, severity, path, layer, detail} in check
 * order (path null and layer null for image-config checks). Details never carry a password hash
 * or a secret value. */
#include "policy_int.h"

#include <jansson.h>
#include <string.h>

static void checks_add(void *ctx, const struct audit_check_finding *f)
{
	json_t *arr = ctx;
	json_t *o = json_object();
	if (!o)
		abort();
	json_object_set_new(o, "check", json_string(f->check));
	json_object_set_new(o, "severity", json_string(f->severity));
	json_object_set_new(o, "path", f->path ? json_string(f->path) : json_null());
	json_object_set_new(o, "layer", f->layer > 0 ? json_integer(f->layer) : json_null());
	json_object_set_new(o, "detail", json_string(f->detail ? f->detail : ""));
	if (json_array_append_new(arr, o) < 0)
		abort();
}

int checks_render_json(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	json_t *arr = json_array();
	if (!arr)
		abort();
	if (audit_checks_run(db, checks_add, arr, err) < 0) {
		json_decref(arr);
		return strata_err_wrap(err, "findings/checks.json");
	}
	*out = policy_json_text(arr, len);
	json_decref(arr);
	return 0;
}
