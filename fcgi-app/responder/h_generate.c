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
reply_created(struct api_resp *resp, const struct store_created *c,
    const char *metadata)
{
	struct buf	 loc = BUF_INIT(256);

	resp->status = 202;
	buf_addf(&resp->body, "{\"generationId\":\"%s\",\"status\":\"queued\","
	    "\"metadata\":%s,\"createdAt\":\"%s\"}", c->id, metadata,
	    c->created_at);
	buf_addf(&loc, API_PREFIX "/queue/%s", c->id);
	api_header(resp, "Location", buf_cstr(&loc));
	if (c->replayed)
		api_header(resp, "Idempotent-Replayed", "true");
	buf_free(&loc);
}

/*
 * The IETF draft sends the key as a structured-field string ("…"); many
 * clients send it bare.  Either way: 1–255 visible ASCII characters.
 */
static int
idempotency_key(const char *h, char out[STORE_IDEMPOTENCY_KEY_MAX + 1],
    struct ig_err *err)
{
	size_t	 n = strlen(h), i;

	if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
		h++;
		n -= 2;
	}
	if (n == 0 || n > STORE_IDEMPOTENCY_KEY_MAX)
		return ig_err_set(err, IG_EINPUT, "Idempotency-Key",
		    "Idempotency-Key must be 1 to %d characters",
		    STORE_IDEMPOTENCY_KEY_MAX);
	for (i = 0; i < n; i++)
		if (h[i] < 0x21 || h[i] > 0x7e || h[i] == '"')
			return ig_err_set(err, IG_EINPUT, "Idempotency-Key",
			    "Idempotency-Key must be visible ASCII");
	memcpy(out, h, n);
	out[n] = '\0';
	return 0;
}

int
h_generate(struct api_ctx *ctx, const struct api_req *req,
    struct api_resp *resp, struct ig_err *err)
{
	struct json_object	*body = NULL;
	struct gen_request	 gr;
	struct buf		 meta = BUF_INIT(BUF_MAX_REQUEST_BODY * 2);
	struct store_created	 created;
	char			 user_id[40];
	char			 key[STORE_IDEMPOTENCY_KEY_MAX + 1];
	int			 rc = -1;

	if (api_authenticate(ctx, req, user_id, err) == -1)
		return -1;
	if (req->idempotency_key &&
	    idempotency_key(req->idempotency_key, key, err) == -1)
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
	if (generation_validate_policy(body, &ctx->policy, &gr, err) == -1)
		goto out;
	generation_metadata_json(&gr, &meta);
	if (!buf_ok(&meta)) {
		ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
		goto out;
	}
	if (store_create_generation(ctx->db, user_id, &gr, buf_cstr(&meta),
	    ctx->cfg->max_attempts, req->idempotency_key ? key : NULL,
	    &created, err) == -1)
		goto out;
	reply_created(resp, &created, buf_cstr(&meta));
	log_info(&(struct log_ctx){ req->request_id, created.id, 0 },
	    "%s: %d image(s) at %s", created.replayed ?
	    "idempotent replay" : "generation queued", gr.number_of_images,
	    gr.aspect_ratio);
	rc = 0;
out:
	json_object_put(body);
	buf_free(&meta);
	return rc;
}
