/*
 * The s3 storage backend against a real, signature-checking S3 server
 * (@20minutes/s3rver).  Run through scripts/s3rver.sh, which starts the
 * server and writes the S3_* settings this binary reads from the
 * environment:
 *
 *	scripts/s3rver.sh start /tmp/s3t && set -a && . /tmp/s3t/s3.env &&
 *	set +a && build/default/test-s3; scripts/s3rver.sh stop /tmp/s3t
 *
 * Requests are built by storage_s3_build_put() and performed with a plain
 * libcurl easy handle, as the worker's transfer code would; objects are
 * read back unsigned (s3rver serves anonymous GETs) to check what landed.
 *
 * Path-style only: s3rver 5.0.0 canonicalises a virtual-hosted request
 * with "/bucket/key" where SigV4 (AWS, R2, MinIO) uses the request path
 * "/key", so it refuses every correctly signed virtual-hosted request.
 * That addressing is covered by the unit tests and by sigv4's check
 * against AWS's own virtual-hosted S3 examples.
 */
#include <criterion/criterion.h>

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "storage.h"

#define S3T_MAX_BODY	(4 * 1024 * 1024)

static struct config	 s3t_cfg;
static char		 s3t_prefix[96];	/* unique per run */
static int		 s3t_postfields;	/* send as the worker does */

struct s3t_reply {
	long		 status;
	struct buf	 body;
	char		 ctype[256];
	char		 cache[256];
};

struct s3t_upload {
	const char	*data;
	size_t		 len;
	size_t		 off;
};

static size_t
s3t_read(char *out, size_t size, size_t n, void *arg)
{
	struct s3t_upload	*u = arg;
	size_t			 k = size * n;

	if (k > u->len - u->off)
		k = u->len - u->off;
	memcpy(out, u->data + u->off, k);
	u->off += k;
	return k;
}

static size_t
s3t_write(char *in, size_t size, size_t n, void *arg)
{
	struct s3t_reply	*r = arg;

	buf_add(&r->body, in, size * n);
	return buf_ok(&r->body) ? size * n : 0;
}

/* Keeps the Cache-Control answer header (the value, no CRLF). */
static size_t
s3t_header(char *in, size_t size, size_t n, void *arg)
{
	struct s3t_reply	*r = arg;
	size_t			 len = size * n, v;

	if (len > 14 && strncasecmp(in, "Cache-Control:", 14) == 0) {
		for (v = 14; v < len && in[v] == ' '; v++)
			;
		while (len > v && (in[len - 1] == '\r' || in[len - 1] == '\n'))
			len--;
		snprintf(r->cache, sizeof(r->cache), "%.*s", (int)(len - v),
		    in + v);
	}
	return size * n;
}

static void
s3t_reply_init(struct s3t_reply *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body, S3T_MAX_BODY);
}

/* Performs req (a PUT with a borrowed body) or, req NULL, a GET of url. */
static void
s3t_perform(const struct http_request *req, const char *url,
    struct s3t_reply *r)
{
	CURL			*c;
	struct curl_slist	*hl = NULL, *t;
	struct s3t_upload	 up = { NULL, 0, 0 };
	char			*ct = NULL;
	CURLcode		 rc;
	int			 i;

	s3t_reply_init(r);
	cr_assert_not_null(c = curl_easy_init());
	curl_easy_setopt(c, CURLOPT_URL, req ? buf_cstr(&req->url) : url);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s3t_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s3t_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (s3t_cfg.ca_file != NULL && s3t_cfg.ca_file[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, s3t_cfg.ca_file);
	if (req != NULL) {
		cr_assert_str_eq(req->method, "PUT");
		up.data = http_request_body(req, &up.len);
		for (i = 0; i < req->nheaders; i++) {
			t = curl_slist_append(hl, buf_cstr(&req->headers[i]));
			cr_assert_not_null(t);
			hl = t;
		}
		if (s3t_postfields) {
			/* worker/xfer.c: method override plus a memory body. */
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, up.data);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)up.len);
			up.off = up.len;
		} else {
			/* A PUT with Content-Length from INFILESIZE. */
			curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(c, CURLOPT_READFUNCTION, s3t_read);
			curl_easy_setopt(c, CURLOPT_READDATA, &up);
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
			    (curl_off_t)up.len);
		}
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	}
	rc = curl_easy_perform(c);
	cr_assert_eq(rc, CURLE_OK, "%s: %s", req ? "PUT" : "GET",
	    curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL)
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
	/* A refusal may come before the body was read; a success not. */
	if (req != NULL && r->status / 100 == 2)
		cr_assert_eq(up.off, up.len, "curl sent %zu of %zu bytes",
		    up.off, up.len);
	curl_easy_cleanup(c);
	curl_slist_free_all(hl);
}

static void
s3t_need(const char *name)
{
	const char	*v = getenv(name);

	if (v == NULL || *v == '\0')
		cr_assert_fail("%s is not set: run via scripts/s3rver.sh "
		    "(start DIR, then load DIR/s3.env into the environment)",
		    name);
}

static void
s3t_setup(void)
{
	struct buf	 problems = BUF_INIT(8192);

	s3t_need("S3_ENDPOINT");
	s3t_need("S3_BUCKET");
	s3t_need("S3_ACCESS_KEY_ID");
	s3t_need("S3_SECRET_ACCESS_KEY");
	/* The production loader, so its s3 checks apply too. */
	setenv("IMGGEN_STORAGE", "s3", 1);
	cr_assert_eq(config_load(&s3t_cfg, &problems), 0, "%s",
	    buf_cstr(&problems));
	buf_free(&problems);
	cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	snprintf(s3t_prefix, sizeof(s3t_prefix), "generations/t%lld-%ld",
	    (long long)time(NULL), (long)getpid());
}

static void
s3t_teardown(void)
{
	curl_global_cleanup();
	config_release(&s3t_cfg);
}

TestSuite(s3, .init = s3t_setup, .fini = s3t_teardown);

/* Something PNG-shaped, n bytes, varying with seed. */
static char *
s3t_png(size_t n, uint32_t seed)
{
	static const char	 sig[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
	char			*p;
	size_t			 i;

	cr_assert_geq(n, sizeof(sig));
	cr_assert_not_null(p = malloc(n));
	memcpy(p, sig, sizeof(sig) - 1);
	for (i = sizeof(sig) - 1; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (char)(seed >> 24);
	}
	return p;
}

/* PUTs data under key with cfg; returns storage_s3_check_put's verdict. */
static int
s3t_put(const struct config *cfg, const char *key, const char *data,
    size_t len, const char *mime, long long now, struct ig_err *err)
{
	struct http_request	 req;
	struct s3t_reply	 r;
	int			 rc;

	cr_assert_eq(storage_s3_build_put(cfg, key, data, len, mime, now,
	    &req, err), 0, "%s", err->msg);
	s3t_perform(&req, NULL, &r);
	http_request_release(&req);
	rc = storage_s3_check_put(r.status, 0, r.body.data, r.body.len, err);
	if (rc == 0)
		cr_assert_eq(r.status, 200);
	buf_free(&r.body);
	return rc;
}

/* GETs key path-style and checks bytes, Content-Type and Cache-Control. */
static void
s3t_expect_object(const char *key, const char *data, size_t len,
    const char *mime)
{
	struct s3t_reply	 r;
	char			 url[1024];

	snprintf(url, sizeof(url), "%s/%s/%s", s3t_cfg.s3_endpoint,
	    s3t_cfg.s3_bucket, key);
	s3t_perform(NULL, url, &r);
	cr_assert_eq(r.status, 200, "GET %s: %ld", url, r.status);
	cr_assert_eq(r.body.len, len, "GET %s: %zu bytes, put %zu", url,
	    r.body.len, len);
	cr_assert(len == 0 || memcmp(r.body.data, data, len) == 0,
	    "GET %s: other bytes than were put", url);
	cr_assert_str_eq(r.ctype, mime);
	cr_assert_str_eq(r.cache, s3t_cfg.s3_cache_control);
	buf_free(&r.body);
}

static void
s3t_expect_missing(const char *key)
{
	struct s3t_reply	 r;
	char			 url[1024];

	snprintf(url, sizeof(url), "%s/%s/%s", s3t_cfg.s3_endpoint,
	    s3t_cfg.s3_bucket, key);
	s3t_perform(NULL, url, &r);
	cr_assert_eq(r.status, 404, "GET %s: %ld", url, r.status);
	buf_free(&r.body);
}

static void
s3t_key(const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", s3t_prefix, name);
}

Test(s3, put_then_get)
{
	struct ig_err	 err = IG_ERR_INIT;
	char		 key[256];
	size_t		 n = 300 * 1024;	/* past curl's small-body paths */
	char		*png = s3t_png(n, 1);

	s3t_key("u-1/g-1/0.png", key, sizeof(key));
	cr_assert_eq(s3t_put(&s3t_cfg, key, png, n, "image/png",
	    (long long)time(NULL), &err), 0, "%s", err.msg);
	s3t_expect_object(key, png, n, "image/png");
	free(png);
}

/* As the worker sends it: CUSTOMREQUEST "PUT" with POSTFIELDS. */
Test(s3, put_via_postfields)
{
	struct ig_err	 err = IG_ERR_INIT;
	char		 key[256];
	size_t		 n = 2 * 1024 * 1024;	/* curl would add Expect */
	char		*png = s3t_png(n, 7);

	s3t_postfields = 1;
	s3t_key("u-1/g-1/1.png", key, sizeof(key));
	cr_assert_eq(s3t_put(&s3t_cfg, key, png, n, "image/png",
	    (long long)time(NULL), &err), 0, "%s", err.msg);
	s3t_expect_object(key, png, n, "image/png");
	free(png);
}

Test(s3, empty_body)
{
	struct ig_err	 err = IG_ERR_INIT;
	char		 key[256];

	s3t_key("u-1/g-1/empty.bin", key, sizeof(key));
	cr_assert_eq(s3t_put(&s3t_cfg, key, "", 0, "application/octet-stream",
	    (long long)time(NULL), &err), 0, "%s", err.msg);
	s3t_expect_object(key, "", 0, "application/octet-stream");
}

Test(s3, dash_and_dot_heavy_key)
{
	struct ig_err	 err = IG_ERR_INIT;
	char		 key[256];
	char		*png = s3t_png(4096, 2);

	s3t_key("a-b.c-d/e.f-g_h.-i/0.v1.test-image.x.webp", key, sizeof(key));
	cr_assert_eq(s3t_put(&s3t_cfg, key, png, 4096, "image/webp",
	    (long long)time(NULL), &err), 0, "%s", err.msg);
	s3t_expect_object(key, png, 4096, "image/webp");
	free(png);
}

Test(s3, overwrite_same_key)
{
	struct ig_err	 err = IG_ERR_INIT;
	char		 key[256];
	char		*a = s3t_png(8000, 3), *b = s3t_png(5000, 4);

	s3t_key("u-1/g-2/1.png", key, sizeof(key));
	cr_assert_eq(s3t_put(&s3t_cfg, key, a, 8000, "image/png",
	    (long long)time(NULL), &err), 0, "%s", err.msg);
	s3t_expect_object(key, a, 8000, "image/png");
	/* A retried job writes the same key again: the new bytes win. */
	cr_assert_eq(s3t_put(&s3t_cfg, key, b, 5000, "image/jpeg",
	    (long long)time(NULL), &err), 0, "%s", err.msg);
	s3t_expect_object(key, b, 5000, "image/jpeg");
	free(a);
	free(b);
}

Test(s3, wrong_secret_refused)
{
	struct config	 bad = s3t_cfg;
	struct ig_err	 err = IG_ERR_INIT;
	char		 key[256];
	char		*png = s3t_png(2048, 5);

	bad.s3_secret_access_key = "not-the-secret";
	s3t_key("u-1/g-3/0.png", key, sizeof(key));
	cr_assert_eq(s3t_put(&bad, key, png, 2048, "image/png",
	    (long long)time(NULL), &err), -1);
	cr_assert_eq(err.code, IG_ETRANSIENT, "%s", err.msg);
	cr_assert_str_eq(err.msg,
	    "storage answered HTTP 403: SignatureDoesNotMatch");
	s3t_expect_missing(key);
	free(png);
}

Test(s3, unknown_access_key_refused)
{
	struct config	 bad = s3t_cfg;
	struct ig_err	 err = IG_ERR_INIT;
	char		 key[256];

	bad.s3_access_key_id = "AKIDNOSUCHKEY";
	s3t_key("u-1/g-4/0.png", key, sizeof(key));
	cr_assert_eq(s3t_put(&bad, key, "x", 1, "image/png",
	    (long long)time(NULL), &err), -1);
	cr_assert_eq(err.code, IG_ETRANSIENT, "%s", err.msg);
	cr_assert_str_eq(err.msg,
	    "storage answered HTTP 403: InvalidAccessKeyId");
}

Test(s3, missing_bucket_refused)
{
	struct config	 bad = s3t_cfg;
	struct ig_err	 err = IG_ERR_INIT;
	char		 key[256];

	bad.s3_bucket = "imggen-no-such-bucket";
	s3t_key("u-1/g-5/0.png", key, sizeof(key));
	cr_assert_eq(s3t_put(&bad, key, "x", 1, "image/png",
	    (long long)time(NULL), &err), -1);
	cr_assert_eq(err.code, IG_ETRANSIENT, "%s", err.msg);
	cr_assert_str_eq(err.msg, "storage answered HTTP 404: NoSuchBucket");
}

/* Replaces the value of header `name` in a signed request. */
static void
s3t_tamper(struct http_request *req, const char *name, const char *value)
{
	size_t	 n = strlen(name);
	int	 i;

	for (i = 0; i < req->nheaders; i++)
		if (strncasecmp(buf_cstr(&req->headers[i]), name, n) == 0 &&
		    buf_cstr(&req->headers[i])[n] == ':') {
			buf_reset(&req->headers[i]);
			buf_addf(&req->headers[i], "%s: %s", name, value);
			return;
		}
	cr_assert_fail("no %s header to tamper with", name);
}

/*
 * What is signed is checked: the stored metadata and the date cannot be
 * changed on the way.  A moved date is refused as too skewed before the
 * signature is even looked at.  (s3rver does not compare the payload hash
 * with the body, so that is unit-tested only.)
 */
Test(s3, tampered_headers_refused)
{
	static const char *const tamper[][2] = {
		{ "Cache-Control", "no-store" },
		{ "Content-Type", "text/html" },
		{ "x-amz-date", "20200101T000000Z" },
		{ "Host", "localhost" },
	};
	struct http_request	 req;
	struct s3t_reply	 r;
	struct ig_err		 err = IG_ERR_INIT;
	char			 key[256];
	size_t			 i;

	s3t_key("u-1/g-6/0.png", key, sizeof(key));
	for (i = 0; i < sizeof(tamper) / sizeof(tamper[0]); i++) {
		cr_assert_eq(storage_s3_build_put(&s3t_cfg, key, "x", 1,
		    "image/png", (long long)time(NULL), &req, &err), 0, "%s",
		    err.msg);
		s3t_tamper(&req, tamper[i][0], tamper[i][1]);
		s3t_perform(&req, NULL, &r);
		http_request_release(&req);
		cr_assert_eq(storage_s3_check_put(r.status, 0, r.body.data,
		    r.body.len, &err), -1, "%s accepted", tamper[i][0]);
		cr_assert_eq(err.code, IG_ETRANSIENT, "%s", err.msg);
		cr_assert_str_eq(err.msg, strcmp(tamper[i][0], "x-amz-date") == 0 ?
		    "storage answered HTTP 403: RequestTimeTooSkewed" :
		    "storage answered HTTP 403: SignatureDoesNotMatch");
		buf_free(&r.body);
	}
	s3t_expect_missing(key);
}
