/*
 * test_render.c - unit tests for render.c: determinism, sensitivity to
 * every input, exact output dimensions, argument checks, and that the
 * pictures are real pictures (decoded here independently of png.c).
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "png.h"
#include "render.h"

static uint32_t
r_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/*
 * Decoder for the 8-bit RGB non-interlaced PNGs render_image() makes:
 * checks every chunk CRC, inflates the IDAT stream and undoes all five
 * filter types.  Asserts on anything unexpected.
 */
static uint8_t *
r_decode(const uint8_t *buf, size_t len, unsigned *wp, unsigned *hp)
{
	uint8_t *idat = NULL, *raw, *pix;
	size_t pos = 8, idatlen = 0, bpl, stride, x, y;
	unsigned w = 0, h = 0;
	z_stream zs;

	cr_assert_gt(len, 8);
	cr_assert_eq(memcmp(buf, "\x89PNG\r\n\x1a\n", 8), 0);
	while (pos + 12 <= len) {
		uint32_t clen = r_be32(buf + pos);
		const uint8_t *type = buf + pos + 4;

		cr_assert_leq(clen, len - pos - 12);
		cr_assert_eq(r_be32(type + 4 + clen),
		    (uint32_t)crc32(0, type, (uInt)clen + 4), "bad CRC");
		if (memcmp(type, "IHDR", 4) == 0) {
			w = r_be32(type + 4);
			h = r_be32(type + 8);
			cr_assert_eq(type[12], 8);
			cr_assert_eq(type[13], 2);
			cr_assert_eq(type[16], 0);
		} else if (memcmp(type, "IDAT", 4) == 0) {
			idat = realloc(idat, idatlen + clen);
			cr_assert_not_null(idat);
			memcpy(idat + idatlen, type + 4, clen);
			idatlen += clen;
		}
		pos += 12 + (size_t)clen;
	}
	cr_assert_eq(pos, len, "trailing bytes after the last chunk");
	cr_assert(w > 0 && h > 0 && idat != NULL);

	bpl = (size_t)w * 3;
	stride = bpl + 1;
	raw = malloc(stride * h);
	pix = malloc(bpl * h);
	cr_assert(raw != NULL && pix != NULL);
	memset(&zs, 0, sizeof(zs));
	cr_assert_eq(inflateInit(&zs), Z_OK);
	zs.next_in = idat;
	zs.avail_in = (uInt)idatlen;
	zs.next_out = raw;
	zs.avail_out = (uInt)(stride * h);
	cr_assert_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
	cr_assert_eq(zs.total_out, stride * h);
	inflateEnd(&zs);

	for (y = 0; y < h; y++) {
		const uint8_t *f = raw + y * stride;
		uint8_t *o = pix + y * bpl;
		const uint8_t *up = y > 0 ? o - bpl : NULL;

		for (x = 0; x < bpl; x++) {
			int a = x >= 3 ? o[x - 3] : 0;
			int b = up != NULL ? up[x] : 0;
			int c = (x >= 3 && up != NULL) ? up[x - 3] : 0;
			int p = a + b - c, pa = abs(p - a), pb = abs(p - b);
			int pc = abs(p - c), pred;

			switch (f[0]) {
			case 0: pred = 0; break;
			case 1: pred = a; break;
			case 2: pred = b; break;
			case 3: pred = (a + b) / 2; break;
			case 4:
				pred = (pa <= pb && pa <= pc) ? a :
				    (pb <= pc ? b : c);
				break;
			default:
				cr_assert_fail("bad filter type %d", f[0]);
			}
			o[x] = (uint8_t)(f[1 + x] + pred);
		}
	}
	free(raw);
	free(idat);
	*wp = w;
	*hp = h;
	return pix;
}

static void
r_render(const char *prompt, size_t plen, uint64_t seed, unsigned index,
    unsigned w, unsigned h, uint8_t **png, size_t *len)
{
	*png = NULL;
	cr_assert_eq(render_image(prompt, plen, seed, index, w, h, png, len),
	    0, "render %ux%u failed", w, h);
	cr_assert_not_null(*png);
	cr_assert_gt(*len, 0);
}

static int
r_same(const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
	return la == lb && memcmp(a, b, la) == 0;
}

/* Mean absolute per-channel difference of two decoded renders. */
static double
r_mean_diff(const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
	unsigned wa, ha, wb, hb;
	uint8_t *pa = r_decode(a, la, &wa, &ha);
	uint8_t *pb = r_decode(b, lb, &wb, &hb);
	size_t i, n;
	double sum = 0;

	cr_assert(wa == wb && ha == hb);
	n = (size_t)wa * ha * 3;
	for (i = 0; i < n; i++)
		sum += abs((int)pa[i] - (int)pb[i]);
	free(pa);
	free(pb);
	return sum / (double)n;
}

#define P	"a lighthouse on a cliff at sunset"

Test(render, deterministic)
{
	uint8_t *a, *b;
	size_t la, lb;
	int i;

	for (i = 0; i < 3; i++) {
		r_render(P, strlen(P), 42 + (uint64_t)i, (unsigned)i, 256, 192,
		    &a, &la);
		r_render(P, strlen(P), 42 + (uint64_t)i, (unsigned)i, 256, 192,
		    &b, &lb);
		cr_assert(r_same(a, la, b, lb), "run %d differs", i);
		free(a);
		free(b);
	}
}

Test(render, every_input_changes_the_picture)
{
	uint8_t *base, *o;
	size_t lbase, lo;
	double d;

	r_render(P, strlen(P), 7, 0, 200, 150, &base, &lbase);

	r_render(P, strlen(P), 8, 0, 200, 150, &o, &lo);
	cr_assert(!r_same(base, lbase, o, lo), "seed ignored");
	d = r_mean_diff(base, lbase, o, lo);
	cr_assert_gt(d, 8.0, "seed change barely visible: %.2f", d);
	free(o);

	r_render(P, strlen(P), 7, 1, 200, 150, &o, &lo);
	cr_assert(!r_same(base, lbase, o, lo), "index ignored");
	d = r_mean_diff(base, lbase, o, lo);
	cr_assert_gt(d, 8.0, "index change barely visible: %.2f", d);
	free(o);

	r_render(P "!", strlen(P) + 1, 7, 0, 200, 150, &o, &lo);
	cr_assert(!r_same(base, lbase, o, lo), "prompt ignored");
	d = r_mean_diff(base, lbase, o, lo);
	cr_assert_gt(d, 8.0, "prompt change barely visible: %.2f", d);
	free(o);

	/* a high seed bit and a high index bit matter too */
	r_render(P, strlen(P), 7 | (1ULL << 63), 0, 200, 150, &o, &lo);
	cr_assert(!r_same(base, lbase, o, lo), "seed bit 63 ignored");
	free(o);
	r_render(P, strlen(P), 7, 1u << 31, 200, 150, &o, &lo);
	cr_assert(!r_same(base, lbase, o, lo), "index bit 31 ignored");
	free(o);
	free(base);
}

Test(render, prompt_is_length_delimited_bytes)
{
	uint8_t *a, *b, *c;
	size_t la, lb, lc;

	/* bytes after an embedded NUL count; bytes past prompt_len do not */
	r_render("cat\0dog", 7, 1, 0, 64, 64, &a, &la);
	r_render("cat\0fox", 7, 1, 0, 64, 64, &b, &lb);
	r_render("cat\0dog-ignored", 7, 1, 0, 64, 64, &c, &lc);
	cr_assert(!r_same(a, la, b, lb));
	cr_assert(r_same(a, la, c, lc));
	free(a);
	free(b);
	free(c);

	/* an empty prompt is fine, NULL or not */
	r_render(NULL, 0, 1, 0, 64, 64, &a, &la);
	r_render("", 0, 1, 0, 64, 64, &b, &lb);
	cr_assert(r_same(a, la, b, lb));
	free(a);
	free(b);
}

Test(render, exact_dimensions)
{
	static const unsigned dims[][2] = {
		{ 1280, 720 }, { 720, 1280 }, { 1, 1 }, { 1, 300 }, { 300, 1 },
		{ 8192, 2 }, { 2, 8192 }, { 333, 77 },
	};
	struct png_info info;
	uint8_t *png, *pix;
	size_t len, i;
	unsigned w, h;

	for (i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
		r_render(P, strlen(P), 3, 2, dims[i][0], dims[i][1], &png,
		    &len);
		cr_assert_eq(png_probe(png, len, &info), 0);
		cr_assert_eq(info.kind, PNG_KIND_PNG);
		cr_assert_eq(info.width, dims[i][0]);
		cr_assert_eq(info.height, dims[i][1]);
		pix = r_decode(png, len, &w, &h);
		cr_assert_eq(w, dims[i][0]);
		cr_assert_eq(h, dims[i][1]);
		free(pix);
		free(png);
	}
}

Test(render, pictures_are_not_flat)
{
	uint8_t *png, *pix;
	size_t len, i, n;
	unsigned w, h, s, ch, lo[3], hi[3], spread;

	/* Every one of a range of seeds must give a colourful image. */
	for (s = 0; s < 24; s++) {
		r_render("mountains", 9, s, s % 4, 160, 120, &png, &len);
		pix = r_decode(png, len, &w, &h);
		n = (size_t)w * h;
		for (ch = 0; ch < 3; ch++) {
			lo[ch] = 255;
			hi[ch] = 0;
		}
		for (i = 0; i < n; i++)
			for (ch = 0; ch < 3; ch++) {
				unsigned v = pix[3 * i + ch];

				lo[ch] = v < lo[ch] ? v : lo[ch];
				hi[ch] = v > hi[ch] ? v : hi[ch];
			}
		spread = 0;
		for (ch = 0; ch < 3; ch++)
			spread += hi[ch] - lo[ch];
		cr_assert_gt(spread, 90, "seed %u nearly flat (%u)", s, spread);
		free(pix);
		free(png);
	}
}

Test(render, rejects_bad_arguments)
{
	uint8_t dummy = 0, *png = &dummy;
	size_t len = 5;

	cr_assert_eq(render_image(P, 3, 1, 0, 0, 10, &png, &len), -1);
	cr_assert_eq(render_image(P, 3, 1, 0, 10, 0, &png, &len), -1);
	cr_assert_eq(render_image(P, 3, 1, 0, RENDER_MAX_DIM + 1, 10, &png,
	    &len), -1);
	cr_assert_eq(render_image(P, 3, 1, 0, 10, RENDER_MAX_DIM + 1, &png,
	    &len), -1);
	cr_assert_eq(render_image(NULL, 3, 1, 0, 10, 10, &png, &len), -1);
	cr_assert_eq(render_image(P, 3, 1, 0, 10, 10, NULL, &len), -1);
	cr_assert_eq(render_image(P, 3, 1, 0, 10, 10, &png, NULL), -1);
	cr_assert_eq(png, &dummy);
	cr_assert_eq(len, 5);
}
