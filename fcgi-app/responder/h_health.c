#include "api.h"
#include "store.h"

int
h_health(struct api_ctx *ctx, const struct api_req *req,
    struct api_resp *resp, struct ig_err *err)
{
	static const char ok[] = "{\"status\":\"ok\"}";

	(void)req;
	if (store_ping(ctx->db, err) == -1) {
		/* A restart leaves a dead connection behind: one more try. */
		if (!db_lost(ctx->db))
			return -1;
		ig_err_clear(err);
		if (store_ping(ctx->db, err) == -1)
			return -1;
	}
	api_reply_json(resp, 200, ok, sizeof(ok) - 1);
	return 0;
}

/* Prometheus text exposition format, version 0.0.4. */
int
h_metrics(struct api_ctx *ctx, const struct api_req *req,
    struct api_resp *resp, struct ig_err *err)
{
	(void)req;
	if (store_metrics(ctx->db, &resp->body, err) == -1) {
		if (!db_lost(ctx->db))
			return -1;
		ig_err_clear(err);
		buf_reset(&resp->body);
		if (store_metrics(ctx->db, &resp->body, err) == -1)
			return -1;
	}
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	return 0;
}
