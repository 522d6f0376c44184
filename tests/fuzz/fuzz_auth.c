/*
 * fuzz_auth - the Authorization header: api_authenticate() with the input
 * as the header value (up to its first NUL, as FastCGI passes it; longer
 * than API_HEADER_MAX is "" as in fcgi_io.c), with a JWT secret configured.
 * The database cannot be reached (its socket's directory does not exist),
 * so only a token of the right shape may get as far as asking it, and no
 * forged JWT past its signature check.
 *
 * Invariants: authentication never succeeds; the error is IG_EAUTH, or
 * IG_EUNAVAILABLE only for a value holding a well-formed API token; the
 * message never echoes the header.
 */
#include "fuzz.h"

#include "api.h"
#include "crypto.h"
#include "db.h"
#include "log.h"

static struct db	*fuzz_db;
static struct config	 fuzz_cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup("fuzz_auth", LOG_LEVEL__MAX);
	fuzz_db = db_new("host=/nonexistent/imggen-fuzz dbname=fuzz "
	    "user=fuzz", 1, "fuzz_auth");
	if (fuzz_db == NULL)
		abort();
	fuzz_config_defaults(&fuzz_cfg);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_ctx	 ctx;
	struct api_req	 req;
	struct ig_err	 err = IG_ERR_INIT;
	char		 user_id[40] = "", *h;
	int		 rc;

	if ((h = malloc(size + 1)) == NULL)
		abort();
	memcpy(h, data, size);
	h[size] = '\0';
	memset(&ctx, 0, sizeof(ctx));
	memset(&req, 0, sizeof(req));
	ctx.db = fuzz_db;
	ctx.cfg = &fuzz_cfg;
	req.method = "GET";
	req.path = "/api/generate/queue/x";
	req.authorization = strlen(h) > API_HEADER_MAX ? "" : h;
	rc = api_authenticate(&ctx, &req, user_id, &err);
	FUZZ_CHECK(rc == -1, "authenticated without a database");
	FUZZ_CHECK(user_id[0] == '\0', "user id written on failure");
	FUZZ_CHECK(err.code == IG_EAUTH || (err.code == IG_EUNAVAILABLE &&
	    strstr(req.authorization, CRYPTO_TOKEN_PREFIX) != NULL),
	    "error %d (%s)", err.code, err.msg);
	if (strlen(req.authorization) >= 7 + 12 && strstr(err.msg,
	    req.authorization + 7) != NULL)
		FUZZ_CHECK(0, "message echoes the header: %s", err.msg);
	free(h);
	return 0;
}
