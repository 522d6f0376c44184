/*
 * test_drain.c - several workers (4 supervisors, 6 children) drain
 * thousands of jobs concurrently: none skipped, none run twice, counts
 * add up.
 *
 * FAULTS_DRAIN_JOBS (default 3000) generations and their jobs are
 * inserted with one SQL statement (as the API would, many times over) and
 * announced with NOTIFY imggen_jobs while four separate imggen-worker
 * supervisors (1 or 2 children each, 16 jobs in flight per child, the
 * openai stand-in as provider, fs storage) wait for work.  Afterwards:
 *   - every generation completed at the first attempt (attempts = 1: no
 *     job was ever claimed twice, so none ever ran twice at once);
 *   - across all four workers' logs every job id has exactly one
 *     "claimed" line and every generation one "generation completed";
 *   - the provider stand-in was called exactly once per job;
 *   - exactly one uploads row per generation, nothing else in storage;
 *   - every supervisor did a share of the work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <libpq-fe.h>

#include "faults.h"

#define NSUP	4

struct jobref {
	long long	 id;
	int		 claimed;
	int		 by;		/* supervisor that claimed it last */
};

static struct jobref	*jobs;
static int		 njobs;

static int
cmp_job(const void *a, const void *b)
{
	long long x = ((const struct jobref *)a)->id;
	long long y = ((const struct jobref *)b)->id;

	return (x > y) - (x < y);
}

struct scan {
	int	 sup;
	long	 claims;
	long	 completions;
	long	 lost;		/* lease lost / not recorded / rescued */
};

static void
scan_line(struct json_object *line, void *arg)
{
	struct scan *s = arg;
	const char *msg = itest_json_str(line, "msg");
	int64_t jid;
	struct jobref key, *j;

	if (msg == NULL)
		return;
	if (strstr(msg, "lease lost") || strstr(msg, "not recorded") ||
	    strstr(msg, "rescued"))
		s->lost++;
	if (strncmp(msg, "generation completed", 20) == 0)
		s->completions++;
	if (strncmp(msg, "claimed", 7) != 0 ||
	    !itest_json_int(line, "job_id", &jid))
		return;
	key.id = jid;
	j = bsearch(&key, jobs, (size_t)njobs, sizeof *jobs, cmp_job);
	if (j == NULL)
		return;		/* another test's job */
	j->claimed++;
	j->by = s->sup;
	s->claims++;
}

Test(drain, four_workers_drain_thousands_exactly_once, .fini = ft_fini,
    .timeout = 600)
{
	struct itest_user u;
	struct ft_worker w[NSUP];
	struct scan sc[NSUP];
	char n_s[32], tag[16], name[32], statuses[256];
	const char *env[8];
	int n = 3000, twice = 0, never = 0;
	long stop_ms[NSUP], calls = 0, per_sup[NSUP] = { 0 };
	int64_t t0;
	PGresult *r;
	struct json_object *stats, *prompts;
	struct itest_response resp;
	struct itest_request req = { 0 };
	char url[512];

	itest_require_stack();
	if (getenv("FAULTS_DRAIN_JOBS") != NULL)
		n = atoi(getenv("FAULTS_DRAIN_JOBS"));
	cr_assert(n >= 100 && n <= 1000000, "FAULTS_DRAIN_JOBS=%d", n);
	ft_user(&u, "drain");
	snprintf(tag, sizeof tag, "%.8s", u.id);

	for (int i = 0; i < NSUP; i++) {
		env[0] = "IMGGEN_PROVIDER=openai";
		env[1] = "IMGGEN_STORAGE=fs";
		env[2] = i % 2 ? "IMGGEN_WORKER_PROCESSES=2" :
		    "IMGGEN_WORKER_PROCESSES=1";
		env[3] = "IMGGEN_WORKER_CONCURRENCY=16";
		env[4] = "IMGGEN_LEASE_SECONDS=30";
		env[5] = "IMGGEN_POLL_INTERVAL_MS=200";
		env[6] = NULL;
		snprintf(name, sizeof name, "drain-%d", i);
		ft_worker_start(&w[i], name, NULL, env);
	}
	for (int i = 0; i < NSUP; i++)
		ft_log_wait(w[i].log, "ready as", NULL, 1 + i % 2, 20000);

	/* Thousands of generations and jobs at once, then one NOTIFY. */
	snprintf(n_s, sizeof n_s, "%d", n);
	t0 = itest_now_ms();
	r = itest_pg_query("WITH g AS (INSERT INTO image_generations (user_id, "
	    "prompt, metadata) SELECT $1::uuid, 'drain ' || $3 || ' ' || "
	    "(i % 8), '{\"numberOfImages\":1,\"aspectRatio\":\"1:1\"}' FROM "
	    "generate_series(1, $2::int) i RETURNING id) "
	    "INSERT INTO jobs (kind, generation_id) SELECT 'generate', id "
	    "FROM g RETURNING id, pg_notify('imggen_jobs', '')", u.id, n_s, tag,
	    NULL);
	njobs = PQntuples(r);
	cr_assert_eq(njobs, n, "inserted %d jobs of %d", njobs, n);
	jobs = calloc((size_t)njobs, sizeof *jobs);
	cr_assert(jobs != NULL);
	for (int i = 0; i < njobs; i++)
		jobs[i].id = atoll(PQgetvalue(r, i, 0));
	PQclear(r);
	qsort(jobs, (size_t)njobs, sizeof *jobs, cmp_job);

	ft_wait_user_terminal(&u, 300000);
	fprintf(stderr, "drain: %d jobs drained by %d workers in %.1f s\n", n,
	    NSUP, (double)ft_since(t0) / 1000.0);
	for (int i = 0; i < NSUP; i++) {
		stop_ms[i] = ft_worker_stop(&w[i], 30000);
		cr_assert(WIFEXITED(w[i].status) && WEXITSTATUS(w[i].status) == 0,
		    "worker %d did not exit 0 on SIGTERM (status %d)", i,
		    w[i].status);
	}

	/* The database: all completed at the first attempt, one row each. */
	ft_pg_str(statuses, sizeof statuses, "SELECT string_agg(status || "
	    "' x' || c, ', ') FROM (SELECT status, count(*) c FROM "
	    "image_generations WHERE user_id = $1::uuid GROUP BY status) s",
	    u.id, NULL);
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM image_generations "
	    "WHERE user_id = $1::uuid AND status = 'completed'", u.id, NULL), n,
	    "not all %d generations completed: %s", n, statuses);
	{
		long long again = itest_pg_int("SELECT count(*) FROM "
		    "image_generations WHERE user_id = $1::uuid AND attempts <> 1",
		    u.id, NULL);

		cr_assert_eq(again, 0, "%lld generation(s) have attempts != 1: "
		    "their jobs were claimed more than once", again);
	}
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM uploads WHERE user_id "
	    "= $1::uuid", u.id, NULL), n, "uploads rows != jobs");
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM (SELECT generation_id "
	    "FROM uploads WHERE user_id = $1::uuid GROUP BY generation_id "
	    "HAVING count(*) <> 1 OR min(idx) <> 0) x", u.id, NULL), 0,
	    "a generation has other than exactly one uploads row (idx 0)");
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM image_generations g "
	    "WHERE user_id = $1::uuid AND ai_metadata->'imageIds' <> "
	    "(SELECT jsonb_agg(u.id) FROM uploads u WHERE u.generation_id = "
	    "g.id)", u.id, NULL), 0, "ai_metadata.imageIds != uploads ids");
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM jobs j JOIN "
	    "image_generations g ON g.id = j.generation_id WHERE g.user_id = "
	    "$1::uuid", u.id, NULL), 0, "job rows left");
	cr_assert_eq(ft_assert_fs_matches_uploads(&u), n, "files != jobs");

	/* The logs: each job claimed exactly once, by one worker. */
	for (int i = 0; i < NSUP; i++) {
		memset(&sc[i], 0, sizeof sc[i]);
		sc[i].sup = i;
		ft_log_each(w[i].log, scan_line, &sc[i]);
	}
	for (int i = 0; i < njobs; i++) {
		twice += jobs[i].claimed > 1;
		never += jobs[i].claimed == 0;
		if (jobs[i].claimed == 1)
			per_sup[jobs[i].by]++;
	}
	cr_assert_eq(twice, 0, "%d job(s) were claimed more than once across "
	    "the workers' logs", twice);
	cr_assert_eq(never, 0, "%d job(s) have no \"claimed\" line in any "
	    "worker's log", never);
	for (int i = 0; i < NSUP; i++) {
		cr_assert_eq(sc[i].lost, 0, "worker %d lost leases or rescued "
		    "jobs (%ld lines)", i, sc[i].lost);
		cr_assert(per_sup[i] > 0, "worker %d claimed nothing: the "
		    "drain was not concurrent", i);
	}
	cr_assert_eq(sc[0].completions + sc[1].completions + sc[2].completions +
	    sc[3].completions, n, "\"generation completed\" lines != jobs");

	/* The provider: called exactly once per job. */
	snprintf(url, sizeof url, "%s/_stats", itest_env("FAULTS_STANDIN_URL"));
	req.method = "GET";
	req.path = url;
	itest_http(&req, &resp);
	cr_assert_eq(resp.status, 200, "GET %s: %ld", url, resp.status);
	stats = itest_response_json(&resp);
	itest_response_free(&resp);
	prompts = itest_json_get(stats, "prompts.openai");
	cr_assert(prompts != NULL, "stand-in stats without openai prompts");
	for (int k = 0; k < 8; k++) {
		char p[64];
		struct json_object *v;

		snprintf(p, sizeof p, "drain %s %d", tag, k);
		if (json_object_object_get_ex(prompts, p, &v))
			calls += json_object_get_int64(v);
	}
	json_object_put(stats);
	cr_assert_eq(calls, n, "the provider was called %ld times for %d jobs",
	    calls, n);
	fprintf(stderr, "drain: claims per worker %ld/%ld/%ld/%ld, provider "
	    "calls %ld, stop took %ld/%ld/%ld/%ld ms\n", per_sup[0], per_sup[1],
	    per_sup[2], per_sup[3], calls, stop_ms[0], stop_ms[1], stop_ms[2],
	    stop_ms[3]);
	free(jobs);
	itest_user_free(&u);
}
