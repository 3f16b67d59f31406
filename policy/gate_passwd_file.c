/* policy/gate_passwd_file.c — Anchore's `passwd_file` gate over the image's /etc/passwd (the merged
 * view's regular file, read through policy_eval_file_content: the retrieved copy when the index has
 * one — its password field redacted, a lone "x" kept — else the byte sources):
 * content_not_available, denylist_usernames, denylist_userids, denylist_groupids, denylist_shells,
 * denylist_full_entry (Anchore's blacklist_* names accepted as aliases, and its shellmatch for
 * denylist_shells; parameter aliases as Anchore's), and strata's uid0_besides_root. Lines are parsed as Anchore parses them: each line
 * stripped of surrounding whitespace and split at ':'; a later line with the same user name
 * replaces an earlier one (Anchore keys its entries by name). Messages are Anchore's templates. */
#include "policy_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define PASSWD_MAX (4u << 20)

/* The image's /etc/passwd: 1 with *out, 0 when absent, -1 with *err. */
static int passwd_read(struct policy_eval *ev, char **out, struct strata_err **err)
{
	size_t len;
	bool trunc;
	int view = index_db_view_merged(policy_eval_index(ev), index_db_layer_count(policy_eval_index(ev)));
	return policy_eval_file_content(ev, view, "/etc/passwd", PASSWD_MAX, out, &len, &trunc, err);
}

static int passwd_eval_not_available(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	cleanup_free char *pw = NULL;
	int have = passwd_read(ev, &pw, err);
	if (have < 0)
		return -1;
	/* Anchore fires when the file is absent or holds no entry at all. */
	bool empty = true;
	for (const char *p = pw; p && *p && empty; p++)
		empty = isspace((unsigned char)*p) != 0;
	if (have == 0 || empty) {
		const struct policy_match m = {
		    .message = "Cannot locate /etc/passwd in image stored files archive: check analyzer settings.",
		    .path = "/etc/passwd", .visible = -1};
		policy_eval_fire(ev, r, &m);
	}
	return 0;
}

/* One /etc/passwd line, stripped (owned copy in line), fields split at ':' (pointers into line). */
struct passwd_ent {
	char *line;  /* whole stripped entry (the "pentry" of Anchore's messages) */
	char *split; /* the same bytes, NUL at each ':' */
	char *f[7];  /* name, password, uid, gid, gecos, home, shell (NULL when the line is shorter) */
};

/* Parses pw into entries (owned array, *n), a later entry with the same name replacing the earlier
 * one in place, as Anchore's dict does. Empty lines are skipped. */
static struct passwd_ent *passwd_parse(char *pw, size_t *n)
{
	struct passwd_ent *v = NULL;
	size_t cnt = 0;
	for (char *line = pw, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		while (isspace((unsigned char)*line))
			line++;
		size_t l = strlen(line);
		while (l && isspace((unsigned char)line[l - 1]))
			line[--l] = '\0';
		if (!l)
			continue;
		struct passwd_ent e = {.line = xstrdup(line), .split = xstrdup(line)};
		e.f[0] = e.split;
		for (int i = 1; i < 7; i++) {
			char *c = e.f[i - 1] ? strchr(e.f[i - 1], ':') : NULL;
			if (c) {
				*c = '\0';
				e.f[i] = c + 1;
			}
		}
		size_t at = cnt;
		for (size_t i = 0; i < cnt; i++)
			if (!strcmp(v[i].f[0], e.f[0]))
				at = i;
		if (at == cnt)
			v = xrealloc(v, ++cnt * sizeof *v);
		else
			free(v[at].line), free(v[at].split);
		v[at] = e;
	}
	*n = cnt;
	return v;
}

static void passwd_free(struct passwd_ent *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].line), free(v[i].split);
	free(v);
}

/* What each denylist trigger compares: field index (-1: the whole entry), the parameter holding
 * the list, and Anchore's message lead ("Blacklisted user"). */
struct passwd_deny {
	int field;
	const char *param, *what;
	bool whole_param; /* the parameter is one entry (not a comma list) */
};

static int passwd_eval_deny(struct policy_eval *ev, const struct policy_rule *r, const struct passwd_deny *d,
			    struct strata_err **err)
{
	cleanup_free char *pw = NULL;
	int have = passwd_read(ev, &pw, err);
	if (have <= 0)
		return have; /* content_not_available is the trigger for that */
	const char *list = policy_rule_param(r, d->param);
	cleanup_free char *want = NULL;
	if (d->whole_param && list) { /* Anchore strips the entry */
		while (isspace((unsigned char)*list))
			list++;
		want = xstrdup(list);
		size_t l = strlen(want);
		while (l && isspace((unsigned char)want[l - 1]))
			want[--l] = '\0';
	}
	size_t n;
	struct passwd_ent *v = passwd_parse(pw, &n);
	for (size_t i = 0; i < n; i++) {
		const char *cand = d->field < 0 ? v[i].line : v[i].f[d->field];
		if (!cand)
			continue;
		bool hit = want ? !strcmp(cand, want) : policy_list_has(list, cand, false);
		if (!hit)
			continue;
		cleanup_free char *msg =
		    xasprintf("%s '%s' found in image's /etc/passwd: pentry=%s", d->what, cand, v[i].line);
		const struct policy_match m = {.message = msg, .path = "/etc/passwd", .visible = 1};
		policy_eval_fire(ev, r, &m);
	}
	passwd_free(v, n);
	return 0;
}

static int passwd_eval_users(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	static const struct passwd_deny d = {0, "user_names", "Blacklisted user", false};
	return passwd_eval_deny(ev, r, &d, err);
}

static int passwd_eval_uids(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	static const struct passwd_deny d = {2, "user_ids", "Blacklisted uid", false};
	return passwd_eval_deny(ev, r, &d, err);
}

static int passwd_eval_gids(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	static const struct passwd_deny d = {3, "group_ids", "Blacklisted gid", false};
	return passwd_eval_deny(ev, r, &d, err);
}

static int passwd_eval_shells(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	static const struct passwd_deny d = {6, "shells", "Blacklisted shell", false};
	return passwd_eval_deny(ev, r, &d, err);
}

static int passwd_eval_entry(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	static const struct passwd_deny d = {-1, "entry", "Blacklisted pentry", true};
	return passwd_eval_deny(ev, r, &d, err);
}

/* uid0_besides_root: every entry "name:x:0:…" whose name is not root. */
static int passwd_eval_uid0(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	cleanup_free char *pw = NULL;
	int have = passwd_read(ev, &pw, err);
	if (have <= 0)
		return have;
	size_t n;
	struct passwd_ent *v = passwd_parse(pw, &n);
	for (size_t i = 0; i < n; i++) {
		const char *uid = v[i].f[2];
		if (!v[i].f[3] || v[i].line[0] == '#' || !uid || strcmp(uid, "0") || !strcmp(v[i].f[0], "root"))
			continue;
		cleanup_free char *msg = xasprintf("Account %s in /etc/passwd has uid 0 (only root should)", v[i].f[0]);
		const struct policy_match m = {.message = msg, .path = "/etc/passwd", .visible = 1};
		policy_eval_fire(ev, r, &m);
	}
	passwd_free(v, n);
	return 0;
}

/* Anchore's CommaDelimitedNumberListParameter: every item a decimal number. */
static const char *passwd_validate_numbers(const char *list)
{
	size_t l;
	for (const char *c = list, *p; (p = policy_list_next(&c, &l));)
		for (size_t i = 0; i < l; i++)
			if (!isdigit((unsigned char)p[i]))
				return "every item must be a number";
	return NULL;
}

static const char *passwd_validate_uids(const struct policy_rule *r)
{
	return passwd_validate_numbers(policy_rule_param(r, "user_ids"));
}

static const char *passwd_validate_gids(const struct policy_rule *r)
{
	return passwd_validate_numbers(policy_rule_param(r, "group_ids"));
}

static const struct policy_param_def passwd_no_params[] = {
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};
static const struct policy_param_def passwd_user_params[] = {
    {"user_names", POLICY_PARAM_LIST, true, NULL, "usernameblacklist"},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};
static const struct policy_param_def passwd_uid_params[] = {
    {"user_ids", POLICY_PARAM_LIST, true, NULL, "useridblacklist"},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};
static const struct policy_param_def passwd_gid_params[] = {
    {"group_ids", POLICY_PARAM_LIST, true, NULL, NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};
static const struct policy_param_def passwd_shell_params[] = {
    {"shells", POLICY_PARAM_LIST, true, NULL, NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};
static const struct policy_param_def passwd_entry_params[] = {
    {"entry", POLICY_PARAM_STRING, true, NULL, NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_trigger_def passwd_triggers[] = {
    {"content_not_available", NULL, "Triggers if the /etc/passwd file is not present/stored in the evaluated image",
     passwd_no_params, NULL, passwd_eval_not_available},
    {"denylist_usernames", "blacklist_usernames", "Triggers if specified username is found in the /etc/passwd file",
     passwd_user_params, NULL, passwd_eval_users},
    {"denylist_userids", "blacklist_userids", "Triggers if specified user id is found in the /etc/passwd file",
     passwd_uid_params, passwd_validate_uids, passwd_eval_uids},
    {"denylist_groupids", "blacklist_groupids", "Triggers if specified group id is found in the /etc/passwd file",
     passwd_gid_params, passwd_validate_gids, passwd_eval_gids},
    {"denylist_shells", "blacklist_shells|shellmatch",
     "Triggers if specified login shell for any user is found in the /etc/passwd file", passwd_shell_params, NULL,
     passwd_eval_shells},
    {"denylist_full_entry", "blacklist_full_entry",
     "Triggers if entire specified passwd entry is found in the /etc/passwd file", passwd_entry_params, NULL,
     passwd_eval_entry},
    {"uid0_besides_root", NULL, "Triggers for every account other than root with uid 0 in /etc/passwd",
     passwd_no_params, NULL, passwd_eval_uid0},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct policy_gate_def policy_gate_passwd_file = {
    "passwd_file", "Content checks for /etc/passwd for things like usernames, group ids, shells, or full entries",
    passwd_triggers};
