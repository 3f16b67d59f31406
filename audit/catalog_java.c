/* audit/catalog_java.c — the Java archive cataloger (jar, war, ear; nested archives one level
 * deep, e.g. the jars in WEB-INF/lib of a war or BOOT-INF/lib of a Spring Boot jar).
 *
 * Two steps, so that no jar's bytes are kept in the index:
 *  1. catalog_java_summarize(), called by the capture scanner when a jar's stream ends, reads the
 *     archive from memory with libarchive (the seekable zip reader, which uses the central
 *     directory; a jar cut at CATALOG_MAX_JAR is read with the streaming reader, entry by entry
 *     from the start, as far as the bytes go) and writes a small summary: deb822 stanzas, one per
 *     archive ("Archive:" empty for the outer one, else the nested entry's name) holding the
 *     main section of META-INF/MANIFEST.MF, and one per META-INF/maven/G/A/pom.properties
 *     ("Archive:", "Pom:", groupId, artifactId, version). The summary is what `captured` stores.
 *  2. catalog_java_summary() turns a summary into packages: an archive with a pom.properties whose
 *     artifactId begins the file name (or its only one) is that Maven artifact, name
 *     "groupId:artifactId"; other pom.properties are artifacts shaded into it; an archive without
 *     one is named by its manifest (Implementation-Title, Bundle-SymbolicName, Bundle-Name) or
 *     file name, versioned by Implementation-Version, Bundle-Version or the file name's version.
 *     The outer archive's package owns the archive file (package_file). */
#include "audit_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <fnmatch.h>
#include <string.h>
#include <strings.h>

#define JAVA_MAX_META (1u << 20)      /* a manifest or pom.properties read at most */
#define JAVA_MAX_NESTED (32u << 20)   /* a nested archive read at most */
#define JAVA_MAX_ENTRIES 200000u      /* entries looked at per archive */
#define JAVA_MAX_INFLATE (256u << 20) /* bytes decompressed per archive, nested ones included */

static const char *const manifest_keys[] = {
    "Implementation-Title",
    "Implementation-Version",
    "Implementation-Vendor",
    "Bundle-SymbolicName",
    "Bundle-Name",
    "Bundle-Version",
    "Bundle-Vendor",
    "Bundle-License",
    "Specification-Title",
    "Specification-Version",
    NULL,
};

struct sbuf {
	char *s;
	size_t n, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t l)
{
	if (b->n + l + 1 > b->cap) {
		b->cap = (b->n + l + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->n, s, l);
	b->n += l;
	b->s[b->n] = '\0';
}

/* Appends "Key: value\n" with the value's control characters turned into spaces. */
static void sb_field(struct sbuf *b, const char *k, const char *v, size_t vl)
{
	sb_add(b, k, strlen(k));
	sb_add(b, ": ", 2);
	size_t start = b->n;
	sb_add(b, v, vl);
	for (size_t i = start; i < b->n; i++)
		if ((unsigned char)b->s[i] < 0x20)
			b->s[i] = ' ';
	sb_add(b, "\n", 1);
}

/* Reads the current entry's data (at most max bytes, and at most *budget, which it decreases:
 * a zip bomb costs the budget, not the machine) into an owned buffer, or NULL. */
static char *entry_read(struct archive *a, size_t max, size_t *budget, size_t *len)
{
	if (max > *budget)
		max = *budget;
	struct sbuf b = {0};
	char chunk[16384];
	la_ssize_t r;
	while ((r = archive_read_data(a, chunk, sizeof(chunk))) > 0) {
		size_t take = (size_t)r;
		if (b.n + take > max)
			take = max - b.n;
		sb_add(&b, chunk, take);
		if (b.n >= max)
			break;
	}
	*budget -= b.n;
	if (r < 0) {
		free(b.s);
		return NULL;
	}
	*len = b.n;
	return b.s ? b.s : xstrdup("");
}

/* MANIFEST.MF main section: "Name: value" lines, a line starting with one space continues the
 * previous value; the section ends at the first blank line. Appends the known keys. */
static void manifest_summarize(struct sbuf *out, const char *m, size_t len)
{
	struct sbuf val = {0};
	char key[128] = "";
	size_t off = 0;
	for (;;) {
		const char *line = m + off;
		const char *nl = off < len ? memchr(line, '\n', len - off) : NULL;
		size_t ll = off >= len ? 0 : nl ? (size_t)(nl - line) : len - off;
		if (ll && line[ll - 1] == '\r')
			ll--;
		bool cont = ll && line[0] == ' ';
		if (!cont && key[0]) {
			for (size_t i = 0; manifest_keys[i]; i++)
				if (!strcasecmp(key, manifest_keys[i]))
					sb_field(out, manifest_keys[i], val.s ? val.s : "", val.n);
			key[0] = '\0';
			val.n = 0;
		}
		if (off >= len || ll == 0)
			break;
		off += (nl ? (size_t)(nl - line) : len - off) + 1;
		if (cont) {
			if (key[0])
				sb_add(&val, line + 1, ll - 1);
			continue;
		}
		const char *colon = memchr(line, ':', ll);
		if (!colon || (size_t)(colon - line) >= sizeof(key))
			continue;
		memcpy(key, line, (size_t)(colon - line));
		key[colon - line] = '\0';
		const char *v = colon + 1;
		size_t vl = ll - (size_t)(v - line);
		while (vl && *v == ' ')
			v++, vl--;
		val.n = 0;
		sb_add(&val, v, vl);
	}
	free(val.s);
}

/* pom.properties: "key=value" (or "key: value") lines, '#' and '!' comments. */
static void pom_summarize(struct sbuf *out, const char *archive, const char *entry, const char *m, size_t len)
{
	sb_field(out, "Archive", archive, strlen(archive));
	sb_field(out, "Pom", entry, strlen(entry));
	size_t off = 0;
	while (off < len) {
		const char *line = m + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - line) : len - off;
		off += ll + 1;
		while (ll && (line[ll - 1] == '\r' || line[ll - 1] == ' '))
			ll--;
		while (ll && (*line == ' ' || *line == '\t'))
			line++, ll--;
		if (!ll || *line == '#' || *line == '!')
			continue;
		size_t k = 0;
		while (k < ll && line[k] != '=' && line[k] != ':')
			k++;
		if (k == ll)
			continue;
		size_t vs = k + 1;
		while (vs < ll && line[vs] == ' ')
			vs++;
		static const char *const want[] = {"groupId", "artifactId", "version"};
		for (size_t i = 0; i < 3; i++)
			if (strlen(want[i]) == k && !strncmp(line, want[i], k))
				sb_field(out, want[i], line + vs, ll - vs);
	}
	sb_add(out, "\n", 1);
}

static bool is_archive_name(const char *n)
{
	size_t l = strlen(n);
	return l > 4 && (!strcasecmp(n + l - 4, ".jar") || !strcasecmp(n + l - 4, ".war") ||
			 !strcasecmp(n + l - 4, ".ear"));
}

/* Summarises one archive (name "" for the outer one); nested archives when depth is 0. */
static void java_archive(struct sbuf *out, const void *buf, size_t len, bool streaming, const char *name,
			 int depth, size_t *budget)
{
	struct archive *a = archive_read_new();
	if (streaming)
		archive_read_support_format_zip_streamable(a);
	else
		archive_read_support_format_zip_seekable(a);
	if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK) {
		archive_read_free(a);
		return;
	}
	struct sbuf poms = {0};
	cleanup_free char *manifest = NULL;
	size_t mlen = 0;
	struct archive_entry *e;
	for (unsigned n = 0; n < JAVA_MAX_ENTRIES && *budget && archive_read_next_header(a, &e) == ARCHIVE_OK;
	     n++) {
		const char *p = archive_entry_pathname(e);
		if (!p || archive_entry_filetype(e) != AE_IFREG)
			continue;
		if (!manifest && !strcasecmp(p, "META-INF/MANIFEST.MF")) {
			manifest = entry_read(a, JAVA_MAX_META, budget, &mlen);
		} else if (!fnmatch("META-INF/maven/*/*/pom.properties", p, FNM_PATHNAME)) {
			cleanup_free char *ent = xstrdup(p);
			size_t pl = 0;
			cleanup_free char *props = entry_read(a, JAVA_MAX_META, budget, &pl);
			if (props)
				pom_summarize(&poms, name, ent, props, pl);
		} else if (depth == 0 && is_archive_name(p) &&
			   archive_entry_size(e) <= (la_int64_t)JAVA_MAX_NESTED) {
			cleanup_free char *ent = xstrdup(p);
			size_t nl = 0;
			cleanup_free char *inner = entry_read(a, JAVA_MAX_NESTED, budget, &nl);
			if (inner)
				java_archive(&poms, inner, nl, false, ent, depth + 1, budget);
		}
	}
	archive_read_free(a);
	/* The archive's own stanza first, then its pom.properties and nested archives. */
	sb_field(out, "Archive", name, strlen(name));
	if (manifest)
		manifest_summarize(out, manifest, mlen);
	sb_add(out, "\n", 1);
	if (poms.n)
		sb_add(out, poms.s, poms.n);
	free(poms.s);
}

char *catalog_java_summarize(const void *buf, size_t len, bool truncated, size_t *out_len)
{
	struct sbuf out = {0};
	size_t budget = JAVA_MAX_INFLATE;
	java_archive(&out, buf, len, truncated, "", 0, &budget);
	*out_len = out.n;
	return out.s;
}

/* ---- summary → packages ------------------------------------------------------------------ */

struct jstanza {
	char *archive, *pom, *group, *artifact, *version;
	char *title, *iversion, *vendor, *bsn, *bname, *bversion, *license;
};

struct jctx {
	struct jstanza *v;
	size_t n, cap;
};

static int java_stanza(void *ctx, const struct catalog_field *f, size_t n)
{
	struct jctx *c = ctx;
	char *archive = catalog_field_get(f, n, "Archive", true);
	if (!archive)
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 8;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	struct jstanza *s = &c->v[c->n++];
	*s = (struct jstanza){.archive = archive};
	s->pom = catalog_field_get(f, n, "Pom", true);
	s->group = catalog_field_get(f, n, "groupId", true);
	s->artifact = catalog_field_get(f, n, "artifactId", true);
	s->version = catalog_field_get(f, n, "version", true);
	s->title = catalog_field_get(f, n, "Implementation-Title", true);
	s->iversion = catalog_field_get(f, n, "Implementation-Version", true);
	s->vendor = catalog_field_get(f, n, "Implementation-Vendor", true);
	if (!s->vendor)
		s->vendor = catalog_field_get(f, n, "Bundle-Vendor", true);
	s->bsn = catalog_field_get(f, n, "Bundle-SymbolicName", true);
	if (s->bsn) /* "org.foo.bar;singleton:=true" */
		s->bsn[strcspn(s->bsn, ";")] = '\0';
	s->bname = catalog_field_get(f, n, "Bundle-Name", true);
	s->bversion = catalog_field_get(f, n, "Bundle-Version", true);
	s->license = catalog_field_get(f, n, "Bundle-License", true);
	return 0;
}

static void jstanza_free(struct jstanza *s)
{
	free(s->archive), free(s->pom), free(s->group), free(s->artifact), free(s->version), free(s->title);
	free(s->iversion), free(s->vendor), free(s->bsn), free(s->bname), free(s->bversion), free(s->license);
}

static const char *nonempty(const char *a, const char *b)
{
	return a && a[0] ? a : b;
}

/* "commons-lang3-3.12.0.jar" → stem "commons-lang3-3.12.0", name "commons-lang3", version "3.12.0". */
static void file_name_split(const char *file, char **name, char **version)
{
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	char *stem = xstrdup(base);
	char *dot = strrchr(stem, '.');
	if (dot)
		*dot = '\0';
	*version = NULL;
	for (char *d = stem; (d = strchr(d, '-')); d++)
		if (isdigit((unsigned char)d[1])) {
			*version = xstrdup(d + 1);
			*d = '\0';
			break;
		}
	*name = stem;
}

static struct catalog_pkg *java_add_pom(struct catalog_set *s, const struct jstanza *pom, const char *path)
{
	cleanup_free char *name = pom->group && pom->group[0] ? xasprintf("%s:%s", pom->group, pom->artifact)
							      : xstrdup(pom->artifact);
	struct catalog_pkg *p = catalog_set_add(s, "java", name);
	p->version = pom->version && pom->version[0] ? xstrdup(pom->version) : NULL;
	p->path = xstrdup(path);
	return p;
}

int catalog_java_summary(struct catalog_set *s, const char *buf, size_t len, const char *path)
{
	struct jctx c = {0};
	catalog_deb822_parse(buf, len, java_stanza, &c);
	size_t before = s->n;
	for (size_t i = 0; i < c.n; i++) {
		const struct jstanza *a = &c.v[i];
		if (a->pom)
			continue;
		cleanup_free char *apath =
		    a->archive[0] ? xasprintf("%s!/%s", path, a->archive) : xstrdup(path);
		cleanup_free char *fname = NULL, *fversion = NULL;
		file_name_split(a->archive[0] ? a->archive : path, &fname, &fversion);
		/* This archive's pom.properties: the Pom stanzas with the same Archive value. */
		const struct jstanza *main_pom = NULL;
		size_t npoms = 0;
		for (size_t j = 0; j < c.n; j++) {
			const struct jstanza *q = &c.v[j];
			if (!q->pom || strcmp(q->archive, a->archive) || !q->artifact || !q->artifact[0])
				continue;
			npoms++;
			if (!main_pom && !strncmp(fname, q->artifact, strlen(q->artifact)))
				main_pom = q;
		}
		if (!main_pom && npoms == 1)
			for (size_t j = 0; j < c.n; j++)
				if (c.v[j].pom && !strcmp(c.v[j].archive, a->archive) && c.v[j].artifact &&
				    c.v[j].artifact[0])
					main_pom = &c.v[j];
		struct catalog_pkg *p;
		if (main_pom) {
			p = java_add_pom(s, main_pom, apath);
		} else {
			const char *name = nonempty(a->title, nonempty(a->bsn, nonempty(a->bname, fname)));
			if (!name || !name[0])
				continue;
			p = catalog_set_add(s, "java", name);
			const char *v = nonempty(a->iversion, nonempty(a->bversion, fversion));
			p->version = v ? xstrdup(v) : NULL;
			p->path = xstrdup(apath);
		}
		p->license = a->license ? xstrdup(a->license) : NULL;
		p->vendor = a->vendor ? xstrdup(a->vendor) : NULL;
		if (!a->archive[0]) /* the archive file is this package's (not a nested or shaded one's) */
			catalog_pkg_add_file(p, path, NULL, NULL);
		/* Artifacts shaded into this archive. */
		for (size_t j = 0; j < c.n; j++) {
			const struct jstanza *q = &c.v[j];
			if (!q->pom || q == main_pom || strcmp(q->archive, a->archive) || !q->artifact ||
			    !q->artifact[0])
				continue;
			cleanup_free char *qpath = xasprintf("%s!/%s", apath, q->pom);
			java_add_pom(s, q, qpath);
		}
	}
	for (size_t i = 0; i < c.n; i++)
		jstanza_free(&c.v[i]);
	free(c.v);
	return (int)(s->n - before);
}
