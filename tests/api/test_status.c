/*
 * test_status.c - GET /api/generate/queue/:id: queuePosition while queued
 * (exact order, the 1000 cap), progress, Cache-Control no-store until the
 * generation is terminal, then an ETag with 304 revalidation; and the
 * errors of the route.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "apitest.h"

TestSuite(status, .timeout = API_TEST_TIMEOUT_S);

/* GET /queue/ID with optional If-None-Match (NULL: none). */
static void
get_cond(const char *token, const char *id, const char *inm,
    struct api_res *r)
{
	struct api_req req = { 0 };
	char path[256], line[512];
	const char *hdrs[2] = { NULL, NULL };

	snprintf(path, sizeof path, API_QUEUE_PATH "/%s", id);
	if (inm != NULL) {
		snprintf(line, sizeof line, "If-None-Match: %s", inm);
		hdrs[0] = line;
	}
	req.path = path;
	req.token = token;
	req.headers = hdrs;
	api_send(&req, r);
}

/* A queued document: position, progress, no-store, no ETag. */
static int64_t
queued_position(const char *token, const char *id, int64_t total)
{
	struct api_res r;
	int64_t pos = -1, v;

	get_cond(token, id, "\"00000000-1\", *", &r);
	cr_assert_eq(r.status, 200, "a conditional GET of a queued "
	    "generation must be a 200: %ld", r.status);
	cr_assert_str_eq(itest_json_str(r.json, "status"), "queued");
	cr_assert(itest_json_int(r.json, "queuePosition", &pos),
	    "queuePosition is not an integer while queued: %s", r.http.body);
	cr_assert_str_eq(api_hdr(&r, "Cache-Control"), "no-store");
	cr_assert_null(api_hdr(&r, "ETag"), "ETag on a queued generation");
	cr_assert(itest_json_int(r.json, "progress.completed", &v) && v == 0);
	cr_assert(itest_json_int(r.json, "progress.total", &v) && v == total);
	cr_assert(itest_json_is_null(r.json, "startedAt"));
	cr_assert(itest_json_is_null(r.json, "completedAt"));
	api_res_free(&r);
	return pos;
}

Test(status, queue_position)
{
	struct itest_user u, filler;
	struct api_pause p;
	struct api_res r;
	struct json_object *doc;
	int64_t p1, p2, p3, v;
	long long queued;
	char g1[40], g2[40], g3[40], path[128];

	api_begin(true);
	itest_user_create(&u, "api-position");
	itest_user_create(&filler, "api-filler");
	api_worker_pause(&p);
	api_create(u.token, "{\"prompt\":\"first\",\"numberOfImages\":2}", NULL,
	    g1);
	api_create(u.token, "{\"prompt\":\"second\"}", NULL, g2);
	api_create(u.token, "{\"prompt\":\"third\"}", NULL, g3);

	/* Nothing else is enqueued meanwhile (exclusive test): exact. */
	p1 = queued_position(u.token, g1, 2);
	p2 = queued_position(u.token, g2, 1);
	p3 = queued_position(u.token, g3, 1);
	cr_assert(p1 >= 0 && p1 <= 1000);
	cr_assert_eq(p2, p1 + 1, "positions %lld, %lld", (long long)p1,
	    (long long)p2);
	cr_assert_eq(p3, p1 + 2);
	queued = itest_pg_int("SELECT count(*) FROM jobs WHERE state = "
	    "'queued'", NULL);
	cr_assert(p3 < queued, "position %lld with %lld queued jobs",
	    (long long)p3, queued);

	/* The first one leaves the queue: the others move up by one. */
	snprintf(path, sizeof path, API_QUEUE_PATH "/%s/cancel", g1);
	api_do(&r, "POST", path, u.token, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert(itest_json_is_null(r.json, "queuePosition"));
	api_res_free(&r);
	cr_assert_eq(queued_position(u.token, g2, 1), p1);
	cr_assert_eq(queued_position(u.token, g3, 1), p1 + 1);

	/*
	 * 1001 jobs ahead (priority -1): the count stops at 1000.  Their
	 * generations are canceled already, so a worker that claims them
	 * drops them at once should this test die before cleaning up.
	 */
	PQclear(itest_pg_query("WITH g AS (INSERT INTO image_generations "
	    "(user_id, prompt, metadata, status, completed_at) "
	    "SELECT $1::uuid, 'filler', '{\"numberOfImages\":1,"
	    "\"aspectRatio\":\"1:1\"}', 'canceled', now() "
	    "FROM generate_series(1, 1001) RETURNING id) "
	    "INSERT INTO jobs (kind, generation_id, priority) "
	    "SELECT 'generate', id, -1 FROM g", filler.id, NULL));
	doc = api_get_doc(u.token, g2);
	cr_assert(itest_json_int(doc, "queuePosition", &v) && v == 1000,
	    "queuePosition behind 1001 jobs: %s", itest_json_text(doc));
	json_object_put(doc);
	PQclear(itest_pg_query("DELETE FROM image_generations WHERE user_id = "
	    "$1::uuid", filler.id, NULL));
	cr_assert_eq(queued_position(u.token, g2, 1), p1);

	api_worker_resume(&p);
	doc = api_wait_terminal(u.token, g2, "completed");
	cr_assert(itest_json_is_null(doc, "queuePosition"));
	cr_assert(itest_json_int(doc, "progress.completed", &v) && v == 1);
	json_object_put(doc);
	itest_user_free(&u);
	itest_user_free(&filler);
}

Test(status, etag_and_304)
{
	struct itest_user u;
	struct api_res r;
	struct json_object *doc;
	char id[40], other[40], etag[128], weak[160], list[300], oetag[128];

	api_begin(false);
	itest_user_create(&u, "api-etag");
	api_create(u.token, "{\"prompt\":\"etag\",\"numberOfImages\":2}", NULL,
	    id);
	api_create(u.token, "{\"prompt\":\"etag 2\"}", NULL, other);
	json_object_put(api_wait_terminal(u.token, id, "completed"));
	json_object_put(api_wait_terminal(u.token, other, "completed"));

	get_cond(u.token, id, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(api_hdr(&r, "Cache-Control"), "private, no-cache");
	cr_assert_not_null(api_hdr(&r, "ETag"), "no ETag once completed");
	snprintf(etag, sizeof etag, "%s", api_hdr(&r, "ETag"));
	doc = json_object_get(r.json);
	api_res_free(&r);
	{
		int64_t v;

		cr_assert(itest_json_int(doc, "progress.completed", &v) &&
		    v == 2);
		cr_assert_eq(json_object_array_length(itest_json_get(doc,
		    "images")), 2);
	}

	/* Stable: the same ETag and document again. */
	get_cond(u.token, id, NULL, &r);
	cr_assert_str_eq(api_hdr(&r, "ETag"), etag);
	cr_assert(itest_json_equal(r.json, doc));
	api_res_free(&r);

	/* Revalidation: the ETag, its weak form, or in a list -> 304. */
	snprintf(weak, sizeof weak, "W/%s", etag);
	get_cond(u.token, other, NULL, &r);
	snprintf(oetag, sizeof oetag, "%s", api_hdr(&r, "ETag"));
	api_res_free(&r);
	cr_assert_str_neq(oetag, etag, "two generations share an ETag");
	snprintf(list, sizeof list, "\"nope\", %s", etag);
	{
		const char *hits[] = { etag, weak, list };

		for (size_t i = 0; i < 3; i++) {
			get_cond(u.token, id, hits[i], &r);
			cr_assert_eq(r.status, 304, "If-None-Match: %s -> %ld",
			    hits[i], r.status);
			cr_assert_eq(r.http.body_len, 0);
			cr_assert_str_eq(api_hdr(&r, "ETag"), etag);
			cr_assert_str_eq(api_hdr(&r, "Cache-Control"),
			    "private, no-cache");
			api_res_free(&r);
		}
	}
	/* Another ETag (another generation's, or junk) -> the full 200. */
	{
		const char *misses[] = { oetag, "\"x\"", "W/\"x\", \"y\"" };

		for (size_t i = 0; i < 3; i++) {
			get_cond(u.token, id, misses[i], &r);
			cr_assert_eq(r.status, 200, "If-None-Match: %s -> %ld",
			    misses[i], r.status);
			cr_assert(itest_json_equal(r.json, doc));
			api_res_free(&r);
		}
	}
	json_object_put(doc);
	itest_user_free(&u);
}

Test(status, errors)
{
	static const char *const bad_ids[] = {
		"not-a-uuid", "1234",
		"00000000-0000-0000-0000-0000000000000",	/* 37 */
		"00000000-0000-0000-0000-00000000000",		/* 35 */
		"000000000000000000000000000000000000",		/* no dashes */
		"0000000g-0000-0000-0000-000000000000",
		"00000000-0000-0000-0000-000000000000000000000000000000000000"
		    "000000000000",				/* overlong */
	};
	struct itest_user u, other;
	struct api_res r;
	char id[40], path[256], upper[40];
	struct json_object *doc;

	api_begin(false);
	itest_user_create(&u, "api-get");
	itest_user_create(&other, "api-get-other");
	for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
		snprintf(path, sizeof path, API_QUEUE_PATH "/%s", bad_ids[i]);
		api_do(&r, "GET", path, u.token, NULL);
		api_expect_error(&r, 400, "validation_error", "generationId");
		api_res_free(&r);
	}
	api_do(&r, "GET", API_QUEUE_PATH "/00000000-0000-0000-0000-"
	    "000000000000", u.token, NULL);
	api_expect_error(&r, 404, "not_found", NULL);
	api_res_free(&r);

	/* Another user's generation is a 404, like a missing one. */
	api_create(u.token, "{\"prompt\":\"mine\"}", NULL, id);
	snprintf(path, sizeof path, API_QUEUE_PATH "/%s", id);
	api_do(&r, "GET", path, other.token, NULL);
	api_expect_error(&r, 404, "not_found", NULL);
	api_res_free(&r);

	/* The id's hexadecimal digits are read in any case. */
	for (size_t i = 0; i < sizeof upper; i++) {
		upper[i] = (char)(id[i] >= 'a' && id[i] <= 'f' ?
		    id[i] - 'a' + 'A' : id[i]);
		if (id[i] == '\0')
			break;	/* id's bytes after its NUL are not set */
	}
	doc = api_get_doc(u.token, upper);
	cr_assert_str_eq(itest_json_str(doc, "generationId"), id);
	json_object_put(doc);
	json_object_put(api_wait_terminal(u.token, id, "completed"));
	itest_user_free(&u);
	itest_user_free(&other);
}
