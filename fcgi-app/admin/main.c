/*
 * imggen-admin: the operator CLI.  Sub-commands come from one table; each
 * prints its result on stdout and diagnostics on stderr, exit 0 on success,
 * 1 on failure, 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "log.h"
#include "maint.h"
#include "migrate.h"
#include "queue.h"
#include "store.h"
#include "webhook.h"

struct admin {
	struct config	 cfg;
	struct db	*db;
};

struct command {
	const char	*name;		/* "token create" */
	int		 min_args, max_args;
	const char	*usage;
	int		 (*fn)(struct admin *, int, char **);
};

static int
fail(const struct ig_err *err)
{
	fprintf(stderr, "imggen-admin: %s\n", err->msg);
	return 1;
}

static int
cmd_migrate(struct admin *a, int argc, char **argv)
{
	struct ig_err	 err = IG_ERR_INIT;
	int		 applied;

	(void)argc;
	(void)argv;
	if (migrate_run(a->db, a->cfg.sql_dir, &applied, &err) == -1)
		return fail(&err);
	printf("schema up to date (%d migration(s) applied)\n", applied);
	return 0;
}

static int
cmd_user_create(struct admin *a, int argc, char **argv)
{
	struct ig_err	 err = IG_ERR_INIT;
	char		 id[STORE_UUID_LEN + 1];

	(void)argc;
	if (store_user_create(a->db, argv[0], id, &err) == -1) {
		if (err.code == IG_ECONFLICT)
			fprintf(stderr, "imggen-admin: a user with that email "
			    "already exists\n");
		else if (err.code == IG_EINPUT)
			fprintf(stderr, "imggen-admin: not a valid email\n");
		else
			return fail(&err);
		return 1;
	}
	printf("%s\n", id);
	return 0;
}

static int
cmd_token_create(struct admin *a, int argc, char **argv)
{
	struct ig_err	 err = IG_ERR_INIT;
	char		 token[CRYPTO_TOKEN_LEN + 1], id[STORE_UUID_LEN + 1];
	const char	*name = "";
	int		 rc;

	if (argc == 3 && strcmp(argv[1], "--name") == 0)
		name = argv[2];
	else if (argc != 1) {
		fprintf(stderr, "usage: imggen-admin token create EMAIL "
		    "[--name NAME]\n");
		return 2;
	}
	if (crypto_new_token(token) == -1) {
		fprintf(stderr, "imggen-admin: no randomness available\n");
		return 1;
	}
	rc = store_token_create(a->db, argv[0], name, token, id, &err);
	if (rc == 0) {
		/* The only time the secret is ever shown. */
		printf("%s\n", token);
		fprintf(stderr, "token id %s (the secret above is shown once; "
		    "only its hash is stored)\n", id);
	}
	crypto_wipe(token, sizeof(token));
	return rc == 0 ? 0 : fail(&err);
}

static int
cmd_token_revoke(struct admin *a, int argc, char **argv)
{
	struct ig_err	 err = IG_ERR_INIT;
	char		 secret[256];
	int		 rc;

	(void)argc;
	if (strcmp(argv[0], "-") != 0) {
		if (store_token_revoke(a->db, argv[0], 0, &err) == -1)
			return fail(&err);
		printf("revoked\n");
		return 0;
	}
	if (fgets(secret, sizeof(secret), stdin) == NULL) {
		fprintf(stderr, "imggen-admin: expected the token on stdin\n");
		return 2;
	}
	secret[strcspn(secret, "\r\n")] = '\0';
	rc = store_token_revoke(a->db, secret, 1, &err);
	crypto_wipe(secret, sizeof(secret));
	if (rc == -1)
		return fail(&err);
	printf("revoked\n");
	return 0;
}

static int
cmd_queue_stats(struct admin *a, int argc, char **argv)
{
	struct ig_err	 err = IG_ERR_INIT;
	struct buf	 out = BUF_INIT(64 * 1024);

	(void)argc;
	(void)argv;
	if (store_queue_stats(a->db, &out, &err) == -1) {
		buf_free(&out);
		return fail(&err);
	}
	fputs(buf_cstr(&out), stdout);
	buf_free(&out);
	return 0;
}

/*
 * For cron: requeue jobs whose worker vanished, prune what retention
 * allows, and print the queue's health.
 */
static int
cmd_maintenance(struct admin *a, int argc, char **argv)
{
	struct ig_err	 err = IG_ERR_INIT;
	struct maint_reindex ri;
	long		 rescued, jobs, gens, keys;

	(void)argc;
	(void)argv;
	if (queue_rescue(a->db, &rescued, &err) == -1)
		return fail(&err);
	printf("rescued %ld job(s) with expired leases\n", rescued);
	if (queue_prune(a->db, a->cfg.dead_job_retention_days,
	    a->cfg.generation_retention_days, &jobs, &gens, &err) == -1)
		return fail(&err);
	printf("pruned %ld dead job(s) and %ld finished generation(s)\n",
	    jobs, gens);
	if (maint_release_idempotency_keys(a->db, &keys, &err) == -1)
		return fail(&err);
	printf("released %ld idempotency key(s) older than 24 hours\n", keys);
	if (maint_reindex_jobs(a->db, a->cfg.jobs_reindex_mb, &ri, &err) == -1)
		return fail(&err);
	if (ri.rebuilt)
		printf("rebuilt the jobs indexes: %lld kB -> %lld kB "
		    "(%lld live job(s))\n", ri.before_bytes / 1024,
		    ri.after_bytes / 1024, ri.live_rows);
	else
		printf("jobs indexes: %lld kB for %lld live job(s), no rebuild "
		    "needed\n", ri.before_bytes / 1024, ri.live_rows);
	return cmd_queue_stats(a, 0, NULL);
}

static int
cmd_requeue(struct admin *a, int argc, char **argv)
{
	struct ig_err	 err = IG_ERR_INIT;
	long long	 id = 0;
	long		 n;
	char		*end;

	(void)argc;
	if (strcmp(argv[0], "--all-dead") != 0) {
		id = strtoll(argv[0], &end, 10);
		if (*argv[0] == '\0' || *end != '\0' || id <= 0) {
			fprintf(stderr, "usage: imggen-admin requeue JOB_ID | "
			    "--all-dead\n");
			return 2;
		}
	}
	if (queue_requeue_dead(a->db, id, &n, &err) == -1)
		return fail(&err);
	printf("requeued %ld dead job(s)\n", n);
	if (id > 0 && n == 0) {
		fprintf(stderr, "imggen-admin: job %lld is neither a dead job of a "
		    "failed generation nor a dead webhook delivery\n", id);
		return 1;
	}
	return 0;
}

static int
cmd_webhook_secret(struct admin *a, int rotate, const char *who)
{
	struct ig_err	 err = IG_ERR_INIT;
	unsigned char	 key[WEBHOOK_SECRET_LEN];
	char		 id[STORE_UUID_LEN + 1], text[WEBHOOK_SECRET_TEXT];
	int		 version;

	if (*a->cfg.webhook_key == '\0') {
		fprintf(stderr, "imggen-admin: IMGGEN_WEBHOOK_KEY is not set\n");
		return 1;
	}
	if (store_user_webhook(a->db, who, rotate, id, &version, &err) == -1)
		return fail(&err);
	webhook_secret(a->cfg.webhook_key, id, version, key);
	webhook_secret_text(key, text);
	/* Shown to the operator to hand to the client; derived, not stored. */
	printf("%s\n", text);
	crypto_wipe(key, sizeof(key));
	crypto_wipe(text, sizeof(text));
	return 0;
}

static int
cmd_webhook_show(struct admin *a, int argc, char **argv)
{
	(void)argc;
	return cmd_webhook_secret(a, 0, argv[0]);
}

static int
cmd_webhook_rotate(struct admin *a, int argc, char **argv)
{
	(void)argc;
	return cmd_webhook_secret(a, 1, argv[0]);
}

static int
cmd_webhook_deliveries(struct admin *a, int argc, char **argv)
{
	struct ig_err	 err = IG_ERR_INIT;
	struct buf	 out = BUF_INIT(1024 * 1024);

	(void)argc;
	if (store_webhook_deliveries(a->db, argv[0], &out, &err) == -1) {
		buf_free(&out);
		return fail(&err);
	}
	fputs(buf_cstr(&out), stdout);
	buf_free(&out);
	return 0;
}

static const struct command commands[] = {
	{ "migrate", 0, 0, "migrate", cmd_migrate },
	{ "user create", 1, 1, "user create EMAIL", cmd_user_create },
	{ "token create", 1, 3, "token create EMAIL [--name NAME]",
	    cmd_token_create },
	{ "token revoke", 1, 1, "token revoke TOKEN_ID | token revoke - "
	    "(secret on stdin)", cmd_token_revoke },
	{ "queue stats", 0, 0, "queue stats", cmd_queue_stats },
	{ "webhook secret", 1, 1, "webhook secret EMAIL  (the user's signing "
	    "secret, whsec_…)", cmd_webhook_show },
	{ "webhook rotate", 1, 1, "webhook rotate EMAIL  (a new secret; the "
	    "old one stops working)", cmd_webhook_rotate },
	{ "webhook deliveries", 1, 1, "webhook deliveries GENERATION_ID",
	    cmd_webhook_deliveries },
	{ "maintenance", 0, 0, "maintenance  (rescue expired leases, prune "
	    "per retention, rebuild bloated jobs indexes, report queue "
	    "health; for cron)", cmd_maintenance },
	{ "requeue", 1, 1, "requeue JOB_ID | requeue --all-dead  (retry dead "
	    "jobs with fresh attempts: generations that failed, webhook "
	    "deliveries)", cmd_requeue },
};

static void
usage(FILE *fp)
{
	size_t	 i;

	fprintf(fp, "usage: imggen-admin [--check-config] COMMAND\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(fp, "  %s\n", commands[i].usage);
	fprintf(fp, "Configuration: environment or the file named by "
	    "IMGGEN_CONFIG.\n");
}

/* Matches "word" or "word word" commands; returns words consumed. */
static const struct command *
find_command(int argc, char **argv, int *used)
{
	size_t	 i, n;
	char	 two[128];

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		n = strlen(commands[i].name);
		if (strchr(commands[i].name, ' ') == NULL) {
			if (strcmp(argv[0], commands[i].name) == 0) {
				*used = 1;
				return &commands[i];
			}
			continue;
		}
		if (argc < 2)
			continue;
		snprintf(two, sizeof(two), "%s %s", argv[0], argv[1]);
		if (strlen(two) == n && strcmp(two, commands[i].name) == 0) {
			*used = 2;
			return &commands[i];
		}
	}
	return NULL;
}

int
main(int argc, char *argv[])
{
	struct admin		 a;
	const struct command	*cmd;
	struct ig_err		 err = IG_ERR_INIT;
	int			 used, rc;
	enum log_level		 lvl = LOG_INFO;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	config_load_or_exit(&a.cfg, "imggen-admin");
	if (strcmp(argv[1], "--check-config") == 0) {
		config_print(&a.cfg, stdout);
		config_release(&a.cfg);
		return 0;
	}
	(void)log_level_parse(a.cfg.log_level, &lvl);
	log_setup("imggen-admin", lvl);
	if ((cmd = find_command(argc - 1, argv + 1, &used)) == NULL ||
	    argc - 1 - used < cmd->min_args || argc - 1 - used > cmd->max_args) {
		usage(stderr);
		config_release(&a.cfg);
		return 2;
	}
	if ((a.db = db_new(a.cfg.database_url, a.cfg.db_connect_timeout,
	    "imggen-admin")) == NULL || db_ensure(a.db, &err) == -1) {
		fprintf(stderr, "imggen-admin: cannot connect to the database "
		    "(DATABASE_URL)\n");
		db_free(a.db);
		config_release(&a.cfg);
		return 1;
	}
	rc = cmd->fn(&a, argc - 1 - used, argv + 1 + used);
	db_free(a.db);
	config_release(&a.cfg);
	return rc;
}
