/* index/index_int.h — internals shared by the files of index/ (never included from outside).
 *
 * The schema. Every table is written once by the builder and only read afterwards.
 *   meta(key, value)            schema_version, strata_version, identity, rules_hash, complete, timings
 *   image                       one row: the image file, format, digests, manifest and config JSON
 *   source                      byte-source recipes: file(path) | range(base, off, len) |
 *                               decomp(base, comp, usize, csize) with its checkpoint rows
 *   checkpoint                  access points per decomp source (window: raw-deflate compressed)
 *   layer                       position (1 = base), digests as named and as computed, sizes,
 *                               tar_source: the source id of the layer's uncompressed tar
 *   entry                       every tar entry of every layer (whiteouts and shadowed ones too)
 *   xattr                       xattrs of entries
 *   view                        0 empty | 1..L merged after N layers | L+1..2L layer N literal
 *   node                        the tree of every view; (view, parent, name) is the key
 *   problem                     hostile or inconsistent entries, recorded, never fatal
 *   sparse                      the stored regions of sparse files: (entry, logical offset in the
 *                               file, length, stored offset in the layer's uncompressed stream)
 */
#ifndef STRATA_INDEX_INT_H
#define STRATA_INDEX_INT_H

#include "index.h"

#include <sqlite3.h>

#define INDEX_SCHEMA_SQL                                                                            \
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"                                      \
	"CREATE TABLE image(id INTEGER PRIMARY KEY CHECK (id = 1), path TEXT, format TEXT,"         \
	" digest TEXT, config_digest TEXT, ref TEXT, platform TEXT, manifest BLOB, config BLOB,"    \
	" layers INTEGER, file_size INTEGER, file_mtime_ns INTEGER);"                               \
	"CREATE TABLE source(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, base INTEGER, path TEXT,"  \
	" off INTEGER, len INTEGER, comp TEXT, usize INTEGER, csize INTEGER);"                      \
	"CREATE TABLE checkpoint(source INTEGER NOT NULL, seq INTEGER NOT NULL, uoff INTEGER NOT NULL," \
	" coff INTEGER NOT NULL, bits INTEGER NOT NULL, window BLOB, PRIMARY KEY(source, seq))"     \
	" WITHOUT ROWID;"                                                                           \
	"CREATE TABLE layer(position INTEGER PRIMARY KEY, digest TEXT, diff_id TEXT, media_type TEXT," \
	" compression TEXT, compressed_size INTEGER, size INTEGER, blob_sha256 TEXT,"               \
	" tar_sha256 TEXT, digest_ok INTEGER, diff_id_ok INTEGER, location TEXT,"                  \
	" tar_source INTEGER, entries INTEGER, seekable_copy TEXT);"                                \
	"CREATE TABLE entry(id INTEGER PRIMARY KEY, layer INTEGER NOT NULL, seq INTEGER NOT NULL,"  \
	" path TEXT, raw_path BLOB NOT NULL, type TEXT NOT NULL, mode INTEGER, uid INTEGER,"        \
	" gid INTEGER, uname TEXT, gname TEXT, size INTEGER, mtime INTEGER, mtime_nsec INTEGER,"   \
	" link_target TEXT, devmajor INTEGER, devminor INTEGER, data_offset INTEGER, sha256 TEXT,"  \
	" sparse INTEGER, whiteout INTEGER);"                                                       \
	"CREATE TABLE xattr(entry INTEGER NOT NULL, name TEXT NOT NULL, value BLOB,"               \
	" PRIMARY KEY(entry, name)) WITHOUT ROWID;"                                                 \
	"CREATE TABLE view(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, layer INTEGER);"             \
	"CREATE TABLE node(view INTEGER NOT NULL, parent INTEGER NOT NULL, name TEXT NOT NULL,"     \
	" ino INTEGER NOT NULL, path TEXT NOT NULL, entry INTEGER, data_entry INTEGER, type TEXT,"  \
	" nlink INTEGER, PRIMARY KEY(view, parent, name)) WITHOUT ROWID;"                           \
	"CREATE TABLE problem(id INTEGER PRIMARY KEY, layer INTEGER, entry INTEGER, path TEXT,"     \
	" kind TEXT, message TEXT);"                                                                 \
	"CREATE TABLE sparse(entry INTEGER NOT NULL, logical INTEGER NOT NULL, length INTEGER NOT NULL," \
	" stored INTEGER NOT NULL, PRIMARY KEY(entry, logical)) WITHOUT ROWID;"

/* Created after the bulk inserts (faster than maintaining them row by row). */
#define INDEX_SCHEMA_INDEXES_SQL                                                                    \
	"CREATE INDEX entry_path ON entry(path);"                                                   \
	"CREATE INDEX entry_layer ON entry(layer, seq);"                                            \
	"CREATE INDEX node_ino ON node(view, ino);"

/* Notes on columns:
 *  entry.type   overlay_entry_type_name(): file, dir, symlink, hardlink, chardev, blockdev, fifo, socket
 *  entry.path   normalised (overlay_path_normalize), NULL when the path is hostile
 *  entry.whiteout 0 none, 1 ".wh.NAME", 2 ".wh..wh..opq"
 *  entry.sha256 hex of the content for regular files with data (hard links: NULL, see node.data_entry);
 *               for a sparse file, of its content as extracted (zeros in the holes), or NULL when its
 *               holes are over the pass's budget (build_sparse.c; a problem row says so)
 *  entry.size   the file's size as extracted (a sparse file's real size, holes included)
 *  entry.sparse 1 for a sparse file: its stored regions are the sparse rows (data_offset is the
 *               first one's); the bytes between them and after the last are zeros
 *  node.entry   the entry at that path (NULL for a synthesised directory);
 *  node.data_entry the entry whose attributes and data are shown (hard link → its target)
 *  node.type    overlay_entry_type_name() of what is shown (never hardlink)
 *  node.parent  ino of the parent directory (0 for the root, whose name is "")
 *  layer.digest_ok / diff_id_ok: 1 verified, 0 mismatch (indexed with --allow-digest-mismatch),
 *               NULL nothing to compare against
 */

#endif

/* ------------------------------------------------------------------------------------------ */
/* Builder internals (build.c orchestrates, build_layer.c runs a layer worker, build_write.c is the
 * single SQLite writer, build_merge.c computes the views). */

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>

/* Entry ids encode their place: (layer << 32) | seq, so workers number entries without talking to
 * the writer, and ORDER BY id is tar order within a layer. */
#define INDEX_ENTRY_ID(layer, seq) (((int64_t)(layer) << 32) | (int64_t)(seq))
#define INDEX_MAX_ENTRIES_PER_LAYER 0xffffffffLL

struct index_rec_xattr {
	char *name;
	void *value;
	size_t len;
};

/* One stored region of a sparse file (a row of the sparse table). */
struct index_sparse_piece {
	uint64_t logical; /* offset in the file */
	uint64_t length;
	uint64_t stored;  /* offset in the layer's uncompressed stream */
};

struct index_rec {
	int64_t id;
	int layer;
	int64_t seq;
	char *path;      /* normalised, NULL when hostile */
	char *raw_path;
	const char *problem; /* static text when the path is hostile */
	enum overlay_entry_type type;
	uint32_t mode;
	uint64_t uid, gid;
	char *uname, *gname;
	uint64_t size;
	int64_t mtime;
	long mtime_nsec;
	char *link_target;
	uint32_t devmajor, devminor;
	uint64_t data_offset;
	bool has_sha;
	unsigned char sha[32];
	bool sparse;
	int whiteout;
	size_t nxattrs;
	struct index_rec_xattr *xattrs;
	size_t nsparse;                         /* sparse files: the stored regions, in file order */
	struct index_sparse_piece *sparse_map;  /* owned */
};

/* What a finished layer worker hands to the writer. */
struct index_layer_result {
	int layer;                  /* 1-based */
	unsigned char csha[32], usha[32];
	uint64_t csize, usize;
	uint64_t entries;
	struct overlay_seekmap *map; /* owned; NULL for raw */
	char *seekable_copy;         /* owned path or NULL */
	uint64_t copy_span;          /* the copy's frame size, when seekable_copy */
	void *scan_state;            /* scanner state, owned until the writer's layer_end/layer_free */
};

/* A batch of records from one worker (or a layer result when result != NULL). */
struct index_batch {
	size_t n, cap;
	struct index_rec *recs;
	struct index_layer_result *result;
	struct index_batch *next;
};

struct index_build {
	const struct index_build_opts *opts;
	struct overlay_image *img;
	const char *image_path;
	char *cache_dir;
	sqlite3 *db;
	size_t nlayers;
	int span;
	/* worker coordination */
	pthread_mutex_t lock;
	pthread_cond_t cond_nonempty, cond_space;
	struct index_batch *head, *tail;
	size_t queued;
	int workers_running;
	atomic_size_t next_layer;
	atomic_bool failed;
	struct strata_err *err;         /* first image-level error (under lock) */
	struct overlay_stream **streams; /* per layer, for progress (under lock) */
	uint64_t total_compressed;
	uint64_t done_compressed;       /* of finished layers */
	struct index_layer_summary *layer_sums;
	uint64_t entries, problems, nodes;
	struct index_merger *merger; /* build_merge.c: views computed so far (writer thread), or NULL */
};

void index_rec_clear(struct index_rec *r);
void index_batch_free(struct index_batch *b);
/* Worker thread body. */
void *index_layer_worker(void *arg);
/* Queue (build_write.c). */
void index_queue_push(struct index_build *b, struct index_batch *batch);
void index_build_fail(struct index_build *b, struct strata_err *e); /* takes e */
/* Writer: runs until all workers end; inserts every batch. */
int index_writer_run(struct index_build *b, struct strata_err **err);
/* Merge (build_merge.c). index_merge_layer_stored: layer's entry rows are all written (writer
 * thread); computes and stores the views of every layer whose lower layers are all stored too.
 * index_merge_views: after the pass, the views not computed yet, then the merge problems; frees
 * the merger. index_merger_free: on failure (NULL is fine). */
struct index_merger;
int index_merge_layer_stored(struct index_build *b, int layer, struct strata_err **err);
int index_merge_views(struct index_build *b, struct strata_err **err);
void index_merger_free(struct index_merger *mg);
/* SQL helpers */
int index_sql_exec(sqlite3 *db, const char *sql, struct strata_err **err);
int index_sql_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct strata_err **err);
static inline void index_stmt_finalizep(sqlite3_stmt **s) { if (*s) sqlite3_finalize(*s); }
#define cleanup_stmt __attribute__((cleanup(index_stmt_finalizep)))

/* ---- attachments (index/build_attest.c, issue 9) ------------------------------------------- */
#ifndef STRATA_INDEX_ATTEST_INT
#define STRATA_INDEX_ATTEST_INT
/* Creates the attestation table and stores the image's signatures and attestations found in its
 * OCI layout (one row per artifact layer blob; an unreadable artifact is a row with error set).
 * Schema: attestation(id, found_by 'referrer'|'tag', ref_name, manifest_digest, artifact_type,
 * manifest_annotations JSON, blob_index, media_type, blob_digest, payload BLOB, signature (the
 * dev.cosignproject.cosign/signature annotation), annotations JSON, error). */
int index_attest_store(sqlite3 *db, const char *image_path, const struct overlay_image *img, struct strata_err **err);
#endif

/* ---- sparse files (index/build_sparse.c, issue 3) ---------------------------------------------- */
#ifndef STRATA_INDEX_SPARSE_INT
#define STRATA_INDEX_SPARSE_INT
/* Zeros a layer worker may hash for the holes of its sparse files (about a second of CPU): a
 * sparse file whose holes would pass it keeps no sha256 (a problem row says so), so a header
 * claiming a terabyte costs nothing. Its content is served all the same. */
#define INDEX_SPARSE_HOLES_HASH_MAX (1ULL << 30)
/* Whether the sparse entry e is hashed: its holes fit in what is left of the layer's budget
 * (*holes_hashed, counted up). */
bool index_sparse_hash_begin(const struct overlay_tar_entry *e, uint64_t *holes_hashed);
/* One stored block of r (a sparse file) at file_off in the file and stream_off in the stream (in
 * order, as overlay_tar_callbacks.sparse_data gives them): extends r's map, and when md is non-NULL
 * hashes the hole before the block (zeros) and the block. */
void index_sparse_add(struct index_rec *r, struct overlay_sha256 *md, uint64_t file_off, uint64_t stream_off,
		      const void *buf, size_t len);
/* After r's last block: hashes the trailing hole up to r->size. */
void index_sparse_hash_end(const struct index_rec *r, struct overlay_sha256 *md);
/* Bytes of r stored in the tar (the sum of its map). */
uint64_t index_sparse_stored(const struct index_rec *r);
#endif
