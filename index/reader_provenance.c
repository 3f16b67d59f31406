/* index/reader_provenance.c — small questions other modules ask of an open index on its pooled
 * connections: index_db_query (one cached statement, rows through a callback; the package
 * xattr's query lives in audit/) and the provenance of a path for the user.strata.added and
 * user.strata.findings xattrs (issue 7): which layer first held the path, how many findings the
 * secret scanner recorded on it. Nothing here opens the index by path: an xattr request costs a
 * cached statement on a connection of the pool, not an open and a schema parse. */
#include "reader_int.h"

#include <string.h>

/* The statement for sql on connection c, prepared on first use and kept in one of its slots (or,
 * when every slot is taken, prepared for this call only: *temp says so, finalize it). NULL and
 * *missing when the index lacks a table the statement names; NULL with *err on another failure. */
static sqlite3_stmt *query_stmt(struct index_conn *c, const char *sql, bool *temp, bool *missing,
				struct strata_err **err)
{
	*temp = *missing = false;
	struct reader_query_slot *free_slot = NULL;
	for (int i = 0; i < READER_QUERY_SLOTS; i++) {
		if (c->q[i].sql == sql) {
			*missing = !c->q[i].st;
			return c->q[i].st;
		}
		if (!c->q[i].sql && !free_slot)
			free_slot = &c->q[i];
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(c->db, sql, -1, free_slot ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) !=
	    SQLITE_OK) {
		sqlite3_finalize(st);
		/* An index built without that scanner has no such table: a fact, not an error. */
		if (!strstr(sqlite3_errmsg(c->db), "no such table")) {
			reader_sql_err(c, err, "prepare");
			return NULL;
		}
		st = NULL;
		*missing = true;
	}
	if (free_slot) {
		free_slot->sql = sql;
		free_slot->st = st;
	} else {
		*temp = st != NULL;
	}
	return st;
}

int index_db_query(struct index_db *db, const char *sql, int64_t arg, int (*row)(void *ctx, void *stmt),
		   void *ctx, struct strata_err **err)
{
	cleanup_lease struct reader_lease l = {0};
	if (reader_lease_get(db, &l, err) < 0)
		return -1;
	bool temp, missing;
	sqlite3_stmt *st = query_stmt(l.c, sql, &temp, &missing, err);
	if (!st)
		return missing ? 1 : -1;
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_int64(st, 1, arg);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (row(ctx, st))
			break;
	int res = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : reader_sql_err(l.c, err, "query");
	if (temp) {
		sqlite3_finalize(st);
	} else {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	return res;
}

/* Column 0 of the first row as an int64 into *(int64_t *)ctx; stops after that row. */
static int provenance_int_row(void *ctx, void *stmt)
{
	sqlite3_stmt *st = stmt;
	*(int64_t *)ctx = sqlite3_column_int64(st, 0);
	return 1;
}

static const char provenance_added_sql[] =
    "SELECT min(layer) FROM entry WHERE whiteout = 0 AND path = (SELECT path FROM entry WHERE id = ?1)";
static const char provenance_findings_sql[] = "SELECT count(*) FROM secret WHERE entry = ?1";

int index_db_provenance(struct index_db *db, int64_t entry_id, int *added, int64_t *findings,
			struct strata_err **err)
{
	*added = 0;
	*findings = 0;
	int64_t a = 0;
	if (index_db_query(db, provenance_added_sql, entry_id, provenance_int_row, &a, err) < 0)
		return -1;
	*added = (int)a;
	/* An index without the secret scanner's table has no findings (returns 1, *findings 0). */
	if (index_db_query(db, provenance_findings_sql, entry_id, provenance_int_row, findings, err) < 0)
		return -1;
	return 0;
}
