/*
 * Notify schema queries. Identifiers placed into SQL text (the COPY stream cannot take bind
 * parameters) are UUIDs validated by uuid_valid() and timestamps this program formatted, so no
 * untrusted text is ever interpolated.
 */
#include "notify_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "pg.h"
#include "uuid.h"
#include "xalloc.h"

#include "banned.h"

/* Advisory lock namespace: "JR" in the first key, the command and shard in the second. */
#define LOCK_KEY1 0x4A52

static unsigned
shard_of(const char *id, unsigned n)
{
    unsigned char b[16];
    uint64_t r = 0;

    if (uuid_parse(id, b) < 0)
        return 0;
    for (size_t i = 0; i < 16; i++)
        r = (r * 256 + b[i]) % n;
    return (unsigned)r;
}

static int
cmp_service(const void *a, const void *b)
{
    return strcmp(((const struct notify_service *)a)->id, ((const struct notify_service *)b)->id);
}

int
notify_db_services(struct pg *pg, const char *const *ids, size_t nids, unsigned shard_k,
                   unsigned shard_n, struct notify_service **out, size_t *n, struct jr_err *err)
{
    struct pg_rows *res;
    struct notify_service *list;
    size_t rows;
    size_t m = 0;

    *out = NULL;
    *n = 0;
    res = pg_query(pg, "SELECT id::text, active FROM services ORDER BY id", 0, NULL, err);
    if (!res)
        return jr_err_prefix(err, "cannot list services");
    rows = pg_result_rows(res);
    list = xcalloc(rows + 1, sizeof(*list));
    for (size_t i = 0; i < nids; i++) {
        bool found = false;

        for (size_t r = 0; r < rows && !found; r++) {
            if (strcmp(pg_result_value(res, r, 0), ids[i]) != 0)
                continue;
            found = true;
            if (strcmp(pg_result_value(res, r, 1), "t") != 0)
                log_warn("service '%s' is not active: no reports are made for it", ids[i]);
        }
        if (!found) {
            pg_result_free(res);
            free(list);
            return jr_err_set(err, JR_E_USAGE, "unknown service '%s' (--service)", ids[i]);
        }
    }
    for (size_t r = 0; r < rows; r++) {
        const char *id = pg_result_value(res, r, 0);
        bool wanted = nids == 0;

        if (strcmp(pg_result_value(res, r, 1), "t") != 0)
            continue;
        for (size_t i = 0; i < nids && !wanted; i++)
            wanted = strcmp(id, ids[i]) == 0;
        if (!wanted || (shard_n && shard_of(id, shard_n) != shard_k))
            continue;
        snprintf(list[m++].id, sizeof(list[0].id), "%s", id);
    }
    pg_result_free(res);
    /* PostgreSQL orders uuids bytewise, which is the order of their lowercase text; sort anyway
     * so the stream merge never depends on a collation. */
    qsort(list, m, sizeof(*list), cmp_service);
    *out = list;
    *n = m;
    return 0;
}

/* The WHERE clause shared by the job list and the stream. */
static void
where_clause(struct buf *b, const struct notify_filter *f)
{
    char start[27];
    char end[27];

    window_format_sql(f->start, start);
    window_format_sql(f->end, end);
    buf_addstr(b, " WHERE n.service_id = ANY ('{");
    for (size_t i = 0; i < f->nservices; i++)
        buf_printf(b, "%s%s", i ? "," : "", f->services[i].id);
    buf_printf(b,
               "}'::uuid[]) AND n.created_at >= '%s'::timestamp AND n.created_at < "
               "'%s'::timestamp AND n.key_type <> 'test'",
               start, end);
    if (f->type)
        buf_printf(b, " AND n.notification_type = '%s'", f->type);
}

int
notify_db_jobs(struct pg *pg, const struct notify_filter *f, notify_job_fn *fn, void *arg,
               struct jr_err *err)
{
    struct buf sql = BUF_INIT;
    struct pg_rows *res;
    int rc = 0;

    if (!f->nservices)
        return 0;
    buf_addstr(&sql, "SELECT DISTINCT n.job_id::text, COALESCE(j.service_id, n.service_id)::text,"
                     " COALESCE(th.template_type::text, n.notification_type::text)"
                     " FROM notifications n"
                     " LEFT JOIN jobs j ON j.id = n.job_id"
                     " LEFT JOIN templates_history th"
                     " ON th.id = n.template_id AND th.version = n.template_version");
    where_clause(&sql, f);
    buf_addstr(&sql, " AND n.job_id IS NOT NULL");
    res = pg_query(pg, buf_cstr(&sql), 0, NULL, err);
    buf_release(&sql);
    if (!res)
        return jr_err_prefix(err, "cannot list the jobs of the report window");
    for (size_t r = 0; r < pg_result_rows(res) && rc == 0; r++)
        rc = fn(arg, pg_result_value(res, r, 0), pg_result_value(res, r, 1),
                pg_result_value(res, r, 2), err);
    pg_result_free(res);
    return rc;
}

int
notify_db_stream_begin(struct pg *pg, const struct notify_filter *f, struct jr_err *err)
{
    struct buf sql = BUF_INIT;
    int rc;

    buf_addstr(&sql, "SELECT n.service_id, n.id, n.job_id, n.job_row_number, th.name,"
                     " COALESCE(th.template_type::text, n.notification_type::text), u.name,"
                     " n.carrier, n.notification_status,"
                     " to_char(n.created_at, 'YYYY-MM-DD HH24:MI:SS.US'),"
                     " j.original_file_name, n.provider_response"
                     " FROM notifications n"
                     " LEFT JOIN templates_history th"
                     " ON th.id = n.template_id AND th.version = n.template_version"
                     " LEFT JOIN users u ON u.id = n.created_by_id"
                     " LEFT JOIN jobs j ON j.id = n.job_id");
    where_clause(&sql, f);
    buf_addstr(&sql, " ORDER BY n.service_id, n.created_at DESC, n.id");
    log_debug("notifications query: %s", buf_cstr(&sql)); /* ids and timestamps only */
    rc = pg_stream_begin(pg, buf_cstr(&sql), err);
    buf_release(&sql);
    if (rc < 0)
        return jr_err_prefix(err, "cannot read notifications");
    return 0;
}

int
notify_db_next(struct pg *pg, struct notify_row *row, struct jr_err *err)
{
    char **f;
    size_t nf;
    int rc = pg_stream_next(pg, &f, &nf, err);

    if (rc <= 0)
        return rc;
    if (nf != 12 || !f[0] || !f[1] || !f[9])
        return jr_err_set(err, JR_E_DB, "unexpected row shape from the notifications query");
    row->service_id = f[0];
    row->id = f[1];
    row->job_id = f[2];
    if (f[3]) {
        char *end;

        row->job_row_number = strtoll(f[3], &end, 10);
        if (*end)
            row->job_row_number = -1;
    } else {
        row->job_row_number = -1;
    }
    row->template_name = f[4];
    row->template_type = f[5];
    row->sent_by = f[6];
    row->carrier = f[7];
    row->status = f[8];
    row->created_at = f[9];
    row->batch_file = f[10];
    row->provider_response = f[11];
    return 1;
}

int
notify_db_lock(struct pg *pg, const char *command, unsigned shard, double timeout_s,
               struct jr_err *err)
{
    char sql[192];
    struct pg_rows *res;
    unsigned key2 = shard;
    bool got;

    /* A small stable number per command, so generate and prune never block each other. */
    for (const char *c = command; *c; c++)
        key2 = key2 * 31u + (unsigned char)*c;
    key2 &= 0x7fffffff;
    if (timeout_s > 0) {
        snprintf(sql, sizeof(sql), "SET lock_timeout = '%ldms'", (long)(timeout_s * 1000));
        if (pg_exec(pg, sql, err) < 0)
            return -1;
        snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%d, %u), true", LOCK_KEY1, key2);
    } else {
        snprintf(sql, sizeof(sql), "SELECT NULL, pg_try_advisory_lock(%d, %u)", LOCK_KEY1, key2);
    }
    res = pg_query(pg, sql, 0, NULL, err);
    if (!res) {
        if (strcmp(pg_last_sqlstate(pg), "55P03") == 0)
            return jr_err_set(err, JR_E_LOCKED,
                              "another '%s' run holds the lock (waited %.0f seconds)", command,
                              timeout_s);
        return -1;
    }
    got = strcmp(pg_result_value(res, 0, 1), "t") == 0;
    pg_result_free(res);
    if (timeout_s > 0 && pg_exec(pg, "SET lock_timeout = 0", err) < 0)
        return -1;
    if (!got)
        return jr_err_set(err, JR_E_LOCKED, "another '%s' run holds the lock", command);
    return 0;
}
