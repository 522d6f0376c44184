/*
 * provider: the table of image providers and what each supports.
 *
 * The API validates requests against the configured provider's entry (its
 * aspect ratios and image count), and the worker renders at the sizes given
 * here, so the two can never disagree.  Everything here is const data.
 */
#ifndef IG_PROVIDER_H
#define IG_PROVIDER_H

#include <stddef.h>

#include "buf.h"

struct provider_aspect {
	const char	*ratio;		/* as the API accepts it, "16:9" */
	unsigned	 width;		/* the provider's native size */
	unsigned	 height;
};

enum provider_kind {
	PROVIDER_LOCAL = 0,
	PROVIDER_IMAGEN,
	PROVIDER_GEMINI,
	PROVIDER_OPENAI,
	PROVIDER_KIND__MAX
};

struct provider_info {
	const char			*name;
	enum provider_kind		 kind;
	const struct provider_aspect	*aspects;
	size_t				 naspects;
	int				 max_images;
	/*
	 * Request fields the provider can honour.  A request using one it
	 * cannot is refused rather than served without it.
	 */
	int				 supports_seed;
	int				 supports_negative_prompt;
	/* 1: one HTTP call per image (gemini); 0: all images in one call. */
	int				 one_call_per_image;
};

const struct provider_info	*provider_find(const char *name);
const struct provider_aspect	*provider_aspect_find(
				    const struct provider_info *,
				    const char *ratio, size_t len);
/* Appends "1:1, 2:3, …" to b. */
void				 provider_aspect_list(
				    const struct provider_info *, struct buf *b);

#endif
