/*
 * AWS Signature Version 4 for S3, as pure functions: no clock, no I/O, no global state. The time
 * is passed in, so tests reproduce AWS's published vectors byte for byte. S3 rules apply: the path
 * is never normalised and is URI-encoded exactly once. Secrets (the secret key and derived signing
 * keys) are wiped after use and never appear in any output except the final signature.
 *
 * Every function that fills a struct buf appends to it (it never resets it), and on failure leaves
 * it as it was. Invalid arguments are programmer errors: they fail with JR_E_INTERNAL.
 */
#ifndef JR_S3_SIGV4_H
#define JR_S3_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct buf;
struct jr_err;

/* The payload hash S3 accepts instead of the body's SHA-256 (always used by presigned URLs). */
#define S3_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* The longest validity S3 accepts for a presigned URL: 7 days, in seconds. */
#define S3_SIGV4_EXPIRES_MAX 604800u

/* One HTTP header to sign. Names in any case; values raw (they are trimmed and folded here). */
struct s3_sigv4_header {
    const char *name;
    const char *value;
};

/* The request as it will be sent. All strings borrowed. */
struct s3_sigv4_request {
    const char *method; /* "GET", "PUT", ... */
    const char *path;   /* raw, NOT encoded: "/bucket/my key+1.csv"; encoded once while signing */
    const char *query;  /* the query string as sent, without '?': "list-type=2&prefix=a%2Fb";
                           "" or NULL for none. Parameters are decoded, re-encoded and sorted. */
    const struct s3_sigv4_header *headers; /* must include host, x-amz-date and (for S3)
                                              x-amz-content-sha256; repeated names are joined */
    size_t nheaders;
    const char *payload_hash; /* lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
};

struct s3_sigv4_credentials {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL when none; when set the caller must also send (and list in
                                  headers) x-amz-security-token */
};

/* Format t as the x-amz-date value "YYYYMMDDTHHMMSSZ" into out (at least 17 bytes). t must lie in
 * the years 0000..9999 (asserted); the functions below that take a time check it and fail. */
void s3_sigv4_amz_date(time_t t, char out[17]);

/*
 * Append the URI encoding of s[0..len) to out: every byte except A-Z a-z 0-9 - . _ ~ becomes %XX
 * (uppercase hex); '/' is kept when keep_slash is true (paths) and encoded otherwise (query
 * values).
 */
void s3_sigv4_uri_encode(struct buf *out, const char *s, size_t len, bool keep_slash);

/* Write the lowercase hex SHA-256 of data[0..len) into out (65 bytes with NUL): the payload hash
 * of a body, for payload_hash and x-amz-content-sha256. Returns -1 (JR_E_INTERNAL) if libcrypto
 * fails. */
int s3_sigv4_sha256_hex(const void *data, size_t len, char out[65], struct jr_err *err);

/* Build the canonical request (no trailing newline) into out, and the signed-headers list
 * ("host;x-amz-content-sha256;x-amz-date") into signed_headers. Every header given is signed.
 * Returns -1 on a malformed request, setting err: missing method, path not starting with '/', no
 * host header, an invalid header name, a NULL payload_hash, a bad %-escape in the query, or a
 * literal '+' in the query (ambiguous: S3 may read it as a space; send %2B or %20 instead). */
int s3_sigv4_canonical_request(const struct s3_sigv4_request *req, struct buf *out,
                               struct buf *signed_headers, struct jr_err *err);

/* Build the string to sign (no trailing newline) for a canonical request at time t. Aborts if
 * libcrypto cannot compute SHA-256 at all (a broken installation, treated like out-of-memory). */
void s3_sigv4_string_to_sign(const char *canonical_request, time_t t, const char *region,
                             const char *service, struct buf *out);

/* Derive the signing key HMAC(HMAC(HMAC(HMAC("AWS4"+secret, yyyymmdd), region), service),
 * "aws4_request") for the date of t. Returns -1 (err set, JR_E_INTERNAL) if libcrypto fails. */
int s3_sigv4_signing_key(const char *secret_access_key, time_t t, const char *region,
                         const char *service, unsigned char key[32], struct jr_err *err);

/*
 * Sign req and append the full Authorization header value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=...") to authorization. When signature_hex is not NULL the 64-char
 * hex signature is also written there (65 bytes with NUL). Returns -1 with err set on failure.
 * Besides the canonical_request errors, it refuses (JR_E_INTERNAL) requests S3 would reject with
 * a bare 403: x-amz-date missing or not equal to t; a session token without exactly one
 * x-amz-security-token header holding it; for service "s3", x-amz-content-sha256 missing or not
 * equal to payload_hash.
 */
int s3_sigv4_sign(const struct s3_sigv4_request *req, const struct s3_sigv4_credentials *cred,
                  const char *region, const char *service, time_t t, struct buf *authorization,
                  char *signature_hex, struct jr_err *err);

/*
 * Presign a GET/PUT as a URL query: appends to query_out the sorted, encoded query string
 * (the request's own parameters plus X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
 * X-Amz-Expires, X-Amz-SignedHeaders, [X-Amz-Security-Token,] X-Amz-Signature). Signs the
 * headers given (normally only host) with payload hash "UNSIGNED-PAYLOAD" (req->payload_hash is
 * ignored). X-Amz-Signature comes last; all other parameters are in canonical order. expires_s
 * must be 1..S3_SIGV4_EXPIRES_MAX. Returns -1 with err set on failure.
 */
int s3_sigv4_presign(const struct s3_sigv4_request *req, const struct s3_sigv4_credentials *cred,
                     const char *region, const char *service, time_t t, unsigned expires_s,
                     struct buf *query_out, struct jr_err *err);

/*
 * s3_sigv4_presign with its intermediate steps: signs with req->payload_hash as given (which must
 * be set: S3 needs S3_SIGV4_UNSIGNED_PAYLOAD, AWS's generic test vectors use the body's hash) and,
 * when canonical_out / string_to_sign_out are not NULL, appends the canonical request and the
 * string to sign there (for tests and debugging). Same errors as s3_sigv4_presign.
 */
int s3_sigv4_presign_detail(const struct s3_sigv4_request *req,
                            const struct s3_sigv4_credentials *cred, const char *region,
                            const char *service, time_t t, unsigned expires_s,
                            struct buf *query_out, struct buf *canonical_out,
                            struct buf *string_to_sign_out, struct jr_err *err);

#endif
