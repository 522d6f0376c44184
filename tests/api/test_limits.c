/*
 * test_limits.c - per-user limits taken in the enqueue statement: a user
 * at the pending limit racing 20 POSTs gets exactly the allowed number
 * accepted (429 rate_limited for the rest), and the daily image quota
 * likewise (429 quota_exceeded, Retry-After until the next UTC midnight).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "apitest.h"

#define N_RACE	20

TestSuite(limits, .timeout = API_TEST_TIMEOUT_S);

static long long
user_col(const struct itest_user *u, const char *sql)
{
	return itest_pg_int(sql, u->id, NULL);
}

static long
retry_after(const struct api_res *r)
{
	const char *v = api_hdr(r, "Retry-After");

	cr_assert_not_null(v, "429 without Retry-After");
	return strtol(v, NULL, 10);
}

Test(limits, pending_limit_race)
{
	struct api_req reqs[N_RACE];
	struct api_res res[N_RACE];
	char keys[N_RACE][16], ids[N_RACE][40], g[40];
	struct itest_user u;
	struct api_pause p;
	struct api_res r;
	size_t ok = 0, limited = 0, i, accepted = N_RACE;

	api_begin(true);
	itest_user_create(&u, "api-pending");
	api_user_limits(&u, 3, 1000);
	/* Nothing may leave the pending states during the race. */
	api_worker_pause(&p);
	memset(reqs, 0, sizeof reqs);
	for (i = 0; i < N_RACE; i++) {
		snprintf(keys[i], sizeof keys[i], "race-%zu", i);
		reqs[i].method = "POST";
		reqs[i].path = API_GEN_PATH;
		reqs[i].token = u.token;
		reqs[i].body = "{\"prompt\":\"race\"}";
		reqs[i].idempotency_key = keys[i];
	}
	api_parallel(reqs, N_RACE, res);
	for (i = 0; i < N_RACE; i++) {
		if (res[i].status == 202) {
			snprintf(ids[ok++], sizeof ids[0], "%s",
			    itest_json_str(res[i].json, "generationId"));
			accepted = i;
		} else {
			api_expect_error(&res[i], 429, "rate_limited", NULL);
			cr_assert_eq(retry_after(&res[i]), 5);
			limited++;
		}
	}
	cr_assert_eq(ok, 3, "%zu accepted with max_pending 3", ok);
	cr_assert_eq(limited, N_RACE - 3);
	cr_assert_eq(itest_generation_count(&u), 3);
	cr_assert_eq(user_col(&u, "SELECT pending FROM users WHERE id = "
	    "$1::uuid"), 3);
	for (i = 0; i < N_RACE; i++)
		api_res_free(&res[i]);

	/* A replay is not a new generation: answered even at the limit. */
	{
		struct api_req again = reqs[accepted];

		api_send(&again, &r);
		cr_assert_eq(r.status, 202, "replay at the limit: %ld %s",
		    r.status, r.http.body);
		cr_assert_not_null(api_hdr(&r, "Idempotent-Replayed"));
		api_res_free(&r);
	}
	api_do(&r, "POST", API_GEN_PATH, u.token, "{\"prompt\":\"one more\"}");
	api_expect_error(&r, 429, "rate_limited", NULL);
	api_res_free(&r);

	/* Canceling one frees its slot for exactly one more. */
	{
		char path[128];

		snprintf(path, sizeof path, API_QUEUE_PATH "/%s/cancel",
		    ids[0]);
		api_do(&r, "POST", path, u.token, NULL);
		cr_assert_eq(r.status, 200);
		api_res_free(&r);
	}
	api_create(u.token, "{\"prompt\":\"freed slot\"}", NULL, g);
	api_do(&r, "POST", API_GEN_PATH, u.token, "{\"prompt\":\"no slot\"}");
	api_expect_error(&r, 429, "rate_limited", NULL);
	api_res_free(&r);
	cr_assert_eq(itest_generation_count(&u), 4);

	/* Finishing releases the slots too. */
	api_worker_resume(&p);
	json_object_put(api_wait_terminal(u.token, g, "completed"));
	json_object_put(api_wait_terminal(u.token, ids[1], "completed"));
	json_object_put(api_wait_terminal(u.token, ids[2], "completed"));
	cr_assert_eq(user_col(&u, "SELECT pending FROM users WHERE id = "
	    "$1::uuid"), 0);
	api_create(u.token, "{\"prompt\":\"after\"}", NULL, g);
	itest_user_free(&u);
}

/* Seconds from T to the next UTC midnight. */
static long
until_utc_midnight(time_t t)
{
	return 86400L - (long)(t % 86400);
}

/*
 * The daily quota starts again at UTC midnight: a test that would run
 * across one waits for it first (its counts would change halfway).
 */
static void
not_across_utc_midnight(long seconds_needed)
{
	long left = until_utc_midnight(time(NULL));

	if (left > seconds_needed)
		return;
	fprintf(stderr, "limits: waiting %ld s for UTC midnight to pass\n",
	    left + 2);
	sleep((unsigned int)left + 2);
}

Test(limits, daily_quota_race)
{
	struct api_req reqs[N_RACE];
	struct api_res res[N_RACE];
	struct itest_user u;
	struct api_res r;
	size_t ok = 0, over = 0, i;
	time_t t0, t1;
	char g[40];

	api_begin(false);
	not_across_utc_midnight(300);
	itest_user_create(&u, "api-quota");
	api_user_limits(&u, 100, 5);
	memset(reqs, 0, sizeof reqs);
	for (i = 0; i < N_RACE; i++) {
		reqs[i].method = "POST";
		reqs[i].path = API_GEN_PATH;
		reqs[i].token = u.token;
		reqs[i].body = "{\"prompt\":\"quota\",\"numberOfImages\":2}";
	}
	t0 = time(NULL);
	api_parallel(reqs, N_RACE, res);
	t1 = time(NULL);
	for (i = 0; i < N_RACE; i++) {
		if (res[i].status == 202) {
			ok++;
			continue;
		}
		api_expect_error(&res[i], 429, "quota_exceeded", NULL);
		{
			/* Said between t0 and t1, rounded either way. */
			long ra = retry_after(&res[i]),
			    hi = until_utc_midnight(t0) + 1,
			    lo = until_utc_midnight(t1) - 1;

			cr_assert(ra > 0 && ra <= 86400 && ra >= lo && ra <= hi,
			    "Retry-After %ld, UTC midnight %ld to %ld s away",
			    ra, lo, hi);
		}
		over++;
	}
	cr_assert_eq(ok, 2, "%zu accepted: 2 x 2 images fit a quota of 5", ok);
	cr_assert_eq(over, N_RACE - 2);
	cr_assert_eq(itest_generation_count(&u), 2);
	cr_assert_eq(user_col(&u, "SELECT images_today FROM users WHERE id = "
	    "$1::uuid"), 4);
	for (i = 0; i < N_RACE; i++)
		api_res_free(&res[i]);

	/* One image still fits, then nothing does; refusals cost nothing. */
	api_do(&r, "POST", API_GEN_PATH, u.token,
	    "{\"prompt\":\"too many\",\"numberOfImages\":2}");
	api_expect_error(&r, 429, "quota_exceeded", NULL);
	api_res_free(&r);
	api_create(u.token, "{\"prompt\":\"the fifth\"}", NULL, g);
	api_do(&r, "POST", API_GEN_PATH, u.token, "{\"prompt\":\"sixth\"}");
	api_expect_error(&r, 429, "quota_exceeded", NULL);
	api_res_free(&r);
	cr_assert_eq(user_col(&u, "SELECT images_today FROM users WHERE id = "
	    "$1::uuid"), 5);
	cr_assert_eq(itest_generation_count(&u), 3);
	itest_user_free(&u);
}

Test(limits, one_request_over_the_quota)
{
	struct itest_user u;
	struct api_res r;

	api_begin(false);
	itest_user_create(&u, "api-quota-one");
	api_user_limits(&u, 100, 3);
	api_do(&r, "POST", API_GEN_PATH, u.token,
	    "{\"prompt\":\"four\",\"numberOfImages\":4}");
	api_expect_error(&r, 429, "quota_exceeded", NULL);
	cr_assert(retry_after(&r) > 0);
	api_res_free(&r);
	cr_assert_eq(itest_generation_count(&u), 0);
	cr_assert_eq(user_col(&u, "SELECT images_today FROM users WHERE id = "
	    "$1::uuid"), 0);
	itest_user_free(&u);
}
