#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "sigv4.h"
#include "storage.h"

/*
 * storage_s3: the PutObject request as data (URL, headers, signature) and
 * the classification of the store's answers.  The signer itself is tested
 * against AWS's vectors in test_sigv4.c; here the point is that the request
 * we send is the one we sign.
 */

#define T_NOW		1700000000LL	/* 2023-11-14T22:13:20Z */
#define T_AKID		"AKIDS3TEST"
#define T_SECRET	"s3cr3t/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define T_KEY		"generations/u-1/g-2/0.png"
#define T_CACHE		"public, max-age=31536000, immutable"

static const char s3_body[] = "\x89PNG\r\n\x1a\n not really an image";

static void
s3_cfg(struct config *cfg, const char *endpoint, const char *bucket,
    int path_style)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->s3_endpoint = (char *)(uintptr_t)endpoint;
	cfg->s3_bucket = (char *)(uintptr_t)bucket;
	cfg->s3_access_key_id = T_AKID;
	cfg->s3_secret_access_key = T_SECRET;
	cfg->s3_region = "auto";
	cfg->s3_path_style = path_style;
	cfg->s3_cache_control = T_CACHE;
}

/* The value of header `name` in req, or NULL. */
static const char *
s3_hdr(const struct http_request *req, const char *name)
{
	size_t	 n = strlen(name);
	int	 i;

	for (i = 0; i < req->nheaders; i++) {
		const char *line = buf_cstr(&req->headers[i]);

		if (strncasecmp(line, name, n) == 0 && line[n] == ':')
			return line[n + 1] == ' ' ? line + n + 2 : line + n + 1;
	}
	return NULL;
}

static void
s3_build(const struct config *cfg, const void *data, size_t len,
    struct http_request *req)
{
	struct ig_err	 err = IG_ERR_INIT;

	cr_assert_eq(storage_s3_build_put(cfg, T_KEY, data, len, "image/png",
	    T_NOW, req, &err), 0, "%s", err.msg);
	cr_assert(http_request_ok(req));
}

static void
s3_build_fails(const struct config *cfg, const char *key, enum ig_errc code,
    const char *needle)
{
	struct http_request	 req;
	struct ig_err		 err = IG_ERR_INIT;

	cr_assert_eq(storage_s3_build_put(cfg, key, s3_body, sizeof(s3_body),
	    "image/png", T_NOW, &req, &err), -1, "%s %s accepted",
	    cfg->s3_endpoint, cfg->s3_bucket);
	cr_assert_eq(err.code, code, "%s: %s", cfg->s3_endpoint, err.msg);
	cr_assert_not_null(strstr(err.msg, needle), "%s", err.msg);
	cr_assert_null(strstr(err.msg, T_SECRET));
	cr_assert_eq(req.nheaders, 0);
	http_request_release(&req);	/* must be harmless after a failure */
}

Test(storage_s3, path_style_url)
{
	struct config		 cfg;
	struct http_request	 req;

	s3_cfg(&cfg, "http://127.0.0.1:4568", "imggen-test", 1);
	s3_build(&cfg, s3_body, sizeof(s3_body), &req);
	cr_assert_str_eq(req.method, "PUT");
	cr_assert_str_eq(buf_cstr(&req.url),
	    "http://127.0.0.1:4568/imggen-test/" T_KEY);
	cr_assert_str_eq(s3_hdr(&req, "Host"), "127.0.0.1:4568");
	http_request_release(&req);
}

Test(storage_s3, virtual_hosted_url)
{
	struct config		 cfg;
	struct http_request	 req;

	s3_cfg(&cfg, "https://acct.r2.cloudflarestorage.com", "images", 0);
	s3_build(&cfg, s3_body, sizeof(s3_body), &req);
	cr_assert_str_eq(buf_cstr(&req.url),
	    "https://images.acct.r2.cloudflarestorage.com/" T_KEY);
	cr_assert_str_eq(s3_hdr(&req, "Host"),
	    "images.acct.r2.cloudflarestorage.com");
	http_request_release(&req);
}

Test(storage_s3, endpoint_with_port)
{
	struct config		 cfg;
	struct http_request	 req;

	s3_cfg(&cfg, "http://minio.internal:9000", "images", 0);
	s3_build(&cfg, s3_body, sizeof(s3_body), &req);
	cr_assert_str_eq(buf_cstr(&req.url),
	    "http://images.minio.internal:9000/" T_KEY);
	cr_assert_str_eq(s3_hdr(&req, "Host"), "images.minio.internal:9000");
	http_request_release(&req);

	/* curl leaves a scheme's default port out of Host; so do we. */
	s3_cfg(&cfg, "https://s3.example.com:443", "images", 1);
	s3_build(&cfg, s3_body, sizeof(s3_body), &req);
	cr_assert_str_eq(buf_cstr(&req.url),
	    "https://s3.example.com:443/images/" T_KEY);
	cr_assert_str_eq(s3_hdr(&req, "Host"), "s3.example.com");
	http_request_release(&req);

	s3_cfg(&cfg, "http://[::1]:9000", "images", 1);
	s3_build(&cfg, s3_body, sizeof(s3_body), &req);
	cr_assert_str_eq(buf_cstr(&req.url), "http://[::1]:9000/images/" T_KEY);
	cr_assert_str_eq(s3_hdr(&req, "Host"), "[::1]:9000");
	http_request_release(&req);
}

Test(storage_s3, headers)
{
	struct config		 cfg;
	struct http_request	 req;
	uint8_t			 sum[CRYPTO_SHA256_LEN];
	char			 hex[2 * CRYPTO_SHA256_LEN + 1];
	const void		*b;
	size_t			 blen;
	int			 i;

	s3_cfg(&cfg, "https://acct.r2.cloudflarestorage.com", "images", 0);
	s3_build(&cfg, s3_body, sizeof(s3_body), &req);
	crypto_sha256(s3_body, sizeof(s3_body), sum);
	crypto_hex(sum, sizeof(sum), hex);
	cr_assert_str_eq(s3_hdr(&req, "x-amz-content-sha256"), hex);
	cr_assert_str_eq(s3_hdr(&req, "x-amz-date"), "20231114T221320Z");
	cr_assert_str_eq(s3_hdr(&req, "Content-Type"), "image/png");
	cr_assert_str_eq(s3_hdr(&req, "Cache-Control"), T_CACHE);
	cr_assert_str_eq(s3_hdr(&req, "Expect"), "");
	cr_assert_not_null(s3_hdr(&req, "Authorization"));
	/* curl computes it from the body; a second one would be a bug. */
	cr_assert_null(s3_hdr(&req, "Content-Length"));
	for (i = 0; i < req.nheaders; i++) {
		const char *line = buf_cstr(&req.headers[i]);

		cr_assert(strncasecmp(line, "x-amz-acl", 9) != 0 &&
		    strncasecmp(line, "x-amz-grant", 11) != 0, "%s", line);
		cr_assert_null(strstr(line, T_SECRET));
	}
	b = http_request_body(&req, &blen);
	cr_assert_eq(b, (const void *)s3_body);
	cr_assert_eq(blen, sizeof(s3_body));
	http_request_release(&req);
}

Test(storage_s3, header_values_normalised)
{
	struct config		 cfg;
	struct http_request	 req;
	struct ig_err		 err = IG_ERR_INIT;
	char			 longval[600];

	s3_cfg(&cfg, "http://127.0.0.1:4568", "imggen-test", 1);
	cfg.s3_cache_control = "  public,\t  max-age=60  ";
	s3_build(&cfg, s3_body, sizeof(s3_body), &req);
	cr_assert_str_eq(s3_hdr(&req, "Cache-Control"), "public, max-age=60");
	http_request_release(&req);

	cfg.s3_cache_control = "";
	s3_build(&cfg, s3_body, sizeof(s3_body), &req);
	cr_assert_null(s3_hdr(&req, "Cache-Control"));
	cr_assert_null(strstr(s3_hdr(&req, "Authorization"), "cache-control"));
	http_request_release(&req);

	memset(longval, 'a', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	cfg.s3_cache_control = longval;
	cr_assert_eq(storage_s3_build_put(&cfg, T_KEY, s3_body,
	    sizeof(s3_body), "image/png", T_NOW, &req, &err), -1);
	cr_assert_not_null(strstr(err.msg, "S3_CACHE_CONTROL"));
	longval[400] = '\0';
	s3_build(&cfg, s3_body, sizeof(s3_body), &req);
	cr_assert_str_eq(s3_hdr(&req, "Cache-Control"), longval);
	http_request_release(&req);

	cfg.s3_cache_control = "max-age=60\r\nx-amz-acl: public-read";
	cr_assert_eq(storage_s3_build_put(&cfg, T_KEY, s3_body,
	    sizeof(s3_body), "image/png", T_NOW, &req, &err), -1);
	cr_assert_not_null(strstr(err.msg, "S3_CACHE_CONTROL"));
	http_request_release(&req);
}

/* Signs what the request says with sigv4 directly, as a second opinion. */
static void
s3_expected_auth(const struct http_request *req, const char *path,
    char *out, size_t outlen)
{
	struct sigv4_header	 h[5] = {
		{ "host", s3_hdr(req, "Host") },
		{ "x-amz-date", s3_hdr(req, "x-amz-date") },
		{ "x-amz-content-sha256", s3_hdr(req, "x-amz-content-sha256") },
		{ "content-type", s3_hdr(req, "Content-Type") },
		{ "cache-control", s3_hdr(req, "Cache-Control") },
	};
	struct sigv4_request	 sr;

	memset(&sr, 0, sizeof(sr));
	sr.method = "PUT";
	sr.path = path;
	sr.headers = h;
	sr.nheaders = 5;
	sr.payload_sha256_hex = s3_hdr(req, "x-amz-content-sha256");
	sr.region = "auto";
	sr.service = "s3";
	sr.amz_date = "20231114T221320Z";
	sr.s3_path_rules = 1;
	cr_assert_eq(sigv4_sign(&sr, T_AKID, T_SECRET, out, outlen, NULL, 0,
	    NULL, 0), 0);
}

Test(storage_s3, authorization_matches_signer)
{
	struct config		 cfg;
	struct http_request	 req, req2;
	char			 want[1024];
	const char		*auth;
	static const char	 other[] = "another body";

	s3_cfg(&cfg, "http://127.0.0.1:4568", "imggen-test", 1);
	s3_build(&cfg, s3_body, sizeof(s3_body), &req);
	s3_expected_auth(&req, "/imggen-test/" T_KEY, want, sizeof(want));
	auth = s3_hdr(&req, "Authorization");
	cr_assert_str_eq(auth, want);
	cr_assert_not_null(strstr(auth, "Credential=" T_AKID
	    "/20231114/auto/s3/aws4_request, SignedHeaders=cache-control;"
	    "content-type;host;x-amz-content-sha256;x-amz-date, Signature="));

	/* Another body: another payload hash, another signature. */
	s3_build(&cfg, other, sizeof(other), &req2);
	cr_assert_str_neq(s3_hdr(&req2, "Authorization"), auth);
	cr_assert_str_neq(s3_hdr(&req2, "x-amz-content-sha256"),
	    s3_hdr(&req, "x-amz-content-sha256"));
	http_request_release(&req2);
	http_request_release(&req);

	/* Virtual-hosted: the bucket is in Host, not in the signed path. */
	s3_cfg(&cfg, "https://acct.r2.cloudflarestorage.com", "images", 0);
	s3_build(&cfg, s3_body, sizeof(s3_body), &req);
	s3_expected_auth(&req, "/" T_KEY, want, sizeof(want));
	cr_assert_str_eq(s3_hdr(&req, "Authorization"), want);
	http_request_release(&req);
}

Test(storage_s3, empty_body_hash)
{
	struct config		 cfg;
	struct http_request	 req;

	s3_cfg(&cfg, "http://127.0.0.1:4568", "imggen-test", 1);
	s3_build(&cfg, "", 0, &req);
	cr_assert_str_eq(s3_hdr(&req, "x-amz-content-sha256"),
	    SIGV4_EMPTY_SHA256);
	http_request_release(&req);
}

Test(storage_s3, bad_configuration)
{
	struct config	 cfg;

	s3_cfg(&cfg, "ftp://s3.example.com", "images", 1);
	s3_build_fails(&cfg, T_KEY, IG_EPERMANENT, "S3_ENDPOINT");
	s3_cfg(&cfg, "http://s3.example.com/prefix", "images", 1);
	s3_build_fails(&cfg, T_KEY, IG_EPERMANENT, "S3_ENDPOINT");
	s3_cfg(&cfg, "http://user:pw@s3.example.com", "images", 1);
	s3_build_fails(&cfg, T_KEY, IG_EPERMANENT, "S3_ENDPOINT");
	s3_cfg(&cfg, "http://s3.example.com:99999", "images", 1);
	s3_build_fails(&cfg, T_KEY, IG_EPERMANENT, "S3_ENDPOINT");
	s3_cfg(&cfg, "http://s3.example.com:", "images", 1);
	s3_build_fails(&cfg, T_KEY, IG_EPERMANENT, "S3_ENDPOINT");
	s3_cfg(&cfg, "http://s3.example.com?x=1", "images", 1);
	s3_build_fails(&cfg, T_KEY, IG_EPERMANENT, "S3_ENDPOINT");
	s3_cfg(&cfg, "", "images", 1);
	s3_build_fails(&cfg, T_KEY, IG_EPERMANENT, "S3_ENDPOINT");
	s3_cfg(&cfg, "http://127.0.0.1:4568", "images", 0);
	s3_build_fails(&cfg, T_KEY, IG_EPERMANENT, "S3_FORCE_PATH_STYLE=1");

	/* Not DNS-safe, so not usable as a subdomain. */
	s3_cfg(&cfg, "https://s3.example.com", "Bad_Bucket", 0);
	s3_build_fails(&cfg, T_KEY, IG_EPERMANENT, "S3_BUCKET");
	s3_cfg(&cfg, "https://s3.example.com", "my.images", 0);
	s3_build_fails(&cfg, T_KEY, IG_EPERMANENT, "S3_BUCKET");
	s3_cfg(&cfg, "https://s3.example.com", "ab", 0);
	s3_build_fails(&cfg, T_KEY, IG_EPERMANENT, "S3_BUCKET");
	s3_cfg(&cfg, "https://s3.example.com", "-images", 0);
	s3_build_fails(&cfg, T_KEY, IG_EPERMANENT, "S3_BUCKET");
	s3_cfg(&cfg, "https://s3.example.com", "", 1);
	s3_build_fails(&cfg, T_KEY, IG_EPERMANENT, "S3_BUCKET");
	s3_cfg(&cfg, "https://s3.example.com", "a/b", 1);
	s3_build_fails(&cfg, T_KEY, IG_EPERMANENT, "S3_BUCKET");

	/* A secret the signer refuses is named, never shown. */
	s3_cfg(&cfg, "https://s3.example.com", "images", 0);
	cfg.s3_region = "no region";
	s3_build_fails(&cfg, T_KEY, IG_EPERMANENT, "S3_REGION");

	/* Keys curl or a proxy would rewrite are refused outright. */
	s3_cfg(&cfg, "https://s3.example.com", "images", 0);
	s3_build_fails(&cfg, "a/../b.png", IG_EINTERNAL, "key");
	s3_build_fails(&cfg, "a/./b.png", IG_EINTERNAL, "key");
	s3_build_fails(&cfg, "a//b.png", IG_EINTERNAL, "key");
	s3_build_fails(&cfg, "/a.png", IG_EINTERNAL, "key");
	s3_build_fails(&cfg, "a b.png", IG_EINTERNAL, "key");
	s3_build_fails(&cfg, "", IG_EINTERNAL, "key");
}

Test(storage_s3, legal_names)
{
	struct config		 cfg;
	struct http_request	 req;

	/* Dotted buckets are fine path-style and as subdomains over http. */
	s3_cfg(&cfg, "https://s3.example.com", "my.images", 1);
	s3_build(&cfg, s3_body, sizeof(s3_body), &req);
	http_request_release(&req);
	s3_cfg(&cfg, "http://s3.example.com", "my.images", 0);
	s3_build(&cfg, s3_body, sizeof(s3_body), &req);
	cr_assert_str_eq(s3_hdr(&req, "Host"), "my.images.s3.example.com");
	http_request_release(&req);
}

static void
s3_check(long status, long retry_after, const char *body, enum ig_errc code,
    const char *msg)
{
	struct ig_err	 err = IG_ERR_INIT;

	cr_assert_eq(storage_s3_check_put(status, retry_after, body,
	    body ? strlen(body) : 0, &err), -1);
	cr_assert_eq(err.code, code, "%ld %s: %s", status, body, err.msg);
	cr_assert_str_eq(err.msg, msg);
}

#define S3_ERR(c)	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>" \
			"<Code>" c "</Code><Message>Something " \
			"happened</Message><RequestId>4442587FB7D0A2F9" \
			"</RequestId></Error>"

Test(storage_s3, answers_classified)
{
	struct ig_err	 err = IG_ERR_INIT;

	cr_assert_eq(storage_s3_check_put(200, 0, "", 0, &err), 0);
	cr_assert_eq(storage_s3_check_put(204, 0, NULL, 0, &err), 0);

	s3_check(503, 7, S3_ERR("SlowDown"), IG_ETRANSIENT,
	    "storage answered HTTP 503: SlowDown");
	s3_check(500, 0, S3_ERR("InternalError"), IG_ETRANSIENT,
	    "storage answered HTTP 500: InternalError");
	s3_check(503, 0, S3_ERR("ServiceUnavailable"), IG_ETRANSIENT,
	    "storage answered HTTP 503: ServiceUnavailable");
	s3_check(400, 0, S3_ERR("RequestTimeout"), IG_ETRANSIENT,
	    "storage answered HTTP 400: RequestTimeout");
	s3_check(429, 3, NULL, IG_ETRANSIENT, "storage answered HTTP 429");
	s3_check(502, 0, "<html>Bad gateway</html>", IG_ETRANSIENT,
	    "storage answered HTTP 502");
	s3_check(0, 0, NULL, IG_ETRANSIENT,
	    "storage gave no valid HTTP status (0)");

	/*
	 * Operator-side problems retry too (fixed by the operator, then the
	 * job succeeds); the code names what to fix.
	 */
	s3_check(403, 0, S3_ERR("SignatureDoesNotMatch"), IG_ETRANSIENT,
	    "storage answered HTTP 403: SignatureDoesNotMatch");
	s3_check(403, 0, S3_ERR("AccessDenied"), IG_ETRANSIENT,
	    "storage answered HTTP 403: AccessDenied");
	s3_check(403, 0, S3_ERR("InvalidAccessKeyId"), IG_ETRANSIENT,
	    "storage answered HTTP 403: InvalidAccessKeyId");
	s3_check(404, 0, S3_ERR("NoSuchBucket"), IG_ETRANSIENT,
	    "storage answered HTTP 404: NoSuchBucket");
	s3_check(400, 0, S3_ERR("InvalidArgument"), IG_ETRANSIENT,
	    "storage answered HTTP 400: InvalidArgument");
	s3_check(301, 0, S3_ERR("PermanentRedirect"), IG_ETRANSIENT,
	    "storage answered HTTP 301: PermanentRedirect");
	s3_check(413, 0, "", IG_ETRANSIENT, "storage answered HTTP 413");
}

Test(storage_s3, retry_after_honoured)
{
	struct ig_err	 err = IG_ERR_INIT;

	storage_s3_check_put(503, 7, S3_ERR("SlowDown"), strlen(S3_ERR(
	    "SlowDown")), &err);
	cr_assert_eq(err.retry_after, 7);
	storage_s3_check_put(400, 9, S3_ERR("RequestTimeout"), strlen(S3_ERR(
	    "RequestTimeout")), &err);
	cr_assert_eq(err.retry_after, 9);
	/* Only a "slow down" kind of answer sets the pace. */
	storage_s3_check_put(403, 9, S3_ERR("AccessDenied"), strlen(S3_ERR(
	    "AccessDenied")), &err);
	cr_assert_eq(err.code, IG_ETRANSIENT);
	cr_assert_eq(err.retry_after, 0);
}

/* Every message is short, printable ASCII. */
static void
s3_assert_clean_msg(const struct ig_err *err)
{
	const char	*p;

	cr_assert_lt(strlen(err->msg), 80, "%s", err->msg);
	for (p = err->msg; *p; p++)
		cr_assert(*p >= 0x20 && *p <= 0x7e, "byte %02x in message",
		    (unsigned char)*p);
}

/* Exactly len bytes on the heap, so a sanitizer sees any over-read. */
static void
s3_check_exact(long status, const char *bytes, size_t len, struct ig_err *err)
{
	char	*copy = malloc(len ? len : 1);

	cr_assert_not_null(copy);
	memcpy(copy, bytes, len);
	cr_assert_eq(storage_s3_check_put(status, 0, copy, len, err), -1);
	free(copy);
	s3_assert_clean_msg(err);
}

Test(storage_s3, truncated_bodies)
{
	static const char	 doc[] = S3_ERR("SlowDown");
	struct ig_err		 err = IG_ERR_INIT;
	size_t			 n, full;

	/* The code counts only once "</Code>" has arrived whole. */
	full = (size_t)(strstr(doc, "</Code>") - doc) + 7;
	for (n = 0; n <= sizeof(doc) - 1; n++) {
		s3_check_exact(400, doc, n, &err);
		cr_assert_str_eq(err.msg, n >= full ?
		    "storage answered HTTP 400: SlowDown" :
		    "storage answered HTTP 400", "prefix %zu", n);
	}
}

Test(storage_s3, hostile_bodies)
{
	static const char *const bodies[] = {
		"<Error><Code>Slow\x01Down</Code></Error>",
		"<Error><Code>SlowDown\x1b[31m</Code></Error>",
		"<Error><Code></Code></Error>",
		"<Error><Code>Slow Down</Code></Error>",
		"<Error><Code><![CDATA[SlowDown]]></Code></Error>",
		"<Code>SlowDown</Code>",	/* not an S3 error document */
		"<Error><Code>SlowDown</Cod",
		"<Error><Code>SlowDown",
		"<Error><Code>",
		"<Error>",
		"\xff\xfe<\x00E\x00r\x00",
	};
	struct ig_err	 err = IG_ERR_INIT;
	char		 longcode[200];
	char		*big;
	size_t		 i, bigsz = 4 * 1024 * 1024;
	uint32_t	 x = 2463534242u;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		s3_check_exact(400, bodies[i], strlen(bodies[i]), &err);
		cr_assert_str_eq(err.msg, "storage answered HTTP 400", "%zu", i);
		cr_assert_eq(err.code, IG_ETRANSIENT);
	}
	/* Over-long codes are dropped, not truncated into something else. */
	snprintf(longcode, sizeof(longcode), "<Error><Code>%0100d</Code>", 0);
	s3_check_exact(403, longcode, strlen(longcode), &err);
	cr_assert_str_eq(err.msg, "storage answered HTTP 403");

	/* Garbage, then a huge document with its code at the very end. */
	cr_assert_not_null(big = malloc(bigsz));
	for (i = 0; i < bigsz; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		big[i] = (char)(x & 0xff);
	}
	for (i = 1; i < bigsz; i *= 3)
		s3_check_exact(400, big, i, &err);
	memset(big, ' ', bigsz);
	memcpy(big, "<Error>", 7);
	memcpy(big + bigsz - 21, "<Code>SlowDown</Code>", 21);
	s3_check_exact(400, big, bigsz, &err);
	cr_assert_str_eq(err.msg, "storage answered HTTP 400: SlowDown");
	cr_assert_eq(err.code, IG_ETRANSIENT);
	free(big);
}
