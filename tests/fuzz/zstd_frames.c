/* tests/fuzz/zstd_frames.c — libFuzzer target for the zstd frame table (overlay/stream_zstd.c
 * parses frame headers and records a frame start per data frame; overlay/source_decomp.c resumes
 * at them). Two passes on each input:
 *  1. the input itself as a layer blob: streamed once through overlay_stream as zstd with a small
 *     span (any bytes must decode or fail cleanly; a huge window must be refused). When the stream
 *     decodes, the decomp source built from its frame table is read at pseudo-random offsets and
 *     lengths and must equal the bytes the sequential pass produced.
 *  2. the input as a payload: compressed by libzstd into frames of a size picked by the first
 *     byte, with a skippable frame in between when the first byte says so, streamed and read back
 *     the same way: every range read must equal the payload, one access point per data frame. */
#include "../../overlay/overlay.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zstd.h>

static void fail(const char *what)
{
	fprintf(stderr, "zstd_frames fuzz: %s\n", what);
	abort();
}

static char *to_memfd(const void *d, size_t n, int *fd)
{
	*fd = memfd_create("zst", MFD_CLOEXEC);
	if (*fd < 0 || write(*fd, d, n) != (ssize_t)n)
		fail("memfd");
	return xasprintf("/proc/self/fd/%d", *fd);
}

/* Streams path as zstd; on success returns the output (owned, *olen bytes) and the seekmap. */
static unsigned char *stream_all(const char *path, uint64_t span, struct overlay_source **src,
				 struct overlay_seekmap **map, size_t *olen, struct strata_err **err)
{
	*map = NULL;
	*src = overlay_source_file_open(path, err);
	if (!*src)
		return NULL;
	struct overlay_stream_opts o = {.span = span, .max_ratio = 200};
	struct overlay_stream *st = overlay_stream_open(*src, OVERLAY_COMP_ZSTD, &o, err);
	if (!st)
		return NULL;
	size_t cap = 4096, n = 0;
	unsigned char *out = xmalloc(cap);
	ssize_t r;
	for (;;) {
		if (cap - n < 4096) {
			cap *= 2;
			out = xrealloc(out, cap);
		}
		r = overlay_stream_read(st, out + n, cap - n, err);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (r < 0 || overlay_stream_finish(st, err) < 0) {
		overlay_stream_free(st);
		free(out);
		return NULL;
	}
	if (overlay_stream_usize(st) != n)
		fail("usize differs from the bytes read");
	*map = overlay_stream_take_seekmap(st);
	overlay_stream_free(st);
	*olen = n;
	return out;
}

/* Reads dec at 24 pseudo-random ranges; each must equal want[off..]. */
static void check_ranges(struct overlay_source *dec, const unsigned char *want, size_t wn, uint32_t seed)
{
	struct strata_err *err = NULL;
	unsigned char *buf = xmalloc(wn + 1);
	for (int k = 0; k < 24; k++) {
		seed = seed * 1103515245u + 12345u;
		uint64_t off = seed % (wn + 1);
		seed = seed * 1103515245u + 12345u;
		size_t len = 1 + seed % (wn + 1);
		ssize_t r = overlay_source_pread(dec, buf, len, off, &err);
		size_t exp = off >= wn ? 0 : (wn - off < len ? wn - off : len);
		if (r < 0)
			fail(err ? err->msg : "pread");
		if ((size_t)r != exp || memcmp(buf, want + off, exp) != 0)
			fail("pread through the frame table differs from the sequential output");
	}
	free(buf);
}

/* Pass 2: payload p[0..pn) into frames of fsize bytes (a skippable frame after the first). */
static unsigned char *frame_payload(const uint8_t *p, size_t pn, size_t fsize, bool skippable, size_t *clen,
				    size_t *nframes)
{
	size_t cap = ZSTD_compressBound(pn) + (pn / fsize + 2) * 32 + 64, n = 0;
	unsigned char *c = xmalloc(cap);
	*nframes = 0;
	for (size_t a = 0; a < pn || a == 0; a += fsize) {
		size_t len = pn - a < fsize ? pn - a : fsize;
		static ZSTD_CCtx *cctx; /* one context for the process: a new one per frame is slow */
		if (!cctx && !(cctx = ZSTD_createCCtx()))
			fail("ZSTD_createCCtx");
		size_t r = ZSTD_compressCCtx(cctx, c + n, cap - n, p + a, len, 1);
		if (ZSTD_isError(r))
			fail("ZSTD_compressCCtx");
		n += r;
		(*nframes)++;
		if (skippable && a == 0) {
			static const unsigned char skip[12] = {0x5A, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 's', 't', 'r', 'a'};
			memcpy(c + n, skip, sizeof(skip));
			n += sizeof(skip);
		}
		if (pn == 0)
			break;
	}
	*clen = n;
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	uint32_t seed = 2166136261u;
	for (size_t i = 0; i < n && i < 64; i++)
		seed = (seed ^ d[i]) * 16777619u;

	/* 1. The raw input as a zstd layer blob. */
	int fd;
	char *path = to_memfd(d, n, &fd);
	struct strata_err *err = NULL;
	struct overlay_source *src = NULL;
	struct overlay_seekmap *map = NULL;
	size_t olen = 0;
	unsigned char *out = stream_all(path, 256, &src, &map, &olen, &err);
	if (out) {
		if (!map || map->n == 0 || map->pts[0].uoff != 0 || map->usize != olen)
			fail("seekmap of a decoded stream");
		for (size_t i = 1; i < map->n; i++)
			if (map->pts[i].uoff < map->pts[i - 1].uoff || map->pts[i].coff <= map->pts[i - 1].coff ||
			    map->pts[i].coff >= n)
				fail("frame table not increasing or outside the blob");
		struct overlay_source *dec = overlay_source_decomp_new(src, map, &err);
		if (!dec)
			fail(err ? err->msg : "decomp_new");
		check_ranges(dec, out, olen, seed);
		overlay_source_unref(dec);
		free(out);
	} else if (!err) {
		fail("stream failed without an error");
	}
	overlay_source_unref(src);
	strata_err_free(err);
	err = NULL;
	close(fd);
	free(path);
	if (n < 1)
		return 0;

	/* 2. The input as a payload, framed by libzstd. */
	size_t fsize = (size_t)64 << (d[0] & 7), clen, nframes;
	unsigned char *c = frame_payload(d + 1, n - 1, fsize, d[0] & 8, &clen, &nframes);
	path = to_memfd(c, clen, &fd);
	free(c);
	out = stream_all(path, fsize, &src, &map, &olen, &err);
	if (!out)
		fail(err ? err->msg : "stream of libzstd's own frames failed");
	if (olen != n - 1 || memcmp(out, d + 1, olen) != 0)
		fail("sequential output differs from the payload");
	if (!map || map->n != nframes)
		fail("not one access point per data frame");
	struct overlay_source *dec = overlay_source_decomp_new(src, map, &err);
	if (!dec)
		fail(err ? err->msg : "decomp_new");
	check_ranges(dec, d + 1, n - 1, seed ^ 0x9e3779b9u);
	overlay_source_unref(dec);
	overlay_source_unref(src);
	free(out);
	close(fd);
	free(path);
	return 0;
}
