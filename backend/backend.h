/* backend/backend.h: the stated server's internal API (config, jobs, responses, auth, routes).
 *
 * Threads. h2o event-loop threads accept connections, parse requests and send responses; they
 * never block. Every request under /v1/ (and GET /healthz?deep=1) becomes a job: the loop
 * copies what the handler needs out of the h2o request into a struct backend_req and a worker
 * thread runs the handler, which may call the store, the lock store and the audit log (all
 * blocking). The handler fills r->status, r->headers and r->resp (respond_* helpers); when it
 * returns, the response is carried back to the loop that owns the connection and sent with a
 * Content-Length. If the client went away meanwhile the response is dropped and the job freed;
 * the handler never notices, except through backend_stream_write() returning -1. On SIGTERM the
 * server stops accepting and waits (at most 30 s) for every job to finish; a request whose body
 * is still arriving is not a job yet and is cut off (clients retry transport errors).
 *
 * Admin API contract (backend/admin.c). Every request whose raw path starts with "/v1/" but
 * not with "/v1/states/" is authenticated (r->who is set; a request without a valid token never
 * reaches it) and then handed to admin_dispatch(r) on a worker thread. admin_dispatch must:
 *   - check the role itself with auth_allows(&r->who, ROLE_..., state_or_NULL) and answer 403
 *     with respond_error(r, ERR_FORBIDDEN, ...) when it is not enough;
 *   - set the response with respond_json/respond_bytes/respond_error (or stream it with
 *     backend_stream_begin + backend_stream_write) and return 0; returning -1 means "no such
 *     admin route" and the server answers 404 INFRA_004;
 *   - append its own audit events (r->srv->audit) for what it does (list, export, restore,
 *     token-create, token-revoke ...), using backend_audit_init(r, &ev, "action") so request
 *     id, actor, username and remote address are filled in;
 *   - never log tokens or state bytes.
 * The request log line ("req=... METHOD path status=... ms=...") is written by the server. */
#ifndef STATED_BACKEND_H
#define STATED_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/audit.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "lock/lock.h"
#include "s3/s3.h"

/* ------------------------------------------------------------------ configuration */

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
    char *log_format; /* text|json */
    char *log_level;  /* error|warn|info|debug */
    int64_t threads, workers;
    bool no_force_unlock;
    char *encryption_key_file;
    int64_t retain_snapshots, retain_days;
    char *token_file;
    char *admin_token; /* STATED_ADMIN_TOKEN only (secret, never a flag: argv is visible) */
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

/* ------------------------------------------------------------------ server objects */

struct server {
    const struct config *cfg;
    struct store *store;
    struct lockstore *locks;
    struct auditlog *audit;
};

/* ------------------------------------------------------------------ auth */

enum auth_role { ROLE_READ = 1, ROLE_WRITE = 2, ROLE_ADMIN = 3 };

#define AUTH_NAME_MAX    64
#define AUTH_PATTERN_MAX 256

/* Who made a request, after authentication. */
struct auth_identity {
    char name[AUTH_NAME_MAX]; /* token name: the audit "actor" */
    char username[128];       /* HTTP Basic username ("who"), "" for Bearer */
    enum auth_role role;
    char pattern[AUTH_PATTERN_MAX]; /* state-name pattern, pattern_match() syntax */
};

/* A token as listed by the admin API (never the secret). */
struct auth_token_info {
    const char *name;
    const char *role; /* "read" | "write" | "admin" */
    const char *pattern;
    const char *source; /* "env" (STATED_ADMIN_TOKEN), "file" (--token-file), "store" */
    int64_t created_us; /* 0 when unknown (env, file) */
};

/* Loads every token source: admin_token (may be NULL), token_file (may be NULL) and the runtime
 * store at key "config/tokens.json" in st (borrowed; outlives auth). Fails with ERR_INVALID when
 * no token exists at all, so stated never runs open. Call once before serving. */
int auth_init(struct store *st, const char *admin_token, const char *token_file, struct err *err);
void auth_shutdown(void);
/* Parses an Authorization header value ("Basic b64(user:token)" or "Bearer token") into the
 * token and the Basic username (caller frees both). -1 with ERR_AUTH when absent or malformed. */
int auth_parse_header(const char *value, char **token, char **username, struct err *err);
/* Authenticates an Authorization header value (NULL when absent). Worker threads only (may
 * reload the runtime token store). 0 and *id filled, or -1 with ERR_AUTH. */
int auth_authenticate(const char *authorization, struct auth_identity *id, struct err *err);
/* True when id's role is at least need and, for a state request (state non-NULL), the state
 * name matches id's pattern. Admin tokens pass every check. */
bool auth_allows(const struct auth_identity *id, enum auth_role need, const char *state);
/* "read" | "write" | "admin" -> role; -1 when unknown. */
int auth_role_parse(const char *s);
const char *auth_role_name(enum auth_role role);
/* Parses one --token-file line "name role pattern sha256hex" (blank lines and '#' comments are
 * skipped: returns 1). 0 on a token, -1 with ERR_INVALID on a malformed line. */
int auth_parse_token_line(const char *line, char name[AUTH_NAME_MAX], enum auth_role *role,
                          char pattern[AUTH_PATTERN_MAX], unsigned char sha[32], struct err *err);
/* Admin API. Creates a runtime token (persisted, hash only) and writes its secret to
 * secret_out (shown once). ERR_INVALID for a bad name/role/pattern or a name already used. */
int auth_token_create(const char *name, const char *role, const char *pattern, char secret_out[44],
                      struct err *err);
/* Calls cb for every token of every source. A non-zero return from cb stops and is returned. */
int auth_token_list(int (*cb)(void *ctx, const struct auth_token_info *t), void *ctx,
                    struct err *err);
/* Revokes a runtime token. ERR_NOT_FOUND when no such runtime token; ERR_INVALID for a token
 * that comes from the environment or the token file (remove it there). */
int auth_token_revoke(const char *name, struct err *err);

/* ------------------------------------------------------------------ requests and jobs */

struct backend_header {
    char *name; /* lower-case */
    char *value;
};

struct backend_job;

/* One request as a worker sees it. Everything is a private copy: valid for the whole job,
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
    char remote[64];          /* client address "ip" */
    int64_t start_ms;         /* mono_ms() when the request arrived */
    struct auth_identity who; /* set for authenticated requests */
    bool authenticated;
    char log_name[STATE_NAME_MAX +
                  8]; /* what the request log shows after the method (state name or path) */

    /* Response, filled by the handler. */
    int status;
    struct backend_header *headers;
    size_t nheaders;
    struct buf resp;          /* body */
    struct blob *resp_shared; /* body instead of resp when set (respond_shared) */
    char error[240];          /* the error message answered (respond_err), for the audit detail */

    struct backend_job *job; /* server-private */
};

/* A worker-side handler. Fills the response in r; the return value is ignored. */
typedef void (*backend_handler_fn)(struct backend_req *r);

/* Adds a response header (both strings copied). */
void backend_add_header(struct backend_req *r, const char *name, const char *value);
/* Value of query parameter key (exact, case-sensitive), percent-decoded ('+' is a space) into
 * a new string (caller frees); NULL when absent. The first occurrence wins. */
char *backend_query_param(const char *query, const char *key);

/* Streaming responses (audit export). Called from a handler on its worker thread:
 * backend_stream_begin sends the status and headers already set in r (no Content-Length: the
 * body goes out chunked, or as HTTP/2 DATA frames). Each backend_stream_write queues data; a
 * chunk (up to 64 KiB) is handed to the event loop and the worker waits until h2o asks for more
 * (the generator's proceed callback), so an export is never held in memory and a slow client
 * slows the producer down. Returns 0, or -1 once the client has gone (stop producing). When the
 * handler returns the stream is finished. Do not use respond_* after backend_stream_begin. */
int backend_stream_begin(struct backend_req *r);
int backend_stream_write(struct backend_req *r, const void *data, size_t len);
/* A 200-style response whose body is a shared blob: takes the caller's reference, which is
 * dropped once the body has been sent (no copy of a cached state per request). Call it last:
 * the respond_* helpers do not clear it. */
void respond_shared(struct backend_req *r, int status, const char *content_type, struct blob *body);

/* Fills an audit event with the request's id, actor, username, remote address and time. */
void backend_audit_init(const struct backend_req *r, struct audit_event *ev, const char *action);

/* ------------------------------------------------------------------ responses (respond.c) */

/* {"code":"INFRA_00x","message":"<human text>"} with the table's status; adds Retry-After: 2
 * for retryable codes, WWW-Authenticate for 401 and Allow for 405 (allow may be NULL). The
 * message is err->msg when set (never secrets by err.h's contract) else the table text; 5xx
 * bodies carry only the table text (the detail is logged). */
void respond_err(struct backend_req *r, const struct err *err, const char *allow);
void respond_error(struct backend_req *r, enum err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 200-style responses: status, Content-Type and body (copied). */
void respond_bytes(struct backend_req *r, int status, const char *content_type, const void *data,
                   size_t len);
void respond_json(struct backend_req *r, int status, const char *json);
/* Takes the storage of b (no copy). */
void respond_take(struct backend_req *r, int status, const char *content_type, struct buf *b);

/* ------------------------------------------------------------------ routes (routes.c) */

/* Where a /v1/states/ path points. */
struct state_path {
    char name[STATE_NAME_MAX];
    bool lock_url; /* ".../lock" */
};
/* Parses the raw path (no query) of a request under /v1/states/. -1 with ERR_INVALID (bad
 * name) or ERR_NOT_FOUND (not under /v1/states/). */
int state_path_parse(const char *path, struct state_path *out, struct err *err);

/* A parsed lock body. */
struct lock_body {
    char id[LOCK_ID_MAX];
    bool zero_fields; /* every other LockInfo field empty and Created zero/absent (OpenTofu
                         force-unlock) */
};
/* Parses a LOCK/UNLOCK body: a JSON object with a non-empty string "ID" of at most 255 bytes.
 * -1 with ERR_INVALID otherwise. */
int lock_body_parse(const char *body, size_t len, struct lock_body *out, struct err *err);

/* The worker-side handler of every /v1/ request (auth, then states or admin). */
void routes_handle(struct backend_req *r);
/* GET /healthz?deep=1 on a worker. */
void routes_health_deep(struct backend_req *r);

/* Implemented by backend/admin.c; see the contract at the top of this file. */
int admin_dispatch(struct backend_req *r);

/* ------------------------------------------------------------------ server (server.c) */

/* Runs the server until SIGTERM/SIGINT, then stops accepting, lets in-flight requests finish
 * (at most 30 s) and returns 0. -1 with err on a start-up failure (port, TLS files). */
int server_run(struct server *srv, struct err *err);

#endif
