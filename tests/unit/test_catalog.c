/* tests/unit/test_catalog.c — the catalog's parsers on real data:
 *  - the dpkg status parser on this machine's /var/lib/dpkg/status against `dpkg-query -W`
 *    (installed packages only, same versions), and on each of its stanzas one by one;
 *  - the DEP-5 reader and SPDX normaliser on every /usr/share/doc/(pkg)/copyright of this machine:
 *    every term it produces is an id of the SPDX list (node-spdx-license-ids) or a LicenseRef-;
 *  - Debian's documented short names (DEP-5 spec, section "License short name") map to the SPDX
 *    spellings the SPDX list defines;
 *  - the Debian version order against `dpkg --compare-versions`;
 *  - the npm / Go (semver) version order against node's semver.compare (npm's own module);
 *  - the Python (PEP 440) version order against packaging.version (python3-packaging);
 *  - the Ruby gem version order against Gem::Version (ruby). */
#include "catalog_test.h"
#include "tap.h"

#include <ctype.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int pkg_cmp(const void *a, const void *b)
{
	const struct catalog_pkg *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->arch ? x->arch : "", y->arch ? y->arch : "");
}

static void test_dpkg_status(void)
{
	size_t len;
	cleanup_free char *buf = catalog_test_slurp("/var/lib/dpkg/status", &len);
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

/* Every term of an expression is an SPDX id (current or deprecated), id+, or LicenseRef-, and
 * every WITH names an id of the SPDX exceptions list. */
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
		if (after_with) { /* an id of the SPDX exceptions list, exactly */
			after_with = false;
			const char *exc = catalog_spdx_exception(t);
			if (!exc || strcmp(exc, t))
				return false;
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

/* Every expression the normaliser produced in this run, one a line, for spdx-expression-parse. */
static FILE *exprs_out;
static size_t exprs_n;
static void expr_record(const char *e)
{
	if (exprs_out) {
		fprintf(exprs_out, "%s\n", e);
		exprs_n++;
	}
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
	expr_record(l->spdx);
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
		cleanup_free char *b = catalog_test_slurp(g.gl_pathv[i], &len);
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
		/* rpm (Fedora/RHEL legacy) License tags: an unnamed exception is dropped, never
		 * written as an invalid "WITH exceptions"; a named one is kept when the SPDX
		 * exceptions list has it. */
		{"GPLv2+ with exceptions", "GPL-2.0-or-later"},
		{"GPLv2 with exceptions", "GPL-2.0-only"},
		{"LGPLv2+ with exceptions", "LGPL-2.0-or-later"},
		{"GPL+ or Artistic", "GPL-1.0-or-later OR Artistic-1.0-Perl"},
		{"GPLv3+ with exceptions and GPLv2+ with exceptions", "GPL-3.0-or-later AND GPL-2.0-or-later"},
		{"GPLv2+ with Classpath exception", "GPL-2.0-or-later WITH Classpath-exception-2.0"},
		{"GPLv3+ with GCC Runtime Library exception", "GPL-3.0-or-later WITH GCC-exception-3.1"},
		{"Apache-2.0 WITH LLVM-exception", "Apache-2.0 WITH LLVM-exception"},
		{"GPL-2.0-or-later WITH Linux-syscall-note", "GPL-2.0-or-later WITH Linux-syscall-note"},
		{"GPL-2+ with GCC exception", "GPL-2.0-or-later"}, /* GCC-exception-2.0 or -3.1: ambiguous */
		{"Perl with exceptions", "(Artistic-1.0-Perl OR GPL-1.0-or-later)"},
		{"ASL 2.0 with exceptions or MIT", "Apache-2.0 OR MIT"},
		{"GPL with Classpath exception", "LicenseRef-GPL-with-Classpath-exception-2.0"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct catalog_license l = {0};
		catalog_license_normalize(cases[i][0], &l);
		expr_record(l.spdx);
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
		int ours = audit_version_cmp("deb", pairs[i][0], pairs[i][1]);
		snprintf(cmd, sizeof(cmd), "dpkg --compare-versions '%s' %s '%s'", pairs[i][0],
			 ours < 0 ? "lt" : ours > 0 ? "gt" : "eq", pairs[i][1]);
		ok(system(cmd) == 0, "version order agrees with dpkg: %s", cmd + 23);
	}
}

/* rpm License tags as Fedora/RHEL/CentOS packages write them (legacy Fedora short names, before
 * the SPDX migration): every result is valid against the generated SPDX lists. */
static void test_rpm_licenses(void)
{
	static const char *const tags[] = {
		("LGPLv2+ and LGPLv2+ with exceptions and GPLv2+ and GPLv2+ with exceptions and BSD and Inner-Net and "
		 "ISC and Public Domain and GFDL"),
		"GPLv3+ and GPLv3+ with exceptions and GPLv2+ with exceptions and LGPLv2+ and BSD",
		"(GPLv2+ or LGPLv3+) and BSD",
		"GPLv2 with exceptions",
		"GPL+ or Artistic",
		"MIT and BSD and ASL 2.0",
		"GPLv2+ with exceptions or LGPLv2+ with exceptions",
		"BSD with advertising",
		"GPLv2+ with exceptions and GPLv2+ and LGPLv2+ and BSD and MIT",
		"(GPL+ or Artistic) and (GPLv2+ or Artistic)",
		"ASL 2.0 and BSD with exceptions",
		"LGPLv2 with exceptions or GPLv3 with exceptions",
	};
	size_t bad = 0;
	char last[512] = "";
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		struct catalog_license l = {0};
		catalog_license_normalize(tags[i], &l);
		expr_record(l.spdx);
		if (!expr_valid(l.spdx) || strstr(l.spdx, "exceptions")) {
			bad++;
			snprintf(last, sizeof(last), ": %s -> %s", tags[i], l.spdx);
		}
		free(l.spdx);
	}
	ok(bad == 0, "%zu rpm License tags: every id in the SPDX license and exception lists%s",
	   sizeof(tags) / sizeof(tags[0]), last);
	ok(catalog_spdx_exception("Classpath-exception-2.0") && catalog_spdx_exception("classpath-exception") &&
		   !catalog_spdx_exception("exceptions") && !catalog_spdx_exception("GCC-exception") &&
		   !catalog_spdx_exception("OpenSSL-exception"),
	   "SPDX exceptions table from node-spdx-exceptions: ids, unique prefixes, nothing for \"exceptions\"");
}

/* Every expression produced above parses with spdx-expression-parse (the SPDX expression parser
 * npm uses; Debian's node-spdx-expression-parse over the same id lists). */
static void test_expr_parser(const char *file)
{
	if (system("NODE_PATH=/usr/share/nodejs node -e 'require(\"spdx-expression-parse\")' >/dev/null 2>&1") != 0) {
		skip("node or node-spdx-expression-parse not installed");
		return;
	}
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "NODE_PATH=/usr/share/nodejs node -e 'const p = require(\"spdx-expression-parse\");"
		 " const fs = require(\"fs\"); let bad = 0, n = 0;"
		 " for (const e of fs.readFileSync(process.argv[1], \"utf8\").split(\"\\n\")) { if (!e) continue; n++;"
		 " try { p(e) } catch (x) { if (bad++ < 3) console.log(\"# rejected: \" + e) } }"
		 " console.log(n + \" \" + bad)' '%s'",
		 file);
	FILE *p = popen(cmd, "r");
	char line[1024];
	size_t n = 0, bad = 0;
	while (p && fgets(line, sizeof(line), p)) {
		if (line[0] == '#')
			fputs(line, stdout);
		else
			sscanf(line, "%zu %zu", &n, &bad);
	}
	if (p)
		pclose(p);
	ok(n == exprs_n && n > 0 && bad == 0, "spdx-expression-parse accepts all %zu expressions (%zu rejected)", n, bad);
}

/* Semantic Versioning precedence (npm, golang types) against npm's semver module. */
/* The order a reference tool gives each pair: prog (a shell command) gets the pairs as arguments
 * and prints one of -1, 0, 1 per pair; want[i] is 99 when it printed nothing for pair i. */
static void reference_orders(const char *prog, const char *const (*pairs)[2], size_t n, int *want)
{
	char cmd[4096];
	size_t off = (size_t)snprintf(cmd, sizeof(cmd), "%s", prog);
	for (size_t i = 0; i < n && off < sizeof(cmd); i++)
		off += (size_t)snprintf(cmd + off, sizeof(cmd) - off, " '%s' '%s'", pairs[i][0], pairs[i][1]);
	FILE *p = popen(cmd, "r");
	char line[64];
	for (size_t i = 0; i < n; i++)
		want[i] = p && fgets(line, sizeof(line), p) ? atoi(line) : 99;
	if (p)
		pclose(p);
}

static int sign(int v) { return v < 0 ? -1 : v > 0; }

static void test_semver(void)
{
	static const char *const pairs[][2] = {
		{"1.0.0-rc.1", "1.0.0"},       {"1.0.0-alpha", "1.0.0-alpha.1"}, {"1.0.0-alpha.1", "1.0.0-alpha.beta"},
		{"1.0.0-beta.2", "1.0.0-beta.11"}, {"1.0.0-rc.1", "1.0.0-beta.11"}, {"1.10.0", "1.9.0"},
		{"2.0.0", "2.0.0-beta.2"},      {"1.0.0+build.1", "1.0.0+build.2"}, {"0.0.10", "0.0.9"},
		{"1.2.3-x.7.z.92", "1.2.3-x.7.z.92"}, {"1.0.0-1", "1.0.0-a"},       {"10.0.0", "9.99.99"},
	};
	size_t n = sizeof(pairs) / sizeof(pairs[0]);
	/* npm's own copy of the module (nodejs ships npm), else Debian's node-semver. */
#define SEMVER_NODE "NODE_PATH=\"$(npm root -g 2>/dev/null)/npm/node_modules:/usr/share/nodejs\" node"
	if (system(SEMVER_NODE " -e 'require(\"semver\")' >/dev/null 2>&1") != 0) {
		skip("node or npm's semver module not installed");
		return;
	}
	int want[sizeof(pairs) / sizeof(pairs[0])];
	reference_orders(SEMVER_NODE " -e 'const s = require(\"semver\");"
				     " for (let i = 1; i < process.argv.length; i += 2)"
				     " console.log(s.compare(process.argv[i], process.argv[i + 1]))' --",
			 pairs, n, want);
	for (size_t i = 0; i < n; i++) {
		int got = sign(audit_version_cmp("npm", pairs[i][0], pairs[i][1]));
		int go = sign(audit_version_cmp("golang", pairs[i][0], pairs[i][1])); /* Go modules: same rules, "v" prefix */
		cleanup_free char *va = xasprintf("v%s", pairs[i][0]);
		cleanup_free char *vb = xasprintf("v%s", pairs[i][1]);
		int gov = sign(audit_version_cmp("golang", va, vb));
		ok(got == want[i] && go == want[i] && gov == want[i], "semver %s vs %s: %d, semver.compare says %d",
		   pairs[i][0], pairs[i][1], got, want[i]);
	}
	/* Not semver: dpkg's order (numbers compare numerically). */
	ok(audit_version_cmp("npm", "1.10", "1.9") > 0 && audit_version_cmp("python", "2.10.0", "2.9.1") > 0 &&
		   audit_version_cmp("java-archive", "1.0", "1.0") == 0,
	   "other versions and types: dpkg's order (1.10 after 1.9)");
}

/* PEP 440 (python type) against the packaging module (Debian's python3-packaging, what pip uses). */
static void test_pep440(void)
{
	static const char *const pairs[][2] = {
		{"1.0.dev1", "1.0a1"},      {"1.0a1", "1.0b2"},           {"1.0b2", "1.0rc1"},
		{"1.0rc1", "1.0"},          {"1.0", "1.0.post1"},         {"1.0.post1", "1.1"},
		{"1.0", "1.0.0"},           {"1!0.1", "2.0"},             {"1.0+local.1", "1.0"},
		{"1.0+abc", "1.0+1"},       {"1.0a1.dev1", "1.0a1"},      {"1.0.post1.dev1", "1.0.post1"},
		{"1.0-1", "1.0.post1"},     {"1.0RC1", "1.0rc1"},         {"v1.2", "1.2"},
		{"1.0alpha1", "1.0a1"},     {"2.10", "2.9"},              {"1.0c1", "1.0rc1"},
		{"1.0.0.0.1", "1.0"},       {"1.0+ubuntu.2", "1.0+ubuntu.10"}, {"1.0.dev1", "1.0.post1.dev1"},
		{"1.0a", "1.0a0"},          {"1.0-r2", "1.0.post2"},      {"0.9.99", "1.0.dev0"},
	};
	size_t n = sizeof(pairs) / sizeof(pairs[0]);
	if (system("/usr/bin/python3 -c 'import packaging.version' >/dev/null 2>&1") != 0) {
		skip("python3-packaging not installed");
		return;
	}
	int want[sizeof(pairs) / sizeof(pairs[0])];
	reference_orders("/usr/bin/python3 -c 'import sys; from packaging.version import Version as V\n"
			 "a = sys.argv[1:]\nfor x, y in zip(a[::2], a[1::2]): print((V(x) > V(y)) - (V(x) < V(y)))'",
			 pairs, n, want);
	for (size_t i = 0; i < n; i++) {
		int got = sign(audit_version_cmp("python", pairs[i][0], pairs[i][1]));
		ok(got == want[i], "PEP 440 %s vs %s: %d, packaging.version says %d", pairs[i][0], pairs[i][1], got,
		   want[i]);
	}
	ok(audit_version_cmp("python", "2.0-custom-build", "2.0") > 0, "not PEP 440: dpkg's order");
}

/* Gem::Version (gem type) against RubyGems itself (Debian's ruby). */
static void test_gem(void)
{
	static const char *const pairs[][2] = {
		{"1.0.a", "1.0"},     {"1.0", "1.0.0"},       {"1.0.0", "1.0.1"},         {"1.10", "1.9"},
		{"1.0.rc1", "1.0.b2"}, {"1.0-x", "1.0"},       {"1.0-x", "1.0.pre.x"},     {"2.0.0.beta1", "2.0.0.beta10"},
		{"1.0.a1", "1.0.a"},  {"0.9.9", "1.0.0.pre"}, {"1.2.3.4", "1.2.3"},       {"3.0.0.0.a", "3.a"},
		{"1.0.A", "1.0.a"},   {"10.0", "9.99"},       {"1.0.0.rc.1", "1.0.0.rc1"},
	};
	size_t n = sizeof(pairs) / sizeof(pairs[0]);
	if (system("ruby -e 'Gem::Version' >/dev/null 2>&1") != 0) {
		skip("ruby not installed");
		return;
	}
	int want[sizeof(pairs) / sizeof(pairs[0])];
	reference_orders("ruby -e 'ARGV.each_slice(2) { |x, y| puts(Gem::Version.new(x) <=> Gem::Version.new(y)) }'",
			 pairs, n, want);
	for (size_t i = 0; i < n; i++) {
		int got = sign(audit_version_cmp("gem", pairs[i][0], pairs[i][1]));
		ok(got == want[i], "gem %s vs %s: %d, Gem::Version says %d", pairs[i][0], pairs[i][1], got, want[i]);
	}
}

int main(void)
{
	char exprs[] = "/tmp/strata-test-catalog-XXXXXX";
	int fd = mkstemp(exprs);
	exprs_out = fd >= 0 ? fdopen(fd, "w") : NULL;
	test_dpkg_status();
	test_copyrights();
	test_normalize();
	test_rpm_licenses();
	if (exprs_out) {
		fclose(exprs_out);
		exprs_out = NULL;
		test_expr_parser(exprs);
		unlink(exprs);
	}
	test_versions();
	test_semver();
	test_pep440();
	test_gem();
	return tap_done();
}
