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
 * Tokens come from three sources: STATED_ADMIN_TOKEN, --token-file (static, hashes only) and
 * the runtime tokens created through the admin API, kept (hashes only) in one JSON document
 * that every instance sharing the storage reads. Only SHA-256 hashes are ever stored; a
 * presented token is compared with every known hash in constant time.
 *
 * Threads: auth_init and auth_shutdown once, before and after serving. Everything else may be
 * called from any worker thread; auth_authenticate may reload the runtime tokens (blocking on
 * storage), so never on an event loop thread. */
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
    const char *role; /* "read" | "write" | "admin" */
    const char *pattern;
    const char *source; /* "env" (STATED_ADMIN_TOKEN), "file" (--token-file), "store" */
    int64_t created_us; /* 0 when unknown (env, file) */
};

/* Where the runtime tokens document lives (the caller wires it to the state storage). */
struct auth_persist {
    /* Appends the document to out; ERR_NOT_FOUND when none was ever saved. */
    int (*load)(void *ctx, struct buf *out, struct err *err);
    /* Replaces the document, durably. */
    int (*save)(void *ctx, const void *data, size_t len, struct err *err);
    void *ctx;
};

/* Loads every token source: admin_token (may be NULL), token_file (may be NULL) and the runtime
 * tokens from persist (borrowed, outlives auth; NULL: no runtime tokens). Fails with
 * ERR_INVALID when no token exists at all, so stated never runs open. */
int auth_init(const struct auth_persist *persist, const char *admin_token, const char *token_file,
              struct err *err);
void auth_shutdown(void);
/* Parses an Authorization header value ("Basic b64(user:token)" or "Bearer token") into the
 * token and the Basic username (caller frees both). -1 with ERR_AUTH when absent or malformed. */
int auth_parse_header(const char *value, char **token, char **username, struct err *err);
/* Authenticates an Authorization header value (NULL when absent). Worker threads only (may
 * reload the runtime tokens). 0 and *id filled, or -1 with ERR_AUTH. */
int auth_authenticate(const char *authorization, struct auth_identity *id, struct err *err);
/* True when id's role permits what and, for a state (state non-NULL), the state name matches
 * id's pattern. Admin passes every check but /metrics'. */
bool auth_allows(const struct auth_identity *id, enum auth_action what, const char *state);
/* "read" | "plan" | "write" | "admin" | "outputs" | "metrics" -> role; -1 when unknown. */
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

#endif
