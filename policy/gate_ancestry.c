/* policy/gate_ancestry.c — strata's `ancestry` gate: trigger `not_approved_base` fires unless the
 * image is built on an approved base, i.e. its first N layers are exactly the N layers of an
 * approved image. Approved bases are given as
 *   base_digests: OCI ChainIDs ("sha256:…") of a base's layer stack — the ChainID of one layer is
 *     its diff_id, of layers 1..n sha256("<ChainID(1..n-1)> <diff_id n>"), so one digest names
 *     a whole stack and a single-layer base is named by its diff_id;
 *   base_images: image files (any form strata opens) whose diff_ids are read from their config
 *     with the overlay image API (no index needed).
 * An image that equals the base counts as built on it. */
#include "policy_int.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ChainID of (previous chain, diff_id) into out ("sha256:" + 64 hex + NUL; longer diff_ids are cut at 127
 * bytes). */
static void anc_chain_next(const char *prev, const char *diff_id, char out[128])
{
	if (!prev) {
		snprintf(out, 128, "%.127s", diff_id);
		return;
	}
	cleanup_free char *s = xasprintf("%s %s", prev, diff_id);
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	if (!EVP_Digest(s, strlen(s), d, &dl, EVP_sha256(), NULL))
		abort();
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	strata_hex(d, dl, hex);
	snprintf(out, 128, "sha256:%.64s", hex);
}

/* The image's diff_ids in layer order (owned array of owned strings, *n). */
static int anc_image_diff_ids(sqlite3 *c, char ***out, size_t *n, struct strata_err **err)
{
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(c, "SELECT coalesce(diff_id, '') FROM layer ORDER BY position", -1, &st,
			       NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return strata_err_set(err, STRATA_EIO, "ancestry gate: %s", sqlite3_errmsg(c));
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		*out = xrealloc(*out, (*n + 1) * sizeof **out);
		(*out)[(*n)++] = xstrdup((const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	return 0;
}

static void anc_free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Is the image (diff_ids v, n) built on the base image at path? 1, 0, -1 with *err. */
static int anc_on_image(const char *path, char *const *v, size_t n, struct strata_err **err)
{
	struct overlay_image *img = overlay_image_open(path, NULL, err);
	if (!img)
		return strata_err_wrap(err, "ancestry gate: base image %s", path);
	size_t bn = overlay_image_layer_count(img);
	int ok = bn > 0 && bn <= n;
	for (size_t i = 0; ok && i < bn; i++) {
		const char *d = overlay_image_layer(img, i)->diff_id;
		ok = d && strcasecmp(d, v[i]) == 0;
	}
	overlay_image_free(img);
	return ok;
}

static int anc_eval(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	const char *digests = policy_rule_param(r, "base_digests");
	const char *images = policy_rule_param(r, "base_images");
	char **v = NULL;
	size_t n = 0;
	if (anc_image_diff_ids(c, &v, &n, err) < 0)
		return -1;
	bool approved = false;
	char chain[128] = "";
	for (size_t i = 0; i < n && digests && *digests && !approved; i++) {
		char next[128];
		anc_chain_next(i ? chain : NULL, v[i], next);
		memcpy(chain, next, sizeof chain);
		approved = policy_list_has(digests, chain, true);
	}
	size_t l;
	for (const char *cur = images, *p; !approved && (p = policy_list_next(&cur, &l));) {
		cleanup_free char *path = xstrndup(p, l);
		int m = anc_on_image(path, v, n, err);
		if (m < 0) {
			anc_free_list(v, n);
			return -1;
		}
		approved = m > 0;
	}
	if (!approved) {
		cleanup_free char *msg =
		    xasprintf("Image is not built on an approved base image: first layer %s, %zu layers",
			      n ? v[0] : "(none)", n);
		const struct policy_match m = {.message = msg, .layer = n ? 1 : 0, .visible = -1};
		policy_eval_fire(ev, r, &m);
	}
	anc_free_list(v, n);
	return 0;
}

static const char *anc_validate(const struct policy_rule *r)
{
	const char *d = policy_rule_param(r, "base_digests"), *i = policy_rule_param(r, "base_images");
	return (d && *d) || (i && *i) ? NULL : "one of base_digests or base_images is required";
}

static const struct policy_param_def anc_params[] = {
    {"base_digests", POLICY_PARAM_LIST, false, NULL, NULL},
    {"base_images", POLICY_PARAM_LIST, false, NULL, NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_trigger_def anc_triggers[] = {
    {"not_approved_base", NULL,
     "Triggers unless the image's first layers are exactly those of an approved base (ChainIDs in "
     "base_digests, or image files in base_images)",
     anc_params, anc_validate, anc_eval},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct policy_gate_def policy_gate_ancestry = {
    "ancestry", "Checks that the image is built on an approved base image", anc_triggers};
