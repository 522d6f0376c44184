/*
 * test_provider_http.c - the provider wire formats (provider_http.c,
 * provider_google.c, provider_openai.c): requests built for each provider
 * (URL, headers, JSON body, the key only in its header), answers parsed
 * from realistic bodies carrying real PNGs made with png_encode_rgb,
 * refusals and filtered counts, usage, every kind of broken answer, strict
 * base64, and the classification of error answers.
 */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "provider_http.h"

#define T_GKEY	"AIzaSyT3stK3yT3stK3yT3stK3yT3stK3yT3s"
#define T_OKEY	"sk-proj-T3stK3yT3stK3yT3stK3y"

static char t_gkey[] = T_GKEY, t_okey[] = T_OKEY;
static char t_gbase[] = "http://127.0.0.1:9999", t_obase[] =
    "http://127.0.0.1:9998";
static char t_imodel[] = "imagen-4.0-generate-001";
static char t_gmodel[] = "gemini-2.5-flash-image";
static char t_omodel[] = "gpt-image-1";

static struct config
t_cfg(void)
{
	struct config	 c;

	memset(&c, 0, sizeof(c));
	c.google_api_key = t_gkey;
	c.google_api_base_url = t_gbase;
	c.imagen_model = t_imodel;
	c.gemini_model = t_gmodel;
	c.openai_api_key = t_okey;
	c.openai_api_base_url = t_obase;
	c.openai_model = t_omodel;
	return c;
}

static struct provider_params
t_params(const struct provider_info *p, const char *ratio, int count)
{
	struct provider_params	 pp;

	memset(&pp, 0, sizeof(pp));
	pp.prompt = "a red \"fox\"\nin snow";
	pp.count = count;
	pp.aspect = provider_aspect_find(p, ratio, strlen(ratio));
	cr_assert_not_null(pp.aspect, "%s has no %s", p->name, ratio);
	return pp;
}

/* A real PNG, w x h, a gradient so that the images differ. */
static uint8_t *
t_png(unsigned w, unsigned h, size_t *len)
{
	uint8_t		*px, *out = NULL;
	unsigned	 x, y;

	px = malloc((size_t)w * h * 3);
	cr_assert_not_null(px);
	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++) {
			px[(y * w + x) * 3] = (uint8_t)x;
			px[(y * w + x) * 3 + 1] = (uint8_t)y;
			px[(y * w + x) * 3 + 2] = 0x80;
		}
	cr_assert_eq(png_encode_rgb(px, w, h, &out, len), 0);
	free(px);
	return out;
}

/* Standard base64 with padding, written independently of the decoder. */
static char *
t_b64(const uint8_t *d, size_t n)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char	*s = malloc((n + 2) / 3 * 4 + 1), *o = s;
	size_t	 i;

	cr_assert_not_null(s);
	for (i = 0; i + 2 < n; i += 3) {
		*o++ = a[d[i] >> 2];
		*o++ = a[(d[i] & 3) << 4 | d[i + 1] >> 4];
		*o++ = a[(d[i + 1] & 15) << 2 | d[i + 2] >> 6];
		*o++ = a[d[i + 2] & 63];
	}
	if (n - i == 1) {
		*o++ = a[d[i] >> 2];
		*o++ = a[(d[i] & 3) << 4];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		*o++ = a[d[i] >> 2];
		*o++ = a[(d[i] & 3) << 4 | d[i + 1] >> 4];
		*o++ = a[(d[i + 1] & 15) << 2];
		*o++ = '=';
	}
	*o = '\0';
	return s;
}

static char *
t_png_b64(unsigned w, unsigned h)
{
	size_t	 len;
	uint8_t	*png = t_png(w, h, &len);
	char	*s = t_b64(png, len);

	free(png);
	return s;
}

/* printf into a fresh heap string. */
static char *
t_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
t_fmt(const char *fmt, ...)
{
	va_list	 ap;
	int	 n;
	char	*s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	s = malloc((size_t)n + 1);
	cr_assert_not_null(s);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static const char *
t_header(const struct http_request *r, const char *prefix)
{
	int	 i;

	for (i = 0; i < r->nheaders; i++)
		if (strncmp(r->headers[i].data, prefix, strlen(prefix)) == 0)
			return r->headers[i].data + strlen(prefix);
	return NULL;
}

static struct json_object *
t_body_json(const struct http_request *r)
{
	struct json_object	*o = json_tokener_parse(buf_cstr(&r->body));

	cr_assert_not_null(o, "body is not JSON: %s", buf_cstr(&r->body));
	return o;
}

/* Follows a path like "generationConfig.imageConfig.aspectRatio". */
static struct json_object *
t_get(struct json_object *o, const char *path)
{
	char	 key[64];
	size_t	 n;

	while (o != NULL && *path != '\0') {
		n = strcspn(path, ".");
		cr_assert_lt(n, sizeof(key));
		memcpy(key, path, n);
		key[n] = '\0';
		if (key[0] >= '0' && key[0] <= '9')
			o = json_object_array_get_idx(o, (size_t)atoi(key));
		else if (!json_object_object_get_ex(o, key, &o))
			o = NULL;
		path += n + (path[n] == '.');
	}
	return o;
}

static void
t_build(const char *name, const struct provider_params *pp, int call,
    struct http_request *r)
{
	struct config		 c = t_cfg();
	struct ig_err		 err = IG_ERR_INIT;

	http_request_init(r, "POST", 64 * 1024);
	cr_assert_eq(provider_http_build(provider_find(name), &c, pp, call, r,
	    &err), 0, "%s", err.msg);
	cr_assert(http_request_ok(r));
}

static int
t_parse(const char *name, const struct provider_params *pp, int call,
    const char *body, struct provider_output *out, struct ig_err *err)
{
	return provider_http_parse(provider_find(name), pp, call, body,
	    strlen(body), out, err);
}

Test(provider_http, calls_per_provider)
{
	cr_assert_eq(provider_http_calls(provider_find("local"), 3), 0);
	cr_assert_eq(provider_http_calls(provider_find("imagen"), 3), 1);
	cr_assert_eq(provider_http_calls(provider_find("gemini"), 3), 3);
	cr_assert_eq(provider_http_calls(provider_find("openai"), 4), 1);
	cr_assert_eq(provider_http_calls(provider_find("gemini"), 0), 0);
}

Test(provider_http, build_imagen)
{
	const struct provider_info	*p = provider_find("imagen");
	struct provider_params		 pp = t_params(p, "16:9", 3);
	struct http_request		 r;
	struct json_object		*b;

	t_build("imagen", &pp, 0, &r);
	cr_assert_str_eq(r.method, "POST");
	cr_assert_str_eq(buf_cstr(&r.url), "http://127.0.0.1:9999/v1beta/"
	    "models/imagen-4.0-generate-001:predict");
	cr_assert_str_eq(t_header(&r, "x-goog-api-key: "), T_GKEY);
	cr_assert_str_eq(t_header(&r, "Content-Type: "), "application/json");
	cr_assert_null(t_header(&r, "Authorization:"));
	cr_assert_null(strstr(buf_cstr(&r.url), T_GKEY));
	cr_assert_null(strstr(buf_cstr(&r.body), T_GKEY));
	b = t_body_json(&r);
	cr_assert_str_eq(json_object_get_string(t_get(b, "instances.0.prompt")),
	    pp.prompt);
	cr_assert_eq(json_object_get_int(t_get(b, "parameters.sampleCount")),
	    3);
	cr_assert_str_eq(json_object_get_string(t_get(b,
	    "parameters.aspectRatio")), "16:9");
	/* The Gemini API takes neither for Imagen. */
	cr_assert_null(t_get(b, "parameters.seed"));
	cr_assert_null(t_get(b, "parameters.negativePrompt"));
	json_object_put(b);
	http_request_release(&r);
}

Test(provider_http, build_gemini_one_call_per_image_with_seed)
{
	const struct provider_info	*p = provider_find("gemini");
	struct provider_params		 pp = t_params(p, "21:9", 2);
	struct http_request		 r;
	struct json_object		*b, *m;

	pp.has_seed = 1;
	pp.seed = 41;
	t_build("gemini", &pp, 1, &r);
	cr_assert_str_eq(buf_cstr(&r.url), "http://127.0.0.1:9999/v1beta/"
	    "models/gemini-2.5-flash-image:generateContent");
	cr_assert_str_eq(t_header(&r, "x-goog-api-key: "), T_GKEY);
	cr_assert_null(strstr(buf_cstr(&r.url), "key="));
	b = t_body_json(&r);
	cr_assert_str_eq(json_object_get_string(t_get(b,
	    "contents.0.parts.0.text")), pp.prompt);
	cr_assert_str_eq(json_object_get_string(t_get(b,
	    "contents.0.role")), "user");
	m = t_get(b, "generationConfig.responseModalities");
	cr_assert_eq(json_object_array_length(m), 1);
	cr_assert_str_eq(json_object_get_string(t_get(m, "0")), "IMAGE");
	cr_assert_str_eq(json_object_get_string(t_get(b,
	    "generationConfig.imageConfig.aspectRatio")), "21:9");
	/* Call 1 of a seeded generation: seed + 1. */
	cr_assert_eq(json_object_get_int64(t_get(b, "generationConfig.seed")),
	    42);
	json_object_put(b);
	http_request_release(&r);

	/* The top of our seed range is sent as the int32 it spells. */
	pp.seed = 4294967295ULL;
	t_build("gemini", &pp, 0, &r);
	b = t_body_json(&r);
	cr_assert_eq(json_object_get_int64(t_get(b, "generationConfig.seed")),
	    -1);
	json_object_put(b);
	http_request_release(&r);

	pp.has_seed = 0;
	t_build("gemini", &pp, 0, &r);
	b = t_body_json(&r);
	cr_assert_null(t_get(b, "generationConfig.seed"));
	json_object_put(b);
	http_request_release(&r);
}

Test(provider_http, build_openai)
{
	const struct provider_info	*p = provider_find("openai");
	struct provider_params		 pp = t_params(p, "3:2", 4);
	struct http_request		 r;
	struct json_object		*b;

	t_build("openai", &pp, 0, &r);
	cr_assert_str_eq(buf_cstr(&r.url),
	    "http://127.0.0.1:9998/v1/images/generations");
	cr_assert_str_eq(t_header(&r, "Authorization: Bearer "), T_OKEY);
	cr_assert_null(t_header(&r, "x-goog-api-key"));
	cr_assert_null(strstr(buf_cstr(&r.body), T_OKEY));
	cr_assert_null(strstr(buf_cstr(&r.url), T_OKEY));
	b = t_body_json(&r);
	cr_assert_str_eq(json_object_get_string(t_get(b, "model")),
	    "gpt-image-1");
	cr_assert_str_eq(json_object_get_string(t_get(b, "prompt")),
	    pp.prompt);
	cr_assert_eq(json_object_get_int(t_get(b, "n")), 4);
	cr_assert_str_eq(json_object_get_string(t_get(b, "size")),
	    "1536x1024");
	/* gpt-image-1 refuses response_format. */
	cr_assert_null(t_get(b, "response_format"));
	json_object_put(b);
	http_request_release(&r);
}

Test(provider_http, build_refusals)
{
	const struct provider_info	*im = provider_find("imagen");
	const struct provider_info	*op = provider_find("openai");
	struct provider_params		 pp = t_params(im, "1:1", 2);
	struct config			 c = t_cfg();
	struct http_request		 r;
	struct ig_err			 err = IG_ERR_INIT;
	char				 badkey[] = "abc\r\nX-Evil: 1";
	char				 nokey[] = "";
	char				 badmodel[] = "../x";

	http_request_init(&r, "POST", 64 * 1024);
	pp.has_seed = 1;
	cr_assert_eq(provider_http_build(im, &c, &pp, 0, &r, &err), -1);
	cr_assert_eq(err.code, IG_EPERMANENT);
	pp.has_seed = 0;
	pp.negative_prompt = "blur";
	cr_assert_eq(provider_http_build(im, &c, &pp, 0, &r, &err), -1);
	cr_assert_eq(err.code, IG_EPERMANENT);
	pp.negative_prompt = NULL;
	cr_assert_eq(provider_http_build(im, &c, &pp, 1, &r, &err), -1);
	cr_assert_eq(err.code, IG_EINTERNAL);
	cr_assert_eq(provider_http_build(provider_find("local"), &c, &pp, 0, &r,
	    &err), -1);
	pp.count = 5;
	cr_assert_eq(provider_http_build(im, &c, &pp, 0, &r, &err), -1);
	pp.count = 1;
	c.google_api_key = badkey;
	cr_assert_eq(provider_http_build(im, &c, &pp, 0, &r, &err), -1);
	cr_assert_null(strstr(err.msg, "abc"));
	c.google_api_key = nokey;
	cr_assert_eq(provider_http_build(im, &c, &pp, 0, &r, &err), -1);
	c = t_cfg();
	c.imagen_model = badmodel;
	cr_assert_eq(provider_http_build(im, &c, &pp, 0, &r, &err), -1);
	c = t_cfg();
	c.openai_api_key = nokey;
	pp.aspect = &op->aspects[0];
	cr_assert_eq(provider_http_build(op, &c, &pp, 0, &r, &err), -1);
	cr_assert(strstr(err.msg, "OPENAI_API_KEY") != NULL);
	http_request_release(&r);
}

Test(provider_http, build_body_too_big_for_buffer)
{
	const struct provider_info	*p = provider_find("openai");
	struct provider_params		 pp = t_params(p, "1:1", 1);
	struct config			 c = t_cfg();
	struct http_request		 r;
	struct ig_err			 err = IG_ERR_INIT;

	http_request_init(&r, "POST", 16);
	cr_assert_eq(provider_http_build(p, &c, &pp, 0, &r, &err), -1);
	cr_assert_eq(err.code, IG_EINTERNAL);
	http_request_release(&r);
}

Test(provider_http, parse_imagen_fewer_than_asked)
{
	const struct provider_info	*p = provider_find("imagen");
	struct provider_params		 pp = t_params(p, "16:9", 4);
	struct provider_output		 out;
	struct ig_err			 err = IG_ERR_INIT;
	char				*a = t_png_b64(64, 36);
	char				*b = t_png_b64(32, 18), *body;

	memset(&out, 0, sizeof(out));
	/* Two images, one filtered with a reason, one simply missing. */
	body = t_fmt("{\"predictions\":[{\"bytesBase64Encoded\":\"%s\","
	    "\"mimeType\":\"image/png\"},{\"raiFilteredReason\":\"Unable to "
	    "show generated images. (Support code: 17301594)\"},"
	    "{\"mimeType\":\"image/png\",\"bytesBase64Encoded\":\"%s\"}],"
	    "\"modelVersion\":\"imagen-4.0-generate-001\"}\n", a, b);
	cr_assert_eq(t_parse("imagen", &pp, 0, body, &out, &err), 0, "%s",
	    err.msg);
	cr_assert_eq(out.nimages, 2);
	cr_assert_eq(out.filtered, 2);
	cr_assert_eq(out.images[0].info.kind, PNG_KIND_PNG);
	cr_assert_eq(out.images[0].info.width, 64);
	cr_assert_eq(out.images[0].info.height, 36);
	cr_assert_str_eq(out.images[0].info.mime, "image/png");
	cr_assert_eq(out.images[1].info.width, 32);
	cr_assert_eq(out.has_usage, 0);
	cr_assert_str_eq(out.model, "imagen-4.0-generate-001");
	provider_output_release(&out);
	cr_assert_eq(out.nimages, 0);
	free(body);

	/* Everything filtered: Imagen answers {}. */
	memset(&out, 0, sizeof(out));
	cr_assert_eq(t_parse("imagen", &pp, 0, "{}", &out, &err), 0);
	cr_assert_eq(out.nimages, 0);
	cr_assert_eq(out.filtered, 4);
	free(a);
	free(b);
}

Test(provider_http, parse_imagen_too_many_images)
{
	const struct provider_info	*p = provider_find("imagen");
	struct provider_params		 pp = t_params(p, "1:1", 4);
	struct provider_output		 out;
	struct ig_err			 err = IG_ERR_INIT;
	char				*a = t_png_b64(8, 8), *body;

	memset(&out, 0, sizeof(out));
	body = t_fmt("{\"predictions\":[{\"bytesBase64Encoded\":\"%s\"},"
	    "{\"bytesBase64Encoded\":\"%s\"},{\"bytesBase64Encoded\":\"%s\"},"
	    "{\"bytesBase64Encoded\":\"%s\"},{\"bytesBase64Encoded\":\"%s\"}]}",
	    a, a, a, a, a);
	cr_assert_eq(t_parse("imagen", &pp, 0, body, &out, &err), -1);
	cr_assert_eq(out.nimages, 0);
	provider_output_release(&out);
	free(body);

	/* More than asked but within bounds: only what was asked is kept. */
	pp.count = 1;
	body = t_fmt("{\"predictions\":[{\"bytesBase64Encoded\":\"%s\"},"
	    "{\"bytesBase64Encoded\":\"%s\"}]}", a, a);
	cr_assert_eq(t_parse("imagen", &pp, 0, body, &out, &err), 0);
	cr_assert_eq(out.nimages, 1);
	cr_assert_eq(out.filtered, 0);
	provider_output_release(&out);
	free(body);
	free(a);
}

static char *
t_gemini_image(const char *b64, long in, long cand, long tot)
{
	return t_fmt("{\"candidates\":[{\"content\":{\"parts\":["
	    "{\"text\":\"Here is your image.\"},{\"inlineData\":{\"mimeType\":"
	    "\"image/png\",\"data\":\"%s\"}}],\"role\":\"model\"},"
	    "\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":"
	    "{\"promptTokenCount\":%ld,\"candidatesTokenCount\":%ld,"
	    "\"totalTokenCount\":%ld,\"promptTokensDetails\":[{\"modality\":"
	    "\"TEXT\",\"tokenCount\":%ld}]},\"modelVersion\":"
	    "\"gemini-2.5-flash-image\",\"responseId\":\"abc123\"}", b64, in,
	    cand, tot, in);
}

Test(provider_http, parse_gemini_images_and_usage_over_calls)
{
	const struct provider_info	*p = provider_find("gemini");
	struct provider_params		 pp = t_params(p, "1:1", 2);
	struct provider_output		 out;
	struct ig_err			 err = IG_ERR_INIT;
	char				*a = t_png_b64(16, 16), *b1, *b2;

	memset(&out, 0, sizeof(out));
	b1 = t_gemini_image(a, 9, 1290, 1299);
	b2 = t_gemini_image(a, 9, 1290, 1299);
	cr_assert_eq(t_parse("gemini", &pp, 0, b1, &out, &err), 0, "%s",
	    err.msg);
	cr_assert_eq(t_parse("gemini", &pp, 1, b2, &out, &err), 0, "%s",
	    err.msg);
	cr_assert_eq(out.nimages, 2);
	cr_assert_eq(out.filtered, 0);
	cr_assert_eq(out.has_usage, 1);
	cr_assert_eq(out.input_tokens, 18);
	cr_assert_eq(out.output_tokens, 2580);
	cr_assert_eq(out.total_tokens, 2598);
	cr_assert_str_eq(out.model, "gemini-2.5-flash-image");
	cr_assert_eq(out.images[1].info.width, 16);
	provider_output_release(&out);
	free(b1);
	free(b2);
	free(a);
}

Test(provider_http, parse_gemini_refusals)
{
	const struct provider_info	*p = provider_find("gemini");
	struct provider_params		 pp = t_params(p, "1:1", 4);
	struct provider_output		 out;
	struct ig_err			 err = IG_ERR_INIT;
	static const char *const refusals[] = {
		/* finishReason IMAGE_SAFETY, no content */
		"{\"candidates\":[{\"finishReason\":\"IMAGE_SAFETY\","
		"\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":7,"
		"\"totalTokenCount\":7}}",
		/* NO_IMAGE */
		"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"no\"}]},"
		"\"finishReason\":\"NO_IMAGE\"}]}",
		/* the prompt blocked */
		"{\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"},"
		"\"usageMetadata\":{\"promptTokenCount\":5,"
		"\"totalTokenCount\":5}}",
		/* text only, finishReason STOP */
		"{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"I can't "
		"make that.\"}],\"role\":\"model\"},"
		"\"finishReason\":\"STOP\"}]}",
		/* no candidates at all */
		"{\"candidates\":[]}",
		"{\"candidates\":[{\"finishReason\":\"SAFETY\"}]}",
	};
	size_t				 i;

	memset(&out, 0, sizeof(out));
	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		cr_assert_eq(t_parse("gemini", &pp, (int)(i % 4), refusals[i],
		    &out, &err), 0, "case %zu: %s", i, err.msg);
	cr_assert_eq(out.nimages, 0);
	cr_assert_eq(out.filtered, 6);
	cr_assert_eq(out.has_usage, 1);
	cr_assert_eq(out.input_tokens, 12);
	cr_assert_eq(out.total_tokens, 12);
}

Test(provider_http, parse_gemini_skips_thoughts_and_reads_snake_case)
{
	const struct provider_info	*p = provider_find("gemini");
	struct provider_params		 pp = t_params(p, "1:1", 1);
	struct provider_output		 out;
	struct ig_err			 err = IG_ERR_INIT;
	char				*a = t_png_b64(10, 20);
	char				*b = t_png_b64(30, 40), *body;

	memset(&out, 0, sizeof(out));
	body = t_fmt("{\"candidates\":[{\"content\":{\"parts\":["
	    "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"%s\"},"
	    "\"thought\":true},{\"inline_data\":{\"mime_type\":\"image/png\","
	    "\"data\":\"%s\"}}]},\"finishReason\":\"STOP\"}]}", a, b);
	cr_assert_eq(t_parse("gemini", &pp, 0, body, &out, &err), 0, "%s",
	    err.msg);
	cr_assert_eq(out.nimages, 1);
	cr_assert_eq(out.images[0].info.width, 30);
	cr_assert_eq(out.images[0].info.height, 40);
	provider_output_release(&out);
	free(body);
	free(a);
	free(b);
}

Test(provider_http, parse_openai)
{
	const struct provider_info	*p = provider_find("openai");
	struct provider_params		 pp = t_params(p, "2:3", 3);
	struct provider_output		 out;
	struct ig_err			 err = IG_ERR_INIT;
	char				*a = t_png_b64(20, 30), *body;

	memset(&out, 0, sizeof(out));
	body = t_fmt("{\"created\":1713833628,\"background\":\"opaque\","
	    "\"data\":[{\"b64_json\":\"%s\"},{\"b64_json\":\"%s\"}],"
	    "\"output_format\":\"png\",\"quality\":\"high\",\"size\":"
	    "\"1024x1536\",\"usage\":{\"input_tokens\":50,"
	    "\"input_tokens_details\":{\"image_tokens\":0,\"text_tokens\":50},"
	    "\"output_tokens\":12480,\"total_tokens\":12530}}", a, a);
	cr_assert_eq(t_parse("openai", &pp, 0, body, &out, &err), 0, "%s",
	    err.msg);
	cr_assert_eq(out.nimages, 2);
	cr_assert_eq(out.filtered, 1);
	cr_assert_eq(out.has_usage, 1);
	cr_assert_eq(out.input_tokens, 50);
	cr_assert_eq(out.output_tokens, 12480);
	cr_assert_eq(out.total_tokens, 12530);
	cr_assert_eq(out.images[1].info.height, 30);
	provider_output_release(&out);
	free(body);

	cr_assert_eq(t_parse("openai", &pp, 0, "{\"created\":1}", &out, &err),
	    -1);
	cr_assert_eq(err.code, IG_ETRANSIENT);
	free(a);
}

Test(provider_http, parse_malformed_is_transient)
{
	const struct provider_info	*p = provider_find("imagen");
	struct provider_params		 pp = t_params(p, "1:1", 1);
	struct provider_output		 out;
	struct ig_err			 err = IG_ERR_INIT;
	char				 deep[200];
	static const char *const bad[] = {
		"", "{", "{\"predictions\":[{\"bytesBase64Encoded\":\"iVBO",
		"[]", "null", "\"x\"", "{} {}", "{}x", "{\"a\":1,}",
		"{\"a\":tru}", "{\"a\":\"\\x\"}",
	};
	size_t				 i;

	memset(&out, 0, sizeof(out));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ig_err_clear(&err);
		cr_assert_eq(provider_http_parse(p, &pp, 0, bad[i],
		    strlen(bad[i]), &out, &err), -1, "case %zu", i);
		cr_assert_eq(err.code, IG_ETRANSIENT, "case %zu", i);
	}
	/* Nesting past the depth limit. */
	memset(deep, '[', sizeof(deep));
	deep[0] = '{';
	deep[1] = '"';
	deep[2] = 'a';
	deep[3] = '"';
	deep[4] = ':';
	cr_assert_eq(provider_http_parse(p, &pp, 0, deep, sizeof(deep), &out,
	    &err), -1);
	cr_assert_eq(err.code, IG_ETRANSIENT);
	/* Trailing whitespace is fine. */
	cr_assert_eq(t_parse("imagen", &pp, 0, "{}\r\n ", &out, &err), 0);
	cr_assert_eq(out.nimages, 0);
}

Test(provider_http, parse_bad_images)
{
	const struct provider_info	*p = provider_find("openai");
	struct provider_params		 pp = t_params(p, "1:1", 1);
	struct provider_output		 out;
	struct ig_err			 err = IG_ERR_INIT;
	char				*text, *body;
	static const uint8_t		 notimg[] = "not an image at all";

	memset(&out, 0, sizeof(out));
	cr_assert_eq(t_parse("openai", &pp, 0,
	    "{\"data\":[{\"b64_json\":\"iVBORw0KGgo!\"}]}", &out, &err), -1);
	cr_assert_eq(err.code, IG_ETRANSIENT);
	cr_assert(strstr(err.msg, "base64") != NULL, "%s", err.msg);
	cr_assert_eq(t_parse("openai", &pp, 0,
	    "{\"data\":[{\"b64_json\":\"\"}]}", &out, &err), -1);

	text = t_b64(notimg, sizeof(notimg) - 1);
	body = t_fmt("{\"data\":[{\"b64_json\":\"%s\"}]}", text);
	cr_assert_eq(t_parse("openai", &pp, 0, body, &out, &err), -1);
	cr_assert_eq(err.code, IG_ETRANSIENT);
	cr_assert_str_eq(err.msg, "provider returned an unreadable image");
	cr_assert_eq(out.nimages, 0);
	free(body);
	free(text);
}

Test(provider_http, parse_truncated_png_is_unreadable)
{
	const struct provider_info	*p = provider_find("gemini");
	struct provider_params		 pp = t_params(p, "1:1", 1);
	struct provider_output		 out;
	struct ig_err			 err = IG_ERR_INIT;
	size_t				 len;
	uint8_t				*png = t_png(8, 8, &len);
	char				*a, *body;

	memset(&out, 0, sizeof(out));
	a = t_b64(png, 20);	/* the signature and part of IHDR */
	body = t_gemini_image(a, 1, 1, 2);
	cr_assert_eq(t_parse("gemini", &pp, 0, body, &out, &err), -1);
	cr_assert_eq(err.code, IG_ETRANSIENT);
	cr_assert_eq(out.filtered, 0);
	free(body);
	free(a);
	free(png);
}

Test(provider_http, parse_oversized_image)
{
	const struct provider_info	*p = provider_find("openai");
	struct provider_params		 pp = t_params(p, "1:1", 1);
	struct provider_output		 out;
	struct ig_err			 err = IG_ERR_INIT;
	size_t				 n = (BUF_MAX_IMAGE / 3 + 1) * 4;
	const char			*pre = "{\"data\":[{\"b64_json\":\"";
	const char			*post = "\"}]}";
	char				*body;

	/* 32 MiB + 2 bytes once decoded: refused before any decoding. */
	body = malloc(strlen(pre) + n + strlen(post) + 1);
	cr_assert_not_null(body);
	memcpy(body, pre, strlen(pre));
	memset(body + strlen(pre), 'A', n);
	memcpy(body + strlen(pre) + n, post, strlen(post) + 1);
	memset(&out, 0, sizeof(out));
	cr_assert_eq(t_parse("openai", &pp, 0, body, &out, &err), -1);
	cr_assert_eq(err.code, IG_EPERMANENT);
	cr_assert(strstr(err.msg, "larger than 32 MiB") != NULL, "%s",
	    err.msg);
	free(body);
}

Test(provider_http, base64_strict)
{
	static const struct {
		const char	*in, *out;
	} good[] = {
		{ "Zg==", "f" }, { "Zm8=", "fo" }, { "Zm9v", "foo" },
		{ "Zm9vYg==", "foob" }, { "Zm9vYmE=", "fooba" },
		{ "Zm9vYmFy", "foobar" }, { "+/+/", "\xfb\xff\xbf" },
	};
	static const char *const bad[] = {
		"", "Zg", "Zg=", "Zh==", "Zm9=", "Z===", "====", "Zm9v\n",
		"Zm 9", "Zm9v====", "=Zm9", "Zm=v", "-_-_", "Zg==Zg==",
		"Zm9vYmFy=",
	};
	uint8_t		*d;
	size_t		 i, n;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(provider_base64_decode(good[i].in,
		    strlen(good[i].in), &d, &n), 0, "%s", good[i].in);
		cr_assert_eq(n, strlen(good[i].out));
		cr_assert(memcmp(d, good[i].out, n) == 0, "%s", good[i].in);
		free(d);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(provider_base64_decode(bad[i], strlen(bad[i]), &d,
		    &n), -1, "accepted \"%s\"", bad[i]);
}

Test(provider_http, base64_round_trip)
{
	uint8_t		 src[256], *d;
	char		*s;
	size_t		 i, n, len;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 3);
	for (len = 1; len <= sizeof(src); len++) {
		s = t_b64(src, len);
		cr_assert_eq(provider_base64_decode(s, strlen(s), &d, &n), 0);
		cr_assert_eq(n, len);
		cr_assert(memcmp(d, src, len) == 0);
		free(d);
		free(s);
	}
}

static const char t_google_badkey[] =
    "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass a "
    "valid API key.\",\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"@type\":"
    "\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":"
    "\"API_KEY_INVALID\",\"domain\":\"googleapis.com\",\"metadata\":"
    "{\"service\":\"generativelanguage.googleapis.com\"}},{\"@type\":"
    "\"type.googleapis.com/google.rpc.DebugInfo\",\"detail\":\"Invalid API "
    "key: " T_GKEY "\"}]}}";
static const char t_google_nokey[] =
    "{\"error\":{\"code\":403,\"message\":\"Method doesn't allow unregistered "
    "callers (callers without established identity). Please use API Key or "
    "other form of API consumer identity to call this API.\",\"status\":"
    "\"PERMISSION_DENIED\"}}";
static const char t_openai_badkey[] =
    "{\"error\":{\"message\":\"Incorrect API key provided: "
    "sk-proj-********************3y. You can find your API key at "
    "https://platform.openai.com/account/api-keys.\",\"type\":"
    "\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}";
static const char t_openai_moderation[] =
    "{\"error\":{\"message\":\"Your request was rejected by the safety "
    "system. If you believe this is an error, contact us at "
    "help.openai.com and include the request ID req_123. "
    "safety_violations=[violence].\",\"type\":\"image_generation_user_error\","
    "\"param\":null,\"code\":\"moderation_blocked\"}}";
static const char t_imagen_safety[] =
    "{\"error\":{\"code\":400,\"message\":\"Image generation failed with the "
    "following error: The prompt could not be submitted. This prompt "
    "contains sensitive words that violate Google's Responsible AI "
    "practices. Try rephrasing the prompt. If you think this was an error, "
    "send feedback. Support codes: 42876398\",\"status\":"
    "\"INVALID_ARGUMENT\"}}";
static const char t_openai_size[] =
    "{\"error\":{\"message\":\"Invalid value: '1000x1000'. Supported values "
    "are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.\",\"type\":"
    "\"invalid_request_error\",\"param\":\"size\",\"code\":"
    "\"invalid_value\"}}";
static const char t_google_429[] =
    "{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted "
    "(e.g. check quota).\",\"status\":\"RESOURCE_EXHAUSTED\"}}";
static const char t_openai_quota[] =
    "{\"error\":{\"message\":\"You exceeded your current quota, please check "
    "your plan and billing details.\",\"type\":\"insufficient_quota\","
    "\"param\":null,\"code\":\"insufficient_quota\"}}";
static const char t_openai_rate[] =
    "{\"error\":{\"message\":\"Rate limit reached for gpt-image-1 on images "
    "per minute (IPM): Limit 5, Used 5, Requested 1.\",\"type\":"
    "\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
static const char t_google_500[] =
    "{\"error\":{\"code\":500,\"message\":\"An internal error has occurred. "
    "Please retry or report in https://developers.generativeai.google/guide/"
    "troubleshooting\",\"status\":\"INTERNAL\"}}";
static const char t_google_404[] =
    "{\"error\":{\"code\":404,\"message\":\"models/imagen-9 is not found for "
    "API version v1beta, or is not supported for predict.\",\"status\":"
    "\"NOT_FOUND\"}}";

Test(provider_http, error_classification)
{
	static const struct {
		const char	*provider;
		long		 status, retry_after;
		const char	*body;
		enum ig_errc	 code;
		const char	*api_code;	/* NULL: the default */
		long		 want_retry;
		const char	*msg_has;
	} cases[] = {
		{ "imagen", 400, 0, t_google_badkey, IG_EPERMANENT,
		    "provider_rejected", 0, "GEMINI_API_KEY" },
		{ "gemini", 403, 0, t_google_nokey, IG_EPERMANENT,
		    "provider_rejected", 0, "PERMISSION_DENIED" },
		{ "openai", 401, 0, t_openai_badkey, IG_EPERMANENT,
		    "provider_rejected", 0, "invalid_api_key" },
		{ "openai", 400, 0, t_openai_moderation, IG_EPERMANENT,
		    "content_filtered", 0, "rejected by the safety system" },
		{ "imagen", 400, 0, t_imagen_safety, IG_EPERMANENT,
		    "content_filtered", 0, "Responsible AI" },
		{ "openai", 400, 0, t_openai_size, IG_EPERMANENT,
		    "provider_rejected", 0, "Invalid value" },
		{ "gemini", 429, 7, t_google_429, IG_ETRANSIENT, NULL, 7,
		    "Resource has been exhausted" },
		{ "imagen", 429, 0, t_google_429, IG_ETRANSIENT, NULL, 0,
		    "HTTP 429" },
		{ "openai", 429, 20, t_openai_rate, IG_ETRANSIENT, NULL, 20,
		    "Rate limit" },
		{ "openai", 429, 0, t_openai_quota, IG_EPERMANENT,
		    "provider_rejected", 0, "insufficient_quota" },
		{ "gemini", 500, 0, t_google_500, IG_ETRANSIENT, NULL, 0,
		    "internal error" },
		{ "imagen", 503, 30, "", IG_ETRANSIENT, NULL, 30, "HTTP 503" },
		{ "openai", 502, 0, "<html><body>Bad gateway</body></html>",
		    IG_ETRANSIENT, NULL, 0, "HTTP 502" },
		{ "openai", 408, 0, NULL, IG_ETRANSIENT, NULL, 0, "HTTP 408" },
		{ "imagen", 404, 0, t_google_404, IG_EPERMANENT,
		    "provider_rejected", 0, "is not found" },
		{ "gemini", 400, 0, "{\"error\":{\"code\":400,\"message\":"
		    "\"Invalid JSON payload received.\",\"status\":"
		    "\"INVALID_ARGUMENT\"}}",
		    IG_EPERMANENT, "provider_rejected", 0, "Invalid JSON" },
	};
	struct ig_err	 err;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&err, 0, sizeof(err));
		cr_assert_eq(provider_http_error(
		    provider_find(cases[i].provider), cases[i].status,
		    cases[i].retry_after, cases[i].body,
		    cases[i].body ? strlen(cases[i].body) : 0, &err), -1);
		cr_assert_eq(err.code, cases[i].code, "case %zu: %s", i,
		    err.msg);
		if (cases[i].api_code == NULL)
			cr_assert_null(err.api_code, "case %zu", i);
		else
			cr_assert_str_eq(err.api_code, cases[i].api_code,
			    "case %zu", i);
		cr_assert_null(err.field);
		cr_assert_eq(err.retry_after, cases[i].want_retry, "case %zu",
		    i);
		cr_assert(strstr(err.msg, cases[i].msg_has) != NULL,
		    "case %zu: \"%s\" lacks \"%s\"", i, err.msg,
		    cases[i].msg_has);
		/* Never a key, not even the masked one OpenAI echoes. */
		cr_assert_null(strstr(err.msg, T_GKEY), "case %zu", i);
		cr_assert_null(strstr(err.msg, "sk-"), "case %zu", i);
		cr_assert_null(strstr(err.msg, "<html>"), "case %zu", i);
	}
}

Test(provider_http, error_excerpt_is_short_printable_and_keyless)
{
	struct ig_err	 err;
	static const char pre[] =
	    "tab\\there\\u0001 \\u00e9 key AIzaSecretSecret end ";
	char		 body[4096], msg[3000];
	size_t		 i;

	for (i = 0; i < sizeof(msg) - 1; i++)
		msg[i] = (char)('a' + i % 26);
	msg[sizeof(msg) - 1] = '\0';
	memcpy(msg, pre, strlen(pre));
	snprintf(body, sizeof(body), "{\"error\":{\"code\":400,\"message\":"
	    "\"%s\",\"status\":\"FAILED_PRECONDITION\"}}", msg);
	memset(&err, 0, sizeof(err));
	provider_http_error(provider_find("gemini"), 400, 0, body,
	    strlen(body), &err);
	cr_assert_eq(err.code, IG_EPERMANENT);
	cr_assert_null(strstr(err.msg, "AIza"), "%s", err.msg);
	cr_assert(strstr(err.msg, "tab here ?? key *** end") != NULL, "%s",
	    err.msg);
	cr_assert(strstr(err.msg, "...") != NULL, "%s", err.msg);
	cr_assert_lt(strlen(err.msg), 40 + 170);
	for (i = 0; err.msg[i] != '\0'; i++)
		cr_assert(err.msg[i] >= 0x20 && err.msg[i] < 0x7f);
}
