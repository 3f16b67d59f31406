/* policy/gate_licenses.c — Anchore's `licenses` gate over the catalog's license rows (issue 4):
 * denylist_exact_match (alias blacklist_exact_match) and denylist_partial_match (alias
 * blacklist_partial_match). SPDX-aware: a license row is an SPDX expression ("GPL-2.0-only OR
 * MIT"); an exact match is the whole expression or any of its license terms (operators AND, OR,
 * WITH and parentheses split terms; the exception after WITH is a term too), compared
 * case-insensitively as SPDX ids are; the raw text the package declared ("GPL-2+") counts as
 * well. A partial match is a substring of the expression or the raw text (case-sensitive, as
 * Anchore's). Optional package_type limits the rule to some package types ("deb,npm").
 * Each rule fires once, listing every matching package(license), as Anchore's does. */
#include "policy_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void lic_stmt_finalizep(sqlite3_stmt **s)
{
	if (*s)
		sqlite3_finalize(*s);
}
#define cleanup_licstmt __attribute__((cleanup(lic_stmt_finalizep)))

/* True when item is one of the comma-separated list (trimmed; case-insensitive when ci). */
static bool lic_in_list(const char *list, const char *item, size_t il, bool ci)
{
	const char *p = list;
	while (p && *p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *e = strchr(p, ',');
		const char *te = e ? e : p + strlen(p);
		while (te > p && te[-1] == ' ')
			te--;
		if ((size_t)(te - p) == il && il &&
		    (ci ? strncasecmp(p, item, il) : strncmp(p, item, il)) == 0)
			return true;
		p = e;
	}
	return false;
}

/* Exact: a denied license equals the expression or one of its terms. */
static bool lic_exact(const char *denied, const char *expr)
{
	if (!expr || !*expr)
		return false;
	if (lic_in_list(denied, expr, strlen(expr), true))
		return true;
	const char *p = expr;
	while (*p) {
		while (*p == ' ' || *p == '(' || *p == ')' || *p == '\t')
			p++;
		const char *s = p;
		while (*p && *p != ' ' && *p != '(' && *p != ')' && *p != '\t')
			p++;
		size_t l = (size_t)(p - s);
		if (!l)
			continue;
		if ((l == 3 && !strncmp(s, "AND", 3)) || (l == 2 && !strncmp(s, "OR", 2)) ||
		    (l == 4 && !strncmp(s, "WITH", 4)))
			continue;
		if (lic_in_list(denied, s, l, true))
			return true;
	}
	return false;
}

/* Partial: one of the comma-separated denied strings occurs in text. */
static bool lic_partial(const char *denied, const char *text)
{
	if (!text || !*text)
		return false;
	const char *p = denied;
	while (p && *p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *e = strchr(p, ',');
		const char *te = e ? e : p + strlen(p);
		while (te > p && te[-1] == ' ')
			te--;
		size_t l = (size_t)(te - p);
		if (l) {
			cleanup_free char *needle = xstrndup(p, l);
			if (strstr(text, needle))
				return true;
		}
		p = e;
	}
	return false;
}

static int lic_eval(struct policy_eval *ev, const struct policy_rule *r, bool exact, struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	const char *denied = policy_rule_param(r, "licenses");
	const char *types = policy_rule_param(r, "package_type");
	if (types && (!*types || strcasecmp(types, "all") == 0))
		types = NULL;
	if (!denied || !*denied)
		return 0;
	cleanup_licstmt sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(
		c,
		"SELECT p.name, p.type, l.spdx, l.raw FROM license l JOIN package p ON p.id = l.package"
		" UNION SELECT name, type, license_declared, NULL FROM package"
		"  WHERE license_declared IS NOT NULL AND license_declared <> ''"
		" ORDER BY 1, 2, 3, 4",
		-1, &st, NULL) != SQLITE_OK) {
		if (strstr(sqlite3_errmsg(c), "no such table"))
			return 0; /* an index built without the catalog */
		return strata_err_set(err, STRATA_EIO, "licenses gate: %s", sqlite3_errmsg(c));
	}
	char *list = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&list, &len);
	if (!f)
		abort();
	size_t n = 0;
	int rc;
	char *last = NULL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *type = (const char *)sqlite3_column_text(st, 1);
		const char *spdx = (const char *)sqlite3_column_text(st, 2);
		const char *raw = (const char *)sqlite3_column_text(st, 3);
		if (!name || (types && (!type || !lic_in_list(types, type, strlen(type), true))))
			continue;
		bool hit = exact ? (lic_exact(denied, spdx) || lic_exact(denied, raw))
				 : (lic_partial(denied, spdx) || lic_partial(denied, raw));
		if (!hit)
			continue;
		/* One name(license) item per package and expression. */
		cleanup_free char *item = xasprintf("%s(%s)", name, spdx ? spdx : raw);
		if (last && strcmp(last, item) == 0)
			continue;
		fprintf(f, "%s%s", n++ ? ", " : "", item);
		free(last);
		last = steal_pointer(&item);
	}
	free(last);
	fclose(f);
	if (rc != SQLITE_DONE) {
		free(list);
		return strata_err_set(err, STRATA_EIO, "licenses gate: %s", sqlite3_errmsg(c));
	}
	if (n) {
		cleanup_free char *msg =
		    xasprintf("%s Packages are installed that have blacklisted licenses: %s",
			      exact ? "LICFULLMATCH" : "LICSUBMATCH", list);
		const struct policy_match m = {.message = msg, .visible = 1};
		policy_eval_fire(ev, r, &m);
	}
	free(list);
	return 0;
}

static int lic_exact_eval(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	return lic_eval(ev, r, true, err);
}

static int lic_partial_eval(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	return lic_eval(ev, r, false, err);
}

static const struct policy_param_def lic_params[] = {
    {"licenses", POLICY_PARAM_LIST, true, NULL, NULL},
    {"package_type", POLICY_PARAM_LIST, false, NULL, NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_trigger_def lic_triggers[] = {
    {"denylist_exact_match", "blacklist_exact_match",
     "Triggers if the image has a package installed under one of the given licenses: the whole SPDX "
     "expression or one of its terms, or the declared text",
     lic_params, NULL, lic_exact_eval},
    {"denylist_partial_match", "blacklist_partial_match",
     "Triggers if the image has a package installed whose license expression or declared text contains one "
     "of the given strings",
     lic_params, NULL, lic_partial_eval},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct policy_gate_def policy_gate_licenses = {
    "licenses", "License checks against found software licenses in the container image", lic_triggers};
