/*
 * test_security.c - the API as an attacker would try it, through nginx
 * against a live stack (scripts/test-integration.sh; see tests/lib/itest.h).
 *
 * Each test names the attack in its name.  What is checked, besides the
 * status: errors are JSON in valid UTF-8 (never nginx's HTML, never a 500),
 * a victim's rows never change, and another user's things look exactly
 * like things that do not exist.  docs/security.md maps each test to the
 * threat it covers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "itest.h"

#define P	"/api/generate/text-to-image"
#define Q	"/api/generate/queue"
#define TIMEOUT	180

/* ------------------------------------------------------------------ */
/* helpers                                                             */

/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
static int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t	 i = 0, k, need;
	unsigned long cp, min;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			need = 1;
			cp = s[i] & 0x1f;
			min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			need = 2;
			cp = s[i] & 0x0f;
			min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			need = 3;
			cp = s[i] & 0x07;
			min = 0x10000;
		} else
			return 0;
		if (n - i - 1 < need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

/*
 * The answer to a hostile request: never a 5xx, always the JSON error
 * shape in valid UTF-8 (unless it is a success), and one of `allowed`
 * (0-terminated).  Returns the parsed body (caller puts it).
 */
static struct json_object *
expect_json(const struct itest_response *r, const long *allowed,
    const char *what)
{
	struct json_object	*o;
	size_t			 i;
	int			 ok = 0;

	for (i = 0; allowed[i] != 0; i++)
		if (r->status == allowed[i])
			ok = 1;
	cr_assert(ok, "%s: unexpected HTTP %ld: %.*s", what, r->status,
	    (int)(r->body_len > 600 ? 600 : r->body_len), r->body);
	cr_assert(r->status < 500, "%s: HTTP %ld", what, r->status);
	cr_assert(itest_is_json_response(r), "%s: HTTP %ld is not JSON "
	    "(Content-Type %s)", what, r->status,
	    itest_header(r, "Content-Type") ? itest_header(r, "Content-Type") :
	    "none");
	cr_assert(utf8_valid((const unsigned char *)r->body, r->body_len),
	    "%s: the body is not valid UTF-8: %.*s", what,
	    (int)(r->body_len > 600 ? 600 : r->body_len), r->body);
	o = itest_response_json(r);
	if (r->status >= 400)
		cr_assert(itest_json_str(o, "error.code") != NULL,
		    "%s: no error.code in %s", what, itest_json_text(o));
	return o;
}

static void
expect_error(const struct itest_response *r, long status, const char *code,
    const char *what)
{
	const long		 allowed[] = { status, 0 };
	struct json_object	*o = expect_json(r, allowed, what);
	const char		*c = itest_json_str(o, "error.code");

	cr_assert(c != NULL && strcmp(c, code) == 0, "%s: error.code %s, "
	    "wanted %s", what, c ? c : "(none)", code);
	if (status == 401)
		cr_assert(itest_header(r, "WWW-Authenticate") != NULL,
		    "%s: 401 without WWW-Authenticate", what);
	json_object_put(o);
}

/* One request with arbitrary header lines (NULL-terminated). */
static void
call_hdrs(const char *method, const char *path, const char *const *hdrs,
    const char *body, struct itest_response *r)
{
	struct itest_request	 req;

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = path;
	req.headers = hdrs;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	itest_http(&req, r);
}

/* The error document without its requestId, for comparisons. */
static char *
error_sans_request_id(const struct itest_response *r)
{
	struct json_object	*o = itest_response_json(r), *e;
	char			*s;

	cr_assert(json_object_object_get_ex(o, "error", &e));
	json_object_object_del(e, "requestId");
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	cr_assert_not_null(s);
	json_object_put(o);
	return s;
}

static void
make_generation(const struct itest_user *u, char id[40])
{
	json_object_put(itest_generate(u, "{\"prompt\":\"a quiet harbour\"}",
	    id));
}

static const char *
status_of(const struct itest_user *u, const char *id, char *buf, size_t len)
{
	char	*s = itest_pg_text("SELECT status FROM image_generations "
	    "WHERE id = $1::uuid AND user_id = $2::uuid", id, u->id, NULL);

	snprintf(buf, len, "%s", s ? s : "(none)");
	free(s);
	return buf;
}

/* ------------------------------------------------------------------ */
/* another user's things                                               */

/*
 * GET and cancel of another user's generation answer exactly like those
 * of a generation that does not exist (same status, same body but for the
 * request id), and change nothing.
 */
Test(attack, other_users_generation_is_a_missing_one, .timeout = TIMEOUT)
{
	struct itest_user	 a, b;
	struct itest_response	 r1, r2;
	char			 id[40], path[160], st1[32], st2[32];
	char			*e1, *e2;
	const char		*missing = "00000000-0000-4000-8000-000000000000";

	itest_require_stack();
	itest_user_create(&a, "sec-owner");
	itest_user_create(&b, "sec-thief");
	make_generation(&a, id);
	status_of(&a, id, st1, sizeof(st1));

	snprintf(path, sizeof(path), Q "/%s", id);
	itest_call("GET", path, b.token, NULL, &r1);
	snprintf(path, sizeof(path), Q "/%s", missing);
	itest_call("GET", path, b.token, NULL, &r2);
	expect_error(&r1, 404, "not_found", "GET another user's generation");
	expect_error(&r2, 404, "not_found", "GET a missing generation");
	e1 = error_sans_request_id(&r1);
	e2 = error_sans_request_id(&r2);
	cr_assert_str_eq(e1, e2, "GET: another user's %s, missing %s", e1, e2);
	free(e1);
	free(e2);
	itest_response_free(&r1);
	itest_response_free(&r2);

	snprintf(path, sizeof(path), Q "/%s/cancel", id);
	itest_call("POST", path, b.token, NULL, &r1);
	snprintf(path, sizeof(path), Q "/%s/cancel", missing);
	itest_call("POST", path, b.token, NULL, &r2);
	expect_error(&r1, 404, "not_found", "cancel another user's generation");
	expect_error(&r2, 404, "not_found", "cancel a missing generation");
	e1 = error_sans_request_id(&r1);
	e2 = error_sans_request_id(&r2);
	cr_assert_str_eq(e1, e2, "cancel: another user's %s, missing %s", e1,
	    e2);
	free(e1);
	free(e2);
	itest_response_free(&r1);
	itest_response_free(&r2);

	/* Not canceled by the attempt (it may have moved on by itself). */
	status_of(&a, id, st2, sizeof(st2));
	cr_assert(strcmp(st2, "canceled") != 0, "B canceled A's generation "
	    "(was %s)", st1);
	itest_user_free(&a);
	itest_user_free(&b);
}

/* The list shows only the caller's rows, whatever cursor it is given. */
Test(attack, other_users_cursor_and_list, .timeout = TIMEOUT)
{
	struct itest_user	 a, b;
	struct itest_response	 r;
	struct json_object	*o;
	char			 id1[40], id2[40], path[512];
	const char		*cursor;

	itest_require_stack();
	itest_user_create(&a, "sec-lista");
	itest_user_create(&b, "sec-listb");
	make_generation(&a, id1);
	make_generation(&a, id2);

	itest_call("GET", Q "?limit=1", a.token, NULL, &r);
	o = itest_response_json(&r);
	cr_assert_eq(r.status, 200, "A's list: %ld %s", r.status, r.body);
	cursor = itest_json_str(o, "nextCursor");
	cr_assert_not_null(cursor, "A has two generations: a next cursor");
	snprintf(path, sizeof(path), Q "?cursor=%s", cursor);
	json_object_put(o);
	itest_response_free(&r);

	/* B with A's cursor: B's own (empty) list, none of A's ids. */
	itest_call("GET", path, b.token, NULL, &r);
	cr_assert_eq(r.status, 200, "B with A's cursor: %ld %s", r.status,
	    r.body);
	cr_assert(strstr(r.body, id1) == NULL && strstr(r.body, id2) == NULL,
	    "B sees A's generations: %s", r.body);
	itest_response_free(&r);
	itest_call("GET", Q, b.token, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert(strstr(r.body, id1) == NULL && strstr(r.body, id2) == NULL,
	    "B's list holds A's generations: %s", r.body);
	itest_response_free(&r);
	itest_user_free(&a);
	itest_user_free(&b);
}

/*
 * Idempotency keys are per user: B reusing A's key (with A's body, or
 * another one) gets a generation of its own, never A's, and never A's
 * 422.
 */
Test(attack, other_users_idempotency_key, .timeout = TIMEOUT)
{
	static const char body[] = "{\"prompt\":\"same words\"}";
	static const char other[] = "{\"prompt\":\"other words\"}";
	struct itest_user	 a, b;
	struct itest_response	 r;
	struct json_object	*o;
	char			 auth_a[128], auth_b[128], ida[40];
	const char		*h[4], *id;

	itest_require_stack();
	itest_user_create(&a, "sec-idema");
	itest_user_create(&b, "sec-idemb");
	snprintf(auth_a, sizeof(auth_a), "Authorization: Bearer %s", a.token);
	snprintf(auth_b, sizeof(auth_b), "Authorization: Bearer %s", b.token);
	h[1] = "Content-Type: application/json";
	h[2] = "Idempotency-Key: sec-shared-key-1";
	h[3] = NULL;

	h[0] = auth_a;
	call_hdrs("POST", P, h, body, &r);
	cr_assert_eq(r.status, 202, "A: %ld %s", r.status, r.body);
	o = itest_response_json(&r);
	snprintf(ida, sizeof(ida), "%s", itest_json_str(o, "generationId"));
	json_object_put(o);
	itest_response_free(&r);

	h[0] = auth_b;
	call_hdrs("POST", P, h, body, &r);
	cr_assert_eq(r.status, 202, "B, A's key and body: %ld %s", r.status,
	    r.body);
	o = itest_response_json(&r);
	id = itest_json_str(o, "generationId");
	cr_assert(id != NULL && strcmp(id, ida) != 0,
	    "B got A's generation %s", ida);
	json_object_put(o);
	itest_response_free(&r);
	cr_assert_eq(itest_generation_count(&b), 1);

	h[2] = "Idempotency-Key: sec-shared-key-2";
	h[0] = auth_a;
	call_hdrs("POST", P, h, body, &r);
	cr_assert_eq(r.status, 202, "A, key 2: %ld %s", r.status, r.body);
	itest_response_free(&r);
	h[0] = auth_b;
	call_hdrs("POST", P, h, other, &r);
	cr_assert_eq(r.status, 202, "B, A's key 2 with another body: %ld %s",
	    r.status, r.body);
	itest_response_free(&r);
	cr_assert_eq(itest_generation_count(&a), 2);
	cr_assert_eq(itest_generation_count(&b), 2);
	itest_user_free(&a);
	itest_user_free(&b);
}

/* ------------------------------------------------------------------ */
/* tokens                                                              */

/* A valid token in the query string is not a credential. */
Test(attack, token_in_query_string, .timeout = TIMEOUT)
{
	static const char *const names[] = { "access_token", "token",
	    "api_key", "bearer" };
	struct itest_user	 a;
	struct itest_response	 r;
	char			 id[40], path[512];
	size_t			 i;

	itest_require_stack();
	itest_user_create(&a, "sec-query");
	make_generation(&a, id);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), Q "/%s?%s=%s", id, names[i],
		    a.token);
		itest_call("GET", path, NULL, NULL, &r);
		expect_error(&r, 401, "unauthorized", path);
		itest_response_free(&r);
		snprintf(path, sizeof(path), P "?%s=%s", names[i], a.token);
		itest_call("POST", path, NULL, "{\"prompt\":\"x\"}", &r);
		expect_error(&r, 401, "unauthorized", path);
		itest_response_free(&r);
	}
	cr_assert_eq(itest_generation_count(&a), 1);
	itest_user_free(&a);
}

/* A revoked token stops working at once, on every route. */
Test(attack, revoked_token, .timeout = TIMEOUT)
{
	struct itest_user	 a;
	struct itest_response	 r;
	char			 id[40], path[160];

	itest_require_stack();
	itest_user_create(&a, "sec-revoke");
	make_generation(&a, id);
	itest_token_revoke(a.token);
	snprintf(path, sizeof(path), Q "/%s", id);
	itest_call("GET", path, a.token, NULL, &r);
	expect_error(&r, 401, "unauthorized", "GET with a revoked token");
	itest_response_free(&r);
	itest_call("POST", P, a.token, "{\"prompt\":\"x\"}", &r);
	expect_error(&r, 401, "unauthorized", "POST with a revoked token");
	itest_response_free(&r);
	itest_call("GET", Q, a.token, NULL, &r);
	expect_error(&r, 401, "unauthorized", "list with a revoked token");
	itest_response_free(&r);
	snprintf(path, sizeof(path), Q "/%s/cancel", id);
	itest_call("POST", path, a.token, NULL, &r);
	expect_error(&r, 401, "unauthorized", "cancel with a revoked token");
	itest_response_free(&r);
	cr_assert_eq(itest_generation_count(&a), 1);
	itest_user_free(&a);
}

/*
 * Hostile Authorization values: SQL, control and 8-bit bytes, a forged
 * token of the right shape, one a byte too long, and sizes up to 10 KB.
 * All 401 (or nginx's JSON 400 for a header over its buffer), never a 5xx,
 * and a victim's rows stay as they were.
 */
Test(attack, hostile_authorization_headers, .timeout = TIMEOUT)
{
	static const char *const vals[] = {
		"Bearer ' OR '1'='1",
		"Bearer igt_' OR 1=1; DROP TABLE api_tokens; --aaaaaaaaaaaaa",
		"Bearer igt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"Bearer igt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"Bearer igt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa%00",
		"Bearer igt_\\x00aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"Bearer \x01\x02\x7f",
		"Bearer \xff\xfe\xc3\x28",
		"Bearer $1",
		"Bearer %s%s%s%n",
		"Basic YWRtaW46YWRtaW4=",
		"Bearer",
		"bearer\tigt_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	static const size_t sizes[] = { 1000, 4090, 4200, 7000, 10240 };
	const long		 allowed[] = { 401, 0 };
	const long		 big_allowed[] = { 401, 400, 0 };
	struct itest_user	 victim;
	struct itest_response	 r;
	struct json_object	*o;
	char			 line[11000], id[40], path[160];
	const char		*h[2];
	long long		 before;
	size_t			 i, n;

	itest_require_stack();
	itest_user_create(&victim, "sec-victim");
	make_generation(&victim, id);
	before = itest_generation_count(&victim);
	snprintf(path, sizeof(path), Q "/%s", id);
	h[1] = NULL;
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		snprintf(line, sizeof(line), "Authorization: %s", vals[i]);
		h[0] = line;
		call_hdrs("GET", path, h, NULL, &r);
		o = expect_json(&r, allowed, vals[i]);
		json_object_put(o);
		itest_response_free(&r);
		call_hdrs("POST", P, h, "{\"prompt\":\"x\"}", &r);
		o = expect_json(&r, allowed, vals[i]);
		json_object_put(o);
		itest_response_free(&r);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		n = (size_t)snprintf(line, sizeof(line),
		    "Authorization: Bearer igt_");
		memset(line + n, 'A', sizes[i]);
		line[n + sizes[i]] = '\0';
		h[0] = line;
		call_hdrs("GET", path, h, NULL, &r);
		o = expect_json(&r, big_allowed, "a long token");
		json_object_put(o);
		itest_response_free(&r);
	}
	cr_assert_eq(itest_generation_count(&victim), before);
	itest_user_free(&victim);
}

/*
 * Tokens are stored only as SHA-256 hashes: the secret is nowhere in the
 * database, and its hash is (a unique index finds it; see
 * docs/security.md on why that makes comparison timing moot).
 */
Test(attack, tokens_only_as_hashes, .timeout = TIMEOUT)
{
	static const char *const tables[] = { "users", "api_tokens",
	    "image_generations", "jobs", "uploads" };
	struct itest_user	 a;
	char			 sql[256];
	size_t			 i;

	itest_require_stack();
	itest_user_create(&a, "sec-hash");
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM api_tokens WHERE "
	    "token_hash = sha256(convert_to($1, 'UTF8')) AND user_id = "
	    "$2::uuid", a.token, a.id, NULL), 1);
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s t WHERE "
		    "strpos(t::text, $1) > 0", tables[i]);
		cr_assert_eq(itest_pg_int(sql, a.token, NULL), 0,
		    "the token is stored in %s", tables[i]);
		/* Nor the part after the prefix, in any encoding of text. */
		cr_assert_eq(itest_pg_int(sql, a.token + 4, NULL), 0,
		    "the token's secret part is stored in %s", tables[i]);
	}
	itest_user_free(&a);
}

/* ------------------------------------------------------------------ */
/* SQL metacharacters and NUL in every field                           */

struct body_case {
	const char	*body;
	long		 status;	/* 202: accepted and must round-trip */
	const char	*field;		/* error.field for a 400 */
};

/*
 * Every body field with SQL metacharacters and (escaped) NUL: either the
 * exact value comes back or a precise 400 names the field; never a 500,
 * and no other user's row count moves.
 */
Test(attack, sql_and_nul_in_every_body_field, .timeout = TIMEOUT)
{
	static const struct body_case cases[] = {
		{ "{\"prompt\":\"'; DROP TABLE image_generations; --\"}", 202,
		    NULL },
		{ "{\"prompt\":\"\\\" OR 1=1 -- $1 $$ \\\\ E'\\\\x00' /* */\"}",
		    202, NULL },
		{ "{\"prompt\":\"x\",\"negativePrompt\":"
		    "\"'; DROP TABLE image_generations; --\"}", 202, NULL },
		{ "{\"prompt\":\"x\",\"negativePrompt\":"
		    "\"\\\" OR 1=1 -- $1 $$ \\\\ E'\\\\x00' /* */\"}", 202, NULL },
		{ "{\"prompt\":\"a\\u0000b\"}", 400, "prompt" },
		{ "{\"prompt\":\"\\u0000\"}", 400, "prompt" },
		{ "{\"prompt\":\"x\",\"negativePrompt\":\"\\u0000\"}", 400,
		    "negativePrompt" },
		{ "{\"prompt\":\"x\",\"aspectRatio\":\"1:1'; --\"}", 400,
		    "aspectRatio" },
		{ "{\"prompt\":\"x\",\"aspectRatio\":\"1:1\\u0000\"}", 400,
		    "aspectRatio" },
		{ "{\"prompt\":\"x\",\"numberOfImages\":\"1; DROP TABLE jobs\"}",
		    400, "numberOfImages" },
		{ "{\"prompt\":\"x\",\"numberOfImages\":\"1\\u0000\"}", 400,
		    "numberOfImages" },
		{ "{\"prompt\":\"x\",\"seed\":\"1 OR 1=1\"}", 400, "seed" },
		{ "{\"prompt\":\"x\",\"seed\":\"\\u0000\"}", 400, "seed" },
		{ "{\"prompt\":\"x\",\"'; DROP TABLE users; --\":1}", 400,
		    "'; DROP TABLE users; --" },
		{ "{\"prompt\":\"x\",\"see\\u0000d\":1}", 400, NULL },
		{ "{\"prompt\":\"x\",\"webhookUrl\":"
		    "\"https://example.com/a'; DROP TABLE jobs; --\"}", 400,
		    "webhookUrl" },
		{ "{\"prompt\":\"x\",\"webhookUrl\":"
		    "\"https://example.com/\\u0000\"}", 400, "webhookUrl" },
	};
	struct itest_user	 a, victim;
	struct itest_response	 r;
	struct json_object	*o, *sent, *got;
	char			 id[40], vid[40], path[160];
	const char		*f;
	long long		 vbefore, mine;
	size_t			 i;

	itest_require_stack();
	itest_user_create(&a, "sec-sqlbody");
	itest_user_create(&victim, "sec-sqlvictim");
	make_generation(&victim, vid);
	vbefore = itest_generation_count(&victim);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mine = itest_generation_count(&a);
		itest_call("POST", P, a.token, cases[i].body, &r);
		if (cases[i].status == 202) {
			cr_assert_eq(r.status, 202, "%s: %ld %s", cases[i].body,
			    r.status, r.body);
			o = itest_response_json(&r);
			snprintf(id, sizeof(id), "%s",
			    itest_json_str(o, "generationId"));
			json_object_put(o);
			/* The exact values come back. */
			snprintf(path, sizeof(path), Q "/%s", id);
			got = itest_get_generation(&a, id);
			sent = itest_json(cases[i].body);
			cr_assert_str_eq(itest_json_str(got, "prompt"),
			    itest_json_str(sent, "prompt"), "%s", cases[i].body);
			if (itest_json_has(sent, "negativePrompt"))
				cr_assert_str_eq(itest_json_str(got,
				    "metadata.negativePrompt"), itest_json_str(
				    sent, "negativePrompt"), "%s",
				    cases[i].body);
			json_object_put(got);
			json_object_put(sent);
			cr_assert_eq(itest_generation_count(&a), mine + 1);
		} else {
			expect_error(&r, 400, "validation_error",
			    cases[i].body);
			o = itest_response_json(&r);
			f = itest_json_str(o, "error.field");
			if (cases[i].field)
				cr_assert(f && strcmp(f, cases[i].field) == 0,
				    "%s: error.field %s", cases[i].body,
				    f ? f : "(none)");
			json_object_put(o);
			cr_assert_eq(itest_generation_count(&a), mine,
			    "%s was refused but stored", cases[i].body);
		}
		itest_response_free(&r);
	}
	cr_assert_eq(itest_generation_count(&victim), vbefore);
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM users WHERE id = "
	    "$1::uuid", victim.id, NULL), 1);
	itest_user_free(&a);
	itest_user_free(&victim);
}

/* The same in query parameters and the Idempotency-Key header. */
Test(attack, sql_in_query_and_idempotency_key, .timeout = TIMEOUT)
{
	static const char *const queries[] = {
		"?status=queued'%20OR%20'1'='1",
		"?status=queued%27--",
		"?limit=1;DROP%20TABLE%20jobs",
		"?limit=1%00",
		"?cursor='%20OR%201=1--",
		"?cursor=%00",
		"?cursor=djEuMScgT1IgMT0xLS0uMDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw",
		"?'%3BDROP=1",
	};
	static const char *const keys[] = { "Idempotency-Key: a' OR '1'='1",
	    "Idempotency-Key: '--;DROP_TABLE_jobs", "Idempotency-Key: \"\"",
	    "Idempotency-Key: a\x01" "b", "Idempotency-Key: \xc3\xa9t\xc3\xa9" };
	const long		 qallowed[] = { 400, 0 };
	const long		 kallowed[] = { 202, 400, 0 };
	struct itest_user	 a;
	struct itest_response	 r;
	struct json_object	*o;
	char			 path[512], auth[128];
	const char		*h[4];
	size_t			 i;

	itest_require_stack();
	itest_user_create(&a, "sec-sqlquery");
	for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		snprintf(path, sizeof(path), Q "%s", queries[i]);
		itest_call("GET", path, a.token, NULL, &r);
		o = expect_json(&r, qallowed, path);
		json_object_put(o);
		itest_response_free(&r);
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", a.token);
	h[0] = auth;
	h[1] = "Content-Type: application/json";
	h[3] = NULL;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		h[2] = keys[i];
		call_hdrs("POST", P, h, "{\"prompt\":\"k\"}", &r);
		o = expect_json(&r, kallowed, keys[i]);
		json_object_put(o);
		itest_response_free(&r);
	}
	/* A metacharacter key is just a key: the same again replays. */
	h[2] = "Idempotency-Key: a'OR'1'='1";
	call_hdrs("POST", P, h, "{\"prompt\":\"replay me\"}", &r);
	cr_assert_eq(r.status, 202, "%ld %s", r.status, r.body);
	itest_response_free(&r);
	call_hdrs("POST", P, h, "{\"prompt\":\"replay me\"}", &r);
	cr_assert(r.status == 202 || r.status == 200, "replay: %ld %s",
	    r.status, r.body);
	itest_response_free(&r);
	cr_assert_eq(itest_pg_int("SELECT count(*) FROM image_generations "
	    "WHERE user_id = $1::uuid AND prompt = 'replay me'", a.id, NULL), 1);
	itest_user_free(&a);
}

/*
 * Bytes that are not UTF-8 in what the API may echo (a query parameter's
 * name) must not make its JSON invalid.
 */
Test(attack, non_utf8_query_name_not_echoed_raw, .timeout = TIMEOUT)
{
	struct itest_user	 a;
	struct itest_response	 r;
	const long		 allowed[] = { 400, 0 };
	struct json_object	*o;

	itest_require_stack();
	itest_user_create(&a, "sec-utf8");
	itest_call("GET", Q "?\xff\xfe=1", a.token, NULL, &r);
	o = expect_json(&r, allowed, "a query name of bytes 0xff 0xfe");
	json_object_put(o);
	itest_response_free(&r);
	itest_call("GET", Q "?abcdefghijklmnopqrstuvwxyz01234\xc3\xa9=1",
	    a.token, NULL, &r);
	o = expect_json(&r, allowed, "a long query name cut inside a UTF-8 "
	    "character");
	json_object_put(o);
	itest_response_free(&r);
	itest_user_free(&a);
}

/* ------------------------------------------------------------------ */
/* path traversal                                                      */

/*
 * Traversal and odd ids in the :generationId segment and under /files/:
 * a JSON 400 or 404, never a file from outside, never a 5xx.
 */
Test(attack, path_traversal_in_ids, .timeout = TIMEOUT)
{
	static const char *const ids[] = {
		"..%2f..%2f..%2fetc%2fpasswd",
		"%2e%2e",
		"%2e%2e%2f%2e%2e%2fimggen.env",
		"..",
		"..%5c..%5cimggen.env",
		"00000000-0000-4000-8000-000000000000%00",
		"00000000-0000-4000-8000-000000000000%2f..",
		"%00",
		"00000000-0000-4000-8000-00000000000G",
		"00000000-0000-4000-8000-0000000000000",
		"00000000-0000-4000-8000-000000000000;DROP",
		"%252e%252e%252f",
	};
	static const char *const files[] = {
		"/files/..%2fimggen.env",
		"/files/%2e%2e/imggen.env",
		"/files/../imggen.env",
		"/files/..%2f..%2fetc%2fpasswd",
		"/files/generations/..%2f..%2fimggen.env",
		"/files/%00",
		"/files/",
	};
	/* 405: normalised by nginx onto a route of another method. */
	const long		 allowed[] = { 400, 404, 405, 0 };
	const long		 fallowed[] = { 400, 403, 404, 0 };
	struct itest_user	 a;
	struct itest_response	 r;
	struct json_object	*o;
	char			 path[9000];
	size_t			 i;

	itest_require_stack();
	itest_user_create(&a, "sec-traversal");
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(path, sizeof(path), Q "/%s", ids[i]);
		itest_call("GET", path, a.token, NULL, &r);
		o = expect_json(&r, allowed, path);
		json_object_put(o);
		itest_response_free(&r);
		snprintf(path, sizeof(path), Q "/%s/cancel", ids[i]);
		itest_call("POST", path, a.token, NULL, &r);
		o = expect_json(&r, allowed, path);
		json_object_put(o);
		itest_response_free(&r);
	}
	/* An overlong id: 400 from the API (or 414 from nginx). */
	snprintf(path, sizeof(path), Q "/");
	memset(path + strlen(path), 'a', 5000);
	path[strlen(Q "/") + 5000] = '\0';
	itest_call("GET", path, a.token, NULL, &r);
	{
		const long long_allowed[] = { 400, 404, 414, 0 };

		o = expect_json(&r, long_allowed, "a 5000-character id");
	}
	json_object_put(o);
	itest_response_free(&r);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		itest_call("GET", files[i], NULL, NULL, &r);
		o = expect_json(&r, fallowed, files[i]);
		json_object_put(o);
		cr_assert(strstr(r.body, "DATABASE_URL") == NULL &&
		    strstr(r.body, "root:") == NULL, "%s served a file: %s",
		    files[i], r.body);
		itest_response_free(&r);
	}
	itest_user_free(&a);
}

/* ------------------------------------------------------------------ */
/* secrets                                                             */

/* Whether any file in dir holds needle (bytes). */
static int
dir_holds(const char *dir, const char *needle, char *where, size_t wlen)
{
	char	 cmd[4096], q1[1024], q2[2048];
	FILE	*fp;
	int	 found;

	q1[0] = q2[0] = '\0';
	itest_shell_quote(q1, sizeof(q1), dir);
	itest_shell_quote(q2, sizeof(q2), needle);
	snprintf(cmd, sizeof(cmd), "grep -rlF -e %s -- %s 2>/dev/null", q2, q1);
	cr_assert_not_null(fp = popen(cmd, "r"));
	found = fgets(where, (int)wlen, fp) != NULL;
	pclose(fp);
	return found;
}

/* The value of KEY in a KEY=VALUE file (quotes stripped), or "". */
static void
env_value(const char *file, const char *key, char *out, size_t len)
{
	FILE	*fp;
	char	 line[4096], *v, *e;
	size_t	 kl = strlen(key);

	out[0] = '\0';
	if ((fp = fopen(file, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		v = line;
		if (strncmp(v, "export ", 7) == 0)
			v += 7;
		if (strncmp(v, key, kl) != 0 || v[kl] != '=')
			continue;
		v += kl + 1;
		e = v + strlen(v);
		if (e - v >= 2 && (*v == '"' || *v == '\'') && e[-1] == *v) {
			v++;
			e[-1] = '\0';
		}
		snprintf(out, len, "%s", v);
	}
	fclose(fp);
}

/*
 * After a generation, failed authentications with known tokens and a
 * revoked one, no log of the stack (API, worker, nginx, PostgreSQL,
 * migrations) holds a token or a configured secret.  The configured
 * secrets are those of IMGGEN_CONFIG and STACK_DIR/imggen.local.env
 * (tests/security/secrets.env gives a stack fake ones for this test).
 */
Test(attack, secrets_never_in_logs, .timeout = TIMEOUT)
{
	static const char *const secret_keys[] = { "DATABASE_URL",
	    "GEMINI_API_KEY", "OPENAI_API_KEY", "S3_ACCESS_KEY_ID",
	    "S3_SECRET_ACCESS_KEY", "IMGGEN_JWT_SECRET",
	    "IMGGEN_WEBHOOK_KEY" };
	static const char forged[] =
	    "igt_Secr3tForgedTokenThatNobodyIssued0123456789";
	struct itest_user	 a;
	struct itest_response	 r;
	struct json_object	*o;
	char			 id[40], logdir[1024], local[1024], val[2048];
	char			 where[2048], revoked[128], *t;
	const char		*files[2];
	size_t			 i, k, checked = 0;

	itest_require_stack();
	snprintf(logdir, sizeof(logdir), "%s/log", itest_env("IMGGEN_STACK_DIR"));
	snprintf(local, sizeof(local), "%s/imggen.local.env",
	    itest_env("IMGGEN_STACK_DIR"));
	itest_user_create(&a, "sec-secrets");
	t = itest_token_create(a.email);
	snprintf(revoked, sizeof(revoked), "%s", t);
	free(t);
	itest_token_revoke(revoked);

	json_object_put(itest_generate(&a,
	    "{\"prompt\":\"secrets stay secret\"}", id));
	o = itest_wait_completed(&a, id, ITEST_COMPLETE_TIMEOUT_MS);
	json_object_put(o);
	itest_call("GET", Q, forged, NULL, &r);
	expect_error(&r, 401, "unauthorized", "a forged token");
	itest_response_free(&r);
	itest_call("POST", P, revoked, "{\"prompt\":\"x\"}", &r);
	expect_error(&r, 401, "unauthorized", "a revoked token");
	itest_response_free(&r);
	itest_call("GET", Q, "garbage-not-a-token", NULL, &r);
	expect_error(&r, 401, "unauthorized", "a malformed token");
	itest_response_free(&r);

	cr_assert(!dir_holds(logdir, a.token, where, sizeof(where)),
	    "the valid token is in %s", where);
	cr_assert(!dir_holds(logdir, a.token + 4, where, sizeof(where)),
	    "the valid token's secret part is in %s", where);
	cr_assert(!dir_holds(logdir, revoked + 4, where, sizeof(where)),
	    "the revoked token is in %s", where);
	cr_assert(!dir_holds(logdir, forged + 4, where, sizeof(where)),
	    "the forged token is in %s", where);

	files[0] = itest_env("IMGGEN_CONFIG");
	files[1] = local;
	for (k = 0; k < 2; k++)
		for (i = 0; i < sizeof(secret_keys) / sizeof(secret_keys[0]);
		    i++) {
			env_value(files[k], secret_keys[i], val, sizeof(val));
			if (strlen(val) < 8)
				continue;
			checked++;
			cr_assert(!dir_holds(logdir, val, where, sizeof(where)),
			    "%s from %s is in %s", secret_keys[i], files[k],
			    where);
		}
	cr_log_info("secrets_never_in_logs: 4 tokens and %zu configured "
	    "secret value(s) checked in %s", checked, logdir);
	cr_assert(checked >= 1, "no configured secret to look for");
	itest_user_free(&a);
}
