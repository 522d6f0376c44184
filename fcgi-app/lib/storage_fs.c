/* The fs storage backend (the embedded default): see storage.h. */
#include "storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "failpoint.h"

/* mkdir -p of every parent directory of path (path is modified, restored). */
static int
storage_mkdirs(char *path)
{
	char	*p;

	for (p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return 0;
}

/*
 * A writer killed between open and rename leaves its temporary file
 * behind; the retry (same key) removes those of earlier writers.
 */
static void
storage_remove_stale(const char *path, const char *mine)
{
	struct buf	 dir = BUF_INIT(4096), prefix = BUF_INIT(4096);
	struct buf	 stale = BUF_INIT(8192);
	const char	*slash = strrchr(path, '/');
	struct dirent	*de;
	DIR		*d;

	if (slash == NULL)
		return;
	buf_add(&dir, path, (size_t)(slash - path));
	buf_addf(&prefix, "%s.tmp.", slash + 1);
	if (buf_ok(&dir) && buf_ok(&prefix) &&
	    (d = opendir(buf_cstr(&dir))) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, buf_cstr(&prefix),
			    prefix.len) != 0)
				continue;
			buf_reset(&stale);
			buf_addf(&stale, "%s/%s", buf_cstr(&dir), de->d_name);
			if (buf_ok(&stale) && strcmp(buf_cstr(&stale), mine) != 0)
				unlink(buf_cstr(&stale));
		}
		closedir(d);
	}
	buf_free(&dir);
	buf_free(&prefix);
	buf_free(&stale);
}

static int
storage_write_all(int fd, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 w;

	while (len > 0) {
		if ((w = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int
storage_fs_put(const char *root, const char *key, const void *data,
    size_t len, struct ig_err *err)
{
	struct buf	 path = BUF_INIT(4096), tmp = BUF_INIT(4096);
	int		 fd = -1, rc = -1;

	buf_addf(&path, "%s/%s", root, key);
	buf_addf(&tmp, "%s.tmp.%ld", buf_cstr(&path), (long)getpid());
	if (!buf_ok(&path) || !buf_ok(&tmp)) {
		ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
		goto out;
	}
	if (storage_mkdirs(path.data) == -1 ||
	    (fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1 ||
	    storage_write_all(fd, data, len) == -1 || fsync(fd) == -1) {
		/* A full or failing disk may recover: retry the job later. */
		ig_err_set(err, IG_ETRANSIENT, NULL, "storage: %s",
		    strerror(errno));
		goto out;
	}
	storage_remove_stale(path.data, tmp.data);
	failpoint("mid_upload");
	if (close(fd) == -1 || rename(tmp.data, path.data) == -1) {
		fd = -1;
		ig_err_set(err, IG_ETRANSIENT, NULL, "storage: %s",
		    strerror(errno));
		goto out;
	}
	fd = -1;
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc == -1 && tmp.data)
		unlink(tmp.data);
	buf_free(&path);
	buf_free(&tmp);
	return rc;
}

int
storage_fs_delete(const char *root, const char *key, struct ig_err *err)
{
	struct buf	 path = BUF_INIT(4096);
	int		 rc = 0;

	buf_addf(&path, "%s/%s", root, key);
	if (!buf_ok(&path))
		rc = ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
	else if (unlink(path.data) == -1 && errno != ENOENT)
		rc = ig_err_set(err, IG_ETRANSIENT, NULL, "storage: %s",
		    strerror(errno));
	buf_free(&path);
	return rc;
}
