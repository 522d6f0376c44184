/*
 * provider_openai: the OpenAI Images API wire format.
 *
 * Followed: https://platform.openai.com/docs/api-reference/images/create
 * (and its ImagesResponse object): POST /v1/images/generations with
 * Authorization: Bearer, {"model","prompt","n","size"}, sizes 1024x1024,
 * 1536x1024 and 1024x1536 for gpt-image-1; the answer is data[].b64_json
 * plus usage{input_tokens,output_tokens,total_tokens}.  GPT image models
 * always answer in base64 and refuse response_format, so it is not sent;
 * output_format is left at its default, png.  Errors are
 * {"error":{"message","type","param","code"}}, safety refusals being 400
 * with code moderation_blocked (content_policy_violation for DALL-E).
 */
#include "provider_wire.h"

#include <string.h>

#include <json-c/json.h>

static int
provider_openai_auth(const struct config *cfg, struct http_request *req,
    struct ig_err *err)
{
	return provider_http_key_header(req, cfg->openai_api_key,
	    "OPENAI_API_KEY", "Authorization", "Bearer ", err);
}

int
provider_openai_build(const struct config *cfg,
    const struct provider_params *pp, struct http_request *req,
    struct ig_err *err)
{
	const char	*model = cfg->openai_model;

	if (model == NULL || *model == '\0' || strspn(model,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "-._") != strlen(model))
		return ig_err_set(err, IG_EPERMANENT, NULL,
		    "the openai model name is not valid");
	buf_addf(&req->url, "%s/v1/images/generations",
	    cfg->openai_api_base_url);
	if (provider_openai_auth(cfg, req, err) == -1)
		return -1;
	buf_adds(&req->body, "{\"model\":\"");
	buf_add_json_escaped(&req->body, model, strlen(model));
	buf_adds(&req->body, "\",\"prompt\":\"");
	buf_add_json_escaped(&req->body, pp->prompt, strlen(pp->prompt));
	/* The size is the aspect's native size from provider.c's table. */
	buf_addf(&req->body, "\",\"n\":%d,\"size\":\"%ux%u\"}", pp->count,
	    pp->aspect->width, pp->aspect->height);
	return 0;
}

/*
 * data[] holds the images.  OpenAI refuses unsafe prompts with a 400
 * rather than dropping images, but if fewer than n come back the rest are
 * reported as filtered, never invented.
 */
int
provider_openai_parse(const struct provider_params *pp,
    struct json_object *root, struct provider_output *out, struct ig_err *err)
{
	struct json_object	*data, *u;
	long long		 in, o, tot;

	provider_http_set_model(out, provider_http_member(root, "model",
	    json_type_string));
	data = provider_http_member(root, "data", json_type_array);
	if (data == NULL)
		return ig_err_set(err, IG_ETRANSIENT, NULL,
		    "provider returned an answer without data");
	if (provider_http_take_images(data, "b64_json", pp->count, out,
	    err) == -1)
		return -1;
	u = provider_http_member(root, "usage", json_type_object);
	if (u != NULL) {
		in = provider_http_count(u, "input_tokens");
		o = provider_http_count(u, "output_tokens");
		tot = provider_http_count(u, "total_tokens");
		if (in >= 0 || o >= 0 || tot >= 0) {
			out->has_usage = 1;
			out->input_tokens += in > 0 ? in : 0;
			out->output_tokens += o > 0 ? o : 0;
			out->total_tokens += tot >= 0 ? tot :
			    (in > 0 ? in : 0) + (o > 0 ? o : 0);
		}
	}
	return 0;
}
