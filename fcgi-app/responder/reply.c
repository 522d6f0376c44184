#include <string.h>

#include "api.h"
#include "log.h"

void
api_resp_init(struct api_resp *r)
{
	r->status = 500;
	r->cache_control = "no-store";
	r->content_type = "application/json";
	buf_init(&r->headers, API_HEADER_MAX * 4);
	buf_init(&r->body, BUF_MAX_RESPONSE);
}

void
api_resp_release(struct api_resp *r)
{
	buf_free(&r->headers);
	buf_free(&r->body);
}

void
api_header(struct api_resp *r, const char *name, const char *value)
{
	buf_addf(&r->headers, "%s: %s\r\n", name, value);
}

void
api_reply_json(struct api_resp *r, int status, const char *json, size_t len)
{
	r->status = status;
	buf_reset(&r->body);
	buf_add(&r->body, json, len);
}

void
api_reply_error(struct api_resp *r, const struct ig_err *err,
    const char *request_id)
{
	char	 num[24];
	const char *msg = err->msg;

	r->status = ig_err_http_status(err);
	buf_reset(&r->body);
	/* Internal details stay in the log; the client gets the request id. */
	if (r->status == 500) {
		log_error(&(struct log_ctx){ request_id, NULL, 0 },
		    "internal error: %s", err->msg);
		msg = "internal error; quote the requestId when reporting it";
	}
	buf_addf(&r->body, "{\"error\":{\"code\":\"%s\",\"message\":\"",
	    ig_err_api_code(err));
	buf_add_json_escaped(&r->body, msg, strlen(msg));
	buf_addc(&r->body, '"');
	if (err->field) {
		buf_adds(&r->body, ",\"field\":\"");
		buf_add_json_escaped(&r->body, err->field, strlen(err->field));
		buf_addc(&r->body, '"');
	}
	buf_addf(&r->body, ",\"requestId\":\"%s\"}}", request_id);
	if (r->status == 401)
		api_header(r, "WWW-Authenticate", "Bearer realm=\"imggen\"");
	if (err->retry_after > 0) {
		snprintf(num, sizeof(num), "%ld", err->retry_after);
		api_header(r, "Retry-After", num);
	}
}
