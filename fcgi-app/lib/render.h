/*
 * render.h - the "local" provider's deterministic procedural renderer.
 *
 * render_image() paints an abstract picture (domain-warped plasma through
 * a cosine palette, a sky gradient, soft glowing blobs, wavy horizon bands
 * and a vignette) whose every parameter comes from a 64-bit hash of
 * (prompt, seed, index), and returns it PNG-encoded.  It is honest
 * procedural art, not a generative model: the prompt only seeds the hash.
 * Same inputs give byte-identical output from the same build; different
 * prompts, seeds or indexes give visibly different images.
 *
 * Ownership: *png is allocated with malloc() and belongs to the caller,
 * who must free() it.  The prompt is only read, never kept.
 *
 * Errors: returns 0 on success, -1 on bad arguments (NULL output pointers,
 * prompt NULL with prompt_len > 0, width or height outside
 * 1..RENDER_MAX_DIM) or allocation / encoder failure; on failure *png and
 * *pnglen are untouched.  Never exits or prints.
 *
 * Threads / fork: no global or static mutable state; reentrant and safe
 * from any number of threads and after fork().  Needs about
 * width * height * 3 bytes of heap for the pixel buffer plus the PNG.
 */
#ifndef IG_RENDER_H
#define IG_RENDER_H

#include <stddef.h>
#include <stdint.h>

/* Largest width or height render_image() accepts. */
#define RENDER_MAX_DIM 8192u

/*
 * Render image number `index` of a generation from (prompt, seed, index)
 * as a width x height RGB PNG.  The prompt is prompt_len raw bytes (NUL
 * bytes allowed, no terminator needed).  Returns 0 and sets *png / *pnglen,
 * or -1 on failure.
 */
int render_image(const char *prompt, size_t prompt_len, uint64_t seed,
    unsigned index, unsigned width, unsigned height, uint8_t **png,
    size_t *pnglen);

#endif /* IG_RENDER_H */
