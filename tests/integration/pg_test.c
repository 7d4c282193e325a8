/* tests/integration/pg_test.c: the PostgreSQL lock and audit drivers against a real server.
 *
 *   pg_test CONNINFO            every test; CONNINFO is a key=value conninfo of a database on a
 *                               cluster where we may CREATE DATABASE (each test gets its own)
 *   pg_test --append CONNINFO N appends N events (a second process for the cross-process test)
 *   pg_test --migrate CONNINFO  opens both drivers (migrations racing between processes)
 *
 * Built by tests/suites/50-postgres.sh against build/obj/libstated.a with the Makefile's flags.
 * Prints PASS/FAIL lines and "N passed, N failed" (tests/unit/t.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "audit/audit.h"
#include "common/util.h"
#include "lock/lock.h"
#include "tests/unit/t.h"

static const char *base_conninfo;
static char self_exe[4096];

/* A fresh database on the test cluster; returns its conninfo (static storage per call). */
static char *new_db(void)
{
    static int n;
    char name[64];
    snprintf(name, sizeof(name), "pgtest_%d_%d", (int)getpid(), ++n);
    PGconn *c = PQconnectdb(base_conninfo);
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "create database: %s", PQerrorMessage(c));
        exit(2);
    }
    PQclear(r);
    PQfinish(c);
    return xasprintf("%s dbname=%s", base_conninfo, name);
}

/* Runs SQL as the (superuser) test role outside the drivers; returns the result status. */
static ExecStatusType sql_exec(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    PQfinish(c);
    return st;
}

static void sleep_ms(int ms)
{
    usleep((useconds_t)ms * 1000);
}

static void test_acquire_reenter_conflict(void)
{
    char *ci = new_db();
    struct err err = {0};
    struct lockstore *ls = lockstore_pg_new(ci, 60LL * 1000000, &err);
    CHECK(ls != NULL);
    if (!ls) {
        fprintf(stderr, "%s\n", err.msg);
        free(ci);
        return;
    }
    CHECK_STR(ls->ops->kind, "postgres");
    struct lock_result res;
    lock_result_init(&res);
    const char *info = "{\"ID\":\"a\", \"Who\":\"x\",\"Created\":\"2026-01-01T00:00:00Z\"}";
    CHECK_INT(ls->ops->acquire(ls, "net/prod", "a", info, "ci sub=x", &res, &err), 0);
    CHECK_INT(res.outcome, LOCK_ACQUIRED);
    CHECK_STR(res.holder.owner, "ci sub=x");
    CHECK_STR(res.holder.id, "a");
    CHECK_STR(res.holder.info_json, info); /* verbatim, spacing included */
    CHECK(res.holder.expires_us - res.holder.renewed_us == 60LL * 1000000);
    int64_t created = res.holder.created_us;
    lock_result_cleanup(&res);

    lock_result_init(&res);
    CHECK_INT(ls->ops->acquire(ls, "net/prod", "a", info, "other", &res, &err), 0);
    CHECK_INT(res.outcome, LOCK_REENTERED);
    CHECK(res.holder.created_us == created);
    CHECK_STR(res.holder.owner, "ci sub=x"); /* a re-entry keeps the first owner */
    lock_result_cleanup(&res);

    lock_result_init(&res);
    CHECK_INT(ls->ops->acquire(ls, "net/prod", "b", "{}", "ci", &res, &err), -1);
    CHECK_INT(err.code, ERR_LOCKED);
    CHECK_STR(res.holder.id, "a");
    CHECK_STR(res.holder.info_json, info);
    CHECK_STR(res.holder.owner, "ci sub=x");
    lock_result_cleanup(&res);
    err_clear(&err);

    /* A write without ID while locked, with the wrong ID, and by the holder. */
    lock_result_init(&res);
    CHECK_INT(ls->ops->check_write(ls, "net/prod", NULL, &res, &err), -1);
    CHECK_INT(err.code, ERR_LOCKED);
    lock_result_cleanup(&res);
    err_clear(&err);
    lock_result_init(&res);
    CHECK_INT(ls->ops->check_write(ls, "net/prod", "b", &res, &err), -1);
    CHECK_INT(err.code, ERR_LOCKED);
    CHECK_STR(res.holder.id, "a");
    lock_result_cleanup(&res);
    err_clear(&err);
    lock_result_init(&res);
    CHECK_INT(ls->ops->check_write(ls, "net/prod", "a", &res, &err), 0);
    CHECK_INT(res.outcome, LOCK_RENEWED);
    lock_result_cleanup(&res);
    lock_result_init(&res);
    CHECK_INT(ls->ops->check_write(ls, "other", NULL, &res, &err), 0);
    CHECK_INT(res.outcome, LOCK_FREE);
    lock_result_cleanup(&res);

    /* get and list. */
    lock_result_init(&res);
    CHECK_INT(ls->ops->get(ls, "net/prod", &res, &err), 0);
    CHECK_STR(res.holder.id, "a");
    lock_result_cleanup(&res);
    lock_result_init(&res);
    CHECK_INT(ls->ops->get(ls, "other", &res, &err), -1);
    CHECK_INT(err.code, ERR_NOT_FOUND);
    lock_result_cleanup(&res);
    err_clear(&err);

    /* IDs of 256 bytes and more are refused. */
    char longid[300];
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    lock_result_init(&res);
    CHECK_INT(ls->ops->acquire(ls, "s2", longid, "{}", "ci", &res, &err), -1);
    CHECK_INT(err.code, ERR_INVALID);
    lock_result_cleanup(&res);
    err_clear(&err);
    longid[255] = '\0';
    lock_result_init(&res);
    CHECK_INT(ls->ops->acquire(ls, "s2", longid, "{}", "ci", &res, &err), 0);
    lock_result_cleanup(&res);

    /* Release: wrong ID refused, holder releases, again is NOT_HELD, force releases. */
    lock_result_init(&res);
    CHECK_INT(ls->ops->release(ls, "net/prod", "b", &res, &err), -1);
    CHECK_INT(err.code, ERR_LOCKED);
    CHECK_STR(res.holder.id, "a");
    lock_result_cleanup(&res);
    err_clear(&err);
    lock_result_init(&res);
    CHECK_INT(ls->ops->release(ls, "net/prod", "a", &res, &err), 0);
    CHECK_INT(res.outcome, LOCK_RELEASED);
    CHECK_STR(res.previous.id, "a");
    lock_result_cleanup(&res);
    lock_result_init(&res);
    CHECK_INT(ls->ops->release(ls, "net/prod", "a", &res, &err), 0);
    CHECK_INT(res.outcome, LOCK_NOT_HELD);
    lock_result_cleanup(&res);
    lock_result_init(&res);
    CHECK_INT(ls->ops->release(ls, "s2", NULL, &res, &err), 0);
    CHECK_INT(res.outcome, LOCK_RELEASED);
    CHECK_STR(res.previous.id, longid);
    lock_result_cleanup(&res);
    lock_result_init(&res);
    CHECK_INT(ls->ops->release(ls, "s2", NULL, &res, &err), 0);
    CHECK_INT(res.outcome, LOCK_NOT_HELD);
    lock_result_cleanup(&res);
    CHECK_INT(ls->ops->ping(ls, &err), 0);

    /* The driver's session says who it is (application_name) to pg_stat_activity. */
    PGconn *c = PQconnectdb(ci);
    PGresult *r = PQexec(c, "SELECT count(*) FROM pg_stat_activity WHERE application_name ="
                            " 'stated' AND datname = current_database()");
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && atoi(PQgetvalue(r, 0, 0)) >= 1);
    PQclear(r);
    PQfinish(c);
    ls->ops->free(ls);
    free(ci);
}

struct list_ctx {
    int n;
    char names[4][300];
};
static int on_entry(void *ctx, const struct lock_entry *e)
{
    struct list_ctx *l = ctx;
    if (l->n < 4)
        snprintf(l->names[l->n], sizeof(l->names[0]), "%s:%s", e->state, e->holder->id);
    l->n++;
    return 0;
}

static void test_lease_expiry_and_list(void)
{
    char *ci = new_db();
    struct err err = {0};
    struct lockstore *ls = lockstore_pg_new(ci, 1000000, &err); /* 1 s */
    CHECK(ls != NULL);
    if (!ls) {
        free(ci);
        return;
    }
    struct lock_result res;
    lock_result_init(&res);
    CHECK_INT(ls->ops->acquire(ls, "b", "A", "{\"ID\":\"A\"}", "ci", &res, &err), 0);
    lock_result_cleanup(&res);
    lock_result_init(&res);
    CHECK_INT(ls->ops->acquire(ls, "a", "Z", "{}", "ci", &res, &err), 0);
    lock_result_cleanup(&res);
    struct list_ctx l = {0};
    CHECK_INT(ls->ops->list(ls, on_entry, &l, &err), 0);
    CHECK_INT(l.n, 2);
    CHECK_STR(l.names[0], "a:Z");
    CHECK_STR(l.names[1], "b:A");

    sleep_ms(1300);
    memset(&l, 0, sizeof(l));
    CHECK_INT(ls->ops->list(ls, on_entry, &l, &err), 0);
    CHECK_INT(l.n, 0); /* expired leases are not listed */
    lock_result_init(&res);
    CHECK_INT(ls->ops->get(ls, "b", &res, &err), -1);
    CHECK_INT(err.code, ERR_NOT_FOUND);
    lock_result_cleanup(&res);
    err_clear(&err);

    /* The expired holder may not write; the next LOCK takes over and names it. */
    lock_result_init(&res);
    CHECK_INT(ls->ops->check_write(ls, "b", "A", &res, &err), -1);
    CHECK_INT(err.code, ERR_LOCKED);
    lock_result_cleanup(&res);
    err_clear(&err);
    lock_result_init(&res);
    CHECK_INT(ls->ops->acquire(ls, "b", "B", "{\"ID\":\"B\"}", "ci-b", &res, &err), 0);
    CHECK_INT(res.outcome, LOCK_TAKEN_OVER);
    CHECK_STR(res.previous.owner, "ci");
    CHECK_STR(res.holder.owner, "ci-b"); /* a take-over is the new holder's */
    CHECK_STR(res.previous.id, "A");
    CHECK_STR(res.previous.info_json, "{\"ID\":\"A\"}");
    CHECK_STR(res.holder.id, "B");
    CHECK_STR(res.holder.info_json, "{\"ID\":\"B\"}");
    int64_t exp1 = res.holder.expires_us;
    lock_result_cleanup(&res);
    lock_result_init(&res);
    CHECK_INT(ls->ops->check_write(ls, "b", "A", &res, &err), -1);
    CHECK_INT(err.code, ERR_LOCKED);
    CHECK_STR(res.holder.id, "B");
    lock_result_cleanup(&res);
    err_clear(&err);

    /* Renewal by writing keeps the lease alive past its first expiry. */
    sleep_ms(600);
    lock_result_init(&res);
    CHECK_INT(ls->ops->check_write(ls, "b", "B", &res, &err), 0);
    CHECK_INT(res.outcome, LOCK_RENEWED);
    CHECK(res.holder.expires_us > exp1);
    lock_result_cleanup(&res);
    sleep_ms(600); /* past the first expiry, within the renewed one */
    lock_result_init(&res);
    CHECK_INT(ls->ops->acquire(ls, "b", "C", "{}", "ci", &res, &err), -1);
    CHECK_INT(err.code, ERR_LOCKED);
    CHECK_STR(res.holder.id, "B");
    lock_result_cleanup(&res);
    err_clear(&err);
    ls->ops->free(ls);
    free(ci);
}

/* Many threads race for one state with distinct IDs; at most one may ever hold it. */
struct race {
    struct lockstore *ls;
    atomic_int inside, max_inside, acquired, errors;
};
static void *race_thread(void *arg)
{
    struct race *r = arg;
    static atomic_int next_id;
    int me = atomic_fetch_add(&next_id, 1);
    char id[32];
    snprintf(id, sizeof(id), "t%d", me);
    for (int i = 0; i < 40; i++) {
        struct err err = {0};
        struct lock_result res;
        lock_result_init(&res);
        if (r->ls->ops->acquire(r->ls, "hot", id, "{}", "ci", &res, &err) == 0) {
            int in = atomic_fetch_add(&r->inside, 1) + 1;
            if (in > atomic_load(&r->max_inside))
                atomic_store(&r->max_inside, in);
            atomic_fetch_add(&r->acquired, 1);
            usleep(200);
            atomic_fetch_sub(&r->inside, 1);
            lock_result_cleanup(&res);
            lock_result_init(&res);
            if (r->ls->ops->release(r->ls, "hot", id, &res, &err) != 0)
                atomic_fetch_add(&r->errors, 1);
        } else if (err.code != ERR_LOCKED) {
            atomic_fetch_add(&r->errors, 1);
            fprintf(stderr, "race: %s\n", err.msg);
        }
        lock_result_cleanup(&res);
    }
    return NULL;
}

static void test_acquire_race(void)
{
    char *ci = new_db();
    struct err err = {0};
    struct race r = {.ls = lockstore_pg_new(ci, 60LL * 1000000, &err)};
    CHECK(r.ls != NULL);
    if (!r.ls) {
        free(ci);
        return;
    }
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, race_thread, &r);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    CHECK_INT(atomic_load(&r.max_inside), 1);
    CHECK_INT(atomic_load(&r.errors), 0);
    CHECK(atomic_load(&r.acquired) > 0);
    r.ls->ops->free(r.ls);
    free(ci);
}

static void fill_event(struct audit_event *ev, int i, const char *state)
{
    audit_event_init(ev);
    ev->time_us = now_us();
    snprintf(ev->request_id, sizeof(ev->request_id), "req-%d-%d", (int)getpid(), i);
    snprintf(ev->actor, sizeof(ev->actor), "ci");
    snprintf(ev->remote, sizeof(ev->remote), "127.0.0.1");
    snprintf(ev->action, sizeof(ev->action), "%s", i % 2 ? "write" : "lock");
    snprintf(ev->state, sizeof(ev->state), "%s", state);
    snprintf(ev->lock_id, sizeof(ev->lock_id), "id-%d", i);
    if (i % 2) {
        ev->serial = (uint64_t)i;
        ev->has_serial = true;
        ev->size = 100 + i;
        snprintf(ev->lineage, sizeof(ev->lineage), "lin");
        sha256_hex("x", 1, ev->sha256);
    }
    ev->status = 200;
    snprintf(ev->detail, sizeof(ev->detail), "quote \" and \\ and \xc3\xa9");
}

static int append_n(const char *ci, int n, const char *state)
{
    struct err err = {0};
    struct auditlog *al = auditlog_pg_new(ci, &err);
    if (!al) {
        fprintf(stderr, "auditlog_pg_new: %s\n", err.msg);
        return -1;
    }
    int bad = 0;
    for (int i = 0; i < n; i++) {
        struct audit_event ev;
        fill_event(&ev, i, state);
        if (al->ops->append(al, &ev, &err) != 0) {
            fprintf(stderr, "append: %s\n", err.msg);
            err_clear(&err);
            bad++;
        }
    }
    al->ops->free(al);
    return bad ? -1 : 0;
}

struct appender {
    const char *ci;
    int rc;
    char state[32];
};
static void *append_thread(void *arg)
{
    struct appender *a = arg;
    a->rc = append_n(a->ci, 50, a->state);
    return NULL;
}

static pid_t spawn(const char *mode, const char *ci, const char *n)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl(self_exe, self_exe, mode, ci, n, (char *)NULL);
        _exit(127);
    }
    return pid;
}

struct sink_ctx {
    struct buf out;
};
static int to_buf(void *ctx, const char *data, size_t len)
{
    struct err err = {0};
    return buf_append(&((struct sink_ctx *)ctx)->out, data, len, &err);
}
static int stop_at_second(void *ctx, const char *data, size_t len)
{
    return ++*(int *)ctx >= 2 ? 7 : 0;
}
static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

static void test_audit_chain_concurrent(void)
{
    char *ci = new_db();
    struct err err = {0};
    /* Two other processes and four threads here append at the same time. */
    pid_t p1 = spawn("--append", ci, "60"), p2 = spawn("--append", ci, "60");
    pthread_t th[4];
    struct appender ap[4];
    for (int i = 0; i < 4; i++) {
        ap[i] = (struct appender){.ci = ci};
        snprintf(ap[i].state, sizeof(ap[i].state), "team%d/net", i);
        pthread_create(&th[i], NULL, append_thread, &ap[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(ap[i].rc, 0);
    }
    int st1 = -1, st2 = -1;
    waitpid(p1, &st1, 0);
    waitpid(p2, &st2, 0);
    CHECK(WIFEXITED(st1) && WEXITSTATUS(st1) == 0);
    CHECK(WIFEXITED(st2) && WEXITSTATUS(st2) == 0);

    struct auditlog *al = auditlog_pg_new(ci, &err);
    CHECK(al != NULL);
    if (!al) {
        free(ci);
        return;
    }
    CHECK_STR(al->ops->kind, "postgres");
    struct audit_verify_result vr = {0};
    CHECK_INT(al->ops->verify(al, &vr, &err), 0);
    CHECK_INT(vr.events, 4 * 50 + 2 * 60);
    CHECK_INT(vr.first_broken, 0);
    if (vr.first_broken)
        fprintf(stderr, "verify: %s\n", vr.reason);

    /* Export: everything, one state pattern, a time window, CSV. */
    struct sink_ctx s;
    buf_init(&s.out, 0);
    struct audit_filter f = {0};
    CHECK_INT(al->ops->export(al, &f, AUDIT_JSONL, to_buf, &s, &err), 0);
    CHECK_INT(count_lines(s.out.data), 320);
    CHECK(s.out.data && strncmp(s.out.data, "{\"seq\":1,", 9) == 0);
    buf_cleanup(&s.out);
    f.state_pattern = "team2/*";
    CHECK_INT(al->ops->export(al, &f, AUDIT_JSONL, to_buf, &s, &err), 0);
    CHECK_INT(count_lines(s.out.data), 50);
    buf_cleanup(&s.out);
    f.state_pattern = NULL;
    f.has_until = true;
    f.until_us = 0; /* the epoch: before everything, and a bound like any other */
    CHECK_INT(al->ops->export(al, &f, AUDIT_JSONL, to_buf, &s, &err), 0);
    CHECK_INT(count_lines(s.out.data), 0);
    buf_cleanup(&s.out);
    f.has_until = false;
    f.has_since = true;
    f.since_us = now_us() - 600LL * 1000000;
    CHECK_INT(al->ops->export(al, &f, AUDIT_CSV, to_buf, &s, &err), 0);
    CHECK_INT(count_lines(s.out.data), 321);
    CHECK(s.out.data && strncmp(s.out.data, audit_csv_header, strlen(audit_csv_header)) == 0);
    buf_cleanup(&s.out);
    if (err.code)
        fprintf(stderr, "export: %s\n", err.msg);
    /* A sink that says stop: the export stops and returns its value; the driver still works. */
    int calls = 0;
    f.has_since = false;
    CHECK_INT(al->ops->export(al, &f, AUDIT_JSONL, stop_at_second, &calls, &err), 7);
    CHECK_INT(calls, 2);
    CHECK_INT(al->ops->ping(al, &err), 0);
    al->ops->free(al);
    free(ci);
}

/* Group commit: threads sharing one driver append concurrently; the chain stays one valid
 * chain, and rows committed in one transaction (same xmin) show that batches formed. */
struct shared_appender {
    struct auditlog *al;
    int id, rc;
};
static void *shared_append_thread(void *arg)
{
    struct shared_appender *a = arg;
    char state[32];
    snprintf(state, sizeof(state), "batch%d/net", a->id);
    for (int i = 0; i < 40; i++) {
        struct audit_event ev;
        struct err err = {0};
        fill_event(&ev, i, state);
        if (a->al->ops->append(a->al, &ev, &err) != 0)
            a->rc = -1;
    }
    return NULL;
}

static void test_audit_group_commit(void)
{
    char *ci = new_db();
    struct err err = {0};
    struct auditlog *al = auditlog_pg_new(ci, &err);
    CHECK(al != NULL);
    if (!al) {
        free(ci);
        return;
    }
    pid_t p1 = spawn("--append", ci, "60"); /* another instance appends meanwhile */
    pthread_t th[16];
    struct shared_appender ap[16];
    for (int i = 0; i < 16; i++) {
        ap[i] = (struct shared_appender){.al = al, .id = i};
        pthread_create(&th[i], NULL, shared_append_thread, &ap[i]);
    }
    for (int i = 0; i < 16; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(ap[i].rc, 0);
    }
    int st1 = -1;
    waitpid(p1, &st1, 0);
    CHECK(WIFEXITED(st1) && WEXITSTATUS(st1) == 0);
    struct audit_verify_result vr = {0};
    CHECK_INT(al->ops->verify(al, &vr, &err), 0);
    CHECK_INT(vr.events, 16 * 40 + 60);
    CHECK_INT(vr.first_broken, 0);
    uint64_t seq;
    char hash[65];
    CHECK_INT(al->ops->head(al, &seq, hash, &err), 0);
    CHECK_INT(seq, 16 * 40 + 60);
    PGconn *c = PQconnectdb(ci);
    PGresult *r = PQexec(c, "SELECT count(DISTINCT xmin::text) FROM audit_events");
    int txns = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;
    CHECK(txns > 0 && txns < 16 * 40 + 60);
    fprintf(stderr, "group commit: %d events in %d transactions\n", 16 * 40 + 60, txns);
    PQclear(r);
    PQfinish(c);
    al->ops->free(al);
    free(ci);
}

/* The value of a counter in the metrics text (0 when absent). */
static double counter_value(const char *name)
{
    struct buf out;
    buf_init(&out, 0);
    metrics_write(&out);
    double v = 0;
    size_t n = strlen(name);
    for (const char *l = out.data; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
        if (!strncmp(l, name, n) && l[n] == ' ')
            v = strtod(l + n + 1, NULL);
    }
    buf_cleanup(&out);
    return v;
}

/* Two instances appending in turn: each finds the head moved since its own last batch, so its
 * fast-path statement is refused by the primary key and the batch goes down the locked path;
 * the chain stays one contiguous chain and no event is lost or written twice. */
static void test_audit_head_moved(void)
{
    char *ci = new_db();
    struct err err = {0};
    struct auditlog *a = auditlog_pg_new(ci, &err), *b = auditlog_pg_new(ci, &err);
    CHECK(a && b);
    if (!a || !b) {
        free(ci);
        return;
    }
    double before = counter_value("stated_audit_append_conflicts_total");
    const char *order = "aabab";
    for (int i = 0; order[i]; i++) {
        struct auditlog *al = order[i] == 'a' ? a : b;
        struct audit_event ev;
        fill_event(&ev, i, "turns/net");
        CHECK_INT(al->ops->append(al, &ev, &err), 0);
    }
    /* a knows no head at first (locked), then its own (fast); b locked; a's head is stale
     * (conflict); b's too (conflict): two refused statements, every event stored once. */
    CHECK_INT((int)(counter_value("stated_audit_append_conflicts_total") - before), 2);
    struct audit_verify_result vr = {0};
    CHECK_INT(a->ops->verify(a, &vr, &err), 0);
    CHECK_INT(vr.events, 5);
    CHECK_INT(vr.first_broken, 0);
    PGconn *c = PQconnectdb(ci);
    PGresult *r = PQexec(c, "SELECT string_agg(lock_id, ' ' ORDER BY seq) FROM audit_events");
    CHECK_STR(PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "",
              "id-0 id-1 id-2 id-3 id-4");
    PQclear(r);

    /* The table rolled back under a running instance (restored from an older backup): b's
     * known head (seq 5) is gone, so its fast path inserts nothing and the batch is chained
     * from the real head (seq 3), not from a hash that is no longer there. */
    PQclear(PQexec(c, "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change;"
                      " DELETE FROM audit_events WHERE seq > 3;"
                      " ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change"));
    struct audit_event ev;
    fill_event(&ev, 9, "turns/net");
    sleep_ms(1100); /* past b's second on the locked path after its conflict */
    before = counter_value("stated_audit_append_conflicts_total");
    CHECK_INT(b->ops->append(b, &ev, &err), 0);
    CHECK_INT((int)(counter_value("stated_audit_append_conflicts_total") - before), 1);
    vr = (struct audit_verify_result){0};
    CHECK_INT(b->ops->verify(b, &vr, &err), 0);
    CHECK_INT(vr.events, 4);
    CHECK_INT(vr.first_broken, 0);
    PQfinish(c);
    a->ops->free(a);
    b->ops->free(b);
    free(ci);
}

static void test_audit_tamper(void)
{
    char *ci = new_db();
    struct err err = {0};
    CHECK_INT(append_n(ci, 12, "app/prod"), 0);
    struct auditlog *al = auditlog_pg_new(ci, &err);
    CHECK(al != NULL);
    if (!al) {
        free(ci);
        return;
    }
    struct audit_verify_result vr = {0};

    /* The triggers refuse changes, even by the table owner. */
    CHECK(sql_exec(ci, "UPDATE audit_events SET status = 500 WHERE seq = 3") == PGRES_FATAL_ERROR);
    CHECK(sql_exec(ci, "DELETE FROM audit_events WHERE seq = 3") == PGRES_FATAL_ERROR);
    CHECK(sql_exec(ci, "TRUNCATE audit_events") == PGRES_FATAL_ERROR);
    CHECK_INT(al->ops->verify(al, &vr, &err), 0);
    CHECK_INT(vr.first_broken, 0);
    CHECK_INT(vr.events, 12);

    /* A superuser who disables the triggers: verify still finds each kind of change. Work
     * backwards so every change is the first broken event when it is made. */
    const char *off = "ALTER TABLE audit_events DISABLE TRIGGER USER;";
    const char *on = "ALTER TABLE audit_events ENABLE TRIGGER USER;";
    char sql[512];
    snprintf(sql, sizeof(sql),
             "%s UPDATE audit_events SET line = replace(line, '\"status\":200', '\"status\":201')"
             " WHERE seq = 10; %s",
             off, on);
    CHECK(sql_exec(ci, sql) == PGRES_COMMAND_OK);
    CHECK_INT(al->ops->verify(al, &vr, &err), 0);
    CHECK_INT(vr.first_broken, 10);
    fprintf(stderr, "verify after line edit: %s\n", vr.reason);

    snprintf(sql, sizeof(sql), "%s UPDATE audit_events SET state = 'elsewhere' WHERE seq = 8; %s",
             off, on);
    CHECK(sql_exec(ci, sql) == PGRES_COMMAND_OK);
    CHECK_INT(al->ops->verify(al, &vr, &err), 0);
    CHECK_INT(vr.first_broken, 8);
    fprintf(stderr, "verify after column edit: %s\n", vr.reason);

    snprintf(sql, sizeof(sql), "%s DELETE FROM audit_events WHERE seq = 5; %s", off, on);
    CHECK(sql_exec(ci, sql) == PGRES_COMMAND_OK);
    CHECK_INT(al->ops->verify(al, &vr, &err), 0);
    CHECK_INT(vr.first_broken, 5);
    fprintf(stderr, "verify after delete: %s\n", vr.reason);

    /* Swapping two events' seq (a reorder that keeps seq continuous). */
    snprintf(sql, sizeof(sql),
             "%s UPDATE audit_events SET seq = -seq WHERE seq IN (2, 3);"
             " UPDATE audit_events SET seq = CASE WHEN seq = -2 THEN 3 ELSE 2 END WHERE seq < 0;"
             " %s",
             off, on);
    PGconn *c = PQconnectdb(ci); /* the CHECK (seq > 0) would refuse negative seqs: relax it */
    PQclear(PQexec(c, "ALTER TABLE audit_events DROP CONSTRAINT audit_events_seq_check"));
    PQfinish(c);
    CHECK(sql_exec(ci, sql) == PGRES_COMMAND_OK);
    CHECK_INT(al->ops->verify(al, &vr, &err), 0);
    CHECK_INT(vr.first_broken, 2);
    fprintf(stderr, "verify after reorder: %s\n", vr.reason);
    al->ops->free(al);
    free(ci);
}

/* The text of one value of a query ("" when none; static storage). */
static const char *sql_value(const char *conninfo, const char *sql)
{
    static char out[256];
    PGconn *c = PQconnectdb(conninfo);
    PGresult *r = PQexec(c, sql);
    snprintf(out, sizeof(out), "%s",
             PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
    return out;
}

/* Serials are exact unsigned 64-bit values in the column and in the line, and verify compares
 * the two digit for digit. A database of schema version 2 (serial bigint, rows in it, the
 * append-only triggers on) is migrated by version 3 (and the later, re-runnable ones) without
 * losing a row. */
static void test_audit_serial_u64(void)
{
    char *ci = new_db();
    struct err err = {0};
    CHECK_INT(append_n(ci, 3, "old/rows"), 0);
    /* Back to what version 2 left: bigint, no version 3 or later. */
    CHECK(sql_exec(ci, "ALTER TABLE audit_events DROP CONSTRAINT audit_events_serial_u64;"
                       " ALTER TABLE audit_events ALTER COLUMN serial TYPE bigint;"
                       " DELETE FROM schema_migrations WHERE version >= 3") == PGRES_COMMAND_OK);
    CHECK_STR(sql_value(ci, "SELECT data_type FROM information_schema.columns WHERE"
                            " table_name = 'audit_events' AND column_name = 'serial'"),
              "bigint");
    struct auditlog *al = auditlog_pg_new(ci, &err);
    CHECK(al != NULL);
    if (!al) {
        free(ci);
        return;
    }
    CHECK_STR(sql_value(ci, "SELECT data_type || numeric_precision FROM"
                            " information_schema.columns WHERE table_name = 'audit_events'"
                            " AND column_name = 'serial'"),
              "numeric20");
    static const uint64_t serials[] = {9223372036854775807ULL, 9223372036854775808ULL, UINT64_MAX};
    for (int i = 0; i < 3; i++) {
        struct audit_event ev;
        fill_event(&ev, 1, "big/serial");
        ev.serial = serials[i];
        CHECK_INT(al->ops->append(al, &ev, &err), 0);
    }
    struct audit_verify_result vr = {0};
    CHECK_INT(al->ops->verify(al, &vr, &err), 0);
    CHECK_INT(vr.events, 6);
    CHECK_INT(vr.first_broken, 0);
    CHECK_STR(sql_value(ci, "SELECT serial FROM audit_events WHERE seq = 6"),
              "18446744073709551615");
    CHECK(strstr(sql_value(ci, "SELECT line FROM audit_events WHERE seq = 6"),
                 "\"serial\":\"18446744073709551615\"") != NULL);
    CHECK(strstr(sql_value(ci, "SELECT line FROM audit_events WHERE seq = 4"),
                 "\"serial\":9223372036854775807,") != NULL);
    /* Out of uint64: refused by the column. */
    CHECK(sql_exec(ci, "ALTER TABLE audit_events DISABLE TRIGGER USER;"
                       " UPDATE audit_events SET serial = 18446744073709551616 WHERE seq = 6") ==
          PGRES_FATAL_ERROR);
    /* One unit off, beyond what a signed 64-bit comparison could tell apart: found. */
    CHECK(sql_exec(ci, "ALTER TABLE audit_events DISABLE TRIGGER USER;"
                       " UPDATE audit_events SET serial = 18446744073709551614 WHERE seq = 6;"
                       " ALTER TABLE audit_events ENABLE TRIGGER USER") == PGRES_COMMAND_OK);
    CHECK_INT(al->ops->verify(al, &vr, &err), 0);
    CHECK_INT(vr.first_broken, 6);
    CHECK(strstr(vr.reason, "column serial") != NULL);
    al->ops->free(al);
    free(ci);
}

static void test_migrations_race(void)
{
    char *ci = new_db();
    pid_t pids[4];
    for (int i = 0; i < 4; i++)
        pids[i] = spawn("--migrate", ci, "0");
    for (int i = 0; i < 4; i++) {
        int st = -1;
        waitpid(pids[i], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    PGconn *c = PQconnectdb(ci);
    PGresult *r = PQexec(c, "SELECT count(*), max(version) FROM schema_migrations");
    CHECK_INT(PQresultStatus(r), PGRES_TUPLES_OK);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        /* versions 1-N, each applied once */
        CHECK_INT(atoi(PQgetvalue(r, 0, 0)), pg_schema_version());
        CHECK_INT(atoi(PQgetvalue(r, 0, 1)), pg_schema_version());
    }
    PQclear(r);
    PQfinish(c);
    free(ci);
}

static void test_unreachable(void)
{
    /* Nothing listens on port 1: ERR_UNAVAILABLE, quickly; a malformed conninfo: ERR_INVALID. */
    struct err err = {0};
    int64_t t0 = mono_ms();
    struct lockstore *ls = lockstore_pg_new("host=127.0.0.1 port=1 user=x dbname=x", 1000000, &err);
    CHECK(ls == NULL);
    CHECK_INT(err.code, ERR_UNAVAILABLE);
    CHECK(mono_ms() - t0 < 3000);
    err_clear(&err);
    ls = lockstore_pg_new("host=127.0.0.1 nonsense_keyword=1", 1000000, &err);
    CHECK(ls == NULL);
    CHECK_INT(err.code, ERR_INVALID);
    err_clear(&err);
    ls = lockstore_pg_new("postgres://127.0.0.1:1/x", 1000000, &err);
    CHECK(ls == NULL);
    CHECK_INT(err.code, ERR_UNAVAILABLE);
}

/* PostgreSQL stopped under a running driver: ERR_UNAVAILABLE within the reconnect budget (and
 * at once while known down); started again: works without a new driver, and a lease taken
 * before the outage is still held (it is a row). Needs PG_FAULT_CONNINFO, PG_STOP_CMD and
 * PG_START_CMD: a private cluster, never the shared one. */
static void test_outage(void)
{
    const char *ci = getenv("PG_FAULT_CONNINFO");
    const char *stop = getenv("PG_STOP_CMD"), *start = getenv("PG_START_CMD");
    struct err err = {0};
    struct lockstore *ls = lockstore_pg_new(ci, 60LL * 1000000, &err);
    struct auditlog *al = auditlog_pg_new(ci, &err);
    CHECK(ls && al);
    if (!ls || !al)
        return;
    struct lock_result res;
    lock_result_init(&res);
    CHECK_INT(ls->ops->acquire(ls, "kept", "K", "{}", "ci", &res, &err), 0);
    lock_result_cleanup(&res);

    CHECK_INT(system(stop), 0);
    int64_t t0 = mono_ms();
    lock_result_init(&res);
    CHECK_INT(ls->ops->acquire(ls, "other", "O", "{}", "ci", &res, &err), -1);
    CHECK_INT(err.code, ERR_UNAVAILABLE);
    CHECK(err_retry_after_s(err.code) > 0);
    lock_result_cleanup(&res);
    err_clear(&err);
    int64_t t1 = mono_ms();
    CHECK(t1 - t0 < 2600);
    lock_result_init(&res);
    CHECK_INT(ls->ops->check_write(ls, "kept", "K", &res, &err), -1);
    CHECK_INT(err.code, ERR_UNAVAILABLE);
    lock_result_cleanup(&res);
    err_clear(&err);
    CHECK(mono_ms() - t1 < 500); /* known down: one quick attempt */
    struct audit_event ev;
    fill_event(&ev, 1, "x");
    CHECK_INT(al->ops->append(al, &ev, &err), -1);
    CHECK_INT(err.code, ERR_UNAVAILABLE);
    err_clear(&err);
    fprintf(stderr, "outage: first refusal after %lld ms\n", (long long)(t1 - t0));

    CHECK_INT(system(start), 0);
    lock_result_init(&res);
    CHECK_INT(ls->ops->acquire(ls, "other", "O", "{}", "ci", &res, &err), 0);
    lock_result_cleanup(&res);
    lock_result_init(&res);
    CHECK_INT(ls->ops->acquire(ls, "kept", "intruder", "{}", "ci", &res, &err), -1);
    CHECK_INT(err.code, ERR_LOCKED);
    CHECK_STR(res.holder.id, "K");
    lock_result_cleanup(&res);
    err_clear(&err);
    CHECK_INT(al->ops->append(al, &ev, &err), 0);
    struct audit_verify_result vr = {0};
    CHECK_INT(al->ops->verify(al, &vr, &err), 0);
    CHECK_INT(vr.first_broken, 0);
    if (err.code)
        fprintf(stderr, "outage: %s\n", err.msg);
    al->ops->free(al);
    ls->ops->free(ls);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--verify")) {
        /* Prints "EVENTS BROKEN" for the suite; exit 1 when the chain is broken. */
        struct err err = {0};
        struct auditlog *al = auditlog_pg_new(argv[2], &err);
        struct audit_verify_result vr = {0};
        if (!al || al->ops->verify(al, &vr, &err) != 0) {
            fprintf(stderr, "verify: %s\n", err.msg);
            return 2;
        }
        printf("%llu %llu %s\n", (unsigned long long)vr.events, (unsigned long long)vr.first_broken,
               vr.reason);
        al->ops->free(al);
        return vr.first_broken ? 1 : 0;
    }
    if (argc == 4 && !strcmp(argv[1], "--append"))
        return append_n(argv[2], atoi(argv[3]), "proc/state") == 0 ? 0 : 1;
    if (argc >= 3 && !strcmp(argv[1], "--migrate")) {
        struct err err = {0};
        struct lockstore *ls = lockstore_pg_new(argv[2], 1000000, &err);
        struct auditlog *al = ls ? auditlog_pg_new(argv[2], &err) : NULL;
        if (!al) {
            fprintf(stderr, "migrate: %s\n", err.msg);
            return 1;
        }
        al->ops->free(al);
        ls->ops->free(ls);
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: pg_test CONNINFO\n");
        return 2;
    }
    base_conninfo = argv[1];
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    if (n <= 0)
        return 2;
    self_exe[n] = '\0';
    RUN(test_acquire_reenter_conflict);
    RUN(test_lease_expiry_and_list);
    RUN(test_acquire_race);
    RUN(test_audit_chain_concurrent);
    RUN(test_audit_group_commit);
    RUN(test_audit_head_moved);
    RUN(test_audit_tamper);
    RUN(test_audit_serial_u64);
    RUN(test_migrations_race);
    RUN(test_unreachable);
    if (getenv("PG_FAULT_CONNINFO"))
        RUN(test_outage);
    return t_report();
}
