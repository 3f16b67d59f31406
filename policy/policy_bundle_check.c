/* policy/policy_bundle_check.c — validation of one rule against the gate table: gate, trigger
 * (aliases resolved to canonical names), action, every parameter by its kind (string, int, bool,
 * PCRE2 regex that compiles, list, enum, enum list), required parameters, then the trigger's own
 * validate(). Problems name the rule id, policy, gate, trigger and parameter. Also RFC 3339 times. */
#include "policy_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <string.h>
#include <strings.h>
#include <time.h>

bool policy_bundle_time_parse(const char *s, long long *out)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%d", &tm);
	if (!p)
		return false;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p = strptime(p + 1, "%H:%M:%S", &tm);
		if (!p)
			return false;
		if (*p == '.')
			for (p++; isdigit((unsigned char)*p); p++)
				;
	}
	long long off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh = 0, mm = 0;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return false;
		off = (hh * 3600LL + mm * 60LL) * (*p == '+' ? 1 : -1);
		p += 6;
	}
	if (*p)
		return false;
	*out = (long long)timegm(&tm) - off;
	return true;
}

static bool check_int(const char *v)
{
	const char *p = v;
	if (*p == '-' || *p == '+')
		p++;
	if (!*p)
		return false;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

/* Whether word (len bytes) is one of choices "a|b|c" (case-insensitive). */
static bool check_choice(const char *choices, const char *word, size_t len)
{
	const char *c = choices;
	while (c && *c) {
		const char *bar = strchr(c, '|');
		size_t n = bar ? (size_t)(bar - c) : strlen(c);
		if (n == len && !strncasecmp(c, word, n))
			return true;
		c = bar ? bar + 1 : NULL;
	}
	return false;
}

/* NULL when value fits the kind of d, else a problem text (owned). */
static char *check_value(const struct policy_param_def *d, const char *v)
{
	switch (d->kind) {
	case POLICY_PARAM_STRING:
		return NULL;
	case POLICY_PARAM_INT:
		return check_int(v) ? NULL : xasprintf("'%s' is not an integer", v);
	case POLICY_PARAM_BOOL:
		return !strcasecmp(v, "true") || !strcasecmp(v, "false")
			   ? NULL
			   : xasprintf("'%s' is not true or false", v);
	case POLICY_PARAM_REGEX: {
		int code;
		PCRE2_SIZE off;
		pcre2_code *re =
		    pcre2_compile((PCRE2_SPTR)v, PCRE2_ZERO_TERMINATED, PCRE2_MULTILINE, &code, &off, NULL);
		if (re) {
			pcre2_code_free(re);
			return NULL;
		}
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		return xasprintf("'%s' is not a valid regular expression (at offset %zu: %s)", v, (size_t)off,
				 (char *)msg);
	}
	case POLICY_PARAM_LIST:
	case POLICY_PARAM_ENUM_LIST: {
		const char *p = v;
		for (;;) {
			const char *comma = strchr(p, ',');
			size_t n = comma ? (size_t)(comma - p) : strlen(p);
			const char *w = p;
			while (n && isspace((unsigned char)*w))
				w++, n--;
			while (n && isspace((unsigned char)w[n - 1]))
				n--;
			if (!n)
				return xasprintf("'%s' has an empty list item", v);
			if (d->kind == POLICY_PARAM_ENUM_LIST && !check_choice(d->choices, w, n))
				return xasprintf("'%.*s' is not one of %s", (int)n, w, d->choices);
			if (!comma)
				return NULL;
			p = comma + 1;
		}
	}
	case POLICY_PARAM_ENUM:
		return check_choice(d->choices, v, strlen(v))
			   ? NULL
			   : xasprintf("'%s' is not one of %s", v, d->choices);
	}
	return NULL;
}

static const struct policy_param_def *check_param_def(const struct policy_trigger_def *t, const char *name)
{
	for (size_t i = 0; t->params && t->params[i].name; i++)
		if (!strcasecmp(t->params[i].name, name) ||
		    policy_alias_has(t->params[i].alias, name))
			return &t->params[i];
	return NULL;
}

static bool check_action(const char *a, enum policy_action *out)
{
	if (!a)
		return false;
	if (!strcasecmp(a, "stop"))
		*out = POLICY_STOP;
	else if (!strcasecmp(a, "warn"))
		*out = POLICY_WARN;
	else if (!strcasecmp(a, "go"))
		*out = POLICY_GO;
	else
		return false;
	return true;
}

int policy_bundle_check_rule(struct policy_bundle *b, const struct policy_set *p, struct policy_rule *r,
			     const json_t *jr, bool lenient)
{
	const json_t *v = json_object_get(jr, "id");
	r->id = json_is_string(v) ? json_string_value(v) : "";
	v = json_object_get(jr, "gate");
	const char *gate = json_is_string(v) ? json_string_value(v) : NULL;
	v = json_object_get(jr, "trigger");
	const char *trig = json_is_string(v) ? json_string_value(v) : NULL;
	v = json_object_get(jr, "action");
	const char *action = json_is_string(v) ? json_string_value(v) : NULL;
	r->gate = gate ? gate : "";
	r->trigger = trig ? trig : "";
	/* "rule ID (policy P, gate G, trigger T)" prefixes every problem of this rule */
	cleanup_free char *who =
	    xasprintf("rule %s (policy %s, gate %s, trigger %s)", *r->id ? r->id : "(no id)", p->id,
		      gate ? gate : "(none)", trig ? trig : "(none)");
	int bad = 0;
	if (!*r->id)
		policy_bundle_problem(b, "%s: missing rule id", who), bad = 1;
	if (!check_action(action, &r->action))
		policy_bundle_problem(b, "%s: action '%s' is not one of STOP, WARN, GO", who,
				      action ? action : "(none)"),
		    bad = 1;
	if (!gate || !trig) {
		policy_bundle_problem(b, "%s: a rule needs a gate and a trigger", who);
		return -1;
	}
	const struct policy_gate_def *g = policy_gate_find(gate);
	if (!g) {
		if (lenient) {
			b->skipped = xrealloc(b->skipped, (b->nskipped + 1) * sizeof(*b->skipped));
			b->skipped[b->nskipped++] = xasprintf("%s: gate not built into this strata", who);
			return -1;
		}
		policy_bundle_problem(b, "%s: unknown gate '%s'", who, gate);
		return -1;
	}
	const struct policy_trigger_def *t = policy_trigger_find(g, trig);
	if (!t) {
		if (lenient) {
			b->skipped = xrealloc(b->skipped, (b->nskipped + 1) * sizeof(*b->skipped));
			b->skipped[b->nskipped++] = xasprintf("%s: trigger not built into this strata", who);
			return -1;
		}
		policy_bundle_problem(b, "%s: unknown trigger '%s' of gate %s", who, trig, g->name);
		return -1;
	}
	r->gate = g->name;
	r->trigger = t->name;
	const json_t *params = json_object_get(jr, "params");
	if (params && !json_is_array(params)) {
		policy_bundle_problem(b, "%s: params must be a list of {name, value}", who);
		return -1;
	}
	struct policy_param *pv = xcalloc(json_array_size(params) + 1, sizeof(*pv));
	size_t np = 0, i;
	const json_t *jp;
	json_array_foreach(params, i, jp)
	{
		const char *name = json_string_value(json_object_get(jp, "name"));
		const json_t *jv = json_object_get(jp, "value");
		if (!name) {
			policy_bundle_problem(b, "%s: params[%zu] has no name", who, i), bad = 1;
			continue;
		}
		const struct policy_param_def *d = check_param_def(t, name);
		if (!d) {
			policy_bundle_problem(b, "%s: parameter '%s': unknown parameter", who, name), bad = 1;
			continue;
		}
		if (!json_is_string(jv)) {
			policy_bundle_problem(b, "%s: parameter '%s': the value must be a string", who, name),
			    bad = 1;
			continue;
		}
		for (size_t k = 0; k < np; k++)
			if (!strcmp(pv[k].name, d->name))
				policy_bundle_problem(b, "%s: parameter '%s': given twice", who, name),
				    bad = 1;
		cleanup_free char *why = check_value(d, json_string_value(jv));
		if (why) {
			policy_bundle_problem(b, "%s: parameter '%s': %s", who, name, why), bad = 1;
			continue;
		}
		pv[np].name = d->name;
		pv[np++].value = json_string_value(jv);
	}
	r->params = pv;
	r->nparams = np;
	for (size_t k = 0; t->params && t->params[k].name; k++)
		if (t->params[k].required && !policy_rule_param(r, t->params[k].name))
			policy_bundle_problem(b, "%s: parameter '%s': required parameter missing", who,
					      t->params[k].name),
			    bad = 1;
	if (!bad && t->validate) {
		const char *why = t->validate(r);
		if (why)
			policy_bundle_problem(b, "%s: %s", who, why), bad = 1;
	}
	if (bad) {
		free(pv);
		r->params = NULL;
		r->nparams = 0;
		return -1;
	}
	return 0;
}

const char *policy_rule_param(const struct policy_rule *r, const char *name)
{
	for (size_t i = 0; i < r->nparams; i++)
		if (!strcasecmp(r->params[i].name, name))
			return r->params[i].value;
	return NULL;
}
