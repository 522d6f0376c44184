/*
 * crypto: hashing, random secrets and constant-time comparison (OpenSSL).
 *
 * API tokens are "igt_" + 43 base64url characters (32 random bytes).  Only
 * their SHA-256 is ever stored; comparisons of secret-derived bytes go
 * through crypto_equal(), which takes the same time whatever the contents.
 */
#ifndef IG_CRYPTO_H
#define IG_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_LEN	32
#define CRYPTO_TOKEN_PREFIX	"igt_"
#define CRYPTO_TOKEN_LEN	(4 + 43)

void	crypto_sha256(const void *data, size_t len,
	    uint8_t out[CRYPTO_SHA256_LEN]);
/* Lower-case hex of len bytes into out (2 * len + 1 bytes). */
void	crypto_hex(const uint8_t *in, size_t len, char *out);
int	crypto_equal(const void *a, const void *b, size_t len);
/* A new API token, NUL-terminated, into out[CRYPTO_TOKEN_LEN + 1]. */
int	crypto_new_token(char out[CRYPTO_TOKEN_LEN + 1])
	    __attribute__((warn_unused_result));
/* Unpadded base64url (RFC 4648 §5) text length of n bytes. */
#define CRYPTO_B64URL_LEN(n)	(((n) * 4 + 2) / 3)
/*
 * Unpadded base64url of len bytes into out, which holds
 * CRYPTO_B64URL_LEN(len) + 1 bytes; NUL-terminated; returns the text length.
 */
size_t	crypto_b64url_encode(const void *in, size_t len, char *out);
/*
 * Strict unpadded base64url into out (at most cap bytes): a character
 * outside the alphabet, a length no encoding has, leftover bits that are
 * not zero (so every value has exactly one encoding) or more than cap bytes
 * → -1; otherwise the number of bytes.  The one decoder for tokens, JWTs
 * and cursors.
 */
long	crypto_b64url_decode(const char *in, size_t len, void *out, size_t cap);
/* Whether s has the shape of an API token (cheap check before any lookup). */
int	crypto_token_wellformed(const char *s, size_t len);
void	crypto_wipe(void *p, size_t len);

#endif
