/* overlay/path.c — tar path normalisation.
 *
 * Owns the one place where a raw tar path becomes a tree path: leading "/" and "./" go, "//" and
 * "." components collapse, a trailing "/" goes, the root is "". Anything that could escape the
 * root or overflow a kernel limit (a ".." component, a component over 255 bytes, a path over
 * 4096 bytes) is hostile and never becomes a path. Every other byte is kept as is: names may hold
 * newlines or invalid UTF-8, only NUL ends a path. (overlay_entry_type_name lives in tar.c.)
 */
#include "overlay.h"

#include <string.h>

#define PATH_COMPONENT_MAX 255
#define PATH_TOTAL_MAX 4096

/* See overlay.h. Works in one pass over raw; the output is never longer than the input. */
int overlay_path_normalize(const char *raw, char **out, const char **problem)
{
	*out = NULL;
	*problem = NULL;
	if (!raw) {
		*problem = "path is missing";
		return 1;
	}
	size_t rlen = strlen(raw);
	cleanup_free char *buf = xmalloc(rlen + 1);
	size_t len = 0;
	const char *p = raw;
	while (*p) {
		while (*p == '/')
			p++;
		const char *start = p;
		while (*p && *p != '/')
			p++;
		size_t clen = (size_t)(p - start);
		if (clen == 0 || (clen == 1 && start[0] == '.'))
			continue;
		if (clen == 2 && start[0] == '.' && start[1] == '.') {
			*problem = "path has a \"..\" component";
			return 1;
		}
		if (clen > PATH_COMPONENT_MAX) {
			*problem = "path component over 255 bytes";
			return 1;
		}
		if (len > 0)
			buf[len++] = '/';
		memcpy(buf + len, start, clen);
		len += clen;
		if (len > PATH_TOTAL_MAX) {
			*problem = "path over 4096 bytes";
			return 1;
		}
	}
	buf[len] = '\0';
	*out = steal_pointer(&buf);
	return 0;
}
