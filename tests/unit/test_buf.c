#include <criterion/criterion.h>
#include <string.h>

#include "buf.h"

Test(buf, appends_and_terminates)
{
	struct buf b = BUF_INIT(64);

	cr_assert_str_eq(buf_cstr(&b), "");
	buf_adds(&b, "ab");
	buf_addf(&b, "%d-%s", 12, "x");
	buf_addc(&b, '!');
	cr_assert(buf_ok(&b));
	cr_assert_str_eq(buf_cstr(&b), "ab12-x!");
	cr_assert_eq(b.len, 7);
	buf_free(&b);
}

Test(buf, past_max_sets_sticky_failure)
{
	struct buf b = BUF_INIT(4);

	buf_adds(&b, "abcd");
	cr_assert(buf_ok(&b));
	buf_addc(&b, 'e');
	cr_assert_not(buf_ok(&b));
	buf_adds(&b, "");	/* stays failed */
	cr_assert_not(buf_ok(&b));
	cr_assert_null(buf_take(&b, NULL));
	buf_free(&b);
}

Test(buf, take_hands_over_and_resets)
{
	struct buf b = BUF_INIT(100);
	size_t	 n;
	char	*p;

	buf_adds(&b, "hello");
	p = buf_take(&b, &n);
	cr_assert_str_eq(p, "hello");
	cr_assert_eq(n, 5);
	cr_assert_eq(b.len, 0);
	cr_assert_str_eq(buf_cstr(&b), "");
	free(p);
	buf_free(&b);
}

Test(buf, json_escaping_covers_controls_and_quotes)
{
	struct buf b = BUF_INIT(256);
	const char in[] = "a\"b\\c\n\t\x01\x7f/é";

	buf_add_json_escaped(&b, in, sizeof(in) - 1);
	cr_assert_str_eq(buf_cstr(&b), "a\\\"b\\\\c\\n\\t\\u0001\\u007f/é");
	buf_free(&b);
}

Test(buf, growth_across_many_appends)
{
	struct buf b = BUF_INIT(100000);
	int	 i;

	for (i = 0; i < 10000; i++)
		buf_addc(&b, (char)('a' + i % 26));
	cr_assert(buf_ok(&b));
	cr_assert_eq(b.len, 10000);
	cr_assert_eq(b.data[9999], 'a' + 9999 % 26);
	cr_assert_eq(b.data[10000], '\0');
	buf_free(&b);
}
