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

/* Added for the policy engine (issue 6): the bundle (JSON file) the /.audit policy files
 * (verdict, report.json, …) evaluate, process-wide (`strata mount --policy FILE`, called before
 * mounting); without a call the built-in default bundle is used. The file is read and validated
 * now: 0, or -1 with *err (unreadable, not JSON, or invalid: the first problem and their count). */
int policy_use_bundle(const char *path, struct strata_err **err);
/* For `strata audit` (issue 6). The built-in default bundle's JSON text (static, *len bytes). */
const char *policy_default_bundle_text(size_t *len);
/* Reads and validates the bundle at path (NULL: the built-in default): calls problem(ctx, line)
 * once per validation problem. Returns the number of problems (0: valid), or -1 with *err when
 * the file cannot be read or is not a JSON object. */
int policy_bundle_check_file(const char *path, void (*problem)(void *ctx, const char *line), void *ctx,
			     struct strata_err **err);
/* Evaluates the (valid) bundle at path (NULL: default) on db for tag (NULL: the image's ref) and
 * renders it as format ("text", "json", "sarif", "junit"): *out owned, *len bytes. Returns the
 * final action: 0 go (pass), 1 warn, 2 stop (fail); -1 with *err. */
int policy_audit_run(struct index_db *db, const char *path, const char *tag, const char *format, char **out,
		     size_t *len, struct strata_err **err);

#endif
