/*
 * fcgi_io: the only module that touches libfcgi.  It turns an accepted
 * FCGX_Request into a struct api_req (CGI parameters and a bounded body)
 * and writes a struct api_resp back.
 */
#ifndef IG_FCGI_IO_H
#define IG_FCGI_IO_H

#include "api.h"

struct fcgi_conn;

/*
 * Sets up libfcgi on the listening socket (fd 0) and takes over SIGTERM,
 * SIGINT and SIGUSR1: each ends the accept loop after the request in hand.
 * NULL with *why set on failure.
 */
struct fcgi_conn *fcgi_io_open(const char **why);
void	fcgi_io_close(struct fcgi_conn *);
/* Waits for the next request; -1 once told to stop, or on error. */
int	fcgi_io_accept(struct fcgi_conn *, struct api_req *, struct buf *body);
void	fcgi_io_respond(struct fcgi_conn *, const struct api_req *,
	    const struct api_resp *);
void	fcgi_io_finish(struct fcgi_conn *);

#endif
