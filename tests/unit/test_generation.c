#include <criterion/criterion.h>
#include <string.h>

#include "generation.h"
#include "jsonx.h"

static const struct provider_info *
local(void)
{
	return provider_find("local");
}

static int
validate(const char *body, struct gen_request *r, struct ig_err *err,
    struct json_object **root)
{
	if (jsonx_parse_strict(body, strlen(body), root, err) == -1)
		return -1;
	return generation_validate(*root, local(), r, err);
}

/* One row per rejected input: the field at fault must be named. */
static const struct {
	const char	*body;
	const char	*field;
} bad[] = {
	{ "{}", "prompt" },
	{ "{\"prompt\":\"\"}", "prompt" },
	{ "{\"prompt\":\" \\t\\n \"}", "prompt" },
	{ "{\"prompt\":5}", "prompt" },
	{ "{\"prompt\":null}", "prompt" },
	{ "{\"prompt\":\"a\\u0000b\"}", "prompt" },
	{ "{\"prompt\":\"\xc3\x28\"}", "prompt" },
	{ "{\"prompt\":\"ok\",\"negativePrompt\":\"\xed\xa0\x80\"}",
	    "negativePrompt" },
	{ "{\"prompt\":\"a\",\"numberOfImages\":0}", "numberOfImages" },
	{ "{\"prompt\":\"a\",\"numberOfImages\":5}", "numberOfImages" },
	{ "{\"prompt\":\"a\",\"numberOfImages\":2.0}", "numberOfImages" },
	{ "{\"prompt\":\"a\",\"numberOfImages\":\"2\"}", "numberOfImages" },
	{ "{\"prompt\":\"a\",\"numberOfImages\":true}", "numberOfImages" },
	{ "{\"prompt\":\"a\",\"numberOfImages\":null}", "numberOfImages" },
	{ "{\"prompt\":\"a\",\"aspectRatio\":\"7:3\"}", "aspectRatio" },
	{ "{\"prompt\":\"a\",\"aspectRatio\":\"16:9 \"}", "aspectRatio" },
	{ "{\"prompt\":\"a\",\"aspectRatio\":169}", "aspectRatio" },
	{ "{\"prompt\":\"a\",\"seed\":-1}", "seed" },
	{ "{\"prompt\":\"a\",\"seed\":4294967296}", "seed" },
	{ "{\"prompt\":\"a\",\"seed\":99999999999999999999}", "seed" },
	{ "{\"prompt\":\"a\",\"seed\":1.5}", "seed" },
	{ "{\"prompt\":\"a\",\"negativePrompt\":7}", "negativePrompt" },
	{ "{\"prompt\":\"a\",\"negativePrompt\":null}", "negativePrompt" },
	{ "{\"prompt\":\"a\",\"webhookUrl\":\"https://x\"}", "webhookUrl" },
	{ "{\"prompt\":\"a\",\"Prompt\":\"b\"}", "Prompt" },
};

Test(generation, each_bad_input_names_its_field)
{
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *root = NULL;
		struct gen_request r;
		struct ig_err	 err = IG_ERR_INIT;

		cr_assert_eq(validate(bad[i].body, &r, &err, &root), -1,
		    "accepted %s", bad[i].body);
		cr_assert_str_eq(ig_err_api_code(&err), "validation_error",
		    "%s", bad[i].body);
		cr_assert_not_null(err.field, "%s", bad[i].body);
		cr_assert_str_eq(err.field, bad[i].field, "%s", bad[i].body);
		json_object_put(root);
	}
}

Test(generation, null_body_is_not_an_object)
{
	struct json_object *root = NULL;
	struct gen_request r;
	struct ig_err	 err = IG_ERR_INIT;

	cr_assert_eq(validate("null", &r, &err, &root), -1);
	cr_assert_str_eq(ig_err_api_code(&err), "validation_error");
	cr_assert_null(err.field);
}

Test(generation, aspect_error_lists_the_supported_set)
{
	struct json_object *root = NULL;
	struct gen_request r;
	struct ig_err	 err = IG_ERR_INIT;

	cr_assert_eq(validate("{\"prompt\":\"a\",\"aspectRatio\":\"2:1\"}", &r,
	    &err, &root), -1);
	cr_assert(strstr(err.msg, "1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, "
	    "16:9, 21:9") != NULL, "%s", err.msg);
	json_object_put(root);
}

Test(generation, defaults_fill_metadata)
{
	struct json_object *root = NULL;
	struct gen_request r;
	struct ig_err	 err = IG_ERR_INIT;
	struct buf	 m = BUF_INIT(1024);

	cr_assert_eq(validate("{\"prompt\":\"  a cat \"}", &r, &err, &root), 0);
	cr_assert_eq(r.prompt_len, 8);	/* kept as sent, untrimmed */
	generation_metadata_json(&r, &m);
	cr_assert_str_eq(buf_cstr(&m),
	    "{\"numberOfImages\":1,\"aspectRatio\":\"1:1\"}");
	buf_free(&m);
	json_object_put(root);
}

Test(generation, every_field_reaches_metadata)
{
	struct gen_policy pol = { provider_find("local"), 1, 0 };
	struct json_object *root = NULL, *meta, *v;
	struct gen_request r;
	struct ig_err	 err = IG_ERR_INIT;
	struct buf	 m = BUF_INIT(4096);
	const char *const *names;
	const char	*body = "{\"prompt\":\"p\",\"numberOfImages\":4,"
	    "\"aspectRatio\":\"21:9\",\"negativePrompt\":\"no \\\"blur\\\"\","
	    "\"seed\":4294967295,\"webhookUrl\":\"https://hooks.example.com/x?a=1\"}";
	size_t		 i;

	cr_assert_eq(jsonx_parse_strict(body, strlen(body), &root, &err), 0);
	cr_assert_eq(generation_validate_policy(root, &pol, &r, &err), 0, "%s",
	    err.msg);
	generation_metadata_json(&r, &m);
	meta = json_tokener_parse(buf_cstr(&m));
	cr_assert_not_null(meta);
	/* Every accepted field but the prompt column is in metadata. */
	for (names = generation_field_names(), i = 0; names[i]; i++) {
		if (strcmp(names[i], "prompt") == 0)
			continue;
		cr_assert(json_object_object_get_ex(meta, names[i], &v),
		    "metadata lacks %s", names[i]);
	}
	json_object_object_get_ex(meta, "seed", &v);
	cr_assert_eq(json_object_get_int64(v), 4294967295LL);
	json_object_object_get_ex(meta, "negativePrompt", &v);
	cr_assert_str_eq(json_object_get_string(v), "no \"blur\"");
	json_object_object_get_ex(meta, "webhookUrl", &v);
	cr_assert_str_eq(json_object_get_string(v),
	    "https://hooks.example.com/x?a=1");
	json_object_put(meta);
	json_object_put(root);
	buf_free(&m);
}

Test(generation, prompt_length_counts_code_points)
{
	struct buf	 body = BUF_INIT(64 * 1024);
	struct json_object *root = NULL;
	struct gen_request r;
	struct ig_err	 err = IG_ERR_INIT;
	int		 i;

	buf_adds(&body, "{\"prompt\":\"");
	for (i = 0; i < GEN_PROMPT_MAX_CHARS; i++)
		buf_adds(&body, "😀");
	buf_adds(&body, "\"}");
	cr_assert_eq(validate(buf_cstr(&body), &r, &err, &root), 0, "%s",
	    err.msg);
	json_object_put(root);
	root = NULL;
	buf_reset(&body);
	buf_adds(&body, "{\"prompt\":\"");
	for (i = 0; i <= GEN_PROMPT_MAX_CHARS; i++)
		buf_adds(&body, "a");
	buf_adds(&body, "\"}");
	cr_assert_eq(validate(buf_cstr(&body), &r, &err, &root), -1);
	cr_assert_str_eq(err.field, "prompt");
	json_object_put(root);
	buf_free(&body);
}
