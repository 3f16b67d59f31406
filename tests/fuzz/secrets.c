/* tests/fuzz/secrets.c — libFuzzer target for the secret scanner (audit/secrets_match.c with the
 * built-in rules of audit/secret_rules.json, loaded by audit/secrets_rules.c). The first input
 * byte picks the file's path (so path-scoped rules apply: /etc/shadow, .env, .npmrc, .netrc,
 * .pgpass, htpasswd, a config file, image-config:Env, a source file) and the chunk size the rest is
 * fed in (as the index pass streams a file). Any bytes must scan without crashing or leaking, and
 * every finding must expose no more than its masked preview: at most 4 printable ASCII bytes ('?'
 * for others) then "…", equal to the input bytes at the finding's line and column, and a
 * fingerprint that is 64 lowercase hex digits. */
#include "../../audit/audit_int.h"

#include <stdlib.h>
#include <string.h>

static void fail(const char *what)
{
	fprintf(stderr, "secrets fuzz: %s\n", what);
	abort();
}

static struct secrets_engine *engine;
static struct secrets_stream *stream;

static const char *const paths[] = {
	"/etc/shadow", "/app/.env", "/root/.npmrc", "/root/.netrc", "/root/.pgpass", "/etc/apache2/.htpasswd",
	"/etc/app/settings.yaml", "image-config:Env", "/src/main.py", "/root/.docker/config.json",
	"/root/.kube/config", "/home/u/.ssh/id_rsa",
};

static void setup(void)
{
	struct strata_err *err = NULL;
	struct secret_ruleset *rs = secrets_rules_load(NULL, false, &err);
	if (!rs)
		fail(err ? err->msg : "built-in rules");
	engine = secrets_engine_new(rs, &err);
	if (!engine)
		fail(err ? err->msg : "engine");
	stream = secrets_stream_new(engine, &err);
	if (!stream)
		fail(err ? err->msg : "stream");
}

/* The finding h must point at the secret's first bytes in p[0..n) and show at most 4 of them. */
static void check_hit(const struct secret_hit *h, const uint8_t *p, size_t n)
{
	if (!h->rule || h->line < 1 || h->column < 1)
		fail("hit without rule, line or column");
	size_t fl = strnlen(h->fingerprint, sizeof(h->fingerprint));
	if (fl != 64 || strspn(h->fingerprint, "0123456789abcdef") != 64)
		fail("fingerprint is not 64 lowercase hex digits");
	size_t pl = strnlen(h->preview, sizeof(h->preview));
	if (pl < 3 || pl > 7 || memcmp(h->preview + pl - 3, "\xe2\x80\xa6", 3) != 0)
		fail("preview is not at most 4 bytes and an ellipsis");
	size_t k = pl - 3;
	/* Offset of (line, column) in the input. */
	size_t off = 0;
	for (uint64_t l = 1; l < h->line; l++) {
		const uint8_t *nl = memchr(p + off, '\n', n - off);
		if (!nl)
			fail("hit line past the end of the input");
		off = (size_t)(nl - p) + 1;
	}
	if (h->column - 1 > n - off || k > n - off - (h->column - 1))
		fail("hit column past the end of the input");
	off += h->column - 1;
	for (size_t i = 0; i < k; i++) {
		char want = p[off + i] >= 0x21 && p[off + i] < 0x7f ? (char)p[off + i] : '?';
		if (h->preview[i] != want)
			fail("preview differs from the input at the hit's line and column");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!engine)
		setup();
	if (n < 1)
		return 0;
	const char *path = paths[(d[0] & 0x0f) % (sizeof(paths) / sizeof(paths[0]))];
	size_t chunk = (size_t)1 << (4 + (d[0] >> 4) % 12); /* 16 B .. 32 KiB */
	const uint8_t *p = d + 1;
	size_t pn = n - 1;
	secrets_stream_begin(stream, path);
	for (size_t a = 0; a < pn; a += chunk)
		secrets_stream_feed(stream, p + a, pn - a < chunk ? pn - a : chunk);
	const struct secret_hit *hits = NULL;
	size_t nh = 0;
	bool binary = secrets_stream_end(stream, &hits, &nh);
	if (binary && nh)
		fail("a binary file with findings");
	if (!binary && memchr(p, 0, pn < 8192 ? pn : 8192))
		fail("a NUL in the first 8 KiB and not binary");
	for (size_t i = 0; i < nh; i++)
		check_hit(&hits[i], p, pn);
	return 0;
}
