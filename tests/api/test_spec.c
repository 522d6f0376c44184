/*
 * test_spec.c - the OpenAPI document itself: well-formed for the tests'
 * validator, exactly the routes of the router, and a validator that
 * really refuses what the document forbids (so that the contract tests
 * cannot pass vacuously).  These tests need no stack.
 */
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <json-c/json_object_iterator.h>

#include "apitest.h"

#define ROUTER_C	"fcgi-app/responder/router.c"
#define API_H		"fcgi-app/responder/api.h"

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		cr_assert_fail("cannot open %s (run from the repository root)",
		    path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (n < 0 || (buf = malloc((size_t)n + 1)) == NULL)
		cr_assert_fail("cannot read %s", path);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		cr_assert_fail("short read of %s", path);
	buf[n] = '\0';
	fclose(f);
	for (long i = 0; i < n; i++)
		if (buf[i] == '\n' || buf[i] == '\t' || buf[i] == '\r')
			buf[i] = ' ';
	return buf;
}

Test(spec, lints_clean)
{
	char err[1024];

	cr_assert(oa_lint(oa_spec(), err, sizeof err), "docs/openapi.yaml: %s",
	    err);
}

struct route_set {
	char	 v[32][200];
	bool	 public_[32];
	size_t	 n;
};

/* "POST /api/generate/queue/{}/cancel" for each entry of routes[]. */
static void
router_routes(struct route_set *rs)
{
	char *api_h = slurp(API_H), *src = slurp(ROUTER_C), *block, *end;
	char prefix[128];
	regmatch_t m[6];
	regex_t re;
	const char *p;

	memset(rs, 0, sizeof *rs);
	cr_assert(regcomp(&re, "#define +API_PREFIX +\"([^\"]*)\"",
	    REG_EXTENDED) == 0);
	cr_assert(regexec(&re, api_h, 2, m, 0) == 0, "no API_PREFIX in "
	    API_H);
	snprintf(prefix, sizeof prefix, "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
	    api_h + m[1].rm_so);
	regfree(&re);
	block = strstr(src, "routes[] = {");
	cr_assert(block != NULL, "no route table in " ROUTER_C);
	end = strstr(block, "};");
	cr_assert(end != NULL);
	*end = '\0';
	cr_assert(regcomp(&re, "\\{ *\"([A-Z]+)\", *API_PREFIX *\"([^\"]*)\", *"
	    "([01]), *\"([^\"]*)\", *(ROUTE_[A-Z]+)", REG_EXTENDED) == 0);
	for (p = block; regexec(&re, p, 6, m, 0) == 0; p += m[0].rm_eo) {
		cr_assert(rs->n < 32);
		snprintf(rs->v[rs->n], sizeof rs->v[0], "%.*s %s%.*s%s%.*s",
		    (int)(m[1].rm_eo - m[1].rm_so), p + m[1].rm_so, prefix,
		    (int)(m[2].rm_eo - m[2].rm_so), p + m[2].rm_so,
		    p[m[3].rm_so] == '1' ? "{}" : "",
		    (int)(m[4].rm_eo - m[4].rm_so), p + m[4].rm_so);
		rs->public_[rs->n] = strncmp(p + m[5].rm_so, "ROUTE_PUBLIC",
		    12) == 0;
		rs->n++;
	}
	regfree(&re);
	free(api_h);
	free(src);
	cr_assert(rs->n > 0, "no routes parsed from " ROUTER_C);
}

/* The same for the document: METHOD + path with "{name}" as "{}". */
static void
spec_routes(struct route_set *rs)
{
	static const char *const methods[] = { "get", "put", "post", "delete",
	    "options", "head", "patch", "trace", NULL };
	struct json_object *spec = oa_spec(), *paths;
	struct json_object_iterator it, end;

	memset(rs, 0, sizeof *rs);
	cr_assert(json_object_object_get_ex(spec, "paths", &paths));
	it = json_object_iter_begin(paths);
	end = json_object_iter_end(paths);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *tmpl = json_object_iter_peek_name(&it);
		struct json_object *item = json_object_iter_peek_value(&it), *op;
		char norm[160];
		size_t o = 0;

		for (const char *c = tmpl; *c && o + 3 < sizeof norm; c++) {
			if (*c == '{') {
				norm[o++] = '{';
				norm[o++] = '}';
				while (*c && *c != '}')
					c++;
				if (*c == '\0')
					break;
			} else
				norm[o++] = *c;
		}
		norm[o] = '\0';
		for (size_t i = 0; methods[i]; i++) {
			struct json_object *sec;

			if (!json_object_object_get_ex(item, methods[i], &op))
				continue;
			cr_assert(rs->n < 32);
			snprintf(rs->v[rs->n], sizeof rs->v[0], "%s %s",
			    methods[i], norm);
			for (char *c = rs->v[rs->n]; *c != ' '; c++)
				*c = (char)(*c - 'a' + 'A');
			rs->public_[rs->n] = json_object_object_get_ex(op,
			    "security", &sec) && json_object_is_type(sec,
			    json_type_array) && json_object_array_length(sec) ==
			    0;
			rs->n++;
		}
	}
}

Test(spec, routes_match_router)
{
	struct route_set code, doc;
	size_t i, j;

	router_routes(&code);
	spec_routes(&doc);
	for (i = 0; i < code.n; i++) {
		for (j = 0; j < doc.n && strcmp(code.v[i], doc.v[j]); j++)
			;
		cr_expect(j < doc.n, "route %s (router.c) is not in "
		    "docs/openapi.yaml", code.v[i]);
		if (j < doc.n)
			cr_expect(code.public_[i] == doc.public_[j], "%s: "
			    "router.c says %s, the document %s", code.v[i],
			    code.public_[i] ? "public" : "bearer",
			    doc.public_[j] ? "security: []" :
			    "bearer security");
	}
	for (j = 0; j < doc.n; j++) {
		for (i = 0; i < code.n && strcmp(code.v[i], doc.v[j]); i++)
			;
		cr_expect(i < code.n, "operation %s in docs/openapi.yaml is "
		    "not a route of router.c", doc.v[j]);
	}
	cr_assert_eq(code.n, doc.n, "%zu routes in router.c, %zu operations "
	    "documented", code.n, doc.n);
}

/* ---- the validator refuses what the document forbids ---- */

static const char good_doc[] =
    "{\"generationId\":\"254949c3-cd50-4a8e-b20d-a5f030e522b5\","
    "\"status\":\"completed\",\"prompt\":\"hi\","
    "\"metadata\":{\"aspectRatio\":\"1:1\",\"numberOfImages\":1},"
    "\"progress\":{\"completed\":1,\"total\":1},\"queuePosition\":null,"
    "\"images\":[{\"imageId\":\"bf6ef2c0-0e02-4420-b822-d47184bdf69f\","
    "\"imageUrl\":\"https://localhost:1/files/g/0.png\","
    "\"mimeType\":\"image/png\",\"width\":1024,\"height\":1024,"
    "\"size\":5}],\"filtered\":0,\"tokens\":null,\"error\":null,"
    "\"attempts\":1,\"createdAt\":\"2026-11-26T15:39:49.085Z\","
    "\"startedAt\":\"2026-11-26T15:39:49.100Z\","
    "\"completedAt\":\"2026-11-26T15:39:49.380Z\"}";

static bool
valid_as(const char *schema_ref, const char *json, char *err, size_t n)
{
	struct json_object *spec = oa_spec();
	struct json_object *schema = oa_pointer(spec, schema_ref);
	struct json_object *inst = itest_json(json);
	bool ok;

	cr_assert(schema != NULL, "%s does not resolve", schema_ref);
	ok = oa_validate(spec, schema, inst, "$", err, n);
	json_object_put(inst);
	return ok;
}

/* GOOD with FROM replaced by TO must be refused. */
static void
refused(const char *from, const char *to)
{
	char doc[sizeof good_doc + 512], err[1024];
	const char *at = strstr(good_doc, from);

	cr_assert(at != NULL, "test bug: %s not in the sample", from);
	snprintf(doc, sizeof doc, "%.*s%s%s", (int)(at - good_doc), good_doc,
	    to, at + strlen(from));
	cr_expect(!valid_as("#/components/schemas/Generation", doc, err,
	    sizeof err), "the validator accepted %s instead of %s", to, from);
}

Test(spec, validator_accepts_a_real_document)
{
	char err[1024];

	cr_assert(valid_as("#/components/schemas/Generation", good_doc, err,
	    sizeof err), "%s", err);
}

Test(spec, validator_refuses_drift)
{
	refused("\"attempts\":1,", "");				/* required */
	refused("\"attempts\":1,", "\"attempts\":1,\"extra\":0,");	/* closed */
	refused("\"completed\",\"prompt\"", "\"done\",\"prompt\"");	/* enum */
	refused("\"queuePosition\":null", "\"queuePosition\":1001");	/* max */
	refused("\"queuePosition\":null", "\"queuePosition\":\"3\"");	/* type */
	refused("\"width\":1024", "\"width\":1024.0");		/* integer */
	refused("\"width\":1024", "\"width\":0");			/* minimum */
	refused("\"254949c3-cd50", "\"254949C3-cd50");		/* uuid */
	refused("\"2026-11-26T15:39:49.085Z\"", "\"2026-11-26 15:39\"");
	refused("\"image/png\"", "\"image/gif\"");
	refused("\"tokens\":null", "\"tokens\":{\"input\":1}");	/* anyOf */
	refused("\"error\":null", "\"error\":{\"code\":\"x\"}");
	refused("\"numberOfImages\":1}", "\"numberOfImages\":1,\"n\":2}");
	refused("\"https://localhost:1/files/g/0.png\"", "\"/files/0.png\"");
	refused("\"progress\":{\"completed\":1,\"total\":1}",
	    "\"progress\":{\"completed\":1}");
}

Test(spec, validator_checks_errors_and_lists)
{
	char err[1024];

	cr_expect(valid_as("#/components/schemas/ErrorNotFound",
	    "{\"error\":{\"code\":\"not_found\",\"message\":\"m\","
	    "\"requestId\":\"0123456789abcdef0123456789abcdef\"}}", err,
	    sizeof err), "%s", err);
	cr_expect(!valid_as("#/components/schemas/ErrorNotFound",
	    "{\"error\":{\"code\":\"conflict\",\"message\":\"m\","
	    "\"requestId\":\"0123456789abcdef0123456789abcdef\"}}", err,
	    sizeof err), "a wrong code passed");
	cr_expect(!valid_as("#/components/schemas/ErrorValidationWithField",
	    "{\"error\":{\"code\":\"validation_error\",\"message\":\"m\","
	    "\"requestId\":\"0123456789abcdef0123456789abcdef\"}}", err,
	    sizeof err), "a missing field passed");
	cr_expect(!valid_as("#/components/schemas/Error",
	    "{\"error\":{\"code\":\"x\",\"message\":\"m\",\"requestId\":"
	    "\"0123456789abcdef0123456789abcdef\",\"hint\":1}}", err,
	    sizeof err), "an extra member passed");
	cr_expect(!valid_as("#/components/schemas/GenerationList",
	    "{\"generations\":[],\"nextCursor\":\"a b\"}", err, sizeof err),
	    "a malformed cursor passed");
	cr_expect(valid_as("#/components/schemas/GenerationList",
	    "{\"generations\":[],\"nextCursor\":null}", err, sizeof err),
	    "%s", err);
}

/* oa_check_response itself: statuses, headers, bodies. */
static bool
check(const char *method, const char *path, long status,
    const char *const *hdrs, const char *body, char *err, size_t n)
{
	struct itest_header h[8];
	struct itest_response r;
	size_t i;

	memset(&r, 0, sizeof r);
	for (i = 0; hdrs[i] != NULL && i < 8; i++) {
		const char *colon = strchr(hdrs[i], ':');

		h[i].name = strndup(hdrs[i], (size_t)(colon - hdrs[i]));
		h[i].value = strdup(colon + 2);
	}
	r.status = status;
	r.headers = h;
	r.nheaders = i;
	r.body = (char *)(uintptr_t)body;
	r.body_len = strlen(body);
	bool ok = oa_check_response(method, path, &r, err, n);
	for (i = 0; i < r.nheaders; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	return ok;
}

Test(spec, response_checker_is_strict)
{
	static const char *const ok_hdrs[] = { "Content-Type: application/json",
	    "Cache-Control: no-store", "X-Request-Id: "
	    "0123456789abcdef0123456789abcdef", NULL };
	static const char *const no_rid[] = { "Content-Type: application/json",
	    "Cache-Control: no-store", NULL };
	static const char *const allow_bad[] = {
	    "Content-Type: application/json", "Cache-Control: no-store",
	    "X-Request-Id: 0123456789abcdef0123456789abcdef",
	    "Allow: GET, POST", NULL };
	static const char *const allow_ok[] = {
	    "Content-Type: application/json", "Cache-Control: no-store",
	    "X-Request-Id: 0123456789abcdef0123456789abcdef",
	    "Allow: POST", NULL };
	const char *health = "{\"status\":\"ok\"}";
	const char *e405 = "{\"error\":{\"code\":\"method_not_allowed\","
	    "\"message\":\"m\",\"requestId\":\"0123456789abcdef0123456789abcdef"
	    "\"}}";
	char err[2048];

	cr_expect(check("GET", API_HEALTH_PATH, 200, ok_hdrs, health, err,
	    sizeof err), "%s", err);
	cr_expect(!check("GET", API_HEALTH_PATH, 418, ok_hdrs, health, err,
	    sizeof err), "an undocumented status passed");
	cr_expect(!check("GET", API_HEALTH_PATH, 200, no_rid, health, err,
	    sizeof err), "a missing required header passed");
	cr_expect(!check("GET", API_HEALTH_PATH, 200, ok_hdrs, "{\"status\":1}",
	    err, sizeof err), "a wrong body passed");
	cr_expect(check("GET", "/api/generate/text-to-image", 405, allow_ok,
	    e405, err, sizeof err), "%s", err);
	cr_expect(!check("GET", "/api/generate/text-to-image", 405, allow_bad,
	    e405, err, sizeof err), "a wrong Allow passed");
	cr_expect(!check("GET", "/api/generate/text-to-image", 404, allow_ok,
	    e405, err, sizeof err), "a 404 for a known path passed");
}
