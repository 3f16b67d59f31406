/* fs/op_xattr.c — extended attributes: the entry's xattrs from its tar header (security.capability
 * and the like), plus two virtual ones on every image path: user.strata.layer ("N sha256:…", the
 * layer the path comes from) and user.strata.sha256 (regular files: hex sha256 of the content),
 * and user.strata.package on paths a package owns (the catalog's final view, dpkg -S style:
 * every owner, sorted), user.strata.added and user.strata.findings (provenance). A request
 * computes only what it asks for, on the index's pooled connections; a name that is neither
 * ours nor stored answers ENODATA after one cached query. The reserved trees carry none. */
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

/* The virtual attributes, in listing order. */
enum xattr_virtual { XV_LAYER, XV_SHA256, XV_ADDED, XV_FINDINGS, XV_PACKAGE, XV_COUNT };
static const char *const xattr_virtual_names[XV_COUNT] = {
	[XV_LAYER] = XATTR_LAYER,       [XV_SHA256] = XATTR_SHA256,   [XV_ADDED] = XATTR_ADDED,
	[XV_FINDINGS] = XATTR_FINDINGS, [XV_PACKAGE] = XATTR_PACKAGE,
};
/* The largest value the kernel passes (XATTR_SIZE_MAX); a longer package list is cut at the last
 * whole name that fits. */
#define XATTR_VALUE_MAX 65536

/* The virtual attribute called name, XV_COUNT when name is not one. */
static enum xattr_virtual xattr_virtual_of(const char *name)
{
	if (strncmp(name, "user.strata.", 12))
		return XV_COUNT;
	for (int i = 0; i < XV_COUNT; i++)
		if (!strcmp(name, xattr_virtual_names[i]))
			return (enum xattr_virtual)i;
	return XV_COUNT;
}

/* Computes the one virtual value v of node n into b (nothing when it does not apply: *has false).
 * Only the queries that value needs. Returns 0 or an errno. */
static int xattr_virtual_value(struct fs_mount *m, const struct stat *st, const struct index_node *n,
			       enum xattr_virtual v, struct xbuf *b, bool *has)
{
	*has = false;
	cleanup_err struct strata_err *err = NULL;
	switch (v) {
	case XV_LAYER: {
		if (n->layer <= 0)
			return 0;
		char digest[80], val[128];
		if (index_db_layer_digest(m->db, n->layer, digest, sizeof(digest), &err) < 0)
			return fs_errno_of(m, n->data_entry_id, "layer digest", err);
		/* A layer without a digest (a plain rootfs tar) is just its number. */
		int len = snprintf(val, sizeof(val), digest[0] ? "%d %s" : "%d", n->layer, digest);
		xbuf_put(b, val, (size_t)len < sizeof(val) ? (size_t)len : sizeof(val) - 1);
		break;
	}
	case XV_SHA256: {
		if (!S_ISREG(st->st_mode))
			return 0;
		char sha[65];
		if (index_db_entry_sha256(m->db, n->data_entry_id, sha, &err) < 0)
			return fs_errno_of(m, n->data_entry_id, "sha256", err);
		if (!sha[0] && st->st_size == 0)
			memcpy(sha, SHA256_EMPTY, 65);
		if (!sha[0])
			return 0;
		xbuf_put(b, sha, 64);
		break;
	}
	case XV_ADDED:
	case XV_FINDINGS: {
		if (n->entry_id < 0)
			return 0;
		int a = 0;
		int64_t f = 0;
		if (index_db_provenance(m->db, n->entry_id, &a, &f, &err) < 0)
			return fs_errno_of(m, n->entry_id, "provenance", err);
		if (v == XV_ADDED && a <= 0)
			return 0;
		char val[32];
		int len = snprintf(val, sizeof(val), "%lld", v == XV_ADDED ? (long long)a : (long long)f);
		xbuf_put(b, val, (size_t)len);
		break;
	}
	case XV_PACKAGE: {
		if (n->entry_id < 0)
			return 0;
		cleanup_free char *names = NULL;
		if (audit_package_list(m->db, n->entry_id, &names, &err) < 0)
			return fs_errno_of(m, n->entry_id, "package", err);
		if (!names)
			return 0;
		size_t len = strlen(names);
		if (len > XATTR_VALUE_MAX) {
			len = XATTR_VALUE_MAX;
			while (len > 0 && !(names[len] == ',' && names[len + 1] == ' '))
				len--;
		}
		xbuf_put(b, names, len);
		break;
	}
	case XV_COUNT:
		return 0;
	}
	*has = true;
	return 0;
}

/* getxattr: the value of b->want into b. A virtual name computes that value alone; any other
 * name is looked up among the entry's stored xattrs (one cached query), so the names ls asks on
 * every file (security.selinux, system.posix_acl_access) answer ENODATA at once. Returns 0 or an
 * errno (ENODATA). */
static int fs_do_getxattr(struct fs_mount *m, fuse_ino_t ino, struct xbuf *b)
{
	struct stat st;
	struct index_node n;
	int rc = fs_do_getattr(m, ino, &st, &n);
	if (rc)
		return rc;
	if (n.entry_id == -2)
		return ENODATA; /* the reserved trees carry none */
	enum xattr_virtual v = xattr_virtual_of(b->want);
	if (v != XV_COUNT) {
		bool has;
		if ((rc = xattr_virtual_value(m, &st, &n, v, b, &has)))
			return rc;
		return has ? 0 : ENODATA;
	}
	if (n.data_entry_id >= 0) {
		cleanup_err struct strata_err *err = NULL;
		if (index_db_xattrs(m->db, n.data_entry_id, xattr_get_cb, b, &err) < 0)
			return fs_errno_of(m, n.data_entry_id, "xattrs", err);
	}
	return b->found ? 0 : ENODATA;
}

/* listxattr: the stored names, then the virtual names that apply. Names whose presence does not
 * depend on a value (layer, findings) are listed without computing it. Returns 0 or an errno. */
static int fs_do_listxattr(struct fs_mount *m, fuse_ino_t ino, struct xbuf *b)
{
	struct stat st;
	struct index_node n;
	int rc = fs_do_getattr(m, ino, &st, &n);
	if (rc)
		return rc;
	if (n.entry_id == -2)
		return 0;
	if (n.data_entry_id >= 0) {
		cleanup_err struct strata_err *err = NULL;
		if (index_db_xattrs(m->db, n.data_entry_id, xattr_list_cb, b, &err) < 0)
			return fs_errno_of(m, n.data_entry_id, "xattrs", err);
	}
	for (int i = 0; i < XV_COUNT; i++) {
		bool has = false;
		if (i == XV_LAYER) {
			has = n.layer > 0;
		} else if (i == XV_FINDINGS) {
			has = n.entry_id >= 0;
		} else {
			struct xbuf scratch = {0};
			rc = xattr_virtual_value(m, &st, &n, (enum xattr_virtual)i, &scratch, &has);
			free(scratch.p);
			if (rc)
				return rc;
		}
		if (has)
			xbuf_put(b, xattr_virtual_names[i], strlen(xattr_virtual_names[i]) + 1);
	}
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
	int rc = fs_do_getxattr(fs_req_mount(req), ino, &b);
	reply_xbuf(req, rc, &b, size);
	free(b.p);
}

void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct xbuf b = {0};
	int rc = fs_do_listxattr(fs_req_mount(req), ino, &b);
	reply_xbuf(req, rc, &b, size);
	free(b.p);
}
