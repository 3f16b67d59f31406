/* index/index.h — the SQLite index of an image: the one-pass builder and the read side.
 *
 * The builder reads every layer once (layers in parallel, one SQLite writer), records every tar
 * entry, the merged tree of every view, the access points of every compressed stream and the
 * digests, in a temporary file renamed into place when complete. The reader answers the
 * questions the FUSE driver asks (lookup, getattr, readdir, read) and is safe to use from many
 * threads at once. The schema is described in index_int.h and in the README.
 *
 * Views: the merged tree after the first N layers is view N (1..L; view L is what the running
 * container sees; view 0 is the empty root of an image without layers); layer N's own changeset,
 * whiteouts shown as files, is view L+N. Layers are numbered from 1 (the base layer).
 *
 * Inode numbers (an invariant across overlay/merge.c, index/ and fs/): the merge engine gives each
 * file object an ino when it appears and keeps it while the same object stays at the same path, so
 * one path has the same ino in every view where it shows the same entry; hard links share the ino
 * of their target; the root is 1. fs/ turns (view, ino) into a FUSE inode.
 */
#ifndef STRATA_INDEX_H
#define STRATA_INDEX_H

#include "../overlay/overlay.h"

/* 2: sparse files keep their real size and a sparse table (an index of version 1 is rebuilt). */
#define INDEX_SCHEMA_VERSION 2

/* ------------------------------------------------------------------------------------------ */
/* Content scanners (audit/ implements them; index/ only calls them). One scanner object per
 * layer worker; calls for one scanner come from one thread, in tar order. */

struct index_scan_entry {
	int layer;                 /* 1-based */
	int64_t entry_id;
	const char *path;          /* normalised path, or the raw path when hostile; borrowed */
	enum overlay_entry_type type;
	uint64_t size;
};

struct index_scanner_ops {
	/* Before the pass, in the writer thread: creates the scanner's tables in the new index (a
	 * sqlite3 *, passed opaque). May be NULL. */
	int (*init)(void *ctx, void *sqlite_db, struct strata_err **err);
	/* After every layer is stored and the views are computed (node rows exist), before the index
	 * is committed: work that needs the whole image (catalogs, checks, "deleted in layer N").
	 * May be NULL. */
	int (*finish)(void *ctx, void *sqlite_db, struct strata_err **err);
	/* Creates the per-layer scan state; ctx is the scanner's global context. */
	void *(*layer_begin)(void *ctx, int layer);
	/* For each regular file: begin (return 0 to skip its data), data chunks, end. */
	int (*file_begin)(void *state, const struct index_scan_entry *e);
	void (*file_data)(void *state, const void *buf, size_t len);
	void (*file_end)(void *state);
	/* After the layer: store results through the database handle (a sqlite3 *, passed opaque so
	 * index.h does not need sqlite3.h). Called from the single writer thread. */
	int (*layer_end)(void *state, void *sqlite_db, struct strata_err **err);
	void (*layer_free)(void *state);
	void *ctx;
};

/* ------------------------------------------------------------------------------------------ */
/* Building */

struct index_progress {
	uint64_t done;   /* compressed bytes read */
	uint64_t total;  /* total compressed bytes of all layers */
	double seconds;
};

struct index_build_opts {
	const char *index_path;  /* NULL → default cache path (see index_default_path) */
	const char *cache_dir;   /* NULL → $XDG_CACHE_HOME/strata or ~/.cache/strata; holds zstd seekable copies */
	struct overlay_select select;
	uint64_t span;           /* access point spacing; 0 → 4 MiB */
	int jobs;                /* layer workers; 0 → number of cores */
	bool allow_digest_mismatch;
	bool force;              /* rebuild even when a valid index exists */
	const char *rules_hash;  /* scanner rules identity; part of the reuse check; NULL → "" */
	const struct index_scanner_ops *scanner; /* may be NULL; audit/ composes several into one */
	void (*progress)(void *ctx, const struct index_progress *p); /* called about 10 times a second; may be NULL */
	void *progress_ctx;
};

struct index_layer_summary {
	char digest[80];
	char compression[8];
	uint64_t compressed_size;
	uint64_t size;
	uint64_t entries;
};

struct index_summary {
	char path[4096];         /* the index file */
	char image_digest[80];
	char format[24];
	bool reused;             /* an existing index was valid and nothing was rebuilt */
	size_t nlayers;
	struct index_layer_summary *layers; /* owned; free with index_summary_clear */
	uint64_t entries;
	uint64_t nodes;          /* nodes of the final merged view */
	uint64_t problems;
	uint64_t bytes_read;     /* compressed bytes read (layers, plus a compressed outer archive) */
	double seconds;
};
void index_summary_clear(struct index_summary *s);

/* Builds (or reuses) the index of the image at image_path. Returns 0 and fills *sum, or -1 with
 * *err naming the image and the problem; on failure no index file is left behind (an older valid
 * one at the same path is left untouched). */
int index_build(const char *image_path, const struct index_build_opts *opts, struct index_summary *sum,
		struct strata_err **err);

/* Added for issue 8: the stale mark. A reader that finds a blob changed after indexing (shorter,
 * unreadable, or its bytes no longer what the index recorded) creates "<index path>.stale" next to
 * the index; index_build never reuses an index with that file and removes it after a rebuild. */
#define INDEX_STALE_SUFFIX ".stale"

/* The default index path for an image and selection: <cache>/strata/<key>.db, where key hashes
 * the image's real path and the selection. Owned string. */
char *index_default_path(const char *image_path, const struct overlay_select *sel, const char *cache_dir,
			 struct strata_err **err);

/* ------------------------------------------------------------------------------------------ */
/* Reading (thread-safe: each thread gets its own SQLite connection and prepared statements). */

struct index_db;

/* Opens an index read-only. Fails with EFORMAT on a file that is not a complete strata index of
 * this schema version. Owned result. */
struct index_db *index_db_open(const char *path, struct strata_err **err);
void index_db_close(struct index_db *db);

int index_db_layer_count(const struct index_db *db);
int index_db_view_merged(const struct index_db *db, int n); /* view id after the first n layers */
int index_db_view_layer(const struct index_db *db, int n);  /* view id of layer n's changeset */

struct index_node {
	uint64_t ino;
	int64_t entry_id;      /* -1 for a synthesised directory */
	int64_t data_entry_id; /* entry whose attributes/data the node shows (hard links: the target) */
	uint32_t mode;         /* S_IFMT | permission bits */
	uint32_t nlink;
	uint64_t uid, gid;
	uint64_t size;
	int64_t mtime;
	long mtime_nsec;
	uint32_t devmajor, devminor;
	int layer;             /* layer the shown entry comes from (0 for synthesised) */
};

/* 0 found, 1 not found, -1 error. */
int index_db_lookup(struct index_db *db, int view, uint64_t parent_ino, const char *name, struct index_node *out,
		    struct strata_err **err);
int index_db_getattr(struct index_db *db, int view, uint64_t ino, struct index_node *out, struct strata_err **err);
/* Calls cb for each child of dir_ino after cookie (start with 0), in a stable order; the cookie
 * passed to cb resumes after that child. cb returns non-zero to stop (buffer full). Returns 0 or -1. */
typedef int (*index_dirent_cb)(void *ctx, const char *name, const struct index_node *n, int64_t cookie);
int index_db_readdir(struct index_db *db, int view, uint64_t dir_ino, int64_t cookie, index_dirent_cb cb, void *ctx,
		     struct strata_err **err);
/* Symlink target of an entry. Owned string or NULL with *err. */
char *index_db_readlink(struct index_db *db, int64_t entry_id, struct strata_err **err);
/* Reads file data of an entry (regular files) through the layer's byte sources. */
ssize_t index_db_read(struct index_db *db, int64_t entry_id, void *buf, size_t len, uint64_t off,
		      struct strata_err **err);
/* xattrs of an entry from the tar. cb gets borrowed name/value; returns non-zero to stop. */
int index_db_xattrs(struct index_db *db, int64_t entry_id,
		    int (*cb)(void *ctx, const char *name, const void *value, size_t len), void *ctx,
		    struct strata_err **err);
/* sha256 hex of an entry's content (regular files), or "" when none. Writes 65 bytes. */
int index_db_entry_sha256(struct index_db *db, int64_t entry_id, char out[65], struct strata_err **err);
/* Layer n's digest (blob digest, else diff_id), into out (at least 80 bytes). */
int index_db_layer_digest(struct index_db *db, int n, char *out, size_t outlen, struct strata_err **err);
/* Totals for statfs: number of nodes and bytes of regular files in the final view. */
int index_db_totals(struct index_db *db, uint64_t *nodes, uint64_t *bytes, struct strata_err **err);
/* The uncompressed tar stream of layer n, rebuilt from the stored recipe. Owned (unref it). */
struct overlay_source *index_db_layer_source(struct index_db *db, int n, struct strata_err **err);
/* Calls cb for every node of a view except the root, in byte order of path, with the node's
 * attributes and (symlinks) target; path and target are borrowed for the call. cb returns non-zero
 * to stop. Uses its own connection (for tools; not needed on the FUSE path). */
int index_db_walk(struct index_db *db, int view,
		  int (*cb)(void *ctx, const char *path, const struct index_node *n, const char *target), void *ctx,
		  struct strata_err **err);
/* Path of the SQLite file. Borrowed. */
const char *index_db_path(const struct index_db *db);
/* Added for fs/ (issue 3): "layer N (sha256:…): /path" of an entry into out, for log lines.
 * Returns 0, or -1 when the entry cannot be described (out then holds "entry ID"). Never fails hard. */
int index_db_entry_describe(struct index_db *db, int64_t entry_id, char *out, size_t outlen);
/* Added for fs/ (issue 3): the /.audit/image.json document (image identity, manifest, config, layers
 * with their digests and whether each was verified), pretty-printed JSON ending in a newline.
 * Owned string (length in *len) or NULL with *err. */
char *index_db_image_json(struct index_db *db, size_t *len, struct strata_err **err);

/* Added for forensics (issue 7): provenance of the path of entry_id: *added = the lowest layer
 * holding an entry at that path, *findings = rows of the secret findings table naming that entry
 * (0 when the index has no such table). Uses the pool (index_db_query). 0 or -1 with *err. */
int index_db_provenance(struct index_db *db, int64_t entry_id, int *added, int64_t *findings, struct strata_err **err);

/* Added for the xattr handlers (connections fix): runs sql, one read-only statement with at most
 * one parameter ?1 (bound to arg), on a pooled connection of db and calls row(ctx, stmt) for each
 * result row; stmt is the sqlite3_stmt * (passed opaque; borrowed for the call), row returns
 * non-zero to stop. The statement is prepared once per connection and kept, keyed by the address
 * of sql: pass a string with static storage (a literal). Like every call here it reads the index
 * file index_db_open validated, even after its path was removed or replaced. Returns 0; 1 when
 * the index has no table the statement names (built without that scanner; row never called);
 * -1 with *err. Safe from any thread. */
int index_db_query(struct index_db *db, const char *sql, int64_t arg, int (*row)(void *ctx, void *stmt), void *ctx,
		   struct strata_err **err);

/* Added for fs/ (connections fix): the descriptor of the index file db reads, the one index_db_open
 * validated (served as /.audit/index.db). Borrowed: valid until index_db_close; dup it to keep it. */
int index_db_fd(const struct index_db *db);

/* A read-only SQLite connection of the caller's own (a sqlite3 *, closed with sqlite3_close) on the
 * index file db reads — the one index_db_open validated, never its path again, so reports rendered
 * under a mount describe the mounted image even after the index path was removed or replaced.
 * 0, or -1 with *err (EIO: the file is open already, so failing is never "not found"). */
struct sqlite3;
int index_db_connect(const struct index_db *db, struct sqlite3 **out, struct strata_err **err);

#endif
