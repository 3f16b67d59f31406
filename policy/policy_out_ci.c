/* policy/policy_out_ci.c — an evaluation for CI systems: SARIF 2.1.0 (one reportingDescriptor per
 * gate/trigger of the table that fired, one result per finding: stop → error, warn → warning,
 * go → note; allowlisted findings carry an external suppression; the file path as the artifact
 * location; Anchore's trigger id as a partial fingerprint) and JUnit XML (one testsuite per
 * policy, one testcase per rule: a rule without findings passes, a stop finding is a failure, a
 * warn finding is reported in system-out, an allowlisted one is skipped). */
#include "policy_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>

/* RFC 3986 path of an image file, relative (no leading '/'), unsafe bytes percent-encoded. */
static char *ci_uri(const char *path)
{
	while (*path == '/')
		path++;
	size_t n = strlen(path);
	char *o = xmalloc(3 * n + 1), *p = o;
	for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
		if (isalnum(*s) || strchr("/-._~!$&'()*+,;=:@", *s))
			*p++ = (char)*s;
		else
			p += sprintf(p, "%%%02X", *s);
	}
	*p = 0;
	return o;
}

char *policy_out_sarif(const struct policy_result *r, size_t *len)
{
	json_t *rules = json_array(), *results = json_array();
	for (size_t i = 0; i < r->nf; i++) {
		const struct policy_finding *f = &r->f[i];
		cleanup_free char *rid = xasprintf("%s/%s", f->gate, f->trigger);
		size_t idx = json_array_size(rules);
		for (size_t k = 0; k < json_array_size(rules); k++)
			if (!strcmp(json_string_value(json_object_get(json_array_get(rules, k), "id")), rid))
				idx = k;
		if (idx == json_array_size(rules)) {
			const struct policy_trigger_def *t =
			    policy_trigger_find(policy_gate_find(f->gate), f->trigger);
			json_array_append_new(rules, json_pack("{s:s, s:s, s:{s:s}}", "id", rid, "name",
							       f->trigger, "shortDescription", "text",
							       t && t->description ? t->description : rid));
		}
		const char *level = f->action == POLICY_STOP   ? "error"
				    : f->action == POLICY_WARN ? "warning"
							       : "note";
		json_t *res = json_pack("{s:s, s:I, s:s, s:{s:s}, s:{s:s}}", "ruleId", rid, "ruleIndex",
					(json_int_t)idx, "level", level, "message", "text", f->message,
					"partialFingerprints", "anchoreTriggerId/v1", f->trigger_id);
		if (!res)
			abort();
		if (f->path) {
			cleanup_free char *uri = ci_uri(f->path);
			json_object_set_new(
			    res, "locations",
			    json_pack("[{s:{s:{s:s}}}]", "physicalLocation", "artifactLocation", "uri", uri));
		}
		json_t *props =
		    json_pack("{s:s, s:s, s:s, s:s}", "policy_id", f->policy_id, "rule_id", f->rule_id,
			      "gate_action", policy_action_name(f->effective), "trigger_id", f->trigger_id);
		if (f->layer)
			json_object_set_new(props, "layer", json_integer(f->layer));
		if (f->visible >= 0)
			json_object_set_new(props, "visible", json_boolean(f->visible));
		json_object_set_new(res, "properties", props);
		if (f->allowlist_id) {
			cleanup_free char *why =
			    xasprintf("allowlist %s item %s", f->allowlist_id, f->allowlist_item);
			json_object_set_new(
			    res, "suppressions",
			    json_pack("[{s:s, s:s}]", "kind", "external", "justification", why));
		}
		json_array_append_new(results, res);
	}
	json_t *doc =
	    json_pack("{s:s, s:s, s:[{s:{s:{s:s, s:s, s:o}}, s:o, s:{s:s, s:s, s:s, s:s}}]}", "$schema",
		      "https://json.schemastore.org/sarif-2.1.0.json", "version", "2.1.0", "runs", "tool",
		      "driver", "name", "strata", "version", STRATA_VERSION, "rules", rules, "results",
		      results, "properties", "verdict", r->verdict, "final_action",
		      policy_action_name(r->final_action), "image_id", r->image_id, "repo_tag", r->repo_tag);
	if (!doc)
		abort();
	char *o = policy_json_text(doc, len);
	json_decref(doc);
	return o;
}

/* ---- JUnit ------------------------------------------------------------------------------------ */

struct ci_buf {
	char *p;
	size_t n, cap;
};

static void ci_put(struct ci_buf *b, const char *s, size_t k)
{
	if (b->n + k + 1 > b->cap) {
		b->cap = (b->n + k + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, s, k);
	b->n += k;
	b->p[b->n] = 0;
}

static void ci_printf(struct ci_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ci_printf(struct ci_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int k = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (k < 0)
		abort();
	ci_put(b, s, (size_t)k);
	free(s);
}

/* Text escaped for an XML attribute or element; control characters XML 1.0 forbids dropped. */
static void ci_xml(struct ci_buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '&':
			ci_put(b, "&amp;", 5);
			break;
		case '<':
			ci_put(b, "&lt;", 4);
			break;
		case '>':
			ci_put(b, "&gt;", 4);
			break;
		case '"':
			ci_put(b, "&quot;", 6);
			break;
		case '\'':
			ci_put(b, "&apos;", 6);
			break;
		case '\n':
			ci_put(b, "&#10;", 5);
			break;
		case '\t':
			ci_put(b, "&#9;", 4);
			break;
		default:
			if (*p >= 0x20)
				ci_put(b, (const char *)p, 1);
		}
	}
}

static void ci_testcase(struct ci_buf *b, const struct policy_rule *rule, const struct policy_finding *f)
{
	ci_printf(b, "    <testcase classname=\"");
	ci_xml(b, rule->gate);
	ci_printf(b, ".");
	ci_xml(b, rule->trigger);
	ci_printf(b, "\" name=\"");
	ci_xml(b, rule->id);
	if (f) {
		ci_printf(b, ": ");
		ci_xml(b, f->message);
		if (f->path) {
			ci_printf(b, " (");
			ci_xml(b, f->path);
			ci_printf(b, ")");
		}
	}
	ci_printf(b, "\" time=\"0\"");
	if (!f) {
		ci_printf(b, "/>\n");
		return;
	}
	ci_printf(b, ">\n");
	if (f->allowlist_id) {
		ci_printf(b, "      <skipped message=\"allowlisted by ");
		ci_xml(b, f->allowlist_id);
		ci_printf(b, "\"/>\n");
	} else if (f->effective == POLICY_STOP) {
		ci_printf(b, "      <failure type=\"stop\" message=\"");
		ci_xml(b, f->message);
		ci_printf(b, "\">trigger_id ");
		ci_xml(b, f->trigger_id);
		ci_printf(b, "</failure>\n");
	} else {
		ci_printf(b, "      <system-out>%s: ", policy_action_name(f->effective));
		ci_xml(b, f->message);
		ci_printf(b, "</system-out>\n");
	}
	ci_printf(b, "    </testcase>\n");
}

char *policy_out_junit(const struct policy_result *r, size_t *len)
{
	struct ci_buf b = {0};
	size_t total = 0, failures = 0;
	const struct policy_bundle *bu = r->bundle;
	ci_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	struct ci_buf body = {0};
	for (size_t p = 0; bu && p < bu->npolicies; p++) {
		const struct policy_set *ps = &bu->policies[p];
		bool mapped = false;
		for (size_t k = 0; k < r->npolicy_ids; k++)
			mapped |= !strcmp(r->policy_ids[k], ps->id);
		if (!mapped)
			continue;
		size_t tests = 0, fails = 0, skipped = 0;
		struct ci_buf cases = {0};
		for (size_t i = 0; i < ps->nrules; i++) {
			const struct policy_rule *rule = &ps->rules[i];
			bool any = false;
			for (size_t j = 0; j < r->nf; j++) {
				const struct policy_finding *f = &r->f[j];
				if (strcmp(f->policy_id, ps->id) || strcmp(f->rule_id, rule->id))
					continue;
				any = true;
				tests++;
				fails += !f->allowlist_id && f->effective == POLICY_STOP;
				skipped += f->allowlist_id != NULL;
				ci_testcase(&cases, rule, f);
			}
			if (!any) {
				tests++;
				ci_testcase(&cases, rule, NULL);
			}
		}
		ci_printf(&body, "  <testsuite name=\"");
		ci_xml(&body, ps->name ? ps->name : ps->id);
		ci_printf(&body, "\" id=\"");
		ci_xml(&body, ps->id);
		ci_printf(&body,
			  "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
			  tests, fails, skipped, r->seconds);
		if (cases.p)
			ci_put(&body, cases.p, cases.n);
		free(cases.p);
		ci_printf(&body, "  </testsuite>\n");
		total += tests;
		failures += fails;
	}
	ci_printf(&b, "<testsuites name=\"strata policy: ");
	ci_xml(&b, *r->repo_tag ? r->repo_tag : r->image_id);
	ci_printf(&b, " verdict %s\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"%.3f\">\n",
		  r->verdict, total, failures, r->seconds);
	if (body.p)
		ci_put(&b, body.p, body.n);
	free(body.p);
	ci_printf(&b, "</testsuites>\n");
	*len = b.n;
	return b.p;
}
