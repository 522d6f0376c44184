#include "storage.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum storage_kind { STORAGE_FS, STORAGE_S3 };

struct storage {
	enum storage_kind	 kind;
	const struct config	*cfg;	/* borrowed: outlives the storage */
	char			*base_url;
};

int
storage_kind_valid(const char *kind)
{
	return strcmp(kind, "fs") == 0 || strcmp(kind, "s3") == 0;
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
	    (st->base_url = strdup(cfg->public_base_url)) == NULL) {
		free(st);
		ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
		return NULL;
	}
	st->kind = strcmp(cfg->storage, "s3") == 0 ? STORAGE_S3 : STORAGE_FS;
	st->cfg = cfg;
	return st;
}

void
storage_free(struct storage *st)
{
	if (st == NULL)
		return;
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
int
storage_key_safe(const char *key)
{
	const char	*p;

	if (*key == '\0' || *key == '/' || strstr(key, "..") != NULL)
		return 0;
	for (p = key; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '/' || *p == '.' || *p == '_'))
			return 0;
	return 1;
}

int
storage_put_begin(struct storage *st, const char *key, const void *data,
    size_t len, const char *mime, struct http_request *req,
    struct ig_err *err)
{
	if (!storage_key_safe(key))
		return ig_err_set(err, IG_EINTERNAL, NULL, "unsafe storage key");
	if (st->kind == STORAGE_FS)
		return storage_fs_put(st->cfg->fs_root, key, data, len, err) ==
		    -1 ? -1 : STORAGE_STORED;
	if (storage_s3_build_put(st->cfg, key, data, len, mime,
	    (long long)time(NULL), req, err) == -1)
		return -1;
	return STORAGE_HTTP;
}

int
storage_batched(const struct storage *st)
{
	return st->kind == STORAGE_FS;
}

int
storage_put_batch(struct storage *st, struct storage_obj *o, int n)
{
	int	 i, failed = 0;

	for (i = 0; i < n; i++) {
		o[i].failed = 0;
		ig_err_clear(&o[i].err);
		if (!storage_key_safe(o[i].key) || st->kind != STORAGE_FS) {
			ig_err_set(&o[i].err, IG_EINTERNAL, NULL,
			    st->kind != STORAGE_FS ? "batched put on a "
			    "backend without it" : "unsafe storage key");
			o[i].failed = 1;
		}
	}
	if (st->kind == STORAGE_FS)
		storage_fs_put_batch(st->cfg->fs_root, o, n);
	for (i = 0; i < n; i++)
		failed += o[i].failed;
	return failed;
}

int
storage_put_end(struct storage *st, long status, long retry_after,
    const char *body, size_t len, struct ig_err *err)
{
	(void)st;
	return storage_s3_check_put(status, retry_after, body, len, err);
}

int
storage_delete_begin(struct storage *st, const char *key,
    struct http_request *req, struct ig_err *err)
{
	if (!storage_key_safe(key))
		return ig_err_set(err, IG_EINTERNAL, NULL, "unsafe storage key");
	if (st->kind == STORAGE_FS)
		return storage_fs_delete(st->cfg->fs_root, key, err) == -1 ?
		    -1 : STORAGE_STORED;
	if (storage_s3_build_delete(st->cfg, key, (long long)time(NULL), req,
	    err) == -1)
		return -1;
	return STORAGE_HTTP;
}
