/* policy/attest.c — what one signature or attestation blob proves, offline.
 *
 * Owns the parsers of the signed formats (all input untrusted): cosign simple-signing payloads
 * (critical.image.docker-manifest-digest must be the image manifest digest; the signature is the
 * base64 dev.cosignproject.cosign/signature annotation over the payload bytes), DSSE envelopes
 * (the signature covers PAE = "DSSEv1" SP len(type) SP type SP len(body) SP body) carrying in-toto
 * statements v0.1 / v1 (they count only when a subject's sha256 is the image manifest digest),
 * sigstore bundles (a DSSE envelope inside is checked like one; certificates and transparency-log
 * entries are keyless material, "not verified offline" without a trusted root), and the SLSA
 * provenance fields (v0.2 and v1). Verdict words: verified, failed, unverified, not verified
 * offline.
 */
#include "policy_int.h"

#include <string.h>

#define MT_SIMPLESIGNING "application/vnd.dev.cosign.simplesigning.v1+json"
#define MT_DSSE "application/vnd.dsse.envelope.v1+json"
#define MT_INTOTO "application/vnd.in-toto+json"
#define MT_BUNDLE_PREFIX "application/vnd.dev.sigstore.bundle"
#define ATTEST_MAX_SIGS 16

static inline void attest_json_decrefp(json_t **j)
{
	if (*j)
		json_decref(*j);
}
#define cleanup_jsonp __attribute__((cleanup(attest_json_decrefp)))

void attest_check_clear(struct attest_check *c)
{
	free(c->status);
	free(c->reason);
	free(c->predicate_type);
	free(c->named_digest);
	if (c->statement)
		json_decref(c->statement);
	memset(c, 0, sizeof(*c));
	c->key = -1;
}

static void attest_set_result(struct attest_check *c, const char *status, char *reason)
{
	free(c->status);
	free(c->reason);
	c->status = xstrdup(status);
	c->reason = reason;
}

/* True when the annotations carry keyless material (certificate, Rekor bundle, timestamp). */
static bool attest_annotations_keyless(const char *annotations_json)
{
	if (!annotations_json)
		return false;
	cleanup_jsonp json_t *a = json_loads(annotations_json, 0, NULL);
	return json_object_get(a, "dev.sigstore.cosign/certificate") ||
	       json_object_get(a, "dev.sigstore.cosign/bundle") ||
	       json_object_get(a, "dev.sigstore.cosign/chain") ||
	       json_object_get(a, "dev.sigstore.cosign/rfc3161timestamp");
}

/* Sets status/reason once the signature and subject checks are done. */
static void attest_conclude(struct attest_check *c, const char *what, const char *image_digest)
{
	c->verified = c->sig_ok && c->about_image;
	if (c->verified) {
		attest_set_result(
		    c, "verified",
		    xasprintf("%s verified with trusted key %s", what, attest_key_id((size_t)c->key)));
	} else if (c->sig_ok) {
		attest_set_result(
		    c, "failed",
		    xasprintf("%s is signed by trusted key %s but names %s, not this image (%s)", what,
			      attest_key_id((size_t)c->key), c->named_digest ? c->named_digest : "no image",
			      image_digest));
	} else if (c->keyless) {
		attest_set_result(c, "not verified offline",
				  xasprintf("%s is keyless (certificate / transparency log): not verified "
					    "offline without a trusted root",
					    what));
	} else if (attest_key_count() == 0) {
		attest_set_result(c, "unverified",
				  xasprintf("%s present but no trusted key given (--trust-key)", what));
	} else if (!c->reason) {
		attest_set_result(
		    c, "failed",
		    xasprintf("%s%s does not verify with any trusted key (wrong key or altered content)",
			      what, strcmp(what, "signature") ? " signature" : ""));
	}
}

/* cosign simple signing: payload JSON naming the manifest digest, signature in the annotation. */
static void attest_check_simple(const unsigned char *payload, size_t len, const char *sig_b64,
				const char *image_digest, struct attest_check *c)
{
	c->type = "cosign-signature";
	cleanup_jsonp json_t *j = json_loadb((const char *)payload, len, 0, NULL);
	const char *named = json_string_value(json_object_get(
	    json_object_get(json_object_get(j, "critical"), "image"), "docker-manifest-digest"));
	if (named)
		c->named_digest = xstrdup(named);
	c->about_image = named && !strcmp(named, image_digest);
	if (!j) {
		attest_set_result(c, "failed", xstrdup("signature payload is not JSON"));
		return;
	}
	if (!named) {
		attest_set_result(
		    c, "failed", xstrdup("signature payload names no critical.image.docker-manifest-digest"));
		return;
	}
	unsigned char *sig = NULL;
	size_t sl = 0;
	if (sig_b64 && attest_base64_decode(sig_b64, strlen(sig_b64), &sig, &sl) == 0) {
		c->key = attest_key_verify(payload, len, sig, sl);
		c->sig_ok = c->key >= 0;
		free(sig);
	} else if (!c->keyless) {
		attest_set_result(c, "failed",
				  xstrdup(sig_b64 ? "signature annotation is not base64"
						  : "no dev.cosignproject.cosign/signature annotation"));
		return;
	}
	attest_conclude(c, "signature", image_digest);
}

/* An in-toto statement (the signed DSSE body): predicate type and whether a subject is the image. */
static void attest_read_statement(const unsigned char *body, size_t len, const char *image_digest,
				  struct attest_check *c)
{
	json_t *st = json_loadb((const char *)body, len, 0, NULL);
	if (!json_is_object(st)) {
		if (st)
			json_decref(st);
		c->reason = xstrdup("envelope payload is not a JSON in-toto statement");
		return;
	}
	c->statement = st;
	const char *pt = json_string_value(json_object_get(st, "predicateType"));
	if (pt)
		c->predicate_type = xstrdup(pt);
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(st, "subject"), i, s)
	{
		const char *hex = json_string_value(json_object_get(json_object_get(s, "digest"), "sha256"));
		if (!hex)
			continue;
		if (!c->named_digest)
			c->named_digest = xasprintf("sha256:%s", hex);
		if (!strncmp(image_digest, "sha256:", 7) && !strcmp(hex, image_digest + 7))
			c->about_image = true;
	}
}

/* DSSE envelope: verify PAE(payloadType, payload) against the trusted keys, then the statement. */
static void attest_check_envelope(const json_t *env, const char *image_digest, struct attest_check *c)
{
	const char *ptype = json_string_value(json_object_get(env, "payloadType"));
	const char *p64 = json_string_value(json_object_get(env, "payload"));
	json_t *sigs = json_object_get(env, "signatures");
	if (!ptype || !p64 || !json_is_array(sigs)) {
		attest_set_result(c, "failed",
				  xstrdup("not a DSSE envelope (payloadType, payload, signatures)"));
		return;
	}
	unsigned char *body = NULL;
	size_t bl = 0;
	if (attest_base64_decode(p64, strlen(p64), &body, &bl) < 0) {
		attest_set_result(c, "failed", xstrdup("DSSE payload is not base64"));
		return;
	}
	size_t tl = strlen(ptype);
	int hl = snprintf(NULL, 0, "DSSEv1 %zu %s %zu ", tl, ptype, bl);
	unsigned char *pae = xmalloc((size_t)hl + bl + 1);
	snprintf((char *)pae, (size_t)hl + 1, "DSSEv1 %zu %s %zu ", tl, ptype, bl);
	memcpy(pae + hl, body, bl);
	size_t i;
	json_t *s;
	json_array_foreach(sigs, i, s)
	{
		if (i >= ATTEST_MAX_SIGS || c->sig_ok)
			break;
		const char *sig64 = json_string_value(json_object_get(s, "sig"));
		unsigned char *sig = NULL;
		size_t sl = 0;
		if (!sig64 || attest_base64_decode(sig64, strlen(sig64), &sig, &sl) < 0)
			continue;
		c->key = attest_key_verify(pae, (size_t)hl + bl, sig, sl);
		c->sig_ok = c->key >= 0;
		free(sig);
	}
	free(pae);
	if (strcmp(ptype, MT_INTOTO) != 0)
		c->reason = xasprintf("DSSE payloadType %s is not %s", ptype, MT_INTOTO);
	else
		attest_read_statement(body, bl, image_digest, c);
	free(body);
	if (c->reason && c->sig_ok) {
		attest_set_result(c, "failed", steal_pointer(&c->reason));
		c->about_image = false;
		return;
	}
	free(c->reason);
	c->reason = NULL;
	attest_conclude(c, "attestation", image_digest);
}

/* A sigstore bundle: its DSSE envelope is checked with the trusted keys; certificate or
 * transparency-log material without a trusted key's signature is "not verified offline". */
static void attest_check_bundle(const json_t *b, const char *image_digest, struct attest_check *c)
{
	c->type = "sigstore-bundle";
	json_t *vm = json_object_get(b, "verificationMaterial");
	c->keyless = c->keyless || json_object_get(vm, "certificate") ||
		     json_object_get(vm, "x509CertificateChain") ||
		     json_array_size(json_object_get(vm, "tlogEntries")) > 0;
	json_t *env = json_object_get(b, "dsseEnvelope");
	if (env) {
		attest_check_envelope(env, image_digest, c);
		return;
	}
	if (json_object_get(b, "messageSignature")) {
		/* a signature over an artifact digest: nothing here ties it to this image offline */
		attest_set_result(c, c->keyless ? "not verified offline" : "unverified",
				  xstrdup("bundle holds a message signature: not verified offline"));
		return;
	}
	attest_set_result(c, "failed", xstrdup("sigstore bundle without dsseEnvelope or messageSignature"));
}

void attest_check_blob(const char *media_type, const char *artifact_type, const unsigned char *payload,
		       size_t len, const char *signature_b64, const char *annotations_json,
		       const char *image_digest, struct attest_check *out)
{
	struct attest_check *c = out;
	memset(c, 0, sizeof(*c));
	c->key = -1;
	c->type = "unknown";
	c->keyless = attest_annotations_keyless(annotations_json);
	if (!image_digest)
		image_digest = "";
	const char *mt = media_type ? media_type : "";
	const char *at = artifact_type ? artifact_type : "";
	if (!payload) {
		attest_set_result(c, "failed", xstrdup("no payload"));
		return;
	}
	if (!strcmp(mt, MT_SIMPLESIGNING) || (signature_b64 && strcmp(mt, MT_DSSE) != 0)) {
		attest_check_simple(payload, len, signature_b64, image_digest, c);
		return;
	}
	cleanup_jsonp json_t *j = json_loadb((const char *)payload, len, 0, NULL);
	if (!strncmp(mt, MT_BUNDLE_PREFIX, strlen(MT_BUNDLE_PREFIX)) ||
	    !strncmp(at, MT_BUNDLE_PREFIX, strlen(MT_BUNDLE_PREFIX))) {
		if (!json_is_object(j)) {
			c->type = "sigstore-bundle";
			attest_set_result(c, "failed", xstrdup("sigstore bundle is not a JSON object"));
			return;
		}
		attest_check_bundle(j, image_digest, c);
		return;
	}
	if (json_object_get(j, "payloadType") || !strcmp(mt, MT_DSSE) || !strcmp(at, MT_DSSE) ||
	    !strcmp(mt, MT_INTOTO) || !strcmp(at, MT_INTOTO)) {
		c->type = "in-toto-attestation";
		if (json_object_get(j, "_type") && !json_object_get(j, "payloadType")) {
			attest_read_statement(payload, len, image_digest, c);
			attest_set_result(c, "unverified",
					  xstrdup("unsigned in-toto statement (no DSSE envelope)"));
			c->about_image = false;
			return;
		}
		attest_check_envelope(j, image_digest, c);
		return;
	}
	attest_set_result(
	    c, "unverified",
	    xasprintf("artifact of media type %s is not a signature or attestation strata reads",
		      *mt ? mt : (*at ? at : "(none)")));
}

/* ---- SLSA provenance ------------------------------------------------------------------------ */

static char *attest_str(const json_t *j)
{
	const char *s = json_string_value(j);
	return s ? xstrdup(s) : NULL;
}

/* A revision from a digest map: gitCommit, sha1, then any value. */
static char *attest_digest_revision(const json_t *d)
{
	const char *keys[] = {"gitCommit", "sha1", "sha256"};
	for (size_t i = 0; i < 3; i++)
		if (json_string_value(json_object_get(d, keys[i])))
			return xstrdup(json_string_value(json_object_get(d, keys[i])));
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)d, k, v)
	{
		if (json_is_string(v))
			return xstrdup(json_string_value(v));
	}
	return NULL;
}

bool attest_provenance_read(const json_t *st, struct attest_provenance *p)
{
	memset(p, 0, sizeof(*p));
	const char *pt = json_string_value(json_object_get(st, "predicateType"));
	const json_t *pred = json_object_get(st, "predicate");
	if (!pt || !json_is_object(pred))
		return false;
	if (!strcmp(pt, "https://slsa.dev/provenance/v0.2") ||
	    !strcmp(pt, "https://slsa.dev/provenance/v0.1")) {
		p->slsa_version = xstrdup(pt + strlen("https://slsa.dev/provenance/"));
		p->builder_id = attest_str(json_object_get(json_object_get(pred, "builder"), "id"));
		p->build_type = attest_str(json_object_get(pred, "buildType"));
		const json_t *cs = json_object_get(json_object_get(pred, "invocation"), "configSource");
		const json_t *m0 = json_array_get(json_object_get(pred, "materials"), 0);
		p->source_repository = attest_str(json_object_get(cs, "uri"));
		p->source_revision = attest_digest_revision(json_object_get(cs, "digest"));
		if (!p->source_repository)
			p->source_repository = attest_str(json_object_get(m0, "uri"));
		if (!p->source_revision)
			p->source_revision = attest_digest_revision(json_object_get(m0, "digest"));
		return true;
	}
	if (!strcmp(pt, "https://slsa.dev/provenance/v1")) {
		p->slsa_version = xstrdup("v1");
		const json_t *bd = json_object_get(pred, "buildDefinition");
		p->builder_id = attest_str(
		    json_object_get(json_object_get(json_object_get(pred, "runDetails"), "builder"), "id"));
		p->build_type = attest_str(json_object_get(bd, "buildType"));
		const json_t *r0 = json_array_get(json_object_get(bd, "resolvedDependencies"), 0);
		p->source_repository = attest_str(json_object_get(r0, "uri"));
		p->source_revision = attest_digest_revision(json_object_get(r0, "digest"));
		const json_t *ep = json_object_get(bd, "externalParameters");
		const json_t *wf = json_object_get(ep, "workflow");
		if (!p->source_repository)
			p->source_repository = attest_str(json_object_get(wf, "repository"));
		if (!p->source_repository)
			p->source_repository =
			    attest_str(json_object_get(json_object_get(ep, "source"), "uri"));
		if (!p->source_repository)
			p->source_repository = attest_str(json_object_get(ep, "source"));
		if (!p->source_revision)
			p->source_revision = attest_str(json_object_get(wf, "ref"));
		return true;
	}
	return false;
}

void attest_provenance_clear(struct attest_provenance *p)
{
	free(p->slsa_version);
	free(p->builder_id);
	free(p->build_type);
	free(p->source_repository);
	free(p->source_revision);
	memset(p, 0, sizeof(*p));
}

const json_t *attest_json_path(const json_t *j, const char *path)
{
	const char *p = path;
	char key[256];
	while (j && *p) {
		if (*p == '.') {
			p++;
			size_t k = strcspn(p, ".[");
			if (k == 0)
				continue;
			if (k >= sizeof(key))
				return NULL;
			memcpy(key, p, k);
			key[k] = '\0';
			j = json_object_get(j, key);
			p += k;
		} else if (*p == '[') {
			char *end = NULL;
			long idx = strtol(p + 1, &end, 10);
			if (!end || *end != ']' || idx < 0)
				return NULL;
			j = json_array_get(j, (size_t)idx);
			p = end + 1;
		} else {
			return NULL;
		}
	}
	return j;
}
