#include <criterion/criterion.h>
#include <string.h>

#include "utf8.h"

static long
count(const char *s)
{
	return utf8_count(s, strlen(s));
}

Test(utf8, counts_code_points)
{
	cr_assert_eq(count(""), 0);
	cr_assert_eq(count("abc"), 3);
	cr_assert_eq(count("é"), 1);
	cr_assert_eq(count("日本"), 2);
	cr_assert_eq(count("😀x"), 2);
}

Test(utf8, rejects_malformed)
{
	cr_assert_eq(count("\xc3\x28"), -1);		/* bad continuation */
	cr_assert_eq(count("\xc0\xaf"), -1);		/* overlong */
	cr_assert_eq(count("\xe0\x80\xaf"), -1);	/* overlong */
	cr_assert_eq(count("\xed\xa0\x80"), -1);	/* surrogate */
	cr_assert_eq(count("\xf4\x90\x80\x80"), -1);	/* > U+10FFFF */
	cr_assert_eq(count("\xe6\x97"), -1);		/* truncated */
	cr_assert_eq(count("\xff"), -1);
}

Test(utf8, trims_ascii_whitespace_only)
{
	const char	*s = " \t\n hi there \r\n";
	size_t		 n = strlen(s);

	utf8_trim(&s, &n);
	cr_assert_eq(n, 8);
	cr_assert(strncmp(s, "hi there", n) == 0);
	s = "   ";
	n = 3;
	utf8_trim(&s, &n);
	cr_assert_eq(n, 0);
}
