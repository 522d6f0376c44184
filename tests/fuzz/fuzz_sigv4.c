/*
 * fuzz_sigv4 - sigv4_sign() with hostile path, query, header names and
 * values, region, service and date, into output buffers of fuzzed size.
 *
 * Input: byte 0 flags (bit 0 s3 path rules, bits 1-2 output size class),
 * then NUL-separated: method, path, query, region, service, amz_date,
 * payload hash, and up to 4 name/value header pairs after fixed host and
 * x-amz-date (and x-amz-content-sha256) headers.
 *
 * Invariants: 0 or -1 and nothing else; on 0 the outputs are NUL-terminated
 * inside their buffers and the Authorization value is the documented
 * shape; on -1 every output is "" (never a truncated value).
 */
#include "fuzz.h"

#include "sigv4.h"

#define NHDR_MAX	8

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = { 16, 200, 1024, 8192 };
	struct fuzz_in		 in;
	struct sigv4_request	 r;
	struct sigv4_header	 h[NHDR_MAX];
	const char		*name, *value;
	char			*auth, *creq, *sts;
	size_t			 n, outsz;
	unsigned		 flags;
	int			 rc;

	fuzz_in_init(&in, data, size);
	flags = fuzz_byte(&in);
	memset(&r, 0, sizeof(r));
	r.s3_path_rules = (int)(flags & 1);
	outsz = sizes[(flags >> 1) & 3];
	r.method = fuzz_field(&in);
	r.path = fuzz_field(&in);
	r.query = fuzz_field(&in);
	r.region = fuzz_field(&in);
	r.service = fuzz_field(&in);
	r.amz_date = fuzz_field(&in);
	r.payload_sha256_hex = fuzz_field(&in);
	if (r.method == NULL)
		r.method = "PUT";
	if (r.region == NULL)
		r.region = "auto";
	if (r.service == NULL)
		r.service = "s3";
	if (r.amz_date == NULL)
		r.amz_date = "20240101T000000Z";
	if (r.payload_sha256_hex == NULL)
		r.payload_sha256_hex = SIGV4_EMPTY_SHA256;
	n = 0;
	h[n].name = "Host";
	h[n++].value = "bucket.example.r2.cloudflarestorage.com";
	h[n].name = "x-amz-date";
	h[n++].value = r.amz_date;
	h[n].name = "x-amz-content-sha256";
	h[n++].value = r.payload_sha256_hex;
	while (n + 1 < NHDR_MAX && (name = fuzz_field(&in)) != NULL) {
		value = fuzz_field(&in);
		h[n].name = name;
		h[n++].value = value ? value : "";
	}
	r.headers = h;
	r.nheaders = n;
	if ((auth = malloc(outsz)) == NULL || (creq = malloc(outsz)) == NULL ||
	    (sts = malloc(outsz)) == NULL)
		abort();
	memset(auth, 'x', outsz);
	memset(creq, 'x', outsz);
	memset(sts, 'x', outsz);
	rc = sigv4_sign(&r, "AKIDEXAMPLE",
	    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", auth, outsz, creq,
	    outsz, sts, outsz);
	FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
	FUZZ_CHECK(memchr(auth, '\0', outsz) && memchr(creq, '\0', outsz) &&
	    memchr(sts, '\0', outsz), "an output is not terminated");
	if (rc == -1)
		FUZZ_CHECK(auth[0] == '\0' && creq[0] == '\0' && sts[0] == '\0',
		    "partial output on failure");
	else
		FUZZ_CHECK(strncmp(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/",
		    40) == 0 && strstr(auth, ", Signature=") != NULL &&
		    strlen(strstr(auth, ", Signature=")) == 12 + 64,
		    "authorization: %s", auth);
	free(auth);
	free(creq);
	free(sts);
	fuzz_in_release(&in);
	return 0;
}
