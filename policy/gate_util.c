/* policy/gate_util.c — helpers the gates share: the comma-separated list parameters
 * ("root, admin", "/usr,/var/lib") every gate takes apart the same way, and the '|'-separated
 * alias names of the gate table. */
#include "policy_int.h"

#include <string.h>
#include <strings.h>

const char *policy_list_next(const char **cursor, size_t *len)
{
	const char *p = *cursor;
	while (p && (*p == ' ' || *p == ','))
		p++;
	if (!p || !*p) {
		*cursor = NULL;
		return NULL;
	}
	const char *e = strchr(p, ',');
	const char *te = e ? e : p + strlen(p);
	while (te > p && te[-1] == ' ')
		te--;
	*len = (size_t)(te - p);
	*cursor = e;
	return p;
}

bool policy_list_has(const char *list, const char *item, bool nocase)
{
	size_t il = strlen(item), l;
	for (const char *c = list, *p; (p = policy_list_next(&c, &l));)
		if (l == il && (nocase ? strncasecmp(p, item, il) : strncmp(p, item, il)) == 0)
			return true;
	return false;
}

bool policy_alias_has(const char *aliases, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = aliases; p && *p;) {
		const char *e = strchr(p, '|');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == nl && strncasecmp(p, name, nl) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}
