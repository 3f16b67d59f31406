/* policy/policy_bundle.c — reading a policy bundle: Anchore's 1_0 JSON (policies, whitelists,
 * mappings, whitelisted_images, blacklisted_images) and the newer names (rule_sets, allowlists,
 * rule_set_ids, allowlist_ids, allowlisted_images, denylisted_images), validated against the gate
 * table (policy/gates.c). Every problem is collected (one line each, naming the rule id, gate,
 * trigger and parameter) so a user fixes a bundle in one pass; the parameter-level checks live in
 * policy/policy_bundle_check.c. The parsed bundle borrows its strings from its jansson tree. */
#include "policy_int.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

void policy_bundle_problem(struct policy_bundle *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	b->problems = xrealloc(b->problems, (b->nproblems + 1) * sizeof(*b->problems));
	b->problems[b->nproblems++] = s;
}

bool policy_glob_match(const char *pat, const char *s)
{
	if (!pat)
		return true;
	const char *star = NULL, *back = NULL;
	while (*s) {
		if (*pat == '*') {
			star = pat++;
			back = s;
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++back;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return !*pat;
}

const struct policy_gate_def *policy_gate_find(const char *name)
{
	for (size_t i = 0; name && policy_gates[i]; i++)
		if (!strcasecmp(policy_gates[i]->name, name))
			return policy_gates[i];
	return NULL;
}

const struct policy_trigger_def *policy_trigger_find(const struct policy_gate_def *g, const char *name)
{
	for (size_t i = 0; g && name && g->triggers[i].name; i++)
		if (!strcasecmp(g->triggers[i].name, name) ||
		    policy_alias_has(g->triggers[i].alias, name))
			return &g->triggers[i];
	return NULL;
}

/* obj[key] as a string, or NULL. */
static const char *bundle_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The first of the keys present in obj (the old name, then the new ones). */
static const json_t *bundle_get2(const json_t *obj, const char *a, const char *b, const char *c)
{
	const json_t *v = json_object_get(obj, a);
	if (!v && b)
		v = json_object_get(obj, b);
	if (!v && c)
		v = json_object_get(obj, c);
	return v;
}

/* A list of strings from obj[key] (an array of strings, or one string); problems for other types. */
static void bundle_str_list(struct policy_bundle *b, const json_t *v, const char *what, const char ***out,
			    size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!v || json_is_null(v))
		return;
	if (json_is_string(v)) {
		*out = xmalloc(sizeof(**out));
		(*out)[(*n)++] = json_string_value(v);
		return;
	}
	if (!json_is_array(v)) {
		policy_bundle_problem(b, "%s: must be a list of ids", what);
		return;
	}
	*out = xcalloc(json_array_size(v) + 1, sizeof(**out));
	size_t i;
	const json_t *e;
	json_array_foreach(v, i, e)
	{
		if (json_is_string(e))
			(*out)[(*n)++] = json_string_value(e);
		else
			policy_bundle_problem(b, "%s: item %zu is not a string", what, i);
	}
}

static void bundle_image_ref(struct policy_bundle *b, const json_t *o, const char *what,
			     struct policy_image_ref *r)
{
	r->registry = bundle_str(o, "registry");
	r->repository = bundle_str(o, "repository");
	const json_t *img = json_object_get(o, "image");
	r->type = "tag";
	r->value = NULL;
	if (json_is_object(img)) {
		const char *t = bundle_str(img, "type");
		if (t && strcmp(t, "tag") && strcmp(t, "id") && strcmp(t, "digest"))
			policy_bundle_problem(b, "%s: image type '%s' is not one of tag, id, digest", what,
					      t);
		else if (t)
			r->type = t;
		r->value = bundle_str(img, "value");
	} else if (img) {
		policy_bundle_problem(b, "%s: image must be an object {type, value}", what);
	}
}

static void bundle_policies(struct policy_bundle *b, bool lenient)
{
	const json_t *arr = bundle_get2(b->root, "policies", "rule_sets", NULL);
	if (!arr)
		return;
	if (!json_is_array(arr)) {
		policy_bundle_problem(b, "policies: must be a list");
		return;
	}
	b->policies = xcalloc(json_array_size(arr) + 1, sizeof(*b->policies));
	size_t i;
	const json_t *jp;
	json_array_foreach(arr, i, jp)
	{
		if (!json_is_object(jp)) {
			policy_bundle_problem(b, "policies[%zu]: not an object", i);
			continue;
		}
		struct policy_set *p = &b->policies[b->npolicies++];
		p->id = bundle_str(jp, "id");
		p->name = bundle_str(jp, "name");
		p->version = bundle_str(jp, "version");
		p->comment = bundle_str(jp, "comment");
		if (!p->id) {
			policy_bundle_problem(b, "policies[%zu]: missing id", i);
			p->id = "";
		}
		for (size_t k = 0; k + 1 < b->npolicies; k++)
			if (*p->id && !strcmp(b->policies[k].id, p->id))
				policy_bundle_problem(b, "policy %s: duplicate policy id", p->id);
		const json_t *rules = json_object_get(jp, "rules");
		if (rules && !json_is_array(rules)) {
			policy_bundle_problem(b, "policy %s: rules must be a list", p->id);
			continue;
		}
		p->rules = xcalloc(json_array_size(rules) + 1, sizeof(*p->rules));
		size_t j;
		const json_t *jr;
		json_array_foreach(rules, j, jr)
		{
			if (!json_is_object(jr)) {
				policy_bundle_problem(b, "policy %s: rules[%zu]: not an object", p->id, j);
				continue;
			}
			struct policy_rule *r = &p->rules[p->nrules];
			if (policy_bundle_check_rule(b, p, r, jr, lenient) == 0)
				p->nrules++;
		}
	}
	/* rule ids are unique across the bundle (allowlist items and reports name them); checked on
	 * the JSON so a duplicate of a rule with other problems is reported too */
	size_t pi, ri, pj, rj;
	const json_t *p1, *r1, *p2, *r2;
	json_array_foreach(arr, pi, p1)
	{
		json_array_foreach(json_object_get(p1, "rules"), ri, r1)
		{
			const char *id = bundle_str(r1, "id");
			bool dup = false;
			json_array_foreach(arr, pj, p2)
			{
				if (pj > pi || dup)
					break;
				json_array_foreach(json_object_get(p2, "rules"), rj, r2)
				{
					if (pj == pi && rj >= ri)
						break;
					const char *id2 = bundle_str(r2, "id");
					if (id && id2 && *id && !strcmp(id, id2))
						dup = true;
				}
			}
			if (dup) {
				const char *pid = bundle_str(p1, "id"), *g = bundle_str(r1, "gate"),
					   *t = bundle_str(r1, "trigger");
				policy_bundle_problem(
				    b, "rule %s (policy %s, gate %s, trigger %s): duplicate rule id", id,
				    pid ? pid : "", g ? g : "(none)", t ? t : "(none)");
			}
		}
	}
}

static void bundle_allowlists(struct policy_bundle *b)
{
	const json_t *arr = bundle_get2(b->root, "whitelists", "allowlists", NULL);
	if (!arr)
		return;
	if (!json_is_array(arr)) {
		policy_bundle_problem(b, "allowlists: must be a list");
		return;
	}
	b->allowlists = xcalloc(json_array_size(arr) + 1, sizeof(*b->allowlists));
	size_t i;
	const json_t *jw;
	json_array_foreach(arr, i, jw)
	{
		if (!json_is_object(jw)) {
			policy_bundle_problem(b, "allowlists[%zu]: not an object", i);
			continue;
		}
		struct policy_allowlist *w = &b->allowlists[b->nallowlists++];
		w->id = bundle_str(jw, "id");
		w->name = bundle_str(jw, "name");
		if (!w->id) {
			policy_bundle_problem(b, "allowlists[%zu]: missing id", i);
			w->id = "";
		}
		for (size_t k = 0; k + 1 < b->nallowlists; k++)
			if (*w->id && !strcmp(b->allowlists[k].id, w->id))
				policy_bundle_problem(b, "allowlist %s: duplicate allowlist id", w->id);
		const json_t *items = json_object_get(jw, "items");
		if (items && !json_is_array(items)) {
			policy_bundle_problem(b, "allowlist %s: items must be a list", w->id);
			continue;
		}
		w->items = xcalloc(json_array_size(items) + 1, sizeof(*w->items));
		size_t j;
		const json_t *ji;
		json_array_foreach(items, j, ji)
		{
			struct policy_allow_item *it = &w->items[w->nitems];
			it->id = bundle_str(ji, "id");
			it->gate = bundle_str(ji, "gate");
			it->trigger_id = bundle_str(ji, "trigger_id");
			it->expires_on = bundle_str(ji, "expires_on");
			const char *iid = it->id ? it->id : "";
			if (!it->gate || !it->trigger_id) {
				policy_bundle_problem(b, "allowlist %s item %s: needs gate and trigger_id",
						      w->id, iid);
				continue;
			}
			if (!policy_gate_find(it->gate) && !b->builtin)
				policy_bundle_problem(b, "allowlist %s item %s: unknown gate '%s'", w->id,
						      iid, it->gate);
			long long t;
			if (json_object_get(ji, "expires_on") &&
			    !json_is_null(json_object_get(ji, "expires_on")) &&
			    (!it->expires_on || !policy_bundle_time_parse(it->expires_on, &t)))
				policy_bundle_problem(
				    b, "allowlist %s item %s: expires_on is not an RFC 3339 time", w->id,
				    iid);
			w->nitems++;
		}
	}
}

static bool bundle_has_policy(const struct policy_bundle *b, const char *id)
{
	for (size_t i = 0; i < b->npolicies; i++)
		if (!strcmp(b->policies[i].id, id))
			return true;
	return false;
}

static bool bundle_has_allowlist(const struct policy_bundle *b, const char *id)
{
	for (size_t i = 0; i < b->nallowlists; i++)
		if (!strcmp(b->allowlists[i].id, id))
			return true;
	return false;
}

static void bundle_mappings(struct policy_bundle *b)
{
	const json_t *arr = json_object_get(b->root, "mappings");
	if (!arr)
		return;
	b->has_mappings = true;
	if (!json_is_array(arr)) {
		policy_bundle_problem(b, "mappings: must be a list");
		return;
	}
	b->mappings = xcalloc(json_array_size(arr) + 1, sizeof(*b->mappings));
	size_t i;
	const json_t *jm;
	json_array_foreach(arr, i, jm)
	{
		if (!json_is_object(jm)) {
			policy_bundle_problem(b, "mappings[%zu]: not an object", i);
			continue;
		}
		struct policy_mapping *m = &b->mappings[b->nmappings++];
		m->id = bundle_str(jm, "id");
		m->name = bundle_str(jm, "name");
		cleanup_free char *what = xasprintf("mapping %s", m->id	    ? m->id
								  : m->name ? m->name
									    : "(no id)");
		bundle_image_ref(b, jm, what, &m->img);
		bundle_str_list(b, bundle_get2(jm, "policy_ids", "rule_set_ids", "policy_id"), what,
				&m->policy_ids, &m->npolicy_ids);
		bundle_str_list(b, bundle_get2(jm, "whitelist_ids", "allowlist_ids", NULL), what,
				&m->allowlist_ids, &m->nallowlist_ids);
		if (!m->npolicy_ids)
			policy_bundle_problem(b, "%s: names no policy (policy_ids)", what);
		for (size_t k = 0; k < m->npolicy_ids; k++)
			if (!bundle_has_policy(b, m->policy_ids[k]))
				policy_bundle_problem(b,
						      "%s: names policy '%s', which the bundle does not have",
						      what, m->policy_ids[k]);
		for (size_t k = 0; k < m->nallowlist_ids; k++)
			if (!bundle_has_allowlist(b, m->allowlist_ids[k]))
				policy_bundle_problem(
				    b, "%s: names allowlist '%s', which the bundle does not have", what,
				    m->allowlist_ids[k]);
	}
}

static void bundle_images(struct policy_bundle *b, const json_t *arr, const char *what,
			  struct policy_image_ref **out, size_t *n)
{
	if (!arr)
		return;
	if (!json_is_array(arr)) {
		policy_bundle_problem(b, "%s: must be a list", what);
		return;
	}
	*out = xcalloc(json_array_size(arr) + 1, sizeof(**out));
	size_t i;
	const json_t *e;
	json_array_foreach(arr, i, e)
	{
		cleanup_free char *w = xasprintf("%s[%zu]", what, i);
		if (!json_is_object(e)) {
			policy_bundle_problem(b, "%s: not an object", w);
			continue;
		}
		bundle_image_ref(b, e, w, &(*out)[(*n)++]);
	}
}

struct policy_bundle *policy_bundle_parse(const char *text, size_t len, const char *source, bool lenient,
					  struct strata_err **err)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);
	if (!root) {
		strata_err_set(err, STRATA_EFORMAT, "%s: line %d: %s", source, je.line, je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		strata_err_set(err, STRATA_EFORMAT, "%s: a policy bundle is a JSON object", source);
		return NULL;
	}
	struct policy_bundle *b = xcalloc(1, sizeof(*b));
	b->root = root;
	b->builtin = lenient;
	b->id = bundle_str(root, "id");
	b->name = bundle_str(root, "name");
	b->version = bundle_str(root, "version");
	if (b->version && strcmp(b->version, "1_0") && strcmp(b->version, "2_0"))
		policy_bundle_problem(b, "bundle version '%s': only 1_0 (and 2_0 names) are read",
				      b->version);
	bundle_policies(b, lenient);
	bundle_allowlists(b);
	bundle_mappings(b);
	bundle_images(b, bundle_get2(root, "whitelisted_images", "allowlisted_images", NULL),
		      "allowlisted_images", &b->allow_images, &b->nallow_images);
	bundle_images(b, bundle_get2(root, "blacklisted_images", "denylisted_images", NULL),
		      "denylisted_images", &b->deny_images, &b->ndeny_images);
	if (!b->npolicies && !b->nproblems)
		policy_bundle_problem(b, "the bundle has no policies");
	return b;
}

void policy_bundle_free(struct policy_bundle *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->npolicies; i++) {
		for (size_t j = 0; j < b->policies[i].nrules; j++)
			free((void *)b->policies[i].rules[j].params);
		free(b->policies[i].rules);
	}
	free(b->policies);
	for (size_t i = 0; i < b->nallowlists; i++)
		free(b->allowlists[i].items);
	free(b->allowlists);
	for (size_t i = 0; i < b->nmappings; i++) {
		free(b->mappings[i].policy_ids);
		free(b->mappings[i].allowlist_ids);
	}
	free(b->mappings);
	free(b->allow_images);
	free(b->deny_images);
	for (size_t i = 0; i < b->nproblems; i++)
		free(b->problems[i]);
	free(b->problems);
	for (size_t i = 0; i < b->nskipped; i++)
		free(b->skipped[i]);
	free(b->skipped);
	json_decref(b->root);
	free(b);
}

static const unsigned char default_bundle[] = {
#include "default_bundle.inc"
};

const char *policy_bundle_default_text(size_t *len)
{
	*len = sizeof(default_bundle);
	return (const char *)default_bundle;
}

struct policy_bundle *policy_bundle_default(struct strata_err **err)
{
	size_t n;
	const char *t = policy_bundle_default_text(&n);
	return policy_bundle_parse(t, n, "built-in default policy", true, err);
}

struct policy_bundle *policy_bundle_load(const char *path, struct strata_err **err)
{
	cleanup_fclose FILE *f = fopen(path, "re");
	if (!f) {
		strata_err_sys(err, "%s", path);
		return NULL;
	}
	cleanup_free char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > (64u << 20)) {
				strata_err_set(err, STRATA_ELIMIT, "%s: a policy bundle larger than 64 MiB",
					       path);
				return NULL;
			}
			buf = xrealloc(buf, cap);
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		strata_err_sys(err, "%s", path);
		return NULL;
	}
	return policy_bundle_parse(buf, n, path, false, err);
}
