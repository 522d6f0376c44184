/*
 * test_unavailable.c - every route while PostgreSQL is down answers the
 * documented 503 service_unavailable with Retry-After, and the service
 * recovers by itself once it is back.  Exclusive (api_begin(true)): no
 * other test of this binary runs meanwhile.  PostgreSQL is started again
 * before anything is asserted, and by a watchdog should this process die.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "apitest.h"

TestSuite(unavailable, .timeout = API_TEST_TIMEOUT_S);

#define NIL	"00000000-0000-0000-0000-000000000000"

struct obs {
	const char	*method, *path, *body;
	bool		 token;
	int		 rc;		/* -1: transport error (in err) */
	long		 status;
	bool		 valid;
	char		 err[2048];
	char		 code[64];
	char		 retry_after[16];
};

/* Performs the request without asserting anything (PostgreSQL is down). */
static void
observe(struct obs *o, const char *token)
{
	const char *hdrs[3] = { NULL, NULL, NULL };
	struct itest_request req = { 0 };
	struct itest_response resp;
	struct json_object *j;
	char auth[256];
	size_t n = 0;

	if (o->token) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
		hdrs[n++] = auth;
	}
	if (o->body)
		hdrs[n++] = "Content-Type: application/json";
	req.method = o->method;
	req.path = o->path;
	req.headers = hdrs;
	req.body = o->body;
	req.body_len = o->body ? strlen(o->body) : 0;
	req.timeout_ms = 20000;
	o->rc = itest_http_ex(&req, &resp, o->err, sizeof o->err);
	if (o->rc == -1)
		return;
	o->status = resp.status;
	o->valid = oa_check_response(o->method, o->path, &resp, o->err,
	    sizeof o->err);
	if ((j = itest_json_parse(resp.body, resp.body_len)) != NULL) {
		snprintf(o->code, sizeof o->code, "%s",
		    itest_json_str(j, "error.code") ?
		    itest_json_str(j, "error.code") : "");
		json_object_put(j);
	}
	snprintf(o->retry_after, sizeof o->retry_after, "%s",
	    itest_header(&resp, "Retry-After") ?
	    itest_header(&resp, "Retry-After") : "");
	itest_response_free(&resp);
}

struct up_arg {
	const char	*token;
};

static bool
service_back(void *arg)
{
	const struct up_arg *a = arg;
	struct api_res r;
	bool ok;

	api_do(&r, "GET", API_HEALTH_PATH, NULL, NULL);
	ok = r.status == 200;
	api_res_free(&r);
	if (!ok)
		return false;
	api_do(&r, "GET", API_QUEUE_PATH, a->token, NULL);
	ok = r.status == 200;
	api_res_free(&r);
	return ok;
}

Test(unavailable, database_down_is_503_then_recovers)
{
	struct obs obs[] = {
		{ "GET", API_HEALTH_PATH, NULL, false, 0, 0, 0, "", "", "" },
		{ "GET", "/api/generate/metrics", NULL, false, 0, 0, 0, "", "",
		    "" },
		{ "GET", API_QUEUE_PATH "?limit=5", NULL, true, 0, 0, 0, "", "",
		    "" },
		{ "GET", API_QUEUE_PATH "/" NIL, NULL, true, 0, 0, 0, "", "",
		    "" },
		{ "POST", API_QUEUE_PATH "/" NIL "/cancel", NULL, true, 0, 0, 0,
		    "", "", "" },
		{ "POST", API_GEN_PATH, "{\"prompt\":\"during the outage\"}",
		    true, 0, 0, 0, "", "", "" },
	};
	struct itest_user u;
	struct api_guard g;
	struct up_arg up;
	char start[1024], stop[1024], id[40];
	int stop_rc, start_rc;
	size_t i;

	api_begin(true);
	itest_user_create(&u, "api-503");
	api_stack_cmd(start, sizeof start, "pg-start");
	api_stack_cmd(stop, sizeof stop, "pg-stop");
	api_guard_arm(&g, start);
	stop_rc = itest_run(stop);
	if (stop_rc == 0)
		for (i = 0; i < sizeof obs / sizeof obs[0]; i++)
			observe(&obs[i], u.token);
	start_rc = itest_run(start);
	if (start_rc == 0)
		api_guard_disarm(&g);
	cr_assert_eq(stop_rc, 0, "%s failed", stop);
	cr_assert_eq(start_rc, 0, "%s failed", start);

	for (i = 0; i < sizeof obs / sizeof obs[0]; i++) {
		struct obs *o = &obs[i];

		cr_expect_eq(o->rc, 0, "%s %s: %s", o->method, o->path, o->err);
		if (o->rc != 0)
			continue;
		cr_expect(o->valid, "%s", o->err);
		cr_expect_eq(o->status, 503, "%s %s during the outage: %ld",
		    o->method, o->path, o->status);
		cr_expect_str_eq(o->code, "service_unavailable", "%s %s",
		    o->method, o->path);
		cr_expect_str_eq(o->retry_after, "2", "%s %s: Retry-After %s",
		    o->method, o->path, o->retry_after);
	}

	/* Nothing is restarted: responders and worker reconnect. */
	up.token = u.token;
	itest_wait_until(service_back, &up, 60000, "the API to answer 200 "
	    "again after PostgreSQL came back");
	cr_assert_eq(itest_generation_count(&u), 0, "a POST during the outage "
	    "created a generation");
	api_create(u.token, "{\"prompt\":\"after the outage\"}", NULL, id);
	json_object_put(api_wait_terminal(u.token, id, "completed"));
	itest_user_free(&u);
}
