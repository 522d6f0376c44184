/*
 * oa.c - the OpenAPI document and a JSON Schema subset validator; see oa.h.
 */
#include "oa.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <criterion/criterion.h>
#include <json-c/json_object_iterator.h>

#define OA_MAX_DEPTH	64
#define OA_MAX_DOC	(4u * 1024u * 1024u)

/* ------------------------------------------------------------------ */
/* The document                                                        */

static struct json_object *oa_doc;

static void
oa_release(void)
{
	json_object_put(oa_doc);
	oa_doc = NULL;
}

struct json_object *
oa_spec(void)
{
	const char *path = getenv("IMGGEN_OPENAPI");
	char *text = NULL, *p;
	size_t len = 0, cap = 0, n;
	const char *ver;
	FILE *f;

	if (oa_doc != NULL)
		return oa_doc;
	if (path == NULL || *path == '\0')
		path = "docs/openapi.yaml";
	if ((f = fopen(path, "rb")) == NULL)
		cr_assert_fail("cannot open the OpenAPI document %s: %s (run "
		    "the tests from the repository root or set "
		    "IMGGEN_OPENAPI)", path, strerror(errno));
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > OA_MAX_DOC || (p = realloc(text, cap)) == NULL) {
				fclose(f);
				free(text);
				cr_assert_fail("%s: too large or out of memory",
				    path);
			}
			text = p;
		}
		n = fread(text + len, 1, 4096, f);
		len += n;
		if (n < 4096)
			break;
	}
	fclose(f);
	oa_doc = itest_json_parse(text, len);
	free(text);
	if (oa_doc == NULL)
		cr_assert_fail("%s is not JSON: it must be written in the JSON "
		    "subset of YAML so that the tests can read it", path);
	atexit(oa_release);
	ver = itest_json_str(oa_doc, "openapi");
	if (ver == NULL || strncmp(ver, "3.1.", 4) != 0)
		cr_assert_fail("%s: \"openapi\" is not 3.1.x", path);
	return oa_doc;
}

/* Borrowed member KEY of OBJ if OBJ is an object that has it. */
static struct json_object *
member(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

static bool
has_member(struct json_object *obj, const char *key)
{
	return obj != NULL && json_object_is_type(obj, json_type_object) &&
	    json_object_object_get_ex(obj, key, NULL);
}

static const char *
member_str(struct json_object *obj, const char *key)
{
	struct json_object *v = member(obj, key);

	return v && json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

struct json_object *
oa_pointer(struct json_object *spec, const char *ref)
{
	struct json_object *cur = spec;
	const char *p;
	char tok[256];

	if (ref == NULL || ref[0] != '#' || (ref[1] != '/' && ref[1] != '\0'))
		return NULL;
	p = ref + 1;
	while (*p == '/') {
		size_t n = 0;

		p++;
		while (*p != '\0' && *p != '/') {
			char c = *p++;

			if (c == '~' && (*p == '0' || *p == '1'))
				c = *p++ == '0' ? '~' : '/';
			if (n + 1 >= sizeof tok)
				return NULL;
			tok[n++] = c;
		}
		tok[n] = '\0';
		if (cur != NULL && json_object_is_type(cur, json_type_object)) {
			if (!json_object_object_get_ex(cur, tok, &cur))
				return NULL;
		} else if (cur != NULL &&
		    json_object_is_type(cur, json_type_array)) {
			char *end;
			unsigned long i = strtoul(tok, &end, 10);

			if (*tok == '\0' || *end != '\0' ||
			    i >= json_object_array_length(cur))
				return NULL;
			cur = json_object_array_get_idx(cur, i);
		} else
			return NULL;
	}
	return cur;
}

struct json_object *
oa_resolve(struct json_object *spec, struct json_object *obj)
{
	int i;

	for (i = 0; i < 32 && obj != NULL; i++) {
		const char *ref = member_str(obj, "$ref");

		if (ref == NULL)
			return obj;
		obj = oa_pointer(spec, ref);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */

struct oa_v {
	struct json_object	*spec;
	char			*err;
	size_t			 errlen;
	char			 where[512];
	int			 depth;
};

static bool vfail(struct oa_v *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static bool
vfail(struct oa_v *v, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(v->err, v->errlen, "at %s: ", v->where);
	if (n < 0 || (size_t)n >= v->errlen)
		return false;
	va_start(ap, fmt);
	vsnprintf(v->err + n, v->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

static const char *
inst_type(struct json_object *o)
{
	if (o == NULL)
		return "null";
	switch (json_object_get_type(o)) {
	case json_type_boolean:	return "boolean";
	case json_type_double:	return "number";
	case json_type_int:	return "integer";
	case json_type_object:	return "object";
	case json_type_array:	return "array";
	case json_type_string:	return "string";
	default:		return "null";
	}
}

static bool
type_is(const char *t, struct json_object *o)
{
	const char *have = inst_type(o);

	if (strcmp(t, "number") == 0)
		return strcmp(have, "number") == 0 ||
		    strcmp(have, "integer") == 0;
	return strcmp(t, have) == 0;
}

static const char *
value_text(struct json_object *o)
{
	return itest_json_text(o);
}

/* Code points of a UTF-8 string (bytes that do not continue one). */
static size_t
utf8_points(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

static bool
format_ok(const char *fmt, const char *s, bool *known)
{
	*known = true;
	if (strcmp(fmt, "uuid") == 0)
		return itest_is_uuid(s);
	if (strcmp(fmt, "date-time") == 0)
		return itest_is_utc_timestamp(s);
	if (strcmp(fmt, "uri") == 0) {
		const char *rest;

		if (strncasecmp(s, "https://", 8) == 0)
			rest = s + 8;
		else if (strncasecmp(s, "http://", 7) == 0)
			rest = s + 7;
		else
			return false;
		if (*rest == '\0' || *rest == '/')
			return false;
		for (; *rest != '\0'; rest++)
			if ((unsigned char)*rest <= 0x20 || *rest == 0x7f)
				return false;
		return true;
	}
	*known = false;
	return false;
}

/* 1 match, 0 no match, -1 the pattern does not compile. */
static int
pattern_match(const char *pattern, const char *s)
{
	regex_t re;
	int rc;

	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return -1;
	rc = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return rc;
}

static size_t
where_push(struct oa_v *v, const char *fmt, const char *s, size_t i)
{
	size_t len = strlen(v->where);

	if (strcmp(fmt, "key") == 0)
		snprintf(v->where + len, sizeof v->where - len, ".%s", s);
	else
		snprintf(v->where + len, sizeof v->where - len, "[%zu]", i);
	return len;
}

static bool v_schema(struct oa_v *, struct json_object *,
    struct json_object *);

static bool
v_type(struct oa_v *v, struct json_object *t, struct json_object *inst)
{
	size_t i;

	if (json_object_is_type(t, json_type_string)) {
		if (type_is(json_object_get_string(t), inst))
			return true;
	} else if (json_object_is_type(t, json_type_array)) {
		for (i = 0; i < json_object_array_length(t); i++) {
			struct json_object *e = json_object_array_get_idx(t, i);

			if (e && json_object_is_type(e, json_type_string) &&
			    type_is(json_object_get_string(e), inst))
				return true;
		}
	} else
		return vfail(v, "schema error: \"type\" is %s", value_text(t));
	return vfail(v, "expected type %s, got %s %.200s", value_text(t),
	    inst_type(inst), value_text(inst));
}

static bool
v_string(struct oa_v *v, struct json_object *s, struct json_object *inst)
{
	const char *str = json_object_get_string(inst), *pat, *fmt;
	size_t len = (size_t)json_object_get_string_len(inst), n;
	struct json_object *k;
	bool known;
	int m;

	n = utf8_points(str, len);
	if ((k = member(s, "minLength")) != NULL &&
	    (int64_t)n < json_object_get_int64(k))
		return vfail(v, "string of %zu characters is shorter than "
		    "minLength %lld", n, (long long)json_object_get_int64(k));
	if ((k = member(s, "maxLength")) != NULL &&
	    (int64_t)n > json_object_get_int64(k))
		return vfail(v, "string of %zu characters is longer than "
		    "maxLength %lld", n, (long long)json_object_get_int64(k));
	if ((pat = member_str(s, "pattern")) != NULL) {
		if ((m = pattern_match(pat, str)) == -1)
			return vfail(v, "schema error: pattern %s does not "
			    "compile", pat);
		if (m == 0)
			return vfail(v, "\"%.200s\" does not match %s", str,
			    pat);
	}
	if ((fmt = member_str(s, "format")) != NULL &&
	    !format_ok(fmt, str, &known))
		return known ? vfail(v, "\"%.200s\" is not a %s", str, fmt) :
		    vfail(v, "schema error: unsupported format %s", fmt);
	return true;
}

static bool
v_number(struct oa_v *v, struct json_object *s, struct json_object *inst)
{
	struct json_object *k;
	double d = json_object_get_double(inst);

	if ((k = member(s, "minimum")) != NULL &&
	    d < json_object_get_double(k))
		return vfail(v, "%s is below minimum %s", value_text(inst),
		    value_text(k));
	if ((k = member(s, "maximum")) != NULL &&
	    d > json_object_get_double(k))
		return vfail(v, "%s is above maximum %s", value_text(inst),
		    value_text(k));
	return true;
}

static bool
v_object(struct oa_v *v, struct json_object *s, struct json_object *inst)
{
	struct json_object *req = member(s, "required");
	struct json_object *props = member(s, "properties");
	struct json_object *addl = member(s, "additionalProperties");
	struct json_object_iterator it, end;
	size_t i, len;

	if (req != NULL && json_object_is_type(req, json_type_array))
		for (i = 0; i < json_object_array_length(req); i++) {
			const char *name = json_object_get_string(
			    json_object_array_get_idx(req, i));

			if (!json_object_object_get_ex(inst, name, NULL))
				return vfail(v, "required property \"%s\" is "
				    "missing", name);
		}
	it = json_object_iter_begin(inst);
	end = json_object_iter_end(inst);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *name = json_object_iter_peek_name(&it);
		struct json_object *val = json_object_iter_peek_value(&it);
		struct json_object *ps = member(props, name);
		bool ok = true;

		if (ps == NULL && !has_member(props, name)) {
			if (addl == NULL)
				continue;
			if (json_object_is_type(addl, json_type_boolean)) {
				if (json_object_get_boolean(addl))
					continue;
				return vfail(v, "property \"%s\" is not allowed "
				    "(additionalProperties: false)", name);
			}
			ps = addl;
		}
		len = where_push(v, "key", name, 0);
		ok = v_schema(v, ps, val);
		v->where[len] = '\0';
		if (!ok)
			return false;
	}
	return true;
}

static bool
v_array(struct oa_v *v, struct json_object *s, struct json_object *inst)
{
	struct json_object *k, *items = member(s, "items");
	size_t n = json_object_array_length(inst), i, len;
	bool ok;

	if ((k = member(s, "minItems")) != NULL &&
	    (int64_t)n < json_object_get_int64(k))
		return vfail(v, "%zu items, fewer than minItems %s", n,
		    value_text(k));
	if ((k = member(s, "maxItems")) != NULL &&
	    (int64_t)n > json_object_get_int64(k))
		return vfail(v, "%zu items, more than maxItems %s", n,
		    value_text(k));
	if (items == NULL)
		return true;
	for (i = 0; i < n; i++) {
		len = where_push(v, "index", NULL, i);
		ok = v_schema(v, items, json_object_array_get_idx(inst, i));
		v->where[len] = '\0';
		if (!ok)
			return false;
	}
	return true;
}

/* allOf, anyOf, oneOf. */
static bool
v_combinators(struct oa_v *v, struct json_object *s, struct json_object *inst)
{
	struct json_object *k;
	char first[1024] = "";
	size_t i, n, ok;

	if ((k = member(s, "allOf")) != NULL)
		for (i = 0; i < json_object_array_length(k); i++)
			if (!v_schema(v, json_object_array_get_idx(k, i), inst))
				return false;
	if ((k = member(s, "anyOf")) != NULL) {
		n = json_object_array_length(k);
		for (i = 0, ok = 0; i < n && ok == 0; i++) {
			if (v_schema(v, json_object_array_get_idx(k, i), inst))
				ok++;
			else if (first[0] == '\0')
				snprintf(first, sizeof first, "%s", v->err);
		}
		if (ok == 0)
			return vfail(v, "matches no anyOf alternative; the "
			    "first says: %s", first);
	}
	if ((k = member(s, "oneOf")) != NULL) {
		n = json_object_array_length(k);
		for (i = 0, ok = 0; i < n; i++) {
			if (v_schema(v, json_object_array_get_idx(k, i), inst))
				ok++;
			else if (first[0] == '\0')
				snprintf(first, sizeof first, "%s", v->err);
		}
		if (ok != 1)
			return vfail(v, "matches %zu oneOf alternatives, not "
			    "one%s%s", ok, ok ? "" : "; the first says: ",
			    ok ? "" : first);
	}
	return true;
}

static bool
v_schema(struct oa_v *v, struct json_object *s, struct json_object *inst)
{
	char saved[sizeof v->where];
	struct json_object *k;
	const char *ref;
	bool ok = false;
	size_t i;

	if (s != NULL && json_object_is_type(s, json_type_boolean))
		return json_object_get_boolean(s) ? true :
		    vfail(v, "no value is allowed here (schema false)");
	if (s == NULL || !json_object_is_type(s, json_type_object))
		return vfail(v, "schema error: a schema is not an object");
	if (v->depth >= OA_MAX_DEPTH)
		return vfail(v, "schema error: nesting deeper than %d (a $ref "
		    "cycle?)", OA_MAX_DEPTH);
	v->depth++;
	memcpy(saved, v->where, sizeof saved);
	if ((ref = member_str(s, "$ref")) != NULL) {
		struct json_object *target = oa_pointer(v->spec, ref);

		if (target == NULL) {
			vfail(v, "schema error: $ref %s does not resolve", ref);
			goto out;
		}
		if (!v_schema(v, target, inst))
			goto out;
	}
	if ((k = member(s, "type")) != NULL && !v_type(v, k, inst))
		goto out;
	if (json_object_object_get_ex(s, "const", &k) &&
	    !json_object_equal(k, inst)) {
		vfail(v, "expected %s, got %.200s", value_text(k),
		    value_text(inst));
		goto out;
	}
	if ((k = member(s, "enum")) != NULL) {
		for (i = 0; i < json_object_array_length(k); i++)
			if (json_object_equal(json_object_array_get_idx(k, i),
			    inst))
				break;
		if (i == json_object_array_length(k)) {
			vfail(v, "%.200s is not one of %s", value_text(inst),
			    value_text(k));
			goto out;
		}
	}
	if (inst != NULL) {
		switch (json_object_get_type(inst)) {
		case json_type_string:
			if (!v_string(v, s, inst))
				goto out;
			break;
		case json_type_int:
		case json_type_double:
			if (!v_number(v, s, inst))
				goto out;
			break;
		case json_type_object:
			if (!v_object(v, s, inst))
				goto out;
			break;
		case json_type_array:
			if (!v_array(v, s, inst))
				goto out;
			break;
		default:
			break;
		}
	}
	if (!v_combinators(v, s, inst))
		goto out;
	ok = true;
out:
	memcpy(v->where, saved, sizeof saved);
	v->depth--;
	return ok;
}

bool
oa_validate(struct json_object *spec, struct json_object *schema,
    struct json_object *instance, const char *where, char *err, size_t errlen)
{
	struct oa_v v;

	memset(&v, 0, sizeof v);
	v.spec = spec;
	v.err = err;
	v.errlen = errlen;
	snprintf(v.where, sizeof v.where, "%s", where);
	if (errlen)
		err[0] = '\0';
	return v_schema(&v, schema, instance);
}

/* ------------------------------------------------------------------ */
/* Operations and responses                                            */

static const char *const oa_methods[] = {
	"get", "put", "post", "delete", "options", "head", "patch", "trace",
	NULL
};

/* Number of templated segments if TEMPLATE matches PATH, else -1. */
static int
path_match(const char *template, const char *path)
{
	const char *t = template, *p = path;
	int templated = 0;

	while (*t != '\0' && *p != '\0') {
		size_t tl = strcspn(t, "/"), pl = strcspn(p, "/");

		if (tl > 1 && t[0] == '{' && t[tl - 1] == '}') {
			if (pl == 0)
				return -1;
			templated++;
		} else if (tl != pl || strncmp(t, p, tl) != 0)
			return -1;
		t += tl;
		p += pl;
		if (*t == '/' && *p == '/') {
			t++;
			p++;
		} else if (*t != *p)
			return -1;
	}
	return *t == '\0' && *p == '\0' ? templated : -1;
}

struct json_object *
oa_operation(struct json_object *spec, const char *method, const char *path,
    struct json_object **itemp, const char **template)
{
	struct json_object *paths = member(spec, "paths"), *item = NULL;
	struct json_object_iterator it, end;
	char lower[16];
	int best = -1, m;
	size_t i;

	*itemp = NULL;
	*template = NULL;
	if (paths == NULL)
		return NULL;
	it = json_object_iter_begin(paths);
	end = json_object_iter_end(paths);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		m = path_match(json_object_iter_peek_name(&it), path);
		if (m >= 0 && (best < 0 || m < best)) {
			best = m;
			item = json_object_iter_peek_value(&it);
			*template = json_object_iter_peek_name(&it);
		}
	}
	if (item == NULL)
		return NULL;
	*itemp = item = oa_resolve(spec, item);
	for (i = 0; method[i] != '\0' && i + 1 < sizeof lower; i++)
		lower[i] = (char)tolower((unsigned char)method[i]);
	lower[i] = '\0';
	for (i = 0; oa_methods[i] != NULL; i++)
		if (strcmp(oa_methods[i], lower) == 0)
			return member(item, lower);
	return NULL;
}

/* Allow must name exactly the methods of ITEM. */
static bool
allow_matches(struct json_object *item, const char *allow, char *err,
    size_t errlen)
{
	char want[128] = "", got[16];
	size_t i, n = 0;
	const char *p;

	for (i = 0; oa_methods[i] != NULL; i++) {
		if (!has_member(item, oa_methods[i]))
			continue;
		n++;
		snprintf(got, sizeof got, "%s", oa_methods[i]);
		for (char *c = got; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		snprintf(want + strlen(want), sizeof want - strlen(want),
		    "%s%s", strlen(want) ? ", " : "", got);
		/* each documented method must be listed, as a whole word */
		p = allow;
		for (;;) {
			p = strstr(p, got);
			if (p == NULL) {
				snprintf(err, errlen, "Allow \"%s\" lacks %s "
				    "(documented methods: %s)", allow, got,
				    want);
				return false;
			}
			if ((p == allow || p[-1] == ' ' || p[-1] == ',') &&
			    (p[strlen(got)] == '\0' || p[strlen(got)] == ','))
				break;
			p += strlen(got);
		}
	}
	/* and nothing else: as many entries as documented methods */
	for (i = 1, p = allow; (p = strchr(p, ',')) != NULL; p++)
		i++;
	if (i != n) {
		snprintf(err, errlen, "Allow \"%s\" lists %zu methods; the "
		    "document has %zu (%s)", allow, i, n, want);
		return false;
	}
	return true;
}

/* A header's value as the JSON instance its schema expects. */
static struct json_object *
header_instance(struct json_object *spec, struct json_object *schema,
    const char *value)
{
	struct json_object *s = oa_resolve(spec, schema);
	const char *t = member_str(s, "type");

	if (t != NULL && strcmp(t, "integer") == 0 && *value != '\0' &&
	    strspn(value, "0123456789") == strlen(value) && strlen(value) < 18)
		return json_object_new_int64(strtoll(value, NULL, 10));
	return json_object_new_string(value);
}

bool
oa_check_response(const char *method, const char *path,
    const struct itest_response *resp, char *err, size_t errlen)
{
	struct json_object *spec = oa_spec(), *op, *item, *responses, *r;
	struct json_object *headers, *content, *media, *schema, *body;
	struct json_object_iterator it, end;
	const char *template, *ctx, *ct;
	char bare[2048], code[16], sub[1024], mt[128];
	bool ok;

	snprintf(bare, sizeof bare, "%s", path);
	bare[strcspn(bare, "?")] = '\0';
	op = oa_operation(spec, method, bare, &item, &template);
	snprintf(code, sizeof code, "%ld", resp->status);
	if (op != NULL) {
		responses = oa_resolve(spec, member(op, "responses"));
		ctx = "the operation";
	} else {
		responses = member(member(spec, "x-imggen-unrouted"),
		    "responses");
		ctx = "x-imggen-unrouted";
		if (item != NULL && resp->status == 404) {
			snprintf(err, errlen, "%s %s matches path %s, which "
			    "has no %s operation: expected 405, got 404",
			    method, bare, template, method);
			return false;
		}
		if (item == NULL && resp->status == 405) {
			snprintf(err, errlen, "%s %s matches no documented "
			    "path: expected 404, got 405", method, bare);
			return false;
		}
	}
	r = oa_resolve(spec, member(responses, code));
	if (r == NULL) {
		snprintf(err, errlen, "%s %s: status %ld is not documented "
		    "for %s (%s)", method, bare, resp->status,
		    template ? template : "any path", ctx);
		return false;
	}
	headers = member(r, "headers");
	if (headers != NULL) {
		it = json_object_iter_begin(headers);
		end = json_object_iter_end(headers);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it)) {
			const char *name = json_object_iter_peek_name(&it);
			struct json_object *h = oa_resolve(spec,
			    json_object_iter_peek_value(&it));
			const char *val = itest_header(resp, name);
			struct json_object *inst, *req = member(h, "required");
			char where[128];

			if (val == NULL) {
				if (req && json_object_get_boolean(req)) {
					snprintf(err, errlen, "%s %s -> %ld: "
					    "required header %s is missing",
					    method, bare, resp->status, name);
					return false;
				}
				continue;
			}
			if ((schema = member(h, "schema")) == NULL)
				continue;
			inst = header_instance(spec, schema, val);
			snprintf(where, sizeof where, "header %s", name);
			ok = oa_validate(spec, schema, inst, where, sub,
			    sizeof sub);
			json_object_put(inst);
			if (!ok) {
				snprintf(err, errlen, "%s %s -> %ld: %s", method,
				    bare, resp->status, sub);
				return false;
			}
		}
	}
	if (op == NULL && item != NULL && resp->status == 405 &&
	    !allow_matches(item, itest_header(resp, "Allow") ?
	    itest_header(resp, "Allow") : "", sub, sizeof sub)) {
		snprintf(err, errlen, "%s %s -> 405: %s", method, bare, sub);
		return false;
	}
	content = member(r, "content");
	if (content == NULL) {
		if (resp->body_len != 0) {
			snprintf(err, errlen, "%s %s -> %ld: no body is "
			    "documented, got %zu bytes: %.300s", method, bare,
			    resp->status, resp->body_len, resp->body);
			return false;
		}
		return true;
	}
	ct = itest_header(resp, "Content-Type");
	snprintf(mt, sizeof mt, "%s", ct ? ct : "");
	mt[strcspn(mt, "; ")] = '\0';
	for (char *c = mt; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if ((media = member(content, mt)) == NULL) {
		snprintf(err, errlen, "%s %s -> %ld: Content-Type \"%s\" is not "
		    "documented for it (%s)", method, bare, resp->status,
		    ct ? ct : "(none)", value_text(content));
		return false;
	}
	if (strcmp(method, "HEAD") == 0)
		return true;
	if (strcmp(mt, "application/json") != 0)
		body = json_object_new_string_len(resp->body,
		    (int)resp->body_len);
	else if ((body = itest_json_parse(resp->body, resp->body_len)) ==
	    NULL) {
		snprintf(err, errlen, "%s %s -> %ld: the body is not JSON: "
		    "%.300s", method, bare, resp->status, resp->body);
		return false;
	}
	ok = oa_validate(spec, member(media, "schema"), body, "body", sub,
	    sizeof sub);
	if (!ok)
		snprintf(err, errlen, "%s %s -> %ld: %s\n  body: %.1500s",
		    method, bare, resp->status, sub, resp->body);
	json_object_put(body);
	return ok;
}

/* ------------------------------------------------------------------ */
/* Linting the document                                                */

struct oa_lint {
	struct json_object	*spec;
	char			*err;
	size_t			 errlen;
	bool			 failed;
};

static bool lfail(struct oa_lint *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static bool
lfail(struct oa_lint *l, const char *fmt, ...)
{
	va_list ap;

	if (l->failed)
		return false;
	l->failed = true;
	va_start(ap, fmt);
	vsnprintf(l->err, l->errlen, fmt, ap);
	va_end(ap);
	return false;
}

static const char *const lint_keywords[] = {
	"$ref", "type", "const", "enum", "properties", "required",
	"additionalProperties", "items", "minItems", "maxItems", "minimum",
	"maximum", "minLength", "maxLength", "pattern", "format", "allOf",
	"anyOf", "oneOf", "description", "title", "default", "examples",
	"deprecated", "readOnly", "writeOnly", NULL
};

static const char *const lint_types[] = {
	"null", "boolean", "integer", "number", "string", "object", "array",
	NULL
};

static bool
in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static bool lint_schema(struct oa_lint *, struct json_object *,
    const char *);

static bool
lint_type(struct oa_lint *l, struct json_object *t, const char *where)
{
	size_t i;

	if (json_object_is_type(t, json_type_string))
		return in_list(lint_types, json_object_get_string(t)) ? true :
		    lfail(l, "%s: unknown type %s", where, value_text(t));
	if (!json_object_is_type(t, json_type_array) ||
	    json_object_array_length(t) == 0)
		return lfail(l, "%s: type must be a name or a non-empty array",
		    where);
	for (i = 0; i < json_object_array_length(t); i++) {
		struct json_object *e = json_object_array_get_idx(t, i);

		if (e == NULL || !json_object_is_type(e, json_type_string) ||
		    !in_list(lint_types, json_object_get_string(e)))
			return lfail(l, "%s: unknown type %s", where,
			    value_text(e));
	}
	return true;
}

static bool
lint_schema_list(struct oa_lint *l, struct json_object *a, const char *kw,
    const char *where)
{
	char sub[512];
	size_t i;

	if (a == NULL || !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) == 0)
		return lfail(l, "%s: %s must be a non-empty array", where, kw);
	for (i = 0; i < json_object_array_length(a); i++) {
		snprintf(sub, sizeof sub, "%s/%s/%zu", where, kw, i);
		if (!lint_schema(l, json_object_array_get_idx(a, i), sub))
			return false;
	}
	return true;
}

static bool
lint_schema(struct oa_lint *l, struct json_object *s, const char *where)
{
	struct json_object_iterator it, end;
	struct json_object *k, *props;
	char sub[512];
	size_t i;
	bool closed;

	if (s != NULL && json_object_is_type(s, json_type_boolean))
		return true;
	if (s == NULL || !json_object_is_type(s, json_type_object))
		return lfail(l, "%s: a schema must be an object", where);
	it = json_object_iter_begin(s);
	end = json_object_iter_end(s);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
		if (!in_list(lint_keywords, json_object_iter_peek_name(&it)))
			return lfail(l, "%s: keyword \"%s\" is not supported "
			    "by the tests' validator (oa.h)", where,
			    json_object_iter_peek_name(&it));
	if ((k = member(s, "$ref")) != NULL &&
	    (!json_object_is_type(k, json_type_string) ||
	    oa_pointer(l->spec, json_object_get_string(k)) == NULL))
		return lfail(l, "%s: $ref %s does not resolve", where,
		    value_text(k));
	if ((k = member(s, "type")) != NULL && !lint_type(l, k, where))
		return false;
	if ((k = member(s, "enum")) != NULL &&
	    (!json_object_is_type(k, json_type_array) ||
	    json_object_array_length(k) == 0))
		return lfail(l, "%s: enum must be a non-empty array", where);
	if ((k = member(s, "format")) != NULL) {
		bool known;

		(void)format_ok(json_object_get_string(k), "", &known);
		if (!json_object_is_type(k, json_type_string) || !known)
			return lfail(l, "%s: format %s is not supported", where,
			    value_text(k));
	}
	if ((k = member(s, "pattern")) != NULL &&
	    (!json_object_is_type(k, json_type_string) ||
	    pattern_match(json_object_get_string(k), "") == -1))
		return lfail(l, "%s: pattern %s does not compile as a POSIX "
		    "ERE", where, value_text(k));
	{
		static const char *const nums[] = { "minimum", "maximum",
		    NULL };
		static const char *const counts[] = { "minLength", "maxLength",
		    "minItems", "maxItems", NULL };

		for (i = 0; nums[i] != NULL; i++)
			if ((k = member(s, nums[i])) != NULL &&
			    !json_object_is_type(k, json_type_int) &&
			    !json_object_is_type(k, json_type_double))
				return lfail(l, "%s: %s must be a number",
				    where, nums[i]);
		for (i = 0; counts[i] != NULL; i++)
			if ((k = member(s, counts[i])) != NULL &&
			    (!json_object_is_type(k, json_type_int) ||
			    json_object_get_int64(k) < 0))
				return lfail(l, "%s: %s must be a non-negative "
				    "integer", where, counts[i]);
	}
	props = member(s, "properties");
	if (props != NULL) {
		if (!json_object_is_type(props, json_type_object))
			return lfail(l, "%s: properties must be an object",
			    where);
		it = json_object_iter_begin(props);
		end = json_object_iter_end(props);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it)) {
			snprintf(sub, sizeof sub, "%s/properties/%s", where,
			    json_object_iter_peek_name(&it));
			if (!lint_schema(l, json_object_iter_peek_value(&it),
			    sub))
				return false;
		}
	}
	k = member(s, "additionalProperties");
	closed = k != NULL && json_object_is_type(k, json_type_boolean) &&
	    !json_object_get_boolean(k);
	if (k != NULL && !json_object_is_type(k, json_type_boolean)) {
		snprintf(sub, sizeof sub, "%s/additionalProperties", where);
		if (!lint_schema(l, k, sub))
			return false;
	}
	if ((k = member(s, "required")) != NULL) {
		if (!json_object_is_type(k, json_type_array))
			return lfail(l, "%s: required must be an array", where);
		for (i = 0; i < json_object_array_length(k); i++) {
			struct json_object *e = json_object_array_get_idx(k, i);

			if (e == NULL || !json_object_is_type(e,
			    json_type_string))
				return lfail(l, "%s: required holds a "
				    "non-string", where);
			if (closed && !has_member(props,
			    json_object_get_string(e)))
				return lfail(l, "%s: required \"%s\" is not "
				    "among the properties of a closed object",
				    where, json_object_get_string(e));
		}
	}
	if ((k = member(s, "items")) != NULL) {
		snprintf(sub, sizeof sub, "%s/items", where);
		if (!lint_schema(l, k, sub))
			return false;
	}
	if ((k = member(s, "allOf")) != NULL &&
	    !lint_schema_list(l, k, "allOf", where))
		return false;
	if ((k = member(s, "anyOf")) != NULL &&
	    !lint_schema_list(l, k, "anyOf", where))
		return false;
	if ((k = member(s, "oneOf")) != NULL &&
	    !lint_schema_list(l, k, "oneOf", where))
		return false;
	return true;
}

/*
 * Walks the whole document: every "$ref" must resolve, every "schema"
 * (and every components/schemas entry) is linted as a schema.
 */
static bool
lint_walk(struct oa_lint *l, struct json_object *o, const char *where,
    bool in_schemas)
{
	struct json_object_iterator it, end;
	char sub[512];
	size_t i;

	if (o == NULL)
		return true;
	if (json_object_is_type(o, json_type_array)) {
		for (i = 0; i < json_object_array_length(o); i++) {
			snprintf(sub, sizeof sub, "%s/%zu", where, i);
			if (!lint_walk(l, json_object_array_get_idx(o, i), sub,
			    false))
				return false;
		}
		return true;
	}
	if (!json_object_is_type(o, json_type_object))
		return true;
	it = json_object_iter_begin(o);
	end = json_object_iter_end(o);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *name = json_object_iter_peek_name(&it);
		struct json_object *val = json_object_iter_peek_value(&it);

		snprintf(sub, sizeof sub, "%s/%s", where, name);
		if (in_schemas || strcmp(name, "schema") == 0) {
			if (!lint_schema(l, val, sub))
				return false;
			continue;
		}
		if (strcmp(name, "$ref") == 0 && (val == NULL ||
		    !json_object_is_type(val, json_type_string) ||
		    oa_pointer(l->spec, json_object_get_string(val)) == NULL))
			return lfail(l, "%s: $ref %s does not resolve", sub,
			    value_text(val));
		if (!lint_walk(l, val, sub, strcmp(sub,
		    "#/components/schemas") == 0))
			return false;
	}
	return true;
}

static bool
lint_response(struct oa_lint *l, struct json_object *r, const char *where)
{
	struct json_object *res = oa_resolve(l->spec, r), *hs, *c;
	struct json_object_iterator it, end;

	if (res == NULL || member_str(res, "description") == NULL)
		return lfail(l, "%s: a response needs a description", where);
	if ((c = member(res, "content")) != NULL) {
		it = json_object_iter_begin(c);
		end = json_object_iter_end(c);
		if (json_object_iter_equal(&it, &end))
			return lfail(l, "%s: empty content", where);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it))
			if (member(json_object_iter_peek_value(&it),
			    "schema") == NULL)
				return lfail(l, "%s: media type %s has no "
				    "schema", where,
				    json_object_iter_peek_name(&it));
	}
	if ((hs = member(res, "headers")) != NULL) {
		it = json_object_iter_begin(hs);
		end = json_object_iter_end(hs);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it))
			if (member(oa_resolve(l->spec,
			    json_object_iter_peek_value(&it)), "schema") ==
			    NULL)
				return lfail(l, "%s: header %s has no schema",
				    where, json_object_iter_peek_name(&it));
	}
	return true;
}

/* Path template {name} declared as a required path parameter of OP. */
static bool
lint_path_params(struct oa_lint *l, const char *template,
    struct json_object *item, struct json_object *op, const char *where)
{
	const char *p = template;

	while ((p = strchr(p, '{')) != NULL) {
		const char *q = strchr(p, '}');
		char name[128];
		bool found = false;
		int pass;

		if (q == NULL || (size_t)(q - p) >= sizeof name)
			return lfail(l, "%s: bad template %s", where, template);
		snprintf(name, sizeof name, "%.*s", (int)(q - p - 1), p + 1);
		for (pass = 0; pass < 2 && !found; pass++) {
			struct json_object *ps = member(pass ? item : op,
			    "parameters");
			size_t i;

			for (i = 0; ps && i < json_object_array_length(ps);
			    i++) {
				struct json_object *prm = oa_resolve(l->spec,
				    json_object_array_get_idx(ps, i));
				const char *in = member_str(prm, "in");
				const char *pn = member_str(prm, "name");
				struct json_object *rq = member(prm,
				    "required");

				if (in && pn && strcmp(in, "path") == 0 &&
				    strcmp(pn, name) == 0 && rq &&
				    json_object_get_boolean(rq))
					found = true;
			}
		}
		if (!found)
			return lfail(l, "%s: path parameter {%s} is not "
			    "declared (in: path, required: true)", where, name);
		p = q + 1;
	}
	return true;
}

bool
oa_lint(struct json_object *spec, char *err, size_t errlen)
{
	struct oa_lint l = { spec, err, errlen, false };
	struct json_object *paths = member(spec, "paths"), *un;
	struct json_object_iterator it, end, rit, rend;
	char where[512];
	size_t i;

	if (errlen)
		err[0] = '\0';
	if (!lint_walk(&l, spec, "#", false))
		return false;
	if (paths == NULL)
		return lfail(&l, "no paths");
	it = json_object_iter_begin(paths);
	end = json_object_iter_end(paths);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *tmpl = json_object_iter_peek_name(&it);
		struct json_object *item = oa_resolve(spec,
		    json_object_iter_peek_value(&it));
		size_t nops = 0;

		for (i = 0; oa_methods[i] != NULL; i++) {
			struct json_object *op = member(item, oa_methods[i]);
			struct json_object *rs;

			if (op == NULL)
				continue;
			nops++;
			snprintf(where, sizeof where, "%s %s", oa_methods[i],
			    tmpl);
			rs = member(op, "responses");
			if (rs == NULL || json_object_object_length(rs) == 0)
				return lfail(&l, "%s: no responses", where);
			if (!lint_path_params(&l, tmpl, item, op, where))
				return false;
			rit = json_object_iter_begin(rs);
			rend = json_object_iter_end(rs);
			for (; !json_object_iter_equal(&rit, &rend);
			    json_object_iter_next(&rit)) {
				char rw[600];
				const char *code =
				    json_object_iter_peek_name(&rit);

				snprintf(rw, sizeof rw, "%s -> %s", where, code);
				if (strlen(code) != 3 || strspn(code,
				    "0123456789") != 3)
					return lfail(&l, "%s: status codes must "
					    "be explicit (no ranges, no "
					    "default)", rw);
				if (!lint_response(&l,
				    json_object_iter_peek_value(&rit), rw))
					return false;
			}
		}
		if (nops == 0)
			return lfail(&l, "%s: no operations", tmpl);
	}
	un = member(member(spec, "x-imggen-unrouted"), "responses");
	if (un == NULL || member(un, "404") == NULL ||
	    member(un, "405") == NULL)
		return lfail(&l, "x-imggen-unrouted must document 404 and 405");
	if (!lint_response(&l, member(un, "404"), "x-imggen-unrouted 404") ||
	    !lint_response(&l, member(un, "405"), "x-imggen-unrouted 405"))
		return false;
	return true;
}
