/* index/build_attest.c — the attestation table: signatures and attestations stored beside the
 * image (overlay_image_attachments), kept in the index at build time so that verification later
 * needs only the index and the user's keys (policy/attest*.c). Bytes are stored as found;
 * nothing here is trusted or verified beyond the blob digests overlay/ checks. */
#include "index_int.h"

#include <jansson.h>
#include <string.h>

#define ATTEST_SCHEMA_SQL                                                                                    \
	"CREATE TABLE attestation(id INTEGER PRIMARY KEY, found_by TEXT, ref_name TEXT,"                     \
	" manifest_digest TEXT, artifact_type TEXT, manifest_annotations TEXT, blob_index INTEGER,"          \
	" media_type TEXT, blob_digest TEXT, payload BLOB, signature TEXT, annotations TEXT, error TEXT);"

/* The cosign signature annotation of a blob descriptor (owned), or NULL. */
static char *attest_signature_of(const char *annotations_json)
{
	if (!annotations_json)
		return NULL;
	json_t *j = json_loads(annotations_json, 0, NULL);
	const char *sig = json_string_value(json_object_get(j, "dev.cosignproject.cosign/signature"));
	char *out = sig ? xstrdup(sig) : NULL;
	json_decref(j);
	return out;
}

static void attest_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static int attest_insert(sqlite3_stmt *st, const struct overlay_attachment *a, int bi,
			 const struct overlay_attach_blob *b, struct strata_err **err)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	attest_bind_text(st, 1, a->found_by);
	attest_bind_text(st, 2, a->ref_name);
	attest_bind_text(st, 3, a->manifest_digest);
	attest_bind_text(st, 4, a->artifact_type);
	attest_bind_text(st, 5, a->annotations_json);
	if (b) {
		sqlite3_bind_int(st, 6, bi);
		attest_bind_text(st, 7, b->media_type);
		attest_bind_text(st, 8, b->digest);
		if (b->data)
			sqlite3_bind_blob(st, 9, b->data, (int)b->len, SQLITE_TRANSIENT);
		cleanup_free char *sig = attest_signature_of(b->annotations_json);
		attest_bind_text(st, 10, sig);
		attest_bind_text(st, 11, b->annotations_json);
		attest_bind_text(st, 12, b->error ? b->error : a->error);
	} else {
		attest_bind_text(st, 12, a->error ? a->error : "artifact manifest has no layers");
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		return strata_err_set(err, STRATA_EIO, "attestation: %s",
				      sqlite3_errmsg(sqlite3_db_handle(st)));
	return 0;
}

int index_attest_store(sqlite3 *db, const char *image_path, const struct overlay_image *img,
		       struct strata_err **err)
{
	if (index_sql_exec(db, ATTEST_SCHEMA_SQL, err) < 0)
		return -1;
	struct overlay_attachment *v = NULL;
	size_t n = 0;
	struct strata_err *found = NULL;
	cleanup_stmt sqlite3_stmt *st = NULL;
	int rc = index_sql_prepare(
	    db,
	    "INSERT INTO attestation(found_by, ref_name, manifest_digest, artifact_type,"
	    " manifest_annotations, blob_index, media_type, blob_digest, payload, signature,"
	    " annotations, error) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
	    &st, err);
	if (rc == 0 && overlay_image_attachments(image_path, img, &v, &n, &found) < 0) {
		/* a layout too hostile to walk costs its attestations, not the image */
		struct overlay_attachment broken = {.found_by = "layout", .error = found->msg};
		rc = attest_insert(st, &broken, 0, NULL, err);
		strata_err_free(found);
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (v[i].nblobs == 0)
			rc = attest_insert(st, &v[i], 0, NULL, err);
		for (size_t k = 0; rc == 0 && k < v[i].nblobs; k++)
			rc = attest_insert(st, &v[i], (int)k, &v[i].blobs[k], err);
	}
	overlay_attachments_free(v, n);
	return rc;
}
