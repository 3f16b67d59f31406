/* policy/report_forensics_layers.c — layers.tsv / layers.json (per layer: digests, media type,
 * sizes, the history created_by line, files added/modified/deleted, bytes, package changes) and
 * custody.json (what was examined, when, by which strata, opened read-only).
 *
 * Counts are of non-directories: added = paths the layer brings that the view below lacks,
 * modified = paths it brings that the view below has, deleted = paths of the view below that the
 * view after the layer lacks (everything under a whited-out directory counts). History entries
 * marked empty_layer have no layer; the others map to layers in order. Package columns are filled
 * when the catalog (issue 4) wrote a package table: a package_change(layer, change) table, else a
 * package(name, version, layer) table (added/upgraded by name against lower layers); empty otherwise. */
#include "policy_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static inline void forensics_json_decrefp(json_t **j) { json_decref(*j); }
#define cleanup_jansson __attribute__((cleanup(forensics_json_decrefp)))

/* The created_by lines of the config's history that have a layer, in order (secrets masked: the
 * secret scanner masks them in the index's copy of the config). Owned array of
 * owned strings (NULL entries when missing), n = layer count. */
static char **layers_history(sqlite3 *c, int n)
{
	char **h = xcalloc((size_t)n + 1, sizeof(*h));
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, "SELECT config FROM image", -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		return h;
	const void *cfg = sqlite3_column_blob(st, 0);
	cleanup_jansson json_t *j = cfg ? json_loadb(cfg, (size_t)sqlite3_column_bytes(st, 0), 0, NULL) : NULL;
	json_t *hist = j ? json_object_get(j, "history") : NULL;
	size_t i, k = 0;
	json_t *e;
	json_array_foreach(hist, i, e)
	{
		if (json_is_true(json_object_get(e, "empty_layer")))
			continue;
		if (k < (size_t)n) {
			const char *cb = json_string_value(json_object_get(e, "created_by"));
			h[k] = xstrdup(cb ? cb : ""); /* the index's config has its secrets masked (audit/secrets.c) */
		}
		k++;
	}
	return h;
}

struct layer_row {
	int pos;
	const char *digest, *diff_id, *media_type, *compression;
	int64_t csize, usize, bytes;
	int64_t added, modified, deleted;
	bool have_pkgs;
	int64_t pkg_added, pkg_removed, pkg_upgraded;
};

static int64_t count1(sqlite3_stmt *st, int a, int b)
{
	sqlite3_reset(st);
	sqlite3_bind_int(st, 1, a);
	sqlite3_bind_int(st, 2, b);
	return sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
}

/* Package changes of layer pos (returns false when no catalog table exists). */
static bool layer_packages(sqlite3 *c, int pos, struct layer_row *r)
{
	const char *sql[3];
	if (forensics_has_table(c, "package_change") && forensics_has_column(c, "package_change", "layer") &&
	    forensics_has_column(c, "package_change", "change")) {
		sql[0] = "SELECT count(*) FROM package_change WHERE layer = ?1 AND change = 'added'";
		sql[1] = "SELECT count(*) FROM package_change WHERE layer = ?1 AND change = 'removed'";
		sql[2] = "SELECT count(*) FROM package_change WHERE layer = ?1 AND change IN ('upgraded','changed','downgraded')";
	} else if (forensics_has_table(c, "package") && forensics_has_column(c, "package", "layer") &&
		   forensics_has_column(c, "package", "name") && forensics_has_column(c, "package", "version")) {
		sql[0] = "SELECT count(DISTINCT p.name) FROM package p WHERE p.layer = ?1 AND NOT EXISTS"
			 " (SELECT 1 FROM package q WHERE q.name = p.name AND q.layer < ?1)";
		sql[1] = forensics_has_column(c, "package", "removed_layer")
				 ? "SELECT count(*) FROM package WHERE removed_layer = ?1"
				 : NULL;
		sql[2] = "SELECT count(DISTINCT p.name) FROM package p WHERE p.layer = ?1 AND EXISTS"
			 " (SELECT 1 FROM package q WHERE q.name = p.name AND q.layer < ?1 AND q.version <> p.version)";
	} else {
		return false;
	}
	int64_t *dst[3] = {&r->pkg_added, &r->pkg_removed, &r->pkg_upgraded};
	for (int i = 0; i < 3; i++) {
		*dst[i] = -1;
		cleanup_sqlstmt sqlite3_stmt *st = NULL;
		if (sql[i] && sqlite3_prepare_v2(c, sql[i], -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int(st, 1, pos);
			if (sqlite3_step(st) == SQLITE_ROW)
				*dst[i] = sqlite3_column_int64(st, 0);
		}
	}
	return true;
}

/* Calls cb for each layer in order. */
static int layers_each(struct index_db *db, sqlite3 *c, int (*cb)(void *ctx, const struct layer_row *r, const char *hist),
		       void *ctx, struct strata_err **err)
{
	int L = index_db_layer_count(db);
	char *msg = NULL;
	if (sqlite3_exec(c,
			 "CREATE TEMP TABLE mv AS SELECT n.view, n.path FROM node n JOIN view v ON v.id = n.view"
			 " WHERE v.kind = 'merged' AND n.type <> 'dir';"
			 "CREATE INDEX temp.mv_path ON mv(view, path);",
			 NULL, NULL, &msg) != SQLITE_OK) {
		strata_err_set(err, STRATA_EFORMAT, "layers: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	cleanup_sqlstmt sqlite3_stmt *st = NULL, *add = NULL, *mod = NULL, *del = NULL, *bytes = NULL;
	if (forensics_prepare(c, "SELECT position, digest, diff_id, media_type, compression, compressed_size, size"
				 " FROM layer ORDER BY position", &st, err) < 0 ||
	    forensics_prepare(c, "SELECT count(DISTINCT e.path) FROM entry e WHERE e.layer = ?1 AND e.whiteout = 0"
				 " AND e.type <> 'dir' AND e.path IS NOT NULL AND e.path <> '' AND NOT EXISTS"
				 " (SELECT 1 FROM mv WHERE mv.view = ?2 AND mv.path = e.path)", &add, err) < 0 ||
	    forensics_prepare(c, "SELECT count(DISTINCT e.path) FROM entry e WHERE e.layer = ?1 AND e.whiteout = 0"
				 " AND e.type <> 'dir' AND e.path IS NOT NULL AND EXISTS"
				 " (SELECT 1 FROM mv WHERE mv.view = ?2 AND mv.path = e.path)", &mod, err) < 0 ||
	    forensics_prepare(c, "SELECT count(*) FROM mv a WHERE a.view = ?2 AND NOT EXISTS"
				 " (SELECT 1 FROM mv b WHERE b.view = ?1 AND b.path = a.path)", &del, err) < 0 ||
	    forensics_prepare(c, "SELECT coalesce(sum(size), 0) FROM entry WHERE layer = ?1 AND ?2 = ?2", &bytes, err) < 0)
		return -1;
	char **hist = layers_history(c, L);
	int rc = 0;
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		struct layer_row r = {
			.pos = sqlite3_column_int(st, 0),
			.digest = (const char *)sqlite3_column_text(st, 1),
			.diff_id = (const char *)sqlite3_column_text(st, 2),
			.media_type = (const char *)sqlite3_column_text(st, 3),
			.compression = (const char *)sqlite3_column_text(st, 4),
			.csize = sqlite3_column_int64(st, 5),
			.usize = sqlite3_column_int64(st, 6),
		};
		int below = r.pos > 1 ? index_db_view_merged(db, r.pos - 1) : -1;
		int here = index_db_view_merged(db, r.pos);
		r.added = count1(add, r.pos, below);
		r.modified = count1(mod, r.pos, below);
		r.deleted = count1(del, here, below);
		r.bytes = count1(bytes, r.pos, 0);
		r.have_pkgs = layer_packages(c, r.pos, &r);
		rc = cb(ctx, &r, r.pos >= 1 && r.pos <= L ? hist[r.pos - 1] : NULL);
	}
	for (int i = 0; i < L; i++)
		free(hist[i]);
	free(hist);
	return rc;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

static int layers_tsv_row(void *ctx, const struct layer_row *r, const char *hist)
{
	struct forensics_buf *b = ctx;
	forensics_buf_printf(b, "%d\t%s\t%s\t%s\t%s\t%lld\t%lld\t", r->pos, nz(r->digest), nz(r->diff_id),
			     nz(r->media_type), nz(r->compression), (long long)r->csize, (long long)r->usize);
	forensics_buf_tsv(b, hist);
	forensics_buf_printf(b, "\t%lld\t%lld\t%lld\t%lld", (long long)r->added, (long long)r->modified,
			     (long long)r->deleted, (long long)r->bytes);
	const int64_t *p[3] = {&r->pkg_added, &r->pkg_removed, &r->pkg_upgraded};
	for (int i = 0; i < 3; i++) {
		if (r->have_pkgs && *p[i] >= 0)
			forensics_buf_printf(b, "\t%lld", (long long)*p[i]);
		else
			forensics_buf_printf(b, "\t");
	}
	forensics_buf_printf(b, "\n");
	return 0;
}

int forensics_render_layers_tsv(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	cleanup_sqlite sqlite3 *c = NULL;
	if (index_db_connect(db, &c, err) < 0)
		return -1;
	struct forensics_buf b = {0};
	forensics_buf_printf(&b, "layer\tdigest\tdiff_id\tmedia_type\tcompression\tcompressed_size\tsize\tcreated_by\t"
				 "files_added\tfiles_modified\tfiles_deleted\tbytes\tpackages_added\tpackages_removed\t"
				 "packages_upgraded\n");
	if (layers_each(db, c, layers_tsv_row, &b, err) < 0) {
		free(b.p);
		return strata_err_wrap(err, "layers.tsv");
	}
	forensics_buf_take(&b, out, len);
	return 0;
}

static json_t *jstr_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static int layers_json_row(void *ctx, const struct layer_row *r, const char *hist)
{
	json_t *o = json_object();
	json_object_set_new(o, "layer", json_integer(r->pos));
	json_object_set_new(o, "digest", jstr_or_null(r->digest));
	json_object_set_new(o, "diff_id", jstr_or_null(r->diff_id));
	json_object_set_new(o, "media_type", jstr_or_null(r->media_type));
	json_object_set_new(o, "compression", jstr_or_null(r->compression));
	json_object_set_new(o, "compressed_size", json_integer(r->csize));
	json_object_set_new(o, "size", json_integer(r->usize));
	json_object_set_new(o, "created_by", hist ? json_string(hist) : json_null());
	json_object_set_new(o, "files", json_pack("{sIsIsI}", "added", (json_int_t)r->added, "modified",
						  (json_int_t)r->modified, "deleted", (json_int_t)r->deleted));
	json_object_set_new(o, "bytes", json_integer(r->bytes));
	if (r->have_pkgs) {
		json_t *p = json_object();
		json_object_set_new(p, "added", r->pkg_added >= 0 ? json_integer(r->pkg_added) : json_null());
		json_object_set_new(p, "removed", r->pkg_removed >= 0 ? json_integer(r->pkg_removed) : json_null());
		json_object_set_new(p, "upgraded", r->pkg_upgraded >= 0 ? json_integer(r->pkg_upgraded) : json_null());
		json_object_set_new(o, "packages", p);
	} else {
		json_object_set_new(o, "packages", json_null());
	}
	json_array_append_new(ctx, o);
	return 0;
}

static int dump_json(const json_t *j, char **out, size_t *len)
{
	*out = policy_json_text(j, len);
	return 0;
}

int forensics_render_layers_json(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	cleanup_sqlite sqlite3 *c = NULL;
	if (index_db_connect(db, &c, err) < 0)
		return -1;
	cleanup_jansson json_t *arr = json_array();
	if (layers_each(db, c, layers_json_row, arr, err) < 0)
		return strata_err_wrap(err, "layers.json");
	cleanup_jansson json_t *doc = json_pack("{sO}", "layers", arr);
	return dump_json(doc, out, len);
}

/* ---- custody ------------------------------------------------------------------------------ */

static void iso_time(int64_t sec, long nsec, char out[64])
{
	struct tm tm;
	time_t t = (time_t)sec;
	gmtime_r(&t, &tm);
	char base[24];
	if (!strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm))
		base[0] = '\0';
	snprintf(out, 64, "%.23s.%09ldZ", base, nsec % 1000000000L);
}

/* sha256 of a regular file, hex into out; false when it cannot be read. */
static bool file_sha256(const char *path, char out[65])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		abort();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	static __thread unsigned char buf[1 << 16];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(md, buf, (size_t)n);
	close(fd);
	unsigned char h[32];
	EVP_DigestFinal_ex(md, h, NULL);
	EVP_MD_CTX_free(md);
	if (n < 0)
		return false;
	strata_hex(h, 32, out);
	return true;
}

int forensics_render_custody(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	cleanup_sqlite sqlite3 *c = NULL;
	if (index_db_connect(db, &c, err) < 0)
		return -1;
	cleanup_sqlstmt sqlite3_stmt *st = NULL, *meta = NULL;
	if (forensics_prepare(c, "SELECT path, format, digest, file_size, file_mtime_ns FROM image", &st, err) < 0 ||
	    forensics_prepare(c, "SELECT value FROM meta WHERE key = 'strata_version'", &meta, err) < 0)
		return strata_err_wrap(err, "custody.json");
	if (sqlite3_step(st) != SQLITE_ROW)
		return strata_err_set(err, STRATA_EFORMAT, "custody.json: the index has no image row");
	const char *path = (const char *)sqlite3_column_text(st, 0);
	cleanup_jansson json_t *o = json_object();
	json_object_set_new(o, "image", jstr_or_null(path));
	json_object_set_new(o, "format", jstr_or_null((const char *)sqlite3_column_text(st, 1)));
	json_object_set_new(o, "image_digest", jstr_or_null((const char *)sqlite3_column_text(st, 2)));
	int64_t mns = sqlite3_column_int64(st, 4);
	char when[64];
	iso_time(mns / 1000000000, (long)(mns % 1000000000), when);
	json_t *at_index = json_pack("{sIss}", "size", (json_int_t)sqlite3_column_int64(st, 3), "mtime", when);
	json_object_set_new(o, "image_file_when_indexed", at_index);
	struct stat sb;
	json_t *now = json_object();
	if (path && stat(path, &sb) == 0) {
		iso_time(sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec, when);
		json_object_set_new(now, "size", json_integer(S_ISREG(sb.st_mode) ? sb.st_size : 0));
		json_object_set_new(now, "mtime", json_string(when));
		char sha[65];
		if (S_ISREG(sb.st_mode) && file_sha256(path, sha))
			json_object_set_new(now, "sha256", json_string(sha));
		else
			json_object_set_new(now, "sha256", json_null()); /* a directory (OCI layout): see image_digest */
		json_object_set_new(now, "kind", json_string(S_ISDIR(sb.st_mode) ? "directory" : "file"));
	} else {
		json_object_set_new(now, "error", json_string(strerror(errno)));
	}
	json_object_set_new(o, "image_file", now);
	json_object_set_new(o, "strata_version", json_string(STRATA_VERSION));
	json_object_set_new(o, "index_built_by", jstr_or_null(sqlite3_step(meta) == SQLITE_ROW
								 ? (const char *)sqlite3_column_text(meta, 0) : NULL));
	json_object_set_new(o, "index", json_string(index_db_path(db)));
	if (stat(index_db_path(db), &sb) == 0) {
		iso_time(sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec, when); /* renamed into place when complete */
		json_object_set_new(o, "index_built", json_string(when));
	}
	json_object_set_new(o, "read_only", json_true());
	json_object_set_new(o, "statement",
			    json_string("strata opened the image file read-only (O_RDONLY) and never wrote to it; the "
					"index was built from those reads; the mount refuses every write (EROFS); "
					"`strata verify IMAGE` recomputes every blob digest against this index"));
	return dump_json(o, out, len);
}
