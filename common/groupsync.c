/* common/groupsync.c: see groupsync.h. */
#include "common/groupsync.h"

#include <stddef.h>

void groupsync_init(struct groupsync *g, groupsync_flush_fn flush, void *ctx)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->head = NULL;
    g->tail = &g->head;
    g->flushing = false;
    g->flush = flush;
    g->ctx = ctx;
}

void groupsync_cleanup(struct groupsync *g)
{
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

/* The leader's turn, with g->mu held (dropped while flushing): flushes everything queued and
 * hands each member of the batch its result. */
static void lead_one_batch(struct groupsync *g)
{
    struct groupsync_member *batch = g->head;
    g->head = NULL;
    g->tail = &g->head;
    g->flushing = true;
    pthread_mutex_unlock(&g->mu);
    struct err e = {0};
    int rc = g->flush(g->ctx, batch, &e);
    pthread_mutex_lock(&g->mu);
    /* A member's storage may go the moment it sees done, but it cannot look before we drop
     * the mutex, so next is still ours to read. */
    for (struct groupsync_member *m = batch; m != NULL; m = m->next) {
        if (rc != 0 && m->err.code == ERR_OK)
            m->err = e;
        m->done = true;
    }
    g->flushing = false;
    pthread_cond_broadcast(&g->cv);
}

int groupsync_join(struct groupsync *g, struct groupsync_member *m, struct err *err)
{
    m->err = (struct err){0};
    m->next = NULL;
    m->done = false;
    pthread_mutex_lock(&g->mu);
    *g->tail = m;
    g->tail = &m->next;
    while (!m->done) {
        if (g->flushing)
            pthread_cond_wait(&g->cv, &g->mu);
        else
            lead_one_batch(g); /* m is queued, so this batch holds it */
    }
    pthread_mutex_unlock(&g->mu);
    if (m->err.code != ERR_OK)
        return err_set(err, m->err.code, "%s", m->err.msg);
    return 0;
}
