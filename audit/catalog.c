/* audit/catalog.c — the package catalog's part of the index pass: selects the evidence files by
 * path (package databases, language manifests, os-release, Debian copyright files), keeps their
 * bytes (at most CATALOG_MAX_CAPTURE each) and stores them per entry in the `captured` table at
 * the end of each layer. Nothing reads the tar again: finish() (audit/catalog_build.c) parses
 * the captures visible in each view into the package, package_file, package_change, license
 * and os tables. */
#include "audit_int.h"

#include <fnmatch.h>
#include <sqlite3.h>
#include <string.h>

#define CATALOG_TABLES_SQL                                                                          \
	"CREATE TABLE captured(entry INTEGER PRIMARY KEY, layer INTEGER NOT NULL, path TEXT NOT NULL," \
	" size INTEGER, truncated INTEGER, data BLOB);"                                             \
	"CREATE TABLE package(id INTEGER PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL,"      \
	" version TEXT, arch TEXT, source TEXT, source_version TEXT, layer INTEGER, path TEXT,"     \
	" purl TEXT, license_declared TEXT);"                                                       \
	"CREATE TABLE package_file(package INTEGER NOT NULL, path TEXT NOT NULL, digest TEXT,"      \
	" kind TEXT);"                                                                              \
	"CREATE TABLE package_change(layer INTEGER NOT NULL, type TEXT, name TEXT, change TEXT,"    \
	" old_version TEXT, new_version TEXT);"                                                     \
	"CREATE TABLE license(package INTEGER NOT NULL, spdx TEXT NOT NULL, source_path TEXT,"      \
	" how TEXT, raw TEXT);"                                                                     \
	"CREATE TABLE os(id TEXT, version_id TEXT, pretty_name TEXT, version_codename TEXT,"        \
	" name TEXT, path TEXT, layer INTEGER);"

/* Paths (without the leading slash, as the index stores them) whose bytes the catalog keeps. */
static const char *const catalog_patterns[] = {
	"var/lib/dpkg/status",
	"var/lib/dpkg/status.d/*",
	"var/lib/dpkg/info/*.list",
	"var/lib/dpkg/info/*.md5sums",
	"var/lib/dpkg/info/*.conffiles",
	"lib/apk/db/installed",
	"etc/os-release",
	"usr/lib/os-release",
	"usr/share/doc/*/copyright",
	NULL,
};

/* True when the catalog wants the bytes of the regular file at path (no leading slash). */
static bool catalog_path_wanted(const char *path)
{
	for (size_t i = 0; catalog_patterns[i]; i++)
		if (!fnmatch(catalog_patterns[i], path, FNM_PATHNAME))
			return true;
	const char *base = strrchr(path, '/');
	if (!base)
		return false;
	size_t dirlen = (size_t)(base - path);
	base++;
	/* DIR.dist-info/METADATA or RECORD, DIR.egg-info/PKG-INFO (site-packages, dist-packages). */
	if (!strcmp(base, "METADATA") || !strcmp(base, "RECORD"))
		return dirlen > 10 && !strncmp(path + dirlen - 10, ".dist-info", 10);
	if (!strcmp(base, "PKG-INFO"))
		return dirlen > 9 && !strncmp(path + dirlen - 9, ".egg-info", 9);
	/* node_modules/NAME/package.json and node_modules/@SCOPE/NAME/package.json. */
	if (!strcmp(base, "package.json")) {
		const char *nm = NULL;
		for (const char *p = path; (p = strstr(p, "node_modules/")); p++)
			if (p == path || p[-1] == '/')
				nm = p;
		if (!nm)
			return false;
		const char *rest = nm + 13;
		const char *slash = strchr(rest, '/');
		if (rest[0] == '@' && slash)
			slash = strchr(slash + 1, '/');
		return slash == base - 1;
	}
	return false;
}

struct catalog_capture {
	int64_t entry;
	char *path;
	uint64_t size;
	bool truncated;
	char *data;
	size_t len, cap;
};

struct catalog_layer {
	int layer;
	struct catalog_capture *v;
	size_t n, cap;
	struct catalog_capture *cur;
};

static void *catalog_layer_begin(void *ctx, int layer)
{
	(void)ctx;
	struct catalog_layer *cl = xcalloc(1, sizeof(*cl));
	cl->layer = layer;
	return cl;
}

static int catalog_file_begin(void *state, const struct index_scan_entry *e)
{
	struct catalog_layer *cl = state;
	cl->cur = NULL;
	const char *p = e->path;
	while (*p == '/')
		p++;
	if (!catalog_path_wanted(p))
		return 0;
	if (cl->n == cl->cap) {
		cl->cap = cl->cap ? 2 * cl->cap : 16;
		cl->v = xrealloc(cl->v, cl->cap * sizeof(*cl->v));
	}
	cl->cur = &cl->v[cl->n++];
	*cl->cur = (struct catalog_capture){.entry = e->entry_id, .path = xstrdup(p), .size = e->size};
	return 1;
}

static void catalog_file_data(void *state, const void *buf, size_t len)
{
	struct catalog_layer *cl = state;
	struct catalog_capture *c = cl->cur;
	if (!c)
		return;
	if (c->len + len > CATALOG_MAX_CAPTURE) {
		len = CATALOG_MAX_CAPTURE - c->len;
		c->truncated = true;
	}
	if (!len)
		return;
	if (c->len + len > c->cap) {
		c->cap = c->len + len > 2 * c->cap ? c->len + len : 2 * c->cap;
		c->data = xrealloc(c->data, c->cap);
	}
	memcpy(c->data + c->len, buf, len);
	c->len += len;
}

static void catalog_file_end(void *state)
{
	struct catalog_layer *cl = state;
	cl->cur = NULL;
}

static int catalog_layer_end(void *state, void *sqlite_db, struct strata_err **err)
{
	struct catalog_layer *cl = state;
	sqlite3 *db = sqlite_db;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO captured(entry, layer, path, size, truncated, data)"
				   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &st, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "catalog: %s", sqlite3_errmsg(db));
	for (size_t i = 0; i < cl->n; i++) {
		const struct catalog_capture *c = &cl->v[i];
		sqlite3_bind_int64(st, 1, c->entry);
		sqlite3_bind_int(st, 2, cl->layer);
		sqlite3_bind_text(st, 3, c->path, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)c->size);
		sqlite3_bind_int(st, 5, c->truncated);
		sqlite3_bind_blob(st, 6, c->data ? c->data : "", (int)c->len, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			strata_err_set(err, STRATA_EIO, "catalog: storing %s: %s", c->path, sqlite3_errmsg(db));
			sqlite3_finalize(st);
			return -1;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return 0;
}

static void catalog_layer_free(void *state)
{
	struct catalog_layer *cl = state;
	if (!cl)
		return;
	for (size_t i = 0; i < cl->n; i++) {
		free(cl->v[i].path);
		free(cl->v[i].data);
	}
	free(cl->v);
	free(cl);
}

static int catalog_init(void *ctx, void *sqlite_db, struct strata_err **err)
{
	(void)ctx;
	char *msg = NULL;
	if (sqlite3_exec(sqlite_db, CATALOG_TABLES_SQL, NULL, NULL, &msg) != SQLITE_OK) {
		strata_err_set(err, STRATA_EIO, "catalog: creating tables: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int catalog_finish(void *ctx, void *sqlite_db, struct strata_err **err)
{
	(void)ctx;
	return catalog_build(sqlite_db, err);
}

struct index_scanner_ops *catalog_new_ops(const struct audit_options *o, char **identity, struct strata_err **err)
{
	(void)o;
	(void)err;
	struct index_scanner_ops *ops = xcalloc(1, sizeof(*ops));
	*ops = (struct index_scanner_ops){
		.init = catalog_init,
		.finish = catalog_finish,
		.layer_begin = catalog_layer_begin,
		.file_begin = catalog_file_begin,
		.file_data = catalog_file_data,
		.file_end = catalog_file_end,
		.layer_end = catalog_layer_end,
		.layer_free = catalog_layer_free,
	};
	/* The identity changes whenever what is captured or how it is parsed changes. */
	*identity = xstrdup("catalog 1: dpkg status/status.d/info, apk, python dist-info/egg-info, npm, os-release,"
			    " debian copyright; spdx-license-ids table");
	return ops;
}

void catalog_free_ops(struct index_scanner_ops *ops)
{
	free(ops);
}
