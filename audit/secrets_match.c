/* audit/secrets_match.c — the secret matcher (issue 5). Two stages: every rule's keywords are
 * compiled into one Vectorscan streaming database that sees each byte of a file once (a stream
 * per file, so keywords across read boundaries are found); each keyword hit opens a window in a
 * bounded tail buffer of the file where the rule's PCRE2 pattern (JIT) confirms the match and
 * extracts the `secret` group. Rules without keywords are path-scoped and run over the whole
 * (small) file at its end. A hit is reduced at once to its sha256 fingerprint and a 4-byte
 * preview; every buffer that held file bytes is wiped. */
#include "audit_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <math.h>
#include <openssl/evp.h>
#include <pcre2.h>
#include <string.h>

#define SECRETS_BEFORE 256u          /* bytes before a keyword's end a match may start */
#define SECRETS_MERGE_SPAN (16u << 10) /* hits of one rule closer than BEFORE merge, up to this span */
#define SECRETS_PIECE (64u << 10)    /* bytes handed to Vectorscan at a time */
#define SECRETS_WHOLE_MAX (1u << 20) /* largest file kept whole for rules without keywords */
#define SECRETS_BINARY_PROBE 8192u
#define SECRETS_MAX_HITS 1000u       /* findings kept per file */

struct secrets_engine {
	struct secret_ruleset *rs;
	hs_database_t *db;  /* NULL when no rule has keywords */
	size_t *kw_rule;    /* Vectorscan pattern id → rule index */
	size_t nkw;
};

struct secrets_pending {
	size_t rule;
	uint64_t first, last; /* absolute end offsets of the first and last keyword hit */
};

struct secrets_stream {
	const struct secrets_engine *e;
	hs_scratch_t *scratch;
	hs_stream_t *hs;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;
	unsigned char *buf;
	size_t len, cap;
	uint64_t base;        /* absolute offset of buf[0] */
	uint64_t scanned;     /* absolute offset up to which Vectorscan has seen the bytes */
	uint64_t base_line;   /* line number of buf[0] */
	uint64_t base_lstart; /* absolute offset where the line holding buf[0] starts */
	bool probed, binary, whole;
	bool scan_binary;     /* --secret-scan-binary: no file counts as binary */
	bool *enabled;        /* per rule: applies to this file's path */
	uint64_t *from;       /* per rule: matches starting before this were looked for */
	struct secrets_pending *pend;
	size_t npend, cappend;
	struct secret_hit *hits;
	size_t nhits, caphits;
};

struct secrets_engine *secrets_engine_new(struct secret_ruleset *rs, struct strata_err **err)
{
	struct secrets_engine *e = xcalloc(1, sizeof(*e));
	e->rs = rs;
	size_t total = 0;
	for (size_t i = 0; i < rs->n; i++)
		total += rs->v[i].nkeywords;
	if (!total)
		return e;
	char **exprs = xcalloc(total, sizeof(*exprs));
	unsigned *flags = xcalloc(total, sizeof(*flags));
	unsigned *ids = xcalloc(total, sizeof(*ids));
	e->kw_rule = xcalloc(total, sizeof(*e->kw_rule));
	for (size_t i = 0; i < rs->n; i++)
		for (size_t k = 0; k < rs->v[i].nkeywords; k++) {
			const char *kw = rs->v[i].keywords[k];
			size_t l = strlen(kw);
			char *x = xmalloc(4 * l + 1);
			for (size_t j = 0; j < l; j++)
				snprintf(x + 4 * j, 5, "\\x%02x", (unsigned char)kw[j]);
			exprs[e->nkw] = x;
			flags[e->nkw] = rs->v[i].keywords_case ? 0 : HS_FLAG_CASELESS;
			ids[e->nkw] = (unsigned)e->nkw;
			e->kw_rule[e->nkw++] = i;
		}
	hs_compile_error_t *ce = NULL;
	hs_error_t rc = hs_compile_multi((const char *const *)exprs, flags, ids, (unsigned)e->nkw, HS_MODE_STREAM, NULL,
					 &e->db, &ce);
	for (size_t i = 0; i < e->nkw; i++)
		free(exprs[i]);
	free(exprs);
	free(flags);
	free(ids);
	if (rc != HS_SUCCESS) {
		size_t bad = ce && ce->expression >= 0 ? e->kw_rule[ce->expression] : 0;
		strata_err_set(err, STRATA_EFORMAT, "secret rule %s: keyword prefilter: %s", rs->v[bad].id,
			       ce && ce->message ? ce->message : "compile error");
		hs_free_compile_error(ce);
		secrets_engine_free(e);
		return NULL;
	}
	return e;
}

void secrets_engine_free(struct secrets_engine *e)
{
	if (!e)
		return;
	hs_free_database(e->db);
	free(e->kw_rule);
	secrets_ruleset_free(e->rs);
	free(e);
}

const struct secret_ruleset *secrets_engine_rules(const struct secrets_engine *e)
{
	return e->rs;
}

struct secrets_stream *secrets_stream_new(const struct secrets_engine *e, struct strata_err **err)
{
	struct secrets_stream *s = xcalloc(1, sizeof(*s));
	s->e = e;
	if (e->db && hs_alloc_scratch(e->db, &s->scratch) != HS_SUCCESS) {
		free(s);
		strata_err_set(err, STRATA_EIO, "secrets: cannot allocate Vectorscan scratch space");
		return NULL;
	}
	s->md = pcre2_match_data_create(32, NULL);
	s->mctx = pcre2_match_context_create(NULL);
	s->jit = pcre2_jit_stack_create(32 << 10, 1 << 20, NULL);
	if (!s->md || !s->mctx)
		abort();
	if (s->jit)
		pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
	s->enabled = xcalloc(e->rs->n + 1, sizeof(*s->enabled));
	s->from = xcalloc(e->rs->n + 1, sizeof(*s->from));
	return s;
}

/* Only buf[0 .. len) can hold file bytes: secrets_trim zeroes what it moves away from, and a new
 * buffer gets only the kept bytes. (Wiping the whole capacity at every file's end cost more than
 * the scan of most small files.) */
static void secrets_wipe(struct secrets_stream *s)
{
	if (s->buf)
		explicit_bzero(s->buf, s->len);
	s->len = 0;
}

void secrets_stream_free(struct secrets_stream *s)
{
	if (!s)
		return;
	if (s->hs)
		hs_close_stream(s->hs, NULL, NULL, NULL);
	secrets_wipe(s);
	free(s->buf);
	free(s->hits);
	free(s->pend);
	free(s->enabled);
	free(s->from);
	hs_free_scratch(s->scratch);
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	if (s->jit)
		pcre2_jit_stack_free(s->jit);
	free(s);
}

void secrets_stream_scan_binary(struct secrets_stream *s, bool on) { s->scan_binary = on; }

void secrets_stream_begin(struct secrets_stream *s, const char *path)
{
	const struct secret_ruleset *rs = s->e->rs;
	secrets_wipe(s); /* a file left without secrets_stream_end */
	s->base = s->scanned = s->base_lstart = 0;
	s->base_line = 1;
	s->probed = s->binary = s->whole = false;
	s->npend = s->nhits = 0;
	for (size_t i = 0; i < rs->n; i++) {
		s->enabled[i] = secrets_rule_applies(rs, &rs->v[i], path);
		s->from[i] = 0;
		s->whole |= s->enabled[i] && !rs->v[i].nkeywords;
	}
	if (s->hs)
		hs_close_stream(s->hs, NULL, NULL, NULL);
	s->hs = NULL;
	if (s->e->db && hs_open_stream(s->e->db, 0, &s->hs) != HS_SUCCESS)
		s->hs = NULL; /* out of memory in Vectorscan: keyword rules see nothing of this file */
}

/* Shannon entropy of p[0..n) in bits per byte. */
static double secrets_entropy(const unsigned char *p, size_t n)
{
	size_t count[256] = {0};
	for (size_t i = 0; i < n; i++)
		count[p[i]]++;
	double h = 0;
	for (size_t i = 0; i < 256; i++)
		if (count[i]) {
			double f = (double)count[i] / (double)n;
			h -= f * log2(f);
		}
	return h;
}

/* Records the secret buf[gs..ge) for rule r unless it is allowed or below the entropy floor. */
static void secrets_record(struct secrets_stream *s, const struct secret_rule *r, size_t gs, size_t ge)
{
	const unsigned char *sec = s->buf + gs;
	size_t n = ge - gs;
	if (s->nhits >= SECRETS_MAX_HITS || (r->min_entropy > 0 && secrets_entropy(sec, n) < r->min_entropy) ||
	    secrets_rule_allowed(s->e->rs, r, sec, n))
		return;
	if (s->nhits == s->caphits) {
		s->caphits = s->caphits ? 2 * s->caphits : 8;
		s->hits = xrealloc(s->hits, s->caphits * sizeof(*s->hits));
	}
	struct secret_hit *h = &s->hits[s->nhits++];
	memset(h, 0, sizeof(*h));
	h->rule = r;
	uint64_t lines = 0;
	size_t last_nl = SIZE_MAX;
	for (size_t i = 0; i < gs; i++)
		if (s->buf[i] == '\n') {
			lines++;
			last_nl = i;
		}
	h->line = s->base_line + lines;
	h->column = last_nl == SIZE_MAX ? s->base + gs - s->base_lstart + 1 : gs - last_nl;
	h->offset = s->base + gs;
	h->length = n;
	unsigned char md[32];
	unsigned int mdlen = 0;
	if (!EVP_Digest(sec, n, md, &mdlen, EVP_sha256(), NULL))
		abort();
	strata_hex(md, 32, h->fingerprint);
	size_t k = 0;
	for (size_t i = 0; i < n && i < 4; i++)
		h->preview[k++] = sec[i] >= 0x21 && sec[i] < 0x7f ? (char)sec[i] : '?';
	memcpy(h->preview + k, "\xe2\x80\xa6", 4); /* "…" and the NUL */
}

/* Runs rule ri over buf from absolute offset start (at least) to end, keeping matches that start
 * at or before last. */
static void secrets_confirm(struct secrets_stream *s, size_t ri, uint64_t start, uint64_t last, uint64_t end)
{
	const struct secret_rule *r = &s->e->rs->v[ri];
	if (start < s->from[ri])
		start = s->from[ri];
	if (start < s->base)
		start = s->base;
	if (end > s->base + s->len)
		end = s->base + s->len;
	size_t off = (size_t)(start - s->base), sublen = (size_t)(end - s->base);
	while (off < sublen) {
		int rc = pcre2_match(r->re, s->buf, sublen, off, 0, s->md, s->mctx);
		if (rc < 0)
			break; /* no match, or a resource limit: nothing more from this rule here */
		const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
		size_t ms = ov[0], me = ov[1];
		if (s->base + ms > last)
			break;
		size_t gs = ov[2 * r->group], ge = ov[2 * r->group + 1];
		if (gs != PCRE2_UNSET && ge > gs)
			secrets_record(s, r, gs, ge);
		off = me > ms ? me : ms + 1;
		s->from[ri] = s->base + off;
	}
	if (s->from[ri] < last + 1)
		s->from[ri] = last + 1;
}

/* Confirms the pending hits whose window is complete (all of them at the end of the file). */
static void secrets_confirm_ready(struct secrets_stream *s, bool at_end)
{
	size_t k = 0;
	uint64_t have = s->base + s->len;
	for (size_t i = 0; i < s->npend; i++) {
		const struct secrets_pending *p = &s->pend[i];
		uint64_t end = p->last + s->e->rs->v[p->rule].window;
		if (!at_end && end > have) {
			s->pend[k++] = *p;
			continue;
		}
		secrets_confirm(s, p->rule, p->first > SECRETS_BEFORE ? p->first - SECRETS_BEFORE : 0, p->last, end);
	}
	s->npend = k;
}

static int secrets_on_hit(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
			  void *ctx)
{
	(void)from;
	(void)flags;
	struct secrets_stream *s = ctx;
	size_t ri = s->e->kw_rule[id];
	if (!s->enabled[ri] || to < s->from[ri])
		return 0;
	for (size_t i = s->npend; i-- > 0 && i + 8 >= s->npend;) {
		struct secrets_pending *p = &s->pend[i];
		if (p->rule == ri && to <= p->last + SECRETS_BEFORE && to - p->first < SECRETS_MERGE_SPAN) {
			if (to > p->last)
				p->last = to;
			return 0;
		}
	}
	if (s->npend == s->cappend) {
		s->cappend = s->cappend ? 2 * s->cappend : 16;
		s->pend = xrealloc(s->pend, s->cappend * sizeof(*s->pend));
	}
	s->pend[s->npend++] = (struct secrets_pending){.rule = ri, .first = to, .last = to};
	return 0;
}

/* Drops the bytes no pending or future hit can need, keeping line bookkeeping. */
static void secrets_trim(struct secrets_stream *s)
{
	if (s->whole && s->len <= SECRETS_WHOLE_MAX)
		return;
	s->whole = false;
	uint64_t keep = s->base + s->len > SECRETS_BEFORE ? s->base + s->len - SECRETS_BEFORE : 0;
	for (size_t i = 0; i < s->npend; i++) {
		uint64_t f = s->pend[i].first > SECRETS_BEFORE ? s->pend[i].first - SECRETS_BEFORE : 0;
		if (f < keep)
			keep = f;
	}
	if (keep <= s->base || keep - s->base < SECRETS_PIECE)
		return;
	size_t drop = (size_t)(keep - s->base);
	for (size_t i = 0; i < drop; i++)
		if (s->buf[i] == '\n') {
			s->base_line++;
			s->base_lstart = s->base + i + 1;
		}
	memmove(s->buf, s->buf + drop, s->len - drop);
	explicit_bzero(s->buf + s->len - drop, drop);
	s->len -= drop;
	s->base += drop;
}

/* Hands the bytes Vectorscan has not seen yet to it. */
static void secrets_scan_new(struct secrets_stream *s)
{
	uint64_t have = s->base + s->len;
	if (s->hs && have > s->scanned)
		hs_scan_stream(s->hs, (const char *)s->buf + (s->scanned - s->base), (unsigned)(have - s->scanned), 0,
			       s->scratch, secrets_on_hit, s);
	s->scanned = have;
}

static void secrets_probe(struct secrets_stream *s)
{
	s->probed = true;
	s->binary = !s->scan_binary && s->len &&
		    memchr(s->buf, 0, s->len < SECRETS_BINARY_PROBE ? s->len : SECRETS_BINARY_PROBE);
	if (s->binary)
		secrets_wipe(s);
}

void secrets_stream_feed(struct secrets_stream *s, const void *data, size_t len)
{
	const unsigned char *p = data;
	while (len && !s->binary) {
		size_t take = len < SECRETS_PIECE ? len : SECRETS_PIECE;
		if (s->len + take > s->cap) {
			size_t ncap = s->cap ? s->cap : SECRETS_PIECE;
			while (ncap < s->len + take)
				ncap *= 2;
			unsigned char *nb = xmalloc(ncap);
			size_t keep = s->len;
			if (keep)
				memcpy(nb, s->buf, keep);
			secrets_wipe(s);
			free(s->buf);
			s->buf = nb;
			s->cap = ncap;
			s->len = keep;
		}
		memcpy(s->buf + s->len, p, take);
		s->len += take;
		p += take;
		len -= take;
		if (!s->probed) {
			if (s->base + s->len < SECRETS_BINARY_PROBE)
				continue;
			secrets_probe(s);
			if (s->binary)
				break;
		}
		secrets_scan_new(s);
		secrets_confirm_ready(s, false);
		secrets_trim(s);
	}
}

bool secrets_stream_end(struct secrets_stream *s, const struct secret_hit **hits, size_t *n)
{
	if (!s->probed && !s->binary)
		secrets_probe(s);
	if (!s->binary) {
		secrets_scan_new(s);
		secrets_confirm_ready(s, true);
		if (s->whole && s->base == 0)
			for (size_t i = 0; i < s->e->rs->n; i++)
				if (s->enabled[i] && !s->e->rs->v[i].nkeywords)
					secrets_confirm(s, i, 0, s->len, s->len);
	} else {
		s->nhits = 0;
	}
	if (s->hs)
		hs_close_stream(s->hs, NULL, NULL, NULL);
	s->hs = NULL;
	secrets_wipe(s);
	*hits = s->hits;
	*n = s->nhits;
	return s->binary;
}
