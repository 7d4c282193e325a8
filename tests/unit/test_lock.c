/* tests/unit/test_lock.c: lease transitions of the embedded lock store (short TTL), its
 * persistence across a re-open, and the lock info JSON shown to clients. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/err.h"
#include "common/util.h"
#include "lock/lock.h"
#include "tests/unit/t.h"

#define TTL_US (200 * 1000)

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static const char *INFO_A = "{\"ID\":\"a-1\",\"Operation\":\"OperationTypeApply\",\"Info\":\"\","
                            "\"Who\":\"alice@ci\",\"Version\":\"1.9.0\","
                            "\"Created\":\"2026-11-22T02:00:00.123456789Z\",\"Path\":\"\"}";

static struct lockstore *open_ls(const char *dir)
{
    struct err e = {0};
    struct lockstore *ls = lockstore_embedded_new(dir, TTL_US, &e);
    CHECK(ls != NULL);
    return ls;
}

static int do_acquire(struct lockstore *ls, const char *state, const char *id, int *outcome,
                      char prev_id[LOCK_ID_MAX], char holder_id[LOCK_ID_MAX], struct err *e)
{
    struct lock_result r;
    lock_result_init(&r);
    int rc = ls->ops->acquire(ls, state, id, INFO_A, "ci", &r, e);
    if (outcome)
        *outcome = (int)r.outcome;
    if (prev_id)
        snprintf(prev_id, LOCK_ID_MAX, "%s", r.previous.id);
    if (holder_id)
        snprintf(holder_id, LOCK_ID_MAX, "%s", r.holder.id);
    lock_result_cleanup(&r);
    return rc;
}

static int do_check(struct lockstore *ls, const char *state, const char *id, int *outcome,
                    struct err *e)
{
    struct lock_result r;
    lock_result_init(&r);
    int rc = ls->ops->check_write(ls, state, id, &r, e);
    if (outcome)
        *outcome = (int)r.outcome;
    lock_result_cleanup(&r);
    return rc;
}

static int do_release(struct lockstore *ls, const char *state, const char *id, int *outcome,
                      char prev_id[LOCK_ID_MAX], struct err *e)
{
    struct lock_result r;
    lock_result_init(&r);
    int rc = ls->ops->release(ls, state, id, &r, e);
    if (outcome)
        *outcome = (int)r.outcome;
    if (prev_id)
        snprintf(prev_id, LOCK_ID_MAX, "%s", r.previous.id);
    lock_result_cleanup(&r);
    return rc;
}

static void test_acquire_conflict_reenter_release(void)
{
    struct lockstore *ls = open_ls(t_tempdir());
    CHECK_STR(ls->ops->kind, "embedded");
    struct err e = {0};
    int oc;
    char prev[LOCK_ID_MAX], holder[LOCK_ID_MAX];
    CHECK_INT(do_acquire(ls, "prod/net", "a-1", &oc, prev, holder, &e), 0);
    CHECK_INT(oc, LOCK_ACQUIRED);
    CHECK_STR(holder, "a-1");
    /* Another ID: 423 with the holder. */
    CHECK_INT(do_acquire(ls, "prod/net", "b-2", &oc, prev, holder, &e), -1);
    CHECK_INT(e.code, ERR_LOCKED);
    CHECK_STR(holder, "a-1");
    err_clear(&e);
    /* The same ID again (a client retry): renewed. */
    CHECK_INT(do_acquire(ls, "prod/net", "a-1", &oc, prev, holder, &e), 0);
    CHECK_INT(oc, LOCK_REENTERED);
    /* Holder's info is kept verbatim. */
    struct lock_result r;
    lock_result_init(&r);
    CHECK_INT(ls->ops->get(ls, "prod/net", &r, &e), 0);
    CHECK_STR(r.holder.info_json, INFO_A);
    CHECK(r.holder.expires_us > r.holder.renewed_us);
    lock_result_cleanup(&r);
    /* Writes: the holder renews; no ID or another ID is refused. */
    CHECK_INT(do_check(ls, "prod/net", "a-1", &oc, &e), 0);
    CHECK_INT(oc, LOCK_RENEWED);
    CHECK_INT(do_check(ls, "prod/net", NULL, &oc, &e), -1);
    CHECK_INT(e.code, ERR_LOCKED);
    err_clear(&e);
    CHECK_INT(do_check(ls, "prod/net", "b-2", &oc, &e), -1);
    CHECK_INT(e.code, ERR_LOCKED);
    err_clear(&e);
    /* Unlock with a wrong ID: 423; with the right one: released. */
    CHECK_INT(do_release(ls, "prod/net", "b-2", &oc, prev, &e), -1);
    CHECK_INT(e.code, ERR_LOCKED);
    err_clear(&e);
    CHECK_INT(do_release(ls, "prod/net", "a-1", &oc, prev, &e), 0);
    CHECK_INT(oc, LOCK_RELEASED);
    CHECK_STR(prev, "a-1");
    /* Unlock again: nothing held. */
    CHECK_INT(do_release(ls, "prod/net", "a-1", &oc, prev, &e), 0);
    CHECK_INT(oc, LOCK_NOT_HELD);
    /* Free state: writes without an ID pass, with an ID they are refused. */
    CHECK_INT(do_check(ls, "prod/net", NULL, &oc, &e), 0);
    CHECK_INT(oc, LOCK_FREE);
    CHECK_INT(do_check(ls, "prod/net", "a-1", &oc, &e), -1);
    CHECK_INT(e.code, ERR_LOCKED);
    err_clear(&e);
    CHECK_INT(ls->ops->get(ls, "prod/net", &r, &e), -1);
    CHECK_INT(e.code, ERR_NOT_FOUND);
    err_clear(&e);
    ls->ops->free(ls);
}

static void test_force_unlock_and_bad_ids(void)
{
    struct lockstore *ls = open_ls(t_tempdir());
    struct err e = {0};
    int oc;
    char prev[LOCK_ID_MAX];
    CHECK_INT(do_acquire(ls, "s", "holder", &oc, NULL, NULL, &e), 0);
    CHECK_INT(do_release(ls, "s", NULL, &oc, prev, &e), 0);
    CHECK_INT(oc, LOCK_RELEASED);
    CHECK_STR(prev, "holder");
    char long_id[300];
    memset(long_id, 'x', 256);
    long_id[256] = '\0';
    CHECK_INT(do_acquire(ls, "s", long_id, &oc, NULL, NULL, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    long_id[255] = '\0'; /* 255 bytes is allowed */
    CHECK_INT(do_acquire(ls, "s", long_id, &oc, NULL, NULL, &e), 0);
    CHECK_INT(do_acquire(ls, "t", "", &oc, NULL, NULL, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    /* Bytes that are not UTF-8 could not be kept in locks.json: refused, file still loads. */
    struct lock_result r;
    lock_result_init(&r);
    CHECK_INT(ls->ops->acquire(ls, "t", "id", "{\"Who\":\"\xff\"}", "ci", &r, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    CHECK_INT(ls->ops->acquire(ls, "t", "id", "{}", "ci \xff", &r, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    CHECK_INT(do_acquire(ls, "t", "\xc3(", &oc, NULL, NULL, &e), -1);
    CHECK_INT(e.code, ERR_INVALID);
    err_clear(&e);
    lock_result_cleanup(&r);
    ls->ops->free(ls);
}

static void test_lease_expiry(void)
{
    struct lockstore *ls = open_ls(t_tempdir());
    struct err e = {0};
    int oc;
    char prev[LOCK_ID_MAX], holder[LOCK_ID_MAX];
    CHECK_INT(do_acquire(ls, "s", "old", &oc, NULL, NULL, &e), 0);
    /* Renewal by a write keeps the lease alive past the original expiry. */
    sleep_ms(100);
    CHECK_INT(do_check(ls, "s", "old", &oc, &e), 0);
    sleep_ms(100);
    CHECK_INT(do_acquire(ls, "s", "new", &oc, NULL, holder, &e), -1);
    CHECK_STR(holder, "old");
    err_clear(&e);
    /* Now let it expire: the state is free for writes without an ID, and shows no holder. */
    sleep_ms(250);
    CHECK_INT(do_check(ls, "s", NULL, &oc, &e), 0);
    CHECK_INT(oc, LOCK_FREE);
    struct lock_result r;
    lock_result_init(&r);
    CHECK_INT(ls->ops->get(ls, "s", &r, &e), -1);
    err_clear(&e);
    lock_result_cleanup(&r);
    /* The expired holder can no longer write. */
    CHECK_INT(do_check(ls, "s", "old", &oc, &e), -1);
    CHECK_INT(e.code, ERR_LOCKED);
    err_clear(&e);
    /* Taking it over reports whose lease expired. */
    CHECK_INT(do_acquire(ls, "s", "new", &oc, prev, holder, &e), 0);
    CHECK_INT(oc, LOCK_TAKEN_OVER);
    CHECK_STR(prev, "old");
    CHECK_STR(holder, "new");
    CHECK_INT(do_check(ls, "s", "old", &oc, &e), -1);
    err_clear(&e);
    /* An unlock by the expired holder, or of an expired lease, releases nothing. */
    CHECK_INT(do_release(ls, "s", "old", &oc, NULL, &e), -1);
    CHECK_INT(e.code, ERR_LOCKED);
    err_clear(&e);
    sleep_ms(250);
    CHECK_INT(do_release(ls, "s", "new", &oc, NULL, &e), 0);
    CHECK_INT(oc, LOCK_NOT_HELD);
    /* Re-acquire by the same ID after expiry counts as a take-over of its own lease. */
    CHECK_INT(do_acquire(ls, "s", "x", &oc, NULL, NULL, &e), 0);
    sleep_ms(250);
    CHECK_INT(do_acquire(ls, "s", "x", &oc, prev, NULL, &e), 0);
    CHECK_INT(oc, LOCK_TAKEN_OVER);
    CHECK_STR(prev, "x");
    ls->ops->free(ls);
}

struct listing {
    int n;
    char states[8][64];
};

static int on_lock(void *ctx, const struct lock_entry *le)
{
    struct listing *l = ctx;
    if (l->n < 8)
        snprintf(l->states[l->n], 64, "%s", le->state);
    l->n++;
    return 0;
}

static void test_persistence_and_list(void)
{
    const char *dir = t_tempdir();
    struct lockstore *ls = open_ls(dir);
    struct err e = {0};
    int oc;
    CHECK_INT(do_acquire(ls, "zeta", "z", &oc, NULL, NULL, &e), 0);
    CHECK_INT(do_acquire(ls, "alpha/x", "a", &oc, NULL, NULL, &e), 0);
    CHECK_INT(do_acquire(ls, "mid", "m", &oc, NULL, NULL, &e), 0);
    CHECK_INT(do_release(ls, "mid", "m", &oc, NULL, &e), 0);
    ls->ops->free(ls);

    ls = open_ls(dir);
    char holder[LOCK_ID_MAX];
    CHECK_INT(do_acquire(ls, "zeta", "other", &oc, NULL, holder, &e), -1);
    CHECK_INT(e.code, ERR_LOCKED);
    CHECK_STR(holder, "z");
    err_clear(&e);
    struct lock_result r;
    lock_result_init(&r);
    CHECK_INT(ls->ops->get(ls, "alpha/x", &r, &e), 0);
    CHECK_STR(r.holder.info_json, INFO_A);
    lock_result_cleanup(&r);
    struct listing l = {0};
    CHECK_INT(ls->ops->list(ls, on_lock, &l, &e), 0);
    CHECK_INT(l.n, 2);
    CHECK_STR(l.states[0], "alpha/x");
    CHECK_STR(l.states[1], "zeta");
    CHECK_INT(ls->ops->ping(ls, &e), 0);
    ls->ops->free(ls);

    /* A corrupt file is refused at start, not silently emptied. */
    char *path = xasprintf("%s/locks.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"locks\": [", f);
    fclose(f);
    CHECK(lockstore_embedded_new(dir, TTL_US, &e) == NULL);
    CHECK_INT(e.code, ERR_INVALID);
    free(path);
}

struct race {
    struct lockstore *ls;
    char id[16];
    int won;
};

static void *racer(void *p)
{
    struct race *r = p;
    for (int i = 0; i < 50; i++) {
        struct err e = {0};
        int oc;
        if (do_acquire(r->ls, "race", r->id, &oc, NULL, NULL, &e) == 0 && oc == LOCK_ACQUIRED) {
            r->won++;
            do_release(r->ls, "race", r->id, &oc, NULL, &e);
        }
    }
    return NULL;
}

static void test_concurrent_acquire(void)
{
    struct lockstore *ls = open_ls(t_tempdir());
    struct race rs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        rs[i].ls = ls;
        snprintf(rs[i].id, sizeof(rs[i].id), "r%d", i);
        rs[i].won = 0;
        pthread_create(&th[i], NULL, racer, &rs[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += rs[i].won;
    }
    CHECK(total > 0);
    ls->ops->free(ls);
}

/* The identity that took a lock is kept with it: across a re-entry by another identity (the
 * first one stays), across a restart, and a locks.json from before owners loads as "". */
static void test_owner(void)
{
    const char *dir = t_tempdir();
    struct lockstore *ls = open_ls(dir);
    struct err e = {0};
    struct lock_result r;
    lock_result_init(&r);
    CHECK_INT(ls->ops->acquire(ls, "s", "a", "{}", "alice", &r, &e), 0);
    CHECK_STR(r.holder.owner, "alice");
    lock_result_cleanup(&r);
    lock_result_init(&r);
    CHECK_INT(ls->ops->acquire(ls, "s", "a", "{}", "bob", &r, &e), 0);
    CHECK_INT(r.outcome, LOCK_REENTERED);
    CHECK_STR(r.holder.owner, "alice");
    lock_result_cleanup(&r);
    ls->ops->free(ls);
    ls = open_ls(dir);
    lock_result_init(&r);
    CHECK_INT(ls->ops->get(ls, "s", &r, &e), 0);
    CHECK_STR(r.holder.owner, "alice");
    lock_result_cleanup(&r);
    ls->ops->free(ls);

    char path[512], text[512];
    snprintf(path, sizeof(path), "%s/locks.json", dir);
    snprintf(text, sizeof(text),
             "{\"version\":1,\"locks\":[{\"state\":\"old\",\"id\":\"x\",\"info\":\"{}\","
             "\"created_us\":%lld,\"renewed_us\":%lld}]}",
             (long long)now_us(), (long long)now_us());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    ls = open_ls(dir);
    lock_result_init(&r);
    CHECK_INT(ls->ops->get(ls, "old", &r, &e), 0);
    CHECK_STR(r.holder.id, "x");
    CHECK_STR(r.holder.owner, "");
    lock_result_cleanup(&r);
    ls->ops->free(ls);
}

static void test_info_json(void)
{
    struct lock_holder h;
    memset(&h, 0, sizeof(h));
    snprintf(h.id, sizeof(h.id), "%s", "abc");
    h.created_us = 1795314013123456LL;
    h.info_json = xstrdup(INFO_A);
    snprintf(h.id, sizeof(h.id), "%s", "a-1"); /* the holder of INFO_A */
    char *s = lock_holder_info_json(&h);
    CHECK_STR(s, INFO_A);
    free(s);
    free(h.info_json);
    snprintf(h.id, sizeof(h.id), "%s", "abc");
    /* GitLab-style or minimal bodies get ID and Created filled in. */
    h.info_json = xstrdup("{\"Operation\":\"x\",\"ID\":\"\"}");
    s = lock_holder_info_json(&h);
    json_t *o = json_loads(s, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(o, "ID")), "abc");
    CHECK_STR(json_string_value(json_object_get(o, "Created")), "2026-11-22T02:20:13.123456Z");
    CHECK_STR(json_string_value(json_object_get(o, "Operation")), "x");
    json_decref(o);
    free(s);
    free(h.info_json);
    h.info_json = NULL;
    s = lock_holder_info_json(&h);
    CHECK_STR(s, "{\"ID\":\"abc\",\"Created\":\"2026-11-22T02:20:13.123456Z\"}");
    free(s);
}

/* What the metrics read: the live leases and the oldest one's age; an expired lease is not
 * held. */
static void test_stats(void)
{
    struct lockstore *ls = open_ls(t_tempdir());
    struct err e = {0};
    struct lock_stats st = {0};
    CHECK_INT(ls->ops->stats(ls, &st, &e), 0);
    CHECK_INT(st.held, 0);
    CHECK_INT(st.oldest_age_us, 0);
    CHECK_INT(do_acquire(ls, "old", "1", NULL, NULL, NULL, &e), 0);
    sleep_ms(50);
    CHECK_INT(do_acquire(ls, "young", "2", NULL, NULL, NULL, &e), 0);
    CHECK_INT(ls->ops->stats(ls, &st, &e), 0);
    CHECK_INT(st.held, 2);
    CHECK(st.oldest_age_us >= 50000 && st.oldest_age_us < TTL_US);
    /* Renewing keeps its age: the age is since the lease was taken. */
    CHECK_INT(do_check(ls, "old", "1", NULL, &e), 0);
    struct lock_stats again = {0};
    CHECK_INT(ls->ops->stats(ls, &again, &e), 0);
    CHECK(again.oldest_age_us >= st.oldest_age_us);
    sleep_ms(TTL_US / 1000 + 50); /* both expire */
    CHECK_INT(ls->ops->stats(ls, &st, &e), 0);
    CHECK_INT(st.held, 0);
    CHECK_INT(st.oldest_age_us, 0);
    ls->ops->free(ls);
}

/* The inode of DIR/locks.json: every rewrite renames a new one over it. */
static ino_t table_inode(const char *dir)
{
    char *path = xasprintf("%s/locks.json", dir);
    struct stat st;
    CHECK_INT(stat(path, &st), 0);
    free(path);
    return st.st_ino;
}

/* A holder's renewal waits for no rewrite while the file still gives the lease half its length,
 * rewrites once the file's renewal is older than that, and a lazy renewal rides on the next
 * rewrite: after a re-open the lease is the one the file last recorded, never a freed one. */
static void test_lazy_renewal(void)
{
    const char *dir = t_tempdir();
    struct err e = {0};
    struct lockstore *ls = open_ls(dir);
    int out;
    CHECK_INT(do_acquire(ls, "app", "a-1", &out, NULL, NULL, &e), 0);
    ino_t written = table_inode(dir);
    CHECK_INT(do_check(ls, "app", "a-1", &out, &e), 0);
    CHECK_INT(out, LOCK_RENEWED);
    CHECK(table_inode(dir) == written); /* within half the lease of the acquire: not written */
    sleep_ms(TTL_US / 1000 / 2 + 30);
    CHECK_INT(do_check(ls, "app", "a-1", &out, &e), 0);
    CHECK(table_inode(dir) != written); /* older than half the lease: written */
    written = table_inode(dir);
    CHECK_INT(do_check(ls, "app", "a-1", &out, &e), 0);
    CHECK(table_inode(dir) == written);
    /* Another change rewrites the whole table, the lazy renewal with it. */
    CHECK_INT(do_acquire(ls, "other", "b-1", &out, NULL, NULL, &e), 0);
    ls->ops->free(ls);
    ls = open_ls(dir);
    CHECK_INT(do_check(ls, "app", "a-1", &out, &e), 0);
    CHECK_INT(out, LOCK_RENEWED);
    CHECK_INT(do_check(ls, "app", "b-1", &out, &e), -1);
    CHECK_INT(e.code, ERR_LOCKED);
    err_clear(&e);
    ls->ops->free(ls);
}

int main(void)
{
    RUN(test_acquire_conflict_reenter_release);
    RUN(test_force_unlock_and_bad_ids);
    RUN(test_lease_expiry);
    RUN(test_persistence_and_list);
    RUN(test_concurrent_acquire);
    RUN(test_owner);
    RUN(test_info_json);
    RUN(test_stats);
    RUN(test_lazy_renewal);
    return t_report();
}
