/* backend/backend.h: the stated server. The whole API of backend/.
 *
 * Layers, each calling only the ones below it:
 *
 *   server.c        h2o event loops, the worker pool, jobs, streaming: the transport. It knows
 *                   routes only as the table main.c hands to server_run.
 *   router.c        the route table: /healthz, authentication of /v1/, the 404 and 413 answers.
 *   route_state.c   the client protocol (GET/POST/DELETE/LOCK/UNLOCK on /v1/states/NAME).
 *   route_admin.c   the admin API (docs/admin-api.md), what statectl talks to.
 *   route_ui.c      the console: its pages (compiled in, served on the loop) and its sessions
 *                   (/v1/session, the cookie that stands for a credential, CSRF).
 *   session.c       the session cookie itself: sealing, opening, expiry (no HTTP).
 *   ops.c           the state operations: write, delete, restore, read, lock, unlock and
 *                   force-unlock, each written once, with its permission check, its protocol
 *                   rules and its audit event. The HTTP routes and the admin API only turn a
 *                   request into an operation and its result into a response.
 *   request.c, respond.c   reading a request (query parameters) and writing a response (the
 *                   one place an err becomes an HTTP status and an error body).
 *
 * Threads. h2o event-loop threads accept connections, parse requests and send responses; they
 * never block. A request becomes a job: the loop copies what handlers need out of the h2o
 * request into a struct backend_req. A route's on_loop handler may answer it on the loop
 * thread (only work that never blocks: /healthz, fixed answers); otherwise a worker thread runs
 * its on_worker handler, which may call the store, the lock store and the audit log (all
 * blocking). A handler fills r->status, r->headers and r->resp (respond_* helpers); when it
 * returns, the response is carried back to the loop that owns the connection and sent with a
 * Content-Length. If the client went away meanwhile the response is dropped and the job freed;
 * the handler never notices, except through backend_stream_write() returning -1. On SIGTERM the
 * server stops accepting and waits (at most 30 s) for every job to finish; a request whose body
 * is still arriving is not a job yet and is cut off (clients retry transport errors). */
#ifndef STATED_BACKEND_H
#define STATED_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/net.h"
#include "common/util.h"
#include "lock/lock.h"
#include "store/store.h"

/* ------------------------------------------------------------------ configuration */

/* Who may release a lock without its holder's ID (terraform force-unlock sends no ID at all,
 * OpenTofu's sends only the ID it was given). */
enum force_unlock_policy {
    FORCE_UNLOCK_HOLDER_OR_ADMIN, /* the identity that took the lock, or an admin */
    FORCE_UNLOCK_ANY,             /* any writer of the state */
    FORCE_UNLOCK_NEVER,           /* nobody through the protocol (the admin API still may) */
};

struct config {
    char *listen;      /* "127.0.0.1:8080", "[::1]:8080", ":8080" */
    char *data_dir;    /* "./data" */
    char *storage;     /* "dir:PATH" or "s3://BUCKET[/PREFIX]"; "" = dir:<data_dir> */
    char *s3_endpoint; /* "" = https://s3.<region>.scw.cloud */
    char *s3_region;   /* "fr-par" */
    char *s3_credentials_file;
    bool s3_virtual_host;
    char *locks;         /* "embedded", postgres://... or a libpq conninfo (secret) */
    int64_t lock_ttl_ms; /* <= 1 h */
    uint64_t max_state_bytes;
    char *tls_cert, *tls_key, *client_ca;
    bool http2;              /* h2o's HTTP/2 beside our HTTP/1.1 */
    char *log_format;        /* text|json */
    char *log_level;         /* error|warn|info|debug */
    int64_t idle_timeout_ms; /* no byte for this long ends a connection */
    int64_t threads, workers;
    char *metrics_listen; /* a second address serving /metrics without auth ("": none) */
    char *force_unlock;   /* holder-or-admin|any|never */
    bool no_force_unlock; /* the older spelling of --force-unlock=never */
    enum force_unlock_policy force_unlock_policy; /* the two above, resolved */
    char *audit_failure;                          /* closed|open */
    int64_t audit_anchor_every;
    int64_t audit_anchor_interval_ms;
    int64_t audit_anchor_retention_ms; /* Object Lock retention of anchors (0: none) */
    bool audit_anchor_retention_set;   /* given (flag or env), not the default */
    char *audit_signing_key_file;
    bool audit_closed;                /* audit_failure resolved */
    char *oidc_config;                /* OIDC issuers and rules (JSON file) */
    char *trusted_proxies;            /* CIDRs whose X-Forwarded-For names the client */
    int64_t failed_logins_per_minute; /* per client address, then 429 (0: no limit) */
    char *encryption_key_file;
    int64_t retain_snapshots, retain_days;
    char *token_file;
    char *admin_token;       /* STATED_ADMIN_TOKEN only (secret, never a flag: argv is visible) */
    char *session_key_file;  /* keys sealing console session cookies (a keyring file) */
    int64_t session_idle_ms; /* a session unused this long ends */
    int64_t session_max_ms;  /* a session ends this long after sign-in, used or not */
    char *webhooks;          /* JSON list of webhooks (docs/webhooks.md) */
    int64_t stale_lock_after_ms; /* a lock held longer gets one lock-stale event */
    bool print_config;
};

/* Fills cfg from defaults, then environment, then argv (later wins). On --help prints the
 * option reference and exits 0; on a bad option or value prints a message naming the option
 * and exits 2. --print-config is recorded in cfg->print_config. */
void config_parse(struct config *cfg, int argc, char **argv);
/* Writes every option with its value and where it came from, secrets redacted, to stdout. */
void config_print(const struct config *cfg);
void config_cleanup(struct config *cfg);
/* The option reference (what --help prints); README.md documents the same table. */
void config_usage(FILE *out);

/* ------------------------------------------------------------------ state operations (ops.c) */

/* The detail of the second event of a change whose event went ahead of it (closed audit) and
 * which then failed: readers of the trail (webhooks) skip the first. */
#define OPS_NOT_APPLIED "not applied after the event before"

/* The services every operation uses (borrowed; they outlive the operations). */
struct ops {
    struct store *store;
    struct lockstore *locks;
    struct auditlog *audit; /* NULL: events are not recorded */
    uint64_t max_state_bytes;
    enum force_unlock_policy force_unlock; /* clients' force-unlock (not the admin API's) */
    /* --audit-failure=closed: an operation whose event cannot be made durable is refused (503)
     * and changes nothing; state changes append their event before the change (ops.c). false
     * (open, and the zero value): the change stands, the failure is logged and counted. */
    bool audit_closed;
    void *audit_key; /* --audit-signing-key-file, for verify to check anchors; or NULL */
};

/* ------------------------------------------------------------------ audit anchors (anchor.c) */

struct anchorer_config {
    struct objstore *os;    /* where anchors go (AUDIT_ANCHOR_PREFIX) */
    struct auditlog *audit; /* whose head they record */
    uint64_t every;         /* events between anchors at most */
    int64_t interval_ms;    /* time between anchors at most (when events came) */
    const char *instance;   /* this instance's id, in the anchor and its key */
    void *signing_key;      /* audit_key_load'ed Ed25519 private key, or NULL: unsigned */
    int64_t retention_ms;   /* > 0: each anchor is put_retained until its time + this */
};
/* Starts the writer thread; NULL when the driver has no head (then no anchors). */
struct anchorer *anchorer_start(const struct anchorer_config *cfg, struct err *err);
/* Writes a last anchor of the head and stops. */
void anchorer_stop(struct anchorer *an);
/* The newest max anchors of os into out; with a key, anchors whose signature does not verify
 * with it are left out (and logged). */
int anchors_load_store(struct objstore *os, size_t max, void *key_or_null,
                       struct audit_anchors *out, struct err *err);

/* Who asks: the identity checked against roles and patterns, and what its events carry. */
struct op_actor {
    const struct auth_identity *who; /* NULL: not authenticated (yet, or it failed) */
    const char *request_id;
    const char *remote; /* client address (from X-Forwarded-For behind a trusted proxy) */
    const char *peer;   /* the connection's address when it is not remote's, else "" */
};

/* What an operation is asked to do. Unused fields are NULL/0. */
struct op_request {
    const char *state; /* a valid state name (the routes check it first) */
    const char *body;  /* write: the state; lock, unlock: the lock info */
    size_t body_len;
    const char *lock_id;     /* write, delete, unlock: ?ID= (NULL or "" when absent);
                                force-unlock: the ID to release, NULL for any holder */
    const char *content_md5; /* write: the Content-MD5 header, or NULL */
    const char *snapshot;    /* restore, delete-version: a version reference (store_resolve_ref) */
    bool force;              /* restore: write even while the state is locked */
    const char *reason;      /* restore, force-unlock (optional), delete-version (required): why */
    const char *to;          /* move: the new name (checked like state) */
    const char *source;      /* import: where the version comes from (an S3 key and version
                                id, a file), for the audit event; may be NULL */
};

/* What an operation did. err.code is ERR_OK when it succeeded, else the refusal or failure;
 * on ERR_LOCKED, lock.holder names the live lease in the way when there is one. */
struct op_result {
    struct err err;
    struct lock_result lock; /* lock: the lease now; unlock: outcome and previous (released);
                                write: the renewed lease; ERR_LOCKED: holder */
    struct state_meta meta;  /* read: the state read; write, restore: what is current now */
    struct blob *data;       /* read: the state's bytes (op_result_cleanup drops it) */
    char md5[25];            /* read: base64 MD5 of data, for Content-MD5 */
    bool unchanged;          /* write, restore: identical to the current state, nothing written */
    bool forced;             /* unlock: a force-unlock (no ID, or OpenTofu's ID-only body) */
    bool lock_left;          /* restore with force: a lease was held and is left (lock.holder) */
    char restored_from[64];  /* restore: the snapshot restored */
    unsigned count;          /* delete-version: stored object versions purged besides the
                                object; move: objects copied */
    char duplicate_of[64];   /* import: the version with the same SHA-256 already there */
    bool audited;            /* closed mode: the event was appended ahead of the change */
    bool audit_refused;      /* closed mode: refused because its event could not be recorded */
    bool not_applied;        /* succeeded without the change its event announced (an UNLOCK
                                finding nothing held): a "not applied" event follows one ahead */
};
void op_result_init(struct op_result *res);
void op_result_cleanup(struct op_result *res);
/* The status the outcome is answered with: 200 on success, else the error table's (423 for
 * ERR_LOCKED). The operation's audit event records the same status. */
int op_status(const struct op_result *res);

/* The operations. Each checks the actor's role and pattern on the state, applies the protocol
 * rules (DESIGN.md "The client protocol", "Locks", "States, snapshots, restore"), appends its
 * audit event and returns 0, or -1 with res->err set. Worker threads only. */
typedef int (*op_fn)(const struct ops *o, const struct op_actor *a, const struct op_request *q,
                     struct op_result *res);
/* GET: the current state, its metadata and Content-MD5. */
int ops_read(const struct ops *o, const struct op_actor *a, const struct op_request *q,
             struct op_result *res);
/* POST/PUT: a new state (body), refused while another ID holds the lease, renewing the lease
 * of the ID given; a byte-identical re-write changes nothing. */
int ops_write(const struct ops *o, const struct op_actor *a, const struct op_request *q,
              struct op_result *res);
/* DELETE: the current state (snapshots are kept), under the same lease rule as a write. */
int ops_delete(const struct ops *o, const struct op_actor *a, const struct op_request *q,
               struct op_result *res);
/* Restore: the snapshot's bytes written as a new state whose top-level serial is one above
 * both the current one and the snapshot's; refused while locked unless q->force. */
int ops_restore(const struct ops *o, const struct op_actor *a, const struct op_request *q,
                struct op_result *res);
/* Admin: deletes one version (q->snapshot, a reference) for good, never the current one;
 * q->reason is required. res->meta is the deleted version. */
int ops_delete_version(const struct ops *o, const struct op_actor *a, const struct op_request *q,
                       struct op_result *res);
/* Admin: renames q->state to q->to with its history (store_move), holding a lease on both
 * names meanwhile so no write of either, from any instance, interleaves; refused (423) while
 * either is locked. Audited on both names. */
int ops_move(const struct ops *o, const struct op_actor *a, const struct op_request *q,
             struct op_result *res);
/* Import (admin): a version brought from elsewhere (statectl import), checked and written as a
 * write with no lock ID (refused while any lease is live), unless one of the state's versions
 * has the same SHA-256: then nothing is written and res->duplicate_of names it, so an import
 * run twice imports nothing twice. Audited as "import" with q->source. */
int ops_import(const struct ops *o, const struct op_actor *a, const struct op_request *q,
               struct op_result *res);
/* LOCK: takes the lease for the lock info's ID (the same ID again renews it; an expired lease
 * is taken over and gets a "lock-expired" event of its own). */
int ops_lock(const struct ops *o, const struct op_actor *a, const struct op_request *q,
             struct op_result *res);
/* UNLOCK by a client: releases the lease of the body's ID; an empty body with no ?ID=
 * (Terraform) or an ID-only body (OpenTofu) is a force-unlock, allowed by o->force_unlock.
 * The plan role may release only a lock its own identity took. */
int ops_unlock(const struct ops *o, const struct op_actor *a, const struct op_request *q,
               struct op_result *res);
/* The admin API's force-unlock: releases the lease of q->lock_id, or any lease when it is
 * NULL. An admin always may; another identity only as o->force_unlock lets a client's
 * force-unlock (the holder, or any writer with "any"; nobody with "never"). q->reason, when
 * given, is recorded in the event. */
int ops_force_unlock(const struct ops *o, const struct op_actor *a, const struct op_request *q,
                     struct op_result *res);

/* Events that are not one operation's: an event for action with the actor's request id,
 * identity, remote address and the time (the admin API's listings, exports, token changes). */
void ops_event_init(const struct op_actor *a, struct audit_event *ev, const char *action);
/* Appends ev (status already set); deferred: it changed nothing (audit.h deferred_sync). A
 * failed append is logged. */
/* Returns -1 when the append failed and o->audit_closed (the caller refuses the request); in
 * open mode a failure is logged as a warning, counted and 0 is returned. */
int ops_audit(const struct ops *o, struct audit_event *ev, bool deferred);
/* The closed-mode rule for every change (docs/storage.md "When an event cannot be recorded"),
 * used by the operations here and by the admin API's own changes (tokens, webhooks):
 * ops_audit_ahead, right before the change: in closed mode appends ev with status, as the
 * change will be when it succeeds, and sets *ahead; -1 with ERR_UNAVAILABLE (503, nothing may
 * change) when it cannot be made durable. In open mode (or without an audit log) it does
 * nothing and returns 0. ops_audit_after, once the change is done or failed: nothing when the
 * event went ahead and the change was applied; after an ahead event that was not applied, a
 * second event with the real status and OPS_NOT_APPLIED and the reason (outcome's message,
 * else ev->detail); otherwise ev with status (and outcome's message as the detail when it has
 * none). Returns ops_audit's result. */
int ops_audit_ahead(const struct ops *o, struct audit_event *ev, int status, bool *ahead,
                    struct err *err);
int ops_audit_after(const struct ops *o, struct audit_event *ev, bool ahead, bool applied,
                    int status, const struct err *outcome, bool deferred);
/* Records a request refused before any operation ran (a bad URL or method, failed
 * authentication): its status and detail come from why, unless detail is given. */
void ops_audit_refused(const struct ops *o, const struct op_actor *a, const char *action,
                       const char *state, const struct err *why, const char *detail);

/* A write's Content-MD5 header (NULL: none sent) against its body: 0 when absent or equal
 * (spaces around the value tolerated), md5 getting the body's base64 MD5 when one was sent
 * ("" otherwise); -1 with ERR_INVALID when they differ. */
int ops_check_content_md5(const char *header, const void *body, size_t len, char md5[25],
                          struct err *err);

/* A parsed lock body. */
struct lock_body {
    char id[LOCK_ID_MAX];
    bool zero_fields; /* every other LockInfo field empty and Created zero/absent (OpenTofu
                         force-unlock) */
    /* What the client says it is, for the audit trail (cut to fit, "" when absent). */
    char who[256], operation[64], info[256];
};
/* Parses a LOCK/UNLOCK body: a JSON object with a non-empty string "ID" of at most 255 bytes.
 * -1 with ERR_INVALID otherwise. */
int lock_body_parse(const char *body, size_t len, struct lock_body *out, struct err *err);

/* ------------------------------------------------------------------ console sessions (session.c)
 */

/* A console session: what its sealed cookie holds. The cookie is the only copy (stateless:
 * any instance with the same key opens it); the credential inside is authenticated again on
 * every request, so a revoked or expired token ends the session at once. */
struct session {
    char sid[33];      /* random id, hex (audit detail; never the credential) */
    char csrf[44];     /* random per-session token the pages echo in X-CSRF-Token */
    char *credential;  /* the token or JWT signed in with (owned; wiped by session_cleanup) */
    int64_t issued_us; /* sign-in: the absolute expiry counts from here */
    int64_t seen_us;   /* last use, as of the cookie's last re-issue: idle expiry counts from it */
};
#define SESSION_COOKIE     "stated_session"
#define SESSION_COOKIE_MAX 3900 /* browsers keep cookies of up to 4096 bytes, name included */

/* A new session for credential at now_us (random sid and csrf). */
void session_new(struct session *s, const char *credential, int64_t now_us);
void session_cleanup(struct session *s);
/* The cookie value: base64 of the session sealed with kr's first key (AES-256-GCM). *out is
 * a new string. ERR_INVALID when it would not fit in a cookie (SESSION_COOKIE_MAX). */
int session_seal(struct keyring *kr, const struct session *s, char **out, struct err *err);
/* Opens a cookie value sealed by any of kr's keys and checks its age at now_us: ERR_AUTH for a
 * value that is malformed, tampered with or sealed by another key ("not a valid session"),
 * idle longer than idle_us or older than max_us ("session expired"). */
int session_open(struct keyring *kr, const char *value, int64_t now_us, int64_t idle_us,
                 int64_t max_us, struct session *s, struct err *err);
/* True when the cookie should be re-issued with seen_us = now_us: a minute since the last
 * one, or half the idle time when that is shorter (so use keeps a short-idle session alive). */
bool session_needs_refresh(const struct session *s, int64_t now_us, int64_t idle_us);
/* The X-CSRF-Token header (NULL: absent) against a session's csrf, in constant time; never
 * true for an empty want. */
bool session_csrf_ok(const char *want, const char *header);
/* The value of cookie name in a Cookie header (fields separated by ';' or ','), as a new
 * string; NULL when absent. */
char *session_cookie_value(const char *cookie_header, const char *name);

/* ------------------------------------------------------------------ console pages */

/* One file of ui/, compiled in by tools/embed.c (build/gen/ui_assets.c). */
struct ui_asset {
    const char *name; /* relative to ui/: "index.html", "app.js" */
    const unsigned char *data;
    size_t len;
    const char *etag; /* quoted, as sent */
};
/* Every file, then an entry whose name is NULL. */
extern const struct ui_asset ui_assets[];
extern const size_t ui_nassets;
/* The file named name (exact, no decoding: nothing outside the table is reachable), or NULL;
 * "" names index.html. */
const struct ui_asset *ui_asset_find(const char *name);
/* The Content-Type of a file name by its extension (application/octet-stream when unknown). */
const char *ui_content_type(const char *name);

/* ------------------------------------------------------------------ the server's objects */

struct server {
    const struct config *cfg;
    struct ops ops;
    struct net_cidrs trusted_proxies; /* --trusted-proxies */
    struct keyring *session_keys;     /* seals session cookies (never NULL while serving) */
    struct webhooks *webhooks;        /* the delivery thread; NULL without --webhooks */
};

/* ------------------------------------------------------------------ webhooks (webhook*.c) */

/* The audit trail is the outbox: each webhook is a durable cursor over it. One thread (off the
 * loops) reads the events after each cursor in seq order, POSTs those the webhook wants, signed,
 * and moves the cursor on a 2xx, or after WEBHOOK_GIVE_UP_MS of retries (the delivery is then
 * recorded failed and can be redelivered). The same thread appends one lock-stale event per
 * lease held longer than --stale-lock-after. docs/webhooks.md. */
#define WEBHOOK_NAME_MAX       64
#define WEBHOOK_EVENTS_MAX     16
#define WEBHOOK_ID_MAX         96
#define WEBHOOK_SIG_MAX        72 /* "sha256=" and 64 hex digits */
#define WEBHOOK_BACKOFF_CAP_MS (3600 * 1000LL)
#define WEBHOOK_GIVE_UP_MS     (24 * 3600 * 1000LL)

struct webhook {
    char name[WEBHOOK_NAME_MAX];
    char *url;
    char host[256]; /* the url's host, what listings show */
    char *secret;   /* never logged nor shown */
    char *events[WEBHOOK_EVENTS_MAX];
    size_t nevents;
    char *states;       /* pattern_match() pattern */
    bool slack;         /* {"text": …} for Slack/Mattermost incoming webhooks */
    bool allow_private; /* link-local and metadata addresses allowed */
};
struct webhook_list {
    struct webhook *v;
    size_t n;
};
/* Parses and checks the file's text (resolve: also refuse hosts resolving to forbidden
 * addresses). NULL with ERR_INVALID naming the webhook and the key. */
struct webhook_list *webhooks_parse(const char *text, size_t len, bool resolve, struct err *err);
void webhooks_list_free(struct webhook_list *l);
/* The event type of an audit event ("state.written"), NULL when webhooks never carry it. */
const char *webhook_event_type(const struct audit_event *ev);
bool webhook_wants(const struct webhook *w, const char *type, const char *state);
bool webhook_address_forbidden(const char *ip);
void webhook_delivery_id(const struct webhook *w, uint64_t seq, char out[WEBHOOK_ID_MAX]);
/* The POST body (malloc'd), NULL when the event is not one webhooks carry. */
char *webhook_body(const struct webhook *w, uint64_t seq, const struct audit_event *ev);
void webhook_slack_escape(const char *in, struct buf *out);
/* "sha256=" HEX of HMAC-SHA256(secret, TS "." BODY). */
void webhook_sign(const char *secret, int64_t ts, const char *body, size_t len,
                  char out[WEBHOOK_SIG_MAX]);
/* The wait before try attempt+1 (attempt >= 1): 1 s doubling, capped at 1 h, jittered down to
 * half by rnd. */
int64_t webhook_backoff_ms(unsigned attempt, uint64_t rnd);

struct webhooks;
/* Starts the thread (takes l, which may be NULL: then only the stale-lock check runs). Its
 * cursors and deliveries live in DATA_DIR/webhooks.state.json. */
struct webhooks *webhooks_start(struct webhook_list *l, struct auditlog *al, struct lockstore *ls,
                                const char *data_dir, int64_t stale_after_ms, struct err *err);
void webhooks_stop(struct webhooks *w);
struct json_t;
/* The admin API's views and action (caller json_decrefs). ERR_NOT_FOUND for an unknown name
 * or delivery id. */
struct json_t *webhooks_list_json(struct webhooks *w);
struct json_t *webhooks_deliveries_json(struct webhooks *w, const char *name, bool failed_only,
                                        struct err *err);
int webhooks_redeliver(struct webhooks *w, const char *name, const char *id, struct err *err);

/* ------------------------------------------------------------------ requests and jobs */

struct backend_header {
    char *name; /* lower-case */
    char *value;
};

struct backend_job;

/* One request as a handler sees it. Everything is a private copy: valid for the whole job,
 * whatever happens to the connection. Strings are NUL-terminated. */
struct backend_req {
    struct server *srv;
    char request_id[24];
    char method[24];
    char *path;               /* raw path without the query, as sent (not percent-decoded) */
    char *query;              /* raw query without '?', or NULL */
    char *body;               /* request body (NUL-terminated copy) or NULL when none was sent */
    size_t body_len;          /* 0 also for an empty chunked body */
    char *content_md5;        /* header value or NULL */
    char *authorization;      /* header value or NULL (never logged) */
    char *forwarded_for;      /* X-Forwarded-For, or NULL (believed from trusted proxies only) */
    char *forwarded_proto;    /* X-Forwarded-Proto, or NULL (believed from trusted proxies only) */
    char *cookie;             /* Cookie (every field joined), or NULL (never logged) */
    char *csrf_token;         /* X-CSRF-Token, or NULL (never logged) */
    char *if_none_match;      /* If-None-Match, or NULL */
    bool tls;                 /* the connection is TLS */
    bool trusted_peer;        /* the connection comes from a --trusted-proxies address */
    bool via_session;         /* authenticated by the session cookie, not Authorization */
    char session_csrf[44];    /* via_session: the session's CSRF token (never logged) */
    char remote[64];          /* client address "ip" (X-Forwarded-For's behind a trusted proxy) */
    char peer[64];            /* the connection's address when remote is not it, else "" */
    int64_t start_ms;         /* mono_ms() when the request arrived */
    int64_t start_us;         /* the same in microseconds (the duration metrics) */
    const char *route;        /* the route's name for the metrics ("state", "lock",
                                 "admin:snapshots"…; a static string), NULL: "other" */
    struct auth_identity who; /* set for authenticated requests */
    bool authenticated;
    /* What the request log shows after the method (the state name, else the path). */
    char log_name[STATE_NAME_MAX + 8];
    /* The JSON request log's "state" and "lock_id" ("" when they do not apply): set by the
     * route once it knows them. */
    char state[STATE_NAME_MAX];
    char lock_id[LOCK_ID_MAX];

    /* Response, filled by the handler. */
    int status;
    struct backend_header *headers;
    size_t nheaders;
    struct buf resp;          /* body */
    struct blob *resp_shared; /* body instead of resp when set (respond_shared) */
    struct err refusal;       /* why the transport refused it before routing (job_refuse) */

    struct backend_job *job; /* server-private */
};

/* The actor of r for the operations (borrows from r). */
struct op_actor backend_actor(const struct backend_req *r);

/* A handler. Fills the response in r; the return value of on_loop says whether it answered. */
typedef void (*backend_handler_fn)(struct backend_req *r);

/* A route: requests whose path matches go to on_loop first (on the event loop thread: it must
 * never block; it returns false to pass the request on), then to on_worker (a worker thread).
 * Either may be NULL. */
struct backend_route {
    const char *path; /* exact, or a prefix when it ends with '/'; "" matches every path */
    bool (*on_loop)(struct backend_req *r);
    backend_handler_fn on_worker;
};
/* stated's routes (router.c), in match order; the last one matches everything. */
extern const struct backend_route backend_routes[];
extern const size_t backend_nroutes;

/* Value of query parameter key (exact, case-sensitive), percent-decoded ('+' is a space) into
 * a new string (caller frees); NULL when absent. The first occurrence wins. */
char *backend_query_param(const char *query, const char *key);
/* The same for r's query, with an empty value taken as absent. */
char *backend_query_nonempty(const struct backend_req *r, const char *key);

/* Streaming responses (audit export). Called from a handler on its worker thread:
 * backend_stream_begin sends the status and headers already set in r (no Content-Length: the
 * body goes out chunked, or as HTTP/2 DATA frames). Each backend_stream_write queues data; a
 * chunk (up to 64 KiB) is handed to the event loop and the worker waits until h2o asks for more
 * (the generator's proceed callback), so an export is never held in memory and a slow client
 * slows the producer down. Returns 0, or -1 once the client has gone (stop producing). When the
 * handler returns the stream is finished. Do not use respond_* after backend_stream_begin. */
int backend_stream_begin(struct backend_req *r);
int backend_stream_write(struct backend_req *r, const void *data, size_t len);

/* ------------------------------------------------------------------ responses (respond.c) */

/* Adds a response header (both strings copied). */
void backend_add_header(struct backend_req *r, const char *name, const char *value);
/* {"code":"INFRA_00x","message":"<human text>"} with the table's status; adds Retry-After: 2
 * for retryable codes, WWW-Authenticate for 401 and Allow for 405 (allow may be NULL). The
 * message is err->msg when set (never secrets by err.h's contract) else the table text; 5xx
 * bodies carry only the table text (the detail is logged). */
void respond_err(struct backend_req *r, const struct err *err, const char *allow);
void respond_error(struct backend_req *r, enum err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 423 with the holder's lock info as clients parse it (lock_holder_info_json). With a message,
 * the error body's "code" and "message" are added to it, for readers of either kind (the admin
 * API); without, it is the lock info alone (the state protocol). */
void respond_locked(struct backend_req *r, const struct lock_holder *h, const char *message);
/* An operation's failure: respond_locked when a live lease is the reason, else respond_err. */
void respond_op_error(struct backend_req *r, const struct op_result *res, const char *message);
/* 200-style responses: status, Content-Type and body (copied). */
void respond_bytes(struct backend_req *r, int status, const char *content_type, const void *data,
                   size_t len);
void respond_json(struct backend_req *r, int status, const char *json);
/* Takes the storage of b (no copy). */
void respond_take(struct backend_req *r, int status, const char *content_type, struct buf *b);
/* A response whose body is a shared blob: takes the caller's reference, which is dropped once
 * the body has been sent (no copy of a cached state per request). Call it last: the other
 * respond_* helpers do not clear it. */
void respond_shared(struct backend_req *r, int status, const char *content_type, struct blob *body);

/* ------------------------------------------------------------------ routes */

/* Where a /v1/states/ path points. */
struct state_path {
    char name[STATE_NAME_MAX];
    bool lock_url; /* ".../lock" */
};
/* Parses the raw path (no query) of a request under /v1/states/. -1 with ERR_INVALID (bad
 * name) or ERR_NOT_FOUND (not under /v1/states/). */
int state_path_parse(const char *path, struct state_path *out, struct err *err);

/* Authenticates r's credential: its Authorization header (a session's is set from the cookie
 * by route_session_resolve). 0 with r->who filled, else -1 with err (router.c). */
int backend_authenticate(struct backend_req *r, struct err *err);
/* /ui and /ui/...: the console's files, on the event loop (route_ui.c). */
bool route_ui_on_loop(struct backend_req *r);
/* /v1/session: sign-in (POST), the session document (GET), sign-out (DELETE) (route_ui.c). */
void route_session_handle(struct backend_req *r);
/* Before authentication of an admin request without Authorization: a valid session cookie
 * becomes its credential (r->via_session), re-issued when due. 0 also when there is no cookie;
 * -1 with ERR_AUTH for an invalid or expired one (route_ui.c). */
int route_session_resolve(struct backend_req *r, struct err *err);
/* After authentication: a POST, PUT or DELETE made with the cookie must carry the session's
 * CSRF token; -1 with ERR_FORBIDDEN otherwise (route_ui.c). */
int route_session_csrf(const struct backend_req *r, struct err *err);

/* The client protocol for an authenticated request under /v1/states/ (route_state.c). */
void route_state_handle(struct backend_req *r);
/* The audit action of a state request (its method and where its path points), "invalid" when
 * it is not one; name gets the state name or "". */
const char *route_state_action(const char *method, const char *path, char name[STATE_NAME_MAX]);
/* On a worker: records in the audit trail a request the transport refused before routing it
 * (r->refusal: 400, 408, 413, 414, 431, 501, 505; its answer is set already), with the actor
 * when its credentials are valid (router.c). */
void backend_audit_refusal(struct backend_req *r);
/* auth's hook (ctx: the struct server): one "auth-failed" event for a client address's failed
 * logins of one minute, with their count (router.c). */
void backend_audit_failed_logins(void *ctx, const struct auth_failures *f);
/* The admin API for an authenticated request under /v1/ (route_admin.c). Every request that
 * matches one of its routes produces exactly one audit event; -1 means no such route (the
 * caller answers 404). */
int route_admin_handle(struct backend_req *r);

/* ------------------------------------------------------------------ metrics (route_metrics.c) */

/* Registers every metric of the server and the operations, and the lock gauges' collector
 * reading srv's lock store (docs/metrics.md). Before serving. */
void backend_metrics_init(struct server *srv);
/* The operations' counters (ops.c), registered by backend_metrics_init. */
void ops_metrics_register(void);
/* Sets stated_http_requests_in_flight: n requests received and not yet answered (server.c's
 * collector, at each scrape). */
void backend_metrics_in_flight(int n);
/* Counts r's answer (r->status, r->route, its duration). Once per request, with its log line. */
void backend_metrics_request(const struct backend_req *r);
/* The exposition as the answer to GET (405 otherwise). The caller decided r may have it. */
void route_metrics_answer(struct backend_req *r);
/* The metrics route names of a state request (method, path) and of an admin API path. */
const char *route_state_label(const char *method, const char *path);
const char *route_admin_label(const char *path);
/* What --metrics-listen serves: /metrics without authentication, 404 otherwise (router.c). */
extern const struct backend_route backend_metrics_routes[];
extern const size_t backend_metrics_nroutes;

/* ------------------------------------------------------------------ server (server.c) */

/* Serves routes until SIGTERM/SIGINT, then stops accepting, lets in-flight requests finish
 * (at most 30 s) and returns 0 (1 when some were still running). -1 with err on a start-up
 * failure (port, TLS files). */
int server_run(struct server *srv, const struct backend_route *routes, size_t nroutes,
               struct err *err);
/* With cfg->metrics_listen set, server_run also serves this table there (plain HTTP/1.1, one
 * loop of its own). Set before server_run. */
void server_set_metrics_routes(const struct backend_route *routes, size_t nroutes);

#endif
