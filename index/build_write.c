/* index/build_write.c — the single SQLite writer of the index pass, and the queue that feeds it.
 *
 * Workers push batches of entry records (and, last for each layer, the layer's result); the writer
 * (the thread that called index_build) inserts them inside one transaction. The queue is bounded so
 * a fast decompressor cannot outrun SQLite by more than a few thousand records.
 */
#include "index_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define QUEUE_MAX 32

int index_sql_exec(sqlite3 *db, const char *sql, struct strata_err **err)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		strata_err_set(err, STRATA_EIO, "sqlite: %s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int index_sql_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct strata_err **err)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "sqlite: %s (%s)", sqlite3_errmsg(db), sql);
	return 0;
}

void index_queue_push(struct index_build *b, struct index_batch *batch)
{
	pthread_mutex_lock(&b->lock);
	while (b->queued >= QUEUE_MAX && !atomic_load(&b->failed))
		pthread_cond_wait(&b->cond_space, &b->lock);
	batch->next = NULL;
	if (b->tail)
		b->tail->next = batch;
	else
		b->head = batch;
	b->tail = batch;
	b->queued++;
	pthread_cond_signal(&b->cond_nonempty);
	pthread_mutex_unlock(&b->lock);
}

void index_build_fail(struct index_build *b, struct strata_err *e)
{
	pthread_mutex_lock(&b->lock);
	if (!b->err)
		b->err = e;
	else
		strata_err_free(e);
	atomic_store(&b->failed, true);
	pthread_cond_broadcast(&b->cond_space);
	pthread_cond_broadcast(&b->cond_nonempty);
	pthread_mutex_unlock(&b->lock);
}

struct writer {
	struct index_build *b;
	sqlite3_stmt *ins_entry, *ins_xattr, *ins_problem, *ins_layer, *ins_source, *ins_checkpoint, *ins_sparse;
	/* source objects already written (shared bases such as a compressed outer archive) */
	size_t nsrc;
	const struct overlay_source **src_ptr;
	int64_t *src_id;
};

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static int step_done(sqlite3 *db, sqlite3_stmt *st, struct strata_err **err)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return strata_err_set(err, STRATA_EIO, "sqlite: %s", sqlite3_errmsg(db));
	return 0;
}

static int write_rec(struct writer *w, const struct index_rec *r, struct strata_err **err)
{
	sqlite3 *db = w->b->db;
	sqlite3_stmt *st = w->ins_entry;
	char hex[65];
	sqlite3_bind_int64(st, 1, r->id);
	sqlite3_bind_int(st, 2, r->layer);
	sqlite3_bind_int64(st, 3, r->seq);
	bind_text_or_null(st, 4, r->path);
	sqlite3_bind_blob(st, 5, r->raw_path, (int)strlen(r->raw_path), SQLITE_STATIC);
	sqlite3_bind_text(st, 6, overlay_entry_type_name(r->type), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, r->mode);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)r->uid);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)r->gid);
	bind_text_or_null(st, 10, r->uname);
	bind_text_or_null(st, 11, r->gname);
	sqlite3_bind_int64(st, 12, (sqlite3_int64)r->size);
	sqlite3_bind_int64(st, 13, r->mtime);
	sqlite3_bind_int64(st, 14, r->mtime_nsec);
	bind_text_or_null(st, 15, r->link_target);
	sqlite3_bind_int64(st, 16, r->devmajor);
	sqlite3_bind_int64(st, 17, r->devminor);
	sqlite3_bind_int64(st, 18, (sqlite3_int64)r->data_offset);
	if (r->has_sha) {
		strata_hex(r->sha, 32, hex);
		sqlite3_bind_text(st, 19, hex, 64, SQLITE_TRANSIENT);
	} else {
		sqlite3_bind_null(st, 19);
	}
	sqlite3_bind_int(st, 20, r->sparse);
	sqlite3_bind_int(st, 21, r->whiteout);
	if (step_done(db, st, err) < 0)
		return -1;
	for (size_t i = 0; i < r->nxattrs; i++) {
		sqlite3_bind_int64(w->ins_xattr, 1, r->id);
		sqlite3_bind_text(w->ins_xattr, 2, r->xattrs[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_blob(w->ins_xattr, 3, r->xattrs[i].value, (int)r->xattrs[i].len, SQLITE_STATIC);
		if (step_done(db, w->ins_xattr, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < r->nsparse; i++) {
		sqlite3_bind_int64(w->ins_sparse, 1, r->id);
		sqlite3_bind_int64(w->ins_sparse, 2, (sqlite3_int64)r->sparse_map[i].logical);
		sqlite3_bind_int64(w->ins_sparse, 3, (sqlite3_int64)r->sparse_map[i].length);
		sqlite3_bind_int64(w->ins_sparse, 4, (sqlite3_int64)r->sparse_map[i].stored);
		if (step_done(db, w->ins_sparse, err) < 0)
			return -1;
	}
	if (r->problem || r->sparse) {
		/* Sparse files are served whole (holes read as zeros) and flagged here (issue 2). */
		char msg[160] = "";
		if (!r->problem && r->type == OVERLAY_T_REG && !r->has_sha)
			snprintf(msg, sizeof(msg), "sparse file: %llu of %llu bytes stored; holes over the pass's"
				 " hashing budget of %llu MiB, no sha256", (unsigned long long)index_sparse_stored(r),
				 (unsigned long long)r->size, INDEX_SPARSE_HOLES_HASH_MAX >> 20);
		else if (!r->problem)
			snprintf(msg, sizeof(msg), "sparse file: %llu of %llu bytes stored",
				 (unsigned long long)index_sparse_stored(r), (unsigned long long)r->size);
		sqlite3_bind_int(w->ins_problem, 1, r->layer);
		sqlite3_bind_int64(w->ins_problem, 2, r->id);
		sqlite3_bind_blob(w->ins_problem, 3, r->raw_path, (int)strlen(r->raw_path), SQLITE_STATIC);
		sqlite3_bind_text(w->ins_problem, 4, r->problem ? "path" : "sparse", -1, SQLITE_STATIC);
		sqlite3_bind_text(w->ins_problem, 5, r->problem ? r->problem : msg, -1, SQLITE_TRANSIENT);
		if (step_done(db, w->ins_problem, err) < 0)
			return -1;
		w->b->problems++;
	}
	w->b->entries++;
	return 0;
}

/* Inserts one source row (and, for a decomp source, its access points); returns its id. path and
 * len: a file's path (made absolute; it must exist), a range's window, or for a decomp source that
 * gets a lazy seekable copy the copy's path (it need not exist yet) and frame size. */
static int64_t write_source_row(struct writer *w, enum overlay_source_kind kind, int64_t base, const char *path,
				uint64_t off, uint64_t len, const struct overlay_seekmap *map, struct strata_err **err)
{
	sqlite3_stmt *st = w->ins_source;
	static const char *const kinds[] = {[OVERLAY_SRC_FILE] = "file", [OVERLAY_SRC_RANGE] = "range",
					    [OVERLAY_SRC_DECOMP] = "decomp"};
	sqlite3_bind_text(st, 1, kinds[kind], -1, SQLITE_STATIC);
	if (base)
		sqlite3_bind_int64(st, 2, base);
	/* Absolute, so a mount started from another directory finds the blobs again. */
	cleanup_free char *real = kind == OVERLAY_SRC_FILE && path ? realpath(path, NULL) : NULL;
	if (kind == OVERLAY_SRC_FILE && path && !real)
		return strata_err_sys(err, "%s", path);
	bind_text_or_null(st, 3, kind == OVERLAY_SRC_FILE ? real : path);
	/* A file's size as indexed: the reader marks the index stale when it differs (issue 8). */
	struct stat fst;
	if (kind == OVERLAY_SRC_FILE && real && stat(real, &fst) == 0)
		sqlite3_bind_int64(st, 5, (sqlite3_int64)fst.st_size);
	if (kind == OVERLAY_SRC_RANGE) {
		sqlite3_bind_int64(st, 4, (sqlite3_int64)off);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)len);
	} else if (kind == OVERLAY_SRC_DECOMP && path) {
		sqlite3_bind_int64(st, 5, (sqlite3_int64)len);
	}
	if (map) {
		sqlite3_bind_text(st, 6, overlay_compression_name(map->comp), -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, (sqlite3_int64)map->usize);
		sqlite3_bind_int64(st, 8, (sqlite3_int64)map->csize);
	}
	if (step_done(w->b->db, st, err) < 0)
		return -1;
	int64_t id = sqlite3_last_insert_rowid(w->b->db);
	for (size_t i = 0; map && i < map->n; i++) {
		const struct overlay_checkpoint *c = &map->pts[i];
		sqlite3_bind_int64(w->ins_checkpoint, 1, id);
		sqlite3_bind_int64(w->ins_checkpoint, 2, (sqlite3_int64)i);
		sqlite3_bind_int64(w->ins_checkpoint, 3, (sqlite3_int64)c->uoff);
		sqlite3_bind_int64(w->ins_checkpoint, 4, (sqlite3_int64)c->coff);
		sqlite3_bind_int(w->ins_checkpoint, 5, c->bits);
		if (c->window_len)
			sqlite3_bind_blob(w->ins_checkpoint, 6, c->window, (int)c->window_len, SQLITE_STATIC);
		if (step_done(w->b->db, w->ins_checkpoint, err) < 0)
			return -1;
	}
	return id;
}

/* Writes the recipe of a live byte-source stack, bases first, each object once (a compressed
 * outer archive is the base of every layer); returns the row id of s. The image keeps these
 * sources alive for the whole build, so their addresses are stable keys. */
static int64_t write_source(struct writer *w, const struct overlay_source *s, struct strata_err **err)
{
	for (size_t i = 0; i < w->nsrc; i++)
		if (w->src_ptr[i] == s)
			return w->src_id[i];
	int64_t base = 0;
	const struct overlay_source *bs = overlay_source_base(s);
	if (bs && (base = write_source(w, bs, err)) < 0)
		return -1;
	uint64_t off = 0, len = 0;
	enum overlay_source_kind kind = overlay_source_kind(s);
	if (kind == OVERLAY_SRC_RANGE)
		overlay_source_range(s, &off, &len);
	int64_t id = write_source_row(w, kind, base, kind == OVERLAY_SRC_FILE ? overlay_source_path(s) : NULL, off,
				      len, kind == OVERLAY_SRC_DECOMP ? overlay_source_seekmap(s) : NULL, err);
	if (id < 0)
		return -1;
	w->src_ptr = xrealloc(w->src_ptr, (w->nsrc + 1) * sizeof(*w->src_ptr));
	w->src_id = xrealloc(w->src_id, (w->nsrc + 1) * sizeof(*w->src_id));
	w->src_ptr[w->nsrc] = s;
	w->src_id[w->nsrc++] = id;
	return id;
}

/* The recipe of a layer's uncompressed tar: the blob itself when raw, else a decomp source over the
 * blob with the access points just found. A single-frame zstd blob's row also holds where its
 * seekable copy goes (path, built on first random access) and the copy's frame size (len, the
 * span); the reader hands these to overlay_zstd_seekable_open. */
static int64_t write_layer_sources(struct writer *w, const struct overlay_layer_info *li,
				   const struct index_layer_result *res, struct strata_err **err)
{
	int64_t blob = write_source(w, li->blob, err);
	if (blob < 0 || !res->map)
		return blob;
	return write_source_row(w, OVERLAY_SRC_DECOMP, blob, res->seekable_copy, 0, res->copy_span, res->map, err);
}

static void digest_str(const unsigned char sha[32], char out[72])
{
	memcpy(out, "sha256:", 7);
	strata_hex(sha, 32, out + 7);
}

static int write_layer(struct writer *w, struct index_layer_result *res, struct strata_err **err)
{
	struct index_build *b = w->b;
	const struct overlay_layer_info *li = overlay_image_layer(b->img, (size_t)res->layer - 1);
	char blob_digest[72], tar_digest[72];
	digest_str(res->csha, blob_digest);
	digest_str(res->usha, tar_digest);
	int digest_ok = -1, diff_ok = -1;
	if (li->digest)
		digest_ok = strcmp(li->digest, blob_digest) == 0;
	if (li->diff_id)
		diff_ok = strcmp(li->diff_id, tar_digest) == 0;
	if ((digest_ok == 0 || diff_ok == 0) && !b->opts->allow_digest_mismatch) {
		if (digest_ok == 0)
			return strata_err_set(err, STRATA_EDIGEST, "layer %d (%s): digest mismatch: expected %s, found %s",
					      res->layer, li->location, li->digest, blob_digest);
		return strata_err_set(err, STRATA_EDIGEST, "layer %d (%s): diff_id mismatch: expected %s, found %s",
				      res->layer, li->location, li->diff_id, tar_digest);
	}
	int64_t tar_source = write_layer_sources(w, li, res, err);
	if (tar_source < 0)
		return strata_err_wrap(err, "layer %d", res->layer);
	sqlite3_stmt *st = w->ins_layer;
	sqlite3_bind_int(st, 1, res->layer);
	bind_text_or_null(st, 2, li->digest);
	bind_text_or_null(st, 3, li->diff_id);
	bind_text_or_null(st, 4, li->media_type);
	sqlite3_bind_text(st, 5, overlay_compression_name(li->compression), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)res->csize);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)res->usize);
	sqlite3_bind_text(st, 8, blob_digest, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 9, tar_digest, -1, SQLITE_TRANSIENT);
	if (digest_ok >= 0)
		sqlite3_bind_int(st, 10, digest_ok);
	if (diff_ok >= 0)
		sqlite3_bind_int(st, 11, diff_ok);
	bind_text_or_null(st, 12, li->location);
	sqlite3_bind_int64(st, 13, tar_source);
	sqlite3_bind_int64(st, 14, (sqlite3_int64)res->entries);
	bind_text_or_null(st, 15, res->seekable_copy);
	if (step_done(b->db, st, err) < 0)
		return -1;
	struct index_layer_summary *ls = &b->layer_sums[res->layer - 1];
	snprintf(ls->digest, sizeof(ls->digest), "%s", li->digest ? li->digest : tar_digest);
	snprintf(ls->compression, sizeof(ls->compression), "%s", overlay_compression_name(li->compression));
	ls->compressed_size = res->csize;
	ls->size = res->usize;
	ls->entries = res->entries;
	const struct index_scanner_ops *sc = b->opts->scanner;
	if (sc && res->scan_state) {
		void *state = steal_pointer(&res->scan_state);
		int rc = sc->layer_end(state, b->db, err);
		sc->layer_free(state);
		if (rc < 0)
			return strata_err_wrap(err, "layer %d: scanner", res->layer);
	}
	return 0;
}

static void report_progress(struct index_build *b, struct timespec *last, const struct timespec *start, bool force)
{
	if (!b->opts->progress)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double since = (double)(now.tv_sec - last->tv_sec) + (double)(now.tv_nsec - last->tv_nsec) / 1e9;
	if (!force && since < 0.1)
		return;
	*last = now;
	struct index_progress p = {.total = b->total_compressed};
	pthread_mutex_lock(&b->lock);
	p.done = b->done_compressed;
	for (size_t i = 0; i < b->nlayers; i++)
		if (b->streams[i])
			p.done += overlay_stream_progress(b->streams[i]);
	pthread_mutex_unlock(&b->lock);
	p.seconds = (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
	b->opts->progress(b->opts->progress_ctx, &p);
}

static void writer_free(struct writer *w)
{
	sqlite3_finalize(w->ins_entry);
	sqlite3_finalize(w->ins_xattr);
	sqlite3_finalize(w->ins_problem);
	sqlite3_finalize(w->ins_layer);
	sqlite3_finalize(w->ins_source);
	sqlite3_finalize(w->ins_checkpoint);
	sqlite3_finalize(w->ins_sparse);
	free(w->src_ptr);
	free(w->src_id);
}

/* True while a worker still reads a layer or a batch waits: the pass is not at its end. */
static bool writer_more_to_come(struct index_build *b)
{
	pthread_mutex_lock(&b->lock);
	bool more = b->workers_running > 0 || b->head;
	pthread_mutex_unlock(&b->lock);
	return more;
}

/* Commits what is stored so far and opens the next transaction, so the pages of a finished layer
 * (its entries, views and scanner rows) reach the temporary file while other layers are still
 * being read, instead of all in the final commit at the serial end of the pass. Crash-safe as the
 * single transaction was: the file is only renamed into place, with meta complete = 1, at the
 * end, and a dead run's temporary file is removed by the next run. */
static int writer_checkpoint(struct index_build *b, struct strata_err **err)
{
	return index_sql_exec(b->db, "COMMIT; BEGIN", err);
}

int index_writer_run(struct index_build *b, struct strata_err **err)
{
	struct writer w = {.b = b};
	int rc = -1;
	if (index_sql_prepare(b->db, "INSERT INTO entry VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			      &w.ins_entry, err) < 0 ||
	    index_sql_prepare(b->db, "INSERT OR REPLACE INTO xattr VALUES(?,?,?)", &w.ins_xattr, err) < 0 ||
	    index_sql_prepare(b->db, "INSERT INTO problem(layer, entry, path, kind, message) VALUES(?,?,?,?,?)",
			      &w.ins_problem, err) < 0 ||
	    index_sql_prepare(b->db, "INSERT INTO layer VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &w.ins_layer, err) < 0 ||
	    index_sql_prepare(b->db, "INSERT INTO source(kind, base, path, off, len, comp, usize, csize)"
				     " VALUES(?,?,?,?,?,?,?,?)", &w.ins_source, err) < 0 ||
	    index_sql_prepare(b->db, "INSERT INTO checkpoint VALUES(?,?,?,?,?,?)", &w.ins_checkpoint, err) < 0 ||
	    index_sql_prepare(b->db, "INSERT INTO sparse VALUES(?,?,?,?)", &w.ins_sparse, err) < 0) {
		index_build_fail(b, NULL);
		goto out;
	}
	struct timespec start, last;
	clock_gettime(CLOCK_MONOTONIC, &start);
	last = start;
	report_progress(b, &last, &start, true);
	for (;;) {
		pthread_mutex_lock(&b->lock);
		while (!b->head && b->workers_running > 0) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 100 * 1000 * 1000;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&b->cond_nonempty, &b->lock, &until);
			if (!b->head) {
				pthread_mutex_unlock(&b->lock);
				report_progress(b, &last, &start, false);
				pthread_mutex_lock(&b->lock);
			}
		}
		struct index_batch *batch = b->head;
		if (batch) {
			b->head = batch->next;
			if (!b->head)
				b->tail = NULL;
			b->queued--;
			pthread_cond_signal(&b->cond_space);
		}
		pthread_mutex_unlock(&b->lock);
		if (!batch)
			break; /* all workers ended and the queue is empty */
		if (!atomic_load(&b->failed)) {
			struct strata_err *e = NULL;
			int r = 0;
			for (size_t i = 0; i < batch->n && r == 0; i++)
				r = write_rec(&w, &batch->recs[i], &e);
			if (r == 0 && batch->result)
				r = write_layer(&w, batch->result, &e);
			/* Views whose layers are all stored are computed now, while others are read. */
			if (r == 0 && batch->result && index_merge_layer_stored(b, batch->result->layer, &e) < 0)
				r = strata_err_wrap(&e, "layer %d: views", batch->result->layer);
			if (r == 0 && batch->result && writer_more_to_come(b))
				r = writer_checkpoint(b, &e);
			if (r < 0)
				index_build_fail(b, e);
		}
		if (batch->result && batch->result->scan_state && b->opts->scanner)
			b->opts->scanner->layer_free(batch->result->scan_state);
		index_batch_free(batch);
		report_progress(b, &last, &start, false);
	}
	report_progress(b, &last, &start, true);
	rc = atomic_load(&b->failed) ? -1 : 0;
out:
	writer_free(&w);
	return rc;
}
