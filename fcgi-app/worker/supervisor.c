#include "supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "runner.h"

struct child {
	pid_t	 pid;
	double	 started;
	double	 restart_at;
	int	 failures;	/* quick deaths in a row */
};

static double
mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pid_t
spawn(const struct config *cfg, int idx, const sigset_t *old)
{
	pid_t	 pid;

	if ((pid = fork()) == -1) {
		log_error_errno(LOG_CTX_NONE, "fork");
		return -1;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, old, NULL);
		_exit(runner_main(cfg, idx));
	}
	return pid;
}

static void
signal_all(struct child *c, int n, int sig)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (c[i].pid > 0)
			kill(c[i].pid, sig);
}

/* Reaps exited children; returns a fatal exit status or 0. */
static int
reap(struct child *c, int n, int stopping)
{
	pid_t	 pid;
	int	 st, i, fatal = 0;
	double	 t = mono(), delay;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < n && c[i].pid != pid; i++)
			;
		if (i == n)
			continue;
		c[i].pid = 0;
		if (WIFEXITED(st) && WEXITSTATUS(st) == SUPERVISOR_EXIT_FATAL)
			fatal = SUPERVISOR_EXIT_FATAL;
		if (stopping)
			continue;
		c[i].failures = t - c[i].started < 10.0 ? c[i].failures + 1 : 0;
		delay = c[i].failures ? (c[i].failures >= 5 ? 30.0 :
		    (double)(1 << c[i].failures)) : 0.1;
		c[i].restart_at = t + delay;
		log_warn(LOG_CTX_NONE, "worker child %d (pid %ld) %s %d; "
		    "restarting in %.1f s", i, (long)pid,
		    WIFSIGNALED(st) ? "killed by signal" : "exited with",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), delay);
	}
	return fatal;
}

int
supervisor_run(const struct config *cfg, int n)
{
	struct child	*c;
	sigset_t	 mask, old;
	siginfo_t	 si;
	struct timespec	 tick = { 0, 200 * 1000 * 1000 };
	int		 i, sig, stopping = 0, alive, fatal = 0, werr;

	if ((c = calloc((size_t)n, sizeof(*c))) == NULL)
		return 1;
	/* Signals are taken synchronously with sigtimedwait: no races. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &old);
	for (;;) {
		if (!stopping)
			for (i = 0; i < n; i++)
				if (c[i].pid == 0 && mono() >= c[i].restart_at) {
					c[i].pid = spawn(cfg, i, &old);
					c[i].started = mono();
					if (c[i].pid == -1) {
						c[i].pid = 0;
						c[i].restart_at = mono() + 1.0;
					}
				}
		sig = sigtimedwait(&mask, &si, &tick);
		/* reap() calls waitpid, which may change errno. */
		werr = errno;
		if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			log_info(LOG_CTX_NONE, "stopping %d worker child(ren)",
			    n);
			stopping = 1;
			signal_all(c, n, SIGTERM);
		}
		if (reap(c, n, stopping) && !stopping) {
			log_error(LOG_CTX_NONE, "a worker child hit a fatal "
			    "condition; stopping");
			fatal = SUPERVISOR_EXIT_FATAL;
			stopping = 1;
			signal_all(c, n, SIGTERM);
		}
		for (alive = 0, i = 0; i < n; i++)
			alive += c[i].pid > 0;
		if (stopping && alive == 0)
			break;
		if (sig == -1 && werr != EAGAIN && werr != EINTR) {
			errno = werr;
			log_error_errno(LOG_CTX_NONE, "sigtimedwait");
		}
	}
	free(c);
	log_info(LOG_CTX_NONE, "worker stopped");
	return fatal;
}
