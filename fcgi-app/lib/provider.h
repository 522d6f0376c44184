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

struct provider_info {
	const char			*name;
	const struct provider_aspect	*aspects;
	size_t				 naspects;
	int				 max_images;
};

const struct provider_info	*provider_find(const char *name);
const struct provider_aspect	*provider_aspect_find(
				    const struct provider_info *,
				    const char *ratio, size_t len);
/* Appends "1:1, 2:3, …" to b. */
void				 provider_aspect_list(
				    const struct provider_info *, struct buf *b);

#endif
