/*
 * apitest.h - helpers of the API contract tests (tests/api, binary
 * test-api): requests whose answers are checked against docs/openapi.yaml,
 * concurrent requests, pausing the stack's worker, and the lock that keeps
 * worker-pausing tests apart from the others.
 *
 * Every answer a helper here receives, whatever its status, is validated
 * against the document (oa_check_response) before the test sees it; an
 * undocumented status or a body that does not match its schema fails the
 * test on the spot, quoting the request and the answer.
 *
 * Concurrency between tests: Criterion runs tests in parallel processes.
 * A test that pauses the worker (SIGSTOP) would stall any test waiting for
 * a generation, and tests that count queue positions need a quiet queue,
 * so api_begin() takes a lock on $IMGGEN_STACK_DIR/api-tests.lock: shared
 * for ordinary tests, exclusive for those that pause the worker.  It is
 * held until the test's process ends.
 */
#ifndef IMGGEN_API_APITEST_H
#define IMGGEN_API_APITEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "itest.h"
#include "oa.h"

#define API_GEN_PATH	"/api/generate/text-to-image"
#define API_QUEUE_PATH	"/api/generate/queue"
#define API_HEALTH_PATH	"/api/generate/health"
#define API_TEST_TIMEOUT_S	300
#define API_DONE_MS	90000L	/* a generation of the local provider */

/* Checks the stack and the document, takes the test lock (see above). */
void api_begin(bool exclusive);

struct api_req {
	const char	*method;	/* NULL = GET */
	const char	*path;
	const char	*token;		/* Bearer token, or NULL for none */
	const char	*body;		/* NULL = none */
	/* NULL: application/json when there is a body; "": no Content-Type */
	const char	*content_type;
	/* NULL: no header; "": an empty Idempotency-Key header */
	const char	*idempotency_key;
	const char	*const *headers;	/* more "Name: value" lines */
};

struct api_res {
	long			 status;
	struct itest_response	 http;
	struct json_object	*json;	/* the body parsed; NULL when empty */
};

/* Performs REQ and validates the answer against the document. */
void	api_send(const struct api_req *req, struct api_res *out);

/* Shorthand for api_send() with a method, path, token and JSON body. */
void	api_do(struct api_res *out, const char *method, const char *path,
	    const char *token, const char *body);

/*
 * Performs the N requests at once (one libcurl multi handle, HTTP/2
 * streams on one connection, all sent before any answer is read) and
 * validates each answer.  OUT[i] answers REQS[i].
 */
void	api_parallel(const struct api_req *reqs, size_t n,
	    struct api_res *out);

void	api_res_free(struct api_res *res);

/* The last header NAME of the answer, or NULL. */
const char *api_hdr(const struct api_res *res, const char *name);

/*
 * Asserts an error answer: STATUS, error.code CODE, and error.field equal
 * to FIELD (NULL: no field).  X-Request-Id equals error.requestId.
 */
void	api_expect_error(const struct api_res *res, long status,
	    const char *code, const char *field);

/* POSTs BODY as TOKEN (with KEY unless NULL), asserts 202, copies the id. */
void	api_create(const char *token, const char *body, const char *key,
	    char id[40]);

/* GET /queue/ID as TOKEN, asserted 200; the document (caller puts it). */
struct json_object *api_get_doc(const char *token, const char *id);

/*
 * Polls GET /queue/ID until the generation is terminal and asserts that
 * its status is WANT (unless NULL); returns the last document.
 */
struct json_object *api_wait_terminal(const char *token, const char *id,
    const char *want);

/* A fresh user (itest_user_create) whose columns are then set by SQL. */
void	api_user_limits(const struct itest_user *user, int max_pending,
	    int daily_image_quota);

/* ------------------------------------------------------------------ */
/* Pausing the worker (only in a test that called api_begin(true))     */

struct api_pause {
	pid_t	 supervisor;	/* DIR/run/worker.pid */
	pid_t	 watchdog;	/* resumes the worker if this process dies */
	int	 wfd;		/* its pipe: closing it resumes */
	bool	 active;
};

/*
 * SIGSTOPs the worker supervisor and its children and waits until they
 * are all stopped.  A watchdog process resumes them when this test's
 * process ends for any reason (or after 5 minutes), so a failing or
 * crashing test cannot leave the stack paused.
 */
void	api_worker_pause(struct api_pause *p);

/* SIGCONTs them all (idempotent). */
void	api_worker_resume(struct api_pause *p);

/* ------------------------------------------------------------------ */
/* A command that runs if this test's process dies                     */

struct api_guard {
	pid_t	 pid;
	int	 wfd;
	bool	 active;
};

/*
 * Forks a watchdog that runs the shell command CMD (output to stderr) if
 * this process ends before api_guard_disarm(), e.g. to start PostgreSQL
 * again after a test that stopped it has crashed.
 */
void	api_guard_arm(struct api_guard *g, const char *cmd);

/* The process survived: the watchdog exits without running anything. */
void	api_guard_disarm(struct api_guard *g);

/* scripts/stack.sh VERB $IMGGEN_STACK_DIR, as a command line. */
void	api_stack_cmd(char *buf, size_t cap, const char *verb);

#endif /* IMGGEN_API_APITEST_H */
