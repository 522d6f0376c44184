#include "sigv4.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SIGV4_ALGORITHM		"AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR	"aws4_request"
#define SHA256_LEN		32
#define MAX_SCOPE_PART		64	/* region, service */
#define MAX_ACCESS_KEY		256
#define MAX_SECRET_KEY		256
/* Algorithm "\n" date "\n" YYYYMMDD/region/service/aws4_request "\n" hash */
#define STS_MAX	(sizeof(SIGV4_ALGORITHM) + SIGV4_AMZ_DATE_LEN + 1 + \
	    8 + 1 + MAX_SCOPE_PART + 1 + MAX_SCOPE_PART + 1 + \
	    sizeof(SIGV4_TERMINATOR) + 2 * SHA256_LEN + 1)

static const char hexdig_upper[] = "0123456789ABCDEF";
static const char hexdig_lower[] = "0123456789abcdef";

/*
 * Output sink: appends to a bounded, always NUL-terminated buffer and/or
 * feeds a digest.  The first failure is sticky and later appends are no-ops.
 */
struct sink {
	EVP_MD_CTX	*md;
	char		*buf;
	size_t		 cap;
	size_t		 len;
	int		 failed;
};

static void
sink_init(struct sink *s, EVP_MD_CTX *md, char *buf, size_t cap)
{
	s->md = md;
	s->buf = buf;
	s->cap = cap;
	s->len = 0;
	s->failed = 0;
	if (buf != NULL) {
		if (cap == 0)
			s->failed = 1;
		else
			buf[0] = '\0';
	}
}

static void
sink_add(struct sink *s, const void *p, size_t n)
{
	if (s->failed || n == 0)
		return;
	if (s->md != NULL && EVP_DigestUpdate(s->md, p, n) != 1) {
		s->failed = 1;
		return;
	}
	if (s->buf != NULL) {
		/* Room for n bytes plus the NUL. */
		if (n >= s->cap - s->len) {
			s->failed = 1;
			return;
		}
		memcpy(s->buf + s->len, p, n);
		s->len += n;
		s->buf[s->len] = '\0';
	}
}

static void
sink_addc(struct sink *s, char c)
{
	sink_add(s, &c, 1);
}

static void
sink_adds(struct sink *s, const char *str)
{
	sink_add(s, str, strlen(str));
}

static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == '~';
}

static int
is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char
ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* RFC 9110 token character (header names, methods). */
static int
is_tchar(unsigned char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
is_token(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!is_tchar((unsigned char)*s))
			return 0;
	return 1;
}

static void
encode_bytes(struct sink *s, const char *p, size_t n, int keep_slash)
{
	char	 esc[3];
	size_t	 i, run;

	for (i = 0; i < n; ) {
		/* Copy runs of unchanged bytes in one go. */
		for (run = 0; i + run < n; run++) {
			unsigned char c = (unsigned char)p[i + run];
			if (!is_unreserved(c) && !(keep_slash && c == '/'))
				break;
		}
		sink_add(s, p + i, run);
		i += run;
		if (i < n) {
			unsigned char c = (unsigned char)p[i++];
			esc[0] = '%';
			esc[1] = hexdig_upper[c >> 4];
			esc[2] = hexdig_upper[c & 0xf];
			sink_add(s, esc, 3);
		}
	}
}

/*
 * Iterator over the SigV4 encoding of a query name or value: valid %XX
 * triplets are decoded first, then every byte is (re-)encoded.  Used both
 * to compare parameters for sorting and to emit them.
 */
struct encit {
	const char	*p;
	size_t		 n;
	size_t		 i;
	char		 pend[2];
	size_t		 npend;
};

static void
encit_init(struct encit *it, const char *p, size_t n)
{
	it->p = p;
	it->n = n;
	it->i = 0;
	it->npend = 0;
}

/* The next character of the encoded form, or -1 at the end. */
static int
encit_next(struct encit *it)
{
	unsigned char	 c;
	int		 hi, lo;

	if (it->npend > 0) {
		c = (unsigned char)it->pend[2 - it->npend];
		it->npend--;
		return c;
	}
	if (it->i >= it->n)
		return -1;
	c = (unsigned char)it->p[it->i++];
	if (c == '%' && it->n - it->i >= 2 &&
	    (hi = hexval(it->p[it->i])) >= 0 &&
	    (lo = hexval(it->p[it->i + 1])) >= 0) {
		c = (unsigned char)(hi << 4 | lo);
		it->i += 2;
	}
	if (is_unreserved(c))
		return c;
	it->pend[0] = hexdig_upper[c >> 4];
	it->pend[1] = hexdig_upper[c & 0xf];
	it->npend = 2;
	return '%';
}

static int
encoded_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	struct encit	 ia, ib;
	int		 ca, cb;

	encit_init(&ia, a, alen);
	encit_init(&ib, b, blen);
	for (;;) {
		ca = encit_next(&ia);
		cb = encit_next(&ib);
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca == -1)
			return 0;
	}
}

static void
encoded_emit(struct sink *s, const char *p, size_t n)
{
	struct encit	 it;
	int		 c;

	encit_init(&it, p, n);
	while ((c = encit_next(&it)) != -1)
		sink_addc(s, (char)c);
}

struct qparam {
	const char	*name;
	size_t		 namelen;
	const char	*value;		/* NULL: no '=' */
	size_t		 valuelen;
};

static int
qparam_cmp(const void *va, const void *vb)
{
	const struct qparam	*a = va, *b = vb;
	int			 r;

	r = encoded_cmp(a->name, a->namelen, b->name, b->namelen);
	if (r != 0)
		return r;
	return encoded_cmp(a->value != NULL ? a->value : "", a->valuelen,
	    b->value != NULL ? b->value : "", b->valuelen);
}

static int
canonical_query(struct sink *s, const char *query)
{
	struct qparam	*qp;
	const char	*p, *end, *amp, *eq;
	size_t		 n, i;

	if (query == NULL || *query == '\0')
		return 0;
	for (n = 1, p = query; *p != '\0'; p++)
		if (*p == '&')
			n++;
	if ((qp = calloc(n, sizeof(*qp))) == NULL)
		return -1;
	end = query + strlen(query);
	for (n = 0, p = query; p < end; p = amp + 1) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if (amp == p)
			continue;	/* "a&&b": no parameter */
		qp[n].name = p;
		if ((eq = memchr(p, '=', (size_t)(amp - p))) != NULL) {
			qp[n].namelen = (size_t)(eq - p);
			qp[n].value = eq + 1;
			qp[n].valuelen = (size_t)(amp - eq - 1);
		} else
			qp[n].namelen = (size_t)(amp - p);
		n++;
	}
	qsort(qp, n, sizeof(*qp), qparam_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0)
			sink_addc(s, '&');
		encoded_emit(s, qp[i].name, qp[i].namelen);
		sink_addc(s, '=');
		if (qp[i].value != NULL)
			encoded_emit(s, qp[i].value, qp[i].valuelen);
	}
	free(qp);
	return 0;
}

struct segment {
	const char	*p;
	size_t		 len;
};

/* Generic rules: remove empty, "." and ".." segments, encode the rest. */
static int
canonical_path_generic(struct sink *s, const char *path)
{
	struct segment	*st;
	const char	*p, *slash, *end;
	size_t		 nseg, depth, len, i;
	int		 trailing = 0;

	for (nseg = 1, p = path; *p != '\0'; p++)
		if (*p == '/')
			nseg++;
	if ((st = calloc(nseg, sizeof(*st))) == NULL)
		return -1;
	end = path + strlen(path);
	depth = 0;
	for (p = path + 1; ; p = slash + 1) {
		if ((slash = memchr(p, '/', (size_t)(end - p))) == NULL)
			slash = end;
		len = (size_t)(slash - p);
		trailing = len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.');
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (depth > 0)
				depth--;
		} else if (!trailing) {
			st[depth].p = p;
			st[depth].len = len;
			depth++;
		}
		if (slash == end)
			break;
	}
	sink_addc(s, '/');
	for (i = 0; i < depth; i++) {
		if (i > 0)
			sink_addc(s, '/');
		encode_bytes(s, st[i].p, st[i].len, 0);
	}
	if (depth > 0 && trailing)
		sink_addc(s, '/');
	free(st);
	return 0;
}

static int
name_cmp(const char *a, const char *b)
{
	unsigned char	 ca, cb;

	for (;; a++, b++) {
		ca = (unsigned char)ascii_lower(*a);
		cb = (unsigned char)ascii_lower(*b);
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca == '\0')
			return 0;
	}
}

/*
 * Index of the header whose lower-cased name is the smallest one greater
 * than prev's (any, if prev is NULL), or -1.  The first such header in
 * input order is returned.  Quadratic, but header lists are short and
 * this needs no allocation.
 */
static long
next_header(const struct sigv4_request *req, const char *prev)
{
	size_t	 i;
	long	 best = -1;

	for (i = 0; i < req->nheaders; i++) {
		const char *name = req->headers[i].name;

		if (prev != NULL && name_cmp(name, prev) <= 0)
			continue;
		if (best < 0 || name_cmp(name, req->headers[best].name) < 0)
			best = (long)i;
	}
	return best;
}

static void
emit_lower(struct sink *s, const char *name)
{
	for (; *name != '\0'; name++)
		sink_addc(s, ascii_lower(*name));
}

/* Value with leading/trailing blanks trimmed and inner runs collapsed. */
static void
emit_value(struct sink *s, const char *v)
{
	const char	*run;
	int		 space = 0;

	while (is_ws(*v))
		v++;
	while (*v != '\0') {
		if (is_ws(*v)) {
			space = 1;
			v++;
			continue;
		}
		if (space) {
			sink_addc(s, ' ');
			space = 0;
		}
		for (run = v; *v != '\0' && !is_ws(*v); v++)
			;
		sink_add(s, run, (size_t)(v - run));
	}
}

static void
canonical_headers(struct sink *s, const struct sigv4_request *req)
{
	const char	*prev = NULL, *name;
	long		 h;
	size_t		 i;
	int		 first;

	while ((h = next_header(req, prev)) >= 0) {
		name = req->headers[h].name;
		emit_lower(s, name);
		sink_addc(s, ':');
		first = 1;
		for (i = (size_t)h; i < req->nheaders; i++) {
			if (name_cmp(req->headers[i].name, name) != 0)
				continue;
			if (!first)
				sink_addc(s, ',');
			emit_value(s, req->headers[i].value);
			first = 0;
		}
		sink_addc(s, '\n');
		prev = name;
	}
}

static void
signed_headers(struct sink *s, const struct sigv4_request *req)
{
	const char	*prev = NULL;
	long		 h;

	while ((h = next_header(req, prev)) >= 0) {
		if (prev != NULL)
			sink_addc(s, ';');
		prev = req->headers[h].name;
		emit_lower(s, prev);
	}
}

/* Whether v, trimmed of blanks, is exactly want. */
static int
trimmed_equals(const char *v, const char *want)
{
	size_t	 n;

	while (is_ws(*v))
		v++;
	n = strlen(v);
	while (n > 0 && is_ws(v[n - 1]))
		n--;
	return n == strlen(want) && memcmp(v, want, n) == 0;
}

/*
 * Whether a header named name is present and every occurrence's value is
 * want (or, with want NULL, non-empty).
 */
static int
header_check(const struct sigv4_request *req, const char *name,
    const char *want)
{
	const char	*v;
	size_t		 i;
	int		 seen = 0;

	for (i = 0; i < req->nheaders; i++) {
		if (name_cmp(req->headers[i].name, name) != 0)
			continue;
		v = req->headers[i].value;
		if (want != NULL ? !trimmed_equals(v, want) :
		    trimmed_equals(v, ""))
			return 0;
		seen = 1;
	}
	return seen;
}

static int
valid_header_value(const char *v)
{
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

static int
valid_amz_date(const char *d)
{
	size_t	 i;

	if (strlen(d) != SIGV4_AMZ_DATE_LEN || d[8] != 'T' || d[15] != 'Z')
		return 0;
	for (i = 0; i < 15; i++)
		if (i != 8 && (d[i] < '0' || d[i] > '9'))
			return 0;
	return 1;
}

static int
valid_payload_hash(const char *h)
{
	size_t	 i;

	if (strcmp(h, SIGV4_UNSIGNED_PAYLOAD) == 0)
		return 1;
	for (i = 0; h[i] != '\0'; i++)
		if (!((h[i] >= '0' && h[i] <= '9') ||
		    (h[i] >= 'a' && h[i] <= 'f')))
			return 0;
	return i == 2 * SHA256_LEN;
}

/* Region and service: 1..MAX_SCOPE_PART of A-Z a-z 0-9 - _ . */
static int
valid_scope_part(const char *s)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if (!is_unreserved((unsigned char)s[n]) || s[n] == '~')
			return 0;
	return n > 0 && n <= MAX_SCOPE_PART;
}

static int
valid_access_key(const char *k)
{
	size_t	 n;

	for (n = 0; k[n] != '\0'; n++)
		if (k[n] <= ' ' || k[n] >= 0x7f || k[n] == '/' || k[n] == ',')
			return 0;
	return n > 0 && n <= MAX_ACCESS_KEY;
}

static int
valid_request(const struct sigv4_request *req, const char *access_key,
    const char *secret_key)
{
	size_t	 i, slen;

	if (req == NULL || access_key == NULL || secret_key == NULL ||
	    req->method == NULL || req->payload_sha256_hex == NULL ||
	    req->region == NULL || req->service == NULL ||
	    req->amz_date == NULL ||
	    (req->headers == NULL && req->nheaders > 0))
		return 0;
	if (!is_token(req->method) || !valid_amz_date(req->amz_date) ||
	    !valid_payload_hash(req->payload_sha256_hex) ||
	    !valid_scope_part(req->region) || !valid_scope_part(req->service) ||
	    !valid_access_key(access_key))
		return 0;
	slen = strlen(secret_key);
	if (slen == 0 || slen > MAX_SECRET_KEY)
		return 0;
	if (req->path != NULL && req->path[0] != '\0' && req->path[0] != '/')
		return 0;
	for (i = 0; i < req->nheaders; i++) {
		if (!is_token(req->headers[i].name) ||
		    req->headers[i].value == NULL ||
		    !valid_header_value(req->headers[i].value))
			return 0;
	}
	if (!header_check(req, "host", NULL) ||
	    !header_check(req, "x-amz-date", req->amz_date))
		return 0;
	if (req->s3_path_rules &&
	    !header_check(req, "x-amz-content-sha256", req->payload_sha256_hex))
		return 0;
	return 1;
}

static void
hex_lower(const unsigned char *in, size_t len, char *out)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hexdig_lower[in[i] >> 4];
		out[2 * i + 1] = hexdig_lower[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int
hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
    unsigned char out[SHA256_LEN])
{
	unsigned int	 outlen = SHA256_LEN;

	if (HMAC(EVP_sha256(), key, (int)keylen, data, len, out,
	    &outlen) == NULL || outlen != SHA256_LEN)
		return -1;
	return 0;
}

/* HMAC chain: "AWS4" + secret, date, region, service, "aws4_request". */
static int
signature(const char *secret_key, const struct sigv4_request *req,
    const char *sts, char sighex[2 * SHA256_LEN + 1])
{
	unsigned char	 kbuf[4 + MAX_SECRET_KEY];
	unsigned char	 k1[SHA256_LEN], k2[SHA256_LEN], sig[SHA256_LEN];
	size_t		 slen = strlen(secret_key);
	int		 rc = -1;

	memcpy(kbuf, "AWS4", 4);
	memcpy(kbuf + 4, secret_key, slen);
	if (hmac_sha256(kbuf, 4 + slen, req->amz_date, 8, k1) == 0 &&
	    hmac_sha256(k1, SHA256_LEN, req->region, strlen(req->region),
	    k2) == 0 &&
	    hmac_sha256(k2, SHA256_LEN, req->service, strlen(req->service),
	    k1) == 0 &&
	    hmac_sha256(k1, SHA256_LEN, SIGV4_TERMINATOR,
	    sizeof(SIGV4_TERMINATOR) - 1, k2) == 0 &&
	    hmac_sha256(k2, SHA256_LEN, sts, strlen(sts), sig) == 0) {
		hex_lower(sig, SHA256_LEN, sighex);
		rc = 0;
	}
	OPENSSL_cleanse(kbuf, sizeof(kbuf));
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	OPENSSL_cleanse(sig, sizeof(sig));
	return rc;
}

/* Credential scope "YYYYMMDD/region/service/aws4_request". */
static void
scope(struct sink *s, const struct sigv4_request *req)
{
	sink_add(s, req->amz_date, 8);
	sink_addc(s, '/');
	sink_adds(s, req->region);
	sink_addc(s, '/');
	sink_adds(s, req->service);
	sink_addc(s, '/');
	sink_adds(s, SIGV4_TERMINATOR);
}

/* The canonical request, hashed (and copied to creq_out if non-NULL). */
static int
canonical_request(const struct sigv4_request *req, char *creq_out,
    size_t creqlen, unsigned char hash[SHA256_LEN])
{
	struct sink	 s;
	EVP_MD_CTX	*md;
	unsigned int	 hlen = SHA256_LEN;
	int		 rc = -1;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	sink_init(&s, md, creq_out, creqlen);
	sink_adds(&s, req->method);
	sink_addc(&s, '\n');
	if (req->path == NULL || req->path[0] == '\0')
		sink_addc(&s, '/');
	else if (req->s3_path_rules)
		encode_bytes(&s, req->path, strlen(req->path), 1);
	else if (canonical_path_generic(&s, req->path) == -1)
		goto out;
	sink_addc(&s, '\n');
	if (canonical_query(&s, req->query) == -1)
		goto out;
	sink_addc(&s, '\n');
	canonical_headers(&s, req);
	sink_addc(&s, '\n');
	signed_headers(&s, req);
	sink_addc(&s, '\n');
	sink_adds(&s, req->payload_sha256_hex);
	if (s.failed || EVP_DigestFinal_ex(md, hash, &hlen) != 1 ||
	    hlen != SHA256_LEN)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

int
sigv4_sign(const struct sigv4_request *req, const char *access_key,
    const char *secret_key, char *authorization, size_t authlen,
    char *creq_out, size_t creqlen, char *sts_out, size_t stslen)
{
	struct sink	 s;
	unsigned char	 hash[SHA256_LEN];
	char		 sts[STS_MAX], hashhex[2 * SHA256_LEN + 1];
	char		 sighex[2 * SHA256_LEN + 1];

	if (authorization != NULL && authlen > 0)
		authorization[0] = '\0';
	if (creq_out != NULL && creqlen > 0)
		creq_out[0] = '\0';
	if (sts_out != NULL && stslen > 0)
		sts_out[0] = '\0';
	if (authorization == NULL || authlen == 0 ||
	    (creq_out != NULL && creqlen == 0) ||
	    (sts_out != NULL && stslen == 0) ||
	    !valid_request(req, access_key, secret_key))
		return -1;

	if (canonical_request(req, creq_out, creqlen, hash) == -1)
		goto fail;
	hex_lower(hash, SHA256_LEN, hashhex);

	sink_init(&s, NULL, sts, sizeof(sts));
	sink_adds(&s, SIGV4_ALGORITHM "\n");
	sink_adds(&s, req->amz_date);
	sink_addc(&s, '\n');
	scope(&s, req);
	sink_addc(&s, '\n');
	sink_adds(&s, hashhex);
	if (s.failed)
		goto fail;
	if (sts_out != NULL) {
		sink_init(&s, NULL, sts_out, stslen);
		sink_adds(&s, sts);
		if (s.failed)
			goto fail;
	}

	if (signature(secret_key, req, sts, sighex) == -1)
		goto fail;
	sink_init(&s, NULL, authorization, authlen);
	sink_adds(&s, SIGV4_ALGORITHM " Credential=");
	sink_adds(&s, access_key);
	sink_addc(&s, '/');
	scope(&s, req);
	sink_adds(&s, ", SignedHeaders=");
	signed_headers(&s, req);
	sink_adds(&s, ", Signature=");
	sink_adds(&s, sighex);
	if (s.failed)
		goto fail;
	return 0;
fail:
	authorization[0] = '\0';
	if (creq_out != NULL)
		creq_out[0] = '\0';
	if (sts_out != NULL)
		sts_out[0] = '\0';
	return -1;
}

int
sigv4_uri_encode(const char *in, int keep_slash, char *out, size_t outlen)
{
	struct sink	 s;

	if (out == NULL || outlen == 0)
		return -1;
	out[0] = '\0';
	if (in == NULL)
		return -1;
	sink_init(&s, NULL, out, outlen);
	encode_bytes(&s, in, strlen(in), keep_slash);
	if (s.failed) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

static void
put_digits(char *p, long long v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

void
sigv4_amz_date(long long epoch_seconds, char out[SIGV4_AMZ_DATE_LEN + 1])
{
	/* 9999-12-31T23:59:59Z */
	const long long	 max = 253402300799LL;
	long long	 t, days, secs, era, doe, yoe, doy, mp, y, m, d;

	t = epoch_seconds < 0 ? 0 : epoch_seconds > max ? max : epoch_seconds;
	days = t / 86400;
	secs = t % 86400;
	/* civil_from_days (H. Hinnant), for days >= 0. */
	days += 719468;
	era = days / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;
	put_digits(out, y, 4);
	put_digits(out + 4, m, 2);
	put_digits(out + 6, d, 2);
	out[8] = 'T';
	put_digits(out + 9, secs / 3600, 2);
	put_digits(out + 11, secs / 60 % 60, 2);
	put_digits(out + 13, secs % 60, 2);
	out[15] = 'Z';
	out[16] = '\0';
}
