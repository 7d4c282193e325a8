/* backend/ops.c: the state operations, each written once (backend.h "state operations").
 *
 * An operation is what a client or an operator asks of one state: read, write, delete,
 * restore, lock, unlock, force-unlock. Each one here
 *
 *   1. checks the actor's role and state pattern (403 otherwise),
 *   2. applies the protocol's rules: a write needs the live lease's ID or no live lease; LOCK
 *      by the holder's ID again renews; an expired lease is free and taken over; UNLOCK
 *      compares the ID only; a byte-identical re-write is a no-op; a restore's serial is one
 *      above the current and the snapshot's,
 *   3. calls the store and the lock store,
 *   4. and records one audit event built from its own result (never from an HTTP response).
 *
 * Writes go through one step, commit_state: the lease check (which renews the writer's lease)
 * immediately followed by the store write, so the state write of the protocol and the admin
 * restore cannot drift apart. The HTTP routes (route_state.c) and the admin API
 * (route_admin.c) only turn requests into struct op_request and results into responses. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend/backend.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/statejson.h"
#include "common/utf8.h"
#include "common/util.h"

#define LOCK_BODY_MAX (64 * 1024)

/* ------------------------------------------------------------------ results and events */

void op_result_init(struct op_result *res)
{
    memset(res, 0, sizeof(*res));
    lock_result_init(&res->lock);
}

void op_result_cleanup(struct op_result *res)
{
    lock_result_cleanup(&res->lock);
    blob_unref(res->data);
    res->data = NULL;
}

int op_status(const struct op_result *res)
{
    return res->err.code == ERR_OK ? 200 : err_http_status(res->err.code);
}

void ops_event_init(const struct op_actor *a, struct audit_event *ev, const char *action)
{
    audit_event_init(ev);
    ev->time_us = now_us();
    snprintf(ev->request_id, sizeof(ev->request_id), "%s", a->request_id);
    snprintf(ev->actor, sizeof(ev->actor), "%s", a->who != NULL ? a->who->name : "");
    snprintf(ev->username, sizeof(ev->username), "%s", a->who != NULL ? a->who->username : "");
    snprintf(ev->remote, sizeof(ev->remote), "%s", a->remote);
    snprintf(ev->peer, sizeof(ev->peer), "%s", a->peer != NULL ? a->peer : "");
    snprintf(ev->action, sizeof(ev->action), "%s", action);
    if (a->who != NULL) {
        snprintf(ev->issuer, sizeof(ev->issuer), "%s", a->who->issuer);
        snprintf(ev->subject, sizeof(ev->subject), "%s", a->who->subject);
        snprintf(ev->jti, sizeof(ev->jti), "%s", a->who->jti);
    }
}

/* What the operations count (docs/metrics.md); ops_metrics_register adds them. */
static struct metric m_conflicts = {
    .name = "stated_lock_conflicts_total",
    .help = "LOCK requests refused (423) because another ID holds the lease.",
    .type = METRIC_COUNTER};
static struct metric m_expired = {.name = "stated_lock_expired_total",
                                  .help = "Expired leases taken over by a new LOCK (or a move).",
                                  .type = METRIC_COUNTER};
static struct metric m_force = {
    .name = "stated_force_unlocks_total",
    .help = "Leases released without their holder's ID: client force-unlocks "
            "and the admin API's.",
    .type = METRIC_COUNTER};
void ops_metrics_register(void)
{
    metrics_register(&m_conflicts);
    metrics_register(&m_expired);
    metrics_register(&m_force);
}

int ops_audit(const struct ops *o, struct audit_event *ev, bool deferred)
{
    struct err e = {0};
    /* Reads and refused requests changed nothing: their events need not wait for the disk
     * flush (audit.h), which keeps GET throughput off the fdatasync path. */
    ev->deferred_sync = deferred;
    if (o->audit == NULL)
        return 0;
    bool ok = o->audit->ops->append(o->audit, ev, &e) == 0;
    audit_count_append(ok);
    if (ok)
        return 0;
    const struct log_field f[] = {LOG_STR("req_id", ev->request_id), LOG_STR("component", "audit"),
                                  LOG_STR("event", "append-failed")};
    if (o->audit_closed) {
        log_fields(LOG_ERROR, f, 3, "req=%s audit append failed (%s), request refused: %s",
                   ev->request_id, ev->action, e.msg);
        return -1;
    }
    log_fields(LOG_WARN, f, 3,
               "req=%s audit append failed (%s), answered anyway (--audit-failure=open): "
               "this event is lost: %s",
               ev->request_id, ev->action, e.msg);
    return 0;
}

/* The refusal of closed mode: the change's event could not be made durable. */
static int refuse_err(struct err *err)
{
    return err_set(err, ERR_UNAVAILABLE,
                   "the audit trail is unavailable: request refused, nothing changed "
                   "(--audit-failure=closed)");
}

static void refuse_unaudited(struct op_result *res)
{
    res->audit_refused = true;
    refuse_err(&res->err);
}

/* The closed-mode rule, written once for every change (state writes, lock releases, lease
 * takeovers, moves, the admin API's token and webhook changes): right before the change, its
 * event is appended as the change will be when it succeeds (status) and made durable, so no
 * change is ever visible without its event. A failure stops the change before anything
 * changed. ops_audit_after then appends a second event when the change did not happen. Open
 * mode appends only after the change, as the event then carries the change's own result. */
int ops_audit_ahead(const struct ops *o, struct audit_event *ev, int status, bool *ahead,
                    struct err *err)
{
    *ahead = false;
    if (!o->audit_closed || o->audit == NULL)
        return 0;
    ev->status = status;
    if (ops_audit(o, ev, false) != 0)
        return refuse_err(err);
    *ahead = true;
    return 0;
}

int ops_audit_after(const struct ops *o, struct audit_event *ev, bool ahead, bool applied,
                    int status, const struct err *outcome, bool deferred)
{
    if (ahead && applied)
        return 0; /* the event went ahead of the change */
    const char *why = outcome->code == ERR_OK   ? NULL
                      : outcome->msg[0] != '\0' ? outcome->msg
                                                : err_text(outcome->code);
    char was[sizeof(ev->detail)];
    snprintf(was, sizeof(was), "%s", why != NULL ? why : ev->detail);
    /* The second event of a change that went ahead and did not happen: readers skip both. */
    if (ahead)
        snprintf(ev->detail, sizeof(ev->detail), OPS_NOT_APPLIED ": %.200s", was);
    else if (why != NULL && ev->detail[0] == '\0')
        snprintf(ev->detail, sizeof(ev->detail), "%s", was);
    ev->status = status;
    return ops_audit(o, ev, deferred);
}

/* ops_audit_ahead for a state operation: its result says whether it went ahead or was
 * refused. */
static int audit_ahead(const struct ops *o, struct audit_event *ev, struct op_result *res)
{
    if (ops_audit_ahead(o, ev, 200, &res->audited, &res->err) == 0)
        return 0;
    res->audit_refused = true;
    return -1;
}

/* Completes an operation's event from its result and appends it (or, when it went ahead, the
 * "not applied" event of a change that did not happen). A successful operation whose event
 * cannot be recorded is refused (closed mode). */
static int finish(const struct ops *o, struct audit_event *ev, struct op_result *res, bool is_read)
{
    bool ok = res->err.code == ERR_OK;
    if (ops_audit_after(o, ev, res->audited, ok && !res->not_applied, op_status(res), &res->err,
                        is_read || !ok) != 0 &&
        ok)
        refuse_unaudited(res);
    return res->err.code == ERR_OK ? 0 : -1;
}

void ops_audit_refused(const struct ops *o, const struct op_actor *a, const char *action,
                       const char *state, const struct err *why, const char *detail)
{
    struct audit_event ev;
    ops_event_init(a, &ev, action);
    snprintf(ev.state, sizeof(ev.state), "%s", state != NULL ? state : "");
    snprintf(ev.detail, sizeof(ev.detail), "%s",
             detail != NULL        ? detail
             : why->msg[0] != '\0' ? why->msg
                                   : err_text(why->code));
    ev.status = err_http_status(why->code == ERR_OK ? ERR_INTERNAL : why->code);
    ops_audit(o, &ev, true);
}

/* The event of an operation on q->state, with the lock ID it names. */
static void op_event(const struct op_actor *a, const struct op_request *q, const char *action,
                     struct audit_event *ev)
{
    ops_event_init(a, ev, action);
    snprintf(ev->state, sizeof(ev->state), "%s", q->state);
    if (q->lock_id != NULL)
        snprintf(ev->lock_id, sizeof(ev->lock_id), "%s", q->lock_id);
}

/* What a state's metadata records as its writer: "token" or "token/basic-username". */
static void writer_name(const struct op_actor *a, char *out, size_t cap)
{
    if (a->who == NULL)
        snprintf(out, cap, "%s", "");
    else if (a->who->username[0] != '\0')
        snprintf(out, cap, "%s/%s", a->who->name, a->who->username);
    else
        snprintf(out, cap, "%s", a->who->name);
}

/* The role check every operation starts with. verb says what was refused ("read", "change");
 * the message says whether the role or the state pattern stood in the way. */
static bool permitted(const struct op_actor *a, enum auth_action need, const char *state,
                      const char *verb, struct audit_event *ev, struct op_result *res)
{
    if (a->who != NULL && auth_allows(a->who, need, state))
        return true;
    if (a->who == NULL) {
        err_set(&res->err, ERR_FORBIDDEN, "not authenticated: may not %s state '%s'", verb, state);
        return false;
    }
    const char *kind = a->who->issuer[0] != '\0' ? "identity" : "token";
    const char *role = auth_role_name(a->who->role);
    if (!auth_allows(a->who, need, NULL)) {
        snprintf(ev->detail, sizeof(ev->detail), "role %s does not allow this", role);
        err_set(&res->err, ERR_FORBIDDEN, "%s '%s' has role %s, which may not %s states", kind,
                a->who->name, role, verb);
    } else {
        snprintf(ev->detail, sizeof(ev->detail), "state not in the pattern %.200s",
                 a->who->pattern);
        err_set(&res->err, ERR_FORBIDDEN, "%s '%s' may not %s state '%s' (its states: %s)", kind,
                a->who->name, verb, state, a->who->pattern);
    }
    return false;
}

/* A lease conflict: ERR_LOCKED naming the live holder (the detail the events carry). */
static void note_holder(struct audit_event *ev, const struct op_result *res)
{
    if (res->err.code == ERR_LOCKED && res->lock.holder.id[0] != '\0')
        snprintf(ev->detail, sizeof(ev->detail), "held by ID %.200s", res->lock.holder.id);
}

/* True when a live lease was the reason an operation was refused; its message is cleared, for
 * the caller to say what the conflict stopped. */
static bool lease_conflict(struct op_result *res)
{
    if (res->err.code != ERR_LOCKED || res->lock.holder.id[0] == '\0')
        return false;
    err_clear(&res->err);
    return true;
}

static const char *nonempty(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

/* ------------------------------------------------------------------ lock bodies */

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static bool empty_string_field(json_t *obj, const char *key)
{
    json_t *v = lock_info_field(obj, key);
    return v == NULL || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

/* OpenTofu's force-unlock sends LockInfo with only the ID: Created zero or absent and every
 * other field empty. */
static bool only_id_given(json_t *o)
{
    json_t *created = lock_info_field(o, "Created");
    bool created_zero = created == NULL || json_is_null(created) ||
                        (json_is_string(created) &&
                         (json_string_length(created) == 0 ||
                          strncmp(json_string_value(created), "0001-01-01T00:00:00", 19) == 0));
    return created_zero && empty_string_field(o, "Operation") && empty_string_field(o, "Info") &&
           empty_string_field(o, "Who") && empty_string_field(o, "Version") &&
           empty_string_field(o, "Path");
}

/* A string field of lock info, cut at a character boundary to fit ("" when absent or not a
 * string). */
static void copy_claimed(json_t *o, const char *key, char *dst, size_t cap)
{
    const char *v = json_string_value(lock_info_field(o, key));
    utf8_sanitize(dst, cap, v != NULL ? v : "");
}

int lock_body_parse(const char *body, size_t len, struct lock_body *out, struct err *err)
{
    memset(out, 0, sizeof(*out));
    if (body == NULL || is_blank(body, len))
        return err_set(err, ERR_INVALID, "lock body required: lock info JSON with an \"ID\"");
    if (len > LOCK_BODY_MAX)
        return err_set(err, ERR_INVALID, "lock info larger than %d bytes", LOCK_BODY_MAX);
    json_error_t je;
    /* Duplicate keys are refused, as in states: two "ID"s would mean two different locks to
     * different readers. */
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL)
        return err_set(err, ERR_INVALID, "lock info is not valid JSON (line %d: %s)", je.line,
                       je.text);
    int rc = -1;
    json_t *id = lock_info_field(o, "ID");
    if (!json_is_object(o)) {
        err_set(err, ERR_INVALID, "lock info must be a JSON object");
    } else if (!json_is_string(id) || json_string_length(id) == 0) {
        err_set(err, ERR_INVALID, "lock info needs a non-empty string \"ID\"");
    } else if (json_string_length(id) >= LOCK_ID_MAX) {
        err_set(err, ERR_INVALID, "lock \"ID\" longer than %d bytes", LOCK_ID_MAX - 1);
    } else if (memchr(json_string_value(id), '\0', json_string_length(id)) != NULL) {
        err_set(err, ERR_INVALID, "lock \"ID\" contains NUL");
    } else {
        memcpy(out->id, json_string_value(id), json_string_length(id) + 1);
        out->zero_fields = only_id_given(o);
        copy_claimed(o, "Who", out->who, sizeof(out->who));
        copy_claimed(o, "Operation", out->operation, sizeof(out->operation));
        copy_claimed(o, "Info", out->info, sizeof(out->info));
        rc = 0;
    }
    json_decref(o);
    return rc;
}

/* ------------------------------------------------------------------ read */

/* Content-MD5 of recently served states, keyed by the content's SHA-256. Hashing 100 KB twice
 * per GET (MD5 for the header, SHA-256 for the audit event) was most of a GET's CPU time; the
 * SHA-256 is already in the state's metadata, and an entry is found only under that exact
 * SHA-256, so it can only ever describe the same bytes. Direct-mapped: a collision of slots
 * just recomputes. */
#define MD5_SLOTS 64
static struct {
    char sha256[65];
    char md5[25];
} md5_slots[MD5_SLOTS];
static pthread_mutex_t md5_mu = PTHREAD_MUTEX_INITIALIZER;

static void content_md5(const char sha256[65], const void *data, size_t len, char md5[25])
{
    unsigned slot = ((unsigned char)sha256[0] * 31u + (unsigned char)sha256[1]) % MD5_SLOTS;
    pthread_mutex_lock(&md5_mu);
    bool hit = strcmp(md5_slots[slot].sha256, sha256) == 0;
    if (hit)
        memcpy(md5, md5_slots[slot].md5, 25);
    pthread_mutex_unlock(&md5_mu);
    if (hit)
        return;
    md5_base64(data, len, md5);
    pthread_mutex_lock(&md5_mu);
    memcpy(md5_slots[slot].sha256, sha256, 65);
    memcpy(md5_slots[slot].md5, md5, 25);
    pthread_mutex_unlock(&md5_mu);
}

/* The outputs role reads the state reduced to its outputs (statejson_outputs_view): res->data
 * and res->md5 become those bytes' (the event keeps the whole state's hash: the version read). */
static void reduce_to_outputs(struct op_result *res, struct audit_event *ev)
{
    struct buf view;
    buf_init(&view, 0);
    int rc = statejson_outputs_view(res->data->data, res->data->len, &view, &res->err);
    blob_unref(res->data); /* never the whole state, whatever happens */
    res->data = NULL;
    if (rc != 0) {
        buf_cleanup(&view);
        return;
    }
    res->data = blob_from_buf(&view);
    md5_base64(res->data->data, res->data->len, res->md5);
    snprintf(ev->detail, sizeof(ev->detail), "outputs only: %zu bytes sent", res->data->len);
}

int ops_read(const struct ops *o, const struct op_actor *a, const struct op_request *q,
             struct op_result *res)
{
    struct audit_event ev;
    op_event(a, q, "get", &ev);
    bool outputs_only = a->who != NULL && !auth_allows(a->who, AUTH_READ, q->state) &&
                        auth_allows(a->who, AUTH_READ_OUTPUTS, q->state);
    if (!outputs_only && !permitted(a, AUTH_READ, q->state, "read", &ev, res))
        return finish(o, &ev, res, true);
    struct err e = {0};
    if (store_get_shared(o->store, q->state, &res->data, &res->meta, &e) != 0) {
        if (e.code == ERR_NOT_FOUND)
            err_set(&res->err, ERR_NOT_FOUND, "no state named '%s'", q->state);
        else
            res->err = e;
        return finish(o, &ev, res, true);
    }
    const struct blob *b = res->data;
    /* The metadata carries the plaintext's SHA-256 (stored with the object, or rebuilt from
     * the content); hash again only if it does not describe these bytes. */
    if (res->meta.size == b->len && strlen(res->meta.sha256) == 64)
        memcpy(ev.sha256, res->meta.sha256, 65);
    else
        sha256_hex(b->data, b->len, ev.sha256);
    if (res->meta.size == b->len && strlen(res->meta.md5) == 24 &&
        strcmp(res->meta.sha256, ev.sha256) == 0)
        memcpy(res->md5, res->meta.md5, sizeof(res->md5)); /* recorded at write time */
    else
        content_md5(ev.sha256, b->data, b->len, res->md5);
    ev.serial = res->meta.serial;
    ev.has_serial = true;
    snprintf(ev.lineage, sizeof(ev.lineage), "%s", res->meta.lineage);
    ev.size = (int64_t)b->len;
    if (outputs_only)
        reduce_to_outputs(res, &ev);
    return finish(o, &ev, res, true);
}

/* ------------------------------------------------------------------ writes */

/* How a write treats the lease. */
enum lease_rule {
    LEASE_CHECK, /* the live lease's ID, or no live lease when no ID is given (renews it) */
    LEASE_REPORT /* write anyway (restore --force); report a live lease in res->lock.holder */
};

/* The one step every state write takes: the lease check, then the store write. The check
 * renews the writer's lease, so a lease cannot expire between the two unless the write itself
 * takes longer than the lease. */
static int commit_state(const struct ops *o, const char *name, const void *data, size_t len,
                        const struct store_write *w, enum lease_rule rule, const char *lock_id,
                        struct audit_event *ev, struct op_result *res)
{
    struct lockstore *ls = o->locks;
    struct err e = {0};
    if (rule == LEASE_CHECK) {
        if (ls->ops->check_write(ls, name, lock_id, &res->lock, &res->err) != 0)
            return -1;
    } else if (ls->ops->get(ls, name, &res->lock, &e) == 0) {
        res->lock_left = true;
    } else if (e.code != ERR_NOT_FOUND) {
        res->err = e;
        return -1;
    }
    if (audit_ahead(o, ev, res) != 0)
        return -1;
    memset(&res->meta, 0, sizeof(res->meta));
    return store_put(o->store, name, data, len, w, &res->meta, &res->unchanged, &res->err);
}

int ops_check_content_md5(const char *header, const void *body, size_t len, char md5[25],
                          struct err *err)
{
    md5[0] = '\0';
    if (header == NULL)
        return 0;
    const char *v = header;
    size_t vlen = strlen(v);
    while (*v == ' ')
        v++, vlen--;
    while (vlen > 0 && v[vlen - 1] == ' ')
        vlen--;
    md5_base64(body, len, md5);
    if (vlen != 24 || memcmp(v, md5, 24) != 0)
        return err_set(err, ERR_INVALID, "Content-MD5 does not match the body");
    return 0;
}

/* The body of a write must be a state: not empty, not over the limit, Content-MD5 right, a
 * JSON object with numeric serial and string lineage. */
static int check_state_body(const struct ops *o, const struct op_request *q,
                            struct state_summary *sum, char md5[25], struct err *err)
{
    md5[0] = '\0';
    if (q->body == NULL || q->body_len == 0)
        return err_set(err, ERR_INVALID, "empty body: a state write needs the state JSON");
    if (q->body_len > o->max_state_bytes)
        return err_set(err, ERR_TOO_LARGE, "state of %zu bytes is larger than the limit of %llu",
                       q->body_len, (unsigned long long)o->max_state_bytes);
    if (ops_check_content_md5(q->content_md5, q->body, q->body_len, md5, err) != 0)
        return -1;
    return statejson_scan(q->body, q->body_len, sum, err);
}

/* check_state_body, and the event records what the body is: size, serial, lineage, SHA-256. */
static int take_state_body(const struct ops *o, const struct op_request *q,
                           struct state_summary *sum, char md5[25], struct audit_event *ev,
                           struct err *err)
{
    if (q->body != NULL && q->body_len > 0)
        ev->size = (int64_t)q->body_len;
    if (check_state_body(o, q, sum, md5, err) != 0)
        return -1;
    ev->serial = sum->serial;
    ev->has_serial = true;
    snprintf(ev->lineage, sizeof(ev->lineage), "%s", sum->lineage);
    sha256_hex(q->body, q->body_len, ev->sha256);
    return 0;
}

int ops_write(const struct ops *o, const struct op_actor *a, const struct op_request *q,
              struct op_result *res)
{
    struct audit_event ev;
    struct state_summary sum;
    char md5[25], writer[256];
    op_event(a, q, "write", &ev);
    if (!permitted(a, AUTH_WRITE, q->state, "change", &ev, res))
        return finish(o, &ev, res, false);
    if (take_state_body(o, q, &sum, md5, &ev, &res->err) != 0)
        return finish(o, &ev, res, false);
    writer_name(a, writer, sizeof(writer));
    struct store_write w = {.serial = sum.serial,
                            .lineage = sum.lineage,
                            .writer = writer,
                            .sha256 = ev.sha256,
                            .md5 = md5[0] != '\0' ? md5 : NULL};
    if (commit_state(o, q->state, q->body, q->body_len, &w, LEASE_CHECK, nonempty(q->lock_id), &ev,
                     res) != 0) {
        note_holder(&ev, res);
        return finish(o, &ev, res, false);
    }
    if (res->unchanged)
        snprintf(ev.detail, sizeof(ev.detail), "identical to the current state: no snapshot");
    else
        snprintf(ev.detail, sizeof(ev.detail), "snapshot %s", res->meta.snapshot);
    return finish(o, &ev, res, false);
}

int ops_delete(const struct ops *o, const struct op_actor *a, const struct op_request *q,
               struct op_result *res)
{
    struct audit_event ev;
    op_event(a, q, "delete", &ev);
    if (!permitted(a, AUTH_WRITE, q->state, "change", &ev, res))
        return finish(o, &ev, res, false);
    struct lockstore *ls = o->locks;
    if (ls->ops->check_write(ls, q->state, nonempty(q->lock_id), &res->lock, &res->err) != 0)
        note_holder(&ev, res);
    else if (audit_ahead(o, &ev, res) == 0)
        store_delete(o->store, q->state, &res->err);
    return finish(o, &ev, res, false);
}

/* Finds a version of name whose SHA-256 is want (the current state is one of them). */
struct same_sha {
    const char *want;
    char *found; /* [64] */
};

static int on_version_sha(void *ctx, const struct state_meta *m)
{
    struct same_sha *s = ctx;
    if (strcmp(m->sha256, s->want) != 0)
        return 0;
    snprintf(s->found, 64, "%s", m->snapshot);
    return 1;
}

static int find_same_version(const struct ops *o, const char *name, const char *sha256,
                             char found[64], struct err *err)
{
    struct same_sha s = {.want = sha256, .found = found};
    found[0] = '\0';
    int rc = store_list_snapshots(o->store, name, on_version_sha, &s, err);
    if (rc < 0 && err->code == ERR_NOT_FOUND) {
        err_clear(err);
        rc = 0;
    }
    return rc < 0 ? -1 : 0;
}

/* An import becomes the current state, so one older than the current state of the same
 * lineage (a re-run after stated took over, an old copy) would silently roll it back: refused,
 * nothing written. Another lineage is another history (a state re-created under the same key)
 * and is imported as the newer write it is. */
static int refuse_older_import(const struct ops *o, const char *name,
                               const struct state_summary *sum, struct err *err)
{
    struct state_meta cur;
    struct err e = {0};
    if (store_head(o->store, name, &cur, &e) != 0)
        return e.code == ERR_NOT_FOUND ? 0 : err_set(err, e.code, "%s", e.msg);
    if (strcmp(cur.lineage, sum->lineage) != 0 || cur.serial <= sum->serial)
        return 0;
    return err_set(err, ERR_INVALID,
                   "%s already has serial %" PRIu64 " of this lineage, newer than the imported "
                   "serial %" PRIu64 ": not imported (it would roll the state back)",
                   name, cur.serial, sum->serial);
}

int ops_import(const struct ops *o, const struct op_actor *a, const struct op_request *q,
               struct op_result *res)
{
    struct audit_event ev;
    struct state_summary sum;
    char md5[25], writer[256];
    op_event(a, q, "import", &ev);
    /* The source is the client's text: bounded here, escaped by the audit's canonical form. */
    snprintf(ev.detail, sizeof(ev.detail), "from %.200s", q->source ? q->source : "(unnamed)");
    if (!permitted(a, AUTH_ADMIN, q->state, "import into", &ev, res))
        return finish(o, &ev, res, false);
    if (take_state_body(o, q, &sum, md5, &ev, &res->err) != 0)
        return finish(o, &ev, res, false);
    if (find_same_version(o, q->state, ev.sha256, res->duplicate_of, &res->err) != 0)
        return finish(o, &ev, res, false);
    if (res->duplicate_of[0] != '\0') {
        res->unchanged = true;
        snprintf(ev.detail, sizeof(ev.detail), "from %.150s: already there as %s",
                 q->source ? q->source : "(unnamed)", res->duplicate_of);
        return finish(o, &ev, res, false);
    }
    if (refuse_older_import(o, q->state, &sum, &res->err) != 0)
        return finish(o, &ev, res, false);
    writer_name(a, writer, sizeof(writer));
    struct store_write w = {.serial = sum.serial,
                            .lineage = sum.lineage,
                            .writer = writer,
                            .sha256 = ev.sha256,
                            .md5 = md5[0] != '\0' ? md5 : NULL};
    if (commit_state(o, q->state, q->body, q->body_len, &w, LEASE_CHECK, NULL, &ev, res) != 0)
        note_holder(&ev, res);
    return finish(o, &ev, res, false);
}

/* The snapshot a restore writes, with its serial raised above the current state's and its
 * own. OpenTofu-encrypted snapshots are refused: their serial is plaintext in the envelope and
 * could be rewritten, but OpenTofu checks the decrypted state against it. So is a restore
 * whose new serial would pass 2^64-1: it would wrap to 0, below every serial clients hold. */
static int restored_content(const struct ops *o, const struct op_request *q, const char *id,
                            struct buf *out, struct state_summary *sum, struct op_result *res)
{
    struct buf snap;
    struct state_meta sm, cur;
    struct err e = {0};
    int rc = -1;
    buf_init(&snap, 0);
    if (store_get_snapshot(o->store, q->state, id, &snap, &sm, &res->err) != 0 ||
        statejson_scan(snap.data, snap.len, sum, &res->err) != 0)
        goto out;
    snprintf(res->restored_from, sizeof(res->restored_from), "%s", sm.snapshot);
    if (sum->is_encrypted) {
        err_set(&res->err, ERR_INVALID,
                "snapshot %s is encrypted by OpenTofu state encryption: stated cannot raise the "
                "serial inside it; restore it with the client (tofu state push)",
                id);
        goto out;
    }
    bool have_cur = store_head(o->store, q->state, &cur, &e) == 0;
    if (!have_cur && e.code != ERR_NOT_FOUND) {
        res->err = e;
        goto out;
    }
    uint64_t top = have_cur && cur.serial > sum->serial ? cur.serial : sum->serial;
    if (top == UINT64_MAX) {
        err_set(&res->err, ERR_INVALID,
                "serial would overflow: the new serial must be above %llu, the largest there is",
                (unsigned long long)top);
        goto out;
    }
    sum->serial = top + 1;
    rc = statejson_rewrite_serial(snap.data, snap.len, sum->serial, out, &res->err);
out:
    buf_cleanup(&snap);
    return rc;
}

/* The reason an operator gives for a restore or a deletion: kept with the version and in the
 * audit trail, so bounded (it must fit the version's metadata), UTF-8 and free of control
 * characters (it is shown in terminals and tables). */
static int check_reason(const char *reason, bool required, struct err *err)
{
    if (reason == NULL || reason[0] == '\0')
        return required ? err_set(err, ERR_INVALID, "a reason is required (reason=TEXT)") : 0;
    size_t n = strlen(reason);
    if (n > STORE_REASON_MAX)
        return err_set(err, ERR_INVALID, "the reason is %zu bytes, at most %d are kept", n,
                       STORE_REASON_MAX);
    if (!utf8_valid(reason, n))
        return err_set(err, ERR_INVALID, "the reason is not UTF-8");
    for (const unsigned char *p = (const unsigned char *)reason; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f || (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
            return err_set(err, ERR_INVALID, "the reason contains a control character");
    return 0;
}

/* The checks every operation on one version of a state starts with: the role, the reason,
 * then the reference resolved to the version's id. */
static bool version_target(const struct ops *o, const struct op_actor *a,
                           const struct op_request *q, enum auth_action need, bool need_reason,
                           char id[64], struct audit_event *ev, struct op_result *res)
{
    if (!permitted(a, need, q->state, need == AUTH_ADMIN ? "delete versions of" : "change", ev,
                   res))
        return false;
    if (check_reason(q->reason, need_reason, &res->err) != 0)
        return false;
    if (q->snapshot == NULL || q->snapshot[0] == '\0') {
        err_set(&res->err, ERR_INVALID, "a version is needed: ?id=REF");
        return false;
    }
    return store_resolve_ref(o->store, q->state, q->snapshot, id, &res->err) == 0;
}

int ops_restore(const struct ops *o, const struct op_actor *a, const struct op_request *q,
                struct op_result *res)
{
    struct audit_event ev;
    struct state_summary sum;
    struct buf out;
    char writer[256], id[64];
    const char *why = q->reason != NULL ? q->reason : "";
    op_event(a, q, "restore", &ev);
    buf_init(&out, 0);
    if (!version_target(o, a, q, AUTH_WRITE, false, id, &ev, res))
        goto out;
    snprintf(ev.detail, sizeof(ev.detail), "from snapshot %s%s%s%s", id, q->force ? " (force)" : "",
             why[0] ? ": " : "", why);
    if (restored_content(o, q, id, &out, &sum, res) != 0)
        goto out;
    writer_name(a, writer, sizeof(writer));
    struct store_write w = {.serial = sum.serial,
                            .lineage = sum.lineage,
                            .writer = writer,
                            .restored_from = id,
                            .reason = why};
    ev.serial = sum.serial;
    ev.has_serial = true;
    snprintf(ev.lineage, sizeof(ev.lineage), "%s", sum.lineage);
    sha256_hex(out.data, out.len, ev.sha256);
    ev.size = (int64_t)out.len;
    if (commit_state(o, q->state, out.data, out.len, &w, q->force ? LEASE_REPORT : LEASE_CHECK,
                     NULL, &ev, res) != 0) {
        if (lease_conflict(res))
            err_set(&res->err, ERR_LOCKED,
                    "%s is locked by ID %.200s: restore refused (--force writes anyway)", q->state,
                    res->lock.holder.id);
        goto out;
    }
    if (res->lock_left) {
        snprintf(ev.lock_id, sizeof(ev.lock_id), "%s", res->lock.holder.id);
        snprintf(ev.detail, sizeof(ev.detail), "from snapshot %s (force: lock %.60s left)%s%.150s",
                 id, res->lock.holder.id, why[0] ? ": " : "", why);
    }
    log_info("req=%s restore %s from %s as serial %llu by %s", a->request_id, q->state, id,
             (unsigned long long)sum.serial, a->who != NULL ? a->who->name : "");
out:
    buf_cleanup(&out);
    return finish(o, &ev, res, false);
}

int ops_delete_version(const struct ops *o, const struct op_actor *a, const struct op_request *q,
                       struct op_result *res)
{
    struct audit_event ev;
    char id[64];
    op_event(a, q, "snapshot-delete", &ev);
    if (q->snapshot != NULL)
        snprintf(ev.detail, sizeof(ev.detail), "version %.100s", q->snapshot);
    if (!version_target(o, a, q, AUTH_ADMIN, true, id, &ev, res))
        return finish(o, &ev, res, false);
    snprintf(ev.detail, sizeof(ev.detail), "version %s: %s", id, q->reason);
    /* The event names what goes by its hash, so the trail still proves which bytes existed;
     * read before the event, which may go ahead of the delete (closed audit). */
    if (store_head_snapshot(o->store, q->state, id, &res->meta, &res->err) != 0)
        return finish(o, &ev, res, false);
    ev.serial = res->meta.serial;
    ev.has_serial = true;
    snprintf(ev.lineage, sizeof(ev.lineage), "%s", res->meta.lineage);
    snprintf(ev.sha256, sizeof(ev.sha256), "%s", res->meta.sha256);
    ev.size = (int64_t)res->meta.size;
    if (audit_ahead(o, &ev, res) != 0 ||
        store_delete_snapshot(o->store, q->state, id, &res->meta, &res->count, &res->err) != 0)
        return finish(o, &ev, res, false);
    log_info("req=%s deleted version %s of %s by %s (%u more stored object versions removed)",
             a->request_id, id, q->state, a->who != NULL ? a->who->name : "", res->count);
    return finish(o, &ev, res, false);
}

/* ------------------------------------------------------------------ locks */

/* The lock info's own account of who locks and why, next to the authenticated actor. */
static void note_claims(struct audit_event *ev, const struct lock_body *lb)
{
    snprintf(ev->lock_who, sizeof(ev->lock_who), "%s", lb->who);
    snprintf(ev->lock_operation, sizeof(ev->lock_operation), "%s", lb->operation);
    snprintf(ev->lock_info, sizeof(ev->lock_info), "%s", lb->info);
}

/* The lock-expired event of the expired lease h, taken over by new_id: the trail shows whose
 * lock lapsed. Its status is the takeover's, which succeeded. */
static void expired_event(const struct op_actor *a, const char *state, const struct lock_holder *h,
                          const char *new_id, struct audit_event *ev)
{
    ops_event_init(a, ev, "lock-expired");
    snprintf(ev->state, sizeof(ev->state), "%s", state);
    snprintf(ev->lock_id, sizeof(ev->lock_id), "%s", h->id);
    snprintf(ev->detail, sizeof(ev->detail), "lease of ID %.100s expired; taken over by %.100s",
             h->id, new_id);
    ev->status = 200;
}

/* Closed mode, before an acquire: the expired lease it may take over gets its lock-expired
 * event first, because the takeover removes the lease's only other record. When that event
 * cannot be made durable nothing is acquired: the expired lease stays (it is free anyway) and
 * the next acquire records it. *ahead tells whether the event went ahead. */
static int expired_ahead(const struct ops *o, const struct op_actor *a, const char *state,
                         const char *new_id, struct audit_event *ev, bool *ahead,
                         struct op_result *res)
{
    struct lockstore *ls = o->locks;
    struct lock_result lr;
    struct err e = {0};
    *ahead = false;
    if (!o->audit_closed || o->audit == NULL || ls->ops->expired == NULL)
        return 0;
    lock_result_init(&lr);
    int rc = ls->ops->expired(ls, state, &lr, &e);
    if (rc == 0) {
        expired_event(a, state, &lr.previous, new_id, ev);
        rc = ops_audit_ahead(o, ev, 200, ahead, &res->err);
        res->audit_refused = rc != 0;
    } else if (e.code == ERR_NOT_FOUND) {
        rc = 0;
    } else {
        res->err = e;
    }
    lock_result_cleanup(&lr);
    return rc;
}

/* The one acquire of every lease stated takes (LOCK, a move's two leases), so no takeover of
 * an expired lease goes unrecorded: its lock-expired event goes ahead in closed mode and after
 * the takeover in open mode. XXX: a lease that expires between expired_ahead's look and the
 * acquire is recorded after, as in open mode. */
static int acquire_lease(const struct ops *o, const struct op_actor *a, const char *state,
                         const char *id, const char *info, struct op_result *res)
{
    struct audit_event xev;
    bool xahead;
    char owner[AUTH_OWNER_MAX];
    if (expired_ahead(o, a, state, id, &xev, &xahead, res) != 0)
        return -1;
    auth_owner(a->who, owner);
    struct lockstore *ls = o->locks;
    int rc = ls->ops->acquire(ls, state, id, info, owner, &res->lock, &res->err);
    bool took = rc == 0 && res->lock.outcome == LOCK_TAKEN_OVER;
    bool recorded = took && xahead && strcmp(res->lock.previous.id, xev.lock_id) == 0;
    if (took)
        metric_inc(&m_expired);
    if (took && !recorded) {
        struct audit_event ev;
        expired_event(a, state, &res->lock.previous, id, &ev);
        ops_audit(o, &ev, false);
    }
    if (xahead && !recorded) /* another request took that lease over, or the acquire failed */
        ops_audit_after(o, &xev, true, false, op_status(res), &res->err, true);
    return rc;
}

/* Closed mode, a LOCK whose event could not be recorded: the lease it just took is released
 * again, so the refused LOCK leaves the state as free as it found it (a lease taken over was
 * expired, that is free, already). A lease that was only renewed (the holder's retry) is
 * kept: releasing it would be the change. Lock changes are undone rather than preceded by
 * their event because the event records the outcome (taken, taken over, conflict) that only
 * the lock store knows. */
static void undo_lock(const struct ops *o, const char *state, const char *id)
{
    struct lock_result lr;
    struct err e = {0};
    lock_result_init(&lr);
    if (o->locks->ops->release(o->locks, state, id, &lr, &e) != 0)
        log_error("lock %s of %s was taken but its audit event failed, and releasing it failed "
                  "too (%s): it expires with its lease",
                  id, state, e.msg);
    lock_result_cleanup(&lr);
}

int ops_lock(const struct ops *o, const struct op_actor *a, const struct op_request *q,
             struct op_result *res)
{
    struct audit_event ev;
    struct lock_body lb;
    op_event(a, q, "lock", &ev);
    if (!permitted(a, AUTH_LOCK, q->state, "lock", &ev, res))
        return finish(o, &ev, res, false);
    if (lock_body_parse(q->body, q->body_len, &lb, &res->err) != 0)
        return finish(o, &ev, res, false);
    snprintf(ev.lock_id, sizeof(ev.lock_id), "%s", lb.id);
    note_claims(&ev, &lb);
    if (acquire_lease(o, a, q->state, lb.id, q->body, res) != 0) {
        if (res->err.code == ERR_LOCKED)
            metric_inc(&m_conflicts);
        note_holder(&ev, res);
        return finish(o, &ev, res, false);
    }
    if (res->lock.outcome == LOCK_REENTERED)
        snprintf(ev.detail, sizeof(ev.detail), "already held by this ID: lease renewed");
    enum lock_outcome took = res->lock.outcome;
    int rc = finish(o, &ev, res, false);
    if (rc != 0 && res->audit_refused && took != LOCK_REENTERED)
        undo_lock(o, q->state, lb.id);
    return rc;
}

/* The ID an UNLOCK names, and whether it is a force-unlock: Terraform's force-unlock sends no
 * body (GitLab-style clients may put the ID in the query instead); OpenTofu's sends LockInfo
 * with only the ID. */
static int unlock_target(const struct op_request *q, char **id, struct op_result *res)
{
    struct lock_body lb;
    if (q->body == NULL || is_blank(q->body, q->body_len)) {
        *id = nonempty(q->lock_id) != NULL ? xstrdup(q->lock_id) : NULL;
        res->forced = *id == NULL;
        return 0;
    }
    if (lock_body_parse(q->body, q->body_len, &lb, &res->err) != 0)
        return -1;
    *id = xstrdup(lb.id);
    res->forced = lb.zero_fields;
    return 0;
}

/* With --force-unlock=never a force-unlock answers like a conflict: anyone who read the ID
 * from a 423 could otherwise release someone else's lock. */
static void refuse_force(const struct ops *o, const char *state, struct audit_event *ev,
                         struct op_result *res)
{
    struct lockstore *ls = o->locks;
    struct err e = {0};
    if (ls->ops->get(ls, state, &res->lock, &e) == 0) {
        snprintf(ev->lock_owner, sizeof(ev->lock_owner), "%s", res->lock.holder.owner);
        snprintf(ev->detail, sizeof(ev->detail), "refused: force-unlock disabled");
        err_set(&res->err, ERR_LOCKED, "%s is locked by ID %s: force-unlock is disabled", state,
                res->lock.holder.id);
    } else if (e.code != ERR_NOT_FOUND) {
        res->err = e;
    }
}

/* Whether the actor may release the lease h: the identity that took it always may, an admin
 * always, a writer when it gave the lease's ID (not forced) or the policy lets any writer. */
static bool may_release(const struct ops *o, const struct op_actor *a, const char *state,
                        const struct lock_holder *h, bool forced)
{
    char owner[AUTH_OWNER_MAX];
    auth_owner(a->who, owner);
    if (h->owner[0] != '\0' && strcmp(owner, h->owner) == 0)
        return true;
    if (auth_allows(a->who, AUTH_ADMIN, state))
        return true;
    if (!auth_allows(a->who, AUTH_WRITE, state))
        return false; /* plan: its own locks only */
    return !forced || o->force_unlock == FORCE_UNLOCK_ANY;
}

static void refuse_release(const struct op_actor *a, const char *state, bool forced,
                           struct audit_event *ev, struct op_result *res)
{
    const struct lock_holder *h = &res->lock.holder;
    const char *owner = h->owner[0] != '\0' ? h->owner : "(not recorded)";
    snprintf(ev->detail, sizeof(ev->detail), "refused: the lock was taken by another identity");
    if (auth_allows(a->who, AUTH_WRITE, state))
        err_set(&res->err, ERR_FORBIDDEN,
                "%s is locked by ID %.200s, taken by '%.200s': only that identity or an admin may "
                "force-unlock it",
                state, h->id, owner);
    else
        err_set(&res->err, ERR_FORBIDDEN,
                "%s is locked by ID %.200s, taken by '%.200s': role %s may %s only its own locks",
                state, h->id, owner, auth_role_name(a->who->role),
                forced ? "force-unlock" : "unlock");
}

/* The reason a force-unlock was given, after what the event says happened. */
static void note_reason(struct audit_event *ev, const char *reason)
{
    size_t n = strlen(ev->detail);
    if (nonempty(reason) != NULL && n + 12 < sizeof(ev->detail))
        snprintf(ev->detail + n, sizeof(ev->detail) - n, "; reason: %s", reason);
}

/* The one release of every UNLOCK and force-unlock, of the lease target, under the
 * closed-mode rule: the event, naming the lease and saying it is released ("released", or "BY
 * released the lease of ID …" and the reason for a force-unlock's), goes ahead of the release.
 * A release that then does not happen (nothing held any more, another ID's lease, the lock
 * store failing) leaves the detail to the caller and is followed by the "not applied" event
 * (finish). */
static int release_lease(const struct ops *o, const struct op_request *q, const char *target,
                         const char *by, struct audit_event *ev, struct op_result *res)
{
    struct lockstore *ls = o->locks;
    snprintf(ev->lock_id, sizeof(ev->lock_id), "%s", target);
    if (by == NULL)
        snprintf(ev->detail, sizeof(ev->detail), "released");
    else
        snprintf(ev->detail, sizeof(ev->detail), "%s released the lease of ID %.150s", by, target);
    note_reason(ev, q->reason);
    if (audit_ahead(o, ev, res) != 0)
        return -1;
    lock_result_cleanup(&res->lock);
    lock_result_init(&res->lock);
    int rc = ls->ops->release(ls, q->state, target, &res->lock, &res->err);
    res->not_applied = rc == 0 && res->lock.outcome != LOCK_RELEASED;
    if (rc != 0 || res->not_applied)
        ev->detail[0] = '\0';
    return rc;
}

/* The live lease of state into res->lock.holder before a release: 1 when one is held, 0 when
 * none (LOCK_NOT_HELD: nothing to release, nothing to record ahead), -1 on a lock store error. */
static int read_lease(const struct ops *o, const char *state, struct op_result *res)
{
    struct lockstore *ls = o->locks;
    struct err e = {0};
    if (ls->ops->get(ls, state, &res->lock, &e) == 0)
        return 1;
    if (e.code != ERR_NOT_FOUND) {
        res->err = e;
        return -1;
    }
    res->lock.outcome = LOCK_NOT_HELD;
    return 0;
}

/* A release that depends on who holds the lease (a force-unlock, or a caller that may release
 * only its own): reads the live lease, checks the actor may release it and releases exactly
 * that lease, by the ID given or the one just read, so a lease taken in between is never
 * released unchecked (and the event going ahead names the lease that goes). */
static int release_checked(const struct ops *o, const struct op_actor *a,
                           const struct op_request *q, const char *id, const char *by,
                           struct audit_event *ev, struct op_result *res)
{
    int held = read_lease(o, q->state, res);
    if (held <= 0)
        return held;
    snprintf(ev->lock_owner, sizeof(ev->lock_owner), "%s", res->lock.holder.owner);
    if (!may_release(o, a, q->state, &res->lock.holder, res->forced)) {
        refuse_release(a, q->state, res->forced, ev, res);
        return -1;
    }
    char target[LOCK_ID_MAX];
    snprintf(target, sizeof(target), "%s", id != NULL ? id : res->lock.holder.id);
    return release_lease(o, q, target, by, ev, res);
}

/* A writer's UNLOCK by its lease's ID. Closed mode reads the lease first, so the event going
 * ahead names its owner, and an UNLOCK that finds nothing held (a retry whose first answer was
 * lost: the client converges) changes nothing and is recorded once, as "nothing held". */
static int release_own(const struct ops *o, const struct op_request *q, const char *id,
                       struct audit_event *ev, struct op_result *res)
{
    if (!o->audit_closed)
        return release_lease(o, q, id, NULL, ev, res);
    int held = read_lease(o, q->state, res);
    if (held <= 0)
        return held;
    if (strcmp(res->lock.holder.id, id) != 0)
        return err_set(&res->err, ERR_LOCKED, "%s is locked by ID %s", q->state,
                       res->lock.holder.id);
    snprintf(ev->lock_owner, sizeof(ev->lock_owner), "%s", res->lock.holder.owner);
    return release_lease(o, q, id, NULL, ev, res);
}

int ops_unlock(const struct ops *o, const struct op_actor *a, const struct op_request *q,
               struct op_result *res)
{
    struct audit_event ev;
    char *id = NULL;
    op_event(a, q, "unlock", &ev);
    if (!permitted(a, AUTH_LOCK, q->state, "unlock", &ev, res))
        return finish(o, &ev, res, false);
    if (unlock_target(q, &id, res) != 0)
        return finish(o, &ev, res, false);
    if (res->forced)
        snprintf(ev.action, sizeof(ev.action), "force-unlock");
    snprintf(ev.lock_id, sizeof(ev.lock_id), "%s", id != NULL ? id : "");
    int rc;
    if (res->forced && o->force_unlock == FORCE_UNLOCK_NEVER) {
        refuse_force(o, q->state, &ev, res);
        rc = -1;
    } else if (res->forced || !auth_allows(a->who, AUTH_WRITE, q->state)) {
        rc = release_checked(o, a, q, id, NULL, &ev, res);
    } else {
        rc = release_own(o, q, id, &ev, res);
    }
    if (rc != 0) {
        note_holder(&ev, res);
    } else if (res->lock.outcome == LOCK_RELEASED) {
        if (res->forced)
            metric_inc(&m_force);
        snprintf(ev.lock_id, sizeof(ev.lock_id), "%s", res->lock.previous.id);
        snprintf(ev.lock_owner, sizeof(ev.lock_owner), "%s", res->lock.previous.owner);
    } else {
        snprintf(ev.detail, sizeof(ev.detail), "nothing held");
    }
    free(id);
    return finish(o, &ev, res, false);
}

/* An admin releases any lease; anyone else only as a client's force-unlock may
 * (--force-unlock: the same refusal as ops_unlock's, then release_checked's rule). */
static int force_release(const struct ops *o, const struct op_actor *a, const struct op_request *q,
                         struct audit_event *ev, struct op_result *res)
{
    bool admin = auth_allows(a->who, AUTH_ADMIN, q->state);
    if (!admin && o->force_unlock == FORCE_UNLOCK_NEVER) {
        refuse_force(o, q->state, ev, res);
        return -1;
    }
    if (release_checked(o, a, q, q->lock_id, admin ? "admin" : "holder or writer", ev, res) == 0)
        return 0;
    if (admin && lease_conflict(res))
        err_set(&res->err, ERR_LOCKED, "%s is now held by ID %.200s, not the ID given", q->state,
                res->lock.holder.id);
    return -1;
}

int ops_force_unlock(const struct ops *o, const struct op_actor *a, const struct op_request *q,
                     struct op_result *res)
{
    struct audit_event ev;
    op_event(a, q, "force-unlock", &ev);
    res->forced = true;
    if (!permitted(a, AUTH_LOCK, q->state, "force-unlock", &ev, res))
        return finish(o, &ev, res, false);
    if (force_release(o, a, q, &ev, res) == 0 && res->lock.outcome == LOCK_RELEASED) {
        metric_inc(&m_force);
        snprintf(ev.lock_id, sizeof(ev.lock_id), "%s", res->lock.previous.id);
        snprintf(ev.lock_owner, sizeof(ev.lock_owner), "%s", res->lock.previous.owner);
        return finish(o, &ev, res, false); /* detail and reason: release_lease */
    }
    if (res->err.code != ERR_OK)
        note_holder(&ev, res);
    else
        snprintf(ev.detail, sizeof(ev.detail), "nothing held");
    note_reason(&ev, q->reason);
    return finish(o, &ev, res, false);
}

/* ------------------------------------------------------------------ move */

/* The lease a move holds on one name while it copies: it refuses the writes of every instance
 * (a client's write without this ID is refused while it is live) and, held by this ID only,
 * makes a move refused when a client holds the name's lock. It expires by itself if stated
 * dies mid-move. */
static int move_lease(const struct ops *o, const struct op_actor *a, const char *name,
                      const char *id, struct op_result *res)
{
    char when[32];
    time_format_rfc3339(now_us(), when);
    json_t *info = json_pack("{s:s,s:s,s:s,s:s}", "ID", id, "Operation", "stated-move", "Who",
                             "stated (states move)", "Created", when);
    char *text = json_dumps(info, JSON_COMPACT);
    json_decref(info);
    int rc = acquire_lease(o, a, name, id, text, res);
    free(text);
    if (rc != 0 && lease_conflict(res))
        err_set(&res->err, ERR_LOCKED, "%s is locked by ID %.200s: move refused", name,
                res->lock.holder.id);
    return rc;
}

static void move_unlease(const struct ops *o, const char *name, const char *id)
{
    struct lock_result lr;
    struct err e = {0};
    lock_result_init(&lr);
    if (o->locks->ops->release(o->locks, name, id, &lr, &e) != 0)
        log_warn("move: cannot release the lease %s on %s (it expires by itself): %s", id, name,
                 e.msg);
    lock_result_cleanup(&lr);
}

/* The copy, once both names are leased: the move's two events (the old name's, then the new
 * name's) go ahead of it together (closed mode); when the second cannot be recorded, the
 * first is followed by its "not applied" event (finish). */
static void move_copy(const struct ops *o, const struct op_request *q, struct audit_event *ev,
                      struct audit_event *ev_to, bool *to_ahead, struct op_result *res)
{
    if (audit_ahead(o, ev, res) != 0)
        return;
    if (ops_audit_ahead(o, ev_to, 200, to_ahead, &res->err) != 0) {
        res->audit_refused = true;
        return;
    }
    store_move(o->store, q->state, q->to, &res->count, &res->err);
}

/* The move's events from its result: the old name's (finish) and the new name's, whose trail
 * starts with where it came from. */
static int move_record(const struct ops *o, const struct op_actor *a, const struct op_request *q,
                       struct audit_event *ev, struct audit_event *ev_to, bool to_ahead,
                       struct op_result *res)
{
    bool ok = res->err.code == ERR_OK;
    note_holder(ev, res);
    if (ok) {
        snprintf(ev->detail, sizeof(ev->detail), "to %.200s (%u objects copied)", q->to,
                 res->count);
        log_info("req=%s moved %s to %s by %s", a->request_id, q->state, q->to,
                 a->who != NULL ? a->who->name : "");
    } else if (!to_ahead) {
        snprintf(ev_to->detail, sizeof(ev_to->detail), "from %.200s (refused)", q->state);
    }
    ops_audit_after(o, ev_to, to_ahead, ok, op_status(res), &res->err, !ok);
    return finish(o, ev, res, false);
}

int ops_move(const struct ops *o, const struct op_actor *a, const struct op_request *q,
             struct op_result *res)
{
    struct audit_event ev, ev_to;
    char lease[LOCK_ID_MAX];
    bool to_ahead = false;
    op_event(a, q, "state-move", &ev);
    snprintf(ev.detail, sizeof(ev.detail), "to %.200s", q->to != NULL ? q->to : "");
    if (!permitted(a, AUTH_ADMIN, q->state, "move", &ev, res) ||
        (q->to != NULL && !permitted(a, AUTH_ADMIN, q->to, "move onto", &ev, res)))
        return finish(o, &ev, res, false);
    if (q->to == NULL || strcmp(q->to, q->state) == 0) {
        err_set(&res->err, ERR_INVALID, "a move needs another name: ?to=NEW");
        return finish(o, &ev, res, false);
    }
    ev_to = ev;
    snprintf(ev_to.state, sizeof(ev_to.state), "%s", q->to);
    snprintf(ev_to.detail, sizeof(ev_to.detail), "from %.200s", q->state);
    snprintf(lease, sizeof(lease), "stated-move-%s", a->request_id);
    if (move_lease(o, a, q->state, lease, res) == 0) {
        lock_result_cleanup(&res->lock);
        lock_result_init(&res->lock);
        if (move_lease(o, a, q->to, lease, res) == 0) {
            move_copy(o, q, &ev, &ev_to, &to_ahead, res);
            move_unlease(o, q->to, lease);
        }
        move_unlease(o, q->state, lease);
    }
    return move_record(o, a, q, &ev, &ev_to, to_ahead, res);
}
