#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "doc_sql.h"

/* Appends a PostgreSQL array literal element, quoted and escaped. */
static void
queue_array_add(struct buf *b, const char *s)
{
	buf_addc(b, b->len == 0 ? '{' : ',');
	buf_addc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_addc(b, '\\');
		buf_addc(b, *s);
	}
	buf_addc(b, '"');
}

static void
queue_array_addl(struct buf *b, long long v)
{
	char	 num[32];

	snprintf(num, sizeof(num), "%lld", v);
	queue_array_add(b, num);
}

static void
queue_array_end(struct buf *b)
{
	if (b->len == 0)
		buf_addc(b, '{');
	buf_addc(b, '}');
}

static void
queue_lease_params(const struct queue_job *job, const char *worker_id,
    char id[32], char attempts[16], const char **params)
{
	snprintf(id, 32, "%lld", job->id);
	snprintf(attempts, 16, "%d", job->attempts);
	params[0] = id;
	params[1] = attempts;
	params[2] = worker_id;
}

void
queue_job_release(struct queue_job *job)
{
	free(job->prompt);
	free(job->metadata);
	job->prompt = job->metadata = NULL;
}

void
queue_jobs_free(struct queue_job *jobs, int n)
{
	int	 i;

	if (jobs == NULL)
		return;
	for (i = 0; i < n; i++)
		queue_job_release(&jobs[i]);
	free(jobs);
}

int
queue_claim(struct db *db, const char *worker_id, long lease_seconds, int max,
    struct queue_job **jobsp, int *njobs, struct ig_err *err)
{
	static const char sql[] =
	    "WITH c AS (UPDATE jobs j SET state = 'running', "
	    "    attempts = j.attempts + 1, locked_by = $1, "
	    "    locked_until = now() + $2::int * interval '1 second' "
	    "  FROM (SELECT id FROM jobs WHERE state = 'queued' "
	    "    AND run_at <= now() ORDER BY priority, run_at, id "
	    "    FOR UPDATE SKIP LOCKED LIMIT $3::int) s "
	    "  WHERE j.id = s.id "
	    "  RETURNING j.id, j.kind, j.generation_id, j.attempts, j.max_attempts), "
	    "g AS (UPDATE image_generations ig SET status = 'processing', "
	    "    started_at = coalesce(ig.started_at, now()), attempts = c.attempts "
	    "  FROM c WHERE ig.id = c.generation_id AND c.kind = 'generate' "
	    "    AND ig.status IN ('queued', 'processing') "
	    "  RETURNING ig.id, ig.user_id, ig.prompt, ig.metadata) "
	    "SELECT c.id, c.kind, c.generation_id, c.attempts, c.max_attempts, "
	    "  g.user_id, g.prompt, g.metadata::text, "
	    "  g.id IS NULL AND c.kind = 'generate' "
	    "FROM c LEFT JOIN g ON g.id = c.generation_id ORDER BY c.id";
	char		 lease[24], lim[16];
	const char	*params[3] = { worker_id, lease, lim };
	PGresult	*res;
	struct queue_job *jobs = NULL;
	int		 i, n;

	*jobsp = NULL;
	*njobs = 0;
	snprintf(lease, sizeof(lease), "%ld", lease_seconds);
	snprintf(lim, sizeof(lim), "%d", max);
	if ((res = db_exec(db, sql, 3, params, err)) == NULL)
		return -1;
	if ((n = PQntuples(res)) == 0) {
		PQclear(res);
		return 0;
	}
	if ((jobs = calloc((size_t)n, sizeof(*jobs))) == NULL) {
		PQclear(res);
		/* The leases expire and the rescue hands the jobs back. */
		return ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
	}
	for (i = 0; i < n; i++) {
		struct queue_job *j = &jobs[i];

		j->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		snprintf(j->kind, sizeof(j->kind), "%s", PQgetvalue(res, i, 1));
		snprintf(j->generation_id, sizeof(j->generation_id), "%s",
		    PQgetvalue(res, i, 2));
		j->attempts = atoi(PQgetvalue(res, i, 3));
		j->max_attempts = atoi(PQgetvalue(res, i, 4));
		j->orphan = PQgetvalue(res, i, 8)[0] == 't';
		if (j->orphan || strcmp(j->kind, "generate") != 0)
			continue;
		snprintf(j->user_id, sizeof(j->user_id), "%s",
		    PQgetvalue(res, i, 5));
		j->prompt = strdup(PQgetvalue(res, i, 6));
		j->metadata = strdup(PQgetvalue(res, i, 7));
		if (j->prompt == NULL || j->metadata == NULL) {
			PQclear(res);
			queue_jobs_free(jobs, n);
			return ig_err_set(err, IG_ENOMEM, NULL,
			    "out of memory");
		}
	}
	PQclear(res);
	*jobsp = jobs;
	*njobs = n;
	return 0;
}

int
queue_heartbeat(struct db *db, const char *worker_id, long lease_seconds,
    const struct queue_job *const *jobs, int n, int *held, struct ig_err *err)
{
	static const char sql[] =
	    "WITH h AS (UPDATE jobs SET locked_until = now() + $2::int * "
	    "    interval '1 second' "
	    "  WHERE state = 'running' AND locked_by = $1 AND (id, attempts) IN "
	    "    (SELECT * FROM unnest($3::bigint[], $4::int[])) "
	    "  RETURNING id, generation_id) "
	    "SELECT h.id, g.status = 'canceled' FROM h "
	    "LEFT JOIN image_generations g ON g.id = h.generation_id";
	struct buf	 ids = BUF_INIT(1024 * 1024), att = BUF_INIT(1024 * 1024);
	char		 lease[24];
	const char	*params[4];
	PGresult	*res = NULL;
	int		 i, k, rc = -1;
	long long	 id;

	for (i = 0; i < n; i++) {
		held[i] = 0;
		queue_array_addl(&ids, jobs[i]->id);
		queue_array_addl(&att, jobs[i]->attempts);
	}
	queue_array_end(&ids);
	queue_array_end(&att);
	if (!buf_ok(&ids) || !buf_ok(&att)) {
		ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
		goto out;
	}
	snprintf(lease, sizeof(lease), "%ld", lease_seconds);
	params[0] = worker_id;
	params[1] = lease;
	params[2] = buf_cstr(&ids);
	params[3] = buf_cstr(&att);
	if ((res = db_exec(db, sql, 4, params, err)) == NULL)
		goto out;
	for (k = 0; k < PQntuples(res); k++) {
		id = strtoll(PQgetvalue(res, k, 0), NULL, 10);
		for (i = 0; i < n; i++)
			if (jobs[i]->id == id)
				held[i] = PQgetvalue(res, k, 1)[0] == 't' ? 2 : 1;
	}
	rc = 0;
out:
	PQclear(res);
	buf_free(&ids);
	buf_free(&att);
	return rc;
}

/*
 * The batched completion.  Per job it does what the one-job statement did
 * (the fenced DELETE of the job, the uploads rows, the generation completed
 * with ai_metadata and its imageIds, the status triggers); the arrays carry
 * every job's values, and the uploads name their job by id.
 *
 * Locks are taken in one order, so that two children's batches (and the
 * single-row statements of cancel, fail and enqueue) cannot deadlock: the
 * jobs (j), then their generations (gen, FOR NO KEY UPDATE, before any user
 * row), then the users sorted by id (lk).  Without lk the pending-count
 * trigger would lock the users at the end of the statement in whatever
 * order the rows were updated, and two batches sharing two users could
 * each wait for the other.  lk reads the whole of gen (the ARRAY() is
 * computed before its first row), and the main SELECT reads lk, so it runs
 * after every generation lock and before the triggers.
 * gen's row lock also re-reads a generation that a concurrent cancel just
 * committed, so a canceled generation is never turned into a completed one.
 *
 * Cost stays linear in the batch: "id = ANY" lets the job DELETE use the
 * primary key, and the imageIds are grouped once (ids, materialized) rather
 * than looked up in up per generation (64 jobs: 45 → 11–28 ms to execute).
 */
static const char queue_complete_sql[] =
    "WITH b AS (SELECT * FROM unnest($2::bigint[], $3::int[], $4::text[], "
    "    $5::text[]) WITH ORDINALITY AS b(id, attempts, ai, tokens, n)), "
    "j AS (DELETE FROM jobs USING b WHERE jobs.id = ANY ($2::bigint[]) "
    "    AND jobs.id = b.id AND jobs.attempts = b.attempts "
    "    AND jobs.locked_by = $1 AND jobs.state = 'running' "
    "  RETURNING jobs.id, jobs.generation_id), "
    "gen AS MATERIALIZED (SELECT g.id, g.user_id, j.id AS job_id "
    "  FROM j JOIN image_generations g ON g.id = j.generation_id "
    "  WHERE g.status = 'processing' FOR NO KEY UPDATE OF g), "
    "lk AS MATERIALIZED (SELECT u.id FROM users u "
    "  WHERE u.id = ANY (ARRAY(SELECT gen.user_id FROM gen)) "
    "  ORDER BY u.id FOR NO KEY UPDATE), "
    "up AS (INSERT INTO uploads (user_id, generation_id, idx, storage_key, "
    "    public_url, mime_type, size, width, height, sha256) "
    "  SELECT gen.user_id, gen.id, x.idx, x.k, x.url, x.mime, x.size, x.w, "
    "    x.h, x.sha FROM unnest($6::bigint[], $7::int[], $8::text[], "
    "    $9::text[], $10::text[], $11::bigint[], $12::int[], $13::int[], "
    "    $14::text[]) AS x(job, idx, k, url, mime, size, w, h, sha) "
    "  JOIN gen ON gen.job_id = x.job "
    "  RETURNING id, generation_id, idx), "
    "ids AS MATERIALIZED (SELECT generation_id, jsonb_agg(id ORDER BY idx) AS a FROM up "
    "  GROUP BY generation_id), "
    "g AS (UPDATE image_generations ig SET status = 'completed', "
    "    completed_at = now(), error_code = NULL, error_message = NULL, "
    "    tokens = b.tokens::jsonb, "
    "    ai_metadata = b.ai::jsonb || jsonb_build_object('imageIds', "
    "      coalesce(ids.a, '[]'::jsonb)) "
    "  FROM gen JOIN b ON b.id = gen.job_id "
    "    LEFT JOIN ids ON ids.generation_id = gen.id "
    "  WHERE ig.id = gen.id RETURNING ig.id) "
    "SELECT b.n, j.id IS NOT NULL, g.id IS NOT NULL, "
    "  (SELECT count(*) FROM lk) "
    "FROM b LEFT JOIN j ON j.id = b.id "
    "LEFT JOIN g ON g.id = j.generation_id ORDER BY b.n";

/* Parameters $2..$14: four per-job arrays, then nine per-upload arrays. */
#define QUEUE_BATCH_ARRAYS	13

/* Fills the statement's array parameters from the completions. */
static void
queue_batch_arrays(const struct queue_completion *c, int n,
    struct buf a[QUEUE_BATCH_ARRAYS])
{
	const struct queue_upload	*u;
	int				 i, k;

	for (i = 0; i < n; i++) {
		queue_array_addl(&a[0], c[i].job->id);
		queue_array_addl(&a[1], c[i].job->attempts);
		queue_array_add(&a[2], c[i].ai_metadata_json);
		queue_array_add(&a[3], c[i].tokens_json);
		for (k = 0; k < c[i].nup; k++) {
			u = &c[i].up[k];
			queue_array_addl(&a[4], c[i].job->id);
			queue_array_addl(&a[5], u->idx);
			queue_array_add(&a[6], u->storage_key);
			queue_array_add(&a[7], u->public_url);
			queue_array_add(&a[8], u->mime_type);
			queue_array_addl(&a[9], (long long)u->size);
			queue_array_addl(&a[10], u->width);
			queue_array_addl(&a[11], u->height);
			queue_array_add(&a[12], u->sha256);
		}
	}
	for (k = 0; k < QUEUE_BATCH_ARRAYS; k++)
		queue_array_end(&a[k]);
}

/* Reads one outcome per completion, in the order they were given. */
static int
queue_batch_outcomes(PGresult *res, int n, enum queue_outcome *out,
    struct ig_err *err)
{
	int	 i;

	if (PQntuples(res) != n)
		return ig_err_set(err, IG_EINTERNAL, NULL, "the completion "
		    "returned %d rows for %d jobs", PQntuples(res), n);
	for (i = 0; i < n; i++) {
		if (PQgetvalue(res, i, 1)[0] != 't')
			out[i] = QUEUE_LOST;
		else if (PQgetvalue(res, i, 2)[0] != 't')
			out[i] = QUEUE_CANCELED;
		else
			out[i] = QUEUE_COMPLETED;
	}
	return 0;
}

int
queue_complete_batch(struct db *db, const char *worker_id,
    const struct queue_completion *c, int n, enum queue_outcome *out,
    struct ig_err *err)
{
	struct buf	 a[QUEUE_BATCH_ARRAYS];
	const char	*params[1 + QUEUE_BATCH_ARRAYS];
	PGresult	*res = NULL;
	int		 k, rc = -1;

	if (n < 1 || n > QUEUE_BATCH_MAX)
		return ig_err_set(err, IG_EINTERNAL, NULL, "a completion batch "
		    "of %d jobs", n);
	/* 64 jobs of 4 images with long public URLs stay far below this. */
	for (k = 0; k < QUEUE_BATCH_ARRAYS; k++)
		buf_init(&a[k], 1024 * 1024);
	queue_batch_arrays(c, n, a);
	params[0] = worker_id;
	for (k = 0; k < QUEUE_BATCH_ARRAYS; k++) {
		if (!buf_ok(&a[k])) {
			ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
			goto out;
		}
		params[1 + k] = buf_cstr(&a[k]);
	}
	if ((res = db_exec(db, queue_complete_sql, 1 + QUEUE_BATCH_ARRAYS,
	    params, err)) == NULL)
		goto out;
	rc = queue_batch_outcomes(res, n, out, err);
out:
	PQclear(res);
	for (k = 0; k < QUEUE_BATCH_ARRAYS; k++)
		buf_free(&a[k]);
	return rc;
}

int
queue_complete(struct db *db, const char *worker_id,
    const struct queue_job *job, const struct queue_upload *up, int n,
    const char *ai_metadata_json, const char *tokens_json, struct ig_err *err)
{
	struct queue_completion	 c = { job, up, n, ai_metadata_json,
				    tokens_json };
	enum queue_outcome	 out;

	if (queue_complete_batch(db, worker_id, &c, 1, &out, err) == -1)
		return -1;
	if (out == QUEUE_LOST)
		return ig_err_set(err, IG_ECONFLICT, NULL, "the job's lease was "
		    "lost");
	if (out == QUEUE_CANCELED)
		return ig_err_setc(err, IG_ECONFLICT, "canceled", NULL, "the "
		    "generation was canceled meanwhile; nothing recorded");
	return 0;
}

int
queue_fail(struct db *db, const char *worker_id, const struct queue_job *job,
    int permanent, long delay_ms, const char *code, const char *message,
    int *dead, struct ig_err *err)
{
	static const char sql[] =
	    "WITH j AS (UPDATE jobs SET state = CASE WHEN $4::bool "
	    "    OR attempts >= max_attempts THEN 'dead' ELSE 'queued' END, "
	    "    run_at = CASE WHEN $4::bool OR attempts >= max_attempts THEN run_at "
	    "      ELSE now() + $5::bigint * interval '1 millisecond' END, "
	    "    locked_by = NULL, locked_until = NULL, last_error = $7 "
	    "  WHERE id = $1 AND attempts = $2 AND locked_by = $3 "
	    "    AND state = 'running' RETURNING generation_id, state), "
	    "g AS (UPDATE image_generations ig SET "
	    "    status = CASE WHEN j.state = 'dead' THEN 'failed' ELSE 'queued' END, "
	    "    error_code = CASE WHEN j.state = 'dead' THEN $6 END, "
	    "    error_message = CASE WHEN j.state = 'dead' THEN $7 END, "
	    "    completed_at = CASE WHEN j.state = 'dead' THEN now() END "
	    "  FROM j WHERE ig.id = j.generation_id AND ig.status = 'processing') "
	    "SELECT state FROM j";
	char		 id[32], attempts[16], delay[24];
	const char	*params[7];
	PGresult	*res;
	int		 rc = -1;

	queue_lease_params(job, worker_id, id, attempts, params);
	snprintf(delay, sizeof(delay), "%ld", delay_ms);
	params[3] = permanent ? "true" : "false";
	params[4] = delay;
	params[5] = code;
	params[6] = message;
	if ((res = db_exec(db, sql, 7, params, err)) == NULL)
		return -1;
	if (PQntuples(res) != 1)
		ig_err_set(err, IG_ECONFLICT, NULL, "the job's lease was lost");
	else {
		*dead = strcmp(PQgetvalue(res, 0, 0), "dead") == 0;
		rc = 0;
	}
	PQclear(res);
	return rc;
}

int
queue_release(struct db *db, const char *worker_id,
    const struct queue_job *job, struct ig_err *err)
{
	static const char sql[] =
	    "WITH j AS (UPDATE jobs SET state = 'queued', run_at = now(), "
	    "    attempts = attempts - 1, locked_by = NULL, locked_until = NULL "
	    "  WHERE id = $1 AND attempts = $2 AND locked_by = $3 "
	    "    AND state = 'running' RETURNING generation_id) "
	    "UPDATE image_generations ig SET status = 'queued', "
	    "  attempts = greatest(ig.attempts - 1, 0) FROM j "
	    "WHERE ig.id = j.generation_id AND ig.status = 'processing'";
	char		 id[32], attempts[16];
	const char	*params[3];
	PGresult	*res;

	queue_lease_params(job, worker_id, id, attempts, params);
	if ((res = db_exec(db, sql, 3, params, err)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
queue_drop(struct db *db, const char *worker_id, const struct queue_job *job,
    struct ig_err *err)
{
	char		 id[32], attempts[16];
	const char	*params[3];
	PGresult	*res;

	queue_lease_params(job, worker_id, id, attempts, params);
	if ((res = db_exec(db, "DELETE FROM jobs WHERE id = $1 AND "
	    "attempts = $2 AND locked_by = $3 AND state = 'running'", 3,
	    params, err)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
queue_requeue_dead(struct db *db, long long job_id, long *requeued,
    struct ig_err *err)
{
	static const char sql[] =
	    "WITH j AS (UPDATE jobs SET state = 'queued', attempts = 0, "
	    "    run_at = now(), last_error = NULL "
	    "  WHERE state = 'dead' AND ($1::bigint = 0 OR id = $1::bigint) "
	    "    AND (kind = 'webhook' OR generation_id IN (SELECT id "
	    "      FROM image_generations WHERE status = 'failed')) "
	    "  RETURNING generation_id, kind), "
	    "g AS (UPDATE image_generations ig SET status = 'queued', "
	    "    error_code = NULL, error_message = NULL, completed_at = NULL "
	    "  FROM j WHERE ig.id = j.generation_id AND j.kind = 'generate') "
	    "SELECT count(*), pg_notify('imggen_jobs', '') FROM j";
	char		 id[32];
	const char	*params[1] = { id };
	PGresult	*res;

	snprintf(id, sizeof(id), "%lld", job_id);
	if ((res = db_exec(db, sql, 1, params, err)) == NULL)
		return -1;
	*requeued = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int
queue_prune(struct db *db, long dead_days, long generation_days, long *jobs,
    long *generations, struct ig_err *err)
{
	static const char sql_jobs[] =
	    "WITH d AS (DELETE FROM jobs WHERE state = 'dead' "
	    "  AND created_at < now() - $1::int * interval '1 day' RETURNING 1) "
	    "SELECT count(*) FROM d";
	/* A generation with a live job is never finished: no join needed. */
	static const char sql_gens[] =
	    "WITH d AS (DELETE FROM image_generations WHERE completed_at IS NOT "
	    "  NULL AND completed_at < now() - $1::int * interval '1 day' "
	    "  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.generation_id = "
	    "    image_generations.id AND j.state <> 'dead') RETURNING 1) "
	    "SELECT count(*) FROM d";
	char		 days[24];
	const char	*params[1] = { days };
	PGresult	*res;

	*jobs = *generations = 0;
	snprintf(days, sizeof(days), "%ld", dead_days);
	if ((res = db_exec(db, sql_jobs, 1, params, err)) == NULL)
		return -1;
	*jobs = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (generation_days <= 0)
		return 0;
	snprintf(days, sizeof(days), "%ld", generation_days);
	if ((res = db_exec(db, sql_gens, 1, params, err)) == NULL)
		return -1;
	*generations = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int
queue_webhook_payload(struct db *db, const char *generation_id,
    struct queue_webhook *w, struct ig_err *err)
{
	static const char sql[] =
	    "SELECT json_build_object('type', 'generation.' || g.status, "
	    "  'timestamp', imggen_iso(now()), "
	    "  'data', imggen_doc(g, NULL, " DOC_IMAGES_SQL "))::text, "
	    "  g.user_id, g.metadata->>'webhookUrl', u.webhook_secret_version "
	    "FROM image_generations g JOIN users u ON u.id = g.user_id "
	    "WHERE g.id = $1";
	const char	*params[1] = { generation_id };
	PGresult	*res;
	int		 rc = -1;

	memset(w, 0, sizeof(*w));
	if ((res = db_exec(db, sql, 1, params, err)) == NULL)
		return -1;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 2))
		ig_err_set(err, IG_EPERMANENT, NULL, "the generation or its "
		    "webhookUrl is gone");
	else if ((w->body = strdup(PQgetvalue(res, 0, 0))) == NULL ||
	    (w->url = strdup(PQgetvalue(res, 0, 2))) == NULL)
		ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
	else {
		snprintf(w->user_id, sizeof(w->user_id), "%s",
		    PQgetvalue(res, 0, 1));
		w->secret_version = atoi(PQgetvalue(res, 0, 3));
		rc = 0;
	}
	PQclear(res);
	return rc;
}

void
queue_webhook_release(struct queue_webhook *w)
{
	free(w->body);
	free(w->url);
	w->body = w->url = NULL;
}

int
queue_webhook_delivered(struct db *db, const char *worker_id,
    const struct queue_job *job, const char *url, long status,
    const char *detail, struct ig_err *err)
{
	/* The fenced delete and the delivery record, together. */
	static const char sql[] =
	    "WITH j AS (DELETE FROM jobs WHERE id = $1 AND attempts = $2 "
	    "    AND locked_by = $3 AND state = 'running' "
	    "  RETURNING id, generation_id, attempts) "
	    "INSERT INTO webhook_deliveries (generation_id, job_id, attempt, "
	    "  url, http_status, outcome, detail) "
	    "SELECT generation_id, id, attempts, $4, $5::int, 'delivered', $6 "
	    "FROM j RETURNING id";
	char		 id[32], attempts[16], st[16];
	const char	*params[6];
	PGresult	*res;
	int		 rc = 0;

	queue_lease_params(job, worker_id, id, attempts, params);
	snprintf(st, sizeof(st), "%ld", status);
	params[3] = url;
	params[4] = st;
	params[5] = detail;
	if ((res = db_exec(db, sql, 6, params, err)) == NULL)
		return -1;
	if (PQntuples(res) != 1)
		rc = ig_err_set(err, IG_ECONFLICT, NULL, "the job's lease was "
		    "lost");
	PQclear(res);
	return rc;
}

int
queue_webhook_attempt(struct db *db, const struct queue_job *job,
    const char *generation_id, const char *url, long status, int dead,
    const char *detail, struct ig_err *err)
{
	static const char sql[] =
	    "INSERT INTO webhook_deliveries (generation_id, job_id, attempt, "
	    "  url, http_status, outcome, detail) "
	    "VALUES ($1, $2, $3::int, $4, $5::int, $6, $7)";
	char		 id[32], attempts[16], st[16];
	const char	*params[7];
	PGresult	*res;

	snprintf(id, sizeof(id), "%lld", job->id);
	snprintf(attempts, sizeof(attempts), "%d", job->attempts);
	snprintf(st, sizeof(st), "%ld", status);
	params[0] = generation_id;
	params[1] = id;
	params[2] = attempts;
	params[3] = url;
	params[4] = status > 0 ? st : NULL;
	params[5] = dead ? "dead" : "retry";
	params[6] = detail;
	if ((res = db_exec(db, sql, 7, params, err)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
queue_rescue(struct db *db, long *rescued, struct ig_err *err)
{
	static const char sql[] =
	    "WITH j AS (UPDATE jobs SET state = CASE WHEN attempts >= max_attempts "
	    "    THEN 'dead' ELSE 'queued' END, run_at = now(), locked_by = NULL, "
	    "    locked_until = NULL, last_error = 'lease expired: worker lost' "
	    "  WHERE id IN (SELECT id FROM jobs WHERE state = 'running' "
	    "    AND locked_until < now() FOR UPDATE SKIP LOCKED LIMIT 1000) "
	    "  RETURNING generation_id, state), "
	    "g AS (UPDATE image_generations ig SET "
	    "    status = CASE WHEN j.state = 'dead' THEN 'failed' ELSE 'queued' END, "
	    "    error_code = CASE WHEN j.state = 'dead' THEN 'worker_lost' END, "
	    "    error_message = CASE WHEN j.state = 'dead' THEN "
	    "      'the job ran out of attempts after its worker was lost' END, "
	    "    completed_at = CASE WHEN j.state = 'dead' THEN now() END "
	    "  FROM j WHERE ig.id = j.generation_id AND ig.status = 'processing') "
	    "SELECT count(*) FROM j";
	PGresult	*res;

	if ((res = db_exec(db, sql, 0, NULL, err)) == NULL)
		return -1;
	*rescued = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}
