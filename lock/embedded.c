/* lock/embedded.c: the embedded lock store (one stated instance per data dir).
 *
 * Leases live in a small array guarded by one mutex and are persisted to DIR/locks.json on
 * every change (temp file, fsync, rename, directory fsync), so a restart keeps them; a renewal
 * (a holder's write) is persisted only when the file would otherwise give the lease less than
 * half its length from now (renewal_durable_enough), and else rides on the next rewrite:
 *
 *     {"version":1,"locks":[{"state":"prod/net","id":"…","info":"<client JSON, verbatim>",
 *       "created_us":…,"renewed_us":…}]}
 *
 * Expiry is renewed_us + ttl, recomputed at load so a changed --lock-ttl applies to leases
 * already held. As in the PostgreSQL driver, an expired lease stays in the table until an
 * acquire takes it over (which reports it as `previous`), or an unlock by its own ID or a
 * force-unlock removes it. If persisting fails, the in-memory change is rolled back and the
 * caller gets ERR_UNAVAILABLE: a lease the file does not record was never granted.
 *
 * Persisting is a group commit (common/groupsync.h): a change is made in memory under the
 * mutex, which is then dropped while the change waits for a rewrite of the file that began
 * after it; that rewrite serialises the whole table as it is then, so it covers every change
 * queued with it, and concurrent LOCKs, renewals and UNLOCKs share its two fsyncs instead of
 * queueing one rewrite each behind the mutex. Until then other requests may already see the
 * change (a 423 against a lease still being written is harmless). A failed rewrite rolls back
 * every change of its batch, newest first, before the next rewrite can begin, so no later
 * file records a change that was answered with an error. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/file.h"
#include "common/groupsync.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/util.h"
#include "lock/lock.h"

struct entry {
    char *state;
    struct lock_holder h;
    int64_t durable_renewed_us;    /* renewed_us as the file last recorded it (0: not yet) */
    int64_t serialised_renewed_us; /* renewed_us in the rewrite under way */
};

struct embedded {
    struct lockstore base;
    pthread_mutex_t mu;
    char *dir;
    char *path; /* DIR/locks.json */
    struct entry *v;
    size_t n, cap;
    struct groupsync persist; /* members' arg: their struct undo */
};

/* locks.json is JSON, so everything kept in it must be valid UTF-8 (as any JSON lock body
 * is): anything else is refused up front rather than making the file unloadable. */
static bool utf8_ok(const char *s)
{
    return utf8_valid(s, strlen(s));
}

static int id_check(const char *id, struct err *err)
{
    if (!id || !id[0])
        return err_set(err, ERR_INVALID, "lock without an ID");
    if (strlen(id) >= LOCK_ID_MAX)
        return err_set(err, ERR_INVALID, "lock ID longer than %d bytes", LOCK_ID_MAX - 1);
    if (!utf8_ok(id))
        return err_set(err, ERR_INVALID, "lock ID is not valid UTF-8");
    return 0;
}

static int state_check(const char *state, struct err *err)
{
    if (!state || !state[0])
        return err_set(err, ERR_INVALID, "lock without a state name");
    if (!utf8_ok(state))
        return err_set(err, ERR_INVALID, "state name is not valid UTF-8");
    return 0;
}

static struct entry *find(struct embedded *em, const char *state)
{
    for (size_t i = 0; i < em->n; i++)
        if (strcmp(em->v[i].state, state) == 0)
            return &em->v[i];
    return NULL;
}

static void remove_entry(struct embedded *em, struct entry *e)
{
    size_t i = (size_t)(e - em->v);
    free(e->state);
    lock_holder_cleanup(&e->h);
    memmove(&em->v[i], &em->v[i + 1], (em->n - i - 1) * sizeof(*em->v));
    em->n--;
}

static struct entry *add_entry(struct embedded *em, const char *state)
{
    if (em->n == em->cap) {
        em->cap = em->cap ? em->cap * 2 : 16;
        em->v = xrealloc(em->v, em->cap * sizeof(*em->v));
    }
    struct entry *e = &em->v[em->n++];
    memset(e, 0, sizeof(*e));
    e->state = xstrdup(state);
    return e;
}

static bool is_live(const struct entry *e, int64_t now)
{
    return e && e->h.expires_us > now;
}

/* Saved copy of one entry so a failed persist can put things back as they were. */
struct undo {
    bool existed;
    char *state;
    struct lock_holder h;
};

/* ------------------------------------------------------------------ persistence */

/* The table as locks.json text (em->mu held): a new string, or NULL on invalid UTF-8. */
static char *table_json(struct embedded *em)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < em->n; i++) {
        struct entry *e = &em->v[i];
        json_t *o = json_object();
        json_object_set_new(o, "state", json_string(e->state));
        json_object_set_new(o, "id", json_string(e->h.id));
        json_object_set_new(o, "info", json_string(e->h.info_json ? e->h.info_json : ""));
        json_object_set_new(o, "created_us", json_integer(e->h.created_us));
        json_object_set_new(o, "renewed_us", json_integer(e->h.renewed_us));
        e->serialised_renewed_us = e->h.renewed_us;
        json_object_set_new(o, "owner", json_string(e->h.owner));
        json_array_append_new(arr, o);
    }
    json_t *root = json_object();
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "locks", arr);
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
}

static int write_table(struct embedded *em, struct err *err)
{
    pthread_mutex_lock(&em->mu);
    char *text = table_json(em);
    pthread_mutex_unlock(&em->mu);
    if (!text)
        return err_set(err, ERR_INTERNAL, "cannot serialise locks (invalid UTF-8 in a lock?)");
    struct file_write_opts how = {.mode = 0600, .durable = true, .code = ERR_UNAVAILABLE};
    int rc = file_write_atomic(em->path, text, strlen(text), NULL, 0, &how, err);
    free(text);
    if (rc == 0) {
        /* Rewrites run one at a time, so nothing serialised since this one began. */
        pthread_mutex_lock(&em->mu);
        for (size_t i = 0; i < em->n; i++)
            em->v[i].durable_renewed_us = em->v[i].serialised_renewed_us;
        pthread_mutex_unlock(&em->mu);
    }
    return rc;
}

/* A renewal need not wait for a rewrite while the file still gives the lease at least half its
 * length from now: a crash then shortens it by at most half, and a lease that expires early
 * only ever refuses its holder's next write (423), never lets two holders in. Every POST of a
 * holder renews, so this spares the rewrite (two fsyncs) of nearly every write. */
static bool renewal_durable_enough(const struct entry *e, int64_t now, int64_t ttl_us)
{
    return e->durable_renewed_us > 0 && now - e->durable_renewed_us <= ttl_us / 2;
}

static void undo_apply(struct embedded *em, struct undo *u);

/* groupsync flush: one rewrite of the table covers every change of the batch. */
static int persist_batch(void *ctx, struct groupsync_member *batch, struct err *err)
{
    struct embedded *em = ctx;
    if (write_table(em, err) == 0)
        return 0;
    size_t n = 0;
    for (struct groupsync_member *m = batch; m; m = m->next)
        n++;
    struct undo **newest_first = xmalloc(n * sizeof(*newest_first));
    size_t i = n;
    for (struct groupsync_member *m = batch; m; m = m->next)
        newest_first[--i] = m->arg;
    pthread_mutex_lock(&em->mu);
    for (i = 0; i < n; i++)
        undo_apply(em, newest_first[i]);
    pthread_mutex_unlock(&em->mu);
    free(newest_first);
    return -1;
}

static int load(struct embedded *em, struct err *err)
{
    json_error_t je;
    json_t *root = json_load_file(em->path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (access(em->path, F_OK) != 0 && errno == ENOENT)
            return 0; /* first start */
        return err_set(err, ERR_INVALID, "%s line %d: %s", em->path, je.line, je.text);
    }
    int rc = -1;
    json_t *arr = json_object_get(root, "locks");
    if (!json_is_array(arr)) {
        err_set(err, ERR_INVALID, "%s: no \"locks\" array", em->path);
        goto out;
    }
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        json_t *st = json_object_get(o, "state"), *id = json_object_get(o, "id");
        json_t *info = json_object_get(o, "info"), *cr = json_object_get(o, "created_us");
        json_t *rn = json_object_get(o, "renewed_us"), *owner = json_object_get(o, "owner");
        if (!json_is_string(st) || !json_is_string(id) || !json_is_string(info) ||
            !json_is_integer(cr) || !json_is_integer(rn) || json_string_length(id) >= LOCK_ID_MAX ||
            (owner && (!json_is_string(owner) || json_string_length(owner) >= LOCK_OWNER_MAX)) ||
            find(em, json_string_value(st))) {
            err_set(err, ERR_INVALID, "%s: lock entry %zu is malformed", em->path, i);
            goto out;
        }
        struct entry *e = add_entry(em, json_string_value(st));
        snprintf(e->h.id, sizeof(e->h.id), "%s", json_string_value(id));
        e->h.info_json = xstrdup(json_string_value(info));
        e->h.created_us = json_integer_value(cr);
        e->h.renewed_us = json_integer_value(rn);
        e->durable_renewed_us = e->h.renewed_us;
        /* Files written before owners were recorded have none: "" (unknown). */
        snprintf(e->h.owner, sizeof(e->h.owner), "%s", owner ? json_string_value(owner) : "");
        e->h.expires_us = e->h.renewed_us + em->base.ttl_us;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------ operations */

static void undo_save(struct undo *u, const struct entry *e, const char *state)
{
    memset(u, 0, sizeof(*u));
    u->state = xstrdup(state);
    if (e) {
        u->existed = true;
        lock_holder_copy(&u->h, &e->h);
    }
}

static void undo_apply(struct embedded *em, struct undo *u)
{
    struct entry *e = find(em, u->state);
    if (e)
        remove_entry(em, e);
    if (u->existed) {
        e = add_entry(em, u->state);
        e->h = u->h;
        memset(&u->h, 0, sizeof(u->h));
    }
}

static void undo_free(struct undo *u)
{
    free(u->state);
    lock_holder_cleanup(&u->h);
}

/* Makes the change u saved durable, or rolls it back (persist_batch). Called with em->mu held,
 * which it drops while waiting for the rewrite: entry pointers taken before do not survive it. */
static int commit(struct embedded *em, struct undo *u, struct err *err)
{
    struct groupsync_member me = {.arg = u};
    pthread_mutex_unlock(&em->mu);
    int rc = groupsync_join(&em->persist, &me, err);
    pthread_mutex_lock(&em->mu);
    if (rc != 0)
        log_error("embedded locks: %s", err->msg);
    undo_free(u);
    return rc;
}

static int emb_acquire(struct lockstore *ls, const char *state, const char *id,
                       const char *info_json, const char *owner, struct lock_result *res,
                       struct err *err)
{
    struct embedded *em = (struct embedded *)ls;
    if (state_check(state, err) != 0 || id_check(id, err) != 0)
        return -1;
    if (info_json && !utf8_ok(info_json))
        return err_set(err, ERR_INVALID, "lock info is not valid UTF-8");
    if (!owner)
        owner = "";
    if (strlen(owner) >= LOCK_OWNER_MAX || !utf8_ok(owner))
        return err_set(err, ERR_INVALID, "lock owner too long or not valid UTF-8");
    int rc = 0;
    pthread_mutex_lock(&em->mu);
    int64_t now = now_us();
    struct entry *e = find(em, state);
    struct undo u;
    if (is_live(e, now)) {
        if (strcmp(e->h.id, id) != 0) {
            lock_holder_copy(&res->holder, &e->h);
            rc = err_set(err, ERR_LOCKED, "%s is locked by ID %s", state, e->h.id);
            goto out;
        }
        /* A client retrying a LOCK whose answer it lost: renew, keep the original info. */
        undo_save(&u, e, state);
        e->h.renewed_us = now;
        e->h.expires_us = now + ls->ttl_us;
        res->outcome = LOCK_REENTERED;
    } else {
        undo_save(&u, e, state);
        if (e) {
            lock_holder_copy(&res->previous, &e->h);
            lock_holder_cleanup(&e->h);
            res->outcome = LOCK_TAKEN_OVER;
        } else {
            e = add_entry(em, state);
            res->outcome = LOCK_ACQUIRED;
        }
        snprintf(e->h.id, sizeof(e->h.id), "%s", id);
        e->h.info_json = xstrdup(info_json ? info_json : "");
        snprintf(e->h.owner, sizeof(e->h.owner), "%s", owner);
        e->h.created_us = e->h.renewed_us = now;
        e->h.expires_us = now + ls->ttl_us;
    }
    struct lock_holder now_h;
    lock_holder_copy(&now_h, &e->h);
    rc = commit(em, &u, err);
    if (rc == 0) {
        res->holder = now_h;
    } else {
        lock_holder_cleanup(&now_h);
        lock_holder_cleanup(&res->previous);
    }
out:
    pthread_mutex_unlock(&em->mu);
    return rc;
}

static int emb_release(struct lockstore *ls, const char *state, const char *id,
                       struct lock_result *res, struct err *err)
{
    struct embedded *em = (struct embedded *)ls;
    if (state_check(state, err) != 0 || (id && id_check(id, err) != 0))
        return -1;
    int rc = 0;
    pthread_mutex_lock(&em->mu);
    int64_t now = now_us();
    struct entry *e = find(em, state);
    if (!e) {
        res->outcome = LOCK_NOT_HELD;
        goto out;
    }
    bool mine = !id || strcmp(e->h.id, id) == 0;
    if (is_live(e, now)) {
        if (!mine) {
            lock_holder_copy(&res->holder, &e->h);
            rc = err_set(err, ERR_LOCKED, "%s is locked by ID %s", state, e->h.id);
            goto out;
        }
        res->outcome = LOCK_RELEASED;
    } else {
        res->outcome = LOCK_NOT_HELD;
        if (!mine)
            goto out; /* someone else's expired lease: left for the next acquire to report */
    }
    struct undo u;
    undo_save(&u, e, state);
    struct lock_holder prev;
    lock_holder_copy(&prev, &e->h);
    remove_entry(em, e);
    rc = commit(em, &u, err);
    if (rc == 0 && res->outcome == LOCK_RELEASED)
        res->previous = prev;
    else
        lock_holder_cleanup(&prev);
out:
    pthread_mutex_unlock(&em->mu);
    return rc;
}

static int emb_check_write(struct lockstore *ls, const char *state, const char *id,
                           struct lock_result *res, struct err *err)
{
    struct embedded *em = (struct embedded *)ls;
    if (state_check(state, err) != 0 || (id && id_check(id, err) != 0))
        return -1;
    int rc = 0;
    pthread_mutex_lock(&em->mu);
    int64_t now = now_us();
    struct entry *e = find(em, state);
    if (!is_live(e, now)) {
        if (id)
            rc = err_set(err, ERR_LOCKED, "%s: lock ID %s holds no live lease", state, id);
        else
            res->outcome = LOCK_FREE;
        goto out;
    }
    if (!id || strcmp(e->h.id, id) != 0) {
        lock_holder_copy(&res->holder, &e->h);
        rc = err_set(err, ERR_LOCKED, "%s is locked by ID %s", state, e->h.id);
        goto out;
    }
    bool lazy = renewal_durable_enough(e, now, ls->ttl_us);
    struct undo u;
    if (!lazy)
        undo_save(&u, e, state);
    e->h.renewed_us = now;
    e->h.expires_us = now + ls->ttl_us;
    struct lock_holder now_h;
    lock_holder_copy(&now_h, &e->h);
    rc = lazy ? 0 : commit(em, &u, err);
    if (rc == 0) {
        res->outcome = LOCK_RENEWED;
        res->holder = now_h;
    } else {
        lock_holder_cleanup(&now_h);
    }
out:
    pthread_mutex_unlock(&em->mu);
    return rc;
}

/* The lease recorded for state when its liveness is want_live: get's live holder, expired's
 * lapsed one. */
static int read_entry(struct lockstore *ls, const char *state, bool want_live,
                      struct lock_holder *out, struct err *err)
{
    struct embedded *em = (struct embedded *)ls;
    if (state_check(state, err) != 0)
        return -1;
    int rc = 0;
    pthread_mutex_lock(&em->mu);
    struct entry *e = find(em, state);
    if (e != NULL && is_live(e, now_us()) == want_live)
        lock_holder_copy(out, &e->h);
    else
        rc = err_set(err, ERR_NOT_FOUND, want_live ? "%s is not locked" : "%s has no expired lease",
                     state);
    pthread_mutex_unlock(&em->mu);
    return rc;
}

static int emb_get(struct lockstore *ls, const char *state, struct lock_result *res,
                   struct err *err)
{
    return read_entry(ls, state, true, &res->holder, err);
}

static int emb_expired(struct lockstore *ls, const char *state, struct lock_result *res,
                       struct err *err)
{
    return read_entry(ls, state, false, &res->previous, err);
}

static int cmp_state(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->state, ((const struct entry *)b)->state);
}

static int emb_list(struct lockstore *ls, int (*cb)(void *ctx, const struct lock_entry *e),
                    void *ctx, struct err *err)
{
    struct embedded *em = (struct embedded *)ls;
    /* Copy the live leases, then call back without the mutex held (cb may be slow). */
    pthread_mutex_lock(&em->mu);
    int64_t now = now_us();
    struct entry *copy = NULL;
    size_t n = 0;
    if (em->n > 0) {
        copy = xcalloc(em->n, sizeof(*copy));
        for (size_t i = 0; i < em->n; i++) {
            if (!is_live(&em->v[i], now))
                continue;
            copy[n].state = xstrdup(em->v[i].state);
            lock_holder_copy(&copy[n].h, &em->v[i].h);
            n++;
        }
    }
    pthread_mutex_unlock(&em->mu);
    if (n > 1)
        qsort(copy, n, sizeof(*copy), cmp_state);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct lock_entry le = {.state = copy[i].state, .holder = &copy[i].h};
        rc = cb(ctx, &le);
    }
    for (size_t i = 0; i < n; i++) {
        free(copy[i].state);
        lock_holder_cleanup(&copy[i].h);
    }
    free(copy);
    return rc;
}

static int emb_stats(struct lockstore *ls, struct lock_stats *out, struct err *err)
{
    struct embedded *em = (struct embedded *)ls;
    (void)err;
    pthread_mutex_lock(&em->mu);
    int64_t now = now_us(), oldest = now;
    out->held = 0;
    for (size_t i = 0; i < em->n; i++) {
        if (!is_live(&em->v[i], now))
            continue;
        out->held++;
        if (em->v[i].h.created_us < oldest)
            oldest = em->v[i].h.created_us;
    }
    pthread_mutex_unlock(&em->mu);
    out->oldest_age_us = now - oldest;
    return 0;
}

static int emb_ping(struct lockstore *ls, struct err *err)
{
    struct embedded *em = (struct embedded *)ls;
    if (access(em->dir, W_OK | X_OK) != 0)
        return err_set_errno(err, ERR_HEALTH, errno, "lock dir %s not writable", em->dir);
    return 0;
}

static void emb_free(struct lockstore *ls)
{
    struct embedded *em = (struct embedded *)ls;
    if (!em)
        return;
    for (size_t i = 0; i < em->n; i++) {
        free(em->v[i].state);
        lock_holder_cleanup(&em->v[i].h);
    }
    free(em->v);
    pthread_mutex_destroy(&em->mu);
    groupsync_cleanup(&em->persist);
    free(em->dir);
    free(em->path);
    free(em);
}

static const struct lockstore_ops embedded_ops = {
    .acquire = emb_acquire,
    .release = emb_release,
    .check_write = emb_check_write,
    .get = emb_get,
    .expired = emb_expired,
    .list = emb_list,
    .stats = emb_stats,
    .ping = emb_ping,
    .free = emb_free,
    .kind = "embedded",
};

struct lockstore *lockstore_embedded_new(const char *dir, int64_t ttl_us, struct err *err)
{
    if (ttl_us <= 0 || ttl_us > LOCK_TTL_MAX_US) {
        err_set(err, ERR_INVALID, "lock ttl must be between 1 us and 1 h");
        return NULL;
    }
    if (!dir || !dir[0]) {
        err_set(err, ERR_INVALID, "no lock dir");
        return NULL;
    }
    if (file_mkdir_p(dir, 0750, ERR_INVALID, err) != 0)
        return NULL;
    /* A crash between writing a new locks.json and renaming it leaves its temp file. */
    file_remove_stale_temps(dir, false);
    struct embedded *em = xcalloc(1, sizeof(*em));
    em->base.ops = &embedded_ops;
    em->base.ttl_us = ttl_us;
    pthread_mutex_init(&em->mu, NULL);
    groupsync_init(&em->persist, persist_batch, em);
    em->dir = xstrdup(dir);
    em->path = xasprintf("%s/locks.json", dir);
    if (load(em, err) != 0) {
        emb_free(&em->base);
        return NULL;
    }
    return &em->base;
}
