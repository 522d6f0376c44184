/* The router and the error envelope, called directly: no FastCGI, no DB. */
#include <criterion/criterion.h>
#include <string.h>

#include "api.h"

static void
run(const char *method, const char *path, struct api_resp *resp)
{
	struct api_ctx	 ctx;
	struct api_req	 req;

	memset(&ctx, 0, sizeof(ctx));
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = path;
	req.content_length = -1;
	snprintf(req.request_id, sizeof(req.request_id), "test-request");
	api_resp_init(resp);
	api_dispatch(&ctx, &req, resp);
}

Test(router, unknown_path_is_json_404)
{
	struct api_resp	 resp;

	run("GET", "/api/generate/nope", &resp);
	cr_assert_eq(resp.status, 404);
	cr_assert(strstr(buf_cstr(&resp.body), "\"code\":\"not_found\""));
	cr_assert(strstr(buf_cstr(&resp.body), "\"requestId\":\"test-request\""));
	api_resp_release(&resp);
}

Test(router, wrong_method_is_405_with_allow)
{
	struct api_resp	 resp;

	run("GET", "/api/generate/text-to-image", &resp);
	cr_assert_eq(resp.status, 405);
	cr_assert(strstr(buf_cstr(&resp.headers), "Allow: POST\r\n"));
	cr_assert(strstr(buf_cstr(&resp.body), "method_not_allowed"));
	api_resp_release(&resp);

	run("DELETE", "/api/generate/queue/abc", &resp);
	cr_assert_eq(resp.status, 405);
	cr_assert(strstr(buf_cstr(&resp.headers), "Allow: GET\r\n"));
	api_resp_release(&resp);
}

Test(router, param_route_needs_exactly_one_segment)
{
	struct api_resp	 resp;

	run("GET", "/api/generate/queue/", &resp);
	cr_assert_eq(resp.status, 404);
	api_resp_release(&resp);
	run("GET", "/api/generate/queue/a/b", &resp);
	cr_assert_eq(resp.status, 404);
	api_resp_release(&resp);
}

Test(router, missing_token_is_401_before_any_database_use)
{
	struct api_resp	 resp;

	/* ctx.db is NULL: reaching the database would crash the test. */
	run("POST", "/api/generate/text-to-image", &resp);
	cr_assert_eq(resp.status, 401);
	cr_assert(strstr(buf_cstr(&resp.headers), "WWW-Authenticate: Bearer"));
	api_resp_release(&resp);

	run("GET", "/api/generate/queue/00000000-0000-0000-0000-000000000000",
	    &resp);
	cr_assert_eq(resp.status, 401);
	api_resp_release(&resp);
}
