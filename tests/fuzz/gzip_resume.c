/* tests/fuzz/gzip_resume.c — libFuzzer target for gzip access-point resume (overlay/stream.c records
 * the points, overlay/source_decomp.c resumes at them). The input's first byte picks the access
 * point spacing and a deflate level; the rest is the payload. The payload is gzipped by zlib in
 * one or two members (full flushes in between make many block boundaries), streamed once through
 * overlay_stream with a small span, and the decomp source built from the seekmap is then read at
 * pseudo-random offsets and lengths: every read must equal the payload bytes. Then the raw input
 * itself is streamed as if it were gzip: any bytes must fail cleanly or decode. */
#include "../../overlay/overlay.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zlib.h>

static void fail(const char *what)
{
	fprintf(stderr, "gzip_resume fuzz: %s\n", what);
	abort();
}

/* gzip of d[0..n) into a new memfd (two members when split < n). Returns the fd's /proc path. */
static char *gzip_to_memfd(const uint8_t *d, size_t n, size_t split, int level, int *fd)
{
	*fd = memfd_create("gz", MFD_CLOEXEC);
	if (*fd < 0)
		fail("memfd_create");
	size_t cap = n + n / 8 + 4096, out = 0;
	unsigned char *buf = xmalloc(cap);
	for (int member = 0; member < 2; member++) {
		size_t a = member ? split : 0, b = member ? n : split < n ? split : n;
		if (member && a >= n)
			break;
		z_stream zs = {0};
		if (deflateInit2(&zs, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			fail("deflateInit2");
		zs.next_in = (unsigned char *)(uintptr_t)(d + a);
		zs.avail_in = 0;
		size_t pos = a;
		int flush;
		do {
			size_t chunk = b - pos < 700 ? b - pos : 700;
			zs.next_in = (unsigned char *)(uintptr_t)(d + pos);
			zs.avail_in = (unsigned)chunk;
			pos += chunk;
			flush = pos >= b ? Z_FINISH : (pos / 700) % 3 == 0 ? Z_FULL_FLUSH : Z_NO_FLUSH;
			int rc;
			do {
				if (cap - out < 1024) {
					cap *= 2;
					buf = xrealloc(buf, cap);
				}
				zs.next_out = buf + out;
				zs.avail_out = (unsigned)(cap - out);
				rc = deflate(&zs, flush);
				out = cap - zs.avail_out;
			} while (zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
		} while (flush != Z_FINISH);
		deflateEnd(&zs);
	}
	if (write(*fd, buf, out) != (ssize_t)out)
		fail("write");
	free(buf);
	return xasprintf("/proc/self/fd/%d", *fd);
}

static struct overlay_stream *stream_all(const char *path, uint64_t span, struct overlay_source **src,
					 struct strata_err **err)
{
	*src = overlay_source_file_open(path, err);
	if (!*src)
		return NULL;
	struct overlay_stream_opts o = {.span = span};
	struct overlay_stream *st = overlay_stream_open(*src, OVERLAY_COMP_GZIP, &o, err);
	if (!st)
		return NULL;
	unsigned char buf[8192];
	ssize_t r;
	while ((r = overlay_stream_read(st, buf, sizeof(buf), err)) > 0)
		;
	if (r < 0 || overlay_stream_finish(st, err) < 0) {
		overlay_stream_free(st);
		return NULL;
	}
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 1)
		return 0;
	uint64_t span = 64u << (d[0] & 7);
	int level = 1 + (d[0] >> 3) % 9;
	const uint8_t *p = d + 1;
	size_t pn = n - 1;
	int fd = -1;
	char *path = gzip_to_memfd(p, pn, pn / 2 + (d[0] & 1 ? 0 : pn), level, &fd);
	struct strata_err *err = NULL;
	struct overlay_source *src = NULL;
	struct overlay_stream *st = stream_all(path, span, &src, &err);
	if (!st)
		fail(err ? err->msg : "stream of zlib's own gzip failed");
	if (overlay_stream_usize(st) != pn)
		fail("usize");
	struct overlay_seekmap *map = overlay_stream_take_seekmap(st);
	overlay_stream_free(st);
	if (!map || map->n == 0 || map->pts[0].uoff != 0)
		fail("seekmap");
	struct overlay_source *dec = overlay_source_decomp_new(src, map, &err);
	if (!dec)
		fail(err ? err->msg : "decomp_new");
	uint32_t seed = 2166136261u;
	for (size_t i = 0; i < n && i < 64; i++)
		seed = (seed ^ d[i]) * 16777619u;
	unsigned char *buf = xmalloc(pn + 1);
	for (int k = 0; k < 24; k++) {
		seed = seed * 1103515245u + 12345u;
		uint64_t off = pn ? seed % (pn + 1) : 0;
		seed = seed * 1103515245u + 12345u;
		size_t len = 1 + seed % (pn + 1);
		ssize_t r = overlay_source_pread(dec, buf, len, off, &err);
		size_t want = off >= pn ? 0 : (pn - off < len ? pn - off : len);
		if (r < 0)
			fail(err ? err->msg : "pread");
		if ((size_t)r != want || memcmp(buf, p + off, want) != 0)
			fail("pread through the access points differs from the payload");
	}
	free(buf);
	overlay_source_unref(dec);
	overlay_source_unref(src);
	close(fd);
	free(path);

	/* The raw input as a gzip stream: errors are fine, crashes and leaks are not. */
	fd = memfd_create("raw", MFD_CLOEXEC);
	if (fd < 0 || write(fd, d, n) != (ssize_t)n)
		fail("memfd");
	path = xasprintf("/proc/self/fd/%d", fd);
	strata_err_free(err);
	err = NULL;
	st = stream_all(path, 4096, &src, &err);
	overlay_stream_free(st);
	overlay_source_unref(src);
	strata_err_free(err);
	close(fd);
	free(path);
	return 0;
}
