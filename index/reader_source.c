/* index/reader_source.c — rebuilding a layer's uncompressed tar source from the recipe the
 * builder stored (`source` and `checkpoint` tables), once per layer per open index. A recipe is
 * a short chain: file → range → decomp → range → decomp at most; anything deeper is corrupt.
 * A zstd decomp row with a path is a single-frame layer whose seekable copy is built lazily at
 * that path (len: its frame size), see lazy_copy_open. */
#include "reader_int.h"

#include <string.h>

#define SOURCE_MAX_DEPTH 8

static enum overlay_compression comp_from_name(const char *s)
{
	if (s && !strcmp(s, "gzip"))
		return OVERLAY_COMP_GZIP;
	if (s && !strcmp(s, "zstd"))
		return OVERLAY_COMP_ZSTD;
	return OVERLAY_COMP_NONE;
}

/* The seekmap of decomp source id. Owned or NULL with *err. */
static struct overlay_seekmap *seekmap_load(struct index_conn *c, int64_t id, enum overlay_compression comp,
					    uint64_t usize, uint64_t csize, struct strata_err **err)
{
	cleanup_reset sqlite3_stmt *st = reader_stmt(c, RS_CHECKPOINTS, err);
	if (!st)
		return NULL;
	struct overlay_seekmap *m = xcalloc(1, sizeof(*m));
	m->comp = comp;
	m->usize = usize;
	m->csize = csize;
	size_t cap = 0;
	sqlite3_bind_int64(st, 1, id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (m->n == cap) {
			cap = cap ? cap * 2 : 16;
			m->pts = xrealloc(m->pts, cap * sizeof(*m->pts));
		}
		struct overlay_checkpoint *p = &m->pts[m->n++];
		memset(p, 0, sizeof(*p));
		p->uoff = (uint64_t)sqlite3_column_int64(st, 0);
		p->coff = (uint64_t)sqlite3_column_int64(st, 1);
		p->bits = sqlite3_column_int(st, 2);
		const void *w = sqlite3_column_blob(st, 3);
		p->window_len = (size_t)sqlite3_column_bytes(st, 3);
		if (w && p->window_len) {
			p->window = xmalloc(p->window_len);
			memcpy(p->window, w, p->window_len);
		} else {
			p->window_len = 0;
		}
	}
	if (rc != SQLITE_DONE) {
		reader_sql_err(c, err, "checkpoints");
		overlay_seekmap_free(m);
		return NULL;
	}
	if (m->n == 0 || m->pts[0].uoff != 0) {
		strata_err_set(err, STRATA_EFORMAT, "index: source %lld has no access point at offset 0", (long long)id);
		overlay_seekmap_free(m);
		return NULL;
	}
	return m;
}

/* Opens the blob of a file source; a blob that is gone, unreadable or not the size the index
 * recorded (len; NULL in indexes of older builds) marks the index stale (issue 8). A size change
 * still opens: reads past the new end fail with EIO, the others are served. */
static struct overlay_source *source_file_open(struct index_db *db, struct index_conn *c, const char *path,
					       bool has_len, uint64_t len, struct strata_err **err)
{
	struct overlay_source *s = overlay_source_file_open(path, err);
	if (!s) {
		reader_stale_mark(db, c, path, err && *err ? (*err)->msg : "cannot open");
		return NULL;
	}
	if (has_len && overlay_source_size(s) != len) {
		char why[96];
		snprintf(why, sizeof(why), "%llu bytes, the index recorded %llu",
			 (unsigned long long)overlay_source_size(s), (unsigned long long)len);
		reader_stale_mark(db, c, path, why);
	}
	return s;
}

/* The blob sha256 the index recorded for the layer whose tar is source id, into sha. 0 or -1. */
static int lazy_copy_blob_sha(struct index_conn *c, int64_t id, unsigned char sha[32], struct strata_err **err)
{
	cleanup_finalize sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, "SELECT blob_sha256 FROM layer WHERE tar_source = ?", -1, &st, NULL) != SQLITE_OK)
		return reader_sql_err(c, err, "layer digest");
	sqlite3_bind_int64(st, 1, id);
	const char *hex = sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	if (hex && !strncmp(hex, "sha256:", 7))
		hex += 7;
	if (!hex || strlen(hex) != 64)
		return strata_err_set(err, STRATA_EFORMAT, "index: source %lld: no recorded blob sha256", (long long)id);
	for (int i = 0; i < 32; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return strata_err_set(err, STRATA_EFORMAT, "index: source %lld: bad blob sha256", (long long)id);
		sha[i] = (unsigned char)v;
	}
	return 0;
}

/* A zstd layer recorded with a lazy seekable copy (decomp row with path = the copy, len = its frame
 * size): the copy is opened, or built from the blob and checked against the recorded sha256, the
 * first time any reader of this process needs the layer. A blob that is no longer what the index
 * recorded marks the index stale. base is the blob's FILE source. Takes m. Owned or NULL with *err. */
static struct overlay_source *lazy_copy_open(struct index_db *db, struct index_conn *c, int64_t id,
					     struct overlay_source *base, struct overlay_seekmap *m, const char *path,
					     uint64_t span, struct strata_err **err)
{
	unsigned char sha[32];
	if (lazy_copy_blob_sha(c, id, sha, err) < 0) {
		overlay_seekmap_free(m);
		return NULL;
	}
	struct overlay_source *s = overlay_zstd_seekable_open(base, m, path, span, sha, err);
	/* Only a blob that is not what the index recorded makes the index stale; a read that failed
	 * (EIO, EMFILE…) fails this reader and the next one tries again. */
	if (!s && err && *err && strata_err_data_bad((*err)->code))
		reader_stale_mark(db, c, overlay_source_path(base), (*err)->msg);
	return s;
}

/* Builds source id and its bases. Owned or NULL with *err. */
static struct overlay_source *source_build(struct index_db *db, struct index_conn *c, int64_t id, int depth,
					   struct strata_err **err)
{
	if (depth > SOURCE_MAX_DEPTH) {
		strata_err_set(err, STRATA_EFORMAT, "index: source %lld: recipe nested too deep", (long long)id);
		return NULL;
	}
	char kind[16] = "", comp[16] = "";
	cleanup_free char *path = NULL;
	int64_t base_id = -1;
	uint64_t off, len, usize, csize;
	bool has_len;
	{
		cleanup_reset sqlite3_stmt *st = reader_stmt(c, RS_SOURCE, err);
		if (!st)
			return NULL;
		sqlite3_bind_int64(st, 1, id);
		int rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			if (rc == SQLITE_DONE)
				strata_err_set(err, STRATA_EFORMAT, "index: source %lld is missing", (long long)id);
			else
				reader_sql_err(c, err, "source");
			return NULL;
		}
		snprintf(kind, sizeof(kind), "%s", sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			base_id = sqlite3_column_int64(st, 1);
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			path = xstrdup((const char *)sqlite3_column_text(st, 2));
		off = (uint64_t)sqlite3_column_int64(st, 3);
		len = (uint64_t)sqlite3_column_int64(st, 4);
		has_len = sqlite3_column_type(st, 4) != SQLITE_NULL;
		snprintf(comp, sizeof(comp), "%s", sqlite3_column_text(st, 5) ? (const char *)sqlite3_column_text(st, 5) : "");
		usize = (uint64_t)sqlite3_column_int64(st, 6);
		csize = (uint64_t)sqlite3_column_int64(st, 7);
	}
	if (!strcmp(kind, "file")) {
		if (!path) {
			strata_err_set(err, STRATA_EFORMAT, "index: file source %lld has no path", (long long)id);
			return NULL;
		}
		return source_file_open(db, c, path, has_len, len, err);
	}
	if (base_id < 0 || base_id == id) {
		strata_err_set(err, STRATA_EFORMAT, "index: source %lld (%s) has no base", (long long)id, kind);
		return NULL;
	}
	struct overlay_source *base = source_build(db, c, base_id, depth + 1, err);
	if (!base)
		return NULL;
	struct overlay_source *s = NULL;
	if (!strcmp(kind, "range")) {
		s = overlay_source_range_new(base, off, len);
	} else if (!strcmp(kind, "decomp")) {
		enum overlay_compression cmp = comp_from_name(comp);
		struct overlay_seekmap *m = NULL;
		if (cmp == OVERLAY_COMP_NONE)
			strata_err_set(err, STRATA_EFORMAT, "index: source %lld: unknown compression '%s'", (long long)id,
				       comp);
		else
			m = seekmap_load(c, id, cmp, usize, csize, err);
		if (m && path && cmp == OVERLAY_COMP_ZSTD)
			s = lazy_copy_open(db, c, id, base, m, path, has_len ? len : 0, err);
		else if (m)
			s = overlay_source_decomp_new(base, m, err);
	} else {
		strata_err_set(err, STRATA_EFORMAT, "index: source %lld: unknown kind '%s'", (long long)id, kind);
	}
	overlay_source_unref(base);
	return s;
}

struct overlay_source *reader_layer_source(struct index_db *db, struct index_conn *c, int n, struct strata_err **err)
{
	if (n < 1 || n > db->nlayers) {
		strata_err_set(err, STRATA_EFORMAT, "index: no layer %d", n);
		return NULL;
	}
	pthread_mutex_lock(&db->lock);
	struct overlay_source *s = db->layer_src[n];
	pthread_mutex_unlock(&db->lock);
	if (s)
		return s;
	int64_t id = -1;
	{
		cleanup_reset sqlite3_stmt *st = reader_stmt(c, RS_LAYER_TAR_SOURCE, err);
		if (!st)
			return NULL;
		sqlite3_bind_int(st, 1, n);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
			id = sqlite3_column_int64(st, 0);
	}
	if (id < 0) {
		strata_err_set(err, STRATA_EFORMAT, "index: layer %d has no tar source", n);
		return NULL;
	}
	s = source_build(db, c, id, 0, err);
	if (!s) {
		strata_err_wrap(err, "layer %d", n);
		return NULL;
	}
	/* Two threads may build at once; the first to publish wins, the other drops its copy. */
	pthread_mutex_lock(&db->lock);
	if (db->layer_src[n]) {
		overlay_source_unref(s);
		s = db->layer_src[n];
	} else {
		db->layer_src[n] = s;
	}
	pthread_mutex_unlock(&db->lock);
	return s;
}

void reader_layer_sources_free(struct index_db *db)
{
	for (int i = 0; i <= db->nlayers; i++)
		overlay_source_unref(db->layer_src[i]);
	free(db->layer_src);
	db->layer_src = NULL;
}
