/* audit/audit.h — content scanners that run inside the index pass, and checks that run as SQL over
 * the index afterwards. The index builder only knows the generic index_scanner_ops; this module
 * composes every scanner strata has (secrets, retrieved files, catalogs, …) into one.
 *
 * Each scanner is described by a struct audit_scanner_def in audit/scanner.c's table: a name, a
 * constructor returning its own index_scanner_ops (ctx inside), and an identity string that goes
 * into the rules hash (so changing rules rebuilds indexes). */
#ifndef STRATA_AUDIT_H
#define STRATA_AUDIT_H

#include "../index/index.h"

struct audit_options {
	const char *secret_rules;      /* --secret-rules FILE: replaces or extends the built-in rules; NULL */
	bool secret_rules_extend;      /* true: add to the built-in rules; false: replace them */
	uint64_t max_scan_size;        /* files larger than this are not scanned for secrets (0 → 16 MiB) */
	bool scan_binary;              /* scan binary files too (a NUL in the first 8 KiB); default: skip them */
	const char *scanners;          /* comma-separated names of the scanners to run ("catalog,secrets"),
	                                  "none" for a bare index, NULL for all; for benchmarks (`make bench`
	                                  measures what each costs) and debugging */
};

struct audit_scanner;

/* Builds the composite scanner. Owned result (audit_scanner_free), or NULL with *err (bad rules). */
struct audit_scanner *audit_scanner_new(const struct audit_options *o, struct strata_err **err);
void audit_scanner_free(struct audit_scanner *s);
/* Borrowed, valid while s lives: what to put in index_build_opts.scanner / .rules_hash. */
const struct index_scanner_ops *audit_scanner_ops(struct audit_scanner *s);
const char *audit_scanner_rules_hash(const struct audit_scanner *s);

/* Added for the package catalog (issue 4): the packages owning the path of entry_id according to
 * the index's catalog (the final view's package databases; package_file rows), written to out as
 * "name" or "name1, name2" (sorted, dpkg -S style; cut to n at a name boundary). Returns 0 when
 * owned, 1 when no package owns it or the index has no catalog (out = ""), -1 with *err on a
 * database error. Safe from any thread. */
int audit_package_of(struct index_db *db, int64_t entry_id, char *out, size_t n, struct strata_err **err);
/* Added for the connections fix: the same question with the whole answer, "name1, name2, …" as an
 * owned string in *out (NULL when not owned). Returns 0 when owned, 1 when no package owns the path
 * or the index has no catalog, -1 with *err. Runs on the index's pooled connections (no open by
 * path); safe from any thread. audit_package_of is this answer cut at the last whole name that
 * fits in n. */
int audit_package_list(struct index_db *db, int64_t entry_id, char **out, struct strata_err **err);

/* Added for the checks and the policy (issues 5, 6): registers the SQL function
 * regexp(pattern, text) on db (PCRE2 syntax, multiline: ^ and $ match at line ends; 1/0, NULL for
 * NULL text, an SQL error for a bad pattern), which also makes `text REGEXP pattern` work.
 * Compiled patterns are cached per statement (audit/sql_regexp.c). */
struct sqlite3;
int audit_sql_register(struct sqlite3 *db, struct strata_err **err);

/* Added for the catalog's package changes and the policy's version gates (issues 4, 6): package
 * version ordering (audit/version.c). Each returns <0, 0 or >0 as a sorts before, equal to or
 * after b in that distribution's order: dpkg --compare-versions; rpm's rpmvercmp on
 * [epoch:]version[-release], a missing release counting as ""; apk-tools' apk_version_compare.
 * NULL counts as "". Pure, never fails. */
int audit_version_cmp_dpkg(const char *a, const char *b);
int audit_version_cmp_rpm(const char *a, const char *b);
int audit_version_cmp_apk(const char *a, const char *b);
/* By the package table's type: "deb"/"dpkg", "rpm", "apk"/"APKG" by their own orders; "npm" and
 * "golang" by Semantic Versioning 2.0.0 precedence when both versions are semver; "python" by
 * PEP 440 and "gem" by RubyGems' Gem::Version order when both parse; every other type (and the
 * versions that do not parse) by dpkg's order,
 * equal strings being equal. */
int audit_version_cmp(const char *type, const char *a, const char *b);

/* Added for the file, account and configuration checks (issue 5, audit/checks.c): runs every
 * check as one SQL query over the index (the merged image's nodes, the retrieved_file table, the
 * image config) on its own read-only connection and calls cb once per finding, in check order.
 * Strings are borrowed for the call. No finding carries a password hash or a secret value.
 * Returns the number of findings, or -1 with *err on a database error. */
struct audit_check_finding {
	const char *check;     /* "uid0_besides_root", … */
	const char *severity;  /* "high", "medium", "low" */
	const char *path;      /* "/etc/passwd", or NULL (image config) */
	int layer;             /* layer of the evidence, 0 when none (image config) */
	const char *detail;
};
typedef void (*audit_check_cb)(void *ctx, const struct audit_check_finding *f);
int audit_checks_run(struct index_db *db, audit_check_cb cb, void *ctx, struct strata_err **err);
#endif
