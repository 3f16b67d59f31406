/* audit/version.c — package version ordering of each distribution: dpkg (Debian policy 5.6.12:
 * epoch:upstream-revision, '~' sorting before everything, letters before other characters),
 * rpm (rpmvercmp: epoch, then version and release compared segment by segment, '~' before and
 * '^' after everything but the end) and apk (apk-tools: numbers, letter, _alpha.._rc pre-release
 * and _cvs.._p post-release suffixes, -rN revision), and Semantic Versioning 2.0.0 for npm and Go
 * module versions (PEP 440 for Python, audit/version_pep440.c; Gem::Version for Ruby gems,
 * audit/version_gem.c). Shared by the catalog (package_change) and the policy (version gates).
 * Pure functions over untrusted strings: no allocation, no errors; each returns <0, 0 or >0 like
 * strcmp. */
#include "audit_int.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static bool ver_isdigit(char c)
{
	return c >= '0' && c <= '9';
}
static bool ver_isalpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ---- dpkg ----------------------------------------------------------------------------------- */

/* Sort weight of one character of a non-digit run: '~' below the end, the end (0), letters,
 * then every other character above letters. */
static int dpkg_weight(char c)
{
	if (c == '~')
		return -1;
	if (c == '\0' || ver_isdigit(c))
		return 0;
	if (ver_isalpha(c))
		return (unsigned char)c;
	return (unsigned char)c + 256;
}

/* Compares the [a, ae) and [b, be) parts (upstream or revision) with dpkg's alternation of
 * non-digit runs (compared by weight) and digit runs (compared numerically). */
static int dpkg_cmp_part(const char *a, const char *ae, const char *b, const char *be)
{
	while (a < ae || b < be) {
		while ((a < ae && !ver_isdigit(*a)) || (b < be && !ver_isdigit(*b))) {
			int wa = dpkg_weight(a < ae ? *a : '\0'), wb = dpkg_weight(b < be ? *b : '\0');
			if (wa != wb)
				return wa < wb ? -1 : 1;
			if (a < ae)
				a++;
			if (b < be)
				b++;
		}
		while (a < ae && *a == '0')
			a++;
		while (b < be && *b == '0')
			b++;
		int first = 0;
		while (a < ae && b < be && ver_isdigit(*a) && ver_isdigit(*b)) {
			if (!first)
				first = *a - *b;
			a++;
			b++;
		}
		if (a < ae && ver_isdigit(*a))
			return 1;
		if (b < be && ver_isdigit(*b))
			return -1;
		if (first)
			return first < 0 ? -1 : 1;
	}
	return 0;
}

struct dpkg_ver {
	unsigned long long epoch;
	const char *up, *up_end, *rev, *rev_end;
};

static void dpkg_parse(const char *v, struct dpkg_ver *p)
{
	while (*v == ' ' || *v == '\t')
		v++;
	const char *end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
		end--;
	p->epoch = 0;
	const char *colon = memchr(v, ':', (size_t)(end - v));
	if (colon) {
		for (const char *q = v; q < colon && ver_isdigit(*q); q++)
			p->epoch = p->epoch > 100000000ULL ? p->epoch : p->epoch * 10 + (unsigned)(*q - '0');
		v = colon + 1;
	}
	const char *dash = NULL;
	for (const char *q = v; q < end; q++)
		if (*q == '-')
			dash = q;
	p->up = v;
	p->up_end = dash ? dash : end;
	p->rev = dash ? dash + 1 : end;
	p->rev_end = end;
}

int audit_version_cmp_dpkg(const char *a, const char *b)
{
	struct dpkg_ver va, vb;
	dpkg_parse(a ? a : "", &va);
	dpkg_parse(b ? b : "", &vb);
	if (va.epoch != vb.epoch)
		return va.epoch < vb.epoch ? -1 : 1;
	int r = dpkg_cmp_part(va.up, va.up_end, vb.up, vb.up_end);
	if (r)
		return r;
	return dpkg_cmp_part(va.rev, va.rev_end, vb.rev, vb.rev_end);
}

/* ---- rpm ------------------------------------------------------------------------------------ */

/* rpmvercmp over [a, ae) and [b, be): separators skipped, '~' sorts before anything (even the
 * end), '^' after the end but before any other segment, digit segments numerically and beat
 * letter segments, letter segments by strcmp. */
static int rpm_cmp_seg(const char *a, const char *ae, const char *b, const char *be)
{
	if (ae - a == be - b && memcmp(a, b, (size_t)(ae - a)) == 0)
		return 0;
	while (a < ae || b < be) {
		while (a < ae && !ver_isdigit(*a) && !ver_isalpha(*a) && *a != '~' && *a != '^')
			a++;
		while (b < be && !ver_isdigit(*b) && !ver_isalpha(*b) && *b != '~' && *b != '^')
			b++;
		bool ta = a < ae && *a == '~', tb = b < be && *b == '~';
		if (ta || tb) {
			if (!ta)
				return 1;
			if (!tb)
				return -1;
			a++;
			b++;
			continue;
		}
		bool ca = a < ae && *a == '^', cb = b < be && *b == '^';
		if (ca || cb) {
			if (a >= ae)
				return -1;
			if (b >= be)
				return 1;
			if (!ca)
				return 1;
			if (!cb)
				return -1;
			a++;
			b++;
			continue;
		}
		if (a >= ae || b >= be)
			break;
		const char *sa = a, *sb = b;
		bool num = ver_isdigit(*a);
		if (num) {
			while (a < ae && ver_isdigit(*a))
				a++;
			while (b < be && ver_isdigit(*b))
				b++;
		} else {
			while (a < ae && ver_isalpha(*a))
				a++;
			while (b < be && ver_isalpha(*b))
				b++;
		}
		if (b == sb)
			return num ? 1 : -1; /* a digit segment beats a letter one */
		if (num) {
			while (sa < a && *sa == '0')
				sa++;
			while (sb < b && *sb == '0')
				sb++;
			if (a - sa != b - sb)
				return a - sa > b - sb ? 1 : -1;
		}
		size_t la = (size_t)(a - sa), lb = (size_t)(b - sb);
		int r = memcmp(sa, sb, la < lb ? la : lb);
		if (r)
			return r < 0 ? -1 : 1;
		if (la != lb)
			return la < lb ? -1 : 1;
	}
	if (a >= ae && b >= be)
		return 0;
	return a < ae ? 1 : -1;
}

int audit_version_cmp_rpm(const char *a, const char *b)
{
	a = a ? a : "";
	b = b ? b : "";
	/* [epoch:]version[-release]: epoch digits before ':', release after the last '-'. */
	const char *v[2] = {a, b}, *ve[2], *r[2], *re[2];
	unsigned long long ep[2] = {0, 0};
	for (int i = 0; i < 2; i++) {
		const char *s = v[i], *end = s + strlen(s);
		const char *q = s;
		while (q < end && ver_isdigit(*q))
			q++;
		if (q < end && *q == ':') {
			for (const char *d = s; d < q; d++)
				ep[i] = ep[i] > 100000000ULL ? ep[i] : ep[i] * 10 + (unsigned)(*d - '0');
			s = q + 1;
		}
		const char *dash = strrchr(s, '-');
		v[i] = s;
		ve[i] = dash ? dash : end;
		r[i] = dash ? dash + 1 : NULL;
		re[i] = end;
	}
	if (ep[0] != ep[1])
		return ep[0] < ep[1] ? -1 : 1;
	int c = rpm_cmp_seg(v[0], ve[0], v[1], ve[1]);
	if (c)
		return c;
	/* A missing release counts as "" (rpm.vercmp: "1.0" < "1.0-1"). */
	return rpm_cmp_seg(r[0] ? r[0] : re[0], re[0], r[1] ? r[1] : re[1], re[1]);
}

/* ---- apk ------------------------------------------------------------------------------------ */

/* Token kinds in apk-tools' order: a version that ends earlier than the other sorts after it
 * only when the other goes on with a pre-release suffix. */
enum apk_tok {
	APK_INVALID = -1,
	APK_DIGIT_OR_ZERO,
	APK_DIGIT,
	APK_LETTER,
	APK_SUFFIX,
	APK_SUFFIX_NO,
	APK_REVISION_NO,
	APK_END
};

static const char *const apk_pre[] = {"alpha", "beta", "pre", "rc"};
static const char *const apk_post[] = {"cvs", "svn", "git", "hg", "p"};

/* Decides the kind of the token at *s after a token of kind t (consuming its separator). */
static enum apk_tok apk_next(enum apk_tok t, const char **s)
{
	const char *p = *s;
	if (*p == '\0')
		return APK_END;
	if ((t == APK_DIGIT || t == APK_DIGIT_OR_ZERO) && *p >= 'a' && *p <= 'z')
		return APK_LETTER;
	if (t == APK_LETTER && ver_isdigit(*p))
		return APK_DIGIT;
	if (t == APK_SUFFIX && ver_isdigit(*p))
		return APK_SUFFIX_NO;
	enum apk_tok n = APK_INVALID;
	if (*p == '.')
		n = APK_DIGIT_OR_ZERO;
	else if (*p == '_')
		n = APK_SUFFIX;
	else if (*p == '-' && p[1] == 'r') {
		n = APK_REVISION_NO;
		p++;
	}
	*s = p + 1;
	/* Parts only go forward (digits, letter, suffixes, revision), with three exceptions. */
	if (n < t && !((n == APK_DIGIT_OR_ZERO && t == APK_DIGIT) ||
		       (n == APK_SUFFIX && t == APK_SUFFIX_NO) || (n == APK_DIGIT && t == APK_LETTER)))
		n = APK_INVALID;
	return n;
}

/* Reads the value of the token of kind *t at *s and sets *t to the kind of the next one. */
static long long apk_token(enum apk_tok *t, const char **s)
{
	const char *p = *s;
	long long v = 0;
	enum apk_tok forced = APK_INVALID;
	if (*p == '\0') {
		*t = APK_END;
		return 0;
	}
	switch (*t) {
	case APK_DIGIT_OR_ZERO:
		if (*p == '0') { /* leading zeros: more zeros sort lower ("1.001" < "1.01" < "1.1") */
			while (*p == '0')
				p++;
			v = -(long long)(p - *s);
			forced = APK_DIGIT;
			break;
		}
		/* fall through */
	case APK_DIGIT:
	case APK_SUFFIX_NO:
	case APK_REVISION_NO: {
		int n = 0;
		while (ver_isdigit(*p)) {
			if (++n > 18) {
				*t = APK_INVALID;
				return -1;
			}
			v = v * 10 + (*p++ - '0');
		}
		break;
	}
	case APK_LETTER:
		v = (unsigned char)*p++;
		break;
	case APK_SUFFIX: {
		bool found = false;
		for (size_t i = 0; i < sizeof apk_pre / sizeof *apk_pre && !found; i++)
			if (strncmp(p, apk_pre[i], strlen(apk_pre[i])) == 0) {
				p += strlen(apk_pre[i]);
				v = (long long)i - (long long)(sizeof apk_pre / sizeof *apk_pre);
				found = true;
			}
		for (size_t i = 0; i < sizeof apk_post / sizeof *apk_post && !found; i++)
			if (strncmp(p, apk_post[i], strlen(apk_post[i])) == 0) {
				p += strlen(apk_post[i]);
				v = (long long)i;
				found = true;
			}
		if (!found) {
			*t = APK_INVALID;
			return -1;
		}
		break;
	}
	case APK_INVALID:
	case APK_END:
		*t = APK_INVALID;
		return -1;
	}
	*s = p;
	if (*p == '\0')
		*t = APK_END;
	else if (forced != APK_INVALID)
		*t = forced;
	else
		*t = apk_next(*t, s);
	return v;
}

int audit_version_cmp_apk(const char *a, const char *b)
{
	a = a ? a : "";
	b = b ? b : "";
	enum apk_tok ta = APK_DIGIT, tb = APK_DIGIT;
	long long va = 0, vb = 0;
	while (ta == tb && ta != APK_END && ta != APK_INVALID && va == vb) {
		va = apk_token(&ta, &a);
		vb = apk_token(&tb, &b);
	}
	if (va != vb)
		return va < vb ? -1 : 1;
	if (ta == tb)
		return 0;
	/* Equal so far: the longer one is newer unless it goes on with a pre-release suffix. */
	if (ta == APK_SUFFIX && apk_token(&ta, &a) < 0)
		return -1;
	if (tb == APK_SUFFIX && apk_token(&tb, &b) < 0)
		return 1;
	if (ta > tb)
		return -1;
	if (tb > ta)
		return 1;
	return 0;
}

/* ---- semver (npm, Go modules) --------------------------------------------------------------- */

/* One dot-separated identifier of [s, e): numeric when only digits. */
static int semver_ident_cmp(const char *a, const char *ae, const char *b, const char *be)
{
	bool na = a < ae, nb = b < be;
	for (const char *q = a; q < ae; q++)
		na = na && ver_isdigit(*q);
	for (const char *q = b; q < be; q++)
		nb = nb && ver_isdigit(*q);
	if (na != nb)
		return na ? -1 : 1; /* numeric identifiers sort before alphanumeric ones */
	if (na) {
		while (a < ae - 1 && *a == '0')
			a++;
		while (b < be - 1 && *b == '0')
			b++;
		if (ae - a != be - b)
			return ae - a < be - b ? -1 : 1;
	}
	size_t la = (size_t)(ae - a), lb = (size_t)(be - b);
	int r = memcmp(a, b, la < lb ? la : lb);
	if (r)
		return r < 0 ? -1 : 1;
	return la == lb ? 0 : la < lb ? -1 : 1;
}

/* Splits "[v]MAJOR.MINOR.PATCH[-PRE][+BUILD]" into the core [*core, *core_end) and pre-release
 * [*pre, *pre_end) (empty when none); false when v is not of that form. */
static bool semver_split(const char *v, const char **core, const char **core_end, const char **pre,
			 const char **pre_end)
{
	if (*v == 'v')
		v++;
	const char *p = v;
	for (int part = 0; part < 3; part++) {
		if (part && *p++ != '.')
			return false;
		if (!ver_isdigit(*p))
			return false;
		while (ver_isdigit(*p))
			p++;
	}
	*core = v;
	*core_end = p;
	*pre = *pre_end = p;
	if (*p == '-') {
		*pre = ++p;
		while (*p && *p != '+')
			p++;
		*pre_end = p;
		if (*pre == *pre_end)
			return false;
	}
	return *p == '\0' || *p == '+';
}

/* Semantic Versioning 2.0.0 precedence (section 11): core numerically, a pre-release before its
 * release, pre-release identifiers one by one; build metadata ignored. Returns 2 when either is
 * not a semver (the caller falls back). */
static int semver_cmp(const char *a, const char *b)
{
	const char *ac, *ace, *ap, *ape, *bc, *bce, *bp, *bpe;
	if (!semver_split(a, &ac, &ace, &ap, &ape) || !semver_split(b, &bc, &bce, &bp, &bpe))
		return 2;
	for (int part = 0; part < 3; part++) {
		const char *ea = ac, *eb = bc;
		while (ea < ace && *ea != '.')
			ea++;
		while (eb < bce && *eb != '.')
			eb++;
		int r = semver_ident_cmp(ac, ea, bc, eb);
		if (r)
			return r;
		ac = ea + (ea < ace);
		bc = eb + (eb < bce);
	}
	if ((ap == ape) != (bp == bpe))
		return ap == ape ? 1 : -1;
	while (ap < ape || bp < bpe) {
		if (ap >= ape || bp >= bpe)
			return ap >= ape ? -1 : 1; /* fewer identifiers sort first */
		const char *ea = memchr(ap, '.', (size_t)(ape - ap)),
			   *eb = memchr(bp, '.', (size_t)(bpe - bp));
		ea = ea ? ea : ape;
		eb = eb ? eb : bpe;
		int r = semver_ident_cmp(ap, ea, bp, eb);
		if (r)
			return r;
		ap = ea + (ea < ape);
		bp = eb + (eb < bpe);
	}
	return 0;
}

/* ---- by package type ------------------------------------------------------------------------ */

int audit_version_cmp(const char *type, const char *a, const char *b)
{
	if (type && (strcmp(type, "rpm") == 0))
		return audit_version_cmp_rpm(a, b);
	if (type && (strcmp(type, "apk") == 0 || strcmp(type, "APKG") == 0))
		return audit_version_cmp_apk(a, b);
	if (type && (strcmp(type, "deb") == 0 || strcmp(type, "dpkg") == 0))
		return audit_version_cmp_dpkg(a, b);
	if (a && b && strcmp(a, b) == 0)
		return 0; /* exact equality decides "same" for every other type */
	if (type && (strcmp(type, "npm") == 0 || strcmp(type, "golang") == 0)) {
		int r = semver_cmp(a ? a : "", b ? b : "");
		if (r != 2)
			return r;
	}
	if (type && (strcmp(type, "python") == 0 || strcmp(type, "gem") == 0)) {
		bool parsed;
		int r = type[0] == 'p' ? audit_version_cmp_pep440(a, b, &parsed)
				       : audit_version_cmp_gem(a, b, &parsed);
		if (parsed)
			return r;
	}
	/* Other ecosystems (Java, and npm/Go/Python/gem versions that do not parse in their form):
	 * dpkg's ordering handles dotted numbers and letter suffixes the way their own tools mostly
	 * do ("1.10" after "1.9"); their pre-release markers ("1.0.0.beta") are not recognised and
	 * sort after the release. */
	return audit_version_cmp_dpkg(a, b);
}
