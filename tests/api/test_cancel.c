/*
 * test_cancel.c - POST /api/generate/queue/:id/cancel: a queued generation
 * is canceled at once (its job gone, the user's pending count released),
 * again is the same 200, a completed or failed one is 409
 * already_finished, another user's is 404, a malformed id 400.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "apitest.h"

TestSuite(cancel, .timeout = API_TEST_TIMEOUT_S);

static void
cancel(const char *token, const char *id, struct api_res *r)
{
	char path[256];

	snprintf(path, sizeof path, API_QUEUE_PATH "/%s/cancel", id);
	api_do(r, "POST", path, token, NULL);
}

static long long
jobs_of(const char *id)
{
	return itest_pg_int("SELECT count(*) FROM jobs WHERE generation_id = "
	    "$1::uuid AND kind = 'generate'", id, NULL);
}

static long long
pending_of(const struct itest_user *u)
{
	return itest_pg_int("SELECT pending FROM users WHERE id = $1::uuid",
	    u->id, NULL);
}

Test(cancel, queued_then_again_then_failed)
{
	struct itest_user u;
	struct api_pause p;
	struct api_res r;
	struct json_object *doc, *first;
	char g[40], f[40];
	int64_t v;

	api_begin(true);
	itest_user_create(&u, "api-cancel");
	api_worker_pause(&p);
	api_create(u.token, "{\"prompt\":\"cancel me\",\"numberOfImages\":2}",
	    NULL, g);
	cr_assert_eq(jobs_of(g), 1);
	cr_assert_eq(pending_of(&u), 1);

	cancel(u.token, g, &r);
	cr_assert_eq(r.status, 200, "%ld %s", r.status, r.http.body);
	cr_assert_str_eq(itest_json_str(r.json, "generationId"), g);
	cr_assert(itest_json_is_null(r.json, "startedAt"));
	cr_assert(itest_json_int(r.json, "attempts", &v) && v == 0);
	cr_assert(itest_json_int(r.json, "progress.total", &v) && v == 2);
	cr_assert(itest_json_int(r.json, "progress.completed", &v) && v == 0);
	cr_assert_eq(json_object_array_length(itest_json_get(r.json,
	    "images")), 0);
	first = json_object_get(r.json);
	api_res_free(&r);
	cr_assert_eq(jobs_of(g), 0, "the canceled generation kept its job");
	cr_assert_eq(pending_of(&u), 0, "cancel did not release the pending "
	    "count");

	/* Again: the same 200 and the same document (completedAt kept). */
	cancel(u.token, g, &r);
	cr_assert_eq(r.status, 200);
	cr_assert(itest_json_equal(r.json, first), "second cancel: %s vs %s",
	    r.http.body, itest_json_text(first));
	api_res_free(&r);

	/* Now terminal: GET has an ETag and may be cached privately. */
	{
		char path[128];

		snprintf(path, sizeof path, API_QUEUE_PATH "/%s", g);
		api_do(&r, "GET", path, u.token, NULL);
		cr_assert_eq(r.status, 200);
		cr_assert(itest_json_equal(r.json, first));
		cr_assert_not_null(api_hdr(&r, "ETag"), "no ETag once canceled");
		cr_assert_str_eq(api_hdr(&r, "Cache-Control"),
		    "private, no-cache");
		api_res_free(&r);
	}
	json_object_put(first);

	/*
	 * A failed generation cannot be canceled.  The local provider does
	 * not fail, so the worker's failure is written as it would write it.
	 */
	api_create(u.token, "{\"prompt\":\"will fail\"}", NULL, f);
	PQclear(itest_pg_query("WITH d AS (DELETE FROM jobs WHERE "
	    "generation_id = $1::uuid) UPDATE image_generations SET "
	    "status = 'failed', error_code = 'provider_rejected', "
	    "error_message = 'simulated by test_cancel', attempts = 1, "
	    "started_at = now(), completed_at = now() WHERE id = $1::uuid",
	    f, NULL));
	cancel(u.token, f, &r);
	api_expect_error(&r, 409, "already_finished", NULL);
	cr_assert(strstr(itest_json_str(r.json, "error.message"), "failed"),
	    "%s", r.http.body);
	api_res_free(&r);
	doc = api_get_doc(u.token, f);
	cr_assert_str_eq(itest_json_str(doc, "status"), "failed");
	cr_assert_str_eq(itest_json_str(doc, "error.code"),
	    "provider_rejected");
	json_object_put(doc);
	api_worker_resume(&p);

	/* The worker, running again, leaves the canceled one alone. */
	api_create(u.token, "{\"prompt\":\"after\"}", NULL, f);
	json_object_put(api_wait_terminal(u.token, f, "completed"));
	doc = api_get_doc(u.token, g);
	cr_assert_str_eq(itest_json_str(doc, "status"), "canceled");
	json_object_put(doc);
	itest_user_free(&u);
}

Test(cancel, completed_is_409)
{
	struct itest_user u;
	struct api_res r;
	struct json_object *before, *after;
	char g[40];

	api_begin(false);
	itest_user_create(&u, "api-cancel-done");
	api_create(u.token, "{\"prompt\":\"done\"}", NULL, g);
	before = api_wait_terminal(u.token, g, "completed");
	cancel(u.token, g, &r);
	api_expect_error(&r, 409, "already_finished", NULL);
	cr_assert(strstr(itest_json_str(r.json, "error.message"),
	    "completed"), "%s", r.http.body);
	api_res_free(&r);
	after = api_get_doc(u.token, g);
	cr_assert(itest_json_equal(before, after), "a refused cancel changed "
	    "the generation");
	json_object_put(before);
	json_object_put(after);
	itest_user_free(&u);
}

Test(cancel, errors)
{
	static const char *const bad_ids[] = { "x", "not-a-uuid",
	    "00000000-0000-0000-0000-00000000000z",
	    "{00000000-0000-0000-0000-000000000000}" };
	struct itest_user u, other;
	struct api_res r;
	struct json_object *doc;
	char g[40];

	api_begin(false);
	itest_user_create(&u, "api-cancel-err");
	itest_user_create(&other, "api-cancel-other");
	for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
		cancel(u.token, bad_ids[i], &r);
		api_expect_error(&r, 400, "validation_error", "generationId");
		api_res_free(&r);
	}
	cancel(u.token, "00000000-0000-0000-0000-000000000000", &r);
	api_expect_error(&r, 404, "not_found", NULL);
	api_res_free(&r);
	cancel(NULL, "00000000-0000-0000-0000-000000000000", &r);
	api_expect_error(&r, 401, "unauthorized", NULL);
	api_res_free(&r);

	/* Another user's generation: 404, and it is not canceled. */
	api_create(u.token, "{\"prompt\":\"not yours\"}", NULL, g);
	cancel(other.token, g, &r);
	api_expect_error(&r, 404, "not_found", NULL);
	api_res_free(&r);
	doc = api_wait_terminal(u.token, g, "completed");
	json_object_put(doc);
	itest_user_free(&u);
	itest_user_free(&other);
}
