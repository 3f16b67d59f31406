/* policy/gate_secret_scans.c — Anchore's `secret_scans` gate over the secret scanner's findings
 * (the index's `secret` table, issue 5): trigger content_regex_checks fires per finding whose
 * rule is one of content_regex_name (comma-separated rule names; all rules when absent) and whose
 * path matches filename_regex (PCRE2 search), with match_type found (default); with notfound it
 * fires once when no finding matches. strata's scope chooses the findings: visible (default: the
 * image shows the file, or the image config holds it), deleted (deleted or shadowed by a later
 * layer: still in the image's layers), any. The message names rule, path and layer only: the
 * index never holds a secret; the masked preview goes in the finding's detail. */
#include "policy_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int sec_eval(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	const char *names = policy_rule_param(r, "content_regex_name");
	const char *fre = policy_rule_param(r, "filename_regex");
	const char *mt = policy_rule_param(r, "match_type");
	const char *scope = policy_rule_param(r, "scope");
	bool notfound = mt && strcasecmp(mt, "notfound") == 0;
	if (names && !*names)
		names = NULL;
	if (fre && !*fre)
		fre = NULL;
	const char *where = "s.status IN ('visible', 'image config')";
	if (scope && strcasecmp(scope, "deleted") == 0)
		where = "(s.status LIKE 'deleted%' OR s.status = 'shadowed')";
	else if (scope && strcasecmp(scope, "any") == 0)
		where = "1";
	cleanup_free char *sql =
	    xasprintf("SELECT s.rule, CASE WHEN s.entry IS NULL THEN coalesce(s.path, '') ELSE '/' || "
		      "ltrim(s.path, '/') END,"
		      " s.layer, s.line, s.preview, s.status FROM secret s"
		      " WHERE %s AND (?1 IS NULL OR regexp(?1, CASE WHEN s.entry IS NULL THEN "
		      "coalesce(s.path, '') ELSE '/' || ltrim(s.path, '/') END))"
		      " ORDER BY s.layer, s.path, s.line, s.rule, s.id",
		      where);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK) {
		bool missing = strstr(sqlite3_errmsg(c), "no such table") != NULL;
		sqlite3_finalize(st);
		if (!missing)
			return strata_err_set(err, STRATA_EIO, "secret_scans gate: %s", sqlite3_errmsg(c));
		st = NULL; /* an index built without the secret scanner: nothing found */
	}
	if (st && fre)
		sqlite3_bind_text(st, 1, fre, -1, SQLITE_STATIC);
	bool found = false;
	int rc = SQLITE_DONE;
	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *rule = (const char *)sqlite3_column_text(st, 0);
		const char *path = (const char *)sqlite3_column_text(st, 1);
		if (!rule || (names && !policy_list_has(names, rule, true)))
			continue;
		found = true;
		if (notfound)
			break;
		cleanup_free char *msg = xasprintf(
		    "Secret content search analyzer found regexp match in container: file=%s regexp=%s",
		    path ? path : "", rule);
		json_t *d = json_pack("{s:s, s:i, s:i, s:s?, s:s?}", "rule", rule, "layer",
				      sqlite3_column_int(st, 2), "line", sqlite3_column_int(st, 3), "preview",
				      (const char *)sqlite3_column_text(st, 4), "status",
				      (const char *)sqlite3_column_text(st, 5));
		cleanup_free char *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
		json_decref(d);
		const char *status = (const char *)sqlite3_column_text(st, 5);
		const struct policy_match m = {
		    .message = msg,
		    .path = path && *path == '/' ? path : NULL,
		    .layer = sqlite3_column_int(st, 2),
		    .visible = status && (!strcmp(status, "visible") || !strcmp(status, "image config")),
		    .detail_json = detail};
		policy_eval_fire(ev, r, &m);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		cleanup_free char *e = xstrdup(sqlite3_errmsg(c));
		sqlite3_finalize(st);
		return strata_err_set(err, STRATA_EUSAGE, "secret_scans gate: %s", e);
	}
	sqlite3_finalize(st);
	if (notfound && !found) {
		cleanup_free char *msg = xasprintf("Secret content search analyzer did not find regexp match "
						   "in container: filename_regex=%s content_regex_name=%s",
						   fre ? fre : "*", names ? names : "all");
		const struct policy_match m = {.message = msg, .visible = -1};
		policy_eval_fire(ev, r, &m);
	}
	return 0;
}

static const struct policy_param_def sec_params[] = {
    {"content_regex_name", POLICY_PARAM_STRING, false, NULL, NULL},
    {"filename_regex", POLICY_PARAM_REGEX, false, NULL, NULL},
    {"match_type", POLICY_PARAM_ENUM, false, "found|notfound", NULL},
    {"scope", POLICY_PARAM_ENUM, false, "visible|deleted|any", NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_trigger_def sec_triggers[] = {
    {"content_regex_checks", NULL,
     "Triggers if the secret scanner found matches of the named rules (all rules when none named) in files "
     "matching filename_regex (match_type found), or found none (notfound); scope: visible, deleted or any",
     sec_params, NULL, sec_eval},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct policy_gate_def policy_gate_secret_scans = {
    "secret_scans", "Checks for secrets found in the image by the secret scanner's rules", sec_triggers};
