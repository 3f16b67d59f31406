/* policy/attest_keys.c — the public keys the user trusts (`--trust-key FILE`) and the one place
 * signatures are checked against them (OpenSSL EVP): ECDSA P-256 and RSA (PKCS#1 v1.5) over
 * SHA-256, Ed25519 pure. Also the base64 decoder the signature formats need. Keys are
 * process-wide: a mount or an audit trusts the same set for every report and gate.
 */
#include "policy_int.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <string.h>

#define ATTEST_MAX_KEYS 64

struct attest_key {
	EVP_PKEY *pkey;
	char id[65];
};

static struct attest_key keys[ATTEST_MAX_KEYS];
static size_t nkeys;
static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;

int policy_trust_key_add(const char *pem_path, struct strata_err **err)
{
	cleanup_fclose FILE *f = fopen(pem_path, "re");
	if (!f)
		return strata_err_sys(err, "--trust-key %s", pem_path);
	EVP_PKEY *pk = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (!pk)
		return strata_err_set(err, STRATA_EFORMAT, "--trust-key %s: not a PEM public key", pem_path);
	int base = EVP_PKEY_get_base_id(pk);
	if (base == EVP_PKEY_EC) {
		char group[64] = "";
		size_t gl = 0;
		EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), &gl);
		if (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0) {
			EVP_PKEY_free(pk);
			return strata_err_set(err, STRATA_EUNSUPPORTED,
					      "--trust-key %s: EC curve %s (only P-256)", pem_path,
					      *group ? group : "unknown");
		}
	} else if (base != EVP_PKEY_ED25519 && base != EVP_PKEY_RSA) {
		EVP_PKEY_free(pk);
		return strata_err_set(err, STRATA_EUNSUPPORTED,
				      "--trust-key %s: key type %s (ECDSA P-256, Ed25519 or RSA)", pem_path,
				      OBJ_nid2sn(base));
	}
	unsigned char *der = NULL;
	int dl = i2d_PUBKEY(pk, &der);
	if (dl <= 0) {
		EVP_PKEY_free(pk);
		return strata_err_set(err, STRATA_EFORMAT, "--trust-key %s: cannot encode the key", pem_path);
	}
	unsigned char md[32];
	EVP_Digest(der, (size_t)dl, md, NULL, EVP_sha256(), NULL);
	OPENSSL_free(der);
	char id[65];
	strata_hex(md, 32, id);
	pthread_mutex_lock(&keys_lock);
	for (size_t i = 0; i < nkeys; i++)
		if (!strcmp(keys[i].id, id)) {
			pthread_mutex_unlock(&keys_lock);
			EVP_PKEY_free(pk);
			return 0;
		}
	if (nkeys == ATTEST_MAX_KEYS) {
		pthread_mutex_unlock(&keys_lock);
		EVP_PKEY_free(pk);
		return strata_err_set(err, STRATA_ELIMIT, "--trust-key %s: more than %d keys", pem_path,
				      ATTEST_MAX_KEYS);
	}
	keys[nkeys].pkey = pk;
	memcpy(keys[nkeys].id, id, sizeof(id));
	nkeys++;
	pthread_mutex_unlock(&keys_lock);
	return 0;
}

void policy_trust_keys_clear(void)
{
	pthread_mutex_lock(&keys_lock);
	for (size_t i = 0; i < nkeys; i++)
		EVP_PKEY_free(keys[i].pkey);
	memset(keys, 0, sizeof(keys));
	nkeys = 0;
	pthread_mutex_unlock(&keys_lock);
}

size_t attest_key_count(void)
{
	return nkeys;
}

const char *attest_key_id(size_t i)
{
	return i < nkeys ? keys[i].id : NULL;
}

int attest_key_verify(const unsigned char *msg, size_t len, const unsigned char *sig, size_t siglen)
{
	int found = -1;
	pthread_mutex_lock(&keys_lock);
	for (size_t i = 0; found < 0 && i < nkeys; i++) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		if (!ctx)
			abort();
		const EVP_MD *md =
		    EVP_PKEY_get_base_id(keys[i].pkey) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
		if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, keys[i].pkey) == 1 &&
		    EVP_DigestVerify(ctx, sig, siglen, msg, len) == 1)
			found = (int)i;
		EVP_MD_CTX_free(ctx);
	}
	pthread_mutex_unlock(&keys_lock);
	return found;
}

static int attest_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int attest_base64_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen)
{
	unsigned char *o = xmalloc(inlen / 4 * 3 + 4);
	size_t n = 0, pad = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		int v = attest_b64_value(c);
		if (v < 0 || pad) {
			free(o);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[n++] = (unsigned char)(acc >> bits);
		}
	}
	if (pad > 2 || bits >= 6) {
		free(o);
		return -1;
	}
	*out = o;
	*outlen = n;
	return 0;
}
