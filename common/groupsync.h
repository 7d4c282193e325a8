/* common/groupsync.h: group commit, the one primitive for sharing a disk flush among writers.
 *
 * Writers that each need "my bytes are durable" join a group; the first one to find nobody
 * flushing becomes the leader, takes every member queued so far as one batch and calls the
 * owner's flush once for all of them, without the group's mutex held. Members that arrive
 * meanwhile queue for the next batch, whose leader is one of them. Each member returns only
 * once the batch holding it has been flushed, with that batch's result: a failed flush reaches
 * every member of its batch and nobody else. N concurrent writers so pay about two flushes
 * (the one running when they arrive, then theirs), not N.
 *
 * Used by the embedded drivers (the audit log's fdatasync, the lock file's rewrite, the
 * directory store's fsyncs and renames) and by the PostgreSQL audit trail (one transaction per
 * batch of events). */
#ifndef STATED_COMMON_GROUPSYNC_H
#define STATED_COMMON_GROUPSYNC_H

#include <pthread.h>
#include <stdbool.h>

#include "common/err.h"

/* One writer's place in a group: caller storage, valid until groupsync_join returns. */
struct groupsync_member {
    void *arg;                     /* the writer's own data, for flush */
    struct err err;                /* flush may record a failure of this member alone here */
    struct groupsync_member *next; /* private: the queue */
    bool done;                     /* private: its batch was flushed */
};

/* Makes every member of batch (a list linked by next, in arrival order) durable. Returns 0, or
 * -1 with err set: then the whole batch fails. Runs on the leader's thread, one batch at a time,
 * with no lock of the group held. */
typedef int (*groupsync_flush_fn)(void *ctx, struct groupsync_member *batch, struct err *err);

struct groupsync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct groupsync_member *head, **tail; /* waiting for the next batch */
    bool flushing;
    groupsync_flush_fn flush;
    void *ctx;
};

void groupsync_init(struct groupsync *g, groupsync_flush_fn flush, void *ctx);
/* No member may still be in groupsync_join. */
void groupsync_cleanup(struct groupsync *g);
/* Queues m (its arg set by the caller) and returns once a flush that began after it was queued
 * has finished: 0, or -1 with err set from the batch's error or the member's own. Blocks;
 * never call it on an event loop. */
int groupsync_join(struct groupsync *g, struct groupsync_member *m, struct err *err);

#endif
