/* overlay/image_oci.c — OCI image layouts (a directory or a tar of one).
 *
 * Owns the walk from index.json to one image manifest: nested image indexes (multi-platform, at
 * most OVERLAY_IMAGE_MAX_DEPTH deep), skipping everything that is not an image (artifacts with an
 * artifactType, manifests with a subject — signatures, attestations, SBOMs attached as referrers —
 * and manifests whose config is not an image config), then the manifest's config and layers.
 * Blobs are addressed only as blobs/sha256/<64 hex>: any other digest is refused, so a descriptor
 * cannot name a path outside the layout. Every manifest, index and config read is checked
 * against its descriptor's size and digest.
 */
#include "overlay_int.h"

#include <string.h>

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

static bool oci_is_index_type(const char *mt)
{
	return mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0);
}

static bool oci_is_manifest_type(const char *mt)
{
	return mt && (strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0);
}

static bool oci_is_image_config_type(const char *mt)
{
	return mt && (strcmp(mt, "application/vnd.oci.image.config.v1+json") == 0 ||
		      strcmp(mt, "application/vnd.docker.container.image.v1+json") == 0);
}

static bool oci_is_layer_type(const char *mt)
{
	static const char *const known[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.diff.tar.zstd",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	};
	for (size_t i = 0; mt && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(mt, known[i]) == 0)
			return true;
	return false;
}

int overlay_image_oci_read_blob(const struct overlay_image_store *s, const char *digest, int64_t expected_size,
				char **buf, size_t *len, struct strata_err **err)
{
	STRATA_CHECK(overlay_digest_valid(digest), err, STRATA_EFORMAT, "refusing digest \"%s\" (not sha256:<64 hex>)",
		     digest ? digest : "(none)");
	cleanup_free char *name = xasprintf("blobs/sha256/%s", digest + 7);
	if (!overlay_image_store_has(s, name))
		return strata_err_set(err, STRATA_ENOTFOUND, "blob %s missing", digest);
	cleanup_free char *b = NULL;
	size_t l = 0;
	if (overlay_image_store_read(s, name, &b, &l, err) < 0)
		return -1;
	if (expected_size >= 0 && (uint64_t)expected_size != l)
		return strata_err_set(err, STRATA_EDIGEST, "blob %s: %zu bytes, its descriptor says %lld", digest, l,
				      (long long)expected_size);
	char actual[72];
	overlay_digest_compute(b, l, actual);
	if (strcmp(actual, digest) != 0)
		return strata_err_set(err, STRATA_EDIGEST, "blob %s: digest mismatch: expected %s, actual %s", digest,
				      digest, actual);
	*buf = steal_pointer(&b);
	*len = l;
	return 0;
}

/* A descriptor's size: -1 when absent; -2 with *err when present but not a non-negative integer
 * (hostile: a negative size must not read as "unknown"). */
static int64_t oci_desc_size(const json_t *d, struct strata_err **err)
{
	json_t *sz = json_object_get(d, "size");
	if (!sz)
		return -1;
	if (!json_is_integer(sz) || json_integer_value(sz) < 0) {
		strata_err_set(err, STRATA_EFORMAT, "descriptor size is not a non-negative integer");
		return -2;
	}
	return (int64_t)json_integer_value(sz);
}

struct oci_walk {
	const struct overlay_image_store *s;
	struct overlay_image_candidate *c;
	size_t n, cap;
	const json_t *top; /* top-level descriptor being walked (names come from it) */
};

static void oci_add_candidate(struct oci_walk *w, const json_t *desc, const json_t *manifest)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 16;
		w->c = xrealloc(w->c, w->cap * sizeof(*w->c));
	}
	struct overlay_image_candidate *c = &w->c[w->n];
	memset(c, 0, sizeof(*c));
	c->index = w->n++;
	c->names = xcalloc(2, sizeof(char *));
	json_t *ann = json_object_get(w->top, "annotations");
	const char *ref = overlay_json_str(ann, "org.opencontainers.image.ref.name");
	const char *cname = overlay_json_str(ann, "io.containerd.image.name");
	if (ref)
		c->names[c->nnames++] = xstrdup(ref);
	if (cname)
		c->names[c->nnames++] = xstrdup(cname);
	c->key = xstrdup(overlay_json_str(desc, "digest"));
	c->platform = overlay_json_platform(json_object_get(desc, "platform"));
	/* data: the config digest, for the platform when the descriptor has none */
	const char *cd = overlay_json_str(json_object_get(manifest, "config"), "digest");
	c->data = cd ? xstrdup(cd) : NULL;
}

/* cosign's tag convention: "[repo:]sha256-<64 hex>.sig|.att|.sbom" names a signature, attestation
 * or SBOM of another manifest (its config may claim to be an image config), never an image. */
static bool oci_is_cosign_tag(const char *ref)
{
	if (!ref)
		return false;
	const char *t = strrchr(ref, ':');
	t = t ? t + 1 : ref;
	if (strncmp(t, "sha256-", 7) != 0 || strspn(t + 7, "0123456789abcdef") != 64)
		return false;
	t += 7 + 64;
	return !strcmp(t, ".sig") || !strcmp(t, ".att") || !strcmp(t, ".sbom");
}

/* Walks one descriptor: an index (recursing) or an image manifest (a candidate). Artifacts and
 * unknown kinds are skipped. */
static int oci_walk_desc(struct oci_walk *w, const json_t *desc, int depth, struct strata_err **err)
{
	const char *digest = overlay_json_str(desc, "digest");
	const char *mt = overlay_json_str(desc, "mediaType");
	json_t *ann = json_object_get(desc, "annotations");
	if (overlay_json_str(desc, "artifactType") || overlay_json_str(ann, "vnd.docker.reference.type") ||
	    oci_is_cosign_tag(overlay_json_str(ann, "org.opencontainers.image.ref.name")))
		return 0;
	if (mt && !oci_is_index_type(mt) && !oci_is_manifest_type(mt))
		return 0;
	if (depth >= OVERLAY_IMAGE_MAX_DEPTH)
		return strata_err_set(err, STRATA_ELIMIT, "image indexes nested more than %d deep",
				      OVERLAY_IMAGE_MAX_DEPTH);
	cleanup_free char *b = NULL;
	size_t l = 0;
	int64_t dsize = oci_desc_size(desc, err);
	if (dsize < -1 || overlay_image_oci_read_blob(w->s, digest, dsize, &b, &l, err) < 0)
		return -1;
	cleanup_json json_t *j = overlay_json_parse(digest, b, l, err);
	if (!j)
		return -1;
	if (!mt)
		mt = overlay_json_str(j, "mediaType");
	if (!mt)
		mt = json_object_get(j, "manifests") ? MT_OCI_INDEX : MT_OCI_MANIFEST;
	if (json_object_get(j, "subject") || overlay_json_str(j, "artifactType"))
		return 0;
	if (oci_is_index_type(mt)) {
		size_t i;
		json_t *child;
		json_array_foreach(json_object_get(j, "manifests"), i, child) {
			if (oci_walk_desc(w, child, depth + 1, err) < 0)
				return strata_err_wrap(err, "index %s", digest);
		}
		return 0;
	}
	if (!oci_is_manifest_type(mt))
		return 0;
	if (!oci_is_image_config_type(overlay_json_str(json_object_get(j, "config"), "mediaType")))
		return 0;
	oci_add_candidate(w, desc, j);
	return 0;
}

static bool oci_ref_matches(const json_t *desc, const char *ref)
{
	json_t *ann = json_object_get(desc, "annotations");
	const char *a = overlay_json_str(ann, "org.opencontainers.image.ref.name");
	const char *b = overlay_json_str(ann, "io.containerd.image.name");
	struct overlay_image_candidate c = {0};
	char *names[2];
	if (a)
		names[c.nnames++] = (char *)a;
	if (b)
		names[c.nnames++] = (char *)b;
	c.names = names;
	struct overlay_select one = {.ref = ref};
	size_t chosen;
	struct strata_err *e = NULL;
	bool match = c.nnames > 0 && overlay_image_select(&c, 1, &one, &chosen, &e) == 0;
	strata_err_free(e);
	return match;
}

/* Loads the chosen manifest's config and layers into img. */
static int oci_load_manifest(struct overlay_image *img, const struct overlay_image_store *s, const char *digest,
			     struct strata_err **err)
{
	if (overlay_image_oci_read_blob(s, digest, -1, &img->manifest_json, &img->manifest_len, err) < 0)
		return -1;
	img->digest = xstrdup(digest);
	cleanup_json json_t *m = overlay_json_parse(digest, img->manifest_json, img->manifest_len, err);
	if (!m)
		return -1;
	json_t *cfgd = json_object_get(m, "config");
	const char *cdig = overlay_json_str(cfgd, "digest");
	int64_t csize = oci_desc_size(cfgd, err);
	if (csize < -1 || overlay_image_oci_read_blob(s, cdig, csize, &img->config_json, &img->config_len, err) < 0)
		return strata_err_wrap(err, "config");
	img->config_digest = xstrdup(cdig);
	cleanup_json json_t *config = overlay_json_parse(cdig, img->config_json, img->config_len, err);
	if (!config)
		return strata_err_wrap(err, "config");
	if (!img->platform)
		img->platform = overlay_json_platform(config);
	json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
	json_t *layers = json_object_get(m, "layers");
	STRATA_CHECK(json_is_array(layers), err, STRATA_EFORMAT, "manifest %s has no layers list", digest);
	/* A config without rootfs.diff_ids (regclient's "{}") leaves diff_id unknown; a list that
	 * disagrees with the layers is an inconsistent image. */
	STRATA_CHECK(!diff_ids || json_array_size(diff_ids) == json_array_size(layers), err, STRATA_EFORMAT,
		     "config %s lists %zu diff_ids for %zu layers", cdig, json_array_size(diff_ids),
		     json_array_size(layers));
	size_t i;
	json_t *ld;
	json_array_foreach(layers, i, ld) {
		const char *mt = overlay_json_str(ld, "mediaType");
		const char *ldig = overlay_json_str(ld, "digest");
		STRATA_CHECK(oci_is_layer_type(mt), err, STRATA_EUNSUPPORTED, "layer %zu: unknown media type %s", i + 1,
			     mt ? mt : "(none)");
		STRATA_CHECK(overlay_digest_valid(ldig), err, STRATA_EFORMAT,
			     "layer %zu: refusing digest \"%s\" (not sha256:<64 hex>)", i + 1, ldig ? ldig : "(none)");
		cleanup_free char *name = xasprintf("blobs/sha256/%s", ldig + 7);
		if (!overlay_image_store_has(s, name))
			return strata_err_set(err, STRATA_ENOTFOUND, "layer %zu: blob %s missing", i + 1, ldig);
		struct overlay_source *blob = overlay_image_store_open(s, name, err);
		if (!blob)
			return strata_err_wrap(err, "layer %zu", i + 1);
		int64_t want = oci_desc_size(ld, err);
		if (want < -1) {
			overlay_source_unref(blob);
			return strata_err_wrap(err, "layer %zu", i + 1);
		}
		if (want >= 0 && (uint64_t)want != overlay_source_size(blob)) {
			uint64_t have = overlay_source_size(blob);
			overlay_source_unref(blob);
			return strata_err_set(err, STRATA_EDIGEST, "layer %zu: blob %s is %llu bytes, its descriptor says %lld",
					      i + 1, ldig, (unsigned long long)have, (long long)want);
		}
		int rc = overlay_image_add_layer(img, blob, name, ldig, json_string_value(json_array_get(diff_ids, i)),
						 mt, err);
		overlay_source_unref(blob);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static void oci_walk_clear(struct oci_walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->c[i].data);
	overlay_image_candidates_free(w->c, w->n);
}

int overlay_image_oci_load(struct overlay_image *img, const struct overlay_image_store *s,
			   const struct overlay_select *sel, struct strata_err **err)
{
	cleanup_free char *ib = NULL;
	size_t il = 0;
	if (overlay_image_store_read(s, "index.json", &ib, &il, err) < 0)
		return -1;
	cleanup_json json_t *idx = overlay_json_parse("index.json", ib, il, err);
	if (!idx)
		return -1;
	json_t *top = json_object_get(idx, "manifests");
	STRATA_CHECK(json_array_size(top) > 0, err, STRATA_ENOTFOUND, "index.json lists no image");

	struct oci_walk w = {.s = s};
	cleanup_err struct strata_err *first = NULL;
	size_t i;
	json_t *d;
	json_array_foreach(top, i, d) {
		if (sel && sel->ref && !oci_ref_matches(d, sel->ref))
			continue;
		w.top = d;
		struct strata_err *e = NULL;
		if (oci_walk_desc(&w, d, 0, &e) < 0) {
			/* A broken entry costs itself only; it is reported when nothing else is found. */
			if (!first)
				first = e;
			else
				strata_err_free(e);
		}
	}
	if (w.n == 0 && first) {
		*err = steal_pointer(&first);
		oci_walk_clear(&w);
		return -1;
	}
	if (w.n == 0 && sel && sel->ref) {
		oci_walk_clear(&w);
		json_array_foreach(top, i, d) {
			if (oci_ref_matches(d, sel->ref))
				return strata_err_set(err, STRATA_ENOTFOUND,
						      "%s names no image (only artifacts: signatures, attestations, SBOMs…)",
						      sel->ref);
		}
		cleanup_free char *names = xstrdup("");
		json_array_foreach(top, i, d) {
			const char *r = overlay_json_str(json_object_get(d, "annotations"),
							 "org.opencontainers.image.ref.name");
			if (!r)
				continue;
			char *nn = xasprintf("%s%s%s", names, *names ? ", " : "", r);
			free(names);
			names = nn;
		}
		return strata_err_set(err, STRATA_ENOTFOUND, "no image named %s; available: %s", sel->ref,
				      *names ? names : "(no named image)");
	}
	if (w.n == 0) {
		oci_walk_clear(&w);
		return strata_err_set(err, STRATA_ENOTFOUND, "index.json lists no image (only artifacts)");
	}
	/* Several choices: descriptors without a platform take their config's. */
	for (size_t k = 0; w.n > 1 && k < w.n; k++) {
		if (w.c[k].platform || !w.c[k].data)
			continue;
		cleanup_free char *cb = NULL;
		size_t cl = 0;
		struct strata_err *e = NULL;
		if (overlay_image_oci_read_blob(s, w.c[k].data, -1, &cb, &cl, &e) == 0) {
			cleanup_json json_t *cj = json_loadb(cb, cl, 0, NULL);
			w.c[k].platform = overlay_json_platform(cj);
		}
		strata_err_free(e);
	}
	size_t chosen = 0;
	if (overlay_image_select(w.c, w.n, sel, &chosen, err) < 0) {
		oci_walk_clear(&w);
		return -1;
	}
	struct overlay_image_candidate *c = &w.c[chosen];
	if (c->nnames > 0)
		img->ref = xstrdup(c->names[0]);
	img->platform = c->platform ? xstrdup(c->platform) : NULL;
	cleanup_free char *digest = xstrdup(c->key);
	oci_walk_clear(&w);
	return oci_load_manifest(img, s, digest, err);
}
