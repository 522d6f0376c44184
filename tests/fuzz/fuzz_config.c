/*
 * fuzz_config - config_load() reading the KEY=VALUE file named by
 * IMGGEN_CONFIG; the input is the file's content.  Every configuration key
 * is removed from the environment first, so the file alone decides.
 *
 * Invariants: 0 with no problem lines, or -1 with at least one; problem
 * lines are "config: ..." lines, bounded, and never quote the value of a
 * secret key (those config_print() masks: DATABASE_URL, API keys, S3
 * credentials, JWT and webhook keys), even an invalid one;
 * config_release() frees everything (LeakSanitizer checks).
 */
#include "fuzz.h"

#include <unistd.h>

#include "config.h"

static char	 fuzz_path[256];
static int	 fuzz_fd = -1;

/*
 * The configuration's keys and which of them are secret, read at start-up
 * from config_print() (secrets print as ***), so that keys added later are
 * covered without touching this file.
 */
#define MAX_KEYS	128
static char	*keys[MAX_KEYS], *secrets[MAX_KEYS];
static size_t	 nkeys, nsecrets;

static void
learn_keys(void)
{
	struct config	 cfg;
	struct buf	 problems = BUF_INIT(64 * 1024);
	char		*text = NULL, *line, *eq, *next;
	size_t		 len = 0;
	FILE		*fp;

	setenv("IMGGEN_CONFIG", "/dev/null", 1);
	if (config_load(&cfg, &problems) == -1) {
		fprintf(stderr, "fuzz_config: defaults: %s", buf_cstr(&problems));
		abort();
	}
	if ((fp = open_memstream(&text, &len)) == NULL)
		abort();
	config_print(&cfg, fp);
	fclose(fp);
	for (line = text; line && *line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((eq = strchr(line, '=')) == NULL || nkeys == MAX_KEYS)
			continue;
		*eq = '\0';
		if ((keys[nkeys++] = strdup(line)) == NULL)
			abort();
		if (strcmp(eq + 1, "***") == 0)
			secrets[nsecrets++] = keys[nkeys - 1];
	}
	free(text);
	config_release(&cfg);
	buf_free(&problems);
	if (nkeys < 10 || nsecrets < 3)
		abort();
}

static void
fuzz_cleanup(void)
{
	if (fuzz_path[0] != '\0')
		unlink(fuzz_path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*tmp = getenv("TMPDIR");
	size_t		 i;

	(void)argc;
	(void)argv;
	learn_keys();
	for (i = 0; i < nkeys; i++)
		unsetenv(keys[i]);
	snprintf(fuzz_path, sizeof(fuzz_path), "%s/imggen-fuzz-config.XXXXXX",
	    tmp && *tmp ? tmp : "/tmp");
	if ((fuzz_fd = mkstemp(fuzz_path)) == -1) {
		perror(fuzz_path);
		abort();
	}
	atexit(fuzz_cleanup);
	setenv("IMGGEN_CONFIG", fuzz_path, 1);
	return 0;
}

static size_t
occurrences(const uint8_t *data, size_t size, const char *s)
{
	size_t	 n = strlen(s), i, c = 0;

	for (i = 0; i + n <= size; i++)
		if (memcmp(data + i, s, n) == 0)
			c++;
	return c;
}

/*
 * Is a secret's value (as config.c reads it from the file) quoted in the
 * problems, the way an invalid value is?  Values of 4 bytes or more are
 * looked for, unless they also occur elsewhere in the file (where a
 * non-secret key may legitimately have them printed).
 */
static void
check_no_secret(const uint8_t *data, size_t size, const char *problems)
{
	const char	*line, *end, *eq, *v;
	char		 val[4096 + 3];
	size_t		 i, klen, n;

	for (line = (const char *)data; line < (const char *)data + size;
	    line = end + 1) {
		end = memchr(line, '\n', (size_t)((const char *)data + size -
		    line));
		if (end == NULL)
			end = (const char *)data + size;
		while (line < end && (*line == ' ' || *line == '\t'))
			line++;
		if (end - line > 7 && strncmp(line, "export ", 7) == 0)
			line += 7;
		for (i = 0; i < nsecrets; i++) {
			klen = strlen(secrets[i]);
			if ((size_t)(end - line) <= klen ||
			    strncmp(line, secrets[i], klen) != 0)
				continue;
			for (eq = line + klen; eq < end && (*eq == ' ' ||
			    *eq == '\t'); eq++)
				;
			if (eq >= end || *eq != '=')
				continue;
			for (v = eq + 1; v < end && (*v == ' ' || *v == '\t');
			    v++)
				;
			/* As config.c reads it: blanks and one pair of quotes off. */
			n = (size_t)(end - v);
			if (n > 0 && v[n - 1] == '\r')
				n--;
			while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n >= 2 && (v[0] == '"' || v[0] == '\'') &&
			    v[n - 1] == v[0]) {
				v++;
				n -= 2;
			}
			/* Quoted, as an invalid value would be printed. */
			if (n < 4 || n + 3 > sizeof(val) ||
			    memchr(v, '\0', n) != NULL)
				continue;
			val[0] = '"';
			memcpy(val + 1, v, n);
			val[n + 1] = '"';
			val[n + 2] = '\0';
			/* Also elsewhere in the file, e.g. a non-secret value. */
			val[n + 1] = '\0';
			if (occurrences(data, size, val + 1) > 1)
				continue;
			val[n + 1] = '"';
			FUZZ_CHECK(strstr(problems, val) == NULL,
			    "the value of %s is in the problems: %s",
			    secrets[i], problems);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 cfg;
	struct buf	 problems = BUF_INIT(64 * 1024);
	const char	*p;
	int		 rc;

	if (ftruncate(fuzz_fd, 0) == -1 ||
	    pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
		abort();
	rc = config_load(&cfg, &problems);
	p = buf_cstr(&problems);
	FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
	if (rc == 0)
		FUZZ_CHECK(problems.len == 0, "success with problems: %s", p);
	else
		FUZZ_CHECK(problems.len > 0 && strncmp(p, "config: ", 8) == 0,
		    "failure without a problem line: %s", p);
	FUZZ_CHECK(buf_ok(&problems), "problems overflowed 64 KiB");
	if (rc == 0)
		FUZZ_CHECK(cfg.database_url && cfg.provider && cfg.storage &&
		    cfg.max_attempts >= 1 && cfg.lease_seconds >= 5,
		    "loaded without its defaults");
	check_no_secret(data, size, p);
	config_release(&cfg);
	buf_free(&problems);
	return 0;
}
