/* policy/report_forensics.c — forensic reports over the index (issue 7): ghosts.tsv (every file
 * some layer holds that the merged image deletes or shadows, who hid it and how) and the Sleuth
 * Kit bodyfile timeline; plus the helpers the forensics renderers share (output buffer, read-only
 * connection, detection of the optional tables other features add: secret findings, packages).
 *
 * A ghost is an entry of layer k (not a whiteout marker, not the root) whose path in the final
 * view shows another entry or nothing — except a directory still shown as a directory (a directory
 * re-added over a directory merges, nothing of it is lost). Who hid it is the first event after
 * it: a whiteout of the path or of an ancestor, an opaque marker in an ancestor, a non-directory
 * over an ancestor (layers above k), or a new entry at the path itself (also later in layer k). */
#include "policy_int.h"

#include <stdarg.h>
#include <string.h>

#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

void forensics_buf_printf(struct forensics_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (b->n + (size_t)n + 1 > b->cap) {
		b->cap = (b->n + (size_t)n + 1) * 2 + 256;
		b->p = xrealloc(b->p, b->cap);
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
}

void forensics_buf_tsv(struct forensics_buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '\t': forensics_buf_printf(b, "\\t"); break;
		case '\n': forensics_buf_printf(b, "\\n"); break;
		case '\r': forensics_buf_printf(b, "\\r"); break;
		case '\\': forensics_buf_printf(b, "\\\\"); break;
		default: forensics_buf_printf(b, "%c", *s); break;
		}
	}
}

void forensics_buf_take(struct forensics_buf *b, char **out, size_t *len)
{
	if (!b->p)
		forensics_buf_printf(b, "%s", "");
	*out = steal_pointer(&b->p);
	*len = b->n;
	b->n = b->cap = 0;
}

int forensics_prepare(sqlite3 *c, const char *sql, sqlite3_stmt **st, struct strata_err **err)
{
	if (sqlite3_prepare_v2(c, sql, -1, st, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EFORMAT, "index query: %s", sqlite3_errmsg(c));
	return 0;
}

bool forensics_has_table(sqlite3 *c, const char *table)
{
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, "SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_ROW;
}

bool forensics_has_column(sqlite3 *c, const char *table, const char *column)
{
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?", -1, &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_ROW;
}

const char *forensics_secret_table(sqlite3 *c, const char **rule_col, bool *by_entry, const char **entry_col)
{
	static const char *const tables[] = {"secret_finding", "secret_findings", "secret", "finding", "findings"};
	static const char *const rules[] = {"rule", "rule_id"};
	static const char *const entries[] = {"entry", "entry_id"};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		if (!forensics_has_table(c, tables[i]))
			continue;
		const char *rc = NULL;
		for (size_t r = 0; r < 2 && !rc; r++)
			if (forensics_has_column(c, tables[i], rules[r]))
				rc = rules[r];
		if (!rc)
			continue;
		for (size_t e = 0; e < 2; e++)
			if (forensics_has_column(c, tables[i], entries[e])) {
				*rule_col = rc, *by_entry = true, *entry_col = entries[e];
				return tables[i];
			}
		if (forensics_has_column(c, tables[i], "layer") && forensics_has_column(c, tables[i], "path")) {
			*rule_col = rc, *by_entry = false, *entry_col = NULL;
			return tables[i];
		}
	}
	return NULL;
}

char *forensics_secret_rules(sqlite3 *c, int64_t entry_id, int layer, const char *path)
{
	const char *rule_col = NULL, *entry_col = NULL;
	bool by_entry = false;
	const char *t = forensics_secret_table(c, &rule_col, &by_entry, &entry_col);
	if (!t)
		return xstrdup("");
	cleanup_free char *sql =
		by_entry ? xasprintf("SELECT group_concat(r, ',') FROM (SELECT DISTINCT %s AS r FROM %s WHERE %s = ?1"
				     " ORDER BY 1)", rule_col, t, entry_col)
			 : xasprintf("SELECT group_concat(r, ',') FROM (SELECT DISTINCT %s AS r FROM %s WHERE layer = ?2"
				     " AND (path = ?3 OR path = '/' || ?3) ORDER BY 1)", rule_col, t);
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK)
		return xstrdup("");
	sqlite3_bind_int64(st, 1, entry_id);
	sqlite3_bind_int(st, 2, layer);
	sqlite3_bind_text(st, 3, path ? path : "", -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		return xstrdup((const char *)sqlite3_column_text(st, 0));
	return xstrdup("");
}

/* ---- ghosts ------------------------------------------------------------------------------- */

struct ghost_ctx {
	sqlite3_stmt *at_path;  /* first later entry at a path: (path, after id, min layer) */
	int hid_layer;
	const char *how;
};

/* Considers the first entry at path in layers >= min_layer with id > after_id (whiteout marker
 * kind wo: 0 entry, 1 whiteout, 2 opaque); want_nondir: only non-directories count. */
static void ghost_consider(struct ghost_ctx *g, const char *path, int64_t after_id, int min_layer, int wo,
			   bool want_nondir, bool dir_over_dir_ok, const char *how)
{
	sqlite3_stmt *st = g->at_path;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, after_id);
	sqlite3_bind_int(st, 3, min_layer);
	sqlite3_bind_int(st, 4, wo);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int layer = sqlite3_column_int(st, 0);
		const char *type = (const char *)sqlite3_column_text(st, 1);
		bool isdir = type && !strcmp(type, "dir");
		if ((want_nondir || dir_over_dir_ok) && isdir)
			continue;
		/* Same layer: whiteouts and opaque markers apply before entries. */
		if (g->hid_layer == 0 || layer < g->hid_layer || (layer == g->hid_layer && wo && !strcmp(g->how, "replaced"))) {
			g->hid_layer = layer;
			g->how = how;
		}
		break;
	}
}

/* Finds who hid entry id (layer k, path p, is a directory or not). */
static void ghost_find_hider(struct ghost_ctx *g, int64_t id, int k, const char *p, bool isdir)
{
	g->hid_layer = 0;
	g->how = "unplaced";
	ghost_consider(g, p, id, k, 0, false, isdir, "replaced");
	size_t n = strlen(p);
	cleanup_free char *buf = xmalloc(n + 32);
	/* every ancestor-or-self a of p: whiteout of a; proper ancestors: opaque marker, non-dir over a */
	for (size_t end = n;; ) {
		const char *slash = NULL;
		for (size_t i = end; i > 0; i--)
			if (p[i - 1] == '/') {
				slash = p + i - 1;
				break;
			}
		size_t dlen = slash ? (size_t)(slash - p) : 0;
		const char *base = slash ? slash + 1 : p;
		snprintf(buf, n + 32, "%.*s%s.wh.%.*s", (int)dlen, p, slash ? "/" : "", (int)(end - (size_t)(base - p)), base);
		ghost_consider(g, buf, id, k + 1, 1, false, false, "whiteout");
		snprintf(buf, n + 32, "%.*s%s.wh..wh..opq", (int)dlen, p, slash ? "/" : "");
		ghost_consider(g, buf, id, k + 1, 2, false, false, "opaque");
		if (!slash)
			break;
		snprintf(buf, n + 32, "%.*s", (int)dlen, p);
		ghost_consider(g, buf, id, k + 1, 0, true, false, "replaced");
		end = dlen;
	}
}

struct ghost_row {
	int64_t id;
	int layer, hid_layer; /* hid_layer 0: the entry was never placed (see the problem table) */
	const char *path, *type, *sha, *how;
	int64_t size;
};

/* Calls cb for every ghost, in order of path then entry id. */
static int ghosts_walk(struct index_db *db, sqlite3 *c, int (*cb)(void *ctx, const struct ghost_row *r), void *ctx,
		       struct strata_err **err)
{
	int final_view = index_db_view_merged(db, index_db_layer_count(db));
	char *msg = NULL;
	cleanup_free char *tmp = xasprintf(
		"CREATE TEMP TABLE IF NOT EXISTS fv AS SELECT path, entry, type FROM node WHERE view = %d;"
		"CREATE INDEX IF NOT EXISTS temp.fv_path ON fv(path);", final_view);
	if (sqlite3_exec(c, tmp, NULL, NULL, &msg) != SQLITE_OK) {
		strata_err_set(err, STRATA_EFORMAT, "ghosts: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	cleanup_sqlstmt sqlite3_stmt *st = NULL, *at = NULL;
	if (forensics_prepare(c,
			      "SELECT e.id, e.layer, e.path, e.type, e.size, e.sha256 FROM entry e"
			      " WHERE e.path IS NOT NULL AND e.path <> '' AND e.whiteout = 0 AND NOT EXISTS ("
			      "  SELECT 1 FROM fv WHERE fv.path = e.path AND (fv.entry = e.id"
			      "   OR (e.type = 'dir' AND fv.type = 'dir'))) ORDER BY e.path, e.id", &st, err) < 0 ||
	    forensics_prepare(c,
			      "SELECT layer, type FROM entry WHERE path = ?1 AND id > ?2 AND layer >= ?3"
			      " AND whiteout = ?4 ORDER BY id", &at, err) < 0)
		return -1;
	struct ghost_ctx g = {.at_path = at};
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ghost_row r = {
			.id = sqlite3_column_int64(st, 0),
			.layer = sqlite3_column_int(st, 1),
			.path = (const char *)sqlite3_column_text(st, 2),
			.type = (const char *)sqlite3_column_text(st, 3),
			.size = sqlite3_column_int64(st, 4),
			.sha = (const char *)sqlite3_column_text(st, 5),
		};
		if (!r.type)
			r.type = "file";
		if (!r.sha)
			r.sha = !strcmp(r.type, "file") && r.size == 0 ? SHA256_EMPTY : "";
		ghost_find_hider(&g, r.id, r.layer, r.path, !strcmp(r.type, "dir"));
		r.hid_layer = g.hid_layer;
		r.how = g.how;
		if (cb(ctx, &r) < 0)
			return strata_err_set(err, STRATA_EIO, "ghosts: %s", sqlite3_errmsg(c));
	}
	if (rc != SQLITE_DONE)
		return strata_err_set(err, STRATA_EFORMAT, "ghosts: %s", sqlite3_errmsg(c));
	return 0;
}

struct ghosts_tsv {
	sqlite3 *c;
	struct forensics_buf b;
};

static int ghosts_tsv_row(void *ctx, const struct ghost_row *r)
{
	struct ghosts_tsv *t = ctx;
	struct forensics_buf *b = &t->b;
	cleanup_free char *rules = forensics_secret_rules(t->c, r->id, r->layer, r->path);
	forensics_buf_tsv(b, r->path);
	forensics_buf_printf(b, "\t%d\t", r->layer);
	if (r->hid_layer)
		forensics_buf_printf(b, "%d", r->hid_layer);
	forensics_buf_printf(b, "\t%s\t%s\t%lld\t%s\t", r->how, r->type, (long long)r->size, r->sha);
	forensics_buf_tsv(b, rules);
	forensics_buf_printf(b, "\t/.history/%d/", r->layer);
	forensics_buf_tsv(b, r->path);
	forensics_buf_printf(b, "\n");
	return 0;
}

int forensics_render_ghosts(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	cleanup_sqlite sqlite3 *c = NULL;
	if (index_db_connect(db, &c, err) < 0)
		return -1;
	struct ghosts_tsv t = {.c = c};
	forensics_buf_printf(&t.b, "path\tadded_layer\thidden_layer\thow\ttype\tsize\tsha256\tsecret_rules\tread_at\n");
	if (ghosts_walk(db, c, ghosts_tsv_row, &t, err) < 0) {
		free(t.b.p);
		return strata_err_wrap(err, "ghosts.tsv");
	}
	forensics_buf_take(&t.b, out, len);
	return 0;
}

/* ---- bodyfile ----------------------------------------------------------------------------- */

/* TSK mode string: name type / meta type, then the nine permission characters. */
static void bodyfile_mode(const char *type, int whiteout, uint32_t mode, char out[16])
{
	char t = 'r';
	if (whiteout)
		t = 'w';
	else if (!strcmp(type, "dir"))
		t = 'd';
	else if (!strcmp(type, "symlink"))
		t = 'l';
	else if (!strcmp(type, "chardev"))
		t = 'c';
	else if (!strcmp(type, "blockdev"))
		t = 'b';
	else if (!strcmp(type, "fifo"))
		t = 'p';
	else if (!strcmp(type, "socket"))
		t = 's';
	static const char rwx[] = "rwxrwxrwx";
	out[0] = t, out[1] = '/', out[2] = t;
	for (int i = 0; i < 9; i++)
		out[3 + i] = (mode & (0400u >> i)) ? rwx[i] : '-';
	if (mode & 04000)
		out[5] = (mode & 0100) ? 's' : 'S';
	if (mode & 02000)
		out[8] = (mode & 010) ? 's' : 'S';
	if (mode & 01000)
		out[11] = (mode & 01) ? 't' : 'T';
	out[12] = '\0';
}

/* Appends a bodyfile name: '|' and control characters cannot appear in a field. */
static void bodyfile_name(struct forensics_buf *b, const char *s)
{
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '|' || ch < 0x20 || ch == 0x7f)
			forensics_buf_printf(b, "\\x%02x", ch);
		else
			forensics_buf_printf(b, "%c", ch);
	}
}

static int bodyfile_ghost(void *ctx, const struct ghost_row *r)
{
	sqlite3_stmt *ins = ctx;
	sqlite3_reset(ins);
	sqlite3_bind_int64(ins, 1, r->id);
	sqlite3_bind_int(ins, 2, r->hid_layer);
	sqlite3_bind_text(ins, 3, r->how, -1, SQLITE_STATIC);
	return sqlite3_step(ins) == SQLITE_DONE ? 0 : -1;
}

int forensics_render_bodyfile(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	cleanup_sqlite sqlite3 *c = NULL;
	if (index_db_connect(db, &c, err) < 0)
		return -1;
	char *msg = NULL;
	if (sqlite3_exec(c, "CREATE TEMP TABLE gh(id INTEGER PRIMARY KEY, hid INTEGER, how TEXT);", NULL, NULL, &msg) != SQLITE_OK) {
		strata_err_set(err, STRATA_EFORMAT, "bodyfile: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	cleanup_sqlstmt sqlite3_stmt *ins = NULL, *st = NULL;
	if (forensics_prepare(c, "INSERT INTO gh VALUES(?, ?, ?)", &ins, err) < 0 ||
	    ghosts_walk(db, c, bodyfile_ghost, ins, err) < 0)
		return strata_err_wrap(err, "bodyfile");
	if (forensics_prepare(c,
			      "SELECT e.id, e.layer, coalesce(e.path, CAST(e.raw_path AS TEXT)), e.type, e.whiteout,"
			      " e.mode, e.uid, e.gid, e.size, e.mtime, gh.hid, gh.how FROM entry e"
			      " LEFT JOIN gh ON gh.id = e.id ORDER BY e.id", &st, err) < 0)
		return -1;
	struct forensics_buf b = {0};
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *path = (const char *)sqlite3_column_text(st, 2);
		const char *type = (const char *)sqlite3_column_text(st, 3);
		int layer = sqlite3_column_int(st, 1), wo = sqlite3_column_int(st, 4);
		char mode[16];
		bodyfile_mode(type ? type : "file", wo, (uint32_t)sqlite3_column_int64(st, 5), mode);
		forensics_buf_printf(&b, "0|/");
		bodyfile_name(&b, path);
		if (wo)
			forensics_buf_printf(&b, " (whiteout, layer %d)", layer);
		else if (sqlite3_column_type(st, 11) != SQLITE_NULL) {
			const char *how = (const char *)sqlite3_column_text(st, 11);
			int hid = sqlite3_column_int(st, 10);
			if (hid)
				forensics_buf_printf(&b, " (deleted: layer %d, %s in layer %d)", layer, how, hid);
			else
				forensics_buf_printf(&b, " (deleted: layer %d, %s)", layer, how);
		} else
			forensics_buf_printf(&b, " (layer %d)", layer);
		forensics_buf_printf(&b, "|%lld|%s|%lld|%lld|%lld|0|%lld|0|0\n", (long long)sqlite3_column_int64(st, 0), mode,
				     (long long)sqlite3_column_int64(st, 6), (long long)sqlite3_column_int64(st, 7),
				     (long long)sqlite3_column_int64(st, 8), (long long)sqlite3_column_int64(st, 9));
	}
	if (rc != SQLITE_DONE) {
		free(b.p);
		return strata_err_set(err, STRATA_EFORMAT, "bodyfile: %s", sqlite3_errmsg(c));
	}
	forensics_buf_take(&b, out, len);
	return 0;
}
