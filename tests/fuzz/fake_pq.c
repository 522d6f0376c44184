/*
 * fake_pq - a stand-in for the few libpq functions db.c and store.c call,
 * linked into fuzz_router only (an executable's own definitions take
 * precedence over libpq.so's), so that the handlers run past
 * authentication and the database statements to everything after them:
 * query strings, cursors, Idempotency-Key, If-None-Match, bodies.
 *
 * Every statement answers from a small table keyed by a piece of its SQL.
 * fake_pq_mode (set per input by the harness) picks the flavour: bit 0
 * no rows instead of one, bit 1 a database error (SQLSTATE from bits 2-3:
 * a lost connection, a serialization failure, a unique violation, a bad
 * value; never one that means a bug), bit 4 a generation that is still
 * running, bit 5 an earlier request under the same Idempotency-Key (with
 * another hash; without bit 5 there is none).
 * Nothing here is thread-safe or meant to be.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "fake_pq.h"

unsigned	 fake_pq_mode;

struct pg_conn {
	int	 unused;
};

struct pg_result {
	ExecStatusType	 status;
	const char	*sqlstate;
	int		 ntuples;
	int		 nfields;
	const char	*values[4][5];
	char		 hash[80];	/* a copy of a parameter */
};

static struct pg_conn	 fake_conn;

#define FAKE_USER	"11111111-2222-4333-8444-555555555555"
#define FAKE_GEN	"0b7c1a52-3f0e-4c4e-9d1a-2b4d6e8f0a1c"

PGconn *
PQconnectdbParams(const char *const *keys, const char *const *values,
    int expand)
{
	(void)keys;
	(void)values;
	(void)expand;
	return &fake_conn;
}

ConnStatusType
PQstatus(const PGconn *conn)
{
	(void)conn;
	return CONNECTION_OK;
}

void
PQfinish(PGconn *conn)
{
	(void)conn;
}

PQnoticeProcessor
PQsetNoticeProcessor(PGconn *conn, PQnoticeProcessor proc, void *arg)
{
	(void)conn;
	(void)proc;
	(void)arg;
	return NULL;
}

char *
PQerrorMessage(const PGconn *conn)
{
	static char	 msg[] = "fake error";

	(void)conn;
	return msg;
}

int
PQsocket(const PGconn *conn)
{
	(void)conn;
	return -1;
}

int
PQconsumeInput(PGconn *conn)
{
	(void)conn;
	return 1;
}

PGnotify *
PQnotifies(PGconn *conn)
{
	(void)conn;
	return NULL;
}

void
PQfreemem(void *p)
{
	free(p);
}

static PGresult *
fake_result(ExecStatusType status)
{
	PGresult	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		abort();
	r->status = status;
	return r;
}

static void
fake_row(PGresult *r, int nfields, const char *a, const char *b,
    const char *c, const char *d)
{
	int	 row = r->ntuples++;

	r->nfields = nfields;
	r->values[row][0] = a;
	r->values[row][1] = b;
	r->values[row][2] = c;
	r->values[row][3] = d;
}

/* The token lookup's two columns and, after them, a status document's three. */
static void
fake_row5(PGresult *r, const char *hash, const char *doc, const char *final,
    const char *ms)
{
	fake_row(r, 5, FAKE_USER, hash, doc, final);
	r->values[r->ntuples - 1][4] = ms;
}

PGresult *
PQexecParams(PGconn *conn, const char *sql, int n, const Oid *types,
    const char *const *values, const int *lengths, const int *formats,
    int resfmt)
{
	static const char *const states[] = { "08006", "40001", "23505",
	    "22P02" };
	static const char running[] = "{\"generationId\":\"" FAKE_GEN
	    "\",\"status\":\"processing\"}";
	static const char done[] = "{\"generationId\":\"" FAKE_GEN
	    "\",\"status\":\"completed\"}";
	const char	*doc = (fake_pq_mode & 16) ? running : done;
	PGresult	*r;

	(void)conn;
	(void)types;
	(void)lengths;
	(void)formats;
	(void)resfmt;
	if (fake_pq_mode & 2) {
		r = fake_result(PGRES_FATAL_ERROR);
		r->sqlstate = states[(fake_pq_mode >> 2) & 3];
		return r;
	}
	r = fake_result(PGRES_TUPLES_OK);
	if (strstr(sql, "LEFT JOIN LATERAL") != NULL &&
	    strstr(sql, "FROM api_tokens WHERE token_hash") != NULL) {
		/* A status poll authenticated in its statement. */
		if (n >= 1 && values[0] != NULL)
			strncpy(r->hash, values[0], sizeof(r->hash) - 1);
		if (fake_pq_mode & 1)	/* not the user's generation */
			fake_row5(r, r->hash, NULL, NULL, NULL);
		else
			fake_row5(r, r->hash, doc, (fake_pq_mode & 16) ? "f" :
			    "t", "1700000000000");
		return r;
	}
	if (strstr(sql, "FROM api_tokens WHERE token_hash") != NULL) {
		/* Authentication succeeds: the hash echoed back. */
		if (n >= 1 && values[0] != NULL)
			strncpy(r->hash, values[0], sizeof(r->hash) - 1);
		fake_row(r, 2, FAKE_USER, r->hash, NULL, NULL);
		return r;
	}
	if (fake_pq_mode & 1)
		return r;	/* no rows */
	if (strstr(sql, "request_hash, ") != NULL) {	/* idempotency lookup */
		if (fake_pq_mode & 32)	/* an earlier, different request */
			fake_row(r, 4, FAKE_GEN, "2024-01-01T00:00:00.000Z",
			    "00", "t");
	} else if (strstr(sql, "INSERT INTO image_generations") != NULL)
		fake_row(r, 3, FAKE_GEN, "2024-01-01T00:00:00.000Z", "", NULL);
	else if (strstr(sql, "pending >= max_pending") != NULL)
		fake_row(r, 4, "t", "10", "100", "3600");
	else if (strstr(sql, "SELECT 1 FROM users WHERE id") != NULL)
		fake_row(r, 1, "1", NULL, NULL, NULL);
	else if (strstr(sql, "imggen_doc(g, CASE") != NULL)
		fake_row(r, 3, doc, (fake_pq_mode & 16) ? "f" : "t",
		    "1700000000000", NULL);
	else if (strstr(sql, "imggen_doc(g, NULL,") != NULL) {
		fake_row(r, 3, doc, "1700000000000000", FAKE_GEN, NULL);
		fake_row(r, 3, doc, "1699999999999999", FAKE_GEN, NULL);
	} else if (strstr(sql, "SELECT g.status") != NULL)
		fake_row(r, 2, (fake_pq_mode & 16) ? "queued" : "completed",
		    "1", NULL, NULL);
	else if (strcmp(sql, "SELECT 1") == 0)
		fake_row(r, 1, "1", NULL, NULL, NULL);
	else
		r->status = PGRES_COMMAND_OK;
	return r;
}

PGresult *
PQexec(PGconn *conn, const char *sql)
{
	(void)conn;
	(void)sql;
	return fake_result(PGRES_COMMAND_OK);
}

ExecStatusType
PQresultStatus(const PGresult *r)
{
	return r ? r->status : PGRES_FATAL_ERROR;
}

int
PQntuples(const PGresult *r)
{
	return r->ntuples;
}

int
PQgetisnull(const PGresult *r, int row, int col)
{
	return row < 0 || row >= r->ntuples || col < 0 ||
	    col >= r->nfields || r->values[row][col] == NULL;
}

char *
PQgetvalue(const PGresult *r, int row, int col)
{
	static char	 empty[] = "";

	if (row < 0 || row >= r->ntuples || col < 0 || col >= r->nfields ||
	    r->values[row][col] == NULL)
		return empty;
	/* libpq's values are writable char *; these are never written. */
	return (char *)(uintptr_t)r->values[row][col];
}

int
PQgetlength(const PGresult *r, int row, int col)
{
	return (int)strlen(PQgetvalue(r, row, col));
}

void
PQclear(PGresult *r)
{
	free(r);
}

char *
PQresultErrorField(const PGresult *r, int code)
{
	if (r == NULL || code != PG_DIAG_SQLSTATE || r->sqlstate == NULL)
		return NULL;
	return (char *)(uintptr_t)r->sqlstate;
}

char *
PQresultErrorMessage(const PGresult *r)
{
	static char	 msg[] = "ERROR:  fake";

	(void)r;
	return msg;
}
