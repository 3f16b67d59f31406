/* policy/gate_distro.c — the `distro` gate (Anchore Enterprise's): trigger `deny` fires when the
 * image's OS (the catalog's os row from os-release: id and version_id) is the given distro and
 * its version compares to the given one as `check` says (=, !=, <, >, <=, >=; versions compared
 * in dpkg's ordering, which orders "3.18" < "3.19" < "3.20" and "9" < "12"). Without version the
 * distro alone decides. An image without os-release has no distro: nothing fires. */
#include "policy_int.h"

#include <string.h>
#include <strings.h>

/* Does cmp (a version comparison's sign) satisfy the check operator? */
static bool distro_check(const char *check, int cmp)
{
	if (!check || !*check || !strcmp(check, "=") || !strcmp(check, "=="))
		return cmp == 0;
	if (!strcmp(check, "!="))
		return cmp != 0;
	if (!strcmp(check, "<"))
		return cmp < 0;
	if (!strcmp(check, ">"))
		return cmp > 0;
	if (!strcmp(check, "<="))
		return cmp <= 0;
	if (!strcmp(check, ">="))
		return cmp >= 0;
	return false;
}

static int distro_deny_eval(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	(void)err;
	sqlite3 *c = policy_eval_db(ev);
	const char *distro = policy_rule_param(r, "distro");
	const char *version = policy_rule_param(r, "version");
	const char *check = policy_rule_param(r, "check");
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(
		c, "SELECT coalesce(id, ''), coalesce(version_id, ''), path, layer FROM os LIMIT 1", -1, &st,
		NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return 0; /* no catalog in this index: no distro known */
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *ver = (const char *)sqlite3_column_text(st, 1);
		bool hit = distro && strcasecmp(distro, id) == 0;
		if (hit && version && *version)
			hit = distro_check(check, policy_version_cmp_dpkg(ver, version));
		if (hit) {
			cleanup_free char *msg =
			    version && *version
				? xasprintf("Distro denylist match: distro %s version %s (check: %s %s %s)",
					    id, ver, ver, check && *check ? check : "=", version)
				: xasprintf("Distro denylist match: distro %s version %s", id, ver);
			const char *p = (const char *)sqlite3_column_text(st, 2);
			const struct policy_match m = {
			    .message = msg, .path = p, .layer = sqlite3_column_int(st, 3), .visible = 1};
			policy_eval_fire(ev, r, &m);
		}
	}
	sqlite3_finalize(st);
	return 0;
}

static const char *distro_validate(const struct policy_rule *r)
{
	const char *check = policy_rule_param(r, "check");
	const char *version = policy_rule_param(r, "version");
	if (check && *check && (!version || !*version))
		return "check needs a version";
	return NULL;
}

static const struct policy_param_def distro_params[] = {
    {"distro", POLICY_PARAM_STRING, true, NULL, NULL},
    {"version", POLICY_PARAM_STRING, false, NULL, NULL},
    {"check", POLICY_PARAM_ENUM, false, "=|!=|<|>|<=|>=", NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_trigger_def distro_triggers[] = {
    {"deny", NULL,
     "Triggers if the image's distro (os-release ID) is the given one and its version compares to the given "
     "version as check says",
     distro_params, distro_validate, distro_deny_eval},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct policy_gate_def policy_gate_distro = {
    "distro", "Checks the image's distribution and its version", distro_triggers};
