/* policy/policy.h — what strata concludes from an index: the policy evaluation (later issues) and
 * the files it publishes under /.audit in the mount and through `strata report IMAGE FILE`.
 *
 * Reports are registered in policy/report.c's table: a path under /.audit ("verdict",
 * "findings/secrets.json", "packages.tsv", …) and a renderer that reads the index with SQL.
 * Rendering happens once per mount (the index never changes while mounted). */
#ifndef STRATA_POLICY_H
#define STRATA_POLICY_H

#include "../audit/audit.h"

struct policy_report {
	const char *name;        /* path under /.audit, at most one directory level ("findings/x.json") */
	const char *description; /* one line, for `strata report --list` */
	/* Renders the file from the index: *out is an owned buffer of *len bytes. */
	int (*render)(struct index_db *db, char **out, size_t *len, struct strata_err **err);
};

size_t policy_report_count(void);
/* The i-th report (0 <= i < count), borrowed. */
const struct policy_report *policy_report_get(size_t i);
/* The report named name, or NULL. */
const struct policy_report *policy_report_find(const char *name);

/* Added for attestations (issue 9): public keys the user trusts for signatures and attestations
 * (`--trust-key FILE`, repeatable), process-wide, read by /.audit/attestations.json and the
 * `attestation` gate. pem_path holds one PEM public key (ECDSA P-256, Ed25519 or RSA); a second
 * add of the same key is ignored. 0, or -1 with *err naming the file. */
int policy_trust_key_add(const char *pem_path, struct strata_err **err);
/* Forgets every trusted key. */
void policy_trust_keys_clear(void);

#endif
