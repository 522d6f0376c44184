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
api_authenticate(struct api_ctx *ctx, const struct api_req *req,
    char user_id[40], struct ig_err *err)
{
	const char	*h = req->authorization, *tok;
	size_t		 len;
	int		 rc;

	if (h == NULL || *h == '\0')
		return ig_err_set(err, IG_EAUTH, NULL, "a bearer token is "
		    "required: send Authorization: Bearer <token>");
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return ig_err_set(err, IG_EAUTH, NULL,
		    "the Authorization scheme must be Bearer");
	for (tok = h + 7; *tok == ' '; tok++)
		;
	len = strnlen(tok, API_HEADER_MAX);
	while (len > 0 && tok[len - 1] == ' ')
		len--;
	if (*ctx->cfg->jwt_secret != '\0' && jwt_looks_like(tok, len)) {
		if (jwt_verify_hs256(tok, len, ctx->cfg->jwt_secret,
		    (long long)time(NULL), user_id, 40, err) == -1)
			return -1;
		rc = store_user_exists(ctx->db, user_id, err);
		if (rc == -1 && err->code == IG_EUNAVAILABLE &&
		    db_lost(ctx->db)) {
			ig_err_clear(err);
			rc = store_user_exists(ctx->db, user_id, err);
		}
		return rc;
	}
	rc = store_auth(ctx->db, tok, len, user_id, err);
	/*
	 * After a database restart the first statement finds the old
	 * connection dead; authentication is a read, so try once more on a
	 * fresh connection rather than fail the request.
	 */
	if (rc == -1 && err->code == IG_EUNAVAILABLE && db_lost(ctx->db)) {
		ig_err_clear(err);
		rc = store_auth(ctx->db, tok, len, user_id, err);
	}
	return rc;
}
