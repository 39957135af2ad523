/*
 * Parsers for the XML documents S3 sends back (error documents, ListObjectsV2 pages, multipart
 * initiate/complete results, DeleteObjects results), built on expat. Replies are untrusted input:
 * a document with a DOCTYPE (and so any entity declaration) is refused before expat expands
 * anything, documents above S3_XML_MAX_BYTES, elements nested deeper than S3_XML_MAX_DEPTH and
 * text nodes above S3_XML_MAX_TEXT are refused, and nothing is ever fetched from outside. Pure
 * functions: no I/O, no logging. Failures set err with code JR_E_STORAGE and a message that
 * starts with the failure ("malformed XML reply: ..."), for the caller to prefix with context.
 */
#ifndef JR_S3_XML_H
#define JR_S3_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;
struct jr_err;

enum {
    S3_XML_MAX_BYTES = 16 * 1024 * 1024, /* a 1000-key listing is well under 1 MiB */
    S3_XML_MAX_DEPTH = 16,
    S3_XML_MAX_TEXT = 64 * 1024,
};

/* An S3 <Error> document. Fields are "" when absent; over-long values are truncated. */
struct s3_xml_error {
    char code[64];
    char message[256];
};

/*
 * Parse an <Error><Code/><Message/></Error> document. Returns 0 when xml is such a document with
 * a non-empty Code, -1 otherwise (out is then all ""). Never sets an error: a reply that is not
 * an S3 error document simply has no S3 code.
 */
int s3_xml_parse_error(const char *xml, size_t len, struct s3_xml_error *out);

/* One <Contents> entry of a listing. */
struct s3_xml_list_entry {
    char *key; /* owned by the list; URL-decoded when the reply says EncodingType=url */
    int64_t size;
    time_t mtime; /* LastModified, UTC */
    char etag[80];
};

/* One ListObjectsV2 page. Initialise with S3_XML_LIST_INIT; release with s3_xml_list_release. */
struct s3_xml_list {
    struct s3_xml_list_entry *entries;
    size_t n;
    size_t cap;
    bool truncated;   /* IsTruncated */
    char *next_token; /* NextContinuationToken, owned; NULL when absent */
};

#define S3_XML_LIST_INIT                                                                           \
    {                                                                                              \
        NULL, 0, 0, false, NULL                                                                    \
    }

/*
 * Parse a <ListBucketResult> page into out (which must be empty). Entries keep document order.
 * Fails (-1, err set) on malformed XML, a different root element, an entry without Key, an
 * invalid Size or LastModified, or a truncated page without NextContinuationToken.
 */
int s3_xml_parse_list(const char *xml, size_t len, struct s3_xml_list *out, struct jr_err *err);

/* Free what a list holds and reset it to S3_XML_LIST_INIT. */
void s3_xml_list_release(struct s3_xml_list *list);

/*
 * Parse an <InitiateMultipartUploadResult>; *upload_id receives a new string the caller frees.
 * Fails on anything else or an empty UploadId.
 */
int s3_xml_parse_initiate(const char *xml, size_t len, char **upload_id, struct jr_err *err);

/*
 * Parse the reply to CompleteMultipartUpload, which S3 may send with status 200 even when the
 * operation failed: either a <CompleteMultipartUploadResult> (*is_error false, etag filled, may be
 * "") or an <Error> document (*is_error true, error filled). Fails on anything else.
 */
int s3_xml_parse_complete(const char *xml, size_t len, bool *is_error, char etag[80],
                          struct s3_xml_error *error, struct jr_err *err);

/* One per-key failure in a DeleteObjects reply. All strings borrowed for the call. */
typedef void s3_xml_delete_error_fn(void *arg, const char *key, const char *code,
                                    const char *message);

/*
 * Parse a <DeleteResult>: fn is called for each <Error> entry, *deleted counts <Deleted> entries
 * (0 in quiet mode). Fails on malformed XML or another root element.
 */
int s3_xml_parse_delete(const char *xml, size_t len, s3_xml_delete_error_fn *fn, void *arg,
                        size_t *deleted, struct jr_err *err);

/*
 * Append s[0..len) to out as XML character data ('&', '<', '>', '"', '\'' escaped; CR and TAB as
 * character references). Returns -1 when s holds a byte XML 1.0 cannot carry (other control
 * characters, NUL), so the caller can refuse the key.
 */
int s3_xml_escape(struct buf *out, const char *s, size_t len);

#endif
