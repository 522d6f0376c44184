/*
 * test_outage.c - PostgreSQL goes away and comes back.
 *
 * Built as its own binary and run after the other integration tests,
 * because it stops the stack's PostgreSQL (scripts/stack.sh pg-stop) and
 * every other test would fail meanwhile.  While the database is down the
 * service must answer quickly with 503 service_unavailable and a
 * Retry-After header; once it is back the responders and the worker must
 * reconnect by themselves (nothing is restarted): health turns 200 and a
 * new generation is accepted and completed.
 *
 * PostgreSQL is always started again: the test itself starts it before it
 * asserts anything about the outage, and the fini hook starts it if the
 * test failed in between.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "itest.h"

#define STACK_SH	"scripts/stack.sh"
#define GEN_PATH	"/api/generate/text-to-image"
#define HEALTH_PATH	"/api/generate/health"
#define OUTAGE_TIMEOUT_MS 10000L
#define RECOVER_MS	60000L
#define NPOSTS		4

static bool pg_down;

static int
stack_cmd(const char *verb)
{
	char cmd[2048];

	snprintf(cmd, sizeof cmd, "%s %s ", STACK_SH, verb);
	itest_shell_quote(cmd, sizeof cmd, itest_env("IMGGEN_STACK_DIR"));
	return itest_run(cmd);
}

/* fini: start PostgreSQL again if a failed assertion left it stopped. */
static void
restore_pg(void)
{
	if (!pg_down)
		return;
	fprintf(stderr, "test_outage: restarting PostgreSQL after a "
	    "failure\n");
	if (stack_cmd("pg-start") == 0)
		pg_down = false;
	else
		fprintf(stderr, "test_outage: %s pg-start FAILED; the stack's "
		    "database is still down\n", STACK_SH);
}

/* What one request during the outage saw (asserted after pg-start). */
struct obs {
	char	what[64];
	int	rc;		/* 0 = an HTTP answer, -1 = transport error */
	char	err[512];
	long	status;
	bool	json;
	bool	request_id;
	char	retry_after[64];
	char	code[64];
	double	elapsed_s;
};

static void
observe(struct obs *ob, const char *what, const char *method,
    const char *path, const char *token, const char *body)
{
	char auth[512];
	const char *hdrs[3] = { NULL, NULL, NULL };
	size_t nh = 0;
	struct itest_request req = { 0 };
	struct itest_response r;
	int64_t t0 = itest_now_ms();

	memset(ob, 0, sizeof *ob);
	snprintf(ob->what, sizeof ob->what, "%s", what);
	if (token != NULL) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
		hdrs[nh++] = auth;
	}
	if (body != NULL)
		hdrs[nh++] = "Content-Type: application/json";
	req.method = method;
	req.path = path;
	req.headers = hdrs;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.timeout_ms = OUTAGE_TIMEOUT_MS;
	ob->rc = itest_http_ex(&req, &r, ob->err, sizeof ob->err);
	ob->elapsed_s = (double)(itest_now_ms() - t0) / 1000.0;
	if (ob->rc != 0)
		return;
	ob->status = r.status;
	ob->json = itest_is_json_response(&r);
	ob->request_id = itest_header(&r, "X-Request-Id") != NULL;
	if (itest_header(&r, "Retry-After") != NULL)
		snprintf(ob->retry_after, sizeof ob->retry_after, "%s",
		    itest_header(&r, "Retry-After"));
	{
		struct json_object *o = itest_json_parse(r.body, r.body_len);
		const char *code = itest_json_str(o, "error.code");

		snprintf(ob->code, sizeof ob->code, "%s", code ? code :
		    "(no error.code)");
		json_object_put(o);
	}
	itest_response_free(&r);
}

static void
assert_unavailable(const struct obs *ob)
{
	cr_assert_eq(ob->rc, 0, "database down, %s: no answer within %ld ms: "
	    "%s", ob->what, OUTAGE_TIMEOUT_MS, ob->err);
	cr_assert_eq(ob->status, 503, "database down, %s: expected 503, got "
	    "%ld (%s)", ob->what, ob->status, ob->code);
	cr_assert_str_eq(ob->code, "service_unavailable",
	    "database down, %s: error.code", ob->what);
	cr_assert(ob->json, "database down, %s: not a JSON response",
	    ob->what);
	cr_assert(ob->request_id, "database down, %s: no X-Request-Id",
	    ob->what);
	cr_assert(ob->retry_after[0] != '\0', "database down, %s: 503 "
	    "without Retry-After", ob->what);
}

static bool
health_ok(void *arg)
{
	struct itest_request req = { .method = "GET", .path = HEALTH_PATH,
		.timeout_ms = OUTAGE_TIMEOUT_MS };
	struct itest_response r;
	char err[512];
	bool ok;

	(void)arg;
	if (itest_http_ex(&req, &r, err, sizeof err) != 0)
		return false;
	ok = r.status == 200;
	itest_response_free(&r);
	return ok;
}

struct post_state {
	const struct itest_user	*user;
	char			 id[40];
	long			 last_status;
};

/* POST until accepted; 503 means "not yet", anything else is a failure. */
static bool
post_accepted(void *arg)
{
	struct post_state *ps = arg;
	struct itest_response r;
	struct json_object *o;
	const char *id;

	itest_call("POST", GEN_PATH, ps->user->token,
	    "{\"prompt\":\"after the outage\",\"numberOfImages\":2}", &r);
	ps->last_status = r.status;
	if (r.status == 503) {
		itest_response_free(&r);
		return false;
	}
	cr_assert_eq(r.status, 202, "database back: POST got %ld %.500s",
	    r.status, r.body);
	o = itest_response_json(&r);
	itest_response_free(&r);
	id = itest_json_str(o, "generationId");
	cr_assert(itest_is_uuid(id), "202 without generationId: %s",
	    itest_json_text(o));
	snprintf(ps->id, sizeof ps->id, "%s", id);
	json_object_put(o);
	return true;
}

Test(outage, database_down_then_back, .fini = restore_pg, .timeout = 400)
{
	struct itest_user user;
	struct obs health, posts[NPOSTS], get;
	struct post_state ps = { 0 };
	struct json_object *v;
	char first_id[40], path[128];
	int stop_rc, start_rc;
	long long rows;

	itest_require_stack();
	(void)itest_env("IMGGEN_STACK_DIR");
	cr_assert(access(STACK_SH, X_OK) == 0, "%s not found: run the test "
	    "from the repository root (make test)", STACK_SH);

	/* Before: everything works, the worker has done a job. */
	itest_user_create(&user, "itest-outage");
	cr_assert(health_ok(NULL), "health is not 200 before the outage");
	json_object_put(itest_generate(&user, "{\"prompt\":\"before the "
	    "outage\"}", first_id));
	json_object_put(itest_wait_completed(&user, first_id,
	    ITEST_COMPLETE_TIMEOUT_MS));
	snprintf(path, sizeof path, "/api/generate/queue/%s", first_id);

	/* The outage.  Nothing is asserted until PostgreSQL is back. */
	pg_down = true;
	stop_rc = stack_cmd("pg-stop");
	observe(&health, "GET health", "GET", HEALTH_PATH, NULL, NULL);
	for (int i = 0; i < NPOSTS; i++) {
		char what[64];

		snprintf(what, sizeof what, "POST text-to-image #%d", i + 1);
		observe(&posts[i], what, "POST", GEN_PATH, user.token,
		    "{\"prompt\":\"during the outage\"}");
	}
	observe(&get, "GET queue/:id", "GET", path, user.token, NULL);
	start_rc = stack_cmd("pg-start");
	if (start_rc == 0)
		pg_down = false;

	cr_assert_eq(stop_rc, 0, "%s pg-stop failed (exit %d)", STACK_SH,
	    stop_rc);
	cr_assert_eq(start_rc, 0, "%s pg-start failed (exit %d)", STACK_SH,
	    start_rc);
	assert_unavailable(&health);
	for (int i = 0; i < NPOSTS; i++)
		assert_unavailable(&posts[i]);
	assert_unavailable(&get);

	/* Recovery, with nothing restarted but PostgreSQL. */
	itest_wait_until(health_ok, NULL, RECOVER_MS,
	    "health to answer 200 after PostgreSQL came back");
	ps.user = &user;
	itest_wait_until(post_accepted, &ps, RECOVER_MS,
	    "a POST to be accepted (202) after PostgreSQL came back");
	v = itest_wait_completed(&user, ps.id, 90000);
	cr_assert_eq(json_object_array_length(itest_json_get(v, "images")), 2,
	    "the generation after the outage: %s", itest_json_text(v));
	json_object_put(v);

	/* The refused POSTs wrote nothing: the one before and the one
	 * after are the user's only generations. */
	rows = itest_generation_count(&user);
	cr_assert_eq(rows, 2, "expected 2 image_generations rows (before and "
	    "after the outage), found %lld", rows);

	/* The earlier generation is intact. */
	v = itest_get_generation(&user, first_id);
	cr_assert_str_eq(itest_json_str(v, "status"), "completed");
	json_object_put(v);

	itest_user_free(&user);
}
