/*
 * storage: where generated images go, and the URL they are served from.
 *
 * Keys are deterministic — generations/<user>/<generation>/<idx>.<ext> — so
 * a retried job overwrites its own objects rather than adding new ones.
 * The fs backend writes a temporary file, fsyncs it and renames it into
 * place, so a reader never sees half an image.  One struct storage per
 * process; safe to create after fork().
 */
#ifndef IG_STORAGE_H
#define IG_STORAGE_H

#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "ig_err.h"

struct storage;

int		 storage_kind_valid(const char *kind);
struct storage	*storage_new(const struct config *, struct ig_err *);
void		 storage_free(struct storage *);
/* Appends the key of image idx of a generation. */
void		 storage_key(const char *user_id, const char *generation_id,
		    int idx, const char *ext, struct buf *out);
int		 storage_put(struct storage *, const char *key,
		    const void *data, size_t len, const char *mime,
		    struct ig_err *) __attribute__((warn_unused_result));
/* Appends the public URL of a key. */
void		 storage_public_url(const struct storage *, const char *key,
		    struct buf *out);

#endif
