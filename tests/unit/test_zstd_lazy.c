/* tests/unit/test_zstd_lazy.c — the lazy zstd seekable copy (overlay_zstd_seekable_open) on a blob
 * made by the real `zstd` (one frame): eight threads asking at once get one build and the right
 * bytes at random offsets; the copy is an ordinary zstd file (`zstd -dc` gives the data back); a
 * truncated copy, a foreign file or a leftover temporary in the cache are never trusted; a blob
 * whose sha256 is not the recorded one gives an error (remembered, no copy left behind); a cache
 * that cannot be written falls back to reading the blob. */
#include "../../overlay/overlay.h"
#include "overlay_test.h"
#include "tap.h"

#include <dirent.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#define MiB ((size_t)1 << 20)
#define SPAN ((uint64_t)256 << 10)
#define NTHREADS 8

static char dir[64];
static unsigned char *data;
static size_t data_len;
static _Thread_local uint64_t rng_state = 0x2545F4914F6CDD1Dull; /* per thread: readers run at once */

static uint64_t rnd(void)
{
	return test_xorshift(&rng_state);
}

static void make_data(const char *path, size_t len)
{
	data = test_make_data(path, len, 50000, 200000, &rng_state);
	data_len = len;
}

/* The blob's own access points and sha256, as the index pass records them. */
static struct overlay_seekmap *blob_map(const char *blob, unsigned char sha[32])
{
	cleanup_err struct strata_err *err = NULL;
	struct overlay_source *src = overlay_source_file_open(blob, &err);
	struct overlay_stream_opts o = {.span = SPAN};
	struct overlay_stream *st = src ? overlay_stream_open(src, OVERLAY_COMP_ZSTD, &o, &err) : NULL;
	struct overlay_seekmap *m = NULL;
	if (st && overlay_stream_finish(st, &err) == 0) {
		overlay_stream_digests(st, sha, NULL);
		m = overlay_stream_take_seekmap(st);
	}
	overlay_stream_free(st);
	overlay_source_unref(src);
	return m;
}

/* 0 when n random preads (and the first and last bytes) of s match the data. */
static int check_reads(struct overlay_source *s, int n)
{
	unsigned char *buf = xmalloc(MiB);
	int bad = overlay_source_size(s) != data_len;
	for (int i = 0; i < n + 2 && !bad; i++) {
		uint64_t off = i == 0 ? 0 : i == 1 ? data_len - 1000 : rnd() % data_len;
		size_t len = 1 + rnd() % MiB;
		if (len > data_len - off)
			len = data_len - off;
		cleanup_err struct strata_err *err = NULL;
		ssize_t r = overlay_source_pread(s, buf, len, off, &err);
		bad = r != (ssize_t)len || memcmp(buf, data + off, len) != 0;
	}
	free(buf);
	return bad;
}

/* Files in dir whose name contains needle. */
static int count_files(const char *needle)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += strstr(de->d_name, needle) != NULL;
	if (d)
		closedir(d);
	return n;
}

struct reader {
	const char *blob, *copy;
	const unsigned char *sha;
	int bad;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	unsigned char sha[32];
	cleanup_err struct strata_err *err = NULL;
	struct overlay_seekmap *m = blob_map(r->blob, sha); /* each reader rebuilds its own stack */
	struct overlay_source *b = overlay_source_file_open(r->blob, &err);
	struct overlay_source *s = b && m ? overlay_zstd_seekable_open(b, m, r->copy, SPAN, r->sha, &err) : NULL;
	r->bad = !s || overlay_source_kind(overlay_source_base(s)) != OVERLAY_SRC_FILE ||
		 strcmp(overlay_source_path(overlay_source_base(s)), r->copy) != 0 || check_reads(s, 40);
	overlay_source_unref(s);
	overlay_source_unref(b);
	return NULL;
}

/* A source through the copy at copy (expected sha), or NULL with *err. */
static struct overlay_source *open_copy(const char *blob, const char *copy, const unsigned char *sha,
					struct strata_err **err)
{
	unsigned char got[32];
	struct overlay_seekmap *m = blob_map(blob, got);
	struct overlay_source *b = overlay_source_file_open(blob, err);
	struct overlay_source *s = b && m ? overlay_zstd_seekable_open(b, m, copy, SPAN, sha, err) : NULL;
	overlay_source_unref(b);
	return s;
}

static bool via_copy(const struct overlay_source *s, const char *copy)
{
	const struct overlay_source *b = overlay_source_base(s);
	return overlay_source_kind(b) == OVERLAY_SRC_FILE && !strcmp(overlay_source_path(b), copy);
}

int main(void)
{
	if (test_sh("command -v zstd >/dev/null") != 0) {
		printf("1..0 # SKIP no zstd\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/strata-zlazy.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	cleanup_free char *raw = xasprintf("%s/data", dir), *blob = xasprintf("%s/data.zst", dir);
	make_data(raw, 12 * MiB);
	ok(test_sh("zstd -q -3 %s -o %s", raw, blob) == 0, "zstd compressed the data (one frame)");
	unsigned char sha[32];
	struct overlay_seekmap *m = blob_map(blob, sha);
	ok(m && m->n == 1 && m->usize == data_len, "the blob is one frame of %zu bytes", data_len);
	overlay_seekmap_free(m);

	/* Eight first readers at once: one build, every one reads the right bytes. */
	cleanup_free char *copy = xasprintf("%s/copyA.zst", dir);
	unsigned long builds0 = overlay_zstd_seekable_builds();
	pthread_t th[NTHREADS];
	struct reader rd[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		rd[i] = (struct reader){.blob = blob, .copy = copy, .sha = sha};
		pthread_create(&th[i], NULL, reader_main, &rd[i]);
	}
	int bad = 0;
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		bad += rd[i].bad;
	}
	ok(bad == 0, "%d concurrent first readers read the right bytes through the copy (%d failed)", NTHREADS, bad);
	ok(overlay_zstd_seekable_builds() - builds0 == 1, "one build for %d concurrent readers (%lu)", NTHREADS,
	   overlay_zstd_seekable_builds() - builds0);
	ok(count_files(".tmp.") == 0 && count_files("copyA.zst") == 1, "one copy in the cache, no temporary left");
	ok(test_sh("zstd -dc %s | cmp -s - %s", copy, raw) == 0, "zstd -dc of the copy gives the data back");
	ok(test_sh("zstd -lv %s 2>/dev/null | grep -q 'Number of frames'", copy) == 0 ||
		   test_sh("zstd -l %s >/dev/null 2>&1", copy) == 0,
	   "zstd -l reads the copy");

	/* A truncated copy (as a crash could leave) is not trusted: rebuilt. */
	cleanup_free char *copy2 = xasprintf("%s/b.zst", dir);
	struct stat sb;
	stat(copy, &sb);
	test_sh("head -c %lld %s >%s", (long long)sb.st_size / 2, copy, copy2);
	unsigned long b1 = overlay_zstd_seekable_builds();
	cleanup_err struct strata_err *err = NULL;
	struct overlay_source *s = open_copy(blob, copy2, sha, &err);
	struct stat sb2 = {0};
	bool rebuilt = s && via_copy(s, copy2) && check_reads(s, 50) == 0 && overlay_zstd_seekable_builds() - b1 == 1;
	stat(copy2, &sb2);
	ok(rebuilt && sb2.st_size == sb.st_size,
	   "a truncated copy is rebuilt (%lld bytes again) and reads right", (long long)sb2.st_size);
	overlay_source_unref(s);

	/* A copy of other bytes with a plausible end (the original copy of another blob): rebuilt. */
	cleanup_free char *raw2 = xasprintf("%s/other", dir), *blob2 = xasprintf("%s/other.zst", dir);
	cleanup_free char *copy3 = xasprintf("%s/c.zst", dir);
	test_sh("head -c 3000000 /dev/urandom >%s && zstd -q %s -o %s", raw2, raw2, blob2);
	unsigned char sha2[32];
	struct overlay_seekmap *m2 = blob_map(blob2, sha2);
	struct overlay_source *b2 = overlay_source_file_open(blob2, &err);
	struct overlay_source *s2 = m2 && b2 ? overlay_zstd_seekable_open(b2, m2, copy3, SPAN, sha2, &err) : NULL;
	overlay_source_unref(s2);
	overlay_source_unref(b2);
	b1 = overlay_zstd_seekable_builds();
	cleanup_free char *copy4 = xasprintf("%s/d.zst", dir);
	test_sh("cp %s %s", copy3, copy4);
	s = open_copy(blob, copy4, sha, &err);
	ok(s && via_copy(s, copy4) && check_reads(s, 50) == 0 && overlay_zstd_seekable_builds() - b1 == 1,
	   "a complete copy of another blob (seek table for other sizes) is rebuilt");
	overlay_source_unref(s);

	/* A leftover temporary of a dead build beside the copy's name is never used. */
	cleanup_free char *copy5 = xasprintf("%s/e.zst", dir);
	test_sh("cp %s %s.tmp.999999.1.built && head -c 1000 %s >%s.tmp.999999.1", copy3, copy5, copy, copy5);
	b1 = overlay_zstd_seekable_builds();
	s = open_copy(blob, copy5, sha, &err);
	ok(s && via_copy(s, copy5) && check_reads(s, 50) == 0 && overlay_zstd_seekable_builds() - b1 == 1,
	   "leftover temporaries are ignored: the copy is built and reads right");
	overlay_source_unref(s);

	/* The blob is not what the index recorded: an error, remembered; no copy, no temporary. */
	unsigned char wrong[32];
	memcpy(wrong, sha, 32);
	wrong[7] ^= 1;
	cleanup_free char *copy6 = xasprintf("%s/copyF.zst", dir);
	strata_err_free(steal_pointer(&err));
	b1 = overlay_zstd_seekable_builds();
	s = open_copy(blob, copy6, wrong, &err);
	ok(!s && err && err->code == STRATA_EDIGEST && strstr(err->msg, "sha256"),
	   "a blob with another sha256: error (%s)", err ? err->msg : "none");
	ok(access(copy6, F_OK) != 0 && count_files("copyF.zst") == 0, "no copy and no temporary left for it");
	strata_err_free(steal_pointer(&err));
	s = open_copy(blob, copy6, wrong, &err);
	ok(!s && err && err->code == STRATA_EDIGEST && overlay_zstd_seekable_builds() - b1 == 1,
	   "the failure is remembered: a second reader gets it without a second build");
	strata_err_free(steal_pointer(&err));

	/* A cache that cannot be written: the blob itself is read (right bytes, slowly). */
	cleanup_free char *copy7 = xasprintf("%s/missing-dir/g.zst", dir);
	s = open_copy(blob, copy7, sha, &err);
	ok(s && !via_copy(s, copy7) && check_reads(s, 10) == 0, "unwritable cache: reads go to the blob and are right");
	overlay_source_unref(s);

	test_sh("rm -rf %s", dir);
	free(data);
	return tap_done();
}
