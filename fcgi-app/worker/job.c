#include "job.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include "crypto.h"

void
job_init(struct job *j, struct queue_job *q)
{
	memset(j, 0, sizeof(*j));
	j->q = *q;
	memset(q, 0, sizeof(*q));
	j->state = JOB_CLAIMED;
	j->log.generation_id = j->q.generation_id;
	j->log.job_id = j->q.id;
}

void
job_release_xfers(struct job *j, CURLM *multi)
{
	int	 i;

	for (i = 0; i < j->nxfers; i++)
		xfer_release(multi, &j->xfers[i]);
	j->nxfers = 0;
}

void
job_release(struct job *j, CURLM *multi)
{
	int	 i;

	j->abort = 1;
	job_release_xfers(j, multi);
	for (i = 0; i < GEN_MAX_IMAGES; i++) {
		free(j->img[i].data);
		free(j->img[i].key);
		free(j->img[i].url);
	}
	provider_output_release(&j->out);
	queue_webhook_release(&j->hook);
	free(j->negative_prompt);
	queue_job_release(&j->q);
	memset(j, 0, sizeof(*j));
}

int
job_finished(const struct job *j)
{
	return j->state == JOB_DONE;
}

int
job_all_xfers_done(const struct job *j)
{
	int	 i;

	for (i = 0; i < j->nxfers; i++)
		if (!j->xfers[i].done)
			return 0;
	return 1;
}

int
job_db_unavailable(struct job *j, const struct ig_err *err)
{
	if (err->code != IG_EUNAVAILABLE)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &j->not_before);
	j->not_before.tv_sec += 1;
	return 1;
}

int
job_runnable(const struct job *j)
{
	struct timespec	 now;

	if (j->not_before.tv_sec != 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec < j->not_before.tv_sec ||
		    (now.tv_sec == j->not_before.tv_sec &&
		    now.tv_nsec < j->not_before.tv_nsec))
			return 0;
	}
	if (j->state == JOB_GENERATING_WAIT || j->state == JOB_UPLOADING_WAIT ||
	    j->state == JOB_WEBHOOK_WAIT || j->state == JOB_DISCARD_WAIT)
		return job_all_xfers_done(j);
	return j->state != JOB_DONE;
}

/*
 * Ends a job whose generation is over without it: the objects it named
 * (stored or not) are deleted first, since no uploads row will ever point
 * at them.
 */
static void
job_discard_stored(struct job *j)
{
	int	 i, named = 0;

	for (i = 0; i < GEN_MAX_IMAGES; i++)
		named |= j->img[i].key != NULL;
	j->state = named ? JOB_DISCARDING : JOB_DONE;
}

void
job_cancel(struct job *j, CURLM *multi)
{
	j->abort = 1;			/* stops transfers in flight */
	job_release_xfers(j, multi);
	j->abort = 0;			/* the deletes must run */
	job_discard_stored(j);
}

void
job_abandon(struct job *j)
{
	j->abort = 1;
	j->state = JOB_DONE;
}

void
job_fail(struct job *j)
{
	j->state = JOB_FAILING;
}

void
job_xfer_opts(const struct job_env *env, int upload, struct xfer_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout = env->cfg->provider_connect_timeout;
	o->total_timeout = upload ? env->cfg->storage_timeout :
	    env->cfg->provider_timeout;
	/* An S3 error document is small; a provider answer carries images. */
	o->max_response = upload ? 64 * 1024 :
	    (size_t)env->cfg->provider_max_response;
	o->ca_file = env->cfg->ca_file;
}

long
job_backoff_ms(long base_ms, int attempt)
{
	long		 d = base_ms;
	unsigned int	 r = 0;
	int		 i;

	for (i = 1; i < attempt && d < 3600L * 1000; i++)
		d *= 2;
	if (d > 3600L * 1000)
		d = 3600L * 1000;
	/* Jitter spreads the retries of jobs that failed together. */
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = 0;
	return d - d / 4 + (long)(r % (unsigned long)(d / 2 + 1));
}

/* The seed actually used: the client's, or one derived from the id. */
static uint64_t
job_default_seed(const char *generation_id)
{
	uint8_t	 h[CRYPTO_SHA256_LEN];

	crypto_sha256(generation_id, strlen(generation_id), h);
	return ((uint64_t)h[0] << 24 | (uint64_t)h[1] << 16 |
	    (uint64_t)h[2] << 8 | h[3]);
}

static void
job_step_claimed(struct job *j, const struct job_env *env)
{
	struct json_object	*meta, *v;
	const char		*ratio = "1:1";

	if (strcmp(j->q.kind, "webhook") == 0) {
		j->state = JOB_WEBHOOK_SEND;
		return;
	}
	if ((meta = json_tokener_parse(j->q.metadata)) == NULL) {
		ig_err_setc(&j->err, IG_EPERMANENT, "invalid_request", NULL,
		    "the stored metadata is not JSON");
		job_fail(j);
		return;
	}
	j->requested = json_object_object_get_ex(meta, "numberOfImages", &v) ?
	    json_object_get_int(v) : 1;
	if (json_object_object_get_ex(meta, "aspectRatio", &v))
		ratio = json_object_get_string(v);
	j->params.aspect = provider_aspect_find(env->provider, ratio,
	    strlen(ratio));
	if (json_object_object_get_ex(meta, "seed", &v)) {
		j->params.has_seed = 1;
		j->params.seed = (uint64_t)json_object_get_int64(v);
	} else
		j->params.seed = job_default_seed(j->q.generation_id);
	if (json_object_object_get_ex(meta, "negativePrompt", &v))
		j->negative_prompt = strdup(json_object_get_string(v));
	json_object_put(meta);
	j->params.prompt = j->q.prompt;
	j->params.negative_prompt = j->negative_prompt;
	j->params.count = j->requested;
	/*
	 * The API validated against the provider configured then; refuse
	 * rather than silently drop what the provider configured now lacks.
	 */
	if (j->requested < 1 || j->requested > env->provider->max_images ||
	    j->params.aspect == NULL ||
	    (j->params.has_seed && !env->provider->supports_seed) ||
	    (j->negative_prompt && !env->provider->supports_negative_prompt)) {
		ig_err_setc(&j->err, IG_EPERMANENT, "invalid_request", NULL,
		    "the request cannot be served by provider %s",
		    env->provider->name);
		job_fail(j);
		return;
	}
	j->next = 0;
	j->state = JOB_GENERATING;
}

static void
job_step_failing(struct job *j, const struct job_env *env)
{
	struct ig_err	 err = IG_ERR_INIT;
	int		 permanent = !ig_err_retryable(&j->err), dead = 0;
	long		 delay = job_backoff_ms(env->cfg->retry_base_ms,
			    j->q.attempts);
	const char	*code = permanent ? ig_err_api_code(&j->err) :
			    "attempts_exhausted";

	if (strcmp(j->q.kind, "webhook") == 0) {
		job_step_webhook_failing(j, env);
		return;
	}
	job_release_xfers(j, env->multi);
	if (j->err.retry_after > 0 && j->err.retry_after * 1000 > delay)
		delay = j->err.retry_after * 1000;
	if (queue_fail(env->db, env->worker_id, &j->q, permanent, delay, code,
	    j->err.msg, &dead, &err) == -1) {
		if (job_db_unavailable(j, &err))
			return;		/* still FAILING: hand back later */
		if (err.code == IG_ECONFLICT)
			log_warn(&j->log, "lease lost; leaving the job to its "
			    "new owner");
		else
			/* The lease will expire and the rescue requeues it. */
			log_error(&j->log, "cannot hand the job back: %s",
			    err.msg);
	} else if (dead) {
		log_error(&j->log, "generation failed (%s): %s", code,
		    j->err.msg);
		job_discard_stored(j);
		return;
	} else
		log_warn(&j->log, "attempt %d failed, retry in %ld ms: %s",
		    j->q.attempts, delay, j->err.msg);
	j->state = JOB_DONE;
}

/*
 * Whether the state just entered is cheap enough to run in the same turn:
 * starting the provider calls (not rendering, which takes a fraction of a
 * second per image and must leave the loop to the other jobs), and naming
 * or starting the uploads.  Each saves the job a turn of the loop, and a
 * turn costs the commits of its claim and its recording batch.
 */
static int
job_step_again(const struct job *j, const struct job_env *env)
{
	if (j->state == JOB_UPLOADING)
		return 1;
	return j->state == JOB_GENERATING &&
	    env->provider->kind != PROVIDER_LOCAL;
}

void
job_step(struct job *j, const struct job_env *env)
{
	static void (*const steps[JOB_STATE__MAX])(struct job *,
	    const struct job_env *) = {
		[JOB_CLAIMED]		= job_step_claimed,
		[JOB_GENERATING]	= job_step_generating,
		[JOB_GENERATING_WAIT]	= job_step_generating_wait,
		[JOB_UPLOADING]		= job_step_uploading,
		[JOB_UPLOADING_WAIT]	= job_step_uploading_wait,
		[JOB_RECORDING]		= job_step_recording,
		[JOB_WEBHOOK_SEND]	= job_step_webhook_send,
		[JOB_WEBHOOK_WAIT]	= job_step_webhook_wait,
		[JOB_DISCARDING]	= job_step_discarding,
		[JOB_DISCARD_WAIT]	= job_step_discard_wait,
		[JOB_FAILING]		= job_step_failing,
	};

	do {
		if (j->state >= JOB_STATE__MAX || steps[j->state] == NULL ||
		    !job_runnable(j))
			return;
		steps[j->state](j, env);
	} while (job_step_again(j, env));
}
