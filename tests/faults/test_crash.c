/*
 * test_crash.c - kill -9 at every phase of a job, and at random moments,
 * during 100+ generations: nothing lost, nothing doubled.
 *
 * The run is a sequence of worker "segments" over one queue of
 * FAULTS_CRASH_GENERATIONS (default 120) generations of 1-4 images each
 * (local provider, fs storage, lease 5 s, 2 children of 4 jobs each):
 *
 *   1-4. one supervisor per failpoint - after_claim, after_generate,
 *        mid_upload, after_upload - with only that failpoint armed
 *        (IMGGEN_FAILPOINTS=<name>=kill:P), until its log shows at least
 *        FT_PHASE_KILLS children killed by signal 9: those crashes can
 *        only have happened at that point of a job.  The segment ends with
 *        SIGKILL to the whole process group (supervisor and children: a
 *        lost host).
 *   5.   no failpoint; the test SIGKILLs random children of the supervisor
 *        every 150-450 ms until it has killed FT_EXTERNAL_KILLS of them.
 *   6.   chaos: all four failpoints at a low probability, random external
 *        kills, and the second half of the generations submitted through
 *        the API meanwhile.
 *   7.   a clean worker drains the queue (every crashed job waits for its
 *        lease to expire and is rescued), then stops with SIGTERM.
 *
 * Then every generation must be completed exactly once (status, no job
 * row, at most one "generation completed" log line over all the
 * segments' logs), with exactly numberOfImages uploads rows whose files
 * hold the bytes the rows describe, ai_metadata.imageIds equal to the
 * rows' ids, and nothing else under the user's storage directory (no
 * orphan, no temporary file).  The API must report the same images.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <libpq-fe.h>

#include "faults.h"

#define FT_PHASE_KILLS		3
#define FT_EXTERNAL_KILLS	6
#define FT_CHAOS_KILLS		6
#define FT_SEGMENT_MS		60000L
#define FT_DRAIN_MS		180000L

struct gen {
	char	 id[40];
	int	 n;
	int	 completions;	/* "generation completed" log lines */
};

static struct gen	*gens;
static int		 ngens;
static int		 ngens_max;

static int
env_int(const char *name, int def, int min, int max)
{
	const char *v = getenv(name);
	int n;

	if (v == NULL || *v == '\0')
		return def;
	n = atoi(v);
	cr_assert(n >= min && n <= max, "%s=%s: must be %d..%d", name, v, min,
	    max);
	return n;
}

static void
submit_one(const struct itest_user *u, int i)
{
	static const char *const ratios[] = { "1:1", "3:2", "2:3" };
	char body[512];
	struct json_object *o;
	int n = 1 + i % 4;

	cr_assert(ngens < ngens_max, "test bug: too many generations");
	snprintf(body, sizeof body, "{\"prompt\":\"crash test %d, a lighthouse "
	    "in a storm\",\"numberOfImages\":%d,\"aspectRatio\":\"%s\"}", i, n,
	    ratios[(i / 4) % 3]);
	o = itest_generate(u, body, gens[ngens].id);
	json_object_put(o);
	gens[ngens].n = n;
	ngens++;
}

/* The environment of every supervisor of this test, plus FAILPOINTS. */
static void
crash_env(const char **env, const char *failpoints)
{
	int k = 0;

	env[k++] = "IMGGEN_PROVIDER=local";
	env[k++] = "IMGGEN_STORAGE=fs";
	env[k++] = "IMGGEN_LEASE_SECONDS=5";
	env[k++] = "IMGGEN_WORKER_PROCESSES=2";
	env[k++] = "IMGGEN_WORKER_CONCURRENCY=4";
	env[k++] = "IMGGEN_POLL_INTERVAL_MS=200";
	env[k++] = "IMGGEN_RETRY_BASE_MS=200";
	env[k++] = failpoints;
	env[k] = NULL;
}

static long
kills_in(const char *log)
{
	return ft_log_count(log, "killed by signal 9", "restarting", NULL);
}

/* Segments 1-4: one failpoint armed; returns the crashes it caused. */
static long
phase_segment(const char *phase, double p, char logs[][512], int *nlogs)
{
	struct ft_worker w;
	char name[64], fp[128];
	const char *env[16];
	int64_t t0 = itest_now_ms();
	long kills;

	snprintf(name, sizeof name, "crash-%s", phase);
	snprintf(fp, sizeof fp, "IMGGEN_FAILPOINTS=%s=kill:%.2f", phase, p);
	crash_env(env, fp);
	ft_worker_start(&w, name, NULL, env);
	snprintf(logs[(*nlogs)++], 512, "%s", w.log);
	while ((kills = kills_in(w.log)) < FT_PHASE_KILLS) {
		cr_assert(ft_since(t0) < FT_SEGMENT_MS, "segment %s: only %ld "
		    "crash(es) in %ld ms - the failpoint %s does not fire",
		    phase, kills, FT_SEGMENT_MS, phase);
		cr_assert(ft_worker_alive(&w), "segment %s: the supervisor "
		    "itself died (status %d)", phase, w.status);
		ft_pause_ms(50);
	}
	ft_worker_kill(&w);
	kills = kills_in(w.log);
	fprintf(stderr, "crash: segment %-15s %ld child(ren) killed at the "
	    "failpoint in %.1f s, then the whole worker SIGKILLed\n", phase,
	    kills, (double)ft_since(t0) / 1000.0);
	return kills;
}

/*
 * Kills one random live child not killed before (KILLED holds the SENT
 * pids so far: one just killed may not be a zombie yet, and a second
 * kill of it would be counted without ever being logged); returns
 * whether there was one.
 */
static bool
kill_random_child(const struct ft_worker *w, pid_t *killed, long sent)
{
	pid_t kids[FT_MAX_CHILDREN], pick;
	int n = ft_worker_children(w, kids, FT_MAX_CHILDREN), live = 0;

	for (int i = 0; i < n; i++) {
		bool again = false;

		for (long k = 0; k < sent && !again; k++)
			again = killed[k] == kids[i];
		if (!again)
			kids[live++] = kids[i];
	}
	if (live == 0)
		return false;
	pick = kids[ft_rand((unsigned)live)];
	if (kill(pick, SIGKILL) != 0)
		return false;
	killed[sent] = pick;
	return true;
}

/* Segment 5: random external SIGKILLs only. */
static long
external_segment(char logs[][512], int *nlogs)
{
	struct ft_worker w;
	const char *env[16];
	int64_t t0 = itest_now_ms();
	long sent = 0, seen;
	pid_t killed[FT_EXTERNAL_KILLS];

	crash_env(env, "IMGGEN_FAILPOINTS=");
	ft_worker_start(&w, "crash-external", NULL, env);
	snprintf(logs[(*nlogs)++], 512, "%s", w.log);
	while (sent < FT_EXTERNAL_KILLS) {
		cr_assert(ft_since(t0) < FT_SEGMENT_MS, "segment external: "
		    "only %ld kill(s) in %ld ms: no children to kill", sent,
		    FT_SEGMENT_MS);
		if (kill_random_child(&w, killed, sent)) {
			sent++;
			ft_pause_ms(150 + (long)ft_rand(300));
		} else
			ft_pause_ms(20);
	}
	/* Every kill is seen and answered by the supervisor. */
	ft_log_wait(w.log, "killed by signal 9", "restarting", sent, 10000);
	cr_assert(ft_worker_alive(&w), "segment external: the supervisor died "
	    "(status %d)", w.status);
	ft_worker_kill(&w);
	seen = kills_in(w.log);
	fprintf(stderr, "crash: segment %-15s %ld random children SIGKILLed "
	    "by the test in %.1f s, %ld restart(s) logged\n", "external", sent,
	    (double)ft_since(t0) / 1000.0, seen);
	return seen;
}

/* Segment 6: every failpoint, external kills, and submissions. */
static long
chaos_segment(const struct itest_user *u, int first, int last,
    char logs[][512], int *nlogs)
{
	struct ft_worker w;
	const char *env[16];
	int64_t t0 = itest_now_ms(), next_kill;
	long sent = 0, kills = 0;
	pid_t killed[256];
	int i = first;

	crash_env(env, "IMGGEN_FAILPOINTS=after_claim=kill:0.03,"
	    "after_generate=kill:0.03,mid_upload=kill:0.03,"
	    "after_upload=kill:0.03");
	ft_worker_start(&w, "crash-chaos", NULL, env);
	snprintf(logs[(*nlogs)++], 512, "%s", w.log);
	next_kill = itest_now_ms() + 500 + ft_rand(1000);
	while (i < last || (kills = kills_in(w.log)) < FT_CHAOS_KILLS) {
		cr_assert(ft_since(t0) < FT_SEGMENT_MS * 2, "segment chaos: "
		    "only %ld crash(es) in %ld ms", kills_in(w.log),
		    FT_SEGMENT_MS * 2);
		if (i < last)
			submit_one(u, i++);
		else
			ft_pause_ms(20);
		if (itest_now_ms() >= next_kill) {
			if (sent < 256 && kill_random_child(&w, killed, sent))
				sent++;
			next_kill = itest_now_ms() + 500 + ft_rand(1000);
		}
	}
	ft_worker_kill(&w);
	kills = kills_in(w.log);
	fprintf(stderr, "crash: segment %-15s %ld crash(es) (%ld of them "
	    "external kills), %d generations submitted meanwhile, %.1f s\n",
	    "chaos", kills, sent, last - first,
	    (double)ft_since(t0) / 1000.0);
	return kills;
}

static void
count_completions(struct json_object *line, void *arg)
{
	const char *msg = itest_json_str(line, "msg");
	const char *gid = itest_json_str(line, "generation_id");

	(void)arg;
	if (msg == NULL || gid == NULL ||
	    strncmp(msg, "generation completed", 20) != 0)
		return;
	for (int i = 0; i < ngens; i++)
		if (strcmp(gens[i].id, gid) == 0) {
			gens[i].completions++;
			return;
		}
}

static void
assert_api_view(const struct itest_user *u, const struct gen *g)
{
	struct json_object *o = itest_get_generation(u, g->id);
	struct json_object *imgs = itest_json_get(o, "images");
	char *ids;
	struct json_object *want;

	cr_assert_str_eq(itest_json_str(o, "status"), "completed",
	    "GET %s: %s", g->id, itest_json_text(o));
	cr_assert(imgs != NULL && json_object_is_type(imgs, json_type_array) &&
	    (int)json_object_array_length(imgs) == g->n, "GET %s: expected %d "
	    "images: %s", g->id, g->n, itest_json_text(o));
	ids = itest_pg_text("SELECT coalesce(json_agg(id ORDER BY idx), "
	    "'[]')::text FROM uploads WHERE generation_id = $1::uuid", g->id,
	    NULL);
	want = itest_json(ids);
	for (int i = 0; i < g->n; i++) {
		struct json_object *img = json_object_array_get_idx(imgs,
		    (size_t)i);
		const char *iid = itest_json_str(img, "imageId");

		cr_assert(iid != NULL && strcmp(iid, json_object_get_string(
		    json_object_array_get_idx(want, (size_t)i))) == 0,
		    "GET %s: images[%d] is not uploads idx %d: %s", g->id, i, i,
		    itest_json_text(o));
	}
	json_object_put(want);
	free(ids);
	json_object_put(o);
}

Test(crash, kill9_in_every_phase_loses_and_doubles_nothing,
    .fini = ft_fini, .timeout = 600)
{
	static const struct {
		const char	*name;
		double		 p;
	} phases[] = {
		{ "after_claim", 0.5 },
		{ "after_generate", 0.3 },
		{ "mid_upload", 0.2 },
		{ "after_upload", 0.3 },
	};
	struct itest_user u;
	struct ft_worker w;
	const char *env[16];
	char logs[16][512], max_attempts[32];
	int nlogs = 0, first_half, retried = 0, max_att = 0;
	long phase_kills[4], ext_kills, chaos_kills, total, stop_ms, nfiles;
	int64_t t0 = itest_now_ms(), t_drain;
	PGresult *r;

	itest_require_stack();
	ngens_max = env_int("FAULTS_CRASH_GENERATIONS", 120, 8, 100000);
	gens = calloc((size_t)ngens_max, sizeof *gens);
	cr_assert(gens != NULL);
	ft_user(&u, "crash");

	/* Half the generations queued before any worker runs. */
	first_half = ngens_max / 2;
	for (int i = 0; i < first_half; i++)
		submit_one(&u, i);
	ft_pg_str(max_attempts, sizeof max_attempts, "SELECT min(max_attempts) "
	    "FROM jobs j JOIN image_generations g ON g.id = j.generation_id "
	    "WHERE g.user_id = $1::uuid", u.id, NULL);
	cr_assert(atoi(max_attempts) >= 20, "jobs.max_attempts is %s: the "
	    "stack must run with IMGGEN_MAX_ATTEMPTS >= 20 so that crashes "
	    "cannot exhaust a job (run through scripts/test-faults.sh)",
	    max_attempts);

	for (size_t k = 0; k < 4; k++)
		phase_kills[k] = phase_segment(phases[k].name, phases[k].p,
		    logs, &nlogs);
	ext_kills = external_segment(logs, &nlogs);
	chaos_kills = chaos_segment(&u, first_half, ngens_max, logs, &nlogs);

	t_drain = itest_now_ms();
	crash_env(env, "IMGGEN_FAILPOINTS=");
	ft_worker_start(&w, "crash-drain", NULL, env);
	snprintf(logs[nlogs++], 512, "%s", w.log);
	ft_wait_user_terminal(&u, FT_DRAIN_MS);
	fprintf(stderr, "crash: drained in %.1f s\n",
	    (double)ft_since(t_drain) / 1000.0);
	stop_ms = ft_worker_stop(&w, 30000);
	cr_assert(WIFEXITED(w.status) && WEXITSTATUS(w.status) == 0,
	    "the draining worker did not exit 0 on SIGTERM (status %d)",
	    w.status);
	cr_assert_eq(kills_in(w.log), 0, "the clean worker lost children");

	/* Exactly once: completed, right rows, right files, one completion. */
	for (int k = 0; k < nlogs; k++)
		ft_log_each(logs[k], count_completions, NULL);
	for (int i = 0; i < ngens; i++) {
		ft_assert_completed(&u, gens[i].id, gens[i].n, true);
		cr_assert(gens[i].completions <= 1, "generation %s was completed "
		    "%d times (\"generation completed\" log lines)", gens[i].id,
		    gens[i].completions);
		assert_api_view(&u, &gens[i]);
	}
	nfiles = ft_assert_fs_matches_uploads(&u);
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM jobs j JOIN "
	    "image_generations g ON g.id = j.generation_id WHERE g.user_id = "
	    "$1::uuid", u.id, NULL), 0, "job rows left behind");
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM image_generations "
	    "WHERE user_id = $1::uuid", u.id, NULL), ngens,
	    "generation rows do not add up");

	/* The faults really happened, and were survived by retrying. */
	r = itest_pg_query("SELECT attempts FROM image_generations WHERE "
	    "user_id = $1::uuid", u.id, NULL);
	for (int i = 0; i < PQntuples(r); i++) {
		int a = atoi(PQgetvalue(r, i, 0));

		retried += a > 1;
		max_att = a > max_att ? a : max_att;
	}
	PQclear(r);
	total = ext_kills + chaos_kills;
	for (size_t k = 0; k < 4; k++) {
		cr_assert(phase_kills[k] >= FT_PHASE_KILLS, "phase %s: %ld "
		    "crashes", phases[k].name, phase_kills[k]);
		total += phase_kills[k];
	}
	cr_assert(retried >= 10, "only %d generation(s) needed more than one "
	    "attempt: the crashes did not hit running jobs", retried);
	fprintf(stderr, "crash: %d generations (%ld files) completed exactly "
	    "once after %ld worker crashes (%ld+%ld+%ld+%ld at after_claim/"
	    "after_generate/mid_upload/after_upload, %ld external, %ld chaos); "
	    "%d needed more than one attempt (max %d); drain worker stopped in "
	    "%ld ms; %.1f s in all\n", ngens, nfiles, total, phase_kills[0],
	    phase_kills[1], phase_kills[2], phase_kills[3], ext_kills,
	    chaos_kills, retried, max_att, stop_ms,
	    (double)ft_since(t0) / 1000.0);
	itest_user_free(&u);
	free(gens);
}
