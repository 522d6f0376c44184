#include "db.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define DB_MAX_PREPARED	64

struct db {
	PGconn		*conn;
	int		 prepare;	/* use server-side prepared statements */
	unsigned	 prep_serial;	/* connection they were prepared on */
	int		 nprep;
	const char	*prep_sql[DB_MAX_PREPARED];
	char		*conninfo;
	char		 timeout[16];
	char		 appname[64];
	struct timespec	 last_fail;
	int		 lost;
	unsigned	 serial;
};

struct db *
db_new(const char *conninfo, long connect_timeout, const char *appname)
{
	struct db	*db;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	if ((db->conninfo = strdup(conninfo)) == NULL) {
		free(db);
		return NULL;
	}
	snprintf(db->timeout, sizeof(db->timeout), "%ld", connect_timeout);
	snprintf(db->appname, sizeof(db->appname), "%s", appname);
	return db;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	PQfinish(db->conn);
	free(db->conninfo);
	free(db);
}

PGconn *
db_conn(struct db *db)
{
	return db->conn;
}

unsigned
db_serial(const struct db *db)
{
	return db->serial;
}

int
db_lost(const struct db *db)
{
	return db->lost;
}

static double
db_since(const struct timespec *t)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) +
	    (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static int
db_unavailable(struct db *db, struct ig_err *err, const char *what,
    int connect_failed)
{
	if (connect_failed)
		clock_gettime(CLOCK_MONOTONIC, &db->last_fail);
	else
		db->last_fail.tv_sec = 0;
	PQfinish(db->conn);
	db->conn = NULL;
	db->lost = 1;
	ig_err_set(err, IG_EUNAVAILABLE, NULL, "the database is unavailable");
	err->retry_after = 2;
	log_warn(LOG_CTX_NONE, "database unavailable: %s", what);
	return -1;
}

/* Server notices go to our JSON log instead of libpq's plain stderr line. */
static void
db_notice(void *arg, const char *message)
{
	char	 msg[256];

	(void)arg;
	snprintf(msg, sizeof(msg), "%s", message);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug(LOG_CTX_NONE, "database notice: %s", msg);
}

int
db_ensure(struct db *db, struct ig_err *err)
{
	/*
	 * Keywords override what the conninfo says: a bounded connect, UTC
	 * timestamps, and no statement may hold a transaction idle.
	 */
	const char *const keys[] = { "dbname", "connect_timeout",
	    "application_name", "options", NULL };
	const char *vals[] = { db->conninfo, db->timeout, db->appname,
	    "-c TimeZone=UTC -c idle_in_transaction_session_timeout=60s "
	    "-c statement_timeout=30s", NULL };
	char	 msg[256];

	if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	if (db->conn == NULL && db->last_fail.tv_sec != 0 &&
	    db_since(&db->last_fail) < 1.0) {
		ig_err_set(err, IG_EUNAVAILABLE, NULL,
		    "the database is unavailable");
		err->retry_after = 2;
		return -1;
	}
	PQfinish(db->conn);
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		snprintf(msg, sizeof(msg), "%s", db->conn ?
		    PQerrorMessage(db->conn) : "out of memory");
		msg[strcspn(msg, "\n")] = '\0';
		return db_unavailable(db, err, msg, 1);
	}
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	db->lost = 0;
	db->serial++;
	return 0;
}

static int
db_classify(struct db *db, const PGresult *res, struct ig_err *err)
{
	const char	*state = res ?
	    PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char		 msg[256];

	snprintf(msg, sizeof(msg), "%s", res ? PQresultErrorMessage(res) :
	    PQerrorMessage(db->conn));
	msg[strcspn(msg, "\n")] = '\0';
	if (PQstatus(db->conn) != CONNECTION_OK || state == NULL ||
	    strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
	    strcmp(state, "57P03") == 0 || strncmp(state, "08", 2) == 0)
		return db_unavailable(db, err, msg, 0);
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0) {
		ig_err_set(err, IG_ETRANSIENT, NULL, "database: SQLSTATE %s",
		    state);
		err->retry_after = 1;
		return -1;
	}
	if (strcmp(state, "23505") == 0)
		return ig_err_set(err, IG_ECONFLICT, NULL,
		    "database: SQLSTATE %s", state);
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
		return ig_err_set(err, IG_EINPUT, NULL,
		    "database rejected a value: SQLSTATE %s", state);
	log_error(LOG_CTX_NONE, "database error %s: %s", state, msg);
	return ig_err_set(err, IG_EINTERNAL, NULL, "database: SQLSTATE %s",
	    state);
}

void
db_set_prepare(struct db *db, int on)
{
	db->prepare = on;
}

/*
 * The prepared statement for sql on this connection, preparing it on first
 * use: parse and plan once per connection instead of once per request.
 * Statements are keyed by their text (pointer first, for speed).  NULL when
 * the cache is full or preparing failed (the caller then runs it unnamed).
 */
static const char *
db_prepared(struct db *db, const char *sql, int nparams, char name[16])
{
	PGresult	*res;
	int		 i, ok;

	if (db->prep_serial != db->serial) {
		db->nprep = 0;
		db->prep_serial = db->serial;
	}
	for (i = 0; i < db->nprep; i++)
		if (db->prep_sql[i] == sql || strcmp(db->prep_sql[i], sql) == 0) {
			snprintf(name, 16, "ig%d", i);
			return name;
		}
	if (db->nprep == DB_MAX_PREPARED)
		return NULL;
	snprintf(name, 16, "ig%d", db->nprep);
	res = PQprepare(db->conn, name, sql, nparams, NULL);
	ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok)
		return NULL;
	db->prep_sql[db->nprep++] = sql;
	return name;
}

PGresult *
db_exec(struct db *db, const char *sql, int nparams,
    const char *const *params, struct ig_err *err)
{
	PGresult	*res;
	const char	*stmt = NULL;
	char		 name[16];

	if (db_ensure(db, err) == -1)
		return NULL;
	if (db->prepare)
		stmt = db_prepared(db, sql, nparams, name);
	if (stmt)
		res = PQexecPrepared(db->conn, stmt, nparams, params, NULL,
		    NULL, 0);
	else
		res = PQexecParams(db->conn, sql, nparams, NULL, params, NULL,
		    NULL, 0);
	if (res != NULL && (PQresultStatus(res) == PGRES_TUPLES_OK ||
	    PQresultStatus(res) == PGRES_COMMAND_OK))
		return res;
	db_classify(db, res, err);
	PQclear(res);
	return NULL;
}

int
db_command(struct db *db, const char *sql, struct ig_err *err)
{
	PGresult	*res;

	if (db_ensure(db, err) == -1)
		return -1;
	res = PQexec(db->conn, sql);
	if (res != NULL && (PQresultStatus(res) == PGRES_TUPLES_OK ||
	    PQresultStatus(res) == PGRES_COMMAND_OK)) {
		PQclear(res);
		return 0;
	}
	db_classify(db, res, err);
	PQclear(res);
	return -1;
}

int
db_schema_version(struct db *db, struct ig_err *err)
{
	PGresult	*res;
	int		 v = 0;

	res = db_exec(db, "SELECT coalesce(max(version), 0) FROM "
	    "schema_migrations", 0, NULL, err);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		v = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

int
db_socket(const struct db *db)
{
	return db->conn ? PQsocket(db->conn) : -1;
}

int
db_notifications(struct db *db, void (*fn)(void *, const char *,
    const char *), void *arg)
{
	PGnotify	*n;
	int		 count = 0;

	if (db->conn == NULL)
		return 0;
	if (PQconsumeInput(db->conn) == 0) {
		struct ig_err ignored = IG_ERR_INIT;
		db_unavailable(db, &ignored, "connection lost while idle", 0);
		return 0;
	}
	while ((n = PQnotifies(db->conn)) != NULL) {
		count++;
		if (fn)
			fn(arg, n->relname, n->extra ? n->extra : "");
		PQfreemem(n);
	}
	return count;
}
