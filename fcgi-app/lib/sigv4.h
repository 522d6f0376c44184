/*
 * sigv4: AWS Signature Version 4 ("AWS4-HMAC-SHA256") for request headers.
 *
 * Purpose: sign S3 requests (PutObject to Cloudflare R2, AWS S3, s3rver)
 * without libcurl's CURLOPT_AWS_SIGV4, whose 7.88 build signs uploads with
 * the empty-body hash, omits x-amz-content-sha256 and leaves the query
 * unsorted.  SHA-256 and HMAC come from OpenSSL.
 *
 * Ownership: every pointer is borrowed for the duration of the call; the
 * results go into caller-supplied buffers.  The only heap use is internal
 * and freed before returning.  The secret key is never copied except into
 * a stack buffer that is wiped (OPENSSL_cleanse), as are the derived keys.
 *
 * Errors: -1 when an input is invalid or an output buffer is too small;
 * on -1 every supplied output buffer holds "" (never a truncated value).
 *
 * Purity: no global state, no clock (the caller supplies the date), never
 * logs; safe to call from any number of threads.
 */
#ifndef IG_SIGV4_H
#define IG_SIGV4_H

#include <stddef.h>

#define SIGV4_AMZ_DATE_LEN	16	/* "20130524T000000Z" */
#define SIGV4_UNSIGNED_PAYLOAD	"UNSIGNED-PAYLOAD"
/* SHA-256 of the empty string, the payload hash of a body-less request. */
#define SIGV4_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct sigv4_header {
	const char	*name;
	const char	*value;
};

struct sigv4_request {
	/* HTTP method, e.g. "PUT" (an RFC 9110 token). */
	const char			*method;
	/*
	 * S3 rules: the raw, unencoded path ("/bucket/a b.png"); it is
	 * percent-encoded once with '/' kept and never normalised, so the
	 * request must be sent with sigv4_uri_encode(path, 1).
	 * Generic rules: the path as it appears in the request line; '.'
	 * and '..' segments and empty segments are removed and each segment
	 * is percent-encoded (again, if it already was: that is the spec's
	 * "double encoding").  Must start with '/'; NULL or "" means "/".
	 */
	const char			*path;
	/*
	 * Query string without '?', NULL or "" for none.  Split on '&', then
	 * on the first '='; each name and value is percent-decoded (valid %XX
	 * triplets only) and re-encoded per SigV4, so raw ("a b", "€") and
	 * already-encoded ("a%20b") input sign the same.  Consequences: a
	 * literal '&', '=' or '%' inside a name or value must be sent as
	 * %26, %3D, %25; '+' is a literal plus (signed as %2B), not a space.
	 * A name without '=' signs as "name=".  Sorted by encoded name,
	 * then encoded value.
	 */
	const char			*query;
	/*
	 * Headers to sign; names in any case (RFC 9110 tokens), values are
	 * trimmed and runs of spaces/tabs collapsed to one space; CR, LF and
	 * other control characters are rejected.  Repeated names are joined
	 * with ',' in the given order.  Must include host and x-amz-date (whose
	 * value must equal amz_date); with s3_path_rules also
	 * x-amz-content-sha256 (equal to payload_sha256_hex).
	 */
	const struct sigv4_header	*headers;
	size_t				 nheaders;
	/* Lower-case hex SHA-256 of the body, or "UNSIGNED-PAYLOAD". */
	const char			*payload_sha256_hex;
	/*
	 * Region ("auto" for R2, "us-east-1", ...) and service ("s3"): 1..64
	 * of A-Z a-z 0-9 - _ .; amz_date: "20130524T000000Z" (see
	 * sigv4_amz_date), the same value as the x-amz-date header.
	 */
	const char			*region;
	const char			*service;
	const char			*amz_date;
	/* 1: S3 path rules (see path); 0: generic AWS service rules. */
	int				 s3_path_rules;
};

/*
 * The Authorization header value, NUL-terminated, into authorization:
 * "AWS4-HMAC-SHA256 Credential=AKID/YYYYMMDD/region/service/aws4_request,
 * SignedHeaders=a;b;c, Signature=<64 hex>".  If creq_out / sts_out are
 * non-NULL, the canonical request and the string to sign are written there
 * too (for tests and debugging; they hold no secret).  Returns 0, or -1 if
 * an input is invalid or any buffer is too small.
 */
int	sigv4_sign(const struct sigv4_request *req, const char *access_key,
	    const char *secret_key, char *authorization, size_t authlen,
	    char *creq_out, size_t creqlen, char *sts_out, size_t stslen);

/*
 * SigV4 percent-encoding of in: A-Z a-z 0-9 - _ . ~ kept, every other byte
 * as %XX (upper-case hex); '/' is kept when keep_slash.  Nothing is
 * decoded first.  Returns 0, or -1 (out = "") if out is too small.
 */
int	sigv4_uri_encode(const char *in, int keep_slash, char *out,
	    size_t outlen);

/*
 * "YYYYMMDD'T'HHMMSS'Z'" (UTC) for seconds since the epoch; times outside
 * 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59Z are clamped to those bounds.
 */
void	sigv4_amz_date(long long epoch_seconds,
	    char out[SIGV4_AMZ_DATE_LEN + 1]);

#endif
