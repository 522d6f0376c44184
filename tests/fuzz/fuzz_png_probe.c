/*
 * fuzz_png_probe - png_probe(), which reads the headers of the PNG, JPEG
 * and WebP images that providers return.
 *
 * Invariants: success means a known kind, non-zero dimensions and its
 * MIME type; failure leaves the "unknown" state, 0x0, octet-stream.
 */
#include "fuzz.h"

#include "png.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct png_info	 info;
	uint8_t		*copy;

	/* An exact-size copy: ASan then sees any read past the end. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	memset(&info, 0xa5, sizeof(info));
	if (png_probe(copy, size, &info) == 0) {
		FUZZ_CHECK(info.kind != PNG_KIND_UNKNOWN && info.width > 0 &&
		    info.height > 0 && info.mime != NULL, "bad success");
		FUZZ_CHECK((info.kind == PNG_KIND_PNG &&
		    strcmp(info.mime, "image/png") == 0) ||
		    (info.kind == PNG_KIND_JPEG &&
		    strcmp(info.mime, "image/jpeg") == 0) ||
		    (info.kind == PNG_KIND_WEBP &&
		    strcmp(info.mime, "image/webp") == 0), "mime %s for %d",
		    info.mime, info.kind);
	} else
		FUZZ_CHECK(info.kind == PNG_KIND_UNKNOWN && info.width == 0 &&
		    info.height == 0 && info.mime != NULL &&
		    strcmp(info.mime, "application/octet-stream") == 0,
		    "failure left state behind");
	free(copy);
	return 0;
}
