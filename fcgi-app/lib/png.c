/*
 * png.c - PNG encoder (RGB8, zlib) and PNG/JPEG/WebP header probe.
 * See png.h for the contract.
 */
#include "png.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

static const uint8_t png_sig[8] = {
	0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'
};

/* Rows are fed to zlib in batches so the filter buffer stays small. */
#define PNG_BATCH_BYTES	(256u * 1024u)

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static unsigned
get_be16(const uint8_t *p)
{
	return ((unsigned)p[0] << 8) | (unsigned)p[1];
}

static unsigned
get_le16(const uint8_t *p)
{
	return (unsigned)p[0] | ((unsigned)p[1] << 8);
}

static uint32_t
get_le24(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}

static uint32_t
get_le32(const uint8_t *p)
{
	return get_le24(p) | ((uint32_t)p[3] << 24);
}

/* CRC of a chunk's type and data; p points at the 4-byte type. */
static uint32_t
chunk_crc(const uint8_t *p, size_t n)
{
	uLong c;

	c = crc32(0L, Z_NULL, 0);
	/* crc32() takes a uInt length; chunks here are < 2^31 anyway. */
	while (n > 0) {
		uInt step = n > UINT_MAX ? UINT_MAX : (uInt)n;

		c = crc32(c, p, step);
		p += step;
		n -= step;
	}
	return (uint32_t)c;
}

/*
 * Write a chunk header + data + CRC at dst; data is already in place at
 * dst + 8 (so IDAT can be deflated straight into the output buffer).
 * Returns the total chunk size.
 */
static size_t
finish_chunk(uint8_t *dst, const char type[4], uint32_t datalen)
{
	put_be32(dst, datalen);
	memcpy(dst + 4, type, 4);
	put_be32(dst + 8 + datalen, chunk_crc(dst + 4, (size_t)datalen + 4));
	return (size_t)datalen + 12;
}

/* Bytewise a - b (mod 256) in each of the 8 lanes, no borrow between lanes. */
static uint64_t
swar_sub8(uint64_t a, uint64_t b)
{
	const uint64_t hi = 0x8080808080808080ULL;

	return ((a | hi) - (b & ~hi)) ^ ((a ^ ~b) & hi);
}

/*
 * Up filter: each byte minus the byte above it.  It has no dependency
 * inside the row, so it runs 8 bytes at a time in plain C (gcc -O2 will
 * not vectorise the byte loop), and on the renderer's smooth images it
 * compresses as well as Sub or Paeth at zlib's fast level.  The first row
 * has nothing above it, where Up is the same as None.
 */
static void
filter_up_row(uint8_t *dst, const uint8_t *row, const uint8_t *prev,
    size_t rowbytes)
{
	uint64_t a, b;
	size_t i = 0;

	*dst++ = 2;			/* filter type: Up */
	if (prev == NULL) {
		memcpy(dst, row, rowbytes);
		return;
	}
	for (; i + 8 <= rowbytes; i += 8) {
		memcpy(&a, row + i, 8);
		memcpy(&b, prev + i, 8);
		a = swar_sub8(a, b);
		memcpy(dst + i, &a, 8);
	}
	for (; i < rowbytes; i++)
		dst[i] = (uint8_t)(row[i] - prev[i]);
}

int
png_encode_rgb(const uint8_t *pixels, unsigned width, unsigned height,
    uint8_t **out, size_t *outlen)
{
	z_stream zs;
	uint8_t *buf = NULL, *fbuf = NULL, *shrunk;
	size_t rowbytes, stride, rawlen, bound, total, pos, idatlen;
	size_t rows_per_batch, y;
	int zret;

	if (pixels == NULL || out == NULL || outlen == NULL)
		return -1;
	if (width == 0 || height == 0 || width > PNG_MAX_DIM ||
	    height > PNG_MAX_DIM)
		return -1;

	rowbytes = (size_t)width * 3;
	stride = rowbytes + 1;
	rawlen = stride * height;	/* <= 805 MB, fits size_t and uLong */

	memset(&zs, 0, sizeof(zs));
	/*
	 * Level 1 is zlib's fast path; memLevel 9 buys a little speed and
	 * ratio for a few hundred KiB of extra state.
	 */
	if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15, 9,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;

	bound = deflateBound(&zs, (uLong)rawlen);
	if (bound > 0x7fffffffu) {	/* PNG chunk length limit */
		deflateEnd(&zs);
		return -1;
	}
	total = sizeof(png_sig) + (12 + 13) + (12 + bound) + 12;

	rows_per_batch = PNG_BATCH_BYTES / stride;
	if (rows_per_batch == 0)
		rows_per_batch = 1;
	if (rows_per_batch > height)
		rows_per_batch = height;

	buf = malloc(total);
	fbuf = malloc(rows_per_batch * stride);
	if (buf == NULL || fbuf == NULL)
		goto fail;

	memcpy(buf, png_sig, sizeof(png_sig));
	pos = sizeof(png_sig);

	put_be32(buf + pos + 8, width);
	put_be32(buf + pos + 12, height);
	buf[pos + 16] = 8;		/* bit depth */
	buf[pos + 17] = 2;		/* colour type: truecolour */
	buf[pos + 18] = 0;		/* compression: deflate */
	buf[pos + 19] = 0;		/* filter method 0 */
	buf[pos + 20] = 0;		/* no interlace */
	pos += finish_chunk(buf + pos, "IHDR", 13);

	zs.next_out = buf + pos + 8;
	zs.avail_out = (uInt)bound;
	for (y = 0; y < height; ) {
		size_t n = height - y, r;

		if (n > rows_per_batch)
			n = rows_per_batch;
		for (r = 0; r < n; r++) {
			const uint8_t *row = pixels + (y + r) * rowbytes;

			filter_up_row(fbuf + r * stride, row,
			    y + r > 0 ? row - rowbytes : NULL, rowbytes);
		}
		y += n;
		zs.next_in = fbuf;
		zs.avail_in = (uInt)(n * stride);
		zret = deflate(&zs, y == height ? Z_FINISH : Z_NO_FLUSH);
		/* Output room is deflateBound(): input is always drained. */
		if (zret == Z_STREAM_ERROR || zs.avail_in != 0)
			goto fail;
		if (y == height && zret != Z_STREAM_END)
			goto fail;
	}
	idatlen = (size_t)(zs.next_out - (buf + pos + 8));
	deflateEnd(&zs);
	free(fbuf);
	fbuf = NULL;

	pos += finish_chunk(buf + pos, "IDAT", (uint32_t)idatlen);
	pos += finish_chunk(buf + pos, "IEND", 0);

	/* deflateBound() over-reserves; give the slack back. */
	shrunk = realloc(buf, pos);
	if (shrunk != NULL)
		buf = shrunk;
	*out = buf;
	*outlen = pos;
	return 0;

fail:
	deflateEnd(&zs);
	free(fbuf);
	free(buf);
	return -1;
}

/* ---- probe ---- */

static int
probe_png(const uint8_t *d, size_t len, struct png_info *info)
{
	const uint8_t *ih;
	uint32_t w, h;
	unsigned depth, ctype;

	/* signature, IHDR length + type, 13 data bytes, CRC */
	if (len < 8 + 8 + 13 + 4 || memcmp(d, png_sig, 8) != 0)
		return -1;
	ih = d + 8;
	if (get_be32(ih) != 13 || memcmp(ih + 4, "IHDR", 4) != 0)
		return -1;
	if (get_be32(ih + 8 + 13) != chunk_crc(ih + 4, 4 + 13))
		return -1;
	w = get_be32(ih + 8);
	h = get_be32(ih + 12);
	depth = ih[16];
	ctype = ih[17];
	if (w == 0 || h == 0 || w > 0x7fffffffu || h > 0x7fffffffu)
		return -1;
	switch (ctype) {
	case 0:			/* greyscale */
		if (depth != 1 && depth != 2 && depth != 4 && depth != 8 &&
		    depth != 16)
			return -1;
		break;
	case 3:			/* palette */
		if (depth != 1 && depth != 2 && depth != 4 && depth != 8)
			return -1;
		break;
	case 2:			/* truecolour */
	case 4:			/* grey + alpha */
	case 6:			/* truecolour + alpha */
		if (depth != 8 && depth != 16)
			return -1;
		break;
	default:
		return -1;
	}
	if (ih[18] != 0 || ih[19] != 0 || ih[20] > 1)
		return -1;
	info->kind = PNG_KIND_PNG;
	info->width = w;
	info->height = h;
	info->mime = "image/png";
	return 0;
}

static int
jpeg_is_sof(unsigned m)
{
	return m >= 0xc0 && m <= 0xcf &&
	    m != 0xc4 && m != 0xc8 && m != 0xcc;
}

static int
probe_jpeg(const uint8_t *d, size_t len, struct png_info *info)
{
	size_t pos, seglen;
	unsigned m, w, h, ncomp;

	if (len < 2 || d[0] != 0xff || d[1] != 0xd8)
		return -1;
	pos = 2;
	/* Every iteration advances pos by at least one, so this ends. */
	for (;;) {
		if (pos >= len || d[pos] != 0xff)
			return -1;
		/* Any number of 0xff fill bytes may precede a marker. */
		while (pos < len && d[pos] == 0xff)
			pos++;
		if (pos >= len)
			return -1;
		m = d[pos++];
		if (m == 0x01 || (m >= 0xd0 && m <= 0xd7))
			continue;	/* TEM / RSTn: no payload */
		/* stuffed 00, a second SOI, EOI or SOS before any SOF */
		if (m == 0x00 || m == 0xd8 || m == 0xd9 || m == 0xda)
			return -1;
		if (len - pos < 2)
			return -1;
		seglen = get_be16(d + pos);
		if (seglen < 2 || seglen > len - pos)
			return -1;
		if (jpeg_is_sof(m)) {
			/* P, Y, X, Nf, then 3 bytes per component */
			if (seglen < 8)
				return -1;
			h = get_be16(d + pos + 3);
			w = get_be16(d + pos + 5);
			ncomp = d[pos + 7];
			if (ncomp == 0 || seglen != 8 + 3 * (size_t)ncomp)
				return -1;
			/* Height 0 means "see DNL": not knowable up front. */
			if (w == 0 || h == 0)
				return -1;
			info->kind = PNG_KIND_JPEG;
			info->width = w;
			info->height = h;
			info->mime = "image/jpeg";
			return 0;
		}
		pos += seglen;
	}
}

static int
probe_webp(const uint8_t *d, size_t len, struct png_info *info)
{
	const uint8_t *c, *p;
	uint32_t riffsize, csize, bits;
	unsigned w, h;

	/* "RIFF" size "WEBP", then the first chunk's fourcc + size */
	if (len < 20 || memcmp(d, "RIFF", 4) != 0 ||
	    memcmp(d + 8, "WEBP", 4) != 0)
		return -1;
	riffsize = get_le32(d + 4);
	c = d + 12;
	csize = get_le32(c + 4);
	/* The first chunk must fit inside the RIFF payload it claims. */
	if (riffsize < 12 || csize > riffsize - 12)
		return -1;
	p = c + 8;
	len -= 20;			/* bytes available at p */

	if (memcmp(c, "VP8 ", 4) == 0) {
		/* 3-byte frame tag, start code 9d 01 2a, 14-bit w and h */
		if (csize < 10 || len < 10)
			return -1;
		if ((p[0] & 1) != 0)	/* must be a key frame */
			return -1;
		if (p[3] != 0x9d || p[4] != 0x01 || p[5] != 0x2a)
			return -1;
		w = get_le16(p + 6) & 0x3fff;
		h = get_le16(p + 8) & 0x3fff;
	} else if (memcmp(c, "VP8L", 4) == 0) {
		/* signature 0x2f, then 14-bit w-1, 14-bit h-1, alpha, ver */
		if (csize < 5 || len < 5 || p[0] != 0x2f)
			return -1;
		bits = get_le32(p + 1);
		if ((bits >> 29) != 0)	/* version must be 0 */
			return -1;
		w = (bits & 0x3fff) + 1;
		h = ((bits >> 14) & 0x3fff) + 1;
	} else if (memcmp(c, "VP8X", 4) == 0) {
		/* flags, 3 reserved, 24-bit canvas w-1, 24-bit canvas h-1 */
		if (csize < 10 || len < 10)
			return -1;
		w = get_le24(p + 4) + 1;
		h = get_le24(p + 7) + 1;
		/* The spec caps the canvas area at 2^32 - 1. */
		if ((uint64_t)w * h > 0xffffffffu)
			return -1;
	} else {
		return -1;
	}
	if (w == 0 || h == 0)
		return -1;
	info->kind = PNG_KIND_WEBP;
	info->width = w;
	info->height = h;
	info->mime = "image/webp";
	return 0;
}

int
png_probe(const uint8_t *data, size_t len, struct png_info *info)
{
	if (info == NULL)
		return -1;
	info->kind = PNG_KIND_UNKNOWN;
	info->width = 0;
	info->height = 0;
	info->mime = "application/octet-stream";
	if (data == NULL || len == 0)
		return -1;
	if (probe_png(data, len, info) == 0 ||
	    probe_jpeg(data, len, info) == 0 ||
	    probe_webp(data, len, info) == 0)
		return 0;
	/* The probers write *info only on success, so it is still "unknown". */
	return -1;
}
