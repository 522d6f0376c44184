/*
 * store: the SQL of the API and the admin CLI — authentication, creating a
 * generation with its job, reading it back, users and tokens.
 *
 * Each function is one parameterised statement (so one implicit
 * transaction).  Output strings are copied into caller-provided buffers.
 */
#ifndef IG_STORE_H
#define IG_STORE_H

#include <stddef.h>

#include "buf.h"
#include "db.h"
#include "generation.h"
#include "ig_err.h"

#define STORE_UUID_LEN	36
#define STORE_TS_LEN	32

/*
 * Finds the user owning an unrevoked token.  IG_EAUTH when there is none.
 * The token is hashed before it reaches the database; the stored hash is
 * compared again in constant time.
 */
int	store_auth(struct db *, const char *token, size_t len,
	    char user_id[STORE_UUID_LEN + 1], struct ig_err *)
	    __attribute__((warn_unused_result));
#define STORE_IDEMPOTENCY_KEY_MAX	255

struct store_created {
	char	 id[STORE_UUID_LEN + 1];
	char	 created_at[STORE_TS_LEN + 1];
	int	 replayed;	/* an Idempotency-Key replay of an earlier one */
};

/*
 * Inserts the generation and its job in one statement (hence one
 * transaction), taking the user's limits in the same statement, then
 * notifies the workers.  With an idempotency key: the same key and request
 * within 24 h returns the original (replayed = 1); the same key with
 * another request is IG_EPERMANENT "idempotency_mismatch" (422).  Over a
 * limit: IG_ERATE with api code rate_limited (pending) or quota_exceeded
 * (daily images) and retry_after set.
 */
int	store_create_generation(struct db *, const char *user_id,
	    const struct gen_request *, const char *metadata_json,
	    long max_attempts, const char *idempotency_key,
	    struct store_created *out, struct ig_err *)
	    __attribute__((warn_unused_result));

struct store_doc_meta {
	int	 terminal;	/* completed, failed or canceled */
	char	 etag[96];	/* set when terminal: the document is final */
};

/* Appends the status document of one of the user's generations. */
int	store_generation_json(struct db *, const char *user_id,
	    const char *generation_id, struct buf *out,
	    struct store_doc_meta *meta, struct ig_err *)
	    __attribute__((warn_unused_result));
/*
 * The same for the owner of an API token, authenticated in the same
 * statement (one round trip for a status poll): IG_EAUTH as store_auth(),
 * IG_ENOTFOUND when the token is good but the generation is not its
 * user's.  user_id is set once the token is accepted.
 */
int	store_generation_json_by_token(struct db *, const char *token,
	    size_t len, const char *generation_id,
	    char user_id[STORE_UUID_LEN + 1], struct buf *out,
	    struct store_doc_meta *meta, struct ig_err *)
	    __attribute__((warn_unused_result));

struct store_cursor {
	long long	 created_us;	/* microseconds since the epoch */
	char		 id[STORE_UUID_LEN + 1];
};

/*
 * Appends {"generations":[…],"nextCursor":…}: the user's generations,
 * newest first, after *after when given (keyset pagination), optionally
 * only those with one status.
 */
int	store_list_generations(struct db *, const char *user_id,
	    const char *status, int limit, const struct store_cursor *after,
	    struct buf *out, struct ig_err *)
	    __attribute__((warn_unused_result));
/* The opaque cursor text, and its parser (-1 when malformed). */
void	store_cursor_format(const struct store_cursor *, char out[96]);
int	store_cursor_parse(const char *text, struct store_cursor *);
/*
 * Cancels one of the user's generations: a queued one at once (its job is
 * deleted), a processing one is marked canceled and its worker told
 * (NOTIFY imggen_cancel) to abandon it.  Canceling a canceled generation is
 * a no-op; a completed or failed one is IG_ECONFLICT.  Appends the status
 * document afterwards.
 */
int	store_cancel_generation(struct db *, const char *user_id,
	    const char *generation_id, struct buf *out, struct ig_err *)
	    __attribute__((warn_unused_result));
/* Whether a user with this id exists (for JWT subjects). */
int	store_user_exists(struct db *, const char *user_id, struct ig_err *)
	    __attribute__((warn_unused_result));
/* Appends the Prometheus text exposition of the queue and generations. */
int	store_metrics(struct db *, struct buf *out, struct ig_err *)
	    __attribute__((warn_unused_result));
int	store_ping(struct db *, struct ig_err *)
	    __attribute__((warn_unused_result));

int	store_user_create(struct db *, const char *email,
	    char id[STORE_UUID_LEN + 1], struct ig_err *)
	    __attribute__((warn_unused_result));
int	store_token_create(struct db *, const char *email, const char *name,
	    const char *token, char id[STORE_UUID_LEN + 1], struct ig_err *)
	    __attribute__((warn_unused_result));
/* Revokes by token id or, when by_secret, by the secret itself. */
int	store_token_revoke(struct db *, const char *what, int by_secret,
	    struct ig_err *) __attribute__((warn_unused_result));
/*
 * The user's id and webhook secret version (bumped first when rotate), by
 * email or id.
 */
int	store_user_webhook(struct db *, const char *who, int rotate,
	    char user_id[STORE_UUID_LEN + 1], int *version, struct ig_err *)
	    __attribute__((warn_unused_result));
/* Appends the webhook delivery attempts of a generation, one per line. */
int	store_webhook_deliveries(struct db *, const char *generation_id,
	    struct buf *out, struct ig_err *)
	    __attribute__((warn_unused_result));
/* Appends "state count" lines describing the queue. */
int	store_queue_stats(struct db *, struct buf *out, struct ig_err *)
	    __attribute__((warn_unused_result));

#endif
