/* policy/gate_dockerfile.c — Anchore's `dockerfile` gate from the image config in the index
 * (strata never has the Dockerfile itself): effective_user compares config.User (empty or absent
 * means root; "user:group" compares the user part) against users with type allowlist|denylist;
 * exposed_ports (ExposedPorts against ports, allowlist|denylist); strata's no_healthcheck;
 * no_dockerfile_provided (always fires: strata has no Dockerfile). */
#include "policy_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* effective_user: fires when the config's user is denylisted, or not allowlisted. */
static int df_eval_effective_user(struct policy_eval *ev, const struct policy_rule *r,
				  struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(
		c,
		"SELECT coalesce(json_extract(CAST(config AS TEXT), '$.config.User'), '') FROM image"
		" WHERE id = 1",
		-1, &st, NULL) != SQLITE_OK) {
		cleanup_free char *e = xstrdup(sqlite3_errmsg(c));
		sqlite3_finalize(st);
		return strata_err_set(err, STRATA_EIO, "dockerfile gate: %s", e);
	}
	cleanup_free char *user = NULL;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		user = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (!user || !*user) {
		free(user);
		user = xstrdup("root");
	}
	/* Anchore compares (and prints) the USER value as written ("app:app"); strata also accepts the
	 * user part alone in the list. */
	const char *users = policy_rule_param(r, "users");
	const char *type = policy_rule_param(r, "type");
	bool allow = type && (strcasecmp(type, "allowlist") == 0 || strcasecmp(type, "whitelist") == 0);
	bool listed = policy_list_has(users ? users : "", user, false);
	char *colon = strchr(user, ':');
	if (!listed && colon && colon != user) {
		cleanup_free char *part = xstrndup(user, (size_t)(colon - user));
		listed = policy_list_has(users ? users : "", part, false);
	}
	const char *msg = NULL;
	cleanup_free char *text = NULL;
	if (allow && !listed)
		msg = text =
		    xasprintf("User %s found as effective user, which is not on the allowed list", user);
	else if (!allow && listed)
		msg = text =
		    xasprintf("User %s found as effective user, which is explicity not allowed", user);
	if (msg) {
		const struct policy_match m = {.message = msg, .visible = -1};
		policy_eval_fire(ev, r, &m);
	}
	return 0;
}

/* Fires once with msg (an image-level finding). */
static void df_fire(struct policy_eval *ev, const struct policy_rule *r, const char *msg)
{
	const struct policy_match m = {.message = msg, .visible = -1};
	policy_eval_fire(ev, r, &m);
}

/* exposed_ports: each config.ExposedPorts key ("80/tcp": its number is compared) that is
 * denylisted, or not allowlisted, by ports. */
static int df_eval_exposed_ports(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(
		c,
		"SELECT j.key FROM image, json_each(CAST(image.config AS TEXT), '$.config.ExposedPorts') j"
		" WHERE image.id = 1 ORDER BY j.key",
		-1, &st, NULL) != SQLITE_OK) {
		cleanup_free char *e = xstrdup(sqlite3_errmsg(c));
		sqlite3_finalize(st);
		return strata_err_set(err, STRATA_EIO, "dockerfile gate: %s", e);
	}
	const char *ports = policy_rule_param(r, "ports");
	const char *type = policy_rule_param(r, "type");
	bool allow = type && (strcasecmp(type, "allowlist") == 0 || strcasecmp(type, "whitelist") == 0);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		if (!key)
			continue;
		/* Compared by number ("22/tcp" is port 22); printed as exposed ("22/tcp"), as Anchore
		 * prints the EXPOSE token that matched. */
		cleanup_free char *port = xstrdup(key);
		char *slash = strchr(port, '/');
		if (slash)
			*slash = '\0';
		bool listed = policy_list_has(ports ? ports : "", port, false);
		if (allow && !listed) {
			cleanup_free char *msg = xasprintf(
			    "Dockerfile exposes port (%s) which is not in policy file ALLOWEDPORTS list", key);
			df_fire(ev, r, msg);
		} else if (!allow && listed) {
			cleanup_free char *msg = xasprintf(
			    "Dockerfile exposes port (%s) which is in policy file DENIEDPORTS list", key);
			df_fire(ev, r, msg);
		}
	}
	sqlite3_finalize(st);
	return 0;
}

/* no_healthcheck (strata's): fires when the config has no Healthcheck test, or its test is NONE. */
static int df_eval_no_healthcheck(struct policy_eval *ev, const struct policy_rule *r,
				  struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(
		c,
		"SELECT coalesce(json_extract(CAST(config AS TEXT), '$.config.Healthcheck.Test[0]'), '')"
		" FROM image WHERE id = 1",
		-1, &st, NULL) != SQLITE_OK) {
		cleanup_free char *e = xstrdup(sqlite3_errmsg(c));
		sqlite3_finalize(st);
		return strata_err_set(err, STRATA_EIO, "dockerfile gate: %s", e);
	}
	bool none = true;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		none = !*t || strcmp(t, "NONE") == 0;
	}
	sqlite3_finalize(st);
	if (none)
		df_fire(ev, r, "Image config has no HEALTHCHECK");
	return 0;
}

/* no_dockerfile_provided: strata only ever has the image (config and history), never the
 * Dockerfile, so this fires for every image. */
static int df_eval_no_dockerfile(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	(void)err;
	df_fire(ev, r, "Image was not analyzed with an actual Dockerfile");
	return 0;
}

static const struct policy_param_def df_ports_params[] = {
    {"ports", POLICY_PARAM_LIST, true, NULL, NULL},
    {"type", POLICY_PARAM_ENUM, true, "allowlist|denylist|whitelist|blacklist", NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_param_def df_no_params[] = {
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_param_def df_user_params[] = {
    {"users", POLICY_PARAM_LIST, true, NULL, NULL},
    {"type", POLICY_PARAM_ENUM, true, "allowlist|denylist|whitelist|blacklist", NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_trigger_def df_triggers[] = {
    {"effective_user", NULL,
     "Checks if the effective user (config User; empty means root) matches the provided list", df_user_params,
     NULL, df_eval_effective_user},
    {"exposed_ports", NULL, "Evaluates the ports the image config exposes against the allowlist or denylist",
     df_ports_params, NULL, df_eval_exposed_ports},
    {"no_healthcheck", NULL, "Triggers if the image config has no HEALTHCHECK (or HEALTHCHECK NONE)",
     df_no_params, NULL, df_eval_no_healthcheck},
    {"no_dockerfile_provided", NULL,
     "Triggers if the image was not analyzed with an actual Dockerfile (strata never has one: always fires)",
     df_no_params, NULL, df_eval_no_dockerfile},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct policy_gate_def policy_gate_dockerfile = {
    "dockerfile", "Checks against the image's config and history (strata has no Dockerfile)", df_triggers};
