/* policy/gates.c — the gate table the policy engine knows (one line per gate, NULL-terminated).
 * A gate is policy/gate_<name>.c defining policy_gate_<name>; see policy_int.h "policy engine". */
#include "policy_int.h"

const struct policy_gate_def *const policy_gates[] = {
	&policy_gate_always,
	&policy_gate_attestation,
	&policy_gate_packages,
	&policy_gate_licenses,
	&policy_gate_distro,
	&policy_gate_metadata,
	&policy_gate_ancestry,
	&policy_gate_secret_scans,
	&policy_gate_files,
	&policy_gate_dockerfile,
	&policy_gate_retrieved_files,
	&policy_gate_passwd_file,
	NULL,
};
