/* fs/op_xattr.c — extended attributes: the entry's xattrs from its tar header (security.capability
 * and the like), plus two virtual ones on every image path: user.strata.layer ("N sha256:…", the
 * layer the path comes from) and user.strata.sha256 (regular files: hex sha256 of the content),
 * and user.strata.package on paths a package owns (the catalog's final view, dpkg -S style).
 * The reserved trees carry none. */
#include "fs_int.h"
#include "../audit/audit.h"

#include <errno.h>
#include <string.h>

#define XATTR_LAYER "user.strata.layer"
#define XATTR_SHA256 "user.strata.sha256"
#define XATTR_ADDED "user.strata.added"       /* layer that first held the path */
#define XATTR_FINDINGS "user.strata.findings" /* findings recorded on the path (0 without a table) */
#define XATTR_PACKAGE "user.strata.package"   /* packages owning the path (catalog, issue 4) */
/* sha256 of zero bytes: the builder records no digest for empty files. */
#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A growing buffer of xattr names or one value. */
struct xbuf {
	char *p;
	size_t n, cap;
	const char *want; /* getxattr: the name looked for */
	bool found;
};

static void xbuf_put(struct xbuf *b, const void *data, size_t len)
{
	if (b->n + len > b->cap) {
		b->cap = (b->n + len) * 2 + 64;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
}

static int xattr_list_cb(void *ctx, const char *name, const void *value, size_t len)
{
	(void)value;
	(void)len;
	xbuf_put(ctx, name, strlen(name) + 1);
	return 0;
}

static int xattr_get_cb(void *ctx, const char *name, const void *value, size_t len)
{
	struct xbuf *b = ctx;
	if (strcmp(name, b->want))
		return 0;
	xbuf_put(b, value, len);
	b->found = true;
	return 1;
}

/* The virtual values of a node; each output is "" when the attribute does not apply. */
static int virtual_values(struct fs_mount *m, const struct stat *st, const struct index_node *n, char *layer,
			  size_t layer_len, char sha[65])
{
	layer[0] = sha[0] = '\0';
	if (n->entry_id == -2)
		return 0;
	cleanup_err struct strata_err *err = NULL;
	if (n->layer > 0) {
		char digest[80];
		if (index_db_layer_digest(m->db, n->layer, digest, sizeof(digest), &err) < 0)
			return fs_errno_of(m, n->data_entry_id, "layer digest", err);
		snprintf(layer, layer_len, "%d %s", n->layer, digest);
	}
	if (S_ISREG(st->st_mode)) {
		if (index_db_entry_sha256(m->db, n->data_entry_id, sha, &err) < 0)
			return fs_errno_of(m, n->data_entry_id, "sha256", err);
		if (!sha[0] && st->st_size == 0)
			memcpy(sha, SHA256_EMPTY, 65);
	}
	return 0;
}

/* Collects names (want == NULL) or the value of want into b. Returns 0 or an errno (ENODATA). */
static int fs_do_xattr(struct fs_mount *m, fuse_ino_t ino, struct xbuf *b)
{
	struct stat st;
	struct index_node n;
	int rc = fs_do_getattr(m, ino, &st, &n);
	if (rc)
		return rc;
	char layer[128], sha[65], added[32] = "", findings[32] = "", package[512] = "";
	if ((rc = virtual_values(m, &st, &n, layer, sizeof(layer), sha)))
		return rc;
	if (n.entry_id >= 0) {
		cleanup_err struct strata_err *perr = NULL;
		int a = 0;
		int64_t f = 0;
		if (index_db_provenance(m->db, n.entry_id, &a, &f, &perr) < 0)
			return fs_errno_of(m, n.entry_id, "provenance", perr);
		if (a > 0)
			snprintf(added, sizeof(added), "%d", a);
		snprintf(findings, sizeof(findings), "%lld", (long long)f);
		if (audit_package_of(m->db, n.entry_id, package, sizeof(package), &perr) < 0)
			return fs_errno_of(m, n.entry_id, "package", perr);
	}
	if (b->want) {
		const char *v = !strcmp(b->want, XATTR_LAYER) ? layer : !strcmp(b->want, XATTR_SHA256) ? sha
			      : !strcmp(b->want, XATTR_ADDED) ? added : !strcmp(b->want, XATTR_FINDINGS) ? findings
			      : !strcmp(b->want, XATTR_PACKAGE) ? package : NULL;
		if (v) {
			if (!v[0])
				return ENODATA;
			xbuf_put(b, v, strlen(v));
			return 0;
		}
	}
	if (n.data_entry_id >= 0) {
		cleanup_err struct strata_err *err = NULL;
		if (index_db_xattrs(m->db, n.data_entry_id, b->want ? xattr_get_cb : xattr_list_cb, b, &err) < 0)
			return fs_errno_of(m, n.data_entry_id, "xattrs", err);
	}
	if (b->want)
		return b->found ? 0 : ENODATA;
	if (layer[0])
		xbuf_put(b, XATTR_LAYER, sizeof(XATTR_LAYER));
	if (sha[0])
		xbuf_put(b, XATTR_SHA256, sizeof(XATTR_SHA256));
	if (added[0])
		xbuf_put(b, XATTR_ADDED, sizeof(XATTR_ADDED));
	if (findings[0])
		xbuf_put(b, XATTR_FINDINGS, sizeof(XATTR_FINDINGS));
	if (package[0])
		xbuf_put(b, XATTR_PACKAGE, sizeof(XATTR_PACKAGE));
	return 0;
}

static void reply_xbuf(fuse_req_t req, int rc, const struct xbuf *b, size_t size)
{
	if (rc)
		fuse_reply_err(req, rc);
	else if (size == 0)
		fuse_reply_xattr(req, b->n);
	else if (b->n > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, b->p, b->n);
}

void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct xbuf b = {.want = name};
	int rc = fs_do_xattr(fs_req_mount(req), ino, &b);
	reply_xbuf(req, rc, &b, size);
	free(b.p);
}

void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct xbuf b = {0};
	int rc = fs_do_xattr(fs_req_mount(req), ino, &b);
	reply_xbuf(req, rc, &b, size);
	free(b.p);
}
