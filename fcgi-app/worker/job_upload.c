/*
 * The uploading states of a job: fs writes deferred to the recording batch
 * (job_record.c), s3 puts in parallel.
 */
#include <stdlib.h>
#include <string.h>

#include "job.h"

static const char *
job_ext(const struct png_info *info)
{
	switch (info->kind) {
	case PNG_KIND_JPEG: return "jpg";
	case PNG_KIND_WEBP: return "webp";
	default:	    return "png";
	}
}

static int
job_name_image(struct job *j, const struct job_env *env, int i)
{
	struct job_image	*im = &j->img[i];
	struct buf		 key = BUF_INIT(1024), url = BUF_INIT(4096);

	storage_key(j->q.user_id, j->q.generation_id, i, job_ext(&im->info),
	    &key);
	storage_public_url(env->storage, buf_cstr(&key), &url);
	free(im->key);
	free(im->url);
	im->key = buf_take(&key, NULL);
	im->url = buf_take(&url, NULL);
	buf_free(&url);
	if (im->key == NULL || im->url == NULL)
		return ig_err_set(&j->err, IG_ENOMEM, NULL, "out of memory");
	return 0;
}

void
job_step_uploading(struct job *j, const struct job_env *env)
{
	struct http_request	 req;
	struct xfer_opts	 o;
	struct job_image	*im;
	int			 i, rc;

	/*
	 * fs writes wait for the recording batch, so that the files of every
	 * job recorded in one loop turn share their fsyncs.
	 */
	if (storage_batched(env->storage)) {
		for (i = 0; i < j->count; i++)
			if (job_name_image(j, env, i) == -1)
				goto fail;
		j->deferred = 1;
		j->state = JOB_RECORDING;
		return;
	}
	job_xfer_opts(env, 1, &o);
	for (i = 0; i < j->count; i++) {
		im = &j->img[i];
		if (job_name_image(j, env, i) == -1)
			goto fail;
		memset(&req, 0, sizeof(req));
		rc = storage_put_begin(env->storage, im->key, im->data, im->len,
		    im->info.mime, &req, &j->err);
		if (rc == -1) {
			http_request_release(&req);
			goto fail;
		}
		if (rc == STORAGE_STORED)
			continue;
		j->nxfers++;
		if (xfer_start(env->multi, &j->xfers[j->nxfers - 1], &req, &o,
		    &j->abort, &j->err) == -1) {
			http_request_release(&req);
			goto fail;
		}
	}
	j->state = j->nxfers ? JOB_UPLOADING_WAIT : JOB_RECORDING;
	return;
fail:
	job_fail(j);
}

void
job_step_uploading_wait(struct job *j, const struct job_env *env)
{
	struct xfer	*x;
	int		 i;

	for (i = 0; i < j->nxfers; i++) {
		x = &j->xfers[i];
		if (xfer_transport_error(x, "storage", &j->err) == -1 ||
		    storage_put_end(env->storage, x->status, x->retry_after,
		    buf_cstr(&x->resp), x->resp.len, &j->err) == -1) {
			job_fail(j);
			return;
		}
	}
	job_release_xfers(j, env->multi);
	j->state = JOB_RECORDING;
}

/*
 * Deletes every object this job named (a missing one is fine): its
 * generation was canceled, or failed for good.
 */
void
job_step_discarding(struct job *j, const struct job_env *env)
{
	struct http_request	 req;
	struct xfer_opts	 o;
	struct ig_err		 err = IG_ERR_INIT;
	int			 i, rc;

	job_xfer_opts(env, 1, &o);
	for (i = 0; i < GEN_MAX_IMAGES; i++) {
		if (j->img[i].key == NULL)
			continue;
		memset(&req, 0, sizeof(req));
		rc = storage_delete_begin(env->storage, j->img[i].key, &req,
		    &err);
		if (rc == STORAGE_HTTP && xfer_start(env->multi,
		    &j->xfers[j->nxfers++], &req, &o, &j->abort, &err) == 0)
			continue;
		http_request_release(&req);
		if (rc == -1)
			log_warn(&j->log, "could not delete %s: %s",
			    j->img[i].key, err.msg);
	}
	j->state = j->nxfers ? JOB_DISCARD_WAIT : JOB_DONE;
}

void
job_step_discard_wait(struct job *j, const struct job_env *env)
{
	struct ig_err	 err = IG_ERR_INIT;
	int		 i;

	for (i = 0; i < j->nxfers; i++)
		if (xfer_transport_error(&j->xfers[i], "storage", &err) == -1 ||
		    (j->xfers[i].status != 404 && storage_put_end(env->storage,
		    j->xfers[i].status, 0, buf_cstr(&j->xfers[i].resp),
		    j->xfers[i].resp.len, &err) == -1))
			log_warn(&j->log, "could not delete an image of the "
			    "canceled or failed generation: %s", err.msg);
	job_release_xfers(j, env->multi);
	j->state = JOB_DONE;
}
