/* pg/conn.c: per-thread PostgreSQL connections and reconnection.
 *
 * Why per-thread connections and not a pool with check-out: a worker runs one request at a
 * time and every statement we send is short, so a connection per worker is never contended and
 * needs no locking on the hot path. The pthread key's destructor closes a thread's connection
 * when the thread exits; the pool keeps a list of every connection so freeing the pool closes
 * the ones still open (pthread_key_delete runs no destructors).
 *
 * Reconnection: a connection found broken (the server restarted, a failover, a network cut) is
 * closed and replaced on the next use. libpq reports a server shutdown to an idle client only
 * when it next reads, so before handing out an idle connection we poll its socket: readable
 * while idle means the server said something (usually "terminating connection") or closed it.
 *
 * The schema (pg/schema.c) is applied when a pool is first created, before it is shared. */
#include "pg/pg.h"
#include "pg/pg_int.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"

struct slot {
    struct pgconn_pool *pool;
    PGconn *conn;
    uint64_t prepared; /* bit id-1 set: statement id is prepared on conn */
    struct slot *prev, *next;
};

struct pgconn_pool {
    char *conninfo; /* may hold a password: never logged */
    int refs;
    pthread_key_t key;
    pthread_mutex_t mu; /* guards slots */
    struct slot *slots;
    atomic_bool down; /* the last connection attempt failed */
    struct pgconn_pool *next;
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pgconn_pool *registry;

/* Copies a libpq message into err's detail on one line. */
static void set_pq_err(struct err *err, enum err_code code, const char *what, const char *msg)
{
    char clean[200];
    size_t n = 0;
    for (const char *s = msg ? msg : ""; *s && n + 1 < sizeof(clean); s++)
        clean[n++] = (*s == '\n' || *s == '\r' || *s == '\t') ? ' ' : *s;
    while (n > 0 && clean[n - 1] == ' ')
        n--;
    clean[n] = '\0';
    err_set(err, code, "%s: %s", what, n ? clean : "no message from PostgreSQL");
}

static void slot_close(struct slot *s)
{
    if (s->conn) {
        PQfinish(s->conn);
        s->conn = NULL;
    }
    s->prepared = 0;
}

static void on_thread_exit(void *arg)
{
    struct slot *s = arg;
    struct pgconn_pool *p = s->pool;
    pthread_mutex_lock(&p->mu);
    if (s->prev)
        s->prev->next = s->next;
    else
        p->slots = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&p->mu);
    slot_close(s);
    free(s);
}

static struct slot *thread_slot(struct pgconn_pool *p)
{
    struct slot *s = pthread_getspecific(p->key);
    if (s)
        return s;
    s = xcalloc(1, sizeof(*s));
    s->pool = p;
    pthread_mutex_lock(&p->mu);
    s->next = p->slots;
    if (p->slots)
        p->slots->prev = s;
    p->slots = s;
    pthread_mutex_unlock(&p->mu);
    if (pthread_setspecific(p->key, s) != 0)
        die_bug("pthread_setspecific failed");
    return s;
}

/* False when an idle connection is known dead: its socket is readable (the server spoke or
 * hung up while we were not asking) and reading shows the connection is gone. */
static bool conn_alive(PGconn *c)
{
    if (PQstatus(c) != CONNECTION_OK)
        return false;
    struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
    if (pfd.fd < 0)
        return false;
    if (poll(&pfd, 1, 0) <= 0)
        return true;
    if (!PQconsumeInput(c))
        return false;
    PGnotify *n;
    while ((n = PQnotifies(c)) != NULL)
        PQfreemem(n);
    return PQstatus(c) == CONNECTION_OK;
}

/* Server notices (e.g. "relation already exists, skipping") are not errors: debug log only. */
static void on_notice(void *arg, const char *message)
{
    size_t n = strlen(message);
    while (n > 0 && message[n - 1] == '\n')
        n--;
    log_debug("PostgreSQL notice: %.*s", (int)n, message);
}

static PGconn *connect_once(struct pgconn_pool *p, struct err *err)
{
    /* Keywords before dbname are defaults the conninfo may override (libpq processes them in
     * order and expands dbname in place); application_name comes from the conninfo or is
     * "stated". keepalives find a dead peer on an idle connection in about a minute. */
    const char *const keys[] = {"connect_timeout",  "keepalives",
                                "keepalives_idle",  "keepalives_interval",
                                "keepalives_count", "fallback_application_name",
                                "dbname",           NULL};
    const char *const vals[] = {"2", "1", "30", "10", "3", "stated", p->conninfo, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        err_set(err, ERR_UNAVAILABLE, "connect to PostgreSQL: out of memory in libpq");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        set_pq_err(err, ERR_UNAVAILABLE, "connect to PostgreSQL", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, on_notice, NULL);
    /* A statement stuck behind a lock or a slow server must not hold a worker forever; and a
     * session that stops talking inside a transaction (an instance frozen or cut off while it
     * holds the audit lock) is ended by the server, releasing its locks for the others. */
    PGresult *r =
        PQexec(c, "SET statement_timeout = '" PGCONN_STATEMENT_TIMEOUT "';"
                  " SET idle_in_transaction_session_timeout = '" PGCONN_IDLE_TX_TIMEOUT "'");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        set_pq_err(err, ERR_UNAVAILABLE, "set session timeouts", PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        return NULL;
    }
    PQclear(r);
    return c;
}

/* Every failed statement and every request that found PostgreSQL unreachable. */
static struct metric m_errors = {.name = "stated_postgres_errors_total",
                                 .help =
                                     "PostgreSQL failures: statements that failed and connections "
                                     "that could not be made.",
                                 .type = METRIC_COUNTER};

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* The JSON log's fields of the two transitions, for a log query or an alert on them. */
#define EV_UP                                                                                      \
    ((const struct log_field[]){LOG_STR("component", "postgres"), LOG_STR("event", "reconnecte"    \
                                                                                   "d")})
#define EV_DOWN                                                                                    \
    ((const struct log_field[]){LOG_STR("component", "postgres"), LOG_STR("event", "unreachabl"    \
                                                                                   "e")})

PGconn *pgconn_get(struct pgconn_pool *p, struct err *err)
{
    struct slot *s = thread_slot(p);
    if (s->conn && !conn_alive(s->conn))
        slot_close(s);
    if (s->conn && PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
        /* A transaction left open by a failed request: end it before anyone reuses this. */
        PQclear(PQexec(s->conn, "ROLLBACK"));
        if (PQstatus(s->conn) != CONNECTION_OK || PQtransactionStatus(s->conn) != PQTRANS_IDLE)
            slot_close(s);
    }
    if (s->conn)
        return s->conn;

    /* Connect within the request's budget, backing off between attempts. When the server is
     * already known to be down, one attempt only: the request that noticed the outage waits,
     * the others answer 503 at once, and the first attempt after recovery succeeds. */
    int64_t start = mono_ms(), delay = 50;
    bool was_down = atomic_load(&p->down);
    for (;;) {
        struct err e1 = {0};
        PGconn *c = connect_once(p, &e1);
        if (c) {
            if (atomic_exchange(&p->down, false))
                log_fields(LOG_INFO, EV_UP, 2, "PostgreSQL reachable again");
            s->conn = c;
            return c;
        }
        if (!atomic_exchange(&p->down, true))
            log_fields(LOG_WARN, EV_DOWN, 2, "PostgreSQL unreachable: %s", e1.msg);
        int64_t spent = mono_ms() - start;
        if (was_down || spent + delay > PGCONN_BUDGET_MS) {
            metric_inc(&m_errors);
            err_set(err, e1.code, "%s", e1.msg);
            return NULL;
        }
        sleep_ms(delay);
        delay *= 2;
    }
}

/* Closes the calling thread's connection if it is c and broken. */
static void drop_if_broken(struct pgconn_pool *p, PGconn *c)
{
    if (!c || PQstatus(c) == CONNECTION_OK)
        return;
    struct slot *s = pthread_getspecific(p->key);
    if (s && s->conn == c)
        slot_close(s);
}

void pgconn_drop(struct pgconn_pool *p, const PGconn *c)
{
    struct slot *s = pthread_getspecific(p->key);
    if (c && s && s->conn == c)
        slot_close(s);
}

static enum err_code classify(const char *sqlstate)
{
    if (!sqlstate || !*sqlstate)
        return ERR_UNAVAILABLE; /* no server answer at all: the connection failed */
    if (!strncmp(sqlstate, "08", 2) || !strncmp(sqlstate, "53", 2) || !strncmp(sqlstate, "57", 2) ||
        !strcmp(sqlstate, "40001") || !strcmp(sqlstate, "40P01") || !strcmp(sqlstate, "55P03") ||
        !strcmp(sqlstate, "25006"))
        return ERR_UNAVAILABLE; /* connection, resources, shutdown/timeout, conflicts, replica */
    if (!strncmp(sqlstate, "22", 2))
        return ERR_INVALID; /* data exception, e.g. bytes that are not UTF-8 */
    return ERR_INTERNAL;
}

int pgconn_fail(struct pgconn_pool *p, PGconn *c, const PGresult *r, const char *what,
                struct err *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    enum err_code code = classify(state);
    if (c && PQstatus(c) != CONNECTION_OK)
        code = ERR_UNAVAILABLE;
    if (!msg || !*msg)
        msg = c ? PQerrorMessage(c) : "";
    char label[120];
    snprintf(label, sizeof(label), "%s%s%s%s", what, state ? " (SQLSTATE " : "", state ? state : "",
             state ? ")" : "");
    set_pq_err(err, code, label, msg);
    drop_if_broken(p, c);
    metric_inc(&m_errors);
    return -1;
}

static bool result_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return r && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK);
}

PGresult *pgconn_exec_on(struct pgconn_pool *p, PGconn *c, const char *what, const char *sql,
                         int nparams, const char *const *params, struct err *err)
{
    PGresult *r = (nparams == 0 && !params)
                      ? PQexec(c, sql)
                      : PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    if (result_ok(r))
        return r;
    pgconn_fail(p, c, r, what, err);
    PQclear(r);
    return NULL;
}

PGresult *pgconn_exec(struct pgconn_pool *p, const char *what, const char *sql, int nparams,
                      const char *const *params, bool retry, struct err *err)
{
    for (int attempt = 0;; attempt++) {
        PGconn *c = pgconn_get(p, err);
        if (!c)
            return NULL;
        PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
        if (result_ok(r))
            return r;
        if (retry && attempt == 0 && PQstatus(c) != CONNECTION_OK) {
            /* The connection died under us (a restart between our liveness poll and the
             * send): the statement is safe to repeat, so try once on a fresh connection. */
            PQclear(r);
            drop_if_broken(p, c);
            continue;
        }
        pgconn_fail(p, c, r, what, err);
        PQclear(r);
        return NULL;
    }
}

/* Statement ids are given in order of first use, program-wide: the same statement has the
 * same name on every connection. */
static atomic_int stmt_ids;

static int stmt_id(struct pgconn_stmt *st)
{
    int id = atomic_load(&st->id);
    if (id)
        return id;
    int mine = atomic_fetch_add(&stmt_ids, 1) + 1, none = 0;
    if (mine > PGCONN_STMT_MAX)
        die_bug("more than %d prepared statements", PGCONN_STMT_MAX);
    return atomic_compare_exchange_strong(&st->id, &none, mine) ? mine : none;
}

/* The slot of c when it is the calling thread's connection (it always is: connections are
 * per thread), else NULL. */
static struct slot *slot_of(struct pgconn_pool *p, const PGconn *c)
{
    struct slot *s = pthread_getspecific(p->key);
    return s && s->conn == c ? s : NULL;
}

/* Prepares st on c unless it already is there. NULL when it is, else the failed result
 * (PQclear it) or, after a lost connection, possibly NULL too with PQstatus(c) not OK. */
static bool prepare_on(struct pgconn_pool *p, PGconn *c, struct pgconn_stmt *st, char name[16],
                       PGresult **failed)
{
    int id = stmt_id(st);
    snprintf(name, 16, "stated_%d", id);
    struct slot *s = slot_of(p, c);
    uint64_t bit = UINT64_C(1) << (id - 1);
    *failed = NULL;
    if (s && (s->prepared & bit))
        return true;
    PGresult *r = PQprepare(c, name, st->sql, st->nparams, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        *failed = r;
        return false;
    }
    PQclear(r);
    if (s)
        s->prepared |= bit;
    return true;
}

int pgconn_prepare(struct pgconn_pool *p, PGconn *c, struct pgconn_stmt *st, char name[16],
                   struct err *err)
{
    PGresult *failed;
    if (prepare_on(p, c, st, name, &failed))
        return 0;
    pgconn_fail(p, c, failed, st->what, err);
    PQclear(failed);
    return -1;
}

/* True for the errors after which a prepared statement must be prepared again: it does not
 * exist on the server (26000) or its cached plan no longer fits the tables (0A000). */
static bool stmt_lost(const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return state && (!strcmp(state, "26000") || !strcmp(state, "0A000"));
}

/* One run of st on c (prepared first if needed). The result when it succeeded, else NULL
 * with *failed the failed result (or NULL) and *again whether preparing it anew and running
 * it once more is safe (it did not run). */
static PGresult *run_stmt(struct pgconn_pool *p, PGconn *c, struct pgconn_stmt *st,
                          const char *const *params, PGresult **failed, bool *again)
{
    char name[16];
    *again = false;
    if (!prepare_on(p, c, st, name, failed))
        return NULL;
    PGresult *r = PQexecPrepared(c, name, st->nparams, params, NULL, NULL, 0);
    if (result_ok(r))
        return r;
    *failed = r;
    if (stmt_lost(r)) {
        struct slot *s = slot_of(p, c);
        if (s)
            s->prepared &= ~(UINT64_C(1) << (stmt_id(st) - 1));
        *again = true;
    }
    return NULL;
}

PGresult *pgconn_exec_stmt_on(struct pgconn_pool *p, PGconn *c, struct pgconn_stmt *st,
                              const char *const *params, char sqlstate[6], struct err *err)
{
    PGresult *failed;
    bool again;
    PGresult *r = run_stmt(p, c, st, params, &failed, &again);
    if (r)
        return r;
    const char *state = failed ? PQresultErrorField(failed, PG_DIAG_SQLSTATE) : NULL;
    snprintf(sqlstate, 6, "%s", state ? state : "");
    pgconn_fail(p, c, failed, st->what, err);
    PQclear(failed);
    return NULL;
}

PGresult *pgconn_exec_stmt(struct pgconn_pool *p, struct pgconn_stmt *st, const char *const *params,
                           bool retry, struct err *err)
{
    for (int attempt = 0;; attempt++) {
        PGconn *c = pgconn_get(p, err);
        if (!c)
            return NULL;
        PGresult *failed;
        bool again;
        PGresult *r = run_stmt(p, c, st, params, &failed, &again);
        if (r)
            return r;
        /* Once more for a statement to prepare anew (it did not run) or, with retry, one
         * whose connection died under it (see pgconn_exec). */
        if (attempt == 0 && (again || (retry && PQstatus(c) != CONNECTION_OK))) {
            PQclear(failed);
            drop_if_broken(p, c);
            continue;
        }
        pgconn_fail(p, c, failed, st->what, err);
        PQclear(failed);
        return NULL;
    }
}

void pgconn_rollback(struct pgconn_pool *p, PGconn *c)
{
    /* c may have been closed by the failure being handled (pgconn_fail drops a broken
     * connection): then it is no longer the thread's, and there is nothing to end. */
    if (!c || !slot_of(p, c))
        return;
    if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
    drop_if_broken(p, c);
}

static void pool_free(struct pgconn_pool *p)
{
    pthread_key_delete(p->key);
    struct slot *s = p->slots;
    while (s) {
        struct slot *n = s->next;
        slot_close(s);
        free(s);
        s = n;
    }
    pthread_mutex_destroy(&p->mu);
    free(p->conninfo);
    free(p);
}

/* Registered when the program starts, not when a pool opens: the name is exported (at 0) in
 * embedded mode too, so one dashboard and one alert fit every stated. */
__attribute__((constructor)) static void register_metrics(void)
{
    metrics_register(&m_errors);
}

struct pgconn_pool *pgconn_pool_ref(const char *conninfo, struct err *err)
{
    if (!conninfo || !*conninfo) {
        err_set(err, ERR_INVALID, "empty PostgreSQL conninfo");
        return NULL;
    }
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (!opts) {
        /* libpq's message names the bad keyword or URL part, not the password. */
        set_pq_err(err, ERR_INVALID, "PostgreSQL conninfo", perr ? perr : "malformed");
        PQfreemem(perr);
        return NULL;
    }
    PQconninfoFree(opts);

    pthread_mutex_lock(&registry_mu);
    for (struct pgconn_pool *q = registry; q; q = q->next) {
        if (!strcmp(q->conninfo, conninfo)) {
            q->refs++;
            pthread_mutex_unlock(&registry_mu);
            return q;
        }
    }
    struct pgconn_pool *p = xcalloc(1, sizeof(*p));
    p->conninfo = xstrdup(conninfo);
    p->refs = 1;
    atomic_init(&p->down, false);
    pthread_mutex_init(&p->mu, NULL);
    if (pthread_key_create(&p->key, on_thread_exit) != 0)
        die_bug("pthread_key_create failed");
    /* Migrating under the registry lock keeps a second driver on the same conninfo from using
     * the schema before it exists; it happens once, at start-up. */
    if (pg__migrate(p, err) != 0) {
        pthread_mutex_unlock(&registry_mu);
        pool_free(p);
        return NULL;
    }
    p->next = registry;
    registry = p;
    pthread_mutex_unlock(&registry_mu);
    return p;
}

void pgconn_pool_unref(struct pgconn_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&registry_mu);
    if (--p->refs > 0) {
        pthread_mutex_unlock(&registry_mu);
        return;
    }
    for (struct pgconn_pool **pp = &registry; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_mu);
    pool_free(p);
}
