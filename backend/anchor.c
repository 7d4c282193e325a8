/* backend/anchor.c: the anchor writer (audit.h "anchors"), a thread of its own.
 *
 * Every --audit-anchor-every events or --audit-anchor-interval, whichever comes first, it
 * reads the chain head and writes it, signed when a key is configured, to the object store
 * under audit/anchors/, with S3 Object Lock retention when the bucket has it
 * (--audit-anchor-retention). Off the event loop and off the request path: a slow or failing object
 * store delays anchors, never requests (a failure is logged and retried at the next tick).
 * The anchors are stored in plaintext even with encryption at rest: they hold no state data,
 * and an auditor must be able to read them with plain S3 tools. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "common/log.h"
#include "common/util.h"

#define TICK_MS 500 /* how often the head is looked at */

struct anchorer {
    struct anchorer_config cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    uint64_t last_seq;
    int64_t last_ms;
};

/* With retain_until_us, under Object Lock retention (main.c checked the storage has it). */
static int put_anchor(struct objstore *os, const char *key, const struct buf *b,
                      int64_t retain_until_us, struct err *err)
{
    if (retain_until_us > 0)
        return os->ops->put_retained(os, key, b->data, b->len, retain_until_us, err);
    return os->ops->put(os, key, b->data, b->len, NULL, err);
}

static int write_anchor(struct anchorer *an, uint64_t seq, const char hash[65], struct err *err)
{
    struct audit_anchor a = {.seq = seq, .time_us = now_us()};
    memcpy(a.hash, hash, 65);
    snprintf(a.instance, sizeof(a.instance), "%s", an->cfg.instance);
    if (an->cfg.signing_key != NULL && audit_anchor_sign(&a, an->cfg.signing_key, err) != 0)
        return -1;
    struct buf b;
    char key[200];
    buf_init(&b, 0);
    audit_anchor_key(&a, key, sizeof(key));
    int rc = audit_anchor_encode(&a, &b, err);
    if (rc == 0)
        rc =
            put_anchor(an->cfg.os, key, &b,
                       an->cfg.retention_ms > 0 ? a.time_us + an->cfg.retention_ms * 1000 : 0, err);
    buf_cleanup(&b);
    if (rc == 0)
        log_debug("audit anchor %s written", key);
    return rc;
}

/* One look at the head: an anchor when enough events or enough time went by since the last. */
static void tick(struct anchorer *an, bool final)
{
    struct err e = {0};
    uint64_t seq;
    char hash[65];
    if (an->cfg.audit->ops->head(an->cfg.audit, &seq, hash, &e) != 0) {
        log_warn("audit anchor: cannot read the chain head: %s", e.msg);
        return;
    }
    int64_t now = mono_ms();
    bool due =
        seq - an->last_seq >= an->cfg.every || now - an->last_ms >= an->cfg.interval_ms || final;
    if (seq == 0 || seq <= an->last_seq || !due)
        return;
    if (write_anchor(an, seq, hash, &e) != 0) {
        log_warn("audit anchor at seq %llu not written (retried): %s", (unsigned long long)seq,
                 e.msg);
        return;
    }
    an->last_seq = seq;
    an->last_ms = now;
}

static void *run(void *arg)
{
    struct anchorer *an = arg;
    pthread_mutex_lock(&an->mu);
    while (!an->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)TICK_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&an->cv, &an->mu, &ts);
        if (an->stopping)
            break;
        pthread_mutex_unlock(&an->mu);
        tick(an, false);
        pthread_mutex_lock(&an->mu);
    }
    pthread_mutex_unlock(&an->mu);
    tick(an, true); /* the head at shutdown, so a clean stop leaves nothing unanchored */
    return NULL;
}

struct anchorer *anchorer_start(const struct anchorer_config *cfg, struct err *err)
{
    if (cfg->audit == NULL || cfg->audit->ops->head == NULL)
        return NULL;
    struct anchorer *an = xcalloc(1, sizeof(*an));
    an->cfg = *cfg;
    an->last_ms = mono_ms();
    pthread_mutex_init(&an->mu, NULL);
    pthread_cond_init(&an->cv, NULL);
    if (pthread_create(&an->thread, NULL, run, an) != 0) {
        free(an);
        err_set(err, ERR_INTERNAL, "cannot start the audit anchor thread");
        return NULL;
    }
    return an;
}

void anchorer_stop(struct anchorer *an)
{
    if (an == NULL)
        return;
    pthread_mutex_lock(&an->mu);
    an->stopping = true;
    pthread_cond_signal(&an->cv);
    pthread_mutex_unlock(&an->mu);
    pthread_join(an->thread, NULL);
    pthread_mutex_destroy(&an->mu);
    pthread_cond_destroy(&an->cv);
    free(an);
}

/* The newest anchors in os (at most max), for verify. */
struct newest {
    char **keys;
    size_t n, max, start;
};
static int on_key(void *ctx, const struct obj_info *info)
{
    struct newest *w = ctx;
    size_t slot = (w->start + w->n) % w->max;
    if (w->n == w->max) {
        free(w->keys[w->start]);
        slot = w->start;
        w->start = (w->start + 1) % w->max;
    } else {
        w->n++;
    }
    w->keys[slot] = xstrdup(info->key);
    return 0;
}

int anchors_load_store(struct objstore *os, size_t max, void *key_or_null,
                       struct audit_anchors *out, struct err *err)
{
    struct newest w = {.keys = xcalloc(max, sizeof(char *)), .max = max};
    int rc = os->ops->list(os, AUDIT_ANCHOR_PREFIX, on_key, &w, err);
    for (size_t i = 0; i < w.n; i++) {
        char *key = w.keys[(w.start + i) % w.max];
        struct buf b;
        struct audit_anchor a;
        struct err e = {0};
        buf_init(&b, 0);
        if (rc == 0 && os->ops->get(os, key, &b, NULL, &e) == 0 &&
            audit_anchor_decode(b.data, b.len, &a, &e) == 0 &&
            (key_or_null == NULL || audit_anchor_check_signature(&a, key_or_null, &e) == 0))
            audit_anchors_add(out, &a);
        else if (rc == 0)
            log_warn("audit anchor %s ignored by verify (unreadable or not signed by the "
                     "configured key): %s",
                     key, e.msg);
        buf_cleanup(&b);
        free(key);
    }
    free(w.keys);
    return rc;
}
