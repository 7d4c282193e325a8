/* backend/router.c: stated's route table (what server_run serves).
 *
 *   /healthz             liveness on the event loop; ?deep=1 checks storage, locks and audit on
 *                        a worker (503 INFRA_006 when one is down)
 *   /metrics             the Prometheus exposition, for the roles metrics and admin (not
 *                        audited: route_metrics.c); without auth on --metrics-listen
 *   /ui, /ui/...         the console's pages, on the event loop (route_ui.c)
 *   /v1/session          console sign-in and sign-out (route_ui.c)
 *   /v1/states/...       the client protocol (route_state.c)
 *   /v1/...              the admin API (route_admin.c)
 *   anything else        404 INFRA_004
 *
 * Every other /v1/ request is authenticated here first, so no handler ever sees an
 * unauthenticated request (/v1/session authenticates the token it is given, or the cookie, the
 * same way: it is where a credential becomes a session). The admin API also accepts the
 * console's session cookie when there is no Authorization header; the state protocol never
 * does. A failure is answered (401, 429 past the failed-login limit, 403 for a JWT no rule
 * maps, 503 while an issuer's keys are unknown); bad credentials are audited once per client
 * address and minute with their count (auth's report), the other refusals each as
 * "auth-failed" with the state they aimed at. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "common/log.h"

#define STATES_PREFIX "/v1/states/"
#define SESSION_PATH  "/v1/session"

/* ------------------------------------------------------------------ /healthz */

static bool health_on_loop(struct backend_req *r)
{
    r->route = "healthz";
    if (strcmp(r->method, "GET") != 0) {
        struct err e = {0};
        err_set(&e, ERR_METHOD, "only GET on /healthz");
        respond_err(r, &e, "GET");
        return true;
    }
    char *deep = backend_query_param(r->query, "deep");
    bool is_deep = deep != NULL && strcmp(deep, "0") != 0 && strcmp(deep, "false") != 0;
    free(deep);
    if (is_deep)
        return false; /* health_deep, on a worker */
    respond_json(r, 200, "{\"status\":\"ok\"}");
    return true;
}

static void health_deep(struct backend_req *r)
{
    const struct ops *o = &r->srv->ops;
    struct err e = {0};
    char down[200] = "";
    struct objstore *os = store_objstore(o->store);
    if (os->ops->ping(os, &e) != 0) {
        log_warn("health: storage: %s", e.msg);
        strcat(down, " storage");
        err_clear(&e);
    }
    if (o->locks->ops->ping(o->locks, &e) != 0) {
        log_warn("health: locks: %s", e.msg);
        strcat(down, " locks");
        err_clear(&e);
    }
    if (o->audit->ops->ping(o->audit, &e) != 0) {
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
             os->ops->kind, o->locks->ops->kind, o->audit->ops->kind);
    respond_json(r, 200, body);
}

/* ------------------------------------------------------------------ /v1/ */

int backend_authenticate(struct backend_req *r, struct err *err)
{
    char target[128];
    snprintf(target, sizeof(target), "%.20s %.100s", r->method, r->log_name); /* escaped */
    struct auth_request q = {.authorization = r->authorization,
                             .remote = r->remote,
                             .peer = r->peer[0] != '\0' ? r->peer : NULL,
                             .target = target};
    return auth_authenticate(&q, &r->who, err);
}

/* Who asks: the Authorization header, else (admin API only, never the state protocol) the
 * console's session cookie, whose changes need its CSRF token. *counted: a bad credential
 * that auth reports itself, once per address and minute (backend_audit_failed_logins). */
static int admit(struct backend_req *r, bool is_state, bool *counted, struct err *err)
{
    *counted = false;
    if (!is_state && route_session_resolve(r, err) != 0)
        return -1;
    if (backend_authenticate(r, err) != 0) {
        *counted = err->code == ERR_AUTH || err->code == ERR_RATE_LIMITED;
        return -1;
    }
    r->authenticated = true;
    return route_session_csrf(r, err);
}

static void v1_on_worker(struct backend_req *r)
{
    const struct ops *o = &r->srv->ops;
    struct err e = {0};
    bool is_state = strncmp(r->path, STATES_PREFIX, strlen(STATES_PREFIX)) == 0, counted;
    if (strcmp(r->path, SESSION_PATH) == 0) {
        r->route = "admin:session";
        route_session_handle(r);
        return;
    }
    r->route = is_state ? route_state_label(r->method, r->path) : route_admin_label(r->path);
    if (admit(r, is_state, &counted, &e) != 0) {
        respond_err(r, &e, NULL);
        if (counted)
            return;
        struct op_actor a = backend_actor(r);
        struct state_path sp;
        struct err pe = {0};
        char detail[256];
        if (!is_state || state_path_parse(r->path, &sp, &pe) != 0)
            sp.name[0] = '\0';
        snprintf(detail, sizeof(detail), "%.40s %.60s: %.140s", r->method, r->path, e.msg);
        ops_audit_refused(o, &a, "auth-failed", sp.name, &e, detail);
        return;
    }
    if (is_state)
        route_state_handle(r);
    else if (route_admin_handle(r) != 0)
        respond_error(r, ERR_NOT_FOUND, "no such endpoint: %.60s", r->path);
}

/* ------------------------------------------------------------------ /metrics */

static void metrics_on_worker(struct backend_req *r)
{
    struct err e = {0};
    r->route = "metrics";
    if (backend_authenticate(r, &e) != 0) {
        respond_err(r, &e, NULL); /* bad credentials reach auth's per-minute report */
        return;
    }
    r->authenticated = true;
    if (!auth_allows(&r->who, AUTH_METRICS, NULL)) {
        respond_error(r, ERR_FORBIDDEN, "token %s (role %s) may not read /metrics", r->who.name,
                      auth_role_name(r->who.role));
        return;
    }
    route_metrics_answer(r);
}

/* --metrics-listen: whoever reaches that address may read the metrics (and nothing else). */
static void metrics_open_on_worker(struct backend_req *r)
{
    r->route = "metrics";
    route_metrics_answer(r);
}

/* ------------------------------------------------------------------ refusals */

void backend_audit_refusal(struct backend_req *r)
{
    const struct ops *o = &r->srv->ops;
    char name[STATE_NAME_MAX];
    struct err ignore = {0};
    const char *action = route_state_action(r->method, r->path, name);
    /* Who sent it, when the credentials are good: a refused request is still someone's. */
    r->authenticated = r->authorization != NULL && backend_authenticate(r, &ignore) == 0;
    struct op_actor a = backend_actor(r);
    if (name[0] != '\0') { /* the log line names the state, as for any state request */
        snprintf(r->log_name, sizeof(r->log_name), "%s", name);
        snprintf(r->state, sizeof(r->state), "%s", name);
    }
    ops_audit_refused(o, &a, action, name, &r->refusal, NULL);
}

void backend_audit_failed_logins(void *ctx, const struct auth_failures *f)
{
    const struct server *srv = ctx;
    struct op_actor a = {.request_id = "", .remote = f->remote, .peer = f->peer};
    struct audit_event ev;
    char since[32];
    ops_event_init(&a, &ev, "auth-failed");
    time_format_rfc3339(f->since_us, since);
    snprintf(ev.detail, sizeof(ev.detail),
             "%u failed login(s) in the minute from %s, %u refused: %.120s", f->count, since,
             f->refused, f->reason);
    ev.status = f->refused > 0 ? err_http_status(ERR_RATE_LIMITED) : err_http_status(ERR_AUTH);
    ops_audit(&srv->ops, &ev, true);
}

static bool not_found_on_loop(struct backend_req *r)
{
    respond_error(r, ERR_NOT_FOUND, "no such endpoint");
    return true;
}

const struct backend_route backend_routes[] = {
    {"/healthz", health_on_loop, health_deep}, {"/ui", route_ui_on_loop, NULL},
    {"/ui/", route_ui_on_loop, NULL},          {"/v1/", NULL, v1_on_worker},
    {"/metrics", NULL, metrics_on_worker},     {"", not_found_on_loop, NULL},
};
const size_t backend_nroutes = sizeof(backend_routes) / sizeof(backend_routes[0]);

const struct backend_route backend_metrics_routes[] = {
    {"/metrics", NULL, metrics_open_on_worker},
    {"", not_found_on_loop, NULL},
};
const size_t backend_metrics_nroutes =
    sizeof(backend_metrics_routes) / sizeof(backend_metrics_routes[0]);
