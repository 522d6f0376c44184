#include <string.h>
#include <strings.h>

#include "api.h"
#include "generation.h"
#include "jsonx.h"
#include "log.h"
#include "store.h"

/* application/json, optionally with parameters such as charset. */
static int
content_type_is_json(const char *ct)
{
	size_t	 n = strlen("application/json");

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return 0;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

static void
reply_created(struct api_resp *resp, const char *id, const char *created_at,
    const char *metadata)
{
	struct buf	 loc = BUF_INIT(256);

	resp->status = 202;
	buf_addf(&resp->body, "{\"generationId\":\"%s\",\"status\":\"queued\","
	    "\"metadata\":%s,\"createdAt\":\"%s\"}", id, metadata, created_at);
	buf_addf(&loc, API_PREFIX "/queue/%s", id);
	api_header(resp, "Location", buf_cstr(&loc));
	buf_free(&loc);
}

int
h_generate(struct api_ctx *ctx, const struct api_req *req,
    struct api_resp *resp, struct ig_err *err)
{
	struct json_object	*body = NULL;
	struct gen_request	 gr;
	struct buf		 meta = BUF_INIT(BUF_MAX_REQUEST_BODY * 2);
	char			 user_id[40], id[STORE_UUID_LEN + 1];
	char			 created_at[STORE_TS_LEN + 1];
	int			 rc = -1;

	if (api_authenticate(ctx, req, user_id, err) == -1)
		return -1;
	if (!content_type_is_json(req->content_type))
		return ig_err_set(err, IG_EMEDIA, NULL,
		    "the request body must be application/json");
	if (req->body_too_large)
		return ig_err_set(err, IG_ELIMIT, NULL, "the request body must "
		    "be at most %d bytes", BUF_MAX_REQUEST_BODY);
	if (jsonx_parse_strict(req->body ? req->body : "", req->body_len,
	    &body, err) == -1)
		goto out;
	if (generation_validate(body, ctx->provider, &gr, err) == -1)
		goto out;
	generation_metadata_json(&gr, &meta);
	if (!buf_ok(&meta)) {
		ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
		goto out;
	}
	if (store_create_generation(ctx->db, user_id, &gr, buf_cstr(&meta),
	    ctx->cfg->max_attempts, id, created_at, err) == -1)
		goto out;
	reply_created(resp, id, created_at, buf_cstr(&meta));
	log_info(&(struct log_ctx){ req->request_id, id, 0 },
	    "generation queued: %d image(s) at %s", gr.number_of_images,
	    gr.aspect_ratio);
	rc = 0;
out:
	json_object_put(body);
	buf_free(&meta);
	return rc;
}
