/* backend/webhooks.c: the delivery thread. The audit trail is the outbox (every event a
 * webhook carries was made durable by its request), so a webhook is only a cursor over it plus
 * the record of recent deliveries, both kept in DATA_DIR/webhooks.state.json (rewritten
 * atomically after each outcome). Events are delivered one at a time per webhook in seq order:
 * a later event waits while an earlier one is retried, so receivers see each state's history
 * in order. A crash between a 2xx and the rewrite delivers that event again (at least once;
 * the delivery id lets receivers drop the repeat). */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "backend/backend.h"
#include "common/file.h"
#include "common/log.h"
#include "common/metrics.h"

#define PAGE           200  /* events read per call: memory is bounded, the trail is durable */
#define RECORDS_MAX    200  /* deliveries remembered per webhook */
#define REDELIVER_MAX  32   /* queued redeliveries per webhook */
#define BACKLOG_WARN   1000 /* events behind before the log warns (once a minute) */
#define STALE_EVERY_US (10 * 1000000LL)
#define STALE_MAX      1024             /* lock ids remembered as reported */
#define LEASE_US       (30 * 1000000LL) /* a crashed deliverer's webhooks move on after this */

struct record {
    char id[WEBHOOK_ID_MAX];
    uint64_t seq;
    char type[32];
    char state[1040];
    int64_t time_us;
    unsigned attempts;
    long status; /* last HTTP status, 0 when none came */
    bool ok;
    char error[128];
};

struct hook {
    const struct webhook *w;
    uint64_t cursor; /* every event <= cursor is done with */
    uint64_t backlog;
    /* the event being tried */
    uint64_t try_seq;
    unsigned attempts;
    int64_t first_try_us, next_try_us;
    long last_status;
    struct record rec[RECORDS_MAX]; /* ring, newest at (nrec-1) % RECORDS_MAX */
    size_t nrec;
    bool mine; /* shared lock store: this instance holds the webhook's lease */
    uint64_t redeliver[REDELIVER_MAX];
    size_t nredeliver;
    int64_t warned_us;
};

struct webhooks {
    struct webhook_list *list;
    struct hook *hooks;
    struct auditlog *al;
    struct lockstore *ls;
    char *path;
    char owner[128]; /* this instance, in shared leases */
    int64_t stale_after_us, stale_checked_us;
    char *stale[STALE_MAX]; /* "STATE\nLOCKID" reported as stale */
    size_t nstale;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping, started;
    pthread_t thread;
    CURL *curl;
};

static struct metric m_backlog = {.name = "stated_webhook_backlog",
                                  .help = "Audit events after a webhook's cursor, not yet handled.",
                                  .type = METRIC_GAUGE,
                                  .labels = {"webhook"}};
static struct metric m_deliveries = {
    .name = "stated_webhook_deliveries_total",
    .help = "Webhook delivery attempts by result: delivered, retried, failed (given up).",
    .type = METRIC_COUNTER,
    .labels = {"result"}};

/* ------------------------------------------------------------------ durable state */

static json_t *record_json(const struct record *r)
{
    char t[32];
    time_format_rfc3339(r->time_us, t);
    return json_pack("{s:s,s:I,s:s,s:s,s:s,s:i,s:i,s:s,s:s}", "id", r->id, "seq",
                     (json_int_t)r->seq, "type", r->type, "state", r->state, "time", t, "attempts",
                     (int)r->attempts, "status", (int)r->status, "result",
                     r->ok ? "delivered" : "failed", "error", r->error);
}

static void save(struct webhooks *wh)
{
    if (wh->list->n == 0 && wh->nstale == 0 && access(wh->path, F_OK) != 0)
        return; /* nothing to remember: no file in data dirs that never had webhooks */
    json_t *root = json_object(), *hooks = json_object(), *stale = json_array();
    for (size_t i = 0; i < wh->list->n; i++) {
        struct hook *h = &wh->hooks[i];
        json_t *recs = json_array();
        size_t first = h->nrec > RECORDS_MAX ? h->nrec - RECORDS_MAX : 0;
        for (size_t k = first; k < h->nrec; k++)
            json_array_append_new(recs, record_json(&h->rec[k % RECORDS_MAX]));
        json_object_set_new(
            hooks, h->w->name,
            json_pack("{s:I,s:o}", "cursor", (json_int_t)h->cursor, "deliveries", recs));
    }
    for (size_t k = 0; k < wh->nstale; k++)
        json_array_append_new(stale, json_string(wh->stale[k]));
    json_object_set_new(root, "webhooks", hooks);
    json_object_set_new(root, "stale_locks", stale);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    struct file_write_opts how = {.mode = 0600, .durable = true, .code = ERR_UNAVAILABLE};
    struct err e = {0};
    if (s == NULL || file_write_atomic(wh->path, s, strlen(s), "\n", 1, &how, &e) != 0)
        log_error("webhooks: cannot save %s: %s", wh->path, e.msg);
    free(s);
}

static const char *jget(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

static void load_records(struct hook *h, json_t *recs)
{
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        struct record *x = &h->rec[h->nrec++ % RECORDS_MAX];
        memset(x, 0, sizeof(*x));
        snprintf(x->id, sizeof(x->id), "%s", jget(r, "id"));
        x->seq = (uint64_t)json_integer_value(json_object_get(r, "seq"));
        snprintf(x->type, sizeof(x->type), "%s", jget(r, "type"));
        snprintf(x->state, sizeof(x->state), "%s", jget(r, "state"));
        time_parse_rfc3339(jget(r, "time"), &x->time_us);
        x->attempts = (unsigned)json_integer_value(json_object_get(r, "attempts"));
        x->status = (long)json_integer_value(json_object_get(r, "status"));
        const char *res = json_string_value(json_object_get(r, "result"));
        x->ok = res != NULL && strcmp(res, "delivered") == 0;
        snprintf(x->error, sizeof(x->error), "%s", jget(r, "error"));
    }
}

/* A webhook new to the file starts at the trail's head: it is told what happens from now on,
 * not the whole history. */
static int load(struct webhooks *wh, uint64_t head, struct err *err)
{
    struct buf b;
    buf_init(&b, 0);
    json_t *root = NULL;
    struct err fe = {0};
    if (file_read(wh->path, &b, &fe) == 0) {
        json_error_t je;
        root = json_loadb(b.data, b.len, 0, &je);
        if (root == NULL) {
            buf_cleanup(&b);
            return err_set(err, ERR_INVALID, "%s: %s", wh->path, je.text);
        }
    }
    buf_cleanup(&b);
    json_t *hooks = json_object_get(root, "webhooks");
    for (size_t i = 0; i < wh->list->n; i++) {
        json_t *o = json_object_get(hooks, wh->hooks[i].w->name);
        wh->hooks[i].cursor = o ? (uint64_t)json_integer_value(json_object_get(o, "cursor")) : head;
        load_records(&wh->hooks[i], json_object_get(o, "deliveries"));
    }
    size_t k;
    json_t *s;
    json_array_foreach(json_object_get(root, "stale_locks"), k, s)
    {
        if (wh->nstale < STALE_MAX && json_is_string(s))
            wh->stale[wh->nstale++] = xstrdup(json_string_value(s));
    }
    json_decref(root);
    return 0;
}

/* ------------------------------------------------------------------ one POST */

/* Checked at connect time, on the address curl is about to use: a name that resolved to a
 * public address when the configuration was checked cannot be rebound to a metadata one. */
static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
    const struct hook *h = ctx;
    const struct webhook *w = h->w;
    char ip[INET6_ADDRSTRLEN] = "";
    if (a->family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&a->addr)->sin_addr, ip, sizeof(ip));
    else if (a->family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->addr)->sin6_addr, ip, sizeof(ip));
    if (!w->allow_private && (ip[0] == '\0' || webhook_address_forbidden(ip))) {
        log_warn("webhook %s: refused to connect to %s (link-local or metadata address)", w->name,
                 ip);
        return CURL_SOCKET_BAD;
    }
    (void)purpose;
    return socket(a->family, a->socktype, a->protocol);
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* POSTs one event: the HTTP status, 0 when none came (error in err_out). */
static long post(struct webhooks *wh, struct hook *h, uint64_t seq, const struct audit_event *ev,
                 char err_out[128])
{
    const struct webhook *w = h->w;
    char *body = webhook_body(w, seq, ev);
    char id[WEBHOOK_ID_MAX], sig[WEBHOOK_SIG_MAX], hdr[4][160];
    int64_t ts = now_us() / 1000000;
    webhook_delivery_id(w, seq, id);
    webhook_sign(w->secret, ts, body, strlen(body), sig);
    snprintf(hdr[0], sizeof(hdr[0]), "X-Stated-Event: %s", webhook_event_type(ev));
    snprintf(hdr[1], sizeof(hdr[1]), "X-Stated-Delivery: %s", id);
    snprintf(hdr[2], sizeof(hdr[2]), "X-Stated-Timestamp: %lld", (long long)ts);
    snprintf(hdr[3], sizeof(hdr[3]), "X-Stated-Signature-256: %s", sig);
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    for (int k = 0; k < 4; k++)
        hl = curl_slist_append(hl, hdr[k]);
    CURL *c = wh->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, w->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "stated-webhook");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err_out, 128, "%s", curl_easy_strerror(rc));
    if (rc == CURLE_OK && (status < 200 || status > 299))
        snprintf(err_out, 128, "HTTP %ld", status);
    curl_slist_free_all(hl);
    free(body);
    return status;
}

/* ------------------------------------------------------------------ the cursor */

struct page {
    const struct webhook *w;
    uint64_t skip_to; /* the last event read that the webhook does not want */
    uint64_t seq;     /* the first it wants, 0 when none */
    struct audit_event ev;
};

static int page_cb(void *ctx, uint64_t seq, const struct audit_event *ev)
{
    struct page *p = ctx;
    if (!webhook_wants(p->w, webhook_event_type(ev), ev->state)) {
        p->skip_to = seq;
        return 0;
    }
    p->seq = seq;
    p->ev = *ev;
    return 1;
}

static void remember(struct hook *h, uint64_t seq, const struct audit_event *ev, long status,
                     bool ok, const char *error)
{
    struct record *r = &h->rec[h->nrec++ % RECORDS_MAX];
    memset(r, 0, sizeof(*r));
    webhook_delivery_id(h->w, seq, r->id);
    r->seq = seq;
    snprintf(r->type, sizeof(r->type), "%s", webhook_event_type(ev));
    snprintf(r->state, sizeof(r->state), "%s", ev->state);
    r->time_us = now_us();
    r->attempts = h->attempts;
    r->status = status;
    r->ok = ok;
    snprintf(r->error, sizeof(r->error), "%s", error);
}

static void share(struct webhooks *wh, struct hook *h, uint64_t cursor);

/* One try of the event at seq. Called without wh->mu (the POST takes up to 10 s). */
static void try_event(struct webhooks *wh, struct hook *h, uint64_t seq,
                      const struct audit_event *ev, bool redelivery)
{
    char error[128] = "";
    long status = post(wh, h, seq, ev, error);
    bool ok = status >= 200 && status <= 299;
    int64_t now = now_us();
    pthread_mutex_lock(&wh->mu);
    if (redelivery) {
        h->attempts = 1;
        remember(h, seq, ev, status, ok, error);
    } else {
        if (h->try_seq != seq) {
            h->try_seq = seq;
            h->attempts = 0;
            h->first_try_us = now;
        }
        h->attempts++;
        h->last_status = status;
        bool give_up = !ok && now - h->first_try_us >= WEBHOOK_GIVE_UP_MS * 1000;
        if (ok || give_up) {
            remember(h, seq, ev, status, ok, error);
            h->cursor = seq;
            h->try_seq = 0;
            h->next_try_us = 0;
            if (give_up)
                log_error("webhook %s: gave up on delivery %llu-%s after %u tries: %s", h->w->name,
                          (unsigned long long)seq, h->w->name, h->attempts, error);
        } else {
            uint64_t rnd;
            random_bytes(&rnd, sizeof(rnd));
            h->next_try_us = now + webhook_backoff_ms(h->attempts, rnd) * 1000;
            log_warn("webhook %s: delivery %llu-%s failed (%s), try %u, retrying", h->w->name,
                     (unsigned long long)seq, h->w->name, error, h->attempts);
        }
    }
    metric_inc_l(&m_deliveries, ok                              ? "delivered"
                                : redelivery || h->try_seq == 0 ? "failed"
                                                                : "retried");
    bool moved = !redelivery && h->try_seq == 0;
    if (ok || redelivery || h->try_seq == 0)
        save(wh);
    pthread_mutex_unlock(&wh->mu);
    if (moved)
        share(wh, h, seq);
}

static void note_backlog(struct hook *h, uint64_t head)
{
    h->backlog = head > h->cursor ? head - h->cursor : 0;
    metric_set_l(&m_backlog, (double)h->backlog, h->w->name);
    int64_t now = now_us();
    if (h->backlog > BACKLOG_WARN && now - h->warned_us > 60 * 1000000LL) {
        h->warned_us = now;
        log_warn("webhook %s: %llu audit events behind (cursor %llu, head %llu)", h->w->name,
                 (unsigned long long)h->backlog, (unsigned long long)h->cursor,
                 (unsigned long long)head);
    }
}

/* With a shared lock store only the lease holder delivers a webhook; the cursor is the shared
 * one, which the previous holder may have moved. Without one this instance is the only one. */
static bool claim(struct webhooks *wh, struct hook *h)
{
    if (wh->ls->ops->cursor_claim == NULL)
        return true;
    uint64_t cursor = 0;
    bool mine = false;
    struct err e = {0};
    pthread_mutex_lock(&wh->mu);
    uint64_t initial = h->cursor;
    pthread_mutex_unlock(&wh->mu);
    if (wh->ls->ops->cursor_claim(wh->ls, h->w->name, wh->owner, LEASE_US, initial, &cursor, &mine,
                                  &e) != 0) {
        log_warn("webhook %s: cannot claim its lease: %s", h->w->name, e.msg);
        mine = false;
    }
    pthread_mutex_lock(&wh->mu);
    if (mine != h->mine)
        log_info("webhook %s: %s", h->w->name,
                 mine ? "this instance delivers it" : "another instance delivers it");
    if (mine && cursor != h->cursor) {
        h->cursor = cursor;
        h->try_seq = 0; /* whatever this instance was retrying, the cursor says where to go */
    }
    h->mine = mine;
    pthread_mutex_unlock(&wh->mu);
    return mine;
}

/* The shared cursor follows the local one (called without wh->mu: a PostgreSQL round trip). */
static void share(struct webhooks *wh, struct hook *h, uint64_t cursor)
{
    bool kept = true;
    struct err e = {0};
    if (wh->ls->ops->cursor_save == NULL)
        return;
    if (wh->ls->ops->cursor_save(wh->ls, h->w->name, wh->owner, cursor, &kept, &e) != 0)
        log_warn("webhook %s: cannot save its cursor: %s", h->w->name, e.msg);
    else if (!kept)
        log_warn("webhook %s: lease lost before cursor %llu was saved (redelivered later)",
                 h->w->name, (unsigned long long)cursor);
}

/* Advances one webhook by at most one delivery; true when it did something. */
/* With --audit-failure=closed a change's event is appended ahead of the change, and a change
 * that then fails gets a second event of the same request saying it was not applied
 * (backend/ops.c finish). Such an event announces nothing: it is skipped when its follow-up is
 * among the events after it. */
/* One request may leave several ahead events (a move's two names, a LOCK's lock-expired
 * before its own event), so the follow-up must also be of the same action and state. */
struct followup {
    const struct audit_event *ahead;
    bool found;
};

static int followup_cb(void *ctx, uint64_t seq, const struct audit_event *ev)
{
    struct followup *f = ctx;
    (void)seq;
    if (strcmp(ev->request_id, f->ahead->request_id) == 0 &&
        strcmp(ev->action, f->ahead->action) == 0 && strcmp(ev->state, f->ahead->state) == 0 &&
        strncmp(ev->detail, OPS_NOT_APPLIED, strlen(OPS_NOT_APPLIED)) == 0) {
        f->found = true;
        return 1;
    }
    return 0;
}

static bool was_not_applied(struct webhooks *wh, uint64_t seq, const struct audit_event *ev)
{
    struct followup f = {.ahead = ev, .found = false};
    struct err e = {0};
    uint64_t head = 0;
    if (ev->request_id[0] == '\0')
        return false;
    wh->al->ops->read_after(wh->al, seq, PAGE, followup_cb, &f, &head, &e);
    return f.found;
}

static bool step(struct webhooks *wh, struct hook *h)
{
    struct page *p = xcalloc(1, sizeof(*p));
    struct err e = {0};
    uint64_t head = 0, redo = 0;
    bool did = false;
    /* A redelivery asked of this instance is sent by it, lease or not: it moves no cursor. */
    bool mine = claim(wh, h);
    pthread_mutex_lock(&wh->mu);
    if (h->nredeliver > 0) {
        redo = h->redeliver[0];
        memmove(h->redeliver, h->redeliver + 1, --h->nredeliver * sizeof(h->redeliver[0]));
    }
    bool waiting = h->try_seq != 0 && now_us() < h->next_try_us;
    uint64_t after = redo != 0 ? redo - 1 : h->cursor;
    pthread_mutex_unlock(&wh->mu);
    if (redo == 0 && (waiting || !mine))
        goto out;
    p->w = h->w;
    int rc = wh->al->ops->read_after(wh->al, after, redo != 0 ? 1 : PAGE, page_cb, p, &head, &e);
    if (rc < 0) {
        log_warn("webhook %s: cannot read the audit trail: %s", h->w->name, e.msg);
        goto out;
    }
    if (redo != 0) {
        if (p->seq == redo)
            try_event(wh, h, redo, &p->ev, true);
        did = true;
        goto out;
    }
    pthread_mutex_lock(&wh->mu);
    uint64_t moved = 0;
    if (p->skip_to > h->cursor && (p->seq == 0 || p->skip_to < p->seq)) {
        h->cursor = moved = p->skip_to;
        did = true;
        if (p->seq == 0)
            save(wh);
    }
    note_backlog(h, head);
    pthread_mutex_unlock(&wh->mu);
    if (moved != 0 && p->seq == 0)
        share(wh, h, moved);
    if (p->seq != 0 && was_not_applied(wh, p->seq, &p->ev)) {
        pthread_mutex_lock(&wh->mu);
        h->cursor = p->seq;
        save(wh);
        pthread_mutex_unlock(&wh->mu);
        share(wh, h, p->seq);
        did = true;
    } else if (p->seq != 0) {
        try_event(wh, h, p->seq, &p->ev, false);
        did = true;
    }
out:
    free(p);
    return did;
}

/* ------------------------------------------------------------------ stale locks */

static bool stale_known(struct webhooks *wh, const char *key)
{
    for (size_t k = 0; k < wh->nstale; k++)
        if (strcmp(wh->stale[k], key) == 0)
            return true;
    return false;
}

static void stale_event(struct webhooks *wh, const char *state, const struct lock_holder *h)
{
    struct audit_event ev;
    audit_event_init(&ev);
    ev.time_us = now_us();
    snprintf(ev.request_id, sizeof(ev.request_id), "stale-check");
    snprintf(ev.action, sizeof(ev.action), "lock-stale");
    snprintf(ev.state, sizeof(ev.state), "%s", state);
    snprintf(ev.lock_id, sizeof(ev.lock_id), "%s", h->id);
    snprintf(ev.lock_owner, sizeof(ev.lock_owner), "%s", h->owner);
    json_t *info = h->info_json != NULL ? json_loads(h->info_json, 0, NULL) : NULL;
    const char *who = json_string_value(lock_info_field(info, "Who"));
    const char *op = json_string_value(lock_info_field(info, "Operation"));
    snprintf(ev.lock_who, sizeof(ev.lock_who), "%s", who ? who : "");
    snprintf(ev.lock_operation, sizeof(ev.lock_operation), "%s", op ? op : "");
    json_decref(info);
    snprintf(ev.detail, sizeof(ev.detail), "held for %llds",
             (long long)((ev.time_us - h->created_us) / 1000000));
    ev.status = 200;
    struct err e = {0};
    bool ok = wh->al->ops->append(wh->al, &ev, &e) == 0;
    audit_count_append(ok);
    if (!ok)
        log_error("webhooks: cannot record stale lock %s on %s: %s", h->id, state, e.msg);
}

struct stale_walk {
    struct webhooks *wh;
    char *seen[STALE_MAX]; /* the stale keys still held: what stays remembered */
    size_t nseen;
    bool changed;
};

static int stale_cb(void *ctx, const struct lock_entry *le)
{
    struct stale_walk *s = ctx;
    struct webhooks *wh = s->wh;
    if (now_us() - le->holder->created_us < wh->stale_after_us || s->nseen >= STALE_MAX)
        return 0;
    char *key = xasprintf("%s\n%s", le->state, le->holder->id);
    bool first = true;
    struct err e = {0};
    if (!stale_known(wh, key) && wh->ls->ops->report_once != NULL &&
        wh->ls->ops->report_once(wh->ls, le->state, le->holder->id, &first, &e) != 0) {
        log_warn("webhooks: stale-lock check: %s", e.msg);
        free(key);
        return 0; /* tried again at the next check */
    }
    if (!stale_known(wh, key) && first) {
        stale_event(wh, le->state, le->holder);
        s->changed = true;
    }
    s->seen[s->nseen++] = key;
    return 0;
}

/* Once per lease: the lock IDs already reported are kept (in the state file) as long as they
 * are held, so a restart does not report them again. */
static void stale_check(struct webhooks *wh)
{
    struct stale_walk *s = xcalloc(1, sizeof(*s));
    s->wh = wh;
    struct err e = {0};
    if (wh->ls->ops->list(wh->ls, stale_cb, s, &e) != 0) {
        log_warn("webhooks: stale-lock check: %s", e.msg);
        for (size_t k = 0; k < s->nseen; k++)
            free(s->seen[k]);
        free(s);
        return;
    }
    pthread_mutex_lock(&wh->mu);
    s->changed = s->changed || s->nseen != wh->nstale;
    for (size_t k = 0; k < wh->nstale; k++)
        free(wh->stale[k]);
    memcpy(wh->stale, s->seen, s->nseen * sizeof(s->seen[0]));
    wh->nstale = s->nseen;
    if (s->changed)
        save(wh);
    pthread_mutex_unlock(&wh->mu);
    free(s);
}

/* ------------------------------------------------------------------ the thread */

static void *run(void *arg)
{
    struct webhooks *wh = arg;
    for (;;) {
        bool busy = false;
        if (now_us() - wh->stale_checked_us >= STALE_EVERY_US) {
            wh->stale_checked_us = now_us();
            stale_check(wh);
        }
        for (size_t i = 0; i < wh->list->n; i++)
            busy = step(wh, &wh->hooks[i]) || busy;
        pthread_mutex_lock(&wh->mu);
        if (!busy && !wh->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 500 * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&wh->cv, &wh->mu, &ts);
        }
        bool stop = wh->stopping;
        pthread_mutex_unlock(&wh->mu);
        if (stop)
            return NULL;
    }
}

/* What the start reads: only the trail's head (no event is after seq 2^63-1). */
static int head_only(void *ctx, uint64_t seq, const struct audit_event *ev)
{
    (void)ctx;
    (void)seq;
    (void)ev;
    return 1;
}

struct webhooks *webhooks_start(struct webhook_list *l, struct auditlog *al, struct lockstore *ls,
                                const char *data_dir, int64_t stale_after_ms, struct err *err)
{
    if (al->ops->read_after == NULL) {
        err_set(err, ERR_INVALID, "webhooks: the %s audit driver cannot be read", al->ops->kind);
        return NULL;
    }
    metrics_register(&m_backlog);
    metrics_register(&m_deliveries);
    metric_touch_l(&m_deliveries, "delivered");
    metric_touch_l(&m_deliveries, "retried");
    metric_touch_l(&m_deliveries, "failed");
    struct webhooks *wh = xcalloc(1, sizeof(*wh));
    wh->list = l != NULL ? l : xcalloc(1, sizeof(*l));
    wh->hooks = xcalloc(wh->list->n + 1, sizeof(*wh->hooks));
    for (size_t i = 0; i < wh->list->n; i++)
        wh->hooks[i].w = &wh->list->v[i];
    wh->al = al;
    wh->ls = ls;
    wh->path = xasprintf("%s/webhooks.state.json", data_dir);
    wh->stale_after_us = stale_after_ms * 1000;
    char host[64] = "";
    gethostname(host, sizeof(host) - 1);
    uint32_t rnd;
    random_bytes(&rnd, sizeof(rnd));
    snprintf(wh->owner, sizeof(wh->owner), "%s/%d/%08x", host, (int)getpid(), rnd);
    wh->stale_checked_us = now_us(); /* the first check one period after start */
    pthread_mutex_init(&wh->mu, NULL);
    pthread_cond_init(&wh->cv, NULL);
    uint64_t head = 0;
    int rc = al->ops->read_after(al, (uint64_t)INT64_MAX, 1, head_only, NULL, &head, err);
    if (rc < 0 || load(wh, head, err) != 0 || (wh->curl = curl_easy_init()) == NULL) {
        if (err->code == ERR_OK)
            err_set(err, ERR_INTERNAL, "webhooks: curl_easy_init failed");
        webhooks_stop(wh);
        return NULL;
    }
    for (size_t i = 0; i < wh->list->n; i++) {
        note_backlog(&wh->hooks[i], head);
        log_info("webhook %s: %s, events after audit seq %llu", wh->list->v[i].name,
                 wh->list->v[i].host, (unsigned long long)wh->hooks[i].cursor);
    }
    save(wh);
    if (pthread_create(&wh->thread, NULL, run, wh) != 0) {
        err_set(err, ERR_INTERNAL, "webhooks: cannot start the thread");
        webhooks_stop(wh);
        return NULL;
    }
    wh->started = true;
    return wh;
}

void webhooks_stop(struct webhooks *wh)
{
    if (wh == NULL)
        return;
    if (wh->started) {
        pthread_mutex_lock(&wh->mu);
        wh->stopping = true;
        pthread_cond_signal(&wh->cv);
        pthread_mutex_unlock(&wh->mu);
        pthread_join(wh->thread, NULL);
    }
    if (wh->curl != NULL)
        curl_easy_cleanup(wh->curl);
    for (size_t k = 0; k < wh->nstale; k++)
        free(wh->stale[k]);
    pthread_mutex_destroy(&wh->mu);
    pthread_cond_destroy(&wh->cv);
    webhooks_list_free(wh->list);
    free(wh->hooks);
    free(wh->path);
    free(wh);
}

/* ------------------------------------------------------------------ the admin API's */

static struct hook *find(struct webhooks *wh, const char *name, struct err *err)
{
    for (size_t i = 0; wh != NULL && i < wh->list->n; i++)
        if (strcmp(wh->hooks[i].w->name, name) == 0)
            return &wh->hooks[i];
    err_set(err, ERR_NOT_FOUND, "no webhook named %s", name);
    return NULL;
}

json_t *webhooks_list_json(struct webhooks *wh)
{
    json_t *a = json_array();
    if (wh == NULL)
        return a;
    pthread_mutex_lock(&wh->mu);
    for (size_t i = 0; i < wh->list->n; i++) {
        struct hook *h = &wh->hooks[i];
        json_t *ev = json_array();
        for (size_t k = 0; k < h->w->nevents; k++)
            json_array_append_new(ev, json_string(h->w->events[k]));
        json_t *o = json_pack("{s:s,s:s,s:o,s:s,s:s,s:I,s:I}", "name", h->w->name, "host",
                              h->w->host, "events", ev, "states", h->w->states, "format",
                              h->w->slack ? "slack" : "json", "cursor", (json_int_t)h->cursor,
                              "backlog", (json_int_t)h->backlog);
        json_object_set_new(o, "last_delivery",
                            h->nrec > 0 ? record_json(&h->rec[(h->nrec - 1) % RECORDS_MAX])
                                        : json_null());
        json_object_set_new(
            o, "retrying",
            h->try_seq != 0 ? json_pack("{s:I,s:i,s:i}", "seq", (json_int_t)h->try_seq, "attempts",
                                        (int)h->attempts, "status", (int)h->last_status)
                            : json_null());
        json_array_append_new(a, o);
    }
    pthread_mutex_unlock(&wh->mu);
    return a;
}

json_t *webhooks_deliveries_json(struct webhooks *wh, const char *name, bool failed_only,
                                 struct err *err)
{
    struct hook *h = find(wh, name, err);
    if (h == NULL)
        return NULL;
    json_t *a = json_array();
    pthread_mutex_lock(&wh->mu);
    size_t first = h->nrec > RECORDS_MAX ? h->nrec - RECORDS_MAX : 0;
    for (size_t k = h->nrec; k > first; k--) { /* newest first */
        const struct record *r = &h->rec[(k - 1) % RECORDS_MAX];
        if (!failed_only || !r->ok)
            json_array_append_new(a, record_json(r));
    }
    pthread_mutex_unlock(&wh->mu);
    return a;
}

/* Any delivery still remembered may be sent again (the same id: receivers deduplicate). */
int webhooks_redeliver(struct webhooks *wh, const char *name, const char *id, struct err *err)
{
    struct hook *h = find(wh, name, err);
    if (h == NULL)
        return -1;
    int rc = err_set(err, ERR_NOT_FOUND, "webhook %s has no delivery %s", name, id);
    pthread_mutex_lock(&wh->mu);
    size_t first = h->nrec > RECORDS_MAX ? h->nrec - RECORDS_MAX : 0;
    for (size_t k = first; k < h->nrec; k++) {
        const struct record *r = &h->rec[k % RECORDS_MAX];
        if (strcmp(r->id, id) != 0)
            continue;
        if (h->nredeliver >= REDELIVER_MAX) {
            rc = err_set(err, ERR_UNAVAILABLE, "webhook %s: too many redeliveries queued", name);
        } else {
            h->redeliver[h->nredeliver++] = r->seq;
            pthread_cond_signal(&wh->cv);
            *err = (struct err){0};
            rc = 0;
        }
        break;
    }
    pthread_mutex_unlock(&wh->mu);
    return rc;
}
