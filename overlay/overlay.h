/* overlay/overlay.h — the bottom module of strata: errors, cleanup helpers, byte sources,
 * streaming decompression with access points, image formats, tar walking and the layer merge.
 *
 * overlay knows nothing of SQLite, FUSE or policy. Everything else in strata includes this
 * header (directly or through index.h), so the error object and cleanup helpers live here.
 *
 * Ownership conventions (stated per function below):
 *   "owned"    the caller frees it with the matching _free/_unref function (or free()).
 *   "borrowed" valid as long as the object it came from, never freed by the caller.
 * Every _free/_unref accepts NULL.
 */
#ifndef STRATA_OVERLAY_H
#define STRATA_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#define STRATA_VERSION "0.1.0"

/* ------------------------------------------------------------------------------------------ */
/* Errors: one object, passed last, grown with context (crun style).                          */

enum strata_errcode {
	STRATA_EIO = 1,       /* reading or writing failed (errno-level problem on the host) */
	STRATA_EFORMAT,       /* the input is not what it claims: corrupt, truncated, bad JSON */
	STRATA_EDIGEST,       /* a digest does not match */
	STRATA_EUSAGE,        /* bad arguments */
	STRATA_ENOTFOUND,     /* a referenced blob, file, ref or platform is absent */
	STRATA_EUNSUPPORTED,  /* valid but not handled (unknown media type, …) */
	STRATA_EAMBIGUOUS,    /* a choice is needed (several images, several platforms) */
	STRATA_ELIMIT,        /* a safety limit was hit (size, depth, ratio) */
};

/* Severity, libarchive style: an ENTRY error costs one entry, an IMAGE error stops the pass. */
enum strata_severity { STRATA_SEV_IMAGE = 0, STRATA_SEV_ENTRY = 1 };

struct strata_err {
	int code;     /* enum strata_errcode */
	int severity; /* enum strata_severity */
	int sys_errno;/* errno at the failure when code == STRATA_EIO, else 0 */
	char *msg;    /* owned, full message with context, outermost first */
};

/* Sets *err to a new error (if err is non-NULL and *err is NULL; an existing error is kept,
 * since the first failure is the cause). Always returns -1 so callers can `return strata_err_set(...)`. */
int strata_err_set(struct strata_err **err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like strata_err_set, appending ": strerror(errno)" and recording errno. */
int strata_err_sys(struct strata_err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes context to an existing error: "ctx: old message". No-op if err or *err is NULL. Returns -1. */
int strata_err_wrap(struct strata_err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether code says the bytes are not what they should be (EDIGEST, EFORMAT, ELIMIT), as opposed
 * to bytes that could not be read (EIO, …): a blob failing so stays bad, a read may pass later. */
bool strata_err_data_bad(int code);
void strata_err_free(struct strata_err *e);

/* Abort-on-OOM allocators: out of memory is the one condition library code may die on. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Hex helpers. out must hold 2*n+1 bytes. */
void strata_hex(const unsigned char *in, size_t n, char *out);

/* Removes, in dir, the temporaries of runs that died: names "<prefix>.tmp.<pid>[.…]" (prefix NULL:
 * any name holding ".tmp.<pid>") whose process is gone. Those of live processes stay. */
void strata_remove_dead_temps(const char *dir, const char *prefix);

/* Cleanup attributes with explicit steal (bubblewrap/crun style). */
static inline void strata_freep(void *p) { free(*(void **)p); }
static inline void strata_closep(int *fd) { if (*fd >= 0) close(*fd); }
static inline void strata_fclosep(FILE **f) { if (*f) fclose(*f); }
static inline void strata_err_freep(struct strata_err **e) { strata_err_free(*e); }
#define cleanup_free __attribute__((cleanup(strata_freep)))
#define cleanup_close __attribute__((cleanup(strata_closep)))
#define cleanup_fclose __attribute__((cleanup(strata_fclosep)))
#define cleanup_err __attribute__((cleanup(strata_err_freep)))

static inline void *strata_steal_pointer(void *pp)
{
	void **p = (void **)pp;
	void *v = *p;
	*p = NULL;
	return v;
}
/* Type-checked: steal_pointer(&x) has the type of x. */
#define steal_pointer(pp) ((__typeof__(*(pp)))strata_steal_pointer(pp))
static inline int steal_fd(int *fd)
{
	int v = *fd;
	*fd = -1;
	return v;
}

/* One-line checks on untrusted bytes. In debug builds (STRATA_DEBUG) the message carries
 * file:line and the failed condition. */
#ifdef STRATA_DEBUG
#define STRATA_CHECK(cond, err, code, fmt, ...)                                                     \
	do {                                                                                        \
		if (!(cond))                                                                        \
			return strata_err_set((err), (code), fmt " [%s:%d: %s]", ##__VA_ARGS__,     \
					      __FILE__, __LINE__, #cond);                           \
	} while (0)
#else
#define STRATA_CHECK(cond, err, code, fmt, ...)                                                     \
	do {                                                                                        \
		if (!(cond))                                                                        \
			return strata_err_set((err), (code), fmt, ##__VA_ARGS__);                   \
	} while (0)
#endif

/* ------------------------------------------------------------------------------------------ */
/* Byte sources: pread over a source's own (uncompressed) stream. Sources stack:
 *   file → range → gzip → range → gzip   (a gzip layer inside a gzipped docker-archive).
 * Sources are reference counted; constructors that take a base take a NEW reference on it
 * (the caller keeps its own). All sources are safe for concurrent overlay_source_pread. */

struct overlay_source;

enum overlay_compression { OVERLAY_COMP_NONE = 0, OVERLAY_COMP_GZIP, OVERLAY_COMP_ZSTD };

enum overlay_source_kind { OVERLAY_SRC_FILE, OVERLAY_SRC_RANGE, OVERLAY_SRC_DECOMP };

/* An access point into a compressed stream.
 * gzip: uoff/coff of a deflate block boundary (or member start), bits = number of bits of the
 *       byte at coff-1 that belong to the new block (0..7, as zlib's inflatePrime wants), window =
 *       the 32 KiB of output preceding uoff, compressed with zlib (raw deflate), window_len its
 *       compressed length; window_len == 0 means no history is needed (member start).
 * zstd: uoff/coff of a frame start; bits = 0, no window. */
struct overlay_checkpoint {
	uint64_t uoff;
	uint64_t coff;
	int bits;
	size_t window_len;
	unsigned char *window; /* owned by the seekmap */
};

/* All access points of one compressed stream, sorted by uoff; pts[0] is always uoff 0. */
struct overlay_seekmap {
	enum overlay_compression comp;
	uint64_t usize; /* total uncompressed size */
	uint64_t csize; /* total compressed size */
	size_t n;
	struct overlay_checkpoint *pts; /* owned */
};
void overlay_seekmap_free(struct overlay_seekmap *m);

/* Opens a file read-only (O_RDONLY|O_CLOEXEC). Returns an owned source or NULL with *err. */
struct overlay_source *overlay_source_file_open(const char *path, struct strata_err **err);
/* A window [off, off+len) of base. Takes a reference on base. Owned result. */
struct overlay_source *overlay_source_range_new(struct overlay_source *base, uint64_t off, uint64_t len);
/* Random access to the decompressed stream of base, resuming at the access points of map.
 * Takes a reference on base and ownership of map (freed with the source, even on error). */
struct overlay_source *overlay_source_decomp_new(struct overlay_source *base, struct overlay_seekmap *map,
						 struct strata_err **err);

struct overlay_source *overlay_source_ref(struct overlay_source *s);
void overlay_source_unref(struct overlay_source *s);

/* Reads up to len bytes at off. Returns the number of bytes read (short only at the end of the
 * stream, 0 at or past the end) or -1 with *err. Thread-safe. */
ssize_t overlay_source_pread(struct overlay_source *s, void *buf, size_t len, uint64_t off, struct strata_err **err);
/* Size of the source's stream (for decomp sources: map->usize). */
uint64_t overlay_source_size(const struct overlay_source *s);

/* Introspection, so the index can store how to rebuild a stack at mount time without
 * re-reading the image: kind, then base (borrowed; NULL for FILE), path (FILE, borrowed),
 * range (RANGE), seekmap (DECOMP, borrowed). */
enum overlay_source_kind overlay_source_kind(const struct overlay_source *s);
struct overlay_source *overlay_source_base(const struct overlay_source *s);
const char *overlay_source_path(const struct overlay_source *s);
void overlay_source_range(const struct overlay_source *s, uint64_t *off, uint64_t *len);
const struct overlay_seekmap *overlay_source_seekmap(const struct overlay_source *s);
/* True for a FILE source that is a zstd seekable copy in strata's cache (opened by
 * overlay_zstd_seekable_open), false for the image's own files: a failing read there is the
 * cache's problem, never the image's. */
bool overlay_source_is_cache_copy(const struct overlay_source *s);

/* Process-wide budget of all decompressed span buffers (default 64 MiB): the LRU's spans, those
 * being decoded, those still read after eviction and the pooled ones. */
void overlay_cache_set_budget(size_t bytes);

/* Starts the threads that decode the next spans of a compressed layer ahead of a sequential
 * reader (for the mount's serving process). Call it in the process that will read, after any
 * fork (threads do not survive one). Until then spans are decoded only when read. Idempotent;
 * false when no thread could start (reads then work as before). */
bool overlay_readahead_start(void);

/* Compression by magic bytes (never by name). n may be short; unknown → NONE. */
enum overlay_compression overlay_detect_compression(const unsigned char *magic, size_t n);
const char *overlay_compression_name(enum overlay_compression c); /* "raw", "gzip", "zstd" */

/* ------------------------------------------------------------------------------------------ */
/* SHA-256 (sha256.c): a digest whose state strata holds, so that two digests of the same bytes
 * take one pass (with the x86 SHA extensions; elsewhere OpenSSL does each). Not thread-safe per
 * state. Zero a state before its first init; init restarts it; dispose frees what init took. */
struct evp_md_ctx_st;
struct overlay_sha256 {
	uint32_t h[8];
	uint64_t len;	       /* bytes taken */
	unsigned char buf[64]; /* a partial block: buf[0 .. buflen) */
	size_t buflen;
	struct evp_md_ctx_st *evp; /* without the SHA extensions: OpenSSL's context does the work */
};
bool overlay_sha256_accelerated(void);
int overlay_sha256_init(struct overlay_sha256 *c); /* -1: OpenSSL has no SHA-256 (or no memory) */
void overlay_sha256_update(struct overlay_sha256 *c, const void *p, size_t n);
/* The same n bytes into both a and b; one pass when their partial blocks are the same length. */
void overlay_sha256_update2(struct overlay_sha256 *a, struct overlay_sha256 *b, const void *p, size_t n);
void overlay_sha256_final(struct overlay_sha256 *c, unsigned char out[32]);
void overlay_sha256_dispose(struct overlay_sha256 *c);

/* ------------------------------------------------------------------------------------------ */
/* Streams: one sequential pass over a (possibly compressed) source, as the index pass needs it.
 * While it decompresses it records access points about every opts->span bytes of output,
 * computes sha256 of the compressed bytes and of the uncompressed bytes, and counts progress. */

struct overlay_stream_opts {
	uint64_t span;                 /* access point spacing in output bytes; 0 → 4 MiB */
	/* zstd only: when the stream has no frame boundaries closer than about span (a single large
	 * frame), write a seekable copy (independent zstd frames of about span bytes) to this path
	 * (written as path.tmp.PID then renamed). NULL: never write one. */
	const char *seekable_copy_path;
	/* Decompression-bomb guard: fail when output exceeds max_ratio * compressed + 1 MiB.
	 * 0 → no limit. */
	uint64_t max_ratio;
};

struct overlay_stream;

/* comp is the compression of src's bytes (detect it with overlay_detect_compression first).
 * Takes a reference on src. Owned result. */
struct overlay_stream *overlay_stream_open(struct overlay_source *src, enum overlay_compression comp,
					   const struct overlay_stream_opts *opts, struct strata_err **err);
/* Reads the next uncompressed bytes. Returns bytes read, 0 at the end, -1 with *err
 * (truncated input, corrupt data, bomb limit). */
ssize_t overlay_stream_read(struct overlay_stream *st, void *buf, size_t len, struct strata_err **err);
/* Reads and discards the rest of the stream (the tar reader stops at the end-of-archive blocks,
 * but digests cover the whole blob), checks the stream really ended, and finalises digests and
 * the seekable copy. Must be called before the getters below. */
int overlay_stream_finish(struct overlay_stream *st, struct strata_err **err);
/* Compressed bytes consumed so far (for progress; may be read from another thread, relaxed). */
uint64_t overlay_stream_progress(const struct overlay_stream *st);
/* After finish: sha256 of the compressed bytes and of the uncompressed bytes (equal for raw). */
void overlay_stream_digests(const struct overlay_stream *st, unsigned char csha[32], unsigned char usha[32]);
uint64_t overlay_stream_usize(const struct overlay_stream *st);
uint64_t overlay_stream_csize(const struct overlay_stream *st);
/* After finish: the access points (owned by the caller) — NULL for raw streams. For a zstd stream
 * for which a seekable copy was written, the map describes the COPY (its coff are offsets in the
 * copy file) and overlay_stream_used_seekable_copy() is true. */
struct overlay_seekmap *overlay_stream_take_seekmap(struct overlay_stream *st);
/* Whether random reads of the stream m describes need a zstd seekable copy: its access points
 * leave a gap over twice the spacing span (0: the default, 4 MiB), as one big zstd frame does.
 * Returns the copy's frame size (span), or 0 when no copy is needed (gzip, multi-frame zstd). */
uint64_t overlay_seekmap_copy_span(const struct overlay_seekmap *m, uint64_t span);
bool overlay_stream_used_seekable_copy(const struct overlay_stream *st);
void overlay_stream_free(struct overlay_stream *st);

/* ------------------------------------------------------------------------------------------ */
/* Tar walking with libarchive (ustar, pax, GNU long names/links, xattrs, sparse flagged). */

enum overlay_entry_type {
	OVERLAY_T_REG = 0,
	OVERLAY_T_DIR,
	OVERLAY_T_SYMLINK,
	OVERLAY_T_HARDLINK,
	OVERLAY_T_CHR,
	OVERLAY_T_BLK,
	OVERLAY_T_FIFO,
	OVERLAY_T_SOCK,
};
const char *overlay_entry_type_name(enum overlay_entry_type t); /* "file","dir","symlink",… */

struct overlay_xattr {
	const char *name;  /* e.g. "security.capability" */
	const void *value;
	size_t len;
};

/* One tar entry. All pointers borrowed, valid only during the callback. */
struct overlay_tar_entry {
	const char *path;        /* as in the tar (raw bytes, NUL-terminated) */
	const char *link_target; /* symlink target or hard link target path as in the tar; NULL otherwise */
	enum overlay_entry_type type;
	uint32_t mode;           /* permission bits including suid/sgid/sticky (07777) */
	uint64_t uid, gid;
	const char *uname, *gname; /* may be NULL */
	int64_t mtime;
	long mtime_nsec;
	uint64_t size;           /* bytes of data stored in the tar for this entry */
	uint64_t data_offset;    /* offset of that data in the layer's uncompressed stream */
	uint32_t devmajor, devminor;
	bool sparse;             /* GNU/pax sparse file: data_offset/size describe the packed data */
	size_t nxattrs;
	const struct overlay_xattr *xattrs;
	/* Added for sparse files (issue 3): the file's size as `tar -x` makes it, holes included
	 * (for a sparse entry the map's real size; otherwise equal to size). */
	uint64_t real_size;
};

struct overlay_tar_callbacks {
	/* Called for each entry, in tar order. Return <0 (with *err) to stop the walk. */
	int (*entry)(void *ctx, const struct overlay_tar_entry *e, struct strata_err **err);
	/* Called with the entry's data in order (regular files with size > 0); may be NULL, in which
	 * case data is skipped (seeking when the input allows). */
	int (*data)(void *ctx, const void *buf, size_t len, struct strata_err **err);
	/* Called after the last data chunk of each entry; may be NULL. */
	int (*entry_end)(void *ctx, struct strata_err **err);
	/* Added for sparse files (issue 3); may be NULL. When set, a sparse entry's stored data goes
	 * here instead of to data, in order, each chunk with its offset in the file (file_off; the
	 * bytes between chunks and after the last one up to real_size are holes, zeros) and its
	 * offset in the layer's uncompressed stream (stream_off). file_off never goes backwards and
	 * file_off + len never passes real_size (else the walk fails with EFORMAT). */
	int (*sparse_data)(void *ctx, uint64_t file_off, uint64_t stream_off, const void *buf, size_t len,
			   struct strata_err **err);
};

/* Walks the tar in the stream. The stream is left positioned after the end-of-archive blocks
 * (call overlay_stream_finish afterwards). A header libarchive cannot parse stops the walk with
 * an EFORMAT error naming the offset. */
int overlay_tar_walk(struct overlay_stream *st, const struct overlay_tar_callbacks *cb, void *ctx,
		     struct strata_err **err);

/* ------------------------------------------------------------------------------------------ */
/* Images: docker-archive (legacy and with blobs/), OCI layout (dir or tar), plain rootfs tar;
 * any archive possibly gzip/zstd-compressed as a whole. Detected by content. */

enum overlay_image_format {
	OVERLAY_FMT_DOCKER_ARCHIVE = 0,
	OVERLAY_FMT_OCI_DIR,
	OVERLAY_FMT_OCI_TAR,
	OVERLAY_FMT_ROOTFS,
};
const char *overlay_image_format_name(enum overlay_image_format f); /* "docker-archive", "oci-dir", "oci-tar", "rootfs-tar" */

struct overlay_select {
	const char *platform; /* "os/arch[/variant]" or NULL (→ only needed when a choice exists; then the host's) */
	const char *ref;      /* org.opencontainers.image.ref.name, or a docker RepoTag; NULL */
};

struct overlay_layer_info {
	const char *digest;     /* "sha256:<hex>" as the manifest names the blob; NULL when unknown (legacy/rootfs) */
	const char *diff_id;    /* "sha256:<hex>" from the config's rootfs.diff_ids; NULL without config */
	const char *media_type; /* from the manifest; NULL for docker-archive/rootfs */
	enum overlay_compression compression; /* detected by magic */
	uint64_t compressed_size; /* size of the blob as stored */
	struct overlay_source *blob; /* borrowed: the blob's stored bytes (compressed as `compression`) */
	const char *location;   /* borrowed, human-readable: "blobs/sha256/ab…" or "<id>/layer.tar" */
};

struct overlay_image;

/* Opens and identifies an image; reads manifests and config (verifying their digests), but not the
 * layers. For a compressed archive this decompresses it once to find its members and records the
 * access points on the returned sources. Errors name the input: "img.tar: not an image (…)",
 * "img.tar: several images, choose with --ref: a:1, b:2". Owned result. */
struct overlay_image *overlay_image_open(const char *path, const struct overlay_select *sel, struct strata_err **err);
void overlay_image_free(struct overlay_image *img);

enum overlay_image_format overlay_image_format(const struct overlay_image *img);
/* Image identity: the manifest digest for OCI and for docker archives that carry one (blobs/ form
 * with index.json); else the config digest; NULL for a rootfs tar. Borrowed. */
const char *overlay_image_digest(const struct overlay_image *img);
const char *overlay_image_config_digest(const struct overlay_image *img); /* NULL for rootfs */
/* Raw JSON bytes; NULL when absent. Borrowed. */
const char *overlay_image_manifest_json(const struct overlay_image *img, size_t *len);
const char *overlay_image_config_json(const struct overlay_image *img, size_t *len);
const char *overlay_image_ref(const struct overlay_image *img);      /* chosen ref/tag or NULL */
const char *overlay_image_platform(const struct overlay_image *img); /* "linux/amd64" from config/index, or NULL */
size_t overlay_image_layer_count(const struct overlay_image *img);
const struct overlay_layer_info *overlay_image_layer(const struct overlay_image *img, size_t i);
/* Compressed-outer-archive bytes read so far by overlay_image_open (for the summary). */
uint64_t overlay_image_scan_bytes(const struct overlay_image *img);

/* ------------------------------------------------------------------------------------------ */
/* Paths and the layer merge (OCI image-spec changesets). Pure, in memory, no I/O. */

/* Normalises a tar path: strips leading "/" and "./", collapses "//" and "." components, drops a
 * trailing "/". Root is "". Returns 0 and an owned *out; or 1 when the path is hostile (a ".."
 * component, a component over 255 bytes, a path over 4096 bytes) with *problem set to a static
 * description and *out NULL. A leading "/" is not hostile (tar strips it), *problem is NULL. */
int overlay_path_normalize(const char *raw, char **out, const char **problem);

enum overlay_merge_mode {
	OVERLAY_MERGE_OCI = 0, /* whiteouts and opaque markers apply to lower layers */
	OVERLAY_MERGE_LITERAL, /* one layer's own changeset: whiteout entries are ordinary files */
};

struct overlay_merge_entry {
	int64_t id;                   /* caller's id for the entry (the index's entry row) */
	const char *path;             /* normalised (see above); copied */
	enum overlay_entry_type type;
	const char *hardlink_target;  /* normalised target path for OVERLAY_T_HARDLINK; copied */
};

struct overlay_merge_node {
	uint64_t ino;        /* stable across views while the path shows the same object; root is 1;
			      * hard links share the ino of their target */
	uint64_t parent_ino; /* 1 for children of the root; 0 for the root itself */
	const char *name;    /* last component ("" for root) — borrowed during the visit */
	const char *path;    /* full normalised path — borrowed during the visit */
	int64_t entry_id;    /* the entry shown (for a hard link: the entry of the link target's data
			      * is target_entry_id; entry_id is the link's own entry); -1 for a
			      * synthesised directory */
	int64_t data_entry_id; /* entry whose data/attributes back a hard link (== entry_id otherwise) */
	enum overlay_entry_type type; /* never OVERLAY_T_HARDLINK: a hard link shows its target's type */
	uint32_t nlink;      /* directories: 2 + subdirectories; others: paths sharing the ino */
};

/* A problem met while merging: the entry is recorded but not placed. */
struct overlay_merge_problem {
	int64_t entry_id;
	const char *path;    /* borrowed */
	const char *message; /* borrowed, e.g. "parent is a symlink", "hard link target missing" */
};

struct overlay_merge;
struct overlay_merge *overlay_merge_new(enum overlay_merge_mode mode);
void overlay_merge_free(struct overlay_merge *m);
/* Starts the next layer (layers are applied bottom to top). */
void overlay_merge_begin_layer(struct overlay_merge *m);
/* Adds an entry of the current layer (duplicates in one layer: the last wins). */
void overlay_merge_add(struct overlay_merge *m, const struct overlay_merge_entry *e);
/* Applies the current layer: whiteouts and opaque markers first (against lower layers only), then
 * the entries in order. Problems are reported through cb (may be NULL). */
void overlay_merge_end_layer(struct overlay_merge *m,
			     void (*cb)(void *ctx, const struct overlay_merge_problem *p), void *ctx);
/* Visits every node of the current view, each directory before its children. Stops and
 * returns the callback's value when it returns non-zero. */
int overlay_merge_visit(struct overlay_merge *m, int (*cb)(void *ctx, const struct overlay_merge_node *n),
			void *ctx);
size_t overlay_merge_node_count(const struct overlay_merge *m);
/* Literal mode (one layer's own view): how a hard link whose target path is not in the layer is
 * shown. resolve(ctx, target, &data_entry_id, &type) says what the target path shows below the
 * layer (the caller's merged view; 0), or returns -1 when it shows nothing a link can name (the
 * link is then reported, as without a resolver). The link is placed as a file of its own backed by
 * that data entry; later links of the layer to the same target, or to the link, share its ino.
 * Set before end_layer; fn NULL removes it. ctx is borrowed. */
typedef int (*overlay_merge_resolve_fn)(void *ctx, const char *target, int64_t *data_entry_id,
					enum overlay_entry_type *type);
void overlay_merge_set_resolver(struct overlay_merge *m, overlay_merge_resolve_fn fn, void *ctx);

/* ------------------------------------------------------------------------------------------ */
/* Added for attestations (issue 9): signatures and attestations stored beside an image in an OCI
 * layout (directory or tar): OCI 1.1 referrers (manifests listed in index.json or a nested index
 * whose subject is the image manifest) and cosign's tag convention (index.json entries named
 * sha256-<hex>.sig / .att). Untrusted input: every blob is size-bounded and digest-verified; a
 * referrer that cannot be read whole is returned with its error rather than failing the image. */

struct overlay_attach_blob {
	char *media_type;       /* the layer descriptor's mediaType, owned, may be NULL */
	char *digest;           /* "sha256:<hex>", owned */
	char *annotations_json; /* the descriptor's annotations as compact JSON text, owned, or NULL */
	unsigned char *data;    /* the verified blob bytes (owned), NULL when error is set */
	size_t len;
	char *error;            /* why the blob could not be read (too large, digest mismatch), or NULL */
};

struct overlay_attachment {
	const char *found_by;   /* "referrer" (subject) or "tag" (sha256-<hex>.sig/.att); static */
	char *manifest_digest;  /* the artifact manifest's digest, owned */
	char *artifact_type;    /* artifactType, else config.mediaType, owned, may be NULL */
	char *ref_name;         /* org.opencontainers.image.ref.name of its index.json entry, or NULL */
	char *annotations_json; /* the manifest's annotations (compact JSON), owned, or NULL */
	struct overlay_attach_blob *blobs; /* owned, nblobs entries (the manifest's layers) */
	size_t nblobs;
	char *error;            /* why the manifest could not be read, or NULL */
};

/* Finds the attachments of img (opened from path with overlay_image_open) in its OCI layout.
 * Other formats have none (0 with *n = 0). For an OCI tar the archive's member table is read
 * again (tar headers only, through the layers' outer source and its access points). Owned *out
 * (overlay_attachments_free). -1 with *err only when the layout itself
 * cannot be read; a damaged attachment carries its own error. */
int overlay_image_attachments(const char *path, const struct overlay_image *img, struct overlay_attachment **out,
			      size_t *n, struct strata_err **err);
void overlay_attachments_free(struct overlay_attachment *a, size_t n);


/* ------------------------------------------------------------------------------------------ */
/* Added for the lazy zstd seekable copy (issue 2 benchmark). A zstd stream that is one large frame
 * cannot be resumed inside; the index pass only records that it needs a seekable copy (independent
 * frames of about span bytes, ending with a seek table in zstd's seekable format), which is built
 * the first time a reader needs random access into the stream. */

/* Random access to the zstd blob `blob` (whose own access points, as the index recorded them, are
 * blob_map: taken, freed with the source or on error) through its seekable copy at copy_path:
 * an existing copy is used when its seek table matches its size and blob_map->usize (else it is
 * removed and rebuilt); otherwise the copy is built from the blob (frames of span bytes, 0 → 4 MiB;
 * written as copy_path.tmp.PID.TID… and renamed), its sha256 checked against blob_sha256 and its
 * size against blob_map->usize before it is renamed into place. One build per copy_path per
 * process: concurrent callers wait for it. Returns an owned DECOMP source over the copy; or, when
 * the copy cannot be written (cache read-only or full; said once on stderr), one over the blob and
 * blob_map; or NULL with *err (EDIGEST, EFORMAT, ELIMIT, EIO) when the blob is not what the index
 * recorded or cannot be read, remembered for later callers in the process. */
struct overlay_source *overlay_zstd_seekable_open(struct overlay_source *blob, struct overlay_seekmap *blob_map,
						  const char *copy_path, uint64_t span, const unsigned char blob_sha256[32],
						  struct strata_err **err);
/* Number of seekable copies this process has built (for tests and diagnostics). */
unsigned long overlay_zstd_seekable_builds(void);

/* Added for the index pass (issue 2 benchmark): decodes st ahead of its reader on a thread of its
 * own (reading the source, decompressing, access points, both digests), handing the bytes over
 * through a ring of 4 MiB, so one layer's pass uses two cores. Call right after
 * overlay_stream_open, before any read; the other stream calls keep their meaning (one reader
 * thread). 0, or -1 with *err (the stream then decodes in the reader's thread as before). */
int overlay_stream_read_ahead(struct overlay_stream *st, struct strata_err **err);

/* Hashes n bytes at p, which the reader of st got from it (a tar entry's data, say), into file.
 * When they are bytes st lent in place and has not yet put into its own uncompressed digest, both
 * digests take them in one pass (overlay_sha256_update2); otherwise only file does. Either way
 * the stream's digest covers every byte once, in order. Reader thread only. */
void overlay_stream_hash_along(struct overlay_stream *st, struct overlay_sha256 *file, const void *p,
			       size_t n);

#endif
