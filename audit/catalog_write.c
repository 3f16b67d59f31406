/* audit/catalog_write.c — stores the catalog: the os row (from os-release), one package row per
 * package of the final view with its purl, its files, its licenses (Debian copyright files, or
 * the declared field of apk/Python/npm packages) and the per-layer package changes (upgrades told
 * from downgrades by each package type's own version order, audit_version_cmp). */
#include "audit_int.h"

#include <ctype.h>
#include <sqlite3.h>
#include <string.h>

/* ---- os-release -------------------------------------------------------------------------- */

struct os_info {
	char *id, *version_id, *pretty_name, *codename, *name, *path;
	int layer;
};

static char *osr_value(const char *buf, size_t len, const char *key)
{
	size_t kl = strlen(key);
	size_t off = 0;
	while (off < len) {
		const char *line = buf + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - line) : len - off;
		off += ll + 1;
		if (ll <= kl || strncmp(line, key, kl) || line[kl] != '=')
			continue;
		const char *v = line + kl + 1;
		size_t vl = ll - kl - 1;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
			vl--;
		if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0])
			v++, vl -= 2;
		return xstrndup(v, vl);
	}
	return NULL;
}

static void os_read(const struct vis_list *final, struct os_info *os)
{
	const struct vis *v = vis_find(final, "etc/os-release");
	if (!v)
		v = vis_find(final, "usr/lib/os-release");
	if (!v)
		return;
	os->id = osr_value(v->data, v->len, "ID");
	os->version_id = osr_value(v->data, v->len, "VERSION_ID");
	os->pretty_name = osr_value(v->data, v->len, "PRETTY_NAME");
	os->codename = osr_value(v->data, v->len, "VERSION_CODENAME");
	os->name = osr_value(v->data, v->len, "NAME");
	os->path = xasprintf("/%s", v->path);
	os->layer = v->layer;
}

static void os_clear(struct os_info *os)
{
	free(os->id), free(os->version_id), free(os->pretty_name), free(os->codename), free(os->name);
	free(os->path);
}

/* ---- purl -------------------------------------------------------------------------------- */

/* Percent-encodes everything but unreserved characters. */
static void purl_enc(char **out, size_t *n, const char *s, bool keep_slash)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		*out = xrealloc(*out, *n + 4);
		if (isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~' || (keep_slash && c == '/'))
			(*out)[(*n)++] = (char)c;
		else
			*n += (size_t)sprintf(*out + *n, "%%%02X", c);
		(*out)[*n] = '\0';
	}
}

/* Appends s unencoded. */
static void purl_raw(char **out, size_t *n, const char *s)
{
	size_t l = strlen(s);
	*out = xrealloc(*out, *n + l + 1);
	memcpy(*out + *n, s, l + 1);
	*n += l;
}

static char *purl_make(const struct catalog_pkg *p, const struct os_info *os)
{
	char *more = catalog_more_purl(p, os->id, os->version_id);
	if (more)
		return more;
	char *o = xstrdup("pkg:");
	size_t n = 4;
	const char *distro_id = os->id ? os->id : NULL;
	if (!strcmp(p->type, "deb") || !strcmp(p->type, "apk")) {
		purl_enc(&o, &n, p->type, false);
		purl_raw(&o, &n, "/");
		purl_enc(&o, &n, distro_id ? distro_id : (!strcmp(p->type, "deb") ? "debian" : "alpine"), false);
		purl_raw(&o, &n, "/");
		purl_enc(&o, &n, p->name, false);
	} else if (!strcmp(p->type, "python")) {
		purl_raw(&o, &n, "pypi/");
		cleanup_free char *nm = xstrdup(p->name);
		for (char *c = nm; *c; c++)
			*c = *c == '_' || *c == '.' ? '-' : (char)tolower((unsigned char)*c);
		purl_enc(&o, &n, nm, false);
	} else {
		purl_raw(&o, &n, "npm/");
		if (p->name[0] == '@' && strchr(p->name, '/')) {
			const char *sl = strchr(p->name, '/');
			cleanup_free char *scope = xstrndup(p->name, (size_t)(sl - p->name));
			purl_enc(&o, &n, scope, false);
			purl_raw(&o, &n, "/");
			purl_enc(&o, &n, sl + 1, false);
		} else {
			purl_enc(&o, &n, p->name, false);
		}
	}
	if (p->version && p->version[0]) {
		purl_raw(&o, &n, "@");
		purl_enc(&o, &n, p->version, false);
	}
	if (!strcmp(p->type, "deb") || !strcmp(p->type, "apk")) {
		char sep = '?';
		if (p->arch && p->arch[0]) {
			purl_raw(&o, &n, sep == '?' ? "?arch=" : "&arch=");
			purl_enc(&o, &n, p->arch, false);
			sep = '&';
		}
		if (distro_id && os->version_id) {
			purl_raw(&o, &n, sep == '?' ? "?distro=" : "&distro=");
			cleanup_free char *d = xasprintf("%s-%s", distro_id, os->version_id);
			purl_enc(&o, &n, d, false);
		}
	}
	return o;
}

/* ---- writing ----------------------------------------------------------------------------- */

struct lic_ctx {
	sqlite3_stmt *st;
	int64_t pkg;
	const char *source;
	int rc;
};

static void lic_insert(struct lic_ctx *c, const char *spdx, const char *how, const char *raw)
{
	sqlite3_bind_int64(c->st, 1, c->pkg);
	sqlite3_bind_text(c->st, 2, spdx, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(c->st, 3, c->source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(c->st, 4, how, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(c->st, 5, raw, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(c->st) != SQLITE_DONE)
		c->rc = -1;
	sqlite3_reset(c->st);
}

static void lic_cb(void *ctx, const struct catalog_license *l, const char *method, const char *raw)
{
	cleanup_free char *how = xasprintf("%s:%s", method, l->how);
	lic_insert(ctx, l->spdx, how, raw);
}

#define CATALOG_MAX_RAW (64u << 10)

static int write_licenses(sqlite3_stmt *st, int64_t id, const struct catalog_pkg *p, const struct vis_list *final)
{
	struct lic_ctx c = {.st = st, .pkg = id};
	if (!strcmp(p->type, "deb")) {
		char path[600];
		snprintf(path, sizeof(path), "usr/share/doc/%s/copyright", p->name);
		const struct vis *v = vis_find(final, path);
		if (!v)
			return 0;
		cleanup_free char *src = xasprintf("/%s", path);
		c.source = src;
		if (catalog_copyright_parse(v->data, v->len, lic_cb, &c) == 0) {
			cleanup_free char *ref = xasprintf("LicenseRef-%s-copyright", p->name);
			for (char *q = ref + 11; *q; q++)
				if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-')
					*q = '-';
			cleanup_free char *raw = xstrndup(v->data, v->len < CATALOG_MAX_RAW ? v->len : CATALOG_MAX_RAW);
			lic_insert(&c, ref, "none:unmatched", raw);
		}
		return c.rc;
	}
	if (!p->license || !p->license[0])
		return 0;
	c.source = p->path;
	struct catalog_license l = {0};
	catalog_license_normalize(p->license, &l);
	cleanup_free char *how = xasprintf("field:%s", l.how);
	lic_insert(&c, l.spdx, how, p->license);
	free(l.spdx);
	return c.rc;
}

static int write_changes(sqlite3 *db, const struct catalog_set *sets, int L)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO package_change(layer, type, name, change, old_version, new_version)"
				   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc = 0;
	for (int v = 1; v <= L && !rc; v++) {
		const struct catalog_set *a = &sets[v - 1], *b = &sets[v];
		size_t i = 0, j = 0;
		while ((i < a->n || j < b->n) && !rc) {
			int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i].key, b->v[j].key);
			const struct catalog_pkg *old = c <= 0 ? &a->v[i] : NULL, *new = c >= 0 ? &b->v[j] : NULL;
			const char *change = NULL;
			if (!new)
				change = "removed";
			else if (!old)
				change = "added";
			else if (!old->version || !new->version || strcmp(old->version, new->version))
				/* Spellings of one version ("1.0" and "1.00") count as upgraded. */
				change = audit_version_cmp(new->type, old->version, new->version) > 0 ? "downgraded"
												     : "upgraded";
			if (change) {
				const struct catalog_pkg *p = new ? new : old;
				sqlite3_bind_int(st, 1, v);
				sqlite3_bind_text(st, 2, p->type, -1, SQLITE_STATIC);
				sqlite3_bind_text(st, 3, p->name, -1, SQLITE_STATIC);
				sqlite3_bind_text(st, 4, change, -1, SQLITE_STATIC);
				sqlite3_bind_text(st, 5, old ? old->version : NULL, -1, SQLITE_STATIC);
				sqlite3_bind_text(st, 6, new ? new->version : NULL, -1, SQLITE_STATIC);
				if (sqlite3_step(st) != SQLITE_DONE)
					rc = -1;
				sqlite3_reset(st);
			}
			i += c <= 0;
			j += c >= 0;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

int catalog_write(void *sqlite_db, const struct catalog_set *sets, int L, const struct vis_list *final,
		  struct strata_err **err)
{
	sqlite3 *db = sqlite_db;
	struct os_info os = {0};
	os_read(final, &os);
	sqlite3_stmt *sp = NULL, *sf = NULL, *sl = NULL, *so = NULL;
	int rc = -1;
	if (sqlite3_prepare_v2(db, "INSERT INTO package(type, name, version, arch, source, source_version, layer, path,"
				   " purl, license_declared) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
			       -1, &sp, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO package_file(package, path, digest, kind) VALUES (?1, ?2, ?3, ?4)", -1,
			       &sf, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO license(package, spdx, source_path, how, raw) VALUES (?1, ?2, ?3, ?4, ?5)",
			       -1, &sl, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO os(id, version_id, pretty_name, version_codename, name, path, layer)"
				   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &so, NULL) != SQLITE_OK)
		goto out;
	if (os.path) {
		sqlite3_bind_text(so, 1, os.id, -1, SQLITE_STATIC);
		sqlite3_bind_text(so, 2, os.version_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(so, 3, os.pretty_name, -1, SQLITE_STATIC);
		sqlite3_bind_text(so, 4, os.codename, -1, SQLITE_STATIC);
		sqlite3_bind_text(so, 5, os.name, -1, SQLITE_STATIC);
		sqlite3_bind_text(so, 6, os.path, -1, SQLITE_STATIC);
		sqlite3_bind_int(so, 7, os.layer);
		if (sqlite3_step(so) != SQLITE_DONE)
			goto out;
	}
	const struct catalog_set *s = &sets[L];
	for (size_t i = 0; i < s->n; i++) {
		const struct catalog_pkg *p = &s->v[i];
		cleanup_free char *purl = purl_make(p, &os);
		sqlite3_bind_text(sp, 1, p->type, -1, SQLITE_STATIC);
		sqlite3_bind_text(sp, 2, p->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(sp, 3, p->version, -1, SQLITE_STATIC);
		sqlite3_bind_text(sp, 4, p->arch, -1, SQLITE_STATIC);
		sqlite3_bind_text(sp, 5, p->source, -1, SQLITE_STATIC);
		sqlite3_bind_text(sp, 6, p->source_version, -1, SQLITE_STATIC);
		sqlite3_bind_int(sp, 7, p->layer);
		sqlite3_bind_text(sp, 8, p->path, -1, SQLITE_STATIC);
		sqlite3_bind_text(sp, 9, purl, -1, SQLITE_STATIC);
		sqlite3_bind_text(sp, 10, p->license, -1, SQLITE_STATIC);
		if (sqlite3_step(sp) != SQLITE_DONE)
			goto out;
		sqlite3_reset(sp);
		int64_t id = sqlite3_last_insert_rowid(db);
		for (size_t j = 0; j < p->nfiles; j++) {
			sqlite3_bind_int64(sf, 1, id);
			sqlite3_bind_text(sf, 2, p->files[j], -1, SQLITE_STATIC);
			sqlite3_bind_text(sf, 3, p->digests[j], -1, SQLITE_STATIC);
			sqlite3_bind_text(sf, 4, p->kinds[j], -1, SQLITE_STATIC);
			if (sqlite3_step(sf) != SQLITE_DONE)
				goto out;
			sqlite3_reset(sf);
		}
		if (write_licenses(sl, id, p, final) < 0)
			goto out;
	}
	if (write_changes(db, sets, L) < 0)
		goto out;
	char *msg = NULL;
	if (sqlite3_exec(db, "CREATE INDEX package_file_path ON package_file(path);"
			     "CREATE INDEX package_file_package ON package_file(package);"
			     "CREATE INDEX license_package ON license(package);", NULL, NULL, &msg) != SQLITE_OK) {
		sqlite3_free(msg);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		strata_err_set(err, STRATA_EIO, "catalog: writing: %s", sqlite3_errmsg(db));
	sqlite3_finalize(sp);
	sqlite3_finalize(sf);
	sqlite3_finalize(sl);
	sqlite3_finalize(so);
	os_clear(&os);
	return rc;
}
