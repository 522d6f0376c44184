#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "jwt.h"
#include "store.h"

/*
 * Only the Authorization header is accepted: a token in a query string
 * ends up in access logs, browser history and Referer headers.
 */
int
api_bearer(const struct api_ctx *ctx, const struct api_req *req,
    struct api_bearer *b, struct ig_err *err)
{
	const char	*h = req->authorization;

	if (h == NULL || *h == '\0')
		return ig_err_set(err, IG_EAUTH, NULL, "a bearer token is "
		    "required: send Authorization: Bearer <token>");
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return ig_err_set(err, IG_EAUTH, NULL,
		    "the Authorization scheme must be Bearer");
	for (b->token = h + 7; *b->token == ' '; b->token++)
		;
	b->len = strnlen(b->token, API_HEADER_MAX);
	while (b->len > 0 && b->token[b->len - 1] == ' ')
		b->len--;
	b->is_jwt = *ctx->cfg->jwt_secret != '\0' &&
	    jwt_looks_like(b->token, b->len);
	return 0;
}

int
api_authenticate(struct api_ctx *ctx, const struct api_req *req,
    char user_id[40], struct ig_err *err)
{
	struct api_bearer	 b;
	int			 rc;

	if (api_bearer(ctx, req, &b, err) == -1)
		return -1;
	if (b.is_jwt) {
		if (jwt_verify_hs256(b.token, b.len, ctx->cfg->jwt_secret,
		    (long long)time(NULL), user_id, 40, err) == -1)
			return -1;
		rc = store_user_exists(ctx->db, user_id, err);
		if (API_RETRY_ON_RECONNECT(ctx, rc, err))
			rc = store_user_exists(ctx->db, user_id, err);
		return rc;
	}
	rc = store_auth(ctx->db, b.token, b.len, user_id, err);
	if (API_RETRY_ON_RECONNECT(ctx, rc, err))
		rc = store_auth(ctx->db, b.token, b.len, user_id, err);
	return rc;
}
