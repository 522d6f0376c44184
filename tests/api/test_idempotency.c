/*
 * test_idempotency.c - Idempotency-Key on POST text-to-image: a replay
 * answers the original generation (Idempotent-Replayed: true) without a
 * second row or job; another request under the key is 422
 * idempotency_mismatch; keys are per user; malformed keys are 400; and 50
 * simultaneous requests with one key make exactly one generation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "apitest.h"

TestSuite(idempotency, .timeout = API_TEST_TIMEOUT_S);

static void
post_keyed(const char *token, const char *body, const char *key,
    struct api_res *r)
{
	struct api_req req = { 0 };

	req.method = "POST";
	req.path = API_GEN_PATH;
	req.token = token;
	req.body = body;
	req.idempotency_key = key;
	api_send(&req, r);
}

static long long
rows_with_key(const struct itest_user *u, const char *key)
{
	return itest_pg_int("SELECT count(*) FROM image_generations WHERE "
	    "user_id = $1::uuid AND idempotency_key = $2", u->id, key, NULL);
}

static long long
generate_jobs(const struct itest_user *u)
{
	/* Jobs still present (finished ones are deleted) plus finished. */
	return itest_pg_int("SELECT count(*) FROM jobs j JOIN "
	    "image_generations g ON g.id = j.generation_id WHERE g.user_id = "
	    "$1::uuid AND j.kind = 'generate'", u->id, NULL);
}

/* A 202 replay of ORIGINAL: same body, Location, and the header. */
static void
expect_replay(const struct api_res *r, const struct api_res *original)
{
	cr_assert_eq(r->status, 202, "replay: %ld %s", r->status,
	    r->http.body);
	cr_assert_str_eq(api_hdr(r, "Idempotent-Replayed") ?
	    api_hdr(r, "Idempotent-Replayed") : "(none)", "true");
	cr_assert_str_eq(api_hdr(r, "Location"), api_hdr(original,
	    "Location"));
	cr_assert(itest_json_equal(r->json, original->json), "replay %s, "
	    "original %s", r->http.body, original->http.body);
}

Test(idempotency, replay_returns_the_original)
{
	static const char body[] = "{\"prompt\":\"same\",\"numberOfImages\":2}";
	struct itest_user u;
	struct api_res first, r;
	struct json_object *doc;
	char id[40];

	api_begin(false);
	itest_user_create(&u, "api-idem");
	post_keyed(u.token, body, "order-4711", &first);
	cr_assert_eq(first.status, 202);
	cr_assert_null(api_hdr(&first, "Idempotent-Replayed"),
	    "a first request marked as a replay");
	snprintf(id, sizeof id, "%s", itest_json_str(first.json,
	    "generationId"));

	post_keyed(u.token, body, "order-4711", &r);
	expect_replay(&r, &first);
	api_res_free(&r);
	/* The same request spelled differently is the same request. */
	post_keyed(u.token, "{ \"numberOfImages\" : 2, \"aspectRatio\":\"1:1\","
	    "\"prompt\":\"same\" }", "order-4711", &r);
	expect_replay(&r, &first);
	api_res_free(&r);
	/* The structured-field form "key" is the same key. */
	post_keyed(u.token, body, "\"order-4711\"", &r);
	expect_replay(&r, &first);
	api_res_free(&r);
	cr_assert_eq(itest_generation_count(&u), 1);
	cr_assert_eq(rows_with_key(&u, "order-4711"), 1);
	cr_assert(generate_jobs(&u) <= 1);

	/* After completion, still the original answer, still one row. */
	doc = api_wait_terminal(u.token, id, "completed");
	json_object_put(doc);
	post_keyed(u.token, body, "order-4711", &r);
	expect_replay(&r, &first);
	cr_assert_str_eq(itest_json_str(r.json, "status"), "queued",
	    "a replay repeats the original answer");
	api_res_free(&r);
	cr_assert_eq(itest_generation_count(&u), 1);
	cr_assert_eq(generate_jobs(&u), 0, "a replay queued a job");
	api_res_free(&first);
	itest_user_free(&u);
}

Test(idempotency, mismatch_is_422)
{
	struct itest_user u;
	struct api_res first, r;
	static const char *const others[] = {
		"{\"prompt\":\"other\"}",
		"{\"prompt\":\"orig\",\"numberOfImages\":2}",
		"{\"prompt\":\"orig\",\"aspectRatio\":\"16:9\"}",
		"{\"prompt\":\"orig\",\"seed\":1}",
		"{\"prompt\":\"orig \"}",
	};

	api_begin(false);
	itest_user_create(&u, "api-mismatch");
	post_keyed(u.token, "{\"prompt\":\"orig\"}", "k-1", &first);
	cr_assert_eq(first.status, 202);
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		post_keyed(u.token, others[i], "k-1", &r);
		api_expect_error(&r, 422, "idempotency_mismatch", NULL);
		api_res_free(&r);
	}
	cr_assert_eq(itest_generation_count(&u), 1);
	/* The key still replays its own request. */
	post_keyed(u.token, "{\"prompt\":\"orig\"}", "k-1", &r);
	expect_replay(&r, &first);
	api_res_free(&r);
	/* Without a key, or with another one, a new generation each. */
	post_keyed(u.token, "{\"prompt\":\"orig\"}", NULL, &r);
	cr_assert_eq(r.status, 202);
	cr_assert_null(api_hdr(&r, "Idempotent-Replayed"));
	api_res_free(&r);
	post_keyed(u.token, "{\"prompt\":\"orig\"}", "k-2", &r);
	cr_assert_eq(r.status, 202);
	cr_assert_null(api_hdr(&r, "Idempotent-Replayed"));
	api_res_free(&r);
	cr_assert_eq(itest_generation_count(&u), 3);
	api_res_free(&first);
	itest_user_free(&u);
}

Test(idempotency, keys_are_per_user)
{
	struct itest_user a, b;
	struct api_res ra, rb;

	api_begin(false);
	itest_user_create(&a, "api-key-a");
	itest_user_create(&b, "api-key-b");
	post_keyed(a.token, "{\"prompt\":\"shared key\"}", "shared", &ra);
	post_keyed(b.token, "{\"prompt\":\"shared key\"}", "shared", &rb);
	cr_assert_eq(ra.status, 202);
	cr_assert_eq(rb.status, 202);
	cr_assert_null(api_hdr(&rb, "Idempotent-Replayed"),
	    "another user's key was replayed");
	cr_assert_str_neq(itest_json_str(ra.json, "generationId"),
	    itest_json_str(rb.json, "generationId"));
	api_res_free(&rb);
	/* Even with another body: no mismatch across users. */
	post_keyed(b.token, "{\"prompt\":\"b's own\"}", "shared-2", &rb);
	cr_assert_eq(rb.status, 202);
	api_res_free(&rb);
	post_keyed(a.token, "{\"prompt\":\"a's own\"}", "shared-2", &rb);
	cr_assert_eq(rb.status, 202);
	cr_assert_null(api_hdr(&rb, "Idempotent-Replayed"));
	api_res_free(&rb);
	api_res_free(&ra);
	cr_assert_eq(itest_generation_count(&a), 2);
	cr_assert_eq(itest_generation_count(&b), 2);
	itest_user_free(&a);
	itest_user_free(&b);
}

Test(idempotency, malformed_keys_are_400)
{
	char long_key[300], max_key[256];
	const char *bad[] = {
		"",			/* empty */
		"\"\"",			/* empty, quoted */
		long_key,		/* 256 characters */
		"a b",			/* space */
		"a\tb",			/* control character */
		"a\x01z",
		"a\x7fz",
		"caf\xc3\xa9",		/* non-ASCII */
		"a\"b",			/* a quote inside */
	};
	struct itest_user u;
	struct api_res r;
	struct api_req req = { 0 };

	api_begin(false);
	itest_user_create(&u, "api-badkey");
	memset(long_key, 'k', 256);
	long_key[256] = '\0';
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		post_keyed(u.token, "{\"prompt\":\"x\"}", bad[i], &r);
		api_expect_error(&r, 400, "validation_error",
		    "Idempotency-Key");
		api_res_free(&r);
	}
	/* The key is checked before the body: a bad key wins over a 415. */
	req.method = "POST";
	req.path = API_GEN_PATH;
	req.token = u.token;
	req.body = "{";
	req.content_type = "";
	req.idempotency_key = "a b";
	api_send(&req, &r);
	api_expect_error(&r, 400, "validation_error", "Idempotency-Key");
	api_res_free(&r);
	cr_assert_eq(itest_generation_count(&u), 0);
	/* 255 visible characters are fine. */
	memset(max_key, '~', 255);
	max_key[255] = '\0';
	post_keyed(u.token, "{\"prompt\":\"x\"}", max_key, &r);
	cr_assert_eq(r.status, 202, "%ld %s", r.status, r.http.body);
	api_res_free(&r);
	cr_assert_eq(rows_with_key(&u, max_key), 1);
	itest_user_free(&u);
}

#define N_DUP	50

Test(idempotency, fifty_simultaneous_duplicates_make_one)
{
	struct api_req reqs[N_DUP];
	struct api_res res[N_DUP];
	struct itest_user u;
	const char *id0 = NULL;
	size_t fresh = 0, i;

	api_begin(false);
	itest_user_create(&u, "api-dup50");
	memset(reqs, 0, sizeof reqs);
	for (i = 0; i < N_DUP; i++) {
		reqs[i].method = "POST";
		reqs[i].path = API_GEN_PATH;
		reqs[i].token = u.token;
		reqs[i].body = "{\"prompt\":\"fifty at once\","
		    "\"numberOfImages\":1}";
		reqs[i].idempotency_key = "the-one-key";
	}
	api_parallel(reqs, N_DUP, res);
	for (i = 0; i < N_DUP; i++) {
		const char *id;

		cr_assert_eq(res[i].status, 202, "request %zu: %ld %s", i,
		    res[i].status, res[i].http.body);
		id = itest_json_str(res[i].json, "generationId");
		if (id0 == NULL)
			id0 = id;
		cr_assert_str_eq(id, id0, "two generation ids for one key");
		if (api_hdr(&res[i], "Idempotent-Replayed") == NULL)
			fresh++;
	}
	cr_assert_eq(fresh, 1, "%zu answers were not marked as replays; "
	    "exactly one request creates the generation", fresh);
	cr_assert_eq(itest_generation_count(&u), 1);
	cr_assert_eq(rows_with_key(&u, "the-one-key"), 1);
	cr_assert(generate_jobs(&u) <= 1);
	json_object_put(api_wait_terminal(u.token, id0, "completed"));
	for (i = 0; i < N_DUP; i++)
		api_res_free(&res[i]);
	itest_user_free(&u);
}

Test(idempotency, simultaneous_different_bodies_one_key)
{
	struct api_req reqs[20];
	struct api_res res[20];
	struct itest_user u;
	const char *winner = NULL, *id0 = NULL;
	size_t ok = 0, mismatched = 0, i;

	api_begin(false);
	itest_user_create(&u, "api-dupmix");
	memset(reqs, 0, sizeof reqs);
	for (i = 0; i < 20; i++) {
		reqs[i].method = "POST";
		reqs[i].path = API_GEN_PATH;
		reqs[i].token = u.token;
		reqs[i].body = i % 2 ? "{\"prompt\":\"odd\"}" :
		    "{\"prompt\":\"even\"}";
		reqs[i].idempotency_key = "mixed";
	}
	api_parallel(reqs, 20, res);
	cr_assert_eq(itest_generation_count(&u), 1);
	for (i = 0; i < 20; i++) {
		if (res[i].status == 202) {
			if (id0 == NULL) {
				id0 = itest_json_str(res[i].json,
				    "generationId");
				winner = reqs[i].body;
			}
			cr_assert_str_eq(itest_json_str(res[i].json,
			    "generationId"), id0);
			cr_assert_str_eq(reqs[i].body, winner, "a 202 for the "
			    "other body");
			ok++;
		} else {
			api_expect_error(&res[i], 422, "idempotency_mismatch",
			    NULL);
			mismatched++;
		}
	}
	cr_assert_eq(ok, 10, "%zu accepted, %zu mismatched", ok, mismatched);
	cr_assert_eq(mismatched, 10);
	for (i = 0; i < 20; i++)
		api_res_free(&res[i]);
	itest_user_free(&u);
}

Test(idempotency, a_key_lives_24_hours)
{
	struct itest_user u;
	struct api_res first, r;
	char old_id[40];

	api_begin(false);
	itest_user_create(&u, "api-key24");
	post_keyed(u.token, "{\"prompt\":\"yesterday\"}", "daily-report", &first);
	cr_assert_eq(first.status, 202);
	snprintf(old_id, sizeof old_id, "%s", itest_json_str(first.json,
	    "generationId"));
	json_object_put(api_wait_terminal(u.token, old_id, "completed"));
	/* 23 hours later the key still replays (createdAt moved too)... */
	PQclear(itest_pg_query("UPDATE image_generations SET created_at = "
	    "created_at - interval '23 hours' WHERE id = $1::uuid", old_id,
	    NULL));
	post_keyed(u.token, "{\"prompt\":\"yesterday\"}", "daily-report", &r);
	cr_assert_eq(r.status, 202);
	cr_assert_not_null(api_hdr(&r, "Idempotent-Replayed"));
	cr_assert_str_eq(itest_json_str(r.json, "generationId"), old_id);
	api_res_free(&r);
	/* ...after 24 hours it is free: a new generation, even with a new
	 * body, and the old one keeps existing without its key. */
	PQclear(itest_pg_query("UPDATE image_generations SET created_at = "
	    "created_at - interval '90 minutes' WHERE id = $1::uuid", old_id,
	    NULL));
	post_keyed(u.token, "{\"prompt\":\"today\"}", "daily-report", &r);
	cr_assert_eq(r.status, 202, "%ld %s", r.status, r.http.body);
	cr_assert_null(api_hdr(&r, "Idempotent-Replayed"));
	cr_assert_str_neq(itest_json_str(r.json, "generationId"), old_id);
	api_res_free(&r);
	cr_assert_eq(itest_generation_count(&u), 2);
	cr_assert_eq(rows_with_key(&u, "daily-report"), 1);
	api_res_free(&first);
	itest_user_free(&u);
}

/*
 * The request that takes a user's last pending slot (or the rest of the
 * daily quota) and concurrent duplicates with the same key: a duplicate
 * waits on the user row, then finds the limit reached -- and must still
 * replay the generation its key made, not answer 429.  It did answer 429
 * in about one run of two until store_create_generation() learned to look
 * the key up again before reporting a limit.
 */
Test(idempotency, duplicates_at_the_last_slot_replay)
{
	struct api_req reqs[20];
	struct api_res res[20];
	struct itest_user u;
	struct api_pause p;
	size_t i;

	api_begin(true);
	itest_user_create(&u, "api-lastslot");
	api_user_limits(&u, 1, 1000);
	api_worker_pause(&p);
	memset(reqs, 0, sizeof reqs);
	for (i = 0; i < 20; i++) {
		reqs[i].method = "POST";
		reqs[i].path = API_GEN_PATH;
		reqs[i].token = u.token;
		reqs[i].body = "{\"prompt\":\"last slot\"}";
		reqs[i].idempotency_key = "last-slot";
	}
	api_parallel(reqs, 20, res);
	api_worker_resume(&p);
	cr_assert_eq(itest_generation_count(&u), 1);
	for (i = 0; i < 20; i++) {
		cr_expect_eq(res[i].status, 202, "duplicate %zu: %ld %s", i,
		    res[i].status, res[i].http.body);
		api_res_free(&res[i]);
	}
	itest_user_free(&u);
}
