/* audit/catalog_gem.c — the Ruby cataloger: installed gem specifications
 * (…/specifications/NAME-VERSION.gemspec, the Ruby source RubyGems writes with
 * Gem::Specification#to_ruby). The file is Ruby code, never evaluated: only assignments of
 * string literals are read, "s.name = "rake".freeze", "s.version = "13.0.6"",
 * "s.licenses = ["MIT".freeze, "Ruby".freeze]" (several licenses: either applies, "A OR B"), or
 * "s.license = "MIT"". The receiver's name does not matter (s, spec, gem). */
#include "audit_int.h"

#include <ctype.h>
#include <string.h>

/* The string literals ('…' or "…", with backslash escapes kept verbatim) in v[0..n), each
 * passed to the accumulator as an owned string joined with sep. */
static char *gem_literals(const char *v, size_t n, const char *sep, bool first_only)
{
	char *acc = NULL;
	for (size_t i = 0; i < n; i++) {
		char q = v[i];
		if (q != '"' && q != '\'')
			continue;
		size_t j = i + 1;
		while (j < n && v[j] != q)
			j += v[j] == '\\' ? 2 : 1;
		if (j >= n)
			break;
		cleanup_free char *lit = xstrndup(v + i + 1, j - i - 1);
		char *next = acc ? xasprintf("%s%s%s", acc, sep, lit) : xstrdup(lit);
		free(acc);
		acc = next;
		if (first_only)
			break;
		i = j;
	}
	return acc;
}

int catalog_gem_spec(struct catalog_set *s, const char *buf, size_t len, const char *path)
{
	cleanup_free char *name = NULL, *version = NULL, *license = NULL;
	size_t off = 0;
	while (off < len) {
		const char *line = buf + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - line) : len - off;
		off += ll + 1;
		while (ll && isspace((unsigned char)*line))
			line++, ll--;
		/* IDENT.FIELD = VALUE */
		size_t i = 0;
		while (i < ll && (isalnum((unsigned char)line[i]) || line[i] == '_'))
			i++;
		if (!i || i >= ll || line[i] != '.')
			continue;
		size_t fs = ++i;
		while (i < ll && (isalnum((unsigned char)line[i]) || line[i] == '_'))
			i++;
		size_t fl = i - fs;
		while (i < ll && line[i] == ' ')
			i++;
		if (i >= ll || line[i] != '=' || (i + 1 < ll && line[i + 1] == '='))
			continue;
		const char *v = line + i + 1;
		size_t vl = ll - i - 1;
		const char *f = line + fs;
		if (fl == 4 && !memcmp(f, "name", 4) && !name)
			name = gem_literals(v, vl, "", true);
		else if (fl == 7 && !memcmp(f, "version", 7) && !version)
			version = gem_literals(v, vl, "", true);
		else if (((fl == 8 && !memcmp(f, "licenses", 8)) || (fl == 7 && !memcmp(f, "license", 7))) &&
			 !license)
			license = gem_literals(v, vl, " OR ", false);
	}
	if (!name || !name[0])
		return 0;
	struct catalog_pkg *p = catalog_set_add(s, "gem", name);
	p->version = steal_pointer(&version);
	p->license = steal_pointer(&license);
	p->path = xstrdup(path);
	catalog_pkg_add_file(p, path, NULL, NULL); /* the specification is the gem's */
	return 1;
}
