/*
 * test_png.c - unit tests for png.c: the encoder is checked by an
 * independent decoder written here (chunk walk, CRCs, inflate, all five
 * PNG filters), the probe by real encoder output and hand-built JPEG and
 * WebP headers, every truncation of them, and byte mutations.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "png.h"

static uint32_t
t_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void
t_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int
t_paeth(int a, int b, int c)
{
	int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);

	if (pa <= pb && pa <= pc)
		return a;
	return pb <= pc ? b : c;
}

/*
 * Strict decoder for 8-bit RGB, non-interlaced PNGs: returns 0 and a
 * malloc'd pixel buffer, or -1 naming nothing (tests assert on the code).
 * Every chunk CRC is verified, IHDR must be first and IEND last.
 */
static int
t_decode(const uint8_t *buf, size_t len, unsigned *wp, unsigned *hp,
    uint8_t **pixp)
{
	static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', 13, 10, 26, 10 };
	uint8_t *idat = NULL, *raw = NULL, *pix = NULL, *tmp;
	size_t pos = 8, idatlen = 0, stride, rawlen, x, y, bpl;
	unsigned w = 0, h = 0;
	int seen_ihdr = 0, seen_iend = 0;
	z_stream zs;
	int zr;

	if (len < 8 || memcmp(buf, sig, 8) != 0)
		return -1;
	while (pos < len) {
		uint32_t clen;
		const uint8_t *type, *data;

		if (seen_iend || len - pos < 12)
			goto bad;
		clen = t_be32(buf + pos);
		if (clen > len - pos - 12)
			goto bad;
		type = buf + pos + 4;
		data = type + 4;
		if (t_be32(data + clen) !=
		    (uint32_t)crc32(0, type, (uInt)clen + 4))
			goto bad;
		if (!seen_ihdr && memcmp(type, "IHDR", 4) != 0)
			goto bad;
		if (memcmp(type, "IHDR", 4) == 0) {
			if (seen_ihdr || clen != 13)
				goto bad;
			seen_ihdr = 1;
			w = t_be32(data);
			h = t_be32(data + 4);
			if (w == 0 || h == 0 || data[8] != 8 || data[9] != 2 ||
			    data[10] != 0 || data[11] != 0 || data[12] != 0)
				goto bad;
		} else if (memcmp(type, "IDAT", 4) == 0) {
			tmp = realloc(idat, idatlen + clen + 1);
			if (tmp == NULL)
				goto bad;
			idat = tmp;
			memcpy(idat + idatlen, data, clen);
			idatlen += clen;
		} else if (memcmp(type, "IEND", 4) == 0) {
			if (clen != 0)
				goto bad;
			seen_iend = 1;
		}
		pos += 12 + (size_t)clen;
	}
	if (!seen_iend || idat == NULL)
		goto bad;

	bpl = (size_t)w * 3;
	stride = bpl + 1;
	rawlen = stride * h;
	raw = malloc(rawlen + 1);	/* +1: an over-long stream shows */
	pix = malloc(bpl * h);
	if (raw == NULL || pix == NULL)
		goto bad;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit(&zs) != Z_OK)
		goto bad;
	zs.next_in = idat;
	zs.avail_in = (uInt)idatlen;
	zs.next_out = raw;
	zs.avail_out = (uInt)rawlen + 1;
	zr = inflate(&zs, Z_FINISH);
	inflateEnd(&zs);
	if (zr != Z_STREAM_END || zs.total_out != rawlen || zs.avail_in != 0)
		goto bad;

	for (y = 0; y < h; y++) {
		const uint8_t *f = raw + y * stride + 1;
		uint8_t *o = pix + y * bpl;
		const uint8_t *up = y > 0 ? o - bpl : NULL;

		for (x = 0; x < bpl; x++) {
			int a = x >= 3 ? o[x - 3] : 0;
			int b = up != NULL ? up[x] : 0;
			int c = (x >= 3 && up != NULL) ? up[x - 3] : 0;
			int p;

			switch (f[-1]) {
			case 0: p = 0; break;
			case 1: p = a; break;
			case 2: p = b; break;
			case 3: p = (a + b) / 2; break;
			case 4: p = t_paeth(a, b, c); break;
			default: goto bad;
			}
			o[x] = (uint8_t)(f[x] + p);
		}
	}
	free(idat);
	free(raw);
	*wp = w;
	*hp = h;
	*pixp = pix;
	return 0;
bad:
	free(idat);
	free(raw);
	free(pix);
	return -1;
}

static uint32_t
t_rand(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

/* Probe a copy that is exactly n bytes long so ASan sees any over-read. */
static int
t_probe_exact(const uint8_t *buf, size_t n, struct png_info *info)
{
	uint8_t *copy = malloc(n > 0 ? n : 1);
	int rc;

	cr_assert_not_null(copy);
	memcpy(copy, buf, n);
	rc = png_probe(copy, n, info);
	free(copy);
	return rc;
}

/* Encode, decode with the independent decoder, compare every byte. */
static void
t_roundtrip(const uint8_t *pix, unsigned w, unsigned h)
{
	uint8_t *png = NULL, *back = NULL;
	size_t len = 0;
	unsigned dw, dh;

	cr_assert_eq(png_encode_rgb(pix, w, h, &png, &len), 0,
	    "encode %ux%u failed", w, h);
	cr_assert_not_null(png);
	cr_assert_gt(len, 8 + 25 + 12 + 12);
	/* IHDR must be the first chunk, with our exact fields */
	cr_assert_eq(t_be32(png + 8), 13);
	cr_assert_eq(memcmp(png + 12, "IHDR", 4), 0);
	cr_assert_eq(t_be32(png + 16), w);
	cr_assert_eq(t_be32(png + 20), h);
	cr_assert_eq(png[24], 8);
	cr_assert_eq(png[25], 2);
	/* IEND must be the last 12 bytes */
	cr_assert_eq(memcmp(png + len - 12,
	    "\0\0\0\0IEND\xae\x42\x60\x82", 12), 0);
	cr_assert_eq(t_decode(png, len, &dw, &dh, &back), 0,
	    "decode of %ux%u failed", w, h);
	cr_assert_eq(dw, w);
	cr_assert_eq(dh, h);
	cr_assert_eq(memcmp(back, pix, (size_t)w * h * 3), 0,
	    "pixels differ after round trip at %ux%u", w, h);
	free(back);
	free(png);
}

Test(png, roundtrip_random_pixels)
{
	static const unsigned dims[][2] = {
		{ 1, 1 }, { 1, 37 }, { 37, 1 }, { 2, 2 }, { 3, 3 },
		{ 7, 5 }, { 8, 8 }, { 11, 9 }, { 257, 13 }, { 100, 100 },
	};
	uint32_t seed = 12345;
	size_t i, j, n;

	for (i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
		uint8_t *pix;

		n = (size_t)dims[i][0] * dims[i][1] * 3;
		pix = malloc(n);
		cr_assert_not_null(pix);
		for (j = 0; j < n; j++)
			pix[j] = (uint8_t)t_rand(&seed);
		t_roundtrip(pix, dims[i][0], dims[i][1]);
		free(pix);
	}
}

Test(png, roundtrip_gradient_compresses)
{
	unsigned w = 640, h = 480, x, y;
	uint8_t *pix = malloc((size_t)w * h * 3), *png;
	size_t len;

	cr_assert_not_null(pix);
	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++) {
			uint8_t *p = pix + ((size_t)y * w + x) * 3;

			p[0] = (uint8_t)(x * 255 / (w - 1));
			p[1] = (uint8_t)(y * 255 / (h - 1));
			p[2] = (uint8_t)((x + y) / 5);
		}
	t_roundtrip(pix, w, h);
	/* A smooth image must actually be compressed, not stored. */
	cr_assert_eq(png_encode_rgb(pix, w, h, &png, &len), 0);
	cr_assert_lt(len, (size_t)w * h * 3 / 10, "len %zu", len);
	free(png);
	free(pix);
}

Test(png, roundtrip_extreme_shapes)
{
	/* The widest and tallest accepted images, one pixel thick. */
	uint8_t *pix = malloc((size_t)PNG_MAX_DIM * 3);
	size_t i;

	cr_assert_not_null(pix);
	for (i = 0; i < (size_t)PNG_MAX_DIM * 3; i++)
		pix[i] = (uint8_t)(i * 7 + (i >> 9));
	t_roundtrip(pix, PNG_MAX_DIM, 1);
	t_roundtrip(pix, 1, PNG_MAX_DIM);
	free(pix);
}

Test(png, encode_is_deterministic)
{
	uint8_t pix[5 * 4 * 3], *a, *b;
	size_t la, lb, i;

	for (i = 0; i < sizeof(pix); i++)
		pix[i] = (uint8_t)(i * 31);
	cr_assert_eq(png_encode_rgb(pix, 5, 4, &a, &la), 0);
	cr_assert_eq(png_encode_rgb(pix, 5, 4, &b, &lb), 0);
	cr_assert_eq(la, lb);
	cr_assert_eq(memcmp(a, b, la), 0);
	free(a);
	free(b);
}

Test(png, encode_rejects_bad_arguments)
{
	uint8_t pix[12] = { 0 };
	uint8_t *out = (uint8_t *)&pix[0];
	uint8_t *const sentinel = out;
	size_t len = 777;

	cr_assert_eq(png_encode_rgb(pix, 0, 1, &out, &len), -1);
	cr_assert_eq(png_encode_rgb(pix, 1, 0, &out, &len), -1);
	cr_assert_eq(png_encode_rgb(pix, 0, 0, &out, &len), -1);
	cr_assert_eq(png_encode_rgb(pix, PNG_MAX_DIM + 1, 1, &out, &len), -1);
	cr_assert_eq(png_encode_rgb(pix, 1, PNG_MAX_DIM + 1, &out, &len), -1);
	cr_assert_eq(png_encode_rgb(pix, 0xffffffffu, 0xffffffffu, &out,
	    &len), -1);
	cr_assert_eq(png_encode_rgb(NULL, 1, 1, &out, &len), -1);
	cr_assert_eq(png_encode_rgb(pix, 1, 1, NULL, &len), -1);
	cr_assert_eq(png_encode_rgb(pix, 1, 1, &out, NULL), -1);
	/* failure leaves the outputs alone */
	cr_assert_eq(out, sentinel);
	cr_assert_eq(len, 777);
}

Test(png, probe_encoder_output)
{
	static const unsigned dims[][2] = {
		{ 1, 1 }, { 1280, 720 }, { 720, 1280 }, { 3, 1000 },
	};
	struct png_info info;
	uint8_t *pix, *png;
	size_t len, i;

	for (i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
		pix = calloc((size_t)dims[i][0] * dims[i][1], 3);
		cr_assert_not_null(pix);
		cr_assert_eq(png_encode_rgb(pix, dims[i][0], dims[i][1], &png,
		    &len), 0);
		cr_assert_eq(t_probe_exact(png, len, &info), 0);
		cr_assert_eq(info.kind, PNG_KIND_PNG);
		cr_assert_eq(info.width, dims[i][0]);
		cr_assert_eq(info.height, dims[i][1]);
		cr_assert_str_eq(info.mime, "image/png");
		/* the header alone is enough */
		cr_assert_eq(t_probe_exact(png, 33, &info), 0);
		cr_assert_eq(info.width, dims[i][0]);
		free(png);
		free(pix);
	}
}

Test(png, probe_png_every_truncation_and_mutation)
{
	uint8_t pix[4 * 3 * 3] = { 0 }, *png, hdr[33];
	struct png_info info;
	size_t len, n, i;
	unsigned v;

	cr_assert_eq(png_encode_rgb(pix, 4, 3, &png, &len), 0);
	memcpy(hdr, png, sizeof(hdr));
	free(png);

	for (n = 0; n < sizeof(hdr); n++) {
		cr_assert_eq(t_probe_exact(hdr, n, &info), -1,
		    "accepted a %zu-byte prefix", n);
		cr_assert_eq(info.kind, PNG_KIND_UNKNOWN);
		cr_assert_eq(info.width, 0);
		cr_assert_str_eq(info.mime, "application/octet-stream");
	}
	cr_assert_eq(t_probe_exact(hdr, sizeof(hdr), &info), 0);

	/*
	 * Any change to one byte of signature, length, type, fields or CRC
	 * must be rejected: CRC-32 catches every single-byte error in what
	 * it covers, the rest is compared literally.
	 */
	for (i = 0; i < sizeof(hdr); i++) {
		for (v = 0; v < 256; v++) {
			uint8_t m[sizeof(hdr)];

			if (v == hdr[i])
				continue;
			memcpy(m, hdr, sizeof(m));
			m[i] = (uint8_t)v;
			cr_assert_eq(t_probe_exact(m, sizeof(m), &info), -1,
			    "accepted byte %zu = %u", i, v);
		}
	}
}

/* Rewrite IHDR fields and fix the CRC so only the field check can fail. */
static int
t_probe_ihdr(uint32_t w, uint32_t h, uint8_t depth, uint8_t ctype,
    uint8_t interlace)
{
	uint8_t pix[3] = { 1, 2, 3 }, *png, hdr[33];
	struct png_info info;
	size_t len;

	cr_assert_eq(png_encode_rgb(pix, 1, 1, &png, &len), 0);
	memcpy(hdr, png, sizeof(hdr));
	free(png);
	t_put_be32(hdr + 16, w);
	t_put_be32(hdr + 20, h);
	hdr[24] = depth;
	hdr[25] = ctype;
	hdr[28] = interlace;
	t_put_be32(hdr + 29, (uint32_t)crc32(0, hdr + 12, 17));
	return t_probe_exact(hdr, sizeof(hdr), &info);
}

Test(png, probe_png_ihdr_fields)
{
	cr_assert_eq(t_probe_ihdr(10, 20, 8, 2, 0), 0);
	cr_assert_eq(t_probe_ihdr(10, 20, 16, 6, 1), 0);	/* Adam7 ok */
	cr_assert_eq(t_probe_ihdr(10, 20, 1, 0, 0), 0);
	cr_assert_eq(t_probe_ihdr(10, 20, 4, 3, 0), 0);
	cr_assert_eq(t_probe_ihdr(0, 20, 8, 2, 0), -1);
	cr_assert_eq(t_probe_ihdr(10, 0, 8, 2, 0), -1);
	cr_assert_eq(t_probe_ihdr(0x80000000u, 20, 8, 2, 0), -1);
	cr_assert_eq(t_probe_ihdr(10, 20, 4, 2, 0), -1);	/* RGB4 */
	cr_assert_eq(t_probe_ihdr(10, 20, 16, 3, 0), -1);	/* pal16 */
	cr_assert_eq(t_probe_ihdr(10, 20, 8, 5, 0), -1);	/* no type 5 */
	cr_assert_eq(t_probe_ihdr(10, 20, 8, 2, 2), -1);	/* interlace */
}

/* SOI, APP0 (JFIF), DQT-ish filler segment, SOF0 640x480 3 components. */
static const uint8_t t_jpeg[] = {
	0xff, 0xd8,
	0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01, 0x01, 0x00,
	0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
	0xff, 0xdb, 0x00, 0x05, 0x00, 0x01, 0x02,
	0xff, 0xc0, 0x00, 0x11, 0x08, 0x01, 0xe0, 0x02, 0x80, 0x03,
	0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01,
};

Test(png, probe_jpeg_minimal)
{
	struct png_info info;
	size_t n;

	cr_assert_eq(t_probe_exact(t_jpeg, sizeof(t_jpeg), &info), 0);
	cr_assert_eq(info.kind, PNG_KIND_JPEG);
	cr_assert_eq(info.width, 640);
	cr_assert_eq(info.height, 480);
	cr_assert_str_eq(info.mime, "image/jpeg");
	for (n = 0; n < sizeof(t_jpeg); n++)
		cr_assert_eq(t_probe_exact(t_jpeg, n, &info), -1,
		    "accepted a %zu-byte prefix", n);
}

Test(png, probe_jpeg_variants)
{
	uint8_t m[sizeof(t_jpeg) + 3];
	struct png_info info;
	static const uint8_t sofs[] = {
		0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7,
		0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf,
	};
	size_t i;

	/* every SOFn type is accepted */
	for (i = 0; i < sizeof(sofs); i++) {
		memcpy(m, t_jpeg, sizeof(t_jpeg));
		m[28] = sofs[i];
		cr_assert_eq(t_probe_exact(m, sizeof(t_jpeg), &info), 0,
		    "SOF %02x", sofs[i]);
		cr_assert_eq(info.width, 640);
	}
	/* DHT, JPG and DAC share the range but carry no frame header */
	memcpy(m, t_jpeg, sizeof(t_jpeg));
	m[28] = 0xc4;
	cr_assert_eq(t_probe_exact(m, sizeof(t_jpeg), &info), -1);
	m[28] = 0xc8;
	cr_assert_eq(t_probe_exact(m, sizeof(t_jpeg), &info), -1);
	m[28] = 0xcc;
	cr_assert_eq(t_probe_exact(m, sizeof(t_jpeg), &info), -1);

	/* fill bytes before a marker are legal */
	memcpy(m, t_jpeg, 27);
	m[27] = 0xff;
	m[28] = 0xff;
	m[29] = 0xff;
	memcpy(m + 30, t_jpeg + 27, sizeof(t_jpeg) - 27);
	cr_assert_eq(t_probe_exact(m, sizeof(t_jpeg) + 3, &info), 0);
	cr_assert_eq(info.height, 480);

	/* height 0 (DNL) and width 0 */
	memcpy(m, t_jpeg, sizeof(t_jpeg));
	m[32] = 0;
	m[33] = 0;
	cr_assert_eq(t_probe_exact(m, sizeof(t_jpeg), &info), -1);
	memcpy(m, t_jpeg, sizeof(t_jpeg));
	m[34] = 0;
	m[35] = 0;
	cr_assert_eq(t_probe_exact(m, sizeof(t_jpeg), &info), -1);

	/* SOF length disagreeing with its component count */
	memcpy(m, t_jpeg, sizeof(t_jpeg));
	m[36] = 2;
	cr_assert_eq(t_probe_exact(m, sizeof(t_jpeg), &info), -1);

	/* a segment length running past the end */
	memcpy(m, t_jpeg, sizeof(t_jpeg));
	m[4] = 0x7f;
	cr_assert_eq(t_probe_exact(m, sizeof(t_jpeg), &info), -1);

	/* segment length below 2 */
	memcpy(m, t_jpeg, sizeof(t_jpeg));
	m[4] = 0;
	m[5] = 1;
	cr_assert_eq(t_probe_exact(m, sizeof(t_jpeg), &info), -1);

	/* SOS or EOI before any SOF */
	memcpy(m, t_jpeg, sizeof(t_jpeg));
	m[21] = 0xda;
	cr_assert_eq(t_probe_exact(m, sizeof(t_jpeg), &info), -1);
	m[21] = 0xd9;
	cr_assert_eq(t_probe_exact(m, sizeof(t_jpeg), &info), -1);

	/* garbage between segments */
	memcpy(m, t_jpeg, sizeof(t_jpeg));
	m[20] = 0x00;
	cr_assert_eq(t_probe_exact(m, sizeof(t_jpeg), &info), -1);
}

/* RIFF header + "VP8 " key frame 1920x1080 (upper 2 bits = scale). */
static const uint8_t t_vp8[] = {
	'R', 'I', 'F', 'F', 0x24, 0x00, 0x00, 0x00, 'W', 'E', 'B', 'P',
	'V', 'P', '8', ' ', 0x18, 0x00, 0x00, 0x00,
	0x30, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x47, 0x38, 0xc4,
};

/* "VP8L" 640x480 with alpha: bits = 639 | 479 << 14 | 1 << 28 */
static const uint8_t t_vp8l[] = {
	'R', 'I', 'F', 'F', 0x1a, 0x00, 0x00, 0x00, 'W', 'E', 'B', 'P',
	'V', 'P', '8', 'L', 0x0d, 0x00, 0x00, 0x00,
	0x2f, 0x7f, 0xc2, 0x77, 0x10,
};

/* "VP8X" canvas 4000x3000: 24-bit LE width-1 and height-1 */
static const uint8_t t_vp8x[] = {
	'R', 'I', 'F', 'F', 0x1e, 0x00, 0x00, 0x00, 'W', 'E', 'B', 'P',
	'V', 'P', '8', 'X', 0x0a, 0x00, 0x00, 0x00,
	0x10, 0x00, 0x00, 0x00, 0x9f, 0x0f, 0x00, 0xb7, 0x0b, 0x00,
};

static void
t_check_webp(const uint8_t *hdr, size_t len, unsigned w, unsigned h)
{
	struct png_info info;
	size_t n;

	cr_assert_eq(t_probe_exact(hdr, len, &info), 0);
	cr_assert_eq(info.kind, PNG_KIND_WEBP);
	cr_assert_eq(info.width, w);
	cr_assert_eq(info.height, h);
	cr_assert_str_eq(info.mime, "image/webp");
	for (n = 0; n < len; n++)
		cr_assert_eq(t_probe_exact(hdr, n, &info), -1,
		    "accepted a %zu-byte prefix", n);
}

Test(png, probe_webp_minimal)
{
	t_check_webp(t_vp8, sizeof(t_vp8), 1920, 1080);
	t_check_webp(t_vp8l, sizeof(t_vp8l), 640, 480);
	t_check_webp(t_vp8x, sizeof(t_vp8x), 4000, 3000);
}

Test(png, probe_webp_rejects)
{
	uint8_t m[40];
	struct png_info info;

	/* VP8 inter frame (bit 0 of the frame tag set) */
	memcpy(m, t_vp8, sizeof(t_vp8));
	m[20] |= 1;
	cr_assert_eq(t_probe_exact(m, sizeof(t_vp8), &info), -1);
	/* VP8 bad start code */
	memcpy(m, t_vp8, sizeof(t_vp8));
	m[24] = 0x02;
	cr_assert_eq(t_probe_exact(m, sizeof(t_vp8), &info), -1);
	/* VP8 zero width */
	memcpy(m, t_vp8, sizeof(t_vp8));
	m[26] = 0;
	m[27] = 0;
	cr_assert_eq(t_probe_exact(m, sizeof(t_vp8), &info), -1);
	/* VP8L bad signature, then a non-zero version */
	memcpy(m, t_vp8l, sizeof(t_vp8l));
	m[20] = 0x2e;
	cr_assert_eq(t_probe_exact(m, sizeof(t_vp8l), &info), -1);
	memcpy(m, t_vp8l, sizeof(t_vp8l));
	m[24] |= 0x20;
	cr_assert_eq(t_probe_exact(m, sizeof(t_vp8l), &info), -1);
	/* VP8X canvas area over 2^32 - 1 */
	memcpy(m, t_vp8x, sizeof(t_vp8x));
	memset(m + 24, 0xff, 6);
	cr_assert_eq(t_probe_exact(m, sizeof(t_vp8x), &info), -1);
	/* unknown first chunk */
	memcpy(m, t_vp8x, sizeof(t_vp8x));
	m[15] = 'Y';
	cr_assert_eq(t_probe_exact(m, sizeof(t_vp8x), &info), -1);
	/* chunk claiming more than the RIFF holds */
	memcpy(m, t_vp8x, sizeof(t_vp8x));
	m[4] = 0x0c;
	cr_assert_eq(t_probe_exact(m, sizeof(t_vp8x), &info), -1);
	/* not WEBP inside RIFF (e.g. WAVE) */
	memcpy(m, t_vp8x, sizeof(t_vp8x));
	memcpy(m + 8, "WAVE", 4);
	cr_assert_eq(t_probe_exact(m, sizeof(t_vp8x), &info), -1);
}

Test(png, probe_rejects_garbage_and_null)
{
	struct png_info info;
	uint8_t buf[512];
	uint32_t seed = 99;
	size_t n, i;
	int round;

	cr_assert_eq(png_probe(NULL, 10, &info), -1);
	cr_assert_eq(info.kind, PNG_KIND_UNKNOWN);
	cr_assert_eq(png_probe(t_jpeg, 0, &info), -1);
	cr_assert_eq(png_probe(t_jpeg, sizeof(t_jpeg), NULL), -1);

	/* random bytes, with and without a plausible magic in front */
	for (round = 0; round < 2000; round++) {
		n = t_rand(&seed) % sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = (uint8_t)t_rand(&seed);
		switch (round % 4) {
		case 1:
			if (n >= 2)
				memcpy(buf, "\xff\xd8", 2);
			break;
		case 2:
			if (n >= 12) {
				memcpy(buf, "RIFF", 4);
				memcpy(buf + 8, "WEBP", 4);
			}
			break;
		case 3:
			if (n >= 16)
				memcpy(buf,
				    "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
			break;
		}
		if (t_probe_exact(buf, n, &info) == 0) {
			/* only a JPEG walk can succeed by chance */
			cr_assert_eq(info.kind, PNG_KIND_JPEG);
			cr_assert_gt(info.width, 0);
			cr_assert_gt(info.height, 0);
		}
	}

	/* JPEG made entirely of fill bytes, and of RST markers */
	memset(buf, 0xff, sizeof(buf));
	buf[1] = 0xd8;
	cr_assert_eq(t_probe_exact(buf, sizeof(buf), &info), -1);
	for (i = 2; i + 1 < sizeof(buf); i += 2)
		buf[i + 1] = 0xd0;
	cr_assert_eq(t_probe_exact(buf, sizeof(buf), &info), -1);
}

Test(png, probe_jpeg_mutations_stay_in_bounds)
{
	struct png_info info;
	uint8_t m[sizeof(t_jpeg)];
	size_t i, n;
	unsigned v;

	/* Exercise every byte value at every position and every length. */
	for (i = 0; i < sizeof(t_jpeg); i++)
		for (v = 0; v < 256; v += 3) {
			memcpy(m, t_jpeg, sizeof(m));
			m[i] = (uint8_t)v;
			for (n = i; n <= sizeof(m); n += 7)
				(void)t_probe_exact(m, n, &info);
			(void)t_probe_exact(m, sizeof(m), &info);
		}
}
