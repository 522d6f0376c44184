/*
 * faults.h - helpers for imggen's fault-injection tests (tests/faults/).
 *
 * The fault tests run against a private stack brought up by
 * scripts/test-faults.sh, whose own worker is stopped: every test starts
 * the imggen-worker supervisors it needs (ft_worker_start), with the
 * stack's IMGGEN_CONFIG plus per-test overrides in the environment (the
 * environment wins over the file), crashes, stalls, stops and restarts
 * them, and kills whatever is left in its fini hook (ft_fini).  Tests of
 * one binary share the queue, so the script runs them with --jobs 1.
 *
 * Besides the variables of itest.h (stack.env) the helpers read:
 *   IMGGEN_BIN          directory of imggen-worker / imggen-admin
 *   IMGGEN_STACK_DIR    the stack (worker logs go to its log/ directory,
 *                       the process groups to kill on failure are listed
 *                       in its run/faults-pgids)
 *   IMGGEN_FS_ROOT      the fs storage root
 *   FAULTS_STANDIN_URL  the provider stand-in (tests/standins/providers.js)
 *   FAULTS_S3_DIR       the directory of scripts/s3rver.sh (s3.env in it)
 *
 * Failure: like itest.h, a helper that cannot do its job fails the test
 * with a message saying what it was doing.
 */
#ifndef IMGGEN_FAULTS_H
#define IMGGEN_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "itest.h"

#define FT_MAX_CHILDREN	64

/* ------------------------------------------------------------------ */
/* Worker supervisors started by a test                                */

struct ft_worker {
	pid_t	 pid;		/* the supervisor; also its process group */
	char	 name[64];
	char	 log[512];	/* its stdout+stderr (appended) */
	bool	 reaped;
	int	 status;	/* wait status once reaped */
};

/*
 * Starts "$IMGGEN_BIN/imggen-worker" in a new session with the stack's
 * IMGGEN_CONFIG and the KEY=VALUE overrides in ENV (NULL-terminated; may
 * be NULL), its output appended to $IMGGEN_STACK_DIR/log/faults-NAME.log
 * (truncated first).  PREFIX (NULL-terminated argv or NULL) is put in
 * front of the command, e.g. { "ip", "netns", "exec", "ns", NULL }.
 * The supervisor's process group is killed by ft_fini() and by the
 * script's cleanup if the test dies.  Waits until the log says "starting"
 * (the configuration was accepted).
 */
void	ft_worker_start(struct ft_worker *w, const char *name,
	    const char *const *prefix, const char *const *env);

/* Live children of the supervisor, up to MAX; returns how many. */
int	ft_worker_children(const struct ft_worker *w, pid_t *out, int max);

/* Waits until the supervisor has N live children; returns them in OUT. */
void	ft_worker_wait_children(const struct ft_worker *w, int n, pid_t *out,
	    long timeout_ms);

/* True while the supervisor has not exited (reaps it if it has). */
bool	ft_worker_alive(struct ft_worker *w);

/*
 * SIGTERM to the supervisor; waits (TIMEOUT_MS) for it to exit and
 * returns the milliseconds it took.  Fails the test on the deadline.
 * w->status holds the wait status afterwards.
 */
long	ft_worker_stop(struct ft_worker *w, long timeout_ms);

/* SIGKILL to the whole process group (supervisor and children), reaped. */
void	ft_worker_kill(struct ft_worker *w);

/* Sends SIG to the whole process group (e.g. SIGSTOP / SIGCONT). */
void	ft_worker_signal(const struct ft_worker *w, int sig);

/* Lines of W's log containing every one of the NULL-terminated strings. */
long	ft_log_count(const char *path, ...) __attribute__((sentinel));

/* Waits until ft_log_count(PATH, S1, S2) >= N (S2 may be NULL). */
void	ft_log_wait(const char *path, const char *s1, const char *s2, long n,
	    long timeout_ms);

/*
 * Calls FN for every line of PATH that is a JSON object (the service's
 * log format); FN must not keep LINE.
 */
void	ft_log_each(const char *path,
	    void (*fn)(struct json_object *line, void *arg), void *arg);

/* ------------------------------------------------------------------ */
/* Fini                                                                */

/*
 * For .fini of every fault test: SIGKILLs every worker the test started
 * and still runs, resumes anything ft_on_fini_cont() registered, and
 * deletes the generations of the users registered with ft_user().
 */
void	ft_fini(void);

/* ------------------------------------------------------------------ */
/* Users, submissions, database                                        */

/*
 * itest_user_create() with the pending and daily-quota limits raised, so
 * that a fault test can queue thousands of generations.  The user's
 * generations are deleted by ft_fini().
 */
void	ft_user(struct itest_user *u, const char *prefix);

/*
 * POSTs a generation; returns the HTTP status (0 on a transport error,
 * described in ERR) and, for a 202, copies the id to ID (>= 40 bytes).
 * RETRY_AFTER (may be NULL, >= 64 bytes) gets the Retry-After header.
 */
long	ft_try_generate(const struct itest_user *u, const char *body, char *id,
	    char *retry_after, char *err, size_t errlen);

/* The one value of a one-row, one-column query as text ("" for NULL). */
void	ft_pg_str(char *out, size_t cap, const char *sql, ...)
	    __attribute__((sentinel));

/* Runs a shell command line; fails the test unless it exits 0. */
void	ft_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command line; returns its exit status (-1: abnormal). */
int	ft_sh_status(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* scripts/stack.sh VERB $IMGGEN_STACK_DIR; fails unless it exits 0. */
void	ft_stack(const char *verb);

/*
 * Runs "$IMGGEN_ADMIN ARGS" (ARGS already shell-quoted where needed)
 * with stderr folded into stdout; returns its exit status (-1 abnormal)
 * and its output in OUT.
 */
int	ft_admin(char *out, size_t cap, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * POST /api/generate/queue/ID/cancel as U; returns the status, the body
 * parsed (caller json_object_put()s; NULL if not JSON) in *BODY.
 */
long	ft_cancel(const struct itest_user *u, const char *id,
	    struct json_object **body);

/* How many calls the provider stand-in received for PROMPT (openai). */
long	ft_standin_calls(const char *prompt);

/* ------------------------------------------------------------------ */
/* Generations: the end-state checks every fault test makes            */

/*
 * Asserts that generation ID of U is completed exactly as it must be:
 * status completed, no job row, N uploads rows (purpose
 * generation_output, idx 0..N-1, storage_key
 * generations/<user>/<id>/<idx>.<ext>), ai_metadata.imageIds equal to
 * the uploads' ids in idx order, and - with fs storage (FS true) - each
 * file present with the row's size and sha256.
 */
void	ft_assert_completed(const struct itest_user *u, const char *id, int n,
	    bool fs);

/*
 * Asserts that the files under $IMGGEN_FS_ROOT/generations/<user>/ are
 * exactly the user's uploads' storage keys: no orphan, no temporary
 * file; returns the number of files.
 */
long	ft_assert_fs_matches_uploads(const struct itest_user *u);

/* The same comparison, counted instead of asserted; returns the files. */
struct ft_fs_report {
	long	 orphans;	/* files without an uploads row */
	long	 temporary;	/* *.tmp.* files left by killed writers */
	long	 missing;	/* uploads rows without their file */
	char	 problems[4096];	/* the first few, one per line */
};
long	ft_fs_diff(const struct itest_user *u, struct ft_fs_report *rep);

/* Waits until every generation of U is terminal (TIMEOUT_MS). */
void	ft_wait_user_terminal(const struct itest_user *u, long timeout_ms);

/* ------------------------------------------------------------------ */
/* Misc                                                                */

/* SHA-256 of the file at PATH as lowercase hex; false if unreadable. */
bool	ft_sha256_file(const char *path, char hex[65], long long *size);

/* SHA-256 of a buffer as lowercase hex. */
void	ft_sha256_hex(const void *data, size_t len, char hex[65]);

/*
 * Local ports of the ESTABLISHED IPv4/IPv6 TCP connections whose remote
 * port is PORT (from /proc/net/tcp*); returns how many (<= MAX).
 */
int	ft_tcp_established_to(int port, int *local_ports, int max);

/* A uniformly random integer in [0, n). */
unsigned ft_rand(unsigned n);

/* Sleeps MS milliseconds (pacing of a fault, never synchronisation). */
void	ft_pause_ms(long ms);

/* The port of an http://host:port URL (FAULTS_STANDIN_URL and such). */
int	ft_url_port(const char *url);

/* Reads KEY from a KEY=VALUE file into OUT; fails if absent. */
void	ft_env_file_get(const char *path, const char *key, char *out,
	    size_t cap);

/* Elapsed milliseconds since T0 (itest_now_ms()). */
long	ft_since(int64_t t0);

#endif /* IMGGEN_FAULTS_H */
