/* tests/fuzz/attest_parse.c — libFuzzer target for the signature and attestation parsers
 * (policy/attest.c, attest_keys.c): cosign simple-signing payloads, DSSE envelopes with in-toto
 * statements, sigstore bundles, the base64 decoder, SLSA provenance and the JSON path reader.
 * The first input byte picks the form: 0 simple signing (the first line is the base64 signature,
 * the rest the payload), 1 DSSE envelope, 2 sigstore bundle, 3 anything else (the rest is also
 * given as the annotations JSON). One ECDSA P-256 key is trusted (its public half is below; the
 * seeds in tests/fuzz/corpus/attest_parse/ were signed with its private half by `openssl`, so the
 * verified paths run too). The image digest is sha256("strata-fuzz"). Any bytes must give a
 * status and a reason, never a crash, a leak or an out-of-bounds read. */
#include "../../policy/policy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char pubkey[] = "-----BEGIN PUBLIC KEY-----\n"
			     "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7UZd+6HlXGublyannSnejn+8kluv\n"
			     "spToQCRG1a1HJuOhjbAgo+GtfOCHH+gW4zCfpjSSu7h3Ax4aP37/y5uVHw==\n"
			     "-----END PUBLIC KEY-----\n";
static const char image_digest[] = "sha256:2adabc7225d765a4fc44b7238947a261b9948cb79d3e54481a18c1efe4dd2120";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_trust_key(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	char path[] = "/tmp/strata-fuzz-key.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, pubkey, strlen(pubkey)) != (ssize_t)strlen(pubkey))
		abort();
	close(fd);
	struct strata_err *e = NULL;
	if (policy_trust_key_add(path, &e) < 0)
		abort();
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_trust_key();
	if (size < 1)
		return 0;
	int form = data[0] % 4;
	const unsigned char *p = data + 1;
	size_t n = size - 1;
	char *sig = NULL, *ann = NULL;
	const char *mt = NULL, *at = NULL;
	switch (form) {
	case 0: {
		const unsigned char *nl = memchr(p, '\n', n);
		size_t sl = nl ? (size_t)(nl - p) : 0;
		sig = xstrndup((const char *)p, sl);
		if (nl) {
			p += sl + 1;
			n -= sl + 1;
		}
		mt = "application/vnd.dev.cosign.simplesigning.v1+json";
		break;
	}
	case 1:
		mt = "application/vnd.dsse.envelope.v1+json";
		break;
	case 2:
		mt = "application/vnd.dev.sigstore.bundle.v0.3+json";
		break;
	default:
		at = "application/vnd.in-toto+json";
		ann = xstrndup((const char *)p, n);
		break;
	}
	unsigned char *copy = xmalloc(n ? n : 1); /* exact size, so ASan sees any over-read */
	memcpy(copy, p, n);
	struct attest_check c;
	attest_check_blob(mt, at, copy, n, sig, ann, image_digest, &c);
	if (!c.status || !c.reason || (c.verified && (!c.sig_ok || !c.about_image || c.key < 0)))
		abort();
	if (c.statement) {
		struct attest_provenance pv;
		attest_provenance_read(c.statement, &pv);
		attest_provenance_clear(&pv);
		attest_json_path(c.statement, ".predicate.buildDefinition.resolvedDependencies[0].uri");
		attest_json_path(c.statement, (const char *)"..subject[99999999999999999999]");
	}
	attest_check_clear(&c);
	unsigned char *dec = NULL;
	size_t dl = 0;
	if (attest_base64_decode((const char *)copy, n, &dec, &dl) == 0) {
		if (dl > n)
			abort();
		free(dec);
	}
	free(copy);
	free(sig);
	free(ann);
	return 0;
}
