/*
 * test_storage.c - object storage failing mid-upload, and the provider
 * failing mid-call: retried with backoff, completed when they return,
 * exactly the right objects and rows.
 *
 * Storage: a worker with IMGGEN_STORAGE=s3 on the signature-checking
 * s3rver (scripts/s3rver.sh, FAULTS_S3_DIR) and the local provider.  The
 * server is paused (SIGSTOP: connections are accepted by the kernel and
 * then hang) before a generation is submitted, so its uploads time out
 * (IMGGEN_STORAGE_TIMEOUT=3) and the job is retried with backoff; then
 * it is resumed and the generation must complete with its two objects
 * readable at PUBLIC_BASE_URL, holding the bytes the uploads rows
 * describe, and no other object under the user's prefix.
 *
 * Provider: the openai stand-in answers 503 with Retry-After: 1 to the
 * first call for a prompt ([[503once]]); the job must be retried no
 * sooner than that and complete at the second attempt.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <libpq-fe.h>

#include "faults.h"

#define S3_OBJECT_SUFFIX	"._S3rver_object"

static bool s3_paused;

static void
s3rver(const char *verb)
{
	char dir[1024] = "";

	itest_shell_quote(dir, sizeof dir, itest_env("FAULTS_S3_DIR"));
	ft_sh("scripts/s3rver.sh %s %s >&2", verb, dir);
}

static void
storage_fini(void)
{
	if (s3_paused) {
		s3rver("resume");
		s3_paused = false;
	}
	ft_fini();
}

static void
submit(const struct itest_user *u, const char *prompt, int n, char *id)
{
	char body[512];

	snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"numberOfImages\":%d,"
	    "\"aspectRatio\":\"1:1\"}", prompt, n);
	json_object_put(itest_generate(u, body, id));
}

/* s3rver keeps KEY as DIR/s3/BUCKET/KEY._S3rver_object. */
static void
list_objects(const char *root, const char *rel, char keys[][256], int *n,
    int max)
{
	char path[2048];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char sub[1024], full[4096];
		struct stat st;
		size_t len = strlen(de->d_name), sl = strlen(S3_OBJECT_SUFFIX);

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof sub, "%s/%s", rel, de->d_name);
		snprintf(full, sizeof full, "%s/%s", root, sub);
		if (stat(full, &st) == -1)
			continue;
		if (S_ISDIR(st.st_mode))
			list_objects(root, sub, keys, n, max);
		else if (len > sl && strcmp(de->d_name + len - sl,
		    S3_OBJECT_SUFFIX) == 0 && *n < max) {
			snprintf(keys[*n], 256, "%.*s", (int)(strlen(sub) - sl),
			    sub);
			(*n)++;
		}
	}
	closedir(d);
}

struct retry_arg {
	const char	*id;
	int		 attempts;
	char		 last_error[512];
	char		 job_state[32];
	char		 gen_status[32];
	bool		 saw_backoff;	/* queued with run_at in the future */
};

static bool
retried_on_storage(void *arg)
{
	struct retry_arg *a = arg;
	PGresult *r = itest_pg_query("SELECT j.attempts, coalesce(j.last_error, "
	    "''), j.state, g.status, j.state = 'queued' AND j.run_at > now() "
	    "FROM jobs j JOIN image_generations g ON g.id = j.generation_id "
	    "WHERE j.generation_id = $1::uuid", a->id, NULL);

	cr_assert_eq(PQntuples(r), 1, "the job of %s disappeared while "
	    "storage was down", a->id);
	a->attempts = atoi(PQgetvalue(r, 0, 0));
	snprintf(a->last_error, sizeof a->last_error, "%s", PQgetvalue(r, 0, 1));
	snprintf(a->job_state, sizeof a->job_state, "%s", PQgetvalue(r, 0, 2));
	snprintf(a->gen_status, sizeof a->gen_status, "%s",
	    PQgetvalue(r, 0, 3));
	a->saw_backoff = a->saw_backoff || PQgetvalue(r, 0, 4)[0] == 't';
	PQclear(r);
	cr_assert(strcmp(a->gen_status, "failed") != 0, "the generation "
	    "failed while storage was down: %s", a->last_error);
	return a->attempts >= 2 && strstr(a->last_error, "storage") != NULL;
}

Test(storage, s3_outage_mid_upload_is_retried_then_completes,
    .fini = storage_fini, .timeout = 240)
{
	static const char *const keys[] = { "S3_ENDPOINT", "S3_BUCKET",
		"S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_REGION",
		"S3_FORCE_PATH_STYLE", "PUBLIC_BASE_URL" };
	char kv[7][512], s3env[1024], base[512], bucket[128], root[1024];
	char objects[16][256], rel[256], id[40], prompt[128];
	const char *env[20];
	struct itest_user u;
	struct ft_worker w;
	struct retry_arg ra;
	struct json_object *o, *imgs;
	int k = 0, nobj = 0;
	int64_t t_resume;
	long recover_ms;
	PGresult *r;

	itest_require_stack();
	snprintf(s3env, sizeof s3env, "%s/s3.env", itest_env("FAULTS_S3_DIR"));
	for (size_t i = 0; i < 7; i++) {
		char v[400];

		ft_env_file_get(s3env, keys[i], v, sizeof v);
		snprintf(kv[i], sizeof kv[i], "%s=%s", keys[i], v);
		env[k++] = kv[i];
	}
	ft_env_file_get(s3env, "PUBLIC_BASE_URL", base, sizeof base);
	ft_env_file_get(s3env, "S3_BUCKET", bucket, sizeof bucket);
	env[k++] = "IMGGEN_STORAGE=s3";
	env[k++] = "IMGGEN_PROVIDER=local";
	env[k++] = "IMGGEN_STORAGE_TIMEOUT=3";
	env[k++] = "IMGGEN_RETRY_BASE_MS=500";
	env[k++] = "IMGGEN_WORKER_PROCESSES=1";
	env[k++] = "IMGGEN_LEASE_SECONDS=5";
	env[k] = NULL;

	ft_user(&u, "s3out");
	ft_worker_start(&w, "storage-s3", NULL, env);
	ft_log_wait(w.log, "ready as", NULL, 1, 20000);

	s3rver("pause");
	s3_paused = true;
	snprintf(prompt, sizeof prompt, "storage outage %.8s", u.id);
	submit(&u, prompt, 2, id);
	memset(&ra, 0, sizeof ra);
	ra.id = id;
	itest_wait_until(retried_on_storage, &ra, 40000, "the job to be "
	    "retried after storage timeouts");
	ft_log_wait(w.log, id, "attempt 1 failed, retry in", 1, 5000);
	cr_assert(strcmp(ra.gen_status, "completed") != 0);

	s3rver("resume");
	s3_paused = false;
	t_resume = itest_now_ms();
	json_object_put(itest_wait_completed(&u, id, 60000));
	recover_ms = ft_since(t_resume);
	ft_assert_completed(&u, id, 2, false);

	/* Each object is there, public, with the bytes its row describes. */
	r = itest_pg_query("SELECT storage_key, public_url, sha256, size FROM "
	    "uploads WHERE generation_id = $1::uuid ORDER BY idx", id, NULL);
	for (int i = 0; i < PQntuples(r); i++) {
		struct itest_request req = { 0 };
		struct itest_response resp;
		char want_url[1024], hex[65];

		snprintf(want_url, sizeof want_url, "%s/%s", base,
		    PQgetvalue(r, i, 0));
		cr_assert_str_eq(PQgetvalue(r, i, 1), want_url);
		req.method = "GET";
		req.path = want_url;
		itest_http(&req, &resp);
		cr_assert_eq(resp.status, 200, "GET %s: %ld", want_url,
		    resp.status);
		ft_sha256_hex(resp.body, resp.body_len, hex);
		cr_assert_str_eq(hex, PQgetvalue(r, i, 2), "GET %s: the object "
		    "is not what the uploads row describes", want_url);
		cr_assert_eq((long long)resp.body_len, atoll(PQgetvalue(r, i, 3)));
		itest_response_free(&resp);
	}
	PQclear(r);
	o = itest_get_generation(&u, id);
	imgs = itest_json_get(o, "images");
	cr_assert(imgs != NULL && json_object_array_length(imgs) == 2);
	json_object_put(o);

	/* Exactly those objects under the user's prefix. */
	snprintf(root, sizeof root, "%s/s3/%s", itest_env("FAULTS_S3_DIR"),
	    bucket);
	snprintf(rel, sizeof rel, "generations/%s", u.id);
	list_objects(root, rel, objects, &nobj, 16);
	cr_assert_eq(nobj, 2, "%d objects under %s/%s, expected 2", nobj,
	    root, rel);
	for (int i = 0; i < nobj; i++)
		cr_assert_eq(itest_pg_int("SELECT count(*) FROM uploads WHERE "
		    "generation_id = $1::uuid AND storage_key = $2", id,
		    objects[i], NULL), 1, "object %s has no uploads row",
		    objects[i]);
	fprintf(stderr, "storage: s3 paused -> %d attempt(s) failed on storage "
	    "(last error: %.120s)%s; completed %ld ms after the resume\n",
	    ra.attempts - 1, ra.last_error, ra.saw_backoff ? ", backoff seen "
	    "(queued, run_at in the future)" : "", recover_ms);
	itest_user_free(&u);
}

struct retry_line {
	const char	*id;
	long		 delay_ms;
};

static void
find_retry(struct json_object *line, void *arg)
{
	struct retry_line *a = arg;
	const char *msg = itest_json_str(line, "msg");
	const char *gid = itest_json_str(line, "generation_id");

	if (msg != NULL && gid != NULL && strcmp(gid, a->id) == 0)
		(void)sscanf(msg, "attempt 1 failed, retry in %ld ms",
		    &a->delay_ms);
}

Test(storage, provider_503_is_retried_after_retry_after,
    .fini = storage_fini, .timeout = 120)
{
	static const char *const env[] = {
		"IMGGEN_PROVIDER=openai", "IMGGEN_STORAGE=fs",
		"IMGGEN_WORKER_PROCESSES=1", "IMGGEN_LEASE_SECONDS=5",
		"IMGGEN_RETRY_BASE_MS=200", NULL
	};
	struct itest_user u;
	struct ft_worker w;
	struct retry_line rl;
	char id[40], prompt[128];

	itest_require_stack();
	ft_user(&u, "prov503");
	ft_worker_start(&w, "storage-provider", NULL, env);
	snprintf(prompt, sizeof prompt, "[[503once]] provider outage %.8s",
	    u.id);
	submit(&u, prompt, 2, id);
	json_object_put(itest_wait_completed(&u, id, 30000));
	ft_assert_completed(&u, id, 2, true);
	cr_assert_eq(itest_pg_int("SELECT attempts FROM image_generations "
	    "WHERE id = $1::uuid", id, NULL), 2, "expected completion at the "
	    "second attempt");
	cr_assert_eq(ft_standin_calls(prompt), 2, "provider calls");
	rl.id = id;
	rl.delay_ms = -1;
	ft_log_each(w.log, find_retry, &rl);
	cr_assert(rl.delay_ms >= 1000, "the retry after a 503 with "
	    "Retry-After: 1 was scheduled in %ld ms", rl.delay_ms);
	ft_assert_fs_matches_uploads(&u);
	itest_user_free(&u);
}
