/*
 * storage_s3: PutObject for S3-compatible stores (Cloudflare R2, AWS S3,
 * MinIO, s3rver), as a pure request builder and an answer classifier.
 *
 * The request is signed with our own SigV4 code (sigv4.c), S3 flavour: the
 * path is encoded once, x-amz-content-sha256 carries the real body hash
 * (never UNSIGNED-PAYLOAD: R2 and s3rver would accept it, but then nothing
 * binds the bytes to the signature).  Signed: host, x-amz-date,
 * x-amz-content-sha256, content-type and cache-control, so neither the
 * stored bytes nor the metadata served with them can be altered on the
 * way.  Content-Length is neither set nor signed: curl derives it from the
 * body it actually sends, so it cannot disagree, and the payload hash
 * already fixes the length.  No ACL header: R2 rejects them and buckets
 * are made public by their own policy or a custom domain.
 */
#include "storage.h"

#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "sigv4.h"

#define S3_MAX_HOST	253	/* a DNS name; also bounds an IP literal */
#define S3_MAX_PATH	1024	/* raw "/bucket/key" */
#define S3_MAX_VALUE	502	/* Content-Type, Cache-Control: 500 */
#define S3_MAX_AUTH	1024	/* the Authorization value */
#define S3_MAX_CODE	64	/* an S3 error code such as "SlowDown" */

struct s3_endpoint {
	char	 scheme[8];			/* "http" or "https" */
	char	 host[S3_MAX_HOST + 1];		/* as configured */
	char	 port[6];			/* "" when absent or default */
	int	 ip_literal;			/* digits and dots, or [v6] */
};

static int
is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * scheme://host[:port] and nothing else: a path, userinfo or query would
 * have to be signed and sent differently, so it is refused, not guessed.
 * A default port is dropped, because the Host header must be what the
 * server reconstructs and AWS SDKs omit it too.
 */
static int
parse_endpoint(const char *url, struct s3_endpoint *ep)
{
	const char	*p, *h, *colon = NULL;
	size_t		 hlen, plen, i;
	long		 port = 0;

	memset(ep, 0, sizeof(*ep));
	if (strncmp(url, "https://", 8) == 0) {
		memcpy(ep->scheme, "https", 6);
		p = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		memcpy(ep->scheme, "http", 5);
		p = url + 7;
	} else
		return -1;
	h = p;
	if (*p == '[') {			/* IPv6 literal */
		p++;
		p += strspn(p, "0123456789abcdefABCDEF:.");
		if (*p++ != ']')
			return -1;
		ep->ip_literal = 1;
	} else
		p += strspn(p, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
	hlen = (size_t)(p - h);
	if (*p == ':')
		colon = p++;
	plen = strspn(p, "0123456789");
	if (p[plen] != '\0' || hlen == 0 || hlen > S3_MAX_HOST ||
	    (colon != NULL && (plen == 0 || plen > 5)))
		return -1;
	memcpy(ep->host, h, hlen);
	if (!ep->ip_literal)
		ep->ip_literal = strspn(ep->host, "0123456789.") == hlen;
	if (colon == NULL)
		return 0;
	for (i = 0; i < plen; i++)
		port = port * 10 + (p[i] - '0');
	if (port < 1 || port > 65535)
		return -1;
	if ((strcmp(ep->scheme, "https") == 0 && strcmp(p, "443") == 0) ||
	    (strcmp(ep->scheme, "http") == 0 && strcmp(p, "80") == 0))
		return 0;
	memcpy(ep->port, p, plen + 1);
	return 0;
}

/*
 * A bucket that becomes a DNS label (virtual-hosted): S3's naming rules,
 * and no dots over https, where *.endpoint certificates cover one label.
 * Path-style buckets travel percent-encoded, so only the looser legacy
 * alphabet is checked there.
 */
static int
bucket_ok(const char *b, int vhost, int https)
{
	size_t	 n = strlen(b), i;

	if (!vhost)
		return n >= 1 && n <= 255 && strcmp(b, ".") != 0 &&
		    strcmp(b, "..") != 0 && strspn(b, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
	if (n < 3 || n > 63 || !is_alnum_lower(b[0]) ||
	    !is_alnum_lower(b[n - 1]) || strstr(b, "..") != NULL ||
	    strstr(b, ".-") != NULL || strstr(b, "-.") != NULL ||
	    (https && strchr(b, '.') != NULL) ||
	    strspn(b, "0123456789.") == n)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_alnum_lower(b[i]) && b[i] != '-' && b[i] != '.')
			return 0;
	return 1;
}

/*
 * curl squashes "." and ".." segments unless told otherwise and some
 * proxies merge "//", either of which breaks the signature; keys never
 * need them.
 */
static int
key_ok(const char *key)
{
	const char	*seg = key, *end;
	size_t		 n;

	if (!storage_key_safe(key))
		return 0;
	for (;;) {
		end = strchr(seg, '/');
		n = end ? (size_t)(end - seg) : strlen(seg);
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		if (end == NULL)
			return 1;
		seg = end + 1;
	}
}

/*
 * The value as SigV4 canonicalises it (trimmed, runs of blanks collapsed),
 * which is also what we send: servers that canonicalise the raw header
 * (s3rver does) then agree with us.  Printable ASCII only.
 */
static int
header_value(const char *in, char *out, size_t outlen)
{
	size_t	 o = 0;
	int	 blank = 0;

	for (; *in == ' ' || *in == '\t'; in++)
		;
	for (; *in; in++) {
		if (*in == ' ' || *in == '\t') {
			blank = 1;
			continue;
		}
		if ((unsigned char)*in < 0x21 || (unsigned char)*in > 0x7e)
			return -1;
		if (o + 2 >= outlen)
			return -1;
		if (blank && o > 0)
			out[o++] = ' ';
		blank = 0;
		out[o++] = *in;
	}
	out[o] = '\0';
	return 0;
}

/* Leaves *req empty but valid, so releasing it again is harmless. */
static int
fail(struct http_request *req, struct ig_err *err, const char *msg)
{
	http_request_release(req);
	http_request_init(req, "PUT", 0);
	return ig_err_set(err, IG_EPERMANENT, NULL, "%s", msg);
}

/* PUT (data, mime) or DELETE (no body) of one object, signed. */
static int
s3_build(const char *method, const struct config *cfg, const char *key,
    const void *data, size_t len, const char *mime, long long now,
    struct http_request *req, struct ig_err *err)
{
	int			 put = strcmp(method, "PUT") == 0;
	struct s3_endpoint	 ep;
	struct sigv4_header	 h[5];
	struct sigv4_request	 sr;
	uint8_t			 sum[CRYPTO_SHA256_LEN];
	char			 hash[2 * CRYPTO_SHA256_LEN + 1];
	char			 date[SIGV4_AMZ_DATE_LEN + 1];
	char			 host[S3_MAX_HOST + 72];
	char			 path[S3_MAX_PATH + 1], epath[3 * S3_MAX_PATH + 1];
	char			 ctype[S3_MAX_VALUE], cache[S3_MAX_VALUE];
	char			 auth[S3_MAX_AUTH];
	int			 vhost = !cfg->s3_path_style, n, rc;
	size_t			 nh = 0;

	http_request_init(req, method, 0);
	if (parse_endpoint(cfg->s3_endpoint, &ep) == -1)
		return fail(req, err, "S3_ENDPOINT: must be http(s)://host[:port]"
		    " with no path, user or query");
	if (vhost && ep.ip_literal)
		return fail(req, err, "S3_ENDPOINT: an IP address cannot take "
		    "a bucket subdomain; set S3_FORCE_PATH_STYLE=1");
	if (!bucket_ok(cfg->s3_bucket, vhost, strcmp(ep.scheme, "https") == 0))
		return fail(req, err, vhost ? "S3_BUCKET: not a DNS-safe bucket "
		    "name (3-63 of a-z 0-9 - ., no dots over https); or set "
		    "S3_FORCE_PATH_STYLE=1" : "S3_BUCKET: invalid bucket name");
	if (key == NULL || !key_ok(key))
		return ig_err_set(err, IG_EINTERNAL, NULL, "unsafe storage key");
	if (header_value(mime && *mime ? mime : "application/octet-stream",
	    ctype, sizeof(ctype)) == -1 || ctype[0] == '\0')
		return fail(req, err, "storage: invalid content type");
	if (header_value(cfg->s3_cache_control, cache, sizeof(cache)) == -1)
		return fail(req, err, "S3_CACHE_CONTROL: must be printable "
		    "ASCII, at most 500 characters");

	n = snprintf(host, sizeof(host), "%s%s%s%s%s", vhost ?
	    cfg->s3_bucket : "", vhost ? "." : "", ep.host,
	    ep.port[0] ? ":" : "", ep.port);
	if (n < 0 || (size_t)n >= sizeof(host))
		return fail(req, err, "S3_ENDPOINT: host name too long");
	n = snprintf(path, sizeof(path), "/%s%s%s", vhost ? "" :
	    cfg->s3_bucket, vhost ? "" : "/", key);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    sigv4_uri_encode(path, 1, epath, sizeof(epath)) == -1)
		return fail(req, err, "storage: object path too long");

	crypto_sha256(data, len, sum);
	crypto_hex(sum, sizeof(sum), hash);
	sigv4_amz_date(now, date);
	h[nh++] = (struct sigv4_header){ "host", host };
	h[nh++] = (struct sigv4_header){ "x-amz-date", date };
	h[nh++] = (struct sigv4_header){ "x-amz-content-sha256", hash };
	if (put)
		h[nh++] = (struct sigv4_header){ "content-type", ctype };
	if (put && cache[0] != '\0')
		h[nh++] = (struct sigv4_header){ "cache-control", cache };
	memset(&sr, 0, sizeof(sr));
	sr.method = method;
	sr.path = path;
	sr.headers = h;
	sr.nheaders = nh;
	sr.payload_sha256_hex = hash;
	sr.region = cfg->s3_region;
	sr.service = "s3";
	sr.amz_date = date;
	sr.s3_path_rules = 1;
	/* The secret is passed through, never copied; sigv4 wipes its own. */
	if (sigv4_sign(&sr, cfg->s3_access_key_id, cfg->s3_secret_access_key,
	    auth, sizeof(auth), NULL, 0, NULL, 0) == -1)
		return fail(req, err, "storage: cannot sign the upload (check "
		    "S3_REGION, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY)");

	if (vhost)
		buf_addf(&req->url, "%s://%s%s", ep.scheme, host, epath);
	else
		buf_addf(&req->url, "%s%s", cfg->s3_endpoint, epath);
	rc = 0;
	rc |= http_request_header(req, "Host: %s", host);
	rc |= http_request_header(req, "x-amz-date: %s", date);
	rc |= http_request_header(req, "x-amz-content-sha256: %s", hash);
	if (put)
		rc |= http_request_header(req, "Content-Type: %s", ctype);
	if (put && cache[0] != '\0')
		rc |= http_request_header(req, "Cache-Control: %s", cache);
	rc |= http_request_header(req, "Authorization: %s", auth);
	/* curl waits up to a second for "100 Continue" before big bodies. */
	rc |= http_request_header(req, "Expect:");
	crypto_wipe(auth, sizeof(auth));
	if (rc != 0 || !http_request_ok(req))
		return fail(req, err, "storage: upload request too large");
	req->ext_body = data;
	req->ext_body_len = len;
	return 0;
}

int
storage_s3_build_put(const struct config *cfg, const char *key,
    const void *data, size_t len, const char *mime, long long now,
    struct http_request *req, struct ig_err *err)
{
	return s3_build("PUT", cfg, key, data, len, mime, now, req, err);
}

int
storage_s3_build_delete(const struct config *cfg, const char *key,
    long long now, struct http_request *req, struct ig_err *err)
{
	return s3_build("DELETE", cfg, key, "", 0, NULL, now, req, err);
}

/* Bounded search: never looks past hay + hlen, needs no NUL. */
static const char *
find(const char *hay, size_t hlen, const char *needle)
{
	size_t	 n = strlen(needle), i;

	if (hay == NULL || hlen < n)
		return NULL;
	for (i = 0; i + n <= hlen; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0)
			return hay + i;
	return NULL;
}

/*
 * The <Code> of an S3 <Error> document into code, or "" when the body is
 * not one.  Only an identifier-like code is accepted (letters, digits, '.'),
 * so nothing odd or long from the server reaches a message or a log.
 */
static void
error_code(const char *body, size_t len, char code[S3_MAX_CODE + 1])
{
	const char	*p, *end, *q;
	size_t		 n;

	code[0] = '\0';
	if (body == NULL || len == 0)	/* NULL + 0 is undefined */
		return;
	end = body + len;
	if ((p = find(body, len, "<Error>")) == NULL ||
	    (p = find(p, (size_t)(end - p), "<Code>")) == NULL)
		return;
	p += 6;
	for (q = p; q < end && (size_t)(q - p) <= S3_MAX_CODE; q++)
		if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
		    (*q >= '0' && *q <= '9') || *q == '.'))
			break;
	n = (size_t)(q - p);
	if (n == 0 || n > S3_MAX_CODE || (size_t)(end - q) < 7 ||
	    memcmp(q, "</Code>", 7) != 0)
		return;
	memcpy(code, p, n);
	code[n] = '\0';
}

/* Codes S3 documents as "retry": some come with a 400 (RequestTimeout). */
static int
code_transient(const char *code)
{
	static const char *const codes[] = { "SlowDown", "RequestTimeout",
	    "InternalError", "ServiceUnavailable", "OperationAborted" };
	size_t	 i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

/*
 * Every storage failure is retryable.  The object store is our own
 * infrastructure: a wrong key, a missing bucket or a policy error is fixed
 * by the operator, after which the retried job succeeds; until attempts run
 * out the client sees a queued generation, then attempts_exhausted with the
 * store's error code in the message.
 */
int
storage_s3_check_put(long status, long retry_after, const char *body,
    size_t len, struct ig_err *err)
{
	char	 code[S3_MAX_CODE + 1];

	if (status >= 200 && status <= 299)
		return 0;
	error_code(body, body ? len : 0, code);
	if (status < 100 || status > 599)
		return ig_err_set(err, IG_ETRANSIENT, NULL, "storage gave no "
		    "valid HTTP status (%ld)", status);
	ig_err_set(err, IG_ETRANSIENT, NULL, "storage answered HTTP %ld%s%s",
	    status, code[0] ? ": " : "", code);
	if (err != NULL && (status == 429 || status == 503 ||
	    code_transient(code)))
		err->retry_after = retry_after > 0 ? retry_after : 0;
	return -1;
}
