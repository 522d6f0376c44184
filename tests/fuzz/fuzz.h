/*
 * fuzz.h - shared by the libFuzzer harnesses in tests/fuzz/ (one per
 * parser of outside input; see docs/security.md, "Fuzzing").
 *
 * Each harness defines LLVMFuzzerTestOneInput() and checks, besides "no
 * sanitizer report", the contract of what it fuzzes with FUZZ_CHECK():
 * a broken invariant aborts, which libFuzzer reports as a crash and saves
 * as a reproducer.  Helpers here are static inline so that every harness
 * is one translation unit.
 */
#ifndef IG_FUZZ_H
#define IG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "config.h"
#include "utf8.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz invariant broken at %s:%d: %s: ",	\
		    __FILE__, __LINE__, #cond);				\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/*
 * A splitter of the input into NUL-separated fields: each call returns the
 * next field as a NUL-terminated string (copied into `store`), or NULL
 * when the input is used up.  fuzz_rest() returns what is left, raw.
 */
struct fuzz_in {
	const uint8_t	*p;
	size_t		 left;
	char		*store[16];
	int		 n;
};

static inline void
fuzz_in_init(struct fuzz_in *in, const uint8_t *data, size_t size)
{
	memset(in, 0, sizeof(*in));
	in->p = data;
	in->left = size;
}

static inline const char *
fuzz_field(struct fuzz_in *in)
{
	const uint8_t	*nul;
	size_t		 n;
	char		*f;

	if (in->left == 0 || in->n >= (int)(sizeof(in->store) /
	    sizeof(in->store[0])))
		return NULL;
	nul = memchr(in->p, '\0', in->left);
	n = nul ? (size_t)(nul - in->p) : in->left;
	/* An exact-size copy: ASan sees any read past the terminator. */
	if ((f = malloc(n + 1)) == NULL)
		abort();
	memcpy(f, in->p, n);
	f[n] = '\0';
	in->store[in->n++] = f;
	in->p += nul ? n + 1 : n;
	in->left -= nul ? n + 1 : n;
	return f;
}

static inline const uint8_t *
fuzz_rest(struct fuzz_in *in, size_t *len)
{
	*len = in->left;
	return in->p;
}

static inline void
fuzz_in_release(struct fuzz_in *in)
{
	int	 i;

	for (i = 0; i < in->n; i++)
		free(in->store[i]);
}

/*
 * The configuration defaults (IMGGEN_CONFIG=/dev/null: no file; the
 * environment still applies, so run the harnesses without IMGGEN_* set),
 * with the JWT secret and webhook key of the harnesses.  Never released.
 */
static inline void
fuzz_config_defaults(struct config *cfg)
{
	struct buf	 problems = BUF_INIT(64 * 1024);

	setenv("IMGGEN_CONFIG", "/dev/null", 1);
	if (config_load(cfg, &problems) == -1) {
		fprintf(stderr, "fuzz: configuration: %s", buf_cstr(&problems));
		abort();
	}
	buf_free(&problems);
	free(cfg->jwt_secret);
	free(cfg->webhook_key);
	cfg->jwt_secret = strdup("fuzz-secret-0123456789abcdef-0123456789");
	cfg->webhook_key = strdup("fuzz-webhook-key-0123456789abcdef-0123");
	if (cfg->jwt_secret == NULL || cfg->webhook_key == NULL)
		abort();
}

/* One byte of the input, or 0 when it is used up. */
static inline unsigned
fuzz_byte(struct fuzz_in *in)
{
	unsigned	 c;

	if (in->left == 0)
		return 0;
	c = in->p[0];
	in->p++;
	in->left--;
	return c;
}

/* Whether [s, s + len) is one JSON value (strict, whole) in valid UTF-8. */
static inline int
fuzz_is_json(const char *s, size_t len)
{
	struct json_tokener	*tok;
	struct json_object	*o;
	int			 ok;

	if (s == NULL || len == 0 || memchr(s, '\0', len) != NULL ||
	    utf8_count(s, len) < 0 || len > 0x7fffffff)
		return 0;
	if ((tok = json_tokener_new()) == NULL)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, s, (int)len);
	ok = o != NULL && json_tokener_get_error(tok) == json_tokener_success &&
	    json_tokener_get_parse_end(tok) == len;
	json_object_put(o);
	json_tokener_free(tok);
	return ok;
}

#endif
