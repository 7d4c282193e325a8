/* pg/pg.h: PostgreSQL connections and the schema. The whole API of pg/.
 *
 * Used by the parts that keep data in PostgreSQL (lock/pg.c, audit/pg.c); the tables they use
 * are all created by pg/schema.c, in one sequence of versioned migrations. A pool is one
 * conninfo; every thread that uses it gets its own connection (a pthread key whose destructor
 * closes it), so a worker never waits for another worker's statement. Both drivers built from
 * the same conninfo share one pool, hence one connection per worker thread.
 *
 * Failures to reach the server are ERR_UNAVAILABLE. A lost connection is replaced on the next
 * use; a request waits at most about PGCONN_BUDGET_MS for a new one (with backoff between
 * attempts), and while the server is known to be down each request makes a single attempt, so
 * an outage turns into quick 503s rather than a pile of blocked workers.
 *
 * The conninfo's own settings win over our defaults (connect_timeout 2 s, TCP keepalives,
 * application_name "stated"); statement_timeout and idle_in_transaction_session_timeout are
 * set on every new connection. TLS follows the conninfo's sslmode (libpq's default, "prefer",
 * silently falls back to plain text): for Scaleway Managed PostgreSQL over a public endpoint
 * put `?sslmode=require` on the URL, or `sslmode=verify-full` with `sslrootcert` set to the
 * instance's CA certificate to also check the server, e.g.
 * postgres://stated:PASSWORD@HOST:PORT/tfstate?sslmode=require. */
#ifndef STATED_PG_H
#define STATED_PG_H

#include <stdatomic.h>
#include <stdbool.h>

#include <libpq-fe.h>

#include "common/err.h"

#define PGCONN_BUDGET_MS         2000
#define PGCONN_STATEMENT_TIMEOUT "5s"
#define PGCONN_IDLE_TX_TIMEOUT   "30s" /* audit export turns it off for its own transaction */

struct pgconn_pool;

/* Returns the pool for conninfo (a postgres:// URL or a key=value string), creating it on first
 * use and applying the schema migrations once; later calls with the same conninfo share it.
 * ERR_INVALID for a malformed conninfo, ERR_UNAVAILABLE when the server cannot be reached.
 * Release with pgconn_pool_unref. */
struct pgconn_pool *pgconn_pool_ref(const char *conninfo, struct err *err);
void pgconn_pool_unref(struct pgconn_pool *p);

/* The calling thread's connection, (re)connected if needed and idle (no open transaction).
 * Borrowed: valid until the next pgconn_* call on this thread for this pool. */
PGconn *pgconn_get(struct pgconn_pool *p, struct err *err);

/* Runs one statement with text parameters (NULL entries are SQL NULL) and returns its result
 * when its status is PGRES_TUPLES_OK or PGRES_COMMAND_OK (caller PQclears), else NULL with err
 * set. With `retry`, a statement that failed because the connection was lost is run once more
 * on a fresh connection: only for statements that are safe to repeat. */
PGresult *pgconn_exec(struct pgconn_pool *p, const char *what, const char *sql, int nparams,
                      const char *const *params, bool retry, struct err *err);
/* The same on a connection already obtained with pgconn_get (inside a transaction), never
 * retried. When the connection is found broken it is dropped so the next get reconnects.
 * With nparams 0 and params NULL the text may hold several statements (simple protocol). */
PGresult *pgconn_exec_on(struct pgconn_pool *p, PGconn *c, const char *what, const char *sql,
                         int nparams, const char *const *params, struct err *err);
/* A statement prepared on each connection at its first use there, so that PostgreSQL parses
 * and plans it once per connection instead of once per call: parsing and planning the lock and
 * audit statements were most of PostgreSQL's CPU time per lock cycle (docs/BENCHMARKS.md).
 * Declare one per SQL text, static, with PGCONN_STMT; a program has at most PGCONN_STMT_MAX. */
struct pgconn_stmt {
    const char *what; /* names it in errors */
    const char *sql;
    int nparams;
    atomic_int id; /* 1.., given at its first use */
};
#define PGCONN_STMT(what_, sql_, nparams_)                                                         \
    {                                                                                              \
        .what = (what_), .sql = (sql_), .nparams = (nparams_)                                      \
    }
#define PGCONN_STMT_MAX 64

/* pgconn_exec and pgconn_exec_on for a prepared statement: same results, errors and retry.
 * A statement the server no longer knows (a connection pooler in between, DISCARD ALL) or
 * whose cached plan went stale (another instance migrated the schema) is prepared again on
 * its next use; pgconn_exec_stmt with `retry` also runs it once more at once. */
PGresult *pgconn_exec_stmt(struct pgconn_pool *p, struct pgconn_stmt *st, const char *const *params,
                           bool retry, struct err *err);
/* pgconn_exec_stmt_on also gives a failure's SQLSTATE in sqlstate ("" when the server sent
 * none), for a caller that handles one specially (e.g. 23505, a unique key refused). */
PGresult *pgconn_exec_stmt_on(struct pgconn_pool *p, PGconn *c, struct pgconn_stmt *st,
                              const char *const *params, char sqlstate[6], struct err *err);
/* Prepares st on c unless it already is there, and writes its name, for PQsendQueryPrepared
 * in pipeline mode. 0, or -1 with err set. */
int pgconn_prepare(struct pgconn_pool *p, PGconn *c, struct pgconn_stmt *st, char name[16],
                   struct err *err);

/* Appends value (NULL: SQL NULL) as the next element of an array literal being built in arr
 * (the caller writes the braces; `first` leaves out the comma). 0 or -1 (arr's ceiling). */
struct buf;
int pgconn_array_add(struct buf *arr, bool first, const char *value, struct err *err);

/* Closes the calling thread's connection if it is c (state unknown, e.g. a pipeline left
 * with unread results); the next pgconn_get reconnects. */
void pgconn_drop(struct pgconn_pool *p, const PGconn *c);
/* Best-effort ROLLBACK after a failure inside a transaction (drops a broken connection). */
void pgconn_rollback(struct pgconn_pool *p, PGconn *c);

/* Sets err from a failed result (or a NULL one): SQLSTATE classes for connection loss,
 * shutdown, timeouts and resource limits become ERR_UNAVAILABLE, data errors ERR_INVALID,
 * anything else ERR_INTERNAL. Drops the connection when it is broken. Returns -1. */
int pgconn_fail(struct pgconn_pool *p, PGconn *c, const PGresult *r, const char *what,
                struct err *err);

/* Timestamps travel as microseconds since the epoch (bigint) in both directions. */
#define PGCONN_US(col) "(extract(epoch from " col ") * 1000000)::bigint"

/* The schema version this build migrates a database to (the number of migrations). */
int pg_schema_version(void);

/* Advisory lock keys (pg_advisory_xact_lock): distinct constants so the migration lock and the
 * audit append lock never wait for each other. */
#define PGCONN_LOCK_MIGRATE 0x73746174656401LL /* "stated" 01 */
#define PGCONN_LOCK_AUDIT   0x73746174656402LL /* "stated" 02 */

#endif
