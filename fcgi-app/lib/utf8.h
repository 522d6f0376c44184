/*
 * utf8: strict UTF-8 validation (no overlong forms, no surrogates, nothing
 * above U+10FFFF) and the trimming rule for prompts.  Pure functions.
 */
#ifndef IG_UTF8_H
#define IG_UTF8_H

#include <stddef.h>

/* Returns the number of code points, or -1 if s is not valid UTF-8. */
long	utf8_count(const char *s, size_t len);
/* Narrows [*s, *s + *len) past leading and trailing ASCII whitespace. */
void	utf8_trim(const char **s, size_t *len);

#endif
