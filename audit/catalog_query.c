/* audit/catalog_query.c — read side of the package catalog for other modules: which packages own
 * a path (the user.strata.package xattr of the mount). Runs on the index's pooled connections
 * (index_db_query): no open by path, no schema parse per request. */
#include "audit_int.h"

#include <sqlite3.h>
#include <string.h>

static const char package_of_sql[] =
    "SELECT group_concat(name, ', ') FROM (SELECT DISTINCT p.name FROM entry e"
    " JOIN package_file f ON f.path = '/' || ltrim(e.path, '/')"
    " JOIN package p ON p.id = f.package WHERE e.id = ?1 ORDER BY p.name)";

/* The first row's text column 0, copied into *(char **)ctx (stays NULL for SQL NULL). */
static int package_row(void *ctx, void *stmt)
{
	sqlite3_stmt *st = stmt;
	const unsigned char *s = sqlite3_column_text(st, 0);
	if (s)
		*(char **)ctx = xstrdup((const char *)s);
	return 1;
}

int audit_package_list(struct index_db *db, int64_t entry_id, char **out, struct strata_err **err)
{
	*out = NULL;
	cleanup_free char *names = NULL;
	int rc = index_db_query(db, package_of_sql, entry_id, package_row, &names, err);
	if (rc < 0)
		return -1;
	/* rc 1: an index built without the catalog has no package tables: nothing is owned. */
	if (rc == 1 || !names || !names[0])
		return 1;
	*out = steal_pointer(&names);
	return 0;
}

int audit_package_of(struct index_db *db, int64_t entry_id, char *out, size_t n, struct strata_err **err)
{
	if (n)
		out[0] = '\0';
	cleanup_free char *all = NULL;
	int rc = audit_package_list(db, entry_id, &all, err);
	if (rc != 0)
		return rc;
	if (!n)
		return 0;
	size_t len = strlen(all);
	if (len >= n) {
		/* Cut at the last whole name that fits ("a, b, c" → "a, b"). */
		len = n - 1;
		while (len > 0 && !(all[len] == ',' && all[len + 1] == ' '))
			len--;
	}
	memcpy(out, all, len);
	out[len] = '\0';
	return 0;
}
