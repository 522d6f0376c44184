/*
 * test_jwt.c - HS256 JWT bearer tokens, when the stack's configuration
 * sets IMGGEN_JWT_SECRET (test-integration.sh does): a valid token acts as its
 * sub user on every route; an expired, not-yet-valid, badly signed, alg
 * "none" or unknown-subject token is 401.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "apitest.h"
#include "crypto.h"

TestSuite(jwt, .timeout = API_TEST_TIMEOUT_S);

/* IMGGEN_JWT_SECRET from $IMGGEN_CONFIG, or "" (caller frees). */
static char *
jwt_secret(void)
{
	FILE *f = fopen(itest_env("IMGGEN_CONFIG"), "r");
	char line[1024], *v = NULL;

	if (f == NULL)
		return strdup("");
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "IMGGEN_JWT_SECRET=", 18) == 0) {
			line[strcspn(line, "\r\n")] = '\0';
			free(v);
			v = strdup(line + 18);
		}
	fclose(f);
	return v ? v : strdup("");
}

/* header.payload.signature, signed with KEY (NULL: no signature). */
static void
jwt_make(const char *header, const char *payload, const char *key,
    char *out, size_t cap)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char h[512], p[1024], s[128] = "";
	size_t n;

	cr_assert(CRYPTO_B64URL_LEN(strlen(header)) < sizeof h &&
	    CRYPTO_B64URL_LEN(strlen(payload)) < sizeof p);
	crypto_b64url_encode(header, strlen(header), h);
	crypto_b64url_encode(payload, strlen(payload), p);
	snprintf(out, cap, "%s.%s", h, p);
	if (key != NULL) {
		cr_assert(HMAC(EVP_sha256(), key, (int)strlen(key),
		    (const unsigned char *)out, strlen(out), mac, &maclen) !=
		    NULL);
		crypto_b64url_encode(mac, maclen, s);
	}
	n = strlen(out);
	snprintf(out + n, cap - n, ".%s", s);
}

static void
payload(char *out, size_t cap, const char *sub, long long exp_delta,
    const char *extra)
{
	snprintf(out, cap, "{\"sub\":\"%s\",\"exp\":%lld%s}", sub,
	    (long long)time(NULL) + exp_delta, extra);
}

static void
expect_401(const char *token)
{
	struct api_res r;

	api_do(&r, "GET", API_QUEUE_PATH, token, NULL);
	api_expect_error(&r, 401, "unauthorized", NULL);
	api_res_free(&r);
}

Test(jwt, bearer_jwt)
{
	static const char hs[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char *secret, tok[2048], pl[512], id[40], path[128];
	struct itest_user u;
	struct api_res r;
	struct json_object *doc;

	api_begin(false);
	secret = jwt_secret();
	if (*secret == '\0') {
		free(secret);
		cr_assert_fail("IMGGEN_JWT_SECRET is not set in the stack's "
		    "configuration (scripts/test-integration.sh sets it)");
	}
	itest_user_create(&u, "api-jwt");
	payload(pl, sizeof pl, u.id, 300, "");
	jwt_make(hs, pl, secret, tok, sizeof tok);

	/* The JWT is the user: what it creates, the API token sees. */
	api_create(tok, "{\"prompt\":\"via jwt\"}", NULL, id);
	doc = api_get_doc(u.token, id);
	json_object_put(doc);
	api_do(&r, "GET", API_QUEUE_PATH, tok, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(itest_json_str(r.json, "generations.0.generationId"),
	    id);
	api_res_free(&r);
	snprintf(path, sizeof path, API_QUEUE_PATH "/%s", id);
	api_do(&r, "GET", path, tok, NULL);
	cr_assert_eq(r.status, 200);
	api_res_free(&r);

	/* Expired (beyond the 30 s of skew), not yet valid, wrong key. */
	payload(pl, sizeof pl, u.id, -120, "");
	jwt_make(hs, pl, secret, tok, sizeof tok);
	expect_401(tok);
	payload(pl, sizeof pl, u.id, 300, ",\"nbf\":9999999999");
	jwt_make(hs, pl, secret, tok, sizeof tok);
	expect_401(tok);
	payload(pl, sizeof pl, u.id, 300, "");
	jwt_make(hs, pl, "another-secret-of-at-least-32-bytes!", tok,
	    sizeof tok);
	expect_401(tok);
	/* alg none, unsigned; alg HS512. */
	jwt_make("{\"alg\":\"none\",\"typ\":\"JWT\"}", pl, NULL, tok,
	    sizeof tok);
	expect_401(tok);
	jwt_make("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", pl, secret, tok,
	    sizeof tok);
	expect_401(tok);
	/* No exp; a subject that is no user; one that is no uuid. */
	snprintf(pl, sizeof pl, "{\"sub\":\"%s\"}", u.id);
	jwt_make(hs, pl, secret, tok, sizeof tok);
	expect_401(tok);
	payload(pl, sizeof pl, "00000000-0000-0000-0000-000000000000", 300, "");
	jwt_make(hs, pl, secret, tok, sizeof tok);
	expect_401(tok);
	payload(pl, sizeof pl, "admin", 300, "");
	jwt_make(hs, pl, secret, tok, sizeof tok);
	expect_401(tok);
	free(secret);
	itest_user_free(&u);
}
