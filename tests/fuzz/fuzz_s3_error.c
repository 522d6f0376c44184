/*
 * fuzz_s3_error - storage_s3_check_put(), which reads the <Error><Code>
 * of an S3 (R2, MinIO) answer to an upload.
 *
 * Input: bytes 0-1 the status (0..699, so invalid ones too), the rest the
 * body (not NUL-terminated: the parser takes a length).
 *
 * Invariants: 2xx is success and nothing else is; 5xx, 408, 429 and
 * invalid statuses are retryable; the message is printable ASCII and
 * carries at most an identifier-like code from the body.
 */
#include "fuzz.h"

#include "storage.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ig_err	 err = IG_ERR_INIT;
	long		 status;
	char		*body;
	const char	*s;
	size_t		 len;
	int		 rc;

	if (size < 2)
		return 0;
	status = (long)((data[0] << 8 | data[1]) % 700);
	len = size - 2;
	if ((body = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(body, data + 2, len);
	rc = storage_s3_check_put(status, 3, len ? body : NULL, len, &err);
	if (status >= 200 && status <= 299)
		FUZZ_CHECK(rc == 0, "2xx %ld failed: %s", status, err.msg);
	else {
		FUZZ_CHECK(rc == -1, "status %ld succeeded", status);
		FUZZ_CHECK(err.code == IG_ETRANSIENT ||
		    err.code == IG_EPERMANENT, "class %d", err.code);
		if (status >= 500 || status == 408 || status == 429 ||
		    status < 100 || status > 599)
			FUZZ_CHECK(err.code == IG_ETRANSIENT,
			    "status %ld permanent", status);
		for (s = err.msg; *s != '\0'; s++)
			FUZZ_CHECK((unsigned char)*s >= 0x20 &&
			    (unsigned char)*s < 0x7f, "unprintable message");
		FUZZ_CHECK(strchr(err.msg, '<') == NULL &&
		    strchr(err.msg, '>') == NULL, "markup in the message: %s",
		    err.msg);
	}
	free(body);
	return 0;
}
