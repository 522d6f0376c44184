#include <criterion/criterion.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto.h"
#include "jwt.h"

#define SECRET	"0123456789abcdef0123456789abcdef"
#define NOW	1800000000LL
#define USER	"6ba5c337-3903-4d8f-9d28-7ba529fc82d6"

/* header.payload.signature, signed with key. */
static void
make(const char *header, const char *payload, const char *key, char *out,
    size_t cap)
{
	char		 h[512], p[1024], sig[128];
	unsigned char	 mac[64];
	unsigned int	 maclen = 0;

	crypto_b64url_encode(header, strlen(header), h);
	crypto_b64url_encode(payload, strlen(payload), p);
	snprintf(out, cap, "%s.%s", h, p);
	HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)out,
	    strlen(out), mac, &maclen);
	crypto_b64url_encode(mac, maclen, sig);
	snprintf(out + strlen(out), cap - strlen(out), ".%s", sig);
}

static int
verify(const char *tok, char *sub, struct ig_err *err)
{
	return jwt_verify_hs256(tok, strlen(tok), SECRET, NOW, sub, 40, err);
}

Test(jwt, valid_token_yields_its_subject)
{
	char		 tok[2048], sub[40];
	struct ig_err	 err = IG_ERR_INIT;

	make("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{\"sub\":\"" USER "\","
	    "\"exp\":1800000600}", SECRET, tok, sizeof(tok));
	cr_assert(jwt_looks_like(tok, strlen(tok)));
	cr_assert_eq(verify(tok, sub, &err), 0, "%s", err.msg);
	cr_assert_str_eq(sub, USER);
}

Test(jwt, refusals)
{
	static const struct { const char *hdr, *pl, *key, *why; } bad[] = {
		{ "{\"alg\":\"HS256\"}", "{\"sub\":\"" USER "\",\"exp\":1800000600}",
		    "another-secret-another-secret-xx", "bad signature" },
		{ "{\"alg\":\"none\"}", "{\"sub\":\"" USER "\",\"exp\":1800000600}",
		    SECRET, "alg must be HS256" },
		{ "{\"alg\":\"HS512\"}", "{\"sub\":\"" USER "\",\"exp\":1800000600}",
		    SECRET, "alg must be HS256" },
		{ "{\"alg\":\"HS256\"}", "{\"sub\":\"" USER "\",\"exp\":1799999000}",
		    SECRET, "expired" },
		{ "{\"alg\":\"HS256\"}", "{\"sub\":\"" USER "\"}", SECRET,
		    "exp is required" },
		{ "{\"alg\":\"HS256\"}", "{\"sub\":\"" USER "\",\"exp\":1800000600,"
		    "\"nbf\":1800000600}", SECRET, "not yet valid" },
		{ "{\"alg\":\"HS256\"}", "{\"sub\":42,\"exp\":1800000600}", SECRET,
		    "sub must be the user id" },
		{ "{\"alg\":\"HS256\"}", "[1,2]", SECRET, "bad payload" },
	};
	char		 tok[2048], sub[40];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ig_err err = IG_ERR_INIT;

		make(bad[i].hdr, bad[i].pl, bad[i].key, tok, sizeof(tok));
		cr_assert_eq(verify(tok, sub, &err), -1, "accepted #%zu", i);
		cr_assert_eq(err.code, IG_EAUTH);
		cr_assert(strstr(err.msg, bad[i].why) != NULL, "#%zu: %s", i,
		    err.msg);
	}
}

Test(jwt, leeway_allows_small_clock_skew)
{
	char		 tok[2048], sub[40];
	struct ig_err	 err = IG_ERR_INIT;

	make("{\"alg\":\"HS256\"}", "{\"sub\":\"" USER "\",\"exp\":1799999990}",
	    SECRET, tok, sizeof(tok));
	cr_assert_eq(verify(tok, sub, &err), 0, "%s", err.msg);
}

Test(jwt, shapes)
{
	char		 sub[40];
	struct ig_err	 err = IG_ERR_INIT;

	cr_assert_not(jwt_looks_like("igt_abc", 7));
	cr_assert_not(jwt_looks_like("a.b", 3));
	cr_assert_not(jwt_looks_like("a.b.c.d", 7));
	cr_assert(jwt_looks_like("a.b.c", 5));
	cr_assert_eq(verify("a.b.c", sub, &err), -1);
	cr_assert_eq(verify("!!.??.**", sub, &err), -1);
}
