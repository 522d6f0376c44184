/*
 * job: one claimed generation job as a small state machine.
 *
 *   CLAIMED → GENERATING [→ GENERATING_WAIT] → UPLOADING [→ UPLOADING_WAIT]
 *           → RECORDING → DONE,  and any failure → FAILING → DONE
 *
 * Each job_step() call does one bounded piece of work: read the parameters,
 * render one image (local) or start the provider calls (HTTP providers),
 * collect finished calls, store one image or start the uploads, record the
 * result.  The _WAIT states only look at transfers that the runner's event
 * loop drives, so one loop advances many jobs.  FAILING hands the job back
 * (retry with backoff) or fails the generation (permanent error, attempts
 * exhausted, or every image refused by the provider).  A job whose lease
 * was lost is abandoned: its transfers are aborted and nothing is written.
 */
#ifndef IG_JOB_H
#define IG_JOB_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <curl/curl.h>

#include "config.h"
#include "generation.h"
#include "ig_err.h"
#include "log.h"
#include "png.h"
#include "provider.h"
#include "provider_http.h"
#include "queue.h"
#include "storage.h"
#include "xfer.h"

enum job_state {
	JOB_CLAIMED = 0,
	JOB_GENERATING,
	JOB_GENERATING_WAIT,
	JOB_UPLOADING,
	JOB_UPLOADING_WAIT,
	JOB_RECORDING,
	JOB_WEBHOOK_SEND,
	JOB_WEBHOOK_WAIT,
	JOB_DISCARDING,
	JOB_DISCARD_WAIT,
	JOB_FAILING,
	JOB_DONE,
	JOB_STATE__MAX
};

struct job_image {
	uint8_t		*data;
	size_t		 len;
	struct png_info	 info;
	char		 sha256[65];
	char		*key;
	char		*url;
};

/* What the jobs of one worker child share. */
struct job_env {
	const struct config		*cfg;
	struct db			*db;
	struct storage			*storage;
	const struct provider_info	*provider;
	CURLM				*multi;
	const char			*worker_id;
};

struct job {
	struct queue_job	 q;
	enum job_state		 state;
	int			 requested;	/* numberOfImages */
	int			 count;		/* images actually produced */
	int			 filtered;
	struct provider_params	 params;
	char			*negative_prompt;
	int			 next;
	struct job_image	 img[GEN_MAX_IMAGES];
	struct xfer		 xfers[GEN_MAX_IMAGES];
	int			 nxfers;
	struct provider_output	 out;
	char			 request_ids[GEN_MAX_IMAGES][80];
	struct timespec		 gen_start;	/* provider time, for metrics */
	long			 provider_ms;
	struct queue_webhook	 hook;		/* webhook jobs */
	struct timespec		 not_before;	/* database down: wait */
	int			 abort;		/* watched by transfers */
	int			 deferred;	/* fs: images named, stored when recorded */
	struct ig_err		 err;
	struct log_ctx		 log;
};

/* Takes ownership of q's strings. */
void	job_init(struct job *, struct queue_job *q);
/* Aborts the job's transfers and frees everything. */
void	job_release(struct job *, CURLM *);
void	job_step(struct job *, const struct job_env *);
int	job_finished(const struct job *);
/* Whether a step would make progress now (not waiting on transfers). */
int	job_runnable(const struct job *);
/*
 * The database is unreachable: keep the job (its work is done or its
 * failure known) and try the write again a second later.
 */
int	job_db_unavailable(struct job *, const struct ig_err *);
/*
 * The client canceled: stop the job's transfers and delete whatever it
 * stored (images of a canceled generation must not linger in storage).
 */
void	job_cancel(struct job *, CURLM *);
/* Lease lost: stop at once and write nothing. */
void	job_abandon(struct job *);
/* Whether the job waits to be recorded (its RECORDING step can run now). */
int	job_recording(const struct job *);
/*
 * Records jobs that are all in RECORDING: their deferred fs images are
 * stored in one durable batch, then up to QUEUE_BATCH_MAX of them are
 * completed per statement.  Each job then goes on as its own recording
 * step would have taken it (DONE, DISCARDING, FAILING, or still RECORDING
 * after a database outage).
 */
void	job_record_batch(struct job **, int n, const struct job_env *);
/* Delay before retry attempt n (1-based): base * 2^(n-1), ±25 % jitter. */
long	job_backoff_ms(long base_ms, int attempt);

/* Steps, by module (job_generate.c, job_upload.c, job_record.c). */
void	job_step_generating(struct job *, const struct job_env *);
void	job_step_generating_wait(struct job *, const struct job_env *);
void	job_step_uploading(struct job *, const struct job_env *);
void	job_step_uploading_wait(struct job *, const struct job_env *);
void	job_step_recording(struct job *, const struct job_env *);
void	job_step_webhook_send(struct job *, const struct job_env *);
void	job_step_webhook_wait(struct job *, const struct job_env *);
void	job_step_webhook_failing(struct job *, const struct job_env *);
void	job_step_discarding(struct job *, const struct job_env *);
void	job_step_discard_wait(struct job *, const struct job_env *);
/* Shared by the step modules. */
void	job_fail(struct job *);
int	job_all_xfers_done(const struct job *);
void	job_release_xfers(struct job *, CURLM *);
void	job_xfer_opts(const struct job_env *, int upload, struct xfer_opts *);

#endif
