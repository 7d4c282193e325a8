/* auth/ratelimit.c: failed logins per client address (auth_int.h).
 *
 * A fixed table of addresses, each with the minute that started at its first failure: the
 * number of failures in it, how many were refused outright, and the first failure's reason.
 * Once a minute is over, its entry becomes one report (auth's thread turns it into one audit
 * event) and the slot is free again. So a password sprayer costs one event per address per
 * minute, and the addresses it uses cannot grow memory: when the table is full, the oldest
 * entry is reported early to make room.
 *
 * Example (limit 20): 25 bad tokens from 198.51.100.7 in ten seconds get 401 twenty times,
 * then 429 with Retry-After: 60 five times; a good token from there is refused too until the
 * minute ends, after which one "auth-failed" event says "25 failed logins (5 refused)". */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth_int.h"

#define SLOTS     1024
#define WINDOW_US (60LL * 1000000)
#define PROBE     8
#define EARLY     256 /* evicted entries waiting for the next report */

struct entry {
    struct auth_failures f; /* f.count == 0: free */
};

static struct {
    pthread_mutex_t mu;
    unsigned limit; /* 0: only counted, never refused */
    struct entry slots[SLOTS];
    struct auth_failures early[EARLY]; /* evicted while the table was full, to report */
    size_t nearly;
} R = {.mu = PTHREAD_MUTEX_INITIALIZER};

void ratelimit_init(unsigned per_minute)
{
    pthread_mutex_lock(&R.mu);
    R.limit = per_minute;
    memset(R.slots, 0, sizeof(R.slots));
    R.nearly = 0;
    pthread_mutex_unlock(&R.mu);
}

static unsigned slot_of(const char *remote)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)remote; *p != '\0'; p++)
        h = (h ^ *p) * 16777619u;
    return h % SLOTS;
}

static bool expired(const struct entry *e, int64_t now_us)
{
    return e->f.count > 0 && now_us - e->f.since_us >= WINDOW_US;
}

/* remote's live entry, or NULL (mu held). */
static struct entry *find(const char *remote, int64_t now_us)
{
    unsigned s = slot_of(remote);
    for (int i = 0; i < PROBE; i++) {
        struct entry *e = &R.slots[(s + i) % SLOTS];
        if (e->f.count > 0 && !expired(e, now_us) && strcmp(e->f.remote, remote) == 0)
            return e;
    }
    return NULL;
}

/* An evicted entry's report. When even those are too many (addresses by the thousand a
 * second), the rest are summed up in the last one, so no failure goes unreported. */
static void keep_early(const struct auth_failures *f)
{
    if (R.nearly < EARLY) {
        R.early[R.nearly++] = *f;
        return;
    }
    struct auth_failures *sum = &R.early[EARLY - 1];
    snprintf(sum->remote, sizeof(sum->remote), "(many addresses)");
    sum->peer[0] = '\0';
    sum->count += f->count;
    sum->refused += f->refused;
}

/* A slot for a new entry of remote: a free one near its hash, else the oldest there, whose
 * report is kept for the next ratelimit_report (mu held). Expired entries are left for
 * ratelimit_report, so that each is reported exactly once. */
static struct entry *claim(const char *remote)
{
    unsigned s = slot_of(remote);
    struct entry *oldest = NULL;
    for (int i = 0; i < PROBE; i++) {
        struct entry *e = &R.slots[(s + i) % SLOTS];
        if (e->f.count == 0)
            return e;
        if (oldest == NULL || e->f.since_us < oldest->f.since_us)
            oldest = e;
    }
    keep_early(&oldest->f);
    memset(oldest, 0, sizeof(*oldest));
    return oldest;
}

bool ratelimit_refuse(const char *remote, const char *peer, int64_t now_us)
{
    pthread_mutex_lock(&R.mu);
    struct entry *e = R.limit > 0 ? find(remote, now_us) : NULL;
    bool refuse = e != NULL && e->f.count >= R.limit;
    if (refuse) {
        e->f.count++;
        e->f.refused++;
        snprintf(e->f.peer, sizeof(e->f.peer), "%s", peer != NULL ? peer : "");
    }
    pthread_mutex_unlock(&R.mu);
    return refuse;
}

void ratelimit_failed(const char *remote, const char *peer, const char *reason, int64_t now_us)
{
    pthread_mutex_lock(&R.mu);
    struct entry *e = find(remote, now_us);
    if (e == NULL) {
        e = claim(remote);
        snprintf(e->f.remote, sizeof(e->f.remote), "%s", remote);
        snprintf(e->f.reason, sizeof(e->f.reason), "%s", reason);
        e->f.since_us = now_us;
    }
    e->f.count++;
    snprintf(e->f.peer, sizeof(e->f.peer), "%s", peer != NULL ? peer : "");
    pthread_mutex_unlock(&R.mu);
}

void ratelimit_report(int64_t now_us, bool all,
                      void (*cb)(void *ctx, const struct auth_failures *f), void *ctx)
{
    /* Collected under the lock, reported after it: cb writes audit events. */
    static struct auth_failures out[SLOTS + EARLY];
    static pthread_mutex_t report_mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&report_mu);
    size_t n = 0;
    pthread_mutex_lock(&R.mu);
    for (size_t i = 0; i < R.nearly; i++)
        out[n++] = R.early[i];
    R.nearly = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        struct entry *e = &R.slots[i];
        if (e->f.count > 0 && (all || expired(e, now_us))) {
            out[n++] = e->f;
            memset(e, 0, sizeof(*e));
        }
    }
    pthread_mutex_unlock(&R.mu);
    for (size_t i = 0; i < n; i++)
        cb(ctx, &out[i]);
    pthread_mutex_unlock(&report_mu);
}
