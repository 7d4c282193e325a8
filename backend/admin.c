/* backend/admin.c: the admin API under /v1/ (docs/admin-api.md), what statectl talks to.
 *
 * Runs on worker threads only (admin_dispatch is called by routes_handle after
 * authentication), so it may block on the store, the lock store and the audit log. Every
 * request that reaches a route produces exactly one audit event carrying the status answered,
 * appended after the work is done: an export or a verify therefore never contains or checks
 * its own event, which keeps "events exported == requests made" exact for operators.
 *
 * Roles: a read token may list and read the states its pattern allows (states list is
 * filtered, not refused); restore needs write on that state; locks, audit and tokens need
 * admin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend/backend.h"
#include "common/log.h"
#include "common/statejson.h"

/* What the finishing step writes to the audit trail for this request. */
struct admin_call {
    struct backend_req *r;
    struct audit_event ev;
};

static void json_reply(struct backend_req *r, int status, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    respond_json(r, status, s != NULL ? s : "null");
    free(s);
    json_decref(v);
}

static char *query(const struct backend_req *r, const char *key)
{
    return r->query != NULL ? backend_query_param(r->query, key) : NULL;
}

static void writer_of(const struct backend_req *r, char *out, size_t cap)
{
    if (r->who.username[0] != '\0')
        snprintf(out, cap, "%s/%s", r->who.name, r->who.username);
    else
        snprintf(out, cap, "%s", r->who.name);
}

static json_t *time_json(int64_t us)
{
    char t[32];
    if (us <= 0)
        return json_null();
    time_format_rfc3339(us, t);
    return json_string(t);
}

/* A jansson string from bytes that may not be UTF-8 (lock ids and infos come from clients). */
static json_t *str_json(const char *s)
{
    json_t *v = json_string(s != NULL ? s : "");
    return v != NULL ? v : json_string("(not UTF-8)");
}

/* The lock of one state as the admin API shows it. "who" and "operation" come from the
 * client's lock info when it has them. */
static json_t *lock_json(const char *state, const struct lock_holder *h)
{
    json_t *info = h->info_json ? json_loads(h->info_json, 0, NULL) : NULL;
    json_t *o = json_object();
    if (state != NULL)
        json_object_set_new(o, "state", str_json(state));
    json_object_set_new(o, "id", str_json(h->id));
    json_object_set_new(o, "who", str_json(json_string_value(json_object_get(info, "Who"))));
    json_object_set_new(o, "operation",
                        str_json(json_string_value(json_object_get(info, "Operation"))));
    json_object_set_new(o, "created", time_json(h->created_us));
    json_object_set_new(o, "renewed", time_json(h->renewed_us));
    json_object_set_new(o, "expires", time_json(h->expires_us));
    json_decref(info);
    return o;
}

static json_t *meta_json(const struct state_meta *m, bool as_snapshot)
{
    json_t *o = json_object();
    if (as_snapshot)
        json_object_set_new(o, "id", json_string(m->snapshot));
    json_object_set_new(o, "serial", json_integer((json_int_t)m->serial));
    json_object_set_new(o, "lineage", str_json(m->lineage));
    json_object_set_new(o, "sha256", json_string(m->sha256));
    json_object_set_new(o, "size", json_integer((json_int_t)m->size));
    json_object_set_new(o, as_snapshot ? "time" : "last_write", time_json(m->time_us));
    json_object_set_new(o, "writer", str_json(m->writer));
    if (!as_snapshot)
        json_object_set_new(o, "snapshot", json_string(m->snapshot));
    return o;
}

/* 423 with the holder's lock info (as state clients get it) plus the error code and message,
 * so both lock-info readers and error readers understand it. */
static void respond_locked(struct backend_req *r, const struct lock_holder *h, const char *what)
{
    char *info = lock_holder_info_json(h);
    json_t *o = json_loads(info, 0, NULL);
    free(info);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    json_object_set_new(o, "code", json_string(err_infra_code(ERR_LOCKED)));
    json_object_set_new(o, "message", json_string(what));
    json_reply(r, 423, o);
}

/* ------------------------------------------------------------------ states and snapshots */

struct states_ctx {
    struct backend_req *r;
    json_t *arr;
    json_t *locks; /* state -> lock object */
};

static int on_lock_entry(void *ctx, const struct lock_entry *e)
{
    json_object_set_new(ctx, e->state, lock_json(NULL, e->holder));
    return 0;
}

static int on_state(void *ctx, const char *name, const struct state_meta *m)
{
    struct states_ctx *sc = ctx;
    json_t *o, *l;
    if (!auth_allows(&sc->r->who, ROLE_READ, name))
        return 0;
    o = json_object();
    json_object_set_new(o, "name", json_string(name));
    json_t *mj = meta_json(m, false);
    json_object_update(o, mj);
    json_decref(mj);
    l = json_object_get(sc->locks, name);
    json_object_set(o, "lock", l != NULL ? l : json_null());
    json_array_append_new(sc->arr, o);
    return 0;
}

static void states_list(struct admin_call *c)
{
    struct backend_req *r = c->r;
    struct err e = {0};
    char *prefix = query(r, "prefix");
    struct states_ctx sc = {.r = r, .arr = json_array(), .locks = json_object()};
    snprintf(c->ev.detail, sizeof(c->ev.detail), "states prefix=%.200s", prefix ? prefix : "");
    if (r->srv->locks->ops->list(r->srv->locks, on_lock_entry, sc.locks, &e) != 0 ||
        store_list_states(r->srv->store, prefix ? prefix : "", on_state, &sc, &e) != 0)
        respond_err(r, &e, NULL);
    else
        json_reply(r, 200, json_incref(sc.arr));
    json_decref(sc.arr);
    json_decref(sc.locks);
    free(prefix);
}

static int on_snapshot(void *ctx, const struct state_meta *m)
{
    json_array_append_new(ctx, meta_json(m, true));
    return 0;
}

static void snapshots_get(struct admin_call *c, const char *name)
{
    struct backend_req *r = c->r;
    struct err e = {0};
    char *id = query(r, "id");
    if (!auth_allows(&r->who, ROLE_READ, name)) {
        respond_error(r, ERR_FORBIDDEN, "token %s may not read %s", r->who.name, name);
    } else if (id == NULL) {
        json_t *arr = json_array();
        snprintf(c->ev.action, sizeof(c->ev.action), "snapshot-list");
        if (store_list_snapshots(r->srv->store, name, on_snapshot, arr, &e) != 0)
            respond_err(r, &e, NULL);
        else if (json_array_size(arr) == 0 &&
                 store_head(r->srv->store, name, &(struct state_meta){0}, &e) != 0)
            respond_error(r, ERR_NOT_FOUND, "no state or snapshot named %s", name);
        else
            json_reply(r, 200, json_incref(arr));
        json_decref(arr);
    } else {
        struct buf b;
        struct state_meta m;
        buf_init(&b, 0);
        snprintf(c->ev.detail, sizeof(c->ev.detail), "snapshot %.200s", id);
        if (store_get_snapshot(r->srv->store, name, id, &b, &m, &e) != 0) {
            respond_err(r, &e, NULL);
            buf_cleanup(&b);
        } else {
            c->ev.serial = (int64_t)m.serial;
            snprintf(c->ev.lineage, sizeof(c->ev.lineage), "%s", m.lineage);
            snprintf(c->ev.sha256, sizeof(c->ev.sha256), "%s", m.sha256);
            c->ev.size = (int64_t)b.len;
            respond_take(r, 200, "application/json", &b);
        }
    }
    free(id);
}

/* POST /v1/restore/NAME?id=SNAP[&force=1]: the snapshot's bytes become a new write whose
 * top-level serial is one above max(current, snapshot), everything else byte-identical. */
static void restore(struct admin_call *c, const char *name)
{
    struct backend_req *r = c->r;
    struct err e = {0};
    char *id = query(r, "id"), *force_s = query(r, "force");
    bool force = force_s != NULL && (strcmp(force_s, "1") == 0 || strcmp(force_s, "true") == 0);
    struct buf snap, out;
    struct state_meta sm, cur, written;
    struct state_summary sum;
    struct lock_result lr;
    bool have_cur, unchanged = false, lock_left = false;
    uint64_t serial;
    char writer[160];
    json_t *o;

    buf_init(&snap, 0);
    buf_init(&out, 0);
    lock_result_init(&lr);
    if (!auth_allows(&r->who, ROLE_WRITE, name)) {
        respond_error(r, ERR_FORBIDDEN, "token %s may not write %s", r->who.name, name);
        goto out;
    }
    if (id == NULL) {
        respond_error(r, ERR_INVALID, "restore needs ?id=SNAPSHOT");
        goto out;
    }
    snprintf(c->ev.detail, sizeof(c->ev.detail), "from snapshot %.100s%s", id,
             force ? " (force)" : "");
    if (store_get_snapshot(r->srv->store, name, id, &snap, &sm, &e) != 0 ||
        statejson_scan(snap.data, snap.len, &sum, &e) != 0) {
        respond_err(r, &e, NULL);
        goto out;
    }
    if (sum.is_encrypted) {
        /* The serial is plaintext in the envelope and could be rewritten, but OpenTofu checks
         * the decrypted state against it and would refuse the result. */
        respond_error(r, ERR_INVALID,
                      "snapshot %s is encrypted by OpenTofu state encryption: stated cannot "
                      "raise the serial inside it; restore it with the client (tofu state push)",
                      id);
        goto out;
    }
    if (force) {
        if (r->srv->locks->ops->get(r->srv->locks, name, &lr, &e) == 0)
            lock_left = true;
        else if (e.code != ERR_NOT_FOUND) {
            respond_err(r, &e, NULL);
            goto out;
        }
        err_clear(&e);
    } else if (r->srv->locks->ops->check_write(r->srv->locks, name, NULL, &lr, &e) != 0) {
        if (e.code == ERR_LOCKED && lr.holder.id[0] != '\0') {
            char msg[400];
            snprintf(msg, sizeof(msg),
                     "%s is locked by ID %.200s: restore refused (--force writes anyway)", name,
                     lr.holder.id);
            respond_locked(r, &lr.holder, msg);
        } else {
            respond_err(r, &e, NULL);
        }
        goto out;
    }
    have_cur = store_head(r->srv->store, name, &cur, &e) == 0;
    if (!have_cur && e.code != ERR_NOT_FOUND) {
        respond_err(r, &e, NULL);
        goto out;
    }
    err_clear(&e);
    serial = (have_cur && cur.serial > sum.serial ? cur.serial : sum.serial) + 1;
    if (statejson_rewrite_serial(snap.data, snap.len, serial, &out, &e) != 0) {
        respond_err(r, &e, NULL);
        goto out;
    }
    writer_of(r, writer, sizeof(writer));
    struct store_write w = {.serial = serial, .lineage = sum.lineage, .writer = writer};
    if (store_put(r->srv->store, name, out.data, out.len, &w, &written, &unchanged, &e) != 0) {
        respond_err(r, &e, NULL);
        goto out;
    }
    c->ev.serial = (int64_t)serial;
    snprintf(c->ev.lineage, sizeof(c->ev.lineage), "%s", sum.lineage);
    snprintf(c->ev.sha256, sizeof(c->ev.sha256), "%s", written.sha256);
    c->ev.size = (int64_t)out.len;
    if (lock_left) {
        snprintf(c->ev.lock_id, sizeof(c->ev.lock_id), "%s", lr.holder.id);
        snprintf(c->ev.detail, sizeof(c->ev.detail),
                 "from snapshot %.100s (force: lock %.60s left in place)", id, lr.holder.id);
    }
    log_info("req=%s restore %s from %s as serial %llu by %s", r->request_id, name, id,
             (unsigned long long)serial, r->who.name);
    o = json_object();
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "restored_from", json_string(sm.snapshot));
    json_object_set_new(o, "snapshot", json_string(written.snapshot));
    json_object_set_new(o, "serial", json_integer((json_int_t)serial));
    json_object_set_new(o, "lineage", str_json(sum.lineage));
    json_object_set_new(o, "sha256", json_string(written.sha256));
    json_object_set_new(o, "size", json_integer((json_int_t)out.len));
    json_object_set_new(o, "lock", lock_left ? lock_json(NULL, &lr.holder) : json_null());
    json_reply(r, 200, o);
out:
    lock_result_cleanup(&lr);
    buf_cleanup(&snap);
    buf_cleanup(&out);
    free(id);
    free(force_s);
}

/* ------------------------------------------------------------------ locks */

struct locks_ctx {
    struct backend_req *r;
    json_t *arr;
};

static int on_lock_row(void *ctx, const struct lock_entry *e)
{
    struct locks_ctx *lc = ctx;
    if (auth_allows(&lc->r->who, ROLE_READ, e->state))
        json_array_append_new(lc->arr, lock_json(e->state, e->holder));
    return 0;
}

static void locks_list(struct admin_call *c)
{
    struct err e = {0};
    struct locks_ctx lc = {.r = c->r, .arr = json_array()};
    snprintf(c->ev.detail, sizeof(c->ev.detail), "locks");
    if (c->r->srv->locks->ops->list(c->r->srv->locks, on_lock_row, &lc, &e) != 0)
        respond_err(c->r, &e, NULL);
    else
        json_reply(c->r, 200, json_incref(lc.arr));
    json_decref(lc.arr);
}

static void force_unlock(struct admin_call *c, const char *name)
{
    struct backend_req *r = c->r;
    struct err e = {0};
    struct lock_result lr;
    char *id = query(r, "id");
    json_t *o;
    lock_result_init(&lr);
    if (!auth_allows(&r->who, ROLE_ADMIN, NULL)) {
        respond_error(r, ERR_FORBIDDEN, "force-unlock needs an admin token");
        goto out;
    }
    if (id != NULL)
        snprintf(c->ev.lock_id, sizeof(c->ev.lock_id), "%s", id);
    if (r->srv->locks->ops->release(r->srv->locks, name, id, &lr, &e) != 0) {
        if (e.code == ERR_LOCKED && lr.holder.id[0] != '\0') {
            char msg[400];
            snprintf(msg, sizeof(msg), "%s is now held by ID %.200s, not the ID given", name,
                     lr.holder.id);
            respond_locked(r, &lr.holder, msg);
        } else {
            respond_err(r, &e, NULL);
        }
        goto out;
    }
    o = json_object();
    json_object_set_new(o, "state", json_string(name));
    json_object_set_new(o, "released", json_boolean(lr.outcome == LOCK_RELEASED));
    if (lr.outcome == LOCK_RELEASED) {
        json_t *l = lock_json(NULL, &lr.previous);
        json_object_update(o, l);
        json_object_set(o, "released", json_true());
        json_decref(l);
        snprintf(c->ev.lock_id, sizeof(c->ev.lock_id), "%s", lr.previous.id);
        snprintf(c->ev.detail, sizeof(c->ev.detail), "admin released the lease of ID %.150s",
                 lr.previous.id);
    } else {
        snprintf(c->ev.detail, sizeof(c->ev.detail), "nothing held");
    }
    json_reply(r, 200, o);
out:
    lock_result_cleanup(&lr);
    free(id);
}

/* ------------------------------------------------------------------ audit */

static int export_sink(void *ctx, const char *data, size_t len)
{
    return backend_stream_write(ctx, data, len) == 0 ? 0 : 1;
}

static void audit_export(struct admin_call *c)
{
    struct backend_req *r = c->r;
    struct err e = {0};
    char *since = query(r, "since"), *until = query(r, "until"), *state = query(r, "state");
    char *fmt = query(r, "format");
    struct audit_filter f = {0};
    enum audit_format af = AUDIT_JSONL;
    int rc;

    snprintf(c->ev.detail, sizeof(c->ev.detail), "format=%.8s since=%.40s until=%.40s state=%.100s",
             fmt ? fmt : "jsonl", since ? since : "", until ? until : "", state ? state : "");
    if (fmt != NULL && strcmp(fmt, "csv") == 0)
        af = AUDIT_CSV;
    else if (fmt != NULL && strcmp(fmt, "jsonl") != 0) {
        respond_error(r, ERR_INVALID, "format must be jsonl or csv");
        goto out;
    }
    if ((since != NULL && time_parse_rfc3339(since, &f.since_us) != 0) ||
        (until != NULL && time_parse_rfc3339(until, &f.until_us) != 0)) {
        respond_error(r, ERR_INVALID, "since and until must be RFC 3339 times or dates");
        goto out;
    }
    if (state != NULL && state[0] != '\0')
        f.state_pattern = state;
    r->status = 200;
    backend_add_header(r, "content-type",
                       af == AUDIT_CSV ? "text/csv; charset=utf-8" : "application/x-ndjson");
    backend_add_header(r, "cache-control", "no-store");
    if (backend_stream_begin(r) != 0)
        goto out;
    rc = r->srv->audit->ops->export(r->srv->audit, &f, af, export_sink, r, &e);
    if (rc != 0) {
        /* The status is already sent: the export ends short. The detail says so in the trail
         * and the log says why. */
        log_error("req=%s audit export ended early: %s", r->request_id,
                  e.code != ERR_OK ? e.msg : "client went away");
        snprintf(c->ev.detail, sizeof(c->ev.detail), "export ended early: %.200s",
                 e.code != ERR_OK ? e.msg : "client went away");
    }
out:
    free(since);
    free(until);
    free(state);
    free(fmt);
}

static void audit_verify(struct admin_call *c)
{
    struct backend_req *r = c->r;
    struct err e = {0};
    struct audit_verify_result vr = {0};
    json_t *o;
    if (r->srv->audit->ops->verify(r->srv->audit, &vr, &e) != 0) {
        respond_err(r, &e, NULL);
        return;
    }
    snprintf(c->ev.detail, sizeof(c->ev.detail), "%llu events, first broken %llu",
             (unsigned long long)vr.events, (unsigned long long)vr.first_broken);
    o = json_object();
    json_object_set_new(o, "ok", json_boolean(vr.first_broken == 0));
    json_object_set_new(o, "events", json_integer((json_int_t)vr.events));
    json_object_set_new(o, "first_broken", json_integer((json_int_t)vr.first_broken));
    json_object_set_new(o, "reason", str_json(vr.reason));
    json_reply(r, 200, o);
}

/* ------------------------------------------------------------------ tokens */

static int on_token(void *ctx, const struct auth_token_info *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", str_json(t->name));
    json_object_set_new(o, "role", str_json(t->role));
    json_object_set_new(o, "states", str_json(t->pattern));
    json_object_set_new(o, "source", str_json(t->source));
    json_object_set_new(o, "created", time_json(t->created_us));
    json_array_append_new(ctx, o);
    return 0;
}

static void tokens_list(struct admin_call *c)
{
    struct err e = {0};
    json_t *arr = json_array();
    if (auth_token_list(on_token, arr, &e) != 0)
        respond_err(c->r, &e, NULL);
    else
        json_reply(c->r, 200, json_incref(arr));
    json_decref(arr);
}

static void tokens_create(struct admin_call *c)
{
    struct backend_req *r = c->r;
    struct err e = {0};
    json_error_t je;
    json_t *req = r->body ? json_loadb(r->body, r->body_len, 0, &je) : NULL;
    const char *name = json_string_value(json_object_get(req, "name"));
    const char *role = json_string_value(json_object_get(req, "role"));
    const char *states = json_string_value(json_object_get(req, "states"));
    char secret[44];
    json_t *o;

    if (name == NULL || role == NULL || states == NULL) {
        respond_error(r, ERR_INVALID,
                      "body must be a JSON object with string name, role and states");
        goto out;
    }
    snprintf(c->ev.detail, sizeof(c->ev.detail), "token %.64s role %.8s states %.150s", name, role,
             states);
    if (auth_token_create(name, role, states, secret, &e) != 0) {
        respond_err(r, &e, NULL);
        goto out;
    }
    o = json_pack("{s:s,s:s,s:s,s:s}", "name", name, "role", role, "states", states, "token",
                  secret);
    json_reply(r, 201, o);
    memset(secret, 0, sizeof(secret));
out:
    json_decref(req);
}

static void tokens_revoke(struct admin_call *c, const char *name)
{
    struct err e = {0};
    snprintf(c->ev.detail, sizeof(c->ev.detail), "token %.64s", name);
    if (auth_token_revoke(name, &e) != 0)
        respond_err(c->r, &e, NULL);
    else
        json_reply(c->r, 200, json_pack("{s:s,s:b}", "name", name, "revoked", 1));
}

static void whoami(struct admin_call *c)
{
    const struct auth_identity *w = &c->r->who;
    json_reply(c->r, 200,
               json_pack("{s:s,s:s,s:s,s:s}", "name", w->name, "username", w->username, "role",
                         auth_role_name(w->role), "states", w->pattern));
}

/* ------------------------------------------------------------------ dispatch */

enum route {
    R_NONE,
    R_STATES,
    R_SNAPSHOTS,
    R_RESTORE,
    R_LOCKS,
    R_LOCK,
    R_EXPORT,
    R_VERIFY,
    R_TOKENS,
    R_TOKEN,
    R_WHOAMI,
};

static const struct {
    enum route route;
    const char *path; /* exact, or a prefix when it ends with '/' */
    const char *allow;
    const char *action;
    enum auth_role need; /* checked here; per-state checks happen in the handler */
} routes[] = {
    {R_STATES, "/v1/states", "GET", "list", ROLE_READ},
    {R_SNAPSHOTS, "/v1/snapshots/", "GET", "snapshot-read", ROLE_READ},
    {R_RESTORE, "/v1/restore/", "POST", "restore", ROLE_WRITE},
    {R_LOCKS, "/v1/locks", "GET", "lock-list", ROLE_READ},
    {R_LOCK, "/v1/locks/", "DELETE", "force-unlock", ROLE_ADMIN},
    {R_EXPORT, "/v1/audit/export", "GET", "export", ROLE_ADMIN},
    {R_VERIFY, "/v1/audit/verify", "GET", "audit-verify", ROLE_ADMIN},
    {R_TOKENS, "/v1/tokens", "GET, POST", "token-list", ROLE_ADMIN},
    {R_TOKEN, "/v1/tokens/", "DELETE", "token-revoke", ROLE_ADMIN},
    {R_WHOAMI, "/v1/whoami", "GET", "whoami", ROLE_READ},
};

static bool method_allowed(const char *allow, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += n)
        if ((p == allow || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
            return true;
    return false;
}

int admin_dispatch(struct backend_req *r)
{
    struct admin_call c = {.r = r};
    const char *arg = NULL;
    size_t k, nroutes = sizeof(routes) / sizeof(routes[0]);
    struct err e = {0};

    for (k = 0; k < nroutes; k++) {
        size_t n = strlen(routes[k].path);
        if (routes[k].path[n - 1] == '/') {
            if (strncmp(r->path, routes[k].path, n) == 0 && r->path[n] != '\0') {
                arg = r->path + n;
                break;
            }
        } else if (strcmp(r->path, routes[k].path) == 0) {
            break;
        }
    }
    if (k == nroutes)
        return -1;

    backend_audit_init(r, &c.ev, routes[k].action);
    if (routes[k].route == R_TOKENS && strcmp(r->method, "POST") == 0)
        snprintf(c.ev.action, sizeof(c.ev.action), "token-create");
    if (arg != NULL && routes[k].route != R_TOKEN)
        snprintf(c.ev.state, sizeof(c.ev.state), "%s", arg);

    if (!method_allowed(routes[k].allow, r->method)) {
        struct err me = {0};
        err_set(&me, ERR_METHOD, "%s is not allowed on %.60s", r->method, r->path);
        respond_err(r, &me, routes[k].allow);
    } else if (arg != NULL && routes[k].route != R_TOKEN &&
               state_name_check(arg, strlen(arg), &e) != 0) {
        respond_err(r, &e, NULL);
    } else if (!auth_allows(&r->who, routes[k].need, NULL)) {
        respond_error(r, ERR_FORBIDDEN, "token %s (role %s) may not do this", r->who.name,
                      auth_role_name(r->who.role));
    } else {
        switch (routes[k].route) {
        case R_STATES:
            states_list(&c);
            break;
        case R_SNAPSHOTS:
            snapshots_get(&c, arg);
            break;
        case R_RESTORE:
            restore(&c, arg);
            break;
        case R_LOCKS:
            locks_list(&c);
            break;
        case R_LOCK:
            force_unlock(&c, arg);
            break;
        case R_EXPORT:
            audit_export(&c);
            break;
        case R_VERIFY:
            audit_verify(&c);
            break;
        case R_TOKENS:
            if (strcmp(r->method, "POST") == 0)
                tokens_create(&c);
            else
                tokens_list(&c);
            break;
        case R_TOKEN:
            tokens_revoke(&c, arg);
            break;
        case R_WHOAMI:
            whoami(&c);
            break;
        case R_NONE:
            return -1;
        }
    }

    c.ev.status = r->status;
    if (r->srv->audit != NULL) {
        struct err ae = {0};
        if (r->srv->audit->ops->append(r->srv->audit, &c.ev, &ae) != 0)
            log_error("req=%s audit append failed (%s): %s", r->request_id, c.ev.action, ae.msg);
    }
    return 0;
}
