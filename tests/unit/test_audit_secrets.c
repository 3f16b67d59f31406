/* tests/unit/test_audit_secrets.c — the secret scanner (issue 5) through its rules and stream API:
 * every built-in rule's examples from audit/secret_rules.json (each positive found once with the
 * sha256 of the marked secret as fingerprint, each negative not found); keyword hits across read
 * boundaries found once with the right line and column; binary files skipped; path-scoped rules;
 * rules files that replace or extend the built-in set, and bad rules rejected with the rule named.
 * Examples are templates ({{CLASS*N}} = N pseudo-random characters of CLASS, the secret between
 * « and »), so no complete fake token sits in the repository. */
#include "../../audit/audit_int.h"
#include "tap.h"

#include <openssl/evp.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static char rnd_char(const char *set, size_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return set[rng % n];
}

/* Expands a template: text (owned) and the secret between « and » (owned, "" when unmarked). */
static void expand(const char *t, char **text, char **secret)
{
	size_t cap = strlen(t) * 4 + 4096, n = 0;
	char *o = xcalloc(1, cap);
	size_t s0 = SIZE_MAX, s1 = SIZE_MAX;
	while (*t) {
		if (!strncmp(t, "\xc2\xab", 2)) {
			s0 = n;
			t += 2;
		} else if (!strncmp(t, "\xc2\xbb", 2)) {
			s1 = n;
			t += 2;
		} else if (!strncmp(t, "{{", 2) && strstr(t, "}}")) {
			const char *end = strstr(t, "}}");
			const char *star = memrchr(t + 2, '*', (size_t)(end - (t + 2)));
			char set[256];
			size_t k = 0;
			for (const char *c = t + 2; star && c < star && k < sizeof(set) - 64;) {
				if (c + 2 < star && c[1] == '-') {
					for (int x = (unsigned char)c[0]; x <= (unsigned char)c[2]; x++)
						set[k++] = (char)x;
					c += 3;
				} else {
					set[k++] = *c++;
				}
			}
			long cnt = strtol(star + 1, NULL, 10);
			for (long i = 0; i < cnt && n + 1 < cap; i++)
				o[n++] = rnd_char(set, k);
			t = end + 2;
		} else {
			o[n++] = *t++;
		}
	}
	o[n] = 0;
	*text = o;
	*secret = s0 != SIZE_MAX && s1 != SIZE_MAX ? xstrndup(o + s0, s1 - s0) : xstrdup("");
}

static void sha_hex(const char *s, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int l;
	EVP_Digest(s, n, md, &l, EVP_sha256(), NULL);
	strata_hex(md, 32, out);
}

static struct secrets_engine *E;
static struct secrets_stream *S;

/* Scans text as the file path fed in pieces of step bytes; hits borrowed. */
static const struct secret_hit *scan(const char *path, const char *text, size_t len, size_t step, size_t *n,
				     bool *binary)
{
	secrets_stream_begin(S, path);
	for (size_t off = 0; off < len; off += step)
		secrets_stream_feed(S, text + off, len - off < step ? len - off : step);
	const struct secret_hit *h;
	bool b = secrets_stream_end(S, &h, n);
	if (binary)
		*binary = b;
	return h;
}

static size_t count_rule(const struct secret_hit *h, size_t n, const char *rule, const char *fp)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(h[i].rule->id, rule) && (!fp || !strcmp(h[i].fingerprint, fp)))
			k++;
	return k;
}

static void test_examples(const struct secret_ruleset *rs)
{
	size_t with_both = 0;
	for (size_t i = 0; i < rs->n; i++) {
		const struct secret_rule *r = &rs->v[i];
		const char *path = r->example_path ? r->example_path : "/srv/app/settings.txt";
		with_both += r->npositive && r->nnegative;
		for (size_t k = 0; k < r->npositive; k++) {
			char *text, *secret, fp[65];
			expand(r->positive[k], &text, &secret);
			sha_hex(secret, strlen(secret), fp);
			size_t n;
			const struct secret_hit *h = scan(path, text, strlen(text), 7, &n, NULL);
			ok(*secret && count_rule(h, n, r->id, fp) == 1, "%s: positive example %zu found once, fingerprint = sha256 of the secret",
			   r->id, k + 1);
			bool masked = true;
			for (size_t j = 0; j < n; j++)
				masked &= strlen(h[j].preview) <= 4 + 3 && !strncmp(h[j].preview + strlen(h[j].preview) - 3, "\xe2\x80\xa6", 3);
			ok(masked, "%s: previews are at most 4 characters and an ellipsis", r->id);
			free(text);
			free(secret);
		}
		for (size_t k = 0; k < r->nnegative; k++) {
			char *text, *secret;
			expand(r->negative[k], &text, &secret);
			size_t n;
			const struct secret_hit *h = scan(path, text, strlen(text), 4096, &n, NULL);
			ok(count_rule(h, n, r->id, NULL) == 0, "%s: negative example %zu not reported", r->id, k + 1);
			free(text);
			free(secret);
		}
	}
	ok(rs->n >= 40 && with_both == rs->n, "%zu built-in rules, every one with positive and negative examples", rs->n);
}

/* A token straddling read boundaries deep in a large file, fed in odd pieces. */
static void test_stream_edges(void)
{
	char *tok, *secret, fp[65];
	expand("«ghp_{{A-Za-z0-9*36}}»", &tok, &secret);
	sha_hex(secret, strlen(secret), fp);
	size_t len = 3u << 20;
	char *big = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		big[i] = (i % 80 == 79) ? '\n' : "lorem ipsum dolor sit amet "[i % 27];
	size_t at[] = {65536 - 10, 200000, (1u << 20) + 65536 - 3, len - 60};
	for (size_t i = 0; i < 4; i++) {
		big[at[i] - 1] = ' ';
		memcpy(big + at[i], secret, strlen(secret));
		big[at[i] + strlen(secret)] = ' ';
	}
	size_t steps[] = {1000, 65536, 4093, 1u << 20};
	for (size_t s = 0; s < 4; s++) {
		size_t n;
		const struct secret_hit *h = scan("/var/log/big.log", big, len, steps[s], &n, NULL);
		bool lines = n == 4;
		for (size_t i = 0; lines && i < 4; i++) {
			size_t line = 1, col = 1;
			for (size_t j = 0; j < at[i]; j++)
				if (big[j] == '\n') {
					line++;
					col = 1;
				} else {
					col++;
				}
			lines = h[i].line == line && h[i].column == col && !strcmp(h[i].fingerprint, fp);
		}
		ok(count_rule(h, n, "github-pat", fp) == 4 && lines,
		   "3 MiB file in pieces of %zu bytes: 4 tokens across piece edges found once each, lines and columns right",
		   steps[s]);
	}
	memcpy(big + 100, "\0", 1);
	size_t n;
	bool binary;
	scan("/bin/blob", big, len, 65536, &n, &binary);
	ok(binary && n == 0, "a NUL byte in the first 8 KiB: binary, not scanned");
	free(big);
	free(tok);
	free(secret);
}

static void test_paths(void)
{
	char *text, *secret;
	expand("alice:«$6${{a-z0-9*16}}${{A-Za-z0-9./*86}}»:19000:0:99999:7:::\n", &text, &secret);
	size_t n;
	const struct secret_hit *h = scan("/etc/shadow", text, strlen(text), 5, &n, NULL);
	ok(count_rule(h, n, "shadow-password-hash", NULL) == 1, "shadow hash found in /etc/shadow");
	h = scan("/usr/share/doc/shadow.txt", text, strlen(text), 5, &n, NULL);
	ok(count_rule(h, n, "shadow-password-hash", NULL) == 0, "the same line elsewhere: not a shadow finding");
	free(text);
	free(secret);
	expand("password = \"«{{A-Za-z0-9*20}}»\"\n", &text, &secret);
	h = scan("/usr/lib/python3/site.py", text, strlen(text), 64, &n, NULL);
	ok(count_rule(h, n, "generic-password", NULL) == 0, "generic password: not in a .py file");
	h = scan("/etc/app/app.ini", text, strlen(text), 64, &n, NULL);
	ok(count_rule(h, n, "generic-password", NULL) == 1, "generic password: found in an .ini file");
	free(text);
	free(secret);
}

static char *write_tmp(const char *body)
{
	char *p = xstrdup("/tmp/strata-rules-XXXXXX");
	int fd = mkstemp(p);
	if (fd < 0 || write(fd, body, strlen(body)) != (ssize_t)strlen(body))
		abort();
	close(fd);
	return p;
}

static void test_rules_files(void)
{
	const char *custom = "{\"rules\": [{\"id\": \"acme-token\", \"description\": \"ACME token\", \"keywords\": [\"acme_\"],"
			     " \"pattern\": \"(?<secret>acme_[0-9a-f]{24})\"}]}";
	char *f = write_tmp(custom);
	struct strata_err *err = NULL;
	struct secret_ruleset *rs = secrets_rules_load(f, true, &err);
	ok(rs && rs->n > 40 && !strcmp(rs->v[rs->n - 1].id, "acme-token"), "extend: built-in rules plus the file's");
	secrets_ruleset_free(rs);
	rs = secrets_rules_load(f, false, &err);
	ok(rs && rs->n == 1, "replace: only the file's rule");
	struct secrets_engine *e = rs ? secrets_engine_new(rs, &err) : NULL;
	struct secrets_stream *s = e ? secrets_stream_new(e, &err) : NULL;
	if (s) {
		char *text, *secret;
		expand("x «acme_{{a-f0-9*24}}» ghp_{{A-Za-z0-9*36}}\n", &text, &secret);
		secrets_stream_begin(s, "/a");
		secrets_stream_feed(s, text, strlen(text));
		const struct secret_hit *h;
		size_t n;
		secrets_stream_end(s, &h, &n);
		ok(n == 1 && !strcmp(h[0].rule->id, "acme-token"), "replace: the custom rule finds, the built-in ones are gone");
		free(text);
		free(secret);
	} else {
		ok(0, "custom engine");
	}
	secrets_stream_free(s);
	secrets_engine_free(e);
	unlink(f);
	free(f);
	static const char *const bad[][2] = {
		{"{\"rules\": [{\"id\": \"r1\", \"keywords\": [\"k\"], \"pattern\": \"(?<secret>[a-\"}]}", "r1"},
		{"{\"rules\": [{\"id\": \"r2\", \"keywords\": [\"k\"], \"pattern\": \"k[0-9]+\"}]}", "secret"},
		{"{\"rules\": [{\"id\": \"r3\", \"pattern\": \"(?<secret>x)\"}]}", "paths"},
		{"{\"rules\": [{\"id\": \"r4\", \"keywords\": [\"k\"], \"pattern\": \"(?<secret>k)\", \"paths\": [\"(\"]}]}", "r4"},
		{"{\"rules\": 3}", "rules"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = write_tmp(bad[i][0]);
		strata_err_free(err);
		err = NULL;
		rs = secrets_rules_load(f, false, &err);
		ok(!rs && err && strstr(err->msg, bad[i][1]), "bad rules file %zu rejected: %s", i + 1, err ? err->msg : "(accepted)");
		secrets_ruleset_free(rs);
		unlink(f);
		free(f);
	}
	strata_err_free(err);
}

int main(void)
{
	struct strata_err *err = NULL;
	struct secret_ruleset *rs = secrets_rules_load(NULL, false, &err);
	if (!ok(rs != NULL, "built-in rules load: %s", err ? err->msg : "ok"))
		return tap_done();
	E = secrets_engine_new(rs, &err);
	S = E ? secrets_stream_new(E, &err) : NULL;
	if (!ok(S != NULL, "Vectorscan database and stream: %s", err ? err->msg : "ok"))
		return tap_done();
	test_examples(secrets_engine_rules(E));
	test_stream_edges();
	test_paths();
	test_rules_files();
	secrets_stream_free(S);
	secrets_engine_free(E);
	strata_err_free(err);
	return tap_done();
}
