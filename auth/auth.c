/* auth/auth.c: tokens, roles and state-name patterns.
 *
 * Only SHA-256 hashes of tokens are kept, in memory and in storage. A presented token is hashed
 * and compared with every known hash by ct_equal without stopping at the first match, so the
 * time taken does not depend on which token (if any) matched.
 *
 * Three sources: STATED_ADMIN_TOKEN (name "admin", role admin, pattern "**"), --token-file and
 * the runtime tokens, one JSON document (written by the admin API) that the caller keeps in the
 * state storage (struct auth_persist), shared by every instance on the same storage. Instances see
 * each other's changes by reloading the runtime store every 10 s and, rate-limited to once a
 * second, when a token they do not know arrives (a token created on another instance works almost
 * at once). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "auth/auth.h"
#include "common/log.h"
#include "common/util.h"

#define RELOAD_EVERY_MS   10000
#define RELOAD_ON_MISS_MS 1000

struct token {
    char name[AUTH_NAME_MAX];
    enum auth_role role;
    char pattern[AUTH_PATTERN_MAX];
    unsigned char sha[32];
    const char *source; /* "env", "file", "store" */
    int64_t created_us;
};

static struct {
    pthread_rwlock_t lock; /* guards tokens/ntokens */
    struct token *tokens;
    size_t ntokens, nstatic;  /* the first nstatic come from env and file */
    pthread_mutex_t write_mu; /* serialises runtime-store changes in this process */
    pthread_mutex_t reload_mu;
    int64_t last_load_ms, last_miss_ms;
    const struct auth_persist *persist; /* NULL: no runtime tokens */
    bool ready;
} A = {.lock = PTHREAD_RWLOCK_INITIALIZER,
       .write_mu = PTHREAD_MUTEX_INITIALIZER,
       .reload_mu = PTHREAD_MUTEX_INITIALIZER};

/* The roles by name, and what each may do (one bit per enum auth_action). */
#define CAN(a) (1u << (a))
static const struct {
    enum auth_role role;
    const char *name;
    unsigned may;
} roles[] = {
    {ROLE_READ, "read", CAN(AUTH_READ) | CAN(AUTH_READ_OUTPUTS)},
    {ROLE_PLAN, "plan", CAN(AUTH_READ) | CAN(AUTH_READ_OUTPUTS) | CAN(AUTH_LOCK)},
    {ROLE_WRITE, "write",
     CAN(AUTH_READ) | CAN(AUTH_READ_OUTPUTS) | CAN(AUTH_LOCK) | CAN(AUTH_WRITE)},
    {ROLE_ADMIN, "admin",
     CAN(AUTH_READ) | CAN(AUTH_READ_OUTPUTS) | CAN(AUTH_LOCK) | CAN(AUTH_WRITE) | CAN(AUTH_ADMIN) |
         CAN(AUTH_METRICS)},
    {ROLE_OUTPUTS, "outputs", CAN(AUTH_READ_OUTPUTS)},
    {ROLE_METRICS, "metrics", CAN(AUTH_METRICS)},
};
#define NROLES (sizeof(roles) / sizeof(roles[0]))

int auth_role_parse(const char *s)
{
    for (size_t i = 0; i < NROLES; i++)
        if (strcmp(s, roles[i].name) == 0)
            return (int)roles[i].role;
    return -1;
}

const char *auth_role_name(enum auth_role role)
{
    for (size_t i = 0; i < NROLES; i++)
        if (roles[i].role == role)
            return roles[i].name;
    return "none";
}

static unsigned role_may(enum auth_role role)
{
    for (size_t i = 0; i < NROLES; i++)
        if (roles[i].role == role)
            return roles[i].may;
    return 0;
}

void auth_owner(const struct auth_identity *id, char out[AUTH_OWNER_MAX])
{
    if (id->subject[0] != '\0')
        snprintf(out, AUTH_OWNER_MAX, "%s sub=%s", id->name, id->subject);
    else
        snprintf(out, AUTH_OWNER_MAX, "%s", id->name);
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= AUTH_TOKEN_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.' &&
            s[i] != '@')
            return false;
    return true;
}

static bool pattern_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= AUTH_PATTERN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)s[i]))
            return false;
    return true;
}

int auth_parse_token_line(const char *line, char name[AUTH_NAME_MAX], enum auth_role *role,
                          char pattern[AUTH_PATTERN_MAX], unsigned char sha[32], struct err *err)
{
    char f[5][300];
    int n = 0;
    const char *p = line;
    while (*p != '\0' && *p != '\n' && *p != '#') {
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (*p == '\0' || *p == '\n' || *p == '#')
            break;
        size_t len = 0;
        while (p[len] != '\0' && !isspace((unsigned char)p[len]))
            len++;
        if (n == 5)
            return err_set(err, ERR_INVALID, "too many fields (want: name role pattern sha256)");
        if (len >= sizeof(f[0]))
            return err_set(err, ERR_INVALID, "field too long");
        memcpy(f[n], p, len);
        f[n][len] = '\0';
        n++;
        p += len;
    }
    if (n == 0)
        return 1;
    if (n != 4)
        return err_set(err, ERR_INVALID, "want 4 fields: name role pattern sha256hex, got %d", n);
    if (!name_ok(f[0]))
        return err_set(err, ERR_INVALID, "bad token name (A-Z a-z 0-9 . _ - @, at most 63)");
    int r = auth_role_parse(f[1]);
    if (r < 0)
        return err_set(err, ERR_INVALID, "bad role '%.20s' (read, write or admin)", f[1]);
    if (!pattern_ok(f[2]))
        return err_set(err, ERR_INVALID, "bad state pattern");
    if (hex_decode(f[3], sha, 32) != 0)
        return err_set(err, ERR_INVALID, "bad sha256 (want 64 hex digits of SHA-256(token))");
    snprintf(name, AUTH_NAME_MAX, "%.63s", f[0]);
    snprintf(pattern, AUTH_PATTERN_MAX, "%.255s", f[2]);
    *role = (enum auth_role)r;
    return 0;
}

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

/* Parses the runtime store's JSON into tokens. */
static int parse_store(const char *data, size_t len, struct token **v, size_t *n, struct err *err)
{
    json_error_t je;
    json_t *root = json_loadb(data, len, 0, &je);
    json_t *arr = root != NULL ? json_object_get(root, "tokens") : NULL;
    if (!json_is_array(arr)) {
        json_decref(root);
        return err_set(err, ERR_INTERNAL, "the runtime tokens document is not a token list");
    }
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        struct token t = {.source = "store"};
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *role = json_string_value(json_object_get(e, "role"));
        const char *pattern = json_string_value(json_object_get(e, "pattern"));
        const char *sha = json_string_value(json_object_get(e, "sha256"));
        const char *created = json_string_value(json_object_get(e, "created"));
        if (name == NULL || role == NULL || pattern == NULL || sha == NULL || !name_ok(name) ||
            auth_role_parse(role) < 0 || !pattern_ok(pattern) || hex_decode(sha, t.sha, 32) != 0) {
            log_warn("auth: skipping a malformed runtime token entry");
            continue;
        }
        snprintf(t.name, sizeof(t.name), "%s", name);
        snprintf(t.pattern, sizeof(t.pattern), "%s", pattern);
        t.role = (enum auth_role)auth_role_parse(role);
        if (created != NULL)
            time_parse_rfc3339(created, &t.created_us);
        token_push(v, n, &t);
    }
    json_decref(root);
    return 0;
}

/* Reads the runtime store into a fresh array (no lock held). */
static int read_store(struct token **v, size_t *n, struct err *err)
{
    struct buf b;
    struct err e = {0};
    *v = NULL;
    *n = 0;
    buf_init(&b, 16 * 1024 * 1024);
    if (A.persist == NULL)
        return 0;
    if (A.persist->load(A.persist->ctx, &b, &e) != 0) {
        buf_cleanup(&b);
        if (e.code == ERR_NOT_FOUND)
            return 0;
        *err = e;
        return -1;
    }
    int rc = parse_store(b.data, b.len, v, n, err);
    buf_cleanup(&b);
    return rc;
}

/* Replaces the runtime part of the in-memory list. */
static void install_runtime(struct token *rt, size_t nrt)
{
    pthread_rwlock_wrlock(&A.lock);
    struct token *v = xmalloc((A.nstatic + nrt + 1) * sizeof(*v));
    if (A.nstatic > 0)
        memcpy(v, A.tokens, A.nstatic * sizeof(*v));
    if (nrt > 0)
        memcpy(v + A.nstatic, rt, nrt * sizeof(*v));
    free(A.tokens);
    A.tokens = v;
    A.ntokens = A.nstatic + nrt;
    pthread_rwlock_unlock(&A.lock);
}

static int reload(struct err *err)
{
    struct token *rt;
    size_t nrt;
    if (read_store(&rt, &nrt, err) != 0)
        return -1;
    install_runtime(rt, nrt);
    free(rt);
    return 0;
}

int auth_init(const struct auth_persist *persist, const char *admin_token, const char *token_file,
              struct err *err)
{
    struct token *v = NULL;
    size_t n = 0;
    A.persist = persist;
    if (admin_token != NULL && admin_token[0] != '\0') {
        struct token t = {.name = "admin", .role = ROLE_ADMIN, .pattern = "**", .source = "env"};
        if (strlen(admin_token) < 16)
            log_warn("STATED_ADMIN_TOKEN is shorter than 16 characters: easy to guess");
        sha256_raw(admin_token, strlen(admin_token), t.sha);
        token_push(&v, &n, &t);
    }
    if (token_file != NULL && token_file[0] != '\0' && load_file(token_file, &v, &n, err) != 0) {
        free(v);
        return -1;
    }
    pthread_rwlock_wrlock(&A.lock);
    free(A.tokens);
    A.tokens = v;
    A.ntokens = A.nstatic = n;
    pthread_rwlock_unlock(&A.lock);
    if (reload(err) != 0)
        return -1;
    A.last_load_ms = mono_ms();
    A.ready = true;
    if (A.ntokens == 0)
        return err_set(err, ERR_INVALID,
                       "no API token configured: set STATED_ADMIN_TOKEN or --token-file "
                       "(make run generates an admin token in the data dir)");
    return 0;
}

void auth_shutdown(void)
{
    pthread_rwlock_wrlock(&A.lock);
    free(A.tokens);
    A.tokens = NULL;
    A.ntokens = A.nstatic = 0;
    A.ready = false;
    pthread_rwlock_unlock(&A.lock);
}

int auth_parse_header(const char *value, char **token, char **username, struct err *err)
{
    *token = *username = NULL;
    if (value == NULL)
        return err_set(err, ERR_AUTH,
                       "no credentials: use HTTP Basic (password = token) or "
                       "Authorization: Bearer TOKEN");
    while (*value == ' ')
        value++;
    if (strncasecmp(value, "Bearer ", 7) == 0) {
        const char *t = value + 7;
        while (*t == ' ')
            t++;
        size_t len = strlen(t);
        while (len > 0 && t[len - 1] == ' ')
            len--;
        if (len == 0)
            return err_set(err, ERR_AUTH, "empty bearer token");
        *token = xstrndup(t, len);
        *username = xstrdup("");
        return 0;
    }
    if (strncasecmp(value, "Basic ", 6) == 0) {
        const char *b = value + 6;
        while (*b == ' ')
            b++;
        size_t len = strlen(b);
        while (len > 0 && b[len - 1] == ' ')
            len--;
        if (len > 4096)
            return err_set(err, ERR_AUTH, "Basic credentials too long");
        unsigned char dec[3100];
        size_t dlen = sizeof(dec) - 1;
        if (base64_decode(b, len, dec, &dlen) != 0)
            return err_set(err, ERR_AUTH, "Basic credentials are not valid base64");
        dec[dlen] = '\0';
        unsigned char *colon = memchr(dec, ':', dlen);
        if (colon == NULL)
            return err_set(err, ERR_AUTH, "Basic credentials lack ':'");
        size_t ulen = (size_t)(colon - dec), plen = dlen - ulen - 1;
        if (plen == 0)
            return err_set(err, ERR_AUTH, "empty password: the password is the API token");
        if (memchr(dec, '\0', dlen) != NULL)
            return err_set(err, ERR_AUTH, "NUL in Basic credentials");
        *username = xstrndup((const char *)dec, ulen < 127 ? ulen : 127);
        *token = xstrndup((const char *)colon + 1, plen);
        return 0;
    }
    return err_set(err, ERR_AUTH, "unsupported Authorization scheme (use Basic or Bearer)");
}

/* Looks the hash up among every token; constant time in which one matched. */
static bool lookup(const unsigned char sha[32], struct auth_identity *id)
{
    bool found = false;
    pthread_rwlock_rdlock(&A.lock);
    for (size_t i = 0; i < A.ntokens; i++) {
        bool eq = ct_equal(sha, 32, A.tokens[i].sha, 32);
        if (eq && !found) {
            found = true;
            snprintf(id->name, sizeof(id->name), "%s", A.tokens[i].name);
            snprintf(id->pattern, sizeof(id->pattern), "%s", A.tokens[i].pattern);
            id->role = A.tokens[i].role;
        }
    }
    pthread_rwlock_unlock(&A.lock);
    return found;
}

/* Reloads the runtime store when due (every 10 s) or, on a miss, at most once a second.
 * The common case (not due) reads two timestamps and takes no lock. A periodic reload is done by
 * one thread while the others go on with the tokens already known; a miss waits for the lock,
 * since the reload may bring the token it is looking for. */
static bool reload_due(bool miss, int64_t now)
{
    return now - __atomic_load_n(&A.last_load_ms, __ATOMIC_RELAXED) >= RELOAD_EVERY_MS ||
           (miss && now - __atomic_load_n(&A.last_miss_ms, __ATOMIC_RELAXED) >= RELOAD_ON_MISS_MS);
}

static void maybe_reload(bool miss)
{
    int64_t now = mono_ms();
    if (!reload_due(miss, now))
        return;
    if (miss)
        pthread_mutex_lock(&A.reload_mu);
    else if (pthread_mutex_trylock(&A.reload_mu) != 0)
        return;
    if (reload_due(miss, now)) { /* not done meanwhile by the thread we waited for */
        struct err e = {0};
        if (miss)
            __atomic_store_n(&A.last_miss_ms, now, __ATOMIC_RELAXED);
        __atomic_store_n(&A.last_load_ms, now, __ATOMIC_RELAXED);
        if (reload(&e) != 0)
            log_warn("auth: reloading the runtime tokens failed, keeping the tokens known: %s",
                     e.msg);
    }
    pthread_mutex_unlock(&A.reload_mu);
}

int auth_authenticate(const char *authorization, struct auth_identity *id, struct err *err)
{
    char *token, *username;
    memset(id, 0, sizeof(*id));
    if (auth_parse_header(authorization, &token, &username, err) != 0)
        return -1;
    unsigned char sha[32];
    sha256_raw(token, strlen(token), sha);
    memset(token, 0, strlen(token));
    free(token);
    if (A.persist != NULL)
        maybe_reload(false);
    bool ok = lookup(sha, id);
    if (!ok && A.persist != NULL) {
        maybe_reload(true);
        ok = lookup(sha, id);
    }
    if (ok)
        snprintf(id->username, sizeof(id->username), "%s", username);
    free(username);
    if (!ok) {
        memset(id, 0, sizeof(*id));
        return err_set(err, ERR_AUTH, "unknown token");
    }
    return 0;
}

bool auth_allows(const struct auth_identity *id, enum auth_action what, const char *state)
{
    if ((role_may(id->role) & CAN(what)) == 0)
        return false;
    return id->role == ROLE_ADMIN || state == NULL || pattern_match(id->pattern, state);
}

static int write_store(const struct token *rt, size_t n, struct err *err)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char hex[65], created[32];
        hex_encode(rt[i].sha, 32, hex);
        time_format_rfc3339(rt[i].created_us, created);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", rt[i].name, "role",
                                             auth_role_name(rt[i].role), "pattern", rt[i].pattern,
                                             "sha256", hex, "created", created));
    }
    json_t *root = json_pack("{s:i,s:o}", "version", 1, "tokens", arr);
    char *s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    int rc = A.persist->save(A.persist->ctx, s, strlen(s), err);
    free(s);
    return rc;
}

static bool name_taken(const char *name, const struct token *rt, size_t nrt)
{
    bool taken = false;
    pthread_rwlock_rdlock(&A.lock);
    for (size_t i = 0; i < A.nstatic; i++)
        if (strcmp(A.tokens[i].name, name) == 0)
            taken = true;
    pthread_rwlock_unlock(&A.lock);
    for (size_t i = 0; i < nrt; i++)
        if (strcmp(rt[i].name, name) == 0)
            taken = true;
    return taken;
}

int auth_token_create(const char *name, const char *role, const char *pattern, char secret_out[44],
                      struct err *err)
{
    if (name == NULL || !name_ok(name))
        return err_set(err, ERR_INVALID, "bad token name (1-63 of A-Z a-z 0-9 . _ - @)");
    if (role == NULL || auth_role_parse(role) < 0)
        return err_set(err, ERR_INVALID, "bad role (read, write or admin)");
    if (pattern == NULL || !pattern_ok(pattern))
        return err_set(err, ERR_INVALID, "bad state pattern (1-255 printable characters)");
    if (A.persist == NULL)
        return err_set(err, ERR_INVALID, "runtime tokens are not available on this server");
    pthread_mutex_lock(&A.write_mu);
    struct token *rt;
    size_t nrt;
    int rc = -1;
    /* Read-modify-write of the shared object: re-read first so tokens created by other
     * instances are kept. Two instances creating at the same instant may lose one (XXX: no
     * conditional PUT on every S3 implementation); the admin sees it in `tokens list`. */
    if (read_store(&rt, &nrt, err) != 0)
        goto out_unlocked;
    if (name_taken(name, rt, nrt)) {
        err_set(err, ERR_INVALID, "a token named '%s' already exists", name);
        goto out;
    }
    struct token t = {
        .role = (enum auth_role)auth_role_parse(role), .source = "store", .created_us = now_us()};
    snprintf(t.name, sizeof(t.name), "%s", name);
    snprintf(t.pattern, sizeof(t.pattern), "%s", pattern);
    random_token(secret_out);
    sha256_raw(secret_out, strlen(secret_out), t.sha);
    token_push(&rt, &nrt, &t);
    if (write_store(rt, nrt, err) != 0)
        goto out;
    install_runtime(rt, nrt);
    rc = 0;
out:
    free(rt);
out_unlocked:
    pthread_mutex_unlock(&A.write_mu);
    if (rc != 0)
        memset(secret_out, 0, 44);
    return rc;
}

int auth_token_revoke(const char *name, struct err *err)
{
    if (name == NULL || !name_ok(name))
        return err_set(err, ERR_INVALID, "bad token name");
    if (A.persist == NULL)
        return err_set(err, ERR_INVALID, "runtime tokens are not available on this server");
    bool is_static = false;
    pthread_rwlock_rdlock(&A.lock);
    for (size_t i = 0; i < A.nstatic; i++)
        if (strcmp(A.tokens[i].name, name) == 0)
            is_static = true;
    pthread_rwlock_unlock(&A.lock);
    if (is_static)
        return err_set(err, ERR_INVALID,
                       "token '%s' comes from STATED_ADMIN_TOKEN or --token-file: remove it there",
                       name);
    pthread_mutex_lock(&A.write_mu);
    struct token *rt;
    size_t nrt;
    int rc = -1;
    if (read_store(&rt, &nrt, err) != 0) {
        pthread_mutex_unlock(&A.write_mu);
        return -1;
    }
    size_t w = 0;
    for (size_t i = 0; i < nrt; i++)
        if (strcmp(rt[i].name, name) != 0)
            rt[w++] = rt[i];
    if (w == nrt) {
        err_set(err, ERR_NOT_FOUND, "no runtime token named '%s'", name);
    } else if (write_store(rt, w, err) == 0) {
        install_runtime(rt, w);
        rc = 0;
    }
    free(rt);
    pthread_mutex_unlock(&A.write_mu);
    return rc;
}

int auth_token_list(int (*cb)(void *ctx, const struct auth_token_info *t), void *ctx,
                    struct err *err)
{
    /* Copy under the lock so cb may block (it writes a response). */
    pthread_rwlock_rdlock(&A.lock);
    size_t n = A.ntokens;
    struct token *v = n > 0 ? xmalloc(n * sizeof(*v)) : NULL;
    if (n > 0)
        memcpy(v, A.tokens, n * sizeof(*v));
    pthread_rwlock_unlock(&A.lock);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct auth_token_info ti = {.name = v[i].name,
                                     .role = auth_role_name(v[i].role),
                                     .pattern = v[i].pattern,
                                     .source = v[i].source,
                                     .created_us = v[i].created_us};
        rc = cb(ctx, &ti);
    }
    free(v);
    (void)err;
    return rc;
}
