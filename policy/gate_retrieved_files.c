/* policy/gate_retrieved_files.c — the `retrieved_files` gate: content_not_available (param path)
 * and content_regex (params path, check match|no_match, regex). Unlike Anchore, the regex is
 * applied to each line of the file (PCRE2 via the index's regexp() function, so ^ and $ anchor a
 * line): `^\s*PermitRootLogin\s+yes` matches as users expect. The trigger id of content_regex is
 * Anchore's: "<rule id>+file://<path>". */
#include "policy_int.h"

#include <stdlib.h>
#include <string.h>

#define RETRIEVED_MAX (256u << 10)

static int rf_read(struct policy_eval *ev, const char *path, char **out, size_t *len, struct strata_err **err)
{
	bool trunc;
	int view = index_db_view_merged(policy_eval_index(ev), index_db_layer_count(policy_eval_index(ev)));
	return policy_eval_file_content(ev, view, path, RETRIEVED_MAX, out, len, &trunc, err);
}

static int rf_eval_not_available(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	const char *path = policy_rule_param(r, "path");
	cleanup_free char *data = NULL;
	size_t len;
	int have = rf_read(ev, path, &data, &len, err);
	if (have < 0)
		return -1;
	if (have == 0) {
		/* Anchore's fixed text (no path: its trigger id is the same for every path). */
		const struct policy_match m = {.message = "Cannot locate file in the image analysis", .path = path,
					       .visible = -1};
		policy_eval_fire(ev, r, &m);
	}
	return 0;
}

/* True when some line of data matches regex (SQLite regexp(), multiline PCRE2). */
static int rf_match(struct policy_eval *ev, const char *regex, const char *data, size_t len, struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, "SELECT regexp(?1, ?2)", -1, &st, NULL) != SQLITE_OK) {
		cleanup_free char *e = xstrdup(sqlite3_errmsg(c));
		sqlite3_finalize(st);
		return strata_err_set(err, STRATA_EIO, "retrieved_files gate: %s", e);
	}
	sqlite3_bind_text(st, 1, regex, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, data, (int)len, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	int hit = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	if (hit < 0) {
		cleanup_free char *e = xstrdup(sqlite3_errmsg(c));
		sqlite3_finalize(st);
		return strata_err_set(err, STRATA_EIO, "retrieved_files gate: regex '%s': %s", regex, e);
	}
	sqlite3_finalize(st);
	return hit;
}

static int rf_eval_content_regex(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	const char *path = policy_rule_param(r, "path");
	const char *regex = policy_rule_param(r, "regex");
	const char *check = policy_rule_param(r, "check");
	bool want_match = !check || !strcmp(check, "match");
	cleanup_free char *data = NULL;
	size_t len;
	int have = rf_read(ev, path, &data, &len, err);
	if (have <= 0)
		return have; /* absent: content_not_available is the trigger for that */
	int hit = rf_match(ev, regex, data, len, err);
	if (hit < 0)
		return -1;
	if ((hit == 1) != want_match)
		return 0;
	cleanup_free char *msg = xasprintf("Content regex '%s' check '%s' found in retrieved file '%s'", regex,
					   want_match ? "match" : "no_match", path);
	cleanup_free char *tid = xasprintf("%s+file://%s", r->id, path);
	const struct policy_match m = {.message = msg, .trigger_id = tid, .path = path, .visible = 1};
	policy_eval_fire(ev, r, &m);
	return 0;
}

static const char *rf_validate_path(const struct policy_rule *r)
{
	const char *p = policy_rule_param(r, "path");
	return p && p[0] == '/' ? NULL : "path must be absolute (start with /)";
}

static const struct policy_param_def rf_path_params[] = {
    {"path", POLICY_PARAM_STRING, true, NULL, NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_param_def rf_regex_params[] = {
    {"path", POLICY_PARAM_STRING, true, NULL, NULL},
    {"check", POLICY_PARAM_ENUM, true, "match|no_match", NULL},
    {"regex", POLICY_PARAM_REGEX, true, NULL, NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_trigger_def rf_triggers[] = {
    {"content_not_available", NULL, "Triggers if the specified file is not present in the image", rf_path_params,
     rf_validate_path, rf_eval_not_available},
    {"content_regex", NULL, "Evaluation of a regex against each line of the file (match or no_match)",
     rf_regex_params, rf_validate_path, rf_eval_content_regex},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct policy_gate_def policy_gate_retrieved_files = {
    "retrieved_files", "Checks the content of given files of the image", rf_triggers};
