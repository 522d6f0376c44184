/*
 * test_generate.c - end-to-end and round-trip tests of
 * POST /api/generate/text-to-image and GET /api/generate/queue/:id,
 * through nginx, against a running stack (scripts/stack.sh).
 *
 * Every test creates its own user, so tests are independent and can run
 * in parallel.  The seed system's defect was a request parameter silently
 * dropped on the way to the database: these tests prove every accepted
 * parameter comes back exactly as sent, from the API and from the
 * database, before and after the worker has run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "itest.h"
#include "png.h"

#define GEN_PATH	"/api/generate/text-to-image"
#define QUEUE_PATH	"/api/generate/queue/"
#define TEST_TIMEOUT_S	240

struct image_bytes {
	char	*data;
	size_t	 len;
};

struct completed {
	size_t			n;
	struct image_bytes	img[4];
};

static void
completed_free(struct completed *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->img[i].data);
	c->n = 0;
}

/* Content-Type JSON and a request id on every API response. */
static void
check_api_headers(const struct itest_response *r, const char *what)
{
	const char *rid = itest_header(r, "X-Request-Id");

	cr_assert(itest_is_json_response(r), "%s: Content-Type is '%s', "
	    "expected application/json", what,
	    itest_header(r, "Content-Type") ? itest_header(r, "Content-Type")
	    : "(none)");
	cr_assert(rid != NULL && *rid != '\0', "%s: no X-Request-Id header",
	    what);
}

/*
 * POSTs BODY as USER and checks the 202 answer against the contract:
 * Location, status "queued", metadata exactly EXPECT_META, createdAt.
 * Returns the body (caller puts it) and the id in ID.
 */
static struct json_object *
post_generation(const struct itest_user *user, const char *body,
    struct json_object *expect_meta, char *id)
{
	struct itest_response r;
	struct json_object *o;
	const char *gid, *loc;
	char want_loc[128];

	itest_call("POST", GEN_PATH, user->token, body, &r);
	cr_assert_eq(r.status, 202, "POST %s %.400s: expected 202, got %ld "
	    "%.1000s", GEN_PATH, body, r.status, r.body);
	check_api_headers(&r, "POST text-to-image");
	o = itest_response_json(&r);
	gid = itest_json_str(o, "generationId");
	cr_assert(itest_is_uuid(gid), "generationId is not a canonical uuid: "
	    "%s", itest_json_text(o));
	snprintf(id, 37, "%s", gid);	/* a checked 36-char uuid */
	snprintf(want_loc, sizeof want_loc, QUEUE_PATH "%s", id);
	loc = itest_header(&r, "Location");
	cr_assert(loc != NULL && strcmp(loc, want_loc) == 0,
	    "Location: expected '%s', got '%s'", want_loc,
	    loc ? loc : "(none)");
	itest_response_free(&r);

	cr_assert(itest_json_str(o, "status") != NULL &&
	    strcmp(itest_json_str(o, "status"), "queued") == 0,
	    "POST: status is not \"queued\": %s", itest_json_text(o));
	cr_assert(itest_json_equal(itest_json_get(o, "metadata"), expect_meta),
	    "POST %.400s: metadata\n  expected %s\n  got      %s", body,
	    itest_json_text(expect_meta),
	    itest_json_text(itest_json_get(o, "metadata")));
	cr_assert(!itest_json_has(o, "metadata.prompt"),
	    "POST: the prompt must not be in metadata: %s",
	    itest_json_text(o));
	cr_assert(itest_is_utc_timestamp(itest_json_str(o, "createdAt")),
	    "POST: createdAt is not an ISO-8601 UTC timestamp: %s",
	    itest_json_text(o));
	return o;
}

static bool
str_in(const char *s, const char *const *set)
{
	for (; s != NULL && *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

/*
 * Checks a GET /queue/:id body against what was sent: the exact prompt,
 * the metadata object and the POST's createdAt, plus the shape of the
 * status fields.
 */
static void
check_view(struct json_object *v, const char *id, struct json_object *prompt,
    struct json_object *meta, const char *created_at)
{
	static const char *const statuses[] = { "queued", "processing",
		"completed", "failed", "canceled", NULL };
	static const char *const terminal[] = { "completed", "failed",
		"canceled", NULL };
	const char *st = itest_json_str(v, "status");
	const char *t = itest_json_text(v);
	int64_t total, done, n, attempts;

	cr_assert(itest_json_str(v, "generationId") != NULL &&
	    strcmp(itest_json_str(v, "generationId"), id) == 0,
	    "GET: generationId differs from %s: %s", id, t);
	cr_assert(str_in(st, statuses), "GET: bad status: %s", t);
	cr_assert(itest_json_equal(itest_json_get(v, "prompt"), prompt),
	    "GET: prompt not returned exactly\n  expected %s\n  got      %s",
	    itest_json_text(prompt), itest_json_text(itest_json_get(v,
	    "prompt")));
	cr_assert(itest_json_equal(itest_json_get(v, "metadata"), meta),
	    "GET: metadata\n  expected %s\n  got      %s",
	    itest_json_text(meta), itest_json_text(itest_json_get(v,
	    "metadata")));
	cr_assert(itest_json_int(meta, "numberOfImages", &n),
	    "test bug: metadata without numberOfImages");
	cr_assert(itest_json_int(v, "progress.total", &total) && total == n,
	    "GET: progress.total is not %lld: %s", (long long)n, t);
	cr_assert(itest_json_int(v, "progress.completed", &done) &&
	    done >= 0 && done <= total, "GET: bad progress.completed: %s", t);
	cr_assert(json_object_is_type(itest_json_get(v, "images"),
	    json_type_array), "GET: images is not an array: %s", t);
	cr_assert(itest_json_is_null(v, "tokens"),
	    "GET: tokens is not null: %s", t);
	cr_assert(itest_json_int(v, "attempts", &attempts) && attempts >= 0,
	    "GET: attempts is not a non-negative integer: %s", t);
	cr_assert(itest_json_str(v, "createdAt") != NULL &&
	    strcmp(itest_json_str(v, "createdAt"), created_at) == 0,
	    "GET: createdAt differs from the POST's %s: %s", created_at, t);
	if (strcmp(st, "queued") == 0)
		cr_assert(itest_json_is_null(v, "startedAt"),
		    "GET: queued but startedAt is not null: %s", t);
	else
		cr_assert(itest_is_utc_timestamp(itest_json_str(v,
		    "startedAt")), "GET: %s but startedAt is not a UTC "
		    "timestamp: %s", st, t);
	if (str_in(st, terminal))
		cr_assert(itest_is_utc_timestamp(itest_json_str(v,
		    "completedAt")), "GET: %s but completedAt is not a UTC "
		    "timestamp: %s", st, t);
	else
		cr_assert(itest_json_is_null(v, "completedAt"),
		    "GET: %s but completedAt is not null: %s", st, t);
	if (strcmp(st, "failed") != 0)
		cr_assert(itest_json_is_null(v, "error"),
		    "GET: %s but error is not null: %s", st, t);
}

/* Parses "W:H". */
static void
parse_ratio(const char *ar, unsigned *w, unsigned *h)
{
	cr_assert(ar != NULL && sscanf(ar, "%u:%u", w, h) == 2 && *w > 0 &&
	    *h > 0, "test bug: bad aspect ratio %s", ar ? ar : "(null)");
}

/* Fetches URL (public, no credentials) over verified HTTPS. */
static void
fetch(const char *url, struct image_bytes *out)
{
	struct itest_request req = { .method = "GET", .path = url };
	struct itest_response r;

	itest_http(&req, &r);
	cr_assert_eq(r.status, 200, "GET %s: expected 200, got %ld", url,
	    r.status);
	out->data = r.body;
	out->len = r.body_len;
	r.body = NULL;
	itest_response_free(&r);
}

/*
 * For a completed generation view V: checks images against the contract
 * and the database, fetches every image (returned in *OUT) and checks its
 * bytes: a PNG whose size, dimensions and type are the reported ones, at
 * the requested aspect ratio within 1%.
 */
static void
check_completed(const struct itest_user *user, struct json_object *v,
    const char *id, struct json_object *prompt, struct json_object *meta,
    struct completed *out)
{
	const char *t = itest_json_text(v);
	struct json_object *images = itest_json_get(v, "images");
	struct json_object *uploads, *ids, *db_meta, *want_ids;
	unsigned rw, rh;
	int64_t n, done;
	size_t nimg;
	char *s, *base;

	memset(out, 0, sizeof *out);
	cr_assert(itest_json_int(meta, "numberOfImages", &n));
	parse_ratio(itest_json_str(meta, "aspectRatio"), &rw, &rh);
	nimg = json_object_array_length(images);
	cr_assert_eq(nimg, (size_t)n, "completed with %zu images, %lld "
	    "requested: %s", nimg, (long long)n, t);
	cr_assert(itest_json_int(v, "progress.completed", &done) && done == n,
	    "completed but progress.completed != %lld: %s", (long long)n, t);

	/* The database: one generation row, exact prompt and metadata. */
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM image_generations "
	    "WHERE id = $1::uuid AND user_id = $2::uuid AND status = "
	    "'completed'", id, user->id, NULL), 1,
	    "no completed image_generations row %s for user %s", id, user->id);
	s = itest_pg_text("SELECT prompt FROM image_generations WHERE id = "
	    "$1::uuid", id, NULL);
	cr_assert(s != NULL && strlen(s) == (size_t)json_object_get_string_len(prompt)
	    && memcmp(s, json_object_get_string(prompt), strlen(s)) == 0,
	    "image_generations.prompt differs from the prompt sent: "
	    "%s vs %s", s ? s : "NULL", itest_json_text(prompt));
	free(s);
	s = itest_pg_text("SELECT metadata::text FROM image_generations "
	    "WHERE id = $1::uuid", id, NULL);
	cr_assert(s != NULL, "image_generations.metadata is NULL");
	db_meta = itest_json_parse(s, strlen(s));
	free(s);
	cr_assert(itest_json_equal(db_meta, meta), "image_generations."
	    "metadata\n  expected %s\n  got      %s", itest_json_text(meta),
	    itest_json_text(db_meta));
	json_object_put(db_meta);
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM jobs WHERE "
	    "generation_id = $1::uuid", id, NULL), 0,
	    "the jobs row of completed generation %s is still there", id);

	/* The uploads rows, in idx order, and ai_metadata.imageIds. */
	s = itest_pg_text("SELECT coalesce(json_agg(json_build_object("
	    "'id', id, 'idx', idx, 'user_id', user_id, 'mime_type', mime_type,"
	    " 'size', size, 'width', width, 'height', height, 'purpose', "
	    "purpose) ORDER BY idx), '[]')::text FROM uploads WHERE "
	    "generation_id = $1::uuid", id, NULL);
	uploads = itest_json_parse(s, strlen(s));
	free(s);
	cr_assert_not_null(uploads);
	cr_assert_eq(json_object_array_length(uploads), nimg,
	    "expected %zu uploads rows for %s, got %s", nimg, id,
	    itest_json_text(uploads));
	s = itest_pg_text("SELECT (ai_metadata->'imageIds')::text FROM "
	    "image_generations WHERE id = $1::uuid", id, NULL);
	cr_assert(s != NULL, "ai_metadata->'imageIds' is missing for %s", id);
	ids = itest_json_parse(s, strlen(s));
	free(s);
	want_ids = json_object_new_array();
	for (size_t i = 0; i < nimg; i++)
		json_object_array_add(want_ids, json_object_get(
		    json_object_object_get(json_object_array_get_idx(uploads,
		    i), "id")));
	cr_assert(itest_json_equal(ids, want_ids), "ai_metadata.imageIds %s "
	    "!= uploads ids in idx order %s", itest_json_text(ids),
	    itest_json_text(want_ids));
	json_object_put(want_ids);
	json_object_put(ids);

	base = itest_url("/files/generations/");
	for (size_t i = 0; i < nimg; i++) {
		struct json_object *row = json_object_array_get_idx(uploads, i);
		char key[32], want_url[512];
		int64_t w, h, size, idx;
		const char *mime, *url;
		struct png_info info;
		struct image_bytes *b = &out->img[i];
		double ratio;

		snprintf(key, sizeof key, "images.%zu", i);
		{
			struct json_object *im = itest_json_get(v, key);
			const char *it = itest_json_text(im);

			cr_assert(itest_json_int(im, "width", &w) &&
			    itest_json_int(im, "height", &h) &&
			    itest_json_int(im, "size", &size) && w > 0 &&
			    h > 0 && size > 0, "image %zu: bad width/height/"
			    "size: %s", i, it);
			mime = itest_json_str(im, "mimeType");
			url = itest_json_str(im, "imageUrl");
			cr_assert(mime != NULL && strcmp(mime, "image/png")
			    == 0, "image %zu: mimeType: %s", i, it);
			cr_assert(itest_json_equal(itest_json_get(im,
			    "imageId"), json_object_object_get(row, "id")),
			    "image %zu: imageId %s != uploads row %s", i, it,
			    itest_json_text(row));
			cr_assert(itest_json_int(row, "idx", &idx));
			snprintf(want_url, sizeof want_url, "%s%s/%s/%lld.png",
			    base, user->id, id, (long long)idx);
			cr_assert(url != NULL && strcmp(url, want_url) == 0,
			    "image %zu: imageUrl\n  expected %s\n  got      %s",
			    i, want_url, url ? url : "(none)");
		}
		cr_assert(itest_json_str(row, "purpose") != NULL &&
		    strcmp(itest_json_str(row, "purpose"),
		    "generation_output") == 0 &&
		    itest_json_str(row, "user_id") != NULL &&
		    strcmp(itest_json_str(row, "user_id"), user->id) == 0 &&
		    itest_json_str(row, "mime_type") != NULL &&
		    strcmp(itest_json_str(row, "mime_type"), mime) == 0,
		    "uploads row %zu: %s", i, itest_json_text(row));
		{
			int64_t dw, dh, ds;

			cr_assert(itest_json_int(row, "width", &dw) &&
			    itest_json_int(row, "height", &dh) &&
			    itest_json_int(row, "size", &ds) && dw == w &&
			    dh == h && ds == size, "uploads row %zu %s differs "
			    "from the API's image %lldx%lld, %lld bytes", i,
			    itest_json_text(row), (long long)w, (long long)h,
			    (long long)size);
		}

		fetch(url, b);
		out->n = i + 1;
		cr_assert_eq(png_probe((const uint8_t *)b->data, b->len, &info),
		    0, "%s is not a valid image (%zu bytes)", url, b->len);
		cr_assert_eq(info.kind, PNG_KIND_PNG, "%s is not a PNG", url);
		cr_assert_str_eq(info.mime, mime, "%s: bytes are %s", url,
		    info.mime);
		cr_assert(info.width == (unsigned)w && info.height ==
		    (unsigned)h, "%s: bytes are %ux%u, the API says %lldx%lld",
		    url, info.width, info.height, (long long)w, (long long)h);
		cr_assert_eq(b->len, (size_t)size, "%s: %zu bytes, the API says "
		    "%lld", url, b->len, (long long)size);
		ratio = ((double)info.width * rh) / ((double)info.height * rw);
		cr_assert(fabs(ratio - 1.0) <= 0.01, "%s: %ux%u is not %u:%u "
		    "within 1%%", url, info.width, info.height, rw, rh);
	}
	free(base);
	json_object_put(uploads);
}

/*
 * The round trip: POST BODY, check the 202 metadata is EXPECT_META, GET at
 * once (queued or processing, usually) and check the prompt (PROMPT_LEN
 * bytes of PROMPT) and metadata, wait for completion and check them again
 * together with the images and the database.  Returns the image bytes
 * in *OUT when OUT is non-NULL.
 */
static void
roundtrip(const char *body, const char *prompt, size_t prompt_len,
    const char *expect_meta, struct completed *out)
{
	struct itest_user user;
	struct json_object *meta, *jprompt, *posted, *v;
	struct completed imgs;
	char id[40], *created;

	itest_require_stack();
	itest_user_create(&user, "itest-rt");
	meta = itest_json(expect_meta);
	jprompt = json_object_new_string_len(prompt, (int)prompt_len);

	posted = post_generation(&user, body, meta, id);
	created = strdup(itest_json_str(posted, "createdAt"));
	json_object_put(posted);

	v = itest_get_generation(&user, id);
	check_view(v, id, jprompt, meta, created);
	json_object_put(v);

	v = itest_wait_completed(&user, id, ITEST_COMPLETE_TIMEOUT_MS);
	check_view(v, id, jprompt, meta, created);
	check_completed(&user, v, id, jprompt, meta, &imgs);
	json_object_put(v);

	cr_assert_eq(itest_generation_count(&user), 1,
	    "expected exactly one image_generations row for the user");

	if (out != NULL)
		*out = imgs;
	else
		completed_free(&imgs);
	free(created);
	json_object_put(jprompt);
	json_object_put(meta);
	itest_user_free(&user);
}

/* A body with PROMPT plus the members of EXTRA (a JSON object literal). */
static char *
body_with_prompt(const char *prompt, size_t len, const char *extra)
{
	struct json_object *o = itest_json(extra ? extra : "{}");
	char *s;

	json_object_object_add(o, "prompt", json_object_new_string_len(prompt,
	    (int)len));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static void
roundtrip_fields(const char *prompt, const char *extra, const char *meta)
{
	char *body = body_with_prompt(prompt, strlen(prompt), extra);

	roundtrip(body, prompt, strlen(prompt), meta, NULL);
	free(body);
}

/* ------------------------------------------------------------------ */
/* 1. The original bug report                                          */

Test(generate, original_bug_report, .timeout = TEST_TIMEOUT_S)
{
	static const char body[] =
	    "{\"prompt\":\"A sunset\",\"numberOfImages\":2,"
	    "\"aspectRatio\":\"16:9\"}";
	struct itest_user user;
	struct json_object *meta, *prompt, *posted, *v;
	struct completed imgs;
	char id[40], *created;

	itest_require_stack();
	itest_user_create(&user, "itest-bug");
	meta = itest_json("{\"numberOfImages\":2,\"aspectRatio\":\"16:9\"}");
	prompt = json_object_new_string("A sunset");

	posted = post_generation(&user, body, meta, id);
	created = strdup(itest_json_str(posted, "createdAt"));
	json_object_put(posted);

	/* At once: the parameters are there, not dropped. */
	v = itest_get_generation(&user, id);
	check_view(v, id, prompt, meta, created);
	cr_assert_str_eq(itest_json_str(v, "metadata.aspectRatio"), "16:9");
	json_object_put(v);

	v = itest_wait_completed(&user, id, 60000);
	check_view(v, id, prompt, meta, created);
	check_completed(&user, v, id, prompt, meta, &imgs);
	cr_assert_eq(imgs.n, 2);
	json_object_put(v);

	/* Exactly one generation and two output uploads for this user. */
	cr_assert_eq(itest_generation_count(&user), 1);
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM uploads u JOIN "
	    "image_generations g ON g.id = u.generation_id WHERE g.user_id = "
	    "$1::uuid AND u.purpose = 'generation_output'", user.id, NULL), 2);
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM uploads WHERE "
	    "user_id = $1::uuid", user.id, NULL), 2);

	completed_free(&imgs);
	free(created);
	json_object_put(prompt);
	json_object_put(meta);
	itest_user_free(&user);
}

/* ------------------------------------------------------------------ */
/* 2. Round trips: prompt                                              */

Test(roundtrip, defaults_filled_in, .timeout = TEST_TIMEOUT_S)
{
	roundtrip_fields("a red fox in the snow", NULL,
	    "{\"numberOfImages\":1,\"aspectRatio\":\"1:1\"}");
}

Test(roundtrip, prompt_json_escapes, .timeout = TEST_TIMEOUT_S)
{
	/* Written by hand: every escape form JSON has, "\/" included. */
	static const char body[] = "{\"prompt\":\"  Caf\\u00e9 \\\"quoted\\\" "
	    "back\\\\slash\\ttab\\nnew\\r\\nline \\ud83c\\udf05 a\\/b "
	    "</script> \\b\\f \\u2028\\u2029 \\uFEFF end  \"}";
	static const char prompt[] = "  Caf\xc3\xa9 \"quoted\" back\\slash\t"
	    "tab\nnew\r\nline \xf0\x9f\x8c\x85 a/b </script> \b\f "
	    "\xe2\x80\xa8\xe2\x80\xa9 \xef\xbb\xbf end  ";

	roundtrip(body, prompt, strlen(prompt),
	    "{\"numberOfImages\":1,\"aspectRatio\":\"1:1\"}", NULL);
}

Test(roundtrip, prompt_raw_utf8, .timeout = TEST_TIMEOUT_S)
{
	/* Raw (unescaped) multi-byte UTF-8 of every length, combining
	 * marks, RTL text and the largest code point. */
	roundtrip_fields("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\xa6\x8a"
	    "\xf0\x9f\x8c\x85 \xce\xa9mega nai\xcc\x88ve "
	    "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xf4\x8f\xbf\xbf \xc2\x80 ~",
	    "{\"aspectRatio\":\"3:2\"}",
	    "{\"numberOfImages\":1,\"aspectRatio\":\"3:2\"}");
}

Test(roundtrip, prompt_control_characters, .timeout = TEST_TIMEOUT_S)
{
	/* Control characters other than NUL are allowed and kept. */
	static const char body[] = "{\"prompt\":\"\\u0001start\\u001f "
	    "\\u007f mid \\u0080 end\"}";
	static const char prompt[] = "\x01start\x1f \x7f mid \xc2\x80 end";

	roundtrip(body, prompt, strlen(prompt),
	    "{\"numberOfImages\":1,\"aspectRatio\":\"1:1\"}", NULL);
}

Test(roundtrip, prompt_surrounding_whitespace_kept,
    .timeout = TEST_TIMEOUT_S)
{
	roundtrip_fields("\t  a lighthouse at dusk \n  ", NULL,
	    "{\"numberOfImages\":1,\"aspectRatio\":\"1:1\"}");
}

Test(roundtrip, prompt_2000_emoji_with_padding, .timeout = TEST_TIMEOUT_S)
{
	/* 2000 four-byte characters (8000 bytes) plus surrounding blanks,
	 * which do not count: the longest accepted prompt. */
	size_t len = 2 + 2000 * 4 + 2;
	char *p = malloc(len + 1), *body;

	cr_assert_not_null(p);
	memcpy(p, "  ", 2);
	for (size_t i = 0; i < 2000; i++)
		memcpy(p + 2 + i * 4, "\xf0\x9f\xa6\x8a", 4);
	memcpy(p + 2 + 8000, "  ", 3);
	body = body_with_prompt(p, len, NULL);
	roundtrip(body, p, len, "{\"numberOfImages\":1,\"aspectRatio\":"
	    "\"1:1\"}", NULL);
	free(body);
	free(p);
}

/* ------------------------------------------------------------------ */
/* Round trips: numberOfImages                                         */

Test(roundtrip, number_of_images_1, .timeout = TEST_TIMEOUT_S)
{
	roundtrip_fields("one image", "{\"numberOfImages\":1,"
	    "\"aspectRatio\":\"2:3\"}",
	    "{\"numberOfImages\":1,\"aspectRatio\":\"2:3\"}");
}

Test(roundtrip, number_of_images_2, .timeout = TEST_TIMEOUT_S)
{
	roundtrip_fields("two images", "{\"numberOfImages\":2}",
	    "{\"numberOfImages\":2,\"aspectRatio\":\"1:1\"}");
}

Test(roundtrip, number_of_images_3, .timeout = TEST_TIMEOUT_S)
{
	roundtrip_fields("three images", "{\"numberOfImages\":3,"
	    "\"aspectRatio\":\"21:9\"}",
	    "{\"numberOfImages\":3,\"aspectRatio\":\"21:9\"}");
}

Test(roundtrip, number_of_images_4, .timeout = TEST_TIMEOUT_S)
{
	roundtrip_fields("four images", "{\"numberOfImages\":4,"
	    "\"aspectRatio\":\"9:16\"}",
	    "{\"numberOfImages\":4,\"aspectRatio\":\"9:16\"}");
}

/* ------------------------------------------------------------------ */
/* Round trips: aspectRatio, every supported value                     */

#define ASPECT_TEST(tname, ar)						\
Test(roundtrip, aspect_ratio_##tname, .timeout = TEST_TIMEOUT_S)	\
{									\
	roundtrip_fields("aspect ratio " ar, "{\"aspectRatio\":\"" ar	\
	    "\"}", "{\"numberOfImages\":1,\"aspectRatio\":\"" ar "\"}");	\
}

ASPECT_TEST(1_1, "1:1")
ASPECT_TEST(2_3, "2:3")
ASPECT_TEST(3_2, "3:2")
ASPECT_TEST(3_4, "3:4")
ASPECT_TEST(4_3, "4:3")
ASPECT_TEST(4_5, "4:5")
ASPECT_TEST(5_4, "5:4")
ASPECT_TEST(9_16, "9:16")
ASPECT_TEST(16_9, "16:9")
ASPECT_TEST(21_9, "21:9")

/* ------------------------------------------------------------------ */
/* Round trips: seed                                                   */

Test(roundtrip, seed_zero, .timeout = TEST_TIMEOUT_S)
{
	roundtrip_fields("seed zero", "{\"seed\":0}",
	    "{\"numberOfImages\":1,\"aspectRatio\":\"1:1\",\"seed\":0}");
}

Test(roundtrip, seed_max, .timeout = TEST_TIMEOUT_S)
{
	roundtrip_fields("seed max", "{\"seed\":4294967295}",
	    "{\"numberOfImages\":1,\"aspectRatio\":\"1:1\","
	    "\"seed\":4294967295}");
}

Test(roundtrip, seed_middle, .timeout = TEST_TIMEOUT_S)
{
	roundtrip_fields("seed middle", "{\"seed\":2147483648}",
	    "{\"numberOfImages\":1,\"aspectRatio\":\"1:1\","
	    "\"seed\":2147483648}");
}

/* ------------------------------------------------------------------ */
/* Round trips: negativePrompt                                         */

Test(roundtrip, negative_prompt_empty, .timeout = TEST_TIMEOUT_S)
{
	roundtrip_fields("negative empty", "{\"negativePrompt\":\"\"}",
	    "{\"numberOfImages\":1,\"aspectRatio\":\"1:1\","
	    "\"negativePrompt\":\"\"}");
}

Test(roundtrip, negative_prompt_escapes, .timeout = TEST_TIMEOUT_S)
{
	static const char body[] = "{\"negativePrompt\":\" blurry, \\\"low\\\""
	    " q\\u00fcality\\\\\\t\\n\\ud83d\\udeab \\/ \",\"prompt\":\"neg\"}";

	roundtrip(body, "neg", 3, "{\"numberOfImages\":1,\"aspectRatio\":"
	    "\"1:1\",\"negativePrompt\":\" blurry, \\\"low\\\" "
	    "q\xc3\xbc" "ality\\\\\\t\\n\xf0\x9f\x9a\xab / \"}", NULL);
}

Test(roundtrip, negative_prompt_2000, .timeout = TEST_TIMEOUT_S)
{
	char neg[2001 * 2], extra[sizeof neg + 64], meta[sizeof neg + 128];

	/* 2000 two-byte characters. */
	for (size_t i = 0; i < 2000; i++)
		memcpy(neg + i * 2, "\xc3\xa9", 2);
	neg[4000] = '\0';
	snprintf(extra, sizeof extra, "{\"negativePrompt\":\"%s\"}", neg);
	snprintf(meta, sizeof meta, "{\"numberOfImages\":1,\"aspectRatio\":"
	    "\"1:1\",\"negativePrompt\":\"%s\"}", neg);
	roundtrip_fields("negative 2000", extra, meta);
}

/* ------------------------------------------------------------------ */
/* Round trips: every field at once                                    */

Test(roundtrip, all_fields, .timeout = TEST_TIMEOUT_S)
{
	roundtrip_fields(" all fields \xe2\x9c\x93 ",
	    "{\"numberOfImages\":3,\"aspectRatio\":\"4:5\",\"seed\":42,"
	    "\"negativePrompt\":\"no text\"}",
	    "{\"negativePrompt\":\"no text\",\"seed\":42,\"aspectRatio\":"
	    "\"4:5\",\"numberOfImages\":3}");
}

/* ------------------------------------------------------------------ */
/* The renderer is deterministic                                       */

Test(determinism, same_prompt_and_seed_same_bytes, .timeout = TEST_TIMEOUT_S)
{
	static const char meta7[] = "{\"numberOfImages\":1,\"aspectRatio\":"
	    "\"3:2\",\"seed\":7}";
	static const char meta8[] = "{\"numberOfImages\":1,\"aspectRatio\":"
	    "\"3:2\",\"seed\":8}";
	struct completed a, b, c;

	roundtrip("{\"prompt\":\"a quiet harbour\",\"aspectRatio\":\"3:2\","
	    "\"seed\":7}", "a quiet harbour", 15, meta7, &a);
	roundtrip("{\"seed\":7,\"prompt\":\"a quiet harbour\","
	    "\"aspectRatio\":\"3:2\"}", "a quiet harbour", 15, meta7, &b);
	roundtrip("{\"prompt\":\"a quiet harbour\",\"aspectRatio\":\"3:2\","
	    "\"seed\":8}", "a quiet harbour", 15, meta8, &c);

	cr_assert(a.img[0].len == b.img[0].len &&
	    memcmp(a.img[0].data, b.img[0].data, a.img[0].len) == 0,
	    "same prompt and seed gave different images (%zu vs %zu bytes)",
	    a.img[0].len, b.img[0].len);
	cr_assert(a.img[0].len != c.img[0].len ||
	    memcmp(a.img[0].data, c.img[0].data, a.img[0].len) != 0,
	    "seeds 7 and 8 gave byte-identical images");
	completed_free(&a);
	completed_free(&b);
	completed_free(&c);
}
