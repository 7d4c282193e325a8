/* auth/tokens_pg.c: runtime tokens in PostgreSQL (auth_int.h), for servers whose locks are
 * there: one row per token in `tokens` (schema migration 5), so any number of instances share
 * them and a create or revoke is one transaction.
 *
 * Each create and revoke bumps token_changes.epoch in the same statement; instances poll the
 * epoch every second and re-read the tokens when it moved, so a change made on one instance
 * is honoured by all within about a second. Last uses are one UPDATE per batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth/auth_int.h"
#include "common/log.h"
#include "common/util.h"
#include "pg/pg.h"

struct pg_store {
    struct token_store base;
    struct pgconn_pool *pool;
};

static struct pgconn_pool *pool_of(struct token_store *ts)
{
    return ((struct pg_store *)ts)->pool;
}

/* A bigint of microseconds as a timestamptz, exactly (to_timestamp goes through a double). */
#define TS_US(p) "(timestamptz 'epoch' + " p "::bigint * interval '1 microsecond')"

/* clang-format off */

/* One row per token (and one with NULL name when there is none), each with the epoch, read
 * in one snapshot. */
static const char SQL_LOAD[] =
    "SELECT c.epoch, t.name, t.role, t.pattern, t.sha256, " PGCONN_US("t.created_at") ", "
    PGCONN_US("t.expires_at") ", " PGCONN_US("t.last_used_at") ", t.last_used_from"
    " FROM token_changes c LEFT JOIN tokens t ON true WHERE c.id = 1 ORDER BY t.name";

static const char SQL_EPOCH[] = "SELECT epoch FROM token_changes WHERE id = 1";

/* $1 name, $2 role, $3 pattern, $4 sha256, $5 created (us), $6 expires (us) or NULL. One row:
 * 1 when created, 0 when the name was taken. */
static const char SQL_CREATE[] =
    "WITH ins AS ("
    "  INSERT INTO tokens (name, role, pattern, sha256, created_at, expires_at)"
    "  VALUES ($1, $2, $3, $4, " TS_US("$5") ", " TS_US("$6") ")"
    "  ON CONFLICT (name) DO NOTHING RETURNING 1"
    "), bump AS ("
    "  UPDATE token_changes SET epoch = epoch + 1 WHERE id = 1 AND EXISTS (SELECT 1 FROM ins)"
    ") SELECT count(*) FROM ins";

/* $1 name. One row: 1 when revoked, 0 when there was no such token. */
static const char SQL_REVOKE[] =
    "WITH del AS (DELETE FROM tokens WHERE name = $1 RETURNING 1), bump AS ("
    "  UPDATE token_changes SET epoch = epoch + 1 WHERE id = 1 AND EXISTS (SELECT 1 FROM del)"
    ") SELECT count(*) FROM del";

/* $1 JSON [{"name","us","remote"}]: the newer use wins. */
static const char SQL_USES[] =
    "UPDATE tokens t SET last_used_at = " TS_US("u.us") ", last_used_from = u.remote"
    " FROM json_to_recordset($1::json) AS u(name text, us bigint, remote text)"
    " WHERE t.name = u.name AND (t.last_used_at IS NULL OR t.last_used_at < " TS_US("u.us") ")";

/* $1 JSON [{"name","role","pattern","sha256","created_us","expires_us"}]: the tokens document,
 * imported only by the first instance to get here. One row: imported (0/1), rows inserted. */
static const char SQL_IMPORT[] =
    "WITH flag AS ("
    "  UPDATE token_changes SET imported = true, epoch = epoch + 1"
    "  WHERE id = 1 AND NOT imported RETURNING 1"
    "), ins AS ("
    "  INSERT INTO tokens (name, role, pattern, sha256, created_at, expires_at)"
    "  SELECT j.name, j.role, j.pattern, j.sha256, " TS_US("j.created_us") ", "
    TS_US("j.expires_us")
    "  FROM json_to_recordset($1::json) AS j(name text, role text, pattern text, sha256 text,"
    "                                         created_us bigint, expires_us bigint)"
    "  WHERE EXISTS (SELECT 1 FROM flag) ON CONFLICT (name) DO NOTHING RETURNING 1"
    ") SELECT (SELECT count(*) FROM flag), (SELECT count(*) FROM ins)";

static const char SQL_IMPORTED[] = "SELECT imported FROM token_changes WHERE id = 1";

/* clang-format on */

static int64_t us_value(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static bool read_row(const PGresult *r, int row, struct token *t)
{
    memset(t, 0, sizeof(*t));
    const char *name = PQgetvalue(r, row, 1), *role = PQgetvalue(r, row, 2);
    const char *pattern = PQgetvalue(r, row, 3), *sha = PQgetvalue(r, row, 4);
    if (!auth__name_ok(name) || auth_role_parse(role) < 0 || !auth__pattern_ok(pattern) ||
        hex_decode(sha, t->sha, 32) != 0)
        return false;
    snprintf(t->name, sizeof(t->name), "%s", name);
    snprintf(t->pattern, sizeof(t->pattern), "%s", pattern);
    t->role = (enum auth_role)auth_role_parse(role);
    t->source = "postgres";
    t->created_us = us_value(r, row, 5);
    t->expires_us = us_value(r, row, 6);
    t->last_used_us = us_value(r, row, 7);
    snprintf(t->last_used_from, sizeof(t->last_used_from), "%s", PQgetvalue(r, row, 8));
    return true;
}

static int pg_load(struct token_store *ts, struct token **v, size_t *n, uint64_t *epoch,
                   struct err *err)
{
    PGresult *r = pgconn_exec(pool_of(ts), "read tokens", SQL_LOAD, 0, NULL, true, err);
    *v = NULL;
    *n = 0;
    if (r == NULL)
        return -1;
    int rows = PQntuples(r);
    *epoch = rows > 0 ? strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    *v = rows > 0 ? xcalloc((size_t)rows, sizeof(**v)) : NULL;
    for (int i = 0; i < rows; i++) {
        if (PQgetisnull(r, i, 1))
            continue; /* no token at all */
        if (read_row(r, i, &(*v)[*n]))
            (*n)++;
        else
            log_warn("auth: skipping malformed token row '%.64s'", PQgetvalue(r, i, 1));
    }
    PQclear(r);
    return 0;
}

static int pg_epoch(struct token_store *ts, uint64_t *epoch, struct err *err)
{
    PGresult *r = pgconn_exec(pool_of(ts), "poll tokens", SQL_EPOCH, 0, NULL, true, err);
    if (r == NULL)
        return -1;
    *epoch = PQntuples(r) > 0 ? strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return 0;
}

/* The single count a statement answers. */
static long count_of(PGresult *r)
{
    long n = PQntuples(r) > 0 ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return n;
}

static int pg_create(struct token_store *ts, const struct token *t, struct err *err)
{
    char sha[65], created[24], expires[24];
    hex_encode(t->sha, 32, sha);
    snprintf(created, sizeof(created), "%lld", (long long)t->created_us);
    snprintf(expires, sizeof(expires), "%lld", (long long)t->expires_us);
    const char *params[] = {t->name,    auth_role_name(t->role),
                            t->pattern, sha,
                            created,    t->expires_us != 0 ? expires : NULL};
    /* Not retried: after a lost connection the insert may have happened. */
    PGresult *r = pgconn_exec(pool_of(ts), "create token", SQL_CREATE, 6, params, false, err);
    if (r == NULL)
        return -1;
    if (count_of(r) == 0)
        return err_set(err, ERR_INVALID, "a token named '%s' already exists", t->name);
    return 0;
}

static int pg_revoke(struct token_store *ts, const char *name, struct err *err)
{
    const char *params[] = {name};
    PGresult *r = pgconn_exec(pool_of(ts), "revoke token", SQL_REVOKE, 1, params, true, err);
    if (r == NULL)
        return -1;
    if (count_of(r) == 0)
        return err_set(err, ERR_NOT_FOUND, "no runtime token named '%s'", name);
    return 0;
}

static int pg_record_uses(struct token_store *ts, const struct token_use *u, size_t n,
                          struct err *err)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s,s:I,s:s}", "name", u[i].name, "us",
                                             (json_int_t)u[i].us, "remote", u[i].remote));
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (text == NULL)
        return err_set(err, ERR_INTERNAL, "cannot serialise token uses");
    const char *params[] = {text};
    PGresult *r = pgconn_exec(pool_of(ts), "record token uses", SQL_USES, 1, params, true, err);
    free(text);
    if (r == NULL)
        return -1;
    PQclear(r);
    return 0;
}

static void pg_free(struct token_store *ts)
{
    if (ts == NULL)
        return;
    pgconn_pool_unref(pool_of(ts));
    free(ts);
}

static const struct token_store_ops pg_ops = {
    .load = pg_load,
    .epoch = pg_epoch,
    .create = pg_create,
    .revoke = pg_revoke,
    .record_uses = pg_record_uses,
    .free = pg_free,
    .source = "postgres",
    .poll_ms = 1000,
    .flush_ms = 5000,
};

/* The tokens document as SQL_IMPORT's JSON. */
static char *document_json(const struct token *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char sha[65];
        hex_encode(v[i].sha, 32, sha);
        json_t *o =
            json_pack("{s:s,s:s,s:s,s:s,s:I}", "name", v[i].name, "role", auth_role_name(v[i].role),
                      "pattern", v[i].pattern, "sha256", sha, "created_us",
                      (json_int_t)(v[i].created_us ? v[i].created_us : now_us()));
        json_object_set_new(o, "expires_us",
                            v[i].expires_us ? json_integer(v[i].expires_us) : json_null());
        json_array_append_new(arr, o);
    }
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return text;
}

/* Moves the tokens document into the table, once for the database (auth_int.h). */
static int import_document(struct pgconn_pool *pool, const struct auth_persist *persist,
                           struct err *err)
{
    PGresult *r = pgconn_exec(pool, "tokens imported?", SQL_IMPORTED, 0, NULL, true, err);
    if (r == NULL)
        return -1;
    bool done = PQntuples(r) > 0 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (done)
        return 0;
    struct token_store *doc = tokens_doc_new(persist);
    struct token *v = NULL;
    size_t n = 0;
    uint64_t epoch;
    int rc = doc->ops->load(doc, &v, &n, &epoch, err);
    doc->ops->free(doc);
    char *text = rc == 0 ? document_json(v, n) : NULL;
    free(v);
    if (text == NULL)
        return rc == 0 ? err_set(err, ERR_INTERNAL, "cannot serialise the tokens document") : -1;
    const char *params[] = {text};
    r = pgconn_exec(pool, "import tokens", SQL_IMPORT, 1, params, false, err);
    free(text);
    if (r == NULL)
        return -1;
    if (PQgetvalue(r, 0, 0)[0] == '1')
        log_info("auth: %s of the storage's %zu runtime token(s) moved to PostgreSQL; the "
                 "tokens document is no longer read",
                 PQgetvalue(r, 0, 1), n);
    PQclear(r);
    return 0;
}

struct token_store *tokens_pg_new(const char *conninfo, const struct auth_persist *persist,
                                  struct err *err)
{
    struct pgconn_pool *pool = pgconn_pool_ref(conninfo, err);
    if (pool == NULL)
        return NULL;
    if (persist != NULL && import_document(pool, persist, err) != 0) {
        pgconn_pool_unref(pool);
        return NULL;
    }
    struct pg_store *p = xcalloc(1, sizeof(*p));
    p->base.ops = &pg_ops;
    p->pool = pool;
    return &p->base;
}
