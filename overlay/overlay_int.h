/* overlay/overlay_int.h — internals shared by the files of overlay/. Never included from outside
 * overlay/ (checked by tests/check_deps.sh). Append only: several files own parts of it. */
#ifndef STRATA_OVERLAY_INT_H
#define STRATA_OVERLAY_INT_H

#include "overlay.h"

#include <openssl/evp.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

/* ---- byte sources (source.c, source_decomp.c) ------------------------------------------- */

/* One node of a source stack. Immutable after construction except refs, so concurrent preads
 * need no lock; the decompressed-span cache has its own lock (source_decomp.c). */
struct overlay_source {
	int refs; /* atomic (__atomic builtins) */
	enum overlay_source_kind kind;
	uint64_t size;
	struct overlay_source *base; /* RANGE, DECOMP: owned reference */
	int fd;                      /* FILE */
	char *path;                  /* FILE: owned */
	uint64_t off;                /* RANGE: start of the window in base */
	struct overlay_seekmap *map; /* DECOMP: owned */
	uint64_t id;                 /* DECOMP: unique key for the span cache (never reused) */
	struct overlay_decomp_cursor *cursor; /* DECOMP: owned, source_decomp.c */
	bool cache_copy;              /* FILE: a seekable copy in strata's cache, not an image file */
};

/* Largest zstd window accepted (2^27 = 128 MiB), for the stream and for random access. */
#define OVERLAY_ZSTD_WINDOWLOG_MAX 27

/* source_decomp.c: pread on a DECOMP source (off < size already checked, len > 0). */
ssize_t overlay_decomp_pread(struct overlay_source *s, void *buf, size_t len, uint64_t off,
			     struct strata_err **err);
/* source_decomp.c: frees a DECOMP source's cursor (NULL ok). */
struct overlay_decomp_cursor;
void overlay_decomp_cursor_free(struct overlay_decomp_cursor *c);

/* ---- streams (stream.c, stream_zstd.c) -------------------------------------------------- */

#define OVERLAY_STREAM_INBUF (1u << 20) /* compressed read chunk */
#define OVERLAY_DEFAULT_SPAN ((uint64_t)4 << 20) /* access point spacing when opts->span is 0 */

enum overlay_copy_state { OVERLAY_COPY_NO = 0, OVERLAY_COPY_UNDECIDED, OVERLAY_COPY_YES };

struct overlay_stream {
	struct overlay_source *src; /* owned reference */
	enum overlay_compression comp;
	uint64_t span, max_ratio;
	char *copy_path; /* owned; zstd seekable copy destination, NULL: none */

	/* compressed input: in[in_pos, in_len) is buffered, cread bytes read from src so far */
	unsigned char *in;
	size_t in_pos, in_len;
	uint64_t cread;
	uint64_t progress; /* == cread, read from other threads with __atomic */
	bool src_eof;

	EVP_MD_CTX *csha;
	struct overlay_sha256 usha; /* the diff_id: see stream_ahead.c for who updates it */
	uint64_t uout;     /* uncompressed bytes produced */
	bool ended;        /* compressed data ended cleanly (all output produced) */
	bool finished;
	unsigned char csum[32], usum[32];

	/* access points being collected; map->pts grows (cap = pts_cap) */
	struct overlay_seekmap *map;
	size_t pts_cap;

	/* gzip */
	z_stream zs;
	bool zs_init;
	bool in_member;     /* between a member's header start and its trailer */
	z_stream defl;      /* compresses windows */
	bool defl_init;

	/* zstd */
	ZSTD_DCtx *zd;
	bool at_frame_start;
	uint64_t frame_out, max_frame_out;
	enum overlay_copy_state copy;
	unsigned char *pending; /* output kept while the copy decision is open */
	size_t pending_len, pending_cap;
	ZSTD_CCtx *zc;
	int copy_fd;
	char *copy_tmp;    /* owned */
	uint64_t copy_written, copy_frame_in;
	unsigned char *copy_out;
	size_t copy_out_cap;
	struct overlay_seekmap *copy_map;
	size_t copy_pts_cap;
	bool used_copy;
	struct overlay_copy_worker *copy_worker; /* stream_copy.c: the copy's writer thread */
	struct overlay_stream_ahead *ahead; /* stream_ahead.c: the decoding thread, NULL: none */
};

/* stream.c: makes at least n bytes available in st->in[in_pos..] when the source has them; returns
 * the number available (may be < n at the end) or -1 with *err. */
ssize_t overlay_stream_fill(struct overlay_stream *st, size_t n, struct strata_err **err);
/* stream.c: accounts produced output (sha256, size, bomb guard). */
int overlay_stream_account(struct overlay_stream *st, const unsigned char *p, size_t n, struct strata_err **err);
/* stream.c: appends an access point (uoff, coff, bits, window: owned, taken). */
void overlay_stream_add_point(struct overlay_seekmap *m, size_t *cap, uint64_t uoff, uint64_t coff, int bits,
			      unsigned char *window, size_t window_len);
/* Compressed offset of the next unconsumed input byte. */
static inline uint64_t overlay_stream_coff(const struct overlay_stream *st)
{
	return st->cread - (st->in_len - st->in_pos);
}

/* stream_zstd.c */
int overlay_zstd_stream_init(struct overlay_stream *st, struct strata_err **err);
ssize_t overlay_zstd_stream_read(struct overlay_stream *st, unsigned char *buf, size_t len, struct strata_err **err);
int overlay_zstd_stream_finish(struct overlay_stream *st, struct strata_err **err);
void overlay_zstd_stream_free(struct overlay_stream *st);

/* stream_copy.c: the seekable copy's writer thread. start creates the temporary file and the
 * compressor and starts the writer; put hands it output bytes in order (copies them, blocks while
 * 8 MiB are queued; -1 with the writer's error); finish waits for the writer, closes the last
 * frame, syncs and renames the copy into place; free stops the writer and drops a partial copy. */
struct overlay_copy_worker;
int overlay_copy_start(struct overlay_stream *st, struct strata_err **err);
int overlay_copy_put(struct overlay_stream *st, const unsigned char *p, size_t n, struct strata_err **err);
int overlay_copy_finish(struct overlay_stream *st, struct strata_err **err);
void overlay_copy_free(struct overlay_stream *st);

/* ---- tar walking and images (tar.c, image*.c, json.c) ------------------------------------ */

/* Where the tar walker gets its bytes: read (like read(2), 0 at the end, -1 with *err) and an
 * optional skip that advances n bytes without reading (returns bytes skipped, short at the end,
 * -1 with *err); NULL: skip by reading. */
struct overlay_tar_io {
	ssize_t (*read)(void *ctx, void *buf, size_t len, struct strata_err **err);
	int64_t (*skip)(void *ctx, uint64_t n, struct strata_err **err);
	void *ctx;
};
/* tar.c: overlay_tar_walk over any overlay_tar_io. */
int overlay_tar_walk_io(const struct overlay_tar_io *io, const struct overlay_tar_callbacks *cb, void *ctx,
			struct strata_err **err);

/* ---- images (image.c, image_docker.c, image_oci.c, json.c) ---------------------------- */

#include <jansson.h>

static inline void overlay_json_decrefp(json_t **j)
{
	if (*j)
		json_decref(*j);
}
#define cleanup_json __attribute__((cleanup(overlay_json_decrefp)))

#define OVERLAY_IMAGE_JSON_MAX (64u << 20) /* manifests, configs and indexes larger than this are refused */
#define OVERLAY_IMAGE_MAX_DEPTH 8          /* nested image indexes */

/* One member of an image archive (regular file, hard link or symlink), name normalised. */
struct overlay_image_member {
	char *name;
	uint64_t off, size; /* data in the outer (uncompressed) archive */
	char *link;         /* hard link / symlink target (normalised, symlinks resolved to a full
			     * member name); NULL for regular files */
};

/* Where blobs and metadata files of an image live: a directory (OCI dir) or a tar's members. */
struct overlay_image_store {
	char *dir;                     /* OCI dir, else NULL (owned) */
	struct overlay_source *outer;  /* tar: the archive's uncompressed bytes (owned ref) */
	struct overlay_image_member *members;
	size_t nmembers;
};

struct overlay_image_layer {
	struct overlay_layer_info info; /* pointers into the fields below (set by image.c) */
	char *digest, *diff_id, *media_type, *location;
	struct overlay_source *blob;    /* owned ref */
};

struct overlay_image {
	enum overlay_image_format fmt;
	char *digest, *config_digest, *ref, *platform;
	char *manifest_json, *config_json;
	size_t manifest_len, config_len;
	struct overlay_image_layer *layers;
	size_t nlayers;
	uint64_t scan_bytes;
};

/* image.c: whether the store has a file of that name (after link resolution). */
bool overlay_image_store_has(const struct overlay_image_store *s, const char *name);
/* image.c: an owned source over the named file; ENOTFOUND when absent. */
struct overlay_source *overlay_image_store_open(const struct overlay_image_store *s, const char *name,
						struct strata_err **err);
/* image.c: reads a whole metadata file (refused over OVERLAY_IMAGE_JSON_MAX with ELIMIT); owned
 * NUL-terminated *buf. */
int overlay_image_store_read(const struct overlay_image_store *s, const char *name, char **buf, size_t *len,
			     struct strata_err **err);
/* image.c: appends a layer (takes its own reference on blob; strings copied, may be NULL) and
 * detects its compression by magic. */
int overlay_image_add_layer(struct overlay_image *img, struct overlay_source *blob, const char *location,
			    const char *digest, const char *diff_id, const char *media_type, struct strata_err **err);

/* json.c */
/* "sha256:<64 lowercase hex>" → true. */
bool overlay_digest_valid(const char *d);
/* out = "sha256:<hex>" of buf (out holds 72 bytes). */
void overlay_digest_compute(const void *buf, size_t len, char out[72]);
/* Parses JSON; invalid → EFORMAT "<what>: invalid JSON: <message> at line N". Owned result. */
json_t *overlay_json_parse(const char *what, const char *buf, size_t len, struct strata_err **err);
/* Borrowed string member or NULL. */
const char *overlay_json_str(const json_t *obj, const char *key);
/* "os/arch[/variant]" from an object with os/architecture/variant (a platform or a config);
 * owned, NULL when os or architecture is missing. */
char *overlay_json_platform(const json_t *obj);
/* Host platform "linux/amd64" etc. (static). */
const char *overlay_host_platform(void);

/* A choice offered to image selection. */
struct overlay_image_candidate {
	char **names;     /* refs / RepoTags (owned); matched by --ref */
	size_t nnames;
	char *platform;   /* owned, may be NULL */
	char *key;        /* identity (manifest or config digest), owned: duplicates are no choice */
	size_t index;     /* the format's own number for it */
	void *data;       /* borrowed by the format */
};
void overlay_image_candidates_free(struct overlay_image_candidate *c, size_t n);
/* Applies sel: --ref, then --platform, then one left / host platform. *chosen is an index into c. */
int overlay_image_select(const struct overlay_image_candidate *c, size_t n, const struct overlay_select *sel,
			 size_t *chosen, struct strata_err **err);

/* image_docker.c: manifest.json present. */
int overlay_image_docker_load(struct overlay_image *img, const struct overlay_image_store *s,
			      const struct overlay_select *sel, struct strata_err **err);
/* image_oci.c: oci-layout + index.json present. */
int overlay_image_oci_load(struct overlay_image *img, const struct overlay_image_store *s,
			   const struct overlay_select *sel, struct strata_err **err);
/* image_oci.c: reads blob digest (validated), checks size (when expected_size >= 0) and digest;
 * owned *buf. */
int overlay_image_oci_read_blob(const struct overlay_image_store *s, const char *digest, int64_t expected_size,
				char **buf, size_t *len, struct strata_err **err);

/* ---- the layer merge tree (merge.c, merge_tree.c) ----------------------------------------- */

/* Shared by the paths of one hard-linked object; a node without one has nlink 1. */
struct merge_link {
	uint32_t npaths;
};

/* One path of the merged view. The tree is purely path-based: a node is found by (parent, name)
 * in the tree's hash table, never by following a symlink. Non-directory nodes are immutable
 * (replacing one creates a new node); a directory node keeps its ino when an upper layer's
 * directory merges into it. */
struct merge_node {
	struct merge_node *parent;  /* NULL for the root */
	struct merge_node *hnext;   /* hash chain */
	struct merge_node *first_child, *next_sib, *prev_sib; /* unsorted children */
	struct merge_link *link;    /* owned share (refcount npaths); NULL: not hard-linked */
	uint64_t ino;
	int64_t entry_id, data_entry_id;
	enum overlay_entry_type type; /* never OVERLAY_T_HARDLINK */
	size_t name_len;
	char name[];                /* NUL-terminated */
};

struct merge_tree {
	struct merge_node *root;
	struct merge_node **buckets;
	size_t nbuckets;           /* power of two */
	size_t nnodes;             /* including the root */
	uint64_t next_ino;
	struct merge_node **scratch; /* removal stack */
	size_t scratch_cap;
};

/* merge_tree.c: an empty tree holding only the root (ino 1, entry -1). */
void merge_tree_init(struct merge_tree *t);
void merge_tree_destroy(struct merge_tree *t);
/* The child of dir named name[0..len), or NULL. */
struct merge_node *merge_tree_child(const struct merge_tree *t, const struct merge_node *dir, const char *name,
				    size_t len);
/* A new child of dir (which has no child of that name) with a fresh ino, nlink share none. */
struct merge_node *merge_tree_add(struct merge_tree *t, struct merge_node *dir, const char *name, size_t len,
				  enum overlay_entry_type type, int64_t entry_id);
/* A new child of dir sharing the ino, type and data of target (a non-directory). */
struct merge_node *merge_tree_add_link(struct merge_tree *t, struct merge_node *dir, const char *name,
				       size_t len, struct merge_node *target, int64_t entry_id);
/* Removes n (not the root) and its whole subtree. */
void merge_tree_remove(struct merge_tree *t, struct merge_node *n);
/* Removes every child of dir (and their subtrees). */
void merge_tree_remove_children(struct merge_tree *t, struct merge_node *dir);
/* See overlay_merge_visit. */
int merge_tree_visit(const struct merge_tree *t, int (*cb)(void *ctx, const struct overlay_merge_node *n),
		     void *ctx);

#endif

/* ---- attachments (image_referrers.c, issue 9) ---------------------------------------------- */
#ifndef STRATA_OVERLAY_ATTACH_INT
#define STRATA_OVERLAY_ATTACH_INT
/* image.c: fills s from path (a directory or an archive, compressed or not) the way
 * overlay_image_open reads it. Returns 0 for an OCI layout, 1 for anything else (s left empty),
 * -1 with *err. Clear s with overlay_image_store_clear either way. */
int overlay_image_store_load(struct overlay_image_store *s, const char *path, struct strata_err **err);
void overlay_image_store_clear(struct overlay_image_store *s);
/* image.c: the same from an archive's uncompressed bytes already at hand (outer: the source the
 * layers of an OCI tar are ranges of), reading only the tar headers through its access points. */
int overlay_image_store_load_outer(struct overlay_image_store *s, struct overlay_source *outer,
				   struct strata_err **err);
#endif

/* ---- the lazy zstd seekable copy (stream_seekable.c, stream_zstd.c, stream_copy.c) ---------- */
#ifndef STRATA_OVERLAY_SEEKABLE_INT
#define STRATA_OVERLAY_SEEKABLE_INT
/* stream_seekable.c: the frame size of a copy for a span (0 → 4 MiB; capped so that frame sizes
 * fit the seek table's 32-bit fields). */
uint64_t overlay_seekable_frame_span(uint64_t span);
/* stream_seekable.c: the seek table (a skippable frame in zstd's seekable format) describing the
 * frames of m, whose last frame ends at data_end in the copy. Owned, *len bytes. */
unsigned char *overlay_seekable_table(const struct overlay_seekmap *m, uint64_t data_end, size_t *len);
/* stream_zstd.c: makes a stream opened with a seekable_copy_path write the copy from its first
 * byte, whatever its frame sizes (the lazy build knows a copy is needed). Call before reading. */
int overlay_zstd_copy_force(struct overlay_stream *st, struct strata_err **err);
/* stream_copy.c: true when the stream's last error came from writing the copy (its writer thread,
 * its file or its rename), not from the blob. */
bool overlay_stream_copy_failed(const struct overlay_stream *st);
#endif

/* ---- gzip spans with ISA-L (inflate_isal.c, used by source_decomp.c) ------------------------ */
#ifndef STRATA_OVERLAY_ISAL_INT
#define STRATA_OVERLAY_ISAL_INT
/* An ISA-L inflate resumed at a gzip access point. Owned; overlay_isal_free accepts NULL. */
struct overlay_isal;
struct overlay_isal *overlay_isal_new(void);
void overlay_isal_free(struct overlay_isal *z);
/* (Re)starts z at pt: a member start parses the gzip header; a block boundary inflates pt's window
 * as the dictionary and primes pt->bits high bits of prime (the byte at pt->coff - 1; ignored when
 * pt->bits is 0). Input then continues at pt->coff. -1 with *err (EFORMAT) on a corrupt window. */
int overlay_isal_start(struct overlay_isal *z, const struct overlay_checkpoint *pt, unsigned char prime,
		       struct strata_err **err);
/* Inflates from in[0..in_len) into out[0..n) (in is only read). Sets *used to the input bytes
 * consumed (kept inside z when they did not yield output yet) and *ended when the deflate stream
 * (or gzip member, trailer checked) is complete. Returns the bytes produced (0 when z needs more
 * input), or -1 with *err (EFORMAT, ISA-L's reason) on corrupt data. */
ssize_t overlay_isal_inflate(struct overlay_isal *z, const unsigned char *in, size_t in_len, size_t *used,
			     unsigned char *out, size_t n, bool *ended, struct strata_err **err);
#endif

/* ---- decoding ahead on a thread (stream_ahead.c, stream.c) ----------------------------------- */
#ifndef STRATA_OVERLAY_AHEAD_INT
#define STRATA_OVERLAY_AHEAD_INT
struct overlay_stream_ahead;
/* stream.c: the decoder itself (what overlay_stream_read does without read-ahead). */
ssize_t overlay_stream_decode(struct overlay_stream *st, unsigned char *buf, size_t len, struct strata_err **err);
/* stream_ahead.c: overlay_stream_read with read-ahead: decoded bytes from the ring, 0 at the end,
 * -1 with the decoder's error. */
ssize_t overlay_stream_ahead_read(struct overlay_stream *st, unsigned char *buf, size_t len, struct strata_err **err);
/* stream_ahead.c: stops (when still running) and joins the decoding thread; idempotent. After it,
 * the stream's fields are the caller's again. */
void overlay_stream_ahead_join(struct overlay_stream *st);
void overlay_stream_ahead_free(struct overlay_stream_ahead *a);

/* ---- span cache (span_cache.c; used by source_decomp.c) -------------------------------------- */

/* One decoded span (or a placeholder while it is decoded), reference counted. */
struct overlay_span;
/* Returns span (id, idx) with a reference. Either it is ready (*fill false: read it with
 * overlay_span_data), or it is a new placeholder that the caller must decode and publish with
 * overlay_span_complete (*fill true); other threads asking for it meanwhile wait for it. */
struct overlay_span *overlay_span_acquire(uint64_t id, size_t idx, bool *fill);
/* A new placeholder for span (id, idx) with a reference, or NULL when the span is cached or
 * being decoded already (readahead then has nothing to do). */
struct overlay_span *overlay_span_claim(uint64_t id, size_t idx);
/* Publishes a placeholder's decoded span: takes data (from overlay_span_buf_get, cap its size)
 * holding len bytes; data NULL publishes a failure (waiters then decode it themselves). */
void overlay_span_complete(struct overlay_span *e, unsigned char *data, size_t len, size_t cap);
/* Drops the caller's reference. */
void overlay_span_release(struct overlay_span *e);
/* The bytes of a ready span (borrowed: valid while the caller holds its reference). */
const unsigned char *overlay_span_data(const struct overlay_span *e);
/* Drops the caller's reference to a span it read to its end: the span, if still cached, becomes
 * the first to be evicted. */
void overlay_span_release_read(struct overlay_span *e);
/* Whether span (id, idx) is cached or being decoded. */
bool overlay_span_known(uint64_t id, size_t idx);
/* Drops every cached span of source id (the source is being freed). */
void overlay_span_forget(uint64_t id);
/* The budget in bytes (overlay_cache_set_budget): spans larger than it are never cached. */
size_t overlay_span_budget(void);
/* A buffer for a span of len bytes, inside the budget (evicting, and reusing the buffer of, the
 * least recently used span when it is full). Owned: *cap is its size; it goes back through
 * overlay_span_complete or overlay_span_buf_release. */
unsigned char *overlay_span_buf_get(size_t len, size_t *cap);
void overlay_span_buf_release(unsigned char *p, size_t cap);

#endif

/* ---- lending decoded bytes in place (stream_ahead.c, used by tar.c) -------------------------- */
#ifndef STRATA_OVERLAY_LEND_INT
#define STRATA_OVERLAY_LEND_INT
/* stream_ahead.c: overlay_stream_read without the copy, for a stream with read-ahead: *p points at
 * the next decoded bytes inside the ring (at most max, never past the end of one chunk), hashed
 * into the diff_id like read bytes. They are lent until the reader's next call of
 * overlay_stream_ahead_borrow or overlay_stream_read on st (or its finish/free): the decoder does
 * not touch them before. Returns the count, 0 at the end (or max 0), -1 with the decoder's error
 * (*p NULL); the end and error semantics are overlay_stream_read's. The lent bytes enter the
 * diff_id when the reader's next call releases them, or earlier through overlay_stream_hash_along. */
ssize_t overlay_stream_ahead_borrow(struct overlay_stream *st, const unsigned char **p, size_t max,
				    struct strata_err **err);
#endif

/* ---- big stream buffers (stream.c) ------------------------------------------------------------ */
#ifndef STRATA_OVERLAY_BUF_INT
#define STRATA_OVERLAY_BUF_INT
/* stream.c: an owned buffer of at least len bytes (free with free()) for data a stream writes once
 * through (the compressed input buffer, the read-ahead ring): rounded up to whole 2 MiB, aligned
 * to them and advised for transparent huge pages, so it faults in as a few huge pages instead of
 * hundreds of small ones (each fault is dear in a VM). Aborts when out of memory. */
unsigned char *overlay_stream_buf_alloc(size_t len);
#endif
