/* audit/version_gem.c — Ruby gem version ordering (RubyGems' Gem::Version, as its documentation
 * describes it): a version is digits then '.'-separated alphanumeric parts, optionally '-' and a
 * pre-release label ('-' reads as ".pre."); it is split into runs of digits (numbers) and of
 * letters (strings); any string makes it a pre-release. Before comparing, trailing zero numbers
 * are dropped from the numeric head and from the part from the first string on. Parts compare
 * pairwise (a missing part counts as 0): numbers numerically, strings bytewise, a string before a
 * number — so "1.0.a" < "1.0" < "1.0.1" and "1.0" == "1.0.0". Pure, never fails. */
#include "audit_int.h"

#include <stdbool.h>
#include <string.h>

#define GEM_MAX_SEGS 32

struct gem_seg {
	const char *s; /* string part (NULL: a number) */
	size_t len;
	unsigned long long num;
};

static bool gem_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool gem_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Checks the form of v (RubyGems' version pattern, whitespace around allowed) and returns its
 * end without trailing whitespace, or NULL. */
static const char *gem_check(const char *v, const char **start)
{
	while (*v == ' ' || *v == '\t')
		v++;
	*start = v;
	if (!gem_digit(*v))
		return NULL;
	while (gem_digit(*v))
		v++;
	while (*v == '.' && (gem_digit(v[1]) || gem_alpha(v[1]))) {
		v++;
		while (gem_digit(*v) || gem_alpha(*v))
			v++;
	}
	if (*v == '-') {
		do {
			v++;
			const char *b = v;
			while (gem_digit(*v) || gem_alpha(*v) || *v == '-')
				v++;
			if (v == b)
				return NULL;
		} while (*v == '.');
	}
	const char *end = v;
	while (*v == ' ' || *v == '\t' || *v == '\n')
		v++;
	return *v ? NULL : end;
}

/* The canonical segments of v into out (see the top of the file); returns their number, or
 * -1 when v is not a gem version. */
static int gem_segments(const char *v, struct gem_seg *out)
{
	const char *p, *end = gem_check(v, &p);
	if (!end)
		return -1;
	struct gem_seg seg[GEM_MAX_SEGS];
	int n = 0, first_str = -1;
	while (p < end && n < GEM_MAX_SEGS) {
		if (*p == '-') { /* '-' is ".pre." */
			seg[n++] = (struct gem_seg){.s = "pre", .len = 3};
			p++;
		} else if (gem_digit(*p)) {
			unsigned long long x = 0;
			while (p < end && gem_digit(*p)) {
				x = x > 100000000000000000ULL ? x : x * 10 + (unsigned)(*p - '0');
				p++;
			}
			seg[n++] = (struct gem_seg){.num = x};
		} else if (gem_alpha(*p)) {
			const char *b = p;
			while (p < end && gem_alpha(*p))
				p++;
			seg[n++] = (struct gem_seg){.s = b, .len = (size_t)(p - b)};
		} else {
			p++;
		}
		if (first_str < 0 && n && seg[n - 1].s)
			first_str = n - 1;
	}
	int head = first_str < 0 ? n : first_str, m = 0;
	int keep = head;
	while (keep > 0 && !seg[keep - 1].s && seg[keep - 1].num == 0)
		keep--;
	for (int i = 0; i < keep; i++)
		out[m++] = seg[i];
	keep = n;
	while (keep > head && !seg[keep - 1].s && seg[keep - 1].num == 0)
		keep--;
	for (int i = head; i < keep; i++)
		out[m++] = seg[i];
	return m;
}

int audit_version_cmp_gem(const char *a, const char *b, bool *parsed)
{
	struct gem_seg sa[GEM_MAX_SEGS], sb[GEM_MAX_SEGS];
	int na = a ? gem_segments(a, sa) : -1, nb = b ? gem_segments(b, sb) : -1;
	*parsed = na >= 0 && nb >= 0;
	if (!*parsed)
		return 0;
	static const struct gem_seg zero = {0};
	for (int i = 0; i < na || i < nb; i++) {
		const struct gem_seg *x = i < na ? &sa[i] : &zero, *y = i < nb ? &sb[i] : &zero;
		if (x->s && y->s) {
			int r = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
			if (r)
				return r < 0 ? -1 : 1;
			if (x->len != y->len)
				return x->len < y->len ? -1 : 1;
		} else if (x->s || y->s) {
			return x->s ? -1 : 1; /* a string sorts before a number */
		} else if (x->num != y->num) {
			return x->num < y->num ? -1 : 1;
		}
	}
	return 0;
}
