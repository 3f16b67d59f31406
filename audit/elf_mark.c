/* audit/elf_mark.c — the ELF marker's part of the index pass: notes every regular file whose
 * content starts with the ELF magic (\x7fELF) in the `elf_entry` table (one row per entry id), so
 * reports that ask "is this an executable binary" (integrity.json's unowned executables) answer
 * with SQL instead of reading each file back through the layer's byte sources. Only the first four
 * bytes of each file are looked at. */
#include "audit_int.h"

#include <sqlite3.h>
#include <string.h>

struct elf_layer {
	int64_t *ids; /* ELF entries of this layer */
	size_t n, cap;
	int64_t cur;  /* the file being streamed */
	unsigned char head[4];
	size_t seen;
};

static void *elf_layer_begin(void *ctx, int layer)
{
	(void)ctx;
	(void)layer;
	return xcalloc(1, sizeof(struct elf_layer));
}

static int elf_file_begin(void *state, const struct index_scan_entry *e)
{
	struct elf_layer *el = state;
	if (e->size < 4)
		return 0;
	el->cur = e->entry_id;
	el->seen = 0;
	return 1;
}

static void elf_file_data(void *state, const void *buf, size_t len)
{
	struct elf_layer *el = state;
	if (el->seen >= sizeof el->head)
		return;
	size_t take = sizeof el->head - el->seen;
	if (take > len)
		take = len;
	memcpy(el->head + el->seen, buf, take);
	el->seen += take;
}

static void elf_file_end(void *state)
{
	struct elf_layer *el = state;
	if (el->seen < sizeof el->head || memcmp(el->head, "\x7f" "ELF", 4) != 0)
		return;
	if (el->n == el->cap) {
		el->cap = el->cap ? el->cap * 2 : 256;
		el->ids = xrealloc(el->ids, el->cap * sizeof(*el->ids));
	}
	el->ids[el->n++] = el->cur;
}

static int elf_layer_end(void *state, void *sqlite_db, struct strata_err **err)
{
	struct elf_layer *el = state;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(sqlite_db, "INSERT OR IGNORE INTO elf_entry(entry) VALUES (?1)", -1, &st, NULL) !=
	    SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "elf marker: %s", sqlite3_errmsg(sqlite_db));
	for (size_t i = 0; i < el->n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, el->ids[i]);
		if (sqlite3_step(st) != SQLITE_DONE) {
			strata_err_set(err, STRATA_EIO, "elf marker: %s", sqlite3_errmsg(sqlite_db));
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	return 0;
}

static void elf_layer_free(void *state)
{
	struct elf_layer *el = state;
	if (!el)
		return;
	free(el->ids);
	free(el);
}

static int elf_init(void *ctx, void *sqlite_db, struct strata_err **err)
{
	(void)ctx;
	char *msg = NULL;
	if (sqlite3_exec(sqlite_db, "CREATE TABLE elf_entry(entry INTEGER PRIMARY KEY)", NULL, NULL, &msg) !=
	    SQLITE_OK) {
		strata_err_set(err, STRATA_EIO, "elf marker: creating table: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

struct index_scanner_ops *elf_mark_new_ops(const struct audit_options *o, char **identity, struct strata_err **err)
{
	(void)o;
	(void)err;
	struct index_scanner_ops *ops = xcalloc(1, sizeof(*ops));
	*ops = (struct index_scanner_ops){
	    .init = elf_init,
	    .layer_begin = elf_layer_begin,
	    .file_begin = elf_file_begin,
	    .file_data = elf_file_data,
	    .file_end = elf_file_end,
	    .layer_end = elf_layer_end,
	    .layer_free = elf_layer_free,
	};
	*identity = xstrdup("elf 1: elf_entry(entry) for files starting with \\x7fELF");
	return ops;
}

void elf_mark_free_ops(struct index_scanner_ops *ops)
{
	free(ops);
}
