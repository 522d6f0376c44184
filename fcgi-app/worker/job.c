#include "job.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include "crypto.h"
#include "render.h"

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
job_release(struct job *j)
{
	int	 i;

	for (i = 0; i < GEN_MAX_IMAGES; i++) {
		free(j->img[i].data);
		free(j->img[i].key);
		free(j->img[i].url);
	}
	queue_job_release(&j->q);
	memset(j, 0, sizeof(*j));
}

int
job_finished(const struct job *j)
{
	return j->state == JOB_DONE;
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
	/* Jitter spreads retries of jobs that failed together. */
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = 0;
	return d - d / 4 + (long)(r % (unsigned long)(d / 2 + 1));
}

static void
job_fail(struct job *j)
{
	j->state = JOB_FAILING;
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

	if ((meta = json_tokener_parse(j->q.metadata)) == NULL) {
		ig_err_setc(&j->err, IG_EPERMANENT, "invalid_request", NULL,
		    "the stored metadata is not JSON");
		job_fail(j);
		return;
	}
	j->count = json_object_object_get_ex(meta, "numberOfImages", &v) ?
	    json_object_get_int(v) : 1;
	if (json_object_object_get_ex(meta, "aspectRatio", &v))
		j->aspect = provider_aspect_find(env->provider,
		    json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
	if (json_object_object_get_ex(meta, "seed", &v))
		j->seed = (uint64_t)json_object_get_int64(v);
	else
		j->seed = job_default_seed(j->q.generation_id);
	json_object_put(meta);
	if (j->count < 1 || j->count > GEN_MAX_IMAGES || j->aspect == NULL) {
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
job_step_generating(struct job *j, const struct job_env *env)
{
	struct job_image	*im = &j->img[j->next];
	uint8_t			 h[CRYPTO_SHA256_LEN];

	(void)env;
	if (render_image(j->q.prompt, strlen(j->q.prompt), j->seed,
	    (unsigned)j->next, j->aspect->width, j->aspect->height, &im->data,
	    &im->len) == -1) {
		ig_err_set(&j->err, IG_ETRANSIENT, NULL, "render failed");
		job_fail(j);
		return;
	}
	if (png_probe(im->data, im->len, &im->info) == -1) {
		ig_err_set(&j->err, IG_EINTERNAL, NULL,
		    "the provider returned an unreadable image");
		job_fail(j);
		return;
	}
	crypto_sha256(im->data, im->len, h);
	crypto_hex(h, sizeof(h), im->sha256);
	if (++j->next == j->count) {
		j->next = 0;
		j->state = JOB_UPLOADING;
	}
}

static const char *
job_ext(const struct png_info *info)
{
	switch (info->kind) {
	case PNG_KIND_JPEG: return "jpg";
	case PNG_KIND_WEBP: return "webp";
	default:	    return "png";
	}
}

static void
job_step_uploading(struct job *j, const struct job_env *env)
{
	struct job_image	*im = &j->img[j->next];
	struct buf		 key = BUF_INIT(1024), url = BUF_INIT(4096);

	storage_key(j->q.user_id, j->q.generation_id, j->next,
	    job_ext(&im->info), &key);
	storage_public_url(env->storage, buf_cstr(&key), &url);
	if ((im->key = buf_take(&key, NULL)) == NULL ||
	    (im->url = buf_take(&url, NULL)) == NULL) {
		buf_free(&url);
		ig_err_set(&j->err, IG_ENOMEM, NULL, "out of memory");
		job_fail(j);
		return;
	}
	struct http_request	 req;

	if (storage_put_begin(env->storage, im->key, im->data, im->len,
	    im->info.mime, &req, &j->err) != STORAGE_STORED) {
		job_fail(j);
		return;
	}
	if (++j->next == j->count)
		j->state = JOB_RECORDING;
}

static void
job_step_recording(struct job *j, const struct job_env *env)
{
	struct queue_upload	 up[GEN_MAX_IMAGES];
	struct buf		 ai = BUF_INIT(1024);
	int			 i;

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
	buf_addf(&ai, "{\"provider\":\"%s\",\"model\":\"local-procedural-1\","
	    "\"seed\":%llu,\"imageCount\":%d}", env->provider->name,
	    (unsigned long long)j->seed, j->count);
	if (queue_complete(env->db, env->worker_id, &j->q, up, j->count,
	    buf_cstr(&ai), &j->err) == -1) {
		buf_free(&ai);
		if (j->err.code == IG_ECONFLICT) {
			log_warn(&j->log, "lease lost before completion; "
			    "another worker owns the job now");
			j->state = JOB_DONE;
			return;
		}
		job_fail(j);
		return;
	}
	buf_free(&ai);
	log_info(&j->log, "generation completed: %d image(s), attempt %d",
	    j->count, j->q.attempts);
	j->state = JOB_DONE;
}

static void
job_step_failing(struct job *j, const struct job_env *env)
{
	struct ig_err	 err = IG_ERR_INIT;
	int		 permanent = !ig_err_retryable(&j->err), dead = 0;
	long		 delay = job_backoff_ms(env->retry_base_ms, j->q.attempts);
	const char	*code = permanent ? ig_err_api_code(&j->err) :
			    "attempts_exhausted";

	if (j->err.retry_after > 0 && j->err.retry_after * 1000 > delay)
		delay = j->err.retry_after * 1000;
	if (queue_fail(env->db, env->worker_id, &j->q, permanent, delay, code,
	    j->err.msg, &dead, &err) == -1) {
		if (err.code == IG_ECONFLICT)
			log_warn(&j->log, "lease lost; leaving the job to its "
			    "new owner");
		else
			/* The lease will expire and the rescue requeues it. */
			log_error(&j->log, "cannot hand the job back: %s",
			    err.msg);
		j->state = JOB_DONE;
		return;
	}
	if (dead)
		log_error(&j->log, "generation failed (%s): %s", code,
		    j->err.msg);
	else
		log_warn(&j->log, "attempt %d failed, retry in %ld ms: %s",
		    j->q.attempts, delay, j->err.msg);
	j->state = JOB_DONE;
}

void
job_step(struct job *j, const struct job_env *env)
{
	static void (*const steps[JOB_STATE__MAX])(struct job *,
	    const struct job_env *) = {
		[JOB_CLAIMED]	 = job_step_claimed,
		[JOB_GENERATING] = job_step_generating,
		[JOB_UPLOADING]	 = job_step_uploading,
		[JOB_RECORDING]	 = job_step_recording,
		[JOB_FAILING]	 = job_step_failing,
	};

	if (j->state < JOB_STATE__MAX && steps[j->state] != NULL)
		steps[j->state](j, env);
}
