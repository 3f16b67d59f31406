/* audit/version_pep440.c — Python package version ordering (PEP 440, "Version specifiers"):
 * [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local], the spellings PEP 440 normalises accepted
 * (case, a leading "v", alpha/beta/c/pre/preview, "-N" and rev/r for post releases, separators
 * '.', '-' or '_' or none, an omitted number meaning 0). Order: epoch, release (trailing zeros
 * ignored), then a dev release of a final before its pre-releases, pre-releases before the final,
 * post-releases after it, a dev release before what it develops; local labels sort after the
 * public version they extend. Pure over untrusted strings: no allocation, never fails. */
#include "audit_int.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define PEP440_MAX_RELEASE 16
#define PEP440_MAX_LOCAL 8

struct pep440 {
	unsigned long long epoch;
	unsigned long long release[PEP440_MAX_RELEASE];
	size_t nrelease;
	int pre_kind; /* -1 none, 0 a, 1 b, 2 rc */
	unsigned long long pre, post, dev;
	bool has_post, has_dev;
	const char *local[PEP440_MAX_LOCAL]; /* segments of the local label (point into the string) */
	size_t local_len[PEP440_MAX_LOCAL], nlocal;
};

static bool pep_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool pep_alnum(char c)
{
	return pep_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Reads digits at *p (none: 0, *p unchanged); saturates instead of overflowing. */
static unsigned long long pep_num(const char **p)
{
	unsigned long long v = 0;
	while (pep_digit(**p)) {
		v = v > 100000000000000000ULL ? v : v * 10 + (unsigned)(**p - '0');
		(*p)++;
	}
	return v;
}

static bool pep_sep(char c)
{
	return c == '.' || c == '-' || c == '_';
}

/* Matches one of the words at *p case-insensitively (longest first in the list), advancing. */
static int pep_word(const char **p, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(words[i]);
		if (!strncasecmp(*p, words[i], l)) {
			*p += l;
			return (int)i;
		}
	}
	return -1;
}

static bool pep440_parse(const char *s, struct pep440 *v)
{
	memset(v, 0, sizeof(*v));
	v->pre_kind = -1;
	const char *p = s;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == 'v' || *p == 'V')
		p++;
	if (!pep_digit(*p))
		return false;
	const char *q = p;
	unsigned long long n = pep_num(&q);
	if (*q == '!') {
		v->epoch = n;
		p = q + 1;
		if (!pep_digit(*p))
			return false;
	}
	for (;;) {
		unsigned long long r = pep_num(&p);
		if (v->nrelease < PEP440_MAX_RELEASE)
			v->release[v->nrelease++] = r;
		if (*p == '.' && pep_digit(p[1]))
			p++;
		else
			break;
	}
	/* pre-release */
	static const char *const pre_words[] = {"preview", "alpha", "beta", "pre", "rc", "a", "b", "c"};
	static const int pre_kinds[] = {2, 0, 1, 2, 2, 0, 1, 2};
	const char *save = p;
	if (pep_sep(*p))
		p++;
	int w = pep_word(&p, pre_words, sizeof(pre_words) / sizeof(pre_words[0]));
	if (w >= 0) {
		v->pre_kind = pre_kinds[w];
		if (pep_sep(*p) && pep_digit(p[1]))
			p++;
		v->pre = pep_num(&p);
	} else {
		p = save;
	}
	/* post-release: "-N", or [sep](post|rev|r)[sep]N */
	static const char *const post_words[] = {"post", "rev", "r"};
	save = p;
	if (*p == '-' && pep_digit(p[1])) {
		p++;
		v->has_post = true;
		v->post = pep_num(&p);
	} else {
		if (pep_sep(*p))
			p++;
		if (pep_word(&p, post_words, sizeof(post_words) / sizeof(post_words[0])) >= 0) {
			v->has_post = true;
			if (pep_sep(*p) && pep_digit(p[1]))
				p++;
			v->post = pep_num(&p);
		} else {
			p = save;
		}
	}
	/* dev release */
	static const char *const dev_words[] = {"dev"};
	save = p;
	if (pep_sep(*p))
		p++;
	if (pep_word(&p, dev_words, 1) >= 0) {
		v->has_dev = true;
		if (pep_sep(*p) && pep_digit(p[1]))
			p++;
		v->dev = pep_num(&p);
	} else {
		p = save;
	}
	/* local label */
	if (*p == '+') {
		p++;
		do {
			if (pep_sep(*p) && v->nlocal)
				p++;
			const char *b = p;
			while (pep_alnum(*p))
				p++;
			if (p == b)
				return false;
			if (v->nlocal < PEP440_MAX_LOCAL) {
				v->local[v->nlocal] = b;
				v->local_len[v->nlocal++] = (size_t)(p - b);
			}
		} while (pep_sep(*p));
	}
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	return *p == '\0';
}

static int pep_cmp_u(unsigned long long a, unsigned long long b)
{
	return a < b ? -1 : a > b;
}

/* One local segment: numbers after letters, numbers numerically, letters case-insensitively. */
static int pep_local_seg(const char *a, size_t la, const char *b, size_t lb)
{
	bool na = true, nb = true;
	for (size_t i = 0; i < la; i++)
		na = na && pep_digit(a[i]);
	for (size_t i = 0; i < lb; i++)
		nb = nb && pep_digit(b[i]);
	if (na != nb)
		return na ? 1 : -1;
	if (na) {
		while (la > 1 && *a == '0')
			a++, la--;
		while (lb > 1 && *b == '0')
			b++, lb--;
		if (la != lb)
			return la < lb ? -1 : 1;
		int r = memcmp(a, b, la);
		return r < 0 ? -1 : r > 0;
	}
	int r = strncasecmp(a, b, la < lb ? la : lb);
	if (r)
		return r < 0 ? -1 : 1;
	return la == lb ? 0 : la < lb ? -1 : 1;
}

/* The rank of the pre-release part: a final's dev release (no pre, no post) first, then the
 * pre-release kinds, then none (the final itself). */
static int pep_pre_rank(const struct pep440 *v)
{
	if (v->pre_kind < 0)
		return !v->has_post && v->has_dev ? -1 : 3;
	return v->pre_kind;
}

int audit_version_cmp_pep440(const char *a, const char *b, bool *parsed)
{
	struct pep440 va, vb;
	*parsed = a && b && pep440_parse(a, &va) && pep440_parse(b, &vb);
	if (!*parsed)
		return 0;
	int r = pep_cmp_u(va.epoch, vb.epoch);
	if (r)
		return r;
	size_t na = va.nrelease, nb = vb.nrelease;
	while (na > 1 && va.release[na - 1] == 0)
		na--;
	while (nb > 1 && vb.release[nb - 1] == 0)
		nb--;
	for (size_t i = 0; i < na || i < nb; i++) {
		r = pep_cmp_u(i < na ? va.release[i] : 0, i < nb ? vb.release[i] : 0);
		if (r)
			return r;
	}
	int ra = pep_pre_rank(&va), rb = pep_pre_rank(&vb);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (va.pre_kind >= 0 && (r = pep_cmp_u(va.pre, vb.pre)))
		return r;
	if (va.has_post != vb.has_post)
		return va.has_post ? 1 : -1;
	if ((r = pep_cmp_u(va.post, vb.post)))
		return r;
	if (va.has_dev != vb.has_dev)
		return va.has_dev ? -1 : 1;
	if ((r = pep_cmp_u(va.dev, vb.dev)))
		return r;
	for (size_t i = 0; i < va.nlocal && i < vb.nlocal; i++)
		if ((r = pep_local_seg(va.local[i], va.local_len[i], vb.local[i], vb.local_len[i])))
			return r;
	return va.nlocal == vb.nlocal ? 0 : va.nlocal < vb.nlocal ? -1 : 1;
}
