#include "failpoint.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#define FP_MAX	8

struct fp {
	char	 name[32];
	int	 kill;		/* else sleep */
	double	 probability;
	long	 sleep_ms;
};

/* Written once by failpoint_init() before any use; per process. */
static struct fp	 fps[FP_MAX];
static int		 nfps;

int
failpoint_init(void)
{
	const char	*env = getenv("IMGGEN_FAILPOINTS");
	char		 spec[512], *p, *save = NULL, *eq;

	nfps = 0;
	if (env == NULL || *env == '\0')
		return 0;
	snprintf(spec, sizeof(spec), "%s", env);
	for (p = strtok_r(spec, ",", &save); p && nfps < FP_MAX;
	    p = strtok_r(NULL, ",", &save)) {
		struct fp *f = &fps[nfps];

		if ((eq = strchr(p, '=')) == NULL)
			continue;
		*eq++ = '\0';
		snprintf(f->name, sizeof(f->name), "%s", p);
		if (strncmp(eq, "kill:", 5) == 0) {
			f->kill = 1;
			f->probability = strtod(eq + 5, NULL);
		} else if (strncmp(eq, "sleep:", 6) == 0)
			f->sleep_ms = strtol(eq + 6, NULL, 10);
		else
			continue;
		nfps++;
	}
	return nfps;
}

static double
fp_random(void)
{
	unsigned int	 r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		return 1.0;
	return (double)r / 4294967296.0;
}

void
failpoint(const char *name)
{
	struct timespec	 ts;
	int		 i;

	for (i = 0; i < nfps; i++) {
		if (strcmp(fps[i].name, name) != 0)
			continue;
		if (fps[i].kill) {
			if (fp_random() < fps[i].probability)
				kill(getpid(), SIGKILL);
		} else {
			ts.tv_sec = fps[i].sleep_ms / 1000;
			ts.tv_nsec = (fps[i].sleep_ms % 1000) * 1000000L;
			while (nanosleep(&ts, &ts) == -1)
				;
		}
	}
}
