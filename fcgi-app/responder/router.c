#include <string.h>

#include "api.h"

enum route_auth { ROUTE_PUBLIC, ROUTE_BEARER };

struct route {
	const char	*method;
	const char	*prefix;	/* path, or prefix when has_param */
	int		 has_param;	/* one :param segment after prefix … */
	const char	*suffix;	/* … followed by this ("" for none) */
	enum route_auth	 auth;
	int		(*handler)(struct api_ctx *, const struct api_req *,
			    struct api_resp *, struct ig_err *);
};

/*
 * The route table.  A path that matches an entry with another method is a
 * 405 listing the methods that do exist for it.
 */
static const struct route routes[] = {
	{ "POST", API_PREFIX "/text-to-image", 0, "", ROUTE_BEARER, h_generate },
	{ "GET",  API_PREFIX "/queue", 0, "", ROUTE_BEARER, h_queue_list },
	{ "GET",  API_PREFIX "/queue/", 1, "", ROUTE_BEARER, h_queue_get },
	{ "POST", API_PREFIX "/queue/", 1, "/cancel", ROUTE_BEARER,
	    h_queue_cancel },
	{ "GET",  API_PREFIX "/health", 0, "", ROUTE_PUBLIC, h_health },
	/* Public here; nginx allows it from loopback only. */
	{ "GET",  API_PREFIX "/metrics", 0, "", ROUTE_PUBLIC, h_metrics },
};

#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

/* Whether path matches r; copies the parameter segment into param. */
static int
route_match(const struct route *r, const char *path, char *param,
    size_t paramlen)
{
	size_t		 plen = strlen(r->prefix), seglen;
	const char	*seg, *end;

	if (!r->has_param)
		return strcmp(path, r->prefix) == 0;
	if (strncmp(path, r->prefix, plen) != 0)
		return 0;
	seg = path + plen;
	end = strchr(seg, '/');
	seglen = end ? (size_t)(end - seg) : strlen(seg);
	if (seglen == 0 || strcmp(seg + seglen, r->suffix) != 0)
		return 0;
	/* Overlong segments are kept truncated: they fail validation anyway. */
	snprintf(param, paramlen, "%.*s", (int)(seglen < paramlen ? seglen :
	    paramlen - 1), seg);
	return 1;
}

static int
route_method_is(const char *have, const char *want)
{
	/* HEAD is answered like GET by nginx when needed; we are strict. */
	return strcmp(have, want) == 0;
}

void
api_dispatch(struct api_ctx *ctx, struct api_req *req, struct api_resp *resp)
{
	struct ig_err	 err = IG_ERR_INIT;
	struct buf	 allow = BUF_INIT(128);
	const struct route *found = NULL;
	size_t		 i;
	int		 path_known = 0;

	for (i = 0; i < NROUTES; i++) {
		if (!route_match(&routes[i], req->path, req->param,
		    sizeof(req->param)))
			continue;
		path_known = 1;
		if (allow.len)
			buf_adds(&allow, ", ");
		buf_adds(&allow, routes[i].method);
		if (found == NULL && route_method_is(req->method,
		    routes[i].method))
			found = &routes[i];
	}
	if (found == NULL) {
		if (path_known) {
			ig_err_set(&err, IG_EMETHOD, NULL, "%s is not allowed "
			    "here; allowed: %s", req->method, buf_cstr(&allow));
			api_reply_error(resp, &err, req->request_id);
			api_header(resp, "Allow", buf_cstr(&allow));
		} else {
			ig_err_set(&err, IG_ENOTFOUND, NULL, "no such route");
			api_reply_error(resp, &err, req->request_id);
		}
		buf_free(&allow);
		return;
	}
	buf_free(&allow);
	if (found->handler(ctx, req, resp, &err) == -1)
		api_reply_error(resp, &err, req->request_id);
}
