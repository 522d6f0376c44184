/*
 * oa.h - the OpenAPI document (docs/openapi.yaml, written in JSON syntax)
 * and a validator for the subset of JSON Schema it uses, so that the API
 * tests can check every real response against it.
 *
 * Supported schema keywords: $ref (to "#/..." in the same document), type
 * (a name or an array of names; "integer" means a JSON integer, not 2.0),
 * const, enum, properties, required, additionalProperties (boolean or
 * schema), items, minItems, maxItems, minimum, maximum, minLength and
 * maxLength (in code points), pattern (POSIX extended regular expressions:
 * write patterns valid in both ERE and ECMA-262), format (uuid, date-time,
 * uri: checked loosely), allOf, anyOf, oneOf; the annotations description,
 * title, default, examples, deprecated, readOnly, writeOnly.  oa_lint()
 * refuses any other keyword, so the document cannot say more than the
 * tests check.
 *
 * Failure reporting: functions return false and leave "where: why" in the
 * caller's buffer; they never fail the test themselves, except oa_spec(),
 * which fails it when the document cannot be loaded.
 */
#ifndef IMGGEN_API_OA_H
#define IMGGEN_API_OA_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "itest.h"

/*
 * The document, loaded once per process from $IMGGEN_OPENAPI or
 * docs/openapi.yaml (the tests run from the repository root).  Borrowed.
 */
struct json_object *oa_spec(void);

/* OBJ with "$ref" chains followed; NULL if a reference does not resolve. */
struct json_object *oa_resolve(struct json_object *spec,
    struct json_object *obj);

/* The value at a JSON pointer such as "#/components/schemas/Error". */
struct json_object *oa_pointer(struct json_object *spec, const char *ref);

/*
 * Validates INSTANCE (NULL is JSON null) against SCHEMA.  WHERE names the
 * instance in messages ("$", "body", ...).
 */
bool oa_validate(struct json_object *spec, struct json_object *schema,
    struct json_object *instance, const char *where, char *err,
    size_t errlen);

/*
 * The operation for METHOD PATH (no query string): NULL if none.  *ITEM
 * receives the matched path item (NULL when no path matches) and *TEMPLATE
 * its key; literal segments win over templated ones.
 */
struct json_object *oa_operation(struct json_object *spec, const char *method,
    const char *path, struct json_object **item, const char **template);

/*
 * Checks a response to METHOD PATH (query string allowed) against the
 * document: the status must be listed for the operation (or, for requests
 * that match no operation, under x-imggen-unrouted, where a known path
 * answers 405 with an Allow naming exactly its methods and an unknown one
 * 404); every required header present and every documented header valid;
 * a Content-Type the response documents, and a body valid against its
 * schema (JSON parsed; other media types as one string), or no body when
 * no content is documented.
 */
bool oa_check_response(const char *method, const char *path,
    const struct itest_response *resp, char *err, size_t errlen);

/*
 * Checks the document itself: every $ref resolves, every schema uses only
 * the supported keywords with well-formed values (types, formats, patterns
 * that compile, required names that are properties), every operation has
 * responses with descriptions and JSON schemas, every path template
 * parameter is declared.  Reports the first problem.
 */
bool oa_lint(struct json_object *spec, char *err, size_t errlen);

#endif /* IMGGEN_API_OA_H */
