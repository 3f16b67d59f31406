/* overlay/source_decomp.c — random access into a gzip or zstd stream through its seekmap, and
 * the process-wide LRU of decompressed spans.
 *
 * A span is the output between two consecutive access points. pread(off) finds the last point
 * with uoff <= off, decompresses that whole span once (gzip: raw inflate primed with the point's
 * bits and 32 KiB window; zstd: from the frame start) and keeps it in the LRU keyed by
 * (source id, point index), so a sequential reader decompresses each span once. Spans larger
 * than SPAN_CACHE_MAX or than the whole budget (a huge zstd frame without a seekable copy) are
 * decoded straight into the caller's buffer, skipping the bytes before off: slow but correct.
 *
 * Thread safety: sources are immutable; every decode uses its own inflate/zstd state; the LRU
 * is guarded by one mutex and entries are reference counted, so an entry evicted while another
 * thread copies out of it is freed by the last user. The first thread missing a span inserts a
 * placeholder and decodes it; others wanting the same span wait on cache_cv (FUSE readahead sends
 * neighbouring blocks in parallel, which would otherwise decode one span several times). */
#include "overlay_int.h"

#include <pthread.h>
#include <string.h>

#define CACHE_BUCKETS 1024
#define SPAN_CACHE_MAX ((uint64_t)64 << 20)
#define DECOMP_CHUNK ((size_t)256 << 10)
#define SKIP_CHUNK ((size_t)64 << 10)

struct span_ent {
	uint64_t src_id;
	size_t idx;
	unsigned char *data;
	size_t len;
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
static size_t cache_used;
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

static void ent_free(struct span_ent *e)
{
	free(e->data);
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
	cache_used -= e->len;
	e->cached = false;
	if (e->refs == 0)
		ent_free(e);
}

static void cache_evict_locked(void)
{
	while (cache_used > cache_budget && lru_tail)
		cache_drop_locked(lru_tail);
}

/* Returns span (id, idx) with a reference. Either it is ready (data set, *fill false), or it is
 * a new placeholder that the caller must decode and pass to cache_complete (*fill true); other
 * threads asking for it meanwhile wait instead of decoding it again. */
static struct span_ent *cache_acquire(uint64_t id, size_t idx, bool *fill)
{
	pthread_mutex_lock(&cache_mu);
	struct span_ent *e;
	for (;;) {
		size_t b = cache_bucket(id, idx);
		e = cache_buckets[b];
		while (e && !(e->src_id == id && e->idx == idx))
			e = e->hnext;
		if (!e) {
			e = xcalloc(1, sizeof(*e));
			e->src_id = id;
			e->idx = idx;
			e->refs = 1;
			e->cached = true;
			e->hnext = cache_buckets[b];
			cache_buckets[b] = e;
			lru_push_locked(e);
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

/* Publishes a placeholder's decoded span (takes data), or its failure when data is NULL. */
static void cache_complete(struct span_ent *e, unsigned char *data, size_t len)
{
	pthread_mutex_lock(&cache_mu);
	if (data) {
		e->data = data;
		e->len = len;
		e->ready = true;
		if (e->cached) {
			cache_used += len;
			cache_evict_locked();
		}
	} else {
		e->failed = true;
		if (e->cached)
			cache_drop_locked(e);
	}
	pthread_cond_broadcast(&cache_cv);
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
	cache_evict_locked();
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

/* ---- decoding one span ------------------------------------------------------------------ */

/* Where decoded bytes go: the first `skip` bytes are discarded, the next outlen land in out. */
struct span_sink {
	uint64_t skip;
	unsigned char *out;
	size_t outlen, done;
	unsigned char *scratch; /* SKIP_CHUNK bytes when skip > 0 */
};

static void sink_target(struct span_sink *k, unsigned char **p, size_t *n)
{
	if (k->skip > 0) {
		*p = k->scratch;
		*n = k->skip < SKIP_CHUNK ? (size_t)k->skip : SKIP_CHUNK;
	} else {
		*p = k->out + k->done;
		*n = k->outlen - k->done;
	}
}

static void sink_advance(struct span_sink *k, size_t n)
{
	if (k->skip > 0)
		k->skip -= n;
	else
		k->done += n;
}

/* Inflates a stored window (raw deflate) into win[32768]. */
static int window_inflate(const struct overlay_checkpoint *pt, unsigned char *win, size_t *wlen,
			  struct strata_err **err)
{
	z_stream zs = {0};
	if (inflateInit2(&zs, -15) != Z_OK)
		return strata_err_set(err, STRATA_EIO, "gzip: inflateInit2 failed");
	zs.next_in = pt->window;
	zs.avail_in = (uInt)pt->window_len;
	zs.next_out = win;
	zs.avail_out = 32768;
	int ret = inflate(&zs, Z_FINISH);
	*wlen = 32768 - zs.avail_out;
	inflateEnd(&zs);
	STRATA_CHECK(ret == Z_STREAM_END, err, STRATA_EFORMAT, "gzip: corrupt checkpoint window at offset %llu",
		     (unsigned long long)pt->uoff);
	return 0;
}

static int gzip_run(struct overlay_source *s, const struct overlay_checkpoint *pt, z_stream *zs,
		    struct span_sink *k, struct strata_err **err)
{
	uint64_t pos = pt->coff;
	if (pt->bits) {
		unsigned char b;
		ssize_t r = overlay_source_pread(s->base, &b, 1, pt->coff - 1, err);
		if (r < 0)
			return -1;
		STRATA_CHECK(r == 1, err, STRATA_EFORMAT, "gzip: truncated at offset %llu",
			     (unsigned long long)pt->coff);
		if (inflatePrime(zs, pt->bits, b >> (8 - pt->bits)) != Z_OK)
			return strata_err_set(err, STRATA_EFORMAT, "gzip: bad checkpoint at offset %llu",
					      (unsigned long long)pt->coff);
	}
	if (pt->window_len) {
		unsigned char win[32768];
		size_t wlen = 0;
		if (window_inflate(pt, win, &wlen, err) < 0)
			return -1;
		if (inflateSetDictionary(zs, win, (uInt)wlen) != Z_OK)
			return strata_err_set(err, STRATA_EFORMAT, "gzip: bad checkpoint window at offset %llu",
					      (unsigned long long)pt->coff);
	}
	cleanup_free unsigned char *in = xmalloc(DECOMP_CHUNK);
	bool eof = false;
	while (k->done < k->outlen) {
		if (zs->avail_in == 0 && !eof) {
			ssize_t r = overlay_source_pread(s->base, in, DECOMP_CHUNK, pos, err);
			if (r < 0)
				return -1;
			pos += (uint64_t)r;
			eof = r == 0;
			zs->next_in = in;
			zs->avail_in = (uInt)r;
		}
		unsigned char *p;
		size_t n;
		sink_target(k, &p, &n);
		if (n > (1u << 30))
			n = 1u << 30;
		zs->next_out = p;
		zs->avail_out = (uInt)n;
		int ret = inflate(zs, Z_NO_FLUSH);
		sink_advance(k, n - zs->avail_out);
		uint64_t at = pos - zs->avail_in;
		if (ret == Z_STREAM_END) {
			STRATA_CHECK(k->done == k->outlen, err, STRATA_EFORMAT,
				     "gzip: member ends early at offset %llu", (unsigned long long)at);
			break;
		}
		if (ret == Z_BUF_ERROR && eof && zs->avail_in == 0)
			return strata_err_set(err, STRATA_EFORMAT, "gzip: truncated at offset %llu",
					      (unsigned long long)at);
		if (ret != Z_OK && ret != Z_BUF_ERROR)
			return strata_err_set(err, STRATA_EFORMAT, "gzip: corrupt data at offset %llu: %s",
					      (unsigned long long)at, zs->msg ? zs->msg : "error");
	}
	return 0;
}

static int gzip_decode(struct overlay_source *s, size_t i, struct span_sink *k, struct strata_err **err)
{
	const struct overlay_checkpoint *pt = &s->map->pts[i];
	z_stream zs = {0};
	/* A point without a window is a member start: parse the gzip header there. */
	if (inflateInit2(&zs, pt->window_len ? -15 : 31) != Z_OK)
		return strata_err_set(err, STRATA_EIO, "gzip: inflateInit2 failed");
	int r = gzip_run(s, pt, &zs, k, err);
	inflateEnd(&zs);
	return r;
}

static int zstd_run(struct overlay_source *s, const struct overlay_checkpoint *pt, ZSTD_DCtx *dc,
		    struct span_sink *k, struct strata_err **err)
{
	size_t r0 = ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax, OVERLAY_ZSTD_WINDOWLOG_MAX);
	if (ZSTD_isError(r0))
		return strata_err_set(err, STRATA_EIO, "zstd: %s", ZSTD_getErrorName(r0));
	cleanup_free unsigned char *in = xmalloc(DECOMP_CHUNK);
	ZSTD_inBuffer ib = {in, 0, 0};
	uint64_t pos = pt->coff;
	bool eof = false;
	while (k->done < k->outlen) {
		if (ib.pos == ib.size && !eof) {
			ssize_t r = overlay_source_pread(s->base, in, DECOMP_CHUNK, pos, err);
			if (r < 0)
				return -1;
			pos += (uint64_t)r;
			eof = r == 0;
			ib.size = (size_t)r;
			ib.pos = 0;
		}
		unsigned char *p;
		size_t n;
		sink_target(k, &p, &n);
		ZSTD_outBuffer ob = {p, n, 0};
		size_t ret = ZSTD_decompressStream(dc, &ob, &ib);
		uint64_t at = pos - (ib.size - ib.pos);
		if (ZSTD_isError(ret)) {
			if (ZSTD_getErrorCode(ret) == ZSTD_error_frameParameter_windowTooLarge)
				return strata_err_set(err, STRATA_ELIMIT, "zstd: window too large at offset %llu",
						      (unsigned long long)at);
			return strata_err_set(err, STRATA_EFORMAT, "zstd: corrupt data at offset %llu: %s",
					      (unsigned long long)at, ZSTD_getErrorName(ret));
		}
		sink_advance(k, ob.pos);
		if (ob.pos == 0 && eof && ib.pos == ib.size)
			return strata_err_set(err, STRATA_EFORMAT, "zstd: truncated at offset %llu",
					      (unsigned long long)at);
	}
	return 0;
}

static int zstd_decode(struct overlay_source *s, size_t i, struct span_sink *k, struct strata_err **err)
{
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	if (!dc)
		return strata_err_set(err, STRATA_EIO, "zstd: cannot create context");
	int r = zstd_run(s, &s->map->pts[i], dc, k, err);
	ZSTD_freeDCtx(dc);
	return r;
}

/* Decodes span i, discarding skip bytes, then filling out[0..outlen). */
static int span_decode(struct overlay_source *s, size_t i, uint64_t skip, unsigned char *out, size_t outlen,
		       struct strata_err **err)
{
	cleanup_free unsigned char *scratch = skip ? xmalloc(SKIP_CHUNK) : NULL;
	struct span_sink k = {.skip = skip, .out = out, .outlen = outlen, .scratch = scratch};
	if (s->map->comp == OVERLAY_COMP_GZIP)
		return gzip_decode(s, i, &k, err);
	return zstd_decode(s, i, &k, err);
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
		uint64_t end = i + 1 < m->n ? m->pts[i + 1].uoff : m->usize;
		size_t want = len - done;
		if (want > end - o)
			want = (size_t)(end - o);
		uint64_t budget = __atomic_load_n(&cache_budget, __ATOMIC_RELAXED);
		if (end - start > SPAN_CACHE_MAX || end - start > budget) {
			if (span_decode(s, i, o - start, dst + done, want, err) < 0)
				goto fail;
		} else {
			bool fill = false;
			struct span_ent *e = cache_acquire(s->id, i, &fill);
			if (fill) {
				size_t slen = (size_t)(end - start);
				unsigned char *data = xmalloc(slen);
				if (span_decode(s, i, 0, data, slen, err) < 0) {
					free(data);
					cache_complete(e, NULL, 0);
					cache_release(e);
					goto fail;
				}
				cache_complete(e, data, slen);
			}
			memcpy(dst + done, e->data + (o - start), want);
			cache_release(e);
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
	return s;
}
