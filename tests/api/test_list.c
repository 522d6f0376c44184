/*
 * test_list.c - GET /api/generate/queue: newest first, the default and
 * explicit limits, the status filter, a cursor that stays exact while new
 * generations are created between pages, isolation between users, and
 * every parameter error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "apitest.h"

#define BODY	"{\"prompt\":\"list test\"}"

TestSuite(list, .timeout = API_TEST_TIMEOUT_S);

struct page {
	char	 ids[100][40];
	size_t	 n;
	char	 next[128];	/* "" when nextCursor is null */
};

/* GET /queue?QUERY as TOKEN, asserted 200; the ids and the cursor. */
static void
get_page(const char *token, const char *query, struct page *pg)
{
	struct json_object *gens;
	struct api_res r;
	char path[512];
	const char *prev = NULL;

	snprintf(path, sizeof path, API_QUEUE_PATH "%s%s", *query ? "?" : "",
	    query);
	api_do(&r, "GET", path, token, NULL);
	cr_assert_eq(r.status, 200, "GET %s: %ld %s", path, r.status,
	    r.http.body);
	memset(pg, 0, sizeof *pg);
	gens = itest_json_get(r.json, "generations");
	pg->n = json_object_array_length(gens);
	for (size_t i = 0; i < pg->n; i++) {
		struct json_object *g = json_object_array_get_idx(gens, i);
		const char *created = itest_json_str(g, "createdAt");

		snprintf(pg->ids[i], sizeof pg->ids[i], "%s",
		    itest_json_str(g, "generationId"));
		/* Newest first: createdAt never increases down the page. */
		if (prev != NULL)
			cr_assert(strcmp(prev, created) >= 0, "%s: createdAt "
			    "%s after %s", path, created, prev);
		prev = created;
	}
	if (!itest_json_is_null(r.json, "nextCursor"))
		snprintf(pg->next, sizeof pg->next, "%s",
		    itest_json_str(r.json, "nextCursor"));
	api_res_free(&r);
}

/* Creates N generations one after the other; ids oldest first. */
static void
create_n(const struct itest_user *u, size_t n, char ids[][40])
{
	for (size_t i = 0; i < n; i++)
		api_create(u->token, BODY, NULL, ids[i]);
}

Test(list, newest_first_default_limit_and_pages)
{
	struct itest_user u, other;
	char ids[21][40];
	struct page pg, pg2;
	char q[256];

	api_begin(false);
	itest_user_create(&u, "api-list");
	itest_user_create(&other, "api-list-other");
	api_user_limits(&u, 100, 1000);
	get_page(u.token, "", &pg);
	cr_assert_eq(pg.n, 0);
	cr_assert_str_eq(pg.next, "");
	create_n(&u, 21, ids);

	/* Default limit 20, newest first; the 21st on the next page. */
	get_page(u.token, "", &pg);
	cr_assert_eq(pg.n, 20, "default page has %zu items", pg.n);
	for (size_t i = 0; i < 20; i++)
		cr_assert_str_eq(pg.ids[i], ids[20 - i], "item %zu", i);
	cr_assert_neq(pg.next[0], '\0', "no nextCursor with one more left");
	snprintf(q, sizeof q, "cursor=%s", pg.next);
	get_page(u.token, q, &pg2);
	cr_assert_eq(pg2.n, 1);
	cr_assert_str_eq(pg2.ids[0], ids[0]);
	cr_assert_str_eq(pg2.next, "", "nextCursor on the last page");

	/* limit bounds: 1, exactly all (no cursor), 100. */
	get_page(u.token, "limit=1", &pg);
	cr_assert_eq(pg.n, 1);
	cr_assert_str_eq(pg.ids[0], ids[20]);
	cr_assert_neq(pg.next[0], '\0');
	get_page(u.token, "limit=21", &pg);
	cr_assert_eq(pg.n, 21);
	cr_assert_str_eq(pg.next, "", "a full last page still has a cursor");
	get_page(u.token, "limit=100", &pg);
	cr_assert_eq(pg.n, 21);
	cr_assert_str_eq(pg.next, "");

	/* Another user sees none of them, even with this user's cursor. */
	get_page(other.token, "", &pg);
	cr_assert_eq(pg.n, 0, "another user's list has %zu items", pg.n);
	get_page(u.token, "limit=1", &pg2);
	snprintf(q, sizeof q, "cursor=%s", pg2.next);
	get_page(other.token, q, &pg);
	cr_assert_eq(pg.n, 0);
	itest_user_free(&u);
	itest_user_free(&other);
}

Test(list, cursor_stable_under_concurrent_inserts)
{
	struct itest_user u;
	char ids[7][40], fresh[6][40], seen[20][40], q[256];
	size_t nseen = 0, nfresh = 0;
	struct page pg;

	api_begin(false);
	itest_user_create(&u, "api-cursor");
	api_user_limits(&u, 100, 1000);
	create_n(&u, 7, ids);
	get_page(u.token, "limit=3", &pg);
	for (;;) {
		for (size_t i = 0; i < pg.n; i++) {
			for (size_t j = 0; j < nseen; j++)
				cr_assert_str_neq(seen[j], pg.ids[i],
				    "%s repeated", pg.ids[i]);
			for (size_t j = 0; j < nfresh; j++)
				cr_assert_str_neq(fresh[j], pg.ids[i], "%s, "
				    "created after the first page, appeared "
				    "behind a cursor", pg.ids[i]);
			snprintf(seen[nseen++], sizeof seen[0], "%s",
			    pg.ids[i]);
		}
		if (pg.next[0] == '\0')
			break;
		/* New generations arrive between two page fetches. */
		cr_assert(nfresh + 2 <= 6);
		create_n(&u, 2, fresh + nfresh);
		nfresh += 2;
		snprintf(q, sizeof q, "limit=3&cursor=%s", pg.next);
		get_page(u.token, q, &pg);
	}
	/* Exactly the original seven, newest first: none skipped. */
	cr_assert_eq(nseen, 7, "%zu items over the pages", nseen);
	for (size_t i = 0; i < 7; i++)
		cr_assert_str_eq(seen[i], ids[6 - i], "position %zu", i);
	/* And a fresh listing has them all, the new ones first. */
	get_page(u.token, "limit=100", &pg);
	cr_assert_eq(pg.n, 7 + nfresh);
	for (size_t i = 0; i < nfresh; i++)
		cr_assert_str_eq(pg.ids[i], fresh[nfresh - 1 - i]);
	itest_user_free(&u);
}

Test(list, status_filter)
{
	struct itest_user u;
	struct api_pause p;
	struct api_res r;
	struct page pg;
	char a[40], b[40], c[40], path[128];

	api_begin(true);
	itest_user_create(&u, "api-filter");
	api_worker_pause(&p);
	api_create(u.token, BODY, NULL, a);
	api_create(u.token, BODY, NULL, b);
	api_create(u.token, BODY, NULL, c);
	snprintf(path, sizeof path, API_QUEUE_PATH "/%s/cancel", b);
	api_do(&r, "POST", path, u.token, NULL);
	cr_assert_eq(r.status, 200);
	api_res_free(&r);

	get_page(u.token, "status=canceled", &pg);
	cr_assert_eq(pg.n, 1);
	cr_assert_str_eq(pg.ids[0], b);
	get_page(u.token, "status=queued", &pg);
	cr_assert_eq(pg.n, 2);
	cr_assert_str_eq(pg.ids[0], c);
	cr_assert_str_eq(pg.ids[1], a);
	get_page(u.token, "status=queued&limit=1", &pg);
	cr_assert_eq(pg.n, 1);
	cr_assert_str_eq(pg.ids[0], c);
	{
		char q[256];
		struct page pg2;

		snprintf(q, sizeof q, "status=queued&limit=1&cursor=%s",
		    pg.next);
		get_page(u.token, q, &pg2);
		cr_assert_eq(pg2.n, 1);
		cr_assert_str_eq(pg2.ids[0], a, "the filter holds across "
		    "pages");
		cr_assert_str_eq(pg2.next, "");
	}
	get_page(u.token, "status=completed", &pg);
	cr_assert_eq(pg.n, 0);
	get_page(u.token, "status=processing", &pg);
	cr_assert_eq(pg.n, 0);
	get_page(u.token, "status=failed", &pg);
	cr_assert_eq(pg.n, 0);
	/* Queued items in a list carry queuePosition null (the schema). */
	api_worker_resume(&p);
	json_object_put(api_wait_terminal(u.token, a, "completed"));
	json_object_put(api_wait_terminal(u.token, c, "completed"));
	get_page(u.token, "status=completed", &pg);
	cr_assert_eq(pg.n, 2);
	cr_assert_str_eq(pg.ids[0], c);
	itest_user_free(&u);
}

static void
expect_param_error(const char *token, const char *query, const char *field)
{
	struct api_res r;
	char path[512];

	snprintf(path, sizeof path, API_QUEUE_PATH "?%s", query);
	api_do(&r, "GET", path, token, NULL);
	api_expect_error(&r, 400, "validation_error", field);
	api_res_free(&r);
}

Test(list, parameter_errors)
{
	struct itest_user u;
	struct page pg;
	char id[40], q[256];
	/* base64url("v1.12.not-a-uuid") and ("v2.1.<uuid>") */
	static const char *const bad_cursors[] = {
		"abc", "a.b", "djEuMTIubm90LWEtdXVpZA",
		"djIuMS4wMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA",
		"dj", "djEu", NULL
	};

	api_begin(false);
	itest_user_create(&u, "api-params");
	expect_param_error(u.token, "limit=0", "limit");
	expect_param_error(u.token, "limit=101", "limit");
	expect_param_error(u.token, "limit=-1", "limit");
	expect_param_error(u.token, "limit=abc", "limit");
	expect_param_error(u.token, "limit=1.5", "limit");
	expect_param_error(u.token, "limit=20x", "limit");
	expect_param_error(u.token, "limit=", "limit");
	expect_param_error(u.token, "limit", "limit");
	expect_param_error(u.token, "status=bogus", "status");
	expect_param_error(u.token, "status=QUEUED", "status");
	expect_param_error(u.token, "status=", "status");
	expect_param_error(u.token, "status=queued&status=nope", "status");
	expect_param_error(u.token, "cursor=", "cursor");
	for (size_t i = 0; bad_cursors[i]; i++) {
		snprintf(q, sizeof q, "cursor=%s", bad_cursors[i]);
		expect_param_error(u.token, q, "cursor");
	}
	expect_param_error(u.token, "foo=1", "foo");
	expect_param_error(u.token, "limit=5&page=2", "page");
	expect_param_error(u.token, "token=igt_x", "token");
	/* A real cursor with one character changed is refused, not misread. */
	api_create(u.token, BODY, NULL, id);
	api_create(u.token, BODY, NULL, id);
	get_page(u.token, "limit=1", &pg);
	cr_assert_neq(pg.next[0], '\0');
	pg.next[0] = pg.next[0] == 'd' ? 'x' : 'd';
	snprintf(q, sizeof q, "cursor=%s", pg.next);
	expect_param_error(u.token, q, "cursor");
	itest_user_free(&u);
}
