/* tests/unit/test_overlay_source.c — byte sources and streams against the real gzip, zstd, pzstd
 * and sha256sum: one-pass streams (sizes, digests, access points), random access through the
 * seekmaps (500 random preads per format, 8 threads at once), a gzip inside a range inside a
 * gzip, and hostile input (truncated, corrupt, empty, trailing garbage, a bomb, a huge window). */
#include "../../overlay/overlay.h"
#include "overlay_test.h"
#include "tap.h"

#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#define MiB ((uint64_t)1 << 20)

static char dir[64];
static unsigned char *data; /* the original uncompressed file */
static size_t data_len;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	return test_xorshift(&rng_state);
}

static char *path_in(const char *name)
{
	return test_path_in(dir, name);
}

static void make_data(const char *path, size_t len)
{
	data = test_make_data(path, len, 100000, 400000, &rng_state);
	data_len = len;
}

static void sha256sum_of(const char *path, char hex[65])
{
	char *cmd = xasprintf("sha256sum '%s'", path);
	FILE *p = popen(cmd, "r");
	free(cmd);
	hex[0] = 0;
	if (p) {
		if (fscanf(p, "%64s", hex) != 1)
			hex[0] = 0;
		pclose(p);
	}
}

struct run {
	struct overlay_seekmap *map;
	bool used_copy;
	uint64_t usize, csize, progress;
	char csha[65], usha[65];
	bool content_ok; /* the streamed bytes equal `data` */
	struct strata_err *err;
};

static int force_comp = -1; /* >= 0: stream as this compression instead of detecting it */

/* Streams src (compression detected by magic unless forced) with the given options into r. */
static int run_stream_src(struct overlay_source *src, const struct overlay_stream_opts *o,
			  const unsigned char *expect, size_t expect_len, struct run *r)
{
	memset(r, 0, sizeof(*r));
	unsigned char magic[4] = {0};
	ssize_t m = overlay_source_pread(src, magic, 4, 0, &r->err);
	enum overlay_compression comp = overlay_detect_compression(magic, m > 0 ? (size_t)m : 0);
	if (force_comp >= 0)
		comp = (enum overlay_compression)force_comp;
	struct overlay_stream *st = overlay_stream_open(src, comp, o, &r->err);
	if (!st)
		return -1;
	unsigned char *buf = xmalloc(300000);
	uint64_t pos = 0;
	r->content_ok = true;
	for (;;) {
		size_t want = 1 + rnd() % 300000;
		ssize_t n = overlay_stream_read(st, buf, want, &r->err);
		if (n <= 0) {
			if (n < 0)
				goto fail;
			break;
		}
		if (expect && (pos + (size_t)n > expect_len || memcmp(buf, expect + pos, (size_t)n) != 0))
			r->content_ok = false;
		pos += (uint64_t)n;
		if (pos > 4 * MiB && rnd() % 4 == 0)
			break; /* let finish read the rest */
	}
	if (overlay_stream_finish(st, &r->err) < 0)
		goto fail;
	unsigned char c[32], u[32];
	overlay_stream_digests(st, c, u);
	strata_hex(c, 32, r->csha);
	strata_hex(u, 32, r->usha);
	r->usize = overlay_stream_usize(st);
	r->csize = overlay_stream_csize(st);
	r->progress = overlay_stream_progress(st);
	r->used_copy = overlay_stream_used_seekable_copy(st);
	r->map = overlay_stream_take_seekmap(st);
	free(buf);
	overlay_stream_free(st);
	return 0;
fail:
	free(buf);
	overlay_stream_free(st);
	return -1;
}

static int run_stream(const char *path, const struct overlay_stream_opts *o, const unsigned char *expect,
		      size_t expect_len, struct run *r)
{
	memset(r, 0, sizeof(*r));
	struct overlay_source *src = overlay_source_file_open(path, &r->err);
	if (!src)
		return -1;
	int rc = run_stream_src(src, o, expect, expect_len, r);
	overlay_source_unref(src);
	return rc;
}

/* 500 random preads (some across span edges and past the end) compared with expect. */
static int check_preads(struct overlay_source *s, const unsigned char *expect, size_t len, int count)
{
	const struct overlay_seekmap *m = overlay_source_seekmap(s);
	unsigned char *buf = xmalloc(3 * MiB);
	int bad = 0;
	for (int i = 0; i < count; i++) {
		uint64_t off;
		size_t n = (size_t)(rnd() % (3 * MiB));
		switch (rnd() % 4) {
		case 0: /* across a span edge */
			off = m && m->n > 1 ? m->pts[1 + rnd() % (m->n - 1)].uoff : rnd() % len;
			off = off > 1000 ? off - rnd() % 1000 : 0;
			n = rnd() % 5000;
			break;
		case 1: /* near or past the end */
			off = len - 2000 + rnd() % 4000;
			break;
		default:
			off = rnd() % len;
			break;
		}
		struct strata_err *err = NULL;
		ssize_t r = overlay_source_pread(s, buf, n, off, &err);
		size_t want = off >= len ? 0 : (len - off < n ? len - off : n);
		if (r != (ssize_t)want || (want && memcmp(buf, expect + off, want) != 0)) {
			if (bad++ < 3)
				printf("# pread(%zu at %llu) = %zd, want %zu: %s\n", n, (unsigned long long)off, r,
				       want, err ? err->msg : "bytes differ");
		}
		strata_err_free(err);
	}
	free(buf);
	return bad;
}

struct thr {
	struct overlay_source *s;
	const unsigned char *expect;
	size_t len;
	int bad;
	uint64_t seed;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	unsigned char *buf = xmalloc(256 * 1024);
	for (int i = 0; i < 80; i++) {
		t->seed = t->seed * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t off = (t->seed >> 11) % t->len;
		size_t n = (size_t)((t->seed >> 3) % (256 * 1024));
		struct strata_err *err = NULL;
		ssize_t r = overlay_source_pread(t->s, buf, n, off, &err);
		size_t want = t->len - off < n ? t->len - off : n;
		if (r != (ssize_t)want || memcmp(buf, t->expect + off, want) != 0)
			t->bad++;
		strata_err_free(err);
	}
	free(buf);
	return NULL;
}

static int check_threads(struct overlay_source *s, const unsigned char *expect, size_t len)
{
	pthread_t th[8];
	struct thr t[8];
	for (int i = 0; i < 8; i++) {
		t[i] = (struct thr){s, expect, len, 0, (uint64_t)i * 7919 + 17};
		pthread_create(&th[i], NULL, thr_main, &t[i]);
	}
	int bad = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		bad += t[i].bad;
	}
	return bad;
}

/* Streams one compressed file and checks everything a user would. */
static void check_format(const char *label, const char *file, const char *copy_name, int expect_copy)
{
	char *path = path_in(file), *orig = path_in("data.bin");
	char *copy = copy_name ? path_in(copy_name) : NULL;
	char want_c[65], want_u[65];
	sha256sum_of(path, want_c);
	sha256sum_of(orig, want_u);
	struct overlay_stream_opts o = {.span = MiB, .seekable_copy_path = copy};
	struct run r;
	int rc = run_stream(path, &o, data, data_len, &r);
	ok(rc == 0, "%s: stream ok%s%s", label, r.err ? ": " : "", r.err ? r.err->msg : "");
	if (rc < 0) {
		strata_err_free(r.err);
		free(path), free(orig), free(copy);
		return;
	}
	struct stat sb;
	stat(path, &sb);
	ok(r.usize == data_len && r.content_ok, "%s: usize %llu and streamed bytes match the original", label,
	   (unsigned long long)r.usize);
	ok(r.csize == (uint64_t)sb.st_size && r.progress == r.csize, "%s: csize and progress = file size", label);
	ok(strcmp(r.csha, want_c) == 0, "%s: compressed sha256 matches sha256sum", label);
	ok(strcmp(r.usha, want_u) == 0, "%s: uncompressed sha256 matches sha256sum", label);
	ok(r.map && r.map->n >= 1 && r.map->pts[0].uoff == 0 && r.map->usize == data_len,
	   "%s: seekmap with %zu access points", label, r.map ? r.map->n : 0);
	if (expect_copy >= 0)
		ok(r.used_copy == (expect_copy == 1), "%s: seekable copy %s", label, r.used_copy ? "used" : "not used");
	if (!r.map) {
		free(path), free(orig), free(copy);
		return;
	}
	struct strata_err *err = NULL;
	struct overlay_source *base = overlay_source_file_open(r.used_copy ? copy : path, &err);
	struct overlay_source *d = overlay_source_decomp_new(base, r.map, &err);
	overlay_source_unref(base);
	ok(d != NULL, "%s: decomp source%s%s", label, err ? ": " : "", err ? err->msg : "");
	if (d) {
		ok(overlay_source_size(d) == data_len && overlay_source_kind(d) == OVERLAY_SRC_DECOMP &&
			   overlay_source_kind(overlay_source_base(d)) == OVERLAY_SRC_FILE,
		   "%s: size and introspection", label);
		const struct overlay_seekmap *dm = overlay_source_seekmap(d);
		ok(dm && dm->n == r.map->n, "%s: seekmap introspection", label);
		ok(check_preads(d, data, data_len, 500) == 0, "%s: 500 random preads match the original", label);
		if (r.map->n > 4 && r.map->usize / r.map->n < 2 * MiB) /* force evictions while threads share spans */
			overlay_cache_set_budget(3 * MiB);
		ok(check_threads(d, data, data_len) == 0, "%s: 8 threads reading concurrently", label);
		overlay_cache_set_budget(64 * MiB);
		overlay_source_unref(d);
	}
	strata_err_free(err);
	free(path), free(orig), free(copy);
}

/* Expects streaming file to fail with code; the message must contain needle. */
static void check_bad(const char *label, const char *file, int code, const char *needle, uint64_t max_ratio)
{
	char *path = path_in(file);
	struct overlay_stream_opts o = {.span = MiB, .max_ratio = max_ratio};
	struct run r;
	int rc = run_stream(path, &o, NULL, 0, &r);
	ok(rc < 0 && r.err && r.err->code == code && strstr(r.err->msg, needle),
	   "%s: fails with code %d (%s)", label, r.err ? r.err->code : 0, r.err ? r.err->msg : "no error");
	strata_err_free(r.err);
	overlay_seekmap_free(r.map);
	free(path);
}

static void check_ok_file(const char *label, const char *file)
{
	char *path = path_in(file);
	struct overlay_stream_opts o = {.span = MiB};
	struct run r;
	int rc = run_stream(path, &o, NULL, 0, &r);
	ok(rc == 0 && r.usize == data_len, "%s: accepted%s%s", label, r.err ? ": " : "", r.err ? r.err->msg : "");
	strata_err_free(r.err);
	overlay_seekmap_free(r.map);
	free(path);
}

/* file → decomp(gzip) → range → decomp(gzip): a gzip blob inside a gzipped archive. */
static void check_nested(void)
{
	const size_t ilen = 3 * MiB, head = MiB;
	const unsigned char *inner = data + 5 * MiB;
	char *ipath = path_in("inner.bin"), *igz = path_in("inner.gz");
	FILE *f = fopen(ipath, "wb");
	fwrite(inner, 1, ilen, f);
	fclose(f);
	test_sh("gzip -6 -c '%s' > '%s'", ipath, igz);
	struct stat sb;
	stat(igz, &sb);
	size_t gzlen = (size_t)sb.st_size;
	/* outer.bin = 1 MiB of data, the gzip blob, 2 MiB of data */
	size_t olen = head + gzlen + 2 * MiB;
	unsigned char *outer = xmalloc(olen);
	memcpy(outer, data, head);
	f = fopen(igz, "rb");
	size_t got = fread(outer + head, 1, gzlen, f);
	fclose(f);
	memcpy(outer + head + gzlen, data + 10 * MiB, 2 * MiB);
	char *opath = path_in("outer.bin"), *ogz = path_in("outer.gz");
	f = fopen(opath, "wb");
	fwrite(outer, 1, olen, f);
	fclose(f);
	test_sh("gzip -6 -c '%s' > '%s'", opath, ogz);

	struct overlay_stream_opts o = {.span = MiB};
	struct run r1, r2;
	int rc = got == gzlen ? run_stream(ogz, &o, outer, olen, &r1) : -1;
	ok(rc == 0 && r1.content_ok && r1.usize == olen, "nested: outer gzip streams");
	if (rc == 0) {
		struct strata_err *err = NULL;
		struct overlay_source *file = overlay_source_file_open(ogz, &err);
		struct overlay_source *d1 = overlay_source_decomp_new(file, r1.map, &err);
		struct overlay_source *range = d1 ? overlay_source_range_new(d1, head, gzlen) : NULL;
		uint64_t roff = 0, rlen = 0;
		if (range)
			overlay_source_range(range, &roff, &rlen);
		ok(range && roff == head && rlen == gzlen && overlay_source_kind(range) == OVERLAY_SRC_RANGE,
		   "nested: range over the decompressed outer stream");
		rc = range ? run_stream_src(range, &o, inner, ilen, &r2) : -1;
		ok(rc == 0 && r2.content_ok && r2.usize == ilen && r2.map, "nested: inner gzip streams through the range%s%s",
		   rc < 0 && r2.err ? ": " : "", rc < 0 && r2.err ? r2.err->msg : "");
		struct overlay_source *d2 = rc == 0 ? overlay_source_decomp_new(range, r2.map, &err) : NULL;
		if (rc < 0)
			strata_err_free(r2.err);
		ok(d2 && check_preads(d2, inner, ilen, 300) == 0, "nested: random preads file→decomp→range→decomp");
		ok(d2 && check_threads(d2, inner, ilen) == 0, "nested: 8 threads on the nested source");
		overlay_source_unref(d2);
		overlay_source_unref(range);
		overlay_source_unref(d1);
		overlay_source_unref(file);
		strata_err_free(err);
	}
	free(outer);
	free(ipath), free(igz), free(opath), free(ogz);
}

struct seq_thr {
	struct overlay_source *s;
	uint64_t start;
	int bad;
};

static void *seq_thr_main(void *arg)
{
	struct seq_thr *t = arg;
	unsigned char *buf = xmalloc(512 * 1024);
	for (uint64_t off = t->start; off < t->start + 4 * MiB && off < data_len; off += 512 * 1024) {
		struct strata_err *err = NULL;
		ssize_t r = overlay_source_pread(t->s, buf, 512 * 1024, off, &err);
		size_t want = data_len - off < 512 * 1024 ? data_len - off : 512 * 1024;
		if (r != (ssize_t)want || memcmp(buf, data + off, want) != 0)
			t->bad++;
		strata_err_free(err);
	}
	free(buf);
	return NULL;
}

/* A single 20 MB zstd frame with a cache budget too small to hold it: reads decode straight into
 * the caller's buffer; a sequential reader continues the source's cursor. */
static void check_uncached(void)
{
	char *path = path_in("data.zst");
	struct run r;
	int rc = run_stream(path, NULL, data, data_len, &r);
	ok(rc == 0 && r.map && r.map->n == 1, "uncached: single zstd frame, one access point");
	if (rc < 0) {
		strata_err_free(r.err);
		free(path);
		return;
	}
	overlay_cache_set_budget(1 * MiB);
	struct strata_err *err = NULL;
	struct overlay_source *f = overlay_source_file_open(path, &err);
	struct overlay_source *d = overlay_source_decomp_new(f, r.map, &err);
	overlay_source_unref(f);
	unsigned char *buf = xmalloc(256 * 1024);
	int bad = 0;
	for (uint64_t off = 0; d && off < data_len + 1000; off += 256 * 1024) {
		ssize_t n = overlay_source_pread(d, buf, 256 * 1024, off, &err);
		size_t want = off >= data_len ? 0 : (data_len - off < 256 * 1024 ? data_len - off : 256 * 1024);
		if (n != (ssize_t)want || memcmp(buf, data + off, want) != 0)
			bad++;
	}
	free(buf);
	ok(d && bad == 0 && !err, "uncached: sequential 256 KiB reads through the cursor match");
	ok(d && check_preads(d, data, data_len, 20) == 0, "uncached: random preads (backwards restarts)");
	pthread_t th[8];
	struct seq_thr t[8];
	for (int i = 0; d && i < 8; i++) {
		t[i] = (struct seq_thr){d, (uint64_t)i * 2 * MiB + 12345, 0};
		pthread_create(&th[i], NULL, seq_thr_main, &t[i]);
	}
	bad = 0;
	for (int i = 0; d && i < 8; i++) {
		pthread_join(th[i], NULL);
		bad += t[i].bad;
	}
	ok(d && bad == 0, "uncached: 8 threads reading sequentially at once");
	overlay_cache_set_budget(64 * MiB);
	overlay_source_unref(d);
	strata_err_free(err);
	free(path);
}

static void check_raw(void)
{
	char *path = path_in("data.bin");
	char want[65];
	sha256sum_of(path, want);
	struct run r;
	int rc = run_stream(path, NULL, data, data_len, &r);
	ok(rc == 0 && r.content_ok && r.usize == data_len && !r.map && strcmp(r.csha, want) == 0 &&
		   strcmp(r.usha, want) == 0,
	   "raw: passes through, both digests = sha256sum, no seekmap");
	struct strata_err *err = NULL;
	struct overlay_source *f = overlay_source_file_open(path, &err);
	ok(f && overlay_source_kind(f) == OVERLAY_SRC_FILE && strcmp(overlay_source_path(f), path) == 0 &&
		   check_preads(f, data, data_len, 200) == 0,
	   "file source: introspection and preads");
	overlay_source_unref(f);
	struct overlay_source *missing = overlay_source_file_open("/nonexistent/strata", &err);
	ok(!missing && err && err->code == STRATA_ENOTFOUND, "file source: missing file → ENOTFOUND");
	strata_err_free(err);
	free(path);
}

static void make_bad_inputs(void)
{
	test_sh("cd '%s' && head -c $(( $(stat -c %%s data.gz) / 2 )) data.gz > trunc.gz", dir);
	test_sh("cd '%s' && cp data.gz corrupt.gz && printf 'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX' | "
	   "dd of=corrupt.gz bs=1 seek=5000000 conv=notrunc status=none", dir);
	test_sh("cd '%s' && cp data.zst corrupt.zst && printf 'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX' | "
	   "dd of=corrupt.zst bs=1 seek=5000000 conv=notrunc status=none", dir);
	test_sh("cd '%s' && head -c $(( $(stat -c %%s data.zst) - 100 )) data.zst > trunc.zst", dir);
	test_sh("cd '%s' && : > empty", dir);
	test_sh("cd '%s' && cat data.gz > garbage.gz && printf 'garbage after the gzip' >> garbage.gz", dir);
	test_sh("cd '%s' && cat data.zst > garbage.zst && printf 'garbage after the zstd' >> garbage.zst", dir);
	test_sh("cd '%s' && cat data.gz > padded.gz && head -c 4096 /dev/zero >> padded.gz", dir);
	test_sh("cd '%s' && head -c 200000000 /dev/zero | gzip -1 > bomb.gz", dir);
	test_sh("cd '%s' && head -c 3000000 data.bin | zstd -q --long=30 -c > bigwin.zst", dir);
}

int main(void)
{
	if (system("gzip --version >/dev/null 2>&1 && zstd --version >/dev/null 2>&1 && "
		   "pzstd --version >/dev/null 2>&1 && sha256sum --version >/dev/null 2>&1") != 0) {
		printf("1..0 # SKIP gzip, zstd, pzstd or sha256sum missing\n");
		return 77;
	}
	strcpy(dir, "/tmp/strata-test-source-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	char *orig = path_in("data.bin");
	make_data(orig, 20 * MiB + 12345);
	test_sh("cd '%s' && gzip -6 -c data.bin > data.gz", dir);
	test_sh("cd '%s' && zstd -q -3 -c data.bin > data.zst", dir);
	test_sh("cd '%s' && pzstd -q -p 4 -c data.bin > data.pzst", dir);
	test_sh("cd '%s' && head -c 7000000 data.bin | gzip -6 > multi.gz && tail -c +7000001 data.bin | head -c 1 "
	   "| gzip -1 >> multi.gz && tail -c +7000002 data.bin | gzip -9 >> multi.gz && : | gzip >> multi.gz",
	   dir);
	test_sh("cd '%s' && head -c 100 data.bin > d1 && tail -c +101 data.bin > d2 && "
	   "(zstd -q -c d1; printf '\\120\\052\\115\\030\\004\\000\\000\\000skip'; zstd -q -c d2) > skippable.zst",
	   dir);

	unsigned char gzm[2] = {0x1f, 0x8b}, zm[4] = {0x28, 0xb5, 0x2f, 0xfd};
	ok(overlay_detect_compression(gzm, 2) == OVERLAY_COMP_GZIP &&
		   overlay_detect_compression(zm, 4) == OVERLAY_COMP_ZSTD &&
		   overlay_detect_compression(zm, 3) == OVERLAY_COMP_NONE &&
		   strcmp(overlay_compression_name(OVERLAY_COMP_ZSTD), "zstd") == 0,
	   "compression detected by magic");

	check_raw();
	check_format("gzip -6", "data.gz", NULL, -1);
	check_format("gzip members", "multi.gz", NULL, -1);
	check_format("zstd single frame, seekable copy", "data.zst", "data.zst.seekable", 1);
	check_format("zstd single frame, no copy", "data.zst", NULL, 0);
	check_format("pzstd -p 4", "data.pzst", NULL, 0);
	check_format("zstd with a skippable frame", "skippable.zst", NULL, 0);
	check_nested();
	check_uncached();

	make_bad_inputs();
	force_comp = OVERLAY_COMP_GZIP;
	check_bad("truncated gzip", "trunc.gz", STRATA_EFORMAT, "truncated at offset", 0);
	check_bad("corrupt gzip", "corrupt.gz", STRATA_EFORMAT, "offset", 0);
	check_bad("empty gzip", "empty", STRATA_EFORMAT, "gzip", 0);
	check_bad("gzip + trailing garbage", "garbage.gz", STRATA_EFORMAT, "trailing garbage", 0);
	check_ok_file("gzip + zero padding", "padded.gz");
	check_bad("gzip bomb, max_ratio 100", "bomb.gz", STRATA_ELIMIT, "ratio", 100);
	force_comp = OVERLAY_COMP_ZSTD;
	check_bad("corrupt zstd", "corrupt.zst", STRATA_EFORMAT, "offset", 0);
	check_bad("truncated zstd", "trunc.zst", STRATA_EFORMAT, "truncated", 0);
	check_bad("empty zstd", "empty", STRATA_EFORMAT, "zstd", 0);
	check_bad("zstd + trailing garbage", "garbage.zst", STRATA_EFORMAT, "trailing garbage", 0);
	check_bad("zstd --long=30 window", "bigwin.zst", STRATA_ELIMIT, "window too large", 0);
	force_comp = -1;

	test_sh("rm -rf '%s'", dir);
	free(orig);
	free(data);
	return tap_done();
}
