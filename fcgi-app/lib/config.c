#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "provider.h"
#include "storage.h"

enum cfg_type { CFG_STR, CFG_LONG };

#define CFG_SECRET	0x1

struct cfg_row {
	const char	*key;
	enum cfg_type	 type;
	size_t		 offset;
	const char	*def;
	long		 min, max;
	int		 flags;
	int		 (*check)(const char *value);
	const char	*doc;
};

static int
cfg_check_provider(const char *v)
{
	return provider_find(v) ? 0 : -1;
}

static int
cfg_check_storage(const char *v)
{
	return storage_kind_valid(v) ? 0 : -1;
}

static int
cfg_check_log_level(const char *v)
{
	enum log_level	 l;

	return log_level_parse(v, &l);
}

static int
cfg_check_url(const char *v)
{
	size_t	 n = strlen(v);

	if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
		return -1;
	return (n > 0 && v[n - 1] == '/') ? -1 : 0;
}

/* A short HMAC key is a guessable one (JWT and webhook keys). */
static int
cfg_check_jwt_secret(const char *v)
{
	return (*v == '\0' || strlen(v) >= 32) ? 0 : -1;
}

/* Model names travel inside URL paths: keep them to a safe alphabet. */
static int
cfg_check_model(const char *v)
{
	size_t	 n = strlen(v);

	return (n > 0 && n <= 100 && strspn(v, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") == n) ? 0 : -1;
}

#define OFF(f)	offsetof(struct config, f)

/*
 * The configuration keys.  docs/configuration.md and the sample env file
 * must list every key here (checked by scripts/check-docs.sh).
 */
static const struct cfg_row cfg_rows[] = {
	{ "DATABASE_URL", CFG_STR, OFF(database_url), "postgresql:///imggen",
	    0, 0, CFG_SECRET, NULL, "libpq connection string or URI" },
	{ "IMGGEN_PROVIDER", CFG_STR, OFF(provider), "local", 0, 0, 0,
	    cfg_check_provider, "image provider: local, imagen, gemini or "
	    "openai" },
	{ "IMGGEN_STORAGE", CFG_STR, OFF(storage), "fs", 0, 0, 0,
	    cfg_check_storage, "storage backend: fs or s3" },
	{ "IMGGEN_FS_ROOT", CFG_STR, OFF(fs_root), "/var/lib/imggen/files",
	    0, 0, 0, NULL, "directory of the fs storage backend" },
	{ "PUBLIC_BASE_URL", CFG_STR, OFF(public_base_url),
	    "https://localhost/files", 0, 0, 0, cfg_check_url,
	    "URL prefix under which stored objects are served" },
	{ "IMGGEN_SQL_DIR", CFG_STR, OFF(sql_dir), IMGGEN_DEFAULT_SQL_DIR,
	    0, 0, 0, NULL, "directory holding the NNNN_*.sql migrations" },
	{ "IMGGEN_LOG_LEVEL", CFG_STR, OFF(log_level), "info", 0, 0, 0,
	    cfg_check_log_level, "debug, info, warn or error" },
	{ "IMGGEN_DB_CONNECT_TIMEOUT", CFG_LONG, OFF(db_connect_timeout), "3",
	    1, 60, 0, NULL, "seconds to wait for a database connection" },
	{ "IMGGEN_DB_PREPARED", CFG_LONG, OFF(db_prepared), "1", 0, 1, 0, NULL,
	    "1: prepare statements once per connection; 0 behind a pgbouncer "
	    "in transaction mode older than 1.21" },
	{ "IMGGEN_WORKER_PROCESSES", CFG_LONG, OFF(worker_processes), "0",
	    0, 256, 0, NULL, "worker children; 0 = one per core" },
	{ "IMGGEN_WORKER_CONCURRENCY", CFG_LONG, OFF(worker_concurrency), "16",
	    1, 4096, 0, NULL, "jobs in flight per worker child" },
	{ "IMGGEN_LEASE_SECONDS", CFG_LONG, OFF(lease_seconds), "60",
	    5, 3600, 0, NULL, "job lease; renewed every third of it" },
	{ "IMGGEN_MAX_ATTEMPTS", CFG_LONG, OFF(max_attempts), "5",
	    1, 100, 0, NULL, "attempts before a job is dead" },
	{ "IMGGEN_POLL_INTERVAL_MS", CFG_LONG, OFF(poll_interval_ms), "5000",
	    50, 600000, 0, NULL, "queue poll interval besides LISTEN/NOTIFY" },
	{ "IMGGEN_RETRY_BASE_MS", CFG_LONG, OFF(retry_base_ms), "2000",
	    10, 3600000, 0, NULL, "first retry delay; doubles per attempt" },
	{ "IMGGEN_SHUTDOWN_GRACE_SECONDS", CFG_LONG,
	    OFF(shutdown_grace_seconds), "30", 1, 3600, 0, NULL,
	    "on SIGTERM, time to finish in-flight jobs before handing back" },
	{ "IMGGEN_DEAD_JOB_RETENTION_DAYS", CFG_LONG,
	    OFF(dead_job_retention_days), "30", 1, 3650, 0, NULL,
	    "maintenance deletes dead jobs older than this" },
	{ "IMGGEN_GENERATION_RETENTION_DAYS", CFG_LONG,
	    OFF(generation_retention_days), "0", 0, 36500, 0, NULL,
	    "maintenance deletes finished generations older than this; 0 = "
	    "keep them" },
	{ "IMGGEN_JOBS_REINDEX_MB", CFG_LONG, OFF(jobs_reindex_mb), "8",
	    0, 1048576, 0, NULL,
	    "maintenance rebuilds the jobs table's indexes once they exceed "
	    "this many MB and 4 times what the live rows need; 0 = never" },
	{ "IMGGEN_JWT_SECRET", CFG_STR, OFF(jwt_secret), "", 0, 0, CFG_SECRET,
	    cfg_check_jwt_secret, "HS256 secret for JWT bearer tokens (at "
	    "least 32 bytes); empty: JWTs are not accepted" },
	{ "IMGGEN_WEBHOOK_KEY", CFG_STR, OFF(webhook_key), "", 0, 0, CFG_SECRET,
	    cfg_check_jwt_secret, "master key the per-user webhook secrets are "
	    "derived from (at least 32 bytes); empty: webhookUrl is refused" },
	{ "IMGGEN_WEBHOOK_ALLOW_INSECURE", CFG_LONG,
	    OFF(webhook_allow_insecure), "0", 0, 1, 0, NULL,
	    "1: webhooks may use http and private addresses (development)" },
	{ "IMGGEN_WEBHOOK_TIMEOUT", CFG_LONG, OFF(webhook_timeout), "10", 1,
	    120, 0, NULL, "seconds a webhook delivery may take" },
	{ "GEMINI_API_KEY", CFG_STR, OFF(google_api_key), "", 0, 0, CFG_SECRET,
	    NULL, "Google Generative Language API key (imagen, gemini)" },
	{ "GOOGLE_API_BASE_URL", CFG_STR, OFF(google_api_base_url),
	    "https://generativelanguage.googleapis.com", 0, 0, 0, cfg_check_url,
	    "base URL of the Generative Language API" },
	{ "IMAGEN_MODEL", CFG_STR, OFF(imagen_model),
	    "imagen-4.0-generate-001", 0, 0, 0, cfg_check_model,
	    "Imagen model for the imagen provider" },
	{ "GEMINI_MODEL", CFG_STR, OFF(gemini_model),
	    "gemini-2.5-flash-image", 0, 0, 0, cfg_check_model,
	    "Gemini image model for the gemini provider" },
	{ "OPENAI_API_KEY", CFG_STR, OFF(openai_api_key), "", 0, 0, CFG_SECRET,
	    NULL, "OpenAI API key (openai)" },
	{ "OPENAI_API_BASE_URL", CFG_STR, OFF(openai_api_base_url),
	    "https://api.openai.com", 0, 0, 0, cfg_check_url,
	    "base URL of the OpenAI API" },
	{ "OPENAI_MODEL", CFG_STR, OFF(openai_model), "gpt-image-1", 0, 0, 0,
	    cfg_check_model, "OpenAI image model" },
	{ "IMGGEN_PROVIDER_CONNECT_TIMEOUT", CFG_LONG,
	    OFF(provider_connect_timeout), "10", 1, 120, 0, NULL,
	    "seconds to connect to a provider or the object store" },
	{ "IMGGEN_PROVIDER_TIMEOUT", CFG_LONG, OFF(provider_timeout), "180",
	    5, 3600, 0, NULL, "seconds a provider call may take in all" },
	{ "IMGGEN_PROVIDER_MAX_RESPONSE", CFG_LONG, OFF(provider_max_response),
	    "67108864", 65536, 1073741824, 0, NULL,
	    "largest provider response accepted, in bytes" },
	{ "IMGGEN_CA_FILE", CFG_STR, OFF(ca_file), "", 0, 0, 0, NULL,
	    "extra CA bundle for TLS to providers and storage (empty: system)" },
	{ "S3_ENDPOINT", CFG_STR, OFF(s3_endpoint), "", 0, 0, 0, NULL,
	    "S3 endpoint, e.g. https://<account>.r2.cloudflarestorage.com" },
	{ "S3_BUCKET", CFG_STR, OFF(s3_bucket), "", 0, 0, 0, NULL,
	    "bucket for generated images" },
	{ "S3_ACCESS_KEY_ID", CFG_STR, OFF(s3_access_key_id), "", 0, 0,
	    CFG_SECRET, NULL, "S3 access key id" },
	{ "S3_SECRET_ACCESS_KEY", CFG_STR, OFF(s3_secret_access_key), "", 0, 0,
	    CFG_SECRET, NULL, "S3 secret access key" },
	{ "S3_REGION", CFG_STR, OFF(s3_region), "auto", 0, 0, 0, NULL,
	    "signing region: auto for R2" },
	{ "S3_FORCE_PATH_STYLE", CFG_LONG, OFF(s3_path_style), "0", 0, 1, 0,
	    NULL, "1: endpoint/bucket/key URLs; 0: bucket.endpoint/key" },
	{ "S3_CACHE_CONTROL", CFG_STR, OFF(s3_cache_control),
	    "public, max-age=31536000, immutable", 0, 0, 0, NULL,
	    "Cache-Control stored with each object" },
	{ "IMGGEN_STORAGE_TIMEOUT", CFG_LONG, OFF(storage_timeout), "60", 1,
	    3600, 0, NULL, "seconds an upload may take in all" },
};

#define CFG_NROWS	(sizeof(cfg_rows) / sizeof(cfg_rows[0]))

static const struct cfg_row *
cfg_find(const char *key, size_t keylen)
{
	size_t	 i;

	for (i = 0; i < CFG_NROWS; i++)
		if (strlen(cfg_rows[i].key) == keylen &&
		    strncmp(cfg_rows[i].key, key, keylen) == 0)
			return &cfg_rows[i];
	return NULL;
}

static int
cfg_assign(struct config *cfg, const struct cfg_row *row, const char *val,
    const char *source, struct buf *problems)
{
	char	*end;
	long	 n;
	char	**sp;

	if (row->type == CFG_LONG) {
		errno = 0;
		n = strtol(val, &end, 10);
		if (*val == '\0' || *end != '\0' || errno != 0 ||
		    n < row->min || n > row->max) {
			buf_addf(problems, "config: %s: must be an integer "
			    "from %ld to %ld (from %s)\n", row->key, row->min,
			    row->max, source);
			return -1;
		}
		*(long *)(void *)((char *)cfg + row->offset) = n;
		return 0;
	}
	if (row->check && row->check(val) == -1) {
		if (row->flags & CFG_SECRET)
			buf_addf(problems, "config: %s: invalid value (from "
			    "%s)\n", row->key, source);
		else
			buf_addf(problems, "config: %s: invalid value \"%s\""
			    " (%s) (from %s)\n", row->key, val, row->doc,
			    source);
		return -1;
	}
	sp = (char **)(void *)((char *)cfg + row->offset);
	free(*sp);
	if ((*sp = strdup(val)) == NULL) {
		buf_addf(problems, "config: %s: out of memory\n", row->key);
		return -1;
	}
	return 0;
}

/* Strips one pair of matching quotes, as systemd's EnvironmentFile does. */
static char *
cfg_unquote(char *v)
{
	size_t	 n = strlen(v);

	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v[n - 1] = '\0';
		return v + 1;
	}
	return v;
}

static int
cfg_load_file(struct config *cfg, const char *path, int must_exist,
    struct buf *problems)
{
	FILE		*fp;
	char		 line[4096], source[512];
	char		*p, *eq, *key, *val, *e;
	unsigned	 lineno = 0;
	int		 rc = 0;
	const struct cfg_row *row;

	if ((fp = fopen(path, "r")) == NULL) {
		if (!must_exist && errno == ENOENT)
			return 0;
		buf_addf(problems, "config: IMGGEN_CONFIG: cannot open %s: "
		    "%s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		snprintf(source, sizeof(source), "%s line %u", path, lineno);
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			buf_addf(problems, "config: line too long (%s)\n",
			    source);
			rc = -1;
			break;
		}
		line[strcspn(line, "\r\n")] = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if (strncmp(p, "export ", 7) == 0)
			p += 7;
		if ((eq = strchr(p, '=')) == NULL) {
			buf_addf(problems, "config: expected KEY=VALUE (%s)\n",
			    source);
			rc = -1;
			continue;
		}
		key = p;
		for (e = eq; e > key && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		if ((row = cfg_find(key, (size_t)(e - key))) == NULL) {
			buf_addf(problems, "config: %.*s: unknown key (%s)\n",
			    (int)(e - key) > 64 ? 64 : (int)(e - key), key,
			    source);
			rc = -1;
			continue;
		}
		for (val = eq + 1; *val == ' ' || *val == '\t'; val++)
			;
		for (e = val + strlen(val); e > val &&
		    (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		*e = '\0';
		if (cfg_assign(cfg, row, cfg_unquote(val), source,
		    problems) == -1)
			rc = -1;
	}
	fclose(fp);
	return rc;
}

static int
cfg_require(const char *value, const char *key, const char *why,
    struct buf *problems)
{
	if (value != NULL && *value != '\0')
		return 0;
	buf_addf(problems, "config: %s: required when %s\n", key, why);
	return -1;
}

/* Keys that only matter, and then are required, for some backends. */
static int
cfg_check_combination(const struct config *cfg, struct buf *problems)
{
	int	 rc = 0;

	if ((strcmp(cfg->provider, "imagen") == 0 ||
	    strcmp(cfg->provider, "gemini") == 0) &&
	    cfg_require(cfg->google_api_key, "GEMINI_API_KEY",
	    "IMGGEN_PROVIDER is imagen or gemini", problems) == -1)
		rc = -1;
	if (strcmp(cfg->provider, "openai") == 0 &&
	    cfg_require(cfg->openai_api_key, "OPENAI_API_KEY",
	    "IMGGEN_PROVIDER=openai", problems) == -1)
		rc = -1;
	if (strcmp(cfg->storage, "s3") == 0) {
		if (cfg_require(cfg->s3_endpoint, "S3_ENDPOINT",
		    "IMGGEN_STORAGE=s3", problems) == -1 ||
		    cfg_check_url(cfg->s3_endpoint) == -1) {
			if (*cfg->s3_endpoint)
				buf_addf(problems, "config: S3_ENDPOINT: must be "
				    "an http(s) URL without a trailing slash\n");
			rc = -1;
		}
		/* Each missing key gets its own line. */
		rc |= cfg_require(cfg->s3_bucket, "S3_BUCKET",
		    "IMGGEN_STORAGE=s3", problems);
		rc |= cfg_require(cfg->s3_access_key_id, "S3_ACCESS_KEY_ID",
		    "IMGGEN_STORAGE=s3", problems);
		rc |= cfg_require(cfg->s3_secret_access_key,
		    "S3_SECRET_ACCESS_KEY", "IMGGEN_STORAGE=s3", problems);
	}
	return rc;
}

int
config_load(struct config *cfg, struct buf *problems)
{
	const char	*path, *v;
	size_t		 i;
	int		 rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < CFG_NROWS; i++)
		if (cfg_assign(cfg, &cfg_rows[i], cfg_rows[i].def, "default",
		    problems) == -1)
			rc = -1;
	if ((path = getenv("IMGGEN_CONFIG")) != NULL && *path != '\0') {
		if (cfg_load_file(cfg, path, 1, problems) == -1)
			rc = -1;
	} else if (cfg_load_file(cfg, CONFIG_DEFAULT_PATH, 0, problems) == -1)
		rc = -1;
	for (i = 0; i < CFG_NROWS; i++)
		if ((v = getenv(cfg_rows[i].key)) != NULL &&
		    cfg_assign(cfg, &cfg_rows[i], v, "environment",
		    problems) == -1)
			rc = -1;
	if (rc == 0 && cfg_check_combination(cfg, problems) == -1)
		rc = -1;
	return rc;
}

void
config_release(struct config *cfg)
{
	size_t	 i;

	for (i = 0; i < CFG_NROWS; i++)
		if (cfg_rows[i].type == CFG_STR) {
			char **sp = (char **)(void *)((char *)cfg +
			    cfg_rows[i].offset);
			free(*sp);
			*sp = NULL;
		}
}

void
config_print(const struct config *cfg, FILE *fp)
{
	size_t	 i;
	const struct cfg_row *r;

	for (i = 0; i < CFG_NROWS; i++) {
		r = &cfg_rows[i];
		if (r->flags & CFG_SECRET)
			fprintf(fp, "%s=***\n", r->key);
		else if (r->type == CFG_LONG)
			fprintf(fp, "%s=%ld\n", r->key, *(const long *)
			    (const void *)((const char *)cfg + r->offset));
		else
			fprintf(fp, "%s=%s\n", r->key, *(char *const *)
			    (const void *)((const char *)cfg + r->offset));
	}
}

void
config_load_or_exit(struct config *cfg, const char *binary)
{
	struct buf	 problems = BUF_INIT(64 * 1024);

	if (config_load(cfg, &problems) == 0) {
		buf_free(&problems);
		return;
	}
	fprintf(stderr, "%s: invalid configuration:\n%s", binary,
	    buf_cstr(&problems));
	buf_free(&problems);
	config_release(cfg);
	exit(CONFIG_EX_CONFIG);
}
