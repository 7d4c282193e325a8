/* audit/pg.c: the audit trail in PostgreSQL (table audit_events, shared by every instance).
 *
 * Connections, reconnection and the schema come from pg/pg.h, shared with the lock driver, so
 * both drivers built from one conninfo share a connection per worker.
 *
 * Append order is commit order across instances: each batch of appends (group commit, see
 * pg_append) is one transaction that first takes a transaction-level advisory lock (released
 * by COMMIT or ROLLBACK, so a crashed instance never leaves it held), then reads the last
 * (seq, hash), builds the canonical lines for seq+1, seq+2, … each chained to the one before
 * (audit_event_canonical, the same text the JSON Lines driver writes), inserts them and
 * commits. The lock makes batches strictly sequential, which is what a chain needs; the
 * primary key on seq is the second line of defence.
 *
 * The row stores the line verbatim (the evidence) plus copies of its fields for queries.
 * UPDATE, DELETE and TRUNCATE are refused by triggers; verify still assumes an attacker with
 * superuser rights may disable them, so it recomputes every hash, follows the prev links, checks
 * seq continuity and that the columns agree with the line. Deleting the newest events leaves a
 * valid shorter chain: the anchors (audit.h) catch that. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "common/log.h"
#include "common/util.h"
#include "pg/pg.h"

#define FETCH_ROWS 500

struct pg_auditlog {
    struct auditlog base;
    struct pgconn_pool *pool;
    /* Group commit (pg_append): the queue of appends not yet taken into a batch, and whether
     * a batch is being written. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pending *queue, **tail;
    bool leading;
};

static const char ZERO_HASH[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static struct pgconn_pool *pool_of(struct auditlog *al)
{
    return ((struct pg_auditlog *)al)->pool;
}

static const char SQL_INSERT_HEAD[] =
    "INSERT INTO audit_events (seq, time, request_id, actor, username, remote, action, state,"
    " lock_id, serial, lineage, sha256, size, status, detail, line, hash, prev) VALUES ";

/* One queued append (group commit, below). */
struct pending {
    const struct audit_event *ev;
    char hash[65];
    bool done;
    int rc;
    struct err err;
    struct pending *next;
};

#define BATCH_MAX 256

/* The INSERT of a batch and COMMIT in one round trip (libpq pipeline mode): the audit lock is
 * held for one round trip less, and that lock is what bounds the append rate of all instances
 * together. 0 committed, 1 outcome unknown (the connection broke after COMMIT may have been
 * sent), -1 failed before committing. */
static int insert_commit(struct pgconn_pool *pool, PGconn *c, const char **params, int n,
                         struct err *err)
{
    if (!PQenterPipelineMode(c)) {
        pgconn_fail(pool, c, NULL, "audit insert: pipeline mode", err);
        pgconn_rollback(pool, c);
        return -1;
    }
    /* One multi-row INSERT: the server parses and plans once per batch, not once per row. */
    struct buf sql;
    buf_init(&sql, 0);
    buf_append_str(&sql, SQL_INSERT_HEAD, err);
    for (int i = 0; i < n; i++) {
        int b = i * 18;
        buf_printf(&sql, err,
                   "%s($%d::bigint, timestamptz 'epoch' + $%d::bigint * interval '1 microsecond',"
                   " $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d::numeric, $%d, $%d, $%d::bigint,"
                   " $%d::integer, $%d, $%d, $%d, $%d)",
                   i ? "," : "", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9,
                   b + 10, b + 11, b + 12, b + 13, b + 14, b + 15, b + 16, b + 17, b + 18);
    }
    bool sent = PQsendQueryParams(c, sql.data, 18 * n, NULL, (const char *const *)params, NULL,
                                  NULL, 0) != 0;
    buf_cleanup(&sql);
    if (!sent || !PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) ||
        !PQpipelineSync(c)) {
        if (PQstatus(c) != CONNECTION_OK) {
            pgconn_drop(pool, c);
            return 1;
        }
        pgconn_fail(pool, c, NULL, "audit insert: send", err);
        pgconn_drop(pool, c);
        return -1;
    }
    /* Results come as: INSERT's, NULL, COMMIT's, NULL, then PIPELINE_SYNC. After an error
     * the rest of the pipeline is PIPELINE_ABORTED; after a lost connection, NULLs. */
    int stage = 0; /* 0 INSERT, 1 COMMIT, 2 sync */
    bool synced = false, inserts_ok = true;
    ExecStatusType st_commit = PGRES_EMPTY_QUERY;
    PGresult *failed = NULL;
    for (int guard = 0; guard < 32 && !synced; guard++) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            if (PQstatus(c) != CONNECTION_OK || stage >= 2)
                break;
            stage++;
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC)
            synced = true;
        else if (stage == 0 && st != PGRES_COMMAND_OK)
            inserts_ok = false;
        else if (stage == 1)
            st_commit = st;
        if (st == PGRES_FATAL_ERROR && !failed)
            failed = r;
        else
            PQclear(r);
    }
    bool broken = PQstatus(c) != CONNECTION_OK;
    bool exited = !broken && synced && PQexitPipelineMode(c);
    int rc = -1;
    if (st_commit == PGRES_COMMAND_OK)
        rc = 0;
    else if (broken && !(failed && PQresultErrorField(failed, PG_DIAG_SQLSTATE)))
        rc = 1; /* COMMIT may have reached the server before the connection broke */
    if (rc < 0) /* the server refused an INSERT or the COMMIT (may close a broken c) */
        pgconn_fail(pool, c, failed, inserts_ok ? "audit commit" : "audit insert", err);
    PQclear(failed);
    if (broken || !exited) {
        pgconn_drop(pool, c); /* results left unread: the connection cannot be reused */
        return rc;
    }
    if (rc != 0)
        pgconn_rollback(pool, c); /* ends the failed transaction */
    return rc;
}

/* The text fields of one row's parameters (what params point into). */
struct row_text {
    struct buf line;
    char seq_s[24], time_s[24], serial_s[24], size_s[24], status_s[16], prev[65];
};

static void row_params(const struct audit_event *ev, struct row_text *t, const char *hash,
                       const char *params[18])
{
    snprintf(t->time_s, sizeof(t->time_s), "%lld", (long long)ev->time_us);
    snprintf(t->serial_s, sizeof(t->serial_s), "%llu", (unsigned long long)ev->serial);
    snprintf(t->size_s, sizeof(t->size_s), "%lld", (long long)ev->size);
    snprintf(t->status_s, sizeof(t->status_s), "%d", ev->status);
    const char *v[18] = {t->seq_s,
                         t->time_s,
                         ev->request_id,
                         ev->actor,
                         ev->username,
                         ev->remote,
                         ev->action,
                         ev->state,
                         ev->lock_id,
                         ev->has_serial ? t->serial_s : NULL,
                         ev->lineage,
                         ev->sha256,
                         ev->size < 0 ? NULL : t->size_s,
                         t->status_s,
                         ev->detail,
                         t->line.data,
                         hash,
                         t->prev};
    memcpy(params, v, sizeof(v));
}

/* One attempt for a batch: one transaction takes the chain lock once, reads the head and
 * inserts the batch with consecutive seqs, each chained to the one before. 0 committed, 1
 * outcome unknown (COMMIT lost with the connection), -1 failed before COMMIT (nothing
 * written). *retryable tells a lost connection from other errors. */
static int append_once(struct pgconn_pool *pool, struct pending **batch, int n, bool *retryable,
                       struct err *err)
{
    *retryable = false;
    PGconn *c = pgconn_get(pool, err);
    if (!c)
        return -1;
    struct row_text *t = xcalloc((size_t)n, sizeof(*t));
    const char **params = xcalloc((size_t)n * 18, sizeof(*params));
    int rc = -1;
    char lock_sql[160];
    snprintf(lock_sql, sizeof(lock_sql),
             "BEGIN; SELECT pg_advisory_xact_lock(%lld);"
             " SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
             (long long)PGCONN_LOCK_AUDIT);
    /* Three statements, one round trip: the result is the last SELECT's. */
    PGresult *r = pgconn_exec_on(pool, c, "audit head", lock_sql, 0, NULL, err);
    if (!r)
        goto out;
    uint64_t seq = 1;
    char prev[65];
    memcpy(prev, ZERO_HASH, sizeof(prev));
    if (PQntuples(r) > 0) {
        seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10) + 1;
        snprintf(prev, sizeof(prev), "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    for (int i = 0; i < n; i++, seq++) {
        buf_init(&t[i].line, 0);
        snprintf(t[i].seq_s, sizeof(t[i].seq_s), "%llu", (unsigned long long)seq);
        memcpy(t[i].prev, prev, 65);
        if (audit_event_canonical(batch[i]->ev, seq, prev, &t[i].line, batch[i]->hash, err) != 0)
            goto out;
        memcpy(prev, batch[i]->hash, 65);
        row_params(batch[i]->ev, &t[i], batch[i]->hash, params + 18 * i);
    }
    /* insert_commit ends the transaction and may close c: c is not used after it. */
    rc = insert_commit(pool, c, params, n, err);
    goto done;
out:
    /* Failed before COMMIT was sent: nothing was written. */
    *retryable = PQstatus(c) != CONNECTION_OK;
    pgconn_rollback(pool, c);
done:
    for (int i = 0; i < n; i++)
        buf_cleanup(&t[i].line);
    free(t);
    free(params);
    return rc;
}

/* A batch, with the retry rules of a single append: a connection lost before COMMIT wrote
 * nothing, so appending again is safe; a lost COMMIT is resolved by looking for the last
 * event's hash (unique: it covers seq, time and request id; the batch is one transaction, so
 * all or none are stored), so an event is never written twice nor silently dropped. */
static int append_batch(struct pgconn_pool *pool, struct pending **batch, int n, struct err *err)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        struct err e1 = {0};
        bool retryable;
        int rc = append_once(pool, batch, n, &retryable, &e1);
        if (rc == 0)
            return 0;
        if (rc > 0) {
            const char *params[] = {batch[n - 1]->hash};
            PGresult *r =
                pgconn_exec(pool, "audit commit check",
                            "SELECT 1 FROM audit_events WHERE hash = $1", 1, params, true, err);
            if (!r)
                return -1;
            bool stored = PQntuples(r) > 0;
            PQclear(r);
            if (stored)
                return 0;
            retryable = true;
            err_set(&e1, ERR_UNAVAILABLE, "audit commit lost with the connection");
        }
        if (!retryable || attempt == 1) {
            err_set(err, e1.code, "%s", e1.msg);
            return -1;
        }
    }
    return -1;
}

/* Group commit. Concurrent appends of this instance queue up; one of them (the leader) takes
 * every queued event, up to BATCH_MAX, and writes them in one transaction (append_batch)
 * while new ones queue behind it; when it is done it wakes the others, and one whose event is
 * still queued leads the next batch. So an instance takes the chain lock once per batch, not
 * once per event, and the events that arrive while one batch commits make the next: no timer,
 * no added latency when appends are rare. Every event is durable (committed) when its append
 * returns, as before; the chain is the same as with single appends (consecutive seqs, each
 * prev the previous hash), so verify and offline verify are unchanged. */
static int pg_append(struct auditlog *al, const struct audit_event *ev, struct err *err)
{
    struct pg_auditlog *p = (struct pg_auditlog *)al;
    struct pending me = {.ev = ev};
    pthread_mutex_lock(&p->mu);
    *p->tail = &me;
    p->tail = &me.next;
    while (!me.done && p->leading)
        pthread_cond_wait(&p->cv, &p->mu);
    if (!me.done) {
        p->leading = true;
        struct pending *batch[BATCH_MAX];
        int n = 0;
        while (p->queue != NULL && n < BATCH_MAX) {
            batch[n++] = p->queue;
            p->queue = p->queue->next;
        }
        if (p->queue == NULL)
            p->tail = &p->queue;
        pthread_mutex_unlock(&p->mu);
        struct err be = {0};
        int rc = append_batch(p->pool, batch, n, &be);
        pthread_mutex_lock(&p->mu);
        for (int i = 0; i < n; i++) {
            batch[i]->rc = rc;
            batch[i]->err = be;
            batch[i]->done = true;
        }
        p->leading = false;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (me.rc != 0)
        err_set(err, me.err.code, "%s", me.err.msg);
    return me.rc;
}

/* A read-only cursor over audit_events in seq order; rows come FETCH_ROWS at a time so an
 * export of millions of events never sits in memory. The snapshot (REPEATABLE READ) makes a
 * long export consistent while other instances keep appending. */
struct cursor {
    struct pgconn_pool *pool;
    PGconn *c;
    PGresult *batch;
    int row;
};

static int cursor_open(struct cursor *cur, struct pgconn_pool *pool, const char *select,
                       struct err *err)
{
    memset(cur, 0, sizeof(*cur));
    cur->pool = pool;
    cur->c = pgconn_get(pool, err);
    if (!cur->c)
        return -1;
    struct buf sql;
    buf_init(&sql, 0);
    buf_printf(&sql, err,
               "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
               /* The export waits for its client between batches: no idle timeout here. */
               " SET LOCAL idle_in_transaction_session_timeout = 0;"
               " DECLARE audit_cur NO SCROLL CURSOR FOR %s",
               select);
    PGresult *r = pgconn_exec_on(pool, cur->c, "audit cursor", sql.data, 0, NULL, err);
    buf_cleanup(&sql);
    if (!r) {
        pgconn_rollback(pool, cur->c);
        return -1;
    }
    PQclear(r);
    return 0;
}

/* The next row's index in cur->batch: 1 and *row set, 0 at the end, -1 on error. */
static int cursor_next(struct cursor *cur, int *row, struct err *err)
{
    if (cur->batch && cur->row < PQntuples(cur->batch)) {
        *row = cur->row++;
        return 1;
    }
    if (cur->batch && PQntuples(cur->batch) < FETCH_ROWS)
        return 0; /* the last batch was short: nothing more */
    PQclear(cur->batch);
    cur->batch = pgconn_exec_on(cur->pool, cur->c, "audit fetch",
                                "FETCH " /* constant */ "500 FROM audit_cur", 0, NULL, err);
    cur->row = 0;
    if (!cur->batch)
        return -1;
    if (PQntuples(cur->batch) == 0)
        return 0;
    *row = cur->row++;
    return 1;
}

static void cursor_close(struct cursor *cur)
{
    PQclear(cur->batch);
    cur->batch = NULL;
    /* Read-only: ROLLBACK ends it as well as COMMIT would, and also after an error. */
    pgconn_rollback(cur->pool, cur->c);
}

static int pg_export(struct auditlog *al, const struct audit_filter *f, enum audit_format fmt,
                     int (*sink)(void *ctx, const char *data, size_t len), void *ctx,
                     struct err *err)
{
    char select[400];
    char since[80] = "", until[80] = "";
    /* Integers only reach the SQL text here, formatted by us. since is inclusive, until
     * exclusive, as in the JSON Lines driver. */
    if (f && f->has_since)
        snprintf(since, sizeof(since),
                 " AND time >= timestamptz 'epoch' + %lld * interval '1 microsecond'",
                 (long long)f->since_us);
    if (f && f->has_until)
        snprintf(until, sizeof(until),
                 " AND time < timestamptz 'epoch' + %lld * interval '1 microsecond'",
                 (long long)f->until_us);
    snprintf(select, sizeof(select),
             "SELECT seq, line, state FROM audit_events WHERE true%s%s ORDER BY seq", since, until);
    const char *pattern = f ? f->state_pattern : NULL;

    struct cursor cur;
    if (cursor_open(&cur, pool_of(al), select, err) != 0)
        return -1;
    struct buf chunk;
    buf_init(&chunk, 0);
    int rc = 0;
    if (fmt == AUDIT_CSV)
        rc = buf_append_str(&chunk, audit_csv_header, err);
    int row, more;
    while (rc == 0 && (more = cursor_next(&cur, &row, err)) != 0) {
        if (more < 0) {
            rc = -1;
            break;
        }
        PGresult *b = cur.batch;
        if (pattern && !pattern_match(pattern, PQgetvalue(b, row, 2)))
            continue;
        const char *line = PQgetvalue(b, row, 1);
        size_t len = (size_t)PQgetlength(b, row, 1);
        if (fmt == AUDIT_JSONL) {
            /* The stored canonical lines as they are: the export verifies with the same
             * hashes as the table. */
            if (buf_append(&chunk, line, len, err) != 0 || buf_append(&chunk, "\n", 1, err) != 0)
                rc = -1;
        } else {
            struct audit_event ev;
            uint64_t seq;
            char prev[65], hash[65];
            if (audit_event_parse(line, len, &ev, &seq, prev, hash, err) != 0) {
                err_clear(err);
                rc = err_set(err, ERR_INTERNAL,
                             "audit event %s fails its hash check; run audit verify",
                             PQgetvalue(b, row, 0));
            } else {
                rc = audit_event_csv(&ev, seq, prev, hash, &chunk, err);
            }
        }
        if (rc == 0 && chunk.len >= 64 * 1024) {
            rc = sink(ctx, chunk.data, chunk.len);
            buf_reset(&chunk);
        }
    }
    if (rc == 0 && chunk.len > 0)
        rc = sink(ctx, chunk.data, chunk.len);
    buf_cleanup(&chunk);
    cursor_close(&cur);
    return rc;
}

static const char SQL_VERIFY[] = "SELECT seq, line, hash, prev, " PGCONN_US(
    "time") ", request_id, actor, username, remote,"
            " action, state, lock_id, serial, lineage, sha256, size, status, detail"
            " FROM audit_events ORDER BY seq";

/* Compares the row's copied columns with the parsed line; the first mismatch's name or NULL. */
static const char *column_mismatch(const PGresult *b, int row, const struct audit_event *ev)
{
    const char *v;
    char serial[24];
#define TEXT_COL(i, field)                                                                         \
    if (strcmp(PQgetvalue(b, row, i), ev->field) != 0)                                             \
        return #field;
#define INT_COL(i, field)                                                                          \
    v = PQgetisnull(b, row, i) ? NULL : PQgetvalue(b, row, i);                                     \
    if (v ? strtoll(v, NULL, 10) != (long long)ev->field : ev->field >= 0)                         \
        return #field;
    if (strtoll(PQgetvalue(b, row, 4), NULL, 10) != ev->time_us)
        return "time";
    TEXT_COL(5, request_id)
    TEXT_COL(6, actor)
    TEXT_COL(7, username)
    TEXT_COL(8, remote)
    TEXT_COL(9, action)
    TEXT_COL(10, state)
    TEXT_COL(11, lock_id)
    /* numeric(20,0) reads back as plain digits: compared as text, exactly. */
    snprintf(serial, sizeof(serial), "%llu", (unsigned long long)ev->serial);
    if (PQgetisnull(b, row, 12) ? ev->has_serial
                                : !ev->has_serial || strcmp(PQgetvalue(b, row, 12), serial) != 0)
        return "serial";
    TEXT_COL(13, lineage)
    TEXT_COL(14, sha256)
    INT_COL(15, size)
    if (strtoll(PQgetvalue(b, row, 16), NULL, 10) != ev->status)
        return "status";
    TEXT_COL(17, detail)
#undef TEXT_COL
#undef INT_COL
    return NULL;
}

static int pg_verify(struct auditlog *al, struct audit_verify_result *res, struct err *err)
{
    audit__verify_reset(res);
    struct cursor cur;
    if (cursor_open(&cur, pool_of(al), SQL_VERIFY, err) != 0)
        return -1;
    struct audit__chain chain;
    audit__chain_init(&chain);
    int rc = 0, row, more;
#define BROKEN(s, ...)                                                                             \
    do {                                                                                           \
        res->first_broken = (s);                                                                   \
        snprintf(res->reason, sizeof(res->reason), __VA_ARGS__);                                   \
        goto done;                                                                                 \
    } while (0)
    while ((more = cursor_next(&cur, &row, err)) != 0) {
        if (more < 0) {
            rc = -1;
            goto done;
        }
        PGresult *b = cur.batch;
        uint64_t seq = strtoull(PQgetvalue(b, row, 0), NULL, 10);
        const char *line = PQgetvalue(b, row, 1);
        char cprev[65], chash[65];
        snprintf(chash, sizeof(chash), "%s", PQgetvalue(b, row, 2));
        snprintf(cprev, sizeof(cprev), "%s", PQgetvalue(b, row, 3));
        res->events++;
        /* The chain by the columns first, so a removed row is named where the gap shows; the
         * text must then say the same. */
        if (audit__chain_step(&chain, seq, cprev, chash, res) != 0)
            goto done;
        struct audit_event ev;
        uint64_t lseq;
        char lprev[65], lhash[65];
        struct err perr = {0};
        if (audit_event_parse(line, (size_t)PQgetlength(b, row, 1), &ev, &lseq, lprev, lhash,
                              &perr) != 0)
            BROKEN(seq, "event %llu was altered: %.150s", (unsigned long long)seq, perr.msg);
        if (lseq != seq)
            BROKEN(seq, "event %llu: its text says seq %llu", (unsigned long long)seq,
                   (unsigned long long)lseq);
        if (strcmp(chash, lhash) != 0 || strcmp(cprev, lprev) != 0)
            BROKEN(seq, "event %llu: hash or prev column differs from its text",
                   (unsigned long long)seq);
        const char *col = column_mismatch(b, row, &ev);
        if (col)
            BROKEN(seq, "event %llu: column %s differs from its text", (unsigned long long)seq,
                   col);
    }
#undef BROKEN
done:
    cursor_close(&cur);
    return rc;
}

static int pg_read_after(struct auditlog *al, uint64_t after, unsigned limit,
                         int (*cb)(void *ctx, uint64_t seq, const struct audit_event *ev),
                         void *ctx, uint64_t *head, struct err *err)
{
    char a[24], l[16];
    snprintf(a, sizeof(a), "%llu", (unsigned long long)after);
    snprintf(l, sizeof(l), "%u", limit);
    const char *params[] = {a, l};
    PGresult *res = pgconn_exec(pool_of(al), "audit read",
                                "SELECT seq, line, (SELECT coalesce(max(seq), 0) FROM audit_events)"
                                " FROM audit_events WHERE seq > $1::bigint ORDER BY seq"
                                " LIMIT $2::integer",
                                2, params, true, err);
    if (res == NULL)
        return -1;
    PGresult *h = NULL;
    if (PQntuples(res) == 0) {
        h = pgconn_exec(pool_of(al), "audit head", "SELECT coalesce(max(seq), 0) FROM audit_events",
                        0, NULL, true, err);
        if (h == NULL) {
            PQclear(res);
            return -1;
        }
        *head = strtoull(PQgetvalue(h, 0, 0), NULL, 10);
        PQclear(h);
    } else {
        *head = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
    }
    struct audit_event *ev = xmalloc(sizeof(*ev));
    int rc = 0;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        uint64_t seq;
        char prev[65], hash[65];
        struct err pe = {0};
        const char *line = PQgetvalue(res, i, 1);
        if (audit__parse(line, strlen(line), false, ev, &seq, prev, hash, &pe) == 0)
            rc = cb(ctx, seq, ev);
    }
    free(ev);
    PQclear(res);
    return rc;
}

static int pg_ping(struct auditlog *al, struct err *err)
{
    PGresult *r = pgconn_exec(pool_of(al), "ping", "SELECT 1", 0, NULL, true, err);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

static int pg_head(struct auditlog *al, uint64_t *seq, char hash[65], struct err *err)
{
    PGresult *r = pgconn_exec(pool_of(al), "head",
                              "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1", 0,
                              NULL, true, err);
    if (!r)
        return -1;
    *seq = 0;
    memcpy(hash, AUDIT_ZERO_HASH, 65);
    if (PQntuples(r) == 1) {
        *seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        snprintf(hash, 65, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return 0;
}

static void pg_free(struct auditlog *al)
{
    if (!al)
        return;
    struct pg_auditlog *p = (struct pg_auditlog *)al;
    pgconn_pool_unref(p->pool);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(al);
}

static const struct auditlog_ops pg_ops = {
    .append = pg_append,
    .export = pg_export,
    .verify = pg_verify,
    .read_after = pg_read_after,
    .ping = pg_ping,
    .head = pg_head,
    .free = pg_free,
    .kind = "postgres",
};

struct auditlog *auditlog_pg_new(const char *conninfo, struct err *err)
{
    audit__metrics_register();
    struct pgconn_pool *pool = pgconn_pool_ref(conninfo, err);
    if (!pool)
        return NULL;
    struct pg_auditlog *p = xcalloc(1, sizeof(*p));
    p->base.ops = &pg_ops;
    p->pool = pool;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->tail = &p->queue;
    return &p->base;
}
