/* auth/oidc.c: OIDC JWTs as credentials: the --oidc-config file, each issuer's signing keys,
 * and the rules that turn a verified token into an identity (docs/oidc.md).
 *
 * Keys. Each issuer has a cache of the keys of its JWKS ({issuer}/.well-known/openid-
 * configuration names the jwks_uri), keyed by kid, and one fetcher thread that fills it at once,
 * every hour after a success, sooner after a failure (10 s, doubling up to 5 min), and when a
 * worker asks. A worker never fetches: a token whose kid is not cached makes it ask for one fetch
 * (at most once per issuer per 10 s, so a stream of tokens with made-up kids cannot turn into a
 * stream of requests to the issuer) and wait for it, 2 s at the most. A failed fetch keeps the
 * keys cached, so an issuer that is down does not stop tokens it signed before; an issuer whose
 * keys were never fetched answers 503 (ERR_ISSUER_UNAVAILABLE, retryable), which static tokens
 * never see. The generations say which fetch a waiter needs: `wanted` is the number of the fetch
 * asked for, `started` and `finished` count fetches, so a waiter that asked for fetch N waits
 * for finished >= N and never takes a fetch that began before its question for the answer.
 *
 * Rules. Tried in order; the first whose claim patterns all match gives the role and fills the
 * "states" and "name" templates from the claims. A claim put into a template must be one
 * state-name segment (or, for a path claim, segments) with no '*', no "..": the pattern's
 * globs come only from the configuration, so a claim can never widen it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "auth/auth_int.h"
#include "common/buf.h"
#include "common/file.h"
#include "common/log.h"
#include "common/util.h"

#define KEYS_EVERY_MS    (3600 * 1000)
#define RETRY_MIN_MS     (10 * 1000)
#define RETRY_MAX_MS     (5 * 60 * 1000)
#define DEMAND_EVERY_MS  (10 * 1000)
#define DEMAND_WAIT_MS   2000
#define FETCH_CONNECT_MS 5000
#define FETCH_TOTAL_MS   10000
#define FETCH_MAX_BYTES  (256 * 1024)
#define CONFIG_MAX_BYTES (1024 * 1024)
#define CLAIM_NAME_MAX   64 /* of a claim named in a placeholder */
#define PATH_MAX_SEGS    8  /* as state names */

struct claim_pattern {
    char *claim, *pattern;
};

struct rule {
    struct claim_pattern *claims;
    size_t nclaims;
    enum auth_role role;
    char *states, *name; /* templates */
};

struct issuer {
    char *url, *audience;
    char **path_claims;
    size_t npath;
    struct rule *rules;
    size_t nrules;
    /* The key cache and the fetcher, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* for the fetcher: a fetch is wanted, or stop */
    pthread_cond_t done; /* for waiters: a fetch finished */
    struct jwk *keys;
    size_t nkeys;
    uint64_t wanted, started, finished;
    int64_t last_demand_ms;
    char last_error[sizeof(((struct err *)0)->msg)];
    bool running; /* the fetcher runs */
    bool stop;    /* read and written with __atomic: the transfer callback reads it unlocked */
    pthread_t thread;
};

struct oidc {
    struct issuer *issuers;
    size_t n;
};

/* ------------------------------------------------------------------ URLs */

static bool is_loopback(const char *host)
{
    char h[64];
    struct in_addr a4;
    struct in6_addr a6;
    size_t n = strlen(host);
    if (strcasecmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (n >= 2 && n - 2 < sizeof(h) && host[0] == '[' && host[n - 1] == ']') {
        memcpy(h, host + 1, n - 2);
        h[n - 2] = '\0';
        host = h;
    }
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

static bool has_part(CURLU *u, CURLUPart part)
{
    char *s = NULL;
    bool has = curl_url_get(u, part, &s, 0) == CURLUE_OK;
    curl_free(s);
    return has;
}

/* Why url may not be fetched, or NULL: https, or http on a loopback host; no user info; an
 * issuer also no query or fragment (OpenID Connect Discovery §2). *https says which. */
static const char *url_problem(const char *url, bool issuer, bool *https)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    const char *why = NULL;
    for (const char *p = url; *p != '\0' && why == NULL; p++)
        if (*p <= ' ' || *p >= 127)
            why = "has a space, a control or a non-ASCII character";
    if (why == NULL && (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
                        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
                        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK))
        why = "is not an absolute URL";
    else if (why == NULL && (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD)))
        why = "may not hold a user name or password";
    else if (why == NULL && issuer &&
             (has_part(u, CURLUPART_QUERY) || has_part(u, CURLUPART_FRAGMENT)))
        why = "may not have a query or a fragment";
    else if (why == NULL && strcmp(scheme, "https") == 0)
        *https = true;
    else if (why == NULL && strcmp(scheme, "http") == 0 && is_loopback(host))
        *https = false;
    else if (why == NULL)
        why = "must be https (http only on a loopback host: 127.0.0.0/8, ::1, localhost)";
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return why;
}

/* ------------------------------------------------------------------ the config file */

/* Every problem of a file is collected with its JSON path, so one run shows them all. */
struct loader {
    const char *file;
    int problems;
    char first[300];
    struct buf all; /* "path: problem\n" for each */
};

static void problem(struct loader *l, const char *at, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(struct loader *l, const char *at, const char *key, const char *fmt, ...)
{
    char what[200], line[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (key != NULL) {
        char shown[JWT_SHOWN_MAX];
        snprintf(line, sizeof(line), "%s.%s: %s", at, jwt_shown(key, shown), what);
    } else {
        snprintf(line, sizeof(line), "%s: %s", at, what);
    }
    if (l->problems++ == 0)
        snprintf(l->first, sizeof(l->first), "%s", line);
    buf_printf(&l->all, NULL, "%s\n", line);
}

static void check_keys(struct loader *l, const char *at, json_t *obj, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        size_t i = 0;
        while (allowed[i] != NULL && strcmp(allowed[i], k) != 0)
            i++;
        if (allowed[i] == NULL) {
            const char *near = word_nearest(k, allowed);
            if (near != NULL)
                problem(l, at, k, "unknown key (did you mean \"%s\"?)", near);
            else
                problem(l, at, k, "unknown key");
        }
    }
}

/* A required string member of 1 to max-1 bytes; NULL (a problem recorded) otherwise. */
static const char *str_member(struct loader *l, const char *at, json_t *obj, const char *key,
                              size_t max)
{
    json_t *v = json_object_get(obj, key);
    const char *s = json_string_value(v);
    if (v == NULL)
        problem(l, at, key, "missing");
    else if (s == NULL || s[0] == '\0' || strlen(s) >= max)
        problem(l, at, key, "not a string of 1-%zu bytes", max - 1);
    else
        return s;
    return NULL;
}

static bool pattern_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '/' || c == '*';
}

/* Why t is not a template, or NULL: literal bytes (a state pattern's for "states", printable
 * ASCII for "name") and {claim} placeholders. */
static const char *template_problem(const char *t, bool states)
{
    for (const char *p = t; *p != '\0'; p++) {
        if (*p == '{') {
            const char *end = strchr(p + 1, '}');
            if (end == NULL || end == p + 1 || end - p - 1 > CLAIM_NAME_MAX)
                return "a '{' without a claim name (1-64 bytes) and '}'";
            for (const char *q = p + 1; q < end; q++)
                if (*q == '{' || *q <= ' ' || *q >= 127)
                    return "a placeholder with a bad claim name";
            p = end;
        } else if (*p == '}') {
            return "a '}' without its '{'";
        } else if (states ? !pattern_char((unsigned char)*p) : (*p <= ' ' || *p >= 127)) {
            return states ? "a character a state pattern cannot hold (A-Z a-z 0-9 . _ - / *)"
                          : "a space, control or non-ASCII character";
        }
    }
    return NULL;
}

static char *template_member(struct loader *l, const char *at, json_t *obj, const char *key,
                             size_t max)
{
    const char *t = str_member(l, at, obj, key, max);
    const char *why = t != NULL ? template_problem(t, strcmp(key, "states") == 0) : NULL;
    if (why != NULL)
        problem(l, at, key, "%s", why);
    return t != NULL && why == NULL ? xstrdup(t) : NULL;
}

static void load_claims(struct loader *l, const char *at, json_t *v, struct rule *r)
{
    char here[80], buf[JWT_SCALAR_MAX];
    const char *k;
    json_t *pv;
    if (v == NULL)
        return; /* no condition: every token of the issuer */
    if (!json_is_object(v)) {
        problem(l, at, "claims", "not an object of claim patterns");
        return;
    }
    snprintf(here, sizeof(here), "%s.claims", at);
    r->claims = xcalloc(json_object_size(v) + 1, sizeof(*r->claims));
    json_object_foreach(v, k, pv)
    {
        /* A pattern may be written as the claim's JSON value: true means "true". */
        const char *pattern = jwt_claim_text(v, k, buf);
        if (pattern == NULL || k[0] == '\0') {
            problem(l, here, k, "not a claim name with a string, number or boolean pattern");
            continue;
        }
        r->claims[r->nclaims].claim = xstrdup(k);
        r->claims[r->nclaims++].pattern = xstrdup(pattern);
    }
}

static void load_rule(struct loader *l, const char *at, json_t *v, struct rule *r)
{
    static const char *const keys[] = {"claims", "role", "states", "name", NULL};
    if (!json_is_object(v)) {
        problem(l, at, NULL, "not an object");
        return;
    }
    check_keys(l, at, v, keys);
    load_claims(l, at, json_object_get(v, "claims"), r);
    const char *role = str_member(l, at, v, "role", 16);
    int ri = role != NULL ? auth_role_parse(role) : 0;
    if (ri < 0)
        problem(l, at, "role", "not a role (read, plan, write, admin, outputs or metrics)");
    r->role = ri > 0 ? (enum auth_role)ri : ROLE_NONE;
    r->states = template_member(l, at, v, "states", AUTH_PATTERN_MAX);
    r->name = template_member(l, at, v, "name", AUTH_NAME_MAX);
}

/* The size of the array v.key, 0 when it is absent (a problem when required) or not an array. */
static size_t array_member(struct loader *l, const char *at, json_t *v, const char *key,
                           bool required)
{
    json_t *a = json_object_get(v, key);
    if (a == NULL && !required)
        return 0;
    if (!json_is_array(a) || json_array_size(a) == 0)
        problem(l, at, key, "%s", a == NULL ? "missing" : "not a non-empty array");
    return json_array_size(a);
}

static void load_path_claims(struct loader *l, const char *at, json_t *v, struct issuer *iss)
{
    static const char *const defaults[] = {"project_path", "namespace_path", "repository"};
    json_t *a = json_object_get(v, "path_claims");
    size_t n = a != NULL ? array_member(l, at, v, "path_claims", false) : 3;
    iss->path_claims = xcalloc(n + 1, sizeof(*iss->path_claims));
    for (size_t i = 0; i < n; i++) {
        const char *s = a != NULL ? json_string_value(json_array_get(a, i)) : defaults[i];
        if (s == NULL || s[0] == '\0') {
            char here[72];
            snprintf(here, sizeof(here), "%s.path_claims[%zu]", at, i);
            problem(l, here, NULL, "not a claim name");
            continue;
        }
        iss->path_claims[iss->npath++] = xstrdup(s);
    }
}

static void load_issuer(struct loader *l, const char *at, json_t *v, struct issuer *iss)
{
    static const char *const keys[] = {"issuer", "audience", "path_claims", "rules", NULL};
    bool https;
    if (!json_is_object(v)) {
        problem(l, at, NULL, "not an object");
        return;
    }
    check_keys(l, at, v, keys);
    const char *url = str_member(l, at, v, "issuer", sizeof(((struct auth_identity *)0)->issuer));
    const char *why = url != NULL ? url_problem(url, true, &https) : NULL;
    if (why != NULL)
        problem(l, at, "issuer", "%s", why);
    iss->url = xstrdup(url != NULL ? url : "");
    const char *aud = str_member(l, at, v, "audience", 256);
    iss->audience = xstrdup(aud != NULL ? aud : "");
    load_path_claims(l, at, v, iss);
    size_t n = array_member(l, at, v, "rules", true);
    iss->rules = xcalloc(n + 1, sizeof(*iss->rules));
    for (iss->nrules = 0; iss->nrules < n; iss->nrules++) {
        char here[64];
        snprintf(here, sizeof(here), "%s.rules[%zu]", at, iss->nrules);
        load_rule(l, here, json_array_get(json_object_get(v, "rules"), iss->nrules),
                  &iss->rules[iss->nrules]);
    }
}

static void cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

static void load_root(struct loader *l, json_t *root, struct oidc *o)
{
    static const char *const keys[] = {"issuers", NULL};
    if (!json_is_object(root)) {
        problem(l, "$", NULL, "not an object");
        return;
    }
    check_keys(l, "$", root, keys);
    size_t n = array_member(l, "$", root, "issuers", true);
    o->issuers = xcalloc(n + 1, sizeof(*o->issuers));
    for (o->n = 0; o->n < n; o->n++) {
        struct issuer *iss = &o->issuers[o->n];
        char here[32];
        pthread_mutex_init(&iss->mu, NULL);
        cond_init_monotonic(&iss->wake);
        cond_init_monotonic(&iss->done);
        snprintf(here, sizeof(here), "$.issuers[%zu]", o->n);
        load_issuer(l, here, json_array_get(json_object_get(root, "issuers"), o->n), iss);
        for (size_t i = 0; i < o->n; i++)
            if (iss->url[0] != '\0' && strcmp(o->issuers[i].url, iss->url) == 0)
                problem(l, here, "issuer", "the same issuer as $.issuers[%zu]", i);
    }
}

/* Hands the loader's verdict to err: the first problem, and how many there were (all of them
 * are logged then). */
static int loader_finish(struct loader *l, struct err *err)
{
    int rc = 0;
    if (l->problems > 1) {
        for (char *line = l->all.data, *nl; line != NULL && *line != '\0'; line = nl + 1) {
            nl = strchr(line, '\n');
            *nl = '\0';
            log_error("--oidc-config %s: %s", l->file, line);
        }
        rc = err_set(err, ERR_INVALID, "%s: %d problems (each is logged), the first: %s", l->file,
                     l->problems, l->first);
    } else if (l->problems == 1) {
        rc = err_set(err, ERR_INVALID, "%s: %s", l->file, l->first);
    }
    buf_cleanup(&l->all);
    return rc;
}

struct oidc *oidc_load_text(const char *name, const char *text, size_t len, struct err *err)
{
    struct loader l = {.file = name};
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        err_set(err, ERR_INVALID, "%s line %d column %d: %s", name, je.line, je.column, je.text);
        return NULL;
    }
    buf_init(&l.all, 64 * 1024);
    struct oidc *o = xcalloc(1, sizeof(*o));
    load_root(&l, root, o);
    json_decref(root);
    if (loader_finish(&l, err) == 0)
        return o;
    oidc_free(o);
    return NULL;
}

struct oidc *oidc_load(const char *path, struct err *err)
{
    struct buf b;
    struct err fe = {0};
    buf_init(&b, CONFIG_MAX_BYTES);
    if (file_read(path, &b, &fe) != 0) {
        buf_cleanup(&b);
        err_set(err, ERR_INVALID, "--oidc-config: %s", fe.msg);
        return NULL;
    }
    struct oidc *o = oidc_load_text(path, b.data != NULL ? b.data : "", b.len, err);
    buf_cleanup(&b);
    return o;
}

/* ------------------------------------------------------------------ claims to identity */

static bool segment_char(unsigned char c)
{
    return c != '/' && c != '*' && pattern_char(c);
}

/* Why s[0..n) cannot stand for one state-name segment, or NULL. */
static const char *segment_problem(const char *s, size_t n)
{
    if (n == 0)
        return "is empty or has an empty segment";
    if (n > 128)
        return "has a segment over 128 characters";
    if (n == 1 && s[0] == '.')
        return "is or has the segment '.'";
    for (size_t i = 0; i < n; i++) {
        if (segment_char((unsigned char)s[i]))
            continue;
        return s[i] == '*'   ? "contains '*'"
               : s[i] == '/' ? "contains '/' (and is not one of the issuer's path_claims)"
               : s[i] == ' ' ? "contains a space"
                             : "contains a character outside A-Z a-z 0-9 . _ -";
    }
    return NULL;
}

/* Why v may not fill a placeholder, or NULL. A path claim ("platform/net") is checked segment by
 * segment; any other claim must be one segment. */
static const char *value_problem(const char *v, bool path)
{
    if (strstr(v, "..") != NULL)
        return "contains '..'";
    if (!path)
        return segment_problem(v, strlen(v));
    for (int segs = 1;; segs++) {
        const char *slash = strchr(v, '/');
        const char *why = segment_problem(v, slash != NULL ? (size_t)(slash - v) : strlen(v));
        if (why != NULL)
            return why;
        if (segs > PATH_MAX_SEGS)
            return "has more than 8 segments";
        if (slash == NULL)
            return NULL;
        v = slash + 1;
    }
}

static bool is_path_claim(const struct issuer *iss, const char *claim)
{
    for (size_t i = 0; i < iss->npath; i++)
        if (strcmp(iss->path_claims[i], claim) == 0)
            return true;
    return false;
}

/* Appends the value of the claim named by the placeholder at p ("{name}...") to out[*o..cap). */
static int fill_placeholder(const struct issuer *iss, const char *p, size_t plen,
                            const json_t *claims, char *out, size_t *o, size_t cap, struct err *err)
{
    char claim[CLAIM_NAME_MAX + 1], buf[JWT_SCALAR_MAX];
    snprintf(claim, sizeof(claim), "%.*s", (int)plen, p);
    const char *v = jwt_claim_text(claims, claim, buf);
    const char *why = v == NULL ? "is missing or not a string, number or boolean"
                                : value_problem(v, is_path_claim(iss, claim));
    if (why != NULL)
        return err_set(err, ERR_FORBIDDEN,
                       "issuer %s: claim %s %s, so it cannot fill a placeholder", iss->url, claim,
                       why);
    size_t n = strlen(v);
    if (*o + n >= cap)
        return err_set(err, ERR_FORBIDDEN, "issuer %s: claim %s makes the result too long",
                       iss->url, claim);
    memcpy(out + *o, v, n);
    *o += n;
    return 0;
}

/* Fills a template (checked at load) from the claims into out[cap]. */
static int fill_template(const struct issuer *iss, const char *t, const json_t *claims, char *out,
                         size_t cap, struct err *err)
{
    size_t o = 0;
    for (const char *p = t; *p != '\0'; p++) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            if (fill_placeholder(iss, p + 1, (size_t)(end - p - 1), claims, out, &o, cap, err))
                return -1;
            p = end;
        } else if (o + 1 < cap) {
            out[o++] = *p;
        } else {
            return err_set(err, ERR_FORBIDDEN, "issuer %s: a filled template is too long",
                           iss->url);
        }
    }
    out[o] = '\0';
    return 0;
}

/* The claim of r that claims do not match (a missing claim never matches, even "*"), or NULL
 * when they all do. */
static const char *rule_mismatch(const struct rule *r, const json_t *claims, bool *missing)
{
    char buf[JWT_SCALAR_MAX];
    for (size_t i = 0; i < r->nclaims; i++) {
        const char *v = jwt_claim_text(claims, r->claims[i].claim, buf);
        *missing = v == NULL;
        if (v == NULL || !pattern_match(r->claims[i].pattern, v))
            return r->claims[i].claim;
    }
    return NULL;
}

static const struct rule *first_rule(const struct issuer *iss, const json_t *claims,
                                     struct err *err)
{
    char why[200] = "", shown[JWT_SHOWN_MAX];
    size_t w = 0;
    for (size_t i = 0; i < iss->nrules; i++) {
        bool missing = false;
        const char *claim = rule_mismatch(&iss->rules[i], claims, &missing);
        if (claim == NULL)
            return &iss->rules[i];
        if (w < sizeof(why))
            w += (size_t)snprintf(why + w, sizeof(why) - w, "%srules[%zu]: claim %s %s",
                                  i > 0 ? "; " : "", i, jwt_shown(claim, shown),
                                  missing ? "is missing" : "does not match");
    }
    err_set(err, ERR_FORBIDDEN, "issuer %s: no rule matched (%s)", iss->url, why);
    return NULL;
}

static struct issuer *issuer_of(const struct oidc *o, const json_t *claims, struct err *err)
{
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    char shown[JWT_SHOWN_MAX];
    if (iss == NULL) {
        err_set(err, ERR_AUTH, "JWT has no iss");
        return NULL;
    }
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->issuers[i].url, iss) == 0)
            return &o->issuers[i];
    err_set(err, ERR_AUTH, "JWT iss %s is not a configured issuer", jwt_shown(iss, shown));
    return NULL;
}

/* A string claim copied whole into out[cap] (cut, it could name someone else); printable. */
static int copy_claim(const json_t *claims, const char *name, bool required, char *out, size_t cap,
                      struct err *err)
{
    const json_t *v = json_object_get(claims, name);
    const char *s = json_string_value(v);
    out[0] = '\0';
    if (v == NULL && !required)
        return 0;
    if (v == NULL)
        return err_set(err, ERR_AUTH, "JWT has no %s", name);
    bool ok = s != NULL && s[0] != '\0' && strlen(s) < cap;
    for (const char *p = s; ok && *p != '\0'; p++)
        ok = (unsigned char)*p >= ' ' && *p != 127;
    if (!ok)
        return err_set(err, ERR_AUTH,
                       "JWT %s is not a string of 1-%zu bytes without control "
                       "characters",
                       name, cap - 1);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

int oidc_identify(const struct oidc *o, const json_t *claims, int64_t now_s,
                  struct auth_identity *id, struct err *err)
{
    const struct issuer *iss = issuer_of(o, claims, err);
    if (iss == NULL || jwt_check_audience(claims, iss->audience, err) != 0 ||
        jwt_check_times(claims, now_s, err) != 0)
        return -1;
    struct auth_identity out = *id; /* id stays as it was unless everything succeeds */
    if (copy_claim(claims, "sub", true, out.subject, sizeof(out.subject), err) != 0 ||
        copy_claim(claims, "jti", false, out.jti, sizeof(out.jti), err) != 0)
        return -1;
    const struct rule *r = first_rule(iss, claims, err);
    if (r == NULL || fill_template(iss, r->name, claims, out.name, sizeof(out.name), err) != 0 ||
        fill_template(iss, r->states, claims, out.pattern, sizeof(out.pattern), err) != 0)
        return -1;
    out.role = r->role;
    snprintf(out.issuer, sizeof(out.issuer), "%s", iss->url);
    *id = out;
    return 0;
}

/* ------------------------------------------------------------------ the key cache */

/* Takes the new keys in place of the cached ones; mu held. */
static void install_keys(struct issuer *iss, struct jwk *keys, size_t n)
{
    jwks_free(iss->keys, iss->nkeys);
    iss->keys = keys;
    iss->nkeys = n;
}

int oidc_set_keys(struct oidc *o, const char *issuer, const char *jwks, size_t len, struct err *err)
{
    struct jwk *keys;
    size_t n;
    for (size_t i = 0; i < o->n; i++) {
        struct issuer *iss = &o->issuers[i];
        if (strcmp(iss->url, issuer) != 0)
            continue;
        if (jwks_parse(jwks, len, &keys, &n, err) != 0)
            return -1;
        pthread_mutex_lock(&iss->mu);
        install_keys(iss, keys, n);
        pthread_mutex_unlock(&iss->mu);
        return 0;
    }
    return err_set(err, ERR_NOT_FOUND, "no issuer %s in the configuration", issuer);
}

/* A reference to the cached key kid (jwk_cleanup releases it); mu held. */
static bool find_key(const struct issuer *iss, const char *kid, struct jwk *out)
{
    for (size_t i = 0; i < iss->nkeys; i++) {
        if (strcmp(iss->keys[i].kid, kid) == 0) {
            *out = iss->keys[i];
            EVP_PKEY_up_ref(out->pkey);
            return true;
        }
    }
    return false;
}

static int wait_until(pthread_cond_t *c, pthread_mutex_t *mu, int64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = deadline_ms % 1000 * 1000000};
    return pthread_cond_timedwait(c, mu, &ts);
}

/* One more fetch, if it is allowed now; mu held. */
static bool ask_fetch(struct issuer *iss, int64_t now)
{
    if (!iss->running || now - iss->last_demand_ms < DEMAND_EVERY_MS)
        return false;
    iss->last_demand_ms = now;
    iss->wanted = iss->started + 1;
    pthread_cond_signal(&iss->wake);
    return true;
}

/* The key kid of iss: cached, or after a fetch under way or asked for here (2 s at most). */
static int issuer_key(struct issuer *iss, const char *kid, struct jwk *out, struct err *err)
{
    int64_t deadline = mono_ms() + DEMAND_WAIT_MS;
    bool asked = false, found;
    char shown[JWT_SHOWN_MAX];
    pthread_mutex_lock(&iss->mu);
    while (!(found = find_key(iss, kid, out)) && iss->running) {
        if (iss->wanted > iss->finished || iss->started > iss->finished) {
            if (wait_until(&iss->done, &iss->mu, deadline) != 0 && mono_ms() >= deadline)
                break;
        } else if (asked || !(asked = ask_fetch(iss, mono_ms()))) {
            break;
        }
    }
    if (!found && iss->nkeys == 0)
        err_set(err, ERR_ISSUER_UNAVAILABLE, "issuer %s: no signing keys (%s)", iss->url,
                iss->last_error[0] != '\0' ? iss->last_error : "not fetched yet");
    else if (!found)
        err_set(err, ERR_AUTH, "JWT kid %s is not a key of issuer %s", jwt_shown(kid, shown),
                iss->url);
    pthread_mutex_unlock(&iss->mu);
    return found ? 0 : -1;
}

/* ------------------------------------------------------------------ fetching */

struct transfer {
    struct issuer *iss;
    struct buf body;
    bool too_big;
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    struct transfer *t = ctx;
    if (buf_append(&t->body, data, size * n, NULL) != 0) {
        t->too_big = true;
        return 0;
    }
    return size * n;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    const struct transfer *t = ctx;
    return __atomic_load_n(&t->iss->stop, __ATOMIC_RELAXED) ? 1 : 0; /* oidc_free: give up */
}

static void set_options(CURL *h, const char *url, bool https, struct transfer *t, char *errbuf)
{
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, https ? "https" : "http");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect could leave https */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)FETCH_CONNECT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)FETCH_TOTAL_MS);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)FETCH_MAX_BYTES);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "stated");
}

/* GET url (200 only, at most 256 KiB) into out. Every failure is ERR_UNAVAILABLE. */
static int get_url(struct issuer *iss, CURL *h, const char *url, struct buf *out, struct err *err)
{
    struct transfer t = {.iss = iss};
    char errbuf[CURL_ERROR_SIZE] = "";
    bool https = false;
    long status = 0;
    const char *why = url_problem(url, false, &https);
    if (why != NULL)
        return err_set(err, ERR_UNAVAILABLE, "%s %s", url, why);
    buf_init(&t.body, FETCH_MAX_BYTES);
    set_options(h, url, https, &t, errbuf);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200) {
        buf_cleanup(&t.body);
        if (rc == CURLE_OK)
            return err_set(err, ERR_UNAVAILABLE, "GET %s: HTTP %ld", url, status);
        return err_set(err, ERR_UNAVAILABLE, "GET %s: %s", url,
                       t.too_big           ? "answer over 256 KiB"
                       : errbuf[0] != '\0' ? errbuf
                                           : curl_easy_strerror(rc));
    }
    *out = t.body;
    return 0;
}

/* The jwks_uri of the issuer's discovery document (caller frees), or NULL. */
static char *discover(struct issuer *iss, CURL *h, struct err *err)
{
    size_t ulen = strlen(iss->url);
    char *url = xasprintf("%.*s/.well-known/openid-configuration",
                          (int)(ulen > 0 && iss->url[ulen - 1] == '/' ? ulen - 1 : ulen), iss->url);
    struct buf b;
    char *jwks_uri = NULL;
    if (get_url(iss, h, url, &b, err) != 0) {
        free(url);
        return NULL;
    }
    json_t *conf = json_loadb(b.data != NULL ? b.data : "", b.len, 0, NULL);
    buf_cleanup(&b);
    const char *named = json_string_value(json_object_get(conf, "issuer"));
    const char *uri = json_string_value(json_object_get(conf, "jwks_uri"));
    if (named == NULL || strcmp(named, iss->url) != 0) /* OIDC Discovery §4.3 */
        err_set(err, ERR_UNAVAILABLE, "%s is not JSON naming issuer %s", url, iss->url);
    else if (uri == NULL)
        err_set(err, ERR_UNAVAILABLE, "%s has no jwks_uri", url);
    else
        jwks_uri = xstrdup(uri);
    json_decref(conf);
    free(url);
    return jwks_uri;
}

/* Discovery, then the JWKS it names: a new key array, or -1 (ERR_UNAVAILABLE). */
static int fetch_keys(struct issuer *iss, CURL *h, struct jwk **keys, size_t *n, struct err *err)
{
    char *jwks_uri = discover(iss, h, err);
    struct buf b;
    struct err je = {0};
    int rc = -1;
    if (jwks_uri != NULL && get_url(iss, h, jwks_uri, &b, err) == 0) {
        rc = jwks_parse(b.data != NULL ? b.data : "", b.len, keys, n, &je);
        if (rc != 0)
            err_set(err, ERR_UNAVAILABLE, "%s: %s", jwks_uri, je.msg);
        buf_cleanup(&b);
    }
    free(jwks_uri);
    return rc;
}

static int64_t retry_ms(int fails)
{
    int64_t ms = RETRY_MIN_MS;
    for (int i = 1; i < fails && ms < RETRY_MAX_MS; i++)
        ms *= 2;
    return ms < RETRY_MAX_MS ? ms : RETRY_MAX_MS;
}

/* One fetch, made without holding mu; returns with mu held and the result installed. */
static void fetch_once(struct issuer *iss, CURL *h, int *fails)
{
    struct jwk *keys = NULL;
    size_t n = 0;
    struct err e = {0};
    int rc = h != NULL ? fetch_keys(iss, h, &keys, &n, &e)
                       : err_set(&e, ERR_UNAVAILABLE, "curl_easy_init failed");
    pthread_mutex_lock(&iss->mu);
    if (rc == 0) {
        install_keys(iss, keys, n);
        log_info("oidc: %s: %zu signing key%s", iss->url, n, n == 1 ? "" : "s");
    } else {
        log_warn("oidc: %s: fetching the signing keys failed, %s: %s", iss->url,
                 iss->nkeys > 0 ? "keeping the keys cached" : "its JWTs get 503 meanwhile", e.msg);
    }
    snprintf(iss->last_error, sizeof(iss->last_error), "%s", rc == 0 ? "" : e.msg);
    *fails = rc == 0 ? 0 : *fails + 1;
}

static void *fetcher_main(void *arg)
{
    struct issuer *iss = arg;
    CURL *h = curl_easy_init();
    int64_t next_ms = 0; /* at once */
    int fails = 0;
    pthread_mutex_lock(&iss->mu);
    while (!__atomic_load_n(&iss->stop, __ATOMIC_RELAXED)) {
        if (iss->wanted <= iss->started && mono_ms() < next_ms) {
            wait_until(&iss->wake, &iss->mu, next_ms);
            continue;
        }
        uint64_t gen = ++iss->started;
        pthread_mutex_unlock(&iss->mu);
        fetch_once(iss, h, &fails); /* returns with mu held */
        iss->finished = gen;
        next_ms = mono_ms() + (fails == 0 ? KEYS_EVERY_MS : retry_ms(fails));
        pthread_cond_broadcast(&iss->done);
    }
    pthread_mutex_unlock(&iss->mu);
    curl_easy_cleanup(h);
    return NULL;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
}

void oidc_start(struct oidc *o)
{
    sigset_t all, old;
    pthread_once(&curl_once, curl_init_once);
    /* The fetchers take no signal: the server's own threads handle SIGTERM and SIGINT. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (size_t i = 0; i < o->n; i++) {
        struct issuer *iss = &o->issuers[i];
        pthread_mutex_lock(&iss->mu);
        if (!iss->running) {
            iss->last_demand_ms = mono_ms() - DEMAND_EVERY_MS;
            iss->running = pthread_create(&iss->thread, NULL, fetcher_main, iss) == 0;
            if (!iss->running)
                log_error("oidc: %s: cannot start the key fetcher thread", iss->url);
        }
        pthread_mutex_unlock(&iss->mu);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void issuer_stop(struct issuer *iss)
{
    pthread_mutex_lock(&iss->mu);
    bool was = iss->running;
    iss->running = false;
    __atomic_store_n(&iss->stop, true, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&iss->wake);
    pthread_cond_broadcast(&iss->done);
    pthread_mutex_unlock(&iss->mu);
    if (was)
        pthread_join(iss->thread, NULL);
}

static void issuer_cleanup(struct issuer *iss)
{
    for (size_t i = 0; i < iss->nrules; i++) {
        struct rule *r = &iss->rules[i];
        for (size_t c = 0; c < r->nclaims; c++) {
            free(r->claims[c].claim);
            free(r->claims[c].pattern);
        }
        free(r->claims);
        free(r->states);
        free(r->name);
    }
    for (size_t i = 0; i < iss->npath; i++)
        free(iss->path_claims[i]);
    free(iss->path_claims);
    free(iss->rules);
    free(iss->url);
    free(iss->audience);
    jwks_free(iss->keys, iss->nkeys);
    pthread_mutex_destroy(&iss->mu);
    pthread_cond_destroy(&iss->wake);
    pthread_cond_destroy(&iss->done);
}

void oidc_free(struct oidc *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->n; i++) {
        issuer_stop(&o->issuers[i]);
        issuer_cleanup(&o->issuers[i]);
    }
    free(o->issuers);
    free(o);
}

/* ------------------------------------------------------------------ authentication */

bool oidc_is_jwt(const char *credential)
{
    const char *d1 = strchr(credential, '.');
    const char *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    if (d2 == NULL)
        return false;
    size_t n3 = strlen(d2 + 1);
    return jwt_is_b64url(credential, (size_t)(d1 - credential)) &&
           jwt_is_b64url(d1 + 1, (size_t)(d2 - d1 - 1)) &&
           (n3 == 0 || jwt_is_b64url(d2 + 1, n3)); /* an unsigned JWS has no third part */
}

int oidc_authenticate(struct oidc *o, const char *jwt, struct auth_identity *id, struct err *err)
{
    struct jwt j;
    struct jwk key = {0};
    int rc = -1;
    if (jwt_parse(jwt, &j, err) != 0)
        goto out;
    struct issuer *iss = issuer_of(o, j.claims, err);
    if (iss == NULL)
        goto out;
    if (j.kid[0] == '\0') {
        err_set(err, ERR_AUTH, "JWT header has no kid");
        goto out;
    }
    if (issuer_key(iss, j.kid, &key, err) != 0 || jwt_verify(&j, &key, err) != 0)
        goto out;
    rc = oidc_identify(o, j.claims, now_us() / 1000000, id, err);
out:
    jwk_cleanup(&key);
    jwt_cleanup(&j);
    return rc;
}
