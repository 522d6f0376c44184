#include <ctype.h>
#include <string.h>

#include "api.h"
#include "store.h"

/* A canonical 8-4-4-4-12 hexadecimal uuid. */
static int
uuid_wellformed(const char *s)
{
	size_t	 i;

	if (strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* Authenticates and checks the :generationId segment. */
static int
queue_preamble(struct api_ctx *ctx, const struct api_req *req,
    char user_id[40], struct ig_err *err)
{
	if (api_authenticate(ctx, req, user_id, err) == -1)
		return -1;
	if (!uuid_wellformed(req->param))
		return ig_err_set(err, IG_EINPUT, "generationId",
		    "generationId must be a uuid");
	return 0;
}

int
h_queue_get(struct api_ctx *ctx, const struct api_req *req,
    struct api_resp *resp, struct ig_err *err)
{
	char	 user_id[40];

	if (queue_preamble(ctx, req, user_id, err) == -1 ||
	    store_generation_json(ctx->db, user_id, req->param, &resp->body,
	    err) == -1)
		return -1;
	resp->status = 200;
	return 0;
}

int
h_queue_cancel(struct api_ctx *ctx, const struct api_req *req,
    struct api_resp *resp, struct ig_err *err)
{
	char	 user_id[40];

	if (queue_preamble(ctx, req, user_id, err) == -1 ||
	    store_cancel_generation(ctx->db, user_id, req->param, &resp->body,
	    err) == -1)
		return -1;
	resp->status = 200;
	return 0;
}
