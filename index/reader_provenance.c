/* index/reader_provenance.c — provenance of a path for the user.strata.added and
 * user.strata.findings xattrs (issue 7): which layer first held the path, how many findings the
 * secret scanner recorded on it. Each call opens its own read-only connection (xattr reads are rare). */
#include "index_int.h"

#include <string.h>

static void provenance_closep(sqlite3 **c)
{
	if (*c)
		sqlite3_close(*c);
}

int index_db_provenance(struct index_db *db, int64_t entry_id, int *added, int64_t *findings, struct strata_err **err)
{
	*added = 0;
	*findings = 0;
	__attribute__((cleanup(provenance_closep))) sqlite3 *c = NULL;
	if (sqlite3_open_v2(index_db_path(db), &c, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "%s: cannot open", index_db_path(db));
	cleanup_stmt sqlite3_stmt *st = NULL;
	if (index_sql_prepare(c, "SELECT min(layer) FROM entry WHERE whiteout = 0 AND path = (SELECT path FROM entry"
				 " WHERE id = ?)", &st, err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, entry_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		*added = sqlite3_column_int(st, 0);
	static const char *const tables[] = {"secret_finding", "secret_findings", "secret", "finding", "findings"};
	static const char *const cols[] = {"entry", "entry_id"};
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (size_t k = 0; k < 2; k++) {
			char sql[128];
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s = ?", tables[t], cols[k]);
			cleanup_stmt sqlite3_stmt *q = NULL;
			if (sqlite3_prepare_v2(c, sql, -1, &q, NULL) != SQLITE_OK)
				continue;
			sqlite3_bind_int64(q, 1, entry_id);
			if (sqlite3_step(q) == SQLITE_ROW)
				*findings = sqlite3_column_int64(q, 0);
			return 0;
		}
	return 0;
}
