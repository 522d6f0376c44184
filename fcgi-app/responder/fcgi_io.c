#include "fcgi_io.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/epoll.h>
#include <sys/socket.h>

#include <fcgiapp.h>

/*
 * Why the responder waits for connections itself rather than blocking in
 * FCGX_Accept_r: a graceful stop must never drop a connection that was
 * already taken off the socket.  libfcgi's accept path, after accept()
 * on a unix socket, poll()s the new connection for its first bytes and
 * closes it if that poll fails -- and poll() fails with EINTR whenever a
 * signal arrives (SA_RESTART does not restart poll).  multiwatch's
 * SIGUSR1 or systemd's SIGTERM landing in that instant cost nginx a 502
 * ("Broken pipe while sending request to upstream"), about one request
 * per fifty restarts under load.
 *
 * So the stop signals stay blocked except inside epoll_pwait(), which
 * unblocks them atomically while the process is idle; libfcgi then
 * accepts and reads with no signal able to interrupt it.  The listening
 * socket is non-blocking, so a responder woken for a connection another
 * responder took gets EAGAIN and goes back to waiting instead of
 * sleeping in accept() with its stop signals blocked.  EPOLLEXCLUSIVE
 * wakes one idle responder per connection, as the blocking accept() did,
 * rather than all of them.
 */
struct fcgi_conn {
	FCGX_Request	 req;
	int		 epfd;
	sigset_t	 waitmask;	/* the mask while idle: stop signals open */
};

static volatile sig_atomic_t stop_requested;

/* systemd's and spawn-fcgi's SIGTERM, a terminal's SIGINT, multiwatch's SIGUSR1. */
static const int stop_signals[] = { SIGTERM, SIGINT, SIGUSR1, 0 };

static void
on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* fd 0 must be a listening stream socket: anything else is a setup error. */
static int
listen_fd_ok(int fd)
{
	int		 v = 0;
	socklen_t	 len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 &&
	    v != 0;
}

struct fcgi_conn *
fcgi_io_open(const char **why)
{
	struct fcgi_conn	*c;
	struct sigaction	 sa;
	struct epoll_event	 ev;
	sigset_t		 stops;
	int			 fl, i;

	*why = NULL;
	if (!listen_fd_ok(0)) {
		*why = "fd 0 is not a listening socket (run imggen-api "
		    "under spawn-fcgi or systemd socket activation)";
		return NULL;
	}
	if (FCGX_Init() != 0 || (c = calloc(1, sizeof(*c))) == NULL) {
		*why = "cannot initialise libfcgi";
		return NULL;
	}
	c->epfd = -1;
	if (FCGX_InitRequest(&c->req, 0, 0) != 0) {
		*why = "cannot initialise libfcgi";
		goto fail;
	}
	/*
	 * Our handler replaces libfcgi's SIGUSR1 handler (installed by
	 * FCGX_Init), so libfcgi's own shutdown flag is never raised.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&stops);
	for (i = 0; stop_signals[i] != 0; i++) {
		sigaddset(&stops, stop_signals[i]);
		sigaction(stop_signals[i], &sa, NULL);
	}
	sigprocmask(SIG_BLOCK, &stops, &c->waitmask);
	for (i = 0; stop_signals[i] != 0; i++)
		sigdelset(&c->waitmask, stop_signals[i]);
	/* The flag lives on the socket shared by every responder: all agree. */
	if ((fl = fcntl(0, F_GETFL)) == -1 ||
	    fcntl(0, F_SETFL, fl | O_NONBLOCK) == -1) {
		*why = "cannot make the listening socket non-blocking";
		goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	if ((c->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    epoll_ctl(c->epfd, EPOLL_CTL_ADD, 0, &ev) == -1) {
		*why = "cannot watch the listening socket (epoll)";
		goto fail;
	}
	return c;
fail:
	if (c->epfd != -1)
		close(c->epfd);
	free(c);
	return NULL;
}

void
fcgi_io_close(struct fcgi_conn *c)
{
	if (c == NULL)
		return;
	FCGX_Free(&c->req, 1);
	if (c->epfd != -1)
		close(c->epfd);
	free(c);
}

/*
 * Also true for a stop signal still pending: epoll_pwait() returns ready
 * connections without delivering one, so under constant load a stop
 * signal could otherwise stay pending for good.
 */
static int
stop_signalled(void)
{
	sigset_t	 pending;
	int		 i;

	if (stop_requested)
		return 1;
	if (sigpending(&pending) == 0)
		for (i = 0; stop_signals[i] != 0; i++)
			if (sigismember(&pending, stop_signals[i]) == 1)
				return stop_requested = 1;
	return 0;
}

/*
 * Until a connection with a request on it is accepted: 0; -1 once a stop
 * signal has arrived (checked only between requests) or on an error.
 */
static int
wait_and_accept(struct fcgi_conn *c)
{
	struct epoll_event	 ev;
	int			 n, rc;

	for (;;) {
		if (stop_signalled())
			return -1;
		n = epoll_pwait(c->epfd, &ev, 1, -1, &c->waitmask);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (stop_signalled())
			return -1;	/* the connection is left to the others */
		/*
		 * -EAGAIN: another responder took the connection, or it
		 * closed before sending its request; keep waiting.
		 */
		if ((rc = FCGX_Accept_r(&c->req)) == 0)
			return 0;
		if (rc != -EAGAIN && rc != -EWOULDBLOCK && rc != -EINTR)
			return -1;
	}
}

static const char *
param(struct fcgi_conn *c, const char *name)
{
	return FCGX_GetParam(name, c->req.envp);
}

static const char *
param_bounded(struct fcgi_conn *c, const char *name)
{
	const char	*v = param(c, name);

	if (v != NULL && strnlen(v, API_HEADER_MAX + 1) > API_HEADER_MAX)
		return "";	/* absurdly long: treated as invalid */
	return v;
}

/*
 * Reads the body, never more than BUF_MAX_REQUEST_BODY bytes: a longer
 * declared or actual body only sets body_too_large.
 */
static void
read_body(struct fcgi_conn *c, struct api_req *r, struct buf *body)
{
	char	 chunk[4096];
	int	 n;

	if (r->content_length > BUF_MAX_REQUEST_BODY) {
		r->body_too_large = 1;
		return;
	}
	while ((n = FCGX_GetStr(chunk, sizeof(chunk), c->req.in)) > 0) {
		if (body->len + (size_t)n > BUF_MAX_REQUEST_BODY) {
			r->body_too_large = 1;
			return;
		}
		buf_add(body, chunk, (size_t)n);
	}
	r->body = buf_cstr(body);
	r->body_len = body->len;
}

/* 16 to 36 characters of hex digits and dashes: safe to echo anywhere. */
static int
request_id_valid(const char *s)
{
	size_t	 n = strnlen(s, 64);

	if (n < 16 || n > 36)
		return 0;
	return strspn(s, "0123456789abcdefABCDEF-") == n;
}

int
fcgi_io_accept(struct fcgi_conn *c, struct api_req *r, struct buf *body)
{
	const char	*v, *q;
	static char	 path[API_HEADER_MAX + 1];
	char		*end;

	if (wait_and_accept(c) == -1)
		return -1;
	memset(r, 0, sizeof(*r));
	buf_reset(body);
	r->method = (v = param(c, "REQUEST_METHOD")) ? v : "GET";
	/* nginx's DOCUMENT_URI is the decoded, normalised path. */
	if ((v = param_bounded(c, "DOCUMENT_URI")) == NULL &&
	    (v = param_bounded(c, "REQUEST_URI")) == NULL)
		v = "/";
	snprintf(path, sizeof(path), "%s", v);
	path[strcspn(path, "?")] = '\0';
	r->path = path;
	q = param_bounded(c, "QUERY_STRING");
	r->query = q ? q : "";
	r->content_type = param_bounded(c, "CONTENT_TYPE");
	if (r->content_type && *r->content_type == '\0')
		r->content_type = NULL;
	r->authorization = param_bounded(c, "HTTP_AUTHORIZATION");
	r->idempotency_key = param_bounded(c, "HTTP_IDEMPOTENCY_KEY");
	r->if_none_match = param_bounded(c, "HTTP_IF_NONE_MATCH");
	r->content_length = -1;
	if ((v = param(c, "CONTENT_LENGTH")) != NULL && *v != '\0') {
		r->content_length = strtoll(v, &end, 10);
		if (*end != '\0' || r->content_length < 0)
			r->content_length = BUF_MAX_REQUEST_BODY + 1;
	}
	/* nginx's $request_id, so the API's logs and nginx's access log agree. */
	if ((v = param(c, "REQUEST_ID")) != NULL && request_id_valid(v))
		snprintf(r->request_id, sizeof(r->request_id), "%s", v);
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
		read_body(c, r, body);
	return 0;
}

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default:  return "Internal Server Error";
	}
}

void
fcgi_io_respond(struct fcgi_conn *c, const struct api_req *r,
    const struct api_resp *resp)
{
	struct buf	 head = BUF_INIT(API_HEADER_MAX * 8);

	/* libfcgi's own printf lacks %zu: format here, write raw bytes. */
	buf_addf(&head, "Status: %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Cache-Control: %s\r\n"
	    "X-Request-Id: %s\r\n"
	    "Content-Length: %zu\r\n", resp->status,
	    status_text(resp->status), resp->content_type,
	    resp->cache_control, r->request_id, resp->body.len);
	buf_add(&head, buf_cstr(&resp->headers), resp->headers.len);
	buf_adds(&head, "\r\n");
	if (buf_ok(&head))
		FCGX_PutStr(head.data, (int)head.len, c->req.out);
	if (resp->body.len && strcmp(r->method, "HEAD") != 0 &&
	    resp->status != 304)
		FCGX_PutStr(resp->body.data, (int)resp->body.len, c->req.out);
	buf_free(&head);
}

void
fcgi_io_finish(struct fcgi_conn *c)
{
	FCGX_Finish_r(&c->req);
}
