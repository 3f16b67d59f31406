/* policy/gate_packages.c — Anchore's `packages` gate over the index's package catalog (issue 4):
 * required_package (exact or minimum version in each distribution's ordering, policy/version.c),
 * denylist (alias blacklist), verify (installed files against the package database's digests:
 * dpkg md5sums, rpm digests) and metadata (name/version/type/origin/maintainer patterns), plus
 * strata's allowlist (only packages from given origins/maintainers/names; everything else fires).
 * verify lives in policy/gate_packages_verify.c.
 *
 * Maintainer and origin are not package table columns: they are read from the package database
 * stanza the catalog captured (dpkg status "Maintainer:"/"Origin:", apk installed "m:"/"o:").
 * A package without an Origin field has the image's OS id (os.id, e.g. "debian") as origin. */
#include "policy_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int pkg_prepare(sqlite3 *c, const char *sql, sqlite3_stmt **st, struct strata_err **err)
{
	if (sqlite3_prepare_v2(c, sql, -1, st, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "packages gate: %s", sqlite3_errmsg(c));
	return 0;
}

const char *pkg_col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? s : "";
}

/* True when the index has a package table (an index built without the catalog has none). */
bool pkg_have_catalog(sqlite3 *c)
{
	sqlite3_stmt *st = NULL;
	bool yes = sqlite3_prepare_v2(c, "SELECT 1 FROM package LIMIT 0", -1, &st, NULL) == SQLITE_OK;
	sqlite3_finalize(st);
	return yes;
}

/* ---- maintainer and origin from the captured package database ------------------------------ */

/* The value of field (dpkg "Maintainer", apk "m") in the stanza of package name inside the
 * database text data (len bytes): dpkg stanzas are "Key: value" lines starting with
 * "Package: name", apk stanzas "K:value" lines starting with "P:name". Owned or NULL. */
static char *pkg_stanza_field(const char *data, size_t len, bool apk, const char *name, const char *field)
{
	const char *key_pkg = apk ? "P:" : "Package: ";
	size_t nlen = strlen(name), klen = strlen(key_pkg), flen = strlen(field);
	bool in = false;
	const char *p = data, *end = data + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t ll = (size_t)(le - p);
		if (ll == 0) {
			in = false;
		} else if (ll >= klen && memcmp(p, key_pkg, klen) == 0) {
			in = ll == klen + nlen && memcmp(p + klen, name, nlen) == 0;
		} else if (in && ll > flen && memcmp(p, field, flen) == 0 && p[flen] == ':') {
			const char *v = p + flen + 1;
			while (v < le && (*v == ' ' || *v == '\t'))
				v++;
			return xstrndup(v, (size_t)(le - v));
		}
		p = le + 1;
	}
	return NULL;
}

struct pkg_row {
	char *type, *name, *version;
	char *maintainer, *origin; /* "" when unknown */
	char *path;		   /* the package database file ("/var/lib/dpkg/status") */
	int layer;		   /* the layer the package comes from */
};

static void pkg_rows_free(struct pkg_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].type);
		free(v[i].name);
		free(v[i].version);
		free(v[i].maintainer);
		free(v[i].origin);
		free(v[i].path);
	}
	free(v);
}

/* Every package of the image with maintainer and origin resolved. *out owned (pkg_rows_free). */
static int pkg_rows_load(sqlite3 *c, struct pkg_row **out, size_t *n, struct strata_err **err)
{
	*out = NULL;
	*n = 0;
	if (!pkg_have_catalog(c))
		return 0;
	char *os_id = NULL;
	{
		cleanup_sqlstmt sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(c, "SELECT id FROM os LIMIT 1", -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			os_id = xstrdup(pkg_col(st, 0));
	}
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (pkg_prepare(
		c,
		"SELECT p.type, p.name, coalesce(p.version, ''), c.data, c.path, coalesce(p.path, ''),"
		" coalesce(p.layer, 0) FROM package p"
		" LEFT JOIN captured c ON c.layer = p.layer AND c.path = ltrim(p.path, '/')"
		" ORDER BY p.type, p.name, p.version, p.id",
		&st, err) < 0) {
		free(os_id);
		return -1;
	}
	struct pkg_row *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof *v);
		}
		struct pkg_row *r = &v[cnt++];
		r->type = xstrdup(pkg_col(st, 0));
		r->name = xstrdup(pkg_col(st, 1));
		r->version = xstrdup(pkg_col(st, 2));
		r->maintainer = r->origin = NULL;
		r->path = xstrdup(pkg_col(st, 5));
		r->layer = sqlite3_column_int(st, 6);
		const char *data = sqlite3_column_blob(st, 3);
		size_t dlen = (size_t)sqlite3_column_bytes(st, 3);
		const char *cpath = pkg_col(st, 4);
		bool apk = strstr(cpath, "apk/db/installed") != NULL;
		bool dpkg = strstr(cpath, "dpkg/status") != NULL;
		if (data && (apk || dpkg)) {
			r->maintainer = pkg_stanza_field(data, dlen, apk, r->name, apk ? "m" : "Maintainer");
			if (dpkg)
				r->origin = pkg_stanza_field(data, dlen, false, r->name, "Origin");
		}
		if (!r->maintainer)
			r->maintainer = xstrdup("");
		if (!r->origin)
			r->origin = xstrdup(os_id ? os_id : "");
	}
	free(os_id);
	if (rc != SQLITE_DONE) {
		pkg_rows_free(v, cnt);
		return strata_err_set(err, STRATA_EIO, "packages gate: %s", sqlite3_errmsg(c));
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* regexp(pattern, text) through the evaluation's connection (PCRE2, unanchored search). */
static int pkg_regex(sqlite3 *c, const char *pattern, const char *text, struct strata_err **err)
{
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (pkg_prepare(c, "SELECT regexp(?1, ?2)", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, pattern, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return strata_err_set(err, STRATA_EUSAGE, "regex '%s': %s", pattern, sqlite3_errmsg(c));
	return sqlite3_column_int(st, 0) != 0;
}

/* ---- required_package ------------------------------------------------------------------------ */

static int pkg_required_eval(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	const char *name = policy_rule_param(r, "name");
	const char *version = policy_rule_param(r, "version");
	const char *cmp = policy_rule_param(r, "version_match_type");
	if (version && !*version)
		version = NULL;
	bool minimum = cmp && strcasecmp(cmp, "minimum") == 0;
	if (!name)
		return 0;
	bool found = false;
	if (pkg_have_catalog(c)) {
		cleanup_sqlstmt sqlite3_stmt *st = NULL;
		if (pkg_prepare(c,
				"SELECT type, name, coalesce(version, '') FROM package WHERE name = ?1 ORDER "
				"BY id LIMIT 1",
				&st, err) < 0)
			return -1;
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			found = true;
			const char *type = pkg_col(st, 0), *have = pkg_col(st, 2);
			cleanup_free char *msg = NULL;
			if (version && !minimum && strcmp(have, version) != 0)
				/* Anchore's text, including its naming the package where the version belongs.
				 */
				msg = xasprintf("Required input package (%s) is present (%s), but not at the "
						"version specified in policy (%s)",
						name, have, name);
			else if (version && minimum && strcmp(have, version) != 0 &&
				 policy_version_cmp(type, have, version) < 0)
				msg = xasprintf("Required min-version input package (%s) is present (%s), "
						"but is lower version than what is specified in policy (%s)",
						name, have, version);
			if (msg) {
				const struct policy_match m = {.message = msg, .visible = -1};
				policy_eval_fire(ev, r, &m);
			}
		}
	}
	if (!found) {
		cleanup_free char *msg =
		    version
			? xasprintf("Required input package (%s,%s) is not present in container image", name,
				    version)
			: xasprintf("Required input package (%s) is not present in container image", name);
		const struct policy_match m = {.message = msg, .visible = -1};
		policy_eval_fire(ev, r, &m);
	}
	return 0;
}

/* ---- denylist -------------------------------------------------------------------------------- */

static int pkg_denylist_eval(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	const char *name = policy_rule_param(r, "name");
	const char *version = policy_rule_param(r, "version");
	const char *cmp = policy_rule_param(r, "version_match_type");
	if (version && !*version)
		version = NULL;
	bool minimum = cmp && strcasecmp(cmp, "minimum") == 0;
	if (!name || !pkg_have_catalog(c))
		return 0;
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	/* name may be a glob ("python2*"), as in shell patterns: * ? [...] */
	if (pkg_prepare(c,
			"SELECT type, name, coalesce(version, ''), layer, path FROM package WHERE name GLOB "
			"?1 ORDER BY id",
			&st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *type = pkg_col(st, 0), *pname = pkg_col(st, 1), *have = pkg_col(st, 2);
		cleanup_free char *msg = NULL;
		if (!version)
			msg = xasprintf("Package is blacklisted: %s", pname);
		else if (strcmp(have, version) == 0 ||
			 (minimum && policy_version_cmp(type, have, version) >= 0))
			msg = xasprintf("Package is blacklisted: %s-%s", pname, have);
		if (!msg)
			continue;
		const struct policy_match m = {
		    .message = msg, .path = pkg_col(st, 4), .layer = sqlite3_column_int(st, 3), .visible = 1};
		policy_eval_fire(ev, r, &m);
	}
	return 0;
}

static const char *pkg_name_required(const struct policy_rule *r)
{
	const char *n = policy_rule_param(r, "name");
	return n && *n ? NULL : "parameter name must not be empty";
}

/* ---- metadata and allowlist ------------------------------------------------------------------ */

/* Does package p match every given pattern of the rule? 1, 0 or -1 with *err. */
static int pkg_metadata_match(sqlite3 *c, const struct policy_rule *r, const struct pkg_row *p,
			      struct strata_err **err)
{
	static const char *const keys[] = {"name", "version", "type", "origin", "maintainer"};
	const char *vals[] = {p->name, p->version, p->type, p->origin, p->maintainer};
	for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
		const char *pat = policy_rule_param(r, keys[k]);
		if (!pat || !*pat)
			continue;
		int m = pkg_regex(c, pat, vals[k], err);
		if (m <= 0)
			return m;
	}
	return 1;
}

static int pkg_metadata_eval(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	struct pkg_row *v = NULL;
	size_t n = 0;
	if (pkg_rows_load(c, &v, &n, err) < 0)
		return -1;
	int ret = 0;
	for (size_t i = 0; i < n; i++) {
		int m = pkg_metadata_match(c, r, &v[i], err);
		if (m < 0) {
			ret = -1;
			break;
		}
		if (!m)
			continue;
		cleanup_free char *msg = xasprintf(
		    "Package %s (%s) version %s matched metadata criteria: origin '%s', maintainer '%s'",
		    v[i].name, v[i].type, v[i].version, v[i].origin, v[i].maintainer);
		const struct policy_match pm = {
		    .message = msg, .path = *v[i].path ? v[i].path : NULL, .layer = v[i].layer, .visible = 1};
		policy_eval_fire(ev, r, &pm);
	}
	pkg_rows_free(v, n);
	return ret;
}

static const char *pkg_metadata_validate(const struct policy_rule *r)
{
	static const char *const keys[] = {"name", "version", "type", "origin", "maintainer"};
	for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
		const char *p = policy_rule_param(r, keys[k]);
		if (p && *p)
			return NULL;
	}
	return "at least one of name, version, type, origin or maintainer is required";
}

static int pkg_allowlist_eval(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	const char *origins = policy_rule_param(r, "origins");
	const char *maint = policy_rule_param(r, "maintainer_regex");
	const char *names = policy_rule_param(r, "name_regex");
	const char *types = policy_rule_param(r, "package_types");
	struct pkg_row *v = NULL;
	size_t n = 0;
	if (pkg_rows_load(c, &v, &n, err) < 0)
		return -1;
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (types && *types && !policy_list_has(types, v[i].type, true))
			continue; /* only the package types the rule is about */
		bool allowed = origins && *origins && policy_list_has(origins, v[i].origin, true);
		for (int k = 0; k < 2 && !allowed; k++) {
			const char *pat = k == 0 ? maint : names;
			if (!pat || !*pat)
				continue;
			int m = pkg_regex(c, pat, k == 0 ? v[i].maintainer : v[i].name, err);
			if (m < 0)
				ret = -1;
			allowed = m > 0;
		}
		if (allowed || ret < 0)
			continue;
		cleanup_free char *msg =
		    xasprintf("Package %s-%s (%s) is not in the allowlist: origin '%s', maintainer '%s'",
			      v[i].name, v[i].version, v[i].type, v[i].origin, v[i].maintainer);
		const struct policy_match pm = {
		    .message = msg, .path = *v[i].path ? v[i].path : NULL, .layer = v[i].layer, .visible = 1};
		policy_eval_fire(ev, r, &pm);
	}
	pkg_rows_free(v, n);
	return ret;
}

static const char *pkg_allowlist_validate(const struct policy_rule *r)
{
	static const char *const keys[] = {"origins", "maintainer_regex", "name_regex"};
	for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
		const char *p = policy_rule_param(r, keys[k]);
		if (p && *p)
			return NULL;
	}
	return "at least one of origins, maintainer_regex or name_regex is required";
}

/* ---- table ----------------------------------------------------------------------------------- */

static const struct policy_param_def pkg_required_params[] = {
    {"name", POLICY_PARAM_STRING, true, NULL, NULL},
    {"version", POLICY_PARAM_STRING, false, NULL, NULL},
    {"version_match_type", POLICY_PARAM_ENUM, false, "exact|minimum", NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};
static const struct policy_param_def pkg_denylist_params[] = {
    {"name", POLICY_PARAM_STRING, true, NULL, NULL},
    {"version", POLICY_PARAM_STRING, false, NULL, NULL},
    {"version_match_type", POLICY_PARAM_ENUM, false, "exact|minimum", NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};
static const struct policy_param_def pkg_verify_params[] = {
    {"only_packages", POLICY_PARAM_LIST, false, NULL, NULL},
    {"only_directories", POLICY_PARAM_LIST, false, NULL, NULL},
    {"check", POLICY_PARAM_ENUM, false, "changed|missing", NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};
static const struct policy_param_def pkg_metadata_params[] = {
    {"name", POLICY_PARAM_REGEX, false, NULL, NULL},	   {"version", POLICY_PARAM_REGEX, false, NULL, NULL},
    {"type", POLICY_PARAM_REGEX, false, NULL, NULL},	   {"origin", POLICY_PARAM_REGEX, false, NULL, NULL},
    {"maintainer", POLICY_PARAM_REGEX, false, NULL, NULL}, {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};
static const struct policy_param_def pkg_allowlist_params[] = {
    {"origins", POLICY_PARAM_LIST, false, NULL, NULL},
    {"maintainer_regex", POLICY_PARAM_REGEX, false, NULL, NULL},
    {"name_regex", POLICY_PARAM_REGEX, false, NULL, NULL},
    {"package_types", POLICY_PARAM_LIST, false, NULL, NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_trigger_def pkg_triggers[] = {
    {"required_package", NULL,
     "Triggers if the specified package and optionally a specific version (exact, or at least it in the "
     "distribution's version order) is not found in the image",
     pkg_required_params, pkg_name_required, pkg_required_eval},
    {"denylist", "blacklist",
     "Triggers if the image has a package installed with the given name (a glob: python2*), optionally at "
     "the given version (exact, or that version or later)",
     pkg_denylist_params, pkg_name_required, pkg_denylist_eval},
    {"verify", NULL,
     "Checks installed files against the package database's digests (dpkg md5sums, rpm digests): fires for "
     "changed or missing files, optionally only for some packages or directories",
     pkg_verify_params, NULL, policy_packages_verify_eval},
    {"metadata", NULL,
     "Triggers for each package whose name, version, type, origin and maintainer match all the given regular "
     "expressions",
     pkg_metadata_params, pkg_metadata_validate, pkg_metadata_eval},
    {"allowlist", NULL,
     "Triggers for each package not from an allowed origin, maintainer (regex) or name (regex)",
     pkg_allowlist_params, pkg_allowlist_validate, pkg_allowlist_eval},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct policy_gate_def policy_gate_packages = {"packages", "Distro package checks", pkg_triggers};
