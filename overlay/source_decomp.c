/* overlay/source_decomp.c — random access into a gzip or zstd stream through its seekmap: span
 * decoders, the span readahead workers and pread over the span cache (span_cache.c).
 *
 * A span is the output between two consecutive access points. pread(off) finds the last point
 * with uoff <= off, decompresses that whole span once (gzip: ISA-L's inflate primed with the
 * point's bits and 32 KiB window, inflate_isal.c; zstd: from the frame start) and keeps it in
 * the span cache keyed by (source id, point index), so a sequential reader decompresses each span
 * once. Spans larger than SPAN_CACHE_MAX or than the whole budget (a huge zstd frame without a
 * seekable copy) are decoded straight into the caller's buffer through a per-source cursor, a
 * live decoder that a following read further on in the same span continues (a sequential reader
 * pays once); a backward read restarts from the access point: slow but correct.
 *
 * Thread safety: sources are immutable; every decode uses its own inflate/zstd state; the cache
 * has its own lock and placeholders (span_cache.c), so two threads never decode one span at once.
 *
 * Readahead (once overlay_readahead_start ran in this process): when a reader moves from span
 * i-1 to span i of a source, the next PREFETCH_DEPTH spans are queued for a small pool of worker
 * threads, which decode them into the cache through the same placeholders (a reader arriving at
 * a span being prefetched waits for it instead of decoding it again). Decompression then overlaps
 * the kernel's copying and uses a second core; a random reader (no span transition) never
 * triggers it. One span ahead is enough for a tar of the gzip bench image (137 decodes for 129
 * spans, daemon CPU 0.93x of two ahead, paired median of 6). A read reaching the end of a span
 * demotes it in the cache's LRU (a sequential reader is done with it). */
#include "overlay_int.h"

#include <pthread.h>
#include <string.h>

#define SPAN_CACHE_MAX ((uint64_t)64 << 20)
#define DECOMP_CHUNK ((size_t)256 << 10)
#define SKIP_CHUNK ((size_t)64 << 10)
#define PREFETCH_WORKERS 2
#define PREFETCH_DEPTH 1
#define PREFETCH_QUEUE 8

static uint64_t next_source_id = 1;

/* ---- decoders -------------------------------------------------------------------------- */

/* A decoder positioned inside one span: started at access point idx, next output byte at upos,
 * next compressed byte to read from the base at cpos. Used once for a cached span, or kept in
 * the source's cursor so that reads moving forward through a huge span continue from where the
 * previous read stopped instead of from the access point. */
struct span_dec {
	struct overlay_source *s;
	size_t idx;
	uint64_t upos, cpos;
	unsigned char *in; /* DECOMP_CHUNK bytes */
	size_t in_pos, in_len;
	bool eof, live;
	struct overlay_isal *gz; /* gzip: ISA-L's inflate (inflate_isal.c) */
	ZSTD_DCtx *dc;
};

/* The per-source cursor: one decoder, used by whoever holds mu (others decode on their own). */
struct overlay_decomp_cursor {
	pthread_mutex_t mu;
	struct span_dec dec;
	size_t ra_last; /* span of the latest cached read (atomic; SIZE_MAX: none yet) */
};

static void dec_end(struct span_dec *d)
{
	overlay_isal_free(d->gz);
	ZSTD_freeDCtx(d->dc);
	free(d->in);
	memset(d, 0, sizeof(*d));
}

/* Positions d's ISA-L inflate at access point pt (the window and the point's bits primed). */
static int gzip_dec_start(struct span_dec *d, const struct overlay_checkpoint *pt, struct strata_err **err)
{
	unsigned char b = 0;
	if (pt->bits) {
		ssize_t r = overlay_source_pread(d->s->base, &b, 1, pt->coff - 1, err);
		if (r < 0)
			return -1;
		STRATA_CHECK(r == 1, err, STRATA_EFORMAT, "gzip: truncated at offset %llu",
			     (unsigned long long)pt->coff);
	}
	if (!d->gz)
		d->gz = overlay_isal_new();
	return overlay_isal_start(d->gz, pt, b, err);
}

static int zstd_dec_start(struct span_dec *d, struct strata_err **err)
{
	if (!d->dc) {
		d->dc = ZSTD_createDCtx();
		if (!d->dc)
			return strata_err_set(err, STRATA_EIO, "zstd: cannot create context");
		size_t r = ZSTD_DCtx_setParameter(d->dc, ZSTD_d_windowLogMax, OVERLAY_ZSTD_WINDOWLOG_MAX);
		if (ZSTD_isError(r))
			return strata_err_set(err, STRATA_EIO, "zstd: %s", ZSTD_getErrorName(r));
	} else {
		ZSTD_DCtx_reset(d->dc, ZSTD_reset_session_only);
	}
	return 0;
}

/* (Re)starts d at access point i of s. */
static int dec_start(struct span_dec *d, struct overlay_source *s, size_t i, struct strata_err **err)
{
	const struct overlay_checkpoint *pt = &s->map->pts[i];
	d->live = false;
	d->s = s;
	d->idx = i;
	d->upos = pt->uoff;
	d->cpos = pt->coff;
	d->in_pos = d->in_len = 0;
	d->eof = false;
	if (!d->in)
		d->in = xmalloc(DECOMP_CHUNK);
	int r = s->map->comp == OVERLAY_COMP_GZIP ? gzip_dec_start(d, pt, err) : zstd_dec_start(d, err);
	if (r == 0)
		d->live = true;
	return r;
}

/* One step of the codec into out[0..n): returns bytes produced or -1. */
static ssize_t dec_step(struct span_dec *d, unsigned char *out, size_t n, struct strata_err **err)
{
	uint64_t at = d->cpos - (d->in_len - d->in_pos);
	if (d->s->map->comp == OVERLAY_COMP_GZIP) {
		size_t used = 0;
		bool ended = false;
		ssize_t got = overlay_isal_inflate(d->gz, d->in + d->in_pos, d->in_len - d->in_pos, &used, out, n,
						   &ended, err);
		if (got < 0)
			return strata_err_wrap(err, "gzip: corrupt data at offset %llu", (unsigned long long)at);
		d->in_pos += used;
		STRATA_CHECK(!ended || (size_t)got == n, err, STRATA_EFORMAT, "gzip: member ends early at offset %llu",
			     (unsigned long long)at);
		/* no output while the input is used up and the file ended: nothing more will come */
		STRATA_CHECK(!(got == 0 && d->eof && d->in_pos == d->in_len), err, STRATA_EFORMAT,
			     "gzip: truncated at offset %llu", (unsigned long long)d->cpos);
		STRATA_CHECK(got > 0 || used > 0 || d->in_pos == d->in_len, err, STRATA_EFORMAT,
			     "gzip: corrupt data at offset %llu: no progress", (unsigned long long)at);
		return got;
	}
	ZSTD_inBuffer ib = {d->in, d->in_len, d->in_pos};
	ZSTD_outBuffer ob = {out, n, 0};
	size_t ret = ZSTD_decompressStream(d->dc, &ob, &ib);
	d->in_pos = ib.pos;
	if (ZSTD_isError(ret)) {
		STRATA_CHECK(ZSTD_getErrorCode(ret) != ZSTD_error_frameParameter_windowTooLarge, err, STRATA_ELIMIT,
			     "zstd: window too large at offset %llu", (unsigned long long)at);
		return strata_err_set(err, STRATA_EFORMAT, "zstd: corrupt data at offset %llu: %s",
				      (unsigned long long)at, ZSTD_getErrorName(ret));
	}
	STRATA_CHECK(!(ob.pos == 0 && d->eof && d->in_pos == d->in_len), err, STRATA_EFORMAT,
		     "zstd: truncated at offset %llu", (unsigned long long)d->cpos);
	return (ssize_t)ob.pos;
}

/* Discards skip bytes, then fills out[0..outlen) exactly. On error the decoder is dead. */
static int dec_read(struct span_dec *d, uint64_t skip, unsigned char *out, size_t outlen, struct strata_err **err)
{
	cleanup_free unsigned char *scratch = skip ? xmalloc(SKIP_CHUNK) : NULL;
	size_t done = 0;
	while (done < outlen) {
		if (d->in_pos == d->in_len && !d->eof) {
			ssize_t r = overlay_source_pread(d->s->base, d->in, DECOMP_CHUNK, d->cpos, err);
			if (r < 0)
				goto dead;
			d->cpos += (uint64_t)r;
			d->eof = r == 0;
			d->in_pos = 0;
			d->in_len = (size_t)r;
		}
		unsigned char *p = skip ? scratch : out + done;
		size_t n = skip ? (skip < SKIP_CHUNK ? (size_t)skip : SKIP_CHUNK) : outlen - done;
		ssize_t got = dec_step(d, p, n, err);
		if (got < 0)
			goto dead;
		d->upos += (uint64_t)got;
		if (skip)
			skip -= (uint64_t)got;
		else
			done += (size_t)got;
	}
	return 0;
dead:
	d->live = false;
	return -1;
}

/* zstd spans are whole frames: when the compressed extent is known and sane, read it at once
 * and decode in one shot straight into out (the streaming API would copy through its window).
 * Returns 0, -1 with *err, or 1 when not applicable. */
static int zstd_span_oneshot(struct overlay_source *s, size_t i, unsigned char *out, size_t outlen,
			     struct strata_err **err)
{
	const struct overlay_seekmap *m = s->map;
	uint64_t c0 = m->pts[i].coff;
	uint64_t c1 = i + 1 < m->n ? m->pts[i + 1].coff : overlay_source_size(s->base);
	if (c1 <= c0 || c1 - c0 > (uint64_t)outlen + outlen / 4 + (1u << 20))
		return 1;
	size_t clen = (size_t)(c1 - c0);
	cleanup_free unsigned char *in = xmalloc(clen);
	ssize_t r = overlay_source_pread(s->base, in, clen, c0, err);
	if (r < 0)
		return -1;
	STRATA_CHECK((size_t)r == clen, err, STRATA_EFORMAT, "zstd: truncated at offset %llu",
		     (unsigned long long)(c0 + (uint64_t)r));
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	if (!dc)
		return strata_err_set(err, STRATA_EIO, "zstd: cannot create context");
	size_t got = ZSTD_decompressDCtx(dc, out, outlen, in, clen);
	ZSTD_freeDCtx(dc);
	if (ZSTD_isError(got))
		return strata_err_set(err, STRATA_EFORMAT, "zstd: corrupt data in frames at offset %llu: %s",
				      (unsigned long long)c0, ZSTD_getErrorName(got));
	STRATA_CHECK(got == outlen, err, STRATA_EFORMAT, "zstd: frames at offset %llu hold %zu bytes, not %zu",
		     (unsigned long long)c0, got, outlen);
	return 0;
}

/* Decodes all of span i into out[0..outlen). */
static int span_decode(struct overlay_source *s, size_t i, unsigned char *out, size_t outlen,
		       struct strata_err **err)
{
	if (s->map->comp == OVERLAY_COMP_ZSTD) {
		int r1 = zstd_span_oneshot(s, i, out, outlen, err);
		if (r1 <= 0)
			return r1;
	}
	struct span_dec d = {0};
	int r = dec_start(&d, s, i, err);
	if (r == 0)
		r = dec_read(&d, 0, out, outlen, err);
	dec_end(&d);
	return r;
}

/* Reads out of a span too large to cache: through the source's cursor when it is free (moving
 * forward from the previous read when possible), else with a decoder of our own. */
static int span_read_uncached(struct overlay_source *s, size_t i, uint64_t o, unsigned char *out, size_t len,
			      struct strata_err **err)
{
	struct overlay_decomp_cursor *c = s->cursor;
	if (pthread_mutex_trylock(&c->mu) != 0) {
		struct span_dec d = {0};
		int r = dec_start(&d, s, i, err);
		if (r == 0)
			r = dec_read(&d, o - d.upos, out, len, err);
		dec_end(&d);
		return r;
	}
	struct span_dec *d = &c->dec;
	int r = 0;
	if (!(d->live && d->idx == i && d->upos <= o))
		r = dec_start(d, s, i, err);
	if (r == 0)
		r = dec_read(d, o - d->upos, out, len, err);
	pthread_mutex_unlock(&c->mu);
	return r;
}

void overlay_decomp_cursor_free(struct overlay_decomp_cursor *c)
{
	if (!c)
		return;
	dec_end(&c->dec);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* ---- readahead ------------------------------------------------------------------------- */

struct prefetch_job {
	struct overlay_source *s; /* a reference */
	size_t idx;
};

static pthread_mutex_t pf_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pf_cv = PTHREAD_COND_INITIALIZER;
static struct prefetch_job pf_queue[PREFETCH_QUEUE];
static size_t pf_head, pf_len;
static bool pf_on; /* workers run; written once under pf_mu, read atomically */

/* Where span i of m ends in the uncompressed stream (it starts at m->pts[i].uoff). */
static uint64_t span_end(const struct overlay_seekmap *m, size_t i)
{
	return i + 1 < m->n ? m->pts[i + 1].uoff : m->usize;
}

/* Whether a span of len bytes goes through the LRU (else it is read uncached). */
static bool span_len_cacheable(uint64_t len)
{
	return len <= SPAN_CACHE_MAX && len <= overlay_span_budget();
}

static bool span_cacheable(const struct overlay_source *s, size_t i)
{
	return span_len_cacheable(span_end(s->map, i) - s->map->pts[i].uoff);
}

/* Decodes span i of s into e, a placeholder this thread claimed, and publishes it (or its failure:
 * waiters then decode it themselves and meet the error). */
static int span_fill(struct overlay_source *s, size_t i, struct overlay_span *e, struct strata_err **err)
{
	size_t slen = (size_t)(span_end(s->map, i) - s->map->pts[i].uoff), cap = 0;
	unsigned char *data = overlay_span_buf_get(slen, &cap);
	if (span_decode(s, i, data, slen, err) < 0) {
		overlay_span_buf_release(data, cap);
		overlay_span_complete(e, NULL, 0, 0);
		return -1;
	}
	overlay_span_complete(e, data, slen, cap);
	return 0;
}

/* Decodes span idx of s into the LRU unless it is there or on its way; errors are dropped (a
 * reader reaching the span decodes it itself and meets the error). */
static void prefetch_run(struct overlay_source *s, size_t idx)
{
	struct overlay_span *e = overlay_span_claim(s->id, idx);
	if (!e)
		return;
	cleanup_err struct strata_err *err = NULL;
	(void)span_fill(s, idx, e, &err);
	overlay_span_release(e);
}

static void *prefetch_main(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&pf_mu);
		while (pf_len == 0)
			pthread_cond_wait(&pf_cv, &pf_mu);
		struct prefetch_job j = pf_queue[pf_head];
		pf_head = (pf_head + 1) % PREFETCH_QUEUE;
		pf_len--;
		pthread_mutex_unlock(&pf_mu);
		prefetch_run(j.s, j.idx);
		overlay_source_unref(j.s);
	}
	return NULL;
}

bool overlay_readahead_start(void)
{
	pthread_mutex_lock(&pf_mu);
	if (!__atomic_load_n(&pf_on, __ATOMIC_RELAXED)) {
		int started = 0;
		for (int i = 0; i < PREFETCH_WORKERS; i++) {
			pthread_t t;
			pthread_attr_t a;
			pthread_attr_init(&a);
			pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
			if (pthread_create(&t, &a, prefetch_main, NULL) == 0)
				started++;
			pthread_attr_destroy(&a);
		}
		if (started)
			__atomic_store_n(&pf_on, true, __ATOMIC_RELAXED);
	}
	bool on = __atomic_load_n(&pf_on, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&pf_mu);
	return on;
}

/* Queues spans idx+1 .. idx+PREFETCH_DEPTH of s that are cacheable and not cached yet; a full
 * queue drops the request (readahead is only a hint). */
static void prefetch_after(struct overlay_source *s, size_t idx)
{
	if (!__atomic_load_n(&pf_on, __ATOMIC_RELAXED))
		return;
	size_t want[PREFETCH_DEPTH] = {0};
	size_t nwant = 0;
	for (size_t k = idx + 1; k < s->map->n && k <= idx + PREFETCH_DEPTH; k++)
		if (!overlay_span_known(s->id, k))
			want[nwant++] = k;
	if (nwant == 0)
		return;
	pthread_mutex_lock(&pf_mu);
	for (size_t w = 0; w < nwant && pf_len < PREFETCH_QUEUE; w++) {
		if (!span_cacheable(s, want[w]))
			break;
		bool queued = false;
		for (size_t q = 0; q < pf_len && !queued; q++) {
			const struct prefetch_job *j = &pf_queue[(pf_head + q) % PREFETCH_QUEUE];
			queued = j->s->id == s->id && j->idx == want[w];
		}
		if (queued)
			continue;
		pf_queue[(pf_head + pf_len) % PREFETCH_QUEUE] = (struct prefetch_job){overlay_source_ref(s), want[w]};
		pf_len++;
		pthread_cond_signal(&pf_cv);
	}
	pthread_mutex_unlock(&pf_mu);
}

/* Index of the last access point with uoff <= off (pts[0].uoff == 0). */
static size_t seekmap_find(const struct overlay_seekmap *m, uint64_t off)
{
	size_t lo = 0, hi = m->n - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		if (m->pts[mid].uoff <= off)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

ssize_t overlay_decomp_pread(struct overlay_source *s, void *buf, size_t len, uint64_t off,
			     struct strata_err **err)
{
	const struct overlay_seekmap *m = s->map;
	unsigned char *dst = buf;
	size_t done = 0;
	while (done < len) {
		uint64_t o = off + done;
		size_t i = seekmap_find(m, o);
		uint64_t start = m->pts[i].uoff;
		uint64_t end = span_end(m, i);
		size_t want = len - done;
		if (want > end - o)
			want = (size_t)(end - o);
		if (!span_len_cacheable(end - start)) {
			if (span_read_uncached(s, i, o, dst + done, want, err) < 0)
				goto fail;
		} else {
			size_t prev = __atomic_exchange_n(&s->cursor->ra_last, i, __ATOMIC_RELAXED);
			if (prev != SIZE_MAX && prev + 1 == i)
				prefetch_after(s, i);
			bool fill = false;
			struct overlay_span *e = overlay_span_acquire(s->id, i, &fill);
			if (fill && span_fill(s, i, e, err) < 0) {
				overlay_span_release(e);
				goto fail;
			}
			memcpy(dst + done, overlay_span_data(e) + (o - start), want);
			if (o + want == end) /* read to its end: a sequential reader is done with it */
				overlay_span_release_read(e);
			else
				overlay_span_release(e);
		}
		done += want;
	}
	return (ssize_t)done;
fail:
	return strata_err_wrap(err, "%s stream, uncompressed offset %llu", overlay_compression_name(m->comp),
			       (unsigned long long)(off + done));
}

/* Checks that map is usable on base: points sorted from 0, inside the streams, well formed. */
static int seekmap_check(const struct overlay_seekmap *m, uint64_t base_size, struct strata_err **err)
{
	STRATA_CHECK(m->comp == OVERLAY_COMP_GZIP || m->comp == OVERLAY_COMP_ZSTD, err, STRATA_EUSAGE,
		     "seekmap: not a compressed stream");
	STRATA_CHECK(m->n >= 1 && m->pts && m->pts[0].uoff == 0, err, STRATA_EFORMAT,
		     "seekmap: no access point at offset 0");
	for (size_t i = 0; i < m->n; i++) {
		const struct overlay_checkpoint *p = &m->pts[i];
		STRATA_CHECK(i == 0 || p->uoff >= m->pts[i - 1].uoff, err, STRATA_EFORMAT,
			     "seekmap: access point %zu out of order", i);
		STRATA_CHECK(p->uoff <= m->usize && p->coff <= base_size, err, STRATA_EFORMAT,
			     "seekmap: access point %zu beyond the stream", i);
		STRATA_CHECK(p->bits >= 0 && p->bits <= 7 && (p->bits == 0 || p->coff >= 1), err, STRATA_EFORMAT,
			     "seekmap: access point %zu has a bad bit offset", i);
		STRATA_CHECK(p->window_len == 0 || (p->window && m->comp == OVERLAY_COMP_GZIP), err,
			     STRATA_EFORMAT, "seekmap: access point %zu has a bad window", i);
		STRATA_CHECK(m->comp == OVERLAY_COMP_GZIP || p->bits == 0, err, STRATA_EFORMAT,
			     "seekmap: zstd access point %zu has a bit offset", i);
	}
	return 0;
}

struct overlay_source *overlay_source_decomp_new(struct overlay_source *base, struct overlay_seekmap *map,
						 struct strata_err **err)
{
	if (!map) {
		strata_err_set(err, STRATA_EUSAGE, "decompressing source without a seekmap");
		return NULL;
	}
	if (seekmap_check(map, overlay_source_size(base), err) < 0) {
		overlay_seekmap_free(map);
		return NULL;
	}
	struct overlay_source *s = xcalloc(1, sizeof(*s));
	s->refs = 1;
	s->kind = OVERLAY_SRC_DECOMP;
	s->fd = -1;
	s->base = overlay_source_ref(base);
	s->map = map;
	s->size = map->usize;
	s->id = __atomic_fetch_add(&next_source_id, 1, __ATOMIC_RELAXED);
	s->cursor = xcalloc(1, sizeof(*s->cursor));
	pthread_mutex_init(&s->cursor->mu, NULL);
	s->cursor->ra_last = SIZE_MAX;
	return s;
}
