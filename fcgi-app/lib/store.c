#include "store.h"

#include <stdio.h>
#include <string.h>

#include "crypto.h"

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

int
store_auth(struct db *db, const char *token, size_t len,
    char user_id[STORE_UUID_LEN + 1], struct ig_err *err)
{
	static const char sql[] =
	    "WITH t AS (SELECT id, user_id, token_hash, last_used_at "
	    "    FROM api_tokens WHERE token_hash = decode($1, 'hex') "
	    "    AND revoked_at IS NULL), "
	    "u AS (UPDATE api_tokens a SET last_used_at = now() FROM t "
	    "    WHERE a.id = t.id AND (t.last_used_at IS NULL OR "
	    "    t.last_used_at < now() - interval '1 minute')) "
	    "SELECT user_id, encode(token_hash, 'hex') FROM t";
	uint8_t		 hash[CRYPTO_SHA256_LEN];
	char		 hex[2 * CRYPTO_SHA256_LEN + 1];
	const char	*params[1] = { hex };
	PGresult	*res;
	int		 rc = -1;

	if (!crypto_token_wellformed(token, len))
		return ig_err_set(err, IG_EAUTH, NULL,
		    "the bearer token is not valid");
	store_token_hash_hex(token, len, hash, hex);
	if ((res = db_exec(db, sql, 1, params, err)) == NULL)
		goto out;
	if (PQntuples(res) != 1 || !crypto_equal(PQgetvalue(res, 0, 1), hex,
	    sizeof(hex) - 1)) {
		ig_err_set(err, IG_EAUTH, NULL, "the bearer token is not valid");
		goto out;
	}
	store_copy(user_id, STORE_UUID_LEN + 1, res, 0, 0);
	rc = 0;
out:
	PQclear(res);
	crypto_wipe(hash, sizeof(hash));
	crypto_wipe(hex, sizeof(hex));
	return rc;
}

int
store_create_generation(struct db *db, const char *user_id,
    const struct gen_request *r, const char *metadata_json, long max_attempts,
    char id[STORE_UUID_LEN + 1], char created_at[STORE_TS_LEN + 1],
    struct ig_err *err)
{
	/*
	 * One statement: the generation, its job and the notification commit
	 * together or not at all.
	 */
	static const char sql[] =
	    "WITH g AS (INSERT INTO image_generations (user_id, prompt, metadata) "
	    "    VALUES ($1, $2, $3::jsonb) RETURNING id, created_at), "
	    "j AS (INSERT INTO jobs (kind, generation_id, max_attempts) "
	    "    SELECT 'generate', id, $4::int FROM g) "
	    "SELECT id, imggen_iso(created_at), pg_notify('imggen_jobs', '') "
	    "FROM g";
	struct buf	 prompt = BUF_INIT(BUF_MAX_REQUEST_BODY);
	char		 attempts[24];
	const char	*params[4];
	PGresult	*res;
	int		 rc = -1;

	buf_add(&prompt, r->prompt, r->prompt_len);
	if (!buf_ok(&prompt)) {
		buf_free(&prompt);
		return ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
	}
	snprintf(attempts, sizeof(attempts), "%ld", max_attempts);
	params[0] = user_id;
	params[1] = buf_cstr(&prompt);
	params[2] = metadata_json;
	params[3] = attempts;
	if ((res = db_exec(db, sql, 4, params, err)) != NULL &&
	    PQntuples(res) == 1) {
		store_copy(id, STORE_UUID_LEN + 1, res, 0, 0);
		store_copy(created_at, STORE_TS_LEN + 1, res, 0, 1);
		rc = 0;
	} else if (res != NULL)
		ig_err_set(err, IG_EINTERNAL, NULL, "insert returned no row");
	PQclear(res);
	buf_free(&prompt);
	return rc;
}

int
store_generation_json(struct db *db, const char *user_id,
    const char *generation_id, struct buf *out, struct ig_err *err)
{
	/* PostgreSQL builds the document, so every value is escaped once. */
	static const char sql[] =
	    "SELECT json_build_object("
	    " 'generationId', g.id, 'status', g.status, 'prompt', g.prompt,"
	    " 'metadata', g.metadata,"
	    " 'progress', json_build_object('completed', coalesce(jsonb_array_length("
	    "     g.ai_metadata->'imageIds'), 0),"
	    "     'total', (g.metadata->>'numberOfImages')::int),"
	    " 'images', coalesce((SELECT json_agg(json_build_object("
	    "     'imageId', u.id, 'imageUrl', u.public_url, 'mimeType', u.mime_type,"
	    "     'width', u.width, 'height', u.height, 'size', u.size) ORDER BY u.idx)"
	    "     FROM uploads u WHERE u.generation_id = g.id), '[]'::json),"
	    " 'filtered', coalesce((g.ai_metadata->>'filtered')::int, 0),"
	    " 'tokens', g.tokens,"
	    " 'error', CASE WHEN g.error_code IS NULL THEN NULL ELSE"
	    "     json_build_object('code', g.error_code, 'message', g.error_message) END,"
	    " 'attempts', g.attempts, 'createdAt', imggen_iso(g.created_at),"
	    " 'startedAt', imggen_iso(g.started_at),"
	    " 'completedAt', imggen_iso(g.completed_at))"
	    " FROM image_generations g WHERE g.id = $1 AND g.user_id = $2";
	const char	*params[2] = { generation_id, user_id };
	PGresult	*res;
	int		 rc = -1;

	if ((res = db_exec(db, sql, 2, params, err)) == NULL)
		return -1;
	if (PQntuples(res) != 1)
		ig_err_set(err, IG_ENOTFOUND, NULL, "no such generation");
	else {
		buf_add(out, PQgetvalue(res, 0, 0),
		    (size_t)PQgetlength(res, 0, 0));
		rc = buf_ok(out) ? 0 :
		    ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
	}
	PQclear(res);
	return rc;
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
	return store_generation_json(db, user_id, generation_id, out, err);
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
