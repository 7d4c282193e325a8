/* backend/webhook_conf.c: the --webhooks file and what a delivery is made of: which audit
 * actions are which event types, the payloads, the signature, the backoff schedule and the
 * address rule. Pure functions, no thread and no network except the start-time resolution. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "backend/backend.h"
#include "common/file.h"
#include "common/net.h"

/* Audit action -> event type. Only these actions become webhook events. */
static const struct {
    const char *action, *type;
} event_types[] = {
    {"write", "state.written"},
    {"delete", "state.deleted"},
    {"restore", "state.restored"},
    {"state-move", "state.moved"},
    {"snapshot-delete", "snapshot.deleted"},
    {"lock", "lock.acquired"},
    {"unlock", "lock.released"},
    {"lock-expired", "lock.expired"},
    {"force-unlock", "lock.force_unlocked"},
    {"lock-stale", "lock.stale"},
};
#define NTYPES (sizeof(event_types) / sizeof(event_types[0]))

const char *webhook_event_type(const struct audit_event *ev)
{
    if (ev->status < 200 || ev->status > 299)
        return NULL; /* refused requests changed nothing: nobody is told */
    for (size_t k = 0; k < NTYPES; k++)
        if (strcmp(ev->action, event_types[k].action) == 0)
            return event_types[k].type;
    return NULL;
}

bool webhook_wants(const struct webhook *w, const char *type, const char *state)
{
    if (type == NULL || !pattern_match(w->states, state))
        return false;
    for (size_t k = 0; k < w->nevents; k++)
        if (pattern_match(w->events[k], type))
            return true;
    return false;
}

/* ------------------------------------------------------------------ addresses */

/* Link-local ranges hold the cloud metadata services (169.254.169.254, fd00:ec2::254): a
 * webhook pointed there would hand their answers' existence, or their side effects, to
 * whoever edits the configuration. */
static const char FORBIDDEN[] = "169.254.0.0/16, fe80::/10, fd00:ec2::254";

bool webhook_address_forbidden(const char *ip)
{
    struct net_cidrs c;
    struct err e = {0};
    if (net_cidrs_parse(FORBIDDEN, &c, &e) != 0)
        return true;
    bool in = net_cidrs_contain(&c, ip);
    net_cidrs_cleanup(&c);
    return in;
}

static bool host_is_loopback(const char *host)
{
    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0)
        return true;
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* Every address host resolves to is checked now; delivery checks again at connect time. A
 * host that does not resolve yet is accepted (the receiver may come up later). */
static int check_resolved(const char *name, const char *host, struct err *err)
{
    char h[256];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(h)) {
        memcpy(h, host + 1, n - 2);
        h[n - 2] = '\0';
    } else {
        snprintf(h, sizeof(h), "%s", host);
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(h, NULL, &hints, &res) != 0)
        return 0;
    int rc = 0;
    for (struct addrinfo *ai = res; ai != NULL && rc == 0; ai = ai->ai_next) {
        char ip[INET6_ADDRSTRLEN] = "";
        const void *src = ai->ai_family == AF_INET
                              ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                              : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        inet_ntop(ai->ai_family, src, ip, sizeof(ip));
        if (webhook_address_forbidden(ip))
            rc = err_set(err, ERR_INVALID,
                         "webhook %s: %s resolves to %s, a link-local or metadata address "
                         "(set \"allow_private\": true to allow it)",
                         name, host, ip);
    }
    freeaddrinfo(res);
    return rc;
}

/* https everywhere, http only to this host; never a link-local or metadata address. */
static int check_url(struct webhook *w, bool resolve, struct err *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int rc = 0;
    if (curl_url_set(u, CURLUPART_URL, w->url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        rc = err_set(err, ERR_INVALID, "webhook %s: url %s is not a URL", w->name, w->url);
    } else if (strcmp(scheme, "https") != 0 &&
               !(strcmp(scheme, "http") == 0 && host_is_loopback(host))) {
        rc = err_set(err, ERR_INVALID,
                     "webhook %s: url must be https (http only to a loopback address): %s", w->name,
                     w->url);
    } else {
        snprintf(w->host, sizeof(w->host), "%s", host);
        char literal[256];
        size_t n = strlen(host);
        snprintf(literal, sizeof(literal), "%.*s", host[0] == '[' && n >= 2 ? (int)n - 2 : (int)n,
                 host[0] == '[' ? host + 1 : host);
        if (!w->allow_private && webhook_address_forbidden(literal))
            rc = err_set(err, ERR_INVALID,
                         "webhook %s: %s is a link-local or metadata address "
                         "(set \"allow_private\": true to allow it)",
                         w->name, host);
        else if (!w->allow_private && resolve)
            rc = check_resolved(w->name, host, err);
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

/* ------------------------------------------------------------------ the file */

static const char *const KEYS[] = {"name",   "url",    "secret_env",    "secret_file", "events",
                                   "states", "format", "allow_private", NULL};

static int unknown_key(const char *name, const char *key, struct err *err)
{
    const char *near = word_nearest(key, KEYS);
    if (near != NULL)
        return err_set(err, ERR_INVALID, "webhook %s: unknown key \"%s\" (did you mean \"%s\"?)",
                       name, key, near);
    return err_set(err, ERR_INVALID, "webhook %s: unknown key \"%s\"", name, key);
}

static int parse_events(struct webhook *w, json_t *ev, struct err *err)
{
    if (ev == NULL) {
        w->events[0] = xstrdup("*");
        w->nevents = 1;
        return 0;
    }
    if (!json_is_array(ev) || json_array_size(ev) == 0 || json_array_size(ev) > WEBHOOK_EVENTS_MAX)
        return err_set(err, ERR_INVALID, "webhook %s: events must be a list of 1 to %d patterns",
                       w->name, WEBHOOK_EVENTS_MAX);
    const char *names[NTYPES + 1];
    for (size_t k = 0; k < NTYPES; k++)
        names[k] = event_types[k].type;
    names[NTYPES] = NULL;
    for (size_t i = 0; i < json_array_size(ev); i++) {
        const char *p = json_string_value(json_array_get(ev, i));
        if (p == NULL)
            return err_set(err, ERR_INVALID, "webhook %s: events[%zu] is not a string", w->name, i);
        bool any = false;
        for (size_t k = 0; k < NTYPES && !any; k++)
            any = pattern_match(p, names[k]);
        if (!any) {
            const char *near = word_nearest(p, names);
            return err_set(err, ERR_INVALID, "webhook %s: unknown event type \"%s\"%s%s%s", w->name,
                           p, near ? " (did you mean \"" : "", near ? near : "",
                           near ? "\"?)" : "");
        }
        w->events[w->nevents++] = xstrdup(p);
    }
    return 0;
}

static int load_secret(struct webhook *w, json_t *o, struct err *err)
{
    const char *env = json_string_value(json_object_get(o, "secret_env"));
    const char *file = json_string_value(json_object_get(o, "secret_file"));
    if ((env == NULL) == (file == NULL))
        return err_set(err, ERR_INVALID, "webhook %s: give exactly one of secret_env, secret_file",
                       w->name);
    if (env != NULL) {
        const char *v = getenv(env);
        if (v == NULL || v[0] == '\0')
            return err_set(err, ERR_INVALID, "webhook %s: secret_env %s is not set", w->name, env);
        w->secret = xstrdup(v);
        return 0;
    }
    struct buf b;
    buf_init(&b, 4096);
    struct err fe = {0};
    if (file_read(file, &b, &fe) != 0) {
        buf_cleanup(&b);
        return err_set(err, ERR_INVALID, "webhook %s: secret_file %s: %s", w->name, file, fe.msg);
    }
    while (b.len > 0 && isspace((unsigned char)b.data[b.len - 1]))
        b.len--;
    w->secret = xcalloc(1, b.len + 1);
    memcpy(w->secret, b.data, b.len);
    memset(b.data, 0, b.len);
    buf_cleanup(&b);
    if (w->secret[0] == '\0')
        return err_set(err, ERR_INVALID, "webhook %s: secret_file %s is empty", w->name, file);
    return 0;
}

static bool name_ok(const char *s)
{
    if (s[0] == '\0' || strlen(s) >= WEBHOOK_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

static int parse_one(struct webhook *w, json_t *o, size_t idx, bool resolve, struct err *err)
{
    const char *name = json_string_value(json_object_get(o, "name"));
    snprintf(w->name, sizeof(w->name), "%s", name ? name : "");
    if (name == NULL)
        snprintf(w->name, sizeof(w->name), "webhook-%zu", idx + 1);
    else if (!name_ok(name))
        return err_set(err, ERR_INVALID, "webhook %zu: name must be 1-63 of A-Z a-z 0-9 . _ -",
                       idx + 1);
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (word_nearest(key, KEYS) == NULL || strcmp(word_nearest(key, KEYS), key) != 0)
            return unknown_key(w->name, key, err);
    }
    const char *url = json_string_value(json_object_get(o, "url"));
    if (url == NULL)
        return err_set(err, ERR_INVALID, "webhook %s: url is missing", w->name);
    w->url = xstrdup(url);
    json_t *ap = json_object_get(o, "allow_private");
    if (ap != NULL && !json_is_boolean(ap))
        return err_set(err, ERR_INVALID, "webhook %s: allow_private must be true or false",
                       w->name);
    w->allow_private = json_is_true(ap);
    const char *states = json_string_value(json_object_get(o, "states"));
    w->states = xstrdup(states ? states : "**");
    const char *fmt = json_string_value(json_object_get(o, "format"));
    if (fmt != NULL && strcmp(fmt, "json") != 0 && strcmp(fmt, "slack") != 0)
        return err_set(err, ERR_INVALID, "webhook %s: format must be json or slack", w->name);
    w->slack = fmt != NULL && strcmp(fmt, "slack") == 0;
    if (check_url(w, resolve, err) != 0 || parse_events(w, json_object_get(o, "events"), err) != 0)
        return -1;
    return load_secret(w, o, err);
}

struct webhook_list *webhooks_parse(const char *text, size_t len, bool resolve, struct err *err)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (root == NULL) {
        err_set(err, ERR_INVALID, "webhooks: line %d: %s", je.line, je.text);
        return NULL;
    }
    struct webhook_list *l = xcalloc(1, sizeof(*l));
    if (!json_is_array(root)) {
        err_set(err, ERR_INVALID, "webhooks: expected a JSON list of webhooks");
        goto fail;
    }
    l->n = json_array_size(root);
    l->v = xcalloc(l->n + 1, sizeof(*l->v));
    for (size_t i = 0; i < l->n; i++) {
        json_t *o = json_array_get(root, i);
        if (!json_is_object(o)) {
            err_set(err, ERR_INVALID, "webhooks: entry %zu is not an object", i + 1);
            goto fail;
        }
        if (parse_one(&l->v[i], o, i, resolve, err) != 0)
            goto fail;
        for (size_t j = 0; j < i; j++)
            if (strcmp(l->v[j].name, l->v[i].name) == 0) {
                err_set(err, ERR_INVALID, "webhooks: two webhooks are named %s", l->v[i].name);
                goto fail;
            }
    }
    json_decref(root);
    return l;
fail:
    json_decref(root);
    webhooks_list_free(l);
    return NULL;
}

void webhooks_list_free(struct webhook_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n && l->v != NULL; i++) {
        struct webhook *w = &l->v[i];
        free(w->url);
        free(w->states);
        for (size_t k = 0; k < w->nevents; k++)
            free(w->events[k]);
        if (w->secret != NULL)
            memset(w->secret, 0, strlen(w->secret));
        free(w->secret);
    }
    free(l->v);
    free(l);
}

/* ------------------------------------------------------------------ payloads */

static json_t *jstr(const char *s)
{
    json_t *v = json_string(s);
    return v != NULL ? v : json_string("(not UTF-8)");
}

void webhook_delivery_id(const struct webhook *w, uint64_t seq, char out[WEBHOOK_ID_MAX])
{
    snprintf(out, WEBHOOK_ID_MAX, "%llu-%s", (unsigned long long)seq, w->name);
}

static json_t *lock_json(const struct audit_event *ev)
{
    if (ev->lock_id[0] == '\0')
        return json_null();
    json_t *l = json_object();
    json_object_set_new(l, "id", jstr(ev->lock_id));
    json_object_set_new(l, "who", jstr(ev->lock_who));
    json_object_set_new(l, "operation", jstr(ev->lock_operation));
    json_object_set_new(l, "info", jstr(ev->lock_info));
    json_object_set_new(l, "owner", jstr(ev->lock_owner));
    return l;
}

/* The text of a Slack message, with mrkdwn's three control characters escaped. */
void webhook_slack_escape(const char *in, struct buf *out)
{
    for (; *in; in++) {
        const char *rep = *in == '&' ? "&amp;" : *in == '<' ? "&lt;" : *in == '>' ? "&gt;" : NULL;
        if (rep != NULL)
            buf_append_str(out, rep, NULL);
        else
            buf_append(out, in, 1, NULL);
    }
}

static char *slack_body(const char *type, const struct audit_event *ev)
{
    struct buf t;
    buf_init(&t, 0);
    buf_printf(&t, NULL, "stated %s: ", type);
    webhook_slack_escape(ev->state, &t);
    if (ev->actor[0] != '\0') {
        buf_append_str(&t, " by ", NULL);
        webhook_slack_escape(ev->actor, &t);
    }
    if (ev->has_serial)
        buf_printf(&t, NULL, " (serial %llu)", (unsigned long long)ev->serial);
    if (ev->lock_who[0] != '\0') {
        buf_append_str(&t, ", lock held by ", NULL);
        webhook_slack_escape(ev->lock_who, &t);
    }
    buf_append(&t, "", 1, NULL);
    json_t *o = json_pack("{s:o}", "text", jstr(t.data));
    buf_cleanup(&t);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

char *webhook_body(const struct webhook *w, uint64_t seq, const struct audit_event *ev)
{
    const char *type = webhook_event_type(ev);
    if (type == NULL)
        return NULL;
    if (w->slack)
        return slack_body(type, ev);
    char id[WEBHOOK_ID_MAX], t[32];
    webhook_delivery_id(w, seq, id);
    time_format_rfc3339(ev->time_us, t);
    json_t *o = json_object();
    json_object_set_new(o, "id", jstr(id));
    json_object_set_new(o, "type", jstr(type));
    json_object_set_new(o, "time", jstr(t));
    json_object_set_new(o, "state", jstr(ev->state));
    json_object_set_new(o, "actor", jstr(ev->actor));
    json_object_set_new(o, "serial",
                        ev->has_serial ? json_integer((json_int_t)ev->serial) : json_null());
    json_object_set_new(o, "snapshot", ev->sha256[0] ? jstr(ev->sha256) : json_null());
    json_object_set_new(o, "lock", lock_json(ev));
    json_object_set_new(o, "detail", jstr(ev->detail));
    json_object_set_new(o, "audit_seq", json_integer((json_int_t)seq));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

void webhook_sign(const char *secret, int64_t ts, const char *body, size_t len,
                  char out[WEBHOOK_SIG_MAX])
{
    char prefix[24];
    int n = snprintf(prefix, sizeof(prefix), "%lld.", (long long)ts);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    /* HMAC over TIMESTAMP "." BODY without copying the body. */
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(m);
    static char digest[] = "SHA256";
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                      OSSL_PARAM_construct_end()};
    size_t ml = 0;
    EVP_MAC_init(c, (const unsigned char *)secret, strlen(secret), p);
    EVP_MAC_update(c, (const unsigned char *)prefix, (size_t)n);
    EVP_MAC_update(c, (const unsigned char *)body, len);
    EVP_MAC_final(c, mac, &ml, sizeof(mac));
    maclen = (unsigned)ml;
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(m);
    memcpy(out, "sha256=", 7);
    hex_encode(mac, maclen, out + 7);
}

int64_t webhook_backoff_ms(unsigned attempt, uint64_t rnd)
{
    int64_t d = WEBHOOK_BACKOFF_CAP_MS;
    if (attempt >= 1 && attempt <= 22)
        d = (int64_t)1000 << (attempt - 1);
    if (d > WEBHOOK_BACKOFF_CAP_MS)
        d = WEBHOOK_BACKOFF_CAP_MS;
    /* Jitter in [d/2, d]: receivers coming back up are not hit by every sender at once. */
    return d / 2 + (int64_t)(rnd % (uint64_t)(d / 2 + 1));
}
