/*
 * bench_api: calls the responder's api_dispatch() N times, in process, with
 * no FastCGI and no nginx, against a real database, so that callgrind can
 * count the instructions one GET or POST request costs the responder.
 * Linked with the responder's objects except main.o (like the Makefile's
 * API_TESTABLE) and libimggen.a.
 *
 *   bench-api get|post N
 *
 * Configuration as the responder reads it (IMGGEN_CONFIG, the stack's
 * imggen.env).  BENCH_TOKEN: a bearer token; BENCH_GEN: for get, the id of a
 * finished generation of the token's user.  Every request must answer 200
 * (get) or 202 (post), else it exits 1.  Prints
 *   API kind=get requests=N seconds=S
 * Instructions per request: run it under valgrind --tool=callgrind with two
 * values of N and divide the difference of the totals by the difference of
 * N (start-up, configuration and the first connection cancel out).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "log.h"

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	static const char body[] = "{\"prompt\":\"bench callgrind\","
	    "\"numberOfImages\":1,\"aspectRatio\":\"1:1\"}";
	struct config	 cfg;
	struct api_ctx	 ctx;
	struct api_req	 req;
	struct api_resp	 resp;
	struct ig_err	 err = IG_ERR_INIT;
	char		 auth[256], path[128];
	const char	*token, *gen;
	long		 n, i;
	int		 post, want;
	double		 t0;

	if (argc != 3 || (strcmp(argv[1], "get") != 0 &&
	    strcmp(argv[1], "post") != 0)) {
		fprintf(stderr, "usage: bench-api get|post N\n");
		return 2;
	}
	post = strcmp(argv[1], "post") == 0;
	n = strtol(argv[2], NULL, 10);
	token = getenv("BENCH_TOKEN");
	gen = getenv("BENCH_GEN");
	if (token == NULL || (!post && gen == NULL)) {
		fprintf(stderr, "bench-api: BENCH_TOKEN (and BENCH_GEN for "
		    "get) must be set\n");
		return 2;
	}
	config_load_or_exit(&cfg, "bench-api");
	log_setup("bench-api", LOG_WARN);
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = &cfg;
	ctx.provider = provider_find(cfg.provider);
	ctx.policy.provider = ctx.provider;
	ctx.policy.webhooks = *cfg.webhook_key != '\0';
	ctx.policy.webhook_insecure = cfg.webhook_allow_insecure != 0;
	if ((ctx.db = db_new(cfg.database_url, cfg.db_connect_timeout,
	    "bench-api")) == NULL || db_ensure(ctx.db, &err) == -1) {
		fprintf(stderr, "bench-api: no database: %s\n", err.msg);
		return 1;
	}
	snprintf(auth, sizeof(auth), "Bearer %s", token);
	snprintf(path, sizeof(path), API_PREFIX "/queue/%s", post ? "" : gen);
	want = post ? 202 : 200;
	t0 = now_s();
	for (i = 0; i < n; i++) {
		memset(&req, 0, sizeof(req));
		req.authorization = auth;
		req.content_length = -1;
		if (post) {
			req.method = "POST";
			req.path = API_PREFIX "/text-to-image";
			req.content_type = "application/json";
			req.body = body;
			req.body_len = sizeof(body) - 1;
			req.content_length = (long long)req.body_len;
		} else {
			req.method = "GET";
			req.path = path;
		}
		snprintf(req.request_id, sizeof(req.request_id),
		    "bench-%08ld", i);
		api_resp_init(&resp);
		api_dispatch(&ctx, &req, &resp);
		if (resp.status != want) {
			fprintf(stderr, "bench-api: request %ld answered %d: "
			    "%s\n", i, resp.status, buf_cstr(&resp.body));
			return 1;
		}
		api_resp_release(&resp);
	}
	printf("API kind=%s requests=%ld seconds=%.3f\n", argv[1], n,
	    now_s() - t0);
	db_free(ctx.db);
	config_release(&cfg);
	return 0;
}
