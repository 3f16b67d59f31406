/* tests/unit/test_sha256.c — overlay_sha256 (the project's own SHA-256, one or two states per
 * pass) against OpenSSL's EVP SHA-256: the FIPS 180-4 example messages, every length from 0 to
 * 300 bytes, random messages fed in random pieces, and overlay_sha256_update2 with the two states
 * at the same and at different places in their blocks and with different earlier bytes. The set
 * runs twice: with the SHA extensions when the CPU has them, and in a child process with
 * STRATA_NO_SHA_NI set (every state is then an OpenSSL context). */
#include "../../overlay/overlay.h"
#include "tap.h"

#include <openssl/evp.h>
#include <string.h>
#include <sys/wait.h>

static uint64_t rnd_state = 0x5eed5eedULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void openssl_sha256(const unsigned char *p, size_t n, unsigned char out[32])
{
	unsigned int len = 0;
	if (!EVP_Digest(p, n, out, &len, EVP_sha256(), NULL))
		abort();
}

/* Digest of p[0..n) fed in random pieces (sizes 0 .. max). */
static void pieces_sha256(const unsigned char *p, size_t n, size_t max, unsigned char out[32])
{
	struct overlay_sha256 c = {0};
	if (overlay_sha256_init(&c) < 0)
		abort();
	for (size_t at = 0; at < n;) {
		size_t k = (size_t)(rnd() % (max + 1));
		if (k > n - at)
			k = n - at;
		overlay_sha256_update(&c, p + at, k);
		at += k;
	}
	overlay_sha256_final(&c, out);
	overlay_sha256_dispose(&c);
}

/* The checks; returns the number that failed. report: print TAP lines (else only count). */
static int run_checks(bool report)
{
	int failed = 0;
#define CHECK(cond, ...)                                                                                     \
	do {                                                                                                 \
		bool c_ = (cond);                                                                            \
		failed += !c_;                                                                               \
		if (report)                                                                                  \
			ok(c_, __VA_ARGS__);                                                                 \
		else if (!c_)                                                                                \
			printf("# failed without the SHA extensions: " __VA_ARGS__), printf("\n");           \
	} while (0)

	/* FIPS 180-4 examples (and the empty message). */
	const char *msgs[] = {"", "abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"};
	const char *want[] = {
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
	};
	for (size_t i = 0; i < 3; i++) {
		unsigned char h[32];
		char hex[65];
		pieces_sha256((const unsigned char *)msgs[i], strlen(msgs[i]), 7, h);
		strata_hex(h, 32, hex);
		CHECK(!strcmp(hex, want[i]), "FIPS 180-4 example %zu (%zu bytes)", i, strlen(msgs[i]));
	}

	size_t big = (size_t)3 << 20;
	unsigned char *data = malloc(big);
	if (!data)
		abort();
	for (size_t i = 0; i < big; i++)
		data[i] = (unsigned char)(rnd() >> 24);

	int bad = 0;
	for (size_t n = 0; n <= 300; n++) {
		unsigned char a[32], b[32];
		openssl_sha256(data, n, b);
		pieces_sha256(data, n, n, a);
		bad += memcmp(a, b, 32) != 0;
	}
	CHECK(bad == 0, "every length 0..300, random pieces: OpenSSL's digest (%d differ)", bad);

	bad = 0;
	for (int t = 0; t < 20; t++) {
		size_t n = (size_t)(rnd() % big);
		unsigned char a[32], b[32];
		openssl_sha256(data, n, b);
		pieces_sha256(data, n, t % 2 ? 100000 : 200, a);
		bad += memcmp(a, b, 32) != 0;
	}
	CHECK(bad == 0, "20 random messages up to 3 MiB, random pieces: OpenSSL's digest (%d differ)", bad);

	/* update2: a has taken `pre_a` other bytes first, b `pre_b` (equal or not modulo 64); then both
	 * take the same pieces. Each must be the digest of its own whole message. */
	bad = 0;
	int runs = 0;
	for (int t = 0; t < 60; t++, runs++) {
		size_t pre_a = (size_t)(rnd() % 300),
		       pre_b = t % 3 == 0 ? (size_t)(rnd() % 300) : pre_a + 64 * (rnd() % 3);
		size_t n = (size_t)(rnd() % (t % 4 ? 200000 : 2000));
		const unsigned char *pa = data + 1000, *pb = data + 5000, *shared = data + 100000;
		struct overlay_sha256 a = {0}, b = {0};
		if (overlay_sha256_init(&a) < 0 || overlay_sha256_init(&b) < 0)
			abort();
		overlay_sha256_update(&a, pa, pre_a);
		overlay_sha256_update(&b, pb, pre_b);
		for (size_t at = 0; at < n;) {
			size_t k = (size_t)(rnd() % 70000);
			if (k > n - at)
				k = n - at;
			overlay_sha256_update2(&a, &b, shared + at, k);
			at += k;
		}
		unsigned char ha[32], hb[32], wa[32], wb[32];
		overlay_sha256_final(&a, ha);
		overlay_sha256_final(&b, hb);
		overlay_sha256_dispose(&a);
		overlay_sha256_dispose(&b);
		unsigned char *ma = malloc(pre_a + n + 1), *mb = malloc(pre_b + n + 1);
		if (!ma || !mb)
			abort();
		memcpy(ma, pa, pre_a);
		memcpy(ma + pre_a, shared, n);
		memcpy(mb, pb, pre_b);
		memcpy(mb + pre_b, shared, n);
		openssl_sha256(ma, pre_a + n, wa);
		openssl_sha256(mb, pre_b + n, wb);
		bad += memcmp(ha, wa, 32) != 0 || memcmp(hb, wb, 32) != 0;
		free(ma);
		free(mb);
	}
	CHECK(bad == 0,
	      "update2 over %d random cases (same and different block positions): each state's own digest "
	      "(%d differ)",
	      runs, bad);

	/* A state is reusable after final: init restarts it. */
	struct overlay_sha256 c = {0};
	unsigned char h1[32], h2[32], w[32];
	overlay_sha256_init(&c);
	overlay_sha256_update(&c, data, 777);
	overlay_sha256_final(&c, h1);
	overlay_sha256_init(&c);
	overlay_sha256_update(&c, data, 777);
	overlay_sha256_final(&c, h2);
	overlay_sha256_dispose(&c);
	openssl_sha256(data, 777, w);
	CHECK(!memcmp(h1, w, 32) && !memcmp(h2, w, 32), "init after final restarts the state");
	free(data);
	return failed;
}

int main(void)
{
	/* The child first: the detection is made once per process, so it must not have run here yet. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		setenv("STRATA_NO_SHA_NI", "1", 1);
		if (overlay_sha256_accelerated())
			_exit(100);
		_exit(run_checks(false) ? 1 : 0);
	}
	int status = 0;
	waitpid(pid, &status, 0);

	if (overlay_sha256_accelerated())
		run_checks(true);
	else
		skip("this CPU has no SHA extensions (or STRATA_NO_SHA_NI is set): the OpenSSL path below "
		     "only");
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "without the SHA extensions (OpenSSL contexts): every check above holds (child status %d)",
	   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return tap_done();
}
