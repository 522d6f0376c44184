/*
 * fuzz_router - the responder's request handling as the FastCGI layer
 * hands it over: api_dispatch() on a struct api_req built from the input,
 *
 *   POLICY-BYTE DB-MODE-BYTE METHOD \0 PATH \0 QUERY \0 CONTENT-TYPE \0
 *   AUTHORIZATION \0 IDEMPOTENCY-KEY \0 IF-NONE-MATCH \0 BODY
 *
 * (a missing field is an absent header), bounded as fcgi_io.c bounds them;
 * the policy byte picks the provider (bits 0-1) and the webhook policy
 * (bit 2: webhooks off, bit 3: http webhooks allowed).
 * The database is fake_pq.c: a well-formed bearer token authenticates, and
 * every statement answers from a table (rows, no rows or a database error,
 * as the mode byte says), so the handlers run to their end.
 *
 * Invariants: every response has a known status; a body that is one JSON
 * document in valid UTF-8 (empty only for 304; text only for a 200 of
 * GET /metrics); an error object on errors,
 * WWW-Authenticate on 401, Allow on 405, Retry-After on 429 and 503; and no
 * request ever gets a 500.
 */
#include "fuzz.h"

#include "api.h"
#include "config.h"
#include "db.h"
#include "fake_pq.h"
#include "log.h"
#include "provider.h"

static struct db	*fuzz_db;
static struct config	 fuzz_cfg;

static const char *const providers[] = { "local", "imagen", "gemini",
    "openai" };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup("fuzz_router", LOG_LEVEL__MAX);
	fuzz_db = db_new("dbname=fuzz", 1, "fuzz_router");
	if (fuzz_db == NULL)
		abort();
	fuzz_config_defaults(&fuzz_cfg);
	return 0;
}

/* fcgi_io.c's param_bounded(): an absurdly long value is "". */
static const char *
bounded(const char *v)
{
	if (v != NULL && strlen(v) > API_HEADER_MAX)
		return "";
	return v;
}

static int
status_known(int s)
{
	static const int ok[] = { 200, 202, 304, 400, 401, 404, 405, 409,
	    413, 415, 422, 429, 503 };
	size_t	 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (ok[i] == s)
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in	 in;
	struct api_ctx	 ctx;
	struct api_req	 req;
	struct api_resp	 resp;
	const char	*v, *hdrs;
	const uint8_t	*body;
	size_t		 body_len;
	char		*body_copy = NULL;
	unsigned	 b;

	fuzz_in_init(&in, data, size);
	memset(&ctx, 0, sizeof(ctx));
	memset(&req, 0, sizeof(req));
	ctx.cfg = &fuzz_cfg;
	ctx.db = fuzz_db;
	b = fuzz_byte(&in);
	ctx.provider = provider_find(providers[b % 4]);
	/* As main.c sets it up: webhooks on when a key is configured. */
	ctx.policy.provider = ctx.provider;
	ctx.policy.webhooks = (b & 4) == 0;
	ctx.policy.webhook_insecure = (b & 8) != 0;
	fake_pq_mode = fuzz_byte(&in);
	req.method = (v = fuzz_field(&in)) ? v : "GET";
	/* nginx passes only methods of A-Z, '_' and '-' (anything else: 400). */
	if (*req.method == '\0' || strspn(req.method,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-") != strlen(req.method)) {
		fuzz_in_release(&in);
		return 0;
	}
	req.path = (v = bounded(fuzz_field(&in))) ? v : "/";
	req.query = (v = bounded(fuzz_field(&in))) ? v : "";
	req.content_type = bounded(fuzz_field(&in));
	if (req.content_type && *req.content_type == '\0')
		req.content_type = NULL;
	req.authorization = bounded(fuzz_field(&in));
	req.idempotency_key = bounded(fuzz_field(&in));
	req.if_none_match = bounded(fuzz_field(&in));
	req.content_length = -1;
	body = fuzz_rest(&in, &body_len);
	if (body_len > BUF_MAX_REQUEST_BODY)
		req.body_too_large = 1;
	else if (body_len > 0) {
		/* Exact size, NUL-terminated like the responder's buffer. */
		if ((body_copy = malloc(body_len + 1)) == NULL)
			abort();
		memcpy(body_copy, body, body_len);
		body_copy[body_len] = '\0';
		req.body = body_copy;
		req.body_len = body_len;
		req.content_length = (long long)body_len;
	}
	snprintf(req.request_id, sizeof(req.request_id),
	    "0123456789abcdef-fuzz");

	api_resp_init(&resp);
	api_dispatch(&ctx, &req, &resp);
	hdrs = buf_cstr(&resp.headers);
	FUZZ_CHECK(buf_ok(&resp.body) && buf_ok(&resp.headers),
	    "response overflowed");
	FUZZ_CHECK(status_known(resp.status), "status %d", resp.status);
	FUZZ_CHECK(resp.status != 500, "500 for %s %s: %s", req.method,
	    req.path, buf_cstr(&resp.body));
	if (resp.status == 304)
		FUZZ_CHECK(resp.body.len == 0, "304 with a body");
	else if (resp.content_type != NULL &&
	    strncmp(resp.content_type, "text/plain", 10) == 0)
		/* The Prometheus metrics: text, from the database alone. */
		FUZZ_CHECK(resp.status == 200 && strcmp(req.path,
		    API_PREFIX "/metrics") == 0 && utf8_count(resp.body.data,
		    resp.body.len) >= 0, "text/plain %d for %s", resp.status,
		    req.path);
	else
		FUZZ_CHECK(fuzz_is_json(resp.body.data, resp.body.len),
		    "body is not UTF-8 JSON: %s", buf_cstr(&resp.body));
	if (resp.status >= 400)
		FUZZ_CHECK(strstr(buf_cstr(&resp.body), "{\"error\":{\"code\":\"")
		    == buf_cstr(&resp.body), "error without error object");
	if (resp.status == 401)
		FUZZ_CHECK(strstr(hdrs, "WWW-Authenticate: Bearer") != NULL,
		    "401 without WWW-Authenticate");
	if (resp.status == 405)
		FUZZ_CHECK(strstr(hdrs, "Allow: ") != NULL, "405 without Allow");
	if (resp.status == 429 || resp.status == 503)
		FUZZ_CHECK(strstr(hdrs, "Retry-After: ") != NULL,
		    "%d without Retry-After", resp.status);
	/* Header lines come from the code, never raw from the request. */
	FUZZ_CHECK(strstr(hdrs, "\r\n\r\n") == NULL &&
	    strchr(hdrs, '\0') == hdrs + resp.headers.len,
	    "header block broken: %s", hdrs);
	api_resp_release(&resp);
	free(body_copy);
	fuzz_in_release(&in);
	return 0;
}
