/* tests/unit/test_inflate_isal.c — the serving path's gzip decoder (ISA-L, overlay/inflate_isal.c)
 * against the real gzip and pigz: every span of real gzip streams (gzip -1/-6/-9, pigz with its
 * flush markers, pigz --independent, concatenated members with an empty one and file names, the
 * fixtures' 50 MB incompressible file, a real kaniko layer from the outside fixtures) decoded at
 * its access point and compared byte for byte with `gzip -dc`, with a canary after the exact-size
 * output buffer; then random preads through the decomp source. Corrupt input must give a clean
 * EFORMAT error: an invalid block header at an access point, a truncated file, a damaged
 * checkpoint window, a wrong CRC-32 in the trailer, a span that runs past its member's end (a
 * seekmap missing a member start), and random byte damage (error or bytes, never a crash). */
#include "../../overlay/overlay.h"
#include "../../overlay/overlay_int.h"
#include "overlay_test.h"
#include "tap.h"

#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define MiB ((uint64_t)1 << 20)
#define CANARY 64

static char dir[64];
static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
	return test_xorshift(&rng_state);
}

static char *path_in(const char *name)
{
	return test_path_in(dir, name);
}

/* The whole file dir/name (NULL when it cannot be read). */
static unsigned char *slurp(const char *name, size_t *len)
{
	char *p = path_in(name);
	FILE *f = fopen(p, "rb");
	free(p);
	if (!f)
		return NULL;
	struct stat sb;
	fstat(fileno(f), &sb);
	unsigned char *b = xmalloc((size_t)sb.st_size + 1);
	*len = fread(b, 1, (size_t)sb.st_size, f);
	fclose(f);
	return b;
}

static void spit(const char *name, const unsigned char *b, size_t len)
{
	char *p = path_in(name);
	FILE *f = fopen(p, "wb");
	fwrite(b, 1, len, f);
	fclose(f);
	free(p);
}

/* The seekmap of dir/name from one pass of the index's stream (span: point spacing). */
static struct overlay_seekmap *seekmap_of(const char *name, uint64_t span, uint64_t *usize)
{
	char *p = path_in(name);
	struct strata_err *err = NULL;
	struct overlay_source *src = overlay_source_file_open(p, &err);
	free(p);
	struct overlay_stream_opts o = {.span = span};
	struct overlay_stream *st = src ? overlay_stream_open(src, OVERLAY_COMP_GZIP, &o, &err) : NULL;
	struct overlay_seekmap *m = NULL;
	if (st && overlay_stream_finish(st, &err) == 0) {
		*usize = overlay_stream_usize(st);
		m = overlay_stream_take_seekmap(st);
	}
	if (err)
		printf("# stream %s: %s\n", name, err->msg);
	strata_err_free(err);
	overlay_stream_free(st);
	overlay_source_unref(src);
	return m;
}

/* A deep copy of m, without point `drop` (SIZE_MAX: keep all). */
static struct overlay_seekmap *seekmap_dup(const struct overlay_seekmap *m, size_t drop)
{
	struct overlay_seekmap *c = xcalloc(1, sizeof(*c));
	*c = *m;
	c->pts = xcalloc(m->n, sizeof(*c->pts));
	c->n = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (i == drop)
			continue;
		struct overlay_checkpoint p = m->pts[i];
		if (p.window_len) {
			p.window = xmalloc(p.window_len);
			memcpy(p.window, m->pts[i].window, p.window_len);
		}
		c->pts[c->n++] = p;
	}
	return c;
}

static uint64_t span_end(const struct overlay_seekmap *m, size_t i)
{
	return i + 1 < m->n ? m->pts[i + 1].uoff : m->usize;
}

/* Decodes span i of m straight through overlay_isal_* from the compressed bytes gz[0..gzlen), fed
 * in chunks of `chunk` bytes, into an exact-size buffer followed by a canary. 0 when the output
 * equals ref[uoff..end) and the canary is intact. */
static int isal_span_check(const struct overlay_seekmap *m, size_t i, const unsigned char *gz, size_t gzlen,
			   const unsigned char *ref, size_t chunk, char *why, size_t whylen)
{
	const struct overlay_checkpoint *pt = &m->pts[i];
	size_t len = (size_t)(span_end(m, i) - pt->uoff);
	unsigned char *out = xmalloc(len + CANARY);
	memset(out + len, 0xA5, CANARY);
	struct overlay_isal *z = overlay_isal_new();
	struct strata_err *err = NULL;
	int rc = overlay_isal_start(z, pt, pt->bits ? gz[pt->coff - 1] : 0, &err);
	size_t in = (size_t)pt->coff, done = 0;
	while (rc == 0 && done < len) {
		size_t n = gzlen - in < chunk ? gzlen - in : chunk, used = 0;
		bool ended = false;
		ssize_t got = overlay_isal_inflate(z, gz + in, n, &used, out + done, len - done, &ended, &err);
		if (got < 0 || (got == 0 && used == 0)) {
			rc = -1;
			break;
		}
		in += used;
		done += (size_t)got;
		if (ended && done < len)
			rc = -1;
	}
	if (rc == 0 && memcmp(out, ref + pt->uoff, len) != 0)
		rc = -2;
	for (size_t k = 0; rc == 0 && k < CANARY; k++)
		if (out[len + k] != 0xA5)
			rc = -3;
	if (rc)
		snprintf(why, whylen, "span %zu (uoff %llu, bits %d, %zu bytes): %s", i, (unsigned long long)pt->uoff,
			 pt->bits, len,
			 rc == -2 ? "bytes differ" : rc == -3 ? "wrote past the buffer" : err ? err->msg : "stalled");
	strata_err_free(err);
	overlay_isal_free(z);
	free(out);
	return rc;
}

/* The same span decoded by zlib the way the serving path did before ISA-L (and the index pass
 * still does): inflatePrime with the point's bits, the window as dictionary. 0 when out[0..len)
 * is full, -1 on an error or an early end. */
static int zlib_span(const struct overlay_seekmap *m, size_t i, const unsigned char *gz, size_t gzlen,
		     unsigned char *out, size_t len)
{
	const struct overlay_checkpoint *pt = &m->pts[i];
	unsigned char win[32768];
	z_stream zs = {0};
	uInt wlen = 0;
	if (pt->window_len) {
		if (inflateInit2(&zs, -15) != Z_OK)
			return -1;
		zs.next_in = pt->window;
		zs.avail_in = (uInt)pt->window_len;
		zs.next_out = win;
		zs.avail_out = sizeof(win);
		int r = inflate(&zs, Z_FINISH);
		wlen = (uInt)(sizeof(win) - zs.avail_out);
		inflateEnd(&zs);
		if (r != Z_STREAM_END)
			return -1;
	}
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, pt->window_len ? -15 : 31) != Z_OK)
		return -1;
	int rc = 0;
	if (pt->bits && inflatePrime(&zs, pt->bits, gz[pt->coff - 1] >> (8 - pt->bits)) != Z_OK)
		rc = -1;
	if (rc == 0 && wlen && inflateSetDictionary(&zs, win, wlen) != Z_OK)
		rc = -1;
	zs.next_in = (unsigned char *)(uintptr_t)(gz + pt->coff);
	zs.avail_in = (uInt)(gzlen - pt->coff);
	zs.next_out = out;
	zs.avail_out = (uInt)len;
	while (rc == 0 && zs.avail_out > 0) {
		int r = inflate(&zs, Z_NO_FLUSH);
		if (r == Z_STREAM_END && zs.avail_out > 0)
			rc = -1;
		else if (r != Z_OK && r != Z_STREAM_END)
			rc = -1;
	}
	inflateEnd(&zs);
	return rc;
}

/* A decomp source over dir/name with a copy of m. */
static struct overlay_source *source_with(const char *name, const struct overlay_seekmap *m, size_t drop)
{
	char *p = path_in(name);
	struct strata_err *err = NULL;
	struct overlay_source *f = overlay_source_file_open(p, &err);
	free(p);
	struct overlay_source *d = f ? overlay_source_decomp_new(f, seekmap_dup(m, drop), &err) : NULL;
	if (err)
		printf("# source %s: %s\n", name, err->msg);
	strata_err_free(err);
	overlay_source_unref(f);
	return d;
}

/* Random preads through s compared with ref. Returns how many differ. */
static int random_preads(struct overlay_source *s, const unsigned char *ref, size_t len, int count)
{
	unsigned char *buf = xmalloc(2 * MiB);
	int bad = 0;
	for (int k = 0; k < count; k++) {
		uint64_t off = rnd() % (len + 100);
		size_t n = (size_t)(k % 3 == 0 ? rnd() % (2 * MiB) : rnd() % 70000);
		struct strata_err *err = NULL;
		ssize_t r = overlay_source_pread(s, buf, n, off, &err);
		size_t want = off >= len ? 0 : (len - off < n ? len - off : n);
		if (r != (ssize_t)want || (want && memcmp(buf, ref + off, want) != 0)) {
			if (bad++ < 3)
				printf("# pread(%zu at %llu) = %zd, want %zu: %s\n", n, (unsigned long long)off, r, want,
				       err ? err->msg : "bytes differ");
		}
		strata_err_free(err);
	}
	free(buf);
	return bad;
}

/* One gzip file: every span through ISA-L vs `gzip -dc`, then random preads. */
static void check_file(const char *label, const char *name, uint64_t span)
{
	test_sh("cd '%s' && gzip -dc '%s' > ref.bin", dir, name);
	size_t reflen = 0, gzlen = 0;
	unsigned char *ref = slurp("ref.bin", &reflen), *gz = slurp(name, &gzlen);
	uint64_t usize = 0;
	struct overlay_seekmap *m = seekmap_of(name, span, &usize);
	if (!ok(m && ref && gz && usize == reflen && m->usize == reflen, "%s: indexed, %llu bytes like gzip -dc",
		label, (unsigned long long)usize))
		goto out;
	int bits = 0, members = 0, bad = 0, zbad = 0;
	char why[256] = "";
	for (size_t i = 0; i < m->n; i++) {
		bits += m->pts[i].bits != 0;
		members += m->pts[i].window_len == 0;
		size_t chunk = i % 3 == 0 ? gzlen : i % 3 == 1 ? 65536 : 777;
		if (isal_span_check(m, i, gz, gzlen, ref, chunk, why, sizeof(why)) != 0 && bad++ == 0)
			printf("# %s\n", why);
		size_t len = (size_t)(span_end(m, i) - m->pts[i].uoff);
		unsigned char *zout = xmalloc(len + 1);
		if (zlib_span(m, i, gz, gzlen, zout, len) != 0 || memcmp(zout, ref + m->pts[i].uoff, len) != 0)
			zbad++;
		free(zout);
	}
	ok(bad == 0, "%s: all %zu spans (%d at a bit offset, %d member starts) decoded by ISA-L equal gzip -dc",
	   label, m->n, bits, members);
	ok(zbad == 0, "%s: and zlib's decoding of each span too", label);
	struct overlay_source *s = source_with(name, m, SIZE_MAX);
	bad = s ? 0 : 1;
	size_t maxlen = 1;
	for (size_t i = 0; i < m->n; i++)
		if (span_end(m, i) - m->pts[i].uoff > maxlen)
			maxlen = (size_t)(span_end(m, i) - m->pts[i].uoff);
	unsigned char *buf = xmalloc(maxlen);
	for (size_t i = m->n; s && i-- > 0;) { /* backwards: every span decoded on its own */
		size_t len = (size_t)(span_end(m, i) - m->pts[i].uoff);
		struct strata_err *err = NULL;
		ssize_t r = overlay_source_pread(s, buf, len, m->pts[i].uoff, &err);
		if (r != (ssize_t)len || memcmp(buf, ref + m->pts[i].uoff, len) != 0)
			bad++;
		strata_err_free(err);
	}
	free(buf);
	ok(bad == 0, "%s: every span read through the decomp source equals gzip -dc", label);
	ok(s && random_preads(s, ref, reflen, 150) == 0, "%s: 150 random preads equal gzip -dc", label);
	overlay_source_unref(s);
out:
	overlay_seekmap_free(m);
	free(ref);
	free(gz);
}

/* Spans larger than the LRU budget are not cached: reads go through the source's cursor, a live
 * ISA-L decoder that a forward read continues (and a backward one restarts at the access point). */
static void check_uncached(const char *name, uint64_t span)
{
	test_sh("cd '%s' && gzip -dc '%s' > ref.bin", dir, name);
	size_t reflen = 0;
	unsigned char *ref = slurp("ref.bin", &reflen);
	uint64_t usize = 0;
	struct overlay_seekmap *m = seekmap_of(name, span, &usize);
	struct overlay_source *s = m ? source_with(name, m, SIZE_MAX) : NULL;
	overlay_cache_set_budget(64 << 10);
	int bad = s ? 0 : 1;
	unsigned char *buf = xmalloc(200000);
	for (uint64_t off = 0; s && off < reflen;) { /* sequential reads of odd sizes */
		size_t n = 1000 + (size_t)(rnd() % 199000);
		struct strata_err *err = NULL;
		ssize_t r = overlay_source_pread(s, buf, n, off, &err);
		size_t want = reflen - off < n ? (size_t)(reflen - off) : n;
		if (r != (ssize_t)want || memcmp(buf, ref + off, want) != 0) {
			if (bad++ == 0)
				printf("# pread(%zu at %llu) = %zd: %s\n", n, (unsigned long long)off, r,
				       err ? err->msg : "bytes differ");
			strata_err_free(err);
			break;
		}
		off += want;
	}
	free(buf);
	ok(bad == 0, "uncached %s: sequential reads through the cursor equal gzip -dc", name);
	ok(s && random_preads(s, ref, reflen, 60) == 0, "uncached %s: 60 random preads (backward restarts)", name);
	overlay_cache_set_budget((size_t)64 << 20);
	overlay_source_unref(s);
	overlay_seekmap_free(m);
	free(ref);
}

/* Reads span i of a source built from name's own seekmap over the damaged file bad_name. */
static int read_span(const char *bad_name, const struct overlay_seekmap *m, size_t drop, size_t i,
		     struct strata_err **err)
{
	struct overlay_source *s = source_with(bad_name, m, drop);
	if (!s)
		return strata_err_set(err, STRATA_EUSAGE, "no source");
	const struct overlay_seekmap *sm = overlay_source_seekmap(s);
	size_t len = (size_t)(span_end(sm, i) - sm->pts[i].uoff);
	unsigned char *buf = xmalloc(len + 1);
	ssize_t r = overlay_source_pread(s, buf, len, sm->pts[i].uoff, err);
	free(buf);
	overlay_source_unref(s);
	return r == (ssize_t)len ? 0 : -1;
}

static bool err_is(const struct strata_err *e, const char *needle)
{
	return e && e->code == STRATA_EFORMAT && strstr(e->msg, needle);
}

/* Sets stream bit number `bit` (LSB first within each byte, as deflate counts) of b. */
static void set_bit(unsigned char *b, uint64_t bit)
{
	b[bit / 8] |= (unsigned char)(1u << (bit % 8));
}

static void check_corrupt(void)
{
	size_t gzlen = 0;
	unsigned char *gz = slurp("mixed6.gz", &gzlen);
	uint64_t usize = 0;
	struct overlay_seekmap *m = seekmap_of("mixed6.gz", 256 << 10, &usize);
	if (!ok(m && gz && m->n > 8, "corrupt: reference seekmap (%zu points)", m ? m->n : 0))
		goto out;

	/* an invalid block header (BFINAL=1, BTYPE=11) where span k starts */
	size_t k = m->n / 2;
	const struct overlay_checkpoint *pt = &m->pts[k];
	unsigned char *b = xmalloc(gzlen);
	memcpy(b, gz, gzlen);
	uint64_t first = pt->bits ? (pt->coff - 1) * 8 + (uint64_t)(8 - pt->bits) : pt->coff * 8;
	for (int j = 0; j < 3; j++)
		set_bit(b, first + (uint64_t)j);
	spit("badblock.gz", b, gzlen);
	struct strata_err *err = NULL;
	int r = read_span("badblock.gz", m, SIZE_MAX, k, &err);
	ok(r < 0 && err_is(err, "corrupt data"), "corrupt: invalid block type at span %zu → EFORMAT (%s)", k,
	   err ? err->msg : "no error");
	strata_err_free(err);
	err = NULL;
	ok(read_span("badblock.gz", m, SIZE_MAX, k - 2, &err) == 0, "corrupt: span %zu before it still reads", k - 2);
	strata_err_free(err);
	err = NULL;

	/* the file cut in the middle of the last span */
	size_t last = m->n - 1;
	spit("cut.gz", gz, (size_t)(m->pts[last].coff + (gzlen - m->pts[last].coff) / 2));
	r = read_span("cut.gz", m, SIZE_MAX, last, &err);
	ok(r < 0 && err_is(err, "truncated"), "corrupt: file cut inside the last span → EFORMAT truncated (%s)",
	   err ? err->msg : "no error");
	strata_err_free(err);
	err = NULL;

	/* a damaged window: cut to half, then garbage */
	struct overlay_seekmap *mw = seekmap_dup(m, SIZE_MAX);
	mw->pts[k].window_len /= 2;
	r = read_span("mixed6.gz", mw, SIZE_MAX, k, &err);
	ok(r < 0 && err_is(err, "checkpoint window"), "corrupt: half a checkpoint window → EFORMAT (%s)",
	   err ? err->msg : "no error");
	strata_err_free(err);
	err = NULL;
	mw->pts[k].window_len *= 2;
	memset(mw->pts[k].window, 0xff, mw->pts[k].window_len);
	r = read_span("mixed6.gz", mw, SIZE_MAX, k, &err);
	ok(r < 0 && err && err->code == STRATA_EFORMAT, "corrupt: garbage checkpoint window → EFORMAT (%s)",
	   err ? err->msg : "no error");
	strata_err_free(err);
	err = NULL;
	overlay_seekmap_free(mw);

	free(b);
	overlay_seekmap_free(m);
	free(gz);

	/* random damage in Huffman-coded data (text: stored blocks would just carry the damage):
	 * every span read gives its bytes or an error, never a crash or a hang */
	gz = slurp("text.gz", &gzlen);
	m = seekmap_of("text.gz", 256 << 10, &usize);
	if (!ok(m && gz && m->n > 4, "noise: text.gz seekmap (%zu points)", m ? m->n : 0))
		goto out;
	b = xmalloc(gzlen);
	memcpy(b, gz, gzlen);
	rng_state = 0x9E3779B97F4A7C15ull;
	for (int j = 0; j < 200; j++)
		b[20 + rnd() % (gzlen - 40)] ^= (unsigned char)(1 + rnd() % 255);
	spit("noise.gz", b, gzlen);
	int errors = 0, zerrors = 0, differ = 0;
	char why[256];
	for (size_t i = 0; i < m->n; i++) {
		if (read_span("noise.gz", m, SIZE_MAX, i, &err) < 0)
			errors += err && err->code == STRATA_EFORMAT;
		strata_err_free(err);
		err = NULL;
		/* where zlib decodes the damaged span without error, ISA-L must give the same bytes */
		size_t len = (size_t)(span_end(m, i) - m->pts[i].uoff);
		unsigned char *zout = xcalloc(1, m->usize);
		if (zlib_span(m, i, b, gzlen, zout + m->pts[i].uoff, len) == 0) {
			if (isal_span_check(m, i, b, gzlen, zout, 4096, why, sizeof(why)) != 0 && differ++ == 0)
				printf("# %s\n", why);
		} else {
			zerrors++;
		}
		free(zout);
	}
	ok(errors > 0, "corrupt: 200 damaged bytes: %d of %zu spans fail with EFORMAT (zlib: %d), none crash",
	   errors, m->n, zerrors);
	ok(differ == 0, "corrupt: spans zlib decodes despite the damage decode to the same bytes with ISA-L");
	free(b);
out:
	overlay_seekmap_free(m);
	free(gz);

	/* a wrong CRC-32 in the trailer of a one-span member: the whole member is decoded, the check
	 * is made (as zlib did) */
	gz = slurp("small.gz", &gzlen);
	m = seekmap_of("small.gz", 64 * MiB, &usize);
	if (ok(m && gz && m->n == 1, "crc: small.gz is one span")) {
		gz[gzlen - 8] ^= 0x55;
		spit("badcrc.gz", gz, gzlen);
		err = NULL;
		int r2 = read_span("badcrc.gz", m, SIZE_MAX, 0, &err);
		ok(r2 < 0 && err_is(err, "incorrect data check"), "crc: wrong CRC-32 → EFORMAT (%s)",
		   err ? err->msg : "no error");
		strata_err_free(err);
	}
	overlay_seekmap_free(m);
	free(gz);

	/* a seekmap without the second member's start: the span runs past the end of member 1 */
	m = seekmap_of("members.gz", 64 * MiB, &usize);
	size_t second = SIZE_MAX;
	for (size_t i = 1; m && i < m->n; i++)
		if (m->pts[i].window_len == 0 && second == SIZE_MAX)
			second = i;
	if (ok(second != SIZE_MAX, "members: a second member start in the seekmap")) {
		err = NULL;
		int r3 = read_span("members.gz", m, second, second - 1, &err);
		ok(r3 < 0 && err_is(err, "member ends early"), "members: a span past its member's end → EFORMAT (%s)",
		   err ? err->msg : "no error");
		strata_err_free(err);
	}
	overlay_seekmap_free(m);
}

/* ~12 MB of alternating random and text blocks. */
static void make_mixed(const char *name, size_t len)
{
	unsigned char *d = xmalloc(len);
	size_t pos = 0;
	int line = 0;
	while (pos < len) {
		size_t blk = 50000 + rnd() % 300000;
		if (blk > len - pos)
			blk = len - pos;
		if (rnd() % 3 == 0) {
			for (size_t i = 0; i < blk; i++)
				d[pos + i] = (unsigned char)rnd();
		} else {
			size_t i = 0;
			while (i < blk) {
				char l[128];
				int n = snprintf(l, sizeof(l), "%d: the quick brown fox jumps over %llu lazy dogs\n", line++,
						 (unsigned long long)(rnd() % 1000));
				size_t c = (size_t)n < blk - i ? (size_t)n : blk - i;
				memcpy(d + pos + i, l, c);
				i += c;
			}
		}
		pos += blk;
	}
	spit(name, d, len);
	free(d);
}

int main(void)
{
	if (system("gzip --version >/dev/null 2>&1 && openssl version >/dev/null 2>&1") != 0) {
		printf("1..0 # SKIP gzip or openssl missing\n");
		return 77;
	}
	strcpy(dir, "/tmp/strata-test-isal-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	make_mixed("mixed.bin", 12 * MiB + 4321);
	test_sh("cd '%s' && gzip -6 -c mixed.bin > mixed6.gz && gzip -1 -c mixed.bin > mixed1.gz && "
	   "gzip -9 -c mixed.bin > mixed9.gz && head -c 300000 mixed.bin | gzip -6 > small.gz && "
	   "seq 1 1500000 | gzip -6 > text.gz",
	   dir);
	/* members with file names in their headers, an empty member between them */
	test_sh("cd '%s' && head -c 3000000 mixed.bin > part1 && tail -c +3000001 mixed.bin | head -c 2000000 > part2 && "
	   "gzip -c part1 > members.gz && gzip -c < /dev/null >> members.gz && gzip -9 -c part2 >> members.gz",
	   dir);
	/* the fixtures' 50 MB incompressible file (tests/fixtures/build.sh makes it the same way) */
	test_sh("cd '%s' && openssl enc -aes-256-ctr -pass pass:strata -nosalt </dev/zero 2>/dev/null | "
	   "head -c 52428800 | gzip -6 > big.gz",
	   dir);

	check_file("gzip -6", "mixed6.gz", 256 << 10);
	check_file("gzip -1", "mixed1.gz", 1 * MiB);
	check_file("gzip -9", "mixed9.gz", 4 * MiB);
	check_file("gzip members", "members.gz", 512 << 10);
	check_file("50 MB incompressible, gzip -6", "big.gz", 4 * MiB);
	if (system("pigz --version >/dev/null 2>&1") == 0) {
		test_sh("cd '%s' && pigz -6 -p 2 -c mixed.bin > pigz.gz && pigz -i -9 -p 2 -c mixed.bin > pigzi.gz", dir);
		check_file("pigz -6", "pigz.gz", 512 << 10);
		check_file("pigz --independent -9", "pigzi.gz", 300 << 10);
	} else {
		skip("pigz not installed");
	}
	const char *kaniko = "../shared/fixtures/outside/dive/test-kaniko-image.tar";
	char *kpath = realpath(kaniko, NULL);
	if (kpath && test_sh("cd '%s' && tar -xf '%s' 5c4213be9af904dd74649d250f22023f532b2f9179ffcb15260b5eaa10d7a3b4.tar.gz "
			"-O > kaniko.gz 2>/dev/null",
			dir, kpath) == 0)
		check_file("kaniko's layer (outside fixture)", "kaniko.gz", 32 << 10);
	else
		skip("outside fixture %s absent", kaniko);
	free(kpath);

	check_uncached("members.gz", 1 * MiB);
	check_corrupt();

	test_sh("rm -rf '%s'", dir);
	return tap_done();
}
