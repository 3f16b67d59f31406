/* fs/meta_tree.c — the reserved trees: /.audit (image.json, index.db), /.layers/N (layer N's own
 * changeset, index view L+N) and /.history/N (the merged view after N layers, index view N).
 * They sit at the image root under their own names unless the image has a path of that name
 * (the image wins), or all under /NAME/ with -o meta=NAME. The reports under /.audit besides
 * image.json and index.db are audit_tree.c's. Everything here is made at mount time
 * and never changes. */
#include "fs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

static const char *const meta_names[3] = {".audit", ".layers", ".history"};
static const uint64_t meta_inos[3] = {FS_META_AUDIT, FS_META_LAYERS, FS_META_HISTORY};

int fs_meta_init(struct fs_mount *m, struct strata_err **err)
{
	m->image_json = index_db_image_json(m->db, &m->image_json_len, err);
	if (!m->image_json)
		return strata_err_wrap(err, "image.json");
	/* The very file the reader validated and reads, not whatever the path names now. */
	m->index_fd = fcntl(index_db_fd(m->db), F_DUPFD_CLOEXEC, 3);
	if (m->index_fd < 0)
		return strata_err_sys(err, "dup the descriptor of %s", index_db_path(m->db));
	struct stat st;
	if (fstat(m->index_fd, &st) < 0)
		return strata_err_sys(err, "stat %s", index_db_path(m->db));
	m->index_size = (uint64_t)st.st_size;
	if (fs_audit_init(m, err) < 0)
		return -1;
	struct index_node n;
	int root_view = index_db_view_merged(m->db, m->nlayers);
	for (int i = 0; i < 3; i++) {
		const char *name = m->meta_name ? m->meta_name : meta_names[i];
		int rc = index_db_lookup(m->db, root_view, 1, name, &n, err);
		if (rc < 0)
			return -1;
		m->shadowed[i] = rc == 0;
		if (rc == 0)
			fprintf(m->log, "strata: %s: the image has /%s; the reserved tree is hidden (choose another "
					"name with -o meta=NAME)\n",
				m->image_name, name);
		if (m->meta_name)
			break;
	}
	return 0;
}

void fs_meta_fini(struct fs_mount *m)
{
	free(m->image_json);
	m->image_json = NULL;
	fs_audit_fini(m);
	if (m->index_fd >= 0)
		close(m->index_fd);
	m->index_fd = -1;
}

uint64_t fs_meta_root_name(const struct fs_mount *m, const char *name)
{
	if (m->meta_name)
		return !m->shadowed[0] && !strcmp(name, m->meta_name) ? FS_META_ROOT : 0;
	for (int i = 0; i < 3; i++)
		if (!m->shadowed[i] && !strcmp(name, meta_names[i]))
			return meta_inos[i];
	return 0;
}

void fs_meta_stat(const struct fs_mount *m, uint64_t mino, mode_t mode, nlink_t nlink, uint64_t size, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = fs_ino_make(FS_TAG_META, mino);
	st->st_mode = mode;
	st->st_nlink = nlink;
	st->st_size = (off_t)size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_mtim = st->st_atim = st->st_ctim = m->mounted_at;
}

int fs_meta_getattr(struct fs_mount *m, uint64_t mino, struct stat *st)
{
	switch (mino) {
	case FS_META_ROOT:
		fs_meta_stat(m, mino, S_IFDIR | 0555, 5, 0, st);
		return 0;
	case FS_META_AUDIT:
		fs_meta_stat(m, mino, S_IFDIR | 0555, 2, 0, st);
		return 0;
	case FS_META_LAYERS:
	case FS_META_HISTORY:
		fs_meta_stat(m, mino, S_IFDIR | 0555, 2 + (nlink_t)m->nlayers, 0, st);
		return 0;
	case FS_META_IMAGE_JSON:
		fs_meta_stat(m, mino, S_IFREG | 0444, 1, m->image_json_len, st);
		return 0;
	case FS_META_INDEX_DB:
		fs_meta_stat(m, mino, S_IFREG | 0444, 1, m->index_size, st);
		return 0;
	default:
		return fs_audit_getattr(m, mino, st);
	}
}

/* "N" with 1 <= N <= L, decimal without leading zeros; else 0. */
static int parse_layer(const struct fs_mount *m, const char *name)
{
	if (name[0] < '1' || name[0] > '9' || strlen(name) > 5)
		return 0;
	int n = 0;
	for (const char *p = name; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		n = n * 10 + (*p - '0');
	}
	return n <= m->nlayers ? n : 0;
}

/* The root of a view shown under tag. */
static int view_root_stat(struct fs_mount *m, unsigned tag, struct stat *st)
{
	cleanup_err struct strata_err *err = NULL;
	struct index_node n;
	if (index_db_getattr(m->db, fs_tag_view(m, tag), 1, &n, &err) < 0)
		return fs_errno_of(m, -1, "view root", err);
	fs_stat_from_node(m, tag, &n, st);
	return 0;
}

int fs_meta_lookup(struct fs_mount *m, uint64_t parent_mino, const char *name, struct stat *st)
{
	switch (parent_mino) {
	case FS_META_ROOT:
		for (int i = 0; i < 3; i++)
			if (!strcmp(name, meta_names[i]))
				return fs_meta_getattr(m, meta_inos[i], st);
		return ENOENT;
	case FS_META_AUDIT:
		if (!strcmp(name, "image.json"))
			return fs_meta_getattr(m, FS_META_IMAGE_JSON, st);
		if (!strcmp(name, "index.db"))
			return fs_meta_getattr(m, FS_META_INDEX_DB, st);
		return fs_audit_lookup(m, parent_mino, name, st);
	case FS_META_LAYERS:
	case FS_META_HISTORY: {
		int n = parse_layer(m, name);
		if (!n)
			return ENOENT;
		unsigned tag = parent_mino == FS_META_LAYERS ? (unsigned)(m->nlayers + n) : (unsigned)n;
		return view_root_stat(m, tag, st);
	}
	default:
		return fs_audit_lookup(m, parent_mino, name, st);
	}
}

int fs_meta_list(struct fs_mount *m, uint64_t mino, int (*add)(void *ctx, const char *name, const struct stat *st),
		 void *ctx)
{
	struct stat st;
	int rc;
	switch (mino) {
	case 0: /* the image root */
		if (m->hide_meta)
			return 0;
		if (m->meta_name) {
			if (!m->shadowed[0] && !fs_meta_getattr(m, FS_META_ROOT, &st))
				add(ctx, m->meta_name, &st);
			return 0;
		}
		for (int i = 0; i < 3; i++)
			if (!m->shadowed[i] && !fs_meta_getattr(m, meta_inos[i], &st))
				add(ctx, meta_names[i], &st);
		return 0;
	case FS_META_ROOT:
		for (int i = 0; i < 3; i++)
			if (!fs_meta_getattr(m, meta_inos[i], &st))
				add(ctx, meta_names[i], &st);
		return 0;
	case FS_META_AUDIT:
		fs_meta_getattr(m, FS_META_IMAGE_JSON, &st);
		add(ctx, "image.json", &st);
		fs_meta_getattr(m, FS_META_INDEX_DB, &st);
		add(ctx, "index.db", &st);
		return fs_audit_list(m, mino, add, ctx);
	case FS_META_LAYERS:
	case FS_META_HISTORY:
		for (int n = 1; n <= m->nlayers; n++) {
			unsigned tag = mino == FS_META_LAYERS ? (unsigned)(m->nlayers + n) : (unsigned)n;
			if ((rc = view_root_stat(m, tag, &st)))
				return rc;
			char name[16];
			snprintf(name, sizeof(name), "%d", n);
			add(ctx, name, &st);
		}
		return 0;
	default:
		return fs_audit_list(m, mino, add, ctx);
	}
}

ssize_t fs_meta_read(struct fs_mount *m, uint64_t mino, char *buf, size_t size, off_t off)
{
	if (off < 0)
		return -EINVAL;
	if (mino == FS_META_IMAGE_JSON) {
		if ((uint64_t)off >= m->image_json_len)
			return 0;
		size_t n = m->image_json_len - (size_t)off;
		if (n > size)
			n = size;
		memcpy(buf, m->image_json + off, n);
		return (ssize_t)n;
	}
	if (mino == FS_META_INDEX_DB) {
		size_t done = 0;
		while (done < size) {
			ssize_t r = pread(m->index_fd, buf + done, size - done, off + (off_t)done);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return -EIO;
			if (r == 0)
				break;
			done += (size_t)r;
		}
		return (ssize_t)done;
	}
	return fs_audit_read(m, mino, buf, size, off);
}
