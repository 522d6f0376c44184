/*
 * Webhook jobs: POST the generation's final status to the client's
 * webhookUrl, signed per Standard Webhooks, retried with backoff through
 * the jobs table like any job; every attempt is recorded for the operator.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "job.h"
#include "webhook.h"

void
job_step_webhook_send(struct job *j, const struct job_env *env)
{
	struct http_request	 req;
	struct xfer_opts	 o;
	unsigned char		 key[WEBHOOK_SECRET_LEN];
	char			 sig[WEBHOOK_SIG_TEXT], msg_id[48];
	long long		 ts = (long long)time(NULL);

	if (*env->cfg->webhook_key == '\0') {
		ig_err_set(&j->err, IG_ETRANSIENT, NULL, "IMGGEN_WEBHOOK_KEY is "
		    "not set on this worker");
		job_fail(j);
		return;
	}
	if (queue_webhook_payload(env->db, j->q.generation_id, &j->hook,
	    &j->err) == -1) {
		job_fail(j);
		return;
	}
	/* The id is the job's: the same message keeps it across retries. */
	snprintf(msg_id, sizeof(msg_id), "msg_%lld", j->q.id);
	webhook_secret(env->cfg->webhook_key, j->hook.user_id,
	    j->hook.secret_version, key);
	webhook_sign(key, msg_id, ts, j->hook.body, strlen(j->hook.body), sig);
	crypto_wipe(key, sizeof(key));
	http_request_init(&req, "POST", 0);
	buf_adds(&req.url, j->hook.url);
	req.ext_body = j->hook.body;
	req.ext_body_len = strlen(j->hook.body);
	if (http_request_header(&req, "Content-Type: application/json") ||
	    http_request_header(&req, "User-Agent: imggen-webhooks/1") ||
	    http_request_header(&req, "webhook-id: %s", msg_id) ||
	    http_request_header(&req, "webhook-timestamp: %lld", ts) ||
	    http_request_header(&req, "webhook-signature: %s", sig) ||
	    http_request_header(&req, "Expect:")) {
		http_request_release(&req);
		ig_err_set(&j->err, IG_EINTERNAL, NULL, "webhook headers");
		job_fail(j);
		return;
	}
	job_xfer_opts(env, 1, &o);
	o.total_timeout = env->cfg->webhook_timeout;
	o.max_response = 4096;		/* only an excerpt is kept */
	o.public_only = !env->cfg->webhook_allow_insecure;
	j->nxfers = 1;
	if (xfer_start(env->multi, &j->xfers[0], &req, &o, &j->abort,
	    &j->err) == -1) {
		http_request_release(&req);
		job_fail(j);
		return;
	}
	j->state = JOB_WEBHOOK_WAIT;
}

/* A short printable excerpt of the receiver's answer, for the operator. */
static void
job_webhook_excerpt(const struct xfer *x, char *out, size_t cap)
{
	size_t	 i, o = 0;

	for (i = 0; i < x->resp.len && o + 1 < cap && o < 200; i++) {
		char c = x->resp.data[i];

		out[o++] = (c >= 0x20 && c < 0x7f) ? c : ' ';
	}
	out[o] = '\0';
}

void
job_step_webhook_wait(struct job *j, const struct job_env *env)
{
	struct xfer	*x = &j->xfers[0];
	char		 detail[256];

	if (xfer_transport_error(x, "webhook", &j->err) == -1) {
		/* Refused or unreachable receivers get their retries too. */
		j->err.code = IG_ETRANSIENT;
		job_fail(j);
		return;
	}
	job_webhook_excerpt(x, detail, sizeof(detail));
	if (x->status < 200 || x->status > 299) {
		ig_err_set(&j->err, IG_ETRANSIENT, NULL, "webhook receiver "
		    "answered HTTP %ld", x->status);
		job_fail(j);
		return;
	}
	if (queue_webhook_delivered(env->db, env->worker_id, &j->q,
	    j->hook.url, x->status, detail, &j->err) == -1)
		log_warn(&j->log, "webhook delivered but not recorded: %s",
		    j->err.msg);
	else
		log_info(&j->log, "webhook delivered (HTTP %ld, attempt %d)",
		    x->status, j->q.attempts);
	job_release_xfers(j, env->multi);
	j->state = JOB_DONE;
}

void
job_step_webhook_failing(struct job *j, const struct job_env *env)
{
	struct ig_err	 err = IG_ERR_INIT;
	long		 status = j->nxfers ? j->xfers[0].status : 0;
	long		 delay = job_backoff_ms(env->cfg->retry_base_ms,
			    j->q.attempts);
	int		 dead = 0;

	job_release_xfers(j, env->multi);
	if (queue_fail(env->db, env->worker_id, &j->q, 0, delay,
	    "webhook_failed", j->err.msg, &dead, &err) == -1) {
		log_warn(&j->log, "cannot hand the webhook job back: %s",
		    err.msg);
		j->state = JOB_DONE;
		return;
	}
	if (j->hook.url && queue_webhook_attempt(env->db, &j->q,
	    j->q.generation_id, j->hook.url, status, dead, j->err.msg,
	    &err) == -1)
		log_warn(&j->log, "webhook attempt not recorded: %s", err.msg);
	log_warn(&j->log, "webhook attempt %d failed%s: %s", j->q.attempts,
	    dead ? " for the last time" : ", will retry", j->err.msg);
	j->state = JOB_DONE;
}
