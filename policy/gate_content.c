/* policy/gate_content.c — file content for the gates that read files (retrieved_files,
 * passwd_file): the regular file at a path of a view, bounded. The index's retrieved_file row of
 * the entry the view shows (audit/retrieved.c) is used when there is one and holds at least the
 * bytes wanted (whole, or max bytes of a truncated copy); anything else (paths outside the
 * retrieved list, an index built without that scanner, a copy cut shorter than max) is read
 * through the byte sources (index_db_read). */
#include "policy_int.h"

#include <string.h>

/* The retrieved copy of entry id (size bytes long) cut to max: 1 with *out, *len and *truncated
 * set, 0 when the index has no usable copy (no table, no row, or a copy shorter than needed). */
static int gate_content_retrieved(sqlite3 *c, int64_t id, uint64_t size, size_t max, char **out, size_t *len,
				  bool *truncated)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, "SELECT content, truncated FROM retrieved_file WHERE entry = ?1", -1, &st, NULL) !=
	    SQLITE_OK) {
		sqlite3_finalize(st); /* no such table: an index built without the retrieved scanner */
		return 0;
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return 0;
	}
	const void *b = sqlite3_column_blob(st, 0);
	size_t n = (size_t)sqlite3_column_bytes(st, 0);
	bool cut = sqlite3_column_int(st, 1) != 0;
	if (cut && n < max && n < size) { /* the copy is shorter than what the caller wants */
		sqlite3_finalize(st);
		return 0;
	}
	size_t take = n > max ? max : n;
	char *buf = xmalloc(take + 1);
	if (take)
		memcpy(buf, b, take);
	buf[take] = '\0';
	sqlite3_finalize(st);
	if (truncated)
		*truncated = size > max;
	*out = buf;
	*len = take;
	return 1;
}

int policy_eval_file_content(struct policy_eval *ev, int view, const char *path, size_t max, char **out,
			     size_t *len, bool *truncated, struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	sqlite3_stmt *st = NULL;
	while (*path == '/')
		path++;
	if (sqlite3_prepare_v2(c,
			       "SELECT n.data_entry, e.size FROM node n JOIN entry e ON e.id = n.data_entry"
			       " WHERE n.view = ?1 AND n.type = 'file' AND ltrim(n.path, '/') = ?2 LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK) {
		cleanup_free char *e = xstrdup(sqlite3_errmsg(c));
		sqlite3_finalize(st);
		return strata_err_set(err, STRATA_EIO, "policy: reading /%s: %s", path, e);
	}
	sqlite3_bind_int(st, 1, view);
	sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return 0;
	}
	int64_t id = sqlite3_column_int64(st, 0);
	int64_t size = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	if (policy_eval_entry_content(ev, id, size < 0 ? 0 : (uint64_t)size, max, out, len, truncated, err) < 0)
		return strata_err_wrap(err, "policy: reading /%s", path);
	return 1;
}

int policy_eval_entry_content(struct policy_eval *ev, int64_t id, uint64_t size, size_t max, char **out,
			      size_t *len, bool *truncated, struct strata_err **err)
{
	if (gate_content_retrieved(policy_eval_db(ev), id, size, max, out, len, truncated))
		return 0;
	size_t want = size > max ? max : (size_t)size;
	if (truncated)
		*truncated = size > max;
	cleanup_free char *buf = xmalloc(want + 1);
	size_t got = 0;
	while (got < want) {
		ssize_t n = index_db_read(policy_eval_index(ev), id, buf + got, want - got, got, err);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*len = got;
	*out = steal_pointer(&buf);
	return 0;
}
