/* policy/report_attest.c — the image's signatures and attestations as the index stored them
 * (attestation table, index/build_attest.c), each checked with the trusted keys
 * (attest_set_load, shared with the attestation gate), and /.audit/attestations.json.
 */
#include "policy_int.h"

#include <string.h>

static inline void attest_sqlite_closep(sqlite3 **c)
{
	if (*c)
		sqlite3_close(*c);
}

static char *attest_col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

void attest_set_clear(struct attest_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct attest_item *it = &s->v[i];
		free(it->found_by);
		free(it->manifest_digest);
		free(it->ref_name);
		free(it->media_type);
		free(it->artifact_type);
		free(it->error);
		attest_check_clear(&it->chk);
		attest_provenance_clear(&it->prov);
	}
	free(s->v);
	free(s->image_digest);
	memset(s, 0, sizeof(*s));
}

int attest_set_load(sqlite3 *c, struct attest_set *s, struct strata_err **err)
{
	memset(s, 0, sizeof(*s));
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, "SELECT digest FROM image", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		s->image_digest = attest_col(st, 0);
	if (!s->image_digest)
		s->image_digest = xstrdup("");
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(
		c,
		"SELECT found_by, manifest_digest, ref_name, media_type, artifact_type, payload, signature,"
		" annotations, error FROM attestation ORDER BY id",
		-1, &st, NULL) != SQLITE_OK) {
		if (strstr(sqlite3_errmsg(c), "no such table"))
			return 0;
		return strata_err_set(err, STRATA_EIO, "attestation: %s", sqlite3_errmsg(c));
	}
	s->has_table = true;
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (s->n == cap) {
			cap = cap ? 2 * cap : 8;
			s->v = xrealloc(s->v, cap * sizeof(*s->v));
		}
		struct attest_item *it = &s->v[s->n++];
		memset(it, 0, sizeof(*it));
		it->found_by = attest_col(st, 0);
		it->manifest_digest = attest_col(st, 1);
		it->ref_name = attest_col(st, 2);
		it->media_type = attest_col(st, 3);
		it->artifact_type = attest_col(st, 4);
		it->error = attest_col(st, 8);
		const unsigned char *payload = sqlite3_column_blob(st, 5);
		size_t plen = (size_t)sqlite3_column_bytes(st, 5);
		cleanup_free char *sig = attest_col(st, 6), *ann = attest_col(st, 7);
		if (it->error) {
			memset(&it->chk, 0, sizeof(it->chk));
			it->chk.key = -1;
			it->chk.type = "unknown";
			it->chk.status = xstrdup("failed");
			it->chk.reason = xasprintf("unreadable: %s", it->error);
			continue;
		}
		attest_check_blob(it->media_type, it->artifact_type, payload, plen, sig, ann, s->image_digest,
				  &it->chk);
		if (it->chk.statement)
			it->has_prov = attest_provenance_read(it->chk.statement, &it->prov);
	}
	if (rc != SQLITE_DONE)
		return strata_err_set(err, STRATA_EIO, "attestation: %s", sqlite3_errmsg(c));
	return 0;
}

static json_t *attest_jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

static bool attest_predicate_known(const char *pt)
{
	static const char *const known[] = {
	    "https://slsa.dev/provenance/v0.1",
	    "https://slsa.dev/provenance/v0.2",
	    "https://slsa.dev/provenance/v1",
	    "https://spdx.dev/Document",
	    "https://cyclonedx.org/bom",
	    "https://cosign.sigstore.dev/attestation/v1",
	    "https://cosign.sigstore.dev/attestation/vuln/v1",
	    "https://in-toto.io/attestation/vulns/v0.1",
	    "https://in-toto.io/attestation/link/v0.3",
	    "https://in-toto.io/attestation/test-result/v0.1",
	};
	for (size_t i = 0; pt && i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(pt, known[i]))
			return true;
	return false;
}

int attest_render_json(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	__attribute__((cleanup(attest_sqlite_closep))) sqlite3 *c = NULL;
	if (index_db_connect(db, &c, err) < 0)
		return -1;
	struct attest_set s;
	if (attest_set_load(c, &s, err) < 0) {
		attest_set_clear(&s);
		return -1;
	}
	json_t *root = json_object();
	json_object_set_new(root, "image_digest", json_string(s.image_digest));
	json_object_set_new(root, "discovered", json_boolean(s.has_table));
	json_t *keys = json_array();
	for (size_t i = 0; i < attest_key_count(); i++)
		json_array_append_new(keys, json_string(attest_key_id(i)));
	json_object_set_new(root, "trusted_keys", keys);
	size_t nsig = 0, natt = 0;
	json_t *arr = json_array();
	for (size_t i = 0; i < s.n; i++) {
		const struct attest_item *it = &s.v[i];
		json_t *o = json_object();
		json_object_set_new(o, "type", json_string(it->chk.type));
		json_object_set_new(o, "found_by", attest_jstr(it->found_by));
		json_object_set_new(o, "manifest", attest_jstr(it->manifest_digest));
		json_object_set_new(o, "ref_name", attest_jstr(it->ref_name));
		json_object_set_new(o, "artifact_type", attest_jstr(it->artifact_type));
		json_object_set_new(o, "media_type", attest_jstr(it->media_type));
		json_object_set_new(o, "predicate_type", attest_jstr(it->chk.predicate_type));
		if (it->chk.predicate_type)
			json_object_set_new(o, "predicate_known",
					    json_boolean(attest_predicate_known(it->chk.predicate_type)));
		json_object_set_new(o, "subject_digest", attest_jstr(it->chk.named_digest));
		json_object_set_new(
		    o, "signer_key_id",
		    attest_jstr(it->chk.key >= 0 ? attest_key_id((size_t)it->chk.key) : NULL));
		json_object_set_new(o, "verified", json_boolean(it->chk.verified));
		json_object_set_new(o, "status", attest_jstr(it->chk.status));
		json_object_set_new(o, "reason", attest_jstr(it->chk.reason));
		if (it->has_prov) {
			json_t *p = json_object();
			json_object_set_new(p, "slsa_version", attest_jstr(it->prov.slsa_version));
			json_object_set_new(p, "builder_id", attest_jstr(it->prov.builder_id));
			json_object_set_new(p, "build_type", attest_jstr(it->prov.build_type));
			json_object_set_new(p, "source_repository", attest_jstr(it->prov.source_repository));
			json_object_set_new(p, "source_revision", attest_jstr(it->prov.source_revision));
			json_object_set_new(o, "provenance", p);
		}
		if (it->chk.verified && !strcmp(it->chk.type, "cosign-signature"))
			nsig++;
		else if (it->chk.verified)
			natt++;
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "verified_signatures", json_integer((json_int_t)nsig));
	json_object_set_new(root, "verified_attestations", json_integer((json_int_t)natt));
	json_object_set_new(root, "items", arr);
	attest_set_clear(&s);
	*out = policy_json_text(root, len);
	json_decref(root);
	return 0;
}
