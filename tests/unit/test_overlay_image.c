/* tests/unit/test_overlay_image.c — overlay_image_open against images made by other projects
 * (../shared/fixtures/outside, skipped when absent) and against small images built here with
 * tar, gzip, zstd and sha256sum (tests/unit/overlay_image_fixtures.sh): detection by content,
 * layer sources readable through nested sources, digests, selection, and one-line errors. */
#include "../../overlay/overlay.h"
#include "tap.h"

#include <limits.h>
#include <string.h>
#include <sys/stat.h>

static char tmp[256];
static char repo[PATH_MAX];
static char outside[PATH_MAX + 64];

static struct overlay_image *open_img(const char *path, const char *ref, const char *platform,
				      struct strata_err **err)
{
	struct overlay_select sel = {.ref = ref, .platform = platform};
	return overlay_image_open(path, &sel, err);
}

/* Every layer's first bytes are readable and carry the magic of its detected compression. */
static bool layers_readable(const struct overlay_image *img)
{
	for (size_t i = 0; i < overlay_image_layer_count(img); i++) {
		const struct overlay_layer_info *l = overlay_image_layer(img, i);
		unsigned char b[512];
		struct strata_err *e = NULL;
		ssize_t n = overlay_source_pread(l->blob, b, sizeof(b), 0, &e);
		strata_err_free(e);
		if (n < 0 || (l->compressed_size >= 512 && n != 512))
			return false;
		if (overlay_detect_compression(b, (size_t)n) != l->compression)
			return false;
		static const unsigned char zero[512];
		if (l->compression == OVERLAY_COMP_NONE && n == 512 && memcmp(b + 257, "ustar", 5) != 0 &&
		    memcmp(b, zero, 512) != 0)
			return false; /* neither a tar header nor an empty tar's end blocks */
		if (l->compressed_size != overlay_source_size(l->blob))
			return false;
	}
	return true;
}

static char *readline_file(const char *dir, const char *name)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "r");
	if (!f)
		return NULL;
	char buf[128] = "";
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return xstrdup(buf);
}

static void expect_error(const char *name, const char *ref, int code, const char *needle)
{
	cleanup_free char *path = xasprintf("%s/%s", tmp, name);
	cleanup_err struct strata_err *err = NULL;
	struct overlay_image *img = open_img(path, ref, NULL, &err);
	bool one_line = err && !strchr(err->msg, '\n');
	bool named = err && strncmp(err->msg, path, strlen(path)) == 0;
	ok(!img && err && err->code == code && one_line && named && strstr(err->msg, needle),
	   "%s: error %d naming the input, says \"%s\" (%s)", name, code, needle, err ? err->msg : "opened");
	overlay_image_free(img);
}

static void test_own_images(void)
{
	cleanup_free char *script = xasprintf("%s/tests/unit/overlay_image_fixtures.sh", repo);
	cleanup_free char *cmd = xasprintf("sh '%s' '%s' >/dev/null 2>&1", script, tmp);
	if (!ok(system(cmd) == 0, "own images built with tar, gzip, zstd, sha256sum"))
		return;
	cleanup_free char *oci_digest = readline_file(tmp, "oci.digest");
	cleanup_free char *oci_config = readline_file(tmp, "oci.config");
	cleanup_free char *dk_config = readline_file(tmp, "docker.config");
	cleanup_free char *d25_digest = readline_file(tmp, "d25.digest");

	static const struct {
		const char *name;
		enum overlay_image_format fmt;
		size_t layers;
		enum overlay_compression c0, c1;
	} cases[] = {
		{"oci", OVERLAY_FMT_OCI_DIR, 2, OVERLAY_COMP_GZIP, OVERLAY_COMP_ZSTD},
		{"oci.tar", OVERLAY_FMT_OCI_TAR, 2, OVERLAY_COMP_GZIP, OVERLAY_COMP_ZSTD},
		{"docker.tar", OVERLAY_FMT_DOCKER_ARCHIVE, 2, OVERLAY_COMP_NONE, OVERLAY_COMP_NONE},
		{"docker.tar.gz", OVERLAY_FMT_DOCKER_ARCHIVE, 2, OVERLAY_COMP_NONE, OVERLAY_COMP_NONE},
		{"docker.tar.zst", OVERLAY_FMT_DOCKER_ARCHIVE, 2, OVERLAY_COMP_NONE, OVERLAY_COMP_NONE},
		{"docker25.tar", OVERLAY_FMT_DOCKER_ARCHIVE, 2, OVERLAY_COMP_GZIP, OVERLAY_COMP_ZSTD},
		{"rootfs.tar", OVERLAY_FMT_ROOTFS, 1, OVERLAY_COMP_NONE, 0},
		{"rootfs.tar.gz", OVERLAY_FMT_ROOTFS, 1, OVERLAY_COMP_GZIP, 0},
		{"rootfs.tar.zst", OVERLAY_FMT_ROOTFS, 1, OVERLAY_COMP_ZSTD, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cleanup_free char *path = xasprintf("%s/%s", tmp, cases[i].name);
		cleanup_err struct strata_err *err = NULL;
		struct overlay_image *img = open_img(path, NULL, NULL, &err);
		if (!ok(img != NULL, "%s opens (%s)", cases[i].name, err ? err->msg : "ok"))
			continue;
		size_t n = overlay_image_layer_count(img);
		ok(overlay_image_format(img) == cases[i].fmt && n == cases[i].layers, "%s: %s, %zu layers", cases[i].name,
		   overlay_image_format_name(overlay_image_format(img)), n);
		ok(n >= 1 && overlay_image_layer(img, 0)->compression == cases[i].c0 &&
			   (n < 2 || overlay_image_layer(img, 1)->compression == cases[i].c1),
		   "%s: layer compression detected by magic", cases[i].name);
		ok(layers_readable(img), "%s: first 512 bytes of every layer readable through its source",
		   cases[i].name);
		bool compressed_outer = strstr(cases[i].name, ".tar.") != NULL;
		ok(compressed_outer ? overlay_image_scan_bytes(img) > 0 : overlay_image_scan_bytes(img) == 0,
		   "%s: scan bytes %llu", cases[i].name, (unsigned long long)overlay_image_scan_bytes(img));
		switch (cases[i].fmt) {
		case OVERLAY_FMT_OCI_DIR:
		case OVERLAY_FMT_OCI_TAR:
			ok(oci_digest && overlay_image_digest(img) && strcmp(overlay_image_digest(img), oci_digest) == 0 &&
				   strcmp(overlay_image_config_digest(img), oci_config) == 0,
			   "%s: image digest is the manifest's, config digest matches", cases[i].name);
			ok(overlay_image_ref(img) && strcmp(overlay_image_ref(img), "mine:1") == 0 &&
				   overlay_image_platform(img) && strcmp(overlay_image_platform(img), "linux/amd64") == 0,
			   "%s: ref mine:1, platform linux/amd64", cases[i].name);
			ok(overlay_image_layer(img, 1)->digest && overlay_image_layer(img, 1)->diff_id &&
				   strstr(overlay_image_layer(img, 1)->media_type, "zstd"),
			   "%s: layer digest, diff_id and media type", cases[i].name);
			break;
		case OVERLAY_FMT_DOCKER_ARCHIVE:
			if (strstr(cases[i].name, "docker25")) {
				ok(d25_digest && strcmp(overlay_image_digest(img), d25_digest) == 0 &&
					   strcmp(overlay_image_ref(img), "mine:25") == 0,
				   "%s: image digest is the OCI manifest's, ref from RepoTags", cases[i].name);
				ok(overlay_image_layer(img, 0)->digest && strstr(overlay_image_layer(img, 0)->location, "blobs/sha256/"),
				   "%s: layer digest from its blobs/ path", cases[i].name);
				break;
			}
			ok(dk_config && strcmp(overlay_image_digest(img), dk_config) == 0 &&
				   strcmp(overlay_image_config_digest(img), dk_config) == 0,
			   "%s: image digest is the config digest", cases[i].name);
			ok(overlay_image_layer(img, 0)->digest == NULL && overlay_image_layer(img, 0)->diff_id &&
				   strstr(overlay_image_layer(img, 0)->location, "/layer.tar"),
			   "%s: legacy layers: no digest, diff_id, location <id>/layer.tar", cases[i].name);
			break;
		case OVERLAY_FMT_ROOTFS:
			ok(!overlay_image_digest(img) && !overlay_image_config_json(img, NULL) &&
				   overlay_source_kind(overlay_image_layer(img, 0)->blob) == OVERLAY_SRC_FILE,
			   "%s: no digest, no config, the layer is the file itself", cases[i].name);
			break;
		}
		overlay_image_free(img);
	}

	expect_error("random.bin", NULL, STRATA_EFORMAT, "not an image (not a tar, OCI layout or compressed tar)");
	expect_error("empty.bin", NULL, STRATA_EFORMAT, "empty file");
	expect_error("docker-badjson.tar", NULL, STRATA_EFORMAT, "invalid JSON");
	expect_error("docker25-badcfg.tar", NULL, STRATA_EDIGEST, "digest mismatch");
	expect_error("docker-missing.tar", NULL, STRATA_ENOTFOUND, "layer.tar");
	expect_error("oci-badmt", NULL, STRATA_EUNSUPPORTED, "unknown media type application/x-unknown-layer");
	expect_error("oci-missing", NULL, STRATA_ENOTFOUND, "missing");
	expect_error("oci-badcfg", NULL, STRATA_EDIGEST, "digest mismatch");
	expect_error("oci-escape", NULL, STRATA_EFORMAT, "refusing digest");
	expect_error("oci", "other:2", STRATA_ENOTFOUND, "mine:1");
	expect_error("docker.tar.gz", "other:2", STRATA_ENOTFOUND, "mine:1");
	expect_error("nonexistent.tar", NULL, STRATA_ENOTFOUND, "no such file");
}

static void test_outside(void)
{
	struct stat st;
	if (stat(outside, &st) < 0) {
		skip("outside fixtures absent (%s)", outside);
		return;
	}
	static const struct {
		const char *name;
		enum overlay_image_format fmt;
		size_t layers;
		enum overlay_compression comp;
	} dive[] = {
		{"dive/test-docker-image.tar", OVERLAY_FMT_DOCKER_ARCHIVE, 14, OVERLAY_COMP_NONE},
		{"dive/test-kaniko-image.tar", OVERLAY_FMT_DOCKER_ARCHIVE, 0, OVERLAY_COMP_GZIP},
		{"dive/test-oci-gzip-image.tar", OVERLAY_FMT_OCI_TAR, 1, OVERLAY_COMP_GZIP},
		{"dive/test-oci-zstd-image.tar", OVERLAY_FMT_OCI_TAR, 1, OVERLAY_COMP_ZSTD},
		{"dive/test-oci-estargz-image.tar", OVERLAY_FMT_OCI_TAR, 1, OVERLAY_COMP_GZIP},
		{"dive/test-oci-uncompressed-image.tar", OVERLAY_FMT_OCI_TAR, 1, OVERLAY_COMP_NONE},
		{"dive/test-gzip-image.tar", OVERLAY_FMT_ROOTFS, 1, OVERLAY_COMP_NONE},
		{"dive/test-zstd-image.tar", OVERLAY_FMT_ROOTFS, 1, OVERLAY_COMP_NONE},
		{"dive/test-estargz-image.tar", OVERLAY_FMT_ROOTFS, 1, OVERLAY_COMP_NONE},
		{"dive/test-uncompressed-image.tar", OVERLAY_FMT_ROOTFS, 1, OVERLAY_COMP_NONE},
		{"go-containerregistry/whiteout_dir.tar", OVERLAY_FMT_DOCKER_ARCHIVE, 4, OVERLAY_COMP_GZIP},
		{"go-containerregistry/whiteout_image.tar", OVERLAY_FMT_DOCKER_ARCHIVE, 3, OVERLAY_COMP_NONE},
		{"go-containerregistry/overwritten_file.tar", OVERLAY_FMT_DOCKER_ARCHIVE, 0, OVERLAY_COMP_NONE},
		{"go-containerregistry/hello-world-v25.tar", OVERLAY_FMT_DOCKER_ARCHIVE, 1, OVERLAY_COMP_NONE},
		{"go-containerregistry/test_image_1.tar", OVERLAY_FMT_DOCKER_ARCHIVE, 0, OVERLAY_COMP_NONE},
		{"go-containerregistry/test_load_manifest.tar", OVERLAY_FMT_DOCKER_ARCHIVE, 0, OVERLAY_COMP_NONE},
		{"go-containerregistry/source_image_with_empty_layer_history.tar", OVERLAY_FMT_DOCKER_ARCHIVE, 0,
		 OVERLAY_COMP_NONE},
		{"stereoscope/valid-oci.tar", OVERLAY_FMT_OCI_TAR, 0, OVERLAY_COMP_GZIP},
		{"regclient/layer-wh.tar", OVERLAY_FMT_ROOTFS, 1, OVERLAY_COMP_NONE},
	};
	for (size_t i = 0; i < sizeof(dive) / sizeof(dive[0]); i++) {
		cleanup_free char *path = xasprintf("%s/%s", outside, dive[i].name);
		cleanup_err struct strata_err *err = NULL;
		struct overlay_image *img = open_img(path, NULL, NULL, &err);
		if (!ok(img != NULL, "%s opens (%s)", dive[i].name, err ? err->msg : "ok"))
			continue;
		size_t n = overlay_image_layer_count(img);
		ok(overlay_image_format(img) == dive[i].fmt && (dive[i].layers == 0 ? n > 0 : n == dive[i].layers),
		   "%s: %s with %zu layers", dive[i].name, overlay_image_format_name(overlay_image_format(img)), n);
		ok(overlay_image_layer(img, 0)->compression == dive[i].comp && layers_readable(img),
		   "%s: layers readable, first is %s", dive[i].name,
		   overlay_compression_name(overlay_image_layer(img, 0)->compression));
		if (dive[i].fmt == OVERLAY_FMT_OCI_TAR && strstr(dive[i].name, "dive/"))
			ok(overlay_image_platform(img) && strcmp(overlay_image_platform(img), "linux/arm64") == 0,
			   "%s: the one linux/arm64 image is taken on any host", dive[i].name);
		if (strstr(dive[i].name, "hello-world-v25")) {
			const char *d = overlay_image_digest(img), *c = overlay_image_config_digest(img);
			ok(d && c && strcmp(d, c) != 0 && overlay_image_layer(img, 0)->digest &&
				   strcmp(overlay_image_layer(img, 0)->digest,
					  "sha256:12660636fe55438cc3ae7424da7ac56e845cdb52493ff9cf949c47a7f57f8b43") == 0,
			   "hello-world-v25: image digest is the OCI manifest's (%s), layer digest from blobs/", d);
		}
		overlay_image_free(img);
	}

	/* Two images in one docker archive: a choice is needed. */
	cleanup_free char *bundle = xasprintf("%s/go-containerregistry/test_bundle.tar", outside);
	{
		cleanup_err struct strata_err *err = NULL;
		struct overlay_image *img = open_img(bundle, NULL, NULL, &err);
		ok(!img && err && err->code == STRATA_EAMBIGUOUS && strstr(err->msg, "test_image_2") &&
			   strstr(err->msg, "--ref"),
		   "test_bundle.tar without --ref: %s", err ? err->msg : "opened");
		overlay_image_free(img);
		strata_err_free(err);
		err = NULL;
		img = open_img(bundle, "test_image_2", NULL, &err);
		ok(img && strcmp(overlay_image_ref(img), "test_image_2") == 0 && overlay_image_layer_count(img) == 1,
		   "test_bundle.tar --ref test_image_2 opens (%s)", err ? err->msg : "ok");
		overlay_image_free(img);
	}
	static const char *const broken[] = {"go-containerregistry/no_manifest.tar", "go-containerregistry/null_manifest.tar"};
	for (size_t i = 0; i < 2; i++) {
		cleanup_free char *path = xasprintf("%s/%s", outside, broken[i]);
		cleanup_err struct strata_err *err = NULL;
		struct overlay_image *img = open_img(path, NULL, NULL, &err);
		ok(!img && err && !strchr(err->msg, '\n') && strncmp(err->msg, path, strlen(path)) == 0,
		   "%s: one-line error (%s)", broken[i], err ? err->msg : "opened");
		overlay_image_free(img);
	}
}

/* regclient/testrepo: many refs, multi-platform indexes, referrers. */
static void test_regclient(void)
{
	cleanup_free char *repo_dir = xasprintf("%s/regclient/testrepo", outside);
	struct stat st;
	if (stat(repo_dir, &st) < 0) {
		skip("regclient/testrepo absent");
		return;
	}
	/* Several images: no choice given → a clear error or the host's platform. */
	{
		cleanup_err struct strata_err *err = NULL;
		struct overlay_image *img = open_img(repo_dir, NULL, NULL, &err);
		ok(!img && err && err->code == STRATA_EAMBIGUOUS && strstr(err->msg, "v1") && strstr(err->msg, "b1") &&
			   !strstr(err->msg, "a1 ("),
		   "testrepo without --ref: EAMBIGUOUS listing refs (%.200s…)", err ? err->msg : "opened");
		overlay_image_free(img);
	}
	/* regclient's own tests list these refs; v1 is a multi-platform index. */
	static const char *const refs[] = {"v1", "v1", "b1", "b1"};
	static const char *const plats[] = {"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6"};
	for (size_t i = 0; i < 4; i++) {
		cleanup_err struct strata_err *err = NULL;
		struct overlay_image *img = open_img(repo_dir, refs[i], plats[i], &err);
		ok(img && overlay_image_platform(img) && strncmp(overlay_image_platform(img), plats[i], strlen(plats[i])) == 0 &&
			   strcmp(overlay_image_ref(img), refs[i]) == 0 && overlay_image_layer_count(img) > 0 && layers_readable(img),
		   "testrepo --ref %s --platform %s → %s (%s)", refs[i], plats[i], img ? overlay_image_platform(img) : "-",
		   err ? err->msg : "ok");
		for (size_t k = 0; img && k < overlay_image_layer_count(img); k++)
			if (!strstr(overlay_image_layer(img, k)->media_type, "layer") &&
			    !strstr(overlay_image_layer(img, k)->media_type, "rootfs"))
				ok(0, "layer %zu has a layer media type", k);
		overlay_image_free(img);
	}
	{
		cleanup_err struct strata_err *err = NULL;
		struct overlay_image *img = open_img(repo_dir, "v1", NULL, &err);
		ok(img && overlay_image_platform(img), "testrepo --ref v1 without --platform: the host's (%s)",
		   img ? overlay_image_platform(img) : err->msg);
		overlay_image_free(img);
	}
	{
		cleanup_err struct strata_err *err = NULL;
		struct overlay_image *img = open_img(repo_dir, "v1", "linux/mips64", &err);
		ok(!img && err && err->code == STRATA_ENOTFOUND && strstr(err->msg, "linux/amd64"),
		   "testrepo --platform linux/mips64: ENOTFOUND listing platforms (%.160s…)", err ? err->msg : "opened");
		overlay_image_free(img);
	}
	{
		cleanup_err struct strata_err *err = NULL;
		/* a-docker: an image config "{}" over a layer of media type vnd.example.build-type+json */
		struct overlay_image *img = open_img(repo_dir, "a-docker", NULL, &err);
		ok(!img && err && err->code == STRATA_EUNSUPPORTED && strstr(err->msg, "unknown media type"),
		   "testrepo --ref a-docker: EUNSUPPORTED (%s)", err ? err->msg : "opened");
		overlay_image_free(img);
	}
	/* a1, a2 are an SBOM and a signature (artifactType), a-docker-oci has a subject: not images. */
	static const char *const artifacts[] = {"a1", "a2", "a3", "a-docker-oci", "loop"};
	for (size_t i = 0; i < sizeof(artifacts) / sizeof(artifacts[0]); i++) {
		cleanup_err struct strata_err *err = NULL;
		struct overlay_image *img = open_img(repo_dir, artifacts[i], NULL, &err);
		ok(!img && err && !strchr(err->msg, '\n'), "testrepo --ref %s: not an image (%s)", artifacts[i],
		   err ? err->msg : "opened");
		overlay_image_free(img);
	}
	{
		cleanup_err struct strata_err *err = NULL;
		struct overlay_image *img = open_img(repo_dir, "no-such-tag", NULL, &err);
		ok(!img && err && err->code == STRATA_ENOTFOUND && strstr(err->msg, "v1"),
		   "testrepo --ref no-such-tag: ENOTFOUND listing refs");
		overlay_image_free(img);
	}
	/* Referrer indexes (refs "sha256-<hex>") hold only signatures/SBOMs: never an image. */
	cleanup_free char *idx = xasprintf("%s/index.json", repo_dir);
	FILE *f = fopen(idx, "r");
	char buf[1 << 16];
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	size_t referrers = 0, opened = 0;
	static const char key[] = "\"org.opencontainers.image.ref.name\":\"";
	for (char *p = buf; (p = strstr(p, key)); p++) {
		char ref[128];
		if (sscanf(p + strlen(key), "%127[^\"]", ref) != 1 || strncmp(ref, "sha256-", 7) != 0 ||
		    strlen(ref) != 71)
			continue;
		cleanup_err struct strata_err *err = NULL;
		struct overlay_image *img = open_img(repo_dir, ref, NULL, &err);
		referrers++;
		opened += img != NULL;
		overlay_image_free(img);
	}
	ok(referrers > 0 && opened == 0, "%zu referrer refs: none yields an image", referrers);
}

int main(void)
{
	/* The repository: three or four levels above the binary (build[/asan]/tests/test_x). */
	ssize_t n = readlink("/proc/self/exe", repo, sizeof(repo) - 1);
	if (n < 0)
		return 1;
	repo[n] = '\0';
	for (int up = 0; up < 5; up++) {
		char *s = strrchr(repo, '/');
		if (!s)
			break;
		*s = '\0';
		cleanup_free char *probe = xasprintf("%s/tests/unit/overlay_image_fixtures.sh", repo);
		if (access(probe, R_OK) == 0)
			break;
	}
	snprintf(outside, sizeof(outside), "%s/../shared/fixtures/outside", repo);
	snprintf(tmp, sizeof(tmp), "%s/strata-img-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmp))
		return 1;
	test_own_images();
	test_outside();
	test_regclient();
	cleanup_free char *rm = xasprintf("rm -rf '%s'", tmp);
	if (system(rm) != 0)
		return 1;
	return tap_done();
}
