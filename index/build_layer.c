/* index/build_layer.c — one layer worker of the index pass.
 *
 * A worker takes the next layer, streams its blob once (decompressing, recording access points and
 * digests in overlay_stream), walks the tar, hashes every regular file's content, feeds the content
 * scanner, and hands records to the single writer in batches. It never touches SQLite.
 */
#include "index_int.h"

#include <string.h>

#define BATCH_SIZE 1024

struct layer_walk {
	struct index_build *b;
	int layer;
	int64_t seq;
	struct index_batch *batch;
	struct index_rec *cur; /* pending record (points into batch) */
	struct overlay_stream *st;
	struct overlay_sha256 md; /* the current file's digest; its data shares a pass with the diff_id */
	bool hashing;
	void *scan_state;
	bool scanning;
	uint64_t holes_hashed; /* zeros hashed for sparse files' holes (build_sparse.c's budget) */
};

void index_rec_clear(struct index_rec *r)
{
	free(r->path);
	free(r->raw_path);
	free(r->uname);
	free(r->gname);
	free(r->link_target);
	for (size_t i = 0; i < r->nxattrs; i++) {
		free(r->xattrs[i].name);
		free(r->xattrs[i].value);
	}
	free(r->xattrs);
	free(r->sparse_map);
	memset(r, 0, sizeof(*r));
}

void index_batch_free(struct index_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		index_rec_clear(&b->recs[i]);
	free(b->recs);
	if (b->result) {
		overlay_seekmap_free(b->result->map);
		free(b->result->seekable_copy);
		free(b->result);
	}
	free(b);
}

static struct index_batch *batch_new(void)
{
	struct index_batch *batch = xcalloc(1, sizeof(*batch));
	batch->cap = BATCH_SIZE;
	batch->recs = xcalloc(batch->cap, sizeof(*batch->recs));
	return batch;
}

static void walk_flush(struct layer_walk *w, bool force)
{
	if (w->cur)
		return; /* a record is still being filled */
	if (w->batch && (force || w->batch->n == w->batch->cap)) {
		index_queue_push(w->b, w->batch);
		w->batch = NULL;
	}
}

/* Whiteout kind from the last path component: 2 opaque marker, 1 whiteout, 0 none. */
static int whiteout_kind(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (!strcmp(base, ".wh..wh..opq"))
		return 2;
	return strncmp(base, ".wh.", 4) == 0 ? 1 : 0;
}

static void finish_current(struct layer_walk *w)
{
	struct index_rec *r = w->cur;
	if (!r)
		return;
	if (w->hashing) {
		if (r->sparse)
			index_sparse_hash_end(r, &w->md);
		overlay_sha256_final(&w->md, r->sha);
		r->has_sha = true;
		w->hashing = false;
	}
	if (w->scanning) {
		w->b->opts->scanner->file_end(w->scan_state);
		w->scanning = false;
	}
	w->cur = NULL;
	walk_flush(w, false);
}

static int on_entry(void *ctx, const struct overlay_tar_entry *e, struct strata_err **err)
{
	struct layer_walk *w = ctx;
	finish_current(w);
	if (atomic_load(&w->b->failed))
		return strata_err_set(err, STRATA_EIO, "stopped");
	if (w->seq >= INDEX_MAX_ENTRIES_PER_LAYER)
		return strata_err_set(err, STRATA_ELIMIT, "more than %lld entries in one layer",
				      (long long)INDEX_MAX_ENTRIES_PER_LAYER);
	if (!w->batch)
		w->batch = batch_new();
	struct index_rec *r = &w->batch->recs[w->batch->n++];
	memset(r, 0, sizeof(*r));
	r->layer = w->layer;
	r->seq = w->seq++;
	r->id = INDEX_ENTRY_ID(w->layer, r->seq);
	r->raw_path = xstrdup(e->path);
	const char *problem = NULL;
	if (overlay_path_normalize(e->path, &r->path, &problem) != 0)
		r->problem = problem ? problem : "hostile path";
	r->type = e->type;
	r->mode = e->mode & 07777;
	r->uid = e->uid;
	r->gid = e->gid;
	r->uname = e->uname ? xstrdup(e->uname) : NULL;
	r->gname = e->gname ? xstrdup(e->gname) : NULL;
	r->size = e->real_size; /* a sparse file's real size */
	r->mtime = e->mtime;
	r->mtime_nsec = e->mtime_nsec;
	r->link_target = e->link_target ? xstrdup(e->link_target) : NULL;
	r->devmajor = e->devmajor;
	r->devminor = e->devminor;
	r->data_offset = e->data_offset;
	r->sparse = e->sparse;
	r->whiteout = r->path ? whiteout_kind(r->path) : 0;
	if (e->nxattrs) {
		r->nxattrs = e->nxattrs;
		r->xattrs = xcalloc(e->nxattrs, sizeof(*r->xattrs));
		for (size_t i = 0; i < e->nxattrs; i++) {
			r->xattrs[i].name = xstrdup(e->xattrs[i].name);
			r->xattrs[i].value = xmalloc(e->xattrs[i].len);
			memcpy(r->xattrs[i].value, e->xattrs[i].value, e->xattrs[i].len);
			r->xattrs[i].len = e->xattrs[i].len;
		}
	}
	w->cur = r;
	if (r->type == OVERLAY_T_REG && (!r->sparse || index_sparse_hash_begin(e, &w->holes_hashed))) {
		if (overlay_sha256_init(&w->md) < 0)
			return strata_err_set(err, STRATA_EIO, "sha256 unavailable");
		w->hashing = true;
	}
	const struct index_scanner_ops *sc = w->b->opts->scanner;
	if (sc && w->scan_state && r->type == OVERLAY_T_REG) {
		struct index_scan_entry se = {
			.layer = w->layer, .entry_id = r->id, .path = r->path ? r->path : r->raw_path,
			.type = r->type, .size = r->size,
		};
		w->scanning = sc->file_begin(w->scan_state, &se) != 0;
	}
	return 0;
}

static int on_data(void *ctx, const void *buf, size_t len, struct strata_err **err)
{
	(void)err;
	struct layer_walk *w = ctx;
	if (w->hashing)
		overlay_stream_hash_along(w->st, &w->md, buf, len);
	if (w->scanning)
		w->b->opts->scanner->file_data(w->scan_state, buf, len);
	return 0;
}

/* A stored block of a sparse file: its map and hash (zeros for the hole before it) in build_sparse.c. */
static int on_sparse_data(void *ctx, uint64_t file_off, uint64_t stream_off, const void *buf, size_t len,
			  struct strata_err **err)
{
	(void)err;
	struct layer_walk *w = ctx;
	index_sparse_add(w->cur, w->hashing ? &w->md : NULL, file_off, stream_off, buf, len);
	if (w->scanning)
		w->b->opts->scanner->file_data(w->scan_state, buf, len);
	return 0;
}

static int on_entry_end(void *ctx, struct strata_err **err)
{
	(void)err;
	finish_current(ctx);
	return 0;
}

/* Where a single-frame zstd layer's seekable copy will go (built on first random access):
 * content-addressed by the sha256 of the blob's bytes as this pass read them (the manifest's digest
 * when it matches), so rebuilds and other indexes of the same blob share it, and a copy found there
 * is always of these bytes (a rootfs tar rewritten in place gets another name). */
static char *seekable_copy_path(const struct index_build *b, const unsigned char blob_sha[32])
{
	/* Absolute, so a mount started from another directory finds it (the cache dir exists). */
	cleanup_free char *dir = realpath(b->cache_dir, NULL);
	if (!dir)
		dir = xstrdup(b->cache_dir);
	char hex[65];
	strata_hex(blob_sha, 32, hex);
	return xasprintf("%s/seekable/%s.zst", dir, hex);
}

static int index_one_layer(struct index_build *b, int layer, struct strata_err **err)
{
	const struct overlay_layer_info *li = overlay_image_layer(b->img, (size_t)layer - 1);
	/* No seekable copy is written here: the layer only records where it will go, and the first
	 * reader that needs random access builds it (overlay_zstd_seekable_open). */
	struct overlay_stream_opts so = {.span = b->opts->span, .max_ratio = 0};
	struct overlay_stream *st = overlay_stream_open(li->blob, li->compression, &so, err);
	if (!st)
		return -1;
	/* Decompression and the layer digests on a second thread, tar parsing, file hashes and
	 * scanners on this one: a large layer alone then keeps two cores busy. */
	if (b->opts->jobs != 1) {
		cleanup_err struct strata_err *ahead_err = NULL;
		overlay_stream_read_ahead(st, &ahead_err); /* on failure: decoded in this thread */
	}
	pthread_mutex_lock(&b->lock);
	b->streams[layer - 1] = st;
	pthread_mutex_unlock(&b->lock);

	struct layer_walk w = {.b = b, .layer = layer, .st = st};
	const struct index_scanner_ops *sc = b->opts->scanner;
	if (sc)
		w.scan_state = sc->layer_begin(sc->ctx, layer);
	struct overlay_tar_callbacks cb = {.entry = on_entry, .data = on_data, .entry_end = on_entry_end,
					     .sparse_data = on_sparse_data};
	int rc = overlay_tar_walk(st, &cb, &w, err);
	finish_current(&w);
	if (rc == 0)
		rc = overlay_stream_finish(st, err);
	overlay_sha256_dispose(&w.md);
	if (rc == 0) {
		if (!w.batch)
			w.batch = batch_new();
		struct index_layer_result *res = xcalloc(1, sizeof(*res));
		res->layer = layer;
		overlay_stream_digests(st, res->csha, res->usha);
		res->csize = overlay_stream_csize(st);
		res->usize = overlay_stream_usize(st);
		res->entries = (uint64_t)w.seq;
		res->map = overlay_stream_take_seekmap(st);
		res->copy_span = overlay_seekmap_copy_span(res->map, b->opts->span);
		if (res->copy_span)
			res->seekable_copy = seekable_copy_path(b, res->csha);
		res->scan_state = w.scan_state; /* the writer stores the findings, then frees it */
		w.batch->result = res;
		index_queue_push(b, steal_pointer(&w.batch));
	} else {
		index_batch_free(w.batch);
	}
	if (rc != 0 && sc && w.scan_state)
		sc->layer_free(w.scan_state);
	pthread_mutex_lock(&b->lock);
	b->done_compressed += overlay_stream_progress(st);
	b->streams[layer - 1] = NULL;
	pthread_mutex_unlock(&b->lock);
	overlay_stream_free(st);
	if (rc != 0)
		return strata_err_wrap(err, "layer %d (%s)", layer, li->location ? li->location : "?");
	return 0;
}

void *index_layer_worker(void *arg)
{
	struct index_build *b = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&b->next_layer, 1);
		if (i >= b->nlayers || atomic_load(&b->failed))
			break;
		struct strata_err *e = NULL;
		if (index_one_layer(b, (int)i + 1, &e) < 0) {
			index_build_fail(b, e);
			break;
		}
	}
	pthread_mutex_lock(&b->lock);
	b->workers_running--;
	pthread_cond_broadcast(&b->cond_nonempty);
	pthread_mutex_unlock(&b->lock);
	return NULL;
}
