/* audit/catalog_dpkg.c — the deb822 reader (dpkg status, status.d, DEP-5 copyright files), the
 * dpkg status cataloger and the package-set helpers every cataloger shares. All input is
 * untrusted bytes from an image: nothing here assumes NUL termination or well-formed fields. */
#include "audit_int.h"

#include <string.h>
#include <strings.h>

struct catalog_pkg *catalog_set_add(struct catalog_set *s, const char *type, const char *name)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	struct catalog_pkg *p = &s->v[s->n++];
	*p = (struct catalog_pkg){.type = xstrdup(type), .name = xstrdup(name)};
	return p;
}

void catalog_pkg_add_file(struct catalog_pkg *p, const char *path, const char *digest, const char *kind)
{
	if (p->nfiles == p->capfiles) {
		p->capfiles = p->capfiles ? 2 * p->capfiles : 16;
		p->files = xrealloc(p->files, p->capfiles * sizeof(*p->files));
		p->digests = xrealloc(p->digests, p->capfiles * sizeof(*p->digests));
		p->kinds = xrealloc(p->kinds, p->capfiles * sizeof(*p->kinds));
	}
	p->files[p->nfiles] = path[0] == '/' ? xstrdup(path) : xasprintf("/%s", path);
	p->digests[p->nfiles] = digest ? xstrdup(digest) : NULL;
	p->kinds[p->nfiles] = kind ? xstrdup(kind) : NULL;
	p->nfiles++;
}

void catalog_set_clear(struct catalog_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct catalog_pkg *p = &s->v[i];
		free(p->type), free(p->name), free(p->version), free(p->arch), free(p->source);
		free(p->source_version), free(p->path), free(p->license), free(p->key);
		free(p->vendor);
		for (size_t j = 0; j < p->nfiles; j++) {
			free(p->files[j]);
			free(p->digests[j]);
			free(p->kinds[j]);
		}
		free(p->files), free(p->digests), free(p->kinds);
	}
	free(s->v);
	*s = (struct catalog_set){0};
}

/* ---- deb822 ---------------------------------------------------------------------------- */

static bool is_blank_line(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

int catalog_deb822_parse(const char *buf, size_t len, catalog_stanza_cb cb, void *ctx)
{
	struct catalog_field *f = NULL;
	size_t n = 0, cap = 0;
	size_t off = 0;
	int rc = 0;
	if (!buf)
		buf = "", len = 0;
	for (;;) {
		bool at_end = off >= len;
		const char *line = buf + (at_end ? len : off);
		const char *nl = !at_end ? memchr(line, '\n', len - off) : NULL;
		size_t ll = at_end ? 0 : nl ? (size_t)(nl - line) : len - off;
		if (at_end || is_blank_line(line, ll)) {
			if (n && (rc = cb(ctx, f, n)) != 0)
				break;
			n = 0;
		} else if (line[0] == '#') {
			/* comment */
		} else if (line[0] == ' ' || line[0] == '\t') {
			if (n) /* continuation: extend the last field's value to the end of this line */
				f[n - 1].value_len = (size_t)(line + ll - f[n - 1].value);
		} else {
			const char *colon = memchr(line, ':', ll);
			if (colon && colon > line) {
				if (n == cap) {
					cap = cap ? 2 * cap : 16;
					f = xrealloc(f, cap * sizeof(*f));
				}
				const char *v = colon + 1;
				while (v < line + ll && (*v == ' ' || *v == '\t'))
					v++;
				f[n++] = (struct catalog_field){.name = line, .name_len = (size_t)(colon - line), .value = v,
								.value_len = (size_t)(line + ll - v)};
			}
		}
		if (at_end)
			break;
		off += ll + 1;
		if (off > len)
			off = len;
	}
	free(f);
	return rc;
}

char *catalog_field_get(const struct catalog_field *f, size_t n, const char *name, bool first_line)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < n; i++) {
		if (f[i].name_len != nl || strncasecmp(f[i].name, name, nl))
			continue;
		size_t len = f[i].value_len;
		if (first_line) {
			const char *e = memchr(f[i].value, '\n', len);
			if (e)
				len = (size_t)(e - f[i].value);
		}
		while (len && (f[i].value[len - 1] == ' ' || f[i].value[len - 1] == '\t' || f[i].value[len - 1] == '\r'))
			len--;
		return xstrndup(f[i].value, len);
	}
	return NULL;
}

/* ---- dpkg status ----------------------------------------------------------------------- */

struct dpkg_ctx {
	struct catalog_set *s;
	const char *path;
};

/* "installed" is the third word of Status (want, flag, status): dpkg-query's db:Status-Status. */
static bool dpkg_status_installed(const char *status)
{
	const char *p = status;
	for (int word = 0; word < 2; word++) {
		p = strchr(p, ' ');
		if (!p)
			return false;
		while (*p == ' ')
			p++;
	}
	return !strcmp(p, "installed");
}

static int dpkg_stanza(void *ctx, const struct catalog_field *f, size_t n)
{
	struct dpkg_ctx *d = ctx;
	cleanup_free char *name = catalog_field_get(f, n, "Package", true);
	cleanup_free char *status = catalog_field_get(f, n, "Status", true);
	if (!name || !name[0])
		return 0;
	/* status.d stanzas (distroless) have no Status field: they are installed by construction. */
	if (status && !dpkg_status_installed(status))
		return 0;
	struct catalog_pkg *p = catalog_set_add(d->s, "deb", name);
	p->version = catalog_field_get(f, n, "Version", true);
	p->arch = catalog_field_get(f, n, "Architecture", true);
	p->path = xstrdup(d->path);
	char *src = catalog_field_get(f, n, "Source", true);
	if (src && src[0]) {
		/* "Source: name (version)" when the source version differs. */
		char *paren = strchr(src, '(');
		if (paren) {
			char *close = strchr(paren, ')');
			if (close)
				p->source_version = xstrndup(paren + 1, (size_t)(close - paren - 1));
			while (paren > src && paren[-1] == ' ')
				paren--;
			*paren = '\0';
		}
		p->source = src;
	} else {
		free(src);
	}
	/* The Conffiles field: " /etc/x md5" lines, kept as the package's conffiles. */
	cleanup_free char *conf = catalog_field_get(f, n, "Conffiles", false);
	if (conf) {
		char *save = NULL;
		for (char *l = strtok_r(conf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			while (*l == ' ')
				l++;
			char *sp = strchr(l, ' ');
			if (*l != '/')
				continue;
			cleanup_free char *dig = NULL;
			if (sp) {
				*sp = '\0';
				char *m = sp + 1;
				char *e = strchr(m, ' ');
				if (e)
					*e = '\0';
				if (strlen(m) == 32)
					dig = xasprintf("md5:%s", m);
			}
			catalog_pkg_add_file(p, l, dig, "conffile");
		}
	}
	return 0;
}

int catalog_dpkg_status(struct catalog_set *s, const char *buf, size_t len, const char *path)
{
	struct dpkg_ctx d = {s, path};
	return catalog_deb822_parse(buf, len, dpkg_stanza, &d);
}
