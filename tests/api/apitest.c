/*
 * apitest.c - helpers of the API contract tests; see apitest.h.
 */
#include "apitest.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#define API_MAX_LINES	16
#define API_MAX_BODY	(8u * 1024u * 1024u)

/* ------------------------------------------------------------------ */
/* The test lock                                                       */

static int api_lock_fd = -1;

void
api_begin(bool exclusive)
{
	struct flock fl;
	char path[1024];

	itest_require_stack();
	(void)oa_spec();
	if (api_lock_fd != -1)
		return;
	snprintf(path, sizeof path, "%s/api-tests.lock",
	    itest_env("IMGGEN_STACK_DIR"));
	if ((api_lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC,
	    0644)) == -1)
		cr_assert_fail("open %s: %s", path, strerror(errno));
	memset(&fl, 0, sizeof fl);
	fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
	fl.l_whence = SEEK_SET;
	/* Record locks: released when this process ends, not inherited. */
	while (fcntl(api_lock_fd, F_SETLKW, &fl) == -1)
		if (errno != EINTR)
			cr_assert_fail("locking %s: %s", path, strerror(errno));
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */

/* The header lines of REQ; the ones built here are freed by lines_free. */
struct lines {
	const char	*v[API_MAX_LINES + 1];
	char		*owned[3];
	size_t		 n, nowned;
};

static char *
xprintf_line(const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 3;
	char *s = malloc(len);

	if (s == NULL)
		cr_assert_fail("out of memory");
	snprintf(s, len, "%s: %s", name, value);
	return s;
}

static void
lines_add(struct lines *l, const char *line)
{
	if (l->n == API_MAX_LINES)
		cr_assert_fail("test bug: too many header lines");
	l->v[l->n++] = line;
	l->v[l->n] = NULL;
}

static void
lines_build(const struct api_req *req, struct lines *l)
{
	memset(l, 0, sizeof *l);
	if (req->token != NULL) {
		size_t len = strlen(req->token) + sizeof "Bearer ";
		char *v = malloc(len);

		if (v == NULL)
			cr_assert_fail("out of memory");
		snprintf(v, len, "Bearer %s", req->token);
		l->owned[l->nowned] = xprintf_line("Authorization", v);
		free(v);
		lines_add(l, l->owned[l->nowned++]);
	}
	if (req->content_type != NULL && *req->content_type == '\0')
		lines_add(l, "Content-Type:");	/* curl would add its own */
	else if (req->content_type != NULL) {
		l->owned[l->nowned] = xprintf_line("Content-Type",
		    req->content_type);
		lines_add(l, l->owned[l->nowned++]);
	} else if (req->body != NULL)
		lines_add(l, "Content-Type: application/json");
	if (req->idempotency_key != NULL && *req->idempotency_key == '\0')
		lines_add(l, "Idempotency-Key;");	/* curl: empty value */
	else if (req->idempotency_key != NULL) {
		l->owned[l->nowned] = xprintf_line("Idempotency-Key",
		    req->idempotency_key);
		lines_add(l, l->owned[l->nowned++]);
	}
	for (const char *const *h = req->headers; h && *h; h++)
		lines_add(l, *h);
}

static void
lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->nowned; i++)
		free(l->owned[i]);
	memset(l, 0, sizeof *l);
}

/* Validates RES (the answer to REQ) and parses its body. */
static void
finish(const struct api_req *req, struct api_res *res)
{
	const char *method = req->method ? req->method : "GET";
	char err[4096];

	res->status = res->http.status;
	res->json = NULL;
	if (!oa_check_response(method, req->path, &res->http, err, sizeof err))
		cr_assert_fail("the answer does not match docs/openapi.yaml: "
		    "%s", err);
	if (res->http.body_len > 0 && strcmp(method, "HEAD") != 0 &&
	    itest_is_json_response(&res->http))
		res->json = itest_response_json(&res->http);
}

void
api_send(const struct api_req *req, struct api_res *out)
{
	struct itest_request r;
	struct lines l;

	memset(out, 0, sizeof *out);
	lines_build(req, &l);
	memset(&r, 0, sizeof r);
	r.method = req->method ? req->method : "GET";
	r.path = req->path;
	r.headers = l.v;
	r.body = req->body;
	r.body_len = req->body ? strlen(req->body) : 0;
	itest_http(&r, &out->http);
	lines_free(&l);
	finish(req, out);
}

void
api_do(struct api_res *out, const char *method, const char *path,
    const char *token, const char *body)
{
	struct api_req r = { 0 };

	r.method = method;
	r.path = path;
	r.token = token;
	r.body = body;
	api_send(&r, out);
}

void
api_res_free(struct api_res *res)
{
	json_object_put(res->json);
	itest_response_free(&res->http);
	memset(res, 0, sizeof *res);
}

const char *
api_hdr(const struct api_res *res, const char *name)
{
	return itest_header(&res->http, name);
}

/* ---- concurrent requests (libcurl multi) ---- */

struct slot {
	struct itest_response	*resp;
	char			*data;
	size_t			 len, cap;
	bool			 overflow;
	struct lines		 lines;
	struct curl_slist	*hl;
	char			*url;
};

static size_t
slot_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct slot *s = arg;
	size_t n = size * nmemb;
	char *p;

	if (s->len + n + 1 > API_MAX_BODY) {
		s->overflow = true;
		return 0;
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;

		while (cap < s->len + n + 1)
			cap *= 2;
		if ((p = realloc(s->data, cap)) == NULL)
			return 0;
		s->data = p;
		s->cap = cap;
	}
	memcpy(s->data + s->len, ptr, n);
	s->len += n;
	s->data[s->len] = '\0';
	return n;
}

static void
resp_headers_clear(struct itest_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	r->headers = NULL;
	r->nheaders = 0;
}

/* Same parsing as itest.c: the final response's header lines. */
static size_t
slot_header(char *ptr, size_t size, size_t nitems, void *arg)
{
	struct slot *s = arg;
	struct itest_response *r = s->resp;
	size_t n = size * nitems, len = n, nl, vs, ve;
	struct itest_header *h;
	const char *colon;

	while (len > 0 && (ptr[len - 1] == '\r' || ptr[len - 1] == '\n'))
		len--;
	if (len >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
		resp_headers_clear(r);
		return n;
	}
	if (len == 0 || (colon = memchr(ptr, ':', len)) == NULL)
		return n;
	nl = (size_t)(colon - ptr);
	vs = nl + 1;
	while (vs < len && (ptr[vs] == ' ' || ptr[vs] == '\t'))
		vs++;
	ve = len;
	while (ve > vs && (ptr[ve - 1] == ' ' || ptr[ve - 1] == '\t'))
		ve--;
	if ((h = realloc(r->headers, (r->nheaders + 1) * sizeof *h)) == NULL)
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

static void
curl_once(void)
{
	static bool done;

	if (done)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		cr_assert_fail("curl_global_init failed");
	atexit(curl_global_cleanup);
	done = true;
}

static CURL *
slot_easy(const struct api_req *req, struct slot *s)
{
	const char *method = req->method ? req->method : "GET";
	struct curl_slist *tmp;
	CURL *e;

	if ((e = curl_easy_init()) == NULL)
		cr_assert_fail("curl_easy_init failed");
	lines_build(req, &s->lines);
	if ((s->hl = curl_slist_append(NULL, "Expect:")) == NULL)
		cr_assert_fail("out of memory");
	for (size_t i = 0; i < s->lines.n; i++) {
		if ((tmp = curl_slist_append(s->hl, s->lines.v[i])) == NULL)
			cr_assert_fail("out of memory");
		s->hl = tmp;
	}
	s->url = itest_url(req->path);
	curl_easy_setopt(e, CURLOPT_URL, s->url);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CAINFO, itest_env("IMGGEN_CACERT"));
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	/* Wait for the one connection and multiplex on it: all at once. */
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ITEST_HTTP_TIMEOUT_MS * 2);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->hl);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, slot_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, slot_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(e, CURLOPT_PRIVATE, s);
	if (req->body != NULL) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(req->body));
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
	} else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	return e;
}

void
api_parallel(const struct api_req *reqs, size_t n, struct api_res *out)
{
	struct slot *slots;
	CURL **easy;
	CURLM *m;
	CURLMsg *msg;
	int running = 1, left;
	size_t i, done = 0;

	curl_once();
	if ((slots = calloc(n, sizeof *slots)) == NULL ||
	    (easy = calloc(n, sizeof *easy)) == NULL)
		cr_assert_fail("out of memory");
	if ((m = curl_multi_init()) == NULL)
		cr_assert_fail("curl_multi_init failed");
	curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof out[i]);
		slots[i].resp = &out[i].http;
		easy[i] = slot_easy(&reqs[i], &slots[i]);
		if (curl_multi_add_handle(m, easy[i]) != CURLM_OK)
			cr_assert_fail("curl_multi_add_handle failed");
	}
	while (running) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			cr_assert_fail("curl_multi_perform failed");
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct slot *s = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&s);
			if (msg->data.result != CURLE_OK || s->overflow)
				cr_assert_fail("concurrent request %zu of %zu "
				    "(%s): %s", (size_t)(s - slots) + 1, n,
				    s->url, s->overflow ? "body too large" :
				    curl_easy_strerror(msg->data.result));
			curl_easy_getinfo(msg->easy_handle,
			    CURLINFO_RESPONSE_CODE, &s->resp->status);
			done++;
		}
		if (running && curl_multi_poll(m, NULL, 0, 1000, NULL) !=
		    CURLM_OK)
			cr_assert_fail("curl_multi_poll failed");
	}
	if (done != n)
		cr_assert_fail("only %zu of %zu concurrent requests finished",
		    done, n);
	for (i = 0; i < n; i++) {
		curl_multi_remove_handle(m, easy[i]);
		curl_easy_cleanup(easy[i]);
		curl_slist_free_all(slots[i].hl);
		lines_free(&slots[i].lines);
		free(slots[i].url);
		out[i].http.body = slots[i].data ? slots[i].data : strdup("");
		out[i].http.body_len = slots[i].len;
		if (out[i].http.body == NULL)
			cr_assert_fail("out of memory");
	}
	curl_multi_cleanup(m);
	free(easy);
	free(slots);
	for (i = 0; i < n; i++)
		finish(&reqs[i], &out[i]);
}

/* ---- assertions and shorthands ---- */

void
api_expect_error(const struct api_res *res, long status, const char *code,
    const char *field)
{
	const char *got_code, *got_field, *rid, *hrid;

	cr_assert_eq(res->status, status, "expected %ld %s, got %ld: %s",
	    status, code, res->status, res->http.body);
	got_code = itest_json_str(res->json, "error.code");
	cr_assert(got_code != NULL && strcmp(got_code, code) == 0,
	    "expected code %s, got %s", code, res->http.body);
	got_field = itest_json_str(res->json, "error.field");
	if (field == NULL)
		cr_assert(!itest_json_has(res->json, "error.field"),
		    "expected no field: %s", res->http.body);
	else
		cr_assert(got_field != NULL && strcmp(got_field, field) == 0,
		    "expected field %s: %s", field, res->http.body);
	rid = itest_json_str(res->json, "error.requestId");
	hrid = api_hdr(res, "X-Request-Id");
	cr_assert(rid != NULL && hrid != NULL && strcmp(rid, hrid) == 0,
	    "requestId %s differs from X-Request-Id %s", rid ? rid : "-",
	    hrid ? hrid : "-");
}

void
api_create(const char *token, const char *body, const char *key,
    char id[40])
{
	struct api_req req = { 0 };
	struct api_res res;
	const char *gid;

	req.method = "POST";
	req.path = API_GEN_PATH;
	req.token = token;
	req.body = body;
	req.idempotency_key = key;
	api_send(&req, &res);
	cr_assert_eq(res.status, 202, "POST %s: expected 202, got %ld %s",
	    body, res.status, res.http.body);
	gid = itest_json_str(res.json, "generationId");
	snprintf(id, 40, "%s", gid);
	api_res_free(&res);
}

struct json_object *
api_get_doc(const char *token, const char *id)
{
	struct api_res res;
	struct json_object *doc;
	char path[256];

	snprintf(path, sizeof path, API_QUEUE_PATH "/%s", id);
	api_do(&res, "GET", path, token, NULL);
	cr_assert_eq(res.status, 200, "GET %s: expected 200, got %ld %s",
	    path, res.status, res.http.body);
	doc = json_object_get(res.json);
	api_res_free(&res);
	return doc;
}

struct wait_arg {
	const char		*token, *id;
	struct json_object	*last;
};

static bool
is_terminal(const char *st)
{
	return st != NULL && (strcmp(st, "completed") == 0 ||
	    strcmp(st, "failed") == 0 || strcmp(st, "canceled") == 0);
}

static bool
wait_cond(void *arg)
{
	struct wait_arg *w = arg;

	json_object_put(w->last);
	w->last = api_get_doc(w->token, w->id);
	return is_terminal(itest_json_str(w->last, "status"));
}

struct json_object *
api_wait_terminal(const char *token, const char *id, const char *want)
{
	struct wait_arg w = { token, id, NULL };
	char what[128];
	const char *st;

	snprintf(what, sizeof what, "generation %s to finish", id);
	itest_wait_until(wait_cond, &w, API_DONE_MS, what);
	st = itest_json_str(w.last, "status");
	if (want != NULL && strcmp(st, want) != 0) {
		char got[2048];

		snprintf(got, sizeof got, "%s", itest_json_text(w.last));
		json_object_put(w.last);
		cr_assert_fail("generation %s ended %s, expected %s", id, got,
		    want);
	}
	return w.last;
}

void
api_user_limits(const struct itest_user *user, int max_pending,
    int daily_image_quota)
{
	char mp[16], dq[16];

	snprintf(mp, sizeof mp, "%d", max_pending);
	snprintf(dq, sizeof dq, "%d", daily_image_quota);
	PQclear(itest_pg_query("UPDATE users SET max_pending = $2::int, "
	    "daily_image_quota = $3::int WHERE id = $1::uuid", user->id, mp, dq,
	    NULL));
}

/* ------------------------------------------------------------------ */
/* Pausing the worker                                                  */

static void close_inherited(int);

/* The process state letter from /proc/PID/stat ('\0' if gone). */
static char
proc_state(pid_t pid, pid_t *ppid)
{
	char path[64], buf[1024], *p;
	size_t n;
	FILE *f;
	long pp = 0;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return '\0';
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return '\0';
	if (ppid != NULL) {
		pp = strtol(p + 4, NULL, 10);
		*ppid = (pid_t)pp;
	}
	return p[2];
}

/* The children of PARENT (at most MAX). */
static size_t
proc_children(pid_t parent, pid_t *out, size_t max)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		pid_t pid, pp = 0;
		char *end;
		long v = strtol(de->d_name, &end, 10);

		if (*de->d_name == '\0' || *end != '\0' || v <= 0)
			continue;
		pid = (pid_t)v;
		if (proc_state(pid, &pp) != '\0' && pp == parent)
			out[n++] = pid;
	}
	closedir(d);
	return n;
}

static pid_t
worker_pid(void)
{
	char path[1024], buf[64], cmd[256];
	size_t n;
	FILE *f;
	long v;
	char *end;

	snprintf(path, sizeof path, "%s/run/worker.pid",
	    itest_env("IMGGEN_STACK_DIR"));
	if ((f = fopen(path, "r")) == NULL)
		cr_assert_fail("cannot read %s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	v = strtol(buf, &end, 10);
	if (v <= 1 || (*end != '\0' && *end != '\n'))
		cr_assert_fail("%s does not hold a pid: %s", path, buf);
	snprintf(path, sizeof path, "/proc/%ld/cmdline", v);
	if ((f = fopen(path, "r")) == NULL)
		cr_assert_fail("the worker (pid %ld) is not running", v);
	n = fread(cmd, 1, sizeof cmd - 1, f);
	fclose(f);
	cmd[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	if (strstr(cmd, "imggen-worker") == NULL)
		cr_assert_fail("pid %ld is not imggen-worker: %s", v, cmd);
	return (pid_t)v;
}

/* SIGCONT to the supervisor's children, then to the supervisor. */
static void
resume_tree(pid_t sup)
{
	pid_t kids[64];
	size_t n = proc_children(sup, kids, 64), i;

	for (i = 0; i < n; i++)
		kill(kids[i], SIGCONT);
	kill(sup, SIGCONT);
}

struct stopped_arg {
	pid_t	 pid;
};

static bool
is_stopped(void *arg)
{
	const struct stopped_arg *s = arg;
	char st = proc_state(s->pid, NULL);

	return st == 'T' || st == 't' || st == '\0';
}

static void
stop_and_wait(pid_t pid)
{
	struct stopped_arg a = { pid };
	char what[64];

	if (kill(pid, SIGSTOP) == -1 && errno != ESRCH)
		cr_assert_fail("kill(%ld, SIGSTOP): %s", (long)pid,
		    strerror(errno));
	snprintf(what, sizeof what, "worker process %ld to stop", (long)pid);
	itest_wait_until(is_stopped, &a, 10000, what);
}

void
api_worker_pause(struct api_pause *p)
{
	pid_t kids[64], pid;
	int fds[2];
	size_t n, i;

	memset(p, 0, sizeof *p);
	p->supervisor = worker_pid();
	if (pipe(fds) == -1)
		cr_assert_fail("pipe: %s", strerror(errno));
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	fflush(NULL);
	if ((pid = fork()) == -1)
		cr_assert_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		/* The watchdog: wait for EOF (or 5 minutes), then resume. */
		struct pollfd pfd = { fds[0], POLLIN, 0 };

		close_inherited(fds[0]);
		while (poll(&pfd, 1, 300000) == -1 && errno == EINTR)
			;
		resume_tree(p->supervisor);
		_exit(0);
	}
	close(fds[0]);
	p->watchdog = pid;
	p->wfd = fds[1];
	p->active = true;
	stop_and_wait(p->supervisor);
	n = proc_children(p->supervisor, kids, 64);
	for (i = 0; i < n; i++)
		stop_and_wait(kids[i]);
}

void
api_worker_resume(struct api_pause *p)
{
	int st;

	if (!p->active)
		return;
	p->active = false;
	resume_tree(p->supervisor);
	close(p->wfd);
	while (waitpid(p->watchdog, &st, 0) == -1 && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ */
/* Guards                                                              */

/* In a forked child: keep only stdio and KEEP. */
static void
close_inherited(int keep)
{
	long fd, maxfd = sysconf(_SC_OPEN_MAX);

	if (maxfd < 0 || maxfd > 4096)
		maxfd = 4096;
	for (fd = 3; fd < maxfd; fd++)
		if (fd != keep)
			close((int)fd);
}

void
api_guard_arm(struct api_guard *g, const char *cmd)
{
	int fds[2];
	pid_t pid;

	memset(g, 0, sizeof *g);
	if (pipe(fds) == -1)
		cr_assert_fail("pipe: %s", strerror(errno));
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	fflush(NULL);
	if ((pid = fork()) == -1)
		cr_assert_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		char c;
		ssize_t n;

		close_inherited(fds[0]);
		while ((n = read(fds[0], &c, 1)) == -1 && errno == EINTR)
			;
		if (n == 1)		/* disarmed */
			_exit(0);
		fprintf(stderr, "test-api: the test died; running: %s\n", cmd);
		_exit(system(cmd) == 0 ? 0 : 1);
	}
	close(fds[0]);
	g->pid = pid;
	g->wfd = fds[1];
	g->active = true;
}

void
api_guard_disarm(struct api_guard *g)
{
	int st;

	if (!g->active)
		return;
	g->active = false;
	while (write(g->wfd, "x", 1) == -1 && errno == EINTR)
		;
	close(g->wfd);
	while (waitpid(g->pid, &st, 0) == -1 && errno == EINTR)
		;
}

void
api_stack_cmd(char *buf, size_t cap, const char *verb)
{
	snprintf(buf, cap, "scripts/stack.sh %s ", verb);
	itest_shell_quote(buf, cap, itest_env("IMGGEN_STACK_DIR"));
}
