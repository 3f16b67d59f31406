/* audit/checks_sql.c — SQL helpers for the checks (audit/checks.c): the table-valued function
 * split(text, sep) that turns a stored file into lines (or a line into fields) in one linear
 * pass, split_part(text, sep, n) for one field, and fnmatch(pattern, string) for sshd's Include
 * globs. Registered on the checks' own connection only. */
#include "audit_int.h"

#include <fnmatch.h>
#include <sqlite3.h>
#include <string.h>

/* ---- split(text, sep): rows (n, part) ---------------------------------------------------- */

enum { SPLIT_N, SPLIT_PART, SPLIT_TEXT, SPLIT_SEP };

struct split_cursor {
	sqlite3_vtab_cursor base;
	char *text;     /* owned copy */
	size_t len;
	char *sep;
	size_t seplen;
	size_t pos;     /* start of the current part */
	size_t end;     /* end of the current part */
	sqlite3_int64 n;
	bool eof;
};

static int split_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err)
{
	(void)aux;
	(void)argc;
	(void)argv;
	(void)err;
	int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(n INTEGER, part TEXT, text HIDDEN, sep HIDDEN)");
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_vtab *v = sqlite3_malloc(sizeof(*v));
	if (!v)
		return SQLITE_NOMEM;
	memset(v, 0, sizeof(*v));
	*out = v;
	return SQLITE_OK;
}

static int split_disconnect(sqlite3_vtab *v)
{
	sqlite3_free(v);
	return SQLITE_OK;
}

/* Arguments are required equality constraints on the hidden columns: idxNum bit 1 text, 2 sep. */
static int split_best_index(sqlite3_vtab *v, sqlite3_index_info *info)
{
	(void)v;
	int text = -1, sep = -1;
	for (int i = 0; i < info->nConstraint; i++) {
		const struct sqlite3_index_constraint *c = &info->aConstraint[i];
		if (c->op != SQLITE_INDEX_CONSTRAINT_EQ)
			continue;
		if (c->iColumn == SPLIT_TEXT) {
			if (!c->usable)
				return SQLITE_CONSTRAINT;
			text = i;
		} else if (c->iColumn == SPLIT_SEP) {
			if (!c->usable)
				return SQLITE_CONSTRAINT;
			sep = i;
		}
	}
	if (text < 0) {
		info->estimatedCost = 1e12;
		info->idxNum = 0;
		return SQLITE_OK;
	}
	info->aConstraintUsage[text].argvIndex = 1;
	info->aConstraintUsage[text].omit = 1;
	info->idxNum = 1;
	if (sep >= 0) {
		info->aConstraintUsage[sep].argvIndex = 2;
		info->aConstraintUsage[sep].omit = 1;
		info->idxNum |= 2;
	}
	info->estimatedCost = 100;
	info->estimatedRows = 100;
	return SQLITE_OK;
}

static int split_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out)
{
	(void)v;
	struct split_cursor *c = sqlite3_malloc(sizeof(*c));
	if (!c)
		return SQLITE_NOMEM;
	memset(c, 0, sizeof(*c));
	*out = &c->base;
	return SQLITE_OK;
}

static void split_reset(struct split_cursor *c)
{
	sqlite3_free(c->text);
	sqlite3_free(c->sep);
	c->text = c->sep = NULL;
}

static int split_close(sqlite3_vtab_cursor *cur)
{
	struct split_cursor *c = (struct split_cursor *)cur;
	split_reset(c);
	sqlite3_free(c);
	return SQLITE_OK;
}

/* Finds the end of the part starting at c->pos; eof when nothing is left (a trailing separator
 * does not make a last empty part). */
static void split_find(struct split_cursor *c)
{
	if (c->pos >= c->len) {
		c->eof = true;
		return;
	}
	const char *hit = NULL;
	if (c->seplen)
		hit = memmem(c->text + c->pos, c->len - c->pos, c->sep, c->seplen);
	c->end = hit ? (size_t)(hit - c->text) : c->len;
}

static int split_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxstr, int argc, sqlite3_value **argv)
{
	(void)idxstr;
	struct split_cursor *c = (struct split_cursor *)cur;
	split_reset(c);
	c->eof = true;
	c->n = 1;
	c->pos = 0;
	if (!(idx & 1) || argc < 1 || sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return SQLITE_OK;
	const void *t = sqlite3_value_blob(argv[0]);
	c->len = (size_t)sqlite3_value_bytes(argv[0]);
	c->text = sqlite3_malloc64(c->len + 1);
	if (!c->text)
		return SQLITE_NOMEM;
	if (c->len)
		memcpy(c->text, t, c->len);
	const char *s = (idx & 2) && argc > 1 ? (const char *)sqlite3_value_text(argv[1]) : "\n";
	c->seplen = s ? strlen(s) : 0;
	c->sep = sqlite3_mprintf("%s", s ? s : "");
	if (!c->sep)
		return SQLITE_NOMEM;
	c->eof = false;
	split_find(c);
	return SQLITE_OK;
}

static int split_next(sqlite3_vtab_cursor *cur)
{
	struct split_cursor *c = (struct split_cursor *)cur;
	c->pos = c->end + (c->end < c->len ? c->seplen : 0);
	if (c->end >= c->len)
		c->eof = true;
	else
		split_find(c);
	c->n++;
	return SQLITE_OK;
}

static int split_eof(sqlite3_vtab_cursor *cur)
{
	return ((struct split_cursor *)cur)->eof;
}

static int split_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
	struct split_cursor *c = (struct split_cursor *)cur;
	switch (i) {
	case SPLIT_N: sqlite3_result_int64(ctx, c->n); break;
	case SPLIT_PART: sqlite3_result_text(ctx, c->text + c->pos, (int)(c->end - c->pos), SQLITE_TRANSIENT); break;
	default: sqlite3_result_null(ctx); break;
	}
	return SQLITE_OK;
}

static int split_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
	*rowid = ((struct split_cursor *)cur)->n;
	return SQLITE_OK;
}

static const sqlite3_module split_module = {
	.iVersion = 0,
	.xConnect = split_connect,
	.xBestIndex = split_best_index,
	.xDisconnect = split_disconnect,
	.xOpen = split_open,
	.xClose = split_close,
	.xFilter = split_filter,
	.xNext = split_next,
	.xEof = split_eof,
	.xColumn = split_column,
	.xRowid = split_rowid,
};

/* ---- split_part(text, sep, n), fnmatch(pattern, string) ---------------------------------- */

static void sql_split_part(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const char *t = (const char *)sqlite3_value_text(argv[0]);
	const char *sep = (const char *)sqlite3_value_text(argv[1]);
	sqlite3_int64 n = sqlite3_value_int64(argv[2]);
	if (!t || !sep || !*sep || n < 1) {
		sqlite3_result_null(ctx);
		return;
	}
	size_t sl = strlen(sep);
	for (sqlite3_int64 i = 1; i < n; i++) {
		const char *h = strstr(t, sep);
		if (!h) {
			sqlite3_result_null(ctx);
			return;
		}
		t = h + sl;
	}
	const char *h = strstr(t, sep);
	sqlite3_result_text(ctx, t, h ? (int)(h - t) : -1, SQLITE_TRANSIENT);
}

static void sql_fnmatch(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const char *pat = (const char *)sqlite3_value_text(argv[0]);
	const char *s = (const char *)sqlite3_value_text(argv[1]);
	if (!pat || !s)
		sqlite3_result_null(ctx);
	else
		sqlite3_result_int(ctx, fnmatch(pat, s, FNM_PATHNAME) == 0);
}

int checks_sql_register(struct sqlite3 *db, struct strata_err **err)
{
	if (sqlite3_create_module(db, "split", &split_module, NULL) != SQLITE_OK ||
	    sqlite3_create_function_v2(db, "split_part", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_split_part,
				       NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function_v2(db, "fnmatch", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_fnmatch, NULL,
				       NULL, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "sqlite: registering the checks' functions: %s", sqlite3_errmsg(db));
	return 0;
}
