/* audit/audit_int.h — internals shared by the files of audit/. */
#ifndef STRATA_AUDIT_INT_H
#define STRATA_AUDIT_INT_H

#include "audit.h"

/* One scanner of the composite. new() returns owned ops whose ctx the scanner owns; free_ops()
 * releases them. identity is hashed into the index's rules hash (owned string; "" when the scanner
 * has no configurable rules). */
struct audit_scanner_def {
	const char *name;
	struct index_scanner_ops *(*new_ops)(const struct audit_options *o, char **identity, struct strata_err **err);
	void (*free_ops)(struct index_scanner_ops *ops);
};

/* The table of scanners (audit/scanner.c). */
extern const struct audit_scanner_def audit_scanner_defs[];
extern const size_t audit_scanner_ndefs;

#endif

/* ---- package catalog (audit/catalog*.c, issue 4) ----------------------------------------- */
#ifndef STRATA_AUDIT_CATALOG_INT
#define STRATA_AUDIT_CATALOG_INT

/* The capture scanner's table entry (audit/catalog.c). */
struct index_scanner_ops *catalog_new_ops(const struct audit_options *o, char **identity, struct strata_err **err);
void catalog_free_ops(struct index_scanner_ops *ops);

/* Largest evidence file kept (bigger ones are stored truncated and flagged). */
#define CATALOG_MAX_CAPTURE (8u << 20)

/* deb822 (dpkg status, DEP-5, apk-like "K: v" blocks): one field of a stanza, pointing into the
 * parsed buffer (value: the first line trimmed, continuation lines included verbatim). */
struct catalog_field {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};
/* Called once per stanza (fields borrowed for the call). Non-zero stops the parse (returned). */
typedef int (*catalog_stanza_cb)(void *ctx, const struct catalog_field *f, size_t n);
/* Parses buf (len bytes, need not be NUL-terminated): stanzas separated by blank lines, fields
 * "Name: value" with continuation lines starting with a space or tab; '#' comment lines are
 * skipped; lines that are neither are ignored (dpkg would refuse them; a catalog keeps going).
 * Returns what the callback returned to stop, or 0. */
int catalog_deb822_parse(const char *buf, size_t len, catalog_stanza_cb cb, void *ctx);
/* The value of field name (case-insensitive) as an owned string (first line trimmed when
 * first_line, else the whole value with continuation lines), or NULL when absent. */
char *catalog_field_get(const struct catalog_field *f, size_t n, const char *name, bool first_line);

/* One package found in one view. Every string owned. */
struct catalog_pkg {
	char *type;          /* deb, apk, python, npm */
	char *name, *version, *arch, *source, *source_version;
	char *path;          /* evidence path ("/var/lib/dpkg/status", ".../METADATA") */
	char *license;       /* declared license field (apk, python, npm), or NULL */
	char *key;           /* identity across views: type, name, arch or evidence directory */
	char **files;        /* owned paths, "/…" */
	char **digests;      /* parallel to files: "md5:…", "sha256:…" or NULL */
	char **kinds;        /* parallel to files: NULL, or "conffile" */
	size_t nfiles, capfiles;
	int layer;           /* layer introducing this version (filled by the builder) */
	char *vendor;        /* rpm VENDOR, Java Implementation-Vendor, or NULL */
};
struct catalog_set {
	struct catalog_pkg *v;
	size_t n, cap;
};
struct catalog_pkg *catalog_set_add(struct catalog_set *s, const char *type, const char *name);
void catalog_pkg_add_file(struct catalog_pkg *p, const char *path, const char *digest, const char *kind);
void catalog_set_clear(struct catalog_set *s);

/* dpkg status text → installed packages ("installed" status word only), evidence path given. */
int catalog_dpkg_status(struct catalog_set *s, const char *buf, size_t len, const char *path);
/* apk installed database → packages with files and checksums. */
int catalog_apk_installed(struct catalog_set *s, const char *buf, size_t len, const char *path);
/* Python METADATA / PKG-INFO (path is the file's path; the package's directory is its parent). */
int catalog_python_metadata(struct catalog_set *s, const char *buf, size_t len, const char *path);
/* Python RECORD: adds the files it lists to p (paths relative to the site directory). */
void catalog_python_record(struct catalog_pkg *p, const char *buf, size_t len, const char *path);
/* npm package.json under node_modules. */
int catalog_npm_package(struct catalog_set *s, const char *buf, size_t len, const char *path);

/* Licenses. One normalised result: spdx owned (an SPDX id or expression, or LicenseRef-…), how a
 * static word: spdx | spdx-case | spdx-deprecated | debian-alias | debian-shortname | unmatched
 * (the worst of the expression's terms). */
struct catalog_license {
	char *spdx;
	const char *how;
};
/* Normalises a license expression in Debian (DEP-5), apk, PyPI or npm form. Never fails. */
void catalog_license_normalize(const char *expr, struct catalog_license *out);
/* True when id (case-sensitive) is in the SPDX license list (deprecated ids: *deprecated set). */
bool catalog_spdx_known(const char *id, bool *deprecated);
/* The canonical spelling of id when it is an SPDX id up to case, else NULL. Static string. */
const char *catalog_spdx_canonical(const char *id, bool *deprecated);
/* A /usr/share/doc/PKG/copyright file → distinct licenses. cb gets each result, how prefixed with
 * the reading method ("dep5", "common-licenses", "none") and the raw text it came from. */
typedef void (*catalog_license_cb)(void *ctx, const struct catalog_license *l, const char *method, const char *raw);
/* Returns the number of licenses found (0: the caller records the file as a LicenseRef). */
size_t catalog_copyright_parse(const char *buf, size_t len, catalog_license_cb cb, void *ctx);
/* True when the text is a DEP-5 (machine-readable) copyright file. */
bool catalog_copyright_is_dep5(const char *buf, size_t len);

/* The finish() pass (audit/catalog_build.c): parses the captures of every view into the tables. */
int catalog_build(void *sqlite_db, struct strata_err **err);

/* A capture visible in a view: the node's path (no leading slash) and its bytes (owned,
 * NUL-terminated after len). A list is sorted by path. */
struct vis {
	char *path;
	char *data;
	size_t len;
	int layer;
};
struct vis_list {
	struct vis *v;
	size_t n, cap;
};
/* The capture at path (no leading slash) in a sorted list, or NULL. Borrowed. */
const struct vis *vis_find(const struct vis_list *l, const char *path);
/* Writes the tables from the per-view sets (sets[1..L], keys sorted; sets[L] final with layers
 * filled) and the final view's captures (os-release, copyright files). audit/catalog_write.c. */
int catalog_write(void *sqlite_db, const struct catalog_set *sets, int L, const struct vis_list *final,
		  struct strata_err **err);

#endif

/* ---- secret scanning (audit/secrets*.c, issue 5) ----------------------------------------- */
#ifndef STRATA_AUDIT_SECRETS_INT
#define STRATA_AUDIT_SECRETS_INT

/* The scanner's table entry (audit/secrets.c). */
struct index_scanner_ops *secrets_new_ops(const struct audit_options *o, char **identity, struct strata_err **err);
void secrets_free_ops(struct index_scanner_ops *ops);

/* One rule, from the rules JSON (audit/secret_rules.json; see its "about"). PCRE2 objects are
 * held as opaque pointers (pcre2_code *) so this header does not need pcre2.h. */
struct secret_rule {
	char *id, *description, *pattern;
	char **keywords;        /* literals for the prefilter; none: a whole-file rule (paths required) */
	size_t nkeywords;
	bool keywords_case;     /* keywords match case-sensitively */
	double min_entropy;     /* 0 = no floor */
	size_t window;          /* bytes after a keyword hit a match may extend to */
	void *re;               /* compiled pattern */
	uint32_t group;         /* number of the `secret` group */
	void **paths, **exclude, **allow;
	size_t npaths, nexclude, nallow;
	char *example_path;     /* examples' path (tests), or NULL */
	char **positive, **negative; /* example templates (tests) */
	size_t npositive, nnegative;
};
struct secret_ruleset {
	struct secret_rule *v;
	size_t n;
	void **allow, **exclude;   /* global allow (over the secret) and exclude (over the path) */
	size_t nallow, nexclude;
	char *identity;            /* canonical text of every rule (for the rules hash) */
};
/* The rules compiled into strata (audit/secret_rules.json). Borrowed, not NUL-terminated. */
const char *secrets_builtin_json(size_t *len);
/* Loads the built-in rules, then file (NULL: none) replacing them, or added to them when extend.
 * Owned result or NULL with *err naming the rule and the problem. */
struct secret_ruleset *secrets_rules_load(const char *file, bool extend, struct strata_err **err);
void secrets_ruleset_free(struct secret_ruleset *rs);
/* True when rule r applies to path ("/etc/shadow", or "image-config:Env" for config text). */
bool secrets_rule_applies(const struct secret_ruleset *rs, const struct secret_rule *r, const char *path);
/* True when the secret s[0..n) is allowed (a placeholder): rule or global allow patterns. */
bool secrets_rule_allowed(const struct secret_ruleset *rs, const struct secret_rule *r, const unsigned char *s,
			  size_t n);

/* Compiled rules (a Vectorscan streaming database of every keyword and the PCRE2 patterns),
 * shared read-only by every stream. Takes ownership of rs. */
struct secrets_engine;
struct secrets_engine *secrets_engine_new(struct secret_ruleset *rs, struct strata_err **err);
void secrets_engine_free(struct secrets_engine *e);
const struct secret_ruleset *secrets_engine_rules(const struct secrets_engine *e);

/* One finding. The secret itself is never kept: only its sha256 and its first 4 bytes. */
struct secret_hit {
	const struct secret_rule *rule;
	uint64_t line;          /* 1-based line of the secret's first byte */
	uint64_t column;        /* 1-based byte column */
	uint64_t offset;        /* byte offset of the secret's first byte in the file */
	uint64_t length;        /* the secret's length in bytes (to mask it in config text) */
	char fingerprint[65];   /* sha256 hex of the secret */
	char preview[16];       /* first 4 bytes (non-printable as '?') + "…" */
};

/* Scans one file's bytes as they stream (a Vectorscan stream per file; PCRE2 confirms each
 * keyword hit in a window of a bounded tail buffer). Files with a NUL byte in their first 8 KiB
 * are binary and not scanned. One per thread (owns its Vectorscan scratch). */
struct secrets_stream;
struct secrets_stream *secrets_stream_new(const struct secrets_engine *e, struct strata_err **err);
void secrets_stream_free(struct secrets_stream *s);
/* on: files with a NUL byte are scanned like the others (--secret-scan-binary); default off. */
void secrets_stream_scan_binary(struct secrets_stream *s, bool on);
/* path: for path-scoped rules ("/etc/shadow"). */
void secrets_stream_begin(struct secrets_stream *s, const char *path);
void secrets_stream_feed(struct secrets_stream *s, const void *buf, size_t len);
/* Finishes the file: *hits (borrowed until the next begin) and *n; returns true when the file
 * was binary (then n = 0). Every byte of the file held is wiped. */
bool secrets_stream_end(struct secrets_stream *s, const struct secret_hit **hits, size_t *n);
#endif

/* ---- more catalogers: rpm, Java, Go, Ruby (audit/catalog_{rpm,bdb,java,go,gem,more}.c) ---- */
#ifndef STRATA_AUDIT_CATALOG_MORE_INT
#define STRATA_AUDIT_CATALOG_MORE_INT

/* Capture bounds of the evidence files bigger than CATALOG_MAX_CAPTURE allows: an rpm database
 * is kept whole up to CATALOG_MAX_RPMDB; a Java archive is read whole up to CATALOG_MAX_JAR at the
 * end of its stream and only a summary of its metadata is kept (catalog_java_summarize); of a Go
 * binary only the bytes from the build info magic on, at most CATALOG_MAX_GOINFO, are kept. */
#define CATALOG_MAX_RPMDB (256u << 20)
#define CATALOG_MAX_JAR (64u << 20)
#define CATALOG_MAX_GOINFO (256u << 10)

/* How the capture scanner treats a path (no leading slash) catalog_path_wanted() did not take:
 * 0 not wanted, 1 keep the bytes (up to *max), 2 a Java archive (summarised at file end), 3 probe
 * for a Go build info (every regular file: ELF files only are searched). */
int catalog_more_wanted(const char *path, size_t *max);

/* rpm. One header blob (as rpmdb stores it, with or without the 8-byte header magic) → one
 * package added to s (name, [epoch:]version-release, arch, license, source rpm, vendor, files
 * with digests; %config files have kind "conffile"). Returns 0, or -1 with *err when the blob is
 * malformed (nothing added). */
int catalog_rpm_header(struct catalog_set *s, const unsigned char *blob, size_t len, const char *path,
		       struct strata_err **err);
/* rpmdb.sqlite bytes (opened in memory with sqlite3_deserialize, read-only, defensive) → every
 * header blob of its Packages table. Returns the number of packages, or -1 with *err. */
int catalog_rpm_sqlite(struct catalog_set *s, const void *buf, size_t len, const char *path,
		       struct strata_err **err);
/* A Berkeley DB hash `Packages` database → every header blob it holds. Returns the number of
 * packages, or -1 with *err. */
int catalog_rpm_bdb(struct catalog_set *s, const void *buf, size_t len, const char *path, struct strata_err **err);
/* Berkeley DB hash file (audit/catalog_bdb.c): calls cb with every data item (in page order),
 * assembled from overflow pages when needed; the value is borrowed for the call. A non-zero
 * return of cb stops the walk. Returns the number of values, or -1 with *err. */
typedef int (*catalog_bdb_cb)(void *ctx, const unsigned char *val, size_t len);
int catalog_bdb_hash_values(const unsigned char *buf, size_t len, catalog_bdb_cb cb, void *ctx,
			    struct strata_err **err);

/* Go. The build info of a Go binary (Go 1.18+ inline format: "\xff Go buildinf:" + 16 header
 * bytes + varint-prefixed version and module info) found anywhere in buf → a "golang" package
 * for the main module (version "(devel)" kept) and one per dep/replacement; the toolchain version
 * goes into source_version. Returns the number of packages added (0 when there is none). */
int catalog_go_buildinfo(struct catalog_set *s, const void *buf, size_t len, const char *path);
/* The offset of the build info magic in buf, or -1. */
long catalog_go_find_magic(const void *buf, size_t len);
/* The offset of the first magic wholly in buf that starts 16-byte aligned in its file (buf[0] is at
 * file offset file_off), or -1: where the .go.buildinfo section can be. */
long catalog_go_find_aligned_magic(const void *buf, size_t len, uint64_t file_off);

/* Java. A jar/war/ear's bytes (truncated: only a prefix; read as a stream of local entries)
 * → an owned summary text (deb822 stanzas: one per archive and nested archive, one level deep,
 * with its manifest fields and each pom.properties), *out_len set; NULL when nothing is found. */
char *catalog_java_summarize(const void *buf, size_t len, bool truncated, size_t *out_len);
/* That summary → "java-archive" packages (maven coordinates when a pom.properties names them). */
int catalog_java_summary(struct catalog_set *s, const char *buf, size_t len, const char *path);
/* Ruby: a specifications/NAME.gemspec → one "gem" package (name, version, licenses). */
int catalog_gem_spec(struct catalog_set *s, const char *buf, size_t len, const char *path);

/* The view pass (audit/catalog_more.c): catalog_more_os adds the rpm packages of the view's
 * database (before the language packages, so their files count as OS-owned);
 * catalog_more_lang adds Java, Go and Ruby packages. */
void catalog_more_os(const struct vis_list *vl, struct catalog_set *s);
void catalog_more_lang(const struct vis_list *vl, struct catalog_set *s);
/* The purl of an rpm, maven, golang or gem package (owned), or NULL for other types. distro_id
 * and version_id come from os-release (either may be NULL). */
char *catalog_more_purl(const struct catalog_pkg *p, const char *distro_id, const char *version_id);
/* The package key (identity across views) for the types above, owned, or NULL for other types. */
char *catalog_more_key(const struct catalog_pkg *p);
#endif

/* ---- SPDX exceptions (audit/catalog_spdx.c, issue 4) ------------------------------------- */
#ifndef STRATA_AUDIT_CATALOG_SPDX_EXC_INT
#define STRATA_AUDIT_CATALOG_SPDX_EXC_INT
/* The SPDX exceptions list's id named by phrase (words joined by '-': "Classpath-exception"):
 * the id up to case, a known spelling, or the only id phrase is a prefix of; else NULL. Static. */
const char *catalog_spdx_exception(const char *phrase);
#endif

/* ---- retrieved files and checks (audit/retrieved.c, audit/checks*.c, issue 5) ------------- */
#ifndef STRATA_AUDIT_RETRIEVED_INT
#define STRATA_AUDIT_RETRIEVED_INT
/* The retrieved-file scanner's table entry (audit/retrieved.c). */
struct index_scanner_ops *retrieved_new_ops(const struct audit_options *o, char **identity, struct strata_err **err);
void retrieved_free_ops(struct index_scanner_ops *ops);
/* Registers the checks' SQL helpers on db (audit/checks_sql.c): split(text, sep) (table-valued:
 * columns n 1-based and part; sep default "\n"; a final empty part after a trailing separator is
 * not returned), split_part(text, sep, n) (the n-th part, 1-based, or NULL) and
 * fnmatch(pattern, string) (1/0, FNM_PATHNAME). */
int checks_sql_register(struct sqlite3 *db, struct strata_err **err);
#endif

/* ---- Python version order (audit/version_pep440.c, issue 4) ------------------------------ */
#ifndef STRATA_AUDIT_PEP440_INT
#define STRATA_AUDIT_PEP440_INT
/* PEP 440 order of a and b (<0, 0, >0); *parsed false (result 0) when either is not a PEP 440
 * version, so the caller can fall back. Pure, never fails. */
int audit_version_cmp_pep440(const char *a, const char *b, bool *parsed);
#endif

/* ---- Ruby gem version order (audit/version_gem.c, issue 4) ------------------------------- */
#ifndef STRATA_AUDIT_GEMVER_INT
#define STRATA_AUDIT_GEMVER_INT
/* Gem::Version order of a and b (<0, 0, >0); *parsed false (result 0) when either is not a gem
 * version, so the caller can fall back. Pure, never fails. */
int audit_version_cmp_gem(const char *a, const char *b, bool *parsed);
#endif

/* ---- ELF marker (audit/elf_mark.c, issue 7) ---------------------------------------------- */
#ifndef STRATA_AUDIT_ELF_INT
#define STRATA_AUDIT_ELF_INT
/* The scanner's table entry: fills elf_entry(entry) with the regular files starting with \x7fELF. */
struct index_scanner_ops *elf_mark_new_ops(const struct audit_options *o, char **identity, struct strata_err **err);
void elf_mark_free_ops(struct index_scanner_ops *ops);
#endif
