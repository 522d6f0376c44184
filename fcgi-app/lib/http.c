#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
http_request_init(struct http_request *r, const char *method, size_t max_body)
{
	int	 i;

	memset(r, 0, sizeof(*r));
	r->method = method;
	buf_init(&r->url, HTTP_MAX_URL);
	for (i = 0; i < HTTP_MAX_HEADERS; i++)
		buf_init(&r->headers[i], HTTP_MAX_HEADER_LINE);
	buf_init(&r->body, max_body);
}

void
http_request_release(struct http_request *r)
{
	int	 i;

	buf_free_secret(&r->url);	/* a query may hold a key */
	for (i = 0; i < HTTP_MAX_HEADERS; i++)
		buf_free_secret(&r->headers[i]);
	buf_free(&r->body);
	r->nheaders = 0;
	r->ext_body = NULL;
	r->ext_body_len = 0;
}

int
http_request_header(struct http_request *r, const char *fmt, ...)
{
	va_list	 ap;

	if (r->nheaders == HTTP_MAX_HEADERS)
		return -1;
	va_start(ap, fmt);
	buf_vaddf(&r->headers[r->nheaders], fmt, ap);
	va_end(ap);
	if (!buf_ok(&r->headers[r->nheaders]))
		return -1;
	r->nheaders++;
	return 0;
}

const void *
http_request_body(const struct http_request *r, size_t *len)
{
	if (r->ext_body) {
		*len = r->ext_body_len;
		return r->ext_body;
	}
	*len = r->body.len;
	return r->body.len ? r->body.data : "";
}

int
http_request_ok(const struct http_request *r)
{
	int	 i;

	for (i = 0; i < r->nheaders; i++)
		if (!buf_ok(&r->headers[i]))
			return 0;
	return buf_ok(&r->url) && buf_ok(&r->body) && r->url.len > 0;
}

int
http_status_error(long status, long retry_after, const char *what,
    const char *detail, struct ig_err *err)
{
	const char	*d = detail ? detail : "";
	const char	*sep = detail ? ": " : "";

	if (status == 408 || status == 429 || status >= 500) {
		ig_err_set(err, IG_ETRANSIENT, NULL, "%s answered HTTP %ld%s%s",
		    what, status, sep, d);
		err->retry_after = retry_after > 0 ? retry_after : 0;
		return -1;
	}
	return ig_err_set(err, IG_EPERMANENT, NULL, "%s answered HTTP %ld%s%s",
	    what, status, sep, d);
}

long
http_parse_retry_after(const char *v, long long now)
{
	char		*end;
	long		 n;
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char		 mon[4];
	int		 i, d, y, h, m, s;
	long long	 t;

	while (*v == ' ')
		v++;
	if (*v >= '0' && *v <= '9') {
		n = strtol(v, &end, 10);
		while (*end == ' ' || *end == '\r' || *end == '\n')
			end++;
		return (*end == '\0' && n >= 0 && n <= 86400) ? n : -1;
	}
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
	if (sscanf(v, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT", &d, mon, &y, &h, &m,
	    &s) != 6)
		return -1;
	for (i = 0; i < 12 && strcmp(mon, months[i]) != 0; i++)
		;
	if (i == 12)
		return -1;
	/* timegm is not POSIX: days from the civil date, by hand. */
	{
		int	 yy = y - (i < 2), era = (yy >= 0 ? yy : yy - 399) / 400;
		int	 yoe = yy - era * 400;
		int	 doy = (153 * (i + (i > 1 ? -2 : 10)) + 2) / 5 + d - 1;
		int	 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
		long long days = (long long)era * 146097 + doe - 719468;

		t = days * 86400 + h * 3600 + m * 60 + s;
	}
	if (t <= now)
		return 0;
	return t - now > 86400 ? 86400 : (long)(t - now);
}
