/* overlay/sha256.c — SHA-256 with its state held here, so that two digests of the same bytes can
 * be computed in one pass.
 *
 * Why not OpenSSL alone: the index pass computes two SHA-256 digests of almost every byte of a
 * layer — the uncompressed stream's (the diff_id) and each regular file's — and OpenSSL's EVP
 * interface hashes one message at a time. With the x86 SHA extensions one block costs a chain of
 * 32 dependent sha256rnds2 instructions, so a single digest is bound by their latency, not by the
 * core's throughput. Hashing the same block into two states interleaves two independent chains and
 * computes the message schedule once. On the AMD EPYC this project is measured on, one digest runs
 * at 1.5-1.7 GB/s (as OpenSSL's does) and two digests of the same bytes at 1.25-1.3 GB/s of input,
 * where two single passes give 0.8.
 *
 * Without the SHA extensions (other CPUs, other architectures) every state is an OpenSSL EVP
 * context and overlay_sha256_update2 is two updates: OpenSSL's own assembly is then the fastest
 * thing there is. The algorithm is FIPS 180-4; the round constants and initial values are the
 * standard's. The lane layout of the SHA-NI state (ABEF/CDGH) is the one Intel's SHA extensions
 * reference describes. tests/unit/test_sha256.c checks both paths against OpenSSL.
 */
#include "overlay_int.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SHA256_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t sha256_init_h[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

#ifdef SHA256_NI
static const uint32_t sha256_k[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define SHA_NI_TARGET __attribute__((target("sha,sse4.1,ssse3")))

/* h[0..7] = a..h  <->  the two registers sha256rnds2 works on: s0 = ABEF, s1 = CDGH (high to low). */
SHA_NI_TARGET static inline void ni_load(const uint32_t h[8], __m128i *s0, __m128i *s1)
{
	__m128i dcba = _mm_loadu_si128((const __m128i *)h);
	__m128i hgfe = _mm_loadu_si128((const __m128i *)(h + 4));
	__m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
	__m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
	*s0 = _mm_alignr_epi8(cdab, efgh, 8);	 /* ABEF */
	*s1 = _mm_blend_epi16(efgh, cdab, 0xF0); /* CDGH */
}

SHA_NI_TARGET static inline void ni_store(uint32_t h[8], __m128i s0, __m128i s1)
{
	__m128i feba = _mm_shuffle_epi32(s0, 0x1B);
	__m128i dchg = _mm_shuffle_epi32(s1, 0xB1);
	_mm_storeu_si128((__m128i *)h, _mm_blend_epi16(feba, dchg, 0xF0));    /* DCBA */
	_mm_storeu_si128((__m128i *)(h + 4), _mm_alignr_epi8(dchg, feba, 8)); /* HGFE */
}

/* Compresses n 64-byte blocks at p into ha and, when hb is not NULL, the same blocks into hb. The
 * message schedule is computed once; the two states' round chains are independent, so the core
 * overlaps them. */
SHA_NI_TARGET static void ni_blocks(uint32_t ha[8], uint32_t *hb, const unsigned char *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	const bool two = hb != NULL;
	__m128i a0, a1, b0 = _mm_setzero_si128(), b1 = _mm_setzero_si128();
	ni_load(ha, &a0, &a1);
	if (two)
		ni_load(hb, &b0, &b1);
	for (; n > 0; n--, p += 64) {
		const __m128i sa0 = a0, sa1 = a1, sb0 = b0, sb1 = b1;
		__m128i w[4]; /* w[g % 4] = message words 4g .. 4g+3 */
		for (int i = 0; i < 4; i++)
			w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
#pragma GCC unroll 16
		for (int g = 0; g < 16; g++) {
			__m128i wk =
			    _mm_add_epi32(w[g & 3], _mm_load_si128((const __m128i *)(sha256_k + 4 * g)));
			__m128i wk_hi = _mm_shuffle_epi32(wk, 0x0E);
			a1 = _mm_sha256rnds2_epu32(a1, a0, wk);
			if (two)
				b1 = _mm_sha256rnds2_epu32(b1, b0, wk);
			a0 = _mm_sha256rnds2_epu32(a0, a1, wk_hi);
			if (two)
				b0 = _mm_sha256rnds2_epu32(b0, b1, wk_hi);
			if (g < 12) {
				/* words 4g+16 .. 4g+19 from 4g .. 4g+15 (FIPS 180-4 6.2.2 step 1) */
				__m128i x = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
				x = _mm_add_epi32(x, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
				w[g & 3] = _mm_sha256msg2_epu32(x, w[(g + 3) & 3]);
			}
		}
		a0 = _mm_add_epi32(a0, sa0);
		a1 = _mm_add_epi32(a1, sa1);
		if (two) {
			b0 = _mm_add_epi32(b0, sb0);
			b1 = _mm_add_epi32(b1, sb1);
		}
	}
	ni_store(ha, a0, a1);
	if (two)
		ni_store(hb, b0, b1);
}

static bool ni_present;

static void ni_detect(void)
{
	unsigned int a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19)))
		return; /* SSSE3, SSE4.1 */
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 29)))
		return;					 /* SHA */
	ni_present = getenv("STRATA_NO_SHA_NI") == NULL; /* lets the tests run the OpenSSL path too */
}
#endif

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md; /* the fallback's algorithm, fetched once (OpenSSL 3 looks it up per init) */

static void sha256_setup(void)
{
#ifdef SHA256_NI
	ni_detect();
	if (ni_present)
		return;
#endif
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); /* NULL: EVP_sha256() at each init */
}

bool overlay_sha256_accelerated(void)
{
	pthread_once(&sha256_once, sha256_setup);
#ifdef SHA256_NI
	return ni_present;
#else
	return false;
#endif
}

int overlay_sha256_init(struct overlay_sha256 *c)
{
	c->len = 0;
	c->buflen = 0;
	memcpy(c->h, sha256_init_h, sizeof(c->h));
	if (overlay_sha256_accelerated())
		return 0;
	if (!c->evp && !(c->evp = EVP_MD_CTX_new()))
		return -1;
	return EVP_DigestInit_ex(c->evp, sha256_md ? sha256_md : EVP_sha256(), NULL) ? 0 : -1;
}

/* Compresses whole blocks into one state, or the same blocks into two (hb not NULL). */
static void sha256_blocks(uint32_t ha[8], uint32_t *hb, const unsigned char *p, size_t nblocks)
{
#ifdef SHA256_NI
	ni_blocks(ha, hb, p, nblocks);
#else
	(void)ha, (void)hb, (void)p, (void)nblocks; /* unreachable: c->evp does the work */
#endif
}

void overlay_sha256_update(struct overlay_sha256 *c, const void *data, size_t n)
{
	const unsigned char *p = data;
	if (c->evp) {
		EVP_DigestUpdate(c->evp, p, n);
		return;
	}
	c->len += n;
	if (c->buflen > 0) {
		size_t k = 64 - c->buflen < n ? 64 - c->buflen : n;
		memcpy(c->buf + c->buflen, p, k);
		c->buflen += k;
		p += k;
		n -= k;
		if (c->buflen < 64)
			return;
		sha256_blocks(c->h, NULL, c->buf, 1);
		c->buflen = 0;
	}
	if (n >= 64) {
		sha256_blocks(c->h, NULL, p, n / 64);
		p += n & ~(size_t)63;
		n &= 63;
	}
	memcpy(c->buf, p, n);
	c->buflen = n;
}

void overlay_sha256_update2(struct overlay_sha256 *a, struct overlay_sha256 *b, const void *data, size_t n)
{
	const unsigned char *p = data;
	if (a->evp || b->evp || a->buflen != b->buflen) {
		overlay_sha256_update(a, p, n);
		overlay_sha256_update(b, p, n);
		return;
	}
	if (a->buflen > 0) { /* each completes its own buffered block (their contents may differ) */
		size_t k = 64 - a->buflen < n ? 64 - a->buflen : n;
		overlay_sha256_update(a, p, k);
		overlay_sha256_update(b, p, k);
		p += k;
		n -= k;
	}
	if (n >= 64) { /* both at a block boundary here */
		size_t whole = n & ~(size_t)63;
		sha256_blocks(a->h, b->h, p, whole / 64);
		a->len += whole;
		b->len += whole;
		p += whole;
		n -= whole;
	}
	overlay_sha256_update(a, p, n);
	overlay_sha256_update(b, p, n);
}

void overlay_sha256_final(struct overlay_sha256 *c, unsigned char out[32])
{
	if (c->evp) {
		unsigned int len = 0;
		EVP_DigestFinal_ex(c->evp, out, &len);
		return;
	}
	uint64_t bits = c->len * 8;
	unsigned char pad[72] = {0x80};
	size_t padlen = (c->buflen < 56 ? 56 : 120) - c->buflen;
	for (int i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
	overlay_sha256_update(c, pad, padlen + 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(c->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c->h[i];
	}
}

void overlay_sha256_dispose(struct overlay_sha256 *c)
{
	EVP_MD_CTX_free(c->evp);
	c->evp = NULL;
}
