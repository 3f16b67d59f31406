/* tests/fuzz/rpm_sqlite.c — libFuzzer target for the rpmdb.sqlite reader (audit/catalog_rpm.c:
 * catalog_rpm_sqlite opens the bytes in memory with sqlite3_deserialize, read-only and defensive,
 * and parses each Packages blob as an rpm header). Any bytes must give packages or an error, never
 * a crash, a leak or an out-of-bounds read; the count returned is the number of packages added,
 * each with a type, a non-empty name and absolute file paths; an error comes with a message.
 * Seeds: databases written by the sqlite3 tool with rpm's Packages schema (512-byte pages). */
#include "../../audit/audit_int.h"

#include <stdlib.h>

static void fail(const char *what)
{
	fprintf(stderr, "rpm_sqlite fuzz: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct catalog_set s = {0};
	struct strata_err *err = NULL;
	int n = catalog_rpm_sqlite(&s, data, size, "/var/lib/rpm/rpmdb.sqlite", &err);
	if (n < 0 && !err)
		fail("error without a message");
	if (n >= 0 && (err || (size_t)n != s.n))
		fail("count differs from the packages added");
	for (size_t i = 0; i < s.n; i++) {
		if (!s.v[i].name || !s.v[i].type || !s.v[i].name[0])
			fail("package without type or name");
		for (size_t j = 0; j < s.v[i].nfiles; j++)
			if (s.v[i].files[j][0] != '/')
				fail("a file path that is not absolute");
	}
	catalog_set_clear(&s);
	strata_err_free(err);
	return 0;
}
