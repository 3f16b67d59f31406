/* index/reader_int.h — internals shared by the read side of index/ (reader.c, reader_source.c,
 * reader_image.c). Never included from outside index/ (tests excepted).
 *
 * Concurrency model: an index_db holds a pool of SQLite connections. Each public call leases one
 * connection for its duration (reader_lease_get / cleanup_lease), so a connection and its cached
 * prepared statements are only ever used by one thread at a time, and connections are opened
 * with SQLITE_OPEN_NOMUTEX. The pool grows to the number of threads that call at once. Layer
 * byte sources are built once, under db->lock, and are themselves safe for concurrent pread.
 *
 * One file: index_db_open opens the index once (db->fd) and every connection, the first and any
 * later one, reads that descriptor through the "strata-fd" VFS (reader_vfs.c), never the path
 * again. Removing or replacing the index file under a running reader changes nothing for it.
 */
#ifndef STRATA_INDEX_READER_INT_H
#define STRATA_INDEX_READER_INT_H

#include "index.h"

#include <pthread.h>
#include <sqlite3.h>
#include <sys/types.h>

enum reader_stmt_id {
	RS_LOOKUP = 0,
	RS_GETATTR,
	RS_READDIR,
	RS_READLINK,
	RS_ENTRY_DATA,
	RS_XATTRS,
	RS_SHA256,
	RS_LAYER_DIGEST,
	RS_TOTALS,
	RS_LAYER_TAR_SOURCE,
	RS_SOURCE,
	RS_CHECKPOINTS,
	RS_ENTRY_DESCRIBE,
	RS_SPARSE,
	RS_COUNT
};

/* Statements of index_db_query, cached per connection by the address of their SQL text. */
#define READER_QUERY_SLOTS 8
struct reader_query_slot {
	const char *sql;     /* NULL: free slot */
	sqlite3_stmt *st;    /* NULL with sql set: the index lacks a table the statement names */
};

struct index_conn {
	sqlite3 *db;
	sqlite3_stmt *st[RS_COUNT];
	struct reader_query_slot q[READER_QUERY_SLOTS];
	struct index_conn *next_free;
	struct index_conn *next_all;
};

struct index_db {
	char *path;                 /* as opened; only for messages and the stale mark */
	int fd;                     /* the index file validated at open; every connection reads it */
	dev_t dev;                  /* its identity, to tell whether path still names it */
	ino_t ino;
	int nlayers;
	pthread_mutex_t lock;       /* guards the pool lists and the layer sources */
	struct index_conn *free;    /* idle connections */
	struct index_conn *all;     /* every connection, for close */
	struct overlay_source **layer_src; /* [1..nlayers], built on first use */
};

/* Opens a new read-only connection to the index file open as fd (through the strata-fd VFS);
 * path only names it in messages. Owned (reader_conn_close) or NULL with *err (STRATA_EIO, or
 * STRATA_EFORMAT when the file is not an SQLite database: never "not found"). */
struct index_conn *reader_conn_open(int fd, const char *path, struct strata_err **err);
void reader_conn_close(struct index_conn *c);

struct reader_lease {
	struct index_db *db;
	struct index_conn *c;
};
/* Takes an idle connection from the pool (or opens one). 0 or -1 with *err. */
int reader_lease_get(struct index_db *db, struct reader_lease *l, struct strata_err **err);
void reader_lease_release(struct reader_lease *l);
#define cleanup_lease __attribute__((cleanup(reader_lease_release)))

/* The cached statement `id` of the connection, reset and ready for binding. Borrowed; reset it
 * after use (cleanup_reset). NULL with *err. */
sqlite3_stmt *reader_stmt(struct index_conn *c, enum reader_stmt_id id, struct strata_err **err);
/* Reads exactly n bytes of a layer's uncompressed stream at offset at into dst, where the index
 * recorded data: a read that fails, or ends before n bytes ("tar data ends at …, before <what>"),
 * means the blob changed since indexing, so the index is marked stale (reader_stale_check_read).
 * 0, or -1 with *err (wrapped with the layer). */
int reader_pread_exact(struct index_db *db, struct index_conn *c, struct overlay_source *src, int layer, void *dst,
		       size_t n, uint64_t at, const char *what, struct strata_err **err);
static inline void reader_stmt_resetp(sqlite3_stmt **st)
{
	if (*st) {
		sqlite3_reset(*st);
		sqlite3_clear_bindings(*st);
	}
}
#define cleanup_reset __attribute__((cleanup(reader_stmt_resetp)))
static inline void reader_stmt_finalizep(sqlite3_stmt **st)
{
	sqlite3_finalize(*st);
}
#define cleanup_finalize __attribute__((cleanup(reader_stmt_finalizep)))

/* An SQLite failure on connection c as an error ("index: <what>: <sqlite message>"). Returns -1. */
int reader_sql_err(struct index_conn *c, struct strata_err **err, const char *what);

/* reader_source.c: builds (once) the uncompressed tar source of layer n using the leased
 * connection. Returns a borrowed source (owned by db) or NULL with *err. */
struct overlay_source *reader_layer_source(struct index_db *db, struct index_conn *c, int n, struct strata_err **err);
void reader_layer_sources_free(struct index_db *db);

/* reader_stale.c (issue 8): marks the index stale (the sidecar "<index>" INDEX_STALE_SUFFIX) and
 * says so on stderr naming the image and the blob, once per blob per process. blob may be NULL;
 * why is a short reason. c (may be NULL) is only used to find the image's path. */
void reader_stale_mark(struct index_db *db, struct index_conn *c, const char *blob, const char *why);
/* The same for a read through src that failed (code: the error's strata code; STRATA_EFORMAT for
 * a read that ended early) naming the file at src's bottom — unless that file is a seekable copy
 * in the cache: the index is fine then, and the copy is removed (rebuilt by the next reader) only
 * when it is malformed (EFORMAT), never because reading it failed. */
void reader_stale_check_read(struct index_db *db, struct index_conn *c, const struct overlay_source *src,
			     int code, const char *why);

/* reader_sparse.c (issue 3): reads [off, off + len) of the sparse file entry_id of layer, len already
 * clamped to its size: the stored regions (sparse rows) from the layer's tar, zeros between them.
 * Returns len, or -1 with *err (a region the tar no longer holds marks the index stale). */
ssize_t reader_sparse_read(struct index_db *db, struct index_conn *c, int64_t entry_id, int layer, void *buf,
			   size_t len, uint64_t off, struct strata_err **err);

/* reader_vfs.c: the read-only VFS over a descriptor. A main database named
 * READER_VFS_PREFIX "<fd>" opened with vfs READER_VFS_NAME reads a duplicate of that descriptor.
 * reader_vfs_register registers it once per process (thread-safe); 0 or -1 with *err. */
#define READER_VFS_NAME "strata-fd"
#define READER_VFS_PREFIX "/strata-fd/"
int reader_vfs_register(struct strata_err **err);

#endif
