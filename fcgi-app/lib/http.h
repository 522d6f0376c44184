/*
 * http: an outgoing HTTP request as plain data, and the classification of
 * its outcome.
 *
 * Providers and the s3 storage backend build a struct http_request with
 * pure functions (unit-testable, fuzzable, no I/O); the worker performs it
 * with libcurl's multi interface (worker/xfer.c).  Header lines may carry
 * secrets (API keys, signatures): http_request_release() wipes them.
 */
#ifndef IG_HTTP_H
#define IG_HTTP_H

#include <stddef.h>

#include "buf.h"
#include "ig_err.h"

#define HTTP_MAX_HEADERS	12
#define HTTP_MAX_URL		4096
#define HTTP_MAX_HEADER_LINE	4096

struct http_request {
	const char	*method;		/* static string */
	struct buf	 url;
	struct buf	 headers[HTTP_MAX_HEADERS];	/* "Name: value" */
	int		 nheaders;
	struct buf	 body;			/* owned body, e.g. JSON */
	const void	*ext_body;		/* or a borrowed one (images) */
	size_t		 ext_body_len;
};

void	http_request_init(struct http_request *, const char *method,
	    size_t max_body);
void	http_request_release(struct http_request *);
/* Appends one header line; returns -1 when there is no room. */
int	http_request_header(struct http_request *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
const void *http_request_body(const struct http_request *, size_t *len);
int	http_request_ok(const struct http_request *);

/*
 * Turns a non-2xx status into an error: 408, 429 and 5xx are IG_ETRANSIENT
 * (429/503 with the server's Retry-After seconds when given), other 4xx are
 * IG_EPERMANENT.  `what` names the peer ("provider imagen", "storage").
 * detail is a short, secret-free excerpt of the server's message or NULL.
 */
int	http_status_error(long status, long retry_after, const char *what,
	    const char *detail, struct ig_err *err);
/* Parses a Retry-After header value (seconds or an HTTP date); -1 if bad. */
long	http_parse_retry_after(const char *value, long long now_epoch);

#endif
