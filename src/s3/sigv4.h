/*
 * AWS Signature Version 4 for S3, as pure functions: no clock, no I/O, no global state. The time
 * is passed in, so tests reproduce AWS's published vectors byte for byte. S3 rules apply: the path
 * is never normalised and is URI-encoded exactly once. Secrets (the secret key and derived signing
 * keys) are wiped after use and never appear in any output except the final signature.
 */
#ifndef JR_S3_SIGV4_H
#define JR_S3_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct buf;
struct jr_err;

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

/* Format t as the x-amz-date value "YYYYMMDDTHHMMSSZ" into out (at least 17 bytes). */
void s3_sigv4_amz_date(time_t t, char out[17]);

/*
 * Append the URI encoding of s[0..len) to out: every byte except A-Z a-z 0-9 - . _ ~ becomes %XX
 * (uppercase hex); '/' is kept when keep_slash is true (paths) and encoded otherwise (query values).
 */
void s3_sigv4_uri_encode(struct buf *out, const char *s, size_t len, bool keep_slash);

/* Build the canonical request (no trailing newline) into out, and the signed-headers list
 * ("host;x-amz-content-sha256;x-amz-date") into signed_headers. Returns -1 on a malformed request
 * (missing method/path, bad %-escape in the query), setting err. */
int s3_sigv4_canonical_request(const struct s3_sigv4_request *req, struct buf *out,
                               struct buf *signed_headers, struct jr_err *err);

/* Build the string to sign (no trailing newline) for a canonical request at time t. */
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
 */
int s3_sigv4_sign(const struct s3_sigv4_request *req, const struct s3_sigv4_credentials *cred,
                  const char *region, const char *service, time_t t, struct buf *authorization,
                  char *signature_hex, struct jr_err *err);

/*
 * Presign a GET/PUT as a URL query: appends to query_out the sorted, encoded query string
 * (the request's own parameters plus X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
 * X-Amz-Expires, X-Amz-SignedHeaders, [X-Amz-Security-Token,] X-Amz-Signature). Signs the
 * headers given (normally only host) with payload hash "UNSIGNED-PAYLOAD".
 */
int s3_sigv4_presign(const struct s3_sigv4_request *req, const struct s3_sigv4_credentials *cred,
                     const char *region, const char *service, time_t t, unsigned expires_s,
                     struct buf *query_out, struct jr_err *err);

#endif
