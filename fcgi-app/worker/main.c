/*
 * imggen-worker: claims generation jobs and runs them.  A supervisor with
 * IMGGEN_WORKER_PROCESSES children (default: one per core); stops
 * gracefully on SIGTERM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "log.h"
#include "supervisor.h"

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: imggen-worker [--check-config]\n"
	    "Runs the generation worker in the foreground until SIGTERM.\n"
	    "Configuration: environment or the file named by IMGGEN_CONFIG "
	    "(see docs/configuration.md).\n");
}

int
main(int argc, char *argv[])
{
	struct config	 cfg;
	enum log_level	 lvl = LOG_INFO;
	long		 n;
	int		 rc;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	config_load_or_exit(&cfg, "imggen-worker");
	if (argc > 1 && strcmp(argv[1], "--check-config") == 0) {
		config_print(&cfg, stdout);
		config_release(&cfg);
		return 0;
	}
	if (argc > 1) {
		usage(stderr);
		config_release(&cfg);
		return 2;
	}
	(void)log_level_parse(cfg.log_level, &lvl);
	log_setup("imggen-worker", lvl);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error(LOG_CTX_NONE, "curl_global_init failed");
		return 1;
	}
	if ((n = cfg.worker_processes) == 0 &&
	    (n = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		n = 1;
	log_info(LOG_CTX_NONE, "starting %ld worker child(ren), provider %s, "
	    "storage %s", n, cfg.provider, cfg.storage);
	rc = supervisor_run(&cfg, (int)n);
	curl_global_cleanup();
	config_release(&cfg);
	return rc;
}
