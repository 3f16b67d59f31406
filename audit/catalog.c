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
	size_t max;  /* bytes kept at most */
	int mode;    /* catalog_more_wanted()'s answer, 1 for the patterns above */
};

/* A file searched for a Go build info (audit/catalog_go.c): ELF files only; the capture starts at
 * the magic, which may straddle two chunks (tail keeps the last 13 bytes seen). */
struct catalog_probe {
	bool active;
	int64_t entry;
	char *path;
	uint64_t size;
	uint64_t seen;
	unsigned char head[4];
	unsigned char tail[13];
	size_t tail_len;
};

struct catalog_layer {
	int layer;
	struct catalog_capture *v;
	size_t n, cap;
	struct catalog_capture *cur;
	struct catalog_probe probe;
};

/* Go binaries are megabytes; smaller files are not searched. */
#define CATALOG_GO_MIN_SIZE (64u << 10)

static void *catalog_layer_begin(void *ctx, int layer)
{
	(void)ctx;
	struct catalog_layer *cl = xcalloc(1, sizeof(*cl));
	cl->layer = layer;
	return cl;
}

static struct catalog_capture *catalog_capture_new(struct catalog_layer *cl, int64_t entry, const char *path,
						    uint64_t size, size_t max, int mode)
{
	if (cl->n == cl->cap) {
		cl->cap = cl->cap ? 2 * cl->cap : 16;
		cl->v = xrealloc(cl->v, cl->cap * sizeof(*cl->v));
	}
	struct catalog_capture *c = &cl->v[cl->n++];
	*c = (struct catalog_capture){.entry = entry, .path = xstrdup(path), .size = size, .max = max, .mode = mode};
	return c;
}

static int catalog_file_begin(void *state, const struct index_scan_entry *e)
{
	struct catalog_layer *cl = state;
	cl->cur = NULL;
	cl->probe.active = false;
	const char *p = e->path;
	while (*p == '/')
		p++;
	size_t max = CATALOG_MAX_CAPTURE;
	int mode = catalog_path_wanted(p) ? 1 : catalog_more_wanted(p, &max);
	if (mode == 0 || (mode == 3 && e->size < CATALOG_GO_MIN_SIZE))
		return 0;
	if (mode == 3) {
		free(cl->probe.path);
		cl->probe = (struct catalog_probe){.active = true, .entry = e->entry_id, .path = xstrdup(p), .size = e->size};
		return 1;
	}
	cl->cur = catalog_capture_new(cl, e->entry_id, p, e->size, max, mode);
	return 1;
}

/* Searches a chunk for the Go build info magic. On a hit the capture starts at the magic:
 * buf and len are advanced to it, or, when the magic began in the previous chunk, its first bytes
 * (kept in the tail) are already in the new capture and the whole chunk follows. */
static void catalog_probe_data(struct catalog_layer *cl, const void **buf, size_t *len)
{
	struct catalog_probe *pr = &cl->probe;
	const unsigned char *b = *buf;
	size_t n = *len;
	if (pr->seen < 4) { /* the ELF magic, which may come in pieces */
		size_t take = n < 4 - pr->seen ? n : 4 - (size_t)pr->seen;
		memcpy(pr->head + pr->seen, b, take);
		if (pr->seen + take == 4 && memcmp(pr->head, "\x7f" "ELF", 4)) {
			pr->active = false;
			return;
		}
	}
	uint64_t start = pr->seen; /* file offset of b[0] */
	pr->seen += n;
	/* The section .go.buildinfo is 16-byte aligned (so is its file offset); the magic elsewhere
	 * (a copy in debug/buildinfo's data, say) is not taken. */
	if (pr->tail_len) { /* the magic across the previous chunk's end */
		unsigned char joint[26];
		size_t take = n < 13 ? n : 13;
		memcpy(joint, pr->tail, pr->tail_len);
		memcpy(joint + pr->tail_len, b, take);
		size_t from = 0;
		long j;
		while ((j = catalog_go_find_magic(joint + from, pr->tail_len + take - from)) >= 0 &&
		       from + (size_t)j < pr->tail_len) {
			size_t at = from + (size_t)j;
			if ((start - pr->tail_len + at) % 16 == 0) {
				struct catalog_capture *c =
					catalog_capture_new(cl, pr->entry, pr->path, pr->size, CATALOG_MAX_GOINFO, 3);
				c->len = c->cap = pr->tail_len - at;
				c->data = xmalloc(c->cap);
				memcpy(c->data, pr->tail + at, c->len);
				cl->cur = c;
				pr->active = false;
				return;
			}
			from = at + 1;
		}
	}
	long at = catalog_go_find_aligned_magic(b, n, start);
	if (at >= 0) {
		size_t off = (size_t)at;
		cl->cur = catalog_capture_new(cl, pr->entry, pr->path, pr->size, CATALOG_MAX_GOINFO, 3);
		pr->active = false;
		*buf = b + off;
		*len = n - off;
		return;
	}
	/* Keep the last 13 bytes seen (chunks may be shorter than that). */
	unsigned char t[26];
	size_t tl = pr->tail_len;
	memcpy(t, pr->tail, tl);
	size_t take = n < 13 ? n : 13;
	memcpy(t + tl, b + n - take, take);
	tl += take;
	size_t keep = tl < 13 ? tl : 13;
	memcpy(pr->tail, t + tl - keep, keep);
	pr->tail_len = keep;
}

static void catalog_file_data(void *state, const void *buf, size_t len)
{
	struct catalog_layer *cl = state;
	if (cl->probe.active)
		catalog_probe_data(cl, &buf, &len);
	struct catalog_capture *c = cl->cur;
	if (!c)
		return;
	if (c->len + len > c->max) {
		len = c->max - c->len;
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
	struct catalog_capture *c = cl->cur;
	cl->cur = NULL;
	cl->probe.active = false;
	if (!c || c->mode != 2)
		return;
	/* A Java archive: keep the summary of its metadata, not its bytes. */
	size_t n = 0;
	char *sum = c->len ? catalog_java_summarize(c->data, c->len, c->truncated, &n) : NULL;
	free(c->data);
	c->data = sum;
	c->len = c->cap = sum ? n : 0;
	if (!sum) { /* not an archive after all: the capture was the last one added */
		free(c->path);
		cl->n--;
	}
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
	free(cl->probe.path);
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
	*identity = xstrdup("catalog 4: dpkg status/status.d/info, apk, python dist-info/egg-info, npm, os-release,"
			    " debian copyright; spdx-license-ids table; rpm sqlite/bdb, java archives, go buildinfo,"
			    " gemspecs");
	return ops;
}

void catalog_free_ops(struct index_scanner_ops *ops)
{
	free(ops);
}
