/* policy/report_secrets.c — findings/secrets.json (issue 5): every row of the index's `secret`
 * table as a JSON array of {rule, description, path, layer, line, column, fingerprint, preview,
 * status}, file findings ordered by layer, path and line, then the image config's. The index
 * never holds a secret, so neither does this report. An index built without the secret scanner
 * gives []. */
#include "policy_int.h"

#include <jansson.h>
#include <string.h>

static json_t *secrets_col_json(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		return json_null();
	case SQLITE_INTEGER:
		return json_integer((json_int_t)sqlite3_column_int64(st, i));
	default:
		return json_string((const char *)sqlite3_column_text(st, i));
	}
}

int secrets_render_json(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	cleanup_sqlite sqlite3 *c = NULL;
	if (index_db_connect(db, &c, err) < 0)
		return -1;
	json_t *arr = json_array();
	if (!arr)
		abort();
	if (forensics_has_table(c, "secret") && forensics_has_column(c, "secret", "col")) {
		static const char *const names[] = {"rule", "description", "path", "layer", "line",
						    "column", "fingerprint", "preview", "status"};
		cleanup_sqlstmt sqlite3_stmt *st = NULL;
		if (forensics_prepare(c, "SELECT rule, description, CASE WHEN entry IS NULL THEN path ELSE '/' || ltrim(path, '/') END,"
					 " layer, line, col, fingerprint, preview, status FROM secret"
					 " ORDER BY entry IS NULL, layer, path, line, col, rule, id", &st, err) < 0) {
			json_decref(arr);
			return -1;
		}
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *o = json_object();
			if (!o)
				abort();
			for (int i = 0; i < 9; i++)
				json_object_set_new(o, names[i], secrets_col_json(st, i));
			if (json_array_append_new(arr, o) < 0)
				abort();
		}
	}
	*out = policy_json_text(arr, len);
	json_decref(arr);
	return 0;
}
