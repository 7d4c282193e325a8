/* pg/schema.c: every table stated keeps in PostgreSQL, as versioned migrations.
 *
 * Versions are applied at start in one transaction that holds a transaction-level advisory
 * lock, so several instances starting together apply each version exactly once and the others
 * wait, then see it recorded in schema_migrations. Every part that keeps data in PostgreSQL
 * (lock/pg.c, audit/pg.c) finds its tables here: one place to read the whole schema, one order
 * of versions for all of them. */
#include <stdlib.h>

#include "common/log.h"
#include "pg/pg.h"
#include "pg/pg_int.h"

/* The schema. Append new versions; never edit a shipped one (instances compare numbers only). */
static const char *const migrations[] = {
    /* 1: leases. info is the client's lock info kept verbatim (text, not jsonb, which would
     * reorder keys and drop duplicates). A row whose expires_at has passed is a free lock that
     * still names its last holder, so the next acquire can report whose lease expired. */
    "CREATE TABLE locks ("
    "  state text PRIMARY KEY,"
    "  id text NOT NULL,"
    "  info text NOT NULL,"
    "  created_at timestamptz NOT NULL,"
    "  renewed_at timestamptz NOT NULL,"
    "  expires_at timestamptz NOT NULL"
    ");",

    /* 2: the audit trail. line is the canonical hash-chained text, the evidence; the other
     * columns are copies for querying and verify checks that they agree with the line. */
    "CREATE TABLE audit_events ("
    "  seq bigint PRIMARY KEY CHECK (seq > 0),"
    "  time timestamptz NOT NULL,"
    "  request_id text NOT NULL,"
    "  actor text NOT NULL,"
    "  username text NOT NULL,"
    "  remote text NOT NULL,"
    "  action text NOT NULL,"
    "  state text NOT NULL,"
    "  lock_id text NOT NULL,"
    "  serial bigint,"
    "  lineage text NOT NULL,"
    "  sha256 text NOT NULL,"
    "  size bigint,"
    "  status integer NOT NULL,"
    "  detail text NOT NULL,"
    "  line text NOT NULL,"
    "  hash text NOT NULL,"
    "  prev text NOT NULL"
    ");"
    "CREATE INDEX audit_events_time ON audit_events (time);"
    "CREATE INDEX audit_events_state ON audit_events (state, seq);"
    "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN"
    "  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP"
    "   USING ERRCODE = 'insufficient_privilege';"
    " END $f$;"
    "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events"
    "  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();"
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events"
    "  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();",

    /* 3: a state's serial is an unsigned 64-bit integer, which bigint cannot hold above
     * 2^63-1. ALTER COLUMN TYPE rewrites the table without firing the row and TRUNCATE
     * triggers of version 2, so the append-only rule stays as it was. */
    "ALTER TABLE audit_events ALTER COLUMN serial TYPE numeric(20,0);"
    "ALTER TABLE audit_events ADD CONSTRAINT audit_events_serial_u64"
    "  CHECK (serial >= 0 AND serial <= 18446744073709551615);",

    /* From 4 on, migrations are written to be re-runnable (IF NOT EXISTS), so a test can roll
     * the recorded version back to an earlier one and migrate again. */

    /* 4: the identity that took a lock (a token name, or an OIDC rule's name and subject), so
     * force-unlock can tell the holder's own retried job from someone else. */
    "ALTER TABLE locks ADD COLUMN IF NOT EXISTS owner text NOT NULL DEFAULT '';",

    /* 5: runtime tokens (auth/tokens_pg.c): hashes only, with expiry and last use. Every
     * create and revoke bumps token_changes.epoch in the same statement, which the instances
     * poll; imported records that the tokens document of the storage was moved in, once. */
    "CREATE TABLE IF NOT EXISTS tokens ("
    "  name text PRIMARY KEY,"
    "  role text NOT NULL,"
    "  pattern text NOT NULL,"
    "  sha256 text NOT NULL,"
    "  created_at timestamptz NOT NULL DEFAULT now(),"
    "  expires_at timestamptz,"
    "  last_used_at timestamptz,"
    "  last_used_from text NOT NULL DEFAULT ''"
    ");"
    "CREATE TABLE IF NOT EXISTS token_changes ("
    "  id integer PRIMARY KEY CHECK (id = 1),"
    "  epoch bigint NOT NULL DEFAULT 0,"
    "  imported boolean NOT NULL DEFAULT false"
    ");"
    "INSERT INTO token_changes (id) VALUES (1) ON CONFLICT (id) DO NOTHING;",

    /* 6: shared progress of background work (lock/pg.c): each webhook's cursor over the audit
     * trail with the lease of the one instance delivering it, and the leases already reported
     * stale, so several instances report each once. */
    "CREATE TABLE IF NOT EXISTS webhook_cursors ("
    "  name text PRIMARY KEY,"
    "  seq bigint NOT NULL,"
    "  owner text NOT NULL,"
    "  lease_until timestamptz NOT NULL"
    ");"
    "CREATE TABLE IF NOT EXISTS stale_locks_reported ("
    "  state text NOT NULL,"
    "  lock_id text NOT NULL,"
    "  reported_at timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (state, lock_id)"
    ");",
};
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int pg_schema_version(void)
{
    return N_MIGRATIONS;
}

int pg__migrate(struct pgconn_pool *p, struct err *err)
{
    PGconn *c = pgconn_get(p, err);
    if (!c)
        return -1;
    PGresult *r = NULL;
    char lock_sql[96];
    snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_xact_lock(%lld)",
             (long long)PGCONN_LOCK_MIGRATE);
    if (!(r = pgconn_exec_on(p, c, "begin migration", "BEGIN", 0, NULL, err)))
        goto fail;
    PQclear(r);
    if (!(r = pgconn_exec_on(p, c, "migration lock", lock_sql, 0, NULL, err)))
        goto fail;
    PQclear(r);
    if (!(r = pgconn_exec_on(p, c, "create schema_migrations",
                             "CREATE TABLE IF NOT EXISTS schema_migrations ("
                             " version integer PRIMARY KEY,"
                             " applied_at timestamptz NOT NULL DEFAULT now())",
                             0, NULL, err)))
        goto fail;
    PQclear(r);
    if (!(r = pgconn_exec_on(p, c, "read schema version",
                             "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL,
                             err)))
        goto fail;
    int have = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (have < 0)
        have = 0;
    if (have > N_MIGRATIONS)
        log_warn("PostgreSQL schema version %d is newer than this stated (%d); continuing", have,
                 N_MIGRATIONS);
    for (int i = have; i < N_MIGRATIONS; i++) {
        int v = i + 1;
        char what[48], vs[16];
        snprintf(what, sizeof(what), "schema migration %d", v);
        snprintf(vs, sizeof(vs), "%d", v);
        if (!(r = pgconn_exec_on(p, c, what, migrations[i], 0, NULL, err)))
            goto fail;
        PQclear(r);
        const char *params[] = {vs};
        if (!(r = pgconn_exec_on(p, c, what, "INSERT INTO schema_migrations (version) VALUES ($1)",
                                 1, params, err)))
            goto fail;
        PQclear(r);
        log_info("PostgreSQL schema migration %d applied", v);
    }
    if (!(r = pgconn_exec_on(p, c, "commit migration", "COMMIT", 0, NULL, err)))
        goto fail;
    PQclear(r);
    return 0;
fail:
    pgconn_rollback(p, c);
    return -1;
}
