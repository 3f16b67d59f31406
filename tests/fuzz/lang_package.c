/* tests/fuzz/lang_package.c — libFuzzer target for the language and apk package catalogers
 * (audit/catalog_lang.c: npm package.json, Python METADATA / PKG-INFO and RECORD, the apk
 * installed database) and the license normaliser every declared license goes through
 * (audit/catalog_spdx.c). The same bytes are given to each parser, under the paths the capture
 * scanner would give them. Any bytes must parse without crashing, reading out of bounds or
 * leaking; every package found has a type, a non-empty name and its evidence path, every file it
 * owns is an absolute path, and each declared license normalises to a non-empty result. */
#include "../../audit/audit_int.h"

#include <stdlib.h>
#include <string.h>

static void fail(const char *what)
{
	fprintf(stderr, "lang_package fuzz: %s\n", what);
	abort();
}

static void check_set(struct catalog_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct catalog_pkg *p = &s->v[i];
		if (!p->name || !p->type || !p->name[0] || !p->path)
			fail("package without type, name or evidence path");
		for (size_t j = 0; j < p->nfiles; j++)
			if (p->files[j][0] != '/')
				fail("a file path that is not absolute");
		if (p->license) {
			struct catalog_license l = {0};
			catalog_license_normalize(p->license, &l);
			if (!l.how || (l.spdx && !l.spdx[0]))
				fail("license normalised to nothing");
			free(l.spdx);
		}
	}
	catalog_set_clear(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct catalog_set s = {0};
	catalog_npm_package(&s, buf, size, "/usr/lib/node_modules/x/package.json");
	check_set(&s);
	catalog_python_metadata(&s, buf, size, "/usr/lib/python3/site-packages/x-1.egg-info/PKG-INFO");
	check_set(&s);
	catalog_python_metadata(&s, buf, size, "/usr/lib/python3.12/site-packages/x-1.dist-info/METADATA");
	if (s.n)
		catalog_python_record(&s.v[0], buf, size, "usr/lib/python3.12/site-packages/x-1.dist-info/METADATA");
	check_set(&s);
	catalog_apk_installed(&s, buf, size, "/lib/apk/db/installed");
	check_set(&s);
	return 0;
}
