/*
 * supervisor: the worker's parent process.  Forks the children, restarts
 * one that dies (with a growing delay if they keep dying), forwards SIGTERM
 * and waits for every child to finish before exiting 0.
 */
#ifndef IG_SUPERVISOR_H
#define IG_SUPERVISOR_H

#include "config.h"

#define SUPERVISOR_EXIT_FATAL	3	/* a child found a fatal condition */

int	supervisor_run(const struct config *, int nchildren);

#endif
