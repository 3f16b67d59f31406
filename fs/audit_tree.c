/* fs/audit_tree.c — the reports under /.audit: every file of policy/'s report table, rendered the
 * first time it is looked at (so mounting stays fast however costly a report is) and then served
 * from memory (the index never changes while mounted). Report
 * names may hold one directory level ("findings/secrets.json"); directories are made as needed.
 * Node i has the reserved inode FS_META_AUDIT_BASE + i. */
#include "fs_int.h"

#include "../policy/policy.h"

#include <errno.h>
#include <string.h>

static uint64_t audit_mino(size_t i)
{
	return FS_META_AUDIT_BASE + (uint64_t)i;
}

static struct fs_audit_node *audit_node(struct fs_mount *m, uint64_t mino)
{
	if (mino < FS_META_AUDIT_BASE || mino - FS_META_AUDIT_BASE >= m->naudit)
		return NULL;
	return &m->audit[mino - FS_META_AUDIT_BASE];
}

static size_t audit_add(struct fs_mount *m, uint64_t parent, const char *name, bool dir)
{
	m->audit = xrealloc(m->audit, (m->naudit + 1) * sizeof(*m->audit));
	struct fs_audit_node *n = &m->audit[m->naudit];
	memset(n, 0, sizeof(*n));
	n->name = xstrdup(name);
	n->parent = parent;
	n->dir = dir;
	return m->naudit++;
}

/* The directory parent/name, made if absent. */
static uint64_t audit_dir(struct fs_mount *m, uint64_t parent, const char *name)
{
	for (size_t i = 0; i < m->naudit; i++)
		if (m->audit[i].dir && m->audit[i].parent == parent && !strcmp(m->audit[i].name, name))
			return audit_mino(i);
	return audit_mino(audit_add(m, parent, name, true));
}

int fs_audit_init(struct fs_mount *m, struct strata_err **err)
{
	(void)err;
	pthread_mutex_init(&m->audit_lock, NULL);
	m->audit_ready = true;
	for (size_t i = 0; i < policy_report_count(); i++) {
		const struct policy_report *r = policy_report_get(i);
		cleanup_free char *path = xstrdup(r->name);
		char *slash = strchr(path, '/');
		uint64_t parent = FS_META_AUDIT;
		const char *base = path;
		if (slash) {
			*slash = '\0';
			parent = audit_dir(m, FS_META_AUDIT, path);
			base = slash + 1;
		}
		size_t k = audit_add(m, parent, base, false);
		m->audit[k].report = r;
	}
	return 0;
}

/* Renders a report node on first use. A renderer that fails is logged once and the file stays
 * empty: the image itself stays readable. */
static void audit_render(struct fs_mount *m, struct fs_audit_node *n)
{
	pthread_mutex_lock(&m->audit_lock);
	if (!n->rendered) {
		const struct policy_report *r = n->report;
		cleanup_err struct strata_err *rerr = NULL;
		if (r->render(m->db, &n->data, &n->len, &rerr) < 0) {
			fprintf(m->log, "strata: %s: /.audit/%s: %s\n", m->image_name, r->name,
				rerr && rerr->msg ? rerr->msg : "cannot render");
			free(n->data);
			n->data = NULL;
			n->len = 0;
			n->failed = true;
		}
		n->rendered = true;
	}
	pthread_mutex_unlock(&m->audit_lock);
}

void fs_audit_fini(struct fs_mount *m)
{
	for (size_t i = 0; i < m->naudit; i++) {
		free(m->audit[i].name);
		free(m->audit[i].data);
	}
	free(m->audit);
	m->audit = NULL;
	m->naudit = 0;
	if (m->audit_ready)
		pthread_mutex_destroy(&m->audit_lock);
	m->audit_ready = false;
}

int fs_audit_getattr(struct fs_mount *m, uint64_t mino, struct stat *st)
{
	struct fs_audit_node *n = audit_node(m, mino);
	if (!n)
		return ENOENT;
	if (!n->dir)
		audit_render(m, n);
	if (n->dir)
		fs_meta_stat(m, mino, S_IFDIR | 0555, 2, 0, st);
	else
		fs_meta_stat(m, mino, S_IFREG | 0444, 1, n->len, st);
	return 0;
}

int fs_audit_lookup(struct fs_mount *m, uint64_t parent, const char *name, struct stat *st)
{
	if (parent != FS_META_AUDIT) {
		const struct fs_audit_node *p = audit_node(m, parent);
		if (!p)
			return ENOENT;
		if (!p->dir)
			return ENOTDIR;
	}
	for (size_t i = 0; i < m->naudit; i++)
		if (m->audit[i].parent == parent && !strcmp(m->audit[i].name, name))
			return fs_audit_getattr(m, audit_mino(i), st);
	return ENOENT;
}

int fs_audit_list(struct fs_mount *m, uint64_t parent, int (*add)(void *ctx, const char *name, const struct stat *st),
		  void *ctx)
{
	if (parent != FS_META_AUDIT) {
		const struct fs_audit_node *p = audit_node(m, parent);
		if (!p)
			return ENOENT;
		if (!p->dir)
			return ENOTDIR;
	}
	struct stat st;
	for (size_t i = 0; i < m->naudit; i++)
		if (m->audit[i].parent == parent && !fs_audit_getattr(m, audit_mino(i), &st))
			add(ctx, m->audit[i].name, &st);
	return 0;
}

ssize_t fs_audit_read(struct fs_mount *m, uint64_t mino, char *buf, size_t size, off_t off)
{
	struct fs_audit_node *n = audit_node(m, mino);
	if (!n)
		return -ENOENT;
	if (n->dir)
		return -EISDIR;
	audit_render(m, n);
	if (n->failed)
		return -EIO;
	if ((uint64_t)off >= n->len)
		return 0;
	size_t k = n->len - (size_t)off;
	if (k > size)
		k = size;
	memcpy(buf, n->data + off, k);
	return (ssize_t)k;
}
