/* overlay/image_referrers.c — signatures and attestations stored beside an image in an OCI layout.
 *
 * Owns discovery only (verification is policy/'s job): the walk over index.json and nested
 * indexes for manifests whose subject is the selected image manifest (OCI 1.1 referrers) and for
 * entries named by cosign's tag convention (sha256-<hex>.sig, sha256-<hex>.att), then the read of
 * each such manifest's layer blobs with their descriptors' annotations (where cosign keeps the
 * signature, certificate and bundle). Everything here is untrusted: digests must be sha256 (so a
 * descriptor cannot name a path outside blobs/), every blob is read against its descriptor's size
 * and digest, and sizes and counts are bounded.
 */
#include "overlay_int.h"

#include <string.h>

#define ATTACH_MAX 64		       /* attachments kept per image */
#define ATTACH_MAX_BLOBS 16	       /* layers read per attachment manifest */
#define ATTACH_BLOB_MAX (4u << 20)     /* bytes per blob */
#define ATTACH_MANIFEST_MAX (1u << 20) /* bytes per manifest or nested index */
#define ATTACH_MAX_DESCS 4096	       /* descriptors visited in all */

struct attach_walk {
	const struct overlay_image_store *s;
	const char *image_digest;
	char tag_sig[80], tag_att[80];
	struct overlay_attachment *v;
	size_t n, visited;
};

static char *attach_json_text(const json_t *obj)
{
	if (!json_is_object(obj) || json_object_size(obj) == 0)
		return NULL;
	return json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
}

static bool attach_seen(const struct attach_walk *w, const char *digest)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->v[i].manifest_digest && !strcmp(w->v[i].manifest_digest, digest))
			return true;
	return false;
}

/* Reads one layer descriptor's blob into b (errors are kept in b->error). */
static void attach_read_blob(const struct overlay_image_store *s, const json_t *ld,
			     struct overlay_attach_blob *b)
{
	const char *mt = overlay_json_str(ld, "mediaType");
	const char *dg = overlay_json_str(ld, "digest");
	b->media_type = mt ? xstrdup(mt) : NULL;
	b->digest = xstrdup(dg ? dg : "");
	b->annotations_json = attach_json_text(json_object_get(ld, "annotations"));
	json_t *sz = json_object_get(ld, "size");
	if (!json_is_integer(sz) || json_integer_value(sz) < 0) {
		b->error = xstrdup("descriptor has no valid size");
		return;
	}
	if ((uint64_t)json_integer_value(sz) > ATTACH_BLOB_MAX) {
		b->error = xasprintf("blob of %lld bytes, more than the %u MiB allowed",
				     (long long)json_integer_value(sz), ATTACH_BLOB_MAX >> 20);
		return;
	}
	struct strata_err *e = NULL;
	char *data = NULL;
	size_t len = 0;
	if (overlay_image_oci_read_blob(s, dg, json_integer_value(sz), &data, &len, &e) < 0) {
		b->error = xstrdup(e && e->msg ? e->msg : "unreadable");
		strata_err_free(e);
		return;
	}
	b->data = (unsigned char *)data;
	b->len = len;
}

/* Records the attachment manifest m (already read and verified) found by how. */
static void attach_add(struct attach_walk *w, const char *how, const char *digest, const json_t *desc,
		       const json_t *m, const char *error)
{
	struct overlay_attachment *a = &w->v[w->n++];
	memset(a, 0, sizeof(*a));
	a->found_by = how;
	a->manifest_digest = xstrdup(digest);
	const char *ref =
	    overlay_json_str(json_object_get(desc, "annotations"), "org.opencontainers.image.ref.name");
	a->ref_name = ref ? xstrdup(ref) : NULL;
	if (error) {
		a->error = xstrdup(error);
		return;
	}
	const char *at = overlay_json_str(m, "artifactType");
	if (!at)
		at = overlay_json_str(json_object_get(m, "config"), "mediaType");
	if (!at)
		at = overlay_json_str(desc, "artifactType");
	a->artifact_type = at ? xstrdup(at) : NULL;
	a->annotations_json = attach_json_text(json_object_get(m, "annotations"));
	json_t *layers = json_object_get(m, "layers");
	if (!json_is_array(layers))
		return;
	size_t nl = json_array_size(layers);
	if (nl > ATTACH_MAX_BLOBS) {
		a->error = xasprintf("%zu layers, more than the %d read", nl, ATTACH_MAX_BLOBS);
		nl = ATTACH_MAX_BLOBS;
	}
	a->blobs = xcalloc(nl ? nl : 1, sizeof(*a->blobs));
	for (size_t i = 0; i < nl; i++)
		attach_read_blob(w->s, json_array_get(layers, i), &a->blobs[a->nblobs++]);
}

static bool attach_is_index(const char *mt, const json_t *j)
{
	if (mt)
		return !strcmp(mt, "application/vnd.oci.image.index.v1+json") ||
		       !strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json");
	return json_object_get(j, "manifests") != NULL;
}

/* Visits one descriptor of index.json or of a nested index. */
static int attach_visit(struct attach_walk *w, const json_t *desc, int depth, struct strata_err **err)
{
	STRATA_CHECK(++w->visited <= ATTACH_MAX_DESCS, err, STRATA_ELIMIT,
		     "more than %d descriptors in the layout", ATTACH_MAX_DESCS);
	STRATA_CHECK(depth < OVERLAY_IMAGE_MAX_DEPTH, err, STRATA_ELIMIT,
		     "image indexes nested more than %d deep", OVERLAY_IMAGE_MAX_DEPTH);
	const char *digest = overlay_json_str(desc, "digest");
	const char *ref =
	    overlay_json_str(json_object_get(desc, "annotations"), "org.opencontainers.image.ref.name");
	if (!overlay_digest_valid(digest) || !strcmp(digest, w->image_digest) || attach_seen(w, digest))
		return 0;
	/* cosign's tags may carry a repository prefix ("repo:sha256-<hex>.sig"). */
	const char *tag = ref ? strrchr(ref, ':') : NULL;
	tag = tag ? tag + 1 : ref;
	bool by_tag = tag && (!strcmp(tag, w->tag_sig) || !strcmp(tag, w->tag_att));
	json_t *sz = json_object_get(desc, "size");
	if (sz && (!json_is_integer(sz) || json_integer_value(sz) < 0 ||
		   (uint64_t)json_integer_value(sz) > ATTACH_MANIFEST_MAX)) {
		if (by_tag && w->n < ATTACH_MAX)
			attach_add(w, "tag", digest, desc, NULL,
				   "manifest size missing, invalid or over 1 MiB");
		return 0;
	}
	cleanup_free char *b = NULL;
	size_t l = 0;
	struct strata_err *e = NULL;
	if (overlay_image_oci_read_blob(w->s, digest, sz ? json_integer_value(sz) : -1, &b, &l, &e) < 0 ||
	    l > ATTACH_MANIFEST_MAX) {
		if (by_tag && w->n < ATTACH_MAX)
			attach_add(w, "tag", digest, desc, NULL,
				   e && e->msg ? e->msg : "manifest over 1 MiB");
		strata_err_free(e);
		return 0;
	}
	cleanup_json json_t *j = json_loadb(b, l, 0, NULL);
	if (!json_is_object(j)) {
		if (by_tag && w->n < ATTACH_MAX)
			attach_add(w, "tag", digest, desc, NULL, "manifest is not a JSON object");
		return 0;
	}
	const char *mt = overlay_json_str(desc, "mediaType");
	if (!mt)
		mt = overlay_json_str(j, "mediaType");
	if (attach_is_index(mt, j)) {
		size_t i;
		json_t *child;
		json_array_foreach(json_object_get(j, "manifests"), i, child)
		{
			if (attach_visit(w, child, depth + 1, err) < 0)
				return -1;
		}
		return 0;
	}
	const char *subject = overlay_json_str(json_object_get(j, "subject"), "digest");
	bool by_subject = subject && !strcmp(subject, w->image_digest);
	if (!by_subject && !by_tag)
		return 0;
	STRATA_CHECK(w->n < ATTACH_MAX, err, STRATA_ELIMIT, "more than %d signatures and attestations",
		     ATTACH_MAX);
	attach_add(w, by_subject ? "referrer" : "tag", digest, desc, j, NULL);
	return 0;
}

void overlay_attachments_free(struct overlay_attachment *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++) {
		for (size_t k = 0; k < a[i].nblobs; k++) {
			struct overlay_attach_blob *b = &a[i].blobs[k];
			free(b->media_type);
			free(b->digest);
			free(b->annotations_json);
			free(b->data);
			free(b->error);
		}
		free(a[i].blobs);
		free(a[i].manifest_digest);
		free(a[i].artifact_type);
		free(a[i].ref_name);
		free(a[i].annotations_json);
		free(a[i].error);
	}
	free(a);
}

static inline void attach_store_clearp(struct overlay_image_store *s)
{
	overlay_image_store_clear(s);
}

int overlay_image_attachments(const char *path, const struct overlay_image *img,
			      struct overlay_attachment **out, size_t *n, struct strata_err **err)
{
	*out = NULL;
	*n = 0;
	const char *digest = overlay_image_digest(img);
	enum overlay_image_format fmt = overlay_image_format(img);
	if ((fmt != OVERLAY_FMT_OCI_DIR && fmt != OVERLAY_FMT_OCI_TAR) || !overlay_digest_valid(digest))
		return 0;
	__attribute__((cleanup(attach_store_clearp))) struct overlay_image_store s = {0};
	/* An OCI tar's layers are windows of the archive's uncompressed bytes: walking the headers
	 * through them costs a few spans, where reopening a compressed archive would inflate it all. */
	const struct overlay_layer_info *l0 = overlay_image_layer(img, 0);
	struct overlay_source *outer =
	    fmt == OVERLAY_FMT_OCI_TAR && l0 && overlay_source_kind(l0->blob) == OVERLAY_SRC_RANGE
		? overlay_source_base(l0->blob)
		: NULL;
	int rc =
	    outer ? overlay_image_store_load_outer(&s, outer, err) : overlay_image_store_load(&s, path, err);
	if (rc != 0)
		return rc < 0 ? strata_err_wrap(err, "attachments") : 0;
	cleanup_free char *ib = NULL;
	size_t il = 0;
	if (overlay_image_store_read(&s, "index.json", &ib, &il, err) < 0)
		return -1;
	cleanup_json json_t *idx = overlay_json_parse("index.json", ib, il, err);
	if (!idx)
		return -1;
	struct attach_walk w = {.s = &s, .image_digest = digest};
	snprintf(w.tag_sig, sizeof(w.tag_sig), "sha256-%s.sig", digest + 7);
	snprintf(w.tag_att, sizeof(w.tag_att), "sha256-%s.att", digest + 7);
	w.v = xcalloc(ATTACH_MAX, sizeof(*w.v));
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(idx, "manifests"), i, d)
	{
		if (attach_visit(&w, d, 0, err) < 0) {
			overlay_attachments_free(w.v, w.n);
			return strata_err_wrap(err, "attachments");
		}
	}
	*out = w.v;
	*n = w.n;
	return 0;
}
