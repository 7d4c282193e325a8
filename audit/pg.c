/* audit/pg.c: the audit trail in PostgreSQL (table audit_events, shared by every instance).
 *
 * Connections, reconnection and the schema come from pg/pg.h, shared with the lock driver, so
 * both drivers built from one conninfo share a connection per worker.
 *
 * Append order is commit order across instances: each batch of appends (group commit, see
 * pg_append) is written while holding a transaction-level advisory lock (released by COMMIT
 * or ROLLBACK, so a crashed instance never leaves it held), chained from the head: the head
 * this instance wrote last (the fast path, one statement, refused by the primary key on seq
 * when another instance has appended since) or the head read under the lock (the locked
 * path). Each event's canonical line (audit_event_canonical, the same text the JSON Lines
 * driver writes) is built for seq+1, seq+2, … each chained to the one before. Batches are
 * strictly sequential, which is what a chain needs. docs/storage.md "PostgreSQL appends".
 *
 * The row stores the line verbatim (the evidence) plus copies of its fields for queries.
 * UPDATE, DELETE and TRUNCATE are refused by triggers; verify still assumes an attacker with
 * superuser rights may disable them, so it recomputes every hash, follows the prev links, checks
 * seq continuity and that the columns agree with the line. Deleting the newest events leaves a
 * valid shorter chain: the anchors (audit.h) catch that. */
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/audit_int.h"
#include "common/groupsync.h"
#include "common/log.h"
#include "common/util.h"
#include "pg/pg.h"

#define FETCH_ROWS 500

struct pg_auditlog {
    struct auditlog base;
    struct pgconn_pool *pool;
    struct groupsync group; /* group commit (pg_append) */
    /* The chain head this instance last wrote or read, for the fast path (append_at_head);
     * only the group's leader (one flush at a time) touches them. After a conflict (another
     * instance appended) the locked path is taken until locked_until_ms, so instances that append
     * in turn do not pay a refused statement per batch. */
    bool head_known;
    uint64_t head_seq;
    char head_hash[65];
    int64_t locked_until_ms;
};

static struct pgconn_pool *pool_of(struct auditlog *al)
{
    return ((struct pg_auditlog *)al)->pool;
}

/* One queued append (group commit, below): a groupsync member's arg. */
struct pending {
    const struct audit_event *ev;
    char hash[65];
};

#define BATCH_MAX 256
#define NCOLS     18 /* the columns of a row, in the order of ROWS below */

/* A batch's rows as one array per column ($1..$18), so one prepared statement inserts any
 * number of rows. */
#define ROWS(from)                                                                                 \
    "INSERT INTO audit_events (seq, time, request_id, actor, username, remote, action, state,"     \
    " lock_id, serial, lineage, sha256, size, status, detail, line, hash, prev)"                   \
    " SELECT u.seq, timestamptz 'epoch' + u.t * interval '1 microsecond', u.request_id, u.actor,"  \
    " u.username, u.remote, u.action, u.state, u.lock_id, u.serial, u.lineage, u.sha256, u.size,"  \
    " u.status, u.detail, u.line, u.hash, u.prev FROM " from                                       \
    " unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],"          \
    " $7::text[], $8::text[], $9::text[], $10::numeric[], $11::text[], $12::text[],"               \
    " $13::bigint[], $14::integer[], $15::text[], $16::text[], $17::text[], $18::text[])"          \
    " AS u(seq, t, request_id, actor, username, remote, action, state, lock_id, serial, lineage,"  \
    " sha256, size, status, detail, line, hash, prev)"

/* Inside the transaction that holds the chain lock and read the head (the locked path). */
static struct pgconn_stmt stmt_insert = PGCONN_STMT("audit insert", ROWS(""), NCOLS);
/* On its own (autocommit): takes the chain lock ($19) for the statement's transaction, then
 * inserts after the head this instance knows ($20 seq, $21 hash). The primary key refuses it
 * (23505) when another instance appended since; it inserts nothing when that head row is not
 * there (the table was restored from an older backup while we ran), so a chain is never
 * continued from a head it does not have. The lock keeps the locked path of another instance,
 * which read the head under it, from ever being refused. */
static struct pgconn_stmt stmt_append =
    PGCONN_STMT("audit append",
                "WITH chain AS (SELECT pg_advisory_xact_lock($19::bigint)) " ROWS(
                    "chain, ") " WHERE EXISTS (SELECT 1 FROM audit_events h"
                               " WHERE h.seq = $20::bigint AND h.hash = $21)",
                NCOLS + 3);
/* After a lost connection: did the batch whose last event is ($1, $2) commit? */
static struct pgconn_stmt stmt_stored = PGCONN_STMT(
    "audit commit check", "SELECT 1 FROM audit_events WHERE seq = $1::bigint AND hash = $2", 2);

/* The text fields of one row's parameters (what the column values point into). */
struct row_text {
    struct buf line;
    char seq_s[24], time_s[24], serial_s[24], size_s[24], status_s[16], prev[65];
};

static void row_values(const struct audit_event *ev, struct row_text *t, const char *hash,
                       const char *v[NCOLS])
{
    snprintf(t->time_s, sizeof(t->time_s), "%lld", (long long)ev->time_us);
    snprintf(t->serial_s, sizeof(t->serial_s), "%llu", (unsigned long long)ev->serial);
    snprintf(t->size_s, sizeof(t->size_s), "%lld", (long long)ev->size);
    snprintf(t->status_s, sizeof(t->status_s), "%d", ev->status);
    const char *row[NCOLS] = {t->seq_s,
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
    memcpy(v, row, sizeof(row));
}

/* A batch made ready to insert: its canonical lines chained from (seq, prev) and one array
 * literal per column. */
struct rows {
    int n;
    uint64_t last_seq;
    char last_hash[65];
    struct buf col[NCOLS];
};

static int rows_build(struct rows *r, struct pending **batch, int n, uint64_t seq,
                      const char head[65], struct err *err)
{
    r->n = n;
    for (int c = 0; c < NCOLS; c++) {
        buf_init(&r->col[c], 0);
        buf_append_str(&r->col[c], "{", err);
    }
    struct row_text t;
    char prev[65];
    memcpy(prev, head, 65);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++, seq++) {
        buf_init(&t.line, 0);
        snprintf(t.seq_s, sizeof(t.seq_s), "%llu", (unsigned long long)seq);
        memcpy(t.prev, prev, 65);
        rc = audit_event_canonical(batch[i]->ev, seq, prev, &t.line, batch[i]->hash, err);
        if (rc == 0) {
            const char *v[NCOLS];
            row_values(batch[i]->ev, &t, batch[i]->hash, v);
            for (int c = 0; c < NCOLS && rc == 0; c++)
                rc = pgconn_array_add(&r->col[c], i == 0, v[c], err);
            memcpy(prev, batch[i]->hash, 65);
            r->last_seq = seq;
        }
        buf_cleanup(&t.line);
    }
    memcpy(r->last_hash, prev, 65);
    for (int c = 0; c < NCOLS && rc == 0; c++)
        rc = buf_append(&r->col[c], "}", 1, err);
    return rc;
}

static void rows_free(struct rows *r)
{
    for (int c = 0; c < NCOLS; c++)
        buf_cleanup(&r->col[c]);
}

/* INSERT and COMMIT of the locked path in one round trip (libpq pipeline mode): the chain lock
 * is held for one round trip less. 0 committed, 1 outcome unknown (the connection broke after
 * COMMIT may have been sent), -1 failed before committing. */
static int insert_commit(struct pgconn_pool *pool, PGconn *c, const char *const *params,
                         struct err *err)
{
    char name[16];
    if (pgconn_prepare(pool, c, &stmt_insert, name, err) != 0) {
        pgconn_rollback(pool, c);
        return -1;
    }
    if (!PQenterPipelineMode(c)) {
        pgconn_fail(pool, c, NULL, "audit insert: pipeline mode", err);
        pgconn_rollback(pool, c);
        return -1;
    }
    if (!PQsendQueryPrepared(c, name, NCOLS, params, NULL, NULL, 0) ||
        !PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) || !PQpipelineSync(c)) {
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
    if (rc < 0) /* the server refused the INSERT or the COMMIT (may close a broken c) */
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

/* Outcomes of one attempt at a batch. */
enum attempt {
    ATTEMPT_STORED,   /* committed */
    ATTEMPT_UNKNOWN,  /* the connection broke when COMMIT may have been sent */
    ATTEMPT_FAILED,   /* nothing written; *retryable says whether the connection was lost */
    ATTEMPT_CONFLICT, /* the expected head was stale: another instance appended (nothing written) */
};

/* The locked path: one transaction takes the chain lock, reads the head and inserts the batch
 * chained from it. Two round trips, and never a conflict. */
static enum attempt append_locked(struct pgconn_pool *pool, struct pending **batch, int n,
                                  struct rows *rows, bool *retryable, struct err *err)
{
    PGconn *c = pgconn_get(pool, err);
    if (!c)
        return ATTEMPT_FAILED;
    char sql[160];
    snprintf(sql, sizeof(sql),
             "BEGIN; SELECT pg_advisory_xact_lock(%lld);"
             " SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
             (long long)PGCONN_LOCK_AUDIT);
    /* Three statements, one round trip: the result is the last SELECT's. */
    PGresult *r = pgconn_exec_on(pool, c, "audit head", sql, 0, NULL, err);
    if (!r) {
        /* Nothing written yet, so once more is safe; only for a lost connection or a busy
         * server, not for a refusal that would repeat. (c may be closed now.) */
        *retryable = err->code == ERR_UNAVAILABLE;
        pgconn_rollback(pool, c);
        return ATTEMPT_FAILED;
    }
    uint64_t seq = 1;
    char head[65] = AUDIT_ZERO_HASH;
    if (PQntuples(r) > 0) {
        seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10) + 1;
        snprintf(head, sizeof(head), "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    if (rows_build(rows, batch, n, seq, head, err) != 0) {
        pgconn_rollback(pool, c);
        return ATTEMPT_FAILED;
    }
    const char *params[NCOLS];
    for (int i = 0; i < NCOLS; i++)
        params[i] = rows->col[i].data;
    /* insert_commit ends the transaction and may close c: c is not used after it. */
    int rc = insert_commit(pool, c, params, err);
    return rc == 0 ? ATTEMPT_STORED : rc > 0 ? ATTEMPT_UNKNOWN : ATTEMPT_FAILED;
}

/* The fast path: one statement chained from the head this instance knows (see stmt_append).
 * One round trip, no transaction of our own. */
static enum attempt append_at_head(struct pgconn_pool *pool, struct pending **batch, int n,
                                   uint64_t head_seq, const char head[65], struct rows *rows,
                                   bool *retryable, struct err *err)
{
    PGconn *c = pgconn_get(pool, err);
    if (!c)
        return ATTEMPT_FAILED;
    if (rows_build(rows, batch, n, head_seq + 1, head, err) != 0)
        return ATTEMPT_FAILED;
    char key[24], seq_s[24];
    snprintf(key, sizeof(key), "%lld", (long long)PGCONN_LOCK_AUDIT);
    snprintf(seq_s, sizeof(seq_s), "%llu", (unsigned long long)head_seq);
    const char *params[NCOLS + 3];
    for (int i = 0; i < NCOLS; i++)
        params[i] = rows->col[i].data;
    params[NCOLS] = key;
    params[NCOLS + 1] = seq_s;
    params[NCOLS + 2] = head;
    struct err e1 = {0};
    char sqlstate[6];
    PGresult *r = pgconn_exec_stmt_on(pool, c, &stmt_append, params, sqlstate, &e1);
    if (r) {
        bool all = atoi(PQcmdTuples(r)) == n; /* else none: the head row is not there */
        PQclear(r);
        return all ? ATTEMPT_STORED : ATTEMPT_CONFLICT;
    }
    if (!strcmp(sqlstate, "23505"))
        return ATTEMPT_CONFLICT; /* the only unique key is seq */
    if (!sqlstate[0]) { /* no answer from the server: the connection broke (c may be closed) */
        *retryable = true;
        return ATTEMPT_UNKNOWN; /* the implicit COMMIT may have happened */
    }
    err_set(err, e1.code, "%s", e1.msg);
    return ATTEMPT_FAILED;
}

/* Whether the batch whose last event is in rows was stored (after ATTEMPT_UNKNOWN): 1 yes,
 * 0 no, -1 cannot tell. The batch is one transaction, so all or none of it is stored. */
static int batch_stored(struct pgconn_pool *pool, const struct rows *rows, struct err *err)
{
    char seq_s[24];
    snprintf(seq_s, sizeof(seq_s), "%llu", (unsigned long long)rows->last_seq);
    const char *params[] = {seq_s, rows->last_hash};
    PGresult *r = pgconn_exec_stmt(pool, &stmt_stored, params, true, err);
    if (!r)
        return -1;
    int stored = PQntuples(r) > 0;
    PQclear(r);
    return stored;
}

/* How long a conflict sends this instance's batches down the locked path. */
#define LOCKED_AFTER_CONFLICT_MS 1000

/* One attempt at a batch, by the fast path when this instance knows the head, else locked;
 * ATTEMPT_UNKNOWN resolved by looking the batch up. rows holds what was sent. */
static enum attempt append_attempt(struct pg_auditlog *p, struct pending **batch, int n,
                                   struct rows *rows, bool *retryable, struct err *err)
{
    *retryable = false;
    enum attempt a =
        p->head_known && mono_ms() >= p->locked_until_ms
            ? append_at_head(p->pool, batch, n, p->head_seq, p->head_hash, rows, retryable, err)
            : append_locked(p->pool, batch, n, rows, retryable, err);
    if (a != ATTEMPT_UNKNOWN)
        return a;
    int stored = batch_stored(p->pool, rows, err);
    if (stored == 0) {
        *retryable = true;
        err_set(err, ERR_UNAVAILABLE, "audit commit lost with the connection");
    }
    return stored > 0 ? ATTEMPT_STORED : ATTEMPT_FAILED;
}

/* A batch, with the retry rules of a single append: a connection lost before COMMIT wrote
 * nothing, so appending again is safe; a lost COMMIT is resolved by looking up the last event
 * (its seq and hash), so an event is never written twice nor silently dropped; a conflict
 * (the head moved) is retried on the locked path, which cannot conflict. */
static int append_batch(struct pg_auditlog *p, struct pending **batch, int n, struct err *err)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        struct rows rows = {0};
        struct err e1 = {0};
        bool retryable;
        enum attempt a = append_attempt(p, batch, n, &rows, &retryable, &e1);
        if (a == ATTEMPT_STORED) {
            p->head_known = true;
            p->head_seq = rows.last_seq;
            memcpy(p->head_hash, rows.last_hash, 65);
        } else {
            p->head_known = false;
        }
        rows_free(&rows);
        if (a == ATTEMPT_STORED)
            return 0;
        if (a == ATTEMPT_CONFLICT) {
            audit__count_conflict();
            p->locked_until_ms = mono_ms() + LOCKED_AFTER_CONFLICT_MS;
            continue;
        }
        if (!retryable || attempt == 2) {
            err_set(err, e1.code, "%s", e1.msg);
            return -1;
        }
    }
    return err_set(err, ERR_UNAVAILABLE, "audit append: contended, retry");
}

/* Group commit (common/groupsync.h). Concurrent appends of this instance queue up; one of
 * them leads and writes every queued event, BATCH_MAX to a transaction (append_batch), while
 * new ones queue for the next batch. So an instance takes the chain lock once per batch, not
 * once per event: no timer, no added latency when appends are rare. Every event is durable
 * (committed) when its append returns; the chain is the same as with single appends
 * (consecutive seqs, each prev the previous hash), so verify and offline verify are unchanged.
 * A failed transaction fails its own events only: the ones committed before it stand. */
static int flush_appends(void *ctx, struct groupsync_member *queued, struct err *err)
{
    struct pg_auditlog *p = ctx;
    (void)err;
    while (queued != NULL) {
        struct pending *batch[BATCH_MAX];
        struct groupsync_member *first = queued;
        int n = 0;
        for (; queued != NULL && n < BATCH_MAX; queued = queued->next)
            batch[n++] = queued->arg;
        struct err be = {0};
        if (append_batch(p, batch, n, &be) != 0)
            for (struct groupsync_member *m = first; m != queued; m = m->next)
                m->err = be;
    }
    return 0;
}

static int pg_append(struct auditlog *al, const struct audit_event *ev, struct err *err)
{
    struct pg_auditlog *p = (struct pg_auditlog *)al;
    struct pending me = {.ev = ev};
    struct groupsync_member m = {.arg = &me};
    return groupsync_join(&p->group, &m, err);
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
    groupsync_cleanup(&p->group);
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
    groupsync_init(&p->group, flush_appends, p);
    return &p->base;
}
