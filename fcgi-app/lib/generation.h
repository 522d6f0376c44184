/*
 * generation: the text-to-image request — its fields, their validation and
 * the canonical metadata document stored with it.
 *
 * One table in generation.c lists every accepted field; anything else is
 * refused, so no parameter can be silently dropped.  Strings in a
 * struct gen_request are borrowed from the json object they were read from
 * and live as long as it does.
 */
#ifndef IG_GENERATION_H
#define IG_GENERATION_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "buf.h"
#include "ig_err.h"
#include "provider.h"

#define GEN_PROMPT_MAX_CHARS	2000
#define GEN_MAX_IMAGES		4
#define GEN_SEED_MAX		4294967295LL

enum gen_status {
	GEN_QUEUED = 0,
	GEN_PROCESSING,
	GEN_COMPLETED,
	GEN_FAILED,
	GEN_CANCELED,
	GEN_STATUS__MAX
};

/* What the deployment allows beyond the provider's capabilities. */
struct gen_policy {
	const struct provider_info	*provider;
	int				 webhooks;	/* a webhook key is set */
	int				 webhook_insecure;
};

struct gen_request {
	const char	*prompt;
	size_t		 prompt_len;
	int		 number_of_images;
	const char	*aspect_ratio;
	const char	*negative_prompt;	/* NULL when not given */
	size_t		 negative_prompt_len;
	int		 has_seed;
	int64_t		 seed;
	const char	*webhook_url;	/* NULL when not given */
	size_t		 webhook_url_len;
};

/*
 * Validates a parsed body against the provider's capabilities.  Fails with
 * IG_EINPUT and the field at fault.
 */
int		 generation_validate(struct json_object *body,
		    const struct provider_info *, struct gen_request *out,
		    struct ig_err *err) __attribute__((warn_unused_result));
/* The same, under a deployment policy (webhooks). */
int		 generation_validate_policy(struct json_object *body,
		    const struct gen_policy *, struct gen_request *out,
		    struct ig_err *err) __attribute__((warn_unused_result));
/* Appends the metadata document: every accepted parameter, defaults set. */
void		 generation_metadata_json(const struct gen_request *,
		    struct buf *out);
const char	*generation_status_name(enum gen_status);
/* Names of the accepted fields, NULL-terminated (for tests and docs). */
const char *const *generation_field_names(void);

#endif
