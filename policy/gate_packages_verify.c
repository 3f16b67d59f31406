/* policy/gate_packages_verify.c — the `packages` gate's verify trigger (Anchore's): every file the
 * package databases give a digest (dpkg md5sums, rpm file digests (md5, sha1, sha256, sha384, sha512), apk's
 * Q1 sha1; conffiles skipped, as Anchore skips config files) is compared with what the image shows at that
 * path: absent → missing, other content → changed. md5 is computed by reading the file through the layer's
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
	const char *p = dirs;
	while (p && *p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		while (l && (p[l - 1] == ' ' || p[l - 1] == '/'))
			l--;
		if (l == 0 || (strncmp(path, p, l) == 0 && (path[l] == '/' || path[l] == '\0')))
			return true;
		p = e;
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
 * The last component is not followed. 0 (nd->found says) or -1 with *err. */
static int pkg_node_resolve(sqlite3 *c, int view, const char *path, struct pkg_node *nd,
			    struct strata_err **err)
{
	cleanup_pkgstmt sqlite3_stmt *q = NULL;
	if (pkg_prepare(
		c,
		"SELECT n.type, n.data_entry, coalesce(e.sha256, ''), coalesce(e.layer, 0), "
		"coalesce(e.link_target, '')"
		" FROM node n LEFT JOIN entry e ON e.id = n.data_entry WHERE n.view = ?1 AND n.path = ?2",
		&q, err) < 0)
		return -1;
	char cur[4096] = "";
	pkg_path_push(cur, sizeof cur, path);
	for (int hops = 0; hops <= 16; hops++) {
		char prefix[4096] = "";
		const char *p = cur;
		bool restarted = false;
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
			p += l;
			while (*p == '/')
				p++;
			sqlite3_reset(q);
			sqlite3_bind_int(q, 1, view);
			sqlite3_bind_text(q, 2, prefix, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(q) != SQLITE_ROW)
				return 0; /* nothing there: missing */
			const char *type = pkg_col(q, 0);
			if (!*p) {
				nd->found = true;
				snprintf(nd->type, sizeof nd->type, "%s", type);
				nd->data_entry = sqlite3_column_int64(q, 1);
				snprintf(nd->sha256, sizeof nd->sha256, "%s", pkg_col(q, 2));
				nd->layer = sqlite3_column_int(q, 3);
				return 0;
			}
			if (strcmp(type, "symlink") == 0) {
				/* Replace the prefix by its target and start over. */
				char next[4096] = "";
				const char *target = pkg_col(q, 4);
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
		}
		if (!restarted)
			return 0;
	}
	return 0; /* a symlink loop: missing */
}

int policy_packages_verify_eval(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	sqlite3 *c = policy_eval_db(ev);
	struct index_db *idx = policy_eval_index(ev);
	const char *only_pkgs = policy_rule_param(r, "only_packages");
	const char *only_dirs = policy_rule_param(r, "only_directories");
	const char *check = policy_rule_param(r, "check");
	if (!pkg_have_catalog(c))
		return 0;
	int view = index_db_view_merged(idx, index_db_layer_count(idx));
	/* Files with a digest (conffiles are the admin's to change, as Anchore skips config files),
	 * with what the image shows at that path. */
	cleanup_pkgstmt sqlite3_stmt *st = NULL;
	if (pkg_prepare(
		c,
		"SELECT p.name, f.path, f.digest, n.type, n.data_entry, e.sha256, e.layer FROM package_file f"
		" JOIN package p ON p.id = f.package"
		" LEFT JOIN node n ON n.view = ?1 AND n.path = ltrim(f.path, '/')"
		" LEFT JOIN entry e ON e.id = n.data_entry"
		" WHERE f.digest IS NOT NULL AND f.digest <> '' AND coalesce(f.kind, '') <> 'conffile'"
		" ORDER BY p.name, f.path",
		&st, err) < 0)
		return -1;
	sqlite3_bind_int(st, 1, view);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = pkg_col(st, 0), *path = pkg_col(st, 1), *digest = pkg_col(st, 2);
		if (only_pkgs && *only_pkgs && !policy_list_has(only_pkgs, name, true))
			continue;
		if (only_dirs && *only_dirs && !pkg_under_dirs(only_dirs, path))
			continue;
		const char *status = NULL;
		struct pkg_node nd = {0};
		if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
			nd.found = true;
			snprintf(nd.type, sizeof nd.type, "%s", pkg_col(st, 3));
			nd.data_entry = sqlite3_column_int64(st, 4);
			snprintf(nd.sha256, sizeof nd.sha256, "%s", pkg_col(st, 5));
			nd.layer = sqlite3_column_int(st, 6);
		} else if (pkg_node_resolve(c, view, path, &nd, err) < 0) {
			return -1;
		}
		if (!nd.found) {
			status = "missing";
		} else if (strcmp(nd.type, "file") == 0) {
			const char *colon = strchr(digest, ':');
			if (!colon)
				continue;
			size_t alg = (size_t)(colon - digest);
			const EVP_MD *hash = pkg_hash_named(digest, alg);
			if (hash) {
				char hex[EVP_MAX_MD_SIZE * 2 + 1];
				if (pkg_entry_digest(idx, nd.data_entry, hash, false, hex, err) < 0)
					return strata_err_wrap(err, "verify %s", path);
				if (strcasecmp(hex, colon + 1) != 0)
					status = "changed";
			} else if (alg == 3 && strncmp(digest, "apk", 3) == 0 &&
				   strncmp(colon + 1, "Q1", 2) == 0) {
				/* apk's Z: lines: "Q1" + base64 of the sha1 (case matters in base64). */
				char q1[EVP_MAX_MD_SIZE * 2 + 4];
				if (pkg_entry_digest(idx, nd.data_entry, EVP_sha1(), true, q1, err) < 0)
					return strata_err_wrap(err, "verify %s", path);
				if (strcmp(q1, colon + 1) != 0)
					status = "changed";
			} else if (alg == 6 && strncasecmp(digest, "sha256", 6) == 0) {
				if (nd.sha256[0] && strcasecmp(nd.sha256, colon + 1) != 0)
					status = "changed";
			}
		}
		int layer = nd.layer;
		if (!status || (check && *check && strcasecmp(check, status) != 0))
			continue;
		cleanup_free char *msg = xasprintf(
		    "VERIFY check against package db for package '%s' failed on entry '%s' with status: '%s'",
		    name, path, status);
		const struct policy_match m = {.message = msg,
					       .path = path,
					       .layer = layer,
					       .visible = strcmp(status, "missing") == 0 ? 0 : 1};
		policy_eval_fire(ev, r, &m);
	}
	if (rc != SQLITE_DONE)
		return strata_err_set(err, STRATA_EIO, "packages gate: %s", sqlite3_errmsg(c));
	return 0;
}
