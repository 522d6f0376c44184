/*
 * fuzz_webhook_url - webhook_url_check(), the SSRF gate on a client's
 * webhookUrl (byte 0, bit 0: IMGGEN_WEBHOOK_ALLOW_INSECURE).
 *
 * Invariants, for a URL accepted without allow_insecure: it is https, its
 * authority holds no credentials, its host is not "localhost", and a host
 * that is an IPv4 or IPv6 literal is a public address (checked here
 * independently of webhook_addr_public()).  Refusals are IG_EINPUT naming
 * webhookUrl.  (Names, and numeric forms that only the resolver reads as
 * addresses, are judged at connect time on the address used: worker/xfer.c.)
 */
#include "fuzz.h"

#include <arpa/inet.h>
#include <strings.h>

#include "webhook.h"

static int
v4_private(const unsigned char *b)
{
	return b[0] == 0 || b[0] == 10 || b[0] == 127 ||
	    (b[0] == 169 && b[1] == 254) || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
	    (b[0] == 192 && b[1] == 168) || (b[0] == 100 && (b[1] & 0xc0) == 64) ||
	    b[0] >= 224;
}

static int
v6_private(const unsigned char *b)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	static const unsigned char zero[15];

	if (memcmp(b, mapped, 12) == 0)
		return v4_private(b + 12);
	if (memcmp(b, zero, 15) == 0)
		return 1;
	return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
	    b[0] == 0xff;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ig_err	 err = IG_ERR_INIT;
	unsigned char	 a[16];
	char		*url, host[300];
	const char	*h, *end, *p;
	size_t		 len, hl;
	int		 insecure, rc;

	if (size == 0)
		return 0;
	insecure = data[0] & 1;
	len = size - 1;
	if ((url = malloc(len + 1)) == NULL)
		abort();
	memcpy(url, data + 1, len);
	url[len] = '\0';
	rc = webhook_url_check(url, len, insecure, &err);
	if (rc == -1) {
		FUZZ_CHECK(err.code == IG_EINPUT && err.field != NULL &&
		    strcmp(err.field, "webhookUrl") == 0, "refusal %d", err.code);
		free(url);
		return 0;
	}
	FUZZ_CHECK(rc == 0, "rc %d", rc);
	FUZZ_CHECK(len > 0 && len <= WEBHOOK_URL_MAX &&
	    memchr(url, '\0', len) == NULL, "accepted length %zu", len);
	if (insecure) {
		free(url);
		return 0;
	}
	FUZZ_CHECK(strncasecmp(url, "https://", 8) == 0, "not https: %s", url);
	h = url + 8;
	end = h + strcspn(h, "/?#");
	FUZZ_CHECK(memchr(h, '@', (size_t)(end - h)) == NULL,
	    "credentials accepted: %s", url);
	if (*h == '[') {
		p = memchr(h, ']', (size_t)(end - h));
		FUZZ_CHECK(p != NULL, "unclosed [: %s", url);
		h++;
	} else
		for (p = h; p < end && *p != ':'; p++)
			;
	hl = (size_t)(p - h);
	FUZZ_CHECK(hl > 0 && hl < sizeof(host), "host length %zu", hl);
	memcpy(host, h, hl);
	host[hl] = '\0';
	FUZZ_CHECK(strcasecmp(host, "localhost") != 0, "localhost: %s", url);
	if (inet_pton(AF_INET, host, a) == 1)
		FUZZ_CHECK(!v4_private(a), "private IPv4 accepted: %s", url);
	if (inet_pton(AF_INET6, host, a) == 1)
		FUZZ_CHECK(!v6_private(a), "private IPv6 accepted: %s", url);
	free(url);
	return 0;
}
