#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <string.h>

#include "webhook.h"

/* The signed content is "<id>.<timestamp>.<body>" (Standard Webhooks). */
Test(webhook, signature_covers_id_timestamp_and_body)
{
	unsigned char	 key[WEBHOOK_SECRET_LEN];
	char		 a[WEBHOOK_SIG_TEXT], b[WEBHOOK_SIG_TEXT];

	memset(key, 7, sizeof(key));
	webhook_sign(key, "msg_1", 1614265330, "{}", 2, a);
	cr_assert(strncmp(a, "v1,", 3) == 0);
	cr_assert_eq(strlen(a), 3 + 44);
	webhook_sign(key, "msg_1", 1614265330, "{}", 2, b);
	cr_assert_str_eq(a, b);
	webhook_sign(key, "msg_2", 1614265330, "{}", 2, b);
	cr_assert_str_neq(a, b);
	webhook_sign(key, "msg_1", 1614265331, "{}", 2, b);
	cr_assert_str_neq(a, b);
	webhook_sign(key, "msg_1", 1614265330, "{ }", 3, b);
	cr_assert_str_neq(a, b);
}

Test(webhook, secrets_are_derived_and_rotate)
{
	unsigned char	 a[WEBHOOK_SECRET_LEN], b[WEBHOOK_SECRET_LEN];
	unsigned char	 c[WEBHOOK_SECRET_LEN];
	char		 text[WEBHOOK_SECRET_TEXT];

	webhook_secret("master-key-master-key-master-key", "u1", 1, a);
	webhook_secret("master-key-master-key-master-key", "u1", 1, b);
	webhook_secret("master-key-master-key-master-key", "u1", 2, c);
	cr_assert(memcmp(a, b, sizeof(a)) == 0);
	cr_assert(memcmp(a, c, sizeof(a)) != 0);
	webhook_secret_text(a, text);
	cr_assert(strncmp(text, "whsec_", 6) == 0);
	cr_assert_eq(strlen(text), 6 + 44);
}

static void
url_ok(const char *u, int insecure)
{
	struct ig_err	 err = IG_ERR_INIT;

	cr_assert_eq(webhook_url_check(u, strlen(u), insecure, &err), 0,
	    "%s refused: %s", u, err.msg);
}

static void
url_bad(const char *u, int insecure)
{
	struct ig_err	 err = IG_ERR_INIT;

	cr_assert_eq(webhook_url_check(u, strlen(u), insecure, &err), -1,
	    "%s accepted", u);
	cr_assert_str_eq(err.field, "webhookUrl");
}

Test(webhook, urls)
{
	url_ok("https://hooks.example.com/imggen", 0);
	url_ok("https://93.184.216.34:8443/x", 0);
	url_ok("https://[2606:2800:220:1::1]/x", 0);
	url_bad("http://hooks.example.com/", 0);
	url_bad("ftp://x/", 0);
	url_bad("https://user:pw@hooks.example.com/", 0);
	url_bad("https://localhost/", 0);
	url_bad("https://a.localhost/", 0);
	url_bad("https://localhost./", 0);
	url_bad("https://a.localhost../", 0);
	url_bad("https://127.1/", 0);
	url_bad("https://2130706433/", 0);
	url_bad("https://0x7f.0.0.1/", 0);
	url_bad("https://0177.0.0.1/", 0);
	url_bad("https://8.8.8.010/", 0);
	url_ok("https://8.8.8.8/", 0);
	url_ok("https://x1.example.com./hook", 0);
	url_ok("https://hooks.example.co/", 0);
	url_bad("https://127.0.0.1/", 0);
	url_bad("https://10.1.2.3/", 0);
	url_bad("https://172.16.0.1/", 0);
	url_bad("https://192.168.1.1/", 0);
	url_bad("https://169.254.169.254/latest/meta-data", 0);
	url_bad("https://100.64.0.1/", 0);
	url_bad("https://0.0.0.0/", 0);
	url_bad("https://[::1]/", 0);
	url_bad("https://[fe80::1]/", 0);
	url_bad("https://[fd00::1]/", 0);
	url_bad("https://[::ffff:127.0.0.1]/", 0);
	url_bad("https:///nohost", 0);
	url_bad("https://exa mple.com/", 0);
	url_bad("", 0);
	url_ok("http://127.0.0.1:9999/hook", 1);
}

Test(webhook, addresses)
{
	struct sockaddr_in	 s4;

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	inet_pton(AF_INET, "8.8.8.8", &s4.sin_addr);
	cr_assert(webhook_addr_public((struct sockaddr *)&s4, sizeof(s4)));
	inet_pton(AF_INET, "127.0.0.53", &s4.sin_addr);
	cr_assert_not(webhook_addr_public((struct sockaddr *)&s4, sizeof(s4)));
}
