/* tests/unit/test_stream_ahead.c — a stream decoded ahead on its own thread
 * (overlay_stream_read_ahead) gives the same bytes, digests and access points as one decoded in
 * the reader's thread, for blobs made by the real gzip, zstd and pzstd, read in odd-sized pieces;
 * a truncated blob gives the same error; a stream abandoned half-read is freed cleanly. */
#include "../../overlay/overlay.h"
#include "overlay_test.h"
#include "tap.h"

#include <string.h>

static char dir[64];

struct result {
	int rc;
	unsigned char csha[32], usha[32], bytes[32];
	uint64_t usize;
	size_t npts;
	uint64_t pts_sum;
	char err[256];
};

/* Streams path (compression comp) in pieces of 1..70000 bytes; ahead: with read-ahead; stop_at:
 * abandons the stream after that many bytes (0: reads to the end and finishes). */
static void run(const char *path, enum overlay_compression comp, bool ahead, uint64_t stop_at, struct result *r)
{
	memset(r, 0, sizeof(*r));
	cleanup_err struct strata_err *err = NULL;
	struct overlay_source *src = overlay_source_file_open(path, &err);
	struct overlay_stream_opts o = {.span = (uint64_t)1 << 20};
	struct overlay_stream *st = src ? overlay_stream_open(src, comp, &o, &err) : NULL;
	r->rc = -1;
	if (st && (!ahead || overlay_stream_read_ahead(st, &err) == 0)) {
		unsigned char *buf = xmalloc(70000);
		unsigned char h[32] = {0};
		uint64_t total = 0, seed = 7;
		r->rc = 0;
		for (;;) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			size_t want = 1 + (size_t)(seed >> 33) % 70000;
			ssize_t got = overlay_stream_read(st, buf, want, &err);
			if (got < 0) {
				r->rc = -1;
				break;
			}
			if (got == 0)
				break;
			for (ssize_t i = 0; i < got; i++) /* a cheap position-dependent checksum */
				h[(total + (uint64_t)i) % 32] = (unsigned char)(h[(total + (uint64_t)i) % 32] * 31 + buf[i]);
			total += (uint64_t)got;
			if (stop_at && total >= stop_at)
				break;
		}
		free(buf);
		memcpy(r->bytes, h, 32);
		if (r->rc == 0 && !stop_at && overlay_stream_finish(st, &err) == 0) {
			overlay_stream_digests(st, r->csha, r->usha);
			r->usize = overlay_stream_usize(st);
			struct overlay_seekmap *m = overlay_stream_take_seekmap(st);
			if (m) {
				r->npts = m->n;
				for (size_t i = 0; i < m->n; i++)
					r->pts_sum += m->pts[i].uoff * 3 + m->pts[i].coff + (uint64_t)m->pts[i].bits;
			}
			overlay_seekmap_free(m);
		} else if (!stop_at) {
			r->rc = -1;
		}
	}
	if (err)
		snprintf(r->err, sizeof(r->err), "%s", err->msg);
	overlay_stream_free(st);
	overlay_source_unref(src);
}

static void compare(const char *label, const char *path, enum overlay_compression comp)
{
	struct result a, b;
	run(path, comp, false, 0, &a);
	run(path, comp, true, 0, &b);
	ok(a.rc == 0 && b.rc == 0 && !memcmp(a.bytes, b.bytes, 32) && a.usize == b.usize && a.usize > 0,
	   "%s: the same %llu bytes with read-ahead", label, (unsigned long long)b.usize);
	ok(!memcmp(a.csha, b.csha, 32) && !memcmp(a.usha, b.usha, 32), "%s: the same digests", label);
	ok(a.npts == b.npts && a.pts_sum == b.pts_sum, "%s: the same %zu access points", label, b.npts);
	run(path, comp, true, 3000000, &b);
	ok(b.rc == 0, "%s: a stream abandoned half-read is freed (its thread stopped)", label);
}

int main(void)
{
	if (test_sh("command -v zstd >/dev/null && command -v pzstd >/dev/null && command -v gzip >/dev/null") != 0) {
		printf("1..0 # SKIP no zstd/pzstd/gzip\n");
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/strata-ahead.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	if (test_sh("cd %s && { head -c 6000000 /dev/urandom; seq 1 1500000; head -c 3000000 /dev/urandom; } >data &&"
		    " gzip -kn data && zstd -q data -o data.zst && pzstd -q -p 2 data -o data.pz.zst", dir) != 0)
		abort();
	cleanup_free char *raw = xasprintf("%s/data", dir), *gz = xasprintf("%s/data.gz", dir);
	cleanup_free char *zs = xasprintf("%s/data.zst", dir), *pz = xasprintf("%s/data.pz.zst", dir);
	compare("raw", raw, OVERLAY_COMP_NONE);
	compare("gzip", gz, OVERLAY_COMP_GZIP);
	compare("zstd", zs, OVERLAY_COMP_ZSTD);
	compare("pzstd", pz, OVERLAY_COMP_ZSTD);

	/* A truncated blob: the same error, with or without read-ahead. */
	cleanup_free char *cut = xasprintf("%s/cut.zst", dir);
	test_sh("head -c 5000000 %s >%s", zs, cut);
	struct result a, b;
	run(cut, OVERLAY_COMP_ZSTD, false, 0, &a);
	run(cut, OVERLAY_COMP_ZSTD, true, 0, &b);
	ok(a.rc < 0 && b.rc < 0 && !strcmp(a.err, b.err) && strstr(b.err, "truncated"),
	   "truncated zstd: the same error with read-ahead (%s)", b.err);
	test_sh("rm -rf %s", dir);
	return tap_done();
}
