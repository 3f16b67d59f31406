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

/* A license expression being judged: the text, the cursor, the denied list and how a term is matched. */
struct lic_parse {
	const char *p;
	const char *denied;
	bool exact;
};

/* The next token of the expression: "(" ")" or a word; NULL at the end. */
static const char *lic_token(struct lic_parse *ps, size_t *len)
{
	while (*ps->p == ' ' || *ps->p == '\t')
		ps->p++;
	if (!*ps->p)
		return NULL;
	const char *s = ps->p;
	if (*s == '(' || *s == ')') {
		ps->p++;
		*len = 1;
		return s;
	}
	while (*ps->p && *ps->p != ' ' && *ps->p != '\t' && *ps->p != '(' && *ps->p != ')')
		ps->p++;
	*len = (size_t)(ps->p - s);
	return s;
}

static bool lic_is(const char *t, size_t l, const char *word)
{
	return t && l == strlen(word) && !strncmp(t, word, l);
}

/* Is one term (a license id or an exception) denied? exact: one of the list (case-insensitive, as
 * SPDX ids compare); partial: one of the list occurs in it (case-sensitive, as Anchore's). */
static bool lic_term_denied(const struct lic_parse *ps, const char *t, size_t l)
{
	cleanup_free char *term = xstrndup(t, l);
	if (ps->exact)
		return policy_list_has(ps->denied, term, true);
	size_t n;
	for (const char *c = ps->denied, *d; (d = policy_list_next(&c, &n));) {
		cleanup_free char *needle = xstrndup(d, n);
		if (strstr(term, needle))
			return true;
	}
	return false;
}

static bool lic_or(struct lic_parse *ps);

/* atom [WITH exception]: denied when the license or the exception is. */
static bool lic_with(struct lic_parse *ps)
{
	size_t l;
	const char *t = lic_token(ps, &l);
	bool denied = false;
	if (lic_is(t, l, "(")) {
		denied = lic_or(ps);
		const char *save = ps->p;
		if (!lic_is(lic_token(ps, &l), l, ")"))
			ps->p = save;
	} else if (t && !lic_is(t, l, ")")) {
		denied = lic_term_denied(ps, t, l);
	}
	const char *save = ps->p;
	t = lic_token(ps, &l);
	if (lic_is(t, l, "WITH")) {
		t = lic_token(ps, &l);
		if (t && lic_term_denied(ps, t, l))
			denied = true;
	} else {
		ps->p = save;
	}
	return denied;
}

/* Terms joined by AND (or written side by side, as non-SPDX text is): denied when any part is. */
static bool lic_and(struct lic_parse *ps)
{
	bool denied = lic_with(ps);
	for (;;) {
		const char *save = ps->p;
		size_t l;
		const char *t = lic_token(ps, &l);
		if (!t || lic_is(t, l, ")") || lic_is(t, l, "OR")) {
			ps->p = save;
			return denied;
		}
		if (!lic_is(t, l, "AND"))
			ps->p = save;
		if (lic_with(ps))
			denied = true;
	}
}

/* Alternatives joined by OR: a choice, so denied only when every alternative is. */
static bool lic_or(struct lic_parse *ps)
{
	bool denied = lic_and(ps);
	for (;;) {
		const char *save = ps->p;
		size_t l;
		const char *t = lic_token(ps, &l);
		if (!lic_is(t, l, "OR")) {
			ps->p = save;
			return denied;
		}
		if (!lic_and(ps))
			denied = false;
	}
}

/* Does the expression (or declared text) expr carry a denied license? The whole expression listed
 * (exact) or contained (partial) counts; else it is judged term by term: OR is the user's choice
 * (denied only when every alternative is), AND and WITH parts all apply (any denied part counts). */
static bool lic_denied(const char *denied, const char *expr, bool exact)
{
	if (!expr || !*expr)
		return false;
	if (exact && policy_list_has(denied, expr, true))
		return true;
	struct lic_parse ps = {.p = expr, .denied = denied, .exact = exact};
	bool d = false;
	while (*ps.p) { /* a stray ")" ends a parse: judge what follows too */
		if (lic_or(&ps))
			d = true;
		size_t l;
		if (!lic_token(&ps, &l))
			break;
	}
	return d;
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
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
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
		if (!name || (types && (!type || !policy_list_has(types, type, true))))
			continue;
		bool hit = lic_denied(denied, spdx, exact) || lic_denied(denied, raw, exact);
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
