/* audit/catalog_go.c — the Go binary cataloger: the build info the Go linker writes into every
 * binary (section .go.buildinfo, which starts with the magic "\xff Go buildinf:").
 *
 * Format (Go 1.18 and later, flags bit 2 set: strings inline): 14 bytes magic, 1 byte pointer
 * size, 1 byte flags, 16 bytes padding, then two strings each prefixed with an unsigned varint
 * length: the toolchain version ("go1.19.8") and the module info. The module info is wrapped in
 * two 16-byte sentinels and holds tab-separated lines:
 *   path  <main package import path>
 *   mod   <main module> <version> [<sum>]
 *   dep   <module> <version> [<sum>]
 *   =>    <replacement module> <version> [<sum>]   (replaces the dep line before it; a local
 *         directory replacement keeps the module path, version "(devel)")
 *   build <key>=<value>
 * Binaries of older toolchains (pointers to strings elsewhere in the binary) carry no inline
 * strings; they are not cataloged. The search needs no ELF parsing: the capture scanner keeps the
 * bytes from the magic on (audit/catalog.c), and this parser also accepts a whole binary. The main
 * module's package owns the binary (package_file). */
#include "audit_int.h"

#include <string.h>

static const char go_magic[] = "\xff Go buildinf:";
#define GO_MAGIC_LEN 14u

long catalog_go_find_magic(const void *buf, size_t len)
{
	const char *hit = memmem(buf, len, go_magic, GO_MAGIC_LEN);
	return hit ? (long)(hit - (const char *)buf) : -1;
}

/* Every ELF file's bytes pass through here during the index pass: looking at one byte in 16 is
 * several times cheaper than memmem over all of them. */
long catalog_go_find_aligned_magic(const void *buf, size_t len, uint64_t file_off)
{
	const unsigned char *b = buf;
	for (size_t i = (size_t)((16 - file_off % 16) % 16); i < len && len - i >= GO_MAGIC_LEN; i += 16)
		if (b[i] == 0xff && !memcmp(b + i, go_magic, GO_MAGIC_LEN))
			return (long)i;
	return -1;
}

/* Reads an unsigned varint at *off (at most 10 bytes). False when it runs off the buffer. */
static bool go_uvarint(const unsigned char *b, size_t len, size_t *off, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64 && *off < len; shift += 7) {
		unsigned char c = b[(*off)++];
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return true;
	}
	return false;
}

/* A varint-prefixed string at *off as (pointer, length) inside b, or false. */
static bool go_string(const unsigned char *b, size_t len, size_t *off, const char **s, size_t *sl)
{
	uint64_t n;
	if (!go_uvarint(b, len, off, &n) || n > len - *off)
		return false;
	*s = (const char *)b + *off;
	*sl = (size_t)n;
	*off += (size_t)n;
	return true;
}

/* Splits a module info line into up to 4 tab-separated fields (owned copies in f[]). */
static size_t go_fields(const char *line, size_t ll, char *f[4])
{
	size_t n = 0;
	while (n < 4) {
		const char *tab = memchr(line, '\t', ll);
		size_t fl = tab ? (size_t)(tab - line) : ll;
		f[n++] = xstrndup(line, fl);
		if (!tab)
			break;
		ll -= fl + 1;
		line = tab + 1;
	}
	return n;
}

static struct catalog_pkg *go_add(struct catalog_set *s, const char *name, const char *version,
				  const char *path)
{
	struct catalog_pkg *p = catalog_set_add(s, "golang", name);
	p->version = version && version[0] ? xstrdup(version) : NULL;
	p->path = xstrdup(path);
	return p;
}

int catalog_go_buildinfo(struct catalog_set *s, const void *buf, size_t len, const char *path)
{
	/* The section is 16-byte aligned: the first aligned magic of an inline-strings build info
	 * (flags bit 2; without it, the pre-1.18 layout of pointers elsewhere in the binary). */
	const unsigned char *b = NULL;
	size_t bl = 0;
	for (size_t from = 0; from < len;) {
		long at = catalog_go_find_magic((const char *)buf + from, len - from);
		if (at < 0)
			return 0;
		size_t off = from + (size_t)at;
		if (off % 16 == 0 && len - off >= 32 && (((const unsigned char *)buf)[off + 15] & 2)) {
			b = (const unsigned char *)buf + off;
			bl = len - off;
			break;
		}
		from = off + 1;
	}
	if (!b)
		return 0;
	size_t off = 32;
	const char *ver = NULL, *mod = NULL;
	size_t verl = 0, modl = 0;
	if (!go_string(b, bl, &off, &ver, &verl) || !go_string(b, bl, &off, &mod, &modl))
		return 0;
	if (modl >= 33 && mod[modl - 17] == '\n') { /* strip the sentinels */
		mod += 16;
		modl -= 32;
	}
	size_t before = s->n;
	struct catalog_pkg *last_dep = NULL;
	cleanup_free char *main_path = NULL;
	bool have_mod = false;
	size_t o = 0;
	while (o < modl) {
		const char *line = mod + o;
		const char *nl = memchr(line, '\n', modl - o);
		size_t ll = nl ? (size_t)(nl - line) : modl - o;
		o += ll + 1;
		char *f[4] = {0};
		size_t n = go_fields(line, ll, f);
		if (n >= 2 && !strcmp(f[0], "path")) {
			free(main_path);
			main_path = xstrdup(f[1]);
		} else if (n >= 3 && !strcmp(f[0], "mod") && f[1][0]) {
			catalog_pkg_add_file(go_add(s, f[1], f[2], path), path, NULL, NULL);
			have_mod = true;
			last_dep = NULL;
		} else if (n >= 3 && !strcmp(f[0], "dep") && f[1][0]) {
			last_dep = go_add(s, f[1], f[2], path);
		} else if (n >= 2 && !strcmp(f[0], "=>") && last_dep && f[1][0]) {
			/* The replacement is what is built in: another module's path and version, or a
			 * local directory ("../x", "/src/x"): the module keeps its path, version "(devel)".
			 */
			bool local = f[1][0] == '.' || f[1][0] == '/';
			if (!local) {
				free(last_dep->name);
				last_dep->name = xstrdup(f[1]);
			}
			free(last_dep->version);
			last_dep->version = xstrdup(!local && n >= 3 && f[2][0] ? f[2] : "(devel)");
			last_dep = NULL;
		}
		for (size_t i = 0; i < n; i++)
			free(f[i]);
	}
	/* Built outside module mode (GOPATH, as Debian does): the main package path is all there is. */
	if (!have_mod && main_path && main_path[0])
		catalog_pkg_add_file(go_add(s, main_path, NULL, path), path, NULL, NULL);
	/* The standard library the binary was linked with ("go1.19.8"). */
	if (verl > 2 && !memcmp(ver, "go", 2)) {
		cleanup_free char *v = xstrndup(ver + 2, verl - 2);
		char *sp = strpbrk(v, " \t\n");
		if (sp)
			*sp = '\0';
		go_add(s, "stdlib", v, path);
	}
	return (int)(s->n - before);
}
