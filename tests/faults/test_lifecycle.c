/*
 * test_lifecycle.c - cancellation, graceful shutdown, the supervisor's
 * restarts, and the admin CLI's maintenance and requeue.
 *
 * Each test starts the worker it needs (openai stand-in as provider, fs
 * storage, lease 5 s) and nothing else runs meanwhile (--jobs 1), so a
 * job that is not claimed stays queued.  "Sentinel" generations stand in
 * for fixed waits: when a later job has completed on the same worker, an
 * earlier one that was not touched will not be touched.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <libpq-fe.h>

#include "faults.h"

static const char *const worker_env[] = {
	"IMGGEN_PROVIDER=openai", "IMGGEN_STORAGE=fs",
	"IMGGEN_WORKER_PROCESSES=1", "IMGGEN_WORKER_CONCURRENCY=4",
	"IMGGEN_LEASE_SECONDS=5", "IMGGEN_POLL_INTERVAL_MS=200",
	"IMGGEN_RETRY_BASE_MS=200", NULL
};

static void
submit(const struct itest_user *u, const char *prompt, int n, char *id)
{
	char body[512];

	snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"numberOfImages\":%d,"
	    "\"aspectRatio\":\"1:1\"}", prompt, n);
	json_object_put(itest_generate(u, body, id));
}

struct gstate {
	char	 status[32];
	char	 job_state[32];	/* "" when there is no job row */
	char	 locked_by[160];
	int	 attempts;	/* the generation's */
	int	 job_attempts;
	long long job_id;
};

static void
gen_state(const char *id, struct gstate *s)
{
	PGresult *r = itest_pg_query("SELECT g.status, coalesce(j.state, ''), "
	    "coalesce(j.locked_by, ''), g.attempts, coalesce(j.attempts, -1), "
	    "coalesce(j.id, 0) FROM image_generations g LEFT JOIN jobs j ON "
	    "j.generation_id = g.id WHERE g.id = $1::uuid", id, NULL);

	cr_assert_eq(PQntuples(r), 1, "generation %s: %d rows", id,
	    PQntuples(r));
	snprintf(s->status, sizeof s->status, "%s", PQgetvalue(r, 0, 0));
	snprintf(s->job_state, sizeof s->job_state, "%s", PQgetvalue(r, 0, 1));
	snprintf(s->locked_by, sizeof s->locked_by, "%s", PQgetvalue(r, 0, 2));
	s->attempts = atoi(PQgetvalue(r, 0, 3));
	s->job_attempts = atoi(PQgetvalue(r, 0, 4));
	s->job_id = atoll(PQgetvalue(r, 0, 5));
	PQclear(r);
}

/*
 * The queued job of generation ID as if enqueued under
 * IMGGEN_MAX_ATTEMPTS=1 (no worker may run yet): its first failure is final.
 */
static void
single_attempt(const char *id)
{
	PGresult *r = itest_pg_query("UPDATE jobs SET max_attempts = 1 WHERE "
	    "generation_id = $1::uuid AND state = 'queued'", id, NULL);

	cr_assert_str_eq(PQcmdTuples(r), "1");
	PQclear(r);
}

struct running_arg {
	const char	*id;
	struct gstate	 s;
};

static bool
is_running(void *arg)
{
	struct running_arg *a = arg;

	gen_state(a->id, &a->s);
	return strcmp(a->s.status, "processing") == 0 &&
	    strcmp(a->s.job_state, "running") == 0;
}

/* Waits until generation ID is processing under a running job. */
static void
wait_running(const char *id, struct gstate *out)
{
	struct running_arg a;
	char what[128];

	memset(&a, 0, sizeof a);
	a.id = id;

	snprintf(what, sizeof what, "generation %s to be processing", id);
	itest_wait_until(is_running, &a, 20000, what);
	*out = a.s;
}

struct calls_arg {
	const char	*prompt;
	long		 n;
};

static bool
standin_called(void *arg)
{
	struct calls_arg *a = arg;

	return ft_standin_calls(a->prompt) >= a->n;
}

static void
wait_standin_called(const char *prompt, long n)
{
	struct calls_arg a = { prompt, n };

	itest_wait_until(standin_called, &a, 20000, "the provider stand-in "
	    "to receive the call");
}

static bool
dir_exists(const char *user, const char *gen)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof path, "%s/generations/%s/%s",
	    itest_env("IMGGEN_FS_ROOT"), user, gen);
	return stat(path, &st) == 0;
}

static void
assert_canceled_untouched(const struct itest_user *u, const char *id)
{
	struct json_object *o = itest_get_generation(u, id);

	cr_assert_str_eq(itest_json_str(o, "status"), "canceled", "GET %s: %s",
	    id, itest_json_text(o));
	json_object_put(o);
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM uploads WHERE "
	    "generation_id = $1::uuid", id, NULL), 0, "a canceled generation "
	    "has uploads rows");
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM jobs WHERE "
	    "generation_id = $1::uuid", id, NULL), 0, "a canceled generation "
	    "still has a job");
	cr_assert(!dir_exists(u->id, id), "files were stored for the canceled "
	    "generation %s", id);
}

/* ------------------------------------------------------------------ */
/* Cancellation                                                        */

Test(cancel, queued_generation_is_never_processed, .fini = ft_fini,
    .timeout = 120)
{
	struct itest_user u;
	struct ft_worker w;
	struct json_object *o;
	struct gstate s;
	char id[40], sid[40], prompt[128], sprompt[128];
	long st;

	itest_require_stack();
	ft_user(&u, "cancelq");
	ft_worker_start(&w, "cancel-queued", NULL, worker_env);
	ft_log_wait(w.log, "ready as", NULL, 1, 20000);
	ft_worker_signal(&w, SIGSTOP);

	snprintf(prompt, sizeof prompt, "cancel queued %.8s", u.id);
	submit(&u, prompt, 2, id);
	gen_state(id, &s);
	cr_assert_str_eq(s.job_state, "queued", "the worker is stopped, yet "
	    "the job is %s", s.job_state);

	st = ft_cancel(&u, id, &o);
	cr_assert_eq(st, 200, "cancel of a queued generation: %ld %s", st,
	    itest_json_text(o));
	cr_assert_str_eq(itest_json_str(o, "status"), "canceled", "cancel "
	    "answered %s", itest_json_text(o));
	cr_assert_str_eq(itest_json_str(o, "generationId"), id);
	json_object_put(o);
	gen_state(id, &s);
	cr_assert_str_eq(s.job_state, "", "the canceled generation's job row "
	    "is still there (%s)", s.job_state);

	/* Canceling again is harmless and answers the same. */
	st = ft_cancel(&u, id, &o);
	cr_assert_eq(st, 200, "second cancel: %ld %s", st, itest_json_text(o));
	cr_assert_str_eq(itest_json_str(o, "status"), "canceled");
	json_object_put(o);

	/* Wake the worker; once a later job is done, the canceled one is
	 * known to have been passed over. */
	ft_worker_signal(&w, SIGCONT);
	snprintf(sprompt, sizeof sprompt, "sentinel after queued cancel %.8s",
	    u.id);
	submit(&u, sprompt, 1, sid);
	json_object_put(itest_wait_completed(&u, sid, 30000));
	gen_state(id, &s);
	cr_assert_str_eq(s.status, "canceled");
	cr_assert_eq(s.attempts, 0, "the canceled generation was claimed");
	cr_assert_eq(ft_log_count(w.log, id, NULL), 0, "the worker logged "
	    "about the canceled generation");
	cr_assert_eq(ft_standin_calls(prompt), 0, "the provider was called "
	    "for the canceled generation");
	assert_canceled_untouched(&u, id);
	itest_user_free(&u);
}

Test(cancel, running_generation_is_abandoned_and_its_call_aborted,
    .fini = ft_fini, .timeout = 120)
{
	struct itest_user u;
	struct ft_worker w;
	struct json_object *o;
	struct gstate s;
	char id[40], sid[40], prompt[128], sprompt[128], kid[32];
	int port = ft_url_port(itest_env("FAULTS_STANDIN_URL"));
	int before[64], after[64], nbefore, nafter;
	pid_t child;
	long st, abort_ms = -1;
	int64_t t0;

	itest_require_stack();
	ft_user(&u, "cancelr");
	ft_worker_start(&w, "cancel-running", NULL, worker_env);
	ft_worker_wait_children(&w, 1, &child, 10000);
	ft_log_wait(w.log, "ready as", NULL, 1, 20000);

	snprintf(prompt, sizeof prompt, "cancel running [[hang]] %.8s", u.id);
	submit(&u, prompt, 1, id);
	wait_running(id, &s);
	snprintf(kid, sizeof kid, ":%ld:", (long)child);
	cr_assert(strstr(s.locked_by, kid) != NULL, "locked by %s, not by the "
	    "worker child %ld", s.locked_by, (long)child);
	wait_standin_called(prompt, 1);
	nbefore = ft_tcp_established_to(port, before, 64);
	cr_assert(nbefore >= 1, "no connection to the provider stand-in is "
	    "open while the call hangs");

	t0 = itest_now_ms();
	st = ft_cancel(&u, id, &o);
	cr_assert_eq(st, 200, "cancel of a running generation: %ld %s", st,
	    itest_json_text(o));
	cr_assert_str_eq(itest_json_str(o, "status"), "canceled", "cancel "
	    "answered %s", itest_json_text(o));
	json_object_put(o);

	/*
	 * Job dropped, provider connection closed: at once on the
	 * notification (the time is printed), at the latest at the next
	 * heartbeat; 15 s leaves room for a loaded machine.
	 */
	for (;;) {
		bool open = false;

		gen_state(id, &s);
		nafter = ft_tcp_established_to(port, after, 64);
		for (int i = 0; i < nbefore && !open; i++)
			for (int k = 0; k < nafter; k++)
				open = open || after[k] == before[i];
		if (s.job_state[0] == '\0' && !open) {
			abort_ms = ft_since(t0);
			break;
		}
		cr_assert(ft_since(t0) < 15000, "15 s after the cancel: job row "
		    "%s, provider connection %s", s.job_state[0] ? s.job_state :
		    "gone", open ? "still open" : "closed");
		ft_pause_ms(20);
	}
	ft_log_wait(w.log, id, "canceled by the client", 1, 15000);
	cr_assert_str_eq(s.status, "canceled");

	/* The worker goes on working; the canceled one stays canceled. */
	snprintf(sprompt, sizeof sprompt, "sentinel after running cancel %.8s",
	    u.id);
	submit(&u, sprompt, 1, sid);
	json_object_put(itest_wait_completed(&u, sid, 30000));
	assert_canceled_untouched(&u, id);
	cr_assert_eq(ft_log_count(w.log, id, "generation completed", NULL), 0);
	cr_assert_eq(ft_standin_calls(prompt), 1, "the provider was called "
	    "again for the canceled generation");
	fprintf(stderr, "cancel: running job abandoned and its provider "
	    "connection closed %ld ms after the cancel\n", abort_ms);
	itest_user_free(&u);
}

/*
 * A cancel that arrives after the images were stored but before they were
 * recorded (the worker stalls there: after_upload=sleep): the completion
 * is refused, and the stored objects must not stay behind as orphans.
 */
Test(cancel, late_cancel_after_upload_leaves_no_orphaned_objects,
    .fini = ft_fini, .timeout = 120)
{
	static const char *const env[] = {
		"IMGGEN_PROVIDER=local", "IMGGEN_STORAGE=fs",
		"IMGGEN_WORKER_PROCESSES=1", "IMGGEN_LEASE_SECONDS=30",
		"IMGGEN_POLL_INTERVAL_MS=200",
		"IMGGEN_FAILPOINTS=after_upload=sleep:10000", NULL
	};
	struct itest_user u;
	struct ft_worker w;
	struct json_object *o;
	struct gstate s;
	char id[40], prompt[128], path[1024];
	struct stat st;
	long code;
	int64_t t0;

	itest_require_stack();
	ft_user(&u, "cancellate");
	ft_worker_start(&w, "cancel-late", NULL, env);
	snprintf(prompt, sizeof prompt, "late cancel %.8s", u.id);
	submit(&u, prompt, 2, id);
	snprintf(path, sizeof path, "%s/generations/%s/%s/1.png",
	    itest_env("IMGGEN_FS_ROOT"), u.id, id);
	t0 = itest_now_ms();
	while (stat(path, &st) == -1) {
		cr_assert(ft_since(t0) < 20000, "the images were not stored");
		ft_pause_ms(20);
	}
	gen_state(id, &s);
	cr_assert_str_eq(s.job_state, "running", "the job is not running "
	    "while its worker stalls after the upload");
	code = ft_cancel(&u, id, &o);
	cr_assert_eq(code, 200, "late cancel: %ld %s", code, itest_json_text(o));
	cr_assert_str_eq(itest_json_str(o, "status"), "canceled");
	json_object_put(o);

	/*
	 * The worker wakes and learns of the cancel (notification, or its
	 * completion refused) and deletes what it stored.
	 */
	t0 = itest_now_ms();
	while (stat(path, &st) == 0) {
		cr_assert(ft_since(t0) < 30000, "the canceled generation's "
		    "images are still in storage");
		ft_pause_ms(20);
	}
	gen_state(id, &s);
	cr_assert(strcmp(s.status, "canceled") == 0 && s.job_state[0] == '\0',
	    "after the refused completion: generation %s, job '%s'", s.status,
	    s.job_state);
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM uploads WHERE "
	    "generation_id = $1::uuid", id, NULL), 0, "uploads rows were "
	    "recorded for a canceled generation");
	ft_assert_fs_matches_uploads(&u);
	itest_user_free(&u);
}

/*
 * A generation that fails for good after some of its images were stored
 * leaves none behind: no uploads row will ever point at them.  Image 1's
 * final path is a directory, so its rename fails (a storage error) while
 * image 0 is stored; with max_attempts 1 that failure is final.
 */
Test(cancel, failed_generation_leaves_no_stored_objects, .fini = ft_fini,
    .timeout = 120)
{
	static const char *const env[] = {
		"IMGGEN_PROVIDER=local", "IMGGEN_STORAGE=fs",
		"IMGGEN_WORKER_PROCESSES=1", "IMGGEN_POLL_INTERVAL_MS=200", NULL
	};
	struct itest_user u;
	struct ft_worker w;
	struct json_object *o;
	struct gstate s;
	struct stat st;
	char id[40], prompt[128], dir[1024], img0[1100], img1[1100], code[64];
	int64_t t0;

	itest_require_stack();
	ft_user(&u, "deadobjects");
	snprintf(prompt, sizeof prompt, "stored then failed %.8s", u.id);
	submit(&u, prompt, 2, id);
	single_attempt(id);
	snprintf(dir, sizeof dir, "%s/generations/%s/%s",
	    itest_env("IMGGEN_FS_ROOT"), u.id, id);
	snprintf(img0, sizeof img0, "%s/0.png", dir);
	snprintf(img1, sizeof img1, "%s/1.png", dir);
	ft_sh("mkdir -p '%s'", img1);

	ft_worker_start(&w, "deadobjects", NULL, env);
	o = itest_wait_terminal(&u, id, 30000);
	cr_assert_str_eq(itest_json_str(o, "status"), "failed", "%s",
	    itest_json_text(o));
	json_object_put(o);
	gen_state(id, &s);
	cr_assert_str_eq(s.job_state, "dead");
	ft_pg_str(code, sizeof code, "SELECT coalesce(error_code, '') FROM "
	    "image_generations WHERE id = $1::uuid", id, NULL);
	cr_assert_str_eq(code, "attempts_exhausted");
	cr_assert(ft_log_count(w.log, "/1.png: Is a directory", NULL) > 0,
	    "the worker did not meet the failure of image 1 (log %s)", w.log);

	/* The image that was stored is deleted once the failure is final. */
	t0 = itest_now_ms();
	while (stat(img0, &st) == 0) {
		cr_assert(ft_since(t0) < 15000, "%s of the failed generation "
		    "is still in storage", img0);
		ft_pause_ms(20);
	}
	cr_assert_eq(rmdir(img1), 0, "rmdir %s", img1);
	cr_assert_eq(ft_assert_fs_matches_uploads(&u), 0);
	itest_user_free(&u);
}

Test(cancel, finished_generation_answers_409, .fini = ft_fini, .timeout = 120)
{
	struct itest_user u;
	struct ft_worker w;
	struct json_object *o;
	char id[40], prompt[128];
	long st;

	itest_require_stack();
	ft_user(&u, "cancelf");
	ft_worker_start(&w, "cancel-finished", NULL, worker_env);
	snprintf(prompt, sizeof prompt, "cancel finished %.8s", u.id);
	submit(&u, prompt, 2, id);
	json_object_put(itest_wait_completed(&u, id, 30000));

	st = ft_cancel(&u, id, &o);
	cr_assert_eq(st, 409, "cancel of a completed generation: %ld %s", st,
	    itest_json_text(o));
	cr_assert_str_eq(itest_json_str(o, "error.code"), "already_finished",
	    "%s", itest_json_text(o));
	json_object_put(o);
	ft_assert_completed(&u, id, 2, true);
	itest_user_free(&u);
}

Test(cancel, other_users_and_missing_generations_answer_404,
    .fini = ft_fini, .timeout = 120)
{
	struct itest_user a, b;
	struct json_object *o;
	struct gstate s;
	char id[40], prompt[128];
	long st;

	itest_require_stack();
	ft_user(&a, "cancela");
	ft_user(&b, "cancelb");
	snprintf(prompt, sizeof prompt, "cancel by another user %.8s", a.id);
	submit(&a, prompt, 1, id);	/* no worker: it stays queued */

	st = ft_cancel(&b, id, &o);
	cr_assert_eq(st, 404, "another user's cancel: %ld %s", st,
	    itest_json_text(o));
	cr_assert_str_eq(itest_json_str(o, "error.code"), "not_found", "%s",
	    itest_json_text(o));
	json_object_put(o);
	gen_state(id, &s);
	cr_assert_str_eq(s.status, "queued", "another user's cancel changed "
	    "the generation to %s", s.status);
	cr_assert_str_eq(s.job_state, "queued", "another user's cancel touched "
	    "the job (%s)", s.job_state);

	st = ft_cancel(&a, "0b8f1a3e-5c1d-4c2e-9f3a-7d6e5c4b3a21", &o);
	cr_assert_eq(st, 404, "cancel of a missing generation: %ld %s", st,
	    itest_json_text(o));
	json_object_put(o);

	st = ft_cancel(&a, id, &o);
	cr_assert_eq(st, 200, "the owner's cancel: %ld %s", st,
	    itest_json_text(o));
	json_object_put(o);
	itest_user_free(&a);
	itest_user_free(&b);
}

/* ------------------------------------------------------------------ */
/* Graceful shutdown and the supervisor                                */

Test(shutdown, sigterm_stops_claiming_and_finishes_in_flight_jobs,
    .fini = ft_fini, .timeout = 120)
{
	static const char *const env[] = {
		"IMGGEN_PROVIDER=openai", "IMGGEN_STORAGE=fs",
		"IMGGEN_WORKER_PROCESSES=2", "IMGGEN_WORKER_CONCURRENCY=4",
		"IMGGEN_LEASE_SECONDS=5", "IMGGEN_POLL_INTERVAL_MS=200",
		"IMGGEN_SHUTDOWN_GRACE_SECONDS=20", NULL
	};
	struct itest_user u;
	struct ft_worker w, w2;
	struct gstate s;
	char ids[3][40], late[40], prompt[128];
	long ms;
	int64_t t0;

	itest_require_stack();
	ft_user(&u, "shutdown");
	ft_worker_start(&w, "shutdown-finish", NULL, env);
	ft_log_wait(w.log, "ready as", NULL, 2, 20000);
	for (int i = 0; i < 3; i++) {
		snprintf(prompt, sizeof prompt, "[[slow:3000]] shutdown %d %.8s",
		    i, u.id);
		submit(&u, prompt, 1, ids[i]);
	}
	for (int i = 0; i < 3; i++)
		wait_running(ids[i], &s);

	t0 = itest_now_ms();
	kill(w.pid, SIGTERM);
	/* Both children have seen it: from now on nothing is claimed. */
	ft_log_wait(w.log, "stopping: finishing", NULL, 2, 5000);
	snprintf(prompt, sizeof prompt, "submitted during shutdown %.8s", u.id);
	submit(&u, prompt, 1, late);
	while (ft_worker_alive(&w)) {
		cr_assert(ft_since(t0) < 20000, "the worker did not exit within "
		    "its 20 s grace period");
		ft_pause_ms(10);
	}
	ms = ft_since(t0);
	cr_assert(WIFEXITED(w.status) && WEXITSTATUS(w.status) == 0,
	    "the worker did not exit 0 (status %d)", w.status);
	for (int i = 0; i < 3; i++) {
		ft_assert_completed(&u, ids[i], 1, true);
		gen_state(ids[i], &s);
		cr_assert_eq(s.attempts, 1, "an in-flight job was retried");
	}
	gen_state(late, &s);
	cr_assert(strcmp(s.status, "queued") == 0 &&
	    strcmp(s.job_state, "queued") == 0 && s.attempts == 0,
	    "the generation submitted during the shutdown was claimed: %s/%s, "
	    "attempts %d", s.status, s.job_state, s.attempts);
	cr_assert_eq(ft_log_count(w.log, "handed back", NULL), 0, "jobs were "
	    "handed back although there was time to finish them");

	/* Nothing was lost: the next worker takes the late one. */
	ft_worker_start(&w2, "shutdown-next", NULL, worker_env);
	json_object_put(itest_wait_completed(&u, late, 30000));
	ft_assert_completed(&u, late, 1, true);
	fprintf(stderr, "shutdown: 3 in-flight jobs finished, worker exited 0 "
	    "%ld ms after SIGTERM, nothing claimed meanwhile\n", ms);
	itest_user_free(&u);
}

Test(shutdown, sigterm_past_the_grace_period_hands_jobs_back,
    .fini = ft_fini, .timeout = 120)
{
	static const char *const env[] = {
		"IMGGEN_PROVIDER=openai", "IMGGEN_STORAGE=fs",
		"IMGGEN_WORKER_PROCESSES=1", "IMGGEN_LEASE_SECONDS=5",
		"IMGGEN_POLL_INTERVAL_MS=200",
		"IMGGEN_SHUTDOWN_GRACE_SECONDS=3", NULL
	};
	static const char *const local_env[] = {
		"IMGGEN_PROVIDER=local", "IMGGEN_STORAGE=fs",
		"IMGGEN_WORKER_PROCESSES=1", "IMGGEN_LEASE_SECONDS=5",
		"IMGGEN_POLL_INTERVAL_MS=200", NULL
	};
	struct itest_user u;
	struct ft_worker w, w2;
	struct gstate s;
	char id[40], prompt[128];
	long ms;

	itest_require_stack();
	ft_user(&u, "handback");
	ft_worker_start(&w, "shutdown-handback", NULL, env);
	snprintf(prompt, sizeof prompt, "[[slow:60000]] hand back %.8s", u.id);
	submit(&u, prompt, 1, id);
	wait_running(id, &s);
	cr_assert_eq(s.job_attempts, 1);
	wait_standin_called(prompt, 1);

	ms = ft_worker_stop(&w, 15000);
	cr_assert(WIFEXITED(w.status) && WEXITSTATUS(w.status) == 0,
	    "the worker did not exit 0 (status %d)", w.status);
	cr_assert(ms >= 2500 && ms < 10000, "the worker exited %ld ms after "
	    "SIGTERM; with a 3 s grace period it must wait about 3 s for the "
	    "job, then hand it back", ms);
	ft_log_wait(w.log, id, "handed back at shutdown", 1, 1000);
	gen_state(id, &s);
	cr_assert(strcmp(s.status, "queued") == 0 &&
	    strcmp(s.job_state, "queued") == 0 && s.locked_by[0] == '\0',
	    "after the hand-back: generation %s, job %s, locked by '%s'",
	    s.status, s.job_state, s.locked_by);
	cr_assert(s.job_attempts == 0 && s.attempts == 0, "the handed-back "
	    "attempt was counted: job attempts %d, generation attempts %d",
	    s.job_attempts, s.attempts);

	/*
	 * A new worker completes it.  The stand-in would take 60 s for this
	 * prompt again, so this one renders locally.
	 */
	ft_worker_start(&w2, "shutdown-handback-next", NULL, local_env);
	json_object_put(itest_wait_completed(&u, id, 30000));
	ft_assert_completed(&u, id, 1, true);
	gen_state(id, &s);
	cr_assert_eq(s.attempts, 1, "completed at attempt %d", s.attempts);
	fprintf(stderr, "shutdown: job handed back %ld ms after SIGTERM "
	    "(grace 3 s), uncounted, completed by the next worker\n", ms);
	itest_user_free(&u);
}

Test(shutdown, supervisor_restarts_a_killed_child, .fini = ft_fini,
    .timeout = 120)
{
	static const char *const env[] = {
		"IMGGEN_PROVIDER=openai", "IMGGEN_STORAGE=fs",
		"IMGGEN_WORKER_PROCESSES=2", "IMGGEN_LEASE_SECONDS=5",
		"IMGGEN_POLL_INTERVAL_MS=200", NULL
	};
	struct itest_user u;
	struct ft_worker w;
	pid_t kids[2], now[FT_MAX_CHILDREN];
	char ids[4][40], prompt[128], line[64];
	int64_t t0;
	bool replaced = false;

	itest_require_stack();
	ft_user(&u, "restart");
	ft_worker_start(&w, "restart", NULL, env);
	ft_worker_wait_children(&w, 2, kids, 10000);
	cr_assert_eq(kill(kids[0], SIGKILL), 0);
	t0 = itest_now_ms();
	while (!replaced) {
		int n = ft_worker_children(&w, now, FT_MAX_CHILDREN);

		replaced = n == 2 && (now[0] != kids[0] && now[1] != kids[0]);
		cr_assert(replaced || ft_since(t0) < 10000, "no new child 10 s "
		    "after SIGKILL of %ld (children now: %d)", (long)kids[0], n);
		if (!replaced)
			ft_pause_ms(20);
	}
	snprintf(line, sizeof line, "(pid %ld) killed by signal 9",
	    (long)kids[0]);
	ft_log_wait(w.log, line, "restarting", 1, 1000);
	cr_assert(ft_worker_alive(&w));
	for (int i = 0; i < 4; i++) {
		snprintf(prompt, sizeof prompt, "after restart %d %.8s", i, u.id);
		submit(&u, prompt, 1, ids[i]);
	}
	for (int i = 0; i < 4; i++) {
		json_object_put(itest_wait_completed(&u, ids[i], 30000));
		ft_assert_completed(&u, ids[i], 1, true);
	}
	fprintf(stderr, "shutdown: child %ld SIGKILLed, replaced after %ld ms, "
	    "jobs go on\n", (long)kids[0], ft_since(t0));
	itest_user_free(&u);
}

/*
 * While its only child waits to be restarted the supervisor has nothing
 * to report but the restart itself: no error lines.
 */
Test(shutdown, supervisor_logs_no_error_while_its_only_child_restarts,
    .fini = ft_fini, .timeout = 60)
{
	static const char *const env[] = {
		"IMGGEN_PROVIDER=openai", "IMGGEN_STORAGE=fs",
		"IMGGEN_WORKER_PROCESSES=1", NULL
	};
	struct ft_worker w;
	pid_t kid, now;
	int64_t t0;

	itest_require_stack();
	ft_worker_start(&w, "restart-only-child", NULL, env);
	ft_worker_wait_children(&w, 1, &kid, 10000);
	ft_log_wait(w.log, "ready as", NULL, 1, 10000);
	cr_assert_eq(kill(kid, SIGKILL), 0);
	t0 = itest_now_ms();
	for (;;) {
		if (ft_worker_children(&w, &now, 1) == 1 && now != kid)
			break;
		cr_assert(ft_since(t0) < 10000, "no new child 10 s after the "
		    "SIGKILL of the only one");
		ft_pause_ms(20);
	}
	ft_log_wait(w.log, "ready as", NULL, 2, 10000);
	ft_worker_stop(&w, 10000);
	cr_assert(WIFEXITED(w.status) && WEXITSTATUS(w.status) == 0);
	cr_assert_eq(ft_log_count(w.log, "\"level\":\"error\"", NULL), 0,
	    "the supervisor logged %ld error line(s) while restarting its "
	    "child, e.g. \"sigtimedwait: No child processes\" (%ld of those): "
	    "see %s", ft_log_count(w.log, "\"level\":\"error\"", NULL),
	    ft_log_count(w.log, "sigtimedwait", NULL), w.log);
}

/* ------------------------------------------------------------------ */
/* imggen-admin maintenance and requeue                                */

Test(admin, maintenance_rescues_an_expired_lease, .fini = ft_fini,
    .timeout = 120)
{
	struct itest_user u;
	struct ft_worker w;
	struct gstate s;
	char id[40], prompt[128], out[8192], last_error[256];
	const char *p;
	long rescued = -1;
	int rc;
	PGresult *r;

	itest_require_stack();
	ft_user(&u, "maint");
	snprintf(prompt, sizeof prompt, "maintenance rescue %.8s", u.id);
	submit(&u, prompt, 1, id);
	/* A worker that claimed it and vanished a minute ago. */
	r = itest_pg_query("WITH j AS (UPDATE jobs SET state = 'running', "
	    "locked_by = 'ghost', attempts = attempts + 1, locked_until = "
	    "now() - interval '1 minute' WHERE generation_id = $1::uuid "
	    "RETURNING generation_id, attempts) UPDATE image_generations g SET "
	    "status = 'processing', started_at = now(), attempts = j.attempts "
	    "FROM j WHERE g.id = j.generation_id", id, NULL);
	PQclear(r);
	gen_state(id, &s);
	cr_assert_str_eq(s.job_state, "running");

	rc = ft_admin(out, sizeof out, "maintenance");
	cr_assert_eq(rc, 0, "imggen-admin maintenance exited %d:\n%s", rc, out);
	p = strstr(out, "rescued ");
	cr_assert(p != NULL && sscanf(p, "rescued %ld", &rescued) == 1 &&
	    rescued >= 1, "imggen-admin maintenance did not report the rescue:"
	    "\n%s", out);
	gen_state(id, &s);
	cr_assert(strcmp(s.job_state, "queued") == 0 && s.locked_by[0] == '\0'
	    && strcmp(s.status, "queued") == 0, "after maintenance: job %s "
	    "locked by '%s', generation %s", s.job_state, s.locked_by,
	    s.status);
	ft_pg_str(last_error, sizeof last_error, "SELECT coalesce(last_error, "
	    "'') FROM jobs WHERE generation_id = $1::uuid", id, NULL);
	cr_assert(strstr(last_error, "lease expired") != NULL, "last_error: %s",
	    last_error);

	ft_worker_start(&w, "maintenance", NULL, worker_env);
	json_object_put(itest_wait_completed(&u, id, 30000));
	ft_assert_completed(&u, id, 1, true);
	gen_state(id, &s);
	cr_assert_eq(s.attempts, 2, "the lost attempt and the completing one: "
	    "attempts %d", s.attempts);
	itest_user_free(&u);
}

Test(admin, requeue_revives_a_dead_job, .fini = ft_fini, .timeout = 120)
{
	struct itest_user u;
	struct ft_worker w;
	struct gstate s;
	struct json_object *o;
	char id[40], prompt[128], out[8192], jid[32], code[64];
	long long job_id;
	long st;
	int rc;

	itest_require_stack();
	ft_user(&u, "requeue");
	snprintf(prompt, sizeof prompt, "[[503once]] requeue %.8s", u.id);
	submit(&u, prompt, 1, id);
	single_attempt(id);
	gen_state(id, &s);
	job_id = s.job_id;

	ft_worker_start(&w, "requeue", NULL, worker_env);
	o = itest_wait_terminal(&u, id, 30000);
	cr_assert_str_eq(itest_json_str(o, "status"), "failed", "%s",
	    itest_json_text(o));
	json_object_put(o);
	gen_state(id, &s);
	cr_assert(strcmp(s.job_state, "dead") == 0 && s.job_id == job_id,
	    "the job is '%s', expected dead", s.job_state);
	ft_pg_str(code, sizeof code, "SELECT coalesce(error_code, '') FROM "
	    "image_generations WHERE id = $1::uuid", id, NULL);
	cr_assert_str_eq(code, "attempts_exhausted");

	st = ft_cancel(&u, id, &o);
	cr_assert_eq(st, 409, "cancel of a failed generation: %ld %s", st,
	    itest_json_text(o));
	cr_assert_str_eq(itest_json_str(o, "error.code"), "already_finished");
	json_object_put(o);

	snprintf(jid, sizeof jid, "%lld", job_id);
	rc = ft_admin(out, sizeof out, "requeue %s", jid);
	cr_assert_eq(rc, 0, "imggen-admin requeue %s exited %d:\n%s", jid, rc,
	    out);
	cr_assert(strstr(out, "requeued 1 ") != NULL, "requeue said:\n%s", out);
	json_object_put(itest_wait_completed(&u, id, 30000));
	ft_assert_completed(&u, id, 1, true);
	cr_assert_eq(ft_standin_calls(prompt), 2, "provider calls for the "
	    "prompt: the failed one and the one after the requeue");

	/* The job is gone now: requeueing it again is an error. */
	rc = ft_admin(out, sizeof out, "requeue %s", jid);
	cr_assert_eq(rc, 1, "requeue of a finished job exited %d:\n%s", rc, out);
	itest_user_free(&u);
}
