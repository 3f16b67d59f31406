/* tests/fuzz/dep5.c — libFuzzer target for the Debian copyright reader (DEP-5 and free text,
 * audit/catalog_license.c) and the SPDX normaliser (audit/catalog_spdx.c): any bytes must parse
 * without crashing or leaking, and every license produced is non-empty with balanced
 * parentheses. */
#include "../../audit/audit_int.h"

#include <stdlib.h>
#include <string.h>

static void check(void *ctx, const struct catalog_license *l, const char *method, const char *raw)
{
	(void)ctx, (void)method, (void)raw;
	int depth = 0;
	if (!l->spdx || !l->spdx[0] || !l->how)
		abort();
	for (const char *p = l->spdx; *p; p++) {
		depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
		if (depth < 0)
			abort();
	}
	if (depth)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	catalog_copyright_parse((const char *)data, size, check, NULL);
	/* The same bytes as one license expression. */
	char *expr = xstrndup((const char *)data, size < 4096 ? size : 4096);
	struct catalog_license l = {0};
	catalog_license_normalize(expr, &l);
	check(NULL, &l, "expr", expr);
	free(l.spdx);
	free(expr);
	return 0;
}
