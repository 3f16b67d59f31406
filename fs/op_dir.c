/* fs/op_dir.c — directories: opendir reads the whole listing once (names and attributes, from the
 * index or the reserved trees) into the handle; readdir and readdirplus serve it by position, so
 * offsets stay valid for the life of the handle and a listing costs one query. */
#include "fs_int.h"

#include <errno.h>
#include <string.h>

struct fs_dirent {
	char *name;
	struct stat st;
};

struct fs_dir {
	size_t n, cap;
	struct fs_dirent *e;
};

static void dir_free(struct fs_dir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->e[i].name);
	free(d->e);
	free(d);
}

static int dir_add(void *ctx, const char *name, const struct stat *st)
{
	struct fs_dir *d = ctx;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 32;
		d->e = xrealloc(d->e, d->cap * sizeof(*d->e));
	}
	d->e[d->n].name = xstrdup(name);
	d->e[d->n].st = *st;
	d->n++;
	return 0;
}

struct dir_fill {
	struct fs_mount *m;
	unsigned tag;
	struct fs_dir *d;
};

static int dir_add_node(void *ctx, const char *name, const struct index_node *n, int64_t cookie)
{
	(void)cookie;
	struct dir_fill *f = ctx;
	struct stat st;
	fs_stat_from_node(f->m, f->tag, n, &st);
	return dir_add(f->d, name, &st);
}

static int fs_do_opendir(struct fs_mount *m, fuse_ino_t ino, struct fs_dir **out)
{
	struct stat self;
	int rc = fs_do_getattr(m, ino, &self, NULL);
	if (rc)
		return rc;
	if (!S_ISDIR(self.st_mode))
		return ENOTDIR;
	struct fs_dir *d = xcalloc(1, sizeof(*d));
	dir_add(d, ".", &self);
	dir_add(d, "..", &self);
	unsigned tag = fs_ino_tag(ino);
	if (tag == FS_TAG_META) {
		rc = fs_meta_list(m, fs_ino_index(ino), dir_add, d);
	} else {
		cleanup_err struct strata_err *err = NULL;
		struct dir_fill f = {m, tag, d};
		if (index_db_readdir(m->db, fs_tag_view(m, tag), fs_ino_index(ino), 0, dir_add_node, &f, &err) < 0)
			rc = fs_errno_of(m, -1, "readdir", err);
		else if (ino == FUSE_ROOT_ID)
			rc = fs_meta_list(m, 0, dir_add, d);
	}
	if (rc) {
		dir_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_dir *d = NULL;
	int rc = fs_do_opendir(fs_req_mount(req), ino, &d);
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	if (fuse_reply_open(req, fi) != 0)
		dir_free(d);
}

static void fs_readdir_common(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
	const struct fs_dir *d = (const struct fs_dir *)(uintptr_t)fi->fh;
	cleanup_free char *buf = xmalloc(size ? size : 1);
	size_t pos = 0;
	for (size_t i = off < 0 ? 0 : (size_t)off; i < d->n; i++) {
		const struct fs_dirent *e = &d->e[i];
		size_t need;
		if (plus) {
			struct fuse_entry_param ep;
			fs_entry_param(&ep, &e->st);
			if (i < 2) /* "." and "..": no lookup reference is taken for them */
				ep.ino = 0;
			need = fuse_add_direntry_plus(req, buf + pos, size - pos, e->name, &ep, (off_t)(i + 1));
		} else {
			need = fuse_add_direntry(req, buf + pos, size - pos, e->name, &e->st, (off_t)(i + 1));
		}
		if (need > size - pos)
			break;
		pos += need;
	}
	fuse_reply_buf(req, buf, pos);
}

void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	fs_readdir_common(req, size, off, fi, false);
}

void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	fs_readdir_common(req, size, off, fi, true);
}

void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dir_free((struct fs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}
