#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

/*
 * Process-wide settings, written once in main() before any other thread or
 * child exists; reading them after fork() is safe.
 */
static const char	*log_binary = "imggen";
static enum log_level	 log_min = LOG_INFO;

static const char *const log_level_names[LOG_LEVEL__MAX] = {
	"debug", "info", "warn", "error"
};

void
log_setup(const char *binary, enum log_level min)
{
	log_binary = binary;
	log_min = min;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	int	 i;

	for (i = 0; i < LOG_LEVEL__MAX; i++)
		if (strcmp(s, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

static void
log_add_str(struct buf *b, const char *key, const char *val)
{
	buf_addf(b, ",\"%s\":\"", key);
	buf_add_json_escaped(b, val, strlen(val));
	buf_addc(b, '"');
}

static void __attribute__((format(printf, 4, 0)))
log_emit(enum log_level lvl, const struct log_ctx *ctx, const char *suffix,
    const char *fmt, va_list ap)
{
	char		 msg[BUF_MAX_LOG_LINE / 2];
	char		 ts[40];
	struct buf	 b = BUF_INIT(BUF_MAX_LOG_LINE * 8);
	struct timespec	 now;
	struct tm	 tm;
	int		 saved = errno;
	ssize_t		 w;

	if (lvl < log_min)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

	buf_addf(&b, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\"", ts,
	    now.tv_nsec / 1000000L, log_level_names[lvl]);
	log_add_str(&b, "bin", log_binary);
	buf_addf(&b, ",\"pid\":%ld", (long)getpid());
	if (ctx && ctx->request_id)
		log_add_str(&b, "request_id", ctx->request_id);
	if (ctx && ctx->generation_id)
		log_add_str(&b, "generation_id", ctx->generation_id);
	if (ctx && ctx->job_id)
		buf_addf(&b, ",\"job_id\":%lld", ctx->job_id);
	buf_adds(&b, ",\"msg\":\"");
	buf_add_json_escaped(&b, msg, strlen(msg));
	if (suffix) {
		buf_adds(&b, ": ");
		buf_add_json_escaped(&b, suffix, strlen(suffix));
	}
	buf_adds(&b, "\"}\n");
	if (buf_ok(&b)) {
		/* A short write to stderr has nowhere to be reported. */
		w = write(STDERR_FILENO, b.data, b.len);
		(void)w;
	}
	buf_free(&b);
	errno = saved;
}

#define LOG_FN(name, lvl)						\
void									\
name(const struct log_ctx *ctx, const char *fmt, ...)			\
{									\
	va_list	 ap;							\
	va_start(ap, fmt);						\
	log_emit(lvl, ctx, NULL, fmt, ap);				\
	va_end(ap);							\
}

LOG_FN(log_debug, LOG_DEBUG)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_warn, LOG_WARN)
LOG_FN(log_error, LOG_ERROR)

void
log_error_errno(const struct log_ctx *ctx, const char *fmt, ...)
{
	char	 ebuf[128];
	va_list	 ap;
	int	 saved = errno;

	snprintf(ebuf, sizeof(ebuf), "%s", strerror(saved));
	va_start(ap, fmt);
	log_emit(LOG_ERROR, ctx, ebuf, fmt, ap);
	va_end(ap);
	errno = saved;
}
