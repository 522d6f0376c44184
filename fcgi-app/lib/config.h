/*
 * config: the one configuration of every imggen binary.
 *
 * A table in config.c is the single source of truth for the keys, their
 * types, defaults, bounds and documentation.  Loading goes defaults →
 * the KEY=VALUE file named by IMGGEN_CONFIG (default /etc/imggen/imggen.env,
 * skipped when that default does not exist) → the environment.  Every
 * problem is reported as one line naming the key and where it came from —
 * never a secret's value — and config_load() fails if there was any.
 * The struct owns its strings; release it with config_release().
 */
#ifndef IG_CONFIG_H
#define IG_CONFIG_H

#include <stdio.h>

#include "buf.h"

/* Both follow the build's SYSCONFDIR and DATADIR (see the Makefile). */
#ifndef IMGGEN_DEFAULT_CONFIG
#define IMGGEN_DEFAULT_CONFIG	"/etc/imggen/imggen.env"
#endif
#define CONFIG_DEFAULT_PATH	IMGGEN_DEFAULT_CONFIG
#ifndef IMGGEN_DEFAULT_SQL_DIR
#define IMGGEN_DEFAULT_SQL_DIR	"/usr/local/share/imggen/sql"
#endif
#define CONFIG_EX_CONFIG	78	/* sysexits(3) EX_CONFIG */

struct config {
	char	*database_url;
	char	*provider;
	char	*storage;
	char	*fs_root;
	char	*public_base_url;
	char	*sql_dir;
	char	*log_level;
	long	 db_connect_timeout;
	long	 db_prepared;
	long	 worker_processes;
	long	 worker_concurrency;
	long	 lease_seconds;
	long	 max_attempts;
	long	 poll_interval_ms;
	long	 retry_base_ms;
	long	 shutdown_grace_seconds;
	long	 dead_job_retention_days;
	long	 generation_retention_days;
	long	 jobs_reindex_mb;
	char	*jwt_secret;
	char	*webhook_key;
	long	 webhook_allow_insecure;
	long	 webhook_timeout;
	/* HTTP providers */
	char	*google_api_key;
	char	*google_api_base_url;
	char	*imagen_model;
	char	*gemini_model;
	char	*openai_api_key;
	char	*openai_api_base_url;
	char	*openai_model;
	long	 provider_connect_timeout;
	long	 provider_timeout;
	long	 provider_max_response;
	char	*ca_file;
	/* s3 storage */
	char	*s3_endpoint;
	char	*s3_bucket;
	char	*s3_access_key_id;
	char	*s3_secret_access_key;
	char	*s3_region;
	long	 s3_path_style;
	char	*s3_cache_control;
	long	 storage_timeout;
};

/* Fills *cfg; on failure *problems holds one line per problem. */
int	config_load(struct config *cfg, struct buf *problems)
	    __attribute__((warn_unused_result));
void	config_release(struct config *cfg);
/* Prints the effective configuration, secrets as "***". */
void	config_print(const struct config *cfg, FILE *fp);
/* Loads, or prints the problems and exits CONFIG_EX_CONFIG (start-up only). */
void	config_load_or_exit(struct config *cfg, const char *binary);

#endif
