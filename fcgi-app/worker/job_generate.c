/* The generating states of a job: local rendering or provider calls. */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "failpoint.h"
#include "job.h"
#include "render.h"

/* Takes an image into slot `idx`: probe it, hash it. */
static int
job_take_image(struct job *j, int idx, uint8_t *data, size_t len)
{
	struct job_image	*im = &j->img[idx];
	uint8_t			 h[CRYPTO_SHA256_LEN];

	im->data = data;
	im->len = len;
	if (png_probe(data, len, &im->info) == -1)
		return ig_err_set(&j->err, IG_ETRANSIENT, NULL,
		    "the provider returned an unreadable image");
	crypto_sha256(data, len, h);
	crypto_hex(h, sizeof(h), im->sha256);
	return 0;
}

/* Milliseconds since the job's generating began. */
static long
job_elapsed_ms(const struct job *j)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((now.tv_sec - j->gen_start.tv_sec) * 1000 +
	    (now.tv_nsec - j->gen_start.tv_nsec) / 1000000);
}

/* Local: one image per step, so other jobs get their turn in between. */
static void
job_render_one(struct job *j)
{
	uint8_t	*png = NULL;
	size_t	 len = 0;

	if (render_image(j->q.prompt, strlen(j->q.prompt), j->params.seed,
	    (unsigned)j->next, j->params.aspect->width,
	    j->params.aspect->height, &png, &len) == -1) {
		ig_err_set(&j->err, IG_ETRANSIENT, NULL, "render failed");
		job_fail(j);
		return;
	}
	if (job_take_image(j, j->next, png, len) == -1) {
		job_fail(j);
		return;
	}
	if (++j->next == j->requested) {
		j->count = j->requested;
		j->next = 0;
		j->provider_ms = job_elapsed_ms(j);
		j->state = JOB_UPLOADING;
		failpoint("after_generate");
	}
}

static void
job_start_calls(struct job *j, const struct job_env *env)
{
	struct http_request	 req;
	struct xfer_opts	 o;
	int			 i, n;

	n = provider_http_calls(env->provider, j->requested);
	job_xfer_opts(env, 0, &o);
	for (i = 0; i < n && i < GEN_MAX_IMAGES; i++) {
		http_request_init(&req, "POST", 1024 * 1024);
		if (provider_http_build(env->provider, env->cfg, &j->params, i,
		    &req, &j->err) == -1) {
			http_request_release(&req);
			job_fail(j);
			return;
		}
		j->nxfers++;
		if (xfer_start(env->multi, &j->xfers[i], &req, &o, &j->abort,
		    &j->err) == -1) {
			http_request_release(&req);
			job_fail(j);
			return;
		}
	}
	j->state = JOB_GENERATING_WAIT;
}

void
job_step_generating(struct job *j, const struct job_env *env)
{
	if (j->next == 0 && j->gen_start.tv_sec == 0)
		clock_gettime(CLOCK_MONOTONIC, &j->gen_start);
	if (env->provider->kind == PROVIDER_LOCAL)
		job_render_one(j);
	else
		job_start_calls(j, env);
}

/* Every call answered: parse them all, then judge the whole attempt. */
void
job_step_generating_wait(struct job *j, const struct job_env *env)
{
	char		 what[64];
	struct xfer	*x;
	int		 i;

	snprintf(what, sizeof(what), "provider %s", env->provider->name);
	for (i = 0; i < j->nxfers; i++) {
		x = &j->xfers[i];
		if (xfer_transport_error(x, what, &j->err) == -1)
			goto fail;
		if (x->status < 200 || x->status > 299) {
			provider_http_error(env->provider, x->status,
			    x->retry_after, buf_cstr(&x->resp), x->resp.len,
			    &j->err);
			goto fail;
		}
		if (provider_http_parse(env->provider, &j->params, i,
		    buf_cstr(&x->resp), x->resp.len, &j->out, &j->err) == -1)
			goto fail;
		memcpy(j->request_ids[i], x->request_id, sizeof(x->request_id));
	}
	job_release_xfers(j, env->multi);
	j->provider_ms = job_elapsed_ms(j);
	if (j->out.nimages == 0) {
		ig_err_setc(&j->err, IG_EPERMANENT, "content_filtered", NULL,
		    "the provider refused every image (safety filter)");
		job_fail(j);
		return;
	}
	/* Fewer images than asked: the rest were filtered; say so. */
	j->filtered = j->requested - j->out.nimages;
	if (j->out.filtered > j->filtered)
		j->filtered = j->out.filtered;
	for (i = 0; i < j->out.nimages; i++) {
		uint8_t	*data = j->out.images[i].data;

		j->out.images[i].data = NULL;
		if (job_take_image(j, i, data, j->out.images[i].len) == -1)
			goto fail_taken;
	}
	j->count = j->out.nimages;
	j->out.nimages = 0;
	j->next = 0;
	j->state = JOB_UPLOADING;
	failpoint("after_generate");
	return;
fail:
	job_release_xfers(j, env->multi);
fail_taken:
	job_fail(j);
}
