/* policy/version.c — the policy's names for package version ordering. The orderings themselves
 * (dpkg, rpm, apk, semver) live in audit/version.c, shared with the catalog's package changes;
 * these keep the policy's internal contract (policy/policy_int.h) and add nothing. */
#include "policy_int.h" /* policy.h brings audit/audit.h */

int policy_version_cmp_dpkg(const char *a, const char *b)
{
	return audit_version_cmp_dpkg(a, b);
}

int policy_version_cmp_rpm(const char *a, const char *b)
{
	return audit_version_cmp_rpm(a, b);
}

int policy_version_cmp_apk(const char *a, const char *b)
{
	return audit_version_cmp_apk(a, b);
}

int policy_version_cmp(const char *type, const char *a, const char *b)
{
	return audit_version_cmp(type, a, b);
}
