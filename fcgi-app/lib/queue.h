/*
 * queue: the jobs table as the worker sees it — claim, heartbeat, complete,
 * retry or fail, and rescue of expired leases.
 *
 * A claim increments jobs.attempts; (job id, attempts, worker id) is the
 * lease, and every later write names it, so a worker whose lease expired
 * and was taken over changes nothing (the write matches no row and returns
 * IG_ECONFLICT).  No transaction is held open between calls.
 */
#ifndef IG_QUEUE_H
#define IG_QUEUE_H

#include <stddef.h>

#include "db.h"
#include "ig_err.h"

struct queue_job {
	long long	 id;
	int		 attempts;
	int		 max_attempts;
	char		 kind[16];
	char		 generation_id[40];
	char		 user_id[40];
	int		 orphan;	/* the generation is already terminal */
	char		*prompt;	/* owned */
	char		*metadata;	/* owned; the jsonb as text */
};

struct queue_upload {
	int		 idx;
	const char	*storage_key;
	const char	*public_url;
	const char	*mime_type;
	size_t		 size;
	unsigned	 width, height;
	char		 sha256[65];
};

/* Claims up to max jobs; *jobs is an array of *njobs to queue_jobs_free. */
int	queue_claim(struct db *, const char *worker_id, long lease_seconds,
	    int max, struct queue_job **jobs, int *njobs, struct ig_err *)
	    __attribute__((warn_unused_result));
void	queue_jobs_free(struct queue_job *, int n);
void	queue_job_release(struct queue_job *);
/*
 * Extends the leases of the given jobs in one statement.  held[i] is set to
 * 0 (lease lost), 1 (still ours) or 2 (still ours, but the client canceled
 * the generation).
 */
int	queue_heartbeat(struct db *, const char *worker_id, long lease_seconds,
	    const struct queue_job *const *jobs, int n, int *held,
	    struct ig_err *) __attribute__((warn_unused_result));
/*
 * Records the uploads, completes the generation and deletes the job, in one
 * statement.  IG_ECONFLICT when the lease was lost or the generation was
 * canceled meanwhile (then nothing is recorded and the job is deleted; the
 * cancel is told apart by api_code "canceled").  A batch of one.
 */
int	queue_complete(struct db *, const char *worker_id,
	    const struct queue_job *, const struct queue_upload *, int n,
	    const char *ai_metadata_json, const char *tokens_json,
	    struct ig_err *)
	    __attribute__((warn_unused_result));

/* Most completions per queue_complete_batch() statement. */
#define QUEUE_BATCH_MAX	64

/* One job's completion: what queue_complete() takes, as a struct. */
struct queue_completion {
	const struct queue_job		*job;
	const struct queue_upload	*up;
	int				 nup;
	const char			*ai_metadata_json;
	const char			*tokens_json;
};

/* What happened to one job of a batch. */
enum queue_outcome {
	QUEUE_COMPLETED = 0,	/* recorded, job deleted */
	QUEUE_LOST,		/* the lease was not ours: nothing written */
	QUEUE_CANCELED		/* job deleted, generation canceled: nothing recorded */
};

/*
 * Completes up to QUEUE_BATCH_MAX jobs in one statement, so one commit (one
 * WAL flush) for all of them.  Each job is fenced by its own lease exactly
 * as in queue_complete(); out[i] says what happened to c[i].  -1 (nothing
 * written for any job) when the statement itself failed.
 */
int	queue_complete_batch(struct db *, const char *worker_id,
	    const struct queue_completion *c, int n, enum queue_outcome *out,
	    struct ig_err *) __attribute__((warn_unused_result));
/*
 * Hands a failed attempt back: requeued after delay_ms, or — when permanent
 * or out of attempts — the job dead and the generation failed with
 * code/message.  *dead tells which.  IG_ECONFLICT when the lease was lost.
 */
int	queue_fail(struct db *, const char *worker_id, const struct queue_job *,
	    int permanent, long delay_ms, const char *code, const char *message,
	    int *dead, struct ig_err *) __attribute__((warn_unused_result));
/* Gives a job back at once without counting the attempt (shutdown). */
int	queue_release(struct db *, const char *worker_id,
	    const struct queue_job *, struct ig_err *)
	    __attribute__((warn_unused_result));
/* Deletes a claimed job whose generation is already terminal. */
int	queue_drop(struct db *, const char *worker_id, const struct queue_job *,
	    struct ig_err *) __attribute__((warn_unused_result));
/*
 * Puts dead jobs back in the queue with fresh attempts (all of them, or
 * the one with id job_id when > 0): a generate job of a failed generation,
 * which becomes queued again, or a webhook delivery, whose generation
 * keeps its status.
 */
int	queue_requeue_dead(struct db *, long long job_id, long *requeued,
	    struct ig_err *) __attribute__((warn_unused_result));
/*
 * Deletes dead jobs older than dead_days and, when generation_days > 0,
 * finished generations (with their uploads rows) older than that.
 */
int	queue_prune(struct db *, long dead_days, long generation_days,
	    long *jobs, long *generations, struct ig_err *)
	    __attribute__((warn_unused_result));
/* What a webhook job sends, and where. */
struct queue_webhook {
	char	*body;		/* owned: {"type","timestamp","data":status} */
	char	*url;		/* owned */
	char	 user_id[40];
	int	 secret_version;
};

int	queue_webhook_payload(struct db *, const char *generation_id,
	    struct queue_webhook *, struct ig_err *)
	    __attribute__((warn_unused_result));
void	queue_webhook_release(struct queue_webhook *);
/* Deletes the webhook job (fenced) and records the delivery. */
int	queue_webhook_delivered(struct db *, const char *worker_id,
	    const struct queue_job *, const char *url, long status,
	    const char *detail, struct ig_err *)
	    __attribute__((warn_unused_result));
/* Records a failed delivery attempt (the job itself goes via queue_fail). */
int	queue_webhook_attempt(struct db *, const struct queue_job *,
	    const char *generation_id, const char *url, long status, int dead,
	    const char *detail, struct ig_err *)
	    __attribute__((warn_unused_result));
/* Requeues (or kills, when out of attempts) jobs whose lease expired. */
int	queue_rescue(struct db *, long *rescued, struct ig_err *)
	    __attribute__((warn_unused_result));

#endif
