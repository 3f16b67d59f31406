/* audit/catalog_lang.c — catalogers for apk's installed database, Python distributions
 * (dist-info METADATA + RECORD, egg-info PKG-INFO) and npm packages (node_modules/…/package.json).
 * Input is untrusted: every field is bounded by the buffer, nothing is assumed NUL-terminated. */
#include "audit_int.h"

#include <ctype.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>

/* The directory of a path ("a/b/c" → "a/b"), owned. */
static char *path_dir(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? xstrndup(path, (size_t)(s - path)) : xstrdup("");
}

/* ---- apk ------------------------------------------------------------------------------- */

/* /lib/apk/db/installed: blocks separated by blank lines, lines "K:value". P name, V version,
 * A arch, L license, o origin, F directory, R file in the last F, Z checksum of the last R. */
int catalog_apk_installed(struct catalog_set *s, const char *buf, size_t len, const char *path)
{
	struct catalog_pkg *p = NULL;
	cleanup_free char *dir = NULL;
	size_t off = 0;
	while (off < len) {
		const char *line = buf + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - line) : len - off;
		off += ll + 1;
		if (ll && line[ll - 1] == '\r')
			ll--;
		if (ll == 0) {
			p = NULL;
			continue;
		}
		if (ll < 2 || line[1] != ':')
			continue;
		cleanup_free char *v = xstrndup(line + 2, ll - 2);
		char k = line[0];
		if (k == 'P') {
			p = NULL; /* "P:" alone (or a NUL first): no name, not a package (found by fuzzing) */
			if (!v[0])
				continue;
			p = catalog_set_add(s, "apk", v);
			p->path = xstrdup(path);
			free(dir);
			dir = NULL;
			continue;
		}
		if (!p)
			continue;
		switch (k) {
		case 'V': free(p->version), p->version = steal_pointer(&v); break;
		case 'A': free(p->arch), p->arch = steal_pointer(&v); break;
		case 'L': free(p->license), p->license = steal_pointer(&v); break;
		case 'o': free(p->source), p->source = steal_pointer(&v); break;
		case 'F': free(dir), dir = steal_pointer(&v); break;
		case 'R': {
			cleanup_free char *f = dir && dir[0] ? xasprintf("%s/%s", dir, v) : xstrdup(v);
			catalog_pkg_add_file(p, f, NULL, NULL);
			break;
		}
		case 'Z':
			if (p->nfiles && !p->digests[p->nfiles - 1])
				p->digests[p->nfiles - 1] = xasprintf("apk:%s", v);
			break;
		default: break;
		}
	}
	return 0;
}

/* ---- Python ---------------------------------------------------------------------------- */

/* PyPI trove classifiers → SPDX (the common ones). */
static const struct {
	const char *classifier, *spdx;
} trove[] = {
	{"MIT License", "MIT"},
	{"Apache Software License", "Apache-2.0"},
	{"BSD License", "BSD-3-Clause"},
	{"ISC License (ISCL)", "ISC"},
	{"Mozilla Public License 2.0 (MPL 2.0)", "MPL-2.0"},
	{"Python Software Foundation License", "PSF-2.0"},
	{"GNU General Public License v2 (GPLv2)", "GPL-2.0-only"},
	{"GNU General Public License v2 or later (GPLv2+)", "GPL-2.0-or-later"},
	{"GNU General Public License v3 (GPLv3)", "GPL-3.0-only"},
	{"GNU General Public License v3 or later (GPLv3+)", "GPL-3.0-or-later"},
	{"GNU Lesser General Public License v2 (LGPLv2)", "LGPL-2.0-only"},
	{"GNU Lesser General Public License v2 or later (LGPLv2+)", "LGPL-2.0-or-later"},
	{"GNU Lesser General Public License v3 (LGPLv3)", "LGPL-3.0-only"},
	{"GNU Lesser General Public License v3 or later (LGPLv3+)", "LGPL-3.0-or-later"},
	{"The Unlicense (Unlicense)", "Unlicense"},
	{"Zope Public License", "ZPL-2.1"},
};

struct py_ctx {
	struct catalog_set *s;
	const char *path;
};

static int py_stanza(void *ctx, const struct catalog_field *f, size_t n)
{
	struct py_ctx *c = ctx;
	cleanup_free char *name = catalog_field_get(f, n, "Name", true);
	if (!name || !name[0])
		return 1;
	struct catalog_pkg *p = catalog_set_add(c->s, "python", name);
	p->version = catalog_field_get(f, n, "Version", true);
	p->path = xstrdup(c->path);
	/* License-Expression (PEP 639) first, then a short License field, then classifiers. */
	char *lic = catalog_field_get(f, n, "License-Expression", true);
	if (!lic) {
		char *l = catalog_field_get(f, n, "License", false);
		if (l && l[0] && strlen(l) < 80 && !strchr(l, '\n') && strcasecmp(l, "UNKNOWN"))
			lic = l;
		else
			free(l);
	}
	for (size_t i = 0; !lic && i < n; i++) {
		if (f[i].name_len != 10 || strncasecmp(f[i].name, "Classifier", 10))
			continue;
		static const char pre[] = "License :: OSI Approved :: ";
		if (f[i].value_len <= sizeof(pre) - 1 || strncmp(f[i].value, pre, sizeof(pre) - 1))
			continue;
		const char *v = f[i].value + sizeof(pre) - 1;
		size_t vl = f[i].value_len - (sizeof(pre) - 1);
		while (vl && isspace((unsigned char)v[vl - 1]))
			vl--;
		for (size_t j = 0; j < sizeof(trove) / sizeof(trove[0]); j++)
			if (strlen(trove[j].classifier) == vl && !strncmp(trove[j].classifier, v, vl))
				lic = xstrdup(trove[j].spdx);
	}
	p->license = lic;
	return 1; /* the headers are the first stanza; the rest is the description */
}

int catalog_python_metadata(struct catalog_set *s, const char *buf, size_t len, const char *path)
{
	struct py_ctx c = {s, path};
	catalog_deb822_parse(buf, len, py_stanza, &c);
	return 0;
}

/* Normalises "a/b/../c" style paths relative to base into an owned absolute path, or NULL when
 * it climbs above the root. */
static char *path_join_norm(const char *base, const char *rel)
{
	cleanup_free char *joined = rel[0] == '/' ? xstrdup(rel) : xasprintf("%s/%s", base, rel);
	char *out = xmalloc(strlen(joined) + 2);
	size_t o = 0;
	char *save = NULL;
	for (char *seg = strtok_r(joined, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		if (!strcmp(seg, "."))
			continue;
		if (!strcmp(seg, "..")) {
			if (!o) {
				free(out);
				return NULL;
			}
			while (o && out[o - 1] != '/')
				o--;
			if (o)
				o--;
			continue;
		}
		out[o++] = '/';
		size_t l = strlen(seg);
		memcpy(out + o, seg, l);
		o += l;
	}
	out[o] = '\0';
	if (!o) {
		free(out);
		return NULL;
	}
	return out;
}

void catalog_python_record(struct catalog_pkg *p, const char *buf, size_t len, const char *path)
{
	cleanup_free char *distdir = path_dir(path);
	cleanup_free char *site = path_dir(distdir);
	size_t off = 0;
	while (off < len) {
		const char *line = buf + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - line) : len - off;
		off += ll + 1;
		if (ll && line[ll - 1] == '\r')
			ll--;
		if (!ll)
			continue;
		/* path,hash,size — a path containing a comma is quoted. */
		cleanup_free char *rel = NULL;
		const char *rest;
		if (line[0] == '"') {
			const char *q = memchr(line + 1, '"', ll - 1);
			if (!q)
				continue;
			rel = xstrndup(line + 1, (size_t)(q - line - 1));
			rest = q + 1 < line + ll && q[1] == ',' ? q + 2 : line + ll;
		} else {
			const char *comma = memchr(line, ',', ll);
			rel = xstrndup(line, comma ? (size_t)(comma - line) : ll);
			rest = comma ? comma + 1 : line + ll;
		}
		const char *hend = memchr(rest, ',', (size_t)(line + ll - rest));
		size_t hl = hend ? (size_t)(hend - rest) : (size_t)(line + ll - rest);
		cleanup_free char *digest = NULL;
		if (hl) {
			digest = xstrndup(rest, hl);
			char *eq = strchr(digest, '=');
			if (eq)
				*eq = ':';
		}
		cleanup_free char *abs = path_join_norm(site, rel);
		if (abs)
			catalog_pkg_add_file(p, abs, digest, NULL);
	}
}

/* ---- npm ------------------------------------------------------------------------------- */

static void json_decref_p(json_t **j) { if (*j) json_decref(*j); }
#define cleanup_json __attribute__((cleanup(json_decref_p)))

int catalog_npm_package(struct catalog_set *s, const char *buf, size_t len, const char *path)
{
	cleanup_json json_t *j = json_loadb(buf, len, 0, NULL);
	if (!json_is_object(j))
		return 0;
	const char *name = json_string_value(json_object_get(j, "name"));
	const char *version = json_string_value(json_object_get(j, "version"));
	if (!name || !name[0] || !version)
		return 0;
	struct catalog_pkg *p = catalog_set_add(s, "npm", name);
	p->version = xstrdup(version);
	p->path = xstrdup(path);
	json_t *lic = json_object_get(j, "license");
	if (json_is_string(lic)) {
		p->license = xstrdup(json_string_value(lic));
	} else if (json_is_object(lic) && json_is_string(json_object_get(lic, "type"))) {
		p->license = xstrdup(json_string_value(json_object_get(lic, "type")));
	} else if (json_is_array(json_object_get(j, "licenses"))) {
		/* The old form: [{"type": "MIT"}, …] means any of them. */
		json_t *arr = json_object_get(j, "licenses"), *it;
		size_t i;
		char *acc = NULL;
		json_array_foreach(arr, i, it)
		{
			const char *t = json_string_value(json_is_object(it) ? json_object_get(it, "type") : it);
			if (!t)
				continue;
			char *n2 = acc ? xasprintf("%s OR %s", acc, t) : xstrdup(t);
			free(acc);
			acc = n2;
		}
		p->license = acc;
	}
	return 0;
}
