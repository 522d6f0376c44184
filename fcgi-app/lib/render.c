/*
 * render.c - deterministic procedural art for the "local" provider.
 * See render.h for the contract.
 *
 * Pipeline, one row at a time into a small float row buffer:
 *   1. three sine waves (two of them domain-warped by two more) summed
 *      and mapped through a cosine palette;
 *   2. a few soft blobs (quartic falloff, no sqrt);
 *   3. up to two wavy horizon bands with a soft edge;
 *   4. a vertical sky-gradient tint, vignette, store as RGB8.
 * Sines in the pixel loop come from a table indexed by 32-bit fixed-point
 * phases, so moving one pixel right is one integer add per wave.  No libm:
 * the tables are built with a polynomial sine, which keeps the output the
 * same on any C17 compiler that does IEEE float without contraction.
 */
#include "render.h"
#include "png.h"

#include <stdlib.h>
#include <string.h>

#define SIN_BITS	12
#define SIN_SIZE	(1u << SIN_BITS)
#define SIN_SHIFT	(32 - SIN_BITS)
#define SIN_AMP		32767
#define PAL_SHIFT	8	/* sum of 3 sines, [0, 6A], >> 8 -> index */
#define PAL_SIZE	((6u * SIN_AMP >> PAL_SHIFT) + 1)
#define MAX_BLOBS	6
#define MAX_BANDS	2
#define NWAVES		5	/* 0..2 summed; 3, 4 warp 0, 2 */

#define PI_D		3.14159265358979323846
#define TWO_PI_D	6.28318530717958647692
#define TWO_POW_32	4294967296.0

struct blob {
	float	 cx, cy, r, r2, inv_r2;
	float	 opacity;
	float	 col[3];
};

struct band {
	float	 base, amp;		/* pixels */
	uint32_t fx, ph;		/* boundary wave along x */
	float	 inv_soft;		/* 1 / edge width in pixels */
	float	 opacity;
	float	 col[3];
	float	 shade;		/* darkening per pixel below edge */
};

struct scene {
	int16_t	 sintab[SIN_SIZE];
	float	 pal[PAL_SIZE][4];	/* RGB_, times 1 - sky amount */
	uint32_t ax[NWAVES], ay[NWAVES], ph[NWAVES];
	uint32_t warp[2];		/* phase units per sine unit */
	float	 top[3], bottom[3];	/* sky, times sky amount */
	float	 vignette;
	int	 nblobs, nbands;
	struct blob blob[MAX_BLOBS];
	struct band band[MAX_BANDS];
};

/* ---- hashing and random numbers ---- */

static uint64_t
fnv1a(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	return mix64(*s);
}

/* uniform in [0, 1) */
static double
rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double
rng_range(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * rng_unit(s);
}

/* ---- maths without libm ---- */

/*
 * sin(x) by range reduction to [-pi/2, pi/2] and a degree-13 Taylor
 * polynomial (error < 1e-11 there): plenty for 16-bit tables and 8-bit
 * colour, and bit-reproducible because it is plain IEEE arithmetic.
 */
static double
poly_sin(double x)
{
	double k, x2;

	k = x / TWO_PI_D;
	k = (double)(int64_t)(k >= 0 ? k + 0.5 : k - 0.5);
	x -= k * TWO_PI_D;
	if (x > PI_D / 2)
		x = PI_D - x;
	else if (x < -PI_D / 2)
		x = -PI_D - x;
	x2 = x * x;
	return x * (1 - x2 / 6 * (1 - x2 / 20 * (1 - x2 / 42 * (1 -
	    x2 / 72 * (1 - x2 / 110 * (1 - x2 / 156))))));
}

static double
poly_cos(double x)
{
	return poly_sin(x + PI_D / 2);
}

static double
clamp01(double v)
{
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* Phase step for `cycles` periods across `span` pixels, wrapping mod 2^32. */
static uint32_t
phase_step(double cycles, double span)
{
	return (uint32_t)(int64_t)(cycles * TWO_POW_32 / span);
}

/* ---- scene set-up ---- */

static void
build_palette(struct scene *sc, uint64_t *rs, float keep)
{
	double a[3], b[3], c[3], d[3], cbase, t;
	unsigned i, ch;

	/*
	 * Inigo Quilez's cosine palette a + b*cos(2pi(c*t + d)): a shared
	 * base frequency with small per-channel drift keeps the colours
	 * related instead of a rainbow.
	 */
	cbase = rng_range(rs, 0.5, 1.6);
	for (ch = 0; ch < 3; ch++) {
		a[ch] = rng_range(rs, 0.35, 0.65);
		b[ch] = rng_range(rs, 0.25, 0.5);
		c[ch] = cbase * rng_range(rs, 0.8, 1.25);
		d[ch] = rng_unit(rs);
	}
	for (i = 0; i < PAL_SIZE; i++) {
		t = (double)i / (PAL_SIZE - 1);
		for (ch = 0; ch < 3; ch++)
			sc->pal[i][ch] = (float)(255.0 * keep * clamp01(a[ch] +
			    b[ch] * poly_cos(TWO_PI_D * (c[ch] * t + d[ch]))));
		sc->pal[i][3] = 0;	/* pad: a pixel is one 16-byte copy */
	}
}

/*
 * A random palette colour, brightened (f > 1) or darkened (f < 1), then
 * scaled: by keep for things painted over the plasma, by the sky amount
 * for the sky, so that any blend plus the sky stays within 255.
 */
static void
pick_colour(const struct scene *sc, uint64_t *rs, float keep, double f,
    double scale, float out[3])
{
	unsigned i = (unsigned)(rng_unit(rs) * PAL_SIZE), ch;
	double v;

	for (ch = 0; ch < 3; ch++) {
		v = sc->pal[i][ch] / keep * f;
		out[ch] = (float)((v > 255 ? 255 : v) * scale);
	}
}

static void
build_scene(struct scene *sc, uint64_t h, unsigned w, unsigned ht)
{
	uint64_t rs = h;
	double span, cycles, theta, amt;
	float keep;
	unsigned i;
	int k;

	for (i = 0; i < SIN_SIZE; i++)
		sc->sintab[i] = (int16_t)(int32_t)(SIN_AMP *
		    poly_sin(TWO_PI_D * i / SIN_SIZE) + (i < SIN_SIZE / 2 ?
		    0.5 : -0.5));

	/* Normalise by the long side so shapes keep scale across sizes. */
	span = w > ht ? w : ht;

	amt = rng_range(&rs, 0.12, 0.4);
	keep = (float)(1.0 - amt);
	build_palette(sc, &rs, keep);

	for (i = 0; i < NWAVES; i++) {
		cycles = i < 3 ? rng_range(&rs, 0.4, 2.2) :
		    rng_range(&rs, 0.5, 3.0);
		theta = rng_range(&rs, 0, TWO_PI_D);
		sc->ax[i] = phase_step(cycles * poly_cos(theta), span);
		sc->ay[i] = phase_step(cycles * poly_sin(theta), span);
		sc->ph[i] = (uint32_t)rng_next(&rs);
	}
	for (i = 0; i < 2; i++)
		sc->warp[i] = (uint32_t)(rng_range(&rs, 0.05, 0.45) *
		    TWO_POW_32 / SIN_AMP);

	pick_colour(sc, &rs, keep, rng_range(&rs, 0.6, 1.3), amt, sc->top);
	pick_colour(sc, &rs, keep, rng_range(&rs, 0.3, 0.9), amt,
	    sc->bottom);

	sc->nblobs = 2 + (int)(rng_next(&rs) % (MAX_BLOBS - 1));
	for (k = 0; k < sc->nblobs; k++) {
		struct blob *b = &sc->blob[k];
		double r = rng_range(&rs, 0.06, 0.3) * span;

		if (r < 1.5)
			r = 1.5;
		b->cx = (float)(rng_unit(&rs) * w);
		b->cy = (float)(rng_unit(&rs) * ht);
		b->r = (float)r;
		b->r2 = (float)(r * r);
		b->inv_r2 = (float)(1.0 / (r * r));
		b->opacity = (float)rng_range(&rs, 0.25, 0.75);
		pick_colour(sc, &rs, keep, rng_range(&rs, 0.9, 1.6), keep,
		    b->col);
	}

	sc->nbands = (int)(rng_next(&rs) % (MAX_BANDS + 1));
	for (k = 0; k < sc->nbands; k++) {
		struct band *bd = &sc->band[k];
		double soft;

		/* The later band sits lower and darker: a nearer hill. */
		bd->base = (float)(ht * (k == 0 ? rng_range(&rs, 0.5, 0.7) :
		    rng_range(&rs, 0.7, 0.88)));
		bd->amp = (float)(ht * rng_range(&rs, 0.02, 0.09));
		bd->fx = phase_step(rng_range(&rs, 0.5, 3.5), span);
		bd->ph = (uint32_t)rng_next(&rs);
		soft = span * rng_range(&rs, 0.004, 0.03);
		bd->inv_soft = (float)(1.0 / (soft < 1 ? 1 : soft));
		bd->opacity = (float)rng_range(&rs, 0.45, 0.85);
		pick_colour(sc, &rs, keep, k == 0 ? 0.7 : 0.4, keep, bd->col);
		bd->shade = (float)(rng_range(&rs, 0.2, 0.6) / ht);
	}

	sc->vignette = (float)rng_range(&rs, 0.1, 0.45);
}

/* ---- per-row drawing ---- */

static void
draw_base(const struct scene *sc, float *row, unsigned w, unsigned y)
{
	uint32_t p0, p1, p2, p3, p4;
	unsigned x;

	p0 = sc->ph[0] + sc->ay[0] * y;
	p1 = sc->ph[1] + sc->ay[1] * y;
	p2 = sc->ph[2] + sc->ay[2] * y;
	p3 = sc->ph[3] + sc->ay[3] * y;
	p4 = sc->ph[4] + sc->ay[4] * y;
	for (x = 0; x < w; x++) {
		int32_t s3 = sc->sintab[p3 >> SIN_SHIFT];
		int32_t s4 = sc->sintab[p4 >> SIN_SHIFT];
		/* Unsigned multiply wraps, i.e. a signed phase offset. */
		uint32_t q0 = p0 + (uint32_t)s3 * sc->warp[0];
		uint32_t q2 = p2 + (uint32_t)s4 * sc->warp[1];
		int32_t v = sc->sintab[q0 >> SIN_SHIFT] +
		    sc->sintab[p1 >> SIN_SHIFT] + sc->sintab[q2 >> SIN_SHIFT];

		memcpy(row + 4 * x, sc->pal[(v + 3 * SIN_AMP) >> PAL_SHIFT],
		    4 * sizeof(float));
		p0 += sc->ax[0];
		p1 += sc->ax[1];
		p2 += sc->ax[2];
		p3 += sc->ax[3];
		p4 += sc->ax[4];
	}
}

static void
draw_blobs(const struct scene *sc, float *row, unsigned w, unsigned y)
{
	float fy = (float)y + 0.5f, dy, dy2, dx, d2, f, a, *o;
	long x0, x1, x;
	int k;

	for (k = 0; k < sc->nblobs; k++) {
		const struct blob *b = &sc->blob[k];

		dy = fy - b->cy;
		dy2 = dy * dy;
		if (dy2 >= b->r2)
			continue;
		x0 = (long)(b->cx - b->r);
		x1 = (long)(b->cx + b->r) + 1;
		if (x0 < 0)
			x0 = 0;
		if (x1 > (long)w)
			x1 = (long)w;
		for (x = x0; x < x1; x++) {
			dx = (float)x + 0.5f - b->cx;
			d2 = dx * dx + dy2;
			if (d2 >= b->r2)
				continue;
			f = 1.0f - d2 * b->inv_r2;
			a = b->opacity * f * f;
			o = row + 4 * x;
			o[0] += (b->col[0] - o[0]) * a;
			o[1] += (b->col[1] - o[1]) * a;
			o[2] += (b->col[2] - o[2]) * a;
		}
	}
}

static void
draw_bands(const struct scene *sc, float *row, const float *edges,
    unsigned w, unsigned y)
{
	float fy = (float)y + 0.5f, d, s, a, *o;
	unsigned x;
	int k;

	for (k = 0; k < sc->nbands; k++) {
		const struct band *bd = &sc->band[k];
		const float *edge = edges + (size_t)k * w;

		if (fy <= bd->base - bd->amp)
			continue;	/* the whole row is above the ridge */
		for (x = 0; x < w; x++) {
			d = fy - edge[x];
			if (d <= 0)
				continue;
			s = d * bd->inv_soft;
			s = s >= 1 ? 1 : s * s * (3 - 2 * s);
			a = bd->opacity * s;
			/* Deeper below the ridge is darker: cheap depth cue. */
			s = 1 - d * bd->shade;
			s = s < 0.3f ? 0.3f : s;
			o = row + 4 * x;
			o[0] += (bd->col[0] * s - o[0]) * a;
			o[1] += (bd->col[1] * s - o[1]) * a;
			o[2] += (bd->col[2] * s - o[2]) * a;
		}
	}
}

/*
 * Every stage only blends between colours in [0, 255], the palette and
 * the sky tint are scaled to sum to at most 255, and the vignette factor
 * is in (0, 1]; so v = value + 0.5 is in [0.5, 255.5] up to float
 * rounding.  Truncation therefore never goes below 0, and the one clamp
 * catches a rounding spill to 256.
 */
static uint8_t
to_u8(float v)
{
	int i = (int)v;

	return (uint8_t)(i > 255 ? 255 : i);
}

/* Adds the sky tint, applies the vignette and packs RGB_ floats to RGB8. */
static void
store_row(const float *row, const float *vx, float vy, const float sky[3],
    uint8_t *out, unsigned w)
{
	unsigned x;
	float f;

	for (x = 0; x < w; x++, row += 4, out += 3) {
		f = vx[x] - vy;
		out[0] = to_u8((row[0] + sky[0]) * f + 0.5f);
		out[1] = to_u8((row[1] + sky[1]) * f + 0.5f);
		out[2] = to_u8((row[2] + sky[2]) * f + 0.5f);
	}
}

int
render_image(const char *prompt, size_t prompt_len, uint64_t seed,
    unsigned index, unsigned width, unsigned height, uint8_t **png,
    size_t *pnglen)
{
	struct scene *sc;
	uint8_t *pix, le[12];
	float *row, *vx, *edges, sky[3], vy, t, half;
	uint64_t h;
	size_t i;
	unsigned x, y, ch;
	int k, rc;

	if (png == NULL || pnglen == NULL || (prompt == NULL && prompt_len > 0))
		return -1;
	if (width == 0 || height == 0 || width > RENDER_MAX_DIM ||
	    height > RENDER_MAX_DIM)
		return -1;

	/* Fixed little-endian bytes so the hash does not depend on the host. */
	for (i = 0; i < 8; i++)
		le[i] = (uint8_t)(seed >> (8 * i));
	for (i = 0; i < 4; i++)
		le[8 + i] = (uint8_t)(index >> (8 * i));
	h = fnv1a(0xcbf29ce484222325ULL, prompt, prompt_len);
	h = mix64(fnv1a(h, le, sizeof(le)));

	sc = malloc(sizeof(*sc));
	pix = malloc((size_t)width * height * 3);
	/* row (4w) + vignette column term (w) + band edges (MAX_BANDS * w) */
	row = malloc((size_t)width * (5 + MAX_BANDS) * sizeof(float));
	if (sc == NULL || pix == NULL || row == NULL) {
		rc = -1;
		goto out;
	}
	vx = row + (size_t)width * 4;
	edges = vx + width;

	build_scene(sc, h, width, height);

	half = (float)((width > height ? width : height) / 2.0);
	for (x = 0; x < width; x++) {
		t = ((float)x + 0.5f - (float)width / 2) / half;
		vx[x] = 1.0f - sc->vignette * t * t;
	}
	for (k = 0; k < sc->nbands; k++) {
		const struct band *bd = &sc->band[k];
		uint32_t p = bd->ph;

		for (x = 0; x < width; x++, p += bd->fx)
			edges[(size_t)k * width + x] = bd->base + bd->amp *
			    (float)sc->sintab[p >> SIN_SHIFT] / SIN_AMP;
	}

	for (y = 0; y < height; y++) {
		t = height > 1 ? (float)y / (float)(height - 1) : 0;
		for (ch = 0; ch < 3; ch++)
			sky[ch] = sc->top[ch] + (sc->bottom[ch] - sc->top[ch]) *
			    t;
		draw_base(sc, row, width, y);
		draw_blobs(sc, row, width, y);
		draw_bands(sc, row, edges, width, y);
		t = ((float)y + 0.5f - (float)height / 2) / half;
		vy = sc->vignette * t * t;
		store_row(row, vx, vy, sky, pix + (size_t)y * width * 3,
		    width);
	}

	rc = png_encode_rgb(pix, width, height, png, pnglen);
out:
	free(row);
	free(pix);
	free(sc);
	return rc;
}
