/*
 * provider_http: the wire formats of the HTTP providers — building each
 * call's request and parsing its answer.  Pure functions: no I/O, no global
 * state, safe on any input (the parsers are fuzzed).
 *
 *   imagen: POST {base}/v1beta/models/{model}:predict, x-goog-api-key,
 *           {"instances":[{"prompt"}],"parameters":{"sampleCount","aspectRatio"}}
 *           → predictions[].{bytesBase64Encoded,mimeType}; fewer than asked
 *           means the rest were safety-filtered.
 *   gemini: POST {base}/v1beta/models/{model}:generateContent, one call per
 *           image; image in candidates[0].content.parts[].inlineData; usage
 *           in usageMetadata; no image part or finishReason IMAGE_SAFETY /
 *           NO_IMAGE (or a promptFeedback.blockReason) is a refusal.
 *   openai: POST {base}/v1/images/generations, Authorization: Bearer,
 *           {"model","prompt","n","size","output_format"?} → data[].b64_json,
 *           usage.{input_tokens,output_tokens,total_tokens}.
 *
 * Decoded images are owned by the struct provider_output and freed with
 * provider_output_release().  Every image is base64-validated and probed
 * (PNG/JPEG/WebP header, dimensions) before it is accepted.
 */
#ifndef IG_PROVIDER_HTTP_H
#define IG_PROVIDER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "generation.h"
#include "http.h"
#include "ig_err.h"
#include "png.h"
#include "provider.h"

struct provider_params {
	const char			*prompt;
	const char			*negative_prompt;	/* NULL: none */
	int				 has_seed;
	uint64_t			 seed;
	int				 count;
	const struct provider_aspect	*aspect;
};

struct provider_image {
	uint8_t		*data;
	size_t		 len;
	struct png_info	 info;
};

struct provider_output {
	struct provider_image	 images[GEN_MAX_IMAGES];
	int			 nimages;
	int			 filtered;	/* asked for but refused */
	int			 has_usage;
	long long		 input_tokens, output_tokens, total_tokens;
	char			 model[96];	/* as reported, if any */
};

/* How many HTTP calls `count` images take. */
int	provider_http_calls(const struct provider_info *, int count);
/*
 * Builds call number `call` (0-based) into *req (initialised by the
 * caller with http_request_init(req, "POST", …)).
 */
int	provider_http_build(const struct provider_info *, const struct config *,
	    const struct provider_params *, int call, struct http_request *req,
	    struct ig_err *) __attribute__((warn_unused_result));
/*
 * Parses the 2xx answer of call `call`, appending images to *out and
 * counting refused ones in out->filtered.  A malformed answer is
 * IG_ETRANSIENT (providers do send truncated bodies under load); a refusal
 * is not an error here, the caller decides once all calls are in.
 */
int	provider_http_parse(const struct provider_info *,
	    const struct provider_params *, int call, const char *body,
	    size_t len, struct provider_output *out, struct ig_err *)
	    __attribute__((warn_unused_result));
/*
 * Classifies a non-2xx answer: the provider's error JSON is read for a
 * short message (never echoing our request), 429/5xx/408 are retryable
 * (honouring retry_after), a safety block is IG_EPERMANENT with api code
 * "content_filtered", other 4xx are IG_EPERMANENT "provider_rejected".
 */
int	provider_http_error(const struct provider_info *, long status,
	    long retry_after, const char *body, size_t len, struct ig_err *);
void	provider_output_release(struct provider_output *);

/* Strict base64 (RFC 4648, padding required, no whitespace) into a new buffer. */
int	provider_base64_decode(const char *in, size_t len, uint8_t **out,
	    size_t *outlen) __attribute__((warn_unused_result));

#endif
