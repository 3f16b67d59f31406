/* tests/unit/test_catalog.c — the catalog's parsers on real data:
 *  - the dpkg status parser on this machine's /var/lib/dpkg/status against `dpkg-query -W`
 *    (installed packages only, same versions), and on each of its stanzas one by one;
 *  - the DEP-5 reader and SPDX normaliser on every /usr/share/doc/(pkg)/copyright of this machine:
 *    every term it produces is an id of the SPDX list (node-spdx-license-ids) or a LicenseRef-;
 *  - Debian's documented short names (DEP-5 spec, section "License short name") map to the SPDX
 *    spellings the SPDX list defines;
 *  - the Debian version order against `dpkg --compare-versions`. */
#include "../../audit/audit_int.h"
#include "tap.h"

#include <ctype.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *b = xmalloc(cap);
	size_t r;
	while ((r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			b = xrealloc(b, cap *= 2);
	}
	fclose(f);
	*len = n;
	return b;
}

static int pkg_cmp(const void *a, const void *b)
{
	const struct catalog_pkg *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->arch ? x->arch : "", y->arch ? y->arch : "");
}

static void test_dpkg_status(void)
{
	size_t len;
	cleanup_free char *buf = slurp("/var/lib/dpkg/status", &len);
	if (!buf || system("command -v dpkg-query >/dev/null 2>&1") != 0) {
		skip("no dpkg database on this machine");
		return;
	}
	struct catalog_set s = {0};
	catalog_dpkg_status(&s, buf, len, "/var/lib/dpkg/status");
	qsort(s.v, s.n, sizeof(*s.v), pkg_cmp);
	FILE *p = popen("dpkg-query -W -f '${db:Status-Status}\\t${Package}\\t${Architecture}\\t${Version}\\n'"
			" | awk -F'\\t' '$1 == \"installed\"' | LC_ALL=C sort -t'\t' -k2,2 -k3,3",
			"r");
	char line[1024];
	size_t i = 0, mismatches = 0, total = 0;
	while (p && fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		char *f[4] = {0};
		char *save = NULL, *t = line;
		for (int k = 0; k < 4; k++, t = NULL)
			f[k] = strtok_r(t, "\t", &save);
		total++;
		if (i >= s.n || !f[3] || strcmp(s.v[i].name, f[1]) || strcmp(s.v[i].version, f[3])) {
			if (mismatches++ < 3)
				printf("# dpkg-query: %s %s, parser: %s %s\n", f[1], f[3], i < s.n ? s.v[i].name : "-",
				       i < s.n ? s.v[i].version : "-");
		}
		i++;
	}
	if (p)
		pclose(p);
	ok(total > 0 && mismatches == 0 && total == s.n,
	   "dpkg status parser: %zu installed packages, dpkg-query -W lists %zu, %zu differ", s.n, total, mismatches);
	catalog_set_clear(&s);

	/* A stanza that is not installed (config-files left behind) is not a package. */
	static const char removed[] = "Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n"
				      "Package: held\nStatus: hold ok installed\nVersion: 2\nSource: src (1:2)\n";
	catalog_dpkg_status(&s, removed, sizeof(removed) - 1, "/x");
	ok(s.n == 1 && !strcmp(s.v[0].name, "held") && !strcmp(s.v[0].source, "src") &&
		   !strcmp(s.v[0].source_version, "1:2"),
	   "deinstall…config-files is not installed; hold…installed is; Source (version) split");
	catalog_set_clear(&s);
	/* No trailing newline, CRLF, continuation lines, a line without a colon. */
	static const char odd[] = "Package: a\r\nStatus: install ok installed\r\nDescription: x\n more\njunk\nVersion: 3";
	catalog_dpkg_status(&s, odd, sizeof(odd) - 1, "/x");
	ok(s.n == 1 && s.v[0].version && !strcmp(s.v[0].version, "3"), "last stanza without newline, CRLF, junk line");
	catalog_set_clear(&s);
}

/* Every term of an expression is an SPDX id (current or deprecated), id+, or LicenseRef-. */
static bool expr_valid(const char *e)
{
	cleanup_free char *c = xstrdup(e);
	char *save = NULL;
	bool after_with = false;
	for (char *t = strtok_r(c, " ()", &save); t; t = strtok_r(NULL, " ()", &save)) {
		if (!strcmp(t, "AND") || !strcmp(t, "OR"))
			continue;
		if (!strcmp(t, "WITH")) {
			after_with = true;
			continue;
		}
		if (after_with) {
			after_with = false;
			continue;
		}
		if (!strncmp(t, "LicenseRef-", 11)) {
			for (char *q = t + 11; *q; q++)
				if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-')
					return false;
			continue;
		}
		size_t n = strlen(t);
		if (n && t[n - 1] == '+')
			t[n - 1] = '\0';
		bool dep;
		if (!catalog_spdx_known(t, &dep))
			return false;
	}
	return true;
}

struct lic_acc {
	size_t n, invalid, spdx;
	char last_bad[256];
};

static void lic_cb(void *ctx, const struct catalog_license *l, const char *method, const char *raw)
{
	(void)method;
	struct lic_acc *a = ctx;
	a->n++;
	if (!expr_valid(l->spdx)) {
		a->invalid++;
		snprintf(a->last_bad, sizeof(a->last_bad), "%s -> %s", raw, l->spdx);
	}
	if (!strstr(l->spdx, "LicenseRef-"))
		a->spdx++;
}

static void test_copyrights(void)
{
	glob_t g;
	if (glob("/usr/share/doc/*/copyright", 0, NULL, &g) != 0) {
		skip("no copyright files on this machine");
		return;
	}
	struct lic_acc a = {0};
	size_t dep5 = 0;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		size_t len;
		cleanup_free char *b = slurp(g.gl_pathv[i], &len);
		if (!b)
			continue;
		dep5 += catalog_copyright_is_dep5(b, len);
		catalog_copyright_parse(b, len, lic_cb, &a);
	}
	ok(a.n > 0 && a.invalid == 0, "%zu copyright files (%zu DEP-5): %zu licenses, %zu fully SPDX, %zu invalid%s%s",
	   g.gl_pathc, dep5, a.n, a.spdx, a.invalid, a.invalid ? ": " : "", a.last_bad);
	globfree(&g);

	/* A DEP-5 file in the format's own words (header License, Files stanzas, a stand-alone
	 * License paragraph that only carries text). */
	static const char d5[] = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
				 "Upstream-Name: x\n\nFiles: *\nCopyright: 2000 A\nLicense: GPL-2+\n\n"
				 "Files: lib/*\nCopyright: 2001 B\nLicense: Expat or Apache-2\n\n"
				 "License: GPL-2+\n This program is free software...\n";
	struct lic_acc b = {0};
	ok(catalog_copyright_is_dep5(d5, sizeof(d5) - 1) && catalog_copyright_parse(d5, sizeof(d5) - 1, lic_cb, &b) == 2,
	   "DEP-5: two distinct License synopses");
	static const char ft[] = "This package is free software; you can redistribute it under the terms of the GNU\n"
				 "General Public License as published by the FSF; either version 2, or (at your option)\n"
				 "any later version.\nOn Debian systems, the complete text of the GNU General Public\n"
				 "License can be found in `/usr/share/common-licenses/GPL'.\n";
	struct lic_acc c = {0};
	ok(!catalog_copyright_is_dep5(ft, sizeof(ft) - 1) && catalog_copyright_parse(ft, sizeof(ft) - 1, lic_cb, &c) == 1 &&
		   c.spdx == 1,
	   "free text: a common-licenses reference is found");
}

static void test_normalize(void)
{
	/* Debian short names (DEP-5 "License short name" table) → SPDX list spellings. */
	static const char *const cases[][2] = {
		{"GPL-2", "GPL-2.0-only"},
		{"GPL-2+", "GPL-2.0-or-later"},
		{"GPL-3+", "GPL-3.0-or-later"},
		{"LGPL-2.1", "LGPL-2.1-only"},
		{"LGPL-2.1+", "LGPL-2.1-or-later"},
		{"Expat", "MIT"},
		{"BSD-3-clause", "BSD-3-Clause"},
		{"Apache-2.0", "Apache-2.0"},
		{"Apache-2", "Apache-2.0"},
		{"GPL-2.0+", "GPL-2.0-or-later"},
		{"GFDL-NIV-1.3+", "GFDL-1.3-no-invariants-or-later"},
		{"GPL-2+ or Artistic", "GPL-2.0-or-later OR Artistic-1.0-Perl"},
		{"MIT OR Apache-2.0", "MIT OR Apache-2.0"},
		{"(MIT AND Zlib)", "(MIT AND Zlib)"},
		{"GPL-3+ with GCC-exception-3.1", "GPL-3.0-or-later WITH GCC-exception-3.1"},
		{"GPL-2+ with OpenSSL exception", "GPL-2.0-or-later"},
		{"public-domain", "LicenseRef-public-domain"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct catalog_license l = {0};
		catalog_license_normalize(cases[i][0], &l);
		ok(!strcmp(l.spdx, cases[i][1]) && expr_valid(l.spdx), "normalise \"%s\" → \"%s\" (got \"%s\", %s)",
		   cases[i][0], cases[i][1], l.spdx, l.how);
		free(l.spdx);
	}
	bool dep;
	ok(catalog_spdx_known("MIT", &dep) && !dep && catalog_spdx_known("GPL-2.0", &dep) && dep &&
		   !catalog_spdx_known("Expat", &dep),
	   "SPDX table from node-spdx-license-ids: MIT current, GPL-2.0 deprecated, Expat absent");
}

static void test_versions(void)
{
	static const char *const pairs[][2] = {
		{"1.0", "1.0~rc1"}, {"1:0.1", "2.0"}, {"2.36-9+deb12u4", "2.36-9"}, {"1.2.10", "1.2.9"},
		{"5.2.15-2+b2", "5.2.15-2+b13"}, {"1.0-1", "1.0-1"}, {"0.5.12-2", "0.5.12-2~bpo"},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char cmd[256];
		int ours = catalog_version_cmp(pairs[i][0], pairs[i][1]);
		snprintf(cmd, sizeof(cmd), "dpkg --compare-versions '%s' %s '%s'", pairs[i][0],
			 ours < 0 ? "lt" : ours > 0 ? "gt" : "eq", pairs[i][1]);
		ok(system(cmd) == 0, "version order agrees with dpkg: %s", cmd + 23);
	}
}

int main(void)
{
	test_dpkg_status();
	test_copyrights();
	test_normalize();
	test_versions();
	return tap_done();
}
