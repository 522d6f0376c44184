/*
 * migrate: applies sql/NNNN_name.sql files in order, each once, each in its
 * own transaction, recorded in schema_migrations, under an advisory lock so
 * two deploys cannot race.  Safe to run on every deploy.
 */
#ifndef IG_MIGRATE_H
#define IG_MIGRATE_H

#include "db.h"
#include "ig_err.h"

/* The schema version the binaries of this build need. */
#define MIGRATE_REQUIRED_VERSION	5

/* Applies pending migrations; *applied counts them. */
int	migrate_run(struct db *, const char *sql_dir, int *applied,
	    struct ig_err *) __attribute__((warn_unused_result));
/*
 * Start-up check for the service binaries: fails with a message saying
 * what to run when the schema is older than this build needs.
 */
int	migrate_check(struct db *, struct ig_err *)
	    __attribute__((warn_unused_result));

#endif
