/* policy/report_integrity.c — integrity.json (issue 7): per layer blob the digest the manifest
 * expects and the digest found, the diff_id expected and found, straight from the index's layer
 * table (digest, diff_id, blob_sha256, tar_sha256, digest_ok, diff_id_ok); per package the files
 * whose content no longer matches the package database (pkg_verify_files, shared with the packages
 * gate's verify trigger), and the executables in system directories no package owns. */
#include "policy_int.h"

#include <jansson.h>
#include <stdio.h>
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

/* ---- packages ------------------------------------------------------------------------------ */

/* Whether package files are read only when a later layer replaced them (see the README,
 * "integrity.json"): a file whose visible entry is the one the package's own layer wrote is
 * trusted without reading it. */
#ifndef INTEGRITY_TRUST_INSTALL_LAYER
#define INTEGRITY_TRUST_INSTALL_LAYER true
#endif

struct integrity_pkgs {
	json_t *list; /* array of package objects */
	json_t *cur;  /* the last package object */
	unsigned packages, conffiles_changed;
};

static int integrity_pkg_emit(void *ud, const struct pkg_verify_item *it, struct strata_err **err)
{
	(void)err;
	struct integrity_pkgs *g = ud;
	json_t *cur = g->cur;
	if (!cur || strcmp(json_string_value(json_object_get(cur, "type")), it->type) != 0 ||
	    strcmp(json_string_value(json_object_get(cur, "name")), it->name) != 0 ||
	    strcmp(json_string_value(json_object_get(cur, "version")), it->version) != 0) {
		cur = json_object();
		json_object_set_new(cur, "type", json_string(it->type));
		json_object_set_new(cur, "name", json_string(it->name));
		json_object_set_new(cur, "version", json_string(it->version));
		json_object_set_new(cur, "layer", it->pkg_layer > 0 ? json_integer(it->pkg_layer) : json_null());
		json_object_set_new(cur, "changed", json_array());
		json_object_set_new(cur, "missing", json_array());
		json_array_append_new(g->list, cur);
		g->cur = cur;
		g->packages++;
	}
	json_t *f = json_object();
	json_object_set_new(f, "path", json_string(it->path));
	if (strcmp(it->status, "changed") == 0) {
		json_object_set_new(f, "expected", json_string(it->expected));
		json_object_set_new(f, "found", *it->found ? json_string(it->found) : json_null());
		json_object_set_new(f, "layer", json_integer(it->layer));
	}
	json_object_set_new(f, "conffile", json_boolean(it->conffile));
	if (it->conffile && strcmp(it->status, "changed") == 0)
		g->conffiles_changed++;
	json_array_append_new(json_object_get(cur, it->status), f);
	return 0;
}

/* True when the catalog found an OS package database (dpkg, rpm or apk packages). */
static bool integrity_have_os_db(sqlite3 *c)
{
	if (!pkg_have_catalog(c))
		return false;
	sqlite3_stmt *st = NULL;
	bool yes = false;
	if (sqlite3_prepare_v2(c, "SELECT 1 FROM package WHERE type IN ('deb', 'rpm', 'apk') LIMIT 1", -1, &st, NULL) ==
	    SQLITE_OK)
		yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}

/* The "packages" object, or NULL with *err. */
static json_t *integrity_packages(struct index_db *db, sqlite3 *c, struct strata_err **err)
{
	struct integrity_pkgs g = {.list = json_array()};
	cleanup_ijson json_t *list = g.list;
	const struct pkg_verify_opts o = {.conffiles = true,
					  .trust_install_layer = INTEGRITY_TRUST_INSTALL_LAYER,
					  .emit = integrity_pkg_emit,
					  .ud = &g};
	struct pkg_verify_stats stats;
	if (pkg_verify_files(db, c, &o, &stats, err) < 0)
		return NULL;
	json_t *p = json_object();
	json_object_set_new(p, "files_verified", json_integer(stats.files));
	json_object_set_new(p, "files_read", json_integer(stats.reads));
	json_object_set_new(p, "files_trusted_install_layer", json_integer(stats.trusted));
	json_object_set_new(p, "changed_files", json_integer(stats.changed));
	json_object_set_new(p, "missing_files", json_integer(stats.missing));
	json_object_set_new(p, "conffiles_changed", json_integer(g.conffiles_changed));
	json_object_set_new(p, "packages_affected", json_integer(g.packages));
	json_object_set_new(p, "list", json_incref(list));
	return p;
}

/* ---- unowned executables ------------------------------------------------------------------- */

/* Regular files of the merged image in the bin directories (any x bit or ELF) and lib directories
 * (ELF only) whose path no package_file row names, also through the image's top-level directory
 * symlinks (merged /usr: a package listing /bin/ls owns usr/bin/ls when bin -> usr/bin). */
#define INTEGRITY_UNOWNED_SQL                                                                        \
	"WITH links(name, target) AS (SELECT n.path, rtrim(ltrim(e.link_target, '/'), '/') FROM node n" \
	"   JOIN entry e ON e.id = n.data_entry WHERE n.view = ?1 AND n.type = 'symlink'"            \
	"   AND instr(n.path, '/') = 0),"                                                               \
	" owned(p) AS (SELECT ltrim(path, '/') FROM package_file UNION"                                 \
	"   SELECT l.target || substr(ltrim(f.path, '/'), length(l.name) + 1) FROM package_file f"      \
	"   JOIN links l ON substr(ltrim(f.path, '/'), 1, length(l.name) + 1) = l.name || '/')"         \
	" SELECT n.path, e.layer, coalesce(e.sha256, ''), coalesce(e.size, 0), coalesce(e.mode, 0),"  \
	"  n.data_entry, (n.path GLOB 'lib*/*' OR n.path GLOB 'usr/lib*/*') AS libdir, %s"             \
	" FROM node n JOIN entry e ON e.id = n.data_entry"                                              \
	" WHERE n.view = ?1 AND n.type = 'file' AND (n.path GLOB 'bin/*' OR n.path GLOB 'sbin/*'"     \
	"  OR n.path GLOB 'usr/bin/*' OR n.path GLOB 'usr/sbin/*' OR n.path GLOB 'usr/local/bin/*'"     \
	"  OR n.path GLOB 'usr/local/sbin/*' OR n.path GLOB 'lib*/*' OR n.path GLOB 'usr/lib*/*')"     \
	"  AND n.path NOT IN (SELECT p FROM owned) ORDER BY n.path"

/* The ELF column of INTEGRITY_UNOWNED_SQL: the elf marker's table when the index has it (built by
 * audit/elf_mark.c during the index pass), else NULL (the file is read). */
#define INTEGRITY_ELF_FROM_TABLE "EXISTS (SELECT 1 FROM elf_entry x WHERE x.entry = n.data_entry)"

/* True when the entry's content starts with the ELF magic. */
static int integrity_is_elf(struct index_db *db, int64_t entry, struct strata_err **err)
{
	unsigned char head[4];
	size_t have = 0;
	while (have < sizeof head) {
		ssize_t got = index_db_read(db, entry, head + have, sizeof head - have, have, err);
		if (got < 0)
			return -1;
		if (got == 0)
			break;
		have += (size_t)got;
	}
	return have == 4 && memcmp(head, "\x7f" "ELF", 4) == 0;
}

/* The "unowned_executables" array, or NULL with *err. */
static json_t *integrity_unowned(struct index_db *db, sqlite3 *c, struct strata_err **err)
{
	bool marked = forensics_has_table(c, "elf_entry");
	cleanup_free char *sql = xasprintf(INTEGRITY_UNOWNED_SQL, marked ? INTEGRITY_ELF_FROM_TABLE : "NULL");
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (forensics_prepare(c, sql, &st, err) < 0)
		return NULL;
	sqlite3_bind_int(st, 1, index_db_view_merged(db, index_db_layer_count(db)));
	cleanup_ijson json_t *arr = json_array();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		bool libdir = sqlite3_column_int(st, 6) != 0;
		int64_t size = sqlite3_column_int64(st, 3);
		bool exec_bit = (sqlite3_column_int64(st, 4) & 0111) != 0;
		bool elf = sqlite3_column_int(st, 7) != 0;
		if (!marked && size >= 4 && (libdir || !exec_bit)) {
			int r = integrity_is_elf(db, sqlite3_column_int64(st, 5), err);
			if (r < 0) {
				strata_err_wrap(err, "/%s", (const char *)sqlite3_column_text(st, 0));
				return NULL;
			}
			elf = r == 1;
		}
		if (libdir ? !elf : !(exec_bit || elf))
			continue;
		json_t *f = json_object();
		cleanup_free char *path = xasprintf("/%s", (const char *)sqlite3_column_text(st, 0));
		json_object_set_new(f, "path", json_string(path));
		json_object_set_new(f, "layer", json_integer(sqlite3_column_int(st, 1)));
		json_object_set_new(f, "sha256", integrity_digest((const char *)sqlite3_column_text(st, 2)));
		json_object_set_new(f, "size", json_integer(size));
		json_object_set_new(f, "elf", json_boolean(elf));
		json_array_append_new(arr, f);
	}
	if (rc != SQLITE_DONE) {
		strata_err_set(err, STRATA_EFORMAT, "unowned executables: %s", sqlite3_errmsg(c));
		return NULL;
	}
	return json_incref(arr);
}

/* Renders integrity.json from the index (contract of policy_report.render). */
int integrity_render_json(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	cleanup_sqlite sqlite3 *c = NULL;
	if (index_db_connect(db, &c, err) < 0)
		return strata_err_wrap(err, "integrity.json");
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
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
	if (integrity_have_os_db(c)) {
		json_t *pk = integrity_packages(db, c, err);
		if (!pk)
			return strata_err_wrap(err, "integrity.json");
		json_object_set_new(doc, "packages", pk);
		json_t *un = integrity_unowned(db, c, err);
		if (!un)
			return strata_err_wrap(err, "integrity.json");
		json_object_set_new(doc, "unowned_executables", un);
	} else {
		const char *why = pkg_have_catalog(c) ? "no OS package database (dpkg, rpm, apk) in the image"
						      : "the index has no package catalog";
		json_object_set_new(doc, "packages", json_null());
		json_object_set_new(doc, "unowned_executables", json_null());
		json_object_set_new(doc, "reason", json_string(why));
	}
	char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!s)
		abort(); /* jansson fails only on OOM here */
	*len = strlen(s);
	*out = xstrdup(s);
	free(s);
	(*out)[*len] = '\0';
	return 0;
}
