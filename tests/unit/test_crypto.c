#include <criterion/criterion.h>
#include <string.h>

#include "crypto.h"

Test(crypto, sha256_known_vector)
{
	uint8_t	 h[CRYPTO_SHA256_LEN];
	char	 hex[65];

	crypto_sha256("abc", 3, h);
	crypto_hex(h, sizeof(h), hex);
	cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
}

Test(crypto, tokens_are_wellformed_and_distinct)
{
	char	 a[CRYPTO_TOKEN_LEN + 1], b[CRYPTO_TOKEN_LEN + 1];

	cr_assert_eq(crypto_new_token(a), 0);
	cr_assert_eq(crypto_new_token(b), 0);
	cr_assert_eq(strlen(a), CRYPTO_TOKEN_LEN);
	cr_assert(crypto_token_wellformed(a, strlen(a)));
	cr_assert_str_neq(a, b);
}

Test(crypto, wellformed_rejects_wrong_shapes)
{
	char	 t[CRYPTO_TOKEN_LEN + 1];

	cr_assert_eq(crypto_new_token(t), 0);
	cr_assert_not(crypto_token_wellformed(t, strlen(t) - 1));
	t[10] = '\'';
	cr_assert_not(crypto_token_wellformed(t, strlen(t)));
	cr_assert_not(crypto_token_wellformed("Bearer", 6));
	cr_assert_not(crypto_token_wellformed(
	    "xyz_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 47));
}

Test(crypto, equal_compares_all_bytes)
{
	cr_assert(crypto_equal("abcdef", "abcdef", 6));
	cr_assert_not(crypto_equal("abcdef", "abcdeg", 6));
	cr_assert_not(crypto_equal("Xbcdef", "abcdef", 6));
}
