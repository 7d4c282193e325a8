/* tests/unit/test_ops.c: the state operations (backend/ops.c) without HTTP, over the real
 * embedded drivers in a temp dir: a directory store, the embedded lock store with a short
 * lease, and the JSON Lines audit log. Each DESIGN rule is one test: lease renewal, the
 * expired holder refused, the restore serial, the identical re-write, force-unlock, roles and
 * patterns, bad bodies changing nothing, and audit events built from the results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "common/statejson.h"
#include "common/util.h"
#include "tests/unit/t.h"

#define LONG_TTL_US  (3600LL * 1000000) /* never lapses during a test */
#define SHORT_TTL_US (200 * 1000)       /* for the one test that waits for a lease to lapse */

struct env {
    struct ops o;
    struct auth_identity admin, writer, writer2, reader, planner, outputs, jwt;
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void env_open(struct env *v, int64_t ttl_us)
{
    struct err e = {0};
    const char *dir = t_tempdir();
    memset(v, 0, sizeof(*v));
    struct store_config sc = {.max_state_bytes = 64 * 1024};
    v->o.store = store_new(objstore_dir_new(dir, &e), &sc, &e);
    v->o.locks = lockstore_embedded_new(dir, ttl_us, &e);
    v->o.audit = auditlog_jsonl_new(dir, &e);
    v->o.max_state_bytes = sc.max_state_bytes;
    CHECK(v->o.store != NULL && v->o.locks != NULL && v->o.audit != NULL);
    v->admin = (struct auth_identity){.name = "admin", .role = ROLE_ADMIN, .pattern = "**"};
    v->writer = (struct auth_identity){
        .name = "ci", .username = "alice", .role = ROLE_WRITE, .pattern = "team/**"};
    v->reader = (struct auth_identity){.name = "ro", .role = ROLE_READ, .pattern = "**"};
    v->writer2 = (struct auth_identity){.name = "ci-2", .role = ROLE_WRITE, .pattern = "team/**"};
    v->planner = (struct auth_identity){.name = "plan", .role = ROLE_PLAN, .pattern = "team/**"};
    v->outputs = (struct auth_identity){.name = "out", .role = ROLE_OUTPUTS, .pattern = "team/**"};
    v->jwt = (struct auth_identity){.name = "gitlab:team/net@main",
                                    .role = ROLE_WRITE,
                                    .pattern = "team/**",
                                    .issuer = "https://gitlab.example",
                                    .subject = "project_path:team/net:ref_type:branch:ref:main",
                                    .jti = "j-1"};
}

static void env_close(struct env *v)
{
    v->o.audit->ops->free(v->o.audit);
    v->o.locks->ops->free(v->o.locks);
    store_free(v->o.store);
}

static struct op_actor as(const struct auth_identity *who)
{
    return (struct op_actor){.who = who, .request_id = "req-1", .remote = "127.0.0.1"};
}

static char *state_json(unsigned serial, const char *lineage, const char *value)
{
    return xasprintf("{\"version\":4,\"serial\":%u,\"lineage\":\"%s\",\"outputs\":{\"v\":"
                     "{\"value\":\"%s\",\"type\":\"string\"}},\"resources\":[]}",
                     serial, lineage, value);
}

static char *lock_info(const char *id)
{
    return xasprintf("{\"ID\":\"%s\",\"Operation\":\"OperationTypeApply\",\"Info\":\"\","
                     "\"Who\":\"alice@ci\",\"Version\":\"1.11.0\","
                     "\"Created\":\"2026-12-01T10:00:00Z\",\"Path\":\"\"}",
                     id);
}

/* Runs one operation and returns the error code of its result (ERR_OK on success). */
static enum err_code run(op_fn fn, struct env *v, const struct auth_identity *who,
                         const struct op_request *q, struct op_result *keep)
{
    struct op_actor a = as(who);
    struct op_result res;
    op_result_init(&res);
    int rc = fn(&v->o, &a, q, &res);
    enum err_code code = res.err.code;
    CHECK_INT(rc, code == ERR_OK ? 0 : -1);
    if (keep != NULL)
        *keep = res;
    else
        op_result_cleanup(&res);
    return code;
}

static enum err_code write_state(struct env *v, const char *state, const char *body,
                                 const char *lock_id, struct op_result *keep)
{
    struct op_request q = {
        .state = state, .body = body, .body_len = strlen(body), .lock_id = lock_id};
    return run(ops_write, v, &v->writer, &q, keep);
}

static enum err_code lock_state(struct env *v, const char *state, const char *id,
                                struct op_result *keep)
{
    char *info = lock_info(id);
    struct op_request q = {.state = state, .body = info, .body_len = strlen(info)};
    enum err_code code = run(ops_lock, v, &v->writer, &q, keep);
    free(info);
    return code;
}

static int count_snapshot(void *ctx, const struct state_meta *m)
{
    (void)m;
    (*(int *)ctx)++;
    return 0;
}

static int snapshots(struct env *v, const char *state)
{
    struct err e = {0};
    int n = 0;
    store_list_snapshots(v->o.store, state, count_snapshot, &n, &e);
    return n;
}

static uint64_t current_serial(struct env *v, const char *state)
{
    struct err e = {0};
    struct state_meta m = {0};
    return store_head(v->o.store, state, &m, &e) == 0 ? m.serial : 0;
}

/* ------------------------------------------------------------------ audit as written */

static int collect(void *ctx, const char *data, size_t len)
{
    return buf_append(ctx, data, len, NULL);
}

/* The n-th event from the end of the trail (0: the last) into *ev. */
static bool event_from_end(struct env *v, int n, struct audit_event *ev)
{
    struct buf b;
    struct err e = {0};
    struct audit_filter f = {0};
    buf_init(&b, 0);
    bool found = false;
    if (v->o.audit->ops->export(v->o.audit, &f, AUDIT_JSONL, collect, &b, &e) == 0 && b.len) {
        char *end = b.data + b.len - 1; /* the final newline */
        for (int i = 0; i <= n && end > b.data; i++) {
            char *start = end;
            while (start > b.data && start[-1] != '\n')
                start--;
            if (i == n)
                found =
                    audit_event_parse(start, (size_t)(end - start), ev, NULL, NULL, NULL, &e) == 0;
            end = start - 1;
        }
    }
    buf_cleanup(&b);
    return found;
}

/* ------------------------------------------------------------------ tests */

static void test_write_read_and_identical_rewrite(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    char *s1 = state_json(1, "lin-a", "one");
    struct op_result res;
    CHECK_INT(write_state(&v, "team/app", s1, NULL, &res), ERR_OK);
    CHECK(!res.unchanged);
    CHECK_INT(res.meta.serial, 1);
    CHECK_STR(res.meta.writer, "ci/alice");
    op_result_cleanup(&res);
    /* a client retrying after a lost answer: 200, no second snapshot */
    CHECK_INT(write_state(&v, "team/app", s1, NULL, &res), ERR_OK);
    CHECK(res.unchanged);
    op_result_cleanup(&res);
    CHECK_INT(snapshots(&v, "team/app"), 1);

    struct op_request q = {.state = "team/app"};
    CHECK_INT(run(ops_read, &v, &v.reader, &q, &res), ERR_OK);
    CHECK(res.data != NULL && res.data->len == strlen(s1) && memcmp(res.data->data, s1, 1) == 0);
    char md5[25];
    md5_base64(s1, strlen(s1), md5);
    CHECK_STR(res.md5, md5);
    op_result_cleanup(&res);

    struct audit_event ev;
    CHECK(event_from_end(&v, 0, &ev));
    CHECK_STR(ev.action, "get");
    CHECK_INT(ev.status, 200);
    CHECK_INT(ev.serial, 1);
    CHECK(event_from_end(&v, 1, &ev));
    CHECK_STR(ev.action, "write");
    CHECK_STR(ev.detail, "identical to the current state: no snapshot");

    q.state = "team/none";
    CHECK_INT(run(ops_read, &v, &v.reader, &q, NULL), ERR_NOT_FOUND);
    CHECK(event_from_end(&v, 0, &ev));
    CHECK_INT(ev.status, 404);
    free(s1);
    env_close(&v);
}

static void test_lease_renewed_by_writes(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    struct op_result res;
    CHECK_INT(lock_state(&v, "team/net", "id-a", &res), ERR_OK);
    CHECK_INT(res.lock.outcome, LOCK_ACQUIRED);
    int64_t first_expiry = res.lock.holder.expires_us;
    op_result_cleanup(&res);

    /* A write with the ID renews the lease from its own time (no assumption about how long
     * anything took: only that the renewal is at least the time slept later). */
    sleep_ms(100);
    char *s1 = state_json(1, "lin-n", "one");
    CHECK_INT(write_state(&v, "team/net", s1, "id-a", &res), ERR_OK);
    CHECK_INT(res.lock.outcome, LOCK_RENEWED);
    CHECK(res.lock.holder.expires_us >= first_expiry + 100 * 1000);
    op_result_cleanup(&res);
    char *s2 = state_json(2, "lin-n", "two");
    CHECK_INT(write_state(&v, "team/net", s2, "id-a", NULL), ERR_OK);
    CHECK_INT(current_serial(&v, "team/net"), 2);

    /* LOCK by the holder's ID again: 200, lease renewed */
    CHECK_INT(lock_state(&v, "team/net", "id-a", &res), ERR_OK);
    CHECK_INT(res.lock.outcome, LOCK_REENTERED);
    op_result_cleanup(&res);
    /* another ID: 423 naming the holder */
    CHECK_INT(lock_state(&v, "team/net", "id-b", &res), ERR_LOCKED);
    CHECK_STR(res.lock.holder.id, "id-a");
    op_result_cleanup(&res);
    struct audit_event ev;
    CHECK(event_from_end(&v, 0, &ev));
    CHECK_STR(ev.action, "lock");
    CHECK_INT(ev.status, 423);
    CHECK_STR(ev.detail, "held by ID id-a");

    /* writes without the ID, or with another one, are refused while the lease is live */
    char *s3 = state_json(3, "lin-n", "three");
    CHECK_INT(write_state(&v, "team/net", s3, NULL, &res), ERR_LOCKED);
    CHECK_STR(res.lock.holder.id, "id-a");
    op_result_cleanup(&res);
    CHECK_INT(write_state(&v, "team/net", s3, "id-b", NULL), ERR_LOCKED);
    CHECK_INT(current_serial(&v, "team/net"), 2);
    free(s1);
    free(s2);
    free(s3);
    env_close(&v);
}

static void test_expired_holder_refused(void)
{
    struct env v;
    env_open(&v, SHORT_TTL_US);
    CHECK_INT(lock_state(&v, "team/db", "id-a", NULL), ERR_OK);
    sleep_ms(SHORT_TTL_US / 1000 + 100);
    /* the lease lapsed: its holder's late write must not land */
    char *s1 = state_json(1, "lin-d", "late");
    CHECK_INT(write_state(&v, "team/db", s1, "id-a", NULL), ERR_LOCKED);
    CHECK_INT(current_serial(&v, "team/db"), 0);
    /* the next LOCK takes the expired lease over, and the trail says whose lapsed */
    struct op_result res;
    CHECK_INT(lock_state(&v, "team/db", "id-b", &res), ERR_OK);
    CHECK_INT(res.lock.outcome, LOCK_TAKEN_OVER);
    CHECK_STR(res.lock.previous.id, "id-a");
    op_result_cleanup(&res);
    struct audit_event ev;
    CHECK(event_from_end(&v, 0, &ev));
    CHECK_STR(ev.action, "lock");
    CHECK_STR(ev.lock_id, "id-b");
    CHECK(event_from_end(&v, 1, &ev));
    CHECK_STR(ev.action, "lock-expired");
    CHECK_STR(ev.lock_id, "id-a");
    CHECK_INT(ev.status, 200);
    free(s1);
    env_close(&v);
}

static void test_restore_serial(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    char *s5 = state_json(5, "lin-r", "good"), *s6 = state_json(6, "lin-r", "bad");
    struct op_result res;
    CHECK_INT(write_state(&v, "team/r", s5, NULL, &res), ERR_OK);
    char good[64];
    snprintf(good, sizeof(good), "%s", res.meta.snapshot);
    op_result_cleanup(&res);
    CHECK_INT(write_state(&v, "team/r", s6, NULL, NULL), ERR_OK);

    /* serial one above both the current (6) and the snapshot's (5), lineage kept */
    struct op_request q = {.state = "team/r", .snapshot = good};
    CHECK_INT(run(ops_restore, &v, &v.writer, &q, &res), ERR_OK);
    CHECK_INT(res.meta.serial, 7);
    CHECK_STR(res.meta.lineage, "lin-r");
    CHECK_STR(res.restored_from, good);
    op_result_cleanup(&res);
    struct buf b;
    struct state_meta m;
    struct state_summary sum;
    struct err e = {0};
    buf_init(&b, 0);
    CHECK_INT(store_get(v.o.store, "team/r", &b, &m, &e), 0);
    CHECK_INT(statejson_scan(b.data, b.len, &sum, &e), 0);
    CHECK_INT(sum.serial, 7);
    CHECK(strstr(b.data, "\"good\"") != NULL);
    buf_cleanup(&b);
    CHECK_INT(snapshots(&v, "team/r"), 3); /* nothing overwritten */

    /* refused while locked, unless forced (and then the lease is reported, left in place) */
    CHECK_INT(lock_state(&v, "team/r", "id-x", NULL), ERR_OK);
    CHECK_INT(run(ops_restore, &v, &v.writer, &q, &res), ERR_LOCKED);
    CHECK_STR(res.lock.holder.id, "id-x");
    CHECK(strstr(res.err.msg, "restore refused") != NULL);
    op_result_cleanup(&res);
    CHECK_INT(current_serial(&v, "team/r"), 7);
    q.force = true;
    CHECK_INT(run(ops_restore, &v, &v.writer, &q, &res), ERR_OK);
    CHECK(res.lock_left);
    CHECK_STR(res.lock.holder.id, "id-x");
    CHECK_INT(res.meta.serial, 8);
    op_result_cleanup(&res);
    struct audit_event ev;
    CHECK(event_from_end(&v, 0, &ev));
    CHECK_STR(ev.action, "restore");
    CHECK_STR(ev.lock_id, "id-x");
    CHECK_INT(ev.serial, 8);

    q.snapshot = "0000000000000001-1-000000000000";
    CHECK_INT(run(ops_restore, &v, &v.writer, &q, NULL), ERR_NOT_FOUND);
    q.snapshot = NULL;
    CHECK_INT(run(ops_restore, &v, &v.writer, &q, NULL), ERR_INVALID);
    free(s5);
    free(s6);
    env_close(&v);
}

static char *state_json_u64(uint64_t serial, const char *lineage, const char *value)
{
    return xasprintf("{\"version\":4,\"serial\":%llu,\"lineage\":\"%s\",\"outputs\":{\"v\":"
                     "{\"value\":\"%s\",\"type\":\"string\"}},\"resources\":[]}",
                     (unsigned long long)serial, lineage, value);
}

/* Serials are exact up to 2^64-1 in the result, the store and the audit event; a restore that
 * would need a serial above that is refused and writes nothing. */
static void test_serial_u64_and_restore_overflow(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    const uint64_t serials[] = {9223372036854775807ULL, 9223372036854775808ULL, UINT64_MAX};
    char first[64] = "";
    for (int i = 0; i < 3; i++) {
        char *body = state_json_u64(serials[i], "lin-u", "x");
        struct op_result res;
        CHECK_INT(write_state(&v, "team/u", body, NULL, &res), ERR_OK);
        CHECK(res.meta.serial == serials[i]);
        if (i == 0)
            snprintf(first, sizeof(first), "%s", res.meta.snapshot);
        op_result_cleanup(&res);
        CHECK(current_serial(&v, "team/u") == serials[i]);
        struct audit_event ev;
        CHECK(event_from_end(&v, 0, &ev));
        CHECK(ev.has_serial);
        CHECK(ev.serial == serials[i]);
        free(body);
    }
    /* The current serial is 2^64-1: there is no serial above it to restore with. */
    struct op_request q = {.state = "team/u", .snapshot = first};
    struct op_result res;
    CHECK_INT(run(ops_restore, &v, &v.writer, &q, &res), ERR_INVALID);
    CHECK(strstr(res.err.msg, "serial would overflow") != NULL);
    op_result_cleanup(&res);
    CHECK_INT(snapshots(&v, "team/u"), 3);
    CHECK(current_serial(&v, "team/u") == UINT64_MAX);
    struct audit_event ev;
    CHECK(event_from_end(&v, 0, &ev));
    CHECK_STR(ev.action, "restore");
    CHECK_INT(ev.status, 400);
    /* One below the top restores to exactly 2^64-1. */
    char *body = state_json_u64(UINT64_MAX - 2, "lin-w", "y");
    CHECK_INT(write_state(&v, "team/w", body, NULL, &res), ERR_OK);
    snprintf(first, sizeof(first), "%s", res.meta.snapshot);
    op_result_cleanup(&res);
    free(body);
    body = state_json_u64(UINT64_MAX - 1, "lin-w", "z");
    CHECK_INT(write_state(&v, "team/w", body, NULL, NULL), ERR_OK);
    free(body);
    q.state = "team/w";
    q.snapshot = first;
    CHECK_INT(run(ops_restore, &v, &v.writer, &q, &res), ERR_OK);
    CHECK(res.meta.serial == UINT64_MAX);
    op_result_cleanup(&res);
    CHECK(event_from_end(&v, 0, &ev));
    CHECK(ev.serial == UINT64_MAX);
    env_close(&v);
}

static enum err_code unlock_as(struct env *v, const struct auth_identity *who, const char *body,
                               struct op_result *keep)
{
    struct op_request q = {.state = "team/u", .body = body, .body_len = body ? strlen(body) : 0};
    return run(ops_unlock, v, who, &q, keep);
}

static void test_unlock_compares_the_id(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    char *info_a = lock_info("id-a"), *info_b = lock_info("id-b");
    struct op_result res;
    CHECK_INT(lock_state(&v, "team/u", "id-a", NULL), ERR_OK);
    CHECK_INT(unlock_as(&v, &v.writer, info_b, &res), ERR_LOCKED);
    CHECK_STR(res.lock.holder.id, "id-a");
    op_result_cleanup(&res);
    /* Another writer with the holder's full lock info: a normal unlock, the ID is the proof. */
    CHECK_INT(unlock_as(&v, &v.writer2, info_a, &res), ERR_OK);
    CHECK_INT(res.lock.outcome, LOCK_RELEASED);
    op_result_cleanup(&res);
    CHECK_INT(unlock_as(&v, &v.writer, info_a, &res), ERR_OK);
    CHECK_INT(res.lock.outcome, LOCK_NOT_HELD);
    op_result_cleanup(&res);
    free(info_a);
    free(info_b);
    env_close(&v);
}

/* Who may force-unlock a lock "ci" took, per policy, with terraform's empty body and OpenTofu's
 * ID-only body: 0 = released, else the refusal. */
static void test_force_unlock_matrix(void)
{
    static const struct {
        enum force_unlock_policy policy;
        enum err_code holder, other, admin;
    } rows[] = {
        {FORCE_UNLOCK_HOLDER_OR_ADMIN, ERR_OK, ERR_FORBIDDEN, ERR_OK},
        {FORCE_UNLOCK_ANY, ERR_OK, ERR_OK, ERR_OK},
        {FORCE_UNLOCK_NEVER, ERR_LOCKED, ERR_LOCKED, ERR_LOCKED},
    };
    const char *bodies[] = {NULL, "{\"ID\":\"id-f\",\"Operation\":\"\",\"Info\":\"\",\"Who\":\"\","
                                  "\"Version\":\"\",\"Created\":\"0001-01-01T00:00:00Z\","
                                  "\"Path\":\"\"}"};
    struct env v;
    env_open(&v, LONG_TTL_US);
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        v.o.force_unlock = rows[r].policy;
        const struct auth_identity *who[] = {&v.writer, &v.writer2, &v.admin};
        enum err_code want[] = {rows[r].holder, rows[r].other, rows[r].admin};
        for (size_t b = 0; b < 2; b++) {
            for (size_t w = 0; w < 3; w++) {
                struct op_result res;
                CHECK_INT(lock_state(&v, "team/u", "id-f", NULL), ERR_OK);
                CHECK_INT(unlock_as(&v, who[w], bodies[b], &res), want[w]);
                CHECK(res.forced);
                if (want[w] == ERR_FORBIDDEN)
                    CHECK(strstr(res.err.msg, "taken by 'ci'") != NULL);
                op_result_cleanup(&res);
                struct audit_event ev;
                CHECK(event_from_end(&v, 0, &ev));
                CHECK_STR(ev.action, "force-unlock");
                CHECK_STR(ev.actor, who[w]->name);
                CHECK_STR(ev.lock_owner, "ci"); /* both identities, allowed or refused */
                CHECK_INT(ev.status, want[w] == ERR_OK ? 200 : err_http_status(want[w]));
                struct op_request q = {.state = "team/u", .lock_id = "id-f"};
                CHECK_INT(run(ops_force_unlock, &v, &v.admin, &q, NULL), ERR_OK);
            }
        }
    }
    /* OpenTofu's ID-only body with a wrong ID, from the holder: the ID is still compared. */
    v.o.force_unlock = FORCE_UNLOCK_HOLDER_OR_ADMIN;
    CHECK_INT(lock_state(&v, "team/u", "id-g", NULL), ERR_OK);
    CHECK_INT(unlock_as(&v, &v.writer, bodies[1], NULL), ERR_LOCKED);
    /* Nothing held: a force-unlock by anyone allowed to lock is a no-op. */
    CHECK_INT(run(ops_force_unlock, &v, &v.admin, &(struct op_request){.state = "team/u"}, NULL),
              ERR_OK);
    CHECK_INT(unlock_as(&v, &v.writer2, NULL, NULL), ERR_OK);
    env_close(&v);
}

/* A JWT identity owns its lock by rule name and subject: the same rule with another subject is
 * someone else. */
static void test_force_unlock_jwt_owner(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    char *info = lock_info("id-j");
    struct op_request lq = {.state = "team/u", .body = info, .body_len = strlen(info)};
    CHECK_INT(run(ops_lock, &v, &v.jwt, &lq, NULL), ERR_OK);
    struct auth_identity other = v.jwt;
    snprintf(other.subject, sizeof(other.subject), "project_path:team/net:ref:feature");
    struct op_result res;
    CHECK_INT(unlock_as(&v, &other, NULL, &res), ERR_FORBIDDEN);
    CHECK(strstr(res.err.msg, "sub=project_path:team/net:ref_type:branch:ref:main") != NULL);
    op_result_cleanup(&res);
    struct audit_event ev;
    CHECK(event_from_end(&v, 0, &ev));
    CHECK_STR(ev.subject, "project_path:team/net:ref:feature");
    CHECK_STR(ev.issuer, "https://gitlab.example");
    CHECK_STR(ev.jti, "j-1");
    CHECK_INT(unlock_as(&v, &v.jwt, NULL, NULL), ERR_OK);
    free(info);
    env_close(&v);
}

static void test_admin_force_unlock(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    struct op_result res;
    CHECK_INT(lock_state(&v, "team/u", "id-c", NULL), ERR_OK);
    struct op_request fq = {.state = "team/u"};
    /* A non-admin as --force-unlock lets a client (holder-or-admin: not another writer);
     * reader and planner may not either. */
    CHECK_INT(run(ops_force_unlock, &v, &v.writer2, &fq, NULL), ERR_FORBIDDEN);
    CHECK_INT(run(ops_force_unlock, &v, &v.planner, &fq, NULL), ERR_FORBIDDEN);
    CHECK_INT(run(ops_force_unlock, &v, &v.reader, &fq, NULL), ERR_FORBIDDEN);
    v.o.force_unlock = FORCE_UNLOCK_NEVER; /* the holder neither; an admin still may */
    CHECK_INT(run(ops_force_unlock, &v, &v.writer, &fq, NULL), ERR_LOCKED);
    fq.lock_id = "id-other";
    CHECK_INT(run(ops_force_unlock, &v, &v.admin, &fq, &res), ERR_LOCKED);
    CHECK(strstr(res.err.msg, "not the ID given") != NULL);
    op_result_cleanup(&res);
    fq.lock_id = "id-c";
    CHECK_INT(run(ops_force_unlock, &v, &v.admin, &fq, &res), ERR_OK);
    CHECK_STR(res.lock.previous.id, "id-c");
    op_result_cleanup(&res);
    struct audit_event ev;
    CHECK(event_from_end(&v, 0, &ev));
    CHECK_STR(ev.lock_owner, "ci");
    /* The holder itself (writer "ci") under holder-or-admin, with a reason recorded. */
    v.o.force_unlock = FORCE_UNLOCK_HOLDER_OR_ADMIN;
    CHECK_INT(lock_state(&v, "team/u", "id-d", NULL), ERR_OK);
    struct op_request hq = {.state = "team/u", .reason = "stuck CI job"};
    CHECK_INT(run(ops_force_unlock, &v, &v.writer, &hq, &res), ERR_OK);
    CHECK_STR(res.lock.previous.id, "id-d");
    op_result_cleanup(&res);
    CHECK(event_from_end(&v, 0, &ev));
    CHECK(strstr(ev.detail, "reason: stuck CI job") != NULL);
    /* any: another writer too. */
    v.o.force_unlock = FORCE_UNLOCK_ANY;
    CHECK_INT(lock_state(&v, "team/u", "id-e", NULL), ERR_OK);
    fq.lock_id = NULL;
    CHECK_INT(run(ops_force_unlock, &v, &v.writer2, &fq, NULL), ERR_OK);
    env_close(&v);
}

/* plan: reads, locks and unlocks its own lock; writes nothing and releases no one else's. */
static void test_plan_role(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    char *s1 = state_json(1, "lin-pl", "x"), *info = lock_info("id-p");
    CHECK_INT(write_state(&v, "team/p", s1, NULL, NULL), ERR_OK);
    struct op_request q = {.state = "team/p", .body = info, .body_len = strlen(info)};
    struct op_result res;
    CHECK_INT(run(ops_read, &v, &v.planner, &q, NULL), ERR_OK);
    CHECK_INT(run(ops_lock, &v, &v.planner, &q, NULL), ERR_OK);
    struct op_request wq = {
        .state = "team/p", .body = s1, .body_len = strlen(s1), .lock_id = "id-p"};
    CHECK_INT(run(ops_write, &v, &v.planner, &wq, &res), ERR_FORBIDDEN);
    CHECK(strstr(res.err.msg, "has role plan, which may not change states") != NULL);
    op_result_cleanup(&res);
    CHECK_INT(run(ops_delete, &v, &v.planner, &wq, NULL), ERR_FORBIDDEN);
    CHECK_INT(run(ops_unlock, &v, &v.planner, &q, NULL), ERR_OK);
    /* Someone else's lock, even with its ID: 403. */
    CHECK_INT(lock_state(&v, "team/p", "id-p", NULL), ERR_OK);
    CHECK_INT(run(ops_unlock, &v, &v.planner, &q, &res), ERR_FORBIDDEN);
    CHECK(strstr(res.err.msg, "role plan may unlock only its own locks") != NULL);
    op_result_cleanup(&res);
    CHECK_INT(current_serial(&v, "team/p"), 1);
    free(s1);
    free(info);
    env_close(&v);
}

/* outputs: the state reduced to what terraform_remote_state reads, nothing else. */
static void test_outputs_role(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    const char *full =
        "{\"version\":4,\"terraform_version\":\"1.11.0\",\"serial\":3,"
        "\"lineage\":\"lin-o\",\"outputs\":{\"url\":{\"value\":12345678901234567890,"
        "\"type\":\"number\"},\"pw\":{\"value\":\"s3cr3t\",\"type\":\"string\","
        "\"sensitive\":true}},\"resources\":[{\"mode\":\"managed\",\"type\":\"x\","
        "\"name\":\"db\",\"instances\":[{\"attributes\":{\"password\":\"hidden\"}}]}],"
        "\"check_results\":null}";
    CHECK_INT(write_state(&v, "team/o", full, NULL, NULL), ERR_OK);
    struct op_request q = {.state = "team/o"};
    struct op_result res;
    CHECK_INT(run(ops_read, &v, &v.outputs, &q, &res), ERR_OK);
    const char *want = "{\"version\":4,\"terraform_version\":\"1.11.0\",\"serial\":3,"
                       "\"lineage\":\"lin-o\",\"outputs\":{\"url\":{\"value\":12345678901234567890,"
                       "\"type\":\"number\"},\"pw\":{\"value\":\"s3cr3t\",\"type\":\"string\","
                       "\"sensitive\":true}},\"resources\":[]}\n";
    CHECK_MEM(res.data->data, res.data->len, want, strlen(want));
    char md5[25];
    md5_base64(want, strlen(want), md5);
    CHECK_STR(res.md5, md5);
    op_result_cleanup(&res);
    struct audit_event ev;
    CHECK(event_from_end(&v, 0, &ev));
    CHECK(strstr(ev.detail, "outputs only") != NULL);
    /* No lock, no write, no other state. */
    char *info = lock_info("id-o");
    struct op_request lq = {.state = "team/o", .body = info, .body_len = strlen(info)};
    CHECK_INT(run(ops_lock, &v, &v.outputs, &lq, NULL), ERR_FORBIDDEN);
    struct op_request wq = {.state = "team/o", .body = full, .body_len = strlen(full)};
    CHECK_INT(run(ops_write, &v, &v.outputs, &wq, NULL), ERR_FORBIDDEN);
    q.state = "other/o";
    CHECK_INT(run(ops_read, &v, &v.outputs, &q, NULL), ERR_FORBIDDEN);
    /* An OpenTofu-encrypted state cannot be reduced. */
    const char *enc = "{\"serial\":1,\"lineage\":\"lin-e\",\"meta\":{},\"encrypted_data\":\"AAAA\","
                      "\"encryption_version\":\"v0\"}";
    CHECK_INT(write_state(&v, "team/e", enc, NULL, NULL), ERR_OK);
    q.state = "team/e";
    CHECK_INT(run(ops_read, &v, &v.outputs, &q, &res), ERR_FORBIDDEN);
    CHECK(strstr(res.err.msg, "encrypted") != NULL);
    CHECK(res.data == NULL);
    op_result_cleanup(&res);
    free(info);
    env_close(&v);
}

static void test_roles_and_patterns(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    char *s1 = state_json(1, "lin-p", "x");
    struct op_request q = {.state = "other/app", .body = s1, .body_len = strlen(s1)};
    struct op_result res;
    /* the writer's pattern is team/ ** */
    CHECK_INT(run(ops_write, &v, &v.writer, &q, &res), ERR_FORBIDDEN);
    CHECK(strstr(res.err.msg, "may not change state 'other/app'") != NULL);
    op_result_cleanup(&res);
    struct audit_event ev;
    CHECK(event_from_end(&v, 0, &ev));
    CHECK_INT(ev.status, 403);
    CHECK_STR(ev.actor, "ci");
    CHECK_STR(ev.username, "alice");
    /* a read token may read, not write, lock or restore */
    q.state = "team/app";
    CHECK_INT(run(ops_write, &v, &v.reader, &q, NULL), ERR_FORBIDDEN);
    CHECK_INT(run(ops_lock, &v, &v.reader, &q, NULL), ERR_FORBIDDEN);
    CHECK_INT(run(ops_delete, &v, &v.reader, &q, NULL), ERR_FORBIDDEN);
    CHECK_INT(current_serial(&v, "team/app"), 0);
    CHECK_INT(run(ops_write, &v, &v.admin, &q, NULL), ERR_OK);
    CHECK_INT(run(ops_read, &v, &v.reader, &q, NULL), ERR_OK);
    /* no identity at all */
    CHECK_INT(run(ops_read, &v, NULL, &q, NULL), ERR_FORBIDDEN);
    free(s1);
    env_close(&v);
}

static void test_bad_bodies_change_nothing(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    char *s1 = state_json(1, "lin-b", "kept");
    CHECK_INT(write_state(&v, "team/b", s1, NULL, NULL), ERR_OK);
    CHECK_INT(write_state(&v, "team/b", "", NULL, NULL), ERR_INVALID);
    CHECK_INT(write_state(&v, "team/b", "{\"serial\":\"2\",\"lineage\":\"x\"}", NULL, NULL),
              ERR_INVALID);
    CHECK_INT(write_state(&v, "team/b", "[1,2]", NULL, NULL), ERR_INVALID);
    char *big = xmalloc(70 * 1024 + 1);
    memset(big, ' ', 70 * 1024);
    big[70 * 1024] = '\0';
    CHECK_INT(write_state(&v, "team/b", big, NULL, NULL), ERR_TOO_LARGE);
    char *s2 = state_json(2, "lin-b", "md5");
    struct op_request q = {.state = "team/b",
                           .body = s2,
                           .body_len = strlen(s2),
                           .content_md5 = "AAAAAAAAAAAAAAAAAAAAAA=="};
    CHECK_INT(run(ops_write, &v, &v.writer, &q, NULL), ERR_INVALID);
    char md5[25];
    md5_base64(s2, strlen(s2), md5);
    char *padded = xasprintf(" %s ", md5);
    q.content_md5 = padded;
    CHECK_INT(run(ops_write, &v, &v.writer, &q, NULL), ERR_OK);
    CHECK_INT(current_serial(&v, "team/b"), 2);
    CHECK_INT(snapshots(&v, "team/b"), 2);
    /* a lock body that is not lock info */
    struct op_request lq = {.state = "team/b", .body = "{\"Who\":\"x\"}", .body_len = 11};
    CHECK_INT(run(ops_lock, &v, &v.writer, &lq, NULL), ERR_INVALID);
    struct err e = {0};
    struct lock_result lr;
    lock_result_init(&lr);
    CHECK_INT(v.o.locks->ops->get(v.o.locks, "team/b", &lr, &e), -1);
    lock_result_cleanup(&lr);
    free(padded);
    free(s2);
    free(big);
    free(s1);
    env_close(&v);
}

static void test_delete_keeps_snapshots(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    char *s1 = state_json(1, "lin-x", "x");
    CHECK_INT(write_state(&v, "team/x", s1, NULL, NULL), ERR_OK);
    CHECK_INT(lock_state(&v, "team/x", "id-a", NULL), ERR_OK);
    struct op_request q = {.state = "team/x"};
    CHECK_INT(run(ops_delete, &v, &v.writer, &q, NULL), ERR_LOCKED);
    q.lock_id = "id-a";
    CHECK_INT(run(ops_delete, &v, &v.writer, &q, NULL), ERR_OK);
    CHECK_INT(current_serial(&v, "team/x"), 0);
    CHECK_INT(snapshots(&v, "team/x"), 1);
    free(s1);
    env_close(&v);
}

/* A restore's reason: bounded, UTF-8, no control characters; kept with the version and in the
 * event. Refused reasons write nothing. */
static void test_restore_reason(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    char *s1 = state_json(1, "lin-q", "one"), *s2 = state_json(2, "lin-q", "two");
    char long_reason[STORE_REASON_MAX + 2];
    memset(long_reason, 'r', sizeof(long_reason) - 1);
    long_reason[sizeof(long_reason) - 1] = '\0';
    CHECK_INT(write_state(&v, "team/q", s1, NULL, NULL), ERR_OK);
    CHECK_INT(write_state(&v, "team/q", s2, NULL, NULL), ERR_OK);
    static const char *const bad[] = {"tab\there", "bell\x07", "del\x7f", "c1 \xc2\x85",
                                      "not utf-8 \xff"};
    struct op_request q = {.state = "team/q", .snapshot = "latest~1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        q.reason = bad[i];
        CHECK_INT(run(ops_restore, &v, &v.writer, &q, NULL), ERR_INVALID);
    }
    q.reason = long_reason;
    CHECK_INT(run(ops_restore, &v, &v.writer, &q, NULL), ERR_INVALID);
    CHECK_INT(snapshots(&v, "team/q"), 2);
    q.reason = "roll back: the apply broke DNS";
    struct op_result res;
    CHECK_INT(run(ops_restore, &v, &v.writer, &q, &res), ERR_OK);
    CHECK_STR(res.meta.reason, q.reason);
    CHECK_STR(res.meta.restored_by, "ci/alice");
    CHECK_STR(res.meta.restored_from, res.restored_from);
    op_result_cleanup(&res);
    struct audit_event ev;
    CHECK(event_from_end(&v, 0, &ev));
    CHECK_STR(ev.action, "restore");
    CHECK(strstr(ev.detail, "roll back: the apply broke DNS") != NULL);
    free(s1);
    free(s2);
    env_close(&v);
}

/* Deleting a version: admin only, a reason required, never the current one; the event names
 * the deleted bytes by their SHA-256. */
static void test_delete_version(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    char *s1 = state_json(1, "lin-d", "leak"), *s2 = state_json(2, "lin-d", "fixed");
    CHECK_INT(write_state(&v, "team/d", s1, NULL, NULL), ERR_OK);
    CHECK_INT(write_state(&v, "team/d", s2, NULL, NULL), ERR_OK);
    struct op_request q = {.state = "team/d", .snapshot = "serial:1", .reason = "leaked"};
    CHECK_INT(run(ops_delete_version, &v, &v.writer, &q, NULL), ERR_FORBIDDEN);
    q.reason = NULL;
    CHECK_INT(run(ops_delete_version, &v, &v.admin, &q, NULL), ERR_INVALID);
    q.reason = "leaked";
    q.snapshot = "latest";
    CHECK_INT(run(ops_delete_version, &v, &v.admin, &q, NULL), ERR_INVALID);
    CHECK_INT(snapshots(&v, "team/d"), 2);
    q.snapshot = "serial:1";
    struct op_result res;
    char sha[65];
    sha256_hex(s1, strlen(s1), sha);
    CHECK_INT(run(ops_delete_version, &v, &v.admin, &q, &res), ERR_OK);
    CHECK_STR(res.meta.sha256, sha);
    op_result_cleanup(&res);
    CHECK_INT(snapshots(&v, "team/d"), 1);
    struct audit_event ev;
    CHECK(event_from_end(&v, 0, &ev));
    CHECK_STR(ev.action, "snapshot-delete");
    CHECK_STR(ev.sha256, sha);
    CHECK(strstr(ev.detail, ": leaked") != NULL);
    CHECK_INT(run(ops_delete_version, &v, &v.admin, &q, NULL), ERR_NOT_FOUND);
    free(s1);
    free(s2);
    env_close(&v);
}

/* A move is refused while a client holds either lock and leaves no lease of its own behind;
 * then the state and its history are under the new name, and both names have an event. */
/* An import never rolls a state back: an older serial of the current lineage is refused and
 * changes nothing; a newer one, or another lineage's, is written; a known version is skipped. */
static void test_import_never_rolls_back(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    char *s5 = state_json(5, "lin-i", "five"), *s3 = state_json(3, "lin-i", "three");
    char *s6 = state_json(6, "lin-i", "six"), *other = state_json(1, "lin-j", "other");
    CHECK_INT(write_state(&v, "team/i", s5, NULL, NULL), ERR_OK);
    struct op_request q = {.state = "team/i", .body = s3, .body_len = strlen(s3), .source = "old"};
    struct op_result res;
    CHECK_INT(run(ops_import, &v, &v.admin, &q, &res), ERR_INVALID);
    CHECK(strstr(res.err.msg, "roll the state back") != NULL);
    op_result_cleanup(&res);
    CHECK_INT(current_serial(&v, "team/i"), 5);
    CHECK_INT(snapshots(&v, "team/i"), 1);
    q.body = s6;
    q.body_len = strlen(s6);
    CHECK_INT(run(ops_import, &v, &v.admin, &q, NULL), ERR_OK);
    CHECK_INT(current_serial(&v, "team/i"), 6);
    CHECK_INT(run(ops_import, &v, &v.admin, &q, &res), ERR_OK);
    CHECK(res.duplicate_of[0] != '\0');
    op_result_cleanup(&res);
    q.body = other;
    q.body_len = strlen(other);
    CHECK_INT(run(ops_import, &v, &v.admin, &q, NULL), ERR_OK);
    CHECK_INT(current_serial(&v, "team/i"), 1);
    CHECK_INT(snapshots(&v, "team/i"), 3);
    free(s5);
    free(s3);
    free(s6);
    free(other);
    env_close(&v);
}

static void test_move(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    char *s1 = state_json(1, "lin-m", "one");
    CHECK_INT(write_state(&v, "team/m", s1, NULL, NULL), ERR_OK);
    struct op_request q = {.state = "team/m", .to = "team/n"};
    CHECK_INT(run(ops_move, &v, &v.writer, &q, NULL), ERR_FORBIDDEN);
    struct op_result res;
    CHECK_INT(lock_state(&v, "team/n", "held-n", NULL), ERR_OK);
    CHECK_INT(run(ops_move, &v, &v.admin, &q, &res), ERR_LOCKED);
    CHECK_STR(res.lock.holder.id, "held-n");
    op_result_cleanup(&res);
    struct lock_result lr;
    struct err e = {0};
    lock_result_init(&lr);
    CHECK_INT(v.o.locks->ops->get(v.o.locks, "team/m", &lr, &e), -1); /* the move's lease went */
    CHECK_INT(e.code, ERR_NOT_FOUND);
    err_clear(&e);
    lock_result_cleanup(&lr);
    lock_result_init(&lr);
    CHECK_INT(v.o.locks->ops->release(v.o.locks, "team/n", "held-n", &lr, &e), 0);
    lock_result_cleanup(&lr);
    CHECK_INT(run(ops_move, &v, &v.admin, &q, &res), ERR_OK);
    CHECK_INT(res.count, 2);
    op_result_cleanup(&res);
    CHECK_INT(snapshots(&v, "team/n"), 1);
    CHECK_INT(current_serial(&v, "team/n"), 1);
    struct state_meta m;
    CHECK_INT(store_head(v.o.store, "team/m", &m, &e), -1);
    struct audit_event ev;
    CHECK(event_from_end(&v, 0, &ev));
    CHECK_STR(ev.action, "state-move");
    CHECK_STR(ev.state, "team/m");
    CHECK(event_from_end(&v, 1, &ev));
    CHECK_STR(ev.state, "team/n");
    CHECK(strstr(ev.detail, "from team/m") != NULL);
    free(s1);
    env_close(&v);
}

/* --audit-failure=closed: an append that fails refuses the operation before anything changed
 * (the event goes ahead of the change), reads included; open answers and the change stands. */
struct failing_audit {
    struct auditlog base;
    struct auditlog *real;
    bool fail;
    int appended;
};
static int fa_append(struct auditlog *al, const struct audit_event *ev, struct err *err)
{
    struct failing_audit *fa = (struct failing_audit *)al;
    if (fa->fail)
        return err_set(err, ERR_UNAVAILABLE, "test: audit down");
    fa->appended++;
    return fa->real->ops->append(fa->real, ev, err);
}
static const struct auditlog_ops failing_ops = {.append = fa_append, .kind = "test"};

static void test_audit_fail_closed(void)
{
    struct env v;
    env_open(&v, 60 * 1000000LL);
    struct failing_audit fa = {.base.ops = &failing_ops, .real = v.o.audit};
    v.o.audit = &fa.base;
    v.o.audit_closed = true;
    char *s1 = state_json(1, "l-1", "a"), *s2 = state_json(2, "l-1", "b");
    CHECK_INT(write_state(&v, "team/app", s1, NULL, NULL), ERR_OK);
    CHECK_INT(fa.appended, 1); /* one event per write, ahead of it */
    fa.fail = true;
    CHECK_INT(write_state(&v, "team/app", s2, NULL, NULL), ERR_UNAVAILABLE);
    struct op_request q = {.state = "team/app"};
    CHECK_INT(run(ops_read, &v, &v.reader, &q, NULL), ERR_UNAVAILABLE);
    CHECK_INT(run(ops_delete, &v, &v.writer, &q, NULL), ERR_UNAVAILABLE);
    CHECK_INT(lock_state(&v, "team/app", "L1", NULL), ERR_UNAVAILABLE);
    fa.fail = false;
    CHECK_INT(current_serial(&v, "team/app"), 1);
    CHECK_INT(snapshots(&v, "team/app"), 1);
    /* the refused LOCK left the state free: another ID takes it, then releases it */
    CHECK_INT(lock_state(&v, "team/app", "L2", NULL), ERR_OK);
    struct op_request uq = {.state = "team/app", .lock_id = "L2"};
    char *li = lock_info("L2");
    uq.body = li;
    uq.body_len = strlen(li);
    CHECK_INT(run(ops_unlock, &v, &v.writer, &uq, NULL), ERR_OK);
    free(li);
    /* open: the change stands */
    v.o.audit_closed = false;
    fa.fail = true;
    CHECK_INT(write_state(&v, "team/app", s2, NULL, NULL), ERR_OK);
    fa.fail = false;
    CHECK_INT(current_serial(&v, "team/app"), 2);
    free(s1);
    free(s2);
    v.o.audit = fa.real;
    env_close(&v);
}

/* event_from_end through the failing audit's real log (it reads what was appended). */
static bool fa_event(struct env *v, struct failing_audit *fa, int n, struct audit_event *ev)
{
    v->o.audit = fa->real;
    bool found = event_from_end(v, n, ev);
    v->o.audit = &fa->base;
    return found;
}

/* The ID of state's live lease (or of its expired one), "" when there is none. */
static const char *lease_id(struct env *v, const char *state, bool expired, char id[LOCK_ID_MAX])
{
    struct lock_result lr;
    struct err e = {0};
    lock_result_init(&lr);
    struct lockstore *ls = v->o.locks;
    int rc = expired ? ls->ops->expired(ls, state, &lr, &e) : ls->ops->get(ls, state, &lr, &e);
    snprintf(id, LOCK_ID_MAX, "%s", rc != 0 ? "" : expired ? lr.previous.id : lr.holder.id);
    lock_result_cleanup(&lr);
    return id;
}

/* Closed mode covers every change, not only writes: an UNLOCK, a force-unlock and a move whose
 * event cannot be recorded change nothing; once the trail is back each leaves one event. */
static void test_audit_fail_closed_locks_and_moves(void)
{
    struct env v;
    struct err e = {0};
    char id[LOCK_ID_MAX];
    env_open(&v, 60 * 1000000LL);
    struct failing_audit fa = {.base.ops = &failing_ops, .real = v.o.audit};
    v.o.audit = &fa.base;
    v.o.audit_closed = true;
    char *s1 = state_json(1, "l-1", "a"), *li = lock_info("L1");
    CHECK_INT(write_state(&v, "team/app", s1, NULL, NULL), ERR_OK);
    CHECK_INT(lock_state(&v, "team/app", "L1", NULL), ERR_OK);
    struct op_request uq = {.state = "team/app", .body = li, .body_len = strlen(li)};
    struct op_request fq = {.state = "team/app"};
    struct op_request mq = {.state = "team/app", .to = "team/moved"};
    fa.fail = true;
    CHECK_INT(run(ops_unlock, &v, &v.writer, &uq, NULL), ERR_UNAVAILABLE);
    CHECK_INT(run(ops_force_unlock, &v, &v.admin, &fq, NULL), ERR_UNAVAILABLE);
    fa.fail = false;
    CHECK_STR(lease_id(&v, "team/app", false, id), "L1");
    /* healthy again: one event per UNLOCK, ahead of the release */
    int before = fa.appended;
    CHECK_INT(run(ops_unlock, &v, &v.writer, &uq, NULL), ERR_OK);
    CHECK_INT(fa.appended, before + 1);
    struct audit_event ev;
    CHECK(fa_event(&v, &fa, 0, &ev));
    CHECK_STR(ev.action, "unlock");
    CHECK_STR(ev.lock_id, "L1");
    CHECK_STR(ev.detail, "released");
    /* the retried UNLOCK converges: nothing held, one event, nothing announced ahead */
    CHECK_INT(run(ops_unlock, &v, &v.writer, &uq, NULL), ERR_OK);
    CHECK_INT(fa.appended, before + 2);
    CHECK(fa_event(&v, &fa, 0, &ev));
    CHECK_STR(ev.detail, "nothing held");
    fa.fail = true;
    CHECK_INT(run(ops_move, &v, &v.admin, &mq, NULL), ERR_UNAVAILABLE);
    fa.fail = false;
    CHECK_INT(current_serial(&v, "team/app"), 1);
    struct state_meta m;
    CHECK_INT(store_head(v.o.store, "team/moved", &m, &e), -1);
    before = fa.appended;
    CHECK_INT(run(ops_move, &v, &v.admin, &mq, NULL), ERR_OK);
    CHECK_INT(fa.appended, before + 2); /* both names' events */
    CHECK_INT(current_serial(&v, "team/moved"), 1);
    free(s1);
    free(li);
    v.o.audit = fa.real;
    env_close(&v);
}

/* An expired lease's lock-expired event goes ahead of the takeover: while it cannot be
 * recorded the expired lease stays; the next LOCK records it. */
static void test_audit_fail_closed_expiry(void)
{
    struct env v;
    char id[LOCK_ID_MAX];
    env_open(&v, SHORT_TTL_US);
    struct failing_audit fa = {.base.ops = &failing_ops, .real = v.o.audit};
    v.o.audit = &fa.base;
    v.o.audit_closed = true;
    CHECK_INT(lock_state(&v, "team/app", "OLD", NULL), ERR_OK);
    sleep_ms(SHORT_TTL_US / 1000 + 100);
    fa.fail = true;
    CHECK_INT(lock_state(&v, "team/app", "NEW", NULL), ERR_UNAVAILABLE);
    fa.fail = false;
    CHECK_STR(lease_id(&v, "team/app", true, id), "OLD");
    CHECK_INT(lock_state(&v, "team/app", "NEW", NULL), ERR_OK);
    struct audit_event ev;
    CHECK(fa_event(&v, &fa, 1, &ev));
    CHECK_STR(ev.action, "lock-expired");
    CHECK_STR(ev.lock_id, "OLD");
    CHECK(fa_event(&v, &fa, 0, &ev));
    CHECK_STR(ev.action, "lock");
    v.o.audit = fa.real;
    env_close(&v);
}

/* The rule's second half: what ops_audit_after appends, by whether the event went ahead and
 * the change happened. */
static void test_audit_after_rule(void)
{
    struct env v;
    env_open(&v, LONG_TTL_US);
    struct failing_audit fa = {.base.ops = &failing_ops, .real = v.o.audit};
    v.o.audit = &fa.base;
    struct op_actor a = as(&v.admin);
    struct audit_event ev;
    struct err ok = {0}, bad = {0};
    err_set(&bad, ERR_LOCKED, "held by X");
    ops_event_init(&a, &ev, "unlock");
    CHECK_INT(ops_audit_after(&v.o, &ev, true, true, 200, &ok, false), 0);
    CHECK_INT(fa.appended, 0); /* went ahead, applied: nothing more */
    snprintf(ev.detail, sizeof(ev.detail), "nothing held");
    CHECK_INT(ops_audit_after(&v.o, &ev, true, false, 200, &ok, false), 0);
    CHECK_STR(ev.detail, OPS_NOT_APPLIED ": nothing held");
    CHECK_INT(ev.status, 200);
    ops_event_init(&a, &ev, "unlock");
    CHECK_INT(ops_audit_after(&v.o, &ev, true, false, 423, &bad, false), 0);
    CHECK_STR(ev.detail, OPS_NOT_APPLIED ": held by X");
    CHECK_INT(ev.status, 423);
    ops_event_init(&a, &ev, "unlock");
    CHECK_INT(ops_audit_after(&v.o, &ev, false, false, 423, &bad, false), 0);
    CHECK_STR(ev.detail, "held by X");
    CHECK_INT(fa.appended, 3);
    /* ahead only in closed mode */
    bool ahead = true;
    CHECK_INT(ops_audit_ahead(&v.o, &ev, 200, &ahead, &bad), 0);
    CHECK(!ahead);
    v.o.audit_closed = true;
    fa.fail = true;
    struct err e = {0};
    CHECK_INT(ops_audit_ahead(&v.o, &ev, 200, &ahead, &e), -1);
    CHECK_INT(e.code, ERR_UNAVAILABLE);
    CHECK(!ahead);
    v.o.audit = fa.real;
    env_close(&v);
}

int main(void)
{
    RUN(test_write_read_and_identical_rewrite);
    RUN(test_lease_renewed_by_writes);
    RUN(test_expired_holder_refused);
    RUN(test_restore_serial);
    RUN(test_serial_u64_and_restore_overflow);
    RUN(test_unlock_compares_the_id);
    RUN(test_force_unlock_matrix);
    RUN(test_force_unlock_jwt_owner);
    RUN(test_admin_force_unlock);
    RUN(test_plan_role);
    RUN(test_outputs_role);
    RUN(test_roles_and_patterns);
    RUN(test_bad_bodies_change_nothing);
    RUN(test_delete_keeps_snapshots);
    RUN(test_restore_reason);
    RUN(test_delete_version);
    RUN(test_move);
    RUN(test_import_never_rolls_back);
    RUN(test_audit_fail_closed);
    RUN(test_audit_fail_closed_locks_and_moves);
    RUN(test_audit_fail_closed_expiry);
    RUN(test_audit_after_rule);
    return t_report();
}
