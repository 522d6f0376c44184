#include "jsonx.h"

#include <string.h>

#include "utf8.h"

static int
jsonx_hex4(const char *p, unsigned *out)
{
	unsigned	 v = 0;
	int		 i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/*
 * Walks a string literal starting at text[*i] == '"'; leaves *i after the
 * closing quote.  Sets *has_nul when the literal holds a \u0000 escape and
 * *bad_surrogate when it holds a lone UTF-16 surrogate escape (json-c would
 * silently turn that into U+FFFD, so the value would not round-trip).
 * The text was already accepted by json-c, so the literal is well formed.
 */
static void
jsonx_skip_string(const char *text, size_t len, size_t *i, int *has_nul,
    int *control, int *surrogate)
{
	size_t		 p = *i + 1;
	unsigned	 u, lo;

	*has_nul = 0;
	while (p < len && text[p] != '"') {
		if ((unsigned char)text[p] < 0x20)
			*control = 1;	/* JSON requires these escaped */
		if (text[p] != '\\' || p + 1 >= len) {
			p++;
			continue;
		}
		if (text[p + 1] != 'u' || p + 5 >= len ||
		    jsonx_hex4(text + p + 2, &u) == -1) {
			p += 2;
			continue;
		}
		p += 6;
		if (u == 0)
			*has_nul = 1;
		if (u >= 0xdc00 && u <= 0xdfff)
			*surrogate = 1;
		else if (u >= 0xd800 && u <= 0xdbff) {
			if (p + 5 < len && text[p] == '\\' &&
			    text[p + 1] == 'u' &&
			    jsonx_hex4(text + p + 2, &lo) == 0 &&
			    lo >= 0xdc00 && lo <= 0xdfff)
				p += 6;
			else
				*surrogate = 1;
		}
	}
	*i = p + 1;
}

/* Decodes the key literal [start, end) into a json-c string object. */
static struct json_object *
jsonx_decode_key(const char *text, size_t start, size_t end)
{
	struct json_tokener	*tok;
	struct json_object	*o;

	if ((tok = json_tokener_new()) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, text + start, (int)(end - start));
	json_tokener_free(tok);
	return o;
}

/*
 * Counts the keys of the top-level object as written, and reports the first
 * key that is NUL-containing or (when find_dup) appears twice, and any string
 * with a lone surrogate escape.
 */
static size_t
jsonx_scan_keys(const char *text, size_t len, int find_dup,
    struct ig_err *err, int *bad)
{
	struct json_object	*keys[2048];
	size_t			 nkeys = 0, count = 0, i = 0, start, k;
	size_t			 key_start = 0, key_end = 0;
	int			 depth = 0, expect_key = 0, has_nul;
	int			 control = 0, surr = 0;
	struct json_object	*key;

	*bad = 0;
	while (i < len && !*bad) {
		char c = text[i];

		if (c == '"') {
			start = i;
			jsonx_skip_string(text, len, &i, &has_nul, &control,
			    &surr);
			if (control || (surr && (key_end == 0 || expect_key))) {
				*bad = 1;
				ig_err_setc(err, IG_EINPUT, "invalid_json", NULL,
				    "a string holds a raw control character or "
				    "a lone UTF-16 surrogate escape");
				break;
			}
			if (surr) {
				/* Valid JSON, invalid text: name the field. */
				*bad = 1;
				ig_err_set(err, IG_EINPUT, NULL, "the value holds "
				    "a lone UTF-16 surrogate (not valid Unicode)");
				if ((key = jsonx_decode_key(text, key_start,
				    key_end)) != NULL) {
					ig_err_field_copy(err,
					    json_object_get_string(key));
					json_object_put(key);
				}
				break;
			}
			if (depth != 1 || !expect_key)
				continue;
			key_start = start;
			key_end = i;
			expect_key = 0;
			count++;
			if (utf8_count(text + start, i - start) < 0) {
				*bad = 1;
				ig_err_setc(err, IG_EINPUT, "invalid_json", NULL,
				    "an object key is not valid UTF-8");
				break;
			}
			if (has_nul) {
				*bad = 1;
				ig_err_set(err, IG_EINPUT, "(key)",
				    "object keys must not contain NUL");
				break;
			}
			if (!find_dup || nkeys == sizeof(keys) / sizeof(keys[0]))
				continue;
			if ((keys[nkeys] = jsonx_decode_key(text, start, i)) ==
			    NULL)
				continue;
			for (k = 0; k < nkeys; k++)
				if (strcmp(json_object_get_string(keys[k]),
				    json_object_get_string(keys[nkeys])) == 0) {
					*bad = 1;
					ig_err_set(err, IG_EINPUT, NULL,
					    "duplicate key");
					ig_err_field_copy(err,
					    json_object_get_string(keys[k]));
					break;
				}
			nkeys++;
			continue;
		}
		/*
		 * json-c's strict mode still takes 'single quoted' strings;
		 * outside strings JSON has only these characters.
		 */
		if (strchr("{}[]:,.+-0123456789eEtrufalsn \t\r\n", c) == NULL) {
			*bad = 1;
			ig_err_setc(err, IG_EINPUT, "invalid_json", NULL,
			    "the request body is not valid JSON");
			break;
		}
		if (c == '{' || c == '[') {
			depth++;
			expect_key = (c == '{' && depth == 1);
		} else if (c == '}' || c == ']')
			depth--;
		else if (c == ',' && depth == 1)
			expect_key = 1;
		i++;
	}
	for (k = 0; k < nkeys; k++)
		json_object_put(keys[k]);
	return count;
}

static int
jsonx_only_space(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return 0;
	return 1;
}

int
jsonx_parse_strict(const char *text, size_t len, struct json_object **out,
    struct ig_err *err)
{
	struct json_tokener	*tok;
	struct json_object	*root;
	enum json_tokener_error	 jerr;
	size_t			 end, count;
	int			 bad;

	*out = NULL;
	if (len == 0 || jsonx_only_space(text, len))
		return ig_err_setc(err, IG_EINPUT, "invalid_json", NULL,
		    "the request body is empty");
	if (memchr(text, '\0', len) != NULL)
		return ig_err_setc(err, IG_EINPUT, "invalid_json", NULL,
		    "the request body contains a NUL byte");
	if ((tok = json_tokener_new_ex(JSONX_MAX_DEPTH)) == NULL)
		return ig_err_set(err, IG_ENOMEM, NULL, "out of memory");
	/*
	 * UTF-8 is not validated here: keys are checked by the scan below and
	 * string values by the validators, which can name the field at fault.
	 */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_ALLOW_TRAILING_CHARS);
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue && root == NULL) {
		/* A bare number at the end needs a terminator to finish. */
		root = json_tokener_parse_ex(tok, " ", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	} else
		end = json_tokener_get_parse_end(tok);
	if (jerr != json_tokener_success) {
		json_tokener_free(tok);
		json_object_put(root);
		return ig_err_setc(err, IG_EINPUT, "invalid_json", NULL,
		    "the request body is not valid JSON: %s",
		    jerr == json_tokener_continue ?
		    "it ends before the value does" :
		    json_tokener_error_desc(jerr));
	}
	json_tokener_free(tok);
	if (end > len || !jsonx_only_space(text + end, len - end)) {
		json_object_put(root);
		return ig_err_setc(err, IG_EINPUT, "invalid_json", NULL,
		    "unexpected data after the JSON value");
	}
	count = jsonx_scan_keys(text, len, 0, err, &bad);
	if (!bad && json_object_is_type(root, json_type_object) &&
	    count != (size_t)json_object_object_length(root))
		jsonx_scan_keys(text, len, 1, err, &bad);
	if (bad) {
		json_object_put(root);
		return -1;
	}
	*out = root;
	return 0;
}
