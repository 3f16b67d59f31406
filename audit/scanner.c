/* audit/scanner.c — composes every scanner of audit/ into the one index_scanner_ops the index pass
 * calls: each callback is fanned out to the sub-scanners in table order. A sub-scanner's file_begin
 * decides for itself whether it wants a file's bytes; the composite asks for them if any does. */
#include "audit_int.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* Scanners register here (one line each). */
const struct audit_scanner_def audit_scanner_defs[] = {
	{"catalog", catalog_new_ops, catalog_free_ops},
	{"secrets", secrets_new_ops, secrets_free_ops},
	{"retrieved", retrieved_new_ops, retrieved_free_ops},
	{"elf", elf_mark_new_ops, elf_mark_free_ops},
	{NULL, NULL, NULL},
};
const size_t audit_scanner_ndefs = sizeof(audit_scanner_defs) / sizeof(audit_scanner_defs[0]) - 1;

struct audit_scanner {
	size_t n;
	struct index_scanner_ops **subs;
	const struct audit_scanner_def **defs;
	struct index_scanner_ops ops;
	char rules_hash[65];
};

/* Per-layer state: one sub-state per scanner, and which of them want the current file. */
struct composite_layer {
	const struct audit_scanner *s;
	void **states;
	bool *want;
};

static void *composite_layer_begin(void *ctx, int layer)
{
	const struct audit_scanner *s = ctx;
	struct composite_layer *cl = xcalloc(1, sizeof(*cl));
	cl->s = s;
	cl->states = xcalloc(s->n + 1, sizeof(*cl->states));
	cl->want = xcalloc(s->n + 1, sizeof(*cl->want));
	for (size_t i = 0; i < s->n; i++)
		cl->states[i] = s->subs[i]->layer_begin ? s->subs[i]->layer_begin(s->subs[i]->ctx, layer) : NULL;
	return cl;
}

static int composite_file_begin(void *state, const struct index_scan_entry *e)
{
	struct composite_layer *cl = state;
	int any = 0;
	for (size_t i = 0; i < cl->s->n; i++) {
		const struct index_scanner_ops *o = cl->s->subs[i];
		cl->want[i] = cl->states[i] && o->file_begin && o->file_begin(cl->states[i], e);
		any |= cl->want[i];
	}
	return any;
}

static void composite_file_data(void *state, const void *buf, size_t len)
{
	struct composite_layer *cl = state;
	for (size_t i = 0; i < cl->s->n; i++)
		if (cl->want[i])
			cl->s->subs[i]->file_data(cl->states[i], buf, len);
}

static void composite_file_end(void *state)
{
	struct composite_layer *cl = state;
	for (size_t i = 0; i < cl->s->n; i++)
		if (cl->want[i]) {
			cl->s->subs[i]->file_end(cl->states[i]);
			cl->want[i] = false;
		}
}

static int composite_layer_end(void *state, void *db, struct strata_err **err)
{
	struct composite_layer *cl = state;
	for (size_t i = 0; i < cl->s->n; i++) {
		const struct index_scanner_ops *o = cl->s->subs[i];
		if (cl->states[i] && o->layer_end && o->layer_end(cl->states[i], db, err) < 0)
			return strata_err_wrap(err, "%s", cl->s->defs[i]->name);
	}
	return 0;
}

static void composite_layer_free(void *state)
{
	struct composite_layer *cl = state;
	if (!cl)
		return;
	for (size_t i = 0; i < cl->s->n; i++)
		if (cl->states[i] && cl->s->subs[i]->layer_free)
			cl->s->subs[i]->layer_free(cl->states[i]);
	free(cl->states);
	free(cl->want);
	free(cl);
}

static int composite_init(void *ctx, void *db, struct strata_err **err)
{
	const struct audit_scanner *s = ctx;
	for (size_t i = 0; i < s->n; i++)
		if (s->subs[i]->init && s->subs[i]->init(s->subs[i]->ctx, db, err) < 0)
			return strata_err_wrap(err, "%s", s->defs[i]->name);
	return 0;
}

static int composite_finish(void *ctx, void *db, struct strata_err **err)
{
	const struct audit_scanner *s = ctx;
	for (size_t i = 0; i < s->n; i++)
		if (s->subs[i]->finish && s->subs[i]->finish(s->subs[i]->ctx, db, err) < 0)
			return strata_err_wrap(err, "%s", s->defs[i]->name);
	return 0;
}

/* True when the scanner named name is in the comma-separated list (NULL: every scanner). */
static bool scanner_selected(const char *list, const char *name)
{
	if (!list)
		return true;
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && !strncmp(p, name, n))
			return true;
		p += k + (p[k] == ',');
	}
	return false;
}

/* Checks that every name of the list is a scanner (or "none"). */
static int scanner_list_check(const char *list, struct strata_err **err)
{
	for (const char *p = list; p && *p;) {
		size_t k = strcspn(p, ",");
		bool known = k == 4 && !strncmp(p, "none", 4);
		for (size_t i = 0; !known && i < audit_scanner_ndefs; i++)
			known = strlen(audit_scanner_defs[i].name) == k && !strncmp(p, audit_scanner_defs[i].name, k);
		if (!known) {
			char names[256] = "none";
			for (size_t i = 0; i < audit_scanner_ndefs; i++)
				snprintf(names + strlen(names), sizeof(names) - strlen(names), ", %s", audit_scanner_defs[i].name);
			return strata_err_set(err, STRATA_EUSAGE, "--scanners: unknown scanner '%.*s' (known: %s)", (int)k, p,
					      names);
		}
		p += k + (p[k] == ',');
	}
	return 0;
}

struct audit_scanner *audit_scanner_new(const struct audit_options *o, struct strata_err **err)
{
	struct audit_options defaults = {0};
	if (!o)
		o = &defaults;
	if (scanner_list_check(o->scanners, err) < 0)
		return NULL;
	struct audit_scanner *s = xcalloc(1, sizeof(*s));
	s->subs = xcalloc(audit_scanner_ndefs + 1, sizeof(*s->subs));
	s->defs = xcalloc(audit_scanner_ndefs + 1, sizeof(*s->defs));
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		abort();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (size_t i = 0; i < audit_scanner_ndefs; i++) {
		if (!scanner_selected(o->scanners, audit_scanner_defs[i].name))
			continue;
		char *identity = NULL;
		struct index_scanner_ops *ops = audit_scanner_defs[i].new_ops(o, &identity, err);
		if (!ops) {
			EVP_MD_CTX_free(md);
			strata_err_wrap(err, "%s", audit_scanner_defs[i].name);
			audit_scanner_free(s);
			return NULL;
		}
		s->defs[s->n] = &audit_scanner_defs[i];
		s->subs[s->n++] = ops;
		EVP_DigestUpdate(md, audit_scanner_defs[i].name, strlen(audit_scanner_defs[i].name) + 1);
		if (identity)
			EVP_DigestUpdate(md, identity, strlen(identity) + 1);
		free(identity);
	}
	unsigned char h[32];
	EVP_DigestFinal_ex(md, h, NULL);
	EVP_MD_CTX_free(md);
	strata_hex(h, 32, s->rules_hash);
	s->ops = (struct index_scanner_ops){
		.init = composite_init,
		.finish = composite_finish,
		.layer_begin = composite_layer_begin,
		.file_begin = composite_file_begin,
		.file_data = composite_file_data,
		.file_end = composite_file_end,
		.layer_end = composite_layer_end,
		.layer_free = composite_layer_free,
		.ctx = s,
	};
	return s;
}

void audit_scanner_free(struct audit_scanner *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		s->defs[i]->free_ops(s->subs[i]);
	free(s->subs);
	free(s->defs);
	free(s);
}

const struct index_scanner_ops *audit_scanner_ops(struct audit_scanner *s)
{
	return &s->ops;
}

const char *audit_scanner_rules_hash(const struct audit_scanner *s)
{
	return s->rules_hash;
}
