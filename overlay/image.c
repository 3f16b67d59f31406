/* overlay/image.c — image detection, the image object and the blob store.
 *
 * Owns: recognising what an input is by its content (OCI directory; a tar, possibly compressed as
 * a whole, holding a docker-archive or an OCI layout; else a plain rootfs tar), the member table of
 * an image archive (name → offset/size in the uncompressed archive, links resolved), and the
 * accessors of struct overlay_image. The formats themselves are read by image_docker.c and
 * image_oci.c. Every error leaving overlay_image_open is prefixed with the input path and has
 * IMAGE severity.
 */
#include "overlay_int.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define IMAGE_MAX_LINK_HOPS 8

/* ---- member table ------------------------------------------------------------------------ */

/* Tar member name → store name: strips "./" and "/" prefixes and a trailing "/". Owned. */
static char *image_member_name(const char *raw)
{
	while (*raw == '/' || (raw[0] == '.' && raw[1] == '/'))
		raw += raw[0] == '/' ? 1 : 2;
	char *n = xstrdup(raw);
	size_t l = strlen(n);
	while (l > 0 && n[l - 1] == '/')
		n[--l] = '\0';
	return n;
}

/* Resolves a symlink target relative to the member's directory ("a/b" + "../c/d" → "c/d"). */
static char *image_resolve_symlink(const char *member, const char *target)
{
	if (target[0] == '/')
		return image_member_name(target);
	const char *slash = strrchr(member, '/');
	cleanup_free char *joined = slash ? xasprintf("%.*s/%s", (int)(slash - member), member, target)
					  : xstrdup(target);
	/* collapse "." and ".." */
	char *out = xcalloc(1, strlen(joined) + 1);
	size_t ol = 0;
	char *save = NULL;
	for (char *tok = strtok_r(joined, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			while (ol > 0 && out[ol - 1] != '/')
				ol--;
			if (ol > 0)
				ol--;
			out[ol] = '\0';
			continue;
		}
		if (ol > 0)
			out[ol++] = '/';
		memcpy(out + ol, tok, strlen(tok));
		ol += strlen(tok);
		out[ol] = '\0';
	}
	return out;
}

struct image_scan {
	struct overlay_image_store *store;
	size_t cap;
	bool foreign; /* a member no image archive has: this is a root filesystem */
};

/* True when name can be a member of a docker-archive or an OCI layout tar: blobs/…, oci-layout,
 * index.json, manifest.json, repositories, <64 hex>[/.…] (legacy layer dirs and configs) or
 * sha256:… (kaniko). Any other member proves the archive is a plain root filesystem, so the scan
 * of a compressed rootfs tar stops at its first file instead of decompressing it twice. */
static bool image_member_plausible(const char *name)
{
	static const char *const fixed[] = {"oci-layout", "index.json", "manifest.json", "repositories"};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (!strcmp(name, fixed[i]))
			return true;
	if (!strncmp(name, "blobs/", 6) || !strncmp(name, "sha256:", 7))
		return true;
	size_t hex = strspn(name, "0123456789abcdef");
	return hex == 64 && (name[64] == '\0' || name[64] == '/' || name[64] == '.');
}

static int image_scan_entry(void *ctx, const struct overlay_tar_entry *e, struct strata_err **err)
{
	struct image_scan *sc = ctx;
	struct overlay_image_store *s = sc->store;
	if (e->type != OVERLAY_T_REG && e->type != OVERLAY_T_HARDLINK && e->type != OVERLAY_T_SYMLINK)
		return 0;
	if (s->nmembers == sc->cap) {
		sc->cap = sc->cap ? 2 * sc->cap : 32;
		s->members = xrealloc(s->members, sc->cap * sizeof(*s->members));
	}
	struct overlay_image_member *m = &s->members[s->nmembers++];
	m->name = image_member_name(e->path);
	m->link = NULL;
	if (!image_member_plausible(m->name)) {
		sc->foreign = true;
		return strata_err_set(err, STRATA_EFORMAT, "not an image archive member: %s", m->name);
	}
	/* Members are read as one range of the archive; a sparse one (tar -S) is stored in pieces
	 * (a hard link with data of its own can carry a sparse map too: refused the same way). */
	STRATA_CHECK(!e->sparse, err, STRATA_EUNSUPPORTED,
		     "image archive member %s is stored as a sparse file (tar -S): not supported", m->name);
	m->off = e->data_offset;
	m->size = e->size;
	m->link = NULL;
	if (e->type == OVERLAY_T_SYMLINK && e->link_target)
		m->link = image_resolve_symlink(m->name, e->link_target);
	else if (e->type == OVERLAY_T_HARDLINK && e->link_target && e->size == 0)
		m->link = image_member_name(e->link_target);
	return 0;
}

static void image_store_clear(struct overlay_image_store *s)
{
	free(s->dir);
	overlay_source_unref(s->outer);
	for (size_t i = 0; i < s->nmembers; i++) {
		free(s->members[i].name);
		free(s->members[i].link);
	}
	free(s->members);
	memset(s, 0, sizeof(*s));
}

/* The member named name after following links; NULL when absent (or a link loop). The last
 * member of a name wins, as tar extraction would have it. */
static const struct overlay_image_member *image_store_find(const struct overlay_image_store *s, const char *name)
{
	for (int hop = 0; hop <= IMAGE_MAX_LINK_HOPS; hop++) {
		const struct overlay_image_member *m = NULL;
		for (size_t i = s->nmembers; i-- > 0;)
			if (strcmp(s->members[i].name, name) == 0) {
				m = &s->members[i];
				break;
			}
		if (!m || !m->link)
			return m;
		name = m->link;
	}
	return NULL;
}

bool overlay_image_store_has(const struct overlay_image_store *s, const char *name)
{
	if (s->dir) {
		cleanup_free char *p = xasprintf("%s/%s", s->dir, name);
		struct stat st;
		return stat(p, &st) == 0 && S_ISREG(st.st_mode);
	}
	return image_store_find(s, name) != NULL;
}

struct overlay_source *overlay_image_store_open(const struct overlay_image_store *s, const char *name,
						struct strata_err **err)
{
	if (s->dir) {
		cleanup_free char *p = xasprintf("%s/%s", s->dir, name);
		struct stat st;
		if (stat(p, &st) < 0 && errno == ENOENT) {
			strata_err_set(err, STRATA_ENOTFOUND, "%s: missing", name);
			return NULL;
		}
		return overlay_source_file_open(p, err);
	}
	const struct overlay_image_member *m = image_store_find(s, name);
	if (!m) {
		strata_err_set(err, STRATA_ENOTFOUND, "%s: missing from the archive", name);
		return NULL;
	}
	return overlay_source_range_new(s->outer, m->off, m->size);
}

int overlay_image_store_read(const struct overlay_image_store *s, const char *name, char **buf, size_t *len,
			     struct strata_err **err)
{
	struct overlay_source *src = overlay_image_store_open(s, name, err);
	if (!src)
		return -1;
	uint64_t size = overlay_source_size(src);
	if (size > OVERLAY_IMAGE_JSON_MAX) {
		overlay_source_unref(src);
		return strata_err_set(err, STRATA_ELIMIT, "%s: %llu bytes, more than the %u MiB allowed for metadata",
				      name, (unsigned long long)size, OVERLAY_IMAGE_JSON_MAX >> 20);
	}
	cleanup_free char *b = xmalloc((size_t)size + 1);
	size_t got = 0;
	while (got < size) {
		ssize_t n = overlay_source_pread(src, b + got, (size_t)size - got, got, err);
		if (n <= 0) {
			overlay_source_unref(src);
			if (n == 0)
				return strata_err_set(err, STRATA_EFORMAT, "%s: truncated", name);
			return strata_err_wrap(err, "%s", name);
		}
		got += (size_t)n;
	}
	overlay_source_unref(src);
	b[got] = '\0';
	*len = got;
	*buf = steal_pointer(&b);
	return 0;
}

/* ---- raw archive scan: libarchive over pread with seeking ------------------------------- */

struct image_raw_io {
	struct overlay_source *src;
	uint64_t pos, size;
};

static ssize_t image_raw_read(void *ctx, void *buf, size_t len, struct strata_err **err)
{
	struct image_raw_io *r = ctx;
	ssize_t n = overlay_source_pread(r->src, buf, len, r->pos, err);
	if (n > 0)
		r->pos += (uint64_t)n;
	return n;
}

static int64_t image_raw_skip(void *ctx, uint64_t n, struct strata_err **err)
{
	(void)err;
	struct image_raw_io *r = ctx;
	uint64_t left = r->pos < r->size ? r->size - r->pos : 0;
	if (n > left)
		n = left;
	r->pos += n;
	return (int64_t)n;
}

/* Walks the archive's members into s->members and sets s->outer; *scan = compressed bytes read. */
static int image_scan_members(struct overlay_image_store *s, struct image_scan *sc, struct overlay_source *file,
			      enum overlay_compression comp, uint64_t *scan, struct strata_err **err)
{
	struct overlay_tar_callbacks cb = {.entry = image_scan_entry};
	if (comp == OVERLAY_COMP_NONE) {
		struct image_raw_io r = {.src = file, .size = overlay_source_size(file)};
		struct overlay_tar_io io = {.read = image_raw_read, .skip = image_raw_skip, .ctx = &r};
		if (overlay_tar_walk_io(&io, &cb, sc, err) < 0)
			return -1;
		s->outer = overlay_source_ref(file);
		return 0;
	}
	struct overlay_stream_opts opts = {.span = OVERLAY_DEFAULT_SPAN};
	struct overlay_stream *st = overlay_stream_open(file, comp, &opts, err);
	if (!st)
		return -1;
	int rc = overlay_tar_walk(st, &cb, sc, err);
	*scan = overlay_stream_progress(st);
	if (rc == 0)
		rc = overlay_stream_finish(st, err);
	if (rc < 0) {
		overlay_stream_free(st);
		return -1;
	}
	*scan = overlay_stream_progress(st);
	struct overlay_seekmap *map = overlay_stream_take_seekmap(st);
	overlay_stream_free(st);
	s->outer = overlay_source_decomp_new(file, map, err);
	return s->outer ? 0 : -1;
}

/* Fills s->members and s->outer from the file. Returns 1 (with no members and no outer source)
 * as soon as a member shows the archive is a root filesystem, 0 when scanned, -1 on error. */
static int image_scan_archive(struct overlay_image_store *s, struct overlay_source *file,
			      enum overlay_compression comp, uint64_t *scan, struct strata_err **err)
{
	struct image_scan sc = {.store = s};
	struct strata_err *walk_err = NULL;
	int rc = image_scan_members(s, &sc, file, comp, scan, &walk_err);
	if (rc < 0 && sc.foreign) {
		strata_err_free(walk_err);
		return 1;
	}
	if (rc < 0) {
		if (err && !*err)
			*err = walk_err;
		else
			strata_err_free(walk_err);
	}
	return rc;
}

/* ---- the image object -------------------------------------------------------------------- */

int overlay_image_add_layer(struct overlay_image *img, struct overlay_source *blob, const char *location,
			    const char *digest, const char *diff_id, const char *media_type, struct strata_err **err)
{
	unsigned char magic[16];
	ssize_t n = overlay_source_pread(blob, magic, sizeof(magic), 0, err);
	if (n < 0)
		return strata_err_wrap(err, "layer %s", location);
	img->layers = xrealloc(img->layers, (img->nlayers + 1) * sizeof(*img->layers));
	struct overlay_image_layer *l = &img->layers[img->nlayers++];
	memset(l, 0, sizeof(*l));
	l->blob = overlay_source_ref(blob);
	l->location = xstrdup(location);
	l->digest = digest ? xstrdup(digest) : NULL;
	l->diff_id = diff_id ? xstrdup(diff_id) : NULL;
	l->media_type = media_type ? xstrdup(media_type) : NULL;
	l->info.compression = overlay_detect_compression(magic, (size_t)n);
	l->info.compressed_size = overlay_source_size(blob);
	return 0;
}

const char *overlay_image_format_name(enum overlay_image_format f)
{
	switch (f) {
	case OVERLAY_FMT_DOCKER_ARCHIVE: return "docker-archive";
	case OVERLAY_FMT_OCI_DIR: return "oci-dir";
	case OVERLAY_FMT_OCI_TAR: return "oci-tar";
	case OVERLAY_FMT_ROOTFS: return "rootfs-tar";
	}
	return "unknown";
}

void overlay_image_free(struct overlay_image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->nlayers; i++) {
		struct overlay_image_layer *l = &img->layers[i];
		overlay_source_unref(l->blob);
		free(l->digest);
		free(l->diff_id);
		free(l->media_type);
		free(l->location);
	}
	free(img->layers);
	free(img->digest);
	free(img->config_digest);
	free(img->ref);
	free(img->platform);
	free(img->manifest_json);
	free(img->config_json);
	free(img);
}

static inline void image_freep(struct overlay_image **p)
{
	overlay_image_free(*p);
}
static inline void image_store_clearp(struct overlay_image_store *s)
{
	image_store_clear(s);
}
static inline void image_source_unrefp(struct overlay_source **s)
{
	overlay_source_unref(*s);
}

/* A `docker save` archive of the pre-1.10 kind: `repositories`, `<id>/VERSION`, `<id>/layer.tar`,
 * but no manifest.json. Not a root filesystem. */
static bool image_is_old_docker(const struct overlay_image_store *s)
{
	if (image_store_find(s, "repositories"))
		return true;
	for (size_t i = 0; i < s->nmembers; i++) {
		const char *n = s->members[i].name;
		const char *slash = strchr(n, '/');
		if (!slash || strcmp(slash, "/layer.tar") != 0)
			continue;
		cleanup_free char *v = xasprintf("%.*s/VERSION", (int)(slash - n), n);
		if (image_store_find(s, v))
			return true;
	}
	return false;
}

/* Everything after the path prefix. */
static int image_open_in(struct overlay_image *img, const char *path, const struct overlay_select *sel,
			  struct strata_err **err)
{
	__attribute__((cleanup(image_store_clearp))) struct overlay_image_store store = {0};
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return strata_err_set(err, STRATA_ENOTFOUND, "no such file or directory");
		return strata_err_sys(err, "stat");
	}
	if (S_ISDIR(st.st_mode)) {
		store.dir = xstrdup(path);
		if (!overlay_image_store_has(&store, "oci-layout") || !overlay_image_store_has(&store, "index.json"))
			return strata_err_set(err, STRATA_EFORMAT,
					      "not an image (a directory without oci-layout and index.json)");
		img->fmt = OVERLAY_FMT_OCI_DIR;
		return overlay_image_oci_load(img, &store, sel, err);
	}

	__attribute__((cleanup(image_source_unrefp))) struct overlay_source *file = overlay_source_file_open(path, err);
	if (!file)
		return -1;
	unsigned char magic[512];
	ssize_t n = overlay_source_pread(file, magic, sizeof(magic), 0, err);
	if (n < 0)
		return -1;
	if (n == 0)
		return strata_err_set(err, STRATA_EFORMAT, "empty file");
	enum overlay_compression comp = overlay_detect_compression(magic, (size_t)n);
	struct strata_err *scan_err = NULL;
	int scanned = image_scan_archive(&store, file, comp, &img->scan_bytes, &scan_err);
	if (scanned < 0) {
		const char *cname = overlay_compression_name(comp);
		cleanup_free char *cprefix = xasprintf("%s: ", cname);
		if (comp != OVERLAY_COMP_NONE && scan_err && strstr(scan_err->msg, cprefix)) {
			/* the compressed file itself is damaged: say how, not "not an image" */
			*err = scan_err;
			return -1;
		}
		if (store.nmembers == 0 && scan_err && scan_err->code == STRATA_EFORMAT) {
			strata_err_free(scan_err);
			if (comp != OVERLAY_COMP_NONE)
				return strata_err_set(err, STRATA_EFORMAT, "not an image (a %s file that does not hold a tar)",
						      cname);
			return strata_err_set(err, STRATA_EFORMAT,
					      "not an image (not a tar, OCI layout or compressed tar)");
		}
		*err = scan_err;
		return -1;
	}
	if (scanned == 0 && store.nmembers == 0 && comp == OVERLAY_COMP_NONE && overlay_source_size(file) < 1024)
		return strata_err_set(err, STRATA_EFORMAT, "not an image (not a tar, OCI layout or compressed tar)");
	if (scanned == 0 && overlay_image_store_has(&store, "manifest.json")) {
		img->fmt = OVERLAY_FMT_DOCKER_ARCHIVE;
		return overlay_image_docker_load(img, &store, sel, err);
	}
	if (scanned == 0 && overlay_image_store_has(&store, "oci-layout") &&
	    overlay_image_store_has(&store, "index.json")) {
		img->fmt = OVERLAY_FMT_OCI_TAR;
		return overlay_image_oci_load(img, &store, sel, err);
	}
	if (scanned == 0 && image_is_old_docker(&store))
		return strata_err_set(err, STRATA_EFORMAT,
				      "docker-archive without manifest.json (the pre-1.10 format is not supported)");
	/* A plain root filesystem: the file itself is the layer (the index pass decompresses it). */
	img->fmt = OVERLAY_FMT_ROOTFS;
	const char *base = strrchr(path, '/');
	return overlay_image_add_layer(img, file, base ? base + 1 : path, NULL, NULL, NULL, err);
}

struct overlay_image *overlay_image_open(const char *path, const struct overlay_select *sel, struct strata_err **err)
{
	__attribute__((cleanup(image_freep))) struct overlay_image *img = xcalloc(1, sizeof(*img));
	if (image_open_in(img, path, sel, err) < 0) {
		strata_err_wrap(err, "%s", path);
		if (err && *err)
			(*err)->severity = STRATA_SEV_IMAGE;
		return NULL;
	}
	for (size_t i = 0; i < img->nlayers; i++) {
		struct overlay_image_layer *l = &img->layers[i];
		l->info.digest = l->digest;
		l->info.diff_id = l->diff_id;
		l->info.media_type = l->media_type;
		l->info.location = l->location;
		l->info.blob = l->blob;
	}
	return steal_pointer(&img);
}

enum overlay_image_format overlay_image_format(const struct overlay_image *img) { return img->fmt; }
const char *overlay_image_digest(const struct overlay_image *img) { return img->digest; }
const char *overlay_image_config_digest(const struct overlay_image *img) { return img->config_digest; }
const char *overlay_image_ref(const struct overlay_image *img) { return img->ref; }
const char *overlay_image_platform(const struct overlay_image *img) { return img->platform; }
size_t overlay_image_layer_count(const struct overlay_image *img) { return img->nlayers; }
uint64_t overlay_image_scan_bytes(const struct overlay_image *img) { return img->scan_bytes; }

const char *overlay_image_manifest_json(const struct overlay_image *img, size_t *len)
{
	if (len)
		*len = img->manifest_len;
	return img->manifest_json;
}

const char *overlay_image_config_json(const struct overlay_image *img, size_t *len)
{
	if (len)
		*len = img->config_len;
	return img->config_json;
}

const struct overlay_layer_info *overlay_image_layer(const struct overlay_image *img, size_t i)
{
	return i < img->nlayers ? &img->layers[i].info : NULL;
}

/* ---- the store on its own (attachments, issue 9) ------------------------------------------ */

void overlay_image_store_clear(struct overlay_image_store *s)
{
	image_store_clear(s);
}

int overlay_image_store_load_outer(struct overlay_image_store *s, struct overlay_source *outer,
				   struct strata_err **err)
{
	struct image_scan sc = {.store = s};
	struct image_raw_io r = {.src = outer, .size = overlay_source_size(outer)};
	struct overlay_tar_io io = {.read = image_raw_read, .skip = image_raw_skip, .ctx = &r};
	struct overlay_tar_callbacks cb = {.entry = image_scan_entry};
	if (overlay_tar_walk_io(&io, &cb, &sc, err) < 0) {
		image_store_clear(s);
		return -1;
	}
	s->outer = overlay_source_ref(outer);
	if (!overlay_image_store_has(s, "oci-layout") || !overlay_image_store_has(s, "index.json")) {
		image_store_clear(s);
		return 1;
	}
	return 0;
}

int overlay_image_store_load(struct overlay_image_store *s, const char *path, struct strata_err **err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return strata_err_sys(err, "%s", path);
	if (S_ISDIR(st.st_mode)) {
		s->dir = xstrdup(path);
	} else {
		__attribute__((cleanup(image_source_unrefp))) struct overlay_source *file =
			overlay_source_file_open(path, err);
		if (!file)
			return -1;
		unsigned char magic[512];
		ssize_t n = overlay_source_pread(file, magic, sizeof(magic), 0, err);
		if (n < 0)
			return -1;
		uint64_t scan = 0;
		int rc = image_scan_archive(s, file, overlay_detect_compression(magic, (size_t)n), &scan, err);
		if (rc != 0) {
			image_store_clear(s);
			return rc;
		}
	}
	if (!overlay_image_store_has(s, "oci-layout") || !overlay_image_store_has(s, "index.json")) {
		image_store_clear(s);
		return 1;
	}
	return 0;
}
