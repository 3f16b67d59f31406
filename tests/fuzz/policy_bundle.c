/* tests/fuzz/policy_bundle.c — libFuzzer target for policy bundle parsing and validation
 * (policy/policy_bundle.c, policy_bundle_check.c): any bytes give a bundle (with or without
 * problems) or an error, never a crash, a leak or an out-of-bounds read; every problem is one
 * non-empty line. Seeds: the default and example bundles and hand-broken variants. */
#include "../../policy/policy_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct strata_err *err = NULL;
	struct policy_bundle *b = policy_bundle_parse((const char *)data, size, "fuzz", size & 1, &err);
	if (!b) {
		if (!err)
			abort();
		strata_err_free(err);
		return 0;
	}
	for (size_t i = 0; i < b->nproblems; i++)
		if (!*b->problems[i] || strchr(b->problems[i], '\n'))
			abort();
	policy_bundle_free(b);
	return 0;
}
