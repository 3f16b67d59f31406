/* policy/policy_int.h — internals shared by the files of policy/ (never included from outside). */
#ifndef STRATA_POLICY_INT_H
#define STRATA_POLICY_INT_H

#include "policy.h"

#include <sqlite3.h>

#endif

/* ---- forensics (policy/report_forensics*.c, issue 7) ------------------------------------- */
#ifndef STRATA_POLICY_FORENSICS_INT
#define STRATA_POLICY_FORENSICS_INT
#include <sqlite3.h>

static inline void forensics_sqlite_closep(sqlite3 **c) { if (*c) sqlite3_close(*c); }
static inline void forensics_stmt_finalizep(sqlite3_stmt **s) { if (*s) sqlite3_finalize(*s); }
#define cleanup_sqlite __attribute__((cleanup(forensics_sqlite_closep)))
#define cleanup_fstmt __attribute__((cleanup(forensics_stmt_finalizep)))

/* A growing output buffer (aborts on OOM like xmalloc). */
struct forensics_buf {
	char *p;
	size_t n, cap;
};
void forensics_buf_printf(struct forensics_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with tab, newline, CR and backslash escaped as \t \n \r \\ (one TSV field). */
void forensics_buf_tsv(struct forensics_buf *b, const char *s);
/* Hands the buffer to a renderer's caller (*out owned, NUL-terminated, *len bytes). */
void forensics_buf_take(struct forensics_buf *b, char **out, size_t *len);

/* A read-only connection of its own to the index file. */
int forensics_db_open(struct index_db *db, sqlite3 **out, struct strata_err **err);
int forensics_prepare(sqlite3 *c, const char *sql, sqlite3_stmt **st, struct strata_err **err);
/* True when the table (or view) exists in the index / has that column. */
bool forensics_has_table(sqlite3 *c, const char *table);
bool forensics_has_column(sqlite3 *c, const char *table, const char *column);
/* The table of secret findings written by the secret scanner (issue 5), when the index has one:
 * the first of secret_finding, secret_findings, secret, finding, findings with a rule column and
 * an entry column (or layer + path). NULL otherwise. Borrowed static string; *rule_col and
 * *by_entry say how to join. */
const char *forensics_secret_table(sqlite3 *c, const char **rule_col, bool *by_entry, const char **entry_col);
/* Secret rules that hit entry (layer, path, id), comma-separated (owned, "" when none or no table). */
char *forensics_secret_rules(sqlite3 *c, int64_t entry_id, int layer, const char *path);
/* Hook where history lines and other config text get their secrets masked (issue 5's masking
 * applies here once it exists). Owned result. */
char *forensics_mask_secrets(sqlite3 *c, const char *text);

/* Renderers (registered in policy/report.c). */
int forensics_render_ghosts(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int forensics_render_bodyfile(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int forensics_render_layers_tsv(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int forensics_render_layers_json(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int forensics_render_efficiency(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int forensics_render_custody(struct index_db *db, char **out, size_t *len, struct strata_err **err);
#endif

/* ---- package catalog (policy/report_catalog.c, issue 4) ---------------------------------- */
#ifndef STRATA_POLICY_CATALOG_INT
#define STRATA_POLICY_CATALOG_INT
int catalog_render_packages_tsv(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int catalog_render_licenses_tsv(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int catalog_render_spdx(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int catalog_render_cdx(struct index_db *db, char **out, size_t *len, struct strata_err **err);
#endif

/* ---- secret findings (policy/report_secrets.c, issue 5) ---------------------------------- */
#ifndef STRATA_POLICY_SECRETS_INT
#define STRATA_POLICY_SECRETS_INT
int secrets_render_json(struct index_db *db, char **out, size_t *len, struct strata_err **err);
#endif
