/*
 * test_errors.c - the bad-input table and the route / method / auth /
 * media-type / size errors of the API, through nginx.
 *
 * Each row of the table is one request, run as its own Criterion test
 * (a parameterised test over the row index) with its own user.  For every
 * row the test checks the status, error.code, error.field (present only
 * when one field is at fault), the JSON Content-Type, the X-Request-Id,
 * the headers the status calls for (WWW-Authenticate, Allow) and that the
 * user's image_generations row count moved only for accepted requests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "itest.h"

#define P	"/api/generate/text-to-image"
#define Q	"/api/generate/queue/"
#define H	"/api/generate/health"
#define CT	"application/json"
#define OKB	"{\"prompt\":\"x\"}"

enum auth {
	AUTH_VALID = 0,		/* Authorization: Bearer <the user's token> */
	AUTH_NONE,		/* no Authorization header */
	AUTH_BASIC,		/* Authorization: Basic x */
	AUTH_EMPTY,		/* Authorization: Bearer (nothing) */
	AUTH_UNKNOWN,		/* a bearer token nobody issued */
	AUTH_REVOKED,		/* a token of the user, revoked */
	AUTH_QUERY,		/* ?access_token=<valid token>, no header */
};

enum gen {
	GEN_NONE = 0,		/* body is the literal (or NULL) */
	GEN_PROMPT_A,		/* {"prompt":"a" x n} */
	GEN_PROMPT_EMOJI,	/* {"prompt":"🦊" x n} */
	GEN_PROMPT_A_BLANKS,	/* {"prompt":"  " "a" x n " \n"} */
	GEN_NEG_A,		/* {"prompt":"x","negativePrompt":"a" x n} */
	GEN_PADDED,		/* {"prompt":"x" + blanks + } of n bytes */
};

struct ecase {
	const char	*name;
	const char	*method;
	const char	*path;		/* {own} {other} {random} expand */
	const char	*ctype;		/* NULL: no Content-Type */
	const char	*body;		/* NULL: no body (unless gen) */
	enum gen	 gen;
	size_t		 gen_n;
	enum auth	 auth;
	long		 status;
	const char	*code;		/* NULL: a success */
	const char	*field;		/* NULL: no error.field */
	const char	*allow;		/* for 405: a method Allow must list */
	const char	*message_has;	/* substring of error.message */
};

#define BAD(n, b, c, f)	{ .name = n, .method = "POST", .path = P,	\
	.ctype = CT, .body = b, .status = 400, .code = c, .field = f }
#define FIELD(n, b, f)	BAD(n, b, "validation_error", f)
#define SYNTAX(n, b)	BAD(n, b, "invalid_json", NULL)

static const struct ecase cases[] = {
	/* Not JSON at all. */
	SYNTAX("json_truncated", "{\"prompt\":"),
	SYNTAX("json_single_quotes", "{'prompt':'x'}"),
	SYNTAX("json_unquoted_key", "{prompt:\"x\"}"),
	SYNTAX("json_trailing_comma", "{\"prompt\":\"x\",}"),
	SYNTAX("json_bad_escape", "{\"prompt\":\"a\\qb\"}"),
	SYNTAX("json_raw_control_char", "{\"prompt\":\"a\tb\"}"),
	SYNTAX("json_empty_body", ""),
	SYNTAX("json_blank_body", "  \n "),
	SYNTAX("json_trailing_garbage", "{\"prompt\":\"x\"} x"),
	SYNTAX("json_two_values", "{\"prompt\":\"x\"}{\"prompt\":\"y\"}"),
	SYNTAX("json_unterminated_string", "{\"prompt\":\"x}"),

	/* JSON, but not an object. */
	BAD("not_object_array", "[{\"prompt\":\"x\"}]", "validation_error",
	    NULL),
	BAD("not_object_string", "\"x\"", "validation_error", NULL),
	BAD("not_object_number", "42", "validation_error", NULL),
	BAD("not_object_null", "null", "validation_error", NULL),
	BAD("not_object_true", "true", "validation_error", NULL),

	/* Wrong types. */
	FIELD("prompt_number", "{\"prompt\":42}", "prompt"),
	FIELD("prompt_bool", "{\"prompt\":true}", "prompt"),
	FIELD("prompt_array", "{\"prompt\":[\"x\"]}", "prompt"),
	FIELD("prompt_object", "{\"prompt\":{\"text\":\"x\"}}", "prompt"),
	FIELD("noi_string", "{\"prompt\":\"x\",\"numberOfImages\":\"2\"}",
	    "numberOfImages"),
	FIELD("noi_fraction", "{\"prompt\":\"x\",\"numberOfImages\":2.5}",
	    "numberOfImages"),
	FIELD("noi_integral_float", "{\"prompt\":\"x\",\"numberOfImages\":2.0}",
	    "numberOfImages"),
	FIELD("noi_bool", "{\"prompt\":\"x\",\"numberOfImages\":true}",
	    "numberOfImages"),
	FIELD("noi_array", "{\"prompt\":\"x\",\"numberOfImages\":[2]}",
	    "numberOfImages"),
	FIELD("aspect_number", "{\"prompt\":\"x\",\"aspectRatio\":169}",
	    "aspectRatio"),
	FIELD("aspect_array", "{\"prompt\":\"x\",\"aspectRatio\":[\"16:9\"]}",
	    "aspectRatio"),
	FIELD("aspect_bool", "{\"prompt\":\"x\",\"aspectRatio\":false}",
	    "aspectRatio"),
	FIELD("negative_number", "{\"prompt\":\"x\",\"negativePrompt\":5}",
	    "negativePrompt"),
	FIELD("negative_array", "{\"prompt\":\"x\",\"negativePrompt\":[\"a\"]}",
	    "negativePrompt"),
	FIELD("seed_string", "{\"prompt\":\"x\",\"seed\":\"1\"}", "seed"),
	FIELD("seed_fraction", "{\"prompt\":\"x\",\"seed\":1.5}", "seed"),
	FIELD("seed_integral_float", "{\"prompt\":\"x\",\"seed\":1.0}", "seed"),
	FIELD("seed_bool", "{\"prompt\":\"x\",\"seed\":true}", "seed"),

	/* Out of range. */
	FIELD("noi_0", "{\"prompt\":\"x\",\"numberOfImages\":0}",
	    "numberOfImages"),
	FIELD("noi_5", "{\"prompt\":\"x\",\"numberOfImages\":5}",
	    "numberOfImages"),
	FIELD("noi_minus_1", "{\"prompt\":\"x\",\"numberOfImages\":-1}",
	    "numberOfImages"),
	FIELD("noi_4294967296",
	    "{\"prompt\":\"x\",\"numberOfImages\":4294967296}",
	    "numberOfImages"),
	FIELD("noi_4294967297",
	    "{\"prompt\":\"x\",\"numberOfImages\":4294967297}",
	    "numberOfImages"),
	FIELD("noi_1e400", "{\"prompt\":\"x\",\"numberOfImages\":1e400}",
	    "numberOfImages"),
	FIELD("noi_beyond_int64",
	    "{\"prompt\":\"x\",\"numberOfImages\":99999999999999999999999}",
	    "numberOfImages"),
	FIELD("seed_minus_1", "{\"prompt\":\"x\",\"seed\":-1}", "seed"),
	FIELD("seed_4294967296", "{\"prompt\":\"x\",\"seed\":4294967296}",
	    "seed"),
	FIELD("seed_1e400", "{\"prompt\":\"x\",\"seed\":1e400}", "seed"),
	FIELD("seed_2_pow_64",
	    "{\"prompt\":\"x\",\"seed\":18446744073709551616}", "seed"),

	/* Aspect ratios outside the supported set; the message lists it. */
	{ .name = "aspect_unknown", .method = "POST", .path = P, .ctype = CT,
	  .body = "{\"prompt\":\"x\",\"aspectRatio\":\"17:9\"}", .status = 400,
	  .code = "validation_error", .field = "aspectRatio",
	  .message_has = "16:9" },
	{ .name = "aspect_reversed_unsupported", .method = "POST", .path = P,
	  .ctype = CT, .body = "{\"prompt\":\"x\",\"aspectRatio\":\"9:21\"}",
	  .status = 400, .code = "validation_error", .field = "aspectRatio",
	  .message_has = "16:9" },
	FIELD("aspect_empty", "{\"prompt\":\"x\",\"aspectRatio\":\"\"}",
	    "aspectRatio"),
	FIELD("aspect_padded", "{\"prompt\":\"x\",\"aspectRatio\":\" 16:9\"}",
	    "aspectRatio"),
	FIELD("aspect_slash", "{\"prompt\":\"x\",\"aspectRatio\":\"16/9\"}",
	    "aspectRatio"),
	FIELD("aspect_three_parts",
	    "{\"prompt\":\"x\",\"aspectRatio\":\"1:1:1\"}", "aspectRatio"),
	FIELD("aspect_nul_suffix",
	    "{\"prompt\":\"x\",\"aspectRatio\":\"1:1\\u0000\"}", "aspectRatio"),

	/* prompt */
	FIELD("prompt_missing", "{\"numberOfImages\":1}", "prompt"),
	FIELD("prompt_missing_empty_object", "{}", "prompt"),
	FIELD("prompt_empty", "{\"prompt\":\"\"}", "prompt"),
	FIELD("prompt_whitespace_only", "{\"prompt\":\"  \\t\\n\\r  \"}",
	    "prompt"),
	{ .name = "prompt_2001_chars", .method = "POST", .path = P,
	  .ctype = CT, .gen = GEN_PROMPT_A, .gen_n = 2001, .status = 400,
	  .code = "validation_error", .field = "prompt" },
	{ .name = "prompt_2001_emoji", .method = "POST", .path = P,
	  .ctype = CT, .gen = GEN_PROMPT_EMOJI, .gen_n = 2001, .status = 400,
	  .code = "validation_error", .field = "prompt" },
	{ .name = "prompt_2000_chars_accepted", .method = "POST", .path = P,
	  .ctype = CT, .gen = GEN_PROMPT_A, .gen_n = 2000, .status = 202 },
	{ .name = "prompt_2000_emoji_accepted", .method = "POST", .path = P,
	  .ctype = CT, .gen = GEN_PROMPT_EMOJI, .gen_n = 2000, .status = 202 },
	{ .name = "prompt_2000_chars_plus_blanks_accepted", .method = "POST",
	  .path = P, .ctype = CT, .gen = GEN_PROMPT_A_BLANKS, .gen_n = 2000,
	  .status = 202 },
	{ .name = "prompt_2001_chars_plus_blanks", .method = "POST",
	  .path = P, .ctype = CT, .gen = GEN_PROMPT_A_BLANKS, .gen_n = 2001,
	  .status = 400, .code = "validation_error", .field = "prompt" },
	FIELD("prompt_invalid_utf8", "{\"prompt\":\"\xc3\x28\"}", "prompt"),
	FIELD("prompt_overlong_utf8", "{\"prompt\":\"a\xc0\xaf\"}", "prompt"),
	FIELD("prompt_lone_continuation", "{\"prompt\":\"a\x80\"}", "prompt"),
	FIELD("prompt_truncated_utf8", "{\"prompt\":\"ab\xf0\x9f\"}",
	    "prompt"),
	FIELD("prompt_encoded_surrogate", "{\"prompt\":\"a\xed\xa0\x80\"}",
	    "prompt"),
	FIELD("prompt_beyond_u10ffff", "{\"prompt\":\"a\xf4\x90\x80\x80\"}",
	    "prompt"),
	FIELD("prompt_lone_surrogate_escape", "{\"prompt\":\"a\\ud800b\"}",
	    "prompt"),
	FIELD("prompt_nul", "{\"prompt\":\"a\\u0000b\"}", "prompt"),
	FIELD("prompt_null", "{\"prompt\":null}", "prompt"),

	/* negativePrompt */
	{ .name = "negative_2001_chars", .method = "POST", .path = P,
	  .ctype = CT, .gen = GEN_NEG_A, .gen_n = 2001, .status = 400,
	  .code = "validation_error", .field = "negativePrompt" },
	{ .name = "negative_2000_chars_accepted", .method = "POST", .path = P,
	  .ctype = CT, .gen = GEN_NEG_A, .gen_n = 2000, .status = 202 },
	FIELD("negative_invalid_utf8",
	    "{\"prompt\":\"x\",\"negativePrompt\":\"\xc3\x28\"}",
	    "negativePrompt"),
	FIELD("negative_nul",
	    "{\"prompt\":\"x\",\"negativePrompt\":\"a\\u0000\"}",
	    "negativePrompt"),

	/* null for every field */
	FIELD("null_number_of_images",
	    "{\"prompt\":\"x\",\"numberOfImages\":null}", "numberOfImages"),
	FIELD("null_aspect_ratio", "{\"prompt\":\"x\",\"aspectRatio\":null}",
	    "aspectRatio"),
	FIELD("null_negative_prompt",
	    "{\"prompt\":\"x\",\"negativePrompt\":null}", "negativePrompt"),
	FIELD("null_seed", "{\"prompt\":\"x\",\"seed\":null}", "seed"),

	/* Unknown and duplicated keys */
	FIELD("unknown_field", "{\"prompt\":\"x\",\"style\":\"y\"}", "style"),
	FIELD("unknown_field_first", "{\"zzz\":1,\"prompt\":\"x\"}", "zzz"),
	FIELD("unknown_field_case", "{\"prompt\":\"x\",\"Prompt\":\"y\"}",
	    "Prompt"),
	FIELD("unknown_field_snake",
	    "{\"prompt\":\"x\",\"number_of_images\":2}", "number_of_images"),
	FIELD("duplicate_prompt", "{\"prompt\":\"x\",\"prompt\":\"y\"}",
	    "prompt"),
	FIELD("duplicate_seed_same_value",
	    "{\"prompt\":\"x\",\"seed\":1,\"seed\":1}", "seed"),
	FIELD("duplicate_aspect_ratio",
	    "{\"aspectRatio\":\"1:1\",\"prompt\":\"x\",\"aspectRatio\":\"16:9\"}",
	    "aspectRatio"),

	/* Authentication */
	{ .name = "auth_missing", .method = "POST", .path = P, .ctype = CT,
	  .body = OKB, .auth = AUTH_NONE, .status = 401,
	  .code = "unauthorized" },
	{ .name = "auth_basic", .method = "POST", .path = P, .ctype = CT,
	  .body = OKB, .auth = AUTH_BASIC, .status = 401,
	  .code = "unauthorized" },
	{ .name = "auth_bearer_empty", .method = "POST", .path = P,
	  .ctype = CT, .body = OKB, .auth = AUTH_EMPTY, .status = 401,
	  .code = "unauthorized" },
	{ .name = "auth_unknown_token", .method = "POST", .path = P,
	  .ctype = CT, .body = OKB, .auth = AUTH_UNKNOWN, .status = 401,
	  .code = "unauthorized" },
	{ .name = "auth_revoked_token", .method = "POST", .path = P,
	  .ctype = CT, .body = OKB, .auth = AUTH_REVOKED, .status = 401,
	  .code = "unauthorized" },
	{ .name = "auth_query_string_token", .method = "POST", .path = P,
	  .ctype = CT, .body = OKB, .auth = AUTH_QUERY, .status = 401,
	  .code = "unauthorized" },
	{ .name = "auth_missing_get_queue", .method = "GET",
	  .path = Q "{own}", .auth = AUTH_NONE, .status = 401,
	  .code = "unauthorized" },
	{ .name = "auth_revoked_get_queue", .method = "GET",
	  .path = Q "{own}", .auth = AUTH_REVOKED, .status = 401,
	  .code = "unauthorized" },
	{ .name = "auth_query_string_get_queue", .method = "GET",
	  .path = Q "{own}", .auth = AUTH_QUERY, .status = 401,
	  .code = "unauthorized" },
	{ .name = "auth_checked_before_json", .method = "POST", .path = P,
	  .ctype = CT, .body = "{oops", .auth = AUTH_NONE, .status = 401,
	  .code = "unauthorized" },
	{ .name = "auth_checked_before_media_type", .method = "POST",
	  .path = P, .ctype = "text/plain", .body = OKB, .auth = AUTH_NONE,
	  .status = 401, .code = "unauthorized" },

	/* Methods (checked before auth) */
	{ .name = "method_get_text_to_image", .method = "GET", .path = P,
	  .status = 405, .code = "method_not_allowed", .allow = "POST" },
	{ .name = "method_put_text_to_image", .method = "PUT", .path = P,
	  .ctype = CT, .body = OKB, .status = 405,
	  .code = "method_not_allowed", .allow = "POST" },
	{ .name = "method_delete_text_to_image", .method = "DELETE",
	  .path = P, .status = 405, .code = "method_not_allowed",
	  .allow = "POST" },
	{ .name = "method_patch_text_to_image", .method = "PATCH", .path = P,
	  .ctype = CT, .body = OKB, .status = 405,
	  .code = "method_not_allowed", .allow = "POST" },
	{ .name = "method_get_text_to_image_no_auth", .method = "GET",
	  .path = P, .auth = AUTH_NONE, .status = 405,
	  .code = "method_not_allowed", .allow = "POST" },
	{ .name = "method_post_queue", .method = "POST", .path = Q "{random}",
	  .ctype = CT, .body = OKB, .status = 405,
	  .code = "method_not_allowed", .allow = "GET" },
	{ .name = "method_delete_queue", .method = "DELETE",
	  .path = Q "{own}", .status = 405, .code = "method_not_allowed",
	  .allow = "GET" },
	{ .name = "method_post_health", .method = "POST", .path = H,
	  .ctype = CT, .body = "{}", .auth = AUTH_NONE, .status = 405,
	  .code = "method_not_allowed", .allow = "GET" },

	/* Routes (checked before auth) */
	{ .name = "route_unknown", .method = "GET",
	  .path = "/api/generate/nope", .status = 404, .code = "not_found" },
	{ .name = "route_unknown_no_auth", .method = "GET",
	  .path = "/api/generate/nope", .auth = AUTH_NONE, .status = 404,
	  .code = "not_found" },
	{ .name = "route_unknown_post", .method = "POST",
	  .path = P "/extra", .ctype = CT, .body = OKB, .status = 404,
	  .code = "not_found" },
	{ .name = "route_unknown_below_queue_id", .method = "GET",
	  .path = Q "{own}/extra", .status = 404, .code = "not_found" },

	/* Body size: 16384 bytes is the limit, inclusive */
	{ .name = "size_16384_accepted", .method = "POST", .path = P,
	  .ctype = CT, .gen = GEN_PADDED, .gen_n = 16384, .status = 202 },
	{ .name = "size_16385", .method = "POST", .path = P, .ctype = CT,
	  .gen = GEN_PADDED, .gen_n = 16385, .status = 413,
	  .code = "payload_too_large" },
	{ .name = "size_100k", .method = "POST", .path = P, .ctype = CT,
	  .gen = GEN_PADDED, .gen_n = 100000, .status = 413,
	  .code = "payload_too_large" },
	{ .name = "size_4m", .method = "POST", .path = P, .ctype = CT,
	  .gen = GEN_PADDED, .gen_n = 4u << 20, .status = 413,
	  .code = "payload_too_large" },

	/* Content-Type */
	{ .name = "ctype_text_plain", .method = "POST", .path = P,
	  .ctype = "text/plain", .body = OKB, .status = 415,
	  .code = "unsupported_media_type" },
	{ .name = "ctype_none", .method = "POST", .path = P, .ctype = NULL,
	  .body = OKB, .status = 415, .code = "unsupported_media_type" },
	{ .name = "ctype_form", .method = "POST", .path = P,
	  .ctype = "application/x-www-form-urlencoded", .body = OKB,
	  .status = 415, .code = "unsupported_media_type" },
	{ .name = "ctype_json_prefix", .method = "POST", .path = P,
	  .ctype = "application/jsonx", .body = OKB, .status = 415,
	  .code = "unsupported_media_type" },
	{ .name = "ctype_json_charset_accepted", .method = "POST", .path = P,
	  .ctype = "application/json; charset=utf-8", .body = OKB,
	  .status = 202 },
	{ .name = "ctype_json_upper_accepted", .method = "POST", .path = P,
	  .ctype = "Application/JSON", .body = OKB, .status = 202 },
	{ .name = "ctype_json_upper_charset_accepted", .method = "POST",
	  .path = P, .ctype = "APPLICATION/JSON;charset=UTF-8", .body = OKB,
	  .status = 202 },

	/* Generation ids */
	{ .name = "id_abc", .method = "GET", .path = Q "abc", .status = 400,
	  .code = "validation_error", .field = "generationId" },
	{ .name = "id_uuid_trailing_char", .method = "GET",
	  .path = Q "{random}0", .status = 400, .code = "validation_error",
	  .field = "generationId" },
	{ .name = "id_uuid_no_dashes", .method = "GET",
	  .path = Q "0123456789ab4def8123456789abcdef", .status = 400,
	  .code = "validation_error", .field = "generationId" },
	/* nginx decodes %2F and resolves the dot segments itself: the request
	 * leaves the API's location and nginx answers its JSON 404. */
	{ .name = "id_path_traversal", .method = "GET",
	  .path = Q "..%2F..%2Fetc%2Fpasswd", .status = 404,
	  .code = "not_found", .field = NULL },
	{ .name = "id_nonexistent", .method = "GET", .path = Q "{random}",
	  .status = 404, .code = "not_found" },
	{ .name = "id_other_users_generation", .method = "GET",
	  .path = Q "{other}", .status = 404, .code = "not_found" },
	{ .name = "id_own_generation_found", .method = "GET",
	  .path = Q "{own}", .status = 200 },

	/* Health needs no token */
	{ .name = "health_no_auth", .method = "GET", .path = H,
	  .auth = AUTH_NONE, .status = 200 },
};

#define NCASES (sizeof cases / sizeof cases[0])

/* ------------------------------------------------------------------ */

static void
random_bytes(unsigned char *b, size_t n)
{
	FILE *f = fopen("/dev/urandom", "rb");

	cr_assert(f != NULL && fread(b, 1, n, f) == n, "/dev/urandom");
	fclose(f);
}

static void
random_uuid(char out[37])
{
	unsigned char b[16];
	size_t o = 0;

	random_bytes(b, sizeof b);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		snprintf(out + o, 3, "%02x", b[i]);
		o += 2;
	}
	out[o] = '\0';
}

/* Builds the body of C; *LEN gets its length.  Caller frees. */
static char *
make_body(const struct ecase *c, size_t *len)
{
	size_t n = c->gen_n, cap, o = 0;
	char *b;

	if (c->gen == GEN_NONE) {
		if (c->body == NULL) {
			*len = 0;
			return NULL;
		}
		*len = strlen(c->body);
		return strdup(c->body);
	}
	cap = n * 4 + 128;
	b = malloc(cap);
	cr_assert_not_null(b);
#define ADD(s) do { memcpy(b + o, s, strlen(s)); o += strlen(s); } while (0)
	switch (c->gen) {
	case GEN_PROMPT_A:
	case GEN_PROMPT_A_BLANKS:
		ADD("{\"prompt\":\"");
		if (c->gen == GEN_PROMPT_A_BLANKS)
			ADD("  ");
		memset(b + o, 'a', n);
		o += n;
		if (c->gen == GEN_PROMPT_A_BLANKS)
			ADD(" \\n");
		ADD("\"}");
		break;
	case GEN_PROMPT_EMOJI:
		ADD("{\"prompt\":\"");
		for (size_t i = 0; i < n; i++)
			ADD("\xf0\x9f\xa6\x8a");
		ADD("\"}");
		break;
	case GEN_NEG_A:
		ADD("{\"prompt\":\"x\",\"negativePrompt\":\"");
		memset(b + o, 'a', n);
		o += n;
		ADD("\"}");
		break;
	case GEN_PADDED:
		ADD("{\"prompt\":\"x\"");
		cr_assert(n > o + 1, "test bug: padded size too small");
		memset(b + o, ' ', n - o - 1);
		o = n - 1;
		ADD("}");
		cr_assert_eq(o, n, "test bug: padded body is %zu bytes", o);
		break;
	case GEN_NONE:
		break;
	}
#undef ADD
	b[o] = '\0';
	*len = o;
	return b;
}

/* Replaces {own} {other} {random} in PATH; result malloc'd. */
static char *
expand_path(const char *path, const char *own, const char *other,
    const char *rnd)
{
	static const char *const keys[] = { "{own}", "{other}", "{random}" };
	const char *vals[] = { own, other, rnd };
	char *out = malloc(strlen(path) + 3 * 40 + 1);
	size_t o = 0;

	cr_assert_not_null(out);
	while (*path != '\0') {
		bool hit = false;

		for (size_t k = 0; k < 3; k++) {
			size_t kl = strlen(keys[k]);

			if (strncmp(path, keys[k], kl) == 0) {
				cr_assert_not_null(vals[k], "test bug: %s unset",
				    keys[k]);
				memcpy(out + o, vals[k], strlen(vals[k]));
				o += strlen(vals[k]);
				path += kl;
				hit = true;
				break;
			}
		}
		if (!hit)
			out[o++] = *path++;
	}
	out[o] = '\0';
	return out;
}

/* True if the comma-separated list LIST names TOKEN. */
static bool
list_has(const char *list, const char *token)
{
	size_t tl = strlen(token);

	while (list != NULL && *list != '\0') {
		while (*list == ' ' || *list == ',')
			list++;
		if (strncasecmp(list, token, tl) == 0 &&
		    (list[tl] == '\0' || list[tl] == ',' || list[tl] == ' '))
			return true;
		list = strchr(list, ',');
	}
	return false;
}

/* A generation owned by U (body OKB), id into ID. */
static void
make_generation(const struct itest_user *u, char *id)
{
	json_object_put(itest_generate(u, OKB, id));
}

static void
run_case(const struct ecase *c)
{
	struct itest_user user, other = { .token = NULL };
	char own_id[40] = "", other_id[40] = "", rnd[37], *path, *full;
	char *body, *revoked = NULL, *auth_hdr = NULL, ctype_hdr[128];
	const char *hdrs[4] = { NULL, NULL, NULL, NULL };
	const char *n = c->name;
	struct itest_request req = { 0 };
	struct itest_response r;
	struct json_object *o;
	long long before, after, other_before = 0;
	size_t body_len, nh = 0;

	itest_require_stack();
	itest_user_create(&user, "itest-err");
	random_uuid(rnd);
	if (strstr(c->path, "{own}") != NULL)
		make_generation(&user, own_id);
	if (strstr(c->path, "{other}") != NULL) {
		itest_user_create(&other, "itest-err-other");
		make_generation(&other, other_id);
		other_before = itest_generation_count(&other);
	}
	path = expand_path(c->path, own_id, other_id, rnd);

	switch (c->auth) {
	case AUTH_VALID:
		auth_hdr = malloc(strlen(user.token) + 32);
		cr_assert_not_null(auth_hdr);
		snprintf(auth_hdr, strlen(user.token) + 32,
		    "Authorization: Bearer %s", user.token);
		break;
	case AUTH_NONE:
		break;
	case AUTH_BASIC:
		auth_hdr = strdup("Authorization: Basic x");
		break;
	case AUTH_EMPTY:
		auth_hdr = strdup("Authorization: Bearer ");
		break;
	case AUTH_UNKNOWN: {
		unsigned char b[24];

		random_bytes(b, sizeof b);
		auth_hdr = malloc(32 + 2 * sizeof b);
		cr_assert_not_null(auth_hdr);
		snprintf(auth_hdr, 32, "Authorization: Bearer ");
		for (size_t i = 0; i < sizeof b; i++)
			snprintf(auth_hdr + strlen(auth_hdr), 3, "%02x", b[i]);
		break;
	}
	case AUTH_REVOKED:
		revoked = itest_token_create(user.email);
		itest_token_revoke(revoked);
		auth_hdr = malloc(strlen(revoked) + 32);
		cr_assert_not_null(auth_hdr);
		snprintf(auth_hdr, strlen(revoked) + 32,
		    "Authorization: Bearer %s", revoked);
		break;
	case AUTH_QUERY:
		full = malloc(strlen(path) + strlen(user.token) + 32);
		cr_assert_not_null(full);
		snprintf(full, strlen(path) + strlen(user.token) + 32,
		    "%s?access_token=%s", path, user.token);
		free(path);
		path = full;
		break;
	}
	if (auth_hdr != NULL)
		hdrs[nh++] = auth_hdr;
	body = make_body(c, &body_len);
	if (body != NULL || c->ctype != NULL) {
		/* "Content-Type:" alone stops libcurl adding its own. */
		snprintf(ctype_hdr, sizeof ctype_hdr, "Content-Type:%s%s",
		    c->ctype ? " " : "", c->ctype ? c->ctype : "");
		hdrs[nh++] = ctype_hdr;
	}

	before = itest_generation_count(&user);
	req.method = c->method;
	req.path = path;
	req.headers = hdrs;
	req.body = body;
	req.body_len = body_len;
	itest_http(&req, &r);

	cr_assert_eq(r.status, c->status, "[%s] %s %s: expected %ld, got %ld: "
	    "%.500s", n, c->method, path, c->status, r.status, r.body);
	cr_assert(itest_is_json_response(&r), "[%s] Content-Type is '%s', "
	    "expected application/json; body %.300s", n,
	    itest_header(&r, "Content-Type") ? itest_header(&r,
	    "Content-Type") : "(none)", r.body);
	cr_assert(itest_header(&r, "X-Request-Id") != NULL &&
	    *itest_header(&r, "X-Request-Id") != '\0',
	    "[%s] no X-Request-Id header", n);
	o = itest_response_json(&r);

	if (c->code != NULL) {
		const char *code = itest_json_str(o, "error.code");
		const char *msg = itest_json_str(o, "error.message");
		const char *field = itest_json_str(o, "error.field");
		const char *t = itest_json_text(o);

		cr_assert(code != NULL && strcmp(code, c->code) == 0,
		    "[%s] error.code: expected %s, got %s", n, c->code, t);
		cr_assert(msg != NULL && *msg != '\0',
		    "[%s] error.message missing or empty: %s", n, t);
		if (c->field != NULL)
			cr_assert(field != NULL && strcmp(field, c->field) == 0,
			    "[%s] error.field: expected %s, got %s", n,
			    c->field, t);
		else
			cr_assert(!itest_json_has(o, "error.field"),
			    "[%s] error.field present but no single field is "
			    "at fault: %s", n, t);
		if (c->message_has != NULL)
			cr_assert(msg != NULL && strstr(msg, c->message_has),
			    "[%s] error.message should mention %s: %s", n,
			    c->message_has, t);
	} else {
		cr_assert(!itest_json_has(o, "error") ||
		    itest_json_is_null(o, "error"),
		    "[%s] success with an error: %s", n, itest_json_text(o));
		if (c->status == 202)
			cr_assert(itest_is_uuid(itest_json_str(o,
			    "generationId")), "[%s] 202 without generationId: "
			    "%s", n, itest_json_text(o));
		if (strcmp(c->path, H) == 0)
			cr_assert(itest_json_str(o, "status") != NULL &&
			    strcmp(itest_json_str(o, "status"), "ok") == 0,
			    "[%s] health: %s", n, itest_json_text(o));
	}
	if (c->status == 401) {
		const char *wa = itest_header(&r, "WWW-Authenticate");

		cr_assert(wa != NULL && strncmp(wa, "Bearer", 6) == 0,
		    "[%s] 401 without WWW-Authenticate: Bearer (got %s)", n,
		    wa ? wa : "none");
	}
	if (c->status == 405) {
		const char *allow = itest_header(&r, "Allow");

		cr_assert(allow != NULL && list_has(allow, c->allow) &&
		    !list_has(allow, c->method), "[%s] Allow: expected %s, "
		    "got %s", n, c->allow, allow ? allow : "(none)");
	}
	json_object_put(o);
	itest_response_free(&r);

	after = itest_generation_count(&user);
	cr_assert_eq(after, before + (c->status == 202 ? 1 : 0),
	    "[%s] the user's image_generations rows went from %lld to %lld",
	    n, before, after);
	if (other.token != NULL) {
		cr_assert_eq(itest_generation_count(&other), other_before,
		    "[%s] the other user's rows changed", n);
		itest_user_free(&other);
	}

	free(body);
	free(auth_hdr);
	free(revoked);
	free(path);
	itest_user_free(&user);
}

ParameterizedTestParameters(errors, table)
{
	static size_t idx[NCASES];

	for (size_t i = 0; i < NCASES; i++)
		idx[i] = i;
	return cr_make_param_array(size_t, idx, NCASES);
}

ParameterizedTest(size_t *i, errors, table, .timeout = 120)
{
	run_case(&cases[*i]);
}

/* A GET of another user's generation must look like a GET of one that
 * does not exist: same status, same error code, no field. */
Test(errors, other_users_generation_indistinguishable, .timeout = 120)
{
	struct itest_user a, b;
	struct itest_response r1, r2;
	struct json_object *o1, *o2;
	char id[40], path[128], rnd[37];

	itest_require_stack();
	itest_user_create(&a, "itest-err-a");
	itest_user_create(&b, "itest-err-b");
	make_generation(&a, id);
	random_uuid(rnd);

	snprintf(path, sizeof path, Q "%s", id);
	itest_call("GET", path, b.token, NULL, &r1);
	snprintf(path, sizeof path, Q "%s", rnd);
	itest_call("GET", path, b.token, NULL, &r2);
	cr_assert_eq(r1.status, 404, "another user's generation: %ld %s",
	    r1.status, r1.body);
	cr_assert_eq(r2.status, 404, "a missing generation: %ld %s",
	    r2.status, r2.body);
	o1 = itest_response_json(&r1);
	o2 = itest_response_json(&r2);
	cr_assert(itest_json_str(o1, "error.code") != NULL &&
	    strcmp(itest_json_str(o1, "error.code"), "not_found") == 0 &&
	    itest_json_str(o2, "error.code") != NULL &&
	    strcmp(itest_json_str(o2, "error.code"), "not_found") == 0 &&
	    !itest_json_has(o1, "error.field") &&
	    !itest_json_has(o2, "error.field"),
	    "another user's generation: %s; a missing one: %s",
	    itest_json_text(o1), itest_json_text(o2));

/* The owner still sees it. */
	json_object_put(itest_get_generation(&a, id));

	json_object_put(o1);
	json_object_put(o2);
	itest_response_free(&r1);
	itest_response_free(&r2);
	itest_user_free(&a);
	itest_user_free(&b);
}

/* Request ids are per request. */
Test(errors, request_ids_differ, .timeout = 60)
{
	struct itest_response r1, r2;
	const char *a, *b;

	itest_require_stack();
	itest_call("GET", H, NULL, NULL, &r1);
	itest_call("GET", H, NULL, NULL, &r2);
	a = itest_header(&r1, "X-Request-Id");
	b = itest_header(&r2, "X-Request-Id");
	cr_assert(a != NULL && b != NULL && strcmp(a, b) != 0,
	    "X-Request-Id: %s then %s", a ? a : "(none)", b ? b : "(none)");
	itest_response_free(&r1);
	itest_response_free(&r2);
}
