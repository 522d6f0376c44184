#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
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

/*
 * A generation still changing must not be cached; a finished one is final,
 * so it gets an ETag and may be revalidated cheaply.
 */
int
h_queue_get(struct api_ctx *ctx, const struct api_req *req,
    struct api_resp *resp, struct ig_err *err)
{
	struct store_doc_meta	 meta;
	struct api_bearer	 b;
	char			 user_id[40];
	int			 rc;

	/*
	 * The hot path, a poll with an API token: authentication and the
	 * document in one statement.  Everything else (JWTs, a malformed
	 * id, so that 401 still comes before 400) takes the general path.
	 */
	if (uuid_wellformed(req->param) && api_bearer(ctx, req, &b, err) == 0 &&
	    !b.is_jwt) {
		rc = store_generation_json_by_token(ctx->db, b.token, b.len,
		    req->param, user_id, &resp->body, &meta, err);
		if (API_RETRY_ON_RECONNECT(ctx, rc, err))
			rc = store_generation_json_by_token(ctx->db, b.token,
			    b.len, req->param, user_id, &resp->body, &meta,
			    err);
	} else {
		ig_err_clear(err);
		rc = queue_preamble(ctx, req, user_id, err);
		if (rc == 0)
			rc = store_generation_json(ctx->db, user_id,
			    req->param, &resp->body, &meta, err);
	}
	if (rc == -1)
		return -1;
	resp->status = 200;
	if (meta.terminal) {
		resp->cache_control = "private, no-cache";
		api_header(resp, "ETag", meta.etag);
		if (req->if_none_match &&
		    strstr(req->if_none_match, meta.etag) != NULL) {
			resp->status = 304;
			buf_reset(&resp->body);
		}
	}
	return 0;
}

/* Reads one name=value pair of a query string; -1 at the end. */
static int
query_next(const char **q, char *name, size_t nlen, char *val, size_t vlen)
{
	const char	*p = *q, *amp, *eq;
	size_t		 n;

	while (*p == '&')
		p++;
	if (*p == '\0')
		return -1;
	amp = strchr(p, '&');
	n = amp ? (size_t)(amp - p) : strlen(p);
	eq = memchr(p, '=', n);
	snprintf(name, nlen, "%.*s", (int)(eq ? (size_t)(eq - p) : n), p);
	snprintf(val, vlen, "%.*s", eq ? (int)(n - (size_t)(eq - p) - 1) : 0,
	    eq ? eq + 1 : "");
	*q = p + n;
	return 0;
}

int
h_queue_list(struct api_ctx *ctx, const struct api_req *req,
    struct api_resp *resp, struct ig_err *err)
{
	static const char *const statuses[] = { "queued", "processing",
	    "completed", "failed", "canceled", NULL };
	struct store_cursor	 cursor;
	const char		*q = req->query, *status = NULL;
	char			 user_id[40], name[32], val[128], *end;
	long			 limit = 20;
	int			 have_cursor = 0, i;

	if (api_authenticate(ctx, req, user_id, err) == -1)
		return -1;
	while (query_next(&q, name, sizeof(name), val, sizeof(val)) == 0) {
		if (strcmp(name, "status") == 0) {
			for (i = 0; statuses[i] && strcmp(statuses[i], val); i++)
				;
			if (statuses[i] == NULL)
				return ig_err_set(err, IG_EINPUT, "status",
				    "status must be one of queued, processing, "
				    "completed, failed, canceled");
			status = statuses[i];
		} else if (strcmp(name, "limit") == 0) {
			limit = strtol(val, &end, 10);
			if (*val == '\0' || *end != '\0' || limit < 1 ||
			    limit > 100)
				return ig_err_set(err, IG_EINPUT, "limit",
				    "limit must be an integer from 1 to 100");
		} else if (strcmp(name, "cursor") == 0) {
			if (store_cursor_parse(val, &cursor) == -1)
				return ig_err_set(err, IG_EINPUT, "cursor",
				    "cursor is not one this API returned");
			have_cursor = 1;
		} else {
			ig_err_set(err, IG_EINPUT, NULL, "unknown query "
			    "parameter");
			ig_err_field_copy(err, name);
			return -1;
		}
	}
	if (store_list_generations(ctx->db, user_id, status, (int)limit,
	    have_cursor ? &cursor : NULL, &resp->body, err) == -1)
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
