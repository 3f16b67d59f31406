/* tests/fuzz/image_json.c — libFuzzer target for image identification and manifest/index parsing
 * (overlay/image.c, image_oci.c, image_docker.c, json.c). The first input byte picks the form:
 * even → the rest is index.json of an OCI layout directory; odd → the rest is manifest.json of a
 * docker archive (a tar written here, with members <config hex>.json and <layer hex>/layer.tar). Both carry valid blobs the JSON can name: an empty-tar layer
 * (1024 zero bytes), a config naming it and an OCI manifest of both (digests in
 * tests/fuzz/corpus/image_json/README). Any bytes must give an image or an error, never a crash,
 * a leak or an out-of-bounds read; an opened image's layers all have a blob. */
#include "../../overlay/overlay.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], oci[96], tarpath[96], ocidx[128];
static char config[512], manifest[1024], cfgname[80], layername[80];
static unsigned char zeros[1024];

static void hex_sha256(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	if (!EVP_Digest(p, n, md, NULL, EVP_sha256(), NULL))
		abort();
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void put(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, p, n) != (ssize_t)n || close(fd) != 0)
		abort();
}

static void put_blob(const void *p, size_t n, char hex[65])
{
	char path[256];
	hex_sha256(p, n, hex);
	snprintf(path, sizeof path, "%s/blobs/sha256/%s", oci, hex);
	put(path, p, n);
}

static void cleanup(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "image_json: could not remove %s\n", dir);
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "%s/strata-fuzz-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	snprintf(oci, sizeof oci, "%s/oci", dir);
	snprintf(tarpath, sizeof tarpath, "%s/docker.tar", dir);
	snprintf(ocidx, sizeof ocidx, "%s/index.json", oci);
	char p[160], l[65], c[65], m[65];
	mkdir(oci, 0755);
	snprintf(p, sizeof p, "%s/blobs", oci), mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/blobs/sha256", oci), mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/oci-layout", oci);
	put(p, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	put_blob(zeros, sizeof zeros, l);
	snprintf(config, sizeof config,
		 "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\"]}}", l);
	put_blob(config, strlen(config), c);
	snprintf(cfgname, sizeof cfgname, "%s.json", c);
	snprintf(layername, sizeof layername, "%s/layer.tar", l);
	snprintf(manifest, sizeof manifest,
		 "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
		 "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
		 "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:%s\",\"size\":1024}]}",
		 c, strlen(config), l);
	put_blob(manifest, strlen(manifest), m);
}

/* Appends one ustar member to f. */
static void tar_member(FILE *f, const char *name, const void *p, size_t n)
{
	unsigned char h[512] = {0};
	snprintf((char *)h, 100, "%s", name);
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	snprintf((char *)h + 124, 12, "%011zo", n);
	memcpy(h + 136, "00000000000", 12);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	fwrite(h, 1, 512, f);
	fwrite(p, 1, n, f);
	fwrite(zeros, 1, (512 - n % 512) % 512, f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0])
		setup();
	if (size == 0)
		return 0;
	const char *path;
	if ((data[0] & 1) == 0) {
		put(ocidx, data + 1, size - 1);
		path = oci;
	} else {
		FILE *f = fopen(tarpath, "wb");
		if (!f)
			abort();
		tar_member(f, "manifest.json", data + 1, size - 1);
		tar_member(f, cfgname, config, strlen(config));
		tar_member(f, layername, zeros, sizeof zeros);
		fwrite(zeros, 1, sizeof zeros, f);
		if (fclose(f) != 0)
			abort();
		path = tarpath;
	}
	struct strata_err *err = NULL;
	struct overlay_image *img = overlay_image_open(path, NULL, &err);
	if (!img && !err)
		abort(); /* a failure always says why */
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "image_json: %s\n", img ? overlay_image_format_name(overlay_image_format(img)) : err->msg);
	if (img) {
		for (size_t i = 0; i < overlay_image_layer_count(img); i++)
			if (!overlay_image_layer(img, i)->blob)
				abort();
		overlay_image_free(img);
	}
	strata_err_free(err);
	return 0;
}
