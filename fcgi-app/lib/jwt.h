/*
 * jwt: HS256 JSON Web Tokens (RFC 7519) as an alternative bearer credential,
 * so an existing login (a PHP/LAMP session, say) can call the API without
 * minting API tokens: the site signs {"sub": <user id>, "exp": …} with the
 * shared secret IMGGEN_JWT_SECRET.
 *
 * Only alg HS256 is accepted (never "none", never asymmetric algorithms
 * that could be confused with the shared secret); exp is required; nbf is
 * honoured when present; 30 s of clock skew is allowed.  The signature is
 * compared in constant time.  Pure function; the caller checks that the
 * user exists.
 */
#ifndef IG_JWT_H
#define IG_JWT_H

#include <stddef.h>

#include "ig_err.h"

#define JWT_MAX_LEN	4096
#define JWT_LEEWAY	30

/* Whether a bearer credential has the shape of a JWT (three parts). */
int	jwt_looks_like(const char *token, size_t len);
/*
 * Verifies token with secret at time now; copies the sub claim (a user id,
 * at most subcap - 1 bytes).  IG_EAUTH on any failure.
 */
int	jwt_verify_hs256(const char *token, size_t len, const char *secret,
	    long long now, char *sub, size_t subcap, struct ig_err *)
	    __attribute__((warn_unused_result));

#endif
