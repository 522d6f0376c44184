/*
 * imggen-api: the FastCGI responder.  Single-threaded: one request at a
 * time on the socket spawn-fcgi passes as fd 0, one database connection
 * for the life of the process.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#include "api.h"
#include "fcgi_io.h"
#include "log.h"
#include "migrate.h"

static void
usage(void)
{
	fprintf(stderr, "usage: imggen-api [--check-config]\n"
	    "FastCGI responder for imggen; run it under spawn-fcgi (the "
	    "socket is fd 0).\nConfiguration: environment or the file named "
	    "by IMGGEN_CONFIG (see docs/configuration.md).\n");
}

static void
new_request_id(char out[40])
{
	uuid_t	 u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

int
main(int argc, char *argv[])
{
	struct config		 cfg;
	struct api_ctx		 ctx;
	struct api_req		 req;
	struct api_resp		 resp;
	struct buf		 body = BUF_INIT(BUF_MAX_REQUEST_BODY + 1);
	struct fcgi_conn	*conn;
	struct ig_err		 err = IG_ERR_INIT;
	struct sigaction	 sa;
	enum log_level		 lvl = LOG_INFO;
	const char		*why;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		usage();
		return 0;
	}
	config_load_or_exit(&cfg, "imggen-api");
	if (argc > 1 && strcmp(argv[1], "--check-config") == 0) {
		config_print(&cfg, stdout);
		config_release(&cfg);
		return 0;
	}
	if (argc > 1) {
		usage();
		return 2;
	}
	(void)log_level_parse(cfg.log_level, &lvl);
	log_setup("imggen-api", lvl);

	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = &cfg;
	ctx.provider = provider_find(cfg.provider);
	ctx.policy.provider = ctx.provider;
	ctx.policy.webhooks = *cfg.webhook_key != '\0';
	ctx.policy.webhook_insecure = cfg.webhook_allow_insecure != 0;
	if ((ctx.db = db_new(cfg.database_url, cfg.db_connect_timeout,
	    "imggen-api")) == NULL) {
		log_error(LOG_CTX_NONE, "out of memory");
		return 1;
	}
	db_set_prepare(ctx.db, cfg.db_prepared != 0);
	/* Refuse an old schema; a database that is down is served as 503s. */
	if (db_ensure(ctx.db, &err) == 0 && migrate_check(ctx.db, &err) == -1 &&
	    err.code != IG_EUNAVAILABLE) {
		log_error(LOG_CTX_NONE, "%s", err.msg);
		return 1;
	}
	if ((conn = fcgi_io_open(&why)) == NULL) {
		log_error(LOG_CTX_NONE, "cannot set up FastCGI: %s", why);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
	log_info(LOG_CTX_NONE, "responder ready");

	while (fcgi_io_accept(conn, &req, &body) == 0) {
		if (req.request_id[0] == '\0')
			new_request_id(req.request_id);
		api_resp_init(&resp);
		api_dispatch(&ctx, &req, &resp);
		if (!buf_ok(&resp.body) || !buf_ok(&resp.headers)) {
			ig_err_set(&err, IG_ENOMEM, NULL, "response too large");
			api_resp_release(&resp);
			api_resp_init(&resp);
			api_reply_error(&resp, &err, req.request_id);
		}
		fcgi_io_respond(conn, &req, &resp);
		api_resp_release(&resp);
		fcgi_io_finish(conn);
	}
	log_info(LOG_CTX_NONE, "responder stopping");
	fcgi_io_close(conn);
	buf_free(&body);
	db_free(ctx.db);
	config_release(&cfg);
	return 0;
}
