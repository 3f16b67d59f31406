/* audit/catalog_license.c — licenses of Debian packages from /usr/share/doc/PKG/copyright.
 *
 * Machine-readable files (DEP-5: the first stanza has a Format field naming copyright-format):
 * the first line (synopsis) of every License field of the header and of the Files stanzas,
 * each distinct one normalised (audit/catalog_spdx.c). Stand-alone License stanzas only carry
 * the text of a name already used, so they add nothing.
 * Free text: every reference to /usr/share/common-licenses/NAME; a bare GPL/LGPL/GFDL takes the
 * version the nearby text states ("version 2"), and "or (at your option) any later version"
 * nearby makes it -or-later. A file with neither is reported by the caller as a LicenseRef. */
#include "audit_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

struct dep5_ctx {
	bool first;
	bool is_dep5;
	char **seen;
	size_t nseen;
	size_t found;
	catalog_license_cb cb;
	void *cb_ctx;
};

static int dep5_first_stanza(void *ctx, const struct catalog_field *f, size_t n)
{
	struct dep5_ctx *d = ctx;
	cleanup_free char *fmt = catalog_field_get(f, n, "Format", true);
	if (!fmt)
		fmt = catalog_field_get(f, n, "Format-Specification", true);
	d->is_dep5 = fmt && (strcasestr(fmt, "copyright-format") || strcasestr(fmt, "dep5") ||
			     strcasestr(fmt, "dep-5"));
	return 1; /* only the first stanza */
}

bool catalog_copyright_is_dep5(const char *buf, size_t len)
{
	struct dep5_ctx d = {0};
	catalog_deb822_parse(buf, len, dep5_first_stanza, &d);
	return d.is_dep5;
}

static int dep5_stanza(void *ctx, const struct catalog_field *f, size_t n)
{
	struct dep5_ctx *d = ctx;
	bool header = d->first;
	d->first = false;
	cleanup_free char *files = catalog_field_get(f, n, "Files", true);
	if (!header && !files)
		return 0;
	cleanup_free char *lic = catalog_field_get(f, n, "License", true);
	if (!lic || !lic[0])
		return 0;
	for (size_t i = 0; i < d->nseen; i++)
		if (!strcmp(d->seen[i], lic))
			return 0;
	d->seen = xrealloc(d->seen, (d->nseen + 1) * sizeof(*d->seen));
	d->seen[d->nseen++] = xstrdup(lic);
	return 0;
}

/* Case-insensitive search for needle within [from, to). */
static bool window_has(const char *from, const char *to, const char *needle)
{
	size_t nl = strlen(needle);
	for (const char *p = from; p + nl <= to; p++)
		if (!strncasecmp(p, needle, nl))
			return true;
	return false;
}

/* "version N[.M]" within [from, to) into ver, or false. */
static bool window_version(const char *from, const char *to, char *ver, size_t vsz)
{
	for (const char *p = from; p + 9 < to; p++) {
		if (strncasecmp(p, "version ", 8) || !isdigit((unsigned char)p[8]))
			continue;
		size_t i = 0;
		for (const char *q = p + 8; q < to && (isdigit((unsigned char)*q) || *q == '.') && i + 1 < vsz; q++)
			ver[i++] = *q;
		while (i && ver[i - 1] == '.')
			i--;
		ver[i] = '\0';
		return i > 0;
	}
	return false;
}

static void copyright_free_text(const char *buf, size_t len, struct dep5_ctx *d)
{
	static const char ref[] = "/usr/share/common-licenses/";
	const size_t rl = sizeof(ref) - 1;
	const char *end = buf + len;
	for (const char *p = buf; p + rl < end; p++) {
		if (memcmp(p, ref, rl))
			continue;
		const char *s = p + rl, *e = s;
		while (e < end && (isalnum((unsigned char)*e) || strchr("._+-", *e)))
			e++;
		while (e > s && (e[-1] == '.' || e[-1] == '-' || e[-1] == '_'))
			e--;
		if (e == s)
			continue;
		char name[64];
		size_t nl = (size_t)(e - s) < sizeof(name) - 8 ? (size_t)(e - s) : sizeof(name) - 8;
		memcpy(name, s, nl);
		name[nl] = '\0';
		const char *wfrom = p - buf > 600 ? p - 600 : buf;
		const char *wto = end - e > 200 ? e + 200 : end;
		bool family = !strcmp(name, "GPL") || !strcmp(name, "LGPL") || !strcmp(name, "GFDL") ||
			      !strncmp(name, "GPL-", 4) || !strncmp(name, "LGPL-", 5) || !strncmp(name, "GFDL-", 5);
		if (family) {
			char ver[12];
			if (!strchr(name, '-') && window_version(wfrom, p, ver, sizeof(ver)))
				snprintf(name + nl, sizeof(name) - nl, "-%s", ver);
			if (name[strlen(name) - 1] != '+' && window_has(wfrom, wto, "any later version"))
				strcat(name, "+");
		}
		for (size_t i = 0; i < d->nseen; i++)
			if (!strcmp(d->seen[i], name))
				goto next;
		d->seen = xrealloc(d->seen, (d->nseen + 1) * sizeof(*d->seen));
		d->seen[d->nseen++] = xstrdup(name);
	next:
		p = e - 1;
	}
}

size_t catalog_copyright_parse(const char *buf, size_t len, catalog_license_cb cb, void *ctx)
{
	struct dep5_ctx d = {.first = true, .cb = cb, .cb_ctx = ctx};
	const char *method = "dep5";
	if (catalog_copyright_is_dep5(buf, len)) {
		catalog_deb822_parse(buf, len, dep5_stanza, &d);
	}
	if (!d.nseen) {
		method = "common-licenses";
		copyright_free_text(buf, len, &d);
	}
	for (size_t i = 0; i < d.nseen; i++) {
		struct catalog_license l = {0};
		catalog_license_normalize(d.seen[i], &l);
		cb(ctx, &l, method, d.seen[i]);
		free(l.spdx);
		free(d.seen[i]);
	}
	free(d.seen);
	return d.nseen;
}
