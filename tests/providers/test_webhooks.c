/*
 * Webhooks end to end: a generation with a webhookUrl reaches a terminal
 * state, the worker POSTs the signed status to tests/standins/webhooks.js,
 * which verifies the Standard Webhooks signature with node:crypto (an
 * implementation independent of ours).  Run by test-providers.sh against a
 * stack with IMGGEN_WEBHOOK_KEY set and IMGGEN_WEBHOOK_ALLOW_INSECURE=1
 * (the receiver is plain http on loopback).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

static void
admin_line(const char *args, char *out, size_t cap)
{
	char	 cmd[1024];
	FILE	*p;

	snprintf(cmd, sizeof(cmd), "'%s' %s", itest_env("IMGGEN_ADMIN"), args);
	cr_assert_not_null(p = popen(cmd, "r"));
	cr_assert_not_null(fgets(out, (int)cap, p), "%s printed nothing", cmd);
	out[strcspn(out, "\n")] = '\0';
	cr_assert_eq(pclose(p), 0, "%s failed", cmd);
}

struct hook_wait {
	const char		*url;
	struct json_object	*last;
	int			 want_ok;
};

static bool
delivered(void *arg)
{
	struct hook_wait	*w = arg;
	struct itest_request	 req = { 0 };
	struct itest_response	 r;
	size_t			 i;
	int			 ok = 0;

	req.path = w->url;
	itest_http(&req, &r);
	json_object_put(w->last);
	w->last = itest_response_json(&r);
	itest_response_free(&r);
	for (i = 0; i < json_object_array_length(w->last); i++) {
		int64_t st = 0;

		itest_json_int(json_object_array_get_idx(w->last, i), "status",
		    &st);
		ok += st == 200;
	}
	return ok >= w->want_ok;
}

Test(webhooks, signed_delivery_retried_until_accepted, .timeout = 120)
{
	struct itest_user	 u;
	struct itest_request	 req = { 0 };
	struct itest_response	 r;
	struct hook_wait	 w = { NULL, NULL, 1 };
	struct json_object	*o, *d0, *d1, *payload;
	const char		*base = itest_env("IMGGEN_WEBHOOK_RECEIVER");
	char			 secret[128], args[256], name[64], url[256];
	char			 deliveries[256], body[512], id[40];

	itest_user_create(&u, "hook");
	snprintf(args, sizeof(args), "webhook secret '%s'", u.email);
	admin_line(args, secret, sizeof(secret));
	cr_assert(strncmp(secret, "whsec_", 6) == 0, "%s", secret);
	snprintf(name, sizeof(name), "h%ld%d", (long)getpid(), rand());
	snprintf(url, sizeof(url), "%s/_secret/%s", base, name);
	req.method = "PUT";
	req.path = url;
	req.body = secret;
	req.body_len = strlen(secret);
	itest_http(&req, &r);
	cr_assert_eq(r.status, 204);
	itest_response_free(&r);

	/* The receiver refuses the first delivery: the worker must retry. */
	snprintf(url, sizeof(url), "%s/hook/%s?fail=1", base, name);
	snprintf(body, sizeof(body), "{\"prompt\":\"hooked %s\",\"aspectRatio\":"
	    "\"1:1\",\"webhookUrl\":\"%s\"}", name, url);
	json_object_put(itest_generate(&u, body, id));
	o = itest_wait_completed(&u, id, 60000);
	cr_assert_str_eq(itest_json_str(o, "metadata.webhookUrl"), url);
	json_object_put(o);

	snprintf(deliveries, sizeof(deliveries), "%s/_deliveries/%s", base,
	    name);
	w.url = deliveries;
	itest_wait_until(delivered, &w, 60000, "the webhook to be accepted");
	cr_assert_eq(json_object_array_length(w.last), 2, "%s",
	    itest_json_text(w.last));
	d0 = json_object_array_get_idx(w.last, 0);
	d1 = json_object_array_get_idx(w.last, 1);
	cr_assert(json_object_get_boolean(itest_json_get(d0, "verified")),
	    "first delivery's signature does not verify");
	cr_assert(json_object_get_boolean(itest_json_get(d1, "verified")),
	    "second delivery's signature does not verify");
	/* One message, retried: the same webhook-id both times. */
	cr_assert_str_eq(itest_json_str(d0, "id"), itest_json_str(d1, "id"));
	payload = itest_json(itest_json_str(d1, "body"));
	cr_assert_str_eq(itest_json_str(payload, "type"), "generation.completed");
	cr_assert_str_eq(itest_json_str(payload, "data.generationId"), id);
	cr_assert_str_eq(itest_json_str(payload, "data.status"), "completed");
	cr_assert_eq(json_object_array_length(itest_json_get(payload,
	    "data.images")), 1);
	json_object_put(payload);
	json_object_put(w.last);

	cr_assert_eq(itest_pg_int("SELECT count(*) FROM webhook_deliveries "
	    "WHERE generation_id = $1 AND outcome = 'retry' AND "
	    "http_status = 500", id, NULL), 1);
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM webhook_deliveries "
	    "WHERE generation_id = $1 AND outcome = 'delivered'", id, NULL), 1);
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM jobs WHERE "
	    "generation_id = $1", id, NULL), 0);
	itest_user_free(&u);
}

/* A rotated secret signs differently: the old one no longer verifies. */
Test(webhooks, rotation_changes_the_secret)
{
	struct itest_user	 u;
	char			 a[128], b[128], args[256];

	itest_user_create(&u, "rotate");
	snprintf(args, sizeof(args), "webhook secret '%s'", u.email);
	admin_line(args, a, sizeof(a));
	snprintf(args, sizeof(args), "webhook rotate '%s'", u.email);
	admin_line(args, b, sizeof(b));
	cr_assert_str_neq(a, b);
	snprintf(args, sizeof(args), "webhook secret '%s'", u.email);
	admin_line(args, a, sizeof(a));
	cr_assert_str_eq(a, b);
	itest_user_free(&u);
}
