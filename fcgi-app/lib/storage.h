/*
 * storage: where generated images go, and the URL they are served from.
 *
 * Keys are deterministic — generations/<user>/<generation>/<idx>.<ext> — so
 * a retried job overwrites its own objects rather than adding new ones.
 * Backends: fs (files under IMGGEN_FS_ROOT, written to a temporary name,
 * fsynced, renamed, and the directory fsynced, so a reader never sees half
 * an image and a stored file survives a crash) and s3 (PutObject signed
 * with our SigV4 code).  An fs put completes inside storage_put_begin() or,
 * for many files at once, storage_put_batch(); an s3 put is returned as an
 * HTTP request for the worker's event loop to perform, and its answer is
 * judged by storage_put_end().  One struct storage per process; create it
 * after fork().  storage_put_batch() runs its fsyncs on threads of its own,
 * all joined before it returns.
 */
#ifndef IG_STORAGE_H
#define IG_STORAGE_H

#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "http.h"
#include "ig_err.h"

#define STORAGE_STORED	0	/* done */
#define STORAGE_HTTP	1	/* perform *req, then storage_put_end() */

struct storage;

int		 storage_kind_valid(const char *kind);
struct storage	*storage_new(const struct config *, struct ig_err *);
void		 storage_free(struct storage *);
/* Appends the key of image idx of a generation. */
void		 storage_key(const char *user_id, const char *generation_id,
		    int idx, const char *ext, struct buf *out);
/* Appends the public URL of a key. */
void		 storage_public_url(const struct storage *, const char *key,
		    struct buf *out);
/*
 * Stores data under key, or fills *req (initialised here) with the request
 * that does.  Returns STORAGE_STORED, STORAGE_HTTP or -1.  data must stay
 * valid until the request is done.
 */
int		 storage_put_begin(struct storage *, const char *key,
		    const void *data, size_t len, const char *mime,
		    struct http_request *req, struct ig_err *)
		    __attribute__((warn_unused_result));
/* One object of storage_put_batch(): in key, data, len; out failed, err. */
struct storage_obj {
	const char	*key;
	const void	*data;
	size_t		 len;
	int		 failed;
	struct ig_err	 err;
};

/* Whether this backend stores through storage_put_batch() (fs). */
int		 storage_batched(const struct storage *);
/*
 * Stores every object durably before it returns, sharing the syncs among
 * them (fs only).  Returns how many failed; each failed object has failed
 * set and err filled, and the others are stored.
 */
int		 storage_put_batch(struct storage *, struct storage_obj *,
		    int n);
/* Judges the answer to a STORAGE_HTTP request: 0 stored, -1 with err. */
int		 storage_put_end(struct storage *, long status,
		    long retry_after, const char *body, size_t len,
		    struct ig_err *) __attribute__((warn_unused_result));
/*
 * Deletes an object (a canceled generation's images): at once for fs, or
 * as *req for the caller to perform (a missing object is not an error).
 * Returns STORAGE_STORED (done), STORAGE_HTTP or -1.
 */
int		 storage_delete_begin(struct storage *, const char *key,
		    struct http_request *req, struct ig_err *)
		    __attribute__((warn_unused_result));
/* A key made only of what storage_key() produces (no traversal). */
int		 storage_key_safe(const char *key);

/* Backends (storage_fs.c, storage_s3.c); called through the above. */
int		 storage_fs_put(const char *root, const char *key,
		    const void *data, size_t len, struct ig_err *);
int		 storage_fs_put_batch(const char *root, struct storage_obj *,
		    int n);
int		 storage_fs_delete(const char *root, const char *key,
		    struct ig_err *);
int		 storage_s3_build_put(const struct config *, const char *key,
		    const void *data, size_t len, const char *mime,
		    long long now_epoch, struct http_request *req,
		    struct ig_err *) __attribute__((warn_unused_result));
int		 storage_s3_build_delete(const struct config *, const char *key,
		    long long now_epoch, struct http_request *req,
		    struct ig_err *) __attribute__((warn_unused_result));
int		 storage_s3_check_put(long status, long retry_after,
		    const char *body, size_t len, struct ig_err *);

#endif
