/*
 * ig_err: error codes that say what the caller should do, plus the detail
 * that travels beside them.
 *
 * Functions return 0 on success or -1 with a struct ig_err filled in.  The
 * code decides both the worker's retry policy and the responder's HTTP
 * status; api_code (the JSON "code") defaults from the table in ig_err.c but
 * can be narrowed by the setter (e.g. "invalid_json" for IG_EINPUT).  `field`
 * names the request field at fault and must point at static storage or at
 * memory that outlives the error.  msg never holds a secret.
 */
#ifndef IG_ERR_H
#define IG_ERR_H

enum ig_errc {
	IG_OK = 0,
	IG_ENOMEM,
	IG_EINPUT,		/* the client's data is wrong: permanent */
	IG_EAUTH,		/* missing or invalid credentials */
	IG_ENOTFOUND,
	IG_EMETHOD,
	IG_EMEDIA,		/* unsupported content type */
	IG_ECONFLICT,		/* unique violation, lease lost */
	IG_ELIMIT,		/* a size limit was exceeded */
	IG_ERATE,		/* a rate or quota limit: retry later (429) */
	IG_ETRANSIENT,		/* retrying may work */
	IG_EPERMANENT,		/* retrying will not work */
	IG_EUNAVAILABLE,	/* database down: 503 */
	IG_EINTERNAL,		/* a bug */
	IG_ERRC__MAX
};

struct ig_err {
	enum ig_errc	 code;
	const char	*api_code;	/* NULL: the table's default */
	const char	*field;
	long		 retry_after;	/* seconds, 0 = none */
	char		 msg[256];
	char		 fieldbuf[96];	/* storage for a copied field name */
};

#define IG_ERR_INIT	{ IG_OK, NULL, NULL, 0, "", "" }

int		 ig_err_set(struct ig_err *, enum ig_errc, const char *field,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int		 ig_err_setc(struct ig_err *, enum ig_errc, const char *api_code,
		    const char *field, const char *fmt, ...)
		    __attribute__((format(printf, 5, 6)));
/* Points err->field at a bounded copy of name (for names from input). */
void		 ig_err_field_copy(struct ig_err *, const char *name);
void		 ig_err_clear(struct ig_err *);
int		 ig_err_http_status(const struct ig_err *);
const char	*ig_err_api_code(const struct ig_err *);
const char	*ig_errc_name(enum ig_errc);
int		 ig_err_retryable(const struct ig_err *);

#endif
