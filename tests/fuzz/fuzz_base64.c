/*
 * fuzz_base64 - provider_base64_decode(), the strict decoder of the
 * images inside provider answers.
 *
 * Invariants: strictness means one canonical encoding per byte string, so
 * whatever decodes must re-encode (OpenSSL's EVP_EncodeBlock) to exactly
 * the input; the decoded length is 3/4 of the input less the padding.
 */
#include "fuzz.h"

#include <openssl/evp.h>

#include "provider_http.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		*out = NULL;
	unsigned char	*again;
	size_t		 outlen = 0;
	char		*in;

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
