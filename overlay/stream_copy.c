/* overlay/stream_copy.c — the writer of a zstd stream's seekable copy, on its own thread.
 *
 * The decoder (stream_zstd.c) decides whether a copy is needed; from then on every output byte is
 * handed here. The decoding thread only copies the bytes into a ring of OVERLAY_COPY_NBUF chunks
 * of OVERLAY_COPY_CHUNK bytes; one writer thread per copy takes the chunks in order, compresses
 * them into independent frames of `span` bytes (level 1, checksummed) and writes them to
 * path.tmp.PID.TID, recording each frame start in st->copy_map. The bytes written are exactly
 * those of a single-threaded compression of the same output, so the copy (and its seekmap in the
 * index) does not depend on thread timing.
 *
 * Sharing: the ring indexes and flags are guarded by the worker's mutex; a chunk belongs to the
 * decoding thread while it fills it and to the writer from publication until it is released. The
 * compressor, the file and st->copy_map / copy_written / copy_frame_in are touched only by the
 * writer between overlay_copy_start and the join in overlay_copy_finish/overlay_copy_free. A
 * writer error is kept in the worker and returned by the next put or by finish.
 * The copy ends with a seek table (stream_seekable.c), so a copy describes its own frames. */
#include "overlay_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>

#define OVERLAY_COPY_CHUNK ((size_t)1 << 20)
#define OVERLAY_COPY_NBUF 8

struct overlay_copy_worker {
	struct overlay_stream *st;
	pthread_t th;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond_data;  /* a chunk was published, or done/stop was set */
	pthread_cond_t cond_space; /* a chunk was released, or the writer failed */
	unsigned char *bufs[OVERLAY_COPY_NBUF];
	size_t lens[OVERLAY_COPY_NBUF];
	size_t head, count; /* published chunks: bufs[head .. head+count) mod NBUF */
	bool done;          /* no more chunks will be published */
	bool stop;          /* give up: drop what is queued */
	bool failed;        /* the writer stopped on err */
	struct strata_err *err;
	/* the decoding thread's chunk being filled (tail slot), NULL: none taken */
	unsigned char *fill;
	size_t fill_len, tail;
};

/* ---- the writer (runs on the worker thread) ------------------------------------------------ */

static int copy_write_all(struct overlay_stream *st, const unsigned char *p, size_t n, struct strata_err **err)
{
	while (n > 0) {
		ssize_t w = write(st->copy_fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return strata_err_sys(err, "write %s", st->copy_tmp);
		}
		p += w;
		n -= (size_t)w;
		st->copy_written += (uint64_t)w;
	}
	return 0;
}

/* Feeds p[0..n) to the compressor; with ZSTD_e_end, also closes the frame. */
static int copy_compress(struct overlay_stream *st, const unsigned char *p, size_t n, ZSTD_EndDirective mode,
			 struct strata_err **err)
{
	ZSTD_inBuffer ib = {p, n, 0};
	for (;;) {
		ZSTD_outBuffer ob = {st->copy_out, st->copy_out_cap, 0};
		size_t rem = ZSTD_compressStream2(st->zc, &ob, &ib, mode);
		if (ZSTD_isError(rem))
			return strata_err_set(err, STRATA_EIO, "zstd: seekable copy: %s", ZSTD_getErrorName(rem));
		if (copy_write_all(st, st->copy_out, ob.pos, err) < 0)
			return -1;
		if (mode == ZSTD_e_end ? rem == 0 : ib.pos == ib.size)
			return 0;
	}
}

/* Appends output to the copy, cutting a frame every span bytes. */
static int copy_write(struct overlay_stream *st, const unsigned char *p, size_t n, struct strata_err **err)
{
	while (n > 0) {
		if (st->copy_frame_in == 0) /* a new frame starts here */
			overlay_stream_add_point(st->copy_map, &st->copy_pts_cap, st->copy_map->usize,
						 st->copy_written, 0, NULL, 0);
		uint64_t room = st->span - st->copy_frame_in;
		size_t take = n < room ? n : (size_t)room;
		if (copy_compress(st, p, take, ZSTD_e_continue, err) < 0)
			return -1;
		st->copy_frame_in += take;
		st->copy_map->usize += take;
		p += take;
		n -= take;
		if (st->copy_frame_in == st->span) {
			if (copy_compress(st, NULL, 0, ZSTD_e_end, err) < 0)
				return -1;
			st->copy_frame_in = 0;
		}
	}
	return 0;
}

static void *copy_worker_main(void *arg)
{
	struct overlay_copy_worker *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (w->count == 0 && !w->done && !w->stop)
			pthread_cond_wait(&w->cond_data, &w->lock);
		if (w->stop || w->count == 0) {
			pthread_mutex_unlock(&w->lock);
			return NULL;
		}
		size_t slot = w->head, len = w->lens[slot];
		pthread_mutex_unlock(&w->lock);

		struct strata_err *e = NULL;
		int r = copy_write(w->st, w->bufs[slot], len, &e);

		pthread_mutex_lock(&w->lock);
		if (r < 0) {
			w->err = e;
			w->failed = true;
		} else {
			w->head = (w->head + 1) % OVERLAY_COPY_NBUF;
			w->count--;
		}
		pthread_cond_signal(&w->cond_space);
		pthread_mutex_unlock(&w->lock);
		if (r < 0)
			return NULL;
	}
}

/* ---- the decoding thread's side -------------------------------------------------------------- */

/* Stops and joins the writer (dropping queued chunks when stop), frees the ring. Idempotent. */
static void copy_worker_join(struct overlay_copy_worker *w, bool stop)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->done = true;
	if (stop)
		w->stop = true;
	pthread_cond_signal(&w->cond_data);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->th, NULL);
	w->started = false;
}

static void copy_worker_free(struct overlay_copy_worker *w)
{
	if (!w)
		return;
	copy_worker_join(w, true);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond_data);
	pthread_cond_destroy(&w->cond_space);
	for (size_t i = 0; i < OVERLAY_COPY_NBUF; i++)
		free(w->bufs[i]);
	strata_err_free(w->err);
	free(w);
}

int overlay_copy_start(struct overlay_stream *st, struct strata_err **err)
{
	st->copy_tmp = xasprintf("%s.tmp.%d.%d", st->copy_path, (int)getpid(), (int)gettid());
	st->copy_fd = open(st->copy_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (st->copy_fd < 0)
		return strata_err_sys(err, "create %s", st->copy_tmp);
	st->zc = ZSTD_createCCtx();
	if (!st->zc)
		return strata_err_set(err, STRATA_EIO, "zstd: cannot create compression context");
	ZSTD_CCtx_setParameter(st->zc, ZSTD_c_compressionLevel, 1);
	ZSTD_CCtx_setParameter(st->zc, ZSTD_c_checksumFlag, 1);
	st->copy_out_cap = ZSTD_CStreamOutSize();
	st->copy_out = xmalloc(st->copy_out_cap);
	st->copy_map = xcalloc(1, sizeof(*st->copy_map));
	st->copy_map->comp = OVERLAY_COMP_ZSTD;

	struct overlay_copy_worker *w = xcalloc(1, sizeof(*w));
	w->st = st;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond_data, NULL);
	pthread_cond_init(&w->cond_space, NULL);
	for (size_t i = 0; i < OVERLAY_COPY_NBUF; i++)
		w->bufs[i] = xmalloc(OVERLAY_COPY_CHUNK);
	st->copy_worker = w;
	int rc = pthread_create(&w->th, NULL, copy_worker_main, w);
	if (rc != 0) {
		errno = rc;
		return strata_err_sys(err, "seekable copy: cannot start the writer thread");
	}
	w->started = true;
	return 0;
}

/* Publishes the chunk being filled (if any bytes are in it). */
static void copy_publish(struct overlay_copy_worker *w)
{
	if (!w->fill)
		return;
	if (w->fill_len > 0) {
		pthread_mutex_lock(&w->lock);
		w->lens[w->tail] = w->fill_len;
		w->count++;
		pthread_cond_signal(&w->cond_data);
		pthread_mutex_unlock(&w->lock);
	}
	w->fill = NULL;
	w->fill_len = 0;
}

/* Takes the writer's error (or makes one) for the decoding thread; always -1. */
static int copy_take_err(struct overlay_copy_worker *w, struct strata_err **err)
{
	pthread_mutex_lock(&w->lock);
	struct strata_err *e = w->err;
	w->err = NULL;
	pthread_mutex_unlock(&w->lock);
	if (!e)
		return strata_err_set(err, STRATA_EIO, "seekable copy: writer stopped");
	if (err && !*err)
		*err = e;
	else
		strata_err_free(e);
	return -1;
}

int overlay_copy_put(struct overlay_stream *st, const unsigned char *p, size_t n, struct strata_err **err)
{
	struct overlay_copy_worker *w = st->copy_worker;
	if (!w || !w->started)
		return strata_err_set(err, STRATA_EIO, "seekable copy: writer not running");
	while (n > 0) {
		if (!w->fill) { /* take the next free slot, waiting for the writer if the ring is full */
			pthread_mutex_lock(&w->lock);
			while (w->count == OVERLAY_COPY_NBUF && !w->failed)
				pthread_cond_wait(&w->cond_space, &w->lock);
			bool failed = w->failed;
			w->tail = (w->head + w->count) % OVERLAY_COPY_NBUF;
			pthread_mutex_unlock(&w->lock);
			if (failed)
				return copy_take_err(w, err);
			w->fill = w->bufs[w->tail];
		}
		size_t take = OVERLAY_COPY_CHUNK - w->fill_len;
		if (take > n)
			take = n;
		memcpy(w->fill + w->fill_len, p, take);
		w->fill_len += take;
		p += take;
		n -= take;
		if (w->fill_len == OVERLAY_COPY_CHUNK)
			copy_publish(w);
	}
	return 0;
}

int overlay_copy_finish(struct overlay_stream *st, struct strata_err **err)
{
	struct overlay_copy_worker *w = st->copy_worker;
	if (!w || !w->started)
		return strata_err_set(err, STRATA_EIO, "seekable copy: writer not running");
	copy_publish(w);
	copy_worker_join(w, false);
	if (w->failed || w->count > 0)
		return copy_take_err(w, err);
	w->failed = true; /* from here on, an error is the copy's own */
	if (st->copy_frame_in > 0 && copy_compress(st, NULL, 0, ZSTD_e_end, err) < 0)
		return -1;
	size_t tlen = 0;
	cleanup_free unsigned char *table = overlay_seekable_table(st->copy_map, st->copy_written, &tlen);
	if (copy_write_all(st, table, tlen, err) < 0)
		return -1;
	if (fdatasync(st->copy_fd) < 0)
		return strata_err_sys(err, "sync %s", st->copy_tmp);
	int fd = steal_fd(&st->copy_fd);
	if (close(fd) < 0)
		return strata_err_sys(err, "close %s", st->copy_tmp);
	if (rename(st->copy_tmp, st->copy_path) < 0)
		return strata_err_sys(err, "rename %s", st->copy_tmp);
	free(st->copy_tmp);
	st->copy_tmp = NULL;
	st->copy_map->csize = st->copy_written;
	st->used_copy = true;
	w->failed = false;
	return 0;
}

bool overlay_stream_copy_failed(const struct overlay_stream *st)
{
	struct overlay_copy_worker *w = st->copy_worker;
	if (!w)
		return false;
	pthread_mutex_lock(&w->lock);
	bool failed = w->failed;
	pthread_mutex_unlock(&w->lock);
	return failed;
}

void overlay_copy_free(struct overlay_stream *st)
{
	copy_worker_free(st->copy_worker); /* joins the writer before its state goes */
	st->copy_worker = NULL;
	ZSTD_freeCCtx(st->zc);
	st->zc = NULL;
	free(st->copy_out);
	st->copy_out = NULL;
	if (st->copy_fd >= 0)
		close(st->copy_fd);
	st->copy_fd = -1;
	if (st->copy_tmp)
		unlink(st->copy_tmp);
	free(st->copy_tmp);
	st->copy_tmp = NULL;
}
