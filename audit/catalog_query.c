/* audit/catalog_query.c — read side of the package catalog for other modules: which packages own
 * a path (the user.strata.package xattr of the mount). */
#include "audit_int.h"

#include <sqlite3.h>
#include <string.h>

static void catalog_sqlite_closep(sqlite3 **c) { if (*c) sqlite3_close(*c); }

int audit_package_of(struct index_db *db, int64_t entry_id, char *out, size_t n, struct strata_err **err)
{
	if (n)
		out[0] = '\0';
	sqlite3 *c __attribute__((cleanup(catalog_sqlite_closep))) = NULL;
	if (sqlite3_open_v2(index_db_path(db), &c, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "%s: %s", index_db_path(db), c ? sqlite3_errmsg(c) : "open failed");
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(c,
				    "SELECT group_concat(name, ', ') FROM (SELECT DISTINCT p.name FROM entry e"
				    " JOIN package_file f ON f.path = '/' || ltrim(e.path, '/')"
				    " JOIN package p ON p.id = f.package WHERE e.id = ?1 ORDER BY p.name)",
				    -1, &st, NULL);
	if (rc != SQLITE_OK) {
		/* An index built without the catalog has no package tables: nothing is owned. */
		bool missing = strstr(sqlite3_errmsg(c), "no such table") != NULL;
		sqlite3_finalize(st);
		return missing ? 1 : strata_err_set(err, STRATA_EIO, "catalog query: %s", sqlite3_errmsg(c));
	}
	sqlite3_bind_int64(st, 1, entry_id);
	int res = 1;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
		if (n)
			snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
		res = 0;
	}
	sqlite3_finalize(st);
	return res;
}
