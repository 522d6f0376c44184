/*
 * The recording state of generation jobs, in batches: the runner hands over
 * every job that reached RECORDING in one turn of its loop, and they are
 * stored (fs: one batched, durable write of all their files) and completed
 * in one statement — one commit for the batch instead of one per job.  Per
 * job the outcome is what the one-job path gives: completed, lease lost
 * (nothing written), canceled (its stored images deleted), database down
 * (kept and retried a second later), or failed (handed back for a retry).
 */
#include <stdlib.h>
#include <string.h>

#include "failpoint.h"
#include "job.h"

/* The model as the provider reported it, else the one we asked for. */
static const char *
job_model(const struct job *j, const struct job_env *env)
{
	if (j->out.model[0] != '\0')
		return j->out.model;
	switch (env->provider->kind) {
	case PROVIDER_IMAGEN:	return env->cfg->imagen_model;
	case PROVIDER_GEMINI:	return env->cfg->gemini_model;
	case PROVIDER_OPENAI:	return env->cfg->openai_model;
	default:		return "local-procedural-1";
	}
}

static void
job_ai_metadata(const struct job *j, const struct job_env *env,
    struct buf *ai, struct buf *tokens)
{
	const char	*model = job_model(j, env);
	int		 i, n;

	buf_adds(ai, "{\"provider\":\"");
	buf_add_json_escaped(ai, env->provider->name,
	    strlen(env->provider->name));
	buf_adds(ai, "\",\"model\":\"");
	buf_add_json_escaped(ai, model, strlen(model));
	buf_addf(ai, "\",\"requested\":%d,\"filtered\":%d,\"providerMs\":%ld",
	    j->requested, j->filtered, j->provider_ms);
	/* The provider's ids of the calls, for support requests to them. */
	for (i = n = 0; i < GEN_MAX_IMAGES; i++) {
		if (j->request_ids[i][0] == '\0')
			continue;
		buf_adds(ai, n++ ? ",\"" : ",\"providerRequestIds\":[\"");
		buf_add_json_escaped(ai, j->request_ids[i],
		    strlen(j->request_ids[i]));
		buf_addc(ai, '"');
	}
	if (n)
		buf_addc(ai, ']');
	if (j->params.has_seed || env->provider->kind == PROVIDER_LOCAL)
		buf_addf(ai, ",\"seed\":%llu",
		    (unsigned long long)j->params.seed);
	buf_addc(ai, '}');
	if (j->out.has_usage)
		buf_addf(tokens, "{\"input\":%lld,\"output\":%lld,\"total\":"
		    "%lld}", j->out.input_tokens, j->out.output_tokens,
		    j->out.total_tokens);
	else
		buf_adds(tokens, "null");
}

/* The uploads rows of a job, pointing into its images. */
static void
job_uploads(const struct job *j, struct queue_upload *up)
{
	int	 i;

	for (i = 0; i < j->count; i++) {
		up[i].idx = i;
		up[i].storage_key = j->img[i].key;
		up[i].public_url = j->img[i].url;
		up[i].mime_type = j->img[i].info.mime;
		up[i].size = j->img[i].len;
		up[i].width = j->img[i].info.width;
		up[i].height = j->img[i].info.height;
		memcpy(up[i].sha256, j->img[i].sha256, sizeof(up[i].sha256));
	}
}

/*
 * Stores the images of the jobs whose fs writes were deferred to here, all
 * in one storage batch.  A job with a failed image fails (and is retried)
 * as a failed upload did before; the others go into ready[], stored.
 */
static int
job_record_store(struct job **jobs, int n, const struct job_env *env,
    struct job **ready)
{
	struct storage_obj	*o;
	int			*owner, i, k, no = 0, nready = 0;

	o = calloc((size_t)n * GEN_MAX_IMAGES, sizeof(*o));
	owner = calloc((size_t)n * GEN_MAX_IMAGES, sizeof(*owner));
	for (i = 0; i < n; i++)
		for (k = 0; jobs[i]->deferred && k < jobs[i]->count; k++) {
			if (o == NULL || owner == NULL) {
				ig_err_set(&jobs[i]->err, IG_ENOMEM, NULL,
				    "out of memory");
				job_fail(jobs[i]);
				break;
			}
			o[no].key = jobs[i]->img[k].key;
			o[no].data = jobs[i]->img[k].data;
			o[no].len = jobs[i]->img[k].len;
			owner[no++] = i;
		}
	if (no > 0 && storage_put_batch(env->storage, o, no) > 0)
		for (k = 0; k < no; k++)
			if (o[k].failed && jobs[owner[k]]->state == JOB_RECORDING) {
				jobs[owner[k]]->err = o[k].err;
				job_fail(jobs[owner[k]]);
			}
	for (i = 0; i < n; i++)
		if (jobs[i]->state == JOB_RECORDING) {
			jobs[i]->deferred = 0;
			failpoint("after_upload");
			ready[nready++] = jobs[i];
		}
	free(o);
	free(owner);
	return nready;
}

/* What the completion statement said about one job. */
static void
job_record_outcome(struct job *j, enum queue_outcome out)
{
	switch (out) {
	case QUEUE_COMPLETED:
		log_info(&j->log, "generation completed: %d image(s), %d "
		    "filtered, attempt %d", j->count, j->filtered,
		    j->q.attempts);
		j->state = JOB_DONE;
		break;
	case QUEUE_CANCELED:
		log_info(&j->log, "canceled before it was recorded; "
		    "deleting its stored images");
		j->state = JOB_DISCARDING;
		break;
	default:
		ig_err_set(&j->err, IG_ECONFLICT, NULL, "the job's lease was "
		    "lost");
		log_warn(&j->log, "not recorded: %s", j->err.msg);
		j->state = JOB_DONE;
		break;
	}
}

/*
 * Completes n stored jobs in one statement.  When the statement fails for
 * a batch of several, nothing was written for any of them: -1 tells the
 * caller to complete them one by one, so each job meets its own error (one
 * bad row must not fail the others).  A database that is down keeps every
 * job in RECORDING for a retry.
 */
static int
job_record_jobs(struct job **jobs, int n, const struct job_env *env)
{
	struct queue_upload	 up[QUEUE_BATCH_MAX][GEN_MAX_IMAGES];
	struct queue_completion	 c[QUEUE_BATCH_MAX];
	enum queue_outcome	 out[QUEUE_BATCH_MAX];
	struct buf		 ai[QUEUE_BATCH_MAX], tokens[QUEUE_BATCH_MAX];
	struct ig_err		 err = IG_ERR_INIT;
	int			 i, rc = 0;

	memset(c, 0, sizeof(c));
	for (i = 0; i < n; i++) {
		buf_init(&ai[i], 4096);
		buf_init(&tokens[i], 256);
		job_uploads(jobs[i], up[i]);
		job_ai_metadata(jobs[i], env, &ai[i], &tokens[i]);
		c[i].job = &jobs[i]->q;
		c[i].up = up[i];
		c[i].nup = jobs[i]->count;
		c[i].ai_metadata_json = buf_cstr(&ai[i]);
		c[i].tokens_json = buf_cstr(&tokens[i]);
	}
	if (queue_complete_batch(env->db, env->worker_id, c, n, out,
	    &err) == 0)
		for (i = 0; i < n; i++)
			job_record_outcome(jobs[i], out[i]);
	else if (err.code == IG_EUNAVAILABLE)
		/* Still RECORDING: the images are stored; retry. */
		for (i = 0; i < n; i++)
			job_db_unavailable(jobs[i], &err);
	else if (n == 1) {
		jobs[0]->err = err;
		job_fail(jobs[0]);
	} else {
		log_warn(LOG_CTX_NONE, "completing %d jobs together failed "
		    "(%s); completing them one by one", n, err.msg);
		rc = -1;
	}
	for (i = 0; i < n; i++) {
		buf_free(&ai[i]);
		buf_free(&tokens[i]);
	}
	return rc;
}

/* Up to QUEUE_BATCH_MAX jobs: store, then complete together. */
static void
job_record_chunk(struct job **jobs, int n, const struct job_env *env)
{
	struct job	*ready[QUEUE_BATCH_MAX];
	int		 i, nready;

	nready = job_record_store(jobs, n, env, ready);
	if (nready == 0 || job_record_jobs(ready, nready, env) == 0)
		return;
	for (i = 0; i < nready; i++)
		(void)job_record_jobs(&ready[i], 1, env);
}

int
job_recording(const struct job *j)
{
	return j->state == JOB_RECORDING && job_runnable(j);
}

void
job_record_batch(struct job **jobs, int n, const struct job_env *env)
{
	int	 k;

	for (; n > 0; jobs += k, n -= k) {
		k = n < QUEUE_BATCH_MAX ? n : QUEUE_BATCH_MAX;
		job_record_chunk(jobs, k, env);
	}
}

/* A job stepped on its own records as a batch of one. */
void
job_step_recording(struct job *j, const struct job_env *env)
{
	job_record_batch(&j, 1, env);
}
