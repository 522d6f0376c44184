/*
 * log: one JSON object per line on stderr.
 *
 * Each line is built in a bounded buffer and emitted with a single write(2),
 * so lines from concurrent processes never interleave.  Every string is JSON
 * escaped, so a prompt or header cannot forge a line.  Secrets must never be
 * passed to these functions: there is no redaction after the fact.  errno is
 * preserved across calls.  Context ids are borrowed pointers that the caller
 * keeps alive while the context is in use.
 */
#ifndef IG_LOG_H
#define IG_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_LEVEL__MAX };

struct log_ctx {
	const char	*request_id;
	const char	*generation_id;
	long long	 job_id;	/* 0 = none */
};

#define LOG_CTX_NONE	((const struct log_ctx *)0)

void	log_setup(const char *binary, enum log_level min);
int	log_level_parse(const char *, enum log_level *);
void	log_debug(const struct log_ctx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_info(const struct log_ctx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_warn(const struct log_ctx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_error(const struct log_ctx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Like log_error, with strerror(errno) appended. */
void	log_error_errno(const struct log_ctx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
