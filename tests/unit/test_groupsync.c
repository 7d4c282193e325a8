/* tests/unit/test_groupsync.c: the group-commit primitive (common/groupsync.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "common/groupsync.h"
#include "tests/unit/t.h"

/* A fake disk: "writes" are tickets taken before joining; a flush makes durable every ticket
 * taken before it began, and takes a while, so writers pile up behind it. */
struct fake_disk {
    atomic_long issued;  /* last ticket handed out */
    atomic_long durable; /* every ticket up to this one is durable */
    atomic_int flushes;
    atomic_int
        misses; /* a member returned before its ticket was durable, or was in a batch too early */
    struct groupsync g;
};

static int flush_tickets(void *ctx, struct groupsync_member *batch, struct err *err)
{
    struct fake_disk *d = ctx;
    long covered = atomic_load(&d->issued);
    for (struct groupsync_member *m = batch; m; m = m->next)
        if ((long)(intptr_t)m->arg > covered)
            atomic_fetch_add(&d->misses, 1);
    usleep(300);
    atomic_store(&d->durable, covered);
    atomic_fetch_add(&d->flushes, 1);
    (void)err;
    return 0;
}

#define WRITERS 16
#define WRITES  100

static void *writer_main(void *arg)
{
    struct fake_disk *d = arg;
    for (int i = 0; i < WRITES; i++) {
        long ticket = atomic_fetch_add(&d->issued, 1) + 1;
        struct groupsync_member m = {.arg = (void *)(intptr_t)ticket};
        struct err e = {0};
        if (groupsync_join(&d->g, &m, &e) != 0 || atomic_load(&d->durable) < ticket)
            atomic_fetch_add(&d->misses, 1);
    }
    return NULL;
}

static void test_groupsync_many_writers_share_flushes(void)
{
    struct fake_disk d = {0};
    groupsync_init(&d.g, flush_tickets, &d);
    pthread_t th[WRITERS];
    for (int i = 0; i < WRITERS; i++)
        pthread_create(&th[i], NULL, writer_main, &d);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(th[i], NULL);
    CHECK_INT(atomic_load(&d.misses), 0);
    CHECK_INT(atomic_load(&d.durable), WRITERS * WRITES);
    /* Shared: far fewer flushes than writes (each batch holds about every writer). */
    CHECK(atomic_load(&d.flushes) < WRITERS * WRITES / 2);
    groupsync_cleanup(&d.g);
}

/* Flush 1 waits at a gate while three writers queue behind it; flush 2 (theirs) fails; flush 3
 * succeeds. */
struct gated {
    struct groupsync g;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int calls;
};

static int flush_gated(void *ctx, struct groupsync_member *batch, struct err *err)
{
    struct gated *gt = ctx;
    (void)batch;
    pthread_mutex_lock(&gt->mu);
    int call = ++gt->calls;
    while (call == 1 && !gt->open)
        pthread_cond_wait(&gt->cv, &gt->mu);
    pthread_mutex_unlock(&gt->mu);
    if (call == 2)
        return err_set(err, ERR_UNAVAILABLE, "disk on fire");
    return 0;
}

struct joiner {
    struct gated *gt;
    int rc;
    struct err err;
    pthread_t th;
};

static void *joiner_main(void *arg)
{
    struct joiner *j = arg;
    struct groupsync_member m = {0};
    j->rc = groupsync_join(&j->gt->g, &m, &j->err);
    return NULL;
}

static int queued(struct groupsync *g)
{
    pthread_mutex_lock(&g->mu);
    int n = 0;
    for (struct groupsync_member *m = g->head; m; m = m->next)
        n++;
    pthread_mutex_unlock(&g->mu);
    return n;
}

static void start_joiner(struct joiner *j, struct gated *gt)
{
    memset(j, 0, sizeof(*j));
    j->gt = gt;
    pthread_create(&j->th, NULL, joiner_main, j);
}

static void test_groupsync_error_reaches_its_batch_only(void)
{
    struct gated gt = {.open = false};
    pthread_mutex_init(&gt.mu, NULL);
    pthread_cond_init(&gt.cv, NULL);
    groupsync_init(&gt.g, flush_gated, &gt);
    struct joiner first, mid[3], last;
    start_joiner(&first, &gt);
    while (queued(&gt.g) != 0 || gt.calls == 0) /* the first is flushing */
        usleep(100);
    for (int i = 0; i < 3; i++)
        start_joiner(&mid[i], &gt);
    while (queued(&gt.g) != 3)
        usleep(100);
    pthread_mutex_lock(&gt.mu);
    gt.open = true;
    pthread_cond_broadcast(&gt.cv);
    pthread_mutex_unlock(&gt.mu);
    pthread_join(first.th, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(mid[i].th, NULL);
    start_joiner(&last, &gt);
    pthread_join(last.th, NULL);
    CHECK_INT(first.rc, 0);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(mid[i].rc, -1);
        CHECK_INT(mid[i].err.code, ERR_UNAVAILABLE);
        CHECK_STR(mid[i].err.msg, "disk on fire");
    }
    CHECK_INT(last.rc, 0);
    CHECK_INT(gt.calls, 3); /* the three failed together: one flush */
    groupsync_cleanup(&gt.g);
    pthread_mutex_destroy(&gt.mu);
    pthread_cond_destroy(&gt.cv);
}

/* A flush may fail one member alone: only that one sees it. */
static int flush_refuse_odd(void *ctx, struct groupsync_member *batch, struct err *err)
{
    (void)ctx;
    (void)err;
    for (struct groupsync_member *m = batch; m; m = m->next)
        if ((intptr_t)m->arg % 2)
            err_set(&m->err, ERR_WRITE, "odd one out");
    return 0;
}

static void test_groupsync_member_error_is_its_own(void)
{
    struct groupsync g;
    groupsync_init(&g, flush_refuse_odd, NULL);
    struct groupsync_member even = {.arg = (void *)(intptr_t)2}, odd = {.arg = (void *)(intptr_t)3};
    struct err e1 = {0}, e2 = {0};
    CHECK_INT(groupsync_join(&g, &even, &e1), 0);
    CHECK_INT(e1.code, ERR_OK);
    CHECK_INT(groupsync_join(&g, &odd, &e2), -1);
    CHECK_INT(e2.code, ERR_WRITE);
    groupsync_cleanup(&g);
}

int main(void)
{
    RUN(test_groupsync_many_writers_share_flushes);
    RUN(test_groupsync_error_reaches_its_batch_only);
    RUN(test_groupsync_member_error_is_its_own);
    return t_report();
}
