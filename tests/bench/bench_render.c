/*
 * bench_render: images per second of the local renderer (render_image, the
 * embedded default provider's whole cost per image: painting plus PNG
 * encoding), on one thread.
 *
 *   bench-render WIDTHxHEIGHT SECONDS
 *
 * Renders image after image (index 0, 1, 2, ... of one prompt, as a job with
 * several images does) until SECONDS have passed, at least 2 images, and
 * prints one line for tests/bench/run.sh:
 *   RENDER width=W height=H images=N seconds=S per_s=R png_bytes=B
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "render.h"

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	static const char prompt[] = "a lighthouse on a cliff at dusk, "
	    "oil painting";
	unsigned long	 w, h;
	double		 secs, t0, t;
	char		*end;
	uint8_t		*png;
	size_t		 pnglen, bytes = 0;
	unsigned	 n = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: bench-render WIDTHxHEIGHT SECONDS\n");
		return 2;
	}
	w = strtoul(argv[1], &end, 10);
	if (*end != 'x' || w == 0 || w > RENDER_MAX_DIM)
		goto bad;
	h = strtoul(end + 1, &end, 10);
	if (*end != '\0' || h == 0 || h > RENDER_MAX_DIM)
		goto bad;
	secs = strtod(argv[2], &end);
	if (*end != '\0' || secs <= 0)
		goto bad;
	t0 = now_s();
	do {
		if (render_image(prompt, sizeof(prompt) - 1, 42, n,
		    (unsigned)w, (unsigned)h, &png, &pnglen) == -1) {
			fprintf(stderr, "bench-render: render_image failed\n");
			return 1;
		}
		bytes += pnglen;
		free(png);
		n++;
		t = now_s();
	} while (t - t0 < secs || n < 2);
	printf("RENDER width=%lu height=%lu images=%u seconds=%.3f per_s=%.3f "
	    "png_bytes=%zu\n", w, h, n, t - t0, (double)n / (t - t0),
	    bytes / n);
	return 0;
bad:
	fprintf(stderr, "bench-render: bad arguments\n");
	return 2;
}
