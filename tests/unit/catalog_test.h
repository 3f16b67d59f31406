/* tests/unit/catalog_test.h — the harness the catalog unit tests share (test_catalog.c,
 * test_catalog_more.c): reading a file of this machine whole. Header-only (static inline), so
 * each test program stays one .c file. */
#ifndef STRATA_TESTS_CATALOG_TEST_H
#define STRATA_TESTS_CATALOG_TEST_H

#include "../../audit/audit_int.h"

#include <stdio.h>

/* The bytes of path (owned, *len set; not NUL-terminated), or NULL when it cannot be opened. */
static inline char *catalog_test_slurp(const char *path, size_t *len)
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

#endif
