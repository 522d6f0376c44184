/*
 * faults.c - helpers for imggen's fault-injection tests; see faults.h.
 */
#include "faults.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <libpq-fe.h>

#include "crypto.h"

#define FT_MAX_WORKERS	32
#define FT_MAX_USERS	16

/* What ft_fini() cleans up (per test process: Criterion forks per test). */
static pid_t	ft_workers[FT_MAX_WORKERS];
static int	ft_nworkers;
static char	ft_users[FT_MAX_USERS][40];
static int	ft_nusers;

/* ------------------------------------------------------------------ */
/* Small utilities                                                     */

long
ft_since(int64_t t0)
{
	return (long)(itest_now_ms() - t0);
}

void
ft_pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

unsigned
ft_rand(unsigned n)
{
	static uint64_t s;

	if (s == 0) {
		FILE *f = fopen("/dev/urandom", "rb");

		if (f == NULL || fread(&s, sizeof s, 1, f) != 1)
			s = (uint64_t)itest_now_ms() * 6364136223846793005ULL ^
			    (uint64_t)getpid();
		if (f != NULL)
			fclose(f);
		if (s == 0)
			s = 88172645463325252ULL;
	}
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return n ? (unsigned)(s % n) : 0;
}

int
ft_url_port(const char *url)
{
	const char *p = strstr(url, "://");
	const char *c;

	cr_assert(p != NULL, "not a URL: %s", url);
	p += 3;
	c = strchr(p, ':');
	cr_assert(c != NULL, "no port in %s", url);
	return atoi(c + 1);
}

void
ft_env_file_get(const char *path, const char *key, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t lcap = 0, klen = strlen(key);
	ssize_t n;
	bool found = false;

	cr_assert(f != NULL, "cannot open %s: %s", path, strerror(errno));
	while (!found && (n = getline(&line, &lcap, f)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			snprintf(out, cap, "%s", line + klen + 1);
			found = true;
		}
	}
	free(line);
	fclose(f);
	cr_assert(found, "%s has no %s", path, key);
}

static void
ft_vsh_cmd(char *cmd, size_t cap, const char *fmt, va_list ap)
{
	int n = vsnprintf(cmd, cap, fmt, ap);

	cr_assert(n >= 0 && (size_t)n < cap, "test bug: command too long");
}

int
ft_sh_status(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	ft_vsh_cmd(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	st = itest_run(cmd);
	return st;
}

void
ft_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	ft_vsh_cmd(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	st = itest_run(cmd);
	cr_assert_eq(st, 0, "command failed (status %d): %s", st, cmd);
}

void
ft_stack(const char *verb)
{
	char cmd[2048];

	snprintf(cmd, sizeof cmd, "scripts/stack.sh %s ", verb);
	itest_shell_quote(cmd, sizeof cmd, itest_env("IMGGEN_STACK_DIR"));
	cr_assert_eq(itest_run(cmd), 0, "%s failed", cmd);
}

void
ft_sha256_hex(const void *data, size_t len, char hex[65])
{
	uint8_t h[CRYPTO_SHA256_LEN];

	crypto_sha256(data, len, h);
	crypto_hex(h, sizeof h, hex);
}

bool
ft_sha256_file(const char *path, char hex[65], long long *size)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return false;
	for (;;) {
		if (len == cap) {
			char *p;

			cap = cap ? cap * 2 : 1 << 16;
			if ((p = realloc(data, cap)) == NULL) {
				free(data);
				fclose(f);
				cr_assert_fail("out of memory");
			}
			data = p;
		}
		n = fread(data + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	ft_sha256_hex(data ? data : "", len, hex);
	free(data);
	*size = (long long)len;
	return true;
}

int
ft_tcp_established_to(int port, int *local_ports, int max)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	int n = 0;

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		FILE *f = fopen(files[i], "r");
		char line[512], la[64], ra[64];
		unsigned lp, rp, st;

		if (f == NULL)
			continue;
		while (fgets(line, sizeof line, f) != NULL) {
			if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %63[0-9A-Fa-f]:%x "
			    "%x", la, &lp, ra, &rp, &st) != 5)
				continue;
			if (st != 1 || (int)rp != port)
				continue;
			if (n < max)
				local_ports[n] = (int)lp;
			n++;
		}
		fclose(f);
	}
	return n < max ? n : max;
}

/* ------------------------------------------------------------------ */
/* Workers                                                             */

static void
ft_register_worker(pid_t pid)
{
	char path[1024];
	FILE *f;

	if (ft_nworkers < FT_MAX_WORKERS)
		ft_workers[ft_nworkers++] = pid;
	/* For scripts/test-faults.sh: kill these groups if the test dies. */
	snprintf(path, sizeof path, "%s/run/faults-pgids",
	    itest_env("IMGGEN_STACK_DIR"));
	if ((f = fopen(path, "a")) != NULL) {
		fprintf(f, "%ld\n", (long)pid);
		fclose(f);
	}
}

static void
ft_unregister_worker(pid_t pid)
{
	for (int i = 0; i < ft_nworkers; i++)
		if (ft_workers[i] == pid)
			ft_workers[i] = 0;
}

static void
ft_tail(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	long sz;
	size_t n;

	out[0] = '\0';
	if (f == NULL)
		return;
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, sz > (long)cap - 1 ? sz - (long)cap + 1 : 0, SEEK_SET);
	n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
}

void
ft_worker_start(struct ft_worker *w, const char *name,
    const char *const *prefix, const char *const *env)
{
	char worker[1024];
	const char *argv[32];
	int argc = 0, fd;
	pid_t pid;
	int64_t t0;

	memset(w, 0, sizeof *w);
	snprintf(w->name, sizeof w->name, "%s", name);
	snprintf(w->log, sizeof w->log, "%s/log/faults-%s.log",
	    itest_env("IMGGEN_STACK_DIR"), name);
	snprintf(worker, sizeof worker, "%s/imggen-worker",
	    itest_env("IMGGEN_BIN"));
	(void)itest_env("IMGGEN_CONFIG");
	for (; prefix != NULL && *prefix != NULL && argc < 24; prefix++)
		argv[argc++] = *prefix;
	argv[argc++] = worker;
	argv[argc] = NULL;
	fd = open(w->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
	    0644);
	cr_assert(fd >= 0, "cannot create %s: %s", w->log, strerror(errno));
	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		long maxfd = sysconf(_SC_OPEN_MAX);
		int nul = open("/dev/null", O_RDONLY);

		setsid();
		if (nul >= 0)
			dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		/* Criterion's pipes must not stay open in the worker. */
		if (maxfd < 0 || maxfd > 65536)
			maxfd = 65536;
		for (long i = 3; i < maxfd; i++)
			close((int)i);
		unsetenv("IMGGEN_FAILPOINTS");
		for (; env != NULL && *env != NULL; env++) {
			const char *eq = strchr(*env, '=');
			char key[128];

			if (eq == NULL || (size_t)(eq - *env) >= sizeof key)
				_exit(126);
			memcpy(key, *env, (size_t)(eq - *env));
			key[eq - *env] = '\0';
			setenv(key, eq + 1, 1);
		}
		execvp(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(fd);
	w->pid = pid;
	ft_register_worker(pid);
	/* The supervisor logs "starting" once its configuration is loaded. */
	t0 = itest_now_ms();
	while (ft_log_count(w->log, "starting ", "worker child", NULL) == 0) {
		if (!ft_worker_alive(w) || ft_since(t0) > 15000) {
			char tail[2048];

			ft_tail(w->log, tail, sizeof tail);
			cr_assert_fail("worker %s did not start (status %d):\n%s",
			    name, w->status, tail);
		}
		ft_pause_ms(20);
	}
}

int
ft_worker_children(const struct ft_worker *w, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	cr_assert(d != NULL, "opendir /proc: %s", strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char path[300], buf[1024], *rp;
		long ppid;
		char state;
		FILE *f;
		size_t len;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = '\0';
		if ((rp = strrchr(buf, ')')) == NULL ||
		    sscanf(rp + 1, " %c %ld", &state, &ppid) != 2)
			continue;
		if (ppid != (long)w->pid || state == 'Z' || state == 'X')
			continue;
		if (n < max)
			out[n] = (pid_t)atol(de->d_name);
		n++;
	}
	closedir(d);
	return n < max ? n : max;
}

void
ft_worker_wait_children(const struct ft_worker *w, int n, pid_t *out,
    long timeout_ms)
{
	pid_t tmp[FT_MAX_CHILDREN];
	int64_t t0 = itest_now_ms();
	int got;

	for (;;) {
		got = ft_worker_children(w, out ? out : tmp, n);
		if (got >= n)
			return;
		cr_assert(ft_since(t0) < timeout_ms, "worker %s: %d of %d "
		    "children after %ld ms", w->name, got, n, timeout_ms);
		ft_pause_ms(20);
	}
}

bool
ft_worker_alive(struct ft_worker *w)
{
	pid_t r;

	if (w->reaped)
		return false;
	r = waitpid(w->pid, &w->status, WNOHANG);
	if (r == w->pid || (r == -1 && errno == ECHILD)) {
		w->reaped = true;
		ft_unregister_worker(w->pid);
		return false;
	}
	return true;
}

long
ft_worker_stop(struct ft_worker *w, long timeout_ms)
{
	int64_t t0 = itest_now_ms();

	if (!ft_worker_alive(w))
		return 0;
	kill(w->pid, SIGTERM);
	while (ft_worker_alive(w)) {
		cr_assert(ft_since(t0) < timeout_ms, "worker %s did not exit "
		    "within %ld ms of SIGTERM", w->name, timeout_ms);
		ft_pause_ms(10);
	}
	return ft_since(t0);
}

void
ft_worker_signal(const struct ft_worker *w, int sig)
{
	if (!w->reaped)
		kill(-w->pid, sig);
}

void
ft_worker_kill(struct ft_worker *w)
{
	if (w->reaped)
		return;
	kill(-w->pid, SIGKILL);
	kill(-w->pid, SIGCONT);
	if (waitpid(w->pid, &w->status, 0) == w->pid || errno == ECHILD)
		w->reaped = true;
	ft_unregister_worker(w->pid);
}

/* ------------------------------------------------------------------ */
/* Logs                                                                */

long
ft_log_count(const char *path, ...)
{
	const char *subs[8];
	int nsubs = 0;
	va_list ap;
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	long n = 0;

	va_start(ap, path);
	for (const char *s; (s = va_arg(ap, const char *)) != NULL && nsubs < 8;)
		subs[nsubs++] = s;
	va_end(ap);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		int i;

		for (i = 0; i < nsubs && strstr(line, subs[i]) != NULL; i++)
			;
		if (i == nsubs)
			n++;
	}
	free(line);
	fclose(f);
	return n;
}

void
ft_log_wait(const char *path, const char *s1, const char *s2, long n,
    long timeout_ms)
{
	int64_t t0 = itest_now_ms();
	long got;

	for (;;) {
		got = s2 ? ft_log_count(path, s1, s2, NULL) :
		    ft_log_count(path, s1, NULL);
		if (got >= n)
			return;
		if (ft_since(t0) >= timeout_ms) {
			char tail[3000];

			ft_tail(path, tail, sizeof tail);
			cr_assert_fail("timed out after %ld ms waiting for %ld "
			    "line(s) with \"%s\"%s%s%s in %s (have %ld); its "
			    "end:\n%s", timeout_ms, n, s1, s2 ? " and \"" : "",
			    s2 ? s2 : "", s2 ? "\"" : "", path, got, tail);
		}
		ft_pause_ms(50);
	}
}

void
ft_log_each(const char *path, void (*fn)(struct json_object *, void *),
    void *arg)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		return;
	while ((n = getline(&line, &cap, f)) > 0) {
		struct json_object *o;

		if (line[0] != '{')
			continue;
		if ((o = itest_json_parse(line, (size_t)n)) == NULL)
			continue;
		if (json_object_is_type(o, json_type_object))
			fn(o, arg);
		json_object_put(o);
	}
	free(line);
	fclose(f);
}

/* ------------------------------------------------------------------ */
/* Fini                                                                */

void
ft_fini(void)
{
	for (int i = 0; i < ft_nworkers; i++) {
		pid_t pid = ft_workers[i];

		if (pid <= 0)
			continue;
		kill(-pid, SIGKILL);
		kill(-pid, SIGCONT);
		waitpid(pid, NULL, 0);
		ft_workers[i] = 0;
	}
	ft_nworkers = 0;
	for (int i = 0; i < ft_nusers; i++) {
		PGresult *r = itest_pg_query("DELETE FROM image_generations "
		    "WHERE user_id = $1::uuid", ft_users[i], NULL);

		PQclear(r);
	}
	ft_nusers = 0;
}

/* ------------------------------------------------------------------ */
/* Users, submissions, database                                        */

void
ft_user(struct itest_user *u, const char *prefix)
{
	PGresult *r;

	itest_user_create(u, prefix);
	r = itest_pg_query("UPDATE users SET max_pending = 1000000, "
	    "daily_image_quota = 100000000 WHERE id = $1::uuid", u->id, NULL);
	PQclear(r);
	if (ft_nusers < FT_MAX_USERS)
		snprintf(ft_users[ft_nusers++], sizeof ft_users[0], "%s",
		    u->id);
}

long
ft_try_generate(const struct itest_user *u, const char *body, char *id,
    char *retry_after, char *err, size_t errlen)
{
	char auth[512];
	const char *hdrs[] = { auth, "Content-Type: application/json", NULL };
	struct itest_request req = { 0 };
	struct itest_response r;
	long status;

	snprintf(auth, sizeof auth, "Authorization: Bearer %s", u->token);
	req.method = "POST";
	req.path = "/api/generate/text-to-image";
	req.headers = hdrs;
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = 15000;
	if (retry_after != NULL)
		retry_after[0] = '\0';
	if (id != NULL)
		id[0] = '\0';
	if (itest_http_ex(&req, &r, err, errlen) != 0)
		return 0;
	status = r.status;
	if (retry_after != NULL && itest_header(&r, "Retry-After") != NULL)
		snprintf(retry_after, 64, "%s", itest_header(&r, "Retry-After"));
	if (status == 202 && id != NULL) {
		struct json_object *o = itest_json_parse(r.body, r.body_len);
		const char *gid = itest_json_str(o, "generationId");

		if (gid != NULL && itest_is_uuid(gid))
			snprintf(id, 40, "%s", gid);
		json_object_put(o);
		if (id[0] == '\0') {
			snprintf(err, errlen, "202 without a generationId: "
			    "%.300s", r.body);
			status = -202;
		}
	} else if (status != 202)
		snprintf(err, errlen, "%.500s", r.body);
	itest_response_free(&r);
	return status;
}

void
ft_pg_str(char *out, size_t cap, const char *sql, ...)
{
	const char *params[16];
	int n = 0;
	va_list ap;
	PGresult *r;

	va_start(ap, sql);
	for (const char *p; (p = va_arg(ap, const char *)) != NULL && n < 16;)
		params[n++] = p;
	va_end(ap);
	/* itest_pg_query is variadic too: pass the parameters on. */
	switch (n) {
	case 0: r = itest_pg_query(sql, NULL); break;
	case 1: r = itest_pg_query(sql, params[0], NULL); break;
	case 2: r = itest_pg_query(sql, params[0], params[1], NULL); break;
	case 3: r = itest_pg_query(sql, params[0], params[1], params[2],
	    NULL); break;
	default:
		cr_assert_fail("test bug: ft_pg_str takes at most 3 "
		    "parameters");
	}
	cr_assert(PQntuples(r) == 1 && PQnfields(r) == 1, "expected one "
	    "value, got %d rows\n  SQL: %s", PQntuples(r), sql);
	snprintf(out, cap, "%s", PQgetisnull(r, 0, 0) ? "" :
	    PQgetvalue(r, 0, 0));
	PQclear(r);
}

/* ------------------------------------------------------------------ */
/* End-state checks                                                    */

void
ft_assert_completed(const struct itest_user *u, const char *id, int n,
    bool fs)
{
	PGresult *g, *up;
	struct json_object *ids, *want;
	char prefix[256];
	const char *root = fs ? itest_env("IMGGEN_FS_ROOT") : NULL;

	g = itest_pg_query("SELECT status, coalesce(ai_metadata->'imageIds', "
	    "'null')::text, (SELECT count(*) FROM jobs j WHERE "
	    "j.generation_id = g.id), coalesce(error_code, ''), attempts "
	    "FROM image_generations g WHERE id = $1::uuid AND user_id = "
	    "$2::uuid", id, u->id, NULL);
	cr_assert_eq(PQntuples(g), 1, "generation %s: no row", id);
	cr_assert_str_eq(PQgetvalue(g, 0, 0), "completed", "generation %s: "
	    "status %s (error %s, attempts %s), expected completed", id,
	    PQgetvalue(g, 0, 0), PQgetvalue(g, 0, 3), PQgetvalue(g, 0, 4));
	cr_assert_str_eq(PQgetvalue(g, 0, 2), "0", "generation %s is "
	    "completed but still has %s job row(s)", id, PQgetvalue(g, 0, 2));
	ids = itest_json_parse(PQgetvalue(g, 0, 1),
	    (size_t)PQgetlength(g, 0, 1));
	cr_assert(ids != NULL && json_object_is_type(ids, json_type_array),
	    "generation %s: ai_metadata.imageIds is %s", id,
	    PQgetvalue(g, 0, 1));
	up = itest_pg_query("SELECT id::text, idx, storage_key, purpose, size, "
	    "sha256, user_id::text FROM uploads WHERE generation_id = $1::uuid "
	    "ORDER BY idx", id, NULL);
	cr_assert_eq(PQntuples(up), n, "generation %s: %d uploads rows, "
	    "expected numberOfImages = %d", id, PQntuples(up), n);
	want = json_object_new_array();
	snprintf(prefix, sizeof prefix, "generations/%s/%s/", u->id, id);
	for (int i = 0; i < n; i++) {
		char idx[16];

		snprintf(idx, sizeof idx, "%d", i);
		json_object_array_add(want,
		    json_object_new_string(PQgetvalue(up, i, 0)));
		cr_assert_str_eq(PQgetvalue(up, i, 1), idx, "generation %s: "
		    "uploads idx %s where %d was expected", id,
		    PQgetvalue(up, i, 1), i);
		cr_assert_str_eq(PQgetvalue(up, i, 3), "generation_output",
		    "generation %s: upload purpose %s", id,
		    PQgetvalue(up, i, 3));
		cr_assert_str_eq(PQgetvalue(up, i, 6), u->id, "generation %s: "
		    "upload of another user", id);
		cr_assert(strncmp(PQgetvalue(up, i, 2), prefix,
		    strlen(prefix)) == 0 && strncmp(PQgetvalue(up, i, 2) +
		    strlen(prefix), idx, strlen(idx)) == 0 &&
		    PQgetvalue(up, i, 2)[strlen(prefix) + strlen(idx)] == '.',
		    "generation %s: storage key %s is not %s%s.<ext>", id,
		    PQgetvalue(up, i, 2), prefix, idx);
		if (fs) {
			char path[2048], hex[65];
			long long size = -1;

			snprintf(path, sizeof path, "%s/%s", root,
			    PQgetvalue(up, i, 2));
			cr_assert(ft_sha256_file(path, hex, &size), "generation "
			    "%s: the stored file %s is missing", id, path);
			cr_assert_str_eq(hex, PQgetvalue(up, i, 5), "generation "
			    "%s: %s does not hold the bytes its uploads row "
			    "describes (sha256 %s, row %s)", id, path, hex,
			    PQgetvalue(up, i, 5));
			cr_assert_eq(size, atoll(PQgetvalue(up, i, 4)),
			    "generation %s: %s is %lld bytes, the row says %s",
			    id, path, size, PQgetvalue(up, i, 4));
		}
	}
	cr_assert(itest_json_equal(ids, want), "generation %s: "
	    "ai_metadata.imageIds %s != uploads ids %s", id,
	    itest_json_text(ids), itest_json_text(want));
	json_object_put(ids);
	json_object_put(want);
	PQclear(up);
	PQclear(g);
}

struct ft_names {
	char	**v;
	size_t	  n, cap;
};

static void
ft_names_add(struct ft_names *s, const char *name)
{
	if (s->n == s->cap) {
		char **p;

		s->cap = s->cap ? s->cap * 2 : 256;
		p = realloc(s->v, s->cap * sizeof *p);
		cr_assert(p != NULL, "out of memory");
		s->v = p;
	}
	s->v[s->n] = strdup(name);
	cr_assert(s->v[s->n] != NULL, "out of memory");
	s->n++;
}

static void
ft_names_free(struct ft_names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

static int
ft_strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file below ROOT/REL, as paths relative to ROOT. */
static void
ft_walk(const char *root, const char *rel, struct ft_names *out)
{
	char path[4096];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	if ((d = opendir(path)) == NULL) {
		cr_assert(errno == ENOENT, "opendir %s: %s", path,
		    strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char sub[4096], full[8192];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof sub, "%s/%s", rel, de->d_name);
		snprintf(full, sizeof full, "%s/%s", root, sub);
		if (lstat(full, &st) == -1)
			continue;
		if (S_ISDIR(st.st_mode))
			ft_walk(root, sub, out);
		else
			ft_names_add(out, sub);
	}
	closedir(d);
}

long
ft_fs_diff(const struct itest_user *u, struct ft_fs_report *rep)
{
	struct ft_names files = { 0 }, keys = { 0 };
	char rel[256];
	size_t i = 0, j = 0;
	PGresult *r;
	long n;

	memset(rep, 0, sizeof *rep);
	snprintf(rel, sizeof rel, "generations/%s", u->id);
	ft_walk(itest_env("IMGGEN_FS_ROOT"), rel, &files);
	r = itest_pg_query("SELECT storage_key FROM uploads WHERE user_id = "
	    "$1::uuid", u->id, NULL);
	for (int k = 0; k < PQntuples(r); k++)
		ft_names_add(&keys, PQgetvalue(r, k, 0));
	PQclear(r);
	if (files.n > 1)
		qsort(files.v, files.n, sizeof *files.v, ft_strcmp_p);
	if (keys.n > 1)
		qsort(keys.v, keys.n, sizeof *keys.v, ft_strcmp_p);
	while (i < files.n || j < keys.n) {
		int c = i == files.n ? 1 : j == keys.n ? -1 :
		    strcmp(files.v[i], keys.v[j]);
		size_t len = strlen(rep->problems);
		const char *what;

		if (c == 0) {
			i++;
			j++;
			continue;
		}
		if (c > 0) {
			what = "uploads row without its file:";
			rep->missing++;
		} else if (strstr(files.v[i], ".tmp.") != NULL) {
			what = "temporary file left:";
			rep->temporary++;
		} else {
			what = "orphan file (no uploads row):";
			rep->orphans++;
		}
		if (len + 300 < sizeof rep->problems)
			snprintf(rep->problems + len, sizeof rep->problems - len,
			    "\n  %s %s", what, c < 0 ? files.v[i] : keys.v[j]);
		if (c < 0)
			i++;
		else
			j++;
	}
	n = (long)files.n;
	ft_names_free(&files);
	ft_names_free(&keys);
	return n;
}

long
ft_assert_fs_matches_uploads(const struct itest_user *u)
{
	struct ft_fs_report rep;
	long n = ft_fs_diff(u, &rep);

	cr_assert(rep.orphans + rep.temporary + rep.missing == 0, "storage of "
	    "user %s does not match its uploads rows (%ld orphan(s), %ld "
	    "temporary file(s), %ld missing file(s)):%s", u->id, rep.orphans,
	    rep.temporary, rep.missing, rep.problems);
	return n;
}

struct ft_pending {
	const char	*user;
	long long	 left;
};

static bool
ft_user_done(void *arg)
{
	struct ft_pending *p = arg;

	p->left = itest_pg_int("SELECT count(*) FROM image_generations WHERE "
	    "user_id = $1::uuid AND status NOT IN ('completed', 'failed', "
	    "'canceled')", p->user, NULL);
	return p->left == 0;
}

void
ft_wait_user_terminal(const struct itest_user *u, long timeout_ms)
{
	struct ft_pending p = { u->id, -1 };
	int64_t t0 = itest_now_ms();

	while (!ft_user_done(&p)) {
		if (ft_since(t0) >= timeout_ms) {
			char states[512];

			ft_pg_str(states, sizeof states, "SELECT string_agg("
			    "s, ', ') FROM (SELECT g.status || '/' || "
			    "coalesce(j.state, '-') || ' x' || count(*) AS s "
			    "FROM image_generations g LEFT JOIN jobs j ON "
			    "j.generation_id = g.id WHERE g.user_id = $1::uuid "
			    "GROUP BY g.status, j.state) x", u->id, NULL);
			cr_assert_fail("timed out after %ld ms: %lld generation(s) "
			    "not finished (generation/job states: %s)",
			    timeout_ms, p.left, states);
		}
		ft_pause_ms(200);
	}
}

/* ------------------------------------------------------------------ */
/* Admin CLI, cancel, stand-in                                         */

int
ft_admin(char *out, size_t cap, const char *fmt, ...)
{
	char args[2048], cmd[4096] = "";
	va_list ap;
	FILE *f;
	size_t n = 0, r;
	int st;

	va_start(ap, fmt);
	ft_vsh_cmd(args, sizeof args, fmt, ap);
	va_end(ap);
	itest_shell_quote(cmd, sizeof cmd, itest_env("IMGGEN_ADMIN"));
	cr_assert(strlen(cmd) + strlen(args) + 8 < sizeof cmd, "command too "
	    "long");
	snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %s 2>&1", args);
	fflush(NULL);
	f = popen(cmd, "r");
	cr_assert(f != NULL, "popen %s: %s", cmd, strerror(errno));
	out[0] = '\0';
	while (n + 1 < cap && (r = fread(out + n, 1, cap - n - 1, f)) > 0)
		n += r;
	out[n] = '\0';
	while (fread(args, 1, sizeof args, f) > 0)
		;
	st = pclose(f);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

long
ft_cancel(const struct itest_user *u, const char *id,
    struct json_object **body)
{
	char path[256];
	struct itest_response r;
	long status;

	snprintf(path, sizeof path, "/api/generate/queue/%s/cancel", id);
	itest_call("POST", path, u->token, NULL, &r);
	status = r.status;
	*body = itest_json_parse(r.body, r.body_len);
	itest_response_free(&r);
	return status;
}

long
ft_standin_calls(const char *prompt)
{
	char url[512];
	struct itest_request req = { 0 };
	struct itest_response resp;
	struct json_object *stats, *prompts, *v;
	long n = 0;

	snprintf(url, sizeof url, "%s/_stats", itest_env("FAULTS_STANDIN_URL"));
	req.method = "GET";
	req.path = url;
	itest_http(&req, &resp);
	cr_assert_eq(resp.status, 200, "GET %s: %ld", url, resp.status);
	stats = itest_response_json(&resp);
	itest_response_free(&resp);
	prompts = itest_json_get(stats, "prompts.openai");
	if (prompts != NULL && json_object_object_get_ex(prompts, prompt, &v))
		n = (long)json_object_get_int64(v);
	json_object_put(stats);
	return n;
}
