/*
 * fuzz_jwt - jwt_verify_hs256(), the HS256 JWT bearer credential.
 *
 * Byte 0, bit 0 clear: the rest is a token as a client sends it (a forgery:
 * it must be refused, with IG_EAUTH).  Bit 0 set: the rest is
 * HEADER-JSON \0 PAYLOAD-JSON \0 SECRET-SUFFIX, which the harness encodes
 * and signs with the configured secret, so that what follows the signature
 * check (the header, the claims, their types and ranges) is reached too:
 * a token issuer's mistakes must not crash the API either.
 *
 * Invariants: success only for a signed token, and then a NUL-terminated
 * sub that fits its buffer; failure is always IG_EAUTH; jwt_looks_like()
 * holds for every token that verifies.
 */
#include "fuzz.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto.h"
#include "jwt.h"

#define SECRET	"fuzz-secret-0123456789abcdef-0123456789"
#define NOW	1700000000LL

static void
verify(const char *tok, size_t len, int signed_by_us)
{
	struct ig_err	 err = IG_ERR_INIT;
	char		 sub[40];
	int		 rc;

	memset(sub, 'x', sizeof(sub));
	rc = jwt_verify_hs256(tok, len, SECRET, NOW, sub, sizeof(sub), &err);
	if (rc == 0) {
		FUZZ_CHECK(signed_by_us, "a forged token verified: %.*s",
		    (int)(len > 300 ? 300 : len), tok);
		FUZZ_CHECK(memchr(sub, '\0', sizeof(sub)) != NULL,
		    "sub not terminated");
		FUZZ_CHECK(jwt_looks_like(tok, len), "verified, not JWT-shaped");
	} else {
		FUZZ_CHECK(rc == -1 && err.code == IG_EAUTH, "rc %d code %d",
		    rc, err.code);
		FUZZ_CHECK(strlen(err.msg) < sizeof(err.msg), "message");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in	 in;
	const char	*hdr, *pl;
	char		*tok;
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	size_t		 n, hl, pll;

	if (size == 0)
		return 0;
	if ((data[0] & 1) == 0) {
		if ((tok = malloc(size)) == NULL)
			abort();
		memcpy(tok, data + 1, size - 1);
		verify(tok, size - 1, 0);
		free(tok);
		return 0;
	}
	fuzz_in_init(&in, data + 1, size - 1);
	hdr = fuzz_field(&in);
	pl = fuzz_field(&in);
	if (hdr == NULL || pl == NULL) {
		fuzz_in_release(&in);
		return 0;
	}
	hl = strlen(hdr);
	pll = strlen(pl);
	if ((tok = malloc((hl + pll + 2) * 4 / 3 + 8 + 64)) == NULL)
		abort();
	n = crypto_b64url_encode(hdr, hl, tok);
	tok[n++] = '.';
	n += crypto_b64url_encode(pl, pll, tok + n);
	if (HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
	    (const unsigned char *)tok, n, mac, &maclen) == NULL)
		abort();
	tok[n++] = '.';
	n += crypto_b64url_encode(mac, maclen, tok + n);
	verify(tok, n, 1);
	free(tok);
	fuzz_in_release(&in);
	return 0;
}
