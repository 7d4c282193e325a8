/* backend/route_ui.c: the web console's server side (docs/console.md).
 *
 *   /ui, /ui/FILE     the pages compiled in from ui/ (build/gen/ui_assets.c), answered on the
 *                     event loop: a lookup in memory, never a file. Every answer carries the
 *                     console's security headers; only names in the table exist, so there is
 *                     no path to traverse.
 *   /v1/session       sign-in (POST {"token"}), the session document (GET), sign-out (DELETE).
 *
 * A session is a sealed cookie (session.c) holding the credential signed in with. For an admin
 * request that has no Authorization header, route_session_resolve turns the cookie back into
 * that credential, so the normal authentication path (auth_authenticate) runs on every request
 * and a revoked or expired token ends the session at once. The state protocol never looks at
 * the cookie (router.c does not call this for /v1/states/). A change made with the cookie
 * needs the session's CSRF token in X-CSRF-Token: a page of another origin can make the
 * browser send the cookie (SameSite aside), never read the token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend/backend.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/util.h"

/* ------------------------------------------------------------------ pages */

static const char ui_csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

const struct ui_asset *ui_asset_find(const char *name)
{
    if (name[0] == '\0')
        name = "index.html";
    for (const struct ui_asset *a = ui_assets; a->name != NULL; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

const char *ui_content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".json", "application/json"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static void security_headers(struct backend_req *r)
{
    backend_add_header(r, "content-security-policy", ui_csp);
    backend_add_header(r, "x-content-type-options", "nosniff");
    backend_add_header(r, "referrer-policy", "no-referrer");
    backend_add_header(r, "x-frame-options", "DENY");
}

/* If-None-Match names the file's ETag (a list, weak or strong, or "*"). */
static bool not_modified(const char *inm, const char *etag)
{
    if (inm == NULL)
        return false;
    size_t n = strlen(etag);
    for (const char *p = inm; *p != '\0';) {
        while (*p == ' ' || *p == ',')
            p++;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        size_t len = strcspn(p, ",");
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if ((len == 1 && *p == '*') || (len == n && strncmp(p, etag, n) == 0))
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

bool route_ui_on_loop(struct backend_req *r)
{
    r->route = "ui";
    security_headers(r);
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        struct err e = {0};
        err_set(&e, ERR_METHOD, "only GET and HEAD on the console's files");
        respond_err(r, &e, "GET, HEAD");
        return true;
    }
    if (strcmp(r->path, "/ui") == 0) { /* relative: right behind any path prefix */
        backend_add_header(r, "location", "ui/");
        respond_bytes(r, 301, "text/plain; charset=utf-8", "ui/\n", 4);
        return true;
    }
    const struct ui_asset *a = ui_asset_find(r->path + strlen("/ui/"));
    if (a == NULL) {
        respond_error(r, ERR_NOT_FOUND, "no such console file");
        return true;
    }
    backend_add_header(r, "etag", a->etag);
    backend_add_header(r, "cache-control", "no-cache");
    if (not_modified(r->if_none_match, a->etag)) {
        r->status = 304;
        return true;
    }
    respond_bytes(r, 200, ui_content_type(a->name), a->data, a->len);
    return true;
}

/* ------------------------------------------------------------------ the cookie */

static bool secure_request(const struct backend_req *r)
{
    /* Behind a trusted proxy that terminates TLS (peer set: its X-Forwarded-For was believed),
     * its X-Forwarded-Proto says what the browser used. */
    return r->tls || (r->peer[0] != '\0' && r->forwarded_proto != NULL &&
                      strcmp(r->forwarded_proto, "https") == 0);
}

static void set_cookie(struct backend_req *r, const char *value, bool clear)
{
    char *v = xasprintf("%s=%s; Path=/;%s HttpOnly; SameSite=Strict%s", SESSION_COOKIE,
                        clear ? "" : value, clear ? " Max-Age=0;" : "",
                        secure_request(r) ? "; Secure" : "");
    backend_add_header(r, "set-cookie", v);
    memset(v, 0, strlen(v));
    free(v);
}

static int64_t idle_us(const struct backend_req *r)
{
    return r->srv->cfg->session_idle_ms * 1000;
}

static int64_t max_us(const struct backend_req *r)
{
    return r->srv->cfg->session_max_ms * 1000;
}

/* Seals s and sets it as the cookie. */
static int issue(struct backend_req *r, const struct session *s, struct err *err)
{
    char *value;
    if (session_seal(r->srv->session_keys, s, &value, err) != 0)
        return -1;
    set_cookie(r, value, false);
    memset(value, 0, strlen(value));
    free(value);
    return 0;
}

/* The request's session, opened: 0, or 1 when it sent none, or -1 with ERR_AUTH when it is
 * not valid (tampered, another key, expired). */
static int open_session(const struct backend_req *r, struct session *s, struct err *err)
{
    char *value = session_cookie_value(r->cookie, SESSION_COOKIE);
    if (value == NULL) {
        memset(s, 0, sizeof(*s));
        return 1;
    }
    int rc = session_open(r->srv->session_keys, value, now_us(), idle_us(r), max_us(r), s, err);
    memset(value, 0, strlen(value));
    free(value);
    return rc;
}

/* r's credential becomes the session's (for backend_authenticate). */
static void use_credential(struct backend_req *r, const struct session *s)
{
    if (r->authorization != NULL) {
        memset(r->authorization, 0, strlen(r->authorization));
        free(r->authorization);
    }
    r->authorization = xasprintf("Bearer %s", s->credential);
}

/* The cookie is re-issued when due so use keeps the session alive (idle expiry). */
static void refresh(struct backend_req *r, struct session *s)
{
    int64_t now = now_us();
    struct err e = {0};
    if (!session_needs_refresh(s, now, idle_us(r)))
        return;
    s->seen_us = now;
    if (issue(r, s, &e) != 0)
        log_warn("req=%s session cookie not re-issued: %s", r->request_id, e.msg);
}

int route_session_resolve(struct backend_req *r, struct err *err)
{
    struct session s;
    int rc = r->authorization != NULL ? 1 : open_session(r, &s, err);
    if (rc != 0)
        return rc < 0 ? -1 : 0; /* the header wins; no cookie, no session */
    use_credential(r, &s);
    r->via_session = true;
    snprintf(r->session_csrf, sizeof(r->session_csrf), "%s", s.csrf);
    refresh(r, &s);
    session_cleanup(&s);
    return 0;
}

int route_session_csrf(const struct backend_req *r, struct err *err)
{
    if (!r->via_session || strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0)
        return 0;
    if (session_csrf_ok(r->session_csrf, r->csrf_token))
        return 0;
    return err_set(err, ERR_FORBIDDEN, "missing or wrong CSRF token");
}

/* ------------------------------------------------------------------ /v1/session */

static json_t *time_or_null(int64_t us)
{
    char t[32];
    if (us <= 0)
        return json_null();
    time_format_rfc3339(us, t);
    return json_string(t);
}

static json_t *text(const char *s)
{
    json_t *v = json_string(s);
    return v != NULL ? v : json_string("(not UTF-8)");
}

/* The session document: who, what the role may, the CSRF token and both expiries. */
static void reply_session(struct backend_req *r, const struct session *s)
{
    const struct auth_identity *w = &r->who;
    char username[4 * sizeof(w->username)];
    utf8_escape(username, sizeof(username), w->username);
    json_t *o = json_object();
    json_object_set_new(o, "name", text(w->name));
    json_object_set_new(o, "username", text(username));
    json_object_set_new(o, "role", text(auth_role_name(w->role)));
    json_object_set_new(o, "states", text(w->pattern));
    json_object_set_new(o, "issuer", w->issuer[0] ? text(w->issuer) : json_null());
    json_object_set_new(o, "subject", w->issuer[0] ? text(w->subject) : json_null());
    json_object_set_new(o, "csrf", json_string(s->csrf));
    json_object_set_new(o, "idle_expires", time_or_null(s->seen_us + idle_us(r)));
    json_object_set_new(o, "expires", time_or_null(s->issued_us + max_us(r)));
    char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    respond_json(r, 200, body != NULL ? body : "{}");
    free(body);
    backend_add_header(r, "cache-control", "no-store");
}

/* The event of a session request (never the cookie, the token or the CSRF token). */
static void audit_session(struct backend_req *r, const char *action, const struct session *s,
                          bool deferred)
{
    struct op_actor a = backend_actor(r);
    struct audit_event ev;
    char expires[32];
    ops_event_init(&a, &ev, action);
    ev.status = r->status;
    time_format_rfc3339(s->issued_us + max_us(r), expires);
    snprintf(ev.detail, sizeof(ev.detail), "session %.8s, expires %s", s->sid, expires);
    ops_audit(&r->srv->ops, &ev, deferred);
}

/* A failure of a session request: answered, and audited unless auth counts it already (bad
 * credentials are one event per address and minute). */
static void session_refused(struct backend_req *r, const char *action, const struct err *e,
                            bool clear)
{
    respond_err(r, e, "GET, POST, DELETE");
    if (clear)
        set_cookie(r, "", true);
    if (r->authenticated || (e->code != ERR_AUTH && e->code != ERR_RATE_LIMITED) ||
        strcmp(action, "session-create") != 0) {
        struct op_actor a = backend_actor(r);
        ops_audit_refused(&r->srv->ops, &a, action, "", e, NULL);
    }
}

/* POST {"token": "..."}: the credential is authenticated like any, then sealed in the cookie. */
static void session_create(struct backend_req *r)
{
    struct err e = {0};
    json_t *body = r->body != NULL ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
    const char *token = json_string_value(json_object_get(body, "token"));
    struct session s = {0};
    if (token == NULL || token[0] == '\0') {
        err_set(&e, ERR_INVALID, "the body must be {\"token\": \"<token or JWT>\"}");
    } else {
        session_new(&s, token, now_us());
        use_credential(r, &s);
        if (backend_authenticate(r, &e) == 0) {
            r->authenticated = true;
            if (issue(r, &s, &e) == 0)
                reply_session(r, &s);
        }
    }
    if (body != NULL) /* wipe jansson's copy of the token */
        json_object_set_new(body, "token", json_string(""));
    json_decref(body);
    if (e.code != ERR_OK)
        session_refused(r, "session-create", &e, false);
    else
        audit_session(r, "session-create", &s, false);
    session_cleanup(&s);
}

/* GET: the document of a live session; DELETE: sign-out (CSRF checked), the cookie cleared. */
static void session_current(struct backend_req *r, bool end)
{
    struct err e = {0};
    struct session s;
    const char *action = end ? "session-end" : "session";
    int rc = open_session(r, &s, &e);
    if (rc != 0) {
        if (rc > 0)
            err_set(&e, ERR_AUTH, "no session: sign in");
        session_refused(r, action, &e, true);
        return;
    }
    use_credential(r, &s);
    r->via_session = true;
    snprintf(r->session_csrf, sizeof(r->session_csrf), "%s", s.csrf);
    if (backend_authenticate(r, &e) == 0) {
        r->authenticated = true;
    } else if (e.code == ERR_AUTH) {
        err_clear(&e); /* revoked or expired since sign-in */
        err_set(&e, ERR_AUTH, "the session's credential is no longer valid: sign in again");
    }
    if (end) { /* sign-out needs only the cookie and the CSRF token */
        err_clear(&e);
        route_session_csrf(r, &e);
    }
    if (e.code != ERR_OK) {
        session_refused(r, action, &e, e.code == ERR_AUTH);
    } else if (end) {
        set_cookie(r, "", true);
        respond_json(r, 200, "{\"signed_out\":true}");
        audit_session(r, action, &s, false);
    } else {
        refresh(r, &s);
        reply_session(r, &s);
        audit_session(r, action, &s, true);
    }
    session_cleanup(&s);
}

void route_session_handle(struct backend_req *r)
{
    if (strcmp(r->method, "POST") == 0) {
        session_create(r);
    } else if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "DELETE") == 0) {
        session_current(r, strcmp(r->method, "DELETE") == 0);
    } else {
        struct err e = {0};
        err_set(&e, ERR_METHOD, "%s is not allowed on /v1/session", r->method);
        session_refused(r, "session", &e, false);
    }
}
