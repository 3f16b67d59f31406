/* policy/gate_attestation.c — strata's `attestation` gate (issue 9; Anchore has none): is the image
 * signed by a key the user trusts, does it carry verified attestations, and was it built by an
 * approved builder. Every trigger reads the index's attestation table through attest_set_load
 * (policy/report_attest.c), so it sees exactly what /.audit/attestations.json shows, checked
 * with the keys given by --trust-key. Only verified statements (signed by a trusted key and
 * naming this image) are ever believed.
 */
#include "policy_int.h"

#include <fnmatch.h>
#include <string.h>

#define ATT_SUMMARY_MAX 512

/* Appends "what: reason" for each item matching the filter (for messages naming the cause). */
static void att_summary(const struct attest_set *s, const char *type, char *buf, size_t n)
{
	buf[0] = '\0';
	for (size_t i = 0; i < s->n; i++) {
		const struct attest_item *it = &s->v[i];
		if (type && strcmp(it->chk.type, type) != 0)
			continue;
		size_t l = strlen(buf);
		if (l + 8 >= n)
			break;
		snprintf(buf + l, n - l, "%s%s", l ? "; " : "",
			 it->chk.reason ? it->chk.reason : it->chk.status);
	}
}

static int att_load(struct policy_eval *ev, struct attest_set *s, struct strata_err **err)
{
	if (attest_set_load(policy_eval_db(ev), s, err) < 0) {
		attest_set_clear(s);
		return strata_err_wrap(err, "attestation gate");
	}
	return 0;
}

static int att_signature_missing(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	struct attest_set s;
	if (att_load(ev, &s, err) < 0)
		return -1;
	bool ok = false;
	for (size_t i = 0; i < s.n && !ok; i++)
		ok = s.v[i].chk.verified && !strcmp(s.v[i].chk.type, "cosign-signature");
	if (!ok) {
		char why[ATT_SUMMARY_MAX];
		att_summary(&s, "cosign-signature", why, sizeof(why));
		cleanup_free char *msg = xasprintf("Image has no valid signature by a trusted key (%s)",
						   *why ? why : "no signature found beside the image");
		const struct policy_match m = {.message = msg, .visible = -1};
		policy_eval_fire(ev, r, &m);
	}
	attest_set_clear(&s);
	return 0;
}

static int att_attestation_missing(struct policy_eval *ev, const struct policy_rule *r,
				   struct strata_err **err)
{
	const char *want = policy_rule_param(r, "predicate_type");
	struct attest_set s;
	if (att_load(ev, &s, err) < 0)
		return -1;
	bool ok = false;
	for (size_t i = 0; i < s.n && !ok; i++) {
		const struct attest_check *c = &s.v[i].chk;
		ok = c->verified && c->statement &&
		     (!want || (c->predicate_type && !strcmp(c->predicate_type, want)));
	}
	if (!ok) {
		char why[ATT_SUMMARY_MAX] = "";
		for (size_t i = 0; i < s.n; i++) {
			const struct attest_check *c = &s.v[i].chk;
			if (!strcmp(c->type, "cosign-signature"))
				continue;
			size_t l = strlen(why);
			if (l + 8 >= sizeof(why))
				break;
			snprintf(why + l, sizeof(why) - l, "%s%s: %s", l ? "; " : "",
				 c->predicate_type ? c->predicate_type : c->type,
				 c->reason ? c->reason : c->status);
		}
		cleanup_free char *msg =
		    want ? xasprintf("Image has no verified attestation of predicate type %s (%s)", want,
				     *why ? why : "no attestation found beside the image")
			 : xasprintf("Image has no verified attestation (%s)",
				     *why ? why : "no attestation found beside the image");
		const struct policy_match m = {.message = msg, .visible = -1};
		policy_eval_fire(ev, r, &m);
	}
	attest_set_clear(&s);
	return 0;
}

/* True when id matches one of the comma-separated patterns (exact, or fnmatch with '*'). */
static bool att_builder_allowed(const char *list, const char *id)
{
	for (const char *p = list; p && *p;) {
		size_t k = strcspn(p, ",");
		cleanup_free char *pat = xstrndup(p, k);
		char *t = pat;
		while (*t == ' ')
			t++;
		size_t tl = strlen(t);
		while (tl > 0 && t[tl - 1] == ' ')
			t[--tl] = '\0';
		if (*t && (!strcmp(t, id) || fnmatch(t, id, 0) == 0))
			return true;
		p += k + (p[k] == ',');
	}
	return false;
}

static int att_builder_not_allowed(struct policy_eval *ev, const struct policy_rule *r,
				   struct strata_err **err)
{
	const char *builders = policy_rule_param(r, "builders");
	struct attest_set s;
	if (att_load(ev, &s, err) < 0)
		return -1;
	for (size_t i = 0; i < s.n; i++) {
		const struct attest_item *it = &s.v[i];
		if (!it->chk.verified || !it->has_prov)
			continue;
		const char *id = it->prov.builder_id ? it->prov.builder_id : "";
		if (att_builder_allowed(builders, id))
			continue;
		cleanup_free char *msg = xasprintf("Provenance builder %s is not allowed (allowed: %s)",
						   *id ? id : "(none)", builders ? builders : "");
		const struct policy_match m = {.message = msg, .visible = -1};
		policy_eval_fire(ev, r, &m);
	}
	attest_set_clear(&s);
	return 0;
}

/* regexp(pattern, text) through the evaluation's connection (PCRE2, multiline). 1, 0, -1 with *err. */
static int att_regex_match(sqlite3 *c, const char *re, const char *text, struct strata_err **err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, "SELECT regexp(?, ?)", -1, &st, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "attestation gate: %s", sqlite3_errmsg(c));
	sqlite3_bind_text(st, 1, re, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	int v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	if (v < 0)
		strata_err_set(err, STRATA_EFORMAT, "attestation gate: regex %s: %s", re, sqlite3_errmsg(c));
	sqlite3_finalize(st);
	return v;
}

static int att_predicate_regex(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	const char *path = policy_rule_param(r, "path"), *re = policy_rule_param(r, "regex");
	const char *want = policy_rule_param(r, "predicate_type"), *check = policy_rule_param(r, "check");
	bool fire_on_match = !check || strcasecmp(check, "no_match") != 0;
	struct attest_set s;
	if (att_load(ev, &s, err) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < s.n; i++) {
		const struct attest_check *c = &s.v[i].chk;
		if (!c->verified || !c->statement ||
		    (want && (!c->predicate_type || strcmp(c->predicate_type, want))))
			continue;
		const json_t *v = attest_json_path(c->statement, path);
		cleanup_free char *text = json_is_string(v) ? xstrdup(json_string_value(v))
					  : v		    ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)
							    : xstrdup("");
		int m = att_regex_match(policy_eval_db(ev), re, text ? text : "", err);
		if (m < 0) {
			rc = -1;
			break;
		}
		if ((m == 1) != fire_on_match)
			continue;
		cleanup_free char *msg =
		    xasprintf("Attestation %s field %s = '%.200s' %s regex '%s'",
			      c->predicate_type ? c->predicate_type : "(no predicate type)", path,
			      text ? text : "", m ? "matches" : "does not match", re);
		const struct policy_match pm = {.message = msg, .visible = -1};
		policy_eval_fire(ev, r, &pm);
	}
	attest_set_clear(&s);
	return rc;
}

static const char *att_validate_path(const struct policy_rule *r)
{
	const char *p = policy_rule_param(r, "path");
	if (p && p[0] != '.')
		return "path must be a JSON path starting with '.' (e.g. .predicate.buildType)";
	return NULL;
}

static const struct policy_param_def att_no_params[] = {{NULL, POLICY_PARAM_STRING, false, NULL, NULL}};
static const struct policy_param_def att_missing_params[] = {
    {"predicate_type", POLICY_PARAM_STRING, false, NULL, NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};
static const struct policy_param_def att_builder_params[] = {
    {"builders", POLICY_PARAM_LIST, true, NULL, NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};
static const struct policy_param_def att_regex_params[] = {
    {"path", POLICY_PARAM_STRING, true, NULL, NULL},
    {"regex", POLICY_PARAM_REGEX, true, NULL, NULL},
    {"check", POLICY_PARAM_ENUM, false, "match|no_match", NULL},
    {"predicate_type", POLICY_PARAM_STRING, false, NULL, NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_trigger_def att_triggers[] = {
    {"signature_missing", NULL,
     "Fires when no cosign signature verifies with a trusted key (--trust-key) and names the image",
     att_no_params, NULL, att_signature_missing},
    {"attestation_missing", NULL,
     "Fires when no in-toto attestation (of predicate_type, when given) verifies with a trusted key and has "
     "the image as subject",
     att_missing_params, NULL, att_attestation_missing},
    {"builder_not_allowed", NULL,
     "Fires for each verified SLSA provenance whose builder id is not in builders (exact or * wildcards)",
     att_builder_params, NULL, att_builder_not_allowed},
    {"predicate_regex", NULL,
     "Fires when the field at path (.predicate.buildType) of a verified statement matches regex "
     "(check=match) or does not (no_match)",
     att_regex_params, att_validate_path, att_predicate_regex},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct policy_gate_def policy_gate_attestation = {
    "attestation", "Signatures and attestations stored beside the image, verified offline with trusted keys",
    att_triggers};
