/*
 * provider_http: dispatch to the wire formats of provider_google.c and
 * provider_openai.c, and what they share: one bounded JSON parse per
 * answer, strict base64, image validation, and the classification of
 * non-2xx answers.  See provider_http.h for the contract.
 */
#include "provider_wire.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

/* Provider answers nest 6-8 levels; anything deeper is not theirs. */
#define PROVIDER_JSON_DEPTH	32
/* The longest error excerpt we keep from a provider's message. */
#define PROVIDER_EXCERPT_MAX	160

int
provider_http_calls(const struct provider_info *p, int count)
{
	if (p->kind == PROVIDER_LOCAL || count < 1)
		return 0;
	return p->one_call_per_image ? count : 1;
}

/*
 * Checks what every provider needs from the parameters.  The worker has
 * checked them against the provider table already; this keeps the pure
 * functions safe on their own (they are fuzzed and unit-tested directly).
 */
static int
provider_http_check(const struct provider_info *p,
    const struct provider_params *pp, int call, struct ig_err *err)
{
	if (pp->prompt == NULL || pp->aspect == NULL || pp->count < 1 ||
	    pp->count > p->max_images || pp->count > GEN_MAX_IMAGES)
		return ig_err_set(err, IG_EINTERNAL, NULL,
		    "invalid parameters for provider %s", p->name);
	if (call < 0 || call >= provider_http_calls(p, pp->count))
		return ig_err_set(err, IG_EINTERNAL, NULL,
		    "provider %s has no call %d for %d image(s)", p->name,
		    call, pp->count);
	/* Refused rather than silently dropped (DESIGN: nothing is dropped). */
	if ((pp->has_seed && !p->supports_seed) ||
	    (pp->negative_prompt != NULL && !p->supports_negative_prompt))
		return ig_err_setc(err, IG_EPERMANENT, "invalid_request", NULL,
		    "the request cannot be served by provider %s", p->name);
	return 0;
}

int
provider_http_build(const struct provider_info *p, const struct config *cfg,
    const struct provider_params *pp, int call, struct http_request *req,
    struct ig_err *err)
{
	int	 rc;

	if (provider_http_check(p, pp, call, err) == -1)
		return -1;
	switch (p->kind) {
	case PROVIDER_IMAGEN:
	case PROVIDER_GEMINI:
		rc = provider_google_build(p, cfg, pp, call, req, err);
		break;
	case PROVIDER_OPENAI:
		rc = provider_openai_build(cfg, pp, req, err);
		break;
	default:
		return ig_err_set(err, IG_EINTERNAL, NULL,
		    "provider %s does not speak HTTP", p->name);
	}
	if (rc == -1)
		return -1;
	if (!http_request_ok(req))
		return ig_err_set(err, IG_EINTERNAL, NULL,
		    "the request to provider %s does not fit its buffers",
		    p->name);
	return 0;
}

/*
 * One parse of the whole answer, depth-limited, strict, and refusing
 * trailing bytes: a body cut short under load must not half-parse.
 */
static struct json_object *
provider_http_json(const char *body, size_t len, struct ig_err *err)
{
	struct json_tokener	*tok;
	struct json_object	*root = NULL;
	size_t			 end;

	if (len == 0 || len > INT_MAX) {
		ig_err_set(err, IG_ETRANSIENT, NULL,
		    "provider returned malformed JSON");
		return NULL;
	}
	if ((tok = json_tokener_new_ex(PROVIDER_JSON_DEPTH)) == NULL) {
		ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, body, (int)len);
	if (root != NULL &&
	    json_tokener_get_error(tok) == json_tokener_success) {
		end = json_tokener_get_parse_end(tok);
		while (end < len && (body[end] == ' ' || body[end] == '\t' ||
		    body[end] == '\r' || body[end] == '\n'))
			end++;
		if (end != len) {
			json_object_put(root);
			root = NULL;
		}
	} else {
		json_object_put(root);
		root = NULL;
	}
	json_tokener_free(tok);
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		ig_err_set(err, IG_ETRANSIENT, NULL,
		    "provider returned malformed JSON");
		return NULL;
	}
	return root;
}

int
provider_http_parse(const struct provider_info *p,
    const struct provider_params *pp, int call, const char *body, size_t len,
    struct provider_output *out, struct ig_err *err)
{
	struct json_object	*root;
	int			 rc;

	if (provider_http_check(p, pp, call, err) == -1)
		return -1;
	if (p->kind != PROVIDER_IMAGEN && p->kind != PROVIDER_GEMINI &&
	    p->kind != PROVIDER_OPENAI)
		return ig_err_set(err, IG_EINTERNAL, NULL,
		    "provider %s does not speak HTTP", p->name);
	if ((root = provider_http_json(body, len, err)) == NULL)
		return -1;
	if (p->kind == PROVIDER_OPENAI)
		rc = provider_openai_parse(pp, root, out, err);
	else
		rc = provider_google_parse(p, pp, call, root, out, err);
	json_object_put(root);
	return rc;
}

/* The member `key` of object o if it has type t, else NULL (borrowed). */
struct json_object *
provider_http_member(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object	*v;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, t))
		return NULL;
	return v;
}

/*
 * A token count: a non-negative integer, or -1 when absent or nonsense.
 * Capped so that sums over a few calls cannot overflow.
 */
long long
provider_http_count(struct json_object *o, const char *key)
{
	struct json_object	*v;
	int64_t			 n;

	if ((v = provider_http_member(o, key, json_type_int)) == NULL)
		return -1;
	n = json_object_get_int64(v);
	if (n < 0 || n > 1000000000000LL)
		return -1;
	return (long long)n;
}

/* Keeps the model version the provider reports, if it looks like one. */
void
provider_http_set_model(struct provider_output *out, struct json_object *v)
{
	const char	*s;
	size_t		 n;

	if (v == NULL || !json_object_is_type(v, json_type_string))
		return;
	s = json_object_get_string(v);
	n = strlen(s);
	if (n == 0 || n >= sizeof(out->model) ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-._/:@") != n)
		return;
	memcpy(out->model, s, n + 1);
}

static int
provider_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Validates strict base64 and returns the decoded length, or -1.  Strict
 * means: the standard alphabet, length a multiple of 4, '=' only as the
 * last one or two characters, and zero pad bits (a canonical encoding),
 * so that one image has exactly one accepted encoding.
 */
static long long
provider_b64_check(const char *in, size_t len)
{
	const unsigned char	*s = (const unsigned char *)in;
	size_t			 i, pad = 0;

	if (len == 0 || len % 4 != 0 || len / 4 > (size_t)LLONG_MAX / 3)
		return -1;
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - pad; i++)
		if (provider_b64_value(s[i]) == -1)
			return -1;
	if (pad == 2 && (provider_b64_value(s[len - 3]) & 0x0f) != 0)
		return -1;
	if (pad == 1 && (provider_b64_value(s[len - 2]) & 0x03) != 0)
		return -1;
	return (long long)(len / 4 * 3 - pad);
}

int
provider_base64_decode(const char *in, size_t len, uint8_t **out,
    size_t *outlen)
{
	const unsigned char	*s = (const unsigned char *)in;
	long long		 n;
	uint8_t			*d;
	size_t			 i, o = 0;
	uint32_t		 q;

	if ((n = provider_b64_check(in, len)) <= 0)
		return -1;
	if ((d = malloc((size_t)n)) == NULL)
		return -1;
	for (i = 0; i < len; i += 4) {
		q = (uint32_t)provider_b64_value(s[i]) << 18 |
		    (uint32_t)provider_b64_value(s[i + 1]) << 12;
		if (s[i + 2] != '=')
			q |= (uint32_t)provider_b64_value(s[i + 2]) << 6;
		if (s[i + 3] != '=')
			q |= (uint32_t)provider_b64_value(s[i + 3]);
		d[o++] = (uint8_t)(q >> 16);
		if (s[i + 2] != '=')
			d[o++] = (uint8_t)(q >> 8);
		if (s[i + 3] != '=')
			d[o++] = (uint8_t)q;
	}
	*out = d;
	*outlen = o;
	return 0;
}

/*
 * Decodes one base64 image, checks it is a PNG, JPEG or WebP with
 * readable dimensions, and appends it to out.  The size check comes
 * before any allocation, from the length of the text alone.
 */
int
provider_http_add_image(struct provider_output *out, const char *b64,
    size_t len, struct ig_err *err)
{
	struct provider_image	*img;
	long long		 n;

	if (out->nimages >= GEN_MAX_IMAGES)
		return ig_err_set(err, IG_ETRANSIENT, NULL,
		    "provider returned more than %d images", GEN_MAX_IMAGES);
	if (len / 4 > BUF_MAX_IMAGE / 3 + 1)
		return ig_err_set(err, IG_EPERMANENT, NULL,
		    "provider returned an image larger than %d MiB",
		    BUF_MAX_IMAGE / (1024 * 1024));
	if ((n = provider_b64_check(b64, len)) == -1)
		return ig_err_set(err, IG_ETRANSIENT, NULL,
		    "provider returned invalid base64");
	if (n > BUF_MAX_IMAGE)
		return ig_err_set(err, IG_EPERMANENT, NULL,
		    "provider returned an image larger than %d MiB",
		    BUF_MAX_IMAGE / (1024 * 1024));
	img = &out->images[out->nimages];
	if (provider_base64_decode(b64, len, &img->data, &img->len) == -1) {
		img->data = NULL;
		return ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
	}
	if (png_probe(img->data, img->len, &img->info) == -1) {
		free(img->data);
		img->data = NULL;
		img->len = 0;
		return ig_err_set(err, IG_ETRANSIENT, NULL,
		    "provider returned an unreadable image");
	}
	out->nimages++;
	return 0;
}

void
provider_output_release(struct provider_output *out)
{
	int	 i;

	for (i = 0; i < out->nimages && i < GEN_MAX_IMAGES; i++) {
		free(out->images[i].data);
		out->images[i].data = NULL;
		out->images[i].len = 0;
	}
	out->nimages = 0;
}

/*
 * A short, printable-ASCII excerpt of a provider message: control bytes
 * and runs of space fold to one space, other bytes become '?', and any
 * word that looks like an API key ("sk-…", "AIza…": OpenAI echoes a
 * masked key in some messages) is replaced, so no secret can travel on.
 */
static void
provider_http_excerpt(const char *s, char *dst, size_t dstsz)
{
	const char	*start = s;
	size_t		 o = 0, w;
	int		 space = 0;

	while (*s != '\0' && o + 4 < dstsz) {
		if ((s == start || !isalnum((unsigned char)s[-1])) &&
		    (strncmp(s, "sk-", 3) == 0 || strncmp(s, "AIza", 4) == 0)) {
			w = 0;
			while (s[w] != '\0' && !isspace((unsigned char)s[w]))
				w++;
			s += w;
			dst[o++] = '*';
			dst[o++] = '*';
			dst[o++] = '*';
			space = 0;
			continue;
		}
		if ((unsigned char)*s <= ' ' || *s == 0x7f) {
			if (!space && o > 0)
				dst[o++] = ' ';
			space = 1;
		} else {
			dst[o++] = ((unsigned char)*s < 0x7f) ? *s : '?';
			space = 0;
		}
		s++;
	}
	if (*s != '\0' && o + 3 < dstsz) {
		while (o > 0 && dst[o - 1] == ' ')
			o--;
		dst[o++] = '.';
		dst[o++] = '.';
		dst[o++] = '.';
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
}

/* A short identifier (Google "status", OpenAI "code"), or "". */
static const char *
provider_http_token(struct json_object *e, const char *key)
{
	struct json_object	*v;
	const char		*s;
	size_t			 n;

	if ((v = provider_http_member(e, key, json_type_string)) == NULL)
		return "";
	s = json_object_get_string(v);
	n = strlen(s);
	if (n == 0 || n > 48 || strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
		return "";
	return s;
}

/* Does Google's error carry details[].reason == reason? */
static int
provider_http_reason(struct json_object *e, const char *reason)
{
	struct json_object	*d, *r;
	size_t			 i, n;

	if ((d = provider_http_member(e, "details", json_type_array)) == NULL)
		return 0;
	n = json_object_array_length(d);
	for (i = 0; i < n && i < 16; i++) {
		r = provider_http_member(json_object_array_get_idx(d, i),
		    "reason", json_type_string);
		if (r != NULL && strcmp(json_object_get_string(r), reason) == 0)
			return 1;
	}
	return 0;
}

static int
provider_http_contains(const char *hay, const char *needle)
{
	size_t	 n = strlen(needle);

	for (; *hay != '\0'; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return 0;
}

/*
 * Is a 400 a safety refusal?  OpenAI says so with a code
 * (moderation_blocked for gpt-image-1, content_policy_violation for
 * DALL-E); Imagen only in words ("…violate Google's Responsible AI
 * practices…", "The response is blocked…"), all under INVALID_ARGUMENT.
 */
static int
provider_http_is_safety(const char *code, const char *msg)
{
	static const char *const words[] = { "responsible ai", "safety",
	    "blocked", "sensitive words", "prohibited", "content policy" };
	size_t	 i;

	if (strcmp(code, "moderation_blocked") == 0 ||
	    strcmp(code, "content_policy_violation") == 0)
		return 1;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (provider_http_contains(msg, words[i]))
			return 1;
	return 0;
}

int
provider_http_error(const struct provider_info *p, long status,
    long retry_after, const char *body, size_t len, struct ig_err *err)
{
	struct ig_err		 dummy = IG_ERR_INIT;
	struct json_object	*root = NULL, *e = NULL, *m;
	char			 ex[PROVIDER_EXCERPT_MAX + 4] = "";
	const char		*code = "", *sep = "", *keyname;

	keyname = p->kind == PROVIDER_OPENAI ? "OPENAI_API_KEY" :
	    "GEMINI_API_KEY";
	if (body != NULL && len > 0 &&
	    (root = provider_http_json(body, len, &dummy)) != NULL &&
	    (e = provider_http_member(root, "error",
	    json_type_object)) != NULL) {
		if ((m = provider_http_member(e, "message",
		    json_type_string)) != NULL)
			provider_http_excerpt(json_object_get_string(m), ex,
			    sizeof(ex));
		/* Google: "status"; OpenAI: "code" (a string there). */
		code = provider_http_token(e, "status");
		if (*code == '\0')
			code = provider_http_token(e, "code");
	}
	if (*ex != '\0')
		sep = ": ";
	/*
	 * A refused key says nothing more than that: messages about keys may
	 * echo part of one.  Google answers a bad key with 400 and reason
	 * API_KEY_INVALID, a missing one with 403; OpenAI with 401.
	 */
	if (status == 401 || status == 403 ||
	    (status == 400 && provider_http_reason(e, "API_KEY_INVALID"))) {
		ig_err_setc(err, IG_EPERMANENT, "provider_rejected", NULL,
		    "provider %s refused the credentials (HTTP %ld%s%s); "
		    "check %s", p->name, status, *code ? " " : "", code,
		    keyname);
	} else if (status == 400 && provider_http_is_safety(code, ex)) {
		ig_err_setc(err, IG_EPERMANENT, "content_filtered", NULL,
		    "provider %s refused the prompt%s%s", p->name, sep, ex);
	} else if (status == 429 && strcmp(code, "insufficient_quota") == 0) {
		/* OpenAI's "out of credit" 429: waiting will not fix it. */
		ig_err_setc(err, IG_EPERMANENT, "provider_rejected", NULL,
		    "provider %s answered HTTP 429 (insufficient_quota)%s%s",
		    p->name, sep, ex);
	} else if (status == 408 || status == 429 || status >= 500) {
		ig_err_set(err, IG_ETRANSIENT, NULL,
		    "provider %s answered HTTP %ld%s%s", p->name, status, sep,
		    ex);
		err->retry_after = retry_after > 0 ? retry_after : 0;
	} else {
		ig_err_setc(err, IG_EPERMANENT, "provider_rejected", NULL,
		    "provider %s answered HTTP %ld%s%s", p->name, status, sep,
		    ex);
	}
	json_object_put(root);
	return -1;
}

int
provider_http_key_header(struct http_request *req, const char *key,
    const char *key_name, const char *name, const char *prefix,
    struct ig_err *err)
{
	size_t	 i;

	if (key == NULL || *key == '\0')
		return ig_err_set(err, IG_EPERMANENT, NULL, "%s is not set",
		    key_name);
	for (i = 0; key[i] != '\0'; i++)
		if ((unsigned char)key[i] <= ' ' || (unsigned char)key[i] >= 0x7f)
			return ig_err_set(err, IG_EPERMANENT, NULL, "%s holds a "
			    "character not allowed in an HTTP header",
			    key_name);
	if (http_request_header(req, "%s: %s%s", name, prefix, key) == -1 ||
	    http_request_header(req, "Content-Type: application/json") == -1)
		return ig_err_set(err, IG_EINTERNAL, NULL,
		    "the request headers do not fit");
	return 0;
}

int
provider_http_take_images(struct json_object *array, const char *field,
    int count, struct provider_output *out, struct ig_err *err)
{
	struct json_object	*b;
	size_t			 i, n = array ? json_object_array_length(array) : 0;
	int			 nimg = 0, taken = 0;

	for (i = 0; i < n; i++)
		if (provider_http_member(json_object_array_get_idx(array, i),
		    field, json_type_string) != NULL)
			nimg++;
	if (nimg > GEN_MAX_IMAGES)
		return ig_err_set(err, IG_ETRANSIENT, NULL,
		    "provider returned more than %d images", GEN_MAX_IMAGES);
	for (i = 0; i < n && taken < count; i++) {
		b = provider_http_member(json_object_array_get_idx(array, i),
		    field, json_type_string);
		if (b == NULL)
			continue;
		if (provider_http_add_image(out, json_object_get_string(b),
		    (size_t)json_object_get_string_len(b), err) == -1)
			return -1;
		taken++;
	}
	out->filtered += count - taken;
	return 0;
}
