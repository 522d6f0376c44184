#include "webhook.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"

static void
b64(const unsigned char *in, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

void
webhook_secret(const char *master, const char *user_id, int version,
    unsigned char key[WEBHOOK_SECRET_LEN])
{
	char		 label[128];
	unsigned int	 n = WEBHOOK_SECRET_LEN;

	snprintf(label, sizeof(label), "imggen-webhook:%s:%d", user_id, version);
	HMAC(EVP_sha256(), master, (int)strlen(master),
	    (const unsigned char *)label, strlen(label), key, &n);
}

void
webhook_secret_text(const unsigned char key[WEBHOOK_SECRET_LEN],
    char out[WEBHOOK_SECRET_TEXT])
{
	memcpy(out, "whsec_", 6);
	b64(key, WEBHOOK_SECRET_LEN, out + 6);
}

void
webhook_sign(const unsigned char key[WEBHOOK_SECRET_LEN], const char *msg_id,
    long long ts, const char *body, size_t len, char out[WEBHOOK_SIG_TEXT])
{
	struct buf	 msg = BUF_INIT(BUF_MAX_RESPONSE + 256);
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 n = 0;

	out[0] = '\0';
	buf_addf(&msg, "%s.%lld.", msg_id, ts);
	buf_add(&msg, body, len);
	if (buf_ok(&msg) && HMAC(EVP_sha256(), key, WEBHOOK_SECRET_LEN,
	    (const unsigned char *)msg.data, msg.len, mac, &n) != NULL) {
		memcpy(out, "v1,", 3);
		b64(mac, n, out + 3);
	}
	buf_free(&msg);
	OPENSSL_cleanse(mac, sizeof(mac));
}

static int
webhook_v4_public(uint32_t a)
{
	return !((a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 ||
	    (a >> 16) == 0xa9fe ||		/* 169.254/16 link-local */
	    (a >> 20) == 0xac1 ||		/* 172.16/12 */
	    (a >> 16) == 0xc0a8 ||		/* 192.168/16 */
	    (a >> 22) == (0x64400000u >> 22) ||	/* 100.64/10 CGNAT */
	    (a >> 28) >= 0xe);			/* multicast, reserved */
}

int
webhook_addr_public(const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_in	*s4;
	const struct sockaddr_in6	*s6;
	const unsigned char		*b;

	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(*s4)) {
		s4 = (const struct sockaddr_in *)(const void *)sa;
		return webhook_v4_public(ntohl(s4->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(*s6)) {
		s6 = (const struct sockaddr_in6 *)(const void *)sa;
		b = s6->sin6_addr.s6_addr;
		/* ::ffff:a.b.c.d: judge the IPv4 address. */
		if (memcmp(b, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
			return webhook_v4_public((uint32_t)b[12] << 24 |
			    (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
		if (memcmp(b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15) == 0)
			return 0;		/* :: and ::1 */
		if ((b[0] & 0xfe) == 0xfc || (b[0] == 0xfe &&
		    (b[1] & 0xc0) == 0x80) || b[0] == 0xff)
			return 0;		/* ULA, link-local, multicast */
		return 1;
	}
	return 0;
}

/*
 * Whether the last label of a host name is a number (decimal, octal or
 * 0x hex).  No top-level domain is numeric, so such a name is an IPv4
 * address, and the resolver also takes the legacy forms ("127.1",
 * "2130706433", "0x7f.0.0.1") that inet_pton refuses: the only numeric
 * form accepted is the dotted quad, so the address check sees what curl
 * will connect to.
 */
static int
webhook_host_numeric_tail(const char *h)
{
	const char	*label = strrchr(h, '.');

	label = label ? label + 1 : h;
	if (label[0] == '0' && (label[1] == 'x' || label[1] == 'X'))
		return 1;
	return *label != '\0' && strspn(label, "0123456789") ==
	    strlen(label);
}

int
webhook_url_check(const char *url, size_t len, int allow_insecure,
    struct ig_err *err)
{
	const char		*host, *end, *p;
	char			 h[256];
	size_t			 hlen;
	struct sockaddr_in	 s4;
	struct sockaddr_in6	 s6;

	if (len == 0 || len > WEBHOOK_URL_MAX)
		return ig_err_set(err, IG_EINPUT, "webhookUrl", "webhookUrl "
		    "must be 1 to %d characters", WEBHOOK_URL_MAX);
	for (p = url; p < url + len; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return ig_err_set(err, IG_EINPUT, "webhookUrl",
			    "webhookUrl must be a URL without spaces or "
			    "non-ASCII characters");
	if (strncasecmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (allow_insecure && strncasecmp(url, "http://", 7) == 0)
		host = url + 7;
	else
		return ig_err_set(err, IG_EINPUT, "webhookUrl",
		    "webhookUrl must be an https URL");
	end = host + strcspn(host, "/?#");
	if (memchr(host, '@', (size_t)(end - host)) != NULL)
		return ig_err_set(err, IG_EINPUT, "webhookUrl",
		    "webhookUrl must not contain credentials");
	/* The host without a port; IPv6 literals are bracketed. */
	if (*host == '[') {
		if ((p = memchr(host, ']', (size_t)(end - host))) == NULL)
			return ig_err_set(err, IG_EINPUT, "webhookUrl",
			    "webhookUrl has a malformed host");
		host++;
	} else
		for (p = host; p < end && *p != ':'; p++)
			;
	hlen = (size_t)(p - host);
	if (hlen == 0 || hlen >= sizeof(h))
		return ig_err_set(err, IG_EINPUT, "webhookUrl",
		    "webhookUrl has no valid host");
	memcpy(h, host, hlen);
	h[hlen] = '\0';
	if (allow_insecure)
		return 0;
	/* "localhost." is localhost: compare without the root's dot. */
	while (hlen > 1 && h[hlen - 1] == '.')
		h[--hlen] = '\0';
	if (webhook_host_numeric_tail(h) && inet_pton(AF_INET, h,
	    &s4.sin_addr) != 1)
		return ig_err_set(err, IG_EINPUT, "webhookUrl", "webhookUrl "
		    "must give an IPv4 address as four decimal numbers");
	/*
	 * Names are checked again at connect time, on the address actually
	 * used (a name can resolve anywhere); literals and localhost now.
	 */
	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	s4.sin_family = AF_INET;
	s6.sin6_family = AF_INET6;
	if ((inet_pton(AF_INET, h, &s4.sin_addr) == 1 &&
	    !webhook_addr_public((struct sockaddr *)&s4, sizeof(s4))) ||
	    (inet_pton(AF_INET6, h, &s6.sin6_addr) == 1 &&
	    !webhook_addr_public((struct sockaddr *)&s6, sizeof(s6))) ||
	    strcasecmp(h, "localhost") == 0 ||
	    (hlen > 10 && strcasecmp(h + hlen - 10, ".localhost") == 0))
		return ig_err_set(err, IG_EINPUT, "webhookUrl", "webhookUrl "
		    "must not point at a private, loopback or link-local "
		    "address");
	return 0;
}
