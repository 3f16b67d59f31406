/* audit/catalog_more.c — how the rpm, Java, Go and Ruby catalogers plug into the catalog: which
 * paths the capture scanner keeps for them (and with which bound), which captures of a view each
 * parser reads, their package keys (identity across views) and their purls:
 *   rpm     pkg:rpm/<os-release ID, else the vendor's first word, else "rpm">/<name>@<version>-<release>
 *           ?arch=…&epoch=…&distro=<ID>-<VERSION_ID>
 *   java    pkg:maven/<groupId>/<artifactId>@<version> (no namespace when no pom.properties)
 *   golang  pkg:golang/<module path>@<version> (no version for "(devel)")
 *   gem     pkg:gem/<name>@<version> */
#include "audit_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char *const rpmdb_paths[] = {
    "usr/lib/sysimage/rpm/rpmdb.sqlite", /* Fedora 36+, RHEL 9 (var/lib/rpm links here) */
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/Packages",
    "var/lib/rpm/Packages", /* Berkeley DB: RHEL/CentOS ≤ 8 */
    NULL,
};

static bool ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcasecmp(s + a - b, suf);
}

static bool is_gemspec(const char *path)
{
	const char *base = strrchr(path, '/');
	if (!base || !ends_with(base, ".gemspec"))
		return false;
	/* the parent directory is "specifications" */
	return (size_t)(base - path) >= 14 && !strncmp(base - 14, "specifications", 14) &&
	       (base - 14 == path || base[-15] == '/');
}

int catalog_more_wanted(const char *path, size_t *max)
{
	for (size_t i = 0; rpmdb_paths[i]; i++)
		if (!strcmp(path, rpmdb_paths[i])) {
			*max = CATALOG_MAX_RPMDB;
			return 1;
		}
	if (is_gemspec(path)) {
		*max = CATALOG_MAX_CAPTURE;
		return 1;
	}
	if (ends_with(path, ".jar") || ends_with(path, ".war") || ends_with(path, ".ear")) {
		*max = CATALOG_MAX_JAR;
		return 2;
	}
	*max = CATALOG_MAX_GOINFO;
	return 3;
}

void catalog_more_os(const struct vis_list *vl, struct catalog_set *s)
{
	/* One rpm database per view: the first present in the order above. */
	for (size_t i = 0; rpmdb_paths[i]; i++) {
		const struct vis *v = vis_find(vl, rpmdb_paths[i]);
		if (!v)
			continue;
		cleanup_free char *abs = xasprintf("/%s", v->path);
		cleanup_err struct strata_err *err = NULL;
		int n = ends_with(v->path, ".sqlite") ? catalog_rpm_sqlite(s, v->data, v->len, abs, &err)
						      : catalog_rpm_bdb(s, v->data, v->len, abs, &err);
		if (n >= 0)
			return;
	}
}

void catalog_more_lang(const struct vis_list *vl, struct catalog_set *s)
{
	for (size_t i = 0; i < vl->n; i++) {
		const struct vis *v = &vl->v[i];
		cleanup_free char *abs = xasprintf("/%s", v->path);
		if (v->len >= 14 && !memcmp(v->data, "\xff Go buildinf:", 14))
			catalog_go_buildinfo(s, v->data, v->len, abs);
		else if (ends_with(v->path, ".jar") || ends_with(v->path, ".war") ||
			 ends_with(v->path, ".ear"))
			catalog_java_summary(s, v->data, v->len, abs);
		else if (is_gemspec(v->path))
			catalog_gem_spec(s, v->data, v->len, abs);
	}
}

char *catalog_more_key(const struct catalog_pkg *p)
{
	/* gpg-pubkey entries (no arch) share one name: their version (the key id) tells them apart. */
	if (!strcmp(p->type, "rpm"))
		return p->arch ? xasprintf("rpm/%s:%s", p->name, p->arch)
			       : xasprintf("rpm/%s:-%s", p->name, p->version ? p->version : "");
	if (!strcmp(p->type, "java") || !strcmp(p->type, "golang") || !strcmp(p->type, "gem"))
		return xasprintf("%s/%s/%s", p->type, p->path,
				 p->name); /* path: the archive, binary or gemspec */
	return NULL;
}

/* ---- purl ---------------------------------------------------------------------------------- */

struct purl {
	char *s;
	size_t n;
};

static void purl_put(struct purl *u, const char *s, bool encode, bool keep_slash)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		u->s = xrealloc(u->s, u->n + 4);
		if (!encode || isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~' ||
		    (keep_slash && c == '/'))
			u->s[u->n++] = (char)c;
		else
			u->n += (size_t)snprintf(u->s + u->n, 4, "%%%02X", c);
		u->s[u->n] = '\0';
	}
}

/* "Red Hat, Inc." → "redhat"; "Fedora Project" → "fedora"; owned, or NULL. */
static char *vendor_namespace(const char *vendor)
{
	if (!vendor)
		return NULL;
	if (!strncasecmp(vendor, "Red Hat", 7))
		return xstrdup("redhat");
	char *o = xmalloc(strlen(vendor) + 1);
	size_t n = 0;
	for (const char *c = vendor; *c && !isspace((unsigned char)*c) && *c != ','; c++)
		if (isalnum((unsigned char)*c))
			o[n++] = (char)tolower((unsigned char)*c);
	o[n] = '\0';
	if (!n) {
		free(o);
		return NULL;
	}
	return o;
}

char *catalog_more_purl(const struct catalog_pkg *p, const char *distro_id, const char *version_id)
{
	struct purl u = {xstrdup("pkg:"), 4};
	const char *ver = p->version;
	cleanup_free char *epoch = NULL;
	if (!strcmp(p->type, "rpm")) {
		cleanup_free char *ns = distro_id ? xstrdup(distro_id) : vendor_namespace(p->vendor);
		purl_put(&u, "rpm/", false, false);
		purl_put(&u, ns ? ns : "rpm", true, false);
		purl_put(&u, "/", false, false);
		purl_put(&u, p->name, true, false);
		const char *colon = ver ? strchr(ver, ':') : NULL;
		if (colon) {
			epoch = xstrndup(ver, (size_t)(colon - ver));
			ver = colon + 1;
		}
	} else if (!strcmp(p->type, "java")) {
		purl_put(&u, "maven/", false, false);
		const char *colon = strchr(p->name, ':');
		if (colon) {
			cleanup_free char *group = xstrndup(p->name, (size_t)(colon - p->name));
			purl_put(&u, group, true, false);
			purl_put(&u, "/", false, false);
			purl_put(&u, colon + 1, true, false);
		} else {
			purl_put(&u, p->name, true, false);
		}
	} else if (!strcmp(p->type, "golang")) {
		purl_put(&u, "golang/", false, false);
		purl_put(&u, p->name, true, true); /* a module path's slashes are namespace separators */
	} else if (!strcmp(p->type, "gem")) {
		purl_put(&u, "gem/", false, false);
		purl_put(&u, p->name, true, false);
	} else {
		free(u.s);
		return NULL;
	}
	if (ver && ver[0] && strcmp(ver, "(devel)")) { /* a Go main module built from a work tree */
		purl_put(&u, "@", false, false);
		purl_put(&u, ver, true, false);
	}
	if (!strcmp(p->type, "rpm")) {
		char sep = '?';
		if (p->arch && p->arch[0]) {
			purl_put(&u, "?arch=", false, false);
			purl_put(&u, p->arch, true, false);
			sep = '&';
		}
		if (epoch) {
			purl_put(&u, sep == '?' ? "?epoch=" : "&epoch=", false, false);
			purl_put(&u, epoch, true, false);
			sep = '&';
		}
		if (distro_id && version_id) {
			cleanup_free char *d = xasprintf("%s-%s", distro_id, version_id);
			purl_put(&u, sep == '?' ? "?distro=" : "&distro=", false, false);
			purl_put(&u, d, true, false);
		}
	}
	return u.s;
}
