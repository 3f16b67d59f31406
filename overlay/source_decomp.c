/* overlay/source_decomp.c — random access into a gzip or zstd stream through its seekmap, and
 * the process-wide LRU of decompressed spans.
 *
 * A span is the output between two consecutive access points. pread(off) finds the last point
 * with uoff <= off, decompresses that whole span once (gzip: ISA-L's inflate primed with the
 * point's bits and 32 KiB window, inflate_isal.c; zstd: from the frame start) and keeps it in
 * the LRU keyed by (source id, point index), so a sequential reader decompresses each span
 * once. Spans larger than SPAN_CACHE_MAX or than the whole budget (a huge zstd frame without a
 * seekable copy) are decoded straight into the caller's buffer through a per-source cursor, a
 * live decoder that a following read further on in the same span continues (a sequential reader
 * pays once); a backward read restarts from the access point: slow but correct.
 *
 * Thread safety: sources are immutable; every decode uses its own inflate/zstd state; the LRU
 * is guarded by one mutex and entries are reference counted, so an entry evicted while another
 * thread copies out of it is freed by the last user. The first thread missing a span inserts a
 * placeholder and decodes it; others wanting the same span wait on cache_cv (FUSE readahead sends
 * neighbouring blocks in parallel, which would otherwise decode one span several times).
 *
 * Readahead (once overlay_readahead_start ran in this process): when a reader moves from span
 * i-1 to span i of a source, the next PREFETCH_DEPTH spans are queued for a small pool of worker
 * threads, which decode them into the LRU through
 * the same placeholders (a reader arriving at a span being prefetched waits for it instead of
 * decoding it again). Decompression then overlaps the kernel's copying and uses a second core;
 * a random reader (no span transition) never triggers it.
 *
 * Memory: the budget (overlay_cache_set_budget) bounds every span buffer that exists — cached,
 * being decoded, still in use after eviction, or pooled — not only the cached spans. A decode
 * that needs a buffer while the budget is full takes the buffer of the least recently used span
 * (its pages are already faulted in), so a steady sequential reader allocates nothing. A span a
 * reader has read to its end moves to the LRU's tail: a tar of a merged view reads two or more
 * layers interleaved, and a layer streamed through the cache must not evict the span another
 * layer's reader is in the middle of (gzip bench image, 32 MiB: 155 span decodes for 129 spans,
 * 190 in plain LRU order). One span of readahead is enough there (137 decodes, 0.93x daemon CPU
 * vs two). */
#include "overlay_int.h"

#include <pthread.h>
#include <string.h>

#define CACHE_BUCKETS 1024
#define SPAN_CACHE_MAX ((uint64_t)64 << 20)
#define DECOMP_CHUNK ((size_t)256 << 10)
#define SKIP_CHUNK ((size_t)64 << 10)
#define PREFETCH_WORKERS 2
#define PREFETCH_DEPTH 1
#define PREFETCH_QUEUE 8
#define SPAN_POOL 2
#define SPAN_ROUND ((size_t)256 << 10)
/* Larger buffers (odd spans: big zstd frames, a large --span) are freed, not pooled. */
#define SPAN_POOL_MAX ((size_t)10 << 20)

struct span_ent {
	uint64_t src_id;
	size_t idx;
	unsigned char *data;
	size_t len;
	size_t cap; /* data's allocated size (span_buf_get) */
	int refs;    /* users + 0; guarded by cache_mu */
	bool cached; /* linked in the LRU and the hash */
	bool ready;  /* data holds the span */
	bool failed; /* the thread decoding it failed; waiters retry */
	struct span_ent *prev, *next, *hnext;
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cache_cv = PTHREAD_COND_INITIALIZER; /* a placeholder became ready or failed */
static struct span_ent *cache_buckets[CACHE_BUCKETS];
static struct span_ent *lru_head, *lru_tail; /* head: most recently used */
/* Bytes of all span buffers that exist: cached, being decoded, still in use after eviction, pooled.
 * The budget bounds this (a new buffer evicts first), not only the cached spans. */
static size_t cache_held;
static size_t cache_budget = (size_t)64 << 20;
static uint64_t next_source_id = 1;

static size_t cache_bucket(uint64_t id, size_t idx)
{
	uint64_t h = (id * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)idx * 0xC2B2AE3D27D4EB4Full);
	return (size_t)((h ^ (h >> 29)) % CACHE_BUCKETS);
}

static void lru_unlink_locked(struct span_ent *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		lru_head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		lru_tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_locked(struct span_ent *e)
{
	e->prev = NULL;
	e->next = lru_head;
	if (lru_head)
		lru_head->prev = e;
	lru_head = e;
	if (!lru_tail)
		lru_tail = e;
}

/* Buffers of spans freed while a decode wanted none (evicted while in use, failed decodes), kept
 * for the next decode: a fresh multi-MiB buffer costs a page fault per 4 KiB page as the decoder
 * first writes it (measured: a tenth of the serving process's time in a tar of the gzip bench
 * image). Guarded by cache_mu; at most SPAN_POOL buffers, counted in cache_held. */
static struct {
	unsigned char *p;
	size_t cap;
} span_pool[SPAN_POOL];
static size_t span_pool_n;

/* Whether a buffer of cap bytes serves a span of len bytes without wasting much: spans of one
 * stream differ by a deflate block, so buffers rounded up to SPAN_ROUND fit their neighbours. */
static bool span_buf_fits(size_t cap, size_t len)
{
	return cap >= len && cap - len <= 2 * SPAN_ROUND;
}

/* Frees a span buffer (to the pool while the budget has room for it). Called with cache_mu held. */
static void span_buf_put_locked(unsigned char *p, size_t cap)
{
	if (!p)
		return;
	if (span_pool_n < SPAN_POOL && cap <= SPAN_POOL_MAX && cache_held <= cache_budget) {
		span_pool[span_pool_n].p = p;
		span_pool[span_pool_n++].cap = cap;
		return;
	}
	free(p);
	cache_held -= cap;
}

/* Called with cache_mu held. */
static void ent_free(struct span_ent *e)
{
	span_buf_put_locked(e->data, e->cap);
	free(e);
}

/* Removes e from the cache; frees it unless someone still uses it. */
static void cache_drop_locked(struct span_ent *e)
{
	struct span_ent **pp = &cache_buckets[cache_bucket(e->src_id, e->idx)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink_locked(e);
	e->cached = false;
	if (e->refs == 0)
		ent_free(e);
}

/* Evicts decoded spans from the LRU's tail, then pooled buffers, until need more bytes fit the
 * budget. With len > 0 the first evicted span whose buffer fits a span of len bytes is not freed
 * but returned (owned, *cap its size): the next decode reuses its pages. Called with cache_mu held. */
static unsigned char *cache_evict_locked(size_t need, size_t len, size_t *cap)
{
	struct span_ent *e = lru_tail;
	while (e && cache_held + need > cache_budget) {
		struct span_ent *prev = e->prev;
		if (e->ready) { /* placeholders being decoded stay */
			if (len && e->refs == 0 && span_buf_fits(e->cap, len)) {
				unsigned char *p = e->data;
				*cap = e->cap;
				e->data = NULL;
				cache_drop_locked(e);
				return p;
			}
			cache_drop_locked(e);
		}
		e = prev;
	}
	while (span_pool_n && cache_held + need > cache_budget) {
		span_pool_n--;
		free(span_pool[span_pool_n].p);
		cache_held -= span_pool[span_pool_n].cap;
	}
	return NULL;
}

/* A buffer for a span of len bytes (owned; *cap its size, give it back with span_buf_release or
 * through cache_complete): a pooled one that fits, else the buffer of the least recently used span
 * when the budget is full, else a new one rounded up to SPAN_ROUND (pages never written stay
 * unallocated). */
static unsigned char *span_buf_get(size_t len, size_t *cap)
{
	pthread_mutex_lock(&cache_mu);
	for (size_t k = 0; k < span_pool_n; k++) {
		if (span_buf_fits(span_pool[k].cap, len)) {
			unsigned char *p = span_pool[k].p;
			*cap = span_pool[k].cap;
			span_pool[k] = span_pool[--span_pool_n];
			pthread_mutex_unlock(&cache_mu);
			return p;
		}
	}
	size_t want = len ? (len + SPAN_ROUND - 1) / SPAN_ROUND * SPAN_ROUND : 1;
	unsigned char *p = cache_evict_locked(want, len, cap);
	if (!p)
		cache_held += want;
	pthread_mutex_unlock(&cache_mu);
	if (!p) {
		*cap = want;
		p = xmalloc(want);
	}
	return p;
}

static void span_buf_release(unsigned char *p, size_t cap)
{
	pthread_mutex_lock(&cache_mu);
	span_buf_put_locked(p, cap);
	pthread_mutex_unlock(&cache_mu);
}

/* A new placeholder for span (id, idx) in bucket b, in the LRU, with one reference (the caller's:
 * it decodes the span). Called with cache_mu held. */
static struct span_ent *cache_insert_locked(uint64_t id, size_t idx, size_t b)
{
	struct span_ent *e = xcalloc(1, sizeof(*e));
	e->src_id = id;
	e->idx = idx;
	e->refs = 1;
	e->cached = true;
	e->hnext = cache_buckets[b];
	cache_buckets[b] = e;
	lru_push_locked(e);
	return e;
}

/* The cache entry of span (id, idx) (a placeholder while being decoded), or NULL. Called with
 * cache_mu held. */
static struct span_ent *cache_find_locked(uint64_t id, size_t idx)
{
	struct span_ent *e = cache_buckets[cache_bucket(id, idx)];
	while (e && !(e->src_id == id && e->idx == idx))
		e = e->hnext;
	return e;
}

/* Returns span (id, idx) with a reference. Either it is ready (data set, *fill false), or it is
 * a new placeholder that the caller must decode and pass to cache_complete (*fill true); other
 * threads asking for it meanwhile wait instead of decoding it again. */
static struct span_ent *cache_acquire(uint64_t id, size_t idx, bool *fill)
{
	pthread_mutex_lock(&cache_mu);
	struct span_ent *e;
	for (;;) {
		e = cache_find_locked(id, idx);
		if (!e) {
			e = cache_insert_locked(id, idx, cache_bucket(id, idx));
			*fill = true;
			break;
		}
		e->refs++;
		while (!e->ready && !e->failed)
			pthread_cond_wait(&cache_cv, &cache_mu);
		if (e->ready) {
			if (e->cached) {
				lru_unlink_locked(e);
				lru_push_locked(e);
			}
			*fill = false;
			break;
		}
		/* the decoding thread failed: try ourselves (and meet the error ourselves) */
		if (--e->refs == 0 && !e->cached)
			ent_free(e);
	}
	pthread_mutex_unlock(&cache_mu);
	return e;
}

/* A new placeholder for span (id, idx) with a reference, or NULL when the span is already
 * cached or being decoded (the prefetcher then has nothing to do). */
static struct span_ent *cache_claim(uint64_t id, size_t idx)
{
	pthread_mutex_lock(&cache_mu);
	struct span_ent *e = cache_find_locked(id, idx) ? NULL : cache_insert_locked(id, idx, cache_bucket(id, idx));
	pthread_mutex_unlock(&cache_mu);
	return e;
}

/* Publishes a placeholder's decoded span (takes data, from span_buf_get with size cap), or its
 * failure when data is NULL. */
static void cache_complete(struct span_ent *e, unsigned char *data, size_t len, size_t cap)
{
	pthread_mutex_lock(&cache_mu);
	if (data) {
		e->data = data;
		e->len = len;
		e->cap = cap;
		e->ready = true;
	} else {
		e->failed = true;
		if (e->cached)
			cache_drop_locked(e);
	}
	pthread_cond_broadcast(&cache_cv);
	pthread_mutex_unlock(&cache_mu);
}

/* A reader read span (id, idx) up to its end: the span goes to the LRU's tail, so it is the first
 * one evicted (a sequential reader will not come back to it; the spans of other layers that an
 * interleaved reader is in the middle of, and those decoded ahead, stay). */
static void cache_demote(uint64_t id, size_t idx)
{
	pthread_mutex_lock(&cache_mu);
	struct span_ent *e = cache_find_locked(id, idx);
	if (e && e->ready && e != lru_tail) {
		lru_unlink_locked(e);
		e->prev = lru_tail;
		lru_tail->next = e;
		lru_tail = e;
	}
	pthread_mutex_unlock(&cache_mu);
}

static void cache_release(struct span_ent *e)
{
	pthread_mutex_lock(&cache_mu);
	if (--e->refs == 0 && !e->cached)
		ent_free(e);
	pthread_mutex_unlock(&cache_mu);
}

void overlay_cache_set_budget(size_t bytes)
{
	pthread_mutex_lock(&cache_mu);
	__atomic_store_n(&cache_budget, bytes, __ATOMIC_RELAXED);
	(void)cache_evict_locked(0, 0, NULL);
	pthread_mutex_unlock(&cache_mu);
}

void overlay_decomp_forget(struct overlay_source *s)
{
	pthread_mutex_lock(&cache_mu);
	struct span_ent *e = lru_head;
	while (e) {
		struct span_ent *next = e->next;
		if (e->src_id == s->id)
			cache_drop_locked(e);
		e = next;
	}
	pthread_mutex_unlock(&cache_mu);
}

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
	return len <= SPAN_CACHE_MAX && len <= __atomic_load_n(&cache_budget, __ATOMIC_RELAXED);
}

static bool span_cacheable(const struct overlay_source *s, size_t i)
{
	return span_len_cacheable(span_end(s->map, i) - s->map->pts[i].uoff);
}

/* Decodes span i of s into e, a placeholder this thread claimed, and publishes it (or its failure:
 * waiters then decode it themselves and meet the error). */
static int span_fill(struct overlay_source *s, size_t i, struct span_ent *e, struct strata_err **err)
{
	size_t slen = (size_t)(span_end(s->map, i) - s->map->pts[i].uoff), cap = 0;
	unsigned char *data = span_buf_get(slen, &cap);
	if (span_decode(s, i, data, slen, err) < 0) {
		span_buf_release(data, cap);
		cache_complete(e, NULL, 0, 0);
		return -1;
	}
	cache_complete(e, data, slen, cap);
	return 0;
}

/* Decodes span idx of s into the LRU unless it is there or on its way; errors are dropped (a
 * reader reaching the span decodes it itself and meets the error). */
static void prefetch_run(struct overlay_source *s, size_t idx)
{
	struct span_ent *e = cache_claim(s->id, idx);
	if (!e)
		return;
	cleanup_err struct strata_err *err = NULL;
	(void)span_fill(s, idx, e, &err);
	cache_release(e);
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
	pthread_mutex_lock(&cache_mu);
	for (size_t k = idx + 1; k < s->map->n && k <= idx + PREFETCH_DEPTH; k++)
		if (!cache_find_locked(s->id, k))
			want[nwant++] = k;
	pthread_mutex_unlock(&cache_mu);
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
			struct span_ent *e = cache_acquire(s->id, i, &fill);
			if (fill && span_fill(s, i, e, err) < 0) {
				cache_release(e);
				goto fail;
			}
			memcpy(dst + done, e->data + (o - start), want);
			cache_release(e);
			/* read to its end: a sequential reader is done with it */
			if (o + want == end)
				cache_demote(s->id, i);
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
