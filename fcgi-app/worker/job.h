/*
 * job: one claimed generation job as a small state machine.
 *
 *   CLAIMED → GENERATING → UPLOADING → RECORDING → DONE
 *
 * Each call to job_step() does one bounded piece of work (read the
 * parameters, render or receive one image, store one image, record the
 * result) so that one event loop can advance many jobs.  Any failure ends
 * in FAILING, which hands the job back (retry with backoff) or fails the
 * generation (permanent error or attempts exhausted).  A job whose lease
 * was lost is abandoned without writing anything.
 */
#ifndef IG_JOB_H
#define IG_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "generation.h"
#include "ig_err.h"
#include "log.h"
#include "png.h"
#include "provider.h"
#include "queue.h"
#include "storage.h"

enum job_state {
	JOB_CLAIMED = 0,
	JOB_GENERATING,
	JOB_UPLOADING,
	JOB_RECORDING,
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
	struct db			*db;
	struct storage			*storage;
	const struct provider_info	*provider;
	const char			*worker_id;
	long				 retry_base_ms;
};

struct job {
	struct queue_job	 q;
	enum job_state		 state;
	int			 count;
	const struct provider_aspect *aspect;
	uint64_t		 seed;
	int			 next;
	struct job_image	 img[GEN_MAX_IMAGES];
	struct ig_err		 err;
	struct log_ctx		 log;
};

/* Takes ownership of q's strings. */
void	job_init(struct job *, struct queue_job *q);
void	job_release(struct job *);
/* Advances the job by one step. */
void	job_step(struct job *, const struct job_env *);
int	job_finished(const struct job *);
/* Delay before retry attempt n (1-based): base * 2^(n-1), ±25 % jitter. */
long	job_backoff_ms(long base_ms, int attempt);

#endif
