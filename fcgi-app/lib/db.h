/*
 * db: one PostgreSQL connection, reconnected on demand, and the helpers
 * through which every statement runs.
 *
 * All statements that carry values go through PQexecParams with text
 * parameters.  Failures are classified by SQLSTATE here and nowhere else:
 * connection loss, class 08 and 57P01/57P02/57P03 (shutdown, crash, starting
 * up) → IG_EUNAVAILABLE (retry after 2 s); 40001/40P01 (serialization,
 * deadlock), 55P03 (lock not available), 57014 (statement timeout) →
 * IG_ETRANSIENT (retry after 1 s); 23505 → IG_ECONFLICT; other 22xxx/23xxx →
 * IG_EINPUT; anything else → IG_EINTERNAL.  The error message names the
 * SQLSTATE, never parameter values.  One struct db per process (or per
 * worker child); never share one across fork().
 */
#ifndef IG_DB_H
#define IG_DB_H

#include <libpq-fe.h>

#include "ig_err.h"

struct db;

struct db	*db_new(const char *conninfo, long connect_timeout,
		    const char *application_name);
void		 db_free(struct db *);
/*
 * Makes sure a connection is up, reconnecting when it is not.  After a
 * failed attempt, further attempts within a second fail at once, so a down
 * database costs each request nothing but the 503.
 */
int		 db_ensure(struct db *, struct ig_err *)
		    __attribute__((warn_unused_result));
/*
 * Prepares each statement once per connection (off by default; on for the
 * service binaries unless IMGGEN_DB_PREPARED=0, e.g. behind a pgbouncer in
 * transaction mode older than 1.21).  Statements passed to db_exec must be
 * constant strings.
 */
void		 db_set_prepare(struct db *, int on);
/* Whether the last failure was a lost connection (worth one retry). */
int		 db_lost(const struct db *);
PGconn		*db_conn(struct db *);
/* Counts successful connects: a change means session state (LISTEN) is gone. */
unsigned	 db_serial(const struct db *);
/*
 * Runs one statement.  Returns the result (PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK) for the caller to PQclear, or NULL with *err set.
 */
PGresult	*db_exec(struct db *, const char *sql, int nparams,
		    const char *const *params, struct ig_err *err)
		    __attribute__((warn_unused_result));
/* Runs a constant statement (BEGIN, COMMIT, LISTEN x). */
int		 db_command(struct db *, const char *sql, struct ig_err *)
		    __attribute__((warn_unused_result));
/* The connection's socket for poll(), -1 when disconnected. */
int		 db_socket(const struct db *);
/*
 * Reads pending input and calls fn(arg, channel, payload) for each
 * notification; returns how many arrived.
 */
int		 db_notifications(struct db *, void (*fn)(void *, const char *,
		    const char *), void *arg);
/* Highest applied migration, or -1 with err. */
int		 db_schema_version(struct db *, struct ig_err *);

#endif
