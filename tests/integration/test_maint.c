/*
 * test_maint.c - `imggen-admin maintenance` rebuilds the jobs table's
 * indexes after a burst, and leaves small ones alone.
 *
 * The burst is 150,000 dead jobs of one generation of the test's own
 * user (dead: no worker claims them, and no other test's rows are
 * touched), deleted again, as completions delete finished jobs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "itest.h"

#define TEST_TIMEOUT_S	120

static const char *const maintenance[] = { "maintenance", NULL };

static long long
jobs_index_bytes(void)
{
	return itest_pg_int("SELECT pg_indexes_size('jobs'::regclass)", NULL);
}

Test(maintenance, rebuilds_bloated_jobs_indexes, .timeout = TEST_TIMEOUT_S)
{
	struct itest_user u;
	long long before, after, reported_before, reported_after, valid;
	char *gid, *out;
	const char *p;

	itest_require_stack();
	itest_user_create(&u, "maint");
	gid = itest_pg_text("INSERT INTO image_generations (user_id, prompt, "
	    "metadata, status, completed_at) VALUES ($1::uuid, 'burst', "
	    "'{\"numberOfImages\":1,\"aspectRatio\":\"1:1\"}', 'failed', now()) "
	    "RETURNING id::text", u.id, NULL);
	PQclear(itest_pg_query("INSERT INTO jobs (kind, generation_id, state) "
	    "SELECT 'generate', $1::uuid, 'dead' "
	    "FROM generate_series(1, 150000)", gid, NULL));
	PQclear(itest_pg_query("DELETE FROM jobs WHERE generation_id = $1::uuid",
	    gid, NULL));
	PQclear(itest_pg_query("VACUUM jobs", NULL));
	before = jobs_index_bytes();
	cr_assert_gt(before, 2LL * 1024 * 1024, "the burst left only %lld "
	    "bytes of index: the test does not bloat them", before);

	cr_assert_eq(setenv("IMGGEN_JOBS_REINDEX_MB", "1", 1), 0);
	out = itest_admin_read(maintenance);
	p = strstr(out, "rebuilt the jobs indexes: ");
	cr_assert(p != NULL && sscanf(p, "rebuilt the jobs indexes: %lld kB "
	    "-> %lld kB", &reported_before, &reported_after) == 2,
	    "maintenance did not rebuild %lld bytes of index:\n%s", before,
	    out);
	after = jobs_index_bytes();
	cr_assert_lt(after * 4, before, "indexes %lld -> %lld bytes", before,
	    after);
	cr_assert_lt(reported_after, reported_before, "reported %lld -> %lld kB",
	    reported_before, reported_after);
	/* The rebuilt set is complete and usable: four valid indexes. */
	valid = itest_pg_int("SELECT count(*) FROM pg_index WHERE indrelid = "
	    "'jobs'::regclass AND indisvalid AND indisready", NULL);
	cr_assert_eq(valid, 4, "%lld valid indexes on jobs after the rebuild",
	    valid);
	free(out);

	/* Small again: a second run has nothing to do. */
	out = itest_admin_read(maintenance);
	cr_assert(strstr(out, "no rebuild needed") != NULL, "second run:\n%s",
	    out);
	free(out);
	free(gid);
	itest_user_free(&u);
}

Test(maintenance, releases_idempotency_keys_after_24_hours,
    .timeout = TEST_TIMEOUT_S)
{
	struct itest_user u;
	char *old_id, *new_id, *out;
	long long old_keys, new_keys;

	itest_require_stack();
	itest_user_create(&u, "maintkey");
	old_id = itest_pg_text("INSERT INTO image_generations (user_id, prompt, "
	    "metadata, status, completed_at, idempotency_key, created_at) "
	    "VALUES ($1::uuid, 'old', '{\"numberOfImages\":1,\"aspectRatio\":"
	    "\"1:1\"}', 'completed', now(), 'k-old', now() - interval "
	    "'25 hours') RETURNING id::text", u.id, NULL);
	new_id = itest_pg_text("INSERT INTO image_generations (user_id, prompt, "
	    "metadata, status, completed_at, idempotency_key, created_at) "
	    "VALUES ($1::uuid, 'new', '{\"numberOfImages\":1,\"aspectRatio\":"
	    "\"1:1\"}', 'completed', now(), 'k-new', now() - interval "
	    "'23 hours') RETURNING id::text", u.id, NULL);

	out = itest_admin_read(maintenance);
	cr_assert(strstr(out, "released ") != NULL, "no release line:\n%s", out);
	old_keys = itest_pg_int("SELECT count(*) FROM image_generations WHERE "
	    "id = $1::uuid AND idempotency_key IS NOT NULL", old_id, NULL);
	new_keys = itest_pg_int("SELECT count(*) FROM image_generations WHERE "
	    "id = $1::uuid AND idempotency_key = 'k-new'", new_id, NULL);
	cr_assert_eq(old_keys, 0, "a 25-hour-old key was kept");
	cr_assert_eq(new_keys, 1, "a 23-hour-old key was released");
	free(out);
	free(old_id);
	free(new_id);
	itest_user_free(&u);
}

/*
 * A failed generation whose webhook delivery died: requeueing that
 * delivery must retry the delivery only, not put the generation back in
 * the queue (it has no generate job left to run it).
 */
Test(requeue, dead_webhook_delivery_keeps_its_generation,
    .timeout = TEST_TIMEOUT_S)
{
	struct itest_user u;
	char *gid, *jid, *out, *status, *state;
	const char *args[3] = { "requeue", NULL, NULL };

	itest_require_stack();
	itest_user_create(&u, "requeuehook");
	gid = itest_pg_text("INSERT INTO image_generations (user_id, prompt, "
	    "metadata, status, completed_at, error_code) VALUES ($1::uuid, "
	    "'hook', '{\"numberOfImages\":1,\"aspectRatio\":\"1:1\"}', "
	    "'failed', now(), 'provider_error') RETURNING id::text", u.id,
	    NULL);
	jid = itest_pg_text("INSERT INTO jobs (kind, generation_id, state, "
	    "run_at) VALUES ('webhook', $1::uuid, 'dead', now() + interval "
	    "'1 hour') RETURNING id::text", gid, NULL);

	args[1] = jid;
	out = itest_admin_read(args);
	cr_assert(strstr(out, "requeued 1 dead job(s)") != NULL, "%s", out);
	status = itest_pg_text("SELECT status FROM image_generations WHERE "
	    "id = $1::uuid", gid, NULL);
	cr_assert_str_eq(status, "failed", "requeueing a webhook delivery "
	    "made its generation %s", status);
	state = itest_pg_text("SELECT coalesce((SELECT state FROM jobs WHERE "
	    "id = $1::bigint), 'gone')", jid, NULL);
	cr_assert_neq(strcmp(state, "dead"), 0, "the delivery is still dead");
	free(out);
	free(status);
	free(state);
	free(jid);
	free(gid);
	itest_user_free(&u);
}
