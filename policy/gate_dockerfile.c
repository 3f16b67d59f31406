/* policy/gate_dockerfile.c — Anchore's `dockerfile` gate from the image config in the index
 * (strata never has the Dockerfile itself): effective_user compares config.User (empty or absent
 * means root; "user:group" compares the user part) against users with type allowlist|denylist;
 * exposed_ports (ExposedPorts against ports, allowlist|denylist); strata's no_healthcheck;
 * no_dockerfile_provided (always fires: strata has no Dockerfile). */
#include "policy_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The text at JSON path jpath ("$.config.User") of the image config into *out (owned; "" when
 * absent or not text). 0, or -1 with *err. */
static int df_config_text(struct policy_eval *ev, const char *jpath, char **out, struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, "SELECT coalesce(json_extract(CAST(config AS TEXT), ?1), '') FROM image WHERE id = 1",
			       -1, &st, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "dockerfile gate: %s", sqlite3_errmsg(c));
	sqlite3_bind_text(st, 1, jpath, -1, SQLITE_STATIC);
	const char *t = sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	*out = xstrdup(t ? t : "");
	return 0;
}

/* effective_user: fires when the config's user is denylisted, or not allowlisted. */
static int df_eval_effective_user(struct policy_eval *ev, const struct policy_rule *r,
				  struct strata_err **err)
{
	cleanup_free char *user = NULL;
	if (df_config_text(ev, "$.config.User", &user, err) < 0)
		return -1;
	if (!*user) {
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
	cleanup_free char *test = NULL;
	if (df_config_text(ev, "$.config.Healthcheck.Test[0]", &test, err) < 0)
		return -1;
	if (!*test || strcmp(test, "NONE") == 0)
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

/* The Dockerfile Anchore guesses from the history: "FROM scratch", then per history entry its
 * created_by without "/bin/sh -c #(nop) ", else "RUN " + created_by. strata's change: a
 * created_by that already starts with an instruction (BuildKit writes "USER app", "RUN /bin/sh
 * -c … # buildkit") is kept as written (the " # buildkit" mark dropped). Owned text. */
static char *df_guess(sqlite3 *c)
{
	static const char *const words[] = {"ADD",	   "ARG",   "COPY",	   "CMD",	 "ENTRYPOINT", "ENV",
					    "EXPOSE",	   "FROM",  "HEALTHCHECK", "LABEL",	 "MAINTAINER", "ONBUILD",
					    "USER",	   "RUN",   "SHELL",	   "STOPSIGNAL", "VOLUME",     "WORKDIR"};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		abort();
	fputs("FROM scratch\n", f);
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c,
			       "SELECT coalesce(json_extract(j.value, '$.created_by'), '') FROM image,"
			       " json_each(CAST(image.config AS TEXT), '$.history') j WHERE image.id = 1 ORDER BY j.key",
			       -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *cb = (const char *)sqlite3_column_text(st, 0);
			if (!cb || !*cb)
				continue;
			if (!strncmp(cb, "/bin/sh -c #(nop) ", 18)) {
				cb += 18;
				while (*cb == ' ')
					cb++;
				fprintf(f, "%s\n", cb);
				continue;
			}
			bool kept = false;
			for (size_t i = 0; i < sizeof words / sizeof *words && !kept; i++) {
				size_t wl = strlen(words[i]);
				kept = !strncmp(cb, words[i], wl) && cb[wl] == ' ';
			}
			size_t cl = strlen(cb);
			if (kept && cl >= 10 && !strcmp(cb + cl - 10, " # buildkit"))
				cl -= 10;
			else if (kept && cl >= 11 && !strcmp(cb + cl - 11, " # buildkit"))
				cl -= 11;
			fprintf(f, "%s%.*s\n", kept ? "" : "RUN ", (int)cl, cb);
		}
	}
	fclose(f);
	return text;
}

/* Does the instruction's argument line satisfy check against value? 1, 0, -1 with *err. */
static int df_check(sqlite3 *c, const char *check, const char *line, const char *value, struct strata_err **err)
{
	if (!strcmp(check, "exists"))
		return 1;
	if (!strcmp(check, "not_exists"))
		return 0;
	if (!strcmp(check, "="))
		return !strcmp(line, value);
	if (!strcmp(check, "!="))
		return strcmp(line, value) != 0;
	if (!strcmp(check, "in"))
		return policy_list_has(value, line, false);
	if (!strcmp(check, "not_in"))
		return !policy_list_has(value, line, false);
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, "SELECT regexp(?1, ?2)", -1, &st, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "dockerfile gate: %s", sqlite3_errmsg(c));
	sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, line, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return strata_err_set(err, STRATA_EUSAGE, "dockerfile gate: regex '%s': %s", value, sqlite3_errmsg(c));
	bool m = sqlite3_column_int(st, 0) != 0;
	return !strcmp(check, "like") ? m : !m;
}

/* instruction (Anchore's): each line of the guessed Dockerfile with that instruction whose argument
 * satisfies check (=, !=, exists, not_exists, like, not_like — PCRE2 search —, in, not_in) fires;
 * not_exists fires once when no such line exists. actual_dockerfile_only=true: strata never has
 * an actual Dockerfile, so nothing fires. Lines continued with a trailing backslash are joined and
 * comment lines skipped, as Anchore reads a Dockerfile. */
static int df_eval_instruction(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	const char *instr = policy_rule_param(r, "instruction");
	const char *check = policy_rule_param(r, "check");
	const char *value = policy_rule_param(r, "value");
	const char *actual = policy_rule_param(r, "actual_dockerfile_only");
	if (!instr || !check || (actual && !strcasecmp(actual, "true")))
		return 0;
	sqlite3 *c = policy_eval_db(ev);
	cleanup_free char *text = df_guess(c);
	bool seen = false;
	char *buf = NULL;
	int rc = 0;
	for (char *line = text, *next; rc == 0 && line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		size_t l = strlen(line);
		while (l && (line[l - 1] == ' ' || line[l - 1] == '\t' || line[l - 1] == '\r'))
			line[--l] = '\0';
		if (!l || line[0] == '#')
			continue;
		bool cont = line[l - 1] == '\\';
		if (cont)
			line[--l] = '\0';
		char *joined = xasprintf("%s%s", buf ? buf : "", line);
		free(buf);
		buf = joined;
		if (cont)
			continue;
		size_t dl = strcspn(buf, " ");
		if (dl == strlen(instr) && !strncasecmp(buf, instr, dl)) {
			seen = true;
			const char *arg = buf + dl;
			while (*arg == ' ' || *arg == '\t')
				arg++;
			int m = df_check(c, check, arg, value ? value : "", err);
			if (m < 0)
				rc = -1;
			else if (m) {
				cleanup_free char *up = xstrndup(buf, dl);
				for (char *u = up; *u; u++)
					*u = (char)toupper((unsigned char)*u);
				cleanup_free char *msg = xasprintf(
				    "Dockerfile directive '%s' check '%s' matched against '%s' for line '%s'", up, check,
				    value ? value : "", arg);
				df_fire(ev, r, msg);
			}
		}
		free(buf);
		buf = NULL;
	}
	free(buf);
	if (rc == 0 && !seen && !strcmp(check, "not_exists")) {
		cleanup_free char *msg = xasprintf("Dockerfile directive '%s' not found, matching condition '%s' check",
						   instr, check);
		df_fire(ev, r, msg);
	}
	return rc;
}

static const char *df_validate_instruction(const struct policy_rule *r)
{
	const char *check = policy_rule_param(r, "check");
	const char *value = policy_rule_param(r, "value");
	if (check && strcmp(check, "exists") && strcmp(check, "not_exists") && !value)
		return "this check needs a value";
	return NULL;
}

static const struct policy_param_def df_instruction_params[] = {
    {"instruction", POLICY_PARAM_ENUM, true,
     "ADD|ARG|COPY|CMD|ENTRYPOINT|ENV|EXPOSE|FROM|HEALTHCHECK|LABEL|MAINTAINER|ONBUILD|USER|RUN|SHELL|STOPSIGNAL|"
     "VOLUME|WORKDIR",
     NULL},
    {"check", POLICY_PARAM_ENUM, true, "=|!=|exists|not_exists|like|not_like|in|not_in", NULL},
    {"value", POLICY_PARAM_STRING, false, NULL, NULL},
    {"actual_dockerfile_only", POLICY_PARAM_BOOL, false, NULL, NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

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
    {"instruction", NULL,
     "Triggers if any directives in the list are found to match the described condition in the Dockerfile "
     "guessed from the image history",
     df_instruction_params, df_validate_instruction, df_eval_instruction},
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
