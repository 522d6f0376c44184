#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "doc_sql.h"

static void
store_copy(char *dst, size_t dstlen, const PGresult *res, int row, int col)
{
	snprintf(dst, dstlen, "%s", PQgetvalue(res, row, col));
}

/* The hash travels as hex text, so no binary parameters are needed. */
static void
store_token_hash_hex(const char *token, size_t len,
    uint8_t hash[CRYPTO_SHA256_LEN], char hex[2 * CRYPTO_SHA256_LEN + 1])
{
	crypto_sha256(token, len, hash);
	crypto_hex(hash, CRYPTO_SHA256_LEN, hex);
}

/*
 * The live token whose SHA-256 is $1 (hex) as "t", its last use refreshed
 * at most once a minute (a write per request would make every poll a
 * durable commit).  The caller compares t.token_hash again in constant
 * time: an index lookup's timing is not a secret's comparison.
 */
#define STORE_AUTH_CTE \
	"WITH t AS (SELECT id, user_id, token_hash, last_used_at " \
	"    FROM api_tokens WHERE token_hash = decode($1, 'hex') " \
	"    AND revoked_at IS NULL), " \
	"u AS (UPDATE api_tokens a SET last_used_at = now() FROM t " \
	"    WHERE a.id = t.id AND (t.last_used_at IS NULL OR " \
	"    t.last_used_at < now() - interval '1 minute')) "

/*
 * The status document of the generation row "g" with, after it, whether
 * it is final and its completion time in ms (the ETag).  The queue
 * position counts the claimable jobs ahead through the claim index,
 * capped so that a deep queue stays cheap to poll.
 */
#define STORE_DOC_SELECT \
	"SELECT imggen_doc(g, CASE WHEN g.status = 'queued' THEN " \
	"  (SELECT count(*) FROM (SELECT 1 FROM jobs me, jobs q " \
	"    WHERE me.generation_id = g.id AND me.state = 'queued' " \
	"      AND q.state = 'queued' AND (q.priority, q.run_at, q.id) < " \
	"      (me.priority, me.run_at, me.id) LIMIT 1000) ahead) END, " \
	DOC_IMAGES_SQL ")::text, " \
	"  g.status IN ('completed', 'failed', 'canceled'), " \
	"  (extract(epoch FROM g.completed_at) * 1000)::bigint " \
	"FROM image_generations g "

/*
 * Runs sql, a statement on STORE_AUTH_CTE whose first two columns are
 * t.user_id and the hex hash, with the token's hash as $1 and param2 (may
 * be NULL: none) as $2.  Returns the result with the user id copied, or
 * NULL with IG_EAUTH when no live token has this hash.
 */
static PGresult *
store_token_exec(struct db *db, const char *sql, const char *token,
    size_t len, const char *param2, char user_id[STORE_UUID_LEN + 1],
    struct ig_err *err)
{
	uint8_t		 hash[CRYPTO_SHA256_LEN];
	char		 hex[2 * CRYPTO_SHA256_LEN + 1];
	const char	*params[2] = { hex, param2 };
	PGresult	*res = NULL;

	if (!crypto_token_wellformed(token, len)) {
		ig_err_set(err, IG_EAUTH, NULL, "the bearer token is not valid");
		return NULL;
	}
	store_token_hash_hex(token, len, hash, hex);
	res = db_exec(db, sql, param2 ? 2 : 1, params, err);
	if (res != NULL && (PQntuples(res) != 1 ||
	    !crypto_equal(PQgetvalue(res, 0, 1), hex, sizeof(hex) - 1))) {
		PQclear(res);
		res = NULL;
		ig_err_set(err, IG_EAUTH, NULL, "the bearer token is not valid");
	}
	if (res != NULL)
		store_copy(user_id, STORE_UUID_LEN + 1, res, 0, 0);
	crypto_wipe(hash, sizeof(hash));
	crypto_wipe(hex, sizeof(hex));
	return res;
}

int
store_auth(struct db *db, const char *token, size_t len,
    char user_id[STORE_UUID_LEN + 1], struct ig_err *err)
{
	static const char sql[] =
	    STORE_AUTH_CTE "SELECT user_id, encode(token_hash, 'hex') FROM t";
	PGresult	*res;

	if ((res = store_token_exec(db, sql, token, len, NULL, user_id,
	    err)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}


/* SHA-256 of what the request asks for, as the idempotency check sees it. */
static void
store_request_hash(const struct gen_request *r, const char *metadata_json,
    char hex[2 * CRYPTO_SHA256_LEN + 1])
{
	struct buf	 b = BUF_INIT(BUF_MAX_REQUEST_BODY * 3);
	uint8_t		 h[CRYPTO_SHA256_LEN];

	buf_add(&b, r->prompt, r->prompt_len);
	buf_addc(&b, '\0');
	buf_adds(&b, metadata_json);
	crypto_sha256(buf_cstr(&b), b.len, h);
	crypto_hex(h, sizeof(h), hex);
	buf_free(&b);
}

/*
 * The earlier request under this key: 1 found (replay filled in), 0 none,
 * -1 error (incl. the mismatch).  A key older than 24 h is released.
 */
static int
store_idempotent_lookup(struct db *db, const char *user_id, const char *key,
    const char *hash, struct store_created *out, struct ig_err *err)
{
	static const char sql[] =
	    "SELECT id, imggen_iso(created_at), request_hash, "
	    "  created_at > now() - interval '24 hours' "
	    "FROM image_generations WHERE user_id = $1 AND idempotency_key = $2";
	static const char release[] =
	    "UPDATE image_generations SET idempotency_key = NULL "
	    "WHERE user_id = $1 AND idempotency_key = $2 "
	    "  AND created_at <= now() - interval '24 hours'";
	const char	*params[2] = { user_id, key };
	PGresult	*res;
	int		 rc = 0;

	if ((res = db_exec(db, sql, 2, params, err)) == NULL)
		return -1;
	if (PQntuples(res) == 1 && PQgetvalue(res, 0, 3)[0] == 't') {
		if (strcmp(PQgetvalue(res, 0, 2), hash) != 0)
			rc = ig_err_setc(err, IG_EPERMANENT, "idempotency_mismatch",
			    NULL, "this Idempotency-Key was used for a "
			    "different request");
		else {
			store_copy(out->id, sizeof(out->id), res, 0, 0);
			store_copy(out->created_at, sizeof(out->created_at),
			    res, 0, 1);
			out->replayed = 1;
			rc = 1;
		}
	} else if (PQntuples(res) == 1) {
		PQclear(res);
		if ((res = db_exec(db, release, 2, params, err)) == NULL)
			return -1;
	}
	PQclear(res);
	return rc;
}

/* Which limit refused the request, for a precise 429. */
static int
store_limit_error(struct db *db, const char *user_id, int images,
    struct ig_err *err)
{
	static const char sql[] =
	    "SELECT pending >= max_pending, max_pending, daily_image_quota, "
	    "  extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'UTC') "
	    "    + interval '1 day' - (now() AT TIME ZONE 'UTC'))::bigint "
	    "FROM users WHERE id = $1";
	const char	*params[1] = { user_id };
	PGresult	*res;
	long		 until_midnight;

	if ((res = db_exec(db, sql, 1, params, err)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ig_err_set(err, IG_EAUTH, NULL, "the user no longer "
		    "exists");
	}
	if (PQgetvalue(res, 0, 0)[0] == 't') {
		ig_err_setc(err, IG_ERATE, "rate_limited", NULL, "too many "
		    "pending generations (at most %s queued or processing)",
		    PQgetvalue(res, 0, 1));
		err->retry_after = 5;
	} else {
		until_midnight = strtol(PQgetvalue(res, 0, 3), NULL, 10);
		ig_err_setc(err, IG_ERATE, "quota_exceeded", NULL, "the daily "
		    "image quota (%s per UTC day) does not allow %d more",
		    PQgetvalue(res, 0, 2), images);
		err->retry_after = until_midnight > 0 ? until_midnight : 1;
	}
	PQclear(res);
	return -1;
}

/*
 * Wakes the workers, after the commit.  A NOTIFY inside the enqueue would
 * take PostgreSQL's global notify lock across the commit's WAL flush and so
 * serialise every POST (measured: docs/performance.md); on its own it costs
 * no flush.  A lost notification costs latency only: workers also poll.
 */
static void
store_notify_workers(struct db *db)
{
	struct ig_err	 ignored = IG_ERR_INIT;
	PGresult	*res;

	res = db_exec(db, "SELECT pg_notify('imggen_jobs', '')", 0, NULL,
	    &ignored);
	PQclear(res);
}

int
store_create_generation(struct db *db, const char *user_id,
    const struct gen_request *r, const char *metadata_json, long max_attempts,
    const char *key, struct store_created *out, struct ig_err *err)
{
	/*
	 * One statement: the limits, the generation, its job and the
	 * notification commit together or not at all.
	 */
	static const char sql[] =
	    "WITH u AS (UPDATE users SET pending = pending + 1, "
	    "    images_today = CASE WHEN quota_day = (now() AT TIME ZONE 'UTC')::date "
	    "      THEN images_today ELSE 0 END + $5::int, "
	    "    quota_day = (now() AT TIME ZONE 'UTC')::date "
	    "  WHERE id = $1 AND pending < max_pending "
	    "    AND CASE WHEN quota_day = (now() AT TIME ZONE 'UTC')::date "
	    "      THEN images_today ELSE 0 END + $5::int <= daily_image_quota "
	    "  RETURNING id), "
	    "g AS (INSERT INTO image_generations (user_id, prompt, metadata, "
	    "    idempotency_key, request_hash) "
	    "  SELECT u.id, $2, $3::jsonb, $6, $7 FROM u "
	    "  RETURNING id, created_at), "
	    "j AS (INSERT INTO jobs (kind, generation_id, max_attempts) "
	    "    SELECT 'generate', id, $4::int FROM g) "
	    "SELECT id, imggen_iso(created_at) FROM g";
	struct buf	 prompt = BUF_INIT(BUF_MAX_REQUEST_BODY);
	char		 attempts[24], images[16], hash[2 * CRYPTO_SHA256_LEN + 1];
	const char	*params[7];
	PGresult	*res;
	int		 rc = -1, tries, found;

	memset(out, 0, sizeof(*out));
	store_request_hash(r, metadata_json, hash);
	buf_add(&prompt, r->prompt, r->prompt_len);
	if (!buf_ok(&prompt)) {
		buf_free(&prompt);
		return ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
	}
	snprintf(attempts, sizeof(attempts), "%ld", max_attempts);
	snprintf(images, sizeof(images), "%d", r->number_of_images);
	params[0] = user_id;
	params[1] = buf_cstr(&prompt);
	params[2] = metadata_json;
	params[3] = attempts;
	params[4] = images;
	params[5] = key;
	params[6] = hash;
	/*
	 * A concurrent duplicate waits on the unique index for the first to
	 * commit, then fails with 23505 (rolling back its counters): look
	 * again, and it is a replay.
	 */
	for (tries = 0; tries < 2; tries++) {
		if (key && (found = store_idempotent_lookup(db, user_id, key,
		    hash, out, err)) != 0) {
			rc = found == 1 ? 0 : -1;
			goto out;
		}
		if ((res = db_exec(db, sql, 7, params, err)) == NULL) {
			if (err->code == IG_ECONFLICT && key)
				continue;
			goto out;
		}
		if (PQntuples(res) == 1) {
			store_copy(out->id, sizeof(out->id), res, 0, 0);
			store_copy(out->created_at, sizeof(out->created_at),
			    res, 0, 1);
			rc = 0;
			PQclear(res);
			store_notify_workers(db);
			goto out;
		}
		PQclear(res);
		/*
		 * Refused by a limit.  A duplicate that waited on the user row
		 * while the original took the last slot sees the limit, not
		 * the key: look the key up once more before saying 429.
		 */
		if (key && (found = store_idempotent_lookup(db, user_id, key,
		    hash, out, err)) != 0) {
			rc = found == 1 ? 0 : -1;
			goto out;
		}
		store_limit_error(db, user_id, r->number_of_images, err);
		goto out;
	}
out:
	buf_free(&prompt);
	return rc;
}

/*
 * Takes the document columns of STORE_DOC_SELECT, starting at col, from
 * row 0; a missing row or a NULL document is "no such generation".
 */
static int
store_doc_take(const PGresult *res, int col, const char *generation_id,
    struct buf *out, struct store_doc_meta *meta, struct ig_err *err)
{
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, col))
		return ig_err_set(err, IG_ENOTFOUND, NULL,
		    "no such generation");
	buf_add(out, PQgetvalue(res, 0, col),
	    (size_t)PQgetlength(res, 0, col));
	meta->terminal = PQgetvalue(res, 0, col + 1)[0] == 't';
	if (meta->terminal)
		snprintf(meta->etag, sizeof(meta->etag), "\"%.8s-%s\"",
		    generation_id, PQgetvalue(res, 0, col + 2));
	return buf_ok(out) ? 0 :
	    ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
}

int
store_generation_json(struct db *db, const char *user_id,
    const char *generation_id, struct buf *out, struct store_doc_meta *meta,
    struct ig_err *err)
{
	static const char sql[] =
	    STORE_DOC_SELECT "WHERE g.id = $1 AND g.user_id = $2";
	const char	*params[2] = { generation_id, user_id };
	PGresult	*res;
	int		 rc;

	memset(meta, 0, sizeof(*meta));
	if ((res = db_exec(db, sql, 2, params, err)) == NULL)
		return -1;
	rc = store_doc_take(res, 0, generation_id, out, meta, err);
	PQclear(res);
	return rc;
}

int
store_generation_json_by_token(struct db *db, const char *token, size_t len,
    const char *generation_id, char user_id[STORE_UUID_LEN + 1],
    struct buf *out, struct store_doc_meta *meta, struct ig_err *err)
{
	static const char sql[] =
	    STORE_AUTH_CTE
	    "SELECT t.user_id, encode(t.token_hash, 'hex'), d.* FROM t "
	    "LEFT JOIN LATERAL (" STORE_DOC_SELECT
	    "  WHERE g.id = $2 AND g.user_id = t.user_id) d ON true";
	PGresult	*res;
	int		 rc;

	memset(meta, 0, sizeof(*meta));
	if ((res = store_token_exec(db, sql, token, len, generation_id,
	    user_id, err)) == NULL)
		return -1;
	rc = store_doc_take(res, 2, generation_id, out, meta, err);
	PQclear(res);
	return rc;
}

void
store_cursor_format(const struct store_cursor *c, char out[96])
{
	char	 raw[72];
	int	 n;

	/* Opaque to clients: base64url of "v1.<microseconds>.<uuid>". */
	n = snprintf(raw, sizeof(raw), "v1.%lld.%s", c->created_us, c->id);
	if (n < 0 || (size_t)n >= sizeof(raw))
		n = 0;	/* cannot happen: 19 digits and a UUID fit */
	(void)crypto_b64url_encode(raw, (size_t)n, out);
}

int
store_cursor_parse(const char *text, struct store_cursor *c)
{
	char		 raw[80], *dot, *end;
	size_t		 n = strlen(text);
	long		 o;

	if (n == 0 || n > 96 ||
	    (o = crypto_b64url_decode(text, n, raw, sizeof(raw) - 1)) < 0)
		return -1;
	raw[o] = '\0';
	if (strncmp(raw, "v1.", 3) != 0 || (dot = strchr(raw + 3, '.')) == NULL)
		return -1;
	*dot = '\0';
	c->created_us = strtoll(raw + 3, &end, 10);
	if (*end != '\0' || end == raw + 3 || c->created_us < 0 ||
	    strlen(dot + 1) != STORE_UUID_LEN ||
	    strspn(dot + 1, "0123456789abcdef-") != STORE_UUID_LEN)
		return -1;
	snprintf(c->id, sizeof(c->id), "%s", dot + 1);
	return 0;
}

int
store_list_generations(struct db *db, const char *user_id, const char *status,
    int limit, const struct store_cursor *after, struct buf *out,
    struct ig_err *err)
{
	/* Keyset pagination on the (user_id, created_at DESC, id DESC) index. */
	static const char sql[] =
	    "SELECT imggen_doc(g, NULL, " DOC_IMAGES_SQL ")::text, "
	    "  ((extract(epoch FROM g.created_at) * 1000000)::numeric)::bigint, "
	    "  g.id FROM image_generations g "
	    "WHERE g.user_id = $1 AND ($2::text IS NULL OR g.status = $2) "
	    "  AND ($3::bigint IS NULL OR (g.created_at, g.id) < "
	    "    ('epoch'::timestamptz + $3::bigint * interval '1 microsecond', "
	    "     $4::uuid)) "
	    "ORDER BY g.created_at DESC, g.id DESC LIMIT $5::int";
	char		 us[32], lim[16], cur[96];
	const char	*params[5];
	struct store_cursor next;
	PGresult	*res;
	int		 i, n;

	snprintf(lim, sizeof(lim), "%d", limit + 1);
	params[0] = user_id;
	params[1] = status;
	params[2] = NULL;
	params[3] = NULL;
	if (after) {
		snprintf(us, sizeof(us), "%lld", after->created_us);
		params[2] = us;
		params[3] = after->id;
	}
	params[4] = lim;
	if ((res = db_exec(db, sql, 5, params, err)) == NULL)
		return -1;
	n = PQntuples(res);
	buf_adds(out, "{\"generations\":[");
	for (i = 0; i < n && i < limit; i++) {
		if (i)
			buf_addc(out, ',');
		buf_add(out, PQgetvalue(res, i, 0),
		    (size_t)PQgetlength(res, i, 0));
	}
	buf_adds(out, "],\"nextCursor\":");
	if (n > limit) {
		next.created_us = strtoll(PQgetvalue(res, limit - 1, 1), NULL,
		    10);
		snprintf(next.id, sizeof(next.id), "%s",
		    PQgetvalue(res, limit - 1, 2));
		store_cursor_format(&next, cur);
		buf_addf(out, "\"%s\"}", cur);
	} else
		buf_adds(out, "null}");
	PQclear(res);
	return buf_ok(out) ? 0 : ig_err_set(err, IG_ENOMEM, NULL,
	    "out of memory");
}

int
store_cancel_generation(struct db *db, const char *user_id,
    const char *generation_id, struct buf *out, struct ig_err *err)
{
	/*
	 * One statement: the status change, the job deletion (a running job
	 * is the worker's to drop) and the notification commit together.
	 */
	static const char sql[] =
	    "WITH g AS (SELECT id, status FROM image_generations "
	    "    WHERE id = $1 AND user_id = $2 FOR UPDATE), "
	    "c AS (UPDATE image_generations ig SET status = 'canceled', "
	    "    completed_at = now() FROM g "
	    "  WHERE ig.id = g.id AND g.status IN ('queued', 'processing') "
	    "  RETURNING ig.id), "
	    "d AS (DELETE FROM jobs WHERE generation_id IN (SELECT id FROM c) "
	    "    AND state <> 'running') "
	    "SELECT g.status, (SELECT count(pg_notify('imggen_cancel', "
	    "    id::text)) FROM c) FROM g";
	const char	*params[2] = { generation_id, user_id };
	PGresult	*res;
	char		 status[32];
	struct store_doc_meta meta;

	if ((res = db_exec(db, sql, 2, params, err)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ig_err_set(err, IG_ENOTFOUND, NULL, "no such generation");
	}
	snprintf(status, sizeof(status), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0)
		return ig_err_setc(err, IG_ECONFLICT, "already_finished", NULL,
		    "the generation already finished (%s) and cannot be "
		    "canceled", status);
	return store_generation_json(db, user_id, generation_id, out, &meta,
	    err);
}

int
store_user_exists(struct db *db, const char *user_id, struct ig_err *err)
{
	const char	*params[1] = { user_id };
	PGresult	*res;
	int		 found;

	if (strlen(user_id) != STORE_UUID_LEN ||
	    strspn(user_id, "0123456789abcdefABCDEF-") != STORE_UUID_LEN)
		return ig_err_set(err, IG_EAUTH, NULL, "the token's subject is "
		    "not a user id");
	if ((res = db_exec(db, "SELECT 1 FROM users WHERE id = $1::uuid", 1,
	    params, err)) == NULL)
		return -1;
	found = PQntuples(res) == 1;
	PQclear(res);
	return found ? 0 : ig_err_set(err, IG_EAUTH, NULL, "the token's "
	    "subject is not a user");
}

int
store_metrics(struct db *db, struct buf *out, struct ig_err *err)
{
	/*
	 * One round trip.  The latency histogram covers generations finished
	 * in the last hour (the database is the only shared memory of many
	 * responders and workers), so it is a window, not a lifetime counter.
	 */
	static const char sql[] =
	    "SELECT 'jobs', s, (SELECT count(*) FROM jobs WHERE state = s)::text "
	    "  FROM unnest(ARRAY['queued','running','dead']) s "
	    "UNION ALL SELECT 'generations', s, (SELECT count(*) FROM "
	    "  image_generations WHERE status = s)::text FROM unnest(ARRAY["
	    "  'queued','processing','completed','failed','canceled']) s "
	    "UNION ALL SELECT 'oldest', '', coalesce(extract(epoch FROM now() - "
	    "  min(run_at)), 0)::bigint::text FROM jobs WHERE state = 'queued' "
	    "  AND run_at <= now() "
	    "UNION ALL SELECT 'retries', '', coalesce(sum(greatest(attempts - 1, "
	    "  0)), 0)::text FROM image_generations "
	    "UNION ALL SELECT 'latency', b::text, (SELECT count(*) FROM "
	    "  image_generations WHERE completed_at > now() - interval '1 hour' "
	    "  AND (ai_metadata->>'providerMs')::numeric <= b * 1000)::text "
	    "  FROM unnest(ARRAY[0.5,1,2,5,10,30,60,120]) b "
	    "UNION ALL SELECT 'latency_count', '', count(*)::text FROM "
	    "  image_generations WHERE completed_at > now() - interval '1 hour' "
	    "  AND ai_metadata ? 'providerMs' "
	    "UNION ALL SELECT 'latency_sum', '', coalesce(sum((ai_metadata->>"
	    "  'providerMs')::numeric) / 1000, 0)::text FROM image_generations "
	    "  WHERE completed_at > now() - interval '1 hour' "
	    "  AND ai_metadata ? 'providerMs'";
	static const struct {
		const char *kind, *name, *type, *help, *label;
	} fams[] = {
		{ "jobs", "imggen_jobs", "gauge", "Jobs by state.", "state" },
		{ "generations", "imggen_generations", "gauge",
		    "Generations by status.", "status" },
		{ "oldest", "imggen_queue_oldest_seconds", "gauge",
		    "Age of the oldest claimable queued job.", NULL },
		{ "retries", "imggen_retries", "gauge",
		    "Attempts beyond the first, over all generations.", NULL },
	};
	PGresult	*res;
	size_t		 f;
	int		 i;

	if ((res = db_exec(db, sql, 0, NULL, err)) == NULL)
		return -1;
	for (f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", fams[f].name,
		    fams[f].help, fams[f].name, fams[f].type);
		for (i = 0; i < PQntuples(res); i++) {
			if (strcmp(PQgetvalue(res, i, 0), fams[f].kind) != 0)
				continue;
			if (fams[f].label)
				buf_addf(out, "%s{%s=\"%s\"} %s\n", fams[f].name,
				    fams[f].label, PQgetvalue(res, i, 1),
				    PQgetvalue(res, i, 2));
			else
				buf_addf(out, "%s %s\n", fams[f].name,
				    PQgetvalue(res, i, 2));
		}
	}
	buf_adds(out, "# HELP imggen_provider_latency_seconds Provider time "
	    "of generations finished in the last hour.\n"
	    "# TYPE imggen_provider_latency_seconds histogram\n");
	for (i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, 0), "latency") == 0)
			buf_addf(out, "imggen_provider_latency_seconds_bucket"
			    "{le=\"%s\"} %s\n", PQgetvalue(res, i, 1),
			    PQgetvalue(res, i, 2));
	for (i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 0), "latency_count") == 0)
			buf_addf(out, "imggen_provider_latency_seconds_bucket"
			    "{le=\"+Inf\"} %s\n"
			    "imggen_provider_latency_seconds_count %s\n",
			    PQgetvalue(res, i, 2), PQgetvalue(res, i, 2));
		if (strcmp(PQgetvalue(res, i, 0), "latency_sum") == 0)
			buf_addf(out, "imggen_provider_latency_seconds_sum %s\n",
			    PQgetvalue(res, i, 2));
	}
	PQclear(res);
	return buf_ok(out) ? 0 : ig_err_set(err, IG_ENOMEM, NULL,
	    "out of memory");
}

int
store_ping(struct db *db, struct ig_err *err)
{
	PGresult	*res;

	if ((res = db_exec(db, "SELECT 1", 0, NULL, err)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static int
store_one_value(struct db *db, const char *sql, int n,
    const char *const *params, char *out, size_t outlen, struct ig_err *err,
    const char *notfound)
{
	PGresult	*res;
	int		 rc = -1;

	if ((res = db_exec(db, sql, n, params, err)) == NULL)
		return -1;
	if (PQntuples(res) != 1)
		ig_err_set(err, IG_ENOTFOUND, NULL, "%s", notfound);
	else {
		if (out)
			store_copy(out, outlen, res, 0, 0);
		rc = 0;
	}
	PQclear(res);
	return rc;
}

int
store_user_create(struct db *db, const char *email,
    char id[STORE_UUID_LEN + 1], struct ig_err *err)
{
	const char	*params[1] = { email };

	return store_one_value(db, "INSERT INTO users (email) VALUES ($1) "
	    "RETURNING id", 1, params, id, STORE_UUID_LEN + 1, err,
	    "no row inserted");
}

int
store_token_create(struct db *db, const char *email, const char *name,
    const char *token, char id[STORE_UUID_LEN + 1], struct ig_err *err)
{
	uint8_t		 hash[CRYPTO_SHA256_LEN];
	char		 hex[2 * CRYPTO_SHA256_LEN + 1];
	const char	*params[3] = { email, name, hex };
	int		 rc;

	store_token_hash_hex(token, strlen(token), hash, hex);
	rc = store_one_value(db, "INSERT INTO api_tokens (user_id, name, "
	    "token_hash) SELECT id, $2, decode($3, 'hex') FROM users "
	    "WHERE email = $1 OR id::text = $1 RETURNING id", 3, params, id,
	    STORE_UUID_LEN + 1, err, "no such user");
	crypto_wipe(hex, sizeof(hex));
	return rc;
}

int
store_token_revoke(struct db *db, const char *what, int by_secret,
    struct ig_err *err)
{
	uint8_t		 hash[CRYPTO_SHA256_LEN];
	char		 hex[2 * CRYPTO_SHA256_LEN + 1];
	const char	*params[1] = { hex };
	int		 rc;

	if (by_secret)
		store_token_hash_hex(what, strlen(what), hash, hex);
	else
		snprintf(hex, sizeof(hex), "%s", what);
	rc = store_one_value(db, by_secret ?
	    "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) "
	    "WHERE token_hash = decode($1, 'hex') RETURNING id" :
	    "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) "
	    "WHERE id::text = $1 RETURNING id", 1, params, NULL, 0, err,
	    "no such token");
	crypto_wipe(hex, sizeof(hex));
	return rc;
}

int
store_user_webhook(struct db *db, const char *who, int rotate,
    char user_id[STORE_UUID_LEN + 1], int *version, struct ig_err *err)
{
	const char	*params[1] = { who };
	PGresult	*res;
	int		 rc = -1;

	res = db_exec(db, rotate ?
	    "UPDATE users SET webhook_secret_version = webhook_secret_version "
	    "+ 1 WHERE email = $1 OR id::text = $1 "
	    "RETURNING id, webhook_secret_version" :
	    "SELECT id, webhook_secret_version FROM users "
	    "WHERE email = $1 OR id::text = $1", 1, params, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1)
		ig_err_set(err, IG_ENOTFOUND, NULL, "no such user");
	else {
		store_copy(user_id, STORE_UUID_LEN + 1, res, 0, 0);
		*version = atoi(PQgetvalue(res, 0, 1));
		rc = 0;
	}
	PQclear(res);
	return rc;
}

int
store_webhook_deliveries(struct db *db, const char *generation_id,
    struct buf *out, struct ig_err *err)
{
	const char	*params[1] = { generation_id };
	PGresult	*res;
	int		 i;

	if ((res = db_exec(db, "SELECT imggen_iso(created_at), attempt, "
	    "outcome, coalesce(http_status::text, '-'), url, detail "
	    "FROM webhook_deliveries WHERE generation_id::text = $1 "
	    "ORDER BY id LIMIT 1000", 1, params, err)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++)
		buf_addf(out, "%s attempt=%s %s http=%s url=%s %s\n",
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		    PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
		    PQgetvalue(res, i, 4), PQgetvalue(res, i, 5));
	PQclear(res);
	return 0;
}

int
store_queue_stats(struct db *db, struct buf *out, struct ig_err *err)
{
	static const char sql[] =
	    "SELECT 'jobs_' || state, count(*)::text FROM jobs GROUP BY state "
	    "UNION ALL SELECT 'oldest_queued_seconds', coalesce(extract(epoch "
	    "FROM now() - min(run_at))::bigint, 0)::text FROM jobs "
	    "WHERE state = 'queued' AND run_at <= now() "
	    "UNION ALL SELECT 'generations_' || status, count(*)::text "
	    "FROM image_generations GROUP BY status ORDER BY 1";
	PGresult	*res;
	int		 i;

	if ((res = db_exec(db, sql, 0, NULL, err)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++)
		buf_addf(out, "%s %s\n", PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1));
	PQclear(res);
	return 0;
}
