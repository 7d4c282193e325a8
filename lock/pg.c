/* lock/pg.c: the PostgreSQL lock store (any number of stated instances share one table).
 *
 * A row of `locks` is a lease; it is live while expires_at > now(). Every time comparison uses
 * the database's now(), the one clock all instances share, never ours. Expired rows are left in
 * place (until the next acquire, or an unlock by their own ID or a force-unlock) so that the
 * acquire that takes one over can report whose lease expired.
 *
 * Acquisition is one statement, so two instances racing for a state cannot both win:
 *
 *   WITH old AS (SELECT … FROM locks WHERE state = $1 FOR UPDATE),
 *        up AS (INSERT INTO locks … ON CONFLICT (state) DO UPDATE SET …
 *               WHERE locks.expires_at <= now() OR locks.id = EXCLUDED.id RETURNING …)
 *   SELECT … FROM (one row) LEFT JOIN up LEFT JOIN old
 *
 * `old` locks and reads the row as it was (waiting for a concurrent acquirer to commit, then
 * reading its version). The INSERT selects from `old` so that `old` runs first: a row our own
 * upsert had already changed would be invisible to FOR UPDATE. So the same statement tells
 * apart: no old row -> ACQUIRED; old row
 * expired -> TAKEN_OVER (old names the previous holder); old row live with our ID ->
 * REENTERED; `up` empty -> someone else holds a live lease and `old` names them. When the row
 * was inserted by a concurrent transaction after our snapshot, `old` may be empty although `up`
 * is too; only then do we read the holder a second time, for the report.
 *
 * Worked example (ttl 1 h): A locks "net" at 10:00 (ACQUIRED, expires 11:00); B tries at 10:05
 * (the WHERE is false: 423 naming A); A writes at 10:30 (check_write renews to 11:30); A's CI job
 * is cancelled; B locks at 11:31 (WHERE true: TAKEN_OVER, previous = A); A's late write at 11:32
 * finds no live row with its ID and gets 423. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "lock/lock.h"
#include "pg/pg.h"

struct pg_lockstore {
    struct lockstore base;
    struct pgconn_pool *pool;
    char ttl[24]; /* ttl in microseconds, as the text parameter the statements take */
};

/* The statements read better laid out as SQL. */
/* clang-format off */

/* The six holder columns of table alias t: id, info, created, renewed, expires (us), owner. */
#define HOLDER_COLS(t)                                                                             \
    t ".id, " t ".info, " PGCONN_US(t ".created_at") ", " PGCONN_US(t ".renewed_at") ", "         \
    PGCONN_US(t ".expires_at") ", " t ".owner"
#define HOLDER_NCOLS 6

/* $1 state, $2 id, $3 info, $4 ttl (us), $5 owner. Columns: 0 outcome (A/R/T, NULL when
 * refused), 1-6 the lease now, 7-12 the row as it was before (NULL when none). A re-entry
 * keeps the first owner, as it keeps the first info. */
static const char SQL_ACQUIRE[] =
    "WITH old AS ("
    "  SELECT id, info, created_at, renewed_at, expires_at, owner, expires_at <= now() AS expired"
    "  FROM locks WHERE state = $1 FOR UPDATE"
    "), up AS ("
    "  INSERT INTO locks AS l (state, id, info, created_at, renewed_at, expires_at, owner)"
    "  SELECT $1::text, $2::text, $3::text, now(), now(),"
    "         now() + $4::bigint * interval '1 microsecond', $5::text"
    "  FROM (SELECT count(*) FROM old) AS after_old"
    "  ON CONFLICT (state) DO UPDATE SET"
    "    id = EXCLUDED.id,"
    "    info = CASE WHEN l.expires_at > now() THEN l.info ELSE EXCLUDED.info END,"
    "    owner = CASE WHEN l.expires_at > now() THEN l.owner ELSE EXCLUDED.owner END,"
    "    created_at = CASE WHEN l.expires_at > now() THEN l.created_at ELSE now() END,"
    "    renewed_at = now(),"
    "    expires_at = EXCLUDED.expires_at"
    "  WHERE l.expires_at <= now() OR l.id = EXCLUDED.id"
    "  RETURNING l.id, l.info, l.created_at, l.renewed_at, l.expires_at, l.owner"
    ") "
    "SELECT CASE WHEN up.id IS NULL THEN NULL"
    "            WHEN old.id IS NULL THEN 'A' WHEN old.expired THEN 'T' ELSE 'R' END, "
    "       " HOLDER_COLS("up") ", " HOLDER_COLS(
        "old") " FROM (SELECT 1) AS one LEFT JOIN up ON true LEFT JOIN old ON true";

/* $1 state. The live lease, for reports after an atomic attempt was refused. */
static const char SQL_LIVE[] =
    "SELECT " HOLDER_COLS("l") " FROM locks l"
                               " WHERE l.state = $1 AND l.expires_at > now()";

/* $1 state, $2 id or NULL (force). Column 6: whether the deleted lease was live. */
static const char SQL_RELEASE[] =
    "DELETE FROM locks l WHERE l.state = $1 AND ($2::text IS NULL OR l.id = $2)"
    " RETURNING " HOLDER_COLS("l") ", l.expires_at > now()";

/* $1 state, $2 id, $3 ttl. Renews the live lease of that ID. */
static const char SQL_RENEW[] =
    "UPDATE locks l SET renewed_at = now(),"
    "                   expires_at = now() + $3::bigint * interval '1 microsecond'"
    " WHERE l.state = $1 AND l.id = $2 AND l.expires_at > now()"
    " RETURNING " HOLDER_COLS("l");

static const char SQL_LIST[] = "SELECT l.state, " HOLDER_COLS(
    "l") " FROM locks l"
         " WHERE l.expires_at > now() ORDER BY l.state COLLATE \"C\"";

static const char SQL_STATS[] =
    "SELECT count(*), COALESCE(" PGCONN_US("now()") " - min(" PGCONN_US("l.created_at") "), 0)"
    " FROM locks l WHERE l.expires_at > now()";

/* $1 state. The lease recorded for it, when it has expired. */
static const char SQL_EXPIRED[] = "SELECT " HOLDER_COLS("l") " FROM locks l"
                                  " WHERE l.state = $1 AND l.expires_at <= now()";

/* clang-format on */

/* The statements of every lock request, prepared per connection (pg.h). */
static struct pgconn_stmt stmt_acquire = PGCONN_STMT("acquire lock", SQL_ACQUIRE, 5);
static struct pgconn_stmt stmt_live = PGCONN_STMT("read lock", SQL_LIVE, 1);
static struct pgconn_stmt stmt_release = PGCONN_STMT("release lock", SQL_RELEASE, 2);
static struct pgconn_stmt stmt_renew = PGCONN_STMT("renew lock", SQL_RENEW, 3);

static struct pg_lockstore *pls(struct lockstore *ls)
{
    return (struct pg_lockstore *)ls;
}

/* Fills h from HOLDER_NCOLS columns starting at col; false when they are NULL (no such row). */
static bool read_holder(const PGresult *r, int row, int col, struct lock_holder *h)
{
    if (PQgetisnull(r, row, col))
        return false;
    lock_holder_cleanup(h);
    snprintf(h->id, sizeof(h->id), "%s", PQgetvalue(r, row, col));
    h->info_json = xstrdup(PQgetvalue(r, row, col + 1));
    h->created_us = strtoll(PQgetvalue(r, row, col + 2), NULL, 10);
    h->renewed_us = strtoll(PQgetvalue(r, row, col + 3), NULL, 10);
    h->expires_us = strtoll(PQgetvalue(r, row, col + 4), NULL, 10);
    snprintf(h->owner, sizeof(h->owner), "%s", PQgetvalue(r, row, col + 5));
    return true;
}

static int check_id(const char *id, struct err *err)
{
    if (id && strlen(id) >= LOCK_ID_MAX)
        return err_set(err, ERR_INVALID, "lock ID longer than %d bytes", LOCK_ID_MAX - 1);
    return 0;
}

/* Reads the live lease of state into res->holder; 1 when there is one, 0 when none, -1. */
static int read_live(struct pg_lockstore *p, const char *state, struct lock_result *res,
                     struct err *err)
{
    const char *params[] = {state};
    PGresult *r = pgconn_exec_stmt(p->pool, &stmt_live, params, true, err);
    if (!r)
        return -1;
    int found = PQntuples(r) > 0 && read_holder(r, 0, 0, &res->holder);
    PQclear(r);
    return found;
}

static int locked(const char *state, struct lock_result *res, struct err *err)
{
    return err_set(err, ERR_LOCKED, "%s is locked by ID %s", state,
                   res->holder.id[0] ? res->holder.id : "(unknown)");
}

static int pg_acquire(struct lockstore *ls, const char *state, const char *id,
                      const char *info_json, const char *owner, struct lock_result *res,
                      struct err *err)
{
    struct pg_lockstore *p = pls(ls);
    if (!id || !id[0])
        return err_set(err, ERR_INVALID, "lock without an ID");
    if (check_id(id, err) != 0)
        return -1;
    const char *params[] = {state, id, info_json ? info_json : "", p->ttl, owner ? owner : ""};
    /* Refused with no holder visible means the holder released or expired between the
     * statement's snapshot and our report; the lock is free now, so try again (bounded). */
    for (int attempt = 0; attempt < 3; attempt++) {
        PGresult *r = pgconn_exec_stmt(p->pool, &stmt_acquire, params, true, err);
        if (!r)
            return -1;
        int rows = PQntuples(r);
        if (rows != 1) {
            PQclear(r);
            return err_set(err, ERR_INTERNAL, "acquire lock: %d rows", rows);
        }
        if (!PQgetisnull(r, 0, 0)) {
            char o = PQgetvalue(r, 0, 0)[0];
            read_holder(r, 0, 1, &res->holder);
            res->outcome = o == 'A' ? LOCK_ACQUIRED : o == 'T' ? LOCK_TAKEN_OVER : LOCK_REENTERED;
            if (o == 'T')
                read_holder(r, 0, 1 + HOLDER_NCOLS, &res->previous);
            PQclear(r);
            return 0;
        }
        bool have = read_holder(r, 0, 1 + HOLDER_NCOLS, &res->holder);
        PQclear(r);
        if (!have) {
            int found = read_live(p, state, res, err);
            if (found < 0)
                return -1;
            have = found > 0;
        }
        if (have)
            return locked(state, res, err);
    }
    return err_set(err, ERR_UNAVAILABLE, "acquire lock on %s: contended, retry", state);
}

static int pg_release(struct lockstore *ls, const char *state, const char *id,
                      struct lock_result *res, struct err *err)
{
    struct pg_lockstore *p = pls(ls);
    if (check_id(id, err) != 0)
        return -1;
    const char *params[] = {state, id};
    PGresult *r = pgconn_exec_stmt(p->pool, &stmt_release, params, true, err);
    if (!r)
        return -1;
    if (PQntuples(r) > 0) {
        bool live = PQgetvalue(r, 0, HOLDER_NCOLS)[0] == 't';
        if (live) {
            read_holder(r, 0, 0, &res->previous);
            res->outcome = LOCK_RELEASED;
        } else {
            res->outcome = LOCK_NOT_HELD; /* only an expired lease was left: cleaned up */
        }
        PQclear(r);
        return 0;
    }
    PQclear(r);
    if (!id) {
        res->outcome = LOCK_NOT_HELD;
        return 0;
    }
    /* Nothing with our ID: report another live holder, if any (unlock by a non-holder). */
    int found = read_live(p, state, res, err);
    if (found < 0)
        return -1;
    if (found)
        return locked(state, res, err);
    res->outcome = LOCK_NOT_HELD;
    return 0;
}

static int pg_check_write(struct lockstore *ls, const char *state, const char *id,
                          struct lock_result *res, struct err *err)
{
    struct pg_lockstore *p = pls(ls);
    if (check_id(id, err) != 0)
        return -1;
    if (id) {
        const char *params[] = {state, id, p->ttl};
        PGresult *r = pgconn_exec_stmt(p->pool, &stmt_renew, params, true, err);
        if (!r)
            return -1;
        bool renewed = PQntuples(r) > 0 && read_holder(r, 0, 0, &res->holder);
        PQclear(r);
        if (renewed) {
            res->outcome = LOCK_RENEWED;
            return 0;
        }
        if (read_live(p, state, res, err) < 0)
            return -1;
        if (res->holder.id[0])
            return locked(state, res, err);
        return err_set(err, ERR_LOCKED, "%s: ID %s holds no live lock", state, id);
    }
    int found = read_live(p, state, res, err);
    if (found < 0)
        return -1;
    if (found)
        return locked(state, res, err);
    res->outcome = LOCK_FREE;
    return 0;
}

static int pg_get(struct lockstore *ls, const char *state, struct lock_result *res, struct err *err)
{
    int found = read_live(pls(ls), state, res, err);
    if (found < 0)
        return -1;
    if (!found)
        return err_set(err, ERR_NOT_FOUND, "%s is not locked", state);
    return 0;
}

static int pg_list(struct lockstore *ls, int (*cb)(void *ctx, const struct lock_entry *e),
                   void *ctx, struct err *err)
{
    /* Leases are few (one per state being applied right now), so one result is fine. */
    PGresult *r = pgconn_exec(pls(ls)->pool, "list locks", SQL_LIST, 0, NULL, true, err);
    if (!r)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        struct lock_holder h = {0};
        read_holder(r, i, 1, &h);
        struct lock_entry e = {.state = PQgetvalue(r, i, 0), .holder = &h};
        rc = cb(ctx, &e);
        lock_holder_cleanup(&h);
    }
    PQclear(r);
    return rc;
}

static int pg_stats(struct lockstore *ls, struct lock_stats *out, struct err *err)
{
    PGresult *r = pgconn_exec(pls(ls)->pool, "lock stats", SQL_STATS, 0, NULL, true, err);
    if (!r)
        return -1;
    out->held = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    out->oldest_age_us = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    return 0;
}

static int pg_ping(struct lockstore *ls, struct err *err)
{
    PGresult *r = pgconn_exec(pls(ls)->pool, "ping", "SELECT 1", 0, NULL, true, err);
    if (!r)
        return -1;
    PQclear(r);
    return 0;
}

/* The lease moves only when its owner renews it or it has lapsed; the stored seq is kept. */
static const char SQL_CLAIM[] =
    "INSERT INTO webhook_cursors AS w (name, seq, owner, lease_until) VALUES ($1, $2::bigint, $3,"
    " now() + $4::bigint * interval '1 microsecond') ON CONFLICT (name) DO UPDATE SET"
    " owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until"
    " WHERE w.owner = EXCLUDED.owner OR w.lease_until < now() RETURNING w.seq";

static int pg_cursor_claim(struct lockstore *ls, const char *name, const char *owner,
                           int64_t lease_us, uint64_t initial, uint64_t *cursor, bool *mine,
                           struct err *err)
{
    char init[24], lease[24];
    snprintf(init, sizeof(init), "%llu", (unsigned long long)initial);
    snprintf(lease, sizeof(lease), "%lld", (long long)lease_us);
    const char *params[] = {name, init, owner, lease};
    PGresult *r = pgconn_exec(pls(ls)->pool, "claim cursor", SQL_CLAIM, 4, params, true, err);
    if (!r)
        return -1;
    *mine = PQntuples(r) == 1;
    if (*mine)
        *cursor = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

static int pg_cursor_save(struct lockstore *ls, const char *name, const char *owner,
                          uint64_t cursor, bool *kept, struct err *err)
{
    char seq[24];
    snprintf(seq, sizeof(seq), "%llu", (unsigned long long)cursor);
    const char *params[] = {name, owner, seq};
    PGresult *r = pgconn_exec(pls(ls)->pool, "save cursor",
                              "UPDATE webhook_cursors SET seq = greatest(seq, $3::bigint)"
                              " WHERE name = $1 AND owner = $2 AND lease_until >= now()",
                              3, params, true, err);
    if (!r)
        return -1;
    *kept = atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    return 0;
}

static int pg_report_once(struct lockstore *ls, const char *state, const char *lock_id, bool *first,
                          struct err *err)
{
    const char *params[] = {state, lock_id};
    PGresult *r = pgconn_exec(pls(ls)->pool, "report stale lock",
                              "INSERT INTO stale_locks_reported (state, lock_id) VALUES ($1, $2)"
                              " ON CONFLICT DO NOTHING RETURNING 1",
                              2, params, true, err);
    if (!r)
        return -1;
    *first = PQntuples(r) == 1;
    PQclear(r);
    return 0;
}

static void pg_free(struct lockstore *ls)
{
    if (!ls)
        return;
    pgconn_pool_unref(pls(ls)->pool);
    free(ls);
}

static int pg_expired(struct lockstore *ls, const char *state, struct lock_result *res,
                      struct err *err)
{
    const char *params[] = {state};
    PGresult *r =
        pgconn_exec(pls(ls)->pool, "read expired lock", SQL_EXPIRED, 1, params, true, err);
    if (!r)
        return -1;
    bool found = PQntuples(r) > 0 && read_holder(r, 0, 0, &res->previous);
    PQclear(r);
    return found ? 0 : err_set(err, ERR_NOT_FOUND, "%s has no expired lease", state);
}

static const struct lockstore_ops pg_ops = {
    .acquire = pg_acquire,
    .release = pg_release,
    .check_write = pg_check_write,
    .get = pg_get,
    .expired = pg_expired,
    .list = pg_list,
    .stats = pg_stats,
    .ping = pg_ping,
    .cursor_claim = pg_cursor_claim,
    .cursor_save = pg_cursor_save,
    .report_once = pg_report_once,
    .free = pg_free,
    .kind = "postgres",
};

struct lockstore *lockstore_pg_new(const char *conninfo, int64_t ttl_us, struct err *err)
{
    if (ttl_us <= 0 || ttl_us > LOCK_TTL_MAX_US) {
        err_set(err, ERR_INVALID, "lock ttl must be between 1 us and 1 h");
        return NULL;
    }
    struct pgconn_pool *pool = pgconn_pool_ref(conninfo, err);
    if (!pool)
        return NULL;
    struct pg_lockstore *p = xcalloc(1, sizeof(*p));
    p->base.ops = &pg_ops;
    p->base.ttl_us = ttl_us;
    p->pool = pool;
    snprintf(p->ttl, sizeof(p->ttl), "%lld", (long long)ttl_us);
    return &p->base;
}
