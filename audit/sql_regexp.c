/* audit/sql_regexp.c — SQL functions the checks and the policy gates use over the index:
 * regexp(pattern, text) (so `text REGEXP pattern` works too) backed by PCRE2 with JIT.
 *
 * The compiled pattern is cached per statement through sqlite3_set_auxdata, so a query that
 * tests one pattern against a million rows compiles it once. Patterns are PCRE2 syntax with
 * PCRE2_MULTILINE (so ^ and $ match at line boundaries: a check over a stored configuration file
 * can anchor a line, e.g. '^\s*PermitRootLogin\s+yes'). A pattern that does not compile is an SQL
 * error naming the pattern and PCRE2's reason. NULL text gives NULL. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "audit_int.h"

#include <pcre2.h>
#include <sqlite3.h>
#include <stdio.h>

static void sql_regexp_free(void *p)
{
	pcre2_code_free((pcre2_code *)p);
}

/* Sets ctx's result: 1/0 for a match of re in the text or blob v, NULL for NULL, an error when
 * PCRE2 fails (match limit, …). */
static void sql_regexp_match(sqlite3_context *ctx, const pcre2_code *re, const unsigned char *pat, sqlite3_value *v)
{
	if (sqlite3_value_type(v) == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	const void *text = sqlite3_value_blob(v);
	int len = sqlite3_value_bytes(v);
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	if (!md) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	int rc = pcre2_match(re, text ? text : (const void *)"", (PCRE2_SIZE)len, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH) {
		sqlite3_result_int(ctx, rc >= 0);
		return;
	}
	PCRE2_UCHAR why[160];
	pcre2_get_error_message(rc, why, sizeof why);
	char *msg = sqlite3_mprintf("regexp: matching '%s': %s", pat, why);
	sqlite3_result_error(ctx, msg ? msg : "regexp: match failed", -1);
	sqlite3_free(msg);
}

static void sql_regexp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const unsigned char *pat = sqlite3_value_text(argv[0]);
	if (!pat) {
		sqlite3_result_null(ctx);
		return;
	}
	pcre2_code *re = sqlite3_get_auxdata(ctx, 0);
	bool fresh = !re;
	if (fresh) {
		int ec;
		PCRE2_SIZE eo;
		re = pcre2_compile(pat, PCRE2_ZERO_TERMINATED, PCRE2_MULTILINE | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
				   &ec, &eo, NULL);
		if (!re) {
			PCRE2_UCHAR why[160];
			pcre2_get_error_message(ec, why, sizeof why);
			char *msg = sqlite3_mprintf("regexp: pattern '%s': %s at offset %zu", pat, why, (size_t)eo);
			sqlite3_result_error(ctx, msg ? msg : "regexp: bad pattern", -1);
			sqlite3_free(msg);
			return;
		}
		(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter serves when JIT is unavailable */
	}
	sql_regexp_match(ctx, re, pat, argv[1]);
	/* Last: SQLite may run the destructor before set_auxdata returns (it owns re from here). */
	if (fresh)
		sqlite3_set_auxdata(ctx, 0, re, sql_regexp_free);
}

int audit_sql_register(struct sqlite3 *db, struct strata_err **err)
{
	int rc = sqlite3_create_function_v2(db, "regexp", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_regexp,
					    NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "sqlite: registering regexp(): %s", sqlite3_errmsg(db));
	return 0;
}
