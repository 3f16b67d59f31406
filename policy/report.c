/* policy/report.c — the table of files published under /.audit (besides image.json and index.db,
 * which the mount serves itself). Each renderer lives in the file of the feature it reports. */
#include "policy.h"
#include "policy_int.h"

#include <string.h>

/* Reports register here (one line each). */
static const struct policy_report reports[] = {
	{"ghosts.tsv", "files some layer holds that the image deletes or shadows: who hid them and how", forensics_render_ghosts},
	{"bodyfile", "timeline of every entry of every layer (The Sleuth Kit bodyfile, for mactime -b)", forensics_render_bodyfile},
	{"efficiency.json", "wasted bytes and efficiency, computed as dive computes them", forensics_render_efficiency},
	{"layers.tsv", "per layer: digests, sizes, history line, files added/modified/deleted, packages", forensics_render_layers_tsv},
	{"layers.json", "layers.tsv as JSON", forensics_render_layers_json},
	{"custody.json", "what was examined: image file, sha256, strata version, index build time, read-only", forensics_render_custody},
	{"integrity.json", "per layer blob: digest and diff_id expected and found; per package the files changed or missing vs its database (dpkg md5sums, rpm digests, apk Q1); executables in system directories no package owns", integrity_render_json},
	{"packages.tsv", "every package of the image: type, name, version, arch, source, layer, path, purl, licenses", catalog_render_packages_tsv},
	{"licenses.tsv", "every license row: package, SPDX id or expression, how it was matched, where it was read", catalog_render_licenses_tsv},
	{"sbom.spdx.json", "the packages as an SPDX 2.3 document", catalog_render_spdx},
	{"sbom.cdx.json", "the packages as a CycloneDX 1.5 BOM", catalog_render_cdx},
	{"findings/secrets.json", "secret findings: rule, path, layer, line, sha256 fingerprint, 4-character preview, visible or deleted", secrets_render_json},
	{"findings/checks.json", "file, account, sshd and image-config checks: check id, severity, path, layer, detail (never a hash or secret)", checks_render_json},
	{"attestations.json", "signatures and attestations beside the image: type, predicate type, signer key id, verified or why not, SLSA provenance", attest_render_json},
	{"verdict", "the policy verdict in one line: pass|warn|fail, counts, reason, policy (strata mount --policy FILE; default policy otherwise)", policy_render_verdict},
	{"report.json", "the policy evaluation in Anchore's result shape plus strata's path, layer, visible", policy_render_report_json},
	{"report.txt", "the policy evaluation as a table for people", policy_render_report_txt},
	{"policy.json", "the policy bundle in effect", policy_render_policy_json},
	{"findings/always.json", "policy findings of gate always", policy_render_findings_always},
	{"findings/packages.json", "policy findings of gate packages", policy_render_findings_packages},
	{"findings/licenses.json", "policy findings of gate licenses", policy_render_findings_licenses},
	{"findings/distro.json", "policy findings of gate distro", policy_render_findings_distro},
	{"findings/metadata.json", "policy findings of gate metadata", policy_render_findings_metadata},
	{"findings/ancestry.json", "policy findings of gate ancestry", policy_render_findings_ancestry},
	{"findings/secret_scans.json", "policy findings of gate secret_scans", policy_render_findings_secret_scans},
	{"findings/retrieved_files.json", "policy findings of gate retrieved_files", policy_render_findings_retrieved_files},
	{"findings/files.json", "policy findings of gate files", policy_render_findings_files},
	{"findings/passwd_file.json", "policy findings of gate passwd_file", policy_render_findings_passwd_file},
	{"findings/dockerfile.json", "policy findings of gate dockerfile", policy_render_findings_dockerfile},
	{"findings/attestation.json", "policy findings of gate attestation", policy_render_findings_attestation},
	{NULL, NULL, NULL},
};

size_t policy_report_count(void)
{
	return sizeof(reports) / sizeof(reports[0]) - 1;
}

const struct policy_report *policy_report_get(size_t i)
{
	return i < policy_report_count() ? &reports[i] : NULL;
}

const struct policy_report *policy_report_find(const char *name)
{
	for (size_t i = 0; i < policy_report_count(); i++)
		if (!strcmp(reports[i].name, name))
			return &reports[i];
	return NULL;
}
