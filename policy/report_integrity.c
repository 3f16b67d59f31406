/* policy/report_integrity.c — integrity.json (issue 7), first piece: per layer blob the digest the
 * manifest expects and the digest found, the diff_id expected and found, straight from the index's
 * layer table (digest, diff_id, blob_sha256, tar_sha256, digest_ok, diff_id_ok): the image is not
 * re-read. Package-file verification and unowned executables are not written yet: the document
 * says so with "packages": null and "unowned_executables": null. */
#include "policy_int.h"

#include <jansson.h>
#include <string.h>

static inline void integrity_json_decrefp(json_t **j) { json_decref(*j); }
#define cleanup_ijson __attribute__((cleanup(integrity_json_decrefp)))

/* "sha256:<hex>" for a bare hex column value (owned), or NULL. */
static json_t *integrity_digest(const char *hex)
{
	if (!hex || !*hex)
		return json_null();
	if (strncmp(hex, "sha256:", 7) == 0)
		return json_string(hex);
	cleanup_free char *s = xasprintf("sha256:%s", hex);
	return json_string(s);
}

static json_t *integrity_text(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? json_string(s) : json_null();
}

static json_t *integrity_flag(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	return json_boolean(sqlite3_column_int(st, i) != 0);
}

/* Renders integrity.json from the index (contract of policy_report.render). */
int integrity_render_json(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	cleanup_sqlite sqlite3 *c = NULL;
	if (forensics_db_open(db, &c, err) < 0)
		return strata_err_wrap(err, "integrity.json");
	cleanup_fstmt sqlite3_stmt *st = NULL;
	if (forensics_prepare(c, "SELECT position, digest, blob_sha256, diff_id, tar_sha256, digest_ok, diff_id_ok,"
				 " location FROM layer ORDER BY position", &st, err) < 0)
		return strata_err_wrap(err, "integrity.json");
	cleanup_ijson json_t *doc = json_object();
	json_t *blobs = json_array();
	json_object_set_new(doc, "blobs", blobs);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *b = json_object();
		json_object_set_new(b, "layer", json_integer(sqlite3_column_int(st, 0)));
		json_object_set_new(b, "location", integrity_text(st, 7));
		json_object_set_new(b, "digest_expected", integrity_text(st, 1));
		json_object_set_new(b, "digest_found", integrity_digest((const char *)sqlite3_column_text(st, 2)));
		json_object_set_new(b, "digest_ok", integrity_flag(st, 5));
		json_object_set_new(b, "diff_id_expected", integrity_text(st, 3));
		json_object_set_new(b, "diff_id_found", integrity_digest((const char *)sqlite3_column_text(st, 4)));
		json_object_set_new(b, "diff_id_ok", integrity_flag(st, 6));
		json_array_append_new(blobs, b);
	}
	if (rc != SQLITE_DONE)
		return strata_err_set(err, STRATA_EFORMAT, "integrity.json: %s", sqlite3_errmsg(c));
	json_object_set_new(doc, "packages", json_null());
	json_object_set_new(doc, "unowned_executables", json_null());
	char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!s)
		abort(); /* jansson fails only on OOM here */
	*len = strlen(s);
	*out = xstrdup(s);
	free(s);
	(*out)[*len] = '\0';
	return 0;
}
