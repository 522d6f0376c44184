/*
 * Positive control for `make asan`: a planted leak and a planted overflow
 * that the sanitizer gate must report.  If the gate passes on this, the
 * gate is broken, not the code.
 */
#include <stdlib.h>
#include <string.h>

int
main(int argc, char *argv[])
{
	char	*leak = malloc(64);

	(void)argv;
	memset(leak, 'x', 64);
	leak = NULL;		/* lost: LeakSanitizer must say so */
	return argc > 100;
}
