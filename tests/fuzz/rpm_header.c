/* tests/fuzz/rpm_header.c — libFuzzer target for the rpm header blob parser and the Berkeley DB
 * hash reader (audit/catalog_rpm.c, audit/catalog_bdb.c), and, on the same bytes, the Go build
 * info, gemspec and Java archive readers (audit/catalog_go.c, catalog_gem.c, catalog_java.c): any bytes must
 * parse without crashing, reading out of bounds or leaking; a package found has a type and a name, every file
 * it owns is an absolute path, and an error leaves no package behind. */
#include "../../audit/audit_int.h"

#include <stdlib.h>

static void check_set(struct catalog_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (!s->v[i].name || !s->v[i].type || !s->v[i].name[0])
			abort();
		for (size_t j = 0; j < s->v[i].nfiles; j++)
			if (s->v[i].files[j][0] != '/')
				abort();
	}
	catalog_set_clear(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct catalog_set s = {0};
	struct strata_err *err = NULL;
	if (catalog_rpm_header(&s, data, size, "/var/lib/rpm/rpmdb.sqlite", &err) < 0) {
		if (!err || s.n)
			abort();
	} else if (err || s.n != 1) {
		abort();
	}
	strata_err_free(err);
	err = NULL;
	check_set(&s);
	if (catalog_rpm_bdb(&s, data, size, "/var/lib/rpm/Packages", &err) < 0 && !err)
		abort();
	strata_err_free(err);
	check_set(&s);
	catalog_go_buildinfo(&s, data, size, "/usr/bin/x");
	check_set(&s);
	catalog_gem_spec(&s, (const char *)data, size, "/var/lib/gems/3.1.0/specifications/x-1.gemspec");
	check_set(&s);
	for (int truncated = 0; truncated < 2; truncated++) {
		size_t n = 0;
		char *sum = catalog_java_summarize(data, size, truncated, &n);
		if (sum)
			catalog_java_summary(&s, sum, n, "/app/x.jar");
		free(sum);
		check_set(&s);
	}
	catalog_java_summary(&s, (const char *)data, size, "/app/x.jar");
	check_set(&s);
	return 0;
}
