/* backend/route_admin.c: the admin API under /v1/ (docs/admin-api.md), what statectl talks to.
 *
 * Runs on worker threads, for authenticated requests only (router.c), so it may block on the
 * store, the lock store and the audit log. Every request that reaches a route produces exactly
 * one audit event carrying the status answered, built from the handler's result and appended
 * after the work is done: an export or a verify therefore never contains or checks its own
 * event, which keeps "events exported == requests made" exact for operators. A call that
 * changes something (token create and revoke, a webhook redelivery) appends its event ahead of
 * the change in closed mode (ops_audit_ahead), as the state operations do. Restore, move,
 * import, version deletion and force-unlock are state operations (ops.c), which record their
 * own event.
 *
 * A handler either answers (reply(), or a stream) and returns 0, or returns -1 with err set:
 * then route_admin_handle answers the error and records it. Roles: a read token may list and
 * read the states its pattern allows (states list is filtered, not refused); the outputs role
 * may read outputs only; restore needs write on that state; deleting a version, moving a
 * state, import, locks, audit and tokens need admin. Import is a state operation as well
 * (ops_import). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "backend/backend.h"
#include "common/json.h"
#include "common/log.h"
#include "common/statediff.h"
#include "common/statejson.h"
#include "common/utf8.h"

/* One admin request and the event it will leave. */
struct admin_call {
    struct backend_req *r;
    const struct ops *o;
    struct op_actor a;
    const char *arg;       /* what follows a route ending in '/' (a state or token name) */
    struct audit_event ev; /* status set by reply() or from the error */
    bool recorded;         /* a state operation appended its own event */
    bool ahead;            /* closed mode: the event went ahead of the change (ops_audit_ahead) */
};

typedef int (*admin_fn)(struct admin_call *c, struct err *err);

/* Answers v as JSON (takes the reference) and records the status for the event. */
static void reply(struct admin_call *c, int status, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    respond_json(c->r, status, s != NULL ? s : "null");
    free(s);
    json_decref(v);
    c->ev.status = status;
}

static char *query(const struct admin_call *c, const char *key)
{
    return backend_query_param(c->r->query, key);
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
 * client's lock info when it has them; "owner" is the identity that took it (authenticated). */
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
    json_object_set_new(o, "owner", str_json(h->owner));
    json_object_set_new(o, "created", time_json(h->created_us));
    json_object_set_new(o, "renewed", time_json(h->renewed_us));
    json_object_set_new(o, "expires", time_json(h->expires_us));
    /* The rest of the client's lock info, for the console's lock panel (null when absent). */
    static const char *const more[][2] = {
        {"info", "Info"}, {"version", "Version"}, {"path", "Path"}};
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
        const char *v = json_string_value(json_object_get(info, more[i][1]));
        json_object_set_new(o, more[i][0], v != NULL ? str_json(v) : json_null());
    }
    json_decref(info);
    return o;
}

static json_t *meta_json(const struct state_meta *m, bool as_snapshot)
{
    json_t *o = json_object();
    if (as_snapshot)
        json_object_set_new(o, "id", json_string(m->snapshot));
    json_object_set_new(o, "serial", u64_to_json(m->serial));
    json_object_set_new(o, "lineage", str_json(m->lineage));
    json_object_set_new(o, "sha256", json_string(m->sha256));
    json_object_set_new(o, "size", json_integer((json_int_t)m->size));
    json_object_set_new(o, as_snapshot ? "time" : "last_write", time_json(m->time_us));
    json_object_set_new(o, "writer", str_json(m->writer));
    if (!as_snapshot)
        json_object_set_new(o, "snapshot", json_string(m->snapshot));
    bool restored = m->restored_from[0] != '\0';
    json_object_set_new(o, "restored_from", restored ? json_string(m->restored_from) : json_null());
    json_object_set_new(o, "restored_by", restored ? str_json(m->restored_by) : json_null());
    json_object_set_new(o, "reason", restored ? str_json(m->reason) : json_null());
    return o;
}

/* Runs a state operation for this call: it records its own event; a refusal is answered here
 * (423 with the holder and the message when a lease is the reason). */
static bool run_op(struct admin_call *c, op_fn fn, const struct op_request *q,
                   struct op_result *res)
{
    c->recorded = true;
    if (fn(c->o, &c->a, q, res) == 0)
        return true;
    respond_op_error(c->r, res, res->err.msg);
    return false;
}

/* ------------------------------------------------------------------ states and snapshots */

/* GET /v1/states: every state the caller may read, or one page of them (limit, after) and
 * only the names containing q. */
struct states_ctx {
    struct admin_call *c;
    json_t *arr;
    json_t *locks; /* state -> lock object */
    const char *q, *after;
    size_t limit, n;           /* limit 0: all */
    bool more;                 /* a state beyond the page matched */
    char next[STATE_NAME_MAX]; /* the page's last name */
};

static int on_lock_entry(void *ctx, const struct lock_entry *e)
{
    json_object_set_new(ctx, e->state, lock_json(NULL, e->holder));
    return 0;
}

/* ASCII case-insensitive substring: what a filter box means. */
static bool name_contains(const char *name, const char *q)
{
    size_t n = strlen(q);
    for (const char *p = name; *p != '\0'; p++)
        if (strncasecmp(p, q, n) == 0)
            return true;
    return n == 0;
}

static bool want_state(void *ctx, const char *name)
{
    const struct states_ctx *sc = ctx;
    return auth_allows(&sc->c->r->who, AUTH_READ, name) &&
           (sc->after == NULL || strcmp(name, sc->after) > 0) &&
           (sc->q == NULL || name_contains(name, sc->q));
}

static int on_state(void *ctx, const char *name, const struct state_meta *m)
{
    struct states_ctx *sc = ctx;
    if (sc->limit > 0 && sc->n == sc->limit) {
        sc->more = true; /* one more than a page: there is a next one */
        return 1;
    }
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(name));
    json_t *mj = meta_json(m, false);
    json_object_update(o, mj);
    json_decref(mj);
    json_t *l = json_object_get(sc->locks, name);
    json_object_set(o, "lock", l != NULL ? l : json_null());
    json_array_append_new(sc->arr, o);
    snprintf(sc->next, sizeof(sc->next), "%s", name);
    sc->n++;
    return 0;
}

/* ?limit=N: 1..1000; absent: every state, as before paging existed. */
static int page_limit(const char *v, size_t max, size_t *out, struct err *err)
{
    char *end;
    long n = v != NULL ? strtol(v, &end, 10) : 0;
    *out = 0;
    if (v == NULL)
        return 0;
    if (v[0] == '\0' || *end != '\0' || n < 1 || (size_t)n > max)
        return err_set(err, ERR_INVALID, "limit must be a number from 1 to %zu", max);
    *out = (size_t)n;
    return 0;
}

static int states_list(struct admin_call *c, struct err *err)
{
    char *prefix = query(c, "prefix"), *limit = query(c, "limit");
    char *q = backend_query_nonempty(c->r, "q"), *after = backend_query_nonempty(c->r, "after");
    struct states_ctx sc = {
        .c = c, .arr = json_array(), .locks = json_object(), .q = q, .after = after};
    snprintf(c->ev.detail, sizeof(c->ev.detail), "states prefix=%.150s%s%.40s%s%.40s",
             prefix ? prefix : "", q ? " q=" : "", q ? q : "", after ? " after=" : "",
             after ? after : "");
    int rc = page_limit(limit, 1000, &sc.limit, err);
    if (rc == 0 && (c->o->locks->ops->list(c->o->locks, on_lock_entry, sc.locks, err) != 0 ||
                    store_list_states_where(c->o->store, prefix ? prefix : "", want_state, on_state,
                                            &sc, err) < 0))
        rc = -1;
    if (rc == 0) {
        if (sc.more)
            backend_add_header(c->r, "x-next-after", sc.next);
        reply(c, 200, json_incref(sc.arr));
    }
    json_decref(sc.arr);
    json_decref(sc.locks);
    free(prefix);
    free(limit);
    free(q);
    free(after);
    return rc;
}

static int on_snapshot(void *ctx, const struct state_meta *m)
{
    json_array_append_new(ctx, meta_json(m, true));
    return 0;
}

static int snapshots_list(struct admin_call *c, struct err *err)
{
    json_t *arr = json_array();
    int rc = -1;
    snprintf(c->ev.action, sizeof(c->ev.action), "snapshot-list");
    if (store_list_snapshots(c->o->store, c->arg, on_snapshot, arr, err) != 0)
        goto out;
    if (json_array_size(arr) == 0 &&
        store_head(c->o->store, c->arg, &(struct state_meta){0}, err) != 0) {
        err_clear(err);
        err_set(err, ERR_NOT_FOUND, "no state or snapshot named %s", c->arg);
        goto out;
    }
    reply(c, 200, json_incref(arr));
    rc = 0;
out:
    json_decref(arr);
    return rc;
}

static bool redact_requested(const struct admin_call *c)
{
    char *v = query(c, "redact");
    bool on = v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
    free(v);
    return on;
}

/* ?redact=1: the bytes sent lose their sensitive values (statejson_redact); the event keeps
 * the hash of the version read and says it was redacted. */
static int redact_in_place(struct admin_call *c, struct buf *b, struct err *err)
{
    struct buf red;
    buf_init(&red, 0);
    if (statejson_redact(b->data, b->len, &red, err) != 0) {
        buf_cleanup(&red);
        return -1;
    }
    buf_cleanup(b);
    *b = red;
    size_t n = strlen(c->ev.detail);
    snprintf(c->ev.detail + n, sizeof(c->ev.detail) - n, " (redacted)");
    return 0;
}

static int snapshot_read(struct admin_call *c, const char *ref, struct err *err)
{
    struct buf b;
    struct state_meta m;
    char id[64];
    snprintf(c->ev.detail, sizeof(c->ev.detail), "snapshot %.200s", ref);
    if (store_resolve_ref(c->o->store, c->arg, ref, id, err) != 0)
        return -1;
    if (strcmp(id, ref) != 0)
        snprintf(c->ev.detail, sizeof(c->ev.detail), "snapshot %s (%.150s)", id, ref);
    buf_init(&b, 0);
    if (store_get_snapshot(c->o->store, c->arg, id, &b, &m, err) != 0) {
        buf_cleanup(&b);
        return -1;
    }
    c->ev.serial = m.serial;
    c->ev.has_serial = true;
    snprintf(c->ev.lineage, sizeof(c->ev.lineage), "%s", m.lineage);
    snprintf(c->ev.sha256, sizeof(c->ev.sha256), "%s", m.sha256);
    c->ev.size = (int64_t)b.len;
    if (redact_requested(c) && redact_in_place(c, &b, err) != 0) {
        buf_cleanup(&b);
        return -1;
    }
    backend_add_header(c->r, "x-snapshot-id", id);
    respond_take(c->r, 200, "application/json", &b);
    c->ev.status = 200;
    return 0;
}

/* DELETE /v1/snapshots/NAME?id=REF&reason=TEXT */
static int snapshot_delete(struct admin_call *c)
{
    char *id = query(c, "id"), *reason = query(c, "reason");
    struct op_request q = {.state = c->arg, .snapshot = id, .reason = reason};
    struct op_result res;
    op_result_init(&res);
    if (run_op(c, ops_delete_version, &q, &res)) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(c->arg));
        json_t *m = meta_json(&res.meta, true);
        json_object_set_new(o, "deleted", m);
        json_object_set_new(o, "object_versions_removed", json_integer(res.count));
        json_object_set_new(o, "reason", str_json(reason));
        reply(c, 200, o);
    }
    op_result_cleanup(&res);
    free(id);
    free(reason);
    return 0;
}

static int snapshots_get(struct admin_call *c, struct err *err)
{
    if (strcmp(c->r->method, "DELETE") == 0)
        return snapshot_delete(c);
    if (!auth_allows(&c->r->who, AUTH_READ, c->arg))
        return err_set(err, ERR_FORBIDDEN, "token %s may not read %s", c->r->who.name, c->arg);
    char *id = query(c, "id");
    int rc = id == NULL ? snapshots_list(c, err) : snapshot_read(c, id, err);
    free(id);
    return rc;
}

/* POST /v1/restore/NAME?id=REF[&force=1][&reason=TEXT] */
static int restore(struct admin_call *c, struct err *err)
{
    char *id = query(c, "id"), *force = query(c, "force"), *reason = query(c, "reason");
    struct op_request q = {.state = c->arg,
                           .snapshot = id,
                           .reason = reason,
                           .force = force != NULL &&
                                    (strcmp(force, "1") == 0 || strcmp(force, "true") == 0)};
    struct op_result res;
    op_result_init(&res);
    if (run_op(c, ops_restore, &q, &res)) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(c->arg));
        json_object_set_new(o, "restored_from", json_string(res.restored_from));
        json_object_set_new(o, "snapshot", json_string(res.meta.snapshot));
        json_object_set_new(o, "serial", u64_to_json(res.meta.serial));
        json_object_set_new(o, "lineage", str_json(res.meta.lineage));
        json_object_set_new(o, "sha256", json_string(res.meta.sha256));
        json_object_set_new(o, "size", json_integer((json_int_t)res.meta.size));
        json_object_set_new(o, "reason",
                            reason != NULL && reason[0] ? str_json(reason) : json_null());
        json_object_set_new(o, "lock",
                            res.lock_left ? lock_json(NULL, &res.lock.holder) : json_null());
        reply(c, 200, o);
    }
    op_result_cleanup(&res);
    free(id);
    free(force);
    free(reason);
    (void)err;
    return 0;
}

/* ------------------------------------------------------------------ values: diff, outputs */

/* One version of c->arg as the value routes read it. */
struct version {
    struct state_meta meta;
    json_t *state; /* statediff_load's */
};

static void note_version(struct admin_call *c, const struct state_meta *m)
{
    c->ev.serial = m->serial;
    c->ev.has_serial = true;
    snprintf(c->ev.lineage, sizeof(c->ev.lineage), "%s", m->lineage);
    snprintf(c->ev.sha256, sizeof(c->ev.sha256), "%s", m->sha256);
}

/* Only the members outputs need are parsed (statejson_outputs_view), so the outputs of a huge
 * state cost little; when the view cannot be made the whole state is parsed, and
 * statediff_load says why it cannot be read. */
static void reduce_to_outputs(struct buf *b)
{
    struct buf view;
    struct err e = {0};
    buf_init(&view, 0);
    if (statejson_outputs_view(b->data, b->len, &view, &e) != 0) {
        buf_cleanup(&view);
        return;
    }
    buf_cleanup(b);
    *b = view;
}

/* The version ref names (store_resolve_ref), or the current state when ref is NULL, parsed
 * (only its outputs when outputs_only). ERR_INVALID when it cannot be looked into (not JSON,
 * OpenTofu-encrypted). */
static int load_version(struct admin_call *c, const char *ref, bool outputs_only, struct version *v,
                        struct err *err)
{
    struct buf b;
    int rc;
    memset(v, 0, sizeof(*v));
    buf_init(&b, 0);
    if (ref == NULL) {
        rc = store_get(c->o->store, c->arg, &b, &v->meta, err);
    } else {
        char id[64];
        rc = store_resolve_ref(c->o->store, c->arg, ref, id, err) != 0
                 ? -1
                 : store_get_snapshot(c->o->store, c->arg, id, &b, &v->meta, err);
    }
    if (rc == 0 && outputs_only)
        reduce_to_outputs(&b);
    if (rc == 0) {
        char label[160];
        snprintf(label, sizeof(label), "version %s of %.40s", v->meta.snapshot, c->arg);
        v->state = statediff_load(b.data != NULL ? b.data : "", b.len, label, err);
        rc = v->state != NULL ? 0 : -1;
    } else if (err->code == ERR_NOT_FOUND && ref == NULL) {
        err_clear(err);
        err_set(err, ERR_NOT_FOUND, "no state named '%s'", c->arg);
    }
    buf_cleanup(&b);
    return rc;
}

/* The names of the outputs of a state body; null when it cannot be looked into (not JSON, or
 * an OpenTofu-encrypted state). */
static json_t *output_names(const struct buf *b)
{
    json_t *st = json_loadb(b->data != NULL ? b->data : "", b->len, 0, NULL);
    json_t *outs = json_object_get(st, "outputs");
    json_t *names = json_is_object(outs) ? json_array() : json_null();
    for (void *it = json_is_object(outs) ? json_object_iter(outs) : NULL; it != NULL;
         it = json_object_iter_next(outs, it))
        json_array_append_new(names, str_json(json_object_iter_key(it)));
    json_decref(st);
    return names;
}

static int count_version(void *ctx, const struct state_meta *m)
{
    (void)m;
    (*(size_t *)ctx)++;
    return 0;
}

/* GET /v1/state-info/NAME: one state's metadata, lock, number of versions and output names. */
static int state_info(struct admin_call *c, struct err *err)
{
    struct buf b;
    struct state_meta m;
    struct lock_result lr;
    struct err le = {0};
    size_t versions = 0;
    int rc = -1;
    if (!auth_allows(&c->r->who, AUTH_READ, c->arg))
        return err_set(err, ERR_FORBIDDEN, "token %s may not read %s", c->r->who.name, c->arg);
    buf_init(&b, 0);
    lock_result_init(&lr);
    if (store_list_snapshots(c->o->store, c->arg, count_version, &versions, err) != 0)
        goto out;
    if (store_get(c->o->store, c->arg, &b, &m, err) != 0) {
        if (err->code == ERR_NOT_FOUND) {
            err_clear(err);
            err_set(err, ERR_NOT_FOUND, "no current state named %s (%zu versions kept)", c->arg,
                    versions);
        }
        goto out;
    }
    bool locked = c->o->locks->ops->get(c->o->locks, c->arg, &lr, &le) == 0;
    if (!locked && le.code != ERR_NOT_FOUND) {
        err_set(err, le.code, "%s", le.msg);
        goto out;
    }
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(c->arg));
    json_t *mj = meta_json(&m, false);
    json_object_update(o, mj);
    json_decref(mj);
    json_object_set_new(o, "lock", locked ? lock_json(NULL, &lr.holder) : json_null());
    json_object_set_new(o, "versions", json_integer((json_int_t)versions));
    json_object_set_new(o, "outputs", output_names(&b));
    snprintf(c->ev.sha256, sizeof(c->ev.sha256), "%s", m.sha256);
    c->ev.serial = m.serial;
    c->ev.has_serial = true;
    reply(c, 200, o);
    rc = 0;
out:
    lock_result_cleanup(&lr);
    buf_cleanup(&b);
    return rc;
}

static json_t *version_json(const struct version *v)
{
    return json_pack("{s:s,s:o}", "snapshot", v->meta.snapshot, "serial",
                     u64_to_json(v->meta.serial));
}

/* GET /v1/diff/NAME?from=REF&to=REF: the value-level diff (common/statediff.h) of two
 * versions, by default the one before the newest and the newest. */
static int diff(struct admin_call *c, struct err *err)
{
    if (!auth_allows(&c->r->who, AUTH_READ, c->arg))
        return err_set(err, ERR_FORBIDDEN, "token %s may not read %s", c->r->who.name, c->arg);
    char *from = query(c, "from"), *to = query(c, "to");
    const char *rf = from != NULL ? from : "latest~1", *rt = to != NULL ? to : "latest";
    struct version a = {0}, b = {0};
    int rc = -1;
    snprintf(c->ev.detail, sizeof(c->ev.detail), "diff from %.100s to %.100s", rf, rt);
    if (load_version(c, rf, false, &a, err) == 0 && load_version(c, rt, false, &b, err) == 0) {
        json_t *d = statediff_compute(a.state, b.state);
        json_t *o = json_pack("{s:s,s:o,s:o}", "name", c->arg, "from", version_json(&a), "to",
                              version_json(&b));
        json_object_update(o, d);
        json_decref(d);
        note_version(c, &b.meta);
        snprintf(c->ev.detail, sizeof(c->ev.detail), "diff from %s to %s", a.meta.snapshot,
                 b.meta.snapshot);
        reply(c, 200, o);
        rc = 0;
    }
    json_decref(a.state);
    json_decref(b.state);
    free(from);
    free(to);
    return rc;
}

/* GET /v1/outputs/NAME[?at=REF]: what terraform_remote_state would read, with sensitive values
 * null; for the outputs role as for every reader. */
static int outputs(struct admin_call *c, struct err *err)
{
    const struct auth_identity *w = &c->r->who;
    if (!auth_allows(w, AUTH_READ, c->arg) && !auth_allows(w, AUTH_READ_OUTPUTS, c->arg))
        return err_set(err, ERR_FORBIDDEN, "token %s may not read the outputs of %s", w->name,
                       c->arg);
    char *at = query(c, "at");
    struct version v;
    int rc = load_version(c, at, true, &v, err);
    snprintf(c->ev.detail, sizeof(c->ev.detail), "outputs at %.100s", at != NULL ? at : "current");
    if (rc == 0) {
        json_t *o = json_pack("{s:o,s:s,s:s,s:o}", "serial", u64_to_json(v.meta.serial), "lineage",
                              v.meta.lineage, "snapshot", v.meta.snapshot, "outputs",
                              statediff_outputs(v.state));
        note_version(c, &v.meta);
        reply(c, 200, o != NULL ? o : json_object());
    }
    json_decref(v.state);
    free(at);
    return rc;
}

/* POST /v1/move/OLD?to=NEW */
static int move(struct admin_call *c, struct err *err)
{
    char *to = query(c, "to");
    if (to == NULL || state_name_check(to, strlen(to), err) != 0) {
        if (to == NULL)
            err_set(err, ERR_INVALID, "a move needs ?to=NEW");
        free(to);
        return -1;
    }
    struct op_request q = {.state = c->arg, .to = to};
    struct op_result res;
    op_result_init(&res);
    if (run_op(c, ops_move, &q, &res)) {
        json_t *o = json_object();
        json_object_set_new(o, "from", json_string(c->arg));
        json_object_set_new(o, "to", json_string(to));
        json_object_set_new(o, "objects_copied", json_integer(res.count));
        reply(c, 200, o);
    }
    op_result_cleanup(&res);
    free(to);
    return 0;
}

/* POST /v1/import/NAME[?source=TEXT] with the state as the body */
static int import_state(struct admin_call *c, struct err *err)
{
    char *source = query(c, "source");
    struct op_request q = {.state = c->arg,
                           .body = c->r->body,
                           .body_len = c->r->body_len,
                           .content_md5 = c->r->content_md5,
                           .source = source};
    struct op_result res;
    op_result_init(&res);
    if (run_op(c, ops_import, &q, &res)) {
        bool imported = res.duplicate_of[0] == '\0';
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(c->arg));
        json_object_set_new(o, "imported", json_boolean(imported));
        json_object_set_new(o, "snapshot",
                            json_string(imported ? res.meta.snapshot : res.duplicate_of));
        if (imported) {
            json_object_set_new(o, "serial", u64_to_json(res.meta.serial));
            json_object_set_new(o, "sha256", json_string(res.meta.sha256));
            json_object_set_new(o, "unchanged", json_boolean(res.unchanged));
        }
        reply(c, 200, o);
    }
    op_result_cleanup(&res);
    free(source);
    (void)err;
    return 0;
}

/* ------------------------------------------------------------------ locks */

struct locks_ctx {
    struct admin_call *c;
    json_t *arr;
};

static int on_lock_row(void *ctx, const struct lock_entry *e)
{
    struct locks_ctx *lc = ctx;
    if (auth_allows(&lc->c->r->who, AUTH_READ, e->state))
        json_array_append_new(lc->arr, lock_json(e->state, e->holder));
    return 0;
}

static int locks_list(struct admin_call *c, struct err *err)
{
    struct locks_ctx lc = {.c = c, .arr = json_array()};
    int rc = -1;
    snprintf(c->ev.detail, sizeof(c->ev.detail), "locks");
    if (c->o->locks->ops->list(c->o->locks, on_lock_row, &lc, err) == 0) {
        reply(c, 200, json_incref(lc.arr));
        rc = 0;
    }
    json_decref(lc.arr);
    return rc;
}

/* DELETE /v1/locks/NAME[?id=ID][&reason=TEXT]: an admin's, or a holder's or writer's as
 * --force-unlock allows (ops_force_unlock). */
static int force_unlock(struct admin_call *c, struct err *err)
{
    char *id = query(c, "id"), *reason = query(c, "reason");
    struct op_request q = {.state = c->arg, .lock_id = id, .reason = reason};
    struct op_result res;
    op_result_init(&res);
    if (run_op(c, ops_force_unlock, &q, &res)) {
        bool released = res.lock.outcome == LOCK_RELEASED;
        json_t *o = json_object();
        json_object_set_new(o, "state", json_string(c->arg));
        json_object_set_new(o, "released", json_boolean(released));
        if (released) {
            json_t *l = lock_json(NULL, &res.lock.previous);
            json_object_update(o, l);
            json_decref(l);
        }
        json_object_set_new(o, "reason",
                            reason != NULL && reason[0] ? str_json(reason) : json_null());
        reply(c, 200, o);
    }
    op_result_cleanup(&res);
    free(id);
    free(reason);
    (void)err;
    return 0;
}

/* ------------------------------------------------------------------ audit */

static int export_sink(void *ctx, const char *data, size_t len)
{
    return backend_stream_write(ctx, data, len) == 0 ? 0 : 1;
}

/* The export's filter from since, until and state; ERR_INVALID for a bad time. */
static int export_filter(const char *since, const char *until, const char *state,
                         struct audit_filter *f, struct err *err)
{
    memset(f, 0, sizeof(*f));
    f->has_since = since != NULL;
    f->has_until = until != NULL;
    if ((since != NULL && time_parse_rfc3339(since, &f->since_us) != 0) ||
        (until != NULL && time_parse_rfc3339(until, &f->until_us) != 0))
        return err_set(err, ERR_INVALID, "since and until must be RFC 3339 times or dates");
    if (state != NULL && state[0] != '\0')
        f->state_pattern = state;
    return 0;
}

/* Streams the export. The status is sent first: an export that fails later ends short, and
 * its event says so (the log says why). */
static void export_stream(struct admin_call *c, const struct audit_filter *f, enum audit_format af)
{
    struct backend_req *r = c->r;
    struct err e = {0};
    r->status = 200;
    c->ev.status = 200;
    backend_add_header(r, "content-type",
                       af == AUDIT_CSV ? "text/csv; charset=utf-8" : "application/x-ndjson");
    backend_add_header(r, "cache-control", "no-store");
    if (backend_stream_begin(r) != 0)
        return;
    if (c->o->audit->ops->export(c->o->audit, f, af, export_sink, r, &e) != 0) {
        const char *why = e.code != ERR_OK ? e.msg : "client went away";
        log_error("req=%s audit export ended early: %s", r->request_id, why);
        snprintf(c->ev.detail, sizeof(c->ev.detail), "export ended early: %.200s", why);
    }
}

static int audit_export(struct admin_call *c, struct err *err)
{
    char *since = query(c, "since"), *until = query(c, "until"), *state = query(c, "state");
    char *fmt = query(c, "format");
    struct audit_filter f;
    int rc = -1;
    snprintf(c->ev.detail, sizeof(c->ev.detail), "format=%.8s since=%.40s until=%.40s state=%.100s",
             fmt ? fmt : "jsonl", since ? since : "", until ? until : "", state ? state : "");
    enum audit_format af = fmt != NULL && strcmp(fmt, "csv") == 0 ? AUDIT_CSV : AUDIT_JSONL;
    if (fmt != NULL && af != AUDIT_CSV && strcmp(fmt, "jsonl") != 0)
        err_set(err, ERR_INVALID, "format must be jsonl or csv");
    else if (export_filter(since, until, state, &f, err) == 0)
        rc = 0;
    if (rc == 0)
        export_stream(c, &f, af);
    free(since);
    free(until);
    free(state);
    free(fmt);
    return rc;
}

/* GET /v1/audit/events: one page of events, newest first, for the console. The export (the
 * drivers' one reading path, in chain order) is filtered by time and state pattern there and by
 * actor, action and before=SEQ here, keeping only the newest `limit` matches; an export that
 * reaches before=SEQ is stopped, so older pages read less. */
struct events_ctx {
    struct buf carry; /* a line cut by a chunk boundary */
    char **ring;      /* the newest matching lines so far, ring[(head + i) % limit] oldest first */
    size_t limit, n, head;
    bool more; /* an older match was dropped from the ring */
    const char *actor, *action;
    uint64_t before; /* 0: none */
};

/* The actor and action filters need the event parsed; without them a line is only copied. */
static bool event_matches(const struct events_ctx *ec, const char *line, size_t len)
{
    if (ec->actor == NULL && ec->action == NULL)
        return true;
    json_t *ev = json_loadb(line, len, 0, NULL);
    const char *actor = json_string_value(json_object_get(ev, "actor"));
    const char *action = json_string_value(json_object_get(ev, "action"));
    bool ok = (ec->actor == NULL || (actor != NULL && strstr(actor, ec->actor) != NULL)) &&
              (ec->action == NULL || (action != NULL && strcmp(action, ec->action) == 0));
    json_decref(ev);
    return ok;
}

/* One canonical line, which starts {"seq":N (audit_event_canonical): 1 once it is at or past
 * before=SEQ (the export may stop). */
static int event_line(struct events_ctx *ec, const char *line, size_t len)
{
    static const char head[] = "{\"seq\":";
    if (len <= sizeof(head) || memcmp(line, head, sizeof(head) - 1) != 0)
        return 0;
    uint64_t seq = strtoull(line + sizeof(head) - 1, NULL, 10);
    if (ec->before != 0 && seq >= ec->before)
        return 1;
    if (seq == 0 || !event_matches(ec, line, len))
        return 0;
    char *copy = xstrndup(line, len);
    if (ec->n == ec->limit) {
        free(ec->ring[ec->head]);
        ec->ring[ec->head] = copy;
        ec->head = (ec->head + 1) % ec->limit;
        ec->more = true;
    } else {
        ec->ring[(ec->head + ec->n++) % ec->limit] = copy;
    }
    return 0;
}

static int events_sink(void *ctx, const char *data, size_t len)
{
    struct events_ctx *ec = ctx;
    struct err e = {0};
    if (buf_append(&ec->carry, data, len, &e) != 0)
        return -1;
    size_t start = 0;
    int stop = 0;
    for (size_t i = 0; i < ec->carry.len && !stop; i++) {
        if (ec->carry.data[i] != '\n')
            continue;
        stop = event_line(ec, ec->carry.data + start, i - start);
        start = i + 1;
    }
    memmove(ec->carry.data, ec->carry.data + start, ec->carry.len - start);
    ec->carry.len -= start;
    return stop;
}

/* The page, newest first (each event with "user" beside "username"), and where the next
 * (older) one starts. */
static json_t *events_page(struct events_ctx *ec)
{
    json_t *arr = json_array(), *next = json_null();
    for (size_t i = ec->n; i-- > 0;) {
        json_t *ev = json_loads(ec->ring[(ec->head + i) % ec->limit], 0, NULL);
        if (ev == NULL)
            continue;
        json_object_set(ev, "user", json_object_get(ev, "username"));
        json_t *seq = json_object_get(ev, "seq");
        if (i == 0 && ec->more && seq != NULL) { /* the oldest of the page */
            json_decref(next);
            next = json_incref(seq);
        }
        json_array_append_new(arr, ev);
    }
    return json_pack("{s:o,s:o}", "events", arr, "next_before", next);
}

static int events_params(struct admin_call *c, struct events_ctx *ec, char **v, struct err *err)
{
    /* v: since, until, state, actor, action, limit, before */
    static const char *const keys[] = {"since",  "until", "state", "actor",
                                       "action", "limit", "before"};
    for (size_t i = 0; i < 7; i++)
        v[i] = backend_query_nonempty(c->r, keys[i]);
    ec->actor = v[3];
    ec->action = v[4];
    if (page_limit(v[5], 500, &ec->limit, err) != 0)
        return -1;
    if (ec->limit == 0)
        ec->limit = 50;
    char *end;
    unsigned long long b = v[6] != NULL ? strtoull(v[6], &end, 10) : 0;
    if (v[6] != NULL && (*end != '\0' || b == 0 || v[6][0] == '-'))
        return err_set(err, ERR_INVALID, "before must be an event's seq (a positive number)");
    ec->before = b;
    snprintf(c->ev.detail, sizeof(c->ev.detail),
             "events state=%.60s actor=%.40s action=%.20s since=%.32s until=%.32s before=%.20s",
             v[2] ? v[2] : "", v[3] ? v[3] : "", v[4] ? v[4] : "", v[0] ? v[0] : "",
             v[1] ? v[1] : "", v[6] ? v[6] : "");
    return 0;
}

static int audit_events(struct admin_call *c, struct err *err)
{
    char *v[7];
    struct events_ctx ec = {0};
    struct audit_filter f;
    buf_init(&ec.carry, 0);
    int rc = events_params(c, &ec, v, err);
    if (rc == 0)
        rc = export_filter(v[0], v[1], v[2], &f, err);
    if (rc == 0) {
        ec.ring = xcalloc(ec.limit, sizeof(*ec.ring));
        rc = c->o->audit->ops->export(c->o->audit, &f, AUDIT_JSONL, events_sink, &ec, err);
        if (rc > 0)
            rc = 0; /* stopped at before=SEQ */
        else if (rc == 0 && ec.carry.len > 0)
            events_sink(&ec, "\n", 1); /* a last line without its newline */
    }
    if (rc == 0)
        reply(c, 200, events_page(&ec));
    for (size_t i = 0; i < ec.n; i++)
        free(ec.ring[(ec.head + i) % ec.limit]);
    free(ec.ring);
    buf_cleanup(&ec.carry);
    for (size_t i = 0; i < 7; i++)
        free(v[i]);
    return rc < 0 ? -1 : 0;
}

static int audit_verify(struct admin_call *c, struct err *err)
{
    struct audit_verify_result vr = {0};
    struct audit_anchors anchors = {0};
    /* The newest anchors are enough: a removed tail or a rewritten chain disagrees with the
     * newest one already; older ones name where a rewrite began, within their range. */
    if (anchors_load_store(store_objstore(c->o->store), 256, c->o->audit_key, &anchors, err) != 0) {
        audit_anchors_cleanup(&anchors);
        return -1;
    }
    vr.anchors = &anchors;
    int rc = c->o->audit->ops->verify(c->o->audit, &vr, err);
    if (rc == 0)
        audit_anchors_final(&vr);
    size_t n_anchors = anchors.n;
    uint64_t anchored = anchors.n ? anchors.v[anchors.n - 1].seq : 0;
    audit_anchors_cleanup(&anchors);
    vr.anchors = NULL;
    if (rc != 0)
        return -1;
    snprintf(c->ev.detail, sizeof(c->ev.detail), "%llu events, first broken %llu",
             (unsigned long long)vr.events, (unsigned long long)vr.first_broken);
    json_t *o = json_object();
    json_object_set_new(o, "ok", json_boolean(vr.first_broken == 0));
    json_object_set_new(o, "events", json_integer((json_int_t)vr.events));
    json_object_set_new(o, "first_broken", json_integer((json_int_t)vr.first_broken));
    json_object_set_new(o, "reason", str_json(vr.reason));
    json_object_set_new(o, "last_seq", json_integer((json_int_t)vr.last_seq));
    json_object_set_new(o, "anchors", json_integer((json_int_t)n_anchors));
    json_object_set_new(o, "anchored_seq", json_integer((json_int_t)anchored));
    reply(c, 200, o);
    return 0;
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
    json_object_set_new(o, "expires", time_json(t->expires_us));
    json_object_set_new(o, "last_used", time_json(t->last_used_us));
    json_object_set_new(o, "last_used_from",
                        t->last_used_us != 0 ? str_json(t->last_used_from) : json_null());
    json_array_append_new(ctx, o);
    return 0;
}

static int tokens_list(struct admin_call *c, struct err *err)
{
    json_t *arr = json_array();
    int rc = auth_token_list(on_token, arr, err);
    if (rc == 0)
        reply(c, 200, json_incref(arr));
    json_decref(arr);
    return rc == 0 ? 0 : -1;
}

static int tokens_create(struct admin_call *c, struct err *err)
{
    struct backend_req *r = c->r;
    json_error_t je;
    json_t *req = r->body ? json_loadb(r->body, r->body_len, 0, &je) : NULL;
    const char *name = json_string_value(json_object_get(req, "name"));
    const char *role = json_string_value(json_object_get(req, "role"));
    const char *states = json_string_value(json_object_get(req, "states"));
    json_t *expires = json_object_get(req, "expires");
    struct auth_token_spec spec = {.name = name, .role = role, .pattern = states};
    char secret[44];
    int rc = -1;
    if (name == NULL || role == NULL || states == NULL ||
        (expires != NULL && !json_is_string(expires) && !json_is_null(expires))) {
        err_set(err, ERR_INVALID,
                "body must be a JSON object with string name, role and states (and optionally "
                "expires: a duration such as 30d or an RFC 3339 time)");
        goto out;
    }
    if (json_is_string(expires) &&
        auth_parse_expiry(json_string_value(expires), now_us(), &spec.expires_us, err) != 0)
        goto out;
    snprintf(c->ev.detail, sizeof(c->ev.detail), "token %.64s role %.8s states %.150s", name, role,
             states);
    if (ops_audit_ahead(c->o, &c->ev, 201, &c->ahead, err) != 0 ||
        auth_token_create(&spec, secret, err) != 0)
        goto out;
    json_t *answer = json_pack("{s:s,s:s,s:s,s:s}", "name", name, "role", role, "states", states,
                               "token", secret);
    json_object_set_new(answer, "expires", time_json(spec.expires_us));
    reply(c, 201, answer);
    memset(secret, 0, sizeof(secret));
    rc = 0;
out:
    json_decref(req);
    return rc;
}

static int tokens(struct admin_call *c, struct err *err)
{
    if (strcmp(c->r->method, "POST") != 0)
        return tokens_list(c, err);
    snprintf(c->ev.action, sizeof(c->ev.action), "token-create");
    return tokens_create(c, err);
}

static int tokens_revoke(struct admin_call *c, struct err *err)
{
    snprintf(c->ev.detail, sizeof(c->ev.detail), "token %.64s", c->arg);
    if (ops_audit_ahead(c->o, &c->ev, 200, &c->ahead, err) != 0 ||
        auth_token_revoke(c->arg, err) != 0)
        return -1;
    reply(c, 200, json_pack("{s:s,s:b}", "name", c->arg, "revoked", 1));
    return 0;
}

static int whoami(struct admin_call *c, struct err *err)
{
    const struct auth_identity *w = &c->r->who;
    /* The Basic username is whatever bytes the client sent: those that are not UTF-8 are
     * shown escaped, never dropped. */
    char username[4 * sizeof(w->username)];
    utf8_escape(username, sizeof(username), w->username);
    (void)err;
    json_t *o = json_object();
    json_object_set_new(o, "name", str_json(w->name));
    json_object_set_new(o, "username", str_json(username));
    json_object_set_new(o, "role", str_json(auth_role_name(w->role)));
    json_object_set_new(o, "states", str_json(w->pattern));
    if (w->issuer[0] != '\0') { /* a JWT's: what a CI job needs to see to debug its rules */
        json_object_set_new(o, "issuer", str_json(w->issuer));
        json_object_set_new(o, "subject", str_json(w->subject));
    }
    reply(c, 200, o);
    return 0;
}

/* ------------------------------------------------------------------ webhooks */

static int webhooks_get(struct admin_call *c, struct err *err)
{
    (void)err;
    reply(c, 200, json_pack("{s:o}", "webhooks", webhooks_list_json(c->r->srv->webhooks)));
    return 0;
}

/* /v1/webhooks/NAME/deliveries (GET, ?failed=1) and /v1/webhooks/NAME/redeliver?id=ID (POST). */
static int webhook_one(struct admin_call *c, struct err *err)
{
    char name[WEBHOOK_NAME_MAX];
    const char *slash = strchr(c->arg, '/');
    size_t n = slash != NULL ? (size_t)(slash - c->arg) : 0;
    if (slash == NULL || n == 0 || n >= sizeof(name))
        return err_set(err, ERR_NOT_FOUND, "expected /v1/webhooks/NAME/deliveries or /redeliver");
    memcpy(name, c->arg, n);
    name[n] = '\0';
    bool post = strcmp(c->r->method, "POST") == 0;
    if (strcmp(slash, "/deliveries") == 0 && !post) {
        char *failed = query(c, "failed");
        json_t *d = webhooks_deliveries_json(c->r->srv->webhooks, name,
                                             failed != NULL && strcmp(failed, "0") != 0, err);
        free(failed);
        if (d == NULL)
            return -1;
        reply(c, 200, json_pack("{s:s,s:o}", "webhook", name, "deliveries", d));
        return 0;
    }
    if (strcmp(slash, "/redeliver") != 0 || !post)
        return err_set(err, ERR_METHOD, "%s is not allowed on %.60s", c->r->method, c->r->path);
    snprintf(c->ev.action, sizeof(c->ev.action), "webhook-redeliver");
    char *id = query(c, "id");
    snprintf(c->ev.detail, sizeof(c->ev.detail), "webhook %.60s delivery %.100s", name,
             id != NULL ? id : "");
    int rc = id == NULL ? err_set(err, ERR_INVALID, "redeliver needs ?id=DELIVERY")
             : ops_audit_ahead(c->o, &c->ev, 202, &c->ahead, err) != 0
                 ? -1
                 : webhooks_redeliver(c->r->srv->webhooks, name, id, err);
    if (rc == 0)
        reply(c, 202, json_pack("{s:s,s:s,s:b}", "webhook", name, "id", id, "queued", 1));
    free(id);
    return rc;
}

/* ------------------------------------------------------------------ dispatch */

static const struct admin_route {
    const char *path;  /* exact, or a prefix when it ends with '/' */
    const char *label; /* the metrics' route (docs/metrics.md) */
    const char *allow;
    const char *action;
    enum auth_action need; /* checked here; per-state checks happen in the handler */
    bool arg_is_state;     /* the path's tail is a state name (checked before the handler) */
    admin_fn fn;
} admin_routes[] = {
    {"/v1/states", "admin:states", "GET", "list", AUTH_READ, false, states_list},
    {"/v1/state-info/", "admin:state-info", "GET", "state-info", AUTH_READ, true, state_info},
    {"/v1/snapshots/", "admin:snapshots", "GET, DELETE", "snapshot-read", AUTH_READ, true,
     snapshots_get},
    {"/v1/restore/", "admin:restore", "POST", "restore", AUTH_WRITE, true, restore},
    {"/v1/diff/", "admin:diff", "GET", "diff", AUTH_READ, true, diff},
    {"/v1/outputs/", "admin:outputs", "GET", "outputs", AUTH_READ_OUTPUTS, true, outputs},
    {"/v1/move/", "admin:move", "POST", "state-move", AUTH_ADMIN, true, move},
    {"/v1/import/", "admin:import", "POST", "import", AUTH_ADMIN, true, import_state},
    {"/v1/locks", "admin:locks", "GET", "lock-list", AUTH_READ, false, locks_list},
    {"/v1/locks/", "admin:force-unlock", "DELETE", "force-unlock", AUTH_LOCK, true, force_unlock},
    {"/v1/audit/export", "admin:audit-export", "GET", "export", AUTH_ADMIN, false, audit_export},
    {"/v1/audit/verify", "admin:audit-verify", "GET", "audit-verify", AUTH_ADMIN, false,
     audit_verify},
    {"/v1/audit/events", "admin:audit-events", "GET", "audit-events", AUTH_ADMIN, false,
     audit_events},
    {"/v1/tokens", "admin:tokens", "GET, POST", "token-list", AUTH_ADMIN, false, tokens},
    {"/v1/tokens/", "admin:tokens", "DELETE", "token-revoke", AUTH_ADMIN, false, tokens_revoke},
    {"/v1/webhooks", "admin:webhooks", "GET", "webhook-list", AUTH_ADMIN, false, webhooks_get},
    {"/v1/webhooks/", "admin:webhooks", "GET, POST", "webhook-deliveries", AUTH_ADMIN, false,
     webhook_one},
    {"/v1/whoami", "admin:whoami", "GET", "whoami", AUTH_READ, false, whoami},
};

static bool method_allowed(const char *allow, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += n)
        if ((p == allow || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
            return true;
    return false;
}

/* The route for path, and in *arg what follows a prefix route; NULL when none matches. */
static const struct admin_route *match(const char *path, const char **arg)
{
    size_t nroutes = sizeof(admin_routes) / sizeof(admin_routes[0]);
    *arg = NULL;
    for (size_t k = 0; k < nroutes; k++) {
        const char *p = admin_routes[k].path;
        size_t n = strlen(p);
        if (p[n - 1] != '/' && strcmp(path, p) == 0)
            return &admin_routes[k];
        if (p[n - 1] == '/' && strncmp(path, p, n) == 0 && path[n] != '\0') {
            *arg = path + n;
            return &admin_routes[k];
        }
    }
    return NULL;
}

/* What is checked before any handler runs: the method (405), a state name in the path (400)
 * and the route's role (403). */
static int route_check(const struct admin_call *c, const struct admin_route *rt, struct err *err)
{
    const struct backend_req *r = c->r;
    if (!method_allowed(rt->allow, r->method))
        return err_set(err, ERR_METHOD, "%s is not allowed on %.60s", r->method, r->path);
    if (rt->arg_is_state && state_name_check(c->arg, strlen(c->arg), err) != 0)
        return -1;
    if (!auth_allows(&r->who, rt->need, NULL))
        return err_set(err, ERR_FORBIDDEN, "token %s (role %s) may not do this", r->who.name,
                       auth_role_name(r->who.role));
    return 0;
}

const char *route_admin_label(const char *path)
{
    const char *arg;
    const struct admin_route *rt = match(path, &arg);
    return rt != NULL ? rt->label : "other";
}

int route_admin_handle(struct backend_req *r)
{
    struct admin_call c = {.r = r, .o = &r->srv->ops, .a = backend_actor(r)};
    const struct admin_route *rt = match(r->path, &c.arg);
    if (rt == NULL)
        return -1;
    struct err e = {0};
    ops_event_init(&c.a, &c.ev, rt->action);
    if (rt->arg_is_state) {
        snprintf(c.ev.state, sizeof(c.ev.state), "%s", c.arg);
        utf8_sanitize(r->state, sizeof(r->state), c.arg); /* checked below, logged anyway */
    }
    if (route_check(&c, rt, &e) != 0 || rt->fn(&c, &e) != 0) {
        respond_err(r, &e, rt->allow);
        c.ev.status = err_http_status(e.code == ERR_OK ? ERR_INTERNAL : e.code);
        if (c.ev.detail[0] == '\0')
            snprintf(c.ev.detail, sizeof(c.ev.detail), "%s",
                     e.msg[0] != '\0' ? e.msg : err_text(e.code));
    }
    /* Listings and reads changed nothing: appended after. A change (tokens, a redelivery) went
     * ahead in closed mode, and gets its "not applied" event when it then failed. */
    if (!c.recorded)
        ops_audit_after(c.o, &c.ev, c.ahead, c.ev.status < 300, c.ev.status, &e,
                        strcmp(r->method, "GET") == 0 || c.ev.status >= 300);
    return 0;
}
