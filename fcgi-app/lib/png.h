/*
 * png.h - minimal PNG encoder and image header probe.
 *
 * png_encode_rgb() turns an 8-bit RGB pixel buffer into a complete PNG
 * file (IHDR, one IDAT compressed with zlib, IEND).  png_probe() identifies
 * PNG, JPEG and WebP data from its header bytes and reports the pixel
 * dimensions without decoding anything.
 *
 * Ownership: the buffer returned through *out by png_encode_rgb() is
 * allocated with malloc() and belongs to the caller, who must free() it.
 * png_probe() allocates nothing; png_info.mime points at a static string.
 *
 * Errors: both functions return 0 on success and -1 on failure; they never
 * exit, abort or print.  On failure png_encode_rgb() leaves *out / *outlen
 * untouched and png_probe() sets *info to the "unknown" state.
 * png_probe() is written for hostile input: it never reads outside
 * [data, data + len).
 *
 * Threads / fork: no global or static mutable state; both functions are
 * reentrant and safe to call from any number of threads or after fork().
 */
#ifndef IG_PNG_H
#define IG_PNG_H

#include <stddef.h>
#include <stdint.h>

/* Largest width or height png_encode_rgb() accepts. */
#define PNG_MAX_DIM 16384u

/*
 * Encode width*height RGB8 pixels (row-major, 3 bytes per pixel, no row
 * padding) as a PNG.  On success returns 0 and sets *out (malloc'd, caller
 * frees) and *outlen.  Returns -1 on bad arguments (a dimension of 0 or
 * > PNG_MAX_DIM, a NULL pointer) or on allocation / zlib failure.
 */
int png_encode_rgb(const uint8_t *pixels, unsigned width, unsigned height,
    uint8_t **out, size_t *outlen);

enum png_kind {
	PNG_KIND_UNKNOWN = 0,
	PNG_KIND_PNG,
	PNG_KIND_JPEG,
	PNG_KIND_WEBP
};

struct png_info {
	enum png_kind	 kind;
	unsigned	 width, height;
	const char	*mime;		/* static string, never NULL */
};

/*
 * Identify an image from its leading bytes and read its dimensions:
 * PNG (signature + IHDR with a valid CRC and legal field values), JPEG
 * (markers walked from SOI to the first SOFn, which must lie entirely in
 * the buffer) or WebP (RIFF/WEBP with a VP8, VP8L or VP8X first chunk).
 * Returns 0 and fills *info, or -1 if the bytes are not a well-formed
 * header of one of these kinds or a dimension is 0.  On failure *info is
 * set to kind PNG_KIND_UNKNOWN, 0x0, mime "application/octet-stream".
 */
int png_probe(const uint8_t *data, size_t len, struct png_info *info);

#endif /* IG_PNG_H */
