#include "generation.h"

#include <string.h>

#include "utf8.h"
#include "webhook.h"

struct gen_field {
	const char	*name;
	int		 required;
	int		 (*read)(struct json_object *, const struct gen_policy *,
			    struct gen_request *, struct ig_err *);
};

static int
gen_read_text(struct json_object *v, const char *field, int allow_empty,
    const char **out, size_t *outlen, struct ig_err *err)
{
	const char	*s, *t;
	size_t		 len, tlen;
	long		 n;

	if (!json_object_is_type(v, json_type_string))
		return ig_err_set(err, IG_EINPUT, field, "%s must be a string",
		    field);
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (memchr(s, '\0', len) != NULL)
		return ig_err_set(err, IG_EINPUT, field,
		    "%s must not contain NUL characters", field);
	if ((n = utf8_count(s, len)) < 0)
		return ig_err_set(err, IG_EINPUT, field,
		    "%s is not valid UTF-8", field);
	t = s;
	tlen = len;
	utf8_trim(&t, &tlen);
	if (!allow_empty && tlen == 0)
		return ig_err_set(err, IG_EINPUT, field,
		    "%s must not be empty", field);
	if (utf8_count(t, tlen) > GEN_PROMPT_MAX_CHARS)
		return ig_err_set(err, IG_EINPUT, field,
		    "%s must be at most %d characters", field,
		    GEN_PROMPT_MAX_CHARS);
	*out = s;
	*outlen = len;
	return 0;
}

static int
gen_read_int(struct json_object *v, const char *field, int64_t min,
    int64_t max, int64_t *out, struct ig_err *err)
{
	int64_t	 n = 0;

	if (!json_object_is_type(v, json_type_int))
		return ig_err_set(err, IG_EINPUT, field,
		    "%s must be an integer from %lld to %lld", field,
		    (long long)min, (long long)max);
	n = json_object_get_int64(v);
	/* json-c saturates at INT64_MAX; the ranges here are far below. */
	if (n < min || n > max)
		return ig_err_set(err, IG_EINPUT, field,
		    "%s must be an integer from %lld to %lld", field,
		    (long long)min, (long long)max);
	*out = n;
	return 0;
}

static int
gen_read_prompt(struct json_object *v, const struct gen_policy *pol,
    struct gen_request *r, struct ig_err *err)
{
	(void)pol;
	return gen_read_text(v, "prompt", 0, &r->prompt, &r->prompt_len, err);
}

static int
gen_read_negative(struct json_object *v, const struct gen_policy *pol,
    struct gen_request *r, struct ig_err *err)
{
	const struct provider_info *p = pol->provider;

	if (!p->supports_negative_prompt)
		return ig_err_set(err, IG_EINPUT, "negativePrompt",
		    "negativePrompt is not supported by provider %s", p->name);
	return gen_read_text(v, "negativePrompt", 1, &r->negative_prompt,
	    &r->negative_prompt_len, err);
}

static int
gen_read_count(struct json_object *v, const struct gen_policy *pol,
    struct gen_request *r, struct ig_err *err)
{
	const struct provider_info *p = pol->provider;
	int64_t	 n = 0;

	if (gen_read_int(v, "numberOfImages", 1, p->max_images, &n, err) == -1)
		return -1;
	r->number_of_images = (int)n;
	return 0;
}

static int
gen_read_seed(struct json_object *v, const struct gen_policy *pol,
    struct gen_request *r, struct ig_err *err)
{
	const struct provider_info *p = pol->provider;

	if (!p->supports_seed)
		return ig_err_set(err, IG_EINPUT, "seed",
		    "seed is not supported by provider %s", p->name);
	if (gen_read_int(v, "seed", 0, GEN_SEED_MAX, &r->seed, err) == -1)
		return -1;
	r->has_seed = 1;
	return 0;
}

static int
gen_read_aspect(struct json_object *v, const struct gen_policy *pol,
    struct gen_request *r, struct ig_err *err)
{
	const struct provider_info *p = pol->provider;
	struct buf	 list = BUF_INIT(1024);
	const char	*s;

	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		if (provider_aspect_find(p, s,
		    (size_t)json_object_get_string_len(v)) != NULL) {
			r->aspect_ratio = s;
			return 0;
		}
	}
	provider_aspect_list(p, &list);
	ig_err_set(err, IG_EINPUT, "aspectRatio", "aspectRatio must be one of "
	    "%s (provider %s)", buf_cstr(&list), p->name);
	buf_free(&list);
	return -1;
}

static int
gen_read_webhook(struct json_object *v, const struct gen_policy *pol,
    struct gen_request *r, struct ig_err *err)
{
	if (!pol->webhooks)
		return ig_err_set(err, IG_EINPUT, "webhookUrl", "webhooks are "
		    "not enabled on this server");
	if (!json_object_is_type(v, json_type_string))
		return ig_err_set(err, IG_EINPUT, "webhookUrl",
		    "webhookUrl must be a string");
	if (webhook_url_check(json_object_get_string(v),
	    (size_t)json_object_get_string_len(v), pol->webhook_insecure,
	    err) == -1)
		return -1;
	r->webhook_url = json_object_get_string(v);
	r->webhook_url_len = (size_t)json_object_get_string_len(v);
	return 0;
}

/* Every accepted field.  A field not listed here is refused. */
static const struct gen_field gen_fields[] = {
	{ "prompt",		1, gen_read_prompt },
	{ "numberOfImages",	0, gen_read_count },
	{ "aspectRatio",	0, gen_read_aspect },
	{ "negativePrompt",	0, gen_read_negative },
	{ "seed",		0, gen_read_seed },
	{ "webhookUrl",		0, gen_read_webhook },
};

#define GEN_NFIELDS	(sizeof(gen_fields) / sizeof(gen_fields[0]))

const char *const *
generation_field_names(void)
{
	static const char *names[GEN_NFIELDS + 1];
	size_t	 i;

	for (i = 0; i < GEN_NFIELDS; i++)
		names[i] = gen_fields[i].name;
	names[GEN_NFIELDS] = NULL;
	return names;
}

int
generation_validate(struct json_object *body, const struct provider_info *p,
    struct gen_request *r, struct ig_err *err)
{
	struct gen_policy	 pol = { p, 0, 0 };

	return generation_validate_policy(body, &pol, r, err);
}

int
generation_validate_policy(struct json_object *body,
    const struct gen_policy *pol, struct gen_request *r, struct ig_err *err)
{
	int	 seen[GEN_NFIELDS] = { 0 };
	size_t	 i;

	memset(r, 0, sizeof(*r));
	r->number_of_images = 1;
	r->aspect_ratio = "1:1";
	if (!json_object_is_type(body, json_type_object))
		return ig_err_set(err, IG_EINPUT, NULL,
		    "the request body must be a JSON object");
	json_object_object_foreach(body, key, val) {
		for (i = 0; i < GEN_NFIELDS; i++)
			if (strcmp(key, gen_fields[i].name) == 0)
				break;
		if (i == GEN_NFIELDS) {
			ig_err_set(err, IG_EINPUT, NULL, "unknown field");
			ig_err_field_copy(err, key);
			return -1;
		}
		if (val == NULL)
			return ig_err_set(err, IG_EINPUT, gen_fields[i].name,
			    "%s must not be null; omit it instead",
			    gen_fields[i].name);
		if (gen_fields[i].read(val, pol, r, err) == -1)
			return -1;
		seen[i] = 1;
	}
	for (i = 0; i < GEN_NFIELDS; i++)
		if (gen_fields[i].required && !seen[i])
			return ig_err_set(err, IG_EINPUT, gen_fields[i].name,
			    "%s is required", gen_fields[i].name);
	return 0;
}

void
generation_metadata_json(const struct gen_request *r, struct buf *out)
{
	buf_addf(out, "{\"numberOfImages\":%d,\"aspectRatio\":\"",
	    r->number_of_images);
	buf_add_json_escaped(out, r->aspect_ratio, strlen(r->aspect_ratio));
	buf_addc(out, '"');
	if (r->has_seed)
		buf_addf(out, ",\"seed\":%lld", (long long)r->seed);
	if (r->negative_prompt) {
		buf_adds(out, ",\"negativePrompt\":\"");
		buf_add_json_escaped(out, r->negative_prompt,
		    r->negative_prompt_len);
		buf_addc(out, '"');
	}
	if (r->webhook_url) {
		buf_adds(out, ",\"webhookUrl\":\"");
		buf_add_json_escaped(out, r->webhook_url, r->webhook_url_len);
		buf_addc(out, '"');
	}
	buf_addc(out, '}');
}

static const char *const gen_status_names[GEN_STATUS__MAX] = {
	"queued", "processing", "completed", "failed", "canceled"
};

const char *
generation_status_name(enum gen_status s)
{
	return s < GEN_STATUS__MAX ? gen_status_names[s] : "unknown";
}
