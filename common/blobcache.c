/* common/blobcache.c: see blobcache.h.
 *
 * A small array searched linearly under one mutex: the drivers keep a few dozen entries, and
 * a lookup costs far less than the system call it saves. */
#include "common/blobcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

struct entry {
    char *key; /* NULL: a free slot */
    char *validator;
    char *meta; /* NULL: not known */
    struct blob *data;
    bool large; /* over max_obj: kept only while someone else holds data */
    uint64_t used;
};

#define CLAIMS_MAX    16
#define CLAIM_WAIT_MS 30000

struct blobcache {
    pthread_mutex_t mu;
    pthread_cond_t loaded; /* a claim ended */
    struct entry *v;
    size_t n, bytes, max_bytes, max_obj;
    uint64_t clock;
    char *claims[CLAIMS_MAX]; /* keys being loaded */
};

struct blobcache *blobcache_new(size_t max_entries, size_t max_bytes, size_t max_obj)
{
    struct blobcache *bc = xcalloc(1, sizeof(*bc));
    pthread_mutex_init(&bc->mu, NULL);
    pthread_cond_init(&bc->loaded, NULL);
    bc->v = xcalloc(max_entries, sizeof(*bc->v));
    bc->n = max_entries;
    bc->max_bytes = max_bytes;
    bc->max_obj = max_obj;
    return bc;
}

static void clear(struct blobcache *bc, struct entry *e)
{
    if (e->key == NULL)
        return;
    if (!e->large)
        bc->bytes -= e->data->len;
    free(e->key);
    free(e->validator);
    free(e->meta);
    blob_unref(e->data);
    memset(e, 0, sizeof(*e));
}

void blobcache_free(struct blobcache *bc)
{
    if (bc == NULL)
        return;
    for (size_t i = 0; i < bc->n; i++)
        clear(bc, &bc->v[i]);
    free(bc->v);
    for (size_t i = 0; i < CLAIMS_MAX; i++)
        free(bc->claims[i]);
    pthread_cond_destroy(&bc->loaded);
    pthread_mutex_destroy(&bc->mu);
    free(bc);
}

/* Large entries nobody but the cache holds any more go (under mu, at every operation). */
static void sweep_large(struct blobcache *bc)
{
    for (size_t i = 0; i < bc->n; i++) {
        struct entry *e = &bc->v[i];
        if (e->key != NULL && e->large && atomic_load(&e->data->refs) == 1)
            clear(bc, e);
    }
}

static struct entry *find(struct blobcache *bc, const char *key)
{
    sweep_large(bc);
    for (size_t i = 0; i < bc->n; i++)
        if (bc->v[i].key != NULL && strcmp(bc->v[i].key, key) == 0)
            return &bc->v[i];
    return NULL;
}

struct blob *blobcache_get(struct blobcache *bc, const char *key, const char *validator, char *meta,
                           size_t cap)
{
    struct blob *b = NULL;
    pthread_mutex_lock(&bc->mu);
    struct entry *e = find(bc, key);
    if (e != NULL && strcmp(e->validator, validator) == 0) {
        e->used = ++bc->clock;
        b = blob_ref(e->data);
        if (meta != NULL)
            snprintf(meta, cap, "%s", e->meta != NULL ? e->meta : "");
    }
    pthread_mutex_unlock(&bc->mu);
    return b;
}

bool blobcache_validator(struct blobcache *bc, const char *key, char *out, size_t cap)
{
    pthread_mutex_lock(&bc->mu);
    struct entry *e = find(bc, key);
    if (e != NULL)
        snprintf(out, cap, "%s", e->validator);
    pthread_mutex_unlock(&bc->mu);
    return e != NULL;
}

/* A slot for len more bytes: least recently used entries out until it fits. */
static struct entry *make_room(struct blobcache *bc, size_t len, bool large)
{
    for (;;) {
        struct entry *victim = NULL, *free_slot = NULL;
        for (size_t i = 0; i < bc->n; i++) {
            struct entry *e = &bc->v[i];
            if (e->key == NULL) {
                if (free_slot == NULL)
                    free_slot = e;
            } else if (victim == NULL || e->used < victim->used) {
                victim = e;
            }
        }
        if (victim == NULL || (free_slot != NULL && (large || bc->bytes + len <= bc->max_bytes)))
            return free_slot; /* with no entry at all the budget is free: it fits */
        clear(bc, victim);
    }
}

/* The claim of key, or NULL (under mu). */
static char **claim_of(struct blobcache *bc, const char *key)
{
    for (size_t i = 0; i < CLAIMS_MAX; i++)
        if (bc->claims[i] != NULL && strcmp(bc->claims[i], key) == 0)
            return &bc->claims[i];
    return NULL;
}

static void end_claim(struct blobcache *bc, const char *key)
{
    char **c = claim_of(bc, key);
    if (c == NULL)
        return;
    free(*c);
    *c = NULL;
    pthread_cond_broadcast(&bc->loaded);
}

bool blobcache_claim(struct blobcache *bc, const char *key)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += CLAIM_WAIT_MS / 1000;
    pthread_mutex_lock(&bc->mu);
    bool waited = false;
    while (claim_of(bc, key) != NULL && pthread_cond_timedwait(&bc->loaded, &bc->mu, &until) == 0)
        waited = true;
    bool mine = !waited || claim_of(bc, key) != NULL; /* a loader that never finished */
    if (mine && claim_of(bc, key) == NULL) {
        for (size_t i = 0; i < CLAIMS_MAX; i++) {
            if (bc->claims[i] == NULL) {
                bc->claims[i] = xstrdup(key);
                break;
            }
        } /* all slots taken: load unclaimed, as before claims existed */
    }
    pthread_mutex_unlock(&bc->mu);
    return mine;
}

void blobcache_release(struct blobcache *bc, const char *key)
{
    pthread_mutex_lock(&bc->mu);
    end_claim(bc, key);
    pthread_mutex_unlock(&bc->mu);
}

struct blob *blobcache_put(struct blobcache *bc, const char *key, const char *validator,
                           struct blob *data, const char *meta)
{
    bool large = data->len > bc->max_obj;
    if (!large && data->len > bc->max_bytes) {
        blobcache_release(bc, key);
        return blob_ref(data);
    }
    pthread_mutex_lock(&bc->mu);
    end_claim(bc, key);
    struct entry *e = find(bc, key);
    if (e != NULL && strcmp(e->validator, validator) == 0) {
        struct blob *same = blob_ref(e->data);
        pthread_mutex_unlock(&bc->mu);
        return same;
    }
    if (e != NULL)
        clear(bc, e);
    e = make_room(bc, data->len, large);
    e->key = xstrdup(key);
    e->validator = xstrdup(validator);
    e->meta = meta != NULL && meta[0] != '\0' ? xstrdup(meta) : NULL;
    e->data = blob_ref(data);
    e->large = large;
    e->used = ++bc->clock;
    if (!large)
        bc->bytes += data->len;
    pthread_mutex_unlock(&bc->mu);
    return blob_ref(data);
}

void blobcache_set_meta(struct blobcache *bc, const char *key, const char *validator,
                        const char *meta)
{
    pthread_mutex_lock(&bc->mu);
    struct entry *e = find(bc, key);
    if (e != NULL && e->meta == NULL && strcmp(e->validator, validator) == 0 && meta[0] != '\0')
        e->meta = xstrdup(meta);
    pthread_mutex_unlock(&bc->mu);
}

void blobcache_drop(struct blobcache *bc, const char *key)
{
    pthread_mutex_lock(&bc->mu);
    struct entry *e = find(bc, key);
    if (e != NULL)
        clear(bc, e);
    pthread_mutex_unlock(&bc->mu);
}
