/* auth/auth.h: identities and what they may do. The whole API of auth/.
 *
 * A request carries a credential (HTTP Basic with the token or an OIDC JWT as password, or a
 * Bearer token); authentication turns it into an identity: a name (the audit "actor"), the
 * Basic username, a role and a state-name pattern, plus issuer, subject and jti for a JWT.
 * Authorization is auth_allows: the role permits the action and, for a state, the pattern
 * matches its name.
 *
 * Roles: read < plan < write < admin, each may what the ones before it may, and two side
 * roles that may only their one thing: outputs (what terraform_remote_state reads of a state)
 * and metrics (/metrics).
 *
 * Static tokens come from STATED_ADMIN_TOKEN and --token-file (hashes only). Runtime tokens,
 * created and revoked through the admin API, live in PostgreSQL when the locks do (one row
 * each, every instance sees a change within a second or two) and otherwise in one JSON
 * document in the state storage. Only SHA-256 hashes are ever stored; a presented token is
 * compared with every known hash in constant time. A runtime token may expire; the last use
 * of every token (time, client address) is kept in memory and written in batches.
 *
 * JWTs from the OIDC issuers of --oidc-config (auth/oidc.c) are the other credential: their
 * claims are mapped by rules to a role and a state pattern.
 *
 * Failed logins are counted per client address: past the limit the address gets 429 for the
 * rest of the minute, and each address's failures of a minute become one audit event (with
 * the count), not one per attempt.
 *
 * Threads: auth_init and auth_shutdown once, before and after serving; auth runs one thread of
 * its own (token changes, last-use batches, failed-login reports) and the OIDC key fetcher.
 * Everything else may be called from any worker thread, never an event loop thread (it may
 * read storage or PostgreSQL). */
#ifndef STATED_AUTH_H
#define STATED_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

enum auth_role {
    ROLE_NONE = 0,
    ROLE_READ,
    ROLE_PLAN,
    ROLE_WRITE,
    ROLE_ADMIN,
    ROLE_OUTPUTS,
    ROLE_METRICS,
};

/* What a request asks to do. */
enum auth_action {
    AUTH_READ,         /* the whole state, its snapshots, listings of states and locks */
    AUTH_READ_OUTPUTS, /* the state reduced to what terraform_remote_state reads */
    AUTH_LOCK,         /* LOCK, and UNLOCK of a lock the identity took */
    AUTH_WRITE,        /* POST, PUT, DELETE, restore, UNLOCK of anyone's lock by its ID */
    AUTH_ADMIN,        /* the admin API's audit and tokens, force-unlock of anyone's lock */
    AUTH_METRICS,      /* /metrics */
};

#define AUTH_NAME_MAX       128 /* an identity's name; token names are at most 63 bytes */
#define AUTH_TOKEN_NAME_MAX 64
#define AUTH_PATTERN_MAX    256
#define AUTH_OWNER_MAX      (AUTH_NAME_MAX + 264)

/* Who made a request, after authentication. */
struct auth_identity {
    char name[AUTH_NAME_MAX]; /* token name, or the OIDC rule's name: the audit "actor" */
    char username[128];       /* HTTP Basic username ("who"), "" for Bearer */
    enum auth_role role;
    char pattern[AUTH_PATTERN_MAX]; /* state-name pattern, pattern_match() syntax */
    /* A JWT's, "" for a token. */
    char issuer[256];
    char subject[256];
    char jti[128];
};

/* The identity a lock records as the one that took it, and that force-unlock compares: the
 * token name, or the OIDC rule's name and the subject ("gitlab:platform/net@main sub=…"). */
void auth_owner(const struct auth_identity *id, char out[AUTH_OWNER_MAX]);

/* A token as listed by the admin API (never the secret). */
struct auth_token_info {
    const char *name;
    const char *role;
    const char *pattern;
    const char *source; /* "env" (STATED_ADMIN_TOKEN), "file" (--token-file), "store", "postgres" */
    int64_t created_us; /* 0 when unknown (env, file) */
    int64_t expires_us; /* 0: never */
    int64_t last_used_us; /* 0: not used since it was created (or, for env and file, started) */
    const char *last_used_from;
};

/* What the admin API creates. */
struct auth_token_spec {
    const char *name, *role, *pattern;
    int64_t expires_us; /* 0: never */
};

/* Where documents of auth live in the state storage (the caller wires it to its blobs):
 * "tokens" (the runtime tokens without PostgreSQL) and "token-usage" (their last uses). */
struct auth_persist {
    /* Appends the document to out; ERR_NOT_FOUND when none was ever saved. */
    int (*load)(void *ctx, const char *doc, struct buf *out, struct err *err);
    /* Replaces the document, durably. */
    int (*save)(void *ctx, const char *doc, const void *data, size_t len, struct err *err);
    void *ctx;
};

/* One client address's failed logins of one minute: what its audit event says. */
struct auth_failures {
    char remote[64], peer[64]; /* the client address (peer: the proxy it came through, or "") */
    int64_t since_us;          /* the first failure */
    unsigned count;            /* failed attempts, refused ones included */
    unsigned refused;          /* of which answered 429 */
    char reason[160];          /* the first failure's: why, and what it asked for */
};

struct auth_config {
    const struct auth_persist *persist; /* borrowed, outlives auth; NULL: no runtime tokens */
    const char *pg_conninfo;            /* runtime tokens in PostgreSQL (NULL: in persist) */
    const char *admin_token;            /* STATED_ADMIN_TOKEN (may be NULL) */
    const char *token_file;             /* --token-file (may be NULL) */
    const char *oidc_config;            /* --oidc-config (may be NULL) */
    unsigned failed_logins_per_minute;  /* 0: no limit */
    /* Called from auth's thread once a client address's minute of failed logins is over (and
     * for every open one at shutdown). */
    void (*on_failures)(void *ctx, const struct auth_failures *f);
    void *ctx;
};

/* Loads every token source and the OIDC configuration, and starts auth's threads. Fails with
 * ERR_INVALID when no credential at all could ever be accepted (stated never runs open), and
 * with the store's error when the runtime tokens cannot be read. */
int auth_init(const struct auth_config *cfg, struct err *err);
/* Writes what is pending (last uses, failure reports), stops the threads, frees everything. */
void auth_shutdown(void);
/* Parses an Authorization header value ("Basic b64(user:token)" or "Bearer token") into the
 * token and the Basic username (caller frees both). -1 with ERR_AUTH when absent or malformed. */
int auth_parse_header(const char *value, char **token, char **username, struct err *err);
/* A request's credentials and where it came from. */
struct auth_request {
    const char *authorization; /* the header value, NULL when absent */
    const char *remote;        /* the client address (the failed-login limit's key, last use) */
    const char *peer;          /* the connection's address when remote is a forwarded one */
    const char *target;        /* what it asked for ("GET /v1/states/x"), for failure reports */
};
/* Authenticates a request. 0 and *id filled; -1 with ERR_AUTH (no, unknown, expired or
 * invalid credentials), ERR_FORBIDDEN (a valid JWT that no rule maps), ERR_ISSUER_UNAVAILABLE
 * (a JWT whose issuer's keys are not known yet) or ERR_RATE_LIMITED (too many failures from
 * remote this minute). Worker threads only. */
int auth_authenticate(const struct auth_request *q, struct auth_identity *id, struct err *err);
/* True when id's role permits what and, for a state (state non-NULL), the state name matches
 * id's pattern. Admin passes every pattern check. */
bool auth_allows(const struct auth_identity *id, enum auth_action what, const char *state);
/* Counts a request refused because its identity's role or pattern does not allow it (403), in
 * the failures auth_authenticate counts by reason (stated_auth_failures_total). */
void auth_count_forbidden(void);
/* "read" | "plan" | "write" | "admin" | "outputs" | "metrics" -> role; -1 when unknown. */
int auth_role_parse(const char *s);
const char *auth_role_name(enum auth_role role);
/* Parses one --token-file line "name role pattern sha256hex" (blank lines and '#' comments are
 * skipped: returns 1). 0 on a token, -1 with ERR_INVALID on a malformed line. */
int auth_parse_token_line(const char *line, char name[AUTH_TOKEN_NAME_MAX], enum auth_role *role,
                          char pattern[AUTH_PATTERN_MAX], unsigned char sha[32], struct err *err);
/* Admin API. Creates a runtime token (stored, hash only) and writes its secret to secret_out
 * (shown once). ERR_INVALID for a bad name/role/pattern/expiry or a name already used. */
int auth_token_create(const struct auth_token_spec *spec, char secret_out[44], struct err *err);
/* An expiry as the admin API takes it: a duration from now ("90s", "12h", "30d") or an RFC 3339
 * time, which must be in the future. ERR_INVALID otherwise. */
int auth_parse_expiry(const char *s, int64_t now_us, int64_t *expires_us, struct err *err);
/* Calls cb for every token of every source, with the last uses as fresh as the store has them.
 * A non-zero return from cb stops and is returned. */
int auth_token_list(int (*cb)(void *ctx, const struct auth_token_info *t), void *ctx,
                    struct err *err);
/* Revokes a runtime token. ERR_NOT_FOUND when no such runtime token; ERR_INVALID for a token
 * that comes from the environment or the token file (remove it there). */
int auth_token_revoke(const char *name, struct err *err);

#endif
