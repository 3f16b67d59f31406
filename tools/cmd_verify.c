/* tools/cmd_verify.c — `strata verify IMAGE`: recomputes the sha256 of every layer blob (as stored)
 * and of its uncompressed tar, and compares them with what the index recorded when it was built.
 * Exit 0 when everything matches, 1 when a blob differs (each one named on stdout), 2 on error.
 * The index is the one at --index PATH or the image's default cache path; when none exists yet it
 * is built first (the comparison is then with what was read a moment ago). */
#include "tools.h"

#include <getopt.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

/* sha256 of every byte of a source, hex into out. */
static int verify_source_sha(struct overlay_source *s, char out[72], struct strata_err **err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		abort();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	cleanup_free unsigned char *buf = xmalloc(1 << 20);
	uint64_t off = 0;
	for (;;) {
		ssize_t n = overlay_source_pread(s, buf, 1 << 20, off, err);
		if (n < 0) {
			EVP_MD_CTX_free(md);
			return -1;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(md, buf, (size_t)n);
		off += (uint64_t)n;
	}
	unsigned char h[32];
	EVP_DigestFinal_ex(md, h, NULL);
	EVP_MD_CTX_free(md);
	memcpy(out, "sha256:", 7);
	strata_hex(h, 32, out + 7);
	return 0;
}

/* sha256 of the uncompressed stream of blob. */
static int verify_tar_sha(struct overlay_source *blob, enum overlay_compression comp, char out[72], struct strata_err **err)
{
	struct overlay_stream_opts so = {0};
	struct overlay_stream *st = overlay_stream_open(blob, comp, &so, err);
	if (!st)
		return -1;
	if (overlay_stream_finish(st, err) < 0) {
		overlay_stream_free(st);
		return -1;
	}
	unsigned char csha[32], usha[32];
	overlay_stream_digests(st, csha, usha);
	overlay_stream_free(st);
	memcpy(out, "sha256:", 7);
	strata_hex(usha, 32, out + 7);
	return 0;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"index", required_argument, NULL, 'i'}, {"platform", required_argument, NULL, 'p'},
		{"ref", required_argument, NULL, 'r'},   {NULL, 0, NULL, 0},
	};
	const char *idx = NULL;
	struct overlay_select sel = {0};
	int c;
	while ((c = getopt_long(argc, argv, "i:", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': idx = optarg; break;
		case 'p': sel.platform = optarg; break;
		case 'r': sel.ref = optarg; break;
		default: fprintf(stderr, "usage: strata verify [--index PATH] [--platform P] [--ref R] IMAGE\n"); return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: strata verify [--index PATH] [--platform P] [--ref R] IMAGE\n");
		return 2;
	}
	const char *image = argv[optind];
	cleanup_err struct strata_err *err = NULL;
	cleanup_free char *defpath = idx ? NULL : index_default_path(image, &sel, NULL, &err);
	if (!idx && !defpath)
		return tools_print_err(err), 2;
	const char *ipath = idx ? idx : defpath;
	struct stat sb;
	if (stat(ipath, &sb) < 0) {
		struct index_db *db = tools_open_index(image, ipath, &sel, true, &err);
		if (!db)
			return tools_print_err(err), 2;
		index_db_close(db);
	}
	sqlite3 *q = NULL;
	if (sqlite3_open_v2(ipath, &q, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "strata: %s: %s\n", ipath, q ? sqlite3_errmsg(q) : "cannot open");
		sqlite3_close(q);
		return 2;
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(q, "SELECT position, digest, diff_id, blob_sha256, tar_sha256, location FROM layer"
				  " ORDER BY position", -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "strata: %s: not a strata index (%s)\n", ipath, sqlite3_errmsg(q));
		sqlite3_close(q);
		return 2;
	}
	struct overlay_image *img = overlay_image_open(image, &sel, &err);
	if (!img) {
		printf("MISMATCH image: %s\n", err && err->msg ? err->msg : "cannot be opened");
		sqlite3_finalize(st);
		sqlite3_close(q);
		return 1;
	}
	int bad = 0, n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int pos = sqlite3_column_int(st, 0);
		const char *named = (const char *)sqlite3_column_text(st, 1);
		const char *diff_id = (const char *)sqlite3_column_text(st, 2);
		const char *want_blob = (const char *)sqlite3_column_text(st, 3);
		const char *want_tar = (const char *)sqlite3_column_text(st, 4);
		const char *loc = (const char *)sqlite3_column_text(st, 5);
		char what[512];
		snprintf(what, sizeof(what), "layer %d blob %s (%s)", pos, named && named[0] ? named : diff_id ? diff_id : "?",
			 loc ? loc : "?");
		n++;
		if ((size_t)pos > overlay_image_layer_count(img)) {
			printf("MISMATCH %s: the image no longer has this layer\n", what);
			bad++;
			continue;
		}
		const struct overlay_layer_info *li = overlay_image_layer(img, (size_t)pos - 1);
		char got[72] = "", gottar[72] = "";
		cleanup_err struct strata_err *lerr = NULL;
		if (verify_source_sha(li->blob, got, &lerr) < 0) {
			printf("MISMATCH %s: cannot be read: %s\n", what, lerr->msg);
			bad++;
			continue;
		}
		const char *wb = want_blob ? want_blob : "";
		bool ok_blob = !strcmp(got, wb) || !strcmp(got + 7, wb);
		if (!ok_blob)
			printf("MISMATCH %s: expected %s, found %s\n", what, wb, got);
		bool ok_tar = true;
		if (ok_blob && li->compression != OVERLAY_COMP_NONE) {
			if (verify_tar_sha(li->blob, li->compression, gottar, &lerr) < 0) {
				printf("MISMATCH %s: decompression: %s\n", what, lerr->msg);
				ok_tar = false;
			} else if (want_tar && strcmp(gottar, want_tar) && strcmp(gottar + 7, want_tar)) {
				printf("MISMATCH %s: uncompressed tar expected %s, found %s\n", what, want_tar, gottar);
				ok_tar = false;
			}
		}
		if (ok_blob && ok_tar)
			printf("ok %s %s\n", what, got);
		else
			bad++;
	}
	sqlite3_finalize(st);
	sqlite3_close(q);
	overlay_image_free(img);
	printf("%s: %d of %d layer blobs match the index %s\n", image, n - bad, n, ipath);
	return bad ? 1 : 0;
}
