/*
 * itest.c - helpers for imggen's integration tests; see itest.h.
 */
#include "itest.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#define ITEST_MAX_BODY		(64u * 1024u * 1024u)
#define ITEST_MAX_PARAMS	16

/* ------------------------------------------------------------------ */
/* Environment                                                         */

const char *
itest_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0')
		cr_assert_fail("environment variable %s is not set: the "
		    "integration tests need a running stack - run them "
		    "through make test", name);
	return v;
}

void
itest_require_stack(void)
{
	static const char *const vars[] = {
		"IMGGEN_URL", "IMGGEN_CACERT", "DATABASE_URL", "IMGGEN_ADMIN",
		"IMGGEN_CONFIG",
	};

	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		(void)itest_env(vars[i]);
}

/* ------------------------------------------------------------------ */
/* Small utilities                                                     */

static void *
xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		cr_assert_fail("out of memory (%zu bytes)", n);
	return p;
}

static char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

int64_t
itest_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                */

static void
curl_global_once(void)
{
	static bool done;

	if (done)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		cr_assert_fail("curl_global_init failed");
	atexit(curl_global_cleanup);
	done = true;
}

char *
itest_url(const char *path)
{
	const char *base;
	size_t bl, pl;
	char *u;

	if (strncmp(path, "http://", 7) == 0 ||
	    strncmp(path, "https://", 8) == 0)
		return xstrdup(path);
	base = itest_env("IMGGEN_URL");
	bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	pl = strlen(path);
	u = xmalloc(bl + pl + 1);
	memcpy(u, base, bl);
	memcpy(u + bl, path, pl + 1);
	return u;
}

struct body_buf {
	char	*data;
	size_t	 len, cap;
	bool	 overflow;
};

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body_buf *b = userdata;
	size_t n = size * nmemb;

	if (b->len + n + 1 > ITEST_MAX_BODY) {
		b->overflow = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (p == NULL)
			return 0;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static void
headers_clear(struct itest_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	r->headers = NULL;
	r->nheaders = 0;
}

static size_t
on_header(char *ptr, size_t size, size_t nitems, void *userdata)
{
	struct itest_response *r = userdata;
	size_t n = size * nitems, len = n, nl, vs, ve;
	struct itest_header *h;
	const char *colon;

	while (len > 0 && (ptr[len - 1] == '\r' || ptr[len - 1] == '\n'))
		len--;
	if (len >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
		/* A new response (after 1xx or a redirect): start over. */
		headers_clear(r);
		return n;
	}
	if (len == 0)
		return n;
	colon = memchr(ptr, ':', len);
	if (colon == NULL)
		return n;
	nl = (size_t)(colon - ptr);
	vs = nl + 1;
	while (vs < len && (ptr[vs] == ' ' || ptr[vs] == '\t'))
		vs++;
	ve = len;
	while (ve > vs && (ptr[ve - 1] == ' ' || ptr[ve - 1] == '\t'))
		ve--;
	h = realloc(r->headers, (r->nheaders + 1) * sizeof *h);
	if (h == NULL)
		return 0;
	r->headers = h;
	h[r->nheaders].name = strndup(ptr, nl);
	h[r->nheaders].value = strndup(ptr + vs, ve - vs);
	if (h[r->nheaders].name == NULL || h[r->nheaders].value == NULL) {
		free(h[r->nheaders].name);
		free(h[r->nheaders].value);
		return 0;
	}
	r->nheaders++;
	return n;
}

int
itest_http_ex(const struct itest_request *req, struct itest_response *resp,
    char *errbuf, size_t errbuf_len)
{
	char cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hl = NULL, *tmp;
	struct body_buf body = { 0 };
	const char *method = req->method ? req->method : "GET";
	const char *cacert = itest_env("IMGGEN_CACERT");
	char *url = itest_url(req->path);
	long timeout = req->timeout_ms > 0 ? req->timeout_ms :
	    ITEST_HTTP_TIMEOUT_MS;
	CURLcode rc;
	CURL *c;
	double t = 0;

	curl_global_once();
	memset(resp, 0, sizeof *resp);
	c = curl_easy_init();
	if (c == NULL) {
		free(url);
		cr_assert_fail("curl_easy_init failed");
	}

	/* Never add "Expect: 100-continue": the body goes at once. */
	tmp = curl_slist_append(hl, "Expect:");
	if (tmp == NULL)
		goto oom;
	hl = tmp;
	for (const char *const *h = req->headers; h != NULL && *h != NULL;
	    h++) {
		tmp = curl_slist_append(hl, *h);
		if (tmp == NULL)
			goto oom;
		hl = tmp;
	}

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_CAINFO, cacert);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    timeout < 10000 ? timeout : 10000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, NULL);

	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (req->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "POST") == 0) {
		/* POST without a body: Content-Length: 0. */
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)0);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}

	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &t);
	resp->elapsed_s = t;
	curl_easy_cleanup(c);
	curl_slist_free_all(hl);

	if (rc != CURLE_OK || body.overflow) {
		char msg[CURL_ERROR_SIZE + 512];

		snprintf(msg, sizeof msg, "%s %s: %s%s%s (after %.2f s)",
		    method, url, body.overflow ? "response body too large" :
		    curl_easy_strerror(rc), *cerr ? ": " : "", cerr, t);
		free(url);
		free(body.data);
		headers_clear(resp);
		memset(resp, 0, sizeof *resp);
		if (errbuf != NULL) {
			snprintf(errbuf, errbuf_len, "%s", msg);
			return -1;
		}
		cr_assert_fail("HTTP transport error: %s", msg);
	}
	free(url);
	if (body.data == NULL)
		body.data = xstrdup("");
	resp->body = body.data;
	resp->body_len = body.len;
	return 0;

oom:
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	free(url);
	cr_assert_fail("out of memory building the request");
	return -1;
}

void
itest_http(const struct itest_request *req, struct itest_response *resp)
{
	(void)itest_http_ex(req, resp, NULL, 0);
}

void
itest_call(const char *method, const char *path, const char *token,
    const char *body, struct itest_response *resp)
{
	const char *hdrs[3] = { NULL, NULL, NULL };
	char *auth = NULL;
	size_t n = 0;
	struct itest_request req = { 0 };

	if (token != NULL) {
		size_t len = strlen(token) + sizeof "Authorization: Bearer ";

		auth = xmalloc(len);
		snprintf(auth, len, "Authorization: Bearer %s", token);
		hdrs[n++] = auth;
	}
	if (body != NULL)
		hdrs[n++] = "Content-Type: application/json";
	req.method = method;
	req.path = path;
	req.headers = hdrs;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	itest_http(&req, resp);
	free(auth);
}

void
itest_response_free(struct itest_response *resp)
{
	if (resp == NULL)
		return;
	headers_clear(resp);
	free(resp->body);
	memset(resp, 0, sizeof *resp);
}

const char *
itest_header(const struct itest_response *resp, const char *name)
{
	const char *v = NULL;

	for (size_t i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			v = resp->headers[i].value;
	return v;
}

bool
itest_is_json_response(const struct itest_response *resp)
{
	const char *ct = itest_header(resp, "Content-Type");
	size_t n = strlen("application/json");

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

struct json_object *
itest_response_json(const struct itest_response *resp)
{
	struct json_object *o = itest_json_parse(resp->body, resp->body_len);

	if (o == NULL)
		cr_assert_fail("HTTP %ld response body is not JSON: %.*s",
		    resp->status, (int)(resp->body_len > 2000 ? 2000 :
		    resp->body_len), resp->body);
	return o;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */

/*
 * The lexical rules json-c's strict mode lets through: no raw control
 * characters inside strings, no single-quoted strings.
 */
static bool
json_lexically_strict(const char *text, size_t len)
{
	bool in_str = false, esc = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (in_str) {
			if (ch < 0x20)
				return false;
			if (esc)
				esc = false;
			else if (ch == '\\')
				esc = true;
			else if (ch == '"')
				in_str = false;
		} else if (ch == '"') {
			in_str = true;
		} else if (ch == '\'' || ch == '\0') {
			return false;
		}
	}
	return !in_str;
}

struct json_object *
itest_json_parse(const char *text, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t end;

	if (text == NULL || len == 0 || len > (size_t)INT32_MAX ||
	    !json_lexically_strict(text, len))
		return NULL;
	tok = json_tokener_new();
	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (o == NULL && json_tokener_get_error(tok) == json_tokener_continue) {
		/* All consumed, e.g. a bare number at the end: end it. */
		o = json_tokener_parse_ex(tok, " ", 1);
		end = len;
	}
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		json_tokener_free(tok);
		return NULL;
	}
	json_tokener_free(tok);
	for (; end < len; end++)
		if (!strchr(" \t\r\n", text[end]) || text[end] == '\0') {
			json_object_put(o);
			return NULL;
		}
	return o;
}

struct json_object *
itest_json(const char *text)
{
	struct json_object *o = itest_json_parse(text, strlen(text));

	if (o == NULL)
		cr_assert_fail("test bug: not JSON: %s", text);
	return o;
}

/* Walks PATH; *FOUND tells whether the last step existed. */
static struct json_object *
json_walk(struct json_object *root, const char *path, bool *found)
{
	struct json_object *cur = root;
	const char *p = path;

	*found = false;
	if (root == NULL)
		return NULL;
	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char key[256];

		if (n >= sizeof key || cur == NULL)
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		if (json_object_is_type(cur, json_type_object)) {
			if (!json_object_object_get_ex(cur, key, &cur))
				return NULL;
		} else if (json_object_is_type(cur, json_type_array)) {
			char *e;
			unsigned long i;

			errno = 0;
			i = strtoul(key, &e, 10);
			if (n == 0 || *e != '\0' || errno != 0 ||
			    !isdigit((unsigned char)key[0]) ||
			    i >= json_object_array_length(cur))
				return NULL;
			cur = json_object_array_get_idx(cur, i);
		} else {
			return NULL;
		}
		p += n;
		if (*p == '.')
			p++;
	}
	*found = true;
	return cur;
}

struct json_object *
itest_json_get(struct json_object *root, const char *path)
{
	bool found;

	return json_walk(root, path, &found);
}

bool
itest_json_has(struct json_object *root, const char *path)
{
	bool found;

	(void)json_walk(root, path, &found);
	return found;
}

bool
itest_json_is_null(struct json_object *root, const char *path)
{
	bool found;
	struct json_object *o = json_walk(root, path, &found);

	return found && o == NULL;
}

const char *
itest_json_str(struct json_object *root, const char *path)
{
	struct json_object *o = itest_json_get(root, path);

	if (o == NULL || !json_object_is_type(o, json_type_string))
		return NULL;
	return json_object_get_string(o);
}

bool
itest_json_int(struct json_object *root, const char *path, int64_t *out)
{
	struct json_object *o = itest_json_get(root, path);

	if (o == NULL || !json_object_is_type(o, json_type_int))
		return false;
	*out = json_object_get_int64(o);
	return true;
}

bool
itest_json_equal(struct json_object *a, struct json_object *b)
{
	return json_object_equal(a, b) != 0;
}

const char *
itest_json_text(struct json_object *obj)
{
	if (obj == NULL)
		return "null";
	return json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
}

bool
itest_is_uuid(const char *s)
{
	if (s == NULL || strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!strchr("0123456789abcdef", s[i]) || s[i] == '\0') {
			return false;
		}
	}
	return true;
}

bool
itest_is_utc_timestamp(const char *s)
{
	regex_t re;
	bool ok;

	if (s == NULL)
		return false;
	if (regcomp(&re, "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
	    "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?Z$",
	    REG_EXTENDED | REG_NOSUB) != 0)
		cr_assert_fail("regcomp failed");
	ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

/* ------------------------------------------------------------------ */
/* PostgreSQL                                                          */

static PGresult *
pg_vquery(const char *sql, va_list ap)
{
	const char *params[ITEST_MAX_PARAMS];
	int n = 0;
	const char *p;
	PGconn *conn;
	PGresult *res;
	ExecStatusType st;
	char msg[1024];

	while ((p = va_arg(ap, const char *)) != NULL) {
		if (n == ITEST_MAX_PARAMS)
			cr_assert_fail("test bug: too many SQL parameters");
		params[n++] = p;
	}
	conn = PQconnectdb(itest_env("DATABASE_URL"));
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		snprintf(msg, sizeof msg, "%s",
		    conn ? PQerrorMessage(conn) : "out of memory");
		PQfinish(conn);
		cr_assert_fail("cannot connect to DATABASE_URL: %s", msg);
	}
	res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		snprintf(msg, sizeof msg, "%s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		cr_assert_fail("query failed: %s\n  SQL: %s", msg, sql);
	}
	PQfinish(conn);
	return res;
}

PGresult *
itest_pg_query(const char *sql, ...)
{
	va_list ap;
	PGresult *res;

	va_start(ap, sql);
	res = pg_vquery(sql, ap);
	va_end(ap);
	return res;
}

/* Checks RES is one row, one column; fails the test otherwise. */
static void
pg_expect_single(PGresult *res, const char *sql)
{
	int rows = PQntuples(res), cols = PQnfields(res);

	if (rows != 1 || cols != 1) {
		PQclear(res);
		cr_assert_fail("expected one row and one column, got %d x %d"
		    "\n  SQL: %s", rows, cols, sql);
	}
}

long long
itest_pg_int(const char *sql, ...)
{
	va_list ap;
	PGresult *res;
	long long v;
	char *end;

	va_start(ap, sql);
	res = pg_vquery(sql, ap);
	va_end(ap);
	pg_expect_single(res, sql);
	if (PQgetisnull(res, 0, 0)) {
		PQclear(res);
		cr_assert_fail("expected an integer, got NULL\n  SQL: %s", sql);
	}
	errno = 0;
	v = strtoll(PQgetvalue(res, 0, 0), &end, 10);
	if (errno != 0 || *end != '\0' || end == PQgetvalue(res, 0, 0)) {
		char got[128];

		snprintf(got, sizeof got, "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		cr_assert_fail("expected an integer, got '%s'\n  SQL: %s",
		    got, sql);
	}
	PQclear(res);
	return v;
}

char *
itest_pg_text(const char *sql, ...)
{
	va_list ap;
	PGresult *res;
	char *v = NULL;

	va_start(ap, sql);
	res = pg_vquery(sql, ap);
	va_end(ap);
	pg_expect_single(res, sql);
	if (!PQgetisnull(res, 0, 0))
		v = xstrndup(PQgetvalue(res, 0, 0),
		    (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
	return v;
}

/* ------------------------------------------------------------------ */
/* Admin CLI                                                           */

void
itest_shell_quote(char *buf, size_t cap, const char *s)
{
	size_t n = strlen(buf);

#define PUT(ch) do {							\
		if (n + 1 >= cap)					\
			cr_assert_fail("test bug: command line too long"); \
		buf[n++] = (ch);					\
	} while (0)
	PUT('\'');
	for (; *s != '\0'; s++) {
		if (*s == '\'') {
			PUT('\'');
			PUT('\\');
			PUT('\'');
			PUT('\'');
		} else {
			PUT(*s);
		}
	}
	PUT('\'');
#undef PUT
	buf[n] = '\0';
}

/* "$IMGGEN_ADMIN" followed by the quoted ARGS (NULL-terminated). */
static void
admin_cmdline(char *buf, size_t cap, const char *const *args)
{
	buf[0] = '\0';
	itest_shell_quote(buf, cap, itest_env("IMGGEN_ADMIN"));
	for (; *args != NULL; args++) {
		if (strlen(buf) + 2 >= cap)
			cr_assert_fail("test bug: command line too long");
		snprintf(buf + strlen(buf), cap - strlen(buf), " ");
		itest_shell_quote(buf, cap, *args);
	}
}

static bool
exited_ok(int status)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

char *
itest_admin_read(const char *const *args)
{
	char cmd[2048], chunk[512];
	struct body_buf out = { 0 };
	size_t n;
	FILE *f;
	int st;

	admin_cmdline(cmd, sizeof cmd, args);
	fflush(NULL);
	f = popen(cmd, "r");
	if (f == NULL)
		cr_assert_fail("popen(%s): %s", cmd, strerror(errno));
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (on_body(chunk, 1, n, &out) != n) {
			pclose(f);
			free(out.data);
			cr_assert_fail("reading output of %s failed", cmd);
		}
	st = pclose(f);
	if (!exited_ok(st)) {
		char head[256];

		snprintf(head, sizeof head, "%s", out.data ? out.data : "");
		free(out.data);
		cr_assert_fail("%s failed (status %d); stdout: %s", cmd, st,
		    head);
	}
	return out.data ? out.data : xstrdup("");
}

static void
unique_email(char *buf, size_t cap, const char *prefix)
{
	static unsigned counter;
	unsigned rnd = 0;
	FILE *f = fopen("/dev/urandom", "rb");

	if (f == NULL || fread(&rnd, sizeof rnd, 1, f) != 1)
		rnd = (unsigned)itest_now_ms() ^ (unsigned)getpid() * 2654435761u;
	if (f != NULL)
		fclose(f);
	snprintf(buf, cap, "%s-%ld-%u-%08x@itest.invalid",
	    prefix ? prefix : "itest", (long)getpid(), ++counter, rnd);
}

char *
itest_token_create(const char *email)
{
	const char *args[] = { "token", "create", email, NULL };
	char *out = itest_admin_read(args), *s = out, *e;

	while (*s != '\0' && isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*e = '\0';
	for (const char *q = s; *q != '\0'; q++)
		if (isspace((unsigned char)*q) || !isprint((unsigned char)*q)) {
			char copy[256];

			snprintf(copy, sizeof copy, "%s", s);
			free(out);
			cr_assert_fail("imggen-admin token create %s printed "
			    "more than a secret: '%s'", email, copy);
		}
	if (*s == '\0') {
		free(out);
		cr_assert_fail("imggen-admin token create %s printed nothing",
		    email);
	}
	s = xstrdup(s);
	free(out);
	return s;
}

void
itest_token_revoke(const char *secret)
{
	const char *args[] = { "token", "revoke", "-", NULL };
	char cmd[2048];
	FILE *f;
	int st, wr;

	admin_cmdline(cmd, sizeof cmd, args);
	snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " >&2");
	fflush(NULL);
	f = popen(cmd, "w");
	if (f == NULL)
		cr_assert_fail("popen(%s): %s", cmd, strerror(errno));
	wr = fprintf(f, "%s\n", secret);
	st = pclose(f);
	if (wr < 0 || !exited_ok(st))
		cr_assert_fail("%s failed (status %d)", cmd, st);
}

void
itest_user_create(struct itest_user *user, const char *prefix)
{
	const char *args[] = { "user", "create", NULL, NULL };
	char *id;

	memset(user, 0, sizeof *user);
	unique_email(user->email, sizeof user->email, prefix);
	args[2] = user->email;
	free(itest_admin_read(args));
	user->token = itest_token_create(user->email);
	id = itest_pg_text("SELECT id::text FROM users WHERE email = $1",
	    user->email, NULL);
	if (id == NULL || strlen(id) >= sizeof user->id) {
		free(id);
		cr_assert_fail("no users row for %s", user->email);
	}
	snprintf(user->id, sizeof user->id, "%s", id);
	free(id);
}

void
itest_user_free(struct itest_user *user)
{
	if (user == NULL)
		return;
	free(user->token);
	user->token = NULL;
}

long long
itest_generation_count(const struct itest_user *user)
{
	return itest_pg_int("SELECT count(*) FROM image_generations "
	    "WHERE user_id = $1::uuid", user->id, NULL);
}

int
itest_run(const char *cmdline)
{
	char cmd[4096];
	int st;

	if (snprintf(cmd, sizeof cmd, "%s >&2", cmdline) >= (int)sizeof cmd)
		cr_assert_fail("test bug: command line too long");
	fflush(NULL);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* ------------------------------------------------------------------ */
/* Waiting                                                             */

void
itest_wait_until(itest_cond_fn fn, void *arg, long timeout_ms,
    const char *what)
{
	int64_t start = itest_now_ms();
	long interval = 20;
	const char *slow = getenv("IMGGEN_VALGRIND_SLOW");

	/*
	 * Under `make valgrind` the services run many times slower: the
	 * deadlines grow as stack.sh's start-up deadlines do.
	 */
	if (getenv("IMGGEN_VALGRIND") != NULL && *getenv("IMGGEN_VALGRIND"))
		timeout_ms *= slow != NULL && atol(slow) > 0 ? atol(slow) : 6;

	for (;;) {
		int64_t left;

		if (fn(arg))
			return;
		left = timeout_ms - (itest_now_ms() - start);
		if (left <= 0)
			cr_assert_fail("timed out after %ld ms waiting for %s",
			    timeout_ms, what);
		sleep_ms(interval < left ? interval : (long)left);
		if (interval < 250)
			interval = interval * 2 > 250 ? 250 : interval * 2;
	}
}

struct json_object *
itest_generate(const struct itest_user *user, const char *body, char *id)
{
	struct itest_response r;
	struct json_object *o;
	const char *gid;

	itest_call("POST", "/api/generate/text-to-image", user->token, body,
	    &r);
	if (r.status != 202) {
		char got[1024];
		long st = r.status;

		snprintf(got, sizeof got, "%s", r.body);
		itest_response_free(&r);
		cr_assert_fail("POST text-to-image %.300s: expected 202, got "
		    "%ld %s", body, st, got);
	}
	o = itest_response_json(&r);
	itest_response_free(&r);
	gid = itest_json_str(o, "generationId");
	cr_assert(itest_is_uuid(gid), "202 without a uuid generationId: %s",
	    itest_json_text(o));
	snprintf(id, 37, "%s", gid);	/* a checked 36-char uuid */
	return o;
}

struct json_object *
itest_get_generation(const struct itest_user *user, const char *id)
{
	struct itest_response r;
	struct json_object *o;
	char path[256];

	snprintf(path, sizeof path, "/api/generate/queue/%s", id);
	itest_call("GET", path, user->token, NULL, &r);
	if (r.status != 200) {
		char got[1024];
		long st = r.status;

		snprintf(got, sizeof got, "%s", r.body);
		itest_response_free(&r);
		cr_assert_fail("GET %s: expected 200, got %ld %s", path, st,
		    got);
	}
	o = itest_response_json(&r);
	itest_response_free(&r);
	return o;
}

struct wait_gen {
	const struct itest_user	*user;
	const char		*id;
	struct json_object	*last;
};

static bool
generation_terminal(void *arg)
{
	struct wait_gen *w = arg;
	const char *st;

	json_object_put(w->last);
	w->last = itest_get_generation(w->user, w->id);
	st = itest_json_str(w->last, "status");
	return st != NULL && (strcmp(st, "completed") == 0 ||
	    strcmp(st, "failed") == 0 || strcmp(st, "canceled") == 0);
}

struct json_object *
itest_wait_completed(const struct itest_user *user, const char *id,
    long timeout_ms)
{
	struct wait_gen w = { user, id, NULL };
	char what[128];
	const char *st;

	snprintf(what, sizeof what, "generation %s to complete", id);
	itest_wait_until(generation_terminal, &w, timeout_ms, what);
	st = itest_json_str(w.last, "status");
	if (strcmp(st, "completed") != 0) {
		char got[2048];

		snprintf(got, sizeof got, "%s", itest_json_text(w.last));
		json_object_put(w.last);
		cr_assert_fail("generation %s ended %s", id, got);
	}
	return w.last;
}

struct json_object *
itest_wait_terminal(const struct itest_user *user, const char *id,
    long timeout_ms)
{
	struct wait_gen w = { user, id, NULL };
	char what[128];

	snprintf(what, sizeof what, "generation %s to finish", id);
	itest_wait_until(generation_terminal, &w, timeout_ms, what);
	return w.last;
}
