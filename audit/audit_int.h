/* audit/audit_int.h — internals shared by the files of audit/. */
#ifndef STRATA_AUDIT_INT_H
#define STRATA_AUDIT_INT_H

#include "audit.h"

/* One scanner of the composite. new() returns owned ops whose ctx the scanner owns; free_ops()
 * releases them. identity is hashed into the index's rules hash (owned string; "" when the scanner
 * has no configurable rules). */
struct audit_scanner_def {
	const char *name;
	struct index_scanner_ops *(*new_ops)(const struct audit_options *o, char **identity, struct strata_err **err);
	void (*free_ops)(struct index_scanner_ops *ops);
};

/* The table of scanners (audit/scanner.c). */
extern const struct audit_scanner_def audit_scanner_defs[];
extern const size_t audit_scanner_ndefs;

#endif
