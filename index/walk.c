/* index/walk.c — a whole view in path order, for listings (`strata ls`) and tests. */
#include "index_int.h"
#include "reader_int.h"

#include <string.h>
#include <sys/stat.h>

/* S_IFMT bits of a node.type name (overlay_entry_type_name). */
static uint32_t type_bits(const char *t)
{
	static const struct {
		enum overlay_entry_type type;
		uint32_t bits;
	} map[] = {{OVERLAY_T_REG, S_IFREG}, {OVERLAY_T_DIR, S_IFDIR},   {OVERLAY_T_SYMLINK, S_IFLNK},
		   {OVERLAY_T_CHR, S_IFCHR}, {OVERLAY_T_BLK, S_IFBLK},   {OVERLAY_T_FIFO, S_IFIFO},
		   {OVERLAY_T_SOCK, S_IFSOCK}};
	for (size_t i = 0; t && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(t, overlay_entry_type_name(map[i].type)))
			return map[i].bits;
	return S_IFREG;
}

int index_db_walk(struct index_db *db, int view,
		  int (*cb)(void *ctx, const char *path, const struct index_node *n, const char *target), void *ctx,
		  struct strata_err **err)
{
	/* Its own connection (a walk holds it long), on the file the reader validated, not the path. */
	struct index_conn *c = reader_conn_open(db->fd, db->path, err);
	if (!c)
		return -1;
	sqlite3 *sq = c->db;
	cleanup_stmt sqlite3_stmt *st = NULL;
	int rc = index_sql_prepare(sq,
				   "SELECT n.path, n.type, n.ino, n.nlink, n.entry, n.data_entry, e.mode, e.uid, e.gid,"
				   " e.size, e.mtime, e.mtime_nsec, e.devmajor, e.devminor, e.layer, e.link_target"
				   " FROM node n LEFT JOIN entry e ON e.id = n.data_entry"
				   " WHERE n.view = ? AND n.parent != 0 ORDER BY n.path",
				   &st, err);
	if (rc == 0) {
		sqlite3_bind_int(st, 1, view);
		int r;
		while ((r = sqlite3_step(st)) == SQLITE_ROW) {
			struct index_node n = {0};
			const char *type = (const char *)sqlite3_column_text(st, 1);
			bool synth = sqlite3_column_type(st, 5) == SQLITE_NULL;
			n.ino = (uint64_t)sqlite3_column_int64(st, 2);
			n.nlink = (uint32_t)sqlite3_column_int64(st, 3);
			n.entry_id = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 4);
			n.data_entry_id = synth ? -1 : sqlite3_column_int64(st, 5);
			n.mode = type_bits(type) | (synth ? 0755u : (uint32_t)sqlite3_column_int64(st, 6));
			if (S_ISLNK(n.mode)) /* as the reader: symlinks always show 0777 */
				n.mode = S_IFLNK | 0777;
			n.uid = synth ? 0 : (uint64_t)sqlite3_column_int64(st, 7);
			n.gid = synth ? 0 : (uint64_t)sqlite3_column_int64(st, 8);
			n.size = synth ? 0 : (uint64_t)sqlite3_column_int64(st, 9);
			n.mtime = synth ? 0 : sqlite3_column_int64(st, 10);
			n.mtime_nsec = synth ? 0 : (long)sqlite3_column_int64(st, 11);
			n.devmajor = (uint32_t)sqlite3_column_int64(st, 12);
			n.devminor = (uint32_t)sqlite3_column_int64(st, 13);
			n.layer = synth ? 0 : sqlite3_column_int(st, 14);
			const char *target = (const char *)sqlite3_column_text(st, 15);
			if (cb(ctx, (const char *)sqlite3_column_text(st, 0), &n, S_ISLNK(n.mode) ? target : NULL))
				break;
		}
		if (r != SQLITE_ROW && r != SQLITE_DONE)
			rc = strata_err_set(err, STRATA_EIO, "sqlite: %s", sqlite3_errmsg(sq));
	}
	sqlite3_finalize(steal_pointer(&st));
	reader_conn_close(c);
	return rc;
}
