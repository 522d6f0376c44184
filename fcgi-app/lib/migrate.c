#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

#define MIGRATE_LOCK_KEY	"7231946021"	/* any constant, ours alone */
#define MIGRATE_MAX_FILES	1000

static int
migrate_version_of(const char *name)
{
	int	 i;

	for (i = 0; i < 4; i++)
		if (name[i] < '0' || name[i] > '9')
			return -1;
	if (name[4] != '_' || strlen(name) < 9 ||
	    strcmp(name + strlen(name) - 4, ".sql") != 0)
		return -1;
	return atoi(name);
}

static int
migrate_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
migrate_read(const char *path, struct buf *out, struct ig_err *err)
{
	FILE	*fp;
	char	 chunk[8192];
	size_t	 n;

	if ((fp = fopen(path, "r")) == NULL)
		return ig_err_set(err, IG_EINTERNAL, NULL, "cannot open %s: %s",
		    path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(out, chunk, n);
	fclose(fp);
	if (!buf_ok(out))
		return ig_err_set(err, IG_ELIMIT, NULL, "%s is too large", path);
	return 0;
}

static int
migrate_apply(struct db *db, const char *dir, const char *name, int version,
    struct ig_err *err)
{
	struct buf	 path = BUF_INIT(4096), sql = BUF_INIT(BUF_MAX_SQL_FILE);
	char		 v[16];
	const char	*params[2] = { v, name };
	PGresult	*res;
	int		 rc = -1;

	buf_addf(&path, "%s/%s", dir, name);
	if (!buf_ok(&path) || migrate_read(buf_cstr(&path), &sql, err) == -1)
		goto out;
	snprintf(v, sizeof(v), "%d", version);
	if (db_command(db, "BEGIN", err) == -1)
		goto out;
	/* A migration file is trusted, constant SQL: it takes no values. */
	if (db_command(db, buf_cstr(&sql), err) == -1 ||
	    (res = db_exec(db, "INSERT INTO schema_migrations (version, name) "
	    "VALUES ($1::int, $2)", 2, params, err)) == NULL) {
		struct ig_err ignored = IG_ERR_INIT;
		if (db_command(db, "ROLLBACK", &ignored) == -1)
			log_warn(LOG_CTX_NONE, "rollback failed");
		goto out;
	}
	PQclear(res);
	if (db_command(db, "COMMIT", err) == -1)
		goto out;
	log_info(LOG_CTX_NONE, "applied migration %s", name);
	rc = 0;
out:
	buf_free(&path);
	buf_free(&sql);
	return rc;
}

static int
migrate_is_applied(struct db *db, int version, struct ig_err *err)
{
	char		 v[16];
	const char	*params[1] = { v };
	PGresult	*res;
	int		 found;

	snprintf(v, sizeof(v), "%d", version);
	if ((res = db_exec(db, "SELECT 1 FROM schema_migrations WHERE "
	    "version = $1::int", 1, params, err)) == NULL)
		return -1;
	found = PQntuples(res) == 1;
	PQclear(res);
	return found;
}

int
migrate_run(struct db *db, const char *dir, int *applied, struct ig_err *err)
{
	DIR		*d = NULL;
	struct dirent	*de;
	char		*names[MIGRATE_MAX_FILES];
	size_t		 n = 0, i;
	int		 version, current, rc = -1, locked = 0, applied_here;
	struct ig_err	 ignored = IG_ERR_INIT;

	*applied = 0;
	if ((d = opendir(dir)) == NULL)
		return ig_err_set(err, IG_EINTERNAL, NULL,
		    "cannot open the migrations directory %s: %s", dir,
		    strerror(errno));
	while ((de = readdir(d)) != NULL && n < MIGRATE_MAX_FILES)
		if (migrate_version_of(de->d_name) > 0 &&
		    (names[n] = strdup(de->d_name)) != NULL)
			n++;
	closedir(d);
	qsort(names, n, sizeof(names[0]), migrate_cmp);

	/* A migration may legitimately run longer than a request may. */
	if (db_command(db, "SET statement_timeout = 0", err) == -1 ||
	    db_command(db, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")",
	    err) == -1)
		goto out;
	locked = 1;
	if (db_command(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    "version integer PRIMARY KEY, name text NOT NULL, "
	    "applied_at timestamptz NOT NULL DEFAULT now())", err) == -1)
		goto out;
	if ((current = db_schema_version(db, err)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		version = migrate_version_of(names[i]);
		if ((applied_here = migrate_is_applied(db, version, err)) < 0)
			goto out;
		if (applied_here)
			continue;
		if (version < current) {
			ig_err_set(err, IG_EINTERNAL, NULL, "migration %s is "
			    "not applied but a later one is: new migrations "
			    "must have higher numbers", names[i]);
			goto out;
		}
		if (migrate_apply(db, dir, names[i], version, err) == -1)
			goto out;
		current = version;
		(*applied)++;
	}
	rc = 0;
out:
	if (locked && db_command(db, "SELECT pg_advisory_unlock("
	    MIGRATE_LOCK_KEY ")", &ignored) == -1)
		log_warn(LOG_CTX_NONE, "advisory unlock failed");
	for (i = 0; i < n; i++)
		free(names[i]);
	return rc;
}

int
migrate_check(struct db *db, struct ig_err *err)
{
	int	 v;

	if ((v = db_schema_version(db, err)) < 0) {
		if (err->code == IG_EUNAVAILABLE)
			return -1;
		return ig_err_set(err, IG_EINTERNAL, NULL, "the database has "
		    "no imggen schema: run `imggen-admin migrate`");
	}
	if (v < MIGRATE_REQUIRED_VERSION)
		return ig_err_set(err, IG_EINTERNAL, NULL, "the database schema "
		    "is version %d but this build needs %d: run "
		    "`imggen-admin migrate`", v, MIGRATE_REQUIRED_VERSION);
	return 0;
}
