/*
 * maint: upkeep of the jobs table that `imggen-admin maintenance` runs
 * from cron, besides rescue and pruning (queue.h).
 */
#ifndef IG_MAINT_H
#define IG_MAINT_H

#include "db.h"
#include "ig_err.h"

struct maint_reindex {
	long long	 live_rows;
	long long	 before_bytes;	/* the jobs table's indexes */
	long long	 after_bytes;	/* = before_bytes unless rebuilt */
	int		 rebuilt;
};

/*
 * Rebuilds the jobs table's indexes (REINDEX ... CONCURRENTLY: claims and
 * completions go on meanwhile) once they exceed threshold_mb and four
 * times what the live rows need.  VACUUM recycles the pages of a drained
 * queue's index entries but never returns them, so after a burst the
 * indexes keep the burst's size.  threshold_mb 0: never.
 */
int	 maint_reindex_jobs(struct db *, long threshold_mb,
	    struct maint_reindex *, struct ig_err *)
	    __attribute__((warn_unused_result));

/*
 * Forgets Idempotency-Keys older than their 24 hours, so the unique index
 * holds only live ones (the API also releases an old key when it is
 * reused).
 */
int	 maint_release_idempotency_keys(struct db *, long *released,
	    struct ig_err *) __attribute__((warn_unused_result));

#endif
