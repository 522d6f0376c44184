#include "fcgi_io.h"

#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

struct fcgi_conn {
	FCGX_Request	 req;
};

struct fcgi_conn *
fcgi_io_open(void)
{
	struct fcgi_conn *c;

	if (FCGX_Init() != 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	/* fd 0 is the listening socket that spawn-fcgi hands us. */
	if (FCGX_InitRequest(&c->req, 0, 0) != 0) {
		free(c);
		return NULL;
	}
	return c;
}

void
fcgi_io_close(struct fcgi_conn *c)
{
	if (c == NULL)
		return;
	FCGX_Free(&c->req, 1);
	free(c);
}

void
fcgi_io_shutdown(void)
{
	FCGX_ShutdownPending();
}

static const char *
param(struct fcgi_conn *c, const char *name)
{
	return FCGX_GetParam(name, c->req.envp);
}

static const char *
param_bounded(struct fcgi_conn *c, const char *name)
{
	const char	*v = param(c, name);

	if (v != NULL && strnlen(v, API_HEADER_MAX + 1) > API_HEADER_MAX)
		return "";	/* absurdly long: treated as invalid */
	return v;
}

/*
 * Reads the body, never more than BUF_MAX_REQUEST_BODY bytes: a longer
 * declared or actual body only sets body_too_large.
 */
static void
read_body(struct fcgi_conn *c, struct api_req *r, struct buf *body)
{
	char	 chunk[4096];
	int	 n;

	if (r->content_length > BUF_MAX_REQUEST_BODY) {
		r->body_too_large = 1;
		return;
	}
	while ((n = FCGX_GetStr(chunk, sizeof(chunk), c->req.in)) > 0) {
		if (body->len + (size_t)n > BUF_MAX_REQUEST_BODY) {
			r->body_too_large = 1;
			return;
		}
		buf_add(body, chunk, (size_t)n);
	}
	r->body = buf_cstr(body);
	r->body_len = body->len;
}

/* 16 to 36 characters of hex digits and dashes: safe to echo anywhere. */
static int
request_id_valid(const char *s)
{
	size_t	 n = strnlen(s, 64);

	if (n < 16 || n > 36)
		return 0;
	return strspn(s, "0123456789abcdefABCDEF-") == n;
}

int
fcgi_io_accept(struct fcgi_conn *c, struct api_req *r, struct buf *body)
{
	const char	*v, *q;
	static char	 path[API_HEADER_MAX + 1];
	char		*end;

	if (FCGX_Accept_r(&c->req) < 0)
		return -1;
	memset(r, 0, sizeof(*r));
	buf_reset(body);
	r->method = (v = param(c, "REQUEST_METHOD")) ? v : "GET";
	/* nginx's DOCUMENT_URI is the decoded, normalised path. */
	if ((v = param_bounded(c, "DOCUMENT_URI")) == NULL &&
	    (v = param_bounded(c, "REQUEST_URI")) == NULL)
		v = "/";
	snprintf(path, sizeof(path), "%s", v);
	path[strcspn(path, "?")] = '\0';
	r->path = path;
	q = param_bounded(c, "QUERY_STRING");
	r->query = q ? q : "";
	r->content_type = param_bounded(c, "CONTENT_TYPE");
	if (r->content_type && *r->content_type == '\0')
		r->content_type = NULL;
	r->authorization = param_bounded(c, "HTTP_AUTHORIZATION");
	r->idempotency_key = param_bounded(c, "HTTP_IDEMPOTENCY_KEY");
	r->if_none_match = param_bounded(c, "HTTP_IF_NONE_MATCH");
	r->content_length = -1;
	if ((v = param(c, "CONTENT_LENGTH")) != NULL && *v != '\0') {
		r->content_length = strtoll(v, &end, 10);
		if (*end != '\0' || r->content_length < 0)
			r->content_length = BUF_MAX_REQUEST_BODY + 1;
	}
	/* nginx's $request_id, so the API's logs and nginx's access log agree. */
	if ((v = param(c, "REQUEST_ID")) != NULL && request_id_valid(v))
		snprintf(r->request_id, sizeof(r->request_id), "%s", v);
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
		read_body(c, r, body);
	return 0;
}

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default:  return "Internal Server Error";
	}
}

void
fcgi_io_respond(struct fcgi_conn *c, const struct api_req *r,
    const struct api_resp *resp)
{
	struct buf	 head = BUF_INIT(API_HEADER_MAX * 8);

	/* libfcgi's own printf lacks %zu: format here, write raw bytes. */
	buf_addf(&head, "Status: %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Cache-Control: %s\r\n"
	    "X-Request-Id: %s\r\n"
	    "Content-Length: %zu\r\n", resp->status,
	    status_text(resp->status), resp->content_type,
	    resp->cache_control, r->request_id, resp->body.len);
	buf_add(&head, buf_cstr(&resp->headers), resp->headers.len);
	buf_adds(&head, "\r\n");
	if (buf_ok(&head))
		FCGX_PutStr(head.data, (int)head.len, c->req.out);
	if (resp->body.len && strcmp(r->method, "HEAD") != 0 &&
	    resp->status != 304)
		FCGX_PutStr(resp->body.data, (int)resp->body.len, c->req.out);
	buf_free(&head);
}

void
fcgi_io_finish(struct fcgi_conn *c)
{
	FCGX_Finish_r(&c->req);
}
