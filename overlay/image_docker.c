/* overlay/image_docker.c — docker-archive (`docker save`) images.
 *
 * Owns the reading of manifest.json (a list of {Config, RepoTags, Layers}), in both forms: the
 * legacy one (`<id>/layer.tar`, `<hex>.json` config, kaniko's `sha256:<hex>` config) and the
 * Docker 25+ one whose paths are `blobs/sha256/<hex>` next to an OCI index.json. The config's
 * sha256 is checked against the digest its name carries. The image digest is the config digest,
 * unless index.json names a manifest whose config is this one (Docker 25+): then that manifest's.
 */
#include "overlay_int.h"

#include <string.h>

/* The digest a member name carries: "blobs/sha256/<hex>" or kaniko's "sha256:<hex>"; writes
 * "sha256:<hex>" to out or returns false. Legacy "<hex>.json" config names are image IDs that
 * some writers do not derive from the bytes (go-containerregistry's fixtures), so they are not
 * taken as digests. */
static bool docker_name_digest(const char *name, char out[72])
{
	const char *slash = strrchr(name, '/');
	const char *base = slash ? slash + 1 : name;
	if (slash && !(slash - name == 12 && strncmp(name, "blobs/sha256", 12) == 0))
		return false;
	if (strncmp(base, "sha256:", 7) == 0)
		base += 7;
	char d[72];
	snprintf(d, sizeof(d), "sha256:%.64s", base);
	if (!overlay_digest_valid(d))
		return false;
	if (base[64] != '\0' || (!slash && strncmp(name, "sha256:", 7) != 0))
		return false;
	memcpy(out, d, sizeof(d));
	return true;
}

/* Reads the config named by an entry, verifying its digest when the name carries one. */
static int docker_read_config(const struct overlay_image_store *s, const char *name, char **buf, size_t *len,
			      char digest[72], struct strata_err **err)
{
	if (overlay_image_store_read(s, name, buf, len, err) < 0)
		return strata_err_wrap(err, "config");
	overlay_digest_compute(*buf, *len, digest);
	char want[72];
	if (docker_name_digest(name, want) && strcmp(want, digest) != 0) {
		free(*buf);
		*buf = NULL;
		return strata_err_set(err, STRATA_EDIGEST, "config %s: digest mismatch: expected %s, actual %s", name,
				      want, digest);
	}
	return 0;
}

/* Whether the manifest blob `digest` (size or -1) has config_digest as its config; on success
 * sets img->digest and takes the bytes as img->manifest_json. */
static bool docker_try_manifest(struct overlay_image *img, const struct overlay_image_store *s, const char *digest,
				int64_t size, const char *config_digest)
{
	char *mb = NULL;
	size_t ml = 0;
	struct strata_err *e = NULL;
	if (overlay_image_oci_read_blob(s, digest, size, &mb, &ml, &e) < 0) {
		strata_err_free(e);
		return false;
	}
	cleanup_json json_t *m = json_loadb(mb, ml, 0, NULL);
	const char *cd = overlay_json_str(json_object_get(m, "config"), "digest");
	if (json_object_get(m, "layers") && cd && strcmp(cd, config_digest) == 0) {
		img->digest = xstrdup(digest);
		img->manifest_json = mb;
		img->manifest_len = ml;
		return true;
	}
	free(mb);
	return false;
}

/* Docker 25+: the OCI manifest whose config is config_digest, named by index.json or else found
 * among the small blobs (Docker 25 can write an index.json without manifests). Quietly does
 * nothing when there is none: the image is then known by its config digest. */
static void docker_find_oci_manifest(struct overlay_image *img, const struct overlay_image_store *s,
				     const char *config_digest)
{
	cleanup_free char *ib = NULL;
	size_t il = 0;
	struct strata_err *e = NULL;
	if (overlay_image_store_has(s, "index.json") && overlay_image_store_read(s, "index.json", &ib, &il, &e) == 0) {
		cleanup_json json_t *idx = json_loadb(ib, il, 0, NULL);
		size_t i;
		json_t *d;
		json_array_foreach(json_object_get(idx, "manifests"), i, d) {
			const char *dg = overlay_json_str(d, "digest");
			json_t *sz = json_object_get(d, "size");
			if (overlay_digest_valid(dg) &&
			    docker_try_manifest(img, s, dg, json_is_integer(sz) ? json_integer_value(sz) : -1, config_digest))
				return;
		}
	}
	strata_err_free(e);
	if (!overlay_image_store_has(s, "index.json"))
		return;
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct overlay_image_member *m = &s->members[i];
		if (m->link || m->size > (1u << 20) || strncmp(m->name, "blobs/sha256/", 13) != 0)
			continue;
		cleanup_free char *dg = xasprintf("sha256:%s", m->name + 13);
		if (overlay_digest_valid(dg) && docker_try_manifest(img, s, dg, -1, config_digest))
			return;
	}
}

/* Candidates for selection: one per manifest.json entry, named by RepoTags, platform from the
 * config when there is a choice to make. */
static struct overlay_image_candidate *docker_candidates(const struct overlay_image_store *s, const json_t *list,
							  size_t n)
{
	struct overlay_image_candidate *c = xcalloc(n, sizeof(*c));
	size_t i;
	json_t *ent;
	json_array_foreach(list, i, ent) {
		c[i].index = i;
		json_t *tags = json_object_get(ent, "RepoTags");
		c[i].names = xcalloc(json_array_size(tags) + 1, sizeof(char *));
		size_t k;
		json_t *t;
		json_array_foreach(tags, k, t) {
			if (json_is_string(t))
				c[i].names[c[i].nnames++] = xstrdup(json_string_value(t));
		}
		const char *cfg = overlay_json_str(ent, "Config");
		c[i].key = xstrdup(cfg ? cfg : "");
		if (n > 1 && cfg) {
			cleanup_free char *cb = NULL;
			size_t cl = 0;
			char dg[72];
			struct strata_err *e = NULL;
			if (docker_read_config(s, cfg, &cb, &cl, dg, &e) == 0) {
				cleanup_json json_t *cj = json_loadb(cb, cl, 0, NULL);
				c[i].platform = overlay_json_platform(cj);
			}
			strata_err_free(e);
		}
	}
	return c;
}

int overlay_image_docker_load(struct overlay_image *img, const struct overlay_image_store *s,
			      const struct overlay_select *sel, struct strata_err **err)
{
	cleanup_free char *mb = NULL;
	size_t ml = 0;
	if (overlay_image_store_read(s, "manifest.json", &mb, &ml, err) < 0)
		return -1;
	cleanup_json json_t *list = overlay_json_parse("manifest.json", mb, ml, err);
	if (!list)
		return -1;
	STRATA_CHECK(json_is_array(list), err, STRATA_EFORMAT, "manifest.json: not a list of images");
	size_t n = json_array_size(list);
	STRATA_CHECK(n > 0, err, STRATA_EFORMAT, "manifest.json: no image listed");
	size_t i;
	json_t *ent;
	json_array_foreach(list, i, ent) {
		STRATA_CHECK(json_is_object(ent) && overlay_json_str(ent, "Config") &&
				     json_is_array(json_object_get(ent, "Layers")),
			     err, STRATA_EFORMAT, "manifest.json: entry %zu lacks Config or Layers", i);
	}

	struct overlay_image_candidate *cands = docker_candidates(s, list, n);
	size_t chosen = 0;
	int rc = overlay_image_select(cands, n, sel, &chosen, err);
	if (rc == 0 && cands[chosen].nnames > 0) {
		size_t pick = 0;
		for (size_t k = 0; sel && sel->ref && k < cands[chosen].nnames; k++)
			if (strcmp(cands[chosen].names[k], sel->ref) == 0)
				pick = k;
		img->ref = xstrdup(cands[chosen].names[pick]);
	}
	overlay_image_candidates_free(cands, n);
	if (rc < 0)
		return -1;

	ent = json_array_get(list, chosen);
	const char *cfg = overlay_json_str(ent, "Config");
	char cdig[72];
	if (docker_read_config(s, cfg, &img->config_json, &img->config_len, cdig, err) < 0)
		return -1;
	img->config_digest = xstrdup(cdig);
	cleanup_json json_t *config = overlay_json_parse(cfg, img->config_json, img->config_len, err);
	if (!config)
		return strata_err_wrap(err, "config");
	STRATA_CHECK(json_is_object(config), err, STRATA_EFORMAT, "config %s: not an object", cfg);
	img->platform = overlay_json_platform(config);
	json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");

	json_t *layers = json_object_get(ent, "Layers");
	/* A config without rootfs.diff_ids (regclient's "{}") leaves diff_id unknown; a list that
	 * disagrees with the layers is an inconsistent image. */
	STRATA_CHECK(!diff_ids || json_array_size(diff_ids) == json_array_size(layers), err, STRATA_EFORMAT,
		     "config %s lists %zu diff_ids for %zu layers", cfg, json_array_size(diff_ids),
		     json_array_size(layers));
	json_t *l;
	json_array_foreach(layers, i, l) {
		const char *name = json_string_value(l);
		STRATA_CHECK(name, err, STRATA_EFORMAT, "manifest.json: layer %zu is not a path", i);
		struct overlay_source *blob = overlay_image_store_open(s, name, err);
		if (!blob)
			return strata_err_wrap(err, "layer %zu", i + 1);
		char ldig[72];
		bool has_dig = strncmp(name, "blobs/", 6) == 0 && docker_name_digest(name, ldig);
		rc = overlay_image_add_layer(img, blob, name, has_dig ? ldig : NULL,
					     json_string_value(json_array_get(diff_ids, i)), NULL, err);
		overlay_source_unref(blob);
		if (rc < 0)
			return -1;
	}

	docker_find_oci_manifest(img, s, cdig);
	if (!img->digest) {
		img->digest = xstrdup(cdig);
		img->manifest_json = steal_pointer(&mb);
		img->manifest_len = ml;
	}
	return 0;
}
