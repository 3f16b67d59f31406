/* index/reader_sparse.c — reading sparse files (issue 3).
 *
 * A sparse tar entry stores only its data regions, back to back; the index pass recorded where
 * each one sits in the file and in the layer's uncompressed stream (the sparse table, see
 * index_int.h). This file maps a read of the file onto those regions and fills the holes between
 * them (and after the last one, up to the real size) with zeros, as `tar -x` writes the file.
 * index_db_read calls it for entries flagged sparse, so every view (/, /.layers, /.history)
 * serves the same bytes.
 *
 * The map query is the connection's cached statement RS_SPARSE (reader.c); region bytes are read
 * with reader_pread_exact, as index_db_read reads a plain file's.
 */
#include "reader_int.h"

#include <string.h>

ssize_t reader_sparse_read(struct index_db *db, struct index_conn *c, int64_t entry_id, int layer, void *buf,
			   size_t len, uint64_t off, struct strata_err **err)
{
	cleanup_reset sqlite3_stmt *st = reader_stmt(c, RS_SPARSE, err);
	if (!st)
		return -1;
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
		if (reader_pread_exact(db, c, src, layer, out + (from - off), (size_t)(to - from),
				       stored + (from - logical), "a sparse region's end", err) < 0)
			return -1;
		done = to;
	}
	if (rc != SQLITE_DONE)
		return reader_sql_err(c, err, "sparse map");
	memset(out + (done - off), 0, (size_t)(end - done)); /* the hole after the last region */
	return (ssize_t)len;
}
