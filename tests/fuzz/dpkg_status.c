/* tests/fuzz/dpkg_status.c — libFuzzer target for the deb822 reader and the dpkg status, apk
 * database and Python METADATA catalogers (audit/catalog_dpkg.c, audit/catalog_lang.c): any
 * bytes must parse without crashing, reading out of bounds or leaking; every package found has
 * a name, and every file path it owns is absolute. */
#include "../../audit/audit_int.h"

#include <stdlib.h>

static void check_set(struct catalog_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (!s->v[i].name || !s->v[i].type)
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
	catalog_dpkg_status(&s, (const char *)data, size, "/var/lib/dpkg/status");
	check_set(&s);
	catalog_apk_installed(&s, (const char *)data, size, "/lib/apk/db/installed");
	check_set(&s);
	catalog_python_metadata(&s, (const char *)data, size, "/usr/lib/python3/site-packages/x-1.dist-info/METADATA");
	if (s.n)
		catalog_python_record(&s.v[0], (const char *)data, size, "usr/lib/python3/site-packages/x-1.dist-info/RECORD");
	check_set(&s);
	return 0;
}
