#include "provider.h"

#include <string.h>

/*
 * Native sizes of the local renderer: about one megapixel, exact ratios,
 * multiples of 16, so width:height is the requested ratio exactly.
 */
static const struct provider_aspect local_aspects[] = {
	{ "1:1",  1024, 1024 },
	{ "2:3",   832, 1248 },
	{ "3:2",  1248,  832 },
	{ "3:4",   864, 1152 },
	{ "4:3",  1152,  864 },
	{ "4:5",   896, 1120 },
	{ "5:4",  1120,  896 },
	{ "9:16",  720, 1280 },
	{ "16:9", 1280,  720 },
	{ "21:9", 1344,  576 },
};

static const struct provider_info providers[] = {
	{ "local", local_aspects,
	    sizeof(local_aspects) / sizeof(local_aspects[0]), 4 },
};

const struct provider_info *
provider_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
		if (strcmp(providers[i].name, name) == 0)
			return &providers[i];
	return NULL;
}

const struct provider_aspect *
provider_aspect_find(const struct provider_info *p, const char *ratio,
    size_t len)
{
	size_t	 i;

	for (i = 0; i < p->naspects; i++)
		if (strlen(p->aspects[i].ratio) == len &&
		    memcmp(p->aspects[i].ratio, ratio, len) == 0)
			return &p->aspects[i];
	return NULL;
}

void
provider_aspect_list(const struct provider_info *p, struct buf *b)
{
	size_t	 i;

	for (i = 0; i < p->naspects; i++) {
		if (i)
			buf_adds(b, ", ");
		buf_adds(b, p->aspects[i].ratio);
	}
}
