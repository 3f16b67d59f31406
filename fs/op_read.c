/* fs/op_read.c — file data: open (read-only, keep_cache), read through the layer byte sources at
 * the offsets in the index (or from the reserved files), release, readlink. The file handle is
 * the entry id whose data is shown (a hard link's target), or minus the reserved inode.
 *
 * When the kernel supports it (FUSE_CAP_NO_OPEN_SUPPORT), open answers ENOSYS once and the kernel
 * stops sending OPEN and RELEASE for files (it keeps the page cache across opens, as keep_cache
 * did): half the requests of reading many small files. read then gets fh 0 (no entry id is 0:
 * ids are layer << 32 | seq with layer >= 1) and finds the handle from the inode itself; the
 * mount is read-only, so the kernel refuses write opens before they would reach open. */
#include "fs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

static bool fs_no_open; /* atomic: set once by init */

void fs_read_set_no_open(bool on)
{
	__atomic_store_n(&fs_no_open, on, __ATOMIC_RELEASE);
}

/* The file handle of regular file ino (see the top of the file) into *fh, or an errno. */
static int fs_file_handle(struct fs_mount *m, fuse_ino_t ino, int64_t *fh)
{
	struct stat st;
	struct index_node n;
	int rc = fs_do_getattr(m, ino, &st, &n);
	if (rc)
		return rc;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (!S_ISREG(st.st_mode))
		return EACCES;
	*fh = n.data_entry_id == -2 ? -(int64_t)fs_ino_index(ino) : n.data_entry_id;
	return 0;
}

/* Whether open flags only read (anything else gets EROFS). */
static bool open_reads_only(int flags)
{
	return (flags & O_ACCMODE) == O_RDONLY && !(flags & (O_TRUNC | O_APPEND | O_CREAT));
}

static int fs_do_open(struct fs_mount *m, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (!open_reads_only(fi->flags))
		return EROFS;
	int64_t fh = 0;
	int rc = fs_file_handle(m, ino, &fh);
	if (rc)
		return rc;
	fi->fh = (uint64_t)fh;
	fi->keep_cache = 1;
	return 0;
}

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (__atomic_load_n(&fs_no_open, __ATOMIC_ACQUIRE) && open_reads_only(fi->flags)) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	int rc = fs_do_open(fs_req_mount(req), ino, fi);
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_open(req, fi);
}

/* Fills buf with up to size bytes at off. Returns the length or -errno. */
static ssize_t fs_do_read(struct fs_mount *m, int64_t fh, char *buf, size_t size, off_t off)
{
	if (fh < 0)
		return fs_meta_read(m, (uint64_t)(-fh), buf, size, off);
	cleanup_err struct strata_err *err = NULL;
	ssize_t n = index_db_read(m->db, fh, buf, size, (uint64_t)off, &err);
	if (n < 0)
		return -fs_errno_of(m, fh, "read", err);
	return n;
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs_mount *m = fs_req_mount(req);
	int64_t fh = (int64_t)fi->fh;
	if (fh == 0) { /* the kernel did not open it (no-open mode) */
		/* An inode's handle never changes in a read-only mount: each worker thread keeps the
		 * last one it looked up, so the reads of one file after the first cost no query. */
		static _Thread_local struct {
			const struct fs_mount *m;
			fuse_ino_t ino;
			int64_t fh;
		} last;
		if (last.m == m && last.ino == ino) {
			fh = last.fh;
		} else {
			int rc = fs_file_handle(m, ino, &fh);
			if (rc) {
				fuse_reply_err(req, rc);
				return;
			}
			last.m = m;
			last.ino = ino;
			last.fh = fh;
		}
	}
	cleanup_free char *buf = xmalloc(size ? size : 1);
	ssize_t n = fs_do_read(m, fh, buf, size, off);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	fuse_reply_buf(req, buf, (size_t)n);
	/* A reader starting a file: push the next small files of its directory (prefetch.c). */
	if (off == 0 && n > 0 && fh > 0)
		fs_prefetch_kick(m, ino);
}

static int fs_do_readlink(struct fs_mount *m, fuse_ino_t ino, char **target)
{
	struct stat st;
	struct index_node n;
	int rc = fs_do_getattr(m, ino, &st, &n);
	if (rc)
		return rc;
	if (!S_ISLNK(st.st_mode))
		return EINVAL;
	cleanup_err struct strata_err *err = NULL;
	*target = index_db_readlink(m->db, n.data_entry_id, &err);
	if (!*target)
		return fs_errno_of(m, n.data_entry_id, "readlink", err);
	return 0;
}

void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	cleanup_free char *target = NULL;
	int rc = fs_do_readlink(fs_req_mount(req), ino, &target);
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_readlink(req, target);
}
