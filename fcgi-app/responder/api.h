/*
 * api: the responder's request, response and per-process context, shared
 * by the router and the handlers.  Nothing here knows about FastCGI, so the
 * handlers can be called directly from tests.
 *
 * A handler takes the context, the request, a response to fill and an
 * error; it returns 0 after filling the response or -1 with the error set,
 * and api_reply_error() turns that into the JSON error document.
 */
#ifndef IG_API_H
#define IG_API_H

#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "generation.h"
#include "ig_err.h"
#include "provider.h"

#define API_PREFIX		"/api/generate"
#define API_HEADER_MAX		4096	/* longest header value we look at */

struct api_ctx {
	const struct config		*cfg;
	const struct provider_info	*provider;
	struct gen_policy		 policy;
	struct db			*db;
};

struct api_req {
	const char	*method;
	const char	*path;		/* without the query string */
	const char	*query;
	const char	*content_type;	/* NULL when absent */
	const char	*authorization;	/* NULL when absent */
	const char	*idempotency_key; /* NULL when absent */
	const char	*if_none_match;	/* NULL when absent */
	long long	 content_length; /* -1 when absent */
	const char	*body;		/* read by the caller, may be NULL */
	size_t		 body_len;
	int		 body_too_large;
	char		 request_id[40];
	char		 param[64];	/* the :generationId path segment */
};

struct api_resp {
	int		 status;
	const char	*cache_control;	/* static; "no-store" by default */
	const char	*content_type;	/* static; JSON by default */
	struct buf	 headers;	/* "Name: value\r\n" lines */
	struct buf	 body;
};

void	api_resp_init(struct api_resp *);
void	api_resp_release(struct api_resp *);
void	api_reply_json(struct api_resp *, int status, const char *json,
	    size_t len);
void	api_reply_error(struct api_resp *, const struct ig_err *,
	    const char *request_id);
void	api_header(struct api_resp *, const char *name, const char *value);

struct api_bearer {
	const char	*token;		/* in the request's header; not copied */
	size_t		 len;
	int		 is_jwt;	/* a JWT, and JWTs are configured */
};

/* Finds the bearer token of the Authorization header (IG_EAUTH if none). */
int	api_bearer(const struct api_ctx *, const struct api_req *,
	    struct api_bearer *, struct ig_err *)
	    __attribute__((warn_unused_result));

/*
 * After a database restart the first statement finds the old connection
 * dead.  Statements that only read (or, like authentication, only refresh
 * a timestamp) are tried once more on a fresh connection rather than fail
 * the request; clears the error when it says to retry.
 */
#define API_RETRY_ON_RECONNECT(ctx, rc, err)				\
	((rc) == -1 && (err)->code == IG_EUNAVAILABLE &&		\
	 db_lost((ctx)->db) && (ig_err_clear(err), 1))

/* Authenticates the request's bearer token; copies the user id. */
int	api_authenticate(struct api_ctx *, const struct api_req *,
	    char user_id[40], struct ig_err *)
	    __attribute__((warn_unused_result));

/* Routes and runs one request, filling resp in every case. */
void	api_dispatch(struct api_ctx *, struct api_req *, struct api_resp *);

int	h_generate(struct api_ctx *, const struct api_req *, struct api_resp *,
	    struct ig_err *);
int	h_queue_get(struct api_ctx *, const struct api_req *,
	    struct api_resp *, struct ig_err *);
int	h_queue_list(struct api_ctx *, const struct api_req *,
	    struct api_resp *, struct ig_err *);
int	h_queue_cancel(struct api_ctx *, const struct api_req *,
	    struct api_resp *, struct ig_err *);
int	h_metrics(struct api_ctx *, const struct api_req *, struct api_resp *,
	    struct ig_err *);
int	h_health(struct api_ctx *, const struct api_req *, struct api_resp *,
	    struct ig_err *);

#endif
