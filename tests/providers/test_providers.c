/*
 * The HTTP providers end to end: client → nginx → responder → PostgreSQL →
 * worker → provider stand-in (tests/standins/providers.js, the providers'
 * real wire formats and failure modes) → s3rver (signature-checking S3).
 * Run by scripts/test-providers.sh once per provider, with
 * IMGGEN_TEST_PROVIDER naming the one the stack is configured with.
 * Behaviour switches ([[429once]], [[block]], …) travel in the prompt.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "png.h"

#define GEN_PATH	"/api/generate/text-to-image"
#define DONE_MS		60000
/* 3 attempts of a 5 s provider timeout, plus backoff. */
#define TIMEOUT_MS	90000

struct expect {
	const char	*provider;
	const char	*ratio;		/* a supported ratio … */
	unsigned	 width, height;	/* … and its native size */
	const char	*unsupported;	/* a ratio it lacks */
	int		 seed;		/* supports seed */
	int		 usage;		/* reports token usage */
	int		 calls_per_image;
};

static const struct expect expects[] = {
	{ "imagen", "16:9", 1408, 768, "2:3", 0, 0, 0 },
	{ "gemini", "16:9", 1344, 768, "7:5", 1, 1, 1 },
	{ "openai", "3:2", 1536, 1024, "16:9", 0, 1, 0 },
};

static const struct expect *
expect(void)
{
	const char	*p = itest_env("IMGGEN_TEST_PROVIDER");
	size_t		 i;

	for (i = 0; i < sizeof(expects) / sizeof(expects[0]); i++)
		if (strcmp(expects[i].provider, p) == 0)
			return &expects[i];
	cr_assert_fail("unknown IMGGEN_TEST_PROVIDER %s", p);
	return NULL;
}

/* A prompt unique to this test run, carrying the stand-in's switches. */
static void
prompt(char *out, size_t len, const char *what, const char *switches)
{
	snprintf(out, len, "%s %s %ld-%d %s", what, expect()->provider,
	    (long)getpid(), rand(), switches);
}

static struct json_object *
submit(const struct itest_user *u, const char *p, int n, const char *ratio,
    char *id)
{
	char	 body[1024];

	snprintf(body, sizeof(body), "{\"prompt\":\"%s\",\"numberOfImages\":%d,"
	    "\"aspectRatio\":\"%s\"}", p, n, ratio);
	return itest_generate(u, body, id);
}

static int64_t
jint(struct json_object *o, const char *path)
{
	int64_t	 v = -1;

	cr_assert(itest_json_int(o, path, &v), "no integer %s in %s", path,
	    itest_json_text(o));
	return v;
}

/* Fetches an image from its public (S3) URL and checks it. */
static void
check_image(struct json_object *img, const struct expect *e)
{
	struct itest_request	 req = { 0 };
	struct itest_response	 r;
	struct png_info		 info;
	const char		*url = itest_json_str(img, "imageUrl");
	const char		*base = itest_env("S3_PUBLIC_BASE_URL");

	cr_assert_not_null(url);
	cr_assert(strncmp(url, base, strlen(base)) == 0,
	    "image URL %s is not under the bucket's public URL %s", url, base);
	req.path = url;
	itest_http(&req, &r);
	cr_assert_eq(r.status, 200, "GET %s: %ld", url, r.status);
	cr_assert_eq(png_probe((const uint8_t *)r.body, r.body_len, &info), 0,
	    "%s is not an image", url);
	cr_assert_eq(info.width, e->width);
	cr_assert_eq(info.height, e->height);
	cr_assert_eq(jint(img, "width"), (int64_t)e->width);
	cr_assert_eq(jint(img, "height"), (int64_t)e->height);
	cr_assert_eq(jint(img, "size"), (int64_t)r.body_len);
	cr_assert_str_eq(itest_json_str(img, "mimeType"), info.mime);
	itest_response_free(&r);
}

/* Calls the stand-in saw for a prompt (its /_stats counters). */
static long long
standin_calls(const char *p)
{
	struct itest_request	 req = { 0 };
	struct itest_response	 r;
	struct json_object	*o, *kinds, *byprompt;
	char			 url[512];
	long long		 n = 0;

	snprintf(url, sizeof(url), "%s/_stats", itest_env("IMGGEN_STANDIN_URL"));
	req.path = url;
	itest_http(&req, &r);
	cr_assert_eq(r.status, 200);
	o = itest_response_json(&r);
	if (json_object_object_get_ex(o, "prompts", &kinds)) {
		json_object_object_foreach(kinds, kind, v) {
			(void)kind;
			if (json_object_object_get_ex(v, p, &byprompt))
				n += json_object_get_int64(byprompt);
		}
	}
	json_object_put(o);
	itest_response_free(&r);
	return n;
}

Test(providers, images_land_in_s3_with_native_sizes, .timeout = 120)
{
	const struct expect	*e = expect();
	struct itest_user	 u;
	struct json_object	*o, *imgs;
	char			 id[40], p[256];
	int			 i;

	itest_user_create(&u, "prov-ok");
	prompt(p, sizeof(p), "A lighthouse", "");
	json_object_put(submit(&u, p, 2, e->ratio, id));
	o = itest_wait_completed(&u, id, DONE_MS);
	imgs = itest_json_get(o, "images");
	cr_assert_eq(json_object_array_length(imgs), 2, "%s",
	    itest_json_text(o));
	for (i = 0; i < 2; i++)
		check_image(json_object_array_get_idx(imgs, (size_t)i), e);
	cr_assert_eq(jint(o, "filtered"), 0);
	cr_assert_eq(jint(o, "attempts"), 1);
	cr_assert_str_eq(itest_json_str(o, "metadata.aspectRatio"), e->ratio);
	if (e->usage)
		cr_assert(itest_json_int(o, "tokens.total", &(int64_t){ 0 }),
		    "no token usage: %s", itest_json_text(o));
	else
		cr_assert(itest_json_is_null(o, "tokens"));
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM uploads WHERE "
	    "generation_id = $1 AND purpose = 'generation_output' AND "
	    "storage_key LIKE 'generations/%'", id, NULL), 2);
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM image_generations "
	    "WHERE id = $1 AND ai_metadata->>'provider' = $2", id, e->provider,
	    NULL), 1);
	/* Gemini makes one image per call: n images are n calls. */
	cr_assert_eq(standin_calls(p), e->calls_per_image ? 2 : 1);
	/* OpenAI names its requests; the id is kept for support cases. */
	if (strcmp(e->provider, "openai") == 0)
		cr_assert_eq(itest_pg_int("SELECT count(*) FROM "
		    "image_generations WHERE id = $1 AND "
		    "ai_metadata->'providerRequestIds'->>0 LIKE 'req_%'", id,
		    NULL), 1, "no provider request id in ai_metadata");
	json_object_put(o);
	itest_user_free(&u);
}

Test(providers, unsupported_ratio_refused_with_the_providers_set)
{
	const struct expect	*e = expect();
	struct itest_user	 u;
	struct itest_response	 r;
	struct json_object	*o;
	char			 body[256];

	itest_user_create(&u, "prov-ratio");
	snprintf(body, sizeof(body), "{\"prompt\":\"x\",\"aspectRatio\":\"%s\"}",
	    e->unsupported);
	itest_call("POST", GEN_PATH, u.token, body, &r);
	cr_assert_eq(r.status, 400, "%s", r.body);
	o = itest_response_json(&r);
	cr_assert_str_eq(itest_json_str(o, "error.field"), "aspectRatio");
	cr_assert(strstr(itest_json_str(o, "error.message"), e->ratio) != NULL);
	cr_assert(strstr(itest_json_str(o, "error.message"), e->provider));
	cr_assert_eq(itest_generation_count(&u), 0);
	json_object_put(o);
	itest_response_free(&r);
	itest_user_free(&u);
}

/* A parameter the provider cannot honour is refused, never dropped. */
Test(providers, seed_only_where_honoured, .timeout = 120)
{
	const struct expect	*e = expect();
	struct itest_user	 u;
	struct itest_response	 r;
	struct json_object	*o;
	char			 body[512], id[40], p[256];

	itest_user_create(&u, "prov-seed");
	prompt(p, sizeof(p), "Seeded", "");
	snprintf(body, sizeof(body), "{\"prompt\":\"%s\",\"seed\":4294967295,"
	    "\"aspectRatio\":\"%s\"}", p, e->ratio);
	if (!e->seed) {
		itest_call("POST", GEN_PATH, u.token, body, &r);
		cr_assert_eq(r.status, 400, "%s", r.body);
		o = itest_response_json(&r);
		cr_assert_str_eq(itest_json_str(o, "error.field"), "seed");
		json_object_put(o);
		itest_response_free(&r);
		cr_assert_eq(itest_generation_count(&u), 0);
	} else {
		json_object_put(itest_generate(&u, body, id));
		o = itest_wait_completed(&u, id, DONE_MS);
		cr_assert_eq(jint(o, "metadata.seed"), 4294967295LL);
		json_object_put(o);
	}
	itest_call("POST", GEN_PATH, u.token,
	    "{\"prompt\":\"x\",\"negativePrompt\":\"blur\"}", &r);
	cr_assert_eq(r.status, 400, "%s", r.body);
	o = itest_response_json(&r);
	cr_assert_str_eq(itest_json_str(o, "error.field"), "negativePrompt");
	json_object_put(o);
	itest_response_free(&r);
	itest_user_free(&u);
}

static struct json_object *
run_to_end(const char *what, const char *switches, int n, char *p, size_t plen,
    long timeout_ms)
{
	struct itest_user	 u;
	struct json_object	*o;
	char			 id[40];

	itest_user_create(&u, what);
	prompt(p, plen, what, switches);
	json_object_put(submit(&u, p, n, expect()->ratio, id));
	o = itest_wait_terminal(&u, id, timeout_ms);
	itest_user_free(&u);
	return o;
}

Test(providers, rate_limit_once_is_retried, .timeout = 120)
{
	struct json_object	*o;
	char			 p[256];

	o = run_to_end("retry429", "[[429once]]", 1, p, sizeof(p), DONE_MS);
	cr_assert_str_eq(itest_json_str(o, "status"), "completed", "%s",
	    itest_json_text(o));
	cr_assert_eq(jint(o, "attempts"), 2);
	cr_assert_eq(json_object_array_length(itest_json_get(o, "images")), 1);
	json_object_put(o);
}

Test(providers, overload_once_is_retried, .timeout = 120)
{
	struct json_object	*o;
	char			 p[256];

	o = run_to_end("retry503", "[[503once]]", 2, p, sizeof(p), DONE_MS);
	cr_assert_str_eq(itest_json_str(o, "status"), "completed", "%s",
	    itest_json_text(o));
	cr_assert_geq(jint(o, "attempts"), 2);
	json_object_put(o);
}

/* Retryable every time: the attempts run out and the last error stays. */
static void
exhausts(const char *what, const char *sw, long timeout_ms)
{
	struct json_object	*o;
	char			 p[256];

	o = run_to_end(what, sw, 1, p, sizeof(p), timeout_ms);
	cr_assert_str_eq(itest_json_str(o, "status"), "failed", "%s",
	    itest_json_text(o));
	cr_assert_str_eq(itest_json_str(o, "error.code"), "attempts_exhausted");
	cr_assert_eq(jint(o, "attempts"), 3);
	cr_assert(itest_json_is_null(o, "images") ||
	    json_object_array_length(itest_json_get(o, "images")) == 0);
	cr_assert_eq(standin_calls(p), 3, "one call per attempt");
	json_object_put(o);
}

Test(providers, server_error_exhausts_attempts, .timeout = 120)
{
	exhausts("err500", "[[500]]", DONE_MS);
}

Test(providers, malformed_answer_is_retried, .timeout = 120)
{
	exhausts("malformed", "[[malformed]]", DONE_MS);
}

Test(providers, non_image_bytes_are_retried, .timeout = 120)
{
	exhausts("notimage", "[[notimage]]", DONE_MS);
}

Test(providers, timeout_is_retried, .timeout = 150)
{
	exhausts("hang", "[[hang]]", TIMEOUT_MS);
}

Test(providers, safety_block_fails_at_once, .timeout = 120)
{
	struct json_object	*o;
	char			 p[256];

	o = run_to_end("block", "[[block]]", 1, p, sizeof(p), DONE_MS);
	cr_assert_str_eq(itest_json_str(o, "status"), "failed", "%s",
	    itest_json_text(o));
	cr_assert_str_eq(itest_json_str(o, "error.code"), "content_filtered");
	cr_assert_eq(jint(o, "attempts"), 1);
	json_object_put(o);
}

/* 3 asked, 1 filtered: completed with 2, and it says so. */
Test(providers, partial_results_reported, .timeout = 120)
{
	struct json_object	*o;
	char			 p[256];

	o = run_to_end("partial", "[[filter:1]]", 3, p, sizeof(p), DONE_MS);
	cr_assert_str_eq(itest_json_str(o, "status"), "completed", "%s",
	    itest_json_text(o));
	cr_assert_eq(json_object_array_length(itest_json_get(o, "images")), 2);
	cr_assert_eq(jint(o, "filtered"), 1);
	cr_assert_eq(jint(o, "progress.total"), 3);
	cr_assert_eq(jint(o, "progress.completed"), 2);
	cr_assert_eq(jint(o, "metadata.numberOfImages"), 3);
	json_object_put(o);
}

Test(providers, everything_filtered_fails, .timeout = 120)
{
	struct json_object	*o;
	char			 p[256];

	o = run_to_end("allfiltered", "[[filter:2]]", 2, p, sizeof(p), DONE_MS);
	cr_assert_str_eq(itest_json_str(o, "status"), "failed", "%s",
	    itest_json_text(o));
	cr_assert_str_eq(itest_json_str(o, "error.code"), "content_filtered");
	cr_assert_eq(jint(o, "attempts"), 1);
	json_object_put(o);
}

/*
 * Run by test-providers.sh against a stack whose S3 secret is wrong: the
 * store refuses every upload, the job retries and then fails, naming the
 * store's error.
 */
Test(storage_refused, wrong_secret_retries_then_fails, .timeout = 120)
{
	struct itest_user	 u;
	struct json_object	*o;
	char			 id[40], p[256];

	itest_user_create(&u, "badsecret");
	prompt(p, sizeof(p), "Refused upload", "");
	json_object_put(submit(&u, p, 1, expect()->ratio, id));
	o = itest_wait_terminal(&u, id, DONE_MS);
	cr_assert_str_eq(itest_json_str(o, "status"), "failed", "%s",
	    itest_json_text(o));
	cr_assert_str_eq(itest_json_str(o, "error.code"), "attempts_exhausted");
	cr_assert(strstr(itest_json_str(o, "error.message"),
	    "SignatureDoesNotMatch") != NULL, "%s", itest_json_text(o));
	cr_assert_eq(jint(o, "attempts"), 3);
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM uploads WHERE "
	    "generation_id = $1", id, NULL), 0);
	json_object_put(o);
	itest_user_free(&u);
}
