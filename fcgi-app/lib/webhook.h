/*
 * webhook: Standard Webhooks (standardwebhooks.com) signing, per-user
 * secrets, and the checks that keep a client's webhookUrl from pointing the
 * worker at our own network (SSRF).
 *
 * A user's secret is derived, not stored: HMAC-SHA256(IMGGEN_WEBHOOK_KEY,
 * "imggen-webhook:<user id>:<version>"), shown as "whsec_" + base64 of the
 * 32 bytes; bumping the version in the database rotates it.  A message is
 * signed as v1,base64(HMAC-SHA256(secret, "<id>.<timestamp>.<body>")).
 * Pure functions.
 */
#ifndef IG_WEBHOOK_H
#define IG_WEBHOOK_H

#include <stddef.h>
#include <sys/socket.h>

#include "ig_err.h"

#define WEBHOOK_URL_MAX		2048
#define WEBHOOK_SECRET_LEN	32
#define WEBHOOK_SECRET_TEXT	(6 + 44 + 1)	/* whsec_ + base64 + NUL */
#define WEBHOOK_SIG_TEXT	(3 + 44 + 1)	/* v1, + base64 + NUL */

/* Checks a client-supplied URL (field "webhookUrl"). */
int	webhook_url_check(const char *url, size_t len, int allow_insecure,
	    struct ig_err *) __attribute__((warn_unused_result));
/* Whether an address is one the worker may connect to. */
int	webhook_addr_public(const struct sockaddr *, socklen_t);
void	webhook_secret(const char *master_key, const char *user_id,
	    int version, unsigned char key[WEBHOOK_SECRET_LEN]);
void	webhook_secret_text(const unsigned char key[WEBHOOK_SECRET_LEN],
	    char out[WEBHOOK_SECRET_TEXT]);
void	webhook_sign(const unsigned char key[WEBHOOK_SECRET_LEN],
	    const char *msg_id, long long timestamp, const char *body,
	    size_t len, char out[WEBHOOK_SIG_TEXT]);

#endif
