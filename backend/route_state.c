/* backend/route_state.c: the client protocol (DESIGN.md "The client protocol"), on workers.
 *
 *   GET      /v1/states/NAME              current state bytes (404 when none)
 *   POST|PUT /v1/states/NAME[?ID=lock]    write a state
 *   DELETE   /v1/states/NAME[?ID=lock]    delete the current state (snapshots kept)
 *   LOCK     /v1/states/NAME[/lock]       take the lock (body: lock info JSON)
 *   UNLOCK   /v1/states/NAME[/lock]       release it (empty body: force)
 *   POST     /v1/states/NAME/lock         LOCK, GitLab layout
 *   DELETE   /v1/states/NAME/lock         UNLOCK, GitLab layout
 *
 * The request is authenticated already (router.c). Here its name is checked (400 before any
 * storage access) and its method mapped to an operation (405 otherwise); the operation
 * (ops.c) checks the role and pattern, does the work and records the audit event, and its
 * result becomes the response. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend/backend.h"
#include "common/json.h"

#define STATES_PREFIX "/v1/states/"

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

/* ------------------------------------------------------------------ answers */

static void answer_read(struct backend_req *r, struct op_result *res)
{
    backend_add_header(r, "content-md5", res->md5);
    respond_shared(r, 200, "application/json", res->data);
    res->data = NULL; /* the response owns the reference now */
}

static void answer_write(struct backend_req *r, struct op_result *res)
{
    json_t *o = json_pack("{s:o,s:s,s:b}", "serial", u64_to_json(res->meta.serial), "snapshot",
                          res->meta.snapshot, "unchanged", res->unchanged);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    respond_json(r, 200, s != NULL ? s : "{}");
    free(s);
}

/* LOCK answers with the lock info the client sent, as clients expect. */
static void answer_lock(struct backend_req *r, struct op_result *res)
{
    (void)res;
    respond_json(r, 200, r->body);
}

static void answer_empty(struct backend_req *r, struct op_result *res)
{
    (void)res;
    respond_json(r, 200, "{}");
}

/* ------------------------------------------------------------------ dispatch */

struct action {
    const char *name; /* the audit action of a refused request */
    op_fn run;
    void (*answer)(struct backend_req *r, struct op_result *res);
};

static const struct action A_READ = {"get", ops_read, answer_read};
static const struct action A_WRITE = {"write", ops_write, answer_write};
static const struct action A_DELETE = {"delete", ops_delete, answer_empty};
static const struct action A_LOCK = {"lock", ops_lock, answer_lock};
static const struct action A_UNLOCK = {"unlock", ops_unlock, answer_empty};

/* Both lock layouts: LOCK/UNLOCK on the state URL or on NAME/lock, and GitLab's POST/DELETE on
 * NAME/lock. */
static const struct action *action_for(const char *method, bool lock_url)
{
    if (strcmp(method, "LOCK") == 0)
        return &A_LOCK;
    if (strcmp(method, "UNLOCK") == 0)
        return &A_UNLOCK;
    if (lock_url)
        return strcmp(method, "POST") == 0     ? &A_LOCK
               : strcmp(method, "DELETE") == 0 ? &A_UNLOCK
                                               : NULL;
    if (strcmp(method, "GET") == 0)
        return &A_READ;
    if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
        return &A_WRITE;
    if (strcmp(method, "DELETE") == 0)
        return &A_DELETE;
    return NULL;
}

const char *route_state_action(const char *method, const char *path, char name[STATE_NAME_MAX])
{
    struct state_path sp;
    struct err e = {0};
    bool parsed = state_path_parse(path, &sp, &e) == 0;
    const struct action *act = action_for(method, parsed && sp.lock_url);
    snprintf(name, STATE_NAME_MAX, "%s", parsed ? sp.name : "");
    return act != NULL && strncmp(path, STATES_PREFIX, strlen(STATES_PREFIX)) == 0 ? act->name
                                                                                   : "invalid";
}

/* The lock ID the request names, for the request log: LOCK's and UNLOCK's body, else ?ID=. */
static void note_lock_id(struct backend_req *r, const struct action *act, const char *query_id)
{
    struct lock_body lb;
    struct err ignore = {0};
    if ((act == &A_LOCK || act == &A_UNLOCK) && r->body != NULL &&
        lock_body_parse(r->body, r->body_len, &lb, &ignore) == 0)
        snprintf(r->lock_id, sizeof(r->lock_id), "%s", lb.id);
    else if (query_id != NULL)
        snprintf(r->lock_id, sizeof(r->lock_id), "%s", query_id);
}

const char *route_state_label(const char *method, const char *path)
{
    struct state_path sp;
    struct err e = {0};
    bool lock_url = state_path_parse(path, &sp, &e) == 0 && sp.lock_url;
    const struct action *act = action_for(method, lock_url);
    return act == &A_LOCK ? "lock" : act == &A_UNLOCK ? "unlock" : "state";
}

void route_state_handle(struct backend_req *r)
{
    const struct ops *o = &r->srv->ops;
    struct op_actor a = backend_actor(r);
    struct err e = {0};
    struct state_path sp;
    if (state_path_parse(r->path, &sp, &e) != 0) {
        const struct action *guess = action_for(r->method, false);
        respond_err(r, &e, NULL);
        ops_audit_refused(o, &a, guess != NULL ? guess->name : "invalid", "", &e, NULL);
        return;
    }
    snprintf(r->log_name, sizeof(r->log_name), "%s%s", sp.name, sp.lock_url ? "/lock" : "");
    snprintf(r->state, sizeof(r->state), "%s", sp.name);
    const struct action *act = action_for(r->method, sp.lock_url);
    if (act == NULL) {
        char detail[64];
        err_set(&e, ERR_METHOD, "method %.40s is not allowed on this URL", r->method);
        respond_err(r, &e,
                    sp.lock_url ? "LOCK, UNLOCK, POST, DELETE"
                                : "GET, POST, PUT, DELETE, LOCK, UNLOCK");
        snprintf(detail, sizeof(detail), "method %.40s not allowed", r->method);
        ops_audit_refused(o, &a, "invalid", sp.name, &e, detail);
        return;
    }
    char *lock_id = backend_query_param(r->query, "ID");
    note_lock_id(r, act, lock_id);
    struct op_request q = {.state = sp.name,
                           .body = r->body,
                           .body_len = r->body_len,
                           .lock_id = lock_id,
                           .content_md5 = r->content_md5};
    struct op_result res;
    op_result_init(&res);
    if (act->run(o, &a, &q, &res) == 0)
        act->answer(r, &res);
    else
        respond_op_error(r, &res, NULL);
    op_result_cleanup(&res);
    free(lock_id);
}
