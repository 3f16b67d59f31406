/* policy/policy_out.c — an evaluation as files: verdict (one line), report.json (Anchore's
 * evaluate-check shape: [{digest: {tag: [{detail: {policy, result: {…, result: {image_id:
 * {result: {header, rows, row_count, final_action}}}}}, status, policyId, last_evaluation}]}}]
 * with strata's columns Path, Layer, Visible appended to every row and a "strata" object),
 * findings/<gate>.json, report.txt (a table for people), and the /.audit renderers over the
 * cached evaluation. SARIF and JUnit are in policy/policy_out_ci.c. */
#include "policy_int.h"

#include <stdarg.h>
#include <string.h>

static char *out_take(char *s, size_t *len)
{
	if (!s)
		abort();
	*len = strlen(s);
	return s;
}

char *policy_json_text(const json_t *j, size_t *len)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!s)
		abort();
	char *r = xasprintf("%s\n", s);
	free(s);
	*len = strlen(r);
	return r;
}

static char *out_json_dump(json_t *j, size_t *len)
{
	char *r = policy_json_text(j, len);
	json_decref(j);
	return r;
}

char *policy_out_verdict(const struct policy_result *r, size_t *len)
{
	size_t stop = 0, warn = 0, allowed = 0;
	for (size_t i = 0; i < r->nf; i++) {
		if (r->f[i].allowlist_id)
			allowed++;
		else if (r->f[i].effective == POLICY_STOP)
			stop++;
		else if (r->f[i].effective == POLICY_WARN)
			warn++;
	}
	return out_take(xasprintf("%s stop=%zu warn=%zu allowlisted=%zu reason=%s policy=%s\n", r->verdict,
				  stop, warn, allowed, r->final_action_reason,
				  r->default_policy ? "default"
				  : r->npolicy_ids  ? r->policy_ids[0]
						    : "-"),
			len);
}

/* One finding as a strata JSON object. */
static json_t *out_finding_obj(const struct policy_result *r, const struct policy_finding *f)
{
	json_t *o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "gate", f->gate, "trigger", f->trigger, "trigger_id",
	    f->trigger_id, "message", f->message, "action", policy_action_name(f->action), "effective_action",
	    policy_action_name(f->effective), "rule_id", f->rule_id, "policy_id", f->policy_id);
	if (!o)
		abort();
	json_object_set_new(o, "path", f->path ? json_string(f->path) : json_null());
	json_object_set_new(o, "layer", f->layer ? json_integer(f->layer) : json_null());
	json_object_set_new(o, "visible", f->visible < 0 ? json_null() : json_boolean(f->visible));
	if (f->allowlist_id)
		json_object_set_new(o, "allowlisted",
				    json_pack("{s:s, s:s, s:s}", "allowlist_id", f->allowlist_id,
					      "allowlist_name", f->allowlist_name, "item_id",
					      f->allowlist_item));
	else
		json_object_set_new(o, "allowlisted", json_false());
	if (f->detail_json) {
		json_t *d = json_loads(f->detail_json, 0, NULL);
		if (d)
			json_object_set_new(o, "detail", d);
	}
	(void)r;
	return o;
}

char *policy_out_findings(const struct policy_result *r, const char *gate, size_t *len)
{
	json_t *a = json_array();
	for (size_t i = 0; i < r->nf; i++)
		if (!gate || !strcmp(r->f[i].gate, gate))
			json_array_append_new(a, out_finding_obj(r, &r->f[i]));
	return out_json_dump(a, len);
}

static json_t *out_strata(const struct policy_result *r)
{
	json_t *ids = json_array();
	for (size_t i = 0; i < r->npolicy_ids; i++)
		json_array_append_new(ids, json_string(r->policy_ids[i]));
	json_t *skipped = json_array();
	for (size_t i = 0; r->bundle && i < r->bundle->nskipped; i++)
		json_array_append_new(skipped, json_string(r->bundle->skipped[i]));
	json_t *findings = json_array();
	for (size_t i = 0; i < r->nf; i++)
		json_array_append_new(findings, out_finding_obj(r, &r->f[i]));
	json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:f, s:o, s:o}", "verdict", r->verdict,
			      "final_action", policy_action_name(r->final_action), "final_action_reason",
			      r->final_action_reason, "default_policy", r->default_policy, "mapping",
			      r->mapping_id || r->mapping_name
				  ? json_pack("{s:s?, s:s?}", "id", r->mapping_id, "name", r->mapping_name)
				  : json_null(),
			      "policy_ids", ids, "seconds", r->seconds, "skipped_rules", skipped, "findings",
			      findings);
	if (!o)
		abort();
	return o;
}

char *policy_out_json(const struct policy_result *r, size_t *len)
{
	json_t *header =
	    json_pack("[s,s,s,s,s,s,s,s,s,s,s,s]", "Image_Id", "Repo_Tag", "Trigger_Id", "Gate", "Trigger",
		      "Check_Output", "Gate_Action", "Whitelisted", "Policy_Id", "Path", "Layer", "Visible");
	json_t *rows = json_array();
	for (size_t i = 0; i < r->nf; i++) {
		const struct policy_finding *f = &r->f[i];
		json_t *wl = f->allowlist_id ? json_pack("{s:s, s:s, s:s}", "whitelist_name",
							 f->allowlist_name, "whitelist_id", f->allowlist_id,
							 "matched_rule_id", f->allowlist_item)
					     : json_false();
		json_t *row = json_pack("[s,s,s,s,s,s,s,o,s,o,o,o]", r->image_id, r->repo_tag, f->trigger_id,
					f->gate, f->trigger, f->message, policy_action_name(f->effective), wl,
					f->policy_id, f->path ? json_string(f->path) : json_null(),
					f->layer ? json_integer(f->layer) : json_null(),
					f->visible < 0 ? json_null() : json_boolean(f->visible));
		if (!row)
			abort();
		json_array_append_new(rows, row);
	}
	json_t *table = json_pack("{s:s, s:o, s:I, s:o}", "final_action", policy_action_name(r->final_action),
				  "header", header, "row_count", (json_int_t)r->nf, "rows", rows);
	json_t *inner = json_object();
	json_object_set_new(inner, r->image_id, json_pack("{s:o}", "result", table));
	json_t *policy = r->bundle ? json_deep_copy(r->bundle->root) : json_null();
	json_t *result =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:o, s:s, s:o}", "created_at", r->evaluated_at,
		      "last_modified", r->evaluated_at, "final_action", policy_action_name(r->final_action),
		      "final_action_reason", r->final_action_reason, "image_id", r->image_id,
		      "matched_whitelisted_images_rule", !strcmp(r->final_action_reason, "allowlisted"),
		      "matched_blacklisted_images_rule", !strcmp(r->final_action_reason, "denylisted"),
		      "result", inner, "tag", r->repo_tag, "evaluation_problems", json_array());
	if (!result)
		abort();
	json_object_set_new(result, "strata", out_strata(r));
	const char *pid = r->bundle && r->bundle->id ? r->bundle->id : "";
	json_t *eval =
	    json_pack("{s:{s:o, s:o}, s:s, s:s, s:s}", "detail", "policy", policy, "result", result,
		      "last_evaluation", r->evaluated_at, "policyId", pid, "status", r->verdict);
	if (!eval)
		abort();
	json_t *bytag = json_object();
	json_object_set_new(bytag, r->repo_tag, json_pack("[o]", eval));
	json_t *bydigest = json_object();
	json_object_set_new(bydigest, r->image_digest, bytag);
	return out_json_dump(json_pack("[o]", bydigest), len);
}

/* ---- report.txt ----------------------------------------------------------------------------- */

struct out_buf {
	char *p;
	size_t n, cap;
};

static void out_printf(struct out_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int k = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (k < 0)
		abort();
	if (b->n + (size_t)k + 1 > b->cap) {
		b->cap = (b->n + (size_t)k + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, s, (size_t)k + 1);
	b->n += (size_t)k;
	free(s);
}

char *policy_out_text(const struct policy_result *r, size_t *len)
{
	struct out_buf b = {0};
	out_printf(&b, "Image:    %s\nTag:      %s\nDigest:   %s\n", r->image_id,
		   *r->repo_tag ? r->repo_tag : "(none)", *r->image_digest ? r->image_digest : "(none)");
	out_printf(&b, "Policy:   %s%s", r->default_policy ? "built-in default (no mapping matched)" : "",
		   r->default_policy ? "\n" : "");
	if (!r->default_policy) {
		for (size_t i = 0; i < r->npolicy_ids; i++)
			out_printf(&b, "%s%s", i ? ", " : "", r->policy_ids[i]);
		out_printf(&b, "%s\n", r->mapping_id ? "" : " (no mappings in the bundle: all policies)");
	}
	out_printf(&b, "Verdict:  %s (final action %s: %s)\n\n", r->verdict,
		   policy_action_name(r->final_action), r->final_action_reason);
	size_t wg = 4, wt = 7, wp = 4;
	for (size_t i = 0; i < r->nf; i++) {
		wg = strlen(r->f[i].gate) > wg ? strlen(r->f[i].gate) : wg;
		wt = strlen(r->f[i].trigger) > wt ? strlen(r->f[i].trigger) : wt;
		size_t pl = r->f[i].path ? strlen(r->f[i].path) : 1;
		wp = pl > wp ? pl : wp;
	}
	wp = wp > 40 ? 40 : wp;
	out_printf(&b, "%-6s %-*s %-*s %-*s %5s %-7s %s\n", "ACTION", (int)wg, "GATE", (int)wt, "TRIGGER",
		   (int)wp, "PATH", "LAYER", "STATE", "MESSAGE");
	for (int pass = 2; pass >= 0; pass--)
		for (size_t i = 0; i < r->nf; i++) {
			const struct policy_finding *f = &r->f[i];
			if ((int)f->effective != pass)
				continue;
			char layer[16] = "-";
			if (f->layer)
				snprintf(layer, sizeof(layer), "%d", f->layer);
			const char *state = f->visible < 0 ? "-" : f->visible ? "visible" : "deleted";
			out_printf(&b, "%-6s %-*s %-*s %-*s %5s %-7s %s%s%s\n",
				   f->allowlist_id ? "go*" : policy_action_name(f->effective), (int)wg,
				   f->gate, (int)wt, f->trigger, (int)wp, f->path ? f->path : "-", layer,
				   state, f->message, f->allowlist_id ? "  [allowlisted by " : "",
				   f->allowlist_id ? f->allowlist_id : "");
			if (f->allowlist_id)
				out_printf(&b, "]\n");
		}
	if (!r->nf)
		out_printf(&b, "(no findings)\n");
	for (size_t i = 0; r->bundle && i < r->bundle->nskipped; i++)
		out_printf(&b, "note: skipped %s\n", r->bundle->skipped[i]);
	if (!b.p)
		b.p = xstrdup("");
	*len = b.n;
	return b.p;
}

/* ---- /.audit renderers over the cached evaluation ------------------------------------------ */

int policy_render_verdict(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	const struct policy_result *r = policy_cached_result(db, err);
	if (!r)
		return strata_err_wrap(err, "policy");
	*out = policy_out_verdict(r, len);
	return 0;
}

int policy_render_report_json(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	const struct policy_result *r = policy_cached_result(db, err);
	if (!r)
		return strata_err_wrap(err, "policy");
	*out = policy_out_json(r, len);
	return 0;
}

int policy_render_report_txt(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	const struct policy_result *r = policy_cached_result(db, err);
	if (!r)
		return strata_err_wrap(err, "policy");
	*out = policy_out_text(r, len);
	return 0;
}

int policy_render_policy_json(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	(void)db;
	(void)err;
	size_t n;
	const char *t = policy_bundle_in_effect(&n);
	*out = xmalloc(n + 2);
	memcpy(*out, t, n);
	size_t k = n;
	if (!n || t[n - 1] != '\n')
		(*out)[k++] = '\n';
	(*out)[k] = 0;
	*len = k;
	return 0;
}

int policy_render_findings_gate(struct index_db *db, const char *gate, char **out, size_t *len,
				struct strata_err **err)
{
	const struct policy_result *r = policy_cached_result(db, err);
	if (!r)
		return strata_err_wrap(err, "policy");
	*out = policy_out_findings(r, gate, len);
	return 0;
}

/* findings/<gate>.json: one renderer per gate name of Anchore's and strata's gates (the report
 * table needs fixed names; a gate not built gives []). */
#define POLICY_FINDINGS_RENDERER(g)                                                                          \
	int policy_render_findings_##g(struct index_db *db, char **out, size_t *len,                         \
				       struct strata_err **err)                                              \
	{                                                                                                    \
		return policy_render_findings_gate(db, #g, out, len, err);                                   \
	}
POLICY_FINDINGS_RENDERER(always)
POLICY_FINDINGS_RENDERER(packages)
POLICY_FINDINGS_RENDERER(licenses)
POLICY_FINDINGS_RENDERER(distro)
POLICY_FINDINGS_RENDERER(metadata)
POLICY_FINDINGS_RENDERER(ancestry)
POLICY_FINDINGS_RENDERER(secret_scans)
POLICY_FINDINGS_RENDERER(retrieved_files)
POLICY_FINDINGS_RENDERER(files)
POLICY_FINDINGS_RENDERER(passwd_file)
POLICY_FINDINGS_RENDERER(dockerfile)
POLICY_FINDINGS_RENDERER(attestation)
