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

/* Imagen's documented output sizes (Generative Language API). */
static const struct provider_aspect imagen_aspects[] = {
	{ "1:1",  1024, 1024 },
	{ "3:4",   896, 1280 },
	{ "4:3",  1280,  896 },
	{ "9:16",  768, 1408 },
	{ "16:9", 1408,  768 },
};

/* Gemini 2.5 Flash Image's documented output sizes. */
static const struct provider_aspect gemini_aspects[] = {
	{ "1:1",  1024, 1024 },
	{ "2:3",   832, 1248 },
	{ "3:2",  1248,  832 },
	{ "3:4",   864, 1184 },
	{ "4:3",  1184,  864 },
	{ "4:5",   896, 1152 },
	{ "5:4",  1152,  896 },
	{ "9:16",  768, 1344 },
	{ "16:9", 1344,  768 },
	{ "21:9", 1536,  672 },
};

/* OpenAI gpt-image-1: the three sizes it takes. */
static const struct provider_aspect openai_aspects[] = {
	{ "1:1",  1024, 1024 },
	{ "3:2",  1536, 1024 },
	{ "2:3",  1024, 1536 },
};

#define NA(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * The one table of providers and what they support.  The API validates
 * against it and the worker builds requests from it.
 */
static const struct provider_info providers[] = {
	{ "local", PROVIDER_LOCAL, local_aspects, NA(local_aspects), 4, 1, 1, 0 },
	{ "imagen", PROVIDER_IMAGEN, imagen_aspects, NA(imagen_aspects), 4, 0, 0,
	    0 },
	{ "gemini", PROVIDER_GEMINI, gemini_aspects, NA(gemini_aspects), 4, 1, 0,
	    1 },
	{ "openai", PROVIDER_OPENAI, openai_aspects, NA(openai_aspects), 4, 0, 0,
	    0 },
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
