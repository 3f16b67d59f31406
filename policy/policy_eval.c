/* policy/policy_eval.c — evaluating a validated bundle on an index, with Anchore's semantics:
 * the first mapping matching the image (registry, repository, tag/id/digest, '*' wildcards)
 * picks the policies and allowlists (no mapping matched: the built-in default bundle runs; a
 * bundle without a mappings key applies all its policies and allowlists); every rule runs (its
 * trigger's eval is SQL over the index and calls policy_eval_fire per finding); trigger ids are
 * md5 hex of gate + trigger + message unless the gate gives one; allowlisted findings stay with
 * action go; the final action is the worst remaining one, overridden by the image lists
 * (denylisted → stop, else allowlisted → go); verdict fail/warn/pass. Also the process-wide
 * cached evaluation the mount's /.audit files read. */
#include "policy_int.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct policy_eval {
	struct index_db *db;
	sqlite3 *c;
	const char *tag;
	const char *policy_id;
	struct policy_finding *f;
	size_t nf, cap;
};

sqlite3 *policy_eval_db(struct policy_eval *ev)
{
	return ev->c;
}

struct index_db *policy_eval_index(struct policy_eval *ev)
{
	return ev->db;
}

const char *policy_eval_tag(struct policy_eval *ev)
{
	return ev->tag;
}

const char *policy_action_name(enum policy_action a)
{
	switch (a) {
	case POLICY_GO:
		return "go";
	case POLICY_WARN:
		return "warn";
	case POLICY_STOP:
		return "stop";
	}
	return "go";
}

static char *eval_md5_hex(const char *a, const char *b, const char *c)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	if (!x || EVP_DigestInit_ex(x, EVP_md5(), NULL) != 1 || EVP_DigestUpdate(x, a, strlen(a)) != 1 ||
	    EVP_DigestUpdate(x, b, strlen(b)) != 1 || EVP_DigestUpdate(x, c, strlen(c)) != 1 ||
	    EVP_DigestFinal_ex(x, md, &n) != 1)
		abort();
	EVP_MD_CTX_free(x);
	char *hex = xmalloc(2 * n + 1);
	for (unsigned int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return hex;
}

static char *eval_dup(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void policy_eval_fire(struct policy_eval *ev, const struct policy_rule *rule, const struct policy_match *m)
{
	if (ev->nf == ev->cap) {
		ev->cap = ev->cap ? ev->cap * 2 : 16;
		ev->f = xrealloc(ev->f, ev->cap * sizeof(*ev->f));
	}
	struct policy_finding *f = &ev->f[ev->nf++];
	memset(f, 0, sizeof(*f));
	const char *msg = m->message ? m->message : "";
	f->gate = xstrdup(rule->gate);
	f->trigger = xstrdup(rule->trigger);
	f->message = xstrdup(msg);
	/* Anchore (anchore-engine) hashes its own trigger name: for a trigger the table gives an older
	 * alias ("blacklist" for "denylist"), that alias (the first of several) is anchore-engine's name. */
	const struct policy_gate_def *gd = policy_gate_find(rule->gate);
	const struct policy_trigger_def *td = gd ? policy_trigger_find(gd, rule->trigger) : NULL;
	cleanup_free char *tname = td && td->alias ? xstrndup(td->alias, strcspn(td->alias, "|"))
						 : xstrdup(rule->trigger);
	f->trigger_id = m->trigger_id ? xstrdup(m->trigger_id) : eval_md5_hex(rule->gate, tname, msg);
	f->rule_id = xstrdup(rule->id);
	f->policy_id = xstrdup(ev->policy_id ? ev->policy_id : "");
	f->path = eval_dup(m->path);
	f->detail_json = eval_dup(m->detail_json);
	f->layer = m->layer;
	f->visible = m->visible;
	f->action = f->effective = rule->action;
}

static void finding_clear(struct policy_finding *f)
{
	free(f->gate);
	free(f->trigger);
	free(f->trigger_id);
	free(f->message);
	free(f->rule_id);
	free(f->policy_id);
	free(f->path);
	free(f->detail_json);
	free(f->allowlist_id);
	free(f->allowlist_name);
	free(f->allowlist_item);
}

void policy_result_free(struct policy_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nf; i++)
		finding_clear(&r->f[i]);
	free(r->f);
	for (size_t i = 0; i < r->npolicy_ids; i++)
		free(r->policy_ids[i]);
	free(r->policy_ids);
	free(r->repo_tag);
	free(r->registry);
	free(r->repository);
	free(r->tag);
	free(r->image_id);
	free(r->image_digest);
	free(r->mapping_id);
	free(r->mapping_name);
	free(r->evaluated_at);
	policy_bundle_free(r->owned_default);
	free(r);
}

/* Splits "registry/repo:tag" as Anchore does: no registry → docker.io (library/ for one-word
 * repositories), no tag → latest. An empty ref gives empty parts (only '*' matches them). */
static void eval_split_tag(struct policy_result *r, const char *ref)
{
	if (!ref || !*ref) {
		r->repo_tag = xstrdup("");
		r->registry = xstrdup("");
		r->repository = xstrdup("");
		r->tag = xstrdup("");
		return;
	}
	const char *s = ref;
	if (!strchr(s, '/') && !strchr(s, ':') && !strchr(s, '@')) {
		/* an OCI layout's ref.name is often the tag alone: no repository to match */
		r->registry = xstrdup("");
		r->repository = xstrdup("");
		r->tag = xstrdup(s);
		r->repo_tag = xasprintf(":%s", s);
		return;
	}
	const char *at = strchr(s, '@');
	cleanup_free char *base = at ? strndup(s, (size_t)(at - s)) : xstrdup(s);
	if (!base)
		abort();
	const char *slash = strchr(base, '/');
	const char *rest = base;
	if (slash && (memchr(base, '.', (size_t)(slash - base)) ||
		      memchr(base, ':', (size_t)(slash - base)) || !strncmp(base, "localhost/", 10))) {
		r->registry = strndup(base, (size_t)(slash - base));
		rest = slash + 1;
	} else {
		r->registry = xstrdup("docker.io");
	}
	const char *colon = strrchr(rest, ':');
	if (colon && strchr(colon, '/'))
		colon = NULL;
	cleanup_free char *repo = colon ? strndup(rest, (size_t)(colon - rest)) : xstrdup(rest);
	r->tag = xstrdup(colon ? colon + 1 : "latest");
	if (!strcmp(r->registry, "docker.io") && !strchr(repo, '/'))
		r->repository = xasprintf("library/%s", repo);
	else
		r->repository = xstrdup(repo);
	r->repo_tag = xasprintf("%s/%s:%s", r->registry, r->repository, r->tag);
}

static bool eval_ref_match(const struct policy_image_ref *m, const struct policy_result *r)
{
	if (!policy_glob_match(m->registry, r->registry) || !policy_glob_match(m->repository, r->repository))
		return false;
	const char *v = m->value;
	if (!v)
		return true;
	if (!strcmp(m->type, "id"))
		return policy_glob_match(v, r->image_id);
	if (!strcmp(m->type, "digest"))
		return policy_glob_match(v, r->image_digest);
	return policy_glob_match(v, r->tag);
}

/* Image identity from the index: ref, config digest (hex, as Anchore's image id), manifest digest. */
static int eval_image_identity(sqlite3 *c, char **ref, char **id, char **digest, struct strata_err **err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, "SELECT ref, config_digest, digest FROM image", -1, &st, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EFORMAT, "index query: %s", sqlite3_errmsg(c));
	const char *cols[3] = {"", "", ""};
	if (sqlite3_step(st) == SQLITE_ROW)
		for (int i = 0; i < 3; i++)
			if (sqlite3_column_text(st, i))
				cols[i] = (const char *)sqlite3_column_text(st, i);
	*ref = xstrdup(cols[0]);
	const char *hex = strchr(cols[1], ':');
	*id = xstrdup(hex ? hex + 1 : cols[1]);
	*digest = xstrdup(cols[2]);
	sqlite3_finalize(st);
	return 0;
}

static const struct policy_set *eval_find_policy(const struct policy_bundle *b, const char *id)
{
	for (size_t i = 0; i < b->npolicies; i++)
		if (!strcmp(b->policies[i].id, id))
			return &b->policies[i];
	return NULL;
}

static const struct policy_allowlist *eval_find_allowlist(const struct policy_bundle *b, const char *id)
{
	for (size_t i = 0; i < b->nallowlists; i++)
		if (!strcmp(b->allowlists[i].id, id))
			return &b->allowlists[i];
	return NULL;
}

/* Marks f allowlisted when an unexpired item of w matches its gate and trigger id. */
static bool eval_allow(struct policy_finding *f, const struct policy_allowlist *w, long long now)
{
	for (size_t i = 0; i < w->nitems; i++) {
		const struct policy_allow_item *it = &w->items[i];
		if (strcasecmp(it->gate, f->gate) || !policy_glob_match(it->trigger_id, f->trigger_id))
			continue;
		long long exp;
		if (it->expires_on && policy_bundle_time_parse(it->expires_on, &exp) && now >= exp)
			continue;
		f->allowlist_id = xstrdup(w->id);
		f->allowlist_name = xstrdup(w->name ? w->name : "");
		f->allowlist_item = xstrdup(it->id ? it->id : "");
		f->effective = POLICY_GO;
		return true;
	}
	return false;
}

static int eval_run_policy(struct policy_eval *ev, const struct policy_set *p, struct strata_err **err)
{
	ev->policy_id = p->id;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct policy_rule *r = &p->rules[i];
		const struct policy_trigger_def *t =
		    policy_trigger_find(policy_gate_find(r->gate), r->trigger);
		if (!t || !t->eval)
			continue;
		if (t->eval(ev, r, err) < 0)
			return strata_err_wrap(err, "rule %s (gate %s, trigger %s)", r->id, r->gate,
					       r->trigger);
	}
	return 0;
}

int policy_evaluate(const struct policy_bundle *b, struct index_db *db, const char *tag,
		    struct policy_result **out, struct strata_err **err)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct policy_eval ev = {.db = db};
	if (index_db_connect(db, &ev.c, err) < 0)
		return -1;
	struct policy_result *r = xcalloc(1, sizeof(*r));
	cleanup_free char *ref = NULL;
	int rc = -1;
	if (audit_sql_register(ev.c, err) < 0 ||
	    eval_image_identity(ev.c, &ref, &r->image_id, &r->image_digest, err) < 0)
		goto out;
	eval_split_tag(r, tag && *tag ? tag : ref);
	ev.tag = r->repo_tag;
	/* the mapping: first match wins */
	const struct policy_mapping *map = NULL;
	size_t map_i = 0;
	for (size_t i = 0; i < b->nmappings && !map; i++)
		if (eval_ref_match(&b->mappings[i].img, r))
			map = &b->mappings[map_i = i];
	const struct policy_bundle *run = b;
	if (b->has_mappings && !map) {
		r->default_policy = true;
		if (!b->builtin) {
			r->owned_default = policy_bundle_default(err);
			if (!r->owned_default)
				goto out;
			run = r->owned_default;
		}
		map = run->nmappings ? &run->mappings[0] : NULL;
	}
	r->bundle = run;
	if (map) {
		r->mapping_id = map->id ? xstrdup(map->id) : xasprintf("mappings[%zu]", map_i);
		r->mapping_name = eval_dup(map->name);
		r->policy_ids = xcalloc(map->npolicy_ids + 1, sizeof(char *));
		for (size_t i = 0; i < map->npolicy_ids; i++) {
			const struct policy_set *p = eval_find_policy(run, map->policy_ids[i]);
			r->policy_ids[r->npolicy_ids++] = xstrdup(map->policy_ids[i]);
			if (p && eval_run_policy(&ev, p, err) < 0)
				goto out;
		}
	} else {
		r->policy_ids = xcalloc(run->npolicies + 1, sizeof(char *));
		for (size_t i = 0; i < run->npolicies; i++) {
			r->policy_ids[r->npolicy_ids++] = xstrdup(run->policies[i].id);
			if (eval_run_policy(&ev, &run->policies[i], err) < 0)
				goto out;
		}
	}
	/* allowlists of the mapping (all of the bundle's without mappings) */
	long long now = (long long)time(NULL);
	for (size_t i = 0; i < ev.nf; i++) {
		if (map) {
			for (size_t k = 0; k < map->nallowlist_ids; k++) {
				const struct policy_allowlist *w =
				    eval_find_allowlist(run, map->allowlist_ids[k]);
				if (w && eval_allow(&ev.f[i], w, now))
					break;
			}
		} else {
			for (size_t k = 0; k < run->nallowlists; k++)
				if (eval_allow(&ev.f[i], &run->allowlists[k], now))
					break;
		}
	}
	r->final_action = POLICY_GO;
	for (size_t i = 0; i < ev.nf; i++)
		if (ev.f[i].effective > r->final_action)
			r->final_action = ev.f[i].effective;
	r->final_action_reason = "policy_evaluation";
	for (size_t i = 0; i < b->ndeny_images; i++)
		if (eval_ref_match(&b->deny_images[i], r)) {
			r->final_action = POLICY_STOP;
			r->final_action_reason = "denylisted";
			break;
		}
	if (strcmp(r->final_action_reason, "denylisted"))
		for (size_t i = 0; i < b->nallow_images; i++)
			if (eval_ref_match(&b->allow_images[i], r)) {
				r->final_action = POLICY_GO;
				r->final_action_reason = "allowlisted";
				break;
			}
	r->verdict = r->final_action == POLICY_STOP   ? "fail"
		     : r->final_action == POLICY_WARN ? "warn"
						      : "pass";
	time_t now_t = time(NULL);
	struct tm tm;
	gmtime_r(&now_t, &tm);
	char buf[32];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	r->evaluated_at = xstrdup(buf);
	rc = 0;
out:
	r->f = ev.f;
	r->nf = ev.nf;
	sqlite3_close(ev.c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (rc < 0) {
		policy_result_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

/* ---- the process-wide evaluation behind /.audit ------------------------------------------- */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static char *cache_text; /* the bundle set by policy_use_bundle, or NULL: default */
static size_t cache_text_len;
static char *cache_source;
static struct policy_bundle *cache_bundle;
static struct policy_result *cache_result;
static char *cache_index; /* the index path the cached result is for */

int policy_use_bundle(const char *path, struct strata_err **err)
{
	struct policy_bundle *b = policy_bundle_load(path, err);
	if (!b)
		return -1;
	if (b->nproblems) {
		strata_err_set(err, STRATA_EFORMAT, "%s: invalid policy bundle (%zu problems; the first: %s)",
			       path, b->nproblems, b->problems[0]);
		policy_bundle_free(b);
		return -1;
	}
	size_t n = 0;
	const char *t = NULL;
	(void)t;
	pthread_mutex_lock(&cache_lock);
	policy_bundle_free(cache_bundle);
	policy_result_free(cache_result);
	cache_result = NULL;
	free(cache_index);
	cache_index = NULL;
	cache_bundle = b;
	free(cache_text);
	cache_text = json_dumps(b->root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!cache_text)
		abort();
	n = strlen(cache_text);
	cache_text_len = n;
	free(cache_source);
	cache_source = xstrdup(path);
	pthread_mutex_unlock(&cache_lock);
	return 0;
}

const char *policy_bundle_in_effect(size_t *len)
{
	if (cache_text) {
		*len = cache_text_len;
		return cache_text;
	}
	return policy_bundle_default_text(len);
}

const struct policy_result *policy_cached_result(struct index_db *db, struct strata_err **err)
{
	pthread_mutex_lock(&cache_lock);
	const char *path = index_db_path(db);
	if (cache_result && cache_index && !strcmp(cache_index, path)) {
		pthread_mutex_unlock(&cache_lock);
		return cache_result;
	}
	if (!cache_bundle) {
		cache_bundle = policy_bundle_default(err);
		if (!cache_bundle) {
			pthread_mutex_unlock(&cache_lock);
			return NULL;
		}
	}
	struct policy_result *r = NULL;
	if (policy_evaluate(cache_bundle, db, NULL, &r, err) < 0) {
		pthread_mutex_unlock(&cache_lock);
		return NULL;
	}
	policy_result_free(cache_result);
	free(cache_index);
	cache_result = r;
	cache_index = xstrdup(path);
	pthread_mutex_unlock(&cache_lock);
	return r;
}
