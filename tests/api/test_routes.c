/*
 * test_routes.c - health, metrics, the router's 404 and 405, and every
 * error of POST text-to-image that is not about idempotency or limits
 * (those have their own files).  Every answer is checked against
 * docs/openapi.yaml by the helpers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "apitest.h"

#define NIL_UUID	"00000000-0000-0000-0000-000000000000"

TestSuite(routes, .timeout = API_TEST_TIMEOUT_S);

Test(routes, health)
{
	struct api_res r;
	struct api_req head = { "HEAD", API_HEALTH_PATH, NULL, NULL, NULL,
	    NULL, NULL };

	api_begin(false);
	api_do(&r, "GET", API_HEALTH_PATH, NULL, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(itest_json_str(r.json, "status"), "ok");
	api_res_free(&r);
	/* A token is not needed, and one that is wrong does not matter. */
	api_do(&r, "GET", API_HEALTH_PATH, "igt_nope", NULL);
	cr_assert_eq(r.status, 200);
	api_res_free(&r);
	api_do(&r, "POST", API_HEALTH_PATH, NULL, NULL);
	api_expect_error(&r, 405, "method_not_allowed", NULL);
	cr_assert_str_eq(api_hdr(&r, "Allow"), "GET");
	api_res_free(&r);
	/* HEAD is not answered like GET: strict 405 (body-less). */
	api_send(&head, &r);
	cr_assert_eq(r.status, 405, "HEAD health: %ld", r.status);
	api_res_free(&r);
}

/* "name{labels} value" lines: the value of the first line with PREFIX. */
static bool
metric(const char *text, const char *prefix, double *value)
{
	const char *p = text;
	size_t n = strlen(prefix);

	while (p && *p) {
		if (strncmp(p, prefix, n) == 0 && p[n] == ' ') {
			*value = strtod(p + n + 1, NULL);
			return true;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

Test(routes, metrics)
{
	static const char *const families[] = {
		"imggen_jobs{state=\"queued\"}", "imggen_jobs{state=\"running\"}",
		"imggen_jobs{state=\"dead\"}",
		"imggen_generations{status=\"queued\"}",
		"imggen_generations{status=\"processing\"}",
		"imggen_generations{status=\"completed\"}",
		"imggen_generations{status=\"failed\"}",
		"imggen_generations{status=\"canceled\"}",
		"imggen_queue_oldest_seconds", "imggen_retries",
		"imggen_provider_latency_seconds_bucket{le=\"+Inf\"}",
		"imggen_provider_latency_seconds_count",
		"imggen_provider_latency_seconds_sum", NULL
	};
	struct api_res r;
	double v, inf = 0, count = 0;

	api_begin(false);
	api_do(&r, "GET", "/api/generate/metrics", NULL, NULL);
	cr_assert_eq(r.status, 200, "%ld %s", r.status, r.http.body);
	cr_assert(strncmp(api_hdr(&r, "Content-Type"), "text/plain", 10) == 0);
	for (size_t i = 0; families[i]; i++)
		cr_expect(metric(r.http.body, families[i], &v) && v >= 0,
		    "no sample %s in:\n%s", families[i], r.http.body);
	cr_expect(metric(r.http.body,
	    "imggen_provider_latency_seconds_bucket{le=\"+Inf\"}", &inf) &&
	    metric(r.http.body, "imggen_provider_latency_seconds_count",
	    &count) && inf == count, "+Inf bucket %g != count %g", inf, count);
	api_res_free(&r);
	api_do(&r, "POST", "/api/generate/metrics", NULL, NULL);
	api_expect_error(&r, 405, "method_not_allowed", NULL);
	api_res_free(&r);
}

Test(routes, unknown_paths_and_methods)
{
	static const struct { const char *method, *path, *allow; } cases[] = {
		{ "GET", "/api/generate/nope", NULL },
		{ "GET", "/api/generate/queue/", NULL },
		{ "GET", "/api/generate/queue/" NIL_UUID "/other", NULL },
		{ "POST", "/api/generate/queue/" NIL_UUID "/cancel/", NULL },
		{ "GET", "/api/generate/text-to-image/", NULL },
		{ "GET", "/api/generate/text-to-image", "POST" },
		{ "PUT", "/api/generate/text-to-image", "POST" },
		{ "POST", "/api/generate/queue", "GET" },
		{ "DELETE", "/api/generate/queue/" NIL_UUID, "GET" },
		{ "PATCH", "/api/generate/queue/" NIL_UUID, "GET" },
		{ "GET", "/api/generate/queue/" NIL_UUID "/cancel", "POST" },
	};
	struct itest_user u;

	api_begin(false);
	itest_user_create(&u, "api-routes");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct api_res r;

		/* Routing comes before authentication: with or without. */
		for (int auth = 0; auth < 2; auth++) {
			api_do(&r, cases[i].method, cases[i].path,
			    auth ? u.token : NULL, NULL);
			if (cases[i].allow) {
				api_expect_error(&r, 405, "method_not_allowed",
				    NULL);
				cr_expect_str_eq(api_hdr(&r, "Allow"),
				    cases[i].allow, "%s %s", cases[i].method,
				    cases[i].path);
			} else
				api_expect_error(&r, 404, "not_found", NULL);
			api_res_free(&r);
		}
	}
	itest_user_free(&u);
}

Test(routes, authentication_errors)
{
	static const char *const paths[][2] = {
		{ "POST", API_GEN_PATH },
		{ "GET", API_QUEUE_PATH },
		{ "GET", API_QUEUE_PATH "?limit=5" },
		{ "GET", API_QUEUE_PATH "/" NIL_UUID },
		{ "POST", API_QUEUE_PATH "/" NIL_UUID "/cancel" },
	};
	static const char *const bad[] = {
		NULL,				/* no header */
		"Basic dXNlcjpwYXNz",		/* another scheme */
		"Bearer",			/* no token */
		"Bearer igt_short",		/* malformed */
		"Bearer igt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"Bearer a.b.c",			/* JWT-shaped junk */
	};
	struct itest_user u;
	char line[256];

	api_begin(false);
	itest_user_create(&u, "api-auth");
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
			const char *hdrs[2] = { NULL, NULL };
			struct api_req req = { 0 };
			struct api_res r;

			if (bad[j]) {
				snprintf(line, sizeof line, "Authorization: %s",
				    bad[j]);
				hdrs[0] = line;
			}
			req.method = paths[i][0];
			req.path = paths[i][1];
			req.headers = hdrs;
			req.body = strcmp(paths[i][1], API_GEN_PATH) == 0 ?
			    "{\"prompt\":\"x\"}" : NULL;
			api_send(&req, &r);
			api_expect_error(&r, 401, "unauthorized", NULL);
			api_res_free(&r);
		}
	/* A revoked token stops working at once. */
	{
		char *tok = itest_token_create(u.email);
		struct api_res r;

		api_do(&r, "GET", API_QUEUE_PATH, tok, NULL);
		cr_assert_eq(r.status, 200);
		api_res_free(&r);
		itest_token_revoke(tok);
		api_do(&r, "GET", API_QUEUE_PATH, tok, NULL);
		api_expect_error(&r, 401, "unauthorized", NULL);
		api_res_free(&r);
		free(tok);
	}
	itest_user_free(&u);
}

static void
post_expect(const struct itest_user *u, const char *content_type,
    const char *body, long status, const char *code, const char *field)
{
	struct api_req req = { 0 };
	struct api_res r;

	req.method = "POST";
	req.path = API_GEN_PATH;
	req.token = u->token;
	req.body = body;
	req.content_type = content_type;
	api_send(&req, &r);
	api_expect_error(&r, status, code, field);
	api_res_free(&r);
}

Test(routes, create_errors)
{
	struct itest_user u;
	char *big;
	size_t i;

	api_begin(false);
	itest_user_create(&u, "api-create");
	post_expect(&u, "", "{\"prompt\":\"x\"}", 415,
	    "unsupported_media_type", NULL);
	post_expect(&u, "text/plain", "{\"prompt\":\"x\"}", 415,
	    "unsupported_media_type", NULL);
	post_expect(&u, "application/jsonx", "{\"prompt\":\"x\"}", 415,
	    "unsupported_media_type", NULL);
	post_expect(&u, NULL, "{", 400, "invalid_json", NULL);
	post_expect(&u, NULL, "{\"prompt\":\"x\"} x", 400, "invalid_json",
	    NULL);
	post_expect(&u, NULL, "[]", 400, "validation_error", NULL);
	post_expect(&u, NULL, "{}", 400, "validation_error", "prompt");
	post_expect(&u, NULL, "{\"prompt\":\"  \"}", 400, "validation_error",
	    "prompt");
	post_expect(&u, NULL, "{\"prompt\":\"x\",\"foo\":1}", 400,
	    "validation_error", "foo");
	post_expect(&u, NULL, "{\"prompt\":\"x\",\"prompt\":\"y\"}", 400,
	    "validation_error", "prompt");
	post_expect(&u, NULL, "{\"prompt\":null}", 400, "validation_error",
	    "prompt");
	post_expect(&u, NULL, "{\"prompt\":\"x\",\"numberOfImages\":5}", 400,
	    "validation_error", "numberOfImages");
	post_expect(&u, NULL, "{\"prompt\":\"x\",\"numberOfImages\":2.0}", 400,
	    "validation_error", "numberOfImages");
	post_expect(&u, NULL, "{\"prompt\":\"x\",\"aspectRatio\":\"7:3\"}", 400,
	    "validation_error", "aspectRatio");
	post_expect(&u, NULL, "{\"prompt\":\"x\",\"seed\":-1}", 400,
	    "validation_error", "seed");
	post_expect(&u, NULL, "{\"prompt\":\"x\",\"webhookUrl\":"
	    "\"ftp://example.com/\"}", 400, "validation_error", "webhookUrl");
	/* The API's 16 KiB limit, then nginx's 64 KiB one. */
	big = malloc(70000);
	cr_assert(big != NULL);
	memcpy(big, "{\"prompt\":\"", 11);
	for (i = 11; i < 16400; i++)
		big[i] = 'a';
	memcpy(big + i, "\"}", 3);
	post_expect(&u, NULL, big, 413, "payload_too_large", NULL);
	for (; i < 69000; i++)
		big[i] = 'a';
	memcpy(big + i, "\"}", 3);
	post_expect(&u, NULL, big, 413, "payload_too_large", NULL);
	free(big);
	cr_assert_eq(itest_generation_count(&u), 0, "an error created a "
	    "generation");
	itest_user_free(&u);
}

Test(routes, create_and_read_back)
{
	struct itest_user u;
	struct api_req req = { 0 };
	struct api_res r;
	struct json_object *doc, *want;
	char id[40], loc[128];

	api_begin(false);
	itest_user_create(&u, "api-create");
	req.method = "POST";
	req.path = API_GEN_PATH;
	req.token = u.token;
	req.body = "{\"prompt\":\"a lighthouse\",\"numberOfImages\":2,"
	    "\"aspectRatio\":\"16:9\",\"seed\":7,\"negativePrompt\":\"fog\"}";
	req.content_type = "Application/JSON; charset=utf-8";
	api_send(&req, &r);
	cr_assert_eq(r.status, 202, "%ld %s", r.status, r.http.body);
	cr_assert_null(api_hdr(&r, "Idempotent-Replayed"));
	snprintf(id, sizeof id, "%s", itest_json_str(r.json, "generationId"));
	snprintf(loc, sizeof loc, API_QUEUE_PATH "/%s", id);
	cr_assert_str_eq(api_hdr(&r, "Location"), loc);
	want = itest_json("{\"numberOfImages\":2,\"aspectRatio\":\"16:9\","
	    "\"seed\":7,\"negativePrompt\":\"fog\"}");
	cr_assert(itest_json_equal(itest_json_get(r.json, "metadata"), want),
	    "metadata %s", itest_json_text(itest_json_get(r.json,
	    "metadata")));
	api_res_free(&r);
	doc = api_wait_terminal(u.token, id, "completed");
	cr_assert(itest_json_equal(itest_json_get(doc, "metadata"), want));
	cr_assert_str_eq(itest_json_str(doc, "prompt"), "a lighthouse");
	cr_assert_eq(json_object_array_length(itest_json_get(doc, "images")),
	    2);
	json_object_put(doc);
	json_object_put(want);
	itest_user_free(&u);
}
