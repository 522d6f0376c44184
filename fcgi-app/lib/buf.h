/*
 * buf: a growable byte/string buffer with a hard maximum.
 *
 * Every buffer is created with a limit; an append that would pass it (or an
 * allocation failure) sets the sticky `failed` flag and is otherwise ignored,
 * so a sequence of appends is checked once, with buf_ok() or buf_take().
 * Data is always NUL-terminated once anything was added.  Memory is owned by
 * the buffer until buf_take() hands it to the caller.  Not shared between
 * threads; safe across fork() like any heap memory.
 */
#ifndef IG_BUF_H
#define IG_BUF_H

#include <stdarg.h>
#include <stddef.h>

/* Limits for input-driven buffers, in one place. */
#define BUF_MAX_REQUEST_BODY	(16 * 1024)
#define BUF_MAX_RESPONSE	(256 * 1024)
#define BUF_MAX_LOG_LINE	(8 * 1024)
#define BUF_MAX_SQL_FILE	(1024 * 1024)
#define BUF_MAX_IMAGE		(32 * 1024 * 1024)

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
	int	 failed;
};

#define BUF_INIT(limit)	{ NULL, 0, 0, (limit), 0 }

void		 buf_init(struct buf *, size_t max);
void		 buf_add(struct buf *, const void *, size_t);
void		 buf_adds(struct buf *, const char *);
void		 buf_addc(struct buf *, char);
void		 buf_addf(struct buf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 buf_vaddf(struct buf *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));
/* Appends s as the inside of a JSON string literal (no quotes). */
void		 buf_add_json_escaped(struct buf *, const char *s, size_t len);
int		 buf_ok(const struct buf *) __attribute__((warn_unused_result));
const char	*buf_cstr(const struct buf *);
char		*buf_take(struct buf *, size_t *lenp);
void		 buf_reset(struct buf *);
void		 buf_free(struct buf *);
void		 buf_free_secret(struct buf *);

#endif
