/*
 * test_queue_batch.c - the worker's batched completion (queue_complete_batch)
 * against the stack's database: every job of a batch is fenced by its own
 * lease, exactly as a completion on its own would be.
 *
 * The jobs are made by SQL as if a worker of the test's own ("itest-batch")
 * had claimed them: running, leased for a minute, their generations
 * processing.  The stack's worker only claims queued jobs and rescues
 * expired leases, so it leaves them alone.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "db.h"
#include "itest.h"
#include "queue.h"

#define TEST_TIMEOUT_S	120
#define WORKER		"itest-batch:1:0:00000000"
#define SHA		"0123456789abcdef0123456789abcdef" \
			"0123456789abcdef0123456789abcdef"

/* A job as the worker holds it, plus what the completion will record. */
struct tjob {
	struct queue_job	 q;
	struct queue_upload	 up[4];
	char			 keys[4][160], urls[4][200];
	int			 nup;
};

/* A claimed job: generation processing, job running under WORKER. */
static void
tjob_make(struct tjob *t, const struct itest_user *u, const char *meta,
    int nup)
{
	PGresult	*r;
	char		 gid[40], key[160];
	int		 i;

	memset(t, 0, sizeof(*t));
	r = itest_pg_query("WITH g AS (INSERT INTO image_generations (user_id, "
	    "prompt, metadata, status, started_at, attempts) VALUES ($1::uuid, "
	    "'batch test', $2::jsonb, 'processing', now(), 1) RETURNING id), "
	    "j AS (INSERT INTO jobs (kind, generation_id, state, attempts, "
	    "locked_by, locked_until) SELECT 'generate', id, 'running', 1, $3, "
	    "now() + interval '1 minute' FROM g RETURNING id, generation_id), "
	    "p AS (UPDATE users SET pending = pending + 1 WHERE id = $1::uuid) "
	    "SELECT id, generation_id FROM j", u->id, meta, WORKER, NULL);
	cr_assert_eq(PQntuples(r), 1);
	t->q.id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	snprintf(gid, sizeof(gid), "%s", PQgetvalue(r, 0, 1));
	snprintf(t->q.generation_id, sizeof(t->q.generation_id), "%s", gid);
	PQclear(r);
	t->q.attempts = 1;
	t->q.max_attempts = 5;
	snprintf(t->q.kind, sizeof(t->q.kind), "generate");
	snprintf(t->q.user_id, sizeof(t->q.user_id), "%s", u->id);
	t->nup = nup;
	for (i = 0; i < nup; i++) {
		snprintf(key, sizeof(key), "generations/%s/%s/%d.png", u->id,
		    gid, i);
		snprintf(t->keys[i], sizeof(t->keys[i]), "%s", key);
		snprintf(t->urls[i], sizeof(t->urls[i]),
		    "https://files.invalid/%s", key);
		t->up[i].idx = i;
		t->up[i].storage_key = t->keys[i];
		t->up[i].public_url = t->urls[i];
		t->up[i].mime_type = "image/png";
		t->up[i].size = 100 + (size_t)i;
		t->up[i].width = 64;
		t->up[i].height = 32;
		memcpy(t->up[i].sha256, SHA, sizeof(t->up[i].sha256));
	}
}

static void
tjob_completion(const struct tjob *t, struct queue_completion *c)
{
	c->job = &t->q;
	c->up = t->up;
	c->nup = t->nup;
	c->ai_metadata_json = "{\"provider\":\"local\",\"requested\":4}";
	c->tokens_json = "{\"input\":1,\"output\":2,\"total\":3}";
}

static struct db *
test_db(void)
{
	struct db	*db;
	struct ig_err	 err = IG_ERR_INIT;

	db = db_new(itest_env("DATABASE_URL"), 5, "itest-batch");
	cr_assert(db != NULL);
	cr_assert_eq(db_ensure(db, &err), 0, "connect: %s", err.msg);
	return db;
}

static char *
gen_status(const struct tjob *t)
{
	return itest_pg_text("SELECT status FROM image_generations WHERE id = "
	    "$1::uuid", t->q.generation_id, NULL);
}

static long long
uploads_of(const struct tjob *t)
{
	return itest_pg_int("SELECT count(*) FROM uploads WHERE generation_id "
	    "= $1::uuid", t->q.generation_id, NULL);
}

static long long
jobs_of(const struct tjob *t, const char *kind)
{
	return itest_pg_int("SELECT count(*) FROM jobs WHERE generation_id = "
	    "$1::uuid AND kind = $2", t->q.generation_id, kind, NULL);
}

static void
assert_status(const struct tjob *t, const char *want)
{
	char	*s = gen_status(t);

	cr_assert(s != NULL && strcmp(s, want) == 0, "generation %s is %s, "
	    "not %s", t->q.generation_id, s ? s : "(null)", want);
	free(s);
}

/* Completed as the one-job statement completes: rows, ids, metadata. */
static void
assert_completed(const struct tjob *t)
{
	char	*ok;

	assert_status(t, "completed");
	cr_assert_eq(jobs_of(t, "generate"), 0, "the job row is still there");
	cr_assert_eq(uploads_of(t), t->nup);
	ok = itest_pg_text("SELECT (g.ai_metadata->'imageIds' = (SELECT "
	    "jsonb_agg(u.id ORDER BY u.idx) FROM uploads u WHERE "
	    "u.generation_id = g.id) AND g.ai_metadata->>'provider' = 'local' "
	    "AND g.tokens = '{\"input\":1,\"output\":2,\"total\":3}' AND "
	    "g.completed_at IS NOT NULL AND g.error_code IS NULL)::text "
	    "FROM image_generations g WHERE g.id = $1::uuid",
	    t->q.generation_id, NULL);
	cr_assert(ok != NULL && strcmp(ok, "true") == 0, "generation %s: "
	    "imageIds, ai_metadata or tokens not as recorded",
	    t->q.generation_id);
	free(ok);
}

/*
 * One batch of four: a normal job, one whose lease was taken over, one
 * whose generation was canceled, one with a webhook.  Only the first and
 * the last are completed; the others are left exactly as the one-job path
 * leaves them.
 */
Test(queue_batch, each_job_is_fenced_by_its_own_lease,
    .timeout = TEST_TIMEOUT_S)
{
	struct itest_user	 u;
	struct tjob		 t[4];
	struct queue_completion	 c[4];
	enum queue_outcome	 out[4];
	struct ig_err		 err = IG_ERR_INIT;
	struct db		*db;
	char			 meta[256], id[32];
	char			*s;
	int			 i;

	itest_require_stack();
	itest_user_create(&u, "qbatch");
	tjob_make(&t[0], &u, "{\"numberOfImages\":2}", 2);
	tjob_make(&t[1], &u, "{\"numberOfImages\":1}", 1);
	tjob_make(&t[2], &u, "{\"numberOfImages\":1}", 1);
	snprintf(meta, sizeof(meta), "{\"numberOfImages\":1,\"webhookUrl\":"
	    "\"https://hooks.invalid/%s\"}", u.id);
	tjob_make(&t[3], &u, meta, 1);
	cr_assert_eq(itest_pg_int("SELECT pending FROM users WHERE id = "
	    "$1::uuid", u.id, NULL), 4);

	/* Another worker took job 1 over; the client canceled job 2's. */
	snprintf(id, sizeof(id), "%lld", t[1].q.id);
	PQclear(itest_pg_query("UPDATE jobs SET locked_by = 'thief', attempts "
	    "= 2 WHERE id = $1::bigint", id, NULL));
	PQclear(itest_pg_query("UPDATE image_generations SET status = "
	    "'canceled', completed_at = now() WHERE id = $1::uuid",
	    t[2].q.generation_id, NULL));

	for (i = 0; i < 4; i++)
		tjob_completion(&t[i], &c[i]);
	db = test_db();
	cr_assert_eq(queue_complete_batch(db, WORKER, c, 4, out, &err), 0,
	    "batch: %s", err.msg);
	cr_assert_eq(out[0], QUEUE_COMPLETED);
	cr_assert_eq(out[1], QUEUE_LOST);
	cr_assert_eq(out[2], QUEUE_CANCELED);
	cr_assert_eq(out[3], QUEUE_COMPLETED);

	assert_completed(&t[0]);
	assert_completed(&t[3]);
	/* The stolen job: nothing written, the new owner's lease intact. */
	assert_status(&t[1], "processing");
	cr_assert_eq(uploads_of(&t[1]), 0);
	s = itest_pg_text("SELECT locked_by || ':' || attempts FROM jobs WHERE "
	    "generation_id = $1::uuid", t[1].q.generation_id, NULL);
	cr_assert(s != NULL && strcmp(s, "thief:2") == 0, "stolen job: %s",
	    s ? s : "gone");
	free(s);
	/* The canceled one: job dropped, nothing recorded. */
	assert_status(&t[2], "canceled");
	cr_assert_eq(uploads_of(&t[2]), 0);
	cr_assert_eq(jobs_of(&t[2], "generate"), 0);
	/* Status triggers: pending counts the stolen job's only; a webhook. */
	cr_assert_eq(itest_pg_int("SELECT pending FROM users WHERE id = "
	    "$1::uuid", u.id, NULL), 1);
	cr_assert_eq(jobs_of(&t[3], "webhook") + itest_pg_int("SELECT count(*) "
	    "FROM webhook_deliveries WHERE generation_id = $1::uuid AND outcome "
	    "= 'delivered'", t[3].q.generation_id, NULL), 1,
	    "no webhook job for the completed generation with a webhookUrl");
	cr_assert_eq(jobs_of(&t[0], "webhook"), 0);

	/* A second completion of a completed job finds no lease. */
	cr_assert_eq(queue_complete_batch(db, WORKER, c, 1, out, &err), 0);
	cr_assert_eq(out[0], QUEUE_LOST);
	cr_assert_eq(uploads_of(&t[0]), 2);
	db_free(db);
	itest_user_free(&u);
}

/* queue_complete is the batch of one, with the errors it always had. */
Test(queue_batch, batch_of_one_keeps_the_single_job_errors,
    .timeout = TEST_TIMEOUT_S)
{
	struct itest_user	 u;
	struct tjob		 t[3];
	struct ig_err		 err = IG_ERR_INIT;
	struct db		*db;
	char			 id[32];
	int			 i;

	itest_require_stack();
	itest_user_create(&u, "qbatch1");
	for (i = 0; i < 3; i++)
		tjob_make(&t[i], &u, "{\"numberOfImages\":1}", 1);
	snprintf(id, sizeof(id), "%lld", t[1].q.id);
	PQclear(itest_pg_query("UPDATE jobs SET locked_by = 'thief' WHERE id = "
	    "$1::bigint", id, NULL));
	PQclear(itest_pg_query("UPDATE image_generations SET status = "
	    "'canceled', completed_at = now() WHERE id = $1::uuid",
	    t[2].q.generation_id, NULL));
	db = test_db();

	cr_assert_eq(queue_complete(db, WORKER, &t[0].q, t[0].up, 1,
	    "{\"provider\":\"local\"}", "{\"input\":1,\"output\":2,\"total\":3}",
	    &err), 0, "complete: %s", err.msg);
	assert_completed(&t[0]);

	cr_assert_eq(queue_complete(db, WORKER, &t[1].q, t[1].up, 1, "{}",
	    "null", &err), -1);
	cr_assert_eq(err.code, IG_ECONFLICT);
	cr_assert_null(err.api_code);
	assert_status(&t[1], "processing");
	cr_assert_eq(uploads_of(&t[1]), 0);

	ig_err_clear(&err);
	cr_assert_eq(queue_complete(db, WORKER, &t[2].q, t[2].up, 1, "{}",
	    "null", &err), -1);
	cr_assert_eq(err.code, IG_ECONFLICT);
	cr_assert(err.api_code != NULL && strcmp(err.api_code, "canceled") == 0);
	assert_status(&t[2], "canceled");
	cr_assert_eq(uploads_of(&t[2]), 0);
	cr_assert_eq(jobs_of(&t[2], "generate"), 0);
	db_free(db);
	itest_user_free(&u);
}

#define ROUNDS	25

/*
 * Completes ROUNDS batches of two jobs, one of each user, in the given
 * order of the users; exits 0 when every job was completed.
 */
static int
complete_rounds(struct tjob (*t)[2], int first)
{
	struct queue_completion	 c[2];
	enum queue_outcome	 out[2];
	struct ig_err		 err = IG_ERR_INIT;
	struct db		*db;
	int			 r, bad = 0;

	db = db_new(getenv("DATABASE_URL"), 5, "itest-batch");
	if (db == NULL || db_ensure(db, &err) == -1)
		return 2;
	for (r = 0; r < ROUNDS && !bad; r++) {
		tjob_completion(&t[r][first], &c[0]);
		tjob_completion(&t[r][1 - first], &c[1]);
		if (queue_complete_batch(db, WORKER, c, 2, out, &err) == -1) {
			fprintf(stderr, "round %d: %s\n", r, err.msg);
			bad = 1;
		} else if (out[0] != QUEUE_COMPLETED ||
		    out[1] != QUEUE_COMPLETED)
			bad = 1;
	}
	db_free(db);
	return bad;
}

/*
 * Two children complete batches sharing the same two users at the same
 * time, naming them in opposite orders: the users' rows (the pending
 * counters) are locked in one order, so neither batch ever fails with a
 * deadlock.
 */
Test(queue_batch, concurrent_batches_sharing_users_do_not_deadlock,
    .timeout = TEST_TIMEOUT_S)
{
	static struct tjob	 a[ROUNDS][2], b[ROUNDS][2];
	struct itest_user	 u[2];
	pid_t			 pid[2];
	int			 r, k, st;

	itest_require_stack();
	itest_user_create(&u[0], "qbatchdl");
	itest_user_create(&u[1], "qbatchdl");
	for (r = 0; r < ROUNDS; r++)
		for (k = 0; k < 2; k++) {
			tjob_make(&a[r][k], &u[k], "{\"numberOfImages\":1}", 1);
			tjob_make(&b[r][k], &u[k], "{\"numberOfImages\":1}", 1);
		}
	for (k = 0; k < 2; k++) {
		pid[k] = fork();
		cr_assert_neq(pid[k], -1);
		if (pid[k] == 0)
			_exit(complete_rounds(k == 0 ? a : b, k));
	}
	for (k = 0; k < 2; k++) {
		cr_assert_eq(waitpid(pid[k], &st, 0), pid[k]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "child %d: a batch failed (see stderr)", k);
	}
	for (k = 0; k < 2; k++)
		cr_assert_eq(itest_pg_int("SELECT pending FROM users WHERE id = "
		    "$1::uuid", u[k].id, NULL), 0);
	itest_user_free(&u[0]);
	itest_user_free(&u[1]);
}

static bool
batch_waits_on_lock(void *arg)
{
	(void)arg;
	return itest_pg_int("SELECT count(*) FROM pg_stat_activity WHERE "
	    "application_name = 'itest-batch-order' AND wait_event_type = "
	    "'Lock'", NULL) == 1;
}

/* Completes the two jobs in one batch; exits 0 if both were completed. */
static int
complete_pair(const struct tjob *t)
{
	struct queue_completion	 c[2];
	enum queue_outcome	 out[2];
	struct ig_err		 err = IG_ERR_INIT;
	struct db		*db;
	int			 rc;

	db = db_new(getenv("DATABASE_URL"), 5, "itest-batch-order");
	if (db == NULL || db_ensure(db, &err) == -1)
		return 2;
	tjob_completion(&t[0], &c[0]);
	tjob_completion(&t[1], &c[1]);
	rc = queue_complete_batch(db, WORKER, c, 2, out, &err) == 0 &&
	    out[0] == QUEUE_COMPLETED && out[1] == QUEUE_COMPLETED ? 0 : 1;
	if (rc)
		fprintf(stderr, "batch: %s\n", err.msg);
	db_free(db);
	return rc;
}

/*
 * The mechanism behind the test above, made deterministic: while another
 * session holds the lower user id's row, a batch naming the higher one
 * first waits for the lower one without having locked the higher one (the
 * order of the ids, not of the batch or of the rows' updates).
 */
Test(queue_batch, users_are_locked_in_id_order, .timeout = TEST_TIMEOUT_S)
{
	struct itest_user	 u[2];
	struct tjob		 t[2];
	struct ig_err		 err = IG_ERR_INIT;
	struct db		*hold, *probe;
	const char		*lo, *hi;
	const char		*p[1];
	PGresult		*r;
	pid_t			 pid;
	int			 st;

	itest_require_stack();
	itest_user_create(&u[0], "qbatchord");
	itest_user_create(&u[1], "qbatchord");
	lo = strcmp(u[0].id, u[1].id) < 0 ? u[0].id : u[1].id;
	hi = lo == u[0].id ? u[1].id : u[0].id;
	tjob_make(&t[0], lo == u[0].id ? &u[1] : &u[0], "{}", 1);
	tjob_make(&t[1], lo == u[0].id ? &u[0] : &u[1], "{}", 1);

	hold = test_db();
	p[0] = lo;
	cr_assert_eq(db_command(hold, "BEGIN", &err), 0);
	r = db_exec(hold, "SELECT 1 FROM users WHERE id = $1::uuid FOR NO KEY "
	    "UPDATE", 1, p, &err);
	cr_assert(r != NULL, "%s", err.msg);
	PQclear(r);

	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(complete_pair(t));
	itest_wait_until(batch_waits_on_lock, NULL, 30000,
	    "the batch to wait for the held user row");

	probe = test_db();
	p[0] = hi;
	r = db_exec(probe, "SELECT 1 FROM users WHERE id = $1::uuid FOR NO KEY "
	    "UPDATE NOWAIT", 1, p, &err);
	cr_assert(r != NULL, "the waiting batch already holds the higher user "
	    "id's row: %s", err.msg);
	PQclear(r);
	db_free(probe);

	cr_assert_eq(db_command(hold, "COMMIT", &err), 0);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the batch failed");
	assert_completed(&t[0]);
	assert_completed(&t[1]);
	db_free(hold);
	itest_user_free(&u[0]);
	itest_user_free(&u[1]);
}

static bool
cancel_race_waits(void *arg)
{
	(void)arg;
	return itest_pg_int("SELECT count(*) FROM pg_stat_activity WHERE "
	    "application_name = 'itest-batch-race' AND wait_event_type = "
	    "'Lock'", NULL) == 1;
}

/* Exits with the outcome of completing t alone (9: the statement failed). */
static int
complete_racing(const struct tjob *t)
{
	struct queue_completion	 c;
	enum queue_outcome	 out;
	struct ig_err		 err = IG_ERR_INIT;
	struct db		*db;
	int			 rc = 9;

	db = db_new(getenv("DATABASE_URL"), 5, "itest-batch-race");
	if (db == NULL || db_ensure(db, &err) == -1)
		return rc;
	tjob_completion(t, &c);
	if (queue_complete_batch(db, WORKER, &c, 1, &out, &err) == 0)
		rc = (int)out;
	db_free(db);
	return rc;
}

/*
 * A cancel that commits while the completion waits for the generation's
 * row: the completion sees the canceled row and records nothing, rather
 * than turning the canceled generation into a completed one.
 */
Test(queue_batch, cancel_committed_meanwhile_wins, .timeout = TEST_TIMEOUT_S)
{
	struct itest_user	 u;
	struct tjob		 t;
	struct ig_err		 err = IG_ERR_INIT;
	struct db		*cancel;
	const char		*p[1];
	PGresult		*r;
	pid_t			 pid;
	int			 st;

	itest_require_stack();
	itest_user_create(&u, "qbatchrace");
	tjob_make(&t, &u, "{}", 1);
	cancel = test_db();
	p[0] = t.q.generation_id;
	cr_assert_eq(db_command(cancel, "BEGIN", &err), 0);
	r = db_exec(cancel, "UPDATE image_generations SET status = 'canceled', "
	    "completed_at = now() WHERE id = $1::uuid", 1, p, &err);
	cr_assert(r != NULL, "%s", err.msg);
	PQclear(r);

	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(complete_racing(&t));
	itest_wait_until(cancel_race_waits, NULL, 30000,
	    "the completion to wait for the generation's row");
	cr_assert_eq(db_command(cancel, "COMMIT", &err), 0);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == QUEUE_CANCELED,
	    "outcome %d, not canceled", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	assert_status(&t, "canceled");
	cr_assert_eq(uploads_of(&t), 0);
	cr_assert_eq(jobs_of(&t, "generate"), 0);
	db_free(cancel);
	itest_user_free(&u);
}
