/* The fs storage backend (the embedded default). */
#include "storage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct storage {
	char	*root;
	char	*base_url;
};

int
storage_kind_valid(const char *kind)
{
	return strcmp(kind, "fs") == 0;
}

struct storage *
storage_new(const struct config *cfg, struct ig_err *err)
{
	struct storage	*st;

	if (!storage_kind_valid(cfg->storage)) {
		ig_err_set(err, IG_EINTERNAL, NULL, "unknown storage %s",
		    cfg->storage);
		return NULL;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->root = strdup(cfg->fs_root)) == NULL ||
	    (st->base_url = strdup(cfg->public_base_url)) == NULL) {
		storage_free(st);
		ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
		return NULL;
	}
	return st;
}

void
storage_free(struct storage *st)
{
	if (st == NULL)
		return;
	free(st->root);
	free(st->base_url);
	free(st);
}

void
storage_key(const char *user_id, const char *generation_id, int idx,
    const char *ext, struct buf *out)
{
	buf_addf(out, "generations/%s/%s/%d.%s", user_id, generation_id, idx,
	    ext);
}

void
storage_public_url(const struct storage *st, const char *key,
    struct buf *out)
{
	buf_addf(out, "%s/%s", st->base_url, key);
}

/* Keys are made by storage_key from database uuids; refuse anything else. */
static int
storage_key_safe(const char *key)
{
	const char	*p;

	if (*key == '/' || strstr(key, "..") != NULL)
		return 0;
	for (p = key; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '/' || *p == '.' || *p == '_'))
			return 0;
	return 1;
}

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
storage_put(struct storage *st, const char *key, const void *data,
    size_t len, const char *mime, struct ig_err *err)
{
	struct buf	 path = BUF_INIT(4096), tmp = BUF_INIT(4096);
	int		 fd = -1, rc = -1;

	(void)mime;
	if (!storage_key_safe(key))
		return ig_err_set(err, IG_EINTERNAL, NULL, "unsafe storage key");
	buf_addf(&path, "%s/%s", st->root, key);
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
