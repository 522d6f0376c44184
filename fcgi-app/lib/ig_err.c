#include "ig_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

/* The one place where an error class becomes an HTTP status and API code. */
static const struct {
	const char	*name;
	int		 http_status;
	const char	*api_code;
	int		 retryable;
} ig_errc_table[IG_ERRC__MAX] = {
	[IG_OK]		  = { "ok",		200, "ok",			0 },
	[IG_ENOMEM]	  = { "nomem",		500, "internal",		1 },
	[IG_EINPUT]	  = { "input",		400, "validation_error",	0 },
	[IG_EAUTH]	  = { "auth",		401, "unauthorized",		0 },
	[IG_ENOTFOUND]	  = { "notfound",	404, "not_found",		0 },
	[IG_EMETHOD]	  = { "method",		405, "method_not_allowed",	0 },
	[IG_EMEDIA]	  = { "media",		415, "unsupported_media_type",	0 },
	[IG_ECONFLICT]	  = { "conflict",	409, "conflict",		0 },
	[IG_ELIMIT]	  = { "limit",		413, "payload_too_large",	0 },
	[IG_ERATE]	  = { "rate",		429, "rate_limited",		1 },
	[IG_ETRANSIENT]	  = { "transient",	503, "service_unavailable",	1 },
	[IG_EPERMANENT]	  = { "permanent",	422, "unprocessable",		0 },
	[IG_EUNAVAILABLE] = { "unavailable",	503, "service_unavailable",	1 },
	[IG_EINTERNAL]	  = { "internal",	500, "internal",		0 },
};

static void __attribute__((format(printf, 5, 0)))
ig_err_vset(struct ig_err *err, enum ig_errc code, const char *api_code,
    const char *field, const char *fmt, va_list ap)
{
	if (err == NULL)
		return;
	err->code = code;
	err->api_code = api_code;
	err->field = field;
	err->retry_after = 0;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int
ig_err_set(struct ig_err *err, enum ig_errc code, const char *field,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	ig_err_vset(err, code, NULL, field, fmt, ap);
	va_end(ap);
	return -1;
}

int
ig_err_setc(struct ig_err *err, enum ig_errc code, const char *api_code,
    const char *field, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	ig_err_vset(err, code, api_code, field, fmt, ap);
	va_end(ap);
	return -1;
}

void
ig_err_clear(struct ig_err *err)
{
	err->code = IG_OK;
	err->api_code = NULL;
	err->field = NULL;
	err->retry_after = 0;
	err->msg[0] = '\0';
}

static enum ig_errc
ig_err_code(const struct ig_err *err)
{
	if (err->code <= IG_OK || err->code >= IG_ERRC__MAX)
		return IG_EINTERNAL;
	return err->code;
}

int
ig_err_http_status(const struct ig_err *err)
{
	return ig_errc_table[ig_err_code(err)].http_status;
}

const char *
ig_err_api_code(const struct ig_err *err)
{
	if (err->api_code)
		return err->api_code;
	return ig_errc_table[ig_err_code(err)].api_code;
}

const char *
ig_errc_name(enum ig_errc code)
{
	if (code >= IG_ERRC__MAX)
		return "unknown";
	return ig_errc_table[code].name;
}

int
ig_err_retryable(const struct ig_err *err)
{
	return ig_errc_table[ig_err_code(err)].retryable;
}

void
ig_err_field_copy(struct ig_err *err, const char *name)
{
	size_t	 n = strnlen(name, sizeof(err->fieldbuf) - 1), i;

	/* Never cut inside a UTF-8 sequence: back up to its first byte. */
	while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
		n--;
	memcpy(err->fieldbuf, name, n);
	err->fieldbuf[n] = '\0';
	/* A name taken from input goes into JSON: it must be UTF-8. */
	if (utf8_count(err->fieldbuf, n) < 0)
		for (i = 0; i < n; i++)
			if ((unsigned char)err->fieldbuf[i] >= 0x80)
				err->fieldbuf[i] = '?';
	err->field = err->fieldbuf;
}
