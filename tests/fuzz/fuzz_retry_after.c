/*
 * fuzz_retry_after - http_parse_retry_after(), the Retry-After header of
 * provider and storage answers (delta-seconds or an IMF-fixdate).
 *
 * Invariants: -1 or 0..86400 seconds, whatever the clock; seconds parse
 * as themselves.
 */
#include "fuzz.h"

#include "http.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long long clocks[] = { 0, 784111777LL, 1767225600LL,
	    253402300799LL, -1 };
	char		*v, *end;
	size_t		 i;
	long		 r, n;

	if ((v = malloc(size + 1)) == NULL)
		abort();
	memcpy(v, data, size);
	v[size] = '\0';
	for (i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
		r = http_parse_retry_after(v, clocks[i]);
		FUZZ_CHECK(r == -1 || (r >= 0 && r <= 86400),
		    "%ld seconds for \"%s\"", r, v);
	}
	if (size > 0 && size < 6 && strspn(v, "0123456789") == size) {
		n = strtol(v, &end, 10);
		FUZZ_CHECK(http_parse_retry_after(v, 0) == (n <= 86400 ? n : -1),
		    "\"%s\" misread", v);
	}
	free(v);
	return 0;
}
