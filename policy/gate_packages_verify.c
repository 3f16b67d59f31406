/* policy/gate_packages_verify.c — package-file verification, shared by the `packages` gate's verify
 * trigger (Anchore's) and integrity.json (policy/report_integrity.c): pkg_verify_files() compares every
 * file the package databases give a digest (dpkg md5sums incl. distroless status.d, rpm file digests
 * (md5, sha1, sha256, sha384, sha512), apk's Q1 sha1; conffiles on request — the gate skips them, as
 * Anchore skips config files) with what the image shows at that path: absent → missing, other
 * content → changed. md5 is computed by reading the file through the layer's
 * byte sources (the index keeps only sha256); sha256 digests are compared with the index's. Paths are found
 * through symlinked parent directories (merged /usr), as dpkg --verify finds them. */
#include "policy_int.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- verify ---------------------------------------------------------------------------------- */

/* Digest (md5 or sha1) of an entry's content read through the byte sources, as lowercase hex
 * (out: at least 41 bytes) or, with b64, as apk writes it: "Q1" + base64 (out: 64 bytes). */
static int pkg_entry_digest(struct index_db *idx, int64_t entry, const EVP_MD *alg, bool b64, char *out,
			    struct strata_err **err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		abort();
	EVP_DigestInit_ex(md, alg, NULL);
	unsigned char buf[65536];
	uint64_t off = 0;
	for (;;) {
		ssize_t got = index_db_read(idx, entry, buf, sizeof buf, off, err);
		if (got < 0) {
			EVP_MD_CTX_free(md);
			return -1;
		}
		if (got == 0)
			break;
		EVP_DigestUpdate(md, buf, (size_t)got);
		off += (uint64_t)got;
	}
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	EVP_DigestFinal_ex(md, d, &dl);
	EVP_MD_CTX_free(md);
	if (b64) {
		out[0] = 'Q';
		out[1] = '1';
		EVP_EncodeBlock((unsigned char *)out + 2, d, (int)dl);
	} else {
		strata_hex(d, dl, out);
	}
	return 0;
}

/* The digest computed by reading the file for a package database's algorithm name (the part of
 * "md5:…" before the colon, len bytes): md5 (dpkg, old rpm), sha1, sha384, sha512 (rpm);
 * NULL for sha256 (the index has it) and anything else. */
static const EVP_MD *pkg_hash_named(const char *name, size_t len)
{
	if (len == 3 && strncasecmp(name, "md5", 3) == 0)
		return EVP_md5();
	if (len == 4 && strncasecmp(name, "sha1", 4) == 0)
		return EVP_sha1();
	if (len == 6 && strncasecmp(name, "sha384", 6) == 0)
		return EVP_sha384();
	if (len == 6 && strncasecmp(name, "sha512", 6) == 0)
		return EVP_sha512();
	return NULL;
}

/* True when path is under one of the comma-separated directories ("/usr,/var/lib"). */
static bool pkg_under_dirs(const char *dirs, const char *path)
{
	size_t l;
	for (const char *c = dirs, *p; (p = policy_list_next(&c, &l));) {
		while (l && p[l - 1] == '/')
			l--;
		if (l == 0 || (strncmp(path, p, l) == 0 && (path[l] == '/' || path[l] == '\0')))
			return true;
	}
	return false;
}

/* What the image shows at a package file's path. */
struct pkg_node {
	bool found;
	char type[16];
	int64_t data_entry;
	char sha256[80];
	int layer;
};

/* Appends the components of s (a relative path or symlink target) to the component stack in
 * out, resolving "." and ".." (never above the root). */
static void pkg_path_push(char *out, size_t cap, const char *s)
{
	while (*s) {
		while (*s == '/')
			s++;
		const char *e = strchr(s, '/');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		if (l == 0)
			break;
		if (l == 2 && s[0] == '.' && s[1] == '.') {
			char *slash = strrchr(out, '/');
			if (slash)
				*slash = '\0';
			else
				out[0] = '\0';
		} else if (!(l == 1 && s[0] == '.')) {
			size_t ol = strlen(out);
			if (ol + l + 2 < cap) {
				if (ol)
					out[ol++] = '/';
				memcpy(out + ol, s, l);
				out[ol + l] = '\0';
			}
		}
		s += l;
	}
}

/* Finds path (absolute) in view following symlinks in its parent directories (merged /usr:
 * /bin -> usr/bin), as dpkg --verify sees the file through the filesystem; at most 16 links.
 * The last component is not followed. Walks the node table by (view, parent, name), its primary
 * key, one component at a time. q is a statement this function prepared before (NULL the first
 * time; the caller finalizes it). 0 (nd->found says) or -1 with *err. */
static int pkg_node_resolve(sqlite3 *c, sqlite3_stmt **q, int view, const char *path, struct pkg_node *nd,
			    struct strata_err **err)
{
	if (!*q && pkg_prepare(c,
			       "SELECT n.type, n.data_entry, coalesce(e.sha256, ''), coalesce(e.layer, 0),"
			       " coalesce(e.link_target, ''), n.ino"
			       " FROM node n LEFT JOIN entry e ON e.id = n.data_entry"
			       " WHERE n.view = ?1 AND n.parent = ?2 AND n.name = ?3",
			       q, err) < 0)
		return -1;
	char cur[4096] = "";
	pkg_path_push(cur, sizeof cur, path);
	for (int hops = 0; hops <= 16; hops++) {
		char prefix[4096] = "";
		const char *p = cur;
		bool restarted = false;
		/* The root's ino: the node named "" under parent 0. */
		sqlite3_reset(*q);
		sqlite3_bind_int(*q, 1, view);
		sqlite3_bind_int64(*q, 2, 0);
		sqlite3_bind_text(*q, 3, "", 0, SQLITE_STATIC);
		if (sqlite3_step(*q) != SQLITE_ROW)
			return 0;
		int64_t dir = sqlite3_column_int64(*q, 5);
		while (*p) {
			const char *e = strchr(p, '/');
			size_t l = e ? (size_t)(e - p) : strlen(p);
			size_t pl = strlen(prefix);
			if (pl + l + 2 >= sizeof prefix)
				return 0;
			if (pl)
				prefix[pl++] = '/';
			memcpy(prefix + pl, p, l);
			prefix[pl + l] = '\0';
			sqlite3_reset(*q);
			sqlite3_bind_int(*q, 1, view);
			sqlite3_bind_int64(*q, 2, dir);
			sqlite3_bind_text(*q, 3, p, (int)l, SQLITE_TRANSIENT);
			p += l;
			while (*p == '/')
				p++;
			if (sqlite3_step(*q) != SQLITE_ROW)
				return 0; /* nothing there: missing */
			const char *type = pkg_col(*q, 0);
			if (!*p) {
				nd->found = true;
				snprintf(nd->type, sizeof nd->type, "%s", type);
				nd->data_entry = sqlite3_column_int64(*q, 1);
				snprintf(nd->sha256, sizeof nd->sha256, "%s", pkg_col(*q, 2));
				nd->layer = sqlite3_column_int(*q, 3);
				return 0;
			}
			if (strcmp(type, "symlink") == 0) {
				/* Replace the prefix by its target and start over. */
				char next[4096] = "";
				const char *target = pkg_col(*q, 4);
				if (*target != '/') {
					snprintf(next, sizeof next, "%s", prefix);
					char *slash = strrchr(next, '/');
					if (slash)
						*slash = '\0';
					else
						next[0] = '\0';
				}
				pkg_path_push(next, sizeof next, target);
				pkg_path_push(next, sizeof next, p);
				memcpy(cur, next, sizeof cur);
				restarted = true;
				break;
			}
			if (strcmp(type, "dir") != 0)
				return 0; /* a file where a directory should be: missing */
			dir = sqlite3_column_int64(*q, 5);
		}
		if (!restarted)
			return 0;
	}
	return 0; /* a symlink loop: missing */
}

/* The digest of what the image holds, in the package database's notation, compared with expected
 * ("md5:<hex>", "apk:Q1…", "sha256:<hex>"…): writes it to found (cap bytes) and returns 1 when it
 * differs, 0 when it matches or the algorithm is unknown (found ""), -1 with *err. */
static int pkg_compare(struct index_db *idx, const struct pkg_node *nd, const char *expected, char *found,
		       size_t cap, unsigned *reads, struct strata_err **err)
{
	found[0] = '\0';
	const char *colon = strchr(expected, ':');
	if (!colon)
		return 0;
	if (!nd->sha256[0]) {
		/* The pass did not hash it: a sparse file whose holes are over its budget (a problem row
		 * says so). Reading it here would hash up to its whole real size (a tar of a few KiB can
		 * claim terabytes), so it is reported as not matching, unread. */
		snprintf(found, cap, "not-hashed");
		return 1;
	}
	size_t alg = (size_t)(colon - expected);
	const EVP_MD *hash = pkg_hash_named(expected, alg);
	char dig[EVP_MAX_MD_SIZE * 2 + 4];
	if (hash) {
		if (pkg_entry_digest(idx, nd->data_entry, hash, false, dig, err) < 0)
			return -1;
		(*reads)++;
		snprintf(found, cap, "%.*s:%s", (int)alg, expected, dig);
		return strcasecmp(dig, colon + 1) != 0;
	}
	if (alg == 3 && strncmp(expected, "apk", 3) == 0 && strncmp(colon + 1, "Q1", 2) == 0) {
		/* apk's Z: lines: "Q1" + base64 of the sha1 (case matters in base64). */
		if (pkg_entry_digest(idx, nd->data_entry, EVP_sha1(), true, dig, err) < 0)
			return -1;
		(*reads)++;
		snprintf(found, cap, "apk:%s", dig);
		return strcmp(dig, colon + 1) != 0;
	}
	if (alg == 6 && strncasecmp(expected, "sha256", 6) == 0 && nd->sha256[0]) {
		snprintf(found, cap, "sha256:%s", nd->sha256);
		return strcasecmp(nd->sha256, colon + 1) != 0;
	}
	return 0;
}

int pkg_verify_files(struct index_db *idx, sqlite3 *c, const struct pkg_verify_opts *o, struct pkg_verify_stats *stats,
		     struct strata_err **err)
{
	struct pkg_verify_stats none = {0};
	if (!stats)
		stats = &none;
	memset(stats, 0, sizeof *stats);
	if (!pkg_have_catalog(c))
		return 0;
	int view = index_db_view_merged(idx, index_db_layer_count(idx));
	/* Files with a digest, with what the image shows at that path. */
	cleanup_sqlstmt sqlite3_stmt *st = NULL;
	if (pkg_prepare(
		c,
		"SELECT p.type, p.name, coalesce(p.version, ''), coalesce(p.layer, 0), f.path, f.digest,"
		" coalesce(f.kind, '') FROM package_file f JOIN package p ON p.id = f.package"
		" WHERE f.digest IS NOT NULL AND f.digest <> '' AND (?2 OR coalesce(f.kind, '') <> 'conffile')"
		" ORDER BY p.type, p.name, p.version, f.path",
		&st, err) < 0)
		return -1;
	sqlite3_bind_int(st, 2, o->conffiles ? 1 : 0);
	cleanup_sqlstmt sqlite3_stmt *q = NULL;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pkg_verify_item it = {
		    .type = pkg_col(st, 0),
		    .name = pkg_col(st, 1),
		    .version = pkg_col(st, 2),
		    .pkg_layer = sqlite3_column_int(st, 3),
		    .path = pkg_col(st, 4),
		    .expected = pkg_col(st, 5),
		    .conffile = strcmp(pkg_col(st, 6), "conffile") == 0,
		};
		if (o->want && !o->want(o->ud, it.name, it.path))
			continue;
		stats->files++;
		struct pkg_node nd = {0};
		if (pkg_node_resolve(c, &q, view, it.path, &nd, err) < 0)
			return -1;
		char found[EVP_MAX_MD_SIZE * 2 + 16] = "";
		if (!nd.found) {
			it.status = "missing";
		} else if (strcmp(nd.type, "file") == 0) {
			if (o->trust_install_layer && it.pkg_layer > 0 && nd.layer == it.pkg_layer) {
				stats->trusted++;
				continue;
			}
			int d = pkg_compare(idx, &nd, it.expected, found, sizeof found, &stats->reads, err);
			if (d < 0)
				return strata_err_wrap(err, "verify %s", it.path);
			if (d)
				it.status = "changed";
		}
		if (!it.status)
			continue;
		it.found = found;
		it.layer = nd.layer;
		if (it.status[0] == 'm')
			stats->missing++;
		else
			stats->changed++;
		if (o->emit(o->ud, &it, err) < 0)
			return -1;
	}
	if (rc != SQLITE_DONE)
		return strata_err_set(err, STRATA_EIO, "package verify: %s", sqlite3_errmsg(c));
	return 0;
}

/* ---- the gate's verify trigger ------------------------------------------------------------- */

struct verify_gate {
	struct policy_eval *ev;
	const struct policy_rule *r;
	const char *only_pkgs, *only_dirs, *check;
};

static bool verify_gate_want(void *ud, const char *name, const char *path)
{
	const struct verify_gate *g = ud;
	if (g->only_pkgs && *g->only_pkgs && !policy_list_has(g->only_pkgs, name, true))
		return false;
	return !(g->only_dirs && *g->only_dirs && !pkg_under_dirs(g->only_dirs, path));
}

static int verify_gate_emit(void *ud, const struct pkg_verify_item *it, struct strata_err **err)
{
	(void)err;
	const struct verify_gate *g = ud;
	if (g->check && *g->check && strcasecmp(g->check, it->status) != 0)
		return 0;
	cleanup_free char *msg = xasprintf(
	    "VERIFY check against package db for package '%s' failed on entry '%s' with status: '%s'", it->name,
	    it->path, it->status);
	const struct policy_match m = {.message = msg,
				       .path = it->path,
				       .layer = it->layer,
				       .visible = strcmp(it->status, "missing") == 0 ? 0 : 1};
	policy_eval_fire(g->ev, g->r, &m);
	return 0;
}

int policy_packages_verify_eval(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	struct verify_gate g = {.ev = ev,
				.r = r,
				.only_pkgs = policy_rule_param(r, "only_packages"),
				.only_dirs = policy_rule_param(r, "only_directories"),
				.check = policy_rule_param(r, "check")};
	const struct pkg_verify_opts o = {.want = verify_gate_want, .emit = verify_gate_emit, .ud = &g};
	return pkg_verify_files(policy_eval_index(ev), policy_eval_db(ev), &o, NULL, err);
}
