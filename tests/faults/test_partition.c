/*
 * test_partition.c - a worker cut off from the database by a network
 * partition: its lease expires, another worker completes the job, and
 * when the link returns the first worker's late write is refused.
 *
 * The test makes a network namespace with a veth pair (10.231.X.1 on the
 * host side, 10.231.X.2 inside; X from the test's pid), lets the stack's
 * PostgreSQL also listen on 10.231.X.1 (ALTER SYSTEM listen_addresses,
 * a pg_hba.conf line for the subnet, restart), and runs a worker inside
 * the namespace that reaches the database only over that link
 * (IMGGEN_FAILPOINTS=after_upload=sleep:15000: it stalls after storing
 * the images, before recording them).  Then:
 *   1. the partitioned worker claims the generation and stores its files;
 *   2. the link goes down;
 *   3. a normal worker (unix socket, no failpoints) rescues the job once
 *      the lease has expired and completes it;
 *   4. the partitioned worker wakes and sends its completion, which
 *      hangs in the dead link (bytes stuck in its socket's send queue);
 *   5. the link comes back: the completion reaches PostgreSQL and is
 *      refused by the fence ("not recorded: the job's lease was lost").
 * Exactly one completion, the rows and files of the rescuer untouched.
 * Everything (namespace, veth, PostgreSQL settings) is undone in fini;
 * scripts/test-faults.sh removes a namespace left by a killed test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <libpq-fe.h>

#include "faults.h"

static char	ns[64], veth_host[16], veth_ns[16], host_ip[32], subnet[32];
static bool	net_made, pg_listening;
static char	hba[1024], hba_orig[1024];

static void
copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out;
	char buf[8192];
	size_t n;

	cr_assert(in != NULL, "open %s: %s", from, strerror(errno));
	out = fopen(to, "wb");
	cr_assert(out != NULL, "create %s: %s", to, strerror(errno));
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		cr_assert_eq(fwrite(buf, 1, n, out), n, "write %s", to);
	fclose(in);
	cr_assert_eq(fclose(out), 0, "close %s", to);
}

static void
net_teardown(void)
{
	if (pg_listening) {
		PGresult *r;

		pg_listening = false;
		r = itest_pg_query("ALTER SYSTEM RESET listen_addresses", NULL);
		PQclear(r);
		copy_file(hba_orig, hba);
		ft_stack("pg-stop");
		ft_stack("pg-start");
	}
	if (net_made) {
		net_made = false;
		(void)ft_sh_status("ip link del %s 2>/dev/null", veth_host);
		(void)ft_sh_status("ip netns del %s", ns);
	}
}

static void
partition_fini(void)
{
	ft_fini();		/* the workers first: they hold connections */
	net_teardown();
}

static void
net_setup(void)
{
	const char *stack = itest_env("IMGGEN_STACK_DIR");
	char path[1024];
	FILE *f;
	PGresult *r;
	int x = (int)(getpid() % 200) + 20;

	/* A /24 no interface uses yet. */
	for (int tries = 0; ; tries++) {
		cr_assert(tries < 50, "no free 10.231.X.0/24 subnet");
		if (ft_sh_status("ip -o -4 addr show | grep -q ' 10\\.231\\.%d\\.'",
		    x) != 0)
			break;
		x = x % 250 + 1;
	}
	snprintf(ns, sizeof ns, "imggen-ft-%ld", (long)getpid());
	snprintf(veth_host, sizeof veth_host, "igf%ldh", (long)getpid() % 10000000);
	snprintf(veth_ns, sizeof veth_ns, "igf%ldn", (long)getpid() % 10000000);
	snprintf(host_ip, sizeof host_ip, "10.231.%d.1", x);
	snprintf(subnet, sizeof subnet, "10.231.%d.0/24", x);

	snprintf(path, sizeof path, "%s/run/faults-netns", stack);
	if ((f = fopen(path, "a")) != NULL) {
		fprintf(f, "%s %s\n", ns, veth_host);
		fclose(f);
	}
	net_made = true;
	ft_sh("ip netns add %s", ns);
	ft_sh("ip link add %s type veth peer name %s", veth_host, veth_ns);
	ft_sh("ip link set %s netns %s", veth_ns, ns);
	ft_sh("ip addr add %s/24 dev %s", host_ip, veth_host);
	ft_sh("ip link set %s up", veth_host);
	ft_sh("ip netns exec %s ip addr add 10.231.%d.2/24 dev %s", ns, x,
	    veth_ns);
	ft_sh("ip netns exec %s ip link set %s up", ns, veth_ns);
	ft_sh("ip netns exec %s ip link set lo up", ns);

	/* PostgreSQL also on the host side of the link, trusting the subnet. */
	snprintf(hba, sizeof hba, "%s/pg/data/pg_hba.conf", stack);
	snprintf(hba_orig, sizeof hba_orig, "%s/run/pg_hba.conf.faults-orig",
	    stack);
	copy_file(hba, hba_orig);
	pg_listening = true;
	f = fopen(hba, "a");
	cr_assert(f != NULL, "open %s: %s", hba, strerror(errno));
	fprintf(f, "host imggen postgres %s trust\n", subnet);
	cr_assert_eq(fclose(f), 0);
	{
		char sql[128];

		snprintf(sql, sizeof sql, "ALTER SYSTEM SET listen_addresses = "
		    "'%s'", host_ip);
		r = itest_pg_query(sql, NULL);
		PQclear(r);
	}
	ft_stack("pg-stop");
	ft_stack("pg-start");
	ft_sh("ip netns exec %s psql -XAtq 'postgresql://postgres@%s/imggen?"
	    "connect_timeout=3' -c 'SELECT 1' -o /dev/null", ns, host_ip);
}

/*
 * Bytes written but not acknowledged on PID's TCP connections to PORT
 * (its own network namespace's /proc/PID/net/tcp).
 */
static long
unacked_to(pid_t pid, int port)
{
	char path[64], line[512];
	FILE *f;
	long sum = 0;

	snprintf(path, sizeof path, "/proc/%ld/net/tcp", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned rp, st;
		unsigned long tx, rx;

		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%*x %*[0-9A-Fa-f]:%x %x "
		    "%lx:%lx", &rp, &st, &tx, &rx) == 4 && (int)rp == port)
			sum += (long)tx;
	}
	fclose(f);
	return sum;
}

static bool
files_stored(const char *user, const char *gen, int n)
{
	for (int i = 0; i < n; i++) {
		char path[1024];
		struct stat st;

		snprintf(path, sizeof path, "%s/generations/%s/%s/%d.png",
		    itest_env("IMGGEN_FS_ROOT"), user, gen, i);
		if (stat(path, &st) == -1)
			return false;
	}
	return true;
}

struct late_arg {
	const char	*log;
	const char	*id;
};

static bool
late_write_refused(void *arg)
{
	struct late_arg *a = arg;

	return ft_log_count(a->log, a->id, "not recorded", NULL) +
	    ft_log_count(a->log, a->id, "lease lost", NULL) > 0;
}

Test(partition, late_writes_of_a_partitioned_worker_are_refused,
    .fini = partition_fini, .timeout = 300)
{
	struct itest_user u;
	struct ft_worker wp, wn;
	char db[256], id[40], body[256], kid[32], state[256], locked_by[160];
	char completed_at[64], ids_before[512], ids_after[512], attempts[16];
	const char *prefix[] = { "ip", "netns", "exec", ns, NULL };
	const char *penv[12], *nenv[8];
	pid_t child;
	int64_t t_stall, t_down, t_done, t_stuck, t_up;
	long stuck = 0;
	struct late_arg la;

	itest_require_stack();
	cr_assert_eq(geteuid(), 0, "the partition test makes a network "
	    "namespace and a veth pair (ip netns, ip link): it must run as "
	    "root");
	net_setup();
	ft_user(&u, "partition");

	snprintf(db, sizeof db, "DATABASE_URL=postgresql://postgres@%s/imggen",
	    host_ip);
	penv[0] = db;
	penv[1] = "IMGGEN_PROVIDER=local";
	penv[2] = "IMGGEN_STORAGE=fs";
	penv[3] = "IMGGEN_FAILPOINTS=after_upload=sleep:15000";
	penv[4] = "IMGGEN_LEASE_SECONDS=5";
	penv[5] = "IMGGEN_WORKER_PROCESSES=1";
	penv[6] = "IMGGEN_WORKER_CONCURRENCY=1";
	penv[7] = "IMGGEN_POLL_INTERVAL_MS=200";
	penv[8] = NULL;
	ft_worker_start(&wp, "partitioned", prefix, penv);
	ft_worker_wait_children(&wp, 1, &child, 10000);
	ft_log_wait(wp.log, "ready as", NULL, 1, 20000);

	/* 1. The partitioned worker takes the job and stores the images. */
	snprintf(body, sizeof body, "{\"prompt\":\"partition %.8s\","
	    "\"numberOfImages\":2,\"aspectRatio\":\"1:1\"}", u.id);
	json_object_put(itest_generate(&u, body, id));
	snprintf(kid, sizeof kid, ":%ld:", (long)child);
	for (int64_t t0 = itest_now_ms(); ; ) {
		ft_pg_str(locked_by, sizeof locked_by, "SELECT coalesce((SELECT "
		    "locked_by FROM jobs WHERE generation_id = $1::uuid AND state "
		    "= 'running'), '')", id, NULL);
		if (strstr(locked_by, kid) != NULL && files_stored(u.id, id, 2))
			break;
		cr_assert(ft_since(t0) < 20000, "the partitioned worker (child "
		    "%ld) did not claim and store the job: locked by '%s'",
		    (long)child, locked_by);
		ft_pause_ms(20);
	}
	t_stall = itest_now_ms();

	/* 2. The link goes down. */
	ft_sh("ip link set %s down", veth_host);
	t_down = itest_now_ms();

	/* 3. A normal worker rescues the job after the lease and completes it. */
	nenv[0] = "IMGGEN_PROVIDER=local";
	nenv[1] = "IMGGEN_STORAGE=fs";
	nenv[2] = "IMGGEN_LEASE_SECONDS=5";
	nenv[3] = "IMGGEN_WORKER_PROCESSES=1";
	nenv[4] = "IMGGEN_POLL_INTERVAL_MS=200";
	nenv[5] = NULL;
	ft_worker_start(&wn, "partition-rescuer", NULL, nenv);
	json_object_put(itest_wait_completed(&u, id, 30000));
	t_done = itest_now_ms();
	ft_assert_completed(&u, id, 2, true);
	ft_log_wait(wn.log, "rescued", NULL, 1, 1000);
	ft_log_wait(wn.log, id, "claimed (attempt 2)", 1, 1000);
	ft_pg_str(completed_at, sizeof completed_at, "SELECT completed_at::text "
	    "FROM image_generations WHERE id = $1::uuid", id, NULL);
	ft_pg_str(ids_before, sizeof ids_before, "SELECT ai_metadata->>"
	    "'imageIds' FROM image_generations WHERE id = $1::uuid", id, NULL);
	cr_assert_eq(ft_log_count(wp.log, id, "not recorded", NULL) +
	    ft_log_count(wp.log, id, "generation completed", NULL), 0,
	    "the partitioned worker wrote something while cut off");

	/* 4. It wakes and sends its completion into the dead link. */
	for (;;) {
		stuck = unacked_to(child, 5432);
		if (stuck > 0)
			break;
		cr_assert(ft_since(t_stall) < 40000, "the partitioned worker "
		    "never tried to write after its stall");
		cr_assert(ft_worker_alive(&wp), "the partitioned worker died");
		ft_pause_ms(50);
	}
	t_stuck = itest_now_ms();

	/* 5. The link returns: the late write arrives and is refused. */
	ft_sh("ip link set %s up", veth_host);
	t_up = itest_now_ms();
	la.log = wp.log;
	la.id = id;
	itest_wait_until(late_write_refused, &la, 60000, "the partitioned "
	    "worker's late completion to be refused");

	ft_assert_completed(&u, id, 2, true);
	ft_assert_fs_matches_uploads(&u);
	ft_pg_str(state, sizeof state, "SELECT completed_at::text FROM "
	    "image_generations WHERE id = $1::uuid", id, NULL);
	cr_assert_str_eq(state, completed_at, "the late write changed "
	    "completed_at");
	ft_pg_str(ids_after, sizeof ids_after, "SELECT ai_metadata->>'imageIds' "
	    "FROM image_generations WHERE id = $1::uuid", id, NULL);
	cr_assert_str_eq(ids_after, ids_before, "the late write changed the "
	    "image ids");
	ft_pg_str(attempts, sizeof attempts, "SELECT attempts FROM "
	    "image_generations WHERE id = $1::uuid", id, NULL);
	cr_assert_str_eq(attempts, "2");
	cr_assert_eq(ft_log_count(wp.log, id, "generation completed", NULL) +
	    ft_log_count(wn.log, id, "generation completed", NULL), 1,
	    "expected exactly one completion over both workers");
	cr_assert(ft_worker_alive(&wp), "the partitioned worker died");
	fprintf(stderr, "partition: link down %.1f s after the stall; rescued "
	    "and completed %.1f s later; the stalled worker's completion sat in "
	    "the dead link (%ld bytes unacknowledged) %.1f s after the stall; "
	    "link up, refused within %.1f s\n", (double)(t_down - t_stall) /
	    1000.0, (double)(t_done - t_down) / 1000.0, stuck,
	    (double)(t_stuck - t_stall) / 1000.0, (double)ft_since(t_up) /
	    1000.0);
	itest_user_free(&u);
}
