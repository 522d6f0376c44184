/*
 * runner: one worker child — a single-threaded event loop that claims jobs
 * (LISTEN/NOTIFY plus a slow poll), advances each job's state machine, and
 * renews the leases of everything it holds in one statement.  The loop
 * waits in curl_multi_poll() on the database socket, so HTTP providers add
 * their transfers to the same multi handle and the same wait.
 */
#ifndef IG_RUNNER_H
#define IG_RUNNER_H

#include "config.h"

/* Runs until SIGTERM has been handled; returns the exit status. */
int	runner_main(const struct config *, int child_index);

#endif
