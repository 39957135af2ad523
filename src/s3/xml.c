/*
 * S3 reply parsers on expat. One small engine walks the document and tracks the element path
 * ("/ListBucketResult/Contents/Key"); each reply type is a handler that picks the leaf values it
 * needs by path. Element names are matched without namespace processing: S3 puts its namespace in
 * a default xmlns attribute, so names arrive unprefixed.
 */
#include "s3/xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "buf.h"
#include "err.h"
#include "xalloc.h"

#include "banned.h"

enum {
    XML_PATH_MAX = 512,
};

struct xml_walk;

/* Called at the end of every element with its path and text (NUL-terminated). */
typedef void xml_end_fn(struct xml_walk *w, const char *path, const char *text, size_t len);
/* Called at the start of every element. */
typedef void xml_start_fn(struct xml_walk *w, const char *path);

struct xml_walk {
    XML_Parser parser;
    struct buf path;
    struct buf text;
    unsigned depth;
    const char *refused; /* why the walk stopped the parser, or NULL */
    char root[64];       /* name of the root element */
    xml_start_fn *on_start;
    xml_end_fn *on_end;
    void *arg;
};

static void
walk_stop(struct xml_walk *w, const char *why)
{
    if (!w->refused)
        w->refused = why;
    XML_StopParser(w->parser, XML_FALSE);
}

static void XMLCALL
walk_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct xml_walk *w = ud;
    size_t nlen = strlen(name);

    (void)attrs;
    if (w->refused)
        return;
    if (++w->depth > S3_XML_MAX_DEPTH) {
        walk_stop(w, "elements nested too deeply");
        return;
    }
    if (w->path.len + 1 + nlen > XML_PATH_MAX) {
        walk_stop(w, "element names too long");
        return;
    }
    if (w->depth == 1)
        snprintf(w->root, sizeof(w->root), "%s", name);
    buf_addch(&w->path, '/');
    buf_add(&w->path, name, nlen);
    buf_reset(&w->text);
    if (w->on_start)
        w->on_start(w, buf_cstr(&w->path));
}

static void XMLCALL
walk_end(void *ud, const XML_Char *name)
{
    struct xml_walk *w = ud;
    size_t nlen = strlen(name);

    if (w->refused)
        return;
    if (w->on_end)
        w->on_end(w, buf_cstr(&w->path), buf_cstr(&w->text), w->text.len);
    buf_truncate(&w->path, w->path.len - nlen - 1);
    buf_reset(&w->text);
    w->depth--;
}

static void XMLCALL
walk_chars(void *ud, const XML_Char *s, int len)
{
    struct xml_walk *w = ud;

    if (w->refused || len <= 0)
        return;
    if (w->text.len + (size_t)len > S3_XML_MAX_TEXT) {
        walk_stop(w, "text node too long");
        return;
    }
    buf_add(&w->text, s, (size_t)len);
}

/* S3 never sends a DOCTYPE; refusing it up front keeps every entity trick out. */
static void XMLCALL
walk_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
             int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    walk_stop(ud, "DOCTYPE declarations are not allowed");
}

static void XMLCALL
walk_entity_decl(void *ud, const XML_Char *name, int is_param, const XML_Char *value, int vlen,
                 const XML_Char *base, const XML_Char *sysid, const XML_Char *pubid,
                 const XML_Char *notation)
{
    (void)name, (void)is_param, (void)value, (void)vlen, (void)base, (void)sysid, (void)pubid;
    (void)notation;
    walk_stop(ud, "entity declarations are not allowed");
}

/*
 * Parse xml with the walk's handlers. expect_root is the required root element (NULL: any).
 * Returns 0 when the document is well-formed, allowed, and has that root.
 */
static int
walk_run(struct xml_walk *w, const char *xml, size_t len, const char *expect_root,
         struct jr_err *err)
{
    int rc = -1;

    if (len > S3_XML_MAX_BYTES)
        return jr_err_set(err, JR_E_STORAGE, "XML reply refused: too large (%zu bytes)", len);
    w->parser = XML_ParserCreate("UTF-8");
    if (!w->parser)
        return jr_err_set(err, JR_E_INTERNAL, "cannot create an XML parser");
    XML_SetUserData(w->parser, w);
    XML_SetElementHandler(w->parser, walk_start, walk_end);
    XML_SetCharacterDataHandler(w->parser, walk_chars);
    XML_SetStartDoctypeDeclHandler(w->parser, walk_doctype);
    XML_SetEntityDeclHandler(w->parser, walk_entity_decl);
    XML_SetParamEntityParsing(w->parser, XML_PARAM_ENTITY_PARSING_NEVER);
#ifdef XML_DTD
    /* Second line of defence; the DOCTYPE handler already stops before any entity exists. */
    XML_SetBillionLaughsAttackProtectionMaximumAmplification(w->parser, 20.0f);
#endif

    if (XML_Parse(w->parser, xml, (int)len, XML_TRUE) != XML_STATUS_OK) {
        if (w->refused)
            jr_err_set(err, JR_E_STORAGE, "XML reply refused: %s", w->refused);
        else
            jr_err_set(err, JR_E_STORAGE, "malformed XML reply: %s at line %lu",
                       XML_ErrorString(XML_GetErrorCode(w->parser)),
                       (unsigned long)XML_GetCurrentLineNumber(w->parser));
        goto out;
    }
    if (expect_root && strcmp(w->root, expect_root) != 0) {
        jr_err_set(err, JR_E_STORAGE, "unexpected XML reply: root element '%s', expected '%s'",
                   w->root, expect_root);
        goto out;
    }
    rc = 0;
out:
    XML_ParserFree(w->parser);
    w->parser = NULL;
    buf_release(&w->path);
    buf_release(&w->text);
    return rc;
}

static void
copy_text(char *dst, size_t size, const char *text)
{
    snprintf(dst, size, "%s", text);
}

/* ---- <Error> ---------------------------------------------------------------------------- */

static void
error_end(struct xml_walk *w, const char *path, const char *text, size_t len)
{
    struct s3_xml_error *e = w->arg;

    (void)len;
    if (strcmp(path, "/Error/Code") == 0)
        copy_text(e->code, sizeof(e->code), text);
    else if (strcmp(path, "/Error/Message") == 0)
        copy_text(e->message, sizeof(e->message), text);
}

int
s3_xml_parse_error(const char *xml, size_t len, struct s3_xml_error *out)
{
    struct xml_walk w = {0};
    struct jr_err ignored;

    out->code[0] = out->message[0] = '\0';
    if (!xml || !len)
        return -1;
    w.on_end = error_end;
    w.arg = out;
    if (walk_run(&w, xml, len, "Error", &ignored) < 0 || !out->code[0]) {
        out->code[0] = out->message[0] = '\0';
        return -1;
    }
    return 0;
}

/* ---- <ListBucketResult> ------------------------------------------------------------------ */

struct list_state {
    struct s3_xml_list *list;
    bool url_encoded;
    bool bad;
    const char *bad_what;
    /* the entry being read */
    char *key;
    int64_t size;
    time_t mtime;
    char etag[80];
    bool have_size;
    bool have_mtime;
};

/* "2009-10-12T17:50:30.000Z" (fraction optional) to a UTC time_t. */
static int
parse_iso8601(const char *s, time_t *out)
{
    struct tm tm = {0};
    int used = 0;

    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &used) != 6 ||
        used != 19)
        return -1;
    s += used;
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return -1;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (strcmp(s, "Z") != 0)
        return -1;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return 0;
}

static int
parse_size(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (*s < '0' || *s > '9')
        return -1;
    v = strtoll(s, &end, 10);
    if (*end || v < 0)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode S3's EncodingType=url form in place ('+' is a space, %XX a byte). -1 on a bad escape. */
static int
url_decode_inplace(char *s)
{
    char *o = s;

    for (const char *p = s; *p; p++) {
        if (*p == '+') {
            *o++ = ' ';
        } else if (*p == '%') {
            int hi = hexval(p[1]);
            int lo = hi < 0 ? -1 : hexval(p[2]);

            if (lo < 0)
                return -1;
            *o++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return 0;
}

static void
list_start(struct xml_walk *w, const char *path)
{
    struct list_state *ls = w->arg;

    if (strcmp(path, "/ListBucketResult/Contents") == 0) {
        free(ls->key);
        ls->key = NULL;
        ls->size = 0;
        ls->mtime = 0;
        ls->etag[0] = '\0';
        ls->have_size = ls->have_mtime = false;
    }
}

static void
list_fail(struct list_state *ls, const char *what)
{
    if (!ls->bad) {
        ls->bad = true;
        ls->bad_what = what;
    }
}

static void
list_end(struct xml_walk *w, const char *path, const char *text, size_t len)
{
    struct list_state *ls = w->arg;
    struct s3_xml_list *l = ls->list;

    if (strncmp(path, "/ListBucketResult/", 18) != 0)
        return;
    path += 18;
    if (strcmp(path, "Contents/Key") == 0) {
        free(ls->key);
        ls->key = xstrndup(text, len);
        if (strlen(ls->key) != len)
            list_fail(ls, "key with a NUL character");
    } else if (strcmp(path, "Contents/Size") == 0) {
        if (parse_size(text, &ls->size) < 0)
            list_fail(ls, "invalid Size");
        ls->have_size = true;
    } else if (strcmp(path, "Contents/LastModified") == 0) {
        if (parse_iso8601(text, &ls->mtime) < 0)
            list_fail(ls, "invalid LastModified");
        ls->have_mtime = true;
    } else if (strcmp(path, "Contents/ETag") == 0) {
        copy_text(ls->etag, sizeof(ls->etag), text);
    } else if (strcmp(path, "Contents") == 0) {
        struct s3_xml_list_entry *e;

        if (!ls->key || !*ls->key) {
            list_fail(ls, "entry without Key");
            return;
        }
        if (!ls->have_size)
            list_fail(ls, "entry without Size");
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 64;
            l->entries = xreallocarray(l->entries, l->cap, sizeof(*l->entries));
        }
        e = &l->entries[l->n++];
        e->key = ls->key;
        ls->key = NULL;
        e->size = ls->size;
        e->mtime = ls->mtime;
        memcpy(e->etag, ls->etag, sizeof(e->etag));
    } else if (strcmp(path, "IsTruncated") == 0) {
        if (strcmp(text, "true") == 0)
            l->truncated = true;
        else if (strcmp(text, "false") == 0)
            l->truncated = false;
        else
            list_fail(ls, "invalid IsTruncated");
    } else if (strcmp(path, "NextContinuationToken") == 0) {
        free(l->next_token);
        l->next_token = xstrndup(text, len);
    } else if (strcmp(path, "EncodingType") == 0) {
        ls->url_encoded = strcmp(text, "url") == 0;
    }
}

int
s3_xml_parse_list(const char *xml, size_t len, struct s3_xml_list *out, struct jr_err *err)
{
    struct list_state ls = {0};
    struct xml_walk w = {0};

    ls.list = out;
    w.on_start = list_start;
    w.on_end = list_end;
    w.arg = &ls;
    if (walk_run(&w, xml, len, "ListBucketResult", err) < 0)
        goto fail;
    if (ls.bad) {
        jr_err_set(err, JR_E_STORAGE, "malformed listing reply: %s", ls.bad_what);
        goto fail;
    }
    if (out->truncated && (!out->next_token || !*out->next_token)) {
        jr_err_set(err, JR_E_STORAGE,
                   "malformed listing reply: truncated page without NextContinuationToken");
        goto fail;
    }
    if (ls.url_encoded) {
        for (size_t i = 0; i < out->n; i++) {
            if (url_decode_inplace(out->entries[i].key) < 0 || !*out->entries[i].key) {
                jr_err_set(err, JR_E_STORAGE, "malformed listing reply: bad URL-encoded key");
                goto fail;
            }
        }
    }
    free(ls.key);
    return 0;
fail:
    free(ls.key);
    s3_xml_list_release(out);
    return -1;
}

void
s3_xml_list_release(struct s3_xml_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->entries[i].key);
    free(list->entries);
    free(list->next_token);
    list->entries = NULL;
    list->n = list->cap = 0;
    list->truncated = false;
    list->next_token = NULL;
}

/* ---- <InitiateMultipartUploadResult> ----------------------------------------------------- */

static void
initiate_end(struct xml_walk *w, const char *path, const char *text, size_t len)
{
    char **id = w->arg;

    if (strcmp(path, "/InitiateMultipartUploadResult/UploadId") == 0) {
        free(*id);
        *id = xstrndup(text, len);
    }
}

int
s3_xml_parse_initiate(const char *xml, size_t len, char **upload_id, struct jr_err *err)
{
    struct xml_walk w = {0};
    char *id = NULL;

    *upload_id = NULL;
    w.on_end = initiate_end;
    w.arg = &id;
    if (walk_run(&w, xml, len, "InitiateMultipartUploadResult", err) < 0) {
        free(id);
        return -1;
    }
    if (!id || !*id) {
        free(id);
        return jr_err_set(err, JR_E_STORAGE, "malformed multipart reply: no UploadId");
    }
    *upload_id = id;
    return 0;
}

/* ---- <CompleteMultipartUploadResult> or <Error> ------------------------------------------ */

struct complete_state {
    char *etag;
    struct s3_xml_error *error;
};

static void
complete_end(struct xml_walk *w, const char *path, const char *text, size_t len)
{
    struct complete_state *cs = w->arg;

    (void)len;
    if (strcmp(path, "/CompleteMultipartUploadResult/ETag") == 0)
        copy_text(cs->etag, 80, text);
    else if (strcmp(path, "/Error/Code") == 0)
        copy_text(cs->error->code, sizeof(cs->error->code), text);
    else if (strcmp(path, "/Error/Message") == 0)
        copy_text(cs->error->message, sizeof(cs->error->message), text);
}

int
s3_xml_parse_complete(const char *xml, size_t len, bool *is_error, char etag[80],
                      struct s3_xml_error *error, struct jr_err *err)
{
    struct complete_state cs = {etag, error};
    struct xml_walk w = {0};

    etag[0] = '\0';
    error->code[0] = error->message[0] = '\0';
    *is_error = false;
    w.on_end = complete_end;
    w.arg = &cs;
    if (walk_run(&w, xml, len, NULL, err) < 0)
        return -1;
    if (strcmp(w.root, "Error") == 0) {
        *is_error = true;
        if (!error->code[0])
            copy_text(error->code, sizeof(error->code), "UnknownError");
        return 0;
    }
    if (strcmp(w.root, "CompleteMultipartUploadResult") != 0)
        return jr_err_set(err, JR_E_STORAGE,
                          "unexpected XML reply: root element '%s', expected "
                          "'CompleteMultipartUploadResult'",
                          w.root);
    return 0;
}

/* ---- <DeleteResult> ---------------------------------------------------------------------- */

struct delete_state {
    s3_xml_delete_error_fn *fn;
    void *arg;
    size_t deleted;
    char *key;
    char code[64];
    char message[256];
};

static void
delete_start(struct xml_walk *w, const char *path)
{
    struct delete_state *ds = w->arg;

    if (strcmp(path, "/DeleteResult/Error") == 0) {
        free(ds->key);
        ds->key = NULL;
        ds->code[0] = ds->message[0] = '\0';
    }
}

static void
delete_end(struct xml_walk *w, const char *path, const char *text, size_t len)
{
    struct delete_state *ds = w->arg;

    if (strcmp(path, "/DeleteResult/Deleted") == 0) {
        ds->deleted++;
    } else if (strcmp(path, "/DeleteResult/Error/Key") == 0) {
        free(ds->key);
        ds->key = xstrndup(text, len);
    } else if (strcmp(path, "/DeleteResult/Error/Code") == 0) {
        copy_text(ds->code, sizeof(ds->code), text);
    } else if (strcmp(path, "/DeleteResult/Error/Message") == 0) {
        copy_text(ds->message, sizeof(ds->message), text);
    } else if (strcmp(path, "/DeleteResult/Error") == 0) {
        ds->fn(ds->arg, ds->key ? ds->key : "", ds->code, ds->message);
        free(ds->key);
        ds->key = NULL;
    }
}

int
s3_xml_parse_delete(const char *xml, size_t len, s3_xml_delete_error_fn *fn, void *arg,
                    size_t *deleted, struct jr_err *err)
{
    struct delete_state ds = {0};
    struct xml_walk w = {0};
    int rc;

    ds.fn = fn;
    ds.arg = arg;
    w.on_start = delete_start;
    w.on_end = delete_end;
    w.arg = &ds;
    rc = walk_run(&w, xml, len, "DeleteResult", err);
    free(ds.key);
    *deleted = ds.deleted;
    return rc;
}

/* ---- escaping ---------------------------------------------------------------------------- */

int
s3_xml_escape(struct buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        switch (c) {
        case '&':
            buf_addstr(out, "&amp;");
            break;
        case '<':
            buf_addstr(out, "&lt;");
            break;
        case '>':
            buf_addstr(out, "&gt;");
            break;
        case '"':
            buf_addstr(out, "&quot;");
            break;
        case '\'':
            buf_addstr(out, "&apos;");
            break;
        case '\r':
            buf_addstr(out, "&#13;");
            break;
        case '\t':
            buf_addstr(out, "&#9;");
            break;
        case '\n':
            buf_addstr(out, "&#10;");
            break;
        default:
            if (c < 0x20)
                return -1;
            buf_addch(out, (char)c);
        }
    }
    return 0;
}
