/* fs/fs_int.h — internals shared by the files of fs/ (never included from outside).
 * The inode encoding is explained at the top of op_node.c. */
#ifndef STRATA_FS_INT_H
#define STRATA_FS_INT_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include "fs.h"

#include <pthread.h>
#include <sys/stat.h>

#define FS_TIMEOUT 86400.0
#define FS_TAG_SHIFT 48
#define FS_INO_MASK ((UINT64_C(1) << FS_TAG_SHIFT) - 1)
#define FS_TAG_META 0xffffu
#define FS_LOG_SEEN 512 /* distinct error lines remembered so each is logged once */

/* Inodes of the reserved trees (tag FS_TAG_META). */
enum fs_meta_ino {
	FS_META_ROOT = 1,  /* /NAME/ when -o meta=NAME */
	FS_META_AUDIT,     /* .audit/ */
	FS_META_LAYERS,    /* .layers/ */
	FS_META_HISTORY,   /* .history/ */
	FS_META_IMAGE_JSON,/* .audit/image.json */
	FS_META_INDEX_DB,  /* .audit/index.db */
	FS_META_AUDIT_BASE = 64, /* .audit/ reports and their directories: base + position (audit_tree.c) */
};

/* A generated file or directory under .audit/ (from policy/'s report table). */
struct fs_audit_node {
	char *name;      /* last component */
	uint64_t parent; /* reserved inode of the parent directory (FS_META_AUDIT or a subdirectory) */
	bool dir;
	bool rendered;   /* data/len valid (rendered on first use, under audit_lock) */
	bool failed;     /* the renderer failed (logged once); the file reads as empty */
	const void *report; /* the policy_report that renders it */
	char *data;
	size_t len;
};

struct fs_mount {
	struct index_db *db;
	int nlayers;
	const char *image_name;
	char *meta_name;        /* -o meta=NAME, or NULL: the three reserved names sit at / */
	bool hide_meta;
	bool shadowed[3];       /* the image has .audit/.layers/.history (or NAME) at its root */
	char *image_json;       /* generated once at mount */
	size_t image_json_len;
	int index_fd;           /* the index file, for .audit/index.db */
	struct fs_audit_node *audit; /* .audit/ reports, each rendered when first looked at */
	size_t naudit;
	pthread_mutex_t audit_lock;
	bool audit_ready;       /* audit_lock initialised */
	uint64_t index_size;
	struct timespec mounted_at;
	struct fs_dir_cache *dirs; /* recent directory listings (op_dir.c) */
	struct fs_prefetch *prefetch; /* the page-cache push worker (prefetch.c), or NULL */
	FILE *log;              /* stderr or -o log=PATH */
	pthread_mutex_t log_lock;
	uint64_t log_seen[FS_LOG_SEEN]; /* hashes of the lines written by fs_log_line_once (log_lock) */
	int ready_fd;
};

static inline fuse_ino_t fs_ino_make(unsigned tag, uint64_t ino) { return ((uint64_t)tag << FS_TAG_SHIFT) | ino; }
static inline unsigned fs_ino_tag(fuse_ino_t i) { return (unsigned)(i >> FS_TAG_SHIFT); }
static inline uint64_t fs_ino_index(fuse_ino_t i) { return i & FS_INO_MASK; }
/* The index view a tag shows: 0 → the final merged view; otherwise the view with that id. */
static inline int fs_tag_view(const struct fs_mount *m, unsigned tag) { return tag == 0 ? m->nlayers : (int)tag; }
static inline bool fs_tag_valid(const struct fs_mount *m, unsigned tag)
{
	return tag == FS_TAG_META || tag <= 2u * (unsigned)m->nlayers;
}

static inline struct fs_mount *fs_req_mount(fuse_req_t req) { return fuse_req_userdata(req); }

/* Writes line (a newline is added) to the mount's log unless the same line was written before
 * (fs_main.c): an error met by every request on a damaged file is logged once, not per request.
 * The memory of lines is lossy (FS_LOG_SEEN slots): a line may come again after many others. */
void fs_log_line_once(struct fs_mount *m, const char *line);
/* One log line, once (fs_log_line_once): "strata: IMAGE: <where>: <what>: <message>" (where:
 * from the entry when >= 0). */
void fs_log_entry_error(struct fs_mount *m, int64_t entry_id, const char *what, const struct strata_err *e);
/* errno for an error met while serving: ENOTFOUND → ENOENT (logged only when log_missing),
 * anything else → EIO, logged once. */
int fs_errno_of(struct fs_mount *m, int64_t entry_id, const char *what, const struct strata_err *e);

/* op_node.c */
void fs_stat_from_node(const struct fs_mount *m, unsigned tag, const struct index_node *n, struct stat *st);
/* Attributes of any inode (image or reserved). node (may be NULL) receives the index node for image
 * inodes (entry_id -2 for reserved ones). Returns 0 or an errno. */
int fs_do_getattr(struct fs_mount *m, fuse_ino_t ino, struct stat *st, struct index_node *node);
int fs_do_lookup(struct fs_mount *m, fuse_ino_t parent, const char *name, struct fuse_entry_param *e);
void fs_entry_param(struct fuse_entry_param *e, const struct stat *st);
void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_statfs(fuse_req_t req, fuse_ino_t ino);

/* audit_tree.c: the reports under .audit/ (reserved inodes from FS_META_AUDIT_BASE) */
int fs_audit_init(struct fs_mount *m, struct strata_err **err);
void fs_audit_fini(struct fs_mount *m);
int fs_audit_getattr(struct fs_mount *m, uint64_t mino, struct stat *st);
/* Looks name up in the directory parent (FS_META_AUDIT or a report subdirectory). */
int fs_audit_lookup(struct fs_mount *m, uint64_t parent, const char *name, struct stat *st);
int fs_audit_list(struct fs_mount *m, uint64_t parent, int (*add)(void *ctx, const char *name, const struct stat *st),
		  void *ctx);
ssize_t fs_audit_read(struct fs_mount *m, uint64_t mino, char *buf, size_t size, off_t off);
/* Shared by meta_tree.c and audit_tree.c */
void fs_meta_stat(const struct fs_mount *m, uint64_t mino, mode_t mode, nlink_t nlink, uint64_t size, struct stat *st);

/* meta_tree.c: the reserved trees */
int fs_meta_getattr(struct fs_mount *m, uint64_t mino, struct stat *st);
int fs_meta_lookup(struct fs_mount *m, uint64_t parent_mino, const char *name, struct stat *st);
/* The reserved inode for a name at the image root, or 0 when name is not reserved there. */
uint64_t fs_meta_root_name(const struct fs_mount *m, const char *name);
/* Calls add(ctx, name, st) for each child of a reserved directory; for the image root
 * (mino 0), the reserved names shown there. Returns 0 or an errno. */
int fs_meta_list(struct fs_mount *m, uint64_t mino, int (*add)(void *ctx, const char *name, const struct stat *st),
		 void *ctx);
ssize_t fs_meta_read(struct fs_mount *m, uint64_t mino, char *buf, size_t size, off_t off);
int fs_meta_init(struct fs_mount *m, struct strata_err **err);
void fs_meta_fini(struct fs_mount *m);

/* op_dir.c */
/* The shared cache of directory listings in m->dirs: created before serving, freed after. */
void fs_dir_init(struct fs_mount *m);
void fs_dir_fini(struct fs_mount *m);
/* Whether opendir answers ENOSYS, so the kernel stops sending OPENDIR and RELEASEDIR (set by init
 * when the kernel offers FUSE_CAP_NO_OPENDIR_SUPPORT); readdir then works from (inode, offset). */
void fs_dir_set_no_opendir(bool on);
void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
/* A regular file of a listing: its inode and size. */
struct fs_dir_file {
	fuse_ino_t ino;
	int64_t data; /* its data entry, for index_db_read */
	uint64_t size;
};
/* Finds regular file ino in a cached listing and copies into out (at most max) the regular files
 * that follow it there, of 1..max_size bytes, max_bytes together, skipping those a previous call
 * returned already (a per-listing cursor). Returns how many; 0 when ino is in no cached listing. */
size_t fs_dir_next_files(struct fs_mount *m, fuse_ino_t ino, struct fs_dir_file *out, size_t max,
			 uint64_t max_size, uint64_t max_bytes);

/* op_read.c */
void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_op_readlink(fuse_req_t req, fuse_ino_t ino);

/* prefetch.c: after a read at offset 0 of a file, a worker thread pushes the data of the next
 * small files of its directory into the kernel's page cache (fuse_lowlevel_notify_store). */
/* Starts the worker for m, storing pages through se. Failure only means no prefetch. */
void fs_prefetch_start(struct fs_mount *m, struct fuse_session *se);
/* Stops and joins the worker, dropping queued work; call before the session is destroyed, after
 * the request loop ended (frees what fs_prefetch_kick uses). */
void fs_prefetch_stop(struct fs_mount *m);
/* Stops and joins the worker but keeps its queue, so fs_prefetch_kick may still be called (it only
 * queues): for the end of the request loop, while requests are still answered. Idempotent. */
void fs_prefetch_halt(struct fs_mount *m);
/* Queues the small files after ino in its listing (call after replying; never blocks on I/O).
 * ino: a regular file of the image (not a reserved /.audit file: those have no listing here). */
void fs_prefetch_kick(struct fs_mount *m, fuse_ino_t ino);

/* op_xattr.c */
void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);

/* op_write.c: every operation that would write answers EROFS */
void fs_ops_set_readonly(struct fuse_lowlevel_ops *ops);

/* op_read.c: whether open answers ENOSYS to read-only opens, so the kernel stops sending OPEN and
 * RELEASE for files (set by init when the kernel offers FUSE_CAP_NO_OPEN_SUPPORT). */
void fs_read_set_no_open(bool on);

/* serve_init.c: answering INIT before the worker threads start, and the mount's read-ahead */
#define FS_READ_AHEAD_KB 1024u
/* Processes the kernel's requests on this thread until *done is set (by the init callback) or
 * the session ends. Returns 0, or -1 when receiving failed. */
int fs_serve_until_init(struct fuse_session *se, const bool *done);
/* Sets read_ahead_kb of the mount at mountpoint (its bdi in /sys/class/bdi) to kb, once INIT is
 * answered. Sends no request to the mount. False when it could not (no /sys, no privilege). */
bool fs_bdi_set_readahead(const char *mountpoint, unsigned kb);

/* Serves the session's requests until the kernel ends it or a signal handler marks it exited,
 * with up to max_threads worker threads of which one reads at a time (serve_loop.c). When a signal
 * ends it, on_exit(ctx) (may be NULL) runs first, on the calling thread, while the workers still
 * answer requests. 0, or -1 when no worker could be started. */
int fs_serve_loop(struct fuse_session *se, unsigned max_threads, void (*on_exit)(void *ctx), void *ctx);

#endif
