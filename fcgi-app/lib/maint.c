#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maint.h"

/*
 * Generous per-row cost of the jobs table's four indexes, plus two pages
 * (meta and root) per index: what a freshly built set needs.
 */
#define MAINT_INDEX_BYTES_PER_ROW	256LL
#define MAINT_INDEX_BYTES_EMPTY		(4LL * 2 * 8192)

static int
maint_jobs_sizes(struct db *db, long long *rows, long long *bytes,
    struct ig_err *err)
{
	/* The count is capped: past it, a rebuild cannot pay off anyway. */
	static const char sql[] =
	    "SELECT pg_indexes_size('jobs'::regclass), "
	    "  (SELECT count(*) FROM (SELECT 1 FROM jobs LIMIT 1000000) j)";
	PGresult	*res;

	if ((res = db_exec(db, sql, 0, NULL, err)) == NULL)
		return -1;
	*bytes = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*rows = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return 0;
}

/*
 * An interrupted REINDEX CONCURRENTLY leaves invalid "_ccnew" indexes that
 * every write still maintains and later rebuilds skip; drop them first.
 * The names come from the catalog, quoted by the server (regclass output).
 */
static int
maint_drop_invalid_indexes(struct db *db, struct ig_err *err)
{
	static const char sql[] =
	    "SELECT 'DROP INDEX CONCURRENTLY ' || indexrelid::regclass::text "
	    "FROM pg_index WHERE indrelid = 'jobs'::regclass "
	    "  AND NOT indisvalid";
	PGresult	*res;
	int		 i, rc = 0;

	if ((res = db_exec(db, sql, 0, NULL, err)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(res) && rc == 0; i++)
		rc = db_command(db, PQgetvalue(res, i, 0), err);
	PQclear(res);
	return rc;
}

int
maint_reindex_jobs(struct db *db, long threshold_mb, struct maint_reindex *r,
    struct ig_err *err)
{
	long long	 need;

	memset(r, 0, sizeof(*r));
	if (maint_jobs_sizes(db, &r->live_rows, &r->before_bytes, err) == -1)
		return -1;
	r->after_bytes = r->before_bytes;
	need = MAINT_INDEX_BYTES_EMPTY +
	    r->live_rows * MAINT_INDEX_BYTES_PER_ROW;
	if (threshold_mb == 0 ||
	    r->before_bytes <= (long long)threshold_mb * 1024 * 1024 ||
	    r->before_bytes <= 4 * need)
		return 0;
	/* A large rebuild may take longer than the sessions' 30 s limit. */
	if (maint_drop_invalid_indexes(db, err) == -1 ||
	    db_command(db, "SET statement_timeout = 0", err) == -1 ||
	    db_command(db, "REINDEX TABLE CONCURRENTLY jobs", err) == -1 ||
	    db_command(db, "RESET statement_timeout", err) == -1 ||
	    maint_jobs_sizes(db, &r->live_rows, &r->after_bytes, err) == -1)
		return -1;
	r->rebuilt = 1;
	return 0;
}

int
maint_release_idempotency_keys(struct db *db, long *released,
    struct ig_err *err)
{
	static const char sql[] =
	    "UPDATE image_generations SET idempotency_key = NULL "
	    "WHERE idempotency_key IS NOT NULL "
	    "  AND created_at <= now() - interval '24 hours'";
	PGresult	*res;

	if ((res = db_exec(db, sql, 0, NULL, err)) == NULL)
		return -1;
	*released = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}
