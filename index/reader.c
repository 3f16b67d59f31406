/* index/reader.c — the read side of the index: opening and validating an index file, the pool of
 * read-only SQLite connections with their cached statements, and the questions the FUSE driver
 * asks (lookup, getattr, readdir, readlink, read, xattrs, digests, totals). Layer byte sources
 * are rebuilt in reader_source.c, image.json is made in reader_image.c. See reader_int.h for
 * the concurrency model. */
#include "reader_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Columns 0..13 describe a node; READDIR adds the name as column 14. The shown entry's own layer
 * (node.entry) is the layer the path comes from; a synthesised directory has none. */
#define NODE_COLS                                                                                   \
	"SELECT n.ino, n.entry, n.data_entry, n.type, n.nlink, e.mode, e.uid, e.gid,"              \
	" CASE WHEN n.type = 'symlink' THEN length(CAST(e.link_target AS BLOB)) ELSE e.size END,"  \
	" e.mtime, e.mtime_nsec, e.devmajor, e.devminor,"                                          \
	" coalesce((SELECT x.layer FROM entry x WHERE x.id = n.entry), e.layer, 0)"
#define NODE_FROM " FROM node n LEFT JOIN entry e ON e.id = n.data_entry "

static const char *const reader_sql[RS_COUNT] = {
	[RS_LOOKUP] = NODE_COLS NODE_FROM "WHERE n.view = ?1 AND n.parent = ?2 AND n.name = ?3",
	/* INDEXED BY: without it the planner may take the (view, …) prefix of the primary key and
	 * scan a whole view for every getattr. */
	[RS_GETATTR] = NODE_COLS " FROM node n INDEXED BY node_ino LEFT JOIN entry e ON e.id = n.data_entry"
				 " WHERE n.view = ?1 AND n.ino = ?2 LIMIT 1",
	[RS_READDIR] = NODE_COLS ", n.name" NODE_FROM "WHERE n.view = ?1 AND n.parent = ?2 AND n.name <> ''"
				 " ORDER BY n.name LIMIT -1 OFFSET ?3",
	[RS_READLINK] = "SELECT link_target, type FROM entry WHERE id = ?1",
	[RS_ENTRY_DATA] = "SELECT layer, data_offset, size, type, sparse FROM entry WHERE id = ?1",
	[RS_XATTRS] = "SELECT name, value FROM xattr WHERE entry = ?1 ORDER BY name",
	[RS_SHA256] = "SELECT sha256 FROM entry WHERE id = ?1",
	[RS_LAYER_DIGEST] = "SELECT coalesce(digest, diff_id, '') FROM layer WHERE position = ?1",
	[RS_TOTALS] = "SELECT count(*), coalesce(sum(CASE WHEN n.type = 'file' THEN e.size END), 0)"
		      " FROM node n LEFT JOIN entry e ON e.id = n.data_entry WHERE n.view = ?1",
	[RS_LAYER_TAR_SOURCE] = "SELECT tar_source FROM layer WHERE position = ?1",
	[RS_SOURCE] = "SELECT kind, base, path, off, len, comp, usize, csize FROM source WHERE id = ?1",
	[RS_CHECKPOINTS] = "SELECT uoff, coff, bits, window FROM checkpoint WHERE source = ?1 ORDER BY seq",
	[RS_ENTRY_DESCRIBE] = "SELECT e.layer, coalesce(e.path, CAST(e.raw_path AS TEXT)),"
			      " coalesce(l.digest, l.diff_id, '') FROM entry e"
			      " LEFT JOIN layer l ON l.position = e.layer WHERE e.id = ?1",
	/* The regions of sparse entry ?1 overlapping [?2, ?3), in file order: the last one starting
	 * at or before ?2 (found through the primary key) and those starting inside the range. */
	[RS_SPARSE] = "SELECT logical, length, stored FROM sparse WHERE entry = ?1 AND logical >= coalesce("
		      "(SELECT max(logical) FROM sparse WHERE entry = ?1 AND logical <= ?2), 0) AND logical < ?3"
		      " ORDER BY logical",
};

int reader_sql_err(struct index_conn *c, struct strata_err **err, const char *what)
{
	return strata_err_set(err, STRATA_EIO, "index: %s: %s", what, c ? sqlite3_errmsg(c->db) : "no connection");
}

/* Opens the index file open as fd through the strata-fd VFS, read-only (flags: SQLite open flags
 * added to SQLITE_OPEN_READONLY), with a busy timeout. The file is open already: failing now is an
 * I/O problem, never "not found". 0, or -1 with *err (and *out NULL). */
static int vfs_connect(int fd, const char *path, int flags, sqlite3 **out, struct strata_err **err)
{
	*out = NULL;
	if (reader_vfs_register(err) < 0)
		return -1;
	char name[64];
	snprintf(name, sizeof(name), READER_VFS_PREFIX "%d", fd);
	sqlite3 *c = NULL;
	int rc = sqlite3_open_v2(name, &c, SQLITE_OPEN_READONLY | flags, READER_VFS_NAME);
	if (rc != SQLITE_OK) {
		strata_err_set(err, STRATA_EIO, "%s: %s", path, c ? sqlite3_errmsg(c) : sqlite3_errstr(rc));
		sqlite3_close(c);
		return -1;
	}
	sqlite3_busy_timeout(c, 5000);
	*out = c;
	return 0;
}

struct index_conn *reader_conn_open(int fd, const char *path, struct strata_err **err)
{
	struct index_conn *c = xcalloc(1, sizeof(*c));
	if (vfs_connect(fd, path, SQLITE_OPEN_NOMUTEX, &c->db, err) < 0) {
		reader_conn_close(c);
		return NULL;
	}
	/* query_only guards against a stray write; mmap makes warm lookups cheap (the VFS maps the
	 * file once per connection). No locks: the VFS declares the file immutable, which it is (an
	 * index is never written in place; index/build.c writes a temporary file and renames it). */
	if (sqlite3_exec(c->db, "PRAGMA query_only = 1; PRAGMA mmap_size = 268435456;", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		strata_err_set(err, STRATA_EFORMAT, "%s: %s", path, sqlite3_errmsg(c->db));
		reader_conn_close(c);
		return NULL;
	}
	return c;
}

/* A caller's own connection: read-only on the main database, TEMP tables stay possible (no
 * query_only), default threading mode. */
int index_db_connect(const struct index_db *db, sqlite3 **out, struct strata_err **err)
{
	return vfs_connect(db->fd, db->path, 0, out, err);
}

void reader_conn_close(struct index_conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < RS_COUNT; i++)
		sqlite3_finalize(c->st[i]);
	for (int i = 0; i < READER_QUERY_SLOTS; i++)
		sqlite3_finalize(c->q[i].st);
	sqlite3_close(c->db);
	free(c);
}

int reader_lease_get(struct index_db *db, struct reader_lease *l, struct strata_err **err)
{
	l->db = db;
	l->c = NULL;
	pthread_mutex_lock(&db->lock);
	if (db->free) {
		l->c = db->free;
		db->free = l->c->next_free;
	}
	pthread_mutex_unlock(&db->lock);
	if (l->c)
		return 0;
	struct index_conn *c = reader_conn_open(db->fd, db->path, err);
	if (!c)
		return -1;
	pthread_mutex_lock(&db->lock);
	c->next_all = db->all;
	db->all = c;
	pthread_mutex_unlock(&db->lock);
	l->c = c;
	return 0;
}

void reader_lease_release(struct reader_lease *l)
{
	if (!l->c)
		return;
	pthread_mutex_lock(&l->db->lock);
	l->c->next_free = l->db->free;
	l->db->free = l->c;
	pthread_mutex_unlock(&l->db->lock);
	l->c = NULL;
}

sqlite3_stmt *reader_stmt(struct index_conn *c, enum reader_stmt_id id, struct strata_err **err)
{
	if (!c->st[id] && sqlite3_prepare_v3(c->db, reader_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
					      NULL) != SQLITE_OK) {
		reader_sql_err(c, err, "prepare");
		c->st[id] = NULL;
		return NULL;
	}
	return c->st[id];
}

/* A single-value meta lookup on a fresh connection. Owned string or NULL (absent). */
static char *meta_get(sqlite3 *db, const char *key)
{
	cleanup_finalize sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_type(st, 0) == SQLITE_NULL)
		return NULL;
	return xstrdup((const char *)sqlite3_column_text(st, 0));
}

struct index_db *index_db_open(const char *path, struct strata_err **err)
{
	/* O_NONBLOCK: a FIFO planted at the path must not hang the open (no effect on a regular file). */
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		strata_err_set(err, errno == ENOENT ? STRATA_ENOTFOUND : STRATA_EIO, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat fst;
	if (fstat(fd, &fst) < 0) {
		strata_err_sys(err, "stat %s", path);
		return NULL;
	}
	if (!S_ISREG(fst.st_mode)) {
		strata_err_set(err, STRATA_EFORMAT, "%s: not a regular file", path);
		return NULL;
	}
	struct index_conn *c = reader_conn_open(fd, path, err);
	if (!c)
		return NULL;
	cleanup_free char *complete = meta_get(c->db, "complete");
	cleanup_free char *version = meta_get(c->db, "schema_version");
	if (!complete || strcmp(complete, "1") || !version || atoi(version) != INDEX_SCHEMA_VERSION) {
		strata_err_set(err, STRATA_EFORMAT, "%s: not a complete strata index (schema %s, expected %d)", path,
			       version ? version : "none", INDEX_SCHEMA_VERSION);
		reader_conn_close(c);
		return NULL;
	}
	cleanup_finalize sqlite3_stmt *st = NULL;
	int nlayers = -1;
	if (sqlite3_prepare_v2(c->db, "SELECT layers FROM image WHERE id = 1", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		nlayers = sqlite3_column_int(st, 0);
	if (nlayers < 0 || nlayers > 0xfff0) {
		strata_err_set(err, STRATA_EFORMAT, "%s: not a complete strata index (no image row)", path);
		reader_conn_close(c);
		return NULL;
	}
	struct index_db *db = xcalloc(1, sizeof(*db));
	db->path = xstrdup(path);
	db->fd = steal_fd(&fd);
	db->dev = fst.st_dev;
	db->ino = fst.st_ino;
	db->nlayers = nlayers;
	pthread_mutex_init(&db->lock, NULL);
	db->layer_src = xcalloc((size_t)nlayers + 1, sizeof(*db->layer_src));
	db->all = db->free = c;
	return db;
}

void index_db_close(struct index_db *db)
{
	if (!db)
		return;
	reader_layer_sources_free(db);
	for (struct index_conn *c = db->all, *next; c; c = next) {
		next = c->next_all;
		reader_conn_close(c);
	}
	pthread_mutex_destroy(&db->lock);
	if (db->fd >= 0)
		close(db->fd);
	free(db->path);
	free(db);
}

int index_db_layer_count(const struct index_db *db) { return db->nlayers; }
int index_db_view_merged(const struct index_db *db, int n) { return n >= 0 && n <= db->nlayers ? n : -1; }
int index_db_view_layer(const struct index_db *db, int n) { return n >= 1 && n <= db->nlayers ? db->nlayers + n : -1; }
const char *index_db_path(const struct index_db *db) { return db->path; }
int index_db_fd(const struct index_db *db) { return db->fd; }

/* S_IFMT bits of a node.type name (overlay_entry_type_name), 0 when unknown. */
static uint32_t mode_of_type(const char *t)
{
	if (!t)
		return 0;
	static const struct {
		enum overlay_entry_type type;
		uint32_t fmt;
	} types[] = {{OVERLAY_T_REG, S_IFREG},  {OVERLAY_T_DIR, S_IFDIR},   {OVERLAY_T_SYMLINK, S_IFLNK},
		     {OVERLAY_T_CHR, S_IFCHR},  {OVERLAY_T_BLK, S_IFBLK},   {OVERLAY_T_FIFO, S_IFIFO},
		     {OVERLAY_T_SOCK, S_IFSOCK}};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(t, overlay_entry_type_name(types[i].type)))
			return types[i].fmt;
	return 0;
}

/* Fills out from a row of NODE_COLS. */
static int node_from_row(sqlite3_stmt *st, struct index_node *out, struct strata_err **err)
{
	memset(out, 0, sizeof(*out));
	out->ino = (uint64_t)sqlite3_column_int64(st, 0);
	bool synth = sqlite3_column_type(st, 2) == SQLITE_NULL;
	out->entry_id = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 1);
	out->data_entry_id = synth ? -1 : sqlite3_column_int64(st, 2);
	uint32_t fmt = mode_of_type((const char *)sqlite3_column_text(st, 3));
	STRATA_CHECK(fmt != 0, err, STRATA_EFORMAT, "index: node %llu has an unknown type", (unsigned long long)out->ino);
	out->nlink = (uint32_t)sqlite3_column_int(st, 4);
	if (out->nlink == 0)
		out->nlink = 1;
	if (synth) {
		STRATA_CHECK(fmt == S_IFDIR, err, STRATA_EFORMAT, "index: node %llu has no entry",
			     (unsigned long long)out->ino);
		out->mode = S_IFDIR | 0755;
		return 0;
	}
	/* Symlink permissions are meaningless on Linux and always shown as 0777, as any unpacker
	 * leaves them. */
	out->mode = fmt | (fmt == S_IFLNK ? 0777u : ((uint32_t)sqlite3_column_int(st, 5) & 07777));
	out->uid = (uint64_t)sqlite3_column_int64(st, 6);
	out->gid = (uint64_t)sqlite3_column_int64(st, 7);
	out->size = (uint64_t)sqlite3_column_int64(st, 8);
	out->mtime = sqlite3_column_int64(st, 9);
	out->mtime_nsec = (long)sqlite3_column_int64(st, 10);
	out->devmajor = (uint32_t)sqlite3_column_int(st, 11);
	out->devminor = (uint32_t)sqlite3_column_int(st, 12);
	out->layer = sqlite3_column_int(st, 13);
	return 0;
}

/* Steps a single-row query into a node: 0 found, 1 absent, -1 error. */
static int node_step(struct index_conn *c, sqlite3_stmt *st, struct index_node *out, struct strata_err **err)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 1;
	if (rc != SQLITE_ROW)
		return reader_sql_err(c, err, "node");
	return node_from_row(st, out, err);
}

int index_db_lookup(struct index_db *db, int view, uint64_t parent_ino, const char *name, struct index_node *out,
		    struct strata_err **err)
{
	cleanup_lease struct reader_lease l = {0};
	if (reader_lease_get(db, &l, err) < 0)
		return -1;
	cleanup_reset sqlite3_stmt *st = reader_stmt(l.c, RS_LOOKUP, err);
	if (!st)
		return -1;
	sqlite3_bind_int(st, 1, view);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)parent_ino);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	return node_step(l.c, st, out, err);
}

int index_db_getattr(struct index_db *db, int view, uint64_t ino, struct index_node *out, struct strata_err **err)
{
	cleanup_lease struct reader_lease l = {0};
	if (reader_lease_get(db, &l, err) < 0)
		return -1;
	cleanup_reset sqlite3_stmt *st = reader_stmt(l.c, RS_GETATTR, err);
	if (!st)
		return -1;
	sqlite3_bind_int(st, 1, view);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)ino);
	int rc = node_step(l.c, st, out, err);
	if (rc == 1)
		return strata_err_set(err, STRATA_ENOTFOUND, "index: no inode %llu in view %d", (unsigned long long)ino,
				      view);
	return rc;
}

/* The cookie is the number of children already returned (names in byte order). */
int index_db_readdir(struct index_db *db, int view, uint64_t dir_ino, int64_t cookie, index_dirent_cb cb, void *ctx,
		     struct strata_err **err)
{
	cleanup_lease struct reader_lease l = {0};
	if (reader_lease_get(db, &l, err) < 0)
		return -1;
	cleanup_reset sqlite3_stmt *st = reader_stmt(l.c, RS_READDIR, err);
	if (!st)
		return -1;
	sqlite3_bind_int(st, 1, view);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)dir_ino);
	sqlite3_bind_int64(st, 3, cookie < 0 ? 0 : cookie);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct index_node n;
		if (node_from_row(st, &n, err) < 0)
			return -1;
		if (cb(ctx, (const char *)sqlite3_column_text(st, 14), &n, ++cookie))
			return 0;
	}
	if (rc != SQLITE_DONE)
		return reader_sql_err(l.c, err, "readdir");
	return 0;
}

/* Runs a statement bound to one entry id and steps to its row: 0 row, 1 absent, -1 error. */
static int entry_row(struct index_conn *c, sqlite3_stmt *st, int64_t entry_id, struct strata_err **err)
{
	sqlite3_bind_int64(st, 1, entry_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return 1;
	return reader_sql_err(c, err, "entry");
}

char *index_db_readlink(struct index_db *db, int64_t entry_id, struct strata_err **err)
{
	cleanup_lease struct reader_lease l = {0};
	if (reader_lease_get(db, &l, err) < 0)
		return NULL;
	cleanup_reset sqlite3_stmt *st = reader_stmt(l.c, RS_READLINK, err);
	if (!st)
		return NULL;
	int rc = entry_row(l.c, st, entry_id, err);
	if (rc < 0)
		return NULL;
	if (rc == 1 || sqlite3_column_type(st, 0) == SQLITE_NULL) {
		strata_err_set(err, STRATA_ENOTFOUND, "index: entry %lld has no link target", (long long)entry_id);
		return NULL;
	}
	return xstrdup((const char *)sqlite3_column_text(st, 0));
}

ssize_t index_db_read(struct index_db *db, int64_t entry_id, void *buf, size_t len, uint64_t off,
		      struct strata_err **err)
{
	cleanup_lease struct reader_lease l = {0};
	if (reader_lease_get(db, &l, err) < 0)
		return -1;
	int layer;
	uint64_t data_offset, size;
	bool sparse;
	{
		cleanup_reset sqlite3_stmt *st = reader_stmt(l.c, RS_ENTRY_DATA, err);
		if (!st)
			return -1;
		int rc = entry_row(l.c, st, entry_id, err);
		if (rc < 0)
			return -1;
		if (rc == 1)
			return strata_err_set(err, STRATA_ENOTFOUND, "index: no entry %lld", (long long)entry_id);
		const char *type = (const char *)sqlite3_column_text(st, 3);
		if (!type || strcmp(type, "file"))
			return strata_err_set(err, STRATA_EUSAGE, "index: entry %lld is not a regular file",
					      (long long)entry_id);
		layer = sqlite3_column_int(st, 0);
		data_offset = (uint64_t)sqlite3_column_int64(st, 1);
		size = (uint64_t)sqlite3_column_int64(st, 2);
		sparse = sqlite3_column_int(st, 4) != 0;
	}
	if (off >= size || len == 0)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	if (sparse)
		return reader_sparse_read(db, l.c, entry_id, layer, buf, len, off, err);
	struct overlay_source *src = reader_layer_source(db, l.c, layer, err);
	if (!src)
		return -1;
	if (reader_pread_exact(db, l.c, src, layer, buf, len, data_offset + off, "the entry's end", err) < 0)
		return -1;
	return (ssize_t)len;
}

int reader_pread_exact(struct index_db *db, struct index_conn *c, struct overlay_source *src, int layer, void *dst,
		       size_t n, uint64_t at, const char *what, struct strata_err **err)
{
	unsigned char *p = dst;
	while (n > 0) {
		ssize_t got = overlay_source_pread(src, p, n, at, err);
		if (got < 0) {
			/* The index said these bytes exist: the blob changed since (issue 8: mark stale). */
			reader_stale_check_read(db, c, src, err && *err ? (*err)->code : STRATA_EIO,
						err && *err ? (*err)->msg : "read failed");
			return strata_err_wrap(err, "layer %d", layer);
		}
		if (got == 0) {
			reader_stale_check_read(db, c, src, STRATA_EFORMAT, "it ends before data the index recorded");
			return strata_err_set(err, STRATA_EFORMAT, "layer %d: tar data ends at %llu, before %s", layer,
					      (unsigned long long)at, what);
		}
		p += got, n -= (size_t)got, at += (uint64_t)got;
	}
	return 0;
}

int index_db_xattrs(struct index_db *db, int64_t entry_id,
		    int (*cb)(void *ctx, const char *name, const void *value, size_t len), void *ctx,
		    struct strata_err **err)
{
	cleanup_lease struct reader_lease l = {0};
	if (reader_lease_get(db, &l, err) < 0)
		return -1;
	cleanup_reset sqlite3_stmt *st = reader_stmt(l.c, RS_XATTRS, err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, entry_id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *v = sqlite3_column_blob(st, 1);
		size_t vlen = (size_t)sqlite3_column_bytes(st, 1);
		if (cb(ctx, (const char *)sqlite3_column_text(st, 0), v ? v : "", vlen))
			return 0;
	}
	if (rc != SQLITE_DONE)
		return reader_sql_err(l.c, err, "xattrs");
	return 0;
}

int index_db_entry_sha256(struct index_db *db, int64_t entry_id, char out[65], struct strata_err **err)
{
	out[0] = '\0';
	cleanup_lease struct reader_lease l = {0};
	if (reader_lease_get(db, &l, err) < 0)
		return -1;
	cleanup_reset sqlite3_stmt *st = reader_stmt(l.c, RS_SHA256, err);
	if (!st)
		return -1;
	int rc = entry_row(l.c, st, entry_id, err);
	if (rc < 0)
		return -1;
	const char *s = rc == 0 ? (const char *)sqlite3_column_text(st, 0) : NULL;
	if (s && strlen(s) == 64)
		memcpy(out, s, 65);
	return 0;
}

int index_db_layer_digest(struct index_db *db, int n, char *out, size_t outlen, struct strata_err **err)
{
	if (outlen)
		out[0] = '\0';
	cleanup_lease struct reader_lease l = {0};
	if (reader_lease_get(db, &l, err) < 0)
		return -1;
	cleanup_reset sqlite3_stmt *st = reader_stmt(l.c, RS_LAYER_DIGEST, err);
	if (!st)
		return -1;
	int rc = entry_row(l.c, st, n, err);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return strata_err_set(err, STRATA_ENOTFOUND, "index: no layer %d", n);
	snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
	return 0;
}

int index_db_totals(struct index_db *db, uint64_t *nodes, uint64_t *bytes, struct strata_err **err)
{
	cleanup_lease struct reader_lease l = {0};
	if (reader_lease_get(db, &l, err) < 0)
		return -1;
	cleanup_reset sqlite3_stmt *st = reader_stmt(l.c, RS_TOTALS, err);
	if (!st)
		return -1;
	sqlite3_bind_int(st, 1, db->nlayers);
	if (sqlite3_step(st) != SQLITE_ROW)
		return reader_sql_err(l.c, err, "totals");
	*nodes = (uint64_t)sqlite3_column_int64(st, 0);
	*bytes = (uint64_t)sqlite3_column_int64(st, 1);
	return 0;
}

int index_db_entry_describe(struct index_db *db, int64_t entry_id, char *out, size_t outlen)
{
	snprintf(out, outlen, "entry %lld", (long long)entry_id);
	struct strata_err *err = NULL;
	cleanup_lease struct reader_lease l = {0};
	if (reader_lease_get(db, &l, &err) < 0) {
		strata_err_free(err);
		return -1;
	}
	cleanup_reset sqlite3_stmt *st = reader_stmt(l.c, RS_ENTRY_DESCRIBE, &err);
	if (!st || entry_row(l.c, st, entry_id, &err) != 0) {
		strata_err_free(err);
		return -1;
	}
	snprintf(out, outlen, "layer %d (%s): /%s", sqlite3_column_int(st, 0), (const char *)sqlite3_column_text(st, 2),
		 (const char *)sqlite3_column_text(st, 1));
	return 0;
}

struct overlay_source *index_db_layer_source(struct index_db *db, int n, struct strata_err **err)
{
	cleanup_lease struct reader_lease l = {0};
	if (reader_lease_get(db, &l, err) < 0)
		return NULL;
	struct overlay_source *s = reader_layer_source(db, l.c, n, err);
	return s ? overlay_source_ref(s) : NULL;
}
