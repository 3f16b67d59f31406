/* overlay/json.c — small helpers shared by the image readers: digests, bounded JSON parsing with
 * jansson, platform strings, and the image selection rules (--ref, --platform, host platform).
 *
 * Selection contract (DESIGN.md "Images"): a layout holding exactly one image is taken whatever
 * its platform; only a real choice needs --ref or --platform, and then the host platform breaks
 * the tie when exactly one image matches it. Candidates with the same key (the same manifest
 * under two refs) are no choice.
 */
#include "overlay_int.h"

#include <string.h>
#include <sys/utsname.h>

bool overlay_digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0)
		return false;
	const char *h = d + 7;
	size_t i;
	for (i = 0; h[i]; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	return i == 64;
}

void overlay_digest_compute(const void *buf, size_t len, char out[72])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL)) {
		fputs("strata: sha256 failed\n", stderr);
		abort();
	}
	memcpy(out, "sha256:", 7);
	strata_hex(md, 32, out + 7);
}

json_t *overlay_json_parse(const char *what, const char *buf, size_t len, struct strata_err **err)
{
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		strata_err_set(err, STRATA_EFORMAT, "%s: invalid JSON: %s at line %d", what, je.text, je.line);
		return NULL;
	}
	return j;
}

const char *overlay_json_str(const json_t *obj, const char *key)
{
	if (!json_is_object(obj))
		return NULL;
	return json_string_value(json_object_get(obj, key));
}

char *overlay_json_platform(const json_t *obj)
{
	const char *os = overlay_json_str(obj, "os");
	const char *arch = overlay_json_str(obj, "architecture");
	const char *variant = overlay_json_str(obj, "variant");
	if (!os || !arch || !*os || !*arch)
		return NULL;
	if (variant && *variant)
		return xasprintf("%s/%s/%s", os, arch, variant);
	return xasprintf("%s/%s", os, arch);
}

const char *overlay_host_platform(void)
{
	static const struct {
		const char *machine, *platform;
	} map[] = {
		{"x86_64", "linux/amd64"},   {"aarch64", "linux/arm64"},   {"arm64", "linux/arm64"},
		{"i386", "linux/386"},       {"i486", "linux/386"},       {"i586", "linux/386"},
		{"i686", "linux/386"},       {"armv7l", "linux/arm/v7"},  {"armv6l", "linux/arm/v6"},
		{"ppc64le", "linux/ppc64le"}, {"s390x", "linux/s390x"},    {"riscv64", "linux/riscv64"},
		{"mips64", "linux/mips64le"}, {"loongarch64", "linux/loong64"},
	};
	struct utsname u;
	if (uname(&u) == 0)
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (strcmp(u.machine, map[i].machine) == 0)
				return map[i].platform;
	return "linux/amd64";
}

void overlay_image_candidates_free(struct overlay_image_candidate *c, size_t n)
{
	if (!c)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < c[i].nnames; k++)
			free(c[i].names[k]);
		free(c[i].names);
		free(c[i].platform);
		free(c[i].key);
	}
	free(c);
}

/* "os/arch[/variant]" matches when os and arch are equal and, if want has a variant, it too
 * (arm64 without variant means v8). */
static bool select_platform_match(const char *want, const char *have)
{
	if (!have)
		return false;
	char w[3][64] = {{0}}, h[3][64] = {{0}};
	if (sscanf(want, "%63[^/]/%63[^/]/%63s", w[0], w[1], w[2]) < 2)
		return false;
	if (sscanf(have, "%63[^/]/%63[^/]/%63s", h[0], h[1], h[2]) < 2)
		return false;
	if (strcmp(w[0], h[0]) != 0 || strcmp(w[1], h[1]) != 0)
		return false;
	if (!w[2][0])
		return true;
	if (!h[2][0] && strcmp(h[1], "arm64") == 0)
		return strcmp(w[2], "v8") == 0;
	return strcmp(w[2], h[2]) == 0;
}

static bool select_ref_match(const struct overlay_image_candidate *c, const char *ref)
{
	for (size_t k = 0; k < c->nnames; k++) {
		const char *n = c->names[k];
		if (strcmp(n, ref) == 0)
			return true;
		/* "busybox" names "busybox:latest"; "docker.io/library/x:1" is "x:1". */
		size_t rl = strlen(ref);
		if (strncmp(n, ref, rl) == 0 && strcmp(n + rl, ":latest") == 0 && !strchr(ref, ':'))
			return true;
		if (strncmp(n, "docker.io/library/", 18) == 0 && strcmp(n + 18, ref) == 0)
			return true;
	}
	return false;
}

/* "name (platform), …" of the candidates flagged in keep. Owned. */
static char *select_list(const struct overlay_image_candidate *c, size_t n, const bool *keep)
{
	char *out = xstrdup("");
	for (size_t i = 0; i < n; i++) {
		if (!keep[i])
			continue;
		const char *name = c[i].nnames ? c[i].names[0] : (c[i].key ? c[i].key : "(unnamed)");
		char *o = xasprintf("%s%s%s (%s)", out, *out ? ", " : "", name,
				    c[i].platform ? c[i].platform : "unknown platform");
		free(out);
		out = o;
	}
	return out;
}

/* Number of distinct keys among kept candidates; *first = the first kept one. */
static size_t select_distinct(const struct overlay_image_candidate *c, size_t n, const bool *keep, size_t *first)
{
	size_t count = 0;
	*first = n;
	for (size_t i = 0; i < n; i++) {
		if (!keep[i])
			continue;
		if (*first == n)
			*first = i;
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = keep[j] && c[i].key && c[j].key && strcmp(c[i].key, c[j].key) == 0;
		if (!dup)
			count++;
	}
	return count;
}

int overlay_image_select(const struct overlay_image_candidate *c, size_t n, const struct overlay_select *sel,
			 size_t *chosen, struct strata_err **err)
{
	if (n == 0)
		return strata_err_set(err, STRATA_ENOTFOUND, "no image in the archive");
	cleanup_free bool *all = xcalloc(n, sizeof(bool));
	for (size_t i = 0; i < n; i++)
		all[i] = true;
	cleanup_free bool *keep = xcalloc(n, sizeof(bool));
	size_t kept = 0, first;
	for (size_t i = 0; i < n; i++) {
		keep[i] = !sel || !sel->ref || select_ref_match(&c[i], sel->ref);
		kept += keep[i];
	}
	if (kept == 0) {
		cleanup_free char *l = select_list(c, n, all);
		return strata_err_set(err, STRATA_ENOTFOUND, "no image named %s; available: %s", sel->ref, l);
	}
	if (sel && sel->platform) {
		cleanup_free bool *before = xcalloc(n, sizeof(bool));
		memcpy(before, keep, n * sizeof(bool));
		kept = 0;
		for (size_t i = 0; i < n; i++) {
			keep[i] = keep[i] && select_platform_match(sel->platform, c[i].platform);
			kept += keep[i];
		}
		if (kept == 0) {
			cleanup_free char *l = select_list(c, n, before);
			return strata_err_set(err, STRATA_ENOTFOUND, "no image for platform %s; available: %s",
					      sel->platform, l);
		}
	}
	if (select_distinct(c, n, keep, &first) == 1) {
		*chosen = first;
		return 0;
	}
	if (!sel || !sel->platform) {
		const char *host = overlay_host_platform();
		cleanup_free bool *hk = xcalloc(n, sizeof(bool));
		for (size_t i = 0; i < n; i++)
			hk[i] = keep[i] && select_platform_match(host, c[i].platform);
		if (select_distinct(c, n, hk, &first) == 1) {
			*chosen = first;
			return 0;
		}
	}
	cleanup_free char *l = select_list(c, n, keep);
	return strata_err_set(err, STRATA_EAMBIGUOUS, "several images, choose with --ref or --platform: %s", l);
}
