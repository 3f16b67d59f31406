/* audit/secrets_rules.c — the secret rules (issue 5): the built-in rules file
 * (audit/secret_rules.json, compiled in as bytes by the Makefile), loading a rules file given with
 * --secret-rules (replacing or extending the built-in set), validating and compiling each rule's
 * PCRE2 patterns (pattern with a `secret` group, path include/exclude, allow), and the rules'
 * canonical identity text that goes into the index's rules hash. */
#include "audit_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <string.h>

static const unsigned char secrets_builtin[] = {
#include "secret_rules.inc"
};

#define SECRETS_DEFAULT_WINDOW 512u
#define SECRETS_MAX_WINDOW (64u << 10)

const char *secrets_builtin_json(size_t *len)
{
	*len = sizeof(secrets_builtin);
	return (const char *)secrets_builtin;
}

static void secrets_json_decrefp(json_t **j)
{
	json_decref(*j);
}
#define cleanup_secrets_json __attribute__((cleanup(secrets_json_decrefp)))

/* Compiles one pattern (owned pcre2_code *, JIT-compiled when possible) or NULL with *err. */
static void *secrets_compile(const char *rule, const char *what, const char *pat, struct strata_err **err)
{
	int ec;
	PCRE2_SIZE eoff;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0, &ec, &eoff, NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		strata_err_set(err, STRATA_EFORMAT, "secret rule %s: %s at offset %zu: %s", rule, what, (size_t)eoff,
			       (const char *)msg);
		return NULL;
	}
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
	return re;
}

static void secrets_free_res(void **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pcre2_code_free(v[i]);
	free(v);
}

static void secrets_free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* An optional array of strings → owned copies. -1 with *err when it is not one. */
static int secrets_strs(const json_t *o, const char *key, const char *rule, char ***out, size_t *n,
			struct strata_err **err)
{
	*out = NULL;
	*n = 0;
	const json_t *a = json_object_get(o, key);
	if (!a)
		return 0;
	STRATA_CHECK(json_is_array(a), err, STRATA_EFORMAT, "secret rule %s: %s is not an array", rule, key);
	*out = xcalloc(json_array_size(a) + 1, sizeof(**out));
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));
		STRATA_CHECK(s && *s, err, STRATA_EFORMAT, "secret rule %s: %s[%zu] is not a non-empty string", rule, key, i);
		(*out)[(*n)++] = xstrdup(s);
	}
	return 0;
}

/* An optional array of patterns → compiled. */
static int secrets_res(const json_t *o, const char *key, const char *rule, void ***out, size_t *n,
		       struct strata_err **err)
{
	char **s = NULL;
	size_t k = 0;
	*out = NULL;
	*n = 0;
	if (secrets_strs(o, key, rule, &s, &k, err) < 0) {
		secrets_free_strs(s, k);
		return -1;
	}
	*out = xcalloc(k + 1, sizeof(**out));
	for (size_t i = 0; i < k; i++) {
		void *re = secrets_compile(rule, key, s[i], err);
		if (!re) {
			secrets_free_strs(s, k);
			return -1;
		}
		(*out)[(*n)++] = re;
	}
	secrets_free_strs(s, k);
	return 0;
}

static void secrets_rule_clear(struct secret_rule *r)
{
	free(r->id);
	free(r->description);
	free(r->pattern);
	secrets_free_strs(r->keywords, r->nkeywords);
	if (r->re)
		pcre2_code_free(r->re);
	secrets_free_res(r->paths, r->npaths);
	secrets_free_res(r->exclude, r->nexclude);
	secrets_free_res(r->allow, r->nallow);
	free(r->example_path);
	secrets_free_strs(r->positive, r->npositive);
	secrets_free_strs(r->negative, r->nnegative);
}

static int secrets_rule_parse(const json_t *o, size_t idx, struct secret_rule *r, struct strata_err **err)
{
	const char *id = json_string_value(json_object_get(o, "id"));
	STRATA_CHECK(json_is_object(o) && id && *id, err, STRATA_EFORMAT, "secret rule #%zu: no id", idx + 1);
	r->id = xstrdup(id);
	const char *d = json_string_value(json_object_get(o, "description"));
	r->description = xstrdup(d ? d : id);
	const char *p = json_string_value(json_object_get(o, "pattern"));
	STRATA_CHECK(p && *p, err, STRATA_EFORMAT, "secret rule %s: no pattern", id);
	r->pattern = xstrdup(p);
	r->keywords_case = json_is_true(json_object_get(o, "case"));
	const json_t *ent = json_object_get(o, "entropy");
	STRATA_CHECK(!ent || json_is_number(ent), err, STRATA_EFORMAT, "secret rule %s: entropy is not a number", id);
	r->min_entropy = ent ? json_number_value(ent) : 0;
	const json_t *win = json_object_get(o, "window");
	STRATA_CHECK(!win || (json_is_integer(win) && json_integer_value(win) > 0 &&
			      json_integer_value(win) <= SECRETS_MAX_WINDOW),
		     err, STRATA_EFORMAT, "secret rule %s: window is not an integer in 1..%u", id, SECRETS_MAX_WINDOW);
	r->window = win ? (size_t)json_integer_value(win) : SECRETS_DEFAULT_WINDOW;
	if (secrets_strs(o, "keywords", id, &r->keywords, &r->nkeywords, err) < 0 ||
	    secrets_res(o, "paths", id, &r->paths, &r->npaths, err) < 0 ||
	    secrets_res(o, "exclude_paths", id, &r->exclude, &r->nexclude, err) < 0 ||
	    secrets_res(o, "allow", id, &r->allow, &r->nallow, err) < 0)
		return -1;
	STRATA_CHECK(r->nkeywords || r->npaths, err, STRATA_EFORMAT,
		     "secret rule %s: a rule without keywords must name paths", id);
	const char *ep = json_string_value(json_object_get(o, "example_path"));
	r->example_path = ep ? xstrdup(ep) : NULL;
	const json_t *ex = json_object_get(o, "examples");
	if (secrets_strs(ex, "positive", id, &r->positive, &r->npositive, err) < 0 ||
	    secrets_strs(ex, "negative", id, &r->negative, &r->nnegative, err) < 0)
		return -1;
	r->re = secrets_compile(id, "pattern", p, err);
	if (!r->re)
		return -1;
	int g = pcre2_substring_number_from_name(r->re, (PCRE2_SPTR) "secret");
	STRATA_CHECK(g > 0, err, STRATA_EFORMAT, "secret rule %s: the pattern has no named group `secret`", id);
	r->group = (uint32_t)g;
	return 0;
}

void secrets_ruleset_free(struct secret_ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++)
		secrets_rule_clear(&rs->v[i]);
	free(rs->v);
	secrets_free_res(rs->allow, rs->nallow);
	secrets_free_res(rs->exclude, rs->nexclude);
	free(rs->identity);
	free(rs);
}

/* Appends the rules document's arrays ("rules", "allow", "exclude_paths") of src to dst. */
static int secrets_doc_merge(json_t *dst, const json_t *src, const char *origin, struct strata_err **err)
{
	static const char *const keys[] = {"rules", "allow", "exclude_paths"};
	STRATA_CHECK(json_is_object(src) && json_is_array(json_object_get(src, "rules")), err, STRATA_EFORMAT,
		     "%s: not a secret rules document (an object with a \"rules\" array)", origin);
	for (size_t k = 0; k < 3; k++) {
		const json_t *a = json_object_get(src, keys[k]);
		if (!a)
			continue;
		STRATA_CHECK(json_is_array(a), err, STRATA_EFORMAT, "%s: %s is not an array", origin, keys[k]);
		json_t *d = json_object_get(dst, keys[k]);
		if (!d) {
			d = json_array();
			json_object_set_new(dst, keys[k], d);
		}
		json_array_extend(d, (json_t *)a);
	}
	return 0;
}

static json_t *secrets_doc_read(const char *text, size_t len, const char *origin, bool is_file,
				struct strata_err **err)
{
	json_error_t je;
	json_t *j = is_file ? json_load_file(origin, 0, &je) : json_loadb(text, len, 0, &je);
	if (!j)
		strata_err_set(err, STRATA_EFORMAT, "%s: line %d: %s", origin, je.line, je.text);
	return j;
}

struct secret_ruleset *secrets_rules_load(const char *file, bool extend, struct strata_err **err)
{
	cleanup_secrets_json json_t *doc = json_object();
	if (!file || extend) {
		size_t len;
		const char *b = secrets_builtin_json(&len);
		cleanup_secrets_json json_t *j = secrets_doc_read(b, len, "built-in secret rules", false, err);
		if (!j || secrets_doc_merge(doc, j, "built-in secret rules", err) < 0)
			return NULL;
	}
	if (file) {
		cleanup_secrets_json json_t *j = secrets_doc_read(NULL, 0, file, true, err);
		if (!j || secrets_doc_merge(doc, j, file, err) < 0)
			return NULL;
	}
	struct secret_ruleset *rs = xcalloc(1, sizeof(*rs));
	const json_t *rules = json_object_get(doc, "rules");
	rs->v = xcalloc(json_array_size(rules) + 1, sizeof(*rs->v));
	for (size_t i = 0; i < json_array_size(rules); i++) {
		const json_t *o = json_array_get(rules, i);
		int rc = secrets_rule_parse(o, i, &rs->v[rs->n++], err);
		for (size_t k = 0; rc == 0 && k + 1 < rs->n; k++)
			if (!strcmp(rs->v[k].id, rs->v[rs->n - 1].id))
				rc = strata_err_set(err, STRATA_EFORMAT, "secret rule %s: defined twice", rs->v[k].id);
		if (rc < 0) {
			secrets_ruleset_free(rs);
			return NULL;
		}
	}
	if (secrets_res(doc, "allow", "(global)", &rs->allow, &rs->nallow, err) < 0 ||
	    secrets_res(doc, "exclude_paths", "(global)", &rs->exclude, &rs->nexclude, err) < 0) {
		secrets_ruleset_free(rs);
		return NULL;
	}
	/* Identity: the merged document minus prose and examples, canonically serialised. */
	for (size_t i = 0; i < json_array_size(rules); i++) {
		json_object_del(json_array_get(rules, i), "examples");
		json_object_del(json_array_get(rules, i), "description");
	}
	json_object_del(doc, "about");
	rs->identity = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	if (!rs->identity)
		abort();
	return rs;
}

static bool secrets_re_any(void *const *v, size_t n, const unsigned char *s, size_t len)
{
	if (!n)
		return false;
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	if (!md)
		abort();
	bool hit = false;
	for (size_t i = 0; i < n && !hit; i++)
		hit = pcre2_match(v[i], s, len, 0, 0, md, NULL) >= 0;
	pcre2_match_data_free(md);
	return hit;
}

bool secrets_rule_applies(const struct secret_ruleset *rs, const struct secret_rule *r, const char *path)
{
	const unsigned char *p = (const unsigned char *)path;
	size_t n = strlen(path);
	if (secrets_re_any(rs->exclude, rs->nexclude, p, n) || secrets_re_any(r->exclude, r->nexclude, p, n))
		return false;
	return !r->npaths || secrets_re_any(r->paths, r->npaths, p, n);
}

bool secrets_rule_allowed(const struct secret_ruleset *rs, const struct secret_rule *r, const unsigned char *s,
			  size_t n)
{
	return secrets_re_any(r->allow, r->nallow, s, n) || secrets_re_any(rs->allow, rs->nallow, s, n);
}
