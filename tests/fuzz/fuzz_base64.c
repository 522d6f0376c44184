/*
 * fuzz_base64 - provider_base64_decode(), the strict decoder of the
 * images inside provider answers.
 *
 * Invariants: strictness means one canonical encoding per byte string, so
 * whatever decodes must re-encode (OpenSSL's EVP_EncodeBlock) to exactly
 * the input; the decoded length is 3/4 of the input less the padding.
 *
 * Also crypto_b64url_decode(), the unpadded base64url of tokens, JWTs and
 * cursors, under the same invariant with crypto_b64url_encode(), and the
 * round trip of the input bytes through both.
 */
#include "fuzz.h"

#include <openssl/evp.h>

#include "crypto.h"
#include "provider_http.h"

static void
check_b64url(const uint8_t *data, size_t size)
{
	uint8_t	*raw;
	char	*text;
	long	 n;

	if ((raw = malloc(size + 1)) == NULL ||
	    (text = malloc(CRYPTO_B64URL_LEN(size) + 1)) == NULL)
		abort();
	if ((n = crypto_b64url_decode((const char *)data, size, raw, size)) >= 0) {
		FUZZ_CHECK(crypto_b64url_encode(raw, (size_t)n, text) == size &&
		    memcmp(text, data, size) == 0, "b64url not canonical: %.*s",
		    (int)(size > 200 ? 200 : size), (const char *)data);
	}
	n = (long)crypto_b64url_encode(data, size, text);
	FUZZ_CHECK((size_t)n == CRYPTO_B64URL_LEN(size) &&
	    crypto_b64url_decode(text, (size_t)n, raw, size) == (long)size &&
	    memcmp(raw, data, size) == 0, "b64url round trip of %zu bytes",
	    size);
	free(text);
	free(raw);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		*out = NULL;
	unsigned char	*again;
	size_t		 outlen = 0;
	char		*in;

	check_b64url(data, size);
	if ((in = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(in, data, size);
	if (provider_base64_decode(in, size, &out, &outlen) == -1) {
		free(in);
		return 0;
	}
	FUZZ_CHECK(out != NULL && outlen > 0 && outlen <= size / 4 * 3 &&
	    outlen + 2 >= size / 4 * 3, "decoded %zu bytes from %zu", outlen,
	    size);
	if ((again = malloc(size + 1)) == NULL)
		abort();
	FUZZ_CHECK(EVP_EncodeBlock(again, out, (int)outlen) == (int)size &&
	    memcmp(again, in, size) == 0, "not canonical: %.*s",
	    (int)(size > 200 ? 200 : size), in);
	free(again);
	free(out);
	free(in);
	return 0;
}
