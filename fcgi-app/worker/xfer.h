/*
 * xfer: one outgoing HTTP request performed on the worker child's curl
 * multi handle, so that a single event loop holds many slow provider calls
 * and uploads at once.
 *
 * Every transfer has connect and total timeouts, TLS verification on, a
 * bounded response body, and a progress callback that aborts it at once
 * when its job's abort flag is set (lease lost, shutdown deadline).  The
 * xfer owns the request (moved in by xfer_start) until xfer_release.
 */
#ifndef IG_XFER_H
#define IG_XFER_H

#include <curl/curl.h>

#include "buf.h"
#include "http.h"
#include "ig_err.h"

struct xfer_opts {
	long		 connect_timeout;	/* seconds */
	long		 total_timeout;		/* seconds */
	size_t		 max_response;		/* bytes */
	const char	*ca_file;		/* NULL or "": system store */
	int		 public_only;		/* refuse private addresses */
};

struct xfer {
	CURL			*easy;
	struct curl_slist	*headers;
	struct http_request	 req;
	struct buf		 resp;
	const int		*abort;
	int			 active;	/* added to the multi handle */
	int			 done;
	CURLcode		 result;
	long			 status;
	long			 retry_after;
	char			 request_id[80];	/* the peer's, if sent */
	int			 refused_address;	/* public_only said no */
};

/*
 * Starts *req (its contents are moved into x; *req is left empty).  abort
 * points at a flag the progress callback watches.
 */
int	xfer_start(CURLM *, struct xfer *x, struct http_request *req,
	    const struct xfer_opts *, const int *abort, struct ig_err *)
	    __attribute__((warn_unused_result));
/* Marks every finished transfer of the multi handle done. */
void	xfer_collect(CURLM *);
/*
 * After done: 0 when the peer answered (any status; look at x->status),
 * -1 with err classified when the transfer itself failed.
 */
int	xfer_transport_error(const struct xfer *x, const char *what,
	    struct ig_err *);
/* Detaches (aborting if still running) and frees everything; idempotent. */
void	xfer_release(CURLM *, struct xfer *x);

#endif
