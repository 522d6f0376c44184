/*
 * fuzz_json_body - the request body of POST /api/generate/text-to-image:
 * jsonx_parse_strict(), then generation_validate_policy() against every
 * provider table, with webhooks off, on, and on with http allowed, then
 * the error document the client would get.
 *
 * Invariants: a parse error is IG_EINPUT; an accepted request's metadata
 * document is strict JSON that, with the prompt added back, validates to
 * the same request (every accepted parameter round-trips); every error
 * reply is a JSON document in valid UTF-8 with status 400.
 */
#include "fuzz.h"

#include "api.h"
#include "generation.h"
#include "jsonx.h"
#include "log.h"
#include "provider.h"

static const char *const providers[] = { "local", "imagen", "gemini",
    "openai" };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup("fuzz_json_body", LOG_LEVEL__MAX);
	return 0;
}

static void
check_error_reply(const struct ig_err *err)
{
	struct api_resp	 resp;

	api_resp_init(&resp);
	api_reply_error(&resp, err, "fuzz-request-id");
	FUZZ_CHECK(resp.status == 400, "status %d for \"%s\"", resp.status,
	    err->msg);
	FUZZ_CHECK(buf_ok(&resp.body), "error body overflowed");
	FUZZ_CHECK(fuzz_is_json(resp.body.data, resp.body.len),
	    "error reply is not UTF-8 JSON: %s", buf_cstr(&resp.body));
	api_resp_release(&resp);
}

/* The metadata plus the prompt must validate to the same request. */
static void
check_roundtrip(const struct gen_policy *pol, const struct gen_request *gr)
{
	struct buf		 meta = BUF_INIT(BUF_MAX_REQUEST_BODY * 2);
	struct json_object	*doc = NULL;
	struct gen_request	 again;
	struct ig_err		 err = IG_ERR_INIT;

	generation_metadata_json(gr, &meta);
	FUZZ_CHECK(buf_ok(&meta), "metadata overflowed");
	FUZZ_CHECK(jsonx_parse_strict(meta.data, meta.len, &doc, &err) == 0 &&
	    doc != NULL, "metadata is not strict JSON (%s): %s", err.msg,
	    buf_cstr(&meta));
	FUZZ_CHECK(fuzz_is_json(meta.data, meta.len), "metadata not UTF-8");
	json_object_object_add(doc, "prompt",
	    json_object_new_string_len(gr->prompt, (int)gr->prompt_len));
	FUZZ_CHECK(generation_validate_policy(doc, pol, &again, &err) == 0,
	    "metadata does not validate again (%s): %s", err.msg,
	    buf_cstr(&meta));
	FUZZ_CHECK(again.number_of_images == gr->number_of_images &&
	    strcmp(again.aspect_ratio, gr->aspect_ratio) == 0 &&
	    again.has_seed == gr->has_seed && again.seed == gr->seed &&
	    (again.negative_prompt == NULL) == (gr->negative_prompt == NULL) &&
	    again.prompt_len == gr->prompt_len &&
	    memcmp(again.prompt, gr->prompt, gr->prompt_len) == 0,
	    "round trip changed the request: %s", buf_cstr(&meta));
	FUZZ_CHECK((again.webhook_url == NULL) == (gr->webhook_url == NULL) &&
	    (gr->webhook_url == NULL || (again.webhook_url_len ==
	    gr->webhook_url_len && memcmp(again.webhook_url, gr->webhook_url,
	    gr->webhook_url_len) == 0)), "webhookUrl changed: %s",
	    buf_cstr(&meta));
	if (gr->negative_prompt)
		FUZZ_CHECK(again.negative_prompt_len ==
		    gr->negative_prompt_len && memcmp(again.negative_prompt,
		    gr->negative_prompt, gr->negative_prompt_len) == 0,
		    "negativePrompt changed: %s", buf_cstr(&meta));
	json_object_put(doc);
	buf_free(&meta);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object	*body = NULL;
	struct gen_request	 gr;
	struct gen_policy	 pol;
	struct ig_err		 err = IG_ERR_INIT;
	size_t			 i;
	const struct provider_info *p;

	if (size > BUF_MAX_REQUEST_BODY)	/* the responder's limit */
		return 0;
	if (jsonx_parse_strict((const char *)data, size, &body, &err) == -1) {
		FUZZ_CHECK(body == NULL, "object left behind on error");
		FUZZ_CHECK(err.code == IG_EINPUT, "parse error code %d (%s)",
		    err.code, err.msg);
		check_error_reply(&err);
		return 0;
	}
	/* Every provider, without webhooks, with them, and with http ones. */
	for (i = 0; i < 3 * sizeof(providers) / sizeof(providers[0]); i++) {
		p = provider_find(providers[i % 4]);
		FUZZ_CHECK(p != NULL, "no provider %s", providers[i % 4]);
		memset(&pol, 0, sizeof(pol));
		pol.provider = p;
		pol.webhooks = i >= 4;
		pol.webhook_insecure = i >= 8;
		ig_err_clear(&err);
		if (generation_validate_policy(body, &pol, &gr, &err) == -1) {
			FUZZ_CHECK(err.code == IG_EINPUT,
			    "validation error code %d (%s)", err.code, err.msg);
			check_error_reply(&err);
			continue;
		}
		FUZZ_CHECK(gr.prompt != NULL && gr.number_of_images >= 1 &&
		    gr.number_of_images <= p->max_images &&
		    provider_aspect_find(p, gr.aspect_ratio,
		    strlen(gr.aspect_ratio)) != NULL, "accepted nonsense");
		FUZZ_CHECK(utf8_count(gr.prompt, gr.prompt_len) > 0 &&
		    memchr(gr.prompt, '\0', gr.prompt_len) == NULL,
		    "accepted a prompt that is not NUL-free UTF-8");
		FUZZ_CHECK(gr.webhook_url == NULL || pol.webhooks,
		    "webhookUrl accepted with webhooks off");
		check_roundtrip(&pol, &gr);
	}
	json_object_put(body);
	return 0;
}
