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

/* RFC 4648 §10's vectors, unpadded, plus the two characters base64url changes. */
Test(crypto, b64url_encode_rfc4648_vectors)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob",
	    "fooba", "foobar" };
	static const char *const text[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg",
	    "Zm9vYmE", "Zm9vYmFy" };
	static const uint8_t url[] = { 0xfb, 0xff };
	char		 out[16];
	uint8_t		 back[16];
	size_t		 i, n;

	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		n = crypto_b64url_encode(plain[i], strlen(plain[i]), out);
		cr_assert_str_eq(out, text[i]);
		cr_assert_eq(n, CRYPTO_B64URL_LEN(strlen(plain[i])));
		cr_assert_eq(crypto_b64url_decode(out, n, back, sizeof(back)),
		    (long)strlen(plain[i]));
		cr_assert_eq(memcmp(back, plain[i], strlen(plain[i])), 0);
	}
	crypto_b64url_encode(url, sizeof(url), out);
	cr_assert_str_eq(out, "-_8");
}

Test(crypto, b64url_decode_is_strict)
{
	uint8_t	 out[8];

	cr_assert_eq(crypto_b64url_decode("Zm9v", 4, out, sizeof(out)), 3);
	/* one encoding per value: "Zh" has non-zero leftover bits */
	cr_assert_eq(crypto_b64url_decode("Zh", 2, out, sizeof(out)), -1);
	cr_assert_eq(crypto_b64url_decode("Z", 1, out, sizeof(out)), -1);
	cr_assert_eq(crypto_b64url_decode("Zm9v=", 5, out, sizeof(out)), -1);
	cr_assert_eq(crypto_b64url_decode("Zm+v", 4, out, sizeof(out)), -1);
	cr_assert_eq(crypto_b64url_decode("Zm/v", 4, out, sizeof(out)), -1);
	cr_assert_eq(crypto_b64url_decode("Zm\0v", 4, out, sizeof(out)), -1);
	/* never more than cap bytes */
	cr_assert_eq(crypto_b64url_decode("Zm9vYmFy", 8, out, 5), -1);
	cr_assert_eq(crypto_b64url_decode("Zm9vYmFy", 8, out, 6), 6);
}
