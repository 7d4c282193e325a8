/* backend/routes.c: the client protocol (DESIGN.md "The client protocol"), on worker threads.
 *
 *   GET     /v1/states/NAME              current state bytes (404 when none)
 *   POST|PUT /v1/states/NAME[?ID=lock]   write a state
 *   DELETE  /v1/states/NAME[?ID=lock]    delete the current state (snapshots kept)
 *   LOCK    /v1/states/NAME[/lock]       take the lock (body: lock info JSON)
 *   UNLOCK  /v1/states/NAME[/lock]       release it (empty body: force)
 *   POST    /v1/states/NAME/lock         LOCK, GitLab layout
 *   DELETE  /v1/states/NAME/lock         UNLOCK, GitLab layout
 *
 * Every state request is authenticated first, then its name is checked (400 before any storage
 * access), then the token's role and pattern (403), then the action runs. Each one ends with
 * one audit event carrying the status answered. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "backend/backend.h"
#include "common/log.h"
#include "common/statejson.h"
#include "common/util.h"

#define STATES_PREFIX "/v1/states/"
#define LOCK_BODY_MAX (64 * 1024)

/* ------------------------------------------------------------------ pure helpers */

int state_path_parse(const char *path, struct state_path *out, struct err *err)
{
    size_t plen = strlen(STATES_PREFIX);
    memset(out, 0, sizeof(*out));
    if (strncmp(path, STATES_PREFIX, plen) != 0)
        return err_set(err, ERR_NOT_FOUND, "not a state URL");
    const char *name = path + plen;
    size_t len = strlen(name);
    /* The last segment of a state name is never "lock", so ".../lock" is always the lock URL. */
    if (len > 5 && memcmp(name + len - 5, "/lock", 5) == 0) {
        out->lock_url = true;
        len -= 5;
    }
    if (state_name_check(name, len, err) != 0)
        return -1;
    memcpy(out->name, name, len);
    out->name[len] = '\0';
    return 0;
}

static int unhex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s+n) into a new string; '+' is a space (form encoding, as Go's
 * url.Values.Encode produces). A '%' not followed by two hex digits is kept as is. */
static char *pct_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && unhex(s[i + 1]) >= 0 && unhex(s[i + 2]) >= 0) {
            out[o++] = (char)(unhex(s[i + 1]) * 16 + unhex(s[i + 2]));
            i += 2;
        } else if (s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

char *backend_query_param(const char *query, const char *key)
{
    if (query == NULL)
        return NULL;
    const char *p = query;
    while (*p != '\0') {
        const char *amp = strchr(p, '&');
        size_t plen = amp != NULL ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq != NULL ? (size_t)(eq - p) : plen;
        char *k = pct_decode(p, klen);
        bool match = strcmp(k, key) == 0;
        free(k);
        if (match)
            return eq != NULL ? pct_decode(eq + 1, plen - klen - 1) : xstrdup("");
        if (amp == NULL)
            break;
        p = amp + 1;
    }
    return NULL;
}

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

int lock_body_parse(const char *body, size_t len, struct lock_body *out, struct err *err)
{
    memset(out, 0, sizeof(*out));
    if (body == NULL || is_blank(body, len))
        return err_set(err, ERR_INVALID, "lock body required: lock info JSON with an \"ID\"");
    if (len > LOCK_BODY_MAX)
        return err_set(err, ERR_INVALID, "lock info larger than %d bytes", LOCK_BODY_MAX);
    json_error_t je;
    json_t *o = json_loadb(body, len, 0, &je);
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
        json_t *created = lock_info_field(o, "Created");
        bool created_zero = created == NULL || json_is_null(created) ||
                            (json_is_string(created) &&
                             (json_string_length(created) == 0 ||
                              strncmp(json_string_value(created), "0001-01-01T00:00:00", 19) == 0));
        out->zero_fields = created_zero && empty_string_field(o, "Operation") &&
                           empty_string_field(o, "Info") && empty_string_field(o, "Who") &&
                           empty_string_field(o, "Version") && empty_string_field(o, "Path");
        rc = 0;
    }
    json_decref(o);
    return rc;
}

/* ------------------------------------------------------------------ request context */

void backend_audit_init(const struct backend_req *r, struct audit_event *ev, const char *action)
{
    audit_event_init(ev);
    ev->time_us = now_us();
    snprintf(ev->request_id, sizeof(ev->request_id), "%s", r->request_id);
    snprintf(ev->actor, sizeof(ev->actor), "%s", r->authenticated ? r->who.name : "");
    snprintf(ev->username, sizeof(ev->username), "%s", r->authenticated ? r->who.username : "");
    snprintf(ev->remote, sizeof(ev->remote), "%s", r->remote);
    snprintf(ev->action, sizeof(ev->action), "%s", action);
}

static void audit_append(struct backend_req *r, struct audit_event *ev)
{
    struct err e = {0};
    ev->status = r->status;
    if (ev->detail[0] == '\0' && r->status >= 400)
        snprintf(ev->detail, sizeof(ev->detail), "%s", r->error);
    /* Reads and refused requests changed nothing: their events need not wait for the disk
     * flush (audit.h), which keeps GET throughput off the fdatasync path. */
    ev->deferred_sync = strcmp(ev->action, "get") == 0 || r->status >= 300;
    if (r->srv->audit == NULL)
        return;
    if (r->srv->audit->ops->append(r->srv->audit, ev, &e) != 0)
        log_error("req=%s audit append failed (%s): %s", r->request_id, ev->action, e.msg);
}

static void respond_locked(struct backend_req *r, const struct lock_holder *h)
{
    char *info = lock_holder_info_json(h);
    snprintf(r->error, sizeof(r->error), "held by ID %.200s", h->id);
    respond_json(r, 423, info);
    free(info);
}

/* 423 on a lock conflict: the holder's info when a live lease exists, else the error JSON. */
static void respond_lock_err(struct backend_req *r, const struct err *e,
                             const struct lock_result *res)
{
    if (e->code == ERR_LOCKED && res->holder.id[0] != '\0')
        respond_locked(r, &res->holder);
    else
        respond_err(r, e, NULL);
}

static void writer_name(const struct backend_req *r, char *out, size_t cap)
{
    if (r->who.username[0] != '\0')
        snprintf(out, cap, "%s/%s", r->who.name, r->who.username);
    else
        snprintf(out, cap, "%s", r->who.name);
}

/* ------------------------------------------------------------------ actions */

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
    int hi = unhex(sha256[0]), lo = unhex(sha256[1]);
    unsigned slot = hi < 0 || lo < 0 ? 0 : (unsigned)(hi * 16 + lo) % MD5_SLOTS;
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

static void do_get(struct backend_req *r, const char *name, struct audit_event *ev)
{
    struct err e = {0};
    struct blob *b = NULL;
    struct state_meta m;
    memset(&m, 0, sizeof(m));
    if (store_get_shared(r->srv->store, name, &b, &m, &e) != 0) {
        if (e.code == ERR_NOT_FOUND)
            respond_error(r, ERR_NOT_FOUND, "no state named '%s'", name);
        else
            respond_err(r, &e, NULL);
        return;
    }
    /* store_get's metadata carries the plaintext's SHA-256 (stored with the object, or
     * rebuilt from the content); hash again only if it does not describe these bytes. */
    if (m.size == b->len && strlen(m.sha256) == 64)
        memcpy(ev->sha256, m.sha256, 65);
    else
        sha256_hex(b->data, b->len, ev->sha256);
    char md5[25];
    if (m.size == b->len && strlen(m.md5) == 24 && strcmp(m.sha256, ev->sha256) == 0)
        memcpy(md5, m.md5, sizeof(md5)); /* recorded at write time */
    else
        content_md5(ev->sha256, b->data, b->len, md5);
    ev->serial = (int64_t)m.serial;
    snprintf(ev->lineage, sizeof(ev->lineage), "%s", m.lineage);
    ev->size = (int64_t)b->len;
    backend_add_header(r, "content-md5", md5);
    respond_shared(r, 200, "application/json", b);
}

static char *query_id(const struct backend_req *r)
{
    char *id = backend_query_param(r->query, "ID");
    if (id != NULL && id[0] == '\0') {
        free(id);
        id = NULL;
    }
    return id;
}

static void do_write(struct backend_req *r, const char *name, struct audit_event *ev)
{
    struct err e = {0};
    struct state_summary sum;
    struct lock_result res;
    char *id = query_id(r);
    lock_result_init(&res);
    if (id != NULL)
        snprintf(ev->lock_id, sizeof(ev->lock_id), "%s", id);
    if (r->body == NULL || r->body_len == 0) {
        respond_error(r, ERR_INVALID, "empty body: a state write needs the state JSON");
        goto out;
    }
    ev->size = (int64_t)r->body_len;
    if (r->body_len > r->srv->cfg->max_state_bytes) {
        respond_error(r, ERR_TOO_LARGE, "state of %zu bytes is larger than the limit of %llu",
                      r->body_len, (unsigned long long)r->srv->cfg->max_state_bytes);
        goto out;
    }
    char md5[25] = "";
    if (r->content_md5 != NULL) {
        const char *v = r->content_md5;
        size_t vlen = strlen(v);
        while (*v == ' ')
            v++, vlen--;
        while (vlen > 0 && v[vlen - 1] == ' ')
            vlen--;
        md5_base64(r->body, r->body_len, md5);
        if (vlen != 24 || memcmp(v, md5, 24) != 0) {
            respond_error(r, ERR_INVALID, "Content-MD5 does not match the body");
            goto out;
        }
    }
    if (statejson_scan(r->body, r->body_len, &sum, &e) != 0) {
        respond_err(r, &e, NULL);
        goto out;
    }
    ev->serial = (int64_t)sum.serial;
    snprintf(ev->lineage, sizeof(ev->lineage), "%s", sum.lineage);
    sha256_hex(r->body, r->body_len, ev->sha256);
    struct lockstore *ls = r->srv->locks;
    if (ls->ops->check_write(ls, name, id, &res, &e) != 0) {
        respond_lock_err(r, &e, &res);
        goto out;
    }
    char writer[160];
    writer_name(r, writer, sizeof(writer));
    struct store_write w = {.serial = sum.serial,
                            .lineage = sum.lineage,
                            .writer = writer,
                            .sha256 = ev->sha256,
                            .md5 = md5[0] != '\0' ? md5 : NULL};
    struct state_meta m;
    bool unchanged = false;
    memset(&m, 0, sizeof(m));
    if (store_put(r->srv->store, name, r->body, r->body_len, &w, &m, &unchanged, &e) != 0) {
        respond_err(r, &e, NULL);
        goto out;
    }
    if (unchanged)
        snprintf(ev->detail, sizeof(ev->detail), "identical to the current state: no snapshot");
    else
        snprintf(ev->detail, sizeof(ev->detail), "snapshot %s", m.snapshot);
    json_t *o = json_pack("{s:I,s:s,s:b}", "serial", (json_int_t)sum.serial, "snapshot", m.snapshot,
                          "unchanged", unchanged);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    respond_json(r, 200, s != NULL ? s : "{}");
    free(s);
out:
    free(id);
    lock_result_cleanup(&res);
}

static void do_delete(struct backend_req *r, const char *name, struct audit_event *ev)
{
    struct err e = {0};
    struct lock_result res;
    char *id = query_id(r);
    lock_result_init(&res);
    if (id != NULL)
        snprintf(ev->lock_id, sizeof(ev->lock_id), "%s", id);
    struct lockstore *ls = r->srv->locks;
    if (ls->ops->check_write(ls, name, id, &res, &e) != 0)
        respond_lock_err(r, &e, &res);
    else if (store_delete(r->srv->store, name, &e) != 0)
        respond_err(r, &e, NULL);
    else
        respond_json(r, 200, "{}");
    free(id);
    lock_result_cleanup(&res);
}

static void do_lock(struct backend_req *r, const char *name, struct audit_event *ev)
{
    struct err e = {0};
    struct lock_body lb;
    struct lock_result res;
    lock_result_init(&res);
    if (lock_body_parse(r->body, r->body_len, &lb, &e) != 0) {
        respond_err(r, &e, NULL);
        goto out;
    }
    snprintf(ev->lock_id, sizeof(ev->lock_id), "%s", lb.id);
    struct lockstore *ls = r->srv->locks;
    if (ls->ops->acquire(ls, name, lb.id, r->body, &res, &e) != 0) {
        respond_lock_err(r, &e, &res);
        if (res.holder.id[0] != '\0')
            snprintf(ev->detail, sizeof(ev->detail), "held by ID %.200s", res.holder.id);
        goto out;
    }
    if (res.outcome == LOCK_TAKEN_OVER) {
        /* The expired lease gets its own event so the trail shows whose lock lapsed. */
        struct audit_event xe;
        backend_audit_init(r, &xe, "lock-expired");
        snprintf(xe.state, sizeof(xe.state), "%s", name);
        snprintf(xe.lock_id, sizeof(xe.lock_id), "%s", res.previous.id);
        snprintf(xe.detail, sizeof(xe.detail), "lease of ID %.100s expired; taken over by %.100s",
                 res.previous.id, lb.id);
        r->status = 200;
        audit_append(r, &xe);
    } else if (res.outcome == LOCK_REENTERED) {
        snprintf(ev->detail, sizeof(ev->detail), "already held by this ID: lease renewed");
    }
    respond_json(r, 200, r->body);
out:
    lock_result_cleanup(&res);
}

static void do_unlock(struct backend_req *r, const char *name, struct audit_event *ev)
{
    struct err e = {0};
    struct lock_body lb;
    struct lock_result res;
    struct lockstore *ls = r->srv->locks;
    char *id = NULL;
    bool force;
    lock_result_init(&res);
    memset(&lb, 0, sizeof(lb));
    if (r->body == NULL || is_blank(r->body, r->body_len)) {
        /* Terraform's force-unlock sends no ID at all; GitLab-style clients may put it in the
         * query instead. */
        id = query_id(r);
        force = id == NULL;
    } else {
        if (lock_body_parse(r->body, r->body_len, &lb, &e) != 0) {
            respond_err(r, &e, NULL);
            goto out;
        }
        id = xstrdup(lb.id);
        force = false;
    }
    if (force || lb.zero_fields)
        snprintf(ev->action, sizeof(ev->action), "force-unlock");
    if (id != NULL)
        snprintf(ev->lock_id, sizeof(ev->lock_id), "%s", id);
    /* With --no-force-unlock, OpenTofu's force-unlock body (only an ID) is refused as well:
     * anyone who read the ID from a 423 could otherwise release someone else's lock. */
    if ((force || lb.zero_fields) && r->srv->cfg->no_force_unlock) {
        if (ls->ops->get(ls, name, &res, &e) == 0) {
            snprintf(ev->detail, sizeof(ev->detail), "refused: force-unlock disabled");
            respond_locked(r, &res.holder);
        } else if (e.code == ERR_NOT_FOUND) {
            respond_json(r, 200, "{}");
        } else {
            respond_err(r, &e, NULL);
        }
        goto out;
    }
    if (ls->ops->release(ls, name, id, &res, &e) != 0) {
        respond_lock_err(r, &e, &res);
        if (res.holder.id[0] != '\0')
            snprintf(ev->detail, sizeof(ev->detail), "held by ID %.200s", res.holder.id);
        goto out;
    }
    if (res.outcome == LOCK_RELEASED) {
        if (force)
            snprintf(ev->lock_id, sizeof(ev->lock_id), "%s", res.previous.id);
        snprintf(ev->detail, sizeof(ev->detail), "released");
    } else {
        snprintf(ev->detail, sizeof(ev->detail), "nothing held");
    }
    respond_json(r, 200, "{}");
out:
    free(id);
    lock_result_cleanup(&res);
}

/* ------------------------------------------------------------------ dispatch */

enum action { ACT_NONE, ACT_GET, ACT_WRITE, ACT_DELETE, ACT_LOCK, ACT_UNLOCK };

static enum action action_for(const char *method, bool lock_url)
{
    if (lock_url) {
        if (strcmp(method, "LOCK") == 0 || strcmp(method, "POST") == 0)
            return ACT_LOCK;
        if (strcmp(method, "UNLOCK") == 0 || strcmp(method, "DELETE") == 0)
            return ACT_UNLOCK;
        return ACT_NONE;
    }
    if (strcmp(method, "GET") == 0)
        return ACT_GET;
    if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
        return ACT_WRITE;
    if (strcmp(method, "DELETE") == 0)
        return ACT_DELETE;
    if (strcmp(method, "LOCK") == 0)
        return ACT_LOCK;
    if (strcmp(method, "UNLOCK") == 0)
        return ACT_UNLOCK;
    return ACT_NONE;
}

static const char *const action_names[] = {"", "get", "write", "delete", "lock", "unlock"};

static void handle_state(struct backend_req *r)
{
    struct err e = {0};
    struct state_path sp;
    struct audit_event ev;
    int parsed = state_path_parse(r->path, &sp, &e);
    enum action act = action_for(r->method, parsed == 0 && sp.lock_url);
    backend_audit_init(r, &ev, act != ACT_NONE ? action_names[act] : "invalid");
    if (parsed != 0) {
        snprintf(ev.detail, sizeof(ev.detail), "%s", e.msg);
        respond_err(r, &e, NULL);
        audit_append(r, &ev);
        return;
    }
    snprintf(r->log_name, sizeof(r->log_name), "%s%s", sp.name, sp.lock_url ? "/lock" : "");
    snprintf(ev.state, sizeof(ev.state), "%s", sp.name);
    if (act == ACT_NONE) {
        snprintf(ev.detail, sizeof(ev.detail), "method %.40s not allowed", r->method);
        err_set(&e, ERR_METHOD, "method %.40s is not allowed on this URL", r->method);
        respond_err(r, &e,
                    sp.lock_url ? "LOCK, UNLOCK, POST, DELETE"
                                : "GET, POST, PUT, DELETE, LOCK, UNLOCK");
        audit_append(r, &ev);
        return;
    }
    enum auth_role need = act == ACT_GET ? ROLE_READ : ROLE_WRITE;
    if (!auth_allows(&r->who, need, sp.name)) {
        snprintf(ev.detail, sizeof(ev.detail), "token role %s or pattern does not allow this",
                 auth_role_name(r->who.role));
        respond_error(r, ERR_FORBIDDEN, "token '%s' may not %s state '%s'", r->who.name,
                      act == ACT_GET ? "read" : "change", sp.name);
        audit_append(r, &ev);
        return;
    }
    switch (act) {
    case ACT_GET:
        do_get(r, sp.name, &ev);
        break;
    case ACT_WRITE:
        do_write(r, sp.name, &ev);
        break;
    case ACT_DELETE:
        do_delete(r, sp.name, &ev);
        break;
    case ACT_LOCK:
        do_lock(r, sp.name, &ev);
        break;
    case ACT_UNLOCK:
        do_unlock(r, sp.name, &ev);
        break;
    case ACT_NONE:
        break;
    }
    audit_append(r, &ev);
}

void routes_handle(struct backend_req *r)
{
    struct err e = {0};
    bool is_state = strncmp(r->path, STATES_PREFIX, strlen(STATES_PREFIX)) == 0;
    snprintf(r->log_name, sizeof(r->log_name), "%s", r->path);
    if (auth_authenticate(r->authorization, &r->who, &e) != 0) {
        struct audit_event ev;
        struct state_path sp;
        struct err pe = {0};
        respond_err(r, &e, NULL);
        backend_audit_init(r, &ev, "auth-failed");
        if (is_state && state_path_parse(r->path, &sp, &pe) == 0)
            snprintf(ev.state, sizeof(ev.state), "%s", sp.name);
        snprintf(ev.detail, sizeof(ev.detail), "%.40s %.60s: %.140s", r->method, r->path, e.msg);
        audit_append(r, &ev);
        return;
    }
    r->authenticated = true;
    if (is_state) {
        handle_state(r);
        return;
    }
    if (admin_dispatch(r) != 0) {
        buf_cleanup(&r->resp);
        for (size_t i = 0; i < r->nheaders; i++) {
            free(r->headers[i].name);
            free(r->headers[i].value);
        }
        r->nheaders = 0;
        respond_error(r, ERR_NOT_FOUND, "no such endpoint: %.60s", r->path);
    }
}

void routes_health_deep(struct backend_req *r)
{
    struct err e = {0};
    char down[200] = "";
    struct objstore *os = store_objstore(r->srv->store);
    if (os->ops->ping(os, &e) != 0) {
        log_warn("health: storage: %s", e.msg);
        strcat(down, " storage");
        err_clear(&e);
    }
    if (r->srv->locks->ops->ping(r->srv->locks, &e) != 0) {
        log_warn("health: locks: %s", e.msg);
        strcat(down, " locks");
        err_clear(&e);
    }
    if (r->srv->audit->ops->ping(r->srv->audit, &e) != 0) {
        log_warn("health: audit: %s", e.msg);
        strcat(down, " audit");
        err_clear(&e);
    }
    if (down[0] != '\0') {
        respond_error(r, ERR_HEALTH, "unreachable:%s", down);
        return;
    }
    char body[200];
    snprintf(body, sizeof(body),
             "{\"status\":\"ok\",\"storage\":\"%s\",\"locks\":\"%s\",\"audit\":\"%s\"}",
             os->ops->kind, r->srv->locks->ops->kind, r->srv->audit->ops->kind);
    respond_json(r, 200, body);
}
