/* overlay/span_cache.c — the process-wide LRU of decompressed spans and the buffers they live in
 * (source_decomp.c decodes them; a span is keyed by (source id, access point index)).
 *
 * Thread safety: one mutex guards the hash, the LRU and the buffer accounting; entries are
 * reference counted, so an entry evicted while another thread copies out of it is freed by the
 * last user. The first thread missing a span inserts a placeholder (overlay_span_acquire or
 * overlay_span_claim) and decodes it; others wanting the same span wait on cache_cv instead of
 * decoding it again (FUSE readahead sends neighbouring blocks in parallel).
 *
 * Memory: the budget (overlay_cache_set_budget) bounds every span buffer that exists — cached,
 * being decoded, still in use after eviction, or pooled — not only the cached spans. A decode
 * that needs a buffer while the budget is full takes the buffer of the least recently used span
 * (its pages are already faulted in), so a steady sequential reader allocates nothing. A span a
 * reader has read to its end moves to the LRU's tail (overlay_span_release_read): a tar of a merged view
 * reads two or more layers interleaved, and a layer streamed through the cache must not evict the
 * span another layer's reader is in the middle of (gzip bench image, 32 MiB: 155 span decodes for
 * 129 spans, 190 in plain LRU order; 137 with one span of readahead instead of two). */
#include "overlay_int.h"

#include <pthread.h>
#include <string.h>

#define CACHE_BUCKETS 1024
#define SPAN_POOL 2
#define SPAN_ROUND ((size_t)256 << 10)
/* Larger buffers (odd spans: big zstd frames, a large --span) are freed, not pooled. */
#define SPAN_POOL_MAX ((size_t)10 << 20)

struct overlay_span {
	uint64_t src_id;
	size_t idx;
	unsigned char *data;
	size_t len;
	size_t cap; /* data's allocated size (overlay_span_buf_get) */
	int refs;    /* users + 0; guarded by cache_mu */
	bool cached; /* linked in the LRU and the hash */
	bool ready;  /* data holds the span */
	bool failed; /* the thread decoding it failed; waiters retry */
	struct overlay_span *prev, *next, *hnext;
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cache_cv = PTHREAD_COND_INITIALIZER; /* a placeholder became ready or failed */
static struct overlay_span *cache_buckets[CACHE_BUCKETS];
static struct overlay_span *lru_head, *lru_tail; /* head: most recently used */
/* Bytes of all span buffers that exist: cached, being decoded, still in use after eviction, pooled.
 * The budget bounds this (a new buffer evicts first), not only the cached spans. */
static size_t cache_held;
static size_t cache_budget = (size_t)64 << 20;

static size_t cache_bucket(uint64_t id, size_t idx)
{
	uint64_t h = (id * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)idx * 0xC2B2AE3D27D4EB4Full);
	return (size_t)((h ^ (h >> 29)) % CACHE_BUCKETS);
}

static void lru_unlink_locked(struct overlay_span *e)
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

static void lru_push_locked(struct overlay_span *e)
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
static void ent_free(struct overlay_span *e)
{
	span_buf_put_locked(e->data, e->cap);
	free(e);
}

/* Removes e from the cache; frees it unless someone still uses it. */
static void cache_drop_locked(struct overlay_span *e)
{
	struct overlay_span **pp = &cache_buckets[cache_bucket(e->src_id, e->idx)];
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
	struct overlay_span *e = lru_tail;
	while (e && cache_held + need > cache_budget) {
		struct overlay_span *prev = e->prev;
		if (e->ready) { /* placeholders being decoded stay */
			if (len && e->refs == 0 && span_buf_fits(e->cap, len)) {
				unsigned char *p = e->data;
				*cap = e->cap;
				e->data = NULL;
				cache_drop_locked(e);
				return p;
			}
			if (e->refs == 0) { /* freed, not pooled: the budget must shrink or this loop goes on */
				free(e->data);
				cache_held -= e->cap;
				e->data = NULL;
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

/* A pooled buffer that fits, else the buffer of the least recently used span when the budget is
 * full, else a new one rounded up to SPAN_ROUND (pages never written stay unallocated). */
unsigned char *overlay_span_buf_get(size_t len, size_t *cap)
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

void overlay_span_buf_release(unsigned char *p, size_t cap)
{
	pthread_mutex_lock(&cache_mu);
	span_buf_put_locked(p, cap);
	pthread_mutex_unlock(&cache_mu);
}

/* A new placeholder for span (id, idx), in the LRU, with one reference (the caller's: it decodes
 * the span). Called with cache_mu held. */
static struct overlay_span *cache_insert_locked(uint64_t id, size_t idx)
{
	size_t b = cache_bucket(id, idx);
	struct overlay_span *e = xcalloc(1, sizeof(*e));
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
static struct overlay_span *cache_find_locked(uint64_t id, size_t idx)
{
	struct overlay_span *e = cache_buckets[cache_bucket(id, idx)];
	while (e && !(e->src_id == id && e->idx == idx))
		e = e->hnext;
	return e;
}

/* A thread wanting a span another thread decodes waits on cache_cv; if that decode fails, it
 * decodes the span itself (and meets the error itself). */
struct overlay_span *overlay_span_acquire(uint64_t id, size_t idx, bool *fill)
{
	pthread_mutex_lock(&cache_mu);
	struct overlay_span *e;
	for (;;) {
		e = cache_find_locked(id, idx);
		if (!e) {
			e = cache_insert_locked(id, idx);
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
struct overlay_span *overlay_span_claim(uint64_t id, size_t idx)
{
	pthread_mutex_lock(&cache_mu);
	struct overlay_span *e = cache_find_locked(id, idx) ? NULL : cache_insert_locked(id, idx);
	pthread_mutex_unlock(&cache_mu);
	return e;
}

/* Publishes a placeholder's decoded span (takes data, from overlay_span_buf_get with size cap), or its
 * failure when data is NULL. */
void overlay_span_complete(struct overlay_span *e, unsigned char *data, size_t len, size_t cap)
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

static void span_release_locked(struct overlay_span *e)
{
	if (--e->refs == 0 && !e->cached)
		ent_free(e);
}

void overlay_span_release(struct overlay_span *e)
{
	pthread_mutex_lock(&cache_mu);
	span_release_locked(e);
	pthread_mutex_unlock(&cache_mu);
}

/* The reader read e up to its end: while still cached, e goes to the LRU's tail, so it is the
 * first one evicted (a sequential reader will not come back to it; the spans of other layers that
 * an interleaved reader is in the middle of, and those decoded ahead, stay). One lock for both. */
void overlay_span_release_read(struct overlay_span *e)
{
	pthread_mutex_lock(&cache_mu);
	if (e->cached && e->ready && e != lru_tail) {
		lru_unlink_locked(e);
		e->prev = lru_tail;
		lru_tail->next = e;
		lru_tail = e;
	}
	span_release_locked(e);
	pthread_mutex_unlock(&cache_mu);
}

void overlay_cache_set_budget(size_t bytes)
{
	pthread_mutex_lock(&cache_mu);
	__atomic_store_n(&cache_budget, bytes, __ATOMIC_RELAXED);
	(void)cache_evict_locked(0, 0, NULL);
	pthread_mutex_unlock(&cache_mu);
}

void overlay_span_forget(uint64_t id)
{
	pthread_mutex_lock(&cache_mu);
	struct overlay_span *e = lru_head;
	while (e) {
		struct overlay_span *next = e->next;
		if (e->src_id == id)
			cache_drop_locked(e);
		e = next;
	}
	pthread_mutex_unlock(&cache_mu);
}

bool overlay_span_known(uint64_t id, size_t idx)
{
	pthread_mutex_lock(&cache_mu);
	bool known = cache_find_locked(id, idx) != NULL;
	pthread_mutex_unlock(&cache_mu);
	return known;
}

size_t overlay_span_budget(void)
{
	return __atomic_load_n(&cache_budget, __ATOMIC_RELAXED);
}

const unsigned char *overlay_span_data(const struct overlay_span *e)
{
	return e->data;
}
