/* tests/unit/test_stream_lend.c — a stream decoded ahead lends its decoded chunks in place
 * (overlay_stream_ahead_borrow, what the tar walker hands libarchive): lent bytes are the real
 * file's bytes at that offset and stay so while the decoding thread runs on (the test waits for it
 * to fill the whole ring before checking them again), mixed borrows and copying reads give every
 * byte once with the diff_id of sha256sum, a truncated blob gives overlay_stream_read's error, and
 * a tar walked with read-ahead (lent chunks, data read or skipped) gives the same entries, offsets
 * and file bytes as one walked without it, for blobs made by the real tar, zstd and gzip. File
 * data hashed through overlay_stream_hash_along (the index pass's way: the file's digest and the
 * diff_id in one pass over lent bytes) gives the same file hashes and diff_id as OpenSSL. */
#include "../../overlay/overlay_int.h"
#include "overlay_test.h"
#include "tap.h"

#include <time.h>

static char dir[64];

static void pause_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

/* sha256sum's hex digest of path. */
static void sha256sum_of(const char *path, char hex[65])
{
	cleanup_free char *cmd = xasprintf("sha256sum %s", path);
	FILE *p = popen(cmd, "r");
	if (!p || fscanf(p, "%64s", hex) != 1)
		abort();
	pclose(p);
}

/* Borrows (and now and then reads) the whole of blob (compression comp) with read-ahead, checking
 * each lent piece against data[] right away and again after the decoder had time to fill the ring.
 * Returns 0 when all matched; *err_msg gets the stream's error. */
static int lend_all(const char *blob, enum overlay_compression comp, const unsigned char *data, size_t len,
		    char usha_hex[65], char csha_hex[65], uint64_t *total, char *err_msg, size_t err_cap)
{
	cleanup_err struct strata_err *err = NULL;
	struct overlay_source *src = overlay_source_file_open(blob, &err);
	struct overlay_stream_opts o = {.span = (uint64_t)1 << 20};
	struct overlay_stream *st = src ? overlay_stream_open(src, comp, &o, &err) : NULL;
	int rc = -1, mismatch = 0;
	*total = 0;
	unsigned char *copy = xmalloc(1 << 20);
	if (st && overlay_stream_read_ahead(st, &err) == 0) {
		uint64_t seed = 99;
		for (size_t call = 0;; call++) {
			uint64_t r = test_xorshift(&seed);
			if (call % 5 == 4) { /* a copying read between borrows */
				ssize_t n = overlay_stream_read(st, copy, 1 + (size_t)(r % 100000), &err);
				if (n < 0)
					break;
				if (n == 0) {
					rc = 0;
					break;
				}
				if (*total + (uint64_t)n > len || memcmp(copy, data + *total, (size_t)n))
					mismatch++;
				*total += (uint64_t)n;
				continue;
			}
			const unsigned char *p = NULL;
			size_t max = call % 3 == 0 ? (size_t)SSIZE_MAX : 1 + (size_t)(r % 300000);
			ssize_t n = overlay_stream_ahead_borrow(st, &p, max, &err);
			if (n < 0)
				break;
			if (n == 0) {
				rc = 0;
				break;
			}
			if ((size_t)n > max || *total + (uint64_t)n > len || memcmp(p, data + *total, (size_t)n))
				mismatch++;
			if (call % 7 == 0) {
				/* Time for the decoder to fill every free chunk: lent bytes must not move. */
				pause_ms(30);
				if (memcmp(p, data + *total, (size_t)n))
					mismatch++;
			}
			*total += (uint64_t)n;
		}
		if (rc == 0 && overlay_stream_finish(st, &err) == 0) {
			unsigned char usha[32], csha[32];
			overlay_stream_digests(st, csha, usha);
			strata_hex(usha, 32, usha_hex);
			strata_hex(csha, 32, csha_hex);
		} else {
			rc = -1;
		}
	}
	free(copy);
	if (err)
		snprintf(err_msg, err_cap, "%s", err->msg);
	overlay_stream_free(st);
	overlay_source_unref(src);
	return mismatch ? -2 : rc;
}

/* ---- tar walks ------------------------------------------------------------------------- */

struct walk_log {
	char *text; /* "path offset size sha\n" per entry */
	size_t len;
	EVP_MD_CTX *md;
	bool in_data;
	struct overlay_stream *along; /* not NULL: data hashed with overlay_stream_hash_along into fsha */
	struct overlay_sha256 fsha;
};

static void log_add(struct walk_log *l, const char *s)
{
	size_t n = strlen(s);
	l->text = xrealloc(l->text, l->len + n + 1);
	memcpy(l->text + l->len, s, n + 1);
	l->len += n;
}

static int log_entry(void *ctx, const struct overlay_tar_entry *e, struct strata_err **err)
{
	(void)err;
	struct walk_log *l = ctx;
	cleanup_free char *s = xasprintf("%s %llu %llu", e->path, (unsigned long long)e->data_offset,
					 (unsigned long long)e->size);
	log_add(l, s);
	if (l->along)
		overlay_sha256_init(&l->fsha);
	else
		EVP_DigestInit_ex(l->md, EVP_sha256(), NULL);
	return 0;
}

static int log_data(void *ctx, const void *buf, size_t len, struct strata_err **err)
{
	(void)err;
	struct walk_log *l = ctx;
	if (l->along)
		overlay_stream_hash_along(l->along, &l->fsha, buf, len);
	else
		EVP_DigestUpdate(l->md, buf, len);
	return 0;
}

static int log_end(void *ctx, struct strata_err **err)
{
	(void)err;
	struct walk_log *l = ctx;
	unsigned char h[32];
	char hex[65];
	if (l->along)
		overlay_sha256_final(&l->fsha, h);
	else
		EVP_DigestFinal_ex(l->md, h, NULL);
	strata_hex(h, 32, hex);
	log_add(l, " ");
	log_add(l, hex);
	log_add(l, "\n");
	return 0;
}

/* The log of walking blob (comp) with or without read-ahead, with the data read (with_data 1;
 * 2: hashed along with the diff_id) or skipped (0); NULL on failure. Also returns the diff_id. */
static char *walk(const char *blob, enum overlay_compression comp, bool ahead, int with_data,
		  char usha_hex[65])
{
	cleanup_err struct strata_err *err = NULL;
	struct overlay_source *src = overlay_source_file_open(blob, &err);
	struct overlay_stream_opts o = {.span = (uint64_t)1 << 20};
	struct overlay_stream *st = src ? overlay_stream_open(src, comp, &o, &err) : NULL;
	struct walk_log l = {.md = EVP_MD_CTX_new(), .along = with_data == 2 ? st : NULL};
	struct overlay_tar_callbacks cb = {.entry = log_entry, .data = with_data ? log_data : NULL,
					   .entry_end = log_end};
	char *out = NULL;
	if (st && (!ahead || overlay_stream_read_ahead(st, &err) == 0) && overlay_tar_walk(st, &cb, &l, &err) == 0 &&
	    overlay_stream_finish(st, &err) == 0) {
		unsigned char usha[32];
		overlay_stream_digests(st, NULL, usha);
		strata_hex(usha, 32, usha_hex);
		out = steal_pointer(&l.text);
	}
	if (err)
		printf("# walk %s: %s\n", blob, err->msg);
	free(l.text);
	EVP_MD_CTX_free(l.md);
	overlay_sha256_dispose(&l.fsha);
	overlay_stream_free(st);
	overlay_source_unref(src);
	return out;
}

int main(void)
{
	if (test_sh("command -v zstd >/dev/null && command -v gzip >/dev/null && command -v tar >/dev/null &&"
		    " command -v sha256sum >/dev/null") != 0) {
		printf("1..0 # SKIP no zstd/gzip/tar/sha256sum\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/strata-lend.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	/* 12 MB: three times the ring (16 chunks of 256 KiB), so chunks are refilled while lent ones
	 * are held. */
	uint64_t seed = 0x5eed;
	cleanup_free char *raw = test_path_in(dir, "data");
	size_t len = 12u << 20;
	cleanup_free unsigned char *data = test_make_data(raw, len, 3000, 200000, &seed);
	if (test_sh("cd %s && zstd -q data -o data.zst && gzip -kn data && head -c 3000000 data.zst >cut.zst", dir))
		abort();
	char want[65];
	sha256sum_of(raw, want);

	const char *forms[] = {"data.zst", "data.gz", "data"};
	enum overlay_compression comps[] = {OVERLAY_COMP_ZSTD, OVERLAY_COMP_GZIP, OVERLAY_COMP_NONE};
	for (size_t i = 0; i < 3; i++) {
		cleanup_free char *blob = test_path_in(dir, forms[i]);
		char usha[65] = "", csha[65] = "", msg[256] = "", blob_want[65];
		uint64_t total = 0;
		int rc = lend_all(blob, comps[i], data, len, usha, csha, &total, msg, sizeof(msg));
		ok(rc == 0 && total == len, "%s: borrowed and read bytes are the file's, in place while the decoder runs"
		   " (%llu of %zu bytes) %s", forms[i], (unsigned long long)total, len, msg);
		ok(!strcmp(usha, want), "%s: diff_id over lent and read bytes is sha256sum's", forms[i]);
		sha256sum_of(blob, blob_want);
		ok(!strcmp(csha, blob_want), "%s: the blob's digest is sha256sum's of the blob", forms[i]);
	}

	/* A truncated blob: the error overlay_stream_read gives, after every byte decoded before it. */
	{
		cleanup_free char *cut = test_path_in(dir, "cut.zst");
		char usha[65] = "", csha[65] = "", msg[256] = "", msg2[256] = "";
		uint64_t total = 0;
		int rc = lend_all(cut, OVERLAY_COMP_ZSTD, data, len, usha, csha, &total, msg, sizeof(msg));
		cleanup_err struct strata_err *err = NULL;
		struct overlay_source *src = overlay_source_file_open(cut, &err);
		struct overlay_stream *st = overlay_stream_open(src, OVERLAY_COMP_ZSTD, NULL, &err);
		unsigned char *buf = xmalloc(1 << 16);
		uint64_t total2 = 0;
		ssize_t n;
		while ((n = overlay_stream_read(st, buf, 1 << 16, &err)) > 0)
			total2 += (uint64_t)n;
		free(buf);
		if (err)
			snprintf(msg2, sizeof(msg2), "%s", err->msg);
		overlay_stream_free(st);
		overlay_source_unref(src);
		ok(rc == -1 && total == total2 && total > 0 && !strcmp(msg, msg2) && strstr(msg, "truncated"),
		   "truncated zstd: %llu good bytes lent, then the same error (%s)", (unsigned long long)total, msg);
	}

	/* Tar walks: lent chunks to libarchive give what copies give, data read or skipped. */
	if (test_sh("cd %s && mkdir -p t/d && cp data t/big && head -c 1000000 data >t/d/mid &&"
		    " for i in $(seq 1 300); do head -c $((i * 37)) data >t/d/s$i; done && ln -s big t/link &&"
		    " tar --format=gnu -cf l.tar -C t . && zstd -q l.tar -o l.tar.zst && gzip -kn l.tar", dir))
		abort();
	cleanup_free char *tar_path = test_path_in(dir, "l.tar");
	char tar_sha[65];
	sha256sum_of(tar_path, tar_sha);
	const char *tars[] = {"l.tar.zst", "l.tar.gz", "l.tar"};
	enum overlay_compression tcomps[] = {OVERLAY_COMP_ZSTD, OVERLAY_COMP_GZIP, OVERLAY_COMP_NONE};
	for (size_t i = 0; i < 3; i++) {
		cleanup_free char *blob = test_path_in(dir, tars[i]);
		for (int with_data = 2; with_data >= 0; with_data--) {
			char u1[65] = "", u2[65] = "";
			cleanup_free char *a = walk(blob, tcomps[i], false, with_data != 0, u1);
			cleanup_free char *b = walk(blob, tcomps[i], true, with_data, u2);
			size_t lines = 0;
			for (const char *p = b; p && *p; p++)
				lines += *p == '\n';
			ok(a && b && !strcmp(a, b) && lines == 305 && !strcmp(u1, tar_sha) &&
			       !strcmp(u2, tar_sha),
			   "%s: walked with lent chunks (data %s): the same %zu entries, offsets and file "
			   "hashes,"
			   " diff_id sha256sum's",
			   tars[i],
			   with_data == 2 ? "hashed along with the diff_id"
			   : with_data	  ? "read"
					  : "skipped",
			   lines);
		}
	}
	/* Spot check of the lent file bytes against the files themselves. */
	{
		cleanup_free char *blob = test_path_in(dir, "l.tar.zst");
		char u[65];
		cleanup_free char *b = walk(blob, OVERLAY_COMP_ZSTD, true, true, u);
		char hb[65], hm[65];
		cleanup_free char *big = test_path_in(dir, "t/big"), *mid = test_path_in(dir, "t/d/mid");
		sha256sum_of(big, hb);
		sha256sum_of(mid, hm);
		ok(b && strstr(b, hb) && strstr(b, hm), "lent file bytes hash as sha256sum of the files");
	}
	test_sh("rm -rf %s", dir);
	return tap_done();
}
