/*
 * failpoint: named places in the worker where tests inject faults.
 *
 * Inert unless the environment variable IMGGEN_FAILPOINTS is set, e.g.
 *   IMGGEN_FAILPOINTS="after_upload=kill:0.3,after_claim=sleep:8000"
 * kill:P sends SIGKILL to the calling process with probability P (a crash
 * at exactly that point); sleep:MS blocks that long (a stalled worker).
 * Names in use: after_claim, after_generate, mid_upload, after_upload.
 * Read once by failpoint_init() in each process; not for production use
 * (the worker logs a warning when any is set).
 */
#ifndef IG_FAILPOINT_H
#define IG_FAILPOINT_H

/* Returns the number of failpoints configured (0 normally). */
int	failpoint_init(void);
void	failpoint(const char *name);

#endif
