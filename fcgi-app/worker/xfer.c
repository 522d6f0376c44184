#include "xfer.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>

#include "crypto.h"
#include "webhook.h"

static size_t
xfer_write(char *data, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;

	buf_add(&x->resp, data, size * n);
	/* Past the cap: returning short makes curl fail with a write error. */
	return buf_ok(&x->resp) ? size * n : 0;
}

static size_t
xfer_header(char *data, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;
	size_t		 len = size * n;
	char		 value[128];

	if (len > 12 && len < 140 && strncasecmp(data, "retry-after:", 12) == 0) {
		snprintf(value, sizeof(value), "%.*s", (int)(len - 12),
		    data + 12);
		value[strcspn(value, "\r\n")] = '\0';
		x->retry_after = http_parse_retry_after(value,
		    (long long)time(NULL));
	} else if (len > 13 && len < 120 &&
	    strncasecmp(data, "x-request-id:", 13) == 0) {
		/* Kept only if it is a plain token: it goes into JSON. */
		snprintf(value, sizeof(value), "%.*s", (int)(len - 13),
		    data + 13);
		value[strcspn(value, "\r\n")] = '\0';
		if (strspn(value, " ") < strlen(value) &&
		    strspn(value + strspn(value, " "), "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") ==
		    strlen(value + strspn(value, " ")))
			snprintf(x->request_id, sizeof(x->request_id), "%.79s",
			    value + strspn(value, " "));
	}
	return len;
}

static int
xfer_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	const struct xfer *x = arg;

	(void)dt; (void)dn; (void)ut; (void)un;
	return x->abort != NULL && *x->abort;
}

/*
 * Webhook URLs come from clients: check the address curl is about to
 * connect to (after DNS, so a name that resolves inward is caught too).
 */
static curl_socket_t
xfer_open_public(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer	*x = arg;

	(void)purpose;
	if (!webhook_addr_public(&a->addr, a->addrlen)) {
		x->refused_address = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

int
xfer_start(CURLM *multi, struct xfer *x, struct http_request *req,
    const struct xfer_opts *o, const int *abort, struct ig_err *err)
{
	const void	*body;
	size_t		 len;
	int		 i;

	memset(x, 0, sizeof(*x));
	x->req = *req;
	memset(req, 0, sizeof(*req));
	x->abort = abort;
	x->retry_after = -1;
	buf_init(&x->resp, o->max_response);
	if (!http_request_ok(&x->req))
		return ig_err_set(err, IG_EINTERNAL, NULL, "request too large");
	if ((x->easy = curl_easy_init()) == NULL)
		return ig_err_set(err, IG_ENOMEM, NULL, "curl_easy_init failed");
	for (i = 0; i < x->req.nheaders; i++) {
		struct curl_slist *l = curl_slist_append(x->headers,
		    buf_cstr(&x->req.headers[i]));
		if (l == NULL)
			return ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
		x->headers = l;
	}
	body = http_request_body(&x->req, &len);
	curl_easy_setopt(x->easy, CURLOPT_URL, buf_cstr(&x->req.url));
	curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, x->req.method);
	if (strcmp(x->req.method, "GET") != 0) {
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, xfer_write);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, xfer_header);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_XFERINFOFUNCTION, xfer_progress);
	curl_easy_setopt(x->easy, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(x->easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT, o->connect_timeout);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT, o->total_timeout);
	curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)o->max_response);
	if (o->ca_file && *o->ca_file)
		curl_easy_setopt(x->easy, CURLOPT_CAINFO, o->ca_file);
	if (o->public_only) {
		curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETFUNCTION,
		    xfer_open_public);
		curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETDATA, x);
	}
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	if (curl_multi_add_handle(multi, x->easy) != CURLM_OK)
		return ig_err_set(err, IG_EINTERNAL, NULL,
		    "curl_multi_add_handle failed");
	x->active = 1;
	return 0;
}

void
xfer_collect(CURLM *multi)
{
	CURLMsg		*m;
	struct xfer	*x;
	int		 left;

	while ((m = curl_multi_info_read(multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x == NULL)
			continue;
		x->result = m->data.result;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
		x->done = 1;
	}
}

int
xfer_transport_error(const struct xfer *x, const char *what,
    struct ig_err *err)
{
	if (x->refused_address)
		return ig_err_set(err, IG_EPERMANENT, NULL, "%s: the address is "
		    "private, loopback or link-local", what);
	switch (x->result) {
	case CURLE_OK:
		return 0;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		return ig_err_set(err, IG_EPERMANENT, NULL, "%s: the response "
		    "is larger than %zu bytes", what, x->resp.max);
	case CURLE_ABORTED_BY_CALLBACK:
		return ig_err_set(err, IG_ETRANSIENT, NULL, "%s: aborted",
		    what);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		/* Misconfiguration: retrying will not help. */
		return ig_err_set(err, IG_EPERMANENT, NULL, "%s: %s", what,
		    curl_easy_strerror(x->result));
	default:
		/* Timeouts, refused or reset connections, DNS, TLS hiccups. */
		return ig_err_set(err, IG_ETRANSIENT, NULL, "%s: %s", what,
		    curl_easy_strerror(x->result));
	}
}

void
xfer_release(CURLM *multi, struct xfer *x)
{
	struct curl_slist	*l;

	if (x->easy) {
		if (x->active)
			curl_multi_remove_handle(multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	/* Header lines hold keys and signatures: wipe curl's copies too. */
	for (l = x->headers; l != NULL; l = l->next)
		crypto_wipe(l->data, strlen(l->data));
	curl_slist_free_all(x->headers);
	http_request_release(&x->req);
	buf_free(&x->resp);
	memset(x, 0, sizeof(*x));
}
