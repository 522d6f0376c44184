/* Placeholder until the s3 backend lands: refuses clearly. */
#include "storage.h"

int
storage_s3_build_put(const struct config *cfg, const char *key,
    const void *data, size_t len, const char *mime, long long now,
    struct http_request *req, struct ig_err *err)
{
	(void)cfg; (void)key; (void)data; (void)len; (void)mime; (void)now;
	(void)req;
	return ig_err_set(err, IG_EPERMANENT, NULL, "s3 storage is not built");
}

int
storage_s3_check_put(long status, long retry_after, const char *body,
    size_t len, struct ig_err *err)
{
	(void)status; (void)retry_after; (void)body; (void)len;
	return ig_err_set(err, IG_EPERMANENT, NULL, "s3 storage is not built");
}
