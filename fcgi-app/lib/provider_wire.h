/*
 * provider_wire: what provider_http.c, provider_google.c and
 * provider_openai.c share — JSON member access, image intake, and the
 * per-provider builders and parsers behind the provider_http.h API.
 * Internal to those three files.
 */
#ifndef IG_PROVIDER_WIRE_H
#define IG_PROVIDER_WIRE_H

#include <json-c/json.h>

#include "provider_http.h"

struct json_object	*provider_http_member(struct json_object *,
			    const char *key, enum json_type);
long long		 provider_http_count(struct json_object *,
			    const char *key);
int			 provider_http_add_image(struct provider_output *,
			    const char *b64, size_t len, struct ig_err *);
/*
 * Takes up to count images from the base64 field of the objects in array
 * (NULL: none); the ones asked for but missing count as filtered.  More
 * than GEN_MAX_IMAGES in one answer is IG_ETRANSIENT.
 */
int			 provider_http_take_images(struct json_object *array,
			    const char *field, int count,
			    struct provider_output *, struct ig_err *);
void			 provider_http_set_model(struct provider_output *,
			    struct json_object *);
/*
 * Adds the header "name: <prefix><key>" and the JSON Content-Type.  The key travels in a header only — a URL ends up in proxy
 * and server logs — and a key with a byte that could end the header line
 * is refused rather than sent.  key_name names the config key in errors.
 */
int			 provider_http_key_header(struct http_request *,
			    const char *key, const char *key_name,
			    const char *name, const char *prefix,
			    struct ig_err *);
int			 provider_google_build(const struct provider_info *,
			    const struct config *,
			    const struct provider_params *, int call,
			    struct http_request *, struct ig_err *);
int			 provider_google_parse(const struct provider_info *,
			    const struct provider_params *, int call,
			    struct json_object *, struct provider_output *,
			    struct ig_err *);
int			 provider_openai_build(const struct config *,
			    const struct provider_params *,
			    struct http_request *, struct ig_err *);
int			 provider_openai_parse(
			    const struct provider_params *,
			    struct json_object *, struct provider_output *,
			    struct ig_err *);

#endif
