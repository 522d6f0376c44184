#include "jwt.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto.h"

int
jwt_looks_like(const char *t, size_t len)
{
	const char	*a = memchr(t, '.', len), *b;

	if (a == NULL)
		return 0;
	b = memchr(a + 1, '.', len - (size_t)(a + 1 - t));
	return b != NULL && memchr(b + 1, '.', len - (size_t)(b + 1 - t)) ==
	    NULL;
}

static struct json_object *
jwt_part_json(const char *p, size_t len)
{
	unsigned char	 raw[JWT_MAX_LEN];
	long		 n;

	if ((n = crypto_b64url_decode(p, len, raw, sizeof(raw) - 1)) < 0)
		return NULL;
	raw[n] = '\0';
	if (memchr(raw, '\0', (size_t)n) != NULL)
		return NULL;
	return json_tokener_parse((const char *)raw);
}

/*
 * A NumericDate as whole seconds.  Converting a double outside long long's
 * range (or NaN, which json-c's parser accepts) is undefined: refuse
 * anything beyond a million years instead.
 */
static int
jwt_seconds(struct json_object *v, long long *out)
{
	double	 d = json_object_get_double(v);

	if (!(d > -3.2e13 && d < 3.2e13))
		return -1;
	*out = (long long)d;
	return 0;
}

static int
jwt_fail(struct ig_err *err, const char *why)
{
	return ig_err_set(err, IG_EAUTH, NULL, "the bearer token is not a "
	    "valid JWT: %s", why);
}

int
jwt_verify_hs256(const char *t, size_t len, const char *secret, long long now,
    char *sub, size_t subcap, struct ig_err *err)
{
	const char		*dot1, *dot2;
	struct json_object	*hdr = NULL, *pl = NULL, *v;
	unsigned char		 mac[EVP_MAX_MD_SIZE], sig[64];
	unsigned int		 maclen = 0;
	long			 siglen;
	long long		 exp, nbf;
	int			 rc = -1;

	if (len > JWT_MAX_LEN || !jwt_looks_like(t, len))
		return jwt_fail(err, "malformed");
	dot1 = memchr(t, '.', len);
	dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - t));
	/* The signature first: nothing unauthenticated is interpreted. */
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)t, (size_t)(dot2 - t), mac, &maclen) == NULL)
		return jwt_fail(err, "cannot compute HMAC");
	siglen = crypto_b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - t), sig,
	    sizeof(sig));
	if (siglen != (long)maclen || CRYPTO_memcmp(sig, mac, maclen) != 0) {
		jwt_fail(err, "bad signature");
		goto out;
	}
	if ((hdr = jwt_part_json(t, (size_t)(dot1 - t))) == NULL ||
	    !json_object_object_get_ex(hdr, "alg", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "HS256") != 0) {
		jwt_fail(err, "alg must be HS256");
		goto out;
	}
	if ((pl = jwt_part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1))) == NULL ||
	    !json_object_is_type(pl, json_type_object)) {
		jwt_fail(err, "bad payload");
		goto out;
	}
	if (!json_object_object_get_ex(pl, "exp", &v) ||
	    !(json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double))) {
		jwt_fail(err, "exp is required");
		goto out;
	}
	if (jwt_seconds(v, &exp) == -1 || now > exp + JWT_LEEWAY) {
		jwt_fail(err, "expired");
		goto out;
	}
	if (json_object_object_get_ex(pl, "nbf", &v)) {
		if (jwt_seconds(v, &nbf) == -1 || now + JWT_LEEWAY < nbf) {
			jwt_fail(err, "not yet valid");
			goto out;
		}
	}
	if (!json_object_object_get_ex(pl, "sub", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) >= subcap) {
		jwt_fail(err, "sub must be the user id");
		goto out;
	}
	memcpy(sub, json_object_get_string(v),
	    (size_t)json_object_get_string_len(v) + 1);
	rc = 0;
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	json_object_put(hdr);
	json_object_put(pl);
	return rc;
}
