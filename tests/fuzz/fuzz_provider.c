/*
 * fuzz_provider - the answers of the HTTP providers (imagen, gemini,
 * openai): provider_http_parse() for a 2xx answer and
 * provider_http_error() for any other, which between them read the JSON,
 * the base64 images inside it and the images' headers.
 *
 * Input: byte 0 picks provider (bits 0-1), parse or error (bit 2) and the
 * image count (bits 3-4, 1..4); byte 1 the call number or, for errors,
 * (with byte 2) the status; the rest is the body.
 *
 * Invariants: parse results are bounded (never more images than asked,
 * every image probed with non-zero dimensions, counts sane, model a
 * printable token); a failed parse is IG_ETRANSIENT / IG_EPERMANENT /
 * IG_ENOMEM; provider_http_error() always fails, with a message that is
 * printable ASCII (it reaches logs and clients) and the right class for
 * the status.
 */
#include "fuzz.h"

#include <ctype.h>

#include "log.h"
#include "provider.h"
#include "provider_http.h"

static const char *const names[] = { "imagen", "gemini", "openai",
    "imagen" };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup("fuzz_provider", LOG_LEVEL__MAX);
	return 0;
}

static void
check_printable(const char *s)
{
	for (; *s != '\0'; s++)
		FUZZ_CHECK((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f,
		    "unprintable byte 0x%02x in a message",
		    (unsigned char)*s);
}

static void
fuzz_parse(const struct provider_info *p, int count, int call,
    const char *body, size_t len)
{
	struct provider_params	 pp;
	struct provider_output	 out;
	struct ig_err		 err = IG_ERR_INIT;
	int			 i, rc;

	memset(&pp, 0, sizeof(pp));
	memset(&out, 0, sizeof(out));
	pp.prompt = "a lighthouse at dusk";
	pp.count = count > p->max_images ? p->max_images : count;
	pp.aspect = &p->aspects[0];
	call = call % provider_http_calls(p, pp.count);
	rc = provider_http_parse(p, &pp, call, body, len, &out, &err);
	if (rc == -1)
		FUZZ_CHECK(err.code == IG_ETRANSIENT ||
		    err.code == IG_EPERMANENT || err.code == IG_ENOMEM,
		    "parse error code %d (%s)", err.code, err.msg);
	FUZZ_CHECK(out.nimages >= 0 && out.nimages <= GEN_MAX_IMAGES &&
	    out.nimages <= pp.count, "%d images for %d asked", out.nimages,
	    pp.count);
	FUZZ_CHECK(out.filtered >= 0 && out.filtered <= GEN_MAX_IMAGES,
	    "filtered %d", out.filtered);
	for (i = 0; i < out.nimages; i++)
		FUZZ_CHECK(out.images[i].data != NULL &&
		    out.images[i].len > 0 && out.images[i].info.width > 0 &&
		    out.images[i].info.height > 0 &&
		    out.images[i].info.kind != PNG_KIND_UNKNOWN,
		    "image %d accepted without a readable header", i);
	FUZZ_CHECK(memchr(out.model, '\0', sizeof(out.model)) != NULL,
	    "model not terminated");
	check_printable(out.model);
	if (out.has_usage)
		FUZZ_CHECK(out.input_tokens >= -1 && out.output_tokens >= -1 &&
		    out.total_tokens >= -1, "negative token counts");
	check_printable(err.msg);
	provider_output_release(&out);
}

static void
fuzz_error(const struct provider_info *p, long status, const char *body,
    size_t len)
{
	struct ig_err	 err = IG_ERR_INIT;

	FUZZ_CHECK(provider_http_error(p, status, 7, body, len, &err) == -1,
	    "an error answer was not an error");
	FUZZ_CHECK(err.code == IG_ETRANSIENT || err.code == IG_EPERMANENT,
	    "error class %d", err.code);
	if (status == 408 || (status == 429 && err.code == IG_ETRANSIENT) ||
	    status >= 500)
		FUZZ_CHECK(err.code == IG_ETRANSIENT, "status %ld permanent",
		    status);
	if (status == 401 || status == 403)
		FUZZ_CHECK(err.code == IG_EPERMANENT, "status %ld retried",
		    status);
	check_printable(err.msg);
	/* The provider's words are cut short: at most a short excerpt. */
	FUZZ_CHECK(strlen(err.msg) < sizeof(err.msg), "message overlong");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct provider_info *p;
	unsigned	 b0, b1, b2;
	char		*body;
	size_t		 len;

	if (size < 3)
		return 0;
	b0 = data[0];
	b1 = data[1];
	b2 = data[2];
	p = provider_find(names[b0 & 3]);
	FUZZ_CHECK(p != NULL, "provider %s", names[b0 & 3]);
	len = size - 3;
	/* An exact-size copy, not terminated: the parsers take a length. */
	if ((body = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(body, data + 3, len);
	if (b0 & 4)
		fuzz_error(p, 100 + (long)((b1 << 8 | b2) % 500), body, len);
	else
		fuzz_parse(p, 1 + (int)((b0 >> 3) & 3), (int)b1, body, len);
	free(body);
	return 0;
}
