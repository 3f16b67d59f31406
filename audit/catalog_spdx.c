/* audit/catalog_spdx.c — the SPDX license list and the normaliser of license expressions.
 *
 * The identifiers come from Debian's node-spdx-license-ids package, turned into C tables at build
 * time by tools/gen_spdx_ids.sh (the Makefile makes $(BUILD)/gen/spdx_ids.inc); none is typed
 * here. What is typed here are Debian's short names that are not SPDX spellings (Expat → MIT,
 * Artistic → Artistic-1.0-Perl, …) and the rule that maps Debian's numbered names (GPL-2, GPL-2+,
 * LGPL-2.1, Apache-2) onto the list: NAME-N[.M] → NAME-N.M-only / -or-later / NAME-N.M, kept
 * only when the result is in the list.
 *
 * Expressions: words and/or/AND/OR become AND/OR, parentheses are kept, commas are separators;
 * "with X" keeps "WITH <id>" only when X (its words joined by '-') names an exception of the SPDX
 * exceptions list (Debian's node-spdx-exceptions, same generated table): the id itself up to case,
 * a few typed spellings (GCC Runtime Library exception), or the one id X is a prefix of
 * ("Classpath exception" → Classpath-exception-2.0), and only after a simple license term (after
 * a LicenseRef- it joins the ref's name: LicenseRef-GPL-with-Classpath-exception-2.0).
 * Otherwise the exception is dropped from the SPDX form ("GPLv2+ with exceptions" →
 * GPL-2.0-or-later; the raw text is recorded by the caller): an invalid `WITH` is never written.
 * Words that do not normalise become LicenseRef-<word with other characters as '-'>. */
#include "audit_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "spdx_ids.inc"

const char *catalog_spdx_canonical(const char *id, bool *deprecated)
{
	*deprecated = false;
	for (size_t i = 0; spdx_ids[i]; i++)
		if (!strcasecmp(spdx_ids[i], id))
			return spdx_ids[i];
	for (size_t i = 0; spdx_deprecated[i]; i++)
		if (!strcasecmp(spdx_deprecated[i], id)) {
			*deprecated = true;
			return spdx_deprecated[i];
		}
	return NULL;
}

/* Spellings of exceptions (words joined by '-') that are neither an id nor the prefix of one. */
static const struct {
	const char *from, *to;
} exception_aliases[] = {
	{"GCC-Runtime-Library-exception", "GCC-exception-3.1"},
	{"GCC-Runtime-Library-exception-3.1", "GCC-exception-3.1"},
	{"Autoconf-exception-3", "Autoconf-exception-3.0"},
	{"Autoconf-exception-2", "Autoconf-exception-2.0"},
};

/* The exceptions list's spelling of id (case-insensitive), or NULL. */
static const char *spdx_exception_exact(const char *id)
{
	for (size_t i = 0; spdx_exceptions[i]; i++)
		if (!strcasecmp(spdx_exceptions[i], id))
			return spdx_exceptions[i];
	return NULL;
}

const char *catalog_spdx_exception(const char *phrase)
{
	const char *c = spdx_exception_exact(phrase);
	if (c)
		return c;
	for (size_t i = 0; i < sizeof(exception_aliases) / sizeof(exception_aliases[0]); i++)
		if (!strcasecmp(exception_aliases[i].from, phrase))
			return spdx_exception_exact(exception_aliases[i].to);
	/* The one id phrase is a prefix of, up to a "-" ("Classpath-exception" → …-2.0). */
	size_t n = strlen(phrase);
	const char *found = NULL;
	for (size_t i = 0; n && spdx_exceptions[i]; i++)
		if (!strncasecmp(spdx_exceptions[i], phrase, n) && spdx_exceptions[i][n] == '-') {
			if (found)
				return NULL; /* ambiguous ("GCC-exception": 2.0 or 3.1) */
			found = spdx_exceptions[i];
		}
	return found;
}

bool catalog_spdx_known(const char *id, bool *deprecated)
{
	const char *c = catalog_spdx_canonical(id, deprecated);
	return c && !strcmp(c, id);
}

/* Current (not deprecated) id equal to s, case-sensitively after canonicalisation. */
static const char *spdx_current(const char *s)
{
	bool dep;
	const char *c = catalog_spdx_canonical(s, &dep);
	return c && !dep ? c : NULL;
}

enum how { HOW_SPDX, HOW_CASE, HOW_DEPRECATED, HOW_SHORTNAME, HOW_ALIAS, HOW_UNMATCHED };
static const char *const how_names[] = {"spdx", "spdx-case", "spdx-deprecated", "debian-shortname", "debian-alias",
					"unmatched"};

/* Debian short names (and a few common spellings) that are not SPDX ids up to case. */
static const struct {
	const char *from, *to;
} aliases[] = {
	{"Expat", "MIT"},
	{"MIT/Expat", "MIT"},
	{"Artistic", "Artistic-1.0-Perl"},
	{"Perl", "Artistic-1.0-Perl OR GPL-1.0-or-later"},
	{"PSF-2", "PSF-2.0"},
	{"Python", "Python-2.0"},
	{"Apache", "Apache-2.0"},
	{"ZPL", "ZPL-2.1"},
	{"BSD-4-clause-UC", "BSD-4-Clause-UC"},
	{"BSD-3-clause-UC", "BSD-3-Clause"},
	{"MIT-X11", "X11"},
	{"MIT/X11", "X11"},
	{"MIT License", "MIT"},
	{"Apache License 2.0", "Apache-2.0"},
	{"Apache License, Version 2.0", "Apache-2.0"},
	{"Apache 2.0", "Apache-2.0"},
	{"BSD 3-Clause", "BSD-3-Clause"},
	{"BSD 2-Clause", "BSD-2-Clause"},
	{"ISC License", "ISC"},
	{"GPLv2", "GPL-2.0-only"},
	{"GPLv2+", "GPL-2.0-or-later"},
	{"GPLv3", "GPL-3.0-only"},
	{"GPLv3+", "GPL-3.0-or-later"},
	{"LGPLv2+", "LGPL-2.0-or-later"},
	{"LGPLv3+", "LGPL-3.0-or-later"},
	/* Fedora/RHEL legacy rpm License short names (rpm cataloger). */
	{"ASL 2.0", "Apache-2.0"},
	{"ASL 1.1", "Apache-1.1"},
	{"Boost", "BSL-1.0"},
	{"OpenLDAP", "OLDAP-2.8"},
	{"MPLv2.0", "MPL-2.0"},
	{"MPLv1.1", "MPL-1.1"},
	{"LGPLv3", "LGPL-3.0-only"},
	{"GPL+", "GPL-1.0-or-later"},
};

/* NAME-N[.M][+] → the list's spelling, or NULL. */
static const char *spdx_from_shortname(const char *w, char *buf, size_t bufsz)
{
	size_t n = strlen(w);
	bool plus = n && w[n - 1] == '+';
	if (plus)
		n--;
	size_t i = n;
	while (i && (isdigit((unsigned char)w[i - 1]) || w[i - 1] == '.'))
		i--;
	if (i == n || i < 2 || w[i - 1] != '-' || !isdigit((unsigned char)w[i]))
		return NULL;
	char ver[16];
	size_t vl = n - i;
	if (vl >= sizeof(ver) - 2)
		return NULL;
	memcpy(ver, w + i, vl);
	ver[vl] = '\0';
	if (!strchr(ver, '.'))
		strcat(ver, ".0");
	char base[160];
	const char *variant = "";
	if ((size_t)snprintf(base, sizeof(base), "%.*s", (int)(i - 1), w) >= sizeof(base))
		return NULL;
	/* Debian's GFDL-NIV-N (no invariant sections) is SPDX's GFDL-N-no-invariants. */
	size_t bl = strlen(base);
	if (bl > 4 && !strcasecmp(base + bl - 4, "-NIV")) {
		base[bl - 4] = '\0';
		variant = "-no-invariants";
	}
	char cand[200];
	const char *c;
	if (plus) {
		snprintf(cand, sizeof(cand), "%s-%s%s-or-later", base, ver, variant);
		if ((c = spdx_current(cand)))
			return c;
		snprintf(cand, sizeof(cand), "%s-%s", base, ver);
		if ((c = spdx_current(cand))) {
			snprintf(buf, bufsz, "%s+", c);
			return buf;
		}
		return NULL;
	}
	snprintf(cand, sizeof(cand), "%s-%s%s-only", base, ver, variant);
	if ((c = spdx_current(cand)))
		return c;
	snprintf(cand, sizeof(cand), "%s-%s", base, ver);
	return spdx_current(cand);
}

/* One license term (a word or a phrase) → appended to out; returns how it matched. */
static enum how spdx_term(const char *w, char **out)
{
	char buf[256];
	bool dep;
	const char *c;
	if (!strncmp(w, "LicenseRef-", 11) || !strncmp(w, "DocumentRef-", 12)) {
		*out = xstrdup(w);
		return HOW_SPDX;
	}
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcasecmp(aliases[i].from, w)) {
			*out = xstrdup(aliases[i].to);
			return HOW_ALIAS;
		}
	size_t n = strlen(w);
	if ((c = catalog_spdx_canonical(w, &dep))) {
		if (!dep) {
			*out = xstrdup(c);
			return strcmp(c, w) ? HOW_CASE : HOW_SPDX;
		}
		/* Deprecated GPL-2.0 / GPL-2.0+ style: prefer the -only / -or-later spelling. */
		bool plus = c[strlen(c) - 1] == '+';
		snprintf(buf, sizeof(buf), "%.*s%s", (int)(strlen(c) - plus), c, plus ? "-or-later" : "-only");
		const char *cur = spdx_current(buf);
		*out = xstrdup(cur ? cur : c);
		return HOW_DEPRECATED;
	}
	/* A "+" after a current id ("Apache-2.0+") is the SPDX or-later operator. */
	if (n > 1 && w[n - 1] == '+') {
		cleanup_free char *base = xstrndup(w, n - 1);
		if ((c = spdx_current(base))) {
			*out = xasprintf("%s+", c);
			return strcmp(c, base) ? HOW_CASE : HOW_SPDX;
		}
	}
	if ((c = spdx_from_shortname(w, buf, sizeof(buf)))) {
		*out = xstrdup(c);
		return HOW_SHORTNAME;
	}
	char *r = xasprintf("LicenseRef-%s", w);
	for (char *p = r + 11; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			*p = '-';
	if (!r[11]) {
		free(r);
		r = xstrdup("LicenseRef-empty");
	}
	*out = r;
	return HOW_UNMATCHED;
}

struct spdx_out {
	char *s;
	size_t n, cap;
	bool need_op; /* a term was written and no operator since */
	enum how how;
};

static void out_put(struct spdx_out *o, const char *s)
{
	size_t l = strlen(s);
	if (o->n + l + 1 > o->cap) {
		o->cap = (o->n + l + 1) * 2;
		o->s = xrealloc(o->s, o->cap);
	}
	memcpy(o->s + o->n, s, l + 1);
	o->n += l;
}

static void out_term(struct spdx_out *o, const char *phrase)
{
	if (!phrase[0])
		return;
	if (o->need_op)
		out_put(o, " AND ");
	cleanup_free char *t = NULL;
	enum how h = spdx_term(phrase, &t);
	if (h > o->how)
		o->how = h;
	bool compound = strchr(t, ' ') != NULL; /* an alias expanding to an expression */
	if (compound)
		out_put(o, "(");
	out_put(o, t);
	if (compound)
		out_put(o, ")");
	o->need_op = true;
}

/* True when the last term written already has a WITH ("A WITH X" cannot take another). */
static bool with_after_last_term(const struct spdx_out *o)
{
	const char *w = NULL;
	for (const char *p = o->s; (p = strstr(p, " WITH ")); p++)
		w = p;
	if (!w)
		return false;
	return !strstr(w, " AND ") && !strstr(w, " OR ") && !strchr(w, '(');
}

/* True when the last term written is a LicenseRef-. */
static bool last_term_is_ref(const struct spdx_out *o)
{
	const char *t = o->s;
	for (const char *p = o->s; *p; p++)
		if (*p == ' ' || *p == '(')
			t = p + 1;
	return !strncmp(t, "LicenseRef-", 11);
}

static bool word_is(const char *w, size_t n, const char *kw)
{
	return strlen(kw) == n && !strncasecmp(w, kw, n);
}

void catalog_license_normalize(const char *expr, struct catalog_license *res)
{
	struct spdx_out o = {0};
	out_put(&o, "");
	/* The current phrase: consecutive words that are not operators. */
	char phrase[512];
	size_t pl = 0;
	bool in_with = false; /* after "with": collecting an exception */
	char exc[256];
	size_t el = 0;
	size_t exc_words = 0;
	const char *p = expr ? expr : "";
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',')
			p++;
		const char *w = p;
		if (*p == '(' || *p == ')')
			p++;
		else
			while (*p && !strchr(" \t\n\r,()", *p))
				p++;
		size_t wl = (size_t)(p - w);
		bool end = wl == 0;
		bool is_op = !end && (word_is(w, wl, "and") || word_is(w, wl, "or") || word_is(w, wl, "&") ||
				      word_is(w, wl, "|") || word_is(w, wl, "and/or"));
		bool is_paren = wl == 1 && (*w == '(' || *w == ')');
		bool is_with = !end && word_is(w, wl, "with");
		if (end || is_op || is_paren || is_with) {
			/* Close the pending phrase (or exception). */
			if (in_with) {
				exc[el] = '\0';
				/* WITH follows a simple term only: not "(A OR B)", not an operator. */
				const char *id = exc_words ? catalog_spdx_exception(exc) : NULL;
				if (id && o.need_op && o.n && o.s[o.n - 1] != ')' &&
				    !with_after_last_term(&o)) {
					/* A LicenseRef takes the exception into its name: strict parsers
					 * (spdx-expression-parse) refuse "LicenseRef-x WITH y". */
					out_put(&o, last_term_is_ref(&o) ? "-with-" : " WITH ");
					out_put(&o, id);
				}
				in_with = false;
				el = exc_words = 0;
			} else if (pl) {
				phrase[pl] = '\0';
				out_term(&o, phrase);
				pl = 0;
			}
			if (end)
				break;
			if (is_with) {
				in_with = true;
			} else if (is_op) {
				if (o.need_op) {
					bool and = (*w == 'a' || *w == 'A' || *w == '&') && wl != 6;
					out_put(&o, and ? " AND " : " OR ");
					o.need_op = false;
				}
			} else if (*w == '(') {
				if (o.need_op)
					out_put(&o, " AND ");
				out_put(&o, "(");
				o.need_op = false;
			} else {
				/* ")" : drop a dangling operator, then close. */
				size_t k = o.n;
				if (k >= 4 && !strcmp(o.s + k - 4, " OR "))
					o.n -= 4, o.s[o.n] = '\0';
				else if (k >= 5 && !strcmp(o.s + k - 5, " AND "))
					o.n -= 5, o.s[o.n] = '\0';
				out_put(&o, ")");
				o.need_op = true;
			}
			continue;
		}
		if (in_with) {
			if (el + wl + 2 < sizeof(exc)) {
				if (el)
					exc[el++] = '-';
				memcpy(exc + el, w, wl);
				el += wl;
			}
			exc_words++;
			continue;
		}
		if (pl + wl + 2 < sizeof(phrase)) {
			if (pl)
				phrase[pl++] = ' ';
			memcpy(phrase + pl, w, wl);
			pl += wl;
		}
	}
	/* A dangling operator at the end, and unbalanced parentheses, are removed. */
	if (o.n >= 4 && !strcmp(o.s + o.n - 4, " OR "))
		o.n -= 4, o.s[o.n] = '\0';
	else if (o.n >= 5 && !strcmp(o.s + o.n - 5, " AND "))
		o.n -= 5, o.s[o.n] = '\0';
	int depth = 0;
	bool balanced = true;
	for (size_t i = 0; i < o.n; i++) {
		depth += o.s[i] == '(' ? 1 : o.s[i] == ')' ? -1 : 0;
		if (depth < 0)
			balanced = false;
	}
	if (!balanced || depth != 0) {
		size_t j = 0;
		for (size_t i = 0; i < o.n; i++)
			if (o.s[i] != '(' && o.s[i] != ')')
				o.s[j++] = o.s[i];
		o.n = j;
		o.s[j] = '\0';
	}
	if (!o.n) {
		free(o.s);
		o.s = xstrdup("NOASSERTION");
		o.how = HOW_UNMATCHED;
	}
	res->spdx = o.s;
	res->how = how_names[o.how];
}
