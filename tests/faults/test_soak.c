/*
 * test_soak.c - the long run behind `make soak` (not part of make test).
 *
 * SOAK_GENERATIONS (default 2000) generations of 1-4 images, each with a
 * unique prompt and a provider delay of 0.5-3 s ([[slow:MS]] on the openai
 * stand-in, so that many jobs are in flight at any time), are submitted
 * through the API at a steady rate over SOAK_MINUTES (default 10) minutes
 * of chaos, served by two worker supervisors (2 children each, lease 5 s,
 * every failpoint armed at 1%):
 *   - a random worker child is SIGKILLed every SOAK_KILL_EVERY_MS (default
 *     3000, +-50%); every fifth time a whole supervisor with its children
 *     is SIGKILLed instead (a lost host) and a new one started;
 *   - PostgreSQL is stopped for 3 s twice (at 30% and 65% of the run);
 *     503s are retried after their Retry-After;
 *   - storage is cut once for 5 s (at 45%): the fs root's generations/
 *     directory is replaced by a plain file, so every write fails.
 * Then clean workers drain the queue and the test prints
 *   lost        accepted (202) but not completed
 *   duplicated  a prompt with more than one generation, a generation with
 *               more uploads rows than images or more than one
 *               "generation completed" log line
 *   orphaned    files without an uploads row, temporary files, rows
 *               without their file
 * and the time to recover from each fault (for a kill: until every job the
 * killed process held was completed; for the database: until the API
 * accepted again and until the next completion; for storage: until the
 * next completion).  All three counts must be 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <libpq-fe.h>

#include "faults.h"

#define NSUP		2
#define MAX_FAULTS	2048

enum fault_kind { F_CHILD, F_HOST, F_PG, F_STORAGE };

struct fault {
	enum fault_kind	 kind;
	double		 at;		/* wall clock, seconds */
	double		 restored;	/* PG / storage: back at */
	char		*held;		/* "{uuid,...}": jobs the victim held */
	double		 api_back;	/* PG: first 202 after the restart */
};

struct sub {
	char	 id[40];
	int	 n;
	int	 accepted;
	int	 completions;
};

static struct sub	*subs;
static int		 nsubs;
static struct fault	 faults[MAX_FAULTS];
static int		 nfaults;
static struct ft_worker	 sup[NSUP];
static int		 sup_gen[NSUP];
static char		 logs[256][512];
static int		 nlogs;
static bool		 pg_down, storage_cut;
static char		 gen_dir[1024], cut_dir[1024];

static double
wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? atol(v) : def;
}

static void
restore_storage(void)
{
	if (!storage_cut)
		return;
	unlink(gen_dir);
	cr_assert_eq(rename(cut_dir, gen_dir), 0, "cannot restore %s", gen_dir);
	storage_cut = false;
}

static void
soak_fini(void)
{
	if (storage_cut)
		restore_storage();
	if (pg_down) {
		pg_down = false;
		ft_stack("pg-start");
	}
	ft_fini();
}

static void
start_sup(int k, bool chaos)
{
	static const char *const base[] = {
		"IMGGEN_PROVIDER=openai", "IMGGEN_STORAGE=fs",
		"IMGGEN_WORKER_PROCESSES=2", "IMGGEN_WORKER_CONCURRENCY=16",
		"IMGGEN_LEASE_SECONDS=5", "IMGGEN_POLL_INTERVAL_MS=200",
		"IMGGEN_RETRY_BASE_MS=200", NULL
	};
	const char *env[16];
	char name[64];
	int i = 0;

	for (; base[i] != NULL; i++)
		env[i] = base[i];
	env[i++] = chaos ? "IMGGEN_FAILPOINTS=after_claim=kill:0.01,"
	    "after_generate=kill:0.01,mid_upload=kill:0.01,"
	    "after_upload=kill:0.01" : "IMGGEN_FAILPOINTS=";
	env[i] = NULL;
	snprintf(name, sizeof name, "soak-%d-%d%s", k, sup_gen[k]++,
	    chaos ? "" : "-clean");
	ft_worker_start(&sup[k], name, NULL, env);
	if (nlogs < 256)
		snprintf(logs[nlogs++], 512, "%s", sup[k].log);
}

/* The generations that running jobs of worker ids matching PAT held. */
static char *
held_by(const char *pat)
{
	char *s = itest_pg_text("SELECT coalesce(array_agg(generation_id)::text, "
	    "'{}') FROM jobs WHERE state = 'running' AND locked_by LIKE $1",
	    pat, NULL);

	return s;
}

static struct fault *
new_fault(enum fault_kind kind)
{
	struct fault *f;

	cr_assert(nfaults < MAX_FAULTS, "too many faults");
	f = &faults[nfaults++];
	memset(f, 0, sizeof *f);
	f->kind = kind;
	f->at = wall();
	return f;
}

static void
kill_child(void)
{
	int k = (int)ft_rand(NSUP);
	pid_t kids[FT_MAX_CHILDREN];
	int n = ft_worker_children(&sup[k], kids, FT_MAX_CHILDREN);
	pid_t victim;
	char pat[64];
	struct fault *f;

	if (n == 0)
		return;
	victim = kids[ft_rand((unsigned)n)];
	if (kill(victim, SIGKILL) != 0)
		return;
	f = new_fault(F_CHILD);
	snprintf(pat, sizeof pat, "%%:%ld:%%", (long)victim);
	f->held = held_by(pat);
}

static void
kill_host(void)
{
	int k = (int)ft_rand(NSUP);
	pid_t kids[FT_MAX_CHILDREN];
	int n = ft_worker_children(&sup[k], kids, FT_MAX_CHILDREN);
	struct fault *f;
	char pat[64], *all = NULL;

	ft_worker_kill(&sup[k]);
	f = new_fault(F_HOST);
	for (int i = 0; i < n; i++) {
		char *h;

		snprintf(pat, sizeof pat, "%%:%ld:%%", (long)kids[i]);
		h = held_by(pat);
		if (all == NULL)
			all = h;
		else {
			char *m = itest_pg_text("SELECT ($1::uuid[] || "
			    "$2::uuid[])::text", all, h, NULL);

			free(all);
			free(h);
			all = m;
		}
	}
	f->held = all ? all : strdup("{}");
	start_sup(k, true);
}

static void
post(const struct itest_user *u, int i, int64_t *retry_at)
{
	char body[512], id[40], ra[64], err[600];
	long st;
	int n = 1 + i % 4;

	snprintf(body, sizeof body, "{\"prompt\":\"soak %.8s %d "
	    "[[slow:%d]]\",\"numberOfImages\":%d,\"aspectRatio\":\"1:1\"}",
	    u->id, i, 500 + (int)ft_rand(2500), n);
	st = ft_try_generate(u, body, id, ra, err, sizeof err);
	if (st == 202) {
		snprintf(subs[i].id, sizeof subs[i].id, "%s", id);
		subs[i].n = n;
		subs[i].accepted = 1;
		*retry_at = 0;
		for (int k = nfaults - 1; k >= 0; k--)
			if (faults[k].kind == F_PG && faults[k].restored > 0 &&
			    faults[k].api_back == 0)
				faults[k].api_back = wall();
		return;
	}
	cr_assert(st == 503 || st == 0, "POST %d answered %ld: %s", i, st, err);
	/* 503: retry after Retry-After; a transport error: after 1 s. */
	*retry_at = itest_now_ms() + (ra[0] ? atol(ra) * 1000 : 1000);
}

static void
count_completions(struct json_object *line, void *arg)
{
	const char *msg = itest_json_str(line, "msg");
	const char *gid = itest_json_str(line, "generation_id");

	(void)arg;
	if (msg == NULL || gid == NULL ||
	    strncmp(msg, "generation completed", 20) != 0)
		return;
	for (int i = 0; i < nsubs; i++)
		if (subs[i].accepted && strcmp(subs[i].id, gid) == 0) {
			subs[i].completions++;
			return;
		}
}

static double
pg_epoch(const char *sql, const char *a)
{
	char v[64];

	ft_pg_str(v, sizeof v, sql, a, NULL);
	return v[0] ? atof(v) : 0;
}

static void
stat3(const double *v, int n, double *med, double *max)
{
	double *c = malloc(sizeof *c * (size_t)(n ? n : 1));

	*med = *max = 0;
	if (c == NULL || n == 0) {
		free(c);
		return;
	}
	memcpy(c, v, sizeof *c * (size_t)n);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && c[j - 1] > c[j]; j--) {
			double t = c[j];

			c[j] = c[j - 1];
			c[j - 1] = t;
		}
	*med = c[n / 2];
	*max = c[n - 1];
	free(c);
}

Test(soak, generations_under_chaos_nothing_lost_doubled_or_orphaned,
    .fini = soak_fini, .timeout = 14400)
{
	struct itest_user u;
	long minutes = env_long("SOAK_MINUTES", 10);
	long kill_every = env_long("SOAK_KILL_EVERY_MS", 3000);
	int64_t t0, end, next_post, next_kill, retry_at = 0, pg_at[2],
	    pg_up_at = 0, cut_at, restore_at = 0;
	int next = 0, kills = 0, pg_done = 0, n503 = 0;
	long lost = 0, dup = 0, orphans = 0;
	double every_ms;

	itest_require_stack();
	nsubs = (int)env_long("SOAK_GENERATIONS", 2000);
	cr_assert(nsubs >= 10 && minutes >= 1, "SOAK_GENERATIONS >= 10, "
	    "SOAK_MINUTES >= 1");
	subs = calloc((size_t)nsubs, sizeof *subs);
	cr_assert(subs != NULL);
	ft_user(&u, "soak");
	snprintf(gen_dir, sizeof gen_dir, "%s/generations",
	    itest_env("IMGGEN_FS_ROOT"));
	snprintf(cut_dir, sizeof cut_dir, "%s/generations.cut",
	    itest_env("IMGGEN_FS_ROOT"));
	for (int k = 0; k < NSUP; k++)
		start_sup(k, true);

	t0 = itest_now_ms();
	end = t0 + minutes * 60000;
	every_ms = (double)(end - t0) * 0.85 / nsubs;
	pg_at[0] = t0 + (end - t0) * 30 / 100;
	pg_at[1] = t0 + (end - t0) * 65 / 100;
	cut_at = t0 + (end - t0) * 45 / 100;
	next_post = t0;
	next_kill = t0 + kill_every / 2 + ft_rand((unsigned)kill_every);
	fprintf(stderr, "soak: %d generations over %ld min, a kill every ~%ld "
	    "ms, 2 database restarts, 1 storage cut\n", nsubs, minutes,
	    kill_every);

	while (itest_now_ms() < end || next < nsubs) {
		int64_t now = itest_now_ms();

		if (next < nsubs && now >= next_post && now >= retry_at && !pg_down) {
			post(&u, next, &retry_at);
			if (subs[next].accepted)
				next++;
			else
				n503++;
			next_post += (int64_t)every_ms;
		} else if (next < nsubs && pg_down && now >= next_post &&
		    now >= retry_at) {
			/* Clients keep posting during the outage. */
			post(&u, next, &retry_at);
			if (subs[next].accepted)
				next++;
			else
				n503++;
		}
		if (now < end && now >= next_kill && !pg_down) {
			if (++kills % 5 == 0)
				kill_host();
			else
				kill_child();
			next_kill = now + kill_every / 2 +
			    ft_rand((unsigned)kill_every);
		}
		if (pg_done < 2 && !pg_down && now >= pg_at[pg_done]) {
			struct fault *f = new_fault(F_PG);

			(void)f;
			pg_down = true;
			ft_stack("pg-stop");
			pg_up_at = itest_now_ms() + 3000;
		}
		if (pg_down && now >= pg_up_at) {
			ft_stack("pg-start");
			pg_down = false;
			for (int k = nfaults - 1; k >= 0; k--)
				if (faults[k].kind == F_PG && faults[k].restored == 0) {
					faults[k].restored = wall();
					break;
				}
			pg_done++;
		}
		if (!storage_cut && restore_at == 0 && now >= cut_at && !pg_down) {
			FILE *f;

			new_fault(F_STORAGE);
			cr_assert_eq(rename(gen_dir, cut_dir), 0, "cut storage");
			storage_cut = true;
			f = fopen(gen_dir, "w");
			cr_assert(f != NULL, "cannot create %s", gen_dir);
			fclose(f);
			restore_at = now + 5000;
		}
		if (storage_cut && now >= restore_at) {
			restore_storage();
			for (int k = nfaults - 1; k >= 0; k--)
				if (faults[k].kind == F_STORAGE) {
					faults[k].restored = wall();
					break;
				}
		}
		ft_pause_ms(5);
	}

	/* Clean workers drain what is left. */
	for (int k = 0; k < NSUP; k++) {
		ft_worker_kill(&sup[k]);
		start_sup(k, false);
	}
	ft_wait_user_terminal(&u, 900000);
	for (int k = 0; k < NSUP; k++)
		ft_worker_stop(&sup[k], 60000);

	/* Lost, duplicated, orphaned. */
	for (int k = 0; k < nlogs; k++)
		ft_log_each(logs[k], count_completions, NULL);
	for (int i = 0; i < nsubs; i++) {
		char st[32], cnt[16];

		if (!subs[i].accepted) {
			lost++;
			continue;
		}
		ft_pg_str(st, sizeof st, "SELECT coalesce((SELECT status FROM "
		    "image_generations WHERE id = $1::uuid), 'missing')",
		    subs[i].id, NULL);
		if (strcmp(st, "completed") != 0) {
			fprintf(stderr, "soak: LOST %s: %s\n", subs[i].id, st);
			lost++;
			continue;
		}
		ft_pg_str(cnt, sizeof cnt, "SELECT count(*) FROM uploads WHERE "
		    "generation_id = $1::uuid", subs[i].id, NULL);
		if (atoi(cnt) != subs[i].n || subs[i].completions > 1) {
			fprintf(stderr, "soak: DUPLICATED/INCOMPLETE %s: %s rows "
			    "for %d images, %d completion lines\n", subs[i].id,
			    cnt, subs[i].n, subs[i].completions);
			dup++;
		}
	}
	dup += itest_pg_int("SELECT count(*) FROM (SELECT prompt FROM "
	    "image_generations WHERE user_id = $1::uuid GROUP BY prompt HAVING "
	    "count(*) > 1) x", u.id, NULL);
	{
		struct ft_fs_report rep;

		ft_fs_diff(&u, &rep);
		orphans = rep.orphans + rep.temporary + rep.missing;
		if (orphans > 0)
			fprintf(stderr, "soak: storage problems:%s\n", rep.problems);
	}

	/* Recovery times. */
	{
		double child[MAX_FAULTS], host[MAX_FAULTS], med, max;
		int nc = 0, nh = 0, k;

		for (k = 0; k < nfaults; k++) {
			struct fault *f = &faults[k];
			double done;

			if (f->kind != F_CHILD && f->kind != F_HOST)
				continue;
			done = pg_epoch("SELECT extract(epoch FROM max(completed_at)) "
			    "FROM image_generations WHERE id = ANY($1::uuid[])",
			    f->held);
			if (done == 0)
				continue;	/* held nothing */
			if (f->kind == F_CHILD)
				child[nc++] = done - f->at;
			else
				host[nh++] = done - f->at;
		}
		fprintf(stderr, "\nsoak: ==== summary ====\n");
		fprintf(stderr, "soak: %d generations accepted, %d POSTs answered "
		    "503 and retried, %.0f s in all\n", next, n503,
		    (double)ft_since(t0) / 1000.0);
		stat3(child, nc, &med, &max);
		fprintf(stderr, "soak: worker child kills: %d (%d holding jobs): "
		    "their jobs completed after median %.1f s, max %.1f s\n",
		    kills - kills / 5, nc, med, max);
		stat3(host, nh, &med, &max);
		fprintf(stderr, "soak: whole-worker (host) kills: %d (%d holding "
		    "jobs): their jobs completed after median %.1f s, max %.1f "
		    "s\n", kills / 5, nh, med, max);
		for (k = 0; k < nfaults; k++) {
			struct fault *f = &faults[k];
			char at[32];
			double next_done;

			if (f->kind != F_PG && f->kind != F_STORAGE)
				continue;
			snprintf(at, sizeof at, "%.3f", f->restored);
			next_done = pg_epoch("SELECT extract(epoch FROM "
			    "min(completed_at)) FROM image_generations WHERE "
			    "completed_at > to_timestamp($1::float8)", at);
			if (f->kind == F_PG)
				fprintf(stderr, "soak: database restart: down %.1f s; "
				    "API accepting %.1f s and next completion %.1f s "
				    "after it was back\n", f->restored - f->at,
				    f->api_back > 0 ? f->api_back - f->restored :
				    -1.0, next_done > 0 ? next_done - f->restored :
				    -1.0);
			else
				fprintf(stderr, "soak: storage cut: %.1f s; next "
				    "completion %.1f s after it was back\n",
				    f->restored - f->at, next_done > 0 ?
				    next_done - f->restored : -1.0);
		}
		fprintf(stderr, "soak: lost %ld, duplicated %ld, orphaned %ld\n",
		    lost, dup, orphans);
	}
	cr_assert_eq(lost, 0, "lost generations");
	cr_assert_eq(dup, 0, "duplicated generations");
	ft_assert_fs_matches_uploads(&u);
	cr_assert_eq(orphans, 0, "orphaned files");
	free(subs);
	itest_user_free(&u);
}
