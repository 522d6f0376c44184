/*
 * provider_google: the Generative Language API ("Gemini API") wire
 * formats, for Imagen (:predict) and for Gemini image models
 * (:generateContent).
 *
 * Followed:
 *  - https://ai.google.dev/gemini-api/docs/imagen — Imagen REST:
 *    POST /v1beta/models/{model}:predict with x-goog-api-key,
 *    {"instances":[{"prompt"}],"parameters":{"sampleCount","aspectRatio",
 *    "personGeneration"}}, answer predictions[].{bytesBase64Encoded,
 *    mimeType}.  The Gemini API takes no seed and no negativePrompt for
 *    Imagen (Vertex AI does), and aspectRatio is one of 1:1, 3:4, 4:3,
 *    9:16, 16:9.  A prediction filtered by Responsible-AI carries
 *    raiFilteredReason and no bytes (Vertex "imagen-api" reference), and
 *    by default filtered images are simply left out.
 *  - https://ai.google.dev/gemini-api/docs/image-generation and
 *    https://ai.google.dev/api/generate-content — generateContent with
 *    contents[].parts[].text, generationConfig.responseModalities,
 *    generationConfig.imageConfig.aspectRatio and generationConfig.seed;
 *    answer candidates[].content.parts[].inlineData{mimeType,data},
 *    candidates[].finishReason, promptFeedback.blockReason, usageMetadata
 *    {promptTokenCount,candidatesTokenCount,thoughtsTokenCount,
 *    totalTokenCount}, modelVersion.
 *  - FinishReason / BlockedReason enums as listed by the js-genai and
 *    google-genai references (IMAGE_SAFETY, IMAGE_PROHIBITED_CONTENT,
 *    IMAGE_RECITATION, IMAGE_OTHER, NO_IMAGE, SAFETY, PROHIBITED_CONTENT,
 *    BLOCKLIST, SPII, RECITATION, …).
 */
#include "provider_wire.h"

#include <string.h>

#include <json-c/json.h>

static int
provider_google_auth(const struct config *cfg, struct http_request *req,
    struct ig_err *err)
{
	return provider_http_key_header(req, cfg->google_api_key,
	    "GEMINI_API_KEY", "x-goog-api-key", "", err);
}

static void
provider_google_prompt(struct buf *b, const struct provider_params *pp)
{
	buf_add_json_escaped(b, pp->prompt, strlen(pp->prompt));
}

/*
 * Imagen: all images in one call.  personGeneration is left to the API's
 * default ("allow_adult"): "allow_all" is refused in some regions, and a
 * request that works everywhere is worth more than the extra option.
 */
static void
provider_google_imagen_body(const struct provider_params *pp, struct buf *b)
{
	buf_adds(b, "{\"instances\":[{\"prompt\":\"");
	provider_google_prompt(b, pp);
	buf_addf(b, "\"}],\"parameters\":{\"sampleCount\":%d,"
	    "\"aspectRatio\":\"", pp->count);
	buf_add_json_escaped(b, pp->aspect->ratio, strlen(pp->aspect->ratio));
	buf_adds(b, "\"}}");
}

/*
 * Gemini: one image per call.  generationConfig.seed is an int32 on the
 * wire while our seeds are 0..2^32-1, so the 32 bits are sent as the
 * int32 they spell.  Call i uses seed + i: the n images of a seeded
 * generation differ from each other, and each is reproducible.
 */
static void
provider_google_gemini_body(const struct provider_params *pp, int call,
    struct buf *b)
{
	uint32_t	 u;
	long long	 s;

	buf_adds(b, "{\"contents\":[{\"role\":\"user\",\"parts\":"
	    "[{\"text\":\"");
	provider_google_prompt(b, pp);
	buf_adds(b, "\"}]}],\"generationConfig\":{\"responseModalities\":"
	    "[\"IMAGE\"],\"imageConfig\":{\"aspectRatio\":\"");
	buf_add_json_escaped(b, pp->aspect->ratio, strlen(pp->aspect->ratio));
	buf_adds(b, "\"}");
	if (pp->has_seed) {
		u = (uint32_t)(pp->seed + (uint64_t)call);
		s = u <= 0x7fffffffU ? (long long)u :
		    (long long)u - 4294967296LL;
		buf_addf(b, ",\"seed\":%lld", s);
	}
	buf_adds(b, "}}");
}

int
provider_google_build(const struct provider_info *p, const struct config *cfg,
    const struct provider_params *pp, int call, struct http_request *req,
    struct ig_err *err)
{
	const char	*model, *verb;

	if (p->kind == PROVIDER_IMAGEN) {
		model = cfg->imagen_model;
		verb = "predict";
	} else {
		model = cfg->gemini_model;
		verb = "generateContent";
	}
	/* config.c validated both; checked again as they go into a path. */
	if (model == NULL || *model == '\0' || strspn(model,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "-._") != strlen(model))
		return ig_err_set(err, IG_EPERMANENT, NULL,
		    "the %s model name is not valid", p->name);
	buf_addf(&req->url, "%s/v1beta/models/%s:%s",
	    cfg->google_api_base_url, model, verb);
	if (provider_google_auth(cfg, req, err) == -1)
		return -1;
	if (p->kind == PROVIDER_IMAGEN)
		provider_google_imagen_body(pp, &req->body);
	else
		provider_google_gemini_body(pp, call, &req->body);
	return 0;
}

/*
 * Imagen answers with up to sampleCount predictions; the ones its safety
 * filters dropped are missing, or present with raiFilteredReason and no
 * bytes.  Entries without bytes (including the prompt's own safety
 * attributes, which Vertex appends when asked) are skipped, and whatever
 * did not come back counts as filtered.  An answer of {} means all were.
 */
static int
provider_google_imagen_parse(const struct provider_params *pp,
    struct json_object *root, struct provider_output *out, struct ig_err *err)
{
	struct json_object	*preds;

	provider_http_set_model(out, provider_http_member(root,
	    "modelVersion", json_type_string));
	preds = provider_http_member(root, "predictions", json_type_array);
	return provider_http_take_images(preds, "bytesBase64Encoded", pp->count,
	    out, err);
}

/* finishReason values that mean "no image, on purpose". */
static int
provider_google_refused(const char *reason)
{
	static const char *const refusals[] = { "IMAGE_SAFETY",
	    "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "IMAGE_OTHER",
	    "NO_IMAGE", "SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII",
	    "RECITATION" };
	size_t	 i;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (strcmp(reason, refusals[i]) == 0)
			return 1;
	return 0;
}

/*
 * The first image part of the first candidate, or NULL.  Parts marked
 * "thought" are the model's interim drafts (thinking image models), not
 * its answer.
 */
static struct json_object *
provider_google_image_part(struct json_object *cand)
{
	struct json_object	*parts, *part, *inl, *data, *th;
	size_t			 i, n;

	parts = provider_http_member(provider_http_member(cand, "content",
	    json_type_object), "parts", json_type_array);
	n = parts ? json_object_array_length(parts) : 0;
	for (i = 0; i < n; i++) {
		part = json_object_array_get_idx(parts, i);
		th = provider_http_member(part, "thought", json_type_boolean);
		if (th != NULL && json_object_get_boolean(th))
			continue;
		if ((inl = provider_http_member(part, "inlineData",
		    json_type_object)) == NULL)
			inl = provider_http_member(part, "inline_data",
			    json_type_object);
		if ((data = provider_http_member(inl, "data",
		    json_type_string)) != NULL)
			return data;
	}
	return NULL;
}

/* Token counts are summed over the n calls of one generation. */
static void
provider_google_usage(struct json_object *root, struct provider_output *out)
{
	struct json_object	*u;
	long long		 in, cand, th, tot;

	if ((u = provider_http_member(root, "usageMetadata",
	    json_type_object)) == NULL)
		return;
	in = provider_http_count(u, "promptTokenCount");
	cand = provider_http_count(u, "candidatesTokenCount");
	/* Thinking models bill their thoughts as output. */
	th = provider_http_count(u, "thoughtsTokenCount");
	tot = provider_http_count(u, "totalTokenCount");
	if (in < 0 && cand < 0 && tot < 0)
		return;
	out->has_usage = 1;
	out->input_tokens += in > 0 ? in : 0;
	out->output_tokens += (cand > 0 ? cand : 0) + (th > 0 ? th : 0);
	out->total_tokens += tot >= 0 ? tot :
	    (in > 0 ? in : 0) + (cand > 0 ? cand : 0) + (th > 0 ? th : 0);
}

/*
 * One call, at most one image.  A blocked prompt, a refusal finishReason,
 * or an answer without an image part is a refusal: counted, not an error
 * (the caller decides once all calls are in).
 */
static int
provider_google_gemini_parse(struct json_object *root,
    struct provider_output *out, struct ig_err *err)
{
	struct json_object	*fb, *cands, *cand, *fr, *data;

	provider_google_usage(root, out);
	provider_http_set_model(out, provider_http_member(root, "modelVersion",
	    json_type_string));
	fb = provider_http_member(root, "promptFeedback", json_type_object);
	if (provider_http_member(fb, "blockReason", json_type_string) != NULL)
		goto refused;
	cands = provider_http_member(root, "candidates", json_type_array);
	if (cands == NULL || json_object_array_length(cands) == 0)
		goto refused;
	cand = json_object_array_get_idx(cands, 0);
	fr = provider_http_member(cand, "finishReason", json_type_string);
	if (fr != NULL && provider_google_refused(json_object_get_string(fr)))
		goto refused;
	if ((data = provider_google_image_part(cand)) == NULL)
		goto refused;
	return provider_http_add_image(out, json_object_get_string(data),
	    (size_t)json_object_get_string_len(data), err);
refused:
	out->filtered++;
	return 0;
}

int
provider_google_parse(const struct provider_info *p,
    const struct provider_params *pp, int call, struct json_object *root,
    struct provider_output *out, struct ig_err *err)
{
	(void)call;
	if (p->kind == PROVIDER_IMAGEN)
		return provider_google_imagen_parse(pp, root, out, err);
	return provider_google_gemini_parse(root, out, err);
}
