/*
 * test_pg.c - PostgreSQL stopped and started under load: no accepted
 * request is lost, every 202 completes, and a refused one leaves nothing.
 *
 * A submitter posts a generation every 100 ms for 15 s.  Five seconds in,
 * a helper process stops the stack's PostgreSQL (scripts/stack.sh
 * pg-stop, a fast shutdown that aborts what is in flight), keeps it down
 * for 3 s and starts it again.  Meanwhile the API must answer every
 * request quickly: 202, or 503 service_unavailable with Retry-After.
 * Afterwards every 202's generation completes (one uploads row and its
 * file), no 503'd prompt has a row, and the worker supervisor that ran
 * throughout reconnected by itself: same process, no child restarted.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "faults.h"

#define RUN_MS		15000L
#define EVERY_MS	100L
#define OUTAGE_AT_MS	5000L
#define OUTAGE_MS	3000L
#define MAX_REQ		400

struct req_rec {
	char	 prompt[96];
	char	 id[40];
	long	 status;
	long	 ms;
	char	 retry_after[64];
	char	 err[256];
};

static pid_t outage_pid;

/* fini: PostgreSQL must be running again whatever happened. */
static void
pg_fini(void)
{
	if (outage_pid > 0) {
		kill(outage_pid, SIGKILL);
		waitpid(outage_pid, NULL, 0);
		outage_pid = 0;
	}
	(void)ft_sh_status("scripts/stack.sh pg-start '%s'",
	    getenv("IMGGEN_STACK_DIR") ? getenv("IMGGEN_STACK_DIR") : "/nonexistent");
	ft_fini();
}

/* The helper process: wait, pg-stop, hold, pg-start; exit 0 on success. */
static pid_t
start_outage(void)
{
	char dir[900] = "", stop[1024], start[1024];
	pid_t pid;

	itest_shell_quote(dir, sizeof dir, itest_env("IMGGEN_STACK_DIR"));
	snprintf(stop, sizeof stop, "scripts/stack.sh pg-stop %s >&2", dir);
	snprintf(start, sizeof start, "scripts/stack.sh pg-start %s >&2", dir);
	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0, "fork failed");
	if (pid == 0) {
		int rc;

		ft_pause_ms(OUTAGE_AT_MS);
		rc = system(stop);
		if (rc != 0)
			_exit(10);
		fprintf(stderr, "pg: PostgreSQL stopped\n");
		ft_pause_ms(OUTAGE_MS);
		rc = system(start);
		fprintf(stderr, "pg: PostgreSQL started again\n");
		_exit(rc == 0 ? 0 : 11);
	}
	return pid;
}

Test(pg, restart_under_load_loses_no_accepted_request, .fini = pg_fini,
    .timeout = 400)
{
	static struct req_rec reqs[MAX_REQ];
	struct itest_user u;
	struct ft_worker w;
	const char *env[] = { "IMGGEN_STORAGE=fs", "IMGGEN_LEASE_SECONDS=5",
		"IMGGEN_WORKER_PROCESSES=2", NULL };
	int nreq = 0, n202 = 0, n503 = 0, st;
	long worst_ms = 0;
	int64_t t0, next;
	pid_t kids_before[2], kids_after[FT_MAX_CHILDREN];
	char tag[16];

	itest_require_stack();
	ft_user(&u, "pgout");
	snprintf(tag, sizeof tag, "%.8s", u.id);
	ft_worker_start(&w, "pg", NULL, env);
	ft_worker_wait_children(&w, 2, kids_before, 10000);
	ft_log_wait(w.log, "ready as", NULL, 2, 20000);

	outage_pid = start_outage();
	t0 = itest_now_ms();
	next = t0;
	while (ft_since(t0) < RUN_MS && nreq < MAX_REQ) {
		struct req_rec *q = &reqs[nreq++];
		char body[256];
		int64_t s = itest_now_ms();

		snprintf(q->prompt, sizeof q->prompt, "pg outage %s %d", tag,
		    nreq);
		snprintf(body, sizeof body, "{\"prompt\":\"%.95s\"}", q->prompt);
		q->status = ft_try_generate(&u, body, q->id, q->retry_after,
		    q->err, sizeof q->err);
		q->ms = ft_since(s);
		next += EVERY_MS;
		if (itest_now_ms() < next)
			ft_pause_ms((long)(next - itest_now_ms()));
	}
	{
		int64_t wt = itest_now_ms();

		while (waitpid(outage_pid, &st, WNOHANG) == 0) {
			cr_assert(ft_since(wt) < 90000, "pg-stop/pg-start did not "
			    "finish");
			ft_pause_ms(50);
		}
		outage_pid = 0;
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the outage "
		    "helper failed (status %d: 10 = pg-stop, 11 = pg-start)", st);
	}

	/* During the run: 202 or a quick 503 with Retry-After, nothing else. */
	for (int i = 0; i < nreq; i++) {
		struct req_rec *q = &reqs[i];

		worst_ms = q->ms > worst_ms ? q->ms : worst_ms;
		cr_assert(q->status == 202 || q->status == 503, "request %d "
		    "(%s) answered %ld after %ld ms: %s", i, q->prompt,
		    q->status, q->ms, q->err);
		cr_assert(q->ms < 5000, "request %d took %ld ms: the API hangs "
		    "while the database is down", i, q->ms);
		if (q->status == 202) {
			n202++;
			continue;
		}
		n503++;
		cr_assert(q->retry_after[0] != '\0', "request %d: 503 without "
		    "Retry-After", i);
		cr_assert(strstr(q->err, "service_unavailable") != NULL,
		    "request %d: 503 body %s", i, q->err);
	}
	cr_assert(n503 > 0, "no request saw the outage (%d requests, all "
	    "202): the test did not test anything", nreq);
	cr_assert(n202 >= nreq / 2, "only %d of %d requests accepted", n202,
	    nreq);

	/* Afterwards: every 202 completes; no 503 left a row. */
	ft_wait_user_terminal(&u, 120000);
	for (int i = 0; i < nreq; i++) {
		if (reqs[i].status == 202)
			ft_assert_completed(&u, reqs[i].id, 1, true);
		else
			cr_assert_eq(itest_pg_int("SELECT count(*) FROM "
			    "image_generations WHERE user_id = $1::uuid AND "
			    "prompt = $2", u.id, reqs[i].prompt, NULL), 0,
			    "request %d (%s) was refused with 503 but left a "
			    "generation row", i, reqs[i].prompt);
	}
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM image_generations "
	    "WHERE user_id = $1::uuid", u.id, NULL), n202,
	    "generation rows != 202 answers");
	ft_assert_fs_matches_uploads(&u);

	/* The worker reconnected by itself: nothing restarted. */
	cr_assert(ft_worker_alive(&w), "the worker supervisor died during the "
	    "outage (status %d)", w.status);
	cr_assert_eq(ft_worker_children(&w, kids_after, FT_MAX_CHILDREN), 2,
	    "the worker does not have its 2 children any more");
	cr_assert((kids_after[0] == kids_before[0] ||
	    kids_after[0] == kids_before[1]) &&
	    (kids_after[1] == kids_before[0] ||
	    kids_after[1] == kids_before[1]), "a worker child was replaced "
	    "during the outage (%ld,%ld -> %ld,%ld)", (long)kids_before[0],
	    (long)kids_before[1], (long)kids_after[0], (long)kids_after[1]);
	cr_assert_eq(ft_log_count(w.log, "restarting", NULL), 0, "the "
	    "supervisor restarted a child during the outage");
	ft_worker_stop(&w, 30000);
	cr_assert(WIFEXITED(w.status) && WEXITSTATUS(w.status) == 0,
	    "the worker did not exit 0 (status %d)", w.status);
	fprintf(stderr, "pg: %d requests over %ld s: %d accepted (all "
	    "completed), %d refused with 503 + Retry-After (no row left); "
	    "slowest answer %ld ms\n", nreq, RUN_MS / 1000, n202, n503,
	    worst_ms);
	itest_user_free(&u);
}
