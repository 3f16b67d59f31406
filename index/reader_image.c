/* index/reader_image.c — the /.audit/image.json document, made from the image and layer tables
 * with jansson: what the image is, its manifest and config as stored, and each layer with its
 * digests and whether they were verified when the index was built. */
#include "reader_int.h"

#include <jansson.h>
#include <string.h>

static inline void reader_json_decrefp(json_t **j) { json_decref(*j); }
#define cleanup_json __attribute__((cleanup(reader_json_decrefp)))

/* Column i as a JSON value: NULL → null, integer → integer, text → string; for the blob
 * columns manifest/config, parsed JSON when it parses, else a string. */
static json_t *column_json(sqlite3_stmt *st, int i, bool parse)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		return json_null();
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	case SQLITE_FLOAT:
		return json_real(sqlite3_column_double(st, i));
	default: {
		const char *b = (const char *)sqlite3_column_blob(st, i);
		size_t n = (size_t)sqlite3_column_bytes(st, i);
		if (parse) {
			json_t *j = json_loadb(b ? b : "", n, 0, NULL);
			if (j)
				return j;
		}
		return json_stringn_nocheck(b ? b : "", n);
	}
	}
}

/* Adds every column of the current row of st to obj, by column name. */
static void row_to_object(sqlite3_stmt *st, json_t *obj, const char *const *parsed)
{
	for (int i = 0; i < sqlite3_column_count(st); i++) {
		const char *name = sqlite3_column_name(st, i);
		bool parse = false;
		for (size_t k = 0; parsed && parsed[k]; k++)
			parse |= !strcmp(parsed[k], name);
		json_object_set_new(obj, name, column_json(st, i, parse));
	}
}

static json_t *verified_json(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	return json_boolean(sqlite3_column_int(st, i) != 0);
}

/* Adds "os" (id, version_id, pretty_name, version_codename, name, path, layer) when the index
 * has the catalog's os table (the audit scanners wrote it; an index built without them has none):
 * JSON null when the image has no os-release. -1 on a database error. */
static int image_json_os(sqlite3 *c, json_t *root)
{
	cleanup_finalize sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'os'", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_step(st) != SQLITE_ROW)
		return 0;
	cleanup_finalize sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(c, "SELECT id, version_id, pretty_name, version_codename, name, path, layer FROM os LIMIT 1",
			       -1, &q, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		json_object_set_new(root, "os", json_null());
		return 0;
	}
	if (rc != SQLITE_ROW)
		return -1;
	json_t *o = json_object();
	for (int i = 0; i < 7; i++)
		json_object_set_new(o, sqlite3_column_name(q, i), column_json(q, i, false));
	json_object_set_new(root, "os", o);
	return 0;
}

char *index_db_image_json(struct index_db *db, size_t *len, struct strata_err **err)
{
	cleanup_lease struct reader_lease l = {0};
	if (reader_lease_get(db, &l, err) < 0)
		return NULL;
	cleanup_json json_t *root = json_object();
	{
		cleanup_finalize sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(l.c->db,
				       "SELECT path, format, digest, config_digest, ref, platform, layers AS layer_count, file_size,"
				       " manifest, config FROM image WHERE id = 1",
				       -1, &st, NULL) != SQLITE_OK) {
			reader_sql_err(l.c, err, "image");
			return NULL;
		}
		if (sqlite3_step(st) != SQLITE_ROW) {
			strata_err_set(err, STRATA_EFORMAT, "index: no image row");
			return NULL;
		}
		static const char *const parsed[] = {"manifest", "config", NULL};
		row_to_object(st, root, parsed);
	}
	json_t *layers = json_array();
	json_object_set_new(root, "layers", layers);
	cleanup_finalize sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(l.c->db,
			       "SELECT position, digest, diff_id, media_type, compression, compressed_size, size,"
			       " blob_sha256, tar_sha256, location, entries, seekable_copy, digest_ok, diff_id_ok"
			       " FROM layer ORDER BY position",
			       -1, &st, NULL) != SQLITE_OK) {
		reader_sql_err(l.c, err, "layers");
		return NULL;
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		for (int i = 0; i < 12; i++)
			json_object_set_new(o, sqlite3_column_name(st, i), column_json(st, i, false));
		json_object_set_new(o, "digest_verified", verified_json(st, 12));
		json_object_set_new(o, "diff_id_verified", verified_json(st, 13));
		json_array_append_new(layers, o);
	}
	if (rc != SQLITE_DONE) {
		reader_sql_err(l.c, err, "layers");
		return NULL;
	}
	if (image_json_os(l.c->db, root) < 0) {
		reader_sql_err(l.c, err, "os");
		return NULL;
	}
	char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!s) {
		strata_err_set(err, STRATA_EFORMAT, "index: image.json: cannot encode");
		return NULL;
	}
	char *out = xasprintf("%s\n", s);
	free(s);
	*len = strlen(out);
	return out;
}
