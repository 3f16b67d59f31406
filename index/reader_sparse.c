/* index/reader_sparse.c — reading sparse files (issue 3).
 *
 * A sparse tar entry stores only its data regions, back to back; the index pass recorded where
 * each one sits in the file and in the layer's uncompressed stream (the sparse table, see
 * index_int.h). This file maps a read of the file onto those regions and fills the holes between
 * them (and after the last one, up to the real size) with zeros, as `tar -x` writes the file.
 * index_db_read calls it for entries flagged sparse, so every view (/, /.layers, /.history)
 * serves the same bytes.
 *
 * The statement is prepared per call, not cached on the connection: sparse files are rare and
 * a read is a FUSE request of up to a few hundred KiB, next to which preparing is cheap.
 */
#include "reader_int.h"

#include <string.h>

/* The regions overlapping [?2, ?3) of entry ?1, in file order: the last one starting at or before
 * ?2 (found through the primary key) and those starting inside the range. */
#define SPARSE_SQL                                                                                  \
	"SELECT logical, length, stored FROM sparse WHERE entry = ?1 AND logical >= coalesce("     \
	"(SELECT max(logical) FROM sparse WHERE entry = ?1 AND logical <= ?2), 0) AND logical < ?3" \
	" ORDER BY logical"

/* Reads n bytes of region data at stream offset at into dst: 0, or -1 with *err (a read that
 * fails or ends early means the blob changed since indexing: the index is marked stale). */
static int sparse_pread(struct index_db *db, struct index_conn *c, struct overlay_source *src, int layer,
			unsigned char *dst, size_t n, uint64_t at, struct strata_err **err)
{
	while (n > 0) {
		ssize_t got = overlay_source_pread(src, dst, n, at, err);
		if (got < 0) {
			reader_stale_check_read(db, c, src, err && *err ? (*err)->code : STRATA_EIO,
						err && *err ? (*err)->msg : "read failed");
			return strata_err_wrap(err, "layer %d", layer);
		}
		if (got == 0) {
			reader_stale_check_read(db, c, src, STRATA_EFORMAT, "it ends before data the index recorded");
			return strata_err_set(err, STRATA_EFORMAT, "layer %d: tar data ends at %llu, before a sparse"
					      " region's end", layer, (unsigned long long)at);
		}
		dst += got, n -= (size_t)got, at += (uint64_t)got;
	}
	return 0;
}

ssize_t reader_sparse_read(struct index_db *db, struct index_conn *c, int64_t entry_id, int layer, void *buf,
			   size_t len, uint64_t off, struct strata_err **err)
{
	cleanup_finalize sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c->db, SPARSE_SQL, -1, &st, NULL) != SQLITE_OK)
		return reader_sql_err(c, err, "sparse map");
	uint64_t end = off + len;
	sqlite3_bind_int64(st, 1, entry_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)off);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)end);
	unsigned char *out = buf;
	uint64_t done = off; /* bytes before this are filled */
	struct overlay_source *src = NULL;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t logical = (uint64_t)sqlite3_column_int64(st, 0);
		uint64_t length = (uint64_t)sqlite3_column_int64(st, 1);
		uint64_t stored = (uint64_t)sqlite3_column_int64(st, 2);
		uint64_t from = logical > done ? logical : done;
		uint64_t to = logical + length < end ? logical + length : end;
		if (from >= to)
			continue; /* the region ends before the range (the one found at or before off) */
		memset(out + (done - off), 0, (size_t)(from - done)); /* the hole before it */
		if (!src && !(src = reader_layer_source(db, c, layer, err)))
			return -1;
		if (sparse_pread(db, c, src, layer, out + (from - off), (size_t)(to - from), stored + (from - logical),
				 err) < 0)
			return -1;
		done = to;
	}
	if (rc != SQLITE_DONE)
		return reader_sql_err(c, err, "sparse map");
	memset(out + (done - off), 0, (size_t)(end - done)); /* the hole after the last region */
	return (ssize_t)len;
}
