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
/*
 * Inserts the generation and its job in one statement (hence one
 * transaction) and notifies the workers.
 */
int	store_create_generation(struct db *, const char *user_id,
	    const struct gen_request *, const char *metadata_json,
	    long max_attempts, char id[STORE_UUID_LEN + 1],
	    char created_at[STORE_TS_LEN + 1], struct ig_err *)
	    __attribute__((warn_unused_result));
/* Appends the status document of one of the user's generations. */
int	store_generation_json(struct db *, const char *user_id,
	    const char *generation_id, struct buf *out, struct ig_err *)
	    __attribute__((warn_unused_result));
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
/* Appends "state count" lines describing the queue. */
int	store_queue_stats(struct db *, struct buf *out, struct ig_err *)
	    __attribute__((warn_unused_result));

#endif
