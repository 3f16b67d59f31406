/* policy/gate_metadata.c — Anchore's `metadata` gate: trigger `attribute` compares one image
 * attribute with a value: size (bytes of the uncompressed layers), architecture and os_type
 * (alias os; the image config's), distro, distro_version and like_distro (os-release ID,
 * VERSION_ID and ID_LIKE), layer_count. Checks are Anchore's: =, !=, >, <, >=, <= (numbers for
 * size and layer_count, version order for distro_version, text otherwise), exists, not_exists,
 * like, not_like (PCRE2 regex search), in, not_in (comma-separated values). A size value may
 * carry Anchore's units kb, mb, gb, tb (powers of 1024, any letter case: "1gb", "10MB"); the
 * message prints it converted to bytes, as Anchore does. The message is Anchore's template. */
#include "policy_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A size value as Anchore's convert_bytes_size reads it: decimal digits, optionally followed by
 * kb, mb, gb or tb (1024, 1024^2, …; letter case ignored). True with *out in bytes; false when s
 * is not of that form or the number does not fit in 63 bits. */
static bool meta_size_parse(const char *s, long long *out)
{
	static const char units[] = "kmgt";
	uint64_t n = 0;
	const char *p = s;
	if (!s || !(*p >= '0' && *p <= '9'))
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > ((uint64_t)INT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (*p) {
		const char *u = strchr(units, (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p));
		if (!u || !*u || (p[1] != 'b' && p[1] != 'B') || p[2])
			return false;
		for (long i = 0; i <= u - units; i++) {
			if (n > (uint64_t)INT64_MAX / 1024)
				return false;
			n *= 1024;
		}
	}
	*out = (long long)n;
	return true;
}

/* One SQL value as an owned string, NULL when the query fails or yields NULL. */
static char *meta_query(sqlite3 *c, const char *sql)
{
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW ||
	    sqlite3_column_type(st, 0) == SQLITE_NULL)
		return NULL;
	return xstrdup((const char *)sqlite3_column_text(st, 0));
}

/* ID_LIKE of the captured os-release the catalog chose (os.path), unquoted. Owned or NULL. */
static char *meta_like_distro(sqlite3 *c)
{
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c,
			       "SELECT c.data FROM os o JOIN captured c ON c.layer = o.layer AND c.path = "
			       "ltrim(o.path, '/')",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		return NULL;
	const char *d = sqlite3_column_blob(st, 0);
	size_t n = (size_t)sqlite3_column_bytes(st, 0);
	const char *p = d, *end = d + n;
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (le - p > 8 && memcmp(p, "ID_LIKE=", 8) == 0) {
			const char *v = p + 8, *ve = le;
			if (ve > v && (*v == '"' || *v == '\'')) {
				v++;
				if (ve > v && (ve[-1] == '"' || ve[-1] == '\''))
					ve--;
			}
			return xstrndup(v, (size_t)(ve - v));
		}
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static char *meta_attribute(sqlite3 *c, const char *attr)
{
	if (!strcmp(attr, "size"))
		return meta_query(c, "SELECT sum(size) FROM layer");
	if (!strcmp(attr, "layer_count"))
		return meta_query(c, "SELECT count(*) FROM layer");
	if (!strcmp(attr, "architecture"))
		return meta_query(
		    c, "SELECT json_extract(config, '$.architecture') FROM image WHERE json_valid(config)");
	if (!strcmp(attr, "os_type") || !strcmp(attr, "os"))
		return meta_query(c,
				  "SELECT json_extract(config, '$.os') FROM image WHERE json_valid(config)");
	if (!strcmp(attr, "distro"))
		return meta_query(c, "SELECT id FROM os LIMIT 1");
	if (!strcmp(attr, "distro_version"))
		return meta_query(c, "SELECT version_id FROM os LIMIT 1");
	if (!strcmp(attr, "like_distro"))
		return meta_like_distro(c);
	return NULL;
}

/* 1 when the check holds, 0 when not, -1 with *err (a regex that fails). */
static int meta_check(sqlite3 *c, const char *attr, const char *check, const char *have, const char *want,
		      struct strata_err **err)
{
	if (!strcmp(check, "exists"))
		return have && *have;
	if (!strcmp(check, "not_exists"))
		return !have || !*have;
	if (!have)
		return 0;
	want = want ? want : "";
	if (!strcmp(check, "in"))
		return policy_list_has(want, have, false);
	if (!strcmp(check, "not_in"))
		return !policy_list_has(want, have, false);
	if (!strcmp(check, "like") || !strcmp(check, "not_like")) {
		cleanup_sqlstmt sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(c, "SELECT regexp(?1, ?2)", -1, &st, NULL) != SQLITE_OK)
			return strata_err_set(err, STRATA_EIO, "metadata gate: %s", sqlite3_errmsg(c));
		sqlite3_bind_text(st, 1, want, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, have, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW)
			return strata_err_set(err, STRATA_EUSAGE, "metadata gate: regex '%s': %s", want,
					      sqlite3_errmsg(c));
		bool m = sqlite3_column_int(st, 0) != 0;
		return !strcmp(check, "like") ? m : !m;
	}
	int cmp;
	if (!strcmp(attr, "size") || !strcmp(attr, "layer_count")) {
		char *e1 = NULL, *e2 = NULL;
		long long a = strtoll(have, &e1, 10), b = strtoll(want, &e2, 10);
		if (*e2 || !*want)
			return 0; /* not a number: no order */
		cmp = (a > b) - (a < b);
	} else if (!strcmp(attr, "distro_version")) {
		cmp = policy_version_cmp_dpkg(have, want);
	} else {
		cmp = strcmp(have, want);
		cmp = (cmp > 0) - (cmp < 0);
	}
	if (!strcmp(check, "=") || !strcmp(check, "=="))
		return cmp == 0;
	if (!strcmp(check, "!="))
		return cmp != 0;
	if (!strcmp(check, ">"))
		return cmp > 0;
	if (!strcmp(check, "<"))
		return cmp < 0;
	if (!strcmp(check, ">="))
		return cmp >= 0;
	if (!strcmp(check, "<="))
		return cmp <= 0;
	return 0;
}

static int meta_attribute_eval(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	const char *attr = policy_rule_param(r, "attribute");
	const char *check = policy_rule_param(r, "check");
	const char *value = policy_rule_param(r, "value");
	if (!attr || !check)
		return 0;
	cleanup_free char *have = meta_attribute(c, attr);
	cleanup_free char *bytes = NULL; /* a size value with its unit applied */
	long long n;
	if (!strcmp(attr, "size") && value && meta_size_parse(value, &n))
		value = bytes = xasprintf("%lld", n);
	int m = meta_check(c, attr, check, have, value, err);
	if (m < 0)
		return -1;
	if (m) {
		cleanup_free char *msg = xasprintf("Attribute check for attribute: '%s' check: '%s' "
						   "check_value: '%s' matched image value: '%s'",
						   attr, check, value ? value : "", have ? have : "None");
		const struct policy_match pm = {.message = msg, .visible = -1};
		policy_eval_fire(ev, r, &pm);
	}
	return 0;
}

static const char *meta_validate(const struct policy_rule *r)
{
	const char *check = policy_rule_param(r, "check");
	const char *value = policy_rule_param(r, "value");
	const char *attr = policy_rule_param(r, "attribute");
	long long n;
	if (check && strcmp(check, "exists") && strcmp(check, "not_exists") && (!value || !*value))
		return "this check needs a value";
	if (attr && !strcmp(attr, "size") && value && *value && !meta_size_parse(value, &n))
		return "a size value is a number of bytes, optionally with a unit kb, mb, gb or tb";
	return NULL;
}

static const struct policy_param_def meta_params[] = {
    {"attribute", POLICY_PARAM_ENUM, true,
     "size|architecture|os_type|os|distro|distro_version|like_distro|layer_count", NULL},
    {"check", POLICY_PARAM_ENUM, true, "=|!=|>|<|>=|<=|exists|not_exists|like|not_like|in|not_in", NULL},
    {"value", POLICY_PARAM_STRING, false, NULL, "check_value"},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_trigger_def meta_triggers[] = {
    {"attribute", NULL, "Triggers if a named image metadata value matches the given condition", meta_params,
     meta_validate, meta_attribute_eval},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct policy_gate_def policy_gate_metadata = {
    "metadata", "Checks against image metadata, such as size, OS, distro, architecture, etc", meta_triggers};
