/* fs/op_node.c — inodes: lookup, getattr, forget, statfs, and the error edge shared by all ops.
 *
 * Inode numbers (the invariant this driver keeps with overlay/merge.c and index/):
 *
 *   The merge engine gives every file object an index ino when it appears and keeps it while the
 *   same object stays at the same path; hard links share their target's ino; each view's root is
 *   ino 1. The index stores, per view, (parent ino, name) → node, so an index ino is only
 *   meaningful together with its view.
 *
 *   A FUSE inode is therefore the pair (tag, index ino) packed into 64 bits: the tag in the high
 *   16 bits, the index ino in the low 48. Tag 0 is the final merged view (index view L), so the
 *   mount's root, (0, 1), is exactly FUSE_ROOT_ID, as the kernel requires. Tags 1..L are
 *   /.history/N (index view N; /.history/L shows the same files as / but under other inodes, so
 *   the kernel never sees one directory with two parents, which it would refuse as a loop), tags
 *   L+1..2L are /.layers/N (index view L+N): for every tag t ≠ 0 the index view is t itself.
 *   Tag 0xffff holds the reserved trees themselves (/.audit, /.layers, /.history and their
 *   fixed children, numbered by enum fs_meta_ino).
 *
 *   Because a FUSE inode is computed, never allocated, the driver keeps no inode table: lookup
 *   counts need no bookkeeping (forget is a no-op), any inode the kernel hands back can be
 *   decoded at once, and readdirplus, lookup and getattr agree on every number by construction.
 *   stat's st_ino is the FUSE inode, so `stat -c %i` shows two hard links as one inode.
 *   Data never changes, so entries and attributes are cached by the kernel for a day and file
 *   pages are kept across opens (keep_cache).
 */
#include "fs_int.h"

#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

void fs_log_entry_error(struct fs_mount *m, int64_t entry_id, const char *what, const struct strata_err *e)
{
	char where[1024] = "";
	if (entry_id >= 0)
		index_db_entry_describe(m->db, entry_id, where, sizeof(where));
	cleanup_free char *line = xasprintf("strata: %s: %s%s%s: %s", m->image_name, where, where[0] ? ": " : "",
					    what, e ? e->msg : "unknown error");
	fs_log_line_once(m, line);
}

int fs_errno_of(struct fs_mount *m, int64_t entry_id, const char *what, const struct strata_err *e)
{
	if (e && e->code == STRATA_ENOTFOUND && entry_id < 0)
		return ENOENT;
	fs_log_entry_error(m, entry_id, what, e);
	return EIO;
}

void fs_stat_from_node(const struct fs_mount *m, unsigned tag, const struct index_node *n, struct stat *st)
{
	(void)m;
	memset(st, 0, sizeof(*st));
	st->st_ino = fs_ino_make(tag, n->ino);
	st->st_mode = n->mode;
	st->st_nlink = n->nlink;
	st->st_uid = (uid_t)n->uid;
	st->st_gid = (gid_t)n->gid;
	st->st_size = (off_t)n->size;
	st->st_rdev = makedev(n->devmajor, n->devminor);
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((n->size + 511) / 512);
	st->st_mtim.tv_sec = n->mtime;
	st->st_mtim.tv_nsec = n->mtime_nsec;
	st->st_atim = st->st_ctim = st->st_mtim;
}

int fs_do_getattr(struct fs_mount *m, fuse_ino_t ino, struct stat *st, struct index_node *node)
{
	unsigned tag = fs_ino_tag(ino);
	if (!fs_tag_valid(m, tag))
		return ENOENT;
	if (tag == FS_TAG_META) {
		if (node) {
			memset(node, 0, sizeof(*node));
			node->entry_id = node->data_entry_id = -2;
		}
		return fs_meta_getattr(m, fs_ino_index(ino), st);
	}
	cleanup_err struct strata_err *err = NULL;
	struct index_node n;
	if (index_db_getattr(m->db, fs_tag_view(m, tag), fs_ino_index(ino), &n, &err) < 0)
		return fs_errno_of(m, -1, "getattr", err);
	fs_stat_from_node(m, tag, &n, st);
	if (node)
		*node = n;
	return 0;
}

void fs_entry_param(struct fuse_entry_param *e, const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->ino = st->st_ino;
	e->attr = *st;
	e->attr_timeout = FS_TIMEOUT;
	e->entry_timeout = FS_TIMEOUT;
}

int fs_do_lookup(struct fs_mount *m, fuse_ino_t parent, const char *name, struct fuse_entry_param *e)
{
	unsigned tag = fs_ino_tag(parent);
	uint64_t pino = fs_ino_index(parent);
	struct stat st;
	if (!fs_tag_valid(m, tag))
		return ENOENT;
	if (tag == FS_TAG_META) {
		int rc = fs_meta_lookup(m, pino, name, &st);
		if (rc)
			return rc;
		fs_entry_param(e, &st);
		return 0;
	}
	cleanup_err struct strata_err *err = NULL;
	struct index_node n;
	int rc = index_db_lookup(m->db, fs_tag_view(m, tag), pino, name, &n, &err);
	if (rc < 0)
		return fs_errno_of(m, -1, "lookup", err);
	if (rc == 0) {
		fs_stat_from_node(m, tag, &n, &st);
		fs_entry_param(e, &st);
		return 0;
	}
	/* Absent from the image: perhaps a reserved name at the root (the image wins otherwise). */
	uint64_t mino = tag == 0 && pino == 1 ? fs_meta_root_name(m, name) : 0;
	if (!mino)
		return ENOENT;
	rc = fs_meta_getattr(m, mino, &st);
	if (rc)
		return rc;
	fs_entry_param(e, &st);
	return 0;
}

void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int rc = fs_do_lookup(fs_req_mount(req), parent, name, &e);
	if (rc == ENOENT) {
		/* A negative entry: the kernel remembers the absence as long as a presence. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = FS_TIMEOUT;
		fuse_reply_entry(req, &e);
	} else if (rc) {
		fuse_reply_err(req, rc);
	} else {
		fuse_reply_entry(req, &e);
	}
}

void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	(void)count;
	(void)forgets;
	fuse_reply_none(req);
}

void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	int rc = fs_do_getattr(fs_req_mount(req), ino, &st, NULL);
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, FS_TIMEOUT);
}

static int fs_do_statfs(struct fs_mount *m, struct statvfs *sv)
{
	cleanup_err struct strata_err *err = NULL;
	uint64_t nodes = 0, bytes = 0;
	if (index_db_totals(m->db, &nodes, &bytes, &err) < 0)
		return fs_errno_of(m, -1, "statfs", err);
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 4096;
	sv->f_frsize = 4096;
	sv->f_blocks = (bytes + 4095) / 4096;
	sv->f_files = nodes;
	sv->f_namemax = 255;
	sv->f_flag = ST_RDONLY;
	return 0;
}

void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	struct statvfs sv;
	int rc = fs_do_statfs(fs_req_mount(req), &sv);
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_statfs(req, &sv);
}
