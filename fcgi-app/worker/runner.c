#include "runner.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "crypto.h"
#include "db.h"
#include "failpoint.h"
#include "job.h"
#include "log.h"
#include "migrate.h"
#include "queue.h"

static volatile sig_atomic_t	 runner_stop;

static void
runner_on_term(int sig)
{
	(void)sig;
	runner_stop = 1;
}

struct runner {
	const struct config	*cfg;
	struct job_env		 env;
	struct job		*jobs;		/* cfg->worker_concurrency slots */
	int			*used;
	struct job		**recording;	/* a turn's recording batch */
	int			 inflight;
	CURLM			*multi;
	unsigned		 listen_serial;
	int			 listening;
	int			 want_claim;
	double			 next_poll, next_heartbeat, next_rescue;
	char			 worker_id[128];
};

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
runner_make_id(struct runner *r, int idx)
{
	char		 host[64] = "host";
	unsigned char	 rnd[4] = { 0 };
	char		 hex[9];

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	crypto_hex(rnd, sizeof(rnd), hex);
	snprintf(r->worker_id, sizeof(r->worker_id), "%s:%ld:%d:%s", host,
	    (long)getpid(), idx, hex);
}

/* LISTEN again after every reconnect: the old session's LISTEN died with it. */
static void
runner_listen(struct runner *r)
{
	struct ig_err	 err = IG_ERR_INIT;

	if (r->listening && r->listen_serial == db_serial(r->env.db))
		return;
	if (db_command(r->env.db, "LISTEN imggen_jobs", &err) == -1 ||
	    db_command(r->env.db, "LISTEN imggen_cancel", &err) == -1)
		return;
	r->listening = 1;
	r->listen_serial = db_serial(r->env.db);
	r->want_claim = 1;	/* jobs may have arrived while we were away */
}

static void
runner_claim(struct runner *r)
{
	struct queue_job	*claimed = NULL;
	struct ig_err		 err = IG_ERR_INIT;
	int			 n = 0, i, slot = 0, room;

	room = (int)r->cfg->worker_concurrency - r->inflight;
	if (room <= 0)
		return;
	r->want_claim = 0;
	if (queue_claim(r->env.db, r->worker_id, r->cfg->lease_seconds, room,
	    &claimed, &n, &err) == -1) {
		if (err.code != IG_EUNAVAILABLE)
			log_error(LOG_CTX_NONE, "claim failed: %s", err.msg);
		return;
	}
	for (i = 0; i < n; i++) {
		if (claimed[i].orphan) {
			if (queue_drop(r->env.db, r->worker_id, &claimed[i],
			    &err) == -1)
				log_warn(LOG_CTX_NONE, "drop failed: %s",
				    err.msg);
			continue;
		}
		while (slot < (int)r->cfg->worker_concurrency && r->used[slot])
			slot++;
		if (slot == (int)r->cfg->worker_concurrency) {
			/*
			 * Cannot happen while inflight counts the used slots
			 * and the claim honours its limit; if it ever does,
			 * hand the job back rather than write past the array.
			 */
			log_error(LOG_CTX_NONE, "no free slot for claimed job "
			    "%lld; handing it back", claimed[i].id);
			if (queue_release(r->env.db, r->worker_id,
			    &claimed[i], &err) == -1)
				log_warn(LOG_CTX_NONE, "hand-back failed (the "
				    "lease will expire): %s", err.msg);
			continue;
		}
		job_init(&r->jobs[slot], &claimed[i]);
		r->used[slot] = 1;
		r->inflight++;
		log_info(&r->jobs[slot].log, "claimed (attempt %d)",
		    r->jobs[slot].q.attempts);
	}
	queue_jobs_free(claimed, n);
	if (n > 0)
		failpoint("after_claim");
	/* A full batch means more may be waiting. */
	if (n == room)
		r->want_claim = 1;
}

/* The client canceled: stop the job's transfers, drop its claimed job. */
static void
runner_cancel_slot(struct runner *r, int slot)
{
	struct job	*j = &r->jobs[slot];
	struct ig_err	 err = IG_ERR_INIT;

	if (job_finished(j))
		return;
	log_info(&j->log, "canceled by the client; abandoning the job");
	job_cancel(j, r->multi);
	if (queue_drop(r->env.db, r->worker_id, &j->q, &err) == -1)
		log_warn(&j->log, "could not drop the canceled job (the rescue "
		    "will): %s", err.msg);
}

static void
runner_on_notify(void *arg, const char *channel, const char *payload)
{
	struct runner	*r = arg;
	int		 i;

	if (strcmp(channel, "imggen_jobs") == 0) {
		r->want_claim = 1;
		return;
	}
	if (strcmp(channel, "imggen_cancel") != 0)
		return;
	for (i = 0; i < (int)r->cfg->worker_concurrency; i++)
		if (r->used[i] &&
		    strcmp(r->jobs[i].q.generation_id, payload) == 0)
			runner_cancel_slot(r, i);
}

static void
runner_heartbeat(struct runner *r)
{
	const struct queue_job	*held_jobs[4096];
	int			 held[4096], slots[4096];
	struct ig_err		 err = IG_ERR_INIT;
	int			 i, n = 0;

	/* A job deleting the images of a canceled or failed generation holds no lease. */
	for (i = 0; i < (int)r->cfg->worker_concurrency && n < 4096; i++)
		if (r->used[i] && !job_finished(&r->jobs[i]) &&
		    r->jobs[i].state != JOB_DISCARDING &&
		    r->jobs[i].state != JOB_DISCARD_WAIT) {
			held_jobs[n] = &r->jobs[i].q;
			slots[n++] = i;
		}
	if (n == 0)
		return;
	if (queue_heartbeat(r->env.db, r->worker_id, r->cfg->lease_seconds,
	    held_jobs, n, held, &err) == -1) {
		log_warn(LOG_CTX_NONE, "heartbeat failed: %s", err.msg);
		return;
	}
	for (i = 0; i < n; i++)
		if (!held[i]) {
			/* Fenced out: whatever we would write is refused. */
			log_warn(&r->jobs[slots[i]].log, "lease lost; "
			    "abandoning the job");
			job_abandon(&r->jobs[slots[i]]);
		} else if (held[i] == 2)
			/* A cancel notification we missed. */
			runner_cancel_slot(r, slots[i]);
}

static void
runner_rescue(struct runner *r)
{
	struct ig_err	 err = IG_ERR_INIT;
	long		 n = 0;

	if (queue_rescue(r->env.db, &n, &err) == -1)
		return;
	if (n > 0) {
		log_warn(LOG_CTX_NONE, "rescued %ld job(s) with expired leases",
		    n);
		r->want_claim = 1;
	}
}

/*
 * One step of every job in flight, then one recording batch: every job
 * that is ready to be recorded — already waiting, or reaching RECORDING in
 * this step — is stored and completed together with the others, so a turn
 * pays one commit (and one set of file syncs) rather than one per job.
 * Returns whether any job can go on at once.
 */
static int
runner_step_all(struct runner *r)
{
	struct job	**rec = r->recording;
	int		  i, n = 0, busy = 0;

	for (i = 0; i < (int)r->cfg->worker_concurrency; i++) {
		if (!r->used[i])
			continue;
		if (!job_recording(&r->jobs[i]))
			job_step(&r->jobs[i], &r->env);
		if (job_recording(&r->jobs[i]))
			rec[n++] = &r->jobs[i];
	}
	if (n > 0)
		job_record_batch(rec, n, &r->env);
	for (i = 0; i < (int)r->cfg->worker_concurrency; i++) {
		if (!r->used[i])
			continue;
		if (job_finished(&r->jobs[i])) {
			job_release(&r->jobs[i], r->multi);
			r->used[i] = 0;
			r->inflight--;
			r->want_claim = 1;
		} else if (job_runnable(&r->jobs[i]))
			busy = 1;
	}
	return busy;
}

/* On shutdown past the grace period: give unfinished jobs back at once. */
static void
runner_hand_back(struct runner *r)
{
	struct ig_err	 err = IG_ERR_INIT;
	int		 i;

	for (i = 0; i < (int)r->cfg->worker_concurrency; i++) {
		if (!r->used[i])
			continue;
		if (queue_release(r->env.db, r->worker_id, &r->jobs[i].q,
		    &err) == -1)
			log_warn(&r->jobs[i].log, "hand-back failed (the lease "
			    "will expire): %s", err.msg);
		else
			log_info(&r->jobs[i].log, "handed back at shutdown");
		job_release(&r->jobs[i], r->multi);
		r->used[i] = 0;
		r->inflight--;
	}
}

static void
runner_wait(struct runner *r, double until)
{
	struct curl_waitfd	 fd;
	double			 t = now_s();
	int			 ms, nfds = 0, running;

	ms = until > t ? (int)((until - t) * 1000) + 1 : 0;
	if (db_socket(r->env.db) >= 0) {
		fd.fd = db_socket(r->env.db);
		fd.events = CURL_WAIT_POLLIN;
		fd.revents = 0;
		nfds = 1;
	}
	curl_multi_poll(r->multi, nfds ? &fd : NULL, (unsigned)nfds, ms, NULL);
	curl_multi_perform(r->multi, &running);
	xfer_collect(r->multi);
	db_notifications(r->env.db, runner_on_notify, r);
}

static int
runner_loop(struct runner *r)
{
	struct ig_err	 err = IG_ERR_INIT;
	double		 t, grace_end = 0, until;
	double		 hb = (double)r->cfg->lease_seconds / 3.0;
	int		 busy;

	for (;;) {
		t = now_s();
		if (runner_stop && grace_end == 0) {
			grace_end = t + (double)r->cfg->shutdown_grace_seconds;
			log_info(LOG_CTX_NONE, "stopping: finishing %d job(s)",
			    r->inflight);
		}
		if (runner_stop && (r->inflight == 0 || t >= grace_end))
			break;
		if (db_ensure(r->env.db, &err) == 0)
			runner_listen(r);
		if (!runner_stop && (r->want_claim || t >= r->next_poll)) {
			if (t >= r->next_poll)
				r->next_poll = t +
				    (double)r->cfg->poll_interval_ms / 1000.0;
			runner_claim(r);
		}
		if (t >= r->next_heartbeat) {
			runner_heartbeat(r);
			r->next_heartbeat = t + hb;
		}
		if (t >= r->next_rescue) {
			runner_rescue(r);
			r->next_rescue = t + hb;
		}
		busy = runner_step_all(r);
		until = r->next_poll < r->next_heartbeat ? r->next_poll :
		    r->next_heartbeat;
		if (db_socket(r->env.db) < 0)
			until = t + 1.0;	/* reconnect soon */
		if (busy || (r->want_claim && !runner_stop &&
		    r->inflight < (int)r->cfg->worker_concurrency))
			until = t;
		runner_wait(r, until);
	}
	runner_hand_back(r);
	return 0;
}

int
runner_main(const struct config *cfg, int idx)
{
	struct runner		 r;
	struct sigaction	 sa;
	struct ig_err		 err = IG_ERR_INIT;
	int			 rc = 1;

	memset(&r, 0, sizeof(r));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = runner_on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	r.cfg = cfg;
	runner_make_id(&r, idx);
	r.env.cfg = cfg;
	r.env.worker_id = r.worker_id;
	r.env.provider = provider_find(cfg->provider);
	r.jobs = calloc((size_t)cfg->worker_concurrency, sizeof(*r.jobs));
	r.used = calloc((size_t)cfg->worker_concurrency, sizeof(*r.used));
	r.recording = calloc((size_t)cfg->worker_concurrency,
	    sizeof(*r.recording));
	r.multi = curl_multi_init();
	r.env.multi = r.multi;
	r.env.db = db_new(cfg->database_url, cfg->db_connect_timeout,
	    "imggen-worker");
	if (r.jobs == NULL || r.used == NULL || r.recording == NULL ||
	    r.multi == NULL ||
	    r.env.db == NULL ||
	    (r.env.storage = storage_new(cfg, &err)) == NULL) {
		log_error(LOG_CTX_NONE, "worker start-up failed: %s",
		    err.msg[0] ? err.msg : "out of memory");
		goto out;
	}
	db_set_prepare(r.env.db, cfg->db_prepared != 0);
	if (db_ensure(r.env.db, &err) == 0 && migrate_check(r.env.db, &err) ==
	    -1 && err.code != IG_EUNAVAILABLE) {
		log_error(LOG_CTX_NONE, "%s", err.msg);
		rc = 3;
		goto out;
	}
	if (failpoint_init() > 0)
		log_warn(LOG_CTX_NONE, "IMGGEN_FAILPOINTS is set: this worker "
		    "injects faults on purpose (tests only)");
	log_info(LOG_CTX_NONE, "worker child %d ready as %s", idx, r.worker_id);
	rc = runner_loop(&r);
out:
	storage_free(r.env.storage);
	db_free(r.env.db);
	if (r.multi)
		curl_multi_cleanup(r.multi);
	free(r.jobs);
	free(r.used);
	free(r.recording);
	return rc;
}
