/*
 * Tests of the S3 reply parsers (src/s3/xml.c): every reply type on documents shaped like real
 * S3 replies, malformed documents, documents with DOCTYPEs and entities (billion laughs, external
 * entities), and oversized input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "s3/xml.h"
#include "xalloc.h"

#include "banned.h"

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

static int
parse_list_str(const char *xml, struct s3_xml_list *l, struct jr_err *err)
{
    return s3_xml_parse_list(xml, strlen(xml), l, err);
}

/* ---- error documents ---- */

static void
test_error_document(void **state)
{
    const char *xml = XML_DECL "<Error><Code>SignatureDoesNotMatch</Code>"
                               "<Message>The request signature we calculated does not match the "
                               "signature you provided. Check your key and signing method."
                               "</Message><StringToSign>AWS4-HMAC-SHA256...</StringToSign>"
                               "<RequestId>4442587FB7D0A2F9</RequestId></Error>";
    struct s3_xml_error e;

    (void)state;
    assert_int_equal(s3_xml_parse_error(xml, strlen(xml), &e), 0);
    assert_string_equal(e.code, "SignatureDoesNotMatch");
    assert_true(strncmp(e.message, "The request signature we calculated", 35) == 0);
}

static void
test_error_document_escaped_and_long(void **state)
{
    struct buf b = BUF_INIT;
    struct s3_xml_error e;

    (void)state;
    buf_addstr(&b, "<Error><Code>NoSuchKey</Code><Message>a &lt;b&gt; &amp; &#x263A; ");
    for (int i = 0; i < 100; i++)
        buf_addstr(&b, "0123456789");
    buf_addstr(&b, "</Message></Error>");
    assert_int_equal(s3_xml_parse_error(b.data, b.len, &e), 0);
    assert_string_equal(e.code, "NoSuchKey");
    assert_true(strncmp(e.message, "a <b> & \xe2\x98\xba 0123", 16) == 0);
    assert_int_equal(strlen(e.message), sizeof(e.message) - 1); /* truncated, terminated */
    buf_release(&b);
}

static void
test_error_not_an_error(void **state)
{
    static const char *const bad[] = {
        "",
        "not xml at all",
        "<Error><Code>SlowDown</Code>", /* unterminated */
        "<Other><Code>SlowDown</Code></Other>",
        "<Error><Message>no code</Message></Error>",
        "<Error><Code></Code></Error>",
        "<html><body>502 Bad Gateway</body></html>",
    };
    struct s3_xml_error e;

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(bad); i++) {
        memset(&e, 'x', sizeof(e));
        assert_int_equal(s3_xml_parse_error(bad[i], strlen(bad[i]), &e), -1);
        assert_string_equal(e.code, "");
        assert_string_equal(e.message, "");
    }
    assert_int_equal(s3_xml_parse_error(NULL, 0, &e), -1);
}

/* ---- listings ---- */

static const char list_page[] =
    XML_DECL "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
             "<Name>bucket</Name><Prefix>svc/</Prefix><KeyCount>3</KeyCount>"
             "<MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
             "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</"
             "NextContinuationToken>"
             "<Contents><Key>svc/1-day-report.csv</Key>"
             "<LastModified>2025-11-05T01:00:05.000Z</LastModified>"
             "<ETag>&quot;70ee1738b6b21e2c8a43f3a5ab0eee71&quot;</ETag>"
             "<Size>434234</Size><StorageClass>STANDARD</StorageClass></Contents>"
             "<Contents><Key>svc/a b+c%d \xc3\xbc &amp; &lt;x&gt;.csv</Key>"
             "<LastModified>2009-10-12T17:50:30Z</LastModified>"
             "<ETag>&quot;abc-2&quot;</ETag><Size>0</Size>"
             "<Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>"
             "<DisplayName>webfile</DisplayName></Owner></Contents>"
             "<Contents><Key>svc/big.csv</Key><LastModified>2024-02-29T23:59:59.123Z</"
             "LastModified><ETag>&quot;x&quot;</ETag><Size>9007199254740993</Size></Contents>"
             "<CommonPrefixes><Prefix>svc/sub/</Prefix></CommonPrefixes>"
             "</ListBucketResult>";

static void
test_list_page(void **state)
{
    struct s3_xml_list l = S3_XML_LIST_INIT;
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    assert_int_equal(parse_list_str(list_page, &l, &err), 0);
    assert_int_equal(l.n, 3);
    assert_true(l.truncated);
    assert_string_equal(l.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    assert_string_equal(l.entries[0].key, "svc/1-day-report.csv");
    assert_int_equal(l.entries[0].size, 434234);
    assert_int_equal(l.entries[0].mtime, 1762304405);
    assert_string_equal(l.entries[0].etag, "\"70ee1738b6b21e2c8a43f3a5ab0eee71\"");
    assert_string_equal(l.entries[1].key, "svc/a b+c%d \xc3\xbc & <x>.csv");
    assert_int_equal(l.entries[1].size, 0);
    assert_int_equal(l.entries[1].mtime, 1255369830);
    assert_string_equal(l.entries[1].etag, "\"abc-2\"");
    assert_int_equal(l.entries[2].size, 9007199254740993LL);
    assert_int_equal(l.entries[2].mtime, 1709251199);
    s3_xml_list_release(&l);
    assert_null(l.entries);
    assert_null(l.next_token);
}

static void
test_list_empty_last_page(void **state)
{
    const char *xml = "<ListBucketResult><Name>b</Name><Prefix>nothing/</Prefix>"
                      "<KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>";
    struct s3_xml_list l = S3_XML_LIST_INIT;
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    assert_int_equal(parse_list_str(xml, &l, &err), 0);
    assert_int_equal(l.n, 0);
    assert_false(l.truncated);
    assert_null(l.next_token);
    s3_xml_list_release(&l);
}

static void
test_list_url_encoded(void **state)
{
    const char *xml = "<ListBucketResult><EncodingType>url</EncodingType>"
                      "<IsTruncated>false</IsTruncated>"
                      "<Contents><Key>svc/a+b%2Bc%25d%20%C3%BC.csv</Key><Size>1</Size></Contents>"
                      "</ListBucketResult>";
    const char *bad = "<ListBucketResult><EncodingType>url</EncodingType>"
                      "<Contents><Key>svc/%zz</Key><Size>1</Size></Contents></ListBucketResult>";
    struct s3_xml_list l = S3_XML_LIST_INIT;
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    assert_int_equal(parse_list_str(xml, &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.entries[0].key, "svc/a b+c%d \xc3\xbc.csv");
    s3_xml_list_release(&l);

    assert_int_equal(parse_list_str(bad, &l, &err), -1);
    assert_int_equal(err.code, JR_E_STORAGE);
    assert_non_null(strstr(err.msg, "URL-encoded"));
    assert_null(l.entries);
}

static void
test_list_many_entries(void **state)
{
    struct buf b = BUF_INIT;
    struct s3_xml_list l = S3_XML_LIST_INIT;
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    buf_addstr(&b, "<ListBucketResult><IsTruncated>false</IsTruncated>");
    for (int i = 0; i < 1000; i++)
        buf_printf(&b,
                   "<Contents><Key>k/%04d</Key><Size>%d</Size>"
                   "<LastModified>2025-01-01T00:00:00.000Z</LastModified></Contents>",
                   i, i);
    buf_addstr(&b, "</ListBucketResult>");
    assert_int_equal(s3_xml_parse_list(b.data, b.len, &l, &err), 0);
    assert_int_equal(l.n, 1000);
    assert_string_equal(l.entries[999].key, "k/0999");
    assert_int_equal(l.entries[999].size, 999);
    s3_xml_list_release(&l);
    buf_release(&b);
}

static void
test_list_malformed(void **state)
{
    static const struct {
        const char *xml;
        const char *msg;
    } cases[] = {
        {"<ListBucketResult><Contents><Key>a</Key><Size>1</Size></Contents>",
         "malformed XML reply"},
        {"<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
         "invalid Size"},
        {"<ListBucketResult><Contents><Key>a</Key><Size>12x</Size></Contents></ListBucketResult>",
         "invalid Size"},
        {"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
         "entry without Key"},
        {"<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>",
         "entry without Size"},
        {"<ListBucketResult><Contents><Key>a</Key><Size>1</Size>"
         "<LastModified>yesterday</LastModified></Contents></ListBucketResult>",
         "invalid LastModified"},
        {"<ListBucketResult><Contents><Key>a</Key><Size>1</Size>"
         "<LastModified>2025-13-01T00:00:00Z</LastModified></Contents></ListBucketResult>",
         "invalid LastModified"},
        {"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
         "without NextContinuationToken"},
        {"<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
         "invalid IsTruncated"},
        {"<Error><Code>AccessDenied</Code></Error>", "root element 'Error'"},
        {"<ListBucketResult><Contents><Key>a&#0;b</Key><Size>1</Size></Contents>"
         "</ListBucketResult>",
         "malformed XML reply"},
        {"<ListBucketResult><Contents><Key>&undefined;</Key></Contents></ListBucketResult>",
         "malformed XML reply"},
        {"\xff\xfe<ListBucketResult/>", "malformed XML reply"},
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        struct s3_xml_list l = S3_XML_LIST_INIT;
        struct jr_err err = JR_ERR_INIT;

        assert_int_equal(parse_list_str(cases[i].xml, &l, &err), -1);
        assert_int_equal(err.code, JR_E_STORAGE);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
        assert_null(l.entries);
        assert_int_equal(l.n, 0);
    }
}

/* ---- hostile documents ---- */

static const char billion_laughs[] =
    "<?xml version=\"1.0\"?>\n"
    "<!DOCTYPE lolz [\n"
    " <!ENTITY lol \"lol\">\n"
    " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
    " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
    " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
    " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
    " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
    " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
    " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
    " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
    "]>\n"
    "<ListBucketResult><Contents><Key>&lol9;</Key><Size>1</Size></Contents></ListBucketResult>";

static void
test_billion_laughs_refused(void **state)
{
    struct s3_xml_list l = S3_XML_LIST_INIT;
    struct jr_err err = JR_ERR_INIT;
    struct s3_xml_error e;
    clock_t start = clock();

    (void)state;
    assert_int_equal(parse_list_str(billion_laughs, &l, &err), -1);
    assert_int_equal(err.code, JR_E_STORAGE);
    assert_non_null(strstr(err.msg, "DOCTYPE"));
    assert_int_equal(l.n, 0);
    assert_int_equal(s3_xml_parse_error(billion_laughs, strlen(billion_laughs), &e), -1);
    /* Refused before any expansion: far below a second of CPU even under sanitizers. */
    assert_true((double)(clock() - start) / CLOCKS_PER_SEC < 0.5);
}

static void
test_external_entity_refused(void **state)
{
    const char *xml = "<?xml version=\"1.0\"?>\n"
                      "<!DOCTYPE Error [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
                      "<Error><Code>&xxe;</Code></Error>";
    const char *xml2 = "<?xml version=\"1.0\"?>\n"
                       "<!DOCTYPE InitiateMultipartUploadResult SYSTEM \"http://x.invalid/d.dtd\">"
                       "<InitiateMultipartUploadResult><UploadId>u</UploadId>"
                       "</InitiateMultipartUploadResult>";
    struct s3_xml_error e;
    struct jr_err err = JR_ERR_INIT;
    char *id = NULL;

    (void)state;
    assert_int_equal(s3_xml_parse_error(xml, strlen(xml), &e), -1);
    assert_string_equal(e.code, "");
    assert_int_equal(s3_xml_parse_initiate(xml2, strlen(xml2), &id, &err), -1);
    assert_null(id);
    assert_non_null(strstr(err.msg, "DOCTYPE declarations are not allowed"));
}

static void
test_oversized_refused(void **state)
{
    size_t len = (size_t)S3_XML_MAX_BYTES + 1;
    char *big = xmalloc(len);
    struct s3_xml_list l = S3_XML_LIST_INIT;
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    memset(big, ' ', len);
    assert_int_equal(s3_xml_parse_list(big, len, &l, &err), -1);
    assert_non_null(strstr(err.msg, "too large"));
    free(big);
}

static void
test_deep_and_long_refused(void **state)
{
    struct buf b = BUF_INIT;
    struct s3_xml_list l = S3_XML_LIST_INIT;
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    buf_addstr(&b, "<ListBucketResult>");
    for (int i = 0; i < 100; i++)
        buf_addstr(&b, "<a>");
    for (int i = 0; i < 100; i++)
        buf_addstr(&b, "</a>");
    buf_addstr(&b, "</ListBucketResult>");
    assert_int_equal(s3_xml_parse_list(b.data, b.len, &l, &err), -1);
    assert_non_null(strstr(err.msg, "nested too deeply"));

    buf_reset(&b);
    buf_addstr(&b, "<ListBucketResult><Contents><Key>");
    for (int i = 0; i < S3_XML_MAX_TEXT / 8 + 1; i++)
        buf_addstr(&b, "abcdefgh");
    buf_addstr(&b, "</Key><Size>1</Size></Contents></ListBucketResult>");
    assert_int_equal(s3_xml_parse_list(b.data, b.len, &l, &err), -1);
    assert_non_null(strstr(err.msg, "text node too long"));
    buf_release(&b);
}

/* ---- multipart ---- */

static void
test_initiate(void **state)
{
    const char *xml =
        XML_DECL "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                 "<Bucket>example-bucket</Bucket><Key>example-object</Key>"
                 "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
                 "</InitiateMultipartUploadResult>";
    const char *noid = "<InitiateMultipartUploadResult><Bucket>b</Bucket>"
                       "</InitiateMultipartUploadResult>";
    const char *wrong = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
    struct jr_err err = JR_ERR_INIT;
    char *id = NULL;

    (void)state;
    assert_int_equal(s3_xml_parse_initiate(xml, strlen(xml), &id, &err), 0);
    assert_string_equal(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
    free(id);
    assert_int_equal(s3_xml_parse_initiate(noid, strlen(noid), &id, &err), -1);
    assert_null(id);
    assert_non_null(strstr(err.msg, "no UploadId"));
    assert_int_equal(s3_xml_parse_initiate(wrong, strlen(wrong), &id, &err), -1);
    assert_non_null(strstr(err.msg, "root element 'Error'"));
}

static void
test_complete(void **state)
{
    const char *ok = XML_DECL
        "<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Location>http://Example-Bucket.s3.amazonaws.com/Example-Object</Location>"
        "<Bucket>Example-Bucket</Bucket><Key>Example-Object</Key>"
        "<ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag></CompleteMultipartUploadResult>";
    /* S3 can answer 200 and still fail the completion. */
    const char *in200 = XML_DECL "\n\n\n<Error><Code>InternalError</Code>"
                                 "<Message>We encountered an internal error. Please try again."
                                 "</Message><RequestId>656c76696e6727732072657175657374</RequestId>"
                                 "</Error>";
    const char *junk = "<CompleteMultipartUploadResult><ETag>x</ETag>";
    const char *other = "<Something/>";
    struct s3_xml_error e;
    struct jr_err err = JR_ERR_INIT;
    char etag[80];
    bool is_error;

    (void)state;
    assert_int_equal(s3_xml_parse_complete(ok, strlen(ok), &is_error, etag, &e, &err), 0);
    assert_false(is_error);
    assert_string_equal(etag, "\"3858f62230ac3c915f300c664312c11f-9\"");

    assert_int_equal(s3_xml_parse_complete(in200, strlen(in200), &is_error, etag, &e, &err), 0);
    assert_true(is_error);
    assert_string_equal(e.code, "InternalError");
    assert_string_equal(e.message, "We encountered an internal error. Please try again.");

    assert_int_equal(s3_xml_parse_complete(junk, strlen(junk), &is_error, etag, &e, &err), -1);
    assert_int_equal(s3_xml_parse_complete(other, strlen(other), &is_error, etag, &e, &err), -1);
    assert_non_null(strstr(err.msg, "root element 'Something'"));
}

/* ---- DeleteObjects ---- */

struct delete_errors {
    int n;
    char keys[4][64];
    char codes[4][64];
};

static void
on_delete_error(void *arg, const char *key, const char *code, const char *message)
{
    struct delete_errors *d = arg;

    (void)message;
    if (d->n < 4) {
        snprintf(d->keys[d->n], sizeof(d->keys[0]), "%s", key);
        snprintf(d->codes[d->n], sizeof(d->codes[0]), "%s", code);
    }
    d->n++;
}

static void
test_delete_result(void **state)
{
    const char *xml = XML_DECL "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                               "<Deleted><Key>sample1.txt</Key></Deleted>"
                               "<Error><Key>sample2.txt</Key><Code>AccessDenied</Code>"
                               "<Message>Access Denied</Message></Error>"
                               "<Deleted><Key>a &amp; b</Key></Deleted>"
                               "<Error><Key>x y \xc3\xbc</Key><Code>InternalError</Code>"
                               "<Message>oops</Message></Error></DeleteResult>";
    const char *quiet = "<DeleteResult/>";
    const char *bad = "<DeleteResult><Error><Key>a</Key></DeleteResult>";
    struct delete_errors d = {0};
    struct jr_err err = JR_ERR_INIT;
    size_t deleted = 99;

    (void)state;
    assert_int_equal(s3_xml_parse_delete(xml, strlen(xml), on_delete_error, &d, &deleted, &err), 0);
    assert_int_equal(deleted, 2);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.keys[0], "sample2.txt");
    assert_string_equal(d.codes[0], "AccessDenied");
    assert_string_equal(d.keys[1], "x y \xc3\xbc");
    assert_string_equal(d.codes[1], "InternalError");

    memset(&d, 0, sizeof(d));
    assert_int_equal(s3_xml_parse_delete(quiet, strlen(quiet), on_delete_error, &d, &deleted, &err),
                     0);
    assert_int_equal(deleted, 0);
    assert_int_equal(d.n, 0);
    assert_int_equal(s3_xml_parse_delete(bad, strlen(bad), on_delete_error, &d, &deleted, &err),
                     -1);
    assert_non_null(strstr(err.msg, "malformed XML reply"));
}

static void
test_escape(void **state)
{
    struct buf b = BUF_INIT;
    const char *s = "a&b<c>d\"e'f\tg\rh\ni \xc3\xbc";
    struct delete_errors d = {0};
    struct jr_err err = JR_ERR_INIT;
    size_t deleted;

    (void)state;
    buf_addstr(&b, "<DeleteResult><Error><Key>");
    assert_int_equal(s3_xml_escape(&b, s, strlen(s)), 0);
    buf_addstr(&b, "</Key><Code>C</Code></Error></DeleteResult>");
    assert_non_null(strstr(b.data, "a&amp;b&lt;c&gt;d&quot;e&apos;f&#9;g&#13;h&#10;i \xc3\xbc"));
    /* Round trip through expat gives the original bytes back. */
    assert_int_equal(s3_xml_parse_delete(b.data, b.len, on_delete_error, &d, &deleted, &err), 0);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.keys[0], s);

    buf_reset(&b);
    assert_int_equal(s3_xml_escape(&b, "a\x01z", 3), -1);
    assert_int_equal(s3_xml_escape(&b, "a\0z", 3), -1);
    buf_release(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_document),
        cmocka_unit_test(test_error_document_escaped_and_long),
        cmocka_unit_test(test_error_not_an_error),
        cmocka_unit_test(test_list_page),
        cmocka_unit_test(test_list_empty_last_page),
        cmocka_unit_test(test_list_url_encoded),
        cmocka_unit_test(test_list_many_entries),
        cmocka_unit_test(test_list_malformed),
        cmocka_unit_test(test_billion_laughs_refused),
        cmocka_unit_test(test_external_entity_refused),
        cmocka_unit_test(test_oversized_refused),
        cmocka_unit_test(test_deep_and_long_refused),
        cmocka_unit_test(test_initiate),
        cmocka_unit_test(test_complete),
        cmocka_unit_test(test_delete_result),
        cmocka_unit_test(test_escape),
    };

    return cmocka_run_group_tests_name("s3_xml", tests, NULL, NULL);
}
