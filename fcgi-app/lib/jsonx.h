/*
 * jsonx: strict JSON parsing of request bodies on top of json-c.
 *
 * json-c silently keeps the last of duplicated keys and truncates keys at
 * an escaped NUL; both would let a body mean two things, so jsonx rejects
 * them.  The root object returned is owned by the caller (json_object_put).
 */
#ifndef IG_JSONX_H
#define IG_JSONX_H

#include <stddef.h>

#include <json-c/json.h>

#include "ig_err.h"

#define JSONX_MAX_DEPTH	16

/*
 * Parses exactly one JSON value from text (trailing whitespace allowed).
 * A JSON null parses to *out == NULL.  String values are NOT checked for
 * valid UTF-8 (the caller's validators do that, naming the field).
 * Errors: IG_EINPUT/"invalid_json" for bad syntax, raw NUL bytes or control
 * characters, lone surrogate escapes, keys that are not UTF-8, an empty
 * body, or trailing data; IG_EINPUT/"validation_error" with
 * the key as field for a duplicated or NUL-containing object key at the top
 * level.
 */
int	jsonx_parse_strict(const char *text, size_t len,
	    struct json_object **out, struct ig_err *err)
	    __attribute__((warn_unused_result));

#endif
