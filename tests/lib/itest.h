/*
 * itest.h - helpers for imggen's integration tests (Criterion).
 *
 * The tests run against a live stack brought up by scripts/stack.sh and
 * reach it only through its public surfaces: HTTPS through nginx (libcurl,
 * TLS verified against $IMGGEN_CACERT), PostgreSQL for assertions (libpq,
 * $DATABASE_URL, parameterised queries only) and the admin CLI
 * ($IMGGEN_ADMIN) for users and tokens.
 *
 * Failure: every helper that cannot do its job (missing environment, a
 * transport error, a database error, a CLI failure) fails the current test
 * with cr_assert_fail() and a message saying what it was doing; a helper
 * never returns a half-filled result.  HTTP status codes are NOT failures:
 * itest_http() returns whatever the server answered.
 *
 * Ownership: every pointer a helper returns belongs to the caller and has
 * a matching release function named next to it; const char * results
 * point into an object the caller already owns and live as long as it.
 *
 * Processes: Criterion runs each test in its own process.  The helpers keep
 * no state across tests except libcurl's global initialisation (done once
 * per process, released at exit) and a per-process counter for unique
 * e-mail addresses.
 */
#ifndef IMGGEN_ITEST_H
#define IMGGEN_ITEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <libpq-fe.h>

/* Default deadlines (milliseconds). */
#define ITEST_HTTP_TIMEOUT_MS		30000L
#define ITEST_COMPLETE_TIMEOUT_MS	60000L

/* ------------------------------------------------------------------ */
/* Environment                                                         */

/*
 * The value of environment variable NAME; fails the test (with a "run
 * through make test" hint) if it is unset or empty.
 */
const char *itest_env(const char *name);

/*
 * Fails the test unless the stack environment is present (IMGGEN_URL and
 * the other variables scripts/stack.sh exports).  Call first in a test.
 */
void itest_require_stack(void);

/* ------------------------------------------------------------------ */
/* HTTP                                                                */

struct itest_header {
	char	*name;
	char	*value;
};

struct itest_response {
	long			 status;	/* HTTP status code */
	char			*body;		/* NUL-terminated (extra byte) */
	size_t			 body_len;	/* bytes received, excl. NUL */
	struct itest_header	*headers;	/* of the final response */
	size_t			 nheaders;
	double			 elapsed_s;	/* total transfer time */
};

struct itest_request {
	const char	*method;	/* "GET", "POST", ... ; NULL = GET */
	const char	*path;		/* "/api/..." (joined to IMGGEN_URL) or
					   an absolute http(s):// URL; sent as
					   is, no dot-segment normalisation */
	const char	*const *headers;	/* NULL-terminated "Name: value"
					   lines or NULL; "Name:" removes a
					   header libcurl would add */
	const char	*body;		/* NULL = no body */
	size_t		 body_len;
	long		 timeout_ms;	/* total; 0 = ITEST_HTTP_TIMEOUT_MS */
};

/*
 * Performs REQ and fills *RESP (which the caller releases with
 * itest_response_free()).  Returns 0 on an HTTP exchange (any status);
 * on a transport error (timeout, TLS, connection) it fails the test
 * unless ERRBUF is given, in which case it returns -1 and leaves a
 * description in ERRBUF (ERRBUF_LEN bytes) and *RESP empty.
 */
int itest_http_ex(const struct itest_request *req, struct itest_response *resp,
    char *errbuf, size_t errbuf_len);

/* itest_http_ex() that always fails the test on a transport error. */
void itest_http(const struct itest_request *req, struct itest_response *resp);

/*
 * Convenience: METHOD PATH with "Authorization: Bearer TOKEN" when TOKEN
 * is non-NULL and, when BODY is non-NULL, "Content-Type: application/json"
 * and the body (strlen(BODY) bytes).
 */
void itest_call(const char *method, const char *path, const char *token,
    const char *body, struct itest_response *resp);

void itest_response_free(struct itest_response *resp);

/* The last header NAME (case-insensitive) of the response, or NULL. */
const char *itest_header(const struct itest_response *resp, const char *name);

/* True if the response's Content-Type is application/json (params ok). */
bool itest_is_json_response(const struct itest_response *resp);

/*
 * The response body parsed as JSON (strictly, the whole body); fails the
 * test, quoting the body, if it is not JSON.  Caller json_object_put()s.
 */
struct json_object *itest_response_json(const struct itest_response *resp);

/* IMGGEN_URL + PATH, malloc'd. */
char *itest_url(const char *path);

/* ------------------------------------------------------------------ */
/* JSON                                                                */

/*
 * Strict parse of exactly LEN bytes (the whole input must be one JSON
 * value).  Returns NULL if it is not.  Caller json_object_put()s.
 */
struct json_object *itest_json_parse(const char *text, size_t len);

/* itest_json_parse() of a literal in a test; fails the test on error. */
struct json_object *itest_json(const char *text);

/*
 * The value at PATH below ROOT, or NULL if absent.  PATH is a dot-separated
 * list of object keys and array indices: "error.code", "images.1.width".
 * A JSON null is returned as NULL too; use itest_json_has() to tell them
 * apart.  The result is borrowed from ROOT.
 */
struct json_object *itest_json_get(struct json_object *root, const char *path);

/* True if PATH exists below ROOT (its value may be null). */
bool itest_json_has(struct json_object *root, const char *path);

/* True if PATH exists and holds JSON null. */
bool itest_json_is_null(struct json_object *root, const char *path);

/* The string at PATH, or NULL if absent or not a string (borrowed). */
const char *itest_json_str(struct json_object *root, const char *path);

/*
 * The integer at PATH into *OUT; returns false if absent or not a JSON
 * integer (a double such as 2.0 is not one).
 */
bool itest_json_int(struct json_object *root, const char *path, int64_t *out);

/* Deep equality (object key order ignored, int vs double distinct). */
bool itest_json_equal(struct json_object *a, struct json_object *b);

/* Compact serialisation for messages; borrowed from OBJ (may be NULL). */
const char *itest_json_text(struct json_object *obj);

/* True if S is a canonical lowercase UUID (8-4-4-4-12 hex). */
bool itest_is_uuid(const char *s);

/* True if S is an ISO-8601 UTC timestamp: YYYY-MM-DDTHH:MM:SS[.fff]Z. */
bool itest_is_utc_timestamp(const char *s);

/* ------------------------------------------------------------------ */
/* PostgreSQL ($DATABASE_URL; a connection per call)                   */

/*
 * Runs SQL with the text parameters that follow (NULL-terminated list;
 * $1, $2, ...) and returns the result (caller PQclear()s).  Fails the test
 * on a connection or query error.
 */
PGresult *itest_pg_query(const char *sql, ...)
    __attribute__((sentinel));

/* The single value of a one-row, one-column integer query. */
long long itest_pg_int(const char *sql, ...) __attribute__((sentinel));

/*
 * The single value of a one-row, one-column query as malloc'd text, or
 * NULL if it is SQL NULL.  Caller free()s.
 */
char *itest_pg_text(const char *sql, ...) __attribute__((sentinel));

/* ------------------------------------------------------------------ */
/* Users and tokens (through $IMGGEN_ADMIN)                            */

struct itest_user {
	char	 email[160];
	char	 id[40];	/* users.id */
	char	*token;		/* bearer secret */
};

/*
 * Creates a user with a unique e-mail (PREFIX-pid-counter-random@...) and
 * a token for it.  Release with itest_user_free().
 */
void itest_user_create(struct itest_user *user, const char *prefix);
void itest_user_free(struct itest_user *user);

/* A new token for EMAIL (malloc'd secret; caller free()s). */
char *itest_token_create(const char *email);

/* Revokes SECRET through "$IMGGEN_ADMIN token revoke -". */
void itest_token_revoke(const char *secret);

/*
 * Runs "$IMGGEN_ADMIN" with ARGS (NULL-terminated) and returns its stdout
 * (malloc'd; caller free()s).  Fails the test unless it exits 0.
 */
char *itest_admin_read(const char *const *args);

/* Number of image_generations rows the user owns. */
long long itest_generation_count(const struct itest_user *user);

/*
 * Runs a shell command line (for scripts/stack.sh); returns its exit
 * status, or -1 if it did not exit normally.  Output goes to stderr.
 */
int itest_run(const char *cmdline);

/*
 * Appends to BUF (capacity CAP) the single-quoted shell form of S.
 * Fails the test if it does not fit.
 */
void itest_shell_quote(char *buf, size_t cap, const char *s);

/* ------------------------------------------------------------------ */
/* Waiting                                                             */

typedef bool (*itest_cond_fn)(void *arg);

/*
 * Polls FN(ARG) (at growing intervals up to 250 ms) until it returns
 * true; fails the test with "timed out after N ms waiting for WHAT" if
 * TIMEOUT_MS passes first.  Under `make valgrind` (IMGGEN_VALGRIND set)
 * TIMEOUT_MS is multiplied by IMGGEN_VALGRIND_SLOW (default 6).
 */
void itest_wait_until(itest_cond_fn fn, void *arg, long timeout_ms,
    const char *what);

/* Milliseconds on a monotonic clock. */
int64_t itest_now_ms(void);

/*
 * POSTs BODY to /api/generate/text-to-image as USER and asserts a 202 with
 * a generation id; returns the parsed response (caller json_object_put()s)
 * and copies the id into ID (>= 40 bytes).
 */
struct json_object *itest_generate(const struct itest_user *user,
    const char *body, char *id);

/* GET /api/generate/queue/ID as USER, asserted 200; parsed body. */
struct json_object *itest_get_generation(const struct itest_user *user,
    const char *id);

/*
 * Waits (TIMEOUT_MS) until generation ID reaches status "completed" and
 * returns the last GET body.  Fails at once, quoting the body, if it ends
 * in another terminal status (failed / canceled).
 */
struct json_object *itest_wait_completed(const struct itest_user *user,
    const char *id, long timeout_ms);

/*
 * Waits (TIMEOUT_MS) until generation ID reaches any terminal status and
 * returns the last GET body (caller json_object_put()s).
 */
struct json_object *itest_wait_terminal(const struct itest_user *user,
    const char *id, long timeout_ms);

#endif /* IMGGEN_ITEST_H */
