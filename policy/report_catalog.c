/* policy/report_catalog.c — the package catalog's files under /.audit (issue 4): packages.tsv,
 * licenses.tsv, sbom.spdx.json (SPDX 2.3) and sbom.cdx.json (CycloneDX 1.5), read from the
 * tables audit/catalog*.c writes (package, license, os). An index without them gives the header
 * line only (TSV) or a document without packages (JSON).
 *
 * SPDX: filesAnalyzed is false (no verification codes are computed); licenseDeclared is the AND
 * of a package's license rows; every LicenseRef- used is listed in hasExtractedLicensingInfos
 * with the raw text it came from. CycloneDX: a package's licenses are one SPDX "expression"
 * when none is a LicenseRef-, else one {"license": {"name": …}} per row (a license.id outside
 * CycloneDX's own list would fail its schema). */
#include "policy_int.h"

#include <jansson.h>
#include <string.h>
#include <time.h>

static void json_decref_p(json_t **j) { if (*j) json_decref(*j); }
#define cleanup_json __attribute__((cleanup(json_decref_p)))

static bool catalog_present(sqlite3 *c)
{
	return forensics_has_table(c, "package") && forensics_has_table(c, "license");
}

static const char *col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? s : "";
}

int catalog_render_packages_tsv(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	cleanup_sqlite sqlite3 *c = NULL;
	if (index_db_connect(db, &c, err) < 0)
		return -1;
	struct forensics_buf b = {0};
	forensics_buf_printf(&b, "type\tname\tversion\tarch\tsource\tsource_version\tlayer\tpath\tpurl\tlicenses\tfiles\n");
	if (catalog_present(c)) {
		cleanup_sqlstmt sqlite3_stmt *st = NULL;
		if (forensics_prepare(c,
				      "SELECT p.type, p.name, p.version, p.arch, p.source, p.source_version, p.layer, p.path,"
				      " p.purl, (SELECT group_concat(spdx, ' AND ') FROM (SELECT DISTINCT spdx FROM license"
				      " WHERE package = p.id)), (SELECT count(*) FROM package_file WHERE package = p.id)"
				      " FROM package p ORDER BY p.type, p.name, p.arch, p.path",
				      &st, err) < 0) {
			free(b.p);
			return -1;
		}
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (int i = 0; i < 11; i++) {
				if (i)
					forensics_buf_printf(&b, "\t");
				forensics_buf_tsv(&b, col(st, i));
			}
			forensics_buf_printf(&b, "\n");
		}
	}
	forensics_buf_take(&b, out, len);
	return 0;
}

int catalog_render_licenses_tsv(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	cleanup_sqlite sqlite3 *c = NULL;
	if (index_db_connect(db, &c, err) < 0)
		return -1;
	struct forensics_buf b = {0};
	forensics_buf_printf(&b, "type\tname\tversion\tspdx\thow\tsource_path\traw\n");
	if (catalog_present(c)) {
		cleanup_sqlstmt sqlite3_stmt *st = NULL;
		if (forensics_prepare(c,
				      "SELECT p.type, p.name, p.version, l.spdx, l.how, l.source_path, l.raw FROM license l"
				      " JOIN package p ON p.id = l.package ORDER BY p.type, p.name, p.id, l.rowid",
				      &st, err) < 0) {
			free(b.p);
			return -1;
		}
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (int i = 0; i < 7; i++) {
				if (i)
					forensics_buf_printf(&b, "\t");
				forensics_buf_tsv(&b, col(st, i));
			}
			forensics_buf_printf(&b, "\n");
		}
	}
	forensics_buf_take(&b, out, len);
	return 0;
}

/* Image name and digest for the documents. */
static void image_identity(sqlite3 *c, char **name, char **digest)
{
	*name = NULL;
	*digest = NULL;
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, "SELECT ref, digest, path FROM image", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const char *ref = (const char *)sqlite3_column_text(st, 0);
		const char *dig = (const char *)sqlite3_column_text(st, 1);
		const char *path = (const char *)sqlite3_column_text(st, 2);
		*name = xstrdup(ref && ref[0] ? ref : path ? path : "image");
		*digest = xstrdup(dig ? dig : "");
	}
	if (!*name)
		*name = xstrdup("image");
	if (!*digest)
		*digest = xstrdup("");
}

static void now_iso(char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

#define PKG_SQL                                                                                      \
	"SELECT p.id, p.type, p.name, p.version, p.purl, p.layer, p.path,"                           \
	" (SELECT group_concat(CASE WHEN instr(spdx, ' ') THEN '(' || spdx || ')' ELSE spdx END, ' AND ')" \
	" FROM (SELECT DISTINCT spdx FROM license WHERE package = p.id)),"                           \
	" (SELECT count(*) FROM license WHERE package = p.id AND spdx LIKE '%LicenseRef-%')"          \
	" FROM package p ORDER BY p.type, p.name, p.id"

int catalog_render_spdx(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	cleanup_sqlite sqlite3 *c = NULL;
	if (index_db_connect(db, &c, err) < 0)
		return -1;
	cleanup_free char *name = NULL;
	cleanup_free char *digest = NULL;
	image_identity(c, &name, &digest);
	char created[32];
	now_iso(created, sizeof(created));
	cleanup_json json_t *doc = json_object();
	json_object_set_new(doc, "spdxVersion", json_string("SPDX-2.3"));
	json_object_set_new(doc, "dataLicense", json_string("CC0-1.0"));
	json_object_set_new(doc, "SPDXID", json_string("SPDXRef-DOCUMENT"));
	json_object_set_new(doc, "name", json_string(name));
	cleanup_free char *ns = xasprintf("https://strata.invalid/spdx/%s", digest[0] ? digest : name);
	json_object_set_new(doc, "documentNamespace", json_string(ns));
	json_object_set_new(doc, "creationInfo", json_pack("{s:s, s:[s]}", "created", created, "creators",
							    "Tool: strata-" STRATA_VERSION));
	json_t *pkgs = json_array(), *rels = json_array(), *extracted = json_array();
	json_object_set_new(doc, "packages", pkgs);
	json_object_set_new(doc, "relationships", rels);
	if (catalog_present(c)) {
		cleanup_sqlstmt sqlite3_stmt *st = NULL;
		if (forensics_prepare(c, PKG_SQL, &st, err) < 0)
			return -1;
		while (sqlite3_step(st) == SQLITE_ROW) {
			cleanup_free char *id = xasprintf("SPDXRef-Package-%lld", (long long)sqlite3_column_int64(st, 0));
			const char *lic = (const char *)sqlite3_column_text(st, 7);
			json_t *p = json_object();
			json_object_set_new(p, "SPDXID", json_string(id));
			json_object_set_new(p, "name", json_string(col(st, 2)));
			if (sqlite3_column_text(st, 3))
				json_object_set_new(p, "versionInfo", json_string(col(st, 3)));
			json_object_set_new(p, "downloadLocation", json_string("NOASSERTION"));
			json_object_set_new(p, "filesAnalyzed", json_false());
			json_object_set_new(p, "licenseConcluded", json_string("NOASSERTION"));
			json_object_set_new(p, "licenseDeclared", json_string(lic && lic[0] ? lic : "NOASSERTION"));
			json_object_set_new(p, "copyrightText", json_string("NOASSERTION"));
			cleanup_free char *src = xasprintf("%s package found at %s (layer %d)", col(st, 1), col(st, 6),
							   sqlite3_column_int(st, 5));
			json_object_set_new(p, "sourceInfo", json_string(src));
			if (sqlite3_column_text(st, 4))
				json_object_set_new(p, "externalRefs",
						    json_pack("[{s:s, s:s, s:s}]", "referenceCategory", "PACKAGE-MANAGER",
							      "referenceType", "purl", "referenceLocator", col(st, 4)));
			json_array_append_new(pkgs, p);
			json_array_append_new(rels, json_pack("{s:s, s:s, s:s}", "spdxElementId", "SPDXRef-DOCUMENT",
							       "relationshipType", "DESCRIBES", "relatedSpdxElement", id));
		}
		/* Each LicenseRef- term, with the raw text of its first occurrence. */
		cleanup_sqlstmt sqlite3_stmt *lr = NULL;
		if (forensics_prepare(c, "SELECT spdx, raw FROM license WHERE spdx LIKE '%LicenseRef-%' ORDER BY rowid", &lr,
				      err) < 0)
			return -1;
		cleanup_json json_t *seen = json_object();
		while (sqlite3_step(lr) == SQLITE_ROW) {
			cleanup_free char *e = xstrdup(col(lr, 0));
			char *save = NULL;
			for (char *t = strtok_r(e, " ()", &save); t; t = strtok_r(NULL, " ()", &save)) {
				if (strncmp(t, "LicenseRef-", 11) || json_object_get(seen, t))
					continue;
				json_object_set_new(seen, t, json_true());
				const char *raw = col(lr, 1);
				json_array_append_new(extracted, json_pack("{s:s, s:s}", "licenseId", t, "extractedText",
									   raw[0] ? raw : t));
			}
		}
	}
	if (json_array_size(extracted))
		json_object_set_new(doc, "hasExtractedLicensingInfos", extracted);
	else
		json_decref(extracted);
	*out = policy_json_text(doc, len);
	return 0;
}

int catalog_render_cdx(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	cleanup_sqlite sqlite3 *c = NULL;
	if (index_db_connect(db, &c, err) < 0)
		return -1;
	cleanup_free char *name = NULL;
	cleanup_free char *digest = NULL;
	image_identity(c, &name, &digest);
	char created[32];
	now_iso(created, sizeof(created));
	/* A serial number derived from the image digest (RFC 4122 layout, version 4 bits set). */
	const char *h = strncmp(digest, "sha256:", 7) || strlen(digest) < 7 + 32 ? "00000000000000000000000000000000"
										  : digest + 7;
	cleanup_free char *serial = xasprintf("urn:uuid:%.8s-%.4s-4%.3s-8%.3s-%.12s", h, h + 8, h + 13, h + 17, h + 20);
	cleanup_json json_t *doc = json_object();
	json_object_set_new(doc, "bomFormat", json_string("CycloneDX"));
	json_object_set_new(doc, "specVersion", json_string("1.5"));
	json_object_set_new(doc, "serialNumber", json_string(serial));
	json_object_set_new(doc, "version", json_integer(1));
	json_t *meta = json_pack("{s:s, s:{s:[{s:s, s:s, s:s}]}, s:{s:s, s:s, s:s}}", "timestamp", created, "tools",
				 "components", "type", "application", "name", "strata", "version", STRATA_VERSION,
				 "component", "type", "container", "bom-ref", "image", "name", name);
	json_object_set_new(doc, "metadata", meta);
	json_t *comps = json_array();
	json_object_set_new(doc, "components", comps);
	if (catalog_present(c)) {
		cleanup_sqlstmt sqlite3_stmt *st = NULL;
		if (forensics_prepare(c, PKG_SQL, &st, err) < 0)
			return -1;
		cleanup_sqlstmt sqlite3_stmt *ls = NULL;
		if (forensics_prepare(c, "SELECT DISTINCT spdx FROM license WHERE package = ?1", &ls, err) < 0)
			return -1;
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *p = json_object();
			cleanup_free char *ref = xasprintf("pkg-%lld", (long long)sqlite3_column_int64(st, 0));
			json_object_set_new(p, "type", json_string("library"));
			json_object_set_new(p, "bom-ref", json_string(ref));
			json_object_set_new(p, "name", json_string(col(st, 2)));
			if (sqlite3_column_text(st, 3))
				json_object_set_new(p, "version", json_string(col(st, 3)));
			if (sqlite3_column_text(st, 4))
				json_object_set_new(p, "purl", json_string(col(st, 4)));
			const char *lic = (const char *)sqlite3_column_text(st, 7);
			if (lic && lic[0] && sqlite3_column_int(st, 8) == 0) {
				json_object_set_new(p, "licenses", json_pack("[{s:s}]", "expression", lic));
			} else if (lic && lic[0]) {
				json_t *arr = json_array();
				sqlite3_bind_int64(ls, 1, sqlite3_column_int64(st, 0));
				while (sqlite3_step(ls) == SQLITE_ROW)
					json_array_append_new(arr, json_pack("{s:{s:s}}", "license", "name", col(ls, 0)));
				sqlite3_reset(ls);
				json_object_set_new(p, "licenses", arr);
			}
			json_t *props = json_pack("[{s:s, s:s}, {s:s, s:i}]", "name", "strata:path", "value", col(st, 6),
						  "name", "strata:layer", "value", sqlite3_column_int(st, 5));
			/* CycloneDX property values are strings. */
			json_object_set_new(json_array_get(props, 1), "value", json_sprintf("%d", sqlite3_column_int(st, 5)));
			json_object_set_new(p, "properties", props);
			json_array_append_new(comps, p);
		}
	}
	*out = policy_json_text(doc, len);
	return 0;
}
