/* overlay/stream_ahead.c — decoding a stream ahead of its reader on a thread of its own, so the
 * index pass of one layer uses two cores: this thread reads the compressed source, decompresses,
 * records access points and computes the blob digest; the caller's thread computes the
 * uncompressed-stream digest (diff_id) of the bytes it takes (for an uncompressed blob that is the
 * blob digest too, which this thread then leaves alone), parses the tar, hashes every file and
 * runs the scanners on what it hands over (decoding and the blob digest alone are about as much
 * work as the rest: with the diff_id on the decoding side, a large layer's decoding thread was the
 * one the whole pass waited for).
 * The layers of an image are often unbalanced (one large layer and a few small ones), so a
 * worker per layer alone leaves cores idle.
 *
 * Sharing: once overlay_stream_read_ahead started the thread, every field of the stream except
 * `ahead` and `usha` belongs to the thread until it is joined (in overlay_stream_finish or
 * overlay_stream_free); `usha` is the reader's (overlay_stream_account leaves it alone when `ahead`
 * is set);
 * the reader only takes filled chunks from the ring, under the ring's mutex. A chunk belongs to the
 * decoder while it fills it and to the reader from publication until the reader moves past it.
 *
 * Lending (overlay_stream_ahead_borrow): the reader may take bytes in place instead of copying
 * them out; a chunk whose last bytes were lent stays the reader's (counted in `count`, so the
 * decoder cannot refill it) until the reader's next call, which releases it first.
 *
 * The diff_id of lent bytes is computed late: the lent region is "pending" until the reader's next
 * call, which hashes what is left of it before anything else. In between, the reader hands the
 * file data it finds in the region to overlay_stream_hash_along, which hashes the pending bytes up
 * to that data alone and the data itself into both digests in one pass (sha256.c): a tar is almost
 * all file data, and file data starts on a 512-byte boundary, so both digests are then at the same
 * place in their 64-byte blocks. `pend` and `pend_end` are the reader's. */
#include "overlay_int.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#define AHEAD_CHUNK ((size_t)256 << 10)
#define AHEAD_NBUF 16

struct overlay_stream_ahead {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv_data;  /* a chunk was published, or the decoder ended */
	pthread_cond_t cv_space; /* the reader released a chunk, or stop was set */
	unsigned char *ring;     /* one allocation: bufs[i] = ring + i * AHEAD_CHUNK */
	unsigned char *bufs[AHEAD_NBUF];
	size_t lens[AHEAD_NBUF];
	size_t head, count; /* published chunks: bufs[head .. head+count) mod NBUF */
	size_t pos;         /* reader's position in bufs[head] */
	bool lent;          /* bufs[head] was lent to its end: released at the reader's next call */
	bool ended;         /* the decoder stopped: at the end of the stream, or on err */
	bool stop;          /* the reader gives up: the decoder stops at its next chunk */
	bool joined;
	struct strata_err *err; /* the decoder's error, handed to the reader once */
	const unsigned char *pend, *pend_end; /* lent bytes not yet in st->usha (reader's) */
};

/* The reader is about to move on: the rest of the lent region goes into the diff_id. */
static void ahead_hash_pending(struct overlay_stream *st)
{
	struct overlay_stream_ahead *a = st->ahead;
	if (a->pend != a->pend_end)
		overlay_sha256_update(&st->usha, a->pend, (size_t)(a->pend_end - a->pend));
	a->pend = a->pend_end = NULL;
}

void overlay_stream_hash_along(struct overlay_stream *st, struct overlay_sha256 *file, const void *data,
			       size_t n)
{
	struct overlay_stream_ahead *a = st->ahead;
	uintptr_t p = (uintptr_t)data;
	if (!a || !a->pend || p < (uintptr_t)a->pend || p > (uintptr_t)a->pend_end ||
	    n > (uintptr_t)a->pend_end - p) {
		overlay_sha256_update(file, data, n); /* not pending lent bytes: libarchive's copy, say */
		return;
	}
	const unsigned char *at = a->pend + (p - (uintptr_t)a->pend);
	overlay_sha256_update(&st->usha, a->pend, (size_t)(at - a->pend)); /* headers, padding */
	overlay_sha256_update2(&st->usha, file, at, n);
	a->pend = at + n;
}

static void *ahead_main(void *arg)
{
	struct overlay_stream *st = arg;
	struct overlay_stream_ahead *a = st->ahead;
	for (;;) {
		pthread_mutex_lock(&a->mu);
		while (a->count == AHEAD_NBUF && !a->stop)
			pthread_cond_wait(&a->cv_space, &a->mu);
		bool stop = a->stop;
		size_t slot = (a->head + a->count) % AHEAD_NBUF;
		pthread_mutex_unlock(&a->mu);
		if (stop)
			break;
		/* Fill the slot with the next decoded bytes (the decoder owns it until published). */
		size_t len = 0;
		struct strata_err *e = NULL;
		bool end = false;
		while (len < AHEAD_CHUNK) {
			ssize_t r = overlay_stream_decode(st, a->bufs[slot] + len, AHEAD_CHUNK - len, &e);
			if (r <= 0) { /* an error (in e), or the end of the stream */
				end = true;
				break;
			}
			len += (size_t)r;
		}
		pthread_mutex_lock(&a->mu);
		if (len > 0) {
			a->lens[slot] = len;
			a->count++;
		}
		if (end) {
			a->ended = true;
			a->err = e;
		}
		pthread_cond_signal(&a->cv_data);
		pthread_mutex_unlock(&a->mu);
		if (end)
			break;
	}
	return NULL;
}

int overlay_stream_read_ahead(struct overlay_stream *st, struct strata_err **err)
{
	if (st->ahead || st->uout > 0 || st->cread > 0)
		return strata_err_set(err, STRATA_EUSAGE, "stream: read-ahead must start before the first read");
	struct overlay_stream_ahead *a = xcalloc(1, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv_data, NULL);
	pthread_cond_init(&a->cv_space, NULL);
	/* Written once by the decoder: huge pages fault it in at a fraction of the cost. */
	a->ring = overlay_stream_buf_alloc(AHEAD_CHUNK * AHEAD_NBUF);
	for (size_t i = 0; i < AHEAD_NBUF; i++)
		a->bufs[i] = a->ring + i * AHEAD_CHUNK;
	st->ahead = a;
	int rc = pthread_create(&a->th, NULL, ahead_main, st);
	if (rc != 0) {
		st->ahead = NULL;
		overlay_stream_ahead_free(a);
		errno = rc;
		return strata_err_sys(err, "stream: cannot start the decoding thread");
	}
	return 0;
}

/* Under a->mu: the reader is done with bufs[head] (read or lent to its end): the decoder may
 * refill it. */
static void ahead_release_head(struct overlay_stream_ahead *a)
{
	a->head = (a->head + 1) % AHEAD_NBUF;
	a->count--;
	a->pos = 0;
	a->lent = false;
	pthread_cond_signal(&a->cv_space);
}

/* Under a->mu: waits for a published chunk. Returns 1 when bufs[head] has bytes at pos, 0 at the
 * end of the stream (or when the decoder's error waits for a later call: done > 0), -1 with the
 * decoder's error (handed over once; a->mu released). */
static int ahead_wait_chunk(struct overlay_stream_ahead *a, size_t done, struct strata_err **err)
{
	while (a->count == 0 && !a->ended)
		pthread_cond_wait(&a->cv_data, &a->mu);
	if (a->count > 0)
		return 1;
	/* ended: the end of the stream, or the decoder's error */
	if (!a->err || done > 0)
		return 0; /* the bytes first; the error at the next call */
	struct strata_err *e = steal_pointer(&a->err);
	pthread_mutex_unlock(&a->mu);
	if (err && !*err)
		*err = e;
	else
		strata_err_free(e);
	return -1;
}

ssize_t overlay_stream_ahead_read(struct overlay_stream *st, unsigned char *buf, size_t len, struct strata_err **err)
{
	struct overlay_stream_ahead *a = st->ahead;
	size_t done = 0;
	ahead_hash_pending(st);
	pthread_mutex_lock(&a->mu);
	if (a->lent)
		ahead_release_head(a);
	while (done < len) {
		int w = ahead_wait_chunk(a, done, err);
		if (w < 0)
			return -1;
		if (w == 0)
			break;
		size_t take = a->lens[a->head] - a->pos;
		if (take > len - done)
			take = len - done;
		/* The chunk is the reader's until released: copy without holding the lock. */
		unsigned char *src = a->bufs[a->head] + a->pos;
		pthread_mutex_unlock(&a->mu);
		memcpy(buf + done, src, take);
		/* in order: the reader takes every byte once */
		overlay_sha256_update(&st->usha, buf + done, take);
		pthread_mutex_lock(&a->mu);
		done += take;
		a->pos += take;
		if (a->pos == a->lens[a->head])
			ahead_release_head(a);
	}
	pthread_mutex_unlock(&a->mu);
	return (ssize_t)done;
}

ssize_t overlay_stream_ahead_borrow(struct overlay_stream *st, const unsigned char **p, size_t max,
				    struct strata_err **err)
{
	struct overlay_stream_ahead *a = st->ahead;
	*p = NULL;
	if (max == 0)
		return 0;
	ahead_hash_pending(st);
	pthread_mutex_lock(&a->mu);
	if (a->lent)
		ahead_release_head(a);
	int w = ahead_wait_chunk(a, 0, err);
	if (w < 0)
		return -1;
	size_t take = 0;
	if (w > 0) {
		take = a->lens[a->head] - a->pos;
		if (take > max)
			take = max;
		*p = a->bufs[a->head] + a->pos;
		a->pos += take;
		/* Kept (not released) to its end: the bytes stay where they are until the next call. */
		a->lent = a->pos == a->lens[a->head];
	}
	pthread_mutex_unlock(&a->mu);
	if (take > 0) { /* into the diff_id at the next call, or before through overlay_stream_hash_along */
		a->pend = *p;
		a->pend_end = *p + take;
	}
	return (ssize_t)take;
}

void overlay_stream_ahead_join(struct overlay_stream *st)
{
	struct overlay_stream_ahead *a = st->ahead;
	if (!a || a->joined)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	pthread_cond_signal(&a->cv_space);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->th, NULL);
	a->joined = true;
}

void overlay_stream_ahead_free(struct overlay_stream_ahead *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv_data);
	pthread_cond_destroy(&a->cv_space);
	free(a->ring);
	strata_err_free(a->err);
	free(a);
}
