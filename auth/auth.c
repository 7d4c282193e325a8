/* auth/auth.c: roles and what they may do, credentials, and auth's thread (auth_int.h).
 *
 * auth_authenticate is the one door: the failed-login limit first (an address over it is
 * refused whatever it sends), then the credential: a JWT goes to the OIDC issuers, anything
 * else is a token (tokens.c). Every failure is counted for the client address, and reported
 * once per address and minute (ratelimit.c) through the caller's hook. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/auth_int.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"

#define TICK_MS       1000
#define BASIC_B64_MAX ((JWT_MAX_LEN + 256) / 3 * 4 + 4) /* user:JWT as base64 */

static struct {
    pthread_t thread;
    bool running;
    pthread_mutex_t mu; /* stop, cv */
    pthread_cond_t cv;
    bool stop;
    void (*on_failures)(void *ctx, const struct auth_failures *f);
    void *ctx;
    struct oidc *oidc; /* NULL: no OIDC issuers */
} A = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

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

/* Refused requests by why: a bounded set, so an alert can tell a scanner (unknown) from an
 * expired CI token or an issuer outage. */
static struct metric m_failures = {
    .name = "stated_auth_failures_total",
    .help = "Requests refused by authentication or authorization, by reason.",
    .type = METRIC_COUNTER,
    .labels = {"reason"}};
static const char *const REASONS[] = {
    "missing",      "malformed",          "unknown",      "expired",  "jwt_invalid",
    "jwt_unmapped", "issuer_unavailable", "rate_limited", "forbidden"};

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

bool auth__name_ok(const char *s)
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

bool auth__pattern_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= AUTH_PATTERN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)s[i]))
            return false;
    return true;
}

int auth_parse_token_line(const char *line, char name[AUTH_TOKEN_NAME_MAX], enum auth_role *role,
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
    if (!auth__name_ok(f[0]))
        return err_set(err, ERR_INVALID, "bad token name (A-Z a-z 0-9 . _ - @, at most 63)");
    int r = auth_role_parse(f[1]);
    if (r < 0)
        return err_set(err, ERR_INVALID,
                       "bad role '%.20s' (read, plan, write, admin, outputs or metrics)", f[1]);
    if (!auth__pattern_ok(f[2]))
        return err_set(err, ERR_INVALID, "bad state pattern");
    if (hex_decode(f[3], sha, 32) != 0)
        return err_set(err, ERR_INVALID, "bad sha256 (want 64 hex digits of SHA-256(token))");
    snprintf(name, AUTH_TOKEN_NAME_MAX, "%.63s", f[0]); /* auth__name_ok: at most 63 */
    snprintf(pattern, AUTH_PATTERN_MAX, "%.255s", f[2]);
    *role = (enum auth_role)r;
    return 0;
}

/* ------------------------------------------------------------------ auth's thread */

static void report_failures(void *ctx, const struct auth_failures *f)
{
    (void)ctx;
    if (A.on_failures != NULL)
        A.on_failures(A.ctx, f);
}

/* Every second: token changes and last uses, and the failed-login minutes that ended. */
static void *auth_thread(void *arg)
{
    (void)arg;
    for (bool final = false; !final;) {
        pthread_mutex_lock(&A.mu);
        if (!A.stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += TICK_MS / 1000;
            pthread_cond_timedwait(&A.cv, &A.mu, &until);
        }
        final = A.stop; /* the last round writes everything that is pending */
        pthread_mutex_unlock(&A.mu);
        tokens_tick(final);
        ratelimit_report(now_us(), final, report_failures, NULL);
    }
    return NULL;
}

int auth_init(const struct auth_config *cfg, struct err *err)
{
    struct token_store *ts = NULL;
    metrics_register(&m_failures);
    for (size_t i = 0; i < sizeof(REASONS) / sizeof(REASONS[0]); i++)
        metric_touch_l(&m_failures, REASONS[i]);
    if (cfg->pg_conninfo != NULL) {
        ts = tokens_pg_new(cfg->pg_conninfo, cfg->persist, err);
        if (ts == NULL)
            return -1;
    } else if (cfg->persist != NULL) {
        ts = tokens_doc_new(cfg->persist);
    }
    if (cfg->oidc_config != NULL && cfg->oidc_config[0] != '\0') {
        A.oidc = oidc_load(cfg->oidc_config, err);
        if (A.oidc == NULL) {
            if (ts != NULL)
                ts->ops->free(ts);
            return -1;
        }
    }
    if (tokens_init(cfg->admin_token, cfg->token_file, ts, err) != 0) {
        oidc_free(A.oidc);
        A.oidc = NULL;
        return -1;
    }
    if (tokens_count() == 0 && A.oidc == NULL) {
        tokens_shutdown();
        return err_set(err, ERR_INVALID,
                       "no API token configured: set STATED_ADMIN_TOKEN or --token-file "
                       "(make run generates an admin token in the data dir)");
    }
    ratelimit_init(cfg->failed_logins_per_minute);
    A.on_failures = cfg->on_failures;
    A.ctx = cfg->ctx;
    A.stop = false;
    if (pthread_create(&A.thread, NULL, auth_thread, NULL) != 0)
        return err_set(err, ERR_INTERNAL, "cannot start auth's thread");
    A.running = true;
    if (A.oidc != NULL)
        oidc_start(A.oidc);
    return 0;
}

void auth_shutdown(void)
{
    if (A.running) {
        pthread_mutex_lock(&A.mu);
        A.stop = true;
        pthread_cond_signal(&A.cv);
        pthread_mutex_unlock(&A.mu);
        pthread_join(A.thread, NULL); /* its last tick writes what is pending */
        A.running = false;
    }
    oidc_free(A.oidc);
    A.oidc = NULL;
    tokens_shutdown();
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
        /* Room for a JWT (at most JWT_MAX_LEN) as the password, and a username. */
        if (len > BASIC_B64_MAX)
            return err_set(err, ERR_AUTH, "Basic credentials too long");
        unsigned char dec[BASIC_B64_MAX / 4 * 3 + 1];
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

void auth_count_forbidden(void)
{
    metric_inc_l(&m_failures, "forbidden");
}

/* A JWT goes to the OIDC issuers only (a token never has dots), anything else is a token.
 * *why names a failure for the metrics. */
static int check_credential(const char *secret, const char *remote, struct auth_identity *id,
                            const char **why, struct err *err)
{
    if (!oidc_is_jwt(secret)) {
        int rc = tokens_authenticate(secret, remote, id, err);
        *why = rc == -2 ? "expired" : "unknown";
        return rc != 0 ? -1 : 0;
    }
    *why = "jwt_invalid";
    if (A.oidc == NULL)
        return err_set(err, ERR_AUTH,
                       "a JWT was sent, but this server trusts no OIDC issuer (--oidc-config)");
    int rc = oidc_authenticate(A.oidc, secret, id, err);
    if (rc != 0 && err->code == ERR_FORBIDDEN)
        *why = "jwt_unmapped";
    else if (rc != 0 && err->code == ERR_ISSUER_UNAVAILABLE)
        *why = "issuer_unavailable";
    return rc;
}

int auth_authenticate(const struct auth_request *q, struct auth_identity *id, struct err *err)
{
    char *secret, *username;
    const char *remote = q->remote != NULL ? q->remote : "";
    memset(id, 0, sizeof(*id));
    if (ratelimit_refuse(remote, q->peer, now_us())) {
        metric_inc_l(&m_failures, "rate_limited");
        return err_set(err, ERR_RATE_LIMITED, "too many failed logins from %s: retry in a minute",
                       remote);
    }
    const char *why = q->authorization == NULL ? "missing" : "malformed";
    int rc = auth_parse_header(q->authorization, &secret, &username, err);
    if (rc == 0) {
        rc = check_credential(secret, remote, id, &why, err);
        memset(secret, 0, strlen(secret));
        free(secret);
        if (rc == 0)
            snprintf(id->username, sizeof(id->username), "%s", username);
        free(username);
    }
    if (rc != 0) {
        memset(id, 0, sizeof(*id));
        metric_inc_l(&m_failures, why);
        if (err->code == ERR_AUTH) {
            char reason[160];
            snprintf(reason, sizeof(reason), "%.100s: %.56s", q->target != NULL ? q->target : "-",
                     err->msg);
            ratelimit_failed(remote, q->peer, reason, now_us());
        }
    }
    return rc;
}

bool auth_allows(const struct auth_identity *id, enum auth_action what, const char *state)
{
    if ((role_may(id->role) & CAN(what)) == 0)
        return false;
    return id->role == ROLE_ADMIN || state == NULL || pattern_match(id->pattern, state);
}
