#include <criterion/criterion.h>
#include <string.h>

#include "jsonx.h"

static int
parse(const char *text, struct ig_err *err)
{
	struct json_object	*o = NULL;
	int			 rc;

	rc = jsonx_parse_strict(text, strlen(text), &o, err);
	json_object_put(o);
	return rc;
}

static void
expect_error(const char *text, const char *code, const char *field)
{
	struct ig_err	 err = IG_ERR_INIT;

	cr_assert_eq(parse(text, &err), -1, "accepted: %s", text);
	cr_assert_str_eq(ig_err_api_code(&err), code, "%s", text);
	if (field)
		cr_assert_str_eq(err.field, field, "%s", text);
	else
		cr_assert_null(err.field, "%s", text);
}

Test(jsonx, accepts_objects_and_scalars)
{
	struct ig_err	 err = IG_ERR_INIT;

	cr_assert_eq(parse("{\"a\":1, \"b\":[1,{\"a\":2}]}  \n", &err), 0);
	cr_assert_eq(parse("5", &err), 0);
	cr_assert_eq(parse("[]", &err), 0);
	cr_assert_eq(parse("null", &err), 0);
	/* Values' UTF-8 is the validators' job, so they can name the field. */
	cr_assert_eq(parse("{\"a\":\"\xc3\x28\"}", &err), 0);
	cr_assert_eq(parse("{\"k\":\"\\ud83d\\ude00\"}", &err), 0);
}

Test(jsonx, rejects_bad_syntax)
{
	expect_error("", "invalid_json", NULL);
	expect_error("   ", "invalid_json", NULL);
	expect_error("{", "invalid_json", NULL);
	expect_error("{\"a\":1} x", "invalid_json", NULL);
	expect_error("{\"a\":1}{}", "invalid_json", NULL);
	expect_error("{'a':1}", "invalid_json", NULL);
	expect_error("{\"a\":NaN}", "invalid_json", NULL);
	expect_error("{\"\xc3\x28\":1}", "invalid_json", NULL);
	expect_error("{\"a\":\"tab\there\"}", "invalid_json", NULL);
	expect_error("{\"a\":\"\x01\"}", "invalid_json", NULL);
	expect_error("\"\\ud800\"", "invalid_json", NULL);
	expect_error("{\"\\ud800\":1}", "invalid_json", NULL);
	expect_error("[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]", "invalid_json",
	    NULL);
}

Test(jsonx, rejects_raw_nul)
{
	struct json_object	*o = NULL;
	struct ig_err		 err = IG_ERR_INIT;
	const char		 text[] = "{\"a\":\"x\0y\"}";

	cr_assert_eq(jsonx_parse_strict(text, sizeof(text) - 1, &o, &err), -1);
	cr_assert_null(o);
	cr_assert_str_eq(ig_err_api_code(&err), "invalid_json");
}

Test(jsonx, rejects_duplicate_top_level_keys)
{
	expect_error("{\"prompt\":\"a\",\"prompt\":\"b\"}", "validation_error",
	    "prompt");
	/* The same key spelled with an escape is still the same key. */
	expect_error("{\"seed\":1,\"s\\u0065ed\":2}", "validation_error",
	    "seed");
}

Test(jsonx, lone_surrogates_name_the_field)
{
	/* json-c would store U+FFFD: the value would not come back as sent. */
	expect_error("{\"prompt\":\"a\\ud800b\"}", "validation_error",
	    "prompt");
	expect_error("{\"x\":1,\"seed\":[\"\\udc00\"]}", "validation_error",
	    "seed");
	expect_error("{\"p\":\"\\ud83d\\ud83d\"}", "validation_error", "p");
}

Test(jsonx, rejects_keys_with_nul)
{
	expect_error("{\"prompt\\u0000x\":\"a\"}", "validation_error", "(key)");
}

Test(jsonx, nested_duplicates_are_not_top_level)
{
	struct ig_err	 err = IG_ERR_INIT;

	/* Nested objects are refused later by type; only depth 1 matters. */
	cr_assert_eq(parse("{\"a\":{\"x\":1},\"b\":{\"x\":2}}", &err), 0);
}
