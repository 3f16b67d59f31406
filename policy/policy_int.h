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
#define cleanup_sqlite __attribute__((cleanup(forensics_sqlite_closep)))

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

/* (A renderer's own read-only connection to the index: index_db_connect, index/index.h.) */
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

/* ---- policy engine (policy/policy_*.c, policy/gate_*.c; issue 6) ---------------------------
 * The engine (policy_bundle.c: parse + validate; policy_eval.c: mappings, allowlists, running
 * the rules, verdict; policy_out*.c: report.json/txt, findings/<gate>.json, SARIF, JUnit) knows
 * gates only through the table below. Each gate lives in policy/gate_<name>.c and defines one
 * `const struct policy_gate_def policy_gate_<name>`; policy/gates.c lists them.
 *
 * A trigger is one evaluation over the index (usually one SQL query) that calls
 * policy_eval_fire() once per finding. Triggers never decide actions, allowlisting or verdicts:
 * the engine does, so every gate gets Anchore's semantics for free. */
#ifndef STRATA_POLICY_ENGINE_INT
#define STRATA_POLICY_ENGINE_INT

enum policy_action { POLICY_GO = 0, POLICY_WARN = 1, POLICY_STOP = 2 };

/* One params[] item of a rule, as the bundle gives it (borrowed from the parsed bundle). */
struct policy_param {
	const char *name, *value;
};

/* One rule of a policy, after validation: gate and trigger are the canonical names of the
 * table below (an alias in the bundle, e.g. trigger "blacklist", is resolved to "denylist"). */
struct policy_rule {
	const char *id;            /* the bundle's rule id ("" when absent) */
	const char *gate, *trigger;
	enum policy_action action;
	const struct policy_param *params;
	size_t nparams;
};

/* The value of parameter name in rule (case-insensitive name), borrowed, or NULL when absent. */
const char *policy_rule_param(const struct policy_rule *r, const char *name);

/* How the validator checks a parameter's value (always a string in the bundle). */
enum policy_param_kind {
	POLICY_PARAM_STRING,   /* anything */
	POLICY_PARAM_INT,      /* a decimal integer (sizes may carry no unit) */
	POLICY_PARAM_BOOL,     /* true/false (case-insensitive) */
	POLICY_PARAM_REGEX,    /* a PCRE2 pattern that compiles */
	POLICY_PARAM_LIST,     /* comma-separated list of non-empty strings */
	POLICY_PARAM_ENUM,     /* one of choices ("a|b|c") */
	POLICY_PARAM_ENUM_LIST,/* comma-separated list, each one of choices */
};

struct policy_param_def {
	const char *name;
	enum policy_param_kind kind;
	bool required;
	const char *choices;   /* POLICY_PARAM_ENUM*: "a|b|c"; else NULL */
	const char *alias;     /* older names accepted for it (e.g. "blacklisted_name"), '|'-separated, or NULL */
};

struct policy_eval; /* the evaluation in progress: owned by the engine, opaque to gates */

/* One finding of a trigger. message is the text Anchore would print for it (its templates, so
 * trigger ids match Anchore's); every field is copied by policy_eval_fire. */
struct policy_match {
	const char *message;
	const char *trigger_id; /* NULL: Anchore's md5_hex(gate + trigger + message) is computed */
	const char *path;       /* the file the finding is about ("/etc/shadow"), or NULL */
	int layer;              /* layer number (from 1) the evidence comes from, 0 when none */
	int visible;            /* 1 visible in the merged image, 0 deleted/shadowed later, -1 n/a */
	const char *detail_json;/* optional extra JSON object text for report.json (owned by caller), or NULL */
};
/* Records a finding of rule (the engine applies action and allowlists later). Aborts on OOM. */
void policy_eval_fire(struct policy_eval *ev, const struct policy_rule *rule, const struct policy_match *m);

/* A read-only connection to the index with regexp() registered (audit_sql_register); borrowed. */
sqlite3 *policy_eval_db(struct policy_eval *ev);
/* The open index (for index_db_read of file content through the byte sources); borrowed. */
struct index_db *policy_eval_index(struct policy_eval *ev);
/* Image identity for metadata-like triggers: the tag being evaluated ("repo:tag", may be "") */
const char *policy_eval_tag(struct policy_eval *ev);

/* The content of the regular file at path (absolute, "/etc/passwd") in view (use
 * index_db_view_merged(idx, layers) for the image): the copy the index retrieved when it has
 * one, else read through the byte sources (at most max bytes; *truncated set when cut).
 * Returns 1 with *out (owned, NUL-terminated, *len bytes), 0 when no such regular file, -1 with
 * *err. (policy/gate_content.c) */
/* The same for the regular file entry id of size bytes (its node already found by the caller):
 * 0 with *out, -1 with *err. */
int policy_eval_entry_content(struct policy_eval *ev, int64_t id, uint64_t size, size_t max, char **out,
			      size_t *len, bool *truncated, struct strata_err **err);
int policy_eval_file_content(struct policy_eval *ev, int view, const char *path, size_t max, char **out,
			     size_t *len, bool *truncated, struct strata_err **err);

struct policy_trigger_def {
	const char *name;        /* canonical, lower-case ("denylist", "content_regex_match") */
	/* older names accepted in bundles ("blacklist"), '|'-separated when several
	 * ("blacklist_shells|shellmatch": the first is anchore-engine's name, hashed into trigger ids), or NULL */
	const char *alias;
	const char *description;
	const struct policy_param_def *params; /* terminated by an entry with name NULL */
	/* Optional checks beyond each parameter's kind (e.g. "one of name or version required"):
	 * returns NULL when fine, else a static problem text the validator reports with the rule. */
	const char *(*validate)(const struct policy_rule *r);
	/* Runs the trigger: policy_eval_fire per finding. -1 with *err only for real errors
	 * (database, I/O): a trigger that finds nothing returns 0. */
	int (*eval)(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err);
};

struct policy_gate_def {
	const char *name;        /* "packages", "files", … */
	const char *description;
	const struct policy_trigger_def *triggers; /* terminated by an entry with name NULL */
};

/* The gate table (policy/gates.c): NULL-terminated. */
extern const struct policy_gate_def *const policy_gates[];

extern const struct policy_gate_def policy_gate_always;
extern const struct policy_gate_def policy_gate_packages;
extern const struct policy_gate_def policy_gate_licenses;
extern const struct policy_gate_def policy_gate_distro;
extern const struct policy_gate_def policy_gate_metadata;
extern const struct policy_gate_def policy_gate_ancestry;
extern const struct policy_gate_def policy_gate_secret_scans;
extern const struct policy_gate_def policy_gate_retrieved_files;
extern const struct policy_gate_def policy_gate_files;
extern const struct policy_gate_def policy_gate_passwd_file;
extern const struct policy_gate_def policy_gate_dockerfile;
#endif

/* ---- package version ordering (policy/version.c, issue 6) -------------------------------- */
#ifndef STRATA_POLICY_VERSION_INT
#define STRATA_POLICY_VERSION_INT
/* Each returns <0, 0 or >0 as a sorts before, equal to or after b in that distribution's order
 * (dpkg --compare-versions; rpm's rpm.vercmp on [epoch:]version[-release], a missing release
 * counting as ""; apk-tools' apk_version_compare). NULL counts as "". Pure, never fails. */
int policy_version_cmp_dpkg(const char *a, const char *b);
int policy_version_cmp_rpm(const char *a, const char *b);
int policy_version_cmp_apk(const char *a, const char *b);
/* By the package table's type, with audit_version_cmp's orders: dpkg for deb, rpm, apk, semver for
 * npm and golang, PEP 440 for python, RubyGems for gem; anything else (or unparsable) dpkg's. */
int policy_version_cmp(const char *type, const char *a, const char *b);
#endif

/* ---- attestations and signatures (policy/attest*.c, issue 9) ----------------------------- */
#ifndef STRATA_POLICY_ATTEST_INT
#define STRATA_POLICY_ATTEST_INT
#include <jansson.h>

/* Trusted keys (policy/attest_keys.c): count, and the key id (sha256 hex of the DER public key). */
size_t attest_key_count(void);
const char *attest_key_id(size_t i);
/* Index of the first trusted key whose signature sig (siglen bytes) over msg verifies (ECDSA and
 * RSA PKCS#1 v1.5 with SHA-256, Ed25519 pure), or -1. */
int attest_key_verify(const unsigned char *msg, size_t len, const unsigned char *sig, size_t siglen);
/* Standard or URL-safe base64, padding optional, whitespace ignored. Owned *out; -1 when invalid. */
int attest_base64_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen);

/* What one stored artifact blob says, checked against the trusted keys and the image digest
 * (policy/attest.c). Pure: no database, untrusted bytes only. */
struct attest_check {
	const char *type;      /* static: "cosign-signature", "in-toto-attestation", "sigstore-bundle", "unknown" */
	int key;               /* the trusted key that verified it, -1 none */
	bool sig_ok;           /* a trusted key verified the signature */
	bool about_image;      /* the signed content names the image (payload digest / a subject) */
	bool keyless;          /* certificate or transparency-log material present */
	bool verified;         /* sig_ok && about_image */
	char *status;          /* owned: "verified", "failed", "unverified", "not verified offline" */
	char *reason;          /* owned: why (or what) — one sentence naming the cause */
	char *predicate_type;  /* owned, in-toto only, or NULL */
	json_t *statement;     /* owned parsed in-toto statement (signed content), or NULL */
	char *named_digest;    /* owned: the digest the signed content names (first subject), or NULL */
};
void attest_check_blob(const char *media_type, const char *artifact_type, const unsigned char *payload, size_t len,
		       const char *signature_b64, const char *annotations_json, const char *image_digest,
		       struct attest_check *out);
void attest_check_clear(struct attest_check *c);

/* SLSA provenance fields of a statement (v0.2 and v1), owned strings or NULL. */
struct attest_provenance {
	char *slsa_version, *builder_id, *build_type, *source_repository, *source_revision;
};
bool attest_provenance_read(const json_t *statement, struct attest_provenance *p);
void attest_provenance_clear(struct attest_provenance *p);

/* Every row of the index's attestation table, checked (policy/attest_eval.c). */
struct attest_item {
	char *found_by, *manifest_digest, *ref_name, *media_type, *artifact_type, *error;
	struct attest_check chk;
	struct attest_provenance prov;
	bool has_prov;
};
struct attest_set {
	char *image_digest;    /* owned, "" when the image has none */
	bool has_table;        /* the index was built with attestation discovery */
	struct attest_item *v;
	size_t n;
};
int attest_set_load(sqlite3 *c, struct attest_set *s, struct strata_err **err);
void attest_set_clear(struct attest_set *s);
/* The value at a jq-like path (".predicate.buildType", ".subject[0].name") of j, borrowed or NULL. */
const json_t *attest_json_path(const json_t *j, const char *path);

/* /.audit/attestations.json (policy/report_attest.c). */
int attest_render_json(struct index_db *db, char **out, size_t *len, struct strata_err **err);
/* The attestation gate (policy/gate_attestation.c). */
extern const struct policy_gate_def policy_gate_attestation;
#endif

/* ---- policy engine core (policy/policy_bundle*.c, policy_eval.c, policy_out*.c; issue 6) -----
 * A parsed bundle keeps its jansson tree (every string below is borrowed from it); validation
 * problems are collected in problems[] (one line each: rule id, gate, trigger, parameter) and a
 * bundle with problems is never evaluated. */
#ifndef STRATA_POLICY_CORE_INT
#define STRATA_POLICY_CORE_INT
#include <jansson.h>

struct policy_image_ref {
	const char *registry, *repository; /* "*" wildcards; NULL = "*" */
	const char *type, *value;          /* image type tag|id|digest and its value ("*" wildcards) */
};
struct policy_set {
	const char *id, *name, *version, *comment;
	struct policy_rule *rules;
	size_t nrules;
};
struct policy_allow_item {
	const char *id, *gate, *trigger_id, *expires_on;
};
struct policy_allowlist {
	const char *id, *name;
	struct policy_allow_item *items;
	size_t nitems;
};
struct policy_mapping {
	const char *id, *name;
	struct policy_image_ref img;
	const char **policy_ids, **allowlist_ids;
	size_t npolicy_ids, nallowlist_ids;
};
struct policy_bundle {
	json_t *root;                     /* owned parsed document */
	const char *id, *name, *version;
	struct policy_set *policies;
	size_t npolicies;
	struct policy_allowlist *allowlists;
	size_t nallowlists;
	struct policy_mapping *mappings;
	size_t nmappings;
	bool has_mappings;                /* the bundle has a mappings key at all */
	struct policy_image_ref *allow_images, *deny_images;
	size_t nallow_images, ndeny_images;
	char **problems;                  /* owned validation problems, one line each */
	size_t nproblems;
	char **skipped;                   /* owned: rules dropped because their gate is not built (lenient) */
	size_t nskipped;
	bool builtin;                     /* the built-in default bundle */
};
/* Parses and validates a bundle (text of len bytes; source names it in messages). lenient: rules
 * naming a gate absent from the table are skipped (recorded in skipped[]) instead of problems —
 * used for the built-in bundle only. Owned result (policy_bundle_free), NULL with *err when the
 * text is not a JSON object; validation problems do not fail this call (see problems[]). */
struct policy_bundle *policy_bundle_parse(const char *text, size_t len, const char *source, bool lenient,
					  struct strata_err **err);
void policy_bundle_free(struct policy_bundle *b);
/* The built-in default bundle's JSON text (static, *len bytes), and the bundle parsed (lenient). */
const char *policy_bundle_default_text(size_t *len);
struct policy_bundle *policy_bundle_default(struct strata_err **err);
/* Reads and parses FILE (strict). Owned result or NULL with *err (I/O or not JSON). */
struct policy_bundle *policy_bundle_load(const char *path, struct strata_err **err);
/* Internal to the bundle reader: adds one problem line; validates one rule of policy p from its JSON
 * (0: keep it, -1: dropped); parses an RFC 3339 time (or a date) to seconds since the epoch. */
void policy_bundle_problem(struct policy_bundle *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int policy_bundle_check_rule(struct policy_bundle *b, const struct policy_set *p, struct policy_rule *r,
			     const json_t *jr, bool lenient);
bool policy_bundle_time_parse(const char *s, long long *out);
/* The gate / trigger of the table named name (case-insensitive; trigger aliases accepted), or NULL. */
const struct policy_gate_def *policy_gate_find(const char *name);
const struct policy_trigger_def *policy_trigger_find(const struct policy_gate_def *g, const char *name);
/* '*'-wildcard match of the whole text (case-sensitive); NULL pattern matches anything. */
bool policy_glob_match(const char *pattern, const char *text);

struct policy_finding {
	char *gate, *trigger, *trigger_id, *message, *rule_id, *policy_id, *path, *detail_json;
	int layer, visible;
	enum policy_action action;    /* the rule's action */
	enum policy_action effective; /* go when allowlisted, else action */
	char *allowlist_id, *allowlist_name, *allowlist_item; /* all NULL when not allowlisted */
};
struct policy_result {
	char *repo_tag, *registry, *repository, *tag; /* the evaluated tag, split */
	char *image_id, *image_digest;                /* config digest hex, manifest digest ("" unknown) */
	char *mapping_id, *mapping_name;              /* NULL when no mapping matched */
	bool default_policy;                          /* no mapping matched: the built-in default ran */
	const struct policy_bundle *bundle;           /* borrowed: the bundle whose rules ran */
	char **policy_ids;
	size_t npolicy_ids;
	struct policy_finding *f;
	size_t nf;
	enum policy_action final_action;
	const char *final_action_reason;              /* static: policy_evaluation, denylisted, allowlisted */
	const char *verdict;                          /* static: pass, warn, fail */
	char *evaluated_at;                           /* RFC 3339 UTC */
	double seconds;                               /* evaluation time */
	struct policy_bundle *owned_default;          /* owned when the default had to be loaded */
};
/* Evaluates bundle b (no problems) on the index: the mapping for tag (NULL/"": the image's ref),
 * every rule of its policies, allowlists, image lists, verdict. Owned *out (policy_result_free). */
int policy_evaluate(const struct policy_bundle *b, struct index_db *db, const char *tag, struct policy_result **out,
		    struct strata_err **err);
void policy_result_free(struct policy_result *r);
const char *policy_action_name(enum policy_action a); /* "go", "warn", "stop" */

/* Outputs (policy/policy_out*.c): owned NUL-terminated text, *len bytes. gate NULL: all gates. */
char *policy_out_verdict(const struct policy_result *r, size_t *len);
char *policy_out_json(const struct policy_result *r, size_t *len);
/* j as indented JSON (members in order) and a newline: owned, its length in *len; j is not
 * consumed. Every JSON file under /.audit is written by it. Aborts only when out of memory. */
char *policy_json_text(const json_t *j, size_t *len);
char *policy_out_findings(const struct policy_result *r, const char *gate, size_t *len);
char *policy_out_text(const struct policy_result *r, size_t *len);
char *policy_out_sarif(const struct policy_result *r, size_t *len);
char *policy_out_junit(const struct policy_result *r, size_t *len);
/* The process-wide evaluation for the mount / `strata report`: the bundle set by policy_use_bundle
 * (default otherwise) on db, evaluated once and cached (thread-safe). Borrowed result. */
const struct policy_result *policy_cached_result(struct index_db *db, struct strata_err **err);
/* The text of the bundle in effect (static or cached), *len bytes. */
const char *policy_bundle_in_effect(size_t *len);
/* Report renderers (policy/report.c). */
int policy_render_verdict(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int policy_render_report_json(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int policy_render_report_txt(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int policy_render_policy_json(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int policy_render_findings_gate(struct index_db *db, const char *gate, char **out, size_t *len,
				struct strata_err **err);
int policy_render_findings_always(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int policy_render_findings_packages(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int policy_render_findings_licenses(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int policy_render_findings_distro(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int policy_render_findings_metadata(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int policy_render_findings_ancestry(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int policy_render_findings_secret_scans(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int policy_render_findings_retrieved_files(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int policy_render_findings_files(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int policy_render_findings_passwd_file(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int policy_render_findings_dockerfile(struct index_db *db, char **out, size_t *len, struct strata_err **err);
int policy_render_findings_attestation(struct index_db *db, char **out, size_t *len, struct strata_err **err);
#endif

/* ---- helpers shared by the gates (policy/gate_util.c) -------------------------------------- */
#ifndef STRATA_POLICY_GATE_UTIL_INT
#define STRATA_POLICY_GATE_UTIL_INT
/* Walks a comma-separated list parameter: returns the next item (surrounding spaces trimmed,
 * empty items skipped) with its length in *len, or NULL at the end. *cursor starts at the list
 * (NULL is an empty list) and is advanced; the items point into the list. */
const char *policy_list_next(const char **cursor, size_t *len);
/* True when item is one of the list's items (exact; ASCII case-insensitive when nocase). */
bool policy_list_has(const char *list, const char *item, bool nocase);
/* True when name is one of the '|'-separated names of aliases (ASCII case-insensitive; NULL
 * aliases has none): the alias field of struct policy_trigger_def and policy_param_def. */
bool policy_alias_has(const char *aliases, const char *name);
#endif

/* ---- packages gate (policy/gate_packages*.c, issue 6) ------------------------------------- */
#ifndef STRATA_POLICY_PACKAGES_INT
#define STRATA_POLICY_PACKAGES_INT
/* Shared by gate_packages.c (defined there) and gate_packages_verify.c: prepares sql on c
 * (-1 with *err naming the packages gate); a column's text or ""; whether the index has the
 * catalog's package table (an index built without the catalog has none). */
int pkg_prepare(sqlite3 *c, const char *sql, sqlite3_stmt **st, struct strata_err **err);
const char *pkg_col(sqlite3_stmt *st, int i);
bool pkg_have_catalog(sqlite3 *c);
/* The verify trigger's eval (policy/gate_packages_verify.c), listed in gate_packages.c's table. */
int policy_packages_verify_eval(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err);
#endif

/* ---- integrity.json (policy/report_integrity.c, issue 7) --------------------------------- */
#ifndef STRATA_POLICY_INTEGRITY_INT
#define STRATA_POLICY_INTEGRITY_INT
int integrity_render_json(struct index_db *db, char **out, size_t *len, struct strata_err **err);
#endif

/* ---- findings/checks.json (policy/report_checks.c, issue 5) -------------------------------- */
#ifndef STRATA_POLICY_CHECKS_INT
#define STRATA_POLICY_CHECKS_INT
/* audit_checks_run's findings as JSON. */
int checks_render_json(struct index_db *db, char **out, size_t *len, struct strata_err **err);
#endif

/* ---- package-file verification (policy/gate_packages_verify.c), shared by the packages gate's
 * verify trigger and integrity.json (issue 7) ------------------------------------------------ */
#ifndef STRATA_POLICY_PKG_VERIFY_INT
#define STRATA_POLICY_PKG_VERIFY_INT
/* One package file whose content no longer matches its package database. The strings live until
 * the emit callback returns. */
struct pkg_verify_item {
	const char *type, *name, *version; /* the package */
	int pkg_layer;                     /* layer that introduced this package version (0: unknown) */
	const char *path;                  /* as the package database writes it */
	const char *expected;              /* "md5:<hex>", "sha256:<hex>", "apk:Q1…" */
	const char *found;                 /* same notation, "" when missing */
	const char *status;                /* "changed" or "missing" */
	bool conffile;                     /* a dpkg/rpm conffile (the admin may change it) */
	int layer;                         /* layer whose entry the image shows there (0: missing) */
};
struct pkg_verify_opts {
	bool conffiles; /* also verify conffiles */
	/* Skip reading a file whose visible entry comes from the layer that introduced the package
	 * version (the package's own layer wrote both file and digest); counted as trusted. */
	bool trust_install_layer;
	bool (*want)(void *ud, const char *name, const char *path); /* NULL: every file */
	int (*emit)(void *ud, const struct pkg_verify_item *it, struct strata_err **err);
	void *ud;
};
struct pkg_verify_stats {
	unsigned files, reads, trusted, changed, missing;
};
/* Walks every package file with a digest in the merged image (paths followed through symlinked
 * parents, as dpkg --verify does), reads what must be read (md5/sha1/… through the byte sources,
 * sha256 from the index) and calls o->emit for each changed or missing file, in package order.
 * No catalog in the index: nothing, 0. stats (may be NULL) is filled. 0, or -1 with *err. */
int pkg_verify_files(struct index_db *idx, sqlite3 *c, const struct pkg_verify_opts *o,
		     struct pkg_verify_stats *stats, struct strata_err **err);
#endif

/* ---- one cleanup macro for prepared statements, shared by the gates (policy/gate_*.c) -------- */
#ifndef STRATA_POLICY_SQLSTMT_INT
#define STRATA_POLICY_SQLSTMT_INT
static inline void policy_stmt_finalizep(sqlite3_stmt **s)
{
	if (*s)
		sqlite3_finalize(*s);
}
/* `cleanup_sqlstmt sqlite3_stmt *st = NULL;` finalizes st when it goes out of scope. */
#define cleanup_sqlstmt __attribute__((cleanup(policy_stmt_finalizep)))
#endif
