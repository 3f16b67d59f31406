/* policy/gate_files.c — Anchore's `files` gate over the merged image's nodes (issue 6):
 * suid_or_guid_set (setuid/setgid regular files), name_match (regex over the path),
 * strata's device_outside_dev and unowned_uid (owner uid with no account in /etc/passwd) and strata's world_writable (files and
 * directories writable by others; directories with the sticky bit and symlinks excluded).
 * Both read node rows of the merged view (view L) joined to the entry whose attributes are shown. */
#include "policy_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Runs sql (columns: path, mode, layer) and fires one finding per row with fmt (path, mode).
 * Returns 0, or -1 with *err on a database error. */
static int files_fire_rows(struct policy_eval *ev, const struct policy_rule *r, const char *sql, const char *fmt,
			   struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK) {
		cleanup_free char *e = xstrdup(sqlite3_errmsg(c));
		sqlite3_finalize(st);
		return strata_err_set(err, STRATA_EIO, "files gate: %s", e);
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *path = (const char *)sqlite3_column_text(st, 0);
		long long mode = sqlite3_column_int64(st, 1);
		cleanup_free char *msg = xasprintf(fmt, path ? path : "", (unsigned long long)mode);
		const struct policy_match m = {.message = msg, .path = path, .layer = sqlite3_column_int(st, 2),
					       .visible = 1};
		policy_eval_fire(ev, r, &m);
	}
	if (rc != SQLITE_DONE) {
		cleanup_free char *e = xstrdup(sqlite3_errmsg(c));
		sqlite3_finalize(st);
		return strata_err_set(err, STRATA_EIO, "files gate: %s", e);
	}
	sqlite3_finalize(st);
	return 0;
}

#define FILES_MERGED_SQL                                                                            \
	"SELECT '/' || ltrim(n.path, '/'), e.mode, e.layer FROM node n JOIN entry e ON e.id = n.data_entry" \
	" WHERE n.view = (SELECT layers FROM image WHERE id = 1) AND "

/* suid_or_guid_set: fires per path of the image (any type, as Anchore: setgid directories too) with
 * S_ISUID or S_ISGID. Anchore's text prints Python's oct() of the whole st_mode, file type bits
 * included ("0o104755" for a setuid regular file). */
static int files_eval_suid(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	return files_fire_rows(
	    ev, r,
	    "SELECT '/' || ltrim(n.path, '/'), (e.mode & 4095) | CASE n.type WHEN 'file' THEN 32768"
	    " WHEN 'dir' THEN 16384 WHEN 'symlink' THEN 40960 WHEN 'chardev' THEN 8192 WHEN 'blockdev' THEN 24576"
	    " WHEN 'fifo' THEN 4096 WHEN 'socket' THEN 49152 ELSE 0 END, e.layer"
	    " FROM node n JOIN entry e ON e.id = n.data_entry WHERE n.view = (SELECT layers FROM image WHERE id = 1)"
	    " AND (e.mode & 3072) != 0 ORDER BY n.path",
	    "SUID or SGID found set on file %s. Mode: 0o%llo", err);
}

/* world_writable: fires per file or directory writable by others (no sticky bit on directories). */
static int files_eval_world_writable(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	return files_fire_rows(ev, r,
			       FILES_MERGED_SQL "n.type <> 'symlink' AND (e.mode & 2) != 0"
					       " AND NOT (n.type = 'dir' AND (e.mode & 512) != 0) ORDER BY n.path",
			       "World-writable file or directory found: %s. Mode: 0o%llo", err);
}

/* name_match: fires per path of the image (any type) matched by the regex param (PCRE2 search). */
static int files_eval_name_match(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	const char *re = policy_rule_param(r, "regex");
	sqlite3_stmt *st = NULL;
	if (!re || sqlite3_prepare_v2(c, FILES_MERGED_SQL "n.path <> '' AND regexp(?1, '/' || ltrim(n.path, '/'))"
					 " ORDER BY n.path", -1, &st, NULL) != SQLITE_OK) {
		if (!re)
			return 0;
		cleanup_free char *e = xstrdup(sqlite3_errmsg(c));
		sqlite3_finalize(st);
		return strata_err_set(err, STRATA_EIO, "files gate: %s", e);
	}
	sqlite3_bind_text(st, 1, re, -1, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *path = (const char *)sqlite3_column_text(st, 0);
		cleanup_free char *msg = xasprintf("Application of regex matched file found in container: file=%s regexp=%s",
						   path ? path : "", re);
		const struct policy_match m = {.message = msg, .path = path, .layer = sqlite3_column_int(st, 2),
					       .visible = 1};
		policy_eval_fire(ev, r, &m);
	}
	if (rc != SQLITE_DONE) {
		cleanup_free char *e = xstrdup(sqlite3_errmsg(c));
		sqlite3_finalize(st);
		return strata_err_set(err, STRATA_EUSAGE, "files gate: %s", e);
	}
	sqlite3_finalize(st);
	return 0;
}

/* device_outside_dev (strata's): each character or block device node outside /dev. */
static int files_eval_device(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	return files_fire_rows(ev, r,
			       FILES_MERGED_SQL "n.type IN ('chardev', 'blockdev') AND ltrim(n.path, '/') NOT LIKE 'dev/%'"
					       " ORDER BY n.path",
			       "Device node found outside /dev: %s. Mode: 0o%llo", err);
}

/* The image's /etc/passwd (a regular file of the merged view; at most 4 MiB) read through the
 * byte sources (policy_eval_file_content, as the passwd_file gate reads it). Returns 1 with
 * *out owned and NUL-terminated, 0 when the image has none, -1 with *err. */
static int files_read_passwd(struct policy_eval *ev, char **out, struct strata_err **err)
{
	struct index_db *idx = policy_eval_index(ev);
	size_t len;
	bool truncated;
	return policy_eval_file_content(ev, index_db_view_merged(idx, index_db_layer_count(idx)), "/etc/passwd",
					4u << 20, out, &len, &truncated, err);
}

/* True when some line of passwd (NUL-terminated) has uid as its third field. */
static bool files_passwd_has_uid(const char *passwd, long long uid)
{
	for (const char *l = passwd; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *f = l;
		for (int i = 0; i < 2 && f; i++) {
			f = strpbrk(f, ":\n");
			f = f && *f == ':' ? f + 1 : NULL;
		}
		if (!f || *f < '0' || *f > '9')
			continue;
		char *end = NULL;
		long long v = strtoll(f, &end, 10);
		if (v == uid && end && (*end == ':' || *end == '\n' || !*end))
			return true;
	}
	return false;
}

/* unowned_uid (strata's): each file or directory whose owner uid has no account in the image's
 * /etc/passwd. An image without /etc/passwd gets no findings (nothing to judge against). */
static int files_eval_unowned(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	cleanup_free char *passwd = NULL;
	int have = files_read_passwd(ev, &passwd, err);
	if (have <= 0)
		return have;
	sqlite3 *c = policy_eval_db(ev);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c,
			       "SELECT '/' || ltrim(n.path, '/'), e.uid, e.layer FROM node n JOIN entry e ON e.id = n.data_entry"
			       " WHERE n.view = (SELECT layers FROM image WHERE id = 1) AND n.path <> '' ORDER BY n.path",
			       -1, &st, NULL) != SQLITE_OK) {
		cleanup_free char *e = xstrdup(sqlite3_errmsg(c));
		sqlite3_finalize(st);
		return strata_err_set(err, STRATA_EIO, "files gate: %s", e);
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		long long uid = sqlite3_column_int64(st, 1);
		if (files_passwd_has_uid(passwd, uid))
			continue;
		const char *path = (const char *)sqlite3_column_text(st, 0);
		cleanup_free char *msg = xasprintf("File %s is owned by uid %lld, which has no account in /etc/passwd",
						   path ? path : "", uid);
		const struct policy_match m = {.message = msg, .path = path, .layer = sqlite3_column_int(st, 2),
					       .visible = 1};
		policy_eval_fire(ev, r, &m);
	}
	sqlite3_finalize(st);
	return 0;
}

/* attribute_match (Anchore's): the node at filename in the image compared by sha256 (checksum,
 * checksum_match equals|not_equals) and/or permission bits (mode in octal, mode_op); fires when
 * every given comparison holds, with Anchore's text. A missing file fires only with
 * skip_missing=false. Non-regular files have Anchore's checksum "DIRECTORY_OR_OTHER". */
static int files_eval_attribute(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	const char *filename = policy_rule_param(r, "filename");
	const char *checksum = policy_rule_param(r, "checksum");
	const char *cop = policy_rule_param(r, "checksum_match");
	const char *mode = policy_rule_param(r, "mode");
	const char *mop = policy_rule_param(r, "mode_op");
	const char *skip = policy_rule_param(r, "skip_missing");
	cop = cop ? cop : "equals";
	mop = mop ? mop : "equals";
	if (!filename)
		return 0;
	sqlite3 *c = policy_eval_db(ev);
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c,
			       "SELECT CASE WHEN n.type = 'file' THEN coalesce(e.sha256, '') ELSE 'DIRECTORY_OR_OTHER' END,"
			       " e.mode & 4095, e.layer FROM node n JOIN entry e ON e.id = n.data_entry"
			       " WHERE n.view = (SELECT layers FROM image WHERE id = 1) AND '/' || ltrim(n.path, '/') = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "files gate: %s", sqlite3_errmsg(c));
	sqlite3_bind_text(st, 1, filename, -1, SQLITE_STATIC);
	cleanup_free char *msg = NULL;
	int layer = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *sum = (const char *)sqlite3_column_text(st, 0);
		unsigned long long have = (unsigned long long)sqlite3_column_int64(st, 1);
		layer = sqlite3_column_int(st, 2);
		cleanup_free char *cpart = NULL, *mpart = NULL;
		if (checksum && *checksum) {
			bool eq = sum && !strcmp(sum, checksum);
			if (eq != !strcmp(cop, "equals"))
				return 0;
			cpart = xasprintf(" and checksum=%s op=%s specified_checksum=%s", sum ? sum : "", cop, checksum);
		}
		if (mode && *mode) {
			unsigned long long want = strtoull(mode, NULL, 8);
			if ((have == want) != !strcmp(mop, "equals"))
				return 0;
			mpart = xasprintf(" and mode=0o%llo op=%s specified_mode=0o%llo", have, mop, want);
		}
		if (!cpart && !mpart)
			return 0;
		msg = xasprintf("filename=%s%s%s", filename, cpart ? cpart : "", mpart ? mpart : "");
	} else {
		if (!skip || strcasecmp(skip, "false"))
			return 0; /* skip_missing defaults to true */
		msg = xasprintf("filename=%s and skip_missing=False", filename);
	}
	const struct policy_match m = {.message = msg, .path = filename, .layer = layer, .visible = layer ? 1 : -1};
	policy_eval_fire(ev, r, &m);
	return 0;
}

static const char *files_validate_attribute(const struct policy_rule *r)
{
	const char *mode = policy_rule_param(r, "mode");
	if (mode && (!*mode || strspn(mode, "01234567") != strlen(mode)))
		return "mode must be octal digits (\"0644\")";
	return NULL;
}

static const struct policy_param_def files_attr_params[] = {
    {"filename", POLICY_PARAM_STRING, true, NULL, NULL},
    {"checksum_algorithm", POLICY_PARAM_ENUM, false, "sha256", NULL},
    {"checksum", POLICY_PARAM_STRING, false, NULL, NULL},
    {"checksum_match", POLICY_PARAM_ENUM, false, "equals|not_equals", NULL},
    {"mode", POLICY_PARAM_STRING, false, NULL, NULL},
    {"mode_op", POLICY_PARAM_ENUM, false, "equals|not_equals", NULL},
    {"skip_missing", POLICY_PARAM_BOOL, false, NULL, NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

/* content_regex_match (Anchore's; strata has no analyzer config): regex_name is the PCRE2 regex
 * itself, applied per line (multiline ^ and $) to every regular file of the image of at most
 * max_size bytes (default 1 MiB) whose path matches path_regex (strata's; all when absent), read
 * through policy_eval_entry_content (the query has each file's entry: no lookup by path per file).
 * One finding per matching file, Anchore's text. */
static int files_eval_content(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	const char *re = policy_rule_param(r, "regex_name");
	const char *pre = policy_rule_param(r, "path_regex");
	const char *max_s = policy_rule_param(r, "max_size");
	long long max = max_s ? strtoll(max_s, NULL, 10) : 1 << 20;
	if (!re || !*re || max <= 0)
		return 0;
	struct index_db *idx = policy_eval_index(ev);
	int view = index_db_view_merged(idx, index_db_layer_count(idx));
	sqlite3 *c = policy_eval_db(ev);
	cleanup_sqlstmt sqlite3_stmt *st = NULL, *m = NULL;
	if (sqlite3_prepare_v2(c,
			       "SELECT '/' || ltrim(n.path, '/'), e.layer, e.id, e.size FROM node n JOIN entry e ON e.id = n.data_entry"
			       " WHERE n.view = ?1 AND n.type = 'file' AND e.size <= ?2"
			       " AND (?3 IS NULL OR regexp(?3, '/' || ltrim(n.path, '/'))) ORDER BY n.path",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c, "SELECT regexp(?1, ?2)", -1, &m, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "files gate: %s", sqlite3_errmsg(c));
	sqlite3_bind_int(st, 1, view);
	sqlite3_bind_int64(st, 2, max);
	if (pre && *pre)
		sqlite3_bind_text(st, 3, pre, -1, SQLITE_STATIC);
	sqlite3_bind_text(m, 1, re, -1, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cleanup_free char *path = xstrdup((const char *)sqlite3_column_text(st, 0));
		int layer = sqlite3_column_int(st, 1);
		cleanup_free char *data = NULL;
		size_t len;
		bool trunc;
		int64_t size = sqlite3_column_int64(st, 3);
		if (policy_eval_entry_content(ev, sqlite3_column_int64(st, 2), size < 0 ? 0 : (uint64_t)size, (size_t)max,
					      &data, &len, &trunc, err) < 0)
			return strata_err_wrap(err, "files gate: reading %s", path);
		sqlite3_reset(m);
		sqlite3_bind_text(m, 2, data, (int)len, SQLITE_STATIC);
		if (sqlite3_step(m) != SQLITE_ROW)
			return strata_err_set(err, STRATA_EUSAGE, "files gate: regex '%s': %s", re, sqlite3_errmsg(c));
		if (!sqlite3_column_int(m, 0))
			continue;
		cleanup_free char *msg =
		    xasprintf("File content analyzer found regexp match in container: file=%s regexp=%s", path, re);
		const struct policy_match pm = {.message = msg, .path = path, .layer = layer, .visible = 1};
		policy_eval_fire(ev, r, &pm);
	}
	if (rc != SQLITE_DONE)
		return strata_err_set(err, STRATA_EIO, "files gate: %s", sqlite3_errmsg(c));
	return 0;
}

static const struct policy_param_def files_content_params[] = {
    {"regex_name", POLICY_PARAM_REGEX, true, NULL, NULL},
    {"path_regex", POLICY_PARAM_REGEX, false, NULL, NULL},
    {"max_size", POLICY_PARAM_INT, false, NULL, NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_param_def files_regex_params[] = {
    {"regex", POLICY_PARAM_REGEX, true, NULL, NULL},
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_param_def files_no_params[] = {
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_trigger_def files_triggers[] = {
    {"suid_or_guid_set", NULL, "Fires for each file that has suid or sgid bit set", files_no_params, NULL,
     files_eval_suid},
    {"world_writable", NULL,
     "Fires for each file or directory writable by others (directories with the sticky bit and symlinks "
     "excluded)",
     files_no_params, NULL, files_eval_world_writable},
    {"name_match", NULL, "Triggers if a file exists in the container that matches with any of the regexes given",
     files_regex_params, NULL, files_eval_name_match},
    {"content_regex_match", NULL,
     "Triggers for each regular file (at most max_size bytes, path matching path_regex) with a line matching "
     "the regex regex_name",
     files_content_params, NULL, files_eval_content},
    {"attribute_match", NULL,
     "Triggers if a filename exists in the container that has attributes that match those which are provided",
     files_attr_params, files_validate_attribute, files_eval_attribute},
    {"device_outside_dev", NULL, "Fires for each character or block device node outside /dev", files_no_params,
     NULL, files_eval_device},
    {"unowned_uid", NULL, "Fires for each file owned by a uid with no account in the image's /etc/passwd",
     files_no_params, NULL, files_eval_unowned},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct policy_gate_def policy_gate_files = {"files", "Checks against files in the analyzed image", files_triggers};
