/* auth/tokens.c: every token in memory (auth_int.h).
 *
 * One array: the static tokens first (STATED_ADMIN_TOKEN, --token-file), then the runtime
 * ones as the store last had them. A presented secret is hashed and compared with every hash
 * by ct_equal without stopping at the first match, so the time taken does not depend on which
 * token (if any) matched.
 *
 * Other instances' changes arrive through the store's change counter, which auth's thread
 * polls (every second for PostgreSQL, every 10 s for the document); a secret nobody here knows
 * also looks, at most once a second, so a token created elsewhere works at once.
 *
 * Last uses: every authenticated request notes (time, address) in a small table by token name,
 * and auth's thread writes the table's changes in one batch every few seconds (PostgreSQL) or
 * every minute (the document), never a write per request. tokens list shows the newer of the
 * stored and the noted use. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"
#include "common/log.h"
#include "common/util.h"

#define RELOAD_ON_MISS_MS 1000

struct noted_use {
    struct token_use u;
    bool dirty; /* not written to the store yet */
};

static struct {
    pthread_rwlock_t lock; /* tokens, ntokens */
    struct token *tokens;
    size_t ntokens, nstatic;   /* the first nstatic come from env and file */
    struct token_store *store; /* NULL: no runtime tokens */
    uint64_t epoch;            /* the store's change counter the runtime tokens reflect */
    pthread_mutex_t sync_mu;   /* one reload or flush at a time */
    int64_t last_poll_ms, last_flush_ms, last_miss_ms;
    pthread_mutex_t uses_mu; /* uses, nuses */
    struct noted_use *uses;
    size_t nuses;
} T = {.lock = PTHREAD_RWLOCK_INITIALIZER,
       .sync_mu = PTHREAD_MUTEX_INITIALIZER,
       .uses_mu = PTHREAD_MUTEX_INITIALIZER};

/* ------------------------------------------------------------------ static tokens */

static void token_push(struct token **v, size_t *n, const struct token *t)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = *t;
}

static int load_file(const char *path, struct token **v, size_t *n, struct err *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return err_set_errno(err, ERR_INVALID, errno, "--token-file %s", path);
    char line[1024];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        struct token t = {.source = "file"};
        struct err le = {0};
        lineno++;
        int r = auth_parse_token_line(line, t.name, &t.role, t.pattern, t.sha, &le);
        if (r < 0) {
            rc = err_set(err, ERR_INVALID, "--token-file %s line %d: %s", path, lineno, le.msg);
            break;
        }
        if (r == 0)
            token_push(v, n, &t);
    }
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------------ runtime tokens */

/* Replaces the runtime part of the array. */
static void install_runtime(const struct token *rt, size_t nrt, uint64_t epoch)
{
    pthread_rwlock_wrlock(&T.lock);
    struct token *v = xmalloc((T.nstatic + nrt + 1) * sizeof(*v));
    if (T.nstatic > 0)
        memcpy(v, T.tokens, T.nstatic * sizeof(*v));
    if (nrt > 0)
        memcpy(v + T.nstatic, rt, nrt * sizeof(*v));
    free(T.tokens);
    T.tokens = v;
    T.ntokens = T.nstatic + nrt;
    T.epoch = epoch;
    pthread_rwlock_unlock(&T.lock);
}

/* Reads every runtime token from the store and installs them (sync_mu held or single use). */
static int reload(struct err *err)
{
    struct token *rt = NULL;
    size_t nrt = 0;
    uint64_t epoch = 0;
    if (T.store == NULL)
        return 0;
    if (T.store->ops->load(T.store, &rt, &nrt, &epoch, err) != 0)
        return -1;
    install_runtime(rt, nrt, epoch);
    free(rt);
    return 0;
}

int tokens_init(const char *admin_token, const char *token_file, struct token_store *ts,
                struct err *err)
{
    struct token *v = NULL;
    size_t n = 0;
    if (admin_token != NULL && admin_token[0] != '\0') {
        struct token t = {.name = "admin", .role = ROLE_ADMIN, .pattern = "**", .source = "env"};
        if (strlen(admin_token) < 16)
            log_warn("STATED_ADMIN_TOKEN is shorter than 16 characters: easy to guess");
        sha256_raw(admin_token, strlen(admin_token), t.sha);
        token_push(&v, &n, &t);
    }
    if (token_file != NULL && token_file[0] != '\0' && load_file(token_file, &v, &n, err) != 0) {
        free(v);
        if (ts != NULL)
            ts->ops->free(ts);
        return -1;
    }
    pthread_rwlock_wrlock(&T.lock);
    free(T.tokens);
    T.tokens = v;
    T.ntokens = T.nstatic = n;
    pthread_rwlock_unlock(&T.lock);
    T.store = ts;
    T.last_poll_ms = T.last_flush_ms = mono_ms();
    return reload(err);
}

static void flush_uses(void);

void tokens_shutdown(void)
{
    pthread_mutex_lock(&T.sync_mu);
    flush_uses();
    if (T.store != NULL)
        T.store->ops->free(T.store);
    T.store = NULL;
    pthread_mutex_unlock(&T.sync_mu);
    pthread_rwlock_wrlock(&T.lock);
    free(T.tokens);
    T.tokens = NULL;
    T.ntokens = T.nstatic = 0;
    pthread_rwlock_unlock(&T.lock);
    pthread_mutex_lock(&T.uses_mu);
    free(T.uses);
    T.uses = NULL;
    T.nuses = 0;
    pthread_mutex_unlock(&T.uses_mu);
}

size_t tokens_count(void)
{
    pthread_rwlock_rdlock(&T.lock);
    size_t n = T.ntokens;
    pthread_rwlock_unlock(&T.lock);
    return n;
}

/* ------------------------------------------------------------------ last uses */

static struct noted_use *use_of(const char *name)
{
    for (size_t i = 0; i < T.nuses; i++)
        if (strcmp(T.uses[i].u.name, name) == 0)
            return &T.uses[i];
    return NULL;
}

static void note_use(const char *name, const char *remote, int64_t now)
{
    pthread_mutex_lock(&T.uses_mu);
    struct noted_use *nu = use_of(name);
    if (nu == NULL) {
        T.uses = xrealloc(T.uses, (T.nuses + 1) * sizeof(*T.uses));
        nu = &T.uses[T.nuses++];
        memset(nu, 0, sizeof(*nu));
        snprintf(nu->u.name, sizeof(nu->u.name), "%s", name);
    }
    nu->u.us = now;
    snprintf(nu->u.remote, sizeof(nu->u.remote), "%s", remote != NULL ? remote : "");
    nu->dirty = true;
    pthread_mutex_unlock(&T.uses_mu);
}

/* Writes the noted uses not stored yet in one batch; on failure they stay noted (sync_mu
 * held). */
static void flush_uses(void)
{
    if (T.store == NULL)
        return;
    pthread_mutex_lock(&T.uses_mu);
    size_t n = 0;
    struct token_use *batch = T.nuses > 0 ? xmalloc(T.nuses * sizeof(*batch)) : NULL;
    for (size_t i = 0; i < T.nuses; i++)
        if (T.uses[i].dirty) {
            batch[n++] = T.uses[i].u;
            T.uses[i].dirty = false;
        }
    pthread_mutex_unlock(&T.uses_mu);
    struct err e = {0};
    if (n > 0 && T.store->ops->record_uses(T.store, batch, n, &e) != 0) {
        log_warn("auth: recording the last use of %zu token(s) failed, retrying later: %s", n,
                 e.msg);
        pthread_mutex_lock(&T.uses_mu);
        for (size_t i = 0; i < n; i++) {
            struct noted_use *nu = use_of(batch[i].name);
            if (nu != NULL && nu->u.us == batch[i].us)
                nu->dirty = true;
        }
        pthread_mutex_unlock(&T.uses_mu);
    }
    free(batch);
}

/* ------------------------------------------------------------------ lookup */

/* The token whose hash is sha, copied to *out; constant time in which one matched. */
static bool lookup(const unsigned char sha[32], struct token *out)
{
    bool found = false;
    pthread_rwlock_rdlock(&T.lock);
    for (size_t i = 0; i < T.ntokens; i++) {
        bool eq = ct_equal(sha, 32, T.tokens[i].sha, 32);
        if (eq && !found) {
            found = true;
            *out = T.tokens[i];
        }
    }
    pthread_rwlock_unlock(&T.lock);
    return found;
}

/* A secret nobody here knows may have been created on another instance a moment ago: look
 * in the store, at most once a second (so unknown secrets cannot make us hammer it). */
static void reload_on_miss(void)
{
    int64_t now = mono_ms();
    if (T.store == NULL ||
        now - __atomic_load_n(&T.last_miss_ms, __ATOMIC_RELAXED) < RELOAD_ON_MISS_MS)
        return;
    pthread_mutex_lock(&T.sync_mu);
    if (now - T.last_miss_ms >= RELOAD_ON_MISS_MS) { /* not done meanwhile */
        struct err e = {0};
        __atomic_store_n(&T.last_miss_ms, now, __ATOMIC_RELAXED);
        if (reload(&e) != 0)
            log_warn("auth: reading the runtime tokens failed, keeping the ones known: %s", e.msg);
    }
    pthread_mutex_unlock(&T.sync_mu);
}

int tokens_authenticate(const char *secret, const char *remote, struct auth_identity *id,
                        struct err *err)
{
    unsigned char sha[32];
    struct token t;
    sha256_raw(secret, strlen(secret), sha);
    bool found = lookup(sha, &t);
    if (!found) {
        reload_on_miss();
        found = lookup(sha, &t);
    }
    if (!found)
        return err_set(err, ERR_AUTH, "unknown token");
    int64_t now = now_us();
    if (t.expires_us != 0 && now >= t.expires_us) {
        char when[32];
        time_format_rfc3339(t.expires_us, when);
        err_set(err, ERR_AUTH, "token '%s' expired at %s", t.name, when);
        return -2;
    }
    snprintf(id->name, sizeof(id->name), "%s", t.name);
    snprintf(id->pattern, sizeof(id->pattern), "%s", t.pattern);
    id->role = t.role;
    note_use(t.name, remote, now);
    return 0;
}

/* ------------------------------------------------------------------ auth's thread */

void tokens_tick(bool final)
{
    if (T.store == NULL)
        return;
    int64_t now = mono_ms();
    pthread_mutex_lock(&T.sync_mu);
    if (now - T.last_poll_ms >= T.store->ops->poll_ms) {
        struct err e = {0};
        uint64_t epoch = 0;
        T.last_poll_ms = now;
        if (T.store->ops->epoch(T.store, &epoch, &e) != 0 || (epoch != T.epoch && reload(&e) != 0))
            log_warn("auth: looking for token changes failed, keeping the tokens known: %s", e.msg);
    }
    if (final || now - T.last_flush_ms >= T.store->ops->flush_ms) {
        T.last_flush_ms = now;
        flush_uses();
    }
    pthread_mutex_unlock(&T.sync_mu);
}

/* ------------------------------------------------------------------ the admin API */

int auth_parse_expiry(const char *s, int64_t now, int64_t *expires_us, struct err *err)
{
    int64_t ms, at;
    if (s != NULL && parse_duration_ms(s, &ms) == 0 && ms > 0 && ms <= INT64_MAX / 1000 - now) {
        *expires_us = now + ms * 1000;
        return 0;
    }
    if (s != NULL && strchr(s, '-') != NULL && time_parse_rfc3339(s, &at) == 0) {
        if (at <= now)
            return err_set(err, ERR_INVALID, "expiry %.40s is in the past", s);
        *expires_us = at;
        return 0;
    }
    return err_set(err, ERR_INVALID,
                   "bad expiry '%.40s': a duration such as 90s, 12h or 30d, or an RFC 3339 time",
                   s != NULL ? s : "");
}

static bool is_static(const char *name)
{
    bool found = false;
    pthread_rwlock_rdlock(&T.lock);
    for (size_t i = 0; i < T.nstatic; i++)
        if (strcmp(T.tokens[i].name, name) == 0)
            found = true;
    pthread_rwlock_unlock(&T.lock);
    return found;
}

static int check_spec(const struct auth_token_spec *spec, struct err *err)
{
    if (spec->name == NULL || !auth__name_ok(spec->name))
        return err_set(err, ERR_INVALID, "bad token name (1-63 of A-Z a-z 0-9 . _ - @)");
    if (spec->role == NULL || auth_role_parse(spec->role) < 0)
        return err_set(err, ERR_INVALID, "bad role (read, plan, write, admin, outputs or metrics)");
    if (spec->pattern == NULL || !auth__pattern_ok(spec->pattern))
        return err_set(err, ERR_INVALID, "bad state pattern (1-255 printable characters)");
    if (T.store == NULL)
        return err_set(err, ERR_INVALID, "runtime tokens are not available on this server");
    if (is_static(spec->name))
        return err_set(err, ERR_INVALID, "a token named '%s' already exists", spec->name);
    return 0;
}

int auth_token_create(const struct auth_token_spec *spec, char secret_out[44], struct err *err)
{
    memset(secret_out, 0, 44);
    if (check_spec(spec, err) != 0)
        return -1;
    struct token t = {.role = (enum auth_role)auth_role_parse(spec->role),
                      .source = T.store->ops->source,
                      .created_us = now_us(),
                      .expires_us = spec->expires_us};
    snprintf(t.name, sizeof(t.name), "%s", spec->name);
    snprintf(t.pattern, sizeof(t.pattern), "%s", spec->pattern);
    char secret[44];
    random_token(secret);
    sha256_raw(secret, strlen(secret), t.sha);
    pthread_mutex_lock(&T.sync_mu);
    int rc = T.store->ops->create(T.store, &t, err);
    struct err e = {0};
    if (rc == 0 && reload(&e) != 0) /* it works here once the next poll succeeds */
        log_warn("auth: token '%s' created, but re-reading the tokens failed: %s", t.name, e.msg);
    pthread_mutex_unlock(&T.sync_mu);
    if (rc == 0)
        memcpy(secret_out, secret, 44);
    memset(secret, 0, sizeof(secret));
    return rc;
}

/* Forgets a runtime token here at once (its revocation is stored, the reload failed). */
static void drop_runtime(const char *name)
{
    pthread_rwlock_wrlock(&T.lock);
    size_t w = T.nstatic;
    for (size_t i = T.nstatic; i < T.ntokens; i++)
        if (strcmp(T.tokens[i].name, name) != 0)
            T.tokens[w++] = T.tokens[i];
    T.ntokens = w;
    pthread_rwlock_unlock(&T.lock);
}

int auth_token_revoke(const char *name, struct err *err)
{
    if (name == NULL || !auth__name_ok(name))
        return err_set(err, ERR_INVALID, "bad token name");
    if (T.store == NULL)
        return err_set(err, ERR_INVALID, "runtime tokens are not available on this server");
    if (is_static(name))
        return err_set(err, ERR_INVALID,
                       "token '%s' comes from STATED_ADMIN_TOKEN or --token-file: remove it there",
                       name);
    pthread_mutex_lock(&T.sync_mu);
    int rc = T.store->ops->revoke(T.store, name, err);
    struct err e = {0};
    if (rc == 0 && reload(&e) != 0) {
        /* Revoked in the store but still known here: refuse to serve it until reloaded. */
        log_error("auth: token '%s' revoked, but re-reading the tokens failed: %s", name, e.msg);
        drop_runtime(name);
    }
    pthread_mutex_unlock(&T.sync_mu);
    return rc;
}

/* The newer of the stored last use of t and the one noted here. */
static void freshest_use(struct token *t)
{
    pthread_mutex_lock(&T.uses_mu);
    const struct noted_use *nu = use_of(t->name);
    if (nu != NULL && nu->u.us > t->last_used_us) {
        t->last_used_us = nu->u.us;
        snprintf(t->last_used_from, sizeof(t->last_used_from), "%s", nu->u.remote);
    }
    pthread_mutex_unlock(&T.uses_mu);
}

int auth_token_list(int (*cb)(void *ctx, const struct auth_token_info *t), void *ctx,
                    struct err *err)
{
    /* Re-read first: other instances' last uses are in the store, not in our copy. */
    if (T.store != NULL) {
        pthread_mutex_lock(&T.sync_mu);
        int rc = reload(err);
        pthread_mutex_unlock(&T.sync_mu);
        if (rc != 0)
            return -1;
    }
    /* Copied under the lock so cb may block (it writes a response). */
    pthread_rwlock_rdlock(&T.lock);
    size_t n = T.ntokens;
    struct token *v = n > 0 ? xmalloc(n * sizeof(*v)) : NULL;
    if (n > 0)
        memcpy(v, T.tokens, n * sizeof(*v));
    pthread_rwlock_unlock(&T.lock);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        freshest_use(&v[i]);
        struct auth_token_info ti = {.name = v[i].name,
                                     .role = auth_role_name(v[i].role),
                                     .pattern = v[i].pattern,
                                     .source = v[i].source,
                                     .created_us = v[i].created_us,
                                     .expires_us = v[i].expires_us,
                                     .last_used_us = v[i].last_used_us,
                                     .last_used_from = v[i].last_used_from};
        rc = cb(ctx, &ti);
    }
    free(v);
    return rc;
}
